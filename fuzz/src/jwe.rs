//! The properties the JWE fuzz target checks.
//!
//! The fuzz target (`fuzz/fuzz_targets/jwe_compact.rs`) and the regression test
//! (`crates/waxseal/tests/fuzz_regressions.rs`, which includes this file and `jose.rs` with `#[path]`) call the same
//! function, so a crash found by fuzzing is replayed by an ordinary `cargo test`. A property that does not hold
//! panics.
//!
//! The central one: decryption runs against fixed keys of every key-management algorithm, and everything that
//! decrypts must have been encrypted by this module. The content encryption authenticates the protected header (it
//! is the AAD), so the header segment of anything that decrypts must be one the fixture wrote, and the plaintext
//! must be the one encrypted under it. The fixture encrypts with fixed content keys and IVs
//! (`encrypt_compact_reproducible`), so its tokens are the same in every process and nothing else may decrypt under
//! such a header: the whole token must be the fixture's, except the RSA-OAEP encrypted key, whose padding is
//! randomized. For `dir` and the AES key wraps the fixture knows every key, so anything else that decrypts is a
//! forgery; for RSA-OAEP anyone holding the public key may encrypt, so there the check says that the fuzzer did not
//! (it would have to compute RSA-OAEP to).
//!
//! The keys below are fixtures for fuzzing, published here on purpose; they protect nothing.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;
use waxseal::jwe::{
    ContentEncryption, Decrypted, Decrypter, DecryptionKey, KeyManagement,
    encrypt_compact_reproducible, primitives,
};
use waxseal::jwt::{FixedClock, NestedVerifier, NumericDate, Verifier, decode_unverified};
use waxseal::{Algorithm, Jwk, SigningKey, b64};

use crate::jose::{ES256_JWK, NOW, assert_canonical_b64, unverified_round_trip};
use crate::{Outcome, Seed};

/// The RSA-OAEP fixture: one 2048-bit key (generated once with waxseal), bound to each RSA-OAEP algorithm in turn
/// with `DecryptionKey::from_jwk_with_alg`, so it has no `alg` of its own.
const RSA_JWK: &str = r#"{"kty":"RSA","use":"enc","n":"jyjYRwBN7j6Sc_5vPQsnn-InmqFKMd6D1GRQJBeoMm_19_Uvl7pZ6UdVyVTVNof8Su1_eIjl4W9IhUkIAPA3Ozz_GAqeb8wlYuBnHVrLkKBEDKrovOlisD4saXe7OG-cH3ZmLtUa1kI4_CFT21mkvwLwSVK0wO2zes8RN0ztnwTxU7BL7p2DOpjazQvNuXktJ8pF4BUqnNM4NRbkHOskVVrE2eazGyNwnuI_0HTDlvWP9pm2RO1mSfxDbh0EI5QRc1vaWKLK8XqYEPnehZuJPFWLmfw6mQa5FsfWe2Pp60no82pgJxxr0kandz_0EZZbC6pMpOvffOlnriyO_Duwuw","e":"AQAB","d":"RAwuraUj5eSBObiNyI7WUWWu3I3hFg5GTH04KMfD7-GPIcM-UZlHJp79VHtJ86c00arNZg5wcrUyXASIVOXZ4wMN4DAf-lUnyjWPXgEr9L1xSzIr-avX-J09AA7lA6DtrXjaflVWcdS9gH8Y_JFCQXcUn028VF5Ia04kyUv8QRLi0P1af7cfV5v6gfREXU1QukDXuM7fRSt2zzXK2bxLnpQdRp2Oc7GdOFAmMV90kdNCYuqxADJGl7CL_48RWsSHx8rB9lLRivHCGXPTeb1sjeyGDGWZl_tkRNaxUfQFK5DKWCr_keGNPTtbZIwEKOTiL79Sr2uHd9NTJN716QYPAQ","p":"xL9tv14CpDx8_vTfyCmRpCQPhsNLBHC0WHfJsMX33Svx0JRYBqQYOQs3mf2hz93Zame2h15mTWAKwvpGl7fO11mujzy5jRIinXmZLhPMVIrPtxN8pg0PRj_Y68l5D1IR3P_DAnWYGTDYLeMVWVyAtX6CriEU7iLggh_oKQU9Cbs","q":"ukXzPgeoHzjKTJpSXz9lchDFTXlcBCh5Wm94DnDnxR5b7QekEpMTFRQjXVVOgjkrwk0GP-qlkBT5qzez2fzOFeCTE4GLMFsehvOM4KNOgLoLSgWBPHqaL4dpvYDoOi4j1eLzwfYHTpOrfNq54K3vQ6mqrLz6GIT4jCSx7aWKBQE","dp":"jDA-WdH5nd6_zcbbwTrlXIiZS5PR2xsXVcYcv0mAIGbUiaN5yVmZLOQyPRY8-uj_ptK5e2EnEdDyOhWswSQmTMnJGKTTLZKTeZOQMwXGXSL_eFp5QbQigxKxVOicyu7WbZsL76-srZ5hGukoaCECUNAQ-1P1Hu1Y_T8Q5FGoOUs","dq":"U9o1W5Eaz6NC_iTiO9pQEn8WMoAVOhH2Pw2639VXoFbATv2HkI0ApBaCrPs_8kNGPZtq2s8IZMnscnUK03CIXTTRQJCqVcRPA7UTj_Qz3KLjfhjoSo9uZULyCMrEv5wRqbEWxhO4yliTdAsKbegeszjnigcwFmWVdZD3P-GrNgE","qi":"VNpJEI8lrxWrpKzWeLIny6ATYnMRkFr_pqmJjQ1B6cgjdTQm9BPoqIZnYPOUHxW4XISMfmaGDZHZ-fIDz6i0nSptBX8BEXM2mRD_O5tHpYBJ9R8xhBcl9L5jgAPR5KRKpVpATHNLaw00foUFY82XvSqSnOHnXktl_OhJIoX6rGs"}"#;

