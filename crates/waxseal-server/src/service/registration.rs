//! Dynamic client registration (RFC 7591), as MCP clients use it: an app nobody registered by hand asks for a
//! client id, then signs people in with the authorization code flow.
//!
//! Open registration lets anyone create clients, so what they can create is narrow. Every registered client is a
//! public client (`token_endpoint_auth_method: none`): no secret is issued, so none can leak or be phished, and
//! PKCE S256 binds each code to the app that asked for it. It may use only `authorization_code` (and
//! `refresh_token`), never `client_credentials` or `password`, so it obtains nothing without a person signing in;
//! it is never first-party, so that person is always shown the consent page with the client's name; its scopes
//! are narrowed to the operator's [`crate::Config::registration_scope`]; its redirect URIs pass the same checks as
//! an operator's (https, http on loopback, private-use schemes). Registrations are counted per address, in Redis
//! for every instance when it is configured and answers, else in this process
//! ([`crate::throttle::RegistrationThrottle`]).
//!
//! A registered client nobody uses any more is deleted by the prune task after
//! [`crate::Config::registered_client_expiry`]. Its use (an authorization request, a token request) is written to
//! the store at most once a day per client and process ([`ClientUses`]): a day's precision is plenty for an expiry
//! counted in weeks, and a busy client costs no write per request.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use super::AuthService;
use super::clients::{ClientPermissions, MAX_REDIRECT_URIS};
use super::redirect_uri::check_redirect_uri;
use crate::error::{Error, ErrorKind};
use crate::store::{Client, GrantType, WebClient};

/// How often a registered client's use is written: at most once a day.
const USE_RECORDED_EVERY: u64 = 24 * 60 * 60;

/// The registered clients whose use this process wrote in the last day, so it writes each at most once a day
/// (the cached copy of a client does not show the write). Pruned when it has doubled.
#[derive(Debug)]
pub(super) struct ClientUses {
    written: Mutex<(HashMap<String, u64>, usize)>,
}

impl ClientUses {
    pub(super) fn new() -> Self {
        ClientUses {
            written: Mutex::new((HashMap::new(), 1024)),
        }
    }

    /// Whether `client_id`'s use at `now` is to be written; if so, it counts as written.
    fn due(&self, client_id: &str, now: u64) -> bool {
        let mut state = self
            .written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (written, prune_at) = &mut *state;
        if written
            .get(client_id)
            .is_some_and(|&at| now < at.saturating_add(USE_RECORDED_EVERY))
        {
            return false;
        }
        written.insert(client_id.to_owned(), now);
        if written.len() >= *prune_at {
            written.retain(|_, at| now < at.saturating_add(USE_RECORDED_EVERY));
            *prune_at = (2 * written.len()).max(1024);
        }
        true
    }
}

/// The client metadata of a registration request (RFC 7591 §2) this server reads; others are ignored, as §2
/// allows.
#[derive(Debug, Clone, Default)]
pub struct RegistrationRequest {
    /// Where the client may be sent back: at least one.
    pub redirect_uris: Vec<String>,
    /// A name for people, shown on the consent page.
    pub client_name: Option<String>,
    /// Only `none`.
    pub token_endpoint_auth_method: Option<String>,
    /// `authorization_code`, optionally `refresh_token`.
    pub grant_types: Option<Vec<String>>,
    /// Only `code`.
    pub response_types: Option<Vec<String>>,
    /// Space-separated; narrowed to the registration scope.
    pub scope: Option<String>,
}

/// A registered client's information (RFC 7591 §3.2.1): no secret, as it is a public client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The new client id.
    pub client_id: String,
    /// Unix seconds.
    pub client_id_issued_at: u64,
    /// As registered.
    pub client_name: String,
    /// As registered.
    pub redirect_uris: Vec<String>,
    /// As registered.
    pub grant_types: Vec<GrantType>,
    /// The scopes it was given: the requested ones the operator allows.
    pub scope: String,
}

/// Why a registration was refused.
#[derive(Debug)]
pub enum RegistrationError {
    /// Registration is off on this server.
    Disabled,
    /// `invalid_client_metadata` (RFC 7591 §3.2.2), with what to change.
    Metadata(String),
    /// `invalid_redirect_uri`, with what to change.
    RedirectUri(String),
    /// Too many registrations from the address: the seconds to wait.
    Throttled(u64),
    /// Anything else (the store failed).
    Failed(Error),
}

/// The longest client name accepted.
const MAX_NAME_LEN: usize = 100;

/// The scopes a client nobody registered by hand gets — a registered one, or one known by its metadata document:
/// those it `asked` for that `allowed` (the operator's `registration_scope`) names, each once, in its order; all of
/// `allowed` when it asked for none.
pub(super) fn third_party_scopes(allowed: &str, asked: Option<&str>) -> Vec<String> {
    let allowed: Vec<&str> = allowed.split(' ').collect();
    let Some(asked) = asked else {
        return allowed.iter().map(|s| (*s).to_owned()).collect();
    };
    let mut scopes: Vec<String> = Vec::new();
    for s in asked.split(' ').filter(|s| allowed.contains(s)) {
        if !scopes.iter().any(|t| t == s) {
            scopes.push(s.to_owned());
        }
    }
    scopes
}

