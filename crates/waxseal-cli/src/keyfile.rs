//! Key files as people have them: PEM (private, public, certificate), JWK, JWK Set, DER, or raw HMAC secret bytes.
//! The format is detected from the content, not the file name.

use std::path::Path;

use anyhow::anyhow;
use waxseal::{Algorithm, Jwk, KeySet, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use crate::cli::KeySource;
use crate::{Failure, input};

/// The keys of one file, as JWKs (material not yet bound to an algorithm).
pub fn read_jwks(path: &Path) -> Result<Vec<Jwk>, Failure> {
    let bytes = Zeroizing::new(input::file(path, "key file")?);
    parse_keys(&bytes)
        .map_err(|e| Failure::usage(anyhow!("cannot use key file {}: {e}", path.display())))
}

/// The keys of a file's (or a pasted text's) bytes: PEM, JWK, JWK Set or DER, detected from the content.
pub fn parse_keys(bytes: &[u8]) -> anyhow::Result<Vec<Jwk>> {
    let text = std::str::from_utf8(bytes).ok();
    match text.map(str::trim_start) {
        Some(t) if t.starts_with('{') => parse_json_keys(t),
        Some(t) if t.contains("-----BEGIN") => Jwk::from_pem(t)
            .map(|j| vec![j])
            .map_err(|e| anyhow!("{e}")),
        _ => Jwk::from_der(bytes).map(|j| vec![j]).map_err(|_| {
            anyhow!(
                "it is not a PEM, JWK, JWK Set or DER key (for a raw HMAC secret use --secret-file)"
            )
        }),
    }
}

fn parse_json_keys(text: &str) -> anyhow::Result<Vec<Jwk>> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| anyhow!("invalid JSON: {e}"))?;
    if let Some(keys) = value.get("keys") {
        let keys = keys
            .as_array()
            .ok_or_else(|| anyhow!("\"keys\" must be an array"))?;
        if keys.is_empty() {
            return Err(anyhow!("the JWK Set has no keys"));
        }
        keys.iter()
            .map(|k| Jwk::from_json(&k.to_string()).map_err(|e| anyhow!("{e}")))
            .collect()
    } else {
        Ok(vec![Jwk::from_json(text).map_err(|e| anyhow!("{e}"))?])
    }
}

/// Parses `--alg` values.
pub fn parse_algs(names: &[String]) -> Result<Vec<Algorithm>, Failure> {
    names
        .iter()
        .map(|n| Algorithm::from_name(n).map_err(|e| Failure::usage(anyhow!("--alg {n}: {e}"))))
        .collect()
}

fn secret(path: &Path) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let secret = Zeroizing::new(input::file(path, "secret file")?);
    if secret.is_empty() {
        return Err(Failure::usage(anyhow!(
            "secret file {} is empty",
            path.display()
        )));
    }
    Ok(secret)
}

/// Every verifying key of a key file or a secret file: one per algorithm a key can serve, narrowed by `--alg`.
pub fn verifying_keys(
    key: Option<&Path>,
    secret_file: Option<&Path>,
    narrow: &[Algorithm],
) -> Result<KeySet, Failure> {
    if let Some(path) = secret_file {
        return secret_keys(&secret(path)?, narrow).map_err(Failure::Usage);
    }
    let jwks = match key {
        Some(path) => {
            let jwks = read_jwks(path)?;
            for jwk in &jwks {
                jwk.algorithms()
                    .map_err(|e| Failure::usage(anyhow!("{}: {e}", path.display())))?;
            }
            jwks
        }
        None => Vec::new(),
    };
    jwk_keys(&jwks, narrow).map_err(Failure::Usage)
}

/// The HMAC verifying keys of a secret: HS256, HS384 and HS512 (each needs a secret as long as its hash), narrowed
/// by `narrow` when it is not empty.
pub fn secret_keys(secret: &[u8], narrow: &[Algorithm]) -> anyhow::Result<KeySet> {
    let allowed = |alg: &Algorithm| narrow.is_empty() || narrow.contains(alg);
    let mut keys = Vec::new();
    let mut problems = Vec::new();
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512]
        .into_iter()
        .filter(allowed)
    {
        match VerifyingKey::from_secret(secret, alg) {
            Ok(key) => keys.push(key),
            Err(e) => problems.push(e.to_string()),
        }
    }
    key_set(keys, &problems)
}

