//! An orders API that takes both kinds of access token a running `waxseal serve` issues: bearer tokens, and
//! DPoP-bound tokens (RFC 9449) — tokens bound to a key the client holds, good only with a fresh proof by it.
//!
//! ```sh
//! cargo run -p waxseal-cli -- serve                                # terminal 1: the auth server on :8080
//! cargo run -p waxseal-axum --example dpop_api                     # terminal 2: this API on :3000
//! waxseal keygen --alg ES256 --out client.jwk > client.pub.jwk     # the client's DPoP key
//! # TOKEN: a DPoP-bound token, from the auth server's token endpoint asked with a DPoP proof by client.jwk
//! # (RFC 9449 §5); its cnf.jkt is client.jwk's thumbprint. Then one fresh proof per request:
//! PROOF=$(waxseal dpop --key client.jwk --method GET --url http://127.0.0.1:3000/orders)
//! curl -s localhost:3000/orders -H "authorization: DPoP $TOKEN" -H "dpop: $PROOF"   # 200, once per proof
//! curl -s localhost:3000/whoami -H "authorization: Bearer $BEARER"                 # an unbound token: as before
//! ```
//!
//! `waxseal dpop --key KEY --method METHOD --url URL` prints a proof for one request. A proof sent with an access
//! token must also carry the token's hash (`ath`); see `waxseal dpop --help` for the option that adds it. The URL
//! is the one the client calls — this API's public URL and the path — and the method must be the request's.
//!
//! Settings (flag, else variable, else default): `--issuer URL` / `API_ISSUER` (`http://127.0.0.1:8080`),
//! `--audience AUD` / `API_AUDIENCE` (`waxseal-api`), `--listen ADDR` / `API_LISTEN` (`127.0.0.1:3000`),
//! `--public-url URL` / `API_PUBLIC_URL` (`http://` and the listen address: what clients call, proxy and path
//! prefix included, e.g. `https://example.com/orders-api`), `--dpop-only` / `API_DPOP_ONLY=1` (refuse bearer tokens).
//!
//! What each request gets:
//!
//! * `Authorization: Bearer` with a token without `cnf`: checked as by `examples/protected_api.rs`.
//! * `Authorization: DPoP` with one `DPoP` header: the token as above, then the proof — signed by the key of the
//!   token's `cnf.jkt`, for this method and public URL, made in the last minute, carrying this token's hash —,
//!   and the proof must be new: this API remembers used proofs (in memory; several instances need a shared
//!   `ReplayStore`). A refusal is 401 `DPoP error="invalid_dpop_proof"`.
//! * A DPoP-bound token sent as `Bearer` is refused: someone who copied it has no key to make proofs with, which is
//!   the point.
//!
//! `GET /whoami` says which kind of token came and, for a DPoP-bound one, the key's thumbprint.
// A test includes this file as a module and uses the pieces, not `main`.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::Router;
use axum::response::Json;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use waxseal::Algorithm;
use waxseal::dpop::ProofVerifier;
use waxseal_axum::dpop::MemoryReplayStore;
use waxseal_axum::{
    Authenticated, BearerAuthLayer, Claims, Dpop, RequireScope, Scopes, TokenClaims, TokenVerifier,
};
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
}

impl TokenClaims for Access {
    fn scopes(&self) -> Scopes<'_> {
        Scopes::space_separated(self.scope.as_deref())
    }
}

/// Where the issuer is, what audience to require, where to listen, and where clients call from.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The issuer URL, exactly as its tokens' `iss` says.
    pub issuer: String,
    /// The `aud` every token must name.
    pub audience: String,
    /// The address to listen on.
    pub listen: SocketAddr,
    /// The URL clients call this API at: the base of every proof's `htu`.
    pub public_url: String,
    /// Refuse bearer tokens.
    pub dpop_only: bool,
}

const USAGE: &str = "usage: dpop_api [--issuer URL] [--audience AUD] [--listen ADDR] [--public-url URL] [--dpop-only]";

