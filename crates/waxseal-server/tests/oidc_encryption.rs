//! Encrypted tokens per client, over real HTTP and a real SQLite file: ID tokens encrypted to the client's public
//! key (nested JWTs the client opens with its private key), access tokens encrypted to the server's own key (which
//! the client cannot open, and /userinfo, /api/me, introspection and revocation still can), and the registrations
//! refused because the server would have to keep a secret or could not encrypt with the key.

#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::agent::{Agent, pkce};
use common::{PASSWORD, TestClock, TestServer, basic};
use serde_json::Value;
use waxseal::jwe::{Decrypter, DecryptionKey};
use waxseal::{Algorithm, Jwk, SigningKey};
use waxseal_server::{
    ClientPermissions, DEFAULT_ID_TOKEN_ENC, ErrorKind, GrantType, IdTokenEncryption, WebClient,
};

const REDIRECT: &str = "https://app.example/callback";

/// A fresh 2048-bit RSA key pair for `alg` (a JWE key-management algorithm), `use: enc`, kid `rp-enc-1`: the
/// client's private JWK.
fn rsa_encryption_key(alg: &str) -> Jwk {
    let mut jwk = SigningKey::generate(Algorithm::RS256)
        .unwrap()
        .to_jwk()
        .unwrap();
    jwk.alg = Some(alg.into());
    jwk.use_ = Some("enc".into());
    jwk.kid = Some("rp-enc-1".into());
    jwk.key_ops = None;
    jwk
}

/// The protected header of a compact token (JWS or JWE).
fn header(token: &str) -> Value {
    let first = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(first).unwrap()).unwrap()
}

/// A first-party relying party (no consent page) on a running server, signed in through one browser.
struct Rp {
    server: TestServer,
    client_id: String,
    secret: String,
    browser: Agent,
    _dir: tempfile::TempDir,
}

impl Rp {
    async fn start(permissions: ClientPermissions) -> Rp {
        let dir = tempfile::tempdir().unwrap();
        let server = TestServer::start_at_own_url(dir.path(), TestClock::new()).await;
        server.add_alice_with_profile().await;
        let mut rp = Rp {
            browser: Agent::new(&server.url),
            server,
            client_id: String::new(),
            secret: String::new(),
            _dir: dir,
        };
        (rp.client_id, rp.secret) = rp.register(permissions).await;
        rp
    }

    async fn register(&self, permissions: ClientPermissions) -> (String, String) {
        let permissions = ClientPermissions {
            web: WebClient {
                redirect_uris: vec![REDIRECT.into()],
                first_party: true,
                ..permissions.web
            },
            ..permissions
        };
        let client = self
            .server
            .add_web_client_with("Example App", &["read"], permissions)
            .await;
        (client.client_id, client.client_secret.to_string())
    }

    /// Signs alice in (once per browser) for `client_id` and exchanges the code: the token response.
    async fn tokens(&mut self, client_id: &str, secret: &str) -> Value {
        let (verifier, challenge) = pkce();
        let mut url = url::Url::parse(&self.server.at("/authorize")).unwrap();
        url.query_pairs_mut().extend_pairs([
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid profile offline_access read"),
            ("state", "st"),
            ("nonce", "n-0S6_WzA2Mj"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ]);
        let mut page = self.browser.get(url.as_str()).await;
        if page.status == 200 {
            let form = page.form("/signin");
            page = self
                .browser
                .submit(&form, &[("username", "alice"), ("password", PASSWORD)])
                .await;
        }
        assert_eq!(page.status, 303, "{}", page.body);
        let code = page.redirect_params()["code"].clone();
        let response = self
            .server
            .oauth(
                "/oauth/token",
                Some(&basic(client_id, secret)),
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", &verifier),
                ],
            )
            .await;
        assert_eq!(response.status, 200, "{}", response.body);
        response.body
    }

    async fn refresh(&self, refresh_token: &str) -> Value {
        let response = self
            .server
            .refresh_grant(&basic(&self.client_id, &self.secret), refresh_token, &[])
            .await;
        assert_eq!(response.status, 200, "{}", response.body);
        response.body
    }

