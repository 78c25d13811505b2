//! Signing keys in use, and their life: published before they sign, retired when a successor signs, unpublished
//! and destroyed once every token they signed has expired.
//!
//! Resource servers cache the JWKS (`Cache-Control: max-age`, [`crate::Config::jwks_max_age`]). A key that signed
//! the moment it was created would make every cache that fetched the JWKS a second earlier reject its tokens until
//! the cache expires, so a new key is published first and signs only after [`publish_delay`]: by then every cache
//! that honours the max-age has seen it. The one exception is the very first key, which nobody can have cached.
//! A key that stops signing stays published for [`RETIRED_KEY_PUBLISHED_FOR`] (the longest access-token lifetime the
//! server allows, plus the clock leeway) so the tokens it signed verify until they expire, whatever lifetime was
//! configured when they were issued.
//!
//! Everything here is computed from two stored times per key (`created_at`: published; `activates_at`: signs), so
//! several processes on one store agree on which key signs without coordinating writes.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use waxseal::jws::HeaderBuilder;
use waxseal::jwt::{Signer, Verifier};
use waxseal::{Algorithm, Jwk, KeySet, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use crate::config::{CLOCK_LEEWAY, Config, MAX_ACCESS_TOKEN_TTL};
use crate::error::{Error, Result};
use crate::master_key::MasterKey;
use crate::store::StoredKey;

/// How long a retired key stays published: the longest access-token lifetime plus the clock leeway.
pub const RETIRED_KEY_PUBLISHED_FOR: Duration =
    Duration::from_secs(MAX_ACCESS_TOKEN_TTL.as_secs() + CLOCK_LEEWAY.as_secs());

/// How long a new key is published before it signs: one JWKS cache lifetime plus the clock leeway.
pub fn publish_delay(config: &Config) -> Duration {
    config.jwks_max_age + CLOCK_LEEWAY
}

/// Where a key is in its life at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, signing from its activation time on.
    Pending,
    /// Signs new tokens.
    Active,
    /// No longer signs; published until `until` (Unix seconds) so the tokens it signed still verify.
    Retired {
        /// When it leaves the JWKS.
        until: u64,
    },
    /// Every token it signed has expired: unpublished, and deleted at the next key maintenance.
    Expired,
    /// Withdrawn because it leaked (`waxseal keys revoke`): unpublished, its tokens refused, the key destroyed;
    /// only the record of its kid is kept, so that it can never come back.
    Revoked {
        /// When it was revoked (Unix seconds).
        at: u64,
    },
}

impl KeyState {
    /// A word for people (`waxseal keys list`).
    pub fn label(self) -> &'static str {
        match self {
            KeyState::Pending => "pending",
            KeyState::Active => "active",
            KeyState::Retired { .. } => "retired",
            KeyState::Expired => "expired",
            KeyState::Revoked { .. } => "revoked",
        }
    }

    fn is_published(self) -> bool {
        !matches!(self, KeyState::Expired | KeyState::Revoked { .. })
    }
}

/// The state of each of `keys` at `now`. `keys` must be in the store's order: by activation time, then creation
/// time, then kid — the active key is the last one whose activation time has come, and a key retires when the next
/// one activates.
pub(crate) fn key_states(keys: &[StoredKey], now: u64) -> Vec<KeyState> {
    let active = keys.iter().rposition(|k| k.activates_at <= now);
    keys.iter()
        .enumerate()
        .map(|(i, key)| match active {
            Some(a) if i == a => KeyState::Active,
            Some(a) if i < a => {
                let retired_at = keys[i + 1].activates_at.max(key.activates_at);
                let until = retired_at.saturating_add(RETIRED_KEY_PUBLISHED_FOR.as_secs());
                if now >= until {
                    KeyState::Expired
                } else {
                    KeyState::Retired { until }
                }
            }
            _ => KeyState::Pending,
        })
        .collect()
}

/// Generates a key for `alg` and seals its private half under `master`. RSA generation takes a good fraction of a
/// second, so this runs on the blocking pool.
pub(crate) async fn generate(
    alg: Algorithm,
    master: &MasterKey,
    now: u64,
    activates_at: u64,
) -> Result<StoredKey> {
    let key = tokio::task::spawn_blocking(move || SigningKey::generate(alg))
        .await
        .map_err(|_| Error::crypto("key generation was interrupted"))?
        .map_err(|e| Error::crypto(format!("could not generate a {alg} signing key: {e}")))?;
    // An HMAC secret gets a random kid: its thumbprint would let anyone holding a token test guesses offline.
    let kid = match key.kid() {
        Some(kid) => kid.to_owned(),
        None => crate::secret::random_id()?,
    };
    let private = Zeroizing::new(
        key.to_jwk()
            .map_err(|e| Error::crypto(format!("key export failed: {e}")))?
            .to_json(),
    );
    Ok(StoredKey {
        encrypted_private_key: master.seal(private.as_bytes(), kid.as_bytes())?,
        kid,
        alg: alg.to_string(),
        created_at: now,
        activates_at,
    })
}

