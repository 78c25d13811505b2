//! Runs the example MCP server: `cargo run -p waxseal-example-mcp-server -- --issuer URL --url URL`. See the
//! README's "Protect an MCP server" for the waxseal side.

use std::process::ExitCode;

use anyhow::Context as _;
use waxseal_example_mcp_server::{Config, SCOPE, app};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let config = Config::from_args_and_env(std::env::args().skip(1))?;
    let router = app(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {} (--listen ADDR)", config.listen))?;
    println!(
        "MCP server at {}, taking tokens of {} with scope {SCOPE}",
        config.url, config.issuer
    );
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")
}
