//! `waxseal lint`: a security review of a token, which no web debugger does.
//!
//! Reads the token without trusting it and runs every check: the header ([`checks::header`]), the registered claims
//! ([`checks::registered`]; a DPoP proof by its own rules instead, [`dpop::proof`], and a bound token's `cnf.jkt`,
//! [`dpop::bound`]), the contents of all claims ([`sensitive::scan`]), the signature and key when `--key` is
//! given ([`key::check`]), and for HMAC tokens a search for the secret among the built-in weak secrets
//! ([`wordlist::builtin`]) and `--wordlist` ([`secrets`]). Exit 0 when nothing at warning level or above is found,
//! 1 when something is, 2 when the command cannot run as asked.

mod checks;
mod dpop;
pub(crate) mod finding;
mod jwe;
mod key;
mod progress;
mod report;
pub mod secrets;
mod sensitive;
pub(crate) mod wordlist;

use std::fs::File;
use std::io::BufReader;
use std::process::ExitCode;

use anyhow::anyhow;
use serde_json::Value;
use waxseal::jwt::{UnverifiedToken, decode_unverified};

use self::finding::Finding;
use self::progress::Progress;
use self::report::{Report, SearchSummary};
use self::secrets::{Batch, Target};
use crate::cli::LintArgs;
use crate::commands::dpop::{embedded_key, is_proof};
use crate::style::Style;
use crate::{Failure, Outcome, input, time};

