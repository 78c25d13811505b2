//! The embedded backend: one SQLite file in the data directory, WAL mode, migrations compiled into the binary.
//!
//! Writers that read-then-write (refresh-token rotation) start with `BEGIN IMMEDIATE`, taking SQLite's single write
//! lock up front; a deferred transaction would read a snapshot first and could fail to upgrade under contention.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

use super::sql;
use super::{
    BoxFuture, Client, ClientStore, DenylistSnapshot, DenylistStore, KeyStore, Migrated, Prunable,
    PruneStore, Resource, RevokedKey, Store, StoreError, StoreResult, StoredKey, User, UserStore,
    WebClient,
};
use sessions::{deny_jti, revoke_in, set_not_before};

mod revoked_keys;
mod sessions;
mod sign_in;
mod transfer;

/// Read-only connections: enough for every core to read while others wait on I/O.
const READERS: u32 = 8;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The SQLite store. Cheap to clone (two connection pools).
///
/// SQLite has one write lock per database. Writers sharing a pool of connections would queue on that lock inside
/// SQLite, each retrying under `busy_timeout` with sleeps; one writer connection makes them queue in the pool instead,
/// woken in order the moment the previous write commits — several times the refresh throughput under contention.
/// Reads go through read-only connections, which WAL lets run beside the writer.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        _ => backend(e),
    }
}

impl sql::Dialect for Sqlite {
    const MAX_REISSUES: u32 = u32::MAX;

    fn store_error(e: sqlx::Error) -> StoreError {
        map_err(e)
    }

    fn rows_affected(done: &SqliteQueryResult) -> u64 {
        done.rows_affected()
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the database file at `path` and applies the embedded migrations.
    pub async fn open(path: &Path) -> StoreResult<SqliteStore> {
        Ok(Self::open_migrated(path).await?.0)
    }

    /// [`SqliteStore::open`], saying which migrations it applied.
    pub async fn open_migrated(path: &Path) -> StoreResult<(SqliteStore, Migrated)> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        // Other processes (admin commands, a second instance) may still write at the same time: `busy_timeout`
        // covers those; this process's own writes never wait on each other inside SQLite.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone().create_if_missing(true))
            .await
            .map_err(backend)?;
        let before: Vec<i64> = {
            use sqlx::migrate::Migrate as _;
            let mut conn = writer.acquire().await.map_err(map_err)?;
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
        MIGRATOR.run(&writer).await.map_err(backend)?;
        let migrated = Migrated {
            applied: MIGRATOR
                .iter()
                .filter(|m| !before.contains(&m.version))
                .map(|m| (m.version, m.description.to_string()))
                .collect(),
            already: before.len(),
        };
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(options.read_only(true))
            .await
            .map_err(backend)?;
        Ok((SqliteStore { writer, reader }, migrated))
    }

    async fn immediate(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)
    }
}

