use crate::ids::{ImageId, OrganizationId, ProductId, VariantId};
use crate::schema::{product_images, variant_images};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize, Deserialize, utoipa::ToSchema)]
#[diesel(table_name = product_images, check_for_backend(diesel::pg::Pg))]
pub struct ProductImage {
    pub id: ImageId,
    pub organization_id: OrganizationId,
    pub product_id: ProductId,
    pub url: String,
    pub alt: Option<String>,
    pub position: i32,
    pub is_primary: bool,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = product_images)]
pub struct NewProductImage {
    pub id: ImageId,
    pub organization_id: OrganizationId,
    pub product_id: ProductId,
    pub url: String,
    pub alt: Option<String>,
    pub position: i32,
    pub is_primary: bool,
    /// `None`: the column default (`{}`).
    pub metadata: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize, Deserialize, utoipa::ToSchema)]
#[diesel(table_name = variant_images, check_for_backend(diesel::pg::Pg))]
pub struct VariantImage {
    pub id: ImageId,
    pub organization_id: OrganizationId,
    pub variant_id: VariantId,
    pub url: String,
    pub alt: Option<String>,
    pub position: i32,
    pub is_primary: bool,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = variant_images)]
pub struct NewVariantImage {
    pub id: ImageId,
    pub organization_id: OrganizationId,
    pub variant_id: VariantId,
    pub url: String,
    pub alt: Option<String>,
    pub position: i32,
    pub is_primary: bool,
    /// `None`: the column default (`{}`).
    pub metadata: Option<serde_json::Value>,
}

/// Fields an image update may change (both owner kinds).
#[derive(Debug, Clone, Default)]
pub struct ImageChanges {
    pub url: Option<String>,
    pub alt: Option<Option<String>>,
    pub position: Option<i32>,
    pub is_primary: Option<bool>,
    pub metadata: Option<serde_json::Value>,
}
