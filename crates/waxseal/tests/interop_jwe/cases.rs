//! The (alg, curve, enc) cases of the JWE interop test: one key per case, made by waxseal (or, where waxseal
//! exports no private JWK, by aws-lc-rs underneath it) and handed to the peers as JWK JSON; waxseal reads its own
//! key back from that very JWK.

use aws_lc_rs::agreement::{self, X25519};
use aws_lc_rs::encoding::{AsBigEndian as _, Curve25519SeedBin};
use serde_json::{Map, Value, json};
use waxseal::jwe::{
    ContentEncryption, Decrypter, DecryptionKey, EncryptionKey, KeyManagement, PBES2_DEFAULT_COUNT,
};
use waxseal::jwk::Jwk;
use waxseal::{Algorithm, SigningKey, b64};
use waxseal_testkit::peers::Peer;

/// The curves ECDH-ES runs on.
pub const CURVES: [&str; 4] = ["P-256", "P-384", "P-521", "X25519"];

/// The PBES2 iteration count both sides use and accept: waxseal's default, and its suggested maximum.
pub const P2C: u32 = PBES2_DEFAULT_COUNT;

/// One algorithm pair (and curve, for ECDH-ES) with its key.
pub struct Case {
    pub alg: KeyManagement,
    pub crv: Option<&'static str>,
    pub enc: ContentEncryption,
    pub kid: String,
    /// waxseal's key, read from the JWK the peer gets (or the password).
    pub key: DecryptionKey,
    pub encryption_key: EncryptionKey,
    /// What a peer decrypts with: `{"jwk": private or oct JWK}` or `{"password": …}`.
    pub private: Map<String, Value>,
    /// What a peer encrypts with: `{"jwk": public or oct JWK}` or `{"password": …}`.
    pub public: Map<String, Value>,
}

impl Case {
    fn new(
        alg: KeyManagement,
        crv: Option<&'static str>,
        enc: ContentEncryption,
        n: usize,
    ) -> Case {
        let kid = format!("jwe-interop-{n}");
        let (key, private, public) = if alg.is_pbes2() {
            let password = b64::encode(random(18));
            let key = DecryptionKey::from_password(password.as_bytes(), alg).unwrap();
            let peer = object(json!({ "password": password }));
            (key, peer.clone(), peer)
        } else {
            let mut jwk = match (alg, crv) {
                (KeyManagement::Dir, _) => {
                    json!({"kty": "oct", "k": b64::encode(random(enc.key_len()))})
                }
                (_, Some(crv)) => ecdh_private_jwk(crv),
                _ if alg.is_rsa() => rsa_private_jwk(),
                _ => json!({"kty": "oct", "k": b64::encode(random(alg.key_len().unwrap()))}),
            };
            jwk["kid"] = json!(kid);
            jwk["use"] = json!("enc");
            // A dir JWK names no alg: RFC 7518 registers none for it, and the peers take the enc from the header.
            if alg != KeyManagement::Dir {
                jwk["alg"] = json!(alg.name());
            }
            let parsed = Jwk::from_json(&jwk.to_string()).unwrap();
            let key = if alg == KeyManagement::Dir {
                DecryptionKey::from_jwk_direct(&parsed, enc).unwrap()
            } else {
                DecryptionKey::from_jwk(&parsed).unwrap()
            };
            let public_jwk = if jwk["kty"] == "oct" {
                jwk.clone()
            } else {
                serde_json::to_value(parsed.to_public().unwrap()).unwrap()
            };
            (
                key,
                object(json!({ "jwk": jwk })),
                object(json!({ "jwk": public_jwk })),
            )
        };
        let key = key.with_kid(kid.clone());
        assert_eq!(key.algorithm(), alg);
        Case {
            alg,
            crv,
            enc,
            kid,
            encryption_key: key.encryption_key(),
            key,
            private,
            public,
        }
    }

    /// `ECDH-ES+A128KW/X25519 A128GCM`.
    pub fn name(&self) -> String {
        match self.crv {
            Some(crv) => format!("{}/{crv} {}", self.alg, self.enc),
            None => format!("{} {}", self.alg, self.enc),
        }
    }