    /// Verifies a signed ID token with the served JWK Set, issuer and audience: its claims.
    async fn verified_id_token(&self, jws: &str, audience: &str) -> Value {
        let jwks = self.server.get_text("/.well-known/jwks.json").await;
        let claims = waxseal::jwt::Verifier::new(waxseal::KeySet::from_jwks(&jwks).unwrap())
            .issuer(self.server.url.clone())
            .audience(audience.to_owned())
            .verify::<Value>(jws)
            .unwrap();
        let mut value = serde_json::to_value(&claims.registered).unwrap();
        if let (Value::Object(map), Value::Object(custom)) = (&mut value, claims.custom) {
            map.extend(custom);
        }
        value
    }

    async fn introspect(&self, token: &str) -> Value {
        let response = self
            .server
            .oauth(
                "/oauth/introspect",
                Some(&basic(&self.client_id, &self.secret)),
                &[("token", token)],
            )
            .await;
        assert_eq!(response.status, 200, "{}", response.body);
        response.body
    }
}

/// Opens an encrypted ID token with the client's private key: the signed token inside, after checking the
/// nested-JWT header.
fn open_id_token(token: &str, private: &Jwk, alg: &str) -> String {
    assert_eq!(token.split('.').count(), 5, "a compact JWE: {token}");
    let h = header(token);
    assert_eq!(h["alg"], alg, "{h}");
    assert_eq!(h["enc"], DEFAULT_ID_TOKEN_ENC.name(), "{h}");
    assert_eq!(h["cty"], "JWT", "a nested JWT (RFC 7519 §5.2): {h}");
    assert_eq!(h["kid"], "rp-enc-1", "the client key's kid: {h}");
    let key = DecryptionKey::from_jwk(private).unwrap();
    let opened = Decrypter::new(key).decrypt_compact(token).unwrap();
    let jws = String::from_utf8(opened.plaintext).unwrap();
    assert_eq!(jws.split('.').count(), 3, "a signed JWT inside");
    jws
}

#[tokio::test]
async fn a_client_with_an_encryption_key_gets_id_tokens_only_its_private_key_opens() {
    let private = rsa_encryption_key("RSA-OAEP-256");
    let public = private.to_public().unwrap();
    let mut rp = Rp::start(ClientPermissions {
        web: WebClient {
            id_token_encryption: Some(IdTokenEncryption {
                jwk: public.to_json(),
                enc: DEFAULT_ID_TOKEN_ENC,
            }),
            ..WebClient::default()
        },
        ..ClientPermissions::default()
    })
    .await;
    let (client_id, secret) = (rp.client_id.clone(), rp.secret.clone());
    let tokens = rp.tokens(&client_id, &secret).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let jws = open_id_token(id_token, &private, "RSA-OAEP-256");
    let claims = rp.verified_id_token(&jws, &client_id).await;
    assert_eq!(claims["iss"], rp.server.url.as_str());
    assert_eq!(claims["aud"], client_id.as_str());
    assert_eq!(claims["azp"], client_id.as_str());
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        access.split('.').count(),
        3,
        "access tokens stay signed only"
    );
    assert_eq!(
        claims["at_hash"],
        waxseal_server::at_hash(Algorithm::ES256, access).as_str()
    );
    for claim in ["sub", "auth_time", "sid", "iat", "exp"] {
        assert!(!claims[claim].is_null(), "{claim} missing from {claims}");
    }

    // The refresh grant's new ID token is encrypted too, for the same sign-in.
    let refreshed = rp.refresh(tokens["refresh_token"].as_str().unwrap()).await;
    let renewed_jws = open_id_token(
        refreshed["id_token"].as_str().unwrap(),
        &private,
        "RSA-OAEP-256",
    );
    let renewed = rp.verified_id_token(&renewed_jws, &client_id).await;
    for claim in ["iss", "sub", "aud", "auth_time", "sid"] {
        assert_eq!(renewed[claim], claims[claim], "{claim} kept");
    }

    // Another client, without a key, signing in through the same browser: a plain JWS.
    let (plain_id, plain_secret) = rp.register(ClientPermissions::default()).await;
    let plain = rp.tokens(&plain_id, &plain_secret).await;
    let plain_id_token = plain["id_token"].as_str().unwrap();
    assert_eq!(plain_id_token.split('.').count(), 3, "{plain_id_token}");
    let claims = rp.verified_id_token(plain_id_token, &plain_id).await;
    assert_eq!(claims["aud"], plain_id.as_str());
    rp.server.stop().await;
}

