//! The five JWE pairs of `benches/jwe.rs`, each with its implementations (waxseal, josekit, bare aws-lc-rs) as
//! encrypt and decrypt closures; shared with `examples/jwe_profile.rs`, which counts their instructions.

use std::num::NonZeroU32;

use aws_lc_rs::aead::{self, AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, ECDH_P256, EphemeralPrivateKey, UnparsedPublicKey};
use aws_lc_rs::digest;
use aws_lc_rs::key_wrap::{AES_128, AES_256, AesKek, KeyWrap as _};
use aws_lc_rs::pbkdf2;
use aws_lc_rs::rand::{self, SystemRandom};
use aws_lc_rs::rsa::{
    OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use waxseal::jwe::{ContentEncryption, Decrypter, DecryptionKey, Encrypter, KeyManagement};
use waxseal::{Algorithm, Jwk, SigningKey};

/// PBKDF2 iterations for PBES2, the same in all three implementations.
pub const P2C: u32 = 10_000;
/// PBES2 salt input length (`p2s`), for josekit and the primitives (josekit's default is 8).
const P2S_LEN: usize = 16;
const PASSWORD: &[u8] = b"correct horse battery staple";

pub type Encrypt = Box<dyn Fn(&[u8]) -> String>;
pub type Decrypt = Box<dyn Fn(&str) -> Vec<u8>>;

pub struct Implementation {
    pub name: &'static str,
    pub encrypt: Encrypt,
    pub decrypt: Decrypt,
}

pub struct Pair {
    pub name: &'static str,
    pub implementations: Vec<Implementation>,
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../waxseal/tests/fixtures/keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn fixture_text(name: &str) -> String {
    String::from_utf8(fixture(name)).unwrap()
}

/// A signed JWT of about 300 bytes: what a nested (signed, then encrypted) token carries.
pub fn plaintext() -> Vec<u8> {
    #[derive(Serialize)]
    struct Claims {
        iss: &'static str,
        sub: &'static str,
        exp: u64,
    }
    let key = SigningKey::from_pem(&fixture_text("ec-p256-pkcs8.pem"), Algorithm::ES256).unwrap();
    let token = waxseal::jwt::Signer::new(&key)
        .sign(&Claims {
            iss: "https://auth.example.com",
            sub: "user-1234567890",
            exp: 1_767_229_200,
        })
        .unwrap();
    token.into_bytes()
}

// --- waxseal --------------------------------------------------------------------------------------------------

/// Encrypts with `cty: JWT`, as a nested token is sent. The key is leaked so the prebuilt `Encrypter` can borrow it
/// for the whole run.
fn waxseal_implementation(key: DecryptionKey, enc: ContentEncryption) -> Implementation {
    let encryption_key: &'static _ = Box::leak(Box::new(key.encryption_key()));
    let encrypter = Encrypter::new(encryption_key, enc).cty("JWT");
    let decrypter = Decrypter::new(key);
    Implementation {
        name: "waxseal",
        encrypt: Box::new(move |p| encrypter.encrypt_compact(p).unwrap()),
        decrypt: Box::new(move |t| decrypter.decrypt_compact(t).unwrap().plaintext),
    }
}

/// waxseal's ECDH-ES and PBES2 arms: an EC private JWK bound to `ECDH-ES+A256KW`, and a password key with an
/// explicit PBES2 iteration count on both sides.
mod pending {
    use super::{P2C, PASSWORD};
    use waxseal::Jwk;
    use waxseal::jwe::{ContentEncryption, Decrypter, DecryptionKey, Encrypter, KeyManagement};

    pub(super) fn ecdh_es(private_jwk: &str) -> super::Implementation {
        let key = DecryptionKey::from_jwk(&Jwk::from_json(private_jwk).unwrap()).unwrap();
        super::waxseal_implementation(key, ContentEncryption::A256Gcm)
    }

    pub(super) fn pbes2() -> super::Implementation {
        let key = DecryptionKey::from_password(PASSWORD, KeyManagement::Pbes2Hs256A128KW).unwrap();
        let encryption_key: &'static _ = Box::leak(Box::new(key.encryption_key()));
        let encrypter = Encrypter::new(encryption_key, ContentEncryption::A128Gcm)
            .cty("JWT")
            .pbes2_count(P2C);
        let decrypter = Decrypter::new(key).allow_pbes2(P2C);
        super::Implementation {
            name: "waxseal",
            encrypt: Box::new(move |p| encrypter.encrypt_compact(p).unwrap()),
            decrypt: Box::new(move |t| decrypter.decrypt_compact(t).unwrap().plaintext),
        }
    }
}

// --- josekit --------------------------------------------------------------------------------------------------

fn josekit_implementation<E, D>(encrypter: E, decrypter: D, enc: &str) -> Implementation
where
    E: josekit::jwe::JweEncrypter + 'static,
    D: josekit::jwe::JweDecrypter + 'static,
{
    let mut header = josekit::jwe::JweHeader::new();
    header.set_content_encryption(enc);
    header.set_content_type("JWT");
    Implementation {
        name: "josekit",
        encrypt: Box::new(move |p| {
            josekit::jwe::serialize_compact(p, &header, &encrypter).unwrap()
        }),
        decrypt: Box::new(move |t| josekit::jwe::deserialize_compact(t, &decrypter).unwrap().0),
    }
}

// --- bare aws-lc-rs -------------------------------------------------------------------------------------------

/// The recipient's key, prepared once.
enum BareKey {
    /// `dir`: the AES-256-GCM content key itself, its key schedule built once.
    Dir(LessSafeKey),
    /// A256KW: the key-wrap key's bytes (aws-lc-rs's `AesKek` is consumed by each wrap, so it is made per token).
    AesKw([u8; 32]),
    /// ECDH-ES+A256KW on P-256: the static private key and its uncompressed public point.
    EcdhEs {
        private: agreement::PrivateKey,
        public: Vec<u8>,
    },
    /// RSA-OAEP-256.
    RsaOaep {
        private: OaepPrivateDecryptingKey,
        public: OaepPublicEncryptingKey,
    },
    /// PBES2-HS256+A128KW: the password; the key-wrap key is derived per token from `p2s` and `p2c`.
    Pbes2(Vec<u8>),
}

impl BareKey {
    fn alg(&self) -> &'static str {
        match self {
            BareKey::Dir(_) => "dir",
            BareKey::AesKw(_) => "A256KW",
            BareKey::EcdhEs { .. } => "ECDH-ES+A256KW",
            BareKey::RsaOaep { .. } => "RSA-OAEP-256",
            BareKey::Pbes2(_) => "PBES2-HS256+A128KW",
        }
    }

    /// `enc`, its AES-GCM algorithm and content key length.
    fn enc(&self) -> (&'static str, &'static aead::Algorithm, usize) {
        match self {
            BareKey::Pbes2(_) => ("A128GCM", &AES_128_GCM, 16),
            _ => ("A256GCM", &AES_256_GCM, 32),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Epk<'a> {
    kty: &'a str,
    crv: &'a str,
    x: &'a str,
    y: &'a str,
}

/// The protected header, written and read with serde; strings borrowed from the decoded JSON on the way in.
#[derive(Serialize, Deserialize)]
struct BareHeader<'a> {
    alg: &'a str,
    enc: &'a str,
    cty: &'a str,
    #[serde(skip_serializing_if = "Option::is_none", borrow)]
    epk: Option<Epk<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p2s: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p2c: Option<u32>,
}

/// RFC 7518 §4.6.2: the Concat KDF for ECDH-ES+A256KW, no `apu`/`apv`; one SHA-256 block gives the 256-bit key.
fn concat_kdf(z: &[u8], alg: &str) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&1u32.to_be_bytes());
    ctx.update(z);
    ctx.update(&(alg.len() as u32).to_be_bytes());
    ctx.update(alg.as_bytes());
    ctx.update(&0u32.to_be_bytes()); // PartyUInfo
    ctx.update(&0u32.to_be_bytes()); // PartyVInfo
    ctx.update(&256u32.to_be_bytes()); // SuppPubInfo: keydatalen in bits
    let mut key = [0u8; 32];
    key.copy_from_slice(ctx.finish().as_ref());
    key
}

