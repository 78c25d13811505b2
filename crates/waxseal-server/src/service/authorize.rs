//! The authorization request (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2.1), taken apart one check at a time.
//!
//! The order of the checks decides where an error goes. Until the client and its `redirect_uri` are known good, an
//! error is shown on waxseal's own error page and never redirected: redirecting to an unchecked URI is an open
//! redirect (RFC 9700 §4.11). From then on every error goes back to the client, with `state` and the RFC 9207
//! `iss`. Parameters are compared exactly, never normalized: a redirect URI with an extra slash, path, query or
//! another scheme is not the registered one — only a loopback IP literal's port may differ (RFC 8252 §7.3, see
//! [`super::redirect_uri`]).
//!
//! The request is carried through the sign-in and consent forms as its own parameters (hidden fields) and checked
//! again, whole, on every step: no server-side state between the steps, so any instance can serve any step, and a
//! tampered field buys nothing that a new request would not.

use super::AuthService;
use super::code::redirect_with;
use super::redirect_uri::redirect_uri_matches;
use super::resources::{client_may_ask, narrow_to_resource};
use super::sso::SignedIn;
use crate::error::Result;
use crate::store::{Client, User};

mod check;

pub use check::check_authorization_request;
use check::single;

/// The OpenID Connect scopes every client may request besides its registered ones.
pub const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// The parameters the authorization endpoint reads; every other one is ignored (RFC 6749 §3.1). These, and only
/// these, are carried through the sign-in and consent forms.
pub const AUTHORIZE_PARAMS: [&str; 14] = [
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "id_token_hint",
    "dpop_jkt",
    "resource",
];

/// The longest `state`, `nonce` or `login_hint` accepted, in bytes.
pub const MAX_PARAM_LEN: usize = 1024;

/// The longest `id_token_hint` accepted, in bytes (an RS512 ID token with a 4096-bit key is about 1.3 kB).
pub const MAX_ID_TOKEN_HINT_LEN: usize = 4096;

/// What `prompt` asked for (OpenID Connect Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    /// `none`: show nothing; fail with `login_required` / `consent_required` instead.
    pub none: bool,
    /// `login`: ask for the password even with a live SSO session.
    pub login: bool,
    /// `consent`: ask for consent even when it was given before.
    pub consent: bool,
}

/// A checked authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// The client, as registered.
    pub client: Client,
    /// One of the client's registered redirect URIs, exactly.
    pub redirect_uri: String,
    /// Returned to the client as given.
    pub state: Option<String>,
    /// Put in the ID token as given.
    pub nonce: Option<String>,
    /// The scopes requested, each one an OpenID Connect scope or one registered for the client, in request order.
    pub scope: Vec<String>,
    /// The PKCE `S256` challenge. Every client must send one, except a confidential client registered with
    /// `--pkce-exempt`, whose secret authenticates the exchange; a code issued without one refuses a
    /// `code_verifier` at the exchange (RFC 9700 §4.8.2: a downgrade is detected, not ignored).
    pub code_challenge: Option<String>,
    /// What `prompt` asked for.
    pub prompt: Prompt,
    /// Seconds: a sign-in older than this must be repeated.
    pub max_age: Option<u64>,
    /// A username to fill in on the sign-in page.
    pub login_hint: Option<String>,
    /// An ID token this server issued, naming the user the client expects (OpenID Connect Core §3.1.2.1).
    pub id_token_hint: Option<String>,
    /// The thumbprint of the DPoP key the code is bound to (RFC 9449 §10): its exchange needs a proof by that key.
    pub dpop_jkt: Option<String>,
    /// The registered resource (RFC 8707) the tokens are for, their only `aud`; the scope is then narrowed to the
    /// scopes it accepts (and `openid`, `offline_access`).
    pub resource: Option<String>,
    /// The request's own parameters (those of [`AUTHORIZE_PARAMS`] that were given), for the forms to carry.
    pub params: Vec<(&'static str, String)>,
}