/// ECDH-ES key agreement works as RSA-OAEP does: a P-256 key registered for `ECDH-ES+A256KW` gets
/// ID tokens it opens with its private key, each with a fresh ephemeral `epk` on its curve.
#[tokio::test]
async fn an_ecdh_es_client_key_gets_id_tokens_it_opens() {
    let mut private = SigningKey::generate(Algorithm::ES256)
        .unwrap()
        .to_jwk()
        .unwrap();
    private.alg = Some("ECDH-ES+A256KW".into());
    private.use_ = Some("enc".into());
    private.kid = Some("rp-enc-1".into());
    private.key_ops = None;
    let mut rp = Rp::start(ClientPermissions {
        web: WebClient {
            id_token_encryption: Some(IdTokenEncryption {
                jwk: private.to_public().unwrap().to_json(),
                enc: DEFAULT_ID_TOKEN_ENC,
            }),
            ..WebClient::default()
        },
        ..ClientPermissions::default()
    })
    .await;
    let (client_id, secret) = (rp.client_id.clone(), rp.secret.clone());
    let tokens = rp.tokens(&client_id, &secret).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let h = header(id_token);
    assert_eq!(h["epk"]["crv"], "P-256", "{h}");
    assert!(h["epk"].get("d").is_none(), "{h}");
    let jws = open_id_token(id_token, &private, "ECDH-ES+A256KW");
    let claims = rp.verified_id_token(&jws, &client_id).await;
    assert_eq!(claims["aud"], client_id.as_str());
    rp.server.stop().await;
}

#[tokio::test]
async fn encrypted_access_tokens_are_opaque_to_the_client_and_accepted_by_the_server() {
    let mut rp = Rp::start(ClientPermissions {
        encrypt_access_tokens: true,
        require_dpop: false,
        ..ClientPermissions::default()
    })
    .await;
    let (client_id, secret) = (rp.client_id.clone(), rp.secret.clone());
    let tokens = rp.tokens(&client_id, &secret).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let segments: Vec<&str> = access.split('.').collect();
    assert_eq!(segments.len(), 5, "a compact JWE: {access}");
    let h = header(&access);
    assert_eq!(h["alg"], "dir", "{h}");
    assert_eq!(h["enc"], "A256GCM", "{h}");
    assert_eq!(h["kid"], waxseal_server::ACCESS_TOKEN_ENCRYPTION_KID, "{h}");
    assert_eq!(h["cty"], "JWT", "{h}");
    // The client cannot read it: no key travels with it, the ciphertext is not the claims, and it is no JWS.
    assert!(segments[1].is_empty(), "dir: no encrypted key");
    let ciphertext = URL_SAFE_NO_PAD.decode(segments[3]).unwrap();
    assert!(serde_json::from_slice::<Value>(&ciphertext).is_err());
    assert!(!String::from_utf8_lossy(&ciphertext).contains("alice"));
    let jwks = rp.server.get_text("/.well-known/jwks.json").await;
    let verified = waxseal::jwt::Verifier::new(waxseal::KeySet::from_jwks(&jwks).unwrap())
        .verify::<Value>(&access);
    assert!(verified.is_err(), "no JWS verifier reads it");

    // The ID token's at_hash is over the token the client holds; the ID token itself is signed only.
    let id_token = tokens["id_token"].as_str().unwrap();
    let claims = rp.verified_id_token(id_token, &client_id).await;
    assert_eq!(
        claims["at_hash"],
        waxseal_server::at_hash(Algorithm::ES256, &access).as_str()
    );

    // The server opens it: /userinfo, /api/me and introspection.
    let (status, _, info) = rp.server.get_with("/userinfo", &access).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["sub"], claims["sub"]);
    let (status, _, me) = rp.server.get_with("/api/me", &access).await;
    assert_eq!(status, 200, "{me}");
    let doc = rp.introspect(&access).await;
    assert_eq!(doc["active"], true, "{doc}");
    assert_eq!(doc["sub"], claims["sub"], "{doc}");
    assert_eq!(doc["client_id"], client_id.as_str(), "{doc}");
    assert!(doc["scope"].as_str().unwrap().contains("read"), "{doc}");

    // A tampered one (one ciphertext character changed) is refused as any invalid token is.
    let mut tampered: Vec<String> = segments.iter().map(|s| (*s).to_owned()).collect();
    let flipped = if tampered[3].starts_with('A') {
        "B"
    } else {
        "A"
    };
    tampered[3].replace_range(0..1, flipped);
    let tampered = tampered.join(".");
    for path in ["/userinfo", "/api/me"] {
        let (status, challenge, _) = rp.server.get_with(path, &tampered).await;
        common::assert_invalid_token(status, challenge.as_deref(), "decrypt");
        assert_eq!(status, 401, "{path}");
    }
    assert_eq!(rp.introspect(&tampered).await["active"], false);

    // The refresh grant's access token is encrypted too.
    let refreshed = rp.refresh(tokens["refresh_token"].as_str().unwrap()).await;
    let renewed = refreshed["access_token"].as_str().unwrap();
    assert_eq!(renewed.split('.').count(), 5);
    assert_eq!(rp.server.get_with("/userinfo", renewed).await.0, 200);

    // Revoking it (RFC 7009) works as for a signed one.
    let revoked = rp
        .server
        .oauth(
            "/oauth/revoke",
            Some(&basic(&client_id, &secret)),
            &[("token", renewed), ("token_type_hint", "access_token")],
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(rp.server.get_with("/userinfo", renewed).await.0, 401);
    assert_eq!(rp.introspect(renewed).await["active"], false);
    rp.server.stop().await;
}

