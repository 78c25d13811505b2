//! Strict base64url (RFC 7515 §2, RFC 4648 §5): no padding, no whitespace, no characters outside the alphabet, and
//! canonical trailing bits. Lenient decoders let one token have many spellings, which breaks signature caching,
//! denylists keyed by token and every comparison of "the same" token; waxseal accepts exactly one spelling.

use base64::Engine as _;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::error::{Error, Result};

const STRICT: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Encodes bytes as unpadded base64url.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    STRICT.encode(bytes)
}

/// Appends the unpadded base64url encoding of `bytes` to `out`.
pub fn encode_into(bytes: impl AsRef<[u8]>, out: &mut String) {
    STRICT.encode_string(bytes, out);
}

/// Appends the unpadded base64url encoding of `bytes` to `out` (faster than building a `String` piecewise).
pub fn encode_to_vec(bytes: impl AsRef<[u8]>, out: &mut Vec<u8>) {
    let bytes = bytes.as_ref();
    let start = out.len();
    // Unpadded length: 4 characters per 3 bytes, rounded up.
    out.resize(start + (bytes.len() * 4).div_ceil(3), 0);
    let written = STRICT.encode_slice(bytes, &mut out[start..]).unwrap_or(0);
    out.truncate(start + written);
}

/// Decodes canonical unpadded base64url; `what` names the field for the error message.
pub fn decode(input: impl AsRef<[u8]>, what: &str) -> Result<Vec<u8>> {
    STRICT
        .decode(input)
        .map_err(|e| Error::malformed(format!("{what} is not canonical unpadded base64url ({e})")))
}

/// Decodes canonical unpadded base64url into `out`, returning the decoded part; input that would not fit is
/// refused as too long.
pub fn decode_into<'o>(input: impl AsRef<[u8]>, out: &'o mut [u8], what: &str) -> Result<&'o [u8]> {
    let input = input.as_ref();
    if input.len() / 4 * 3 + 3 > out.len() {
        return Err(Error::malformed(format!(
            "{what} is longer than any supported algorithm's"
        )));
    }
    let n = STRICT.decode_slice(input, out).map_err(|e| {
        Error::malformed(format!("{what} is not canonical unpadded base64url ({e})"))
    })?;
    Ok(&out[..n])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for n in 0..64u8 {
            let bytes: Vec<u8> = (0..n).collect();
            assert_eq!(decode(encode(&bytes), "x").unwrap(), bytes);
        }
    }

    #[test]
    fn rejects_padding_whitespace_and_foreign_alphabets() {
        for bad in [
            "Zg==", "Zm9v=", "Zm 9v", "Zm9v\n", "Zm+v", "Zm/v", "Z", "Zm9v.", "?Zm9",
        ] {
            assert!(decode(bad, "x").is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn encode_to_vec_agrees_with_encode() {
        for n in 0..40u8 {
            let bytes: Vec<u8> = (0..n).collect();
            let mut out = b"prefix.".to_vec();
            encode_to_vec(&bytes, &mut out);
            assert_eq!(out, format!("prefix.{}", encode(&bytes)).into_bytes());
        }
    }

    #[test]
    fn decode_into_agrees_with_decode() {
        let mut buf = [0u8; 48];
        for n in 0..33u8 {
            let bytes: Vec<u8> = (0..n).collect();
            assert_eq!(
                decode_into(encode(&bytes), &mut buf, "x").unwrap(),
                bytes.as_slice()
            );
        }
        assert!(decode_into(encode([0u8; 64]), &mut buf, "x").is_err());
        assert!(decode_into("Zh", &mut buf, "x").is_err());
    }

    #[test]
    fn rejects_non_canonical_trailing_bits() {
        // "Zg" is the canonical spelling of "f"; "Zh" decodes to the same byte with non-zero trailing bits.
        assert_eq!(decode("Zg", "x").unwrap(), b"f");
        assert!(decode("Zh", "x").is_err());
    }
}
