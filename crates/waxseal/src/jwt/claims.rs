//! Registered claims (RFC 7519 §4.1) and the caller's own, side by side.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use std::fmt;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};

use crate::error::{Error, ErrorKind, Result};
use crate::json;

/// Seconds since the Unix epoch (RFC 7519 §2). Finite, non-negative numbers only; a fractional part is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NumericDate(u64);

impl NumericDate {
    /// The date `secs` seconds after the epoch.
    pub const fn from_secs(secs: u64) -> Self {
        NumericDate(secs)
    }

    /// Now, by the system clock.
    pub fn now() -> Self {
        NumericDate(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        )
    }

    /// Seconds since the epoch.
    pub const fn secs(self) -> u64 {
        self.0
    }

    /// This date plus `d`, saturating.
    #[must_use]
    pub fn plus(self, d: Duration) -> Self {
        NumericDate(self.0.saturating_add(d.as_secs()))
    }
}

impl Serialize for NumericDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DateSeed)
    }
}

/// The `aud` claim: one string or an array of strings (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience, serialized as a string.
    One(String),
    /// Several audiences, serialized as an array.
    Many(Vec<String>),
}

impl Audience {
    /// The audiences, one by one.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let slice = match self {
            Audience::One(a) => std::slice::from_ref(a),
            Audience::Many(v) => v.as_slice(),
        };
        slice.iter().map(String::as_str)
    }

    /// True if `aud` is one of the audiences.
    pub fn contains(&self, aud: &str) -> bool {
        self.iter().any(|a| a == aud)
    }
}

impl From<&str> for Audience {
    fn from(a: &str) -> Self {
        Audience::One(a.to_owned())
    }
}

impl From<String> for Audience {
    fn from(a: String) -> Self {
        Audience::One(a)
    }
}

impl From<Vec<String>> for Audience {
    fn from(v: Vec<String>) -> Self {
        Audience::Many(v)
    }
}

/// The registered claims of RFC 7519 §4.1.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredClaims {
    /// Issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Audience.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// Expiration time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<NumericDate>,
    /// Not before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<NumericDate>,
    /// Issued at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<NumericDate>,
    /// JWT ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Confirmation (RFC 7800): the key the token is bound to. A token with `cnf.jkt` is DPoP-bound (RFC 9449
    /// §6): it is good only with a proof signed by the key of that thumbprint, never as a bare bearer token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// The `cnf` claim (RFC 7800 §3.1). Only the member waxseal acts on is kept; others are checked to be
/// well-formed JSON and otherwise ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Confirmation {
    /// The JWK SHA-256 thumbprint (RFC 7638) of the key a DPoP-bound token is bound to (RFC 9449 §6.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
}

impl Confirmation {
    /// A confirmation naming the key of thumbprint `jkt`.
    pub fn jkt(jkt: impl Into<String>) -> Self {
        Confirmation {
            jkt: Some(jkt.into()),
        }
    }
}

/// Reads the registered claims, typed, while [`json::walk_object`] checks the whole claims object; notes which of
/// the `required` claims are present. One pass, no map.
pub(crate) struct ClaimsSink<'r> {
    pub(crate) registered: RegisteredClaims,
    required: &'r [String],
    present: Vec<bool>,
    /// False when only the types matter (signing): string claims are then checked, not copied.
    keep: bool,
    error: Option<Error>,
}

impl<'r> ClaimsSink<'r> {
    pub(crate) fn new(required: &'r [String]) -> Self {
        ClaimsSink {
            registered: RegisteredClaims::default(),
            required,
            present: vec![false; required.len()],
            keep: true,
            error: None,
        }
    }

    /// A sink that only checks the registered claims' types, keeping nothing.
    pub(crate) fn checking() -> Self {
        ClaimsSink {
            keep: false,
            ..ClaimsSink::new(&[])
        }
    }

    /// The first required claim that was absent.
    pub(crate) fn missing(&self) -> Option<&'r str> {
        self.required
            .iter()
            .zip(&self.present)
            .find(|(_, seen)| !**seen)
            .map(|(name, _)| name.as_str())
    }

    fn fail<E: serde::de::Error>(&mut self, claim: &str, what: &str) -> E {
        self.error = Some(Error::new(
            ErrorKind::Claims,
            format!("claim \"{claim}\" must be {what}"),
        ));
        E::custom("claim of the wrong type")
    }
}

impl<'de> json::MemberSink<'de> for ClaimsSink<'_> {
    fn member<A: MapAccess<'de>>(
        &mut self,
        name: &str,
        access: &mut A,
        depth_left: usize,
    ) -> Result<bool, A::Error> {
        if let Some(i) = self.required.iter().position(|r| r == name) {
            self.present[i] = true;
        }
        let r = &mut self.registered;
        let slot = match name {
            "iss" => &mut r.iss,
            "sub" => &mut r.sub,
            "jti" => &mut r.jti,
            "exp" | "nbf" | "iat" => {
                let Ok(date) = access.next_value_seed(DateSeed) else {
                    return Err(self.fail(name, "a NumericDate: a non-negative number of seconds"));
                };
                let slot = match name {
                    "exp" => &mut r.exp,
                    "nbf" => &mut r.nbf,
                    _ => &mut r.iat,
                };
                *slot = Some(date);
                return Ok(true);
            }
            "cnf" => {
                let Ok(value) = access.next_value_seed(json::strict_value(depth_left)) else {
                    return Err(self.fail(name, "an object"));
                };
                let Value::Object(members) = value else {
                    return Err(self.fail(name, "an object"));
                };
                let jkt = match members.get("jkt") {
                    None => None,
                    Some(Value::String(jkt)) => Some(jkt.clone()),
                    Some(_) => return Err(self.fail("cnf.jkt", "a string")),
                };
                if self.keep {
                    r.cnf = Some(Confirmation { jkt });
                }
                return Ok(true);
            }
            "aud" => {
                let Ok(aud) = access.next_value_seed(AudienceSeed) else {
                    return Err(self.fail(name, "a string or an array of strings"));
                };
                r.aud = Some(aud);
                return Ok(true);
            }
            _ => return Ok(false),
        };
        let Ok(text) = access.next_value_seed(json::Str) else {
            return Err(self.fail(name, "a string"));
        };
        if self.keep {
            *slot = Some(text.into_owned());
        }
        Ok(true)
    }

    fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }
}

