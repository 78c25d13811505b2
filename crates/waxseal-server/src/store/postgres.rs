//! The shared backend: PostgreSQL, for several `waxseal serve` instances behind one load balancer. Same tables and
//! semantics as [`super::sqlite`], its own migrations (`migrations-postgres/`) compiled into the binary, a pool of
//! connections per process.
//!
//! Transactions run at PostgreSQL's default READ COMMITTED level. What must not race is decided by row locks and
//! rows affected, not by snapshots: refresh-token rotation consumes the token with one conditional `UPDATE`, which
//! a concurrent presentation of the same token waits on and then re-evaluates — of any number of processes, exactly
//! one sees a row updated. Key rotation, which inserts into a table that may be empty, takes a transaction-scoped
//! advisory lock instead ([`KEY_ROTATION_LOCK`]).

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgQueryResult};
use sqlx::{Connection as _, Postgres, Transaction};

use super::sql;
use super::{
    BoxFuture, Client, ClientStore, DenylistSnapshot, DenylistStore, KeyStore, Migrated, Prunable,
    PruneStore, Resource, RevokedKey, Store, StoreError, StoreResult, StoredKey, User, UserStore,
    WebClient, ts,
};
pub use redact::redact_url;
use redact::scrub;
use sessions::{deny_jti, deny_sids, set_not_before};

mod redact;
mod revoked_keys;
mod sessions;
mod sign_in;
mod transfer;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations-postgres");

/// The default size of each process's connection pool: enough for the request concurrency of a few cores; N
/// instances open up to N times this many connections, which must stay under the server's `max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

/// How long a request waits for a connection before it is answered "unavailable": long enough to ride out a burst,
/// short enough that a client sees 503 instead of timing out itself when PostgreSQL is down.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// The advisory-lock key under which instances decide and store a key rotation (`"waxseal"` as a big-endian
/// integer, so it stays clear of other applications' small numbers on a shared server).
pub const KEY_ROTATION_LOCK: i64 = 0x0077_6178_7365_616c;

/// The PostgreSQL store. Cheap to clone (a connection pool).
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// SQLSTATE codes meaning "the server cannot serve you now": class 08 (connection exception), 53300
/// (too_many_connections), 57P01-57P03 (shutting down, crashed, starting up).
fn unavailable_code(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "53300" | "57P01" | "57P02" | "57P03")
}

fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        sqlx::Error::Database(db) if db.code().is_some_and(|c| unavailable_code(&c)) => {
            StoreError::Unavailable(e.to_string())
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        _ => backend(e),
    }
}

impl sql::Dialect for Postgres {
    /// `reissues` is an `INTEGER`.
    const MAX_REISSUES: u32 = i32::MAX.unsigned_abs();

    fn store_error(e: sqlx::Error) -> StoreError {
        map_err(e)
    }

    fn rows_affected(done: &PgQueryResult) -> u64 {
        done.rows_affected()
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://…` or `postgresql://…`) with a pool of at most `max_connections` and applies
    /// the embedded migrations (several processes starting at once take turns: sqlx's migrator holds an advisory
    /// lock while it runs).
    pub async fn open(url: &str, max_connections: u32) -> StoreResult<PostgresStore> {
        Ok(Self::open_migrated(url, max_connections).await?.0)
    }

    /// [`PostgresStore::open`], saying which migrations it applied.
    pub async fn open_migrated(
        url: &str,
        max_connections: u32,
    ) -> StoreResult<(PostgresStore, Migrated)> {
        let store = Self::connect(url, max_connections).await?;
        let migrated = store.migrate().await?;
        Ok((store, migrated))
    }

    async fn connect(url: &str, max_connections: u32) -> StoreResult<PostgresStore> {
        let unusable = |e: sqlx::Error| {
            let why = scrub(&e.to_string(), url);
            let shown = redact_url(url);
            match map_err(e) {
                StoreError::Unavailable(_) => {
                    StoreError::Unavailable(format!("cannot connect to {shown}: {why}"))
                }
                StoreError::Conflict | StoreError::Backend(_) => {
                    StoreError::Backend(format!("cannot use {shown}: {why}"))
                }
            }
        };
        let options = PgConnectOptions::from_str(url)
            .map_err(unusable)?
            // NOTICEs ("relation already exists, skipping") are not worth a log line each.
            .options([("client_min_messages", "warning")]);
        // One connection first, for its precise error: the pool would only say that it timed out.
        sqlx::ConnectOptions::connect(&options)
            .await
            .map_err(unusable)?
            .close()
            .await
            .map_err(unusable)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(unusable)?;
        Ok(PostgresStore { pool })
    }

    /// Applies the embedded migrations not yet applied.
    async fn migrate(&self) -> StoreResult<Migrated> {
        use sqlx::migrate::Migrate as _;
        let before: Vec<i64> = {
            let mut conn = self.pool.acquire().await.map_err(map_err)?;
            conn.ensure_migrations_table("_sqlx_migrations")
                .await
                .map_err(backend)?;
            conn.list_applied_migrations("_sqlx_migrations")
                .await
                .map_err(backend)?
                .into_iter()
                .map(|m| m.version)
                .collect()
        };
        MIGRATOR.run(&self.pool).await.map_err(backend)?;
        let applied = MIGRATOR
            .iter()
            .filter(|m| !before.contains(&m.version))
            .map(|m| (m.version, m.description.to_string()))
            .collect();
        Ok(Migrated {
            applied,
            already: before.len(),
        })
    }

    /// The connection pool (for tests and tools that inspect the database).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn begin(&self) -> StoreResult<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(map_err)
    }
}

