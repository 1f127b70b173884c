//! Recipes (bill of materials, page 03 "Recetas / BOM"): what a sale of a composite product
//! takes out of inventory.
//!
//! Rules, checked in the write's transaction:
//! - a recipe is a product's, for one of its variants or (no variant) for all of them; at most
//!   one per product and variant;
//! - an ingredient is a live variant of the organization (another organization's answers as
//!   missing); it may itself have a recipe (a sauce in a burger), so recipes nest;
//! - no recipe of a product may reach a variant of that same product through any depth of
//!   ingredients: the product itself as an ingredient (length 1) and every longer cycle are
//!   refused, the error naming the path by SKU;
//! - quantities are in the ingredient line's `unit`, which must convert to the ingredient
//!   product's `unit_of_measure` ([`crate::units`]).
//!
//! [`explode`] turns sold variants into the stock variants to deduct: nested recipes expanded,
//! waste applied per level, quantities in each variant's own unit, in one statement. The
//! arithmetic is exact decimal (28 significant digits) for one unit sold; the quantity sold
//! multiplies it and each deduction is rounded once, at the end, to 6 places.

use super::outbox;
use super::published::{self, EventDraft};
use super::{check_version, found};
use crate::db::PgConn;
use crate::error::{Entity, Error, FieldError, Result};
use crate::ids::{OrganizationId, ProductId, RecipeId, RecipeIngredientId, VariantId};
use crate::models::{Actor, NewRecipe, Recipe, RecipeIngredient};
use crate::schema::{product_recipes, product_variants, products, recipe_ingredients};
use crate::units;
use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Integer, Nullable, Numeric, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// How deep recipes may nest; deeper trees are refused as if they were cycles.
pub const MAX_DEPTH: i32 = 16;
/// Decimal places of a stated quantity (`recipe_ingredients.quantity` is NUMERIC(12,4); a sold
/// quantity is bounded the same way).
pub const QUANTITY_SCALE: u32 = 4;
/// NUMERIC(12,4)'s largest value, in units of 10^-4.
pub const QUANTITY_MAX_UNITS: i64 = 999_999_999_999;
/// Decimal places of a deduction (half away from zero).
pub const DEDUCTION_SCALE: u32 = 6;

/// An ingredient line as a caller states it.
#[derive(Debug, Clone, PartialEq)]
pub struct IngredientDraft {
    pub ingredient_variant_id: VariantId,
    pub quantity: Decimal,
    pub unit: String,
    pub is_optional: bool,
    pub waste_percentage: Decimal,
    pub notes: Option<String>,
}

/// A new recipe.
#[derive(Debug, Clone)]
pub struct RecipeDraft {
    pub variant_id: Option<VariantId>,
    pub name: Option<String>,
    pub yield_quantity: Decimal,
    pub is_active: bool,
    pub ingredients: Vec<IngredientDraft>,
}

/// A recipe that uses a variant as an ingredient, as a refused delete names it.
#[derive(Debug, Clone, PartialEq, QueryableByName, Serialize)]
pub struct RecipeUse {
    #[diesel(sql_type = SqlUuid)]
    pub recipe_id: RecipeId,
    #[diesel(sql_type = Nullable<Text>)]
    pub name: Option<String>,
    #[diesel(sql_type = SqlUuid)]
    pub product_id: ProductId,
    #[diesel(sql_type = Text)]
    pub product_sku: String,
    #[diesel(sql_type = SqlUuid)]
    pub ingredient_variant_id: VariantId,
}

/// The recipes using any of `variants` as an ingredient, one statement.
pub async fn using(conn: &mut PgConn, org: OrganizationId, variants: &[VariantId]) -> Result<Vec<RecipeUse>> {
    Ok(diesel::sql_query(
        "SELECT r.id AS recipe_id, r.name, r.product_id, p.sku AS product_sku, ri.ingredient_variant_id
           FROM recipe_ingredients ri
           JOIN product_recipes r ON r.organization_id = ri.organization_id AND r.id = ri.recipe_id
           JOIN products p ON p.organization_id = r.organization_id AND p.id = r.product_id
          WHERE ri.organization_id = $1 AND ri.ingredient_variant_id = ANY($2)
          ORDER BY p.sku, r.id, ri.ingredient_variant_id",
    )
    .bind::<SqlUuid, _>(org)
    .bind::<Array<SqlUuid>, _>(variants)
    .load(conn)
    .await?)
}

