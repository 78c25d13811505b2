//! [`TransferStore`] for SQLite: a read transaction for a consistent export, one write transaction for an import.

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use super::{
    SqliteStore, backend, client_from_row, family_from_row, insert_client, insert_key_in,
    insert_user, map_err, user_from_row,
};
use crate::store::{
    BoxFuture, Contents, DenylistSnapshot, FamilyRotation, RefreshTokenRecord, StoreResult,
    StoredKey, StoredRefreshToken, TransferStore, opt_secs, parent_digest, secs, ts,
};

/// Tables in an order that deletes children before their parents. Not `revoked_keys`: a replacing import keeps
/// those records, so that it cannot bring a revoked key back.
const TABLES: [&str; 8] = [
    "refresh_tokens",
    "token_families",
    "users",
    "clients",
    "signing_keys",
    "denied_jtis",
    "denied_sids",
    "user_not_before",
];

fn key_from_row(row: &SqliteRow) -> StoreResult<StoredKey> {
    Ok(StoredKey {
        kid: row.try_get("kid").map_err(backend)?,
        alg: row.try_get("alg").map_err(backend)?,
        encrypted_private_key: row.try_get("private_key").map_err(backend)?,
        created_at: secs(row.try_get("created_at").map_err(backend)?),
        activates_at: secs(row.try_get("activates_at").map_err(backend)?),
    })
}

fn token_from_row(row: &SqliteRow) -> StoreResult<StoredRefreshToken> {
    let hash: Vec<u8> = row.try_get("hash").map_err(backend)?;
    Ok(StoredRefreshToken {
        record: RefreshTokenRecord {
            hash: hash
                .try_into()
                .map_err(|_| backend("a refresh-token hash is not 32 bytes"))?,
            sid: row.try_get("sid").map_err(backend)?,
            created_at: secs(row.try_get("created_at").map_err(backend)?),
            expires_at: secs(row.try_get("expires_at").map_err(backend)?),
        },
        used_at: opt_secs(row.try_get("used_at").map_err(backend)?),
        parent: parent_digest(row.try_get("parent_hash").map_err(backend)?)?,
    })
}

fn rotation_from_row(row: &SqliteRow) -> StoreResult<FamilyRotation> {
    let hash: Vec<u8> = row.try_get("rotated_hash").map_err(backend)?;
    let reissues: i64 = row.try_get("reissues").map_err(backend)?;
    Ok(FamilyRotation {
        sid: row.try_get("sid").map_err(backend)?,
        hash: hash
            .try_into()
            .map_err(|_| backend("a family's rotated hash is not 32 bytes"))?,
        rotated_at: secs(row.try_get("rotated_at").map_err(backend)?),
        reissues: u32::try_from(reissues).unwrap_or(0),
    })
}

async fn pairs(
    tx: &mut Transaction<'static, Sqlite>,
    sql: &'static str,
) -> StoreResult<Vec<(String, u64)>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(sql)
        .fetch_all(&mut **tx)
        .await
        .map_err(map_err)?;
    Ok(rows.into_iter().map(|(k, v)| (k, secs(v))).collect())
}

