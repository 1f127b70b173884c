//! The catalog's file layout for imports and exports.
//!
//! CSV: one line per variant, the product's columns repeated on each of its lines; lines with
//! the same `product_sku` next to each other form one product. A line whose `variant_sku` is
//! empty (or equals `product_sku`) is a simple product: its variant columns are its default
//! variant's. Headers are matched case- and accent-insensitively, with common aliases
//! ([`canonical_column`]). JSON Lines: one object per line, shaped as `POST /api/v1/products`
//! takes it. An export uses the same layouts, so importing it changes nothing.

use crate::db::PgConn;
use crate::error::Result;
use crate::ids::{CollectionId, OrganizationId, ProductId, TagId, VariantId};
use crate::models::{Product, ProductImage, Variant, VariantImage};
use crate::schema::{collection_products, product_images, product_tags, product_variants, products, variant_images};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// How a column's text becomes JSON for the product object.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Integer,
    Boolean,
    Json,
    /// `|`-separated ids or names.
    List,
    /// `|`-separated URLs, or a JSON list of `{url, alt, is_primary}` (what an export writes
    /// when an image has alt text or the primary is not the first).
    Images,
}

/// (column, kind, aliases). Product columns first, then the variant's.
const PRODUCT_COLUMNS: &[(&str, Kind, &[&str])] = &[
    ("product_sku", Kind::Text, &["sku", "handle", "codigo", "referencia", "parent_sku", "product_code"]),
    ("title", Kind::Text, &["name", "product_name", "nombre", "titulo", "product_title"]),
    ("slug", Kind::Text, &["url_handle"]),
    ("product_barcode", Kind::Text, &[]),
    ("description", Kind::Text, &["descripcion", "body", "body_html", "product_description"]),
    ("status", Kind::Text, &["estado", "product_status"]),
    ("product_type", Kind::Text, &["type", "tipo", "category", "categoria"]),
    ("unit_of_measure", Kind::Text, &["unit", "uom", "unidad", "unidad_de_medida"]),
    ("alert_stock", Kind::Integer, &["stock_alert", "reorder_point"]),
    ("brand_id", Kind::Text, &[]),
    ("local_id", Kind::Text, &[]),
    ("metadata", Kind::Json, &[]),
    ("tag_ids", Kind::List, &[]),
    ("collection_ids", Kind::List, &[]),
    ("options", Kind::List, &["option_names", "opciones"]),
    ("images", Kind::Images, &["image_urls", "image_src", "image", "imagenes", "product_images"]),
];
const VARIANT_COLUMNS: &[(&str, Kind, &[&str])] = &[
    ("variant_sku", Kind::Text, &["variant_code", "sku_variante", "child_sku"]),
    ("variant_title", Kind::Text, &["variant_name", "variante", "option_title"]),
    ("barcode", Kind::Text, &["ean", "ean13", "upc", "gtin", "codigo_de_barras", "codigo_barras", "variant_barcode"]),
    ("sale_price", Kind::Text, &["price", "precio", "precio_venta", "variant_price", "pvp"]),
    ("cost_price", Kind::Text, &["cost", "costo", "coste", "precio_costo", "cost_per_item"]),
    ("compare_at_price", Kind::Text, &["compare_price", "precio_comparacion", "variant_compare_at_price"]),
    ("tax_rate", Kind::Text, &["tax", "iva", "impuesto", "vat"]),
    ("weight", Kind::Text, &["peso", "weight_kg", "variant_weight"]),
    ("dim_length", Kind::Text, &["length", "largo"]),
    ("dim_width", Kind::Text, &["width", "ancho"]),
    ("dim_height", Kind::Text, &["height", "alto"]),
    ("lot_number", Kind::Text, &["lot", "lote"]),
    ("vendor", Kind::Text, &["proveedor", "supplier"]),
    ("warehouse_id", Kind::Text, &[]),
    ("track_inventory", Kind::Boolean, &["inventory_tracked"]),
    ("default_min_stock", Kind::Integer, &["min_stock", "stock_minimo"]),
    ("default_max_stock", Kind::Integer, &["max_stock", "stock_maximo"]),
    ("attributes", Kind::Json, &[]),
    ("position", Kind::Integer, &[]),
    ("is_active", Kind::Boolean, &["active", "activo"]),
    ("variant_metadata", Kind::Json, &[]),
    ("variant_images", Kind::Images, &["variant_image", "variant_image_url", "imagen_variante"]),
];
/// The variant columns a simple product takes at the top level of its object.
const SIMPLE_PRODUCT_FIELDS: &[&str] = &[
    "sale_price",
    "cost_price",
    "compare_at_price",
    "tax_rate",
    "weight",
    "dim_length",
    "dim_width",
    "dim_height",
    "warehouse_id",
    "track_inventory",
    "default_min_stock",
    "default_max_stock",
];

