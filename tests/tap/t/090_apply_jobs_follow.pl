# tests/tap/t/090_apply_jobs_follow.pl - tide apply --jobs N with
# --schema follow: tables, partitions and columns the source creates while
# concurrent writers run reach an empty replica, created by the run's own
# session in the transaction that first needs them, while units run on the
# workers; a kill -9 mid-run leaves the replica at the source's state at
# its progress point (against a reference applied with --until), and the
# rerun ends equal to the source.
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

my $src = tide_node('src');
$src->safe_psql('postgres', q{
CREATE TABLE a (id int PRIMARY KEY, v bigint NOT NULL);
CREATE TABLE ev (day date NOT NULL, id bigserial, what text, PRIMARY KEY (day, id)) PARTITION BY RANGE (day);
CREATE TABLE ev_d1 PARTITION OF ev FOR VALUES FROM ('2026-01-01') TO ('2026-01-02');
INSERT INTO a SELECT g, 0 FROM generate_series(1, 50) g;
});
my $dir = seg_dir('segs');
my $conn = $src->connstr('postgres');
my ($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir,
	'--create-slot', '--endpos', lsn_now($src), '-q');
is($rc, 0, 'slot created') or diag($err);

my $wdir = PostgreSQL::Test::Utils::tempdir('scripts');
sub writers
{
	my ($n, $script) = @_;
	open(my $fh, '>', "$wdir/w.sql") or die;
	print $fh $script;
	close $fh;
	my ($o, $e);
	IPC::Run::run([ 'pgbench', '-n', '-h', $src->host, '-p', $src->port, '-c', '3', '-t', $n,
		'-f', "$wdir/w.sql", 'postgres' ], '<', \undef, '>', \$o, '2>', \$e);
	is($?, 0, "$n x 3 transactions of concurrent writers") or diag($e);
}

# the rows of the table as the source had it before the slot are not in
# the segments: the replica starts from the same rows
my $base = q{CREATE TABLE a (id int PRIMARY KEY, v bigint NOT NULL);
INSERT INTO a SELECT g, 0 FROM generate_series(1, 50) g;};
writers(150, q{\set k random(1, 50)
UPDATE a SET v = v + 1 WHERE id = :k;
INSERT INTO ev (day, what) VALUES ('2026-01-01', 'x' || :k);
});
# a new table, a new column and a new day's partition, among the writers
$src->safe_psql('postgres', q{CREATE TABLE b (k int PRIMARY KEY, n int NOT NULL DEFAULT 0);
INSERT INTO b SELECT g, 0 FROM generate_series(1, 30) g;});
writers(150, q{\set k random(1, 50)
\set j random(1, 30)
UPDATE a SET v = v + 1 WHERE id = :k;
UPDATE b SET n = n + 1 WHERE k = :j;
});
$src->safe_psql('postgres', q{ALTER TABLE a ADD COLUMN note text;
CREATE TABLE ev_d2 PARTITION OF ev FOR VALUES FROM ('2026-01-02') TO ('2026-01-03');});
writers(150, q{\set k random(1, 50)
\set j random(1, 30)
UPDATE a SET v = v + 1, note = 'n' || :j WHERE id = :k;
INSERT INTO ev (day, what) VALUES ('2026-01-02', 'y' || :j);
UPDATE b SET n = n + 1 WHERE k = :j;
});
stream_to($src, $dir);
my @commits = grep { /^COMMIT/ } seg_lines($dir, '--verbose');
my ($last_end) = $commits[-1] =~ /end[=:]"?([0-9A-F]+\/[0-9A-F]+)/;
ok($last_end, "last commit ends at $last_end");

my @tables = qw(a b ev ev_d1 ev_d2);
my %want = map { $_ => table_md5($src, 'postgres', $_) } @tables;
my $rep = replica_node('rep');
sub progress
{
	my ($db) = @_;
	return $rep->safe_psql($db, 'SELECT coalesce(max(end_lsn)::text, \'0/0\') FROM tide.progress');
}

