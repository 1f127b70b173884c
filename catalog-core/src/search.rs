//! POS quick search: what a cashier types is a barcode, a SKU (or its start) or words of a title.
//! Exact code hits come first, then SKU prefixes, then titles by relevance (Spanish full text,
//! accent-insensitive, typed words corrected to the organization's title words for typos). A
//! prepared barcode lookup first; then codes and SKU prefixes; titles only when no code matched.

use crate::db::PgConn;
use crate::error::{Error, Result};
use crate::ids::{LocalId, OrganizationId, ProductId, VariantId};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Double, Integer, Nullable, Numeric, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub const MAX_LIMIT: i32 = 100;
pub const DEFAULT_LIMIT: i32 = 20;
/// Longer input is not a code or a title a cashier would type.
pub const MAX_QUERY_CHARS: usize = 200;

#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub query: String,
    pub limit: Option<i32>,
    pub include_inactive: bool,
    /// When set: products of this local plus those of no particular local.
    pub local_id: Option<LocalId>,
}

impl SearchRequest {
    /// Digits only: a scanned barcode, answered by one prepared lookup. Caching it would add two
    /// Redis round trips to every first scan of a code to save one indexed read.
    pub fn is_scanned_code(&self) -> bool {
        let query = self.query.trim();
        !query.is_empty() && query.bytes().all(|b| b.is_ascii_digit())
    }

    /// Names the request's hits in the cache: everything that shapes them, the query as typed.
    pub fn cache_id(&self) -> String {
        let local = self.local_id.map(|l| l.to_string()).unwrap_or_default();
        format!("{}:{}:{local}:{}", self.limit.unwrap_or(0), u8::from(self.include_inactive), self.query)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchType {
    Barcode,
    Sku,
    SkuPrefix,
    Title,
}

impl MatchType {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchType::Barcode => "barcode",
            MatchType::Sku => "sku",
            MatchType::SkuPrefix => "sku_prefix",
            MatchType::Title => "title",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub product_id: ProductId,
    pub variant_id: Option<VariantId>,
    pub title: String,
    pub sku: String,
    pub barcode: Option<String>,
    pub sale_price: Option<Decimal>,
    pub match_type: MatchType,
    pub is_active: bool,
    pub score: f64,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = SqlUuid)]
    product_id: uuid::Uuid,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    variant_id: Option<uuid::Uuid>,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    sku: String,
    #[diesel(sql_type = Nullable<Text>)]
    barcode: Option<String>,
    #[diesel(sql_type = Nullable<Numeric>)]
    sale_price: Option<Decimal>,
    #[diesel(sql_type = Text)]
    match_type: String,
    #[diesel(sql_type = Bool)]
    is_active: bool,
    #[diesel(sql_type = Double)]
    score: f64,
}

/// The search statement, `$1` org, `$2` raw query, `$3` limit, `$4` include inactive, `$5` local
/// (nullable). Code matches use the (organization_id, sku|barcode) indexes. The title branch,
/// when given, corrects each typed word to the organization's known title words
/// (`product_title_words`, trigram similarity) and matches the corrected words with Spanish full
/// text on the (organization_id, search_document) index.
macro_rules! search_sql {
    ($title_ctes:literal, $title_hits:literal) => {
        concat!(
            r#"
WITH q AS (
    SELECT $2::text AS raw, catalog_unaccent(lower($2::text)) AS norm
),
eligible AS (
    SELECT p.* FROM products p
     WHERE p.organization_id = $1 AND p.deleted_at IS NULL
       AND ($4 OR p.status = 'active')
       AND ($5::uuid IS NULL OR p.local_id IS NULL OR p.local_id = $5::uuid)
),
code_variants AS (
    SELECT v.product_id, v.id AS variant_id,
           CASE WHEN v.barcode = q.raw THEN 'barcode' ELSE 'sku' END AS match_type, 0 AS class, 1.0::float8 AS score
      FROM product_variants v, q
     WHERE v.organization_id = $1 AND v.deleted_at IS NULL AND ($4 OR v.is_active)
       AND (v.barcode = q.raw OR v.sku = q.raw)
),
code_products AS (
    SELECT p.id AS product_id, NULL::uuid AS variant_id,
           CASE WHEN p.barcode = q.raw THEN 'barcode' ELSE 'sku' END, 0, 1.0::float8
      FROM products p, q
     WHERE p.organization_id = $1 AND p.deleted_at IS NULL AND (p.barcode = q.raw OR p.sku = q.raw)
),
prefix_variants AS (
    SELECT v.product_id, v.id, 'sku_prefix', 1, 0.5::float8
      FROM product_variants v, q
     WHERE v.organization_id = $1 AND v.deleted_at IS NULL AND ($4 OR v.is_active)
       -- A byte-wise range the (organization_id, sku text_pattern_ops) index serves, walked in
       -- its own order so LIMIT stops early; a LIKE whose pattern comes from a CTE cannot.
       AND v.sku ~>=~ q.raw AND v.sku ~<~ (q.raw || chr(1114111)) AND v.sku <> q.raw
     ORDER BY v.sku COLLATE "C"
     LIMIT $3
),"#,
            $title_ctes,
            r#"
hits AS (
    SELECT * FROM code_variants UNION ALL SELECT * FROM code_products
    UNION ALL SELECT * FROM prefix_variants"#,
            $title_hits,
            r#"
),
ranked AS (
    -- One row per product and variant: its best class.
    SELECT DISTINCT ON (h.product_id, h.variant_id) h.* FROM hits h
     ORDER BY h.product_id, h.variant_id, h.class, h.score DESC
)
SELECT e.id AS product_id, v.id AS variant_id, e.title, coalesce(v.sku, e.sku) AS sku,
       coalesce(v.barcode, e.barcode) AS barcode, v.sale_price, r.match_type,
       (e.status = 'active' AND coalesce(v.is_active, true)) AS is_active, r.score
  FROM ranked r
  JOIN eligible e ON e.id = r.product_id
  LEFT JOIN LATERAL (
        -- The variant hit, or for a product-level hit its first live variant (the one a POS sells).
        SELECT pv.* FROM product_variants pv
         WHERE pv.organization_id = $1 AND pv.product_id = r.product_id AND pv.deleted_at IS NULL
           AND (r.variant_id IS NULL OR pv.id = r.variant_id)
         ORDER BY pv.position, pv.id
         LIMIT 1
  ) v ON true
 ORDER BY r.class, r.score DESC, e.title, v.sku
 LIMIT $3
"#
        )
    };
}

