//! The browser harness against a small server of its own on loopback: forms, JavaScript on and off, separate
//! cookie jars, screenshots, axe-core under a strict Content-Security-Policy, and two things the server's pages
//! depend on: `__Host-` cookies over plain http://127.0.0.1, and CSP `form-action` on a redirect to another origin.
// Fixture helpers unwrap too: a broken fixture should stop the test where it broke.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Router, serve};
use waxseal_testkit::browser::fantoccini::cookies::Cookie;
use waxseal_testkit::browser::{
    Browser, Locator, Session, SessionOptions, artifacts_dir, assert_accessible, axe, screenshot,
};

/// The policy the server's pages will send: nothing inline, nothing evaluated, scripts and styles from itself.
const STRICT_CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// What the test server saw.
#[derive(Default)]
struct Seen {
    /// The `name` field of every form posted to `/submit`.
    submitted: Vec<String>,
    /// The `Cookie` header of every request to `/echo` ("" when none).
    cookies: Vec<String>,
    /// Requests to `/bounce` (the form whose answer redirects to the other origin).
    bounced: usize,
    /// Requests that reached the other origin's `/landed`.
    landed: usize,
}

#[derive(Clone)]
struct App {
    seen: Arc<Mutex<Seen>>,
    /// `http://127.0.0.1:PORT` of the second server.
    other_origin: String,
}

/// An HTML page with the given policy.
fn page(csp: &str, title: &str, body: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, csp),
        ],
        format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
             <link rel=\"stylesheet\" href=\"/style.css\"><script src=\"/app.js\"></script></head>\
             <body><main><h1>{title}</h1>{body}</main></body></html>"
        ),
    )
        .into_response()
}

fn strict(title: &str, body: &str) -> Response {
    page(STRICT_CSP, title, body)
}

async fn form_page() -> Response {
    strict(
        "Sign in",
        "<noscript><p id=\"noscript\">JavaScript is off</p></noscript>\
         <form method=\"post\" action=\"/submit\">\
         <label for=\"name\">Name</label> <input id=\"name\" name=\"name\" autocomplete=\"username\">\
         <button type=\"submit\">Continue</button></form>",
    )
}

/// The page script: renames the page, so a title tells whether scripts ran.
async fn app_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript")],
        "if (document.title === 'Sign in') { document.title = 'Sign in (scripted)'; }",
    )
        .into_response()
}

async fn style_css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css")],
        "body { font-family: sans-serif; margin: 2rem; } label { font-weight: bold; }",
    )
        .into_response()
}

async fn submit(State(app): State<App>, Form(form): Form<HashMap<String, String>>) -> Response {
    let name = form.get("name").cloned().unwrap_or_default();
    app.seen.lock().unwrap().submitted.push(name);
    (StatusCode::SEE_OTHER, [(header::LOCATION, "/thanks")]).into_response()
}

async fn thanks() -> Response {
    strict("Thanks", "<p>Received.</p>")
}

async fn good() -> Response {
    strict(
        "Consent",
        "<p>Example wants to read your profile.</p>\
         <form method=\"post\" action=\"/submit\"><label for=\"who\">Account</label> <input id=\"who\" name=\"name\">\
         <button type=\"submit\">Allow</button></form>",
    )
}

async fn bad() -> Response {
    // No `alt` on the image, no label on the input: both "critical" in axe-core.
    strict(
        "Broken",
        "<img src=\"/style.css\" width=\"10\" height=\"10\"><form><input name=\"q\"></form>",
    )
}

async fn set_cookie(Query(query): Query<HashMap<String, String>>) -> Response {
    let value = query.get("v").cloned().unwrap_or_default();
    let mut response = strict("Cookie set", "<p>Set.</p>");
    response.headers_mut().insert(
        header::SET_COOKIE,
        format!("plain={value}; Path=/; HttpOnly; SameSite=Lax")
            .parse()
            .unwrap(),
    );
    response
}

async fn set_host_cookie() -> Response {
    let mut response = strict("Host cookie set", "<p>Set.</p>");
    response.headers_mut().insert(
        header::SET_COOKIE,
        "__Host-test=1; Path=/; Secure; HttpOnly; SameSite=Lax"
            .parse()
            .unwrap(),
    );
    response
}

async fn echo(State(app): State<App>, headers: HeaderMap) -> Response {
    let cookie = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    app.seen.lock().unwrap().cookies.push(cookie.clone());
    strict("Echo", &format!("<p id=\"cookie\">[{cookie}]</p>"))
}