# ---- 1. whole, from a replica holding only the table's base rows
replica_db($rep, 'whole', $base);
($rc, $out, $err) = apply_to($rep, 'whole', $dir, '--jobs', '3', '--batch', '100', '--schema', 'follow');
is($rc, 0, '--jobs 3 --schema follow: exit 0') or diag($err);
is(table_md5($rep, 'whole', $_), $want{$_}, "whole: $_ equal to the source") for @tables;
like($err, qr/--schema follow: CREATE TABLE .*"b"/, 'table b was created');
like($err, qr/--schema follow: ALTER TABLE .*"a".* ADD COLUMN .*"note"/s, 'column a.note was added');
like($err, qr/--schema follow: CREATE TABLE .*"ev_d2".* PARTITION OF/s, 'partition ev_d2 was created');
is(progress('whole'), $last_end, 'progress at the end of the last commit');
my ($units) = $err =~ /--jobs 3: (\d+) units/;
cmp_ok($units // 0, '>=', 5, 'the workers applied units (' . ($units // 'none') . ')');

# ---- 2. kill -9 at random moments; each time the replica equals a
# reference applied up to the same transaction
my $whole = 0;
{
	replica_db($rep, 'timing', $base);
	my $t0 = time;
	apply_to($rep, 'timing', $dir, '--jobs', '3', '--batch', '100', '--schema', 'follow', '-q');
	$whole = time - $t0;
}
sub lsn_minus_one
{
	my ($lsn) = @_;
	my ($hi, $lo) = map { hex } split m{/}, $lsn;
	my $v = $hi * 2**32 + $lo - 1;
	return sprintf('%X/%X', int($v / 2**32), $v % 2**32);
}
my ($kills, $prev) = (0, '0/0');
replica_db($rep, 'k', $base);
for (my $cycle = 1; $cycle <= 8 && $kills < 2; $cycle++)
{
	my ($h, $hout, $herr) = tide_start('apply', '-d', $rep->connstr('k'), '-D', $dir,
		'--jobs', '3', '--batch', '100', '--schema', 'follow', '-q');
	usleep(int(1e6 * $whole * (0.2 + rand(0.6))));
	my $alive = eval { $h->pump_nb; 1 } && $h->pumpable;
	if (!$alive)
	{
		$h->finish;
		last;
	}
	$h->signal('KILL');
	$h->finish;
	my $now = progress('k');
	next if $now eq '0/0' || $now eq $prev;
	$kills++;
	$prev = $now;
	$rep->poll_query_until('k', "SELECT count(*) = 0 FROM pg_stat_activity WHERE datname = 'k' AND pid <> pg_backend_pid()");
	my $ref = "ref$cycle";
	replica_db($rep, $ref, $base);
	($rc, $out, $err) = apply_to($rep, $ref, $dir, '--schema', 'follow', '--until', lsn_minus_one($now), '-q');
	is($rc, 0, "cycle $cycle: reference up to $now") or diag($err);
	for my $t (@tables)
	{
		my $exists = $rep->safe_psql('k', "SELECT to_regclass('public.$t') IS NOT NULL");
		is($exists, $rep->safe_psql($ref, "SELECT to_regclass('public.$t') IS NOT NULL"),
			"cycle $cycle: $t exists on both or neither");
		is(table_md5($rep, 'k', $t), table_md5($rep, $ref, $t),
			"cycle $cycle: after kill -9 at $now, $t is the source's state at that point")
		  if $exists eq 't';
	}
}
note("090: $kills kills after progress");
($rc, $out, $err) = apply_to($rep, 'k', $dir, '--jobs', '3', '--batch', '100', '--schema', 'follow');
is($rc, 0, 'after the kills: runs to the end') or diag($err);
is(table_md5($rep, 'k', $_), $want{$_}, "after the kills: $_ equal to the source") for @tables;
is(progress('k'), $last_end, 'after the kills: progress at the end');

done_testing();
