//! Recipes (page 03 "Recetas / BOM"): `GET/POST /products/{id}/recipe`,
//! `PUT /recipes/{id}/ingredients`, `DELETE /recipes/{id}`, and what a sale takes out of
//! inventory, `GET /variants/{id}/recipe/explode`. The rules live in
//! `catalog_core::repo::recipes`.

use crate::caller::Caller;
use crate::error::{ApiError, ApiResult, Explained};
use crate::openapi::accepts;
use crate::reply::{self, if_match};
use crate::state::ApiState;
use actix_web::{HttpRequest, web};
use catalog_core::auth::{Action, Resource};
use catalog_core::db::PgConn;
use catalog_core::error::{Entity, Error};
use catalog_core::ids::{OrganizationId, ProductId, RecipeId, RecipeIngredientId, VariantId};
use catalog_core::repo::recipes::{
    self, IngredientDraft, QUANTITY_MAX_UNITS, QUANTITY_SCALE, RecipeDraft, RecipeWithIngredients,
};
use catalog_core::validate::{Check, Money};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    paths(get, create, replace_ingredients, delete, explode),
    components(schemas(CreateRecipe, IngredientBody, RecipeView, IngredientView, ExplosionView, DeductionView))
)]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/products/{id}/recipe").route(web::get().to(get)).route(web::post().to(create)))
        .service(web::resource("/recipes/{id}/ingredients").route(web::put().to(replace_ingredients)))
        .service(web::resource("/recipes/{id}").route(web::delete().to(delete)))
        .service(web::resource("/variants/{id}/recipe/explode").route(web::get().to(explode)));
}

const NAME_MAX: usize = 100;
const UNIT_MAX: usize = 20;
const NOTES_MAX: usize = 1000;
const INGREDIENTS_MAX: usize = 200;
/// `product_recipes.yield_quantity` is NUMERIC(10,3).
const YIELD_SCALE: u32 = 3;

fn quantity_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    accepts::decimal::<QUANTITY_SCALE, QUANTITY_MAX_UNITS>()
}

fn yield_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    accepts::decimal::<YIELD_SCALE, 9_999_999_999>()
}

/// One ingredient line (page 03's `RecipeIngredientCreate`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IngredientBody {
    /// A live variant of the organization; it may itself have a recipe.
    #[schema(schema_with = accepts::required_id, required = true)]
    pub ingredient_variant_id: Option<String>,
    /// Per batch of the recipe, in `unit`, more than 0.
    #[schema(schema_with = quantity_schema, required = true)]
    pub quantity: Option<Money>,
    /// Converts to the ingredient product's `unit_of_measure` (`gramo` → `kg`, `ml` → `l`, ...).
    #[schema(schema_with = accepts::required_text::<UNIT_MAX>, required = true)]
    pub unit: Option<String>,
    #[serde(default)]
    pub is_optional: Option<bool>,
    /// 0–100 (default 0): the deduction is `quantity × (1 + waste / 100)`.
    #[schema(schema_with = accepts::percent)]
    pub waste_percentage: Option<Money>,
    #[schema(schema_with = accepts::text::<NOTES_MAX>)]
    pub notes: Option<String>,
}

/// Page 03's `RecipeCreate`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRecipe {
    /// One of the product's variants; absent: the recipe of all of them.
    #[schema(schema_with = accepts::id)]
    pub variant_id: Option<String>,
    #[schema(schema_with = accepts::text::<NAME_MAX>)]
    pub name: Option<String>,
    /// How many of the product's units one batch makes (default 1).
    #[schema(schema_with = yield_schema)]
    pub yield_quantity: Option<Money>,
    #[serde(default)]
    pub is_active: Option<bool>,
    #[serde(default)]
    pub ingredients: Vec<IngredientBody>,
}

/// `PUT /recipes/{id}/ingredients` takes the list itself (page 03) or `{"ingredients": [...]}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum IngredientList {
    Bare(Vec<IngredientBody>),
    Wrapped { ingredients: Vec<IngredientBody> },
}

