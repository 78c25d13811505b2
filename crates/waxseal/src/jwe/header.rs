//! The JWE header (RFC 7516 §4), read strictly: the core's JSON limits, no duplicate members, `alg` and `enc` from
//! their own registries, `crit` as for JWS, and `zip` only as `DEF` (whether a compressed JWE is opened at all is the
//! decrypter's decision). In the JSON serialization this is the joint header: protected, shared unprotected and
//! per-recipient members together, which [`super::json`] has already checked are disjoint.

use std::borrow::Cow;

use serde::de::MapAccess;
use serde_json::{Map, Value};

use super::algorithms::{ContentEncryption, KeyManagement};
use crate::b64;
use crate::error::{Error, ErrorKind, Result, quote};
use crate::json;
use crate::lazy_members::LazyMembers;

/// Header parameters registered for JWE (RFC 7516 §4.1, RFC 7518 §4.6–4.8); `crit` may not list them.
const REGISTERED: [&str; 20] = [
    "alg", "enc", "zip", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty",
    "crit", "epk", "apu", "apv", "iv", "tag", "p2s", "p2c",
];

/// The header of a JWE that was decrypted, or of one being inspected: for the compact serialization the protected
/// header, for the JSON serialization the joint header of the recipient that opened it (see
/// [`Decrypted::is_protected`](super::Decrypted::is_protected) for which members were integrity-protected).
///
/// Members that fetch or carry keys (`jku`, `x5u`, `jwk`, `x5c`) are kept in [`JweHeader::members`] for
/// inspection but never followed: keys come from the decrypter.
#[derive(Debug, Clone)]
pub struct JweHeader {
    /// The key-management algorithm.
    pub alg: KeyManagement,
    /// The content-encryption algorithm.
    pub enc: ContentEncryption,
    /// The key ID.
    pub kid: Option<String>,
    /// The media type of the whole object, such as `JWT`.
    pub typ: Option<String>,
    /// The media type of the plaintext, such as `JWT` for a nested (signed, then encrypted) token.
    pub cty: Option<String>,
    /// Critical extensions the token requires its recipient to understand.
    pub crit: Vec<String>,
    /// `"zip":"DEF"`: the plaintext was compressed with DEFLATE (RFC 1951) before it was encrypted. No other `zip`
    /// value is accepted.
    pub compressed: bool,
    /// Every member as JSON, built only if asked: opening a `dir`, AES key wrap or RSA-OAEP JWE needs only the
    /// typed fields.
    members: LazyMembers,
}

impl PartialEq for JweHeader {
    fn eq(&self, other: &Self) -> bool {
        (
            self.alg,
            self.enc,
            &self.kid,
            &self.typ,
            &self.cty,
            &self.crit,
            self.compressed,
        ) == (
            other.alg,
            other.enc,
            &other.kid,
            &other.typ,
            &other.cty,
            &other.crit,
            other.compressed,
        ) && self.members() == other.members()
    }
}

/// Reads the typed members in the one strict pass over the header. Any other member (`crit`, a key wrap's `iv`,
/// `epk`, `p2c`, an extension) sends parsing down the full path, which keeps every member as JSON.
#[derive(Default)]
struct HeaderSink<'de> {
    alg: Option<Cow<'de, str>>,
    enc: Option<Cow<'de, str>>,
    zip: Option<Cow<'de, str>>,
    kid: Option<String>,
    typ: Option<String>,
    cty: Option<String>,
    needs_full: bool,
}

impl<'de> json::MemberSink<'de> for HeaderSink<'de> {
    fn member<A: MapAccess<'de>>(
        &mut self,
        name: &str,
        access: &mut A,
        _depth_left: usize,
    ) -> Result<bool, A::Error> {
        // A member of the wrong type stops the walk; the full path then says which and why.
        let borrowed = match name {
            "alg" => &mut self.alg,
            "enc" => &mut self.enc,
            "zip" => &mut self.zip,
            "kid" | "typ" | "cty" => {
                let slot = match name {
                    "kid" => &mut self.kid,
                    "typ" => &mut self.typ,
                    _ => &mut self.cty,
                };
                let text = access.next_value_seed(json::Str).inspect_err(|_| {
                    self.needs_full = true;
                })?;
                *slot = Some(text.into_owned());
                return Ok(true);
            }
            _ => {
                self.needs_full = true;
                return Ok(false);
            }
        };
        let text = access.next_value_seed(json::Str).inspect_err(|_| {
            self.needs_full = true;
        })?;
        *borrowed = Some(text);
        Ok(true)
    }
}

