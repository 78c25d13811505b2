//! DPoP proofs made ahead of a load run, one per line, so that the load generator sends a fresh proof with every
//! request without signing anything itself (`scripts/load-bench.sh`, the DPoP run). Every proof has its own `jti`;
//! all are made now, so they stay acceptable for the proof window (60 s by default) from the moment they are made.
//!
//! ```sh
//! cargo run --release -p waxseal-bench --example dpop_proofs -- KEY_FILE METHOD URL COUNT [ACCESS_TOKEN] > proofs
//! ```
//!
//! `KEY_FILE` holds the client's private ES256 JWK; it is created when absent, so the token request and the
//! resource requests can be signed by the same key in two runs. `COUNT` proofs for `METHOD URL`, with `ath` when
//! `ACCESS_TOKEN` is given. Progress goes to stderr.

use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::time::Instant;

use waxseal::dpop::Proof;
use waxseal::{Algorithm, Jwk, SigningKey};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("dpop_proofs: {message}");
            eprintln!("usage: dpop_proofs KEY_FILE METHOD URL COUNT [ACCESS_TOKEN]");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (key_file, method, url, count, token) = match args.as_slice() {
        [k, m, u, c] => (k, m, u, c, None),
        [k, m, u, c, t] => (k, m, u, c, Some(t.as_str())),
        _ => return Err("four or five arguments are needed".into()),
    };
    let count: usize = count
        .parse()
        .map_err(|_| format!("COUNT {count:?} is not a number"))?;
    let key = match std::fs::read_to_string(key_file) {
        Ok(text) => Jwk::from_json(&text)
            .and_then(|jwk| SigningKey::from_jwk(&jwk))
            .map_err(|e| format!("{key_file}: {e}"))?,
        Err(_) => {
            let key = SigningKey::generate(Algorithm::ES256).map_err(|e| e.to_string())?;
            let jwk = key.to_jwk().map_err(|e| e.to_string())?;
            std::fs::write(key_file, jwk.to_json()).map_err(|e| format!("{key_file}: {e}"))?;
            key
        }
    };
    let started = Instant::now();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for made in 1..=count {
        let mut proof = Proof::new(method, url);
        if let Some(token) = token {
            proof = proof.access_token(token);
        }
        let proof = proof.sign(&key).map_err(|e| e.to_string())?;
        writeln!(out, "{proof}").map_err(|e| e.to_string())?;
        if made % 100_000 == 0 {
            eprintln!("dpop_proofs: {made} of {count} made");
        }
    }
    out.flush().map_err(|e| e.to_string())?;
    eprintln!(
        "dpop_proofs: {count} proofs in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
