//! Writing results to standard output. A closed pipe (`waxseal decode … | head -1`) ends the output quietly
//! instead of panicking, as `println!` would.

use std::io::Write;

use anyhow::anyhow;

use crate::Failure;

/// Writes `text` to standard output.
pub(crate) fn emit(text: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::usage(anyhow!(
            "cannot write to standard output: {e}"
        ))),
        _ => Ok(()),
    }
}
