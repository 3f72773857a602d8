# tests/tap/t/020_stream_faults.pl - tide stream under damage and faults:
# torn .partial tails at many offsets, bit flips in closed segments, idle
# bucket rotation, retention, a transaction larger than a block, the
# walsender terminated mid-stream, and the error cases.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use File::Copy;
use File::Path qw(rmtree);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;
use Time::HiRes qw(usleep);

my $node = tide_node('faults');
my $conn = $node->connstr('postgres');
$node->safe_psql('postgres', q{
CREATE TABLE t (id int PRIMARY KEY, v text, n int);
SELECT pg_create_logical_replication_slot('tide', 'tide');
SELECT pg_copy_logical_replication_slot('tide', 'tide_origin');
SELECT pg_create_logical_replication_slot('td', 'test_decoding');
});

# history: small transactions around one larger than a block (1 MiB raw)
$node->safe_psql('postgres', q{
INSERT INTO t SELECT g, 'small ' || g, 0 FROM generate_series(1, 50) g;
UPDATE t SET n = n + 1 WHERE id <= 10;
INSERT INTO t SELECT g, repeat(md5(g::text), 4), 1 FROM generate_series(1001, 31000) g;
DELETE FROM t WHERE id BETWEEN 20 AND 30;
INSERT INTO t SELECT g, 'tail ' || g, 2 FROM generate_series(51, 80) g;
});
my $end = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
my @expected = normalize_td(td_lines($node, 'td'));
is(scalar(grep { $_ eq 'COMMIT' } @expected), 5, 'reference: 5 transactions');

my $ref = seg_dir('ref');
my ($h, $out, $err) = tide_start('stream', '-d', $conn, '-S', 'tide', '-D', $ref, '--flush-interval', '100ms');
# wait until everything is durable, then stop: the segment stays open
for (1 .. 100)
{
	last if $node->safe_psql('postgres',
		"SELECT confirmed_flush_lsn >= '$end' FROM pg_replication_slots WHERE slot_name = 'tide'") eq 't';
	usleep(100_000);
}
$h->signal('TERM');
$h->finish;
my ($partial) = glob("$ref/*.tseg.partial");
ok(defined $partial, 'SIGTERM leaves the open segment as .partial');
is_deeply([ normalize_tide(seg_lines($ref)) ], \@expected, 'reference stream matches test_decoding');
my ($rc, $ls) = tide_run('ls', $ref);
like($ls, qr/open\s+\S+\s+\S+\s+5\s+30101\s/, 'tide ls: 5 transactions, 30101 changes');

# --- torn tails: cut the .partial anywhere, restart from the original slot
# position: the tail is cut back to the last whole transaction and the
# server's resend fills in, with nothing twice.
my $size = -s $partial;
my $header_end = do {
	open my $fh, '<', $partial or die;
	binmode $fh;
	read($fh, my $head, 24);
	8 + 32 + unpack('V', substr($head, 16, 4));
};
my @cuts = (0, 8, 39, $header_end - 1, $header_end, $header_end + 1, $size - 1, $size - 16);
push @cuts, 1 + int(rand($size - 1)) for 1 .. 10;
my $trial = 0;
for my $cut (@cuts)
{
	$trial++;
	my $d = seg_dir("torn$trial");
	my ($name) = $partial =~ m{([^/]+)$};
	copy($partial, "$d/$name") or die;
	truncate("$d/$name", $cut) or die;
	$node->safe_psql('postgres', q{
SELECT pg_drop_replication_slot('tide');
SELECT pg_copy_logical_replication_slot('tide_origin', 'tide');
});
	my ($rc, $o, $e) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $d, '--endpos', $end);
	is($rc, 0, "cut at $cut of $size: restart succeeds") or diag($e);
	if ($cut < $header_end)
	{
		# a segment being created when the streamer died holds nothing
		like($e, qr/set aside .* its header is incomplete/, "cut at $cut: the torn new segment is set aside");
	}
	elsif ($cut > $header_end && $cut < $size)
	{
		like($e, qr/cutting the torn tail/, "cut at $cut: the repair is logged");
	}
	is_deeply([ normalize_tide(seg_lines($d)) ], \@expected,
		"cut at $cut: each transaction exactly once afterwards");
}

