//! Every event the catalog publishes, defined once: each constructor here fixes an event's
//! routing key (`catalog.{aggregate}.{action}`) and its typed payload, flat fields under the
//! names and types the design pages and the peers' handlers read (page 05;
//! `peers/inventory-service_15`), money as JSON numbers. Repositories append what these
//! return and build no payload of their own ([`EventDraft`] has no public constructor), so a
//! payload cannot drift from its contract: the worker's consumer-contract tests hold each one
//! to [`crate::asyncapi::PUBLISHED`], and the cache entries an event makes stale are read from
//! it ([`crate::stale`]). The row an event comes from stays beside the documented fields,
//! under the aggregate's name, for the consumers written against it.

use super::recipes::RecipeWithIngredients;
use crate::ids::{
    BrandId, CollectionId, ImageId, LocalId, OptionId, OptionValueId, PriceTierId, PriceTierRuleId, ProductId,
    RecipeId, TagId, VariantId, WarehouseId,
};
use crate::models::{
    ActiveStatus, Actor, Brand, Collection, OptionValue as OptionValueRow, PriceTier, PriceTierRule, Product,
    ProductOption, ProductStatus, Recipe, RecipeIngredient, Tag, Variant,
};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::{Map, Value};
use uuid::Uuid;

/// What a write wants published: `catalog.{aggregate}.{action}` plus its data. Made only by
/// this module's constructors.
#[derive(Debug, Clone)]
pub struct EventDraft {
    /// `product`, `variant`, `brand`, `price_tier`, `product.image`, ...
    pub(super) aggregate: &'static str,
    /// `created`, `updated`, `deleted`, `activated`, `tags.added`, ...
    pub(super) action: &'static str,
    pub(super) aggregate_id: Uuid,
    /// The entity's `version` after the change (consumers drop stale copies with it).
    pub(super) aggregate_version: i32,
    pub(super) data: Value,
}

impl EventDraft {
    /// Serializing the payload types cannot fail (no maps with non-string keys, no non-finite
    /// floats: money comes from decimals).
    fn new<T: Serialize>(
        aggregate: &'static str,
        action: &'static str,
        id: impl Into<Uuid>,
        version: i32,
        payload: &T,
    ) -> Self {
        let data = serde_json::to_value(payload).unwrap_or(Value::Null);
        Self { aggregate, action, aggregate_id: id.into(), aggregate_version: version, data }
    }

    /// The routing key.
    pub fn event_type(&self) -> String {
        format!("catalog.{}.{}", self.aggregate, self.action)
    }
}

/// The catalog's versioned entities: their `updated` and `deleted` events share one shape,
/// `{"{aggregate}_id": id, "changes": {field: {old, new}}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    Product,
    Variant,
    Brand,
    Collection,
    Tag,
    ProductOption,
    PriceTier,
}

impl Aggregate {
    pub const fn name(self) -> &'static str {
        match self {
            Aggregate::Product => "product",
            Aggregate::Variant => "variant",
            Aggregate::Brand => "brand",
            Aggregate::Collection => "collection",
            Aggregate::Tag => "tag",
            Aggregate::ProductOption => "option",
            Aggregate::PriceTier => "price_tier",
        }
    }

    /// The payload's key for the entity's id (`product_id`, ...).
    const fn id_field(self) -> &'static str {
        match self {
            Aggregate::Product => "product_id",
            Aggregate::Variant => "variant_id",
            Aggregate::Brand => "brand_id",
            Aggregate::Collection => "collection_id",
            Aggregate::Tag => "tag_id",
            Aggregate::ProductOption => "option_id",
            Aggregate::PriceTier => "price_tier_id",
        }
    }
}

/// `data.changes` of an `*.updated` event: `{field: {old, new}}` ([`super::changed_fields`]).
pub type Changes = Map<String, Value>;

/// One field's change, for writes that change a single known field.
pub fn change<T: Serialize>(field: &str, old: T, new: T) -> Changes {
    let mut changes = Changes::new();
    changes.insert(field.to_string(), serde_json::json!({ "old": old, "new": new }));
    changes
}

/// `{"{aggregate}_id": id}`, the field every event of an aggregate starts with.
#[derive(Debug, Clone, Copy)]
struct Subject {
    aggregate: Aggregate,
    id: Uuid,
}

impl Serialize for Subject {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(self.aggregate.id_field(), &self.id)?;
        map.end()
    }
}

