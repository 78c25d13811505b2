//! `GET /openapi.json` against the router that serves it: the document lists exactly the served routes, every
//! operation answers only documented statuses (with documented media types, headers and body schemas) when called
//! with no or invalid input, and real responses of the flows match their schemas — in body mode and cookie mode.

mod common;

use std::collections::BTreeSet;

use common::{PASSWORD, TestClock, TestServer, basic, config, tokens};
use serde_json::{Value, json};
use waxseal_server::{Config, GrantType};

async fn fetch_document(server: &TestServer) -> Value {
    let response = server
        .client
        .get(server.at("/openapi.json"))
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    serde_json::from_str(&response.text().await.expect("body")).expect("the document is JSON")
}

async fn cookie_server(dir: &std::path::Path) -> TestServer {
    let config = Config {
        refresh_cookie: true,
        ..config(dir)
    };
    TestServer::start_with(config, TestClock::new()).await
}

/// Follows a local `$ref`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(pointer) => {
            let target = doc
                .pointer(pointer.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("dangling $ref {pointer}"));
            resolve(doc, target)
        }
        None => schema,
    }
}

/// Why `value` does not match `schema`, for the subset of JSON Schema the document uses.
fn mismatch(doc: &Value, schema: &Value, value: &Value, at: &str) -> Option<String> {
    let schema = resolve(doc, schema);
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema[key].as_array() {
            let matching = options
                .iter()
                .filter(|s| mismatch(doc, s, value, at).is_none())
                .count();
            let ok = if key == "oneOf" {
                matching == 1
            } else {
                matching >= 1
            };
            return (!ok).then(|| format!("{at}: {matching} of the {key} options match {value}"));
        }
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let fits = types.iter().any(|t| match *t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_u64() || value.is_i64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            _ => false,
        });
        if !fits {
            return Some(format!("{at}: {value} is not {types:?}"));
        }
    }
    if let Some(minimum) = schema["minimum"].as_f64()
        && value.as_f64().is_some_and(|v| v < minimum)
    {
        return Some(format!("{at}: {value} < {minimum}"));
    }
    if let Some(object) = value.as_object() {
        let properties = schema["properties"].as_object();
        for required in schema["required"].as_array().into_iter().flatten() {
            let name = required.as_str().unwrap_or_default();
            if !object.contains_key(name) {
                return Some(format!("{at}: required member {name} missing from {value}"));
            }
        }
        for (name, member) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(s) => {
                    if let Some(why) = mismatch(doc, s, member, &format!("{at}.{name}")) {
                        return Some(why);
                    }
                }
                None if schema["additionalProperties"] == json!(false) => {
                    return Some(format!("{at}: member {name} is not documented"));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            if let Some(why) = mismatch(doc, items, item, &format!("{at}[{i}]")) {
                return Some(why);
            }
        }
    }
    None
}

/// Asserts that `response` is one the document describes for `method path`: a documented status, a documented
/// media type, a body matching the schema, and no undocumented `WWW-Authenticate`, `Retry-After` or `Set-Cookie`.
/// Returns the status and the body.
async fn conforms(
    doc: &Value,
    method: &str,
    path: &str,
    response: reqwest::Response,
) -> (u16, Value) {
    let status = response.status().as_u16();
    let operation = &doc["paths"][path][method.to_ascii_lowercase()];
    assert!(operation.is_object(), "{method} {path} is not documented");
    let documented = &operation["responses"][status.to_string()];
    assert!(
        documented.is_object(),
        "{method} {path} answered {status}, which is not documented"
    );
    let headers = response.headers().clone();
    for header in ["www-authenticate", "retry-after", "set-cookie"] {
        if headers.contains_key(header) {
            let listed = documented["headers"]
                .as_object()
                .is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case(header)));
            assert!(
                listed,
                "{method} {path} {status}: {header} is not documented"
            );
        }
    }
    let text = response.text().await.expect("body");
    let content = documented["content"].as_object();
    let Some(content) = content else {
        assert!(
            text.is_empty(),
            "{method} {path} {status}: a body where none is documented: {text}"
        );
        return (status, Value::Null);
    };
    let media = headers
        .get("content-type")
        .map(|v| {
            v.to_str()
                .expect("the expected shape")
                .split(';')
                .next()
                .expect("the expected shape")
                .trim()
                .to_owned()
        })
        .unwrap_or_default();
    let schema = &content.get(&media).unwrap_or_else(|| {
        panic!("{method} {path} {status}: media type {media:?} is not documented")
    })["schema"];
    if matches!(media.as_str(), "text/plain" | "text/html" | "text/css") {
        if media == "text/html" {
            // A page, not a fragment: and the strict headers every page carries.
            assert!(
                text.starts_with("<!doctype html>"),
                "{method} {path} {status}: {text}"
            );
            for header in [
                "content-security-policy",
                "x-content-type-options",
                "cache-control",
            ] {
                assert!(
                    headers.contains_key(header),
                    "{method} {path} {status}: no {header}"
                );
            }
        }
        return (status, Value::String(text));
    }
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{method} {path} {status}: not JSON: {text}"));
    if let Some(why) = mismatch(doc, schema, &body, "body") {
        panic!("{method} {path} {status}: {why}");
    }
    (status, body)
}

