//! What the SQLite and PostgreSQL stores share: one copy of everything that is the same in both dialects.
//!
//! Shared here: reading a row into the store's types ([`Columns`] and the mappers, in `rows`), the statements whose
//! SQL is the same in both dialects — written once with `$N` placeholders, which SQLite accepts as PostgreSQL does
//! — with the reads, inserts and pruning batches that run them, and the export and import of
//! [`Contents`](super::Contents), in `transfer` (what each backend adds is only the transaction it runs them in).
//!
//! Not shared: every transaction, and every statement whose SQL differs. What makes a write safe is where the
//! dialects differ — SQLite's single write lock taken up front by `BEGIN IMMEDIATE`, PostgreSQL's row locks,
//! advisory locks and `RETURNING` at READ COMMITTED — and one body for both would hide which guarantee a
//! transaction relies on. Opening, migrating and classifying errors stay per backend too.
//!
//! The code is generic over [`Dialect`], which only the two backends implement, rather than over sqlx's `Any`
//! driver: each backend keeps its own typed driver, pool and statement cache.

use sqlx::query::Query;
use sqlx::{Database, Encode, Executor, IntoArguments, Type};

use super::{
    Client, DenylistSnapshot, Prunable, RevokedKey, StoreError, StoreResult, StoredKey,
    StoredRefreshToken, TokenFamily, User, WebClient, ts,
};

mod resources;
mod rows;
pub(crate) mod sign_in;
mod transfer;

pub(crate) use resources::{delete_resource, insert_resource, resource_by_uri, resources};
pub(crate) use rows::{Columns, Prefixed, client, family, user};
use rows::{key, pair, refresh_token, resource, revoked_key, rotation};
pub(crate) use transfer::{TABLES, export, in_use, replace_with};

/// A backend the shared code runs on: SQLite or PostgreSQL.
pub(crate) trait Dialect:
    Database<Arguments: IntoArguments<Self>, Row: Columns>
    + Binds<str>
    + Binds<String>
    + Binds<Option<String>>
    + Binds<[u8]>
    + Binds<Option<Vec<u8>>>
    + Binds<i64>
    + Binds<Option<i64>>
    + Binds<bool>
{
    /// The most reissues its `token_families.reissues` column holds; an import stores at most this many.
    const MAX_REISSUES: u32;

    /// What a driver error means to the store (each backend tells "unavailable" apart its own way).
    fn store_error(e: sqlx::Error) -> StoreError;

    /// How many rows a statement changed.
    fn rows_affected(done: &Self::QueryResult) -> u64;
}

/// A Rust type the backend binds (by reference) as a query parameter: how the shared code binds without naming
/// the backend.
pub(crate) trait Binds<T: ?Sized>: Database {
    fn bind_to<'q>(
        query: Query<'q, Self, Self::Arguments>,
        value: &T,
    ) -> Query<'q, Self, Self::Arguments>;
}

impl<DB: Database, T: ?Sized> Binds<T> for DB
where
    for<'a> &'a T: Encode<'a, DB> + Type<DB>,
{
    fn bind_to<'q>(query: Query<'q, DB, DB::Arguments>, value: &T) -> Query<'q, DB, DB::Arguments> {
        query.bind(value)
    }
}

/// `query.arg(&v)`: [`Query::bind`] for the shared code, whose backend is only known to bind `v`'s type.
pub(crate) trait Arg<DB: Database>: Sized {
    fn arg<T: ?Sized>(self, value: &T) -> Self
    where
        DB: Binds<T>;
}