/// The signed JWT the fixture encrypts as a nested token: claims valid at [`NOW`], signed once with `jose.rs`'s
/// ES256 key and kept (ES256 signatures are randomized; the fixture's tokens must be the same in every process).
pub(crate) const NESTED_JWT: &str = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6IndnYWxfdk55SkNSSGg5RlNfTEZXckgzTW5VdnhiYm5pMnRYWlI1Q3RlNk0ifQ.eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIiwic3ViIjoiYWxpY2UiLCJhdWQiOiJhcGkiLCJleHAiOjQxMDI0NDQ4MDAsImlhdCI6MTcwMDAwMDAwMCwianRpIjoibmVzdGVkLTEifQ.ABqlj1R-myudLNejhII9hssbaZ1_Ms_qKDD24pV4LyT5gBZZFp1SAaFvnkc0x0Hn9gZbkPeWd93RfYrwc9i7Pw";

/// The claims inside [`NESTED_JWT`].
const NESTED_CLAIMS: &str = r#"{"iss":"https://issuer.example","sub":"alice","aud":"api","exp":4102444800,"iat":1700000000,"jti":"nested-1"}"#;

/// The plaintexts the fixture encrypts, in turn, with a name for the seed: the nested JWT with `cty: JWT` and
/// without, text, and nothing.
pub(crate) const PLAINTEXTS: [(&str, &[u8], bool); 4] = [
    ("nested", NESTED_JWT.as_bytes(), true),
    ("text", b"hello, fuzzer", false),
    ("nested-no-cty", NESTED_JWT.as_bytes(), false),
    ("empty", b"", false),
];

const TARGET: &str = "jwe_compact";

/// How a fixture key carries the content key, which decides what its tokens' headers hold.
pub(crate) enum Carry {
    /// `dir`: the key is the content key; no encrypted key.
    Direct,
    /// AES key wrap (RFC 3394).
    AesKw,
    /// AES-GCM key wrap: the header holds the wrap's `iv` and `tag`, computed here with this key-encryption key.
    AesGcmKw { kek: Vec<u8> },
    /// RSA-OAEP: randomized padding, so the encrypted key differs from run to run.
    RsaOaep,
    /// PBES2: the header holds the salt input `p2s` and the count `p2c` ([`PBES2_COUNT`]).
    Pbes2,
    /// ECDH-ES: the header holds the ephemeral key, given with its `d` (the fixed [`EPHEMERAL_JWK`]) so the token
    /// is reproducible; the encrypter writes it without `d`.
    Ecdh,
}

/// The PBES2 count of the fixture, which is also the decrypter's maximum: the bound is fuzzed at its edge, and a
/// PBES2 input costs a thousand iterations, not ten thousand.
pub(crate) const PBES2_COUNT: u32 = 1000;

