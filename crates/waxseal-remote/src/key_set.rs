//! A JWK Set fetched from an issuer and kept fresh, without letting token senders steer the fetching.
//!
//! - The document is cached for its `Cache-Control: max-age`, bounded by [`Options::min_cache`] and
//!   [`Options::max_cache`] (an issuer saying `no-store` still gets one fetch per `min_cache`, not one per request).
//! - Once the cache is stale, keys are still served for up to [`Options::max_stale`] while one background refresh
//!   runs: an issuer outage does not become an outage of every service that verifies its tokens. Past that bound,
//!   verification fails closed with [`ErrorKind::Stale`].
//! - A token whose `kid` is unknown may cause a refetch (the issuer may have rotated), but at most one per
//!   [`Options::cooldown`], and concurrent misses share one fetch (single flight): a flood of tokens with random
//!   `kid`s cannot make this process hammer the issuer.
//! - Every fetch is bounded in time, bytes and key count; private and secret keys in the document are skipped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use reqwest::{Client, Url};
use waxseal::{KeySet, Limits};

use crate::error::{Error, ErrorKind, Result};
use crate::fetch;

/// Bounds and timings of a [`RemoteKeySet`]. The defaults suit a public issuer.
#[derive(Debug, Clone)]
pub struct Options {
    /// Least time between two fetches caused by unknown `kid`s. Default 30 s.
    pub cooldown: Duration,
    /// How long a document without `Cache-Control: max-age` is fresh. Default 10 min.
    pub default_cache: Duration,
    /// The shortest freshness honoured, whatever the issuer says. Default 1 min.
    pub min_cache: Duration,
    /// The longest freshness honoured, whatever the issuer says. Default 24 h.
    pub max_cache: Duration,
    /// How long past freshness the keys are still used while refreshing fails. Default 24 h.
    pub max_stale: Duration,
    /// Whole-request timeout. Default 5 s.
    pub timeout: Duration,
    /// Document size and key count bounds (the core's [`Limits`]: 512 KiB and 100 keys by default).
    pub limits: Limits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cooldown: Duration::from_secs(30),
            default_cache: Duration::from_secs(10 * 60),
            min_cache: Duration::from_secs(60),
            max_cache: Duration::from_secs(24 * 60 * 60),
            max_stale: Duration::from_secs(24 * 60 * 60),
            timeout: Duration::from_secs(5),
            limits: Limits::default(),
        }
    }
}

/// The keys at one moment, and a number that grows each time a fetch replaces them.
#[derive(Debug, Clone)]
pub struct Keys {
    /// The usable keys of the document.
    pub set: Arc<KeySet>,
    /// Increments with every successful fetch: a verifier built for an older generation is out of date.
    pub generation: u64,
}

#[derive(Debug)]
struct Cached {
    keys: Keys,
    fresh_until: Instant,
    stale_until: Instant,
}

#[derive(Debug, Default)]
struct State {
    cached: Option<Cached>,
    /// When the last fetch started (success or not): the cooldown and the background retry pace count from it.
    last_attempt: Option<Instant>,
    /// Why the last fetch failed, for the fail-closed message.
    last_error: Option<String>,
    /// A background refresh is running.
    refreshing: bool,
}

#[derive(Debug)]
struct Inner {
    url: Url,
    client: Client,
    options: Options,
    state: RwLock<State>,
    /// Held for the duration of a fetch: the single flight.
    fetching: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
}

/// A JWK Set at an issuer's URL, cached and refreshed as the module docs describe. Cloning shares the cache.
///
/// ```no_run
/// # async fn run() -> Result<(), waxseal_remote::Error> {
/// let jwks = waxseal_remote::RemoteKeySet::new("https://issuer.example/.well-known/jwks.json")?;
/// let keys = jwks.keys().await?;
/// println!("{} keys, generation {}", keys.set.keys().len(), keys.generation);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RemoteKeySet {
    inner: Arc<Inner>,
}

impl RemoteKeySet {
    /// A key set at `url` (`https`, or `http` to a loopback address) with default [`Options`]. Nothing is fetched
    /// until keys are first needed.
    pub fn new(url: &str) -> Result<RemoteKeySet> {
        Self::with_options(url, Options::default())
    }

    /// [`RemoteKeySet::new`] with explicit options.
    pub fn with_options(url: &str, options: Options) -> Result<RemoteKeySet> {
        let url = fetch::check_url(url)?;
        let client = fetch::client(options.timeout)?;
        Ok(RemoteKeySet {
            inner: Arc::new(Inner {
                url,
                client,
                options,
                state: RwLock::new(State::default()),
                fetching: tokio::sync::Mutex::new(()),
                fetches: AtomicU64::new(0),
            }),
        })
    }

    /// The document's URL.
    pub fn url(&self) -> &str {
        self.inner.url.as_str()
    }

