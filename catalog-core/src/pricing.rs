//! Volume pricing: what a quantity of a variant costs under a price tier's rules, with its tax,
//! savings and next step. Pure, so the rules and their rounding are read and tested here; the
//! rules themselves are loaded by `repo::price_tiers::rules_for_variant`.

use crate::error::{Entity, Error, Result};
use crate::models::PriceTierRule;
use crate::models::{MONEY_SCALE, at_scale};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;

/// The next volume step above the quoted quantity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NextTier {
    pub min_qty: i32,
    pub price: Decimal,
    pub additional_qty_needed: i32,
}

/// What `quantity` units of a variant cost. Money is rounded to cents half away from zero;
/// `savings_*` compare with paying `sale_price` for every unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriceQuote {
    pub unit_price: Decimal,
    pub subtotal: Decimal,
    pub tax_amount: Decimal,
    pub total: Decimal,
    pub savings_amount: Decimal,
    /// Percent of the undiscounted subtotal (`12.50` = 12.5 %).
    pub savings_percentage: Decimal,
    pub applied_rule: Option<PriceTierRule>,
    pub next_tier: Option<NextTier>,
}

/// Rounded to cents half away from zero (2.125 → 2.13, where banker's rounding gives 2.12).
fn round2(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(MONEY_SCALE, RoundingStrategy::MidpointAwayFromZero)
}

/// An amount as answers print it: to cents, with exactly two decimals (`"9.00"`, never `"9"`).
pub fn cents(value: Decimal) -> Decimal {
    at_scale(value, MONEY_SCALE)
}

