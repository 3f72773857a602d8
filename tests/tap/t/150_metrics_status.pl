# tests/tap/t/150_metrics_status.pl - monitoring: tide stream and tide apply
# --metrics-listen scraped over HTTP during a workload (names, types and
# values that move: durable LSN, applied counters equal to the transactions
# the segments hold, lag that grows while the applier stalls and shrinks
# after), 404/405, idle clients, a port in use; pg_stat_replication shows
# the durable position; tide status in text and --json against known state,
# healthy (exit 0), slot inactive past --max-inactive and a gap (exit 8).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;
use TideStore;
use Time::HiRes qw(usleep time);

my $http = HTTP::Tiny->new(timeout => 10);
my ($j0, $m1, $m2, $c1);

sub lsn2num
{
	my ($l) = @_;
	my ($hi, $lo) = split m{/}, $l;
	return hex($hi) * 2**32 + hex($lo);
}

# scrape PORT - the page as { name{labels} => value }, and the raw text
sub scrape
{
	my ($port) = @_;
	my $r = $http->get("http://127.0.0.1:$port/metrics");
	return (undef, $r) unless $r->{success};
	my %m;
	for (split /\n/, $r->{content})
	{
		next if /^#/;
		my ($k, $v) = /^(\S+) (\S+)$/ or die "bad exposition line: $_";
		$m{$k} = $v;
	}
	return (\%m, $r);
}

sub wait_scrape
{
	my ($port, $cond, $what) = @_;
	my $m;
	for (1 .. 300)
	{
		($m) = scrape($port);
		return $m if $m && $cond->($m);
		usleep(100_000);
	}
	diag("timed out waiting for $what");
	return $m;
}

my $schema = q{CREATE TABLE t (id int PRIMARY KEY, v text);};
my $src = tide_node('src');
# a bounded slot, so safe_wal_size has a value to show
$src->append_conf('postgresql.conf', "max_slot_wal_keep_size = '1GB'\n");
$src->reload;
my $conn = $src->connstr('postgres');
$src->safe_psql('postgres', $schema);
$src->safe_psql('postgres', "SELECT pg_create_logical_replication_slot('tide', 'tide')");
my $rep = PostgreSQL::Test::Cluster->new('rep');
$rep->init;
$rep->start;
$rep->safe_psql('postgres', $schema);
my $repconn = $rep->connstr('postgres');

my $sport = PostgreSQL::Test::Cluster::get_free_port();
my $aport = PostgreSQL::Test::Cluster::get_free_port();
my $dir = seg_dir('segs');
my $pubdir = seg_dir('published');

# ---------------------------------------------------------------- options
my ($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir,
	'--metrics-listen', '70000');
is($rc, 2, 'a port out of range is refused');
like($err, qr/invalid value "70000" for --metrics-listen/, 'naming option and value');
($rc, $out, $err) = tide_run('apply', '-d', $repconn, '-D', $dir, '--metrics-listen', 'localhost:9');
is($rc, 2, 'a host name is refused (a numeric address is needed)');
like($err, qr/\[IPV6-ADDRESS\]:PORT/, 'the hint gives the accepted forms');

# ---------------------------------------------------------------- stream
my ($st, $sout, $serr) = tide_start('stream', '-d', $conn, '-S', 'tide', '-D', $dir,
	'--bucket', '2s', '--flush-interval', '200ms', '--metrics-listen', $sport, '--publish', $pubdir);
my ($m, $r) = (undef, undef);
for (1 .. 100)
{
	($m, $r) = scrape($sport);
	last if $m && $m->{tide_stream_connected};
	usleep(100_000);
}
ok($m, 'the stream serves /metrics') or diag($$serr);
is($r->{headers}{'content-type'}, 'text/plain; version=0.0.4; charset=utf-8', 'Prometheus text format 0.0.4');
like($r->{content}, qr/^# HELP tide_stream_durable_lsn_bytes .+\n# TYPE tide_stream_durable_lsn_bytes gauge\n/m,
	'HELP and TYPE lines');
