//! The command line: every command, flag and help text. Parsing only; the work is in the command modules.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod jwe;
mod serve;
mod server;
pub use jwe::{DecryptArgs, EncryptArgs, JweKeySource};
pub use serve::ServeArgs;
pub use server::{
    ClientAddArgs, ClientCommand, ClientIdArgs, DataDirArg, Grant, ImportArgs, KeysCommand,
    KeysRevokeArgs, KeysRotateArgs, ResourceAddArgs, ResourceCommand, ResourceUriArgs, UserAddArgs,
    UserCommand, UserNameArgs, UserProfileArgs, UserSetPasswordArgs,
};

/// A local, offline jwt.io: decode, verify, sign, encrypt, decrypt and lint JSON Web Tokens, and manage keys.
#[derive(Debug, Parser)]
#[command(name = "waxseal", version, about, max_term_width = 110)]
#[command(after_help = "Examples:
  waxseal decode eyJhbGciOi...          read a token (nothing is verified)
  waxseal verify --key public.pem TOKEN  check signature, exp and nbf
  waxseal lint TOKEN                     a security review of a token
  waxseal sign --key sig.jwk --sub alice | waxseal encrypt --key enc.jwk --cty JWT
                                         a nested JWT: signed, then encrypted
  waxseal decrypt --key enc-private.jwk --verify-key sig-public.jwk TOKEN
                                         open it and verify the JWT inside")]
pub struct Cli {
    /// When to color output.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto, env = "WAXSEAL_COLOR")]
    pub color: Color,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
// Parsed once per run: the size of `serve`'s many settings costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Show a token's header, claims and signature, without verifying anything.
    #[command(after_help = "Examples:
  waxseal decode eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln
  pbpaste | waxseal decode
  waxseal decode --json TOKEN | jq .claims")]
    Decode(DecodeArgs),

    /// Verify a token's signature and claims. Exit 0 and the claims on stdout when valid, 1 when rejected.
    #[command(after_help = "Examples:
  waxseal verify --key public.pem --iss https://auth.example.com --aud api TOKEN
  waxseal verify --key jwks.json --typ at+jwt - < token.txt
  waxseal verify --secret-file secret.bin --alg HS256 TOKEN
  waxseal verify --jwks https://auth.example.com/.well-known/jwks.json --aud api TOKEN
  waxseal verify --issuer https://accounts.google.com --aud my-client-id TOKEN

Give exactly one of --key, --secret-file, --jwks and --issuer. --issuer fetches
ISSUER/.well-known/openid-configuration (else RFC 8414 metadata), refuses a document naming another
issuer, then verifies with its jwks_uri's keys; tokens must carry that issuer as iss. Exit 2 when
the keys cannot be had (not https, unreachable, unusable document), 1 when the token is rejected.")]
    Verify(VerifyArgs),

    /// Sign claims into a compact JWT.
    #[command(after_help = "Examples:
  waxseal sign --key private.pem --sub alice --aud api --exp 15m
  waxseal sign --key key.jwk --claims '{\"scope\":\"read\"}' --jti auto
  echo '{\"role\":\"admin\"}' | waxseal sign --key secret.jwk --claims - --exp 1h")]
    Sign(SignArgs),

    /// Encrypt a file or standard input into a compact JWE.
    #[command(after_help = "Examples:
  waxseal keygen --alg RSA-OAEP-256 --out enc-private.jwk > enc-public.jwk
  waxseal encrypt --key enc-public.jwk message.txt
  waxseal sign --key sig.jwk --sub alice --exp 15m | waxseal encrypt --key enc-public.jwk --cty JWT
  waxseal encrypt --key recipient.pem --alg RSA-OAEP-256 --enc A128CBC-HS256 - < message.txt
  waxseal encrypt --secret-file shared.bin --alg A256KW --kid 2026-01 message.txt

A nested JWT is a signed token encrypted with --cty JWT: pipe `waxseal sign` into `waxseal encrypt`.
The key is the recipient's public key (RSA-OAEP) or a secret shared with the recipient (dir, A*KW,
A*GCMKW). From a JWK Set, --kid picks the key; without it the set must hold one encryption key.")]
    Encrypt(EncryptArgs),

    /// Decrypt a compact JWE. Exit 0 and the plaintext on stdout, 1 when the key does not open it.
    #[command(after_help = "Examples:
  waxseal decrypt --key enc-private.jwk TOKEN > message.txt
  waxseal decrypt --key keys.jwks --json - < token.txt
  waxseal decrypt --key enc-private.jwk --verify-key sig-public.jwk --aud api TOKEN
  waxseal decrypt --secret-file shared.bin --alg dir --enc A256GCM TOKEN

