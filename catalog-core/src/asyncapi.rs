//! The AsyncAPI 3.0 document of the events the catalog publishes and consumes, generated from
//! [`PUBLISHED`] and [`CONSUMED`]: one row per routing key with the fields its `data` carries.
//! The worker's tests hold every event the real API and relay produce to these rows (an
//! unlisted routing key, a missing field or a wrong type fails them), so the document cannot
//! drift from what is sent; CI validates it with the AsyncAPI project's own parser.

use crate::config::RabbitSettings;
use crate::repo::outbox::{ENVELOPE_VERSION, SERVICE_NAME};
use serde_json::{Map, Value, json};

/// A field of an event's `data`: its name and JSON type (`string`, `integer`, `number`,
/// `boolean`, `object`, `array`), with `?` when it may be `null` and a leading `~` when only
/// some events of the kind carry it (a collection's `updated` names `changes` or the products
/// that joined and left).
pub type Field = (&'static str, &'static str);

/// One routing key: what it means and what its `data` carries (field groups, in order).
#[derive(Debug, Clone, Copy)]
pub struct EventKind {
    pub key: &'static str,
    pub summary: &'static str,
    groups: &'static [&'static [Field]],
}

impl EventKind {
    pub fn fields(&self) -> impl Iterator<Item = &'static Field> {
        self.groups.iter().flat_map(|group| group.iter())
    }
}

const ORG: &[Field] = &[("organization_id", "string")];
/// Who and when, under the action's names (`repo::published::document`; `null`: the system).
const CREATED: &[Field] = &[("created_by", "string?"), ("created_at", "string")];
const UPDATED: &[Field] = &[("updated_by", "string?"), ("updated_at", "string")];
const DELETED: &[Field] = &[("deleted_by", "string?"), ("deleted_at", "string")];
const IMAGE: &[Field] = &[("image_id", "string"), ("product_id", "string"), ("kind", "string"), ("owner_id", "string")];
const OF_VARIANT: &[Field] = &[("variant_id", "string")];
/// An uploaded image's files (absent for an image by URL); the worker deletes them.
const IMAGE_FILES: &[Field] = &[("storage_keys", "~array")];
/// What product events add for consumers keyed by variant (POS): the product's live variants.
const OF_PRODUCT_VARIANTS: &[Field] = &[("variant_ids", "array"), ("variant_id", "string?")];
const IMAGE_ADDED: &[Field] = &[
    ("url", "string"),
    ("alt_text", "string?"),
    ("position", "integer"),
    ("is_primary", "boolean"),
    ("image", "object"),
];
const REORDERED: &[Field] = &[
    ("product_id", "string"),
    ("kind", "string"),
    ("owner_id", "string"),
    ("image_ids", "array"),
    ("image_order", "array"),
    ("reordered_count", "integer"),
];
const RULE: &[Field] = &[
    ("rule_id", "string"),
    ("price_tier_id", "string"),
    ("variant_id", "string?"),
    ("min_qty", "integer"),
    ("price", "number?"),
];
const CHANGES: &[Field] = &[("changes", "object")];
const RECIPE: &[Field] = &[
    ("recipe_id", "string"),
    ("product_id", "string"),
    ("variant_id", "string?"),
    ("name", "string?"),
    ("yield_quantity", "number?"),
    ("is_active", "boolean"),
    ("ingredients", "array"),
];

macro_rules! kind {
    ($key:literal, $summary:literal, [$($group:expr),* $(,)?]) => {
        EventKind { key: $key, summary: $summary, groups: &[ORG, $($group),*] }
    };
}

