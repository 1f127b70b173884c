//! The ids, SKUs and barcodes of the synthetic catalog `catalog-api seed --products N` writes
//! (catalog-core/src/seed.rs), plus the few rows `bench/run.sh` adds for the benchmark.
//!
//! Product number `n` (1..=N) belongs to scale organization `k = 1 + n % K`; its variants are
//! numbered `n * 100 + j` (j in 1..=V); SKU `SC-{n:08}-{j}`; barcode EAN-13 of
//! `780000000000 + n * 100 + j`; archived when `n % 25 == 0`, inactive when `n % 10 == 3`;
//! a variant is inactive when `(n * 100 + j) % 17 == 0`.

use catalog_core::seed::{ean13, scale_uuid};
use uuid::Uuid;

const KIND_ORGANIZATION: u32 = 0;
const KIND_PRODUCT: u32 = 1;
const KIND_VARIANT: u32 = 2;
const KIND_BRAND: u32 = 3;

/// The product whose details the warm scenarios read (org #1, active; `run.sh` gives it images).
pub const WARM_PRODUCT: u64 = 1004;

/// The products `run.sh` creates for the large-product scenario (organization #1):
/// `be4c0001-0000-4000-8000-{variants:012x}` with variants `be4c{0002|0003}-0000-4000-8000-{j:012x}`.
pub fn bench_product(variants: u32) -> Uuid {
    Uuid::from_u128((0xbe4c_0001_u128 << 96) | (0x0000_4000_8000_u128 << 48) | u128::from(variants))
}

pub fn bench_variant(variants: u32, j: u32) -> Uuid {
    let family: u128 = if variants >= 1000 { 0xbe4c_0002 } else { 0xbe4c_0003 };
    Uuid::from_u128((family << 96) | (0x0000_4000_8000_u128 << 48) | u128::from(j))
}

/// The recipe benchmark's organization (`bench/recipes.sh`, its own database).
pub const RECIPE_ORG: Uuid = Uuid::from_u128(0x5ca1e000_0000_8000_8000_0000000000bb);
/// Raw ingredients (kg), sauces made from them (l), preparations made from sauces and raw
/// ingredients (kg), and the dishes a ticket sells (units): three levels of recipes.
const RAW: std::ops::RangeInclusive<u32> = 1..=30;
const SAUCES: std::ops::RangeInclusive<u32> = 101..=105;
const PREPARATIONS: std::ops::RangeInclusive<u32> = 201..=210;
/// The ticket: 20 composite dishes.
pub const TICKET: std::ops::RangeInclusive<u32> = 301..=320;

fn recipe_fixture_id(family: u128, n: u32) -> Uuid {
    Uuid::from_u128((family << 96) | (0x0000_4000_8000_u128 << 48) | u128::from(n))
}

/// The variant of recipe-fixture product `n`.
pub fn recipe_variant(n: u32) -> Uuid {
    recipe_fixture_id(0xbe4c_0302, n)
}