The plaintext is written as it is (raw bytes). A nested JWT inside is only decrypted, not verified:
add --verify-key (with --iss, --aud, --require, --leeway as for `waxseal verify`) to check it too,
which prints its verified claims instead. Exit 2 when the key cannot be used at all.")]
    Decrypt(DecryptArgs),

    /// Make a DPoP proof (RFC 9449) for one request: a short JWS signed by your private key, which carries its
    /// public key, for the request's `DPoP` header. Only the proof is printed.
    #[command(after_help = "Examples:
  waxseal keygen --alg ES256 --out client.jwk > client-public.jwk
  waxseal dpop --key client.jwk --method POST --url https://auth.example.com/oauth/token
  waxseal dpop --key client.jwk --method POST --url https://auth.example.com/oauth/token --json
  curl -H \"Authorization: DPoP $T\" -H \"DPoP: $(waxseal dpop --key client.jwk --method GET \\
       --url https://api.example.com/orders --access-token \"$T\")\" https://api.example.com/orders

A proof is good for one request and about a minute: make a fresh one for each request.
Without --access-token it is for the token endpoint, which binds the token it issues to your key;
with it (the token, or - for standard input) it is for the API, which checks the token's hash (ath).
When a server answers use_dpop_nonce, make the proof again with --nonce and its DPoP-Nonce.
The key's thumbprint (a bound token's cnf.jkt, an authorization request's dpop_jkt) is the jkt
of --json, or `waxseal thumbprint client.jwk`. The key must be asymmetric (ES256, EdDSA, RS256, …);
keep it private: whoever holds it can use the tokens bound to it.")]
    Dpop(DpopArgs),

    /// Generate a key: private key to --out (mode 0600), public JWK to stdout.
    #[command(after_help = "Examples:
  waxseal keygen --alg ES256 --out es256.jwk
  waxseal keygen --alg RS256 --bits 3072 --format pem --out rsa.pem
  waxseal keygen --alg HS256 --out secret.jwk
  waxseal keygen --alg RSA-OAEP-256 --out enc-private.jwk > enc-public.jwk
  waxseal keygen --alg A256KW --kid 2026-01 --out wrap.jwk
  waxseal keygen --alg dir --enc A256GCM --out content.jwk

--alg takes a signature algorithm (HS256, RS256, ES256, EdDSA, …) or a JWE key-management algorithm
(dir, A128KW, A256KW, A*GCMKW, RSA-OAEP, RSA-OAEP-256, …); the two registries share no name.")]
    Keygen(KeygenArgs),

    /// Print a JWK Set of the public parts of the given keys.
    #[command(after_help = "Examples:
  waxseal jwks current.pem next.pem > jwks.json
  waxseal jwks key.jwk")]
    Jwks(JwksArgs),

    /// Print the RFC 7638 thumbprint of a key (its public part).
    #[command(after_help = "Examples:
  waxseal thumbprint public.pem
  waxseal thumbprint key.jwk")]
    Thumbprint(KeyFileArg),

    /// Convert a key between JWK and PEM.
    #[command(after_help = "Examples:
  waxseal convert private.pem --to jwk
  waxseal convert key.jwk --to pem")]
    Convert(ConvertArgs),

    /// Review a token for security problems; exit 1 when anything at warning level or above is found.
    #[command(after_help = "Examples:
  waxseal lint TOKEN
  waxseal lint --wordlist rockyou.txt TOKEN
  waxseal lint --key public.pem --json TOKEN")]
    Lint(LintArgs),

    /// Serve the token debugger page on loopback: decode, verify, lint and sign in the browser, with this binary
    /// doing the work (nothing leaves the machine but the key fetches you ask for).
    #[command(after_help = "Examples:
  waxseal debugger                          http://127.0.0.1:7519/
  waxseal debugger --open                   and open it in the default browser
  waxseal debugger --listen 127.0.0.1:0     any free port (the URL is printed)

