use crate::ids::{OrganizationId, ProductId, VariantId, WarehouseId};
use crate::schema::product_variants;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;
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

#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = product_variants)]
pub struct VariantChanges {
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