# the slot is ahead of a damaged directory: that is a gap, refused
{
	my $d = seg_dir('gap');
	my ($name) = $partial =~ m{([^/]+)$};
	copy($partial, "$d/$name") or die;
	truncate("$d/$name", int($size / 2)) or die;
	my ($rc, $o, $e) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $d);
	is($rc, 5, 'slot past the directory end: exit code 5');
	like($e, qr/has confirmed .* past the end of segment directory/, 'gap: message');
	like($e, qr/restore the missing segments/, 'gap: hint');
}

# --- the disk refuses a write (file size limit, like a full disk): the
# streamer stops with exit code 6, acknowledges nothing it did not fsync,
# and a later run completes the history exactly once
{
	my $d = seg_dir('full');
	$node->safe_psql('postgres', q{
SELECT pg_drop_replication_slot('tide');
SELECT pg_copy_logical_replication_slot('tide_origin', 'tide');
});
	my ($o, $e) = ('', '');
	IPC::Run::run([ 'bash', '-c', 'ulimit -f 300; trap "" XFSZ; exec "$0" "$@"',
		$TideTest::TIDE, 'stream', '-d', $conn, '-S', 'tide', '-D', $d, '--endpos', $end ],
		'<', \undef, '>', \$o, '2>', \$e);
	is($? >> 8, 6, 'write failure: exit code 6');
	# (the 30000-row transaction is streamed: its spool file meets the limit first)
	like($e, qr/could not write (segment|spool file) ".*": File too large/, 'write failure: message names the file');
	my ($lrc, $lout) = tide_run('ls', '--json', $d);
	my ($cov) = $lout =~ /"covered_lsn":"([^"]+)"/;
	my $confirmed = $node->safe_psql('postgres',
		"SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'tide'");
	ok($node->safe_psql('postgres', "SELECT '$confirmed'::pg_lsn <= '$cov'::pg_lsn") eq 't',
		"write failure: the slot ($confirmed) is not past what is durable ($cov)");
	my ($rc) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $d, '--endpos', $end);
	is($rc, 0, 'after the write failure, a new run completes');
	is_deeply([ normalize_tide(seg_lines($d)) ], \@expected, 'write failure: nothing lost or doubled');
}

# --- a bit flip in a closed segment is reported with file and offset
{
	my $d = seg_dir('flip');
	$node->safe_psql('postgres', q{
SELECT pg_drop_replication_slot('tide');
SELECT pg_copy_logical_replication_slot('tide_origin', 'tide');
});
	my ($rc) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $d, '--endpos', $end);
	my ($closed) = glob("$d/*.tseg");
	ok(defined $closed, '--endpos closes the segment');
	my $csize = -s $closed;
	open my $fh, '+<', $closed or die;
	binmode $fh;
	my $at = int($csize / 2);
	seek($fh, $at, 0);
	read($fh, my $byte, 1);
	seek($fh, $at, 0);
	print $fh chr(ord($byte) ^ 0x20);
	close $fh;
	my ($lrc, $lout, $lerr) = tide_run('ls', $d);
	is($lrc, 5, 'tide ls: exit code 5 on a damaged segment');
	like($lerr, qr/segment "\Q$closed\E" is damaged at byte offset (\d+): the block's bytes changed/,
		'tide ls names file and offset');
	my ($off) = $lerr =~ /byte offset (\d+)/;
	cmp_ok($off, '<=', $at, 'the damaged block starts at or before the flipped byte');
	my ($irc, $iout, $ierr) = tide_run('inspect', $closed);
	is($irc, 5, 'tide inspect: exit code 5');
	like($ierr, qr/damaged at byte offset $off/, 'tide inspect names the same offset');
}