async fn write_all(tx: &mut Transaction<'static, Sqlite>, c: &Contents) -> StoreResult<()> {
    for user in &c.users {
        insert_user(&mut **tx, user).await?;
    }
    for client in &c.clients {
        insert_client(&mut **tx, client).await?;
    }
    for revoked in &c.revoked_keys {
        super::revoked_keys::record_in(tx, revoked).await?;
    }
    for key in &c.keys {
        insert_key_in(tx, key).await?;
    }
    for f in &c.families {
        sqlx::query(
            "INSERT INTO token_families \
             (sid, user_id, created_at, expires_at, revoked_at, client_id, scope) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&f.sid)
        .bind(&f.user_id)
        .bind(ts(f.created_at))
        .bind(ts(f.expires_at))
        .bind(f.revoked_at.map(ts))
        .bind(&f.client_id)
        .bind(&f.scope)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    }
    for t in &c.refresh_tokens {
        sqlx::query(
            "INSERT INTO refresh_tokens (hash, sid, created_at, expires_at, used_at, parent_hash) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&t.record.hash[..])
        .bind(&t.record.sid)
        .bind(ts(t.record.created_at))
        .bind(ts(t.record.expires_at))
        .bind(t.used_at.map(ts))
        .bind(t.parent.as_ref().map(|p| &p[..]))
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    }
    for r in &c.rotations {
        let updated = sqlx::query(
            "UPDATE token_families SET rotated_hash = ?, rotated_at = ?, reissues = ? WHERE sid = ?",
        )
        .bind(&r.hash[..])
        .bind(ts(r.rotated_at))
        .bind(i64::from(r.reissues))
        .bind(&r.sid)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if updated != 1 {
            return Err(backend(format!(
                "the rotation state of session {} names no session in the import",
                r.sid.chars().take(40).collect::<String>()
            )));
        }
    }
    let d = &c.denylist;
    for (sql, rows) in [
        (
            "INSERT INTO denied_jtis (jti, expires_at) VALUES (?, ?)",
            &d.jtis,
        ),
        (
            "INSERT INTO denied_sids (sid, expires_at) VALUES (?, ?)",
            &d.sids,
        ),
        (
            "INSERT INTO user_not_before (user_id, not_before) VALUES (?, ?)",
            &d.not_before,
        ),
    ] {
        for (id, time) in rows {
            sqlx::query(sql)
                .bind(id)
                .bind(ts(*time))
                .execute(&mut **tx)
                .await
                .map_err(map_err)?;
        }
    }
    Ok(())
}

impl TransferStore for SqliteStore {
    fn export_all(&self) -> BoxFuture<'_, StoreResult<Contents>> {
        Box::pin(async move {
            // One read transaction: WAL gives it one snapshot, whatever the server writes meanwhile.
            let mut tx = self.reader.begin().await.map_err(map_err)?;
            let users = sqlx::query(
                "SELECT id, username, password_hash, disabled, scopes, created_at FROM users ORDER BY id",
            )
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
            let clients = sqlx::query(
                "SELECT client_id, secret_hash, name, grant_types, scopes, created_at, may_introspect \
                 FROM clients ORDER BY client_id",
            )
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
            let keys = sqlx::query(
                "SELECT kid, alg, private_key, created_at, activates_at FROM signing_keys \
                 ORDER BY activates_at, created_at, kid",
            )
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
            let revoked_keys = super::revoked_keys::all(&mut *tx).await?;
            let families = sqlx::query(
                "SELECT sid, user_id, created_at, expires_at, revoked_at, client_id, scope \
                 FROM token_families ORDER BY sid",
            )
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
            let tokens = sqlx::query(
                "SELECT hash, sid, created_at, expires_at, used_at, parent_hash FROM refresh_tokens \
                 ORDER BY hash",
            )
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
            let rotations = sqlx::query(
                "SELECT sid, rotated_hash, COALESCE(rotated_at, 0) AS rotated_at, reissues \
                 FROM token_families WHERE rotated_hash IS NOT NULL ORDER BY sid",
            )
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
            let denylist = DenylistSnapshot {
                jtis: pairs(
                    &mut tx,
                    "SELECT jti, expires_at FROM denied_jtis ORDER BY jti",
                )
                .await?,
                sids: pairs(
                    &mut tx,
                    "SELECT sid, expires_at FROM denied_sids ORDER BY sid",
                )
                .await?,
                not_before: pairs(
                    &mut tx,
                    "SELECT user_id, not_before FROM user_not_before ORDER BY user_id",
                )
                .await?,
            };
            Ok(Contents {
                users: users
                    .iter()
                    .map(user_from_row)
                    .collect::<StoreResult<_>>()?,
                clients: clients
                    .iter()
                    .map(client_from_row)
                    .collect::<StoreResult<_>>()?,
                keys: keys.iter().map(key_from_row).collect::<StoreResult<_>>()?,
                revoked_keys,
                families: families
                    .iter()
                    .map(family_from_row)
                    .collect::<StoreResult<_>>()?,
                refresh_tokens: tokens
                    .iter()
                    .map(token_from_row)
                    .collect::<StoreResult<_>>()?,
                rotations: rotations
                    .iter()
                    .map(rotation_from_row)
                    .collect::<StoreResult<_>>()?,
                denylist,
            })
        })
    }

    fn import_all<'a>(
        &'a self,
        contents: &'a Contents,
        replace: bool,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(async move {
            let mut tx = self.immediate().await?;
            let used: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM users) OR EXISTS (SELECT 1 FROM clients) \
                 OR EXISTS (SELECT 1 FROM signing_keys) OR EXISTS (SELECT 1 FROM token_families)",
            )
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
            if used && !replace {
                return Ok(false);
            }
            for table in TABLES {
                sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
            }
            write_all(&mut tx, contents).await?;
            tx.commit().await.map_err(map_err)?;
            Ok(true)
        })
    }
}