/// Quotes `quantity` units: the rule with the largest `min_qty <= quantity` sets the unit price,
/// else `sale_price`; tax is `tax_rate_percent` of the subtotal. `rules` may come in any order
/// and should be one tier's rules for one variant.
pub fn calculate_price(
    sale_price: Decimal,
    tax_rate_percent: Decimal,
    quantity: i32,
    rules: &[PriceTierRule],
) -> Result<PriceQuote> {
    if quantity < 1 {
        return Err(Error::field(Entity::PriceTier, "quantity", "must be at least 1"));
    }
    let applied = rules.iter().filter(|r| r.min_qty <= quantity).max_by_key(|r| r.min_qty);
    let next = rules.iter().filter(|r| r.min_qty > quantity).min_by_key(|r| r.min_qty);
    let overflow = || Error::field(Entity::PriceTier, "quantity", "is too large to price");
    let qty = Decimal::from(quantity);
    let list_price = round2(sale_price);
    let unit_price = round2(applied.map_or(sale_price, |r| r.price));
    let subtotal = unit_price.checked_mul(qty).ok_or_else(overflow)?;
    let tax_amount = round2(subtotal.checked_mul(tax_rate_percent).ok_or_else(overflow)? / Decimal::ONE_HUNDRED);
    let total = subtotal.checked_add(tax_amount).ok_or_else(overflow)?;
    let undiscounted = list_price.checked_mul(qty).ok_or_else(overflow)?;
    let savings_amount = undiscounted.checked_sub(subtotal).ok_or_else(overflow)?;
    let savings_percentage = match savings_amount.checked_mul(Decimal::ONE_HUNDRED) {
        Some(scaled) => scaled.checked_div(undiscounted).map_or(Decimal::ZERO, round2),
        None => return Err(overflow()),
    };
    Ok(PriceQuote {
        unit_price,
        subtotal,
        tax_amount,
        total,
        savings_amount,
        savings_percentage,
        applied_rule: applied.cloned(),
        next_tier: next.map(|r| NextTier {
            min_qty: r.min_qty,
            price: r.price,
            additional_qty_needed: r.min_qty - quantity,
        }),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::ids::{OrganizationId, PriceTierId, PriceTierRuleId, VariantId};
    use chrono::Utc;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn rule(min_qty: i32, price: &str) -> PriceTierRule {
        PriceTierRule {
            id: PriceTierRuleId::generate(),
            organization_id: OrganizationId::generate(),
            price_tier_id: PriceTierId::generate(),
            variant_id: VariantId::generate(),
            min_qty,
            price: d(price),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    /// sale 10.00, tax 16 %; from 10 units 9.00, from 50 units 8.50 (given out of order).
    fn ladder() -> Vec<PriceTierRule> {
        vec![rule(50, "8.50"), rule(10, "9.00")]
    }

    fn quote(qty: i32) -> PriceQuote {
        calculate_price(d("10.00"), d("16"), qty, &ladder()).unwrap()
    }

    #[test]
    fn below_the_first_step_the_sale_price_applies() {
        let q = quote(9);
        assert_eq!(q.unit_price, d("10.00"));
        assert_eq!(q.subtotal, d("90.00"));
        assert_eq!(q.tax_amount, d("14.40"));
        assert_eq!(q.total, d("104.40"));
        assert_eq!(q.savings_amount, d("0"));
        assert_eq!(q.savings_percentage, d("0"));
        assert_eq!(q.applied_rule, None);
        let next = q.next_tier.unwrap();
        assert_eq!((next.min_qty, next.price, next.additional_qty_needed), (10, d("9.00"), 1));
    }

    #[test]
    fn at_and_above_a_step_its_price_applies() {
        for (qty, subtotal, tax, total, savings, needed) in [
            (10, "90.00", "14.40", "104.40", "10.00", 40),
            (11, "99.00", "15.84", "114.84", "11.00", 39),
            (49, "441.00", "70.56", "511.56", "49.00", 1),
        ] {
            let q = quote(qty);
            assert_eq!(q.unit_price, d("9.00"), "qty {qty}");
            assert_eq!(q.applied_rule.as_ref().map(|r| r.min_qty), Some(10));
            assert_eq!(q.subtotal, d(subtotal), "qty {qty}");
            assert_eq!(q.tax_amount, d(tax), "qty {qty}");
            assert_eq!(q.total, d(total), "qty {qty}");
            assert_eq!(q.savings_amount, d(savings), "qty {qty}");
            assert_eq!(q.savings_percentage, d("10.00"), "qty {qty}");
            let next = q.next_tier.unwrap();
            assert_eq!((next.min_qty, next.price, next.additional_qty_needed), (50, d("8.50"), needed));
        }
    }

    #[test]
    fn the_largest_step_applies_at_and_beyond_it() {
        for (qty, subtotal, tax, total, savings) in
            [(50, "425.00", "68.00", "493.00", "75.00"), (51, "433.50", "69.36", "502.86", "76.50")]
        {
            let q = quote(qty);
            assert_eq!(q.unit_price, d("8.50"));
            assert_eq!(q.applied_rule.as_ref().map(|r| r.min_qty), Some(50));
            assert_eq!(q.subtotal, d(subtotal));
            assert_eq!(q.tax_amount, d(tax));
            assert_eq!(q.total, d(total));
            assert_eq!(q.savings_amount, d(savings));
            assert_eq!(q.savings_percentage, d("15.00"));
            assert_eq!(q.next_tier, None);
        }
    }

    #[test]
    fn money_rounds_half_away_from_zero() {
        // 2.50 × 5 % = 0.125 → 0.13 (banker's rounding would give 0.12).
        let q = calculate_price(d("2.50"), d("5"), 1, &[]).unwrap();
        assert_eq!(q.tax_amount, d("0.13"));
        assert_eq!(q.total, d("2.63"));
        // 3 × 3.35 = 10.05; 10.05 × 16 % = 1.608 → 1.61.
        let q = calculate_price(d("3.35"), d("16"), 3, &[]).unwrap();
        assert_eq!((q.subtotal, q.tax_amount, q.total), (d("10.05"), d("1.61"), d("11.66")));
        // Savings 1/3 of the price: 33.333… % → 33.33; 2/3 → 66.67.
        let q = calculate_price(d("3.00"), d("0"), 2, &[rule(2, "2.00")]).unwrap();
        assert_eq!((q.savings_amount, q.savings_percentage), (d("2.00"), d("33.33")));
        let q = calculate_price(d("3.00"), d("0"), 2, &[rule(2, "1.00")]).unwrap();
        assert_eq!(q.savings_percentage, d("66.67"));
        // A fractional tax rate: 100.00 × 12.5 % = 12.50.
        let q = calculate_price(d("100.00"), d("12.5"), 1, &[]).unwrap();
        assert_eq!(q.tax_amount, d("12.50"));
    }

    #[test]
    fn a_quantity_below_one_is_rejected() {
        for qty in [0, -1, i32::MIN] {
            match calculate_price(d("10.00"), d("16"), qty, &ladder()) {
                Err(Error::Validation { fields, .. }) => assert_eq!(fields[0].field, "quantity"),
                other => panic!("qty {qty}: {other:?}"),
            }
        }
        let q = calculate_price(d("10.00"), d("16"), 1, &ladder()).unwrap();
        assert_eq!(q.subtotal, d("10.00"));
    }

    #[test]
    fn the_largest_quantity_prices_without_overflow() {
        let q = calculate_price(d("99999999.99"), d("100"), i32::MAX, &[]).unwrap();
        assert_eq!(q.subtotal, d("99999999.99") * Decimal::from(i32::MAX));
        assert_eq!(q.total, q.subtotal * Decimal::TWO);
    }

    /// Invariants over many generated ladders (a small LCG keeps it dependency-free and
    /// reproducible): the applied rule is the largest step reached, the next tier the smallest
    /// not reached, and the amounts add up.
    #[test]
    fn quotes_respect_their_invariants_for_generated_ladders() {
        let mut seed: u64 = 0x5eed;
        let mut next = |bound: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % bound
        };
        for _ in 0..300 {
            let sale = Decimal::new(next(100_000) as i64 + 1, 2);
            let tax = Decimal::new(next(10_001) as i64, 2);
            let mut rules = Vec::new();
            for _ in 0..next(5) {
                let min_qty = next(100) as i32 + 1;
                if rules.iter().all(|r: &PriceTierRule| r.min_qty != min_qty) {
                    rules.push(rule(min_qty, &Decimal::new(next(100_000) as i64 + 1, 2).to_string()));
                }
            }
            let qty = next(120) as i32 + 1;
            let q = calculate_price(sale, tax, qty, &rules).unwrap();
            let reached = rules.iter().filter(|r| r.min_qty <= qty).map(|r| r.min_qty).max();
            let pending = rules.iter().filter(|r| r.min_qty > qty).map(|r| r.min_qty).min();
            assert_eq!(q.applied_rule.as_ref().map(|r| r.min_qty), reached);
            assert_eq!(q.next_tier.as_ref().map(|n| n.min_qty), pending);
            if let Some(n) = &q.next_tier {
                assert_eq!(n.additional_qty_needed, n.min_qty - qty);
            }
            let unit = q.applied_rule.as_ref().map_or(sale, |r| r.price);
            assert_eq!(q.unit_price, unit);
            assert_eq!(q.subtotal, unit * Decimal::from(qty));
            assert_eq!(q.total, q.subtotal + q.tax_amount);
            assert_eq!(q.savings_amount, (sale - unit) * Decimal::from(qty));
            assert!(q.tax_amount >= Decimal::ZERO && q.tax_amount <= q.subtotal);
            for value in [q.subtotal, q.tax_amount, q.total, q.savings_amount, q.savings_percentage] {
                assert!(value.scale() <= 2 || value.normalize().scale() <= 2, "{value}");
            }
        }
    }
}
