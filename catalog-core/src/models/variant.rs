use crate::ids::{OrganizationId, ProductId, VariantId, WarehouseId};
use crate::schema::product_variants;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize, Deserialize, utoipa::ToSchema)]
#[diesel(table_name = product_variants, check_for_backend(diesel::pg::Pg))]
pub struct Variant {
    pub id: VariantId,
    pub organization_id: OrganizationId,
    pub product_id: ProductId,
    pub title: Option<String>,
    pub sku: String,
    pub barcode: Option<String>,
    pub sale_price: Decimal,
    pub cost_price: Option<Decimal>,
    pub compare_at_price: Option<Decimal>,
    /// Percent, e.g. 19.00.
    pub tax_rate: Decimal,
    /// Kilograms.
    pub weight: Option<Decimal>,
    /// Centimetres.
    pub dim_length: Option<Decimal>,
    pub dim_width: Option<Decimal>,
    pub dim_height: Option<Decimal>,
    pub lot_number: Option<String>,
    pub vendor: Option<String>,
    pub warehouse_id: Option<WarehouseId>,
    pub track_inventory: bool,
    pub default_min_stock: i32,
    pub default_max_stock: i32,
    /// Option name → value, e.g. {"Color": "Rojo", "Talla": "M"}.
    #[schema(value_type = Object)]
    pub attributes: serde_json::Value,
    pub option_signature: Option<String>,
    pub position: i32,
    pub is_active: bool,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
    pub deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = product_variants)]
pub struct NewVariant {
    pub id: VariantId,
    pub organization_id: OrganizationId,
    pub product_id: ProductId,
    pub title: Option<String>,
    pub sku: String,
    pub barcode: Option<String>,
    pub sale_price: Decimal,
    pub cost_price: Option<Decimal>,
    pub compare_at_price: Option<Decimal>,
    pub tax_rate: Decimal,
    pub weight: Option<Decimal>,
    pub dim_length: Option<Decimal>,
    pub dim_width: Option<Decimal>,
    pub dim_height: Option<Decimal>,
    pub lot_number: Option<String>,
    pub vendor: Option<String>,
    pub warehouse_id: Option<WarehouseId>,
    pub track_inventory: bool,
    pub default_min_stock: i32,
    pub default_max_stock: i32,
    pub attributes: serde_json::Value,
    pub option_signature: Option<String>,
    pub position: i32,
    pub is_active: bool,
    pub metadata: serde_json::Value,
}

super::changeset::changeset! {
    #[derive(Debug, Clone, Default, AsChangeset)]
    #[diesel(table_name = product_variants)]
    pub struct VariantChanges for Variant {
        pub title: Option<Option<String>>,
        pub sku: Option<String>,
        pub barcode: Option<Option<String>>,
        pub sale_price: Option<Decimal>,
        pub cost_price: Option<Option<Decimal>>,
        pub compare_at_price: Option<Option<Decimal>>,
        pub tax_rate: Option<Decimal>,
        pub weight: Option<Option<Decimal>>,
        pub dim_length: Option<Option<Decimal>>,
        pub dim_width: Option<Option<Decimal>>,
        pub dim_height: Option<Option<Decimal>>,
        pub lot_number: Option<Option<String>>,
        pub vendor: Option<Option<String>>,
        pub warehouse_id: Option<Option<WarehouseId>>,
        pub track_inventory: Option<bool>,
        pub default_min_stock: Option<i32>,
        pub default_max_stock: Option<i32>,
        pub attributes: Option<serde_json::Value>,
        pub option_signature: Option<Option<String>>,
        pub position: Option<i32>,
        pub is_active: Option<bool>,
        pub metadata: Option<serde_json::Value>,
    }
}

/// Decimal places of the amount columns (`numeric(p, s)`), which PostgreSQL rounds to.
pub const MONEY_SCALE: u32 = 2;
pub const TAX_RATE_SCALE: u32 = 2;
pub const WEIGHT_SCALE: u32 = 3;
pub const DIMENSION_SCALE: u32 = 2;

/// `value` as a column of `scale` places stores it: rounded half away from zero, as PostgreSQL
/// does, and written with exactly `scale` places, as it reads back.
pub fn at_scale(value: Decimal, scale: u32) -> Decimal {
    let mut stored = value.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero);
    stored.rescale(scale);
    stored
}

impl VariantChanges {
    /// The changes as the columns will store them, so that what they would make of a row
    /// compares exactly with the row read back (10 and 10.00 are one price).
    pub fn at_column_scale(mut self) -> Self {
        let scaled = |value: Option<Decimal>, scale| value.map(|v| at_scale(v, scale));
        let scaled_optional = |value: Option<Option<Decimal>>, scale| value.map(|v| v.map(|v| at_scale(v, scale)));
        self.sale_price = scaled(self.sale_price, MONEY_SCALE);
        self.cost_price = scaled_optional(self.cost_price, MONEY_SCALE);
        self.compare_at_price = scaled_optional(self.compare_at_price, MONEY_SCALE);
        self.tax_rate = scaled(self.tax_rate, TAX_RATE_SCALE);
        self.weight = scaled_optional(self.weight, WEIGHT_SCALE);
        self.dim_length = scaled_optional(self.dim_length, DIMENSION_SCALE);
        self.dim_width = scaled_optional(self.dim_width, DIMENSION_SCALE);
        self.dim_height = scaled_optional(self.dim_height, DIMENSION_SCALE);
        self
    }
}

impl NewVariant {
    /// An active variant with the SPEC's defaults (track inventory, min 10, max 1000, no tax).
    pub fn new(sku: impl Into<String>, sale_price: Decimal) -> Self {
        Self {
            id: VariantId::generate(),
            // Both stamped by the repository.
            organization_id: OrganizationId(uuid::Uuid::nil()),
            product_id: ProductId(uuid::Uuid::nil()),
            title: None,
            sku: sku.into(),
            barcode: None,
            sale_price,
            cost_price: None,
            compare_at_price: None,
            tax_rate: Decimal::ZERO,
            weight: None,
            dim_length: None,
            dim_width: None,
            dim_height: None,
            lot_number: None,
            vendor: None,
            warehouse_id: None,
            track_inventory: true,
            default_min_stock: 10,
            default_max_stock: 1000,
            attributes: serde_json::json!({}),
            option_signature: None,
            position: 0,
            is_active: true,
            metadata: serde_json::json!({}),
        }
    }
}

/// The writable fields of a stored variant, to compare or validate what a change would make of it.
impl From<&Variant> for NewVariant {
    fn from(v: &Variant) -> Self {
        Self {
            id: v.id,
            organization_id: v.organization_id,
            product_id: v.product_id,
            title: v.title.clone(),
            sku: v.sku.clone(),
            barcode: v.barcode.clone(),
            sale_price: v.sale_price,
            cost_price: v.cost_price,
            compare_at_price: v.compare_at_price,
            tax_rate: v.tax_rate,
            weight: v.weight,
            dim_length: v.dim_length,
            dim_width: v.dim_width,
            dim_height: v.dim_height,
            lot_number: v.lot_number.clone(),
            vendor: v.vendor.clone(),
            warehouse_id: v.warehouse_id,
            track_inventory: v.track_inventory,
            default_min_stock: v.default_min_stock,
            default_max_stock: v.default_max_stock,
            attributes: v.attributes.clone(),
            option_signature: v.option_signature.clone(),
            position: v.position,
            is_active: v.is_active,
            metadata: v.metadata.clone(),
        }
    }
}