/// Every routing key the catalog publishes, with its documented `data` (pages 05, 09–22).
#[rustfmt::skip]
pub const PUBLISHED: &[EventKind] = &[
    kind!("catalog.product.created", "A product was created (page 05).", [&[
        ("product_id", "string"), ("name", "string"), ("sku", "string"), ("description", "string?"),
        ("category", "string?"), ("base_price", "number?"), ("is_active", "boolean"), ("brand_id", "string?"),
        ("local_id", "string?"), ("product", "object"),
    ], CREATED]),
    kind!("catalog.product.updated", "A product's fields changed: `changes` as `{field: {old, new}}` (page 05).",
        [&[("product_id", "string"), ("changes", "object"), ("variant_ids", "array"), ("variant_id", "string?")], UPDATED]),
    kind!("catalog.product.activated", "A product became active (page 05).", [&[
        ("product_id", "string"), ("changes", "object"), ("variant_ids", "array"), ("variant_id", "string?"),
        ("activated_by", "string?"), ("activated_at", "string"),
    ]]),
    kind!("catalog.product.deactivated", "A product became inactive: not sellable (page 05).", [&[
        ("product_id", "string"), ("changes", "object"), ("variant_ids", "array"), ("variant_id", "string?"),
        ("reason", "string?"), ("deactivated_by", "string?"), ("deactivated_at", "string"),
    ]]),
    kind!("catalog.product.deleted", "A product and its variants were deleted (soft) (page 05).", [&[
        ("product_id", "string"), ("variant_ids", "array"), ("variant_id", "string?"), ("soft_delete", "boolean"),
        ("reason", "string?"),
    ], DELETED]),
    kind!("catalog.product.tags.added", "Tags were added to a product (page 20).",
        [&[("product_id", "string"), ("tag_ids", "array"), ("tags_count", "integer")], OF_PRODUCT_VARIANTS]),
    kind!("catalog.product.tags.removed", "Tags were removed from a product (page 20).",
        [&[("product_id", "string"), ("tag_ids", "array"), ("tags_count", "integer")], OF_PRODUCT_VARIANTS]),
    kind!("catalog.variant.created", "A variant was created: Inventory initializes its stock records (page 05).", [&[
        ("variant_id", "string"), ("product_id", "string"), ("sku", "string"), ("barcode", "string?"),
        ("name", "string"), ("price", "number?"), ("cost_price", "number?"), ("warehouse_id", "string?"),
        ("options", "array"), ("option_value", "string?"), ("is_active", "boolean"), ("track_inventory", "boolean"),
        ("default_min_stock", "integer"), ("default_max_stock", "integer"), ("variant", "object"),
    ], CREATED]),
    kind!("catalog.variant.updated", "A variant's fields changed, with its stock settings as they now are (page 05).", [&[
        ("variant_id", "string"), ("product_id", "string"), ("changes", "object"), ("track_inventory", "boolean"),
        ("default_min_stock", "integer"), ("default_max_stock", "integer"),
    ], UPDATED]),
    kind!("catalog.variant.price.changed", "A variant's sale price changed (page 10).", [&[
        ("variant_id", "string"), ("product_id", "string"), ("old_price", "number?"), ("new_price", "number?"),
        ("change_percentage", "number?"),
    ]]),
    kind!("catalog.variant.deleted", "A variant was deleted (soft) (page 05).", [&[
        ("variant_id", "string"), ("product_id", "string"), ("soft_delete", "boolean"), ("deletion_type", "string"),
    ], DELETED]),
    kind!("catalog.variant.stock_updated", "A variant's stock, as Inventory reported it, crossed its alert level \
        (its product's `alert_stock`) or ran out, either way (page 00); not sent on every movement.", [&[
        ("variant_id", "string"), ("product_id", "string"), ("sku", "string"), ("stock_total", "number"),
        ("stock_available", "number"), ("alert_threshold", "number"), ("below_alert", "boolean"),
        ("out_of_stock", "boolean"), ("previous", "object"), ("last_stock_update", "string"),
    ]]),
    kind!("catalog.brand.created", "A brand was created (page 18).", [&[
        ("brand_id", "string"), ("name", "string"), ("slug", "string"), ("is_active", "boolean"), ("brand", "object"),
    ], CREATED]),
    kind!("catalog.brand.updated", "A brand's fields changed (page 18).", [&[("brand_id", "string")], CHANGES, UPDATED]),
    kind!("catalog.brand.deleted", "A brand was deleted (page 18).",
        [&[("brand_id", "string"), ("soft_delete", "boolean")], DELETED]),
    kind!("catalog.collection.created", "A collection was created (page 19).", [&[
        ("collection_id", "string"), ("parent_id", "string?"), ("name", "string"), ("slug", "string"),
        ("is_active", "boolean"), ("collection", "object"),
    ], CREATED]),
    kind!("catalog.collection.updated", "A collection's fields (`changes`) or membership (the products that joined \
        and left) changed (page 19).", [&[
        ("collection_id", "string"), ("changes", "~object"), ("added_product_ids", "~array"),
        ("removed_product_ids", "~array"),
    ], UPDATED]),
    kind!("catalog.collection.deleted", "A collection was deleted, with the products it held (page 19).",
        [&[("collection_id", "string"), ("removed_product_ids", "array")], DELETED]),
    kind!("catalog.collection.products.added", "Products joined a collection (page 19).",
        [&[("collection_id", "string"), ("product_ids", "array"), ("products_count", "integer")]]),
    kind!("catalog.collection.products.removed", "Products left a collection (page 19).",
        [&[("collection_id", "string"), ("product_ids", "array"), ("products_count", "integer")]]),
    kind!("catalog.tag.created", "A tag was created (page 20).", [&[
        ("tag_id", "string"), ("name", "string"), ("slug", "string"), ("type", "string"), ("tag", "object"),
    ], CREATED]),
    kind!("catalog.tag.updated", "A tag's fields changed (page 20).", [&[("tag_id", "string")], CHANGES, UPDATED]),
    kind!("catalog.tag.deleted", "A tag was deleted (page 20).", [&[("tag_id", "string")], DELETED]),
    kind!("catalog.option.created", "An option (Color, Talla) was created with its values (page 05).", [&[
        ("option_id", "string"), ("name", "string"), ("values", "array"), ("option", "object"),
        ("option_values", "array"),
    ], CREATED]),
    kind!("catalog.option.updated", "An option or its values changed (`changes.values`, and `value_id` when one \
        value did) (page 05).", [&[("option_id", "string"), ("value_id", "~string")], CHANGES, UPDATED]),
    kind!("catalog.option.deleted", "An option was deleted (page 05).", [&[("option_id", "string")], DELETED]),
    kind!("catalog.price_tier.created", "A price tier was created (page 21).", [&[
        ("price_tier_id", "string"), ("name", "string"), ("slug", "string"), ("priority", "integer"),
        ("is_active", "boolean"), ("price_tier", "object"),
    ], CREATED]),
    kind!("catalog.price_tier.updated", "A price tier's fields (`changes`) or one of its rules (the rule's \
        variant, and `rule_added`, `rule_updated` or `rule_deleted`) changed (page 21).", [&[
        ("price_tier_id", "string"), ("changes", "~object"), ("variant_id", "~string"), ("rule_added", "~object"),
        ("rule_updated", "~object"), ("rule_deleted", "~object"),
    ], UPDATED]),
    kind!("catalog.price_tier.deleted", "A price tier was deleted, with the variants its rules priced (page 21).",
        [&[("price_tier_id", "string"), ("variant_ids", "array")], DELETED]),
    kind!("catalog.price_tier.rule.created", "A quantity rule was added to a price tier (page 21).", [RULE, CREATED]),
    kind!("catalog.price_tier.rule.updated", "A price tier's quantity rule changed (page 21).", [RULE, CHANGES, UPDATED]),
    kind!("catalog.price_tier.rule.deleted", "A price tier's quantity rule was removed (page 21).", [RULE, DELETED]),
    kind!("catalog.product.image.created", "An image was added to a product (page 22).", [IMAGE, IMAGE_ADDED, CREATED]),
    kind!("catalog.product.image.updated", "A product image changed (page 22).", [IMAGE, CHANGES, UPDATED]),
    kind!("catalog.product.image.deleted", "A product image was removed (page 22).", [IMAGE, DELETED, IMAGE_FILES]),
    kind!("catalog.product.images.reordered", "A product's images were reordered; the first is the primary (page 14).",
        [REORDERED]),
    kind!("catalog.variant.image.created", "An image was added to a variant (page 22).",
        [IMAGE, OF_VARIANT, IMAGE_ADDED, CREATED]),
    kind!("catalog.variant.image.updated", "A variant image changed (page 22).", [IMAGE, OF_VARIANT, CHANGES, UPDATED]),
    kind!(
        "catalog.variant.image.deleted",
        "A variant image was removed (page 22).",
        [IMAGE, OF_VARIANT, DELETED, IMAGE_FILES]
    ),
    kind!("catalog.variant.images.reordered", "A variant's images were reordered (page 14).", [REORDERED, OF_VARIANT]),
    kind!("catalog.recipe.created", "A product's recipe (bill of materials) was created (page 03).", [RECIPE, CREATED]),
    kind!("catalog.recipe.updated", "A recipe's ingredients changed: `changes.ingredients` before and after (page 03).",
        [RECIPE, CHANGES, UPDATED]),
    kind!("catalog.recipe.deleted", "A recipe was deleted (page 03).",
        [&[("recipe_id", "string"), ("product_id", "string"), ("variant_id", "string?")], DELETED]),
];

