//! The commands that administer the auth server: `import`, and the `user`, `client`, `resource` and `keys`
//! subcommands, all working on one data directory or database ([`DataDirArg`]); `serve`'s settings are in
//! `serve.rs`. The token tools beside them need no server and are in [`super`].

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};

#[derive(Debug, Args)]
pub struct DataDirArg {
    /// The server's data directory: database and (without WAXSEAL_MASTER_KEY) the master-key file.
    #[arg(
        long,
        env = "WAXSEAL_DATA_DIR",
        default_value = "./waxseal-data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,
    /// The database: postgres://USER@HOST/DB (or postgresql://) for PostgreSQL, sqlite://PATH for a SQLite file
    /// elsewhere [default: DATA_DIR/waxseal.db]. With a password in it, prefer the variable: flags show in `ps`.
    #[arg(
        long,
        env = "WAXSEAL_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
}

/// The text forms of durations and of `serve`'s settings, shared with its settings file.
pub use waxseal_server::settings::{
    ManagementListen, Rotation, duration, management_listen, reuse_interval, rotation,
};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user who can log in with a password.
    #[command(after_help = "Examples:
  printf '%s' \"$PASSWORD\" | waxseal user add alice --password-stdin
  waxseal user add carol --password-stdin --email carol@example.com --name 'Carol Ann' < password.txt
  waxseal user add bob --password-stdin --scope read:orders --scope write:orders < password.txt")]
    Add(UserAddArgs),
    /// List the users: name, disabled or not, scopes, when created (never password hashes).
    List(DataDirArg),
    /// Refuse a user's logins and refreshes, and end every session of the user at once.
    #[command(after_help = "Examples:
  waxseal user disable alice
  waxseal user enable alice

Existing access tokens are refused by a running `waxseal serve` on the same data directory within a second.")]
    Disable(UserNameArgs),
    /// Allow a disabled user to log in again (the ended sessions stay ended).
    Enable(UserNameArgs),
    /// Delete a user, ending every session of the user at once.
    Delete(UserNameArgs),
    /// Replace a user's password (read from standard input), ending every session of the user at once.
    #[command(after_help = "Examples:
  printf '%s' \"$NEW_PASSWORD\" | waxseal user set-password alice --password-stdin
  waxseal user set-password bob --password-stdin < new-password.txt

Existing access tokens are refused by a running `waxseal serve` on the same data directory within a second.")]
    SetPassword(UserSetPasswordArgs),
    /// Set a user's profile claims (email, full name), which OpenID Connect clients see.
    #[command(after_help = "Examples:
  waxseal user profile alice --email alice@example.com --name 'Alice Liddell'
  waxseal user profile alice --clear-email")]
    Profile(UserProfileArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The dump to read, or `-` for standard input.
    #[arg(long, value_name = "FILE", default_value = "-")]
    pub input: PathBuf,
    /// Delete everything in the target database first (in the same transaction as the import).
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Args)]
pub struct UserNameArgs {
    /// The login name.
    pub name: String,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Args)]
pub struct UserSetPasswordArgs {
    /// The login name.
    pub name: String,
    /// Read the new password from standard input (its first line). Passwords are never taken as arguments.
    #[arg(long, required = true)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// The login name.
    pub name: String,
    /// Read the password from standard input (its first line). Passwords are never taken as arguments.
    #[arg(long, required = true)]
    pub password_stdin: bool,
    /// A scope the user's access tokens carry; repeat for several.
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub data: DataDirArg,
}

/// A user's profile claims, which OpenID Connect clients see (userinfo with the `profile` and `email` scopes).
#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// The user's email address (shown as verified: you, the operator, vouch for it).
    #[arg(long, value_name = "EMAIL")]
    pub email: Option<String>,
    /// The user's full name, for display.
    #[arg(long = "name", value_name = "FULL_NAME")]
    pub full_name: Option<String>,
}

#[derive(Debug, Args)]
pub struct UserProfileArgs {
    /// The login name.
    pub name: String,
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Remove the email address.
    #[arg(long, conflicts_with = "email")]
    pub clear_email: bool,
    /// Remove the full name.
    #[arg(long, conflicts_with = "full_name")]
    pub clear_name: bool,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register an OAuth client; prints its client_id and its secret, once (only a hash is stored).
    #[command(after_help = "Examples:
  waxseal client add billing-batch --grant client_credentials --scope read:invoices
  waxseal client add mobile-app --grant password --grant refresh_token --scope read:orders
  waxseal client add orders-api --may-introspect     # a resource server checking every client's access tokens
  waxseal client add web --redirect-uri https://app.example.com/callback --first-party
  waxseal client add spa --public --redirect-uri http://127.0.0.1:5173/callback
  waxseal client add legacy-rp --redirect-uri https://rp.example/cb --id-token-alg RS256 --pkce-exempt
  waxseal client add private-rp --redirect-uri https://rp.example/cb --encryption-key rp.pub.jwk --encrypt-access-tokens

The client authenticates at POST /oauth/token, /oauth/revoke and /oauth/introspect with
client_secret_basic (Authorization: Basic) or client_secret_post (client_id and client_secret in the form).")]
    Add(ClientAddArgs),
    /// List the OAuth clients: id, name, grants, scopes, when created (never secrets or their hashes).
    List(DataDirArg),
    /// Delete a client, ending every session it started and refusing every token it was given.
    #[command(after_help = "Examples:
  waxseal client list
  waxseal client delete 3q2-7wAAAAB1vN1x0h7r9Q

Existing access tokens are refused by a running `waxseal serve` on the same data directory within a second.")]
    Delete(ClientIdArgs),
    /// Give a client a new secret, printed once; the old secret stops working at once.
    #[command(after_help = "Examples:
  waxseal client rotate-secret 3q2-7wAAAAB1vN1x0h7r9Q

Tokens already issued to the client stay valid; delete the client to end them.")]
    RotateSecret(ClientIdArgs),
}

