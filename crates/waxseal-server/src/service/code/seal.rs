//! Sealed authorization codes: the code is what its exchange is checked against (client, redirect URI, PKCE
//! challenge, scope, nonce, user, SSO session, `sid`, expiry, resource), encrypted and authenticated, so issuing one writes
//! nothing and any instance holding the master key can exchange it. What stays single-use is recorded when the code
//! is presented ([`crate::store::SignInStore::use_code`]).
//!
//! Each code has a random 256-bit id, and its own AES-256-GCM key derived from the master key and that id with
//! HKDF-SHA256: no key ever encrypts twice, so the nonce can be fixed and there is no limit on how many codes are
//! issued (one key with random 96-bit nonces would be good for about 2^32 codes). A code is
//! `base64url(version || id || ciphertext || tag)`; changing any byte of it makes it unknown.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::Prk;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The format's version: the first byte of every code.
const VERSION: u8 = 1;
/// The length of a code's id.
const ID_LEN: usize = 32;
/// The length of a GCM tag.
const TAG_LEN: usize = 16;
/// The longest code: anything longer is refused before it is decoded, and a grant that would seal longer (a
/// 1024-byte nonce of quotes and a long scope are still well under) is not issued.
pub const MAX_CODE_LEN: usize = 8192;
/// What the derived keys are for (HKDF info), beside the code's id.
const PURPOSE: &[u8] = b"waxseal authorization code";

/// What a code grants, and what its exchange must match. Short field names: the code travels in a URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeGrant {
    /// The client it was issued to.
    #[serde(rename = "c")]
    pub client_id: String,
    /// When that client was registered: a code names one registration, not a client id a later registration
    /// could reuse.
    #[serde(rename = "cr")]
    pub client_registered_at: u64,
    /// The user who signed in.
    #[serde(rename = "u")]
    pub user_id: String,
    /// The SSO session it was issued in.
    #[serde(rename = "s")]
    pub sso_id: String,
    /// The session (token family) the exchange starts; what a second presentation revokes.
    #[serde(rename = "i")]
    pub sid: String,
    /// SHA-256 (base64url) of the `redirect_uri` of the authorization request, which the exchange must repeat.
    #[serde(rename = "r")]
    pub redirect_uri_hash: String,
    /// The PKCE `S256` challenge.
    #[serde(rename = "p")]
    pub code_challenge: Option<String>,
    /// The space-separated scope granted.
    #[serde(rename = "sc")]
    pub scope: String,
    /// The request's `nonce`, for the ID token.
    #[serde(rename = "n")]
    pub nonce: Option<String>,
    /// Unix seconds: when the user entered their password.
    #[serde(rename = "a")]
    pub auth_time: u64,
    /// Unix seconds: the code is refused from then on.
    #[serde(rename = "e")]
    pub expires_at: u64,
    /// The request's `dpop_jkt` (RFC 9449 §10): the exchange needs a DPoP proof by the key of this thumbprint.
    #[serde(rename = "j", default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
    /// The request's `resource` (RFC 8707), registered: the tokens of the exchange are for it alone, and the
    /// exchange may only repeat it.
    #[serde(rename = "rs", default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

/// The key codes are sealed under: the master key's HKDF pseudo-random key, from which each code's own key is
/// expanded.
pub struct CodeKey(Prk);

impl CodeKey {
    /// The code key of a master key's pseudo-random key ([`crate::master_key::MasterKey::prk`]).
    pub fn new(prk: Prk) -> CodeKey {
        CodeKey(prk)
    }

    fn key_for(&self, id: &[u8]) -> Result<LessSafeKey> {
        let info = [PURPOSE, id];
        let okm = self
            .0
            .expand(&info, &AES_256_GCM)
            .map_err(|_| Error::crypto("code key derivation failed"))?;
        Ok(LessSafeKey::new(UnboundKey::from(okm)))
    }

