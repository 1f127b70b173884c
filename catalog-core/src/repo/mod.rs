//! Repositories, one module per aggregate.
//!
//! Rules every function here follows:
//! - it takes the caller's `OrganizationId` and every statement filters by it, so another
//!   organization's rows are unreachable and indistinguishable from missing ones;
//! - it takes `&mut PgConn`, which is either a pooled connection or an open transaction, so a
//!   caller can compose several calls atomically;
//! - a write appends its event to the outbox in the same transaction (see [`outbox`]);
//! - a batch lookup is one statement, whatever its size.

pub mod brands;
pub mod bulk;
pub mod collections;
pub mod idempotency;
pub mod images;
pub mod options;
pub mod outbox;
pub mod price_tiers;
pub mod products;
pub mod published;
pub mod recipes;
pub mod tags;
pub mod variants;

use crate::error::{Entity, Error, Result};
use serde::Serialize;
use serde_json::{Map, Value};

/// Fields whose value differs between two states of a row, as `{field: {old, new}}`; the
/// bookkeeping columns are left out. Feeds the `data.changes` of `*.updated` events.
pub fn changed_fields<T: Serialize>(old: &T, new: &T) -> Map<String, Value> {
    const IGNORED: &[&str] = &["updated_at", "version", "created_at"];
    let (Ok(Value::Object(old)), Ok(Value::Object(new))) = (serde_json::to_value(old), serde_json::to_value(new))
    else {
        return Map::new();
    };
    new.into_iter()
        .filter(|(field, value)| !IGNORED.contains(&field.as_str()) && old.get(field) != Some(value))
        .map(|(field, value)| {
            let before = old.get(&field).cloned().unwrap_or(Value::Null);
            (field, serde_json::json!({ "old": before, "new": value }))
        })
        .collect()
}

/// The reads of a repository's table whose rows belong to an organization and are soft-deleted:
/// `live(org)` (the organization's live rows, a query to refine), `lock` (the live row, locked
/// for the rest of the transaction), `find`, `get` and `get_many` (one statement for any number
/// of ids; missing, deleted and foreign ids are simply absent). Every one filters by the
/// organization. A macro for the reason `update_versioned!` is one.
macro_rules! tenant_reads {
    ($table:ident, $model:ty, $id:ty, $entity:expr) => {
        fn live(org: $crate::ids::OrganizationId) -> $table::BoxedQuery<'static, diesel::pg::Pg> {
            $table::table.filter($table::organization_id.eq(org)).filter($table::deleted_at.is_null()).into_boxed()
        }

        /// The live row, locked for the rest of the transaction.
        pub(super) async fn lock(
            conn: &mut $crate::db::PgConn,
            org: $crate::ids::OrganizationId,
            id: $id,
        ) -> $crate::error::Result<$model> {
            // Unboxed: a boxed query cannot take a lock.
            let row = $table::table
                .filter($table::organization_id.eq(org))
                .filter($table::id.eq(id))
                .filter($table::deleted_at.is_null())
                .select(<$model>::as_select())
                .for_update()
                .first(conn)
                .await;
            $crate::repo::found(row.optional()?, $entity)
        }

        pub async fn find(
            conn: &mut $crate::db::PgConn,
            org: $crate::ids::OrganizationId,
            id: $id,
        ) -> $crate::error::Result<Option<$model>> {
            Ok(live(org).filter($table::id.eq(id)).select(<$model>::as_select()).first(conn).await.optional()?)
        }

        pub async fn get(
            conn: &mut $crate::db::PgConn,
            org: $crate::ids::OrganizationId,
            id: $id,
        ) -> $crate::error::Result<$model> {
            $crate::repo::found(find(conn, org, id).await?, $entity)
        }

        /// One statement for any number of ids; missing, deleted and foreign ids are absent.
        pub async fn get_many(
            conn: &mut $crate::db::PgConn,
            org: $crate::ids::OrganizationId,
            ids: &[$id],
        ) -> $crate::error::Result<Vec<$model>> {
            Ok(live(org).filter($table::id.eq_any(ids)).select(<$model>::as_select()).load(conn).await?)
        }
    };
}

pub(crate) use tenant_reads;

/// The one way a new row is written: one INSERT returning it, and its `*.created` event
/// (`event(&row)`) appended to the outbox in the caller's transaction. Evaluates to the row.
macro_rules! insert_announced {
    ($conn:expr, $actor:expr, $table:ident, $model:ty, $new:expr, $event:expr) => {{
        let row: $model = diesel::insert_into($table::table)
            .values($new)
            .returning(<$model>::as_returning())
            .get_result($conn)
            .await?;
        $crate::repo::outbox::append($conn, row.organization_id, $actor, vec![($event)(&row)]).await?;
        row
    }};
}

