//! The export and import of [`Contents`]: every table read in a fixed order, and every row written back after the
//! tables are emptied children first. Each backend runs these inside the transaction that makes them safe (a
//! snapshot for an export, the tables locked for an import).

use sqlx::{Executor, Transaction};

use super::{
    Arg as _, Columns as _, Dialect, backend, client, every, family, insert_client, insert_key,
    insert_resource, insert_user, key, pair, record_revoked_key, refresh_token, resource,
    revoked_keys, rotation, user,
};
use crate::store::{Contents, DenylistSnapshot, StoreResult, ts};

/// Tables in an order that deletes children before their parents. Not `revoked_keys`: a replacing import keeps
/// those records, so that it cannot bring a revoked key back.
pub(crate) const TABLES: [&str; 12] = [
    "used_codes",
    "consents",
    "sso_sessions",
    "refresh_tokens",
    "token_families",
    "users",
    "clients",
    "resources",
    "signing_keys",
    "denied_jtis",
    "denied_sids",
    "user_not_before",
];

/// Every row, read through `conn` (in the transaction that makes it one snapshot: the backend's choice).
pub(crate) async fn export<DB: Dialect>(tx: &mut Transaction<'static, DB>) -> StoreResult<Contents>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let users = "SELECT id, username, password_hash, disabled, scopes, created_at, email, display_name \
                 FROM users ORDER BY id";
    let clients = concat!(super::select_clients!(), " ORDER BY client_id");
    let keys = "SELECT kid, alg, private_key, created_at, activates_at FROM signing_keys \
                ORDER BY activates_at, created_at, kid";
    let resources = "SELECT uri, scopes, created_at FROM resources ORDER BY uri";
    let families = "SELECT sid, user_id, created_at, expires_at, revoked_at, client_id, scope, dpop_jkt, \
                    resource FROM token_families ORDER BY sid";
    let tokens = "SELECT hash, sid, created_at AS token_created_at, expires_at AS token_expires_at, used_at, \
                  parent_hash FROM refresh_tokens ORDER BY hash";
    // `reissues` is an INTEGER in PostgreSQL: read as 64 bits in both.
    let rotations = "SELECT sid, rotated_hash, COALESCE(rotated_at, 0) AS rotated_at, \
                     CAST(reissues AS BIGINT) AS reissues \
                     FROM token_families WHERE rotated_hash IS NOT NULL ORDER BY sid";
    let jtis = "SELECT jti AS id, expires_at AS until FROM denied_jtis ORDER BY jti";
    let conn = &mut **tx;
    let sids = "SELECT sid AS id, expires_at AS until FROM denied_sids ORDER BY sid";
    let not_before =
        "SELECT user_id AS id, not_before AS until FROM user_not_before ORDER BY user_id";
    Ok(Contents {
        users: every(&mut *conn, sqlx::query(users), user).await?,
        clients: every(&mut *conn, sqlx::query(clients), client).await?,
        resources: every(&mut *conn, sqlx::query(resources), resource).await?,
        keys: every(&mut *conn, sqlx::query(keys), key).await?,
        revoked_keys: revoked_keys(&mut *conn).await?,
        families: every(&mut *conn, sqlx::query(families), family).await?,
        refresh_tokens: every(&mut *conn, sqlx::query(tokens), |row| {
            let hash = row.digest("hash", "a refresh-token hash")?;
            refresh_token(row, hash, row.text("sid")?)
        })
        .await?,
        rotations: every(&mut *conn, sqlx::query(rotations), rotation).await?,
        denylist: DenylistSnapshot {
            jtis: every(&mut *conn, sqlx::query(jtis), pair).await?,
            sids: every(&mut *conn, sqlx::query(sids), pair).await?,
            not_before: every(&mut *conn, sqlx::query(not_before), pair).await?,
        },
    })
}