/// What the authorization endpoint does next with a checked request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Show the sign-in page.
    SignIn,
    /// Ask the signed-in user to allow these scopes (everything the client gets, not only what is new).
    Consent(Vec<String>),
    /// Send the browser back to the client: with a code, or with an error.
    Redirect(String),
}

/// Where a refused authorization request's error goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// The client or the redirect URI is not known good: waxseal's error page shows this, nothing is redirected.
    Page(String),
    /// Back to the client (RFC 6749 §4.1.2.1).
    Redirect(ErrorRedirect),
}

/// An error sent back to the client's redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRedirect {
    /// The registered redirect URI.
    pub redirect_uri: String,
    /// RFC 6749 / OpenID Connect error code.
    pub error: &'static str,
    /// For the developer; fixed texts, never an echo of the request.
    pub description: &'static str,
    /// The request's `state`.
    pub state: Option<String>,
}

impl AuthorizationRequest {
    /// An error of this request, to send back to the client.
    pub fn error(&self, error: &'static str, description: &'static str) -> ErrorRedirect {
        ErrorRedirect {
            redirect_uri: self.redirect_uri.clone(),
            error,
            description,
            state: self.state.clone(),
        }
    }

    /// Whether the request asked for an ID token.
    pub fn openid(&self) -> bool {
        self.scope.iter().any(|s| s == "openid")
    }
}

impl AuthService {
    /// Checks an authorization request given as its parameters (query or form, in order, repeats kept).
    pub async fn authorization_request(
        &self,
        params: &[(String, String)],
    ) -> Result<std::result::Result<AuthorizationRequest, AuthorizeError>> {
        let page = |message: &str| Ok(Err(AuthorizeError::Page(message.to_owned())));
        let Ok(client_id) = single(params, "client_id") else {
            return page("The request names its application (client_id) more than once.");
        };
        let Some(client_id) = client_id else {
            return page(
                "The request does not say which application it comes from (client_id is missing).",
            );
        };
        let client = if let Some(outcome) = self.metadata_client(client_id).await {
            match outcome {
                Ok(client) => {
                    if let Some(refused) = unlisted_redirect_uri(params, &client) {
                        return Ok(Err(refused));
                    }
                    Some(client)
                }
                Err(e) => return page(&format!("This application cannot sign you in here: {e}.")),
            }
        } else if client_id.len() > super::clients::MAX_CLIENT_ID_LEN {
            None
        } else {
            self.registered_client(client_id).await?
        };
        let Some(client) = client.filter(|c| !c.web.redirect_uris.is_empty()) else {
            return page(
                "The application that sent you here is not registered to sign people in with this server.",
            );
        };
        self.note_client_use(&client).await;
        let mut request = match check_authorization_request(params, client) {
            Ok(request) => request,
            Err(refused) => return Ok(Err(refused)),
        };
        if let Some(uri) = &request.resource {
            // The store's half of RFC 8707: registered, and for this client; then only what the resource accepts.
            let refused = |description| {
                Ok(Err(AuthorizeError::Redirect(
                    request.error("invalid_target", description),
                )))
            };
            let Some(resource) = self.store.resource_by_uri(uri).await? else {
                return refused("the resource is not registered with this server");
            };
            if !client_may_ask(&request.client, &resource) {
                return refused("this client may hold none of the scopes the resource accepts");
            }
            request.scope = narrow_to_resource(&request.scope, &resource);
        }
        Ok(Ok(request))
    }

