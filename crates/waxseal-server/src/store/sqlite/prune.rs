//! [`PruneStore`] for SQLite: each batch is one `DELETE … WHERE key IN (SELECT … LIMIT n)` statement, its own
//! transaction, found through the indexes of `0004_prune_indexes.sql`.

use super::{SqliteStore, map_err, ts};
use crate::store::{BoxFuture, Prunable, PruneStore, StoreResult};

/// The statement that deletes one batch; both parameters are the cutoff and the limit, in that order.
fn statement(what: Prunable) -> &'static str {
    match what {
        Prunable::UnusedRefreshTokens => {
            "DELETE FROM refresh_tokens WHERE hash IN (SELECT hash FROM refresh_tokens \
             WHERE used_at IS NULL AND expires_at <= ? LIMIT ?)"
        }
        // Both walk the ended families in the order of their expiry index, the tokens step emptying a prefix of them
        // and the families step deleting the empty ones among the first `limit`: run alternately, neither rescans
        // what the other has finished, so a backlog costs time linear in its size.
        Prunable::TokensOfEndedFamilies => {
            "DELETE FROM refresh_tokens WHERE hash IN (SELECT t.hash FROM token_families f \
             JOIN refresh_tokens t ON t.sid = f.sid WHERE f.expires_at <= ? \
             ORDER BY f.expires_at LIMIT ?)"
        }
        Prunable::EndedFamilies => {
            "DELETE FROM token_families WHERE sid IN (SELECT f.sid FROM \
             (SELECT sid FROM token_families WHERE expires_at <= ? ORDER BY expires_at LIMIT ?) f \
             WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.sid = f.sid))"
        }
        Prunable::DeniedJtis => {
            "DELETE FROM denied_jtis WHERE jti IN (SELECT jti FROM denied_jtis \
             WHERE expires_at <= ? LIMIT ?)"
        }
        Prunable::DeniedSids => {
            "DELETE FROM denied_sids WHERE sid IN (SELECT sid FROM denied_sids \
             WHERE expires_at <= ? LIMIT ?)"
        }
        Prunable::UserNotBefore => {
            "DELETE FROM user_not_before WHERE user_id IN (SELECT user_id FROM user_not_before \
             WHERE not_before <= ? LIMIT ?)"
        }
    }
}

impl PruneStore for SqliteStore {
    fn prune_batch(
        &self,
        what: Prunable,
        cutoff: u64,
        limit: u32,
    ) -> BoxFuture<'_, StoreResult<u64>> {
        Box::pin(async move {
            let done = sqlx::query(statement(what))
                .bind(ts(cutoff))
                .bind(i64::from(limit))
                .execute(&self.writer)
                .await
                .map_err(map_err)?;
            Ok(done.rows_affected())
        })
    }
}
