//! JSON request bodies must be objects.
//!
//! serde's derived `Deserialize` for a struct also accepts a JSON array, field by field in declaration order: without
//! this wrapper `["<refresh token>"]` is a valid `POST /refresh` body and `POST /logout` acts on it. The wrapper asks
//! the parser for a map, so anything else is a data error (a 400), and hands the map to the struct's own visitor —
//! unknown fields and duplicate keys are still refused by it.

use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

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
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }

        deserializer
            .deserialize_map(Object(PhantomData))
            .map(ObjectOnly)
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
            r#"{"a": 1, "b": 1}"#,
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.is_data(), "{bad}: {e}");
        }
        assert!(parse(r#"{"a": "x", "b": 1} x"#).unwrap_err().is_syntax());
    }
}
