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
//!
//! Keys form two series, told apart by algorithm ([`KeySeries`]): the RS256 keys, which sign ID tokens for the
//! clients registered for RS256 (OpenID Connect Core §15.1 requires a provider to offer it), and the keys of every
//! other algorithm, the configured one's. Keys take turns only within their series: an RS256 key activating never
//! retires an ES256 key, nor the reverse. The series follow from the stored algorithm alone, never from the
//! configuration, so an admin command run with other settings computes the same states (and deletes the same
//! expired keys) as the server. Which active key signs what does depend on the configured algorithm
//! ([`signers`]): when it is RS256, the RS256 series is the only one and signs everything.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use waxseal::jws::HeaderBuilder;
use waxseal::jwt::{Signer, Verifier};
use waxseal::{Algorithm, Jwk, KeySet, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use crate::config::{CLOCK_LEEWAY, Config, MAX_ACCESS_TOKEN_TTL};
use crate::error::{Error, ErrorKind, Result};
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

/// The series a key belongs to, by its algorithm. Keys take turns within their series only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySeries {
    /// The keys of every algorithm but RS256: the configured algorithm's, which sign access tokens and ID tokens.
    Main,
    /// The RS256 keys: they sign ID tokens for the clients registered with `--id-token-alg RS256`, and everything
    /// when RS256 is the configured algorithm (the one series then serves both).
    Rs256,
}

impl KeySeries {
    /// The series of a key of `alg` (a JWS algorithm name, as stored).
    pub fn of(alg: &str) -> KeySeries {
        if alg == "RS256" {
            KeySeries::Rs256
        } else {
            KeySeries::Main
        }
    }

    /// The series of a key of `alg`.
    pub fn of_algorithm(alg: Algorithm) -> KeySeries {
        KeySeries::of(&alg.to_string())
    }
}

/// The state of each of `keys` at `now`. `keys` must be in the store's order: by activation time, then creation
/// time, then kid — in each [`KeySeries`], the active key is the last one whose activation time has come, and a key
/// retires when the next one of its series activates.
pub(crate) fn key_states(keys: &[StoredKey], now: u64) -> Vec<KeyState> {
    let mut states = vec![KeyState::Pending; keys.len()];
    for series in [KeySeries::Main, KeySeries::Rs256] {
        let members: Vec<usize> = (0..keys.len())
            .filter(|&i| KeySeries::of(&keys[i].alg) == series)
            .collect();
        let in_series: Vec<&StoredKey> = members.iter().map(|&i| &keys[i]).collect();
        for (&i, state) in members.iter().zip(series_states(&in_series, now)) {
            states[i] = state;
        }
    }
    states
}

/// [`key_states`] for the keys of one series, in the store's order.
fn series_states(keys: &[&StoredKey], now: u64) -> Vec<KeyState> {
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

/// Which of the active keys sign what, as indexes into the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Signers {
    /// Signs access tokens, and the ID tokens of clients that take the server's default algorithm: the active key
    /// of the configured algorithm's series. While that series has none — the first key of a new series waits out
    /// the publish delay after a change of the configured algorithm to or from RS256 — the other series' active key
    /// goes on signing, as the previous key does after any change of algorithm.
    pub(crate) main: Option<usize>,
    /// Signs the ID tokens of clients registered for RS256: the active RS256 key.
    pub(crate) rs256: Option<usize>,
}