impl Settings {
    /// From the flags, else `API_ISSUER`, `API_AUDIENCE`, `API_LISTEN`, `API_PUBLIC_URL`, `API_DPOP_ONLY`, else the
    /// defaults.
    pub fn from_args_and_env(args: impl IntoIterator<Item = String>) -> Result<Settings, String> {
        let var = |name: &str| std::env::var(name).ok();
        let (mut issuer, mut audience) = (var("API_ISSUER"), var("API_AUDIENCE"));
        let (mut listen, mut public_url) = (var("API_LISTEN"), var("API_PUBLIC_URL"));
        let mut dpop_only = var("API_DPOP_ONLY").is_some_and(|v| v == "1" || v == "true");
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
                "--public-url" => &mut public_url,
                "--dpop-only" => {
                    dpop_only = true;
                    continue;
                }
                "-h" | "--help" => return Err(USAGE.into()),
                other => return Err(format!("unknown argument {other:?}; try --help")),
            };
            *slot = Some(
                inline
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{name} needs a value"))?,
            );
        }
        let listen = listen.unwrap_or_else(|| "127.0.0.1:3000".into());
        let listen: SocketAddr = listen
            .parse()
            .map_err(|_| format!("--listen {listen:?} is not an address like 127.0.0.1:3000"))?;
        Ok(Settings {
            issuer: issuer.unwrap_or_else(|| "http://127.0.0.1:8080".into()),
            audience: audience.unwrap_or_else(|| "waxseal-api".into()),
            public_url: public_url.unwrap_or_else(|| format!("http://{listen}")),
            listen,
            dpop_only,
        })
    }

    /// The DPoP policy: proofs checked against the public URL, ES256 and EdDSA keys, used proofs remembered here.
    pub fn dpop(&self) -> Result<Dpop, String> {
        let policy = Dpop::new(self.public_url.as_str())
            .map_err(|e| format!("--public-url: {e}"))?
            .verifier(ProofVerifier::new().algorithms([Algorithm::ES256, Algorithm::EdDSA]))
            .replay_store(MemoryReplayStore::new(100_000));
        Ok(if self.dpop_only {
            policy.required()
        } else {
            policy
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
                 point this API at it with --issuer URL."
            )
        })?;
    discovered.key_set().keys().await.map_err(|e| {
        format!(
            "the issuer {issuer} publishes its keys at {}, which could not be used: {e}",
            discovered.key_set().url()
        )
    })?;
    let audience = audience.to_owned();
    Ok(discovered
        .verifier()
        .configure(move |v| v.audience(audience.clone()).typ("at+jwt")))
}

/// `GET /orders` (scope `read:orders`) and `GET /whoami`, behind one layer taking both schemes as `dpop` says.
pub fn router(verifier: impl TokenVerifier, dpop: Dpop) -> Router {
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
                .realm("orders")
                .dpop(dpop),
        )
}

async fn orders(Claims(claims): Claims<Access>) -> Json<Value> {
    Json(json!({
        "customer": claims.registered.sub,
        "orders": [{ "id": "o-1001", "item": "sealing wax, red", "quantity": 3 }],
    }))
}

async fn whoami(auth: Authenticated) -> Json<Value> {
    Json(json!({
        "sub": auth.subject(),
        "token": if auth.dpop_jkt().is_some() { "DPoP-bound" } else { "bearer" },
        "jkt": auth.dpop_jkt(),
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
    let dpop = match settings.dpop() {
        Ok(dpop) => dpop,
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
    let public = dpop.public_url().to_owned();
    println!(
        "orders API listening on {}, called as {public}, trusting tokens of {}",
        settings.listen, settings.issuer
    );
    println!(
        "  bearer tokens: {}",
        if settings.dpop_only {
            "refused (--dpop-only)"
        } else {
            "accepted unless DPoP-bound"
        }
    );
    println!(
        "  try: curl -s {public}/whoami -H \"authorization: DPoP $TOKEN\" \
         -H \"dpop: $(waxseal dpop --key client.jwk --method GET --url {public}/whoami)\""
    );
    if let Err(e) = axum::serve(listener, router(verifier, dpop)).await {
        eprintln!("the server stopped: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
