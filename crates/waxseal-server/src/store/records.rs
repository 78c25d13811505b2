//! The records the store keeps: users, clients, sessions and their refresh tokens, signing keys, the denylist, and
//! all of them together for a transfer. Plain data, with the secrets they hold (password hashes, client secret
//! hashes, sealed keys) left out of `Debug`; what the backends do with them is in the traits of [`super`].

/// A user account.
#[derive(Clone)]
pub struct User {
    /// Stable, random identifier; the access tokens' `sub`.
    pub id: String,
    /// Login name, unique.
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// A disabled user cannot log in or refresh.
    pub disabled: bool,
    /// Scopes granted to the user's tokens.
    pub scopes: Vec<String>,
    /// Unix seconds.
    pub created_at: u64,
    /// What OpenID Connect tells clients about the user (userinfo, ID tokens).
    pub profile: Profile,
}

/// A user's profile claims (OpenID Connect Core §5.1); each absent until an operator sets it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// `email`, shown to clients granted the `email` scope. Verified by whoever set it: an operator
    /// (`waxseal user add --email`), so `email_verified` is true.
    pub email: Option<String>,
    /// `name`, the full name for display, shown to clients granted the `profile` scope.
    pub name: Option<String>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("password_hash", &"<redacted>")
            .field("disabled", &self.disabled)
            .field("scopes", &self.scopes)
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

/// A token family: one login session, identified by the `sid` its access tokens carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFamily {
    /// Session id.
    pub sid: String,
    /// The user the session belongs to.
    pub user_id: String,
    /// Unix seconds.
    pub created_at: u64,
    /// The absolute limit: no refresh after this, however active the session.
    pub expires_at: u64,
    /// Set once the session is revoked (logout, reuse detected).
    pub revoked_at: Option<u64>,
    /// The OAuth client the session was started by; `None` for a `POST /login` session.
    pub client_id: Option<String>,
    /// The space-separated scope granted at the start; `None`: the user's current scopes (`POST /login`).
    pub scope: Option<String>,
    /// The thumbprint of the DPoP key the session's refresh tokens are bound to (RFC 9449 §5: a public client
    /// that sent a proof when the session started); a refresh needs a proof by that key. `None`: not bound.
    pub dpop_jkt: Option<String>,
    /// The registered resource (RFC 8707) the session's access tokens are for, their only `aud`; a refresh keeps
    /// it. `None`: the server's own API (the configured audience).
    pub resource: Option<String>,
}

/// A resource server tokens may be asked for with `resource` (RFC 8707): an absolute URI, which becomes the only
/// `aud` of such a token, and the scopes it accepts, to which the token's scope is narrowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// The absolute URI (https, or http on a loopback host; no fragment), exactly as registered.
    pub uri: String,
    /// The scopes it accepts.
    pub scopes: Vec<String>,
    /// Unix seconds.
    pub created_at: u64,
}

/// A refresh token as stored: its SHA-256 digest, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    /// SHA-256 of the opaque token.
    pub hash: [u8; 32],
    /// Its family.
    pub sid: String,
    /// Unix seconds.
    pub created_at: u64,
    /// The idle limit.
    pub expires_at: u64,
}

/// An OAuth grant type (RFC 6749 §4) a client may be allowed to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantType {
    /// Resource owner password credentials (RFC 6749 §4.3).
    Password,
    /// Refresh token (RFC 6749 §6).
    RefreshToken,
    /// Client credentials (RFC 6749 §4.4).
    ClientCredentials,
    /// Authorization code (RFC 6749 §4.1), with PKCE (RFC 7636): OpenID Connect sign-in.
    AuthorizationCode,
}

impl GrantType {
    /// Every grant type the server implements.
    pub const ALL: [GrantType; 4] = [
        GrantType::Password,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
        GrantType::AuthorizationCode,
    ];

    /// The `grant_type` value of RFC 6749.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::Password => "password",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::AuthorizationCode => "authorization_code",
        }
    }

    /// Parses a `grant_type` value; `None` for one the server does not implement.
    pub fn parse(value: &str) -> Option<GrantType> {
        GrantType::ALL.into_iter().find(|g| g.as_str() == value)
    }
}

