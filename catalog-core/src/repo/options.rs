//! Option definitions (Color, Talla) and their ordered values (Rojo, M).
//!
//! Values belong to their option's aggregate: adding, changing or removing one bumps the
//! option's `version` and publishes `catalog.option.updated`, so a consumer holding the option
//! can tell its copy of the value list is stale.

use super::outbox;
use super::published::{self, Aggregate, EventDraft, change};
use super::{check_version, found, soft_delete, tenant_reads, update_versioned};
use crate::db::PgConn;
use crate::error::{Entity, Error, FieldError, Result};
use crate::ids::{OptionId, OptionValueId, OrganizationId, ProductId};
use crate::models::{Actor, NewOptionValue, NewProductOption, OptionValue, ProductOption, ProductOptionChanges};
use crate::pagination::{Page, PageRequest};
use crate::schema::{product_option_assignments, product_option_values, product_options, product_variants, products};
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use std::collections::{BTreeMap, HashSet};

// Value changes take the option's lock too, so changes to one option (and its version) serialize.
tenant_reads!(product_options, ProductOption, OptionId, Entity::ProductOption);

/// A value of a live option, with its option; both locked (option first, as everywhere here).
async fn lock_value(
    conn: &mut PgConn,
    org: OrganizationId,
    value_id: OptionValueId,
) -> Result<(ProductOption, OptionValue)> {
    let option_id: Option<OptionId> = product_option_values::table
        .inner_join(product_options::table)
        .filter(product_option_values::organization_id.eq(org))
        .filter(product_options::organization_id.eq(org))
        .filter(product_options::deleted_at.is_null())
        .filter(product_option_values::id.eq(value_id))
        .select(product_option_values::option_id)
        .first(conn)
        .await
        .optional()?;
    let option_id = found(option_id, Entity::OptionValue)?;
    let option = lock(conn, org, option_id).await.map_err(|e| match e {
        Error::NotFound(_) => Error::NotFound(Entity::OptionValue),
        other => other,
    })?;
    let value = product_option_values::table
        .filter(product_option_values::organization_id.eq(org))
        .filter(product_option_values::option_id.eq(option_id))
        .filter(product_option_values::id.eq(value_id))
        .select(OptionValue::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?;
    Ok((option, found(value, Entity::OptionValue)?))
}

/// The option's values in display order.
async fn values_of(conn: &mut PgConn, org: OrganizationId, option_id: OptionId) -> Result<Vec<OptionValue>> {
    Ok(product_option_values::table
        .filter(product_option_values::organization_id.eq(org))
        .filter(product_option_values::option_id.eq(option_id))
        .order((product_option_values::position.asc(), product_option_values::id.asc()))
        .select(OptionValue::as_select())
        .load(conn)
        .await?)
}

/// Bumps the option's version for a change to its values; returns the new version.
async fn bump(conn: &mut PgConn, org: OrganizationId, option: &ProductOption) -> Result<i32> {
    let version = option.version + 1;
    diesel::update(
        product_options::table
            .filter(product_options::organization_id.eq(org))
            .filter(product_options::id.eq(option.id)),
    )
    .set((product_options::version.eq(version), product_options::updated_at.eq(Utc::now())))
    .execute(conn)
    .await?;
    Ok(version)
}

/// The `catalog.option.updated` event of a value change: the value list before and after.
fn values_event(
    option_id: OptionId,
    value_id: OptionValueId,
    version: i32,
    old: &[OptionValue],
    new: &[OptionValue],
) -> EventDraft {
    fn texts(values: &[OptionValue]) -> Vec<&str> {
        values.iter().map(|v| v.value.as_str()).collect()
    }
    published::option_values_changed(option_id, Some(value_id), version, &texts(old), &texts(new))
}

/// Blank values, and values repeated case-insensitively (the unique index compares `lower`).
fn check_values<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    let mut duplicates = Vec::new();
    for value in values {
        if value.trim().is_empty() {
            errors.push(FieldError::new("values", "must not be blank"));
        } else if !seen.insert(value.to_lowercase()) && !duplicates.contains(&value) {
            duplicates.push(value);
        }
    }
    if !duplicates.is_empty() {
        errors.push(FieldError::new("values", format!("repeated values: {}", duplicates.join(", "))));
    }
    errors
}

