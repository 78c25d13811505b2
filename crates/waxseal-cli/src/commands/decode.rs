//! `waxseal decode`: what a web debugger shows, locally, with dates people can read and a loud "not verified".

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::anyhow;
use serde_json::{Map, Value, json};
use waxseal::Jwk;
use waxseal::jwt::{UnverifiedToken, decode_unverified};

use super::dpop::{bound_jkt, bound_meaning, embedded_key, is_proof, is_thumbprint};
use crate::cli::DecodeArgs;
use crate::style::Style;
use crate::{Failure, Outcome, input, output, time};

pub(crate) const TIME_CLAIMS: [&str; 4] = ["exp", "nbf", "iat", "auth_time"];

pub fn run(args: &DecodeArgs, style: Style) -> Outcome {
    let token = input::token(args.token.token.as_deref())?;
    let decoded = decode_unverified(&token)
        .map_err(|e| Failure::rejected(anyhow!("cannot decode the token: {e}")))?;
    let now = time::now();
    let warnings = warnings(
        &decoded.header,
        decoded.claims.as_ref(),
        decoded.is_jwe,
        now,
    );
    let dpop = dpop(&token, &decoded, now);
    if args.json {
        let times: Map<String, Value> = decoded
            .claims
            .iter()
            .flat_map(|c| TIME_CLAIMS.iter().filter_map(move |name| Some((*name, c.get(*name)?.as_u64()?))))
            .map(|(name, secs)| {
                (name.to_owned(), json!({"value": secs, "utc": time::utc(secs), "relative": time::relative(secs, now)}))
            })
            .collect();
        let mut out = json!({
            "kind": if decoded.is_jwe { "JWE" } else { "JWS" },
            "verified": false,
            "header": decoded.header,
            "claims": decoded.claims,
            "payload_text": if decoded.claims.is_none() && !decoded.is_jwe { Some(String::from_utf8_lossy(&decoded.payload)) } else { None },
            "signature": if decoded.is_jwe { Value::Null } else { json!({"bytes": decoded.signature.len(), "base64url": waxseal::b64::encode(&decoded.signature)}) },
            "times": times,
            "warnings": warnings.iter().map(|(code, message)| json!({"code": code, "message": message})).collect::<Vec<_>>(),
        });
        if let Some(dpop) = &dpop {
            out["dpop"] = dpop.clone();
        }
        if decoded.is_jwe {
            out["encryption"] = json!({
                "alg": jwe_member(&decoded.header, "alg", explain_alg),
                "enc": jwe_member(&decoded.header, "enc", explain_enc),
                "payload": "encrypted: decrypt it with `waxseal decrypt --key KEY`",
            });
        }
        output::emit(&(serde_json::to_string_pretty(&out).unwrap_or_default() + "\n"))?;
        return Ok(ExitCode::SUCCESS);
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        style.yellow(if decoded.is_jwe {
            "ENCRYPTED — only the header can be read, and nothing is verified. Open it with `waxseal decrypt --key FILE`."
        } else if dpop.as_ref().is_some_and(|d| d["kind"] == "proof") {
            "NOT VERIFIED — a DPoP proof: what it claims, checked below only against the key it carries itself."
        } else {
            "NOT VERIFIED — this shows what the token claims, not that it is true. Check it with `waxseal verify --key FILE`."
        })
    );
    let alg = decoded
        .header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let kind = if decoded.is_jwe {
        "JWE (encrypted; only the header is readable)"
    } else {
        "JWS"
    };
    let _ = writeln!(
        out,
        "\n{}  {}",
        style.bold("Header"),
        style.dim(&format!("{kind} · {alg}"))
    );
    let _ = writeln!(
        out,
        "{}",
        indent(&pretty(&Value::Object(decoded.header.clone())))
    );
    if decoded.is_jwe {
        let _ = writeln!(out, "\n{}", style.bold("Encryption"));
        for (name, explain) in [
            ("alg", explain_alg as fn(&str) -> &'static str),
            ("enc", explain_enc),
        ] {
            let value = decoded
                .header
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or("?");
            let _ = writeln!(out, "  {name} {value}: {}", explain(value));
        }
        let _ = writeln!(
            out,
            "\n{}  {}",
            style.bold("Payload"),
            style.dim("encrypted; decrypt it with `waxseal decrypt --key KEY`")
        );
    } else {
        match &decoded.claims {
            Some(claims) => {
                let _ = writeln!(out, "\n{}", style.bold("Claims"));
                out.push_str(&render_claims(claims, now, style));
            }
            None => {
                let _ = writeln!(
                    out,
                    "\n{}  {}",
                    style.bold("Payload"),
                    style.dim("(not a JSON object)")
                );
                let _ = writeln!(out, "  {}", String::from_utf8_lossy(&decoded.payload));
            }
        }
        let _ = writeln!(
            out,
            "\n{}  {}",
            style.bold("Signature"),
            style.dim(&format!("{} bytes", decoded.signature.len()))
        );
        let _ = writeln!(out, "  {}", waxseal::b64::encode(&decoded.signature));
    }
    if let Some(dpop) = &dpop {
        out.push_str(&render_dpop(dpop, style));
    }
    if !warnings.is_empty() {
        let _ = writeln!(out, "\n{}", style.bold("Warnings"));
        for (_, message) in &warnings {
            let _ = writeln!(out, "  {} {message}", style.yellow("!"));
        }
    }
    output::emit(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// What DPoP makes of the token, for `--json` (`dpop`) and the human view alike: a proof's request, age and key, and
/// whether it verifies with that key; or the key a bound token (`cnf.jkt`) needs. `None` for anything else. The
/// debugger's page shows the same object.
pub(crate) fn dpop(token: &str, decoded: &UnverifiedToken, now: u64) -> Option<Value> {
    let claims = decoded.claims.as_ref()?;
    if decoded.is_jwe {
        return None;
    }
    if is_proof(&decoded.header) {
        let key = embedded_key(token, &decoded.header);
        let claim = |name: &str| claims.get(name).cloned().unwrap_or(Value::Null);
        let iat = claims.get("iat").and_then(Value::as_u64).map_or(Value::Null, |secs| {
            json!({"value": secs, "utc": time::utc(secs), "relative": time::relative(secs, now)})
        });
        return Some(json!({
            "kind": "proof",
            "htm": claim("htm"),
            "htu": claim("htu"),
            "iat": iat,
            "jti": claim("jti"),
            "ath": claim("ath"),
            "nonce": claim("nonce"),
            "jkt": key.jkt,
            "signature": {
                "verifies_with_header_jwk": key.signature.is_ok(),
                "problem": key.signature.err(),
            },
            "meaning": "a DPoP proof (RFC 9449): made by the client for one request and signed by the key in its \
                        header; that the signature verifies with that key proves only that the sender holds the key, \
                        not whose key it is",
        }));
    }
    match bound_jkt(claims)? {
        Ok(jkt) => Some(json!({
            "kind": "bound_token",
            "jkt": jkt,
            "jkt_is_thumbprint": is_thumbprint(jkt),
            "meaning": bound_meaning(jkt),
        })),
        Err(value) => Some(json!({
            "kind": "bound_token",
            "jkt": value,
            "jkt_is_thumbprint": false,
            "meaning": "cnf.jkt should be the SHA-256 thumbprint of a key, a string; no key matches this one",
        })),
    }
}

/// The human view of [`dpop`]'s object.
fn render_dpop(dpop: &Value, style: Style) -> String {
    let mut out = String::new();
    let text = |v: &Value| match v {
        Value::Null => "absent".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if dpop["kind"] == "bound_token" {
        let _ = writeln!(
            out,
            "\n{}  {}",
            style.bold("DPoP-bound"),
            style.dim("cnf.jkt: sender-constrained (RFC 9449)")
        );
        let _ = writeln!(out, "  {}", text(&dpop["meaning"]));
        return out;
    }
    let _ = writeln!(
        out,
        "\n{}  {}",
        style.bold("DPoP proof"),
        style.dim("RFC 9449 · made by the client for one request, signed by the key in its header")
    );
    let iat = match &dpop["iat"] {
        Value::Null => "absent".to_owned(),
        iat => format!("{} ({})", text(&iat["utc"]), text(&iat["relative"])),
    };
    let ath = match &dpop["ath"] {
        Value::Null => {
            "absent: fine for a token request; a resource server needs the access token's hash"
                .to_owned()
        }
        ath => format!("{} (the hash of the access token sent with it)", text(ath)),
    };
    let jkt = match &dpop["jkt"] {
        Value::Null => "none: the header has no usable jwk".to_owned(),
        jkt => format!(
            "{} (the header's jwk; a token bound to it has this cnf.jkt)",
            text(jkt)
        ),
    };
    for (name, value) in [
        ("htm", text(&dpop["htm"])),
        ("htu", text(&dpop["htu"])),
        ("iat", iat),
        ("jti", text(&dpop["jti"])),
        ("ath", ath),
        ("nonce", text(&dpop["nonce"])),
        ("jkt", jkt),
    ] {
        let _ = writeln!(out, "  {name:<7}{value}");
    }
    if dpop["signature"]["verifies_with_header_jwk"] == true {
        let _ = writeln!(
            out,
            "  {} the signature verifies with the header's own jwk: this proves only that the sender holds that key, not whose key it is",
            style.green("✓")
        );
    } else {
        let _ = writeln!(
            out,
            "  {} the signature does not verify with the header's own jwk ({}): every server refuses this proof",
            style.red_bold("✗"),
            text(&dpop["signature"]["problem"])
        );
    }
    out
}

/// A JWE header member with what it means, for `--json`.
fn jwe_member(header: &Map<String, Value>, name: &str, explain: fn(&str) -> &'static str) -> Value {
    match header.get(name).and_then(Value::as_str) {
        Some(value) => json!({"name": value, "meaning": explain(value)}),
        None => Value::Null,
    }
}

/// What a JWE key-management algorithm (`alg`) does, by its registered name (RFC 7518 §4, RFC 8037).
pub(crate) fn explain_alg(name: &str) -> &'static str {
    match name {
        "dir" => "direct: the shared secret is the content key itself (no encrypted key segment)",
        "A128KW" | "A192KW" | "A256KW" => {
            "the content key is wrapped with a shared AES key (AES key wrap, RFC 3394)"
        }
        "A128GCMKW" | "A192GCMKW" | "A256GCMKW" => {
            "the content key is wrapped with a shared AES key using AES-GCM (iv and tag in the header)"
        }
        "RSA-OAEP" => {
            "the content key is encrypted to the recipient's RSA public key (RSAES-OAEP with SHA-1)"
        }
        "RSA-OAEP-256" | "RSA-OAEP-384" | "RSA-OAEP-512" => {
            "the content key is encrypted to the recipient's RSA public key (RSAES-OAEP with SHA-2)"
        }
        "RSA1_5" => {
            "the content key is encrypted with RSAES-PKCS1-v1_5: deprecated, open to Bleichenbacher's attack"
        }
        "ECDH-ES" => {
            "the content key is agreed by ECDH with an ephemeral key (epk) and the recipient's EC/X25519 key"
        }
        "ECDH-ES+A128KW" | "ECDH-ES+A192KW" | "ECDH-ES+A256KW" => {
            "an ECDH-ES agreed key (epk in the header) wraps the content key with AES key wrap"
        }
        "PBES2-HS256+A128KW" | "PBES2-HS384+A192KW" | "PBES2-HS512+A256KW" => {
            "a password, stretched with PBKDF2 (salt p2s, count p2c), wraps the content key"
        }
        _ => "not a registered JWE key-management algorithm",
    }
}

/// What a JWE content encryption (`enc`) is (RFC 7518 §5).
pub(crate) fn explain_enc(name: &str) -> &'static str {
    match name {
        "A128GCM" | "A192GCM" | "A256GCM" => "the content is sealed with AES-GCM",
        "A128CBC-HS256" | "A192CBC-HS384" | "A256CBC-HS512" => {
            "the content is sealed with AES-CBC and authenticated with HMAC-SHA-2"
        }
        _ => "not a registered JWE content encryption",
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The claims as pretty JSON, with each time claim followed by its date and how far it is from now.
fn render_claims(claims: &Map<String, Value>, now: u64, style: Style) -> String {
    let mut out = String::from("  {\n");
    let last = claims.len().saturating_sub(1);
    for (i, (name, value)) in claims.iter().enumerate() {
        let comma = if i == last { "" } else { "," };
        let rendered = indent(&pretty(value)).trim_start().to_owned();
        let mut line = format!("    {}: {rendered}{comma}", Value::String(name.clone()));
        if let (true, Some(secs)) = (TIME_CLAIMS.contains(&name.as_str()), value.as_u64()) {
            let note = format!("{} ({})", time::utc(secs), time::relative(secs, now));
            let _ = write!(line, "  {}", style.cyan(&note));
        }
        out.push_str(&line.replace('\n', "\n  "));
        out.push('\n');
    }
    out.push_str("  }\n");
    out
}

/// Warnings worth a glance even before verification: (code, message). The debugger shows the same.
pub(crate) fn warnings(
    header: &Map<String, Value>,
    claims: Option<&Map<String, Value>>,
    is_jwe: bool,
    now: u64,
) -> Vec<(&'static str, String)> {
    let mut found = Vec::new();
    // A DPoP proof carries its public key by design, and lives by its iat, not an exp.
    let proof = !is_jwe && is_proof(header);
    if let Some(alg) = header.get("alg").and_then(Value::as_str)
        && alg.eq_ignore_ascii_case("none")
    {
        found.push((
            "alg_none",
            "alg is \"none\": the token is unsigned and anyone could have written it".to_owned(),
        ));
    }
    for member in ["jku", "x5u", "jwk", "x5c"] {
        if header.contains_key(member) && !(proof && member == "jwk") {
            found.push((
                "key_in_header",
                format!(
                    "header carries \"{member}\"; a verifier must never take keys from the token"
                ),
            ));
        }
    }
    if proof
        && let Some(jwk) = header.get("jwk")
        && Jwk::from_json(&jwk.to_string()).is_ok_and(|jwk| jwk.is_private())
    {
        found.push((
            "dpop_private_jwk",
            "the proof's jwk carries the private key: whoever saw this proof can use the tokens bound to it"
                .to_owned(),
        ));
    }
    if is_jwe {
        return found;
    }
    let Some(claims) = claims else {
        found.push((
            "not_jwt",
            "the payload is not a JSON object, so this is a JWS but not a JWT".to_owned(),
        ));
        return found;
    };
    match claims.get("exp").and_then(Value::as_u64) {
        Some(exp) if exp < now => {
            found.push(("expired", format!("expired {}", time::relative(exp, now))));
        }
        Some(_) => {}
        None if proof => {}
        None => found.push(("no_exp", "no exp claim: the token never expires".to_owned())),
    }
    if let Some(nbf) = claims.get("nbf").and_then(Value::as_u64)
        && nbf > now
    {
        found.push((
            "not_yet_valid",
            format!(
                "not valid until {} ({})",
                time::utc(nbf),
                time::relative(nbf, now)
            ),
        ));
    }
    if let Some(iat) = claims.get("iat").and_then(Value::as_u64)
        && iat > now + 60
    {
        found.push((
            "iat_future",
            format!("issued in the future ({})", time::relative(iat, now)),
        ));
    }
    found
}
