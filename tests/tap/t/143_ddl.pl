# tests/tap/t/143_ddl.pl - DDL captured on the source (tide setup's event
# triggers) and replayed by tide apply at its place in its transaction:
# tables, columns (add, drop, rename, type, default), schemas, types and
# enum values, comments, indexes (CONCURRENTLY too), partitions created,
# attached, detached and dropped while rows flow (1-second "days", under a
# concurrent pgbench load), CREATE TABLE AS and SELECT INTO, a
# multi-statement query string, DDL run from a function; --ddl stop,
# skip, --ddl-apply-lsn and --ddl-skip-lsn; a DDL the replica refuses; a
# kill -9 of the applier while DDL flows.  Content is asserted (rows,
# column types from information_schema, indexes), then tide verify.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;
use Time::HiRes qw(usleep);

my $schema = q{
CREATE TABLE base (id int PRIMARY KEY, v text);
CREATE TABLE load (id bigserial PRIMARY KEY, day int, v int);
CREATE TABLE daymark (one int PRIMARY KEY, day int);
INSERT INTO daymark VALUES (1, 1);
CREATE TABLE ev (day int, id bigint, v int, PRIMARY KEY (day, id)) PARTITION BY RANGE (day);
CREATE TABLE ev_1 PARTITION OF ev FOR VALUES FROM (1) TO (2);
};

my $src = tide_node('src');
my $conn = $src->connstr('postgres');
$src->safe_psql('postgres', $schema);

# ---- tide setup: checks, install, idempotent
my ($rc, $out, $err) = tide_run('setup', '-d', $conn);
is($rc, 0, 'setup: exit 0') or diag("$out\n$err");
like($out, qr/^ok +wal_level is logical$/m, 'setup: wal_level checked');
like($out, qr/^ok +the tide output plugin loads/m, 'setup: plugin loads');
like($out, qr/^ok +the DDL capture is installed/m, 'setup: capture installed');
($rc, $out, $err) = tide_run('setup', '-d', $conn);
is($rc, 0, 'setup twice: exit 0') or diag("$out\n$err");
is($src->safe_psql('postgres', q{SELECT string_agg(evtname || ':' || evtevent, ',' ORDER BY evtname) FROM pg_event_trigger}),
	'tide_ddl_drop:sql_drop,tide_ddl_end:ddl_command_end,tide_ddl_start:ddl_command_start',
	'setup twice: one set of event triggers');
($rc, $out, $err) = tide_run('setup', '-d', $conn, '--check');
is($rc, 0, 'setup --check: ready') or diag("$out\n$err");

$src->safe_psql('postgres', q{SELECT pg_create_logical_replication_slot('tide', 'tide')});
my $dir = seg_dir('segs');

my $rep = PostgreSQL::Test::Cluster->new('rep');
$rep->init;
$rep->start;
$rep->safe_psql('postgres', $schema);

sub stream_all
{
	my $end = $src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
	my ($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide',
		'-D', $dir, '--bucket', '1s', '--endpos', $end, '-q');
	is($rc, 0, "stream up to $end") or diag($err);
}

sub apply
{
	my (@extra) = @_;
	return tide_run('apply', '-d', $rep->connstr('postgres'), '-D', $dir, '--batch', '200', @extra);
}

sub both
{
	my ($sql) = @_;
	return ($src->safe_psql('postgres', $sql), $rep->safe_psql('postgres', $sql));
}

sub same
{
	my ($sql, $name) = @_;
	my ($a, $b) = both($sql);
	is($b, $a, $name);
	return $a;
}

# a query string of several statements, sent as one (psql -c)
sub multi
{
	my ($sql) = @_;
	my ($o, $e);
	IPC::Run::run([ 'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-d', $conn, '-c', $sql ], '>', \$o, '2>', \$e)
	  or die "psql -c failed: $e";
}

