//! The encryption commands, `encrypt` and `decrypt`: their flags and help. The work is in `commands::encrypt` and
//! `commands::decrypt`.

use std::path::PathBuf;

use clap::Args;

use super::TokenArg;

/// Where a JWE key comes from: a key file, or a file of raw secret bytes with `--alg`.
#[derive(Debug, Args)]
pub struct JweKeySource {
    /// Key file: a JWK, a JWK Set, or a PEM key (RSA; needs --alg); the format is detected.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "secret_file",
        conflicts_with = "secret_file"
    )]
    pub key: Option<PathBuf>,
    /// File of raw secret bytes for dir, A*KW or A*GCMKW (used as they are, newline included); needs --alg.
    #[arg(long, value_name = "FILE", requires = "alg")]
    pub secret_file: Option<PathBuf>,
    /// Key-management algorithm (dir, A128KW, A256KW, A256GCMKW, RSA-OAEP-256, …), when the key does not name
    /// it (PEM keys, secrets, JWKs without "alg").
    #[arg(long, value_name = "ALG")]
    pub alg: Option<String>,
}

#[derive(Debug, Args)]
pub struct EncryptArgs {
    #[command(flatten)]
    pub keys: JweKeySource,
    /// Content encryption [default: the dir key's own, else A256GCM].
    #[arg(long, value_name = "ENC")]
    pub enc: Option<String>,
    /// Key ID: picks the key in a JWK Set; for a single key, the kid written into the header.
    #[arg(long)]
    pub kid: Option<String>,
    /// `typ` header (the media type of the whole JWE).
    #[arg(long)]
    pub typ: Option<String>,
    /// `cty` header (the plaintext's media type); `JWT` for a nested (signed, then encrypted) token.
    #[arg(long)]
    pub cty: Option<String>,
    /// The file to encrypt, or `-` (or nothing) for standard input.
    #[arg(value_name = "INPUT|-")]
    pub input: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DecryptArgs {
    #[command(flatten)]
    pub keys: JweKeySource,
    /// Content encryption: the one a dir secret (--secret-file) is the key of; otherwise accept only this one.
    #[arg(long, value_name = "ENC")]
    pub enc: Option<String>,
    /// Print one JSON object (header, plaintext, the key that opened it) instead of the raw plaintext.
    #[arg(long, conflicts_with = "verify_key")]
    pub json: bool,
    /// Accept PBES2 (password) JWEs whose iteration count p2c is at most MAX (from 1000; 10000 is the usual
    /// maximum). Off by default: p2c is the sender's choice and every iteration is your work.
    #[arg(long, value_name = "MAX", value_parser = clap::value_parser!(u32).range(1000..))]
    pub allow_pbes2: Option<u32>,
    /// Accept compressed ("zip":"DEF") JWEs, inflating at most --zip-limit bytes. Off by default: a small token
    /// can inflate to gigabytes.
    #[arg(long)]
    pub allow_zip: bool,
    /// With --allow-zip: the most bytes a compressed JWE may inflate to.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = 250_000,
        requires = "allow_zip"
    )]
    pub zip_limit: usize,
    /// Then verify the nested JWT inside with this key (as `waxseal verify --key`) and print its claims.
    #[arg(long, value_name = "FILE")]
    pub verify_key: Option<PathBuf>,
    /// With --verify-key: accepted issuer of the nested JWT (repeatable).
    #[arg(long = "iss", value_name = "ISS", requires = "verify_key")]
    pub issuers: Vec<String>,
    /// With --verify-key: accepted audience of the nested JWT (repeatable).
    #[arg(long = "aud", value_name = "AUD", requires = "verify_key")]
    pub audiences: Vec<String>,
    /// With --verify-key: a claim the nested JWT must have (repeatable).
    #[arg(long = "require", value_name = "CLAIM", requires = "verify_key")]
    pub required: Vec<String>,
    /// With --verify-key: clock skew tolerated on exp and nbf, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub leeway: u64,
    #[command(flatten)]
    pub token: TokenArg,
}
