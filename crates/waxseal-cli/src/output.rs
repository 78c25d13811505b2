//! Writing results to standard output. A closed pipe (`waxseal decode … | head -1`) ends the output quietly
//! instead of panicking, as `println!` would.

use std::io::Write;

use anyhow::anyhow;

use crate::Failure;

/// Writes `text` to standard output.
pub(crate) fn emit(text: &str) -> Result<(), Failure> {
    emit_bytes(text.as_bytes())
}

/// Writes raw bytes (a decrypted plaintext) to standard output, as they are.
pub(crate) fn emit_bytes(bytes: &[u8]) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::usage(anyhow!(
            "cannot write to standard output: {e}"
        ))),
        _ => Ok(()),
    }
}
