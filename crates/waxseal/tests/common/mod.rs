//! Helpers shared by the conformance tests: where the public vectors live, hex decoding and JSON loading.
//!
//! The vectors are not part of this repository. They live in `../shared/vectors` next to the workspace root and
//! are read in place; a missing folder fails the test loudly instead of letting it pass with nothing checked.
#![allow(dead_code)] // each test binary uses a different subset of these helpers

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The vector folder: `<workspace root>/../shared/vectors`. Panics with instructions when it is missing.
pub fn vectors_dir() -> PathBuf {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors"
    ));
    assert!(
        dir.join("README.md").is_file()
            && dir.join("wycheproof").is_dir()
            && dir.join("jose-cookbook").is_dir(),
        "conformance vectors not found at {}: these tests read the public Wycheproof and JOSE cookbook vectors \
         from `../shared/vectors` next to the workspace root (see that folder's README.md). Put them there; the \
         tests refuse to pass without them.",
        dir.display()
    );
    dir.to_path_buf()
}

/// Path of a Wycheproof file, which must exist.
pub fn wycheproof_path(name: &str) -> PathBuf {
    existing(vectors_dir().join("wycheproof").join(name))
}

/// Path of a JOSE cookbook file (relative to `jose-cookbook/`), which must exist.
pub fn cookbook_path(name: &str) -> PathBuf {
    existing(vectors_dir().join("jose-cookbook").join(name))
}

fn existing(path: PathBuf) -> PathBuf {
    assert!(
        path.is_file(),
        "conformance vector file {} is missing",
        path.display()
    );
    path
}

/// Names of the Wycheproof files starting with `prefix` and ending in `_test.json`, sorted. Panics when none match.
pub fn wycheproof_files(prefix: &str) -> Vec<String> {
    let dir = vectors_dir().join("wycheproof");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| {
            entry
                .expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.starts_with(prefix) && name.ends_with("_test.json"))
        .collect();
    names.sort();
    assert!(
        !names.is_empty(),
        "no Wycheproof file matches {prefix}*_test.json in {}",
        dir.display()
    );
    names
}

/// Reads and parses a JSON file.
pub fn load_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}

/// A Wycheproof file, parsed.
pub fn wycheproof(name: &str) -> Value {
    load_json(&wycheproof_path(name))
}

/// A JOSE cookbook file, parsed.
pub fn cookbook(name: &str) -> Value {
    load_json(&cookbook_path(name))
}

/// Decodes lowercase or uppercase hex; panics on malformed input (vectors are trusted to be well-formed hex).
pub fn hex(text: &str) -> Vec<u8> {
    assert!(text.len() % 2 == 0, "odd-length hex string {text:?}");
    let nibble = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => panic!("non-hex character {:?} in {text:?}", char::from(c)),
    };
    text.as_bytes()
        .chunks(2)
        .map(|pair| (nibble(pair[0]) << 4) | nibble(pair[1]))
        .collect()
}

/// Encodes bytes as lowercase hex (for failure messages).
pub fn to_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// A string member, or a panic naming what is missing.
pub fn str_of<'a>(value: &'a Value, name: &str) -> &'a str {
    value
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("vector lacks string member {name:?}"))
}

/// An integer member, or a panic naming what is missing.
pub fn u64_of(value: &Value, name: &str) -> u64 {
    value
        .get(name)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("vector lacks integer member {name:?}"))
}

/// An array member, or a panic naming what is missing.
pub fn array_of<'a>(value: &'a Value, name: &str) -> &'a [Value] {
    value
        .get(name)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("vector lacks array member {name:?}"))
}

/// The `testGroups` of a Wycheproof file.
pub fn test_groups(file: &Value) -> &[Value] {
    array_of(file, "testGroups")
}

/// What one Wycheproof file contributed to a JWE primitive test (`wycheproof_jwe_primitives.rs`,
/// `wycheproof_jwe_ecdh.rs`), and the cases that went wrong.
#[derive(Default, Debug)]
pub struct Tally {
    pub valid: usize,
    pub invalid: usize,
    pub acceptable_accepted: usize,
    pub refused_by_design: usize,
    pub failures: Vec<String>,
}

impl Tally {
    pub fn fail(&mut self, test: &Value, what: &str) {
        self.failures.push(format!(
            "tcId {} ({}): {what}",
            test["tcId"],
            test["comment"].as_str().unwrap_or("")
        ));
    }

    /// Prints the counts, then fails on any failure and when the file contributed no valid case (with
    /// `needs_invalid`, no invalid one either: a file of valid cases only checks nothing a refusal must catch).
    pub fn report(&self, file: &str, needs_invalid: bool) {
        println!(
            "{file}: {} valid checked, {} invalid rejected, {} acceptable accepted, {} refused by design",
            self.valid, self.invalid, self.acceptable_accepted, self.refused_by_design
        );
        assert!(
            self.failures.is_empty(),
            "{file}:\n{}",
            self.failures.join("\n")
        );
        if needs_invalid {
            assert!(
                self.valid > 0 && self.invalid > 0,
                "{file} contributed nothing"
            );
        } else {
            assert!(self.valid > 0, "{file} contributed no valid case");
        }
    }
}
