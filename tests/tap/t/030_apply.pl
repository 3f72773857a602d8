# tests/tap/t/030_apply.pl - tide apply end to end: every type and case
# replayed equal to the source, exactly once across reruns and kill -9,
# group commit's XID cost, --until, and the errors that must stop it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use File::Copy;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;
use Time::HiRes qw(usleep);

my $schema = q{
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE kinds (id int PRIMARY KEY, b bigint, n numeric, t text, by bytea,
  j jsonb, ts timestamptz, f bool, u uuid, arr int[], tarr text[], m mood,
  fl float8, iv interval, d date, js json, pt point);
CREATE TABLE full_t (a int, b text, j json);
ALTER TABLE full_t REPLICA IDENTITY FULL;
CREATE TABLE toasty (id int PRIMARY KEY, big text, n int);
ALTER TABLE toasty ALTER big SET STORAGE EXTERNAL;
CREATE TABLE "Weird ""Table""" ("col with space" int PRIMARY KEY, "Ünï ""q""" text);
CREATE TABLE bulk (id int PRIMARY KEY, v text);
CREATE TABLE nokey (a int, b text);
CREATE TABLE trunc_me (id int PRIMARY KEY);
CREATE TABLE parted (id int, k int, v text, PRIMARY KEY (id, k)) PARTITION BY RANGE (k);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (100);
};
# the source's second partition; replicas get another one instead, so
# its changes go through the root
my $src_part = q{CREATE TABLE parted_2 PARTITION OF parted FOR VALUES FROM (100) TO (200);};
my $rep_part = q{CREATE TABLE parted_other PARTITION OF parted FOR VALUES FROM (100) TO (200);};
my @tables = ('kinds', 'full_t', 'toasty', '"Weird ""Table"""', 'bulk', 'nokey',
	'trunc_me', 'parted');

my $src = tide_node('src');
my $conn = $src->connstr('postgres');
$src->safe_psql('postgres', $schema . $src_part);

sub replica
{
	my ($name, $sql) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->start;
	$node->safe_psql('postgres', $sql // ($schema . $rep_part));
	return $node;
}

sub table_md5
{
	my ($node, $t) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, '' ORDER BY x::text)), '') FROM $t x");
}

sub all_md5
{
	my ($node) = @_;
	return { map { $_ => table_md5($node, $_) } @tables };
}

sub stream_to
{
	my ($node, $dir) = @_;
	my $end = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
	my ($rc, $out, $err) = tide_run('stream', '-d', $node->connstr('postgres'), '-S', 'tide',
		'-D', $dir, '--bucket', '1s', '--endpos', $end, '-q');
	is($rc, 0, "stream up to $end") or diag($err);
}

sub apply
{
	my ($node, $dir, @extra) = @_;
	return tide_run('apply', '-d', $node->connstr('postgres'), '-D', $dir, @extra);
}

sub xmax
{
	my ($node) = @_;
	return $node->safe_psql('postgres', 'SELECT pg_snapshot_xmax(pg_current_snapshot())');
}

my $dir = seg_dir('segs');
my $start = $src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
my ($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir,
	'--create-slot', '--endpos', $start, '-q');
is($rc, 0, 'slot created') or diag($err);

