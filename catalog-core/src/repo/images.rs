//! Images of products and of variants. The two owner kinds follow the same rules, written
//! once in `image_repository!`:
//! - every change locks the live owner row first, so changes to one owner's images serialize
//!   (positions and the single primary stay consistent without locking image rows);
//! - an owner with images has exactly one primary image (at most one: a partial unique
//!   index); its first image becomes primary, a reorder makes the first one primary, deleting
//!   the primary promotes the lowest-position remaining image, and unsetting it is refused
//!   (422 `PRIMARY_IMAGE_REQUIRED`: another image is made primary instead);
//! - images are hard-deleted and have no `version` column: their events carry
//!   `aggregate_version = 1` ([`IMAGE_EVENT_VERSION`]); consumers order them by event time.
//!
//! Events (page 22): `catalog.{product|variant}.image.{created,updated,deleted}` and
//! `catalog.{product|variant}.images.reordered`, with `product_id` (and `variant_id`) in
//! `data` ([`published::ImageOwner`]). `reordered` is about the owner's set of images, so its
//! `aggregate_id` is the owner's id.

use super::outbox;
use super::published::{self, EventDraft, ImageOwner};
use super::{changed_fields, found};
use crate::db::PgConn;
use crate::error::{Entity, Error, FieldError, Result};
use crate::ids::{ImageId, OrganizationId, ProductId, VariantId};
use crate::media::deletions;
use crate::models::{Actor, ImageChanges, NewProductImage, NewVariantImage, ProductImage, VariantImage, max_chars};
use serde_json::Value;
use uuid::Uuid;

/// Page 22's limits: at most this many images per product, and per variant.
pub const MAX_PRODUCT_IMAGES: usize = 10;
pub const MAX_VARIANT_IMAGES: usize = 5;

/// 422 `MAX_IMAGES_EXCEEDED` when the owner already has `max` images.
fn check_room(kind: &str, owner: Uuid, count: usize, max: usize) -> Result<()> {
    if count < max {
        return Ok(());
    }
    Err(Error::Unprocessable {
        code: "MAX_IMAGES_EXCEEDED",
        message: format!("a {kind} has at most {max} images; delete one before adding another"),
        details: serde_json::json!({ format!("{kind}_id"): owner, "images_count": count, "max_images": max }),
    })
}

/// Images have no version column; see the module documentation.
pub const IMAGE_EVENT_VERSION: i32 = 1;

pub(crate) fn check_url(url: &str, problems: &mut Vec<FieldError>) {
    if url.trim().is_empty() {
        problems.push(FieldError::new("url", "is required"));
    } else if url.chars().count() > max_chars::URL {
        problems.push(FieldError::new("url", format!("must be at most {} characters", max_chars::URL)));
    }
}

fn invalid(problems: Vec<FieldError>) -> Result<()> {
    if problems.is_empty() { Ok(()) } else { Err(Error::validation(Entity::Image, problems)) }
}

/// `ordered` must name each of the owner's images exactly once; an id that is none of them is
/// an image that does not exist for this owner (404 `IMAGE_NOT_FOUND`).
fn check_order(current: &[ImageId], ordered: &[ImageId], kind: &str) -> Result<()> {
    let unknown: Vec<String> = ordered.iter().filter(|id| !current.contains(id)).map(ToString::to_string).collect();
    if !unknown.is_empty() {
        let message = format!("not images of this {kind}: {}", unknown.join(", "));
        return Err(Error::validation(
            Entity::Image,
            vec![FieldError::missing_because("image_ids", Entity::Image, message)],
        ));
    }
    let mut given = ordered.to_vec();
    given.sort();
    given.dedup();
    let mut expected = current.to_vec();
    expected.sort();
    if given.len() != ordered.len() || given != expected {
        return Err(Error::field(
            Entity::Image,
            "image_ids",
            format!("must list each of the {kind}'s images exactly once"),
        ));
    }
    Ok(())
}