#[tokio::test]
async fn registrations_that_would_keep_a_secret_or_cannot_encrypt_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    let private = rsa_encryption_key("RSA-OAEP-256");
    let public = private.to_public().unwrap();
    let with_key = |jwk: String| ClientPermissions {
        web: WebClient {
            redirect_uris: vec![REDIRECT.into()],
            id_token_encryption: Some(IdTokenEncryption {
                jwk,
                enc: DEFAULT_ID_TOKEN_ENC,
            }),
            ..WebClient::default()
        },
        ..ClientPermissions::default()
    };
    let edited = |edit: &dyn Fn(&mut Jwk)| {
        let mut jwk = public.clone();
        edit(&mut jwk);
        jwk.to_json()
    };
    let code = [GrantType::AuthorizationCode];
    for (jwk, grants, reason) in [
        (private.to_json(), &code[..], "pass the client's public key"),
        (
            r#"{"kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","alg":"A256KW"}"#
                .to_owned(),
            &code[..],
            "store the client's secret",
        ),
        (
            r#"{"kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAA","alg":"A128GCM"}"#.to_owned(),
            &code[..],
            "store the client's secret",
        ),
        (
            edited(&|j| j.alg = Some("RS256".into())),
            &code[..],
            "signature algorithm",
        ),
        (
            edited(&|j| j.use_ = Some("sig".into())),
            &code[..],
            "not for encryption",
        ),
        (edited(&|j| j.alg = None), &code[..], "no \"alg\""),
        (
            public.to_json(),
            &[GrantType::ClientCredentials][..],
            "only for a client that signs people in",
        ),
    ] {
        let mut permissions = with_key(jwk.clone());
        if !grants.contains(&GrantType::AuthorizationCode) {
            permissions.web.redirect_uris.clear();
        }
        let err = server
            .service
            .add_client_with_permissions("x", grants, &[], permissions)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{jwk}: {err}");
        assert!(err.message().contains(reason), "{jwk}: {err}");
        assert!(
            !err.message().contains("AAAAAAAAAAAAAAAA"),
            "the secret is never echoed: {err}"
        );
    }
    // The public key itself is accepted, and stored as the public JWK.
    server
        .service
        .add_client_with_permissions("rp", &code, &[], with_key(public.to_json()))
        .await
        .unwrap();
    let listed = server.service.list_clients().await.unwrap();
    let stored = listed[0].web.id_token_encryption.as_ref().unwrap();
    assert!(!Jwk::from_json(&stored.jwk).unwrap().is_private());
    server.stop().await;
}
