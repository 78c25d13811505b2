//! Storage behind traits, so the flows in [`crate::service`] do not know which database holds their state.
//!
//! Every method that must be atomic is one method here (e.g. [`SessionStore::rotate_refresh_token`]), so each
//! backend can implement it as one transaction instead of the service composing reads and writes that could race.
//! The embedded default is [`sqlite::SqliteStore`]; [`postgres::PostgresStore`] is for several instances sharing
//! one database.

pub mod gate;
pub mod postgres;
mod sql;
pub mod sqlite;

use std::future::Future;
use std::pin::Pin;

/// A boxed future, so the store traits stay object-safe (`Arc<dyn Store>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a storage backend can fail with. Details are for logs; none of them carries a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A unique constraint refused the write (e.g. the username is taken).
    #[error("already exists")]
    Conflict,
    /// The database cannot be reached (connection refused or lost, server shutting down, pool exhausted): the
    /// request may succeed when retried later.
    #[error("the database is unreachable: {0}")]
    Unavailable(String),
    /// The backend failed (I/O, corruption, a migration that does not apply).
    #[error("storage backend failed: {0}")]
    Backend(String),
}

/// What opening a store applied of its embedded migrations (`waxseal migrate` prints it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Migrated {
    /// Version and description of each migration applied now, in order.
    pub applied: Vec<(i64, String)>,
    /// How many had been applied before.
    pub already: usize,
}

/// Unix seconds as the databases' 64-bit signed integer, saturating.
pub(crate) fn ts(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// A stored 64-bit time as Unix seconds (a negative one, which nothing writes, as 0).
pub(crate) fn secs(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) fn opt_secs(v: Option<i64>) -> Option<u64> {
    v.map(secs)
}

/// A stored refresh token's `parent_hash` (the token it was issued for; `NULL` for a session's first).
pub(crate) fn parent_digest(v: Option<Vec<u8>>) -> StoreResult<Option<[u8; 32]>> {
    v.map(|p| {
        p.try_into().map_err(|_| {
            StoreError::Backend("a refresh token's parent hash is not 32 bytes".into())
        })
    })
    .transpose()
}

/// Whether the kids read from the store are exactly `seen`, in any order.
pub(crate) fn same_kids(mut stored: Vec<String>, seen: &[String]) -> bool {
    let mut seen = seen.to_vec();
    stored.sort_unstable();
    seen.sort_unstable();
    stored == seen
}

/// The result of every store operation.
pub type StoreResult<T> = Result<T, StoreError>;

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
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("password_hash", &"<redacted>")
            .field("disabled", &self.disabled)
            .field("scopes", &self.scopes)
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

/// What presenting a refresh token led to, decided inside one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was unused and valid: it is now consumed and the successor stored.
    Rotated(TokenFamily),
    /// The token had already been used: the family is now revoked (and its `sid` denied until `until`).
    Reused(TokenFamily),
    /// The token had already been used, but it is the one its family rotated most recently and it came back within
    /// the reuse interval and its bound ([`ReuseAllowance`]): the successor is stored beside the one its first
    /// presentation got, which stays valid too. The session goes on.
    Reissued(TokenFamily),
    /// The token or its family has expired.
    Expired,
    /// The family was already revoked.
    Revoked,
    /// No such token.
    Unknown,
}

/// How a consumed refresh token presented again may still yield a new pair instead of revoking its session: the
/// reuse interval (`Config::refresh_reuse_interval`), for a client whose refresh answer was lost and which retries
/// with the same token.
///
/// Only the token its family rotated most recently qualifies, at most `max_reissues` times and only for `interval`
/// seconds after that rotation. [`ReuseAllowance::NONE`] (the default) makes every second presentation reuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReuseAllowance {
    /// Seconds after its rotation during which the token may be presented again; 0: never.
    pub interval: u64,
    /// How many more pairs it may yield in that time.
    pub max_reissues: u32,
}

impl ReuseAllowance {
    /// No reuse interval: any second presentation of a token revokes its session.
    pub const NONE: ReuseAllowance = ReuseAllowance {
        interval: 0,
        max_reissues: 0,
    };

    /// Whether any re-presentation can be allowed at all.
    pub fn allows_any(self) -> bool {
        self.interval > 0 && self.max_reissues > 0
    }
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
}

impl GrantType {
    /// Every grant type the server implements.
    pub const ALL: [GrantType; 3] = [
        GrantType::Password,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
    ];