The page's API answers only requests from the page itself: the Host must be this listener's own
address (127.0.0.1, localhost or [::1] with its port) and a POST must carry the page's Origin, so no
other web site open in the same browser can use it. Keys and tokens are never stored or logged.
Listening beyond loopback needs --allow-remote: anyone who can reach the port can then use it.
Ctrl-C stops it. `waxseal serve --debugger` mounts the same page at /debugger/.")]
    Debugger(DebuggerArgs),

    /// Run the auth server: login, protected API, refresh with rotation, logout, JWKS; SQLite in the data directory
    /// or PostgreSQL.
    #[command(after_help = "Examples:
  waxseal serve                                   first start creates ./waxseal-data and a signing key
  waxseal serve --data-dir /var/lib/waxseal --listen 127.0.0.1:8443
  waxseal serve --management-listen 10.0.0.5:9000     metrics for a private network; off: none
  WAXSEAL_MASTER_KEY=$(cat /run/secrets/waxseal-master) waxseal serve
  waxseal serve --config /etc/waxseal.toml --access-ttl 5m --print-config
  waxseal serve --issuer https://auth.example.com --refresh-cookie     refresh tokens in HttpOnly cookies

Each setting comes from its flag, else its WAXSEAL_* variable, else the --config file, else the default.
Several instances share one PostgreSQL database: WAXSEAL_DATABASE_URL=postgres://USER:PASSWORD@HOST/DB
(each needs the same master key).
Discovery: /.well-known/openid-configuration and /.well-known/oauth-authorization-server.
Metrics and readiness details: /metrics, /healthz and /readyz on the management listener (127.0.0.1:9000 by
default, --management-listen ADDR|off); the public /readyz says only ready, degraded or unavailable.

The master key (64 hex digits) encrypts the signing keys at rest; without WAXSEAL_MASTER_KEY one is generated
into DATA_DIR/master.key (mode 0600).")]
    Serve(ServeArgs),

    /// Apply the database migrations of this version and exit (`waxseal serve` applies them too, at start).
    #[command(after_help = "Examples:
  WAXSEAL_DATABASE_URL=postgres://waxseal@db.internal/waxseal waxseal migrate
  waxseal migrate --data-dir /var/lib/waxseal

Prints each migration applied. Several processes migrating at once take turns (a database lock).")]
    Migrate(DataDirArg),

    /// Write every user, client, signing key, session and revocation as one JSON document on standard output.
    #[command(after_help = "Examples:
  waxseal export --data-dir /var/lib/waxseal > waxseal-dump.json
  WAXSEAL_DATABASE_URL=postgres://waxseal@db.internal/waxseal waxseal export > dump.json

The dump holds password hashes and refresh-token digests (no secret in clear; signing keys stay sealed
under the master key): keep it private. Stop the server first, or refreshes made after the export are lost.")]
    Export(DataDirArg),

    /// Load a dump written by `waxseal export` into an empty database, in one transaction.
    #[command(after_help = "Examples:
  WAXSEAL_MASTER_KEY=$(cat old-data-dir/master.key) WAXSEAL_DATABASE_URL=postgres://waxseal@db/waxseal \\
      waxseal import < waxseal-dump.json

