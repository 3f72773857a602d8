# tests/tap/t/016_slot_history.pl - a history is never continued from a
# slot or a timeline that is not its own: a dropped slot (between runs or
# while the streamer waits to reconnect) and a failover to a promoted
# standby are gap errors (exit 5) naming both positions and the fix, never a
# silent restart past a hole (finding 17 of issue 8).
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
$node->safe_psql('postgres', 'CREATE TABLE t (id int PRIMARY KEY)');
sub lsn { $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()') }
sub slots { $node->safe_psql('postgres', "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'tide'") }

# ---- the slot dropped between two runs
my $dir = seg_dir('dropped');
my @cmd = ('stream', '-d', $conn, '-S', 'tide', '-D', $dir, '--create-slot', '--bucket', '1h');
my ($rc, $out, $err) = tide_run(@cmd, '--endpos', lsn());
is($rc, 0, 'a new history: the slot is created') or diag($err);
$node->safe_psql('postgres', 'INSERT INTO t SELECT generate_series(1, 10)');
($rc, $out, $err) = tide_run(@cmd, '--endpos', lsn());
is($rc, 0, 'rows 1-10 streamed') or diag($err);
my $covered = $node->safe_psql('postgres', "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'tide'");
$node->safe_psql('postgres', "SELECT pg_drop_replication_slot('tide')");
$node->safe_psql('postgres', 'INSERT INTO t SELECT generate_series(11, 20)');
($rc, $out, $err) = tide_run(@cmd, '--endpos', lsn());
is($rc, 5, 'slot gone, history present: exit 5');
like($err, qr/replication slot "tide" does not exist, but segment directory ".*" holds its history up to \Q$covered\E/,
	'names the slot, the directory and where its history ends');
like($err, qr/hint: start a new segment directory from a new base/, 'and the fix');
is(slots(), 0, '--create-slot did not create a slot over the hole');
$node->safe_psql('postgres', 'INSERT INTO t SELECT generate_series(21, 30)');
($rc, $out, $err) = tide_run(@cmd, '--endpos', lsn());
is($rc, 5, 'and again later: exit 5');
($rc, $out, $err) = tide_run(grep { $_ ne '--create-slot' } @cmd, '--endpos', lsn());
is($rc, 5, 'without --create-slot: exit 5 too');
my @ins = grep { /^INSERT/ } seg_lines($dir);
is(scalar(@ins), 10, 'the directory still holds rows 1-10 and nothing after the hole');

# ---- the slot dropped while the streamer waits to reconnect
$dir = seg_dir('reconnect');
@cmd = ('stream', '-d', $conn, '-S', 'tide2', '-D', $dir, '--create-slot', '--bucket', '1h',
	'--flush-interval', '100ms');
my ($h, $o, $e) = tide_start(@cmd);
$node->poll_query_until('postgres',
	"SELECT active FROM pg_replication_slots WHERE slot_name = 'tide2'") or die 'no stream';
$node->safe_psql('postgres', 'INSERT INTO t SELECT generate_series(31, 40)');
$node->poll_query_until('postgres',
	"SELECT confirmed_flush_lsn >= '" . lsn() . "' FROM pg_replication_slots WHERE slot_name = 'tide2'")
  or die 'not confirmed';
# terminate the walsender and drop the slot inside the reconnect backoff
$node->safe_psql('postgres', q{
SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'tide2';
DO $$
BEGIN
  FOR i IN 1..500 LOOP
    BEGIN
      PERFORM pg_drop_replication_slot('tide2');
      RETURN;
    EXCEPTION WHEN object_in_use THEN
      PERFORM pg_sleep(0.005);
    END;
  END LOOP;
  RAISE 'slot stayed active';
END $$;
});
$node->safe_psql('postgres', 'INSERT INTO t SELECT generate_series(41, 50)');
# it must stop by itself; a stream that re-created the slot runs on
my $deadline = time + 30;
while ($h->pumpable && time < $deadline)
{
	$h->pump_nb;
	usleep(100_000);
}
$h->kill_kill if $h->pumpable;
$h->finish;
is($h->result(0), 5, 'slot dropped during the reconnect wait: the stream stops with exit 5');
like($$e, qr/replication slot "tide2" does not exist, but segment directory/, '... saying why');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'tide2'"),
	0, 'and no slot was created over the hole');

# ---- failover: a promoted standby is another timeline
$dir = seg_dir('failover');
$node->safe_psql('postgres', "SELECT pg_create_logical_replication_slot('tide3', 'tide')");
@cmd = ('stream', '-S', 'tide3', '-D', $dir, '--bucket', '1h');
($rc, $out, $err) = tide_run(@cmd, '-d', $conn, '--endpos', lsn());
is($rc, 0, 'streamed from the primary') or diag($err);
$node->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'b', has_streaming => 1);
$standby->start;
$node->safe_psql('postgres', 'INSERT INTO t SELECT generate_series(51, 60)');
$node->wait_for_catchup('standby', 'replay', lsn());
($rc, $out, $err) = tide_run(@cmd, '-d', $conn, '--endpos', lsn());
is($rc, 0, 'rows 51-60 streamed from the primary') or diag($err);
$standby->promote;
$standby->safe_psql('postgres', "SELECT pg_create_logical_replication_slot('tide3', 'tide')");
$standby->safe_psql('postgres', 'INSERT INTO t SELECT generate_series(61, 70)');
($rc, $out, $err) = tide_run(@cmd, '-d', $standby->connstr('postgres'),
	'--endpos', $standby->safe_psql('postgres', 'SELECT pg_current_wal_lsn()'));
is($rc, 5, 'the promoted standby (a new timeline, a new slot): exit 5');
like($err, qr/the source is on timeline 2, but segment directory ".*" was written on timeline 1/,
	'names both timelines');

done_testing();
