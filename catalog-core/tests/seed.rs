//! The `seed` subcommand against a real PostgreSQL: demo idempotency and consistency, scale mode.

use catalog_core::seed::{self, DEMO_ORGANIZATIONS, SeedArgs};
use catalog_core::testing::TestDb;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;

const TABLES: &[&str] = &[
    "brands",
    "collections",
    "tags",
    "product_options",
    "product_option_values",
    "products",
    "product_variants",
    "product_option_assignments",
    "variant_option_values",
    "collection_products",
    "product_tags",
    "product_images",
    "price_tiers",
    "price_tier_rules",
    "product_recipes",
    "recipe_ingredients",
    "outbox",
];

/// Variants whose organization is not their product's.
const FOREIGN_VARIANTS: &str = "SELECT count(*) AS n FROM product_variants v JOIN products p ON p.id = v.product_id \
    WHERE p.organization_id <> v.organization_id";

/// Variants whose option signature is not the sorted option_id=value_id list of their option values.
const INCONSISTENT_SIGNATURES: &str = "SELECT count(*) AS n FROM product_variants v \
    WHERE v.option_signature IS DISTINCT FROM \
    (SELECT string_agg(x.option_id::text || '=' || x.option_value_id::text, ',' ORDER BY x.option_id) \
     FROM variant_option_values x WHERE x.variant_id = v.id)";

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    let conn = &mut *db.conn().await;
    diesel::sql_query(sql).get_result::<Count>(conn).await.unwrap_or_else(|e| panic!("{sql}: {e}")).n
}

async fn table_counts(db: &TestDb) -> Vec<(&'static str, i64)> {
    let mut counts = Vec::new();
    for table in TABLES {
        counts.push((*table, count(db, &format!("SELECT count(*) AS n FROM {table}")).await));
    }
    counts
}

/// The café's recipes hold together: the latte explodes into page 03's deductions, the caramel
/// latte through its nested sauce, and every seeded product that has a recipe is composite.
#[tokio::test]
async fn the_demo_cafe_sells_page_03s_latte_and_a_nested_recipe() {
    use catalog_core::repo::recipes;
    use rust_decimal::Decimal;
    let db = TestDb::new().await;
    seed::run(&db.pool, &SeedArgs::default()).await.expect("demo seed");
    let cafe = DEMO_ORGANIZATIONS[3].id;
    let conn = &mut *db.conn().await;
    let variant = |sku: &str| {
        catalog_core::schema::product_variants::table
            .filter(catalog_core::schema::product_variants::organization_id.eq(cafe))
            .filter(catalog_core::schema::product_variants::sku.eq(sku.to_string()))
            .select(catalog_core::schema::product_variants::id)
    };
    let mut sold = Vec::new();
    for sku in ["CE-LATTE", "CE-LATTECAR"] {
        sold.push((variant(sku).first(conn).await.expect(sku), Decimal::ONE));
    }
    let exploded = recipes::explode(conn, cafe, &sold).await.expect("explode");
    let mut named = Vec::new();
    for explosion in &exploded {
        let mut lines = Vec::new();
        for d in &explosion.deductions {
            let sku: String = catalog_core::schema::product_variants::table
                .find(d.variant_id)
                .select(catalog_core::schema::product_variants::sku)
                .first(conn)
                .await
                .expect("sku");
            lines.push(format!(
                "{sku} {} {}{}",
                d.quantity.normalize(),
                d.unit,
                if d.is_optional { " (opcional)" } else { "" }
            ));
        }
        named.push(lines);
    }
    assert_eq!(
        named[0],
        ["CE-CAFEGRANO 0.021 kg", "CE-LECHE 0.204 litro", "CE-VASO12 1 unit", "CE-TAPA12 1 unit (opcional)",]
    );
    // 30 ml of a sauce made 2 l at a time from 1,200 g of sugar and 800 ml of milk (+5 %).
    assert_eq!(
        named[1],
        [
            "CE-CAFEGRANO 0.021 kg",
            "CE-LECHE 0.1962 litro",
            "CE-AZUCAR 0.018 kg",
            "CE-VASO12 1 unit",
            "CE-TAPA12 1 unit (opcional)",
        ]
    );
    let not_composite = count(
        &db,
        "SELECT count(*) AS n FROM products p WHERE p.is_composite <> \
         EXISTS (SELECT 1 FROM product_recipes r WHERE r.product_id = p.id AND r.is_active)",
    )
    .await;
    assert_eq!(not_composite, 0, "is_composite follows the seeded recipes");
}

