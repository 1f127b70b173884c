//! Bulk upsert of products matched by SKU: up to [`MAX_ROWS`] products with their variants,
//! tags and collection memberships in a constant number of statements, whatever the row count
//! (reads: products, variants, brands, tags, collections, their links, slugs; writes: one upsert
//! per table, the links, the outbox).
//!
//! A row is the whole product as `POST /products` would create it: fields it omits take their
//! defaults, except `slug`, which a matched product keeps. Variants are matched by SKU within
//! the product; variants a row does not list are left as they are. `tag_ids` and
//! `collection_ids`, when given, replace the product's tags and memberships; `options` (ids or
//! names) the options it declares, whose values its variants take ([`options`]); `images` the
//! product's or a variant's images ([`images`]). A row that
//! would change nothing is `unchanged`: no write, no event. Each changed entity gets exactly
//! one event, as its single write would publish (a membership change is the collection's).

mod images;
mod load;
mod options;
mod plan;
mod write;

pub use images::BulkImage;
pub use options::OptionRef;

use crate::db::PgConn;
use crate::error::{FieldError, Result};
use crate::ids::{CollectionId, OptionValueId, OrganizationId, ProductId, TagId, VariantId};
use crate::models::{Actor, NewProduct, NewVariant};
use diesel_async::AsyncConnection;
use load::load_existing;
use plan::plan_row;
use serde::Serialize;
use std::collections::HashMap;
use write::write;

/// Products per call.
pub const MAX_ROWS: usize = 1000;
/// Rows per multi-row statement: PostgreSQL takes at most 65,535 bind parameters.
pub(super) const CHUNK: usize = 1500;

