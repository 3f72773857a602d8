# tests/tap/t/050_apply_conflict.pl - tide apply --on-conflict: a replica
# that already holds some of the inserted keys (loaded from a dump taken
# after the slot) stops the run by default, or keeps or overwrites them.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;

my $src = tide_node('src');
my $conn = $src->connstr('postgres');
my $schema = 'CREATE TABLE t (id int PRIMARY KEY, v text); CREATE TABLE nokey (a int, b text);';
$src->safe_psql('postgres', $schema . "SELECT pg_create_logical_replication_slot('tide', 'tide');");
$src->safe_psql('postgres', "INSERT INTO t SELECT g, 'source ' || g FROM generate_series(1, 10) g");
$src->safe_psql('postgres', "INSERT INTO nokey VALUES (1, 'x')");
my $end = $src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
my $dir = seg_dir('segs');
my ($rc, $o, $e) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir, '--endpos', $end, '-q');
is($rc, 0, 'streamed');

my $rep = PostgreSQL::Test::Cluster->new('rep');
$rep->init;
$rep->start;
$rep->safe_psql('postgres', $schema);
my $rconn = $rep->connstr('postgres');
sub preload
{
	$rep->safe_psql('postgres', q{
DROP SCHEMA IF EXISTS tide CASCADE;
TRUNCATE t, nokey;
INSERT INTO t SELECT g, 'replica ' || g FROM generate_series(5, 7) g;
});
}
my $rows = "SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM t";

preload();
($rc, $o, $e) = tide_run('apply', '-d', $rconn, '-D', $dir);
is($rc, 4, 'default: a key already on the replica stops the run');
like($e, qr/could not (apply INSERT to|copy rows into) table "public\.t"/, 'the message names the table');
like($e, qr/duplicate key/, 'and the reason');
like($e, qr/--on-conflict skip or update/, 'and the way out');
is($rep->safe_psql('postgres', "SELECT count(*) FROM t"), 3, 'nothing of the batch was applied');

preload();
($rc, $o, $e) = tide_run('apply', '-d', $rconn, '-D', $dir, '--on-conflict', 'skip');
is($rc, 0, '--on-conflict skip') or diag($e);
like($e, qr/3 inserts found their key on the replica and were skipped/, 'skips are counted');
is($rep->safe_psql('postgres', $rows),
	join(',', (map { "$_=source $_" } 1 .. 4), (map { "$_=replica $_" } 5 .. 7), (map { "$_=source $_" } 8 .. 10)),
	'skip keeps the replica rows and adds the others');
is($rep->safe_psql('postgres', "SELECT count(*) FROM nokey"), 1, 'a table without key gets its row');

preload();
($rc, $o, $e) = tide_run('apply', '-d', $rconn, '-D', $dir, '--on-conflict', 'update');
is($rc, 0, '--on-conflict update') or diag($e);
is($rep->safe_psql('postgres', $rows), join(',', map { "$_=source $_" } 1 .. 10),
	'update overwrites the replica rows with the source');
($rc, $o, $e) = tide_run('apply', '-d', $rconn, '-D', $dir, '--on-conflict', 'update');
like($e, qr/up to date/, 'a second run applies nothing');

($rc, $o, $e) = tide_run('apply', '-d', $rconn, '-D', $dir, '--on-conflict', 'merge');
is($rc, 2, 'bad --on-conflict: exit code 2');
like($e, qr/invalid --on-conflict "merge"/, 'bad --on-conflict: message');

done_testing();
