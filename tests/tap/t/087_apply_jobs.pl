# tests/tap/t/087_apply_jobs.pl - tide apply --jobs 3 (ordered parallel
# apply, applier/jobs.c) on a backlog with conflicting and independent rows:
# pgbench tpcb-like (hot branch and teller rows, a history table without a
# key), a counter table updated by many transactions each of which logs the
# value it wrote into an insert-only table with unique keys, a small
# key-value table whose keys are inserted, updated, deleted and inserted
# again by different transactions, one TRUNCATE (a barrier), one
# transaction with changes around captured DDL (tide setup's capture: a
# column added, an index made; it runs alone on the run's own session) and
# the initial 100k-row load (a transaction spanning blocks, applied there
# too).
#
# 1. A whole run equals the source; progress is the last commit's end.
# 2. kill -9 of the applier at random moments, restarted with --jobs 3:
#    after each kill the replica equals, table by table, a reference
#    replica applied with --jobs 1 --until its progress LSN (it is at a
#    prefix of the source's history, never a state the source did not
#    have); progress never goes back; in the end it equals the source and
#    the counters equal the number of their log rows (no loss, no duplicate).
# 3. A dependency the tracker does not see (the failpoint
#    TIDE_TEST_JOBS_BLIND: units know no keys): later units that take a
#    row lock an earlier one needs are made to give way and retried, and
#    changes that found no row go through the one-at-a-time path; the
#    replica still equals the source.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;
use ApplyTest;
use Time::HiRes qw(usleep time);

sub pgbench_on
{
	my ($node, @args) = @_;
	my ($o, $e);
	IPC::Run::run([ 'pgbench', '-h', $node->host, '-p', $node->port, @args, 'postgres' ],
		'<', \undef, '>', \$o, '2>', \$e);
	is($?, 0, 'pgbench ' . join(' ', grep { !/\.sql$/ } @args) . ' on ' . $node->name) or diag($e);
}

my @tables = qw(pgbench_accounts pgbench_branches pgbench_tellers pgbench_history counters log kv);
my $schema = q{
CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL);
CREATE TABLE log (id bigserial PRIMARY KEY, counter int NOT NULL, at_n bigint NOT NULL);
CREATE TABLE kv (k int PRIMARY KEY, v int NOT NULL);
INSERT INTO counters SELECT g, 0 FROM generate_series(1, 20) g;
};

my $src = tide_node('src');
pgbench_on($src, '-i', '-I', 'dtp', '-s', '1');
$src->safe_psql('postgres', $schema);
my $rep = replica_node('rep');

# one database per replica, each with the tables as the source had them
# before the slot
sub new_replica
{
	my ($db) = @_;
	replica_db($rep, $db, '');
	my ($o, $e);
	IPC::Run::run([ 'pgbench', '-h', $rep->host, '-p', $rep->port, '-i', '-I', 'dtp', '-s', '1', $db ],
		'<', \undef, '>', \$o, '2>', \$e);
	die "pgbench -i on $db: $e" if $?;
	$rep->safe_psql($db, $schema);
	return $db;
}

my $dir = seg_dir('segs');
my $conn = $src->connstr('postgres');
my ($rc, $out, $err) = tide_run('setup', '-d', $conn);
is($rc, 0, 'tide setup: the DDL capture installed') or diag("$out\n$err");
($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir,
	'--create-slot', '--endpos', lsn_now($src), '-q');
is($rc, 0, 'slot created') or diag($err);

# ---- the backlog
pgbench_on($src, '-i', '-I', 'g', '-s', '1');
my $wdir = PostgreSQL::Test::Utils::tempdir('scripts');
open(my $fh, '>', "$wdir/counter.sql") or die;
print $fh q{\set c random(1, 20)
BEGIN;
UPDATE counters SET n = n + 1 WHERE id = :c;
INSERT INTO log (counter, at_n) SELECT id, n FROM counters WHERE id = :c;
END;
};
close $fh;
open($fh, '>', "$wdir/kv.sql") or die;
print $fh q{\set k random(1, 40)
\set d random(1, 40)
BEGIN;
INSERT INTO kv VALUES (:k, 1) ON CONFLICT (k) DO UPDATE SET v = kv.v + 1;
DELETE FROM kv WHERE k = :d AND v % 3 = 0;
END;
};
close $fh;
pgbench_on($src, '-n', '-c', '3', '-t', '400', '-b', 'tpcb-like@2',
	'-f', "$wdir/counter.sql\@2", '-f', "$wdir/kv.sql\@1");
