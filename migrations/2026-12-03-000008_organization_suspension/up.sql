-- Auth's `auth.organization.suspended` may say when the suspension ends
-- (`data.suspension_end_date`): the organization is suspended while `suspended` and
-- (`suspended_until` is NULL or in the future), so it lifts itself without a second event.
ALTER TABLE organization_states ADD COLUMN suspended_until TIMESTAMPTZ;
