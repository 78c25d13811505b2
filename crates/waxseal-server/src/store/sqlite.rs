//! The embedded backend: one SQLite file in the data directory, WAL mode, migrations compiled into the binary.
//!
//! Writers that read-then-write (refresh-token rotation) start with `BEGIN IMMEDIATE`, taking SQLite's single write
//! lock up front; a deferred transaction would read a snapshot first and could fail to upgrade under contention.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use super::{
    BoxFuture, Client, ClientStore, DenylistSnapshot, DenylistStore, GrantType, KeyStore, Migrated,
    RefreshTokenRecord, ReuseAllowance, RevokedKey, Rotation, SessionStore, Store, StoreError,
    StoreResult, StoredKey, StoredRefreshToken, TokenFamily, User, UserStore, opt_secs,
    parent_digest, secs, ts,
};

mod prune;
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

fn user_from_row(row: &SqliteRow) -> StoreResult<User> {
    let scopes: String = row.try_get("scopes").map_err(backend)?;
    Ok(User {
        id: row.try_get("id").map_err(backend)?,
        username: row.try_get("username").map_err(backend)?,
        password_hash: row.try_get("password_hash").map_err(backend)?,
        disabled: row.try_get("disabled").map_err(backend)?,
        scopes: scopes.split_whitespace().map(str::to_owned).collect(),
        created_at: secs(row.try_get("created_at").map_err(backend)?),
    })
}

fn family_from_row(row: &SqliteRow) -> StoreResult<TokenFamily> {
    Ok(TokenFamily {
        sid: row.try_get("sid").map_err(backend)?,
        user_id: row.try_get("user_id").map_err(backend)?,
        created_at: secs(row.try_get("created_at").map_err(backend)?),
        expires_at: secs(row.try_get("expires_at").map_err(backend)?),
        revoked_at: opt_secs(row.try_get("revoked_at").map_err(backend)?),
        client_id: row.try_get("client_id").map_err(backend)?,
        scope: row.try_get("scope").map_err(backend)?,
    })
}

fn client_from_row(row: &SqliteRow) -> StoreResult<Client> {
    let hash: Vec<u8> = row.try_get("secret_hash").map_err(backend)?;
    let grants: String = row.try_get("grant_types").map_err(backend)?;
    let scopes: String = row.try_get("scopes").map_err(backend)?;
    Ok(Client {
        client_id: row.try_get("client_id").map_err(backend)?,
        secret_hash: hash
            .try_into()
            .map_err(|_| backend("a client secret hash is not 32 bytes"))?,
        name: row.try_get("name").map_err(backend)?,
        grant_types: grants
            .split_whitespace()
            .filter_map(GrantType::parse)
            .collect(),
        scopes: scopes.split_whitespace().map(str::to_owned).collect(),
        created_at: secs(row.try_get("created_at").map_err(backend)?),
        may_introspect: row.try_get("may_introspect").map_err(backend)?,
    })
}

/// Inserts a user row: [`UserStore::create_user`], and each user of an import.
pub(super) async fn insert_user<'e>(
    db: impl sqlx::SqliteExecutor<'e>,
    user: &User,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO users (id, username, password_hash, disabled, scopes, created_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&user.id)
    .bind(&user.username)
    .bind(&user.password_hash)
    .bind(user.disabled)
    .bind(user.scopes.join(" "))
    .bind(ts(user.created_at))
    .execute(db)
    .await
    .map_err(map_err)?;
    Ok(())
}

