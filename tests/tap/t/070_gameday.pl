# tests/tap/t/070_gameday.pl - game days: a source under a write-heavy
# workload, `tide stream` and `tide apply --follow` in the background, and
# GAMEDAY_CYCLES faults chosen at random: kill -9 of the streamer, kill -9
# of the applier, immediate stop + restart of the source server, immediate
# stop + restart of the replica server, a full disk under the segment
# directory (a real ENOSPC on the tmpfs that make mounts as root, named by
# TIDE_TMPFS; skipped without it), a lost network between the streamer and
# the source (the streamer connects through a TCP proxy that is cut:
# connections closed, new ones refused, then restored), and an S3 outage
# (the streamer publishes to s3rver through a fault proxy that answers 503
# or is down for a few seconds).  Then everything is let recover and
# checked: replica equal to the source (tide verify too), no damaged
# segment, every source transaction exactly once in the segments (a
# test_decoding slot created with tide's is the reference), and S3 holding
# the same whole history.
#
# After each kill -9 of the applier the replica must be a prefix of the
# source: equal to a reference replica brought by a serial `tide apply
# --until` to the LSN the replica's tide.progress row names (read in one
# snapshot with the tables).
#
# GAMEDAY_CYCLES (default 8) sets the number of faults, GAMEDAY_SEED the
# random seed (printed, to replay a run's choice of faults), GAMEDAY_JOBS
# the follower's and the final run's `tide apply --jobs` (default: from the
# seed, 1 in half the runs, else 2 to 4).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..", "$FindBin::Bin/../../random";
use POSIX qw(WNOHANG);
use Proxy;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideStore;
use TideTest;
use Time::HiRes qw(usleep time);

our $TODO;
my $cycles = $ENV{GAMEDAY_CYCLES} // 8;
my $seed = $ENV{GAMEDAY_SEED} // (time() ^ $$) % 1_000_000;
srand($seed);
my $jobs = $ENV{GAMEDAY_JOBS} // ($seed % 2 ? 2 + int($seed / 2) % 3 : 1);
note("gameday: $cycles cycles, seed $seed, tide apply --jobs $jobs");
my $t0 = time();

# ---- background processes: forked, output appended to a log file each,
# reaped with waitpid (no pipes to fill)
my %live;    # pid => name
END { kill 'KILL', keys %live if %live; }

my $logdir = PostgreSQL::Test::Utils::tempdir('gameday_logs');

sub spawn
{
	my ($name, @cmd) = @_;
	my $log = "$logdir/$name.log";
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open STDIN, '<', '/dev/null';
		open STDOUT, '>>', $log;
		open STDERR, '>>', $log;
		exec(@cmd) or POSIX::_exit(127);
	}
	$live{$pid} = $name;
	return $pid;
}

# reap PID - undef while running, else the wait status
sub reap
{
	my ($pid) = @_;
	my $r = waitpid($pid, WNOHANG);
	return undef if $r == 0;
	die "reap: $pid is not a child of this test" if $r < 0;
	delete $live{$pid};
	return $?;
}

# wait_pid PID SECONDS - the wait status, or undef after SECONDS (then it is
# killed)
sub wait_pid
{
	my ($pid, $secs) = @_;
	my $deadline = time() + $secs;
	while (time() < $deadline)
	{
		my $st = reap($pid);
		return $st if defined $st;
		usleep(20_000);
	}
	kill 'KILL', $pid;
	waitpid($pid, 0);
	delete $live{$pid};
	return undef;
}

sub describe
{
	my ($st) = @_;
	return 'still running (killed after the timeout)' unless defined $st;
	return 'killed by signal ' . ($st & 127) if $st & 127;
	return 'exit code ' . ($st >> 8);
}

sub tail_log
{
	my ($name, $n) = @_;
	$n //= 30;
	open my $fh, '<', "$logdir/$name.log" or return "($name: no log)";
	my @l = <$fh>;
	close $fh;
	@l = @l[ -$n .. -1 ] if @l > $n;
	return "---- last lines of $name.log:\n" . join('', @l);
}

sub diag_tails
{
	diag(tail_log($_)) for qw(stream apply pgbench);
}