/// Refuses (409 `VARIANT_IN_RECIPES`, naming the recipes) to delete `variants` while recipes
/// use them, unless `force`: the recipes then go on deducting them until they are edited.
/// `deleting` names what the caller asked to delete in the error's details.
pub(crate) async fn refuse_in_use(
    conn: &mut PgConn,
    org: OrganizationId,
    variants: &[VariantId],
    deleting: (&str, uuid::Uuid),
) -> Result<()> {
    let recipes = using(conn, org, variants).await?;
    if recipes.is_empty() {
        return Ok(());
    }
    let mut details = serde_json::json!({
        "recipes": recipes,
        "suggestion": "Edit the recipes first, or use force=true (they keep deducting it)",
    });
    details[deleting.0] = serde_json::json!(deleting.1);
    Err(Error::InUse {
        code: "VARIANT_IN_RECIPES",
        message: "recipes use it as an ingredient; delete with force=true to delete it anyway".into(),
        details,
    })
}

/// The recipe `id` of `org`, with its lines.
pub async fn get(conn: &mut PgConn, org: OrganizationId, id: RecipeId) -> Result<RecipeWithIngredients> {
    let recipe: Option<Recipe> = product_recipes::table
        .filter(product_recipes::organization_id.eq(org))
        .filter(product_recipes::id.eq(id))
        .select(Recipe::as_select())
        .first(conn)
        .await
        .optional()?;
    let recipe = found(recipe, Entity::Recipe)?;
    let ingredients = ingredients(conn, org, &[id]).await?.remove(&id).unwrap_or_default();
    Ok(RecipeWithIngredients { recipe, ingredients })
}

/// A recipe with its ingredient lines, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct RecipeWithIngredients {
    pub recipe: Recipe,
    pub ingredients: Vec<RecipeIngredient>,
}

#[derive(Debug, QueryableByName)]
struct CyclePath {
    /// The ingredient the path starts from.
    #[diesel(sql_type = SqlUuid)]
    first: VariantId,
    #[diesel(sql_type = Array<Text>)]
    skus: Vec<String>,
}

/// The first path from one of `ingredients` down to a variant of `product` through existing
/// recipes (active or not: an inactive one may be switched on), if any: the ingredient it
/// starts from and the SKUs along it.
async fn cycle_through(
    conn: &mut PgConn,
    org: OrganizationId,
    product: ProductId,
    ingredients: &[VariantId],
) -> Result<Option<CyclePath>> {
    let found: Option<CyclePath> = diesel::sql_query(
        "WITH RECURSIVE walk(variant_id, path) AS (
             SELECT v.id, ARRAY[v.id] FROM product_variants v WHERE v.organization_id = $1 AND v.id = ANY($2)
           UNION ALL
             SELECT ri.ingredient_variant_id, walk.path || ri.ingredient_variant_id
               FROM walk
               JOIN product_variants v ON v.organization_id = $1 AND v.id = walk.variant_id
               JOIN product_recipes r ON r.organization_id = $1 AND r.product_id = v.product_id
                                     AND (r.variant_id = v.id OR r.variant_id IS NULL)
               JOIN recipe_ingredients ri ON ri.organization_id = $1 AND ri.recipe_id = r.id
              WHERE v.product_id <> $3 AND NOT ri.ingredient_variant_id = ANY(walk.path)
                AND cardinality(walk.path) <= $4)
         SELECT walk.path[1] AS first, ARRAY(SELECT s.sku FROM unnest(walk.path) WITH ORDINALITY AS step(id, n)
                        JOIN product_variants s ON s.organization_id = $1 AND s.id = step.id ORDER BY step.n) AS skus
           FROM walk
           JOIN product_variants v ON v.organization_id = $1 AND v.id = walk.variant_id
          WHERE v.product_id = $3 OR cardinality(walk.path) > $4
          LIMIT 1",
    )
    .bind::<SqlUuid, _>(org)
    .bind::<Array<SqlUuid>, _>(ingredients)
    .bind::<SqlUuid, _>(product)
    .bind::<Integer, _>(MAX_DEPTH)
    .get_result(conn)
    .await
    .optional()?;
    Ok(found)
}

