-- TOASTed values: compressed inline, external, external and compressed;
-- unchanged TOASTed columns in an UPDATE are marked, never fetched.
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

SELECT 'init' FROM pg_create_logical_replication_slot('toast', 'tide');

CREATE TABLE big (
	id int PRIMARY KEY,
	small text,
	squeezed text,			-- EXTENDED: a long repetitive text compresses inline
	outside text,			-- EXTERNAL: stored out of line, never compressed
	both_ text,				-- EXTENDED: random text, compressed then out of line
	blob bytea,
	doc jsonb
);
ALTER TABLE big ALTER COLUMN outside SET STORAGE EXTERNAL;

-- deterministic "random" text: md5 chains do not compress well
CREATE FUNCTION noise(seed int, n int) RETURNS text LANGUAGE sql AS $$
	SELECT string_agg(md5((seed * 100000 + i)::text), '') FROM generate_series(1, n) i
$$;

INSERT INTO big VALUES (1, 'a', repeat('tide ', 20000), noise(1, 100), noise(2, 400) || repeat('x', 30000),
	decode(noise(3, 300), 'hex'),
	jsonb_build_object('k', noise(4, 200), 'arr', (SELECT jsonb_agg(i) FROM generate_series(1, 3000) i)));

-- how the server stored them: squeezed inline, the others in the TOAST table
SELECT pg_column_size(squeezed) < 2000 AS squeezed_inline,
	pg_column_size(outside) = octet_length(outside) AS outside_uncompressed,
	pg_column_size(both_) < octet_length(both_) AS both_compressed
FROM big;

UPDATE big SET small = 'b' WHERE id = 1;					-- TOASTed columns unchanged
UPDATE big SET outside = noise(5, 100) WHERE id = 1;		-- one of them changed
DELETE FROM big WHERE id = 1;

CREATE TEMP TABLE rendered AS SELECT row_number() OVER () AS n, l FROM tide_get('toast') l;

-- long values shortened for display: 'first 20 characters...'
SELECT n, regexp_replace(l, '''([^'']{20})[^'']{80,}''', '''\1...''', 'g') AS line
FROM rendered ORDER BY n;

-- each value arrives whole and equal to what was written
CREATE TEMP TABLE expect AS SELECT repeat('tide ', 20000) AS squeezed, noise(1, 100) AS outside,
	noise(2, 400) || repeat('x', 30000) AS both_, noise(3, 300) AS blob,
	jsonb_build_object('k', noise(4, 200), 'arr', (SELECT jsonb_agg(i) FROM generate_series(1, 3000) i)) AS doc,
	noise(5, 100) AS outside2;
SELECT n,
	substring(l FROM 'squeezed\[text\]:''([^'']*)''') = e.squeezed AS squeezed_ok,
	substring(l FROM 'outside\[text\]:''([^'']*)''') IN (e.outside, e.outside2) AS outside_ok,
	substring(l FROM 'both_\[text\]:''([^'']*)''') = e.both_ AS both_ok,
	substring(l FROM 'blob\[bytea\]:''\\x([^'']*)''') = e.blob AS blob_ok,
	substring(l FROM 'doc\[jsonb\]:''([^'']*)''')::jsonb = e.doc AS doc_ok
FROM rendered, expect e
WHERE l LIKE 'INSERT%' OR l LIKE 'UPDATE%'
ORDER BY n;

-- a value larger than a frame: the frame grows to hold it whole
INSERT INTO big (id, small, squeezed) VALUES (2, 'big', repeat('0123456789', 500000));
INSERT INTO big (id, small) VALUES (3, 'small after big');
SELECT count(*) AS frames, max(octet_length(data)) > 5000000 AS one_big_frame
FROM pg_logical_slot_peek_binary_changes('toast', NULL, NULL);
SELECT substring(l FROM 'small\[text\]:''([^'']*)''') AS small,
	length(substring(l FROM 'squeezed\[text\]:''([^'']*)''')) AS length,
	substring(l FROM 'squeezed\[text\]:''([^'']*)''') = repeat('0123456789', 500000) AS same
FROM tide_get('toast') l WHERE l LIKE 'INSERT%';

SELECT pg_drop_replication_slot('toast');
