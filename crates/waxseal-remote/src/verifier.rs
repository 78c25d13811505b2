//! A [`Verifier`] over a [`RemoteKeySet`]: rebuilt when the keys change, asking for newer keys (within the key
//! set's cooldown) when a token names a `kid` it does not know.

use std::ops::RangeInclusive;
use std::sync::{Arc, RwLock};

use serde::de::DeserializeOwned;
use waxseal::jwt::{Claims, Verifier};

use crate::error::{Error, Result};
use crate::key_set::{Keys, RemoteKeySet};

type Configure = dyn Fn(Verifier) -> Verifier + Send + Sync;
/// The verifier built for a generation of keys.
type Built = Option<(u64, Arc<Verifier>)>;

/// Verifies tokens against a remote key set with the rules a caller configured.
///
/// ```no_run
/// # async fn run() -> Result<(), waxseal_remote::Error> {
/// use waxseal_remote::{RemoteKeySet, RemoteVerifier};
/// let verifier = RemoteVerifier::new(RemoteKeySet::new("https://issuer.example/jwks.json")?)
///     .configure(|v| v.issuer("https://issuer.example").audience("api"));
/// # let token = "";
/// let claims = verifier.verify::<serde_json::Value>(token).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RemoteVerifier {
    keys: RemoteKeySet,
    configure: Arc<Configure>,
    /// The verifier built for the newest generation seen.
    built: Arc<RwLock<Built>>,
}

impl std::fmt::Debug for RemoteVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteVerifier")
            .field("jwks", &self.keys.url())
            .finish_non_exhaustive()
    }
}

impl RemoteVerifier {
    /// A verifier with the core's defaults (exp required, 60 s leeway) over `keys`.
    pub fn new(keys: RemoteKeySet) -> RemoteVerifier {
        RemoteVerifier {
            keys,
            configure: Arc::new(|v| v),
            built: Arc::new(RwLock::new(None)),
        }
    }

    /// Adds rules (issuer, audience, typ, …) to every verifier built from the keys; composes with earlier calls.
    #[must_use]
    pub fn configure(self, rules: impl Fn(Verifier) -> Verifier + Send + Sync + 'static) -> Self {
        let earlier = self.configure.clone();
        RemoteVerifier {
            configure: Arc::new(move |v| rules(earlier(v))),
            built: Arc::new(RwLock::new(None)),
            ..self
        }
    }

    /// The key set.
    pub fn key_set(&self) -> &RemoteKeySet {
        &self.keys
    }

    /// The verifier for `keys`, built once per generation.
    fn verifier_for(&self, keys: &Keys) -> Arc<Verifier> {
        if let Some((generation, verifier)) = self
            .built
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            && *generation == keys.generation
        {
            return verifier.clone();
        }
        let verifier = Arc::new((self.configure)(Verifier::new(keys.set.as_ref().clone())));
        let mut built = self
            .built
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if built.as_ref().is_none_or(|(g, _)| *g <= keys.generation) {
            *built = Some((keys.generation, verifier.clone()));
        }
        verifier
    }

    /// Verifies `token`: signature by a key of the set, then the configured rules, then `T`. An unknown `kid` asks
    /// the key set for newer keys once (see [`RemoteKeySet::keys_newer_than`]).
    pub async fn verify<T: DeserializeOwned>(&self, token: &str) -> Result<Claims<T>> {
        self.verify_with_window(token)
            .await
            .map(|(claims, _)| claims)
    }

    /// [`RemoteVerifier::verify`], also returning the Unix seconds during which the rules accept this token
    /// ([`Verifier::accepted_during`]), for caches of verified tokens.
    pub async fn verify_with_window<T: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<(Claims<T>, RangeInclusive<u64>)> {
        let keys = self.keys.keys().await?;
        let verifier = self.verifier_for(&keys);
        let verified = match verifier.verify::<T>(token) {
            Err(e) if e.kind() == waxseal::ErrorKind::KeyNotFound => {
                match self.keys.keys_newer_than(keys.generation).await? {
                    Some(newer) => {
                        let verifier = self.verifier_for(&newer);
                        let claims = verifier.verify::<T>(token).map_err(Error::token)?;
                        let window = verifier.accepted_during(&claims.registered);
                        return Ok((claims, window));
                    }
                    None => Err(e),
                }
            }
            outcome => outcome,
        };
        let claims = verified.map_err(Error::token)?;
        let window = verifier.accepted_during(&claims.registered);
        Ok((claims, window))
    }
}
