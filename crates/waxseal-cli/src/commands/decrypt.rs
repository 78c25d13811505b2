//! `waxseal decrypt`: exit 0 and the plaintext on stdout when the key opens the JWE; exit 1 and why when it does
//! not; exit 2 when the key cannot be used at all.
//!
//! A nested JWT inside is decrypted, not verified: that takes the signer's key. `--verify-key` hands the plaintext
//! to `waxseal verify` (the same code, the same rules and messages) so both steps are one command.

use std::process::ExitCode;

use anyhow::anyhow;
use serde_json::{Value, json};
use waxseal::ErrorKind;
use waxseal::jwe::{ContentEncryption, Decrypted, Decrypter, DecryptionKey};
use waxseal::jwt::decode_unverified;

use super::encrypt::is_jwt_type;
use super::jwe_keys::{self, Named};
use crate::cli::{DecryptArgs, TokenArg, VerifyArgs, VerifyKeySource};
use crate::{Failure, Outcome, input, output};

pub fn run(args: &DecryptArgs) -> Outcome {
    let enc = args.enc.as_deref().map(jwe_keys::parse_enc).transpose()?;
    let keys = jwe_keys::load::<DecryptionKey>(&args.keys, enc)?;
    let token = input::token(args.token.token.as_deref())?;
    let decrypter = configure(args, enc, keys.iter().map(|k| k.key.clone()).collect());
    let (opened, key) = open(&token, &keys, &decrypter)?;
    let nested = is_nested(&opened);
    if let Some(verify_key) = &args.verify_key {
        eprintln!("decrypted with {}", key.name);
        return verify_nested(args, verify_key, &opened);
    }
    if nested {
        eprintln!(
            "note: the plaintext is a nested JWT{}: it was decrypted, not verified. Verify it with \
             `waxseal decrypt --verify-key SIGNER_KEY …`, or pipe it to `waxseal verify --key SIGNER_KEY -`",
            if opened.header.cty.is_some() {
                " (cty JWT)"
            } else {
                ""
            }
        );
    }
    if args.json {
        let mut out = json!({
            "header": Value::Object(opened.header.members().clone()),
            "nested_jwt": nested,
            "key": {
                "alg": opened.header.alg.name(),
                "kid": key.key.kid(),
                "source": key.name,
            },
        });
        match std::str::from_utf8(&opened.plaintext) {
            Ok(text) => {
                out["plaintext"] =
                    serde_json::from_str::<Value>(text).unwrap_or_else(|_| text.into());
            }
            Err(_) => {
                out["plaintext"] = Value::Null;
                out["plaintext_b64"] = waxseal::b64::encode(&opened.plaintext).into();
            }
        }
        output::emit(&(serde_json::to_string_pretty(&out).unwrap_or_default() + "\n"))?;
    } else {
        output::emit_bytes(&opened.plaintext)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The decrypter the options ask for: the content encryption, PBES2 and compression allowed or not.
fn configure(
    args: &DecryptArgs,
    enc: Option<ContentEncryption>,
    keys: Vec<DecryptionKey>,
) -> Decrypter {
    let mut decrypter = Decrypter::with_keys(keys);
    if let Some(enc) = enc {
        decrypter = decrypter.content_encryptions([enc]);
    }
    if let Some(max) = args.allow_pbes2 {
        decrypter = decrypter.allow_pbes2(max);
    }
    if args.allow_zip {
        decrypter = decrypter.allow_compression(args.zip_limit);
    }
    decrypter
}

/// Opens `token` (compact, or the JSON serialization when it is an object) with the keys, and says which key did.
fn open<'k>(
    token: &str,
    keys: &'k [Named<DecryptionKey>],
    decrypter: &Decrypter,
) -> Result<(Decrypted, &'k Named<DecryptionKey>), Failure> {
    let opened = if token.starts_with('{') {
        decrypter.decrypt_json(token)
    } else {
        decrypter.decrypt_compact(token)
    }
    .map_err(|e| refusal(&e, token, keys))?;
    let key = keys
        .get(opened.key)
        .ok_or_else(|| Failure::usage(anyhow!("no decryption key given")))?;
    Ok((opened, key))
}

/// Why the JWE was not opened, and what to do about it.
fn refusal(e: &waxseal::Error, token: &str, keys: &[Named<DecryptionKey>]) -> Failure {
    let header_kid = decode_unverified(token).ok().and_then(|d| {
        d.header
            .get("kid")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let key_kids: Vec<String> = keys
        .iter()
        .filter_map(|k| k.key.kid().map(|kid| format!("{kid:?}")))
        .collect();
    let pbes2 = decode_unverified(token)
        .ok()
        .and_then(|d| {
            d.header
                .get("alg")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .is_some_and(|alg| alg.starts_with("PBES2-"));
    let hint = match e.kind() {
        ErrorKind::AlgorithmNotAllowed if pbes2 => ". A password-based (PBES2) JWE is opened only with \
             --allow-pbes2 MAX, the most PBKDF2 iterations (p2c) you will run for it (10000 is usual)"
            .to_owned(),
        ErrorKind::LimitExceeded if pbes2 => ". Its p2c is above what --allow-pbes2 allows; raise it only if \
             you trust the sender"
            .to_owned(),
        ErrorKind::CompressionUnsupported => ". Pass --allow-zip to inflate it (at most 250000 bytes, or \
             --zip-limit BYTES)"
            .to_owned(),
        ErrorKind::Malformed if token.split('.').count() == 3 => {
            " — check a signed token with `waxseal verify --key KEY TOKEN`".to_owned()
        }
        ErrorKind::DecryptionFailed => {
            let which = match (&header_kid, keys) {
                (Some(kid), _) => format!(" (the JWE names kid {kid:?})"),
                (None, [one]) => format!(" ({})", one.name),
                (None, _) => String::new(),
            };
            format!(
                ". The key does not open this JWE{which}: it was encrypted to another key, or altered on the way. \
                 Use the recipient's private key (or the shared secret) it was made for"
            )
        }
        ErrorKind::AlgorithmNotAllowed => {
            ". Use a key made for the JWE's alg and enc (see `waxseal decode TOKEN`)".to_owned()
        }
        ErrorKind::KeyNotFound => format!(
            " (the JWE names kid {}; the keys given have {})",
            header_kid.map_or_else(|| "-".to_owned(), |k| format!("{k:?}")),
            if key_kids.is_empty() {
                "no kid".to_owned()
            } else {
                format!("kid {}", key_kids.join(", "))
            }
        ),
        _ => String::new(),
    };
    Failure::rejected(anyhow!("cannot decrypt: {e} [{}]{hint}", e.code()))
}

/// A JWT inside: `cty: JWT`, or a plaintext that reads as a compact token.
fn is_nested(opened: &Decrypted) -> bool {
    opened.header.cty.as_deref().is_some_and(is_jwt_type)
        || std::str::from_utf8(&opened.plaintext)
            .is_ok_and(|text| decode_unverified(text.trim()).is_ok())
}

/// `waxseal verify --key VERIFY_KEY` of the plaintext, with the claim rules of the flags.
fn verify_nested(args: &DecryptArgs, verify_key: &std::path::Path, opened: &Decrypted) -> Outcome {
    let text = std::str::from_utf8(&opened.plaintext).map_err(|_| {
        Failure::rejected(anyhow!(
            "the JWE decrypted, but its plaintext is not text, so no JWT to verify; drop --verify-key to get it"
        ))
    })?;
    let verify = VerifyArgs {
        keys: VerifyKeySource {
            key: Some(verify_key.to_path_buf()),
            secret_file: None,
            jwks: None,
            issuer: None,
        },
        algs: Vec::new(),
        issuers: args.issuers.clone(),
        audiences: args.audiences.clone(),
        leeway: args.leeway,
        required: args.required.clone(),
        typ: None,
        token: TokenArg {
            token: Some(text.trim().to_owned()),
        },
    };
    super::verify::run(&verify).map_err(|failure| match failure {
        Failure::Rejected(e) => {
            Failure::Rejected(e.context("the JWE decrypted, but the JWT inside was rejected"))
        }
        Failure::Usage(e) => {
            Failure::Usage(e.context("cannot verify the JWT inside (--verify-key)"))
        }
    })
}
