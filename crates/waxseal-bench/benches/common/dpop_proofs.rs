//! The DPoP proofs `benches/dpop.rs` and `examples/dpop_profile.rs` verify, and the three ways of verifying one.
//!
//! * **waxseal**: `ProofVerifier::verify` — every check of RFC 9449 §4.3 but replay: the header (typ, alg, a public
//!   jwk), the key built from the jwk, the signature, the claims (jti, htm, htu normalised on both sides, iat), and
//!   the jwk's RFC 7638 thumbprint.
//! * **floor**: what no verifier can skip, with everything that does not depend on the proof prepared beforehand —
//!   `VerifyingKey::verify` of the same signature over the same signing input (the key built once, the signature
//!   already decoded) and `Jwk::thumbprint` of the same jwk (already parsed).
//! * **floor+import**: the floor, plus `VerifyingKey::from_jwk_with_alg` on each call: a proof carries its own
//!   key, so a real verifier must import it every time; this is the floor a verifier could actually reach.
//!
//! The proof is a token-endpoint proof (`POST`, no `ath`), made by a fixture key at a fixed instant, which the
//! verifier's fixed clock accepts.
#![allow(dead_code)]

use waxseal::dpop::{Expected, Proof, ProofVerifier};
use waxseal::jwt::{FixedClock, NumericDate};
use waxseal::{Algorithm, Jwk, SigningKey, VerifyingKey, b64};

pub const NOW: u64 = 1_800_000_000;
pub const METHOD: &str = "POST";
pub const URI: &str = "https://auth.example.com/oauth/token";

/// One proof and what each way of verifying it needs, prepared.
pub struct Case {
    pub alg: Algorithm,
    pub proof: String,
    pub verifier: ProofVerifier,
    pub signing_input: Vec<u8>,
    pub signature: Vec<u8>,
    pub jwk: Jwk,
    pub key: VerifyingKey,
    pub jkt: String,
}

fn fixture_key(alg: Algorithm) -> SigningKey {
    let name = match alg {
        Algorithm::ES256 => "ec-p256-pkcs8.pem",
        Algorithm::EdDSA => "ed25519-pkcs8.pem",
        other => panic!("no DPoP fixture for {other}"),
    };
    let path = format!(
        "{}/../waxseal/tests/fixtures/keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    SigningKey::from_pem(&std::fs::read_to_string(path).unwrap(), alg).unwrap()
}

impl Case {
    pub fn new(alg: Algorithm) -> Case {
        let signer = fixture_key(alg);
        let proof = Proof::new(METHOD, URI)
            .issued_at(NumericDate::from_secs(NOW))
            .jti("9c1a6f2e-1d3b-4e8a-9f0c-2b7d5e6a4c31")
            .sign(&signer)
            .unwrap();
        let verifier = ProofVerifier::new().clock(FixedClock(NumericDate::from_secs(NOW)));
        let (signing_input, signature) = proof.rsplit_once('.').unwrap();
        let header: serde_json::Value = serde_json::from_slice(
            &b64::decode(proof.split('.').next().unwrap(), "header").unwrap(),
        )
        .unwrap();
        let jwk = Jwk::from_json(&header["jwk"].to_string()).unwrap();
        let key = VerifyingKey::from_jwk_with_alg(&jwk, alg).unwrap();
        let case = Case {
            alg,
            signing_input: signing_input.as_bytes().to_vec(),
            signature: b64::decode(signature, "signature").unwrap(),
            jkt: jwk.thumbprint().unwrap(),
            jwk,
            key,
            verifier,
            proof,
        };
        // Every way must accept the proof, and agree on the thumbprint, before anything is timed.
        assert_eq!(case.waxseal(), case.jkt);
        assert_eq!(case.floor(), case.jkt);
        assert_eq!(case.floor_with_import(), case.jkt);
        case
    }

    pub fn waxseal(&self) -> String {
        self.verifier
            .verify(&self.proof, &Expected::new(METHOD, URI))
            .unwrap()
            .jkt
    }

    pub fn floor(&self) -> String {
        self.key
            .verify(&self.signing_input, &self.signature)
            .unwrap();
        self.jwk.thumbprint().unwrap()
    }

    pub fn floor_with_import(&self) -> String {
        let key = VerifyingKey::from_jwk_with_alg(&self.jwk, self.alg).unwrap();
        key.verify(&self.signing_input, &self.signature).unwrap();
        self.jwk.thumbprint().unwrap()
    }

    /// The way named `waxseal`, `floor` or `floor+import`.
    pub fn run(&self, way: &str) -> String {
        match way {
            "waxseal" => self.waxseal(),
            "floor" => self.floor(),
            "floor+import" => self.floor_with_import(),
            other => panic!("unknown way {other}: waxseal, floor or floor+import"),
        }
    }
}

pub const WAYS: [&str; 3] = ["waxseal", "floor", "floor+import"];
pub const ALGS: [Algorithm; 2] = [Algorithm::ES256, Algorithm::EdDSA];
