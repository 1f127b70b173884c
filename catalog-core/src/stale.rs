//! Which cached entries an event makes stale, read from the event itself: its routing key, its
//! aggregate id and its `data`. One table for both invalidations: the API's, right after a
//! write returns ([`crate::read::Catalog::write`] collects what the write appended to the
//! outbox), and the worker's, when the event comes back from RabbitMQ (the guaranteed one).
//!
//! What is cached: product details (embedding the product's variants, images, brand, tags
//! and collections), variant cards (the variant's validation, which depends on its
//! product's status, and its own images) and explosions (what one unit of a sold variant takes
//! out of inventory: its recipes, and the units and liveness of the variants they reach). Price
//! tiers are not cached.

use crate::ids::{OrganizationId, ProductId, VariantId};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::future::Future;
use uuid::Uuid;

/// The cached entries of one organization that must be dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stale {
    pub products: BTreeSet<ProductId>,
    pub variants: BTreeSet<VariantId>,
    /// Products whose variants are stale too but not named by the event (looked up).
    pub products_with_their_variants: BTreeSet<ProductId>,
    /// Variants whose product is stale too but not named by the event (looked up).
    pub variants_with_their_product: BTreeSet<VariantId>,
    /// Something embedded in many products changed (a brand, a tag, ...): every entry.
    pub organization: bool,
    /// A recipe, or a fact recipes read (a unit of measure, a deletion), changed: every
    /// explosion of the organization (no id names the explosions that reach an ingredient).
    pub explosions: bool,
}

/// A product or variant event that changes what explosions hold.
fn reaches_explosions(action: &[&str], data: &Value) -> bool {
    match action {
        ["deleted"] => true,
        ["updated"] => data.pointer("/changes/unit_of_measure").is_some(),
        _ => false,
    }
}

fn uuid_at(data: &Value, path: &[&str]) -> Option<Uuid> {
    path.iter().try_fold(data, |v, key| v.get(key))?.as_str()?.parse().ok()
}

fn uuids_at<'a>(data: &'a Value, key: &str) -> impl Iterator<Item = Uuid> + 'a {
    data.get(key).and_then(Value::as_array).into_iter().flatten().filter_map(|id| id.as_str()?.parse().ok())
}

