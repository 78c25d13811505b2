//! A circuit breaker in front of the store, so that an unreachable database costs a request nothing but its 503.
//!
//! Without it, every request that needs PostgreSQL while PostgreSQL is down waits the pool's whole acquire timeout
//! (`postgres::ACQUIRE_TIMEOUT`, 3 s) before it is answered 503 — clients pile up, and the 1 s reload loop takes
//! two such waits per pass. [`GatedStore`] wraps any [`Store`]: when an operation fails with
//! [`StoreError::Unavailable`], one probe ([`Store::probe`]: a fresh connection, not one from the pool, bounded
//! by [`PROBE_TIMEOUT`]) decides whether the database is down or that one request was unlucky (a connection
//! terminated, the pool busy for a moment). Only a failed probe opens the gate: from then on every operation
//! fails at once with `Unavailable` (the routes answer 503 with `Retry-After`) while the same probe runs every
//! [`PROBE_INTERVAL`]; the first probe that gets through closes it again, so service resumes within about one
//! interval of the database accepting connections and the first request after that does not wait either.
//!
//! It sits here, around the [`Store`] trait, rather than in the service: every flow is covered by construction,
//! none has a check of its own to forget, and the flows that need no database (verifying access tokens, the
//! JWKS) go on as before. It wraps every backend; the embedded SQLite never reports `Unavailable` (a file that
//! cannot be read is a `Backend` error, which waiting does not cure), so there it never opens.

use crate::metrics::StoreOperations;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use metrics::{Counter, Gauge};

mod sign_in;

use super::{
    BoxFuture, Client, ClientStore, Contents, DenylistSnapshot, DenylistStore, KeyStore, Logout,
    Prunable, PruneStore, RefreshTokenRecord, Resource, ReuseAllowance, RevokedKey, Rotation,
    SessionStore, Store, StoreError, StoreResult, StoredKey, StoredRefreshToken, TokenFamily,
    TransferStore, User, UserStore, WebClient,
};

/// How often the database is probed while it is known to be unreachable: service resumes within about this time
/// of it accepting connections again. A failing probe is one refused connection attempt, so probing this often
/// costs the database nothing.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(250);

/// How long a probe may take (connecting and one trivial query) before the database counts as unreachable: far
/// above a healthy connection set-up on a local network, far below the pool's acquire timeout, and it bounds a
/// probe against a host that drops packets instead of refusing.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Whether the server can reach its database, as the gate knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseState {
    /// Operations go through to the database.
    Up,
    /// A probe failed at `since`; operations are refused at once until one gets through.
    Down {
        /// When the gate opened.
        since: SystemTime,
    },
}

/// The gate's state, shared by the [`GatedStore`], its probe task and whoever reports health (`/readyz`,
/// `/metrics`). Cheap to clone.
#[derive(Clone)]
pub struct StoreGate(Arc<Shared>);

struct Shared {
    /// Unix milliseconds since which the database is known to be unreachable; 0 while it is not (one atomic, so the
    /// check on every operation takes no lock).
    down_since_ms: AtomicU64,
    /// Whether a probe task runs; at most one does.
    probing: AtomicBool,
    /// Set by [`Store::close`]: no probe starts, a running one stops.
    closed: AtomicBool,
    /// 1 while the database is reachable, 0 while the gate is open.
    up: Gauge,
    /// Operations refused at once because the gate was open.
    refused: Counter,
}

impl std::fmt::Debug for StoreGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreGate")
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        // 0 means "up": a clock set before 1970 must still read as down.
        .max(1)
}