/// PBES2 salt: the `alg` name, a zero byte, then `p2s` (RFC 7518 §4.8.1.1).
fn pbes2_kek(password: &[u8], alg: &str, p2s: &[u8], p2c: u32) -> AesKek {
    let mut salt = Vec::with_capacity(alg.len() + 1 + p2s.len());
    salt.extend_from_slice(alg.as_bytes());
    salt.push(0);
    salt.extend_from_slice(p2s);
    let mut derived = [0u8; 16];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        NonZeroU32::new(p2c).unwrap(),
        &salt,
        password,
        &mut derived,
    );
    AesKek::new(&AES_128, &derived).unwrap()
}

fn wrap(kek: AesKek, cek: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; cek.len() + 8];
    kek.wrap(cek, &mut out).unwrap();
    out
}

fn unwrap(kek: AesKek, wrapped: &[u8], cek: &mut [u8]) {
    assert_eq!(wrapped.len(), cek.len() + 8, "wrapped key length");
    kek.unwrap(wrapped, cek).unwrap();
}

fn bare_encrypt(key: &BareKey, rng: &SystemRandom, plaintext: &[u8]) -> String {
    let (enc, gcm, cek_len) = key.enc();
    let mut cek = [0u8; 32];
    let cek = &mut cek[..cek_len];
    let (epk_x, epk_y, p2s);
    let mut header = BareHeader {
        alg: key.alg(),
        enc,
        cty: "JWT",
        epk: None,
        p2s: None,
        p2c: None,
    };
    let encrypted_key = match key {
        BareKey::Dir(_) => Vec::new(),
        BareKey::AesKw(secret) => {
            rand::fill(cek).unwrap();
            wrap(AesKek::new(&AES_256, secret).unwrap(), cek)
        }
        BareKey::EcdhEs { public, .. } => {
            rand::fill(cek).unwrap();
            let ephemeral = EphemeralPrivateKey::generate(&ECDH_P256, rng).unwrap();
            let point = ephemeral.compute_public_key().unwrap();
            let kek = agreement::agree_ephemeral(
                ephemeral,
                UnparsedPublicKey::new(&ECDH_P256, public),
                (),
                |z| Ok(concat_kdf(z, "ECDH-ES+A256KW")),
            )
            .unwrap();
            let (x, y) = point.as_ref()[1..].split_at(32);
            (epk_x, epk_y) = (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y));
            header.epk = Some(Epk {
                kty: "EC",
                crv: "P-256",
                x: &epk_x,
                y: &epk_y,
            });
            wrap(AesKek::new(&AES_256, &kek).unwrap(), cek)
        }
        BareKey::RsaOaep { public, .. } => {
            rand::fill(cek).unwrap();
            let mut out = vec![0u8; public.ciphertext_size()];
            public
                .encrypt(&OAEP_SHA256_MGF1SHA256, cek, &mut out, None)
                .unwrap();
            out
        }
        BareKey::Pbes2(password) => {
            rand::fill(cek).unwrap();
            let mut salt = [0u8; P2S_LEN];
            rand::fill(&mut salt).unwrap();
            p2s = URL_SAFE_NO_PAD.encode(salt);
            header.p2s = Some(&p2s);
            header.p2c = Some(P2C);
            wrap(pbes2_kek(password, key.alg(), &salt, P2C), cek)
        }
    };
    let mut out = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap());
    let mut iv = [0u8; 12];
    rand::fill(&mut iv).unwrap();
    let mut sealed = plaintext.to_vec();
    let nonce = Nonce::assume_unique_for_key(iv);
    let tag = match key {
        BareKey::Dir(content_key) => {
            content_key.seal_in_place_separate_tag(nonce, Aad::from(out.as_bytes()), &mut sealed)
        }
        _ => LessSafeKey::new(UnboundKey::new(gcm, cek).unwrap()).seal_in_place_separate_tag(
            nonce,
            Aad::from(out.as_bytes()),
            &mut sealed,
        ),
    }
    .unwrap();
    for segment in [&encrypted_key[..], &iv, &sealed, tag.as_ref()] {
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(segment, &mut out);
    }
    out
}

