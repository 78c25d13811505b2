//! CSRF tokens that bind a cookie-carried refresh token to the page that logged in.
//!
//! In cookie mode the browser attaches the refresh cookie by itself, so the cookie alone must not be enough to
//! refresh: a request also carries `X-CSRF-Token`, which a page can only know by having read the login (or a
//! refresh) response. The token is `HMAC-SHA256(k, sid)` for the session's `sid` under a key derived from the master
//! key, base64url:
//!
//! - bound to the session, not to one refresh token, so it survives rotation (every tab of the app keeps working
//!   after another tab refreshed) and dies with the session;
//! - stateless: nothing to store, the same on every process that shares the master key, valid after a restart;
//! - unforgeable without the key, even by someone who knows the `sid` (an access token carries it);
//! - checked in constant time ([`aws_lc_rs::hmac::verify`]), and before the refresh token is consumed, so a forged
//!   request cannot use up the victim's token.

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::AuthService;

/// The HKDF purpose of the CSRF key; a new version string would invalidate every CSRF token at once.
pub(super) const CSRF_KEY_PURPOSE: &[u8] = b"waxseal csrf token v1";

/// Length of a CSRF token: 32 bytes in unpadded base64url.
const TOKEN_LEN: usize = 43;

/// The key CSRF tokens are computed with. `Debug` never shows it.
pub(crate) struct CsrfKey(hmac::Key);

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey(<redacted>)")
    }
}

impl CsrfKey {
    pub(crate) fn new(key: hmac::Key) -> CsrfKey {
        CsrfKey(key)
    }

    /// The CSRF token of the session `sid`.
    pub(crate) fn token(&self, sid: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.0, sid.as_bytes()))
    }

    /// Whether `presented` is the CSRF token of `sid`; constant time in the token's bytes.
    pub(crate) fn verify(&self, sid: &str, presented: &str) -> bool {
        if presented.len() != TOKEN_LEN {
            return false;
        }
        URL_SAFE_NO_PAD
            .decode(presented)
            .is_ok_and(|tag| hmac::verify(&self.0, sid.as_bytes(), &tag).is_ok())
    }
}

impl AuthService {
    /// The CSRF token of the session `sid` (see [`TokenPair::sid`](super::TokenPair::sid)), for cookie mode.
    pub fn csrf_token(&self, sid: &str) -> String {
        self.csrf.token(sid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> CsrfKey {
        CsrfKey::new(hmac::Key::new(hmac::HMAC_SHA256, &[byte; 32]))
    }

    #[test]
    fn a_csrf_token_is_bound_to_its_session_and_key() {
        let k = key(1);
        let token = k.token("sid-a");
        assert_eq!(token.len(), TOKEN_LEN);
        assert!(k.verify("sid-a", &token));
        assert!(!k.verify("sid-b", &token), "another session");
        assert!(!key(2).verify("sid-a", &token), "another key");
        assert!(!k.verify("sid-a", &token[..42]), "truncated");
        assert!(!k.verify("sid-a", &format!("{token}=")), "padded");
        assert!(!k.verify("sid-a", ""), "empty");
        let mut flipped = token.into_bytes();
        flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
        assert!(!k.verify("sid-a", &String::from_utf8(flipped).unwrap()));
    }

    #[test]
    fn debug_never_shows_the_csrf_key() {
        assert_eq!(format!("{:?}", key(1)), "CsrfKey(<redacted>)");
    }
}
