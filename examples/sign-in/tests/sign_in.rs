//! The example against a real waxseal server, both on loopback ports in this process, walked the way a browser
//! walks it: one cookie jar for both (cookies are per host, not per port), redirects read and followed by hand.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;

use reqwest::header::{LOCATION, SET_COOKIE};
use tokio::net::TcpListener;
use url::Url;
use waxseal_example_sign_in::{Config, app};
use waxseal_server::{ClientPermissions, GrantType, Profile, Server, WebClient};

const PASSWORD: &str = "correct horse battery staple";

async fn bind() -> TcpListener {
    TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap()
}

/// One response.
struct Page {
    status: u16,
    location: Option<String>,
    body: String,
}

/// A browser as far as this flow needs one.
struct Browser {
    client: reqwest::Client,
    /// One jar for the host 127.0.0.1, as a browser keeps it.
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn new() -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, url: &str, response: reqwest::Response) -> Page {
        for set in response.headers().get_all(SET_COOKIE) {
            let set = set.to_str().unwrap();
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let status = response.status().as_u16();
        let location = response.headers().get(LOCATION).map(|l| {
            Url::parse(url)
                .unwrap()
                .join(l.to_str().unwrap())
                .unwrap()
                .into()
        });
        Page {
            status,
            location,
            body: response.text().await.unwrap(),
        }
    }

    async fn get(&mut self, url: &str) -> Page {
        let response = self
            .client
            .get(url)
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.finish(url, response).await
    }

    async fn post_form(&mut self, url: &str, origin: &str, fields: &[(String, String)]) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let response = self
            .client
            .post(url)
            .header("cookie", self.cookie_header())
            .header("origin", origin)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.finish(url, response).await
    }
}

/// The action and the named inputs (with their entity-decoded values) of the first form of `html`.
fn form(html: &str) -> (String, Vec<(String, String)>) {
    let start = html.find("<form").expect("a form");
    let end = html[start..].find("</form>").unwrap() + start;
    let html = &html[start..end];
    let action = attribute(&html[..html.find('>').unwrap()], "action").unwrap();
    let mut fields = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<input") {
        let tag_end = rest[i..].find('>').unwrap() + i;
        let tag = &rest[i..tag_end];
        if let Some(name) = attribute(tag, "name") {
            fields.push((name, attribute(tag, "value").unwrap_or_default()));
        }
        rest = &rest[tag_end..];
    }
    (action, fields)
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

/// The character references an HTML escaper writes.
fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail.find(';').unwrap();
        let entity = &tail[1..end];
        out.push(match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => entity
                .strip_prefix("#x")
                .map(|hex| u32::from_str_radix(hex, 16).unwrap())
                .or_else(|| entity.strip_prefix('#').map(|d| d.parse().unwrap()))
                .and_then(char::from_u32)
                .unwrap(),
        });
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