    /// What to do with `request` for the browser's SSO session `signed_in`. `fresh`: the user entered their
    /// password in this very request, which satisfies `prompt=login` and `max_age`. `consented`: the user just
    /// allowed the request on the consent page.
    pub async fn authorize(
        &self,
        request: &AuthorizationRequest,
        signed_in: Option<&SignedIn>,
        fresh: bool,
        consented: bool,
    ) -> Result<Step> {
        let now = self.now();
        // A hint names the user the client expects: a session of someone else does not count (OpenID Connect
        // Core §3.1.2.1), and a hint that is not one of this server's ID tokens is refused.
        let hinted = match &request.id_token_hint {
            None => None,
            Some(hint) => match self.id_token_hint(hint) {
                Some((_, sub)) => Some(sub),
                None => {
                    return self.error_redirect(
                        request,
                        "invalid_request",
                        "id_token_hint is not an ID token of this server",
                    );
                }
            },
        };
        let signed_in = signed_in.filter(|s| hinted.as_ref().is_none_or(|sub| *sub == s.user.id));
        // max_age=0 asks for a sign-in every time (as prompt=login does): with one-second times, "at most 0 s ago"
        // would otherwise pass within the second of the last sign-in.
        let signed_in = signed_in.filter(|s| {
            fresh
                || (!request.prompt.login
                    && request.max_age.is_none_or(|age| {
                        age > 0 && now.saturating_sub(s.session.auth_time) <= age
                    }))
        });
        let Some(signed_in) = signed_in else {
            if request.prompt.none {
                return self.error_redirect(request, "login_required", "the user is not signed in");
            }
            return Ok(Step::SignIn);
        };
        let granted = Self::granted_scope(request, &signed_in.user);
        if !request.client.web.first_party && !consented {
            let remembered = self
                .store
                .consented_scope(&signed_in.user.id, &request.client.client_id)
                .await?
                .unwrap_or_default();
            let new = granted.iter().any(|s| !remembered.contains(s));
            if new || request.prompt.consent {
                if request.prompt.none {
                    return self.error_redirect(
                        request,
                        "consent_required",
                        "the user has not allowed this client these scopes",
                    );
                }
                return Ok(Step::Consent(granted));
            }
        }
        Ok(Step::Redirect(
            self.issue_code(request, signed_in, &granted)?,
        ))
    }

    /// Remembers that the user of `signed_in` allowed `request`, added to what they allowed the client before.
    pub async fn remember_consent(
        &self,
        request: &AuthorizationRequest,
        signed_in: &SignedIn,
    ) -> Result<()> {
        let user = &signed_in.user.id;
        let client = &request.client.client_id;
        let mut scopes = self
            .store
            .consented_scope(user, client)
            .await?
            .unwrap_or_default();
        for s in Self::granted_scope(request, &signed_in.user) {
            if !scopes.contains(&s) {
                scopes.push(s);
            }
        }
        self.store
            .save_consent(user, client, &scopes.join(" "), self.now())
            .await?;
        Ok(())
    }

    fn error_redirect(
        &self,
        request: &AuthorizationRequest,
        error: &'static str,
        description: &'static str,
    ) -> Result<Step> {
        Ok(Step::Redirect(
            self.error_url(&request.error(error, description))?,
        ))
    }

    /// The URL that sends an error back to the client: `error`, `error_description`, `state` and `iss`.
    pub fn error_url(&self, e: &ErrorRedirect) -> Result<String> {
        let mut params = vec![("error", e.error), ("error_description", e.description)];
        if let Some(state) = &e.state {
            params.push(("state", state));
        }
        params.push(("iss", &self.config.issuer));
        redirect_with(&e.redirect_uri, &params)
    }

    /// The scopes of `request` that `user` gets: the OpenID Connect ones, and each registered one the user has.
    pub(super) fn granted_scope(request: &AuthorizationRequest, user: &User) -> Vec<String> {
        request
            .scope
            .iter()
            .filter(|s| OIDC_SCOPES.contains(&s.as_str()) || user.scopes.contains(s))
            .cloned()
            .collect()
    }
}

/// For a client known by its metadata document, a `redirect_uri` its document does not list, refused with words
/// that say where the list is (the operator cannot fix it; the client's developer can).
fn unlisted_redirect_uri(params: &[(String, String)], client: &Client) -> Option<AuthorizeError> {
    let presented = single(params, "redirect_uri").ok().flatten()?;
    if client
        .web
        .redirect_uris
        .iter()
        .any(|r| redirect_uri_matches(r, presented))
    {
        return None;
    }
    let host = super::client_metadata::metadata_client_host(client).unwrap_or_default();
    Some(AuthorizeError::Page(format!(
        "The redirect_uri is not listed in the client's metadata document at {host}, so you are not sent back to \
         the application."
    )))
}
