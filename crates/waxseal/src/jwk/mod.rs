//! JSON Web Keys (RFC 7517): the key format of JOSE, plus PEM/DER conversion, RFC 7638 thumbprints and key sets.
//!
//! A [`Jwk`] is key *material* with optional metadata; it is not bound to an algorithm until it becomes a
//! [`SigningKey`](crate::SigningKey) or [`VerifyingKey`](crate::VerifyingKey). PEM and DER keys are read into a
//! [`Jwk`] first, so every import path meets the same checks.

mod pem;
pub(crate) mod rsa;
mod set;

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::alg::{Algorithm, Curve, Family};
use crate::error::{Error, Result, quote};
use crate::json::{self, Limits};

pub(crate) use pem::pem_encode;
pub use set::KeySet;
pub(crate) use set::jwks_entries;

/// A JSON Web Key. Members are kept as they appear in JSON (base64url strings); private members are never shown by
/// `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)] // the members are RFC 7517 / 7518 names, documented there
pub struct Jwk {
    pub kty: String,
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dq: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qi: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oth: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x5c: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x5t: Option<String>,
    #[serde(rename = "x5t#S256", skip_serializing_if = "Option::is_none")]
    pub x5t_s256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x5u: Option<String>,
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Jwk");
        s.field("kty", &self.kty);
        for (name, value) in [
            ("use", &self.use_),
            ("alg", &self.alg),
            ("kid", &self.kid),
            ("crv", &self.crv),
        ] {
            if let Some(v) = value {
                s.field(name, v);
            }
        }
        if self.is_private() {
            s.field("private", &"<redacted>");
        }
        s.finish_non_exhaustive()
    }
}

impl Jwk {
    /// Parses one JWK from JSON, strictly (duplicate members rejected, nesting bounded).
    pub fn from_json(text: &str) -> Result<Jwk> {
        Self::from_value(Value::Object(json::parse_object(
            text.as_bytes(),
            Limits::default().max_json_depth,
            "JWK",
        )?))
    }

    pub(crate) fn from_value(value: Value) -> Result<Jwk> {
        serde_json::from_value(value)
            .map_err(|e| Error::malformed(format!("JWK has a member of the wrong type: {e}")))
    }

    /// Serializes the JWK as compact JSON, private members included if present.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// True when the JWK carries private key material (`d`, or `k` for a secret key).
    pub fn is_private(&self) -> bool {
        self.d.is_some() || self.k.is_some() || self.p.is_some()
    }

    /// The public part of an asymmetric key: private members removed, metadata kept. Secret (`oct`) keys have no
    /// public part.
    pub fn to_public(&self) -> Result<Jwk> {
        if self.kty == "oct" {
            return Err(Error::invalid_key("a secret (oct) key has no public part"));
        }
        Ok(Jwk {
            d: None,
            p: None,
            q: None,
            dp: None,
            dq: None,
            qi: None,
            oth: None,
            k: None,
            ..self.clone()
        })
    }

