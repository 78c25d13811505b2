//! The denylist: revoked token ids, sessions and per-user "not before" times, held in memory so every protected
//! request checks it in O(1), persisted in the store and announced to other instances through the Redis bus.

use std::collections::HashMap;

use waxseal::jwt::{Claims, NumericDate};

use super::{AccessClaims, AuthService};
use crate::error::Result;
use crate::store::DenylistSnapshot;

/// The in-memory side of the denylist: every protected request checks it in O(1).
#[derive(Debug, Default)]
pub(super) struct Denylist {
    jtis: HashMap<String, u64>,
    sids: HashMap<String, u64>,
    not_before: HashMap<String, u64>,
    /// The size at which the next prune runs.
    prune_at: usize,
}

impl Denylist {
    pub(super) fn from_snapshot(s: DenylistSnapshot) -> Self {
        Denylist {
            jtis: s.jtis.into_iter().collect(),
            sids: s.sids.into_iter().collect(),
            not_before: s.not_before.into_iter().collect(),
            prune_at: 1024,
        }
    }

    /// Drops entries whose tokens have all expired. Amortised: runs only when the maps have doubled since the
    /// last pass, so a revocation costs O(1) on average.
    pub(super) fn prune(&mut self, now: u64) {
        let size = self.jtis.len() + self.sids.len();
        if size < self.prune_at {
            return;
        }
        self.jtis.retain(|_, until| *until > now);
        self.sids.retain(|_, until| *until > now);
        self.prune_at = (2 * (self.jtis.len() + self.sids.len())).max(1024);
    }

    /// Adds everything in `s`, keeping the later time of an entry present in both.
    pub(super) fn merge(&mut self, s: DenylistSnapshot) {
        for (map, entries) in [
            (&mut self.jtis, s.jtis),
            (&mut self.sids, s.sids),
            (&mut self.not_before, s.not_before),
        ] {
            for (key, at) in entries {
                let slot = map.entry(key).or_insert(at);
                *slot = (*slot).max(at);
            }
        }
    }

    /// How many token ids, sessions and per-user "not before" times it holds (for the metrics).
    pub(super) fn sizes(&self) -> (usize, usize, usize) {
        (self.jtis.len(), self.sids.len(), self.not_before.len())
    }

    pub(super) fn refuses(&self, jti: &str, sid: Option<&str>, sub: &str, iat: u64) -> bool {
        self.jtis.contains_key(jti)
            || sid.is_some_and(|sid| self.sids.contains_key(sid))
            || self.not_before.get(sub).is_some_and(|&nbf| iat < nbf)
    }
}

impl AuthService {
    /// Merges the persisted denylist into this process's copy, so revocations written by another process on the
    /// same store (an admin command, another server) take effect here. Nothing is ever dropped by a reload.
    pub async fn reload_denylist(&self) -> Result<()> {
        let now = self.now();
        let snapshot = self.store.load_denylist(now).await?;
        self.merge_denylist(snapshot, now);
        Ok(())
    }

    pub(super) fn merge_denylist(&self, entries: DenylistSnapshot, now: u64) {
        let mut denylist = self.write_denylist();
        denylist.merge(entries);
        denylist.prune(now);
    }

    /// Takes revocations already written to the store into effect: in this process at once, and — with Redis —
    /// announced to every other instance, which merges them within a round trip ([`AuthService::listen`]).
    /// Without Redis, or while it is unreachable, other instances find them at their next
    /// [`AuthService::reload_denylist`] (`Server::serve` runs one every [`crate::DENYLIST_RELOAD_INTERVAL`]).
    /// A failed announcement is logged, not returned: the revocation is in force and durable either way.
    pub(super) async fn revoked(&self, entries: DenylistSnapshot) {
        let now = self.now();
        let Some(bus) = &self.bus else {
            self.merge_denylist(entries, now);
            return;
        };
        self.merge_denylist(entries.clone(), now);
        let announced = &self.metrics.announcements;
        match bus.announce(&entries, now).await {
            Ok(true) => announced.sent.increment(1),
            Ok(false) => announced.skipped.increment(1),
            Err(e) => {
                announced.failed.increment(1);
                tracing::warn!(
                    error = %e,
                    "cannot announce a revocation through Redis; other instances find it in the database within \
                     the reload interval"
                );
            }
        }
    }

    /// With Redis configured: subscribes to revocation announcements and merges each into this process's
    /// denylist, resubscribing whenever the subscription fails and reloading from the store after each
    /// (re)subscription; on an announced key revocation, rereads the keys from the store at once (see
    /// [`AuthService::revoke_key`]). Runs until aborted (`Server::serve` spawns it); returns at once without Redis.
    pub async fn listen(&self) {
        let Some(bus) = &self.bus else { return };
        let subscriber = bus.run_subscriber(
            || self.now(),
            || async {
                // Client changes announced while unsubscribed were missed too.
                self.clients.clear();
                if let Err(e) = self.reload_denylist().await {
                    tracing::warn!(error = %e, "cannot reload the denylist after subscribing to Redis");
                }
            },
            |announcement| {
                if !announcement.revoked_kids.is_empty() {
                    let kids = &announcement.revoked_kids;
                    tracing::info!(?kids, "a signing key was revoked elsewhere; rereading the keys");
                    self.keys_announced.notify_one();
                }
                self.clients
                    .forget(announcement.clients.iter().map(String::as_str));
                self.merge_denylist(announcement.revoked, self.now());
                // Counted once in effect, so whoever sees the count sees the change applied.
                self.metrics.announcements.received.increment(1);
            },
        );
        tokio::join!(subscriber, self.reload_keys_when_announced());
    }

    /// Whether the denylist refuses a verified access token: its `jti`, its session, or its user's "not before".
    pub fn is_revoked(&self, claims: &Claims<AccessClaims>) -> bool {
        let sub = claims.registered.sub.as_deref().unwrap_or_default();
        let jti = claims.registered.jti.as_deref().unwrap_or_default();
        let iat = claims.registered.iat.map_or(0, NumericDate::secs);
        self.read_denylist()
            .refuses(jti, claims.custom.sid.as_deref(), sub, iat)
    }

    pub(super) fn read_denylist(&self) -> std::sync::RwLockReadGuard<'_, Denylist> {
        self.denylist
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn write_denylist(&self) -> std::sync::RwLockWriteGuard<'_, Denylist> {
        self.denylist
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denylist_prunes_expired_entries_once_it_has_grown() {
        let mut denylist = Denylist::from_snapshot(DenylistSnapshot::default());
        for i in 0..2000_u64 {
            denylist
                .jtis
                .insert(format!("jti-{i}"), if i < 1500 { 10 } else { 100 });
        }
        denylist.prune(50);
        assert_eq!(
            denylist.jtis.len(),
            500,
            "expired entries dropped, live ones kept"
        );
        assert!(denylist.refuses("jti-1999", Some("sid"), "sub", 0));
        assert!(!denylist.refuses("jti-0", Some("sid"), "sub", 0));
        denylist.not_before.insert("sub".into(), 20);
        assert!(denylist.refuses("x", None, "sub", 19));
        assert!(!denylist.refuses("x", Some("sid"), "sub", 20));
    }
}