/// Every rule an ingredient list must meet for a recipe of `product` (`product_sku` names it in
/// a cycle's path), as field errors on `ingredients[i].…`.
async fn check_ingredients(
    conn: &mut PgConn,
    org: OrganizationId,
    product: ProductId,
    product_sku: &str,
    lines: &[IngredientDraft],
) -> Result<()> {
    let ids: Vec<VariantId> = lines.iter().map(|line| line.ingredient_variant_id).collect();
    let known = facts(conn, org, &ids).await?;
    let mut errors = Vec::new();
    if lines.is_empty() {
        errors.push(FieldError::new("ingredients", "must name at least one ingredient"));
    }
    for (i, line) in lines.iter().enumerate() {
        let field = |name: &str| format!("ingredients[{i}].{name}");
        if lines[..i].iter().any(|earlier| earlier.ingredient_variant_id == line.ingredient_variant_id) {
            errors.push(FieldError::new(field("ingredient_variant_id"), "is listed twice"));
        }
        if line.quantity <= Decimal::ZERO {
            errors.push(FieldError::new(field("quantity"), "must be greater than 0"));
        }
        if line.waste_percentage < Decimal::ZERO || line.waste_percentage > Decimal::ONE_HUNDRED {
            errors.push(FieldError::new(field("waste_percentage"), "must be between 0 and 100"));
        }
        let Some(ingredient) = known.get(&line.ingredient_variant_id).filter(|facts| facts.is_live) else {
            errors.push(FieldError::missing(field("ingredient_variant_id"), Entity::Variant));
            continue;
        };
        if ingredient.product_id == product {
            errors.push(FieldError::new(
                field("ingredient_variant_id"),
                "cannot be a variant of the recipe's own product",
            ));
        }
        if let Err(err) = units::convert(Decimal::ONE, &line.unit, &ingredient.unit_of_measure) {
            errors.push(FieldError::new(
                field("unit"),
                format!("{err} (the ingredient is stocked in {})", ingredient.unit_of_measure),
            ));
        }
    }
    if errors.is_empty() {
        if let Some(path) = cycle_through(conn, org, product, &ids).await? {
            let i = lines.iter().position(|line| line.ingredient_variant_id == path.first).unwrap_or(0);
            let steps = std::iter::once(product_sku.to_string()).chain(path.skus).collect::<Vec<_>>().join(" → ");
            errors.push(FieldError::new(
                format!("ingredients[{i}].ingredient_variant_id"),
                format!("would make the recipe contain itself: {steps}"),
            ));
        }
    }
    match errors.is_empty() {
        true => Ok(()),
        false => Err(Error::validation(Entity::Recipe, errors)),
    }
}

fn lines(org: OrganizationId, recipe: RecipeId, drafts: Vec<IngredientDraft>) -> Vec<RecipeIngredient> {
    drafts
        .into_iter()
        .zip(0..)
        .map(|(line, position)| RecipeIngredient {
            id: RecipeIngredientId::generate(),
            organization_id: org,
            recipe_id: recipe,
            ingredient_variant_id: line.ingredient_variant_id,
            quantity: line.quantity,
            unit: line.unit.trim().to_string(),
            is_optional: line.is_optional,
            waste_percentage: line.waste_percentage,
            notes: line.notes,
            position,
        })
        .collect()
}