/// `at` as RFC 3339 in UTC to the second (`2026-12-02T13:40:01Z`), for people reading `/readyz` and logs.
pub fn rfc3339(at: SystemTime) -> String {
    let secs = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant, "chrono-compatible low-level date
    // algorithms", civil_from_days), for non-negative days only.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl StoreGate {
    /// A closed gate (the database counts as reachable until a probe says otherwise), reporting its state on `up`
    /// and counting refusals on `refused`.
    pub fn new(up: Gauge, refused: Counter) -> StoreGate {
        up.set(1.0);
        StoreGate(Arc::new(Shared {
            down_since_ms: AtomicU64::new(0),
            probing: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            up,
            refused,
        }))
    }

    /// The state now.
    pub fn state(&self) -> DatabaseState {
        match self.0.down_since_ms.load(Ordering::Acquire) {
            0 => DatabaseState::Up,
            ms => DatabaseState::Down {
                since: SystemTime::UNIX_EPOCH + Duration::from_millis(ms),
            },
        }
    }

    /// The error an operation gets while the gate is open (and counts it), or `None` when it may go through.
    fn refusal(&self) -> Option<StoreError> {
        let DatabaseState::Down { since } = self.state() else {
            return None;
        };
        self.0.refused.increment(1);
        Some(StoreError::Unavailable(format!(
            "not tried: unreachable since {}, refused at once until a probe (every {} ms) gets through",
            rfc3339(since),
            PROBE_INTERVAL.as_millis()
        )))
    }

    fn open(&self, why: &StoreError) {
        let now = SystemTime::now();
        if self
            .0
            .down_since_ms
            .compare_exchange(0, unix_ms(now), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.0.up.set(0.0);
            tracing::warn!(
                probe = %why,
                "the database is unreachable: answering 503 at once (no pool wait) until a probe every {} ms \
                 reaches it; access tokens still verify",
                PROBE_INTERVAL.as_millis()
            );
        }
    }

    fn close(&self) {
        let since = self.0.down_since_ms.swap(0, Ordering::AcqRel);
        if since != 0 {
            self.0.up.set(1.0);
            let down_for = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH + Duration::from_millis(since))
                .unwrap_or_default();
            tracing::info!(
                down_for_ms = u64::try_from(down_for.as_millis()).unwrap_or(u64::MAX),
                "the database answers again: serving requests that need it"
            );
        }
    }

    fn is_shut(&self) -> bool {
        self.0.closed.load(Ordering::Acquire)
    }
}

/// Probes `store` until it answers, opening the gate at the first failure and closing it at the first success.
async fn probe_until_up(store: Arc<dyn Store>, gate: StoreGate) {
    loop {
        let failure = match tokio::time::timeout(PROBE_TIMEOUT, store.probe()).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some(StoreError::Unavailable(format!(
                "no answer within {} ms",
                PROBE_TIMEOUT.as_millis()
            ))),
        };
        match failure {
            None => {
                gate.close();
                break;
            }
            Some(why) => gate.open(&why),
        }
        if gate.is_shut() {
            break;
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
    gate.0.probing.store(false, Ordering::Release);
}

/// A [`Store`] behind a [`StoreGate`]: see the module docs.
pub struct GatedStore {
    inner: Arc<dyn Store>,
    gate: StoreGate,
    /// Counts the operations that reach the store.
    operations: StoreOperations,
}

impl std::fmt::Debug for GatedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatedStore")
            .field("gate", &self.gate)
            .finish_non_exhaustive()
    }
}

impl GatedStore {
    /// `inner` behind `gate`, counting in `operations` every operation that passes it.
    pub fn new(inner: Arc<dyn Store>, gate: StoreGate, operations: StoreOperations) -> GatedStore {
        GatedStore {
            inner,
            gate,
            operations,
        }
    }

    /// Runs `op` (the store operation `name`) unless the gate is open; an `Unavailable` from it starts a probe.
    fn guard<'a, T: Send + 'a>(
        &'a self,
        name: &'static str,
        op: BoxFuture<'a, StoreResult<T>>,
    ) -> BoxFuture<'a, StoreResult<T>> {
        if let Some(refused) = self.gate.refusal() {
            return Box::pin(std::future::ready(Err(refused)));
        }
        self.operations.count(name);
        Box::pin(async move {
            let result = op.await;
            if matches!(result, Err(StoreError::Unavailable(_))) {
                self.suspect();
            }
            result
        })
    }

    /// Starts the probe task unless one runs (or the store is closed, or there is no runtime to run it on: then
    /// the gate stays closed and requests wait for the pool as they would without it).
    fn suspect(&self) {
        if self.gate.is_shut() || self.gate.0.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(probe_until_up(self.inner.clone(), self.gate.clone()));
            }
            Err(_) => self.gate.0.probing.store(false, Ordering::Release),
        }
    }
}