/// The verifying keys of JWKs: one per algorithm each can serve, narrowed by `narrow` when it is not empty.
pub fn jwk_keys(jwks: &[Jwk], narrow: &[Algorithm]) -> anyhow::Result<KeySet> {
    let allowed = |alg: &Algorithm| narrow.is_empty() || narrow.contains(alg);
    let mut keys = Vec::new();
    let mut problems = Vec::new();
    for jwk in jwks {
        for alg in jwk.algorithms()?.into_iter().filter(allowed) {
            match VerifyingKey::from_jwk_with_alg(jwk, alg) {
                Ok(key) => keys.push(key),
                Err(e) => problems.push(e.to_string()),
            }
        }
    }
    key_set(keys, &problems)
}

fn key_set(keys: Vec<VerifyingKey>, problems: &[String]) -> anyhow::Result<KeySet> {
    if keys.is_empty() {
        let why = problems
            .first()
            .cloned()
            .unwrap_or_else(|| "no key fits the --alg given".to_owned());
        return Err(anyhow!("no usable verification key: {why}"));
    }
    KeySet::new(keys).map_err(|e| anyhow!("{e}"))
}

/// A signing key from one JWK for `alg`, refusing a public key with a message that says what is needed.
pub fn private_signing_key(jwk: &Jwk, alg: Algorithm, what: &str) -> anyhow::Result<SigningKey> {
    if !jwk.is_private() {
        return Err(anyhow!(
            "{what} is a public key; signing needs the private key"
        ));
    }
    SigningKey::from_jwk_with_alg(jwk, alg).map_err(|e| anyhow!("{e}"))
}

/// The one signing key of the source, for `alg` (or the algorithm the key names or implies).
pub fn signing_key(source: &KeySource, alg: Option<Algorithm>) -> Result<SigningKey, Failure> {
    if let Some(path) = &source.secret_file {
        let secret = secret(path)?;
        return SigningKey::from_secret(&secret, alg.unwrap_or(Algorithm::HS256))
            .map_err(|e| Failure::usage(anyhow!("{e}")));
    }
    let path = source
        .key
        .as_ref()
        .ok_or_else(|| Failure::usage(anyhow!("give --key FILE or --secret-file FILE")))?;
    jwk_signing_key(&private_jwk(path)?, alg)
}

/// The one private key of a key file, refusing a public key or a file of several with a message that says so.
pub fn private_jwk(path: &Path) -> Result<Jwk, Failure> {
    let mut jwks = read_jwks(path)?;
    if jwks.len() != 1 {
        return Err(Failure::usage(anyhow!(
            "{} holds {} keys; signing needs exactly one",
            path.display(),
            jwks.len()
        )));
    }
    let jwk = jwks.remove(0);
    if !jwk.is_private() {
        return Err(Failure::usage(anyhow!(
            "{} is a public key; signing needs the private key",
            path.display()
        )));
    }
    Ok(jwk)
}

/// A signing key from a private JWK, for `alg` or else the algorithm the key names (asking for `--alg` when it
/// names none).
pub fn jwk_signing_key(jwk: &Jwk, alg: Option<Algorithm>) -> Result<SigningKey, Failure> {
    let alg = match alg {
        Some(alg) => alg,
        None => jwk
            .algorithm()
            .map_err(|e| Failure::usage(anyhow!("{e}")))?
            .ok_or_else(|| {
                let options: Vec<&str> = jwk
                    .algorithms()
                    .unwrap_or_default()
                    .iter()
                    .map(|a| a.name())
                    .collect();
                Failure::usage(anyhow!(
                    "the key does not say its algorithm; add --alg ({})",
                    options.join(", ")
                ))
            })?,
    };
    SigningKey::from_jwk_with_alg(jwk, alg).map_err(|e| Failure::usage(anyhow!("{e}")))
}
