// @generated automatically by Diesel CLI.

pub mod sql_types {
    #[derive(diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "tsvector", schema = "pg_catalog"))]
    pub struct Tsvector;
}

diesel::table! {
    brands (id) {
        id -> Uuid,
        organization_id -> Uuid,
        name -> Text,
        slug -> Text,
        description -> Nullable<Text>,
        logo_url -> Nullable<Text>,
        status -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
        deleted_at -> Nullable<Timestamptz>,
        website -> Nullable<Text>,
        metadata -> Jsonb,
    }
}

diesel::table! {
    collection_products (collection_id, product_id) {
        organization_id -> Uuid,
        collection_id -> Uuid,
        product_id -> Uuid,
        position -> Int4,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    collections (id) {
        id -> Uuid,
        organization_id -> Uuid,
        parent_id -> Nullable<Uuid>,
        name -> Text,
        slug -> Text,
        description -> Nullable<Text>,
        image_url -> Nullable<Text>,
        status -> Text,
        position -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
        deleted_at -> Nullable<Timestamptz>,
        metadata -> Jsonb,
    }
}

diesel::table! {
    deactivated_users (user_id) {
        user_id -> Uuid,
        organization_id -> Nullable<Uuid>,
        deactivated_at -> Timestamptz,
    }
}

diesel::table! {
    idempotency_keys (organization_id, key) {
        organization_id -> Uuid,
        key -> Text,
        fingerprint -> Bytea,
        status_code -> Nullable<Int2>,
        response_headers -> Nullable<Jsonb>,
        response_body -> Nullable<Bytea>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    inventory_warehouses (organization_id, warehouse_id) {
        organization_id -> Uuid,
        warehouse_id -> Uuid,
        name -> Nullable<Text>,
        code -> Nullable<Text>,
        is_active -> Bool,
        observed_at -> Timestamptz,
    }
}

diesel::table! {
    media_deletions (storage_key) {
        storage_key -> Text,
        organization_id -> Uuid,
        due_at -> Timestamptz,
        attempts -> Int4,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    organization_locals (organization_id, local_id) {
        organization_id -> Uuid,
        local_id -> Uuid,
        name -> Nullable<Text>,
        is_active -> Bool,
        deleted_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    organization_states (organization_id) {
        organization_id -> Uuid,
        suspended -> Bool,
        deactivated_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
        suspended_until -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    outbox (id) {
        id -> Int8,
        event_id -> Uuid,
        organization_id -> Uuid,
        event_type -> Text,
        aggregate_type -> Text,
        aggregate_id -> Uuid,
        aggregate_version -> Int4,
        payload -> Jsonb,
        created_at -> Timestamptz,
        published_at -> Nullable<Timestamptz>,
        attempts -> Int4,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    price_tier_rules (id) {
        id -> Uuid,
        organization_id -> Uuid,
        price_tier_id -> Uuid,
        variant_id -> Uuid,
        min_qty -> Int4,
        price -> Numeric,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    price_tiers (id) {
        id -> Uuid,
        organization_id -> Uuid,
        name -> Text,
        slug -> Text,
        description -> Nullable<Text>,
        priority -> Int4,
        is_active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
        deleted_at -> Nullable<Timestamptz>,
        metadata -> Jsonb,
    }
}

diesel::table! {
    processed_events (consumer, event_id) {
        consumer -> Text,
        event_id -> Text,
        processed_at -> Timestamptz,
    }
}

diesel::table! {
    product_images (id) {
        id -> Uuid,
        organization_id -> Uuid,
        product_id -> Uuid,
        url -> Text,
        alt -> Nullable<Text>,
        position -> Int4,
        is_primary -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        metadata -> Jsonb,
    }
}

diesel::table! {
    product_option_assignments (product_id, option_id) {
        organization_id -> Uuid,
        product_id -> Uuid,
        option_id -> Uuid,
        position -> Int4,
    }
}

diesel::table! {
    product_option_values (id) {
        id -> Uuid,
        organization_id -> Uuid,
        option_id -> Uuid,
        value -> Text,
        position -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    product_options (id) {
        id -> Uuid,
        organization_id -> Uuid,
        name -> Text,
        position -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
        deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    product_tags (product_id, tag_id) {
        organization_id -> Uuid,
        product_id -> Uuid,
        tag_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    product_title_words (organization_id, word) {
        organization_id -> Uuid,
        word -> Text,
    }
}

diesel::table! {
    product_variants (id) {
        id -> Uuid,
        organization_id -> Uuid,
        product_id -> Uuid,
        title -> Nullable<Text>,
        sku -> Text,
        barcode -> Nullable<Text>,
        sale_price -> Numeric,
        cost_price -> Nullable<Numeric>,
        compare_at_price -> Nullable<Numeric>,
        tax_rate -> Numeric,
        weight -> Nullable<Numeric>,
        dim_length -> Nullable<Numeric>,
        dim_width -> Nullable<Numeric>,
        dim_height -> Nullable<Numeric>,
        lot_number -> Nullable<Text>,
        vendor -> Nullable<Text>,
        warehouse_id -> Nullable<Uuid>,
        track_inventory -> Bool,
        default_min_stock -> Int4,
        default_max_stock -> Int4,
        attributes -> Jsonb,
        option_signature -> Nullable<Text>,
        position -> Int4,
        is_active -> Bool,
        metadata -> Jsonb,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
        deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Tsvector;

    products (id) {
        id -> Uuid,
        organization_id -> Uuid,
        local_id -> Nullable<Uuid>,
        brand_id -> Nullable<Uuid>,
        title -> Text,
        slug -> Text,
        sku -> Text,
        barcode -> Nullable<Text>,
        description -> Nullable<Text>,
        status -> Text,
        product_type -> Nullable<Text>,
        unit_of_measure -> Text,
        alert_stock -> Int4,
        has_variants -> Bool,
        metadata -> Jsonb,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
        deleted_at -> Nullable<Timestamptz>,
        search_document -> Nullable<Tsvector>,
        is_composite -> Bool,
    }
}

diesel::table! {
    tags (id) {
        id -> Uuid,
        organization_id -> Uuid,
        name -> Text,
        slug -> Text,
        tag_type -> Text,
        color -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
        deleted_at -> Nullable<Timestamptz>,
        metadata -> Jsonb,
    }
}

diesel::table! {
    variant_images (id) {
        id -> Uuid,
        organization_id -> Uuid,
        variant_id -> Uuid,
        url -> Text,
        alt -> Nullable<Text>,
        position -> Int4,
        is_primary -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        metadata -> Jsonb,
    }
}

diesel::table! {
    stock_reconciliations (organization_id) {
        organization_id -> Uuid,
        reconciled_at -> Timestamptz,
        variants_checked -> Int4,
        variants_repaired -> Int4,
    }
}

diesel::table! {
    variant_stock (organization_id, variant_id, warehouse_id) {
        organization_id -> Uuid,
        variant_id -> Uuid,
        warehouse_id -> Uuid,
        total -> Numeric,
        available -> Numeric,
        reserved -> Numeric,
        damaged -> Numeric,
        in_transit -> Numeric,
        observed_at -> Timestamptz,
        applied_at -> Timestamptz,
    }
}

diesel::table! {
    variant_option_values (variant_id, option_id) {
        organization_id -> Uuid,
        variant_id -> Uuid,
        option_id -> Uuid,
        option_value_id -> Uuid,
    }
}

diesel::table! {
    import_jobs (id) {
        id -> Uuid,
        organization_id -> Uuid,
        principal -> Jsonb,
        format -> Text,
        status -> Text,
        total_rows -> Int4,
        processed_rows -> Int4,
        created -> Int4,
        updated -> Int4,
        unchanged -> Int4,
        failed -> Int4,
        error -> Nullable<Text>,
        lease_until -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    import_results (job_id, line) {
        organization_id -> Uuid,
        job_id -> Uuid,
        line -> Int4,
        action -> Text,
        product_id -> Nullable<Uuid>,
        variant_id -> Nullable<Uuid>,
        errors -> Jsonb,
    }
}

diesel::table! {
    import_rows (job_id, line) {
        organization_id -> Uuid,
        job_id -> Uuid,
        line -> Int4,
        payload -> Jsonb,
        raw -> Text,
    }
}

diesel::table! {
    product_recipes (id) {
        id -> Uuid,
        organization_id -> Uuid,
        product_id -> Uuid,
        variant_id -> Nullable<Uuid>,
        name -> Nullable<Text>,
        yield_quantity -> Numeric,
        is_active -> Bool,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    recipe_ingredients (id) {
        id -> Uuid,
        organization_id -> Uuid,
        recipe_id -> Uuid,
        ingredient_variant_id -> Uuid,
        quantity -> Numeric,
        unit -> Text,
        is_optional -> Bool,
        waste_percentage -> Numeric,
        notes -> Nullable<Text>,
        position -> Int4,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    brands,
    collection_products,
    collections,
    deactivated_users,
    idempotency_keys,
    import_jobs,
    import_results,
    import_rows,
    inventory_warehouses,
    media_deletions,
    organization_locals,
    organization_states,
    outbox,
    price_tier_rules,
    price_tiers,
    processed_events,
    stock_reconciliations,
    product_images,
    product_option_assignments,
    product_option_values,
    product_options,
    product_recipes,
    product_tags,
    product_title_words,
    product_variants,
    products,
    recipe_ingredients,
    tags,
    variant_images,
    variant_option_values,
    variant_stock,
);
