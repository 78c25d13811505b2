//! The userinfo claims (OpenID Connect Core §5.3): the user's profile, by the scopes the access token carries.

use serde_json::{Map, Value};

use super::{AccessClaims, AuthService, invalid_token};
use crate::error::Result;
use waxseal::jwt::Claims;

impl AuthService {
    /// What userinfo answers for an access token already verified: `sub` always, `name` and
    /// `preferred_username` with `profile`, `email` and `email_verified` with `email` (each only when set). A user
    /// disabled or deleted since the token was issued gets nothing.
    pub async fn userinfo(&self, claims: &Claims<AccessClaims>) -> Result<Map<String, Value>> {
        let subject = claims.registered.sub.as_deref().unwrap_or_default();
        let user = self
            .store
            .user_by_id(subject)
            .await?
            .filter(|u| !u.disabled)
            .ok_or_else(|| invalid_token("the token's user is disabled or gone"))?;
        let scopes: Vec<&str> = claims
            .custom
            .scope
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .collect();
        let mut out = Map::new();
        out.insert("sub".into(), Value::String(user.id.clone()));
        if scopes.contains(&"profile") {
            out.insert(
                "preferred_username".into(),
                Value::String(user.username.clone()),
            );
            if let Some(name) = &user.profile.name {
                out.insert("name".into(), Value::String(name.clone()));
            }
        }
        if scopes.contains(&"email")
            && let Some(email) = &user.profile.email
        {
            out.insert("email".into(), Value::String(email.clone()));
            // Set by an operator (`waxseal user add --email`), never by the user: that is the verification.
            out.insert("email_verified".into(), Value::Bool(true));
        }
        Ok(out)
    }
}
