-- Schema changes in the middle of a session: a new RELATION precedes the
-- next row; dropped and generated columns are not sent; a description
-- that did not change is not sent again.
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

SELECT 'init' FROM pg_create_logical_replication_slot('schema', 'tide');
CREATE TABLE s (id int PRIMARY KEY, a text, b int);
INSERT INTO s VALUES (1, 'one', 1);
ALTER TABLE s ADD COLUMN c numeric DEFAULT 1.5;
INSERT INTO s VALUES (2, 'two', 2);
UPDATE s SET a = 'uno' WHERE id = 1;			-- c is "missing" in this row: its default
ALTER TABLE s DROP COLUMN b;
INSERT INTO s VALUES (3, 'three', 3);
ALTER TABLE s ALTER COLUMN c TYPE int8 USING c::int8;
INSERT INTO s VALUES (4, 'four', 4);
ALTER TABLE s RENAME COLUMN a TO name;
INSERT INTO s VALUES (5, 'five', 5);
SELECT * FROM tide_get('schema');

-- changes in one transaction around DDL: each row with the description of its time
BEGIN;
INSERT INTO s VALUES (6, 'six', 6);
ALTER TABLE s ADD COLUMN d date;
INSERT INTO s VALUES (7, 'seven', 7, '2024-07-07');
ALTER TABLE s DROP COLUMN d;
INSERT INTO s VALUES (8, 'eight', 8);
COMMIT;
SELECT * FROM tide_get('schema');

-- invalidations that leave the description alone send nothing new
INSERT INTO s VALUES (9, 'nine', 9);
CREATE INDEX s_name ON s (name);
ANALYZE s;
ALTER TABLE s ALTER COLUMN name SET STATISTICS 500;
INSERT INTO s VALUES (10, 'ten', 10);
SELECT * FROM tide_get('schema');

-- generated columns are not sent (a replica computes them); dropped ones
-- leave no trace
CREATE TABLE g (id int PRIMARY KEY, x int, doubled int GENERATED ALWAYS AS (x * 2) STORED,
	gone text, y text);
ALTER TABLE g DROP COLUMN gone;
INSERT INTO g (id, y, x) VALUES (1, 'why', 10);
UPDATE g SET x = 11;
SELECT * FROM g;
SELECT * FROM tide_get('schema');

-- every session starts afresh: STARTUP and RELATION again
INSERT INTO g (id, y, x) VALUES (2, 'again', 20);
SELECT * FROM tide_get('schema');
INSERT INTO g (id, y, x) VALUES (3, 'and again', 30);
SELECT * FROM tide_get('schema');

SELECT pg_drop_replication_slot('schema');
