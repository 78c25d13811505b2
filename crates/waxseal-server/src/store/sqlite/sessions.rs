//! Sessions on SQLite: a token family per sign-in and the rotation of its refresh tokens, each rotation inside a
//! `BEGIN IMMEDIATE` transaction so that concurrent presentations of the same token queue on the write lock, and the
//! ways a session ends (revocation of one or all, logout). The small revocation steps here are shared with client
//! deletion and the denylist in [`super`].

use sqlx::{Sqlite, Transaction};

use super::{SqliteStore, map_err};
use crate::store::sql::{self, Columns as _};
use crate::store::{
    BoxFuture, Logout, LogoutScope, RefreshTokenRecord, ReuseAllowance, Rotation, SessionStore,
    StoreResult, StoredRefreshToken, TokenFamily, ts,
};

/// Stores `token` in family `sid`, issued for the token whose digest is `parent` (`None`: the session's first).
pub(super) async fn insert_refresh_token(
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

pub(super) async fn revoke_in(
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
pub(super) async fn set_not_before(
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

/// Revokes every session of `user_id` and sets their "not before" to `now`; returns the revoked sids.
async fn revoke_all_in(
    tx: &mut Transaction<'static, Sqlite>,
    user_id: &str,
    now: u64,
    deny_until: u64,
) -> StoreResult<Vec<String>> {
    let sids: Vec<String> = sqlx::query_scalar(
        "SELECT sid FROM token_families WHERE user_id = ? AND revoked_at IS NULL",
    )
    .bind(user_id)
    .fetch_all(&mut **tx)
    .await
    .map_err(map_err)?;
    for sid in &sids {
        revoke_in(tx, sid, now, deny_until).await?;
    }
    set_not_before(tx, user_id, now).await?;
    Ok(sids)
}

/// Denies an access token id until `until` (a later time already set stays).
pub(super) async fn deny_jti<'e>(
    db: impl sqlx::SqliteExecutor<'e>,
    jti: &str,
    until: u64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO denied_jtis (jti, expires_at) VALUES (?, ?) \
         ON CONFLICT(jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)",
    )
    .bind(jti)
    .bind(ts(until))
    .execute(db)
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
                 (sid, user_id, created_at, expires_at, revoked_at, client_id, scope, dpop_jkt, resource) \
                 VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?)",
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
            let rotation: Option<fn(TokenFamily) -> Rotation> = if consumed {
                if family.expires_at <= now {
                    return Ok(Rotation::Expired);
                }
                let parent = row.opt_bytes("parent_hash")?;
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
        Box::pin(sql::family_of_token(&self.reader, hash))
    }

    fn refresh_token_state<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFuture<'a, StoreResult<Option<(StoredRefreshToken, TokenFamily)>>> {
        Box::pin(sql::refresh_token_state(&self.reader, hash))
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
            let mut tx = self.immediate().await?;
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
