//! An MCP server whose tools only a token from waxseal opens: the official Rust SDK's (rmcp) streamable HTTP
//! transport behind [`waxseal_axum::BearerAuthLayer`].
//!
//! What an MCP client that knows nothing but this server's URL does with it, and what answers it here:
//!
//! 1. It calls the URL without a token and gets a 401 whose `WWW-Authenticate` names the protected resource
//!    metadata (`resource_metadata="…"`, RFC 9728) and the scope to ask for (`scope="mcp:tools"`).
//! 2. It reads the document (served by [`waxseal_axum::ResourceMetadata::router`]): this server's resource URL and
//!    the waxseal issuer that issues its tokens.
//! 3. It discovers the issuer (RFC 8414), registers itself (RFC 7591, `waxseal serve --allow-registration`),
//!    sends the person to the issuer's sign-in and consent pages with PKCE and `resource=` this URL (RFC 8707),
//!    and exchanges the code for a token whose only `aud` is this URL.
//! 4. It calls again with the token; the layer checks the signature (the issuer's JWK Set), the issuer, the
//!    audience (this URL: a token for another resource is refused), `typ: at+jwt` and the scope.
//!
//! [`Config`] says where the issuer is and where this server is reached; [`app`] discovers the issuer and builds
//! the router; [`router`] builds it from a verifier (what the tests call). `main.rs` reads the configuration from
//! the arguments and the environment and serves.

mod tools;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use axum::Router;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde::Deserialize;
use url::Url;
use waxseal_axum::{BearerAuthLayer, ProtectedResource, RequireScope, Scopes, TokenClaims};
use waxseal_remote::{Issuer, RemoteVerifier};

pub use tools::{AddArguments, Tools};

/// The scope a token needs to call the tools: register the resource with it (`waxseal resource add URL --scope
/// mcp:tools`) and give it to the people who may use them (`waxseal user add NAME --scope mcp:tools`).
pub const SCOPE: &str = "mcp:tools";

/// The claims of a waxseal access token this server reads beyond the registered ones.
#[derive(Debug, Deserialize)]
pub struct Access {
    /// Space-separated scopes.
    pub scope: Option<String>,
    /// The OAuth client the token was issued to (for an MCP client, the one it registered).
    pub client_id: Option<String>,
}

impl TokenClaims for Access {
    fn scopes(&self) -> Scopes<'_> {
        Scopes::space_separated(self.scope.as_deref())
    }
}

/// Where the issuer is, where this server is reached, where it listens.
#[derive(Debug, Clone)]
pub struct Config {
    /// The waxseal issuer URL, exactly as its tokens' `iss` says (`--issuer`, `WAXSEAL_ISSUER`).
    pub issuer: String,
    /// The URL MCP clients call (`--url`, `MCP_URL`), such as `https://mcp.example.com/mcp`: the resource
    /// identifier of RFC 9728 and RFC 8707, so the `aud` its tokens must carry. The MCP endpoint is served at its
    /// path, and only requests naming its host (and port) are taken (DNS rebinding).
    pub url: String,
    /// Where to listen (`--listen`, `MCP_LISTEN`); by default the URL's host and port.
    pub listen: SocketAddr,
}

impl Config {
    /// From `--issuer`, `--url`, `--listen` (or `--name=value`), else `WAXSEAL_ISSUER`, `MCP_URL`, `MCP_LISTEN`,
    /// else `http://127.0.0.1:8080` (what `waxseal serve` calls itself), `http://127.0.0.1:3000/mcp` and the URL's
    /// address.
    pub fn from_args_and_env(args: impl IntoIterator<Item = String>) -> anyhow::Result<Config> {
        let mut issuer = std::env::var("WAXSEAL_ISSUER").ok();
        let mut url = std::env::var("MCP_URL").ok();
        let mut listen = std::env::var("MCP_LISTEN").ok();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
                None => (arg, None),
            };
            let slot = match name.as_str() {
                "--issuer" => &mut issuer,
                "--url" => &mut url,
                "--listen" => &mut listen,
                "-h" | "--help" => bail!(
                    "usage: waxseal-example-mcp-server [--issuer URL] [--url URL] [--listen ADDR]"
                ),
                other => bail!("unknown argument {other:?}; try --help"),
            };
            *slot = Some(
                inline
                    .or_else(|| args.next())
                    .with_context(|| format!("{name} needs a value"))?,
            );
        }
        let url = url.unwrap_or_else(|| "http://127.0.0.1:3000/mcp".into());
        let listen = match listen {
            Some(listen) => listen.parse().with_context(|| {
                format!("--listen {listen:?} is not an address like 127.0.0.1:3000")
            })?,
            None => url_address(&url)?,
        };
        Ok(Config {
            issuer: issuer.unwrap_or_else(|| "http://127.0.0.1:8080".into()),
            url,
            listen,
        })
    }
}

