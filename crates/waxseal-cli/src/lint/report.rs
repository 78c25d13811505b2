//! Rendering the review: one line per finding with a colored severity and the fix dimmed beneath, then a
//! summary; or, with `--json`, one JSON object.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use super::finding::{Finding, Severity};
use crate::style::Style;

/// Everything the review found.
pub struct Report {
    pub alg: Option<String>,
    pub typ: Option<String>,
    pub kid: Option<String>,
    /// Sorted, most severe first.
    pub findings: Vec<Finding>,
    /// The weak-secret search, for HMAC tokens.
    pub search: Option<SearchSummary>,
}

/// How the weak-secret search went.
pub struct SearchSummary {
    pub candidates: u64,
    pub elapsed: Duration,
    pub found: bool,
}

impl Report {
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    /// True when anything at warning level or above was found.
    pub fn failed(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.severity <= Severity::Warning)
    }
}

/// The human report.
pub fn human(report: &Report, style: Style) -> String {
    let mut out = String::new();
    let none = || "none".to_owned();
    let _ = writeln!(
        out,
        "{} {}",
        style.bold("Token"),
        style.dim(&format!(
            "alg {} · typ {} · kid {}",
            report.alg.clone().unwrap_or_else(none),
            report.typ.clone().unwrap_or_else(none),
            report.kid.clone().unwrap_or_else(none),
        ))
    );
    if !report.findings.is_empty() {
        out.push('\n');
    }
    for finding in &report.findings {
        let tag = format!("{:<7}", finding.severity.name());
        let tag = match finding.severity {
            Severity::Error => style.red_bold(&tag),
            Severity::Warning => style.yellow(&tag),
            Severity::Info => style.cyan(&tag),
        };
        let _ = writeln!(
            out,
            "{tag} {}: {}",
            style.bold(finding.code),
            finding.message
        );
        let _ = writeln!(
            out,
            "        {}",
            style.dim(&format!("fix: {}", finding.fix))
        );
    }
    out.push('\n');
    if let Some(search) = &report.search {
        let mut line = format!(
            "secret search: {} candidate{}, {}",
            thousands(search.candidates),
            if search.candidates == 1 { "" } else { "s" },
            if search.found { "found" } else { "no match" }
        );
        let secs = search.elapsed.as_secs_f64();
        if secs >= 1.0 {
            let _ = write!(
                line,
                ", {secs:.1} s ({}/s)",
                thousands((search.candidates as f64 / secs) as u64)
            );
        }
        let _ = writeln!(out, "{}", style.dim(&line));
    }
    let (errors, warnings, infos) = (
        report.count(Severity::Error),
        report.count(Severity::Warning),
        report.count(Severity::Info),
    );
    let summary = if report.findings.is_empty() {
        style.green("no problems found")
    } else {
        let text = format!(
            "{} · {} · {}",
            plural(errors, "error"),
            plural(warnings, "warning"),
            plural(infos, "info")
        );
        if errors > 0 {
            style.red_bold(&text)
        } else if warnings > 0 {
            style.yellow(&text)
        } else {
            style.green(&text)
        }
    };
    let _ = writeln!(out, "{summary}");
    out
}

/// The `--json` report.
pub fn json(report: &Report) -> String {
    let value = json!({
        "token": {"alg": report.alg, "typ": report.typ, "kid": report.kid},
        "findings": report.findings,
        "summary": {
            "error": report.count(Severity::Error),
            "warning": report.count(Severity::Warning),
            "info": report.count(Severity::Info),
        },
        "secret_search": report.search.as_ref().map_or(Value::Null, |s| json!({
            "candidates": s.candidates,
            "seconds": s.elapsed.as_secs_f64(),
            "found": s.found,
        })),
    });
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

fn plural(n: usize, word: &str) -> String {
    match (n, word) {
        (_, "info") | (1, _) => format!("{n} {word}"),
        _ => format!("{n} {word}s"),
    }
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(12_345_678), "12,345,678");
        assert_eq!(plural(2, "error"), "2 errors");
        assert_eq!(plural(2, "info"), "2 info");
        assert_eq!(plural(1, "warning"), "1 warning");
    }
}
