//! Key commands: `keygen`, `jwks`, `thumbprint`, `convert`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::anyhow;
use serde_json::json;
use waxseal::jwe::KeyManagement;
use waxseal::{Algorithm, Jwk, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use crate::cli::{ConvertArgs, JwksArgs, KeyFileArg, KeyFormat, KeygenArgs};
use crate::{Failure, Outcome, keyfile, output};

pub(super) fn pretty(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

pub fn keygen(args: &KeygenArgs) -> Outcome {
    // The JWS and JWE registries share no name, so --alg says which kind of key is wanted.
    let alg = match Algorithm::from_name(&args.alg) {
        Ok(alg) => alg,
        Err(jws) => match KeyManagement::from_name(&args.alg) {
            Ok(alg) => return super::jwe_keys::keygen(args, alg),
            Err(jwe) if jwe.message().starts_with("unsupported JWE") => {
                return Err(Failure::usage(anyhow!(
                    "--alg {}: {jws}; nor is it a JWE key-management algorithm (dir, A256KW, A256GCMKW, \
                     RSA-OAEP-256, ECDH-ES+A256KW, PBES2-HS256+A128KW, …)",
                    args.alg
                )));
            }
            Err(jwe) => return Err(Failure::usage(anyhow!("--alg {}: {jwe}", args.alg))),
        },
    };
    if args.enc.is_some() {
        return Err(Failure::usage(anyhow!(
            "--enc is for JWE keys of --alg dir only; a {alg} key signs"
        )));
    }
    if args.crv.is_some() {
        return Err(Failure::usage(anyhow!(
            "--crv is for JWE keys of the ECDH-ES algorithms; a {alg} key's curve is its algorithm's"
        )));
    }
    if alg.is_symmetric() && args.format == KeyFormat::Pem {
        return Err(Failure::usage(anyhow!(
            "an HMAC secret has no PEM form; use --format jwk"
        )));
    }
    let mut key = SigningKey::generate_with_rsa_bits(alg, usize::from(args.bits))
        .map_err(|e| Failure::usage(anyhow!("{e}")))?;
    if let Some(kid) = &args.kid {
        key = key.with_kid(kid);
    }
    let private = Zeroizing::new(match args.format {
        KeyFormat::Jwk => pretty(&key.to_jwk().map_err(|e| Failure::usage(anyhow!("{e}")))?) + "\n",
        KeyFormat::Pem => key.to_pem().map_err(|e| Failure::usage(anyhow!("{e}")))?,
    });
    match &args.out {
        Some(path) => {
            write_private(path, private.as_bytes(), args.force)?;
            eprintln!(
                "wrote the private {alg} key to {} (mode 0600)",
                path.display()
            );
            if alg.is_symmetric() {
                eprintln!(
                    "an HMAC key is a shared secret: give it only to the services that verify, never publish it"
                );
            } else {
                let public = key
                    .public_jwk()
                    .map_err(|e| Failure::usage(anyhow!("{e}")))?;
                output::emit(&(pretty(&public) + "\n"))?;
            }
        }
        None => {
            eprintln!(
                "note: no --out given, so the private key goes to standard output; keep it secret"
            );
            output::emit(&private)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes a private key readable by its owner only. Refuses to replace a file unless `force`.
pub(super) fn write_private(path: &Path, contents: &[u8], force: bool) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure::usage(anyhow!("cannot write {}: {e}", path.display()));
    if path.exists() {
        if !force {
            return Err(Failure::usage(anyhow!(
                "{} exists; pass --force to replace it",
                path.display()
            )));
        }
        std::fs::remove_file(path).map_err(fail)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(fail)?;
    file.write_all(contents).map_err(fail)?;
    file.sync_all().map_err(fail)
}

/// The public JWK of key material, with `alg` when known, `use: sig` and the thumbprint as default `kid`.
fn public_of(jwk: &Jwk, file: &Path) -> Result<Jwk, Failure> {
    if jwk.kty == "oct" {
        return Err(Failure::usage(anyhow!(
            "{} is an HMAC secret; secrets are never published in a JWK Set",
            file.display()
        )));
    }
    let mut public = jwk
        .to_public()
        .map_err(|e| Failure::usage(anyhow!("{e}")))?;
    // Publish only what a verifier could use: a key every algorithm refuses (say 1024-bit RSA) is no key.
    let algs = public
        .algorithms()
        .map_err(|e| Failure::usage(anyhow!("{}: {e}", file.display())))?;
    let refusals: Vec<waxseal::Error> = algs
        .iter()
        .filter_map(|alg| VerifyingKey::from_jwk_with_alg(&public, *alg).err())
        .collect();
    if refusals.len() == algs.len() {
        let why = refusals
            .first()
            .map_or_else(|| "no algorithm fits it".to_owned(), ToString::to_string);
        return Err(Failure::usage(anyhow!(
            "{} cannot be published: {why}",
            file.display()
        )));
    }
    if public.kid.is_none() {
        public.kid = Some(
            public
                .thumbprint()
                .map_err(|e| Failure::usage(anyhow!("{}: {e}", file.display())))?,
        );
    }
    if public.alg.is_none() {
        public.alg = jwk.algorithm().ok().flatten().map(|a| a.name().to_owned());
    }
    if public.use_.is_none() && public.key_ops.is_none() {
        public.use_ = Some("sig".into());
    }
    Ok(public)
}

pub fn jwks(args: &JwksArgs) -> Outcome {
    let mut keys = Vec::new();
    for file in &args.files {
        for jwk in keyfile::read_jwks(file)? {
            keys.push(public_of(&jwk, file)?);
        }
    }
    output::emit(&(pretty(&json!({ "keys": keys })) + "\n"))?;
    Ok(ExitCode::SUCCESS)
}

pub fn thumbprint(args: &KeyFileArg) -> Outcome {
    for jwk in keyfile::read_jwks(&args.file)? {
        let thumbprint = jwk
            .thumbprint()
            .map_err(|e| Failure::usage(anyhow!("{e}")))?;
        output::emit(&format!("{thumbprint}\n"))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn convert(args: &ConvertArgs) -> Outcome {
    let jwks = keyfile::read_jwks(&args.file)?;
    for jwk in jwks {
        let out = Zeroizing::new(match args.to {
            KeyFormat::Jwk => pretty(&jwk) + "\n",
            KeyFormat::Pem => jwk
                .to_pem()
                .map_err(|e| Failure::usage(anyhow!("{}: {e}", args.file.display())))?,
        });
        output::emit(&out)?;
    }
    Ok(ExitCode::SUCCESS)
}
