# tests/tap/t/130_stream_spool.pl - transactions streamed while in progress
# (logical_decoding_work_mem is 64kB on test nodes): committed, rolled back,
# with rolled-back subtransactions, interleaved with each other and with
# small ones; kill -9 of the streamer while a transaction is spooled and
# while one is written into the segment, and the walsender terminated while
# one is open.  Every case is compared with a test_decoding slot (exactly
# once, in commit order) and applied equal on a replica; the uninterrupted
# part must also come out exactly as without streaming (tide inspect
# --verbose of both, message for message).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;
use Time::HiRes qw(usleep);

my $schema = q{
CREATE TABLE t (id int PRIMARY KEY, v text, n int);
CREATE TABLE side (id int PRIMARY KEY, note text);
};
my $node = tide_node('source');
my $rep = PostgreSQL::Test::Cluster->new('replica');
$rep->init;
$rep->start;
$node->safe_psql('postgres', $schema);
$rep->safe_psql('postgres', $schema);
$node->safe_psql('postgres', q{
SELECT pg_create_logical_replication_slot('td', 'test_decoding');
SELECT pg_create_logical_replication_slot('tide', 'tide');
SELECT pg_copy_logical_replication_slot('tide', 'plain');
});
my $conn = $node->connstr('postgres');
my $dir = seg_dir('segs');
my @stream = ('stream', '-d', $conn, '-S', 'tide', '-D', $dir, '--flush-interval', '100ms');