/// `catalog.{aggregate}.updated`.
#[derive(Debug, Serialize)]
struct Updated<'a> {
    #[serde(flatten)]
    subject: Subject,
    changes: &'a Changes,
}

/// `catalog.{aggregate}.updated` with the changed fields; nothing to publish when none did.
pub fn updated(aggregate: Aggregate, id: impl Into<Uuid>, version: i32, changes: &Changes) -> EventDraft {
    let id = id.into();
    EventDraft::new(aggregate.name(), "updated", id, version, &Updated { subject: Subject { aggregate, id }, changes })
}

/// A product's change: `catalog.product.activated` / `deactivated` when its status turned
/// active / inactive (page 05: one event per version; POS and Inventory react to them),
/// else `catalog.product.updated` (archiving is an ordinary update).
pub fn product_changed(
    id: ProductId,
    version: i32,
    old: ProductStatus,
    new: ProductStatus,
    changes: &Changes,
) -> EventDraft {
    let action = match new {
        ProductStatus::Active if old != new => "activated",
        ProductStatus::Inactive if old != new => "deactivated",
        _ => "updated",
    };
    let subject = Subject { aggregate: Aggregate::Product, id: id.as_uuid() };
    EventDraft::new("product", action, id, version, &Updated { subject, changes })
}

/// `catalog.{brand|tag|option}.deleted`.
pub fn deleted(aggregate: Aggregate, id: impl Into<Uuid>, version: i32) -> EventDraft {
    let id = id.into();
    EventDraft::new(aggregate.name(), "deleted", id, version, &Subject { aggregate, id })
}

/// `catalog.product.deleted` (page 05), naming the variants deleted with it.
#[derive(Debug, Serialize)]
struct ProductDeleted<'a> {
    product_id: ProductId,
    variant_ids: &'a [VariantId],
}

pub fn product_deleted(id: ProductId, version: i32, variant_ids: &[VariantId]) -> EventDraft {
    EventDraft::new("product", "deleted", id, version, &ProductDeleted { product_id: id, variant_ids })
}

/// `catalog.variant.deleted` (page 05).
#[derive(Debug, Serialize)]
struct VariantDeleted {
    variant_id: VariantId,
    product_id: ProductId,
}

pub fn variant_deleted(id: VariantId, product_id: ProductId, version: i32) -> EventDraft {
    EventDraft::new("variant", "deleted", id, version, &VariantDeleted { variant_id: id, product_id })
}

/// `catalog.variant.stock_updated` (page 00): the variant's stock crossed its alert level or
/// ran out (either way); `previous` is the state before.
pub fn variant_stock_updated(
    variant: &crate::models::Variant,
    alert_threshold: i32,
    before: &crate::stock::VariantStock,
    after: &crate::stock::VariantStock,
) -> EventDraft {
    use crate::stock::quantity_json;
    let data = serde_json::json!({
        "variant_id": variant.id,
        "product_id": variant.product_id,
        "sku": variant.sku,
        "stock_total": quantity_json(after.total),
        "stock_available": quantity_json(after.available),
        "alert_threshold": alert_threshold,
        "below_alert": after.below(alert_threshold),
        "out_of_stock": after.is_out(),
        "previous": {
            "stock_total": quantity_json(before.total),
            "stock_available": quantity_json(before.available),
            "below_alert": before.below(alert_threshold),
            "out_of_stock": before.is_out(),
        },
        "last_stock_update": after.last_update,
    });
    EventDraft {
        aggregate: "variant",
        action: "stock_updated",
        aggregate_id: variant.id.into(),
        aggregate_version: variant.version,
        data,
    }
}

/// `catalog.collection.deleted` (page 19), with the products it held.
#[derive(Debug, Serialize)]
struct CollectionDeleted<'a> {
    collection_id: CollectionId,
    removed_product_ids: &'a [ProductId],
}

pub fn collection_deleted(id: CollectionId, version: i32, removed_product_ids: &[ProductId]) -> EventDraft {
    EventDraft::new("collection", "deleted", id, version, &CollectionDeleted { collection_id: id, removed_product_ids })
}

/// `catalog.price_tier.deleted`, with the variants whose rules went with it.
#[derive(Debug, Serialize)]
struct PriceTierDeleted<'a> {
    price_tier_id: PriceTierId,
    variant_ids: &'a [VariantId],
}

