//! Encrypted tokens, per client: ID tokens to the client's public key, access tokens to the server itself.
//!
//! **ID tokens** of a client registered with `--encryption-key` are nested JWTs (RFC 7519 §5.2, OpenID Connect
//! Core §10.2): signed exactly as any other, then encrypted to the client's public key (`cty: JWT`, the key's
//! `kid`). Only asymmetric key management is accepted — RSA-OAEP* and ECDH-ES* (P-256/384/521, X25519): a shared
//! key (`dir`, AES key wrap, PBES2) would make the server keep the client's secret to encrypt to it.
//!
//! **Access tokens** of a client registered with `--encrypt-access-tokens` are *not* encrypted to the client: a
//! token only the client could open would be unreadable by the server and by every resource server it is meant
//! for. They are encrypted under the server's own key instead — `dir` + `A256GCM`, a 256-bit key derived from the
//! master key with HKDF and a label of its own ([`ACCESS_TOKEN_KEY_PURPOSE`]), named by the `kid`
//! [`ACCESS_TOKEN_ENCRYPTION_KID`] — so the claims are private from the client and from whoever it hands the token
//! to, while every instance holding the master key opens them. Resource servers learn the claims through
//! introspection (RFC 7662), which opens the token as `verify_access` does. A new derivation (a new label and
//! `kid`) is how this key would be replaced: one key with random 96-bit IVs is good for about 2^32 tokens.

use aws_lc_rs::aead::AES_256_GCM;
use aws_lc_rs::hkdf::Prk;
use waxseal::Jwk;
use waxseal::jwe::{
    ContentEncryption, Decrypter, DecryptionKey, Encrypter, EncryptionKey, KeyManagement,
};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::store::IdTokenEncryption;

/// The `kid` of the server's access-token encryption key: names the derivation, not a stored key.
pub const ACCESS_TOKEN_ENCRYPTION_KID: &str = "waxseal-at-enc-1";
/// The HKDF info the access-token encryption key is derived from the master key with.
const ACCESS_TOKEN_KEY_PURPOSE: &[u8] = b"waxseal access token encryption 1";
/// The content encryption of encrypted access tokens.
const ACCESS_TOKEN_ENC: ContentEncryption = ContentEncryption::A256Gcm;

/// The default `enc` of encrypted ID tokens: OpenID Connect Dynamic Client Registration's default for
/// `id_token_encrypted_response_enc`.
pub const DEFAULT_ID_TOKEN_ENC: ContentEncryption = ContentEncryption::A128CbcHs256;

/// Whether `alg` encrypts to a public key (RSA-OAEP*, ECDH-ES*): the only key management a client may register,
/// since anything else would have the server store the client's secret.
pub fn is_public_key_algorithm(alg: KeyManagement) -> bool {
    alg.is_rsa() || alg.is_ecdh()
}

/// The key-management algorithms ID tokens can be encrypted with (for the discovery document).
pub fn id_token_encryption_algorithms() -> Vec<&'static str> {
    KeyManagement::ALL
        .into_iter()
        .filter(|alg| is_public_key_algorithm(*alg))
        .map(KeyManagement::name)
        .collect()
}

/// The content encryptions ID tokens can be encrypted with (for the discovery document).
pub fn id_token_encryption_encs() -> Vec<&'static str> {
    ContentEncryption::ALL
        .into_iter()
        .map(ContentEncryption::name)
        .collect()
}

/// Checks a client's encryption key as registered (`--encryption-key`) and returns it as it is stored: a public
/// JWK for an asymmetric key-management `alg`, `use` absent or `enc`. The message says what to pass instead.
pub fn check_client_encryption_key(json: &str) -> std::result::Result<String, String> {
    let jwk = Jwk::from_json(json).map_err(|e| format!("--encryption-key is not a JWK: {e}"))?;
    let shared = |what: &str| {
        format!(
            "--encryption-key is {what}: the server would have to store the client's secret to encrypt to it; \
             register a public key whose alg is one of {}",
            id_token_encryption_algorithms().join(", ")
        )
    };
    if jwk.kty == "oct" {
        return Err(shared("a shared (kty \"oct\") key"));
    }
    if jwk.is_private() {
        return Err(
            "--encryption-key is a private key (it has \"d\"): pass the client's public key; the private key \
             stays with the client, which decrypts its ID tokens with it"
                .into(),
        );
    }
    if let Some(use_) = jwk.use_.as_deref().filter(|u| *u != "enc") {
        return Err(format!(
            "--encryption-key is a key for use {use_:?}, not for encryption: register a key with use \"enc\" \
             (or no use)"
        ));
    }
    let Some(name) = jwk.alg.as_deref() else {
        return Err(format!(
            "--encryption-key has no \"alg\": say which key-management algorithm the client decrypts with ({})",
            id_token_encryption_algorithms().join(", ")
        ));
    };
    if ContentEncryption::from_name(name).is_ok() {
        return Err(shared(&format!("for \"dir\" ({name})")));
    }
    if name.starts_with("PBES2") || name == "A192KW" {
        return Err(shared(&format!("for {name}")));
    }
    let alg = KeyManagement::from_name(name).map_err(|e| format!("--encryption-key: {e}"))?;
    if !is_public_key_algorithm(alg) {
        return Err(shared(&format!("for {alg}")));
    }
    EncryptionKey::from_jwk(&jwk).map_err(|e| format!("--encryption-key: {e}"))?;
    Ok(jwk.to_json())
}

