//! A real browser for tests of the server's HTML pages: Debian's headless Chromium, driven over WebDriver by
//! its own `chromedriver`, with [axe-core] injected for accessibility checks.
//!
//! A [`Browser`] is one `chromedriver` on a free loopback port (killed, with every Chromium it started, when the
//! `Browser` is dropped). Each [`Browser::session`] is a separate Chromium with a fresh profile of its own, so
//! sessions share no cookies, storage or cache: two sessions are two people (or two browser contexts). A
//! [`Session`] derefs to a [`fantoccini::Client`], whose API drives the page (`goto`, `find`, `send_keys`,
//! `click`, `title`, `get_all_cookies`, ...).
//!
//! ```no_run
//! # async fn example(url: &str) {
//! use waxseal_testkit::browser::{Browser, SessionOptions, assert_accessible, screenshot};
//! let Some(browser) = Browser::start().await else { return }; // skipped (loudly) without chromium
//! let page = browser.session(SessionOptions::default()).await;
//! page.goto(url).await.unwrap();
//! screenshot(&page, "sign-in").await;
//! assert_accessible(&page, "sign-in").await;
//! # }
//! ```
//!
//! The browser reaches nothing but loopback: every host name but `localhost` (and every address outside
//! 127.0.0.0/8 and `[::1]`) is made unresolvable and Chromium's background services (updates, sync, safe
//! browsing, metrics) are off.
//!
//! [axe-core]: https://github.com/dequelabs/axe-core

use std::fmt;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fantoccini::ClientBuilder;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::{repo_root, require_or_skip};

mod axe;
pub use axe::{Violation, assert_accessible, axe};

/// The WebDriver client crate, so a test drives pages without a dependency of its own on it (and on the same
/// version as this module).
pub use fantoccini;
/// The handle that drives a page (what a [`Session`] derefs to).
pub use fantoccini::Client;
/// How to find an element: `Locator::Css("#name")`, `Locator::Id(..)`, `Locator::XPath(..)`.
pub use fantoccini::Locator;

/// How long `chromedriver` may take to answer its `/status` after it starts: generous for a loaded CI machine,
/// bounded so a broken install fails instead of hanging.
const DRIVER_START: Duration = Duration::from_secs(30);

/// How many ports to try: another process may take the free port between our probe and `chromedriver`'s bind.
const DRIVER_ATTEMPTS: usize = 5;

/// One `chromedriver` and the Chromium sessions it runs; dropping it kills them all.
pub struct Browser {
    /// `http://127.0.0.1:PORT`, the WebDriver endpoint.
    url: String,
    chromium: PathBuf,
    driver: Child,
    /// The profiles and the driver's log; removed after the processes that write them are dead.
    scratch: tempfile::TempDir,
    next_profile: AtomicU64,
}

/// How a [`Browser::session`] is set up.
#[derive(Clone, Copy, Debug)]
pub struct SessionOptions {
    /// Whether pages may run scripts. Off, it is a browser with JavaScript disabled, which every page a person
    /// must use (sign-in, consent) has to work in.
    pub javascript: bool,
    /// The window's outer width and height in CSS pixels (`--window-size`). The viewport, which is what a
    /// screenshot shows and what CSS media queries see, is as wide and a little shorter (1280 × 900 gives a
    /// 1280 × 757 screenshot with Chromium 156).
    pub window: (u32, u32),
}

impl Default for SessionOptions {
    /// JavaScript on, 1280 × 900.
    fn default() -> SessionOptions {
        SessionOptions {
            javascript: true,
            window: (1280, 900),
        }
    }
}

impl SessionOptions {
    /// The default window with JavaScript disabled.
    pub fn without_javascript() -> SessionOptions {
        SessionOptions {
            javascript: false,
            ..SessionOptions::default()
        }
    }
}

/// A browser session: one Chromium with a profile of its own. Derefs to the [`fantoccini::Client`] that drives
/// it, so `session.goto(url)` and `screenshot(&session, ..)` both work.
pub struct Session {
    client: Client,
    options: SessionOptions,
}

impl Deref for Session {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Session {
    /// What it was opened with (whether JavaScript runs, the window).
    pub fn options(&self) -> SessionOptions {
        self.options
    }

