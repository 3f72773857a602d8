-- Partitioned tables: rows of a partition name the top-most root; the
-- table filters see partitions through their root.
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

SELECT 'init' FROM pg_create_logical_replication_slot('part', 'tide');

CREATE TABLE events (id int, at date, kind text, PRIMARY KEY (id, at, kind)) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')
	PARTITION BY LIST (kind);
CREATE TABLE events_2024_a PARTITION OF events_2024 FOR VALUES IN ('a');
CREATE TABLE events_2024_other PARTITION OF events_2024 DEFAULT;
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE plain (id int PRIMARY KEY);

INSERT INTO events VALUES (1, '2024-05-01', 'a'), (2, '2024-06-01', 'b'), (3, '2025-01-01', 'a');
UPDATE events SET kind = 'z' WHERE id = 1;				-- moves to another partition
UPDATE events SET at = '2024-06-02' WHERE id = 2;		-- stays
DELETE FROM events WHERE id = 3;
INSERT INTO plain VALUES (1);
SELECT * FROM tide_get('part');

-- naming the root selects its partitions; a partition can be excluded alone
INSERT INTO events VALUES (4, '2024-05-01', 'a'), (5, '2025-05-01', 'a');
INSERT INTO plain VALUES (2);
SELECT * FROM tide_peek('part', 'include-tables', 'public.events');
SELECT * FROM tide_peek('part', 'include-tables', 'public.events', 'exclude-tables', 'public.events_2025');
SELECT * FROM tide_peek('part', 'include-tables', 'public.events_2024');
SELECT * FROM tide_peek('part', 'exclude-tables', 'public.events');

-- a partition attached later, and a detached one that stands alone
CREATE TABLE events_2026 (id int, at date, kind text, PRIMARY KEY (id, at, kind));
ALTER TABLE events ATTACH PARTITION events_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
ALTER TABLE events DETACH PARTITION events_2025;
INSERT INTO events VALUES (6, '2026-05-01', 'a');
INSERT INTO events_2025 VALUES (7, '2025-05-01', 'a');
-- a renamed root is named anew in its partitions' descriptions
ALTER TABLE events RENAME TO happenings;
INSERT INTO happenings VALUES (8, '2026-05-01', 'b');
SELECT * FROM tide_get('part');

-- TRUNCATE of the root lists the partitions it emptied
TRUNCATE happenings;
SELECT * FROM tide_get('part');

-- partition-bounds: each partition's immediate parent, its bound and the
-- parent's partition key, printed the same whatever the session's DateStyle
INSERT INTO happenings VALUES (9, '2024-05-01', 'a'), (10, '2024-05-01', 'q'), (11, '2026-05-01', 'a');
SET datestyle = 'SQL, DMY';
SELECT * FROM tide_get('part', 'partition-bounds', 'on');
RESET datestyle;
SELECT * FROM tide_get('part', 'partition-bounds', 'maybe');

SELECT pg_drop_replication_slot('part');