pub fn price_tier_deleted(id: PriceTierId, version: i32, variant_ids: &[VariantId]) -> EventDraft {
    EventDraft::new("price_tier", "deleted", id, version, &PriceTierDeleted { price_tier_id: id, variant_ids })
}

/// `catalog.option.updated` for a change of its values: the value texts before and after, and
/// the value changed when there is one.
#[derive(Debug, Serialize)]
struct OptionValuesChanged {
    option_id: OptionId,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_id: Option<OptionValueId>,
    changes: Changes,
}

pub fn option_values_changed(
    id: OptionId,
    value_id: Option<OptionValueId>,
    version: i32,
    old: &[&str],
    new: &[&str],
) -> EventDraft {
    let payload = OptionValuesChanged { option_id: id, value_id, changes: change("values", old, new) };
    EventDraft::new("option", "updated", id, version, &payload)
}

/// One of a variant's option values, as `options[]` of `catalog.variant.created`.
#[derive(Debug, Serialize)]
struct OptionValue<'a> {
    option_name: &'a str,
    value: &'a str,
}

/// `catalog.variant.created`: what Inventory initializes stock records from.
#[derive(Debug, Serialize)]
struct VariantCreated<'a> {
    variant_id: VariantId,
    product_id: ProductId,
    sku: &'a str,
    barcode: Option<&'a str>,
    /// The variant's own title, else its SKU (the product's name is in `catalog.product.*`).
    name: &'a str,
    price: Option<f64>,
    cost_price: Option<f64>,
    warehouse_id: Option<WarehouseId>,
    options: Vec<OptionValue<'a>>,
    /// The first option value, as page 10 shows it.
    option_value: Option<&'a str>,
    is_active: bool,
    track_inventory: bool,
    default_min_stock: i32,
    default_max_stock: i32,
    variant: &'a Variant,
}

/// Money leaves the service as a JSON number, as every page shows it (peers do arithmetic on it).
pub fn money(amount: Decimal) -> Option<f64> {
    amount.to_f64()
}

/// `catalog.product.created` (page 05, page 09).
#[derive(Debug, Serialize)]
struct ProductCreated<'a> {
    product_id: ProductId,
    name: &'a str,
    sku: &'a str,
    description: Option<&'a str>,
    /// No category column: the product's type is the nearest thing (page 05 shows `"Ropa"`).
    category: Option<&'a str>,
    /// The simple product's price (its default variant's); `null` for one with variants.
    base_price: Option<f64>,
    is_active: bool,
    brand_id: Option<BrandId>,
    local_id: Option<LocalId>,
    product: &'a Product,
}

pub fn product_created(product: &Product, base_price: Option<Decimal>) -> EventDraft {
    let payload = ProductCreated {
        product_id: product.id,
        name: &product.title,
        sku: &product.sku,
        description: product.description.as_deref(),
        category: product.product_type.as_deref(),
        base_price: base_price.and_then(money),
        is_active: product.status == ProductStatus::Active,
        brand_id: product.brand_id,
        local_id: product.local_id,
        product,
    };
    EventDraft::new("product", "created", product.id, product.version, &payload)
}

/// `catalog.brand.created` (page 18).
#[derive(Debug, Serialize)]
struct BrandCreated<'a> {
    brand_id: BrandId,
    name: &'a str,
    slug: &'a str,
    is_active: bool,
    brand: &'a Brand,
}

pub fn brand_created(brand: &Brand) -> EventDraft {
    let payload = BrandCreated {
        brand_id: brand.id,
        name: &brand.name,
        slug: &brand.slug,
        is_active: brand.status == ActiveStatus::Active,
        brand,
    };
    EventDraft::new("brand", "created", brand.id, brand.version, &payload)
}

/// `catalog.collection.created` (page 19).
#[derive(Debug, Serialize)]
struct CollectionCreated<'a> {
    collection_id: CollectionId,
    parent_id: Option<CollectionId>,
    name: &'a str,
    slug: &'a str,
    is_active: bool,
    collection: &'a Collection,
}

pub fn collection_created(collection: &Collection) -> EventDraft {
    let payload = CollectionCreated {
        collection_id: collection.id,
        parent_id: collection.parent_id,
        name: &collection.name,
        slug: &collection.slug,
        is_active: collection.status == ActiveStatus::Active,
        collection,
    };
    EventDraft::new("collection", "created", collection.id, collection.version, &payload)
}

