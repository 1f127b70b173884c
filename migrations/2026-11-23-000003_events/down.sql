DROP TABLE deactivated_users;
DROP TABLE organization_states;
DROP TABLE processed_events;
DROP TRIGGER outbox_notify ON outbox;
DROP FUNCTION outbox_notify();
DROP TABLE outbox;
