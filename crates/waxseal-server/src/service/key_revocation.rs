//! Revoking a leaked signing key (`waxseal keys revoke`): the answer when a private key may be in someone else's
//! hands, who can then mint tokens every verifier accepts.
//!
//! Rotation keeps the old key published until every token it signed has expired, which is right for a healthy key
//! and exactly wrong for a leaked one. A revocation instead, in one store transaction: deletes the key (its private
//! half goes with the row), records its kid for good so that nothing can bring it back, and — when the key signed
//! or was about to — stores a fresh key that signs at once. Each instance then drops the key from its verifiers and
//! its JWKS and empties its verified-token cache at its next key reload: at once in the revoking process, at once
//! in the others when Redis carries the announcement, and within [`crate::DENYLIST_RELOAD_INTERVAL`] from the
//! database otherwise.
//!
//! The fresh key skips the publish delay. A verifier that cached the JWKS before the revocation sees a kid it does
//! not know and has to refetch (waxseal-remote and most JOSE libraries do so at once, within their cooldown); one
//! that does not refuses the new tokens until its cache expires. The delay would cost more: during it the server
//! would sign with the leaked key, or not at all.

use waxseal::Algorithm;

use super::{AuthService, KeyInfo};
use crate::error::{Error, ErrorKind, Result};
use crate::keyring::{self, KeySeries, KeyState};
use crate::store::{RevokedKey, StoredKey};

/// How many times a revocation is decided again when another process changed the keys at the same moment (a
/// scheduled rotation on a running instance).
const ATTEMPTS: usize = 3;

/// The most characters of an unknown kid an error repeats: the server's own kids have 43 at most.
const MAX_KID_SHOWN: usize = 64;

/// What [`AuthService::revoke_key`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRevocation {
    /// The revoked key, in state [`KeyState::Revoked`].
    pub revoked: KeyInfo,
    /// The key generated to sign in its place, when the revoked key signed or was waiting to; it signs from the
    /// revocation on.
    pub replacement: Option<KeyInfo>,
    /// Whether the revocation was announced through Redis, so that every subscribed instance acts on it at once;
    /// otherwise they find it in the database within [`crate::DENYLIST_RELOAD_INTERVAL`].
    pub announced: bool,
}