/// Every routing key the worker consumes and applies, with the `data` fields its handler needs
/// (the peers' pages show more; `organization_id` may sit at the top level or in `data`).
pub const CONSUMED: &[EventKind] = &[
    EventKind {
        key: "auth.user.deactivated",
        summary: "Auth deactivated a user: their tokens are refused at once (peers/auth-service_05).",
        groups: &[&[("user_id", "string")]],
    },
    EventKind {
        key: "auth.local.created",
        summary: "Auth created a local (a store, a warehouse): products may be assigned to it (page 06).",
        groups: &[&[("local_id", "string")]],
    },
    EventKind {
        key: "auth.local.updated",
        summary: "Auth changed a local; `changes.is_active.new: false` retires it like a delete (page 06).",
        groups: &[&[("local_id", "string")]],
    },
    EventKind {
        key: "auth.local.deleted",
        summary: "Auth deleted a local: products can no longer be assigned to it (404 LOCAL_NOT_FOUND) (page 06).",
        groups: &[&[("local_id", "string")]],
    },
    EventKind {
        key: "auth.organization.suspended",
        summary: "Auth suspended an organization: its REST calls answer 403 ORGANIZATION_SUSPENDED and its \
                  variants validate as inactive until reactivated or `suspension_end_date` (page 06).",
        groups: &[],
    },
    EventKind {
        key: "auth.organization.reactivated",
        summary: "Auth lifted an organization's suspension (also `unsuspended`, `activated`).",
        groups: &[],
    },
    EventKind {
        key: "auth.organization.deactivated",
        summary: "Auth deactivated an organization for good: its requests are refused (page 06).",
        groups: &[],
    },
    EventKind {
        key: "pricing.price.updated",
        summary: "Pricing changed a variant's price: its cached price and validation are dropped \
                  (peers/pricing-service_07).",
        groups: &[&[("variant_id", "string")]],
    },
    EventKind {
        key: "inventory.stock.updated",
        summary: "Inventory reports a variant's quantities in a warehouse: the stock read model takes them \
                  unless it holds a newer report (envelope `timestamp`) (peers/inventory-service_14).",
        groups: &[&[("variant_id", "string"), ("warehouse_id", "string"), ("quantities", "object")]],
    },
    EventKind {
        key: "inventory.stock.depleted",
        summary: "Inventory reports a variant out of stock in a warehouse: its quantities become 0 \
                  (peers/inventory-service_14).",
        groups: &[&[("variant_id", "string"), ("warehouse_id", "string")]],
    },
    EventKind {
        key: "inventory.stock.low_level",
        summary: "Bound as Inventory's page binds the catalog's queue; acknowledged without effect (the \
                  quantities come with `inventory.stock.updated`).",
        groups: &[],
    },
    EventKind {
        key: "inventory.warehouse.created",
        summary: "Inventory created a warehouse: its name and code for the stock answers.",
        groups: &[&[("warehouse_id", "string")]],
    },
    EventKind {
        key: "inventory.warehouse.updated",
        summary: "Inventory changed a warehouse (`changes.name`, `changes.code`).",
        groups: &[&[("warehouse_id", "string")]],
    },
    EventKind {
        key: "inventory.warehouse.deactivated",
        summary: "Inventory deactivated a warehouse.",
        groups: &[&[("warehouse_id", "string")]],
    },
];

