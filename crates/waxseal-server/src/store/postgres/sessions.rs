//! Sessions on PostgreSQL: a token family per sign-in and the rotation of its refresh tokens, each rotation one
//! conditional `UPDATE` that concurrent presentations of the same token queue behind, and the ways a session ends
//! (revocation of one or all, logout). The small revocation steps here are shared with client deletion and the
//! denylist in [`super`].

use sqlx::{Postgres, Transaction};

use super::{PostgresStore, map_err};
use crate::store::sql::{self, Columns as _};
use crate::store::{
    BoxFuture, Logout, LogoutScope, RefreshTokenRecord, ReuseAllowance, Rotation, SessionStore,
    StoreResult, StoredRefreshToken, TokenFamily, ts,
};

/// Stores `token` in family `sid`, issued for the token whose digest is `parent` (`None`: the session's first).
pub(super) async fn insert_refresh_token(
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
pub(super) async fn deny_sids(
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

pub(super) async fn revoke_in(
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
pub(super) async fn set_not_before(
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
pub(super) async fn deny_jti<'e>(
    db: impl sqlx::PgExecutor<'e>,
    jti: &str,
    until: u64,
) -> StoreResult<()> {
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
                 (sid, user_id, created_at, expires_at, revoked_at, client_id, scope, dpop_jkt, resource) \
                 VALUES ($1, $2, $3, $4, NULL, $5, $6, $7, $8)",
            )
            .bind(&family.sid)
            .bind(&family.user_id)
            .bind(ts(family.created_at))
            .bind(ts(family.expires_at))
            .bind(&family.client_id)
            .bind(&family.scope)
            .bind(&family.dpop_jkt)
            .bind(&family.resource)
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