    /// A new code for `grant`, and its id.
    pub fn seal(&self, grant: &CodeGrant) -> Result<(String, [u8; ID_LEN])> {
        let mut id = [0u8; ID_LEN];
        aws_lc_rs::rand::fill(&mut id).map_err(|_| Error::crypto("no randomness"))?;
        let mut body = serde_json::to_vec(grant)
            .map_err(|e| Error::crypto(format!("code encoding failed: {e}")))?;
        self.key_for(&id)?
            .seal_in_place_append_tag(fixed_nonce(), Aad::from([VERSION]), &mut body)
            .map_err(|_| Error::crypto("AES-256-GCM encryption failed"))?;
        let mut sealed = Vec::with_capacity(1 + ID_LEN + body.len());
        sealed.push(VERSION);
        sealed.extend_from_slice(&id);
        sealed.extend_from_slice(&body);
        let code = URL_SAFE_NO_PAD.encode(sealed);
        if code.len() > MAX_CODE_LEN {
            return Err(Error::new(
                crate::error::ErrorKind::InvalidRequest,
                "the authorization request is too large to issue a code for: send a shorter scope or nonce",
            ));
        }
        Ok((code, id))
    }

    /// What `code` grants, and its id; `None` for anything this key did not seal, unchanged.
    pub fn open(&self, code: &str) -> Option<(CodeGrant, [u8; ID_LEN])> {
        if code.len() > MAX_CODE_LEN {
            return None;
        }
        let sealed = URL_SAFE_NO_PAD.decode(code).ok()?;
        let (&version, rest) = sealed.split_first()?;
        if version != VERSION || rest.len() < ID_LEN + TAG_LEN {
            return None;
        }
        let (id, body) = rest.split_at(ID_LEN);
        let mut body = body.to_vec();
        let plain = self
            .key_for(id)
            .ok()?
            .open_in_place(fixed_nonce(), Aad::from([VERSION]), &mut body)
            .ok()?;
        let grant = serde_json::from_slice(plain).ok()?;
        Some((grant, id.try_into().ok()?))
    }
}

/// The nonce of every code: each code has its own key, which encrypts once.
fn fixed_nonce() -> Nonce {
    Nonce::assume_unique_for_key([0u8; NONCE_LEN])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::master_key::MasterKey;

    fn grant() -> CodeGrant {
        CodeGrant {
            client_id: "client".into(),
            client_registered_at: 1,
            user_id: "user".into(),
            sso_id: "sso".into(),
            sid: "sid".into(),
            redirect_uri_hash: "hash".into(),
            code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
            scope: "openid".into(),
            nonce: Some("n\"o\\nce é".into()),
            auth_time: 2,
            expires_at: 3,
            dpop_jkt: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
            resource: Some("https://api.example/mcp".into()),
        }
    }

    fn key() -> CodeKey {
        CodeKey::new(MasterKey::generate().unwrap().prk())
    }

    #[test]
    fn a_sealed_code_opens_to_its_grant_and_id() {
        let key = key();
        let (code, id) = key.seal(&grant()).unwrap();
        assert_eq!(key.open(&code), Some((grant(), id)));
        let (again, other) = key.seal(&grant()).unwrap();
        assert_ne!((&code, id), (&again, other), "every code is new");
    }

    #[test]
    fn a_code_opens_only_unchanged_and_under_its_own_master_key() {
        let key = key();
        let (code, _) = key.seal(&grant()).unwrap();
        assert_eq!(self::key().open(&code), None, "another master key");
        let mut bytes = URL_SAFE_NO_PAD.decode(&code).unwrap();
        for i in [0, 1, 40, bytes.len() - 1] {
            bytes[i] ^= 1;
            assert_eq!(key.open(&URL_SAFE_NO_PAD.encode(&bytes)), None, "byte {i}");
            bytes[i] ^= 1;
        }
        for bad in ["", "AQ", "not base64!", &code[..code.len() - 2]] {
            assert_eq!(key.open(bad), None, "{bad:?}");
        }
        assert_eq!(key.open(&"A".repeat(MAX_CODE_LEN + 1)), None);
    }

    #[test]
    fn the_longest_grant_fits_the_longest_code() {
        let long = CodeGrant {
            nonce: Some("\"".repeat(crate::service::authorize::MAX_PARAM_LEN)),
            scope: "x".repeat(600),
            resource: Some("x".repeat(crate::service::MAX_RESOURCE_URI_LEN)),
            ..grant()
        };
        let (code, _) = key().seal(&long).unwrap();
        // With room to spare: a quarter of the limit is left for fields added later.
        assert!(code.len() <= MAX_CODE_LEN * 3 / 4, "{}", code.len());
        let too_long = CodeGrant {
            scope: "x".repeat(MAX_CODE_LEN),
            ..grant()
        };
        assert!(key().seal(&too_long).is_err());
    }
}