# ---- the clusters: same schema on both
my $schema = q{
CREATE TABLE kv (id int PRIMARY KEY, v text NOT NULL, n bigint NOT NULL);
CREATE TABLE log (k int, d int, note text, at timestamptz DEFAULT clock_timestamp());
};
my $src = tide_node('src');
my $rep = PostgreSQL::Test::Cluster->new('rep');
$rep->init;
$rep->start;
$src->safe_psql('postgres', $schema);
$rep->safe_psql('postgres', $schema);
# the reference replica of the prefix checks
$rep->safe_psql('postgres', 'CREATE DATABASE gdref');
$rep->safe_psql('gdref', $schema);
my $refconn = $rep->connstr('gdref');
my $conn = $src->connstr('postgres');
my $rconn = $rep->connstr('postgres');
# the reference slot first, then tide's: both start before any data
$src->safe_psql('postgres', q{
SELECT pg_create_logical_replication_slot('td', 'test_decoding');
SELECT pg_create_logical_replication_slot('tide', 'tide');
});
$src->safe_psql('postgres',
	"INSERT INTO kv SELECT g, md5(g::text), 0 FROM generate_series(1, 3000) g");

# the segments on the tmpfs when there is one (disk-full faults), the
# streamer's connection through the proxy (network cuts)
my $tmpfs = $ENV{TIDE_TMPFS} && -d $ENV{TIDE_TMPFS} && -w $ENV{TIDE_TMPFS} ? $ENV{TIDE_TMPFS} : undef;
note('disk-full faults skipped: no TIDE_TMPFS (make mounts one when run as root)') unless $tmpfs;
my $dir = $tmpfs ? "$tmpfs/gameday_segs" : seg_dir('segs');
if ($tmpfs) { system('rm', '-rf', $dir); mkdir $dir, 0700 or die "mkdir $dir: $!"; }
my $proxy = Proxy->start($src);
my $pconn = "host=127.0.0.1 port=$proxy->{port} dbname=postgres";

# S3 behind a fault proxy: the streamer publishes every closed segment
delete @ENV{qw(AWS_SESSION_TOKEN AWS_ENDPOINT_URL_S3 AWS_REGION AWS_DEFAULT_REGION AWS_PROFILE)};
my $s3dir = PostgreSQL::Test::Utils::tempdir('gameday_s3');
my $s3 = TideStore->s3rver("$s3dir/s3", 'tide');
my $s3proxy = TideStore->proxy("$s3dir/proxy", $s3);
$ENV{AWS_ACCESS_KEY_ID} = 'S3RVER';
$ENV{AWS_SECRET_ACCESS_KEY} = 'S3RVER';
$ENV{AWS_ENDPOINT_URL} = $s3proxy->{url};
my $s3url = 's3://tide/gameday';

my @stream_args = ('stream', '-d', $pconn, '-S', 'tide', '-D', $dir,
	'--bucket', '2s', '--flush-interval', '200ms', '--publish', $s3url);
my @jobs_args = $jobs > 1 ? ('--jobs', $jobs) : ();
my @apply_args = ('apply', '-d', $rconn, '-D', $dir, '--follow', '--batch', '5000', @jobs_args);

# ---- the workload: small keyed upserts/updates/deletes with savepoints and
# inserts into the keyless table; some larger transactions; some rolled back.
# Keys are locked in increasing order (no deadlocks among the small ones);
# --max-tries retries the odd deadlock with a large one.
my $wdir = PostgreSQL::Test::Utils::tempdir('gameday_workload');
my %scripts = (
	'small.sql' => q{
\set id random(1, 5000)
\set d random(-100, 100)
BEGIN;
INSERT INTO kv (id, v, n) VALUES (:id, md5(random()::text), :d)
  ON CONFLICT (id) DO UPDATE SET n = kv.n + :d, v = md5(kv.v);
INSERT INTO log (k, d, note) VALUES (:id, :d, 'small');
SAVEPOINT a;
UPDATE kv SET n = n + 1000 WHERE id = :id + 1;
INSERT INTO log (k, d, note) VALUES (:id, :d, 'rolled back');
ROLLBACK TO SAVEPOINT a;
SAVEPOINT b;
UPDATE kv SET n = n + 1, v = 'upd ' || :d WHERE id = :id + 3;
RELEASE SAVEPOINT b;
DELETE FROM kv WHERE id = :id + 13;
COMMIT;
},
	'large.sql' => q{
\set base random(1, 4800)
\set r random(1, 25)
\if :r = 1
\set rows 25000
\else
\set rows random(100, 1500)
\endif
BEGIN;
INSERT INTO log (k, d, note) SELECT :base, g, 'large ' || g FROM generate_series(1, :rows) g;
UPDATE kv SET n = n + 1 WHERE id BETWEEN :base AND :base + 150;
INSERT INTO kv (id, v, n) SELECT g, 'large', 1 FROM generate_series(:base, :base + 150) g
  ON CONFLICT (id) DO NOTHING;
COMMIT;
},
	'rollback.sql' => q{
\set id random(1, 5000)
BEGIN;
INSERT INTO log (k, d, note) VALUES (:id, 0, 'never');
UPDATE kv SET n = -1 WHERE id = :id;
ROLLBACK;
},
);
for my $f (keys %scripts)
{
	open my $fh, '>', "$wdir/$f" or die;
	print $fh $scripts{$f};
	close $fh;
}
my $pgbench_runs = 0;

