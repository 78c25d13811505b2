//! OpenID Connect sign-in over real HTTP: the authorization code flow with PKCE as a browser walks it (sign-in
//! page, consent, redirect), the code exchange, the ID token, userinfo, the SSO session, logout — and the refusals
//! of the OpenID conformance suite's Basic OP plan (redirect URIs, code reuse, PKCE, nonce and state, max_age).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::agent::{Agent, Page, pkce};
use common::{PASSWORD, TestClock, TestServer, basic};
use serde_json::Value;
use waxseal_server::{ClientPermissions, GrantType, WebClient};

const REDIRECT: &str = "https://app.example/callback";

/// A relying party registered on a running server.
struct Rp {
    server: TestServer,
    clock: std::sync::Arc<TestClock>,
    client_id: String,
    secret: String,
    _dir: tempfile::TempDir,
}

impl Rp {
    async fn start(web: WebClient) -> Rp {
        let dir = tempfile::tempdir().unwrap();
        let clock = TestClock::new();
        let server = TestServer::start_at_own_url(dir.path(), clock.clone()).await;
        server.add_alice_with_profile().await;
        let client = server
            .add_web_client(
                "Example App",
                &["read", "write"],
                WebClient {
                    redirect_uris: vec![REDIRECT.into()],
                    post_logout_redirect_uris: vec!["https://app.example/bye".into()],
                    ..web
                },
            )
            .await;
        Rp {
            client_id: client.client_id.clone(),
            secret: client.client_secret.to_string(),
            server,
            clock,
            _dir: dir,
        }
    }

    fn agent(&self) -> Agent {
        Agent::new(&self.server.url)
    }

    /// The authorization URL with these parameters on top of a complete, valid request.
    fn authorize_url(&self, challenge: &str, extra: &[(&str, &str)]) -> String {
        let mut params: BTreeMap<&str, &str> = [
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid profile email offline_access read"),
            ("state", "st-123 & ü"),
            ("nonce", "n-0S6_WzA2Mj"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ]
        .into_iter()
        .collect();
        for (k, v) in extra {
            if v.is_empty() {
                params.remove(k);
            } else {
                params.insert(k, v);
            }
        }
        let mut url = url::Url::parse(&self.server.at("/authorize")).unwrap();
        url.query_pairs_mut().extend_pairs(params);
        url.into()
    }

    /// Signs in on the page at `page` (the sign-in page) and returns what follows.
    async fn sign_in(&self, agent: &mut Agent, page: &Page, password: &str) -> Page {
        assert!(matches!(page.status, 200 | 401), "{}", page.body);
        let form = page.form("/signin");
        agent
            .submit(&form, &[("username", "alice"), ("password", password)])
            .await
    }

    /// Allows on the consent page `page`.
    async fn allow(&self, agent: &mut Agent, page: &Page) -> Page {
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("Allow Example App?"), "{}", page.body);
        let form = page.form("/consent");
        agent.submit(&form, &[("decision", "allow")]).await
    }

    /// The whole browser part: returns the redirect's parameters (code, state, iss).
    async fn code(
        &self,
        agent: &mut Agent,
        challenge: &str,
        extra: &[(&str, &str)],
    ) -> BTreeMap<String, String> {
        let page = agent.get(&self.authorize_url(challenge, extra)).await;
        let page = if page.status == 200 && page.body.contains("action=\"/signin\"") {
            self.sign_in(agent, &page, PASSWORD).await
        } else {
            page
        };
        let page = if page.status == 200 && page.body.contains("action=\"/consent\"") {
            self.allow(agent, &page).await
        } else {
            page
        };
        assert_eq!(page.status, 303, "{}", page.body);
        assert!(
            page.location().unwrap().starts_with(REDIRECT),
            "{:?}",
            page.location()
        );
        page.redirect_params()
    }

    async fn exchange(&self, code: &str, verifier: &str) -> (u16, Value) {
        self.exchange_with(code, Some(verifier)).await
    }

    /// The code exchange without a `code_verifier` parameter at all.
    async fn exchange_without_pkce(&self, code: &str) -> (u16, Value) {
        self.exchange_with(code, None).await
    }

    async fn exchange_with(&self, code: &str, verifier: Option<&str>) -> (u16, Value) {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
        ];
        form.extend(verifier.map(|v| ("code_verifier", v)));
        let response = self
            .server
            .oauth(
                "/oauth/token",
                Some(&basic(&self.client_id, &self.secret)),
                &form,
            )
            .await;
        (response.status, response.body)
    }

    /// The code exchange, which must be refused `invalid_grant`: the error body.
    async fn exchange_refused(&self, code: &str, verifier: &str) -> Value {
        let (status, body) = self.exchange(code, verifier).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{body}"
        );
        body
    }

    async fn id_token_claims(&self, id_token: &str) -> Value {
        let jwks = self.server.get_text("/.well-known/jwks.json").await;
        let keys = waxseal::KeySet::from_jwks(&jwks).unwrap();
        waxseal::jwt::Verifier::new(keys)
            .issuer(self.server.url.clone())
            .audience(self.client_id.clone())
            .verify::<Value>(id_token)
            .unwrap()
            .into_value()
    }
}

trait IntoValue {
    fn into_value(self) -> Value;
}