/// The kind of a published routing key.
pub fn published(key: &str) -> Option<&'static EventKind> {
    PUBLISHED.iter().find(|kind| kind.key == key)
}

/// Whether `value` has the JSON type `spec` names (`string?`: a string or `null`).
pub fn holds(spec: &str, value: &Value) -> bool {
    let spec = spec.trim_start_matches('~');
    let (kind, nullable) = spec.strip_suffix('?').map_or((spec, false), |kind| (kind, true));
    (nullable && value.is_null())
        || match kind {
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "object" => value.is_object(),
            "array" => value.is_array(),
            _ => false,
        }
}

/// The fields of `kind` that `data` lacks or holds with another type, and the fields it holds
/// that `kind` does not document: the document describes every field sent.
pub fn mismatches(kind: &EventKind, data: &Value) -> Vec<String> {
    let fits = |name: &str, spec: &str| match data.get(name) {
        Some(value) => holds(spec, value),
        None => spec.starts_with('~'),
    };
    let wrong = kind.fields().filter(|(name, spec)| !fits(name, spec)).map(|(name, spec)| {
        let found = data.get(name).map_or_else(|| "absent".to_string(), Value::to_string);
        format!("data.{name} should be {spec}, is {found}")
    });
    let undocumented = data
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(name, _)| !kind.fields().any(|(documented, _)| documented == name))
        .map(|(name, value)| format!("data.{name} is sent ({value}) but not documented"));
    wrong.chain(undocumented).collect()
}