sub start_workload
{
	$pgbench_runs++;
	return spawn('pgbench', 'pgbench', '-n', '-c', '4', '-j', '2', '-T', '3600',
		'-R', $ENV{GAMEDAY_RATE} // '600', '--max-tries', '10',
		'-f', "$wdir/small.sql\@200", '-f', "$wdir/large.sql\@2", '-f', "$wdir/rollback.sql\@10",
		'-h', $src->host, '-p', $src->port, 'postgres');
}

# ---- start: streamer, then (once a segment exists) the follower, then load
my $stream_pid = spawn('stream', $TideTest::TIDE, @stream_args);
ok(wait_for_file("$dir/*.tseg*", 60), 'the streamer opened a segment') or diag_tails();
my $apply_pid = spawn('apply', $TideTest::TIDE, @apply_args);
my $rep_crashed_since_apply = 0;    # a replica crash the follower may not have seen yet
my $pgbench_pid = start_workload();
usleep(1_000_000);

my %faults = (stream => 0, apply => 0, source => 0, replica => 0, enospc => 0, netcut => 0, s3 => 0);
my @kinds = (qw(stream apply source replica netcut s3), $tmpfs ? ('enospc') : ());
my $enospc_exits = 0;
my $failures = 0;
my $apply_exit4 = 0;    # follower exits with code 4 after a replica crash

sub last_error
{
	my ($name) = @_;
	open my $fh, '<', "$logdir/$name.log" or return '';
	my $last = '';
	while (<$fh>) { $last = $_ if /tide: error:/; }
	close $fh;
	return $last;
}

# count_lines NAME RE - lines of NAME's log that match
sub count_lines
{
	my ($name, $re) = @_;
	open my $fh, '<', "$logdir/$name.log" or return 0;
	my $n = grep { /$re/ } <$fh>;
	close $fh;
	return $n;
}

sub fail_now
{
	my ($msg) = @_;
	$failures++;
	fail($msg);
	diag_tails();
}

# check_background WHEN - the streamer must never exit on its own; the
# follower only with exit code 4 after a replica crash.  Restart what died.
sub check_background
{
	my ($when) = @_;
	my $st = reap($stream_pid);
	if (defined $st)
	{
		fail_now("$when: the streamer exited on its own (" . describe($st) . ')');
		$stream_pid = spawn('stream', $TideTest::TIDE, @stream_args);
	}
	$st = reap($apply_pid);
	if (defined $st)
	{
		if (!($rep_crashed_since_apply && !($st & 127) && ($st >> 8) == 4))
		{
			fail_now("$when: the follower exited (" . describe($st) . ') without a replica crash');
		}
		else
		{
			$apply_exit4++;
		}
		$apply_pid = spawn('apply', $TideTest::TIDE, @apply_args);
		$rep_crashed_since_apply = 0;
	}
	$st = defined $pgbench_pid ? reap($pgbench_pid) : undef;
	if (defined $st)
	{
		note("$when: pgbench ended (" . describe($st) . '), restarted');
		$pgbench_pid = start_workload();
	}
}

# check_durable WHEN - the slot's confirmed position never passes what the
# segments hold complete (read in that order: the segments only grow, a
# restart cuts back only what was never acknowledged)
my $durable_checks = 0;

sub lsn_num
{
	my ($hi, $lo) = split m{/}, $_[0];
	return hex($hi) * 4294967296 + hex($lo);
}

