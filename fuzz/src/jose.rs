//! The properties the JOSE fuzz targets check, one function per target.
//!
//! The fuzz targets (`fuzz/fuzz_targets/*.rs`) and the regression test (`crates/waxseal/tests/fuzz_regressions.rs`,
//! which includes this file with `#[path]`) call the same functions, so a crash found by fuzzing is replayed by an
//! ordinary `cargo test` exactly as the fuzzer ran it. A property that does not hold panics.
//!
//! The central one: verification runs against a fixed key set, and everything that verifies must have been
//! signed by this module — the signing input (`header.payload`) must be one of [`Fixture::signed`], signed by a
//! key of the verifier that accepted it, and for the deterministic algorithms (HS256, RS256, EdDSA) the token must
//! be byte for byte the one this module made. Any other input that verifies is a forgery.
//!
//! The keys below are fixtures for fuzzing, published here on purpose; they protect nothing.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Map, Value};
use waxseal::jws::{Header, HeaderBuilder, JsonSigner, JwsVerifier};
use waxseal::jwt::{FixedClock, NumericDate, Verifier, decode_unverified};
use waxseal::{Algorithm, ErrorKind, Jwk, KeySet, Limits, SigningKey, VerifyingKey, b64};

use crate::{Outcome, Seed};

/// Also the signing key of the nested JWT `jwe.rs` encrypts.
pub(crate) const ES256_JWK: &str = r#"{"kty":"EC","alg":"ES256","kid":"wgal_vNyJCRHh9FS_LFWrH3MnUvxbbni2tXZR5Cte6M","crv":"P-256","x":"j7BO0Hmt-XRX3DY4vd4HRa6ClAnmT03PfzFZ3Qfp5O0","y":"x7BU3hP6S8MytGsRybsAsdCVrpleoflupeac5TgjvvM","d":"rqpKPH0o6hKoDiPvMTEw_4x_Vyl2WI_VFKftcvd7f6Q"}"#;

pub(crate) const ED25519_JWK: &str = r#"{"kty":"OKP","alg":"EdDSA","kid":"gAKqH3lhbjJDO3SyUEc7ozHexJU4BRbAgjdH38pA9b8","crv":"Ed25519","x":"xzknvkloSUjXVr60PO8BsJYyUYgz7AGwg9eFsQls1sk","d":"WjcfDEhImTmIoDad1WLFjCIdVpbTgD1ihQvLRSW05kw"}"#;

/// An RSA key without `alg`: the verifier trusts it for RS256 and PS256 alike (and RS/PS 384/512), the shape
/// most likely to confuse a key-selection bug.
const RSA_JWK: &str = r#"{"kty":"RSA","kid":"gkj4jnXRryR7z5R_bO1J7-YygNYW3CZW8yHTxlkWNQ8","n":"vcE31Y0m_tCEuYC-tlYyVNBmSGKAkwM77JyuucKnqILYBZVXt7H4DFCbbzvFeM989ZJ7UQTg-Ws0kY3FQLbr1v2vNDWB08HVokmD8Umc9XAtL-zuwPe6t-G_H-AfsEZ-KFdh5ptTj6wVJqSf8ycJXivOH_44ZnOfCWv0ItxsExHoCCD8JxfS5YqYLoyYVRvmCwPcAADF6eh2m9UZwerizEAteUzyufFu8yPGU8gZ7__5T6lLSGX8M3nv1kNd1spIQon1ZEWfEUtlNdgmQRzgaJCfS0DltHMU2r4fyAYq8heb4Uxes7fXp2gx6OY6KNPn4s7Fu-J03Tg8fO3pLN5hGw","e":"AQAB","d":"BM-oWGwgHVKGJaSZBqCAMtxR1kCrx-PLb4ANghI9vq0KncxKkWgcGkZ_mmi75LNGFNKQ-TM-zQl7J2bz0GSS7ZGNvAIl94uGR3txB_t41P7yIQad4HCnivqt-43q38T5ypC59RHieCsXIjKxsjA-3DoPcN-OPd1tSTIz2h_CnGfK-sBCZQAU5vfjeGVdjlIcpL8mJrRXdc-d9xb7BbA1VUfTPftqGbfGFE30djTH7ay5d0aeVU3gEgy2QzwHg0nsH_2-7qje1PPq7seeeNyPWDj_BjbvgL_DhK8434XOwv-Dn9PWyqO15mYX5a3mReGdvE7TemTkDQ01V8Jbi4tu8Q","p":"3JIm04Ft-FBTBNNSR86xoydvK38ysdWt3g4h-708IShoZQrXjflAK90fiV7FopPYze5SlQVGUrwetZUsAHsp2f1BS2ArhA2SiXoq6AW5H_4wWR8Rm-zY9eQ6nMSI9r7yORS9p8sUGWGqcktvJ1phFXd9E2BZiCfG-0DJt3Emgyk","q":"3DvpCRNiluP5oFtAyuYWZ9WX1nnzSOYZ3dLu7W_f2PtttSbshbOd1II2253F5inG2-JTvgdQwAWxJWmq11N_Pl7gyWHagTyBxecj1QlDXeaMjfwFUvgkUywdsYdC7LGJiH3c7x576X7mOKPqbArOfyJ2wYZBhnjA2B4_hOP7rqM","dp":"S_KvF8jLOuM9kr3I6RzMoackak_D_uPamEk5flrsZ2Zoe9I94o7ef7wF7eEKIC7USiQzn0hPrJFF6bRRkGDYSk0fvHqCwVeDC39bYsUFt3Ro5WcDQzNMiW5qmCw8FOousWTo4OvWId81N2GuBljicOfR02grq-w2YbEvQ9DcN_E","dq":"mpgjeQ92gVz-eaYU0Vi6GaFBuHhaYq3DModC2MFTbMjxtdvg4-m1vNq7D2as6GgjA27YQeh4spJMS2rlVcly5KFNQY_DBj0nC3i5Gm4qL9wKhhCG3Dr7pLavEVNVkzj8xicz01aevMUrbk8B212qnmve2PIZRP-2vv5csDgpD-k","qi":"f2hoGeQudGrM7ZBELFcNUKOdUiKwf-HVMigHpcQBKcqmA7uhaoFILI6KB6AJgTWgbZoqzPxdaOgq0ra2kJBuyzuwapOSbELoUgPR_nxhn56rBfEeLcT6WUmRDCDBpwEIJcuPDAHcx1J27Oh31gZm_it6PG6eG3WUOGrvBc2PAtQ"}"#;