/// `catalog.tag.created` (page 20).
#[derive(Debug, Serialize)]
struct TagCreated<'a> {
    tag_id: TagId,
    name: &'a str,
    slug: &'a str,
    #[serde(rename = "type")]
    tag_type: &'a str,
    tag: &'a Tag,
}

pub fn tag_created(tag: &Tag) -> EventDraft {
    let payload = TagCreated { tag_id: tag.id, name: &tag.name, slug: &tag.slug, tag_type: tag.tag_type.as_str(), tag };
    EventDraft::new("tag", "created", tag.id, tag.version, &payload)
}

/// `catalog.price_tier.created` (page 21).
#[derive(Debug, Serialize)]
struct PriceTierCreated<'a> {
    price_tier_id: PriceTierId,
    name: &'a str,
    slug: &'a str,
    priority: i32,
    is_active: bool,
    price_tier: &'a PriceTier,
}

pub fn price_tier_created(tier: &PriceTier) -> EventDraft {
    let payload = PriceTierCreated {
        price_tier_id: tier.id,
        name: &tier.name,
        slug: &tier.slug,
        priority: tier.priority,
        is_active: tier.is_active,
        price_tier: tier,
    };
    EventDraft::new("price_tier", "created", tier.id, tier.version, &payload)
}

/// `catalog.option.created` (page 05): `values` are the values' texts; the rows stay as
/// `option_values`.
#[derive(Debug, Serialize)]
struct OptionCreated<'a> {
    option_id: OptionId,
    name: &'a str,
    values: Vec<&'a str>,
    option: &'a ProductOption,
    option_values: &'a [OptionValueRow],
}

pub fn option_created(option: &ProductOption, values: &[OptionValueRow]) -> EventDraft {
    let payload = OptionCreated {
        option_id: option.id,
        name: &option.name,
        values: values.iter().map(|v| v.value.as_str()).collect(),
        option,
        option_values: values,
    };
    EventDraft::new("option", "created", option.id, option.version, &payload)
}

pub fn variant_created(variant: &Variant) -> EventDraft {
    let options: Vec<OptionValue> = variant
        .attributes
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(option_name, value)| Some(OptionValue { option_name, value: value.as_str()? }))
        .collect();
    let payload = VariantCreated {
        variant_id: variant.id,
        product_id: variant.product_id,
        sku: &variant.sku,
        barcode: variant.barcode.as_deref(),
        name: variant.title.as_deref().filter(|t| !t.is_empty()).unwrap_or(&variant.sku),
        price: money(variant.sale_price),
        cost_price: variant.cost_price.and_then(money),
        warehouse_id: variant.warehouse_id,
        option_value: options.first().map(|o| o.value),
        options,
        is_active: variant.is_active,
        track_inventory: variant.track_inventory,
        default_min_stock: variant.default_min_stock,
        default_max_stock: variant.default_max_stock,
        variant,
    };
    EventDraft::new("variant", "created", variant.id, variant.version, &payload)
}

/// `changes` keys the pages name differently from the columns: `(aggregate, column, documented
/// name, conversion)`. The column's own key stays beside the documented one.
const DOCUMENTED_CHANGES: &[(&str, &str, &str, Convert)] = &[
    ("product", "title", "name", Convert::Same),
    ("product", "status", "is_active", Convert::IsActive),
    ("variant", "title", "name", Convert::Same),
    ("variant", "sale_price", "price", Convert::Money),
    ("variant", "cost_price", "cost_price", Convert::Money),
    ("variant", "compare_at_price", "compare_at_price", Convert::Money),
    ("brand", "status", "is_active", Convert::IsActive),
    ("collection", "status", "is_active", Convert::IsActive),
];

#[derive(Debug, Clone, Copy)]
enum Convert {
    Same,
    /// A decimal string becomes a JSON number.
    Money,
    /// A status becomes whether it is `active`.
    IsActive,
}

impl Convert {
    fn apply(self, value: &Value) -> Value {
        match (self, value) {
            (Convert::Money, Value::String(text)) => {
                text.parse::<Decimal>().ok().and_then(money).map_or(Value::Null, Value::from)
            }
            (Convert::IsActive, Value::String(status)) => Value::Bool(status == "active"),
            _ => value.clone(),
        }
    }
}

/// Actions whose documented payloads say who (`{action}_by`) and when (`{action}_at`).
const ACTIONS_WITH_ACTOR: &[&str] = &["created", "updated", "deleted", "activated", "deactivated"];

