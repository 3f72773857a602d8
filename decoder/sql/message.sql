-- Logical messages (pg_logical_emit_message): transactional ones belong to
-- their transaction, the others are frames of their own; prefix filters.
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

SELECT 'init' FROM pg_create_logical_replication_slot('msg', 'tide');
CREATE TABLE m (id int PRIMARY KEY);

SELECT 'emitted' FROM pg_logical_emit_message(false, 'nontx', 'outside any transaction');
BEGIN;
INSERT INTO m VALUES (1);
SELECT 'emitted' FROM pg_logical_emit_message(true, 'tx', 'with the insert');
SELECT 'emitted' FROM pg_logical_emit_message(false, 'nontx', 'decoded before the transaction commits');
COMMIT;
-- a message alone makes a transaction of its own
SELECT 'emitted' FROM pg_logical_emit_message(true, 'tx', 'alone');
-- rolled back: the transactional message is gone, the other one stays
BEGIN;
SELECT 'emitted' FROM pg_logical_emit_message(true, 'tx', 'rolled back');
SELECT 'emitted' FROM pg_logical_emit_message(false, 'nontx', 'survives the rollback');
ROLLBACK;
-- payloads: empty, quotes, non-printable bytes, empty prefix
SELECT 'emitted' FROM pg_logical_emit_message(true, 'tx', '');
SELECT 'emitted' FROM pg_logical_emit_message(true, 'tx', 'it''s');
SELECT 'emitted' FROM pg_logical_emit_message(true, 'bin', '\x00010203ff'::bytea);
SELECT 'emitted' FROM pg_logical_emit_message(false, '', 'empty prefix');
-- a non-transactional message is not flushed: a commit after it makes sure
-- decoding gets to it
INSERT INTO m VALUES (2);
SELECT * FROM tide_peek('msg');

-- prefix filters match whole prefixes; exclude wins
SELECT * FROM tide_peek('msg', 'include-message-prefixes', 'tx');
SELECT * FROM tide_peek('msg', 'include-message-prefixes', 'nontx, bin', 'exclude-message-prefixes', 'bin');
SELECT * FROM tide_peek('msg', 'include-message-prefixes', 't');
SELECT * FROM tide_get('msg', 'exclude-message-prefixes', 'tx,nontx,bin');

SELECT pg_drop_replication_slot('msg');
