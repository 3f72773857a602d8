-- Streaming of in-progress transactions (option streaming, wire version 2).
-- logical_decoding_work_mem is 64kB here (regress.conf), so every large
-- transaction below is handed to the plugin in chunks before its commit.
-- A consumer written in PL/pgSQL keeps the chunks by transaction, cuts
-- rolled-back subtransactions away (FORMAT.md, "Streamed transactions"),
-- and at STREAM COMMIT emits the transaction: the result must equal what a
-- slot without streaming decodes from the same WAL, message for message.
SET client_min_messages = warning;
CREATE OR REPLACE FUNCTION tide_render(bytea, bool DEFAULT false)
	RETURNS SETOF text AS 'tide_render', 'tide_render' LANGUAGE C STRICT;
CREATE OR REPLACE FUNCTION tide_get(slot name, VARIADIC options text[] DEFAULT '{}')
	RETURNS SETOF text LANGUAGE sql AS $$
	SELECT public.tide_render(string_agg(data, ''::bytea ORDER BY n))
	FROM pg_logical_slot_get_binary_changes(slot, NULL, NULL, VARIADIC options)
		WITH ORDINALITY AS c(lsn, xid, data, n)
$$;
RESET client_min_messages;

-- options: streaming needs version 2, and selects it when none is named
SELECT 'init' FROM pg_create_logical_replication_slot('sopts', 'tide');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('sopts', NULL, NULL, 'streaming', 'on', 'format-version', '1');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('sopts', NULL, NULL, 'streaming', 'maybe');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('sopts', NULL, NULL, 'streaming', 'on', 'format-version', '2');
SELECT pg_drop_replication_slot('sopts');

-- one slot streams, one spills as before; both read the same WAL
SELECT 'init' FROM pg_create_logical_replication_slot('streamed', 'tide');
SELECT 'init' FROM pg_create_logical_replication_slot('spilled', 'tide');
CREATE TABLE sbig (id int PRIMARY KEY, v text);
CREATE TABLE ssmall (id int PRIMARY KEY);
CREATE TABLE sskipped (id int);

-- 1. a large transaction, committed
INSERT INTO sbig SELECT i, repeat('a', 40) || i FROM generate_series(1, 3000) i;
INSERT INTO ssmall VALUES (1);

-- 2. subtransactions: rolled back, released, nested; a message that is the
-- first thing a subtransaction does goes with it; UPDATE, DELETE, TRUNCATE
BEGIN;
INSERT INTO sbig SELECT i, 'top ' || i FROM generate_series(3001, 4000) i;
SAVEPOINT a;
INSERT INTO sbig SELECT i, 'in a ' || i FROM generate_series(4001, 5000) i;
SAVEPOINT b;
SELECT 'emitted' FROM pg_logical_emit_message(true, 'p', 'first thing b does, rolled back');
INSERT INTO sbig SELECT i, 'in b, rolled back ' || i FROM generate_series(5001, 6000) i;
ROLLBACK TO b;
INSERT INTO sbig SELECT i, 'in a again ' || i FROM generate_series(6001, 6010) i;
RELEASE a;
SAVEPOINT c;
SELECT 'emitted' FROM pg_logical_emit_message(true, 'p', 'first thing c does, kept');
SAVEPOINT d;
INSERT INTO sbig SELECT i, 'in d, rolled back with c''s sibling ' || i FROM generate_series(7001, 8000) i;
ROLLBACK TO d;
INSERT INTO sbig SELECT i, 'in c ' || i FROM generate_series(8001, 9000) i;
RELEASE c;
UPDATE sbig SET v = 'updated' WHERE id BETWEEN 1 AND 500;
DELETE FROM sbig WHERE id BETWEEN 501 AND 700;
TRUNCATE ssmall;
SELECT 'emitted' FROM pg_logical_emit_message(true, 'p', 'top level, last');
COMMIT;

-- 3. a large transaction rolled back whole, with a subtransaction inside
BEGIN;
INSERT INTO sbig SELECT i, 'rolled back ' || i FROM generate_series(10001, 12000) i;
SAVEPOINT e;
INSERT INTO sbig SELECT i, 'rolled back too ' || i FROM generate_series(12001, 13000) i;
RELEASE e;
ROLLBACK;

