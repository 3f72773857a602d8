# tests/tap/t/035_apply_restart.pl - tide apply while the replica server is
# restarted under it (immediate stop: its backends die mid-statement,
# mid-COPY or mid-commit).  Each interrupted run must exit 4 with a clear
# replica connection error and leave nothing half-applied; rerunning must
# carry on exactly once until the replica equals the source.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;
use Time::HiRes qw(usleep time);

sub pgbench_on
{
	my ($node, @args) = @_;
	my ($o, $e);
	IPC::Run::run([ 'pgbench', '-h', $node->host, '-p', $node->port, @args, 'postgres' ],
		'<', \undef, '>', \$o, '2>', \$e);
	is($?, 0, 'pgbench ' . join(' ', @args) . ' on ' . $node->name) or diag($e);
}

my @tables = qw(pgbench_accounts pgbench_branches pgbench_tellers pgbench_history);

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

# running HARNESS - whether the child still has its output open
sub running
{
	my ($h) = @_;
	return eval { $h->pump_nb; 1 } && $h->pumpable;
}

# wait_exit HARNESS SECONDS - the exit code, or undef (killed) after SECONDS
sub wait_exit
{
	my ($h, $secs) = @_;
	my $deadline = time() + $secs;
	while (time() < $deadline)
	{
		if (!running($h))
		{
			$h->finish;
			return $h->result(0);
		}
		usleep(20_000);
	}
	$h->kill_kill;
	return undef;
}

# ---- source and replica: pgbench tables (no data yet) on both
my $src = tide_node('src');
my $rep = PostgreSQL::Test::Cluster->new('rep');
$rep->init;
$rep->start;
pgbench_on($_, '-i', '-I', 'dtp', '-s', '1') for ($src, $rep);

my $dir = seg_dir('segs');
my $conn = $src->connstr('postgres');
my ($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir,
	'--create-slot', '--endpos', $src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()'), '-q');
is($rc, 0, 'slot created') or diag($err);

# ---- the backlog: the initial load (TRUNCATE + one 100k-row COPY
# transaction, bigger than --batch) then tpcb-like transactions on two
# clients; pgbench_history has no key.  20000 of them, not 5000: apply
# replays several thousand a second here, and the run has to outlast a few
# restarts 0.2-1.5 s apart.
pgbench_on($src, '-i', '-I', 'g', '-s', '1');
pgbench_on($src, '-n', '-c', '2', '-t', '10000', '-b', 'tpcb-like');
my $end = $src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir,
	'--bucket', '1s', '--endpos', $end, '-q');
is($rc, 0, "stream up to $end") or diag($err);
my @commits = grep { /^COMMIT/ } seg_lines($dir, '--verbose');
my ($last_end) = $commits[-1] =~ /end[=:]"?([0-9A-F]+\/[0-9A-F]+)/;
ok($last_end, "last commit ends at $last_end");
cmp_ok(scalar(@commits), '>=', 20000, scalar(@commits) . ' transactions in the segments');

# ---- cycles: apply in the background, restart the replica under it
sub progress
{
	# a restart that came before apply made its progress table: nothing yet
	return '0/0'
	  unless $rep->safe_psql('postgres', "SELECT to_regclass('tide.progress') IS NOT NULL") eq 't';
	return $rep->safe_psql('postgres',
		"SELECT coalesce((SELECT end_lsn::text FROM tide.progress), '0/0')");
}
# start over when a run got to the end before enough restarts hit it
sub finished_early
{
	my ($what) = @_;
	is(progress(), $last_end, "$what: progress at the last commit");
	is_deeply(all_md5($rep), all_md5($src), "$what: equal to the source; starting over");
	$rep->safe_psql('postgres', 'DROP TABLE tide.progress; TRUNCATE ' . join(', ', @tables));
}

