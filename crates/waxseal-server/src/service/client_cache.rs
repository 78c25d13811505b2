//! Registered clients this process read recently, so that the client credentials grant — a signature and nothing
//! else, asked for by services once per call in the worst case — does not cost a store round trip each time.
//!
//! Only that grant uses the cache ([`AuthService::authenticate_client_for_client_credentials`]). Its tokens are the
//! only ones whose subject is the client itself, so the "not before" a deletion sets on the client's id refuses
//! every token a stale copy could still mint (see [`AuthService::delete_client`]). Every other client
//! authentication (the password and refresh grants, revocation, introspection) reads the store as before: those
//! requests cost an argon2id hash or a store write anyway, and a stale copy there could open a session.
//!
//! A cached client must never outlive a change of its registration by more than a revocation would: a rotated
//! secret or a deleted client takes the path revocations take. The process that makes the change forgets its copy
//! at once and announces the change through Redis, and every subscribed instance forgets its copy when the
//! announcement arrives ([`AuthService::listen`]). Without Redis — or when an announcement is lost — an entry is
//! never used more than [`crate::DENYLIST_RELOAD_INTERVAL`] after it was read from the store, the bound within
//! which the denylist reload carries revocations between processes.
//!
//! Only clients the store returned are cached (an unknown `client_id` is read from the store every time), so the
//! entries are bounded by the registered clients, and by [`MAX_CACHED_CLIENTS`] in any case. The secret is not
//! part of the cache's key or decision: the stored digest is cached and compared in constant time on each request,
//! as before.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use super::AuthService;
use crate::error::Result;
use crate::store::Client;

/// The most clients kept at once: far above the clients of a typical deployment, a few MB at most.
pub(crate) const MAX_CACHED_CLIENTS: usize = 4096;

/// A registration read from the store, and when the read started.
struct Cached {
    client: Client,
    read_at: Instant,
}

struct Entries {
    clients: HashMap<String, Cached>,
    /// Counts the changes forgotten so far. A read that started before a change must not put what it read into
    /// the cache after that change was forgotten; it compares this number before and after.
    changes: u64,
}

/// The bounded, short-lived client cache of one [`AuthService`].
pub(crate) struct ClientCache {
    entries: RwLock<Entries>,
    max_age: Duration,
    capacity: usize,
}

/// Where a store read started: passed back to [`ClientCache::insert`].
#[derive(Clone, Copy)]
pub(crate) struct ReadStart {
    changes: u64,
    at: Instant,
}