/// The ECDH-ES recipient (P-256), a fixture published on purpose.
const ECDH_JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"lDT4xlPn1Dq_zG7HmNJnzj4qjFGe4ZCYAIlA0eWwrnA","y":"-CjD31744oW4nf_T225NIYd-X3VDvDJ5cYW6foUYovQ","d":"SyTzC_SZ5LRqhJ2vZrpF-wNXIVaqEVLROJxm_y6U3kg"}"#;

/// The sender's "ephemeral" P-256 key, fixed so the fixture's tokens are the same in every run.
const EPHEMERAL_JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"j7BO0Hmt-XRX3DY4vd4HRa6ClAnmT03PfzFZ3Qfp5O0","y":"x7BU3hP6S8MytGsRybsAsdCVrpleoflupeac5TgjvvM","d":"rqpKPH0o6hKoDiPvMTEw_4x_Vyl2WI_VFKftcvd7f6Q"}"#;

/// A token the fixture made.
#[derive(Debug)]
pub(crate) struct Made {
    pub(crate) name: String,
    pub(crate) alg: KeyManagement,
    pub(crate) enc: ContentEncryption,
    pub(crate) token: String,
    pub(crate) plaintext: &'static [u8],
    /// False for RSA-OAEP: only the encrypted key segment differs between runs.
    pub(crate) deterministic: bool,
}

/// The fixed keys, the decrypters built on them and everything they encrypted.
pub struct Fixture {
    pub(crate) decrypter: Decrypter,
    nested: NestedVerifier,
    pub(crate) made: Vec<Made>,
    /// Index into `made` by the protected header segment, which the fixture never repeats.
    by_header: HashMap<String, usize>,
}

/// Fixed bytes for a key, content key or IV, different for every label.
pub(crate) fn fixed_bytes(label: &str, len: usize) -> Vec<u8> {
    label
        .bytes()
        .cycle()
        .zip((0..=u8::MAX).cycle())
        .map(|(b, i)| b ^ i.wrapping_mul(31))
        .take(len)
        .collect()
}

fn dir_secret(enc: ContentEncryption) -> Vec<u8> {
    fixed_bytes(&format!("dir {enc}"), enc.key_len())
}

/// The fixture's keys for `alg`. `KeyManagement` is `#[non_exhaustive]`, so outside waxseal the compiler demands
/// a catch-all arm and cannot flag a new algorithm here; the catch-all panics instead, when the fixture is built —
/// the first thing every fuzz run and every regression test does — so a new variant cannot be skipped silently.
pub(crate) fn fixture_keys(alg: KeyManagement) -> Vec<(DecryptionKey, Carry)> {
    let kid = format!("fuzz-{alg}");
    match alg {
        KeyManagement::Dir => ContentEncryption::ALL
            .into_iter()
            .map(|enc| {
                let key = DecryptionKey::direct(&dir_secret(enc), enc)
                    .expect("fixture dir key")
                    .with_kid(format!("fuzz-dir-{enc}"));
                (key, Carry::Direct)
            })
            .collect(),
        KeyManagement::A128KW | KeyManagement::A192KW | KeyManagement::A256KW => {
            let secret = fixed_bytes(alg.name(), alg.key_len().expect("AES-KW key length"));
            let key = DecryptionKey::from_secret(&secret, alg).expect("fixture secret");
            vec![(key.with_kid(kid), Carry::AesKw)]
        }
        KeyManagement::A128GCMKW | KeyManagement::A192GCMKW | KeyManagement::A256GCMKW => {
            let kek = fixed_bytes(alg.name(), alg.key_len().expect("AES-GCMKW key length"));
            let key = DecryptionKey::from_secret(&kek, alg).expect("fixture secret");
            vec![(key.with_kid(kid), Carry::AesGcmKw { kek })]
        }
        KeyManagement::RsaOaep
        | KeyManagement::RsaOaep256
        | KeyManagement::RsaOaep384
        | KeyManagement::RsaOaep512 => {
            let jwk = Jwk::from_json(RSA_JWK).expect("fixture JWK");
            let key = DecryptionKey::from_jwk_with_alg(&jwk, alg).expect("fixture RSA key");
            vec![(key.with_kid(kid), Carry::RsaOaep)]
        }
        KeyManagement::Pbes2Hs256A128KW
        | KeyManagement::Pbes2Hs384A192KW
        | KeyManagement::Pbes2Hs512A256KW => {
            let password = fixed_bytes(alg.name(), 24);
            let key = DecryptionKey::from_password(&password, alg).expect("fixture password");
            vec![(key.with_kid(kid), Carry::Pbes2)]
        }
        KeyManagement::EcdhEs
        | KeyManagement::EcdhEsA128KW
        | KeyManagement::EcdhEsA192KW
        | KeyManagement::EcdhEsA256KW => {
            let jwk = Jwk::from_json(ECDH_JWK).expect("fixture JWK");
            let key = DecryptionKey::from_jwk_with_alg(&jwk, alg).expect("fixture ECDH key");
            vec![(key.with_kid(kid), Carry::Ecdh)]
        }
        other => panic!("the JWE fuzz fixture has no key for {other}: add an arm to fixture_keys"),
    }
}

