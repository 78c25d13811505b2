//! `waxseal lint`: a security review of a token. (Being built.)

use std::process::ExitCode;

use crate::Outcome;
use crate::cli::LintArgs;
use crate::style::Style;

pub fn run(_args: &LintArgs, _style: &Style) -> Outcome {
    Ok(ExitCode::SUCCESS)
}