/// What every payload of a kind adds under the pages' names, whichever write produced it: who
/// and when (`{action}_by`/`{action}_at`; the user is `null` for the system's own changes),
/// `changes` under the documented keys (money as numbers), and the flags page 05, 09, 10 and
/// Inventory's example show on deletes (`soft_delete`, `deletion_type`, `variant_id`, which POS
/// and Pricing read on `catalog.product.deleted`).
pub fn document(draft: &EventDraft, actor: &Actor, timestamp: &str, data: &mut serde_json::Map<String, Value>) {
    let (aggregate, action) = (draft.aggregate, draft.action);
    // `rule.created` says who as `created_by` too (Audit reads it on every `*.created`).
    let verb = action.rsplit('.').next().unwrap_or(action);
    if ACTIONS_WITH_ACTOR.contains(&verb) {
        data.entry(format!("{verb}_by")).or_insert_with(|| serde_json::json!(actor.user_id));
        data.entry(format!("{verb}_at")).or_insert_with(|| Value::from(timestamp));
    }
    if let Some(Value::Object(changes)) = data.get_mut("changes") {
        for (_, column, name, convert) in DOCUMENTED_CHANGES.iter().filter(|(a, ..)| *a == aggregate) {
            let Some(Value::Object(change)) = changes.get(*column) else { continue };
            let documented: serde_json::Map<String, Value> =
                change.iter().map(|(side, value)| (side.clone(), convert.apply(value))).collect();
            changes.insert((*name).to_string(), Value::Object(documented));
        }
    }
    if action == "deleted" && matches!(aggregate, "product" | "variant" | "brand") {
        data.entry("soft_delete").or_insert(Value::Bool(true));
    }
    match (aggregate, action) {
        ("variant", "deleted") => {
            data.entry("deletion_type").or_insert_with(|| Value::from("soft"));
        }
        ("product", "deactivated") => {
            data.entry("reason").or_insert(Value::Null);
        }
        ("product", "deleted") => {
            let first = data.get("variant_ids").and_then(|ids| ids.get(0)).cloned().unwrap_or(Value::Null);
            data.entry("variant_id").or_insert(first);
            data.entry("reason").or_insert(Value::Null);
        }
        _ => {}
    }
}

/// `catalog.variant.updated` (page 05, page 10): the changes, and the variant's stock settings as
/// they now are (Inventory re-runs its set-up when `track_inventory` turns on).
#[derive(Debug, Serialize)]
struct VariantUpdated<'a> {
    variant_id: VariantId,
    product_id: ProductId,
    changes: &'a Changes,
    track_inventory: bool,
    default_min_stock: i32,
    default_max_stock: i32,
}

/// `catalog.variant.updated`, and `catalog.variant.price.changed` (page 10, same version) when
/// the sale price changed.
pub fn variant_updated(old: &Variant, new: &Variant, changes: &Changes) -> Vec<EventDraft> {
    let payload = VariantUpdated {
        variant_id: new.id,
        product_id: new.product_id,
        changes,
        track_inventory: new.track_inventory,
        default_min_stock: new.default_min_stock,
        default_max_stock: new.default_max_stock,
    };
    let mut drafts = vec![EventDraft::new("variant", "updated", new.id, new.version, &payload)];
    if old.sale_price != new.sale_price {
        drafts.push(EventDraft::new("variant", "price.changed", new.id, new.version, &PriceChanged::of(old, new)));
    }
    drafts
}

/// `catalog.variant.price.changed` (page 10).
#[derive(Debug, Serialize)]
struct PriceChanged {
    variant_id: VariantId,
    product_id: ProductId,
    old_price: Option<f64>,
    new_price: Option<f64>,
    /// Signed, 2 decimals; `null` from a zero price.
    change_percentage: Option<f64>,
}

impl PriceChanged {
    fn of(old: &Variant, new: &Variant) -> Self {
        let change = (!old.sale_price.is_zero()).then(|| {
            ((new.sale_price - old.sale_price) / old.sale_price * Decimal::ONE_HUNDRED)
                .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
        });
        Self {
            variant_id: new.id,
            product_id: new.product_id,
            old_price: money(old.sale_price),
            new_price: money(new.sale_price),
            change_percentage: change.and_then(money),
        }
    }
}