/// (path, METHOD) of every operation in the document.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("the expected shape") {
        for method in item.as_object().expect("the expected shape").keys() {
            found.insert((path.clone(), method.to_ascii_uppercase()));
        }
    }
    found
}

#[tokio::test]
async fn the_document_lists_exactly_the_routes_the_router_serves() {
    for (cookie_mode, public_metrics) in [(false, false), (true, false), (false, true)] {
        let served: BTreeSet<(String, String)> =
            waxseal_server::routes::served_routes(public_metrics)
                .into_iter()
                .map(|(path, method)| (path.to_owned(), method.to_string()))
                .collect();
        assert!(served.len() >= 16, "{served:?}");
        let metrics = ("/metrics".to_owned(), "GET".to_owned());
        assert_eq!(served.contains(&metrics), public_metrics, "{served:?}");
        let dir = tempfile::tempdir().expect("the expected shape");
        let config = Config {
            refresh_cookie: cookie_mode,
            public_metrics,
            ..config(dir.path())
        };
        let server = TestServer::start_with(config, TestClock::new()).await;
        let doc = fetch_document(&server).await;
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(
            operations(&doc),
            served,
            "cookie mode {cookie_mode}, public metrics {public_metrics}"
        );
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["bearer"]["scheme"], "bearer");
        assert_eq!(schemes["client_basic"]["scheme"], "basic");
        let mut ids = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("the expected shape") {
            for (method, operation) in item.as_object().expect("the expected shape") {
                assert!(
                    ids.insert(operation["operationId"].to_string()),
                    "operationId repeated at {path}"
                );
                let responses = operation["responses"]
                    .as_object()
                    .expect("the expected shape");
                assert!(!responses.is_empty(), "{method} {path}");
                for (status, response) in responses {
                    for media in response["content"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(_, m)| m)
                    {
                        let _ = resolve(&doc, &media["schema"]);
                    }
                    assert!(
                        response["description"].is_string(),
                        "{method} {path} {status}"
                    );
                }
            }
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn cookie_mode_is_what_the_document_describes_when_it_is_on() {
    let dir = tempfile::tempdir().expect("the expected shape");
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    let body_mode = fetch_document(&server).await;
    server.stop().await;
    let dir = tempfile::tempdir().expect("the expected shape");
    let server = cookie_server(dir.path()).await;
    let cookie_mode = fetch_document(&server).await;
    server.stop().await;

    let refresh = &cookie_mode["paths"]["/refresh"]["post"];
    assert!(refresh["requestBody"].is_null(), "no body in cookie mode");
    let params: Vec<(&str, &str)> = refresh["parameters"]
        .as_array()
        .expect("the expected shape")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().expect("the expected shape"),
                p["in"].as_str().expect("the expected shape"),
            )
        })
        .collect();
    assert_eq!(
        params,
        [
            ("__Secure-waxseal-refresh", "cookie"),
            ("X-CSRF-Token", "header")
        ]
    );
    assert!(refresh["responses"]["403"].is_object());
    let login_200 = &cookie_mode["paths"]["/login"]["post"]["responses"]["200"];
    assert!(login_200["headers"]["Set-Cookie"].is_object());
    let schema = &cookie_mode["components"]["schemas"]["CookieTokenResponse"];
    assert!(schema["properties"]["csrf_token"].is_object());
    assert!(schema["properties"]["refresh_token"].is_null());
    assert!(
        cookie_mode["paths"]["/logout"]["post"]["responses"]["204"]["headers"]["Set-Cookie"]
            .is_object()
    );

    assert!(body_mode["paths"]["/refresh"]["post"]["requestBody"].is_object());
    assert!(body_mode["paths"]["/login"]["post"]["responses"]["403"].is_null());
    assert!(
        body_mode["paths"]["/login"]["post"]["responses"]["200"]["headers"]["Set-Cookie"].is_null()
    );
}