/// The address an `http://IP:PORT/…` URL names, to listen on when `--listen` is not given.
fn url_address(url: &str) -> anyhow::Result<SocketAddr> {
    let parsed = Url::parse(url).with_context(|| format!("--url {url:?} is not a URL"))?;
    let port = parsed
        .port_or_known_default()
        .context("--url has no port")?;
    match parsed.host() {
        Some(url::Host::Ipv4(ip)) => Ok(SocketAddr::from((ip, port))),
        Some(url::Host::Ipv6(ip)) => Ok(SocketAddr::from((ip, port))),
        _ => bail!("--url {url:?} names no IP address to listen on: give --listen ADDR"),
    }
}

/// Discovers `config.issuer` and fetches its keys once, so that a wrong URL shows at start, then builds the
/// [`router`].
pub async fn app(config: &Config) -> anyhow::Result<Router> {
    let discovered = Issuer::discover(&config.issuer).await.with_context(|| {
        format!(
            "cannot discover the issuer {}: is `waxseal serve` running there? (--issuer URL)",
            config.issuer
        )
    })?;
    discovered.key_set().keys().await.with_context(|| {
        format!(
            "the issuer's keys at {} could not be fetched",
            discovered.key_set().url()
        )
    })?;
    router(config, discovered.verifier())
}

/// The MCP endpoint at the path of `config.url`, behind a bearer layer that takes tokens `verifier` accepts for
/// this resource (`aud` = `config.url`, `typ: at+jwt`) with the scope [`SCOPE`]; and the protected resource
/// metadata, public, at its well-known URLs.
pub fn router(config: &Config, verifier: RemoteVerifier) -> anyhow::Result<Router> {
    let metadata = ProtectedResource::new(&config.url)
        .authorization_server(&config.issuer)
        .scopes([SCOPE])
        .resource_name("waxseal example MCP server")
        .build()
        .context("the protected resource metadata")?;
    let url = Url::parse(&config.url).with_context(|| format!("--url {:?}", config.url))?;
    let host = url.host_str().context("--url has no host")?;
    // The authority clients put in `Host`; rmcp refuses others (its default allows loopback names only).
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let audience = config.url.clone();
    let verifier = verifier.configure(move |v| v.audience(audience.clone()).typ("at+jwt"));
    let mcp = StreamableHttpService::new(
        || Ok(Tools::default()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default().with_allowed_hosts([authority]),
    );
    Ok(Router::new()
        .route_service(url.path(), mcp)
        .route_layer(RequireScope::all([SCOPE]))
        .layer(
            BearerAuthLayer::new(verifier)
                .claims::<Access>()
                .cache(10_000)
                .protected_resource(&metadata),
        )
        .merge(metadata.router()))
}

#[cfg(test)]
mod tests {
    use super::{Config, url_address};

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn arguments_name_the_issuer_the_url_and_the_address() {
        let config = Config::from_args_and_env(args(&[
            "--issuer",
            "https://auth.example.com",
            "--url=https://mcp.example.com/mcp",
            "--listen",
            "0.0.0.0:8000",
        ]))
        .unwrap();
        assert_eq!(config.issuer, "https://auth.example.com");
        assert_eq!(config.url, "https://mcp.example.com/mcp");
        assert_eq!(config.listen.to_string(), "0.0.0.0:8000");

        for (bad, says) in [
            (&["--port", "1"][..], "unknown argument"),
            (&["--url"], "--url needs a value"),
            (&["--listen", "here"], "not an address"),
        ] {
            let error = Config::from_args_and_env(args(bad)).unwrap_err();
            assert!(format!("{error:#}").contains(says), "{bad:?}: {error:#}");
        }
    }

    #[test]
    fn without_listen_the_url_says_where() {
        assert_eq!(
            url_address("http://127.0.0.1:3000/mcp")
                .unwrap()
                .to_string(),
            "127.0.0.1:3000"
        );
        assert_eq!(
            url_address("http://[::1]/mcp").unwrap().to_string(),
            "[::1]:80"
        );
        let error = url_address("https://mcp.example.com/mcp").unwrap_err();
        assert!(
            format!("{error:#}").contains("give --listen ADDR"),
            "{error:#}"
        );
    }
}
