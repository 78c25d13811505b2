//! [`TransferStore`] for SQLite: a read transaction for a consistent export, one write transaction for an import.
//! The rows themselves are read and written by [`crate::store::sql`].

use super::{SqliteStore, map_err};
use crate::store::{BoxFuture, Contents, StoreResult, TransferStore, sql};

impl TransferStore for SqliteStore {
    fn export_all(&self) -> BoxFuture<'_, StoreResult<Contents>> {
        Box::pin(async move {
            // One read transaction: WAL gives it one snapshot, whatever the server writes meanwhile.
            let mut tx = self.reader.begin().await.map_err(map_err)?;
            sql::export(&mut tx).await
        })
    }

    fn import_all<'a>(
        &'a self,
        contents: &'a Contents,
        replace: bool,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(async move {
            let mut tx = self.immediate().await?;
            if sql::in_use(&mut tx).await? && !replace {
                return Ok(false);
            }
            sql::replace_with(&mut tx, contents).await?;
            tx.commit().await.map_err(map_err)?;
            Ok(true)
        })
    }
}
