//! Migrations: they apply, revert completely, and re-apply to the identical schema; and the
//! schema keeps the properties the repositories rely on.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use catalog_core::db;
use catalog_core::testing::TestDb;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

/// Every table column, index, constraint, trigger and function of the public schema.
const FINGERPRINT: &str = r#"
    SELECT format('column %s.%s %s null=%s default=%s', table_name, column_name, data_type, is_nullable,
                  coalesce(column_default, '')) AS line
      FROM information_schema.columns WHERE table_schema = 'public'
    UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
    UNION ALL SELECT format('constraint %s %s', conname, pg_get_constraintdef(oid))
      FROM pg_constraint WHERE connamespace = 'public'::regnamespace
    UNION ALL SELECT format('trigger %s on %s', tgname, tgrelid::regclass) FROM pg_trigger WHERE NOT tgisinternal
    UNION ALL SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p
      WHERE p.pronamespace = 'public'::regnamespace
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
    ORDER BY 1
"#;

async fn fingerprint(db: &TestDb) -> Vec<String> {
    let mut conn = db.conn().await;
    let lines: Vec<Line> = diesel::sql_query(FINGERPRINT).load(&mut *conn).await.expect("fingerprint");
    lines.into_iter().map(|l| l.line).collect()
}

#[tokio::test]
async fn migrations_go_down_completely_and_up_again_to_the_same_schema() {
    let db = TestDb::empty().await;
    let applied = db::migrate(&db.url).await.expect("up");
    assert!(applied.len() >= 3, "{applied:?}");
    let first = fingerprint(&db).await;
    assert!(first.iter().any(|l| l.starts_with("column products.sku")), "schema present");

    let reverted = db::revert(&db.url, applied.len()).await.expect("down");
    assert_eq!(reverted.len(), applied.len());
    let empty = fingerprint(&db).await;
    let leftovers: Vec<&String> = empty.iter().filter(|l| !l.contains("__diesel_schema_migrations")).collect();
    assert!(leftovers.is_empty(), "down migrations must remove everything they created: {leftovers:#?}");

    assert_eq!(db::migrate(&db.url).await.expect("up again").len(), applied.len());
    assert_eq!(fingerprint(&db).await, first, "re-applied schema differs");
    assert!(db::migrate(&db.url).await.expect("idempotent").is_empty(), "nothing left to apply");
}

#[tokio::test]
async fn every_foreign_key_is_served_by_an_index() {
    // Cascades and existence checks look rows up by the referencing column; without an index
    // each one is a sequential scan of the child table.
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let missing: Vec<Line> = diesel::sql_query(
        r#"
        WITH fk AS (
            SELECT c.conname, c.conrelid,
                   (SELECT a.attnum FROM unnest(c.conkey) AS k(attnum)
                      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
                     WHERE a.attname <> 'organization_id' ORDER BY array_position(c.conkey, k.attnum) DESC LIMIT 1) AS key_col,
                   (SELECT attnum FROM pg_attribute WHERE attrelid = c.conrelid AND attname = 'organization_id') AS org_col
              FROM pg_constraint c WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
        )
        SELECT fk.conname AS line FROM fk
         WHERE NOT EXISTS (
            SELECT 1 FROM pg_index i WHERE i.indrelid = fk.conrelid
               AND (i.indkey[0] = fk.key_col OR (i.indkey[0] = fk.org_col AND i.indkey[1] = fk.key_col)))
        "#,
    )
    .load(&mut *conn)
    .await
    .expect("query");
    assert!(missing.is_empty(), "foreign keys without a supporting index: {missing:?}");
}

#[tokio::test]
async fn every_tenant_table_carries_the_organization() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let without: Vec<Line> = diesel::sql_query(
        r#"
        SELECT t.table_name AS line FROM information_schema.tables t
         WHERE t.table_schema = 'public' AND t.table_type = 'BASE TABLE'
           AND t.table_name NOT IN ('__diesel_schema_migrations', 'processed_events', 'deactivated_users', 'outbox_relay')
           AND NOT EXISTS (SELECT 1 FROM information_schema.columns c
                            WHERE c.table_schema = 'public' AND c.table_name = t.table_name
                              AND c.column_name = 'organization_id' AND c.is_nullable = 'NO')
        "#,
    )
    .load(&mut *conn)
    .await
    .expect("query");
    assert!(without.is_empty(), "tables without a NOT NULL organization_id: {without:?}");
}

#[tokio::test]
async fn every_constraint_the_error_classifier_names_exists() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    // Constraints, indexes (partial unique indexes are not constraints), and names a trigger
    // function raises as its constraint.
    let known: Vec<Line> = diesel::sql_query(
        r#"
        SELECT conname::text AS line FROM pg_constraint WHERE connamespace = 'public'::regnamespace
        UNION SELECT relname::text FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'i'
        UNION SELECT unnest(regexp_matches(prosrc, 'CONSTRAINT\s*=\s*''([a-z_]+)''', 'g'))
          FROM pg_proc WHERE pronamespace = 'public'::regnamespace
        "#,
    )
    .load(&mut *conn)
    .await
    .expect("query");
    let known: std::collections::HashSet<String> = known.into_iter().map(|l| l.line).collect();
    let missing: Vec<&str> = db::constraints::known_names().filter(|name| !known.contains(*name)).collect();
    assert!(missing.is_empty(), "the classifier names constraints the schema lacks: {missing:?}");

    // A CHECK on a table requests write must name its field; the others are the service's own.
    const INTERNAL: &[&str] = &["idempotency_keys", "import_jobs", "outbox_relay"];
    let checked: Vec<Line> = diesel::sql_query(
        "SELECT DISTINCT conrelid::regclass::text AS line FROM pg_constraint \
         WHERE connamespace = 'public'::regnamespace AND contype = 'c' ORDER BY 1",
    )
    .load(&mut *conn)
    .await
    .expect("query");
    let unmapped: Vec<String> = checked
        .into_iter()
        .map(|l| l.line)
        .filter(|table| !db::constraints::CHECKED_TABLES.iter().any(|(name, _)| name == table))
        .filter(|table| !INTERNAL.contains(&table.as_str()))
        .collect();
    assert!(unmapped.is_empty(), "tables with CHECK constraints the classifier does not map: {unmapped:?}");
}
