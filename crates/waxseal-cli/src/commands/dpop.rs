//! `waxseal dpop`: one DPoP proof (RFC 9449) for one request, printed alone so that it fits in a `curl -H`; and
//! what `decode` and `lint` need to read proofs and DPoP-bound tokens.
//!
//! The proof is made by `waxseal::dpop::Proof` and, before it is printed, checked by `waxseal::dpop::ProofVerifier`
//! for the same request: what is printed is what a server accepts, and a URL the verifier would refuse is refused
//! here, with the verifier's own words, instead of at the server.

use std::process::ExitCode;

use anyhow::anyhow;
use serde_json::{Map, Value, json};
use waxseal::dpop::{Expected, PROOF_TYPE, Proof, ProofVerifier};
use waxseal::jwt::{FixedClock, NumericDate, decode_unverified};
use waxseal::{Algorithm, Jwk, VerifyingKey};

use crate::cli::DpopArgs;
use crate::{Failure, Outcome, input, keyfile, output, time};

/// The methods of RFC 9110, to catch `--method get` (methods are case-sensitive; `htm` must match exactly).
const STANDARD_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// What to say when a key cannot make proofs because it is a shared secret.
const ASYMMETRIC_NEEDED: &str = "a DPoP key must be asymmetric: the proof carries the key, so a shared \
    secret would be public; make one with `waxseal keygen --alg ES256 --out client.jwk` (or EdDSA, RS256, …)";

