//! Redis, for several instances behind a load balancer: revocations announced to every instance at once, and
//! login throttling counted across instances.
//!
//! The database stays the source of truth. A revocation is written there first and announced here second; each
//! instance subscribes to the revocation channel and merges what it hears into its in-memory denylist. The reload
//! from the database every [`crate::DENYLIST_RELOAD_INTERVAL`] goes on regardless, so a message that never arrives
//! (Redis down, a subscriber reconnecting, an announcement that failed) delays a revocation by at most that
//! interval — and an instance that (re)subscribes reloads at once, because it may have missed messages.
//!
//! Redis is trusted with availability, not with authentication: a message can only add denylist entries, never
//! remove one, and their times are clamped to what this server could have written, so whoever can write to Redis
//! can log users out, never in. While the subscription is down the bus reports [`BusState::Down`], announcements
//! are skipped (the database reload carries them) and throttling falls back to per-instance counters: no request
//! waits on or fails because of Redis.
//!
//! A revoked signing key is announced on the same channel by kid; a receiver rereads its keys from the database at
//! once (the message itself removes nothing), instead of at its next reload.
//!
//! Besides the channel, each revoked `jti` and `sid` is a key (`PREFIX:revoked:jti:ID`) expiring when the tokens
//! it denies have expired, so services without a subscription can ask Redis directly.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncConnectionConfig, IntoConnectionInfo as _, ProtocolVersion, PushKind, Value};
use serde::{Deserialize, Serialize};

use crate::config::{CLOCK_LEEWAY, MAX_ACCESS_TOKEN_TTL};
use crate::store::{DenylistSnapshot, StoreError, StoreResult};

mod replay;
mod throttle;

pub use replay::RedisReplayStore;

/// How long a command may take before Redis counts as down for it: far above a healthy round trip on a LAN,
/// far below what a login may wait.
pub const COMMAND_TIMEOUT: Duration = Duration::from_millis(500);

/// How often the subscriber pings, so a silently dropped connection is noticed within about this time.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(2);

/// The wait before subscribing again after the subscription failed.
pub const RESUBSCRIBE_DELAY: Duration = Duration::from_millis(500);

/// Entries per announcement: a client deletion may end thousands of sessions; each message stays small.
const ENTRIES_PER_MESSAGE: usize = 500;

/// The longest id a message may carry (ours are 22 characters; usernames are bounded well below this).
const MAX_ID_LEN: usize = 256;

/// What the subscription knows of Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusState {
    /// No subscriber has run yet (an admin command): announcements are tried once, with [`COMMAND_TIMEOUT`].
    Unknown,
    /// Subscribed: revocations arrive as they happen.
    Up,
    /// Not subscribed: announcements are skipped, the database reload carries revocations.
    Down,
}

impl BusState {
    fn from_u8(v: u8) -> BusState {
        match v {
            1 => BusState::Up,
            2 => BusState::Down,
            _ => BusState::Unknown,
        }
    }

    fn as_u8(self) -> u8 {
        match self {
            BusState::Unknown => 0,
            BusState::Up => 1,
            BusState::Down => 2,
        }
    }
}

/// A revocation announcement as it crosses Redis: `[id, unix seconds]` pairs, and the kids of revoked signing keys.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Message {
    #[serde(default)]
    jti: Vec<(String, u64)>,
    #[serde(default)]
    sid: Vec<(String, u64)>,
    #[serde(default)]
    nbf: Vec<(String, u64)>,
    /// Revoked signing keys. A receiver only rereads the keys from the database (the source of truth), so a forged
    /// message costs a read, never a key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    kid: Vec<String>,
    /// Client ids whose registration changed (a rotated secret, a deletion): instances forget their cached copy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    client: Vec<String>,
}

/// What one announcement carries: revocations to merge, clients whose cached registration is stale, and revoked
/// signing keys.
#[derive(Debug, Default)]
pub struct Announcement {
    /// Revocations, clamped to what this server could have written.
    pub revoked: DenylistSnapshot,
    /// Ids of clients whose registration changed. Forgetting a cached client costs one store read at most, so
    /// whoever can write to Redis gains nothing by naming clients.
    pub clients: Vec<String>,
    /// Kids of revoked signing keys: the receiver rereads its keys from the database.
    pub revoked_kids: Vec<String>,
}

/// The most kids one announcement is heard with: a revocation names one.
const MAX_KIDS_PER_MESSAGE: usize = 16;