impl IntoValue for waxseal::jwt::Claims<Value> {
    fn into_value(self) -> Value {
        let mut value = serde_json::to_value(&self.registered).unwrap();
        if let (Value::Object(map), Value::Object(custom)) = (&mut value, self.custom) {
            map.extend(custom);
        }
        value
    }
}

#[tokio::test]
async fn the_code_flow_signs_in_asks_consent_once_and_issues_tokens_an_id_token_and_userinfo() {
    let rp = Rp::start(WebClient::default()).await;
    let mut browser = rp.agent();
    let (verifier, challenge) = pkce();

    let first = browser.get(&rp.authorize_url(&challenge, &[])).await;
    assert_eq!(first.status, 200);
    for header in [
        "content-security-policy",
        "x-content-type-options",
        "referrer-policy",
        "cache-control",
        "x-frame-options",
    ] {
        assert!(first.header(header).is_some(), "{header} missing");
    }
    let csp = first.header("content-security-policy").unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(
        csp.contains("form-action 'self' https://app.example"),
        "{csp}"
    );
    assert!(
        first
            .body
            .contains("to continue to <strong>Example App</strong>"),
        "{}",
        first.body
    );

    let wrong = rp.sign_in(&mut browser, &first, "not the password").await;
    assert_eq!(wrong.status, 401);
    assert!(
        wrong.body.contains("The username or password is wrong."),
        "{}",
        wrong.body
    );
    let consent = rp.sign_in(&mut browser, &wrong, PASSWORD).await;
    let back = rp.allow(&mut browser, &consent).await;
    assert_eq!(back.status, 303);
    let params = back.redirect_params();
    assert_eq!(params["state"], "st-123 & ü", "state echoed exactly");
    assert_eq!(params["iss"], rp.server.url, "RFC 9207 iss");

    let (status, tokens) = rp.exchange(&params["code"], &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(
        tokens["refresh_token"].is_string(),
        "offline_access gives a refresh token: {tokens}"
    );
    assert_eq!(tokens["scope"], "openid profile email offline_access read");
    let claims = rp
        .id_token_claims(tokens["id_token"].as_str().unwrap())
        .await;
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj", "nonce echoed exactly");
    assert_eq!(claims["azp"], rp.client_id.as_str());
    let access = tokens["access_token"].as_str().unwrap();
    let alg = waxseal::Algorithm::ES256;
    assert_eq!(
        claims["at_hash"],
        waxseal_server::at_hash(alg, access).as_str()
    );
    for claim in ["sub", "auth_time", "sid", "iat", "exp"] {
        assert!(!claims[claim].is_null(), "{claim} missing from {claims}");
    }

    // The ID token is not an access token.
    let (status, _, _) = rp
        .server
        .get_with("/api/me", tokens["id_token"].as_str().unwrap())
        .await;
    assert_eq!(
        status, 401,
        "an ID token is refused where an access token is expected"
    );

    let (status, _, info) = rp.server.get_with("/userinfo", access).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["sub"], claims["sub"]);
    assert_eq!(info["preferred_username"], "alice");
    assert_eq!(info["name"], "Alice Liddell");
    assert_eq!(info["email"], "alice@example.com");
    assert_eq!(info["email_verified"], true);

    // A second flow in the same browser: the SSO session skips the sign-in page, the consent is remembered.
    let (verifier2, challenge2) = pkce();
    let again = browser.get(&rp.authorize_url(&challenge2, &[])).await;
    assert_eq!(
        again.status, 303,
        "no page at all the second time: {}",
        again.body
    );
    let code2 = again.redirect_params()["code"].clone();
    let (status, tokens2) = rp.exchange(&code2, &verifier2).await;
    assert_eq!(status, 200, "{tokens2}");
    let claims2 = rp
        .id_token_claims(tokens2["id_token"].as_str().unwrap())
        .await;
    assert_eq!(claims2["auth_time"], claims["auth_time"], "no new sign-in");
    assert_eq!(claims2["sid"], claims["sid"], "the same SSO session");

    // The refresh token rotates as the other grants' do.
    let refreshed = rp
        .server
        .refresh_grant(
            &basic(&rp.client_id, &rp.secret),
            tokens["refresh_token"].as_str().unwrap(),
            &[],
        )
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    // With a new ID token for the same sign-in (OpenID Connect Core §12.2), and no nonce.
    let renewed = rp
        .id_token_claims(refreshed.body["id_token"].as_str().unwrap())
        .await;
    for claim in ["iss", "sub", "aud", "azp", "auth_time", "sid"] {
        assert_eq!(renewed[claim], claims[claim], "{claim} kept");
    }
    assert!(renewed["nonce"].is_null());
    let access = refreshed.body["access_token"].as_str().unwrap();
    assert_eq!(
        renewed["at_hash"],
        waxseal_server::at_hash(alg, access).as_str()
    );
    rp.server.stop().await;
}

