//! Registered claims (RFC 7519 §4.1) and the caller's own, side by side.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::json::Lookup;

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

    fn from_json(value: &Value, claim: &str) -> Result<Self> {
        let bad = || {
            Error::new(
                ErrorKind::Claims,
                format!(
                    "claim \"{claim}\" must be a NumericDate: a non-negative number of seconds"
                ),
            )
        };
        match value {
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    Ok(NumericDate(u))
                } else if let Some(f) = n
                    .as_f64()
                    .filter(|f| f.is_finite() && *f >= 0.0 && *f < 1.8e19)
                {
                    Ok(NumericDate(f as u64))
                } else {
                    Err(bad())
                }
            }
            _ => Err(bad()),
        }
    }
}

impl Serialize for NumericDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        NumericDate::from_json(&value, "date").map_err(serde::de::Error::custom)
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
}

impl RegisteredClaims {
    /// The names of the registered claims, as they appear in JSON.
    pub(crate) const NAMES: &'static [&'static str] =
        &["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

    /// Reads the registered claims out of a claims object, checking their types.
    pub(crate) fn from_object(claims: &impl Lookup) -> Result<Self> {
        let string = |name: &str| -> Result<Option<String>> {
            match claims.member(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(Error::new(
                    ErrorKind::Claims,
                    format!("claim \"{name}\" must be a string"),
                )),
            }
        };
        let date = |name: &str| {
            claims
                .member(name)
                .map(|v| NumericDate::from_json(v, name))
                .transpose()
        };
        let aud = match claims.member("aud") {
            None => None,
            Some(Value::String(s)) => Some(Audience::One(s.clone())),
            Some(Value::Array(items)) => Some(Audience::Many(
                items
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::Claims,
                            "claim \"aud\" must be a string or strings",
                        )
                    })?,
            )),
            Some(_) => {
                return Err(Error::new(
                    ErrorKind::Claims,
                    "claim \"aud\" must be a string or an array of strings",
                ));
            }
        };
        Ok(RegisteredClaims {
            iss: string("iss")?,
            sub: string("sub")?,
            aud,
            exp: date("exp")?,
            nbf: date("nbf")?,
            iat: date("iat")?,
            jti: string("jti")?,
        })
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