fn parse_lines(check: &mut Check, bodies: Vec<IngredientBody>) -> Vec<IngredientDraft> {
    if bodies.len() > INGREDIENTS_MAX {
        check.fail("ingredients", format!("at most {INGREDIENTS_MAX} ingredients"));
    }
    bodies
        .into_iter()
        .enumerate()
        .filter_map(|(i, body)| {
            let field = |name: &str| format!("ingredients[{i}].{name}");
            let variant = body.ingredient_variant_id.as_deref();
            if variant.is_none() {
                check.fail(&field("ingredient_variant_id"), "is required");
            }
            let variant: Option<VariantId> = check.id(&field("ingredient_variant_id"), variant);
            if body.quantity.is_none() {
                check.fail(&field("quantity"), "is required");
            }
            let max = Decimal::new(QUANTITY_MAX_UNITS, QUANTITY_SCALE);
            let quantity = check.decimal(&field("quantity"), body.quantity.as_ref(), QUANTITY_SCALE, max, true);
            let unit = check.required_text(&field("unit"), body.unit.as_deref(), UNIT_MAX);
            let waste = match &body.waste_percentage {
                Some(waste) => check.decimal(&field("waste_percentage"), Some(waste), 2, Decimal::ONE_HUNDRED, false),
                None => Some(Decimal::ZERO),
            };
            let notes = check.text(&field("notes"), body.notes.as_deref(), NOTES_MAX);
            Some(IngredientDraft {
                ingredient_variant_id: variant?,
                quantity: quantity?,
                unit: unit?,
                is_optional: body.is_optional.unwrap_or(false),
                waste_percentage: waste?,
                notes,
            })
        })
        .collect()
}

/// An ingredient line as page 03's `RecipeIngredientResponse` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct IngredientView {
    pub id: RecipeIngredientId,
    pub ingredient_variant_id: VariantId,
    pub ingredient_name: String,
    pub ingredient_sku: String,
    /// The unit the ingredient is stocked in.
    pub ingredient_unit: String,
    /// `false` when the ingredient variant or its product is inactive or deleted.
    pub ingredient_is_active: bool,
    #[schema(value_type = String)]
    pub quantity: Decimal,
    pub unit: String,
    pub is_optional: bool,
    #[schema(value_type = String)]
    pub waste_percentage: Decimal,
    pub notes: Option<String>,
}

/// Page 03's `RecipeResponse`, with the version (`ETag`).
#[derive(Debug, Serialize, ToSchema)]
pub struct RecipeView {
    pub id: RecipeId,
    pub recipe_id: RecipeId,
    pub product_id: ProductId,
    pub product_name: String,
    pub variant_id: Option<VariantId>,
    pub variant_sku: Option<String>,
    pub name: Option<String>,
    #[schema(value_type = String)]
    pub yield_quantity: Decimal,
    pub is_active: bool,
    pub version: i32,
    pub ingredients: Vec<IngredientView>,
    /// One batch's cost, rolled up from `cost_price` through nested recipes.
    #[schema(value_type = String)]
    pub total_cost: Decimal,
}

