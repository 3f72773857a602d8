# tests/tap/t/124_base_live.pl - a new base into a live store.  While a
# workload of non-idempotent changes runs (balances incremented) and tide
# stream keeps the slot, tide base takes a second base from a temporary
# slot's exported snapshot.  A replica bootstrapped from it equals the
# source: an overlap between the base and the segments after it would add
# an increment twice, a gap would lose one.  Then retention with
# --keep-bases 1 drops the first base and exactly the history only it
# needed, and the second base still bootstraps a replica equal to the
# source.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;
use Time::HiRes qw(usleep);

my $src = tide_node('src');
my $conn = $src->connstr('postgres');
$src->safe_psql('postgres', q{
CREATE TABLE acct (id int PRIMARY KEY, balance bigint NOT NULL, n int NOT NULL DEFAULT 0);
CREATE TABLE hist (id bigserial PRIMARY KEY, acct int NOT NULL, delta int NOT NULL);
INSERT INTO acct SELECT g, 0 FROM generate_series(1, 100) g;
});
my $dir = seg_dir('segs');
my ($rc, $out, $err) = tide_run('base', '-d', $conn, '-S', 'tide', '-D', $dir);
is($rc, 0, 'the first base starts the history') or diag($err);
my ($base1) = map { s{.*/}{}r } glob("$dir/base/*");

my $script = PostgreSQL::Test::Utils::tempdir('wl') . '/wl.sql';
open my $fh, '>', $script or die;
print $fh q{
\set a random(1, 100)
\set d random(1, 9)
BEGIN;
UPDATE acct SET balance = balance + :d, n = n + 1 WHERE id = :a;
INSERT INTO hist (acct, delta) VALUES (:a, :d);
COMMIT;
};
close $fh;
my $pgbench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '2', '-T', '8', '-R', '300', '-f', $script,
	  '-h', $src->host, '-p', $src->port, 'postgres' ],
	'>', \my $pb_out, '2>', \my $pb_err);
my ($h, $sout, $serr) = tide_start('stream', '-d', $conn, '-S', 'tide', '-D', $dir, '--bucket', '1s');
usleep(2_500_000);

# the second base, while the workload and the stream run
($rc, $out, $err) = tide_run('base', '-d', $conn, '-S', 'tide', '-D', $dir);
is($rc, 0, 'tide base into the live directory') or diag($err);
like($err, qr/joining the history of slot "tide" in ".*" \(from [0-9A-F]+\/[0-9A-F]+\): temporary slot "tide_base_\d+_\d+" at/,
	'it joins the slot\'s history through a temporary slot');
my @bases = sort map { s{.*/}{}r } grep { !/\.partial$/ } glob("$dir/base/*");
is(scalar(@bases), 2, 'two bases');
my $base2 = $bases[1];
open my $mf, '<', "$dir/base/$base2/manifest.json" or die;
my $m2 = decode_json(do { local $/; <$mf> });
close $mf;
is($m2->{slot}, 'tide', 'its manifest names the history\'s slot');
like($m2->{snapshot_slot}, qr/^tide_base_/, '... and the temporary slot its snapshot came from');
is($src->safe_psql('postgres', "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'tide_base_%'"),
	0, 'the temporary slot is gone');
open my $ixf, '<', "$dir/index.json" or die;
my $ix = decode_json(do { local $/; <$ixf> });
close $ixf;
ok(grep({ $_->{name} eq $base2 } @{ $ix->{bases} }), 'the directory\'s index names the new base');

$pgbench->finish;
is($?, 0, 'the workload ran') or diag($pb_err);
cmp_ok($src->safe_psql('postgres', 'SELECT count(*) FROM hist'), '>', 500, 'and changed balances all along');
# the sequences' states last (README "Sequences"), then the end: the
# replica's sequences must be ahead for tide verify
($rc, $out, $err) = tide_run('sync-sequences', '-d', $conn, '-q');
is($rc, 0, 'tide sync-sequences') or diag($err);
my $end = $src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
$h->signal('TERM');
$h->finish;
($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir, '--bucket', '1s', '--endpos', $end, '-q');
is($rc, 0, 'the history to the end') or diag($err);

my %sql = (
	acct => "SELECT count(*) || ':' || sum(balance) || ':' || sum(n) || ':' || md5(string_agg(x::text, '|' ORDER BY id)) FROM acct x",
	hist => "SELECT count(*) || ':' || md5(string_agg(x::text, '|' ORDER BY id)) FROM hist x");
my %want = map { $_ => $src->safe_psql('postgres', $sql{$_}) } keys %sql;

my $rep = PostgreSQL::Test::Cluster->new('rep');
$rep->init;
$rep->start;
my $n = 0;
sub bootstrap_equal
{
	my ($base, $what) = @_;
	my $db = 'r' . ++$n;
	$rep->safe_psql('postgres', "CREATE DATABASE $db");
	my ($rc, $out, $err) = tide_run('bootstrap', '-d', $rep->connstr($db), '-D', $dir, '--base', $base);
	is($rc, 0, "bootstrap from $what") or diag($err);
	is($rep->safe_psql($db, $sql{$_}), $want{$_}, "$what: $_ equal to the source (no change lost, none twice)")
	  for sort keys %sql;
	return $db;
}
my $db2 = bootstrap_equal($base2, 'the base taken under load');
($rc, $out, $err) = tide_run('verify', '-s', $conn, '-d', $rep->connstr($db2));
is($rc, 0, 'tide verify agrees') or diag($out . $err);
bootstrap_equal($base1, 'the first base');

# retention keeps exactly what the newest base needs
sub lsn_num { my ($hi, $lo) = split m{/}, shift; return hex($hi) * 2**32 + hex($lo); }
my @before = sort map { s{.*/}{}r } glob("$dir/*.tseg");
($rc, $out, $err) = tide_run('prune', '--retain', '0s', '--keep-bases', '1', $dir);
is($rc, 0, 'tide prune --keep-bases 1') or diag($err);
like($err, qr/removed base "\Q$base1\E"/, 'the first base goes');
like($err, qr/kept \d+ segments older than the retention window: base "\Q$base2\E" needs them/,
	'the segments the second base needs stay');
ok(!-e "$dir/base/$base1" && -e "$dir/base/$base2/manifest.json", 'one base left, the newest');
open $ixf, '<', "$dir/index.json" or die;
$ix = decode_json(do { local $/; <$ixf> });
close $ixf;
my @left = map { $_->{name} } @{ $ix->{segments} };
is_deeply(\@left, [ sort map { s{.*/}{}r } glob("$dir/*.tseg") ], 'the index names exactly the segments left');
cmp_ok(scalar(@left), '<', scalar(@before), 'older history went');
ok(lsn_num($ix->{segments}[0]{start_lsn}) <= lsn_num($m2->{consistent_point}),
	'the history left reaches back to the base\'s point');
ok(!grep({ lsn_num($_->{end_lsn}) <= lsn_num($m2->{consistent_point}) } @{ $ix->{segments} }[0 .. $#{ $ix->{segments} } - 1]),
	'and no further: every segment left holds changes after it');
bootstrap_equal($base2, 'the newest base after retention');

done_testing();
