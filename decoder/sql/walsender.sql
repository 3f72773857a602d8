-- Through the walsender: pg_recvlogical streams the slot to a file (the
-- frames as CopyData messages); the file renders like the SQL interface.
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

-- pg_recvlogical writes a newline after each frame; messages are
-- self-delimiting and no message type is '\n', so the separators are found
-- by walking the messages: type byte, varint length, body
CREATE FUNCTION strip_separators(f bytea) RETURNS bytea LANGUAGE plpgsql AS $$
DECLARE
	pos int := 0;
	start int;
	len bigint;
	shift int;
	b int;
	result bytea := '';
BEGIN
	WHILE pos < octet_length(f) LOOP
		IF get_byte(f, pos) = 10 THEN
			pos := pos + 1;
			CONTINUE;
		END IF;
		start := pos;
		pos := pos + 1;
		len := 0;
		shift := 0;
		LOOP
			b := get_byte(f, pos);
			pos := pos + 1;
			len := len | ((b & 127)::bigint << shift);
			shift := shift + 7;
			EXIT WHEN b < 128;
		END LOOP;
		pos := pos + len;
		result := result || substring(f FROM start + 1 FOR pos - start);
	END LOOP;
	RETURN result;
END $$;

SELECT 'init' FROM pg_create_logical_replication_slot('ws', 'tide');
CREATE TABLE w (id int PRIMARY KEY, v text);
INSERT INTO w SELECT i, 'row ' || i FROM generate_series(1, 500) i;
SELECT 'emitted' FROM pg_logical_emit_message(false, 'w', 'non-transactional');
UPDATE w SET v = 'changed' WHERE id <= 2;
DELETE FROM w WHERE id > 2;
SELECT pg_current_wal_lsn() AS endpos \gset
\setenv TIDE_ENDPOS :endpos
\setenv TIDE_DB :DBNAME
\set out `pwd`/walsender.out.bin
\setenv TIDE_OUT :out

-- expected: what the SQL interface says; its last frame ends at the end of
-- the last commit
CREATE TEMP TABLE via_sql AS SELECT row_number() OVER () AS n, l FROM tide_peek('ws') l;
SELECT max(lsn) AS last_commit_end FROM pg_logical_slot_peek_binary_changes('ws', NULL, NULL) \gset

\! pg_recvlogical -d "$TIDE_DB" -S ws --start --no-loop --endpos="$TIDE_ENDPOS" -f "$TIDE_OUT" -o frame-size=4096 -o include-tables=public.w

CREATE TEMP TABLE via_walsender AS
	SELECT row_number() OVER () AS n, l
	FROM tide_render(strip_separators(pg_read_binary_file(:'out'))) l;
SELECT count(*) AS messages FROM via_walsender;
SELECT count(*) AS differences FROM via_sql FULL JOIN via_walsender USING (n)
WHERE via_sql.l IS DISTINCT FROM via_walsender.l;
SELECT l FROM via_walsender
WHERE n <= 4 OR l !~ '^(INSERT|DELETE) ' OR n >= (SELECT max(n) - 1 FROM via_walsender)
ORDER BY n;
-- pg_recvlogical confirmed what it wrote: the walsender stamped the frame
-- holding the last COMMIT with that commit's end
SELECT confirmed_flush_lsn >= :'last_commit_end' AS confirmed
FROM pg_replication_slots WHERE slot_name = 'ws';
SELECT count(*) AS left_over FROM tide_peek('ws');

SELECT pg_drop_replication_slot('ws');
