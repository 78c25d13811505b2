//! OAuth client administration (`waxseal client list|delete|rotate-secret`): never showing a secret or its hash,
//! and ending a deleted client's sessions the way deleting a user ends the user's.

use subtle::ConstantTimeEq as _;
use waxseal::Algorithm;

use super::AuthService;
use super::encrypt::check_client_encryption_key;
use super::redirect_uri::check_redirect_uri;
use super::web_origin::{MAX_WEB_ORIGINS, check_web_origin};
use crate::error::{Error, ErrorKind, Result};
use crate::keyring::KeySeries;
use crate::secret::{random_id, random_token, sha256};
use crate::store::{Client, DenylistSnapshot, GrantType, WebClient};
use zeroize::Zeroizing;

/// An OAuth client as the admin commands show it: never its secret nor the secret's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The public identifier.
    pub client_id: String,
    /// A name for people.
    pub name: String,
    /// The grants the client may use.
    pub grant_types: Vec<GrantType>,
    /// The most its tokens may carry.
    pub scopes: Vec<String>,
    /// Unix seconds.
    pub created_at: u64,
    /// Whether it may introspect every client's access tokens (a resource server).
    pub may_introspect: bool,
    /// Its browser flows.
    pub web: WebClient,
    /// Whether its access tokens are encrypted under the server's key.
    pub encrypt_access_tokens: bool,
    /// Whether its token requests must carry a DPoP proof (`dpop_bound_access_tokens`).
    pub require_dpop: bool,
}

/// What a client may do beyond its grants, set when it is added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientPermissions {
    /// Introspect (RFC 7662) the access tokens of every client, as a resource server does. Without it, a client
    /// introspects only its own access and refresh tokens; with it, still only its own refresh tokens.
    pub may_introspect: bool,
    /// Its browser flows: redirect URIs, public or confidential, first-party, ID-token algorithm and encryption.
    pub web: WebClient,
    /// Encrypt the access tokens issued to it under the server's own key, hiding their claims from the client and
    /// whoever it hands them to (see `service::encrypt`).
    pub encrypt_access_tokens: bool,
    /// Require a DPoP proof (RFC 9449) with every token request (`dpop_bound_access_tokens`, §5.2): none of its
    /// access tokens is then a bearer token.
    pub require_dpop: bool,
}

/// The most redirect URIs (or post-logout redirect URIs) a client registers.
pub const MAX_REDIRECT_URIS: usize = 16;

/// Checks what a client registers for its browser flows against its grants.
fn check_web(web: &WebClient, grants: &[GrantType]) -> Result<()> {
    let invalid = |message: String| Err(Error::new(ErrorKind::InvalidRequest, message));
    for uri in web
        .redirect_uris
        .iter()
        .chain(&web.post_logout_redirect_uris)
    {
        if let Err(message) = check_redirect_uri(uri) {
            return invalid(message);
        }
    }
    if web.redirect_uris.len() > MAX_REDIRECT_URIS
        || web.post_logout_redirect_uris.len() > MAX_REDIRECT_URIS
    {
        return invalid(format!(
            "a client registers at most {MAX_REDIRECT_URIS} redirect URIs of each kind"
        ));
    }
    for origin in &web.web_origins {
        if let Err(message) = check_web_origin(origin) {
            return invalid(message);
        }
    }
    if web.web_origins.len() > MAX_WEB_ORIGINS {
        return invalid(format!(
            "a client registers at most {MAX_WEB_ORIGINS} web origins"
        ));
    }
    let code = grants.contains(&GrantType::AuthorizationCode);
    if !web.web_origins.is_empty() && !code {
        return invalid(
            "a web origin is only for a client that signs people in from a page (the authorization_code grant)"
                .into(),
        );
    }
    if code && web.redirect_uris.is_empty() {
        return invalid("the authorization_code grant needs at least one --redirect-uri".into());
    }
    if !code && !web.redirect_uris.is_empty() {
        return invalid(
            "a redirect URI is only for a client with the authorization_code grant".into(),
        );
    }
    if !web.post_logout_redirect_uris.is_empty() && !code {
        return invalid("a post-logout redirect URI is only for a client that signs people in (authorization_code)".into());
    }
    if web.public
        && grants
            .iter()
            .any(|g| !matches!(g, GrantType::AuthorizationCode | GrantType::RefreshToken))
    {
        return invalid(
            "a public client has no secret, so it may only use the authorization_code and refresh_token grants".into(),
        );
    }
    if web.pkce_exempt && web.public {
        return invalid(
            "--pkce-exempt is only for a confidential client: a public client has no secret, so PKCE is what binds \
             its code to it; drop --pkce-exempt (or --public, if the client can keep a secret)"
                .into(),
        );
    }
    if web.pkce_exempt && !code {
        return invalid(
            "--pkce-exempt is only for a client that signs people in (the authorization_code grant)".into(),
        );
    }
    if web.id_token_alg.is_some() && !code {
        return invalid(
            "--id-token-alg is only for a client that signs people in (the authorization_code grant)".into(),
        );
    }
    if web.id_token_encryption.is_some() && !code {
        return invalid(
            "--encryption-key is only for a client that signs people in (the authorization_code grant): it \
             encrypts the client's ID tokens"
                .into(),
        );
    }
    Ok(())
}

