//! The bare verification rate that `scripts/load-bench.sh` compares the server's fresh-token throughput with: the
//! same tokens, the same JWKS, the same rules as the server (`iss`, `aud`, `typ: at+jwt`), verified by the core
//! library on `THREADS` threads with no HTTP, no cache and no denylist.
//!
//! ```sh
//! cargo run --release -p waxseal-bench --example verify_rate -- JWKS_FILE TOKENS_FILE ISSUER AUDIENCE THREADS SECONDS
//! ```
//!
//! Prints `verifications/s: N` on stdout.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use waxseal::jwt::Verifier;
use waxseal::{KeySet, Limits};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("verify_rate: {message}");
            eprintln!("usage: verify_rate JWKS_FILE TOKENS_FILE ISSUER AUDIENCE THREADS SECONDS");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [jwks, tokens, issuer, audience, threads, seconds] = args.as_slice() else {
        return Err("six arguments are needed".into());
    };
    let jwks = std::fs::read_to_string(jwks).map_err(|e| format!("{jwks}: {e}"))?;
    let keys = KeySet::from_published_jwks(&jwks, &Limits::default()).map_err(|e| e.to_string())?;
    let verifier = Verifier::new(keys)
        .issuer(issuer.as_str())
        .audience(audience.as_str())
        .typ("at+jwt");
    let tokens = std::fs::read_to_string(tokens).map_err(|e| format!("{tokens}: {e}"))?;
    let tokens: Vec<&str> = tokens.lines().filter(|l| !l.is_empty()).collect();
    if tokens.is_empty() {
        return Err("the tokens file is empty".into());
    }
    let threads: usize = threads.parse().map_err(|_| "THREADS is a number")?;
    let seconds: u64 = seconds.parse().map_err(|_| "SECONDS is a number")?;

    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let failed = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (verifier, tokens, stop, done, failed) =
                (&verifier, &tokens, &stop, &done, &failed);
            scope.spawn(move || {
                let (mut count, mut failures) = (0u64, 0u64);
                for token in tokens.iter().cycle().skip(t * tokens.len() / threads) {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let claims = verifier.verify::<serde_json::Value>(std::hint::black_box(token));
                    failures += u64::from(claims.is_err());
                    count += 1;
                }
                done.fetch_add(count, Ordering::Relaxed);
                failed.fetch_add(failures, Ordering::Relaxed);
            });
        }
        std::thread::sleep(Duration::from_secs(seconds));
        stop.store(true, Ordering::Relaxed);
    });
    // Every token must verify, or the rate would count failures.
    let failures = failed.load(Ordering::Relaxed);
    if failures > 0 {
        return Err(format!(
            "{failures} verifications failed: are the tokens from this JWKS and issuer?"
        ));
    }
    let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    println!("verifications/s: {rate:.0}");
    Ok(())
}
