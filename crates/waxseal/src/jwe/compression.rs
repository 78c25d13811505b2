//! `zip: DEF` (RFC 7516 §4.1.3): raw DEFLATE (RFC 1951, no zlib header) of the plaintext before encryption.
//!
//! A few kilobytes of DEFLATE can stand for gigabytes of output, so inflating is a bound to enforce, not a
//! convenience (CVE-2024-28176, CVE-2024-28180): the output buffer grows only up to the caller's limit and inflating
//! stops there, whatever the compressed data claims. The decrypter inflates only plaintext whose tag verified, so
//! only a key holder can hand it a bomb, and it refuses compressed JWEs unless told otherwise.

use miniz_oxide::inflate::{self, TINFLStatus};

use crate::error::{Error, Result};

/// The decompressed-size limit [`Decrypter::allow_compression`](super::Decrypter::allow_compression) is usually
/// given: 250 kB, far above any token and far below a memory problem.
pub const DEFAULT_MAX_DECOMPRESSED: usize = 250_000;

/// The DEFLATE level used when encrypting (miniz's default).
const LEVEL: u8 = 6;

/// Raw DEFLATE of `plaintext`.
pub(crate) fn deflate(plaintext: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec(plaintext, LEVEL)
}

/// Inflates raw DEFLATE data into at most `max` bytes; more is [`ErrorKind::LimitExceeded`](crate::ErrorKind),
/// found without ever holding more than `max + 1` bytes of output.
pub(crate) fn inflate(compressed: &[u8], max: usize) -> Result<Vec<u8>> {
    // One byte of room past the limit tells "exactly at the limit" from "over it".
    match inflate::decompress_to_vec_with_limit(compressed, max.saturating_add(1)) {
        Ok(out) if out.len() <= max => Ok(out),
        Ok(_) => Err(over(max)),
        Err(e) if e.status == TINFLStatus::HasMoreOutput => Err(over(max)),
        Err(_) => Err(Error::malformed(
            "the JWE's plaintext is not valid DEFLATE data (\"zip\":\"DEF\", RFC 1951)",
        )),
    }
}

fn over(max: usize) -> Error {
    Error::limit(format!(
        "the JWE's plaintext decompresses to more than the limit of {max} bytes; decompression stopped there"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn round_trip_and_limits() {
        let text = b"a plaintext a plaintext a plaintext".repeat(10);
        let packed = deflate(&text);
        assert!(packed.len() < text.len());
        assert_eq!(inflate(&packed, text.len()).unwrap(), text);
        assert_eq!(
            inflate(&packed, text.len() - 1).unwrap_err().kind(),
            ErrorKind::LimitExceeded
        );
        assert_eq!(inflate(&deflate(b""), 0).unwrap(), b"");
        // A zlib stream (with its two-byte header) is not raw DEFLATE.
        let zlib = miniz_oxide::deflate::compress_to_vec_zlib(&text, LEVEL);
        assert_eq!(
            inflate(&zlib, 10_000).unwrap_err().kind(),
            ErrorKind::Malformed
        );
        assert_eq!(
            inflate(&[0xff; 8], 10_000).unwrap_err().kind(),
            ErrorKind::Malformed
        );
    }
}