fn bare_decrypt(key: &BareKey, token: &str) -> Vec<u8> {
    let mut parts = token.split('.');
    let mut next = || parts.next().expect("five segments");
    let (header_b64, encrypted_key, iv, ciphertext, tag) = (next(), next(), next(), next(), next());
    assert!(parts.next().is_none(), "five segments");
    let header_json = URL_SAFE_NO_PAD.decode(header_b64).unwrap();
    let header: BareHeader<'_> = serde_json::from_slice(&header_json).unwrap();
    let (enc, gcm, cek_len) = key.enc();
    assert!(
        header.alg == key.alg() && header.enc == enc,
        "alg and enc must be the key's"
    );
    let encrypted_key = URL_SAFE_NO_PAD.decode(encrypted_key).unwrap();
    let mut nonce = [0u8; 12];
    assert_eq!(URL_SAFE_NO_PAD.decode_slice(iv, &mut nonce).unwrap(), 12);
    let mut buffer = URL_SAFE_NO_PAD.decode(ciphertext).unwrap();
    URL_SAFE_NO_PAD.decode_vec(tag, &mut buffer).unwrap();
    let mut cek = [0u8; 32];
    let cek = &mut cek[..cek_len];
    match key {
        BareKey::Dir(_) => assert!(encrypted_key.is_empty()),
        BareKey::AesKw(secret) => {
            unwrap(AesKek::new(&AES_256, secret).unwrap(), &encrypted_key, cek);
        }
        BareKey::EcdhEs { private, .. } => {
            let epk = header.epk.as_ref().expect("epk");
            assert!(epk.kty == "EC" && epk.crv == "P-256", "epk must be P-256");
            let mut point = [4u8; 65];
            URL_SAFE_NO_PAD
                .decode_slice(epk.x, &mut point[1..33])
                .unwrap();
            URL_SAFE_NO_PAD
                .decode_slice(epk.y, &mut point[33..])
                .unwrap();
            let kek = agreement::agree(
                private,
                UnparsedPublicKey::new(&ECDH_P256, &point[..]),
                (),
                |z| Ok(concat_kdf(z, "ECDH-ES+A256KW")),
            )
            .unwrap();
            unwrap(AesKek::new(&AES_256, &kek).unwrap(), &encrypted_key, cek);
        }
        BareKey::RsaOaep { private, .. } => {
            let mut out = [0u8; 256];
            let plain = private
                .decrypt(&OAEP_SHA256_MGF1SHA256, &encrypted_key, &mut out, None)
                .unwrap();
            cek.copy_from_slice(plain);
        }
        BareKey::Pbes2(password) => {
            let p2s = URL_SAFE_NO_PAD.decode(header.p2s.expect("p2s")).unwrap();
            let p2c = header.p2c.expect("p2c");
            assert!((1000..=P2C).contains(&p2c), "p2c out of bounds");
            unwrap(
                pbes2_kek(password, key.alg(), &p2s, p2c),
                &encrypted_key,
                cek,
            );
        }
    }
    let nonce = Nonce::assume_unique_for_key(nonce);
    let aad = Aad::from(header_b64.as_bytes());
    let len = match key {
        BareKey::Dir(content_key) => content_key.open_in_place(nonce, aad, &mut buffer),
        _ => LessSafeKey::new(UnboundKey::new(gcm, cek).unwrap()).open_in_place(
            nonce,
            aad,
            &mut buffer,
        ),
    }
    .unwrap()
    .len();
    buffer.truncate(len);
    buffer
}

