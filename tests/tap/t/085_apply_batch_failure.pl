# tests/tap/t/085_apply_batch_failure.pl - a failure inside a batch never
# hides where to fix it: the source transactions before the failing one
# are committed (the batch is applied again one source transaction at a
# time up to the failure), and the message names the table, the column,
# both shapes, the transaction's commit LSN and time, and the command that
# continues.  After the replica is fixed, that command goes on.  A new
# partition the replica lacks gets a hint too.  Group commit is unchanged
# on the way (few replica XIDs when nothing fails).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;
use ApplyTest;

my $schema = q{
CREATE TABLE acct (id int PRIMARY KEY, bal int, note text);
CREATE TABLE ev (id int, at int, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE ev_1 PARTITION OF ev FOR VALUES FROM (0) TO (100);
};
my ($src, $dir) = apply_source('src', $schema);
$src->safe_psql('postgres', "INSERT INTO acct SELECT g, g * 10, 'n' || g FROM generate_series(1, 100) g");
for my $i (1 .. 200)
{
	$src->safe_psql('postgres', "UPDATE acct SET bal = bal + 1 WHERE id = " . (1 + $i % 100));
}
my $before = $src->safe_psql('postgres', 'SELECT md5(string_agg(a::text, \'|\' ORDER BY id)) FROM acct a');
my $l0 = lsn_now($src);
# the shape changes on the source: a transaction of the new shape
$src->safe_psql('postgres', 'ALTER TABLE acct ALTER bal TYPE bigint');
$src->safe_psql('postgres', "INSERT INTO acct VALUES (1000, 5000000000, 'big')");
my $l1 = lsn_now($src);
for my $i (1 .. 50)
{
	$src->safe_psql('postgres', "UPDATE acct SET bal = bal + 1 WHERE id = " . (1 + $i % 100));
}
stream_to($src, $dir);

my $rep = replica_node('rep');
replica_db($rep, 'r', $schema);
my $x0 = $rep->safe_psql('r', 'SELECT pg_snapshot_xmax(pg_current_snapshot())');
my ($rc, $out, $err) = apply_to($rep, 'r', $dir);
is($rc, 4, 'a transaction of the new shape: exit 4');
note($err);
like($err, qr/column "bal" of table "public\.acct" has type integer on the replica but bigint on the source/,
	'... naming table, column and both types');
like($err, qr/source: public\.acct \(id integer, bal bigint, note text\)/, '... the source\'s shape');
like($err, qr/replica: public\.acct \(id integer, bal integer, note text\)/, '... the replica\'s shape');
my ($lsn) = $err =~ /commit LSN ([0-9A-F]+\/[0-9A-F]+)/;
$lsn //= '0/0';
ok($lsn ne '0/0' && $src->safe_psql('postgres', "SELECT '$lsn'::pg_lsn > '$l0' AND '$lsn'::pg_lsn <= '$l1'") eq 't',
	'... the commit LSN of the failing source transaction') or diag($err);
like($err, qr/committed \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/, '... its commit time');
like($err, qr/this command continues with that transaction: tide apply -d .+ -D \S+/, '... and the command that continues');
unlike($err, qr/password/i, 'no connection string in the message');
is($rep->safe_psql('r', 'SELECT md5(string_agg(a::text, \'|\' ORDER BY id)) FROM acct a'), $before,
	'every transaction before it is applied');
ok($rep->safe_psql('r', "SELECT bool_and(end_lsn <= '$lsn' AND end_lsn >= '$l0'::pg_lsn - 1000) FROM tide.progress") eq 't',
	'progress is right before it');
my $xids = $rep->safe_psql('r', 'SELECT pg_snapshot_xmax(pg_current_snapshot())') - $x0;
cmp_ok($xids, '<=', 301 + 5, "the failure path spent $xids XIDs (one per source transaction at most)");

# the operator fixes the replica for the new shape; the same command goes on
$rep->safe_psql('r', 'ALTER TABLE acct ALTER bal TYPE bigint');
$x0 = $rep->safe_psql('r', 'SELECT pg_snapshot_xmax(pg_current_snapshot())');
($rc, $out, $err) = apply_to($rep, 'r', $dir);
is($rc, 0, 'after the fix the rerun goes on') or diag($err);
is(table_md5($rep, 'r', 'acct'), table_md5($src, 'postgres', 'acct'), 'acct equal to the source');
$xids = $rep->safe_psql('r', 'SELECT pg_snapshot_xmax(pg_current_snapshot())') - $x0;
cmp_ok($xids, '<=', 3, "51 source transactions in $xids replica XIDs (group commit)");

# ---- a partition the replica lacks
$src->safe_psql('postgres', 'INSERT INTO ev VALUES (1, 50)');
$src->safe_psql('postgres', 'CREATE TABLE ev_2 PARTITION OF ev FOR VALUES FROM (100) TO (200)');
$src->safe_psql('postgres', 'INSERT INTO ev VALUES (2, 150)');
stream_to($src, $dir);
($rc, $out, $err) = apply_to($rep, 'r', $dir);
is($rc, 4, 'a row for a partition the replica lacks: exit 4');
like($err, qr/no partition of relation "ev" found for row/, '... with the server\'s reason');
like($err, qr/hint: .*create the partition/i, '... a hint to create it');
like($err, qr/commit LSN [0-9A-F]+\/[0-9A-F]+/, '... and the transaction');
is($rep->safe_psql('r', 'SELECT string_agg(id || \'@\' || at, \',\') FROM ev'), '1@50',
	'the transaction before it is committed');
$rep->safe_psql('r', 'CREATE TABLE ev_2 PARTITION OF ev FOR VALUES FROM (100) TO (200)');
($rc, $out, $err) = apply_to($rep, 'r', $dir);
is($rc, 0, 'after creating the partition the rerun goes on') or diag($err);
is(table_md5($rep, 'r', 'ev'), table_md5($src, 'postgres', 'ev'), 'ev equal to the source');

done_testing();