/// A probe: its name, a content type, a header, a body.
type Probe<'a> = (&'a str, Option<&'a str>, Option<(&'a str, &'a str)>, String);

/// Calls every documented operation with no input, garbage, a bad token, a foreign origin and an oversized body.
async fn probe_every_operation(server: &TestServer) {
    let doc = fetch_document(server).await;
    let big = "x".repeat(20 * 1024);
    for (path, method) in operations(&doc) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("the expected shape");
        let probes: Vec<Probe> = vec![
            ("nothing", None, None, String::new()),
            ("bad json", Some("application/json"), None, "{".into()),
            ("wrong json", Some("application/json"), None, "[1]".into()),
            (
                "bad form",
                Some("application/x-www-form-urlencoded"),
                None,
                "a=%zz&a=1".into(),
            ),
            ("text", Some("text/plain"), None, "hello".into()),
            ("oversized", Some("application/json"), None, big.clone()),
            (
                "bad bearer",
                None,
                Some(("authorization", "Bearer not.a.token")),
                String::new(),
            ),
            (
                "bad basic",
                Some("application/x-www-form-urlencoded"),
                Some(("authorization", "Basic !!!")),
                "token=x".into(),
            ),
            (
                "foreign origin",
                Some("application/json"),
                Some(("origin", "https://evil.example")),
                "{}".into(),
            ),
            (
                "bad cookie",
                None,
                Some(("cookie", "__Secure-waxseal-refresh=garbage")),
                String::new(),
            ),
        ];
        for (probe, content_type, header, body) in probes {
            let mut request = server
                .client
                .request(method.clone(), server.at(&path))
                .body(body);
            if let Some(content_type) = content_type {
                request = request.header("content-type", content_type);
            }
            if let Some((name, value)) = header {
                request = request.header(name, value);
            }
            let response = request.send().await.expect("request sent");
            let status = response.status().as_u16();
            assert!(status < 500, "{method} {path} with {probe}: {status}");
            conforms(&doc, method.as_str(), &path, response).await;
        }
    }
}

