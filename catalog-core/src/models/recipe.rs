use crate::ids::{OrganizationId, ProductId, RecipeId, RecipeIngredientId, VariantId};
use crate::schema::{product_recipes, recipe_ingredients};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A product's recipe (page 03 "Recetas / BOM"): for one of its variants, or for all of them.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize, Deserialize)]
#[diesel(table_name = product_recipes, check_for_backend(diesel::pg::Pg))]
pub struct Recipe {
    pub id: RecipeId,
    pub organization_id: OrganizationId,
    pub product_id: ProductId,
    pub variant_id: Option<VariantId>,
    pub name: Option<String>,
    /// How many of the product's units one recipe makes (a sauce recipe makes 2 kg).
    pub yield_quantity: Decimal,
    pub is_active: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = product_recipes)]
pub struct NewRecipe {
    pub id: RecipeId,
    pub organization_id: OrganizationId,
    pub product_id: ProductId,
    pub variant_id: Option<VariantId>,
    pub name: Option<String>,
    pub yield_quantity: Decimal,
    pub is_active: bool,
}

/// One ingredient: `quantity` of `unit` per recipe (before waste).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize, Deserialize)]
#[diesel(table_name = recipe_ingredients, check_for_backend(diesel::pg::Pg))]
pub struct RecipeIngredient {
    pub id: RecipeIngredientId,
    pub organization_id: OrganizationId,
    pub recipe_id: RecipeId,
    pub ingredient_variant_id: VariantId,
    pub quantity: Decimal,
    pub unit: String,
    pub is_optional: bool,
    /// 0–100: what is lost preparing it; the deduction is `quantity × (1 + waste / 100)`.
    pub waste_percentage: Decimal,
    pub notes: Option<String>,
    pub position: i32,
}