fn bare_implementation(key: BareKey) -> Implementation {
    let key = std::sync::Arc::new(key);
    let for_decrypt = std::sync::Arc::clone(&key);
    let rng = SystemRandom::new();
    Implementation {
        name: "aws-lc-rs",
        encrypt: Box::new(move |p| bare_encrypt(&key, &rng, p)),
        decrypt: Box::new(move |t| bare_decrypt(&for_decrypt, t)),
    }
}

// --- the five pairs -------------------------------------------------------------------------------------------

fn dir_a256gcm() -> Pair {
    let mut secret = [0u8; 32];
    rand::fill(&mut secret).unwrap();
    Pair {
        name: "dir+A256GCM",
        implementations: vec![
            waxseal_implementation(
                DecryptionKey::direct(&secret, ContentEncryption::A256Gcm).unwrap(),
                ContentEncryption::A256Gcm,
            ),
            josekit_implementation(
                josekit::jwe::Dir.encrypter_from_bytes(secret).unwrap(),
                josekit::jwe::Dir.decrypter_from_bytes(secret).unwrap(),
                "A256GCM",
            ),
            bare_implementation(BareKey::Dir(LessSafeKey::new(
                UnboundKey::new(&AES_256_GCM, &secret).unwrap(),
            ))),
        ],
    }
}