fn field_schema(spec: &str) -> Value {
    let spec = spec.trim_start_matches('~');
    match spec.strip_suffix('?') {
        Some(kind) => json!({ "type": [kind, "null"] }),
        None => json!({ "type": spec }),
    }
}

fn data_schema(kind: &EventKind) -> Value {
    let properties: Map<String, Value> =
        kind.fields().map(|(name, spec)| ((*name).to_string(), field_schema(spec))).collect();
    let required: Vec<&str> = kind.fields().filter(|(_, spec)| !spec.starts_with('~')).map(|(name, _)| *name).collect();
    json!({ "type": "object", "properties": properties, "required": required })
}

/// `catalog.product.created` → `catalog_product_created` (AsyncAPI keys are `[A-Za-z0-9_.-]`
/// but tools read dots as paths).
fn id(key: &str) -> String {
    key.replace('.', "_")
}

/// The document for this deployment's exchanges.
pub fn for_settings(rabbitmq: &RabbitSettings) -> Value {
    let peers = [rabbitmq.auth_exchange_name(), rabbitmq.pricing_exchange_name(), rabbitmq.inventory_exchange_name()];
    document(&rabbitmq.exchange, &peers)
}

/// The document, for the exchange the catalog publishes to and those it consumes from.
/// `peers`: the Auth, Pricing and Inventory exchanges.
fn document(catalog_exchange: &str, peers: &[String; 3]) -> Value {
    let [auth_exchange, pricing_exchange, inventory_exchange] = peers;
    let mut channels = Map::new();
    let mut operations = Map::new();
    let mut messages = Map::new();
    let sides = [("send", "publish", PUBLISHED, "CatalogEnvelope"), ("receive", "consume", CONSUMED, "PeerEnvelope")];
    for (action, verb, kinds, envelope) in sides {
        for kind in kinds {
            let id = id(kind.key);
            let exchange = match kind.key.split('.').next() {
                Some("auth") => auth_exchange,
                Some("pricing") => pricing_exchange,
                Some("inventory") => inventory_exchange,
                _ => catalog_exchange,
            };
            channels.insert(
                id.clone(),
                json!({
                    "address": kind.key,
                    "description": kind.summary,
                    "messages": { &id: { "$ref": format!("#/components/messages/{id}") } },
                    "bindings": { "amqp": {
                        "is": "routingKey",
                        "exchange": { "name": exchange, "type": "topic", "durable": true, "autoDelete": false, "vhost": "/" },
                        "bindingVersion": "0.3.0",
                    } },
                }),
            );
            operations.insert(
                format!("{verb}_{id}"),
                json!({
                    "action": action,
                    "channel": { "$ref": format!("#/channels/{id}") },
                    "messages": [{ "$ref": format!("#/channels/{id}/messages/{id}") }],
                }),
            );
            messages.insert(
                id.clone(),
                json!({
                    "name": kind.key,
                    "title": kind.key,
                    "summary": kind.summary,
                    "contentType": "application/json",
                    "payload": { "allOf": [
                        { "$ref": format!("#/components/schemas/{envelope}") },
                        { "type": "object", "properties": { "data": data_schema(kind) } },
                    ] },
                }),
            );
        }
    }
    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "Catalog Service events",
            "version": ENVELOPE_VERSION,
            "description": "What the catalog publishes to its topic exchange (written in the transaction of the \
                change, relayed at least once in commit order per aggregate; consumers drop duplicates by \
                `event_id` and stale copies by `aggregate_version`), and the peers' events it consumes \
                (deduplicated by `event_id`, else the AMQP message id, else a digest of the body).",
        },
        "defaultContentType": "application/json",
        "servers": {
            "rabbitmq": { "host": "rabbitmq:5672", "protocol": "amqp", "protocolVersion": "0.9.1" },
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": { "CatalogEnvelope": catalog_envelope(), "PeerEnvelope": peer_envelope() },
        },
    })
}