fn query(url: &str) -> BTreeMap<String, String> {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_signs_in_through_waxseal_sees_their_profile_and_signs_out() {
    // The waxseal server, its issuer its own URL.
    let dir = tempfile::tempdir().unwrap();
    let listener = bind().await;
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let server = Server::open(waxseal_server::Config {
        issuer: issuer.clone(),
        data_dir: dir.path().to_path_buf(),
        ..waxseal_server::Config::default()
    })
    .await
    .unwrap();
    let service = server.service().clone();
    let (stop_server, stopped) = tokio::sync::oneshot::channel::<()>();
    let server_task = tokio::spawn(server.serve(listener, async {
        let _ = stopped.await;
    }));

    // The example app, registered as a first-party client; a user with a profile.
    let app_listener = bind().await;
    let app_url = format!("http://{}", app_listener.local_addr().unwrap());
    service
        .add_user_with_profile(
            "alice",
            PASSWORD,
            &[],
            Profile {
                email: Some("alice@example.com".into()),
                name: Some("Alice <Liddell>".into()),
            },
        )
        .await
        .unwrap();
    let client = service
        .add_client_with_permissions(
            "Example app",
            &[GrantType::AuthorizationCode, GrantType::RefreshToken],
            &[],
            ClientPermissions {
                web: WebClient {
                    redirect_uris: vec![format!("{app_url}/callback")],
                    post_logout_redirect_uris: vec![format!("{app_url}/")],
                    first_party: true,
                    ..WebClient::default()
                },
                ..ClientPermissions::default()
            },
        )
        .await
        .unwrap();
    let router = app(Config {
        issuer: issuer.clone(),
        client_id: client.client_id.clone(),
        client_secret: client.client_secret.to_string(),
        app_url: app_url.clone(),
    })
    .await
    .unwrap();
    let app_task = tokio::spawn(async move { axum::serve(app_listener, router).await });

    let mut browser = Browser::new();
    let home = browser.get(&format!("{app_url}/")).await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("href=\"/login\""), "{}", home.body);

    // /login → the provider's /authorize with PKCE S256, a nonce and a state.
    let login = browser.get(&format!("{app_url}/login")).await;
    assert_eq!(login.status, 303, "{}", login.body);
    let authorize = login.location.unwrap();
    assert!(
        authorize.starts_with(&format!("{issuer}/authorize?")),
        "{authorize}"
    );
    let params = query(&authorize);
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["client_id"], client.client_id);
    assert_eq!(params["redirect_uri"], format!("{app_url}/callback"));
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(
        params["scope"].split(' ').collect::<Vec<_>>(),
        ["openid", "profile", "email"]
    );
    for param in ["code_challenge", "state", "nonce"] {
        assert!(params[param].len() >= 22, "{param}: {params:?}");
    }
    assert!(
        browser.cookies.contains_key("sign_in_example_session"),
        "{:?}",
        browser.cookies
    );

    // The sign-in page and its form.
    let sign_in = browser.get(&authorize).await;
    assert_eq!(sign_in.status, 200, "{}", sign_in.body);
    let (action, fields) = form(&sign_in.body);
    assert_eq!(action, "/signin");
    assert!(fields.iter().any(|(n, _)| n == "csrf_token"), "{fields:?}");
    let fields: Vec<(String, String)> = fields
        .into_iter()
        .map(|(n, v)| match n.as_str() {
            "username" => (n, "alice".to_owned()),
            "password" => (n, PASSWORD.to_owned()),
            _ => (n, v),
        })
        .collect();
    let signed_in = browser
        .post_form(&format!("{issuer}/signin"), &issuer, &fields)
        .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let callback = signed_in.location.unwrap();
    assert!(
        callback.starts_with(&format!("{app_url}/callback?")),
        "{callback}"
    );
    let answer = query(&callback);
    assert_eq!(answer["state"], params["state"]);
    assert_eq!(answer["iss"], issuer);

    // The app exchanges the code, verifies the ID token, asks userinfo, and sends the browser home.
    let done = browser.get(&callback).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        done.location.as_deref(),
        Some(format!("{app_url}/").as_str())
    );
    let home = browser.get(&format!("{app_url}/")).await;
    assert_eq!(home.status, 200);
    assert!(
        home.body
            .contains("Signed in as <strong>Alice &lt;Liddell&gt;</strong> (alice@example.com)"),
        "{}",
        home.body
    );

    // The code was consumed: replaying the callback is refused (the sign-in it belonged to is over, too).
    let replay = browser.get(&callback).await;
    assert_eq!(replay.status, 400, "{}", replay.body);
    assert!(
        replay.body.contains("no sign-in in progress"),
        "{}",
        replay.body
    );

    // Logout ends the local session and sends the browser to the provider's end_session_endpoint.
    let home = browser.get(&format!("{app_url}/")).await;
    assert!(home.body.contains("Signed in as"), "{}", home.body);
    let logout = browser.get(&format!("{app_url}/logout")).await;
    assert_eq!(logout.status, 303, "{}", logout.body);
    let end = logout.location.unwrap();
    assert!(end.starts_with(&format!("{issuer}/session/end?")), "{end}");
    let end_params = query(&end);
    assert!(
        end_params["id_token_hint"].split('.').count() == 3,
        "{end_params:?}"
    );
    assert_eq!(
        end_params["post_logout_redirect_uri"],
        format!("{app_url}/")
    );
    assert!(!browser.cookies.contains_key("sign_in_example_session"));
    let home = browser.get(&format!("{app_url}/")).await;
    assert!(home.body.contains("You are not signed in"), "{}", home.body);

    // The provider accepts the logout request: its confirmation page, whose button ends the provider's session
    // and sends the browser back to the app.
    let confirm = browser.get(&end).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(confirm.body.contains("Example app"), "{}", confirm.body);
    let (action, fields) = form(&confirm.body);
    assert_eq!(action, "/session/end");
    let signed_out = browser
        .post_form(&format!("{issuer}{action}"), &issuer, &fields)
        .await;
    assert_eq!(signed_out.status, 303, "{}", signed_out.body);
    assert_eq!(
        signed_out.location.as_deref(),
        Some(format!("{app_url}/").as_str())
    );

    // Signing in again asks for the password again: the provider's session is over too.
    let login = browser.get(&format!("{app_url}/login")).await;
    let again = browser.get(&login.location.unwrap()).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(form(&again.body).0, "/signin");

    app_task.abort();
    let _ = stop_server.send(());
    server_task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_missing_server_or_client_says_what_to_do() {
    // No client registered yet.
    let error = app(Config {
        issuer: "http://127.0.0.1:9".into(),
        client_id: String::new(),
        client_secret: String::new(),
        app_url: "http://127.0.0.1:3000".into(),
    })
    .await
    .unwrap_err();
    let text = format!("{error:#}");
    assert!(
        text.contains(
            "waxseal client add example-app --first-party --redirect-uri http://127.0.0.1:3000/callback"
        ),
        "{text}"
    );

    // No server where the issuer says.
    let listener = bind().await;
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let error = app(Config {
        issuer: issuer.clone(),
        client_id: "id".into(),
        client_secret: "secret".into(),
        app_url: "http://127.0.0.1:3000".into(),
    })
    .await
    .unwrap_err();
    let text = format!("{error:#}");
    assert!(
        text.contains(&format!("{issuer}/.well-known/openid-configuration"))
            && text.contains("is waxseal running there"),
        "{text}"
    );
}