/// The fixture, built once per process.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build_fixture)
}

fn build_fixture() -> Fixture {
    let keys: Vec<(DecryptionKey, Carry)> = KeyManagement::ALL
        .into_iter()
        .flat_map(fixture_keys)
        .collect();
    let mut made = Vec::new();
    for (key, carry) in &keys {
        let encs = key
            .direct_encryption()
            .map_or(ContentEncryption::ALL.to_vec(), |enc| vec![enc]);
        for enc in encs {
            made.push(encrypt(made.len(), key, carry, enc));
        }
    }
    let mut by_header = HashMap::new();
    for (i, m) in made.iter().enumerate() {
        let (header, _) = m.token.split_once('.').expect("five segments");
        assert!(
            by_header.insert(header.to_owned(), i).is_none(),
            "two fixture tokens share a header"
        );
    }

    let decrypter =
        Decrypter::with_keys(keys.into_iter().map(|(key, _)| key)).allow_pbes2(PBES2_COUNT);
    let es256 = SigningKey::from_jwk(&Jwk::from_json(ES256_JWK).expect("fixture JWK"))
        .expect("fixture key");
    let verifier = Verifier::new(es256.verifying_key().expect("ES256 public key"))
        .any_audience()
        .clock(FixedClock(NumericDate::from_secs(NOW)));
    Fixture {
        nested: NestedVerifier::new(decrypter.clone(), verifier),
        decrypter,
        made,
        by_header,
    }
}

