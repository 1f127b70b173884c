//! Images in bulk rows: a product's (or a variant's) `images`, when given, become exactly that
//! list, in order. Images are matched by URL: a known URL keeps its image (updated only if
//! its alt text, position or primacy changed), a new one is created, and a URL no longer
//! listed is deleted, each with the `catalog.{product|variant}.image.*` event the single write publishes. The
//! primary is the image marked `is_primary`, else the first.
//!
//! Both owner kinds share these statements, so they are SQL with the table named by
//! [`Owner`]: one read per kind, then at most a delete, a demotion and one multi-row upsert.

use crate::db::PgConn;
use crate::error::{FieldError, Result};
use crate::ids::{ImageId, OrganizationId};
use crate::media::deletions;
use crate::repo::images::check_url;
use crate::repo::published::EventDraft;
use crate::repo::published::{self, ImageOwner};
use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Array, Bool, Int4, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use uuid::Uuid;

/// As `POST /products/{id}/images` takes it.
const ALT_MAX: usize = 500;

/// One image a row lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkImage {
    pub url: String,
    pub alt: Option<String>,
    pub is_primary: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Owner {
    Product,
    Variant,
}

impl Owner {
    fn table(self) -> &'static str {
        match self {
            Owner::Product => "product_images",
            Owner::Variant => "variant_images",
        }
    }

    fn column(self) -> &'static str {
        match self {
            Owner::Product => "product_id",
            Owner::Variant => "variant_id",
        }
    }
}

#[derive(Debug, Clone, QueryableByName)]
pub(super) struct StoredImage {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    owner_id: Uuid,
    #[diesel(sql_type = Text)]
    url: String,
    #[diesel(sql_type = Nullable<Text>)]
    alt: Option<String>,
    #[diesel(sql_type = Int4)]
    position: i32,
    #[diesel(sql_type = Bool)]
    is_primary: bool,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    updated_at: DateTime<Utc>,
    #[diesel(sql_type = Bool)]
    inserted: bool,
    /// An uploaded image's files, deleted with it.
    #[diesel(sql_type = diesel::sql_types::Jsonb)]
    metadata: Value,
}

/// The images the matched owners have now, in position order.
pub(super) async fn load(
    conn: &mut PgConn,
    org: OrganizationId,
    owner: Owner,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<StoredImage>>> {
    let mut by_owner: HashMap<Uuid, Vec<StoredImage>> = HashMap::new();
    if ids.is_empty() {
        return Ok(by_owner);
    }
    let query = format!(
        "SELECT id, {column} AS owner_id, url, alt, position, is_primary, created_at, updated_at, false AS inserted, \
         metadata FROM {table} WHERE organization_id = $1 AND {column} = ANY($2) ORDER BY position, id",
        table = owner.table(),
        column = owner.column(),
    );
    let rows: Vec<StoredImage> =
        diesel::sql_query(query).bind::<SqlUuid, _>(org).bind::<Array<SqlUuid>, _>(ids).load(conn).await?;
    for row in rows {
        by_owner.entry(row.owner_id).or_default().push(row);
    }
    Ok(by_owner)
}

/// The field errors of a list (`field` is the list's name, as `variants[0].images`): each
/// image by the single-write rules, plus no URL twice, at most one primary and at most `max`
/// images (the list replaces the owner's).
pub(super) fn check(field: &str, images: &[BulkImage], max: usize) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if images.len() > max {
        errors.push(FieldError::new(field, format!("at most {max} images")));
    }
    for (i, image) in images.iter().enumerate() {
        let mut own = Vec::new();
        check_url(&image.url, &mut own);
        let url = image.url.trim();
        if own.is_empty() && images[..i].iter().any(|other| other.url.trim() == url) {
            own.push(FieldError::new("url", "is listed twice"));
        }
        if image.alt.as_ref().is_some_and(|alt| alt.chars().count() > ALT_MAX) {
            own.push(FieldError::new("alt", format!("must be at most {ALT_MAX} characters")));
        }
        errors.extend(own.into_iter().map(|e| FieldError::new(format!("{field}[{i}].{}", e.field), e.message)));
    }
    if images.iter().filter(|image| image.is_primary).count() > 1 {
        errors.push(FieldError::new(field, "at most one image is primary"));
    }
    errors
}

/// One owner's image changes.
#[derive(Debug, Default)]
pub(super) struct ImageChanges {
    /// (id, owner, url, alt, position, is_primary): new images and changed ones.
    upserts: Vec<(Uuid, Uuid, String, Option<String>, i32, bool)>,
    /// Kept images that stop being primary before another becomes it.
    demoted: Vec<Uuid>,
    /// Images the row no longer lists, with their metadata (an uploaded one's files go too).
    deleted: Vec<(Uuid, Value)>,
    /// Events of changed images (new ones get theirs once written).
    events: Vec<EventDraft>,
    /// Whose images these are, for the events of the new ones.
    whose: Option<ImageOwner>,
}

impl ImageChanges {
    pub fn is_empty(&self) -> bool {
        self.upserts.is_empty() && self.deleted.is_empty()
    }
}

