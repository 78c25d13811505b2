//! The JOSE header: parsing what arrives (strictly) and building what is sent (in a stable member order).

use std::borrow::Cow;

use serde::de::MapAccess;
use serde_json::{Map, Value};

use crate::alg::Algorithm;
use crate::error::{Error, ErrorKind, Result, quote};
use crate::json;
use crate::lazy_members::LazyMembers;

/// Header parameters defined by RFC 7515 and RFC 7797; `crit` may not list them (RFC 7515 §4.1.11).
const REGISTERED: [&str; 12] = [
    "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit", "enc",
];

/// The JOSE header of a JWS that passed verification, or of one being inspected.
///
/// Members that fetch or carry keys (`jku`, `x5u`, `jwk`, `x5c`) are kept for inspection in
/// [`Header::members`] but never followed or trusted: keys come from the verifier, not the token.
#[derive(Debug, Clone)]
pub struct Header {
    /// The signature algorithm.
    pub alg: Algorithm,
    /// The key ID.
    pub kid: Option<String>,
    /// The media type of the whole token, such as `JWT` or `at+jwt`.
    pub typ: Option<String>,
    /// The media type of the payload, such as `JWT` for a nested token.
    pub cty: Option<String>,
    /// Critical extensions the token requires its verifier to understand.
    pub crit: Vec<String>,
    /// False for an RFC 7797 unencoded payload.
    pub b64: bool,
    /// Every member as JSON, built only if asked: verification itself needs only the typed fields.
    members: LazyMembers,
}

impl PartialEq for Header {
    fn eq(&self, other: &Self) -> bool {
        (
            &self.alg, &self.kid, &self.typ, &self.cty, &self.crit, self.b64,
        ) == (
            &other.alg,
            &other.kid,
            &other.typ,
            &other.cty,
            &other.crit,
            other.b64,
        ) && self.members() == other.members()
    }
}

/// Reads the members verification needs, typed, in the one strict pass over the header. `crit` and `b64` are rare
/// and need the whole header to be checked, so their presence sends parsing down the full path.
#[derive(Default)]
struct HeaderSink<'de> {
    alg: Option<Cow<'de, str>>,
    kid: Option<String>,
    typ: Option<String>,
    cty: Option<String>,
    needs_full: bool,
    error: Option<Error>,
}

impl<'de> json::MemberSink<'de> for HeaderSink<'de> {
    fn member<A: MapAccess<'de>>(
        &mut self,
        name: &str,
        access: &mut A,
        _depth_left: usize,
    ) -> Result<bool, A::Error> {
        let slot = match name {
            "alg" => {
                let Ok(alg) = access.next_value_seed(json::Str) else {
                    self.error = Some(Error::malformed("header member \"alg\" must be a string"));
                    return Err(serde::de::Error::custom("wrong type"));
                };
                self.alg = Some(alg);
                return Ok(true);
            }
            "kid" => &mut self.kid,
            "typ" => &mut self.typ,
            "cty" => &mut self.cty,
            "crit" | "b64" => {
                self.needs_full = true;
                return Ok(false);
            }
            _ => return Ok(false),
        };
        let Ok(text) = access.next_value_seed(json::Str) else {
            self.error = Some(Error::malformed(format!(
                "header member \"{name}\" must be a string"
            )));
            return Err(serde::de::Error::custom("wrong type"));
        };
        *slot = Some(text.into_owned());
        Ok(true)
    }

    fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }
}