impl JweHeader {
    /// Parses a protected header from its decoded JSON text.
    pub(crate) fn parse(raw: Vec<u8>, max_depth: usize) -> Result<JweHeader> {
        let mut sink = HeaderSink::default();
        let walked = json::walk_object(
            json::utf8(&raw, "JWE header")?,
            max_depth,
            "JWE header",
            &mut sink,
        );
        if walked.is_err() || sink.needs_full {
            return Self::from_members(json::parse_object(&raw, max_depth, "JWE header")?);
        }
        let alg = sink
            .alg
            .ok_or_else(|| Error::malformed("JWE header has no \"alg\""))?;
        let alg = KeyManagement::from_name(&alg)?;
        let enc = sink.enc.ok_or_else(|| {
            Error::malformed("JWE header has no \"enc\"; a header without one is not a JWE")
        })?;
        let enc = ContentEncryption::from_name(&enc)?;
        let compressed = match sink.zip.as_deref() {
            None => false,
            Some("DEF") => true,
            Some(other) => return Err(unknown_zip(&Value::String(other.to_owned()))),
        };
        Ok(JweHeader {
            alg,
            enc,
            kid: sink.kid,
            typ: sink.typ,
            cty: sink.cty,
            crit: Vec::new(),
            compressed,
            members: LazyMembers::checked_text(raw),
        })
    }

    /// Reads a header from its members (for the JSON serialization, the joint header) and checks their types.
    pub(crate) fn from_members(members: Map<String, Value>) -> Result<JweHeader> {
        let string = |name: &str| -> Result<Option<String>> {
            match members.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(Error::malformed(format!(
                    "JWE header member \"{name}\" must be a string"
                ))),
            }
        };
        let alg = string("alg")?.ok_or_else(|| Error::malformed("JWE header has no \"alg\""))?;
        let alg = KeyManagement::from_name(&alg)?;
        let enc = string("enc")?.ok_or_else(|| {
            Error::malformed("JWE header has no \"enc\"; a header without one is not a JWE")
        })?;
        let enc = ContentEncryption::from_name(&enc)?;
        let compressed = match members.get("zip") {
            None => false,
            Some(Value::String(zip)) if zip == "DEF" => true,
            Some(other) => return Err(unknown_zip(other)),
        };
        let crit = crit(&members)?;
        Ok(JweHeader {
            alg,
            enc,
            kid: string("kid")?,
            typ: string("typ")?,
            cty: string("cty")?,
            crit,
            compressed,
            members: LazyMembers::built(members),
        })
    }

    /// A header member by name, as JSON.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.members().get(name)
    }

    /// Every header member, as JSON.
    pub fn members(&self) -> &Map<String, Value> {
        self.members.get()
    }

    /// A base64url header member (such as the AES-GCM key wrap's `iv` and `tag`), decoded.
    pub(crate) fn binary_member(&self, name: &str) -> Result<Vec<u8>> {
        match self.get(name) {
            Some(Value::String(text)) => {
                b64::decode(text, &format!("JWE header member \"{name}\""))
            }
            Some(_) => Err(Error::malformed(format!(
                "JWE header member \"{name}\" must be a base64url string"
            ))),
            None => Err(Error::malformed(format!(
                "{} needs the header member \"{name}\"",
                self.alg
            ))),
        }
    }

    /// Rejects `crit` names the decrypter does not understand.
    pub(crate) fn check_crit(&self, understood: &[String]) -> Result<()> {
        match self.crit.iter().find(|c| !understood.contains(c)) {
            Some(name) => Err(Error::new(
                ErrorKind::UnsupportedCritical,
                format!(
                    "the JWE requires the unknown critical extension {}",
                    quote(name)
                ),
            )),
            None => Ok(()),
        }
    }
}

fn unknown_zip(value: &Value) -> Error {
    Error::new(
        ErrorKind::CompressionUnsupported,
        format!(
            "the JWE is compressed with {}; only \"DEF\" (RFC 7516 §4.1.3) is known",
            quote(&value.to_string())
        ),
    )
}