#[tokio::test]
async fn an_id_token_hint_names_the_user_the_client_expects() {
    let rp = Rp::start(WebClient {
        first_party: true,
        ..WebClient::default()
    })
    .await;
    rp.server.add_user("bob", &[]).await;
    let mut browser = rp.agent();
    let (verifier, challenge) = pkce();
    let code = rp.code(&mut browser, &challenge, &[]).await["code"].clone();
    let (_, tokens) = rp.exchange(&code, &verifier).await;
    let alice = tokens["id_token"].as_str().unwrap().to_owned();
    // Alice's hint with Alice's session: silent sign-in works.
    let silent = browser
        .get(&rp.authorize_url(&challenge, &[("prompt", "none"), ("id_token_hint", &alice)]))
        .await;
    assert!(
        silent.redirect_params().contains_key("code"),
        "{:?}",
        silent.location()
    );
    // Bob's hint with Alice's session: not the expected user.
    let mut bobs = rp.agent();
    let page = bobs.get(&rp.authorize_url(&challenge, &[])).await;
    let back = bobs
        .submit(
            &page.form("/signin"),
            &[("username", "bob"), ("password", PASSWORD)],
        )
        .await;
    let code = back.redirect_params()["code"].clone();
    let (_, tokens) = rp.exchange(&code, &verifier).await;
    let bob = tokens["id_token"].as_str().unwrap().to_owned();
    let alice_sub = rp.id_token_claims(&alice).await["sub"].clone();
    let bob_sub = rp.id_token_claims(&bob).await["sub"].clone();
    assert_ne!(alice_sub, bob_sub);
    let other = browser
        .get(&rp.authorize_url(&challenge, &[("prompt", "none"), ("id_token_hint", &bob)]))
        .await;
    assert_eq!(
        other.redirect_params().get("error").map(String::as_str),
        Some("login_required"),
        "{:?}",
        other.location()
    );
    // Not an ID token of this server, or an access token: refused.
    let access = tokens["access_token"].as_str().unwrap();
    for hint in ["eyJhbGciOiJub25lIn0.e30.", access] {
        let refused = browser
            .get(&rp.authorize_url(&challenge, &[("id_token_hint", hint)]))
            .await;
        assert_eq!(
            refused.redirect_params()["error"],
            "invalid_request",
            "{hint}"
        );
    }
    rp.server.stop().await;
}

