//! Claims that should not be in a token at all: a JWT's payload is base64url, not encrypted, so anyone who holds
//! the token can read it. Scans names and values recursively (to [`MAX_DEPTH`]) for secrets, payment cards,
//! national identifiers, private keys and personal data.
//!
//! The patterns lean towards few false alarms: card numbers must have 13–19 digits, start like a real card (2–6),
//! pass the Luhn check and stand alone (digits in groups of three or more, separated by single spaces or dashes);
//! US SSNs must be written `ddd-dd-dddd` with a possible area, group and serial; UK National Insurance numbers must
//! have a valid prefix; phone numbers must be international (`+` and 8–15 digits).

use serde_json::{Map, Value};

use super::finding::Finding;

/// How deep the claims are followed.
pub const MAX_DEPTH: usize = 32;

/// Name fragments that mark a secret wherever they appear in a (normalised) claim name.
const SECRET_FRAGMENTS: [&str; 12] = [
    "password",
    "passwd",
    "passphrase",
    "secret",
    "privatekey",
    "apikey",
    "accesskey",
    "creditcard",
    "cardnumber",
    "socialsecurity",
    "nationalid",
    "passport",
];

/// Whole (normalised) claim names that mark a secret; too short to match inside other names.
const SECRET_NAMES: [&str; 14] = [
    "pwd", "pass", "pin", "ssn", "cvv", "cvv2", "cvc", "ccn", "sin", "nino", "taxid", "tin",
    "iban", "otp",
];

/// Whole (normalised) claim names whose string values are phone numbers.
const PHONE_NAMES: [&str; 5] = ["phone", "phonenumber", "mobile", "telephone", "tel"];

/// Findings for every claim, nested ones included.
pub fn scan(claims: &Map<String, Value>) -> Vec<Finding> {
    let mut found = Vec::new();
    for (name, value) in claims {
        walk(name, Some(name), value, 1, &mut found);
    }
    found
}

fn walk(path: &str, name: Option<&str>, value: &Value, depth: usize, found: &mut Vec<Finding>) {
    if depth > MAX_DEPTH {
        return;
    }
    let normalised = name.map(normalise);
    if let Some(n) = &normalised
        && (SECRET_NAMES.contains(&n.as_str()) || SECRET_FRAGMENTS.iter().any(|f| n.contains(f)))
    {
        found.push(Finding::warning(
            "sensitive_claim_name",
            format!("claim `{path}` is named like a secret or sensitive data, which anyone holding the token can read"),
            "Keep secrets out of tokens: store them server-side, or use JWE if the client must carry them.",
        ));
    }
    match value {
        Value::Object(members) => {
            if is_private_jwk(members) {
                found.push(private_key(path, "a private JWK"));
            }
            for (child, v) in members {
                walk(&format!("{path}.{child}"), Some(child), v, depth + 1, found);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                walk(&format!("{path}[{i}]"), None, v, depth + 1, found);
            }
        }
        Value::String(s) => {
            let is_phone_name = normalised
                .as_deref()
                .is_some_and(|n| PHONE_NAMES.contains(&n));
            text(path, s, is_phone_name, found);
        }
        Value::Number(n) => {
            if let Some(last4) = n.as_u64().and_then(|n| card_number(&n.to_string())) {
                found.push(card(path, &last4));
            }
        }
        Value::Bool(_) | Value::Null => {}
    }
}

fn text(path: &str, s: &str, is_phone_name: bool, found: &mut Vec<Finding>) {
    if s.contains("-----BEGIN") && s.contains("PRIVATE KEY") {
        found.push(private_key(path, "a PEM private key"));
    }
    if let Some(last4) = card_number(s) {
        found.push(card(path, &last4));
    }
    let national = if has_us_ssn(s) {
        Some("a US Social Security number")
    } else if has_uk_nino(s) {
        Some("a UK National Insurance number")
    } else {
        None
    };
    if let Some(what) = national {
        found.push(Finding::warning(
            "national_id",
            format!("claim `{path}` holds what looks like {what}"),
            "Remove national identifiers from tokens; refer to people by an opaque ID.",
        ));
    }
    let personal = if has_email(s) {
        Some("an email address")
    } else if has_phone(s) || (is_phone_name && s.chars().filter(char::is_ascii_digit).count() >= 6)
    {
        Some("a phone number")
    } else {
        None
    };
    if let Some(what) = personal {
        found.push(Finding::info(
            "personal_data",
            format!(
                "claim `{path}` holds {what}, personal data readable by anyone holding the token"
            ),
            "Include personal data only where the recipient needs it; prefer an opaque subject ID.",
        ));
    }
}

fn private_key(path: &str, what: &str) -> Finding {
    Finding::error(
        "private_key_material",
        format!("claim `{path}` holds {what}: the key is exposed to everyone who saw the token"),
        "Remove the key from the token and rotate it now; treat it as compromised.",
    )
}

