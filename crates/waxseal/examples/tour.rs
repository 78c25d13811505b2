//! A five-minute tour of waxseal: generate keys, sign a token, verify it, publish a JWKS, and watch attacks fail.
//!
//! Run with `cargo run -p waxseal --example tour`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use waxseal::jws::HeaderBuilder;
use waxseal::jwt::{Claims, Signer, Verifier, decode_unverified};
use waxseal::{Algorithm, KeySet, SigningKey};

#[derive(Debug, Serialize, Deserialize)]
struct Access {
    scope: String,
}

fn main() -> Result<(), waxseal::Error> {
    println!("1. Generate an ES256 key pair (kid = RFC 7638 thumbprint)");
    let key = SigningKey::generate(Algorithm::ES256)?;
    println!("   kid: {}", key.kid().unwrap_or("-"));

    println!("2. Sign an access token (RFC 9068 typ at+jwt, 15 minutes)");
    let signer = Signer::with_header(&key, &HeaderBuilder::new().typ("at+jwt"))?;
    let claims = Claims::new(Access {
        scope: "read:orders".into(),
    })
    .issuer("https://auth.example.com")
    .subject("user-42")
    .audience("orders-api")
    .expires_in(Duration::from_secs(15 * 60));
    let token = signer.sign(&claims)?;
    println!("   {token}");

    println!("3. Publish the public key as a JWKS");
    let jwks = serde_json::json!({ "keys": [key.public_jwk()?] }).to_string();
    println!("   {jwks}");

    println!("4. A resource server verifies with the JWKS, issuer, audience and typ");
    let verifier = Verifier::new(KeySet::from_jwks(&jwks)?)
        .issuer("https://auth.example.com")
        .audience("orders-api")
        .typ("at+jwt");
    let verified = verifier.verify::<Access>(&token)?;
    println!(
        "   sub={:?} scope={:?}",
        verified.registered.sub, verified.custom.scope
    );

    println!("5. Attacks fail, with reasons");
    let unverified = decode_unverified(&token)?;
    let none = format!(
        "{}.{}.",
        waxseal::b64::encode(r#"{"alg":"none"}"#),
        waxseal::b64::encode(serde_json::to_vec(&unverified.claims).unwrap_or_default())
    );
    println!(
        "   alg none:          {}",
        refused(verifier.verify::<Access>(&none))
    );
    let other = SigningKey::generate(Algorithm::ES256)?;
    let forged = Signer::with_header(
        &other,
        &HeaderBuilder::new()
            .typ("at+jwt")
            .kid(key.kid().unwrap_or("")),
    )?
    .sign(&claims)?;
    println!(
        "   wrong key:         {}",
        refused(verifier.verify::<Access>(&forged))
    );
    let wrong_aud = signer.sign(
        &Claims::new(Access { scope: "x".into() })
            .issuer("https://auth.example.com")
            .audience("billing-api")
            .expires_in(Duration::from_secs(60)),
    )?;
    println!(
        "   other audience:    {}",
        refused(verifier.verify::<Access>(&wrong_aud))
    );
    Ok(())
}

/// The reason a token was refused; a token that was accepted here would be a bug worth reporting.
fn refused<T>(result: Result<T, waxseal::Error>) -> String {
    match result {
        Ok(_) => "ACCEPTED — this is a bug, please report it".to_owned(),
        Err(e) => format!("refused: {e} [{}]", e.code()),
    }
}