impl ClientStore for PostgresStore {
    fn create_resource<'a>(&'a self, resource: &'a Resource) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(sql::insert_resource(&self.pool, resource))
    }

    fn resource_by_uri<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, StoreResult<Option<Resource>>> {
        Box::pin(sql::resource_by_uri(&self.pool, uri))
    }

    fn list_resources(&self) -> BoxFuture<'_, StoreResult<Vec<Resource>>> {
        Box::pin(sql::resources(&self.pool))
    }

    fn delete_resource<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(sql::delete_resource(&self.pool, uri))
    }

    fn create_client<'a>(&'a self, client: &'a Client) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(sql::insert_client(&self.pool, client))
    }

    fn client_by_id<'a>(
        &'a self,
        client_id: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<Client>>> {
        Box::pin(sql::client_by_id(&self.pool, client_id))
    }

    fn list_clients(&self) -> BoxFuture<'_, StoreResult<Vec<Client>>> {
        Box::pin(sql::clients(&self.pool))
    }

    fn clients_with_web_origin<'a>(
        &'a self,
        origin: &'a str,
    ) -> BoxFuture<'a, StoreResult<Vec<WebClient>>> {
        Box::pin(sql::clients_with_web_origin(&self.pool, origin))
    }

    fn touch_client<'a>(&'a self, client_id: &'a str, now: u64) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(sql::touch_client(&self.pool, client_id, now))
    }

    fn unused_registered_clients(
        &self,
        cutoff: u64,
        limit: u32,
    ) -> BoxFuture<'_, StoreResult<Vec<String>>> {
        Box::pin(sql::unused_registered_clients(&self.pool, cutoff, limit))
    }

    fn set_client_secret_hash<'a>(
        &'a self,
        client_id: &'a str,
        secret_hash: &'a [u8; 32],
    ) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(sql::set_client_secret_hash(
            &self.pool,
            client_id,
            secret_hash,
        ))
    }

    fn delete_client<'a>(
        &'a self,
        client_id: &'a str,
        now: u64,
        deny_until: u64,
        not_before: u64,
    ) -> BoxFuture<'a, StoreResult<Option<Vec<String>>>> {
        Box::pin(async move {
            let mut tx = self.begin().await?;
            let deleted = sqlx::query("DELETE FROM clients WHERE client_id = $1")
                .bind(client_id)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected();
            if deleted == 0 {
                return Ok(None);
            }
            let sids: Vec<String> = sqlx::query_scalar(
                "UPDATE token_families SET revoked_at = $1 \
                 WHERE client_id = $2 AND revoked_at IS NULL RETURNING sid",
            )
            .bind(ts(now))
            .bind(client_id)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
            deny_sids(&mut tx, &sids, deny_until).await?;
            // What its users consented to goes with it: a client registered later under the same id is asked
            // again. (Its unused codes name this registration, and a later one refuses them.)
            sqlx::query("DELETE FROM consents WHERE client_id = $1")
                .bind(client_id)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            // Client-credentials tokens have the client as their subject and no session.
            set_not_before(&mut tx, client_id, not_before).await?;
            tx.commit().await.map_err(map_err)?;
            Ok(Some(sids))
        })
    }
}