fn card(path: &str, last4: &str) -> Finding {
    Finding::warning(
        "card_number",
        format!(
            "claim `{path}` holds what looks like a payment card number (ending {last4}, passes the Luhn check)"
        ),
        "Remove card data from tokens; refer to the card by a payment processor's token (PCI DSS).",
    )
}

fn normalise(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A JWK with private material: `d` (RSA, EC, OKP) or `k` (a secret key).
fn is_private_jwk(members: &Map<String, Value>) -> bool {
    let Some(kty) = members.get("kty").and_then(Value::as_str) else {
        return false;
    };
    members.get("d").is_some_and(Value::is_string)
        || (kty == "oct" && members.get("k").is_some_and(Value::is_string))
}

/// The Luhn (mod 10) check of a string of ASCII digits.
pub fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 1 {
                if d > 4 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    !digits.is_empty() && sum % 10 == 0
}

/// The last four digits of the first payment-card-like number in `s`.
pub fn card_number(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
            i += 1;
            continue;
        }
        // A run of digit groups separated by single spaces or dashes.
        let mut digits = Vec::new();
        let mut groups = Vec::new();
        let mut j = i;
        loop {
            let start = j;
            while j < b.len() && b[j].is_ascii_digit() {
                digits.push(b[j]);
                j += 1;
            }
            groups.push(j - start);
            if j + 1 < b.len() && matches!(b[j], b' ' | b'-') && b[j + 1].is_ascii_digit() {
                j += 1;
            } else {
                break;
            }
        }
        let stands_alone = j == b.len() || !b[j].is_ascii_alphanumeric();
        let grouped = groups.len() == 1 || groups.iter().all(|g| *g >= 3);
        if stands_alone
            && grouped
            && (13..=19).contains(&digits.len())
            && (b'2'..=b'6').contains(&digits[0])
            && digits.iter().any(|d| *d != digits[0])
            && luhn(&digits)
        {
            return Some(String::from_utf8_lossy(&digits[digits.len() - 4..]).into_owned());
        }
        i = j.max(i + 1);
    }
    None
}

fn boundary(b: &[u8], i: usize) -> bool {
    b.get(i)
        .is_none_or(|c| !c.is_ascii_alphanumeric() && *c != b'-')
}

