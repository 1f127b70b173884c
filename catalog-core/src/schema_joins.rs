//! Relations diesel's generator cannot see: the schema uses composite (organization_id, id)
//! foreign keys, so `print-schema` emits no `joinable!`. Declared here so regeneration keeps them.

use crate::schema::*;

diesel::joinable!(product_variants -> products (product_id));
diesel::joinable!(products -> brands (brand_id));
diesel::joinable!(product_option_values -> product_options (option_id));
diesel::joinable!(product_option_assignments -> products (product_id));
diesel::joinable!(product_option_assignments -> product_options (option_id));
diesel::joinable!(variant_option_values -> product_variants (variant_id));
diesel::joinable!(variant_option_values -> product_option_values (option_value_id));
diesel::joinable!(collection_products -> collections (collection_id));
diesel::joinable!(collection_products -> products (product_id));
diesel::joinable!(product_tags -> products (product_id));
diesel::joinable!(product_tags -> tags (tag_id));
diesel::joinable!(product_images -> products (product_id));
diesel::joinable!(variant_images -> product_variants (variant_id));
diesel::joinable!(price_tier_rules -> price_tiers (price_tier_id));
diesel::joinable!(price_tier_rules -> product_variants (variant_id));
diesel::joinable!(product_recipes -> products (product_id));
diesel::joinable!(recipe_ingredients -> product_recipes (recipe_id));