pub fn run(args: &DpopArgs) -> Outcome {
    check_method(&args.method)?;
    let alg = args
        .alg
        .as_deref()
        .map(|a| keyfile::parse_algs(&[a.to_owned()]))
        .transpose()?
        .map(|v| v[0]);
    if alg.is_some_and(Algorithm::is_symmetric) {
        return Err(Failure::usage(anyhow!(
            "--alg {}: {ASYMMETRIC_NEEDED}",
            args.alg.as_deref().unwrap_or_default()
        )));
    }
    let jwk = keyfile::private_jwk(&args.key)?;
    if jwk.kty == "oct" {
        return Err(Failure::usage(anyhow!(
            "{} is an HMAC (oct) key; {ASYMMETRIC_NEEDED}",
            args.key.display()
        )));
    }
    let key = keyfile::jwk_signing_key(&jwk, alg)?;
    let access_token = args
        .access_token
        .as_deref()
        .map(|t| input::token(Some(t)))
        .transpose()?;

    let now = NumericDate::from_secs(time::now());
    let mut proof = Proof::new(&args.method, &args.url).issued_at(now);
    let mut expected = Expected::new(&args.method, &args.url);
    if let Some(token) = &access_token {
        proof = proof.access_token(token);
        expected = expected.access_token(token);
    }
    if let Some(nonce) = &args.nonce {
        proof = proof.nonce(nonce);
    }
    let proof = proof
        .sign(&key)
        .map_err(|e| Failure::usage(anyhow!("cannot make the proof: {e}")))?;
    // The proof made above is checked as a server would check it: mainly the URL, which Proof takes as given.
    let verified = ProofVerifier::new()
        .clock(FixedClock(now))
        .verify(&proof, &expected)
        .map_err(|e| {
            Failure::usage(anyhow!(
                "a server would refuse this proof: {e} (--url must be the absolute http(s) URL the request goes to, \
                 such as https://api.example.com/orders)"
            ))
        })?;

    if args.json {
        let claims = decode_unverified(&proof)
            .ok()
            .and_then(|d| d.claims)
            .map_or(Value::Null, Value::Object);
        let out = json!({
            "proof": proof,
            "jkt": verified.jkt,
            "alg": verified.algorithm.name(),
            "claims": claims,
        });
        output::emit(&(serde_json::to_string_pretty(&out).unwrap_or_default() + "\n"))?;
    } else {
        output::emit(&format!("{proof}\n"))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// An HTTP method as sent: a token (RFC 9110 §5.6.2), and not a standard method in the wrong case.
fn check_method(method: &str) -> Result<(), Failure> {
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if method.is_empty() || !method.bytes().all(tchar) {
        return Err(Failure::usage(anyhow!(
            "--method {method:?} is not an HTTP method; give the request's method as sent: GET, POST, PUT, DELETE, …"
        )));
    }
    if let Some(standard) = STANDARD_METHODS
        .iter()
        .find(|m| m.eq_ignore_ascii_case(method) && **m != method)
    {
        return Err(Failure::usage(anyhow!(
            "--method {method}: methods are case-sensitive and the server compares htm with the request's \
             exactly; write {standard}"
        )));
    }
    Ok(())
}

/// A DPoP proof, by its `typ` (a media type: case-insensitive, `application/` may be written out).
pub(crate) fn is_proof(header: &Map<String, Value>) -> bool {
    header
        .get("typ")
        .and_then(Value::as_str)
        .is_some_and(|typ| {
            typ.eq_ignore_ascii_case(PROOF_TYPE)
                || typ.eq_ignore_ascii_case(&format!("application/{PROOF_TYPE}"))
        })
}

/// What a proof's own key says about it. A proof is self-signed: checking it with the key it carries shows that
/// whoever made it holds that key, and nothing about whose key it is.
pub(crate) struct EmbeddedKey {
    /// The RFC 7638 thumbprint of the header's `jwk`, when it is a usable key.
    pub jkt: Option<String>,
    /// Whether the signature verifies with the header's `jwk`, and if not, why.
    pub signature: Result<(), String>,
}

/// Reads the `jwk` of a proof's header and checks the proof's signature with it.
pub(crate) fn embedded_key(compact: &str, header: &Map<String, Value>) -> EmbeddedKey {
    let jwk = match header.get("jwk") {
        Some(value @ Value::Object(_)) => {
            Jwk::from_json(&value.to_string()).map_err(|e| e.to_string())
        }
        Some(_) => Err("the header's jwk is not a JSON object".to_owned()),
        None => Err("the header has no jwk, so there is no key to check it with".to_owned()),
    };
    let jwk = match jwk {
        Ok(jwk) => jwk,
        Err(why) => {
            return EmbeddedKey {
                jkt: None,
                signature: Err(why),
            };
        }
    };
    EmbeddedKey {
        jkt: jwk.thumbprint().ok(),
        signature: self_signature(compact, header, &jwk),
    }
}

fn self_signature(compact: &str, header: &Map<String, Value>, jwk: &Jwk) -> Result<(), String> {
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or("the header has no alg")?;
    let alg = Algorithm::from_name(alg).map_err(|e| e.to_string())?;
    if alg.is_symmetric() {
        return Err(format!(
            "alg {alg} is HMAC: a proof must be signed with an asymmetric key"
        ));
    }
    let key =
        VerifyingKey::from_jwk_with_alg(jwk, alg).map_err(|e| format!("the header's jwk: {e}"))?;
    let (signing_input, signature) = compact
        .rsplit_once('.')
        .ok_or("the proof is not a compact JWS")?;
    let signature = waxseal::b64::decode(signature, "signature").map_err(|e| e.to_string())?;
    key.verify(signing_input.as_bytes(), &signature)
        .map_err(|_| "the signature does not verify with the header's jwk".to_owned())
}

/// The `cnf.jkt` of a token's claims (RFC 9449 §6.1): `Some(Ok(jkt))` for a string, `Some(Err(value))` otherwise.
pub(crate) fn bound_jkt(claims: &Map<String, Value>) -> Option<Result<&str, &Value>> {
    let jkt = claims.get("cnf")?.get("jkt")?;
    Some(jkt.as_str().ok_or(jkt))
}

/// A SHA-256 JWK thumbprint: 43 characters of base64url, 32 bytes.
pub(crate) fn is_thumbprint(jkt: &str) -> bool {
    jkt.len() == 43 && waxseal::b64::decode(jkt, "jkt").is_ok_and(|bytes| bytes.len() == 32)
}

/// What a bound token means, in one sentence: decode's explanation.
pub(crate) fn bound_meaning(jkt: &str) -> String {
    format!(
        "bound to the key with thumbprint {jkt}: send it as `Authorization: DPoP` with a proof by that key \
         (RFC 9449); as a bearer token it is refused"
    )
}