impl Stale {
    /// What `event_type` (`catalog.{aggregate}.{action}`) with this `data` makes stale; `Err`
    /// names what the event lacks to say it.
    pub fn of(event_type: &str, aggregate_id: Option<Uuid>, data: &Value) -> Result<Stale, &'static str> {
        let mut stale = Stale::default();
        let mut parts = event_type.strip_prefix("catalog.").unwrap_or(event_type).split('.');
        let (aggregate, rest) = (parts.next().unwrap_or_default(), parts.collect::<Vec<_>>());
        match (aggregate, rest.as_slice()) {
            // A new recipe changes the explosion of the variants it is for, cached without it.
            ("recipe", _) => stale.explosions = true,
            // A new entity has nothing cached; its links to others come as their own events.
            (_, ["created"]) if aggregate != "variant" => {}
            // Page 22's image events and the product's own: `data.product_id` names the
            // product (the aggregate id is the image's on image events), `variant_ids` the
            // variants its status reaches; a variant's image changes the variant's card.
            ("product", action) => {
                let product = uuid_at(data, &["product_id"])
                    .or(aggregate_id.filter(|_| action.len() == 1))
                    .ok_or("product event without product_id")?;
                stale.products.insert(ProductId(product));
                stale.explosions = reaches_explosions(action, data);
                let named: Vec<Uuid> = uuids_at(data, "variant_ids").collect();
                stale.variants.extend(named.iter().copied().map(VariantId));
                // Before variant ids were named (events of an older release): look them up.
                if action.len() == 1 && data.get("variant_ids").is_none() {
                    stale.products_with_their_variants.insert(ProductId(product));
                }
            }
            ("variant", action) => {
                let variant = uuid_at(data, &["variant_id"])
                    .or(aggregate_id.filter(|_| action.first() != Some(&"image")))
                    .ok_or("variant event without variant_id")?;
                match uuid_at(data, &["product_id"]).or_else(|| uuid_at(data, &["variant", "product_id"])) {
                    Some(product) => {
                        stale.products.insert(ProductId(product));
                    }
                    None => {
                        stale.variants_with_their_product.insert(VariantId(variant));
                    }
                }
                stale.variants.insert(VariantId(variant));
                stale.explosions = reaches_explosions(action, data);
            }
            // `catalog.image.*`: the names before page 22's, still in outboxes and queues
            // written by an older release during a rolling upgrade.
            ("image", _) => match (data.get("kind").and_then(Value::as_str), uuid_at(data, &["owner_id"])) {
                (Some("product"), Some(owner)) => {
                    stale.products.insert(ProductId(owner));
                }
                (Some("variant"), Some(owner)) => {
                    stale.variants.insert(VariantId(owner));
                    stale.variants_with_their_product.insert(VariantId(owner));
                }
                _ => return Err("image event without kind/owner_id"),
            },
            // Price tiers are not cached.
            ("price_tier", _) => {}
            // Membership: the products that joined or left embed the collection.
            ("collection", ["products", _]) => {
                stale.products.extend(uuids_at(data, "product_ids").map(ProductId));
            }
            ("collection", ["updated" | "deleted"]) if data.get("changes").is_none() => {
                for key in ["added_product_ids", "removed_product_ids"] {
                    stale.products.extend(uuids_at(data, key).map(ProductId));
                }
            }
            // Brands, tags, collections and options are embedded in the details of possibly
            // many products; an unknown kind is treated the same, to be safe.
            _ => stale.organization = true,
        }
        Ok(stale)
    }

    pub fn merge(&mut self, other: Stale) {
        self.products.extend(other.products);
        self.variants.extend(other.variants);
        self.products_with_their_variants.extend(other.products_with_their_variants);
        self.variants_with_their_product.extend(other.variants_with_their_product);
        self.organization |= other.organization;
        self.explosions |= other.explosions;
    }

    pub fn is_empty(&self) -> bool {
        *self == Stale::default()
    }
}

tokio::task_local! {
    /// What the writes of the current [`collect`] appended, per organization.
    static APPENDED: RefCell<Vec<(OrganizationId, Stale)>>;
}

/// Runs `write` and returns, beside its output, what the events it appended to the outbox make
/// stale. Events of a write that rolled back are included: dropping an entry for nothing only
/// costs a cache miss.
pub async fn collect<F: Future>(write: F) -> (F::Output, Vec<(OrganizationId, Stale)>) {
    APPENDED
        .scope(RefCell::new(Vec::new()), async {
            let output = write.await;
            (output, APPENDED.with(RefCell::take))
        })
        .await
}

