//! [`SignInStore`] on SQLite: the shared statements of [`sql::sign_in`], and the two transactions (ending SSO
//! sessions, starting a session with its refresh token), each under SQLite's write lock taken up front
//! (`BEGIN IMMEDIATE`).

use super::sessions::{insert_refresh_token, revoke_in};
use super::{SqliteStore, map_err};
use crate::store::sql::sign_in as sql;
use crate::store::{
    AppSession, AppSessionStart, BoxFuture, Profile, SignInStore, SsoSession, StoreResult,
    UsedCode, User, ts,
};

impl SignInStore for SqliteStore {
    fn create_sso_session<'a>(&'a self, session: &'a SsoSession) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(sql::insert_sso_session(&self.writer, session))
    }

    fn sso_session<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFuture<'a, StoreResult<Option<(SsoSession, User)>>> {
        Box::pin(sql::sso_session_by_hash(&self.reader, hash))
    }

    fn sso_session_of_family<'a>(
        &'a self,
        sid: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<SsoSession>>> {
        Box::pin(sql::sso_session_of_family(&self.reader, sid))
    }

    fn sso_sessions_of_user<'a>(
        &'a self,
        user_id: &'a str,
        now: u64,
    ) -> BoxFuture<'a, StoreResult<Vec<SsoSession>>> {
        Box::pin(sql::live_sso_sessions(&self.reader, user_id, now))
    }

    fn app_sessions_of_user<'a>(
        &'a self,
        user_id: &'a str,
        now: u64,
    ) -> BoxFuture<'a, StoreResult<Vec<AppSession>>> {
        Box::pin(sql::app_sessions(&self.reader, user_id, now))
    }

    fn end_sso_sessions<'a>(
        &'a self,
        user_id: &'a str,
        id: Option<&'a str>,
        now: u64,
        deny_until: u64,
    ) -> BoxFuture<'a, StoreResult<Option<Vec<String>>>> {
        Box::pin(async move {
            let mut tx = self.immediate().await?;
            let ids: Vec<String> = sqlx::query_scalar(
                "SELECT id FROM sso_sessions WHERE user_id = ? AND ended_at IS NULL AND (? IS NULL OR id = ?)",
            )
            .bind(user_id)
            .bind(id)
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
        Box::pin(sql::consented_scope(&self.reader, user_id, client_id))
    }

    fn save_consent<'a>(
        &'a self,
        user_id: &'a str,
        client_id: &'a str,
        scope: &'a str,
        now: u64,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(sql::save_consent(
            &self.writer,
            user_id,
            client_id,
            scope,
            now,
        ))
    }

    fn use_code<'a>(&'a self, code: &'a UsedCode) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(sql::record_use(&self.writer, code))
    }

    fn start_app_session<'a>(
        &'a self,
        session: AppSessionStart<'a>,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        let AppSessionStart {
            family,
            sso_id,
            first,
        } = session;
        Box::pin(async move {
            // Without a refresh token the family is one statement, and needs no transaction around it.
            let Some(first) = first else {
                return sql::start_family(&self.writer, family, sso_id).await;
            };
            let mut tx = self.immediate().await?;
            if !sql::start_family(&mut *tx, family, sso_id).await? {
                return Ok(false);
            }
            let expires = first.expires_at.min(family.expires_at);
            insert_refresh_token(&mut tx, first, None, &family.sid, expires).await?;
            tx.commit().await.map_err(map_err)?;
            Ok(true)
        })
    }

    fn set_profile<'a>(
        &'a self,
        user_id: &'a str,
        profile: &'a Profile,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(sql::set_profile(&self.writer, user_id, profile))
    }
}
