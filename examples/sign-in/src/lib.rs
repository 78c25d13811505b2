//! A web application that signs its users in with waxseal, through the `openidconnect` crate: the OpenID Connect
//! authorization code flow with PKCE (S256), a nonce and a CSRF `state`, the ID token verified by the library
//! (signature, issuer, audience, expiry, nonce, `at_hash`), the profile from userinfo, and RP-initiated logout.
//!
//! The state between `/login` and `/callback` and the signed-in user live in a server-side, in-memory session
//! keyed by a random `HttpOnly; SameSite=Lax` cookie. `main.rs` reads the configuration from the environment;
//! [`app`] builds the router from a [`Config`], which is what the integration test does too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreIdToken, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EmptyAdditionalClaims,
    EndSessionUrl, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, LogoutRequest, Nonce,
    OAuth2TokenResponse as _, PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl,
    ProviderMetadataWithLogout, RedirectUrl, Scope, TokenResponse as _,
};
use serde::Deserialize;

/// What the application needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    /// The waxseal server's issuer URL (`WAXSEAL_ISSUER`): its discovery document is at
    /// `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// The client_id `waxseal client add` printed (`CLIENT_ID`).
    pub client_id: String,
    /// The client_secret `waxseal client add` printed (`CLIENT_SECRET`).
    pub client_secret: String,
    /// Where this application is reached (`APP_URL`), without a trailing slash: the redirect URI is
    /// `{app_url}/callback`, the post-logout redirect URI `{app_url}/`.
    pub app_url: String,
}

impl Config {
    /// The redirect URI to register with `waxseal client add --redirect-uri`.
    pub fn redirect_uri(&self) -> String {
        format!("{}/callback", self.app_url)
    }

    /// The post-logout redirect URI to register with `waxseal client add --post-logout-redirect-uri`.
    pub fn post_logout_redirect_uri(&self) -> String {
        format!("{}/", self.app_url)
    }

    /// The command that registers this application.
    pub fn register_command(&self) -> String {
        format!(
            "waxseal client add example-app --first-party --redirect-uri {} --post-logout-redirect-uri {}",
            self.redirect_uri(),
            self.post_logout_redirect_uri()
        )
    }
}

/// The client the discovery document gives: the authorization endpoint is set, the token and userinfo endpoints
/// are checked at start-up.
type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The session cookie's name.
const COOKIE_NAME: &str = "sign_in_example_session";
/// How long a started sign-in may take before its `state` is forgotten.
const LOGIN_TTL: Duration = Duration::from_secs(10 * 60);
/// How long a signed-in session lasts in this application.
const SESSION_TTL: Duration = Duration::from_secs(8 * 60 * 60);

/// A sign-in between `/login` and `/callback`.
struct Pending {
    state: CsrfToken,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
}

/// The signed-in user.
#[derive(Clone)]
struct User {
    subject: String,
    name: Option<String>,
    email: Option<String>,
    /// For `id_token_hint` at logout.
    id_token: CoreIdToken,
}

enum Session {
    SigningIn(Pending),
    /// Boxed: an ID token is large.
    SignedIn(Box<User>),
}

struct Entry {
    session: Session,
    expires: Instant,
}

struct AppState {
    config: Config,
    client: Client,
    end_session: Option<EndSessionUrl>,
    http: reqwest::Client,
    sessions: Mutex<HashMap<String, Entry>>,
    secure_cookie: bool,
}

impl AppState {
    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores `session` under a new random id (never a presented one: no session fixation) and returns the
    /// `Set-Cookie` value carrying it. Expired sessions are dropped on the way.
    fn start_session(&self, session: Session, ttl: Duration) -> HeaderValue {
        let id = CsrfToken::new_random_len(32).into_secret();
        let now = Instant::now();
        let mut sessions = self.sessions();
        sessions.retain(|_, entry| entry.expires > now);
        sessions.insert(
            id.clone(),
            Entry {
                session,
                expires: now + ttl,
            },
        );
        self.cookie(&id, ttl.as_secs())
    }

    /// Removes and returns the sign-in in progress in the request's session, if any and not expired. A signed-in
    /// session is left alone: a stray request to `/callback` signs no one out.
    fn take_pending(&self, headers: &HeaderMap) -> Option<Pending> {
        let id = session_id(headers)?;
        let mut sessions = self.sessions();
        if !matches!(
            sessions.get(&id),
            Some(Entry {
                session: Session::SigningIn(_),
                ..
            })
        ) {
            return None;
        }
        match sessions.remove(&id)? {
            Entry {
                session: Session::SigningIn(pending),
                expires,
            } if expires > Instant::now() => Some(pending),
            _ => None,
        }
    }

    /// Ends the request's session; returns its user if it was signed in.
    fn end_session(&self, headers: &HeaderMap) -> Option<Box<User>> {
        let id = session_id(headers)?;
        match self.sessions().remove(&id)?.session {
            Session::SignedIn(user) => Some(user),
            Session::SigningIn(_) => None,
        }
    }