impl ClientStore for SqliteStore {
    fn create_resource<'a>(&'a self, resource: &'a Resource) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(sql::insert_resource(&self.writer, resource))
    }

    fn resource_by_uri<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, StoreResult<Option<Resource>>> {
        Box::pin(sql::resource_by_uri(&self.reader, uri))
    }

    fn list_resources(&self) -> BoxFuture<'_, StoreResult<Vec<Resource>>> {
        Box::pin(sql::resources(&self.reader))
    }

    fn delete_resource<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(sql::delete_resource(&self.writer, uri))
    }

    fn create_client<'a>(&'a self, client: &'a Client) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(sql::insert_client(&self.writer, client))
    }

    fn client_by_id<'a>(
        &'a self,
        client_id: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<Client>>> {
        Box::pin(sql::client_by_id(&self.reader, client_id))
    }

    fn list_clients(&self) -> BoxFuture<'_, StoreResult<Vec<Client>>> {
        Box::pin(sql::clients(&self.reader))
    }

    fn clients_with_web_origin<'a>(
        &'a self,
        origin: &'a str,
    ) -> BoxFuture<'a, StoreResult<Vec<WebClient>>> {
        Box::pin(sql::clients_with_web_origin(&self.reader, origin))
    }

    fn touch_client<'a>(&'a self, client_id: &'a str, now: u64) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(sql::touch_client(&self.writer, client_id, now))
    }

    fn unused_registered_clients(
        &self,
        cutoff: u64,
        limit: u32,
    ) -> BoxFuture<'_, StoreResult<Vec<String>>> {
        Box::pin(sql::unused_registered_clients(&self.reader, cutoff, limit))
    }

    fn set_client_secret_hash<'a>(
        &'a self,
        client_id: &'a str,
        secret_hash: &'a [u8; 32],
    ) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(sql::set_client_secret_hash(
            &self.writer,
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
            let mut tx = self.immediate().await?;
            let deleted = sqlx::query("DELETE FROM clients WHERE client_id = ?")
                .bind(client_id)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected();
            if deleted == 0 {
                return Ok(None);
            }
            let sids: Vec<String> = sqlx::query_scalar(
                "SELECT sid FROM token_families WHERE client_id = ? AND revoked_at IS NULL",
            )
            .bind(client_id)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
            for sid in &sids {
                revoke_in(&mut tx, sid, now, deny_until).await?;
            }
            // What its users consented to goes with it: a client registered later under the same id is asked
            // again. (Its unused codes name this registration, and a later one refuses them.)
            sqlx::query("DELETE FROM consents WHERE client_id = ?")
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

impl UserStore for SqliteStore {
    fn create_user<'a>(&'a self, user: &'a User) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(sql::insert_user(&self.writer, user))
    }

    fn user_by_name<'a>(&'a self, username: &'a str) -> BoxFuture<'a, StoreResult<Option<User>>> {
        Box::pin(sql::user_by_name(&self.reader, username))
    }

    fn user_by_id<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<Option<User>>> {
        Box::pin(sql::user_by_id(&self.reader, id))
    }

    fn set_user_disabled<'a>(
        &'a self,
        username: &'a str,
        disabled: bool,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(sql::set_user_disabled(&self.writer, username, disabled))
    }

    fn list_users(&self) -> BoxFuture<'_, StoreResult<Vec<User>>> {
        Box::pin(sql::users(&self.reader))
    }

    fn set_password_hash<'a>(
        &'a self,
        user_id: &'a str,
        password_hash: &'a str,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(sql::set_password_hash(&self.writer, user_id, password_hash))
    }

    fn delete_user<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(sql::delete_user(&self.writer, user_id))
    }
}

impl KeyStore for SqliteStore {
    fn insert_key<'a>(&'a self, key: &'a StoredKey) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            let mut tx = self.immediate().await?;
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
            // The write lock, taken up front, serialises this with every other writer of the file.
            let mut tx = self.immediate().await?;
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
        Box::pin(sql::live_keys(&self.reader))
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
        Box::pin(sql::revoked_keys(&self.reader))
    }

    fn delete_key<'a>(&'a self, kid: &'a str) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(sql::delete_key(&self.writer, kid))
    }
}

impl DenylistStore for SqliteStore {
    fn deny_jti<'a>(&'a self, jti: &'a str, until: u64) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(deny_jti(&self.writer, jti, until))
    }

    fn load_denylist(&self, now: u64) -> BoxFuture<'_, StoreResult<DenylistSnapshot>> {
        Box::pin(sql::denylist_in_force(&self.reader, now))
    }
}

impl PruneStore for SqliteStore {
    fn prune_batch(
        &self,
        what: Prunable,
        cutoff: u64,
        limit: u32,
    ) -> BoxFuture<'_, StoreResult<u64>> {
        Box::pin(sql::prune_batch(&self.writer, what, cutoff, limit))
    }
}

impl Store for SqliteStore {
    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.reader.close().await;
            self.writer.close().await;
        })
    }

    fn ping(&self) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(async move {
            // Readiness means both: a request may need either pool.
            for pool in [&self.writer, &self.reader] {
                sqlx::query("SELECT 1")
                    .execute(pool)
                    .await
                    .map_err(map_err)?;
            }
            Ok(())
        })
    }
}