/// Encrypts a signed ID token to the client's key: a nested JWT (`cty: JWT`, the key's `kid`).
pub(super) fn encrypt_id_token(jws: &str, to: &IdTokenEncryption) -> Result<String> {
    let key = Jwk::from_json(&to.jwk)
        .and_then(|jwk| EncryptionKey::from_jwk(&jwk))
        .map_err(|e| Error::crypto(format!("the client's encryption key is not usable: {e}")))?;
    Encrypter::new(&key, to.enc)
        .cty("JWT")
        .encrypt_compact(jws.as_bytes())
        .map_err(|e| Error::crypto(format!("ID token encryption failed: {e}")))
}

/// Whether `token` has the five segments of a compact JWE (a JWS has three).
pub(super) fn is_jwe(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 4
}

/// The server's own access-token encryption key (see the module documentation).
pub(crate) struct AccessTokenKey {
    key: EncryptionKey,
    decrypter: Decrypter,
}

impl AccessTokenKey {
    /// The key derived from the master key's pseudo-random key ([`crate::master_key::MasterKey::prk`]).
    pub(crate) fn new(prk: &Prk) -> Result<AccessTokenKey> {
        let derivation_failed = || Error::crypto("access-token key derivation failed");
        let mut secret = Zeroizing::new([0u8; 32]);
        prk.expand(&[ACCESS_TOKEN_KEY_PURPOSE], &AES_256_GCM)
            .map_err(|_| derivation_failed())?
            .fill(&mut secret[..])
            .map_err(|_| derivation_failed())?;
        let key = DecryptionKey::direct(&secret[..], ACCESS_TOKEN_ENC)
            .map_err(|_| derivation_failed())?
            .with_kid(ACCESS_TOKEN_ENCRYPTION_KID);
        Ok(AccessTokenKey {
            key: key.encryption_key(),
            decrypter: Decrypter::new(key).content_encryptions([ACCESS_TOKEN_ENC]),
        })
    }

    /// Encrypts a signed access token: `dir`, `A256GCM`, `cty: JWT`, this key's `kid`.
    pub(super) fn seal(&self, jws: &str) -> Result<String> {
        Encrypter::new(&self.key, ACCESS_TOKEN_ENC)
            .cty("JWT")
            .encrypt_compact(jws.as_bytes())
            .map_err(|e| Error::crypto(format!("access token encryption failed: {e}")))
    }

    /// The signed token inside an encrypted access token; `None` for a JWE this key did not make, unchanged.
    pub(super) fn open(&self, token: &str) -> Option<String> {
        let opened = self.decrypter.decrypt_compact(token).ok()?;
        let nested = opened
            .header
            .cty
            .as_deref()
            .is_some_and(|cty| cty.eq_ignore_ascii_case("JWT"));
        if !nested {
            return None;
        }
        String::from_utf8(opened.plaintext).ok()
    }
}

impl std::fmt::Debug for AccessTokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessTokenKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::master_key::MasterKey;

    #[test]
    fn an_access_token_opens_only_under_its_own_master_key_and_unchanged() {
        let master = MasterKey::generate().unwrap();
        let key = AccessTokenKey::new(&master.prk()).unwrap();
        let sealed = key.seal("a.b.c").unwrap();
        assert!(is_jwe(&sealed));
        assert_eq!(key.open(&sealed).as_deref(), Some("a.b.c"));
        let again = AccessTokenKey::new(&master.prk()).unwrap();
        assert_eq!(
            again.open(&sealed).as_deref(),
            Some("a.b.c"),
            "same master key, same derived key"
        );
        let other = AccessTokenKey::new(&MasterKey::generate().unwrap().prk()).unwrap();
        assert_eq!(other.open(&sealed), None);
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(key.open(&String::from_utf8(tampered).unwrap()), None);
    }

    #[test]
    fn only_public_key_algorithms_are_offered() {
        let offered = id_token_encryption_algorithms();
        assert!(offered.contains(&"RSA-OAEP-256"));
        for shared in ["dir", "A128KW", "A256KW", "A128GCMKW", "A256GCMKW"] {
            assert!(!offered.contains(&shared), "{shared}");
        }
    }

    #[test]
    fn shared_private_and_signing_keys_are_refused() {
        let refused = |json: &str| check_client_encryption_key(json).unwrap_err();
        let shared = refused(r#"{"kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAA","alg":"A128KW"}"#);
        assert!(shared.contains("store the client's secret"), "{shared}");
        let no_alg = refused(r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#);
        assert!(no_alg.contains("no \"alg\""), "{no_alg}");
        let sig = refused(r#"{"kty":"RSA","n":"AQAB","e":"AQAB","alg":"RS256"}"#);
        assert!(sig.contains("signature algorithm"), "{sig}");
        let used = refused(r#"{"kty":"RSA","n":"AQAB","e":"AQAB","alg":"RSA-OAEP","use":"sig"}"#);
        assert!(used.contains("use \"sig\""), "{used}");
        let private = refused(r#"{"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQAB","alg":"RSA-OAEP"}"#);
        assert!(private.contains("public key"), "{private}");
    }
}