my ($restarts, $midway, $moved, $finished_early) = (0, 0, 0, 0);
my $prev = '0/0';
# until enough restarts hit mid-apply and some of them after progress was
# made (a loaded machine spends the first cycles in the 100k-row COPY)
for (my $cycle = 1; $cycle <= 40 && ($midway < 5 || $moved < 3); $cycle++)
{
	my ($h, $hout, $herr) = tide_start('apply', '-d', $rep->connstr('postgres'), '-D', $dir,
		'--batch', '200', '-q');
	usleep(200_000 + int(rand(1_300_000)));
	if (!running($h))
	{
		my $code = wait_exit($h, 10);
		is($code, 0, "cycle $cycle: apply got to the end before the restart") or diag($$herr);
		finished_early("cycle $cycle");
		$finished_early++;
		$prev = '0/0';
		next;
	}
	$rep->stop('immediate');
	$rep->start;
	$restarts++;
	my $code = wait_exit($h, 60);
	ok(defined $code, "cycle $cycle: apply exits after the restart (no hang)");
	my $now = progress();
	if (defined $code && $code == 0)
	{
		# it finished between the check and the stop
		finished_early("cycle $cycle (finished just before the restart)");
		$finished_early++;
		$prev = '0/0';
		next;
	}
	is($code, 4, "cycle $cycle: apply exits 4 when the replica restarts under it") or diag($$herr);
	like($$herr, qr/tide: error: [^\n]*(server closed the connection|terminat\w* connection|could not connect to the replica|no connection to the server|lost the replica connection)/,
		"cycle $cycle: a replica connection error") or diag($$herr);
	unlike($$herr, qr/internal error|please report/i, "cycle $cycle: not an internal error");
	note("cycle $cycle: progress $prev -> $now; $$herr");
	is($rep->safe_psql('postgres', "SELECT '$now'::pg_lsn >= '$prev'::pg_lsn"), 't',
		"cycle $cycle: progress did not go back");
	$midway++;
	$moved++ if $now ne $prev && $now ne $last_end;
	$prev = $now;
}
note("$restarts restarts, $midway of them mid-apply ($moved after progress was made), "
	  . "$finished_early runs finished before a restart");
diag("035_apply_restart: $restarts replica restarts, $midway hit mid-apply, $moved after progress");
cmp_ok($midway, '>=', 5, "$midway of $restarts restarts hit mid-apply");
cmp_ok($moved, '>=', 3, "$moved of them after some progress, before the end of the backlog");

# ---- run to completion
($rc, $out, $err) = tide_run('apply', '-d', $rep->connstr('postgres'), '-D', $dir, '--batch', '200');
is($rc, 0, 'final apply exits 0') or diag($err);
note($err);
my ($s, $r) = (all_md5($src), all_md5($rep));
is_deeply($r, $s, 'every table equal to the source');
my $hcount = $src->safe_psql('postgres', 'SELECT count(*) FROM pgbench_history');
is($rep->safe_psql('postgres', 'SELECT count(*) FROM pgbench_history'), $hcount,
	"pgbench_history (no key): $hcount rows, none duplicated or lost");
is($rep->safe_psql('postgres',
		'SELECT count(*) FROM (SELECT DISTINCT * FROM pgbench_history) d'),
	$src->safe_psql('postgres', 'SELECT count(*) FROM (SELECT DISTINCT * FROM pgbench_history) d'),
	'pgbench_history: same number of distinct rows');
is($rep->safe_psql('postgres', 'SELECT end_lsn FROM tide.progress'), $last_end,
	'tide.progress end_lsn = end of the last commit in the segments');
is($rep->safe_psql('postgres', 'SELECT count(*) FROM tide.progress'), '1', 'one progress row');
my $slot_at = $src->safe_psql('postgres',
	"SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'tide'");
is($rep->safe_psql('postgres', "SELECT '$last_end'::pg_lsn <= '$slot_at'::pg_lsn"), 't',
	"the slot ($slot_at) is at or past the last commit applied");

done_testing();
