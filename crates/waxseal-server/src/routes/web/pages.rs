//! The templates (in `templates/`, compiled into the binary and escaped by `askama`) and what each one shows.

use askama::Template;

use super::Chrome;

/// The sign-in page.
#[derive(Template)]
#[template(path = "sign_in.html")]
pub(crate) struct SignIn<'a> {
    pub(crate) chrome: Chrome<'a>,
    /// The application the user signs in to (its registered name).
    pub(crate) client_name: &'a str,
    /// The authorization request's parameters, carried as hidden fields.
    pub(crate) params: &'a [(&'static str, String)],
    pub(crate) csrf_token: &'a str,
    /// Filled in: the `login_hint`, or what the user typed before a failed attempt.
    pub(crate) username: &'a str,
    /// Why the last attempt failed.
    pub(crate) error: Option<&'a str>,
}

/// The consent page.
#[derive(Template)]
#[template(path = "consent.html")]
pub(crate) struct Consent<'a> {
    pub(crate) chrome: Chrome<'a>,
    pub(crate) client_name: &'a str,
    /// For a client known by its metadata document: the host of its `client_id` URL, the one thing about it the
    /// user can check (its name is whatever the document says).
    pub(crate) client_host: Option<&'a str>,
    pub(crate) username: &'a str,
    /// What each scope lets the application do, in words.
    pub(crate) scopes: Vec<String>,
    pub(crate) params: &'a [(&'static str, String)],
    pub(crate) csrf_token: &'a str,
}

/// A page with a heading and a sentence: errors, "signed out".
#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct Message<'a> {
    pub(crate) chrome: Chrome<'a>,
    pub(crate) heading: &'a str,
    pub(crate) text: &'a str,
    /// Shown as an alert (an error).
    pub(crate) alert: bool,
    /// What to do next.
    pub(crate) next: Option<&'a str>,
}

/// The sign-out confirmation page (RP-initiated logout).
#[derive(Template)]
#[template(path = "sign_out.html")]
pub(crate) struct SignOut<'a> {
    pub(crate) chrome: Chrome<'a>,
    pub(crate) username: &'a str,
    pub(crate) client_name: Option<&'a str>,
    pub(crate) params: &'a [(&'static str, String)],
    pub(crate) csrf_token: &'a str,
}

/// A browser session as `/account` lists it.
pub(crate) struct BrowserRow {
    pub(crate) id: String,
    pub(crate) user_agent: String,
    pub(crate) address: String,
    pub(crate) started: String,
    pub(crate) current: bool,
}

/// An application session as `/account` lists it.
pub(crate) struct AppRow {
    pub(crate) sid: String,
    pub(crate) client: String,
    pub(crate) started: String,
    pub(crate) refreshed: String,
}

/// `/account`.
#[derive(Template)]
#[template(path = "account.html")]
pub(crate) struct Account<'a> {
    pub(crate) chrome: Chrome<'a>,
    pub(crate) username: &'a str,
    pub(crate) browsers: Vec<BrowserRow>,
    pub(crate) apps: Vec<AppRow>,
    pub(crate) csrf_token: &'a str,
    pub(crate) notice: Option<&'a str>,
}

/// What a scope lets an application do, in words for the consent page.
pub(crate) fn describe_scope(scope: &str) -> String {
    match scope {
        "openid" => "Know who you are (your user id on this server)".to_owned(),
        "profile" => "See your name and username".to_owned(),
        "email" => "See your email address".to_owned(),
        "offline_access" => "Stay signed in when you are not using it".to_owned(),
        other => format!("Use the “{other}” permission"),
    }
}