/// Creates the option with its values, in the given order (`position` = index), in one
/// multi-row insert. Values repeated case-insensitively are a validation error.
pub async fn create(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    mut new: NewProductOption,
    values: &[String],
) -> Result<(ProductOption, Vec<OptionValue>)> {
    new.organization_id = org;
    let errors = check_values(values.iter().map(String::as_str));
    if !errors.is_empty() {
        return Err(Error::validation(Entity::ProductOption, errors));
    }
    let rows: Vec<NewOptionValue> = values
        .iter()
        .enumerate()
        .map(|(position, value)| NewOptionValue {
            id: OptionValueId::generate(),
            organization_id: org,
            option_id: new.id,
            value: value.clone(),
            position: i32::try_from(position).unwrap_or(i32::MAX),
        })
        .collect();
    conn.transaction(async move |conn| {
        let option = diesel::insert_into(product_options::table)
            .values(&new)
            .returning(ProductOption::as_returning())
            .get_result(conn)
            .await?;
        let values = if rows.is_empty() {
            Vec::new()
        } else {
            diesel::insert_into(product_option_values::table)
                .values(&rows)
                .returning(OptionValue::as_returning())
                .get_results(conn)
                .await?
        };
        let mut values: Vec<OptionValue> = values;
        values.sort_by_key(|v| v.position);
        let event = published::option_created(&option, &values);
        outbox::append(conn, org, actor, vec![event]).await?;
        Ok((option, values))
    })
    .await
}

pub async fn list(conn: &mut PgConn, org: OrganizationId, page: &PageRequest) -> Result<Page<ProductOption>> {
    let mut query = live(org).select(ProductOption::as_select()).limit(page.fetch_limit());
    query = page.keyset().apply(query, product_options::id);
    Ok(Page::from_rows(query.load(conn).await?, page))
}

/// The values of many live options in one statement, grouped by option, each group in
/// display order. Missing, deleted and foreign options contribute nothing.
pub async fn list_values(conn: &mut PgConn, org: OrganizationId, option_ids: &[OptionId]) -> Result<Vec<OptionValue>> {
    Ok(product_option_values::table
        .inner_join(product_options::table)
        .filter(product_option_values::organization_id.eq(org))
        .filter(product_options::organization_id.eq(org))
        .filter(product_options::deleted_at.is_null())
        .filter(product_option_values::option_id.eq_any(option_ids))
        .order((
            product_option_values::option_id.asc(),
            product_option_values::position.asc(),
            product_option_values::id.asc(),
        ))
        .select(OptionValue::as_select())
        .load(conn)
        .await?)
}

/// Applies `changes` if the caller's `expected_version` is current. A change that alters
/// nothing keeps the version and publishes nothing.
pub async fn update(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    id: OptionId,
    expected_version: Option<i32>,
    changes: ProductOptionChanges,
) -> Result<ProductOption> {
    conn.transaction(async move |conn| {
        let old = lock(conn, org, id).await?;
        check_version(expected_version, old.version)?;
        Ok(update_versioned!(conn, actor, product_options, ProductOption, Aggregate::ProductOption, old, changes))
    })
    .await
}

