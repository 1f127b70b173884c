//! Request validation that reports every failing field at once.
//!
//! Request bodies deserialize into lenient shapes (text as `String`, money as [`Money`], ids as
//! text) so that a wrong value becomes a field error here instead of stopping serde at the first
//! problem; [`Check`] then converts and collects.

use crate::error::{Entity, Error, FieldError, Result};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use std::str::FromStr;

/// A decimal amount as sent: a string (`"24.99"`), taken exactly, or a JSON number (`24.99`).
/// A JSON number is a binary float, so it is checked against the bounds as sent and then taken to
/// the field's decimals, half to even (`0.1 + 0.2` sent from JavaScript is 0.30); a string with
/// too many decimals is refused instead, since its sender could have been exact.
#[derive(Debug, Clone, PartialEq)]
pub enum Money {
    Text(String),
    Number(f64),
}

impl Money {
    pub fn text(value: &str) -> Self {
        Money::Text(value.trim().to_string())
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Money;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a decimal number or string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Money, E> {
                Ok(Money::text(v))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<Money, E> {
                Ok(Money::Number(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Money, E> {
                Ok(Money::Text(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Money, E> {
                Ok(Money::Text(v.to_string()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// For PATCH-style bodies: absent → `None`, `null` → `Some(None)`, a value → `Some(Some(v))`.
/// Use with `#[serde(default, deserialize_with = "validate::nullable")]`.
pub fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// An integer field that also takes a JSON number without a fraction (`5.0`): JSON Schema
/// calls it an integer, and JavaScript clients send it. Use with
/// `#[serde(default, deserialize_with = "validate::whole_number")]`.
pub fn whole_number<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<i64>, D::Error> {
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an integer")
        }
        fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Self::Value, E> {
            i64::try_from(v).map(Some).map_err(|_| E::custom("integer out of range"))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<Self::Value, E> {
            // ±2^63 is the first float outside i64's range.
            if v.fract() == 0.0 && v.abs() < 9_223_372_036_854_775_808.0 {
                Ok(Some(v as i64))
            } else {
                Err(E::custom(format!("invalid type: number `{v}`, expected an integer")))
            }
        }
    }
    d.deserialize_any(Visitor)
}

pub struct Check {
    entity: Entity,
    errors: Vec<FieldError>,
}

impl Check {
    pub fn new(entity: Entity) -> Self {
        Self { entity, errors: Vec::new() }
    }

    pub fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// Adds errors found elsewhere (e.g. a repository's own field validation).
    pub fn extend(&mut self, errors: impl IntoIterator<Item = FieldError>) {
        self.errors.extend(errors);
    }

    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// `Err(Validation)` listing every failure, or `Ok`.
    pub fn finish(self) -> Result<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation { entity: self.entity, fields: self.errors })
        }
    }

    /// Trimmed text of at most `max` characters; empty counts as absent.
    pub fn text(&mut self, field: &str, value: Option<&str>, max: usize) -> Option<String> {
        let value = value.map(str::trim).filter(|v| !v.is_empty())?;
        if value.contains('\0') {
            self.fail(field, NUL_MESSAGE);
            return None;
        }
        if value.chars().count() > max {
            self.fail(field, format!("must be at most {max} characters"));
            return None;
        }
        Some(value.to_string())
    }

    /// A JSON object (metadata), without NUL characters: PostgreSQL's `jsonb` refuses them.
    pub fn object(&mut self, field: &str, value: Option<serde_json::Value>) -> Option<serde_json::Value> {
        match value {
            Some(object @ serde_json::Value::Object(_)) if !has_nul(&object) => Some(object),
            Some(serde_json::Value::Object(_)) => {
                self.fail(field, NUL_MESSAGE);
                None
            }
            Some(_) => {
                self.fail(field, "must be a JSON object");
                None
            }
            None => None,
        }
    }

    pub fn required_text(&mut self, field: &str, value: Option<&str>, max: usize) -> Option<String> {
        if value.map(str::trim).is_none_or(str::is_empty) {
            self.fail(field, "is required");
            return None;
        }
        self.text(field, value, max)
    }

    /// Lowercase letters, digits and single dashes.
    pub fn slug(&mut self, field: &str, value: Option<&str>) -> Option<String> {
        let slug = self.text(field, value, crate::models::max_chars::SLUG)?;
        let valid = slug
            .split('-')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        if !valid {
            self.fail(field, "must be lowercase letters, digits and single dashes");
            return None;
        }
        Some(slug)
    }

    /// An absolute http(s) URL a browser can load: a host name (no user info, no IPv6
    /// literal), an optional port, then an optional path, query or fragment; no blanks.
    pub fn url(&mut self, field: &str, value: Option<&str>) -> Option<String> {
        let url = self.text(field, value, crate::models::max_chars::URL)?;
        if !is_web_url(&url) {
            self.fail(field, "must be an absolute http(s) URL: http(s)://host[:port][/path]");
            return None;
        }
        Some(url)
    }

    /// A value parsed by `parse` (enums with aliases), else an error listing what is expected.
    pub fn choice<T>(
        &mut self,
        field: &str,
        value: Option<&str>,
        parse: impl Fn(&str) -> Option<T>,
        expected: &str,
    ) -> Option<T> {
        let raw = value?;
        let parsed = parse(raw);
        if parsed.is_none() {
            self.fail(field, format!("must be one of {expected}"));
        }
        parsed
    }

    pub fn id<T: FromStr>(&mut self, field: &str, value: Option<&str>) -> Option<T> {
        let raw = value?.trim();
        let parsed = raw.parse().ok();
        if parsed.is_none() {
            self.fail(field, "must be a UUID");
        }
        parsed
    }

    /// A money amount fitting NUMERIC(12,2), `> 0` when `positive`, else `≥ 0`.
    pub fn money(&mut self, field: &str, value: Option<&Money>, positive: bool) -> Option<Decimal> {
        self.decimal(field, value, 2, Decimal::new(999_999_999_999, 2), positive)
    }

    /// A decimal with at most `scale` decimals, between 0 (or `10^-scale` when `positive`) and
    /// `max`. A JSON number is bounded as sent, then rounded to `scale` (see [`Money`]).
    pub fn decimal(
        &mut self,
        field: &str,
        value: Option<&Money>,
        scale: u32,
        max: Decimal,
        positive: bool,
    ) -> Option<Decimal> {
        let parsed = match value? {
            Money::Text(raw) => Decimal::from_str(raw).or_else(|_| Decimal::from_scientific(raw)).ok().map(Some),
            Money::Number(number) => Decimal::from_str(&number.to_string())
                .or_else(|_| Decimal::from_scientific(&format!("{number:e}")))
                .ok()
                .map(|exact| self.number_within(field, exact, scale, max, positive)),
        };
        let Some(amount) = parsed else {
            self.fail(field, "must be a decimal number");
            return None;
        };
        let amount = amount?.normalize();
        if amount.scale() > scale {
            self.fail(field, format!("must have at most {scale} decimals"));
            return None;
        }
        self.within(field, amount, scale, max, positive).then_some(amount)
    }

    /// A JSON number's bounds are checked before rounding, so a number the document calls out
    /// of range (`-0.001`, `0.004` for a positive amount) is refused, never rounded into range.
    fn number_within(
        &mut self,
        field: &str,
        exact: Decimal,
        scale: u32,
        max: Decimal,
        positive: bool,
    ) -> Option<Decimal> {
        self.within(field, exact, scale, max, positive)
            .then(|| exact.round_dp_with_strategy(scale, rust_decimal::RoundingStrategy::MidpointNearestEven))
    }

    /// Between 0 (or `10^-scale` when `positive`) and `max`; a failure is recorded.
    fn within(&mut self, field: &str, amount: Decimal, scale: u32, max: Decimal, positive: bool) -> bool {
        let smallest = Decimal::new(1, scale);
        if positive && amount < smallest {
            self.fail(field, format!("must be at least {smallest}"));
        } else if amount < Decimal::ZERO {
            self.fail(field, "must not be negative");
        } else if amount > max {
            self.fail(field, format!("must be at most {max}"));
        } else {
            return true;
        }
        false
    }

    pub fn int(&mut self, field: &str, value: Option<i64>, min: i64, max: i64) -> Option<i32> {
        let value = value?;
        if !(min..=max).contains(&value) {
            self.fail(field, format!("must be between {min} and {max}"));
            return None;
        }
        i32::try_from(value).ok()
    }
}

const NUL_MESSAGE: &str = "must not contain NUL characters";

fn has_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(text) => text.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(has_nul),
        serde_json::Value::Object(map) => map.iter().any(|(key, value)| key.contains('\0') || has_nul(value)),
        _ => false,
    }
}

/// What [`Check::url`] accepts (the OpenAPI document states the same as a pattern).
fn is_web_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")) else { return false };
    let (authority, _path) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let (host, port) = authority.split_once(':').unwrap_or((authority, "1"));
    let host_char = |c: char| !c.is_whitespace() && !"/?#@[]\\:<>^|%".contains(c);
    !host.is_empty()
        && host.chars().all(host_char)
        && (1..=5).contains(&port.len())
        && port.bytes().all(|b| b.is_ascii_digit())
        && !url.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_is_reported_with_its_field() {
        let mut check = Check::new(Entity::Variant);
        assert_eq!(check.required_text("sku", Some("  "), 100), None);
        assert_eq!(check.money("sale_price", Some(&Money::text("-1")), true), None);
        assert_eq!(check.money("cost_price", Some(&Money::text("1.005")), false), None);
        assert_eq!(check.url("image_url", Some("ftp://x")), None);
        assert_eq!(check.int("position", Some(-1), 0, 1000), None);
        let Err(Error::Validation { fields, .. }) = check.finish() else { panic!("must fail") };
        let named: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(named, ["sku", "sale_price", "cost_price", "image_url", "position"]);
    }

    #[test]
    fn urls_are_ones_a_browser_can_load() {
        for loadable in
            ["https://cdn.example.com/a.png", "http://a:8080/x?y#z", "https://café.com/ñ[1].jpg", "https://a?x"]
        {
            assert!(is_web_url(loadable), "{loadable}");
        }
        // An unclosed IPv6 literal once got in, and broke clients that parse the answer's URLs.
        for broken in
            ["http://[", "http://[::1]/a.png", "https://user@a.b/c", "https://a.b:/c", "https:///c", "https://a b"]
        {
            assert!(!is_web_url(broken), "{broken}");
        }
    }

    #[test]
    fn money_is_exact_from_strings_and_numbers() {
        let from_number: Money = serde_json::from_str("24.99").expect("number");
        let from_text: Money = serde_json::from_str("\"24.99\"").expect("text");
        let mut check = Check::new(Entity::Variant);
        let a = check.money("a", Some(&from_number), true);
        let b = check.money("b", Some(&from_text), true);
        assert_eq!(a, Some(Decimal::new(2499, 2)));
        assert_eq!(a, b);
        assert_eq!(check.money("c", Some(&Money::text("19.90")), true), Some(Decimal::new(199, 1)));
        assert!(check.finish().is_ok());
    }

    #[test]
    fn json_numbers_are_bounded_as_sent_then_rounded_half_to_even() {
        let number = |text: &str| serde_json::from_str::<Money>(text).expect("number");
        let mut check = Check::new(Entity::Variant);
        assert_eq!(check.money("a", Some(&number("0.30000000000000004")), true), Some(Decimal::new(30, 2)));
        assert_eq!(check.money("b", Some(&number("2.345")), true), Some(Decimal::new(234, 2)));
        assert_eq!(check.money("c", Some(&number("1e2")), true), Some(Decimal::new(100, 0)));
        assert!(check.finish().is_ok());
        let mut check = Check::new(Entity::Variant);
        assert_eq!(check.money("below_a_cent", Some(&number("0.004")), true), None);
        assert_eq!(check.money("negative", Some(&number("-0.001")), false), None);
        assert_eq!(check.money("too_big", Some(&number("9999999999.996")), false), None);
        // The same digits as text are refused: a string could have been exact.
        assert_eq!(check.money("text", Some(&Money::text("2.345")), true), None);
        let Err(Error::Validation { fields, .. }) = check.finish() else { panic!("must fail") };
        let named: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(named, ["below_a_cent", "negative", "too_big", "text"]);
    }

    #[test]
    fn nullable_tells_absent_from_null() {
        #[derive(Deserialize)]
        struct Patch {
            #[serde(default, deserialize_with = "nullable")]
            description: Option<Option<String>>,
        }
        let absent: Patch = serde_json::from_str("{}").expect("json");
        let null: Patch = serde_json::from_str(r#"{"description":null}"#).expect("json");
        let set: Patch = serde_json::from_str(r#"{"description":"x"}"#).expect("json");
        assert_eq!((absent.description, null.description, set.description), (None, Some(None), Some(Some("x".into()))));
    }
}
