//! Options in bulk rows: the options a product declares (by id, or by name) and the values its
//! variants take (by id, or by name from their `attributes`, which is how files carry them).
//! Names the organization has no option or value for yet are created — written only when a
//! committed row uses them, with the events `POST /options` and `POST /options/{id}/values`
//! would publish (one per option).

use super::BulkProduct;
use crate::db::PgConn;
use crate::error::{Entity, FieldError, Result};
use crate::ids::{OptionId, OptionValueId, OrganizationId, ProductId, VariantId};
use crate::models::{NewOptionValue, NewProductOption, NewVariant, OptionValue, ProductOption, Variant};
use crate::repo::published::{self, EventDraft};
use crate::repo::variants::combine;
use crate::schema::{product_option_values, product_options, product_variants};
use chrono::Utc;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Text};
use diesel_async::RunQueryDsl;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Longest option name or value (as the options endpoints take them).
const TEXT_MAX: usize = 100;

/// An option a row declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionRef {
    Id(OptionId),
    /// Matched case-insensitively; created when the organization has no such option.
    Name(String),
}

/// The options and values the rows can refer to, and those planning adds.
#[derive(Default)]
pub(super) struct OptionBook {
    names: HashMap<OptionId, String>,
    by_name: HashMap<String, OptionId>,
    values: HashMap<OptionValueId, (OptionId, String)>,
    value_by_name: HashMap<(OptionId, String), OptionValueId>,
    /// Each known option's values, in position order.
    value_lists: HashMap<OptionId, Vec<(i32, OptionValueId)>>,
    fresh_options: BTreeSet<OptionId>,
    fresh_values: BTreeSet<OptionValueId>,
    /// What each matched product declares now, in order.
    pub declared: HashMap<ProductId, Vec<OptionId>>,
    /// The option combinations the matched products' live variants hold.
    combinations: HashMap<(ProductId, String), VariantId>,
}

/// What a row's variant takes: where its values came from names the field of its errors.
pub(super) struct VariantOptions<'a> {
    pub given: &'a [OptionValueId],
    pub prefix: &'a str,
}

impl OptionBook {
    /// Three reads at most: what the matched products declare, the options the rows name, and
    /// the values of all of them (an option has a handful).
    pub async fn load(
        conn: &mut PgConn,
        org: OrganizationId,
        rows: &[&BulkProduct],
        products: &[ProductId],
    ) -> Result<Self> {
        let mut book = OptionBook::default();
        let mut known: Vec<(OptionId, String)> = Vec::new();
        if !products.is_empty() {
            let declared = crate::repo::products::declared_options(conn, org, products).await?;
            for (product, option, name) in declared {
                book.declared.entry(product).or_default().push(option);
                known.push((option, name));
            }
            let with_options: Vec<ProductId> = book.declared.keys().copied().collect();
            if !with_options.is_empty() {
                let held: Vec<(ProductId, Option<String>, VariantId)> = product_variants::table
                    .filter(product_variants::organization_id.eq(org))
                    .filter(product_variants::product_id.eq_any(&with_options))
                    .filter(product_variants::deleted_at.is_null())
                    .filter(product_variants::option_signature.is_not_null())
                    .select((product_variants::product_id, product_variants::option_signature, product_variants::id))
                    .load(conn)
                    .await?;
                book.combinations = held.into_iter().filter_map(|(p, s, v)| s.map(|s| ((p, s), v))).collect();
            }
        }
        let refs = rows.iter().flat_map(|r| r.options.iter().flatten());
        let ids: Vec<OptionId> =
            refs.clone().filter_map(|r| if let OptionRef::Id(id) = r { Some(*id) } else { None }).collect();
        let names: Vec<String> = refs
            .filter_map(|r| if let OptionRef::Name(n) = r { Some(n.trim().to_lowercase()) } else { None })
            .collect();
        if !ids.is_empty() || !names.is_empty() {
            let named: Vec<(OptionId, String)> = product_options::table
                .filter(product_options::organization_id.eq(org))
                .filter(product_options::deleted_at.is_null())
                .filter(
                    product_options::id
                        .eq_any(&ids)
                        .or(sql::<Bool>("lower(product_options.name) = ANY(").bind::<Array<Text>, _>(&names).sql(")")),
                )
                .select((product_options::id, product_options::name))
                .load(conn)
                .await?;
            known.extend(named);
        }
        let value_ids: Vec<OptionValueId> =
            rows.iter().flat_map(|r| r.option_value_ids.iter().flatten().copied()).collect();
        for (id, name) in known {
            book.by_name.insert(name.to_lowercase(), id);
            book.names.insert(id, name);
        }
        let option_ids: Vec<OptionId> = book.names.keys().copied().collect();
        if !option_ids.is_empty() || !value_ids.is_empty() {
            let values: Vec<(OptionValueId, OptionId, String, i32)> = product_option_values::table
                .filter(product_option_values::organization_id.eq(org))
                .filter(
                    product_option_values::option_id
                        .eq_any(&option_ids)
                        .or(product_option_values::id.eq_any(&value_ids)),
                )
                .order((product_option_values::option_id, product_option_values::position, product_option_values::id))
                .select((
                    product_option_values::id,
                    product_option_values::option_id,
                    product_option_values::value,
                    product_option_values::position,
                ))
                .load(conn)
                .await?;
            for (id, option, value, position) in values {
                book.value_by_name.insert((option, value.to_lowercase()), id);
                book.value_lists.entry(option).or_default().push((position, id));
                book.values.insert(id, (option, value));
            }
        }
        Ok(book)
    }