my $cols = q{SELECT string_agg(table_name || '.' || column_name || ':' || data_type || ':' || coalesce(column_default, ''), ',' ORDER BY table_name, ordinal_position) FROM information_schema.columns WHERE table_schema IN ('public', 's2') AND table_name NOT LIKE 'ev%'};
my $idx = q{SELECT string_agg(indexname || ':' || regexp_replace(indexdef, ' USING.*', ''), ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname IN ('public', 's2')};
my $parts = q{SELECT string_agg(c.relname || ':' || pg_get_expr(c.relpartbound, c.oid), ',' ORDER BY c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'ev'::regclass};

# ---- a concurrent load through the whole workload: rows into base's
# neighbour and into the current "day" of the partitioned table
my $script = "${PostgreSQL::Test::Utils::tmp_check}/load.sql";
open(my $fh, '>', $script) or die;
print $fh "INSERT INTO load (day, v) SELECT day, 1 FROM daymark;\n";
print $fh "INSERT INTO ev (day, id, v) SELECT day, nextval('load_id_seq'), 2 FROM daymark;\n";
close $fh;
my ($pout, $perr) = ('', '');
my $pgbench = IPC::Run::start([ 'pgbench', '-n', '-T', '6', '-c', '2', '-f', $script, '-d', $conn ],
	'>', \$pout, '2>', \$perr);

# ---- each kind of DDL inside transactions, with rows before and after
$src->safe_psql('postgres', q{
BEGIN;
INSERT INTO base VALUES (1, 'before');
CREATE TABLE t1 (id int PRIMARY KEY, a text);
INSERT INTO t1 VALUES (1, 'one'), (2, 'two');
ALTER TABLE t1 ADD COLUMN b int DEFAULT 7;
INSERT INTO t1 VALUES (3, 'three', 33);
ALTER TABLE t1 RENAME COLUMN a TO a2;
UPDATE t1 SET a2 = 'TWO' WHERE id = 2;
INSERT INTO base VALUES (2, 'after');
COMMIT;
BEGIN;
UPDATE t1 SET b = 5 WHERE id = 1;
ALTER TABLE t1 ALTER COLUMN b TYPE bigint;
ALTER TABLE t1 ALTER COLUMN b SET DEFAULT 9;
INSERT INTO t1 (id, a2) VALUES (4, 'four');
COMMIT;
BEGIN;
ALTER TABLE t1 ADD COLUMN gone text DEFAULT 'g';
INSERT INTO t1 (id) VALUES (5);
ALTER TABLE t1 DROP COLUMN gone;
INSERT INTO t1 (id) VALUES (6);
COMMIT;
CREATE SCHEMA s2;
BEGIN;
CREATE TYPE s2.mood AS ENUM ('sad', 'ok');
CREATE TABLE s2.m (id int PRIMARY KEY, m s2.mood);
INSERT INTO s2.m VALUES (1, 'ok');
COMMIT;
ALTER TYPE s2.mood ADD VALUE 'happy';
INSERT INTO s2.m VALUES (2, 'happy');
COMMENT ON TABLE t1 IS 'the first table';
COMMENT ON COLUMN t1.b IS 'bee';
BEGIN;
INSERT INTO t1 (id) VALUES (7);
CREATE INDEX t1_b ON t1 (b);
CREATE UNIQUE INDEX t1_a2 ON t1 (a2);
INSERT INTO t1 (id, a2) VALUES (8, 'eight');
COMMIT;
CREATE INDEX CONCURRENTLY t1_idb ON t1 (id, b);
DROP INDEX t1_b;
BEGIN;
CREATE TABLE t2 (id int PRIMARY KEY);
INSERT INTO t2 SELECT generate_series(1, 20);
ALTER TABLE t2 RENAME TO t2r;
INSERT INTO t2r VALUES (21);
COMMIT;
CREATE TABLE t3 (id int PRIMARY KEY);
INSERT INTO t3 VALUES (1);
DROP TABLE t3;
SET session_replication_role = replica;
CREATE TABLE srr (id int PRIMARY KEY);
INSERT INTO srr VALUES (1);
RESET session_replication_role;
});

# ---- the time-decay pattern: one partition per 1-second "day", the one
# two days old detached and dropped, while pgbench writes the current day
for my $day (2 .. 6)
{
	$src->safe_psql('postgres', qq{
BEGIN;
CREATE TABLE ev_$day PARTITION OF ev FOR VALUES FROM ($day) TO (@{[$day + 1]});
UPDATE daymark SET day = $day;
COMMIT;
});
	if ($day >= 4)
	{
		my $old = $day - 2;
		$src->safe_psql('postgres', qq{
ALTER TABLE ev DETACH PARTITION ev_$old;
DROP TABLE ev_$old;
});
	}
	usleep(1_000_000);
}
$pgbench->finish;
is($? >> 8, 0, 'pgbench load ran') or diag($perr);

# ---- ATTACH / DETACH of a filled table; CREATE TABLE AS; SELECT INTO
$src->safe_psql('postgres', q{
CREATE TABLE ev_100 (day int NOT NULL, id bigint NOT NULL, v int);
INSERT INTO ev_100 VALUES (100, 1, 1), (100, 2, 2);
BEGIN;
ALTER TABLE ev ATTACH PARTITION ev_100 FOR VALUES FROM (100) TO (101);
INSERT INTO ev VALUES (100, 3, 3);
COMMIT;
CREATE TABLE ev_200 PARTITION OF ev FOR VALUES FROM (200) TO (201);
INSERT INTO ev VALUES (200, 1, 1);
ALTER TABLE ev DETACH PARTITION ev_200;
INSERT INTO ev_200 VALUES (201, 2, 2);
CREATE TABLE c1 AS SELECT id, a2, b FROM t1 WHERE id <= 4;
CREATE TABLE c0 AS SELECT id, a2 FROM t1 WHERE false;
BEGIN;
INSERT INTO base VALUES (3, 'ctas in txn');
SELECT id, v INTO c2 FROM base;
INSERT INTO c2 VALUES (99, 'later');
COMMIT;
});

# ---- a multi-statement query string: each command gets its own statement
multi(q{CREATE TABLE ms (id int PRIMARY KEY); INSERT INTO ms VALUES (1); ALTER TABLE ms ADD COLUMN z text DEFAULT 'zz'; INSERT INTO ms VALUES (2, 'two'); /* ; */ COMMENT ON TABLE ms IS 'semi; colon'});

stream_all();
($rc, $out, $err) = apply();
is($rc, 0, 'apply: every captured DDL replayed') or diag($err);
like($err, qr/DDL at [0-9A-F]+\/[0-9A-F]+: CREATE INDEX CONCURRENTLY t1_idb/, 'apply: logs each DDL with its LSN');
like($err, qr/: \d+ captured DDL commands run, 2 left out/, 'apply: the summary counts them (CREATE TABLE AS and SELECT INTO made from their rows: left out)');
same(q{SELECT string_agg(id::text, ',') FROM srr}, 'DDL under session_replication_role = replica is captured');

same(q{SELECT count(*) || ':' || sum(id) FROM load}, 'load rows equal');
same(q{SELECT string_agg(x::text, ',' ORDER BY x::text) FROM t1 x}, 't1 rows equal');
same(q{SELECT string_agg(x::text, ',' ORDER BY x::text) FROM t2r x}, 'renamed table rows equal');
same(q{SELECT string_agg(x::text, ',' ORDER BY x::text) FROM s2.m x}, 'enum value added and used');
same(q{SELECT enum_range(NULL::s2.mood)::text}, 'enum values equal');
my $c = same($cols, 'column names, types and defaults equal');
like($c, qr/t1\.b:bigint:9,/, 't1.b retyped to bigint with default 9');
unlike($c, qr/t1\.gone/, 'dropped column gone');
my $i = same($idx, 'indexes equal');
like($i, qr/t1_idb:CREATE INDEX t1_idb ON public\.t1/, 'CONCURRENTLY index replayed');
unlike($i, qr/t1_b:/, 'dropped index gone');
same(q{SELECT obj_description('t1'::regclass) || '/' || col_description('t1'::regclass, 3) || '/' || obj_description('ms'::regclass)}, 'comments equal');
is($rep->safe_psql('postgres', q{SELECT to_regclass('t3') IS NULL}), 't', 'created and dropped table gone');
my $p = same($parts, 'partitions equal');
like($p, qr/^ev_1:.*ev_100:.*ev_5:.*ev_6:/, 'daily partitions follow, old ones dropped');
is($rep->safe_psql('postgres', q{SELECT to_regclass('ev_2') IS NULL AND to_regclass('ev_3') IS NULL}), 't', 'dropped days are gone');
same(q{SELECT string_agg(x::text, ',' ORDER BY x::text) FROM ev x}, 'ev rows equal');
same(q{SELECT string_agg(x::text, ',' ORDER BY x::text) FROM ev_200 x}, 'detached partition rows equal');
same(q{SELECT string_agg(x::text, ',' ORDER BY x::text) FROM c1 x}, 'CREATE TABLE AS rows equal');
same(q{SELECT count(*) FROM c0}, 'CREATE TABLE AS without rows: empty');
same(q{SELECT string_agg(x::text, ',' ORDER BY x::text) FROM c2 x}, 'SELECT INTO rows equal');
same(q{SELECT string_agg(x::text, ',' ORDER BY x::text) FROM ms x}, 'multi-statement string replayed');

# ---- DDL from a function: the statement text is unknown
$src->safe_psql('postgres', q{
CREATE FUNCTION mk() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'CREATE TABLE fx (i int PRIMARY KEY)'; END $$;
INSERT INTO base VALUES (10, 'before fx');
});
$src->safe_psql('postgres', q{SELECT mk(); INSERT INTO fx VALUES (1);});
stream_all();
($rc, $out, $err) = apply();
is($rc, 4, 'DDL from a function: stops with exit 4');
like($err, qr/stopped before the DDL command CREATE TABLE at ([0-9A-F]+\/[0-9A-F]+): the command ran inside a function/, 'names the command and why');
like($err, qr/--ddl-skip-lsn/, 'says how to go on');
is($rep->safe_psql('postgres', q{SELECT v FROM base WHERE id = 10}), 'before fx', 'everything before it is committed');
($rc, $out, $err) = apply('--schema', 'follow');
is($rc, 0, 'with --schema follow the table comes from its description') or diag($err);
same(q{SELECT string_agg(i::text, ',') FROM fx}, 'fx rows equal');

# ---- a DDL the replica refuses: stops after committing what precedes;
# the operator fixes the replica and continues
$rep->safe_psql('postgres', q{CREATE TABLE clash (x text)});
$src->safe_psql('postgres', q{
INSERT INTO base VALUES (11, 'before clash');
BEGIN;
INSERT INTO base VALUES (12, 'same txn as clash');
CREATE TABLE clash (id int PRIMARY KEY, w text);
INSERT INTO clash VALUES (1, 'a');
COMMIT;
INSERT INTO clash VALUES (2, 'b');
});
stream_all();
($rc, $out, $err) = apply();
is($rc, 4, 'failing DDL: exit 4');
like($err, qr/could not apply the DDL command CREATE TABLE at ([0-9A-F]+\/[0-9A-F]+) to the replica: relation "clash" already exists/, 'failing DDL: named with its LSN and the error');
my ($clash_lsn) = $err =~ /CREATE TABLE at ([0-9A-F]+\/[0-9A-F]+) to the replica/;
like($err, qr/statement: CREATE TABLE clash \(id int PRIMARY KEY, w text\)/, 'failing DDL: statement shown');
is($rep->safe_psql('postgres', q{SELECT string_agg(id::text, ',' ORDER BY id) FROM base WHERE id >= 11}), '11',
	'failing DDL: the transactions before it committed, its own not');
# the operator makes the table right by hand and skips the captured one
$rep->safe_psql('postgres', q{DROP TABLE clash; CREATE TABLE clash (id int PRIMARY KEY, w text)});
($rc, $out, $err) = apply('--ddl-skip-lsn', $clash_lsn);
is($rc, 0, 'after the operator acted, --ddl-skip-lsn continues') or diag($err);
same(q{SELECT string_agg(x::text, ',' ORDER BY x::text) FROM clash x}, 'clash rows equal');
is($rep->safe_psql('postgres', q{SELECT string_agg(id::text, ',' ORDER BY id) FROM base WHERE id >= 11}), '11,12',
	'its transaction applied once');

# ---- --ddl stop, then --ddl-apply-lsn; --ddl skip
$src->safe_psql('postgres', q{
INSERT INTO base VALUES (20, 'before stop');
ALTER TABLE t1 ADD COLUMN st int DEFAULT 1;
INSERT INTO t1 (id) VALUES (20);
});
stream_all();
($rc, $out, $err) = apply('--ddl', 'stop');
is($rc, 4, '--ddl stop: exit 4');
like($err, qr/stopped before the DDL command ALTER TABLE at ([0-9A-F]+\/[0-9A-F]+): --ddl stop/, '--ddl stop: LSN shown');
my ($stop_lsn) = $err =~ /ALTER TABLE at ([0-9A-F]+\/[0-9A-F]+): --ddl stop/;
like($err, qr/statement: ALTER TABLE t1 ADD COLUMN st int DEFAULT 1/, '--ddl stop: statement shown');
like($err, qr/tide apply -d .* --ddl stop/, '--ddl stop: the command that continues');
is($rep->safe_psql('postgres', q{SELECT count(*) FROM information_schema.columns WHERE table_name = 't1' AND column_name = 'st'}), '0', '--ddl stop: not applied');
is($rep->safe_psql('postgres', q{SELECT v FROM base WHERE id = 20}), 'before stop', '--ddl stop: what precedes committed');
($rc, $out, $err) = apply('--ddl', 'stop', '--ddl-apply-lsn', $stop_lsn);
is($rc, 0, '--ddl stop --ddl-apply-lsn: applies that one') or diag($err);
same(q{SELECT string_agg(x::text, ',' ORDER BY x::text) FROM t1 x}, 't1 rows equal after the stop');
$src->safe_psql('postgres', q{COMMENT ON TABLE t1 IS 'changed later'});
stream_all();
($rc, $out, $err) = apply('--ddl', 'skip');
is($rc, 0, '--ddl skip: exit 0') or diag($err);
is($rep->safe_psql('postgres', q{SELECT obj_description('t1'::regclass)}), 'the first table', '--ddl skip: comment not replayed');
$rep->safe_psql('postgres', q{COMMENT ON TABLE t1 IS 'changed later'});

# a DROP INDEX of an index the replica lost is a divergence: it stops
$src->safe_psql('postgres', q{CREATE INDEX t1_tmp ON t1 (a2)});
stream_all();
($rc, $out, $err) = apply();
is($rc, 0, 'index created') or diag($err);
$rep->safe_psql('postgres', q{DROP INDEX t1_tmp});
$src->safe_psql('postgres', q{DROP INDEX t1_tmp});
stream_all();
($rc, $out, $err) = apply();
is($rc, 4, 'DROP INDEX of an index the replica lacks: exit 4');
like($err, qr/could not apply the DDL command DROP INDEX at ([0-9A-F]+\/[0-9A-F]+) to the replica: index "t1_tmp" does not exist/,
	'DROP INDEX of an index the replica lacks: named');
my ($drop_lsn) = $err =~ /DROP INDEX at ([0-9A-F]+\/[0-9A-F]+) to the replica/;
($rc, $out, $err) = apply('--ddl-skip-lsn', $drop_lsn);
is($rc, 0, 'and goes on with --ddl-skip-lsn') or diag($err);
like($err, qr/skipped as --ddl-skip-lsn asks: DROP INDEX t1_tmp/, 'the skip is logged');

# ---- a CREATE INDEX CONCURRENTLY that a crash cut short after it ran:
# tide.ddl_pending names it, the index is there and valid: not run again
$src->safe_psql('postgres', q{CREATE INDEX CONCURRENTLY t1_st ON t1 (st)});
stream_all();
($rc, $out, $err) = apply('--ddl', 'stop');
is($rc, 4, 'CONCURRENTLY under --ddl stop: stops');
my ($cic_lsn) = $err =~ /CREATE INDEX at ([0-9A-F]+\/[0-9A-F]+): --ddl stop/;
ok(defined $cic_lsn, 'CONCURRENTLY: LSN shown') or diag($err);
my $sysid = $src->safe_psql('postgres', q{SELECT system_identifier FROM pg_control_system()});
$rep->safe_psql('postgres', qq{
CREATE INDEX t1_st ON t1 (st);
CREATE TABLE IF NOT EXISTS tide.ddl_pending (system_id numeric NOT NULL, dbname text NOT NULL, slot text NOT NULL,
  lsn pg_lsn NOT NULL, statement text NOT NULL, PRIMARY KEY (system_id, dbname, slot));
INSERT INTO tide.ddl_pending VALUES ($sysid, 'postgres', 'tide', '$cic_lsn', 'CREATE INDEX CONCURRENTLY t1_st ON t1 (st)');
});
($rc, $out, $err) = apply('--ddl-apply-lsn', $cic_lsn);
is($rc, 0, 'CONCURRENTLY begun before a crash: not run twice') or diag($err);
like($err, qr/ran before this run started \(tide\.ddl_pending\)/, 'CONCURRENTLY: the pending row was used');
is($rep->safe_psql('postgres', q{SELECT count(*) FROM tide.ddl_pending}), '0', 'CONCURRENTLY: pending row gone with the progress');

# a CONCURRENTLY command the replica refuses stops, and running again does
# not take the replica's own index of that name for the one it builds
$rep->safe_psql('postgres', q{CREATE INDEX t1_clash ON t1 (id)});
$src->safe_psql('postgres', q{CREATE INDEX CONCURRENTLY t1_clash ON t1 (b)});
stream_all();
for my $try (1, 2)
{
	($rc, $out, $err) = apply();
	is($rc, 4, "CONCURRENTLY refused, run $try: exit 4");
	like($err, qr/could not apply the DDL command CREATE INDEX at [0-9A-F]+\/[0-9A-F]+ to the replica: relation "t1_clash" already exists/,
		"CONCURRENTLY refused, run $try: the server's error");
}
$rep->safe_psql('postgres', q{DROP INDEX t1_clash});
($rc, $out, $err) = apply();
is($rc, 0, 'CONCURRENTLY: after the operator dropped the clash, it runs') or diag($err);
like($rep->safe_psql('postgres', q{SELECT indexdef FROM pg_indexes WHERE indexname = 't1_clash'}), qr/\(b\)$/,
	'CONCURRENTLY: the index is the source\'s');

# ---- kill -9 while DDL flows: no DDL runs twice, none is skipped
my ($fout, $ferr) = ('', '');
my $h = IPC::Run::start([ $TideTest::TIDE, 'apply', '-d', $rep->connstr('postgres'), '-D', $dir,
	'--batch', '3', '--follow' ], '>', \$fout, '2>', \$ferr);
for my $k (1 .. 8)
{
	$src->safe_psql('postgres', qq{
BEGIN;
INSERT INTO base VALUES (100 + $k, 'k');
CREATE TABLE k_$k (id int PRIMARY KEY, v text);
INSERT INTO k_$k VALUES (1, 'x');
ALTER TABLE k_$k ADD COLUMN w int DEFAULT $k;
COMMIT;
INSERT INTO k_$k VALUES (2, 'y');
});
	stream_all() if $k % 3 == 0;
	if ($k == 6)
	{
		usleep(150_000);
		$h->kill_kill;
		$h->finish;
	}
}
stream_all();
($rc, $out, $err) = apply();
is($rc, 0, 'after kill -9: the rest applies without running a DDL twice') or diag($err);
for my $k (1, 5, 8)
{
	same(qq{SELECT string_agg(x::text, ',' ORDER BY x::text) FROM k_$k x}, "k_$k equal after the kill");
}
same($cols, 'columns equal after the kill');
same($idx, 'indexes equal after the kill');

# sequences are not DDL: their states come by tide sync-sequences
($rc, $out, $err) = tide_run('sync-sequences', '-d', $conn, '-q');
is($rc, 0, 'sync-sequences') or diag($err);
stream_all();
($rc, $out, $err) = apply();
is($rc, 0, 'apply the sequence states') or diag($err);

# ---- the whole database: tide verify
($rc, $out, $err) = tide_run('verify', '-s', $conn, '-d', $rep->connstr('postgres'));
is($rc, 0, 'tide verify: source and replica equal') or diag("$out\n$err");

# ---- tide inspect shows the messages; setup --remove takes the capture out
($rc, $out, $err) = tide_run('inspect', $dir);
like($out, qr/tide\.ddl.*ALTER TABLE t1 ADD COLUMN st int DEFAULT 1/, 'inspect shows captured DDL');
($rc, $out, $err) = tide_run('setup', '-d', $conn, '--remove');
is($rc, 0, 'setup --remove') or diag("$out\n$err");
is($src->safe_psql('postgres', q{SELECT count(*) FROM pg_event_trigger}), '0', 'no event trigger left');
($rc, $out, $err) = tide_run('setup', '-d', $conn, '--remove');
is($rc, 0, 'setup --remove twice: harmless') or diag("$out\n$err");

done_testing();
