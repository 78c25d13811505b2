//! The registered resources of RFC 8707 (`waxseal resource add`): one table, the same SQL in both dialects.

use sqlx::Executor;

use super::{Arg, Dialect, changed_one, every, optional, resource};
use crate::store::{Resource, StoreResult, ts};

/// [`crate::store::ClientStore::create_resource`].
pub(crate) async fn insert_resource<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    resource: &Resource,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO resources (uri, scopes, created_at) VALUES ($1, $2, $3)")
        .arg(&resource.uri)
        .arg(&resource.scopes.join(" "))
        .arg(&ts(resource.created_at))
        .execute(db)
        .await
        .map_err(DB::store_error)?;
    Ok(())
}

/// [`crate::store::ClientStore::resource_by_uri`].
pub(crate) async fn resource_by_uri<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    uri: &str,
) -> StoreResult<Option<Resource>> {
    let sql = "SELECT uri, scopes, created_at FROM resources WHERE uri = $1";
    optional(db, sqlx::query(sql).arg(uri), resource).await
}

/// [`crate::store::ClientStore::list_resources`].
pub(crate) async fn resources<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
) -> StoreResult<Vec<Resource>> {
    let sql = "SELECT uri, scopes, created_at FROM resources ORDER BY uri";
    every(db, sqlx::query(sql), resource).await
}

/// [`crate::store::ClientStore::delete_resource`].
pub(crate) async fn delete_resource<'e, DB: Dialect>(
    db: impl Executor<'e, Database = DB>,
    uri: &str,
) -> StoreResult<bool> {
    changed_one(
        db,
        sqlx::query("DELETE FROM resources WHERE uri = $1").arg(uri),
    )
    .await
}
