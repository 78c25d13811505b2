//! Accessibility checks with axe-core, injected into the page of a [`Session`] (JavaScript on: axe runs in the page).

use std::fmt;
use std::sync::OnceLock;

use serde_json::Value;

use super::{Session, current_test};
use crate::{repo_root, require_or_skip};

/// Where axe-core's browser bundle is, installed by `npm ci --prefix interop/node` (`.ci/deps`).
const AXE_SCRIPT: &str = "interop/node/node_modules/axe-core/axe.min.js";

/// One rule axe-core found broken on a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The rule, as axe names it (`image-alt`, `label`, `color-contrast`, ...).
    pub id: String,
    /// How much it hurts: `minor`, `moderate`, `serious` or `critical` (`None` if axe gave none).
    pub impact: Option<String>,
    /// What the rule asks for, in a sentence.
    pub help: String,
    /// Where the rule is explained.
    pub help_url: String,
    /// The CSS selector of each element that breaks it.
    pub targets: Vec<String>,
}

impl Violation {
    /// True for `serious` and `critical`: what [`assert_accessible`] fails on.
    pub fn is_serious(&self) -> bool {
        matches!(self.impact.as_deref(), Some("serious" | "critical"))
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] {}: {} ({} element(s): {}) {}",
            self.impact.as_deref().unwrap_or("?"),
            self.id,
            self.help,
            self.targets.len(),
            self.targets.join(", "),
            self.help_url,
        )
    }
}

/// axe-core's bundle, read once; `None` (after the skip banner) when `npm ci --prefix interop/node` has not run.
fn axe_script() -> Option<&'static str> {
    static SCRIPT: OnceLock<Option<String>> = OnceLock::new();
    let script = SCRIPT.get_or_init(|| {
        let path = repo_root().join(AXE_SCRIPT);
        match std::fs::read_to_string(&path) {
            Ok(script) => Some(script),
            Err(e) => {
                require_or_skip(
                    &current_test(),
                    &format!("axe-core is not installed ({}: {e})", path.display()),
                );
                None
            }
        }
    });
    script.as_deref()
}

/// Runs axe-core on the page the session shows and returns every violation (of any impact), or `None`, after
/// the skip banner, when axe-core is not installed and the services are not required.
///
/// The script goes in through WebDriver's `execute`, which the page's Content-Security-Policy does not govern:
/// a page with `script-src 'self'` and neither `'unsafe-inline'` nor `'unsafe-eval'` is checked like any other.
///
/// Needs a session with JavaScript on: where it is off ([`SessionOptions::without_javascript`]) WebDriver's
/// scripts still run but Chromium runs no timers, and axe-core schedules its checks on them, so it would only
/// time out. This panics at once instead. A page's no-JavaScript rendering cannot be checked this way; check
/// the same page in a session with JavaScript on (and keep what `<noscript>` adds simple).
pub async fn axe(session: &Session) -> Option<Vec<Violation>> {
    assert!(
        session.options.javascript,
        "axe-core cannot run in a session with JavaScript disabled (Chromium runs no timers there, and axe-core \
         needs them): check the page in a session with JavaScript on"
    );
    let script = axe_script()?;
    let client = &session.client;
    client
        .execute(script, Vec::new())
        .await
        .expect("axe-core loads into the page");
    let result = client
        .execute_async(
            r"const done = arguments[arguments.length - 1];
            axe.run(document, { resultTypes: ['violations'] }).then(
                (results) => done({ violations: results.violations.map((v) => ({
                    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                    targets: v.nodes.map((node) => node.target.join(' ')),
                })) }),
                (error) => done({ error: String(error) }),
            );",
            Vec::new(),
        )
        .await
        .expect("axe-core runs");
    if let Some(error) = result.get("error") {
        panic!("axe-core failed: {error}");
    }
    let violations = result["violations"]
        .as_array()
        .unwrap_or_else(|| panic!("axe-core returned no violations list: {result}"));
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    Some(
        violations
            .iter()
            .map(|v| Violation {
                id: text(&v["id"]),
                impact: v["impact"].as_str().map(str::to_owned),
                help: text(&v["help"]),
                help_url: text(&v["helpUrl"]),
                targets: v["targets"]
                    .as_array()
                    .map(|t| t.iter().map(text).collect())
                    .unwrap_or_default(),
            })
            .collect(),
    )
}

/// Fails, listing them all, when axe-core finds a `serious` or `critical` violation on the page the session
/// shows (`page` names it in the message). Minor and moderate ones are printed but pass. Skips (loudly) only when
/// axe-core is not installed and the services are not required; panics in a session with JavaScript disabled,
/// where axe-core cannot run (see [`axe`]).
pub async fn assert_accessible(session: &Session, page: &str) {
    let Some(violations) = axe(session).await else {
        return;
    };
    let (serious, other): (Vec<_>, Vec<_>) = violations.iter().partition(|v| v.is_serious());
    for violation in &other {
        eprintln!("{page}: accessibility (not failing): {violation}");
    }
    assert!(
        serious.is_empty(),
        "{page}: {} serious or critical accessibility violation(s):\n{}",
        serious.len(),
        serious
            .iter()
            .map(|v| format!("  {v}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
