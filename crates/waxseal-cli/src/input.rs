//! Reading tokens and files: from arguments or standard input, with bounds, and errors that say what to do.

use std::io::{IsTerminal, Read};
use std::path::Path;

use anyhow::{Context, anyhow};

use crate::Failure;

/// The most read from standard input or a key file; tokens are bounded again, more tightly, by the library.
const MAX_INPUT: u64 = 16 * 1024 * 1024;

/// The token from the argument, or from standard input when the argument is `-` or absent. Surrounding whitespace
/// and an `Authorization`-style `Bearer ` prefix are removed.
pub fn token(arg: Option<&str>) -> Result<String, Failure> {
    let raw = match arg {
        Some(t) if t != "-" => t.to_owned(),
        _ => {
            let bytes = stdin(
                arg.is_some(),
                || {
                    Failure::usage(anyhow!(
                        "no token given: pass it as an argument or pipe it to standard input"
                    ))
                },
                || {
                    Failure::rejected(anyhow!(
                        "standard input is larger than {} MiB; that is no token",
                        MAX_INPUT >> 20
                    ))
                },
            )?;
            String::from_utf8(bytes).map_err(|_| {
                Failure::rejected(anyhow!("standard input is not text; a token is ASCII"))
            })?
        }
    };
    let trimmed = raw.trim();
    // An `Authorization` header value: the scheme, then the token (`Bearer` alone has an empty one).
    let token = match trimmed.split_once(char::is_whitespace) {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        None if trimmed.eq_ignore_ascii_case("bearer") => "",
        _ => trimmed,
    };
    if token.is_empty() {
        return Err(Failure::rejected(anyhow!("the token is empty")));
    }
    Ok(token.to_owned())
}

/// Standard input, at most [`MAX_INPUT`] bytes (`too_large` says what it was instead). Refused with `nothing` when
/// it is a terminal and nothing was named: the command would wait forever for a paste it never asked for.
fn stdin(
    named: bool,
    nothing: impl FnOnce() -> Failure,
    too_large: impl FnOnce() -> Failure,
) -> Result<Vec<u8>, Failure> {
    let stdin = std::io::stdin();
    if !named && stdin.is_terminal() {
        return Err(nothing());
    }
    let mut bytes = Vec::new();
    stdin
        .lock()
        .take(MAX_INPUT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Failure::usage(anyhow!("cannot read standard input: {e}")))?;
    if bytes.len() as u64 > MAX_INPUT {
        return Err(too_large());
    }
    Ok(bytes)
}

/// The bytes of a file the user named, with an error that names it.
pub fn file(path: &Path, what: &str) -> Result<Vec<u8>, Failure> {
    let read = || -> anyhow::Result<Vec<u8>> {
        let meta = std::fs::metadata(path)?;
        if meta.is_dir() {
            return Err(anyhow!("it is a directory"));
        }
        if meta.len() > MAX_INPUT {
            return Err(anyhow!("it is larger than {} MiB", MAX_INPUT >> 20));
        }
        let mut bytes = Vec::new();
        std::fs::File::open(path)?
            .take(MAX_INPUT)
            .read_to_end(&mut bytes)?;
        Ok(bytes)
    };
    read()
        .with_context(|| format!("cannot read {what} {}", path.display()))
        .map_err(Failure::Usage)
}

/// The bytes of a file the user named, or of standard input for `-` or no argument (refused when standard input is
/// a terminal and nothing was named: the command would wait forever for a paste it never asked for).
pub fn bytes(arg: Option<&Path>, what: &str) -> Result<Vec<u8>, Failure> {
    match arg {
        Some(path) if path != Path::new("-") => file(path, what),
        _ => stdin(
            arg.is_some(),
            || {
                Failure::usage(anyhow!(
                    "no {what} given: name a file or pipe it to standard input"
                ))
            },
            || {
                Failure::usage(anyhow!(
                    "standard input is larger than {} MiB, more than a {what} should be",
                    MAX_INPUT >> 20
                ))
            },
        ),
    }
}
