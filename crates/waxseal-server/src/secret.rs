//! The secrets the server generates and how they are kept: random ids and tokens (256 bits for secrets, 128 for
//! ids), and the SHA-256 by which a refresh token is found and a client secret compared.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// 256 random bits, base64url (43 characters): refresh tokens and client secrets.
pub(crate) fn random_token() -> Result<Zeroizing<String>> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    aws_lc_rs::rand::fill(&mut bytes[..]).map_err(|_| Error::crypto("no randomness"))?;
    Ok(Zeroizing::new(URL_SAFE_NO_PAD.encode(&bytes[..])))
}

/// 128 random bits, base64url: session ids, token ids, client ids, HMAC key ids.
pub(crate) fn random_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| Error::crypto("no randomness"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The SHA-256 of a refresh token, or `None` when it cannot be one (wrong length or alphabet) — such input is
/// refused without touching the store.
pub(crate) fn refresh_token_digest(token: &str) -> Option<[u8; 32]> {
    if token.len() != 43
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    let d = digest(&SHA256, token.as_bytes());
    d.as_ref().try_into().ok()
}

/// The SHA-256 of a secret the server generated (256 random bits: no salt or slow hash needed).
pub(crate) fn sha256(secret: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, secret.as_bytes()).as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_token_digest_accepts_only_the_token_shape() {
        let token = URL_SAFE_NO_PAD.encode([1u8; 32]);
        assert!(refresh_token_digest(&token).is_some());
        assert!(refresh_token_digest("").is_none());
        assert!(refresh_token_digest(&format!("{token}=")).is_none());
        assert!(refresh_token_digest(&"+".repeat(43)).is_none());
    }
}
