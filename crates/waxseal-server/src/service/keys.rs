//! The signing keys: the keyring in force, key maintenance and rotation, the published JWK Set, and signing
//! access tokens with the current key. Revoking a leaked key is in [`super::key_revocation`].
//!
//! Maintenance looks after each [`KeySeries`] the configuration needs: the configured algorithm's, and the RS256
//! series for ID tokens beside it unless RS256 is the configured algorithm. Each has its own first key and its own
//! rotation schedule; the admin commands act on the series of the algorithm they are given.

use std::sync::Arc;
use std::time::Duration;

use waxseal::jwt::{Claims, NumericDate, Verifier};
use waxseal::{Algorithm, KeySet};

use super::{AccessClaims, AuthService, SharedClock, random_id};
use crate::config::{CLOCK_LEEWAY as LEEWAY, Config};
use crate::error::{Error, ErrorKind, Result};
use crate::keyring::{self, KeySeries, KeyState, Keyring};
use crate::store::StoredKey;

/// A signing key as the admin commands show it: never the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key id: the RFC 7638 thumbprint (random for an HMAC secret).
    pub kid: String,
    /// The JWS algorithm it signs with.
    pub alg: String,
    /// Where it is in its life now.
    pub state: KeyState,
    /// Unix seconds: published from then on.
    pub created_at: u64,
    /// Unix seconds: signs from then on (for a revoked key, whose activation is not kept: its creation).
    pub activates_at: u64,
}

