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

use super::sql::{self, Columns as _};
use super::{
    BoxFuture, Client, ClientStore, DenylistSnapshot, DenylistStore, KeyStore, Logout, LogoutScope,
    Migrated, Prunable, PruneStore, RefreshTokenRecord, ReuseAllowance, RevokedKey, Rotation,
    SessionStore, Store, StoreError, StoreResult, StoredKey, StoredRefreshToken, TokenFamily, User,
    UserStore, ts,
};

mod revoked_keys;
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

/// `url` with its password (in the user info or a `password` query parameter) replaced by `***`, for logs and
/// error messages. A URL that does not parse is not shown at all: it could be a password pasted in the wrong place.
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "<a URL that does not parse; not shown>".to_owned();
    };
    if parsed.password().is_some() {
        // Cannot fail: a URL with a password has a host.
        let _ = parsed.set_password(Some("***"));
    }
    if parsed.query_pairs().any(|(k, _)| k == "password") {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "password" { "***".into() } else { v };
                (k.into_owned(), v.into_owned())
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// `text` with every password `url` carries replaced by `***` (as written and percent-decoded).
fn scrub(text: &str, url: &str) -> String {
    let Ok(parsed) = url::Url::parse(url) else {
        return "(details not shown: they could quote the URL)".to_owned();
    };
    let mut secrets: Vec<String> = parsed
        .query_pairs()
        .filter(|(k, _)| k == "password")
        .map(|(_, v)| v.into_owned())
        .collect();
    if let Some(raw) = parsed.password() {
        secrets.push(raw.to_owned());
        secrets.extend(
            url::form_urlencoded::parse(format!("p={raw}").as_bytes()).map(|(_, v)| v.into_owned()),
        );
    }
    let mut text = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        text = text.replace(secret.as_str(), "***");
    }
    text
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

    fn set_client_secret_hash<'a>(
        &'a self,
        client_id: &'a str,
        secret_hash: &'a [u8; 32],
    ) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(async move {
            let done = sqlx::query("UPDATE clients SET secret_hash = $1 WHERE client_id = $2")
                .bind(&secret_hash[..])
                .bind(client_id)
                .execute(&self.pool)
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
        Box::pin(async move {
            let done = sqlx::query("UPDATE users SET disabled = $1 WHERE username = $2")
                .bind(disabled)
                .bind(username)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn list_users(&self) -> BoxFuture<'_, StoreResult<Vec<User>>> {
        Box::pin(sql::users(&self.pool))
    }

    fn set_password_hash<'a>(
        &'a self,
        user_id: &'a str,
        password_hash: &'a str,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(async move {
            let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                .bind(password_hash)
                .bind(user_id)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn delete_user<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(async move {
            let done = sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(user_id)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            Ok(done.rows_affected() == 1)
        })
    }
}

/// Stores `token` in family `sid`, issued for the token whose digest is `parent` (`None`: the session's first).
async fn insert_refresh_token(
    tx: &mut Transaction<'static, Postgres>,
    token: &RefreshTokenRecord,
    parent: Option<&[u8; 32]>,
    sid: &str,
    expires_at: u64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (hash, sid, created_at, expires_at, parent_hash) \
         VALUES ($1, $2, $3, $4, $5)",
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

/// Denies each of `sids` until `until` (a later time already set stays).
async fn deny_sids(
    tx: &mut Transaction<'static, Postgres>,
    sids: &[String],
    until: u64,
) -> StoreResult<()> {
    if sids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO denied_sids (sid, expires_at) SELECT s, $2 FROM UNNEST($1::text[]) AS s \
         ON CONFLICT (sid) DO UPDATE SET expires_at = GREATEST(denied_sids.expires_at, EXCLUDED.expires_at)",
    )
    .bind(sids)
    .bind(ts(until))
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

async fn revoke_in(
    tx: &mut Transaction<'static, Postgres>,
    sid: &str,
    now: u64,
    deny_until: u64,
) -> StoreResult<()> {
    sqlx::query("UPDATE token_families SET revoked_at = $1 WHERE sid = $2 AND revoked_at IS NULL")
        .bind(ts(now))
        .bind(sid)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    deny_sids(tx, &[sid.to_owned()], deny_until).await
}

/// Access tokens of `subject` issued before `now` are refused from now on (a later time already set stays).
async fn set_not_before(
    tx: &mut Transaction<'static, Postgres>,
    subject: &str,
    now: u64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO user_not_before (user_id, not_before) VALUES ($1, $2) \
         ON CONFLICT (user_id) DO UPDATE \
         SET not_before = GREATEST(user_not_before.not_before, EXCLUDED.not_before)",
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
    tx: &mut Transaction<'static, Postgres>,
    user_id: &str,
    now: u64,
    deny_until: u64,
) -> StoreResult<Vec<String>> {
    let sids: Vec<String> = sqlx::query_scalar(
        "UPDATE token_families SET revoked_at = $1 \
         WHERE user_id = $2 AND revoked_at IS NULL RETURNING sid",
    )
    .bind(ts(now))
    .bind(user_id)
    .fetch_all(&mut **tx)
    .await
    .map_err(map_err)?;
    deny_sids(tx, &sids, deny_until).await?;
    set_not_before(tx, user_id, now).await?;
    Ok(sids)
}

/// Denies an access token id until `until` (a later time already set stays).
async fn deny_jti<'e>(db: impl sqlx::PgExecutor<'e>, jti: &str, until: u64) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO denied_jtis (jti, expires_at) VALUES ($1, $2) \
         ON CONFLICT (jti) DO UPDATE \
         SET expires_at = GREATEST(denied_jtis.expires_at, EXCLUDED.expires_at)",
    )
    .bind(jti)
    .bind(ts(until))
    .execute(db)
    .await
    .map_err(map_err)?;
    Ok(())
}

