//! Revoking a leaked key on PostgreSQL: one transaction under the key-rotation advisory lock, so a rotation decided
//! by another instance at the same moment either comes before (and the revocation sees other kids than it read:
//! refused, to be decided again) or after (and sees the revocation).

use super::{KEY_ROTATION_LOCK, PostgresStore, map_err};
use crate::store::{RevokedKey, StoreResult, StoredKey, sql};

/// See [`crate::store::KeyStore::revoke_key_if_unchanged`].
pub(super) async fn revoke_if_unchanged(
    store: &PostgresStore,
    revoked: &RevokedKey,
    replacement: Option<&StoredKey>,
    seen: &[String],
) -> StoreResult<bool> {
    let mut tx = store.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(KEY_ROTATION_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
    let stored: Vec<String> = sqlx::query_scalar("SELECT kid FROM signing_keys")
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
    if !crate::store::same_kids(stored, seen) {
        return Ok(false);
    }
    sqlx::query("DELETE FROM signing_keys WHERE kid = $1")
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