pub(super) fn no_such_client(client_id: &str) -> Error {
    Error::new(
        ErrorKind::InvalidRequest,
        format!(
            "no client with id {:?}; `waxseal client list` shows the ids",
            client_id
                .chars()
                .take(MAX_CLIENT_ID_LEN)
                .collect::<String>()
        ),
    )
}

impl AuthService {
    /// The algorithms a client may register for its ID tokens: the server's signing algorithm — the newest stored
    /// key's that is not RS256, as the admin commands do not know `serve`'s settings — and RS256.
    async fn id_token_algorithms_offered(&self) -> Result<Vec<Algorithm>> {
        let keys = self.store.keys().await?;
        let own = keys
            .iter()
            .rev()
            .find(|k| KeySeries::of(&k.alg) == KeySeries::Main)
            .or(keys.last())
            .map(|k| Algorithm::from_name(&k.alg))
            .transpose()
            .map_err(|_| Error::storage("the newest key's algorithm is not known"))?
            .unwrap_or(self.config.signing_alg);
        let mut offered = vec![own];
        if own != Algorithm::RS256 {
            offered.push(Algorithm::RS256);
        }
        Ok(offered)
    }

    /// Refuses an ID-token algorithm the server does not sign ID tokens with.
    async fn check_id_token_alg(&self, alg: Algorithm) -> Result<()> {
        let offered = self.id_token_algorithms_offered().await?;
        if offered.contains(&alg) {
            return Ok(());
        }
        let names: Vec<String> = offered.iter().map(ToString::to_string).collect();
        Err(Error::new(
            ErrorKind::InvalidRequest,
            format!(
                "--id-token-alg {alg} is not offered: ID tokens are signed with {} (the first is the server's \
                 signing algorithm, the default without --id-token-alg)",
                names.join(" or ")
            ),
        ))
    }

    /// Every registered client, by name.
    pub async fn list_clients(&self) -> Result<Vec<ClientInfo>> {
        Ok(self
            .store
            .list_clients()
            .await?
            .into_iter()
            .map(|c| ClientInfo {
                client_id: c.client_id,
                name: c.name,
                grant_types: c.grant_types,
                scopes: c.scopes,
                created_at: c.created_at,
                may_introspect: c.may_introspect,
                web: c.web,
                encrypt_access_tokens: c.encrypt_access_tokens,
                require_dpop: c.require_dpop,
            })
            .collect())
    }

    /// Gives a client a new secret (256 random bits, returned here and nowhere else); the old one stops working at
    /// once, in every process on the store — except for the client credentials grant in another process, which
    /// may use its cached copy of the client until the Redis announcement arrives, or without Redis for up to
    /// [`crate::DENYLIST_RELOAD_INTERVAL`] (see [`super::client_cache`]). Tokens already issued stay valid: a
    /// rotation is hygiene, not a revocation (delete the client for that).
    pub async fn rotate_client_secret(&self, client_id: &str) -> Result<NewClient> {
        if client_id.is_empty() || client_id.len() > MAX_CLIENT_ID_LEN {
            return Err(no_such_client(client_id));
        }
        let client_secret: Zeroizing<String> = random_token()?;
        if !self
            .store
            .set_client_secret_hash(client_id, &sha256(&client_secret))
            .await?
        {
            return Err(no_such_client(client_id));
        }
        self.client_changed(client_id).await;
        tracing::info!(client_id, "client secret rotated");
        Ok(NewClient {
            client_id: client_id.to_owned(),
            client_secret,
        })
    }

