//! Each row matched against what exists and turned into a plan: its action, the writes and
//! the events; nothing is written here.

use super::load::Existing;
use super::{BulkProduct, RowAction};
use super::{images, options};
use crate::error::{Entity, FieldError};
use crate::ids::{CollectionId, OptionId, OptionValueId, ProductId, TagId, VariantId};
use crate::models::{NewProduct, NewVariant, ProductStatus};
use crate::repo::changed_fields;
use crate::repo::published::{Changes, ImageOwner};
use serde_json::json;
use std::collections::{BTreeSet, HashSet};

pub(super) fn slug_base(row: &BulkProduct) -> String {
    if row.slug_given { row.product.slug.clone() } else { crate::repo::products::base_slug(&row.product.title) }
}

/// One row's plan: what to write and which events to publish.
#[derive(Default)]
pub(super) struct Plan {
    pub(super) product: Option<NewProduct>,
    /// The product's status before and after, and its changes.
    pub(super) product_event: Option<(ProductStatus, ProductStatus, Changes)>,
    pub(super) variants: Vec<NewVariant>,
    pub(super) tags: Option<(BTreeSet<TagId>, BTreeSet<TagId>)>,
    pub(super) memberships: Option<(ProductId, BTreeSet<CollectionId>, BTreeSet<CollectionId>)>,
    /// The declared options, when they change.
    pub(super) options: Option<Vec<OptionId>>,
    /// New variants' option values.
    pub(super) option_links: Vec<(VariantId, OptionId, OptionValueId)>,
    pub(super) images: Vec<(images::Owner, images::ImageChanges)>,
}

