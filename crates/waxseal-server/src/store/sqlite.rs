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

use super::sql::{self, Columns as _};
use super::{
    BoxFuture, Client, ClientStore, DenylistSnapshot, DenylistStore, KeyStore, Logout, LogoutScope,
    Migrated, Prunable, PruneStore, RefreshTokenRecord, ReuseAllowance, RevokedKey, Rotation,
    SessionStore, Store, StoreError, StoreResult, StoredKey, StoredRefreshToken, TokenFamily, User,
    UserStore, ts,
};

mod revoked_keys;
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

    fn set_client_secret_hash<'a>(
        &'a self,
        client_id: &'a str,
        secret_hash: &'a [u8; 32],
    ) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(async move {
            let done = sqlx::query("UPDATE clients SET secret_hash = ? WHERE client_id = ?")
                .bind(&secret_hash[..])
                .bind(client_id)
                .execute(&self.writer)
                .await
                .map_err(map_err)?;
            Ok(done.rows_affected() == 1)
        })
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
        Box::pin(async move {
            let done = sqlx::query("UPDATE users SET disabled = ? WHERE username = ?")
                .bind(disabled)
                .bind(username)
                .execute(&self.writer)
                .await
                .map_err(map_err)?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn list_users(&self) -> BoxFuture<'_, StoreResult<Vec<User>>> {
        Box::pin(sql::users(&self.reader))
    }

    fn set_password_hash<'a>(
        &'a self,
        user_id: &'a str,
        password_hash: &'a str,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(async move {
            let done = sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
                .bind(password_hash)
                .bind(user_id)
                .execute(&self.writer)
                .await
                .map_err(map_err)?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn delete_user<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(async move {
            let done = sqlx::query("DELETE FROM users WHERE id = ?")
                .bind(user_id)
                .execute(&self.writer)
                .await
                .map_err(map_err)?;
            Ok(done.rows_affected() == 1)
        })
    }
}

/// Stores `token` in family `sid`, issued for the token whose digest is `parent` (`None`: the session's first).
async fn insert_refresh_token(
    tx: &mut Transaction<'static, Sqlite>,
    token: &RefreshTokenRecord,
    parent: Option<&[u8; 32]>,
    sid: &str,
    expires_at: u64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (hash, sid, created_at, expires_at, parent_hash) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&token.hash[..])
    .bind(sid)
    .bind(ts(token.created_at))
    .bind(ts(expires_at))
    .bind(parent.map(|p| &p[..]))
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

async fn revoke_in(
    tx: &mut Transaction<'static, Sqlite>,
    sid: &str,
    now: u64,
    deny_until: u64,
) -> StoreResult<()> {
    sqlx::query("UPDATE token_families SET revoked_at = ? WHERE sid = ? AND revoked_at IS NULL")
        .bind(ts(now))
        .bind(sid)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    sqlx::query(
        "INSERT INTO denied_sids (sid, expires_at) VALUES (?, ?) \
         ON CONFLICT(sid) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)",
    )
    .bind(sid)
    .bind(ts(deny_until))
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

/// Access tokens of `subject` issued before `now` are refused from now on (a later time already set stays).
async fn set_not_before(
    tx: &mut Transaction<'static, Sqlite>,
    subject: &str,
    now: u64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO user_not_before (user_id, not_before) VALUES (?, ?) \
         ON CONFLICT(user_id) DO UPDATE SET not_before = max(not_before, excluded.not_before)",
    )
    .bind(subject)
    .bind(ts(now))
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

/// Revokes every session of `user_id` and sets their "not before" to `now`; returns the revoked sids.
async fn revoke_all_in(
    tx: &mut Transaction<'static, Sqlite>,
    user_id: &str,
    now: u64,
    deny_until: u64,
) -> StoreResult<Vec<String>> {
    let sids: Vec<String> = sqlx::query_scalar(
        "SELECT sid FROM token_families WHERE user_id = ? AND revoked_at IS NULL",
    )
    .bind(user_id)
    .fetch_all(&mut **tx)
    .await
    .map_err(map_err)?;
    for sid in &sids {
        revoke_in(tx, sid, now, deny_until).await?;
    }
    set_not_before(tx, user_id, now).await?;
    Ok(sids)
}

/// Denies an access token id until `until` (a later time already set stays).
async fn deny_jti<'e>(db: impl sqlx::SqliteExecutor<'e>, jti: &str, until: u64) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO denied_jtis (jti, expires_at) VALUES (?, ?) \
         ON CONFLICT(jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)",
    )
    .bind(jti)
    .bind(ts(until))
    .execute(db)
    .await
    .map_err(map_err)?;
    Ok(())
}

