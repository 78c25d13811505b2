//! Strict JSON for headers, claims and keys.
//!
//! `serde_json` alone keeps the last of two members with the same name, so `{"alg":"RS256","alg":"none"}` means
//! different things to different parsers — the root of several JWT bypasses. Every JSON text waxseal reads goes
//! through [`parse_object`], which rejects duplicate member names (compared after unescaping), bounds the nesting
//! depth, and insists on an object at the top.

use std::borrow::Cow;
use std::collections::HashSet;
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
    /// Most recipients accepted in a JWE JSON serialization. Default 8. A limit of its own rather than
    /// `max_signatures`: each recipient can cost a key unwrap (an RSA private-key operation) per fitting key, and
    /// tightening one should not change the other.
    pub max_recipients: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_token_bytes: 64 * 1024,
            max_json_depth: 16,
            max_keys: 100,
            max_jwks_bytes: 512 * 1024,
            max_signatures: 8,
            max_recipients: 8,
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

/// A seed that reads any JSON value with the checks of [`parse_object`] (no duplicate member names at any depth,
/// nesting bounded by `depth_left`), for a member a sink wants whole.
pub(crate) fn strict_value(depth_left: usize) -> impl for<'de> DeserializeSeed<'de, Value = Value> {
    StrictValue { depth_left }
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

/// What [`walk_object`] does with each top-level member of an object.
pub(crate) trait MemberSink<'de> {
    /// Reads the value of member `name` from `access` and returns `true`, or returns `false` to have the value
    /// checked (strictly, as everywhere) and skipped. A sink that rejects a value keeps its own [`Error`] for
    /// [`MemberSink::take_error`] and returns any `A::Error` to stop the walk.
    fn member<A: MapAccess<'de>>(
        &mut self,
        name: &str,
        access: &mut A,
        depth_left: usize,
    ) -> Result<bool, A::Error>;

    /// The error the sink stopped the walk with, if it did.
    fn take_error(&mut self) -> Option<Error> {
        None
    }
}

/// The JSON text in `bytes`, which must be UTF-8 (RFC 8259 §8.1). Checking once up front lets serde_json skip the
/// check of every string in the passes that follow.
pub(crate) fn utf8<'b>(bytes: &'b [u8], what: &str) -> Result<&'b str> {
    std::str::from_utf8(bytes)
        .map_err(|_| Error::malformed(format!("{what} is not UTF-8 JSON text")))
}

/// Walks a JSON object with the checks of [`parse_object`] — an object at the top, no duplicate member names at
/// any depth (compared after unescaping), nesting bounded by `max_depth` — handing each top-level member to `sink`
/// and building nothing else. The hot path of JWT verification and signing reads headers and claims this way,
/// straight into typed fields.
pub(crate) fn walk_object<'de, S: MemberSink<'de>>(
    text: &'de str,
    max_depth: usize,
    what: &str,
    sink: &mut S,
) -> Result<()> {
    let mut de = serde_json::Deserializer::from_str(text);
    let walked = Walk {
        depth_left: max_depth,
        sink: &mut *sink,
    }
    .deserialize(&mut de)
    .and_then(|is_object| {
        de.end()?;
        Ok(is_object)
    });
    match walked {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::malformed(format!("{what} is not a JSON object"))),
        Err(e) => Err(sink.take_error().unwrap_or_else(|| classify(&e, what))),
    }
}

fn too_deep<E: de::Error>() -> E {
    E::custom(format_args!("{DEPTH_MARK} the limit"))
}

fn duplicate<E: de::Error>(key: &str) -> E {
    E::custom(format_args!(
        "duplicate member name {}",
        crate::error::quote(key)
    ))
}

/// Member names seen so far in one object: a short list, or a hash set once the object grows. Each name in the
/// list carries a fingerprint (length and first bytes), so most comparisons are one integer compare.
struct Seen<'de> {
    list: Vec<(u64, Cow<'de, str>)>,
    set: Option<HashSet<Cow<'de, str>>>,
}

impl<'de> Seen<'de> {
    const LIST_MAX: usize = 16;

    fn new() -> Self {
        Seen {
            list: Vec::new(),
            set: None,
        }
    }

    fn fingerprint(key: &str) -> u64 {
        let mut head = [0u8; 8];
        let n = key.len().min(7);
        head[..n].copy_from_slice(&key.as_bytes()[..n]);
        head[7] = key.len().min(255) as u8;
        u64::from_le_bytes(head)
    }

    /// Records `key`; false if it was already there.
    fn insert(&mut self, key: Cow<'de, str>) -> bool {
        if let Some(set) = &mut self.set {
            return set.insert(key);
        }
        let print = Self::fingerprint(&key);
        if self.list.iter().any(|(p, k)| *p == print && *k == key) {
            return false;
        }
        self.list.push((print, key));
        if self.list.len() > Self::LIST_MAX {
            self.set = Some(self.list.drain(..).map(|(_, k)| k).collect());
        }
        true
    }
}

/// A JSON string, borrowed from the input unless it had escapes. Used for member names and string values.
pub(crate) struct Str;

