-- Option parsing: unknown, repeated and malformed options are errors that
-- name the option and the accepted values; tide refuses textual output.
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

SELECT 'init' FROM pg_create_logical_replication_slot('opts', 'tide');
CREATE TABLE o (id int PRIMARY KEY);

-- unknown and repeated options
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'nonsense', '1');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'frame_size', '1');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'frame-size', '0', 'frame-size', '0');

-- format-version
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'format-version', '3');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'format-version', '0');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'format-version', 'one');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'format-version', '99999999999');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'format-version', '1');

-- frame-size
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'frame-size', '-1');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'frame-size', '64kB');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'frame-size', ' 10');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'frame-size', '');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'frame-size', '67108865');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'frame-size', '67108864');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'frame-size', '0');

-- values
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'values', 'binary');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'values', 'TEXT');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'values', 'text');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'values', 'native');

-- only-local
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'only-local', 'maybe');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'only-local', 'on');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'only-local', 'false');

-- table patterns
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'include-tables', 'nodot');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'include-tables', 'public.');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'exclude-tables', '.o');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'exclude-tables', 'public.o,,public.p');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'include-tables', '');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'include-tables', ' public.* , *.o ', 'exclude-tables', 's*.t*');

-- message prefixes
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'include-message-prefixes', 'a,');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'include-message-prefixes', 'a, b', 'exclude-message-prefixes', 'c');

-- send functions of text-bearing types convert to the client encoding, so
-- the session must use the database encoding (or SQL_ASCII)
SET client_encoding = 'LATIN1';
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL);
SET client_encoding = 'SQL_ASCII';
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL);
RESET client_encoding;

-- tide writes binary output only: the textual functions refuse it
SELECT count(*) FROM pg_logical_slot_peek_changes('opts', NULL, NULL);
SELECT count(*) FROM pg_logical_slot_get_changes('opts', NULL, NULL);

-- nothing was consumed by the failed calls; DDL alone emits nothing
INSERT INTO o VALUES (1);
SELECT * FROM tide_get('opts', 'format-version', '1', 'frame-size', '0', 'values', 'native', 'only-local', 'off');
SELECT * FROM tide_get('opts');

SELECT pg_drop_replication_slot('opts');