sub lsn { $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()') }

sub confirmed
{
	return $node->safe_psql('postgres',
		"SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'tide'");
}

sub wait_confirmed
{
	my ($target, $what) = @_;
	ok($node->poll_query_until('postgres',
			"SELECT confirmed_flush_lsn >= '$target' FROM pg_replication_slots WHERE slot_name = 'tide'"),
		"$what: confirmed up to $target");
}

sub spool_files { return glob("$dir/.spool/*.spool") }

# log_like H ERR RE NAME - the background streamer logs RE (its output is
# collected as the harness is pumped)
sub log_like
{
	my ($h, $err, $re, $name) = @_;
	for (1 .. 100)
	{
		last if $$err =~ $re;
		$h->pump_nb;
		usleep(50_000);
	}
	like($$err, $re, $name);
}

# everything in the segments, once, in commit order, as test_decoding saw
# it; and a replica that applies them equals the source
sub check_all
{
	my ($what) = @_;
	my @tide = normalize_tide(seg_lines($dir));
	my @td = normalize_td(td_lines_peek());
	is(scalar(@tide), scalar(@td), "$what: as many changes and transactions as test_decoding");
	is_deeply(\@tide, \@td, "$what: every transaction once, in commit order, same content");
	my ($rc, $out, $err) = tide_run('apply', '-d', $rep->connstr('postgres'), '-D', $dir, '-q');
	is($rc, 0, "$what: tide apply") or diag($err);
	for my $tab (qw(t side))
	{
		my $q = "SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY id), '')) FROM $tab x";
		is($rep->safe_psql('postgres', $q), $node->safe_psql('postgres', $q),
			"$what: replica's $tab equals the source's");
	}
}

# test_decoding's view, left in its slot for the next comparison
sub td_lines_peek
{
	my $out = $node->safe_psql('postgres',
		"SELECT data FROM pg_logical_slot_peek_changes('td', NULL, NULL, 'include-xids', '0', 'skip-empty-xacts', '1')");
	return split /\n/, $out;
}

# ---- 1. streamed transactions of every shape, with the streamer following
my ($h, $sout, $serr) = tide_start(@stream);

# a large one committed, a large one rolled back, small ones between
$node->safe_psql('postgres', "INSERT INTO t SELECT g, md5(g::text), 0 FROM generate_series(1, 5000) g");
$node->safe_psql('postgres', "INSERT INTO side VALUES (1, 'small')");
$node->safe_psql('postgres', q{
BEGIN;
INSERT INTO t SELECT g, 'rolled back', 0 FROM generate_series(100001, 104000) g;
ROLLBACK;
});
# subtransactions: rolled back, nested, released; a message that is the
# first thing a subtransaction does (kept, though it may come after the
# first change of the rolled-back one that follows it); UPDATE, DELETE
$node->safe_psql('postgres', q{
BEGIN;
INSERT INTO t SELECT g, 'top', 1 FROM generate_series(5001, 6000) g;
SAVEPOINT a;
INSERT INTO t SELECT g, 'in a', 1 FROM generate_series(6001, 7000) g;
SAVEPOINT b;
INSERT INTO t SELECT g, 'in b, rolled back', 1 FROM generate_series(7001, 8500) g;
ROLLBACK TO b;
RELEASE a;
SAVEPOINT c;
SELECT pg_logical_emit_message(true, 'spool', 'first thing c does');
SAVEPOINT d;
INSERT INTO t SELECT g, 'in d, rolled back', 1 FROM generate_series(8501, 9500) g;
ROLLBACK TO d;
INSERT INTO side SELECT g, 'in c' FROM generate_series(2, 1500) g;
RELEASE c;
UPDATE t SET n = n + 10 WHERE id <= 2000;
DELETE FROM t WHERE id BETWEEN 2001 AND 2500;
COMMIT;
});
# an exception block per row: subtransactions by the hundred, a third undone
$node->safe_psql('postgres', q{
DO $$
BEGIN
	FOR i IN 10001 .. 12000 LOOP
		BEGIN
			INSERT INTO t VALUES (i, 'loop', i);
			IF i % 3 = 0 THEN
				RAISE EXCEPTION 'undo %', i;
			END IF;
		EXCEPTION WHEN raise_exception THEN
			NULL;
		END;
	END LOOP;
END $$;
});

# committed, but every change it made undone with its subtransaction (a
# message too): a transaction without changes, in no segment, streamed or
# not (the randomized harness found it written as an empty BEGIN ... COMMIT:
# seed 286435485)
$node->safe_psql('postgres', q{
BEGIN;
SAVEPOINT all_undone;
INSERT INTO t SELECT g, 'undone, then committed', 4 FROM generate_series(40001, 44000) g;
SELECT pg_logical_emit_message(true, 'spool', 'undone too');
ROLLBACK TO all_undone;
COMMIT;
});

# two large ones at once, interleaved with each other and with small ones;
# the one that began first commits last
my $s1 = $node->background_psql('postgres');
my $s2 = $node->background_psql('postgres');
$s1->query_safe("BEGIN; INSERT INTO t SELECT g, 'one', 2 FROM generate_series(20001, 23000) g;");
$s2->query_safe("BEGIN; INSERT INTO t SELECT g, 'two', 3 FROM generate_series(30001, 33000) g;");
$node->safe_psql('postgres', "INSERT INTO side VALUES (-1, 'between')");
$s1->query_safe("INSERT INTO t SELECT g, 'one again', 2 FROM generate_series(23001, 25000) g;");
$s2->query_safe("SAVEPOINT s; UPDATE t SET v = 'two, undone' WHERE id BETWEEN 30001 AND 31000; ROLLBACK TO s;");
$node->safe_psql('postgres', "INSERT INTO side VALUES (-2, 'between')");
$s2->query_safe("UPDATE t SET v = 'two, kept' WHERE id BETWEEN 31001 AND 32000; COMMIT;");
$node->safe_psql('postgres', "INSERT INTO side VALUES (-3, 'between')");
$s1->query_safe("COMMIT;");
my $end1 = lsn();
wait_confirmed($end1, 'streamed transactions');
ok(!spool_files(), 'nothing is left in the spool once they ended');
my $stats = $node->safe_psql('postgres',
	"SELECT spill_bytes, stream_txns > 0, stream_bytes > 0 FROM pg_stat_replication_slots WHERE slot_name = 'tide'");
is($stats, '0|t|t', 'the source streamed them and spilled nothing to its disk');
check_all('streamed');

# the same WAL without streaming: the same segment, message for message
{
	my $plain = seg_dir('plain');
	my ($rc, $o, $e) = tide_run('stream', '-d', $conn, '-S', 'plain', '-D', $plain,
		'--no-streaming', '--endpos', $end1);
	is($rc, 0, '--no-streaming run') or diag($e);
	unlike($e, qr/streamed while in progress/, '--no-streaming does not ask for it');
	my @a = grep { !/^SEGMENT/ } seg_lines($dir, '--verbose');
	my @b = grep { !/^SEGMENT/ } seg_lines($plain, '--verbose');
	is(scalar(@a), scalar(@b), 'streamed and spilled: same number of messages');
	is_deeply(\@a, \@b, 'streamed and spilled: the same messages, RELATIONs, LSNs and times');
	log_like($h, $serr, qr/streamed transaction \d+ \(commit [0-9A-F\/]+\): \d+ changes in \d+ chunks, [0-9.]+ [kMG]?B/,
		'a streamed commit is logged with its spool size');
	my $spilled = $node->safe_psql('postgres',
		"SELECT spill_bytes > 0 FROM pg_stat_replication_slots WHERE slot_name = 'plain'");
	is($spilled, 't', 'without streaming, the source spilled');
}

# ---- 2. while a large transaction is open: the slot moves past its start
# as small ones commit; kill -9 with its chunks spooled, then a restart
# discards them and the server streams it again from its start
my $before_open = lsn();
$s1->query_safe("BEGIN; INSERT INTO t SELECT g, 'open', 4 FROM generate_series(40001, 43000) g;");
ok(wait_for_file("$dir/.spool/*.spool"), 'its chunks are spooled');
$node->safe_psql('postgres', "INSERT INTO side VALUES (-4, 'while it is open')");
my $small = lsn();
wait_confirmed($small, 'a small transaction committed while a large one is open');
ok($node->safe_psql('postgres', "SELECT '" . confirmed() . "'::pg_lsn > '$before_open'") eq 't',
	'the slot is confirmed past the open transaction\'s first change');
$h->signal('KILL');
$h->finish;
ok(spool_files(), 'kill -9 leaves its spool file');
$s1->query_safe("INSERT INTO t SELECT g, 'open, more', 4 FROM generate_series(43001, 44000) g; COMMIT;");
($h, $sout, $serr) = tide_start(@stream);
my $end2 = lsn();
wait_confirmed($end2, 'after kill -9 mid-spool');
log_like($h, $serr, qr/discarded 1 spool files .* the server streams them again/, 'the restart discards the leftover spool');
check_all('kill -9 mid-spool');

# ---- 3. the walsender terminated while a transaction is open
$s2->query_safe("BEGIN; INSERT INTO t SELECT g, 'reconnect', 5 FROM generate_series(50001, 53000) g;");
ok(wait_for_file("$dir/.spool/*.spool"), 'spooled before the reconnect');
$node->safe_psql('postgres',
	"SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'tide'");
$s2->query_safe("SAVEPOINT x; INSERT INTO t SELECT g, 'x', 5 FROM generate_series(53001, 54000) g; ROLLBACK TO x;");
$s2->query_safe("INSERT INTO t SELECT g, 'reconnect, more', 5 FROM generate_series(54001, 55000) g; COMMIT;");
my $end3 = lsn();
for (1 .. 300)
{
	$h->pump_nb;
	last if $$serr =~ /streaming from slot "tide" .*\n(.*\n)*.*lost the replication connection(.*\n)*.*streaming from slot/;
	usleep(100_000);
}
like($$serr, qr/lost the replication connection/, 'the reconnect happened');
wait_confirmed($end3, 'after the reconnect');
check_all('walsender terminated mid-transaction');
$h->signal('TERM');
$h->finish;
is($h->result(0), 0, 'SIGTERM: clean exit') or diag($$serr);
ok(!spool_files(), 'a clean exit leaves no spool file');

# ---- 4. kill -9 while a streamed transaction is written into the segment:
# at compression level 19 its blocks take seconds to compress and write;
# kill once the first of them is in the segment, before its COMMIT is
# durable (the spool file is gone by then: it was read back whole)
($h, $sout, $serr) = tide_start(@stream, '--compress-level', '19');
my ($partial) = wait_for_file("$dir/*.tseg.partial");
my $size0 = -s $partial;
$node->safe_psql('postgres',
	"INSERT INTO t SELECT g, repeat(md5(g::text), 3), 6 FROM generate_series(60001, 100000) g");
my $end4 = lsn();
my $killed = 0;
for (1 .. 1200)
{
	$h->pump_nb;
	if (-s $partial > $size0 + 1000)
	{
		$h->signal('KILL');
		$killed = $node->safe_psql('postgres', "SELECT '" . confirmed() . "'::pg_lsn < '$end4'") eq 't';
		last;
	}
	usleep(50_000);
}
$h->signal('KILL');
$h->finish;
ok($killed, 'killed with part of the transaction in the segment and none of it acknowledged')
  or diag($$serr);
($h, $sout, $serr) = tide_start(@stream);
wait_confirmed($end4, 'after kill -9 mid-commit');
log_like($h, $serr, qr/cutting the torn tail/, 'the restart cuts the part written');
check_all('kill -9 mid-commit');
$h->signal('TERM');
$h->finish;

$s1->quit;
$s2->quit;
done_testing();