pub(crate) use insert_announced;

/// The one way a versioned row is updated, once it is locked and its version checked: the
/// changes applied to the old row in memory (the changeset's `apply_to`); nothing changed → no
/// write and no event; otherwise one UPDATE filtered by organization and id that bumps the
/// version, and its events — by default one `*.updated` naming the fields that changed, or
/// those `events = |old, new, changed| …` makes. Returns from the enclosing function with the
/// old row on a no-op. A macro rather than a function generic over Diesel tables, whose trait
/// bounds would outgrow the code they save.
macro_rules! update_versioned {
    // First: `events = …` would also match the next arm's `$aggregate:expr` (an assignment).
    ($conn:expr, $actor:expr, $table:ident, $model:ty, events = $events:expr, $old:expr, $changes:expr) => {{
        let old: $model = $old;
        let changes = $changes;
        if $crate::repo::changed_fields(&old, &changes.apply_to(&old)).is_empty() {
            return Ok(old);
        }
        let new: $model = diesel::update($table::table)
            .filter($table::organization_id.eq(old.organization_id))
            .filter($table::id.eq(old.id))
            .set((changes, $table::version.eq(old.version + 1), $table::updated_at.eq(chrono::Utc::now())))
            .returning(<$model>::as_returning())
            .get_result($conn)
            .await?;
        let changed = $crate::repo::changed_fields(&old, &new);
        let events: Vec<$crate::repo::published::EventDraft> = ($events)(&old, &new, &changed);
        $crate::repo::outbox::append($conn, old.organization_id, $actor, events).await?;
        new
    }};
    ($conn:expr, $actor:expr, $table:ident, $model:ty, $aggregate:expr, $old:expr, $changes:expr) => {
        $crate::repo::update_versioned!(
            $conn,
            $actor,
            $table,
            $model,
            events = |_old: &$model, new: &$model, changed| {
                vec![$crate::repo::published::updated($aggregate, new.id, new.version, changed)]
            },
            $old,
            $changes
        )
    };
}

pub(crate) use update_versioned;

/// The one way a locked, versioned row is soft-deleted: one UPDATE filtered by organization and
/// id that stamps `deleted_at` and bumps the version. Evaluates to the new version, which the
/// caller's `*.deleted` event carries.
macro_rules! soft_delete {
    ($conn:expr, $table:ident, $old:expr) => {{
        let (org, id, version, now) = ($old.organization_id, $old.id, $old.version + 1, chrono::Utc::now());
        diesel::update($table::table)
            .filter($table::organization_id.eq(org))
            .filter($table::id.eq(id))
            .set(($table::deleted_at.eq(now), $table::version.eq(version), $table::updated_at.eq(now)))
            .execute($conn)
            .await?;
        version
    }};
}

pub(crate) use soft_delete;

/// A keyset page of the rows `$query` selects, with the count of all it matches: two
/// statements. `$query` builds a fresh query each time it is evaluated (once for the count,
/// once for the rows); `$keyset` bounds and orders it on `$id`.
macro_rules! counted_page {
    ($conn:expr, $page:expr, $keyset:expr, $query:expr, $select:expr, $id:expr) => {{
        let total: i64 = $query.count().get_result($conn).await?;
        let rows = $keyset.apply($query.select($select).limit($page.fetch_limit()), $id);
        $crate::pagination::Page::from_rows(rows.load($conn).await?, $page).with_total(total)
    }};
}

pub(crate) use counted_page;

/// Optimistic concurrency: `expected` is the version the caller last saw (from `If-Match`).
pub fn check_version(expected: Option<i32>, current: i32) -> Result<()> {
    match expected {
        Some(expected) if expected != current => Err(Error::VersionMismatch { expected, current }),
        _ => Ok(()),
    }
}

/// The filters the pages document for every named resource's list (brands, collections, tags,
/// price tiers): words of the name (or description) and the active flag.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Case-insensitive substring of the name or the description.
    pub search: Option<String>,
    pub is_active: Option<bool>,
}

impl ListFilter {
    /// The `ILIKE` pattern of `search`.
    pub fn pattern(&self) -> Option<String> {
        self.search.as_deref().map(|s| format!("%{}%", like_escape(s.trim())))
    }
}

/// `raw` with LIKE's wildcards and escape character taken literally.
pub(crate) fn like_escape(raw: &str) -> String {
    raw.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// `Option<T>` → `T` or `NotFound(entity)`.
pub fn found<T>(row: Option<T>, entity: Entity) -> Result<T> {
    row.ok_or(Error::NotFound(entity))
}
