//! waxseal against `jsonwebtoken` (aws-lc-rs backend), `jwt-simple` (pure-Rust backend) and the bare aws-lc-rs
//! primitive, signing and verifying the same ~330-byte JWT with the same key material.
//!
//! One criterion group per (algorithm, operation), named `<ALG>-<op>`; the functions in each group are
//! `waxseal`, `jsonwebtoken`, `jwt-simple` and `aws-lc-rs` (for verification of asymmetric algorithms,
//! `aws-lc-rs-unparsed` — `UnparsedPublicKey::verify`, which parses the key on every call, as most crates do — and
//! `aws-lc-rs-parsed` — `ParsedPublicKey::verify_sig`, with the key parsed once). `scripts/bench-report.sh` turns
//! the results into a table.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, ParsedPublicKey, RsaKeyPair,
    UnparsedPublicKey,
};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use jwt_simple::prelude as js;
use jwt_simple::prelude::{ECDSAP256KeyPairLike as _, ECDSAP256PublicKeyLike as _};
use jwt_simple::prelude::{ECDSAP384KeyPairLike as _, ECDSAP384PublicKeyLike as _};
use jwt_simple::prelude::{EdDSAKeyPairLike as _, EdDSAPublicKeyLike as _, MACLike as _};
use jwt_simple::prelude::{RSAKeyPairLike as _, RSAPublicKeyLike as _};
use serde::{Deserialize, Serialize};
use waxseal::{Algorithm, SigningKey};

const ISS: &str = "https://auth.example.com";
const SUB: &str = "user-1234567890";
const AUD: &str = "https://api.example.com";
const JTI: &str = "7f3c9a1e-4b2d-4e8f-9a6c-1d2e3f4a5b6c";
const SCOPE: &str = "read:orders write:orders profile";
/// A 43-character, thumbprint-like key id for the HMAC key (asymmetric keys use their RFC 7638 thumbprint).
const HMAC_KID: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

/// The claims every library signs; `jsonwebtoken` also verifies into it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TokenClaims {
    iss: String,
    sub: String,
    aud: String,
    exp: u64,
    iat: u64,
    jti: String,
    scope: String,
}

/// The custom claims waxseal and jwt-simple verify into (registered claims are their own types).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Access {
    scope: String,
}

// Built once per algorithm and never moved in a timed loop; boxing the HMAC key would add an indirection there.
#[allow(clippy::large_enum_variant)]
enum Primitive {
    Hmac(hmac::Key),
    Rsa {
        pair: RsaKeyPair,
        padding: &'static dyn signature::RsaEncoding,
        unparsed: UnparsedPublicKey<Vec<u8>>,
        parsed: ParsedPublicKey,
    },
    Ecdsa {
        pair: EcdsaKeyPair,
        unparsed: UnparsedPublicKey<Vec<u8>>,
        parsed: ParsedPublicKey,
    },
    Ed25519 {
        pair: Ed25519KeyPair,
        unparsed: UnparsedPublicKey<Vec<u8>>,
        parsed: ParsedPublicKey,
    },
}

type SimpleSign = Box<dyn Fn(js::JWTClaims<Access>) -> String>;
type SimpleVerify = Box<dyn Fn(&str, &js::VerificationOptions) -> js::JWTClaims<Access>>;