impl UserStore for PostgresStore {
    fn create_user<'a>(&'a self, user: &'a User) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(sql::insert_user(&self.pool, user))
    }

    fn user_by_name<'a>(&'a self, username: &'a str) -> BoxFuture<'a, StoreResult<Option<User>>> {
        Box::pin(sql::user_by_name(&self.pool, username))
    }

    fn user_by_id<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<Option<User>>> {
        Box::pin(sql::user_by_id(&self.pool, id))
    }

    fn set_user_disabled<'a>(
        &'a self,
        username: &'a str,
        disabled: bool,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(sql::set_user_disabled(&self.pool, username, disabled))
    }

    fn list_users(&self) -> BoxFuture<'_, StoreResult<Vec<User>>> {
        Box::pin(sql::users(&self.pool))
    }

    fn set_password_hash<'a>(
        &'a self,
        user_id: &'a str,
        password_hash: &'a str,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(sql::set_password_hash(&self.pool, user_id, password_hash))
    }

    fn delete_user<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(sql::delete_user(&self.pool, user_id))
    }
}

impl KeyStore for PostgresStore {
    fn insert_key<'a>(&'a self, key: &'a StoredKey) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            let mut tx = self.begin().await?;
            sql::insert_key(&mut *tx, key).await?;
            tx.commit().await.map_err(map_err)
        })
    }

    fn insert_key_if_unchanged<'a>(
        &'a self,
        key: &'a StoredKey,
        seen: &'a [String],
    ) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(async move {
            let mut tx = self.begin().await?;
            // Held until commit or rollback; a second instance waits here, then reads the key the first stored.
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(KEY_ROTATION_LOCK)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            let stored: Vec<String> = sqlx::query_scalar("SELECT kid FROM signing_keys")
                .fetch_all(&mut *tx)
                .await
                .map_err(map_err)?;
            if !super::same_kids(stored, seen) {
                return Ok(false);
            }
            sql::insert_key(&mut *tx, key).await?;
            tx.commit().await.map_err(map_err)?;
            Ok(true)
        })
    }

    fn keys(&self) -> BoxFuture<'_, StoreResult<Vec<StoredKey>>> {
        Box::pin(sql::live_keys(&self.pool))
    }

    fn revoke_key_if_unchanged<'a>(
        &'a self,
        revoked: &'a RevokedKey,
        replacement: Option<&'a StoredKey>,
        seen: &'a [String],
    ) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(revoked_keys::revoke_if_unchanged(
            self,
            revoked,
            replacement,
            seen,
        ))
    }

    fn revoked_keys(&self) -> BoxFuture<'_, StoreResult<Vec<RevokedKey>>> {
        Box::pin(sql::revoked_keys(&self.pool))
    }

    fn delete_key<'a>(&'a self, kid: &'a str) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(sql::delete_key(&self.pool, kid))
    }
}

impl DenylistStore for PostgresStore {
    fn deny_jti<'a>(&'a self, jti: &'a str, until: u64) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(deny_jti(&self.pool, jti, until))
    }

    fn load_denylist(&self, now: u64) -> BoxFuture<'_, StoreResult<DenylistSnapshot>> {
        Box::pin(sql::denylist_in_force(&self.pool, now))
    }
}

impl PruneStore for PostgresStore {
    fn prune_batch(
        &self,
        what: Prunable,
        cutoff: u64,
        limit: u32,
    ) -> BoxFuture<'_, StoreResult<u64>> {
        Box::pin(sql::prune_batch(&self.pool, what, cutoff, limit))
    }
}

impl Store for PostgresStore {
    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.pool.close().await;
        })
    }

    fn ping(&self) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(async move {
            sqlx::query("SELECT 1")
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            Ok(())
        })
    }

    /// A new connection with the pool's options and one round trip, then closed: it neither waits for a busy
    /// pool nor trusts a pooled connection that a restart has cut. A server refusing only because all its
    /// connection slots are taken (53300) is reachable: then the pool's own connections answer.
    fn probe(&self) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(async move {
            let options = self.pool.connect_options();
            let mut conn = match sqlx::ConnectOptions::connect(&*options).await {
                Ok(conn) => conn,
                Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("53300") => {
                    return self.ping().await;
                }
                Err(e) => return Err(map_err(e)),
            };
            let answered = conn.ping().await.map_err(map_err);
            let _ = conn.close().await;
            answered
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_are_unavailable_not_backend_errors() {
        assert!(matches!(
            map_err(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            map_err(sqlx::Error::Io(std::io::Error::from(
                std::io::ErrorKind::ConnectionRefused
            ))),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            map_err(sqlx::Error::RowNotFound),
            StoreError::Backend(_)
        ));
        assert!(unavailable_code("08006") && unavailable_code("57P01"));
        assert!(!unavailable_code("23505"));
    }
}