/// The fixture's `i`-th token: with `key` and `enc`, the `i`-th plaintext in turn, a `kid` in two headers of three,
/// and fixed content key and IVs.
fn encrypt(i: usize, key: &DecryptionKey, carry: &Carry, enc: ContentEncryption) -> Made {
    let (what, plaintext, cty) = PLAINTEXTS[i % PLAINTEXTS.len()];
    let alg = key.algorithm();
    let cek = fixed_bytes(&format!("cek {i}"), enc.key_len());
    let iv = fixed_bytes(&format!("iv {i}"), enc.iv_len());
    // Written out, not serialized, so the header bytes do not depend on serde_json's features.
    let string = |name: &str, value: &str| format!(r#""{name}":"{value}""#);
    let mut members = vec![string("alg", alg.name()), string("enc", enc.name())];
    if i % 3 != 2 {
        members.push(string("kid", key.kid().expect("fixture keys have a kid")));
    }
    if cty {
        members.push(string("cty", "JWT"));
    }
    let deterministic = match carry {
        Carry::Direct | Carry::AesKw => true,
        Carry::AesGcmKw { kek } => {
            let kw_iv = fixed_bytes(&format!("kw iv {i}"), 12);
            let (_, tag) = primitives::aes_gcm_seal(kek, &kw_iv, b"", &cek).expect("GCM wraps");
            members.push(string("iv", &b64::encode(&kw_iv)));
            members.push(string("tag", &b64::encode(&tag)));
            true
        }
        Carry::RsaOaep => false,
        Carry::Pbes2 => {
            members.push(string(
                "p2s",
                &b64::encode(fixed_bytes(&format!("p2s {i}"), 16)),
            ));
            members.push(format!(r#""p2c":{PBES2_COUNT}"#));
            true
        }
        Carry::Ecdh => {
            members.push(format!(r#""epk":{EPHEMERAL_JWK}"#));
            true
        }
    };
    let header = format!("{{{}}}", members.join(","));
    let token = encrypt_compact_reproducible(
        &key.encryption_key(),
        header.as_bytes(),
        &cek,
        &iv,
        plaintext,
    )
    .expect("the fixture encrypts");
    Made {
        name: format!("ok-{alg}-{enc}-{what}"),
        alg,
        enc,
        token,
        plaintext,
        deterministic,
    }
}

impl Fixture {
    /// The token the fixture made with `alg` and `enc` (the first, for `dir`).
    fn made(&self, alg: KeyManagement, enc: ContentEncryption) -> &Made {
        self.made
            .iter()
            .find(|m| m.alg == alg && m.enc == enc)
            .expect("the fixture makes every pair")
    }
}

/// Checks that a JWE that decrypted is one the fixture made.
fn assert_made(text: &str, opened: &Decrypted) {
    let f = fixture();
    let segments: Vec<&str> = text.split('.').collect();
    assert_eq!(segments.len(), 5, "a JWE without five segments decrypted");
    for segment in &segments {
        b64::decode(segment, "segment").expect("every segment of a decrypted JWE is base64url");
    }
    let Some(&index) = f.by_header.get(segments[0]) else {
        panic!(
            "FORGERY: a JWE whose protected header the fixture never wrote decrypted: {:?}",
            segments[0]
        );
    };
    let made = &f.made[index];
    assert!(
        PLAINTEXTS.iter().any(|(_, p, _)| *p == opened.plaintext),
        "FORGERY: a plaintext the fixture never encrypted came out"
    );
    assert_eq!(
        opened.plaintext, made.plaintext,
        "FORGERY: another plaintext came out under the header of {}",
        made.name
    );
    assert_eq!((opened.header.alg, opened.header.enc), (made.alg, made.enc));
    if made.deterministic {
        assert_eq!(
            text, made.token,
            "FORGERY: a JWE other than {} decrypted under its header",
            made.name
        );
    } else {
        let mine: Vec<&str> = made.token.split('.').collect();
        assert_eq!(
            segments[2..],
            mine[2..],
            "FORGERY: another IV, ciphertext or tag decrypted under the header of {}",
            made.name
        );
    }
    let unverified = decode_unverified(text).expect("a JWE that decrypts can be inspected");
    assert!(unverified.is_jwe, "a decrypted JWE inspected as a JWS");
    assert_eq!(
        &unverified.header,
        opened.header.members(),
        "the inspected header differs from the decrypted one"
    );
}

/// Target `jwe_compact`: a compact JWE, inspected without decryption, then decrypted by a decrypter holding a
/// fixture key of every key-management algorithm, and verified as a nested JWT (ES256 inside).
pub fn jwe_compact(data: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(data) else {
        return Outcome::Refused;
    };
    for segment in text.split('.') {
        assert_canonical_b64(segment);
    }
    unverified_round_trip(text);

    let f = fixture();
    let opened = f.decrypter.decrypt_compact(text).ok();
    if let Some(opened) = &opened {
        assert_made(text, opened);
    }
    // The fixture's nested JWT is valid at NOW: it must verify exactly when it decrypts with `cty: JWT`.
    let nested_expected = opened.as_ref().is_some_and(|o| {
        o.plaintext == NESTED_JWT.as_bytes() && o.header.cty.as_deref() == Some("JWT")
    });
    match f.nested.verify_with_headers::<Value>(text) {
        Ok((jwe_header, jws_header, claims)) => {
            let opened = opened
                .as_ref()
                .expect("FORGERY: a nested JWT verified that does not decrypt");
            assert!(
                nested_expected,
                "a nested JWT verified without cty JWT or around another plaintext"
            );
            assert_eq!(
                &jwe_header, &opened.header,
                "nested JWE header differs from the decrypted one"
            );
            assert_eq!(jws_header.alg, Algorithm::ES256);
            let expected: Value = serde_json::from_str(NESTED_CLAIMS).expect("fixture claims");
            assert_eq!(
                claims.custom, expected,
                "nested claims differ from the signed ones"
            );
        }
        Err(e) => assert!(
            !nested_expected,
            "the fixture's nested JWT was refused: {e}"
        ),
    }
    if opened.is_some() {
        Outcome::Accepted
    } else {
        Outcome::Refused
    }
}

/// A JWE with `dir` and A128GCM whose header is exactly `header_json`, sealed with the primitives, so that headers
/// `encrypt_compact_reproducible` refuses to write (`zip`) are genuine encryptions all the same.
fn dir_a128gcm(header_json: &str, plaintext: &[u8]) -> String {
    let enc = ContentEncryption::A128Gcm;
    let header = b64::encode(header_json.as_bytes());
    let iv = fixed_bytes("iv hand-made", enc.iv_len());
    let (ciphertext, tag) =
        primitives::aes_gcm_seal(&dir_secret(enc), &iv, header.as_bytes(), plaintext)
            .expect("GCM seals");
    format!(
        "{header}..{}.{}.{}",
        b64::encode(&iv),
        b64::encode(&ciphertext),
        b64::encode(&tag)
    )
}

/// Replaces segment `at` of a compact token.
fn with_segment(token: &str, at: usize, segment: &str) -> String {
    let mut segments: Vec<&str> = token.split('.').collect();
    segments[at] = segment;
    segments.join(".")
}

/// The seeds of `jwe_compact`: every token the fixture made, and the classic attacks, which must fail.
/// `crates/waxseal/tests/fuzz_regressions.rs` checks that `fuzz/regressions/` holds them (and writes them there
/// when asked to).
pub fn seeds() -> Vec<Seed> {
    let f = fixture();
    let mut seeds: Vec<Seed> = f
        .made
        .iter()
        .map(|m| Seed {
            target: TARGET,
            name: m.name.clone(),
            bytes: m.token.clone().into_bytes(),
            deterministic: m.deterministic,
        })
        .collect();
    let mut attack = |name: &str, token: String| {
        seeds.push(Seed {
            target: TARGET,
            name: format!("attack-{name}"),
            bytes: token.into_bytes(),
            deterministic: true,
        });
    };
    let dir = &f.made(KeyManagement::Dir, ContentEncryption::A128Gcm).token;
    let header = |json: &str| b64::encode(json.as_bytes());

    attack("jws-given-to-decrypt", NESTED_JWT.to_owned());
    attack(
        "alg-HS256",
        with_segment(dir, 0, &header(r#"{"alg":"HS256","enc":"A128GCM"}"#)),
    );
    attack(
        "alg-none",
        with_segment(dir, 0, &header(r#"{"alg":"none","enc":"A128GCM"}"#)),
    );
    // The 16-byte A128GCM key, named by kid, for a content encryption that needs 64 bytes.
    attack(
        "dir-wrong-size-key",
        with_segment(
            dir,
            0,
            &header(r#"{"alg":"dir","enc":"A256CBC-HS512","kid":"fuzz-dir-A128GCM"}"#),
        ),
    );
    attack(
        "dir-with-encrypted-key",
        with_segment(dir, 1, &b64::encode([7u8; 16])),
    );
    attack(
        "zip",
        dir_a128gcm(
            r#"{"alg":"dir","enc":"A128GCM","kid":"fuzz-dir-A128GCM","zip":"DEF"}"#,
            b"hello, fuzzer",
        ),
    );
    attack(
        "unknown-crit",
        dir_a128gcm(
            r#"{"alg":"dir","enc":"A128GCM","crit":["x-fuzz"],"x-fuzz":true}"#,
            b"hello, fuzzer",
        ),
    );
    let (without_tag, _) = dir.rsplit_once('.').expect("five segments");
    attack("truncated-token", without_tag.to_owned());

    let cbc = &f
        .made(KeyManagement::A128KW, ContentEncryption::A128CbcHs256)
        .token;
    let tag_at = |token: &str| {
        b64::decode(token.rsplit('.').next().unwrap_or_default(), "tag").expect("tag")
    };
    let mut flipped = tag_at(cbc);
    flipped[0] ^= 1;
    attack("flipped-tag", with_segment(cbc, 4, &b64::encode(&flipped)));
    let gcm = &f
        .made(KeyManagement::A256GCMKW, ContentEncryption::A256Gcm)
        .token;
    attack(
        "truncated-tag",
        with_segment(gcm, 4, &b64::encode(&tag_at(gcm)[..12])),
    );
    // A content key wrapped for A128KW presented as RSA-OAEP's: the header changes, so the AAD does too.
    attack(
        "alg-swapped",
        with_segment(
            cbc,
            0,
            &header(r#"{"alg":"RSA-OAEP","enc":"A128CBC-HS256","kid":"fuzz-A128KW"}"#),
        ),
    );
    seeds
}