/// `catalog.product.tags.added` / `tags.removed` (page 20).
#[derive(Debug, Serialize)]
struct ProductTagsChanged<'a> {
    product_id: ProductId,
    /// The tags added (removed).
    tag_ids: &'a [TagId],
    /// How many the product has now.
    tags_count: usize,
}

/// `catalog.product.tags.added` (page 20) and, by the same pattern, `catalog.product.tags.removed`;
/// published beside the product's `updated` (`changes.tag_ids`), same version.
pub fn product_tags_changed(product_id: ProductId, version: i32, old: &[TagId], new: &[TagId]) -> Vec<EventDraft> {
    let added: Vec<TagId> = new.iter().filter(|t| !old.contains(t)).copied().collect();
    let removed: Vec<TagId> = old.iter().filter(|t| !new.contains(t)).copied().collect();
    [("tags.added", added), ("tags.removed", removed)]
        .into_iter()
        .filter(|(_, tags)| !tags.is_empty())
        .map(|(action, tag_ids)| {
            let payload = ProductTagsChanged { product_id, tag_ids: &tag_ids, tags_count: new.len() };
            EventDraft::new("product", action, product_id, version, &payload)
        })
        .collect()
}

/// `catalog.collection.updated` for a membership change (no `changes`: the products added and
/// removed instead).
#[derive(Debug, Serialize)]
struct MembershipChanged<'a> {
    collection_id: CollectionId,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    added_product_ids: &'a [ProductId],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    removed_product_ids: &'a [ProductId],
}

/// `catalog.collection.products.added` / `products.removed` (page 19).
#[derive(Debug, Serialize)]
struct CollectionProductsChanged<'a> {
    collection_id: CollectionId,
    product_ids: &'a [ProductId],
    /// How many products the collection holds now.
    products_count: i64,
}

/// A collection's membership change: its `updated`, then page 19's
/// `catalog.collection.products.added` and, by the same pattern, `products.removed`; one version.
pub fn collection_products_changed(
    collection_id: CollectionId,
    version: i32,
    added: &[ProductId],
    removed: &[ProductId],
    products_count: i64,
) -> Vec<EventDraft> {
    let membership = MembershipChanged { collection_id, added_product_ids: added, removed_product_ids: removed };
    let updated = EventDraft::new("collection", "updated", collection_id, version, &membership);
    let finer = [("products.added", added), ("products.removed", removed)]
        .into_iter()
        .filter(|(_, products)| !products.is_empty())
        .map(|(action, product_ids)| {
            let payload = CollectionProductsChanged { collection_id, product_ids, products_count };
            EventDraft::new("collection", action, collection_id, version, &payload)
        });
    std::iter::once(updated).chain(finer).collect()
}

/// What happened to one of a price tier's quantity rules.
#[derive(Debug, Clone, Copy)]
pub enum RuleChange<'a> {
    Created(&'a PriceTierRule),
    /// The rule as it now is, and what changed.
    Updated(&'a PriceTierRule, &'a Changes),
    Deleted(&'a PriceTierRule),
}

/// `catalog.price_tier.updated` for a rule change: the rule's variant, and the rule under
/// `rule_added` / `rule_deleted`, or its changes under `rule_updated`.
#[derive(Debug, Serialize)]
struct TierRuleChanged<'a> {
    price_tier_id: PriceTierId,
    variant_id: VariantId,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_added: Option<&'a PriceTierRule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_updated: Option<RuleUpdated<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_deleted: Option<&'a PriceTierRule>,
}

#[derive(Debug, Serialize)]
struct RuleUpdated<'a> {
    rule_id: PriceTierRuleId,
    changes: &'a Changes,
}

/// `catalog.price_tier.rule.{created|updated|deleted}` (page 21).
#[derive(Debug, Serialize)]
struct RuleEvent<'a> {
    rule_id: PriceTierRuleId,
    price_tier_id: PriceTierId,
    variant_id: VariantId,
    min_qty: i32,
    price: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    changes: Option<&'a Changes>,
}