    /// Deletes a client and ends everything it was given: every session it started is revoked (its refresh tokens
    /// refused, its access tokens denied) and its client-credentials tokens are refused, in this process at once and
    /// in another serving the same store within [`crate::DENYLIST_RELOAD_INTERVAL`] (at once with Redis). The client
    /// can no longer authenticate: at once for every grant but client credentials, which follows the terms of
    /// [`AuthService::rotate_client_secret`] — and whose tokens the client's "not before" refuses anyway.
    pub async fn delete_client(&self, client_id: &str) -> Result<()> {
        if client_id.is_empty() || client_id.len() > MAX_CLIENT_ID_LEN {
            return Err(no_such_client(client_id));
        }
        let now = self.now();
        let deny_until = self.sid_deny_until(now);
        // A deleted client is never issued another token, so even those issued within this second are refused
        // (`iat` has one-second resolution; a user's "not before" must let a login right after a change through)
        // — and those another process may still issue from its cached copy of the client, which it uses for up to
        // the reload interval after reading it (see `client_cache`).
        let not_before = now
            .saturating_add(1)
            .saturating_add(crate::DENYLIST_RELOAD_INTERVAL.as_secs());
        let Some(sids) = self
            .store
            .delete_client(client_id, now, deny_until, not_before)
            .await?
        else {
            return Err(no_such_client(client_id));
        };
        let ended = sids.len();
        self.client_changed(client_id).await;
        self.revoked(DenylistSnapshot {
            sids: sids.into_iter().map(|sid| (sid, deny_until)).collect(),
            // A client-credentials token's subject is its client.
            not_before: vec![(client_id.to_owned(), not_before)],
            ..DenylistSnapshot::default()
        })
        .await;
        tracing::info!(client_id, sessions = ended, "client deleted");
        Ok(())
    }
}

/// Longest accepted OAuth client name, in bytes.
pub const MAX_CLIENT_NAME_LEN: usize = 128;

/// Longest `client_id` looked up; the server's own are 22 characters.
pub(super) const MAX_CLIENT_ID_LEN: usize = 128;

/// A newly registered OAuth client. The secret is shown once and never stored: `Debug` hides it.
pub struct NewClient {
    /// The public identifier.
    pub client_id: String,
    /// The client secret: 256 random bits, base64url.
    pub client_secret: Zeroizing<String>,
}

impl std::fmt::Debug for NewClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewClient")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Each scope is an RFC 6749 §3.3 scope token.
pub(super) fn check_scope_tokens(scopes: &[String]) -> Result<()> {
    match scopes.iter().find(|s| {
        s.is_empty()
            || s.chars()
                .any(|c| !c.is_ascii_graphic() || c == '"' || c == '\\')
    }) {
        Some(bad) => Err(Error::new(
            ErrorKind::InvalidRequest,
            format!(
                "scope {:?} is not a valid scope token (RFC 6749 §3.3)",
                bad.chars().take(40).collect::<String>()
            ),
        )),
        None => Ok(()),
    }
}

impl AuthService {
    /// Registers an OAuth client allowed `grant_types` and at most `scopes`. The secret (256 random bits) is in
    /// the result and nowhere else: only its SHA-256 is stored.
    pub async fn add_client(
        &self,
        name: &str,
        grant_types: &[GrantType],
        scopes: &[String],
    ) -> Result<NewClient> {
        self.add_client_with_permissions(name, grant_types, scopes, ClientPermissions::default())
            .await
    }

