//! `waxseal`: a local, offline jwt.io. A thin shell over the `waxseal` library; each command lives in its own module.
//!
//! This library half of the CLI exists so that benchmarks can reach the pieces worth measuring (the weak-secret
//! search of `waxseal lint`); the binary (`src/main.rs`) only calls [`main`]. Nothing here is a stable API.

mod cli;
mod commands;
mod debugger;
mod input;
mod keyfile;
mod lint;
mod output;
mod style;
mod time;

pub use lint::secrets;

use std::process::ExitCode;

use clap::Parser;

/// How a command failed, which decides the exit code: 1 when the input was judged (token rejected, findings),
/// 2 when the command could not run as asked (bad flag, unreadable key file).
#[derive(Debug)]
pub(crate) enum Failure {
    /// The token was rejected or the review found problems: exit 1.
    Rejected(anyhow::Error),
    /// The command was used wrongly or its inputs are unusable: exit 2.
    Usage(anyhow::Error),
}

impl Failure {
    pub(crate) fn usage(e: impl Into<anyhow::Error>) -> Self {
        Failure::Usage(e.into())
    }
    pub(crate) fn rejected(e: impl Into<anyhow::Error>) -> Self {
        Failure::Rejected(e.into())
    }
}

/// What every command returns: the exit code to use on success paths (0, or 1 for "ran fine, found problems").
pub(crate) type Outcome = Result<ExitCode, Failure>;

/// Parses the command line, runs the command and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let style = style::Style::for_stdout(cli.color);
    match commands::run(cli.command, style) {
        Ok(code) => code,
        Err(failure) => {
            let err_style = style::Style::for_stderr(cli.color);
            let (code, error) = match failure {
                Failure::Rejected(e) => (1, e),
                Failure::Usage(e) => (2, e),
            };
            eprintln!("{} {error:#}", err_style.red_bold("error:"));
            ExitCode::from(code)
        }
    }
}