fn crit(members: &Map<String, Value>) -> Result<Vec<String>> {
    crate::crit::listed(members, &REGISTERED, "RFC 7516 §4.1.13")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<JweHeader> {
        JweHeader::parse(text.as_bytes().to_vec(), 16)
    }

    /// The typed one-pass read and the full read agree on every member, and a mistyped member on the fast path is
    /// reported as the full path reports it.
    #[test]
    fn the_fast_path_and_the_full_path_agree() {
        for text in [
            r#"{"alg":"A128KW","enc":"A128GCM","kid":"k","typ":"JWT","cty":"JWT","zip":"DEF"}"#,
            r#"{"enc":"A128GCM","alg":"dir"}"#,
            r#"{"alg":"A128GCMKW","enc":"A128GCM","iv":"AAAAAAAAAAAAAAAA","tag":"AAAAAAAAAAAAAAAAAAAAAA"}"#,
            r#"{"alg":"dir","enc":"A128GCM","kid":"\u006b"}"#,
        ] {
            let fast = parse(text).unwrap();
            let full =
                JweHeader::from_members(json::parse_object(text.as_bytes(), 16, "h").unwrap())
                    .unwrap();
            assert_eq!(fast, full, "{text}");
            assert_eq!(fast.members(), full.members(), "{text}");
            assert_eq!(fast.get("alg"), full.get("alg"));
        }
        assert_eq!(
            parse(r#"{"alg":"dir","enc":"A128GCM","kid":"\u006b"}"#)
                .unwrap()
                .kid
                .as_deref(),
            Some("k")
        );
        for (text, message) in [
            (
                r#"{"alg":"dir","enc":"A128GCM","kid":7}"#,
                "\"kid\" must be a string",
            ),
            (r#"{"alg":1,"enc":"A128GCM"}"#, "\"alg\" must be a string"),
            (
                r#"{"alg":"dir","enc":"A128GCM","kid":"a","kid":"b"}"#,
                "duplicate",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.message().contains(message), "{text}: {err}");
        }
    }

    #[test]
    fn strict_header_rules() {
        let ok = parse(r#"{"alg":"dir","enc":"A128GCM","kid":"k","cty":"JWT"}"#).unwrap();
        assert_eq!(
            (ok.alg, ok.enc),
            (KeyManagement::Dir, ContentEncryption::A128Gcm)
        );
        assert_eq!(ok.cty.as_deref(), Some("JWT"));
        let kind = |text: &str| parse(text).unwrap_err().kind();
        assert_eq!(
            kind(r#"{"alg":"dir","alg":"dir","enc":"A128GCM"}"#),
            ErrorKind::Malformed
        );
        assert_eq!(
            kind(r#"{"alg":"HS256","enc":"A128GCM"}"#),
            ErrorKind::UnsupportedAlgorithm
        );
        assert_eq!(kind(r#"{"alg":"dir"}"#), ErrorKind::Malformed);
        assert!(
            parse(r#"{"alg":"dir","enc":"A128GCM","zip":"DEF"}"#)
                .unwrap()
                .compressed
        );
        for zip in [r#""GZIP""#, r#""def""#, "1", "null"] {
            assert_eq!(
                kind(&format!(r#"{{"alg":"dir","enc":"A128GCM","zip":{zip}}}"#)),
                ErrorKind::CompressionUnsupported,
                "{zip}"
            );
        }
        assert_eq!(
            kind(r#"{"alg":"dir","enc":"A128GCM","crit":[]}"#),
            ErrorKind::Malformed
        );
        assert_eq!(
            kind(r#"{"alg":"dir","enc":"A128GCM","crit":["enc"]}"#),
            ErrorKind::Malformed
        );
        assert_eq!(
            kind(r#"{"alg":"dir","enc":"A128GCM","crit":["x"]}"#),
            ErrorKind::Malformed
        );
        let critical = parse(r#"{"alg":"dir","enc":"A128GCM","crit":["x"],"x":1}"#).unwrap();
        assert_eq!(
            critical.check_crit(&[]).unwrap_err().kind(),
            ErrorKind::UnsupportedCritical
        );
        critical.check_crit(&["x".to_owned()]).unwrap();
    }
}