-- 4. DDL inside: the chunk describes the relation again
BEGIN;
INSERT INTO sbig SELECT i, 'before ' || i FROM generate_series(20001, 21500) i;
ALTER TABLE sbig ADD COLUMN extra int;
INSERT INTO sbig SELECT i, 'after ' || i, i FROM generate_series(21501, 23000) i;
COMMIT;

-- 5. an exception block per row: subtransactions by the hundred
DO $$
BEGIN
	FOR i IN 30001 .. 31500 LOOP
		BEGIN
			INSERT INTO sbig VALUES (i, 'loop ' || i, i);
			IF i % 3 = 0 THEN
				RAISE EXCEPTION 'undo %', i;
			END IF;
		EXCEPTION WHEN raise_exception THEN
			NULL;
		END;
	END LOOP;
END $$;

-- 6. a large transaction whose changes are all filtered out sends nothing
INSERT INTO sskipped SELECT i FROM generate_series(1, 5000) i;
INSERT INTO ssmall VALUES (2);

CREATE TEMP TABLE raw AS
	SELECT string_agg(data, ''::bytea ORDER BY n) AS d
	FROM pg_logical_slot_get_binary_changes('streamed', NULL, NULL,
		'streaming', 'on', 'exclude-tables', 'public.sskipped')
		WITH ORDINALITY AS c(lsn, xid, data, n);
CREATE TEMP TABLE quiet AS
	SELECT n, l FROM tide_render((SELECT d FROM raw)) WITH ORDINALITY AS r(l, n);
CREATE TEMP TABLE loud AS
	SELECT n, l FROM tide_render((SELECT d FROM raw), true) WITH ORDINALITY AS r(l, n);
CREATE TEMP TABLE plain AS
	SELECT n, l FROM tide_get('spilled', 'exclude-tables', 'public.sskipped')
	WITH ORDINALITY AS r(l, n);

-- what came, in kinds
SELECT (SELECT l FROM quiet WHERE n = 1) AS startup;
SELECT count(*) FILTER (WHERE l = 'STREAM START first=true') AS transactions_streamed,
	count(*) FILTER (WHERE l = 'STREAM START first=false') > 0 AS in_several_chunks,
	count(*) FILTER (WHERE l LIKE 'STREAM START%') =
		count(*) FILTER (WHERE l = 'STREAM STOP') AS chunks_closed,
	count(*) FILTER (WHERE l = 'SUBXACT') > 0 AS subxacts,
	count(*) FILTER (WHERE l = 'STREAM ABORT subtransaction=true') >= 2 AS subxacts_rolled_back,
	count(*) FILTER (WHERE l = 'STREAM ABORT subtransaction=false') AS rolled_back,
	count(*) FILTER (WHERE l LIKE 'BEGIN%') AS plain_transactions
FROM quiet;
SELECT l FROM quiet WHERE l LIKE 'STREAM COMMIT%' ORDER BY n;

-- every chunk describes a relation before its first row
WITH c AS (
	SELECT n, l, count(*) FILTER (WHERE l LIKE 'STREAM START%') OVER (ORDER BY n) AS chunk,
		sum(CASE WHEN l LIKE 'STREAM START%' THEN 1 WHEN l = 'STREAM STOP' THEN -1 ELSE 0 END)
			OVER (ORDER BY n) > 0 OR l = 'STREAM STOP' AS inside
	FROM quiet)
SELECT bool_and(first_rel < first_row) AS described_before_use
FROM (SELECT chunk,
		min(n) FILTER (WHERE l LIKE 'RELATION%') AS first_rel,
		min(n) FILTER (WHERE l ~ '^(INSERT|UPDATE|DELETE|TRUNCATE)') AS first_row
	FROM c WHERE inside GROUP BY chunk) x
WHERE first_row IS NOT NULL;
-- the DDL's new column is described inside the chunk that first uses it
SELECT count(*) > 0 AS new_column_described
FROM quiet WHERE l LIKE 'RELATION public.sbig %extra[integer fixed4]%';

-- the consumer: chunks kept by transaction, each message with the
-- (sub)transaction SUBXACT names; a rolled-back subtransaction's messages
-- are left out (RELATIONs are descriptions, not changes: they stay), and
-- the whole is emitted at STREAM COMMIT as BEGIN ... COMMIT
CREATE TEMP TABLE rebuilt (n serial, l text);
DO $$
DECLARE
	r record;
	in_top bigint;
	in_cur bigint;
	x bigint;
	s bigint;
	kept int;
	cnt bigint;