/// Every column, in export order.
pub fn columns() -> impl Iterator<Item = &'static str> {
    PRODUCT_COLUMNS.iter().chain(VARIANT_COLUMNS).map(|(name, _, _)| *name)
}

fn kind(column: &str) -> Kind {
    PRODUCT_COLUMNS.iter().chain(VARIANT_COLUMNS).find(|(name, _, _)| *name == column).map_or(Kind::Text, |c| c.1)
}

/// Lowercase, accents and punctuation folded to `_`: "Código de barras" → "codigo_de_barras".
fn fold(header: &str) -> String {
    let folded: String = header
        .trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .map(|c| match c.to_lowercase().next().unwrap_or(c) {
            'á' | 'à' | 'ä' | 'â' => 'a',
            'é' | 'è' | 'ë' | 'ê' => 'e',
            'í' | 'ì' | 'ï' | 'î' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' => 'o',
            'ú' | 'ù' | 'ü' | 'û' => 'u',
            'ñ' => 'n',
            c if c.is_ascii_alphanumeric() => c,
            _ => '_',
        })
        .collect();
    folded.split('_').filter(|part| !part.is_empty()).collect::<Vec<_>>().join("_")
}

/// The canonical column a CSV header names, if any (unknown headers are ignored).
pub fn canonical_column(header: &str) -> Option<&'static str> {
    let folded = fold(header);
    PRODUCT_COLUMNS
        .iter()
        .chain(VARIANT_COLUMNS)
        .find(|(name, _, aliases)| *name == folded || aliases.contains(&folded.as_str()))
        .map(|(name, _, _)| *name)
}

/// One CSV line as `{canonical column: text}` (empty cells left out).
pub fn line_payload(header: &[Option<&'static str>], cells: &csv::StringRecord) -> Value {
    let mut map = Map::new();
    for (column, cell) in header.iter().zip(cells.iter()) {
        if let Some(column) = column
            && !cell.trim().is_empty()
        {
            map.insert((*column).to_string(), Value::String(cell.to_string()));
        }
    }
    Value::Object(map)
}

/// A cell's text as the JSON the product object wants; unparseable text is passed on as a
/// string, so validation names the field.
fn typed(column: &str, text: &str) -> Value {
    let text = text.trim();
    match kind(column) {
        Kind::Text => Value::String(text.to_string()),
        Kind::Integer => text.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::String(text.into())),
        Kind::Boolean => match text.to_lowercase().as_str() {
            "true" | "1" | "yes" | "si" | "sí" | "y" => Value::Bool(true),
            "false" | "0" | "no" | "n" => Value::Bool(false),
            _ => Value::String(text.into()),
        },
        Kind::Json => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.into())),
        Kind::Images if text.starts_with('[') => {
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.into()))
        }
        Kind::List | Kind::Images => Value::Array(
            text.split('|').map(str::trim).filter(|s| !s.is_empty()).map(|s| Value::String(s.into())).collect(),
        ),
    }
}

