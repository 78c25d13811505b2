//! ECDH-ES key agreement (RFC 7518 §4.6) on P-256, P-384, P-521 and X25519 (RFC 8037): an ephemeral key pair per
//! JWE, its public half in the `epk` header member, the shared secret turned into a key by the Concat KDF.
//!
//! The `epk` is the one key in a JWE the sender chooses freely, so it is read as attacker input (the invalid-curve
//! attack, GHSA-rvj9-8cvx-3vq9, feeds a point of another curve to a decrypter that does not check it). The rules,
//! and the error each breach gets:
//!
//! * [`ErrorKind::Malformed`]: the header is not a well-formed ECDH-ES header — `epk` missing or not a JWK object,
//!   members missing or of the wrong JSON type, coordinates that are not base64url or not the curve's exact length,
//!   `apu`/`apv` that are not base64url, a private `d` in the `epk`, or (for `ECDH-ES` itself) a non-empty
//!   encrypted key segment. None of these depends on the recipient's key.
//! * [`ErrorKind::DecryptionFailed`]: everything about the key's *value* — an `epk` on another curve than the
//!   recipient's key (said so, naming both curves: both are public), a point that is not on the curve, an X25519
//!   shared secret of all zeros (a low-order point), and, for `ECDH-ES+A*KW`, a key that does not unwrap (the one
//!   message of [`failed`]).
//!
//! The point is checked twice over: aws-lc-rs validates a peer point before any agreement, and only uncompressed
//! points of the exact length are handed to it (no SPKI, compressed or hybrid encodings sneak through).

mod keys;

use aws_lc_rs::digest;
use serde_json::Value;
use zeroize::Zeroizing;

use super::algorithms::{ContentEncryption, KeyManagement};
use super::content::failed;
use super::header::JweHeader;
use super::key_management::{Source, Wrapped, aes_key_unwrap, aes_key_wrap, random};
use crate::b64;
use crate::error::{Error, ErrorKind, Result, quote};
use crate::jwk::Jwk;
pub(crate) use keys::{EcdhCurve, EcdhPrivate, EcdhPublic};

/// The Concat KDF of NIST SP 800-56A as RFC 7518 §4.6.2 uses it: SHA-256 rounds over counter ‖ Z ‖ OtherInfo,
/// where OtherInfo is AlgorithmID ‖ PartyUInfo ‖ PartyVInfo (each length-prefixed) ‖ SuppPubInfo (the key length in
/// bits).
pub(crate) fn concat_kdf(
    z: &[u8],
    algorithm_id: &str,
    apu: &[u8],
    apv: &[u8],
    key_len: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    let prefixed_len = |bytes: &[u8]| {
        u32::try_from(bytes.len())
            .map(u32::to_be_bytes)
            .map_err(|_| Error::malformed("ECDH-ES party information is too long"))
    };
    let bits = u32::try_from(key_len * 8)
        .map_err(|_| Error::invalid_key("the derived key is too long"))?;
    let mut out = Zeroizing::new(Vec::with_capacity(key_len + digest::SHA256_OUTPUT_LEN));
    let mut counter: u32 = 1;
    while out.len() < key_len {
        let mut round = digest::Context::new(&digest::SHA256);
        round.update(&counter.to_be_bytes());
        round.update(z);
        for part in [algorithm_id.as_bytes(), apu, apv] {
            round.update(&prefixed_len(part)?);
            round.update(part);
        }
        round.update(&bits.to_be_bytes());
        out.extend_from_slice(round.finish().as_ref());
        counter += 1;
    }
    out.truncate(key_len);
    Ok(out)
}

/// Agreement party information (`apu`, `apv`): bytes the sender puts into the key derivation.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Party<'a> {
    pub(crate) apu: &'a [u8],
    pub(crate) apv: &'a [u8],
}

/// The derived key: the content key for `ECDH-ES` (the KDF's AlgorithmID is then `enc`), or the key wrap key for
/// `ECDH-ES+A*KW` (AlgorithmID `alg`).
fn derive(
    alg: KeyManagement,
    enc: ContentEncryption,
    z: &[u8],
    party: Party<'_>,
) -> Result<Zeroizing<Vec<u8>>> {
    match alg.ecdh_wrap_len() {
        Some(len) => concat_kdf(z, alg.name(), party.apu, party.apv, len),
        None => concat_kdf(z, enc.name(), party.apu, party.apv, enc.key_len()),
    }
}