# ---- workload, part A: every type, hostile values, identity FULL, TOAST
$src->safe_psql('postgres', q{
INSERT INTO kinds VALUES
 (1, 9223372036854775807, 3.14159265358979323846264338327950288, E'quote '' dq " back\\\\slash\ttab\nnewline\rcr ünïcödé ☃',
  '\x00ff5c0a09'::bytea, '{"a": [1, 2.50, {"b": null, "c": "x\\\\y\n"}], "d": true, "e": -1e-20}',
  '2024-02-29 23:59:59.123456+05', true, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '{1,NULL,3}', '{"a b","c,d","\\\\",NULL,"NULL"}', 'happy', -0.1, '1 year 2 mons 3 days 04:05:06.7', '2000-01-01',
  '{"json": [1, 2]}', '(1.5,-2)'),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (3, -1, 'NaN', '', '', '[]', '-infinity', false, '00000000-0000-0000-0000-000000000000',
  '{}', '{}', 'sad', 'Infinity', '-178000000 years', 'infinity', 'null', '(0,0)');
INSERT INTO full_t VALUES (1, 'dup', '{"x":1}'), (1, 'dup', '{"x":1}'), (2, NULL, NULL), (3, 'three', '[1]');
INSERT INTO toasty SELECT 1, string_agg(md5(i::text), '') , 0 FROM generate_series(1, 4000) i;
INSERT INTO "Weird ""Table""" VALUES (1, E'one\\\\two'), (2, 'zwei');
INSERT INTO trunc_me SELECT generate_series(1, 10);
INSERT INTO parted VALUES (1, 5, 'low'), (2, 150, 'high'), (3, 160, 'high2');
INSERT INTO nokey VALUES (1, 'a'), (1, 'a'), (2, NULL);
});
usleep(1_100_000);
$src->safe_psql('postgres', q{
UPDATE kinds SET t = t || E'\n+more', j = j || '{"z": {"deep": [null]}}', arr = arr || 4 WHERE id = 1;
UPDATE kinds SET b = 42, m = 'ok' WHERE id = 2;
UPDATE kinds SET id = 30 WHERE id = 3;
UPDATE full_t SET b = 'one dup changed' WHERE a = 1 AND ctid = (SELECT min(ctid) FROM full_t WHERE a = 1);
UPDATE full_t SET b = 'was null' WHERE a = 2;
DELETE FROM full_t WHERE a = 3;
UPDATE toasty SET n = n + 1;
UPDATE "Weird ""Table""" SET "Ünï ""q""" = 'tab	in it' WHERE "col with space" = 2;
UPDATE parted SET v = 'moved', k = 170 WHERE id = 1;
UPDATE parted SET v = 'still high' WHERE id = 2;
DELETE FROM parted WHERE id = 3;
BEGIN;
INSERT INTO bulk VALUES (-1, 'kept');
SAVEPOINT s;
INSERT INTO bulk VALUES (-2, 'rolled back');
UPDATE kinds SET t = 'rolled back' WHERE id = 1;
ROLLBACK TO SAVEPOINT s;
INSERT INTO bulk VALUES (-3, 'kept too');
COMMIT;
TRUNCATE trunc_me;
INSERT INTO trunc_me VALUES (100);
});
usleep(1_100_000);
# the moment T for --until: everything before it is committed
my $until = $src->safe_psql('postgres', 'SELECT clock_timestamp()');
my $at_until = all_md5($src);
usleep(1_100_000);

# ---- part B: a transaction bigger than --batch, more small ones
$src->safe_psql('postgres', q{
INSERT INTO bulk SELECT i, repeat('v', i % 50) FROM generate_series(1, 30000) i;
});
$src->safe_psql('postgres', q{
UPDATE bulk SET v = 'updated' WHERE id % 7 = 0;
DELETE FROM bulk WHERE id % 11 = 0;
DELETE FROM kinds WHERE id = 30;
UPDATE toasty SET n = n + 1;
INSERT INTO nokey VALUES (3, 'after');
INSERT INTO kinds (id, pt, t) SELECT i, point(i, -i), 'pt' FROM generate_series(100, 120) i;
});
usleep(1_100_000);
$src->safe_psql('postgres', q{
INSERT INTO kinds (id, t) VALUES (4, 'last');
});

stream_to($src, $dir);
my @verbose = seg_lines($dir, '--verbose');
my ($last_end) = (grep { /^COMMIT/ } @verbose)[-1] =~ /end[=:]"?([0-9A-F]+\/[0-9A-F]+)/;
ok($last_end, "last commit ends at $last_end");
my @segfiles = sort glob("$dir/*.tseg*");
cmp_ok(scalar(@segfiles), '>=', 4, scalar(@segfiles) . ' segments');

# ---- apply everything
my $rep = replica('rep');
my $x0 = xmax($rep);
($rc, $out, $err) = apply($rep, $dir, '--batch', '5000');
is($rc, 0, 'apply exits 0') or diag($err);
like($err, qr/transactions applied/, 'summary printed');
note($err);
is_deeply(all_md5($rep), all_md5($src), 'every table equal to the source');
{
	# tide verify agrees with the independent md5s, table by table
	my ($vrc, $vout, $verr) = tide_run('verify', '-s', $conn, '-d', $rep->connstr('postgres'));
	is($vrc, 0, 'tide verify: equal') or diag($vout . $verr);
	like($vout, qr/verify: 8 tables equal, 0 different/, 'tide verify checked every table');
}
is($rep->safe_psql('postgres', 'SELECT end_lsn FROM tide.progress'), $last_end,
	'progress row = end of the last commit');
is($rep->safe_psql('postgres', 'SELECT count(*) FROM tide.progress'), '1', 'one progress row');

# again: nothing to apply, nothing duplicated, no XID spent
my $x1 = xmax($rep);
($rc, $out, $err) = apply($rep, $dir);
is($rc, 0, 'second apply exits 0') or diag($err);
like($err, qr/up to date|0 transactions applied/, 'second apply applies nothing');
is_deeply(all_md5($rep), all_md5($src), 'still equal after a rerun (no duplicates)');
is(xmax($rep), $x1, 'a rerun spends no XID');