/// Creates the product's recipe (for `draft.variant_id`, a live variant of it, or for all its
/// variants); a second one for the same product and variant is 409 `RECIPE_EXISTS`.
pub async fn create(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    product_id: ProductId,
    draft: RecipeDraft,
) -> Result<RecipeWithIngredients> {
    conn.transaction(async move |conn| {
        // The product is locked: its recipes change under this lock only.
        let product = super::products::lock(conn, org, product_id).await?;
        let (product, sku) = (product.id, product.sku);
        if let Some(variant) = draft.variant_id {
            let owned: Option<VariantId> = product_variants::table
                .filter(product_variants::organization_id.eq(org))
                .filter(product_variants::id.eq(variant))
                .filter(product_variants::product_id.eq(product))
                .filter(product_variants::deleted_at.is_null())
                .select(product_variants::id)
                .first(conn)
                .await
                .optional()?;
            if owned.is_none() {
                return Err(Error::missing(Entity::Recipe, "variant_id", Entity::Variant));
            }
        }
        if draft.yield_quantity <= Decimal::ZERO {
            return Err(Error::field(Entity::Recipe, "yield_quantity", "must be greater than 0"));
        }
        check_ingredients(conn, org, product, &sku, &draft.ingredients).await?;
        let new = NewRecipe {
            id: RecipeId::generate(),
            organization_id: org,
            product_id: product,
            variant_id: draft.variant_id,
            name: draft.name,
            yield_quantity: draft.yield_quantity,
            is_active: draft.is_active,
        };
        let recipe: Recipe = diesel::insert_into(product_recipes::table)
            .values(&new)
            .on_conflict_do_nothing()
            .returning(Recipe::as_returning())
            .get_result(conn)
            .await
            .optional()?
            .ok_or_else(|| Error::Conflict {
                code: "RECIPE_EXISTS",
                message: "the product already has a recipe for this variant".into(),
                field: Some("variant_id"),
                key: Vec::new(),
            })?;
        let ingredients = lines(org, recipe.id, draft.ingredients);
        diesel::insert_into(recipe_ingredients::table).values(&ingredients).execute(conn).await?;
        let written = RecipeWithIngredients { recipe, ingredients };
        outbox::append(conn, org, actor, vec![published::recipe_created(&written)]).await?;
        Ok(written)
    })
    .await
}

/// The recipe, locked, with its product's SKU.
async fn lock(conn: &mut PgConn, org: OrganizationId, id: RecipeId) -> Result<(Recipe, String)> {
    let recipe: Option<Recipe> = product_recipes::table
        .filter(product_recipes::organization_id.eq(org))
        .filter(product_recipes::id.eq(id))
        .select(Recipe::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?;
    let recipe = found(recipe, Entity::Recipe)?;
    let sku = super::products::lock(conn, org, recipe.product_id).await?.sku;
    Ok((recipe, sku))
}

/// Replaces the recipe's ingredient lines when `expected_version` is current; the version goes
/// up and `catalog.recipe.updated` says what the lines were and are.
pub async fn replace_ingredients(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    id: RecipeId,
    expected_version: Option<i32>,
    drafts: Vec<IngredientDraft>,
) -> Result<RecipeWithIngredients> {
    conn.transaction(async move |conn| {
        let (old, sku) = lock(conn, org, id).await?;
        check_version(expected_version, old.version)?;
        check_ingredients(conn, org, old.product_id, &sku, &drafts).await?;
        let before = ingredients(conn, org, &[id]).await?.remove(&id).unwrap_or_default();
        diesel::delete(
            recipe_ingredients::table
                .filter(recipe_ingredients::organization_id.eq(org))
                .filter(recipe_ingredients::recipe_id.eq(id)),
        )
        .execute(conn)
        .await?;
        let ingredients = lines(org, id, drafts);
        diesel::insert_into(recipe_ingredients::table).values(&ingredients).execute(conn).await?;
        let recipe: Recipe = diesel::update(product_recipes::table)
            .filter(product_recipes::organization_id.eq(org))
            .filter(product_recipes::id.eq(id))
            .set((product_recipes::version.eq(old.version + 1), product_recipes::updated_at.eq(Utc::now())))
            .returning(Recipe::as_returning())
            .get_result(conn)
            .await?;
        let written = RecipeWithIngredients { recipe, ingredients };
        outbox::append(conn, org, actor, vec![published::recipe_updated(&written, &before)]).await?;
        Ok(written)
    })
    .await
}

/// Deletes the recipe (its lines with it) when `expected_version` is current.
pub async fn delete(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    id: RecipeId,
    expected_version: Option<i32>,
) -> Result<()> {
    conn.transaction(async move |conn| {
        let (recipe, _) = lock(conn, org, id).await?;
        check_version(expected_version, recipe.version)?;
        diesel::delete(product_recipes::table.filter(product_recipes::organization_id.eq(org)).find(id))
            .execute(conn)
            .await?;
        let event: EventDraft = published::recipe_deleted(&recipe);
        outbox::append(conn, org, actor, vec![event]).await
    })
    .await
}

/// Ingredient lines of each recipe, in order; one statement.
async fn ingredients(
    conn: &mut PgConn,
    org: OrganizationId,
    recipes: &[RecipeId],
) -> Result<HashMap<RecipeId, Vec<RecipeIngredient>>> {
    let rows: Vec<RecipeIngredient> = recipe_ingredients::table
        .filter(recipe_ingredients::organization_id.eq(org))
        .filter(recipe_ingredients::recipe_id.eq_any(recipes))
        .order((recipe_ingredients::recipe_id, recipe_ingredients::position))
        .select(RecipeIngredient::as_select())
        .load(conn)
        .await?;
    let mut by_recipe: HashMap<RecipeId, Vec<RecipeIngredient>> = HashMap::new();
    for row in rows {
        by_recipe.entry(row.recipe_id).or_default().push(row);
    }
    Ok(by_recipe)
}

/// The product's recipe for `variant` (`None`: the one for all its variants), with its lines.
pub async fn find_for(
    conn: &mut PgConn,
    org: OrganizationId,
    product: ProductId,
    variant: Option<VariantId>,
) -> Result<Option<RecipeWithIngredients>> {
    let mut query = product_recipes::table
        .filter(product_recipes::organization_id.eq(org))
        .filter(product_recipes::product_id.eq(product))
        .into_boxed();
    query = match variant {
        Some(variant) => query.filter(product_recipes::variant_id.eq(variant)),
        None => query.filter(product_recipes::variant_id.is_null()),
    };
    let Some(recipe) = query.select(Recipe::as_select()).first(conn).await.optional()? else { return Ok(None) };
    let ingredients = ingredients(conn, org, &[recipe.id]).await?.remove(&recipe.id).unwrap_or_default();
    Ok(Some(RecipeWithIngredients { recipe, ingredients }))
}

/// One stock variant to deduct for a sale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deduction {
    pub variant_id: VariantId,
    /// In the variant's own unit; in an [`Explosion`], rounded to [`DEDUCTION_SCALE`] places.
    pub quantity: Decimal,
    pub unit: String,
    /// Reached only through optional ingredient lines: the seller may leave it out.
    pub is_optional: bool,
}