/// Consecutive CSV lines (payloads from [`line_payload`]) → product objects, each with the
/// indexes of the lines it came from (its variants' lines, in order).
pub fn group_lines(lines: &[Value]) -> Vec<(Vec<usize>, Value)> {
    let mut groups: Vec<(Vec<usize>, Value)> = Vec::new();
    let mut current_sku: Option<String> = None;
    for (i, line) in lines.iter().enumerate() {
        let cell = |name: &str| line.get(name).and_then(Value::as_str);
        let sku = cell("product_sku").map(str::to_string);
        if sku.is_none() || sku != current_sku || groups.is_empty() {
            let mut product = Map::new();
            for (name, _, _) in PRODUCT_COLUMNS {
                if let Some(text) = cell(name) {
                    let key = match *name {
                        "product_sku" => "sku",
                        "product_barcode" => "barcode",
                        other => other,
                    };
                    product.insert(key.into(), typed(name, text));
                }
            }
            groups.push((Vec::new(), Value::Object(product)));
            current_sku = sku;
        }
        let Some((indexes, Value::Object(product))) = groups.last_mut() else { continue };
        indexes.push(i);
        let variant_sku = cell("variant_sku").filter(|v| Some(*v) != current_sku.as_deref());
        match variant_sku {
            None => {
                // A simple product: its variant columns are its default variant's.
                product.insert("has_variants".into(), Value::Bool(false));
                for name in SIMPLE_PRODUCT_FIELDS {
                    if let Some(text) = cell(name) {
                        product.insert((*name).into(), typed(name, text));
                    }
                }
                if let Some(barcode) = cell("barcode") {
                    product.insert("barcode".into(), Value::String(barcode.into()));
                }
            }
            Some(_) => {
                product.insert("has_variants".into(), Value::Bool(true));
                let mut variant = Map::new();
                for (name, _, _) in VARIANT_COLUMNS {
                    if let Some(text) = cell(name) {
                        let key = match *name {
                            "variant_sku" => "sku",
                            "variant_title" => "title",
                            "variant_metadata" => "metadata",
                            "variant_images" => "images",
                            other => other,
                        };
                        variant.insert(key.into(), typed(name, text));
                    }
                }
                let variants = product.entry("variants").or_insert_with(|| json!([]));
                if let Value::Array(variants) = variants {
                    variants.push(Value::Object(variant));
                }
            }
        }
    }
    groups
}

/// A product as an export holds it.
#[derive(Debug, Clone)]
pub struct Exported {
    pub product: Product,
    pub variants: Vec<Variant>,
    pub tag_ids: Vec<TagId>,
    pub collection_ids: Vec<CollectionId>,
    /// The names of the options it declares, in order.
    pub options: Vec<String>,
    /// Its images, and its variants', in position order.
    pub images: Vec<ProductImage>,
    pub variant_images: HashMap<VariantId, Vec<VariantImage>>,
}

/// URLs joined by `|` when that says everything (no alt text, the first is the primary);
/// otherwise the JSON list.
fn images_cell<'a>(images: impl Iterator<Item = (&'a str, &'a Option<String>, bool)>) -> String {
    let images: Vec<_> = images.collect();
    let plain = images
        .iter()
        .enumerate()
        .all(|(i, (url, alt, primary))| alt.is_none() && *primary == (i == 0) && !url.contains('|'));
    if plain {
        images.iter().map(|(url, ..)| *url).collect::<Vec<_>>().join("|")
    } else {
        let listed: Vec<Value> =
            images.iter().map(|(url, alt, primary)| json!({ "url": url, "alt": alt, "is_primary": primary })).collect();
        Value::Array(listed).to_string()
    }
}

fn id_list<T: ToString>(ids: &[T]) -> String {
    ids.iter().map(ToString::to_string).collect::<Vec<_>>().join("|")
}

