# tests/tap/t/080_apply_truncate.pl - a TRUNCATE never removes rows the
# source kept: a partition the replica lacks (its rows sit in another
# partition there) and a TRUNCATE ... CASCADE meeting replica-only foreign
# keys or tables left out by --tables stop apply (exit 4) naming the table,
# after committing every transaction before it; where the replica matches,
# exactly the listed tables are emptied.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;
use ApplyTest;

my ($src, $dir) = apply_source('src', q{
CREATE TABLE pm (id int, m int, v text) PARTITION BY RANGE (m);
CREATE TABLE pm_jan PARTITION OF pm FOR VALUES FROM (1) TO (2);
CREATE TABLE pm_feb PARTITION OF pm FOR VALUES FROM (2) TO (3);
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (id int PRIMARY KEY, pid int REFERENCES parent);
CREATE TABLE other (id int PRIMARY KEY);
});

my %lsn;
$src->safe_psql('postgres', "INSERT INTO pm VALUES (1, 1, 'jan a'), (2, 1, 'jan b'), (3, 2, 'feb a'), (4, 2, 'feb b')");
$src->safe_psql('postgres', 'INSERT INTO parent VALUES (1), (2); INSERT INTO child VALUES (10, 1), (11, 2)');
$src->safe_psql('postgres', 'INSERT INTO other VALUES (1)');
$lsn{before_jan} = lsn_now($src);
$src->safe_psql('postgres', 'TRUNCATE pm_jan');
$src->safe_psql('postgres', 'INSERT INTO other VALUES (2)');
$lsn{before_cascade} = lsn_now($src);
$src->safe_psql('postgres', 'TRUNCATE parent CASCADE');
$src->safe_psql('postgres', 'INSERT INTO other VALUES (3)');
stream_to($src, $dir);

my $rep = replica_node('rep');
my $tables = q{
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (id int PRIMARY KEY, pid int REFERENCES parent);
CREATE TABLE other (id int PRIMARY KEY);
};
my $progress = 'SELECT end_lsn FROM tide.progress';

# ---- 2: a leaf the replica lacks: its rows are in pm_all, with February's
replica_db($rep, 'r_part', q{
CREATE TABLE pm (id int, m int, v text) PARTITION BY RANGE (m);
CREATE TABLE pm_all PARTITION OF pm FOR VALUES FROM (1) TO (3);
CREATE TABLE other (id int PRIMARY KEY);
});
my ($rc, $out, $err) = apply_to($rep, 'r_part', $dir, '--tables', 'public.pm,public.other');
is($rc, 4, 'truncate of a partition the replica lacks: exit 4');
note($err);
like($err, qr/cannot apply TRUNCATE of table "public\.pm_jan"/, '... naming the source table');
like($err, qr/"public\.pm"/, '... and the replica table that holds its rows');
like($err, qr/create the same partitions on the replica.*--tables/s, '... and the choices');
like($err, qr/commit LSN [0-9A-F]+\/[0-9A-F]+/, '... and the transaction');
is($rep->safe_psql('r_part', 'SELECT string_agg(v, \',\' ORDER BY id) FROM pm'), 'jan a,jan b,feb a,feb b',
	'no row of pm was removed (February is intact)');
is($rep->safe_psql('r_part', 'SELECT string_agg(id::text, \',\' ORDER BY id) FROM other'), '1',
	'the transactions before the TRUNCATE are committed');
ok($rep->safe_psql('r_part', "SELECT end_lsn <= '$lsn{before_jan}' AND end_lsn > '0/0' FROM tide.progress") eq 't',
	'progress stops right before it');
# the way out the message offers: leave the table out
($rc, $out, $err) = apply_to($rep, 'r_part', $dir, '--tables', 'public.other');
is($rc, 0, 'rerun with the table left out by --tables') or diag($err);
is(table_md5($rep, 'r_part', 'other'), table_md5($src, 'postgres', 'other'), '... then the rest is applied');

# ---- 3: TRUNCATE parent CASCADE (the source lists parent and child)
# a replica-only table referencing parent
replica_db($rep, 'r_extra', $tables . q{
CREATE TABLE notes (id int PRIMARY KEY, pid int REFERENCES parent);
SET session_replication_role = replica;
INSERT INTO notes VALUES (100, 1), (101, 2);
});
($rc, $out, $err) = apply_to($rep, 'r_extra', $dir, '--tables', 'public.parent,public.child,public.other');
is($rc, 4, 'replica-only foreign key: exit 4');
note($err);
like($err, qr/cannot apply TRUNCATE of table "public\.parent"/, '... naming the truncated table');
like($err, qr/"public\.notes"/, '... and the referencing table');
is($rep->safe_psql('r_extra', 'SELECT count(*) FROM notes'), '2', 'the replica-only rows are kept');
is($rep->safe_psql('r_extra', 'SELECT count(*) FROM parent') . '/' . $rep->safe_psql('r_extra', 'SELECT count(*) FROM child'),
	'2/2', 'parent and child untouched by the failed transaction');
is($rep->safe_psql('r_extra', 'SELECT string_agg(id::text, \',\' ORDER BY id) FROM other'), '1,2',
	'the transactions before the TRUNCATE are committed');
ok($rep->safe_psql('r_extra', "SELECT end_lsn <= '$lsn{before_cascade}' AND end_lsn > '$lsn{before_jan}' FROM tide.progress") eq 't',
	'progress stops right before it');

# a referencing table left out by --tables (it holds rows of its own)
replica_db($rep, 'r_excl', $tables . q{
SET session_replication_role = replica;
INSERT INTO child VALUES (99, 1);
});
($rc, $out, $err) = apply_to($rep, 'r_excl', $dir, '--tables', 'public.parent,public.other');
is($rc, 4, 'referencing table left out by --tables: exit 4');
like($err, qr/"public\.child"/, '... naming it');
is($rep->safe_psql('r_excl', 'SELECT string_agg(id::text, \',\' ORDER BY id) FROM child'), '99',
	'the table left out keeps its rows');

# a replica shaped like the source: exactly the listed tables are emptied
replica_db($rep, 'r_same', $tables);
($rc, $out, $err) = apply_to($rep, 'r_same', $dir, '--tables', 'public.parent,public.child,public.other');
is($rc, 0, 'same foreign keys as the source: exit 0') or diag($err);
for my $t (qw(parent child other))
{
	is(table_md5($rep, 'r_same', $t), table_md5($src, 'postgres', $t), "$t equal to the source");
}

done_testing();
