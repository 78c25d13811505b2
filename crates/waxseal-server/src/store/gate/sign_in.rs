//! [`SignInStore`] behind the gate: each operation refused at once while the database is down, and counted.

use super::GatedStore;
use crate::store::{
    AppSession, AppSessionStart, BoxFuture, Profile, SignInStore, SsoSession, StoreResult,
    UsedCode, User,
};

impl SignInStore for GatedStore {
    fn create_sso_session<'a>(&'a self, session: &'a SsoSession) -> BoxFuture<'a, StoreResult<()>> {
        self.guard("create_sso_session", self.inner.create_sso_session(session))
    }
    fn sso_session<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFuture<'a, StoreResult<Option<(SsoSession, User)>>> {
        self.guard("sso_session", self.inner.sso_session(hash))
    }
    fn sso_session_of_family<'a>(
        &'a self,
        sid: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<SsoSession>>> {
        self.guard(
            "sso_session_of_family",
            self.inner.sso_session_of_family(sid),
        )
    }
    fn sso_sessions_of_user<'a>(
        &'a self,
        user_id: &'a str,
        now: u64,
    ) -> BoxFuture<'a, StoreResult<Vec<SsoSession>>> {
        self.guard(
            "sso_sessions_of_user",
            self.inner.sso_sessions_of_user(user_id, now),
        )
    }
    fn app_sessions_of_user<'a>(
        &'a self,
        user_id: &'a str,
        now: u64,
    ) -> BoxFuture<'a, StoreResult<Vec<AppSession>>> {
        self.guard(
            "app_sessions_of_user",
            self.inner.app_sessions_of_user(user_id, now),
        )
    }
    fn end_sso_sessions<'a>(
        &'a self,
        user_id: &'a str,
        id: Option<&'a str>,
        now: u64,
        deny_until: u64,
    ) -> BoxFuture<'a, StoreResult<Option<Vec<String>>>> {
        self.guard(
            "end_sso_sessions",
            self.inner.end_sso_sessions(user_id, id, now, deny_until),
        )
    }
    fn consented_scope<'a>(
        &'a self,
        user_id: &'a str,
        client_id: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<Vec<String>>>> {
        self.guard(
            "consented_scope",
            self.inner.consented_scope(user_id, client_id),
        )
    }
    fn save_consent<'a>(
        &'a self,
        user_id: &'a str,
        client_id: &'a str,
        scope: &'a str,
        now: u64,
    ) -> BoxFuture<'a, StoreResult<()>> {
        self.guard(
            "save_consent",
            self.inner.save_consent(user_id, client_id, scope, now),
        )
    }
    fn use_code<'a>(&'a self, code: &'a UsedCode) -> BoxFuture<'a, StoreResult<bool>> {
        self.guard("use_code", self.inner.use_code(code))
    }
    fn start_app_session<'a>(
        &'a self,
        session: AppSessionStart<'a>,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        self.guard("start_app_session", self.inner.start_app_session(session))
    }
    fn set_profile<'a>(
        &'a self,
        user_id: &'a str,
        profile: &'a Profile,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        self.guard("set_profile", self.inner.set_profile(user_id, profile))
    }
}