The target needs the exported deployment's master key (WAXSEAL_MASTER_KEY, or its master.key in
--data-dir): every signing key is checked to open with it before anything is written. A target that already
holds users, clients, keys or sessions is refused unless --replace, which deletes all of it first.")]
    Import(ImportArgs),

    /// Manage the auth server's users, in the same data directory as `waxseal serve`.
    #[command(subcommand)]
    User(UserCommand),

    /// Manage the auth server's OAuth clients, in the same data directory as `waxseal serve`.
    #[command(subcommand)]
    Client(ClientCommand),

    /// Manage the resource servers (RFC 8707) tokens may be asked for, in the same data directory as `waxseal serve`.
    #[command(subcommand)]
    Resource(ResourceCommand),

    /// Manage the auth server's signing keys, in the same data directory as `waxseal serve`.
    #[command(subcommand)]
    Keys(KeysCommand),

    /// Print a shell completion script.
    #[command(after_help = "Examples:
  waxseal completions bash > /etc/bash_completion.d/waxseal
  waxseal completions zsh > ~/.zfunc/_waxseal")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub struct DebuggerArgs {
    /// The address to listen on; a loopback address unless --allow-remote (port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7519")]
    pub listen: std::net::SocketAddr,
    /// Open the page in the default browser (xdg-open, or open on macOS).
    #[arg(long)]
    pub open: bool,
    /// Allow a non-loopback --listen address. Anyone who can reach it can use the debugger, and what they paste
    /// crosses the network in clear text: only on a network you trust.
    #[arg(long)]
    pub allow_remote: bool,
}

#[derive(Debug, Args)]
pub struct TokenArg {
    /// The token, or `-` (or nothing) to read it from standard input.
    #[arg(value_name = "TOKEN|-")]
    pub token: Option<String>,
}

#[derive(Debug, Args)]
pub struct DecodeArgs {
    #[command(flatten)]
    pub token: TokenArg,
    /// Print one JSON object instead of the human view.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct KeySource {
    /// Key file: PEM (public or private key, certificate), JWK or JWK Set; the format is detected.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "secret_file",
        conflicts_with = "secret_file"
    )]
    pub key: Option<PathBuf>,
    /// File of raw HMAC secret bytes (used as they are, newline included).
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
}

/// Where `verify` gets its keys: exactly one of a local key, a secret, a JWK Set (URL or file) or an issuer.
#[derive(Debug, Args)]
#[group(id = "key_source", required = true, multiple = false)]
pub struct VerifyKeySource {
    /// Key file: PEM (public or private key, certificate), JWK or JWK Set; the format is detected.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// File of raw HMAC secret bytes (used as they are, newline included).
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// The issuer's published JWK Set: an https URL (http only to a loopback address), fetched once, or a local
    /// file of it. Private and secret (oct) keys in it are ignored, as a published set must not hold them.
    #[arg(long, value_name = "URL|FILE")]
    pub jwks: Option<String>,
    /// Discover the issuer's JWK Set from its metadata (OpenID Connect discovery, else RFC 8414) and require the
    /// token's `iss` to be exactly this URL. https only (http only to a loopback address).
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub keys: VerifyKeySource,
    /// Accept only these algorithms (narrows what the key allows; never widens it).
    #[arg(long = "alg", value_name = "ALG")]
    pub algs: Vec<String>,
    /// Accepted issuer (repeatable). Without it, `iss` is not checked (with --issuer, it must be the issuer).
    #[arg(long = "iss", value_name = "ISS")]
    pub issuers: Vec<String>,
    /// Accepted audience (repeatable). Without it, `aud` is not checked.
    #[arg(long = "aud", value_name = "AUD")]
    pub audiences: Vec<String>,
    /// Clock skew tolerated on exp and nbf, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub leeway: u64,
    /// A claim that must be present (repeatable).
    #[arg(long = "require", value_name = "CLAIM")]
    pub required: Vec<String>,
    /// Required `typ` header, e.g. at+jwt.
    #[arg(long, value_name = "TYP")]
    pub typ: Option<String>,
    #[command(flatten)]
    pub token: TokenArg,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    #[command(flatten)]
    pub keys: KeySource,
    /// Algorithm, when the key does not imply one (RSA and HMAC keys without "alg").
    #[arg(long, value_name = "ALG")]
    pub alg: Option<String>,
    /// Claims as JSON, @FILE to read a file, or - for standard input.
    #[arg(long, value_name = "JSON|@FILE|-")]
    pub claims: Option<String>,
    /// Subject.
    #[arg(long)]
    pub sub: Option<String>,
    /// Issuer.
    #[arg(long)]
    pub iss: Option<String>,
    /// Audience (repeatable: several make an array).
    #[arg(long = "aud")]
    pub audiences: Vec<String>,
    /// Expiry: a duration from now (90s, 15m, 1h, 7d) or an absolute NumericDate (seconds since 1970).
    #[arg(long, value_name = "WHEN")]
    pub exp: Option<String>,
    /// Not before: a duration from now or an absolute NumericDate.
    #[arg(long, value_name = "WHEN")]
    pub nbf: Option<String>,
    /// JWT ID; `auto` generates a random one.
    #[arg(long)]
    pub jti: Option<String>,
    /// Do not set `iat` (set to now by default).
    #[arg(long)]
    pub no_iat: bool,
    /// Key ID for the header (default: the key's kid).
    #[arg(long)]
    pub kid: Option<String>,
    /// `typ` header.
    #[arg(long, default_value = "JWT")]
    pub typ: String,
    /// Extra header members as a JSON object.
    #[arg(long, value_name = "JSON")]
    pub header: Option<String>,
}