/// Inserts a client row: [`ClientStore::create_client`], and each client of an import.
pub(super) async fn insert_client<'e>(
    db: impl sqlx::SqliteExecutor<'e>,
    client: &Client,
) -> StoreResult<()> {
    let grants: Vec<&str> = client.grant_types.iter().map(|g| g.as_str()).collect();
    sqlx::query(
        "INSERT INTO clients (client_id, secret_hash, name, grant_types, scopes, created_at, \
         may_introspect) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&client.client_id)
    .bind(&client.secret_hash[..])
    .bind(&client.name)
    .bind(grants.join(" "))
    .bind(client.scopes.join(" "))
    .bind(ts(client.created_at))
    .bind(client.may_introspect)
    .execute(db)
    .await
    .map_err(map_err)?;
    Ok(())
}

impl ClientStore for SqliteStore {
    fn create_client<'a>(&'a self, client: &'a Client) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move { insert_client(&self.writer, client).await })
    }

    fn client_by_id<'a>(
        &'a self,
        client_id: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<Client>>> {
        Box::pin(async move {
            let row = sqlx::query(
                "SELECT client_id, secret_hash, name, grant_types, scopes, created_at, may_introspect \
                 FROM clients WHERE client_id = ?",
            )
            .bind(client_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(map_err)?;
            row.as_ref().map(client_from_row).transpose()
        })
    }

    fn list_clients(&self) -> BoxFuture<'_, StoreResult<Vec<Client>>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT client_id, secret_hash, name, grant_types, scopes, created_at, may_introspect \
                 FROM clients ORDER BY name, client_id",
            )
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?;
            rows.iter().map(client_from_row).collect()
        })
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
        Box::pin(async move { insert_user(&self.writer, user).await })
    }

    fn user_by_name<'a>(&'a self, username: &'a str) -> BoxFuture<'a, StoreResult<Option<User>>> {
        Box::pin(async move {
            let row = sqlx::query(
                "SELECT id, username, password_hash, disabled, scopes, created_at \
                 FROM users WHERE username = ?",
            )
            .bind(username)
            .fetch_optional(&self.reader)
            .await
            .map_err(map_err)?;
            row.as_ref().map(user_from_row).transpose()
        })
    }

    fn user_by_id<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<Option<User>>> {
        Box::pin(async move {
            let row = sqlx::query(
                "SELECT id, username, password_hash, disabled, scopes, created_at \
                 FROM users WHERE id = ?",
            )
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(map_err)?;
            row.as_ref().map(user_from_row).transpose()
        })
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
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT id, username, password_hash, disabled, scopes, created_at FROM users \
                 ORDER BY username",
            )
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?;
            rows.iter().map(user_from_row).collect()
        })
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
            let Some(row) = sqlx::query(
                "SELECT t.used_at AS used_at, t.parent_hash AS parent_hash, f.sid AS sid, \
                 f.user_id AS user_id, f.created_at AS created_at, f.expires_at AS expires_at, \
                 f.revoked_at AS revoked_at, f.client_id AS client_id, f.scope AS scope \
                 FROM refresh_tokens t JOIN token_families f ON f.sid = t.sid WHERE t.hash = ?",
            )
            .bind(&presented[..])
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?
            else {
                return Ok(Rotation::Unknown);
            };
            let family = family_from_row(&row)?;
            if family.revoked_at.is_some() {
                return Ok(Rotation::Revoked);
            }
            let used_at: Option<i64> = row.try_get("used_at").map_err(backend)?;
            let rotation: Option<fn(TokenFamily) -> Rotation> = if consumed {
                if family.expires_at <= now {
                    return Ok(Rotation::Expired);
                }
                let parent: Option<Vec<u8>> = row.try_get("parent_hash").map_err(backend)?;
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
        Box::pin(async move {
            let row = sqlx::query(
                "SELECT f.sid AS sid, f.user_id AS user_id, f.created_at AS created_at, \
                 f.expires_at AS expires_at, f.revoked_at AS revoked_at, \
                 f.client_id AS client_id, f.scope AS scope \
                 FROM refresh_tokens t JOIN token_families f ON f.sid = t.sid WHERE t.hash = ?",
            )
            .bind(&hash[..])
            .fetch_optional(&self.reader)
            .await
            .map_err(map_err)?;
            row.as_ref().map(family_from_row).transpose()
        })
    }

    fn refresh_token_state<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFuture<'a, StoreResult<Option<(StoredRefreshToken, TokenFamily)>>> {
        Box::pin(async move {
            // Both sides by primary key: refresh_tokens.hash, then token_families.sid.
            let row = sqlx::query(
                "SELECT t.created_at AS token_created_at, t.expires_at AS token_expires_at, \
                 t.used_at AS used_at, t.parent_hash AS parent_hash, f.sid AS sid, f.user_id AS user_id, \
                 f.created_at AS created_at, f.expires_at AS expires_at, f.revoked_at AS revoked_at, \
                 f.client_id AS client_id, f.scope AS scope \
                 FROM refresh_tokens t JOIN token_families f ON f.sid = t.sid WHERE t.hash = ?",
            )
            .bind(&hash[..])
            .fetch_optional(&self.reader)
            .await
            .map_err(map_err)?;
            let Some(row) = row else {
                return Ok(None);
            };
            let family = family_from_row(&row)?;
            let token = StoredRefreshToken {
                record: RefreshTokenRecord {
                    hash: *hash,
                    sid: family.sid.clone(),
                    created_at: secs(row.try_get("token_created_at").map_err(backend)?),
                    expires_at: secs(row.try_get("token_expires_at").map_err(backend)?),
                },
                used_at: opt_secs(row.try_get("used_at").map_err(backend)?),
                parent: parent_digest(row.try_get("parent_hash").map_err(backend)?)?,
            };
            Ok(Some((token, family)))
        })
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
            let sids: Vec<String> = sqlx::query_scalar(
                "SELECT sid FROM token_families WHERE user_id = ? AND revoked_at IS NULL",
            )
            .bind(user_id)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
            for sid in &sids {
                revoke_in(&mut tx, sid, now, deny_until).await?;
            }
            set_not_before(&mut tx, user_id, now).await?;
            tx.commit().await.map_err(map_err)?;
            Ok(sids)
        })
    }
}

