//! [`PruneStore`] for PostgreSQL: the statements of the SQLite store's pruning, with PostgreSQL's placeholders; each
//! batch is one statement, its own transaction, found through the indexes of the initial migration.

use super::{PostgresStore, map_err};
use crate::store::{BoxFuture, Prunable, PruneStore, StoreResult, ts};

/// The statement that deletes one batch: `$1` is the cutoff, `$2` the limit.
fn statement(what: Prunable) -> &'static str {
    match what {
        Prunable::UnusedRefreshTokens => {
            "DELETE FROM refresh_tokens WHERE hash IN (SELECT hash FROM refresh_tokens \
             WHERE used_at IS NULL AND expires_at <= $1 LIMIT $2)"
        }
        // As in SQLite: both walk the ended families in expiry order, alternately (see `Prunable`).
        Prunable::TokensOfEndedFamilies => {
            "DELETE FROM refresh_tokens WHERE hash IN (SELECT t.hash FROM token_families f \
             JOIN refresh_tokens t ON t.sid = f.sid WHERE f.expires_at <= $1 \
             ORDER BY f.expires_at LIMIT $2)"
        }
        Prunable::EndedFamilies => {
            "DELETE FROM token_families WHERE sid IN (SELECT f.sid FROM \
             (SELECT sid FROM token_families WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2) f \
             WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.sid = f.sid))"
        }
        Prunable::DeniedJtis => {
            "DELETE FROM denied_jtis WHERE jti IN (SELECT jti FROM denied_jtis \
             WHERE expires_at <= $1 LIMIT $2)"
        }
        Prunable::DeniedSids => {
            "DELETE FROM denied_sids WHERE sid IN (SELECT sid FROM denied_sids \
             WHERE expires_at <= $1 LIMIT $2)"
        }
        Prunable::UserNotBefore => {
            "DELETE FROM user_not_before WHERE user_id IN (SELECT user_id FROM user_not_before \
             WHERE not_before <= $1 LIMIT $2)"
        }
    }
}

impl PruneStore for PostgresStore {
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
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            Ok(done.rows_affected())
        })
    }
}
