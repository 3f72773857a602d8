-- Transactions: subtransactions, ROLLBACK TO SAVEPOINT, aborted and empty
-- transactions, and a transaction spilled to disk.
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

SELECT 'init' FROM pg_create_logical_replication_slot('xact', 'tide');
CREATE TABLE x (id int PRIMARY KEY, v text);

-- subtransactions: rows of rolled-back savepoints are absent
BEGIN;
INSERT INTO x VALUES (1, 'top');
SAVEPOINT a;
INSERT INTO x VALUES (2, 'in a');
SAVEPOINT b;
INSERT INTO x VALUES (3, 'in b, rolled back');
UPDATE x SET v = 'updated in b, rolled back' WHERE id = 1;
ROLLBACK TO SAVEPOINT b;
INSERT INTO x VALUES (4, 'after rollback to b');
RELEASE SAVEPOINT a;
SAVEPOINT c;
DELETE FROM x WHERE id = 2;
ROLLBACK TO c;
UPDATE x SET v = 'top again' WHERE id = 1;
COMMIT;

-- an aborted transaction is absent, and so is one that only ran DDL
BEGIN;
INSERT INTO x VALUES (10, 'aborted');
ROLLBACK;
CREATE TABLE ddl_only (id int);
-- a subtransaction-only change in a transaction whose top level did nothing
BEGIN;
SAVEPOINT s;
INSERT INTO x VALUES (5, 'from a subtransaction');
RELEASE s;
COMMIT;
SELECT * FROM tide_get('xact');

-- an exception block in a function is a subtransaction too
DO $$
BEGIN
	INSERT INTO x VALUES (6, 'kept');
	BEGIN
		INSERT INTO x VALUES (7, 'lost');
		RAISE EXCEPTION 'boom';
	EXCEPTION WHEN OTHERS THEN
		INSERT INTO x VALUES (8, 'handler');
	END;
END $$;
SELECT * FROM tide_get('xact');

-- a transaction larger than logical_decoding_work_mem (64kB here) is
-- spilled to disk and read back: all 5000 rows, in order
BEGIN;
INSERT INTO x SELECT i, repeat('v', 50) || i FROM generate_series(1000, 5999) i;
SAVEPOINT s;
UPDATE x SET v = 'updated' WHERE id BETWEEN 1000 AND 1099;
ROLLBACK TO s;
DELETE FROM x WHERE id >= 5990;
COMMIT;
CREATE TEMP TABLE spilled AS
	SELECT row_number() OVER () AS n, l FROM tide_get('xact') l;
SELECT count(*) AS lines,
	count(*) FILTER (WHERE l LIKE 'INSERT %') AS inserts,
	count(*) FILTER (WHERE l LIKE 'UPDATE %') AS updates,
	count(*) FILTER (WHERE l LIKE 'DELETE %') AS deletes
FROM spilled;
SELECT n, l FROM spilled WHERE n <= 4 OR n >= (SELECT max(n) - 2 FROM spilled) ORDER BY n;
-- the rows came in insertion order
SELECT bool_and(substring(l FROM 'id\[integer\]:(\d+)')::int = 1000 + n - 4) AS in_order
FROM spilled WHERE l LIKE 'INSERT %';
SELECT spill_txns > 0 AS spilled, spill_bytes > 0 AS spilled_bytes
FROM pg_stat_replication_slots WHERE slot_name = 'xact';

SELECT pg_drop_replication_slot('xact');