    /// The signed-in user of the request, if any.
    fn user(&self, headers: &HeaderMap) -> Option<User> {
        let id = session_id(headers)?;
        match self.sessions().get(&id) {
            Some(Entry {
                session: Session::SignedIn(user),
                expires,
            }) if *expires > Instant::now() => Some(User::clone(user)),
            _ => None,
        }
    }

    fn cookie(&self, value: &str, max_age: u64) -> HeaderValue {
        let secure = if self.secure_cookie { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{COOKIE_NAME}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
        ))
        .expect("a cookie of URL-safe characters is a valid header value")
    }
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_owned())
}

/// The HTTP client for discovery, the token endpoint and userinfo: rustls with aws-lc-rs, and no redirects
/// followed (a redirect would let whoever controls a provider URL point the app at any other URL: SSRF).
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    // reqwest is built without a crypto provider of its own; an error means one is installed already.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .context("building the HTTP client")
}

/// Discovers the provider and builds the application's router.
pub async fn app(config: Config) -> anyhow::Result<Router> {
    let app_url = config.app_url.trim_end_matches('/').to_owned();
    let config = Config { app_url, ..config };
    if config.client_id.is_empty() || config.client_secret.is_empty() {
        bail!(
            "CLIENT_ID and CLIENT_SECRET must be set: register the app with\n    {}\nand export the client_id and \
             client_secret it prints",
            config.register_command()
        );
    }
    let http = http_client()?;
    let issuer = IssuerUrl::new(config.issuer.clone())
        .with_context(|| format!("WAXSEAL_ISSUER={} is not a URL", config.issuer))?;
    let metadata = ProviderMetadataWithLogout::discover_async(issuer, &http)
        .await
        .map_err(anyhow::Error::new)
        .with_context(|| {
            format!(
                "discovering the OpenID provider at {}/.well-known/openid-configuration failed: is waxseal \
                 running there (`cargo run -p waxseal-cli -- serve`)? Set WAXSEAL_ISSUER to the issuer it \
                 prints (`waxseal serve --print-config` shows it)",
                config.issuer.trim_end_matches('/')
            )
        })?;
    if metadata.token_endpoint().is_none() || metadata.userinfo_endpoint().is_none() {
        bail!(
            "the provider at {} publishes no token or userinfo endpoint",
            config.issuer
        );
    }
    let end_session = metadata.additional_metadata().end_session_endpoint.clone();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(config.client_id.clone()),
        Some(ClientSecret::new(config.client_secret.clone())),
    )
    .set_redirect_uri(
        RedirectUrl::new(config.redirect_uri())
            .with_context(|| format!("APP_URL={} is not a URL", config.app_url))?,
    );
    let state = Arc::new(AppState {
        secure_cookie: config.app_url.starts_with("https://"),
        config,
        client,
        end_session,
        http,
        sessions: Mutex::new(HashMap::new()),
    });
    Ok(Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/logout", get(logout))
        .with_state(state))
}

/// `GET /`: who is signed in, or a link to sign in.
async fn home(State(app): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let body = match app.user(&headers) {
        Some(user) => format!(
            "<p>Signed in as <strong>{}</strong> ({})</p>\n<p><code>sub</code>: {}</p>\n\
             <p><a href=\"/logout\">Sign out</a></p>",
            escape(user.name.as_deref().unwrap_or("(no name)")),
            escape(user.email.as_deref().unwrap_or("no email")),
            escape(&user.subject),
        ),
        None => "<p>You are not signed in.</p>\n<p><a href=\"/login\">Sign in</a></p>".to_owned(),
    };
    page(StatusCode::OK, &body)
}

/// `GET /login`: a new sign-in (PKCE S256, nonce, state) kept in a new session, then off to `/authorize`.
async fn login(State(app): State<Arc<AppState>>) -> Response {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = app
        .client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let cookie = app.start_session(
        Session::SigningIn(Pending {
            state,
            nonce,
            verifier,
        }),
        LOGIN_TTL,
    );
    redirect(url.as_str(), Some(cookie))
}

#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /callback`: the provider's answer. The pending sign-in is consumed whatever happens.
async fn callback(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(answer): Query<Callback>,
) -> Response {
    match finish_sign_in(&app, &headers, answer).await {
        Ok(user) => {
            let cookie = app.start_session(Session::SignedIn(Box::new(user)), SESSION_TTL);
            redirect("/", Some(cookie))
        }
        Err(problem) => problem.into_response(),
    }
}

/// A failed sign-in: the status and what to tell the user.
struct Problem(StatusCode, String);

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        tracing::warn!("sign-in failed: {}", self.1);
        page(
            self.0,
            &format!(
                "<p>Sign-in failed: {}</p>\n<p><a href=\"/login\">Try again</a></p>",
                escape(&self.1)
            ),
        )
    }
}

