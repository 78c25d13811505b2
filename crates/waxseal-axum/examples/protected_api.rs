//! A small orders API protected by a running `waxseal serve`, through the server's published keys.
//!
//! ```sh
//! cargo run -p waxseal-cli -- serve                                   # terminal 1: the auth server on :8080
//! printf '%s' 'a long passphrase' | cargo run -q -p waxseal-cli -- user add alice --password-stdin --scope read:orders
//! cargo run -p waxseal-axum --example protected_api                   # terminal 2: this API on :3000
//! TOKEN=$(curl -s localhost:8080/login -H 'content-type: application/json' \
//!          -d '{"username":"alice","password":"a long passphrase"}' | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
//! curl -s localhost:3000/orders -H "authorization: Bearer $TOKEN"    # 200; 403 insufficient_scope without read:orders
//! curl -s localhost:3000/whoami -H "authorization: Bearer $TOKEN"    # any valid token: its claims
//! ```
//!
//! Settings (flag, else variable, else default): `--issuer URL` / `API_ISSUER` (`http://127.0.0.1:8080`, what
//! `waxseal serve` calls itself), `--audience AUD` / `API_AUDIENCE` (`waxseal-api`, the server's default `aud`),
//! `--listen ADDR` / `API_LISTEN` (`127.0.0.1:3000`).
//!
//! How it works: at start the API fetches the issuer's discovery document (`Issuer::discover`), which must name the
//! same issuer, and from it the JWK Set. Every request's token must be signed by one of those keys and carry
//! `iss` = the issuer, `aud` = the audience and `typ: at+jwt` (RFC 9068); the JWK Set is cached as its
//! `Cache-Control` says, and a token naming a `kid` the cache lacks (the server rotated its key) makes the API
//! refetch it once, rate-limited.
//!
//! What it cannot see: `POST /logout` at the auth server revokes the session there, but this API only has the
//! public keys, not the server's denylist, so a logged-out access token stays valid here until it expires (15
//! minutes by default; shorten it with `waxseal serve --access-ttl`). If that is too long for you, add a
//! `BearerAuthLayer::revocation` check that asks the server (for example RFC 7662 introspection with a registered
//! client) — a request per request, which is the price of instant revocation.
// The end-to-end test includes this file as a module and uses the pieces, not `main`.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::Router;
use axum::response::Json;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use waxseal_axum::{BearerAuthLayer, Claims, RequireScope, Scopes, TokenClaims};
use waxseal_remote::{Issuer, Options, RemoteVerifier};

/// The scope `GET /orders` requires.
pub const READ_ORDERS: &str = "read:orders";

/// The claims of a `waxseal serve` access token beyond the registered ones.
#[derive(Debug, Deserialize)]
pub struct Access {
    /// Space-separated scopes; absent when the user has none.
    pub scope: Option<String>,
    /// The OAuth client the token was issued to.
    pub client_id: Option<String>,
    /// The session at the auth server.
    pub sid: Option<String>,
}

impl TokenClaims for Access {
    fn scopes(&self) -> Scopes<'_> {
        Scopes::space_separated(self.scope.as_deref())
    }
}

/// Where the issuer is, what audience to require, where to listen.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The issuer URL, exactly as its tokens' `iss` says.
    pub issuer: String,
    /// The `aud` every token must name.
    pub audience: String,
    /// The address to listen on.
    pub listen: SocketAddr,
}

impl Settings {
    /// From `--issuer`, `--audience`, `--listen` (or `--name=value`), else `API_ISSUER`, `API_AUDIENCE`,
    /// `API_LISTEN`, else the defaults.
    pub fn from_args_and_env(args: impl IntoIterator<Item = String>) -> Result<Settings, String> {
        let mut issuer = std::env::var("API_ISSUER").ok();
        let mut audience = std::env::var("API_AUDIENCE").ok();
        let mut listen = std::env::var("API_LISTEN").ok();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
                None => (arg, None),
            };
            let slot = match name.as_str() {
                "--issuer" => &mut issuer,
                "--audience" => &mut audience,
                "--listen" => &mut listen,
                "-h" | "--help" => {
                    return Err(
                        "usage: protected_api [--issuer URL] [--audience AUD] [--listen ADDR]"
                            .into(),
                    );
                }
                other => return Err(format!("unknown argument {other:?}; try --help")),
            };
            *slot = Some(
                inline
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{name} needs a value"))?,
            );
        }
        let listen = listen.unwrap_or_else(|| "127.0.0.1:3000".into());
        Ok(Settings {
            issuer: issuer.unwrap_or_else(|| "http://127.0.0.1:8080".into()),
            audience: audience.unwrap_or_else(|| "waxseal-api".into()),
            listen: listen.parse().map_err(|_| {
                format!("--listen {listen:?} is not an address like 127.0.0.1:3000")
            })?,
        })
    }
}

