use crate::ids::{OrganizationId, PriceTierId, PriceTierRuleId, VariantId};
use crate::schema::{price_tier_rules, price_tiers};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize, Deserialize, utoipa::ToSchema)]
#[diesel(table_name = price_tiers, check_for_backend(diesel::pg::Pg))]
pub struct PriceTier {
    pub id: PriceTierId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    /// 0 is the highest priority.
    pub priority: i32,
    pub is_active: bool,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
    pub deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = price_tiers)]
pub struct NewPriceTier {
    pub id: PriceTierId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    pub priority: i32,
    pub is_active: bool,
    /// `None`: the column default (`{}`).
    pub metadata: Option<serde_json::Value>,
}

super::changeset::changeset! {
    #[derive(Debug, Clone, Default, AsChangeset)]
    #[diesel(table_name = price_tiers)]
    pub struct PriceTierChanges for PriceTier {
        pub name: Option<String>,
        pub slug: Option<String>,
        pub description: Option<Option<String>>,
        pub priority: Option<i32>,
        pub is_active: Option<bool>,
        pub metadata: Option<serde_json::Value>,
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize, Deserialize, utoipa::ToSchema)]
#[diesel(table_name = price_tier_rules, check_for_backend(diesel::pg::Pg))]
pub struct PriceTierRule {
    pub id: PriceTierRuleId,
    pub organization_id: OrganizationId,
    pub price_tier_id: PriceTierId,
    pub variant_id: VariantId,
    pub min_qty: i32,
    pub price: Decimal,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = price_tier_rules)]
pub struct NewPriceTierRule {
    pub id: PriceTierRuleId,
    pub organization_id: OrganizationId,
    pub price_tier_id: PriceTierId,
    pub variant_id: VariantId,
    pub min_qty: i32,
    pub price: Decimal,
}

#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = price_tier_rules)]
pub struct PriceTierRuleChanges {
    pub min_qty: Option<i32>,
    pub price: Option<Decimal>,
}
