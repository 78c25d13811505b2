//! OAuth client administration (`waxseal client list|delete|rotate-secret`): never showing a secret or its hash,
//! and ending a deleted client's sessions the way deleting a user ends the user's.

use super::{AuthService, MAX_CLIENT_ID_LEN, NewClient, random_token, sha256};
use crate::error::{Error, ErrorKind, Result};
use crate::store::{DenylistSnapshot, GrantType};
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
}

/// What a client may do beyond its grants, set when it is added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientPermissions {
    /// Introspect (RFC 7662) the access tokens of every client, as a resource server does. Without it, a client
    /// introspects only its own access and refresh tokens; with it, still only its own refresh tokens.
    pub may_introspect: bool,
}

fn no_such_client(client_id: &str) -> Error {
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
