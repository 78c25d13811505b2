//! `waxseal verify`: exit 0 and the claims on stdout when the token is valid; exit 1 and the reason when not; exit 2
//! when the command cannot judge (bad flags, keys that cannot be had).
//!
//! The keys come from a local key or secret file, from a JWK Set (a URL or a file), or from an issuer's discovery
//! metadata. URLs are fetched once through `waxseal-remote`, so its bounds hold unchanged: https only (plain http only
//! to a loopback address, refused before any connection), a timeout, and limits on document size and key count. A JWK
//! Set, fetched or local, is read as a *published* document: a private or secret key in it is ignored, never trusted
//! — anyone who could read the document could otherwise sign tokens with it.

use std::future::Future;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use serde_json::Value;
use waxseal::jwt::{Claims, FixedClock, NumericDate, Verifier};
use waxseal::{Algorithm, AlgorithmSet, ErrorKind, KeySet, Limits};
use waxseal_remote::{Issuer, RemoteKeySet, RemoteVerifier};

use crate::cli::VerifyArgs;
use crate::{Failure, Outcome, input, keyfile, output, time};

/// A fetch that has not answered after this long gets a spinner (on a terminal).
const PROGRESS_AFTER: Duration = Duration::from_millis(400);
/// At most this many "key ignored" notes; a large set of encryption keys should not flood the terminal.
const MAX_NOTES: usize = 5;
/// At most this many kids listed when a token's kid is unknown, each at most this long.
const MAX_KIDS: usize = 8;
const MAX_KID_CHARS: usize = 48;

pub fn run(args: &VerifyArgs) -> Outcome {
    let narrow = keyfile::parse_algs(&args.algs)?;
    let rules = Rules::new(args, &narrow);
    let source = &args.keys;
    if let Some(issuer) = &source.issuer {
        if let Some(other) = args.issuers.iter().find(|iss| *iss != issuer) {
            return Err(Failure::usage(anyhow!(
                "--iss {other:?} contradicts --issuer {issuer}: a discovered issuer's tokens must carry its \
                 identifier as iss; drop --iss"
            )));
        }
        // The token first: a missing one is reported without a round trip to the issuer.
        let token = input::token(args.token.token.as_deref())?;
        return remote(&Remote::Issuer(issuer), &token, rules);
    }
    if let Some(jwks) = &source.jwks {
        if is_url(jwks) {
            let token = input::token(args.token.token.as_deref())?;
            return remote(&Remote::Jwks(jwks), &token, rules);
        }
        let set = jwks_file(Path::new(jwks))?;
        let keys = KeysSeen::of_set(&set, format!("the JWK Set in {jwks}"));
        keys.check_narrowing(&set, &narrow)?;
        let token = input::token(args.token.token.as_deref())?;
        return conclude(rules.apply(Verifier::new(set)).verify(&token), &keys);
    }
    let set = keyfile::verifying_keys(
        source.key.as_deref(),
        source.secret_file.as_deref(),
        &narrow,
    )?;
    let token = input::token(args.token.token.as_deref())?;
    let keys = KeysSeen {
        kids: kids(&set),
        what: "the keys given".to_owned(),
        owner: "the keys given have".to_owned(),
        issuer: None,
    };
    conclude(rules.apply(Verifier::new(set)).verify(&token), &keys)
}

/// The validation rules of the flags, applied alike to local and remote keys (a remote verifier applies them again
/// whenever its keys change, hence owned values).
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    pub(crate) narrow: Vec<Algorithm>,
    pub(crate) issuers: Vec<String>,
    pub(crate) audiences: Vec<String>,
    pub(crate) leeway: u64,
    pub(crate) required: Vec<String>,
    pub(crate) typ: Option<String>,
    pub(crate) now: u64,
}

impl Rules {
    fn new(args: &VerifyArgs, narrow: &[Algorithm]) -> Rules {
        Rules {
            narrow: narrow.to_vec(),
            issuers: args.issuers.clone(),
            audiences: args.audiences.clone(),
            leeway: args.leeway,
            required: args.required.clone(),
            typ: args.typ.clone(),
            now: time::now(),
        }
    }