/// Matches every row and decides its action; `Err` carries the row's field errors.
pub(super) fn plan_row(
    row: &BulkProduct,
    existing: &Existing,
    taken_slugs: &mut HashSet<String>,
    book: &mut options::OptionBook,
) -> std::result::Result<(RowAction, Plan, ProductId, Vec<VariantId>), Vec<FieldError>> {
    let mut errors = Vec::new();
    // Product SKU first, then the product that owns the row's variant SKUs.
    let mut matched = existing.products_by_sku.get(&row.product.sku);
    if matched.is_none() {
        let owners: BTreeSet<ProductId> =
            row.variants.iter().filter_map(|v| existing.variants_by_sku.get(&v.sku)).map(|v| v.product_id).collect();
        if owners.len() == 1 {
            matched = owners.iter().next().and_then(|id| existing.products_by_id.get(id));
        }
    }
    let product_id = matched.map_or(row.product.id, |p| p.id);
    for (i, variant) in row.variants.iter().enumerate() {
        if existing.variants_by_sku.get(&variant.sku).is_some_and(|v| v.product_id != product_id) {
            errors.push(FieldError::new(format!("variants[{i}].sku"), "belongs to a variant of another product"));
        }
    }
    if row.product.brand_id.is_some_and(|b| !existing.brands.contains(&b)) {
        errors.push(FieldError::missing("brand_id", Entity::Brand));
    }
    for (i, collection) in row.collection_ids.iter().flatten().enumerate() {
        if !existing.collections.contains(collection) {
            errors.push(FieldError::missing(format!("collection_ids[{i}]"), Entity::Collection));
        }
    }
    if let Some(tag_ids) = &row.tag_ids {
        for (i, tag) in tag_ids.iter().enumerate() {
            if !existing.tags.contains(tag) {
                errors.push(FieldError::missing(format!("tag_ids[{i}]"), Entity::Tag));
            }
        }
    }
    if let Some(barcode) = &row.product.barcode
        && existing.product_barcodes.get(barcode).is_some_and(|holder| *holder != product_id)
    {
        errors.push(FieldError::new("barcode", "is already used by another product"));
    }
    let mut desired = row.product.clone();
    desired.id = product_id;
    match matched {
        Some(old) if !row.slug_given => desired.slug = old.slug.clone(),
        _ => {
            let base = slug_base(row);
            let keeps_own = matched.is_some_and(|old| old.slug == base);
            if row.slug_given {
                if taken_slugs.contains(&base) && !keeps_own {
                    errors.push(FieldError::new("slug", "is already used by another product"));
                }
                desired.slug = base;
            } else {
                desired.slug = free_slug(&base, taken_slugs);
            }
        }
    }

    let current_options = matched.and_then(|p| book.declared.get(&p.id)).cloned().unwrap_or_default();
    let declared = match row.options.as_deref().map(|refs| book.resolve(refs)) {
        Some(Ok(declared)) => declared,
        Some(Err(option_errors)) => {
            errors.extend(option_errors);
            current_options.clone()
        }
        None => current_options.clone(),
    };

    let mut plan = Plan::default();
    if let Some(wanted) = &row.images {
        errors.extend(images::check("images", wanted, crate::repo::images::MAX_PRODUCT_IMAGES));
        let current = existing.product_images.get(&product_id.into()).map_or(&[][..], Vec::as_slice);
        plan.images.push((images::Owner::Product, images::plan(ImageOwner::product(product_id), wanted, current)));
    }
    let mut variant_ids = Vec::with_capacity(row.variants.len());
    for (i, variant) in row.variants.iter().enumerate() {
        let mut wanted = variant.clone();
        wanted.product_id = product_id;
        let old = existing.variants_by_sku.get(&variant.sku).filter(|v| v.product_id == product_id);
        wanted.id = old.map_or(variant.id, |v| v.id);
        // A simple product's one variant is its default: it takes no option values.
        if row.product.has_variants {
            let prefix = format!("variants[{i}].");
            let given = row.option_value_ids.get(i).map_or(&[][..], Vec::as_slice);
            match book.apply(&declared, &mut wanted, options::VariantOptions { given, prefix: &prefix }, old) {
                Ok(links) => plan.option_links.extend(links.into_iter().map(|(o, v)| (wanted.id, o, v))),
                Err(option_errors) => errors.extend(option_errors),
            }
        }
        if let Some(barcode) = &wanted.barcode
            && existing.variant_barcodes.get(barcode).is_some_and(|holder| *holder != wanted.id)
        {
            errors.push(FieldError::new(format!("variants[{i}].barcode"), "is already used by another variant"));
        }
        if let Some(Some(listed)) = row.variant_images.get(i) {
            let field = format!("variants[{i}].images");
            errors.extend(images::check(&field, listed, crate::repo::images::MAX_VARIANT_IMAGES));
            let current = existing.variant_images.get(&wanted.id.into()).map_or(&[][..], Vec::as_slice);
            plan.images.push((
                images::Owner::Variant,
                images::plan(ImageOwner::variant(wanted.id, product_id), listed, current),
            ));
        }
        variant_ids.push(wanted.id);
        if old.is_none_or(|old| NewVariant::from(old) != wanted) {
            plan.variants.push(wanted);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    taken_slugs.insert(desired.slug.clone());

    let tag_change = set_change(row.tag_ids.as_deref(), existing.tag_links.get(&product_id));
    let options_change = (declared != current_options).then_some((current_options, declared));
    // Membership is the collection's (its version and event), not the product's.
    let membership_change = set_change(row.collection_ids.as_deref(), existing.memberships.get(&product_id));
    let action = match matched {
        None => {
            plan.product = Some(desired);
            RowAction::Created
        }
        Some(old) => {
            let fields_changed = NewProduct::from(old) != desired;
            if fields_changed || tag_change.is_some() || options_change.is_some() {
                let mut changes = if fields_changed {
                    changed_fields(&NewProduct::from(old), &desired)
                } else {
                    serde_json::Map::new()
                };
                if let Some((before, after)) = &tag_change {
                    changes.insert("tag_ids".into(), json!({ "old": before, "new": after }));
                }
                if let Some((before, after)) = &options_change {
                    changes.insert("options".into(), json!({ "old": before, "new": after }));
                }
                plan.product_event = Some((old.status, desired.status, changes));
                plan.product = Some(desired);
            }
            plan.images.retain(|(_, changes)| !changes.is_empty());
            let images_changed = !plan.images.is_empty();
            if plan.product.is_some() || !plan.variants.is_empty() || membership_change.is_some() || images_changed {
                RowAction::Updated
            } else {
                RowAction::Unchanged
            }
        }
    };
    plan.tags = tag_change;
    plan.options = options_change.map(|(_, after)| after);
    plan.memberships = membership_change.map(|(before, after)| (product_id, before, after));
    Ok((action, plan, product_id, variant_ids))
}

/// `(current, wanted)` when a row gives a set (`Some`) that differs from the current one.
pub(super) fn set_change<T: Ord + Copy>(
    wanted: Option<&[T]>,
    current: Option<&BTreeSet<T>>,
) -> Option<(BTreeSet<T>, BTreeSet<T>)> {
    let wanted: BTreeSet<T> = wanted?.iter().copied().collect();
    let current = current.cloned().unwrap_or_default();
    (wanted != current).then_some((current, wanted))
}

pub(super) fn free_slug(base: &str, taken: &HashSet<String>) -> String {
    if !taken.contains(base) {
        return base.to_string();
    }
    (2u32..).map(|n| format!("{base}-{n}")).find(|candidate| !taken.contains(candidate)).unwrap_or_default()
}