/// Called by the outbox for each event it appends; nothing happens outside [`collect`].
pub(crate) fn record(org: OrganizationId, stale: Stale) {
    let _outside_collect = APPENDED.try_with(|appended| {
        let mut appended = appended.borrow_mut();
        match appended.iter_mut().find(|(seen, _)| *seen == org) {
            Some((_, known)) => known.merge(stale),
            None => appended.push((org, stale)),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id() -> Uuid {
        Uuid::now_v7()
    }

    #[test]
    fn a_product_change_reaches_the_variants_it_names() {
        let (product, variant) = (id(), id());
        let data = json!({ "product_id": product, "variant_ids": [variant], "changes": {} });
        let stale = Stale::of("catalog.product.deactivated", Some(product), &data).unwrap();
        assert_eq!(stale.products, BTreeSet::from([ProductId(product)]));
        assert_eq!(stale.variants, BTreeSet::from([VariantId(variant)]));
        assert!(stale.products_with_their_variants.is_empty() && !stale.organization);
    }

    #[test]
    fn an_older_product_event_without_variant_ids_looks_them_up() {
        let product = id();
        let stale = Stale::of("catalog.product.updated", Some(product), &json!({ "product_id": product })).unwrap();
        assert_eq!(stale.products_with_their_variants, BTreeSet::from([ProductId(product)]));
    }

    #[test]
    fn a_variant_image_event_names_the_variant_not_the_image() {
        let (image, variant, product) = (id(), id(), id());
        let data = json!({ "image_id": image, "variant_id": variant, "product_id": product });
        let stale = Stale::of("catalog.variant.image.created", Some(image), &data).unwrap();
        assert_eq!(stale.variants, BTreeSet::from([VariantId(variant)]));
        assert_eq!(stale.products, BTreeSet::from([ProductId(product)]));
        let data = json!({ "image_id": image, "product_id": product });
        let stale = Stale::of("catalog.product.image.deleted", Some(image), &data).unwrap();
        assert_eq!(stale.products, BTreeSet::from([ProductId(product)]));
        assert!(Stale::of("catalog.variant.image.deleted", Some(image), &json!({})).is_err());
    }

    #[test]
    fn embedded_entities_reach_the_organization_and_new_ones_nothing() {
        let brand = id();
        let changed = json!({ "brand_id": brand, "changes": { "name": { "old": "a", "new": "b" } } });
        assert!(Stale::of("catalog.brand.updated", Some(brand), &changed).unwrap().organization);
        assert!(Stale::of("catalog.tag.deleted", Some(brand), &json!({})).unwrap().organization);
        assert!(Stale::of("catalog.brand.created", Some(brand), &json!({})).unwrap().is_empty());
        assert!(Stale::of("catalog.price_tier.updated", Some(brand), &json!({})).unwrap().is_empty());
    }

    #[test]
    fn membership_reaches_only_the_products_that_moved() {
        let (collection, joined, left) = (id(), id(), id());
        let data = json!({ "collection_id": collection, "added_product_ids": [joined], "removed_product_ids": [left] });
        let stale = Stale::of("catalog.collection.updated", Some(collection), &data).unwrap();
        assert_eq!(stale.products, BTreeSet::from([ProductId(joined), ProductId(left)]));
        assert!(!stale.organization);
        let renamed = json!({ "collection_id": collection, "changes": { "name": {} } });
        assert!(Stale::of("catalog.collection.updated", Some(collection), &renamed).unwrap().organization);
    }

    #[test]
    fn recipes_units_and_deletions_reach_the_explosions_and_prices_do_not() {
        let (recipe, product, variant) = (id(), id(), id());
        for kind in ["created", "updated", "deleted"] {
            let stale = Stale::of(&format!("catalog.recipe.{kind}"), Some(recipe), &json!({})).unwrap();
            assert_eq!(stale, Stale { explosions: true, ..Stale::default() }, "recipe.{kind}");
        }
        let unit = json!({ "product_id": product, "variant_ids": [], "changes": { "unit_of_measure": {} } });
        assert!(Stale::of("catalog.product.updated", Some(product), &unit).unwrap().explosions);
        let gone = json!({ "variant_id": variant, "product_id": product });
        assert!(Stale::of("catalog.variant.deleted", Some(variant), &gone).unwrap().explosions);
        let price = json!({ "variant_id": variant, "product_id": product, "changes": { "price": {} } });
        assert!(!Stale::of("catalog.variant.updated", Some(variant), &price).unwrap().explosions);
        let title = json!({ "product_id": product, "variant_ids": [], "changes": { "title": {} } });
        assert!(!Stale::of("catalog.product.updated", Some(product), &title).unwrap().explosions);
    }

    #[tokio::test]
    async fn collect_gathers_what_was_recorded_inside_it_per_organization() {
        let (org, product) = (OrganizationId(id()), ProductId(id()));
        record(org, Stale { organization: true, ..Stale::default() });
        let ((), appended) = collect(async {
            record(org, Stale { products: BTreeSet::from([product]), ..Stale::default() });
            record(org, Stale { organization: true, ..Stale::default() });
        })
        .await;
        let expected = Stale { products: BTreeSet::from([product]), organization: true, ..Stale::default() };
        assert_eq!(appended, vec![(org, expected)]);
    }
}