    /// The WebDriver client, for an API that takes one by value (`Client` is a cheap handle).
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// Ends the session: Chromium quits and its profile is no longer used. Dropping the [`Browser`] does the
    /// same for every session still open, so this is only for a test that wants a session gone early.
    pub async fn close(self) {
        self.client
            .close()
            .await
            .expect("chromedriver closes the session");
    }
}

/// The executable to use: `env` (when set and not empty) or `default`, when it exists.
fn executable(env: &str, default: &str) -> Result<PathBuf, String> {
    let path = std::env::var_os(env)
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from(default), PathBuf::from);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} is not installed (Debian: chromium and chromium-driver; or set {env})",
            path.display()
        ))
    }
}

/// The test running on this thread, for the skip banner (libtest names each test's thread after it).
fn current_test() -> String {
    std::thread::current()
        .name()
        .unwrap_or("a browser test")
        .to_owned()
}

impl Browser {
    /// Starts a `chromedriver` (`WAXSEAL_CHROMEDRIVER`, default `/usr/bin/chromedriver`) for Chromium
    /// (`WAXSEAL_CHROMIUM`, default `/usr/bin/chromium`) on a free loopback port. `None`, after the skip banner
    /// of [`require_or_skip`], when either is missing and the services are not required; a driver that is
    /// installed but does not start is a failure, not a skip.
    pub async fn start() -> Option<Browser> {
        let found = executable("WAXSEAL_CHROMEDRIVER", "/usr/bin/chromedriver")
            .and_then(|driver| Ok((driver, executable("WAXSEAL_CHROMIUM", "/usr/bin/chromium")?)));
        let (driver, chromium) = match found {
            Ok(found) => found,
            Err(missing) => {
                require_or_skip(&current_test(), &missing);
                return None;
            }
        };
        let scratch = tempfile::Builder::new()
            .prefix("waxseal-browser-")
            .tempdir()
            .expect("a temporary directory");
        let log = scratch.path().join("chromedriver.log");
        let mut failures = Vec::new();
        for _ in 0..DRIVER_ATTEMPTS {
            // chromedriver needs a port number: take a free one from the kernel and hand it over. Another
            // process may win it in between; then chromedriver exits and the next attempt takes another port.
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free loopback port")
                .port();
            let mut child = spawn_driver(&driver, port, scratch.path(), &log);
            match wait_ready(&mut child, port).await {
                Ok(()) => {
                    return Some(Browser {
                        url: format!("http://127.0.0.1:{port}"),
                        chromium,
                        driver: child,
                        scratch,
                        next_profile: AtomicU64::new(0),
                    });
                }
                Err(why) => {
                    kill_group(&mut child);
                    let log = std::fs::read_to_string(&log).unwrap_or_default();
                    failures.push(format!("port {port}: {why}\n{log}"));
                }
            }
        }
        panic!(
            "{} did not start in {DRIVER_ATTEMPTS} attempts:\n{}",
            driver.display(),
            failures.join("\n")
        );
    }

    /// The WebDriver endpoint, `http://127.0.0.1:PORT`, for a client other than the sessions this makes.
    pub fn webdriver_url(&self) -> &str {
        &self.url
    }

    /// Opens a new session: a Chromium of its own, headless, with a fresh profile (so no cookies, storage or
    /// cache shared with any other session) and the window and JavaScript setting of `options`.
    pub async fn session(&self, options: SessionOptions) -> Session {
        let n = self.next_profile.fetch_add(1, Ordering::Relaxed);
        let profile = self.scratch.path().join(format!("profile-{n}"));
        std::fs::create_dir(&profile).expect("a profile directory");
        let (width, height) = options.window;
        let mut chrome = json!({
            "binary": self.chromium,
            "args": [
                // Headless with the full browser (not the old headless shell), so pages render as people see them.
                "--headless=new",
                // Tests run as root, where Chromium's sandbox cannot start.
                "--no-sandbox",
                "--disable-gpu",
                // Containers have a small /dev/shm; Chromium then crashes on big pages.
                "--disable-dev-shm-usage",
                format!("--user-data-dir={}", profile.display()),
                format!("--window-size={width},{height}"),
                // Loopback only: no Google services, and no host name resolves but localhost (IP literals in
                // 127.0.0.0/8 and [::1] are let through the rule, which would otherwise catch them too).
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-default-apps",
                "--disable-domain-reliability",
                "--disable-sync",
                "--disable-client-side-phishing-detection",
                "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider",
                "--no-default-browser-check",
                "--no-first-run",
                "--metrics-recording-only",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.*, EXCLUDE [::1]",
                // The same run gives the same screenshots whatever the screen.
                "--force-device-scale-factor=1",
                "--hide-scrollbars",
            ],
        });
        if !options.javascript {
            // A content setting, as a user or an administrator turns JavaScript off: page scripts (inline or
            // from a URL) do not run, `<noscript>` shows. WebDriver's own scripts (`execute`) still run, but
            // without timers (see `axe`).
            chrome["prefs"] = json!({ "profile.managed_default_content_settings.javascript": 2 });
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".to_owned(), json!("chrome"));
        capabilities.insert("goog:chromeOptions".to_owned(), chrome);
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("chromedriver at {} opens a session: {e}", self.url));
        Session { client, options }
    }
}