struct Case {
    name: &'static str,
    waxseal_signer: waxseal::jwt::Signer,
    waxseal_verifier: waxseal::jwt::Verifier,
    jwt_header: jsonwebtoken::Header,
    jwt_encoding: jsonwebtoken::EncodingKey,
    jwt_decoding: jsonwebtoken::DecodingKey,
    jwt_validation: jsonwebtoken::Validation,
    simple_sign: SimpleSign,
    simple_verify: SimpleVerify,
    primitive: Primitive,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn token_claims() -> TokenClaims {
    let iat = now();
    TokenClaims {
        iss: ISS.into(),
        sub: SUB.into(),
        aud: AUD.into(),
        exp: iat + 3600,
        iat,
        jti: JTI.into(),
        scope: SCOPE.into(),
    }
}

/// The same claims for jwt-simple, without the `nbf` it adds by default.
fn simple_claims(c: &TokenClaims) -> js::JWTClaims<Access> {
    let mut claims = js::Claims::with_custom_claims(
        Access {
            scope: c.scope.clone(),
        },
        js::Duration::from_secs(3600),
    )
    .with_issuer(&c.iss)
    .with_subject(&c.sub)
    .with_audience(&c.aud)
    .with_jwt_id(&c.jti);
    claims.issued_at = Some(js::Duration::from_secs(c.iat));
    claims.expires_at = Some(js::Duration::from_secs(c.exp));
    claims.invalid_before = None;
    claims
}

fn simple_options() -> js::VerificationOptions {
    js::VerificationOptions {
        allowed_issuers: Some(HashSet::from([ISS.to_owned()])),
        allowed_audiences: Some(HashSet::from([AUD.to_owned()])),
        ..js::VerificationOptions::default()
    }
}

fn jwt_alg(alg: Algorithm) -> jsonwebtoken::Algorithm {
    match alg {
        Algorithm::HS256 => jsonwebtoken::Algorithm::HS256,
        Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
        Algorithm::PS256 => jsonwebtoken::Algorithm::PS256,
        Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
        Algorithm::ES384 => jsonwebtoken::Algorithm::ES384,
        Algorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        other => unreachable!("{other} is not benchmarked"),
    }
}

/// Generates the key with aws-lc-rs, then imports it into every library: waxseal from PKCS#8 DER (or the raw
/// secret), jsonwebtoken and jwt-simple from waxseal's PKCS#8 / SPKI PEM export, the primitive from the DER.
fn case(name: &'static str, alg: Algorithm) -> Case {
    let (waxseal_key, primitive) = match alg {
        Algorithm::HS256 => {
            let mut secret = [0u8; 32];
            aws_lc_rs::rand::fill(&mut secret).unwrap();
            let key = SigningKey::from_secret(&secret, alg)
                .unwrap()
                .with_kid(HMAC_KID);
            (
                key,
                Primitive::Hmac(hmac::Key::new(hmac::HMAC_SHA256, &secret)),
            )
        }
        Algorithm::RS256 | Algorithm::PS256 => {
            let generated =
                aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
            let pkcs8 = generated.as_der().unwrap();
            let pair = RsaKeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
            let (padding, verification): (
                &'static dyn signature::RsaEncoding,
                &'static dyn signature::VerificationAlgorithm,
            ) = if alg == Algorithm::RS256 {
                (
                    &signature::RSA_PKCS1_SHA256,
                    &signature::RSA_PKCS1_2048_8192_SHA256,
                )
            } else {
                (
                    &signature::RSA_PSS_SHA256,
                    &signature::RSA_PSS_2048_8192_SHA256,
                )
            };
            let public = pair.public_key().as_ref().to_vec();
            let primitive = Primitive::Rsa {
                padding,
                unparsed: UnparsedPublicKey::new(verification, public.clone()),
                parsed: ParsedPublicKey::new(verification, &public).unwrap(),
                pair,
            };
            (
                SigningKey::from_der(pkcs8.as_ref(), alg).unwrap(),
                primitive,
            )
        }
        Algorithm::ES256 | Algorithm::ES384 => {
            let (signing, verification): (_, &'static dyn signature::VerificationAlgorithm) =
                if alg == Algorithm::ES256 {
                    (
                        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                        &signature::ECDSA_P256_SHA256_FIXED,
                    )
                } else {
                    (
                        &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                        &signature::ECDSA_P384_SHA384_FIXED,
                    )
                };
            let pkcs8 = EcdsaKeyPair::generate(signing)
                .unwrap()
                .to_pkcs8v1()
                .unwrap();
            let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8.as_ref()).unwrap();
            let public = pair.public_key().as_ref().to_vec();
            let primitive = Primitive::Ecdsa {
                unparsed: UnparsedPublicKey::new(verification, public.clone()),
                parsed: ParsedPublicKey::new(verification, &public).unwrap(),
                pair,
            };
            (
                SigningKey::from_der(pkcs8.as_ref(), alg).unwrap(),
                primitive,
            )
        }
        Algorithm::EdDSA => {
            let pkcs8 = Ed25519KeyPair::generate().unwrap().to_pkcs8v1().unwrap();
            let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
            let public = pair.public_key().as_ref().to_vec();
            let primitive = Primitive::Ed25519 {
                unparsed: UnparsedPublicKey::new(&signature::ED25519, public.clone()),
                parsed: ParsedPublicKey::new(&signature::ED25519, &public).unwrap(),
                pair,
            };
            (
                SigningKey::from_der(pkcs8.as_ref(), alg).unwrap(),
                primitive,
            )
        }
        other => unreachable!("{other} is not benchmarked"),
    };
    let verifying_key = waxseal_key.verifying_key().unwrap();
    let kid = waxseal_key.kid().unwrap().to_owned();
    assert_eq!(kid.len(), 43, "kid should be thumbprint-sized");

    let jalg = jwt_alg(alg);
    let mut jwt_header = jsonwebtoken::Header::new(jalg);
    jwt_header.kid = Some(kid.clone());
    let mut jwt_validation = jsonwebtoken::Validation::new(jalg);
    jwt_validation.set_issuer(&[ISS]);
    jwt_validation.set_audience(&[AUD]);

    let (jwt_encoding, jwt_decoding, simple_sign, simple_verify): (_, _, SimpleSign, SimpleVerify) =
        if alg == Algorithm::HS256 {
            let jwk = waxseal_key.to_jwk().unwrap();
            let secret = waxseal::b64::decode(jwk.k.as_deref().unwrap(), "k").unwrap();
            let simple = js::HS256Key::from_bytes(&secret).with_key_id(&kid);
            let simple_v = simple.clone();
            (
                jsonwebtoken::EncodingKey::from_secret(&secret),
                jsonwebtoken::DecodingKey::from_secret(&secret),
                Box::new(move |c| simple.authenticate(c).unwrap()),
                Box::new(move |t, o| simple_v.verify_token::<Access>(t, Some(o.clone())).unwrap()),
            )
        } else {
            let private_pem = waxseal_key.to_pem().unwrap();
            let public_pem = verifying_key.to_pem().unwrap();
            let (enc, dec) = match alg {
                Algorithm::RS256 | Algorithm::PS256 => (
                    jsonwebtoken::EncodingKey::from_rsa_pem(private_pem.as_bytes()).unwrap(),
                    jsonwebtoken::DecodingKey::from_rsa_pem(public_pem.as_bytes()).unwrap(),
                ),
                Algorithm::EdDSA => (
                    jsonwebtoken::EncodingKey::from_ed_pem(private_pem.as_bytes()).unwrap(),
                    jsonwebtoken::DecodingKey::from_ed_pem(public_pem.as_bytes()).unwrap(),
                ),
                _ => (
                    jsonwebtoken::EncodingKey::from_ec_pem(private_pem.as_bytes()).unwrap(),
                    jsonwebtoken::DecodingKey::from_ec_pem(public_pem.as_bytes()).unwrap(),
                ),
            };
            let (sign, verify): (SimpleSign, SimpleVerify) = match alg {
                Algorithm::RS256 => {
                    let pair = js::RS256KeyPair::from_pem(&private_pem)
                        .unwrap()
                        .with_key_id(&kid);
                    let public = js::RS256PublicKey::from_pem(&public_pem).unwrap();
                    (
                        Box::new(move |c| pair.sign(c).unwrap()),
                        Box::new(move |t, o| {
                            public.verify_token::<Access>(t, Some(o.clone())).unwrap()
                        }),
                    )
                }
                Algorithm::PS256 => {
                    let pair = js::PS256KeyPair::from_pem(&private_pem)
                        .unwrap()
                        .with_key_id(&kid);
                    let public = js::PS256PublicKey::from_pem(&public_pem).unwrap();
                    (
                        Box::new(move |c| pair.sign(c).unwrap()),
                        Box::new(move |t, o| {
                            public.verify_token::<Access>(t, Some(o.clone())).unwrap()
                        }),
                    )
                }
                Algorithm::ES256 => {
                    let pair = js::ES256KeyPair::from_pem(&private_pem)
                        .unwrap()
                        .with_key_id(&kid);
                    let public = js::ES256PublicKey::from_pem(&public_pem).unwrap();
                    (
                        Box::new(move |c| pair.sign(c).unwrap()),
                        Box::new(move |t, o| {
                            public.verify_token::<Access>(t, Some(o.clone())).unwrap()
                        }),
                    )
                }
                Algorithm::ES384 => {
                    let pair = js::ES384KeyPair::from_pem(&private_pem)
                        .unwrap()
                        .with_key_id(&kid);
                    let public = js::ES384PublicKey::from_pem(&public_pem).unwrap();
                    (
                        Box::new(move |c| pair.sign(c).unwrap()),
                        Box::new(move |t, o| {
                            public.verify_token::<Access>(t, Some(o.clone())).unwrap()
                        }),
                    )
                }
                _ => {
                    let pair = js::Ed25519KeyPair::from_pem(&private_pem)
                        .unwrap()
                        .with_key_id(&kid);
                    let public = js::Ed25519PublicKey::from_pem(&public_pem).unwrap();
                    (
                        Box::new(move |c| pair.sign(c).unwrap()),
                        Box::new(move |t, o| {
                            public.verify_token::<Access>(t, Some(o.clone())).unwrap()
                        }),
                    )
                }
            };
            (enc, dec, sign, verify)
        };

    Case {
        name,
        waxseal_signer: waxseal::jwt::Signer::new(&waxseal_key),
        waxseal_verifier: waxseal::jwt::Verifier::new(verifying_key)
            .issuer(ISS)
            .audience(AUD),
        jwt_header,
        jwt_encoding,
        jwt_decoding,
        jwt_validation,
        simple_sign,
        simple_verify,
        primitive,
    }
}

/// Signs the precomputed signing input with the bare primitive; returns the signature length (to keep it alive).
fn primitive_sign(
    primitive: &Primitive,
    rng: &SystemRandom,
    input: &[u8],
    rsa_buf: &mut [u8],
) -> usize {
    match primitive {
        Primitive::Hmac(key) => hmac::sign(key, input).as_ref().len(),
        Primitive::Rsa { pair, padding, .. } => {
            pair.sign(*padding, rng, input, rsa_buf).unwrap();
            rsa_buf.len()
        }
        Primitive::Ecdsa { pair, .. } => pair.sign(rng, input).unwrap().as_ref().len(),
        Primitive::Ed25519 { pair, .. } => pair.sign(input).as_ref().len(),
    }
}

fn primitive_verify_unparsed(primitive: &Primitive, input: &[u8], sig: &[u8]) -> bool {
    match primitive {
        Primitive::Hmac(key) => hmac::verify(key, input, sig).is_ok(),
        Primitive::Rsa { unparsed, .. }
        | Primitive::Ecdsa { unparsed, .. }
        | Primitive::Ed25519 { unparsed, .. } => unparsed.verify(input, sig).is_ok(),
    }
}

fn primitive_verify_parsed(primitive: &Primitive, input: &[u8], sig: &[u8]) -> bool {
    match primitive {
        Primitive::Hmac(key) => hmac::verify(key, input, sig).is_ok(),
        Primitive::Rsa { parsed, .. }
        | Primitive::Ecdsa { parsed, .. }
        | Primitive::Ed25519 { parsed, .. } => parsed.verify_sig(input, sig).is_ok(),
    }
}

/// Splits a compact JWS into its signing input and decoded signature.
fn split(token: &str) -> (Vec<u8>, Vec<u8>) {
    let dot = token.rfind('.').unwrap();
    (
        token.as_bytes()[..dot].to_vec(),
        waxseal::b64::decode(&token[dot + 1..], "signature").unwrap(),
    )
}

fn bench(c: &mut Criterion) {
    let cases = [
        case("HS256", Algorithm::HS256),
        case("RS256", Algorithm::RS256),
        case("PS256", Algorithm::PS256),
        case("ES256", Algorithm::ES256),
        case("ES384", Algorithm::ES384),
        case("EdDSA", Algorithm::EdDSA),
    ];
    let claims = token_claims();
    let js_claims = simple_claims(&claims);
    let js_options = simple_options();
    let rng = SystemRandom::new();

    for case in &cases {
        // Each library verifies a token it produced itself; all of them must succeed before anything is timed.
        let waxseal_token = case.waxseal_signer.sign(&claims).unwrap();
        let jwt_token =
            jsonwebtoken::encode(&case.jwt_header, &claims, &case.jwt_encoding).unwrap();
        let simple_token = (case.simple_sign)(js_claims.clone());
        let (input, sig) = split(&waxseal_token);
        eprintln!(
            "{}: signing input {} bytes (waxseal), {} (jsonwebtoken), {} (jwt-simple)",
            case.name,
            input.len(),
            split(&jwt_token).0.len(),
            split(&simple_token).0.len()
        );

        let verified = case
            .waxseal_verifier
            .verify::<Access>(&waxseal_token)
            .unwrap();
        assert_eq!(verified.custom.scope, SCOPE);
        assert_eq!(verified.registered.sub.as_deref(), Some(SUB));
        let decoded = jsonwebtoken::decode::<TokenClaims>(
            &jwt_token,
            &case.jwt_decoding,
            &case.jwt_validation,
        )
        .unwrap();
        assert_eq!(decoded.claims.scope, SCOPE);
        assert_eq!(decoded.header.kid, case.jwt_header.kid);
        let simple = (case.simple_verify)(&simple_token, &js_options);
        assert_eq!(simple.custom.scope, SCOPE);
        assert!(primitive_verify_unparsed(&case.primitive, &input, &sig));
        assert!(primitive_verify_parsed(&case.primitive, &input, &sig));
        // Cross-check: the libraries agree on the key material.
        case.waxseal_verifier.verify::<Access>(&jwt_token).unwrap();
        case.waxseal_verifier
            .verify::<Access>(&simple_token)
            .unwrap();
        jsonwebtoken::decode::<TokenClaims>(
            &waxseal_token,
            &case.jwt_decoding,
            &case.jwt_validation,
        )
        .unwrap();
        (case.simple_verify)(&waxseal_token, &js_options);

        let mut group = c.benchmark_group(format!("{}-sign", case.name));
        group.bench_function("waxseal", |b| {
            b.iter(|| case.waxseal_signer.sign(black_box(&claims)).unwrap());
        });
        group.bench_function("jsonwebtoken", |b| {
            b.iter(|| {
                jsonwebtoken::encode(&case.jwt_header, black_box(&claims), &case.jwt_encoding)
                    .unwrap()
            });
        });
        group.bench_function("jwt-simple", |b| {
            b.iter_batched(
                || js_claims.clone(),
                |c| (case.simple_sign)(black_box(c)),
                BatchSize::SmallInput,
            );
        });
        let mut rsa_buf = vec![0u8; 256];
        group.bench_function("aws-lc-rs", |b| {
            b.iter(|| primitive_sign(&case.primitive, &rng, black_box(&input), &mut rsa_buf));
        });
        group.finish();

        let mut group = c.benchmark_group(format!("{}-verify", case.name));
        group.bench_function("waxseal", |b| {
            b.iter(|| {
                case.waxseal_verifier
                    .verify::<Access>(black_box(&waxseal_token))
                    .unwrap()
            });
        });
        group.bench_function("jsonwebtoken", |b| {
            b.iter(|| {
                jsonwebtoken::decode::<TokenClaims>(
                    black_box(&jwt_token),
                    &case.jwt_decoding,
                    &case.jwt_validation,
                )
                .unwrap()
            });
        });
        group.bench_function("jwt-simple", |b| {
            b.iter(|| (case.simple_verify)(black_box(&simple_token), &js_options));
        });
        if matches!(case.primitive, Primitive::Hmac(_)) {
            group.bench_function("aws-lc-rs", |b| {
                b.iter(|| {
                    primitive_verify_parsed(&case.primitive, black_box(&input), black_box(&sig))
                });
            });
        } else {
            group.bench_function("aws-lc-rs-unparsed", |b| {
                b.iter(|| {
                    primitive_verify_unparsed(&case.primitive, black_box(&input), black_box(&sig))
                });
            });
            group.bench_function("aws-lc-rs-parsed", |b| {
                b.iter(|| {
                    primitive_verify_parsed(&case.primitive, black_box(&input), black_box(&sig))
                });
            });
        }
        group.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench
}
criterion_main!(benches);