/// The sender's side: an ephemeral key pair (or, reproducing an example, the header's `epk` with its `d`),
/// agreement with the recipient's key, the derived key used or wrapping the content key. The header gets the
/// public `epk` and any non-empty `apu`/`apv`.
pub(crate) fn wrap(
    alg: KeyManagement,
    enc: ContentEncryption,
    recipient: &EcdhPublic,
    source: &Source<'_>,
    party: Party<'_>,
) -> Result<Wrapped> {
    let ephemeral = match source {
        Source::Random | Source::Given(_) => EcdhPrivate::generate(recipient.curve)?,
        Source::Fixed { header, .. } => fixed_ephemeral(header, recipient.curve)?,
    };
    let z = ephemeral
        .agree(recipient)
        .map_err(|_| Error::new(ErrorKind::Crypto, "ECDH key agreement failed"))?;
    let derived = derive(alg, enc, &z, party)?;
    let mut header = vec![("epk", Value::Object(ephemeral.public.jwk_members()))];
    for (name, bytes) in [("apu", party.apu), ("apv", party.apv)] {
        if !bytes.is_empty() {
            header.push((name, Value::String(b64::encode(bytes))));
        }
    }
    if alg.ecdh_wrap_len().is_none() {
        return Ok(Wrapped {
            cek: Some(derived),
            encrypted_key: Vec::new(),
            header,
        });
    }
    let cek = match source {
        Source::Random => random(enc.key_len())?,
        Source::Fixed { cek, .. } | Source::Given(cek) => Zeroizing::new(cek.to_vec()),
    };
    Ok(Wrapped {
        encrypted_key: aes_key_wrap(&derived, &cek)?,
        cek: Some(cek),
        header,
    })
}

/// The ephemeral private key of a published example: the header's `epk` with its `d`, whose `x`/`y` must match.
fn fixed_ephemeral(header: &JweHeader, curve: EcdhCurve) -> Result<EcdhPrivate> {
    let jwk = header
        .get("epk")
        .cloned()
        .ok_or_else(|| Error::malformed("reproducing ECDH-ES needs the header's \"epk\""))
        .and_then(Jwk::from_value)?;
    let d = Zeroizing::new(jwk.member("d", jwk.d.as_ref()).map_err(|_| {
        Error::malformed("reproducing ECDH-ES needs the ephemeral private key (\"d\" in \"epk\")")
    })?);
    if EcdhCurve::of_jwk(&jwk, header.alg)? != curve {
        return Err(Error::malformed("the epk is not on the recipient's curve"));
    }
    let ephemeral = EcdhPrivate::from_raw(curve, &d)?;
    if EcdhPublic::raw_of_jwk(&jwk, curve)? != ephemeral.public.bytes {
        return Err(Error::malformed(
            "the epk's public key does not belong to its \"d\"",
        ));
    }
    Ok(ephemeral)
}

/// Reads the `epk` of an incoming JWE for a recipient key on `curve` (see the module documentation for which
/// breach is which error).
pub(crate) fn read_epk(epk: Option<&Value>, curve: EcdhCurve) -> Result<EcdhPublic> {
    let epk = match epk {
        Some(Value::Object(members)) => members,
        Some(_) => {
            return Err(Error::malformed(
                "the JWE header's \"epk\" must be a JWK object",
            ));
        }
        None => {
            return Err(Error::malformed(
                "ECDH-ES needs the ephemeral public key (\"epk\") in the JWE header",
            ));
        }
    };
    if epk.contains_key("d") {
        return Err(Error::malformed(
            "the JWE's \"epk\" carries a private key (\"d\"); an ephemeral public key never does",
        ));
    }
    let jwk = Jwk::from_value(Value::Object(epk.clone()))
        .map_err(|e| Error::malformed(format!("the JWE's \"epk\": {}", e.message())))?;
    let named = (jwk.kty.as_str(), jwk.crv.as_deref());
    if named != (curve.kty(), Some(curve.name())) {
        return Err(Error::new(
            ErrorKind::DecryptionFailed,
            format!(
                "the JWE's ephemeral key (epk) is kty {} crv {}, but the decryption key is on {}",
                quote(named.0),
                quote(named.1.unwrap_or("-")),
                curve.name()
            ),
        ));
    }
    let raw = EcdhPublic::raw_of_jwk(&jwk, curve)
        .map_err(|e| Error::malformed(format!("the JWE's \"epk\": {}", e.message())))?;
    EcdhPublic::from_bytes(curve, &raw).ok_or_else(failed)
}

/// The recipient's side: agreement with the header's `epk`, then the derived key as the content key (the
/// encrypted key segment must be empty) or as the key that unwraps it.
pub(crate) fn unwrap(
    alg: KeyManagement,
    private: &EcdhPrivate,
    header: &JweHeader,
    encrypted_key: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let enc = header.enc;
    if alg.ecdh_wrap_len().is_none() && !encrypted_key.is_empty() {
        // RFC 7516 §5.2 step 10, as for "dir": the derived key is the content key.
        return Err(Error::malformed(
            "a JWE with alg \"ECDH-ES\" must have an empty encrypted key segment",
        ));
    }
    let epk = read_epk(header.get("epk"), private.public.curve)?;
    let apu = optional_binary(header, "apu")?;
    let apv = optional_binary(header, "apv")?;
    let z = private.agree(&epk)?;
    let derived = derive(
        alg,
        enc,
        &z,
        Party {
            apu: &apu,
            apv: &apv,
        },
    )?;
    if alg.ecdh_wrap_len().is_none() {
        return Ok(derived);
    }
    let cek = aes_key_unwrap(&derived, encrypted_key)?;
    if cek.len() != enc.key_len() {
        return Err(failed());
    }
    Ok(cek)
}