/// A recipe line: (ingredient, quantity, unit, waste %, optional).
type Line = (u32, u32, &'static str, u32, bool);

/// Idempotent SQL of the recipe benchmark's fixture: every product simple (one variant), each
/// composite one with its recipe.
pub fn recipe_fixture_sql() -> String {
    let org = RECIPE_ORG;
    let sauce = |k: u32| 101 + k % 5;
    let preparation = |k: u32| 201 + k % 10;
    let raw = |k: u32| 1 + k % 30;
    // (number, kind, unit of measure, recipe lines)
    let mut products: Vec<(u32, &str, &str, Vec<Line>)> = Vec::new();
    products.extend(RAW.map(|n| (n, "insumo", "kg", Vec::new())));
    products
        .extend(SAUCES.map(|n| (n, "salsa", "litro", (0..3).map(|k| (raw(n * 3 + k), 200, "g", 2, false)).collect())));
    products.extend(PREPARATIONS.map(|n| {
        let lines = vec![
            (sauce(n), 100, "ml", 0, false),
            (sauce(n + 1), 100, "ml", 0, false),
            (raw(n), 50, "g", 5, false),
            (raw(n + 7), 50, "g", 5, false),
        ];
        (n, "preparacion", "kg", lines)
    }));
    products.extend(TICKET.map(|n| {
        let lines = vec![
            (preparation(n), 150, "g", 3, false),
            (preparation(n + 3), 150, "g", 3, false),
            (sauce(n), 30, "ml", 0, false),
            (raw(n + 11), 10, "g", 0, false),
            (raw(n + 13), 10, "g", 0, true),
        ];
        (n, "plato", "unit", lines)
    }));
    let mut sql = String::from("BEGIN;\n");
    for (n, kind, unit, lines) in &products {
        let (product, variant) = (recipe_fixture_id(0xbe4c_0301, *n), recipe_variant(*n));
        sql.push_str(&format!(
            "INSERT INTO products (id, organization_id, title, slug, sku, status, product_type, unit_of_measure) VALUES \
             ('{product}', '{org}', 'Receta {kind} {n}', 'receta-{kind}-{n}', 'REC-{n:03}', 'active', '{kind}', '{unit}') \
             ON CONFLICT DO NOTHING;\n\
             INSERT INTO product_variants (id, organization_id, product_id, sku, sale_price, cost_price, tax_rate) VALUES \
             ('{variant}', '{org}', '{product}', 'REC-{n:03}', 1000, {cost}, 19) ON CONFLICT DO NOTHING;\n",
            cost = 100 + n,
        ));
        if lines.is_empty() {
            continue;
        }
        let recipe = recipe_fixture_id(0xbe4c_0303, *n);
        sql.push_str(&format!(
            "INSERT INTO product_recipes (id, organization_id, product_id, name) VALUES \
             ('{recipe}', '{org}', '{product}', 'Receta {n}') ON CONFLICT DO NOTHING;\n"
        ));
        for (position, (ingredient, quantity, unit, waste, optional)) in lines.iter().enumerate() {
            let line = recipe_fixture_id(0xbe4c_0304, n * 100 + position as u32);
            sql.push_str(&format!(
                "INSERT INTO recipe_ingredients (id, organization_id, recipe_id, ingredient_variant_id, quantity, unit, \
                 is_optional, waste_percentage, position) VALUES ('{line}', '{org}', '{recipe}', '{ingredient}', \
                 {quantity}, '{unit}', {optional}, {waste}, {position}) ON CONFLICT DO NOTHING;\n",
                ingredient = recipe_variant(*ingredient),
            ));
        }
    }
    sql.push_str("COMMIT;\nANALYZE products, product_variants, product_recipes, recipe_ingredients;\n");
    sql
}

#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub products: u64,
    pub organizations: u32,
    pub variants_per_product: u32,
}

impl Scale {
    pub fn org_number(&self, n: u64) -> u32 {
        1 + (n % u64::from(self.organizations)) as u32
    }

    pub fn organization(&self, k: u32) -> Uuid {
        scale_uuid(KIND_ORGANIZATION, 0, u64::from(k))
    }

    pub fn product(&self, n: u64) -> Uuid {
        scale_uuid(KIND_PRODUCT, self.org_number(n), n)
    }

    pub fn variant(&self, n: u64, j: u32) -> Uuid {
        scale_uuid(KIND_VARIANT, self.org_number(n), n * 100 + u64::from(j))
    }

    pub fn brand(&self, k: u32, b: u32) -> Uuid {
        scale_uuid(KIND_BRAND, k, u64::from(b))
    }

    pub fn sku(&self, n: u64, j: u32) -> String {
        if self.variants_per_product > 1 { format!("SC-{n:08}-{j}") } else { format!("SC-{n:08}") }
    }

    pub fn barcode(&self, n: u64, j: u32) -> String {
        ean13(780_000_000_000 + n * 100 + u64::from(j))
    }

    pub fn product_active(&self, n: u64) -> bool {
        n % 25 != 0 && n % 10 != 3
    }

    pub fn variant_active(&self, n: u64, j: u32) -> bool {
        self.product_active(n) && (n * 100 + u64::from(j)) % 17 != 0
    }