/// 422 `PRIMARY_IMAGE_REQUIRED` (page 22): an owner with images keeps a primary one; another
/// image is made primary instead (which unsets this one).
fn primary_required(kind: &str, image_id: ImageId) -> Error {
    Error::Unprocessable {
        code: "PRIMARY_IMAGE_REQUIRED",
        message: format!("a {kind} with images has a primary one: mark another image as primary instead"),
        details: serde_json::json!({ "image_id": image_id, "is_primary": true }),
    }
}

/// Replaced metadata keeps an uploaded image's `storage_keys`: the service wrote them and
/// its deletion removes exactly those files.
fn keep_storage_keys(replacement: Option<Value>, old: &Value) -> Value {
    let Some(mut new) = replacement else { return old.clone() };
    if let (Some(keys), Some(fields)) = (old.get("storage_keys"), new.as_object_mut()) {
        fields.insert("storage_keys".into(), keys.clone());
    }
    new
}

fn primary_change(owner: ImageOwner, image_id: ImageId, now_primary: bool) -> EventDraft {
    published::image_updated(owner, image_id, &published::change("is_primary", !now_primary, now_primary))
}

/// The five operations for one owner kind, in a private module named `$module`.
macro_rules! image_repository {
    (
        $module:ident,
        kind: $kind:literal,
        table: $table:ident,
        owner: $owner:ident: $OwnerId:ty,
        owner_table: $owner_table:ident,
        owner_product: $owner_product:ident,
        image_owner: $image_owner:expr,
        owner_entity: $owner_entity:expr,
        max_images: $max_images:expr,
        row: $Row:ty,
        new_row: $New:ty $(,)?
    ) => {
        mod $module {
            use super::*;
            use crate::schema::{$owner_table, $table};
            use chrono::Utc;
            use diesel::prelude::*;
            use diesel_async::{AsyncConnection, RunQueryDsl};

            const KIND: &str = $kind;

            /// The live owner, locked for the rest of the transaction, as its events name it.
            async fn lock_owner(conn: &mut PgConn, org: OrganizationId, owner: $OwnerId) -> Result<Option<ImageOwner>> {
                let product: Option<ProductId> = $owner_table::table
                    .filter($owner_table::organization_id.eq(org))
                    .filter($owner_table::id.eq(owner))
                    .filter($owner_table::deleted_at.is_null())
                    .select($owner_table::$owner_product)
                    .for_update()
                    .first(conn)
                    .await
                    .optional()?;
                Ok(product.map(|product| $image_owner(owner, product)))
            }

            /// Locks the owner of `image_id`, then reads the image: after the owner lock no other
            /// transaction can change it. A deleted owner's images count as missing.
            async fn lock_image(
                conn: &mut PgConn,
                org: OrganizationId,
                image_id: ImageId,
            ) -> Result<($Row, ImageOwner)> {
                let owner: Option<$OwnerId> = $table::table
                    .filter($table::organization_id.eq(org))
                    .filter($table::id.eq(image_id))
                    .select($table::$owner)
                    .first(conn)
                    .await
                    .optional()?;
                let owner = found(owner, Entity::Image)?;
                let whose = found(lock_owner(conn, org, owner).await?, Entity::Image)?;
                let image = $table::table
                    .filter($table::organization_id.eq(org))
                    .filter($table::id.eq(image_id))
                    .select(<$Row>::as_select())
                    .first(conn)
                    .await
                    .optional()?;
                Ok((found(image, Entity::Image)?, whose))
            }

            /// Unsets the owner's primary image, if any; returns the events of that change.
            async fn demote_primary(
                conn: &mut PgConn,
                org: OrganizationId,
                owner: $OwnerId,
                whose: ImageOwner,
            ) -> Result<Vec<EventDraft>> {
                let demoted: Vec<ImageId> = diesel::update(
                    $table::table
                        .filter($table::organization_id.eq(org))
                        .filter($table::$owner.eq(owner))
                        .filter($table::is_primary.eq(true)),
                )
                .set(($table::is_primary.eq(false), $table::updated_at.eq(Utc::now())))
                .returning($table::id)
                .get_results(conn)
                .await?;
                Ok(demoted.into_iter().map(|id| primary_change(whose, id, false)).collect())
            }

            pub async fn add(
                conn: &mut PgConn,
                org: OrganizationId,
                actor: &Actor,
                owner: $OwnerId,
                mut new: $New,
            ) -> Result<$Row> {
                new.organization_id = org;
                new.$owner = owner;
                let mut problems = Vec::new();
                check_url(&new.url, &mut problems);
                invalid(problems)?;
                conn.transaction(async move |conn| {
                    let whose = found(lock_owner(conn, org, owner).await?, $owner_entity)?;
                    let existing: Vec<(i32, bool)> = $table::table
                        .filter($table::organization_id.eq(org))
                        .filter($table::$owner.eq(owner))
                        .select(($table::position, $table::is_primary))
                        .load(conn)
                        .await?;
                    // Counted under the owner's lock: two concurrent adds cannot both take the last place.
                    check_room(KIND, owner.into(), existing.len(), $max_images)?;
                    if new.position < 0 {
                        new.position = existing.iter().map(|(p, _)| p + 1).max().unwrap_or(0);
                    }
                    let mut events = Vec::new();
                    if new.is_primary {
                        events = demote_primary(conn, org, owner, whose).await?;
                    } else if !existing.iter().any(|(_, primary)| *primary) {
                        new.is_primary = true;
                    }
                    let image: $Row = diesel::insert_into($table::table)
                        .values(&new)
                        .returning(<$Row>::as_returning())
                        .get_result(conn)
                        .await?;
                    // An uploaded file's objects are referenced from here on.
                    deletions::cancel(conn, org, &deletions::owned_keys(org, image.id, &image.metadata)).await?;
                    let row = serde_json::to_value(&image).unwrap_or_default();
                    events.push(published::image_created(whose, image.id, &row));
                    outbox::append(conn, org, actor, events).await?;
                    Ok(image)
                })
                .await
            }

            pub async fn update(
                conn: &mut PgConn,
                org: OrganizationId,
                actor: &Actor,
                image_id: ImageId,
                changes: ImageChanges,
            ) -> Result<$Row> {
                let mut problems = Vec::new();
                if let Some(url) = &changes.url {
                    check_url(url, &mut problems);
                }
                if changes.position.is_some_and(|p| p < 0) {
                    problems.push(FieldError::new("position", "must be 0 or more"));
                }
                invalid(problems)?;
                conn.transaction(async move |conn| {
                    let (old, whose) = lock_image(conn, org, image_id).await?;
                    let url = changes.url.unwrap_or_else(|| old.url.clone());
                    let alt = changes.alt.unwrap_or_else(|| old.alt.clone());
                    let position = changes.position.unwrap_or(old.position);
                    let is_primary = changes.is_primary.unwrap_or(old.is_primary);
                    let metadata = keep_storage_keys(changes.metadata, &old.metadata);
                    if old.is_primary && !is_primary {
                        return Err(primary_required(KIND, image_id));
                    }
                    if (&url, &alt, position, is_primary, &metadata)
                        == (&old.url, &old.alt, old.position, old.is_primary, &old.metadata)
                    {
                        return Ok(old);
                    }
                    let mut events = Vec::new();
                    if is_primary && !old.is_primary {
                        events = demote_primary(conn, org, old.$owner, whose).await?;
                    }
                    let new: $Row = diesel::update(
                        $table::table.filter($table::organization_id.eq(org)).filter($table::id.eq(image_id)),
                    )
                    .set((
                        $table::url.eq(url),
                        $table::alt.eq(alt),
                        $table::position.eq(position),
                        $table::is_primary.eq(is_primary),
                        $table::metadata.eq(metadata),
                        $table::updated_at.eq(Utc::now()),
                    ))
                    .returning(<$Row>::as_returning())
                    .get_result(conn)
                    .await?;
                    events.push(published::image_updated(whose, image_id, &changed_fields(&old, &new)));
                    outbox::append(conn, org, actor, events).await?;
                    Ok(new)
                })
                .await
            }

            pub async fn delete(
                conn: &mut PgConn,
                org: OrganizationId,
                actor: &Actor,
                image_id: ImageId,
            ) -> Result<()> {
                conn.transaction(async move |conn| {
                    let (image, whose) = lock_image(conn, org, image_id).await?;
                    let owner = image.$owner;
                    diesel::delete(
                        $table::table.filter($table::organization_id.eq(org)).filter($table::id.eq(image_id)),
                    )
                    .execute(conn)
                    .await?;
                    let files = deletions::owned_keys(org, image_id, &image.metadata);
                    deletions::schedule(conn, org, &files, Utc::now()).await?;
                    let mut events = vec![published::image_deleted(whose, image_id, &files)];
                    if image.is_primary {
                        let next: Option<ImageId> = $table::table
                            .filter($table::organization_id.eq(org))
                            .filter($table::$owner.eq(owner))
                            .order(($table::position.asc(), $table::id.asc()))
                            .select($table::id)
                            .first(conn)
                            .await
                            .optional()?;
                        if let Some(next) = next {
                            diesel::update(
                                $table::table.filter($table::organization_id.eq(org)).filter($table::id.eq(next)),
                            )
                            .set(($table::is_primary.eq(true), $table::updated_at.eq(Utc::now())))
                            .execute(conn)
                            .await?;
                            events.push(primary_change(whose, next, true));
                        }
                    }
                    outbox::append(conn, org, actor, events).await?;
                    Ok(())
                })
                .await
            }

            /// Positions 0..n in one statement; `raw SQL` because diesel's DSL has no
            /// `UPDATE ... FROM unnest(...) WITH ORDINALITY`.
            const REORDER: &str = concat!(
                "UPDATE ",
                stringify!($table),
                " AS i SET position = (o.ord - 1)::int, updated_at = now() ",
                "FROM unnest($1::uuid[]) WITH ORDINALITY AS o(id, ord) ",
                "WHERE i.id = o.id AND i.organization_id = $2 AND i.",
                stringify!($owner),
                " = $3",
            );

            pub async fn reorder(
                conn: &mut PgConn,
                org: OrganizationId,
                actor: &Actor,
                owner: $OwnerId,
                ordered: &[ImageId],
            ) -> Result<Vec<$Row>> {
                conn.transaction(async move |conn| {
                    let whose = found(lock_owner(conn, org, owner).await?, $owner_entity)?;
                    let current: Vec<(ImageId, i32, bool)> = $table::table
                        .filter($table::organization_id.eq(org))
                        .filter($table::$owner.eq(owner))
                        .select(($table::id, $table::position, $table::is_primary))
                        .load(conn)
                        .await?;
                    let ids: Vec<ImageId> = current.iter().map(|(id, _, _)| *id).collect();
                    check_order(&ids, ordered, KIND)?;
                    let unchanged = ordered
                        .iter()
                        .enumerate()
                        .all(|(i, id)| current.iter().any(|(c, p, _)| c == id && usize::try_from(*p).ok() == Some(i)));
                    let mut events = Vec::new();
                    if !unchanged {
                        let ordered_uuids: Vec<Uuid> = ordered.iter().map(|id| id.as_uuid()).collect();
                        diesel::sql_query(REORDER)
                            .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(ordered_uuids)
                            .bind::<diesel::sql_types::Uuid, _>(org)
                            .bind::<diesel::sql_types::Uuid, _>(owner)
                            .execute(conn)
                            .await?;
                        events.push(published::images_reordered(whose, ordered));
                    }
                    // The first image is the primary (page 14's reorder flow).
                    let first = ordered.first().copied();
                    if let Some(first) = first.filter(|first| !current.iter().any(|(id, _, p)| id == first && *p)) {
                        events.extend(demote_primary(conn, org, owner, whose).await?);
                        diesel::update(
                            $table::table.filter($table::organization_id.eq(org)).filter($table::id.eq(first)),
                        )
                        .set(($table::is_primary.eq(true), $table::updated_at.eq(Utc::now())))
                        .execute(conn)
                        .await?;
                        events.push(primary_change(whose, first, true));
                    }
                    outbox::append(conn, org, actor, events).await?;
                    list(conn, org, &[owner]).await
                })
                .await
            }

            /// One statement; only images of live owners; ordered by owner, position, id.
            pub async fn list(conn: &mut PgConn, org: OrganizationId, owners: &[$OwnerId]) -> Result<Vec<$Row>> {
                Ok($table::table
                    .inner_join(
                        $owner_table::table.on($owner_table::id
                            .eq($table::$owner)
                            .and($owner_table::organization_id.eq($table::organization_id))),
                    )
                    .filter($table::organization_id.eq(org))
                    .filter($owner_table::organization_id.eq(org))
                    .filter($owner_table::deleted_at.is_null())
                    .filter($table::$owner.eq_any(owners))
                    .order(($table::$owner.asc(), $table::position.asc(), $table::id.asc()))
                    .select(<$Row>::as_select())
                    .load(conn)
                    .await?)
            }
        }
    };
}