/// A product as its export lines, in [`columns`] order.
pub fn csv_lines(exported: &Exported) -> Vec<Vec<String>> {
    let Exported { product, variants, tag_ids, collection_ids, options, images, variant_images } = exported;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let decimal = |v: &Option<rust_decimal::Decimal>| v.map(|d| d.to_string()).unwrap_or_default();
    let json_text = |v: &Value| if v.as_object().is_some_and(Map::is_empty) { String::new() } else { v.to_string() };
    let product_cells = vec![
        product.sku.clone(),
        product.title.clone(),
        product.slug.clone(),
        if product.has_variants { text(&product.barcode) } else { String::new() },
        text(&product.description),
        product.status.as_str().to_string(),
        text(&product.product_type),
        product.unit_of_measure.clone(),
        product.alert_stock.to_string(),
        product.brand_id.map(|b| b.to_string()).unwrap_or_default(),
        product.local_id.map(|l| l.to_string()).unwrap_or_default(),
        json_text(&product.metadata),
        id_list(tag_ids),
        id_list(collection_ids),
        options.join("|"),
        images_cell(images.iter().map(|i| (i.url.as_str(), &i.alt, i.is_primary))),
    ];
    variants
        .iter()
        .map(|v| {
            let simple = !product.has_variants;
            let mut cells = product_cells.clone();
            cells.extend([
                if simple { String::new() } else { v.sku.clone() },
                text(&v.title),
                text(&v.barcode),
                v.sale_price.to_string(),
                decimal(&v.cost_price),
                decimal(&v.compare_at_price),
                v.tax_rate.to_string(),
                decimal(&v.weight),
                decimal(&v.dim_length),
                decimal(&v.dim_width),
                decimal(&v.dim_height),
                text(&v.lot_number),
                text(&v.vendor),
                v.warehouse_id.map(|w| w.to_string()).unwrap_or_default(),
                v.track_inventory.to_string(),
                v.default_min_stock.to_string(),
                v.default_max_stock.to_string(),
                json_text(&v.attributes),
                v.position.to_string(),
                v.is_active.to_string(),
                json_text(&v.metadata),
                images_cell(
                    variant_images.get(&v.id).into_iter().flatten().map(|i| (i.url.as_str(), &i.alt, i.is_primary)),
                ),
            ]);
            cells
        })
        .collect()
}

/// A product as one JSON Lines object (the shape `POST /api/v1/products` takes).
pub fn json_line(exported: &Exported) -> Value {
    let header: Vec<&str> = columns().collect();
    let lines: Vec<Value> = csv_lines(exported)
        .into_iter()
        .map(|cells| {
            let record = csv::StringRecord::from(cells);
            let canonical: Vec<Option<&'static str>> = header.iter().map(|c| Some(*c)).collect();
            line_payload(&canonical, &record)
        })
        .collect();
    group_lines(&lines).into_iter().next().map(|(_, object)| object).unwrap_or(Value::Null)
}

