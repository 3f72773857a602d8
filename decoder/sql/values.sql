-- values=text: every value travels as its output text (PROTO_ENC_TEXT).
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
-- text values come from the output functions of the decoding session, so
-- they follow its DateStyle, IntervalStyle, TimeZone, extra_float_digits
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET extra_float_digits = 1;

SELECT 'init' FROM pg_create_logical_replication_slot('vals', 'tide');
CREATE TYPE color AS ENUM ('red', 'green');
CREATE TABLE v (
	id int PRIMARY KEY, b bool, f8 float8, n numeric, t text, by bytea,
	ts timestamptz, iv interval, u uuid, jb jsonb, ia int[], c color
);
CREATE TABLE p (id int PRIMARY KEY, pt point, r int4range);
INSERT INTO v VALUES (1, true, -0.5, 'NaN', 'text', '\xdead', '2024-01-01 12:00:00+00',
	'1 day', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"k": [1, "two"]}', '{1,NULL}', 'green');
INSERT INTO v (id) VALUES (2);
UPDATE v SET t = 'changed' WHERE id = 1;
SELECT * FROM tide_peek('vals', 'values', 'text');
-- the same values, natively encoded, render the same
SELECT (SELECT array_agg(regexp_replace(l, ' \w+\d*\]', ']', 'g')) FROM tide_peek('vals', 'values', 'text') l) =
	(SELECT array_agg(regexp_replace(l, ' \w+\d*\]', ']', 'g')) FROM tide_peek('vals', 'values', 'native') l)
	AS same_values;
SELECT * FROM tide_get('vals');

-- types the renderer does not know arrive readable in text mode
INSERT INTO p VALUES (1, '(1.5,-2)', '[3,7)');
SELECT * FROM tide_peek('vals', 'values', 'text');
SET IntervalStyle = 'iso_8601';
SET TimeZone = 'America/New_York';
UPDATE v SET t = 'styles' WHERE id = 1;
SELECT * FROM tide_get('vals', 'values', 'text');
SELECT pg_drop_replication_slot('vals');