    pub(crate) fn apply(&self, verifier: Verifier) -> Verifier {
        let mut verifier = verifier
            .leeway(Duration::from_secs(self.leeway))
            .require_exp(false)
            .require(self.required.iter().cloned())
            .clock(FixedClock(NumericDate::from_secs(self.now)));
        if !self.narrow.is_empty() {
            verifier = verifier.algorithms(self.narrow.iter().copied());
        }
        for iss in &self.issuers {
            verifier = verifier.issuer(iss);
        }
        if self.audiences.is_empty() {
            verifier = verifier.any_audience();
        }
        for aud in &self.audiences {
            verifier = verifier.audience(aud);
        }
        if let Some(typ) = &self.typ {
            verifier = verifier.typ(typ);
        }
        verifier
    }
}

/// What the user should be told about the keys when a token is rejected.
pub(crate) struct KeysSeen {
    /// The kids of the keys, quoted, sorted, without repeats.
    pub(crate) kids: Vec<String>,
    /// "the keys given", "the JWK Set at URL".
    pub(crate) what: String,
    /// "the keys given have", "the JWK Set at URL has": the subject of the kid hint.
    pub(crate) owner: String,
    /// The `--issuer` URL the token's `iss` had to equal.
    pub(crate) issuer: Option<String>,
}

impl KeysSeen {
    fn of_set(set: &KeySet, what: String) -> KeysSeen {
        for skipped in set.skipped().iter().take(MAX_NOTES) {
            // "key #3: why" → "key #3 of the JWK Set at … ignored: why". Reasons name members, never key material.
            match skipped.split_once(": ") {
                Some((which, why)) => eprintln!("note: {which} of {what} ignored: {why}"),
                None => eprintln!("note: a key of {what} ignored: {skipped}"),
            }
        }
        if set.skipped().len() > MAX_NOTES {
            eprintln!(
                "note: {} more keys of {what} ignored",
                set.skipped().len() - MAX_NOTES
            );
        }
        KeysSeen {
            kids: kids(set),
            owner: format!("{what} has"),
            what,
            issuer: None,
        }
    }

    /// `--alg` narrows what a set allows; narrowing it to nothing is a usage error, as for a key file.
    fn check_narrowing(&self, set: &KeySet, narrow: &[Algorithm]) -> Result<(), Failure> {
        let wanted: AlgorithmSet = narrow.iter().copied().collect();
        if narrow.is_empty() || !set.algorithms().intersection(wanted).is_empty() {
            return Ok(());
        }
        Err(Failure::usage(anyhow!(
            "no usable verification key: no key of {} is for {wanted} (its keys are for {})",
            self.what,
            set.algorithms()
        )))
    }

    /// What to add to a rejection so the user knows what to change.
    pub(crate) fn hint(&self, e: &waxseal::Error) -> String {
        match e.kind() {
            ErrorKind::KeyNotFound if !self.kids.is_empty() => {
                format!(" ({} kid {})", self.owner, self.kids.join(", "))
            }
            ErrorKind::KeyNotFound => format!(" (no key of {} has a kid)", self.what),
            ErrorKind::Issuer => match &self.issuer {
                Some(issuer) => format!(" (--issuer requires iss {issuer:?})"),
                None => String::new(),
            },
            _ => String::new(),
        }
    }
}

/// The kids the set's keys were given, quoted, for "no key has kid" (a PEM key has none of its own and answers to
/// any kid, so only keys with their own kid can refuse one). A fetched set is someone else's input: at most
/// [`MAX_KIDS`] are listed, each cut to [`MAX_KID_CHARS`].
pub(crate) fn kids(set: &KeySet) -> Vec<String> {
    let mut kids: Vec<&str> = set.keys().iter().filter_map(|k| k.own_kid()).collect();
    kids.sort_unstable();
    kids.dedup();
    let mut shown: Vec<String> = kids
        .iter()
        .take(MAX_KIDS)
        .map(|kid| {
            let cut: String = kid.chars().take(MAX_KID_CHARS).collect();
            let more = if cut.len() < kid.len() { "…" } else { "" };
            format!("{cut:?}{more}")
        })
        .collect();
    if kids.len() > MAX_KIDS {
        shown.push(format!("and {} more", kids.len() - MAX_KIDS));
    }
    shown
}