/// Discovers `issuer` and fetches its keys once, so that a wrong URL shows at start rather than as 503s later.
/// The verifier requires the issuer, `audience` and `typ: at+jwt`.
pub async fn verifier(
    issuer: &str,
    audience: &str,
    options: Options,
) -> Result<RemoteVerifier, String> {
    let discovered = Issuer::discover_with_options(issuer, options)
        .await
        .map_err(|e| {
            format!(
                "cannot discover the issuer {issuer}: {e}\n\
                 Is `waxseal serve` running at {issuer}? Start it with `cargo run -p waxseal-cli -- serve`, or \
                 point this API at it with --issuer URL (the URL it prints after \"listening on\")."
            )
        })?;
    let keys = discovered.key_set().keys().await.map_err(|e| {
        format!(
            "the issuer {issuer} publishes its keys at {}, which could not be used: {e}",
            discovered.key_set().url()
        )
    })?;
    if keys.set.keys().is_empty() {
        return Err(format!(
            "the issuer {issuer} publishes no usable public key at {} (a server signing with HMAC publishes none)",
            discovered.key_set().url()
        ));
    }
    let audience = audience.to_owned();
    Ok(discovered
        .verifier()
        .configure(move |v| v.audience(audience.clone()).typ("at+jwt")))
}

/// `GET /orders` (scope `read:orders`) and `GET /whoami` (any valid token), behind one bearer layer.
pub fn router(verifier: RemoteVerifier) -> Router {
    Router::new()
        .route(
            "/orders",
            get(orders).route_layer(RequireScope::all([READ_ORDERS])),
        )
        .route("/whoami", get(whoami))
        .layer(
            BearerAuthLayer::new(verifier)
                .claims::<Access>()
                .cache(10_000)
                .realm("orders"),
        )
}

async fn orders(Claims(claims): Claims<Access>) -> Json<Value> {
    let customer = claims.registered.sub.as_deref().unwrap_or_default();
    Json(json!({
        "customer": customer,
        "orders": [
            { "id": "o-1001", "item": "sealing wax, red", "quantity": 3 },
            { "id": "o-1002", "item": "brass seal, monogram", "quantity": 1 },
        ],
    }))
}

async fn whoami(Claims(claims): Claims<Access>) -> Json<Value> {
    let registered = &claims.registered;
    Json(json!({
        "sub": registered.sub,
        "iss": registered.iss,
        "exp": registered.exp.map(waxseal::jwt::NumericDate::secs),
        "scope": claims.custom.scope,
        "client_id": claims.custom.client_id,
        "sid": claims.custom.sid,
    }))
}

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match Settings::from_args_and_env(std::env::args().skip(1)) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let verifier = match verifier(&settings.issuer, &settings.audience, Options::default()).await {
        Ok(verifier) => verifier,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(settings.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!(
                "cannot listen on {}: {e}; choose another address with --listen ADDR",
                settings.listen
            );
            return ExitCode::FAILURE;
        }
    };
    let url = format!("http://{}", settings.listen);
    println!(
        "orders API listening on {url}, trusting tokens of {}",
        settings.issuer
    );
    println!("  GET {url}/orders   needs scope {READ_ORDERS}");
    println!("  GET {url}/whoami   any valid token");
    println!(
        "  try: curl -s {url}/whoami -H \"authorization: Bearer $TOKEN\"   (TOKEN from POST {}/login)",
        settings.issuer
    );
    if let Err(e) = axum::serve(listener, router(verifier)).await {
        eprintln!("the server stopped: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