sub covered_max
{
	my ($rc, $out) = tide_run('ls', '--json', $dir);
	my $max = '0/0';
	for my $l (split /\n/, $out)
	{
		my ($c) = $l =~ /"covered_lsn":"([^"]+)"/;
		$max = $c if $c && lsn_num($c) > lsn_num($max);
	}
	return $max;
}

# prefix_check WHEN - (the applier just killed) the replica's tables, read
# in one snapshot with its tide.progress row, equal the reference
# replica's once a serial tide apply --until brought it there: the
# transactions whose commit LSN is below the row's end LSN, and no other
my $prefix_checks = 0;

sub prefix_check
{
	my ($when) = @_;
	my $h = q{SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, E'\n' ORDER BY x::text COLLATE "C")), '') FROM %s x};
	my $has = $rep->safe_psql('postgres', q{SELECT to_regclass('tide.progress') IS NOT NULL});
	my $p = '0/0';
	my @got;
	if ($has eq 't')
	{
		($p, @got) = split /\n/, $rep->safe_psql('postgres', "BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT coalesce((SELECT end_lsn::text FROM tide.progress WHERE slot = 'tide'), '0/0');
" . sprintf($h, 'kv') . ";\n" . sprintf($h, 'log') . ";\nCOMMIT;");
	}
	else
	{
		@got = map { $rep->safe_psql('postgres', sprintf($h, $_)) } qw(kv log);
	}
	my $pn = lsn_num($p);
	if ($pn > 0)
	{
		my $u = sprintf('%X/%X', int(($pn - 1) / 4294967296), ($pn - 1) % 4294967296);
		my $st = run_bounded(300, 'apply_ref', 'apply', '-d', $refconn, '-D', $dir, '--until', $u);
		is(describe($st), 'exit code 0', "$when: the reference replica applies up to $p")
		  or diag(tail_log('apply_ref')), $failures++;
	}
	my @want = map { $rep->safe_psql('gdref', sprintf($h, $_)) } qw(kv log);
	$prefix_checks++;
	is_deeply(\@got, \@want, "$when: the replica killed at tide.progress $p (--jobs $jobs) is the source's prefix up to there")
	  or $failures++;
}

sub check_durable
{
	my ($when) = @_;
	my $confirmed = $src->safe_psql('postgres',
		"SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'tide'");
	my $covered;
	# a segment closed between listing and reading shows as missing: retry
	for my $try (1 .. 5)
	{
		$covered = covered_max();
		last if lsn_num($confirmed) <= lsn_num($covered);
		$covered = undef;
		usleep(300_000);
	}
	$durable_checks++;
	ok(defined $covered, "$when: the slot's confirmed $confirmed is within the segments")
	  or do { $failures++; diag(scalar((tide_run('ls', $dir))[1])); diag_tails(); };
}

