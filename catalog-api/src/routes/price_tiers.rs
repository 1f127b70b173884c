//! `/api/v1/price-tiers` and `/api/v1/price-tiers/{id}/rules`: volume price tiers and their
//! "from `min_qty` units, this unit price" rules. Rules have no version of their own: rule
//! routes answer the tier's version as `ETag` and check `If-Match` against it.

use crate::caller::Caller;
use crate::error::{ApiError, ApiResult, Explained};
use crate::openapi::accepts;
use crate::reply::{self, PageArgs, if_match};
use crate::routes::{NamedListArgs, flag};
use crate::state::ApiState;
use crate::views::{PriceTierView, RuleView, count_of};
use actix_web::{HttpRequest, web};
use catalog_core::auth::{Action, Resource};
use catalog_core::db::PgConn;
use catalog_core::error::{Entity, Error, FieldError};
use catalog_core::ids::{OrganizationId, PriceTierId, PriceTierRuleId, ProductId, VariantId};
use catalog_core::models::{
    NewPriceTier, NewPriceTierRule, PriceTier, PriceTierChanges, PriceTierRule, PriceTierRuleChanges, max_chars,
};
use catalog_core::repo::{price_tiers, variants};
use catalog_core::validate::{Check, Money, nullable};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    paths(list, create, get, update, delete, list_rules, add_rule, get_rule, update_rule, delete_rule),
    components(schemas(CreatePriceTier, UpdatePriceTier, CreateRule, UpdateRule, PriceTierView, RuleView))
)]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/price-tiers").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            web::resource("/price-tiers/{id}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::put().to(update))
                .route(web::delete().to(delete)),
        )
        .service(
            web::resource("/price-tiers/{id}/rules").route(web::get().to(list_rules)).route(web::post().to(add_rule)),
        )
        .service(
            web::resource("/price-tiers/{id}/rules/{rule_id}")
                .route(web::get().to(get_rule))
                .route(web::patch().to(update_rule))
                .route(web::put().to(update_rule))
                .route(web::delete().to(delete_rule)),
        );
}