/// The revocation channel and the shared throttle counters on one Redis.
pub struct RedisBus {
    client: redis::Client,
    commands: ConnectionManager,
    prefix: String,
    state: AtomicU8,
}

impl std::fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBus")
            .field("prefix", &self.prefix)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

fn backend(e: &redis::RedisError) -> StoreError {
    // A RedisError names the failed command and the server's reply, never the URL's password.
    StoreError::Backend(format!("redis: {e}"))
}

/// Keeps only the entries of `entries` that could be real, clamping each time to at most `latest`.
fn plausible(entries: Vec<(String, u64)>, latest: u64) -> Vec<(String, u64)> {
    entries
        .into_iter()
        .filter(|(id, _)| !id.is_empty() && id.len() <= MAX_ID_LEN)
        .map(|(id, at)| (id, at.min(latest)))
        .collect()
}

impl RedisBus {
    /// A bus on the Redis at `url` with keys and channel under `prefix`. Connects lazily: a server starts while
    /// Redis is down and uses it once it answers.
    pub fn new(url: &str, prefix: &str) -> StoreResult<RedisBus> {
        let info = url.into_connection_info().map_err(|e| {
            StoreError::Backend(format!(
                "the Redis URL is not valid ({:?}); expected redis://[:PASSWORD@]HOST[:PORT][/DB]",
                e.kind()
            ))
        })?;
        // RESP3: the subscriber receives messages as pushes on a connection that can still answer PING.
        let redis = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let client =
            redis::Client::open(info.set_redis_settings(redis)).map_err(|e| backend(&e))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1);
        let commands = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| backend(&e))?;
        Ok(RedisBus {
            client,
            commands,
            prefix: prefix.to_owned(),
            state: AtomicU8::new(BusState::Unknown.as_u8()),
        })
    }

    /// What the subscription knows of Redis now.
    pub fn state(&self) -> BusState {
        BusState::from_u8(self.state.load(Ordering::Relaxed))
    }

    fn set_state(&self, state: BusState) {
        self.state.store(state.as_u8(), Ordering::Relaxed);
    }

    fn channel(&self) -> String {
        format!("{}:revocations", self.prefix)
    }

    /// Answers PING within [`COMMAND_TIMEOUT`].
    pub async fn ping(&self) -> StoreResult<()> {
        let mut conn = self.commands.clone();
        with_timeout(redis::cmd("PING").query_async::<()>(&mut conn)).await
    }

    /// Announces revocations to every subscribed instance and records each `jti` and `sid` as a key expiring
    /// when its tokens have expired. Skipped (`Ok(false)`) while the subscription is down: Redis is then
    /// presumably unreachable and the database reload carries the revocation.
    pub async fn announce(&self, revoked: &DenylistSnapshot, now: u64) -> StoreResult<bool> {
        if self.state() == BusState::Down {
            return Ok(false);
        }
        let channel = self.channel();
        let mut pipe = redis::pipe();
        for (kind, entries) in [("jti", &revoked.jtis), ("sid", &revoked.sids)] {
            for (id, until) in entries {
                let ttl = until.saturating_sub(now).max(1);
                pipe.cmd("SET")
                    .arg(format!("{}:revoked:{kind}:{id}", self.prefix))
                    .arg(until)
                    .arg("EX")
                    .arg(ttl)
                    .ignore();
            }
        }
        let chunks = |entries: &[(String, u64)]| -> Vec<Vec<(String, u64)>> {
            entries
                .chunks(ENTRIES_PER_MESSAGE)
                .map(<[_]>::to_vec)
                .collect()
        };
        let mut messages: Vec<Message> = Vec::new();
        for chunk in chunks(&revoked.jtis) {
            messages.push(Message {
                jti: chunk,
                ..Message::default()
            });
        }
        for chunk in chunks(&revoked.sids) {
            messages.push(Message {
                sid: chunk,
                ..Message::default()
            });
        }
        for chunk in chunks(&revoked.not_before) {
            messages.push(Message {
                nbf: chunk,
                ..Message::default()
            });
        }
        for message in &messages {
            let payload = serde_json::to_string(message)
                .map_err(|e| StoreError::Backend(format!("cannot encode a revocation: {e}")))?;
            pipe.cmd("PUBLISH").arg(&channel).arg(payload).ignore();
        }
        let mut conn = self.commands.clone();
        with_timeout(pipe.query_async::<()>(&mut conn)).await?;
        Ok(true)
    }

    /// Announces that the signing key `kid` was revoked: every subscribed instance rereads its keys from the
    /// database at once instead of at its next reload. Tried even while the subscription is down (an admin command
    /// has none): it is one command, bounded by [`COMMAND_TIMEOUT`], and the database reload carries the revocation
    /// if it fails.
    pub async fn announce_key_revoked(&self, kid: &str) -> StoreResult<()> {
        let message = Message {
            kid: vec![kid.to_owned()],
            ..Message::default()
        };
        let payload = serde_json::to_string(&message)
            .map_err(|e| StoreError::Backend(format!("cannot encode a key revocation: {e}")))?;
        let mut conn = self.commands.clone();
        with_timeout(
            redis::cmd("PUBLISH")
                .arg(self.channel())
                .arg(payload)
                .query_async::<()>(&mut conn),
        )
        .await
    }

    /// Announces that the registration of `client_ids` changed (already written to the store), so that every
    /// subscribed instance forgets its cached copy. Skipped (`Ok(false)`) while the subscription is down, as
    /// revocations are: instances then read the store again within the reload interval.
    pub async fn announce_clients(&self, client_ids: &[String]) -> StoreResult<bool> {
        if self.state() == BusState::Down {
            return Ok(false);
        }
        let channel = self.channel();
        let mut pipe = redis::pipe();
        for chunk in client_ids.chunks(ENTRIES_PER_MESSAGE) {
            let payload = serde_json::to_string(&Message {
                client: chunk.to_vec(),
                ..Message::default()
            })
            .map_err(|e| StoreError::Backend(format!("cannot encode a client change: {e}")))?;
            pipe.cmd("PUBLISH").arg(&channel).arg(payload).ignore();
        }
        let mut conn = self.commands.clone();
        with_timeout(pipe.query_async::<()>(&mut conn)).await?;
        Ok(true)
    }

    /// Decodes an announcement, keeping only what this server could have written at `now`.
    fn decode(payload: &[u8], now: u64) -> Option<Announcement> {
        let message: Message = serde_json::from_slice(payload).ok()?;
        // A denial lasts at most the longest access-token lifetime plus leeway from now (with a minute of clock
        // skew between instances); a "not before" is at most a second ahead (a deleted client's).
        let latest_until = now + MAX_ACCESS_TOKEN_TTL.as_secs() + CLOCK_LEEWAY.as_secs() + 60;
        let latest_nbf = now + 60;
        Some(Announcement {
            revoked: DenylistSnapshot {
                jtis: plausible(message.jti, latest_until),
                sids: plausible(message.sid, latest_until),
                not_before: plausible(message.nbf, latest_nbf),
            },
            clients: message
                .client
                .into_iter()
                .filter(|id| !id.is_empty() && id.len() <= MAX_ID_LEN)
                .collect(),
            revoked_kids: message
                .kid
                .into_iter()
                .filter(|kid| !kid.is_empty() && kid.len() <= MAX_ID_LEN)
                .take(MAX_KIDS_PER_MESSAGE)
                .collect(),
        })
    }

    /// Subscribes to the revocation channel and hands every announcement to `announced` until the task is
    /// aborted; reconnects after [`RESUBSCRIBE_DELAY`] whenever the subscription fails, and calls `caught_up`
    /// after each (re)subscription so that what was missed meanwhile is read from the database.
    pub async fn run_subscriber<C, F, R>(&self, now: impl Fn() -> u64, caught_up: C, announced: R)
    where
        C: Fn() -> F,
        F: Future<Output = ()>,
        R: Fn(Announcement),
    {
        loop {
            match self.subscribe_once(&now, &caught_up, &announced).await {
                Ok(()) => tracing::warn!(
                    "lost the Redis subscription; revocations arrive by database reload"
                ),
                Err(e) => {
                    if self.state() != BusState::Down {
                        tracing::warn!(
                            error = %e,
                            "Redis unreachable: revocations arrive by database reload and login throttling is \
                             per instance until it answers; check --redis-url and that Redis is running"
                        );
                    }
                }
            }
            self.set_state(BusState::Down);
            tokio::time::sleep(RESUBSCRIBE_DELAY).await;
        }
    }

    /// One subscription, until it fails.
    async fn subscribe_once<C, F, R>(
        &self,
        now: &impl Fn() -> u64,
        caught_up: &C,
        announced: &R,
    ) -> StoreResult<()>
    where
        C: Fn() -> F,
        F: Future<Output = ()>,
        R: Fn(Announcement),
    {
        let (tx, mut pushes) = tokio::sync::mpsc::unbounded_channel();
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_push_sender(tx);
        let mut conn = with_timeout(
            self.client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await?;
        with_timeout(conn.subscribe(self.channel())).await?;
        let was_down = self.state() == BusState::Down;
        self.set_state(BusState::Up);
        if was_down {
            tracing::info!("Redis subscription restored; revocations arrive at once again");
        }
        caught_up().await;
        let mut heartbeat = tokio::time::interval(HEARTBEAT_INTERVAL);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                push = pushes.recv() => {
                    let Some(push) = push else { return Ok(()) };
                    match push.kind {
                        PushKind::Message => {
                            if let Some(Value::BulkString(payload)) = push.data.get(1) {
                                match Self::decode(payload, now()) {
                                    Some(announcement) => announced(announcement),
                                    None => tracing::warn!("ignored a malformed revocation announcement"),
                                }
                            }
                        }
                        PushKind::Disconnection => return Ok(()),
                        _ => {}
                    }
                }
                _ = heartbeat.tick() => {
                    with_timeout(redis::cmd("PING").query_async::<()>(&mut conn)).await?;
                }
            }
        }
    }
}

