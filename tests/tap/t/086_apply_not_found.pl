# tests/tap/t/086_apply_not_found.pl - an UPDATE or DELETE that matches no
# row on the replica is a divergence: apply stops (exit 4) naming the table,
# the key and the source transaction's commit LSN, on the set-based path and
# on the statement path alike, after committing every transaction before
# it.  --on-conflict skip (a replica loaded from a dump taken after the
# slot) counts such changes instead.
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
CREATE TABLE nf (id int PRIMARY KEY, v text);
CREATE TABLE other (id int PRIMARY KEY);
};
my ($src, $dir) = apply_source('src', $schema);
$src->safe_psql('postgres', q{
INSERT INTO nf SELECT g, 'v' || g FROM generate_series(1, 5) g;
INSERT INTO other VALUES (1);
});
my %lsn;
$lsn{until} = lsn_now($src);
$src->safe_psql('postgres', 'INSERT INTO other VALUES (2)');
$lsn{c0} = lsn_now($src);
$src->safe_psql('postgres', "UPDATE nf SET v = 'x' WHERE id = 2");       # set-based UPDATE
$lsn{c1} = lsn_now($src);
$src->safe_psql('postgres', 'INSERT INTO other VALUES (3)');
$lsn{e0} = lsn_now($src);
$src->safe_psql('postgres', 'UPDATE nf SET id = 30 WHERE id = 3');       # a key update: a statement
$lsn{e1} = lsn_now($src);
$src->safe_psql('postgres', 'DELETE FROM nf WHERE id = 4');              # set-based DELETE
$lsn{f1} = lsn_now($src);
$src->safe_psql('postgres', 'INSERT INTO other VALUES (4)');
stream_to($src, $dir);

my $rep = replica_node('rep');

# ---- no row matched: a replica that lost rows 2, 3 and 4 of nf
sub in_range
{
	my ($err, $from, $to) = @_;
	my ($l) = $err =~ /commit LSN ([0-9A-F]+\/[0-9A-F]+)/;
	return 0 unless $l;
	return $src->safe_psql('postgres', "SELECT '$l'::pg_lsn > '$from' AND '$l'::pg_lsn <= '$to'") eq 't';
}
replica_db($rep, 'r_nf', $schema);
my ($rc, $out, $err) = apply_to($rep, 'r_nf', $dir, '--tables', 'public.nf,public.other', '--until', $lsn{until});
is($rc, 0, 'nf: the first part applied') or diag($err);
$rep->safe_psql('r_nf', 'DELETE FROM nf WHERE id IN (2, 3, 4)');

($rc, $out, $err) = apply_to($rep, 'r_nf', $dir, '--tables', 'public.nf,public.other');
is($rc, 4, 'set-based UPDATE matching no row: exit 4');
like($err, qr/UPDATE of table "public\.nf" matched no row on the replica/, '... naming the table');
like($err, qr/\(id\)=\(2\)/, '... the key');
ok(in_range($err, $lsn{c0}, $lsn{c1}), '... and the commit LSN of the source transaction') or diag($err);
unlike($err, qr/warning/, '... as an error, not a warning');
is($rep->safe_psql('r_nf', 'SELECT string_agg(id::text, \',\' ORDER BY id) FROM other'), '1,2',
	'the transaction before it is committed');

$rep->safe_psql('r_nf', "INSERT INTO nf VALUES (2, 'v2')");
($rc, $out, $err) = apply_to($rep, 'r_nf', $dir, '--tables', 'public.nf,public.other');
is($rc, 4, 'UPDATE of a key matching no row (statement path): exit 4');
like($err, qr/UPDATE of table "public\.nf" matched no row on the replica/, '... naming the table');
like($err, qr/\(id\)=\(3\)/, '... the key');
ok(in_range($err, $lsn{e0}, $lsn{e1}), '... and the commit LSN') or diag($err);
is($rep->safe_psql('r_nf', 'SELECT string_agg(id::text, \',\' ORDER BY id) FROM other'), '1,2,3',
	'the transactions before it are committed');

$rep->safe_psql('r_nf', "INSERT INTO nf VALUES (3, 'v3')");
($rc, $out, $err) = apply_to($rep, 'r_nf', $dir, '--tables', 'public.nf,public.other');
is($rc, 4, 'set-based DELETE matching no row: exit 4');
like($err, qr/DELETE of table "public\.nf" matched no row on the replica/, '... naming the table');
like($err, qr/\(id\)=\(4\)/, '... the key');
ok(in_range($err, $lsn{e1}, $lsn{f1}), '... and the commit LSN') or diag($err);

$rep->safe_psql('r_nf', "INSERT INTO nf VALUES (4, 'v4')");
($rc, $out, $err) = apply_to($rep, 'r_nf', $dir, '--tables', 'public.nf,public.other');
is($rc, 0, 'with the rows restored, apply goes on') or diag($err);
is(table_md5($rep, 'r_nf', 'nf'), table_md5($src, 'postgres', 'nf'), 'nf equal to the source');
is(table_md5($rep, 'r_nf', 'other'), table_md5($src, 'postgres', 'other'), 'other equal to the source');

# ---- --on-conflict skip: a replica loaded after the slot may lack rows
replica_db($rep, 'r_skip', $schema);
($rc, $out, $err) = apply_to($rep, 'r_skip', $dir, '--tables', 'public.nf,public.other', '--until', $lsn{until});
$rep->safe_psql('r_skip', 'DELETE FROM nf WHERE id IN (2, 3, 4)');
($rc, $out, $err) = apply_to($rep, 'r_skip', $dir, '--tables', 'public.nf,public.other', '--on-conflict', 'skip');
is($rc, 0, '--on-conflict skip: rows not found are no error') or diag($err);
like($err, qr/3 updates or deletes found no row/, '... they are counted');
is($rep->safe_psql('r_skip', 'SELECT string_agg(id::text, \',\' ORDER BY id) FROM nf'), '1,5', '... and skipped');

done_testing();