/// Soft delete. An option declared by live products is refused (409 `OPTION_IN_USE`) unless
/// `force`, which removes it from those products (each gets a `product.updated` event with
/// its `option_ids` before and after). Variants keep the values they recorded.
pub async fn delete(conn: &mut PgConn, org: OrganizationId, actor: &Actor, id: OptionId, force: bool) -> Result<()> {
    conn.transaction(async move |conn| {
        let option = lock(conn, org, id).await?;
        let users: Vec<ProductId> = product_option_assignments::table
            .inner_join(products::table)
            .filter(product_option_assignments::organization_id.eq(org))
            .filter(products::organization_id.eq(org))
            .filter(products::deleted_at.is_null())
            .filter(product_option_assignments::option_id.eq(id))
            .select(product_option_assignments::product_id)
            .load(conn)
            .await?;
        let mut events = Vec::new();
        if !users.is_empty() && !force {
            return Err(Error::Conflict {
                code: "OPTION_IN_USE",
                message: "the option is used by products; delete with force=true to remove it from them".into(),
                field: None,
                key: Vec::new(),
            });
        }
        if !users.is_empty() {
            // Bumping first locks the products, so their option lists cannot move under us.
            let versions: Vec<(ProductId, i32)> = diesel::update(
                products::table.filter(products::organization_id.eq(org)).filter(products::id.eq_any(&users)),
            )
            .set((products::version.eq(products::version + 1), products::updated_at.eq(Utc::now())))
            .returning((products::id, products::version))
            .get_results(conn)
            .await?;
            let assigned: Vec<(ProductId, OptionId)> = product_option_assignments::table
                .filter(product_option_assignments::organization_id.eq(org))
                .filter(product_option_assignments::product_id.eq_any(&users))
                .order((
                    product_option_assignments::product_id.asc(),
                    product_option_assignments::position.asc(),
                    product_option_assignments::option_id.asc(),
                ))
                .select((product_option_assignments::product_id, product_option_assignments::option_id))
                .load(conn)
                .await?;
            let mut before: BTreeMap<ProductId, Vec<OptionId>> = BTreeMap::new();
            for (product_id, option_id) in assigned {
                before.entry(product_id).or_default().push(option_id);
            }
            events.extend(versions.into_iter().map(|(product_id, version)| {
                let old = before.remove(&product_id).unwrap_or_default();
                let new: Vec<OptionId> = old.iter().copied().filter(|o| *o != id).collect();
                published::updated(Aggregate::Product, product_id, version, &change("option_ids", old, new))
            }));
        }
        // Assignments of deleted products go too: nothing may keep declaring a deleted option.
        diesel::delete(
            product_option_assignments::table
                .filter(product_option_assignments::organization_id.eq(org))
                .filter(product_option_assignments::option_id.eq(id)),
        )
        .execute(conn)
        .await?;
        let version = soft_delete!(conn, product_options, option);
        events.push(published::deleted(Aggregate::ProductOption, id, version));
        outbox::append(conn, org, actor, events).await?;
        Ok(())
    })
    .await
}

/// Adds a value at `position` (default: after the last one). A value the option already has,
/// compared case-insensitively, is 409 `OPTION_VALUE_EXISTS`.
pub async fn add_value(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    option_id: OptionId,
    value: String,
    position: Option<i32>,
) -> Result<OptionValue> {
    let errors = check_values([value.as_str()]);
    if !errors.is_empty() {
        return Err(Error::validation(Entity::OptionValue, rename_field(errors)));
    }
    conn.transaction(async move |conn| {
        let option = lock(conn, org, option_id).await?;
        let old = values_of(conn, org, option_id).await?;
        let position = position.unwrap_or_else(|| old.iter().map(|v| v.position + 1).max().unwrap_or(0));
        let row = NewOptionValue { id: OptionValueId::generate(), organization_id: org, option_id, value, position };
        let created: OptionValue = diesel::insert_into(product_option_values::table)
            .values(&row)
            .returning(OptionValue::as_returning())
            .get_result(conn)
            .await?;
        let new = values_of(conn, org, option_id).await?;
        let version = bump(conn, org, &option).await?;
        outbox::append(conn, org, actor, vec![values_event(option_id, created.id, version, &old, &new)]).await?;
        Ok(created)
    })
    .await
}