impl UserStore for GatedStore {
    fn create_user<'a>(&'a self, user: &'a User) -> BoxFuture<'a, StoreResult<()>> {
        self.guard("create_user", self.inner.create_user(user))
    }
    fn user_by_name<'a>(&'a self, username: &'a str) -> BoxFuture<'a, StoreResult<Option<User>>> {
        self.guard("user_by_name", self.inner.user_by_name(username))
    }
    fn user_by_id<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<Option<User>>> {
        self.guard("user_by_id", self.inner.user_by_id(id))
    }
    fn set_user_disabled<'a>(
        &'a self,
        username: &'a str,
        disabled: bool,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        self.guard(
            "set_user_disabled",
            self.inner.set_user_disabled(username, disabled),
        )
    }
    fn list_users(&self) -> BoxFuture<'_, StoreResult<Vec<User>>> {
        self.guard("list_users", self.inner.list_users())
    }
    fn set_password_hash<'a>(
        &'a self,
        user_id: &'a str,
        password_hash: &'a str,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        self.guard(
            "set_password_hash",
            self.inner.set_password_hash(user_id, password_hash),
        )
    }
    fn delete_user<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
        self.guard("delete_user", self.inner.delete_user(user_id))
    }
}

impl ClientStore for GatedStore {
    fn create_resource<'a>(&'a self, resource: &'a Resource) -> BoxFuture<'a, StoreResult<()>> {
        self.guard("create_resource", self.inner.create_resource(resource))
    }
    fn resource_by_uri<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, StoreResult<Option<Resource>>> {
        self.guard("resource_by_uri", self.inner.resource_by_uri(uri))
    }
    fn list_resources(&self) -> BoxFuture<'_, StoreResult<Vec<Resource>>> {
        self.guard("list_resources", self.inner.list_resources())
    }
    fn delete_resource<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
        self.guard("delete_resource", self.inner.delete_resource(uri))
    }
    fn create_client<'a>(&'a self, client: &'a Client) -> BoxFuture<'a, StoreResult<()>> {
        self.guard("create_client", self.inner.create_client(client))
    }
    fn client_by_id<'a>(
        &'a self,
        client_id: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<Client>>> {
        self.guard("client_by_id", self.inner.client_by_id(client_id))
    }
    fn list_clients(&self) -> BoxFuture<'_, StoreResult<Vec<Client>>> {
        self.guard("list_clients", self.inner.list_clients())
    }
    fn clients_with_web_origin<'a>(
        &'a self,
        origin: &'a str,
    ) -> BoxFuture<'a, StoreResult<Vec<WebClient>>> {
        self.guard(
            "clients_with_web_origin",
            self.inner.clients_with_web_origin(origin),
        )
    }
    fn touch_client<'a>(&'a self, client_id: &'a str, now: u64) -> BoxFuture<'a, StoreResult<()>> {
        self.guard("touch_client", self.inner.touch_client(client_id, now))
    }
    fn unused_registered_clients(
        &self,
        cutoff: u64,
        limit: u32,
    ) -> BoxFuture<'_, StoreResult<Vec<String>>> {
        self.guard(
            "unused_registered_clients",
            self.inner.unused_registered_clients(cutoff, limit),
        )
    }
    fn set_client_secret_hash<'a>(
        &'a self,
        client_id: &'a str,
        secret_hash: &'a [u8; 32],
    ) -> BoxFuture<'a, StoreResult<bool>> {
        self.guard(
            "set_client_secret_hash",
            self.inner.set_client_secret_hash(client_id, secret_hash),
        )
    }
    fn delete_client<'a>(
        &'a self,
        client_id: &'a str,
        now: u64,
        deny_until: u64,
        not_before: u64,
    ) -> BoxFuture<'a, StoreResult<Option<Vec<String>>>> {
        self.guard(
            "delete_client",
            self.inner
                .delete_client(client_id, now, deny_until, not_before),
        )
    }
}

