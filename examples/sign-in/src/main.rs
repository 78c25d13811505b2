//! `cargo run -p waxseal-example-sign-in`: the example application on `APP_URL`, signing in with the waxseal
//! server at `WAXSEAL_ISSUER`, as the client `CLIENT_ID` / `CLIENT_SECRET`; it listens on `LISTEN` (`host:port`),
//! by default the host and port of `APP_URL`.

use std::process::ExitCode;

use anyhow::Context as _;
use waxseal_example_sign_in::{Config, app};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn var(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

async fn run() -> anyhow::Result<()> {
    let config = Config {
        issuer: var("WAXSEAL_ISSUER", "http://127.0.0.1:8080"),
        client_id: var("CLIENT_ID", ""),
        client_secret: var("CLIENT_SECRET", ""),
        app_url: var("APP_URL", "http://127.0.0.1:3000")
            .trim_end_matches('/')
            .to_owned(),
    };
    let url = listen_address(&config.app_url)?;
    let router = app(config.clone()).await?;
    let listener = tokio::net::TcpListener::bind(&url)
        .await
        .with_context(|| format!("listening on {url} (from APP_URL={})", config.app_url))?;
    tracing::info!(
        "signing in with {} as client {}; open {}/ in a browser",
        config.issuer,
        config.client_id,
        config.app_url
    );
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")
}

/// Where to listen: `LISTEN` (`host:port`), else the host and port of `APP_URL`.
fn listen_address(app_url: &str) -> anyhow::Result<String> {
    if let Ok(listen) = std::env::var("LISTEN") {
        return Ok(listen);
    }
    let url = openidconnect::url::Url::parse(app_url)
        .with_context(|| format!("APP_URL={app_url} is not a URL like http://127.0.0.1:3000"))?;
    let host = url.host_str().context("APP_URL has no host")?;
    let port = url.port_or_known_default().context("APP_URL has no port")?;
    Ok(format!("{host}:{port}"))
}
