ALTER TABLE organization_states DROP COLUMN suspended_until;