image_repository!(
    product,
    kind: "product",
    table: product_images,
    owner: product_id: ProductId,
    owner_table: products,
    owner_product: id,
    image_owner: |_, product| ImageOwner::product(product),
    owner_entity: Entity::Product,
    max_images: MAX_PRODUCT_IMAGES,
    row: ProductImage,
    new_row: NewProductImage,
);

image_repository!(
    variant,
    kind: "variant",
    table: variant_images,
    owner: variant_id: VariantId,
    owner_table: product_variants,
    owner_product: product_id,
    image_owner: ImageOwner::variant,
    owner_entity: Entity::Variant,
    max_images: MAX_VARIANT_IMAGES,
    row: VariantImage,
    new_row: NewVariantImage,
);

/// Adds an image to a live product of `org`. A negative `position` appends (max + 1); the
/// product's first image, or one added with `is_primary`, becomes the primary.
pub async fn add_product_image(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    product_id: ProductId,
    new: NewProductImage,
) -> Result<ProductImage> {
    product::add(conn, org, actor, product_id, new).await
}

/// Setting `is_primary` unsets the previous primary; unsetting it leaves the product without one.
pub async fn update_product_image(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    image_id: ImageId,
    changes: ImageChanges,
) -> Result<ProductImage> {
    product::update(conn, org, actor, image_id, changes).await
}

