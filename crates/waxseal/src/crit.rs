//! The `crit` header member of JWS and JWE (RFC 7515 §4.1.11, RFC 7516 §4.1.13): the extension names it lists,
//! checked the same way for both — a non-empty array of distinct strings, each naming a member the header has and
//! none naming a member the specification registers itself. Whether the caller understands the names is the
//! caller's business.

use serde_json::{Map, Value};

use crate::error::{Error, Result, quote};

/// The names `crit` lists in `members` (none without `crit`); `registered` are the members the header's own
/// specification defines, which `crit` may not list, and `section` is where that specification defines `crit`.
pub(crate) fn listed(
    members: &Map<String, Value>,
    registered: &[&str],
    section: &str,
) -> Result<Vec<String>> {
    let items = match members.get("crit") {
        None => return Ok(Vec::new()),
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(_) => {
            return Err(Error::malformed(format!(
                "\"crit\" must be a non-empty array ({section})"
            )));
        }
    };
    let mut names: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let Value::String(name) = item else {
            return Err(Error::malformed("\"crit\" must list header member names"));
        };
        if registered.contains(&name.as_str()) {
            return Err(Error::malformed(format!(
                "\"crit\" may not list the registered member {}",
                quote(name)
            )));
        }
        if names.contains(name) {
            return Err(Error::malformed(format!(
                "\"crit\" lists {} twice",
                quote(name)
            )));
        }
        if !members.contains_key(name) {
            return Err(Error::malformed(format!(
                "\"crit\" lists {} but the header lacks it",
                quote(name)
            )));
        }
        names.push(name.clone());
    }
    Ok(names)
}
