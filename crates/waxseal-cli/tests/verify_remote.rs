//! `waxseal verify --jwks URL|FILE` and `--issuer URL` through the binary, against small fake issuers on loopback
//! that count the requests they get.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::{assert_clean_error, path_str, run, waxseal};
use serde_json::{Value, json};
use waxseal::jwt::{Claims, Signer};
use waxseal::{Algorithm, SigningKey};

/// What a fake issuer serves; tests change it before running the binary.
struct Served {
    jwks: RwLock<String>,
    discovery: RwLock<Value>,
    /// 200 serves the JWKS; anything else is answered instead of it.
    jwks_status: AtomicU16,
    jwks_hits: AtomicU64,
    discovery_hits: AtomicU64,
}

/// An issuer at `http://127.0.0.1:PORT`, serving `/.well-known/openid-configuration` and `/jwks.json` from its own
/// thread and runtime, so that the tests stay plain synchronous code running the binary.
struct FakeIssuer {
    url: String,
    served: Arc<Served>,
}

impl FakeIssuer {
    fn start(keys: &[&SigningKey]) -> FakeIssuer {
        let served = Arc::new(Served {
            jwks: RwLock::new(jwks_of(keys)),
            discovery: RwLock::new(Value::Null),
            jwks_status: AtomicU16::new(200),
            jwks_hits: AtomicU64::new(0),
            discovery_hits: AtomicU64::new(0),
        });
        let app = axum::Router::new()
            .route("/jwks.json", get(serve_jwks))
            .route("/.well-known/openid-configuration", get(serve_discovery))
            .with_state(served.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
                    .await
                    .unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        let url = format!("http://{}", rx.recv().unwrap());
        *served.discovery.write().unwrap() =
            json!({"issuer": url, "jwks_uri": format!("{url}/jwks.json")});
        FakeIssuer { url, served }
    }

    fn jwks_url(&self) -> String {
        format!("{}/jwks.json", self.url)
    }

    fn jwks_hits(&self) -> u64 {
        self.served.jwks_hits.load(Ordering::SeqCst)
    }

    fn discovery_hits(&self) -> u64 {
        self.served.discovery_hits.load(Ordering::SeqCst)
    }

    fn publish_raw(&self, document: String) {
        *self.served.jwks.write().unwrap() = document;
    }

    fn announce(&self, discovery: Value) {
        *self.served.discovery.write().unwrap() = discovery;
    }
}

async fn serve_jwks(State(served): State<Arc<Served>>) -> Response {
    served.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let status = served.jwks_status.load(Ordering::SeqCst);
    if status != 200 {
        return StatusCode::from_u16(status).unwrap().into_response();
    }
    served.jwks.read().unwrap().clone().into_response()
}

async fn serve_discovery(State(served): State<Arc<Served>>) -> Response {
    served.discovery_hits.fetch_add(1, Ordering::SeqCst);
    axum::Json(served.discovery.read().unwrap().clone()).into_response()
}

fn public(key: &SigningKey) -> Value {
    serde_json::from_str(&key.public_jwk().unwrap().to_json()).unwrap()
}

fn jwks_of(keys: &[&SigningKey]) -> String {
    let keys: Vec<Value> = keys.iter().map(|k| public(k)).collect();
    json!({ "keys": keys }).to_string()
}

fn es256() -> SigningKey {
    SigningKey::generate(Algorithm::ES256).unwrap()
}

/// A token of `key` for audience `api`, valid for 5 minutes from the real clock (the binary runs unfixed).
fn token(key: &SigningKey, iss: Option<&str>) -> String {
    let mut claims = Claims::new(json!({"scope": "read"}))
        .subject("alice")
        .audience("api")
        .expires_in(Duration::from_secs(300));
    if let Some(iss) = iss {
        claims = claims.issuer(iss);
    }
    Signer::new(key).sign(&claims).unwrap()
}

/// `waxseal verify ARGS TOKEN`: (exit code, stdout, stderr).
fn verify(args: &[&str], token: &str) -> (i32, String, String) {
    run(waxseal().arg("verify").args(args).arg(token))
}

fn assert_valid(what: &str, (code, out, err): (i32, String, String)) -> Value {
    assert_eq!(code, 0, "{what}: stderr {err}");
    let claims: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(claims["sub"], "alice", "{what}: {out}");
    claims
}

fn assert_rejected(what: &str, (code, out, err): (i32, String, String), says: &[&str]) -> String {
    assert_eq!(code, 1, "{what}: expected exit 1; stderr {err}");
    assert!(out.is_empty(), "{what}: nothing on stdout: {out}");
    assert!(err.contains("token rejected"), "{what}: {err}");
    for s in says {
        assert!(err.contains(s), "{what}: stderr should say {s:?}: {err}");
    }
    err
}

fn assert_usage(what: &str, (code, out, err): (i32, String, String), says: &[&str]) -> String {
    assert_eq!(code, 2, "{what}: expected exit 2; stderr {err}");
    assert!(out.is_empty(), "{what}: nothing on stdout: {out}");
    for s in says {
        assert!(err.contains(s), "{what}: stderr should say {s:?}: {err}");
    }
    err
}

#[test]
fn verify_with_jwks_url_fetches_once() {
    let key = es256();
    let other = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let issuer = FakeIssuer::start(&[&other, &key]);
    let token = token(&key, Some(&issuer.url));
    let claims = assert_valid(
        "--jwks URL",
        verify(&["--jwks", &issuer.jwks_url(), "--aud", "api"], &token),
    );
    assert_eq!(claims["scope"], "read");
    assert_eq!(claims["iss"], issuer.url.as_str());
    assert_eq!(issuer.jwks_hits(), 1);
    assert_eq!(
        issuer.discovery_hits(),
        0,
        "--jwks does not look for metadata"
    );

    // The other rules apply as with --key: audience, iss, algorithm narrowing.
    assert_rejected(
        "wrong audience",
        verify(&["--jwks", &issuer.jwks_url(), "--aud", "billing"], &token),
        &["ERR_JWT_AUDIENCE"],
    );
    assert_rejected(
        "wrong --iss",
        verify(
            &[
                "--jwks",
                &issuer.jwks_url(),
                "--iss",
                "https://elsewhere.test",
            ],
            &token,
        ),
        &["ERR_JWT_ISSUER"],
    );
    assert_rejected(
        "--alg EdDSA for an ES256 token",
        verify(&["--jwks", &issuer.jwks_url(), "--alg", "EdDSA"], &token),
        &["ERR_ALG_NOT_ALLOWED"],
    );
    // Narrowed to an algorithm no key of the set serves: the command cannot judge, as with a key file.
    assert_usage(
        "--alg RS256 for a set of ES256 and EdDSA keys",
        verify(&["--jwks", &issuer.jwks_url(), "--alg", "RS256"], &token),
        &["no usable verification key", "RS256", "ES256, EdDSA"],
    );
}

#[test]
fn verify_with_jwks_file() {
    let key = es256();
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("jwks.json");
    std::fs::write(&set, jwks_of(&[&key])).unwrap();
    let token = token(&key, None);
    assert_valid("--jwks FILE", verify(&["--jwks", path_str(&set)], &token));

    // A single JWK is not a set: the error says which flag takes it.
    let single = dir.path().join("key.jwk");
    std::fs::write(&single, public(&key).to_string()).unwrap();
    let (code, out, err) = verify(&["--jwks", path_str(&single)], &token);
    assert_usage(
        "--jwks with a single JWK",
        (code, out, err.clone()),
        &["no \"keys\" array", "use --key"],
    );
    assert_clean_error("--jwks with a single JWK", code, &err);
    assert_valid(
        "the same JWK with --key",
        verify(&["--key", path_str(&single)], &token),
    );

    let missing = dir.path().join("missing.json");
    assert_usage(
        "missing file",
        verify(&["--jwks", path_str(&missing)], &token),
        &["cannot read JWK Set file"],
    );
}

#[test]
fn verify_with_issuer_discovers_and_requires_its_iss() {
    let key = es256();
    let issuer = FakeIssuer::start(&[&key]);
    let good = token(&key, Some(&issuer.url));
    assert_valid(
        "--issuer",
        verify(&["--issuer", &issuer.url, "--aud", "api"], &good),
    );
    assert_eq!(issuer.discovery_hits(), 1);
    assert_eq!(issuer.jwks_hits(), 1);
    // Repeating the issuer as --iss is no conflict.
    assert_valid(
        "--issuer with the same --iss",
        verify(&["--issuer", &issuer.url, "--iss", &issuer.url], &good),
    );

    // Signed by the issuer's key, but naming another issuer (or none): refused, with the issuer expected.
    let foreign = token(&key, Some("https://other-issuer.test"));
    assert_rejected(
        "token of another iss",
        verify(&["--issuer", &issuer.url], &foreign),
        &[
            "ERR_JWT_ISSUER",
            "other-issuer.test",
            &format!("--issuer requires iss \"{}\"", issuer.url),
        ],
    );
    assert_rejected(
        "token without iss",
        verify(&["--issuer", &issuer.url], &token(&key, None)),
        &["ERR_JWT_ISSUER", "no iss"],
    );
    // The same foreign token passes --jwks (which checks no iss unless asked): the refusal came from --issuer.
    assert_valid(
        "the foreign token via --jwks",
        verify(&["--jwks", &issuer.jwks_url()], &foreign),
    );
}

#[test]
fn discovery_document_naming_another_issuer_is_refused() {
    let key = es256();
    let issuer = FakeIssuer::start(&[&key]);
    issuer.announce(json!({
        "issuer": "https://impostor.test",
        "jwks_uri": issuer.jwks_url(),
    }));
    let token = token(&key, Some("https://impostor.test"));
    let (code, out, err) = verify(&["--issuer", &issuer.url], &token);
    assert_usage(
        "metadata naming another issuer",
        (code, out, err.clone()),
        &[
            "--issuer",
            "names the issuer \"https://impostor.test\"",
            "check the URL",
        ],
    );
    assert_clean_error("metadata naming another issuer", code, &err);
    assert_eq!(
        issuer.jwks_hits(),
        0,
        "the keys of a refused document are never fetched"
    );

    // A trailing slash is another identifier: refused too, with the same advice.
    let issuer = FakeIssuer::start(&[&key]);
    let slashed = format!("{}/", issuer.url);
    assert_usage(
        "issuer URL with a trailing slash",
        verify(&["--issuer", &slashed], &token_for_url(&key, &issuer.url)),
        &["trailing slash"],
    );

    // Metadata without jwks_uri.
    issuer.announce(json!({"issuer": issuer.url}));
    assert_usage(
        "metadata without jwks_uri",
        verify(
            &["--issuer", &issuer.url],
            &token_for_url(&key, &issuer.url),
        ),
        &["no jwks_uri"],
    );
}

fn token_for_url(key: &SigningKey, url: &str) -> String {
    token(key, Some(url))
}

#[test]
fn conflicting_iss_with_issuer_is_refused_before_any_request() {
    let key = es256();
    let issuer = FakeIssuer::start(&[&key]);
    let token = token(&key, Some(&issuer.url));
    for extra in [
        &["--iss", "https://other.test"][..],
        &["--iss", &issuer.url, "--iss", "https://other.test"],
    ] {
        let mut args = vec!["--issuer", issuer.url.as_str()];
        args.extend_from_slice(extra);
        let (code, out, err) = verify(&args, &token);
        assert_usage(
            &format!("{extra:?}"),
            (code, out, err.clone()),
            &[
                "--iss \"https://other.test\" contradicts --issuer",
                "drop --iss",
            ],
        );
        assert_clean_error("conflicting --iss", code, &err);
    }
    assert_eq!(issuer.discovery_hits() + issuer.jwks_hits(), 0);
}

#[test]
fn unknown_kid_lists_the_kids_of_the_set() {
    let a = es256().with_kid("key-a");
    let b = es256().with_kid("key-b");
    let unknown = es256().with_kid("key-rotated-in");
    let issuer = FakeIssuer::start(&[&b, &a]);
    let token = token(&unknown, Some(&issuer.url));
    for source in [
        &["--jwks", &issuer.jwks_url()][..],
        &["--issuer", &issuer.url],
    ] {
        assert_rejected(
            &format!("{source:?}"),
            verify(source, &token),
            &[
                "no key has kid \"key-rotated-in\"",
                "ERR_KEY_NOT_FOUND",
                "has kid \"key-a\", \"key-b\"",
                "the JWK Set at ",
            ],
        );
    }
    // One fetch per run: the unknown kid does not make the command ask again at once.
    assert_eq!(issuer.jwks_hits(), 2);

    // A fetched set is someone else's input: a long list of long kids is cut short.
    let many: Vec<SigningKey> = (0..12)
        .map(|i| es256().with_kid(format!("{i:02}-{}", "x".repeat(100))))
        .collect();
    let many: Vec<&SigningKey> = many.iter().collect();
    issuer.publish_raw(jwks_of(&many));
    let err = assert_rejected(
        "12 long kids",
        verify(&["--jwks", &issuer.jwks_url()], &token),
        &["\"00-xxx", "\"07-xxx", "…, and 4 more"],
    );
    assert!(!err.contains("08-x"), "{err}");
    assert!(!err.contains(&"x".repeat(46)), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("jwks.json");
    std::fs::write(&set, jwks_of(&[&a, &b])).unwrap();
    assert_rejected(
        "--jwks FILE",
        verify(&["--jwks", path_str(&set)], &token),
        &[&format!(
            "the JWK Set in {} has kid \"key-a\", \"key-b\"",
            path_str(&set)
        )],
    );
}

#[test]
fn plain_http_to_a_remote_host_is_refused_without_connecting() {
    // 192.0.2.1 is TEST-NET-1: nothing answers there, so a connection attempt would hang until the timeout.
    let key = es256();
    let token = token(&key, Some("http://192.0.2.1"));
    for (flag, url, says) in [
        ("--jwks", "http://192.0.2.1/jwks.json", "uses http"),
        ("--issuer", "http://192.0.2.1", "uses http"),
        (
            "--jwks",
            "http://example.com/.well-known/jwks.json",
            "uses http",
        ),
        ("--issuer", "http://10.0.0.1:8080", "uses http"),
        ("--jwks", "ftp://192.0.2.1/jwks.json", "uses ftp"),
        ("--jwks", "file:///etc/passwd", "uses file"),
        (
            "--jwks",
            "https://user:pw@192.0.2.1/jwks.json",
            "carries credentials",
        ),
        ("--issuer", "https://192.0.2.1/?tenant=a", "no query"),
    ] {
        let started = Instant::now();
        let (code, out, err) = verify(&[flag, url], &token);
        let took = started.elapsed();
        assert_usage(
            &format!("{flag} {url}"),
            (code, out, err.clone()),
            &[flag, says],
        );
        assert_clean_error(url, code, &err);
        assert!(
            !err.contains("pw"),
            "{url}: credentials are not repeated: {err}"
        );
        assert!(
            took < Duration::from_secs(3),
            "{flag} {url}: refused after {took:?}; was a connection attempted?"
        );
    }
}

#[test]
fn key_source_flags_are_mutually_exclusive() {
    let key = es256();
    let issuer = FakeIssuer::start(&[&key]);
    let token = token(&key, Some(&issuer.url));
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("jwks.json");
    std::fs::write(&set, jwks_of(&[&key])).unwrap();
    let set = path_str(&set);
    let jwks = issuer.jwks_url();
    for args in [
        &["--key", set, "--jwks", &jwks][..],
        &["--key", set, "--issuer", &issuer.url],
        &["--jwks", &jwks, "--issuer", &issuer.url],
        &["--secret-file", set, "--jwks", set],
        &["--secret-file", set, "--issuer", &issuer.url],
    ] {
        assert_usage(
            &format!("{args:?}"),
            verify(args, &token),
            &["cannot be used with"],
        );
    }
    assert_usage(
        "no key source",
        verify(&[], &token),
        &["--key <FILE>|--secret-file <FILE>|--jwks <URL|FILE>|--issuer <URL>"],
    );
    assert_eq!(issuer.discovery_hits() + issuer.jwks_hits(), 0);
}

#[test]
fn private_and_secret_keys_in_a_jwks_are_ignored_never_printed() {
    let signer = es256().with_kid("leaked");
    let other = es256().with_kid("public-one");
    let private: Value = serde_json::from_str(&signer.to_jwk().unwrap().to_json()).unwrap();
    let d = private["d"].as_str().unwrap().to_owned();
    // An HMAC secret injected into a published set: trusting it would let anyone reading the set mint tokens.
    let secret = b"an injected hmac secret of 32 b!";
    let hmac = SigningKey::from_secret(secret, Algorithm::HS256)
        .unwrap()
        .with_kid("injected");
    let oct: Value = serde_json::from_str(&hmac.to_jwk().unwrap().to_json()).unwrap();
    let k = oct["k"].as_str().unwrap().to_owned();
    let document = json!({"keys": [private, oct, public(&other)]}).to_string();

    let issuer = FakeIssuer::start(&[]);
    issuer.publish_raw(document.clone());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jwks.json");
    std::fs::write(&file, &document).unwrap();

    for source in [&issuer.jwks_url(), path_str(&file)] {
        // The private key's kid is unknown; HS256 is no algorithm of the set at all (its only key is ES256).
        for (what, token, says) in [
            (
                "signed by the private key",
                token(&signer, None),
                "no key has kid \"leaked\" [ERR_KEY_NOT_FOUND] (the JWK Set",
            ),
            (
                "signed by the injected secret",
                token(&hmac, None),
                "token alg HS256 is not allowed; this verifier accepts ES256",
            ),
        ] {
            let err = assert_rejected(
                &format!("{source}: {what}"),
                verify(&["--jwks", source], &token),
                &[says],
            );
            assert!(
                err.contains("key #0 of the JWK Set")
                    && err.contains("ignored: a published key set must not contain private keys"),
                "{source}: {err}"
            );
            assert!(
                err.contains("key #1 of the JWK Set")
                    && err.contains("must not contain secret (oct) keys"),
                "{source}: {err}"
            );
            assert!(
                !err.contains(&d) && !err.contains(&k),
                "{source}: key material printed: {err}"
            );
        }
        // The public key of the set still verifies.
        let (code, out, err) = verify(&["--jwks", source], &token(&other, None));
        assert_valid(source, (code, out.clone(), err.clone()));
        assert!(!out.contains(&d) && !err.contains(&d) && !err.contains(&k));
    }

    // A set of nothing but private keys has no usable key: the command cannot judge.
    let only_private = json!({"keys": [serde_json::from_str::<Value>(&signer.to_jwk().unwrap().to_json()).unwrap()]})
        .to_string();
    issuer.publish_raw(only_private.clone());
    std::fs::write(&file, &only_private).unwrap();
    for source in [&issuer.jwks_url(), path_str(&file)] {
        let (code, out, err) = verify(&["--jwks", source], &token(&signer, None));
        assert_usage(
            source,
            (code, out, err.clone()),
            &["no usable signature key", "must not contain private keys"],
        );
        assert_clean_error(source, code, &err);
        assert!(!err.contains(&d), "{source}: {err}");
    }
}

#[test]
fn unusable_remote_documents_are_usage_errors() {
    let key = es256();
    let issuer = FakeIssuer::start(&[&key]);
    let token = token(&key, None);

    issuer.served.jwks_status.store(404, Ordering::SeqCst);
    assert_usage(
        "404",
        verify(&["--jwks", &issuer.jwks_url()], &token),
        &["cannot get the JWK Set at", "answered 404"],
    );
    issuer.served.jwks_status.store(200, Ordering::SeqCst);

    // Larger than the 512 KiB bound: refused, not parsed.
    issuer.publish_raw(format!(
        "{{\"keys\":[],\"pad\":\"{}\"}}",
        "x".repeat(600 * 1024)
    ));
    assert_usage(
        "oversized",
        verify(&["--jwks", &issuer.jwks_url()], &token),
        &["larger than the limit"],
    );

    // More keys than the bound of 100.
    let one = public(&key);
    let many: Vec<Value> = (0..101).map(|_| one.clone()).collect();
    issuer.publish_raw(json!({ "keys": many }).to_string());
    assert_usage(
        "101 keys",
        verify(&["--jwks", &issuer.jwks_url()], &token),
        &["101 keys", "limit is 100"],
    );

    issuer.publish_raw("not json".to_owned());
    assert_usage(
        "not JSON",
        verify(&["--jwks", &issuer.jwks_url()], &token),
        &["is not usable"],
    );

    // Nothing listening.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let (code, out, err) = verify(&["--jwks", &format!("http://{closed}/jwks.json")], &token);
    assert_usage(
        "closed port",
        (code, out, err.clone()),
        &["could not connect"],
    );
    assert_clean_error("closed port", code, &err);
}
