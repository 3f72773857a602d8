-- Catalog changes that rename what a cached description or filter verdict
-- holds without touching the relation itself: ALTER SCHEMA ... RENAME (of
-- the table's schema, a partition root's, a column type's), ALTER TYPE /
-- ALTER DOMAIN ... RENAME and SET SCHEMA.  Each change after them is sent
-- under the names of its time, and judged by them.
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

SELECT 'init' FROM pg_create_logical_replication_slot('rename', 'tide');

-- include-tables: a table whose schema is renamed into the pattern is
-- published from then on, one renamed out of it no longer
CREATE SCHEMA s4;
CREATE TABLE s4.x (id int PRIMARY KEY);
CREATE SCHEMA ren_app;
CREATE TABLE ren_app.y (id int PRIMARY KEY);
INSERT INTO s4.x VALUES (1);
INSERT INTO ren_app.y VALUES (1);
ALTER SCHEMA ren_app RENAME TO ren_old;
ALTER SCHEMA s4 RENAME TO ren_app;
INSERT INTO ren_app.x VALUES (2);
INSERT INTO ren_old.y VALUES (2);
SELECT * FROM tide_get('rename', 'include-tables', 'ren_app.*');

-- exclude-tables, the other way round
INSERT INTO ren_app.x VALUES (3);
INSERT INTO ren_old.y VALUES (3);
ALTER SCHEMA ren_app RENAME TO ren_hidden;
ALTER SCHEMA ren_old RENAME TO ren_app;
INSERT INTO ren_hidden.x VALUES (4);
INSERT INTO ren_app.y VALUES (4);
SELECT * FROM tide_get('rename', 'exclude-tables', 'ren_hidden.*');

-- no filter: one session sends the new name as soon as it is the name,
-- and the next session the same
INSERT INTO ren_hidden.x VALUES (5);
ALTER SCHEMA ren_hidden RENAME TO ren_shown;
INSERT INTO ren_shown.x VALUES (6);
SELECT * FROM tide_get('rename');
INSERT INTO ren_shown.x VALUES (7);
SELECT * FROM tide_get('rename');

-- in one transaction: each row under the name of its time
BEGIN;
INSERT INTO ren_shown.x VALUES (8);
ALTER SCHEMA ren_shown RENAME TO ren_moved;
INSERT INTO ren_moved.x VALUES (9);
COMMIT;
SELECT * FROM tide_get('rename');

-- column types: renamed, moved to another schema, that schema renamed;
-- arrays of them and domains too
CREATE SCHEMA ren_types;
CREATE TYPE ren_mood AS ENUM ('sad', 'ok');
CREATE DOMAIN ren_posint AS int CHECK (VALUE > 0);
CREATE TABLE typed (id int PRIMARY KEY, m ren_mood, ma ren_mood[], p ren_posint);
INSERT INTO typed VALUES (1, 'sad', '{ok}', 1);
ALTER TYPE ren_mood RENAME TO ren_feeling;
INSERT INTO typed VALUES (2, 'ok', '{sad}', 2);
ALTER DOMAIN ren_posint RENAME TO ren_natural;
INSERT INTO typed VALUES (3, 'ok', '{}', 3);
ALTER TYPE ren_feeling SET SCHEMA ren_types;
INSERT INTO typed VALUES (4, 'sad', NULL, 4);
ALTER SCHEMA ren_types RENAME TO ren_kinds;
INSERT INTO typed VALUES (5, NULL, NULL, NULL);
SELECT * FROM tide_get('rename');

-- a partition's root in a schema that is renamed: the partition's
-- description names the root anew, and a filter on the root follows it
CREATE SCHEMA ren_root;
CREATE TABLE ren_root.ev (id int, k int, PRIMARY KEY (id, k)) PARTITION BY RANGE (k);
CREATE TABLE public.ev_1 PARTITION OF ren_root.ev FOR VALUES FROM (0) TO (10);
INSERT INTO ren_root.ev VALUES (1, 1);
ALTER SCHEMA ren_root RENAME TO ren_roots;
INSERT INTO ren_roots.ev VALUES (2, 2);
SELECT * FROM tide_get('rename', 'include-tables', 'ren_roots.*');

SELECT pg_drop_replication_slot('rename');
DROP TABLE typed;
DROP DOMAIN ren_natural;
DROP SCHEMA ren_app, ren_moved, ren_kinds, ren_roots CASCADE;