#[derive(Debug, Args)]
pub struct DpopArgs {
    /// Your private key: PEM, JWK or DER, asymmetric (make one with `waxseal keygen --alg ES256 --out FILE`).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Algorithm, when the key does not imply one (an RSA key without "alg": RS256, PS256, …).
    #[arg(long, value_name = "ALG")]
    pub alg: Option<String>,
    /// The HTTP method of the request, exactly as sent (GET, POST, …): the proof's htm.
    #[arg(long, value_name = "METHOD")]
    pub method: String,
    /// The absolute http(s) URL of the request: the proof's htu (its query and fragment are left out).
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// The access token sent with the request (or - for standard input): the proof carries its hash, ath.
    #[arg(long, value_name = "TOKEN|-")]
    pub access_token: Option<String>,
    /// The server's nonce (from its DPoP-Nonce header).
    #[arg(long, value_name = "NONCE")]
    pub nonce: Option<String>,
    /// Print one JSON object (proof, jkt, alg, claims) instead of the proof alone.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyFormat {
    Jwk,
    Pem,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Algorithm the key is for: a signature algorithm, or a JWE key-management algorithm.
    #[arg(long, value_name = "ALG")]
    pub alg: String,
    /// For --alg dir: the content encryption the key is the content key of (A256GCM, A128CBC-HS256, …).
    #[arg(long, value_name = "ENC")]
    pub enc: Option<String>,
    /// For an ECDH-ES algorithm: the curve, P-256 (the default), P-384, P-521 or X25519.
    #[arg(long, value_name = "CRV")]
    pub crv: Option<String>,
    /// Key ID (default: the RFC 7638 thumbprint for asymmetric keys).
    #[arg(long)]
    pub kid: Option<String>,
    /// Write the private key here (mode 0600). Without it, the private key goes to stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Format of the private key.
    #[arg(long, value_enum, default_value_t = KeyFormat::Jwk)]
    pub format: KeyFormat,
    /// RSA modulus size.
    #[arg(long, default_value_t = 2048, value_parser = clap::value_parser!(u16).range(2048..=4096))]
    pub bits: u16,
    /// Overwrite --out if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct JwksArgs {
    /// Key files (PEM, JWK or JWK Set).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct KeyFileArg {
    /// Key file (PEM, JWK or DER).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Key file (PEM, JWK or DER).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum)]
    pub to: KeyFormat,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Key to check the signature with (optional).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Extra candidate secrets for HMAC tokens, one per line.
    #[arg(long, value_name = "FILE")]
    pub wordlist: Option<PathBuf>,
    /// Print one JSON object instead of the human report.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub token: TokenArg,
}
