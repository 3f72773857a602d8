-- Replica identity: which old row UPDATE and DELETE carry (DEFAULT with and
-- without a primary key, INDEX, FULL, NOTHING), and the KEY columns.
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

SELECT 'init' FROM pg_create_logical_replication_slot('ident', 'tide');

CREATE TABLE id_default (a int, b int, c text, PRIMARY KEY (a, b));
CREATE TABLE id_nopk (a int, c text);
CREATE TABLE id_index (a int NOT NULL, u int NOT NULL, c text);
CREATE UNIQUE INDEX id_index_u ON id_index (u);
ALTER TABLE id_index REPLICA IDENTITY USING INDEX id_index_u;
CREATE TABLE id_full (a int PRIMARY KEY, c text, d numeric);
ALTER TABLE id_full REPLICA IDENTITY FULL;
CREATE TABLE id_nothing (a int PRIMARY KEY, c text);
ALTER TABLE id_nothing REPLICA IDENTITY NOTHING;

INSERT INTO id_default VALUES (1, 1, 'x');
INSERT INTO id_nopk VALUES (1, 'x');
INSERT INTO id_index VALUES (1, 10, 'x');
INSERT INTO id_full VALUES (1, 'x', 1.5);
INSERT INTO id_nothing VALUES (1, 'x');

-- UPDATE leaving the key alone: no old row, except with FULL
UPDATE id_default SET c = 'y';
UPDATE id_nopk SET c = 'y';
UPDATE id_index SET c = 'y';
UPDATE id_full SET c = 'y';
UPDATE id_nothing SET c = 'y';
-- UPDATE of the key: the old key (or the whole old row with FULL)
UPDATE id_default SET b = 2;
UPDATE id_index SET u = 20, a = 2;
UPDATE id_index SET a = 3;				-- a is not part of the identity
UPDATE id_full SET a = 2, d = NULL;
UPDATE id_nothing SET a = 2;
-- DELETE: the old key or row; without an identity, no old row (but the DELETE is sent)
DELETE FROM id_default;
DELETE FROM id_nopk;
DELETE FROM id_index;
DELETE FROM id_full;
DELETE FROM id_nothing;

SELECT * FROM tide_get('ident');

-- identity changed in the middle of a session: RELATION says so again
INSERT INTO id_default VALUES (4, 4, 'four');
ALTER TABLE id_default REPLICA IDENTITY FULL;
INSERT INTO id_default VALUES (5, 5, 'five');
DELETE FROM id_default;
INSERT INTO id_nothing VALUES (6, 'six');
DELETE FROM id_nothing;
ALTER TABLE id_nothing REPLICA IDENTITY DEFAULT;
INSERT INTO id_nothing VALUES (7, 'seven');
DELETE FROM id_nothing;
SELECT * FROM tide_get('ident');

SELECT pg_drop_replication_slot('ident');
