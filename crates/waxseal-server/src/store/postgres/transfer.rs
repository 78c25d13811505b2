//! [`TransferStore`] for PostgreSQL: a REPEATABLE READ transaction for a consistent export, one transaction holding
//! the tables locked against other writers for an import. The rows themselves are read and written by
//! [`crate::store::sql`].

use super::{PostgresStore, map_err};
use crate::store::sql::{self, TABLES};
use crate::store::{BoxFuture, Contents, StoreResult, TransferStore};

impl TransferStore for PostgresStore {
    fn export_all(&self) -> BoxFuture<'_, StoreResult<Contents>> {
        Box::pin(async move {
            // One snapshot for every table, whatever the instances write meanwhile.
            let mut tx = self
                .pool
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .await
                .map_err(map_err)?;
            sql::export(&mut tx).await
        })
    }

    fn import_all<'a>(
        &'a self,
        contents: &'a Contents,
        replace: bool,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(async move {
            let mut tx = self.begin().await?;
            // Other writers (an instance started too early) wait until the import is committed or rolled back.
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE",
                TABLES.join(", ")
            )))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            if sql::in_use(&mut tx).await? && !replace {
                return Ok(false);
            }
            sql::replace_with(&mut tx, contents).await?;
            tx.commit().await.map_err(map_err)?;
            Ok(true)
        })
    }
}
