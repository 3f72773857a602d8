-- Values that name database objects (the reg* types, arrays, domains and
-- composites over them) travel as text, schema-qualified whatever the
-- decoding session's search_path, and the session's settings are left as
-- they were.  Their send form, a bare OID, would name another object (or
-- none) on a replica.
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

SELECT 'init' FROM pg_create_logical_replication_slot('regtypes', 'tide');

CREATE SCHEMA objs;
CREATE TABLE objs.target (id int);
CREATE TABLE public.pubtab (id int);
CREATE TYPE objs.color AS ENUM ('red', 'blue');
CREATE FUNCTION objs.fn(int, objs.color) RETURNS int LANGUAGE sql AS 'SELECT $1';
CREATE FUNCTION objs.solo(text) RETURNS text LANGUAGE sql AS 'SELECT $1';
CREATE OPERATOR objs.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = int4eq);
CREATE TEXT SEARCH CONFIGURATION objs.cfg (COPY = pg_catalog.english);
CREATE TEXT SEARCH DICTIONARY objs.dict (TEMPLATE = pg_catalog.simple);
CREATE COLLATION objs.coll FROM "C";
CREATE ROLE "regress_tide Role";
CREATE DOMAIN objs.relref AS regclass;
CREATE TYPE objs.ref AS (r regclass, n int);

CREATE TABLE regtab (
	id int PRIMARY KEY,
	c regclass, t regtype, p regproc, pp regprocedure, o regoper, oo regoperator,
	cfg regconfig, d regdictionary, n regnamespace, r regrole, col regcollation,
	ca regclass[], ta regtype[], dom objs.relref, comp objs.ref, compa objs.ref[]
);

-- the session that writes and decodes sees objs and public: unqualified
-- names there, qualified ones on the wire
SET search_path = objs, public;
INSERT INTO regtab VALUES
	(1, 'objs.target', 'objs.color', 'objs.solo', 'objs.fn(int, objs.color)', 'objs.===',
	 'objs.===(int, int)', 'objs.cfg', 'objs.dict', 'objs', '"regress_tide Role"', 'objs.coll',
	 '{objs.target, public.pubtab, pg_class}', '{objs.color, objs.color[], int4, text[]}',
	 'objs.target', ROW('public.pubtab', 1), ARRAY[ROW('objs.target', 2)::objs.ref]),
	(2, 'pg_class', 'int4', 'pg_catalog.now', 'lower(text)', '||/',
	 '+(int, int)', 'english', 'simple', 'pg_catalog', 'pg_database_owner', '"C"',
	 '{}', '{varchar(5)}', 'pg_class', NULL, NULL),
	(3, 'pubtab', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'public', NULL, NULL,
	 '{NULL,pubtab}', NULL, 'pubtab', NULL, NULL);
SELECT * FROM regtab ORDER BY id;
SELECT * FROM tide_get('regtypes');
SHOW search_path;

-- UPDATE and DELETE too, values=text too, and from a session whose
-- search_path would print everything unqualified
SET search_path = objs, public, pg_catalog;
UPDATE regtab SET c = 'objs.target', ta = '{objs.color}' WHERE id = 3;
DELETE FROM regtab WHERE id = 2;
SELECT * FROM tide_peek('regtypes');
SELECT * FROM tide_get('regtypes', 'values', 'text');
SHOW search_path;
RESET search_path;

-- an object renamed after the change was written: the name it had then
SET search_path = objs, public;
INSERT INTO regtab (id, c) VALUES (4, 'objs.target');
ALTER TABLE objs.target RENAME TO moved;
SELECT * FROM tide_get('regtypes');
RESET search_path;

-- built-in composite types (catalog row types) go as text too: their send
-- form carries member type OIDs, and aclitem has no send function at all
CREATE TABLE catrow (id int PRIMARY KEY, r pg_type);
GRANT USAGE ON TYPE objs.color TO PUBLIC;
INSERT INTO catrow SELECT 1, t FROM pg_type t WHERE oid = 'objs.color'::regtype;
SELECT regexp_replace(d, '\(\d+,color,\d+,.*,"\{=U/\w+,\w+=U/\w+\}"\)', '(oid,color,oid,...,"{=U/owner,owner=U/owner}")')
FROM tide_get('regtypes') d WHERE d ~ '^(RELATION|INSERT)';
DROP TABLE catrow;

SELECT pg_drop_replication_slot('regtypes');
DROP TABLE regtab;
DROP SCHEMA objs CASCADE;
DROP TABLE public.pubtab;
DROP ROLE "regress_tide Role";