impl<DB: Database> Arg<DB> for Query<'_, DB, DB::Arguments> {
    fn arg<T: ?Sized>(self, value: &T) -> Self
    where
        DB: Binds<T>,
    {
        DB::bind_to(self, value)
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// The family columns under the names [`family`] reads, from the refresh token with digest `$1` joined to its family.
macro_rules! family_of_token {
    () => {
        "f.sid AS sid, f.user_id AS user_id, f.created_at AS created_at, f.expires_at AS expires_at, \
         f.revoked_at AS revoked_at, f.client_id AS client_id, f.scope AS scope, f.dpop_jkt AS dpop_jkt, \
         f.resource AS resource \
         FROM refresh_tokens t JOIN token_families f ON f.sid = t.sid WHERE t.hash = $1"
    };
}

/// The refresh token with digest `$1` and its family, as a rotation reads them: what [`family`] reads, and the
/// token's `used_at` and `parent_hash`.
pub(crate) const TOKEN_AND_FAMILY: &str = concat!(
    "SELECT t.used_at AS used_at, t.parent_hash AS parent_hash, ",
    family_of_token!()
);

async fn optional<'e, DB: Dialect, T>(
    db: impl Executor<'e, Database = DB>,
    query: Query<'_, DB, DB::Arguments>,
    map: fn(&DB::Row) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let row = query.fetch_optional(db).await.map_err(DB::store_error)?;
    row.as_ref().map(map).transpose()
}

async fn every<'e, DB: Dialect, T>(
    db: impl Executor<'e, Database = DB>,
    query: Query<'_, DB, DB::Arguments>,
    map: fn(&DB::Row) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let rows = query.fetch_all(db).await.map_err(DB::store_error)?;
    rows.iter().map(map).collect()
}

/// [`super::UserStore::user_by_name`].
pub(crate) async fn user_by_name<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    username: &str,
) -> StoreResult<Option<User>> {
    let sql = "SELECT id, username, password_hash, disabled, scopes, created_at, email, display_name FROM users \
               WHERE username = $1";
    optional(db, sqlx::query(sql).arg(username), user).await
}

/// [`super::UserStore::user_by_id`].
pub(crate) async fn user_by_id<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    id: &str,
) -> StoreResult<Option<User>> {
    let sql = "SELECT id, username, password_hash, disabled, scopes, created_at, email, display_name FROM users \
               WHERE id = $1";
    optional(db, sqlx::query(sql).arg(id), user).await
}

/// [`super::UserStore::list_users`].
pub(crate) async fn users<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
) -> StoreResult<Vec<User>> {
    let sql = "SELECT id, username, password_hash, disabled, scopes, created_at, email, display_name FROM users \
               ORDER BY username";
    every(db, sqlx::query(sql), user).await
}

/// `SELECT` of every column [`client`] reads, `FROM clients`: what each read of clients starts with.
macro_rules! select_clients {
    () => {
        "SELECT client_id, secret_hash, name, grant_types, scopes, created_at, may_introspect, redirect_uris, \
         post_logout_redirect_uris, public_client, first_party, id_token_alg, pkce_exempt, encryption_jwk, \
         encryption_enc, encrypt_access_tokens, require_dpop, registered, last_used_at, web_origins FROM clients"
    };
}
pub(crate) use select_clients;

/// [`super::ClientStore::client_by_id`].
pub(crate) async fn client_by_id<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    client_id: &str,
) -> StoreResult<Option<Client>> {
    let sql = concat!(select_clients!(), " WHERE client_id = $1");
    optional(db, sqlx::query(sql).arg(client_id), client).await
}

/// [`super::ClientStore::list_clients`].
pub(crate) async fn clients<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
) -> StoreResult<Vec<Client>> {
    let sql = concat!(select_clients!(), " ORDER BY name, client_id");
    every(db, sqlx::query(sql), client).await
}

/// [`super::ClientStore::clients_with_web_origin`]: a word of `web_origins`, or the start of a public client's
/// redirect URI when it registered none. A scan of the clients table (origins are not indexed), run for CORS
/// preflights only, which browsers cache.
pub(crate) async fn clients_with_web_origin<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    origin: &str,
) -> StoreResult<Vec<WebClient>> {
    let sql = concat!(
        select_clients!(),
        " WHERE (' ' || web_origins || ' ') LIKE ('% ' || $1 || ' %') \
           OR (public_client = $2 AND web_origins = '' AND (' ' || redirect_uris) LIKE ('% ' || $1 || '/%')) \
         LIMIT 16"
    );
    let clients = every(db, sqlx::query(sql).arg(origin).arg(&true), client).await?;
    Ok(clients.into_iter().map(|c| c.web).collect())
}

/// [`super::SessionStore::family_of_token`].
pub(crate) async fn family_of_token<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    hash: &[u8; 32],
) -> StoreResult<Option<TokenFamily>> {
    let sql = concat!("SELECT ", family_of_token!());
    optional(db, sqlx::query(sql).arg(&hash[..]), family).await
}

