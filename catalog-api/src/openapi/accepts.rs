//! What request fields accept, as JSON Schema, in the words of `catalog_core::validate::Check`:
//! each function describes one of its rules exactly, so a client generator or a fuzzer that
//! follows the document never sends what the API refuses, and never finds the API taking what the
//! document calls invalid. Fields name them with `#[schema(schema_with = accepts::…)]`.
//!
//! Patterns are written for both dialects that read them (ECMA-262 in browsers, Python's `re` in
//! schemathesis); "blank" is Rust's `char::is_whitespace` (Unicode White_Space), spelled out
//! because `\s` differs between the dialects and from Rust.

use catalog_core::models::Spelled;
use serde_json::{Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

/// Unicode White_Space, what `str::trim` removes, as a character-class body.
const BLANK: &str = r"\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// utoipa's model of a schema: every rule here must survive it word for word (checked in
/// debug builds, so by every test that builds the document).
fn schema(value: Value) -> RefOr<Schema> {
    let parsed: RefOr<Schema> = serde_json::from_value(value.clone()).unwrap_or_else(|_| RefOr::T(Schema::default()));
    debug_assert_eq!(serde_json::to_value(&parsed).ok(), Some(value), "utoipa drops part of a rule");
    parsed
}

fn nullable(mut value: Value, optional: bool) -> Value {
    if optional {
        let kind = value["type"].clone();
        value["type"] = json!([kind, "null"]);
    }
    value
}

/// Text of at most `MAX` characters once trimmed, without NUL; blank counts as absent.
pub fn text<const MAX: usize>() -> RefOr<Schema> {
    schema(json!({ "type": ["string", "null"], "maxLength": MAX, "pattern": r"^[^\u0000]*$" }))
}

/// Text that must be there: at least one character that is not blank, at most `MAX`, no NUL.
pub fn required_text<const MAX: usize>() -> RefOr<Schema> {
    schema(required_text_value(MAX, false))
}

/// [`required_text`] on a partial update: absent or `null` keeps the value, blank is refused.
pub fn present_text<const MAX: usize>() -> RefOr<Schema> {
    schema(required_text_value(MAX, true))
}

fn required_text_value(max: usize, optional: bool) -> Value {
    let pattern = format!(r"^[^\u0000]*[^\u0000{BLANK}][^\u0000]*$");
    nullable(json!({ "type": "string", "minLength": 1, "maxLength": max, "pattern": pattern }), optional)
}

/// At most `ITEMS` texts that must each be there (see [`required_text`]), at most `MAX` long,
/// none repeated (the API also refuses repeats differing only in case or surrounding blanks).
pub fn distinct_texts<const ITEMS: usize, const MAX: usize>() -> RefOr<Schema> {
    let item = required_text_value(MAX, false);
    schema(json!({ "type": ["array", "null"], "items": item, "maxItems": ITEMS, "uniqueItems": true }))
}

/// Lowercase letters, digits and single dashes, at most `MAX` (blank: generate it from the name).
pub fn slug<const MAX: usize>() -> RefOr<Schema> {
    let pattern = format!(r"^[{BLANK}]*([a-z0-9]+(-[a-z0-9]+)*)?[{BLANK}]*$");
    schema(json!({ "type": ["string", "null"], "maxLength": MAX, "pattern": pattern }))
}

/// A hex colour, `#RGB` or `#RRGGBB` (blank: none).
pub fn color() -> RefOr<Schema> {
    let pattern = format!(r"^[{BLANK}]*(#([0-9a-fA-F]{{3}}|[0-9a-fA-F]{{6}}))?[{BLANK}]*$");
    schema(json!({ "type": ["string", "null"], "maxLength": 7, "pattern": pattern }))
}

/// An absolute http(s) URL of at most 2,048 characters (blank: none).
pub fn url() -> RefOr<Schema> {
    schema(url_value(true))
}

/// [`url`] where the field must be given.
pub fn required_url() -> RefOr<Schema> {
    schema(url_value(false))
}

/// `validate::Check::url`: a host (no user info, no IPv6 literal), an optional port, then an
/// optional path, query or fragment.
fn url_value(optional: bool) -> Value {
    let host = format!(r"[^\u0000{BLANK}/?#@\[\]\\:<>^|%]+");
    let rest = format!(r"[^\u0000{BLANK}]");
    let url = format!(r"https?://{host}(:[0-9]{{1,5}})?([/?#]{rest}*)?");
    let pattern =
        if optional { format!(r"^[{BLANK}]*({url})?[{BLANK}]*$") } else { format!(r"^[{BLANK}]*{url}[{BLANK}]*$") };
    nullable(json!({ "type": "string", "maxLength": 2048, "pattern": pattern }), optional)
}

/// A row's id.
pub fn id() -> RefOr<Schema> {
    schema(json!({ "type": ["string", "null"], "format": "uuid" }))
}

/// A row's id, where blank also means none (a form's empty field).
pub fn id_or_blank() -> RefOr<Schema> {
    let blank = format!(r"^[{BLANK}]*$");
    schema(json!({ "anyOf": [
        { "type": "string", "format": "uuid" },
        { "type": "string", "pattern": blank },
        { "type": "null" },
    ]}))
}

/// A parent filter: a collection id, or `root`/`null` (any case) for the top level; blank is no
/// filter.
pub fn parent_filter() -> RefOr<Schema> {
    schema(json!({ "anyOf": [
        { "type": "string", "format": "uuid" },
        { "type": "string", "pattern": r"^\s*([Rr][Oo][Oo][Tt]|[Nn][Uu][Ll][Ll])?\s*$" },
    ]}))
}

/// A row's id that must be given.
pub fn required_id() -> RefOr<Schema> {
    schema(json!({ "type": "string", "format": "uuid" }))
}

/// A list of ids.
pub fn ids() -> RefOr<Schema> {
    schema(json!({ "type": "array", "items": { "type": "string", "format": "uuid" } }))
}

/// [`ids`] that may also be `null` (as absent).
pub fn ids_or_null() -> RefOr<Schema> {
    schema(json!({ "type": ["array", "null"], "items": { "type": "string", "format": "uuid" } }))
}

/// A list of ids that must name at least one, at most `MAX`.
pub fn some_ids<const MAX: usize>() -> RefOr<Schema> {
    schema(json!({ "type": "array", "items": { "type": "string", "format": "uuid" }, "minItems": 1, "maxItems": MAX }))
}

/// One of a text enum's spellings (`catalog_core::models::Spelled`).
pub fn choice<T: Spelled>() -> RefOr<Schema> {
    one_of(T::SPELLINGS)
}

/// `true`/`false` in a query string (also `1`/`0`).
pub fn flag() -> RefOr<Schema> {
    schema(json!({ "type": "string", "enum": ["true", "false", "1", "0"] }))
}

/// An integer between `MIN` and `MAX` (a JSON number without a fraction, `5.0`, is one too).
pub fn int<const MIN: i64, const MAX: i64>() -> RefOr<Schema> {
    schema(json!({ "type": ["integer", "null"], "minimum": MIN, "maximum": MAX }))
}

/// [`int`] that must be given.
pub fn required_int<const MIN: i64, const MAX: i64>() -> RefOr<Schema> {
    schema(json!({ "type": "integer", "minimum": MIN, "maximum": MAX }))
}

/// A JSON object (metadata, attributes). No key or string in it may contain a NUL (PostgreSQL's
/// `jsonb` refuses it): said in words, as a `propertyNames` rule made client generators drop
/// every operation that uses it.
pub fn metadata() -> RefOr<Schema> {
    schema(json!({
        "type": ["object", "null"],
        "description": "Any JSON object; no key or string in it may contain a NUL character.",
    }))
}

/// Schemas the served document carries beside utoipa's model (none at present).
pub fn json_only_schemas() -> Vec<(&'static str, Value)> {
    Vec::new()
}

/// A decimal amount with at most `SCALE` decimals between 0 and `MAX_UNITS / 10^SCALE` (a
/// NUMERIC column's range: `MAX_UNITS` is all nines): a string, taken exactly, or a JSON number,
/// bounded as sent and then rounded to `SCALE` decimals, half to even
/// (`catalog_core::validate::Money`).
pub fn decimal<const SCALE: u32, const MAX_UNITS: i64>() -> RefOr<Schema> {
    let whole_digits = (MAX_UNITS / 10_i64.pow(SCALE)).to_string().len();
    let pattern = format!(r"^0*[0-9]{{1,{whole_digits}}}(\.[0-9]{{1,{SCALE}}})?$");
    schema(decimal_value(&pattern, SCALE, 0.0, MAX_UNITS as f64 / 10_i64.pow(SCALE) as f64))
}

/// Money in a query string: the string form of [`money`].
pub fn money_text() -> RefOr<Schema> {
    let RefOr::T(Schema::OneOf(one_of)) = money() else { return money() };
    one_of.items.into_iter().next().unwrap_or_else(money)
}

/// Comma-separated ids (blanks and empty items ignored).
pub fn comma_separated_ids() -> RefOr<Schema> {
    let id = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
    let pattern = format!(r"^[{BLANK},]*({id}([{BLANK}]*,[{BLANK},]*{id})*)?[{BLANK},]*$");
    schema(json!({ "type": "string", "pattern": pattern }))
}

/// One of fixed spellings (or `null`, as absent).
pub fn one_of(spellings: &[&str]) -> RefOr<Schema> {
    let mut values: Vec<Value> = spellings.iter().map(|s| json!(s)).collect();
    values.push(Value::Null);
    schema(json!({ "type": ["string", "null"], "enum": values }))
}

/// Money: NUMERIC(12,2), at least 0.
pub fn money() -> RefOr<Schema> {
    decimal::<2, 999_999_999_999>()
}

/// Money that must be more than 0: at least 0.01.
pub fn positive_money() -> RefOr<Schema> {
    schema(positive_money_value(true))
}

/// [`positive_money`] that must be given (a price).
pub fn price() -> RefOr<Schema> {
    schema(positive_money_value(false))
}

fn positive_money_value(nullable: bool) -> Value {
    let pattern = r"^(0*[1-9][0-9]{0,9}(\.[0-9]{1,2})?|0+\.(0[1-9]|[1-9][0-9]?))$";
    let mut value = decimal_value(pattern, 2, 0.01, 9_999_999_999.99);
    if !nullable {
        if let Some(branches) = value["oneOf"].as_array_mut() {
            branches.retain(|b| b["type"] != "null");
        }
    }
    value
}

/// A percentage: 0 to 100 with at most 2 decimals.
pub fn percent() -> RefOr<Schema> {
    let pattern = r"^0*(100(\.0{1,2})?|[0-9]{1,2}(\.[0-9]{1,2})?)$";
    schema(decimal_value(pattern, 2, 0.0, 100.0))
}

/// A bound as utoipa writes it back: whole numbers without a fraction.
fn number(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 1e15 { json!(value as i64) } else { json!(value) }
}

fn decimal_value(pattern: &str, scale: u32, minimum: f64, maximum: f64) -> Value {
    json!({
        "oneOf": [
            { "type": "string", "format": "decimal", "pattern": pattern, "examples": ["24.99"] },
            { "type": "number", "minimum": number(minimum), "maximum": number(maximum) },
            { "type": "null" },
        ],
        "description": format!(
            "A decimal amount from {minimum} to {maximum} with at most {scale} decimals: a string such as `\"24.99\"` (exact), or a JSON number (rounded to {scale} decimals, half to even)."
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_is_a_schema_utoipa_keeps_whole() {
        for rule in [
            text::<10>(),
            required_text::<10>(),
            present_text::<10>(),
            slug::<200>(),
            color(),
            url(),
            required_url(),
            id(),
            required_id(),
            ids(),
            ids_or_null(),
            some_ids::<5>(),
            int::<0, 10>(),
            money(),
            positive_money(),
            price(),
            required_int::<1, 5>(),
            percent(),
            decimal::<3, 9_999_999_999>(),
        ] {
            let RefOr::T(schema) = rule else { panic!("an inline schema") };
            assert_ne!(serde_json::to_value(&schema).unwrap(), serde_json::to_value(Schema::default()).unwrap());
        }
    }

    #[test]
    fn decimal_patterns_match_what_check_accepts() {
        let RefOr::T(schema) = positive_money() else { panic!() };
        let value = serde_json::to_value(schema).unwrap();

        assert_eq!(value["oneOf"][1]["minimum"], 0.01);
        assert_eq!(value["oneOf"][1]["maximum"], 9_999_999_999.99);
    }

    /// Whether a string is valid against a string schema (type, length, pattern), as a JSON
    /// Schema validator would say.
    fn schema_takes(schema: &Value, sample: &str) -> bool {
        let length = sample.chars().count() as u64;
        let pattern = schema["pattern"].as_str().map(|p| regex::Regex::new(p).expect("pattern compiles"));
        schema["minLength"].as_u64().is_none_or(|min| length >= min)
            && schema["maxLength"].as_u64().is_none_or(|max| length <= max)
            && pattern.is_none_or(|p| p.is_match(sample))
    }

    fn string_branch(rule: RefOr<Schema>) -> Value {
        let value = serde_json::to_value(rule).unwrap();
        value["oneOf"].get(0).cloned().unwrap_or(value)
    }

    const SAMPLES: &[&str] = &[
        "",
        " ",
        "\u{a0}",
        "\u{1c}",
        "a",
        " a ",
        "a\u{0}b",
        "\u{0}",
        "abcdefghijk",
        "Abc",
        "abc-def",
        "abc--def",
        "-abc",
        "abc-",
        " abc ",
        "a b",
        "https://x",
        "http://x",
        "http://xy",
        "ftp://x.y",
        " https://a.b/c ",
        "https://a b",
        "http://[",
        "http://[::1]/a.png",
        "https://user@a.b/c",
        "https://a.b:8080/c?d#e",
        "https://a.b:/c",
        "https://a.b:123456",
        "https://café.com/ñ[1].jpg",
        "https:///c",
        "https://a.b?x",
        "0",
        "0.00",
        "0.01",
        "00.5",
        "1",
        "1.5",
        "1.234",
        "100",
        "100.00",
        "100.01",
        "99.99",
        "9999999999.99",
        "99999999999",
        "+1",
        "1e2",
        ".5",
        "5.",
    ];

    /// Each string rule says yes to exactly the samples `Check` takes.
    #[test]
    fn string_rules_agree_with_check_on_every_sample() {
        use catalog_core::error::Entity;
        use catalog_core::validate::{Check, Money};
        type Accepts = fn(&mut Check, &str);
        let rules: [(&str, RefOr<Schema>, Accepts); 8] = [
            ("text", text::<10>(), |c, v| {
                let _ = c.text("f", Some(v), 10);
            }),
            ("required_text", required_text::<10>(), |c, v| {
                let _ = c.required_text("f", Some(v), 10);
            }),
            ("slug", slug::<200>(), |c, v| {
                let _ = c.slug("f", Some(v));
            }),
            ("url", url(), |c, v| {
                let _ = c.url("f", Some(v));
            }),
            ("money", money(), |c, v| {
                let _ = c.money("f", Some(&Money::text(v)), false);
            }),
            ("positive_money", positive_money(), |c, v| {
                let _ = c.money("f", Some(&Money::text(v)), true);
            }),
            ("percent", percent(), |c, v| {
                let _ = c.decimal("f", Some(&Money::text(v)), 2, rust_decimal::Decimal::ONE_HUNDRED, false);
            }),
            ("weight", decimal::<3, 9_999_999_999>(), |c, v| {
                let _ = c.decimal("f", Some(&Money::text(v)), 3, rust_decimal::Decimal::new(9_999_999_999, 3), false);
            }),
        ];
        for (name, rule, accepts) in rules {
            let schema = string_branch(rule);
            for sample in SAMPLES {
                let mut check = Check::new(Entity::Product);
                accepts(&mut check, sample);
                // Where the document is stricter than the check (leading `+`, `.5`), it only
                // costs a sender an accepted spelling; the other way round would be a bug.
                let documented = schema_takes(&schema, sample);
                let stricter_only = ["+1", "1e2", ".5", "5.", "00.5"].contains(sample)
                    || (name == "required_text" && *sample == "\u{1c}");
                if !stricter_only {
                    assert_eq!(documented, check.is_ok(), "{name} on {sample:?}");
                } else {
                    assert!(!documented || check.is_ok(), "{name} documents {sample:?} but refuses it");
                }
            }
        }
    }
}