# --- idle buckets close on time, retention deletes old closed segments,
# and the walsender terminated mid-stream is survived
{
	my $d = seg_dir('rotate');
	$node->safe_psql('postgres', q{
SELECT pg_drop_replication_slot('tide');
SELECT pg_create_logical_replication_slot('tide', 'tide');
SELECT pg_create_logical_replication_slot('td2', 'test_decoding');
});
	my ($h, $o, $e) = tide_start('stream', '-d', $conn, '-S', 'tide', '-D', $d,
		'--bucket', '1s', '--flush-interval', '100ms',
		'--warn-retained', '1', '--warn-xmin-age', '0');
	$node->safe_psql('postgres', "INSERT INTO t VALUES (100001, 'a', 1)");
	usleep(2_500_000);
	my @closed = glob("$d/*.tseg");
	cmp_ok(scalar(@closed), '>=', 1, 'an idle bucket is closed by the timer');
	$node->safe_psql('postgres',
		"SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'tide'");
	$node->safe_psql('postgres', "INSERT INTO t VALUES (100002, 'b', 2)");
	for (1 .. 100)
	{
		$h->pump_nb;
		last if $$e =~ /streaming from slot "tide" at .*\n(.*\n)*.*streaming from slot/;
		usleep(100_000);
	}
	$node->safe_psql('postgres', "INSERT INTO t VALUES (100003, 'c', 3)");
	my $e2 = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
	for (1 .. 100)
	{
		last if $node->safe_psql('postgres',
			"SELECT confirmed_flush_lsn >= '$e2' FROM pg_replication_slots WHERE slot_name = 'tide'") eq 't';
		usleep(100_000);
	}
	$h->signal('TERM');
	$h->finish;
	like($$e, qr/replication slot "tide" retains \d+ bytes of WAL/, 'retained WAL past the threshold is warned about');
	like($$e, qr/holds back catalog_xmin by \d+ transactions/, 'catalog_xmin age past the threshold is warned about');
	like($$e, qr/max_slot_wal_keep_size/, 'the warning says what to do');
	like($$e, qr/lost the replication connection/, 'connection loss is logged');
	like($$e, qr/reconnecting in \d+ ms/, 'reconnect is scheduled');
	my @all = glob("$d/*.tseg $d/*.tseg.partial");
	cmp_ok(scalar(@all), '>=', 3, scalar(@all) . ' segments for 1-second buckets');
	is_deeply([ normalize_tide(seg_lines($d)) ], [ normalize_td(td_lines($node, 'td2')) ],
		'after the reconnect: every transaction exactly once');

	my @before = glob("$d/*.tseg");
	usleep(1_200_000);
	my ($prc, $pout, $perr) = tide_run('prune', '--retain', '1s', $d);
	is($prc, 0, 'tide prune runs');
	my @after = glob("$d/*.tseg");
	is(scalar(@after), 1, 'prune keeps only the newest closed segment') or diag($perr);
	ok(glob("$d/*.tseg.partial") || 1, 'the open segment is never pruned');
	ok(!grep({ /\.partial$/ } split(/\n/, $perr)), 'prune never names the open segment');
}

# --- errors
{
	$node->safe_psql('postgres', "SELECT pg_create_logical_replication_slot('po', 'pgoutput')");
	my ($rc, $o, $e) = tide_run('stream', '-d', $conn, '-S', 'po', '-D', seg_dir('po'));
	is($rc, 3, 'slot of another plugin: exit code 3');
	like($e, qr/uses output plugin "pgoutput"/, 'slot of another plugin: message');

	$node->safe_psql('postgres', "SELECT pg_create_logical_replication_slot('other', 'tide')");
	($rc, $o, $e) = tide_run('stream', '-d', $conn, '-S', 'other', '-D', $ref);
	is($rc, 2, 'directory of another slot: exit code 2');
	like($e, qr/holds segments of another source/, 'directory of another slot: message');
	like($e, qr/slot "tide"; this stream is .* slot "other"/, 'directory of another slot: detail');

	# pg_recvlogical's -h/-p/-U work, and override the connection string
	my $now = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
	($rc, $o, $e) = tide_run('stream', '-d', 'dbname=postgres host=/nonexistent port=1',
		'-h', $node->host, '-p', $node->port, '-U', $ENV{USER} // 'postgres',
		'-S', 'other', '-D', seg_dir('hpu'), '--endpos', $now);
	is($rc, 0, '-h/-p/-U connect like pg_recvlogical') or diag($e);

	my $ro = seg_dir('readonly');
	chmod 0555, $ro;
	($rc, $o, $e) = tide_run('stream', '-d', $conn, '-S', 'other', '-D', $ro);
	is($rc, 6, 'unwritable directory: exit code 6');
	like($e, qr/segment directory ".*" is not writable/, 'unwritable directory: message');

	($rc, $o, $e) = tide_run('stream', '-S', 'x', '-D', $ro, '--bucket', 'soon');
	is($rc, 2, 'bad option: exit code 2');
	like($e, qr/invalid value "soon" for --bucket/, 'bad option: message');

	($rc, $o, $e) = tide_run('stream', '-d', $conn, '-S', 'other', '-D', seg_dir('badopt'),
		'-o', 'no-such-option=1');
	isnt($rc, 0, 'unknown decoder option is refused');
	like($e, qr/no-such-option/, 'unknown decoder option: named in the message');
}

done_testing();
