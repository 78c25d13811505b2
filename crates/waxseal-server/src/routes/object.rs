//! JSON request bodies must be objects.
//!
//! serde's derived `Deserialize` for a struct also accepts a JSON array, field by field in declaration order: without
//! this wrapper `["<refresh token>"]` is a valid `POST /refresh` body and `POST /logout` acts on it. The wrapper asks
//! the parser for a map, so anything else is a data error (a 400), and hands the map to the struct's own visitor —
//! unknown fields are still refused by it when it denies them.
//!
//! Every member name must appear once, including names the struct ignores (RFC 7591's metadata may carry members a
//! server does not read): serde's derive refuses a repeated field it knows but skips a repeated unknown one, and two
//! parsers reading one body differently — the first value or the last — is how a body is made to mean two things.

use std::collections::HashSet;
use std::marker::PhantomData;

use serde::de::value::{MapAccessDeserializer, StrDeserializer};
use serde::de::{
    Deserialize, DeserializeSeed, Deserializer, Error, IntoDeserializer, MapAccess, Visitor,
};

/// A `T` that was a JSON object.
pub(super) struct ObjectOnly<T>(pub(super) T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Object<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for Object<T> {
            type Value = T;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(DistinctKeys {
                    map,
                    seen: HashSet::new(),
                }))
            }
        }

        deserializer
            .deserialize_map(Object(PhantomData))
            .map(ObjectOnly)
    }
}

/// A map whose member names are each read once; a repeated one is a data error that never names it (it is the
/// caller's text).
struct DistinctKeys<A> {
    map: A,
    seen: HashSet<String>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for DistinctKeys<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let Some(key) = self.map.next_key::<String>()? else {
            return Ok(None);
        };
        let name: StrDeserializer<'_, A::Error> = key.as_str().into_deserializer();
        let value = seed.deserialize(name)?;
        if !self.seen.insert(key) {
            return Err(A::Error::custom("a member of the object appears twice"));
        }
        Ok(Some(value))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Pair {
        a: String,
        b: u8,
    }

    fn parse(text: &str) -> Result<Pair, serde_json::Error> {
        serde_json::from_str::<ObjectOnly<Pair>>(text).map(|o| o.0)
    }

    #[test]
    fn only_objects_with_the_struct_own_rules() {
        assert_eq!(
            parse(r#"{"b": 1, "a": "x"}"#).unwrap(),
            Pair {
                a: "x".into(),
                b: 1
            }
        );
        assert!(
            serde_json::from_str::<Pair>(r#"["x", 1]"#).is_ok(),
            "what serde alone allows"
        );
        for bad in [
            r#"["x", 1]"#,
            r#""x""#,
            "1",
            "null",
            r#"{"a": "x"}"#,
            r#"{"a": "x", "b": 1, "c": 2}"#,
            r#"{"a": "x", "b": 1, "a": "y"}"#,
            r#"{"a": "x", "b": 1, "\u0061": "y"}"#,
            r#"{"a": 1, "b": 1}"#,
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.is_data(), "{bad}: {e}");
        }
        assert!(parse(r#"{"a": "x", "b": 1} x"#).unwrap_err().is_syntax());
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Lenient {
        a: String,
    }

    #[test]
    fn a_member_the_struct_ignores_may_still_appear_only_once() {
        let parse = |text| serde_json::from_str::<ObjectOnly<Lenient>>(text).map(|o| o.0);
        assert_eq!(
            parse(r#"{"a": "x", "z": 1}"#).unwrap(),
            Lenient { a: "x".into() }
        );
        assert!(
            serde_json::from_str::<Lenient>(r#"{"a": "x", "z": 1, "z": 2}"#).is_ok(),
            "what serde alone allows"
        );
        for bad in [
            r#"{"a": "x", "z": 1, "z": 2}"#,
            r#"{"z": 1, "a": "x", "\u007a": [2]}"#,
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.is_data(), "{bad}: {e}");
            assert!(!e.to_string().contains('z'), "never echoed: {e}");
        }
    }
}
