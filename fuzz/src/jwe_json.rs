//! The properties the `jwe_json` fuzz target checks: the JWE JSON serialization, general and flattened, decrypted by
//! the `jwe_compact` fixture's decrypter (`jwe.rs`: a key of every key-management algorithm).
//!
//! The JSON form authenticates the protected header and `aad` together (the content's AAD is `protected.aad`) and
//! nothing else: the shared `unprotected` header and each recipient's `header` travel in the clear. So anything that
//! decrypts must carry a `protected` and `aad` pair this module wrote, with the IV, ciphertext and tag written under
//! them, and give the plaintext encrypted there; the encrypted key that opened it must be one written for a
//! recipient of the same algorithm (but RSA-OAEP's, whose padding is randomized). The unprotected headers may be
//! rewritten freely, but they can only choose a key, never an outcome: the joint header's `alg` and `enc` must still
//! be what the fixture used, and it must be the joint header of the recipient the decrypter names.
//!
//! The JWEs written here are the compact fixture's tokens taken apart, and a few only JSON can carry (several
//! recipients, `aad`, headers outside the protected one), made with fixed content keys and IVs
//! (`encrypt_json_reproducible`) so that they are the same in every process.
//!
//! And the JSON form must not be a second reading of the same token: a JWE with one recipient and nothing the
//! compact form lacks (no `aad`, no unprotected header) decrypts exactly when its compact form does, to the same
//! plaintext.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::OnceLock;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use waxseal::jwe::{
    ContentEncryption, Decrypted, DecryptionKey, EncryptionKey, KeyManagement,
    encrypt_json_reproducible, primitives,
};
use waxseal::{Limits, b64};

use crate::jose::assert_canonical_b64;
use crate::jwe::{self, Carry, NESTED_JWT, PBES2_COUNT, PLAINTEXTS, fixed_bytes, fixture_keys};
use crate::{Outcome, Seed};

const TARGET: &str = "jwe_json";

/// The base64url members of a JWE in JSON serialization, at the top and in each recipient.
const BINARY: [&str; 6] = [
    "protected",
    "encrypted_key",
    "iv",
    "ciphertext",
    "tag",
    "aad",
];

/// A recipient of a JWE the fixture wrote.
#[derive(Debug, Clone)]
struct Recipient {
    alg: KeyManagement,
    /// Its own header, as JSON text.
    header: Option<String>,
    /// Empty for `dir` and ECDH-ES.
    encrypted_key: String,
}

/// A JWE in JSON serialization the fixture wrote, in parts; base64url members as they are written.
#[derive(Debug, Clone)]
struct Written {
    name: String,
    enc: ContentEncryption,
    /// Empty when there is none.
    protected: String,
    /// The shared unprotected header, as JSON text.
    unprotected: Option<String>,
    recipients: Vec<Recipient>,
    aad: Option<String>,
    iv: String,
    ciphertext: String,
    tag: String,
    plaintext: &'static [u8],
    /// False when a recipient is RSA-OAEP, whose encrypted key differs from run to run.
    deterministic: bool,
}