impl AuthService {
    /// Revokes the signing key `kid` because it leaked: it leaves the JWKS and every verifier, the tokens it signed
    /// are refused (a token already in the verified-token cache too), and its private half is deleted. When it was
    /// the signing key of its series ([`KeySeries`]) or the one waiting to sign, a new key of `alg` (default: the
    /// algorithm of the newest key of that series, which is the configured one once `waxseal serve` has run; RS256
    /// for the key of RS256 ID tokens) is generated and signs at once, without the publish delay. The kid is recorded for good: an import of a dump that still holds the key is refused.
    ///
    /// Errors: [`ErrorKind::InvalidRequest`] for a kid no key has, [`ErrorKind::Conflict`] for a key already
    /// revoked (nothing changes either way), [`ErrorKind::Config`] for an algorithm the server may not sign with.
    pub async fn revoke_key(&self, kid: &str, alg: Option<Algorithm>) -> Result<KeyRevocation> {
        let _one_at_a_time = self.key_maintenance.lock().await;
        let mut attempts = 0;
        let (revoked, replacement) = loop {
            attempts += 1;
            let now = self.now();
            let keys = self.store.keys().await?;
            let states = keyring::key_states(&keys, now);
            let Some(index) = keys.iter().position(|k| k.kid == kid) else {
                return Err(self.not_revocable(kid).await?);
            };
            let replacement = match states[index] {
                KeyState::Active | KeyState::Pending => {
                    Some(self.successor(&keys, index, alg, now).await?)
                }
                _ => None,
            };
            let revoked = RevokedKey {
                kid: kid.to_owned(),
                alg: keys[index].alg.clone(),
                created_at: keys[index].created_at,
                revoked_at: now,
            };
            let seen: Vec<String> = keys.iter().map(|k| k.kid.clone()).collect();
            if self
                .store
                .revoke_key_if_unchanged(&revoked, replacement.as_ref(), &seen)
                .await?
            {
                break (revoked, replacement);
            }
            if attempts == ATTEMPTS {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    "other processes kept changing the signing keys while the key was being revoked (scheduled \
                     rotations, `waxseal keys rotate`); nothing was revoked: run the command again",
                ));
            }
        };
        tracing::warn!(
            kid = %revoked.kid,
            replacement = replacement.as_ref().map(|k| k.kid.as_str()),
            "signing key revoked: unpublished, the tokens it signed are refused, its private half deleted"
        );
        let announced = self.announce_key_revoked(kid).await;
        if let Err(e) = self.reload_keys().await {
            // The revocation is stored; the periodic reload of a serving process takes it within a second.
            tracing::warn!(error = %e, "cannot reload the signing keys after the revocation");
        }
        Ok(KeyRevocation {
            revoked: KeyInfo {
                kid: revoked.kid,
                alg: revoked.alg,
                state: KeyState::Revoked {
                    at: revoked.revoked_at,
                },
                created_at: revoked.created_at,
                activates_at: revoked.created_at,
            },
            replacement: replacement.map(|key| KeyInfo {
                state: if key.activates_at <= revoked.revoked_at {
                    KeyState::Active
                } else {
                    KeyState::Pending
                },
                kid: key.kid,
                alg: key.alg,
                created_at: key.created_at,
                activates_at: key.activates_at,
            }),
            announced,
        })
    }

    /// Why `kid` cannot be revoked: already revoked, or no key has it.
    async fn not_revocable(&self, kid: &str) -> Result<Error> {
        let revoked = self.store.revoked_keys().await?;
        Ok(match revoked.iter().find(|r| r.kid == kid) {
            Some(record) => Error::new(
                ErrorKind::Conflict,
                format!(
                    "key {kid} was already revoked (at {}, Unix seconds); nothing changed",
                    record.revoked_at
                ),
            ),
            None => Error::new(
                ErrorKind::InvalidRequest,
                format!(
                    "no signing key has kid {:?}; `waxseal keys list` shows the kids",
                    kid.chars().take(MAX_KID_SHOWN).collect::<String>()
                ),
            ),
        })
    }

    /// A new key to sign in place of `keys[revoked]`, signing from `now`.
    async fn successor(
        &self,
        keys: &[StoredKey],
        revoked: usize,
        alg: Option<Algorithm>,
        now: u64,
    ) -> Result<StoredKey> {
        let alg = self.next_key_algorithm(keys, alg, KeySeries::of(&keys[revoked].alg))?;
        let series = KeySeries::of_algorithm(alg);
        let mut key = keyring::generate(alg, &self.master_key, now, now).await?;
        // Keys take turns within their series by activation time, then creation time, then kid: a kept key of the
        // series that activated and was created in this very second with a greater kid would sort after the new
        // one and go on signing. The new one then signs from the next second.
        if keys.iter().enumerate().any(|(i, k)| {
            i != revoked
                && KeySeries::of(&k.alg) == series
                && k.activates_at == now
                && (k.created_at, &k.kid) > (now, &key.kid)
        }) {
            key.activates_at = now.saturating_add(1);
        }
        Ok(key)
    }

    /// Tells the other instances through Redis, when configured: `true` once Redis took the announcement.
    async fn announce_key_revoked(&self, kid: &str) -> bool {
        let Some(bus) = &self.bus else { return false };
        match bus.announce_key_revoked(kid).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    "cannot announce the key revocation through Redis; the other instances find it in the \
                     database within a second"
                );
                false
            }
        }
    }

    /// Rereads the keys each time a key revocation is announced (see [`AuthService::listen`]). Never returns.
    pub(super) async fn reload_keys_when_announced(&self) {
        loop {
            self.keys_announced.notified().await;
            if let Err(e) = self.reload_keys().await {
                tracing::warn!(
                    error = %e,
                    "cannot reread the signing keys after a revocation was announced; retrying at the next reload"
                );
            }
        }
    }
}
