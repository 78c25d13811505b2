//! The keys in use at one moment ([`Keyring`]: the signers, the verifiers of every published key, the JWKS
//! document), rebuilt from the stored keys and their states, and the generation of new keys. When each key is
//! published, signs and goes — and which one signs what — is [`life`]'s business.

mod life;

pub use life::{KeySeries, KeyState, RETIRED_KEY_PUBLISHED_FOR, publish_delay};
pub(crate) use life::{key_states, signers};

use std::collections::HashMap;

use axum::body::Bytes;
use waxseal::jws::HeaderBuilder;
use waxseal::jwt::{Signer, Verifier};
use waxseal::{Algorithm, Jwk, KeySet, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};
use crate::master_key::MasterKey;
use crate::store::StoredKey;

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