#[tokio::test]
async fn every_operation_answers_documented_statuses_to_bad_input() {
    let dir = tempfile::tempdir().expect("the expected shape");
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    probe_every_operation(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn every_operation_answers_documented_statuses_to_bad_input_in_cookie_mode() {
    let dir = tempfile::tempdir().expect("the expected shape");
    let server = cookie_server(dir.path()).await;
    probe_every_operation(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn successful_responses_match_their_schemas() {
    let dir = tempfile::tempdir().expect("the expected shape");
    // Public metrics on, so that the document describes `GET /metrics` and its answer is checked too.
    let config = Config {
        public_metrics: true,
        ..config(dir.path())
    };
    let server = TestServer::start_with(config, TestClock::new()).await;
    let doc = fetch_document(&server).await;
    server.add_user("ada", &["read"]).await;
    let (client_id, secret) = server
        .add_client(
            "app",
            &[
                GrantType::Password,
                GrantType::RefreshToken,
                GrantType::ClientCredentials,
            ],
            &["read"],
        )
        .await;
    let auth = basic(&client_id, &secret);
    let c = &server.client;
    let post_json = |path: &str, body: Value| c.post(server.at(path)).json(&body).send();

    let response = post_json("/login", json!({"username": "ada", "password": PASSWORD}))
        .await
        .expect("the expected shape");
    let (status, body) = conforms(&doc, "POST", "/login", response).await;
    assert_eq!(status, 200);
    let (access, refresh) = tokens(&body);
    let response = post_json("/refresh", json!({"refresh_token": refresh}))
        .await
        .expect("the expected shape");
    assert_eq!(conforms(&doc, "POST", "/refresh", response).await.0, 200);
    for path in ["/api/me", "/api/protected", "/api/admin"] {
        let response = c
            .get(server.at(path))
            .bearer_auth(&access)
            .send()
            .await
            .expect("the expected shape");
        let expected = if path == "/api/admin" { 403 } else { 200 };
        assert_eq!(
            conforms(&doc, "GET", path, response).await.0,
            expected,
            "{path}"
        );
    }
    let form = |path: &str, params: &[(&str, &str)]| {
        c.post(server.at(path))
            .header("authorization", &auth)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(common::form(params))
            .send()
    };
    let response = form(
        "/oauth/token",
        &[
            ("grant_type", "password"),
            ("username", "ada"),
            ("password", PASSWORD),
        ],
    )
    .await
    .expect("the expected shape");
    let (status, token) = conforms(&doc, "POST", "/oauth/token", response).await;
    assert_eq!(status, 200);
    let response = form("/oauth/token", &[("grant_type", "client_credentials")])
        .await
        .expect("the expected shape");
    assert_eq!(
        conforms(&doc, "POST", "/oauth/token", response).await.0,
        200
    );
    let oauth_access = token["access_token"].as_str().expect("the expected shape");
    for token in [oauth_access, "not-a-token"] {
        let response = form("/oauth/introspect", &[("token", token)])
            .await
            .expect("the expected shape");
        assert_eq!(
            conforms(&doc, "POST", "/oauth/introspect", response)
                .await
                .0,
            200
        );
    }
    let response = form("/oauth/revoke", &[("token", oauth_access)])
        .await
        .expect("the expected shape");
    assert_eq!(
        conforms(&doc, "POST", "/oauth/revoke", response).await.0,
        200
    );
    for path in [
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    ] {
        let response = c
            .get(server.at(path))
            .send()
            .await
            .expect("the expected shape");
        assert_eq!(conforms(&doc, "GET", path, response).await.0, 200, "{path}");
    }
    let response = c
        .post(server.at("/logout?all=true"))
        .bearer_auth(&access)
        .json(&Value::Null)
        .send()
        .await
        .expect("request sent");
    assert_eq!(conforms(&doc, "POST", "/logout", response).await.0, 204);
    server.stop().await;
}

#[tokio::test]
async fn the_schema_check_refuses_what_the_document_does_not_allow() {
    let dir = tempfile::tempdir().expect("the expected shape");
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    let doc = fetch_document(&server).await;
    server.stop().await;
    let schema = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    let error = json!({"error": "x", "error_description": "y"});
    assert_eq!(mismatch(&doc, &schema("ErrorBody"), &error, "body"), None);
    let extra = json!({"error": "x", "error_description": "y", "refresh_token": "z"});
    assert!(mismatch(&doc, &schema("ErrorBody"), &extra, "body").is_some());
    let missing = json!({"access_token": "a", "token_type": "Bearer", "expires_in": 1, "refresh_expires_in": 2});
    assert!(mismatch(&doc, &schema("TokenResponse"), &missing, "body").is_some());
    let negative = json!({"access_token": "a", "token_type": "Bearer", "expires_in": -1});
    assert!(mismatch(&doc, &schema("OAuthTokenResponse"), &negative, "body").is_some());
    assert!(
        mismatch(
            &doc,
            &schema("JwkSet"),
            &json!({"keys": [{"kty": "EC"}]}),
            "body"
        )
        .is_some()
    );
    assert!(
        mismatch(
            &doc,
            &schema("IntrospectionResponse"),
            &json!({"active": false}),
            "body"
        )
        .is_none()
    );
}

#[tokio::test]
async fn cookie_mode_responses_match_their_schemas() {
    let dir = tempfile::tempdir().expect("the expected shape");
    let server = cookie_server(dir.path()).await;
    let doc = fetch_document(&server).await;
    server.add_user("ada", &[]).await;
    let c = &server.client;
    let response = c
        .post(server.at("/login"))
        .json(&json!({"username": "ada", "password": PASSWORD}))
        .send()
        .await
        .expect("request sent");
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .expect("the expected shape")
        .to_owned();
    let (status, body) = conforms(&doc, "POST", "/login", response).await;
    assert_eq!(status, 200);
    let cookie = set_cookie
        .split(';')
        .next()
        .expect("the expected shape")
        .to_owned();
    let csrf = body["csrf_token"]
        .as_str()
        .expect("the expected shape")
        .to_owned();
    let response = c
        .post(server.at("/refresh"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .expect("request sent");
    let (status, body) = conforms(&doc, "POST", "/refresh", response).await;
    assert_eq!(status, 200);
    // The consumed cookie again: 401 clearing the cookie, as documented.
    let response = c
        .post(server.at("/refresh"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .expect("request sent");
    assert_eq!(conforms(&doc, "POST", "/refresh", response).await.0, 401);
    let response = c
        .post(server.at("/logout"))
        .bearer_auth(body["access_token"].as_str().expect("the expected shape"))
        .send()
        .await
        .expect("request sent");
    assert_eq!(
        conforms(&doc, "POST", "/logout", response).await.0,
        401,
        "the session was revoked by reuse"
    );
    server.stop().await;
}

/// What schemathesis found: the forms must say that unknown parameters are single strings (a repeated one is
/// refused), that an empty optional parameter is fine (it counts as absent) and which parameters each grant needs.
#[tokio::test]
async fn the_oauth_forms_describe_what_the_server_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    let doc = fetch_document(&server).await;
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["TokenRequest"]["oneOf"].as_array().map(Vec::len),
        Some(3)
    );
    assert_eq!(
        schemas["PasswordGrant"]["required"],
        json!(["grant_type", "username", "password"])
    );
    assert_eq!(
        schemas["RefreshTokenGrant"]["required"],
        json!(["grant_type", "refresh_token"])
    );
    assert_eq!(schemas["TokenLookup"]["required"], json!(["token"]));
    for form in [
        "PasswordGrant",
        "RefreshTokenGrant",
        "ClientCredentialsGrant",
        "TokenLookup",
    ] {
        assert_eq!(
            schemas[form]["additionalProperties"],
            json!({"type": "string"}),
            "{form}"
        );
    }

    let (client_id, secret) = server
        .add_client("app", &[GrantType::ClientCredentials], &[])
        .await;
    let auth = basic(&client_id, &secret);
    let empty_scope = server
        .oauth(
            "/oauth/token",
            Some(&auth),
            &[
                ("grant_type", "client_credentials"),
                ("scope", ""),
                ("extra", "x"),
            ],
        )
        .await;
    assert_eq!(empty_scope.status, 200, "{empty_scope:?}");
    let repeated = server
        .oauth(
            "/oauth/revoke",
            Some(&auth),
            &[("token", "t"), ("extra", "1"), ("extra", "2")],
        )
        .await;
    repeated.assert_error(400, "invalid_request");
    server
        .oauth("/oauth/revoke", Some(&auth), &[("token", "")])
        .await
        .assert_error(400, "invalid_request");
    server.stop().await;
}

/// What schemathesis found (scripts/api-contract.sh): `POST /logout` refuses `{"refresh_token": ""}` with 400, so
/// the document must not call an empty refresh token valid. Both operations that take the body say `minLength: 1`,
/// and a request the schema allows is not refused as malformed.
#[tokio::test]
async fn an_empty_refresh_token_is_outside_the_documented_schema() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = TestServer::start(dir.path(), TestClock::new()).await;
    let doc = fetch_document(&server).await;
    let token = &doc["components"]["schemas"]["RefreshRequest"]["properties"]["refresh_token"];
    assert_eq!(token["minLength"], json!(1), "{token}");
    for path in ["/refresh", "/logout"] {
        let body =
            &doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"];
        assert!(
            body.to_string()
                .contains("#/components/schemas/RefreshRequest"),
            "{path}: {body}"
        );
    }

    server.add_user("ada", &[]).await;
    let (access, _) = server.login_ok("ada").await;
    let c = &server.client;
    let empty = json!({"refresh_token": ""});
    let response = c
        .post(server.at("/logout"))
        .bearer_auth(&access)
        .json(&empty)
        .send()
        .await
        .expect("request sent");
    let (status, body) = conforms(&doc, "POST", "/logout", response).await;
    assert_eq!((status, &body["error"]), (400, &json!("invalid_request")));
    let response = c
        .post(server.at("/refresh"))
        .json(&empty)
        .send()
        .await
        .expect("request sent");
    let (status, _) = conforms(&doc, "POST", "/refresh", response).await;
    assert!((400..500).contains(&status), "{status}");
    // The smallest body the schema allows is taken: the session ends.
    let response = c
        .post(server.at("/logout"))
        .bearer_auth(&access)
        .json(&json!({"refresh_token": "x"}))
        .send()
        .await
        .expect("request sent");
    assert_eq!(conforms(&doc, "POST", "/logout", response).await.0, 204);
    server.stop().await;
}
