//! Showing a database URL without its password. The URL an operator configures usually carries one, and both the
//! URL and sqlx's messages about it end up in logs and error messages; these functions are the only way either is
//! shown.

/// `url` with its password (in the user info or a `password` query parameter) replaced by `***`, for logs and
/// error messages. A URL that does not parse is not shown at all: it could be a password pasted in the wrong place.
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "<a URL that does not parse; not shown>".to_owned();
    };
    if parsed.password().is_some() {
        // Cannot fail: a URL with a password has a host.
        let _ = parsed.set_password(Some("***"));
    }
    if parsed.query_pairs().any(|(k, _)| k == "password") {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "password" { "***".into() } else { v };
                (k.into_owned(), v.into_owned())
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// `text` with every password `url` carries replaced by `***` (as written and percent-decoded).
pub(super) fn scrub(text: &str, url: &str) -> String {
    let Ok(parsed) = url::Url::parse(url) else {
        return "(details not shown: they could quote the URL)".to_owned();
    };
    let mut secrets: Vec<String> = parsed
        .query_pairs()
        .filter(|(k, _)| k == "password")
        .map(|(_, v)| v.into_owned())
        .collect();
    if let Some(raw) = parsed.password() {
        secrets.push(raw.to_owned());
        secrets.extend(
            url::form_urlencoded::parse(format!("p={raw}").as_bytes()).map(|(_, v)| v.into_owned()),
        );
    }
    let mut text = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        text = text.replace(secret.as_str(), "***");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_their_password() {
        assert_eq!(
            redact_url("postgres://waxseal:s3cr%2Ft@db.internal:5432/auth?sslmode=require"),
            "postgres://waxseal:***@db.internal:5432/auth?sslmode=require"
        );
        let shown = redact_url("postgresql://u@h/db?password=hunter2&application_name=x");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("application_name=x"), "{shown}");
        assert_eq!(
            redact_url("postgres://u@h/db"),
            "postgres://u@h/db",
            "nothing to hide"
        );
        assert!(!redact_url("hunter2 postgres://").contains("hunter2"));
    }

    #[test]
    fn messages_lose_the_password_as_written_and_decoded() {
        let url = "postgres://u:p%40ss@h/db";
        assert_eq!(scrub("bad p%40ss and p@ss", url), "bad *** and ***");
    }
}
