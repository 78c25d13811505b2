//! `waxseal sign`: claims from flags, JSON, a file or stdin; `iat` by default; human durations for `exp`/`nbf`.

use std::io::Read;
use std::process::ExitCode;

use anyhow::anyhow;
use serde_json::{Map, Value};
use waxseal::jws::HeaderBuilder;
use waxseal::jwt::Signer;

use crate::cli::SignArgs;
use crate::{Failure, Outcome, input, keyfile, output, time};

pub fn run(args: &SignArgs) -> Outcome {
    let alg = args
        .alg
        .as_deref()
        .map(|a| keyfile::parse_algs(&[a.to_owned()]))
        .transpose()?
        .map(|v| v[0]);
    let key = keyfile::signing_key(&args.keys, alg)?;
    let now = time::now();
    let mut claims = base_claims(args.claims.as_deref())?;
    let mut set = |name: &str, value: Value| {
        claims.insert(name.to_owned(), value);
    };
    if let Some(sub) = &args.sub {
        set("sub", sub.clone().into());
    }
    if let Some(iss) = &args.iss {
        set("iss", iss.clone().into());
    }
    match args.audiences.as_slice() {
        [] => {}
        [one] => set("aud", one.clone().into()),
        many => set("aud", many.to_vec().into()),
    }
    if !args.no_iat {
        set("iat", now.into());
    }
    for (name, when) in [("exp", &args.exp), ("nbf", &args.nbf)] {
        if let Some(when) = when {
            let secs = time::parse_when(when, now)
                .map_err(|e| Failure::usage(anyhow!("--{name}: {e}")))?;
            if name == "exp" && secs <= now {
                // A bare number is a NumericDate: `--exp 15` means 1970, not 15 minutes. Say so.
                eprintln!(
                    "warning: --exp {when} is {} ({}), so the token is already expired; for a duration write 15m, 1h, 7d",
                    time::utc(secs),
                    time::relative(secs, now)
                );
            }
            set(name, secs.into());
        }
    }
    if let Some(jti) = &args.jti {
        set(
            "jti",
            if jti == "auto" {
                random_id()?
            } else {
                jti.clone()
            }
            .into(),
        );
    }

    let mut header = HeaderBuilder::new().typ(&args.typ);
    if let Some(kid) = &args.kid {
        header = header.kid(kid);
    }
    if let Some(extra) = &args.header {
        let extra: Map<String, Value> = serde_json::from_str(extra)
            .map_err(|e| Failure::usage(anyhow!("--header must be a JSON object: {e}")))?;
        for (name, value) in extra {
            header = header.member(name, value);
        }
    }
    let signer = Signer::with_header(&key, &header).map_err(|e| Failure::usage(anyhow!("{e}")))?;
    let token = signer
        .sign(&claims)
        .map_err(|e| Failure::usage(anyhow!("{e}")))?;
    output::emit(&format!("{token}\n"))?;
    Ok(ExitCode::SUCCESS)
}

fn base_claims(source: Option<&str>) -> Result<Map<String, Value>, Failure> {
    let text = match source {
        None => return Ok(Map::new()),
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .take(1 << 20)
                .read_to_string(&mut text)
                .map_err(|e| {
                    Failure::usage(anyhow!("cannot read claims from standard input: {e}"))
                })?;
            text
        }
        Some(path) if path.starts_with('@') => String::from_utf8(input::file(
            std::path::Path::new(&path[1..]),
            "claims file",
        )?)
        .map_err(|_| Failure::usage(anyhow!("claims file {} is not UTF-8", &path[1..])))?,
        Some(json) => json.to_owned(),
    };
    serde_json::from_str(&text)
        .map_err(|e| Failure::usage(anyhow!("--claims must be a JSON object: {e}")))
}

fn random_id() -> Result<String, Failure> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| Failure::usage(anyhow!("the system random generator failed")))?;
    Ok(waxseal::b64::encode(bytes))
}
