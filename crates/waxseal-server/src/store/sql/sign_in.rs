//! The statements of OpenID Connect sign-in that read and write the same way in both dialects: SSO sessions,
//! used authorization codes, consent and profiles. The transactions that combine them (using a code and starting
//! its session, ending an SSO session with the token families it started) are the backends' own, in their
//! `sign_in` modules.

use sqlx::Executor;

use super::{Arg as _, Columns, Dialect, Prefixed, every, optional, user};
use crate::store::{
    AppSession, Profile, SsoSession, StoreResult, TokenFamily, UsedCode, User, secs, ts,
};

macro_rules! sso_columns {
    () => {
        "SELECT id, hash, user_id, auth_time, created_at, expires_at, ended_at, address, user_agent \
         FROM sso_sessions"
    };
}

/// The live token families started from SSO session `$1`: what ending that session revokes.
pub(crate) const FAMILIES_OF_SSO: &str =
    "SELECT sid FROM token_families WHERE sso_id = $1 AND revoked_at IS NULL";

/// Marks SSO session `$2` ended at `$1`, if it is not already.
pub(crate) const END_SSO: &str =
    "UPDATE sso_sessions SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL";

/// Records that the code with id `$1` (starting session `$2`, expiring at `$3`) was presented; nothing when it
/// was before (0 rows: the second presentation). Two presentations at once insert the same key: the second waits
/// on the first's row (its commit, on PostgreSQL; SQLite's write lock), then finds it.
const USE_CODE: &str = "INSERT INTO used_codes (id, sid, expires_at) VALUES ($1, $2, $3) \
     ON CONFLICT (id) DO NOTHING";

/// Inserts a token family started by a code exchange, unless its `sid` was denied, its user is disabled or gone,
/// or the SSO session `$7` it comes from ended or expired (at `$3`, the family's creation): then nothing is
/// inserted. The code was issued while all was well; this is the last moment to find out otherwise. A second
/// presentation of the code that denied the sid before this runs is seen here; one after it revokes the row.
const INSERT_APP_FAMILY: &str = "INSERT INTO token_families \
     (sid, user_id, created_at, expires_at, revoked_at, client_id, scope, sso_id, dpop_jkt, resource) \
     SELECT $1, $2, $3, $4, NULL, $5, $6, $7, $8, $9 \
     WHERE NOT EXISTS (SELECT 1 FROM denied_sids WHERE sid = $1) \
     AND EXISTS (SELECT 1 FROM users WHERE id = $2 AND NOT disabled) \
     AND EXISTS (SELECT 1 FROM sso_sessions WHERE id = $7 AND user_id = $2 AND ended_at IS NULL \
                 AND expires_at > $3)";

pub(crate) fn sso_session(row: &impl Columns) -> StoreResult<SsoSession> {
    Ok(SsoSession {
        id: row.text("id")?,
        hash: row.digest("hash", "an SSO session hash")?,
        user_id: row.text("user_id")?,
        auth_time: row.time("auth_time")?,
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
        ended_at: row.opt_time("ended_at")?,
        address: row.opt_text("address")?,
        user_agent: row.opt_text("user_agent")?,
    })
}

fn app_session(row: &impl Columns) -> StoreResult<AppSession> {
    Ok(AppSession {
        sid: row.text("sid")?,
        client_id: row.opt_text("client_id")?,
        sso_id: row.opt_text("sso_id")?,
        created_at: row.time("created_at")?,
        refreshed_at: row.opt_int("refreshed_at")?.map(secs),
    })
}

/// [`crate::store::SignInStore::create_sso_session`].
pub(crate) async fn insert_sso_session<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    s: &SsoSession,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO sso_sessions (id, hash, user_id, auth_time, created_at, expires_at, ended_at, address, \
         user_agent) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8)",
    )
    .arg(&s.id)
    .arg(&s.hash[..])
    .arg(&s.user_id)
    .arg(&ts(s.auth_time))
    .arg(&ts(s.created_at))
    .arg(&ts(s.expires_at))
    .arg(&s.address)
    .arg(&s.user_agent)
    .execute(db)
    .await
    .map_err(DB::store_error)?;
    Ok(())
}

/// [`crate::store::SignInStore::sso_session`].
pub(crate) async fn sso_session_by_hash<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    hash: &[u8; 32],
) -> StoreResult<Option<(SsoSession, User)>> {
    let sql = "SELECT s.id AS id, s.hash AS hash, s.user_id AS user_id, s.auth_time AS auth_time, \
               s.created_at AS created_at, s.expires_at AS expires_at, s.ended_at AS ended_at, \
               s.address AS address, s.user_agent AS user_agent, \
               u.id AS u_id, u.username AS u_username, u.password_hash AS u_password_hash, \
               u.disabled AS u_disabled, u.scopes AS u_scopes, u.created_at AS u_created_at, \
               u.email AS u_email, u.display_name AS u_display_name \
               FROM sso_sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = $1";
    optional(db, sqlx::query(sql).arg(&hash[..]), |row| {
        Ok((sso_session(row)?, user(&Prefixed::new(row, "u_"))?))
    })
    .await
}