fn a256kw_a256gcm() -> Pair {
    let mut secret = [0u8; 32];
    rand::fill(&mut secret).unwrap();
    Pair {
        name: "A256KW+A256GCM",
        implementations: vec![
            waxseal_implementation(
                DecryptionKey::from_secret(&secret, KeyManagement::A256KW).unwrap(),
                ContentEncryption::A256Gcm,
            ),
            josekit_implementation(
                josekit::jwe::A256KW.encrypter_from_bytes(secret).unwrap(),
                josekit::jwe::A256KW.decrypter_from_bytes(secret).unwrap(),
                "A256GCM",
            ),
            bare_implementation(BareKey::AesKw(secret)),
        ],
    }
}

/// The P-256 fixture key as a private JWK bound to ECDH-ES+A256KW (from waxseal's own JWK export).
fn ecdh_private_jwk() -> Jwk {
    let mut jwk = SigningKey::from_pem(&fixture_text("ec-p256-pkcs8.pem"), Algorithm::ES256)
        .unwrap()
        .to_jwk()
        .unwrap();
    jwk.alg = Some("ECDH-ES+A256KW".into());
    jwk.use_ = Some("enc".into());
    jwk.kid = None;
    jwk
}

fn ecdh_es_a256kw_a256gcm() -> Pair {
    let jwk = ecdh_private_jwk();
    let coordinate = |c: &Option<String>| waxseal::b64::decode(c.as_deref().unwrap(), "").unwrap();
    let mut public = vec![4u8];
    public.extend(coordinate(&jwk.x));
    public.extend(coordinate(&jwk.y));
    let private = agreement::PrivateKey::from_private_key(&ECDH_P256, &coordinate(&jwk.d)).unwrap();
    #[allow(unused_mut)]
    let mut implementations = vec![
        josekit_implementation(
            josekit::jwe::ECDH_ES_A256KW
                .encrypter_from_pem(fixture("ec-p256-spki.pem"))
                .unwrap(),
            josekit::jwe::ECDH_ES_A256KW
                .decrypter_from_pem(fixture("ec-p256-pkcs8.pem"))
                .unwrap(),
            "A256GCM",
        ),
        bare_implementation(BareKey::EcdhEs { private, public }),
    ];
    implementations.insert(0, pending::ecdh_es(&jwk.to_json()));
    Pair {
        name: "ECDH-ES+A256KW+A256GCM",
        implementations,
    }
}

