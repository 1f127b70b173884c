DROP FUNCTION outbox_partition(uuid, integer);
DROP TABLE outbox_relay;