/// Whether the store holds a user, client, key or session: an import refuses to write over them unless told to.
pub(crate) async fn in_use<DB: Dialect>(tx: &mut Transaction<'static, DB>) -> StoreResult<bool>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let sql = "SELECT (EXISTS (SELECT 1 FROM users) OR EXISTS (SELECT 1 FROM clients) \
               OR EXISTS (SELECT 1 FROM signing_keys) OR EXISTS (SELECT 1 FROM token_families)) AS used";
    let row = sqlx::query(sql)
        .fetch_one(&mut **tx)
        .await
        .map_err(DB::store_error)?;
    row.flag("used")
}

/// Deletes every row of [`TABLES`], then writes every row of `c`, through `conn` (in the backend's transaction).
pub(crate) async fn replace_with<DB: Dialect>(
    tx: &mut Transaction<'static, DB>,
    c: &Contents,
) -> StoreResult<()>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let conn = &mut **tx;
    for table in TABLES {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
            .execute(&mut *conn)
            .await
            .map_err(DB::store_error)?;
    }
    for user in &c.users {
        insert_user(&mut *conn, user).await?;
    }
    for client in &c.clients {
        insert_client(&mut *conn, client).await?;
    }
    for resource in &c.resources {
        insert_resource(&mut *conn, resource).await?;
    }
    for revoked in &c.revoked_keys {
        record_revoked_key(&mut *conn, revoked).await?;
    }
    for key in &c.keys {
        insert_key(&mut *conn, key).await?;
    }
    for f in &c.families {
        sqlx::query(
            "INSERT INTO token_families \
             (sid, user_id, created_at, expires_at, revoked_at, client_id, scope, dpop_jkt, resource) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .arg(&f.sid)
        .arg(&f.user_id)
        .arg(&ts(f.created_at))
        .arg(&ts(f.expires_at))
        .arg(&f.revoked_at.map(ts))
        .arg(&f.client_id)
        .arg(&f.scope)
        .arg(&f.dpop_jkt)
        .arg(&f.resource)
        .execute(&mut *conn)
        .await
        .map_err(DB::store_error)?;
    }
    for t in &c.refresh_tokens {
        sqlx::query(
            "INSERT INTO refresh_tokens (hash, sid, created_at, expires_at, used_at, parent_hash) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .arg(&t.record.hash[..])
        .arg(&t.record.sid)
        .arg(&ts(t.record.created_at))
        .arg(&ts(t.record.expires_at))
        .arg(&t.used_at.map(ts))
        .arg(&t.parent.map(Vec::from))
        .execute(&mut *conn)
        .await
        .map_err(DB::store_error)?;
    }
    for r in &c.rotations {
        let done = sqlx::query(
            "UPDATE token_families SET rotated_hash = $1, rotated_at = $2, reissues = $3 WHERE sid = $4",
        )
        .arg(&r.hash[..])
        .arg(&ts(r.rotated_at))
        .arg(&i64::from(r.reissues.min(DB::MAX_REISSUES)))
        .arg(&r.sid)
        .execute(&mut *conn)
        .await
        .map_err(DB::store_error)?;
        if DB::rows_affected(&done) != 1 {
            return Err(backend(format!(
                "the rotation state of session {} names no session in the import",
                r.sid.chars().take(40).collect::<String>()
            )));
        }
    }
    let d = &c.denylist;
    for (sql, rows) in [
        (
            "INSERT INTO denied_jtis (jti, expires_at) VALUES ($1, $2)",
            &d.jtis,
        ),
        (
            "INSERT INTO denied_sids (sid, expires_at) VALUES ($1, $2)",
            &d.sids,
        ),
        (
            "INSERT INTO user_not_before (user_id, not_before) VALUES ($1, $2)",
            &d.not_before,
        ),
    ] {
        for (id, time) in rows {
            sqlx::query(sql)
                .arg(id)
                .arg(&ts(*time))
                .execute(&mut *conn)
                .await
                .map_err(DB::store_error)?;
        }
    }
    Ok(())
}