    /// How many times the document has been requested (for monitoring, and for tests that count).
    pub fn fetches(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    /// The keys to verify with now: the cached ones while fresh; stale ones (starting one background refresh) within
    /// [`Options::max_stale`]; otherwise fetched now, concurrent callers sharing the fetch.
    pub async fn keys(&self) -> Result<Keys> {
        let now = Instant::now();
        {
            let state = self.inner.read();
            if let Some(cached) = &state.cached {
                if now < cached.fresh_until {
                    return Ok(cached.keys.clone());
                }
                if now < cached.stale_until {
                    let keys = cached.keys.clone();
                    drop(state);
                    self.refresh_in_background(now);
                    return Ok(keys);
                }
            }
        }
        self.fetch(Want::Fresh).await
    }

    /// Called when a token names a `kid` that `seen` (the generation it was checked against) does not have: returns
    /// newer keys if another caller already fetched them, fetches if the cooldown allows, else `None` (the token
    /// is refused; the issuer is not asked again before the cooldown ends).
    pub async fn keys_newer_than(&self, seen: u64) -> Result<Option<Keys>> {
        {
            let state = self.inner.read();
            if let Some(cached) = state.cached.as_ref().filter(|c| c.keys.generation > seen) {
                return Ok(Some(cached.keys.clone()));
            }
            // Within the cooldown nothing is fetched — unless a fetch is under way, whose result may have the kid.
            if self.inner.cooling_down(&state, Instant::now())
                && self.inner.fetching.try_lock().is_ok()
            {
                return Ok(None);
            }
        }
        match self.fetch(Want::NewerThan(seen)).await {
            Ok(keys) if keys.generation > seen => Ok(Some(keys)),
            Ok(_) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Starts one background refresh unless one is running or the last attempt is within the cooldown.
    fn refresh_in_background(&self, now: Instant) {
        {
            let mut state = self.inner.write();
            if state.refreshing || self.inner.cooling_down(&state, now) {
                return;
            }
            state.refreshing = true;
        }
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.fetch(Want::Fresh).await {
                tracing::warn!(url = %this.url(), error = %e, "JWKS refresh failed; serving the cached keys");
            }
            this.inner.write().refreshing = false;
        });
    }

    /// Fetches unless, once this caller holds the single flight, what it wants is already there.
    async fn fetch(&self, want: Want) -> Result<Keys> {
        let _flight = self.inner.fetching.lock().await;
        let now = Instant::now();
        {
            let state = self.inner.read();
            if let Some(cached) = &state.cached {
                let satisfied = match want {
                    Want::Fresh => now < cached.fresh_until,
                    Want::NewerThan(seen) => {
                        cached.keys.generation > seen || self.inner.cooling_down(&state, now)
                    }
                };
                if satisfied {
                    return Ok(cached.keys.clone());
                }
            }
            // The last attempt failed moments ago: answer with that instead of asking a down issuer again.
            if let Some(error) = state
                .last_error
                .as_ref()
                .filter(|_| self.inner.cooling_down(&state, now))
            {
                return Err(self.inner.unavailable(state.cached.is_some(), error));
            }
        }
        self.inner.write().last_attempt = Some(now);
        self.inner.fetches.fetch_add(1, Ordering::Relaxed);
        match self.inner.download().await {
            Ok((set, max_age)) => {
                let o = &self.inner.options;
                let fresh_for = max_age
                    .unwrap_or(o.default_cache)
                    .clamp(o.min_cache, o.max_cache.max(o.min_cache));
                let mut state = self.inner.write();
                let generation = state.cached.as_ref().map_or(1, |c| c.keys.generation + 1);
                let keys = Keys {
                    set: Arc::new(set),
                    generation,
                };
                let fresh_until = now + fresh_for;
                state.cached = Some(Cached {
                    keys: keys.clone(),
                    fresh_until,
                    stale_until: fresh_until + o.max_stale,
                });
                state.last_error = None;
                Ok(keys)
            }
            Err(e) => {
                let mut state = self.inner.write();
                state.last_error = Some(e.message().to_owned());
                match &state.cached {
                    Some(cached) if now < cached.stale_until => {
                        tracing::warn!(url = %self.url(), error = %e, "JWKS fetch failed; using the cached keys");
                        Ok(cached.keys.clone())
                    }
                    Some(_) => Err(self.inner.unavailable(true, e.message())),
                    None => Err(e),
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Want {
    /// Fresh keys (first use, or the cache expired).
    Fresh,
    /// Keys of a later generation than this one (an unknown `kid`), if the cooldown allows a fetch.
    NewerThan(u64),
}

impl Inner {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The error when no usable keys can be had: [`ErrorKind::Stale`] once keys had been fetched, else the fetch
    /// failure itself.
    fn unavailable(&self, had_keys: bool, last_error: &str) -> Error {
        if had_keys {
            Error::new(
                ErrorKind::Stale,
                format!(
                    "the keys from {} could not be refreshed for longer than the allowed staleness ({} s); \
                     tokens are refused until the issuer answers. Last error: {last_error}",
                    self.url,
                    self.options.max_stale.as_secs()
                ),
            )
        } else {
            Error::new(
                ErrorKind::Fetch,
                format!(
                    "no keys from {} yet, and the last attempt failed moments ago (retried after {} s): \
                     {last_error}",
                    self.url,
                    self.options.cooldown.as_secs()
                ),
            )
        }
    }

    fn cooling_down(&self, state: &State, now: Instant) -> bool {
        state
            .last_attempt
            .is_some_and(|at| now.saturating_duration_since(at) < self.options.cooldown)
    }

    async fn download(&self) -> Result<(KeySet, Option<Duration>)> {
        let fetched = fetch::get(
            &self.client,
            &self.url,
            "application/jwk-set+json, application/json",
            self.options.limits.max_jwks_bytes,
        )
        .await?;
        let set =
            KeySet::from_published_jwks(&fetched.body, &self.options.limits).map_err(|e| {
                let kind = if e.kind() == waxseal::ErrorKind::LimitExceeded {
                    ErrorKind::LimitExceeded
                } else {
                    ErrorKind::InvalidDocument
                };
                Error::new(
                    kind,
                    format!("the JWK Set at {} is not usable: {e}", self.url),
                )
            })?;
        for skipped in set.skipped() {
            tracing::info!(url = %self.url, reason = %skipped, "skipped a key of the JWK Set");
        }
        Ok((set, fetched.max_age))
    }
}