    /// The row's declared options, in order; unknown names become new options.
    pub fn resolve(&mut self, refs: &[OptionRef]) -> std::result::Result<Vec<OptionId>, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut ids = Vec::with_capacity(refs.len());
        for (i, option) in refs.iter().enumerate() {
            let field = format!("options[{i}]");
            let id = match option {
                OptionRef::Id(id) if self.names.contains_key(id) => *id,
                OptionRef::Id(_) => {
                    errors.push(FieldError::missing(field, Entity::ProductOption));
                    continue;
                }
                OptionRef::Name(name) => match checked_text(name) {
                    Ok(name) => self.option_named(name),
                    Err(message) => {
                        errors.push(FieldError::new(field, message));
                        continue;
                    }
                },
            };
            if ids.contains(&id) {
                errors.push(FieldError::new(field, "lists an option more than once"));
            }
            ids.push(id);
        }
        if errors.is_empty() { Ok(ids) } else { Err(errors) }
    }

    fn option_named(&mut self, name: &str) -> OptionId {
        let key = name.to_lowercase();
        if let Some(id) = self.by_name.get(&key) {
            return *id;
        }
        let id = OptionId::generate();
        self.by_name.insert(key, id);
        self.names.insert(id, name.to_string());
        self.fresh_options.insert(id);
        id
    }

    fn value_named(&mut self, option: OptionId, value: &str) -> OptionValueId {
        let key = (option, value.to_lowercase());
        if let Some(id) = self.value_by_name.get(&key) {
            return *id;
        }
        let id = OptionValueId::generate();
        let list = self.value_lists.entry(option).or_default();
        let position = list.last().map_or(0, |(p, _)| p + 1);
        list.push((position, id));
        self.value_by_name.insert(key, id);
        self.values.insert(id, (option, value.to_string()));
        self.fresh_values.insert(id);
        id
    }

    /// Gives `wanted` the attributes and signature of its option values, and answers the links a
    /// new variant needs. A matched variant keeps the values it was created with: the row may
    /// repeat them (or omit them), never change them, as with single writes.
    pub fn apply(
        &mut self,
        declared: &[OptionId],
        wanted: &mut NewVariant,
        options: VariantOptions<'_>,
        old: Option<&Variant>,
    ) -> std::result::Result<Vec<(OptionId, OptionValueId)>, Vec<FieldError>> {
        let VariantOptions { given, prefix } = options;
        let attributes_given = wanted.attributes.as_object().is_some_and(|a| !a.is_empty());
        let keep_old = |wanted: &mut NewVariant| {
            if let Some(old) = old.filter(|o| o.option_signature.is_some()) {
                wanted.attributes = old.attributes.clone();
                wanted.option_signature = old.option_signature.clone();
            }
        };
        // Values given without declared options are refused by `combine` below (naming first
        // the ones that do not exist).
        if declared.is_empty() && given.is_empty() {
            keep_old(wanted);
            return Ok(Vec::new());
        }
        if given.is_empty() && !attributes_given && old.is_some() {
            keep_old(wanted);
            return Ok(Vec::new());
        }
        let field = if given.is_empty() { "attributes" } else { "option_value_ids" };
        let chosen =
            if given.is_empty() { self.values_from_attributes(declared, wanted, prefix)? } else { given.to_vec() };
        let named: Vec<(OptionId, String)> =
            declared.iter().map(|id| (*id, self.names.get(id).cloned().unwrap_or_default())).collect();
        let values: Vec<(OptionValueId, OptionId, String)> = chosen
            .iter()
            .filter_map(|id| self.values.get(id).map(|(option, value)| (*id, *option, value.clone())))
            .collect();
        let rename = |errors: Vec<FieldError>| -> Vec<FieldError> {
            errors.into_iter().map(|e| FieldError { field: format!("{prefix}{field}"), ..e }).collect()
        };
        let Some(combination) = combine(&named, &chosen, &values).map_err(rename)? else { return Ok(Vec::new()) };
        let holder = self.combinations.entry((wanted.product_id, combination.signature.clone())).or_insert(wanted.id);
        if *holder != wanted.id {
            let message = "are the option values of another variant of the product";
            return Err(vec![FieldError::new(format!("{prefix}{field}"), message)]);
        }
        wanted.attributes = combination.attributes;
        wanted.option_signature = Some(combination.signature);
        match old {
            None => Ok(combination.links),
            Some(old) if old.option_signature == wanted.option_signature => Ok(Vec::new()),
            Some(_) => Err(rename(vec![FieldError::new(field, "option values are fixed when the variant is created")])),
        }
    }

    /// `{"Color": "Rojo"}` → the value ids, creating values the options lack.
    fn values_from_attributes(
        &mut self,
        declared: &[OptionId],
        variant: &NewVariant,
        prefix: &str,
    ) -> std::result::Result<Vec<OptionValueId>, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut chosen = Vec::new();
        for (key, value) in variant.attributes.as_object().into_iter().flatten() {
            let field = format!("{prefix}attributes.{key}");
            let option = declared
                .iter()
                .find(|id| self.names.get(id).is_some_and(|n| n.to_lowercase() == key.trim().to_lowercase()));
            let Some(option) = option.copied() else {
                errors.push(FieldError::new(field, "is not an option the product declares"));
                continue;
            };
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => {
                    errors.push(FieldError::new(field, "must be the option's value as text"));
                    continue;
                }
            };
            match checked_text(&text) {
                Ok(text) => chosen.push(self.value_named(option, text)),
                Err(message) => errors.push(FieldError::new(field, message)),
            }
        }
        if errors.is_empty() { Ok(chosen) } else { Err(errors) }
    }

    /// Writes the new options and values the committed rows use (one insert each), bumps the
    /// existing options that gained values (one update), and appends their events.
    pub async fn write(
        &self,
        conn: &mut PgConn,
        org: OrganizationId,
        used: &BTreeSet<OptionId>,
        links: &[(OptionId, OptionValueId)],
        events: &mut Vec<EventDraft>,
    ) -> Result<()> {
        let new_options: Vec<NewProductOption> = self
            .fresh_options
            .iter()
            .filter(|id| used.contains(id))
            .map(|id| NewProductOption { id: *id, organization_id: org, name: self.names[id].clone(), position: 0 })
            .collect();
        let used_values: BTreeSet<OptionValueId> =
            links.iter().map(|(_, value)| *value).filter(|v| self.fresh_values.contains(v)).collect();
        let new_values: Vec<NewOptionValue> = used_values
            .iter()
            .map(|id| {
                let option = self.values[id].0;
                let position = self.value_lists[&option].iter().find(|(_, v)| v == id).map_or(0, |(p, _)| *p);
                NewOptionValue {
                    id: *id,
                    organization_id: org,
                    option_id: option,
                    value: self.values[id].1.clone(),
                    position,
                }
            })
            .collect();
        let created: Vec<ProductOption> = if new_options.is_empty() {
            Vec::new()
        } else {
            diesel::insert_into(product_options::table)
                .values(&new_options)
                .returning(ProductOption::as_returning())
                .get_results(conn)
                .await?
        };
        let added: Vec<OptionValue> = if new_values.is_empty() {
            Vec::new()
        } else {
            diesel::insert_into(product_option_values::table)
                .values(&new_values)
                .returning(OptionValue::as_returning())
                .get_results(conn)
                .await?
        };
        let mut added_to: BTreeMap<OptionId, Vec<OptionValue>> = BTreeMap::new();
        for value in added {
            added_to.entry(value.option_id).or_default().push(value);
        }
        for option in created {
            let mut values = added_to.remove(&option.id).unwrap_or_default();
            values.sort_by_key(|v| v.position);
            events.push(published::option_created(&option, &values));
        }
        if added_to.is_empty() {
            return Ok(());
        }
        let grown: Vec<OptionId> = added_to.keys().copied().collect();
        let bumped: Vec<(OptionId, i32)> = diesel::update(
            product_options::table
                .filter(product_options::organization_id.eq(org))
                .filter(product_options::id.eq_any(&grown)),
        )
        .set((product_options::version.eq(product_options::version + 1), product_options::updated_at.eq(Utc::now())))
        .returning((product_options::id, product_options::version))
        .get_results(conn)
        .await?;
        for (option, version) in bumped {
            let text = |id: &OptionValueId| self.values[id].1.as_str();
            let list = &self.value_lists[&option];
            let old: Vec<&str> =
                list.iter().filter(|(_, v)| !self.fresh_values.contains(v)).map(|(_, v)| text(v)).collect();
            let new: Vec<&str> = list
                .iter()
                .filter(|(_, v)| !self.fresh_values.contains(v) || used_values.contains(v))
                .map(|(_, v)| text(v))
                .collect();
            events.push(published::option_values_changed(option, None, version, &old, &new));
        }
        Ok(())
    }
}

fn checked_text(text: &str) -> std::result::Result<&str, String> {
    let text = text.trim();
    if text.is_empty() {
        Err("must not be blank".into())
    } else if text.chars().count() > TEXT_MAX {
        Err(format!("must be at most {TEXT_MAX} characters"))
    } else {
        Ok(text)
    }
}