BEGIN
	CREATE TEMP TABLE spool (top bigint, xid bigint, n serial, l text, change bool);
	CREATE TEMP TABLE aborted (top bigint, xid bigint);
	FOR r IN SELECT q.n, q.l AS ql, v.l AS vl FROM quiet q JOIN loud v USING (n) ORDER BY n LOOP
		IF r.ql LIKE 'STREAM START%' THEN
			in_top := substring(r.vl FROM 'xid=(\d+)')::bigint;
			in_cur := in_top;
			IF r.ql = 'STREAM START first=true' AND EXISTS (SELECT FROM spool WHERE spool.top = in_top) THEN
				RAISE EXCEPTION 'first chunk of % twice', in_top;
			END IF;
		ELSIF r.ql = 'STREAM STOP' THEN
			in_top := NULL;
		ELSIF r.ql = 'SUBXACT' THEN
			in_cur := substring(r.vl FROM 'xid=(\d+)')::bigint;
		ELSIF in_top IS NOT NULL THEN
			INSERT INTO spool (top, xid, l, change)
				VALUES (in_top, in_cur, r.ql, r.ql ~ '^(INSERT|UPDATE|DELETE|TRUNCATE|MESSAGE)');
		ELSIF r.ql LIKE 'STREAM ABORT%' THEN
			x := substring(r.vl FROM ' xid=(\d+)')::bigint;
			s := substring(r.vl FROM 'subxid=(\d+)')::bigint;
			IF x = s THEN
				DELETE FROM spool WHERE spool.top = x;
				DELETE FROM aborted WHERE aborted.top = x;
			ELSE
				INSERT INTO aborted VALUES (x, s);
			END IF;
		ELSIF r.ql LIKE 'STREAM COMMIT%' THEN
			x := substring(r.vl FROM ' xid=(\d+)')::bigint;
			cnt := substring(r.ql FROM 'changes=(\d+)')::bigint;
			DELETE FROM spool WHERE spool.top = x AND change AND
				spool.xid IN (SELECT a.xid FROM aborted a WHERE a.top = x);
			SELECT count(*) FILTER (WHERE change) INTO kept FROM spool WHERE spool.top = x;
			IF kept <> cnt THEN
				RAISE EXCEPTION 'transaction % holds % changes, STREAM COMMIT says %', x, kept, cnt;
			END IF;
			INSERT INTO rebuilt (l) VALUES ('BEGIN');
			INSERT INTO rebuilt (l) SELECT l FROM spool WHERE spool.top = x ORDER BY n;
			INSERT INTO rebuilt (l) VALUES ('COMMIT changes=' || cnt);
			DELETE FROM spool WHERE spool.top = x;
			DELETE FROM aborted WHERE aborted.top = x;
		ELSIF r.ql NOT LIKE 'STARTUP%' THEN
			INSERT INTO rebuilt (l) VALUES (r.ql);
		END IF;
	END LOOP;
	IF EXISTS (SELECT FROM spool) THEN
		RAISE EXCEPTION 'chunks left over';
	END IF;
END $$;

-- the same transactions, in the same order, message for message (the
-- streamed side describes relations per chunk: RELATION lines aside)
SELECT count(*) AS rebuilt_lines,
	count(*) FILTER (WHERE l LIKE 'COMMIT%') AS transactions
FROM rebuilt WHERE l NOT LIKE 'RELATION%';
SELECT (SELECT array_agg(l ORDER BY n) FROM rebuilt WHERE l NOT LIKE 'RELATION%') =
	(SELECT array_agg(l ORDER BY n) FROM plain WHERE l NOT LIKE 'RELATION%' AND l NOT LIKE 'STARTUP%')
	AS same_as_without_streaming;
-- the messages that survived
SELECT l FROM rebuilt WHERE l LIKE 'MESSAGE%' ORDER BY n;

-- the source spilled nothing for the streaming slot
SELECT slot_name, spill_txns = 0 AS no_spill, stream_txns > 0 AS streamed
FROM pg_stat_replication_slots WHERE slot_name IN ('streamed', 'spilled') ORDER BY 1;

SELECT pg_drop_replication_slot('streamed');
SELECT pg_drop_replication_slot('spilled');