/// The 2048-bit RSA fixture key as a private JWK bound to RSA-OAEP-256.
fn rsa_oaep_256_a256gcm() -> Pair {
    let mut jwk = SigningKey::from_pem(&fixture_text("rsa-pkcs8.pem"), Algorithm::RS256)
        .unwrap()
        .to_jwk()
        .unwrap();
    jwk.alg = Some("RSA-OAEP-256".into());
    jwk.use_ = Some("enc".into());
    jwk.kid = None;
    // `rsa-pkcs8.der` holds PKCS#1, despite its name: the PKCS#8 DER comes from the PEM.
    let pkcs8: String = fixture_text("rsa-pkcs8.pem")
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let pkcs8 = base64::engine::general_purpose::STANDARD
        .decode(pkcs8)
        .unwrap();
    let private = PrivateDecryptingKey::from_pkcs8(&pkcs8).unwrap();
    assert_eq!(private.key_size_bits(), 2048);
    let public = OaepPublicEncryptingKey::new(private.public_key()).unwrap();
    let private = OaepPrivateDecryptingKey::new(private).unwrap();
    Pair {
        name: "RSA-OAEP-256+A256GCM",
        implementations: vec![
            waxseal_implementation(
                DecryptionKey::from_jwk(&Jwk::from_json(&jwk.to_json()).unwrap()).unwrap(),
                ContentEncryption::A256Gcm,
            ),
            josekit_implementation(
                josekit::jwe::RSA_OAEP_256
                    .encrypter_from_pem(fixture("rsa-spki.pem"))
                    .unwrap(),
                josekit::jwe::RSA_OAEP_256
                    .decrypter_from_pem(fixture("rsa-pkcs8.pem"))
                    .unwrap(),
                "A256GCM",
            ),
            bare_implementation(BareKey::RsaOaep { private, public }),
        ],
    }
}

fn pbes2_hs256_a128kw_a128gcm() -> Pair {
    let mut encrypter = josekit::jwe::PBES2_HS256_A128KW
        .encrypter_from_bytes(PASSWORD)
        .unwrap();
    encrypter.set_iter_count(P2C as usize);
    encrypter.set_salt_len(P2S_LEN);
    #[allow(unused_mut)]
    let mut implementations = vec![
        josekit_implementation(
            encrypter,
            josekit::jwe::PBES2_HS256_A128KW
                .decrypter_from_bytes(PASSWORD)
                .unwrap(),
            "A128GCM",
        ),
        bare_implementation(BareKey::Pbes2(PASSWORD.to_vec())),
    ];
    implementations.insert(0, pending::pbes2());
    Pair {
        name: "PBES2-HS256+A128KW+A128GCM",
        implementations,
    }
}

/// The five pairs, in the order they are reported.
#[allow(dead_code)] // the profile example builds one
pub fn pairs() -> [Pair; 5] {
    [
        dir_a256gcm(),
        a256kw_a256gcm(),
        ecdh_es_a256kw_a256gcm(),
        rsa_oaep_256_a256gcm(),
        pbes2_hs256_a128kw_a128gcm(),
    ]
}

/// One pair by its name, built alone.
#[allow(dead_code)] // the benchmark builds them all
pub fn pair(name: &str) -> Option<Pair> {
    Some(match name {
        "dir+A256GCM" => dir_a256gcm(),
        "A256KW+A256GCM" => a256kw_a256gcm(),
        "ECDH-ES+A256KW+A256GCM" => ecdh_es_a256kw_a256gcm(),
        "RSA-OAEP-256+A256GCM" => rsa_oaep_256_a256gcm(),
        "PBES2-HS256+A128KW+A128GCM" => pbes2_hs256_a128kw_a128gcm(),
        _ => return None,
    })
}