    /// The names a peer must support for this case: alg, enc and, for ECDH-ES, the curve.
    pub fn needs(&self) -> Vec<&'static str> {
        let mut names = vec![self.alg.name(), self.enc.name()];
        names.extend(self.crv);
        names
    }

    /// What `peer` lacks of [`Case::needs`].
    pub fn missing_for(&self, peer: &Peer) -> Vec<&'static str> {
        self.needs()
            .into_iter()
            .filter(|n| !peer.supports_jwe(n))
            .collect()
    }

    /// Whether one content key can be shared with another recipient: not for `dir` and ECDH-ES's direct key
    /// agreement, where key management *is* the content key (RFC 7516 §7.2.1).
    pub fn wraps_a_key(&self) -> bool {
        !matches!(self.alg, KeyManagement::Dir | KeyManagement::EcdhEs)
    }

    /// waxseal's decrypter for this case, allowing PBES2 up to [`P2C`].
    pub fn decrypter(&self) -> Decrypter {
        Decrypter::new(self.key.clone()).allow_pbes2(P2C)
    }

    /// A request to `op` with this case's alg, enc and key (private for decrypt, public for encrypt).
    pub fn request(&self, op: &str) -> Map<String, Value> {
        let mut request = object(json!({"op": op, "alg": self.alg.name(), "enc": self.enc.name()}));
        let key = if op == "decrypt" {
            &self.private
        } else {
            &self.public
        };
        request.extend(key.clone());
        if op == "decrypt" {
            request.insert("max_p2c".into(), json!(P2C));
        } else {
            request.insert("kid".into(), json!(self.kid));
            if self.alg.is_pbes2() {
                request.insert("p2c".into(), json!(P2C));
            }
        }
        request
    }

    /// The plaintext `sender` encrypts for this case: not ASCII only, so both sides must agree on UTF-8.
    pub fn plaintext(&self, sender: &str) -> String {
        format!(
            "{} from {sender}: Zoë's \"quoted\" ✓ — {{\"json\": [1, null]}}",
            self.name()
        )
    }
}

/// Every case: each key-management algorithm (each ECDH-ES one on every curve) with each content encryption.
pub fn all_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for alg in KeyManagement::ALL {
        let curves: Vec<Option<&'static str>> = if alg.is_ecdh() {
            CURVES.into_iter().map(Some).collect()
        } else {
            vec![None]
        };
        for crv in curves {
            for enc in ContentEncryption::ALL {
                cases.push(Case::new(alg, crv, enc, cases.len()));
            }
        }
    }
    cases
}

/// A second recipient's key for the general JSON serialization, of another algorithm than `case`'s so that a peer
/// that picks its recipient by `alg` finds only its own.
pub fn other_recipient(case: &Case) -> (DecryptionKey, Map<String, Value>) {
    let alg = if case.alg == KeyManagement::A256KW {
        KeyManagement::A128KW
    } else {
        KeyManagement::A256KW
    };
    let secret = random(alg.key_len().unwrap());
    let key = DecryptionKey::from_secret(&secret, alg)
        .unwrap()
        .with_kid("other-recipient");
    let spec = object(json!({
        "alg": alg.name(), "kid": "other-recipient",
        "jwk": {"kty": "oct", "k": b64::encode(secret), "alg": alg.name(), "kid": "other-recipient"},
    }));
    (key, spec)
}

fn object(value: Value) -> Map<String, Value> {
    let Value::Object(map) = value else {
        unreachable!()
    };
    map
}

fn random(len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    bytes
}

/// The fixed RSA 2048 key of the fixtures.
fn rsa_private_jwk() -> Value {
    let jwk = Jwk::from_pem(include_str!("../fixtures/keys/rsa-pkcs8.pem")).unwrap();
    serde_json::to_value(jwk).unwrap()
}

/// A fresh private ECDH JWK. waxseal exports no private JWK for its ECDH keys (only `ecdh_public_jwk`), so the
/// NIST curves come from an ES* signing key (the same EC key, its `alg` rewritten by the caller) and X25519 from
/// aws-lc-rs, which waxseal uses underneath.
fn ecdh_private_jwk(crv: &str) -> Value {
    let signing = match crv {
        "P-256" => Algorithm::ES256,
        "P-384" => Algorithm::ES384,
        "P-521" => Algorithm::ES512,
        "X25519" => {
            let private = agreement::PrivateKey::generate(&X25519).unwrap();
            let d: Curve25519SeedBin<'_> = private.as_be_bytes().unwrap();
            let x = private.compute_public_key().unwrap();
            return json!({
                "kty": "OKP", "crv": "X25519",
                "d": b64::encode(d.as_ref()), "x": b64::encode(x.as_ref()),
            });
        }
        other => panic!("no curve {other}"),
    };
    let key = SigningKey::generate(signing).unwrap();
    let mut jwk = serde_json::to_value(key.to_jwk().unwrap()).unwrap();
    let members = jwk.as_object_mut().unwrap();
    members.retain(|name, _| ["kty", "crv", "x", "y", "d"].contains(&name.as_str()));
    jwk
}

/// The compact JWE with one byte of its (decoded) ciphertext flipped, re-encoded canonically.
pub fn flip_compact(token: &str) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[3] = flip(&parts[3]);
    parts.join(".")
}

/// The JSON JWE with one byte of its ciphertext flipped.
pub fn flip_json(jwe: &Value) -> Value {
    let mut jwe = jwe.clone();
    jwe["ciphertext"] = json!(flip(jwe["ciphertext"].as_str().unwrap()));
    jwe
}

fn flip(segment: &str) -> String {
    let mut bytes = b64::decode(segment, "ciphertext").unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    b64::encode(bytes)
}