/// The HMAC fixture secret: exactly the 32 bytes HS256 needs.
const HMAC_SECRET: &[u8; 32] = b"waxseal fuzzing fixture secret!!";
const HMAC_KID: &str = "fuzz-hmac";

/// "Now" for every claims check: 2025-06-15.
pub const NOW: u64 = 1_750_000_000;

/// The payloads the fixture signs: claims valid at [`NOW`], claims expired at [`NOW`], and bytes that are not JSON.
const PAYLOADS: [&[u8]; 3] = [
    br#"{"iss":"https://issuer.example","sub":"alice","aud":"api","exp":4102444800,"iat":1700000000,"jti":"j1"}"#,
    br#"{"sub":"bob","exp":1600000000}"#,
    b"hello, fuzzer",
];

/// Which verifier a signing input belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trust {
    /// The public-key verifiers (ES256, EdDSA, RSA as RS256/PS256).
    Public,
    /// The HMAC verifier.
    Secret,
}

/// What the fixture signed under one signing input.
#[derive(Debug)]
struct Signed {
    trust: Trust,
    alg: Algorithm,
    payload: Vec<u8>,
    unencoded: bool,
    /// The whole token, for deterministic algorithms: nothing else with this signing input may verify.
    token: Option<String>,
}

/// The fixed keys, the verifiers built on them and everything they signed.
pub struct Fixture {
    public: JwsVerifier,
    public_unencoded: JwsVerifier,
    secret: JwsVerifier,
    secret_unencoded: JwsVerifier,
    jwt_public: Verifier,
    signers: Vec<(Trust, SigningKey)>,
    signed: HashMap<String, Signed>,
    /// The ES256 fixture's public key as PEM: the secret an algorithm-confusion attacker would try.
    es256_public_pem: String,
    es256_kid: String,
}

fn parse_key(text: &str, alg: Option<Algorithm>) -> SigningKey {
    let jwk = Jwk::from_json(text).expect("fixture JWK");
    match alg {
        Some(alg) => SigningKey::from_jwk_with_alg(&jwk, alg),
        None => SigningKey::from_jwk(&jwk),
    }
    .expect("fixture key")
}

impl Fixture {
    fn secret_key(&self) -> &SigningKey {
        self.signers
            .iter()
            .find(|(trust, _)| *trust == Trust::Secret)
            .map(|(_, key)| key)
            .expect("the fixture has a secret key")
    }
}

/// The fixture, built once per process.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build_fixture)
}

