-- Replication origins: ORIGIN follows BEGIN for replicated transactions;
-- only-local drops them.
SET client_min_messages = warning;
CREATE OR REPLACE FUNCTION tide_render(bytea, bool DEFAULT false)
	RETURNS SETOF text AS 'tide_render', 'tide_render' LANGUAGE C STRICT;
-- all changes of a slot, rendered; tide_peek leaves them in the slot
CREATE OR REPLACE FUNCTION tide_get(slot name, VARIADIC options text[] DEFAULT '{}')
	RETURNS SETOF text LANGUAGE sql AS $$
	SELECT public.tide_render(string_agg(data, ''::bytea ORDER BY n))
	FROM pg_logical_slot_get_binary_changes(slot, NULL, NULL, VARIADIC options)
		WITH ORDINALITY AS c(lsn, xid, data, n)
$$;
CREATE OR REPLACE FUNCTION tide_peek(slot name, VARIADIC options text[] DEFAULT '{}')
	RETURNS SETOF text LANGUAGE sql AS $$
	SELECT public.tide_render(string_agg(data, ''::bytea ORDER BY n))
	FROM pg_logical_slot_peek_binary_changes(slot, NULL, NULL, VARIADIC options)
		WITH ORDINALITY AS c(lsn, xid, data, n)
$$;
RESET client_min_messages;

SELECT 'init' FROM pg_create_logical_replication_slot('orig', 'tide');
CREATE TABLE r (id int PRIMARY KEY, src text);

SELECT 'created' FROM pg_replication_origin_create('upstream');
INSERT INTO r VALUES (1, 'local');
SELECT 'setup' FROM pg_replication_origin_session_setup('upstream');
BEGIN;
SELECT 'setup' FROM pg_replication_origin_xact_setup('0/ABCDEF0', '2024-01-01 00:00:00+00');
INSERT INTO r VALUES (2, 'replicated');
COMMIT;
SELECT 'reset' FROM pg_replication_origin_session_reset();
INSERT INTO r VALUES (3, 'local again');

SELECT * FROM tide_peek('orig');
-- verbose rendering: the origin's LSN; the server facts of STARTUP
SELECT l
FROM tide_render((SELECT string_agg(data, ''::bytea ORDER BY n)
		FROM pg_logical_slot_peek_binary_changes('orig', NULL, NULL)
			WITH ORDINALITY AS c(lsn, xid, data, n)), true) AS l
WHERE l LIKE 'ORIGIN%';
SELECT (SELECT setting FROM pg_settings WHERE name = 'server_version_num') =
	substring(l FROM 'server_version=(\d+)') AS server_version_ok,
	(SELECT system_identifier::text FROM pg_control_system()) =
	substring(l FROM 'system_id=(\d+)') AS system_id_ok,
	(SELECT timeline_id::text FROM pg_control_checkpoint()) =
	substring(l FROM 'timeline=(\d+)') AS timeline_ok,
	(SELECT oid::text FROM pg_database WHERE datname = current_database()) =
	substring(l FROM 'dboid=(\d+)') AS dboid_ok
FROM tide_render((SELECT string_agg(data, ''::bytea ORDER BY n)
		FROM pg_logical_slot_peek_binary_changes('orig', NULL, NULL)
			WITH ORDINALITY AS c(lsn, xid, data, n)), true) AS l
WHERE l LIKE 'STARTUP%';
SELECT * FROM tide_peek('orig', 'only-local', 'true');
SELECT * FROM tide_get('orig', 'only-local', 'false');

SELECT pg_replication_origin_drop('upstream');
SELECT pg_drop_replication_slot('orig');