/// [`super::SessionStore::refresh_token_state`]: both sides by primary key, `refresh_tokens.hash` then
/// `token_families.sid`.
pub(crate) async fn refresh_token_state<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    hash: &[u8; 32],
) -> StoreResult<Option<(StoredRefreshToken, TokenFamily)>> {
    let sql = concat!(
        "SELECT t.created_at AS token_created_at, t.expires_at AS token_expires_at, \
         t.used_at AS used_at, t.parent_hash AS parent_hash, ",
        family_of_token!()
    );
    let Some(row) = sqlx::query(sql)
        .arg(&hash[..])
        .fetch_optional(db)
        .await
        .map_err(DB::store_error)?
    else {
        return Ok(None);
    };
    let family = family(&row)?;
    let token = refresh_token(&row, *hash, family.sid.clone())?;
    Ok(Some((token, family)))
}

/// The sessions a [`super::LogoutScope::Sessions`] logout of `user_id` ends: the access token's `sid`, and the
/// family of the refresh token with digest `refresh` when it is another session of the same user.
pub(crate) async fn sessions_to_end<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    user_id: &str,
    sid: Option<&str>,
    refresh: Option<&[u8; 32]>,
) -> StoreResult<Vec<String>> {
    let mut sids: Vec<String> = sid.map(str::to_owned).into_iter().collect();
    if let Some(hash) = refresh
        && let Some(family) = family_of_token(db, hash).await?
        && family.user_id == user_id
        && Some(family.sid.as_str()) != sid
    {
        sids.push(family.sid);
    }
    Ok(sids)
}

/// [`super::KeyStore::keys`]: never a revoked one.
pub(crate) async fn live_keys<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
) -> StoreResult<Vec<StoredKey>> {
    let sql = "SELECT kid, alg, private_key, created_at, activates_at FROM signing_keys k \
               WHERE NOT EXISTS (SELECT 1 FROM revoked_keys r WHERE r.kid = k.kid) \
               ORDER BY activates_at, created_at, kid";
    every(db, sqlx::query(sql), key).await
}

/// [`super::KeyStore::revoked_keys`]: every record, in order of revocation.
pub(crate) async fn revoked_keys<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
) -> StoreResult<Vec<RevokedKey>> {
    let sql = "SELECT kid, alg, created_at, revoked_at FROM revoked_keys ORDER BY revoked_at, kid";
    every(db, sqlx::query(sql), revoked_key).await
}

/// [`super::DenylistStore::load_denylist`]: everything still in force at `now`.
pub(crate) async fn denylist_in_force<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB> + Copy,
    now: u64,
) -> StoreResult<DenylistSnapshot> {
    let jtis = "SELECT jti AS id, expires_at AS until FROM denied_jtis WHERE expires_at > $1";
    let sids = "SELECT sid AS id, expires_at AS until FROM denied_sids WHERE expires_at > $1";
    let not_before = "SELECT user_id AS id, not_before AS until FROM user_not_before";
    Ok(DenylistSnapshot {
        jtis: every(db, sqlx::query(jtis).arg(&ts(now)), pair).await?,
        sids: every(db, sqlx::query(sids).arg(&ts(now)), pair).await?,
        not_before: every(db, sqlx::query(not_before), pair).await?,
    })
}

/// Runs one statement that changes at most one row; whether it did.
async fn changed_one<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    query: Query<'_, DB, DB::Arguments>,
) -> StoreResult<bool> {
    let done = query.execute(db).await.map_err(DB::store_error)?;
    Ok(DB::rows_affected(&done) == 1)
}

/// [`super::UserStore::set_user_disabled`].
pub(crate) async fn set_user_disabled<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    username: &str,
    disabled: bool,
) -> StoreResult<bool> {
    let sql = "UPDATE users SET disabled = $1 WHERE username = $2";
    changed_one(db, sqlx::query(sql).arg(&disabled).arg(username)).await
}

/// [`super::UserStore::set_password_hash`].
pub(crate) async fn set_password_hash<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    user_id: &str,
    password_hash: &str,
) -> StoreResult<bool> {
    let sql = "UPDATE users SET password_hash = $1 WHERE id = $2";
    changed_one(db, sqlx::query(sql).arg(password_hash).arg(user_id)).await
}