#[derive(Debug, Subcommand)]
pub enum ResourceCommand {
    /// Register a resource server (RFC 8707) clients may ask tokens for with `resource=URI`: such a token has the
    /// URI as its only `aud` and only the scopes given here.
    #[command(after_help = "Examples:
  waxseal resource add https://mcp.example.com/mcp --scope mcp:tools --scope mcp:resources
  waxseal resource add http://127.0.0.1:8931/mcp --scope mcp:tools     # a server on this machine

The URI is compared exactly as given (no trailing slash is added or removed): register it as clients send it.
A client may ask for the resource when it may hold at least one of its scopes.")]
    Add(ResourceAddArgs),
    /// List the registered resources: URI, when added, the scopes each accepts.
    List(DataDirArg),
    /// Remove a resource: no token is issued for it any more, and sessions bound to it are refreshed no more.
    #[command(after_help = "Examples:
  waxseal resource remove https://mcp.example.com/mcp

Access tokens already issued for it stay valid at the resource until they expire.")]
    Remove(ResourceUriArgs),
}

#[derive(Debug, Args)]
pub struct ResourceAddArgs {
    /// The resource's absolute URI: https (http only for 127.0.0.1, [::1] or localhost), no fragment.
    pub uri: String,
    /// A scope the resource accepts; repeat for several (at least one).
    #[arg(long = "scope", value_name = "SCOPE", required = true)]
    pub scopes: Vec<String>,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Args)]
pub struct ResourceUriArgs {
    /// The resource's URI, exactly as registered (`waxseal resource list` shows them).
    pub uri: String,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Args)]
pub struct ClientIdArgs {
    /// The client_id (`waxseal client list` shows them). It may begin with `-` (ids are base64url).
    #[arg(allow_hyphen_values = true)]
    pub client_id: String,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List the signing keys: which one signs, which are published ahead or kept for tokens still valid.
    List(DataDirArg),
    /// Publish a new signing key now; it starts signing once JWKS caches have seen it (the old key stays
    /// published until every token it signed has expired).
    #[command(after_help = "Examples:
  waxseal keys rotate
  waxseal keys rotate --alg EdDSA
  waxseal keys rotate --alg RS256            # the RS256 key of ID tokens, a series of its own
  waxseal keys rotate --signs-after 0s     # sign with the new key at once (verifiers must refetch the JWKS)

A running `waxseal serve` on the same data directory publishes the new key within a second and
signs with it from the time printed. Its configured --signing-alg wins over --alg at the next
rotation it schedules.")]
    Rotate(KeysRotateArgs),
    /// Withdraw a leaked key at once: unpublished, every token it signed refused, its private half deleted;
    /// a new key signs from now on if it was the signing key.
    #[command(after_help = "Examples:
  waxseal keys list
  waxseal keys revoke 0f3X9r-ImW0c2jbqzOQy8P-yP5kS0I4O8mKzQnVwW8M
  waxseal keys revoke 0f3X9r-ImW0c2jbqzOQy8P-yP5kS0I4O8mKzQnVwW8M --redis-url redis://10.0.0.5:6379/0

Running `waxseal serve` instances on the same database stop accepting its tokens within a second, at once
with --redis-url (the one they use). Users holding its tokens must refresh or sign in again. The kid is
kept for good: the key can never come back, not even by importing an older dump.")]
    Revoke(KeysRevokeArgs),
}

#[derive(Debug, Args)]
pub struct KeysRevokeArgs {
    /// The kid of the key to revoke (`waxseal keys list` shows them). It may begin with `-` (kids are base64url
    /// thumbprints).
    #[arg(allow_hyphen_values = true)]
    pub kid: String,
    /// The algorithm of the key that replaces it, when it signed [default: that of the newest key of its series:
    /// RS256 for the key of RS256 ID tokens, else the one `waxseal serve` is configured with].
    #[arg(long, value_name = "ALG")]
    pub alg: Option<String>,
    /// The Redis of the running instances: they are told at once instead of within a second.
    #[arg(
        long,
        env = "WAXSEAL_REDIS_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub redis_url: Option<String>,
    /// Their --redis-key-prefix [default: waxseal].
    #[arg(long, env = "WAXSEAL_REDIS_KEY_PREFIX", value_name = "PREFIX")]
    pub redis_key_prefix: Option<String>,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Args)]