    /// The `i`-th product number of organization `k` (1-based k), wrapping inside the catalog.
    pub fn nth_of_org(&self, k: u32, i: u64) -> u64 {
        let orgs = u64::from(self.organizations);
        let per_org = (self.products / orgs).max(1);
        let residue = u64::from(k - 1) % orgs;
        // n ≡ k - 1 (mod K), n ≥ 1.
        let base = if residue == 0 { orgs } else { residue };
        base + (i % per_org) * orgs
    }

    /// `count` variants of organization #1 drawn at random (call `i`'s own draw, the same in
    /// every run) over all of its products and their variants.
    pub fn random_variants_of_org1(&self, i: u64, count: usize) -> Vec<Uuid> {
        (0..count as u64)
            .map(|k| {
                let r = crate::load::mix(i.wrapping_mul(1_000).wrapping_add(k));
                self.variant(self.nth_of_org(1, r), 1 + (r >> 40) as u32 % self.variants_per_product)
            })
            .collect()
    }

    /// 100 variant ids of organization #1 for the batch scenario (and its `pgbench` twin): the
    /// variants of 34 consecutive products of that organization starting at product 4000.
    pub fn validate_batch_ids(&self, count: usize) -> (Uuid, Vec<Uuid>) {
        let mut ids = Vec::with_capacity(count);
        let mut i = 4000 / u64::from(self.organizations);
        while ids.len() < count {
            let n = self.nth_of_org(1, i);
            for j in 1..=self.variants_per_product {
                if ids.len() < count {
                    ids.push(self.variant(n, j));
                }
            }
            i += 1;
        }
        (self.organization(1), ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scale() -> Scale {
        Scale { products: 170_000, organizations: 4, variants_per_product: 3 }
    }

    #[test]
    fn ids_follow_the_seed() {
        let s = scale();
        assert_eq!(s.organization(1).to_string(), "5ca1e000-0000-8000-8000-000000000001");
        assert_eq!(s.product(1004).to_string(), "5ca1e001-0001-8000-8000-0000000003ec");
        assert_eq!(s.variant(1004, 2).to_string(), format!("5ca1e002-0001-8000-8000-{:012x}", 100_402));
        assert_eq!(s.sku(12, 3), "SC-00000012-3");
        assert_eq!(s.barcode(1, 1).len(), 13);
        assert!(s.product_active(WARM_PRODUCT));
    }

    #[test]
    fn nth_of_org_stays_in_the_organization() {
        let s = scale();
        for k in 1..=4 {
            for i in [0, 1, 7, 42_499, 42_500, 99_999] {
                let n = s.nth_of_org(k, i);
                assert!(n >= 1 && n <= s.products, "{n}");
                assert_eq!(s.org_number(n), k);
            }
        }
        let (org, ids) = s.validate_batch_ids(100);
        assert_eq!(org, s.organization(1));
        assert_eq!(ids.len(), 100);
        assert_eq!(ids.iter().collect::<std::collections::HashSet<_>>().len(), 100);
        let drawn = s.random_variants_of_org1(7, 100);
        assert_eq!(drawn, s.random_variants_of_org1(7, 100), "the same draw in every run");
        assert_ne!(drawn, s.random_variants_of_org1(8, 100));
        let prefixes: std::collections::HashSet<_> = drawn.iter().map(|v| v.as_u128() >> 48).collect();
        assert_eq!(prefixes.len(), 1, "organization #1's variants only: {prefixes:?}");
    }

    #[test]
    fn the_recipe_fixture_names_only_its_own_variants() {
        let sql = recipe_fixture_sql();
        assert_eq!(sql.matches("INSERT INTO product_recipes").count(), 5 + 10 + 20);
        assert_eq!(sql.matches("INSERT INTO recipe_ingredients").count(), 5 * 3 + 10 * 4 + 20 * 5);
        assert!(sql.contains(&recipe_variant(*TICKET.end()).to_string()));
    }

    #[test]
    fn bench_products() {
        assert_eq!(bench_product(2000).to_string(), "be4c0001-0000-4000-8000-0000000007d0");
        assert_eq!(bench_variant(2000, 1).to_string(), "be4c0002-0000-4000-8000-000000000001");
        assert_eq!(bench_variant(10, 10).to_string(), "be4c0003-0000-4000-8000-00000000000a");
    }
}
