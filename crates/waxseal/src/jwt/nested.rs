//! Nested JWTs (RFC 7519 §5.2, §11.2): claims signed, then the signed token encrypted, so they are both
//! authenticated as the issuer's and private to the recipient.
//!
//! One call each way. [`NestedSigner`] signs with a [`Signer`] and encrypts with an [`Encrypter`], writing
//! `cty: "JWT"` in the JWE header. [`NestedVerifier`] checks both layers: it accepts only a JWE (a token that must be
//! private is refused when it arrives signed but readable), only with `cty: "JWT"`, only around a JWS (not a JWE in
//! a JWE), and then verifies the signature and the claims with a [`Verifier`] as for any JWT.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Claims, Signer, Verifier};
use crate::error::{Error, ErrorKind, Result};
use crate::jwe::{Decrypter, Encrypter, JweHeader};
use crate::jws::Header;

/// The `cty` of a JWE whose plaintext is a JWT. RFC 7515 §4.1.10 lets the `application/` prefix be left out and
/// media types compare without regard to case, so `jwt` and `application/JWT` name it too.
fn is_jwt_content_type(cty: &str) -> bool {
    let name = match (cty.get(..12), cty.get(12..)) {
        (Some(prefix), Some(rest)) if prefix.eq_ignore_ascii_case("application/") => rest,
        _ => cty,
    };
    name.eq_ignore_ascii_case("JWT")
}

/// Signs claims, then encrypts the signed token: a nested JWT.
///
/// ```
/// use std::time::Duration;
/// use waxseal::jwe::{ContentEncryption, Decrypter, DecryptionKey, Encrypter, KeyManagement};
/// use waxseal::jwt::{Claims, NestedSigner, NestedVerifier, Signer, Verifier};
/// use waxseal::{Algorithm, SigningKey};
///
/// let signing = SigningKey::generate(Algorithm::ES256)?;
/// let decryption = DecryptionKey::from_secret(&[7; 32], KeyManagement::A256KW)?;
/// let encryption = decryption.encryption_key();
///
/// let issuer = NestedSigner::new(
///     Signer::new(&signing),
///     Encrypter::new(&encryption, ContentEncryption::A256Gcm),
/// );
/// let claims = Claims::new(serde_json::json!({"email": "alice@example.com"}))
///     .subject("alice")
///     .expires_in(Duration::from_secs(300));
/// let token = issuer.sign(&claims)?;
///
/// let verifier = NestedVerifier::new(
///     Decrypter::new(decryption),
///     Verifier::new(signing.verifying_key()?),
/// );
/// let opened: Claims = verifier.verify(&token)?;
/// assert_eq!(opened.registered.sub.as_deref(), Some("alice"));
/// assert_eq!(opened.custom["email"], "alice@example.com");
/// # Ok::<(), waxseal::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct NestedSigner<'k> {
    signer: Signer,
    encrypter: Encrypter<'k>,
}

impl<'k> NestedSigner<'k> {
    /// Signs with `signer` and encrypts with `encrypter`, whose `cty` becomes `JWT`.
    pub fn new(signer: Signer, encrypter: Encrypter<'k>) -> Self {
        NestedSigner {
            signer,
            encrypter: encrypter.cty("JWT"),
        }
    }

    /// Signs `claims` into a JWS and encrypts it into a compact JWE.
    pub fn sign(&self, claims: &impl Serialize) -> Result<String> {
        let signed = self.signer.sign(claims)?;
        self.encrypter.encrypt_compact(signed.as_bytes())
    }
}

/// Decrypts a nested JWT and verifies the signed token inside it. Build once, use for every token.
#[derive(Debug, Clone)]
pub struct NestedVerifier {
    decrypter: Decrypter,
    verifier: Verifier,
}

impl NestedVerifier {
    /// A verifier that opens the outer JWE with `decrypter` and checks the inner JWT with `verifier`.
    pub fn new(decrypter: Decrypter, verifier: Verifier) -> Self {
        NestedVerifier {
            decrypter,
            verifier,
        }
    }

    /// Decrypts, checks the nesting, verifies the signature and the claims, and returns the claims.
    pub fn verify<T: DeserializeOwned>(&self, token: &str) -> Result<Claims<T>> {
        self.verify_with_headers(token).map(|(_, _, claims)| claims)
    }

    /// Like [`NestedVerifier::verify`], also returning the JWE header and the inner JWS header.
    pub fn verify_with_headers<T: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<(JweHeader, Header, Claims<T>)> {
        let segments = token.split('.').count();
        if segments == 3 {
            return Err(Error::malformed(
                "this is a signed JWT that is not encrypted; a nested JWT is a JWE around a signed JWT",
            ));
        }
        let opened = self.decrypter.decrypt_compact(token)?;
        match opened.header.cty.as_deref() {
            Some(cty) if is_jwt_content_type(cty) => {}
            Some(other) => {
                return Err(Error::new(
                    ErrorKind::Rejected,
                    format!(
                        "the JWE carries content of type {other:?}, not a JWT (a nested JWT has cty \"JWT\")"
                    ),
                ));
            }
            None => {
                return Err(Error::new(
                    ErrorKind::Rejected,
                    "the JWE has no cty; a nested JWT says cty \"JWT\" (RFC 7519 §5.2)",
                ));
            }
        }
        let inner = std::str::from_utf8(&opened.plaintext)
            .map_err(|_| Error::malformed("the nested JWT is not UTF-8 text"))?;
        if inner.split('.').count() != 3 {
            return Err(Error::malformed(
                "the content of the nested JWT is not a compact JWS (three segments); a JWE inside a JWE is refused",
            ));
        }
        let (header, claims) = self.verifier.verify_with_header(inner)?;
        Ok((opened.header, header, claims))
    }
}

#[cfg(test)]
mod tests {
    use super::is_jwt_content_type;

    #[test]
    fn jwt_content_type_names() {
        for yes in [
            "JWT",
            "jwt",
            "application/jwt",
            "APPLICATION/JWT",
            "Application/Jwt",
        ] {
            assert!(is_jwt_content_type(yes), "{yes}");
        }
        for no in [
            "",
            "JWS",
            "application/",
            "application/json",
            "text/jwt",
            "JWT ",
            "é",
        ] {
            assert!(!is_jwt_content_type(no), "{no}");
        }
    }
}
