-- Values of the common built-in types, NULLs, enums, domains, composites
-- and arrays: each column's encoding (RELATION) and its rendered value.
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
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET extra_float_digits = 1;

SELECT 'init' FROM pg_create_logical_replication_slot('types', 'tide');

-- integers, floats, numerics, booleans
CREATE TABLE nums (
	id serial PRIMARY KEY,
	i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, n numeric, n2 numeric(10,2),
	b bool, o oid, c "char", m money
);
INSERT INTO nums (i2, i4, i8, f4, f8, n, n2, b, o, c, m) VALUES
	(0, 0, 0, 0, 0, 0, 0, false, 0, 'a', 0),
	(-32768, -2147483648, -9223372036854775808, '-Infinity', '-Infinity',
	 'NaN', -12345678.99, true, 4294967295, 'Z', -92233720368547758.08),
	(32767, 2147483647, 9223372036854775807, 'Infinity', 'Infinity',
	 'Infinity', 0.01, NULL, 1, '~', 92233720368547758.07),
	(1, -1, 42, 'NaN', 'NaN', '-Infinity', NULL, true, NULL, NULL, 12.34),
	(NULL, NULL, NULL, '-0', '-0', 0.000000000000000000000000000001, 1, false, 2, NULL, NULL),
	(NULL, NULL, NULL, 3.4028235e38, 1.7976931348623157e308,
	 123456789012345678901234567890.123456789012345678901234567890, NULL, NULL, NULL, NULL, NULL),
	(NULL, NULL, NULL, 1.1754944e-38, 5e-324, -0.5, NULL, NULL, NULL, NULL, NULL),
	(NULL, NULL, NULL, 0.1, 0.1, 1e100, NULL, NULL, NULL, NULL, NULL),
	(NULL, NULL, NULL, 3.14159, 2.718281828459045, 10000, NULL, NULL, NULL, NULL, NULL);
SELECT * FROM tide_get('types');
-- what the server prints for the same rows
SELECT * FROM nums ORDER BY id;

-- character types and bytea
CREATE TABLE strs (
	id int PRIMARY KEY,
	t text, vc varchar(10), bc char(5), by bytea, nm name
);
INSERT INTO strs VALUES
	(1, 'plain', 'v', 'ab', '\x00ff10', 'a_name'),
	(2, 'it''s "quoted" \ back\slash', '', '', '\x', ''),
	(3, E'tab\there\nnewline', 'ünïcödé', 'ü', 'abc'::bytea, 'ünï'),
	(4, '日本語テキスト😀', NULL, NULL, NULL, NULL),
	(5, '', ' lead', 'x    ', decode(repeat('00', 20), 'hex'), repeat('n', 63));
SELECT * FROM tide_get('types');

-- date and time types, with infinities
CREATE TABLE times (
	id int PRIMARY KEY,
	d date, t time, tz timetz, ts timestamp, tstz timestamptz, iv interval
);
INSERT INTO times VALUES
	(1, '2024-02-29', '13:14:15.123456', '13:14:15.5+05:30', '2024-02-29 13:14:15.000001',
	 '2024-02-29 13:14:15.999999+00', '1 year 2 mons 3 days 04:05:06.789'),
	(2, 'infinity', '24:00:00', '00:00:00-12', 'infinity', 'infinity', '-1 days -00:00:01'),
	(3, '-infinity', '00:00:00', '23:59:59.999999+14', '-infinity', '-infinity', '0'),
	(4, '2000-01-01', '00:00:00.000001', '12:00+00', '2000-01-01', '2000-01-01 00:00:00+00', '-178000000 years'),
	(5, '0001-01-01 BC', NULL, NULL, '4713-01-01 00:00:00 BC', '1999-12-31 23:59:59.999999-08', '1 mon -2 days 03:00:00'),
	(6, '5874897-12-31', NULL, NULL, '294276-12-31 23:59:59.999999', '1970-01-01 00:00:00+00', '@ 1 minute ago');
SELECT * FROM tide_get('types');
SELECT * FROM times ORDER BY id;