/// What selling `quantity` of a variant takes out of inventory.
#[derive(Debug, Clone, PartialEq)]
pub struct Explosion {
    pub variant_id: VariantId,
    pub quantity: Decimal,
    /// The active recipe used, if any; without one the variant itself is deducted.
    pub recipe_id: Option<RecipeId>,
    pub deductions: Vec<Deduction>,
}

#[derive(Debug, QueryableByName)]
struct TreeRow {
    #[diesel(sql_type = SqlUuid)]
    variant_id: VariantId,
    #[diesel(sql_type = Text)]
    unit_of_measure: String,
    #[diesel(sql_type = Bool)]
    is_live: bool,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    recipe_id: Option<RecipeId>,
    #[diesel(sql_type = Nullable<Numeric>)]
    yield_quantity: Option<Decimal>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    ingredient_variant_id: Option<VariantId>,
    #[diesel(sql_type = Nullable<Numeric>)]
    quantity: Option<Decimal>,
    #[diesel(sql_type = Nullable<Text>)]
    unit: Option<String>,
    #[diesel(sql_type = Nullable<Bool>)]
    is_optional: Option<bool>,
    #[diesel(sql_type = Nullable<Numeric>)]
    waste_percentage: Option<Decimal>,
}

/// A variant's active recipe: its own, else its product's for all variants.
const ACTIVE_RECIPE: &str = "SELECT r.id, r.yield_quantity FROM product_recipes r
     WHERE r.organization_id = $1 AND r.product_id = v.product_id AND r.is_active
       AND (r.variant_id = v.id OR r.variant_id IS NULL)
     ORDER BY r.variant_id NULLS LAST LIMIT 1";

/// A variant as an explosion reads it.
#[derive(Debug, Clone, PartialEq)]
struct TreeNode {
    unit: String,
    /// Not soft-deleted. A deleted ingredient is still deducted (Inventory still holds it)
    /// until its recipes are edited; a deleted variant cannot be sold.
    is_live: bool,
    recipe: Option<ActiveRecipe>,
}

#[derive(Debug, Clone, PartialEq)]
struct ActiveRecipe {
    id: RecipeId,
    yield_quantity: Decimal,
    lines: Vec<TreeLine>,
}

