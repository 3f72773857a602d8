-- Frames: messages are batched into frames of frame-size bytes; the
-- rendering does not depend on the framing.
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

SELECT 'init' FROM pg_create_logical_replication_slot('frames', 'tide');
CREATE TABLE f (id int PRIMARY KEY, payload text);
INSERT INTO f SELECT i, repeat('p', 100) FROM generate_series(1, 3) i;
BEGIN;
INSERT INTO f SELECT i, repeat('q', 100) FROM generate_series(10, 1009) i;
SELECT 'emitted' FROM pg_logical_emit_message(false, 'n', 'in between');
UPDATE f SET payload = 'short' WHERE id < 4;
COMMIT;
SELECT 'emitted' FROM pg_logical_emit_message(false, 'n', 'at the end');
INSERT INTO f VALUES (2000, 'commits, so the message before is flushed');

-- the call the documentation shows
SELECT * FROM tide_render((SELECT string_agg(data, ''::bytea)
	FROM pg_logical_slot_peek_binary_changes('frames', NULL, NULL, 'frame-size', '0')))
LIMIT 6;

CREATE TEMP TABLE framings AS
SELECT fs, count(*) AS frames, sum(octet_length(data)) AS bytes,
	max(octet_length(data)) AS biggest,
	array_agg(data ORDER BY n) AS framelist
FROM unnest(ARRAY['0', '1', '300', '65536', '1000000']) AS fs,
	LATERAL pg_logical_slot_peek_binary_changes('frames', NULL, NULL, 'frame-size', fs)
		WITH ORDINALITY AS c(lsn, xid, data, n)
GROUP BY fs;
-- one frame per message with 0 (or 1), fewer and bigger ones as the size grows
SELECT fs, frames, biggest <= greatest(fs::int, 200) + 200 AS bounded
FROM framings ORDER BY fs::int;
-- the bytes are the same, whatever the framing
SELECT count(DISTINCT bytes) AS distinct_sizes,
	count(DISTINCT (SELECT string_agg(d, ''::bytea ORDER BY i)
					FROM unnest(framelist) WITH ORDINALITY AS u(d, i))) AS distinct_streams
FROM framings;
-- default framing: each transaction is written in frames of about 64kB
SELECT n, octet_length(data) < 1000 AS small, octet_length(data) BETWEEN 65536 AND 66000 AS full_frame
FROM pg_logical_slot_peek_binary_changes('frames', NULL, NULL) WITH ORDINALITY AS c(lsn, xid, data, n);
-- the rendering is identical to the unbatched one
SELECT (SELECT array_agg(l) FROM tide_peek('frames') l) =
	(SELECT array_agg(l) FROM tide_peek('frames', 'frame-size', '0') l) AS same_rendering;
-- the frame holding a COMMIT is stamped with the commit's end LSN
WITH frames AS (
	SELECT lsn FROM pg_logical_slot_peek_binary_changes('frames', NULL, NULL)
), commits AS (
	SELECT substring(l FROM ' end=([0-9A-F/]+)')::pg_lsn AS end_lsn
	FROM tide_render((SELECT string_agg(data, ''::bytea ORDER BY n)
			FROM pg_logical_slot_peek_binary_changes('frames', NULL, NULL)
				WITH ORDINALITY AS c(lsn, xid, data, n)), true) AS l
	WHERE l LIKE 'COMMIT%'
)
SELECT count(*) AS commits, count(*) FILTER (WHERE end_lsn IN (SELECT lsn FROM frames)) AS stamped
FROM commits;

-- tide_render rejects what is not a stream, naming the message and offset
SELECT * FROM tide_render('\x'::bytea);
SELECT * FROM tide_render('\x4201ff'::bytea);
SELECT * FROM tide_render('\x4210'::bytea);
SELECT * FROM tide_render('\x490401000101'::bytea);
SELECT * FROM tide_render('\x0a00'::bytea);

SELECT count(*) FROM tide_get('frames');
SELECT pg_drop_replication_slot('frames');
