//! Storage behind traits, so the flows in [`crate::service`] do not know which database holds their state.
//!
//! Every method that must be atomic is one method here (e.g. [`SessionStore::rotate_refresh_token`]), so each
//! backend can implement it as one transaction instead of the service composing reads and writes that could race.
//! The embedded default is [`sqlite::SqliteStore`]; [`postgres::PostgresStore`] is for several instances sharing
//! one database.

pub mod gate;
pub mod postgres;
mod records;
mod sql;
pub mod sqlite;

pub use records::{
    AppSession, AppSessionStart, Client, Contents, DenylistSnapshot, FamilyRotation, GrantType,
    IdTokenEncryption, Profile, RefreshTokenRecord, Resource, RevokedKey, SsoSession, StoredKey,
    StoredRefreshToken, TokenFamily, UsedCode, User, WebClient,
};

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
    /// At most a few clients that may allow `origin` (a CORS preflight's): those that registered it, and public
    /// clients that registered none with a redirect URI under it. The caller checks each exactly.
    fn clients_with_web_origin<'a>(
        &'a self,
        origin: &'a str,
    ) -> BoxFuture<'a, StoreResult<Vec<WebClient>>>;
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
    /// Registers a resource (RFC 8707); [`StoreError::Conflict`] when its URI is registered already.
    fn create_resource<'a>(&'a self, resource: &'a Resource) -> BoxFuture<'a, StoreResult<()>>;
    /// The resource registered under exactly this URI.
    fn resource_by_uri<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, StoreResult<Option<Resource>>>;
    /// Every registered resource, by URI.
    fn list_resources(&self) -> BoxFuture<'_, StoreResult<Vec<Resource>>>;
    /// Removes a resource; `false` when there is none with this URI. Tokens already issued for it keep their
    /// `aud` until they expire; a session bound to it can no longer be refreshed.
    fn delete_resource<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, StoreResult<bool>>;
    /// Records that a registered client was used at `now` (nothing for an operator-added or unknown client).
    fn touch_client<'a>(&'a self, client_id: &'a str, now: u64) -> BoxFuture<'a, StoreResult<()>>;
    /// At most `limit` registered clients whose last use (or, never used, their registration) is at or before
    /// `cutoff`, by id.
    fn unused_registered_clients(
        &self,
        cutoff: u64,
        limit: u32,
    ) -> BoxFuture<'_, StoreResult<Vec<String>>>;
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
    /// Records of used authorization codes whose codes expired at or before the cutoff.
    Codes,
    /// SSO sessions that expired or were ended at or before the cutoff.
    SsoSessions,
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

/// OpenID Connect sign-in: browsers' SSO sessions, authorization codes, remembered consent, profile claims.
pub trait SignInStore: Send + Sync {
    /// Stores a new SSO session.
    fn create_sso_session<'a>(&'a self, session: &'a SsoSession) -> BoxFuture<'a, StoreResult<()>>;
    /// The SSO session whose cookie secret has this SHA-256, ended or not, with its user (one read: every
    /// signed-in page and every `/authorize` asks for both).
    fn sso_session<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFuture<'a, StoreResult<Option<(SsoSession, User)>>>;
    /// The SSO session the token family `sid` was started from, ended or not; `None` for a family not started
    /// by a browser sign-in.
    fn sso_session_of_family<'a>(
        &'a self,
        sid: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<SsoSession>>>;
    /// The user's SSO sessions neither ended nor expired at `now`, newest first.
    fn sso_sessions_of_user<'a>(
        &'a self,
        user_id: &'a str,
        now: u64,
    ) -> BoxFuture<'a, StoreResult<Vec<SsoSession>>>;
    /// The user's token families neither revoked nor expired at `now`, newest first.
    fn app_sessions_of_user<'a>(
        &'a self,
        user_id: &'a str,
        now: u64,
    ) -> BoxFuture<'a, StoreResult<Vec<AppSession>>>;
    /// In one transaction: ends the user's SSO session `id` (every live one of the user's when `None`) at `now`,
    /// and revokes the token families started from it, denying their sids until `deny_until`. Returns the revoked
    /// sids, or `None` when `id` names no live session of this user (nothing changes then).
    fn end_sso_sessions<'a>(
        &'a self,
        user_id: &'a str,
        id: Option<&'a str>,
        now: u64,
        deny_until: u64,
    ) -> BoxFuture<'a, StoreResult<Option<Vec<String>>>>;
    /// The scopes the user allowed the client so far, if ever.
    fn consented_scope<'a>(
        &'a self,
        user_id: &'a str,
        client_id: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<Vec<String>>>>;
    /// Remembers that the user allowed the client `scope` (space-separated; replaces what was remembered).
    fn save_consent<'a>(
        &'a self,
        user_id: &'a str,
        client_id: &'a str,
        scope: &'a str,
        now: u64,
    ) -> BoxFuture<'a, StoreResult<()>>;
    /// Records that `code` was presented: `true` the first time, `false` ever after. Of concurrent presentations
    /// of one code through any number of processes, one sees `true` (the code's id is the key).
    fn use_code<'a>(&'a self, code: &'a UsedCode) -> BoxFuture<'a, StoreResult<bool>>;
    /// Stores the token family a code's exchange starts, and its first refresh token if any (one transaction) —
    /// unless the sid was denied (the code was presented again meanwhile), the user is disabled or gone, or the
    /// SSO session ended or expired: `false`, nothing stored.
    fn start_app_session<'a>(
        &'a self,
        session: AppSessionStart<'a>,
    ) -> BoxFuture<'a, StoreResult<bool>>;
    /// Replaces a user's profile claims; `false` when there is no such user.
    fn set_profile<'a>(
        &'a self,
        user_id: &'a str,
        profile: &'a Profile,
    ) -> BoxFuture<'a, StoreResult<bool>>;
}

/// Everything the server stores.
pub trait Store:
    UserStore
    + ClientStore
    + SessionStore
    + KeyStore
    + DenylistStore
    + PruneStore
    + TransferStore
    + SignInStore
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