const NAME_MAX: usize = 200;
const PRIORITY_MAX: i64 = 1_000_000;
const MIN_QTY_MAX: i64 = i32::MAX as i64;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePriceTier {
    #[schema(schema_with = accepts::required_text::<NAME_MAX>, required = true)]
    pub name: Option<String>,
    /// Generated from the name when absent.
    #[schema(schema_with = accepts::slug::<200>)]
    pub slug: Option<String>,
    #[schema(schema_with = accepts::text::<5000>)]
    pub description: Option<String>,
    /// 0 (default) is the highest priority: the tier used when a price request names none.
    #[schema(schema_with = accepts::int::<0, PRIORITY_MAX>)]
    #[serde(default, deserialize_with = "catalog_core::validate::whole_number")]
    pub priority: Option<i64>,
    /// Default true.
    pub is_active: Option<bool>,
    #[schema(schema_with = accepts::metadata)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePriceTier {
    #[schema(schema_with = accepts::present_text::<NAME_MAX>)]
    pub name: Option<String>,
    #[schema(schema_with = accepts::slug::<200>)]
    pub slug: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = accepts::text::<5000>)]
    pub description: Option<Option<String>>,
    #[schema(schema_with = accepts::int::<0, PRIORITY_MAX>)]
    #[serde(default, deserialize_with = "catalog_core::validate::whole_number")]
    pub priority: Option<i64>,
    pub is_active: Option<bool>,
    /// Replaces the tier's metadata.
    #[schema(schema_with = accepts::metadata)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRule {
    /// A live variant of the organization.
    #[schema(schema_with = accepts::required_id, required = true)]
    pub variant_id: Option<String>,
    /// From this many units (> 0).
    #[serde(alias = "min_quantity")]
    #[schema(schema_with = accepts::required_int::<1, MIN_QTY_MAX>, required = true)]
    #[serde(default, deserialize_with = "catalog_core::validate::whole_number")]
    pub min_qty: Option<i64>,
    /// Unit price (> 0), a decimal string or a number.
    #[schema(schema_with = accepts::price, required = true)]
    pub price: Option<Money>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRule {
    #[serde(alias = "min_quantity")]
    #[schema(schema_with = accepts::int::<1, MIN_QTY_MAX>)]
    #[serde(default, deserialize_with = "catalog_core::validate::whole_number")]
    pub min_qty: Option<i64>,
    #[schema(schema_with = accepts::positive_money)]
    pub price: Option<Money>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct GetArgs {
    /// Embed the tier's rules with their variants (default true).
    #[param(schema_with = accepts::flag)]
    pub include_rules: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RulesArgs {
    /// Only the rules of this variant.
    #[param(schema_with = accepts::id)]
    pub variant_id: Option<String>,
}

/// Rules as the pages show them, with their variants (one more statement for all).
async fn rule_views(
    conn: &mut PgConn,
    org: OrganizationId,
    rules: Vec<PriceTierRule>,
) -> Result<Vec<RuleView>, ApiError> {
    let ids: Vec<VariantId> = rules.iter().map(|r| r.variant_id).collect();
    let summaries = variants::summaries(conn, org, &ids).await?;
    Ok(RuleView::many(rules, &summaries))
}

async fn rule_view(conn: &mut PgConn, org: OrganizationId, rule: PriceTierRule) -> Result<RuleView, ApiError> {
    let mut one = rule_views(conn, org, vec![rule]).await?;
    one.pop().ok_or(ApiError(Error::NotFound(Entity::PriceTierRule)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DeleteArgs {
    /// Delete even if the tier has rules (they are deleted too).
    #[serde(default)]
    pub force: bool,
}

fn min_qty(check: &mut Check, value: Option<i64>) -> Option<i32> {
    match value {
        Some(qty) if qty < 1 => {
            check.fail("min_qty", "must be greater than 0");
            None
        }
        other => check.int("min_qty", other, 1, MIN_QTY_MAX),
    }
}

async fn product_of(
    conn: &mut PgConn,
    org: OrganizationId,
    variant_id: VariantId,
) -> Result<Option<ProductId>, ApiError> {
    Ok(variants::find(conn, org, variant_id).await?.map(|v| v.product_id))
}

/// The tier as the pages show it, with its rule count.
async fn view(conn: &mut PgConn, org: OrganizationId, tier: PriceTier) -> ApiResult<PriceTierView> {
    let counts = price_tiers::rule_counts(conn, org, &[tier.id]).await?;
    let count = count_of(&counts, &tier.id);
    Ok(PriceTierView::new(tier, Some(count)))
}

/// List price tiers, oldest first, with their rule counts; `search` and `is_active` filter.
#[utoipa::path(get, path = "/api/v1/price-tiers", tag = "price-tiers", params(PageArgs, NamedListArgs), responses((status = 200, body = crate::openapi::PriceTierPage)))]
pub async fn list(
    caller: Caller,
    state: web::Data<ApiState>,
    args: web::Query<PageArgs>,
    named: web::Query<NamedListArgs>,
) -> ApiResult {
    caller.require(Resource::PriceTiers, Action::Read)?;
    let page = args.request(&state.settings.pagination)?;
    let filter = named.filter(Entity::PriceTier)?;
    let conn = &mut *state.conn().await?;
    let found = price_tiers::list(conn, caller.org(), &filter, &page).await?;
    let ids: Vec<PriceTierId> = found.items.iter().map(|t| t.id).collect();
    let counts = price_tiers::rule_counts(conn, caller.org(), &ids).await?;
    let found = found.map(|t| {
        let count = count_of(&counts, &t.id);
        PriceTierView::new(t, Some(count))
    });
    Ok(reply::ok(reply::connection(found, |t| t.price_tier_id.as_uuid())))
}

#[utoipa::path(post, path = "/api/v1/price-tiers", tag = "price-tiers", request_body = CreatePriceTier, responses((status = 201, body = PriceTierView, headers(("ETag" = String))), (status = 400), (status = 409, description = "PRICE_TIER_NAME_EXISTS or PRICE_TIER_SLUG_EXISTS")))]
pub async fn create(caller: Caller, state: web::Data<ApiState>, body: web::Json<CreatePriceTier>) -> ApiResult {
    caller.require(Resource::PriceTiers, Action::Create)?;
    let body = body.into_inner();
    let mut check = Check::new(Entity::PriceTier);
    let name = check.required_text("name", body.name.as_deref(), NAME_MAX);
    let slug = check.slug("slug", body.slug.as_deref());
    let description = check.text("description", body.description.as_deref(), max_chars::DESCRIPTION);
    let priority = check.int("priority", body.priority, 0, PRIORITY_MAX);
    let metadata = check.object("metadata", body.metadata);
    check.finish()?;
    let new = NewPriceTier {
        metadata,
        id: PriceTierId::generate(),
        organization_id: caller.org(),
        name: name.unwrap_or_default(),
        slug: slug.unwrap_or_default(),
        description,
        priority: priority.unwrap_or(0),
        is_active: body.is_active.unwrap_or(true),
    };
    let conn = &mut *state.conn().await?;
    let tier = state
        .catalog
        .write(price_tiers::create(conn, caller.org(), &caller.actor, new))
        .await
        .explained(conn, caller.org())
        .await?;
    let version = tier.version;
    Ok(reply::created(PriceTierView::new(tier, Some(0)), version))
}

/// The tier with its rule count and (unless `include_rules=false`) its rules.
#[utoipa::path(get, path = "/api/v1/price-tiers/{id}", tag = "price-tiers", params(("id" = uuid::Uuid, Path, description = "The price tier's id"), GetArgs), responses((status = 200, body = crate::openapi::PriceTierDetails, headers(("ETag" = String))), (status = 400), (status = 404)))]
pub async fn get(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<PriceTierId>,
    args: web::Query<GetArgs>,
) -> ApiResult {
    caller.require(Resource::PriceTiers, Action::Read)?;
    let mut check = Check::new(Entity::PriceTier);
    let with_rules = flag(&mut check, "include_rules", args.include_rules.as_deref()).unwrap_or(true);
    check.finish()?;
    let conn = &mut *state.conn().await?;
    let tier = price_tiers::get(conn, caller.org(), *id).await?;
    let version = tier.version;
    let mut answer = serde_json::to_value(view(conn, caller.org(), tier).await?)
        .map_err(|e| ApiError(Error::internal_from("encoding a price tier", &e)))?;
    if with_rules {
        let rules = price_tiers::list_rules(conn, caller.org(), *id).await?;
        answer["rules"] = json!(rule_views(conn, caller.org(), rules).await?);
    }
    Ok(reply::ok_versioned(answer, version))
}

/// Partial update; send `If-Match` with the `ETag` you read to avoid overwriting someone else.
#[utoipa::path(patch, path = "/api/v1/price-tiers/{id}", tag = "price-tiers", request_body = UpdatePriceTier, params(("id" = uuid::Uuid, Path, description = "The price tier's id"), crate::openapi::IfMatch), responses((status = 200, body = PriceTierView, headers(("ETag" = String))), (status = 400), (status = 404), (status = 409), (status = 412)))]
pub async fn update(
    caller: Caller,
    state: web::Data<ApiState>,
    req: HttpRequest,
    id: web::Path<PriceTierId>,
    body: web::Json<UpdatePriceTier>,
) -> ApiResult {
    caller.require(Resource::PriceTiers, Action::Update)?;
    let expected = if_match(&req)?;
    let body = body.into_inner();
    let mut check = Check::new(Entity::PriceTier);
    let name = body.name.as_deref().map(|n| check.required_text("name", Some(n), NAME_MAX));
    let slug = body.slug.as_deref().map(|s| check.slug("slug", Some(s)));
    let description =
        body.description.map(|d| d.and_then(|d| check.text("description", Some(&d), max_chars::DESCRIPTION)));
    let priority = check.int("priority", body.priority, 0, PRIORITY_MAX);
    let metadata = check.object("metadata", body.metadata);
    check.finish()?;
    let changes = PriceTierChanges {
        name: name.flatten(),
        slug: slug.flatten(),
        description,
        priority,
        is_active: body.is_active,
        metadata,
    };
    let conn = &mut *state.conn().await?;
    let tier = state
        .catalog
        .write(price_tiers::update(conn, caller.org(), &caller.actor, *id, expected, changes))
        .await
        .explained(conn, caller.org())
        .await?;
    // A renamed or deactivated tier changes cached prices: drop the organization's cache.
    let version = tier.version;
    Ok(reply::ok_versioned(view(conn, caller.org(), tier).await?, version))
}

#[utoipa::path(delete, path = "/api/v1/price-tiers/{id}", tag = "price-tiers", params(("id" = uuid::Uuid, Path, description = "The price tier's id"), DeleteArgs), responses((status = 204), (status = 404), (status = 409, description = "PRICE_TIER_HAS_RULES")))]
pub async fn delete(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<PriceTierId>,
    args: web::Query<DeleteArgs>,
) -> ApiResult {
    caller.require(Resource::PriceTiers, Action::Delete)?;
    state
        .catalog
        .write(price_tiers::delete(&mut *state.conn().await?, caller.org(), &caller.actor, *id, args.force))
        .await?;
    Ok(reply::no_content())
}

/// A page of the tier's rules for live variants (rule id order), optionally of one variant:
/// `{price_tier, rules: {edges, pageInfo}}`. The `ETag` is the tier's version, for `If-Match`
/// on rule changes.
#[utoipa::path(get, path = "/api/v1/price-tiers/{id}/rules", tag = "price-tiers", params(("id" = uuid::Uuid, Path, description = "The price tier's id"), PageArgs, RulesArgs), responses((status = 200, body = crate::openapi::TierRules, headers(("ETag" = String))), (status = 400), (status = 404)))]
pub async fn list_rules(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<PriceTierId>,
    page: web::Query<PageArgs>,
    args: web::Query<RulesArgs>,
) -> ApiResult {
    caller.require(Resource::PriceTiers, Action::Read)?;
    let page = page.request(&state.settings.pagination)?;
    let mut check = Check::new(Entity::PriceTierRule);
    let variant_id = check.id::<VariantId>("variant_id", args.variant_id.as_deref());
    check.finish()?;
    let conn = &mut *state.conn().await?;
    let tier = price_tiers::get(conn, caller.org(), *id).await?;
    let mut found = price_tiers::rules_page(conn, caller.org(), tier.id, variant_id, &page).await?;
    let items = rule_views(conn, caller.org(), std::mem::take(&mut found.items)).await?;
    let rules = reply::connection(found.with_items(items), |r| r.rule_id.as_uuid());
    let price_tier = json!({ "price_tier_id": tier.id, "id": tier.id, "name": tier.name, "slug": tier.slug });
    Ok(reply::ok_versioned(json!({ "price_tier": price_tier, "rules": rules }), tier.version))
}

/// Adds a rule; answers it with the tier's new version as `ETag`.
#[utoipa::path(post, path = "/api/v1/price-tiers/{id}/rules", tag = "price-tiers", request_body = CreateRule, params(("id" = uuid::Uuid, Path, description = "The price tier's id")), responses((status = 201, body = RuleView, headers(("ETag" = String))), (status = 400), (status = 404), (status = 409, description = "PRICE_TIER_RULE_EXISTS")))]
pub async fn add_rule(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<PriceTierId>,
    body: web::Json<CreateRule>,
) -> ApiResult {
    caller.require(Resource::PriceTiers, Action::Update)?;
    let body = body.into_inner();
    let mut check = Check::new(Entity::PriceTierRule);
    if body.variant_id.as_deref().is_none_or(|v| v.trim().is_empty()) {
        check.fail("variant_id", "is required");
    }
    let variant_id = check.id::<VariantId>("variant_id", body.variant_id.as_deref().filter(|v| !v.trim().is_empty()));
    let conn = &mut *state.conn().await?;
    // The variant is looked up during validation so an unknown one is reported with every other
    // failing field.
    if let Some(variant_id) = variant_id {
        if product_of(conn, caller.org(), variant_id).await?.is_none() {
            check.extend([FieldError::missing("variant_id", Entity::Variant)]);
        }
    }
    if body.min_qty.is_none() {
        check.fail("min_qty", "is required");
    }
    let min_qty = min_qty(&mut check, body.min_qty);
    if body.price.is_none() {
        check.fail("price", "is required");
    }
    let price = check.money("price", body.price.as_ref(), true);
    check.finish()?;
    let (Some(variant_id), Some(min_qty), Some(price)) = (variant_id, min_qty, price) else {
        return Err(ApiError(Error::internal("rule fields passed validation unset")));
    };
    let new = NewPriceTierRule {
        id: PriceTierRuleId::generate(),
        organization_id: caller.org(),
        price_tier_id: *id,
        variant_id,
        min_qty,
        price,
    };
    let rule = state
        .catalog
        .write(price_tiers::add_rule(conn, caller.org(), &caller.actor, *id, new))
        .await
        .explained(conn, caller.org())
        .await?;
    let version = price_tiers::get(conn, caller.org(), *id).await?.version;
    Ok(reply::created(rule_view(conn, caller.org(), rule).await?, version))
}

#[utoipa::path(get, path = "/api/v1/price-tiers/{id}/rules/{rule_id}", tag = "price-tiers", responses((status = 200, body = RuleView, headers(("ETag" = String))), (status = 404)))]
pub async fn get_rule(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<(PriceTierId, PriceTierRuleId)>,
) -> ApiResult {
    caller.require(Resource::PriceTiers, Action::Read)?;
    let (tier_id, rule_id) = path.into_inner();
    let conn = &mut *state.conn().await?;
    let tier = price_tiers::get(conn, caller.org(), tier_id).await?;
    let rule = price_tiers::get_rule(conn, caller.org(), tier.id, rule_id).await?;
    Ok(reply::ok_versioned(rule_view(conn, caller.org(), rule).await?, tier.version))
}

/// Changes a rule's `min_qty` and/or `price`; `If-Match` takes the tier's `ETag`.
#[utoipa::path(patch, path = "/api/v1/price-tiers/{id}/rules/{rule_id}", tag = "price-tiers", request_body = UpdateRule, params(crate::openapi::IfMatch), responses((status = 200, body = RuleView, headers(("ETag" = String))), (status = 400), (status = 404), (status = 409, description = "PRICE_TIER_RULE_EXISTS"), (status = 412)))]
pub async fn update_rule(
    caller: Caller,
    state: web::Data<ApiState>,
    req: HttpRequest,
    path: web::Path<(PriceTierId, PriceTierRuleId)>,
    body: web::Json<UpdateRule>,
) -> ApiResult {
    caller.require(Resource::PriceTiers, Action::Update)?;
    let expected = if_match(&req)?;
    let (tier_id, rule_id) = path.into_inner();
    let body = body.into_inner();
    let mut check = Check::new(Entity::PriceTierRule);
    let min_qty = min_qty(&mut check, body.min_qty);
    let price = check.money("price", body.price.as_ref(), true);
    check.finish()?;
    let changes = PriceTierRuleChanges { min_qty, price };
    let conn = &mut *state.conn().await?;
    let rule = state
        .catalog
        .write(price_tiers::update_rule(conn, caller.org(), &caller.actor, tier_id, rule_id, expected, changes))
        .await
        .explained(conn, caller.org())
        .await?;
    let version = price_tiers::get(conn, caller.org(), tier_id).await?.version;
    Ok(reply::ok_versioned(rule_view(conn, caller.org(), rule).await?, version))
}

/// Deletes a rule; `If-Match` takes the tier's `ETag`.
#[utoipa::path(delete, path = "/api/v1/price-tiers/{id}/rules/{rule_id}", tag = "price-tiers", params(crate::openapi::IfMatch), responses((status = 204), (status = 404), (status = 412)))]
pub async fn delete_rule(
    caller: Caller,
    state: web::Data<ApiState>,
    req: HttpRequest,
    path: web::Path<(PriceTierId, PriceTierRuleId)>,
) -> ApiResult {
    caller.require(Resource::PriceTiers, Action::Update)?;
    let expected = if_match(&req)?;
    let (tier_id, rule_id) = path.into_inner();
    let conn = &mut *state.conn().await?;
    state
        .catalog
        .write(price_tiers::delete_rule(conn, caller.org(), &caller.actor, tier_id, rule_id, expected))
        .await?;
    Ok(reply::no_content())
}