/// The keys in use at one moment: the current signer, verifiers for every published key, and the JWKS document.
/// Rebuilt (never mutated) when the set of published keys or the signing key changes.
pub(crate) struct Keyring {
    /// `None` until a key has been generated (an admin command on a data directory `waxseal serve` never opened).
    signer: Option<Signer>,
    /// The same key with `typ: JWT`, for ID tokens: an ID token never carries `at+jwt`, so the access-token
    /// verifier (which requires it) refuses one presented as a bearer token.
    id_token_signer: Option<Signer>,
    /// The signing key's algorithm (an ID token's `at_hash` is computed with its hash).
    pub(crate) signing_alg: Option<Algorithm>,
    /// The signing key's kid, empty without one.
    pub(crate) kid: String,
    /// One verifier per kind of key: HMAC secrets and public keys never share a verifier (a key set refuses the
    /// mix), so during a change between the two kinds there are two.
    verifiers: Vec<Verifier>,
    /// The key sets of `verifiers`, for verifiers with other rules (an `id_token_hint`).
    pub(crate) key_sets: Vec<KeySet>,
    /// The public keys as a JWK Set; HMAC secrets are never published. Serialized once per keyring: every
    /// `GET /.well-known/jwks.json` shares these bytes.
    pub(crate) jwks: Bytes,
    /// The algorithms of the published keys, each once, in key order.
    pub(crate) algorithms: Vec<Algorithm>,
    /// What this keyring was built from: (kid, signs?) of each published key. Equal → nothing to rebuild.
    identity: Vec<(String, bool)>,
    /// Decrypted keys by kid, so a rebuild decrypts only keys it has not seen.
    decrypted: HashMap<String, SigningKey>,
}

impl Keyring {
    /// An empty keyring: cannot sign, verifies nothing.
    pub(crate) fn empty() -> Keyring {
        Keyring {
            signer: None,
            id_token_signer: None,
            signing_alg: None,
            kid: String::new(),
            verifiers: Vec::new(),
            key_sets: Vec::new(),
            jwks: Bytes::from_static(b"{\"keys\":[]}"),
            algorithms: Vec::new(),
            identity: Vec::new(),
            decrypted: HashMap::new(),
        }
    }

    /// The signer of new tokens.
    pub(crate) fn signer(&self) -> Result<&Signer> {
        self.signer.as_ref().ok_or_else(|| {
            Error::config(
                "there is no signing key yet: start `waxseal serve` on this data directory once to create one",
            )
        })
    }

    /// The signer of ID tokens (the signing key, `typ: JWT`).
    pub(crate) fn id_token_signer(&self) -> Result<&Signer> {
        self.id_token_signer.as_ref().ok_or_else(|| {
            Error::config(
                "there is no signing key yet: start `waxseal serve` on this data directory once to create one",
            )
        })
    }

    /// The verifiers of the published keys (one, or two during a change between HMAC and public keys).
    pub(crate) fn verifiers(&self) -> &[Verifier] {
        &self.verifiers
    }

    /// Whether `keys` in `states` would build a keyring different from this one.
    pub(crate) fn differs(&self, keys: &[StoredKey], states: &[KeyState]) -> bool {
        self.identity != identity(keys, states)
    }

