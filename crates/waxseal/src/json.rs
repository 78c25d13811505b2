//! Strict JSON for headers, claims and keys.
//!
//! `serde_json` alone keeps the last of two members with the same name, so `{"alg":"RS256","alg":"none"}` means
//! different things to different parsers — the root of several JWT bypasses. Every JSON text waxseal reads goes
//! through [`parse_object`], which rejects duplicate member names (compared after unescaping), bounds the nesting
//! depth, and insists on an object at the top.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Bounds on untrusted input. The defaults suit tokens on the web; tighten them where you know more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest token (compact or JSON serialization) accepted, in bytes. Default 64 KiB.
    pub max_token_bytes: usize,
    /// Deepest JSON nesting accepted in a header, claims or key. Default 16.
    pub max_json_depth: usize,
    /// Most keys accepted in a JWK Set. Default 100.
    pub max_keys: usize,
    /// Largest JWK Set document accepted, in bytes. Default 512 KiB.
    pub max_jwks_bytes: usize,
    /// Most signatures accepted in a JWS JSON serialization. Default 8.
    pub max_signatures: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_token_bytes: 64 * 1024,
            max_json_depth: 16,
            max_keys: 100,
            max_jwks_bytes: 512 * 1024,
            max_signatures: 8,
        }
    }
}

/// Parses `bytes` as a JSON object, rejecting duplicate member names and nesting deeper than `max_depth`.
pub(crate) fn parse_object(
    bytes: &[u8],
    max_depth: usize,
    what: &str,
) -> Result<Map<String, Value>> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    // The depth bound below is ours; serde_json's own recursion limit (128) stays on as a backstop.
    let value = StrictValue {
        depth_left: max_depth,
    }
    .deserialize(&mut de)
    .map_err(|e| classify(&e, what))?;
    de.end().map_err(|e| classify(&e, what))?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(Error::malformed(format!("{what} is not a JSON object"))),
    }
}

fn classify(e: &serde_json::Error, what: &str) -> Error {
    let text = e.to_string();
    if text.contains(DEPTH_MARK) {
        Error::limit(format!("{what}: {text}"))
    } else {
        Error::malformed(format!("{what} is not valid JSON: {text}"))
    }
}

const DEPTH_MARK: &str = "JSON nested deeper than";

struct StrictValue {
    depth_left: usize,
}

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl StrictValue {
    fn nested<E: de::Error>(&self) -> Result<Self, E> {
        match self.depth_left.checked_sub(1) {
            Some(depth_left) => Ok(Self { depth_left }),
            None => Err(E::custom(format_args!("{DEPTH_MARK} the limit"))),
        }
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictValue {
            depth_left: inner.depth_left,
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let value = access.next_value_seed(StrictValue {
                depth_left: inner.depth_left,
            })?;
            if map.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate member name {}",
                    crate::error::quote(&key)
                )));
            }
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn duplicate_member_names_are_rejected_even_when_escaped() {
        for text in [
            r#"{"alg":"HS256","alg":"none"}"#,
            r#"{"alg":"HS256","\u0061lg":"none"}"#,
            r#"{"a":{"b":1,"b":2}}"#,
        ] {
            let err = parse_object(text.as_bytes(), 16, "header").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Malformed, "{text}");
            assert!(err.message().contains("duplicate"), "{err}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(20), "]".repeat(20));
        assert_eq!(
            parse_object(deep.as_bytes(), 16, "claims")
                .unwrap_err()
                .kind(),
            ErrorKind::LimitExceeded
        );
        assert!(parse_object(deep.as_bytes(), 32, "claims").is_ok());
        let very_deep = format!("{{\"a\":{}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse_object(very_deep.as_bytes(), 16, "claims").is_err());
    }

    #[test]
    fn only_objects_at_the_top() {
        for text in ["[]", "1", "\"x\"", "null", "", "{", "{} {}", "{}x"] {
            assert!(
                parse_object(text.as_bytes(), 16, "claims").is_err(),
                "{text}"
            );
        }
        assert!(parse_object(b" {\"a\" : 1 }\n", 16, "claims").is_ok());
    }
}
