//! Revoking a leaked key on SQLite: one `BEGIN IMMEDIATE` transaction, so the check of the stored kids, the
//! deletion, the record and the replacement are one write no other process can interleave with.

use super::{SqliteStore, map_err};
use crate::store::{RevokedKey, StoreResult, StoredKey, sql};

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
    sql::record_revoked_key(&mut *tx, revoked).await?;
    if let Some(key) = replacement {
        sql::insert_key(&mut *tx, key).await?;
    }
    tx.commit().await.map_err(map_err)?;
    Ok(true)
}