    /// [`AuthService::add_client`], with what the client may do beyond its grants (e.g. introspect every client's
    /// access tokens, as a resource server).
    pub async fn add_client_with_permissions(
        &self,
        name: &str,
        grant_types: &[GrantType],
        scopes: &[String],
        permissions: ClientPermissions,
    ) -> Result<NewClient> {
        if name.is_empty() || name.len() > MAX_CLIENT_NAME_LEN || name.chars().any(char::is_control)
        {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                format!(
                    "a client name is 1 to {MAX_CLIENT_NAME_LEN} bytes without control characters"
                ),
            ));
        }
        if grant_types.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                "a client needs at least one grant type",
            ));
        }
        check_scope_tokens(scopes)?;
        let mut grants: Vec<GrantType> = Vec::new();
        for grant in grant_types {
            if !grants.contains(grant) {
                grants.push(*grant);
            }
        }
        check_web(&permissions.web, &grants)?;
        if let Some(alg) = permissions.web.id_token_alg {
            self.check_id_token_alg(alg).await?;
        }
        let mut permissions = permissions;
        if let Some(encryption) = &mut permissions.web.id_token_encryption {
            // Stored as the public JWK re-serialized, checked once here.
            encryption.jwk = check_client_encryption_key(&encryption.jwk)
                .map_err(|message| Error::new(ErrorKind::InvalidRequest, message))?;
        }
        let client_secret = random_token()?;
        let client = Client {
            client_id: random_id()?,
            secret_hash: sha256(&client_secret),
            name: name.to_owned(),
            grant_types: grants,
            scopes: scopes.to_vec(),
            created_at: self.now(),
            may_introspect: permissions.may_introspect,
            web: permissions.web,
            encrypt_access_tokens: permissions.encrypt_access_tokens,
            require_dpop: permissions.require_dpop,
        };
        self.store.create_client(&client).await?;
        tracing::info!(client_id = %client.client_id, "client added");
        Ok(NewClient {
            client_id: client.client_id,
            client_secret,
        })
    }

    /// Authenticates a public client (`token_endpoint_auth_method: none`) by its id alone: what binds its tokens
    /// to it is PKCE, not a secret. A confidential client, or an unknown id, is [`ErrorKind::InvalidClient`].
    /// A client known by its metadata document (a `client_id` URL) is one when the document is usable.
    pub async fn authenticate_public_client(&self, client_id: &str) -> Result<Client> {
        if let Some(outcome) = self.metadata_client(client_id).await {
            return outcome.map_err(|e| {
                tracing::info!(error = %e, "client authentication failed");
                Error::new(
                    ErrorKind::InvalidClient,
                    format!("client authentication failed: {e}"),
                )
            });
        }
        let client = if client_id.is_empty() || client_id.len() > MAX_CLIENT_ID_LEN {
            None
        } else {
            self.store.client_by_id(client_id).await?
        };
        match client {
            Some(client) if client.web.public => {
                self.note_client_use(&client).await;
                Ok(client)
            }
            _ => {
                tracing::info!("client authentication failed");
                Err(Error::new(
                    ErrorKind::InvalidClient,
                    "client authentication failed",
                ))
            }
        }
    }

    /// Authenticates an OAuth client by id and secret. Unknown client and wrong secret are the same
    /// [`ErrorKind::InvalidClient`]; the digests are compared in constant time.
    pub async fn authenticate_client(&self, client_id: &str, secret: &str) -> Result<Client> {
        self.check_client_secret(client_id, secret, false).await
    }

    /// [`AuthService::authenticate_client`], with the registration from the client cache when `cached` (see
    /// [`client_cache`](super::client_cache) for when that is allowed).
    pub(super) async fn check_client_secret(
        &self,
        client_id: &str,
        secret: &str,
        cached: bool,
    ) -> Result<Client> {
        let client = if client_id.is_empty() || client_id.len() > MAX_CLIENT_ID_LEN {
            None
        } else if cached {
            self.registered_client(client_id).await?
        } else {
            self.store.client_by_id(client_id).await?
        };
        let presented = sha256(secret);
        let expected = client.as_ref().map_or([0u8; 32], |c| c.secret_hash);
        let equal: bool = presented.ct_eq(&expected).into();
        match client {
            // A public client has no secret to present: the random one stored for it was never shown.
            Some(client) if equal && !client.web.public => Ok(client),
            _ => {
                tracing::info!("client authentication failed");
                Err(Error::new(
                    ErrorKind::InvalidClient,
                    "client authentication failed",
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_client_debug_hides_the_secret() {
        let client = NewClient {
            client_id: "id".into(),
            client_secret: Zeroizing::new("secret-client".into()),
        };
        assert!(!format!("{client:?}").contains("secret-client"));
        assert_eq!(
            GrantType::ALL.map(|g| GrantType::parse(g.as_str())),
            GrantType::ALL.map(Some)
        );
        assert_eq!(GrantType::parse("implicit"), None);
    }
}