/// [`crate::store::SignInStore::sso_session_of_family`].
pub(crate) async fn sso_session_of_family<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    sid: &str,
) -> StoreResult<Option<SsoSession>> {
    let sql = "SELECT s.id AS id, s.hash AS hash, s.user_id AS user_id, s.auth_time AS auth_time, \
               s.created_at AS created_at, s.expires_at AS expires_at, s.ended_at AS ended_at, \
               s.address AS address, s.user_agent AS user_agent \
               FROM token_families f JOIN sso_sessions s ON s.id = f.sso_id WHERE f.sid = $1";
    optional(db, sqlx::query(sql).arg(sid), sso_session).await
}

/// [`crate::store::SignInStore::sso_sessions_of_user`].
pub(crate) async fn live_sso_sessions<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    user_id: &str,
    now: u64,
) -> StoreResult<Vec<SsoSession>> {
    let sql = concat!(
        sso_columns!(),
        " WHERE user_id = $1 AND ended_at IS NULL AND expires_at > $2 ORDER BY created_at DESC, id"
    );
    every(db, sqlx::query(sql).arg(user_id).arg(&ts(now)), sso_session).await
}

/// [`crate::store::SignInStore::app_sessions_of_user`].
pub(crate) async fn app_sessions<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    user_id: &str,
    now: u64,
) -> StoreResult<Vec<AppSession>> {
    let sql = "SELECT f.sid AS sid, f.client_id AS client_id, f.sso_id AS sso_id, f.created_at AS created_at, \
               (SELECT MAX(t.used_at) FROM refresh_tokens t WHERE t.sid = f.sid) AS refreshed_at \
               FROM token_families f WHERE f.user_id = $1 AND f.revoked_at IS NULL AND f.expires_at > $2 \
               ORDER BY f.created_at DESC, f.sid";
    every(db, sqlx::query(sql).arg(user_id).arg(&ts(now)), app_session).await
}

/// [`crate::store::SignInStore::consented_scope`].
pub(crate) async fn consented_scope<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    user_id: &str,
    client_id: &str,
) -> StoreResult<Option<Vec<String>>> {
    let sql = "SELECT scope FROM consents WHERE user_id = $1 AND client_id = $2";
    optional(db, sqlx::query(sql).arg(user_id).arg(client_id), |row| {
        row.words("scope")
    })
    .await
}

/// [`crate::store::SignInStore::save_consent`].
pub(crate) async fn save_consent<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    user_id: &str,
    client_id: &str,
    scope: &str,
    now: u64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
    )
    .arg(user_id)
    .arg(client_id)
    .arg(scope)
    .arg(&ts(now))
    .execute(db)
    .await
    .map_err(DB::store_error)?;
    Ok(())
}

/// Records that `code` was presented: whether for the first time.
pub(crate) async fn record_use<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    code: &UsedCode,
) -> StoreResult<bool> {
    let done = sqlx::query(USE_CODE)
        .arg(&code.id[..])
        .arg(&code.sid)
        .arg(&ts(code.expires_at))
        .execute(db)
        .await
        .map_err(DB::store_error)?;
    Ok(DB::rows_affected(&done) == 1)
}

/// Inserts the token family a code's exchange starts from SSO session `sso_id` ([`INSERT_APP_FAMILY`]): whether
/// it was.
pub(crate) async fn start_family<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    family: &TokenFamily,
    sso_id: &str,
) -> StoreResult<bool> {
    let done = sqlx::query(INSERT_APP_FAMILY)
        .arg(&family.sid)
        .arg(&family.user_id)
        .arg(&ts(family.created_at))
        .arg(&ts(family.expires_at))
        .arg(&family.client_id)
        .arg(&family.scope)
        .arg(sso_id)
        .arg(&family.dpop_jkt)
        .arg(&family.resource)
        .execute(db)
        .await
        .map_err(DB::store_error)?;
    Ok(DB::rows_affected(&done) == 1)
}

/// [`crate::store::SignInStore::set_profile`].
pub(crate) async fn set_profile<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    user_id: &str,
    profile: &Profile,
) -> StoreResult<bool> {
    let done = sqlx::query("UPDATE users SET email = $1, display_name = $2 WHERE id = $3")
        .arg(&profile.email)
        .arg(&profile.name)
        .arg(user_id)
        .execute(db)
        .await
        .map_err(DB::store_error)?;
    Ok(DB::rows_affected(&done) == 1)
}