pub struct KeysRotateArgs {
    /// The new key's algorithm [default: the current signing key's]; RS256 rotates the key of RS256 ID tokens
    /// when the server signs with another algorithm.
    #[arg(long, value_name = "ALG")]
    pub alg: Option<String>,
    /// How long the new key is published before it signs [default: one JWKS cache lifetime plus the clock
    /// leeway, 6m]. Shorter means verifiers holding a cached JWKS see an unknown kid and
    /// must refetch it — waxseal-remote and most JOSE libraries do, within their refetch cooldown.
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub signs_after: Option<Duration>,
    #[command(flatten)]
    pub data: DataDirArg,
}

/// An OAuth grant type a client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum Grant {
    /// Username and password (RFC 6749 §4.3).
    Password,
    /// Refresh tokens (RFC 6749 §6).
    RefreshToken,
    /// The client's own credentials (RFC 6749 §4.4).
    ClientCredentials,
    /// Sign people in through the browser: OpenID Connect, the authorization code with PKCE (RFC 6749 §4.1).
    AuthorizationCode,
}

#[derive(Debug, Args)]
#[allow(clippy::struct_excessive_bools)] // command-line switches, one per flag
pub struct ClientAddArgs {
    /// A name for people (not the client_id, which is generated).
    pub name: String,
    /// A grant type the client may use; repeat for several [default: client_credentials].
    #[arg(long = "grant", value_name = "GRANT")]
    pub grants: Vec<Grant>,
    /// A scope the client may ask for; repeat for several.
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// Let the client introspect (RFC 7662) every client's access tokens, as a resource server does. Without it, a
    /// client introspects only its own tokens.
    #[arg(long)]
    pub may_introspect: bool,
    /// Where the browser may return after sign-in, compared exactly; repeat for several. Implies the
    /// authorization_code and refresh_token grants when no --grant is given.
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub redirect_uris: Vec<String>,
    /// Where the browser may return after RP-initiated logout, compared exactly; repeat for several.
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    pub post_logout_redirect_uris: Vec<String>,
    /// An origin whose pages may read this client's answers from the token, userinfo and revoke endpoints (CORS),
    /// written as browsers send it: https://app.example.com; repeat for several [default: for a --public client,
    /// the origins of its https and http redirect URIs; else none].
    #[arg(long = "web-origin", value_name = "ORIGIN")]
    pub web_origins: Vec<String>,
    /// A public client (a single-page or mobile app): it gets no secret and proves itself with PKCE.
    #[arg(long)]
    pub public: bool,
    /// Your own application: its users are not asked for consent.
    #[arg(long)]
    pub first_party: bool,
    /// The algorithm of the client's ID tokens: RS256 (for a relying party that verifies nothing else), or the
    /// server's own signing algorithm [default: the server's signing algorithm].
    #[arg(long, value_name = "ALG")]
    pub id_token_alg: Option<String>,
    /// Let a confidential client (one with a secret) leave PKCE out of its authorization requests, for a relying
    /// party that cannot send it. A challenge it does send is still checked. Not for --public clients.
    #[arg(long)]
    pub pkce_exempt: bool,
    /// Encrypt the client's ID tokens to this public key: a JWK file, or the JWK inline (`{...}`), whose `alg` is
    /// an asymmetric JWE key-management algorithm (RSA-OAEP-256, RSA-OAEP, …) and `use` absent or "enc". A shared
    /// key is refused (the server would have to store it), and so is a private key (pass the public half).
    #[arg(long, value_name = "JWK")]
    pub encryption_key: Option<String>,
    /// The content encryption of the client's encrypted ID tokens (with --encryption-key) [default: A128CBC-HS256].
    #[arg(long, value_name = "ENC", requires = "encryption_key")]
    pub encryption_enc: Option<String>,
    /// Encrypt the access tokens issued to the client under the server's own key (dir + A256GCM, derived from the
    /// master key): their claims are hidden from the client and whoever it passes them to; resource servers read
    /// them through introspection (/oauth/introspect), and /userinfo and /api/me accept them.
    #[arg(long)]
    pub encrypt_access_tokens: bool,
    /// Require a DPoP proof (RFC 9449) with every token request of the client, so that each of its access
    /// tokens is bound to its key (dpop_bound_access_tokens); a request without one is refused.
    #[arg(long)]
    pub require_dpop: bool,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use crate::cli::Cli;

    /// A kid or client id is base64url and begins with `-` one time in 64: it is a value, not a flag.
    #[test]
    fn ids_beginning_with_a_hyphen_are_values() {
        for args in [
            &[
                "waxseal",
                "keys",
                "revoke",
                "-5aDB0k2r0fGgYqYQk0R1kRf4n2m3iJ0yV9c1jzQqs",
            ][..],
            &["waxseal", "keys", "revoke", "-5aD", "--alg", "ES256"][..],
            &["waxseal", "client", "delete", "-x2Q9pA"][..],
            &["waxseal", "client", "rotate-secret", "-x2Q9pA"][..],
        ] {
            if let Err(e) = Cli::try_parse_from(args) {
                panic!("{args:?}: {e}");
            }
        }
    }
}