/// An OAuth client as stored: the SHA-256 of its secret, never the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Client {
    /// The public identifier (`client_id`).
    pub client_id: String,
    /// SHA-256 of the client secret.
    pub secret_hash: [u8; 32],
    /// A name for people.
    pub name: String,
    /// The grants the client may use.
    pub grant_types: Vec<GrantType>,
    /// The most its tokens may carry.
    pub scopes: Vec<String>,
    /// Unix seconds.
    pub created_at: u64,
    /// Whether it may introspect (RFC 7662) the access tokens of every client, as a resource server does; without
    /// it, a client introspects only its own tokens.
    pub may_introspect: bool,
    /// How the client's browser flows (authorization code, logout) may go.
    pub web: WebClient,
    /// Whether the access tokens issued to it are encrypted under the server's own key (a nested JWT: the signed
    /// token inside `dir` + `A256GCM`), so their claims are hidden from the client and from whoever it hands them
    /// to; the server opens them (`verify_access`, introspection), resource servers ask it through introspection.
    pub encrypt_access_tokens: bool,
    /// Whether every token request of the client must carry a DPoP proof (RFC 9449 §5.2,
    /// `dpop_bound_access_tokens`), so that none of its access tokens is a bearer token.
    pub require_dpop: bool,
}

/// What a client that signs people in through the browser registered: where they may be sent back, whether it can
/// keep a secret, whether it is the operator's own. All empty or false for a client without browser flows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)] // independent properties of a client, not a state machine
pub struct WebClient {
    /// The only `redirect_uri` values `/authorize` accepts, compared exactly (RFC 9700 §2.1).
    pub redirect_uris: Vec<String>,
    /// The only `post_logout_redirect_uri` values RP-initiated logout accepts, compared exactly.
    pub post_logout_redirect_uris: Vec<String>,
    /// The origins (`scheme://host[:port]`, as browsers send `Origin`) whose pages may read this client's answers
    /// from the token, userinfo and revoke endpoints (CORS), as registered; empty: a public client gets its http(s)
    /// redirect URIs' origins, a confidential one none (see `service::web_origin`).
    pub web_origins: Vec<String>,
    /// A public client (`token_endpoint_auth_method: none`, a browser or mobile app): it has no secret to present,
    /// so PKCE is what binds its code to it.
    pub public: bool,
    /// The operator's own application: its users are not asked for consent.
    pub first_party: bool,
    /// The algorithm of its ID tokens: RS256 (which OpenID Connect Core §15.1 requires a provider to offer), or
    /// `None` for the server's signing algorithm.
    pub id_token_alg: Option<waxseal::Algorithm>,
    /// A confidential client allowed to leave PKCE out of its authorization requests (its secret authenticates the
    /// exchange); a challenge it does send is checked as any other. Never a public client.
    pub pkce_exempt: bool,
    /// The client's public key its ID tokens are encrypted to (nested JWTs, OpenID Connect Core §10.2); `None`:
    /// signed only.
    pub id_token_encryption: Option<IdTokenEncryption>,
    /// Registered by the client itself (RFC 7591, `POST /register`), not by the operator: deleted by the prune
    /// task once unused for [`crate::Config::registered_client_expiry`]. Operator-added clients never expire.
    pub registered: bool,
    /// Unix seconds: a registered client's last authorization or token request, as last written (at most once a
    /// day); `None`: not used since it was registered.
    pub last_used_at: Option<u64>,
}

/// Where a client's ID tokens are encrypted to: its public key and the content encryption it registered
/// (`id_token_encrypted_response_alg` is the key's `alg`, `id_token_encrypted_response_enc` is `enc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTokenEncryption {
    /// The client's public JWK as JSON: an asymmetric JWE key-management `alg` (RSA-OAEP*, ECDH-ES*), checked at
    /// registration, never a private or a shared key.
    pub jwk: String,
    /// The content encryption (`enc`) of its ID tokens.
    pub enc: waxseal::jwe::ContentEncryption,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("client_id", &self.client_id)
            .field("name", &self.name)
            .field("grant_types", &self.grant_types)
            .field("scopes", &self.scopes)
            .field("may_introspect", &self.may_introspect)
            .field("web", &self.web)
            .field("encrypt_access_tokens", &self.encrypt_access_tokens)
            .field("require_dpop", &self.require_dpop)
            .finish_non_exhaustive()
    }
}

/// A signing key as stored: the private key encrypted under the master key.
#[derive(Clone)]
pub struct StoredKey {
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// JWS algorithm name.
    pub alg: String,
    /// AES-256-GCM `nonce || ciphertext || tag`, with the kid as associated data.
    pub encrypted_private_key: Vec<u8>,
    /// Unix seconds: published in the JWKS from then on.
    pub created_at: u64,
    /// Unix seconds: signs from then on, until a key with a later activation time activates.
    pub activates_at: u64,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("created_at", &self.created_at)
            .field("activates_at", &self.activates_at)
            .finish_non_exhaustive()
    }
}

/// The record of a key withdrawn by
/// [`KeyStore::revoke_key_if_unchanged`](super::KeyStore::revoke_key_if_unchanged): the key itself is gone, its
/// kid is kept for good so that the key can never be stored again (an import of an older dump is refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedKey {
    /// The key id it had.
    pub kid: String,
    /// The JWS algorithm it signed with.
    pub alg: String,
    /// Unix seconds: when it was created.
    pub created_at: u64,
    /// Unix seconds: when it was revoked.
    pub revoked_at: u64,
}