impl SessionStore for PostgresStore {
    fn create_session<'a>(
        &'a self,
        family: &'a TokenFamily,
        first: &'a RefreshTokenRecord,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            let mut tx = self.begin().await?;
            sqlx::query(
                "INSERT INTO token_families \
                 (sid, user_id, created_at, expires_at, revoked_at, client_id, scope) \
                 VALUES ($1, $2, $3, $4, NULL, $5, $6)",
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
            let mut tx = self.begin().await?;
            // Rows affected decides who wins: a concurrent presentation blocks on this row until the first
            // transaction ends, then re-checks `used_at IS NULL` against the committed row and updates nothing.
            let consumed = sqlx::query(
                "UPDATE refresh_tokens SET used_at = $1 \
                 WHERE hash = $2 AND used_at IS NULL AND expires_at > $1",
            )
            .bind(ts(now))
            .bind(&presented[..])
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
            // Both family updates below are decided on the family row: a concurrent one waits for its lock, then
            // re-evaluates its condition against the committed row. The token rows are always locked before the
            // family row, never after, so two rotations cannot wait on each other.
            let rotation: Option<fn(TokenFamily) -> Rotation> = if consumed {
                if family.expires_at <= now {
                    return Ok(Rotation::Expired);
                }
                let parent = row.opt_bytes("parent_hash")?;
                // The family moves on only from the token it rotated last: a sibling of a token already rotated
                // (both issued for the same parent within a reuse interval) is a superseded branch.
                let advanced = sqlx::query(
                    "UPDATE token_families SET rotated_hash = $1, rotated_at = $2, reissues = 0 \
                     WHERE sid = $3 AND rotated_hash IS NOT DISTINCT FROM $4",
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
                         WHERE sid = $1 AND rotated_hash = $2 AND rotated_at > $3 AND reissues < $4 \
                         AND revoked_at IS NULL AND expires_at > $5",
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
        Box::pin(sql::family_of_token(&self.pool, hash))
    }

    fn refresh_token_state<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFuture<'a, StoreResult<Option<(StoredRefreshToken, TokenFamily)>>> {
        Box::pin(sql::refresh_token_state(&self.pool, hash))
    }

    fn revoke_session<'a>(
        &'a self,
        sid: &'a str,
        now: u64,
        deny_until: u64,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            let mut tx = self.begin().await?;
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
            let mut tx = self.begin().await?;
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
            let mut tx = self.begin().await?;
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
        Box::pin(async move {
            sqlx::query("DELETE FROM signing_keys WHERE kid = $1")
                .bind(kid)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            Ok(())
        })
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
    fn urls_are_shown_without_their_password() {
        assert_eq!(
            redact_url("postgres://waxseal:s3cr%2Ft@db.internal:5432/auth?sslmode=require"),
            "postgres://waxseal:***@db.internal:5432/auth?sslmode=require"
        );
        let shown = redact_url("postgresql://u@h/db?password=hunter2&application_name=x");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("application_name=x"), "{shown}");
        assert_eq!(
            redact_url("postgres://u@h/db"),
            "postgres://u@h/db",
            "nothing to hide"
        );
        assert!(!redact_url("hunter2 postgres://").contains("hunter2"));
    }

    #[test]
    fn messages_lose_the_password_as_written_and_decoded() {
        let url = "postgres://u:p%40ss@h/db";
        assert_eq!(scrub("bad p%40ss and p@ss", url), "bad *** and ***");
    }

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
