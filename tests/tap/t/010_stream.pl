# tests/tap/t/010_stream.pl - tide stream end to end: content, exactly once
# in commit order across kill -9 restarts, and SIGTERM's final feedback.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;
use Time::HiRes qw(usleep);

my $node = tide_node('source');
my $conn = $node->connstr('postgres');
$node->safe_psql('postgres', q{
CREATE TABLE t (id int PRIMARY KEY, v text, n int);
CREATE TABLE side (x int);
SELECT pg_create_logical_replication_slot('td', 'test_decoding');
});
my $dir = seg_dir('segs');

# A slot that does not exist is an error naming it, with the fix.
my ($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir);
is($rc, 3, 'missing slot: exit code 3');
like($err, qr/replication slot "tide" does not exist/, 'missing slot: message');
like($err, qr/--create-slot/, 'missing slot: hint');

# --create-slot creates it; already at --endpos, the run ends at once.
my $start = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir,
	'--create-slot', '--endpos', $start);
is($rc, 0, 'create-slot run at its end position exits 0') or diag($err);
like($err, qr/created replication slot "tide"/, 'slot created');
is($node->safe_psql('postgres', "SELECT plugin FROM pg_replication_slots WHERE slot_name = 'tide'"),
	'tide', 'the slot uses the tide plugin');

# A write-heavy workload with savepoints, rollbacks and concurrent clients.
my $script = "$dir/../workload.sql";
open my $fh, '>', $script or die;
print $fh q{
\set id random(1, 2000)
BEGIN;
INSERT INTO t (id, v, n) VALUES (:id, md5(:id::text), 1)
  ON CONFLICT (id) DO UPDATE SET n = t.n + 1, v = md5(t.v);
SAVEPOINT a;
INSERT INTO side VALUES (:id);
ROLLBACK TO SAVEPOINT a;
DELETE FROM t WHERE id = :id + 7;
COMMIT;
};
close $fh;
my $pgbench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '3', '-T', '12', '-f', $script,
	  '-h', $node->host, '-p', $node->port, 'postgres' ],
	'>', \my $pb_out, '2>', \my $pb_err);

# kill -9 the streamer at random moments while the workload runs
my @args = ('stream', '-d', $conn, '-S', 'tide', '-D', $dir,
	'--bucket', '2s', '--flush-interval', '200ms', '-q');
my $kills = 0;
for my $cycle (1 .. 12)
{
	my ($h) = tide_start(@args);
	usleep(200_000 + int(rand(700_000)));
	$h->signal('KILL');
	$h->finish;
	$kills++;
}
$pgbench->finish;
is($?, 0, 'workload ran') or diag($pb_err);
cmp_ok($kills, '>=', 12, "streamer killed $kills times");

# SIGTERM: whole transactions flushed, final feedback sent.
my ($h, $sout, $serr) = tide_start(@args[0 .. $#args - 1]);
# (without -q: its log is shown if it fails)
usleep(1_500_000);
$h->signal('TERM');
$h->finish;
is($h->result(0), 0, 'SIGTERM: clean exit') or diag($$serr);
my @ls = split /\n/, (tide_run('ls', '--json', $dir))[1];
my ($covered) = $ls[-1] =~ /"covered_lsn":"([^"]+)"/;
my $confirmed = $node->safe_psql('postgres',
	"SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'tide'");
is($confirmed, $covered, "SIGTERM: the slot confirmed exactly the durable end ($covered)");

# Finish the backlog with --endpos and compare with test_decoding.
my $end = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir, '--endpos', $end, '-q');
is($rc, 0, 'endpos run exits 0') or diag($err);

my @tide = normalize_tide(seg_lines($dir));
my @td = normalize_td(td_lines($node, 'td'));
my $ntx = grep { $_ eq 'COMMIT' } @td;
cmp_ok($ntx, '>', 500, "workload committed $ntx transactions");
is(scalar(@tide), scalar(@td), 'same number of changes and transactions as test_decoding');
is_deeply(\@tide, \@td, 'every transaction exactly once, in commit order, same content');

# The segments form one unbroken LSN history, and none is damaged.
($rc, $out) = tide_run('ls', '--json', $dir);
is($rc, 0, 'tide ls finds no damage');
my $prev;
my $gaps = 0;
for my $l (split /\n/, $out)
{
	my ($start) = $l =~ /"segment":"[^_]+_([0-9A-F]{16})/;
	my ($cov) = $l =~ /"covered_lsn":"([^"]+)"/;
	my ($hi, $lo) = split m{/}, $cov;
	my $covhex = sprintf('%08X%08X', hex($hi), hex($lo));
	$gaps++ if defined $prev && $prev ne $start;
	$prev = $covhex;
}
is($gaps, 0, 'each segment starts where the previous one is complete');

# A commit is made durable and confirmed --flush-delay after it arrives
# (group commit), not at the next --flush-interval: with an interval of an
# hour, the slot still confirms it and the open segment holds it.
{
	my ($fh, $fout, $ferr) = tide_start('stream', '-d', $conn, '-S', 'tide', '-D', $dir,
		'--bucket', '2s', '--flush-interval', '1h', '--flush-delay', '50ms');
	# (only the stream's feedback moves the slot: past $before means the commit)
	my $before = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
	$node->safe_psql('postgres', "INSERT INTO t (id, v, n) VALUES (-1, 'prompt', 1)");
	ok($node->poll_query_until('postgres',
			"SELECT confirmed_flush_lsn > '$before' FROM pg_replication_slots WHERE slot_name = 'tide'"),
		'a commit is confirmed without waiting for --flush-interval')
	  or diag($$ferr);
	my @lines = seg_lines($dir);
	ok((grep { /prompt/ } @lines), 'the open segment holds it');
	$fh->signal('TERM');
	$fh->finish;
	is($fh->result(0), 0, 'and stops cleanly') or diag($$ferr);
}

done_testing();