impl Drop for Browser {
    /// Kills `chromedriver` and every Chromium it started (they are in its process group; a killed driver does
    /// not close its browsers), then the profiles go.
    fn drop(&mut self) {
        kill_group(&mut self.driver);
    }
}

impl fmt::Debug for Browser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Browser")
            .field("url", &self.url)
            .field("chromium", &self.chromium)
            .finish_non_exhaustive()
    }
}

/// Starts `chromedriver` on `port` in a process group of its own, so that the Chromiums it starts can be killed
/// with it. Its output goes to `log`, shown when it fails to start. Its `TMPDIR` (and so the Chromiums', which
/// keep their shared memory there with `--disable-dev-shm-usage`) is `scratch`, removed with the `Browser`: a
/// killed Chromium cannot clean up after itself.
fn spawn_driver(driver: &Path, port: u16, scratch: &Path, log: &Path) -> Child {
    use std::os::unix::process::CommandExt as _;
    let out = std::fs::File::create(log).expect("the chromedriver log");
    let err = out.try_clone().expect("the chromedriver log");
    Command::new(driver)
        .arg(format!("--port={port}"))
        .env("TMPDIR", scratch)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", driver.display()))
}

/// Polls `chromedriver`'s `/status` until it says it is ready; an error when it exits or [`DRIVER_START`]
/// passes first.
async fn wait_ready(child: &mut Child, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + DRIVER_START;
    let mut pause = Duration::from_millis(10);
    loop {
        if let Some(status) = child.try_wait().expect("chromedriver's status") {
            return Err(format!("chromedriver exited ({status})"));
        }
        if driver_ready(port).await {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "chromedriver did not answer in {}s",
                DRIVER_START.as_secs()
            ));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// One `GET /status`, true when it answers `"ready": true`.
async fn driver_ready(port: u16) -> bool {
    let ask = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream
            .write_all(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await?;
        // chromedriver keeps the connection open whatever the request says: read one response, by its length.
        let mut response = Vec::new();
        let mut chunk = [0; 4096];
        loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return std::io::Result::Ok(response);
            }
            response.extend_from_slice(&chunk[..n]);
            if let Some(body) = whole_body(&response) {
                return Ok(body.to_vec());
            }
        }
    };
    let Ok(Ok(body)) = tokio::time::timeout(Duration::from_secs(2), ask).await else {
        return false;
    };
    serde_json::from_slice::<Value>(&body)
        .is_ok_and(|status| status["value"]["ready"] == json!(true))
}

/// The body of a `200` HTTP/1.1 response with a `Content-Length` once all of it is in `response`.
fn whole_body(response: &[u8]) -> Option<&[u8]> {
    let end = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&response[..end]).ok()?;
    let mut lines = head.split("\r\n");
    if !lines.next()?.starts_with("HTTP/1.1 200") {
        return None;
    }
    let length: usize = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))?
        .1
        .trim()
        .parse()
        .ok()?;
    response[end + 4..].get(..length)
}

/// SIGKILL to the whole process group of `child` (which leads it), then reaps `child`.
fn kill_group(child: &mut Child) {
    // `kill(2)` on a group needs libc and `unsafe`, which the workspace forbids; kill(1) does the same.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

/// Where screenshots go: `browser-artifacts/` in the target directory (`CARGO_TARGET_DIR` when set, else the
/// repository's `target/`), so CI can keep them and `cargo clean` removes them.
pub fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|dir| !dir.is_empty())
        .map_or_else(|| repo_root().join("target"), |dir| repo_root().join(dir));
    target.join("browser-artifacts")
}

/// Saves a screenshot of the session's window as `<artifacts_dir>/<name>.png` and returns its path, for a person
/// (or a later test) to look at the page.
pub async fn screenshot(client: &Client, name: &str) -> PathBuf {
    let png = client
        .screenshot()
        .await
        .expect("chromedriver takes a screenshot");
    let dir = artifacts_dir();
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}