    /// The `grant_type` value of RFC 6749.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::Password => "password",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
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
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("client_id", &self.client_id)
            .field("name", &self.name)
            .field("grant_types", &self.grant_types)
            .field("scopes", &self.scopes)
            .field("may_introspect", &self.may_introspect)
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

/// The record of a key withdrawn by [`KeyStore::revoke_key_if_unchanged`]: the key itself is gone, its kid is kept
/// for good so that the key can never be stored again (an import of an older dump is refused).
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

/// User accounts.
pub trait UserStore: Send + Sync {
    /// Creates a user; [`StoreError::Conflict`] when the username is taken.
    fn create_user<'a>(&'a self, user: &'a User) -> BoxFuture<'a, StoreResult<()>>;
    /// Looks a user up by login name.
    fn user_by_name<'a>(&'a self, username: &'a str) -> BoxFuture<'a, StoreResult<Option<User>>>;
    /// Looks a user up by id.
    fn user_by_id<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<Option<User>>>;
    /// Enables or disables a user; `false` when there is no such user.
    fn set_user_disabled<'a>(
        &'a self,
        username: &'a str,
        disabled: bool,
    ) -> BoxFuture<'a, StoreResult<bool>>;
    /// Every user, by login name.
    fn list_users(&self) -> BoxFuture<'_, StoreResult<Vec<User>>>;
    /// Replaces a user's password hash; `false` when there is no such user.
    fn set_password_hash<'a>(
        &'a self,
        user_id: &'a str,
        password_hash: &'a str,
    ) -> BoxFuture<'a, StoreResult<bool>>;
    /// Deletes a user and their sessions (the denylist entries stay); `false` when there is no such user.
    fn delete_user<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, StoreResult<bool>>;
}

/// OAuth clients.
pub trait ClientStore: Send + Sync {
    /// Creates a client; [`StoreError::Conflict`] when the id is taken.
    fn create_client<'a>(&'a self, client: &'a Client) -> BoxFuture<'a, StoreResult<()>>;
    /// Looks a client up by `client_id`.
    fn client_by_id<'a>(&'a self, client_id: &'a str)
    -> BoxFuture<'a, StoreResult<Option<Client>>>;
    /// Every client, by name then `client_id`.
    fn list_clients(&self) -> BoxFuture<'_, StoreResult<Vec<Client>>>;
    /// Replaces a client's secret digest; `false` when there is no such client.
    fn set_client_secret_hash<'a>(
        &'a self,
        client_id: &'a str,
        secret_hash: &'a [u8; 32],
    ) -> BoxFuture<'a, StoreResult<bool>>;
    /// In one transaction: revokes every session the client started at `now` (denying each `sid` until
    /// `deny_until`), sets the "not before" of the client's own subject (its client-credentials tokens) to
    /// `not_before`, and deletes the client. Returns the revoked sids, or `None` when there is no such client
    /// (nothing changes then).
    fn delete_client<'a>(
        &'a self,
        client_id: &'a str,
        now: u64,
        deny_until: u64,
        not_before: u64,
    ) -> BoxFuture<'a, StoreResult<Option<Vec<String>>>>;
}

/// What a logout ends ([`SessionStore::logout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutScope<'a> {
    /// Every session of the user, and every access token issued to them before the logout (their "not before").
    Everywhere,
    /// The access token's session `sid`, and the session of the refresh token with digest `refresh` if that
    /// session is the user's.
    Sessions {
        /// The `sid` of the access token presented.
        sid: Option<&'a str>,
        /// SHA-256 of the refresh token presented with it.
        refresh: Option<&'a [u8; 32]>,
    },
}

/// A logout, carried out by [`SessionStore::logout`] in one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Logout<'a> {
    /// The user logging out: the access token's `sub`.
    pub user_id: &'a str,
    /// The access token presented: its `jti`, denied until `jti_until`.
    pub jti: &'a str,
    /// Unix seconds: when the access token has expired for good.
    pub jti_until: u64,
    /// Which sessions end.
    pub scope: LogoutScope<'a>,
    /// Unix seconds: the time of the logout.
    pub now: u64,
    /// Unix seconds: until when each ended session's `sid` stays denied.
    pub deny_until: u64,
}

