//! Pruning: deleting the rows no request can need any more, so the database follows the live sessions instead of
//! growing with every login, refresh and revocation ever made.
//!
//! What still matters is kept. A consumed refresh token stays as long as its family does, because presenting it
//! again is how theft is detected (the whole family is then revoked); a family stays until its absolute limit has
//! passed *and* the access tokens it issued last have expired, since revoking it until then still denies them. Denied
//! `jti`s and `sid`s stay until the time they were denied until, and a user's "not before" until no access token
//! issued before it can still be valid. Everything else past its time goes, a bounded batch per write.

use std::sync::Arc;
use std::time::Duration;

use super::{AuthService, LEEWAY};
use crate::config::MAX_ACCESS_TOKEN_TTL;
use crate::error::Result;
use crate::store::Prunable;

/// How often [`crate::Server::serve`] runs a pruning pass (the first one right after it starts).
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(10 * 60);
/// The most rows one write deletes. Small enough that a batch holds SQLite's write lock for a few milliseconds
/// (a median of 2 to 6 ms for refresh tokens, the slowest rows to delete, working off a backlog of 200 000), so a
/// large backlog is worked off between logins and refreshes instead of in front of them.
pub const PRUNE_BATCH: u32 = 200;

/// How long after its time a session or a "not before" may still refuse a live access token: the longest
/// access-token lifetime the server allows, plus the verifier's clock-skew leeway.
const ACCESS_TOKEN_GRACE: u64 = MAX_ACCESS_TOKEN_TTL.as_secs() + LEEWAY.as_secs();

/// What one pruning pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Refresh tokens: unused ones past their idle limit, and every token of the ended families.
    pub refresh_tokens: u64,
    /// Token families (sessions) past their absolute limit and the grace.
    pub token_families: u64,
    /// Denied access-token ids whose tokens have expired.
    pub denied_jtis: u64,
    /// Denied sessions whose access tokens have expired.
    pub denied_sids: u64,
    /// Per-subject "not before" entries no live access token can predate.
    pub user_not_before: u64,
    /// Authorization codes an hour and a minute past their expiry (until then a code presented again still
    /// revokes what it issued).
    pub codes: u64,
    /// SSO sessions an hour and a minute past their end.
    pub sso_sessions: u64,
    /// Clients registered through `POST /register` and unused for the configured expiry (deleted as `waxseal
    /// client delete` does; not counted in `batches`).
    pub registered_clients: u64,
    /// How many writes (batches) the pass took.
    pub batches: u64,
}

impl PruneReport {
    /// Rows deleted, all kinds together.
    pub fn total(&self) -> u64 {
        self.refresh_tokens
            + self.token_families
            + self.denied_jtis
            + self.denied_sids
            + self.user_not_before
            + self.codes
            + self.sso_sessions
            + self.registered_clients
    }

    fn count(&mut self, what: Prunable) -> &mut u64 {
        match what {
            Prunable::UnusedRefreshTokens | Prunable::TokensOfEndedFamilies => {
                &mut self.refresh_tokens
            }
            Prunable::EndedFamilies => &mut self.token_families,
            Prunable::DeniedJtis => &mut self.denied_jtis,
            Prunable::DeniedSids => &mut self.denied_sids,
            Prunable::UserNotBefore => &mut self.user_not_before,
            Prunable::Codes => &mut self.codes,
            Prunable::SsoSessions => &mut self.sso_sessions,
        }
    }
}

/// The time at or before which rows of kind `what` are no longer needed, at `now`.
fn cutoff(what: Prunable, now: u64) -> u64 {
    match what {
        // Their stored time already is the end of their use: an unused token's idle limit, a denial's end (the
        // denied token's `exp` plus leeway).
        Prunable::UnusedRefreshTokens | Prunable::DeniedJtis | Prunable::DeniedSids => now,
        // A session's last access token, or one issued just before a "not before", lives up to the longest
        // access-token lifetime (plus leeway) past that time.
        // A code presented again revokes what it issued, and an ended SSO session's access tokens are denied: both
        // stay as long as such an access token can live.
        Prunable::TokensOfEndedFamilies
        | Prunable::EndedFamilies
        | Prunable::UserNotBefore
        | Prunable::Codes
        | Prunable::SsoSessions => now.saturating_sub(ACCESS_TOKEN_GRACE + 1),
    }
}