impl SessionStore for SqliteStore {
    fn create_session<'a>(
        &'a self,
        family: &'a TokenFamily,
        first: &'a RefreshTokenRecord,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            let mut tx = self.immediate().await?;
            sqlx::query(
                "INSERT INTO token_families \
                 (sid, user_id, created_at, expires_at, revoked_at, client_id, scope) \
                 VALUES (?, ?, ?, ?, NULL, ?, ?)",
            )
            .bind(&family.sid)
            .bind(&family.user_id)
            .bind(ts(family.created_at))
            .bind(ts(family.expires_at))
            .bind(&family.client_id)
            .bind(&family.scope)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            let expires = first.expires_at.min(family.expires_at);
            insert_refresh_token(&mut tx, first, None, &family.sid, expires).await?;
            tx.commit().await.map_err(map_err)
        })
    }

    fn rotate_refresh_token_with_reuse<'a>(
        &'a self,
        presented: &'a [u8; 32],
        successor: &'a RefreshTokenRecord,
        now: u64,
        deny_until: u64,
        reuse: ReuseAllowance,
    ) -> BoxFuture<'a, StoreResult<Rotation>> {
        Box::pin(async move {
            let mut tx = self.immediate().await?;
            // Rows affected decides who wins: of any number of concurrent presentations, one sees 1.
            let consumed = sqlx::query(
                "UPDATE refresh_tokens SET used_at = ? \
                 WHERE hash = ? AND used_at IS NULL AND expires_at > ?",
            )
            .bind(ts(now))
            .bind(&presented[..])
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected()
                == 1;
            let Some(row) = sqlx::query(sql::TOKEN_AND_FAMILY)
                .bind(&presented[..])
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?
            else {
                return Ok(Rotation::Unknown);
            };
            let family = sql::family(&row)?;
            if family.revoked_at.is_some() {
                return Ok(Rotation::Revoked);
            }
            let used_at = row.opt_int("used_at")?;
            let rotation: Option<fn(TokenFamily) -> Rotation> = if consumed {
                if family.expires_at <= now {
                    return Ok(Rotation::Expired);
                }
                let parent = row.opt_bytes("parent_hash")?;
                // The family moves on only from the token it rotated last: a sibling of a token already rotated
                // (both issued for the same parent within a reuse interval) is a superseded branch.
                let advanced = sqlx::query(
                    "UPDATE token_families SET rotated_hash = ?, rotated_at = ?, reissues = 0 \
                     WHERE sid = ? AND rotated_hash IS ?",
                )
                .bind(&presented[..])
                .bind(ts(now))
                .bind(&family.sid)
                .bind(parent)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected()
                    == 1;
                advanced.then_some(Rotation::Rotated)
            } else if used_at.is_some() {
                let reissued = reuse.allows_any()
                    && sqlx::query(
                        "UPDATE token_families SET reissues = reissues + 1 \
                         WHERE sid = ? AND rotated_hash = ? AND rotated_at > ? AND reissues < ? \
                         AND revoked_at IS NULL AND expires_at > ?",
                    )
                    .bind(&family.sid)
                    .bind(&presented[..])
                    .bind(ts(now).saturating_sub(ts(reuse.interval)))
                    .bind(i64::from(reuse.max_reissues))
                    .bind(ts(now))
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?
                    .rows_affected()
                        == 1;
                reissued.then_some(Rotation::Reissued)
            } else {
                return Ok(Rotation::Expired);
            };
            let Some(rotation) = rotation else {
                revoke_in(&mut tx, &family.sid, now, deny_until).await?;
                tx.commit().await.map_err(map_err)?;
                return Ok(Rotation::Reused(TokenFamily {
                    revoked_at: Some(now),
                    ..family
                }));
            };
            let expires = successor.expires_at.min(family.expires_at);
            insert_refresh_token(&mut tx, successor, Some(presented), &family.sid, expires).await?;
            tx.commit().await.map_err(map_err)?;
            Ok(rotation(family))
        })
    }

    fn family_of_token<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFuture<'a, StoreResult<Option<TokenFamily>>> {
        Box::pin(sql::family_of_token(&self.reader, hash))
    }

    fn refresh_token_state<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFuture<'a, StoreResult<Option<(StoredRefreshToken, TokenFamily)>>> {
        Box::pin(sql::refresh_token_state(&self.reader, hash))
    }

    fn revoke_session<'a>(
        &'a self,
        sid: &'a str,
        now: u64,
        deny_until: u64,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            let mut tx = self.immediate().await?;
            revoke_in(&mut tx, sid, now, deny_until).await?;
            tx.commit().await.map_err(map_err)
        })
    }

    fn revoke_all_sessions<'a>(
        &'a self,
        user_id: &'a str,
        now: u64,
        deny_until: u64,
    ) -> BoxFuture<'a, StoreResult<Vec<String>>> {
        Box::pin(async move {
            let mut tx = self.immediate().await?;
            let sids = revoke_all_in(&mut tx, user_id, now, deny_until).await?;
            tx.commit().await.map_err(map_err)?;
            Ok(sids)
        })
    }

    fn logout<'a>(&'a self, logout: &'a Logout<'a>) -> BoxFuture<'a, StoreResult<Vec<String>>> {
        Box::pin(async move {
            let Logout {
                user_id,
                now,
                deny_until,
                ..
            } = *logout;
            let mut tx = self.immediate().await?;
            deny_jti(&mut *tx, logout.jti, logout.jti_until).await?;
            let sids = match logout.scope {
                LogoutScope::Everywhere => revoke_all_in(&mut tx, user_id, now, deny_until).await?,
                LogoutScope::Sessions { sid, refresh } => {
                    let sids = sql::sessions_to_end(&mut *tx, user_id, sid, refresh).await?;
                    for sid in &sids {
                        revoke_in(&mut tx, sid, now, deny_until).await?;
                    }
                    sids
                }
            };
            tx.commit().await.map_err(map_err)?;
            Ok(sids)
        })
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
        Box::pin(async move {
            sqlx::query("DELETE FROM signing_keys WHERE kid = ?")
                .bind(kid)
                .execute(&self.writer)
                .await
                .map_err(map_err)?;
            Ok(())
        })
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