impl AuthService {
    /// Counts a registration from `address`, or the seconds to wait: in Redis, shared by every instance, when it
    /// is configured and answers (N instances must not give an address N times the limit); else in this process.
    async fn count_registration(&self, address: IpAddr, limit: u32) -> Result<(), u64> {
        let now = self.now();
        if let Some(bus) = &self.bus {
            match bus.registration_begin(address, limit, now).await {
                Ok(counted) => return counted,
                Err(e) => {
                    tracing::debug!(error = %e, "counting registrations in this process: Redis does not answer");
                }
            }
        }
        self.registrations.register(address, limit, now)
    }

    /// Records that `client` was used, when it is a registered client whose last recorded use is a day old or
    /// more. A failed write is logged, never the request's failure: the worst it does is let the client expire a
    /// day early.
    pub(super) async fn note_client_use(&self, client: &Client) {
        if !client.web.registered {
            return;
        }
        let now = self.now();
        let last = client.web.last_used_at.unwrap_or(client.created_at);
        if now < last.saturating_add(USE_RECORDED_EVERY)
            || !self.client_uses.due(&client.client_id, now)
        {
            return;
        }
        if let Err(e) = self.store.touch_client(&client.client_id, now).await {
            tracing::warn!(error = %e, client_id = %client.client_id, "a registered client's use was not recorded");
        }
    }

    /// Deletes the registered clients unused for [`crate::Config::registered_client_expiry`] at `now`, `batch` at a
    /// time, as `waxseal client delete` would (their sessions end); returns how many.
    pub(super) async fn prune_unused_clients(
        &self,
        now: u64,
        batch: u32,
    ) -> crate::error::Result<u64> {
        let cutoff = now.saturating_sub(self.config().registered_client_expiry.as_secs());
        let mut deleted = 0;
        loop {
            let unused = self.store.unused_registered_clients(cutoff, batch).await?;
            for client_id in &unused {
                match self.delete_client(client_id).await {
                    Ok(()) => deleted += 1,
                    // Another process deleted it first.
                    Err(e) if e.kind() == ErrorKind::InvalidRequest => {}
                    Err(e) => return Err(e),
                }
            }
            if unused.len() < batch as usize {
                return Ok(deleted);
            }
        }
    }

    /// Registers a public client for `request`, from `address` (counted against the per-address limit; `None`
    /// only when the server is run without connection info, where nothing is counted).
    pub async fn register_client(
        &self,
        request: RegistrationRequest,
        address: Option<IpAddr>,
    ) -> Result<Registered, RegistrationError> {
        let config = self.config();
        if !config.allow_registration {
            return Err(RegistrationError::Disabled);
        }
        let metadata = |m: &str| Err(RegistrationError::Metadata(m.to_owned()));
        if let Some(method) = &request.token_endpoint_auth_method
            && method != "none"
        {
            return metadata(
                "token_endpoint_auth_method must be \"none\": registered clients are public clients (no secret; \
                 PKCE S256 is required)",
            );
        }
        let mut grants = vec![GrantType::AuthorizationCode];
        if let Some(asked) = &request.grant_types {
            if !asked.iter().any(|g| g == "authorization_code") {
                return metadata("grant_types must include \"authorization_code\"");
            }
            for grant in asked {
                match grant.as_str() {
                    "authorization_code" => {}
                    "refresh_token" => {
                        if !grants.contains(&GrantType::RefreshToken) {
                            grants.push(GrantType::RefreshToken);
                        }
                    }
                    _ => {
                        return metadata(
                            "grant_types may be only \"authorization_code\" and \"refresh_token\": a registered \
                             client signs people in",
                        );
                    }
                }
            }
        } else {
            grants.push(GrantType::RefreshToken);
        }
        if let Some(types) = &request.response_types
            && types.iter().any(|t| t != "code")
        {
            return metadata("response_types may be only \"code\"");
        }
        let name = request.client_name.clone().unwrap_or_default();
        let name = if name.is_empty() {
            "Unnamed application".to_owned()
        } else {
            name
        };
        if name.len() > MAX_NAME_LEN || name.chars().any(char::is_control) {
            return metadata("client_name is at most 100 bytes without control characters");
        }
        if request.redirect_uris.is_empty() {
            return Err(RegistrationError::RedirectUri(
                "redirect_uris must name at least one redirect URI".into(),
            ));
        }
        if request.redirect_uris.len() > MAX_REDIRECT_URIS {
            return Err(RegistrationError::RedirectUri(format!(
                "a client registers at most {MAX_REDIRECT_URIS} redirect URIs"
            )));
        }
        for uri in &request.redirect_uris {
            check_redirect_uri(uri).map_err(RegistrationError::RedirectUri)?;
        }
        let scopes = third_party_scopes(&config.registration_scope, request.scope.as_deref());
        if scopes.is_empty() {
            return metadata("scope names none of the scopes this server gives registered clients");
        }
        if let Some(address) = address {
            self.count_registration(address, config.registrations_per_hour)
                .await
                .map_err(RegistrationError::Throttled)?;
        }
        let permissions = ClientPermissions {
            web: WebClient {
                redirect_uris: request.redirect_uris.clone(),
                public: true,
                registered: true,
                ..WebClient::default()
            },
            ..ClientPermissions::default()
        };
        let added = self
            .add_client_with_permissions(&name, &grants, &scopes, permissions)
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidRequest => RegistrationError::Metadata(e.message().to_owned()),
                _ => RegistrationError::Failed(e),
            })?;
        tracing::info!(client_id = %added.client_id, "client registered (RFC 7591)");
        let client_id_issued_at = self.now();
        Ok(Registered {
            client_id: added.client_id,
            client_id_issued_at,
            client_name: name,
            redirect_uris: request.redirect_uris,
            grant_types: grants,
            scope: scopes.join(" "),
        })
    }
}