/// A NumericDate: finite, non-negative; the fractional part is dropped.
struct DateSeed;

impl<'de> DeserializeSeed<'de> for DateSeed {
    type Value = NumericDate;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<NumericDate, D::Error> {
        d.deserialize_any(self)
    }
}

impl Visitor<'_> for DateSeed {
    type Value = NumericDate;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a NumericDate")
    }
    fn visit_u64<E>(self, v: u64) -> Result<NumericDate, E> {
        Ok(NumericDate(v))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<NumericDate, E> {
        u64::try_from(v)
            .map(NumericDate)
            .map_err(|_| E::custom("negative NumericDate"))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<NumericDate, E> {
        if v.is_finite() && (0.0..1.8e19).contains(&v) {
            Ok(NumericDate(v as u64))
        } else {
            Err(E::custom("NumericDate out of range"))
        }
    }
}

/// `aud`: a string, or an array of strings.
struct AudienceSeed;

impl<'de> DeserializeSeed<'de> for AudienceSeed {
    type Value = Audience;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Audience, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AudienceSeed {
    type Value = Audience;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an array of strings")
    }
    fn visit_str<E>(self, v: &str) -> Result<Audience, E> {
        Ok(Audience::One(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Audience, E> {
        Ok(Audience::One(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Audience, A::Error> {
        let mut all = Vec::new();
        while let Some(aud) = seq.next_element_seed(json::Str)? {
            all.push(aud.into_owned());
        }
        Ok(Audience::Many(all))
    }
}

/// Registered claims plus the caller's own, `T`. Serializes as one flat JSON object.
///
/// When verifying, `custom` is deserialized from the *whole* claims object, so a `T` may also name registered
/// claims it wants to read directly.
///
/// ```
/// use std::time::Duration;
/// use waxseal::jwt::Claims;
/// #[derive(serde::Serialize)]
/// struct Mine { scope: String }
/// let claims = Claims::new(Mine { scope: "read".into() })
///     .issuer("https://auth.example")
///     .subject("alice")
///     .audience("api")
///     .expires_in(Duration::from_secs(900));
/// assert_eq!(claims.registered.sub.as_deref(), Some("alice"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Claims<T = Map<String, Value>> {
    /// The registered claims.
    #[serde(flatten)]
    pub registered: RegisteredClaims,
    /// The caller's claims.
    #[serde(flatten)]
    pub custom: T,
}

impl<T> Claims<T> {
    /// Claims with `custom` and `iat` set to now.
    pub fn new(custom: T) -> Self {
        Claims {
            registered: RegisteredClaims {
                iat: Some(NumericDate::now()),
                ..Default::default()
            },
            custom,
        }
    }

    /// Binds the token to the key of RFC 7638 thumbprint `jkt` (`cnf.jkt`, RFC 9449 §6.1).
    #[must_use]
    pub fn confirmation_jkt(mut self, jkt: impl Into<String>) -> Self {
        self.registered.cnf = Some(Confirmation::jkt(jkt));
        self
    }

    /// Sets `iss`.
    #[must_use]
    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        self.registered.iss = Some(iss.into());
        self
    }

    /// Sets `sub`.
    #[must_use]
    pub fn subject(mut self, sub: impl Into<String>) -> Self {
        self.registered.sub = Some(sub.into());
        self
    }

    /// Sets `aud`.
    #[must_use]
    pub fn audience(mut self, aud: impl Into<Audience>) -> Self {
        self.registered.aud = Some(aud.into());
        self
    }

    /// Sets `exp` to `iat` (or now) plus `lifetime`.
    #[must_use]
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        let base = self.registered.iat.unwrap_or_else(NumericDate::now);
        self.registered.exp = Some(base.plus(lifetime));
        self
    }

    /// Sets `exp`.
    #[must_use]
    pub fn expires_at(mut self, exp: NumericDate) -> Self {
        self.registered.exp = Some(exp);
        self
    }

    /// Sets `nbf`.
    #[must_use]
    pub fn not_before(mut self, nbf: NumericDate) -> Self {
        self.registered.nbf = Some(nbf);
        self
    }

    /// Sets `iat`.
    #[must_use]
    pub fn issued_at(mut self, iat: NumericDate) -> Self {
        self.registered.iat = Some(iat);
        self
    }

    /// Sets `jti`.
    #[must_use]
    pub fn jwt_id(mut self, jti: impl Into<String>) -> Self {
        self.registered.jti = Some(jti.into());
        self
    }
}
