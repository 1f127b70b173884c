use super::ActiveStatus;
use crate::ids::{CollectionId, OrganizationId};
use crate::schema::collections;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize, Deserialize, utoipa::ToSchema)]
#[diesel(table_name = collections, check_for_backend(diesel::pg::Pg))]
pub struct Collection {
    pub id: CollectionId,
    pub organization_id: OrganizationId,
    pub parent_id: Option<CollectionId>,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    pub image_url: Option<String>,
    pub status: ActiveStatus,
    pub position: i32,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
    pub deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = collections)]
pub struct NewCollection {
    pub id: CollectionId,
    pub organization_id: OrganizationId,
    pub parent_id: Option<CollectionId>,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    pub image_url: Option<String>,
    pub status: ActiveStatus,
    pub position: i32,
    /// `None`: the column default (`{}`).
    pub metadata: Option<serde_json::Value>,
}

super::changeset::changeset! {
    #[derive(Debug, Clone, Default, AsChangeset)]
    #[diesel(table_name = collections)]
    pub struct CollectionChanges for Collection {
        pub parent_id: Option<Option<CollectionId>>,
        pub name: Option<String>,
        pub slug: Option<String>,
        pub description: Option<Option<String>>,
        pub image_url: Option<Option<String>>,
        pub status: Option<ActiveStatus>,
        pub position: Option<i32>,
        pub metadata: Option<serde_json::Value>,
    }
}