fn build_fixture() -> Fixture {
    let es256 = parse_key(ES256_JWK, None);
    let ed25519 = parse_key(ED25519_JWK, None);
    let rs256 = parse_key(RSA_JWK, Some(Algorithm::RS256));
    let ps256 = parse_key(RSA_JWK, Some(Algorithm::PS256));
    let hmac = SigningKey::from_secret(HMAC_SECRET, Algorithm::HS256)
        .expect("fixture secret")
        .with_kid(HMAC_KID);

    // The public verifier reads a JWK Set, as a resource server would; the RSA key has no `alg` there.
    let mut rsa_public = Jwk::from_json(RSA_JWK)
        .expect("fixture JWK")
        .to_public()
        .expect("RSA public part");
    rsa_public.alg = None;
    let jwks = serde_json::json!({ "keys": [
        es256.public_jwk().expect("public JWK"),
        ed25519.public_jwk().expect("public JWK"),
        rsa_public,
    ]})
    .to_string();
    let public_set = KeySet::from_jwks(&jwks).expect("fixture JWK Set");
    let secret_set = KeySet::from(
        VerifyingKey::from_secret(HMAC_SECRET, Algorithm::HS256)
            .expect("fixture secret")
            .with_kid(HMAC_KID),
    );

    let es256_public_pem = es256
        .verifying_key()
        .and_then(|k| k.to_pem())
        .expect("ES256 public PEM");
    let es256_kid = es256.kid().unwrap_or_default().to_owned();
    let signers = vec![
        (Trust::Public, es256),
        (Trust::Public, ed25519),
        (Trust::Public, rs256),
        (Trust::Public, ps256),
        (Trust::Secret, hmac),
    ];

    let mut signed = HashMap::new();
    for (trust, key) in &signers {
        for (header, payloads, unencoded) in headers() {
            for payload in payloads {
                let token =
                    waxseal::jws::sign_compact(key, &header, payload).expect("fixture signs");
                let (input, _) = token.rsplit_once('.').expect("three segments");
                let deterministic = !matches!(key.algorithm(), Algorithm::ES256 | Algorithm::PS256);
                signed.insert(
                    input.to_owned(),
                    Signed {
                        trust: *trust,
                        alg: key.algorithm(),
                        payload: payload.to_vec(),
                        unencoded,
                        token: deterministic.then(|| token.clone()),
                    },
                );
            }
        }
    }

    Fixture {
        public: JwsVerifier::new(public_set.clone()),
        public_unencoded: JwsVerifier::new(public_set.clone()).allow_unencoded_payload(true),
        secret: JwsVerifier::new(secret_set.clone()),
        secret_unencoded: JwsVerifier::new(secret_set).allow_unencoded_payload(true),
        jwt_public: Verifier::new(public_set)
            .any_audience()
            .clock(FixedClock(NumericDate::from_secs(NOW))),
        signers,
        signed,
        es256_public_pem,
        es256_kid,
    }
}