/// What turns `current` into `wanted` (already checked).
pub(super) fn plan(whose: ImageOwner, wanted: &[BulkImage], current: &[StoredImage]) -> ImageChanges {
    let mut changes = ImageChanges { whose: Some(whose), ..Default::default() };
    let owner_id = whose.id();
    let primary = wanted.iter().position(|image| image.is_primary).unwrap_or(0);
    let mut kept = Vec::new();
    for (position, image) in (0i32..).zip(wanted) {
        let url = image.url.trim().to_string();
        let alt = image.alt.as_deref().map(str::trim).filter(|a| !a.is_empty()).map(str::to_string);
        let is_primary = usize::try_from(position).is_ok_and(|p| p == primary);
        let Some(old) = current.iter().find(|old| old.url == url) else {
            changes.upserts.push((Uuid::now_v7(), owner_id, url, alt, position, is_primary));
            continue;
        };
        kept.push(old.id);
        if (&old.alt, old.position, old.is_primary) == (&alt, position, is_primary) {
            continue;
        }
        if old.is_primary && !is_primary {
            changes.demoted.push(old.id);
        }
        let mut diff = Map::new();
        for (field, before, after) in [
            ("alt", json!(old.alt), json!(alt)),
            ("position", json!(old.position), json!(position)),
            ("is_primary", json!(old.is_primary), json!(is_primary)),
        ] {
            if before != after {
                diff.insert(field.into(), json!({ "old": before, "new": after }));
            }
        }
        changes.events.push(published::image_updated(whose, ImageId::from(old.id), &diff));
        changes.upserts.push((old.id, owner_id, url, alt, position, is_primary));
    }
    for old in current.iter().filter(|old| !kept.contains(&old.id)) {
        changes.deleted.push((old.id, old.metadata.clone()));
    }
    changes
}

/// Applies every owner's changes of one kind: a delete, a demotion, one upsert.
pub(super) async fn write(
    conn: &mut PgConn,
    org: OrganizationId,
    owner: Owner,
    all: Vec<ImageChanges>,
    events: &mut Vec<EventDraft>,
) -> Result<()> {
    let (table, column) = (owner.table(), owner.column());
    let mut upserts = Vec::new();
    let (mut demoted, mut deleted) = (Vec::new(), Vec::new());
    let whose_by_owner: HashMap<Uuid, ImageOwner> =
        all.iter().filter_map(|changes| changes.whose).map(|whose| (whose.id(), whose)).collect();
    let mut files = Vec::new();
    for changes in all {
        upserts.extend(changes.upserts);
        demoted.extend(changes.demoted);
        events.extend(changes.events);
        for (id, metadata) in changes.deleted {
            let owned = deletions::owned_keys(org, ImageId::from(id), &metadata);
            events.extend(changes.whose.map(|whose| published::image_deleted(whose, ImageId::from(id), &owned)));
            files.extend(owned);
            deleted.push(id);
        }
    }
    // A dropped uploaded image's files go with its row (the store's outbox).
    deletions::schedule(conn, org, &files, Utc::now()).await?;
    for (ids, statement) in [
        (&deleted, format!("DELETE FROM {table} WHERE organization_id = $1 AND id = ANY($2)")),
        (
            &demoted,
            format!(
                "UPDATE {table} SET is_primary = false, updated_at = now() WHERE organization_id = $1 AND id = ANY($2)"
            ),
        ),
    ] {
        if !ids.is_empty() {
            diesel::sql_query(statement).bind::<SqlUuid, _>(org).bind::<Array<SqlUuid>, _>(ids).execute(conn).await?;
        }
    }
    if upserts.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(upserts.len());
    let mut owners = Vec::with_capacity(upserts.len());
    let mut urls = Vec::with_capacity(upserts.len());
    let mut alts = Vec::with_capacity(upserts.len());
    let mut positions = Vec::with_capacity(upserts.len());
    let mut primaries = Vec::with_capacity(upserts.len());
    for (id, owner_id, url, alt, position, is_primary) in upserts {
        ids.push(id);
        owners.push(owner_id);
        urls.push(url);
        alts.push(alt);
        positions.push(position);
        primaries.push(is_primary);
    }
    let statement = format!(
        "INSERT INTO {table} (id, organization_id, {column}, url, alt, position, is_primary) \
         SELECT i.id, $1, i.owner_id, i.url, i.alt, i.position, i.is_primary \
         FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::int4[], $7::bool[]) \
             AS i(id, owner_id, url, alt, position, is_primary) \
         ON CONFLICT (id) DO UPDATE SET alt = excluded.alt, position = excluded.position, \
             is_primary = excluded.is_primary, updated_at = now() \
         RETURNING id, {column} AS owner_id, url, alt, position, is_primary, created_at, updated_at, \
             (xmax = 0) AS inserted, metadata"
    );
    let written: Vec<StoredImage> = diesel::sql_query(statement)
        .bind::<SqlUuid, _>(org)
        .bind::<Array<SqlUuid>, _>(&ids)
        .bind::<Array<SqlUuid>, _>(&owners)
        .bind::<Array<Text>, _>(&urls)
        .bind::<Array<Nullable<Text>>, _>(&alts)
        .bind::<Array<Int4>, _>(&positions)
        .bind::<Array<Bool>, _>(&primaries)
        .load(conn)
        .await?;
    for image in written.into_iter().filter(|image| image.inserted) {
        let mut row = json!({
            "id": image.id,
            "organization_id": org,
            "url": image.url,
            "alt": image.alt,
            "position": image.position,
            "is_primary": image.is_primary,
            "created_at": image.created_at,
            "updated_at": image.updated_at,
        });
        row[column] = Value::from(image.owner_id.to_string());
        if let Some(whose) = whose_by_owner.get(&image.owner_id) {
            events.push(published::image_created(*whose, ImageId::from(image.id), &row));
        }
    }
    Ok(())
}