for my $cycle (1 .. $cycles)
{
	usleep(300_000 + int(rand(1_700_000)));
	check_background("cycle $cycle (before)");
	my $kind = $kinds[ int(rand(@kinds)) ];
	my $tc = time();
	if ($kind eq 'stream')
	{
		kill 'KILL', $stream_pid;
		my $st = wait_pid($stream_pid, 60);
		$stream_pid = spawn('stream', $TideTest::TIDE, @stream_args);
	}
	elsif ($kind eq 'apply')
	{
		kill 'KILL', $apply_pid;
		wait_pid($apply_pid, 60);
		prefix_check("cycle $cycle");
		$apply_pid = spawn('apply', $TideTest::TIDE, @apply_args);
		$rep_crashed_since_apply = 0;
	}
	elsif ($kind eq 'source')
	{
		$src->stop('immediate');
		# every client loses its connection: pgbench ends
		my $st = wait_pid($pgbench_pid, 60);
		fail_now("cycle $cycle: pgbench did not end after the source crash") unless defined $st;
		$src->start;    # pg_ctl -w: accepting connections when it returns
		$src->poll_query_until('postgres', 'SELECT true')
		  or fail_now("cycle $cycle: the source does not accept connections");
		$pgbench_pid = start_workload();
	}
	elsif ($kind eq 'enospc')
	{
		# fill the tmpfs: under the load the streamer must stop with exit
		# code 6, having acknowledged nothing that is not durable
		my $filler = "$tmpfs/filler";
		open my $fh, '>', $filler or die "cannot create $filler: $!";
		my $block = 'x' x 65536;
		while (1) { my $w = syswrite($fh, $block); last unless $w; }
		close $fh;
		my $st = wait_pid($stream_pid, 60);
		if (defined $st && !($st & 127) && ($st >> 8) == 6)
		{
			$enospc_exits++;
			like(last_error('stream'), qr/No space left on device/, "cycle $cycle: the full disk is named");
		}
		else
		{
			fail_now("cycle $cycle: on a full disk the streamer ended with " . describe($st) . ', not exit code 6');
		}
		check_durable("cycle $cycle (disk full)");
		usleep(200_000 + int(rand(1_000_000)));
		unlink $filler;
		$stream_pid = spawn('stream', $TideTest::TIDE, @stream_args);
	}
	elsif ($kind eq 'netcut')
	{
		# the streamer must ride it out: reconnect with its backoff
		my $lost = count_lines('stream', qr/lost the replication connection/);
		$proxy->cut;
		usleep(500_000 + int(rand(2_500_000)));
		$proxy->restore;
		cmp_ok(count_lines('stream', qr/lost the replication connection/), '>', $lost,
			"cycle $cycle: the streamer saw the network go") or $failures++;
	}
	elsif ($kind eq 'replica')
	{
		$rep->stop('immediate');
		$rep->start;
		$rep->poll_query_until('postgres', 'SELECT true')
		  or fail_now("cycle $cycle: the replica does not accept connections");
		$rep_crashed_since_apply = 1;
	}
	else
	{
		# S3 away for a while: errors, or nobody listening; the slot is read on
		my $down = rand() < 0.5;
		if ($down) { $s3proxy->stop; } else { $s3proxy->fault('status 503'); }
		usleep(1_000_000 + int(rand(2_000_000)));
		if ($down) { $s3proxy->start; } else { $s3proxy->fault('pass'); }
	}
	$faults{$kind}++;
	check_durable("cycle $cycle");
	note(sprintf("cycle %d: %s fault, recovered in %.2fs (at %.1fs)",
		$cycle, $kind, time() - $tc, time() - $t0));
	check_background("cycle $cycle (after the $kind fault)");
	last if $failures > 3;
}
usleep(500_000);
check_background('after the cycles');

# ---- recovery: stop the workload, the streamer (SIGTERM), stream to the
# current end, stop the follower, apply to the end
kill 'TERM', $pgbench_pid;
wait_pid($pgbench_pid, 60);
$pgbench_pid = undef;
my $t_rec = time();

# the background streamer and follower recovered by themselves: a marker
# committed now reaches the slot's confirmed position and the replica
$src->safe_psql('postgres', "INSERT INTO log (k, d, note) VALUES (0, 0, 'marker')");
my $marker = $src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
my ($streamed, $applied) = (0, 0);
my $deadline = time() + 60;
while (time() < $deadline && !($streamed && $applied))
{
	check_background('catching up');
	$streamed ||= $src->safe_psql('postgres',
		"SELECT confirmed_flush_lsn >= '$marker' FROM pg_replication_slots WHERE slot_name = 'tide'") eq 't';
	$applied ||= $rep->safe_psql('postgres', "SELECT count(*) FROM log WHERE note = 'marker'") eq '1';
	usleep(100_000);
}
ok($streamed, sprintf('the background streamer confirmed %s (%.1fs after the workload)', $marker, time() - $t_rec))
  or diag_tails();
ok($applied, sprintf('the follower applied it (%.1fs after the workload)', time() - $t_rec))
  or diag_tails();
my $catchup = time() - $t_rec;

kill 'TERM', $stream_pid;
my $st = wait_pid($stream_pid, 60);
is(describe($st), 'exit code 0', 'the background streamer stops cleanly on SIGTERM')
  or diag_tails();

# run_bounded SECONDS NAME ARGS - tide to completion, or killed after SECONDS
sub run_bounded
{
	my ($secs, $name, @args) = @_;
	my $pid = spawn($name, $TideTest::TIDE, @args);
	return wait_pid($pid, $secs);
}

my $end = $src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
$st = run_bounded(120, 'stream_end', 'stream', '-d', $conn, '-S', 'tide', '-D', $dir,
	'--endpos', $end, '--publish', $s3url);
is(describe($st), 'exit code 0', "tide stream --endpos $end completes")
  or diag(tail_log('stream_end'));