/// Sessions (token families) and their refresh tokens.
pub trait SessionStore: Send + Sync {
    /// Stores a new family with its first refresh token, atomically.
    fn create_session<'a>(
        &'a self,
        family: &'a TokenFamily,
        first: &'a RefreshTokenRecord,
    ) -> BoxFuture<'a, StoreResult<()>>;
    /// In one transaction: consumes the token with digest `presented` if it is unused and unexpired at `now` and
    /// stores `successor` in its family; if it was already used, revokes the family and denies its `sid` until
    /// `deny_until`. That is [`SessionStore::rotate_refresh_token_with_reuse`] without a reuse interval.
    fn rotate_refresh_token<'a>(
        &'a self,
        presented: &'a [u8; 32],
        successor: &'a RefreshTokenRecord,
        now: u64,
        deny_until: u64,
    ) -> BoxFuture<'a, StoreResult<Rotation>> {
        self.rotate_refresh_token_with_reuse(
            presented,
            successor,
            now,
            deny_until,
            ReuseAllowance::NONE,
        )
    }

    /// [`SessionStore::rotate_refresh_token`] with a reuse interval, in one transaction:
    ///
    /// - an unused, unexpired token is consumed and `successor` stored, if its family still has it on its live
    ///   branch (the token it was issued for is the one the family rotated most recently); a token of a superseded
    ///   branch — a sibling issued by [`Rotation::Reissued`] after another sibling was rotated — revokes the family;
    /// - a consumed token that is its family's most recently rotated one, presented less than `reuse.interval`
    ///   seconds after that rotation and fewer than `reuse.max_reissues` times since, stores `successor` beside its
    ///   first successor ([`Rotation::Reissued`]); the count is taken by one conditional `UPDATE` of the family row,
    ///   so concurrent presentations through any number of processes never exceed it;
    /// - any other consumed token revokes the family and denies its `sid` until `deny_until`.
    fn rotate_refresh_token_with_reuse<'a>(
        &'a self,
        presented: &'a [u8; 32],
        successor: &'a RefreshTokenRecord,
        now: u64,
        deny_until: u64,
        reuse: ReuseAllowance,
    ) -> BoxFuture<'a, StoreResult<Rotation>>;
    /// The family of the refresh token with this digest, if any.
    fn family_of_token<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFuture<'a, StoreResult<Option<TokenFamily>>>;
    /// The refresh token with this digest, whether it was used, and its family: one read by primary key, for
    /// introspection (RFC 7662). Changes nothing.
    fn refresh_token_state<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFuture<'a, StoreResult<Option<(StoredRefreshToken, TokenFamily)>>>;
    /// Revokes one session and denies its `sid` until `deny_until`.
    fn revoke_session<'a>(
        &'a self,
        sid: &'a str,
        now: u64,
        deny_until: u64,
    ) -> BoxFuture<'a, StoreResult<()>>;
    /// Revokes every session of a user, denying each `sid` until `deny_until`, and sets the user's "not before"
    /// to `now`. Returns the revoked sids.
    fn revoke_all_sessions<'a>(
        &'a self,
        user_id: &'a str,
        now: u64,
        deny_until: u64,
    ) -> BoxFuture<'a, StoreResult<Vec<String>>>;
    /// In one transaction: denies the access token's `jti`, then ends what `logout.scope` names — as
    /// [`SessionStore::revoke_all_sessions`] does for [`LogoutScope::Everywhere`], as
    /// [`SessionStore::revoke_session`] does for each session of [`LogoutScope::Sessions`]. Returns the sids it
    /// revoked (for `Sessions`: the access token's, and the refresh token's when it is another session of the
    /// same user).
    fn logout<'a>(&'a self, logout: &'a Logout<'a>) -> BoxFuture<'a, StoreResult<Vec<String>>>;
}

/// Signing keys.
pub trait KeyStore: Send + Sync {
    /// Stores a new key.
    fn insert_key<'a>(&'a self, key: &'a StoredKey) -> BoxFuture<'a, StoreResult<()>>;
    /// Stores `key` only if the stored keys are still exactly those whose kids are `seen` (in any order), checked
    /// and inserted under a lock every process on the store takes (PostgreSQL: a transaction-scoped advisory
    /// lock; SQLite: its write lock). `false`: another process changed the keys since they were read — nothing is
    /// stored, and the caller decides again from a fresh read. This is how several instances agree on one key
    /// rotation: each decides from what it read, and only the first decision stored counts.
    fn insert_key_if_unchanged<'a>(
        &'a self,
        key: &'a StoredKey,
        seen: &'a [String],
    ) -> BoxFuture<'a, StoreResult<bool>>;
    /// Every key, by activation time; never a revoked one (even if a row of that kid were stored again).
    fn keys(&self) -> BoxFuture<'_, StoreResult<Vec<StoredKey>>>;
    /// Withdraws a leaked key, under the same lock as [`KeyStore::insert_key_if_unchanged`] and only if the stored
    /// keys are still exactly `seen`: in one transaction, deletes the key `revoked.kid` (its private half is
    /// destroyed with the row), records `revoked` for good, and stores `replacement` if given. `false`: another
    /// process changed the keys since they were read — nothing is written.
    fn revoke_key_if_unchanged<'a>(
        &'a self,
        revoked: &'a RevokedKey,
        replacement: Option<&'a StoredKey>,
        seen: &'a [String],
    ) -> BoxFuture<'a, StoreResult<bool>>;
    /// Every revoked key, in order of revocation.
    fn revoked_keys(&self) -> BoxFuture<'_, StoreResult<Vec<RevokedKey>>>;
    /// Deletes a key (its private half is destroyed with the row); no error when there is none.
    fn delete_key<'a>(&'a self, kid: &'a str) -> BoxFuture<'a, StoreResult<()>>;
}

