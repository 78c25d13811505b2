//! `waxseal user …`: account administration against the data directory `waxseal serve` uses.

use std::io::BufRead as _;
use std::process::ExitCode;

use anyhow::{Context as _, anyhow};
use waxseal_server::Server;
use zeroize::Zeroizing;

use super::serve::{config, init_logging, runtime};
use crate::cli::UserAddArgs;
use crate::{Failure, Outcome};

/// The first line of standard input, without its line ending.
fn password_from_stdin() -> Result<Zeroizing<String>, Failure> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")
        .map_err(Failure::usage)?;
    let trimmed = Zeroizing::new(line.trim_end_matches(['\n', '\r']).to_owned());
    if trimmed.is_empty() {
        return Err(Failure::usage(anyhow!(
            "no password on standard input (--password-stdin reads its first line)"
        )));
    }
    Ok(trimmed)
}

pub fn add(args: &UserAddArgs) -> Outcome {
    init_logging();
    let password = password_from_stdin()?;
    let config = config(&args.data.data_dir)?;
    runtime()?.block_on(async move {
        let server = Server::open(config)
            .await
            .context("cannot open the data directory")
            .map_err(Failure::usage)?;
        let added = server
            .service()
            .add_user(&args.name, &password, &args.scopes)
            .await;
        server.close().await;
        added.map_err(|e| Failure::usage(anyhow!(e)))?;
        println!("added user {:?}", args.name);
        Ok(ExitCode::SUCCESS)
    })
}
