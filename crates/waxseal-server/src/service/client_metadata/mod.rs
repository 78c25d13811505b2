//! OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document), as the MCP authorization
//! spec uses them: a client names itself by an `https` URL, and that URL serves its metadata.
//!
//! This makes the server fetch URLs chosen by anyone who can send it an authorization request, so each step is
//! narrow: the URL is checked first ([`id_url`]), the fetch cannot be pointed at the server's own network and is
//! bounded in time and size ([`fetch`], [`address`]), the document must name itself and describe a public client
//! ([`document`]), and the result — a document or a refusal — is remembered ([`cache`]) so that requests cost no
//! fetch each. Concurrent requests for one URL wait for a single fetch.
//!
//! The client obtained is never stored: its URL is its identity (consent is remembered by it, sessions carry it),
//! and each use reads the document through the cache. It is a public client like a registered one (see
//! `service::registration`): PKCE S256, the code and refresh grants, the operator's registration scope, consent
//! always asked, never first-party.

mod address;
mod cache;
mod document;
mod error;
mod fetch;
mod id_url;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub use address::refused_address;
pub use error::{MetadataError, Refusal};
pub use id_url::{MAX_CLIENT_ID_URL_LEN, is_host_pattern};

use super::AuthService;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::Client;
use cache::{DocumentCache, Outcome};
use fetch::Fetcher;

/// The largest metadata document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// The fetcher and cache of one service, present only when the feature is on.
pub(super) struct ClientMetadata {
    fetcher: Fetcher,
    cache: DocumentCache,
    /// One lock per URL being fetched, so concurrent requests wait for the same fetch.
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    allowed_hosts: Vec<String>,
    registration_scope: String,
}

impl ClientMetadata {
    /// The fetcher for `config`, or `None` when metadata documents are off. Reads the extra CA file.
    pub(super) fn from_config(config: &Config) -> Result<Option<ClientMetadata>> {
        if !config.allow_client_metadata_documents {
            return Ok(None);
        }
        let roots = match &config.client_metadata_ca_file {
            None => Vec::new(),
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    Error::config(format!(
                        "cannot read --client-metadata-ca {}: {e}",
                        path.display()
                    ))
                })?;
                let roots = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                    Error::config(format!(
                        "--client-metadata-ca {} is not PEM certificates: {e}",
                        path.display()
                    ))
                })?;
                if roots.is_empty() {
                    return Err(Error::config(format!(
                        "--client-metadata-ca {} holds no certificate",
                        path.display()
                    )));
                }
                roots
            }
        };
        Ok(Some(ClientMetadata {
            fetcher: Fetcher::new(config.client_metadata_timeout, &roots)?,
            cache: DocumentCache::new(cache::CAPACITY),
            inflight: Mutex::new(HashMap::new()),
            allowed_hosts: config.client_metadata_allowed_hosts.clone(),
            registration_scope: config.registration_scope.clone(),
        }))
    }

    /// The client `client_id` names, from the cache or fetched; `now` is the service clock.
    async fn client(&self, client_id: &str, now: impl Fn() -> u64) -> Outcome {
        if let Some(outcome) = self.cache.get(client_id, now()) {
            return outcome;
        }
        // A URL refused as such costs no fetch, so it is not cached (nor is arbitrary text kept).
        let allowed = |u: &url::Url| id_url::host_allowed(u, &self.allowed_hosts);
        let parsed = id_url::check_client_id_url(client_id, allowed)?;
        let gate = {
            let mut inflight = self
                .inflight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            inflight.entry(client_id.to_owned()).or_default().clone()
        };
        let turn = gate.lock().await;
        let outcome = match self.cache.get(client_id, now()) {
            Some(outcome) => outcome,
            None => {
                let (outcome, seconds) = self.fetch(&parsed, allowed(&parsed)).await;
                self.cache
                    .insert(client_id, outcome.clone(), now(), seconds);
                outcome
            }
        };
        drop(turn);
        let mut inflight = self
            .inflight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Only the map and this request hold the lock: nobody waits for it any more.
        if Arc::strong_count(&gate) <= 2 {
            inflight.remove(client_id);
        }
        outcome
    }

    /// Fetches and reads the document at `url`: the client or the refusal, and how long to keep it.
    async fn fetch(&self, url: &url::Url, allowed: bool) -> (Outcome, u64) {
        let host = url.host_str().unwrap_or_default();
        let outcome = match self.fetcher.get(url, allowed).await {
            Ok(fetched) => {
                document::read_document(&fetched.body, url.as_str(), &self.registration_scope)
                    .map(|client| (client, cache::lifetime(fetched.cache_control.as_deref())))
                    .map_err(|refusal| MetadataError::at(host, refusal))
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok((client, seconds)) => {
                tracing::info!(client_id = %url, seconds, "client metadata document fetched");
                (Ok(client), seconds)
            }
            Err(e) => {
                tracing::info!(client_id = %url, error = %e, "client metadata document refused");
                (Err(e), cache::REFUSAL_LIFETIME)
            }
        }
    }
}

/// The host of a metadata document client's `client_id` URL, for people to check (the consent page).
pub fn metadata_client_host(client: &Client) -> Option<String> {
    if !id_url::looks_like_url(&client.client_id) {
        return None;
    }
    url::Url::parse(&client.client_id)
        .ok()?
        .host_str()
        .map(str::to_owned)
}

impl AuthService {
    /// The client described by the metadata document at `client_id`, or why there is none; `None` when
    /// `client_id` is not a URL or metadata documents are off (it is then an ordinary client id).
    pub(super) async fn metadata_client(&self, client_id: &str) -> Option<Outcome> {
        let metadata = self.client_metadata.as_ref()?;
        if !id_url::looks_like_url(client_id) {
            return None;
        }
        Some(metadata.client(client_id, || self.now()).await)
    }
}