impl Written {
    /// The JWE as a document: flattened (its one recipient's `header` and `encrypted_key` at the top) or general.
    /// Written out, not serialized, so the bytes do not depend on serde_json's features.
    fn document(&self, flattened: bool) -> String {
        let string = |name: &str, value: &str| format!(r#""{name}":"{value}""#);
        let recipient = |r: &Recipient| {
            let mut members = Vec::new();
            if let Some(header) = &r.header {
                members.push(format!(r#""header":{header}"#));
            }
            if !r.encrypted_key.is_empty() {
                members.push(string("encrypted_key", &r.encrypted_key));
            }
            members
        };
        let mut members = Vec::new();
        if !self.protected.is_empty() {
            members.push(string("protected", &self.protected));
        }
        if let Some(unprotected) = &self.unprotected {
            members.push(format!(r#""unprotected":{unprotected}"#));
        }
        if flattened {
            assert_eq!(
                self.recipients.len(),
                1,
                "a flattened JWE has one recipient"
            );
            members.extend(recipient(&self.recipients[0]));
        } else {
            let entries: Vec<String> = self
                .recipients
                .iter()
                .map(|r| format!("{{{}}}", recipient(r).join(",")))
                .collect();
            members.push(format!(r#""recipients":[{}]"#, entries.join(",")));
        }
        if let Some(aad) = &self.aad {
            members.push(string("aad", aad));
        }
        members.push(string("iv", &self.iv));
        members.push(string("ciphertext", &self.ciphertext));
        members.push(string("tag", &self.tag));
        format!("{{{}}}", members.join(","))
    }
}

/// Everything the fixture wrote in JSON serialization.
pub struct Fixture {
    written: Vec<Written>,
    /// Index into `written` by the authenticated pair (`protected`, `aad`), which the fixture never repeats.
    by_authenticated: HashMap<(String, Option<String>), usize>,
}

/// The fixture, built once per process (on the compact one).
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build_fixture)
}

fn build_fixture() -> Fixture {
    let mut written: Vec<Written> = jwe::fixture().made.iter().map(from_compact).collect();
    written.extend(json_only().iter().map(write));
    let mut by_authenticated = HashMap::new();
    for (i, w) in written.iter().enumerate() {
        assert!(
            by_authenticated
                .insert((w.protected.clone(), w.aad.clone()), i)
                .is_none(),
            "two fixture JWEs share their protected header and aad"
        );
    }
    Fixture {
        written,
        by_authenticated,
    }
}

/// A compact fixture token taken apart: one recipient, no header but the protected one.
fn from_compact(made: &jwe::Made) -> Written {
    let segments: Vec<&str> = made.token.split('.').collect();
    Written {
        name: made.name.trim_start_matches("ok-").to_owned(),
        enc: made.enc,
        protected: segments[0].to_owned(),
        unprotected: None,
        recipients: vec![Recipient {
            alg: made.alg,
            header: None,
            encrypted_key: segments[1].to_owned(),
        }],
        aad: None,
        iv: segments[2].to_owned(),
        ciphertext: segments[3].to_owned(),
        tag: segments[4].to_owned(),
        plaintext: made.plaintext,
        deterministic: made.deterministic,
    }
}

/// A JWE only the JSON serialization can carry. Headers are JSON member lists (no braces).
struct Spec {
    name: &'static str,
    enc: ContentEncryption,
    protected: &'static str,
    unprotected: Option<&'static str>,
    /// Each recipient: the algorithm of its fixture key, or `None` for a key the decrypter does not hold (A128KW,
    /// `kid` "stranger"), and its own header but the key wrap's parameters, which are added.
    recipients: Vec<(Option<KeyManagement>, &'static str)>,
    aad: Option<&'static [u8]>,
    /// Index into [`PLAINTEXTS`].
    plaintext: usize,
}

fn json_only() -> Vec<Spec> {
    use ContentEncryption as E;
    use KeyManagement as K;
    vec![
        Spec {
            name: "A128KW-A256GCMKW",
            enc: E::A256Gcm,
            protected: r#""enc":"A256GCM""#,
            unprotected: None,
            recipients: vec![
                (Some(K::A128KW), r#""alg":"A128KW","kid":"fuzz-A128KW""#),
                (
                    Some(K::A256GCMKW),
                    r#""alg":"A256GCMKW","kid":"fuzz-A256GCMKW""#,
                ),
            ],
            aad: None,
            plaintext: 1,
        },
        // The first recipient's key is not the decrypter's: the second opens it.
        Spec {
            name: "stranger-A192KW",
            enc: E::A128CbcHs256,
            protected: r#""enc":"A128CBC-HS256","cty":"JWT""#,
            unprotected: None,
            recipients: vec![
                (None, r#""alg":"A128KW","kid":"stranger""#),
                (Some(K::A192KW), r#""alg":"A192KW","kid":"fuzz-A192KW""#),
            ],
            aad: None,
            plaintext: 0,
        },
        Spec {
            name: "A128KW-aad",
            enc: E::A192Gcm,
            protected: r#""alg":"A128KW","enc":"A192GCM","kid":"fuzz-A128KW""#,
            unprotected: None,
            recipients: vec![(Some(K::A128KW), "")],
            aad: Some(b"fuzz context"),
            plaintext: 1,
        },
        Spec {
            name: "unprotected-kid",
            enc: E::A256CbcHs512,
            protected: r#""enc":"A256CBC-HS512""#,
            unprotected: Some(r#""kid":"fuzz-A256KW""#),
            recipients: vec![(Some(K::A256KW), r#""alg":"A256KW""#)],
            aad: None,
            plaintext: 1,
        },
        // Nothing protected: the content's AAD is empty, and `enc` is chosen in the clear.
        Spec {
            name: "unprotected-only",
            enc: E::A128Gcm,
            protected: "",
            unprotected: Some(r#""enc":"A128GCM""#),
            recipients: vec![(Some(K::A128GCMKW), r#""alg":"A128GCMKW""#)],
            aad: None,
            plaintext: 1,
        },
        Spec {
            name: "PBES2-RSA-OAEP-256-aad",
            enc: E::A192CbcHs384,
            protected: r#""enc":"A192CBC-HS384""#,
            unprotected: None,
            recipients: vec![
                (
                    Some(K::Pbes2Hs256A128KW),
                    r#""alg":"PBES2-HS256+A128KW","kid":"fuzz-PBES2-HS256+A128KW""#,
                ),
                (
                    Some(K::RsaOaep256),
                    r#""alg":"RSA-OAEP-256","kid":"fuzz-RSA-OAEP-256""#,
                ),
            ],
            aad: Some(&[0, 1, 2, 0xff]),
            plaintext: 3,
        },
    ]
}

/// A JSON object from a member list.
fn object(members: &[&str]) -> String {
    let members: Vec<&str> = members.iter().copied().filter(|m| !m.is_empty()).collect();
    format!("{{{}}}", members.join(","))
}

/// The header members a key wrap with `carry` reads (and, for the AES-GCM key wrap, produces), fixed by `label`.
fn wrap_members(carry: &Carry, label: &str, cek: &[u8]) -> String {
    match carry {
        Carry::Direct | Carry::AesKw | Carry::RsaOaep => String::new(),
        Carry::AesGcmKw { kek } => {
            let kw_iv = fixed_bytes(&format!("json kw iv {label}"), 12);
            let (_, tag) = primitives::aes_gcm_seal(kek, &kw_iv, b"", cek).expect("GCM wraps");
            format!(
                r#""iv":"{}","tag":"{}""#,
                b64::encode(&kw_iv),
                b64::encode(&tag)
            )
        }
        Carry::Pbes2 => format!(
            r#""p2s":"{}","p2c":{PBES2_COUNT}"#,
            b64::encode(fixed_bytes(&format!("json p2s {label}"), 16))
        ),
        Carry::Ecdh => panic!("the JSON-only fixture JWEs have no ECDH-ES recipient"),
    }
}

fn write(spec: &Spec) -> Written {
    let (what, plaintext, _) = PLAINTEXTS[spec.plaintext];
    let cek = fixed_bytes(&format!("json cek {}", spec.name), spec.enc.key_len());
    let iv = fixed_bytes(&format!("json iv {}", spec.name), spec.enc.iv_len());
    let protected = if spec.protected.is_empty() {
        String::new()
    } else {
        object(&[spec.protected])
    };
    let keys: Vec<(DecryptionKey, Carry)> = spec
        .recipients
        .iter()
        .map(|(alg, _)| match alg {
            Some(alg) => fixture_keys(*alg)
                .into_iter()
                .next()
                .expect("a fixture key for every algorithm"),
            None => {
                let secret = fixed_bytes("stranger", 16);
                let key = DecryptionKey::from_secret(&secret, KeyManagement::A128KW)
                    .expect("a stranger's key");
                (key.with_kid("stranger"), Carry::AesKw)
            }
        })
        .collect();
    let encryption_keys: Vec<EncryptionKey> =
        keys.iter().map(|(key, _)| key.encryption_key()).collect();
    let mut recipients = Vec::new();
    let mut given = Vec::new();
    for (i, ((alg, own), (key, carry))) in spec.recipients.iter().zip(&keys).enumerate() {
        let own = object(&[
            own,
            &wrap_members(carry, &format!("{} {i}", spec.name), &cek),
        ]);
        recipients.push(Recipient {
            alg: alg.unwrap_or(key.algorithm()),
            header: (own != "{}").then(|| own.clone()),
            encrypted_key: String::new(),
        });
        // The key wrap sees the recipient's whole unprotected header; where a member sits is not authenticated.
        let joint = object(&[&own[1..own.len() - 1], spec.unprotected.unwrap_or("")]);
        let members: Map<String, Value> = serde_json::from_str(&joint).expect("a header");
        given.push((&encryption_keys[i], members));
    }
    let json =
        encrypt_json_reproducible(protected.as_bytes(), &given, &cek, &iv, spec.aad, plaintext)
            .expect("the fixture encrypts");
    let document: Value = serde_json::from_str(&json).expect("JSON");
    let member = |object: &Value, name: &str| {
        object
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let entries = document["recipients"].as_array().expect("general");
    for (recipient, entry) in recipients.iter_mut().zip(entries) {
        recipient.encrypted_key = member(entry, "encrypted_key");
    }
    assert_eq!(member(&document, "protected"), b64::encode(&protected));
    Written {
        name: format!("{}-{what}", spec.name),
        enc: spec.enc,
        protected: b64::encode(&protected),
        unprotected: spec.unprotected.map(|u| object(&[u])),
        deterministic: !recipients.iter().any(|r| is_rsa(r.alg)),
        recipients,
        aad: spec.aad.map(b64::encode),
        iv: member(&document, "iv"),
        ciphertext: member(&document, "ciphertext"),
        tag: member(&document, "tag"),
        plaintext,
    }
}

fn is_rsa(alg: KeyManagement) -> bool {
    matches!(
        alg,
        KeyManagement::RsaOaep
            | KeyManagement::RsaOaep256
            | KeyManagement::RsaOaep384
            | KeyManagement::RsaOaep512
    )
}

/// Whether `text` is JSON as waxseal reads it (its `json.rs`): no member name twice in an object, nested at most
/// `max_depth` deep. serde_json alone keeps the last of two members, so it reads more than waxseal does.
fn strict_json(text: &str, max_depth: usize) -> bool {
    let mut de = serde_json::Deserializer::from_str(text);
    Strict(max_depth).deserialize(&mut de).is_ok() && de.end().is_ok()
}

/// A strict reading with this much depth left.
#[derive(Clone, Copy)]
struct Strict(usize);

impl Strict {
    fn nested<E: de::Error>(self) -> Result<Self, E> {
        self.0
            .checked_sub(1)
            .map(Strict)
            .ok_or_else(|| E::custom("too deep"))
    }
}

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
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
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let inner = self.nested()?;
        while seq.next_element_seed(inner)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let inner = self.nested()?;
        let mut names = HashSet::new();
        while let Some(name) = map.next_key::<String>()? {
            map.next_value_seed(inner)?;
            if !names.insert(name) {
                return Err(de::Error::custom("a member name twice"));
            }
        }
        Ok(())
    }
}

/// Strict base64url: every member that decodes, at the top and in each recipient, encodes back to itself.
fn assert_canonical_members(document: &Map<String, Value>) {
    let entries = document
        .get("recipients")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object);
    for object in std::iter::once(document).chain(entries) {
        for name in BINARY {
            if let Some(Value::String(text)) = object.get(name) {
                assert_canonical_b64(text);
            }
        }
    }
}

fn as_object(value: Option<&Value>) -> Map<String, Value> {
    value
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// Checks that a JWE that decrypted is one the fixture wrote, and that what the decrypter says about it is true.
fn assert_written(document: &Map<String, Value>, opened: &Decrypted) {
    let entry = match document.get("recipients") {
        Some(entries) => entries
            .as_array()
            .and_then(|entries| entries.get(opened.recipient))
            .and_then(Value::as_object)
            .expect("the recipient that opened a JWE is one of its recipients"),
        None => {
            assert_eq!(opened.recipient, 0, "a flattened JWE has one recipient");
            document
        }
    };
    let string = |object: &Map<String, Value>, name: &str| {
        object.get(name).and_then(Value::as_str).map(str::to_owned)
    };
    let protected = string(document, "protected").unwrap_or_default();
    let aad = string(document, "aad");

    // The joint header, read independently: three disjoint headers, `crit` and `zip` protected.
    let protected_members: Map<String, Value> = if protected.is_empty() {
        Map::new()
    } else {
        let bytes = b64::decode(&protected, "protected").expect("a protected header decrypted");
        serde_json::from_slice(&bytes).expect("a protected header that decrypted is an object")
    };
    let unprotected = as_object(document.get("unprotected"));
    let own = as_object(entry.get("header"));
    let mut joint = protected_members.clone();
    for (name, value) in unprotected.iter().chain(&own) {
        assert!(
            joint.insert(name.clone(), value.clone()).is_none(),
            "a JWE decrypted with {name:?} in two of its headers"
        );
        assert!(
            name != "crit" && name != "zip",
            "a JWE decrypted with {name:?} outside the protected header"
        );
    }
    assert_eq!(opened.header.members(), &joint, "the joint header differs");
    assert_eq!(opened.unprotected, unprotected);
    assert_eq!(opened.recipient_header, own);
    for name in joint.keys() {
        assert_eq!(
            opened.is_protected(name),
            protected_members.contains_key(name),
            "is_protected({name:?}) is wrong"
        );
    }
    let alg = opened.header.alg;
    assert_eq!(
        joint.get("alg").and_then(Value::as_str),
        Some(alg.name()),
        "the recipient named is not the one whose alg decrypted"
    );
    assert!(
        jwe::fixture().made.iter().any(|m| m.alg == alg),
        "decrypted with {alg}, for which the fixture holds no key"
    );

    let Some(&index) = fixture()
        .by_authenticated
        .get(&(protected.clone(), aad.clone()))
    else {
        panic!(
            "FORGERY: a JWE decrypted whose protected header and aad the fixture never wrote together: \
             {protected:?}, {aad:?}"
        );
    };
    let written = &fixture().written[index];
    assert_eq!(
        opened.plaintext, written.plaintext,
        "FORGERY: another plaintext came out under the protected header and aad of {}",
        written.name
    );
    assert_eq!(
        opened.aad,
        aad.map(|a| b64::decode(&a, "aad").expect("decrypted")),
        "the aad handed over is not the JWE's"
    );
    assert_eq!(
        [
            string(document, "iv"),
            string(document, "ciphertext"),
            string(document, "tag")
        ],
        [
            Some(written.iv.clone()),
            Some(written.ciphertext.clone()),
            Some(written.tag.clone())
        ],
        "FORGERY: another IV, ciphertext or tag decrypted under the protected header of {}",
        written.name
    );
    assert_eq!(
        opened.header.enc, written.enc,
        "FORGERY: {} decrypted with another enc",
        written.name
    );
    assert!(
        written.recipients.iter().any(|r| r.alg == alg),
        "FORGERY: {} decrypted with {alg}, which none of its recipients has",
        written.name
    );
    let encrypted_key = string(entry, "encrypted_key").unwrap_or_default();
    assert!(
        is_rsa(alg)
            || written
                .recipients
                .iter()
                .any(|r| r.alg == alg && r.encrypted_key == encrypted_key),
        "FORGERY: {} decrypted with a {alg} encrypted key the fixture never wrote",
        written.name
    );
}

/// A member of the compact form: absent is empty unless `required`; a string without `.` is itself; anything else
/// has no compact form.
fn compact_member<'a>(
    object: &'a Map<String, Value>,
    name: &str,
    required: bool,
) -> Option<&'a str> {
    match object.get(name) {
        None if required => None,
        None => Some(""),
        Some(Value::String(s)) if !s.contains('.') => Some(s),
        Some(_) => None,
    }
}

/// The compact form of a JWE in JSON serialization that has nothing the compact form lacks: strict JSON within the
/// size limit, one recipient, no `aad`, no unprotected header, every member used a string without `.`. `None`
/// for any other input.
fn as_compact(text: &str, document: &Map<String, Value>) -> Option<String> {
    let limits = Limits::default();
    if text.len() > limits.max_token_bytes || !strict_json(text, limits.max_json_depth) {
        return None;
    }
    let more = [
        "payload",
        "signatures",
        "signature",
        "unprotected",
        "aad",
        "header",
    ];
    if more.iter().any(|m| document.contains_key(*m)) {
        return None;
    }
    let entry = match document.get("recipients") {
        None => document,
        Some(Value::Array(entries)) if entries.len() == 1 => {
            let entry = entries[0].as_object()?;
            if entry.contains_key("header") || document.contains_key("encrypted_key") {
                return None;
            }
            entry
        }
        Some(_) => return None,
    };
    Some(format!(
        "{}.{}.{}.{}.{}",
        compact_member(document, "protected", false)?,
        compact_member(entry, "encrypted_key", false)?,
        compact_member(document, "iv", true)?,
        compact_member(document, "ciphertext", true)?,
        compact_member(document, "tag", true)?
    ))
}

/// Target `jwe_json`: a JWE in JSON serialization, decrypted by the compact fixture's decrypter and, when it has a
/// compact form, compared with that form's decryption.
pub fn jwe_json(data: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(data) else {
        return Outcome::Refused;
    };
    let document = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.as_object().cloned());
    if let Some(document) = &document {
        assert_canonical_members(document);
    }
    let f = jwe::fixture();
    let opened = f.decrypter.decrypt_json(text);
    if let Some(compact) = document.as_ref().and_then(|d| as_compact(text, d)) {
        match (&opened, f.decrypter.decrypt_compact(&compact)) {
            (Ok(json), Ok(compact)) => {
                assert_eq!(json.plaintext, compact.plaintext, "JSON and compact differ");
                assert_eq!(json.header, compact.header, "JSON and compact differ");
                assert_eq!(json.recipient, 0);
            }
            (Err(_), Err(_)) => {}
            (Ok(_), Err(e)) => {
                panic!("decrypted in JSON but not as the compact {compact:?}: {e}")
            }
            (Err(e), Ok(_)) => {
                panic!("decrypted as the compact {compact:?} but not in JSON: {e}")
            }
        }
    }
    match opened {
        Ok(opened) => {
            let document = document.expect("a JWE that decrypted is JSON");
            assert_written(&document, &opened);
            Outcome::Accepted
        }
        Err(_) => Outcome::Refused,
    }
}

impl Fixture {
    /// The compact fixture's first token with `alg` and `enc`, taken apart (they come first).
    fn compact(&self, alg: KeyManagement, enc: ContentEncryption) -> &Written {
        self.written
            .iter()
            .find(|w| w.recipients[0].alg == alg && w.enc == enc)
            .expect("the compact fixture makes every pair")
    }

    /// The JSON-only JWE of [`Spec`] `name` (they come last).
    fn json_only(&self, name: &str) -> &Written {
        self.written
            .iter()
            .rev()
            .find(|w| {
                w.name
                    .strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('-'))
            })
            .expect("a JSON-only fixture JWE")
    }
}

/// The seeds of `jwe_json`: both forms of a compact fixture token of every algorithm, the JWEs only JSON
/// carries, and attacks on what JSON adds, which must fail. `crates/waxseal/tests/fuzz_regressions.rs` checks that
/// `fuzz/regressions/` holds them (and writes them there when asked to).
pub fn seeds() -> Vec<Seed> {
    let f = fixture();
    let mut seeds = Vec::new();
    let mut seed = |name: String, bytes: String, deterministic: bool| {
        seeds.push(Seed {
            target: TARGET,
            name,
            bytes: bytes.into_bytes(),
            deterministic,
        });
    };
    let mut algs_seen = HashSet::new();
    for w in &f.written {
        let json_only = w.recipients.len() > 1 || w.unprotected.is_some() || w.aad.is_some();
        // One of each algorithm, the content encryptions in turn.
        let alg = w.recipients[0].alg;
        let turn = KeyManagement::ALL
            .iter()
            .position(|a| *a == alg)
            .unwrap_or(0);
        let enc = ContentEncryption::ALL[turn % ContentEncryption::ALL.len()];
        if !json_only && (w.enc != enc || !algs_seen.insert(alg)) {
            continue;
        }
        if w.recipients.len() == 1 {
            let name = format!("ok-flattened-{}", w.name);
            seed(name, w.document(true), w.deterministic);
        }
        let name = format!("ok-general-{}", w.name);
        seed(name, w.document(false), w.deterministic);
    }

    let mut attack = |name: &str, document: String| seed(format!("attack-{name}"), document, true);
    let with_aad = f.json_only("A128KW-aad");
    let mut changed = with_aad.clone();
    changed.aad = Some(b64::encode("fuzz context!"));
    attack("aad-changed", changed.document(true));
    let mut dropped = with_aad.clone();
    dropped.aad = None;
    attack("aad-dropped", dropped.document(true));

    let kw = f.compact(KeyManagement::A128KW, ContentEncryption::A128Gcm);
    let header =
        String::from_utf8(b64::decode(&kw.protected, "protected").expect("b64")).expect("UTF-8");
    let mut moved = kw.clone();
    moved.protected = b64::encode(header.replace(r#","enc":"A128GCM""#, ""));
    assert_ne!(moved.protected, kw.protected);
    moved.unprotected = Some(r#"{"enc":"A128GCM"}"#.to_owned());
    attack("enc-moved-to-unprotected", moved.document(true));
    let mut twice = kw.clone();
    twice.unprotected = Some(r#"{"alg":"A128KW"}"#.to_owned());
    attack("alg-in-protected-and-unprotected", twice.document(true));
    let mut zip = kw.clone();
    zip.unprotected = Some(r#"{"zip":"DEF"}"#.to_owned());
    attack("zip-unprotected", zip.document(true));

    let shared_kid = f.json_only("unprotected-kid");
    let recipient_header = |header: &str| {
        let mut w = shared_kid.clone();
        w.recipients[0].header = Some(header.to_owned());
        w.document(false)
    };
    attack(
        "kid-in-unprotected-and-recipient-header",
        recipient_header(r#"{"alg":"A256KW","kid":"fuzz-A256KW"}"#),
    );
    attack(
        "recipient-alg-HS256",
        recipient_header(r#"{"alg":"HS256"}"#),
    );
    attack(
        "crit-in-recipient-header",
        recipient_header(r#"{"alg":"A256KW","crit":["exp"],"exp":1}"#),
    );

    let two = f.json_only("A128KW-A256GCMKW");
    let mut truncated = two.clone();
    let tag = b64::decode(&two.tag, "tag").expect("b64");
    truncated.tag = b64::encode(&tag[..12]);
    attack("truncated-tag", truncated.document(false));
    let mut swapped = two.clone();
    let (first, second) = (
        two.recipients[0].header.clone(),
        two.recipients[1].header.clone(),
    );
    swapped.recipients[0].header = second;
    swapped.recipients[1].header = first;
    attack("recipient-headers-swapped", swapped.document(false));
    let general = two.document(false);
    let mixed = general.replacen(
        r#""recipients":"#,
        &format!(
            r#""encrypted_key":"{}","recipients":"#,
            two.recipients[0].encrypted_key
        ),
        1,
    );
    attack("general-and-flattened-mixed", mixed);

    let jws: Vec<&str> = NESTED_JWT.split('.').collect();
    attack(
        "jws-json",
        format!(
            r#"{{"protected":"{}","payload":"{}","signature":"{}"}}"#,
            jws[0], jws[1], jws[2]
        ),
    );
    seeds
}
