//! `waxseal serve`: the auth server of `waxseal-server`, on a tokio runtime this command builds.

use std::process::ExitCode;

use anyhow::Context as _;
use waxseal_server::{Config, Database, Server};

use super::settings::{Effective, master_key};
use crate::cli::{DataDirArg, ServeArgs};
use crate::debugger::{self, Options};
use crate::style::Style;
use crate::{Failure, Outcome};

/// The configuration of an admin command (`user`, `client`, `keys`, `migrate`): data directory and database.
pub(super) fn admin_config(data: &DataDirArg) -> Result<Config, Failure> {
    Ok(Config {
        database: Database::from_url(data.database_url.as_deref())
            .map_err(|e| Failure::usage(anyhow::anyhow!(e)))?,
        data_dir: data.data_dir.clone(),
        master_key: master_key()?,
        ..Config::default()
    })
}

/// Logs go to stderr; `RUST_LOG` overrides the default of `info`.
pub(super) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second initialisation (never in the binary) is harmless.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colors only on a terminal: a log file or journal gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(Failure::usage)
}

/// Listens for SIGINT (Ctrl-C) and SIGTERM from the moment it is called (inside the runtime) and returns a future
/// that completes on the first of them. Installing the handlers before the server announces itself matters: a
/// signal that arrived between the announcement and the first poll of a lazily installed handler would kill the
/// process without a graceful shutdown.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).ok();
        let mut terminate = signal(SignalKind::terminate()).ok();
        async move {
            let interrupted = async {
                match interrupt.as_mut() {
                    Some(s) => drop(s.recv().await),
                    None => std::future::pending::<()>().await,
                }
            };
            let terminated = async {
                match terminate.as_mut() {
                    Some(s) => drop(s.recv().await),
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = interrupted => {},
                () = terminated => {},
            }
            tracing::info!("shutting down: finishing requests in flight");
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: finishing requests in flight");
    }
}

/// The token debugger of `--debugger` at `/debugger/`: answering the issuer's origin and the listener's loopback
/// names, with the server's own JWK Set preselected.
fn debugger_routes(server: &Server, addr: std::net::SocketAddr) -> axum::Router {
    let scheme = if server.is_tls() { "https" } else { "http" };
    let issuer = server.config().issuer.trim_end_matches('/').to_owned();
    let mut origins = Options::loopback_origins(scheme, addr.port());
    // The issuer's origin: scheme and authority, without its path.
    if let Some((issuer_scheme, rest)) = issuer.split_once("://") {
        let authority = rest.split('/').next().unwrap_or(rest);
        origins.insert(0, format!("{issuer_scheme}://{authority}"));
    }
    debugger::router(Options {
        base: "/debugger/".to_owned(),
        origins,
        remote: (!addr.ip().is_loopback()).then_some((addr.port(), scheme)),
        preselected_jwks: Some(format!("{issuer}/.well-known/jwks.json")),
    })
}

/// Binds the management listener at `at`, with its real address; a refusal names the address and what to do.
async fn bind_management(
    at: std::net::SocketAddr,
) -> Result<(tokio::net::TcpListener, std::net::SocketAddr), Failure> {
    let listener = tokio::net::TcpListener::bind(at).await.map_err(|e| {
        Failure::usage(anyhow::anyhow!(
            "cannot listen on {at} for the management listener ({e}); pass --management-listen with a free \
             address, or --management-listen off"
        ))
    })?;
    let bound = listener
        .local_addr()
        .context("no local address")
        .map_err(Failure::usage)?;
    Ok((listener, bound))
}

pub fn run(args: &ServeArgs, style: Style) -> Outcome {
    let settings = Effective::resolve(args)?;
    if args.print_config {
        print!("{}", settings.render()?);
        return Ok(ExitCode::SUCCESS);
    }
    init_logging();
    let mut resolved = settings.resolved;
    let listen = resolved.config.listen;
    runtime()?.block_on(async move {
        let shutdown = shutdown_signal();
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))
            .map_err(Failure::usage)?;
        let addr = listener
            .local_addr()
            .context("no local address")
            .map_err(Failure::usage)?;
        let management = match resolved.config.management_listen {
            Some(at) => Some(bind_management(at).await?),
            None => None,
        };
        resolved.bound(addr);
        let data_dir = resolved.config.data_dir.clone();
        let mut server = Server::open(resolved.config)
            .await
            .context("the server could not start")
            .map_err(Failure::usage)?;
        if args.debugger {
            let routes = debugger_routes(&server, addr);
            server = server.with_routes(routes);
        }
        let scheme = if server.is_tls() { "https" } else { "http" };
        let url = format!("{scheme}://{addr}");
        let dir = data_dir.display();
        println!("{} listening on {}", style.bold("waxseal serve"), style.cyan(&url));
        // Scripts and tests read the management address from this line (port 0 becomes the real port).
        let management_url = match management {
            Some((listener, at)) => {
                server = server.with_management(listener);
                let management_url = format!("{scheme}://{at}");
                println!("  management      {management_url}");
                Some(management_url)
            }
            None => None,
        };
        println!("  data directory  {dir}");
        println!("  database        {}", server.config().database);
        println!(
            "  signing key     {}, kid {}",
            server.config().signing_alg,
            server.service().signing_kid()
        );
        if let Some(tls) = &server.config().tls {
            println!("  TLS             {} (key {})", tls.cert.display(), tls.key.display());
        }
        println!("  login           POST {url}/login        {{\"username\",\"password\"}}");
        println!("  protected API   GET  {url}/api/me       Authorization: Bearer <access_token>");
        if server.config().refresh_cookie {
            println!(
                "  refresh         POST {url}/refresh      cookie mode: the refresh cookie + X-CSRF-Token: <csrf_token>"
            );
        } else {
            println!("  refresh         POST {url}/refresh      {{\"refresh_token\"}}");
        }
        println!("  logout          POST {url}/logout");
        println!("  public keys     GET  {url}/.well-known/jwks.json");
        println!("  discovery       GET  {url}/.well-known/openid-configuration");
        let metrics_url = if server.config().public_metrics {
            Some(&url)
        } else {
            management_url.as_ref()
        };
        if let Some(metrics_url) = metrics_url {
            println!("  metrics         GET  {metrics_url}/metrics");
        }
        println!("  API description GET  {url}/openapi.json");
        println!("  issuer          {}", server.config().issuer);
        if args.debugger {
            println!("  token debugger  GET  {url}/debugger/");
        }
        println!();
        println!("Add a user (from another terminal):");
        println!(
            "  printf '%s' 'a long passphrase' | waxseal user add alice --password-stdin --data-dir {dir}"
        );
        println!("Press Ctrl-C to stop.");
        server
            .serve(listener, shutdown)
            .await
            .context("the server failed")
            .map_err(Failure::usage)?;
        Ok(ExitCode::SUCCESS)
    })
}