/// One validated row.
#[derive(Debug, Clone)]
pub struct BulkProduct {
    pub product: NewProduct,
    /// The row named a slug (else a new product's is generated and a matched one's kept).
    pub slug_given: bool,
    /// The product's variants (a simple product: its default variant, under the product SKU).
    pub variants: Vec<NewVariant>,
    /// `Some`: exactly these tags; `None`: the tags stay as they are.
    pub tag_ids: Option<Vec<TagId>>,
    /// `Some`: member of exactly these collections; `None`: memberships stay as they are.
    pub collection_ids: Option<Vec<CollectionId>>,
    /// `Some`: the product declares exactly these options, in order; `None`: they stay.
    pub options: Option<Vec<OptionRef>>,
    /// `option_value_ids[i]`: the values `variants[i]` takes; empty: read by option name from
    /// its `attributes` when the product declares options.
    pub option_value_ids: Vec<Vec<OptionValueId>>,
    /// `Some`: the product's images become exactly these, in order; `None`: they stay.
    pub images: Option<Vec<BulkImage>>,
    /// `variant_images[i]`: the same for `variants[i]`.
    pub variant_images: Vec<Option<Vec<BulkImage>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorPolicy {
    /// One failing row fails the call; nothing is written.
    #[default]
    AllOrNothing,
    /// Failing rows are reported; the others are written.
    PerRow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RowAction {
    Created,
    Updated,
    Unchanged,
    Failed,
}

impl RowAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RowAction::Created => "created",
            RowAction::Updated => "updated",
            RowAction::Unchanged => "unchanged",
            RowAction::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RowResult {
    pub index: usize,
    pub action: RowAction,
    /// Absent for failed rows, and for new products in a dry run.
    #[schema(value_type = Option<String>)]
    pub product_id: Option<ProductId>,
    /// The row's variants, in its order (same absences as `product_id`).
    #[schema(value_type = Vec<String>)]
    pub variant_ids: Vec<VariantId>,
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BulkOutcome {
    pub dry_run: bool,
    /// Whether the writes were made (false for a dry run, or when all_or_nothing met a failure).
    pub committed: bool,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub results: Vec<RowResult>,
}

/// Upserts the rows (`Err`: the row failed validation, with its field errors). All reads and
/// writes happen in one transaction; a dry run plans without writing.
pub async fn upsert(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    rows: Vec<std::result::Result<BulkProduct, Vec<FieldError>>>,
    policy: ErrorPolicy,
    dry_run: bool,
) -> Result<BulkOutcome> {
    let actor = actor.clone();
    conn.transaction(async move |conn| upsert_in(conn, org, &actor, rows, policy, dry_run).await).await
}

async fn upsert_in(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    mut rows: Vec<std::result::Result<BulkProduct, Vec<FieldError>>>,
    policy: ErrorPolicy,
    dry_run: bool,
) -> Result<BulkOutcome> {
    for row in rows.iter_mut().flatten() {
        row.product.organization_id = org;
        for variant in &mut row.variants {
            variant.organization_id = org;
        }
    }
    mark_duplicates(&mut rows);
    let valid: Vec<&BulkProduct> = rows.iter().filter_map(|r| r.as_ref().ok()).collect();
    let existing = load_existing(conn, org, &valid).await?;
    let matched: Vec<ProductId> = existing.products_by_id.keys().copied().collect();
    let mut book = options::OptionBook::load(conn, org, &valid, &matched).await?;
    let mut taken_slugs = existing.slugs.clone();
    let mut results = Vec::with_capacity(rows.len());
    let mut plans = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        let planned = match row {
            Err(errors) => Err(errors.clone()),
            Ok(row) => plan_row(row, &existing, &mut taken_slugs, &mut book),
        };
        match planned {
            Ok((action, plan, product_id, variant_ids)) => {
                results.push(RowResult { index, action, product_id: Some(product_id), variant_ids, errors: vec![] });
                plans.push((index, plan));
            }
            Err(errors) => results.push(RowResult {
                index,
                action: RowAction::Failed,
                product_id: None,
                variant_ids: vec![],
                errors,
            }),
        }
    }
    let failed = results.iter().filter(|r| r.action == RowAction::Failed).count();
    let blocked = failed > 0 && policy == ErrorPolicy::AllOrNothing;
    let committed = !dry_run && !blocked;
    if committed {
        write(conn, org, actor, plans, &existing, &book).await?;
    } else if dry_run {
        for result in results.iter_mut().filter(|r| r.action == RowAction::Created) {
            result.product_id = None;
            result.variant_ids.clear();
        }
    }
    let count = |action| results.iter().filter(|r| r.action == action).count();
    Ok(BulkOutcome {
        dry_run,
        committed,
        created: count(RowAction::Created),
        updated: count(RowAction::Updated),
        unchanged: count(RowAction::Unchanged),
        failed,
        results,
    })
}

/// A SKU may appear once per call (as a product's or as a variant's), and so may a product
/// barcode among products and a variant barcode among variants (the unique indexes' scopes):
/// every later row naming one again fails, naming the first row.
fn mark_duplicates(rows: &mut [std::result::Result<BulkProduct, Vec<FieldError>>]) {
    let mut first_seen: HashMap<(&'static str, String), usize> = HashMap::new();
    let mut clashes: Vec<(usize, FieldError)> = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        let Ok(row) = row else { continue };
        let mut own: Vec<(&'static str, String, String)> = vec![("SKU", "sku".into(), row.product.sku.clone())];
        if let Some(barcode) = &row.product.barcode {
            own.push(("product barcode", "barcode".into(), barcode.clone()));
        }
        for (i, variant) in row.variants.iter().enumerate() {
            // A simple product's default variant carries the product SKU: not a clash.
            if variant.sku != row.product.sku {
                own.push(("SKU", format!("variants[{i}].sku"), variant.sku.clone()));
            }
            if let Some(barcode) = &variant.barcode {
                own.push(("variant barcode", format!("variants[{i}].barcode"), barcode.clone()));
            }
        }
        for (kind, field, value) in own {
            match first_seen.get(&(kind, value.clone())) {
                Some(&other) => {
                    clashes.push((index, FieldError::new(field, format!("repeats a {kind} of row {other}"))));
                }
                None => {
                    first_seen.insert((kind, value), index);
                }
            }
        }
    }
    for (index, error) in clashes {
        match &mut rows[index] {
            Ok(_) => rows[index] = Err(vec![error]),
            Err(errors) => errors.push(error),
        }
    }
}
