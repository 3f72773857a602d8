# tests/tap/t/045_apply_follow.pl - tide apply --follow beside a running
# tide stream under a live workload: the replica trails by a fraction of a
# second (bench/follow.sh measures how much), ends equal to the source, and
# SIGTERM stops it cleanly.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;
use Time::HiRes qw(usleep time);

my $schema = q{
CREATE TABLE acct (id int PRIMARY KEY, balance bigint NOT NULL, note text);
CREATE TABLE hist (id bigserial PRIMARY KEY, acct int, delta int, at timestamptz DEFAULT now());
};
my $src = tide_node('src');
my $conn = $src->connstr('postgres');
$src->safe_psql('postgres', $schema);
$src->safe_psql('postgres', q{
INSERT INTO acct SELECT g, 0, 'n' || g FROM generate_series(1, 500) g;
SELECT pg_create_logical_replication_slot('tide', 'tide');
});
my $rep = PostgreSQL::Test::Cluster->new('rep');
$rep->init;
$rep->start;
$rep->safe_psql('postgres', $schema);
$rep->safe_psql('postgres', q{INSERT INTO acct SELECT g, 0, 'n' || g FROM generate_series(1, 500) g});

my $dir = seg_dir('segs');
my ($st) = tide_start('stream', '-d', $conn, '-S', 'tide', '-D', $dir, '--bucket', '2s',
	'--flush-interval', '200ms', '-q');
# the follower needs the first segment to know its source
ok(wait_for_file("$dir/*.tseg*", 30), 'the streamer opened a segment');

# --follow before there is anything to apply waits for it
my ($ap, $aout, $aerr) = tide_start('apply', '-d', $rep->connstr('postgres'), '-D', $dir,
	'--follow', '--batch', '500');

# a transaction larger than a segment block, applied while the streamer is
# still writing it: the follower abandons the unfinished part and comes back
$src->safe_psql('postgres',
	"INSERT INTO hist (acct, delta) SELECT g % 500, g FROM generate_series(1, 60000) g");
# applied before the steady workload starts, so the lag samples below are
# about following it, not about how long this one takes on a busy machine
ok($rep->poll_query_until('postgres', 'SELECT count(*) = 60000 FROM hist'),
	'the large transaction is applied');

my $script = "$dir/../follow.sql";
open my $fh, '>', $script or die;
print $fh q{
\set id random(1, 500)
\set d random(-100, 100)
BEGIN;
UPDATE acct SET balance = balance + :d WHERE id = :id;
INSERT INTO hist (acct, delta) VALUES (:id, :d);
DELETE FROM hist WHERE id = (SELECT min(id) FROM hist) AND random() < 0.2;
COMMIT;
};
close $fh;
my $pgbench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '2', '-T', '8', '-R', '300', '-f', $script,
	  '-h', $src->host, '-p', $src->port, 'postgres' ],
	'>', \my $pb_out, '2>', \my $pb_err);

# lag samples while the workload runs: how far the replica's last applied
# commit is behind the wall clock (the workload commits continuously)
my @lag;
my $t_end = time() + 8;
usleep(2_000_000);
while (time() < $t_end)
{
	my $l = $rep->safe_psql('postgres',
		"SELECT coalesce(extract(epoch FROM now() - max(commit_time)), 999) FROM tide.progress");
	push @lag, $l if $l ne '';
	$ap->pump_nb;
	usleep(500_000);
}
$pgbench->finish;
is($?, 0, 'workload ran') or diag($pb_err);
my ($max) = sort { $b <=> $a } @lag;
cmp_ok(scalar(@lag), '>=', 5, scalar(@lag) . ' lag samples');
cmp_ok($max, '<', 5, "the replica trails the source by at most ${max}s while following");

# after the workload: caught up within a few seconds, equal to the source
my $end = $src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
my $caught = 0;
for (1 .. 150)
{
	my $src_md5 = $src->safe_psql('postgres',
		"SELECT md5(string_agg(x::text, '' ORDER BY x.id)) FROM acct x") .
	  $src->safe_psql('postgres', "SELECT count(*) FROM hist");
	my $rep_md5 = $rep->safe_psql('postgres',
		"SELECT md5(string_agg(x::text, '' ORDER BY x.id)) FROM acct x") .
	  $rep->safe_psql('postgres', "SELECT count(*) FROM hist");
	if ($src_md5 eq $rep_md5)
	{
		$caught = 1;
		last;
	}
	usleep(100_000);
}
ok($caught, 'the follower caught up after the workload stopped');
for my $t ('acct', 'hist')
{
	my $q = "SELECT count(*) || ':' || md5(string_agg(x::text, '' ORDER BY x.id)) FROM $t x";
	is($rep->safe_psql('postgres', $q), $src->safe_psql('postgres', $q), "$t equal to the source");
}

# SIGTERM: the follower commits what it has and stops with exit 0
$ap->signal('TERM');
$ap->finish;
is($ap->result(0), 0, 'SIGTERM stops the follower cleanly') or diag($$aerr);
like($$aerr, qr/following ".*": the replica is at/, 'the follower says what it follows');
like($$aerr, qr/stopped: \d+ transactions applied/, 'summary on stop');
my $xacts = $src->safe_psql('postgres', "SELECT count(*) FROM hist") ;
$st->signal('TERM');
$st->finish;

# a follower restarted later continues where the replica is, nothing twice
$src->safe_psql('postgres', "UPDATE acct SET balance = balance + 1 WHERE id <= 10");
my $end2 = $src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
my ($rc, $o, $e) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir, '--endpos', $end2, '-q');
is($rc, 0, 'stream the last change');
($rc, $o, $e) = tide_run('apply', '-d', $rep->connstr('postgres'), '-D', $dir);
is($rc, 0, 'a later catch-up applies the rest');
# the one new transaction's changes, nothing of the workload again; a
# transaction holding only the streamer's sequence states ("tide.seq") may
# land after the follower's last look and come with it
like($e, qr/done: \d+ transactions applied, \d+ skipped[^;]*; 0 inserts \(0 by COPY\), 10 updates, 0 deletes, 0 truncates/,
	'exactly the one new transaction\'s changes');
my $q = "SELECT md5(string_agg(x::text, '' ORDER BY x.id)) FROM acct x";
is($rep->safe_psql('postgres', $q), $src->safe_psql('postgres', $q), 'equal after the restart');

# a segment the streamer has just created (header not written yet) is
# left for later, not mistaken for damage
{
	my $fresh = "$dir/20991231T000000Z_00000000FFFFFF00.tseg.partial";
	open my $fh, '>', $fresh or die;
	close $fh;
	my ($frc, $fo, $fe) = tide_run('apply', '-d', $rep->connstr('postgres'), '-D', $dir);
	is($frc, 0, 'an empty newest .partial is not an error') or diag($fe);
	unlink $fresh;
}

done_testing();
