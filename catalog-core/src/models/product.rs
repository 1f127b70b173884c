use super::text_enum::text_enum;
use crate::ids::{BrandId, LocalId, OrganizationId, ProductId};
use crate::schema::products;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

text_enum!(
    /// `activa | inactiva | archivada` are the seed's Spanish spellings, accepted on input.
    ProductStatus { Active = "active" | "activa", Inactive = "inactive" | "inactiva", Archived = "archived" | "archivada" }
);

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize, Deserialize, utoipa::ToSchema)]
#[diesel(table_name = products, check_for_backend(diesel::pg::Pg))]
pub struct Product {
    pub id: ProductId,
    pub organization_id: OrganizationId,
    pub local_id: Option<LocalId>,
    pub brand_id: Option<BrandId>,
    pub title: String,
    pub slug: String,
    pub sku: String,
    pub barcode: Option<String>,
    pub description: Option<String>,
    pub status: ProductStatus,
    pub product_type: Option<String>,
    pub unit_of_measure: String,
    pub alert_stock: i32,
    pub has_variants: bool,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
    pub deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Insertable, Serialize)]
#[diesel(table_name = products)]
pub struct NewProduct {
    pub id: ProductId,
    pub organization_id: OrganizationId,
    pub local_id: Option<LocalId>,
    pub brand_id: Option<BrandId>,
    pub title: String,
    pub slug: String,
    pub sku: String,
    pub barcode: Option<String>,
    pub description: Option<String>,
    pub status: ProductStatus,
    pub product_type: Option<String>,
    pub unit_of_measure: String,
    pub alert_stock: i32,
    pub has_variants: bool,
    pub metadata: serde_json::Value,
}

super::changeset::changeset! {
    #[derive(Debug, Clone, Default, AsChangeset)]
    #[diesel(table_name = products)]
    pub struct ProductChanges for Product {
        pub local_id: Option<Option<LocalId>>,
        pub brand_id: Option<Option<BrandId>>,
        pub title: Option<String>,
        pub slug: Option<String>,
        pub sku: Option<String>,
        pub barcode: Option<Option<String>>,
        pub description: Option<Option<String>>,
        pub status: Option<ProductStatus>,
        pub product_type: Option<Option<String>>,
        pub unit_of_measure: Option<String>,
        pub alert_stock: Option<i32>,
        pub has_variants: Option<bool>,
        pub metadata: Option<serde_json::Value>,
    }
}

impl NewProduct {
    /// An active simple product with the SPEC's defaults (unit of measure `unit`, no brand,
    /// slug generated from the title by the repository).
    pub fn new(title: impl Into<String>, sku: impl Into<String>) -> Self {
        Self {
            id: ProductId::generate(),
            // Stamped with the caller's organization by the repository.
            organization_id: OrganizationId(uuid::Uuid::nil()),
            local_id: None,
            brand_id: None,
            title: title.into(),
            slug: String::new(),
            sku: sku.into(),
            barcode: None,
            description: None,
            status: ProductStatus::Active,
            product_type: None,
            unit_of_measure: "unit".into(),
            alert_stock: 0,
            has_variants: false,
            metadata: serde_json::json!({}),
        }
    }
}

/// The writable fields of a stored product, to compare a row with what it would replace.
impl From<&Product> for NewProduct {
    fn from(p: &Product) -> Self {
        Self {
            id: p.id,
            organization_id: p.organization_id,
            local_id: p.local_id,
            brand_id: p.brand_id,
            title: p.title.clone(),
            slug: p.slug.clone(),
            sku: p.sku.clone(),
            barcode: p.barcode.clone(),
            description: p.description.clone(),
            status: p.status,
            product_type: p.product_type.clone(),
            unit_of_measure: p.unit_of_measure.clone(),
            alert_stock: p.alert_stock,
            has_variants: p.has_variants,
            metadata: p.metadata.clone(),
        }
    }
}