/// The option's value named `value` (case-insensitively), added at the end when the option
/// lacks it: front ends name a variant's value (`"option_value": "Blue"`) rather than its id.
pub async fn value_by_name(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    option_id: OptionId,
    value: &str,
) -> Result<OptionValueId> {
    let value = value.trim();
    let existing =
        values_of(conn, org, option_id).await?.into_iter().find(|v| v.value.to_lowercase() == value.to_lowercase());
    match existing {
        Some(found) => Ok(found.id),
        None => Ok(add_value(conn, org, actor, option_id, value.to_string(), None).await?.id),
    }
}

/// Renames and/or moves a value. Nothing to change keeps the option's version.
pub async fn update_value(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    value_id: OptionValueId,
    value: Option<String>,
    position: Option<i32>,
) -> Result<OptionValue> {
    if let Some(text) = &value {
        let errors = check_values([text.as_str()]);
        if !errors.is_empty() {
            return Err(Error::validation(Entity::OptionValue, rename_field(errors)));
        }
    }
    conn.transaction(async move |conn| {
        let (option, current) = lock_value(conn, org, value_id).await?;
        let unchanged =
            value.as_ref().is_none_or(|v| *v == current.value) && position.is_none_or(|p| p == current.position);
        if unchanged {
            return Ok(current);
        }
        let old = values_of(conn, org, option.id).await?;
        let updated: OptionValue = diesel::update(
            product_option_values::table
                .filter(product_option_values::organization_id.eq(org))
                .filter(product_option_values::id.eq(value_id)),
        )
        .set((
            value.map(|v| product_option_values::value.eq(v)),
            position.map(|p| product_option_values::position.eq(p)),
            product_option_values::updated_at.eq(Utc::now()),
        ))
        .returning(OptionValue::as_returning())
        .get_result(conn)
        .await?;
        let new = values_of(conn, org, option.id).await?;
        let version = bump(conn, org, &option).await?;
        outbox::append(conn, org, actor, vec![values_event(option.id, value_id, version, &old, &new)]).await?;
        Ok(updated)
    })
    .await
}

/// Removes a value. A value a live variant uses is refused (409 `OPTION_VALUE_IN_USE`); the
/// records of deleted variants do not keep it alive and are dropped with it.
pub async fn delete_value(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    value_id: OptionValueId,
) -> Result<()> {
    use crate::schema::variant_option_values as vov;
    conn.transaction(async move |conn| {
        // The value row is locked: a variant being given it concurrently waits for us.
        let (option, _) = lock_value(conn, org, value_id).await?;
        let in_use = diesel::select(diesel::dsl::exists(
            vov::table
                .inner_join(product_variants::table.on(product_variants::id.eq(vov::variant_id)))
                .filter(vov::organization_id.eq(org))
                .filter(product_variants::organization_id.eq(org))
                .filter(product_variants::deleted_at.is_null())
                .filter(vov::option_value_id.eq(value_id)),
        ))
        .get_result::<bool>(conn)
        .await?;
        if in_use {
            return Err(Error::Conflict {
                code: "OPTION_VALUE_IN_USE",
                message: "variants use this option value; change or delete them first".into(),
                field: None,
                key: Vec::new(),
            });
        }
        diesel::delete(vov::table.filter(vov::organization_id.eq(org)).filter(vov::option_value_id.eq(value_id)))
            .execute(conn)
            .await?;
        let old = values_of(conn, org, option.id).await?;
        diesel::delete(
            product_option_values::table
                .filter(product_option_values::organization_id.eq(org))
                .filter(product_option_values::id.eq(value_id)),
        )
        .execute(conn)
        .await?;
        let new: Vec<OptionValue> = old.iter().filter(|v| v.id != value_id).cloned().collect();
        let version = bump(conn, org, &option).await?;
        outbox::append(conn, org, actor, vec![values_event(option.id, value_id, version, &old, &new)]).await?;
        Ok(())
    })
    .await
}

/// A single value is the request's `value`, not `values`.
fn rename_field(errors: Vec<FieldError>) -> Vec<FieldError> {
    errors.into_iter().map(|e| FieldError::new("value", e.message)).collect()
}
