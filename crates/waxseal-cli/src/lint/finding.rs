//! What the review reports: findings, each with a stable code, a severity, what is wrong and how to fix it.

use serde::Serialize;

/// How bad a finding is. Warnings and errors make `waxseal lint` exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Exploitable as it stands, or a secret is exposed.
    Error,
    /// A weakness a careful issuer would not have.
    Warning,
    /// Worth knowing; not a problem by itself.
    Info,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable snake_case identifier, for scripts and suppression lists.
    pub code: &'static str,
    pub severity: Severity,
    /// What is wrong, in one line.
    pub message: String,
    /// What to do about it, in one imperative line.
    pub fix: &'static str,
}

impl Finding {
    pub fn new(
        code: &'static str,
        severity: Severity,
        message: impl Into<String>,
        fix: &'static str,
    ) -> Finding {
        Finding {
            code,
            severity,
            message: message.into(),
            fix,
        }
    }

    pub fn error(code: &'static str, message: impl Into<String>, fix: &'static str) -> Finding {
        Finding::new(code, Severity::Error, message, fix)
    }

    pub fn warning(code: &'static str, message: impl Into<String>, fix: &'static str) -> Finding {
        Finding::new(code, Severity::Warning, message, fix)
    }

    pub fn info(code: &'static str, message: impl Into<String>, fix: &'static str) -> Finding {
        Finding::new(code, Severity::Info, message, fix)
    }
}
