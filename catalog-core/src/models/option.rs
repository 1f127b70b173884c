use crate::ids::{OptionId, OptionValueId, OrganizationId};
use crate::schema::{product_option_values, product_options};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

/// An organization-level option definition (Color, Talla).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize, Deserialize, utoipa::ToSchema)]
#[diesel(table_name = product_options, check_for_backend(diesel::pg::Pg))]
pub struct ProductOption {
    pub id: OptionId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub position: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
    pub deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = product_options)]
pub struct NewProductOption {
    pub id: OptionId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub position: i32,
}

super::changeset::changeset! {
    #[derive(Debug, Clone, Default, AsChangeset)]
    #[diesel(table_name = product_options)]
    pub struct ProductOptionChanges for ProductOption {
        pub name: Option<String>,
        pub position: Option<i32>,
    }
}

/// One ordered value of an option (Rojo, M).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize, Deserialize, utoipa::ToSchema)]
#[diesel(table_name = product_option_values, check_for_backend(diesel::pg::Pg))]
pub struct OptionValue {
    pub id: OptionValueId,
    pub organization_id: OrganizationId,
    pub option_id: OptionId,
    pub value: String,
    pub position: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = product_option_values)]
pub struct NewOptionValue {
    pub id: OptionValueId,
    pub organization_id: OrganizationId,
    pub option_id: OptionId,
    pub value: String,
    pub position: i32,
}