/// `command`, failed after [`COMMAND_TIMEOUT`] whatever the connection's own timeouts do.
async fn with_timeout<T>(command: impl Future<Output = redis::RedisResult<T>>) -> StoreResult<T> {
    match tokio::time::timeout(COMMAND_TIMEOUT, command).await {
        Ok(result) => result.map_err(|e| backend(&e)),
        Err(_) => Err(StoreError::Backend(format!(
            "redis: no answer within {} ms",
            COMMAND_TIMEOUT.as_millis()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_cannot_deny_beyond_what_the_server_could_write() {
        let now = 1_000_000;
        let payload = serde_json::to_vec(&serde_json::json!({
            "jti": [["a", now + 10], ["b", u64::MAX], ["", now], ["x".repeat(300), now]],
            "nbf": [["user", u64::MAX]],
            "unknown": true,
        }))
        .unwrap();
        let s = RedisBus::decode(&payload, now).unwrap().revoked;
        let latest = now + MAX_ACCESS_TOKEN_TTL.as_secs() + CLOCK_LEEWAY.as_secs() + 60;
        assert_eq!(
            s.jtis,
            vec![("a".to_owned(), now + 10), ("b".to_owned(), latest)]
        );
        assert_eq!(s.not_before, vec![("user".to_owned(), now + 60)]);
        assert!(RedisBus::decode(b"not json", now).is_none());
        assert!(RedisBus::decode(b"{\"client\": 5}", now).is_none());
        assert!(RedisBus::decode(b"{\"jti\": 5}", now).is_none());
    }

    #[test]
    fn a_key_revocation_is_heard_by_kid_and_only_plausible_kids_count() {
        let payload = serde_json::to_vec(&serde_json::json!({
            "kid": ["k1", "", "x".repeat(300)],
        }))
        .unwrap();
        let heard = RedisBus::decode(&payload, 5).unwrap();
        assert_eq!(heard.revoked_kids, ["k1"]);
        assert_eq!(heard.revoked, DenylistSnapshot::default());
        let many: Vec<String> = (0..100).map(|i| format!("k{i}")).collect();
        let payload = serde_json::to_vec(&serde_json::json!({ "kid": many })).unwrap();
        let heard = RedisBus::decode(&payload, 5).unwrap();
        assert_eq!(heard.revoked_kids.len(), MAX_KIDS_PER_MESSAGE);
        // A denylist announcement says nothing of keys, and is encoded as before (no `kid` member).
        let plain = serde_json::to_string(&Message::default()).unwrap();
        assert!(!plain.contains("kid"), "{plain}");
    }

    #[test]
    fn client_changes_cross_redis_and_implausible_ids_are_dropped() {
        let payload = serde_json::to_vec(&serde_json::json!({
            "client": ["svc", "", "x".repeat(300)],
        }))
        .unwrap();
        let announcement = RedisBus::decode(&payload, 1_000_000).unwrap();
        assert_eq!(announcement.clients, ["svc"]);
        assert_eq!(announcement.revoked, DenylistSnapshot::default());
    }

    #[test]
    fn a_malformed_url_names_the_expected_form_without_echoing_it() {
        let e = RedisBus::new("redis://:hunter2@[bad", "p")
            .unwrap_err()
            .to_string();
        assert!(e.contains("redis://"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
    }
}
