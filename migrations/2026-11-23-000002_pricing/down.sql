DROP TABLE price_tier_rules;
DROP TABLE price_tiers;
