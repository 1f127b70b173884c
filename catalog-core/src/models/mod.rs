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
