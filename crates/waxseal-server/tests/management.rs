//! The management listener beside the public one, over real loopback HTTP: what an operator reads (metrics,
//! readiness details) is served there, and the public listener tells anyone only what a load balancer needs.

mod common;

use common::{Capture, TestClock, TestServer, config};
use serde_json::{Value, json};
use waxseal_server::Config;

const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Status, content type and body of a GET of `url`.
async fn get(server: &TestServer, url: &str) -> (u16, String, String) {
    let response = server.client.get(url).send().await.expect("request sent");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, response.text().await.expect("a body"))
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test]
async fn metrics_are_not_served_on_the_public_listener() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;

    let (status, content_type, body) = get(&server, &server.at("/metrics")).await;
    assert_eq!(
        (status, content_type.as_str()),
        (404, "application/json"),
        "{body}"
    );
    assert_eq!(json(&body)["error"], "invalid_request", "{body}");
    assert!(!body.contains("waxseal_"), "{body}");

    let (status, content_type, body) = get(&server, &server.management_at("/metrics")).await;
    assert_eq!((status, content_type.as_str()), (200, PROMETHEUS_TEXT));
    assert!(body.contains("waxseal_logins_total"), "{body}");

    // The management listener serves only its three routes; anything else is the public router's JSON 404.
    let (status, content_type, body) = get(&server, &server.management_at("/login")).await;
    assert_eq!(
        (status, content_type.as_str()),
        (404, "application/json"),
        "{body}"
    );
    let (_, _, public_404) = get(&server, &server.at("/no-such-path")).await;
    assert_eq!(json(&body), json(&public_404));
    let (status, _, body) = get(&server, &server.management_at("/healthz")).await;
    assert_eq!((status, json(&body)), (200, json!({"status": "ok"})));
    server.stop().await;
}

#[tokio::test]
async fn public_readiness_names_no_dependency() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;

    let (status, _, body) = get(&server, &server.at("/readyz")).await;
    assert_eq!((status, json(&body)), (200, json!({"status": "ready"})));
    let (status, _, body) = get(&server, &server.at("/healthz")).await;
    assert_eq!((status, json(&body)), (200, json!({"status": "ok"})));
    let (status, _, body) = get(&server, &server.management_at("/readyz")).await;
    assert_eq!(
        (status, json(&body)),
        (200, json!({"status": "ready", "database": "up"}))
    );

    // The store closed: the same 503 for the load balancer, still without a word about why.
    server.service.close().await;
    let (status, _, body) = get(&server, &server.at("/readyz")).await;
    assert_eq!(
        (status, json(&body)),
        (503, json!({"status": "unavailable"}))
    );
    let (status, _, body) = get(&server, &server.management_at("/readyz")).await;
    let details = json(&body);
    assert_eq!(status, 503, "{body}");
    assert_eq!(details["status"], "unavailable");
    assert_eq!(details["database"], "not answering");
    assert!(details["reason"].is_string(), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn public_metrics_setting_serves_them_on_the_public_listener() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        public_metrics: true,
        ..config(dir.path())
    };
    let server = TestServer::start_with(config, TestClock::new()).await;

    let (status, content_type, public) = get(&server, &server.at("/metrics")).await;
    assert_eq!((status, content_type.as_str()), (200, PROMETHEUS_TEXT));
    let (status, _, management) = get(&server, &server.management_at("/metrics")).await;
    assert_eq!(status, 200);
    // One recorder behind both: the same counters and gauges on either listener (in no fixed order; the latency
    // histograms grow with the requests between the two scrapes).
    let names = |text: &str| -> std::collections::BTreeSet<String> {
        text.lines()
            .filter(|line| line.starts_with("# TYPE") && !line.ends_with(" histogram"))
            .map(str::to_owned)
            .collect()
    };
    assert!(public.contains("waxseal_logins_total"), "{public}");
    assert_eq!(names(&public), names(&management));
    // Public readiness stays minimal: the setting is about metrics only.
    let (_, _, body) = get(&server, &server.at("/readyz")).await;
    assert_eq!(json(&body), json!({"status": "ready"}));
    server.stop().await;
}

#[tokio::test]
async fn the_library_serves_no_management_listener_unless_given_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = waxseal_server::Server::open_with_clock(config(dir.path()), TestClock::new())
        .await
        .unwrap();
    let listener = common::bind().await;
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(listener, async {
        let _ = rx.await;
    }));
    let client = reqwest::Client::new();
    let response = client.get(format!("{url}/metrics")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
    let response = client.get(format!("{url}/readyz")).send().await.unwrap();
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"status": "ready"})
    );
    tx.send(()).unwrap();
    serving.await.unwrap().unwrap();
}

/// The logs of a server serving briefly with a management listener on `management` (current-thread runtime: every
/// event on this thread, which a thread-local subscriber sees).
async fn logs_of_serving_management_on(management: &str, dir: &std::path::Path) -> String {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = waxseal_server::Server::open_with_clock(config(dir), TestClock::new())
        .await
        .expect("server opens");
    let management = tokio::net::TcpListener::bind(management)
        .await
        .expect("bind the management address");
    server
        .with_management(management)
        .serve(common::bind().await, async {})
        .await
        .expect("server ran");
    capture.text()
}

#[tokio::test]
async fn a_management_listener_beyond_loopback_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let logs = logs_of_serving_management_on("0.0.0.0:0", &dir.path().join("a")).await;
    assert!(
        logs.contains("WARN") && logs.contains("management listener is reachable beyond loopback"),
        "{logs}"
    );
    let logs = logs_of_serving_management_on("127.0.0.1:0", &dir.path().join("b")).await;
    assert!(!logs.contains("beyond loopback"), "{logs}");
    assert!(
        logs.contains("generated a signing key"),
        "the capture works: {logs}"
    );
}