impl AuthService {
    /// Deletes what nobody needs any more, in batches of [`PRUNE_BATCH`] rows, at the service clock's now: unused
    /// refresh tokens past their idle limit; sessions (with all their tokens, consumed ones included) an hour and a
    /// minute past their absolute limit, when no access token they issued can still be valid; denied `jti`s and
    /// `sid`s past the time they were denied until; "not before" entries an hour and a minute old. [`crate::Server::serve`] runs it every [`PRUNE_INTERVAL`]; it is safe to run at any
    /// time and from several processes at once.
    pub async fn prune(&self) -> Result<PruneReport> {
        self.prune_in_batches(PRUNE_BATCH).await
    }

    /// [`AuthService::prune`] with at most `batch` rows per write (at least one).
    pub async fn prune_in_batches(&self, batch: u32) -> Result<PruneReport> {
        let batch = batch.max(1);
        let now = self.now();
        let mut report = PruneReport::default();
        // Each step is one bounded write; a round runs its steps in order and the kinds are done when a round
        // deletes fewer than `batch` rows with every step. A family's tokens go before the family, alternately.
        let rounds: [&[Prunable]; 7] = [
            &[Prunable::UnusedRefreshTokens],
            &[Prunable::TokensOfEndedFamilies, Prunable::EndedFamilies],
            &[Prunable::DeniedJtis],
            &[Prunable::DeniedSids],
            &[Prunable::UserNotBefore],
            &[Prunable::Codes],
            &[Prunable::SsoSessions],
        ];
        for steps in rounds {
            loop {
                let mut more = false;
                for &what in steps {
                    let deleted = self
                        .store
                        .prune_batch(what, cutoff(what, now), batch)
                        .await?;
                    *report.count(what) += deleted;
                    report.batches += 1;
                    more |= deleted >= u64::from(batch);
                }
                if !more {
                    break;
                }
                // Let requests waiting for the write lock in this process go first.
                tokio::task::yield_now().await;
            }
        }
        report.registered_clients = self.prune_unused_clients(now, batch).await?;
        if report.total() > 0 {
            tracing::info!(
                refresh_tokens = report.refresh_tokens,
                token_families = report.token_families,
                denied_jtis = report.denied_jtis,
                denied_sids = report.denied_sids,
                user_not_before = report.user_not_before,
                codes = report.codes,
                sso_sessions = report.sso_sessions,
                registered_clients = report.registered_clients,
                batches = report.batches,
                "pruned rows nobody needs any more"
            );
        } else {
            tracing::debug!("nothing to prune");
        }
        Ok(report)
    }
}

/// Runs [`AuthService::prune`] now and then every [`PRUNE_INTERVAL`] until the task is aborted. A failed pass is
/// logged and tried again at the next interval.
pub(crate) fn spawn_pruner(service: Arc<AuthService>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PRUNE_INTERVAL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(e) = service.prune().await {
                tracing::warn!(
                    error = %e,
                    "cannot prune the store; the next pass is in {} s",
                    PRUNE_INTERVAL.as_secs()
                );
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_and_not_before_outlive_their_time_by_the_longest_access_token() {
        let now = 1_000_000;
        assert_eq!(cutoff(Prunable::DeniedJtis, now), now);
        assert_eq!(cutoff(Prunable::UnusedRefreshTokens, now), now);
        // A "not before" set at t refuses tokens issued before t; the last of them is valid until t + 1 h + 60 s.
        assert_eq!(cutoff(Prunable::UserNotBefore, now), now - 3600 - 60 - 1);
        assert_eq!(cutoff(Prunable::EndedFamilies, now), now - 3661);
        assert_eq!(cutoff(Prunable::TokensOfEndedFamilies, 10), 0);
    }
}