    /// The RFC 7638 thumbprint (SHA-256, base64url): the default `kid` of keys waxseal creates.
    pub fn thumbprint(&self) -> Result<String> {
        let required = |name: &str, v: &Option<String>| {
            v.clone().ok_or_else(|| {
                Error::invalid_key(format!("{} JWK lacks the \"{name}\" member", self.kty))
            })
        };
        // Required members only, in lexicographic order, no whitespace (RFC 7638 §3.2).
        let members: Vec<(&str, String)> = match self.kty.as_str() {
            "RSA" => vec![
                ("e", required("e", &self.e)?),
                ("kty", self.kty.clone()),
                ("n", required("n", &self.n)?),
            ],
            "EC" => vec![
                ("crv", required("crv", &self.crv)?),
                ("kty", self.kty.clone()),
                ("x", required("x", &self.x)?),
                ("y", required("y", &self.y)?),
            ],
            "OKP" => vec![
                ("crv", required("crv", &self.crv)?),
                ("kty", self.kty.clone()),
                ("x", required("x", &self.x)?),
            ],
            "oct" => vec![("k", required("k", &self.k)?), ("kty", self.kty.clone())],
            other => {
                return Err(Error::invalid_key(format!(
                    "unsupported key type (kty) {}",
                    quote(other)
                )));
            }
        };
        let body: Vec<String> = members
            .iter()
            .map(|(name, value)| format!("\"{name}\":{}", Value::String(value.clone())))
            .collect();
        let canonical = format!("{{{}}}", body.join(","));
        Ok(crate::b64::encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            canonical.as_bytes(),
        )))
    }

    /// The algorithm this key is for: its `alg` member, or the only algorithm its curve allows (EC, Ed25519).
    /// RSA and secret keys without `alg` could serve several algorithms, so this returns `None` for them.
    pub fn algorithm(&self) -> Result<Option<Algorithm>> {
        if let Some(name) = &self.alg {
            return Algorithm::from_name(name).map(Some);
        }
        Ok(match self.kty.as_str() {
            "EC" => self
                .crv
                .as_deref()
                .and_then(Curve::from_name)
                .map(Curve::algorithm),
            "OKP" if self.crv.as_deref() == Some("Ed25519") => Some(Algorithm::EdDSA),
            _ => None,
        })
    }

    /// Every algorithm this key may be used with: its `alg` if it has one, else all algorithms of its type
    /// (for a secret, only those whose hash is no longer than the secret).
    pub fn algorithms(&self) -> Result<Vec<Algorithm>> {
        if let Some(alg) = self.algorithm()? {
            return Ok(vec![alg]);
        }
        let family_of = |alg: Algorithm| match (alg.family(), self.kty.as_str()) {
            (Family::Rsa, "RSA") => true,
            (Family::Hmac, "oct") => {
                let len = self.k.as_deref().map_or(0, |k| k.len() * 3 / 4);
                len >= alg.hash_len()
            }
            _ => false,
        };
        let algs: Vec<Algorithm> = Algorithm::ALL
            .into_iter()
            .filter(|a| family_of(*a))
            .collect();
        if algs.is_empty() {
            return Err(Error::invalid_key(format!(
                "no JWS algorithm fits this {} key (kty {}, crv {})",
                if self.is_private() {
                    "private"
                } else {
                    "public"
                },
                quote(&self.kty),
                quote(self.crv.as_deref().unwrap_or("-"))
            )));
        }
        Ok(algs)
    }

    /// Checks `use` and `key_ops` allow `op` (`"sign"` or `"verify"`) and that `alg`, if present, is `wanted`.
    pub(crate) fn check_usable(&self, wanted: Algorithm, op: &str) -> Result<()> {
        if let Some(use_) = &self.use_
            && use_ != "sig"
        {
            return Err(Error::invalid_key(format!(
                "the key is for {} (use), not for signatures",
                quote(use_)
            )));
        }
        if let Some(ops) = &self.key_ops {
            // A private JWK marked for "sign" also verifies: its public half is what verification uses.
            let ok = ops
                .iter()
                .any(|o| o == op || (op == "verify" && o == "sign"));
            if !ok {
                return Err(Error::invalid_key(format!(
                    "the key's key_ops do not include \"{op}\""
                )));
            }
        }
        if let Some(name) = &self.alg
            && name != wanted.name()
        {
            return Err(Error::new(
                crate::error::ErrorKind::AlgorithmNotAllowed,
                format!("the key is for alg {}, not {wanted}", quote(name)),
            ));
        }
        Ok(())
    }

    pub(crate) fn member(&self, name: &str, value: Option<&String>) -> Result<Vec<u8>> {
        let text = value.ok_or_else(|| {
            Error::invalid_key(format!("{} JWK lacks the \"{name}\" member", self.kty))
        })?;
        crate::b64::decode(text, &format!("JWK member \"{name}\""))
            .map_err(|e| Error::invalid_key(e.message().to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_thumbprint_example() {
        // RFC 7638 §3.1.
        let jwk = Jwk::from_json(r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#).unwrap();
        assert_eq!(
            jwk.thumbprint().unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn debug_never_shows_private_members() {
        let jwk =
            Jwk::from_json(r#"{"kty":"oct","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}"#)
                .unwrap();
        let shown = format!("{jwk:?}");
        assert!(!shown.contains("c2Vjc"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn duplicate_members_in_a_jwk_are_rejected() {
        assert!(Jwk::from_json(r#"{"kty":"oct","k":"AAAA","k":"BBBB"}"#).is_err());
    }
}