/// [`super::UserStore::delete_user`].
pub(crate) async fn delete_user<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    user_id: &str,
) -> StoreResult<bool> {
    changed_one(
        db,
        sqlx::query("DELETE FROM users WHERE id = $1").arg(user_id),
    )
    .await
}

/// [`super::ClientStore::set_client_secret_hash`].
pub(crate) async fn set_client_secret_hash<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    client_id: &str,
    secret_hash: &[u8; 32],
) -> StoreResult<bool> {
    let sql = "UPDATE clients SET secret_hash = $1 WHERE client_id = $2";
    changed_one(db, sqlx::query(sql).arg(&secret_hash[..]).arg(client_id)).await
}

/// [`super::ClientStore::touch_client`].
pub(crate) async fn touch_client<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    client_id: &str,
    now: u64,
) -> StoreResult<()> {
    let sql = "UPDATE clients SET last_used_at = $1 WHERE client_id = $2 AND registered";
    sqlx::query(sql)
        .arg(&ts(now))
        .arg(client_id)
        .execute(db)
        .await
        .map_err(DB::store_error)?;
    Ok(())
}

/// [`super::ClientStore::unused_registered_clients`].
pub(crate) async fn unused_registered_clients<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    cutoff: u64,
    limit: u32,
) -> StoreResult<Vec<String>> {
    let sql = "SELECT client_id FROM clients WHERE registered AND COALESCE(last_used_at, created_at) <= $1 \
               ORDER BY client_id LIMIT $2";
    every(
        db,
        sqlx::query(sql).arg(&ts(cutoff)).arg(&i64::from(limit)),
        |row| row.text("client_id"),
    )
    .await
}

/// [`super::KeyStore::delete_key`].
pub(crate) async fn delete_key<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    kid: &str,
) -> StoreResult<()> {
    changed_one(
        db,
        sqlx::query("DELETE FROM signing_keys WHERE kid = $1").arg(kid),
    )
    .await?;
    Ok(())
}

/// Inserts a user row: [`super::UserStore::create_user`], and each user of an import.
pub(crate) async fn insert_user<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    user: &User,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO users (id, username, password_hash, disabled, scopes, created_at, email, \
         display_name) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .arg(&user.id)
    .arg(&user.username)
    .arg(&user.password_hash)
    .arg(&user.disabled)
    .arg(&user.scopes.join(" "))
    .arg(&ts(user.created_at))
    .arg(&user.profile.email)
    .arg(&user.profile.name)
    .execute(db)
    .await
    .map_err(DB::store_error)?;
    Ok(())
}

/// Inserts a client row: [`super::ClientStore::create_client`], and each client of an import.
pub(crate) async fn insert_client<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    client: &Client,
) -> StoreResult<()> {
    let grants: Vec<&str> = client.grant_types.iter().map(|g| g.as_str()).collect();
    let encryption = client.web.id_token_encryption.as_ref();
    sqlx::query(
        "INSERT INTO clients (client_id, secret_hash, name, grant_types, scopes, created_at, \
         may_introspect, redirect_uris, post_logout_redirect_uris, public_client, first_party, id_token_alg, \
         pkce_exempt, encryption_jwk, encryption_enc, encrypt_access_tokens, require_dpop, registered, \
         last_used_at, web_origins) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
    )
    .arg(&client.client_id)
    .arg(&client.secret_hash[..])
    .arg(&client.name)
    .arg(&grants.join(" "))
    .arg(&client.scopes.join(" "))
    .arg(&ts(client.created_at))
    .arg(&client.may_introspect)
    .arg(&client.web.redirect_uris.join(" "))
    .arg(&client.web.post_logout_redirect_uris.join(" "))
    .arg(&client.web.public)
    .arg(&client.web.first_party)
    .arg(&client.web.id_token_alg.map(|alg| alg.to_string()))
    .arg(&client.web.pkce_exempt)
    .arg(&encryption.map(|e| e.jwk.clone()))
    .arg(&encryption.map(|e| e.enc.name().to_owned()))
    .arg(&client.encrypt_access_tokens)
    .arg(&client.require_dpop)
    .arg(&client.web.registered)
    .arg(&client.web.last_used_at.map(ts))
    .arg(&client.web.web_origins.join(" "))
    .execute(db)
    .await
    .map_err(DB::store_error)?;
    Ok(())
}