like($r->{content}, qr/^tide_build_info\{version="[^"]+"\} 1$/m, 'tide_build_info');
like($r->{content}, qr/^# TYPE tide_stream_transactions_total counter$/m, 'counters are typed');
for my $name (qw(tide_stream_source_lsn_bytes tide_stream_received_lsn_bytes
	tide_stream_confirmed_lsn_bytes tide_stream_segments_written_total
	tide_stream_segments_published_total tide_stream_pruned_objects_total
	tide_stream_upload_failures_total tide_stream_spool_bytes tide_stream_changes_total))
{
	ok(exists $m->{$name}, "$name is served");
}
ok(exists $m->{'tide_stream_lag_bytes{stage="durable"}'}, 'lag bytes by stage');
ok(exists $m->{'tide_stream_lag_seconds{stage="durable"}'}, 'lag seconds by stage');
ok(exists $m->{'tide_errors_total{class="source"}'}, 'errors by class');
$m = wait_scrape($sport, sub { exists $_[0]->{'tide_slot_retained_wal_bytes{slot="tide"}'} },
	'the slot check');
is($m->{'tide_slot_active{slot="tide"}'}, 1, 'the slot is active (the stream holds it)');
ok(exists $m->{'tide_slot_catalog_xmin_age{slot="tide"}'}, 'catalog_xmin age');
cmp_ok($m->{'tide_slot_safe_wal_size_bytes{slot="tide"}'}, '>', 0, 'safe_wal_size under max_slot_wal_keep_size');
cmp_ok($m->{'tide_slot_safe_wal_size_bytes{slot="tide"}'}, '<', 2 * 1024**3, 'about the limit (1GB, rounded to WAL segments)');
cmp_ok($m->{'tide_slot_retained_wal_bytes{slot="tide"}'}, '>=', 0, 'retained WAL');
my $durable0 = $m->{tide_stream_durable_lsn_bytes};

# a port in use: a clear error, exit 2
($rc, $out, $err) = tide_run('apply', '-d', $repconn, '-D', $dir, '--metrics-listen', $sport);
is($rc, 2, 'a port in use is exit code 2');
like($err, qr/could not listen on 127\.0\.0\.1:$sport for metrics: Address already in use/,
	'the error names the address');
like($err, qr/give --metrics-listen another one/, 'and the fix');

# 404, 405, HEAD, garbage
my $x = $http->get("http://127.0.0.1:$sport/");
is($x->{status}, 404, 'another path is 404');
$x = $http->request('POST', "http://127.0.0.1:$sport/metrics");
is($x->{status}, 405, 'another method is 405');
is($x->{headers}{allow}, 'GET, HEAD', 'with Allow');
$x = $http->request('HEAD', "http://127.0.0.1:$sport/metrics");
is($x->{status}, 200, 'HEAD is served');
is($x->{content} // '', '', 'without a body');
{
	my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$sport") or die;
	print $s "\x16\x03\x01 hello\r\n\r\n";
	my $line = <$s>;
	like($line, qr{^HTTP/1\.1 400 }, 'a request that is not HTTP is 400');
}
# idle and half-open clients (more than the 64 connection slots) lock
# nobody out, and a request head past 8 kB is refused
my @idle = map { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$sport") or die } 1 .. 80;
print { $idle[0] } "GET /metr";
($m) = scrape($sport);
ok($m && exists $m->{tide_stream_durable_lsn_bytes}, 'a scrape is answered beside 80 idle connections');
{
	my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$sport") or die;
	print $s "GET /metrics HTTP/1.1\r\nX: " . ('a' x 9000);
	my $line = <$s>;
	like($line, qr{^HTTP/1\.1 431 }, 'a head past the bound is 431');
}
close $_ for @idle;

# ---------------------------------------------------------------- workload
$src->safe_psql('postgres', q{
DO $$ BEGIN
FOR i IN 1..40 LOOP
	INSERT INTO t VALUES (i, 'v' || i);
	COMMIT;
END LOOP;
END $$;
UPDATE t SET v = 'u' WHERE id <= 10;
DELETE FROM t WHERE id > 35;
});
my $cur = lsn2num($src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()'));
$m = wait_scrape($sport, sub { $_[0]->{tide_stream_durable_lsn_bytes} >= $cur }, 'durable LSN');
cmp_ok($m->{tide_stream_durable_lsn_bytes}, '>', $durable0, 'the durable LSN advances with the workload');
cmp_ok($m->{tide_stream_transactions_total}, '>=', 42, 'transactions counted');
cmp_ok($m->{tide_stream_changes_total}, '>=', 40 + 10 + 5, 'changes counted');
cmp_ok($m->{tide_stream_received_bytes_total}, '>', 0, 'bytes received');

# --publish: segments reach the store, and its position is served
$m = wait_scrape($sport, sub { $_[0]->{tide_stream_segments_published_total} >= 2 }, 'published segments');
cmp_ok($m->{tide_stream_segments_published_total}, '>=', 2, 'segments published');
cmp_ok($m->{tide_stream_segments_written_total}, '>=', $m->{tide_stream_segments_published_total},
	'no more published than written');
cmp_ok($m->{tide_stream_published_lsn_bytes}, '>', 0, 'published LSN');
cmp_ok($m->{tide_stream_published_lsn_bytes}, '<=', $m->{tide_stream_durable_lsn_bytes}, 'never past durable');
cmp_ok($m->{'tide_stream_lag_bytes{stage="published"}'}, '>=', $m->{'tide_stream_lag_bytes{stage="durable"}'},
	'the published stage lags at least as much as the durable one');
is($m->{tide_stream_upload_failures_total}, 0, 'no upload failures');
($rc, $out, $err) = tide_run('status', '-D', $pubdir, '--json');
is($rc, 0, 'tide status on the published store') or diag($err);
$j0 = decode_json($out);
cmp_ok($j0->{store}{segments}, '>=', 2, 'it holds the published segments');
is($j0->{store}{open_segment}, undef, 'none of them open');
cmp_ok($j0->{store}{end_lsn_bytes}, '<=', $m->{tide_stream_durable_lsn_bytes}, 'its end is no further than durable');

# pg_stat_replication: what tide reports is what is durable, and it moves
my $psr = $src->safe_psql('postgres',
	"SELECT write_lsn, flush_lsn FROM pg_stat_replication");	# the stream's walsender is the only one
my ($w, $f) = split /\|/, $psr;
ok(defined $f && $f ne '', 'tide stream is in pg_stat_replication') or diag($psr);
$m = wait_scrape($sport, sub { 1 }, 'a scrape');
cmp_ok(lsn2num($f), '<=', $m->{tide_stream_durable_lsn_bytes}, 'flush_lsn is no further than durable');
cmp_ok(lsn2num($w), '<=', $m->{tide_stream_durable_lsn_bytes}, 'write_lsn is no further than durable');
cmp_ok(lsn2num($f), '>=', $durable0, 'flush_lsn advanced with the workload');

# ---------------------------------------------------------------- apply
my ($ap, $aout, $aerr) = tide_start('apply', '-d', $repconn, '-D', $dir, '--follow',
	'--metrics-listen', $aport);
my $end = $src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
ok($rep->poll_query_until('postgres', 'SELECT count(*) = 35 FROM t'), 'the follower applied the workload')
  or diag($$aerr);
# the COMMITs the segments hold (a .partial may be renamed under the
# listing while the stream runs: read again then)
my $commits = sub {
	for (1 .. 20)
	{
		my @l = eval { seg_lines($dir) };
		return scalar grep { /^COMMIT/ } @l unless $@;
		usleep(100_000);
	}
	die "could not read the segments";
};
my $progress = sub {
	lsn2num($rep->safe_psql('postgres', 'SELECT end_lsn FROM tide.progress'));
};
my $n = $commits->();
$m = wait_scrape($aport, sub { $_[0]->{tide_apply_transactions_total} == $n }, 'the apply counter');
is($m->{tide_apply_transactions_total}, $n, "applied transactions = the $n COMMITs the segments hold");
is($m->{tide_apply_applied_lsn_bytes}, $progress->(), 'applied LSN = tide.progress');
is($m->{tide_apply_changes_total}, 40 + 10 + 5, 'changes applied: 40 inserts, 10 updates, 5 deletes');
cmp_ok($m->{tide_apply_replica_xids_total}, '>=', 1, 'replica XIDs spent');
cmp_ok($m->{tide_apply_replica_xids_total}, '<=', $n, 'no more than one per source transaction');
is($m->{tide_apply_lag_bytes}, 0, 'no lag once caught up');
is($m->{tide_apply_lag_seconds}, 0, 'no lag seconds once caught up');
like((scrape($aport))[1]{content}, qr/^# TYPE tide_apply_transactions_total counter$/m, 'apply counters typed');

# every metric either endpoint serves is in README's Monitoring section
{
	my %names;
	for my $port ($sport, $aport)
	{
		$names{$_} = 1 for (scrape($port))[1]{content} =~ /^# TYPE (\S+) /mg;
	}
	open(my $fh, '<', "$FindBin::Bin/../../../README.md") or die "README.md: $!";
	my $readme = do { local $/; <$fh> };
	close $fh;
	my ($mon) = $readme =~ /^## Monitoring\n(.*?)^## /ms;
	ok($mon, 'README has a Monitoring section');
	cmp_ok(scalar(keys %names), '>=', 30, scalar(keys %names) . ' metric families served');
	my @missing = grep { index($mon, "`$_") < 0 } sort keys %names;
	is("@missing", '', 'each is listed in README');
}

# a replica lock stalls the applier: its lag grows from scrape to scrape
my $lock = IPC::Run::start(['psql', '-X', '-q', '-h', $rep->host, '-p', $rep->port, '-d', 'postgres',
	'-c', 'BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(5); COMMIT;'],
	'>', \my $lout, '2>', \my $lerr);
usleep(500_000);
$src->safe_psql('postgres', "INSERT INTO t VALUES (100, 'stalled')");
$m1 = wait_scrape($aport, sub { $_[0]->{tide_apply_lag_seconds} > 0 }, 'lag under a lock');
usleep(1_500_000);
($m2) = scrape($aport);
cmp_ok($m1->{tide_apply_lag_seconds}, '>', 0, 'a stalled applier shows lag seconds');
cmp_ok($m2->{tide_apply_lag_seconds}, '>', $m1->{tide_apply_lag_seconds} + 1, 'growing from one scrape to the next');
$lock->finish;
$m = wait_scrape($aport, sub { $_[0]->{tide_apply_lag_seconds} == 0 && $_[0]->{tide_apply_lag_bytes} == 0 },
	'lag back to 0');
is($m->{tide_apply_lag_seconds}, 0, 'the lag shrinks to 0 once the lock is gone');

# ---------------------------------------------------------------- status
# against tide ls, taken before and after (2 s buckets: a segment may close
# in between; then again)
my ($j, @segs, $lsmax1, $lsmax2);
sub ls_segs
{
	return map { decode_json($_) } grep { /^\{/ } split /\n/, (tide_run('ls', '--json', $dir))[1];
}
for (1 .. 20)
{
	my @before = ls_segs();
	($rc, $out, $err) = tide_run('status', '-D', $dir, '-s', "$conn password=hunter2", '-d', $repconn, '--json',
		'--max-lag', '1h', '--max-lag-bytes', '1GB', '--max-inactive', '1h');
	my @after = ls_segs();
	@segs = @before;
	($lsmax1) = sort { $b <=> $a } map { lsn2num($_->{covered_lsn}) } @before;
	($lsmax2) = sort { $b <=> $a } map { lsn2num($_->{covered_lsn}) } @after;
	last if join(',', map { $_->{segment} } @before) eq join(',', map { $_->{segment} } @after);
}
is($rc, 0, 'tide status: healthy is exit 0') or diag($out . $err);
$j = decode_json($out);
is($j->{store}{segments}, scalar(@segs), 'segment count as tide ls lists them');
cmp_ok($j->{store}{end_lsn_bytes}, '>=', $lsmax1, 'durable end: what tide ls said before');
cmp_ok($j->{store}{end_lsn_bytes}, '<=', $lsmax2, 'and after');
is($j->{status}, 'ok', 'status ok');
is($j->{store}{slot}, 'tide', 'the slot named by the segment headers');
is($j->{source}{slot}{active}, JSON::PP::true, 'the slot is active');
ok(defined $j->{source}{slot}{retained_wal_bytes}, 'retained WAL');
ok(defined $j->{source}{slot}{catalog_xmin_age}, 'catalog_xmin age');
cmp_ok($j->{source}{slot}{safe_wal_size_bytes}, '>', 0, 'safe_wal_size');
is($j->{source}{slot}{wal_status}, 'reserved', 'wal_status');
is($j->{source}{current_lsn_bytes}, lsn2num($j->{source}{current_lsn}), 'current LSN in both forms');
unlike($out, qr/hunter2/, 'no password in the output');
like($j->{source}{conninfo}, qr/password=\*+/, 'the password is masked');
is($j->{replica}{progress}{end_lsn_bytes}, $progress->(), 'replica progress = the progress row');
is($j->{replica}{lag_bytes}, 0, 'replica caught up: lag 0');

# the applier stopped with SIGSTOP: the store moves on, the replica's lag grows
$ap->signal('STOP');
$src->safe_psql('postgres', "INSERT INTO t VALUES (101, 'while stopped')");
$c1 = lsn2num($src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()'));
wait_scrape($sport, sub { $_[0]->{tide_stream_durable_lsn_bytes} >= $c1 }, 'durable past the insert');
($rc, $out) = tide_run('status', '-D', $dir, '-d', $repconn, '--json');
my $lag1 = decode_json($out)->{replica}{lag_bytes};
$src->safe_psql('postgres', "INSERT INTO t SELECT g, 'more' FROM generate_series(200, 300) g");
my $c2 = lsn2num($src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()'));
wait_scrape($sport, sub { $_[0]->{tide_stream_durable_lsn_bytes} >= $c2 }, 'durable past the second insert');
($rc, $out) = tide_run('status', '-D', $dir, '-d', $repconn, '--json', '--max-lag-bytes', '1');
my $js = decode_json($out);
cmp_ok($lag1, '>', 0, 'a stopped applier: the replica lags the store');
cmp_ok($js->{replica}{lag_bytes}, '>', $lag1, 'and the lag grows');
cmp_ok($js->{replica}{lag_seconds}, '>', 0, 'in seconds too');
is($rc, 8, 'over --max-lag-bytes: exit 8');
like(join(' ', @{ $js->{problems} }), qr/the replica is \d+ bytes behind the store/, 'the problem is named');
($rc, $out) = tide_run('status', '-D', $dir, '-d', $repconn, '--json', '--max-lag', '0s');
is($rc, 8, 'over --max-lag: exit 8');
like(join(' ', @{ decode_json($out)->{problems} }), qr/last applied commit is [\d.]+ s older than the store's newest/,
	'named');
$ap->signal('CONT');
ok($rep->poll_query_until('postgres', 'SELECT count(*) = 138 FROM t'), 'after SIGCONT the applier catches up');
$m = wait_scrape($aport, sub { $_[0]->{tide_apply_lag_bytes} == 0 }, 'apply lag 0');
is($m->{tide_apply_applied_lsn_bytes}, $progress->(), 'applied LSN = progress after catching up');
($rc, $out) = tide_run('status', '-D', $dir, '-d', $repconn, '--json');
is(decode_json($out)->{replica}{lag_bytes}, 0, 'tide status: the lag shrank to 0');

# text output
($rc, $out, $err) = tide_run('status', '-D', $dir, '-s', $conn, '-d', $repconn);
is($rc, 0, 'text: exit 0');
like($out, qr/^  durable end\s+[0-9A-F]+\/[0-9A-F]+ \(last commit \d{4}-/m, 'text: durable end');
like($out, qr/^  slot "tide"\s+active/m, 'text: the slot');
like($out, qr/^  safe_wal_size\s+\d+ bytes$/m, 'text: safe_wal_size');
like($out, qr/^  applied to\s+[0-9A-F]+\/[0-9A-F]+ \(commit \d{4}-/m, 'text: the replica');
like($out, qr/^  segments\s+\d+ \(\d+ closed, open: \d{8}T\d{6}Z_[0-9A-F]{16}\.tseg\.partial\), \d+ bytes$/m,
	'text: the segments');
like($out, qr/^status\s+ok$/m, 'text: status ok');
note($out);

# the source goes away: the stream's stage stalls, and its lag grows from
# one scrape to the next while it reconnects
my $t0 = time();
$src->stop('fast');
note(sprintf('the source stopped in %.1f s', time() - $t0));
$m1 = wait_scrape($sport, sub { $_[0]->{tide_stream_connected} == 0 }, 'the stream to notice');
usleep(1_200_000);
($m2) = scrape($sport);
is($m2->{tide_stream_connected}, 0, 'source down: not connected');
cmp_ok($m2->{'tide_errors_total{class="source"}'}, '>=', 1, 'the lost connection is counted');
cmp_ok($m1->{'tide_stream_lag_seconds{stage="durable"}'}, '>', 0, 'lag seconds while disconnected');
cmp_ok($m2->{'tide_stream_lag_seconds{stage="durable"}'}, '>', $m1->{'tide_stream_lag_seconds{stage="durable"}'} + 1,
	'growing from one scrape to the next');
$src->start;
$m = wait_scrape($sport, sub { $_[0]->{tide_stream_connected} == 1 }, 'the stream to reconnect');
is($m->{tide_stream_connected}, 1, 'reconnected');
$src->safe_psql('postgres', "INSERT INTO t VALUES (400, 'after the restart')");
$c1 = lsn2num($src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()'));
$m = wait_scrape($sport, sub { $_[0]->{tide_stream_durable_lsn_bytes} >= $c1 &&
	$_[0]->{'tide_stream_lag_seconds{stage="durable"}'} == 0 }, 'durable after the restart');
is($m->{'tide_stream_lag_seconds{stage="durable"}'}, 0, 'lag seconds back to 0 once durable');
ok($rep->poll_query_until('postgres', 'SELECT count(*) = 139 FROM t'), 'and applied');

# ---------------------------------------------------------------- stop
$ap->signal('TERM');
$ap->finish;
is($ap->result(0), 0, 'apply stops cleanly with its metrics thread');
$st->signal('TERM');
$st->finish;
is($st->result(0), 0, 'stream stops cleanly with its metrics listener') or diag($$serr);
like($$serr, qr{serving metrics on http://127\.0\.0\.1:$sport/metrics}, 'the stream says where it serves');

# the published store read over http:// (nginx): what its index says
my $web = TideStore->nginx(PostgreSQL::Test::Utils::tempdir('nginx'), $pubdir);
($rc, $out, $err) = tide_run('status', '-D', $web->{url}, '--json');
is($rc, 0, 'tide status on http://') or diag($err);
my $jw = decode_json($out);
($rc, $out) = tide_run('status', '-D', $pubdir, '--json');
my $jd = decode_json($out);
is($jw->{store}{segments}, $jd->{store}{segments}, 'http://: as many segments as the published directory');
is($jw->{store}{end_lsn}, $jd->{store}{end_lsn}, 'http://: the same durable end');
is($jw->{store}{last_commit_time}, $jd->{store}{last_commit_time}, 'http://: the same last commit');
is($jw->{store}{url}, $web->{url}, 'the URL as given');
$web->stop;

# the slot inactive longer than --max-inactive: exit 8
sleep 2;
($rc, $out, $err) = tide_run('status', '-D', $dir, '-s', $conn, '--json', '--max-inactive', '1s');
$j = decode_json($out);
is($rc, 8, 'slot inactive past --max-inactive: exit 8');
is($j->{source}{slot}{active}, JSON::PP::false, 'the slot is inactive');
cmp_ok($j->{source}{slot}{inactive_seconds}, '>=', 1, 'for at least a second');
like(join(' ', @{ $j->{problems} }), qr/replication slot "tide" has been inactive for \d+ s/, 'named');
($rc) = tide_run('status', '-D', $dir, '-s', $conn, '--max-inactive', '1h');
is($rc, 0, 'inactive for less than --max-inactive: exit 0');

# a segment removed from the middle: a gap, exit 8 (one with transactions:
# an idle bucket's segment may end where it starts, and leave no hole)
@segs = ls_segs();
my ($victim) = map { $_->{segment} }
  grep { $_->{state} eq 'closed' && $_->{transactions} > 0 } @segs[1 .. $#segs - 1];
ok($victim, "a closed segment with transactions in the middle: $victim");
rename("$dir/$victim", "$dir/../$victim") or die;
($rc, $out) = tide_run('status', '-D', $dir, '--json');
$j = decode_json($out);
is($rc, 8, 'a gap in the store: exit 8');
like($j->{store}{gap}, qr/missing/, 'the gap is described') or diag($j->{store}{gap});
($rc, $out) = tide_run('status', '-D', $dir);
like($out, qr/^status\s+ATTENTION$/m, 'text: ATTENTION');
rename("$dir/../$victim", "$dir/$victim") or die;
($rc) = tide_run('status', '-D', $dir);
is($rc, 0, 'the segment back: exit 0');

# a replica that never saw this source, a missing slot, a source that is down
$rep->safe_psql('postgres', 'CREATE DATABASE other');
($rc, $out) = tide_run('status', '-D', $dir, '-d', $rep->connstr('other'), '--json');
is($rc, 8, 'a replica without tide.progress: exit 8');
like(join(' ', @{ decode_json($out)->{problems} }), qr/no tide\.progress/, 'named');
$src->safe_psql('postgres', "SELECT pg_drop_replication_slot('tide')");
($rc, $out) = tide_run('status', '-D', $dir, '-s', $conn, '--json');
$j = decode_json($out);
is($rc, 8, 'the slot missing: exit 8');
is($j->{source}{slot}{exists}, JSON::PP::false, 'the slot does not exist');
like(join(' ', @{ $j->{problems} }), qr/replication slot "tide" that the segments name does not exist/, 'named');
$src->stop;
($rc, $out, $err) = tide_run('status', '-D', $dir, '-s', "$conn password=hunter2");
is($rc, 3, 'the source unreachable: exit 3');
like($err, qr/could not connect to the source/, 'said');
unlike($err . $out, qr/hunter2/, 'without the password');

done_testing();
