//! A header's members as JSON, built only when asked: the one strict pass reads the typed fields, and most callers
//! never want the rest.

use serde_json::{Map, Value};

use crate::json::parse_object;

/// A header's members as JSON, built only if someone asks: verifying or decrypting needs only the typed fields
/// read in the one strict pass. Holds the text that pass checked, or the members when they were built anyway.
#[derive(Debug, Clone)]
pub(crate) struct LazyMembers {
    raw: Vec<u8>,
    parsed: std::sync::OnceLock<Map<String, Value>>,
}

impl LazyMembers {
    /// From JSON text that already passed the strict parse.
    pub(crate) fn checked_text(raw: Vec<u8>) -> LazyMembers {
        LazyMembers {
            raw,
            parsed: std::sync::OnceLock::new(),
        }
    }

    /// From members already built.
    pub(crate) fn built(members: Map<String, Value>) -> LazyMembers {
        LazyMembers {
            raw: Vec::new(),
            parsed: std::sync::OnceLock::from(members),
        }
    }

    /// The members. The text passed the strict parse once; parsing it again cannot fail (serde_json's own depth
    /// bound is above any configured one).
    pub(crate) fn get(&self) -> &Map<String, Value> {
        self.parsed
            .get_or_init(|| parse_object(&self.raw, 128, "header").unwrap_or_default())
    }
}
