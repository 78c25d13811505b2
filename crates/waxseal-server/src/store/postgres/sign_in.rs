//! [`SignInStore`] on PostgreSQL: the shared statements of [`sql::sign_in`], and the transactions, at READ
//! COMMITTED with the code row locked (`FOR UPDATE`) by a redemption, so concurrent redemptions of one code take turns and the
//! second sees the first one's `used_at`.

use super::sessions::{insert_refresh_token, revoke_in};
use super::{PostgresStore, map_err};
use crate::store::sql::sign_in as sql;
use crate::store::sql::sign_in::code;
use crate::store::{
    AppSession, AuthorizationCode, BoxFuture, Profile, Redemption, RefreshTokenRecord, SignInStore,
    SsoSession, StoreResult, TokenFamily, ts,
};

impl SignInStore for PostgresStore {
    fn create_sso_session<'a>(&'a self, session: &'a SsoSession) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(sql::insert_sso_session(&self.pool, session))
    }

    fn sso_session<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFuture<'a, StoreResult<Option<SsoSession>>> {
        Box::pin(sql::sso_session_by_hash(&self.pool, hash))
    }

    fn sso_session_of_family<'a>(
        &'a self,
        sid: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<SsoSession>>> {
        Box::pin(sql::sso_session_of_family(&self.pool, sid))
    }

    fn sso_sessions_of_user<'a>(
        &'a self,
        user_id: &'a str,
        now: u64,
    ) -> BoxFuture<'a, StoreResult<Vec<SsoSession>>> {
        Box::pin(sql::live_sso_sessions(&self.pool, user_id, now))
    }

    fn app_sessions_of_user<'a>(
        &'a self,
        user_id: &'a str,
        now: u64,
    ) -> BoxFuture<'a, StoreResult<Vec<AppSession>>> {
        Box::pin(sql::app_sessions(&self.pool, user_id, now))
    }

    fn end_sso_sessions<'a>(
        &'a self,
        user_id: &'a str,
        id: Option<&'a str>,
        now: u64,
        deny_until: u64,
    ) -> BoxFuture<'a, StoreResult<Option<Vec<String>>>> {
        Box::pin(async move {
            let mut tx = self.begin().await?;
            let ids: Vec<String> = sqlx::query_scalar(
                "SELECT id FROM sso_sessions WHERE user_id = $1 AND ended_at IS NULL \
                 AND ($2::text IS NULL OR id = $2) FOR UPDATE",
            )
            .bind(user_id)
            .bind(id)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
            if id.is_some() && ids.is_empty() {
                return Ok(None);
            }
            let mut revoked = Vec::new();
            for sso in &ids {
                sqlx::query(sql::END_SSO)
                    .bind(ts(now))
                    .bind(sso)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                let sids: Vec<String> = sqlx::query_scalar(sql::FAMILIES_OF_SSO)
                    .bind(sso)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(map_err)?;
                for sid in sids {
                    revoke_in(&mut tx, &sid, now, deny_until).await?;
                    revoked.push(sid);
                }
            }
            tx.commit().await.map_err(map_err)?;
            Ok(Some(revoked))
        })
    }

    fn consented_scope<'a>(
        &'a self,
        user_id: &'a str,
        client_id: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<Vec<String>>>> {
        Box::pin(sql::consented_scope(&self.pool, user_id, client_id))
    }

    fn save_consent<'a>(
        &'a self,
        user_id: &'a str,
        client_id: &'a str,
        scope: &'a str,
        now: u64,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(sql::save_consent(
            &self.pool, user_id, client_id, scope, now,
        ))
    }

    fn create_code<'a>(&'a self, code: &'a AuthorizationCode) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(sql::insert_code(&self.pool, code))
    }

    fn redeem_code<'a>(
        &'a self,
        hash: &'a [u8; 32],
        now: u64,
        deny_until: u64,
    ) -> BoxFuture<'a, StoreResult<Redemption>> {
        Box::pin(async move {
            let mut tx = self.begin().await?;
            let row = sqlx::query(sql::CODE_BY_HASH_FOR_UPDATE)
                .bind(&hash[..])
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
            let Some((found, used_at)) = row.as_ref().map(code).transpose()? else {
                return Ok(Redemption::Unknown);
            };
            let redemption = if used_at.is_some() {
                revoke_in(&mut tx, &found.sid, now, deny_until).await?;
                Redemption::Reused(found)
            } else if found.expires_at <= now {
                Redemption::Expired
            } else {
                sql::use_code(&mut *tx, hash, now).await?;
                Redemption::Redeemed(found)
            };
            tx.commit().await.map_err(map_err)?;
            Ok(redemption)
        })
    }

    fn start_app_session<'a>(
        &'a self,
        family: &'a TokenFamily,
        sso_id: &'a str,
        first: Option<&'a RefreshTokenRecord>,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(async move {
            let mut tx = self.begin().await?;
            let done = sqlx::query(sql::INSERT_APP_FAMILY)
                .bind(&family.sid)
                .bind(&family.user_id)
                .bind(ts(family.created_at))
                .bind(ts(family.expires_at))
                .bind(&family.client_id)
                .bind(&family.scope)
                .bind(sso_id)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            if done.rows_affected() != 1 {
                return Ok(false);
            }
            if let Some(first) = first {
                let expires = first.expires_at.min(family.expires_at);
                insert_refresh_token(&mut tx, first, None, &family.sid, expires).await?;
            }
            tx.commit().await.map_err(map_err)?;
            Ok(true)
        })
    }

    fn set_profile<'a>(
        &'a self,
        user_id: &'a str,
        profile: &'a Profile,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(sql::set_profile(&self.pool, user_id, profile))
    }
}
