//! Row structs (what a `SELECT` returns), their insert forms, and changesets (`None` = leave as is).

mod brand;
mod changeset;
mod collection;
mod image;
mod option;
mod price_tier;
mod product;
mod recipe;
mod tag;
mod text_enum;
mod variant;

/// The most characters each text field takes: the columns' `CHECK (length(…) BETWEEN 1 AND n)`
/// of the migrations, checked at the edge so that a long value is a named field error rather than
/// a refused statement.
pub mod max_chars {
    pub const TITLE: usize = 500;
    pub const SKU: usize = 100;
    pub const BARCODE: usize = 100;
    pub const PRODUCT_TYPE: usize = 100;
    pub const UNIT_OF_MEASURE: usize = 20;
    pub const DESCRIPTION: usize = 5000;
    pub const LOT_NUMBER: usize = 100;
    pub const VENDOR: usize = 200;
    pub const OPTION_VALUE: usize = 100;
    /// Brands', collections' and price tiers' slugs.
    pub const SLUG: usize = 200;
    pub const URL: usize = 2048;
    /// `#RRGGBB`.
    pub const COLOR: usize = 7;
    /// A search or filter term: no column, a bound on the work one request asks for.
    pub const SEARCH: usize = 200;
}

pub use brand::*;
pub use collection::*;
pub use image::*;
pub use option::*;
pub use price_tier::*;
pub use product::*;
pub use recipe::*;
pub use tag::*;
pub use text_enum::Spelled;
pub use variant::*;

/// Who made a change, carried into events (`metadata.user_id`, `metadata.correlation_id`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Option<crate::ids::UserId>,
    pub correlation_id: Option<String>,
}

impl Actor {
    /// Changes made by the system itself (seeding, consumed events).
    pub fn system() -> Self {
        Self::default()
    }
}