/// A US Social Security number written `ddd-dd-dddd`, with a possible area (not 000, 666 or 9xx), group (not 00)
/// and serial (not 0000).
pub fn has_us_ssn(s: &str) -> bool {
    let b = s.as_bytes();
    b.windows(11).enumerate().any(|(i, w)| {
        let shape = w.iter().enumerate().all(|(k, c)| {
            if k == 3 || k == 6 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
        shape
            && (i == 0 || boundary(b, i - 1))
            && boundary(b, i + 11)
            && &w[..3] != b"000"
            && &w[..3] != b"666"
            && w[0] != b'9'
            && &w[4..6] != b"00"
            && &w[7..] != b"0000"
    })
}

/// A UK National Insurance number: `AB123456C` or `AB 12 34 56 C`, with a valid prefix.
pub fn has_uk_nino(s: &str) -> bool {
    let b = s.as_bytes();
    (0..b.len()).any(|i| (i == 0 || boundary(b, i - 1)) && nino_at(b, i))
}

fn nino_at(b: &[u8], mut i: usize) -> bool {
    const NEVER: &[u8] = b"DFIQUV";
    let (Some(&p0), Some(&p1)) = (b.get(i), b.get(i + 1)) else {
        return false;
    };
    if !p0.is_ascii_uppercase()
        || !p1.is_ascii_uppercase()
        || NEVER.contains(&p0)
        || NEVER.contains(&p1)
        || p1 == b'O'
        || [b"BG", b"GB", b"NK", b"KN", b"TN", b"NT", b"ZZ"].contains(&&[p0, p1])
    {
        return false;
    }
    i += 2;
    let spaced = b.get(i) == Some(&b' ');
    for _ in 0..3 {
        if spaced {
            if b.get(i) != Some(&b' ') {
                return false;
            }
            i += 1;
        }
        if !(b.get(i).is_some_and(u8::is_ascii_digit)
            && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            return false;
        }
        i += 2;
    }
    if spaced {
        if b.get(i) != Some(&b' ') {
            return false;
        }
        i += 1;
    }
    matches!(b.get(i), Some(b'A'..=b'D')) && boundary(b, i + 1)
}

/// An email address: `local@domain.tld`.
pub fn has_email(s: &str) -> bool {
    let b = s.as_bytes();
    let local_char = |c: u8| c.is_ascii_alphanumeric() || b"._%+-".contains(&c);
    let domain_char = |c: u8| c.is_ascii_alphanumeric() || c == b'.' || c == b'-';
    b.iter()
        .enumerate()
        .filter(|(_, c)| **c == b'@')
        .any(|(at, _)| {
            let start = b[..at]
                .iter()
                .rposition(|c| !local_char(*c))
                .map_or(0, |p| p + 1);
            let end = b[at + 1..]
                .iter()
                .position(|c| !domain_char(*c))
                .map_or(b.len(), |p| at + 1 + p);
            let local = &s[start..at];
            let domain = s[at + 1..end].trim_end_matches('.');
            let labels: Vec<&str> = domain.split('.').collect();
            !local.is_empty()
                && !local.starts_with('.')
                && labels.len() >= 2
                && labels.iter().all(|l| !l.is_empty())
                && labels.last().is_some_and(|tld| {
                    tld.len() >= 2 && tld.bytes().all(|c| c.is_ascii_alphabetic())
                })
        })
}

/// An international phone number: `+` then 8–15 digits, with spaces, dashes, dots or parentheses between.
pub fn has_phone(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter()
        .enumerate()
        .filter(|(_, c)| **c == b'+')
        .any(|(plus, _)| {
            if plus > 0 && b[plus - 1].is_ascii_alphanumeric() {
                return false;
            }
            let mut digits = 0;
            let mut j = plus + 1;
            if !b.get(j).is_some_and(|c| (b'1'..=b'9').contains(c)) {
                return false;
            }
            while j < b.len() && (b[j].is_ascii_digit() || b" -.()".contains(&b[j])) {
                digits += usize::from(b[j].is_ascii_digit());
                j += 1;
            }
            (8..=15).contains(&digits) && (j == b.len() || !b[j].is_ascii_alphanumeric())
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn luhn_and_cards() {
        assert!(luhn(b"4111111111111111"));
        assert!(luhn(b"79927398713"));
        assert!(!luhn(b"4111111111111112"));
        assert_eq!(card_number("4111111111111111").as_deref(), Some("1111"));
        assert_eq!(
            card_number("card: 4111 1111 1111 1111.").as_deref(),
            Some("1111")
        );
        assert_eq!(card_number("5555-5555-5555-4444").as_deref(), Some("4444"));
        assert_eq!(card_number("3782 822463 10005").as_deref(), Some("0005"));
        for not_card in [
            "4111111111111112",
            "1700000000000",
            "4111111111111111x",
            "a4111111111111111",
            "2024-03-15 12:00",
            "123e4567-e89b-12d3-a456-426614174000",
            "4444444444444444444",
        ] {
            assert_eq!(card_number(not_card), None, "{not_card}");
        }
    }

    #[test]
    fn national_ids() {
        assert!(has_us_ssn("123-45-6789"));
        assert!(has_us_ssn("ssn 123-45-6789."));
        for not_ssn in [
            "000-12-3456",
            "666-12-3456",
            "900-12-3456",
            "123-00-6789",
            "123-45-0000",
            "1123-45-6789",
            "123-45-67890",
        ] {
            assert!(!has_us_ssn(not_ssn), "{not_ssn}");
        }
        assert!(has_uk_nino("AB123456C"));
        assert!(has_uk_nino("nino: AB 12 34 56 C"));
        for not_nino in [
            "BG123456C",
            "AB123456E",
            "DA123456A",
            "AO123456A",
            "AB12345C",
            "XAB123456C",
            "AB 1234 56 C",
        ] {
            assert!(!has_uk_nino(not_nino), "{not_nino}");
        }
    }

    #[test]
    fn emails_and_phones() {
        assert!(has_email("alice@example.com"));
        assert!(has_email("Contact: a.b+c@mail.example.co.uk."));
        for not_email in [
            "alice@localhost",
            "@example.com",
            "alice@",
            "a@b.c",
            "a@example.123",
        ] {
            assert!(!has_email(not_email), "{not_email}");
        }
        assert!(has_phone("+14155552671"));
        assert!(has_phone("call +44 20 7946 0958"));
        assert!(!has_phone("+1234"));
        assert!(!has_phone("1+14155552671"));
    }

    #[test]
    fn scans_nested_claims() {
        let claims = json!({
            "sub": "alice@example.com",
            "user": {"Password": "x", "cards": ["4111 1111 1111 1111"], "phone_number": "415 555 2671"},
            "classname": "not ssn",
            "cnf": {"jwk": {"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "d": "c"}},
            "note": "-----BEGIN PRIVATE KEY-----\nMII...\n-----END PRIVATE KEY-----",
            "id": "123-45-6789",
        });
        let found = scan(claims.as_object().unwrap());
        let got: Vec<(&str, String)> = found
            .iter()
            .map(|f| (f.code, f.message.split('`').nth(1).unwrap_or("").to_owned()))
            .collect();
        assert_eq!(
            got,
            [
                ("personal_data", "sub".to_owned()),
                ("sensitive_claim_name", "user.Password".to_owned()),
                ("card_number", "user.cards[0]".to_owned()),
                ("personal_data", "user.phone_number".to_owned()),
                ("private_key_material", "cnf.jwk".to_owned()),
                ("private_key_material", "note".to_owned()),
                ("national_id", "id".to_owned()),
            ]
        );
    }

    #[test]
    fn depth_is_bounded() {
        let mut v = json!({"password": "x"});
        for _ in 0..100 {
            v = json!({"a": v});
        }
        assert!(scan(v.as_object().unwrap()).is_empty());
    }
}
