//! Units of measure, and the conversions recipes need (issue 17): a recipe states "20 g of
//! coffee", the coffee is stocked by the kilogram, so Inventory must be told 0.020 kg.
//!
//! The table: mass in grams (`mg`, `g`, `kg`, `lb`, `oz`), volume in millilitres (`ml`, `cl`,
//! `dl`, `l`, `gal` (US), `fl_oz` (US)), counts in units (`unit`, `pair`, `dozen`), each under
//! its English and Spanish names (`gramo`, `litro`, `unidad`, `docena`, ...; case, accents and
//! a plural `s`/`es` ignored). Only units of one dimension convert: grams never become litres
//! (a density would be a guess) and an unconvertible pair is an error, never a silent wrong
//! deduction. Arithmetic is decimal throughout; a conversion is exact to 28 significant digits
//! and the caller rounds where it reports (recipes: 6 decimals, half away from zero).

use rust_decimal::Decimal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Mass,
    Volume,
    Count,
}

/// A unit: its names, its dimension, and how many of the dimension's base unit (g, ml, unit)
/// one of it is, as `mantissa × 10^-scale`.
#[derive(Debug)]
pub struct Unit {
    pub name: &'static str,
    aliases: &'static [&'static str],
    pub dimension: Dimension,
    mantissa: i64,
    scale: u32,
}

impl Unit {
    /// One of this unit in the dimension's base unit.
    pub fn factor(&self) -> Decimal {
        Decimal::new(self.mantissa, self.scale)
    }
}

const fn unit(
    name: &'static str,
    aliases: &'static [&'static str],
    dimension: Dimension,
    mantissa: i64,
    scale: u32,
) -> Unit {
    Unit { name, aliases, dimension, mantissa, scale }
}

/// Every unit the catalog converts, by canonical name.
pub const UNITS: &[Unit] = &[
    unit("mg", &["miligramo"], Dimension::Mass, 1, 3),
    unit("g", &["gr", "gramo", "gram"], Dimension::Mass, 1, 0),
    unit("kg", &["kilo", "kilogramo", "kilogram"], Dimension::Mass, 1000, 0),
    unit("lb", &["libra", "pound"], Dimension::Mass, 45_359_237, 5),
    unit("oz", &["onza", "ounce"], Dimension::Mass, 28_349_523_125, 9),
    unit("ml", &["mililitro", "millilitre", "milliliter", "cc"], Dimension::Volume, 1, 0),
    unit("cl", &["centilitro", "centilitre"], Dimension::Volume, 10, 0),
    unit("dl", &["decilitro", "decilitre"], Dimension::Volume, 100, 0),
    unit("l", &["lt", "litro", "litre", "liter"], Dimension::Volume, 1000, 0),
    unit("gal", &["galon", "gallon"], Dimension::Volume, 3_785_411_784, 6),
    unit("fl_oz", &["onza_liquida", "fluid_ounce"], Dimension::Volume, 295_735_295_625, 10),
    unit(
        "unit",
        &["u", "un", "und", "unidad", "pieza", "pza", "pc", "pcs", "piece", "ea", "each"],
        Dimension::Count,
        1,
        0,
    ),
    unit("pair", &["par"], Dimension::Count, 2, 0),
    unit("dozen", &["docena", "dz", "doz"], Dimension::Count, 12, 0),
];

/// What a quantity cannot be converted for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("unknown unit {0:?} (known: {known})", known = known_names())]
    Unknown(String),
    #[error("{from} cannot be converted to {to}: {from_dimension:?} is not {to_dimension:?}")]
    Incompatible { from: &'static str, to: &'static str, from_dimension: Dimension, to_dimension: Dimension },
    #[error("the quantity is too large to convert")]
    TooLarge,
}

fn known_names() -> String {
    UNITS.iter().map(|u| u.name).collect::<Vec<_>>().join(", ")
}

/// `name` folded for comparison: trimmed, lower case, accents dropped, spaces and dots as `_`.
fn fold(name: &str) -> String {
    name.trim()
        .trim_end_matches('.')
        .chars()
        .map(|c| match c {
            'á' | 'Á' => 'a',
            'é' | 'É' => 'e',
            'í' | 'Í' => 'i',
            'ó' | 'Ó' => 'o',
            'ú' | 'Ú' | 'ü' | 'Ü' => 'u',
            ' ' | '-' | '.' => '_',
            other => other.to_ascii_lowercase(),
        })
        .collect()
}

/// The unit `name` stands for, in any of its spellings (`Gramos`, `kg`, `Litro`, `unidades`).
pub fn parse(name: &str) -> Result<&'static Unit, UnitError> {
    let folded = fold(name);
    let singulars = [Some(folded.as_str()), folded.strip_suffix("es"), folded.strip_suffix('s')];
    singulars
        .into_iter()
        .flatten()
        .find_map(|candidate| UNITS.iter().find(|u| u.name == candidate || u.aliases.contains(&candidate)))
        .ok_or_else(|| UnitError::Unknown(name.trim().to_string()))
}

/// `quantity` of `from` expressed in `to`.
pub fn convert(quantity: Decimal, from: &str, to: &str) -> Result<Decimal, UnitError> {
    let (from, to) = (parse(from)?, parse(to)?);
    if from.dimension != to.dimension {
        return Err(UnitError::Incompatible {
            from: from.name,
            to: to.name,
            from_dimension: from.dimension,
            to_dimension: to.dimension,
        });
    }
    quantity.checked_mul(from.factor()).and_then(|q| q.checked_div(to.factor())).ok_or(UnitError::TooLarge)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    #[test]
    fn the_latte_example_converts_exactly() {
        assert_eq!(convert(d("21"), "gramo", "kg"), Ok(d("0.021")));
        assert_eq!(convert(d("204"), "ml", "litro"), Ok(d("0.204")));
        assert_eq!(convert(d("1"), "unidad", "unit"), Ok(d("1")));
        assert_eq!(convert(d("3"), "docenas", "unidades"), Ok(d("36")));
    }

    #[test]
    fn every_spelling_names_its_unit() {
        for (spelling, name) in
            [("Gramos", "g"), (" KG ", "kg"), ("Litros", "l"), ("unidades", "unit"), ("Kilógramo", "kg"), ("lt.", "l")]
        {
            assert_eq!(parse(spelling).map(|u| u.name), Ok(name), "{spelling}");
        }
        for unit in UNITS {
            for alias in unit.aliases {
                assert_eq!(parse(alias).map(|u| u.name), Ok(unit.name), "{alias} names two units");
            }
        }
    }

    #[test]
    fn another_dimension_or_an_unknown_unit_is_refused() {
        assert!(matches!(convert(d("20"), "g", "ml"), Err(UnitError::Incompatible { from: "g", to: "ml", .. })));
        assert!(matches!(convert(d("1"), "unit", "kg"), Err(UnitError::Incompatible { .. })));
        assert_eq!(convert(d("1"), "pinch", "g"), Err(UnitError::Unknown("pinch".into())));
    }

    #[test]
    fn a_round_trip_through_any_unit_of_the_dimension_keeps_the_quantity() {
        for a in UNITS {
            for b in UNITS.iter().filter(|b| b.dimension == a.dimension) {
                let there = convert(d("12.5"), a.name, b.name).unwrap();
                let back = convert(there, b.name, a.name).unwrap();
                assert_eq!(back.round_dp(12), d("12.5"), "{} → {} → {}", a.name, b.name, a.name);
            }
        }
    }
}