my $blind_end = lsn_now($src);	# part 3 applies up to here
pgbench_on($src, '-n', '-c', '3', '-t', '1100', '-b', 'tpcb-like@2',
	'-f', "$wdir/counter.sql\@2", '-f', "$wdir/kv.sql\@1");
$src->safe_psql('postgres', 'TRUNCATE kv');
$src->safe_psql('postgres', q{BEGIN;
INSERT INTO kv VALUES (1000, 7);
ALTER TABLE counters ADD COLUMN note text DEFAULT 'n';
UPDATE counters SET note = 'ddl' WHERE id = 1;
CREATE INDEX log_at_n ON log (at_n);
INSERT INTO kv VALUES (1001, 8);
COMMIT;});
pgbench_on($src, '-n', '-c', '3', '-t', '700', '-b', 'tpcb-like@1',
	'-f', "$wdir/counter.sql\@2", '-f', "$wdir/kv.sql\@2");
stream_to($src, $dir);
my @commits = grep { /^COMMIT/ } seg_lines($dir, '--verbose');
my ($last_end) = $commits[-1] =~ /end[=:]"?([0-9A-F]+\/[0-9A-F]+)/;
ok($last_end, "last commit ends at $last_end");
cmp_ok(scalar(@commits), '>=', 6000, scalar(@commits) . ' transactions in the segments');

sub all_md5
{
	my ($node, $db) = @_;
	return { map { $_ => table_md5($node, $db, $_) } @tables };
}
my $want = all_md5($src, 'postgres');

# all_sums NODE, DB - per table, the count and a sum of row hashes: no sort,
# cheap enough for every cycle (the final checks compare ordered md5s)
sub all_sums
{
	my ($node, $db) = @_;
	my $q = join(' UNION ALL ', map {
		"SELECT '$_', count(*) || ':' || coalesce(sum(hashtext(x::text)::numeric), 0) FROM $_ x" } @tables);
	return { map { split /\|/ } split /\n/, $node->safe_psql($db, $ApplyTest::PIN . $q) };
}

sub progress
{
	my ($db) = @_;
	return $rep->safe_psql($db,
		"SELECT CASE WHEN to_regclass('tide.progress') IS NULL THEN '0/0' "
		  . "ELSE coalesce((SELECT end_lsn::text FROM tide.progress), '0/0') END");
}

# counters and log agree: every increment logged once, with the value it wrote
sub counters_agree
{
	my ($db) = @_;
	return $rep->safe_psql($db, q{
		SELECT count(*) FROM counters c
		WHERE c.n <> (SELECT count(*) FROM log l WHERE l.counter = c.id)
		   OR c.n <> coalesce((SELECT max(at_n) FROM log l WHERE l.counter = c.id), 0)
		   OR (SELECT count(DISTINCT at_n) FROM log l WHERE l.counter = c.id)
		      <> (SELECT count(*) FROM log l WHERE l.counter = c.id)});
}

# ---- 1. one whole run
my $db = new_replica('whole');
my $t0 = time();
($rc, $out, $err) = apply_to($rep, $db, $dir, '--jobs', '3', '--batch', '200');
my $whole = time() - $t0;
is($rc, 0, '--jobs 3: exit 0') or diag($err);
note("--jobs 3 applied the backlog in ${whole}s: $err");
is_deeply(all_md5($rep, $db), $want, '--jobs 3: every table equal to the source');
is(progress($db), $last_end, '--jobs 3: progress at the end of the last commit');
is(counters_agree($db), '0', '--jobs 3: counters equal their log rows');
is($rep->safe_psql($db, q{SELECT count(*) FROM pg_indexes WHERE indexname = 'log_at_n'}) . ':'
	  . $rep->safe_psql($db, q{SELECT string_agg(note, ',' ORDER BY id) FILTER (WHERE note <> 'n') FROM counters}),
	'1:ddl', '--jobs 3: the captured DDL ran, between the changes around it');
