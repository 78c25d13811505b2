//! `--key`: check the signature, and the key itself.
//!
//! The key file is read like everywhere else (PEM, JWK, JWK Set, DER). For HMAC tokens a file that is none of
//! those is taken as raw secret bytes, as `--secret-file` would read it, since lint has no separate flag for it.
//! The library refuses HMAC secrets shorter than the hash and RSA moduli under 2048 bits, so those keys are judged
//! here from the JWK itself: a short secret is reported (and the signature still checked with it); a small RSA key
//! is reported and the signature left unchecked.

use std::path::Path;

use waxseal::jws::JwsVerifier;
use waxseal::{Algorithm, Jwk, KeySet, VerifyingKey};
use zeroize::Zeroizing;

use super::checks::{is_rsa, weak_rsa};
use super::finding::Finding;
use super::secrets::{Hmac, Target};
use crate::{Failure, input, keyfile};

/// What the token says about itself, as far as the key check needs it.
pub struct Token<'a> {
    pub compact: &'a str,
    pub alg: Option<&'a str>,
    pub crit: Vec<String>,
}

/// Findings about the key in `path` and the token's signature under it. Unreadable key files are usage errors.
pub fn check(path: &Path, token: &Token<'_>) -> Result<Vec<Finding>, Failure> {
    let hmac = token.alg.and_then(Hmac::from_alg);
    let jwks = match keyfile::read_jwks(path) {
        Ok(jwks) => jwks,
        Err(e) => {
            let Some(hmac) = hmac else { return Err(e) };
            let secret = Zeroizing::new(input::file(path, "key file")?);
            return Ok(check_secret(&secret, hmac, token.compact));
        }
    };
    let mut found = Vec::new();
    let mut keys = Vec::new();
    let mut secrets = Vec::new();
    for jwk in &jwks {
        if jwk.kty == "oct" && hmac.is_some() {
            secrets.push(Zeroizing::new(
                jwk.k
                    .as_deref()
                    .and_then(|k| waxseal::b64::decode(k, "k").ok())
                    .unwrap_or_default(),
            ));
            continue;
        }
        if let Some(bits) = rsa_bits(jwk)
            && bits < 2048
        {
            found.push(weak_rsa(bits, "--key is"));
            continue;
        }
        let algs = jwk.algorithms().unwrap_or_default();
        keys.extend(
            algs.into_iter()
                .filter_map(|alg| VerifyingKey::from_jwk_with_alg(jwk, alg).ok()),
        );
    }
    if let Some(hmac) = hmac
        && !secrets.is_empty()
    {
        // The secret that makes the tag, if one does; else the only one there is.
        let target = Target::from_token(token.compact);
        let matching = secrets
            .iter()
            .find(|s| target.as_ref().is_some_and(|t| t.matches(s)));
        if let Some(secret) = matching.or(secrets.first().filter(|_| secrets.len() == 1)) {
            found.extend(check_secret(secret, hmac, token.compact));
        } else {
            found.push(bad_signature(
                "no secret in the file makes this token's tag",
            ));
        }
        return Ok(found);
    }
    if token.alg.is_some_and(|a| a.eq_ignore_ascii_case("none")) {
        return Ok(found);
    }
    if keys.is_empty() {
        if found.is_empty() {
            found.push(no_fit("no key in the file can verify this token"));
        }
        return Ok(found);
    }
    let weak_rsa_only = token
        .alg
        .and_then(|a| Algorithm::from_name(a).ok())
        .is_some_and(|a| is_rsa(a) && !keys.iter().any(|k| is_rsa(k.algorithm())));
    if weak_rsa_only && !found.is_empty() {
        return Ok(found);
    }
    let keys = match KeySet::new(keys) {
        Ok(keys) => keys,
        Err(e) => {
            found.push(no_fit(&e.to_string()));
            return Ok(found);
        }
    };
    let verifier = JwsVerifier::new(keys)
        .allow_unencoded_payload(true)
        .understood_crit(token.crit.iter().cloned());
    if let Err(e) = verifier.verify_compact(token.compact) {
        found.push(bad_signature(&e.to_string()));
    }
    Ok(found)
}

/// An HMAC secret: long enough for the algorithm, and does it make the token's tag?
fn check_secret(secret: &[u8], hmac: Hmac, token: &str) -> Vec<Finding> {
    let mut found = Vec::new();
    if secret.len() < hmac.tag_len() {
        found.push(Finding::error(
            "hmac_secret_short",
            format!(
                "--key is a {}-byte HMAC secret; {} needs at least {} bytes (RFC 7518 §3.2), and short secrets can be guessed offline",
                secret.len(),
                alg_name(hmac),
                hmac.tag_len()
            ),
            "Replace it with a random secret at least as long as the hash (waxseal keygen --alg HS256).",
        ));
    }
    match Target::from_token(token) {
        Some(target) if target.matches(secret) => {}
        _ => found.push(bad_signature(&format!(
            "{} signature does not match",
            alg_name(hmac)
        ))),
    }
    found
}

fn alg_name(hmac: Hmac) -> &'static str {
    match hmac {
        Hmac::Hs256 => "HS256",
        Hmac::Hs384 => "HS384",
        Hmac::Hs512 => "HS512",
    }
}

/// The modulus size of an RSA JWK, from `n` (leading zero bytes ignored).
pub fn rsa_bits(jwk: &Jwk) -> Option<usize> {
    if jwk.kty != "RSA" {
        return None;
    }
    let n = waxseal::b64::decode(jwk.n.as_deref()?, "n").ok()?;
    let first = n.iter().position(|b| *b != 0)?;
    Some((n.len() - first - 1) * 8 + (8 - n[first].leading_zeros() as usize))
}

fn bad_signature(why: &str) -> Finding {
    Finding::error(
        "bad_signature",
        format!("the signature does not verify with --key: {why}"),
        "Check that --key is the issuer's key; if it is, the token was altered or forged: reject it.",
    )
}

fn no_fit(why: &str) -> Finding {
    Finding::error(
        "bad_signature",
        format!("the signature cannot be checked with --key: {why}"),
        "Pass the issuer's key for this token's alg (PEM, JWK or JWK Set).",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_modulus_bits() {
        let jwk = |n: &[u8]| Jwk {
            kty: "RSA".into(),
            n: Some(waxseal::b64::encode(n)),
            ..Jwk::default()
        };
        assert_eq!(rsa_bits(&jwk(&[0xff; 128])), Some(1024));
        let mut n = vec![0u8; 1];
        n.extend([0x01; 256]);
        assert_eq!(rsa_bits(&jwk(&n)), Some(2041));
    }
}