impl AuthService {
    /// The keys in use now.
    pub(super) fn keyring(&self) -> Arc<Keyring> {
        self.keyring
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// A verifier of this server's access tokens over `keys`.
    pub(super) fn access_verifier(&self, keys: KeySet) -> Verifier {
        self.access_rules(keys)
            .audience(self.config.audience.clone())
    }

    /// The rules of this server's access tokens except the audience, for tokens issued for a registered resource
    /// (RFC 8707), whose `aud` the caller checks against the registered resources.
    pub(super) fn resource_access_verifier(&self, keys: KeySet) -> Verifier {
        self.access_rules(keys).any_audience()
    }

    fn access_rules(&self, keys: KeySet) -> Verifier {
        Verifier::new(keys)
            .issuer(self.config.issuer.clone())
            .typ("at+jwt")
            .require(["sub", "jti", "iat", "exp"])
            .leeway(LEEWAY)
            .clock(SharedClock(self.clock.clone()))
    }

    /// Reads the stored keys, deletes those whose tokens have all expired, and switches this process to the
    /// keys in force now (a key that reached its activation time signs from here on). Cheap when nothing changed:
    /// one read of a small table.
    pub async fn reload_keys(&self) -> Result<()> {
        let _one_at_a_time = self.key_reload.lock().await;
        let now = self.now();
        let mut keys = self.store.keys().await?;
        let states = keyring::key_states(&keys, now);
        for (key, _) in keys
            .iter()
            .zip(&states)
            .filter(|(_, s)| **s == KeyState::Expired)
        {
            self.store.delete_key(&key.kid).await?;
            tracing::info!(kid = %key.kid, "deleted a retired signing key: every token it signed has expired");
        }
        let (keys, states): (Vec<_>, Vec<_>) = keys
            .drain(..)
            .zip(states)
            .filter(|(_, s)| *s != KeyState::Expired)
            .unzip();
        let current = self.keyring();
        if !current.differs(&keys, &states) {
            return Ok(());
        }
        let configured = self.config.signing_alg;
        let next = current.rebuild(&keys, &states, configured, &self.master_key, |set| {
            self.access_verifier(set)
        })?;
        if next.kid != current.kid && !next.kid.is_empty() {
            tracing::info!(kid = %next.kid, "signing with a new key");
        }
        let signers = keyring::signers(&keys, &states, configured);
        for (index, key) in keys.iter().enumerate() {
            if states[index] == KeyState::Active
                && signers.main != Some(index)
                && signers.rs256 != Some(index)
            {
                // Only after a change of the configured algorithm to RS256: the time this key stopped signing is
                // not stored, so nothing can tell when its last token expires.
                tracing::warn!(
                    kid = %key.kid,
                    alg = %key.alg,
                    "this key signs nothing since the configured algorithm is {configured}, but stays published \
                     for the tokens it signed; once they have expired (one hour after every instance switched), \
                     withdraw it with `waxseal keys revoke {} --alg RS256`",
                    key.kid
                );
            }
        }
        *self
            .keyring
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(next);
        // After the swap: a verification that read the cache generation before this clear cannot insert, and one
        // that read it after sees the new keyring.
        self.verifying_keys_changed();
        Ok(())
    }

    /// What `waxseal serve` does at start and then periodically, for each series the configuration needs (the
    /// configured algorithm's, and RS256 for ID tokens): creates its first key; rotates when the configured
    /// algorithm differs from the series' newest key's or the scheduled rotation is due (the new key is published at
    /// once and signs after [`keyring::publish_delay`]); then [`AuthService::reload_keys`].
    pub async fn manage_keys(&self) -> Result<()> {
        let _one_at_a_time = self.key_maintenance.lock().await;
        let now = self.now();
        let configured = self.config.signing_alg;
        let mut keys = self.store.keys().await?;
        // The very first key signs at once: nobody can have cached a JWKS without it. The first key of a series
        // added later (the RS256 series on an upgrade, the configured one after a change from RS256) waits like
        // any new key: caches hold a JWKS without it.
        let first_ever = keys.is_empty();
        let mut needed = vec![configured];
        if KeySeries::of_algorithm(configured) != KeySeries::Rs256 {
            needed.push(Algorithm::RS256);
        }
        for alg in needed {
            let Some(activates_at) = self.due_activation(&keys, alg, now, first_ever) else {
                continue;
            };
            let key = keyring::generate(alg, &self.master_key, now, activates_at).await?;
            // Several instances on one database may all decide to rotate at the same moment: only the first to
            // store its key does; the others find the keys changed and take that key at the reload below (and
            // decide again at the next maintenance).
            let seen: Vec<String> = keys.iter().map(|k| k.kid.clone()).collect();
            if !self.store.insert_key_if_unchanged(&key, &seen).await? {
                tracing::info!(
                    "another process changed the signing keys first; using its decision"
                );
                break;
            }
            tracing::info!(kid = %key.kid, %alg, activates_at, "generated a signing key");
            keys.push(key);
        }
        self.reload_keys().await
    }

    /// When a new key of `alg` should activate, if its series needs one now: none yet, its newest key of another
    /// algorithm (the configuration changed), or its scheduled rotation due within the publish delay.
    fn due_activation(
        &self,
        keys: &[StoredKey],
        alg: Algorithm,
        now: u64,
        first_ever: bool,
    ) -> Option<u64> {
        let delay = keyring::publish_delay(&self.config).as_secs();
        let series = KeySeries::of_algorithm(alg);
        match keys.iter().rev().find(|k| KeySeries::of(&k.alg) == series) {
            None if first_ever => Some(now),
            None => {
                tracing::info!(%alg, "a new series of signing keys: publishing its first key");
                Some(now.saturating_add(delay))
            }
            Some(newest) if newest.alg != alg.to_string() => {
                tracing::info!(from = %newest.alg, to = %alg, "the signing algorithm changed: rotating");
                Some(now.saturating_add(delay))
            }
            Some(newest) => self.config.key_rotation_interval.and_then(|interval| {
                let due = newest.activates_at.saturating_add(interval.as_secs());
                (due <= now.saturating_add(delay)).then(|| {
                    tracing::info!(%alg, "scheduled key rotation");
                    due.max(now.saturating_add(delay))
                })
            }),
        }
    }

    /// The algorithm of the next key: `alg` if given, else the algorithm of the newest key of `series` (the one
    /// `serve` was configured with), else the newest key's, else the configured one; refused when the configuration
    /// would not allow it. Symmetric signing stays allowed where the server was already configured for it.
    pub(super) fn next_key_algorithm(
        &self,
        keys: &[StoredKey],
        alg: Option<Algorithm>,
        series: KeySeries,
    ) -> Result<Algorithm> {
        let newest = keys
            .iter()
            .rev()
            .find(|k| KeySeries::of(&k.alg) == series)
            .or(keys.last())
            .map(|k| Algorithm::from_name(&k.alg))
            .transpose()
            .map_err(|_| Error::storage("the newest key's algorithm is not known"))?;
        let alg = alg.or(newest).unwrap_or(self.config.signing_alg);
        Config {
            signing_alg: alg,
            allow_symmetric_signing: self.config.allow_symmetric_signing
                || newest.is_some_and(Algorithm::is_symmetric),
            ..self.config.clone()
        }
        .validate()?;
        Ok(alg)
    }

    /// Manual rotation (`waxseal keys rotate`): a new key of `alg` (default: the algorithm of the newest key that is
    /// not RS256 — the configured one's series — or RS256 on a server configured for it), published now, signing
    /// after [`keyring::publish_delay`]. It takes its turn in the series of its algorithm ([`KeySeries`]): `--alg
    /// RS256` rotates the key of RS256 ID tokens. Refused while another key of that series is still waiting to
    /// sign.
    pub async fn rotate_keys(&self, alg: Option<Algorithm>) -> Result<KeyInfo> {
        self.rotate_keys_signing_after(alg, keyring::publish_delay(&self.config))
            .await
    }

    /// [`AuthService::rotate_keys`] with the new key signing `signs_after` from now instead of after the publish
    /// delay. The old key stays published (and valid) as after any rotation, so this is not the answer to a leaked
    /// key, which must be withdrawn from the JWKS ([`AuthService::revoke_key`]). A verifier that cached the JWKS
    /// without the new key then sees an unknown `kid` and has to refetch the JWKS (waxseal-remote and most JOSE
    /// libraries do, within their refetch cooldown); one that does not refuses new tokens until its cache expires.
    pub async fn rotate_keys_signing_after(
        &self,
        alg: Option<Algorithm>,
        signs_after: Duration,
    ) -> Result<KeyInfo> {
        let _one_at_a_time = self.key_maintenance.lock().await;
        let now = self.now();
        let keys = self.store.keys().await?;
        let states = keyring::key_states(&keys, now);
        let alg = self.next_key_algorithm(&keys, alg, KeySeries::Main)?;
        let series = KeySeries::of_algorithm(alg);
        let in_series = |k: &&StoredKey| KeySeries::of(&k.alg) == series;
        if let Some((pending, _)) = keys
            .iter()
            .zip(&states)
            .find(|(k, s)| in_series(k) && **s == KeyState::Pending)
        {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "key {} is already published and waiting to sign (from {}); rotate again after that",
                    pending.kid, pending.activates_at
                ),
            ));
        }
        // Keys take turns by activation time in whole seconds, ties broken by creation time and then kid: a new key
        // activating in the same second as the newest of its series would lose half the time and never sign. It
        // comes a second after the newest instead.
        let after_newest = keys
            .iter()
            .filter(in_series)
            .map(|k| k.activates_at.saturating_add(1))
            .max()
            .unwrap_or(0);
        let activates_at = now.saturating_add(signs_after.as_secs()).max(after_newest);
        let key = keyring::generate(alg, &self.master_key, now, activates_at).await?;
        let seen: Vec<String> = keys.iter().map(|k| k.kid.clone()).collect();
        if !self.store.insert_key_if_unchanged(&key, &seen).await? {
            return Err(Error::new(
                ErrorKind::Conflict,
                "another process changed the signing keys at the same time (a scheduled rotation, or another \
                 `waxseal keys rotate`); see `waxseal keys list` and rotate again if still needed",
            ));
        }
        tracing::info!(kid = %key.kid, %alg, activates_at, "signing key rotation scheduled");
        self.reload_keys().await?;
        Ok(KeyInfo {
            kid: key.kid,
            alg: key.alg,
            state: KeyState::Pending,
            created_at: key.created_at,
            activates_at,
        })
    }

    /// Every stored key and its state now, then every revoked key ([`KeyState::Revoked`]).
    pub async fn list_keys(&self) -> Result<Vec<KeyInfo>> {
        let keys = self.store.keys().await?;
        let states = keyring::key_states(&keys, self.now());
        let revoked = self.store.revoked_keys().await?;
        Ok(keys
            .into_iter()
            .zip(states)
            .map(|(key, state)| KeyInfo {
                kid: key.kid,
                alg: key.alg,
                state,
                created_at: key.created_at,
                activates_at: key.activates_at,
            })
            .chain(revoked.into_iter().map(|r| KeyInfo {
                kid: r.kid,
                alg: r.alg,
                state: KeyState::Revoked { at: r.revoked_at },
                created_at: r.created_at,
                activates_at: r.created_at,
            }))
            .collect())
    }

    /// The `kid` of the key that signs new tokens (empty before the first key exists).
    pub fn signing_kid(&self) -> String {
        self.keyring().kid.clone()
    }

    /// The public keys as a JWK Set document (HMAC secrets are never in it).
    pub fn jwks(&self) -> String {
        String::from_utf8_lossy(&self.keyring().jwks).into_owned()
    }

    /// [`AuthService::jwks`] as the shared bytes of the current keyring: no copy, no serialization per request.
    pub fn jwks_document(&self) -> axum::body::Bytes {
        self.keyring().jwks.clone()
    }

    /// The JWS algorithms of the published keys, each once, in key order (for the discovery documents).
    pub fn signing_algorithms(&self) -> Vec<String> {
        self.keyring()
            .algorithms
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// The algorithms ID tokens are signed with now, each once: the signing key's (the default), then RS256 when
    /// its own key signs (for the discovery documents).
    pub fn id_token_signing_algorithms(&self) -> Vec<String> {
        self.keyring()
            .id_token_algorithms()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// Signs an access token, and encrypts it under the server's own key when `encrypt` (a client registered with
    /// `--encrypt-access-tokens`, see `service::encrypt`); bound to the DPoP key of thumbprint `jkt` (`cnf.jkt`)
    /// when given. Its `aud` is the registered `resource` when given (RFC 8707), else the configured audience.
    pub(super) fn sign_access(
        &self,
        subject: &str,
        custom: AccessClaims,
        now: u64,
        encrypt: bool,
        jkt: Option<&str>,
        resource: Option<&str>,
    ) -> Result<(String, u64)> {
        let ttl = self.config.access_token_ttl.as_secs();
        // RFC 8707: a token for a registered resource is for it alone, never also for this server's own API.
        let audience = resource.unwrap_or(&self.config.audience);
        let mut claims = Claims::new(custom)
            .issuer(self.config.issuer.clone())
            .subject(subject.to_owned())
            .audience(audience.to_owned())
            .issued_at(NumericDate::from_secs(now))
            .expires_at(NumericDate::from_secs(now.saturating_add(ttl)))
            .jwt_id(random_id()?);
        if let Some(jkt) = jkt {
            // RFC 9449 §6.1: the token is usable only with a proof by the key of this thumbprint.
            claims = claims.confirmation_jkt(jkt.to_owned());
        }
        let access_token = self
            .keyring()
            .signer()?
            .sign(&claims)
            .map_err(|e| Error::crypto(format!("signing failed: {e}")))?;
        if encrypt {
            return Ok((self.access_sealing.seal(&access_token)?, ttl));
        }
        Ok((access_token, ttl))
    }
}
