//! OpenID Connect sign-in across instances: two `waxseal serve` behind one issuer, on one PostgreSQL database and one
//! Redis. A code issued by one is exchanged at the other; an SSO session ended on one is refused by the other at
//! its very next request, and the access tokens of that session soon after (the Redis announcement).

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::agent::{Agent, pkce};
use common::{Backing, PASSWORD, TestClock, TestServer, basic};
use waxseal_server::{ClientPermissions, Config, GrantType, SecretUrl, WebClient};
use waxseal_testkit::redis::{shared_redis, unique_prefix};

const REDIRECT: &str = "https://app.example/callback";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_from_one_instance_is_exchanged_at_the_other_and_logout_on_one_signs_out_both() {
    let Some(backing) = Backing::postgres().await else {
        return;
    };
    let Some(redis) = shared_redis("oidc_instances") else {
        return;
    };
    // One issuer for both, as behind a load balancer: the first instance's address.
    let listener = common::bind().await;
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let config = Config {
        issuer: issuer.clone(),
        redis_url: Some(SecretUrl::new(&redis)),
        redis_key_prefix: unique_prefix("oidc_instances"),
        ..backing.config()
    };
    let clock = TestClock::new();
    let a = TestServer::start_with(config.clone(), clock.clone()).await;
    let b = TestServer::start_with(config, clock.clone()).await;
    a.add_user("alice", &["read"]).await;
    let client = a
        .service
        .add_client_with_permissions(
            "App",
            &[GrantType::AuthorizationCode, GrantType::RefreshToken],
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
    let authorize = |server: &TestServer, challenge: &str, extra: &[(&str, &str)]| {
        let mut url = url::Url::parse(&server.at("/authorize")).unwrap();
        url.query_pairs_mut().extend_pairs([
            ("client_id", client.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid offline_access"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ]);
        url.query_pairs_mut().extend_pairs(extra);
        String::from(url)
    };

    // The browser's requests go to either instance; its pages post with the issuer's origin.
    let mut browser = Agent::new(&issuer);
    let page = browser.get(&authorize(&a, &challenge, &[])).await;
    let form = page.form("/signin");
    let back = browser
        .post(
            &b.at("/signin"),
            &form.with(&[("username", "alice"), ("password", PASSWORD)]),
        )
        .await;
    assert_eq!(
        back.status, 303,
        "signed in at B with A's page: {}",
        back.body
    );
    let code = back.redirect_params()["code"].clone();
    let exchanged = a
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
    assert_eq!(
        exchanged.status, 200,
        "B's code exchanged at A: {}",
        exchanged.body
    );
    let access = exchanged.body["access_token"].as_str().unwrap().to_owned();
    // The same code at the other instance: reuse, refused there and revoking at both.
    let again = b
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
    again.assert_error(400, "invalid_grant");
    let started = Instant::now();
    while a.get_with("/api/me", &access).await.0 != 401 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "A still accepts the revoked code's token"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A fresh session: sign-in state is shared, so B skips the sign-in page.
    let (verifier, challenge) = pkce();
    let skipped = browser.get(&authorize(&b, &challenge, &[])).await;
    assert_eq!(
        skipped.status, 303,
        "B knows A's SSO session: {}",
        skipped.body
    );
    let code = skipped.redirect_params()["code"].clone();
    let exchanged = b
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
    assert_eq!(exchanged.status, 200, "{}", exchanged.body);
    let access = exchanged.body["access_token"].as_str().unwrap().to_owned();
    let refresh = exchanged.body["refresh_token"].as_str().unwrap().to_owned();

    // Logout at B; A refuses the SSO session at its next request, and the session's tokens.
    let confirm = browser.get(&b.at("/session/end")).await;
    let done = browser
        .post(
            &b.at("/session/end"),
            &confirm.form("/session/end").with(&[]),
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let none = browser
        .get(&authorize(&a, &challenge, &[("prompt", "none")]))
        .await;
    assert_eq!(
        none.redirect_params()["error"],
        "login_required",
        "A refuses the ended session at once"
    );
    let refreshed = a
        .refresh_grant(
            &basic(&client.client_id, &client.client_secret),
            &refresh,
            &[],
        )
        .await;
    refreshed.assert_error(400, "invalid_grant");
    let started = Instant::now();
    while a.get_with("/api/me", &access).await.0 != 401 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "A still accepts the ended session's token"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.stop().await;
    b.stop().await;
}