like($err, qr/captured DDL commands run/, '--jobs 3: the summary counts captured DDL');
my ($units, $waited) = $err =~ /--jobs 3: (\d+) units, (\d+) of which waited/;
cmp_ok($units // 0, '>', 20, "--jobs 3: the backlog went in " . ($units // '?') . " units");
cmp_ok($waited // 0, '>', 0, "--jobs 3: " . ($waited // '?') . " units waited for an earlier one (shared rows)");
like($err, qr/(\d+) ran alone \(barriers\)/, '--jobs 3: barriers counted');
like($err, qr/[1-9]\d* transactions spanning blocks applied on the run's own session/,
	'--jobs 3: the 100k-row load ran on the run\'s own session');
my ($barriers) = $err =~ /(\d+) ran alone/;
cmp_ok($barriers // 0, '>=', 1, 'the TRUNCATE ran alone');
my ($rtx, $xids) = $err =~ /(\d+) replica transactions, (\d+) XIDs/;
cmp_ok($xids // 1e9, '<=', scalar(@commits) / 20, "replica XIDs ($xids) stay few against " . scalar(@commits) . " source transactions");

# ---- 2. kill -9 mid-apply, restart with --jobs 3; a reference replica
# applied with --jobs 1 --until the progress LSN must be equal each time.
# The kills come at 10-50% of the time a whole run took, so that some hit
# before the first commit (the 100k-row load) and most after it; a run that
# gets to the end starts over on new databases.
my $kdb = new_replica('killed');
my $refdb = new_replica('ref');

sub lsn_minus_one
{
	my ($lsn) = @_;
	my ($hi, $lo) = map { hex } split m{/}, $lsn;
	my $v = $hi * 4294967296 + $lo - 1;
	return sprintf('%X/%X', int($v / 4294967296), $v % 4294967296);
}

sub running
{
	my ($h) = @_;
	return eval { $h->pump_nb; 1 } && $h->pumpable;
}

my ($kills, $moved, $prev) = (0, 0, '0/0');
for (my $cycle = 1; $cycle <= 12 && ($kills < 3 || $moved < 2); $cycle++)
{
	my ($h, $hout, $herr) = tide_start('apply', '-d', $rep->connstr($kdb), '-D', $dir,
		'--jobs', '3', '--batch', '200', '-q');
	if ($moved < 2)
	{
		# until two kills have landed after progress: wait (bounded) for
		# this run's first commit, then kill at a random moment after it,
		# so a loaded machine cannot make every kill land before one
		my $t0 = time;
		usleep(50_000) while running($h) && progress($kdb) eq $prev && time - $t0 < 60;
		usleep(int(1e6 * $whole * rand(0.2)));
	}
	else
	{
		usleep(int(1e6 * $whole * (0.1 + rand(0.4))));
	}
	if (!running($h))
	{
		$h->finish;
		is($h->result(0), 0, "cycle $cycle: apply reached the end before the kill") or diag($$herr);
		is(progress($kdb), $last_end, "cycle $cycle: at the end; starting over");
		$rep->safe_psql('postgres', "DROP DATABASE $_") for ($kdb, $refdb);
		$kdb = new_replica($kdb);
		$refdb = new_replica($refdb);
		$prev = '0/0';
		next;
	}
	$h->signal('KILL');
	$h->finish;
	$kills++;
	my $now = progress($kdb);
	is($rep->safe_psql($kdb, "SELECT '$now'::pg_lsn >= '$prev'::pg_lsn"), 't',
		"cycle $cycle: progress $prev -> $now did not go back");
	$moved++ if $now ne $prev && $now ne $last_end;
	$prev = $now;
	next if $now eq '0/0';
	# the killed applier's sessions may still be ending: wait for their locks
	$rep->poll_query_until($kdb, "SELECT count(*) = 0 FROM pg_stat_activity WHERE datname = '$kdb' AND pid <> pg_backend_pid()")
	  or diag('sessions of the killed applier linger');
	($rc, $out, $err) = apply_to($rep, $refdb, $dir, '--until', lsn_minus_one($now), '-q');
	is($rc, 0, "cycle $cycle: reference replica up to $now") or diag($err);
	is(progress($refdb), $now, "cycle $cycle: reference stops at the same transaction");
	is_deeply(all_sums($rep, $kdb), all_sums($rep, $refdb),
		"cycle $cycle: after kill -9 at $now the replica is the source's state at that point");
	is(counters_agree($kdb), '0', "cycle $cycle: counters equal their log rows");
}
diag("087_apply_jobs: $kills kills mid-apply, $moved after progress");
cmp_ok($kills, '>=', 3, "$kills kills hit mid-apply");
cmp_ok($moved, '>=', 2, "$moved of them after progress was made");
($rc, $out, $err) = apply_to($rep, $kdb, $dir, '--jobs', '3', '--batch', '200');
is($rc, 0, 'after the kills: --jobs 3 runs to the end') or diag($err);
is_deeply(all_md5($rep, $kdb), $want, 'after the kills: every table equal to the source');
is(progress($kdb), $last_end, 'after the kills: progress at the end of the last commit');
is(counters_agree($kdb), '0', 'after the kills: no increment lost or applied twice');
is($rep->safe_psql($kdb, 'SELECT count(*) FROM tide.progress'), '1', 'one progress row');

# ---- 3. dependencies the tracker does not see: the first 1200 transactions
# after the load, against a reference applied with --jobs 1
my $bdb = new_replica('blind');
my $bref = new_replica('blindref');
($rc, $out, $err) = apply_to($rep, $bref, $dir, '--until', $blind_end, '-q');
is($rc, 0, 'blind tracker: reference up to the first part of the workload') or diag($err);
{
	local $ENV{TIDE_TEST_JOBS_BLIND} = '1';
	($rc, $out, $err) = apply_to($rep, $bdb, $dir, '--jobs', '3', '--batch', '100', '--until', $blind_end);
}
is($rc, 0, 'blind tracker: exit 0') or diag($err);
is_deeply(all_md5($rep, $bdb), all_md5($rep, $bref), 'blind tracker: every table equal to the reference');
is(progress($bdb), progress($bref), 'blind tracker: progress equal to the reference\'s');
is(counters_agree($bdb), '0', 'blind tracker: counters equal their log rows');
my ($retried) = $err =~ /(\d+) retried after a deadlock/;
my $fallbacks = () = $err =~ /a batch failed on the replica/g;
note("blind: $retried retried units, $fallbacks one-at-a-time passes");
cmp_ok(($retried // 0), '>', 0, "blind tracker: later units gave way and were retried ($retried)");

# ---- 4. a TRUNCATE of a table --tables keeps together with one it leaves
# out (randomized harness, torture seed 515290053: the unit carried the
# description of the kept table only; the worker met the other's OID in the
# TRUNCATE and stopped, exit 70, "row refers to a relation not described
# before").  As without --jobs: the kept table is emptied, the other is
# not touched, and the replica need not have it.
{
	$src->safe_psql('postgres', 'CREATE DATABASE trunc');
	my $tsql = 'CREATE TABLE keep (id int PRIMARY KEY, v text); CREATE TABLE gone (id int PRIMARY KEY, v text)';
	$src->safe_psql('trunc', $tsql);
	my $tdir = seg_dir('segs_trunc');
	($rc, $out, $err) = tide_run('stream', '-d', $src->connstr('trunc'), '-S', 'trunc', '-D', $tdir,
		'--create-slot', '--endpos', lsn_now($src), '-q');
	is($rc, 0, 'TRUNCATE with a table left out: slot created') or diag($err);
	$src->safe_psql('trunc', q{
INSERT INTO keep SELECT g, 'k' || g FROM generate_series(1, 10) g;
INSERT INTO gone SELECT g, 'g' || g FROM generate_series(1, 5) g;
TRUNCATE keep, gone;
INSERT INTO keep VALUES (100, 'after');
INSERT INTO gone VALUES (100, 'after');
});
	($rc, $out, $err) = tide_run('stream', '-d', $src->connstr('trunc'), '-S', 'trunc', '-D', $tdir,
		'--endpos', lsn_now($src), '-q');
	is($rc, 0, 'TRUNCATE with a table left out: streamed') or diag($err);
	for my $jobs (1, 2)
	{
		my $tdb = replica_db($rep, "trunc_j$jobs", 'CREATE TABLE keep (id int PRIMARY KEY, v text)');
		($rc, $out, $err) = apply_to($rep, $tdb, $tdir, '--jobs', $jobs, '--tables', 'public.keep');
		is($rc, 0, "TRUNCATE of a kept table and one --tables leaves out, --jobs $jobs: exit 0") or diag($err);
		is($rep->safe_psql($tdb, "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM keep"), '100:after',
			"TRUNCATE of a kept table and one --tables leaves out, --jobs $jobs: the kept table emptied, then its new row");
	}
}

done_testing();
