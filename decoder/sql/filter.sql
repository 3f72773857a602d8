-- include-tables / exclude-tables: schema.table patterns with * wildcards,
-- judged once per relation; transactions left empty emit nothing.
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

SELECT 'init' FROM pg_create_logical_replication_slot('filt', 'tide');
CREATE SCHEMA app;
CREATE SCHEMA audit;
CREATE TABLE app.users (id int PRIMARY KEY);
CREATE TABLE app.events_2024 (id int PRIMARY KEY);
CREATE TABLE app.events_2025 (id int PRIMARY KEY);
CREATE TABLE audit.log (id int PRIMARY KEY);
CREATE TABLE public."Mixed.Case" (id int PRIMARY KEY);

BEGIN;
INSERT INTO app.users VALUES (1);
INSERT INTO app.events_2024 VALUES (1);
INSERT INTO app.events_2025 VALUES (1);
INSERT INTO audit.log VALUES (1);
INSERT INTO public."Mixed.Case" VALUES (1);
COMMIT;
INSERT INTO audit.log VALUES (2);			-- a transaction of its own

SELECT * FROM tide_peek('filt', 'include-tables', 'app.*');
SELECT * FROM tide_peek('filt', 'include-tables', '*.events_*');
SELECT * FROM tide_peek('filt', 'include-tables', 'app.*', 'exclude-tables', '*.*_2024');
SELECT * FROM tide_peek('filt', 'exclude-tables', 'audit.*, app.events*');
SELECT * FROM tide_peek('filt', 'include-tables', ' app.users , audit.log ');
SELECT * FROM tide_peek('filt', 'include-tables', 'a*.*s');
-- names match as stored, case and dots included
SELECT * FROM tide_peek('filt', 'include-tables', 'public.Mixed.Case');
SELECT * FROM tide_peek('filt', 'include-tables', 'public.mixed.case');
SELECT * FROM tide_peek('filt', 'include-tables', '*.*', 'exclude-tables', '*.*');
SELECT * FROM tide_get('filt', 'include-tables', 'nomatch.*');

-- the verdict follows a rename (the cached one is invalidated)
BEGIN;
INSERT INTO app.users VALUES (2);
ALTER TABLE app.users SET SCHEMA audit;
INSERT INTO audit.users VALUES (3);
ALTER TABLE audit.users RENAME TO people;
INSERT INTO audit.people VALUES (4);
COMMIT;
SELECT * FROM tide_get('filt', 'include-tables', 'app.*,audit.users');

SELECT pg_drop_replication_slot('filt');