/// The verdict, as every key source reports it: the claims on stdout, or why the token was rejected.
fn conclude(verdict: waxseal::Result<Claims<Value>>, keys: &KeysSeen) -> Outcome {
    let claims = verdict
        .map_err(|e| {
            Failure::rejected(anyhow!(
                "token rejected: {e} [{}]{}",
                e.code(),
                keys.hint(&e)
            ))
        })?
        .custom;
    if claims.get("exp").is_none() {
        eprintln!("note: the token has no exp claim, so it never expires");
    }
    output::emit(&(serde_json::to_string_pretty(&claims).unwrap_or_default() + "\n"))?;
    Ok(ExitCode::SUCCESS)
}

/// `--jwks` names a URL rather than a file when it has a scheme; an unacceptable scheme (`ftp://`, `file://`) is
/// then refused by `waxseal-remote` with its reason, rather than looked for as a file.
fn is_url(text: &str) -> bool {
    let lower = text.get(..8).unwrap_or(text).to_ascii_lowercase();
    text.contains("://") || lower.starts_with("http:") || lower.starts_with("https:")
}

/// A local JWK Set file, read as the published document it stands for.
fn jwks_file(path: &Path) -> Result<KeySet, Failure> {
    let bytes = input::file(path, "JWK Set file")?;
    let name = path.display();
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Failure::usage(anyhow!("cannot use JWK Set file {name}: it is not text")))?;
    KeySet::from_published_jwks(text, &Limits::default()).map_err(|e| {
        let is_set = serde_json::from_str::<Value>(text).is_ok_and(|v| v.get("keys").is_some());
        let hint = if is_set {
            ""
        } else {
            " (for a single JWK, a PEM or a DER key use --key)"
        };
        Failure::usage(anyhow!("cannot use JWK Set file {name}: {e}{hint}"))
    })
}

/// A key source on the network.
enum Remote<'a> {
    /// `--jwks URL`.
    Jwks(&'a str),
    /// `--issuer URL`.
    Issuer(&'a str),
}

/// Fetches the keys once (discovery first for an issuer) and verifies `token` with them.
fn remote(from: &Remote<'_>, token: &str, rules: Rules) -> Outcome {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(Failure::usage)?;
    runtime.block_on(async move {
        let (verifier, what, issuer) = match from {
            Remote::Jwks(url) => {
                let set =
                    RemoteKeySet::new(url).map_err(|e| Failure::usage(anyhow!("--jwks: {e}")))?;
                let what = format!("the JWK Set at {}", set.url());
                (RemoteVerifier::new(set), what, None)
            }
            Remote::Issuer(url) => {
                let issuer = with_progress(&format!("discovering {url}"), Issuer::discover(url))
                    .await
                    .map_err(|e| Failure::usage(anyhow!("--issuer: {e}")))?;
                let what = format!("the JWK Set at {}", issuer.key_set().url());
                (issuer.verifier(), what, Some((*url).to_owned()))
            }
        };
        let fetched = with_progress(
            &format!("fetching {}", verifier.key_set().url()),
            verifier.key_set().keys(),
        )
        .await
        .map_err(|e| Failure::usage(anyhow!("cannot get {what}: {e}")))?;
        let mut keys = KeysSeen::of_set(&fetched.set, what);
        keys.issuer = issuer;
        keys.check_narrowing(&fetched.set, &rules.narrow)?;
        // The keys just fetched are fresh, so this verifies with them; an unknown kid does not refetch within the
        // key set's cooldown, so a one-shot command asks the issuer once.
        let verdict = verifier
            .configure(move |v| rules.apply(v))
            .verify::<Value>(token)
            .await;
        match verdict {
            Ok(claims) => conclude(Ok(claims), &keys),
            Err(e) => match e.token_error() {
                Some(token_error) => conclude(Err(token_error.clone()), &keys),
                None => Err(Failure::usage(anyhow!("cannot get {}: {e}", keys.what))),
            },
        }
    })
}

/// Awaits `work`, showing a spinner with `what` on a terminal's standard error once it takes a noticeable time.
async fn with_progress<T>(what: &str, work: impl Future<Output = T>) -> T {
    let mut work = std::pin::pin!(work);
    tokio::select! {
        done = &mut work => return done,
        () = tokio::time::sleep(PROGRESS_AFTER) => {}
    }
    let spinner = std::io::stderr().is_terminal().then(|| {
        let spinner = indicatif::ProgressBar::new_spinner();
        spinner.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        spinner.set_message(what.to_owned());
        spinner.enable_steady_tick(Duration::from_millis(100));
        spinner
    });
    let done = work.await;
    if let Some(spinner) = spinner {
        spinner.finish_and_clear();
    }
    done
}