fn bad_request(message: impl Into<String>) -> Problem {
    Problem(StatusCode::BAD_REQUEST, message.into())
}

fn bad_gateway(message: impl Into<String>) -> Problem {
    Problem(StatusCode::BAD_GATEWAY, message.into())
}

async fn finish_sign_in(
    app: &AppState,
    headers: &HeaderMap,
    answer: Callback,
) -> Result<User, Problem> {
    let Some(pending) = app.take_pending(headers) else {
        return Err(bad_request(
            "no sign-in in progress in this browser (it expired, or the cookie was blocked)",
        ));
    };
    // RFC 9207: the provider names itself in the answer; another issuer's answer is not ours.
    if let Some(iss) = &answer.iss
        && iss != app.config.issuer.as_str()
    {
        return Err(bad_request(format!("the answer came from issuer {iss}")));
    }
    if answer.state.as_deref() != Some(pending.state.secret().as_str()) {
        return Err(bad_request(
            "the state parameter does not match this sign-in",
        ));
    }
    if let Some(error) = answer.error {
        let description = answer.error_description.unwrap_or_default();
        return Err(Problem(
            StatusCode::FORBIDDEN,
            format!("the provider answered {error}: {description}"),
        ));
    }
    let code = answer
        .code
        .ok_or_else(|| bad_request("the answer has no code"))?;

    let token = app
        .client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| bad_gateway(e.to_string()))?
        .set_pkce_verifier(pending.verifier)
        .request_async(&app.http)
        .await
        .map_err(|e| {
            bad_gateway(format!(
                "the token endpoint refused the code: {} (if it says invalid_client, check CLIENT_ID and \
                 CLIENT_SECRET, or register the app again with: {})",
                error_chain(&e),
                app.config.register_command()
            ))
        })?;

    let id_token = token
        .id_token()
        .ok_or_else(|| bad_gateway("the token response has no ID token (was `openid` refused?)"))?;
    let verifier = app.client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &pending.nonce)
        .map_err(|e| bad_gateway(format!("the ID token is not valid: {}", error_chain(&e))))?;
    // The access token is bound to the ID token through at_hash (OpenID Connect Core §3.1.3.8).
    if let Some(expected) = claims.access_token_hash() {
        let alg = id_token
            .signing_alg()
            .map_err(|e| bad_gateway(e.to_string()))?;
        let key = id_token
            .signing_key(&verifier)
            .map_err(|e| bad_gateway(e.to_string()))?;
        let actual = AccessTokenHash::from_token(token.access_token(), alg, key)
            .map_err(|e| bad_gateway(e.to_string()))?;
        if actual != *expected {
            return Err(bad_gateway(
                "the ID token's at_hash does not match the access token",
            ));
        }
    }

    let subject = claims.subject().clone();
    let info: CoreUserInfoClaims = app
        .client
        .user_info(token.access_token().clone(), Some(subject.clone()))
        .map_err(|e| bad_gateway(e.to_string()))?
        .request_async::<EmptyAdditionalClaims, _, CoreGenderClaim>(&app.http)
        .await
        .map_err(|e| bad_gateway(format!("userinfo failed: {}", error_chain(&e))))?;
    let name = info
        .name()
        .and_then(|n| n.get(None))
        .map(|n| n.as_str().to_owned())
        .or_else(|| info.preferred_username().map(|n| n.as_str().to_owned()));
    Ok(User {
        subject: subject.as_str().to_owned(),
        name,
        email: info.email().map(|e| e.as_str().to_owned()),
        id_token: id_token.clone(),
    })
}

/// `GET /logout`: ends the local session, then the provider's (RP-initiated logout) when it has an
/// `end_session_endpoint`; the provider sends the browser back to `/`.
async fn logout(State(app): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let user = app.end_session(&headers);
    let clear = app.cookie("", 0);
    match (user, &app.end_session) {
        (Some(user), Some(endpoint)) => {
            let mut request = LogoutRequest::from(endpoint.clone())
                .set_id_token_hint(&user.id_token)
                .set_client_id(app.client.client_id().clone());
            if let Ok(back) = PostLogoutRedirectUrl::new(app.config.post_logout_redirect_uri()) {
                request = request.set_post_logout_redirect_uri(back);
            }
            redirect(request.http_get_url().as_str(), Some(clear))
        }
        _ => redirect("/", Some(clear)),
    }
}

fn redirect(location: &str, cookie: Option<HeaderValue>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(location) {
        headers.insert(LOCATION, location);
    }
    if let Some(cookie) = cookie {
        headers.insert(SET_COOKIE, cookie);
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn page(status: StatusCode, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>waxseal sign-in example</title>\
         </head>\n<body>\n<h1>waxseal sign-in example</h1>\n{body}\n</body>\n</html>\n"
    );
    let mut response = (status, Html(html)).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Escapes text for HTML content and quoted attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An error and its causes on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