/// The headers the fixture signs with, with the payloads each is used for and whether the payload is unencoded.
fn headers() -> [(HeaderBuilder, Vec<&'static [u8]>, bool); 2] {
    [
        (HeaderBuilder::new().typ("JWT"), PAYLOADS.to_vec(), false),
        // RFC 7797: the payload travels as it is, so it must be UTF-8 without '.' to fit the compact form.
        (
            HeaderBuilder::new().unencoded_payload(),
            vec![&b"hello, fuzzer"[..]],
            true,
        ),
    ]
}

/// Checks that what `trust`'s verifier accepted under `input` is something the fixture signed with such a key.
fn assert_signed(
    trust: Trust,
    unencoded_allowed: bool,
    input: &str,
    token: &str,
    header: &Header,
    payload: &[u8],
) {
    let Some(signed) = fixture().signed.get(input) else {
        panic!("FORGERY: a signing input the fixture never signed verified: {input:?}");
    };
    assert_eq!(
        signed.trust, trust,
        "FORGERY: a token signed for the {:?} keys verified with the {trust:?} keys",
        signed.trust
    );
    assert_eq!(header.alg, signed.alg, "verified under another algorithm");
    assert_eq!(
        payload, signed.payload,
        "verified payload differs from the signed one"
    );
    assert!(
        !signed.unencoded || unencoded_allowed,
        "an unencoded payload verified without allow_unencoded_payload"
    );
    assert_eq!(
        header.b64, !signed.unencoded,
        "b64 header differs from the signed one"
    );
    if let Some(expected) = &signed.token {
        assert_eq!(
            token, expected,
            "a deterministic signature verified on a token other than the one signed"
        );
    }
}

/// Strict base64url means one spelling per byte string: whatever decodes must encode back to the same text.
pub(crate) fn assert_canonical_b64(segment: &str) {
    if let Ok(bytes) = b64::decode(segment, "segment") {
        assert_eq!(
            b64::encode(&bytes),
            segment,
            "non-canonical base64url accepted"
        );
    }
}

/// Target `jws_compact`: a compact JWS, parsed without verification, then verified by every fixture verifier and
/// the JWT verifier.
pub fn jws_compact(data: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(data) else {
        return Outcome::Refused;
    };
    for segment in text.split('.') {
        assert_canonical_b64(segment);
    }
    unverified_round_trip(text);

    let f = fixture();
    let mut outcome = Outcome::Refused;
    let signing_input = text.rsplit_once('.').map(|(input, _)| input);
    for (trust, unencoded, verifier) in [
        (Trust::Public, false, &f.public),
        (Trust::Public, true, &f.public_unencoded),
        (Trust::Secret, false, &f.secret),
        (Trust::Secret, true, &f.secret_unencoded),
    ] {
        if let Ok(verified) = verifier.verify_compact(text) {
            let input = signing_input.expect("a verified compact JWS has a signature segment");
            assert_signed(
                trust,
                unencoded,
                input,
                text,
                &verified.header,
                &verified.payload,
            );
            outcome = Outcome::Accepted;
        }
    }

    if let Ok((header, claims)) = f.jwt_public.verify_with_header::<Value>(text) {
        let (input, _) = text.rsplit_once('.').expect("verified");
        let payload = b64::decode(input.split_once('.').map_or("", |(_, p)| p), "payload")
            .expect("a verified JWT has a base64url payload");
        assert_signed(Trust::Public, false, input, text, &header, &payload);
        let object: Value = serde_json::from_slice(&payload).expect("verified claims are JSON");
        assert_eq!(
            claims.custom, object,
            "claims handed over differ from the payload"
        );
        let exp = object.get("exp").and_then(numeric_date);
        assert!(
            exp.is_some_and(|exp| u128::from(exp) + 60 >= u128::from(NOW)),
            "EXPIRED token accepted by the JWT verifier: exp {exp:?}, now {NOW}"
        );
        outcome = Outcome::Accepted;
    }
    outcome
}

/// `decode_unverified` shows what a verifier would see: its header, re-encoded, must read back the same, and its
/// payload and signature re-encode to the token's own segments.
pub(crate) fn unverified_round_trip(text: &str) {
    let Ok(token) = decode_unverified(text) else {
        return;
    };
    let segments: Vec<&str> = text.split('.').collect();
    let header_json = serde_json::to_string(&token.header).expect("a JSON map serializes");
    let rebuilt = format!(
        "{}.{}",
        b64::encode(header_json.as_bytes()),
        segments[1..].join(".")
    );
    let again = decode_unverified(&rebuilt).expect("a re-encoded header reads back");
    assert_eq!(again.header, token.header, "header did not round-trip");
    assert_eq!(again.is_jwe, token.is_jwe);
    if token.is_jwe {
        assert_eq!(segments.len(), 5);
        return;
    }
    assert_eq!(segments.len(), 3);
    assert_eq!(
        b64::encode(&token.signature),
        segments[2],
        "signature did not round-trip"
    );
    if token.header.get("b64") == Some(&Value::Bool(false)) {
        assert_eq!(token.payload, segments[1].as_bytes());
    } else {
        assert_eq!(
            b64::encode(&token.payload),
            segments[1],
            "payload did not round-trip"
        );
    }
    if let Some(claims) = &token.claims {
        let parsed: Value = serde_json::from_slice(&token.payload).expect("claims are JSON");
        assert_eq!(
            Some(claims),
            parsed.as_object(),
            "claims differ from the payload"
        );
    }
}

/// Target `jws_json`: the JWS JSON serialization (general and flattened) against the fixture verifiers.
pub fn jws_json(data: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(data) else {
        return Outcome::Refused;
    };
    let f = fixture();
    let mut outcome = Outcome::Refused;
    for (trust, unencoded, verifier) in [
        (Trust::Public, false, &f.public),
        (Trust::Public, true, &f.public_unencoded),
        (Trust::Secret, false, &f.secret),
        (Trust::Secret, true, &f.secret_unencoded),
    ] {
        let Ok(verified) = verifier.verify_json(text) else {
            continue;
        };
        // What waxseal accepted must be JSON for anyone; its duplicate-free strictness makes the reading unique.
        let document: Value = serde_json::from_str(text).expect("accepted JWS JSON is JSON");
        let entry = match document.get("signatures") {
            Some(Value::Array(entries)) => &entries[verified.signature_index],
            _ => {
                assert_eq!(verified.signature_index, 0);
                &document
            }
        };
        let protected = entry.get("protected").and_then(Value::as_str).unwrap_or("");
        let payload = document
            .get("payload")
            .and_then(Value::as_str)
            .expect("an attached payload");
        let signature = entry
            .get("signature")
            .and_then(Value::as_str)
            .expect("a signature");
        let input = format!("{protected}.{payload}");
        let compact = format!("{input}.{signature}");
        assert_signed(
            trust,
            unencoded,
            &input,
            &compact,
            &verified.header,
            &verified.payload,
        );
        // The same signature as a compact JWS: the two serializations must agree.
        let as_compact = verifier
            .verify_compact(&compact)
            .expect("a signature verified in JSON must verify in compact form");
        assert_eq!(as_compact.payload, verified.payload);
        outcome = Outcome::Accepted;
    }
    outcome
}

/// Target `jwk`: one JWK, its round trip through JSON, its public part and the keys built from it.
pub fn jwk(data: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(data) else {
        return Outcome::Refused;
    };
    let Ok(jwk) = Jwk::from_json(text) else {
        return Outcome::Refused;
    };
    check_jwk(&jwk);
    Outcome::Accepted
}

fn check_jwk(jwk: &Jwk) {
    let again = Jwk::from_json(&jwk.to_json()).expect("a JWK's own JSON parses");
    assert_eq!(&again, jwk, "JWK did not round-trip through JSON");
    let thumbprint = jwk.thumbprint().ok();
    assert_eq!(
        again.thumbprint().ok(),
        thumbprint,
        "thumbprint is not stable"
    );

    // Debug output never carries private members (unless the same text is also a shown public member).
    let shown = format!("{jwk:?}");
    let public_members = [
        Some(&jwk.kty),
        jwk.use_.as_ref(),
        jwk.alg.as_ref(),
        jwk.kid.as_ref(),
        jwk.crv.as_ref(),
    ];
    for private in [&jwk.d, &jwk.p, &jwk.q, &jwk.dp, &jwk.dq, &jwk.qi, &jwk.k]
        .into_iter()
        .flatten()
    {
        if private.len() >= 8 && shown.contains(private.as_str()) {
            assert!(
                public_members
                    .iter()
                    .flatten()
                    .any(|m| m.contains(private.as_str())),
                "Debug shows a private JWK member"
            );
        }
    }

    if let Ok(public) = jwk.to_public() {
        assert!(!public.is_private(), "to_public kept private material");
        assert_eq!(
            public.thumbprint().ok(),
            thumbprint,
            "public part has another thumbprint"
        );
    }

    if let Ok(verifying) = VerifyingKey::from_jwk(jwk) {
        let exported = verifying.to_jwk().expect("a verifying key exports its JWK");
        assert_eq!(
            exported.is_private(),
            verifying.is_symmetric(),
            "public export leaks"
        );
        let back = VerifyingKey::from_jwk(&exported).expect("an exported JWK imports");
        assert_eq!(back.algorithm(), verifying.algorithm());
        assert_eq!(back.kid(), verifying.kid());
    }
    if let Ok(signing) = SigningKey::from_jwk(jwk) {
        let message = b"fuzz message";
        let signature = signing.sign(message).expect("a signing key signs");
        let verifying = signing
            .verifying_key()
            .expect("a signing key has a verifying key");
        verifying
            .verify(message, &signature)
            .expect("a key's own signature verifies");
        assert!(
            verifying.verify(b"other message", &signature).is_err(),
            "a signature verified over another message"
        );
        if let Ok(from_jwk) = VerifyingKey::from_jwk(jwk) {
            from_jwk
                .verify(message, &signature)
                .expect("the JWK's verifying key checks its signing key's signature");
        }
    }
}

/// Target `jwks`: a JWK Set, as trusted configuration and as a document published by an issuer.
pub fn jwks(data: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(data) else {
        return Outcome::Refused;
    };
    let mut outcome = Outcome::Refused;
    let configured = KeySet::from_jwks(text);
    if let Ok(set) = &configured {
        check_key_set(set);
        outcome = Outcome::Accepted;
    }
    let limits = Limits::default();
    if let Ok(published) = KeySet::from_published_jwks(text, &limits) {
        check_key_set(&published);
        for key in published.keys() {
            assert!(
                !key.is_symmetric(),
                "a published JWK Set yielded an HMAC secret"
            );
            let jwk = key.to_jwk().expect("a verifying key exports its JWK");
            assert!(
                !jwk.is_private(),
                "a published JWK Set yielded private material"
            );
        }
        // Publication only ever drops keys (secrets); a set with a secret may still be refused as configuration.
        if let Ok(configured) = &configured {
            assert!(published.keys().len() <= configured.keys().len());
        }
        outcome = Outcome::Accepted;
    }
    // Tight limits hold exactly.
    let tight = Limits {
        max_keys: 2,
        max_jwks_bytes: 1024,
        ..Limits::default()
    };
    if let Ok(set) = KeySet::from_jwks_with_limits(text, &tight) {
        assert!(
            text.len() <= tight.max_jwks_bytes,
            "JWK Set size limit ignored"
        );
        let entries: Value = serde_json::from_str(text).expect("an accepted JWK Set is JSON");
        let count = entries
            .get("keys")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        assert!(count <= tight.max_keys, "JWK Set key-count limit ignored");
        check_key_set(&set);
    }
    outcome
}

fn check_key_set(set: &KeySet) {
    assert!(!set.keys().is_empty(), "an accepted JWK Set has a key");
    let symmetric = set.keys().iter().filter(|k| k.is_symmetric()).count();
    assert!(
        symmetric == 0 || symmetric == set.keys().len(),
        "a key set mixes HMAC secrets with public keys"
    );
    for key in set.keys() {
        assert!(set.algorithms().contains(key.algorithm()));
    }
}

/// Target `key_import`: the first byte picks PEM (even) or DER (odd); the rest is the key.
pub fn key_import(data: &[u8]) -> Outcome {
    let Some((&mode, rest)) = data.split_first() else {
        return Outcome::Refused;
    };
    let imported = if mode % 2 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else {
            return Outcome::Refused;
        };
        Jwk::from_pem(text)
    } else {
        Jwk::from_der(rest)
    };
    let Ok(jwk) = imported else {
        return Outcome::Refused;
    };
    check_jwk(&jwk);
    if let Ok(pem) = jwk.to_pem() {
        let back = Jwk::from_pem(&pem).expect("waxseal reads the PEM it writes");
        assert_eq!(
            back.is_private(),
            jwk.is_private(),
            "PEM export changed privacy"
        );
        assert_eq!(
            back.thumbprint().ok(),
            jwk.thumbprint().ok(),
            "PEM export changed the key"
        );
        if jwk.is_private() {
            assert_eq!(back.d, jwk.d, "PEM export changed the private key");
        }
    }
    Outcome::Accepted
}