#[derive(Debug, Clone, PartialEq)]
struct TreeLine {
    ingredient: VariantId,
    quantity: Decimal,
    unit: String,
    is_optional: bool,
    waste_percentage: Decimal,
}

/// What selling one unit of a variant takes out of inventory, exact (unrounded): what is cached
/// per sold variant. Selling `q` takes `q` times each deduction, rounded then; the cached and
/// the freshly read answers go through [`UnitExplosion::times`] alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitExplosion {
    pub recipe_id: Option<RecipeId>,
    pub deductions: Vec<Deduction>,
}

impl UnitExplosion {
    /// What selling `quantity` of `variant` takes, each deduction rounded to
    /// [`DEDUCTION_SCALE`] places (half away from zero).
    pub fn times(&self, variant: VariantId, quantity: Decimal) -> Result<Explosion> {
        let deductions = self
            .deductions
            .iter()
            .map(|per_unit| {
                let total = per_unit.quantity.checked_mul(quantity).ok_or_else(too_large)?;
                let quantity = total.round_dp_with_strategy(DEDUCTION_SCALE, RoundingStrategy::MidpointAwayFromZero);
                Ok(Deduction { quantity, ..per_unit.clone() })
            })
            .collect::<Result<_>>()?;
        Ok(Explosion { variant_id: variant, quantity, recipe_id: self.recipe_id, deductions })
    }
}

/// Every variant reachable from some sold variants through active recipes.
#[derive(Debug, Default)]
pub struct Trees(HashMap<VariantId, TreeNode>);

impl Trees {
    /// What one unit of `variant` takes; `None` when it is not a live variant of the
    /// organization (not in the tree, or deleted).
    pub fn unit_explosion(&self, variant: VariantId) -> Result<Option<UnitExplosion>> {
        let Some(node) = self.0.get(&variant).filter(|node| node.is_live) else { return Ok(None) };
        let mut deductions = Vec::new();
        self.expand(variant, Decimal::ONE, false, 0, &mut deductions)?;
        Ok(Some(UnitExplosion { recipe_id: node.recipe.as_ref().map(|recipe| recipe.id), deductions }))
    }

    /// Adds what `batches` of a recipe with these `lines` take to `leaves`.
    fn expand_lines(
        &self,
        lines: &[TreeLine],
        batches: Decimal,
        optional: bool,
        depth: i32,
        leaves: &mut Vec<Deduction>,
    ) -> Result<()> {
        for line in lines {
            let waste = Decimal::ONE + line.waste_percentage / Decimal::ONE_HUNDRED;
            let stated = line.quantity.checked_mul(batches).and_then(|q| q.checked_mul(waste)).ok_or_else(too_large)?;
            let own_unit = &self.0.get(&line.ingredient).ok_or(Error::NotFound(Entity::Variant))?.unit;
            let converted = units::convert(stated, &line.unit, own_unit).map_err(|err| match err {
                units::UnitError::TooLarge => too_large(),
                err => Error::Internal(format!("recipe unit: {err}")),
            })?;
            self.expand(line.ingredient, converted, optional || line.is_optional, depth + 1, leaves)?;
        }
        Ok(())
    }

    /// Adds what `quantity` of `variant` takes (in its own unit) to `leaves`, summing repeats.
    fn expand(
        &self,
        variant: VariantId,
        quantity: Decimal,
        optional: bool,
        depth: i32,
        leaves: &mut Vec<Deduction>,
    ) -> Result<()> {
        let node = self.0.get(&variant).ok_or(Error::NotFound(Entity::Variant))?;
        match &node.recipe {
            Some(recipe) if depth < MAX_DEPTH => {
                let batches = quantity.checked_div(recipe.yield_quantity).ok_or_else(too_large)?;
                self.expand_lines(&recipe.lines, batches, optional, depth, leaves)
            }
            Some(_) => Err(Error::Internal(format!("recipes nest deeper than {MAX_DEPTH} under {variant}"))),
            None => {
                match leaves.iter_mut().find(|leaf| leaf.variant_id == variant && leaf.is_optional == optional) {
                    Some(leaf) => leaf.quantity = leaf.quantity.checked_add(quantity).ok_or_else(too_large)?,
                    None => leaves.push(Deduction {
                        variant_id: variant,
                        quantity,
                        unit: node.unit.clone(),
                        is_optional: optional,
                    }),
                }
                Ok(())
            }
        }
    }
}