async fn insert_key_in(tx: &mut Transaction<'static, Sqlite>, key: &StoredKey) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, alg, private_key, created_at, activates_at) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&key.kid)
    .bind(&key.alg)
    .bind(&key.encrypted_private_key)
    .bind(ts(key.created_at))
    .bind(ts(key.activates_at))
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

impl KeyStore for SqliteStore {
    fn insert_key<'a>(&'a self, key: &'a StoredKey) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            let mut tx = self.immediate().await?;
            insert_key_in(&mut tx, key).await?;
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
            insert_key_in(&mut tx, key).await?;
            tx.commit().await.map_err(map_err)?;
            Ok(true)
        })
    }

    fn keys(&self) -> BoxFuture<'_, StoreResult<Vec<StoredKey>>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT kid, alg, private_key, created_at, activates_at FROM signing_keys k \
                 WHERE NOT EXISTS (SELECT 1 FROM revoked_keys r WHERE r.kid = k.kid) \
                 ORDER BY activates_at, created_at, kid",
            )
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?;
            rows.iter()
                .map(|row| {
                    Ok(StoredKey {
                        kid: row.try_get("kid").map_err(backend)?,
                        alg: row.try_get("alg").map_err(backend)?,
                        encrypted_private_key: row.try_get("private_key").map_err(backend)?,
                        created_at: secs(row.try_get("created_at").map_err(backend)?),
                        activates_at: secs(row.try_get("activates_at").map_err(backend)?),
                    })
                })
                .collect()
        })
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
        Box::pin(revoked_keys::all(&self.reader))
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
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO denied_jtis (jti, expires_at) VALUES (?, ?) \
                 ON CONFLICT(jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)",
            )
            .bind(jti)
            .bind(ts(until))
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
            Ok(())
        })
    }

    fn load_denylist(&self, now: u64) -> BoxFuture<'_, StoreResult<DenylistSnapshot>> {
        Box::pin(async move {
            let pairs = |rows: Vec<(String, i64)>| -> Vec<(String, u64)> {
                rows.into_iter().map(|(k, v)| (k, secs(v))).collect()
            };
            let jtis =
                sqlx::query_as("SELECT jti, expires_at FROM denied_jtis WHERE expires_at > ?")
                    .bind(ts(now))
                    .fetch_all(&self.reader)
                    .await
                    .map_err(map_err)?;
            let sids =
                sqlx::query_as("SELECT sid, expires_at FROM denied_sids WHERE expires_at > ?")
                    .bind(ts(now))
                    .fetch_all(&self.reader)
                    .await
                    .map_err(map_err)?;
            let not_before = sqlx::query_as("SELECT user_id, not_before FROM user_not_before")
                .fetch_all(&self.reader)
                .await
                .map_err(map_err)?;
            Ok(DenylistSnapshot {
                jtis: pairs(jtis),
                sids: pairs(sids),
                not_before: pairs(not_before),
            })
        })
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