impl Header {
    /// Reads the header members (protected and unprotected already merged) and checks their types.
    /// `protected` lists the protected member names: `crit` and `b64` must be among them.
    pub(crate) fn from_members(
        members: Map<String, Value>,
        protected: &dyn Fn(&str) -> bool,
    ) -> Result<Header> {
        let string = |name: &str| -> Result<Option<String>> {
            match members.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(Error::malformed(format!(
                    "header member \"{name}\" must be a string"
                ))),
            }
        };
        let alg_name = string("alg")?.ok_or_else(|| Error::malformed("header has no \"alg\""))?;
        let alg = Algorithm::from_name(&alg_name)?;
        let crit = crate::crit::listed(&members, &REGISTERED, "RFC 7515 §4.1.11")?;
        if !crit.is_empty() && !protected("crit") {
            return Err(Error::malformed("\"crit\" must be in the protected header"));
        }
        let b64 = match members.get("b64") {
            None => true,
            Some(Value::Bool(b)) => {
                if !crit.iter().any(|c| c == "b64") || !protected("b64") {
                    return Err(Error::malformed(
                        "\"b64\" must be protected and listed in \"crit\" (RFC 7797 §6)",
                    ));
                }
                *b
            }
            Some(_) => {
                return Err(Error::malformed(
                    "header member \"b64\" must be true or false",
                ));
            }
        };
        Ok(Header {
            alg,
            kid: string("kid")?,
            typ: string("typ")?,
            cty: string("cty")?,
            crit,
            b64,
            members: LazyMembers::built(members),
        })
    }

    /// Parses a protected header from its decoded JSON text, strictly, in one pass for the usual members.
    pub(crate) fn parse(raw: Vec<u8>, max_depth: usize) -> Result<Header> {
        let mut sink = HeaderSink::default();
        json::walk_object(json::utf8(&raw, "header")?, max_depth, "header", &mut sink)?;
        if sink.needs_full {
            return Header::from_members(json::parse_object(&raw, max_depth, "header")?, &|_| true);
        }
        let alg = Algorithm::from_name(
            &sink
                .alg
                .ok_or_else(|| Error::malformed("header has no \"alg\""))?,
        )?;
        let (kid, typ, cty) = (sink.kid, sink.typ, sink.cty);
        Ok(Header {
            alg,
            kid,
            typ,
            cty,
            crit: Vec::new(),
            b64: true,
            members: LazyMembers::checked_text(raw),
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

    /// Rejects `crit` names the verifier does not understand.
    pub(crate) fn check_crit(&self, understood: &[String], allow_unencoded: bool) -> Result<()> {
        for name in &self.crit {
            let known = (name == "b64" && allow_unencoded) || understood.iter().any(|u| u == name);
            if !known {
                return Err(Error::new(
                    ErrorKind::UnsupportedCritical,
                    if name == "b64" {
                        "the token uses an unencoded payload (crit \"b64\", RFC 7797), which this verifier does not \
                         allow"
                            .to_owned()
                    } else {
                        format!(
                            "the token requires the unknown critical extension {}",
                            quote(name)
                        )
                    },
                ));
            }
        }
        Ok(())
    }
}

/// Builds a protected header for signing: `alg` first, then `typ`, `kid`, `cty` and custom members in the order
/// they were added.
#[derive(Debug, Clone, Default)]
pub struct HeaderBuilder {
    typ: Option<String>,
    kid: Option<String>,
    cty: Option<String>,
    unencoded: bool,
    custom: Vec<(String, Value)>,
}

impl HeaderBuilder {
    /// An empty builder: the signer fills in `alg` (and `kid`, from its key, unless set here).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `typ`, such as `JWT` or `at+jwt`.
    #[must_use]
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// Sets `kid`, overriding the signing key's.
    #[must_use]
    pub fn kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// Sets `cty`, the payload's media type.
    #[must_use]
    pub fn cty(mut self, cty: impl Into<String>) -> Self {
        self.cty = Some(cty.into());
        self
    }

    /// Adds a custom member. Registered names are set through their own methods; reusing one is an error at signing.
    #[must_use]
    pub fn member(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.custom.push((name.into(), value.into()));
        self
    }

    /// Signs the payload unencoded (RFC 7797: `"b64":false`, `"crit":["b64"]`).
    #[must_use]
    pub fn unencoded_payload(mut self) -> Self {
        self.unencoded = true;
        self
    }

    pub(crate) fn is_unencoded(&self) -> bool {
        self.unencoded
    }

    /// The header JSON for a key with `alg` and `key_kid`.
    pub(crate) fn to_json(&self, alg: Algorithm, key_kid: Option<&str>) -> Result<String> {
        let mut out = String::with_capacity(96);
        out.push_str("{\"alg\":\"");
        out.push_str(alg.name());
        out.push('"');
        let mut put = |name: &str, value: &Value| {
            out.push(',');
            out.push_str(&Value::String(name.to_owned()).to_string());
            out.push(':');
            out.push_str(&value.to_string());
        };
        if let Some(typ) = &self.typ {
            put("typ", &Value::String(typ.clone()));
        }
        if let Some(kid) = self.kid.as_deref().or(key_kid) {
            put("kid", &Value::String(kid.to_owned()));
        }
        if let Some(cty) = &self.cty {
            put("cty", &Value::String(cty.clone()));
        }
        if self.unencoded {
            put("b64", &Value::Bool(false));
            put("crit", &Value::Array(vec![Value::String("b64".into())]));
        }
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in &self.custom {
            if ["alg", "typ", "kid", "cty", "b64", "crit"].contains(&name.as_str())
                || seen.contains(&name.as_str())
            {
                return Err(Error::malformed(format!(
                    "header member {} is set twice",
                    quote(name)
                )));
            }
            seen.push(name);
            put(name, value);
        }
        out.push('}');
        Ok(out)
    }
}
