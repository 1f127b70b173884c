//! The store's outbox (table `media_deletions`, see its migration): object keys due for
//! removal, written in the same transaction as the row change that makes them garbage, and
//! removed by the worker ([`remove_due`]) until the store confirms — retried with backoff while
//! it is down, harmless when repeated (an object already gone counts as removed).
//!
//! - A deleted image's keys are scheduled now, in its delete transaction.
//! - An upload schedules its keys [`UPLOAD_GRACE`] ahead *before* it writes the files; the
//!   transaction inserting its row cancels them. So an upload that never commits (store
//!   failure, refused row, crashed process) leaves no file for longer than the grace, and a
//!   committed image's files are never scheduled. The grace is far longer than an upload can
//!   take (its request and store timeouts are seconds).

use super::MediaStore;
use crate::db::{PgConn, PgPool};
use crate::error::Result;
use crate::ids::{ImageId, OrganizationId};
use crate::schema::media_deletions;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Text};
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::Value;

/// How long an upload's files may exist without their row before they are removed.
pub const UPLOAD_GRACE: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

/// The longest pause between two attempts at one key while the store is failing.
const MAX_BACKOFF_SECONDS: i32 = 300;

/// Schedules `keys` of `org` for removal at `due_at` (a key already scheduled takes the new time).
pub async fn schedule(conn: &mut PgConn, org: OrganizationId, keys: &[String], due_at: DateTime<Utc>) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = keys
        .iter()
        .map(|key| {
            (
                media_deletions::storage_key.eq(key),
                media_deletions::organization_id.eq(org),
                media_deletions::due_at.eq(due_at),
            )
        })
        .collect();
    diesel::insert_into(media_deletions::table)
        .values(rows)
        .on_conflict(media_deletions::storage_key)
        .do_update()
        .set(media_deletions::due_at.eq(excluded(media_deletions::due_at)))
        .execute(conn)
        .await?;
    Ok(())
}

/// Takes `keys` of `org` off the schedule: their row was committed, they are referenced.
pub async fn cancel(conn: &mut PgConn, org: OrganizationId, keys: &[String]) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    diesel::delete(
        media_deletions::table
            .filter(media_deletions::organization_id.eq(org))
            .filter(media_deletions::storage_key.eq_any(keys)),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The storage keys an image row's metadata names that belong to that image: under `org` and
/// named for `image_id` (`{org}/{kind}/{owner}/{image_id}_{size}.{ext}`). Metadata is
/// writable by callers, so a key outside the image's own namespace is never trusted — no
/// deletion can reach another image's, or another organization's, files.
pub fn owned_keys(org: OrganizationId, image_id: ImageId, metadata: &Value) -> Vec<String> {
    let (org_prefix, name_prefix) = (format!("{org}/"), format!("{image_id}_"));
    metadata
        .get("storage_keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|key| {
            key.starts_with(&org_prefix)
                && key.rsplit('/').next().is_some_and(|name| name.starts_with(&name_prefix))
                && !key.split('/').any(|segment| segment == ".." || segment.is_empty())
        })
        .map(str::to_string)
        .collect()
}

/// What one [`remove_due`] pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Removal {
    pub removed: usize,
    pub failed: usize,
}

/// Removes up to `limit` due objects from the store and their rows; keys the store failed on
/// are tried again later (doubling pauses, at most five minutes). Replicas share the work:
/// each pass locks its keys (`SKIP LOCKED`).
pub async fn remove_due(pg: &PgPool, store: &MediaStore, limit: i64) -> Result<Removal> {
    let mut conn = pg.get().await?;
    conn.transaction(async |conn| {
        let keys: Vec<String> = media_deletions::table
            .filter(media_deletions::due_at.le(Utc::now()))
            .order(media_deletions::due_at.asc())
            .limit(limit)
            .select(media_deletions::storage_key)
            .for_update()
            .skip_locked()
            .load(conn)
            .await?;
        if keys.is_empty() {
            return Ok(Removal::default());
        }
        match store.delete_all(&keys).await {
            Ok(()) => {
                diesel::delete(media_deletions::table.filter(media_deletions::storage_key.eq_any(&keys)))
                    .execute(conn)
                    .await?;
                Ok(Removal { removed: keys.len(), failed: 0 })
            }
            Err(e) => {
                tracing::warn!(error = %e, keys = keys.len(), "object storage refused deletions; retrying later");
                diesel::sql_query(
                    "UPDATE media_deletions SET attempts = attempts + 1, last_error = $1, \
                     due_at = now() + least(power(2, attempts)::int, $3) * interval '1 second' \
                     WHERE storage_key = ANY($2)",
                )
                .bind::<Text, _>(e.to_string())
                .bind::<Array<Text>, _>(&keys)
                .bind::<diesel::sql_types::Integer, _>(MAX_BACKOFF_SECONDS)
                .execute(conn)
                .await?;
                Ok(Removal { removed: 0, failed: keys.len() })
            }
        }
    })
    .await
}

/// Keys scheduled for removal, due or not (the worker's backlog metric).
pub async fn backlog(pg: &PgPool) -> Result<i64> {
    Ok(media_deletions::table.count().get_result(&mut *pg.get().await?).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_keys_in_the_images_own_namespace_are_trusted() {
        let org = OrganizationId(uuid::Uuid::now_v7());
        let other = OrganizationId(uuid::Uuid::now_v7());
        let image = ImageId::generate();
        let own = format!("{org}/products/p1/{image}_original.jpg");
        let metadata = json!({ "storage_keys": [
            own,
            format!("{other}/products/p1/{image}_original.jpg"),
            format!("{org}/products/p1/{}_thumb.jpg", ImageId::generate()),
            format!("{org}/../{other}/x/{image}_large.jpg"),
            7,
        ]});
        assert_eq!(owned_keys(org, image, &metadata), vec![own]);
        assert!(owned_keys(org, image, &json!({})).is_empty());
    }
}
