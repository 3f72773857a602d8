# tests/tap/t/012_positions.pl - the duplicate rule at equal LSNs: a
# non-transactional logical message is stamped with the END of its WAL
# record, and the record after it -- often the COMMIT of the transaction
# that emitted it -- starts exactly there.  Neither the streamer's
# duplicate check nor the position it confirms may step over that record
# (FORMAT.md, "Positions and duplicates"; finding 1 of issue 8).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;

my $node = tide_node('source');
my $conn = $node->connstr('postgres');
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_walinspect;
CREATE TABLE t (id int PRIMARY KEY, v text);
});

sub lsn { $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()') }

sub stream_to
{
	my ($dir, $end, @extra) = @_;
	my ($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir,
		'--bucket', '1h', '--endpos', $end, @extra);
	is($rc, 0, "stream to $end") or diag($err);
	return $err;
}

# the WAL record that starts at $at: "Transaction/COMMIT" etc.
sub record_at
{
	my ($from, $at) = @_;
	# a message alone is not flushed at once: wait for the WAL writer
	$node->poll_query_until('postgres',
		"SELECT pg_current_wal_flush_lsn() > '$at'") or die "WAL not flushed past $at";
	return $node->safe_psql('postgres',
		"SELECT resource_manager || '/' || split_part(record_type, ' ', 1) FROM pg_get_wal_records_info_till_end_of_wal('$from') WHERE start_lsn = '$at'");
}

my @lines;

# ---- a COMMIT that starts where a non-transactional message ends
{
	my $dir = seg_dir('same_lsn');
	stream_to($dir, lsn(), '--create-slot');
	my $from = lsn();
	$node->safe_psql('postgres', "INSERT INTO t VALUES (100, 'x')");
	my $m = $node->safe_psql('postgres', q{
BEGIN;
INSERT INTO t VALUES (101, 'x');
SELECT pg_logical_emit_message(false, 'a', 'm');
COMMIT;
});
	$node->safe_psql('postgres', "INSERT INTO t VALUES (102, 'x')");
	is(record_at($from, $m), 'Transaction/COMMIT',
		'the shape: the COMMIT record starts at the LSN the message is stamped with');
	stream_to($dir, lsn());
	@lines = grep { /^(INSERT|MESSAGE)/ } seg_lines($dir);
	is_deeply(\@lines, [
		"INSERT public.t: id[integer]:100 v[text]:'x'",
		"MESSAGE transactional=false prefix='a' content='m'",
		"INSERT public.t: id[integer]:101 v[text]:'x'",
		"INSERT public.t: id[integer]:102 v[text]:'x'",
	], 'the transaction committed at the message\'s LSN is in the segments');

	# and across a restart: stop with the message taken and its
	# transaction not, so the confirmed position sits right there
	my $from2 = lsn();
	my $m2 = $node->safe_psql('postgres', q{
BEGIN;
INSERT INTO t VALUES (103, 'y');
SELECT pg_logical_emit_message(false, 'a', 'm2');
COMMIT;
});
	is(record_at($from2, $m2), 'Transaction/COMMIT', 'same shape again');
	my ($hi, $lo) = split m{/}, $m2;
	my $before = sprintf('%X/%X', hex($hi), hex($lo) - 1);
	stream_to($dir, $before);
	stream_to($dir, lsn());
	@lines = grep { /^(INSERT|MESSAGE)/ } seg_lines($dir);
	is_deeply([ @lines[4 .. $#lines] ], [
		"MESSAGE transactional=false prefix='a' content='m2'",
		"INSERT public.t: id[integer]:103 v[text]:'y'",
	], 'a restart just before the message loses neither it nor the transaction after it');
	$node->safe_psql('postgres', "SELECT pg_drop_replication_slot('tide')");
}

# ---- three messages back to back, the stream stopped after the first:
# the second starts exactly where the first ends
{
	my $dir = seg_dir('three');
	stream_to($dir, lsn(), '--create-slot');
	my $from = lsn();
	my $e1 = $node->safe_psql('postgres', "SELECT pg_logical_emit_message(false, 'b', '1')");
	my $e2 = $node->safe_psql('postgres', "SELECT pg_logical_emit_message(false, 'b', '2')");
	my $e3 = $node->safe_psql('postgres', "SELECT pg_logical_emit_message(false, 'b', '3')");
	is(record_at($from, $e1), 'LogicalMessage/MESSAGE', 'message 2 starts where message 1 ends');
	stream_to($dir, $e1);
	is($node->safe_psql('postgres', "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'tide'"),
		$e1, 'the slot is confirmed at the end of message 1, not past it');
	stream_to($dir, $e3);
	@lines = grep { /^MESSAGE/ } seg_lines($dir);
	is_deeply(\@lines, [
		"MESSAGE transactional=false prefix='b' content='1'",
		"MESSAGE transactional=false prefix='b' content='2'",
		"MESSAGE transactional=false prefix='b' content='3'",
	], 'every message arrives exactly once across the restart');

	# resent after a reconnect: a second run from the same slot position
	# (the slot rewound by a crash before its confirmation) skips them
	stream_to($dir, $e3);
	@lines = grep { /^MESSAGE/ } seg_lines($dir);
	is(scalar(@lines), 3, 'a run over the same positions adds nothing');
}

done_testing();