/// Hard delete; deleting the primary promotes the lowest-position remaining image.
pub async fn delete_product_image(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    image_id: ImageId,
) -> Result<()> {
    product::delete(conn, org, actor, image_id).await
}

/// `ordered_ids` must be exactly the product's images; they get positions 0..n and the first
/// becomes the primary. Returns the images in their new order.
pub async fn reorder_product_images(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    product_id: ProductId,
    ordered_ids: &[ImageId],
) -> Result<Vec<ProductImage>> {
    product::reorder(conn, org, actor, product_id, ordered_ids).await
}

/// The images of many live products in one statement, ordered by product, position, id.
pub async fn list_product_images(
    conn: &mut PgConn,
    org: OrganizationId,
    product_ids: &[ProductId],
) -> Result<Vec<ProductImage>> {
    product::list(conn, org, product_ids).await
}

/// Adds an image to a live variant of `org`; same rules as [`add_product_image`].
pub async fn add_variant_image(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    variant_id: VariantId,
    new: NewVariantImage,
) -> Result<VariantImage> {
    variant::add(conn, org, actor, variant_id, new).await
}

/// Same rules as [`update_product_image`].
pub async fn update_variant_image(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    image_id: ImageId,
    changes: ImageChanges,
) -> Result<VariantImage> {
    variant::update(conn, org, actor, image_id, changes).await
}

/// Same rules as [`delete_product_image`].
pub async fn delete_variant_image(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    image_id: ImageId,
) -> Result<()> {
    variant::delete(conn, org, actor, image_id).await
}

/// Same rules as [`reorder_product_images`].
pub async fn reorder_variant_images(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    variant_id: VariantId,
    ordered_ids: &[ImageId],
) -> Result<Vec<VariantImage>> {
    variant::reorder(conn, org, actor, variant_id, ordered_ids).await
}

/// The images of many live variants in one statement, ordered by variant, position, id.
pub async fn list_variant_images(
    conn: &mut PgConn,
    org: OrganizationId,
    variant_ids: &[VariantId],
) -> Result<Vec<VariantImage>> {
    variant::list(conn, org, variant_ids).await
}
