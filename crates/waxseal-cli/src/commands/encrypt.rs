//! `waxseal encrypt`: a file or standard input into a compact JWE, for the recipient's key.
//!
//! A nested JWT is `waxseal sign … | waxseal encrypt --cty JWT`: with `--cty JWT` the input must be a compact
//! token, and the newline `sign` ends its output with is not encrypted with it (a JWT with a trailing newline is
//! no JWT to the recipient's library).

use std::process::ExitCode;

use anyhow::anyhow;
use waxseal::jwe::{ContentEncryption, Encrypter, EncryptionKey};
use waxseal::jwt::decode_unverified;

use super::jwe_keys::{self, Named};
use crate::cli::EncryptArgs;
use crate::{Failure, Outcome, input, output};

pub fn run(args: &EncryptArgs) -> Outcome {
    let enc = args.enc.as_deref().map(jwe_keys::parse_enc).transpose()?;
    let keys = jwe_keys::load::<EncryptionKey>(&args.keys, enc)?;
    let key = choose(keys, args)?;
    let enc = enc
        .or_else(|| key.direct_encryption())
        .unwrap_or(ContentEncryption::A256Gcm);
    let mut plaintext = input::bytes(args.input.as_deref(), "input")?;
    let as_token = std::str::from_utf8(&plaintext)
        .ok()
        .map(str::trim)
        .map(|text| (text.to_owned(), decode_unverified(text)));
    let nested = args.cty.as_deref().is_some_and(is_jwt_type);
    match as_token {
        Some((text, Ok(_))) if nested => plaintext = text.into_bytes(),
        Some((_, Ok(_))) => eprintln!(
            "note: the input looks like a JWT; add --cty JWT so the recipient knows a token is nested inside \
             (RFC 7519 §5.2)"
        ),
        Some((_, Err(e))) if nested => {
            return Err(Failure::usage(anyhow!(
                "--cty {} says the input is a JWT, but it is not a compact token: {e}",
                args.cty.as_deref().unwrap_or("JWT")
            )));
        }
        None if nested => {
            return Err(Failure::usage(anyhow!(
                "--cty JWT says the input is a JWT, but it is not text"
            )));
        }
        _ => {}
    }
    let mut encrypter = Encrypter::new(&key, enc);
    if let Some(typ) = &args.typ {
        encrypter = encrypter.typ(typ);
    }
    if let Some(cty) = &args.cty {
        encrypter = encrypter.cty(cty);
    }
    let token = encrypter
        .encrypt_compact(&plaintext)
        .map_err(|e| Failure::usage(anyhow!("cannot encrypt: {e}")))?;
    output::emit(&format!("{token}\n"))?;
    Ok(ExitCode::SUCCESS)
}

/// `JWT` in any case, as RFC 7519 §5.2 recommends it be compared (`application/jwt` too).
pub(crate) fn is_jwt_type(cty: &str) -> bool {
    let cty = cty.trim();
    cty.eq_ignore_ascii_case("JWT") || cty.eq_ignore_ascii_case("application/jwt")
}

/// The one key to encrypt with: the key of a key file (with `--kid` as its kid), or the key of a JWK Set that
/// `--kid` names, or its only encryption key.
fn choose(
    mut keys: Vec<Named<EncryptionKey>>,
    args: &EncryptArgs,
) -> Result<EncryptionKey, Failure> {
    if !keys.iter().any(|k| k.in_set) {
        let key = keys
            .pop()
            .ok_or_else(|| Failure::usage(anyhow!("no encryption key given")))?
            .key;
        return Ok(match &args.kid {
            Some(kid) => key.with_kid(kid),
            None => key,
        });
    }
    let kids = || {
        let kids: Vec<String> = keys
            .iter()
            .filter_map(|k| k.key.kid().map(|kid| format!("{kid:?}")))
            .collect();
        if kids.is_empty() {
            "none of them has a kid".to_owned()
        } else {
            format!("their kids: {}", kids.join(", "))
        }
    };
    let Some(kid) = &args.kid else {
        if let [only] = keys.as_slice() {
            return Ok(only.key.clone());
        }
        return Err(Failure::usage(anyhow!(
            "the JWK Set holds {} encryption keys; pick one with --kid ({})",
            keys.len(),
            kids()
        )));
    };
    match keys.iter().position(|k| k.key.kid() == Some(kid.as_str())) {
        Some(i) => Ok(keys.remove(i).key),
        None => Err(Failure::usage(anyhow!(
            "no encryption key of the JWK Set has kid {kid:?} ({})",
            kids()
        ))),
    }
}