impl SessionStore for GatedStore {
    fn create_session<'a>(
        &'a self,
        family: &'a TokenFamily,
        first: &'a RefreshTokenRecord,
    ) -> BoxFuture<'a, StoreResult<()>> {
        self.guard("create_session", self.inner.create_session(family, first))
    }
    fn rotate_refresh_token_with_reuse<'a>(
        &'a self,
        presented: &'a [u8; 32],
        successor: &'a RefreshTokenRecord,
        now: u64,
        deny_until: u64,
        reuse: ReuseAllowance,
    ) -> BoxFuture<'a, StoreResult<Rotation>> {
        self.guard(
            "rotate_refresh_token_with_reuse",
            self.inner
                .rotate_refresh_token_with_reuse(presented, successor, now, deny_until, reuse),
        )
    }
    fn family_of_token<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFuture<'a, StoreResult<Option<TokenFamily>>> {
        self.guard("family_of_token", self.inner.family_of_token(hash))
    }
    fn refresh_token_state<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFuture<'a, StoreResult<Option<(StoredRefreshToken, TokenFamily)>>> {
        self.guard("refresh_token_state", self.inner.refresh_token_state(hash))
    }
    fn revoke_session<'a>(
        &'a self,
        sid: &'a str,
        now: u64,
        deny_until: u64,
    ) -> BoxFuture<'a, StoreResult<()>> {
        self.guard(
            "revoke_session",
            self.inner.revoke_session(sid, now, deny_until),
        )
    }
    fn revoke_all_sessions<'a>(
        &'a self,
        user_id: &'a str,
        now: u64,
        deny_until: u64,
    ) -> BoxFuture<'a, StoreResult<Vec<String>>> {
        self.guard(
            "revoke_all_sessions",
            self.inner.revoke_all_sessions(user_id, now, deny_until),
        )
    }
    fn logout<'a>(&'a self, logout: &'a Logout<'a>) -> BoxFuture<'a, StoreResult<Vec<String>>> {
        self.guard("logout", self.inner.logout(logout))
    }
}

impl KeyStore for GatedStore {
    fn insert_key<'a>(&'a self, key: &'a StoredKey) -> BoxFuture<'a, StoreResult<()>> {
        self.guard("insert_key", self.inner.insert_key(key))
    }
    fn insert_key_if_unchanged<'a>(
        &'a self,
        key: &'a StoredKey,
        seen: &'a [String],
    ) -> BoxFuture<'a, StoreResult<bool>> {
        self.guard(
            "insert_key_if_unchanged",
            self.inner.insert_key_if_unchanged(key, seen),
        )
    }
    fn keys(&self) -> BoxFuture<'_, StoreResult<Vec<StoredKey>>> {
        self.guard("keys", self.inner.keys())
    }
    fn revoke_key_if_unchanged<'a>(
        &'a self,
        revoked: &'a RevokedKey,
        replacement: Option<&'a StoredKey>,
        seen: &'a [String],
    ) -> BoxFuture<'a, StoreResult<bool>> {
        self.guard(
            "revoke_key_if_unchanged",
            self.inner
                .revoke_key_if_unchanged(revoked, replacement, seen),
        )
    }
    fn revoked_keys(&self) -> BoxFuture<'_, StoreResult<Vec<RevokedKey>>> {
        self.guard("revoked_keys", self.inner.revoked_keys())
    }
    fn delete_key<'a>(&'a self, kid: &'a str) -> BoxFuture<'a, StoreResult<()>> {
        self.guard("delete_key", self.inner.delete_key(kid))
    }
}

impl DenylistStore for GatedStore {
    fn deny_jti<'a>(&'a self, jti: &'a str, until: u64) -> BoxFuture<'a, StoreResult<()>> {
        self.guard("deny_jti", self.inner.deny_jti(jti, until))
    }
    fn load_denylist(&self, now: u64) -> BoxFuture<'_, StoreResult<DenylistSnapshot>> {
        self.guard("load_denylist", self.inner.load_denylist(now))
    }
}

impl PruneStore for GatedStore {
    fn prune_batch(
        &self,
        what: Prunable,
        cutoff: u64,
        limit: u32,
    ) -> BoxFuture<'_, StoreResult<u64>> {
        self.guard("prune_batch", self.inner.prune_batch(what, cutoff, limit))
    }
}

impl TransferStore for GatedStore {
    fn export_all(&self) -> BoxFuture<'_, StoreResult<Contents>> {
        self.guard("export_all", self.inner.export_all())
    }
    fn import_all<'a>(
        &'a self,
        contents: &'a Contents,
        replace: bool,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        self.guard("import_all", self.inner.import_all(contents, replace))
    }
}

impl Store for GatedStore {
    fn close(&self) -> BoxFuture<'_, ()> {
        self.gate.0.closed.store(true, Ordering::Release);
        self.inner.close()
    }
    fn ping(&self) -> BoxFuture<'_, StoreResult<()>> {
        self.guard("ping", self.inner.ping())
    }
    fn probe(&self) -> BoxFuture<'_, StoreResult<()>> {
        self.inner.probe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_rfc3339_utc() {
        let at = |secs| rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(at(1_796_132_401), "2026-12-01T13:40:01Z");
        assert_eq!(at(4_102_444_800), "2100-01-01T00:00:00Z");
    }
}