/// Inserts a signing key row: [`super::KeyStore::insert_key`] and its conditional forms, and each key of an import.
pub(crate) async fn insert_key<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    key: &StoredKey,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, alg, private_key, created_at, activates_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .arg(&key.kid)
    .arg(&key.alg)
    .arg(&key.encrypted_private_key[..])
    .arg(&ts(key.created_at))
    .arg(&ts(key.activates_at))
    .execute(db)
    .await
    .map_err(DB::store_error)?;
    Ok(())
}

/// Records a revoked key; a record already there (the same kid revoked in an imported dump) is kept as it is.
pub(crate) async fn record_revoked_key<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    revoked: &RevokedKey,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO revoked_keys (kid, alg, created_at, revoked_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (kid) DO NOTHING",
    )
    .arg(&revoked.kid)
    .arg(&revoked.alg)
    .arg(&ts(revoked.created_at))
    .arg(&ts(revoked.revoked_at))
    .execute(db)
    .await
    .map_err(DB::store_error)?;
    Ok(())
}

/// [`super::PruneStore::prune_batch`]: one `DELETE … WHERE key IN (SELECT … LIMIT n)` statement, its own
/// transaction, found through the indexes of the migrations (SQLite's `0004_prune_indexes.sql`, PostgreSQL's
/// initial one).
pub(crate) async fn prune_batch<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    what: Prunable,
    cutoff: u64,
    limit: u32,
) -> StoreResult<u64> {
    let done = sqlx::query(prune_statement(what))
        .arg(&ts(cutoff))
        .arg(&i64::from(limit))
        .execute(db)
        .await
        .map_err(DB::store_error)?;
    Ok(DB::rows_affected(&done))
}

/// The statement that deletes one batch: `$1` is the cutoff, `$2` the limit.
fn prune_statement(what: Prunable) -> &'static str {
    match what {
        Prunable::UnusedRefreshTokens => {
            "DELETE FROM refresh_tokens WHERE hash IN (SELECT hash FROM refresh_tokens \
             WHERE used_at IS NULL AND expires_at <= $1 LIMIT $2)"
        }
        // Both walk the ended families in the order of their expiry index, the tokens step emptying a prefix of them
        // and the families step deleting the empty ones among the first `limit`: run alternately, neither rescans
        // what the other has finished, so a backlog costs time linear in its size.
        Prunable::TokensOfEndedFamilies => {
            "DELETE FROM refresh_tokens WHERE hash IN (SELECT t.hash FROM token_families f \
             JOIN refresh_tokens t ON t.sid = f.sid WHERE f.expires_at <= $1 \
             ORDER BY f.expires_at LIMIT $2)"
        }
        Prunable::EndedFamilies => {
            "DELETE FROM token_families WHERE sid IN (SELECT f.sid FROM \
             (SELECT sid FROM token_families WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2) f \
             WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.sid = f.sid))"
        }
        Prunable::DeniedJtis => {
            "DELETE FROM denied_jtis WHERE jti IN (SELECT jti FROM denied_jtis \
             WHERE expires_at <= $1 LIMIT $2)"
        }
        Prunable::DeniedSids => {
            "DELETE FROM denied_sids WHERE sid IN (SELECT sid FROM denied_sids \
             WHERE expires_at <= $1 LIMIT $2)"
        }
        Prunable::UserNotBefore => {
            "DELETE FROM user_not_before WHERE user_id IN (SELECT user_id FROM user_not_before \
             WHERE not_before <= $1 LIMIT $2)"
        }
        Prunable::Codes => {
            "DELETE FROM used_codes WHERE id IN (SELECT id FROM used_codes \
             WHERE expires_at <= $1 LIMIT $2)"
        }
        Prunable::SsoSessions => {
            "DELETE FROM sso_sessions WHERE id IN (SELECT id FROM sso_sessions \
             WHERE expires_at <= $1 OR ended_at <= $1 LIMIT $2)"
        }
    }
}
