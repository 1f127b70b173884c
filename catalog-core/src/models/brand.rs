use super::text_enum::text_enum;
use crate::ids::{BrandId, OrganizationId};
use crate::schema::brands;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

text_enum!(
    /// Status of brands and collections.
    ActiveStatus { Active = "active" | "activa" | "activo", Inactive = "inactive" | "inactiva" | "inactivo" }
);

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize, Deserialize, utoipa::ToSchema)]
#[diesel(table_name = brands, check_for_backend(diesel::pg::Pg))]
pub struct Brand {
    pub id: BrandId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    pub logo_url: Option<String>,
    pub status: ActiveStatus,
    #[serde(default)]
    pub website: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
    pub deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = brands)]
pub struct NewBrand {
    pub id: BrandId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    pub logo_url: Option<String>,
    pub status: ActiveStatus,
    pub website: Option<String>,
    /// `None`: the column default (`{}`).
    pub metadata: Option<serde_json::Value>,
}

super::changeset::changeset! {
    #[derive(Debug, Clone, Default, AsChangeset)]
    #[diesel(table_name = brands)]
    pub struct BrandChanges for Brand {
        pub name: Option<String>,
        pub slug: Option<String>,
        pub description: Option<Option<String>>,
        pub logo_url: Option<Option<String>>,
        pub status: Option<ActiveStatus>,
        pub website: Option<Option<String>>,
        pub metadata: Option<serde_json::Value>,
    }
}
