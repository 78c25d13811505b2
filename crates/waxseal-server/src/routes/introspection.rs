//! The body of a `POST /oauth/introspect` answer (RFC 7662 §2.2), built from what the service learned.

use serde_json::{Map, Value, json};

use crate::service::Introspected;

/// `{"active": true, …}` for a token the client may see, `{"active": false}` for everything else.
pub(super) fn document(found: Option<Introspected>) -> Value {
    match found {
        Some(Introspected::Access(found)) => {
            let mut document = serde_json::to_value(&*found.claims)
                .ok()
                .and_then(|v| match v {
                    Value::Object(map) => Some(map),
                    _ => None,
                })
                .unwrap_or_default();
            document.insert("active".into(), true.into());
            // A DPoP-bound token keeps its `cnf` (RFC 9449 §6.2), which the claims carry; its type says so too.
            let token_type = if found.claims.registered.cnf.is_some() {
                "DPoP"
            } else {
                "Bearer"
            };
            document.insert("token_type".into(), token_type.into());
            if let Some(username) = found.username {
                document.insert("username".into(), username.into());
            }
            Value::Object(document)
        }
        Some(Introspected::Refresh(found)) => {
            let mut document = Map::new();
            document.insert("active".into(), true.into());
            document.insert("token_type".into(), "refresh_token".into());
            document.insert("client_id".into(), found.client_id.into());
            document.insert("sub".into(), found.sub.into());
            document.insert("username".into(), found.username.into());
            if let Some(scope) = found.scope {
                document.insert("scope".into(), scope.into());
            }
            document.insert("iat".into(), found.iat.into());
            document.insert("exp".into(), found.exp.into());
            Value::Object(document)
        }
        None => json!({ "active": false }),
    }
}
