-- TRUNCATE: one message for all the tables of a statement, with CASCADE
-- and RESTART IDENTITY flags, after a RELATION for each table.
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

SELECT 'init' FROM pg_create_logical_replication_slot('trunc', 'tide');
CREATE TABLE parent (id serial PRIMARY KEY);
CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent);
CREATE TABLE other (id int PRIMARY KEY);
CREATE TABLE skipped (id int PRIMARY KEY);

INSERT INTO parent DEFAULT VALUES;
INSERT INTO child VALUES (1, 1);
TRUNCATE other;
TRUNCATE parent, other RESTART IDENTITY CASCADE;
TRUNCATE child CONTINUE IDENTITY RESTRICT;
BEGIN;
INSERT INTO other VALUES (1);
TRUNCATE other, skipped;
INSERT INTO other VALUES (2);
COMMIT;
SELECT * FROM tide_peek('trunc');

-- filtered tables leave the list; a TRUNCATE with none left is not sent
SELECT * FROM tide_get('trunc', 'exclude-tables', 'public.other,public.skipped');
TRUNCATE skipped;
SELECT * FROM tide_get('trunc', 'include-tables', 'public.parent');

SELECT pg_drop_replication_slot('trunc');