# ---- --map and --tables: two tables into another schema
my $rep4 = replica('rep4', "CREATE SCHEMA other; SET search_path = other;\n" . $schema . $rep_part);
# a pattern is schema.table (the decoder's rule): one without a schema
# is refused before anything is applied, rather than selecting nothing
($rc, $out, $err) = apply($rep4, $dir, '--tables', 'public.kinds,bul*');
is($rc, 2, 'apply --tables with a pattern that is not schema.table: exit 2');
like($err, qr/^tide: error: invalid table pattern "bul\*" in --tables$/m, 'the pattern named');
is($rep4->safe_psql('postgres', "SELECT count(*) FROM pg_tables WHERE schemaname = 'tide'"), '0',
	'nothing applied, no progress table made');
($rc, $out, $err) = apply($rep4, $dir, '--map', 'public=other', '--tables', 'public.kinds,public.bul*');
is($rc, 0, 'apply --map --tables exits 0') or diag($err);
is(table_md5($rep4, 'other.kinds'), table_md5($src, 'kinds'), '--map: kinds equal in schema other');
is(table_md5($rep4, 'other.bulk'), table_md5($src, 'bulk'), '--map: bulk equal in schema other');
is(table_md5($rep4, 'other.nokey'), '0:', '--tables: other tables left alone');
is($rep4->safe_psql('postgres', 'SELECT end_lsn FROM tide.progress'), $last_end,
	'--tables: progress at the last commit');

# ---- --until T on a second replica equals the source at T, then the rest
my $rep2 = replica('rep2');
($rc, $out, $err) = apply($rep2, $dir, '--until', $until);
is($rc, 0, 'apply --until exits 0') or diag($err);
like($err, qr/reached --until/, '--until reported');
is_deeply(all_md5($rep2), $at_until, '--until T equals the source at T');
($rc, $out, $err) = apply($rep2, $dir, '--from', '0/1');
is($rc, 2, '--from before the progress is refused');
like($err, qr/already past --from/, '--from refusal message');
($rc, $out, $err) = apply($rep2, $dir);
is($rc, 0, 'continuing after --until exits 0') or diag($err);
is_deeply(all_md5($rep2), all_md5($src), 'then equal to the source');

# ---- group commit: a 2000-transaction backlog costs few replica XIDs
my $script = "$dir/../small.sql";
open my $fh, '>', $script or die;
print $fh q{
\set id random(1, 3000)
BEGIN;
INSERT INTO bulk (id, v) VALUES (:id + 100000, 'x') ON CONFLICT (id) DO UPDATE SET v = bulk.v || 'y';
INSERT INTO nokey VALUES (:id, 'n');
UPDATE kinds SET b = coalesce(b, 0) + 1 WHERE id = 4;
COMMIT;
};
close $fh;
sub pgbench
{
	my ($n, $c) = @_;
	my ($o, $e);
	IPC::Run::run([ 'pgbench', '-n', '-c', $c, '-t', $n, '-f', $script,
		'-h', $src->host, '-p', $src->port, 'postgres' ], '>', \$o, '2>', \$e);
	is($?, 0, "pgbench $c x $n transactions") or diag($e);
}
pgbench(2000, 1);
stream_to($src, $dir);
$x0 = xmax($rep);
($rc, $out, $err) = apply($rep, $dir, '--batch', '10000');
is($rc, 0, 'backlog apply exits 0') or diag($err);
note($err);
my $xids = xmax($rep) - $x0;
cmp_ok($xids, '<=', 20, "2000 source transactions used $xids replica XIDs (<= 1 per 100)");
like($err, qr/2000 transactions applied/, '2000 transactions reported');
is_deeply(all_md5($rep), all_md5($src), 'equal after the backlog');

# ---- kill -9 at random moments during a larger apply
pgbench(10000, 2);
stream_to($src, $dir);
my $final = $src->safe_psql('postgres',
	"SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'tide'");
my ($kills, $midway) = (0, 0);
my $prev = $rep->safe_psql('postgres', 'SELECT end_lsn FROM tide.progress');
for my $cycle (1 .. 10)
{
	my ($h) = tide_start('apply', '-d', $rep->connstr('postgres'), '-D', $dir, '--batch', '100', '-q');
	# killed once it has committed something (its start-up takes longer
	# on a loaded machine than any fixed sleep), at a random moment after
	for (1 .. 400)
	{
		last if $rep->safe_psql('postgres', 'SELECT end_lsn FROM tide.progress') ne $prev;
		usleep(50_000);
	}
	usleep(int(rand(400_000)));
	$h->signal('KILL');
	$h->finish;
	$kills++;
	my $now = $rep->safe_psql('postgres', 'SELECT end_lsn FROM tide.progress');
	$midway++ if $now ne $prev && $rep->safe_psql('postgres', "SELECT '$now'::pg_lsn < '$final'::pg_lsn") eq 't';
	$prev = $now;
}
cmp_ok($midway, '>=', 2, "$midway of $kills kills came in the middle of the backlog");
($rc, $out, $err) = apply($rep, $dir);
is($rc, 0, "apply after $kills kills exits 0") or diag($err);
is_deeply(all_md5($rep), all_md5($src), "equal after $kills kill -9 cycles (no duplicates)");