/// A rule change: the tier's `updated` (its version bumped to `tier_version`), then page 21's
/// `catalog.price_tier.rule.created` / `rule.updated` / `rule.deleted`, same version.
pub fn price_tier_rule_changed(tier_version: i32, change: RuleChange<'_>) -> Vec<EventDraft> {
    let (rule, action, changes) = match change {
        RuleChange::Created(rule) => (rule, "rule.created", None),
        RuleChange::Updated(rule, changes) => (rule, "rule.updated", Some(changes)),
        RuleChange::Deleted(rule) => (rule, "rule.deleted", None),
    };
    let tier = TierRuleChanged {
        price_tier_id: rule.price_tier_id,
        variant_id: rule.variant_id,
        rule_added: matches!(change, RuleChange::Created(_)).then_some(rule),
        rule_updated: changes.map(|changes| RuleUpdated { rule_id: rule.id, changes }),
        rule_deleted: matches!(change, RuleChange::Deleted(_)).then_some(rule),
    };
    let event = RuleEvent {
        rule_id: rule.id,
        price_tier_id: rule.price_tier_id,
        variant_id: rule.variant_id,
        min_qty: rule.min_qty,
        price: money(rule.price),
        changes,
    };
    vec![
        EventDraft::new("price_tier", "updated", rule.price_tier_id, tier_version, &tier),
        EventDraft::new("price_tier", action, rule.price_tier_id, tier_version, &event),
    ]
}

/// Whose image an event is about: a product's, or a variant's (with the variant's product, which
/// every image event of page 22 names).
#[derive(Debug, Clone, Copy)]
pub struct ImageOwner {
    pub product_id: ProductId,
    pub variant_id: Option<VariantId>,
}

impl ImageOwner {
    pub fn product(product_id: ProductId) -> Self {
        Self { product_id, variant_id: None }
    }

    pub fn variant(variant_id: VariantId, product_id: ProductId) -> Self {
        Self { product_id, variant_id: Some(variant_id) }
    }

    fn kind(self) -> &'static str {
        if self.variant_id.is_some() { "variant" } else { "product" }
    }

    /// The owner's own id (the product's or the variant's).
    pub fn id(self) -> uuid::Uuid {
        self.variant_id.map_or(self.product_id.as_uuid(), |variant| variant.as_uuid())
    }
}

/// The fields every image event of page 22 starts with. `kind` and `owner_id` are the names the
/// service used before the pages' routing keys, kept for consumers written against them.
#[derive(Debug, Serialize)]
struct ImageSubject {
    product_id: ProductId,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant_id: Option<VariantId>,
    kind: &'static str,
    owner_id: uuid::Uuid,
}

impl From<ImageOwner> for ImageSubject {
    fn from(owner: ImageOwner) -> Self {
        Self { product_id: owner.product_id, variant_id: owner.variant_id, kind: owner.kind(), owner_id: owner.id() }
    }
}

/// `catalog.{product|variant}.image.{created|updated|deleted}` (page 22).
#[derive(Debug, Serialize)]
struct ImageEvent<'a> {
    image_id: ImageId,
    #[serde(flatten)]
    subject: ImageSubject,
    #[serde(flatten)]
    details: ImageDetails<'a>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum ImageDetails<'a> {
    Created {
        url: &'a str,
        alt_text: Option<&'a str>,
        position: i32,
        is_primary: bool,
        image: &'a Value,
    },
    Updated {
        changes: &'a Changes,
    },
    /// `storage_keys`: an uploaded image's files, which the worker deletes once the event is
    /// relayed (absent for an image by URL).
    Deleted {
        #[serde(skip_serializing_if = "<[String]>::is_empty")]
        storage_keys: &'a [String],
    },
}

fn image_event(owner: ImageOwner, action: &'static str, image_id: ImageId, details: ImageDetails<'_>) -> EventDraft {
    let aggregate = if owner.variant_id.is_some() { "variant.image" } else { "product.image" };
    let payload = ImageEvent { image_id, subject: owner.into(), details };
    EventDraft::new(aggregate, action, image_id, crate::repo::images::IMAGE_EVENT_VERSION, &payload)
}

/// A new image; `row` is the stored image as the API answers it.
pub fn image_created(owner: ImageOwner, image_id: ImageId, row: &Value) -> EventDraft {
    let text = |field: &str| row.get(field).and_then(Value::as_str);
    let details = ImageDetails::Created {
        url: text("url").unwrap_or_default(),
        alt_text: text("alt"),
        position: row.get("position").and_then(Value::as_i64).and_then(|p| i32::try_from(p).ok()).unwrap_or(0),
        is_primary: row.get("is_primary").and_then(Value::as_bool).unwrap_or(false),
        image: row,
    };
    image_event(owner, "created", image_id, details)
}