/// A NumericDate as RFC 7519 defines it and waxseal documents it: a non-negative number of seconds, the
/// fractional part dropped. `None` for anything else.
fn numeric_date(value: &Value) -> Option<u64> {
    let number = value.as_number()?;
    if let Some(n) = number.as_u64() {
        return Some(n);
    }
    if number.is_i64() {
        return None;
    }
    let f = number.as_f64()?;
    (f.is_finite() && (0.0..1.8e19).contains(&f)).then_some(f as u64)
}

/// Target `claims`: byte 0 picks the verifier's rules, byte 1 the leeway, the rest is the claims payload, signed
/// with the fixture secret so that only validation decides. Whatever is accepted is checked against the rules by
/// an independent reading of the payload.
pub fn claims(data: &[u8]) -> Outcome {
    let [flags, leeway_pick, payload @ ..] = data else {
        return Outcome::Refused;
    };
    let leeway = [0, 1, 60, 86_400, u64::MAX][usize::from(*leeway_pick) % 5];
    let key = fixture().secret_key();
    let Ok(token) = waxseal::jws::sign_compact(key, &HeaderBuilder::new().typ("JWT"), payload)
    else {
        return Outcome::Refused;
    };

    let audience_mode = flags & 0b11;
    let with_issuer = flags & 0b100 != 0;
    let reject_future_iat = flags & 0b1000 != 0;
    let max_age = (flags & 0b1_0000 != 0).then_some(3_600u64);
    let with_subject = flags & 0b10_0000 != 0;
    let require_jti = flags & 0b100_0000 != 0;
    let require_exp = flags & 0b1000_0000 == 0;

    let mut verifier = Verifier::new(
        VerifyingKey::from_secret(HMAC_SECRET, Algorithm::HS256)
            .expect("fixture secret")
            .with_kid(HMAC_KID),
    )
    .clock(FixedClock(NumericDate::from_secs(NOW)))
    .leeway(Duration::from_secs(leeway))
    .require_exp(require_exp);
    match audience_mode {
        0 => verifier = verifier.audience("api"),
        1 => verifier = verifier.any_audience(),
        _ => {}
    }
    if with_issuer {
        verifier = verifier.issuer("https://issuer.example");
    }
    if reject_future_iat {
        verifier = verifier.reject_future_iat();
    }
    if let Some(age) = max_age {
        verifier = verifier.max_age(Duration::from_secs(age));
    }
    if with_subject {
        verifier = verifier.subject("alice");
    }
    if require_jti {
        verifier = verifier.require(["jti"]);
    }

    let now = u128::from(NOW);
    let leeway = u128::from(leeway);
    let date = |object: &Map<String, Value>, name: &str| object.get(name).and_then(numeric_date);
    match verifier.verify::<Value>(&token) {
        Ok(claims) => {
            let value: Value = serde_json::from_slice(payload).expect("accepted claims are JSON");
            let object = value.as_object().expect("accepted claims are an object");
            assert_eq!(
                claims.custom, value,
                "claims handed over differ from the payload"
            );
            let exp = date(object, "exp");
            assert_eq!(claims.registered.exp.map(NumericDate::secs), exp);
            assert_eq!(
                claims.registered.nbf.map(NumericDate::secs),
                date(object, "nbf")
            );
            assert_eq!(
                claims.registered.iat.map(NumericDate::secs),
                date(object, "iat")
            );
            if require_exp {
                assert!(object.contains_key("exp"), "token without exp accepted");
            }
            if let Some(exp) = exp {
                assert!(
                    u128::from(exp) + leeway >= now,
                    "EXPIRED token accepted: exp {exp}, now {NOW}, leeway {leeway}"
                );
            }
            if let Some(nbf) = date(object, "nbf") {
                assert!(now + leeway >= u128::from(nbf), "token accepted before nbf");
            }
            let iat = date(object, "iat");
            if reject_future_iat && let Some(iat) = iat {
                assert!(
                    now + leeway >= u128::from(iat),
                    "token from the future accepted"
                );
            }
            if let Some(age) = max_age {
                let iat = iat.expect("max_age accepted a token without iat");
                assert!(
                    now.saturating_sub(u128::from(iat)) <= u128::from(age) + leeway,
                    "token older than max_age accepted"
                );
            }
            let string = |name: &str| object.get(name).and_then(Value::as_str);
            if with_issuer {
                assert_eq!(
                    string("iss"),
                    Some("https://issuer.example"),
                    "wrong issuer accepted"
                );
            }
            if with_subject {
                assert_eq!(string("sub"), Some("alice"), "wrong subject accepted");
            }
            if require_jti {
                assert!(object.contains_key("jti"), "required claim missing");
            }
            let aud = object.get("aud");
            match audience_mode {
                0 => {
                    let named = match aud {
                        Some(Value::String(a)) => a == "api",
                        Some(Value::Array(all)) => all.iter().any(|a| a == "api"),
                        _ => false,
                    };
                    assert!(named, "token for another audience accepted: {aud:?}");
                }
                1 => {}
                _ => assert!(
                    aud.is_none(),
                    "token with aud accepted by a verifier without audience"
                ),
            }
            Outcome::Accepted
        }
        Err(e) => {
            // A refusal must give the true reason: no token is called expired, or early, that is not.
            let value: Option<Value> = serde_json::from_slice(payload).ok();
            let object = value.as_ref().and_then(Value::as_object);
            match e.kind() {
                ErrorKind::Expired => {
                    let exp = object
                        .and_then(|o| date(o, "exp"))
                        .expect("expired without exp");
                    assert!(now > u128::from(exp) + leeway, "valid token called expired");
                }
                ErrorKind::NotYetValid => {
                    let nbf = object
                        .and_then(|o| date(o, "nbf"))
                        .expect("early without nbf");
                    assert!(
                        now + leeway < u128::from(nbf),
                        "valid token called not yet valid"
                    );
                }
                _ => {}
            }
            Outcome::Refused
        }
    }
}