# ---- errors
# segments of another source
my $src2 = tide_node('src2');
$src2->safe_psql('postgres', 'CREATE TABLE trunc_me (id int PRIMARY KEY)');
my $dir2 = seg_dir('segs2');
($rc) = tide_run('stream', '-d', $src2->connstr('postgres'), '-S', 'tide', '-D', $dir2,
	'--create-slot', '--endpos', $src2->safe_psql('postgres', 'SELECT pg_current_wal_lsn()'), '-q');
$src2->safe_psql('postgres', 'INSERT INTO trunc_me VALUES (7)');
stream_to($src2, $dir2);
my $before = all_md5($rep);
($rc, $out, $err) = apply($rep, $dir2);
is($rc, 5, 'another source: exit 5');
like($err, qr/another source/, 'another source: message');
is_deeply(all_md5($rep), $before, 'another source: nothing applied');

# schema mismatch: nothing applied
(my $bad_schema = $schema . $rep_part) =~ s/b bigint/b integer/;
my $rep3 = replica('rep3', $bad_schema);
($rc, $out, $err) = apply($rep3, $dir);
is($rc, 4, 'type mismatch: exit 4');
like($err, qr/column "b" of table "public.kinds" has type integer on the replica but bigint on the source/,
	'type mismatch: message names table, column and types');
is($rep3->safe_psql('postgres', 'SELECT (SELECT count(*) FROM kinds) + (SELECT count(*) FROM tide.progress)'),
	'0', 'type mismatch: nothing applied');

# missing table
$rep3->safe_psql('postgres', 'ALTER TABLE kinds ALTER b TYPE bigint; DROP TABLE "Weird ""Table"""');
($rc, $out, $err) = apply($rep3, $dir);
is($rc, 4, 'missing table: exit 4');
like($err, qr/table "public.Weird "Table"" does not exist on the replica/, 'missing table: message');

# a gap: a middle segment deleted
$rep3->safe_psql('postgres', q{CREATE TABLE "Weird ""Table""" ("col with space" int PRIMARY KEY, "Ünï ""q""" text)});
my $gapdir = seg_dir('gap');
copy($_, $gapdir) for glob("$dir/*.tseg*");
my @g = sort glob("$gapdir/*.tseg*");
my $progress3 = $rep3->safe_psql('postgres', 'SELECT end_lsn FROM tide.progress');
# delete a segment after the replica's position
my $victim = $progress3 eq '' ? $g[1] : undef;
for my $f (@g[ 1 .. $#g - 1 ])
{
	my ($hex) = $f =~ /_([0-9A-F]{16})\.tseg/;
	my $lsn = sprintf('%X/%X', hex(substr($hex, 0, 8)), hex(substr($hex, 8)));
	last if $victim;
	my $after = $rep3->safe_psql('postgres', "SELECT '$lsn'::pg_lsn > '$progress3'::pg_lsn");
	last if $victim;
	if ($after eq 't') { $victim = $f; last; }
}
ok($victim, 'a segment past the replica to delete');
unlink $victim;
my $counts3 = all_md5($rep3);
($rc, $out, $err) = apply($rep3, $gapdir);
is($rc, 5, 'gap: exit 5');
like($err, qr/segments are missing: the changes from [0-9A-F]+\/[0-9A-F]+ to [0-9A-F]+\/[0-9A-F]+/,
	'gap: message names the missing range');
is_deeply(all_md5($rep3), $counts3, 'gap: nothing applied');
is($rep3->safe_psql('postgres', 'SELECT end_lsn FROM tide.progress'), $progress3, 'gap: progress unchanged');
note("gap: $err");

# identity NOTHING: UPDATE on a table without a key stops with its name
$src->safe_psql('postgres', 'UPDATE nokey SET b = b WHERE a = 2');
stream_to($src, $dir);
($rc, $out, $err) = apply($rep, $dir);
is($rc, 4, 'no replica identity: exit 4');
like($err, qr/cannot apply UPDATE to table "public.nokey": it has no replica identity/, 'no identity: message');

done_testing();