/// One page of the organization's live products (id order, after `after`) with their live
/// variants, tags, collections, declared options and images: seven statements per page.
pub async fn export_page(
    conn: &mut PgConn,
    org: OrganizationId,
    after: Option<ProductId>,
    limit: i64,
) -> Result<Vec<Exported>> {
    let mut query = products::table
        .filter(products::organization_id.eq(org))
        .filter(products::deleted_at.is_null())
        .order(products::id.asc())
        .limit(limit)
        .select(Product::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(products::id.gt(after));
    }
    let page: Vec<Product> = query.load(conn).await?;
    let ids: Vec<ProductId> = page.iter().map(|p| p.id).collect();
    let variants: Vec<Variant> = product_variants::table
        .filter(product_variants::organization_id.eq(org))
        .filter(product_variants::product_id.eq_any(&ids))
        .filter(product_variants::deleted_at.is_null())
        .order((product_variants::product_id, product_variants::position, product_variants::id))
        .select(Variant::as_select())
        .load(conn)
        .await?;
    let links: Vec<(ProductId, TagId)> = product_tags::table
        .filter(product_tags::organization_id.eq(org))
        .filter(product_tags::product_id.eq_any(&ids))
        .order((product_tags::product_id, product_tags::tag_id))
        .select((product_tags::product_id, product_tags::tag_id))
        .load(conn)
        .await?;
    let memberships: Vec<(ProductId, CollectionId)> = collection_products::table
        .filter(collection_products::organization_id.eq(org))
        .filter(collection_products::product_id.eq_any(&ids))
        .order((collection_products::product_id, collection_products::collection_id))
        .select((collection_products::product_id, collection_products::collection_id))
        .load(conn)
        .await?;
    let declared = crate::repo::products::declared_options(conn, org, &ids).await?;
    let product_images: Vec<ProductImage> = product_images::table
        .filter(product_images::organization_id.eq(org))
        .filter(product_images::product_id.eq_any(&ids))
        .order((product_images::product_id, product_images::position, product_images::id))
        .select(ProductImage::as_select())
        .load(conn)
        .await?;
    let variant_ids: Vec<VariantId> = variants.iter().map(|v| v.id).collect();
    let variant_images: Vec<VariantImage> = variant_images::table
        .filter(variant_images::organization_id.eq(org))
        .filter(variant_images::variant_id.eq_any(&variant_ids))
        .order((variant_images::variant_id, variant_images::position, variant_images::id))
        .select(VariantImage::as_select())
        .load(conn)
        .await?;
    let mut images_of: HashMap<ProductId, Vec<ProductImage>> = HashMap::new();
    for image in product_images {
        images_of.entry(image.product_id).or_default().push(image);
    }
    let mut images_of_variant: HashMap<VariantId, Vec<VariantImage>> = HashMap::new();
    for image in variant_images {
        images_of_variant.entry(image.variant_id).or_default().push(image);
    }
    let mut options_of: HashMap<ProductId, Vec<String>> = HashMap::new();
    for (product, _, name) in declared {
        options_of.entry(product).or_default().push(name);
    }
    let mut collections_of: HashMap<ProductId, Vec<CollectionId>> = HashMap::new();
    for (product, collection) in memberships {
        collections_of.entry(product).or_default().push(collection);
    }
    let mut variants_of: HashMap<ProductId, Vec<Variant>> = HashMap::new();
    for variant in variants {
        variants_of.entry(variant.product_id).or_default().push(variant);
    }
    let mut tags_of: HashMap<ProductId, Vec<TagId>> = HashMap::new();
    for (product, tag) in links {
        tags_of.entry(product).or_default().push(tag);
    }
    Ok(page
        .into_iter()
        .map(|product| {
            let variants = variants_of.remove(&product.id).unwrap_or_default();
            let variant_images =
                variants.iter().filter_map(|v| images_of_variant.remove(&v.id).map(|images| (v.id, images))).collect();
            Exported {
                variants,
                variant_images,
                images: images_of.remove(&product.id).unwrap_or_default(),
                tag_ids: tags_of.remove(&product.id).unwrap_or_default(),
                collection_ids: collections_of.remove(&product.id).unwrap_or_default(),
                options: options_of.remove(&product.id).unwrap_or_default(),
                product,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_by_name_alias_case_and_accent() {
        assert_eq!(canonical_column("\u{feff}SKU"), Some("product_sku"));
        assert_eq!(canonical_column(" Código de barras "), Some("barcode"));
        assert_eq!(canonical_column("Precio"), Some("sale_price"));
        assert_eq!(canonical_column("Variant SKU"), Some("variant_sku"));
        assert_eq!(canonical_column("nonsense"), None);
    }

    #[test]
    fn consecutive_lines_of_one_sku_form_one_product() {
        let lines = vec![
            json!({ "product_sku": "A", "title": "Camisa", "variant_sku": "A-S", "sale_price": "10" }),
            json!({ "product_sku": "A", "title": "Camisa", "variant_sku": "A-M", "sale_price": "11", "track_inventory": "no" }),
            json!({ "product_sku": "B", "title": "Taza", "sale_price": "3.5", "barcode": "7800000000017" }),
        ];
        let groups = group_lines(&lines);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].0, [0, 1]);
        assert_eq!(groups[0].1["variants"][1], json!({ "sku": "A-M", "sale_price": "11", "track_inventory": false }));
        assert_eq!(
            groups[1].1,
            json!({ "sku": "B", "title": "Taza", "has_variants": false, "sale_price": "3.5", "barcode": "7800000000017" })
        );
    }

    #[test]
    fn image_cells_are_plain_urls_unless_alt_text_or_a_later_primary_needs_json() {
        let (none, alt) = (None, Some("Frente".to_string()));
        assert_eq!(
            images_cell([("https://a/1.jpg", &none, true), ("https://a/2.jpg", &none, false)].into_iter()),
            "https://a/1.jpg|https://a/2.jpg"
        );
        let cell = images_cell([("https://a/1.jpg", &alt, true)].into_iter());
        assert_eq!(typed("images", &cell), json!([{ "url": "https://a/1.jpg", "alt": "Frente", "is_primary": true }]));
        let cell = images_cell([("https://a/1.jpg", &none, false), ("https://a/2.jpg", &none, true)].into_iter());
        assert_eq!(typed("images", &cell)[1]["is_primary"], true);
        assert_eq!(typed("images", "https://a/1.jpg | https://a/2.jpg"), json!(["https://a/1.jpg", "https://a/2.jpg"]));
        assert_eq!(canonical_column("Image Src"), Some("images"));
        assert_eq!(canonical_column("Opciones"), Some("options"));
    }
}