/// The deductions of each sale line (`variant`, `quantity` sold), aligned with `sold`, read
/// from the database in one statement; a variant missing from the organization answers
/// `VARIANT_NOT_FOUND`. (Reads that may be cached go through [`crate::read::Catalog::explode`].)
pub async fn explode(conn: &mut PgConn, org: OrganizationId, sold: &[(VariantId, Decimal)]) -> Result<Vec<Explosion>> {
    let roots: Vec<VariantId> = sold.iter().map(|(variant, _)| *variant).collect();
    let trees = trees(conn, org, &roots).await?;
    sold.iter()
        .map(|&(variant, quantity)| {
            let per_unit = trees.unit_explosion(variant)?.ok_or(Error::NotFound(Entity::Variant))?;
            per_unit.times(variant, quantity)
        })
        .collect()
}

/// A sale whose deductions do not fit a decimal (28 digits) is the caller's mistake.
fn too_large() -> Error {
    Error::field(Entity::Recipe, "quantity", "is too large: its deductions cannot be computed")
}

/// What one batch of `recipe` takes out of inventory (the stock variants, each in its own unit).
async fn batch_deductions(
    conn: &mut PgConn,
    org: OrganizationId,
    recipe: &RecipeWithIngredients,
) -> Result<Vec<Deduction>> {
    let roots: Vec<VariantId> = recipe.ingredients.iter().map(|line| line.ingredient_variant_id).collect();
    let lines: Vec<TreeLine> = recipe
        .ingredients
        .iter()
        .map(|line| TreeLine {
            ingredient: line.ingredient_variant_id,
            quantity: line.quantity,
            unit: line.unit.clone(),
            is_optional: line.is_optional,
            waste_percentage: line.waste_percentage,
        })
        .collect();
    let mut leaves = Vec::new();
    trees(conn, org, &roots).await?.expand_lines(&lines, Decimal::ONE, false, 0, &mut leaves)?;
    Ok(leaves)
}

/// What a recipe's answer names besides its rows: its product and variant, each ingredient's
/// product name, SKU, unit and state, and the cost of one batch rolled up from `cost_price`
/// through nested recipes (optional ingredients included; a variant without a cost counts 0).
#[derive(Debug, Clone, PartialEq)]
pub struct RecipeDescription {
    pub product_name: String,
    pub variant_sku: Option<String>,
    pub ingredients: HashMap<VariantId, IngredientFacts>,
    pub total_cost: Decimal,
}

#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub struct IngredientFacts {
    #[diesel(sql_type = SqlUuid)]
    pub variant_id: VariantId,
    #[diesel(sql_type = SqlUuid)]
    pub product_id: ProductId,
    #[diesel(sql_type = Text)]
    pub product_name: String,
    #[diesel(sql_type = Text)]
    pub sku: String,
    #[diesel(sql_type = Text)]
    pub unit_of_measure: String,
    /// A deactivated (or deleted) ingredient is reported, not hidden.
    #[diesel(sql_type = Bool)]
    pub is_active: bool,
    /// Neither the variant nor its product is deleted: it may be named in a recipe.
    #[diesel(sql_type = Bool)]
    pub is_live: bool,
    #[diesel(sql_type = Nullable<Numeric>)]
    pub cost_price: Option<Decimal>,
}

/// Facts of `variants` (live or not, of `org`), one statement.
async fn facts(
    conn: &mut PgConn,
    org: OrganizationId,
    variants: &[VariantId],
) -> Result<HashMap<VariantId, IngredientFacts>> {
    let rows: Vec<IngredientFacts> = diesel::sql_query(
        "SELECT v.id AS variant_id, v.product_id, p.title AS product_name, v.sku, p.unit_of_measure,
                (v.is_active AND v.deleted_at IS NULL AND p.status = 'active' AND p.deleted_at IS NULL) AS is_active,
                (v.deleted_at IS NULL AND p.deleted_at IS NULL) AS is_live, v.cost_price
           FROM product_variants v
           JOIN products p ON p.organization_id = v.organization_id AND p.id = v.product_id
          WHERE v.organization_id = $1 AND v.id = ANY($2)",
    )
    .bind::<SqlUuid, _>(org)
    .bind::<Array<SqlUuid>, _>(variants)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|row| (row.variant_id, row)).collect())
}