impl<'de> DeserializeSeed<'de> for Str {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Str {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// Walks any JSON value with the checks of [`StrictValue`], keeping nothing.
pub(crate) struct Check {
    pub(crate) depth_left: usize,
}

impl Check {
    fn nested<E: de::Error>(&self) -> Result<usize, E> {
        self.depth_left.checked_sub(1).ok_or_else(too_deep)
    }
}

impl<'de> DeserializeSeed<'de> for Check {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Check {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        if v.is_finite() {
            Ok(())
        } else {
            Err(E::custom("non-finite number"))
        }
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let depth_left = self.nested()?;
        while seq.next_element_seed(Check { depth_left })?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        let depth_left = self.nested()?;
        let mut seen = Seen::new();
        while let Some(key) = access.next_key_seed(Str)? {
            if !seen.insert(key.clone()) {
                return Err(duplicate(&key));
            }
            access.next_value_seed(Check { depth_left })?;
        }
        Ok(())
    }
}

/// The top level of [`walk_object`]: `true` for an object (its members handed to the sink), `false` for any other
/// (checked) value.
struct Walk<'s, S> {
    depth_left: usize,
    sink: &'s mut S,
}

impl<'de, S: MemberSink<'de>> DeserializeSeed<'de> for Walk<'_, S> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, S: MemberSink<'de>> Visitor<'de> for Walk<'_, S> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
        Check { depth_left: 0 }.visit_f64(v).map(|()| false)
    }
    fn visit_str<E>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<bool, A::Error> {
        Check {
            depth_left: self.depth_left,
        }
        .visit_seq(seq)
        .map(|()| false)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<bool, A::Error> {
        let depth_left = self.depth_left.checked_sub(1).ok_or_else(too_deep)?;
        let mut seen = Seen::new();
        while let Some(key) = access.next_key_seed(Str)? {
            if !seen.insert(key.clone()) {
                return Err(duplicate(&key));
            }
            if !self.sink.member(&key, &mut access, depth_left)? {
                access.next_value_seed(Check { depth_left })?;
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    /// A sink that keeps a few members, the way the header and claims sinks do.
    struct Keep(Map<String, Value>);

    impl<'de> MemberSink<'de> for Keep {
        fn member<A: MapAccess<'de>>(
            &mut self,
            name: &str,
            access: &mut A,
            depth_left: usize,
        ) -> Result<bool, A::Error> {
            if !["iss", "aud", "exp", "iat", "x"].contains(&name) {
                return Ok(false);
            }
            let value = access.next_value_seed(StrictValue { depth_left })?;
            self.0.insert(name.to_owned(), value);
            Ok(true)
        }
    }

    #[test]
    fn walk_object_agrees_with_parse_object() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(20), "]".repeat(20));
        let wide = (0..40).fold(String::new(), |acc, i| acc + &format!("\"k{i}\":{i},"));
        let wide_ok = format!("{{{wide}\"end\":0}}");
        let wide_dup = format!("{{{wide}\"k3\":0}}");
        let texts = [
            r#"{"alg":"HS256","alg":"none"}"#,
            r#"{"alg":"HS256","\u0061lg":"none"}"#,
            r#"{"a":{"b":1,"b":2}}"#,
            r#"{"a":[{"b":1},{"b":2,"c":{"b":3,"b":4}}]}"#,
            r#"{"a":[{"b":1},{"b":2}],"b":[1,2]}"#,
            r#"{"iss":"x","sub":"y","aud":["a","b"],"exp":1,"iat":2.5,"jti":null,"n\u00e9":true}"#,
            r#"{"exp":1,"exp":2}"#,
            r#"{"iss":"a\"b","x":"\ud83d\ude00"}"#,
            r#"{"x":1e999}"#,
            r#"{"x":-0.0,"y":-12,"z":18446744073709551615}"#,
            wide_ok.as_str(),
            wide_dup.as_str(),
            deep.as_str(),
            "[]",
            "[1,{\"a\":1,\"a\":2}]",
            "1",
            "\"x\"",
            "null",
            "",
            "{",
            "{} {}",
            "{}x",
            " {\"a\" : 1 }\n",
        ];
        for text in texts {
            for depth in [1, 2, 16, 32] {
                let parsed = parse_object(text.as_bytes(), depth, "claims");
                let mut kept = Keep(Map::new());
                let scanned = walk_object(text, depth, "claims", &mut kept);
                match (parsed, scanned) {
                    (Ok(full), Ok(())) => {
                        for name in ["iss", "aud", "exp", "iat", "x"] {
                            assert_eq!(kept.0.get(name), full.get(name), "{text}");
                        }
                        assert_eq!(
                            kept.0.get("sub"),
                            None,
                            "only the members the sink asks for are read"
                        );
                    }
                    (Err(a), Err(b)) => {
                        assert_eq!(a.kind(), b.kind(), "{text} at depth {depth}: {a} / {b}");
                    }
                    (a, b) => {
                        panic!("{text} at depth {depth}: parse_object {a:?}, walk_object {b:?}")
                    }
                }
            }
        }
    }

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