/// Denylist entries: the persisted denylist loaded into memory at start, or revocations being announced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DenylistSnapshot {
    /// Revoked access-token ids, with the time until which they must stay denied (their `exp`).
    pub jtis: Vec<(String, u64)>,
    /// Revoked sessions, with the time until which they must stay denied.
    pub sids: Vec<(String, u64)>,
    /// Per-user "not before": access tokens issued before this are refused.
    pub not_before: Vec<(String, u64)>,
}

/// A refresh token with whether it was consumed: what [`TransferStore`](super::TransferStore) moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRefreshToken {
    /// The token as [`SessionStore`](super::SessionStore) stores it (`expires_at` already capped by its family's
    /// end).
    pub record: RefreshTokenRecord,
    /// When it was presented and rotated; a consumed token is kept so that presenting it again is detected.
    pub used_at: Option<u64>,
    /// SHA-256 of the token it was issued for; `None` for a session's first token.
    pub parent: Option<[u8; 32]>,
}

/// Which refresh token a family rotated most recently: the only one a reuse interval lets come back
/// ([`SessionStore::rotate_refresh_token_with_reuse`](super::SessionStore::rotate_refresh_token_with_reuse)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyRotation {
    /// The family.
    pub sid: String,
    /// SHA-256 of the token rotated most recently.
    pub hash: [u8; 32],
    /// Unix seconds: when it was rotated.
    pub rotated_at: u64,
    /// How many pairs it yielded again since, within the reuse interval.
    pub reissues: u32,
}

/// Every row the server stores, for moving a deployment to another database (`waxseal export` / `import`).
#[derive(Debug, Clone, Default)]
pub struct Contents {
    /// Users.
    pub users: Vec<User>,
    /// OAuth clients.
    pub clients: Vec<Client>,
    /// Registered resources (RFC 8707).
    pub resources: Vec<Resource>,
    /// Signing keys, still sealed under the master key.
    pub keys: Vec<StoredKey>,
    /// The records of revoked keys, which an import adds to the target's and never deletes.
    pub revoked_keys: Vec<RevokedKey>,
    /// Sessions, revoked or not.
    pub families: Vec<TokenFamily>,
    /// Refresh tokens, consumed or not.
    pub refresh_tokens: Vec<StoredRefreshToken>,
    /// For each family that has rotated a token, the one it rotated most recently.
    pub rotations: Vec<FamilyRotation>,
    /// Denied jtis and sids and "not before" times, every row (also those no longer in force).
    pub denylist: DenylistSnapshot,
}

/// A browser's sign-in (the SSO session), found by the SHA-256 of the secret in its cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoSession {
    /// Public identifier: the ID tokens' `sid`, how `/account` names it.
    pub id: String,
    /// SHA-256 of the cookie's secret.
    pub hash: [u8; 32],
    /// The user signed in.
    pub user_id: String,
    /// Unix seconds: when the user last entered their password (`auth_time`).
    pub auth_time: u64,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds: the session's end, however active it is.
    pub expires_at: u64,
    /// Unix seconds: when it was ended (logout, `/account`, password change).
    pub ended_at: Option<u64>,
    /// The client address it was started from.
    pub address: Option<String>,
    /// The browser's `User-Agent` when it was started, truncated.
    pub user_agent: Option<String>,
}

/// That an authorization code was presented: its id (never the code), the session (`sid`) its exchange starts and
/// a second presentation revokes (RFC 6749 §4.1.2), and when the code expires, after which the record can go.
/// Codes themselves are sealed and carried by the client ([`crate::service::code`]): only their use is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsedCode {
    /// The code's random id.
    pub id: [u8; 32],
    /// The token family the code's exchange starts.
    pub sid: String,
    /// Unix seconds: the code's expiry.
    pub expires_at: u64,
}

/// The session a code's exchange starts: the token family (its `sid` is the code's), the SSO session it was
/// started from, and its first refresh token if it has one.
#[derive(Debug, Clone, Copy)]
pub struct AppSessionStart<'a> {
    /// The new token family.
    pub family: &'a TokenFamily,
    /// The SSO session the code was issued in.
    pub sso_id: &'a str,
    /// The first refresh token, when the session may be refreshed.
    pub first: Option<&'a RefreshTokenRecord>,
}

/// A live token family as `/account` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSession {
    /// The session id (`sid`).
    pub sid: String,
    /// The client that started it; `None` for a `POST /login` session.
    pub client_id: Option<String>,
    /// The SSO session it was started from, if any.
    pub sso_id: Option<String>,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds: when it last rotated a refresh token, if ever.
    pub refreshed_at: Option<u64>,
}