// The signature every command shares, though `Style` is small enough to copy.
#[allow(clippy::trivially_copy_pass_by_ref)]
pub fn run(args: &LintArgs, style: Style) -> Outcome {
    let wordlist = args
        .wordlist
        .as_ref()
        .map(|path| {
            File::open(path)
                .and_then(|f| Ok((f.metadata()?.len(), f)))
                .map_err(|e| {
                    Failure::usage(anyhow!("cannot read wordlist {}: {e}", path.display()))
                })
        })
        .transpose()?;
    let token = input::token(args.token.token.as_deref())?;
    let decoded = decode_unverified(&token)
        .map_err(|e| Failure::rejected(anyhow!("cannot decode the token: {e}")))?;
    let header = &decoded.header;
    let text = |name: &str| header.get(name).and_then(Value::as_str).map(str::to_owned);
    let alg = text("alg");

    let mut findings = review(&decoded, time::now());

    let key_checked = match &args.key {
        Some(path) if !decoded.is_jwe => {
            let crit = header
                .get("crit")
                .and_then(Value::as_array)
                .map(|names| {
                    names
                        .iter()
                        .filter_map(|n| n.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let token = key::Token {
                compact: &token,
                alg: alg.as_deref(),
                crit,
            };
            findings.extend(key::check(path, &token)?);
            true
        }
        _ => false,
    };

    // A proof carries its key: its signature can be checked with that, unless the checks above already refused the
    // key or the algorithm.
    let proof = !decoded.is_jwe && is_proof(header);
    let refused = |f: &Finding| {
        matches!(
            f.code,
            "dpop_no_jwk"
                | "dpop_bad_jwk"
                | "dpop_symmetric_alg"
                | "alg_none"
                | "no_alg"
                | "unsupported_alg"
        )
    };
    let self_checked = proof && !key_checked && !findings.iter().any(refused);
    if self_checked && let Err(why) = embedded_key(&token, header).signature {
        findings.push(Finding::error(
            "dpop_bad_signature",
            format!("the proof's signature does not verify with its own jwk: {why}"),
            "Sign the proof with the private key whose public half is in its header (waxseal dpop does).",
        ));
    }

    let target = if decoded.is_jwe {
        None
    } else {
        Target::from_token(&token)
    };
    if target.is_none() && args.wordlist.is_some() {
        eprintln!("note: --wordlist is only used for HMAC (HS256/HS384/HS512) tokens");
    }
    let search = target
        .as_ref()
        .map(|target| search(target, wordlist, &mut findings))
        .transpose()?;
    let unsigned = alg
        .as_deref()
        .is_none_or(|a| a.eq_ignore_ascii_case("none"));
    if !key_checked
        && !self_checked
        && !decoded.is_jwe
        && !unsigned
        && !search.as_ref().is_some_and(|s| s.found)
    {
        findings.push(Finding::info(
            "signature_not_checked",
            "no --key given, so the signature was not checked",
            "Pass the issuer's key with --key FILE to check the signature too.",
        ));
    }

    findings.sort_by_key(|f| f.severity);
    let report = Report {
        alg,
        typ: text("typ"),
        kid: text("kid"),
        findings,
        search,
    };
    let out = if args.json {
        report::json(&report) + "\n"
    } else {
        report::human(&report, style)
    };
    crate::output::emit(&out)?;
    Ok(if report.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Every check that needs nothing but the token: the header, the registered claims and the contents of all claims
/// (or a note on why only the header could be reviewed). The key check and the secret search come on top.
pub(crate) fn review(decoded: &UnverifiedToken, now: u64) -> Vec<Finding> {
    let mut findings = checks::header(&decoded.header, &decoded.signature, decoded.is_jwe);
    if decoded.is_jwe {
        findings.extend(jwe::header(&decoded.header));
        findings.push(Finding::info(
            "encrypted",
            "an encrypted token (JWE): only its header could be reviewed",
            "Lint the token inside, or the JWS before encryption, for a full review.",
        ));
    } else if let Some(claims) = &decoded.claims {
        if is_proof(&decoded.header) {
            findings.extend(dpop::proof(&decoded.header, claims, now));
        } else {
            findings.extend(checks::registered(claims, &decoded.header, now));
            findings.extend(dpop::bound(claims));
        }
        findings.extend(sensitive::scan(claims));
    } else {
        findings.push(Finding::info(
            "not_jwt",
            "the payload is not a JSON object, so this is a JWS but not a JWT; only the header was reviewed",
            "Nothing to do if that is intended; a JWT's payload is a JSON object of claims.",
        ));
    }
    findings
}

/// The finding of a secret search that hit: the secret is shown, since whoever holds the token can find it too.
pub(crate) fn weak_secret(secret: &[u8], source: &str) -> Finding {
    Finding::error(
        "weak_secret",
        format!(
            "the HMAC secret is {:?}, from {source}: anyone can forge tokens with it",
            String::from_utf8_lossy(secret)
        ),
        "Replace the secret with 32+ random bytes (waxseal keygen --alg HS256) and revoke every token it signed.",
    )
}

/// The weak-secret search: the built-in list, then the word list. Adds a `weak_secret` finding when it hits.
fn search(
    target: &Target,
    wordlist: Option<(u64, File)>,
    findings: &mut Vec<Finding>,
) -> Result<SearchSummary, Failure> {
    let start = std::time::Instant::now();
    let threads = secrets::default_threads();
    let builtin: Batch = wordlist::builtin().into_iter().collect();
    let index = secrets::search_batch(target, &builtin, threads);
    // Up to the hit in list order (the other threads will have tried some beyond it), or all of them.
    let mut candidates = index.map_or(builtin.len(), |i| i + 1) as u64;
    let mut hit = index.map(|i| (builtin.get(i).to_vec(), "the built-in list of weak secrets"));
    if let (None, Some((len, file))) = (&hit, wordlist) {
        let progress = Progress::for_wordlist(len);
        let outcome = secrets::search_lines(
            target,
            BufReader::with_capacity(1 << 20, file),
            threads,
            |bytes, n| progress.update(bytes, n),
        );
        progress.finish();
        let outcome =
            outcome.map_err(|e| Failure::usage(anyhow!("cannot read the wordlist: {e}")))?;
        candidates += outcome.candidates;
        hit = outcome.found.map(|s| (s, "--wordlist"));
    }
    if let Some((secret, source)) = &hit {
        findings.push(weak_secret(secret, source));
    }
    Ok(SearchSummary {
        candidates,
        elapsed: start.elapsed(),
        found: hit.is_some(),
    })
}
