//! `waxseal verify`: exit 0 and the claims on stdout when the token is valid; exit 1 and the reason when not.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::anyhow;
use serde_json::Value;
use waxseal::ErrorKind;
use waxseal::jwt::{FixedClock, NumericDate, Verifier};

use crate::cli::VerifyArgs;
use crate::{Failure, Outcome, input, keyfile, output, time};

pub fn run(args: &VerifyArgs) -> Outcome {
    let narrow = keyfile::parse_algs(&args.algs)?;
    let keys = keyfile::verifying_keys(&args.keys, &narrow)?;
    let token = input::token(args.token.token.as_deref())?;
    // For "no key has kid": which kids the keys do have (a PEM key's kid is its RFC 7638 thumbprint).
    let mut kids: Vec<String> = keys
        .keys()
        .iter()
        .filter_map(|k| k.kid().map(|kid| format!("{kid:?}")))
        .collect();
    kids.sort();
    kids.dedup();

    let mut verifier = Verifier::new(keys)
        .leeway(Duration::from_secs(args.leeway))
        .require_exp(false)
        .require(args.required.iter().cloned())
        .clock(FixedClock(NumericDate::from_secs(time::now())));
    if !narrow.is_empty() {
        verifier = verifier.algorithms(narrow);
    }
    for iss in &args.issuers {
        verifier = verifier.issuer(iss);
    }
    if args.audiences.is_empty() {
        verifier = verifier.any_audience();
    }
    for aud in &args.audiences {
        verifier = verifier.audience(aud);
    }
    if let Some(typ) = &args.typ {
        verifier = verifier.typ(typ);
    }
    let claims = verifier
        .verify::<Value>(&token)
        .map_err(|e| {
            let hint = if e.kind() == ErrorKind::KeyNotFound && !kids.is_empty() {
                format!(" (the keys given have kid {})", kids.join(", "))
            } else {
                String::new()
            };
            Failure::rejected(anyhow!("token rejected: {e} [{}]{hint}", e.code()))
        })?
        .custom;
    if claims.get("exp").is_none() {
        eprintln!("note: the token has no exp claim, so it never expires");
    }
    output::emit(&(serde_json::to_string_pretty(&claims).unwrap_or_default() + "\n"))?;
    Ok(ExitCode::SUCCESS)
}