/// `changes` as `{field: {old, new}}`.
pub fn image_updated(owner: ImageOwner, image_id: ImageId, changes: &Changes) -> EventDraft {
    image_event(owner, "updated", image_id, ImageDetails::Updated { changes })
}

/// A removed image; `storage_keys`: its files (uploaded images), for the worker to delete.
pub fn image_deleted(owner: ImageOwner, image_id: ImageId, storage_keys: &[String]) -> EventDraft {
    image_event(owner, "deleted", image_id, ImageDetails::Deleted { storage_keys })
}

/// `catalog.{product|variant}.images.reordered` (page 14): about the owner's set of images, so
/// its aggregate is the owner (`product.images` / `variant.images`, apart from the owner's own
/// versioned events).
#[derive(Debug, Serialize)]
struct ImagesReordered<'a> {
    #[serde(flatten)]
    subject: ImageSubject,
    image_ids: &'a [ImageId],
    /// Page 09's name for the order sent.
    image_order: &'a [ImageId],
    reordered_count: usize,
}

pub fn images_reordered(owner: ImageOwner, ordered: &[ImageId]) -> EventDraft {
    let aggregate = if owner.variant_id.is_some() { "variant.images" } else { "product.images" };
    let payload = ImagesReordered {
        subject: owner.into(),
        image_ids: ordered,
        image_order: ordered,
        reordered_count: ordered.len(),
    };
    EventDraft::new(aggregate, "reordered", owner.id(), crate::repo::images::IMAGE_EVENT_VERSION, &payload)
}

/// An ingredient line as recipe events show it.
#[derive(Debug, Serialize)]
struct IngredientLine<'a> {
    ingredient_variant_id: VariantId,
    quantity: Option<f64>,
    unit: &'a str,
    is_optional: bool,
    waste_percentage: Option<f64>,
}

fn ingredient_lines(lines: &[RecipeIngredient]) -> Vec<IngredientLine<'_>> {
    lines
        .iter()
        .map(|line| IngredientLine {
            ingredient_variant_id: line.ingredient_variant_id,
            quantity: money(line.quantity),
            unit: &line.unit,
            is_optional: line.is_optional,
            waste_percentage: money(line.waste_percentage),
        })
        .collect()
}

/// `catalog.recipe.created` (issue 17): the recipe and its ingredient lines, numbers as JSON
/// numbers.
#[derive(Debug, Serialize)]
struct RecipeEvent<'a> {
    recipe_id: RecipeId,
    product_id: ProductId,
    variant_id: Option<VariantId>,
    name: Option<&'a str>,
    yield_quantity: Option<f64>,
    is_active: bool,
    ingredients: Vec<IngredientLine<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    changes: Option<Changes>,
}

impl<'a> RecipeEvent<'a> {
    fn of(written: &'a RecipeWithIngredients) -> Self {
        let recipe = &written.recipe;
        Self {
            recipe_id: recipe.id,
            product_id: recipe.product_id,
            variant_id: recipe.variant_id,
            name: recipe.name.as_deref(),
            yield_quantity: money(recipe.yield_quantity),
            is_active: recipe.is_active,
            ingredients: ingredient_lines(&written.ingredients),
            changes: None,
        }
    }
}

pub fn recipe_created(written: &RecipeWithIngredients) -> EventDraft {
    let recipe = &written.recipe;
    EventDraft::new("recipe", "created", recipe.id, recipe.version, &RecipeEvent::of(written))
}

/// `catalog.recipe.updated`: the recipe as it now is, and `changes.ingredients` before and after.
pub fn recipe_updated(written: &RecipeWithIngredients, before: &[RecipeIngredient]) -> EventDraft {
    let recipe = &written.recipe;
    let mut payload = RecipeEvent::of(written);
    payload.changes = Some(change("ingredients", ingredient_lines(before), ingredient_lines(&written.ingredients)));
    EventDraft::new("recipe", "updated", recipe.id, recipe.version, &payload)
}

/// `catalog.recipe.deleted`.
#[derive(Debug, Serialize)]
struct RecipeDeleted {
    recipe_id: RecipeId,
    product_id: ProductId,
    variant_id: Option<VariantId>,
}

pub fn recipe_deleted(recipe: &Recipe) -> EventDraft {
    let payload = RecipeDeleted { recipe_id: recipe.id, product_id: recipe.product_id, variant_id: recipe.variant_id };
    EventDraft::new("recipe", "deleted", recipe.id, recipe.version + 1, &payload)
}