impl ClientCache {
    /// A cache whose entries are used for at most `max_age` after their read, at most `capacity` of them.
    pub(crate) fn new(max_age: Duration, capacity: usize) -> ClientCache {
        ClientCache {
            entries: RwLock::new(Entries {
                clients: HashMap::new(),
                changes: 0,
            }),
            max_age,
            capacity,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Entries> {
        self.entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Entries> {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached registration of `client_id`, if it was read less than `max_age` ago.
    pub(crate) fn get(&self, client_id: &str) -> Option<Client> {
        let entries = self.read();
        let cached = entries.clients.get(client_id)?;
        (cached.read_at.elapsed() < self.max_age).then(|| cached.client.clone())
    }

    /// To call just before reading a client from the store.
    pub(crate) fn read_start(&self) -> ReadStart {
        ReadStart {
            changes: self.read().changes,
            at: Instant::now(),
        }
    }

    /// Keeps `client`, read from the store since `start` — unless a change was forgotten meanwhile (the read may
    /// predate it). When full, expired entries go first, then an arbitrary one.
    pub(crate) fn insert(&self, client: Client, start: ReadStart) {
        let mut entries = self.write();
        if entries.changes != start.changes {
            return;
        }
        if entries.clients.len() >= self.capacity
            && !entries.clients.contains_key(&client.client_id)
        {
            let max_age = self.max_age;
            entries
                .clients
                .retain(|_, cached| cached.read_at.elapsed() < max_age);
            if entries.clients.len() >= self.capacity
                && let Some(victim) = entries.clients.keys().next().cloned()
            {
                entries.clients.remove(&victim);
            }
        }
        entries.clients.insert(
            client.client_id.clone(),
            Cached {
                client,
                read_at: start.at,
            },
        );
    }

    /// Forgets the clients named (their registration changed), and makes reads in flight not cache what they read.
    pub(crate) fn forget<'a>(&self, client_ids: impl IntoIterator<Item = &'a str>) {
        let mut entries = self.write();
        entries.changes = entries.changes.wrapping_add(1);
        for id in client_ids {
            entries.clients.remove(id);
        }
    }

    /// Forgets every client (after missing announcements, e.g. while resubscribing to Redis).
    pub(crate) fn clear(&self) {
        let mut entries = self.write();
        entries.changes = entries.changes.wrapping_add(1);
        entries.clients.clear();
    }

    /// How many clients are cached (expired ones included until they are replaced).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.read().clients.len()
    }
}

impl AuthService {
    /// [`AuthService::authenticate_client`] for the client credentials grant: the registration may come from the
    /// cache. A secret rotated or a client deleted in this process is refused at once, in another instance linked
    /// by Redis as soon as the announcement arrives, else within [`crate::DENYLIST_RELOAD_INTERVAL`].
    pub async fn authenticate_client_for_client_credentials(
        &self,
        client_id: &str,
        secret: &str,
    ) -> Result<Client> {
        self.check_client_secret(client_id, secret, true).await
    }

    /// The registration of `client_id`: from the cache when it was read less than
    /// [`crate::DENYLIST_RELOAD_INTERVAL`] ago and has not changed since, else from the store (and cached).
    pub(super) async fn registered_client(&self, client_id: &str) -> Result<Option<Client>> {
        if let Some(client) = self.clients.get(client_id) {
            return Ok(Some(client));
        }
        let start = self.clients.read_start();
        let client = self.store.client_by_id(client_id).await?;
        if let Some(client) = &client {
            self.clients.insert(client.clone(), start);
        }
        Ok(client)
    }

    /// Takes a change of `client_id`'s registration (already written to the store) into effect: this process
    /// forgets its copy at once and, with Redis, every other instance forgets its own when the announcement
    /// arrives. A failed announcement is logged, not returned: other instances read the store again within
    /// [`crate::DENYLIST_RELOAD_INTERVAL`] anyway.
    pub(super) async fn client_changed(&self, client_id: &str) {
        self.clients.forget([client_id]);
        let Some(bus) = &self.bus else { return };
        let announced = &self.metrics.announcements;
        match bus.announce_clients(&[client_id.to_owned()]).await {
            Ok(true) => announced.sent.increment(1),
            Ok(false) => announced.skipped.increment(1),
            Err(e) => {
                announced.failed.increment(1);
                tracing::warn!(
                    error = %e,
                    "cannot announce a client change through Redis; other instances read it from the database \
                     within the reload interval"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::GrantType;

    fn client(id: &str, secret_hash: u8) -> Client {
        Client {
            client_id: id.to_owned(),
            secret_hash: [secret_hash; 32],
            name: "svc".into(),
            grant_types: vec![GrantType::ClientCredentials],
            scopes: Vec::new(),
            created_at: 0,
            may_introspect: false,
            web: crate::store::WebClient::default(),
            encrypt_access_tokens: false,
            require_dpop: false,
        }
    }

    #[test]
    fn a_cached_client_is_served_until_forgotten() {
        let cache = ClientCache::new(Duration::from_secs(60), 8);
        cache.insert(client("a", 1), cache.read_start());
        assert_eq!(cache.get("a").map(|c| c.secret_hash), Some([1; 32]));
        assert!(cache.get("b").is_none());
        cache.forget(["a"]);
        assert!(cache.get("a").is_none());
    }

    #[test]
    fn a_read_that_started_before_a_change_is_not_cached() {
        let cache = ClientCache::new(Duration::from_secs(60), 8);
        let start = cache.read_start();
        // The store read returns the old secret; meanwhile the secret is rotated and the change forgotten.
        cache.forget(["a"]);
        cache.insert(client("a", 1), start);
        assert!(cache.get("a").is_none(), "the stale read was cached");
        cache.insert(client("a", 2), cache.read_start());
        assert_eq!(cache.get("a").map(|c| c.secret_hash), Some([2; 32]));
    }

    #[test]
    fn an_entry_is_not_used_after_its_max_age() {
        let cache = ClientCache::new(Duration::ZERO, 8);
        cache.insert(client("a", 1), cache.read_start());
        assert!(cache.get("a").is_none());
    }

    #[test]
    fn the_cache_never_holds_more_than_its_capacity() {
        let cache = ClientCache::new(Duration::from_secs(60), 3);
        for i in 0..100u8 {
            cache.insert(client(&format!("c{i}"), i), cache.read_start());
            assert!(cache.len() <= 3, "{} entries", cache.len());
        }
        // The newest is always kept.
        assert_eq!(cache.get("c99").map(|c| c.secret_hash), Some([99; 32]));
    }

    #[test]
    fn clear_forgets_everything_and_reads_in_flight() {
        let cache = ClientCache::new(Duration::from_secs(60), 8);
        cache.insert(client("a", 1), cache.read_start());
        let start = cache.read_start();
        cache.clear();
        cache.insert(client("b", 1), start);
        assert!(cache.get("a").is_none() && cache.get("b").is_none());
    }
}