/// The seeds of the JOSE targets: tokens, JSON serializations, keys and key sets made with the fixture keys, and
/// the classic attacks, which must fail. `crates/waxseal/tests/fuzz_regressions.rs` checks that
/// `fuzz/regressions/` holds them (and writes them there when asked to).
pub fn seeds() -> Vec<Seed> {
    let f = fixture();
    let mut seeds = Vec::new();
    let mut push = |target: &'static str, name: String, bytes: Vec<u8>, deterministic: bool| {
        seeds.push(Seed {
            target,
            name,
            bytes,
            deterministic,
        });
    };
    for (trust, key) in &f.signers {
        let alg = key.algorithm();
        let deterministic = !matches!(alg, Algorithm::ES256 | Algorithm::PS256);
        for (header, payloads, unencoded) in headers() {
            for (i, payload) in payloads.iter().enumerate() {
                let kind = if unencoded { "unencoded" } else { "payload" };
                let token =
                    waxseal::jws::sign_compact(key, &header, payload).expect("fixture signs");
                push(
                    "jws_compact",
                    format!("ok-{alg}-{kind}{i}"),
                    token.into_bytes(),
                    deterministic,
                );
                let general = JsonSigner::new(payload)
                    .sign(key, &header, None)
                    .expect("fixture signs")
                    .general();
                let note = Map::from_iter([("note".to_owned(), Value::from("unprotected"))]);
                let flattened = JsonSigner::new(payload)
                    .sign(key, &header, Some(note))
                    .expect("fixture signs")
                    .flattened();
                push(
                    "jws_json",
                    format!("ok-{alg}-{kind}{i}-general"),
                    general.into_bytes(),
                    deterministic,
                );
                push(
                    "jws_json",
                    format!("ok-{alg}-{kind}{i}-flattened"),
                    flattened.into_bytes(),
                    deterministic,
                );
            }
        }
        // PS256 shares the RSA key with RS256: its key files would be the same.
        if alg == Algorithm::PS256 {
            continue;
        }
        let private = key.to_jwk().expect("fixture exports");
        push(
            "jwk",
            format!("ok-{alg}-private"),
            private.to_json().into_bytes(),
            true,
        );
        if *trust == Trust::Public {
            let public = key.public_jwk().expect("fixture exports");
            push(
                "jwk",
                format!("ok-{alg}-public"),
                public.to_json().into_bytes(),
                true,
            );
            let set = serde_json::json!({ "keys": [public] }).to_string();
            push("jwks", format!("ok-{alg}"), set.into_bytes(), true);
            for (kind, pem) in [
                ("private", key.to_pem().expect("fixture exports")),
                (
                    "public",
                    key.verifying_key()
                        .and_then(|k| k.to_pem())
                        .expect("fixture exports"),
                ),
            ] {
                let mut bytes = vec![0];
                bytes.extend_from_slice(pem.as_bytes());
                push("key_import", format!("ok-{alg}-{kind}-pem"), bytes, true);
                let mut der = vec![1];
                der.extend_from_slice(&pem_body(&pem));
                push("key_import", format!("ok-{alg}-{kind}-der"), der, true);
            }
        }
    }
    let secret_set =
        serde_json::json!({ "keys": [f.secret_key().to_jwk().expect("exports")] }).to_string();
    push("jwks", "ok-HS256".into(), secret_set.into_bytes(), true);

    // The attacks, as starting points for the fuzzer; each must fail.
    let claims = PAYLOADS[0];
    let header = |json: &str| b64::encode(json.as_bytes());
    let body = b64::encode(claims);
    push(
        "jws_compact",
        "attack-alg-none".into(),
        format!("{}.{body}.", header(r#"{"alg":"none","typ":"JWT"}"#)).into_bytes(),
        true,
    );
    push(
        "jws_compact",
        "attack-psychic-signature".into(),
        format!(
            "{}.{body}.{}",
            header(&format!(
                r#"{{"alg":"ES256","typ":"JWT","kid":"{}"}}"#,
                f.es256_kid
            )),
            b64::encode([0u8; 64])
        )
        .into_bytes(),
        true,
    );
    // Algorithm confusion: HS256 keyed with the ES256 public key's PEM, naming the ES256 key.
    let confused = SigningKey::from_secret(f.es256_public_pem.as_bytes(), Algorithm::HS256)
        .expect("a PEM is a long enough secret")
        .with_kid(f.es256_kid.clone());
    let token = waxseal::jws::sign_compact(&confused, &HeaderBuilder::new().typ("JWT"), claims)
        .expect("signs");
    push(
        "jws_compact",
        "attack-alg-confusion".into(),
        token.into_bytes(),
        true,
    );
    // Embedded key: the attacker's own secret in the header (`jwk`), signing with it.
    let attacker_secret = b"an attacker's own secret, 32+ bytes";
    let attacker = SigningKey::from_secret(attacker_secret, Algorithm::HS256)
        .expect("secret")
        .with_kid(HMAC_KID);
    let embedded = HeaderBuilder::new().typ("JWT").member(
        "jwk",
        serde_json::json!({"kty": "oct", "k": b64::encode(attacker_secret)}),
    );
    let token = waxseal::jws::sign_compact(&attacker, &embedded, claims).expect("signs");
    push(
        "jws_compact",
        "attack-embedded-jwk".into(),
        token.into_bytes(),
        true,
    );
    // Header tricks on a genuine signature's payload and signature segments.
    let genuine =
        waxseal::jws::sign_compact(f.secret_key(), &HeaderBuilder::new().typ("JWT"), claims)
            .expect("signs");
    let (_, rest) = genuine.split_once('.').expect("segments");
    for (name, json) in [
        (
            "attack-duplicate-alg",
            r#"{"alg":"HS256","alg":"none","kid":"fuzz-hmac"}"#,
        ),
        (
            "attack-unknown-crit",
            r#"{"alg":"HS256","crit":["exp"],"exp":1,"kid":"fuzz-hmac"}"#,
        ),
        (
            "attack-kid-injection",
            r#"{"alg":"HS256","kid":"../../dev/null' OR '1'='1"}"#,
        ),
    ] {
        push(
            "jws_compact",
            name.into(),
            format!("{}.{rest}", header(json)).into_bytes(),
            true,
        );
    }
    let (input, _) = genuine.rsplit_once('.').expect("segments");
    push(
        "jws_compact",
        "attack-stripped-signature".into(),
        format!("{input}.").into_bytes(),
        true,
    );
    push(
        "jws_json",
        "attack-general-no-signature".into(),
        format!(
            r#"{{"payload":"{body}","signatures":[{{"protected":"{}","signature":""}}]}}"#,
            header(r#"{"alg":"HS256","kid":"fuzz-hmac"}"#)
        )
        .into_bytes(),
        true,
    );
    push(
        "jwks",
        "seed-mixed-secret-and-public".into(),
        serde_json::json!({ "keys": [
            f.secret_key().to_jwk().expect("exports"),
            f.signers[0].1.public_jwk().expect("exports"),
        ]})
        .to_string()
        .into_bytes(),
        true,
    );

    // Claims: byte 0 the rules, byte 1 the leeway (2 = 60 s), then the payload.
    for (name, flags, payload) in [
        ("ok-valid-api", 0b0110_1100, PAYLOADS[0]),
        ("ok-valid-any-audience", 0b0000_0001, PAYLOADS[0]),
        ("attack-expired", 0b0000_0001, PAYLOADS[1]),
        ("attack-no-exp", 0b0000_0001, br#"{"sub":"carol"}"#),
        (
            "attack-wrong-audience",
            0b0000_0000,
            br#"{"aud":["other"],"exp":4102444800}"#,
        ),
        (
            "attack-not-yet-valid",
            0b0000_0001,
            br#"{"nbf":4102444800,"exp":4102444801}"#,
        ),
        (
            "attack-duplicate-exp",
            0b0000_0001,
            br#"{"exp":1,"exp":4102444800}"#,
        ),
        (
            "attack-fractional-expired",
            0b0000_0001,
            br#"{"exp":1749999939.9}"#,
        ),
    ] {
        let mut bytes = vec![flags, 2];
        bytes.extend_from_slice(payload);
        push("claims", name.into(), bytes, true);
    }
    seeds
}

/// The DER inside a PEM document (standard base64 between the BEGIN and END lines).
fn pem_body(pem: &str) -> Vec<u8> {
    use base64::Engine as _;
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("PEM body is base64")
}