async fn redirect_form(
    State(app): State<App>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let form_action = if q.contains_key("allow") {
        format!("form-action 'self' {}", app.other_origin)
    } else {
        "form-action 'self'".to_owned()
    };
    page(
        &format!("{STRICT_CSP}; {form_action}"),
        "Redirecting form",
        "<form method=\"post\" action=\"/bounce\"><input type=\"hidden\" name=\"x\" value=\"1\">\
         <button type=\"submit\">Go</button></form>",
    )
}

async fn bounce(State(app): State<App>) -> Response {
    app.seen.lock().unwrap().bounced += 1;
    let to = format!("{}/landed", app.other_origin);
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

/// Serves `router` on a free loopback port until the test's runtime ends.
async fn spawn(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { serve(listener, router).await.unwrap() });
    addr
}

/// The test server and, on another port (so another origin), the target of `/bounce`.
async fn servers() -> (String, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let landed = seen.clone();
    let other = spawn(Router::new().route(
        "/landed",
        get(move || async move {
            landed.lock().unwrap().landed += 1;
            strict("Landed", "<p>Other origin.</p>")
        }),
    ))
    .await;
    let app = App {
        seen: seen.clone(),
        other_origin: format!("http://{other}"),
    };
    let router = Router::new()
        .route("/form", get(form_page))
        .route("/app.js", get(app_js))
        .route("/style.css", get(style_css))
        .route("/submit", post(submit))
        .route("/thanks", get(thanks))
        .route("/good", get(good))
        .route("/bad", get(bad))
        .route("/cookie/set", get(set_cookie))
        .route("/cookie/host", get(set_host_cookie))
        .route("/echo", get(echo))
        .route("/redirect-form", get(redirect_form))
        .route("/bounce", post(bounce))
        .with_state(app);
    (format!("http://{}", spawn(router).await), seen)
}

/// Waits (bounded) until `done` holds; fails with `what` when it does not.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Fills the sign-in form by typing and clicks its button, as a person would.
async fn sign_in(session: &Session, base: &str, name: &str) {
    session.goto(&format!("{base}/form")).await.unwrap();
    let field = session.find(Locator::Css("#name")).await.unwrap();
    field.send_keys(name).await.unwrap();
    session
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_work_with_and_without_javascript() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let (base, seen) = servers().await;

    let on = browser.session(SessionOptions::default()).await;
    assert!(on.options().javascript);
    on.goto(&format!("{base}/form")).await.unwrap();
    assert_eq!(
        on.title().await.unwrap(),
        "Sign in (scripted)",
        "a script from 'self' runs under the strict CSP"
    );
    assert!(
        on.find(Locator::Css("#noscript")).await.is_err(),
        "<noscript> is not rendered with JavaScript on"
    );
    sign_in(&on, &base, "alice").await;
    eventually("alice's form", || {
        seen.lock().unwrap().submitted == ["alice"]
    })
    .await;
    on.wait()
        .for_url(&format!("{base}/thanks").parse().unwrap())
        .await
        .unwrap();

    let off = browser.session(SessionOptions::without_javascript()).await;
    assert!(!off.options().javascript);
    off.goto(&format!("{base}/form")).await.unwrap();
    assert_eq!(
        off.title().await.unwrap(),
        "Sign in",
        "the page script did not run"
    );
    let noscript = off.find(Locator::Css("#noscript")).await.unwrap();
    assert_eq!(noscript.text().await.unwrap(), "JavaScript is off");
    sign_in(&off, &base, "bob").await;
    eventually("bob's form", || {
        seen.lock().unwrap().submitted == ["alice", "bob"]
    })
    .await;
    off.wait()
        .for_url(&format!("{base}/thanks").parse().unwrap())
        .await
        .unwrap();
    // WebDriver's own scripts are not page scripts: they still run, which is what lets axe check a page as it
    // renders without JavaScript.
    assert_eq!(off.execute("return 6 * 7", vec![]).await.unwrap(), 42);

    let shot = screenshot(&off, "testkit-thanks-no-js").await;
    assert_eq!(shot, artifacts_dir().join("testkit-thanks-no-js.png"));
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is a PNG",
        shot.display()
    );
    assert!(png.len() > 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_have_separate_cookie_jars() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let (base, seen) = servers().await;
    let alice = browser.session(SessionOptions::default()).await;
    let bob = browser.session(SessionOptions::without_javascript()).await;

    alice
        .goto(&format!("{base}/cookie/set?v=alice"))
        .await
        .unwrap();
    alice.goto(&format!("{base}/echo")).await.unwrap();
    bob.goto(&format!("{base}/echo")).await.unwrap();
    bob.goto(&format!("{base}/cookie/set?v=bob")).await.unwrap();
    bob.goto(&format!("{base}/echo")).await.unwrap();
    alice.goto(&format!("{base}/echo")).await.unwrap();
    assert_eq!(
        seen.lock().unwrap().cookies,
        ["plain=alice", "", "plain=bob", "plain=alice"]
    );
    let names = |cookies: Vec<Cookie<'static>>| {
        cookies
            .iter()
            .map(|c| format!("{}={}", c.name(), c.value()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(alice.get_all_cookies().await.unwrap()),
        ["plain=alice"]
    );
    assert_eq!(names(bob.get_all_cookies().await.unwrap()), ["plain=bob"]);
}

/// Chromium counts http://127.0.0.1 as a secure context, so a `Secure` (and so a `__Host-`) cookie set over plain
/// HTTP on loopback is kept and sent back: the server's tests can use its production cookie names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_prefixed_secure_cookie_over_loopback_http() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let (base, seen) = servers().await;
    let session = browser.session(SessionOptions::default()).await;
    session.goto(&format!("{base}/cookie/host")).await.unwrap();
    session.goto(&format!("{base}/echo")).await.unwrap();
    let sent = seen.lock().unwrap().cookies.clone();
    println!("__Host- cookie over http://127.0.0.1: the next request carried {sent:?}");
    assert_eq!(sent, ["__Host-test=1"]);
}

