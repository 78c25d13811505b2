//! The dump as it is written: a versioned JSON document, one plain serde type per kind of row, binary values as
//! base64url and times as Unix seconds. These types are the file format, kept apart from the conversion to and
//! from the store's records in [`super`], so that a change to the format shows as a change here (and a new
//! [`VERSION`]).

use serde::{Deserialize, Serialize};
use waxseal::jwe::ContentEncryption;

use crate::store::IdTokenEncryption;

/// The `format` member of every dump.
pub const FORMAT: &str = "waxseal-dump";
/// The version this build writes; it reads every version from 1 to this one and refuses newer ones. Version 2 added
/// what the refresh-token reuse interval needs ([`DumpSession::rotated`], [`DumpRefreshToken::parent_sha256`]); a
/// version 1 dump has neither, and its sessions go on as if none of them had rotated since the move.
pub const VERSION: u32 = 2;

/// A whole deployment, as `waxseal export` writes it. Binary values are base64url without padding; times are Unix
/// seconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dump {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`] when written by this build.
    pub version: u32,
    /// When it was written.
    pub exported_at: u64,
    /// Accounts.
    pub users: Vec<DumpUser>,
    /// OAuth clients.
    pub clients: Vec<DumpClient>,
    /// Registered resources (RFC 8707). Absent from dumps of deployments that registered none, which older builds
    /// then still read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<DumpResource>,
    /// Signing keys, sealed under the master key.
    pub signing_keys: Vec<DumpKey>,
    /// Keys revoked because they leaked (`waxseal keys revoke`): only their records, never the keys. Absent from
    /// dumps of deployments that never revoked one, which older builds then still read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked_signing_keys: Vec<DumpRevokedKey>,
    /// Sessions (token families).
    pub sessions: Vec<DumpSession>,
    /// Refresh tokens, as SHA-256 digests.
    pub refresh_tokens: Vec<DumpRefreshToken>,
    /// Revoked access-token ids.
    pub denied_jtis: Vec<DumpDenied>,
    /// Revoked sessions.
    pub denied_sids: Vec<DumpDenied>,
    /// Per-subject "not before" times.
    pub not_before: Vec<DumpDenied>,
}

/// A user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct DumpUser {
    pub id: String,
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    pub disabled: bool,
    pub scopes: Vec<String>,
    pub created_at: u64,
    /// Profile claims: written only when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// An OAuth client.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
#[allow(clippy::struct_excessive_bools)] // the file format: one member per column of `clients`
pub struct DumpClient {
    pub client_id: String,
    /// SHA-256 of the secret, base64url.
    pub secret_sha256: String,
    pub name: String,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub created_at: u64,
    /// May introspect every client's access tokens. Written only when set, so that a dump without such a client
    /// still imports into a build from before the permission existed (and one with it is refused there).
    #[serde(default, skip_serializing_if = "is_false")]
    pub may_introspect: bool,
    /// Browser flows (OpenID Connect sign-in): written only when set, like `may_introspect`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_uris: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Its registered web origins (CORS, `--web-origin`): written only when set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub web_origins: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub public: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub first_party: bool,
    /// The algorithm of its ID tokens when registered (`--id-token-alg`): written only when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_alg: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub pkce_exempt: bool,
    /// The public JWK its ID tokens are encrypted to (`--encryption-key`), as JSON, and their `enc`: written only
    /// when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_jwk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_enc: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub encrypt_access_tokens: bool,
    /// Its token requests must carry a DPoP proof (`--require-dpop`): written only when set.
    #[serde(default, skip_serializing_if = "is_false")]
    pub require_dpop: bool,
    /// Registered by itself (RFC 7591), so it expires when unused: written only when set.
    #[serde(default, skip_serializing_if = "is_false")]
    pub registered: bool,
    /// A registered client's last use, Unix seconds: written only when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<u64>,
}

impl DumpClient {
    /// Its ID-token encryption: key and `enc` both, or neither.
    pub(super) fn id_token_encryption(&self) -> crate::error::Result<Option<IdTokenEncryption>> {
        match (&self.encryption_jwk, &self.encryption_enc) {
            (None, None) => Ok(None),
            (Some(jwk), Some(enc)) => Ok(Some(IdTokenEncryption {
                jwk: jwk.clone(),
                enc: ContentEncryption::from_name(enc)
                    .map_err(|_| super::bad(format!("unknown content encryption {enc:?}")))?,
            })),
            _ => Err(super::bad(
                "a client has one of encryption_jwk and encryption_enc without the other",
            )),
        }
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_false(value: &bool) -> bool {
    !*value
}

/// A signing key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct DumpKey {
    pub kid: String,
    pub alg: String,
    /// AES-256-GCM under the master key (nonce, ciphertext, tag; the kid as associated data), base64url.
    pub sealed_private_key: String,
    pub created_at: u64,
    pub activates_at: u64,
}

/// The record of a revoked signing key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct DumpRevokedKey {
    pub kid: String,
    pub alg: String,
    pub created_at: u64,
    pub revoked_at: u64,
}

/// A registered resource (RFC 8707).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct DumpResource {
    pub uri: String,
    pub scopes: Vec<String>,
    pub created_at: u64,
}

/// A session.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct DumpSession {
    pub sid: String,
    pub user_id: String,
    pub created_at: u64,
    pub expires_at: u64,
    pub revoked_at: Option<u64>,
    pub client_id: Option<String>,
    pub scope: Option<String>,
    /// The DPoP key thumbprint its refresh tokens are bound to: written only when bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
    /// The registered resource its access tokens are for (their only `aud`): written only when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The refresh token the session rotated most recently; absent when it never rotated (or in a version 1 dump).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated: Option<DumpRotated>,
}

/// The refresh token a session rotated most recently: the only one a reuse interval lets come back.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DumpRotated {
    /// SHA-256 of the token, base64url.
    pub sha256: String,
    /// When it was rotated.
    pub at: u64,
    /// How many pairs it yielded again since, within the reuse interval.
    pub reissues: u32,
}

/// A refresh token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct DumpRefreshToken {
    /// SHA-256 of the opaque token, base64url.
    pub sha256: String,
    pub sid: String,
    pub created_at: u64,
    pub expires_at: u64,
    pub used_at: Option<u64>,
    /// SHA-256 of the token it was issued for, base64url; absent for a session's first token (or in a version 1
    /// dump).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_sha256: Option<String>,
}

/// A denylist entry: an id and a time.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct DumpDenied {
    pub id: String,
    pub time: u64,
}
