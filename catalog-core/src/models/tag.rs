use super::text_enum::text_enum;
use crate::ids::{OrganizationId, TagId};
use crate::schema::tags;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

text_enum!(TagType { Category = "category", Feature = "feature", Promotion = "promotion", Custom = "custom" });

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize, Deserialize, utoipa::ToSchema)]
#[diesel(table_name = tags, check_for_backend(diesel::pg::Pg))]
pub struct Tag {
    pub id: TagId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub slug: String,
    #[serde(rename = "type")]
    pub tag_type: TagType,
    pub color: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
    pub deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = tags)]
pub struct NewTag {
    pub id: TagId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub slug: String,
    pub tag_type: TagType,
    pub color: Option<String>,
    /// `None`: the column default (`{}`).
    pub metadata: Option<serde_json::Value>,
}

super::changeset::changeset! {
    #[derive(Debug, Clone, Default, AsChangeset)]
    #[diesel(table_name = tags)]
    pub struct TagChanges for Tag {
        pub name: Option<String>,
        pub slug: Option<String>,
        pub tag_type: Option<TagType>,
        pub color: Option<Option<String>>,
        pub metadata: Option<serde_json::Value>,
    }
}