-- json, jsonb, uuid, network and other built-in types
CREATE TABLE docs (
	id int PRIMARY KEY,
	j json, jb jsonb, u uuid, ma macaddr, ma8 macaddr8, ip inet, net cidr,
	pt point, r int4range, tsv tsvector, x xml, bits bit varying(8)
);
INSERT INTO docs VALUES
	(1, '{"b": 1, "a": [1, 2.50, "x"]}', '{"b": 1, "a": [1, 2.50, "x"]}',
	 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05',
	 '192.168.0.1/24', '10.0.0.0/8', '(1.5,-2)', '[1,10)', 'a fat cat', '<a>x</a>', B'1011'),
	(2, '"str"', '"str"', '00000000-0000-0000-0000-000000000000', 'ff:ff:ff:ff:ff:ff',
	 'ff:ff:ff:ff:ff:ff:ff:ff', '::1', '2001:db8::/32', '(0,0)', 'empty', '', NULL, B''),
	(3, '[]', '[]', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	(4, '{"nested": {"deep": {"deeper": [[1], [2, [3]]]}}, "u": "ünï \u00e9 😀"}',
	 '{"nested": {"deep": {"deeper": [[1], [2, [3]]]}}, "u": "ünï \u00e9 😀"}',
	 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	(5, '{"esc": "quote \" backslash \\ slash / tab \t nl \n ctl \u0001"}',
	 '{"esc": "quote \" backslash \\ slash / tab \t nl \n ctl \u0001"}',
	 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	(6, '[1e3, -0, 0.1, 1.0e-10, 12345678901234567890, -1.5E+300, true, false, null]',
	 '[1e3, -0, 0.1, 1.0e-10, 12345678901234567890, -1.5E+300, true, false, null]',
	 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	(7, '{}', '{"": "", "a": {}, "b": [], "c": [{}]}', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	(8, 'null', 'null', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	(9, '-12.5', '-12.5', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
SELECT * FROM tide_get('types');
SELECT id, jb FROM docs ORDER BY id;

-- arrays
CREATE TABLE arrs (
	id int PRIMARY KEY,
	ia int[], ta text[], ma int[][], na numeric[], ja jsonb[], ba bool[], da date[]
);
INSERT INTO arrs VALUES
	(1, '{1,2,3}', '{a,NULL,"b c","d\"e",""}', '{{1,2},{3,4}}', '{1.5,NaN,NULL}',
	 ARRAY['{"a":1}'::jsonb, '[]'], '{t,f,NULL}', '{2024-01-01,infinity}'),
	(2, '{}', '{}', '{{{1},{2}},{{3},{4}}}', '{}', '{}', '{}', '{}'),
	(3, '{NULL}', '{NULL,NULL}', '[0:1][1:2]={{1,2},{3,4}}', NULL, NULL, NULL, NULL),
	(4, ARRAY[-2147483648, 2147483647], ARRAY['ünï', 'x,y', '{}', 'NULL'], NULL, NULL, NULL, NULL, NULL);
SELECT * FROM tide_get('types');
SELECT * FROM arrs ORDER BY id;

-- user-defined types: enum, domains, composite, arrays of those
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%');
CREATE DOMAIN moody AS mood;
CREATE TYPE pair AS (a int, b text);
CREATE TABLE udts (
	id int PRIMARY KEY,
	m mood, p posint, e email, mm moody, c pair, ma mood[], ca pair[], pa posint[]
);
INSERT INTO udts VALUES
	(1, 'happy', 7, 'me@example.org', 'sad', ROW(1, 'x y'), '{sad,ok}',
	 ARRAY[ROW(1, 'a')::pair, ROW(NULL, NULL)::pair], '{1,2}'),
	(2, NULL, NULL, NULL, NULL, ROW(NULL, 'q"uote'), '{}', '{}', NULL);
SELECT * FROM tide_get('types');
SELECT * FROM udts ORDER BY id;

-- a search_path that hides the types changes nothing in the stream
SET search_path = pg_catalog;
INSERT INTO public.udts (id, m) VALUES (3, 'ok');
SELECT * FROM public.tide_get('types');
RESET search_path;

SELECT pg_drop_replication_slot('types');
