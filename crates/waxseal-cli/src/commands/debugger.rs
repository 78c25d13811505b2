//! `waxseal debugger`: the debugger page on a loopback listener of its own, until Ctrl-C.

use std::net::SocketAddr;
use std::process::{ExitCode, Stdio};

use anyhow::{Context as _, anyhow};

use super::serve::runtime;
use crate::cli::DebuggerArgs;
use crate::debugger::{self, Options};
use crate::style::Style;
use crate::{Failure, Outcome};

pub fn run(args: &DebuggerArgs, style: Style) -> Outcome {
    let remote = !args.listen.ip().is_loopback();
    if remote && !args.allow_remote {
        return Err(Failure::usage(anyhow!(
            "--listen {} is not a loopback address: anyone who can reach it could use the debugger with what you \
             paste. Use --listen 127.0.0.1:PORT, or add --allow-remote if that is really what you want",
            args.listen
        )));
    }
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {}; choose another port with --listen 127.0.0.1:PORT (0: any free port)",
                    args.listen
                )
            })
            .map_err(Failure::usage)?;
        let addr = listener
            .local_addr()
            .context("no local address")
            .map_err(Failure::usage)?;
        let url = page_url(addr);
        let options = Options {
            base: "/".to_owned(),
            origins: Options::loopback_origins("http", addr.port()),
            remote: remote.then_some((addr.port(), "http")),
            preselected_jwks: None,
        };
        let app = debugger::router(options);
        println!("{} on {}", style.bold("waxseal debugger"), style.cyan(&url));
        if remote {
            eprintln!(
                "warning: listening on {addr}, beyond loopback: anyone who can reach this port can use the debugger, \
                 and tokens and keys cross the network in clear text"
            );
        }
        if args.open {
            open(&url);
        }
        println!("Press Ctrl-C to stop.");
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("the debugger's listener failed")
            .map_err(Failure::usage)?;
        Ok(ExitCode::SUCCESS)
    })
}

/// The URL to print: the listener's own address, or 127.0.0.1 for a wildcard one.
fn page_url(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("http://127.0.0.1:{}/", addr.port())
    } else {
        format!("http://{addr}/")
    }
}

/// Opens `url` in the default browser, or says how to.
fn open(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let spawned = std::process::Command::new(opener)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match spawned {
        Ok(mut child) => {
            // Reaped in the background: xdg-open may take a while to hand over to the browser.
            std::thread::spawn(move || child.wait());
            println!("Opened {url} with {opener}.");
        }
        Err(_) => eprintln!(
            "note: cannot open a browser ({opener} is not available); open {url} yourself"
        ),
    }
}
