//! Revoking a leaked key on SQLite: one `BEGIN IMMEDIATE` transaction, so the check of the stored kids, the
//! deletion, the record and the replacement are one write no other process can interleave with.

use sqlx::{Sqlite, Transaction};

use super::{SqliteStore, insert_key_in, map_err, secs, ts};
use crate::store::{RevokedKey, StoreResult, StoredKey};

/// See [`crate::store::KeyStore::revoke_key_if_unchanged`].
pub(super) async fn revoke_if_unchanged(
    store: &SqliteStore,
    revoked: &RevokedKey,
    replacement: Option<&StoredKey>,
    seen: &[String],
) -> StoreResult<bool> {
    let mut tx = store.immediate().await?;
    let stored: Vec<String> = sqlx::query_scalar("SELECT kid FROM signing_keys")
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
    if !crate::store::same_kids(stored, seen) {
        return Ok(false);
    }
    sqlx::query("DELETE FROM signing_keys WHERE kid = ?")
        .bind(&revoked.kid)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
    record_in(&mut tx, revoked).await?;
    if let Some(key) = replacement {
        insert_key_in(&mut tx, key).await?;
    }
    tx.commit().await.map_err(map_err)?;
    Ok(true)
}

/// Records a revoked key; a record already there (the same kid revoked in an imported dump) is kept as it is.
pub(super) async fn record_in(
    tx: &mut Transaction<'static, Sqlite>,
    revoked: &RevokedKey,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO revoked_keys (kid, alg, created_at, revoked_at) VALUES (?, ?, ?, ?) \
         ON CONFLICT(kid) DO NOTHING",
    )
    .bind(&revoked.kid)
    .bind(&revoked.alg)
    .bind(ts(revoked.created_at))
    .bind(ts(revoked.revoked_at))
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

/// Every record, in order of revocation, read through `executor`.
pub(super) async fn all<'e>(
    executor: impl sqlx::Executor<'e, Database = Sqlite>,
) -> StoreResult<Vec<RevokedKey>> {
    let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT kid, alg, created_at, revoked_at FROM revoked_keys ORDER BY revoked_at, kid",
    )
    .fetch_all(executor)
    .await
    .map_err(map_err)?;
    Ok(rows
        .into_iter()
        .map(|(kid, alg, created_at, revoked_at)| RevokedKey {
            kid,
            alg,
            created_at: secs(created_at),
            revoked_at: secs(revoked_at),
        })
        .collect())
}