/// The signers among `keys` in `states` when the server is configured for `configured`.
pub(crate) fn signers(keys: &[StoredKey], states: &[KeyState], configured: Algorithm) -> Signers {
    let active = |series: KeySeries| {
        keys.iter()
            .zip(states)
            .position(|(k, s)| *s == KeyState::Active && KeySeries::of(&k.alg) == series)
    };
    let (own, other) = match KeySeries::of_algorithm(configured) {
        KeySeries::Main => (KeySeries::Main, KeySeries::Rs256),
        KeySeries::Rs256 => (KeySeries::Rs256, KeySeries::Main),
    };
    Signers {
        main: active(own).or_else(|| active(other)),
        rs256: active(KeySeries::Rs256),
    }
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
    /// The active RS256 key with `typ: JWT`, for the ID tokens of clients registered for RS256 (the same key as
    /// `id_token_signer` when RS256 is the configured algorithm). Its tokens never carry `at+jwt` either.
    rs256_id_token_signer: Option<Signer>,
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
            rs256_id_token_signer: None,
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

    /// The signer of ID tokens for a client registered for `alg` (`None`: the server's default, the signing key),
    /// `typ: JWT`, and the algorithm it signs with (an ID token's `at_hash` is computed with its hash).
    pub(crate) fn id_token_signer(&self, alg: Option<Algorithm>) -> Result<(&Signer, Algorithm)> {
        let default = self.id_token_signer.as_ref().zip(self.signing_alg);
        let Some(alg) = alg else {
            return default.ok_or_else(|| {
                Error::config(
                    "there is no signing key yet: start `waxseal serve` on this data directory once to create one",
                )
            });
        };
        if let Some((signer, signing_alg)) = default
            && signing_alg == alg
        {
            return Ok((signer, alg));
        }
        if alg == Algorithm::RS256 {
            return self
                .rs256_id_token_signer
                .as_ref()
                .map(|signer| (signer, alg))
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::Unavailable,
                        "the RS256 key for ID tokens does not sign yet: `waxseal serve` creates it at start and \
                         it signs once the publish delay has passed (`waxseal keys list` shows when)",
                    )
                });
        }
        Err(Error::config(format!(
            "the client is registered for {alg} ID tokens, but the server signs with {} and RS256 only; \
             register it again with `waxseal client add … --id-token-alg RS256` or without --id-token-alg",
            self.signing_alg
                .map_or_else(|| "no key yet".to_owned(), |a| a.to_string())
        )))
    }

    /// The algorithms ID tokens can be signed with now: the signing key's (the default), then RS256 when a key of
    /// its own signs them.
    pub(crate) fn id_token_algorithms(&self) -> Vec<Algorithm> {
        let mut algs: Vec<Algorithm> = self.signing_alg.into_iter().collect();
        if self.rs256_id_token_signer.is_some() && !algs.contains(&Algorithm::RS256) {
            algs.push(Algorithm::RS256);
        }
        algs
    }

    /// The verifiers of the published keys (one, or two during a change between HMAC and public keys).
    pub(crate) fn verifiers(&self) -> &[Verifier] {
        &self.verifiers
    }

    /// Whether `keys` in `states` would build a keyring different from this one.
    pub(crate) fn differs(&self, keys: &[StoredKey], states: &[KeyState]) -> bool {
        self.identity != identity(keys, states)
    }

    /// Builds the keyring for `keys` in `states` on a server configured for `configured`, reusing this one's
    /// decrypted keys. `verifier` configures a verifier over a key set (issuer, audience, clock: the service's
    /// business).
    pub(crate) fn rebuild(
        &self,
        keys: &[StoredKey],
        states: &[KeyState],
        configured: Algorithm,
        master: &MasterKey,
        verifier: impl Fn(KeySet) -> Verifier,
    ) -> Result<Keyring> {
        let roles = signers(keys, states, configured);
        let mut decrypted = HashMap::new();
        let mut signer = None;
        let mut id_token_signer = None;
        let mut rs256_id_token_signer = None;
        let mut signing_alg = None;
        let mut kid = String::new();
        let mut public_keys: Vec<VerifyingKey> = Vec::new();
        let mut secrets: Vec<VerifyingKey> = Vec::new();
        let mut jwks: Vec<String> = Vec::new();
        let mut algorithms: Vec<Algorithm> = Vec::new();
        for (index, (record, state)) in keys.iter().zip(states).enumerate() {
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
            if roles.main == Some(index) {
                signer = Some(
                    Signer::with_header(&key, &HeaderBuilder::new().typ("at+jwt"))
                        .map_err(|e| Error::crypto(format!("signer setup failed: {e}")))?,
                );
                id_token_signer = Some(Signer::new(&key));
                signing_alg = Some(key.algorithm());
                record.kid.clone_into(&mut kid);
            }
            if roles.rs256 == Some(index) {
                rs256_id_token_signer = Some(Signer::new(&key));
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
            rs256_id_token_signer,
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
        key_of("ES256", kid, created_at, activates_at)
    }

    fn key_of(alg: &str, kid: &str, created_at: u64, activates_at: u64) -> StoredKey {
        StoredKey {
            kid: kid.into(),
            alg: alg.into(),
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

    #[test]
    fn keys_take_turns_within_their_series_only() {
        let hour = RETIRED_KEY_PUBLISHED_FOR.as_secs();
        // In the store's order (by activation): an RS256 key activating after an ES256 one retires neither it nor
        // the EdDSA key that follows, and the EdDSA key retires the ES256 key, not the RS256 one.
        let keys = [
            key_of("ES256", "es", 0, 0),
            key_of("RS256", "rs", 0, 5),
            key_of("EdDSA", "ed", 100, 400),
            key_of("RS256", "rs2", 100, 500),
        ];
        assert_eq!(
            key_states(&keys, 10),
            [
                KeyState::Active,
                KeyState::Active,
                KeyState::Pending,
                KeyState::Pending
            ]
        );
        assert_eq!(
            key_states(&keys, 450),
            [
                KeyState::Retired { until: 400 + hour },
                KeyState::Active,
                KeyState::Active,
                KeyState::Pending
            ]
        );
        assert_eq!(
            key_states(&keys, 500 + hour),
            [
                KeyState::Expired,
                KeyState::Expired,
                KeyState::Active,
                KeyState::Active
            ]
        );
    }

    #[test]
    fn the_configured_series_signs_and_the_rs256_series_signs_rs256_id_tokens() {
        let keys = [key_of("ES256", "es", 0, 0), key_of("RS256", "rs", 0, 0)];
        let states = key_states(&keys, 1);
        assert_eq!(
            signers(&keys, &states, Algorithm::ES256),
            Signers {
                main: Some(0),
                rs256: Some(1)
            }
        );
        // Configured for RS256, the RS256 series signs everything; the other one signs nothing.
        assert_eq!(
            signers(&keys, &states, Algorithm::RS256),
            Signers {
                main: Some(1),
                rs256: Some(1)
            }
        );
    }

    #[test]
    fn after_a_change_to_or_from_rs256_the_old_series_signs_until_the_new_one_activates() {
        // From RS256 to ES256: the first ES256 key waits out the publish delay; the RS256 key signs meanwhile.
        let keys = [key_of("RS256", "rs", 0, 0), key_of("ES256", "es", 100, 400)];
        let before = key_states(&keys, 399);
        assert_eq!(
            signers(&keys, &before, Algorithm::ES256),
            Signers {
                main: Some(0),
                rs256: Some(0)
            }
        );
        let after = key_states(&keys, 400);
        assert_eq!(after, [KeyState::Active, KeyState::Active]);
        assert_eq!(
            signers(&keys, &after, Algorithm::ES256),
            Signers {
                main: Some(1),
                rs256: Some(0)
            }
        );
        // To RS256 on a store that never had an RS256 key: the ES256 key signs until the first RS256 key does.
        let keys = [key_of("ES256", "es", 0, 0), key_of("RS256", "rs", 100, 400)];
        assert_eq!(
            signers(&keys, &key_states(&keys, 399), Algorithm::RS256),
            Signers {
                main: Some(0),
                rs256: None
            }
        );
        assert_eq!(
            signers(&keys, &key_states(&keys, 400), Algorithm::RS256),
            Signers {
                main: Some(1),
                rs256: Some(1)
            }
        );
    }

    #[test]
    fn nothing_signs_without_an_active_key() {
        let keys = [key_of("RS256", "rs", 0, 10)];
        assert_eq!(
            signers(&keys, &key_states(&keys, 5), Algorithm::ES256),
            Signers::default()
        );
    }
}
