//! price_tiers repository.