#[tokio::test]
async fn a_code_presented_twice_is_refused_and_revokes_what_the_first_exchange_issued() {
    let rp = Rp::start(WebClient::default()).await;
    let mut browser = rp.agent();
    let (verifier, challenge) = pkce();
    let code = rp.code(&mut browser, &challenge, &[]).await["code"].clone();
    let (status, tokens) = rp.exchange(&code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(rp.server.get_with("/api/me", access).await.0, 200);

    rp.exchange_refused(&code, &verifier).await;
    assert_eq!(
        rp.server.get_with("/api/me", access).await.0,
        401,
        "the first access token is revoked"
    );
    let refreshed = rp
        .server
        .refresh_grant(
            &basic(&rp.client_id, &rp.secret),
            tokens["refresh_token"].as_str().unwrap(),
            &[],
        )
        .await;
    refreshed.assert_error(400, "invalid_grant");
    rp.server.stop().await;
}

#[tokio::test]
async fn pkce_is_required_and_checked() {
    let rp = Rp::start(WebClient::default()).await;
    let mut browser = rp.agent();
    // No challenge, or plain: refused back at the client.
    for extra in [
        vec![("code_challenge", ""), ("code_challenge_method", "")],
        vec![("code_challenge_method", "plain")],
        vec![("code_challenge", "short")],
    ] {
        let page = browser
            .get(&rp.authorize_url("x".repeat(43).as_str(), &extra))
            .await;
        assert_eq!(page.status, 303, "{extra:?}: {}", page.body);
        let params = page.redirect_params();
        assert_eq!(params["error"], "invalid_request", "{extra:?}");
        assert_eq!(params["state"], "st-123 & ü");
    }
    // A wrong verifier, and none at all.
    let (verifier, challenge) = pkce();
    for presented in [pkce().0, String::new()] {
        let code = rp.code(&mut browser, &challenge, &[]).await["code"].clone();
        rp.exchange_refused(&code, &presented).await;
    }
    let code = rp.code(&mut browser, &challenge, &[]).await["code"].clone();
    assert_eq!(rp.exchange(&code, &verifier).await.0, 200);
    rp.server.stop().await;
}

#[tokio::test]
async fn unregistered_and_near_miss_redirect_uris_get_an_error_page_never_a_redirect() {
    let rp = Rp::start(WebClient::default()).await;
    let mut browser = rp.agent();
    let (_, challenge) = pkce();
    for bad in [
        "https://app.example/callback/",
        "https://app.example/callback/extra",
        "https://app.example/callback?x=1",
        "http://app.example/callback",
        "https://app.example.evil/callback",
        "https://APP.example/callback",
        "https://evil.example/",
    ] {
        let page = browser
            .get(&rp.authorize_url(&challenge, &[("redirect_uri", bad)]))
            .await;
        assert_eq!(page.status, 400, "{bad}");
        assert!(page.location().is_none(), "{bad} redirected");
        assert!(
            page.body.contains("not one the application registered"),
            "{}",
            page.body
        );
    }
    for extra in [
        vec![("client_id", "nobody")],
        vec![("redirect_uri", "")],
        vec![("client_id", "")],
    ] {
        let page = browser.get(&rp.authorize_url(&challenge, &extra)).await;
        assert_eq!((page.status, page.location()), (400, None), "{extra:?}");
    }
    rp.server.stop().await;
}

#[tokio::test]
async fn request_objects_other_response_types_and_unknown_scopes_are_refused_to_the_client() {
    let rp = Rp::start(WebClient::default()).await;
    let mut browser = rp.agent();
    let (_, challenge) = pkce();
    for (extra, error) in [
        (vec![("request", "eyJ.x.y")], "request_not_supported"),
        (
            vec![("request_uri", "https://x.example/r")],
            "request_uri_not_supported",
        ),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (
            vec![("response_type", "code id_token")],
            "unsupported_response_type",
        ),
        (vec![("scope", "openid admin")], "invalid_scope"),
        (vec![("prompt", "none login")], "invalid_request"),
        (vec![("max_age", "soon")], "invalid_request"),
        (vec![("prompt", "none")], "login_required"),
    ] {
        let page = browser.get(&rp.authorize_url(&challenge, &extra)).await;
        assert_eq!(page.status, 303, "{extra:?}: {}", page.body);
        let params = page.redirect_params();
        assert_eq!(params["error"], error, "{extra:?}");
        assert_eq!(params["iss"], rp.server.url);
    }
    // Unknown parameters are ignored.
    let page = browser
        .get(&rp.authorize_url(&challenge, &[("ui_locales", "fr"), ("acr_values", "x")]))
        .await;
    assert_eq!(page.status, 200);
    rp.server.stop().await;
}

#[tokio::test]
async fn a_code_is_bound_to_its_client_its_redirect_uri_and_its_lifetime() {
    let rp = Rp::start(WebClient::default()).await;
    let mut browser = rp.agent();
    let other = rp
        .server
        .service
        .add_client_with_permissions(
            "Other App",
            &[GrantType::AuthorizationCode],
            &[],
            ClientPermissions {
                web: WebClient {
                    redirect_uris: vec![REDIRECT.into()],
                    ..WebClient::default()
                },
                ..ClientPermissions::default()
            },
        )
        .await
        .unwrap();
    let (verifier, challenge) = pkce();

    let code = rp.code(&mut browser, &challenge, &[]).await["code"].clone();
    let stolen = rp
        .server
        .oauth(
            "/oauth/token",
            Some(&basic(&other.client_id, &other.client_secret)),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    stolen.assert_error(400, "invalid_grant");

    let code = rp.code(&mut browser, &challenge, &[]).await["code"].clone();
    let moved = rp
        .server
        .oauth(
            "/oauth/token",
            Some(&basic(&rp.client_id, &rp.secret)),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://app.example/other"),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    moved.assert_error(400, "invalid_grant");

    rp.server.stop().await;
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = TestServer::start_at_own_url(dir.path(), clock.clone()).await;
    server.add_user("alice", &[]).await;
    let client = server
        .service
        .add_client_with_permissions(
            "App",
            &[GrantType::AuthorizationCode],
            &[],
            ClientPermissions {
                web: WebClient {
                    redirect_uris: vec![REDIRECT.into()],
                    first_party: true,
                    ..WebClient::default()
                },
                ..ClientPermissions::default()
            },
        )
        .await
        .unwrap();
    let (verifier, challenge) = pkce();
    let mut browser = Agent::new(&server.url);
    let mut url = url::Url::parse(&server.at("/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs([
        ("client_id", client.client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]);
    let page = browser.get(url.as_str()).await;
    let form = page.form("/signin");
    let back = browser
        .submit(&form, &[("username", "alice"), ("password", PASSWORD)])
        .await;
    assert_eq!(
        back.status, 303,
        "a first-party client asks no consent: {}",
        back.body
    );
    let code = back.redirect_params()["code"].clone();
    clock.advance(std::time::Duration::from_secs(
        waxseal_server::CODE_TTL_SECS + 1,
    ));
    let late = server
        .oauth(
            "/oauth/token",
            Some(&basic(&client.client_id, &client.client_secret)),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    late.assert_error(400, "invalid_grant");
    server.stop().await;
}

#[tokio::test]
async fn max_age_zero_and_prompt_login_force_a_new_sign_in_and_auth_time_moves() {
    let rp = Rp::start(WebClient {
        first_party: true,
        ..WebClient::default()
    })
    .await;
    let mut browser = rp.agent();
    let (verifier, challenge) = pkce();
    let first = rp.code(&mut browser, &challenge, &[]).await;
    let (_, tokens) = rp.exchange(&first["code"], &verifier).await;
    let before = rp
        .id_token_claims(tokens["id_token"].as_str().unwrap())
        .await["auth_time"]
        .as_u64()
        .unwrap();
    for extra in [[("max_age", "0")], [("prompt", "login")]] {
        let page = browser.get(&rp.authorize_url(&challenge, &extra)).await;
        assert_eq!(
            page.status, 200,
            "{extra:?}: the sign-in page again, though signed in"
        );
        assert!(page.body.contains("action=\"/signin\""));
        // prompt=none cannot be satisfied then.
        let none = browser
            .get(&rp.authorize_url(&challenge, &[extra[0], ("prompt", "none")]))
            .await;
        if extra[0].0 == "max_age" {
            assert_eq!(none.redirect_params()["error"], "login_required");
        }
    }
    rp.clock.advance(std::time::Duration::from_secs(5));
    let again = rp.code(&mut browser, &challenge, &[("max_age", "0")]).await;
    let (_, tokens) = rp.exchange(&again["code"], &verifier).await;
    let after = rp
        .id_token_claims(tokens["id_token"].as_str().unwrap())
        .await["auth_time"]
        .as_u64()
        .unwrap();
    assert!(after > before, "auth_time moved: {before} → {after}");
    rp.server.stop().await;
}

#[tokio::test]
async fn forms_refuse_a_missing_or_foreign_csrf_token_and_origin() {
    let rp = Rp::start(WebClient::default()).await;
    let mut browser = rp.agent();
    let (_, challenge) = pkce();
    let page = browser.get(&rp.authorize_url(&challenge, &[])).await;
    let form = page.form("/signin");
    // Another browser (no cookie) replaying the form: the token is bound to the first browser's cookie.
    let mut attacker = rp.agent();
    let forged = attacker
        .submit(&form, &[("username", "alice"), ("password", PASSWORD)])
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let mut fields = form.with(&[("username", "alice"), ("password", PASSWORD)]);
    fields.retain(|(n, _)| n != "csrf_token");
    assert_eq!(browser.post("/signin", &fields).await.status, 403);
    // A foreign Origin.
    let response = rp
        .server
        .client
        .post(rp.server.at("/signin"))
        .header("origin", "https://evil.example")
        .header(
            "cookie",
            browser
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; "),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body(common::form(
            &form
                .with(&[("username", "alice"), ("password", PASSWORD)])
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect::<Vec<_>>(),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    // The consent form's token is bound to the SSO session.
    let consent = rp.sign_in(&mut browser, &page, PASSWORD).await;
    let consent_form = consent.form("/consent");
    let mut tampered = consent_form.with(&[
        ("decision", "allow"),
        ("csrf_token", "A".repeat(43).as_str()),
    ]);
    assert_eq!(browser.post("/consent", &tampered).await.status, 403);
    tampered.retain(|(n, _)| n != "csrf_token");
    assert_eq!(browser.post("/consent", &tampered).await.status, 403);
    rp.server.stop().await;
}

#[tokio::test]
async fn denying_consent_returns_access_denied() {
    let rp = Rp::start(WebClient::default()).await;
    let mut browser = rp.agent();
    let (_, challenge) = pkce();
    let page = browser.get(&rp.authorize_url(&challenge, &[])).await;
    let consent = rp.sign_in(&mut browser, &page, PASSWORD).await;
    let denied = browser
        .submit(&consent.form("/consent"), &[("decision", "deny")])
        .await;
    assert_eq!(denied.status, 303);
    let params = denied.redirect_params();
    assert_eq!(
        (params["error"].as_str(), params["state"].as_str()),
        ("access_denied", "st-123 & ü")
    );
    rp.server.stop().await;
}

#[tokio::test]
async fn a_public_client_exchanges_with_pkce_and_its_client_id_alone() {
    let rp = Rp::start(WebClient {
        public: true,
        first_party: true,
        ..WebClient::default()
    })
    .await;
    let mut browser = rp.agent();
    let (verifier, challenge) = pkce();
    let code = rp.code(&mut browser, &challenge, &[]).await["code"].clone();
    let exchanged = rp
        .server
        .oauth(
            "/oauth/token",
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &rp.client_id),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!(exchanged.status, 200, "{}", exchanged.body);
    // Its stored (never shown) secret does not authenticate it, and another client may not skip the secret.
    let confidential = rp
        .server
        .service
        .add_client("svc", &[GrantType::ClientCredentials], &[])
        .await
        .unwrap();
    let no_secret = rp
        .server
        .oauth(
            "/oauth/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &confidential.client_id),
            ],
        )
        .await;
    no_secret.assert_error(401, "invalid_client");
    rp.server.stop().await;
}

#[tokio::test]
async fn logout_ends_the_sso_session_and_follows_only_a_registered_post_logout_uri() {
    let rp = Rp::start(WebClient {
        first_party: true,
        ..WebClient::default()
    })
    .await;
    let mut browser = rp.agent();
    let (verifier, challenge) = pkce();
    let code = rp.code(&mut browser, &challenge, &[]).await["code"].clone();
    let (_, tokens) = rp.exchange(&code, &verifier).await;
    let id_token = tokens["id_token"].as_str().unwrap();

    let mut url = url::Url::parse(&rp.server.at("/session/end")).unwrap();
    url.query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair("post_logout_redirect_uri", "https://evil.example/")
        .append_pair("state", "bye-1");
    assert_eq!(
        browser.get(url.as_str()).await.status,
        400,
        "an unregistered post-logout URI"
    );

    let mut url = url::Url::parse(&rp.server.at("/session/end")).unwrap();
    url.query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair("post_logout_redirect_uri", "https://app.example/bye")
        .append_pair("state", "bye-1");
    let confirm = browser.get(url.as_str()).await;
    assert_eq!(
        confirm.status, 200,
        "the GET alone ends nothing: {}",
        confirm.body
    );
    let done = browser.submit(&confirm.form("/session/end"), &[]).await;
    assert_eq!(done.status, 303);
    assert_eq!(done.location(), Some("https://app.example/bye?state=bye-1"));

    // The session is over: the app's tokens are refused, and the next authorization asks for the password.
    assert_eq!(
        rp.server
            .get_with("/api/me", tokens["access_token"].as_str().unwrap())
            .await
            .0,
        401
    );
    let page = browser.get(&rp.authorize_url(&challenge, &[])).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("action=\"/signin\""));
    rp.server.stop().await;
}

#[tokio::test]
async fn the_account_page_lists_and_ends_sessions_and_changes_the_password() {
    let rp = Rp::start(WebClient {
        first_party: true,
        ..WebClient::default()
    })
    .await;
    let (mut laptop, mut phone) = (rp.agent(), rp.agent());
    let (verifier, challenge) = pkce();
    let code = rp.code(&mut laptop, &challenge, &[]).await["code"].clone();
    let (_, laptop_tokens) = rp.exchange(&code, &verifier).await;

    // The phone signs in to /account and ends the laptop's browser session.
    let page = phone.get(&rp.server.at("/account")).await;
    let account = phone
        .submit(
            &page.form("/signin"),
            &[("username", "alice"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(account.status, 303);
    let account = phone.get(&rp.server.at("/account")).await;
    assert_eq!(account.status, 200, "{}", account.body);
    assert!(account.body.contains("Example App"), "{}", account.body);
    let browsers: Vec<_> = account
        .forms()
        .into_iter()
        .filter(|f| f.fields.iter().any(|(n, _)| n == "sso"))
        .collect();
    assert_eq!(browsers.len(), 2, "two browsers signed in");
    // The laptop's browser session is its ID token's `sid`; its row is not marked "this browser".
    let laptop_id = rp
        .id_token_claims(laptop_tokens["id_token"].as_str().unwrap())
        .await["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let laptop_row = account
        .body
        .split("<tr>")
        .find(|row| row.contains(&format!("name=\"sso\" value=\"{laptop_id}\"")))
        .expect("the laptop's row");
    assert!(!laptop_row.contains("this browser"), "{laptop_row}");
    let laptop_form = browsers
        .iter()
        .find(|f| f.fields.iter().any(|(n, v)| n == "sso" && *v == laptop_id))
        .expect("its form");
    let ended = phone.submit(laptop_form, &[]).await;
    assert_eq!(ended.status, 303);
    let refreshed = rp
        .server
        .refresh_grant(
            &basic(&rp.client_id, &rp.secret),
            laptop_tokens["refresh_token"].as_str().unwrap(),
            &[],
        )
        .await;
    refreshed.assert_error(400, "invalid_grant");
    let page = laptop.get(&rp.authorize_url(&challenge, &[])).await;
    assert!(
        page.body.contains("action=\"/signin\""),
        "the laptop must sign in again"
    );

    // Changing the password keeps the phone signed in (a new session) and ends everything else.
    let account = phone.get(&rp.server.at("/account")).await;
    let form = account.form("/account/password");
    let changed = phone
        .submit(
            &form,
            &[
                ("current_password", PASSWORD),
                ("new_password", "a new long passphrase"),
                ("confirm_password", "a new long passphrase"),
            ],
        )
        .await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    let account = phone.get(&rp.server.at("/account")).await;
    assert_eq!(account.status, 200);
    assert!(account.body.contains("Change password"));
    let old = rp.server.login("alice", PASSWORD).await;
    assert_eq!(old.0, 401, "the old password is refused");
    rp.server.stop().await;
}

#[tokio::test]
async fn discovery_lists_the_new_endpoints_and_only_what_is_supported() {
    let rp = Rp::start(WebClient::default()).await;
    let doc: Value = serde_json::from_str(
        &rp.server
            .get_text("/.well-known/openid-configuration")
            .await,
    )
    .unwrap();
    let base = &rp.server.url;
    assert_eq!(doc["authorization_endpoint"], format!("{base}/authorize"));
    assert_eq!(doc["userinfo_endpoint"], format!("{base}/userinfo"));
    assert_eq!(doc["end_session_endpoint"], format!("{base}/session/end"));
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES256", "RS256"]),
        "the default, and RS256 (OpenID Connect Core §15.1)"
    );
    rp.server.stop().await;
}

#[tokio::test]
async fn a_code_is_sealed_a_changed_one_is_unknown_and_a_refused_one_is_used_up() {
    let rp = Rp::start(WebClient::default()).await;
    let mut browser = rp.agent();
    let (verifier, challenge) = pkce();
    let code = rp.code(&mut browser, &challenge, &[]).await["code"].clone();
    // One character changed anywhere: another id, or a seal that does not open. The real code is untouched.
    for at in [1, code.len() / 2, code.len() - 1] {
        let mut changed = code.clone().into_bytes();
        changed[at] = if changed[at] == b'A' { b'B' } else { b'A' };
        rp.exchange_refused(&String::from_utf8(changed).unwrap(), &verifier)
            .await;
    }
    assert_eq!(rp.exchange(&code, &verifier).await.0, 200);

    // A presentation refused for a wrong verifier spends the code: the right one after it is a reuse.
    let code = rp.code(&mut browser, &challenge, &[]).await["code"].clone();
    assert_eq!(rp.exchange(&code, &pkce().0).await.0, 400);
    let (status, body) = rp.exchange(&code, &verifier).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{body}"
    );
    rp.server.stop().await;
}

#[tokio::test]
async fn a_code_issued_before_a_sign_out_starts_no_session() {
    let rp = Rp::start(WebClient::default()).await;
    let mut browser = rp.agent();
    let (verifier, challenge) = pkce();
    let first = rp.code(&mut browser, &challenge, &[]).await["code"].clone();
    let (_, tokens) = rp.exchange(&first, &verifier).await;
    let sub = rp
        .id_token_claims(tokens["id_token"].as_str().unwrap())
        .await["sub"]
        .clone();
    let code = rp.code(&mut browser, &challenge, &[]).await["code"].clone();
    rp.server
        .service
        .end_sso_sessions(sub.as_str().unwrap(), None)
        .await
        .unwrap();
    let body = rp.exchange_refused(&code, &verifier).await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("sign in again"),
        "{body}"
    );
    rp.server.stop().await;
}

#[tokio::test]
async fn disabling_the_user_ends_the_sso_session_at_once() {
    let rp = Rp::start(WebClient {
        first_party: true,
        ..WebClient::default()
    })
    .await;
    let mut browser = rp.agent();
    let (_, challenge) = pkce();
    rp.code(&mut browser, &challenge, &[]).await;
    rp.server
        .service
        .set_user_disabled("alice", true)
        .await
        .unwrap();
    let page = browser
        .get(&rp.authorize_url(&challenge, &[("prompt", "none")]))
        .await;
    assert_eq!(page.redirect_params()["error"], "login_required");
    rp.server.stop().await;
}

#[tokio::test]
async fn used_codes_and_ended_sso_sessions_are_pruned_once_no_token_they_guard_can_live() {
    let rp = Rp::start(WebClient {
        first_party: true,
        ..WebClient::default()
    })
    .await;
    let mut browser = rp.agent();
    let (verifier, challenge) = pkce();
    let code = rp.code(&mut browser, &challenge, &[]).await["code"].clone();
    assert_eq!(rp.exchange(&code, &verifier).await.0, 200);
    let confirm = browser.get(&rp.server.at("/session/end")).await;
    assert_eq!(
        browser
            .submit(&confirm.form("/session/end"), &[])
            .await
            .status,
        303
    );
    // An hour and a minute after the code's expiry: a replay could still have revoked something until then.
    rp.clock.advance(std::time::Duration::from_secs(
        waxseal_server::CODE_TTL_SECS + 3600,
    ));
    let early = rp.server.service.prune().await.unwrap();
    assert_eq!((early.codes, early.sso_sessions), (0, 0), "{early:?}");
    rp.clock.advance(std::time::Duration::from_secs(61));
    let report = rp.server.service.prune().await.unwrap();
    assert_eq!((report.codes, report.sso_sessions), (1, 1), "{report:?}");
    rp.server.stop().await;
}

/// The header's `alg` and `typ` of a token, and whether the served JWKS publishes its `kid`.
async fn alg_typ_and_published(server: &TestServer, token: &str) -> (String, String, bool) {
    let header = waxseal::jwt::decode_unverified(token).unwrap().header;
    let jwks = server.get_text("/.well-known/jwks.json").await;
    let kid = header["kid"].as_str().unwrap();
    (
        header["alg"].as_str().unwrap().to_owned(),
        header["typ"].as_str().unwrap().to_owned(),
        jwks.contains(&format!("\"kid\":\"{kid}\"")),
    )
}

#[tokio::test]
async fn a_client_registered_for_rs256_gets_rs256_id_tokens_and_a_default_client_es256() {
    let rs = waxseal::Algorithm::RS256;
    let rp = Rp::start(WebClient {
        first_party: true,
        id_token_alg: Some(rs),
        ..WebClient::default()
    })
    .await;
    let jwks: Value =
        serde_json::from_str(&rp.server.get_text("/.well-known/jwks.json").await).unwrap();
    let mut algs: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    algs.sort_unstable();
    assert_eq!(algs, ["ES256", "RS256"], "the JWKS has both keys: {jwks}");

    let mut browser = rp.agent();
    let (verifier, challenge) = pkce();
    let code = rp.code(&mut browser, &challenge, &[]).await["code"].clone();
    let (status, tokens) = rp.exchange(&code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        alg_typ_and_published(&rp.server, id_token).await,
        ("RS256".to_owned(), "JWT".to_owned(), true)
    );
    assert_eq!(
        alg_typ_and_published(&rp.server, access).await,
        ("ES256".to_owned(), "at+jwt".to_owned(), true),
        "access tokens stay with the signing key"
    );
    let claims = rp.id_token_claims(id_token).await;
    assert_eq!(
        claims["at_hash"],
        waxseal_server::at_hash(rs, access).as_str()
    );
    // SHA-256's left half, whatever the signing key's algorithm.
    assert_eq!(
        waxseal_server::at_hash(rs, access),
        waxseal_server::at_hash(waxseal::Algorithm::ES256, access)
    );
    // The RS256 key's ID token is still no access token.
    assert_eq!(rp.server.get_with("/api/me", id_token).await.0, 401);
    assert_eq!(rp.server.get_with("/userinfo", id_token).await.0, 401);

    // A refresh brings an RS256 ID token too.
    let refreshed = rp
        .server
        .refresh_grant(
            &basic(&rp.client_id, &rp.secret),
            tokens["refresh_token"].as_str().unwrap(),
            &[],
        )
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let renewed = refreshed.body["id_token"].as_str().unwrap();
    assert_eq!(alg_typ_and_published(&rp.server, renewed).await.0, "RS256");
    let renewed = rp.id_token_claims(renewed).await;
    assert_eq!(
        renewed["at_hash"],
        waxseal_server::at_hash(rs, refreshed.body["access_token"].as_str().unwrap()).as_str()
    );
    assert_eq!(renewed["sub"], claims["sub"]);
    rp.server.stop().await;

    // A client registered without --id-token-alg gets the server's default.
    let default = Rp::start(WebClient {
        first_party: true,
        ..WebClient::default()
    })
    .await;
    let mut browser = default.agent();
    let (verifier, challenge) = pkce();
    let code = default.code(&mut browser, &challenge, &[]).await["code"].clone();
    let (status, tokens) = default.exchange(&code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(
        alg_typ_and_published(&default.server, id_token).await,
        ("ES256".to_owned(), "JWT".to_owned(), true)
    );
    default.id_token_claims(id_token).await;
    default.server.stop().await;
}

#[tokio::test]
async fn only_rs256_or_the_servers_own_algorithm_may_be_registered_for_id_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    let register = |alg: waxseal::Algorithm| {
        server.service.add_client_with_permissions(
            "rp",
            &[GrantType::AuthorizationCode],
            &[],
            ClientPermissions {
                may_introspect: false,
                encrypt_access_tokens: false,
                require_dpop: false,
                web: WebClient {
                    redirect_uris: vec![REDIRECT.into()],
                    id_token_alg: Some(alg),
                    ..WebClient::default()
                },
            },
        )
    };
    for alg in [waxseal::Algorithm::RS256, waxseal::Algorithm::ES256] {
        register(alg).await.unwrap();
    }
    let refused = register(waxseal::Algorithm::PS256).await.unwrap_err();
    assert_eq!(refused.kind(), waxseal_server::ErrorKind::InvalidRequest);
    assert!(
        refused
            .message()
            .contains("--id-token-alg PS256 is not offered")
            && refused.message().contains("ES256 or RS256"),
        "{refused}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_confidential_client_exempt_from_pkce_signs_in_without_it_but_not_with_a_downgrade() {
    let rp = Rp::start(WebClient {
        first_party: true,
        pkce_exempt: true,
        ..WebClient::default()
    })
    .await;
    let mut browser = rp.agent();
    let without = [("code_challenge", ""), ("code_challenge_method", "")];
    let code = rp.code(&mut browser, "", &without).await["code"].clone();
    let (status, tokens) = rp.exchange_without_pkce(&code).await;
    assert_eq!(status, 200, "{tokens}");
    rp.id_token_claims(tokens["id_token"].as_str().unwrap())
        .await;

    // RFC 9700 §4.8.2: a verifier for a code requested without a challenge is a downgrade, refused.
    let code = rp.code(&mut browser, "", &without).await["code"].clone();
    let body = rp.exchange_refused(&code, &pkce().0).await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("no code_challenge"),
        "{body}"
    );

    // A challenge it does send is checked; plain and a method alone are still refused.
    let (verifier, challenge) = pkce();
    let code = rp.code(&mut browser, &challenge, &[]).await["code"].clone();
    assert_eq!(rp.exchange_without_pkce(&code).await.0, 400);
    let code = rp.code(&mut browser, &challenge, &[]).await["code"].clone();
    assert_eq!(rp.exchange(&code, &verifier).await.0, 200);
    for extra in [
        vec![("code_challenge_method", "plain")],
        vec![("code_challenge", ""), ("code_challenge_method", "S256")],
    ] {
        let page = browser
            .get(&rp.authorize_url("x".repeat(43).as_str(), &extra))
            .await;
        assert_eq!(page.status, 303, "{extra:?}: {}", page.body);
        assert_eq!(
            page.redirect_params()["error"],
            "invalid_request",
            "{extra:?}"
        );
    }
    rp.server.stop().await;
}

#[tokio::test]
async fn only_a_confidential_client_that_signs_people_in_may_be_exempt_from_pkce() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    let register = async |public: bool, grant: GrantType| {
        server
            .service
            .add_client_with_permissions(
                "rp",
                &[grant],
                &[],
                ClientPermissions {
                    may_introspect: false,
                    encrypt_access_tokens: false,
                    require_dpop: false,
                    web: WebClient {
                        redirect_uris: if grant == GrantType::AuthorizationCode {
                            vec![REDIRECT.into()]
                        } else {
                            Vec::new()
                        },
                        public,
                        pkce_exempt: true,
                        ..WebClient::default()
                    },
                },
            )
            .await
    };
    let public = register(true, GrantType::AuthorizationCode)
        .await
        .unwrap_err();
    assert!(
        public.message().contains("only for a confidential client"),
        "{public}"
    );
    let no_sign_in = register(false, GrantType::ClientCredentials)
        .await
        .unwrap_err();
    assert!(
        no_sign_in.message().contains("authorization_code"),
        "{no_sign_in}"
    );
    register(false, GrantType::AuthorizationCode).await.unwrap();
    server.stop().await;
}