/// What every published event carries around its `data` (SPEC §6, page 05).
fn catalog_envelope() -> Value {
    json!({
        "type": "object",
        "required": ["event_id", "event", "event_type", "timestamp", "service", "version", "organization_id",
                     "aggregate_id", "aggregate_version", "data", "metadata"],
        "properties": {
            "event_id": { "type": "string", "format": "uuid", "description": "Unique per event: the consumers' deduplication key." },
            "event": { "type": "string", "description": "The routing key." },
            "event_type": { "type": "string", "description": "The routing key again, for consumers written against SPEC.md." },
            "timestamp": { "type": "string", "format": "date-time" },
            "service": { "const": SERVICE_NAME },
            "version": { "const": ENVELOPE_VERSION },
            "organization_id": { "type": "string", "format": "uuid" },
            "aggregate_id": { "type": "string", "format": "uuid" },
            "aggregate_version": { "type": "integer", "description": "The entity's version after the change: drop older copies." },
            "data": { "type": "object" },
            "metadata": {
                "type": "object",
                "properties": {
                    "user_id": { "type": ["string", "null"] },
                    "correlation_id": { "type": ["string", "null"] },
                    "traceparent": { "type": "string", "description": "W3C trace context of the write, when it was part of a trace (also in the AMQP headers)." },
                    "tracestate": { "type": "string" },
                },
            },
        },
    })
}

/// What the worker accepts from peers: either documented envelope shape, ids optional.
fn peer_envelope() -> Value {
    json!({
        "type": "object",
        "anyOf": [{ "required": ["event"] }, { "required": ["event_type"] }],
        "properties": {
            "event": { "type": "string" },
            "event_type": { "type": "string" },
            "event_id": { "type": "string", "description": "Optional: without it the AMQP message id, else a SHA-256 of the body, deduplicates." },
            "organization_id": { "type": "string", "description": "Here or inside `data`." },
            "timestamp": { "type": "string" },
            "data": { "type": "object" },
            "payload": { "type": "object", "description": "Another name for `data`." },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_listed_once_with_typed_fields() {
        let keys: Vec<&str> = PUBLISHED.iter().chain(CONSUMED).map(|kind| kind.key).collect();
        let unique: std::collections::BTreeSet<&str> = keys.iter().copied().collect();
        assert_eq!(unique.len(), keys.len(), "a routing key listed twice");
        for kind in PUBLISHED.iter().chain(CONSUMED) {
            for (name, spec) in kind.fields() {
                assert!(field_schema(spec)["type"].is_string() || spec.ends_with('?'), "{}: {name}", kind.key);
                let sample = match spec.trim_start_matches('~').trim_end_matches('?') {
                    "string" => json!("x"),
                    "integer" => json!(1),
                    "number" => json!(1.5),
                    "boolean" => json!(true),
                    "object" => json!({}),
                    "array" => json!([]),
                    other => panic!("{}: {name} has an unknown type {other}", kind.key),
                };
                assert!(holds(spec, &sample));
            }
        }
    }

    #[test]
    fn a_missing_or_mistyped_field_is_named() {
        let kind = published("catalog.variant.price.changed").expect("listed");
        let data = json!({
            "organization_id": "o", "variant_id": "v", "product_id": 5, "old_price": null, "new_price": 2.0,
            "currency": "EUR",
        });
        assert_eq!(
            mismatches(kind, &data),
            [
                "data.product_id should be string, is 5",
                "data.change_percentage should be number?, is absent",
                "data.currency is sent (\"EUR\") but not documented",
            ]
        );
    }

    #[test]
    fn a_field_some_events_carry_may_be_absent_but_not_mistyped() {
        let kind = published("catalog.collection.updated").expect("listed");
        let mut data = json!({
            "organization_id": "o", "collection_id": "c", "added_product_ids": ["p"], "updated_by": null,
            "updated_at": "t",
        });
        assert!(mismatches(kind, &data).is_empty(), "{:?}", mismatches(kind, &data));
        data["changes"] = json!([]);
        assert_eq!(mismatches(kind, &data), ["data.changes should be ~object, is []"]);
        assert!(!data_schema(kind)["required"].as_array().expect("required").contains(&json!("changes")));
    }
}