/// The recipe's [`RecipeDescription`], in a constant number of statements.
pub async fn describe(
    conn: &mut PgConn,
    org: OrganizationId,
    recipe: &RecipeWithIngredients,
) -> Result<RecipeDescription> {
    let leaves = batch_deductions(conn, org, recipe).await?;
    let mut wanted: Vec<VariantId> = recipe.ingredients.iter().map(|line| line.ingredient_variant_id).collect();
    wanted.extend(leaves.iter().map(|leaf| leaf.variant_id));
    wanted.extend(recipe.recipe.variant_id);
    let facts = facts(conn, org, &wanted).await?;
    let product_name: Option<String> = products::table
        .filter(products::organization_id.eq(org))
        .filter(products::id.eq(recipe.recipe.product_id))
        .select(products::title)
        .first(conn)
        .await
        .optional()?;
    let total_cost: Decimal = leaves
        .iter()
        .map(|leaf| leaf.quantity * facts.get(&leaf.variant_id).and_then(|f| f.cost_price).unwrap_or_default())
        .sum();
    Ok(RecipeDescription {
        product_name: product_name.unwrap_or_default(),
        variant_sku: recipe.recipe.variant_id.and_then(|v| facts.get(&v)).map(|f| f.sku.clone()),
        total_cost: total_cost.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero),
        ingredients: facts,
    })
}

/// Every variant reachable from `roots` through active recipes, with its unit and recipe lines:
/// one statement (a recursive CTE).
pub async fn trees(conn: &mut PgConn, org: OrganizationId, roots: &[VariantId]) -> Result<Trees> {
    let rows: Vec<TreeRow> = diesel::sql_query(format!(
        "WITH RECURSIVE reach(variant_id, depth) AS (
             SELECT DISTINCT unnest($2::uuid[]), 0
           UNION
             SELECT ri.ingredient_variant_id, reach.depth + 1
               FROM reach
               JOIN product_variants v ON v.organization_id = $1 AND v.id = reach.variant_id
               CROSS JOIN LATERAL ({ACTIVE_RECIPE}) r
               JOIN recipe_ingredients ri ON ri.organization_id = $1 AND ri.recipe_id = r.id
              WHERE reach.depth < $3)
         SELECT v.id AS variant_id, p.unit_of_measure, v.deleted_at IS NULL AS is_live, r.id AS recipe_id, r.yield_quantity,
                ri.ingredient_variant_id, ri.quantity, ri.unit, ri.is_optional, ri.waste_percentage
           FROM (SELECT DISTINCT variant_id FROM reach) reached
           JOIN product_variants v ON v.organization_id = $1 AND v.id = reached.variant_id
           JOIN products p ON p.organization_id = $1 AND p.id = v.product_id
           LEFT JOIN LATERAL ({ACTIVE_RECIPE}) r ON true
           LEFT JOIN recipe_ingredients ri ON ri.organization_id = $1 AND ri.recipe_id = r.id
          ORDER BY v.id, ri.position"
    ))
    .bind::<SqlUuid, _>(org)
    .bind::<Array<SqlUuid>, _>(roots)
    .bind::<Integer, _>(MAX_DEPTH)
    .load(conn)
    .await?;
    let mut trees = Trees::default();
    for row in rows {
        let node = trees.0.entry(row.variant_id).or_insert_with(|| TreeNode {
            unit: row.unit_of_measure.clone(),
            is_live: row.is_live,
            recipe: None,
        });
        if let (Some(id), Some(yield_quantity)) = (row.recipe_id, row.yield_quantity) {
            let recipe = node.recipe.get_or_insert_with(|| ActiveRecipe { id, yield_quantity, lines: Vec::new() });
            if let (Some(ingredient), Some(quantity), Some(unit)) = (row.ingredient_variant_id, row.quantity, row.unit)
            {
                recipe.lines.push(TreeLine {
                    ingredient,
                    quantity,
                    unit,
                    is_optional: row.is_optional.unwrap_or(false),
                    waste_percentage: row.waste_percentage.unwrap_or_default(),
                });
            }
        }
    }
    Ok(trees)
}