/// CSP `form-action` governs where a form's navigation ends up, redirects included: a 303 from the form's own
/// origin to another origin is blocked unless that origin is listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_action_applies_to_a_redirect_to_another_origin() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let (base, seen) = servers().await;
    let session = browser.session(SessionOptions::default()).await;

    for (query, expect_landed) in [("", false), ("?allow", true)] {
        let form = format!("{base}/redirect-form{query}");
        session.goto(&form).await.unwrap();
        let (bounced, landed) = {
            let seen = seen.lock().unwrap();
            (seen.bounced, seen.landed)
        };
        session
            .find(Locator::Css("button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        eventually("the form post", || {
            seen.lock().unwrap().bounced == bounced + 1
        })
        .await;
        // The navigation ends either on the other origin or on Chromium's error page; wait until it left the form.
        let deadline = Instant::now() + Duration::from_secs(10);
        let url = loop {
            let url = session.current_url().await.unwrap();
            if url.as_str() != form || Instant::now() > deadline {
                break url;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let did_land = seen.lock().unwrap().landed > landed;
        println!(
            "form-action {query:?}: landed on the other origin: {did_land}; the browser shows {url}"
        );
        assert_eq!(
            did_land, expect_landed,
            "form-action with {query:?}; browser at {url}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axe_finds_violations_under_a_strict_csp() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let (base, _) = servers().await;
    let session = browser.session(SessionOptions::default()).await;

    session.goto(&format!("{base}/good")).await.unwrap();
    let Some(violations) = axe(&session).await else {
        return;
    };
    assert!(
        violations.iter().all(|v| !v.is_serious()),
        "{violations:#?}"
    );
    assert_accessible(&session, "good").await;

    session.goto(&format!("{base}/bad")).await.unwrap();
    let violations = axe(&session).await.unwrap();
    let ids: Vec<&str> = violations.iter().map(|v| v.id.as_str()).collect();
    assert!(ids.contains(&"image-alt"), "{violations:#?}");
    assert!(ids.contains(&"label"), "{violations:#?}");
    let image = violations.iter().find(|v| v.id == "image-alt").unwrap();
    assert_eq!(image.impact.as_deref(), Some("critical"));
    assert_eq!(image.targets, ["img"]);
    let failure = tokio::spawn(async move { assert_accessible(&session, "bad").await })
        .await
        .unwrap_err();
    let message = failure.into_panic();
    let message = message.downcast_ref::<String>().unwrap();
    assert!(message.contains("bad: 2 serious or critical"), "{message}");
    assert!(
        message.contains("image-alt") && message.contains("label"),
        "{message}"
    );

    // Page scripts off: axe cannot run (Chromium runs no timers there), and says so rather than time out.
    let off = browser.session(SessionOptions::without_javascript()).await;
    off.goto(&format!("{base}/bad")).await.unwrap();
    assert_eq!(off.title().await.unwrap(), "Broken");
    let failure =
        tokio::spawn(async move { assert_accessible(&off, "bad without JavaScript").await })
            .await
            .unwrap_err();
    let message = failure.into_panic();
    let message = message.downcast_ref::<&str>().unwrap();
    assert!(message.contains("JavaScript disabled"), "{message}");
}