/// SKUs and SKU prefixes (and barcodes of products). Like [`FULL_SQL`] it is planned on every
/// call (`sql_query`): a generic plan cannot know the prefix range or the organization.
const CODES_SQL: &str = search_sql!("", "");

/// Everything, titles included. Run only when no code matched.
const FULL_SQL: &str = search_sql!(
    r#"
typed AS (
    SELECT DISTINCT w FROM q, regexp_split_to_table(q.norm, '[^[:alnum:]]+') w WHERE w <> ''
),
spelled AS (
    -- Each typed word stands for itself (or a word it starts) or, for a typo, for the
    -- organization's title words that look most like it.
    SELECT w, w || ':*' AS lexeme FROM typed
    UNION
    SELECT t.w, k.word FROM typed t CROSS JOIN LATERAL (
        SELECT tw.word FROM product_title_words tw
         WHERE tw.organization_id = $1 AND length(t.w) >= 3 AND tw.word % t.w
         ORDER BY similarity(tw.word, t.w) DESC, tw.word
         LIMIT 3
    ) k
),
tq AS (
    -- Every typed word must match, through one of its spellings. Words are [[:alnum:]] runs,
    -- so they need no quoting inside the tsquery text.
    SELECT to_tsquery('spanish', string_agg(spellings, ' & ')) AS ts
      FROM (SELECT '(' || string_agg(lexeme, ' | ') || ')' AS spellings FROM spelled GROUP BY w) s
),
title_products AS (
    SELECT p.id, NULL::uuid, 'title', 2,
           greatest(ts_rank(p.search_document, tq.ts), word_similarity(q.norm, catalog_unaccent(lower(p.title))))::float8
      FROM products p, tq, q
     WHERE p.organization_id = $1 AND p.deleted_at IS NULL AND p.search_document @@ tq.ts
     ORDER BY 5 DESC
     LIMIT $3 * 2
),"#,
    " UNION ALL SELECT * FROM title_products"
);

/// The bind values of the search statements (`$1`..`$5`).
struct SearchVariables<'a> {
    org: uuid::Uuid,
    query: &'a str,
    limit: i32,
    include_inactive: bool,
    local_id: Option<uuid::Uuid>,
}

impl SearchVariables<'_> {
    async fn run(&self, conn: &mut PgConn, sql: &'static str) -> Result<Vec<Row>> {
        Ok(diesel::sql_query(sql)
            .bind::<SqlUuid, _>(self.org)
            .bind::<Text, _>(self.query)
            .bind::<Integer, _>(self.limit)
            .bind::<Bool, _>(self.include_inactive)
            .bind::<Nullable<SqlUuid>, _>(self.local_id)
            .load(conn)
            .await?)
    }
}

