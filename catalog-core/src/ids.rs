//! Typed ids: a `ProductId` cannot be passed where a `VariantId` is expected, and the
//! organization is always an `OrganizationId`, never a bare `Uuid`.

use diesel_derive_newtype::DieselNewType;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(DieselNewType, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered (v7) id: consecutive inserts land near each other in indexes.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim()).map(Self)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    )*};
}

id_type!(
    /// The tenant. Comes from the Auth Service; every repository call is scoped by it.
    OrganizationId,
    LocalId,
    WarehouseId,
    UserId,
    ProductId,
    VariantId,
    OptionId,
    OptionValueId,
    BrandId,
    CollectionId,
    TagId,
    ImageId,
    PriceTierId,
    PriceTierRuleId,
    RecipeId,
    RecipeIngredientId,
);

/// Parses many ids at once, keeping only the well-formed ones: a malformed id can only ever
/// mean "not found", so callers that answer per id treat it exactly like a missing row.
pub fn parse_ids<T: FromStr>(raw: &[String]) -> Vec<T> {
    raw.iter().filter_map(|s| s.parse().ok()).collect()
}