fn optional_binary(header: &JweHeader, name: &str) -> Result<Vec<u8>> {
    if header.get(name).is_some() {
        header.binary_member(name)
    } else {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7518 Appendix C: P-256, A128GCM, apu "Alice", apv "Bob".
    #[test]
    fn rfc7518_appendix_c() {
        let bob: Jwk = Jwk::from_json(
            r#"{"kty":"EC","crv":"P-256",
                "x":"weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ",
                "y":"e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck",
                "d":"VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw"}"#,
        )
        .unwrap();
        let alice_epk = serde_json::json!({"kty":"EC","crv":"P-256",
            "x":"gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0",
            "y":"SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps"});
        let d = bob.member("d", bob.d.as_ref()).unwrap();
        let private = EcdhPrivate::from_raw(EcdhCurve::P256, &d).unwrap();
        assert_eq!(
            EcdhPublic::raw_of_jwk(&bob, EcdhCurve::P256).unwrap(),
            private.public.bytes
        );
        let epk = read_epk(Some(&alice_epk), EcdhCurve::P256).unwrap();
        let z = private.agree(&epk).unwrap();
        let z_expected: [u8; 32] = [
            158, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132, 38, 156, 251, 49,
            110, 163, 218, 128, 106, 72, 246, 218, 167, 121, 140, 254, 144, 196,
        ];
        assert_eq!(z.as_slice(), z_expected);
        let key = concat_kdf(&z, "A128GCM", b"Alice", b"Bob", 16).unwrap();
        assert_eq!(b64::encode(&key), "VqqN6vgjbSBcIijNcacQGg");
        // The same through the seam the JWE code uses, with the header's apu/apv.
        let derived = derive(
            KeyManagement::EcdhEs,
            ContentEncryption::A128Gcm,
            &z,
            Party {
                apu: b"Alice",
                apv: b"Bob",
            },
        )
        .unwrap();
        assert_eq!(b64::encode(&derived), "VqqN6vgjbSBcIijNcacQGg");
        // Every input of the KDF matters.
        for other in [
            concat_kdf(&z, "A128GCM", b"Alice", b"Bob!", 16),
            concat_kdf(&z, "A128GCM", b"", b"Bob", 16),
            concat_kdf(&z, "A256GCM", b"Alice", b"Bob", 16),
            concat_kdf(&z[1..], "A128GCM", b"Alice", b"Bob", 16),
        ] {
            assert_ne!(other.unwrap().as_slice(), key.as_slice());
        }
    }

    #[test]
    fn concat_kdf_runs_as_many_rounds_as_the_key_needs() {
        let z = [7u8; 32];
        let long = concat_kdf(&z, "A256CBC-HS512", b"", b"", 64).unwrap();
        assert_eq!(long.len(), 64);
        assert_ne!(long[..32], long[32..]);
        // keydatalen is part of every round, so a shorter key is not a prefix of a longer one.
        let short = concat_kdf(&z, "A256CBC-HS512", b"", b"", 32).unwrap();
        assert_ne!(short.as_slice(), &long[..32]);
    }

    #[test]
    fn the_epk_is_read_strictly() {
        let private = EcdhPrivate::generate(EcdhCurve::P256).unwrap();
        let good = Value::Object(private.public.jwk_members());
        read_epk(Some(&good), EcdhCurve::P256).unwrap();
        let with = |name: &str, value: Value| {
            let mut epk = private.public.jwk_members();
            epk.insert(name.into(), value);
            Value::Object(epk)
        };
        let kind = |epk: Option<&Value>| read_epk(epk, EcdhCurve::P256).unwrap_err().kind();
        assert_eq!(kind(None), ErrorKind::Malformed);
        assert_eq!(kind(Some(&Value::String("x".into()))), ErrorKind::Malformed);
        assert_eq!(
            kind(Some(&with("d", Value::String("AAAA".into())))),
            ErrorKind::Malformed
        );
        assert_eq!(
            kind(Some(&with("x", Value::Bool(true)))),
            ErrorKind::Malformed
        );
        assert_eq!(
            kind(Some(&with("y", Value::String("AAAA".into())))),
            ErrorKind::Malformed
        );
        assert_eq!(
            kind(Some(&with("crv", Value::String("P-384".into())))),
            ErrorKind::DecryptionFailed
        );
        assert_eq!(
            kind(Some(&with("kty", Value::String("OKP".into())))),
            ErrorKind::DecryptionFailed
        );
    }
}