kill 'TERM', $apply_pid;
$st = wait_pid($apply_pid, 60);
if ($rep_crashed_since_apply && defined $st && !($st & 127) && ($st >> 8) == 4)
{
	note('the follower saw the last replica crash only when stopped (exit code 4)');
}
else
{
	is(describe($st), 'exit code 0', 'the follower stops cleanly on SIGTERM') or diag_tails();
}
$st = run_bounded(180, 'apply_end', 'apply', '-d', $rconn, '-D', $dir, @jobs_args);
is(describe($st), 'exit code 0', 'tide apply to the end completes')
  or diag(tail_log('apply_end'));
my $recovery = time() - $t_rec;
my $t_cmp = time();

# ---- the replica equals the source
for my $q (
	[ 'kv', "SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY x.id)), '') FROM kv x" ],
	[ 'log', "SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') FROM log x" ])
{
	my ($t, $sql) = @$q;
	my $s = $src->safe_psql('postgres', $sql);
	is($rep->safe_psql('postgres', $sql), $s, "$t equal on source and replica ($s)");
}
my ($vout, $verr) = ('', '');
IPC::Run::run([ $TideTest::TIDE, 'verify', '-s', $conn, '-d', $rconn ],
	'<', \undef, '>', \$vout, '2>', \$verr, IPC::Run::timeout(120));
is($? >> 8, 0, 'tide verify: every table equal') or diag("$vout$verr");

my ($rc, $lsout, $lserr) = tide_run('ls', $dir);
is($rc, 0, 'tide ls: no damaged segment') or diag($lserr);

# ---- S3 holds the same history, whole, through its outages
($rc, my $s3out, my $s3err) = tide_run('ls', '--json', $s3url);
is($rc, 0, 'tide ls s3://: the published history is whole') or diag($s3err);
my @published = map { /"segment":"([^"]+)"/ ? $1 : () } split /\n/, $s3out;
is_deeply(\@published, [ sort map { s{.*/}{}r } glob("$dir/*.tseg") ],
	'S3 holds every closed segment of the directory');

# ---- every transaction exactly once, in commit order
my @tide = normalize_tide(seg_lines($dir));
my @td = normalize_td(td_lines($src, 'td'));
my $ntx = grep { $_ eq 'COMMIT' } @td;
my $tide_ntx = grep { $_ eq 'COMMIT' } @tide;
cmp_ok($ntx, '>', 100, "the workload committed $ntx transactions");
is($tide_ntx, $ntx, "the segments hold $tide_ntx transactions");
is(scalar(@tide), scalar(@td), 'same number of change lines as test_decoding (' . scalar(@td) . ')');
my $same = 1;
for my $i (0 .. $#td)
{
	next if defined $tide[$i] && $tide[$i] eq $td[$i];
	$same = 0;
	diag("first difference at line $i of " . scalar(@td) . ":\n  segments:      "
		  . ($tide[$i] // '(end)') . "\n  test_decoding: " . $td[$i]);
	last;
}
ok($same, 'every transaction exactly once, in commit order, same content');

my $n = 0;
$n += $_ for values %faults;
my $summary = sprintf("gameday: %d faults injected (streamer kills %d, applier kills %d, "
	  . "source crashes %d, replica crashes %d, full disks %d, network cuts %d, S3 outages %d), all survived; "
	  . "%d transactions, %d follower exits on replica loss, %d streamer exits on a full disk, "
	  . "%d durability checks, %d prefix checks, tide apply --jobs %d, %d pgbench runs, catch-up %.1fs, "
	  . "final recovery %.1fs, checks %.1fs, total %.1fs, seed %d",
	$n, @faults{qw(stream apply source replica enospc netcut s3)}, $ntx, $apply_exit4, $enospc_exits,
	$durable_checks, $prefix_checks, $jobs, $pgbench_runs,
	$catchup, $recovery, time() - $t_cmp, time() - $t0, $seed);
is($n, $cycles, "$n faults injected of $cycles cycles");

# a failed run leaves its segments and logs for a post-mortem
if (!Test::More->builder->is_passing)
{
	my $keep = ($ENV{TESTDIR} // '/tmp') . '/gameday_failed';
	system('rm', '-rf', $keep);
	mkdir $keep;
	system('cp', '-a', $dir, "$keep/segs");
	system('cp', '-a', $logdir, "$keep/logs");
	diag("segments and logs kept in $keep");
}
$proxy->stop;
system('rm', '-rf', $dir) if $tmpfs;
diag($summary) if Test::More->builder->is_passing && $n == $cycles;
note($summary);

done_testing();