    /// Builds the keyring for `keys` in `states`, reusing this one's decrypted keys. `verifier` configures a
    /// verifier over a key set (issuer, audience, clock: the service's business).
    pub(crate) fn rebuild(
        &self,
        keys: &[StoredKey],
        states: &[KeyState],
        master: &MasterKey,
        verifier: impl Fn(KeySet) -> Verifier,
    ) -> Result<Keyring> {
        let mut decrypted = HashMap::new();
        let mut signer = None;
        let mut id_token_signer = None;
        let mut signing_alg = None;
        let mut kid = String::new();
        let mut public_keys: Vec<VerifyingKey> = Vec::new();
        let mut secrets: Vec<VerifyingKey> = Vec::new();
        let mut jwks: Vec<String> = Vec::new();
        let mut algorithms: Vec<Algorithm> = Vec::new();
        for (record, state) in keys.iter().zip(states) {
            if !state.is_published() {
                continue;
            }
            let key = match self.decrypted.get(&record.kid) {
                Some(key) => key.clone(),
                None => open(record, master)?,
            };
            let verifying = key
                .verifying_key()
                .map_err(|e| Error::crypto(format!("verifying key failed: {e}")))?;
            if verifying.is_symmetric() {
                secrets.push(verifying);
            } else {
                let public = key
                    .public_jwk()
                    .map_err(|e| Error::crypto(format!("public key export failed: {e}")))?;
                jwks.push(public.to_json());
                public_keys.push(verifying);
            }
            if !algorithms.contains(&key.algorithm()) {
                algorithms.push(key.algorithm());
            }
            if *state == KeyState::Active {
                signer = Some(
                    Signer::with_header(&key, &HeaderBuilder::new().typ("at+jwt"))
                        .map_err(|e| Error::crypto(format!("signer setup failed: {e}")))?,
                );
                id_token_signer = Some(Signer::new(&key));
                signing_alg = Some(key.algorithm());
                record.kid.clone_into(&mut kid);
            }
            decrypted.insert(record.kid.clone(), key);
        }
        let mut verifiers = Vec::new();
        let mut key_sets = Vec::new();
        for set in [public_keys, secrets] {
            if !set.is_empty() {
                let set =
                    KeySet::new(set).map_err(|e| Error::crypto(format!("key set failed: {e}")))?;
                key_sets.push(set.clone());
                verifiers.push(verifier(set));
            }
        }
        Ok(Keyring {
            signer,
            id_token_signer,
            signing_alg,
            kid,
            verifiers,
            key_sets,
            jwks: Bytes::from(format!("{{\"keys\":[{}]}}", jwks.join(","))),
            algorithms,
            identity: identity(keys, states),
            decrypted,
        })
    }
}

fn identity(keys: &[StoredKey], states: &[KeyState]) -> Vec<(String, bool)> {
    keys.iter()
        .zip(states)
        .filter(|(_, state)| state.is_published())
        .map(|(key, state)| (key.kid.clone(), *state == KeyState::Active))
        .collect()
}

/// Decrypts a stored key and checks it is what its row says.
fn open(record: &StoredKey, master: &MasterKey) -> Result<SigningKey> {
    let plain = master.open(&record.encrypted_private_key, record.kid.as_bytes())?;
    let text = std::str::from_utf8(&plain)
        .map_err(|_| Error::storage("a stored signing key is not UTF-8"))?;
    let jwk = Jwk::from_json(text)
        .map_err(|e| Error::storage(format!("stored key {}: {}", record.kid, kind_of(&e))))?;
    let key = SigningKey::from_jwk(&jwk)
        .map_err(|e| Error::storage(format!("stored key {}: {}", record.kid, kind_of(&e))))?
        .with_kid(record.kid.clone());
    if key.algorithm().to_string() != record.alg {
        return Err(Error::storage(format!(
            "stored key {} is a {} key but its row says {}",
            record.kid,
            key.algorithm(),
            record.alg
        )));
    }
    Ok(key)
}

/// What was wrong with a stored key, by kind only: the core's message could quote key material.
fn kind_of(e: &waxseal::Error) -> String {
    format!("{:?}", e.kind())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str, created_at: u64, activates_at: u64) -> StoredKey {
        StoredKey {
            kid: kid.into(),
            alg: "ES256".into(),
            encrypted_private_key: Vec::new(),
            created_at,
            activates_at,
        }
    }

    #[test]
    fn a_key_is_pending_until_it_activates_then_retires_when_the_next_one_does() {
        let hour = RETIRED_KEY_PUBLISHED_FOR.as_secs();
        let keys = [key("a", 0, 0), key("b", 100, 400)];
        assert_eq!(
            key_states(&keys, 399),
            [KeyState::Active, KeyState::Pending]
        );
        assert_eq!(
            key_states(&keys, 400),
            [KeyState::Retired { until: 400 + hour }, KeyState::Active]
        );
        assert_eq!(
            key_states(&keys, 400 + hour),
            [KeyState::Expired, KeyState::Active]
        );
    }

    #[test]
    fn before_any_activation_every_key_is_pending() {
        assert_eq!(key_states(&[key("a", 0, 10)], 5), [KeyState::Pending]);
        assert!(key_states(&[], 5).is_empty());
    }

    #[test]
    fn a_key_overtaken_before_it_signed_retires_at_once() {
        // b and c were both scheduled; c activated first in order, b never signed past c's activation.
        let keys = [key("a", 0, 0), key("b", 10, 50), key("c", 20, 50)];
        let states = key_states(&keys, 60);
        assert_eq!(states[2], KeyState::Active);
        assert!(matches!(states[1], KeyState::Retired { .. }));
        assert!(matches!(states[0], KeyState::Retired { .. }));
    }
}