#[tokio::test]
async fn demo_seed_is_idempotent_and_consistent() {
    let db = TestDb::new().await;
    let report = seed::run(&db.pool, &SeedArgs::default()).await.expect("first demo seed");
    for org in DEMO_ORGANIZATIONS {
        assert!(report.contains(&org.id.to_string()), "the report names {}: {report}", org.id);
    }
    let first = table_counts(&db).await;
    for (table, n) in &first {
        if *table == "outbox" {
            assert_eq!(*n, 0, "seeding must not publish events");
        } else {
            assert!(*n > 0, "{table} is empty after the demo seed");
        }
    }

    seed::run(&db.pool, &SeedArgs::default()).await.expect("second demo seed");
    assert_eq!(table_counts(&db).await, first, "a second run changes nothing");

    // Every product of every demo organization has variants, all in the product's organization.
    for org in DEMO_ORGANIZATIONS {
        let products =
            count(&db, &format!("SELECT count(*) AS n FROM products WHERE organization_id = '{}'", org.id)).await;
        assert!(products > 0, "{} has products", org.name);
    }
    let foreign = count(&db, FOREIGN_VARIANTS).await;
    assert_eq!(foreign, 0, "a variant belongs to its product's organization");
    let without_variant = count(
        &db,
        "SELECT count(*) AS n FROM products p WHERE NOT EXISTS \
         (SELECT 1 FROM product_variants v WHERE v.product_id = p.id)",
    )
    .await;
    assert_eq!(without_variant, 0, "every product has at least one variant");

    // The option signature is the sorted option_id=value_id list of the variant's option values.
    let inconsistent = count(&db, INCONSISTENT_SIGNATURES).await;
    assert_eq!(inconsistent, 0, "option_signature matches variant_option_values");
    let missing_values = count(
        &db,
        "SELECT count(*) AS n FROM product_variants v \
         WHERE (SELECT count(*) FROM product_option_assignments a WHERE a.product_id = v.product_id) \
            <> (SELECT count(*) FROM variant_option_values x WHERE x.variant_id = v.id)",
    )
    .await;
    assert_eq!(missing_values, 0, "each variant has one value per option its product declares");
    let clothing_variants = count(
        &db,
        &format!(
            "SELECT count(*) AS n FROM product_variants WHERE organization_id = '{}' AND option_signature IS NOT NULL",
            DEMO_ORGANIZATIONS[0].id
        ),
    )
    .await;
    assert!(clothing_variants > 10, "the clothing store has variants per Color/Talla combination");

    // Every demo variant: sku, EAN-13 barcode, price, VAT 19.
    let conn = &mut *db.conn().await;
    let barcodes: Vec<String> = diesel::sql_query(
        "SELECT barcode AS value FROM product_variants WHERE sku <> '' AND sale_price > 0 AND tax_rate = 19",
    )
    .load::<Value>(conn)
    .await
    .expect("barcodes")
    .into_iter()
    .map(|v| v.value)
    .collect();
    assert_eq!(barcodes.len() as i64, first.iter().find(|(t, _)| *t == "product_variants").map_or(0, |(_, n)| *n));
    for barcode in barcodes {
        assert_valid_ean13(&barcode);
    }
    let one_primary = count(
        &db,
        "SELECT count(*) AS n FROM products p WHERE \
         (SELECT count(*) FROM product_images i WHERE i.product_id = p.id AND i.is_primary) <> 1",
    )
    .await;
    assert_eq!(one_primary, 0, "every demo product has exactly one primary image");
    let children = count(&db, "SELECT count(*) AS n FROM collections WHERE parent_id IS NOT NULL").await;
    assert!(children > 0, "collections form a tree");
    let tag_types = count(&db, "SELECT count(DISTINCT tag_type) AS n FROM tags").await;
    assert_eq!(tag_types, 4, "tags of every type");
}

#[derive(QueryableByName)]
struct Value {
    #[diesel(sql_type = Text)]
    value: String,
}

fn assert_valid_ean13(code: &str) {
    assert_eq!(code.len(), 13, "{code}");
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
    let body: u64 = code[..12].parse().unwrap_or_else(|e| panic!("{code}: {e}"));
    assert_eq!(seed::ean13(body), code, "check digit of {code}");
}