/// The persisted side of the denylist.
pub trait DenylistStore: Send + Sync {
    /// Denies an access token id until `until`.
    fn deny_jti<'a>(&'a self, jti: &'a str, until: u64) -> BoxFuture<'a, StoreResult<()>>;
    /// Everything still in force at `now`.
    fn load_denylist(&self, now: u64) -> BoxFuture<'_, StoreResult<DenylistSnapshot>>;
}

/// Rows that no request can need any more, which [`PruneStore::prune_batch`] deletes. Which rows those are at a
/// given time is the service's policy (`crate::service::prune`); the store only deletes what is older than the
/// cutoff it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prunable {
    /// Refresh tokens never used whose idle limit is at or before the cutoff. Consumed tokens are never pruned on
    /// their own: presenting one again is how reuse is detected, so they go with their family.
    UnusedRefreshTokens,
    /// Every refresh token of a family whose absolute limit is at or before the cutoff (deleted before the family,
    /// so deleting a family never cascades into an unbounded number of rows), families in order of that limit.
    TokensOfEndedFamilies,
    /// Token families whose absolute limit is at or before the cutoff and which hold no refresh token any more,
    /// looked for among the first `limit` ended families only: fewer than `limit` deleted means none is left only
    /// once their tokens are gone. Run alternately with [`Prunable::TokensOfEndedFamilies`].
    EndedFamilies,
    /// Denied access-token ids denied until at or before the cutoff.
    DeniedJtis,
    /// Denied sessions denied until at or before the cutoff.
    DeniedSids,
    /// "Not before" entries set at or before the cutoff.
    UserNotBefore,
}

/// Deleting rows nobody needs any more, a bounded batch at a time.
pub trait PruneStore: Send + Sync {
    /// Deletes at most `limit` rows of kind `what` at or before `cutoff` (Unix seconds) in one short write, and
    /// returns how many it deleted: fewer than `limit` means none is left. A batch holds the write lock only as long
    /// as deleting `limit` rows takes, so pruning a large backlog never stalls logins and refreshes.
    fn prune_batch(
        &self,
        what: Prunable,
        cutoff: u64,
        limit: u32,
    ) -> BoxFuture<'_, StoreResult<u64>>;
}

/// A refresh token with whether it was consumed: what [`TransferStore`] moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRefreshToken {
    /// The token as [`SessionStore`] stores it (`expires_at` already capped by its family's end).
    pub record: RefreshTokenRecord,
    /// When it was presented and rotated; a consumed token is kept so that presenting it again is detected.
    pub used_at: Option<u64>,
    /// SHA-256 of the token it was issued for; `None` for a session's first token.
    pub parent: Option<[u8; 32]>,
}

/// Which refresh token a family rotated most recently: the only one a reuse interval lets come back
/// ([`SessionStore::rotate_refresh_token_with_reuse`]).
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

/// Copying everything in or out at once.
pub trait TransferStore: Send + Sync {
    /// Every row, read in one transaction (a consistent snapshot even while the server runs).
    fn export_all(&self) -> BoxFuture<'_, StoreResult<Contents>>;
    /// In one transaction: writes every row of `contents`. Refused — `false`, nothing written — when the store
    /// already holds a user, client, key or session, unless `replace`, which deletes everything first — except the
    /// records of revoked keys, which stay.
    fn import_all<'a>(
        &'a self,
        contents: &'a Contents,
        replace: bool,
    ) -> BoxFuture<'a, StoreResult<bool>>;
}

/// Everything the server stores.
pub trait Store:
    UserStore + ClientStore + SessionStore + KeyStore + DenylistStore + PruneStore + TransferStore
{
    /// Closes connections; the store is unusable afterwards.
    fn close(&self) -> BoxFuture<'_, ()>;
    /// Answers a trivial query: `Ok` when the backend can serve requests (the readiness probe).
    fn ping(&self) -> BoxFuture<'_, StoreResult<()>>;
    /// Whether the database accepts connections now, asked without the pool (which may be busy, or hold
    /// connections a restart has cut): what [`gate::GatedStore`] probes with, under its own time limit. By
    /// default [`Store::ping`].
    fn probe(&self) -> BoxFuture<'_, StoreResult<()>> {
        self.ping()
    }
}