async fn view(conn: &mut PgConn, org: OrganizationId, written: RecipeWithIngredients) -> Result<RecipeView, ApiError> {
    let described = recipes::describe(conn, org, &written).await?;
    let recipe = written.recipe;
    let ingredients = written
        .ingredients
        .into_iter()
        .map(|line| {
            let facts = described.ingredients.get(&line.ingredient_variant_id);
            IngredientView {
                id: line.id,
                ingredient_variant_id: line.ingredient_variant_id,
                ingredient_name: facts.map(|f| f.product_name.clone()).unwrap_or_default(),
                ingredient_sku: facts.map(|f| f.sku.clone()).unwrap_or_default(),
                ingredient_unit: facts.map(|f| f.unit_of_measure.clone()).unwrap_or_default(),
                ingredient_is_active: facts.is_some_and(|f| f.is_active),
                quantity: line.quantity.normalize(),
                unit: line.unit,
                is_optional: line.is_optional,
                waste_percentage: line.waste_percentage.normalize(),
                notes: line.notes,
            }
        })
        .collect();
    Ok(RecipeView {
        id: recipe.id,
        recipe_id: recipe.id,
        product_id: recipe.product_id,
        product_name: described.product_name,
        variant_id: recipe.variant_id,
        variant_sku: described.variant_sku,
        name: recipe.name,
        yield_quantity: recipe.yield_quantity.normalize(),
        is_active: recipe.is_active,
        version: recipe.version,
        ingredients,
        total_cost: described.total_cost,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecipeArgs {
    /// The recipe of this variant; absent: the product's recipe for all its variants.
    #[param(schema_with = accepts::id)]
    pub variant_id: Option<String>,
}

/// The product's recipe (for `variant_id`, or for all its variants); 404 `RECIPE_NOT_FOUND`
/// when it has none.
#[utoipa::path(get, path = "/api/v1/products/{id}/recipe", tag = "recipes", params(("id" = uuid::Uuid, Path, description = "The product's id"), RecipeArgs), responses((status = 200, body = RecipeView, headers(("ETag" = String))), (status = 400), (status = 404, description = "PRODUCT_NOT_FOUND or RECIPE_NOT_FOUND")))]
pub async fn get(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<ProductId>,
    args: web::Query<RecipeArgs>,
) -> ApiResult {
    caller.require(Resource::Products, Action::Read)?;
    let mut check = Check::new(Entity::Recipe);
    let variant: Option<VariantId> =
        check.id("variant_id", args.variant_id.as_deref().filter(|v| !v.trim().is_empty()));
    check.finish()?;
    let conn = &mut *state.conn().await?;
    catalog_core::repo::products::get(conn, caller.org(), *id).await?;
    let found = recipes::find_for(conn, caller.org(), *id, variant).await?;
    let written = found.ok_or(ApiError(Error::NotFound(Entity::Recipe)))?;
    let version = written.recipe.version;
    Ok(reply::ok_versioned(view(conn, caller.org(), written).await?, version))
}

/// Creates the product's recipe; 409 `RECIPE_EXISTS` when it has one for that variant.
#[utoipa::path(post, path = "/api/v1/products/{id}/recipe", tag = "recipes", request_body = CreateRecipe, params(("id" = uuid::Uuid, Path, description = "The product's id")), responses((status = 201, body = RecipeView, headers(("ETag" = String))), (status = 400, description = "INVALID_RECIPE_DATA (cycles, units, quantities)"), (status = 404, description = "PRODUCT_NOT_FOUND or VARIANT_NOT_FOUND"), (status = 409, description = "RECIPE_EXISTS")))]
pub async fn create(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<ProductId>,
    body: web::Json<CreateRecipe>,
) -> ApiResult {
    caller.require(Resource::Products, Action::Update)?;
    let body = body.into_inner();
    let mut check = Check::new(Entity::Recipe);
    let variant_id: Option<VariantId> =
        check.id("variant_id", body.variant_id.as_deref().filter(|v| !v.trim().is_empty()));
    let name = check.text("name", body.name.as_deref(), NAME_MAX);
    let max_yield = Decimal::new(9_999_999_999, YIELD_SCALE);
    let yield_quantity = match &body.yield_quantity {
        Some(given) => check.decimal("yield_quantity", Some(given), YIELD_SCALE, max_yield, true),
        None => Some(Decimal::ONE),
    };
    let ingredients = parse_lines(&mut check, body.ingredients);
    check.finish()?;
    let draft = RecipeDraft {
        variant_id,
        name,
        yield_quantity: yield_quantity.unwrap_or(Decimal::ONE),
        is_active: body.is_active.unwrap_or(true),
        ingredients,
    };
    let conn = &mut *state.conn().await?;
    let written = state
        .catalog
        .write(recipes::create(conn, caller.org(), &caller.actor, *id, draft))
        .await
        .explained(conn, caller.org())
        .await?;
    let version = written.recipe.version;
    Ok(reply::created(view(conn, caller.org(), written).await?, version))
}

/// Replaces the recipe's ingredients; send `If-Match` with the `ETag` you read.
#[utoipa::path(put, path = "/api/v1/recipes/{id}/ingredients", tag = "recipes", request_body = Vec<IngredientBody>, params(("id" = uuid::Uuid, Path, description = "The recipe's id"), crate::openapi::IfMatch), responses((status = 200, body = RecipeView, headers(("ETag" = String))), (status = 400, description = "INVALID_RECIPE_DATA"), (status = 404), (status = 412, description = "VERSION_MISMATCH")))]
pub async fn replace_ingredients(
    caller: Caller,
    state: web::Data<ApiState>,
    req: HttpRequest,
    id: web::Path<RecipeId>,
    body: web::Json<IngredientList>,
) -> ApiResult {
    caller.require(Resource::Products, Action::Update)?;
    let expected = if_match(&req)?;
    let bodies = match body.into_inner() {
        IngredientList::Bare(list) | IngredientList::Wrapped { ingredients: list } => list,
    };
    let mut check = Check::new(Entity::Recipe);
    let lines = parse_lines(&mut check, bodies);
    check.finish()?;
    let conn = &mut *state.conn().await?;
    let replace = recipes::replace_ingredients(conn, caller.org(), &caller.actor, *id, expected, lines);
    let written = state.catalog.write(replace).await.explained(conn, caller.org()).await?;
    let version = written.recipe.version;
    Ok(reply::ok_versioned(view(conn, caller.org(), written).await?, version))
}

/// Deletes the recipe; `If-Match` is optional.
#[utoipa::path(delete, path = "/api/v1/recipes/{id}", tag = "recipes", params(("id" = uuid::Uuid, Path, description = "The recipe's id"), crate::openapi::IfMatch), responses((status = 204), (status = 404), (status = 412)))]
pub async fn delete(
    caller: Caller,
    state: web::Data<ApiState>,
    req: HttpRequest,
    id: web::Path<RecipeId>,
) -> ApiResult {
    caller.require(Resource::Products, Action::Update)?;
    let expected = if_match(&req)?;
    let conn = &mut *state.conn().await?;
    state.catalog.write(recipes::delete(conn, caller.org(), &caller.actor, *id, expected)).await?;
    Ok(reply::no_content())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExplodeArgs {
    /// How many were sold (default 1), more than 0.
    #[param(schema_with = quantity_schema)]
    pub quantity: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeductionView {
    pub variant_id: VariantId,
    #[schema(value_type = String)]
    pub quantity: Decimal,
    pub unit: String,
    pub is_optional: bool,
}

/// What selling `quantity` of the variant takes out of inventory.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExplosionView {
    pub variant_id: VariantId,
    #[schema(value_type = String)]
    pub quantity: Decimal,
    /// The recipe used; `null`: no recipe, the variant itself is deducted.
    pub recipe_id: Option<RecipeId>,
    pub deductions: Vec<DeductionView>,
}

/// The stock variants to deduct for a sale: nested recipes expanded, waste applied per level,
/// each quantity in the variant's own unit (6 decimals).
#[utoipa::path(get, path = "/api/v1/variants/{id}/recipe/explode", tag = "recipes", params(("id" = uuid::Uuid, Path, description = "The sold variant's id"), ExplodeArgs), responses((status = 200, body = ExplosionView), (status = 400), (status = 404)))]
pub async fn explode(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<VariantId>,
    args: web::Query<ExplodeArgs>,
) -> ApiResult {
    caller.require(Resource::Products, Action::Read)?;
    let mut check = Check::new(Entity::Recipe);
    let max = Decimal::new(QUANTITY_MAX_UNITS, QUANTITY_SCALE);
    let quantity = match args.quantity.as_deref() {
        Some(raw) => check.decimal("quantity", Some(&Money::text(raw)), QUANTITY_SCALE, max, true),
        None => Some(Decimal::ONE),
    };
    check.finish()?;
    let sold = [(*id, quantity.unwrap_or(Decimal::ONE))];
    let explosion = state
        .catalog
        .explode(caller.org(), &sold)
        .await?
        .pop()
        .flatten()
        .ok_or(ApiError(Error::NotFound(Entity::Variant)))?;
    Ok(reply::ok(ExplosionView {
        variant_id: explosion.variant_id,
        quantity: explosion.quantity.normalize(),
        recipe_id: explosion.recipe_id,
        deductions: explosion
            .deductions
            .into_iter()
            .map(|d| DeductionView {
                variant_id: d.variant_id,
                quantity: d.quantity.normalize(),
                unit: d.unit,
                is_optional: d.is_optional,
            })
            .collect(),
    }))
}