#[tokio::test]
async fn scale_seed_generates_the_requested_volume() {
    let db = TestDb::new().await;
    let args = SeedArgs { products: Some(2_000), organizations: 3, variants_per_product: 3, chunk_size: 700 };
    let report = seed::run(&db.pool, &args).await.expect("scale seed");
    assert!(report.contains("2000 products"), "{report}");

    assert_eq!(count(&db, "SELECT count(*) AS n FROM products").await, 2_000);
    assert_eq!(count(&db, "SELECT count(*) AS n FROM product_variants").await, 6_000);
    assert_eq!(count(&db, "SELECT count(*) AS n FROM outbox").await, 0, "seeding publishes nothing");
    assert_eq!(count(&db, "SELECT count(DISTINCT organization_id) AS n FROM products").await, 3);
    for org in seed::scale_organizations(3) {
        let n = count(&db, &format!("SELECT count(*) AS n FROM products WHERE organization_id = '{org}'")).await;
        assert!((600..=700).contains(&n), "products spread evenly: {org} has {n}");
        assert!(report.contains(&org.to_string()), "{report}");
    }
    let duplicate_skus = count(
        &db,
        "SELECT count(*) AS n FROM (SELECT organization_id, sku FROM product_variants \
         GROUP BY 1, 2 HAVING count(*) > 1) d",
    )
    .await;
    assert_eq!(duplicate_skus, 0, "variant SKUs are unique per organization");
    let duplicate_barcodes = count(
        &db,
        "SELECT count(*) AS n FROM (SELECT organization_id, barcode FROM product_variants \
         GROUP BY 1, 2 HAVING count(*) > 1) d",
    )
    .await;
    assert_eq!(duplicate_barcodes, 0, "barcodes are unique per organization");
    let foreign = count(&db, FOREIGN_VARIANTS).await;
    assert_eq!(foreign, 0);
    let inactive = count(&db, "SELECT count(*) AS n FROM products WHERE status <> 'active'").await;
    assert!(inactive > 0 && inactive < 1_000, "some products are inactive or archived: {inactive}");
    let distinct_titles = count(&db, "SELECT count(DISTINCT title) AS n FROM products").await;
    assert!(distinct_titles > 1_500, "titles are varied: {distinct_titles}");
    let inconsistent = count(&db, INCONSISTENT_SIGNATURES).await;
    assert_eq!(inconsistent, 0, "option_signature matches variant_option_values");

    // Spanish full text (accent-insensitive) and trigram search find generated titles.
    let full_text = count(
        &db,
        "SELECT count(*) AS n FROM products \
         WHERE search_document @@ plainto_tsquery('spanish', catalog_unaccent('pantalon algodon'))",
    )
    .await;
    assert!(full_text > 0, "full-text search finds 'pantalon algodon'");
    let trigram =
        count(&db, "SELECT count(*) AS n FROM products WHERE 'camiseta' <% catalog_unaccent(lower(title))").await;
    assert!(trigram > 0, "trigram search finds 'camiseta'");

    let conn = &mut *db.conn().await;
    let sample: Vec<Value> = diesel::sql_query("SELECT barcode AS value FROM product_variants ORDER BY sku LIMIT 50")
        .load(conn)
        .await
        .expect("sample");
    for v in sample {
        assert_valid_ean13(&v.value);
    }

    // Rerunning adds nothing; a larger N adds only the difference.
    seed::run(&db.pool, &args).await.expect("rerun");
    assert_eq!(count(&db, "SELECT count(*) AS n FROM products").await, 2_000);
    let more = SeedArgs { products: Some(2_500), ..args };
    seed::run(&db.pool, &more).await.expect("extend");
    assert_eq!(count(&db, "SELECT count(*) AS n FROM products").await, 2_500);
    assert_eq!(count(&db, "SELECT count(*) AS n FROM product_variants").await, 7_500);
}

#[tokio::test]
async fn scale_seed_with_simple_products() {
    let db = TestDb::new().await;
    let args = SeedArgs { products: Some(300), organizations: 2, variants_per_product: 1, ..SeedArgs::default() };
    seed::run(&db.pool, &args).await.expect("scale seed");
    assert_eq!(count(&db, "SELECT count(*) AS n FROM product_variants").await, 300);
    let mismatched = count(
        &db,
        "SELECT count(*) AS n FROM products p JOIN product_variants v ON v.product_id = p.id \
         WHERE p.has_variants OR p.barcode IS DISTINCT FROM v.barcode OR p.sku <> v.sku",
    )
    .await;
    assert_eq!(mismatched, 0, "a simple product shares sku and barcode with its default variant");
    assert_eq!(count(&db, "SELECT count(*) AS n FROM variant_option_values").await, 0);
}