/// The barcode lookup: live variants of `$org` whose barcode is `$code`, with their product,
/// through the (organization_id, barcode) index. A macro so that [`scanned_barcode_statement`]
/// prints the very statement the service sends.
macro_rules! barcode_query {
    ($org:expr, $code:expr, $limit:expr) => {{
        use crate::schema::{product_variants as v, products as p};
        v::table
            .inner_join(p::table.on(p::organization_id.eq(v::organization_id).and(p::id.eq(v::product_id))))
            .filter(v::organization_id.eq($org))
            .filter(v::barcode.eq($code))
            .filter(v::deleted_at.is_null())
            .filter(p::deleted_at.is_null())
            .order(v::id)
            .limit($limit)
            .select((p::id, v::id, p::title, v::sku, v::barcode, v::sale_price, p::status, v::is_active, p::local_id))
    }};
}

/// The SQL of a scanned-barcode lookup, binds as `$1` (organization), `$2` (code), `$3` (limit):
/// the benchmark's pgbench twin runs it.
pub fn scanned_barcode_statement() -> String {
    crate::db::statement_text(&barcode_query!(uuid::Uuid::nil(), "", 1_i64))
}

/// Live variants whose barcode is the query, as search rows. A query diesel builds is prepared
/// once per connection; its plan is the same for every barcode.
async fn scanned_barcode(conn: &mut PgConn, search: &SearchVariables<'_>) -> Result<Vec<Row>> {
    let found: Vec<BarcodeHit> = barcode_query!(search.org, search.query, i64::from(search.limit)).load(conn).await?;
    Ok(found
        .into_iter()
        .filter(|hit| search.local_id.is_none() || hit.local_id.is_none() || hit.local_id == search.local_id)
        .map(|hit| Row {
            is_active: hit.status == "active" && hit.variant_active,
            product_id: hit.product_id,
            variant_id: Some(hit.variant_id),
            title: hit.title,
            sku: hit.sku,
            barcode: hit.barcode,
            sale_price: Some(hit.sale_price),
            match_type: MatchType::Barcode.as_str().to_string(),
            score: 1.0,
        })
        .filter(|row| search.include_inactive || row.is_active)
        .collect())
}

#[derive(Queryable)]
struct BarcodeHit {
    product_id: uuid::Uuid,
    variant_id: uuid::Uuid,
    title: String,
    sku: String,
    barcode: Option<String>,
    sale_price: Decimal,
    status: String,
    variant_active: bool,
    local_id: Option<uuid::Uuid>,
}

pub async fn search(conn: &mut PgConn, org: OrganizationId, request: &SearchRequest) -> Result<Vec<SearchHit>> {
    let query = request.query.trim();
    if query.is_empty() {
        return Err(Error::InvalidArgument { field: "query", message: "must not be empty".into() });
    }
    if query.contains('\0') {
        // PostgreSQL text cannot hold NUL; a scanner that sends one has sent no code.
        return Err(Error::InvalidArgument { field: "query", message: "must not contain NUL characters".into() });
    }
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(Error::InvalidArgument {
            field: "query",
            message: format!("must be at most {MAX_QUERY_CHARS} characters"),
        });
    }
    let limit = match request.limit {
        None | Some(0) => DEFAULT_LIMIT,
        Some(limit) if (1..=MAX_LIMIT).contains(&limit) => limit,
        Some(_) => {
            return Err(Error::InvalidArgument {
                field: "limit",
                message: format!("must be between 1 and {MAX_LIMIT}"),
            });
        }
    };
    let variables = SearchVariables {
        org: org.as_uuid(),
        query,
        limit,
        include_inactive: request.include_inactive,
        local_id: request.local_id.map(|l| l.as_uuid()),
    };
    // A scanned barcode is the common POS case and names one item: answer it with a prepared
    // lookup (planning the search statement costs more than running it).
    let mut rows = scanned_barcode(conn, &variables).await?;
    if rows.is_empty() && !query.contains(char::is_whitespace) {
        rows = variables.run(conn, CODES_SQL).await?;
    }
    // Titles (the expensive part) only when no code matched: text without spaces that starts
    // a SKU is a SKU being typed.
    if rows.is_empty() {
        rows = variables.run(conn, FULL_SQL).await?;
    }
    Ok(rows
        .into_iter()
        .map(|row| SearchHit {
            product_id: row.product_id.into(),
            variant_id: row.variant_id.map(Into::into),
            title: row.title,
            sku: row.sku,
            barcode: row.barcode,
            sale_price: row.sale_price,
            match_type: match row.match_type.as_str() {
                "barcode" => MatchType::Barcode,
                "sku" => MatchType::Sku,
                "sku_prefix" => MatchType::SkuPrefix,
                _ => MatchType::Title,
            },
            is_active: row.is_active,
            score: row.score,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::SearchRequest;

    #[test]
    fn only_digits_are_a_scanned_code() {
        let request = |query: &str| SearchRequest { query: query.into(), ..Default::default() };
        assert!(request(" 7701234567890 ").is_scanned_code());
        assert!(!request("CAM-001").is_scanned_code());
        assert!(!request("camiseta 2").is_scanned_code());
        assert!(!request("   ").is_scanned_code());
    }
}
