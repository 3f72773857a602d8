# tests/tap/t/101_verify_gaps.pl - tide verify where it used to say the wrong
# thing: under row-level security (it read nothing and said "equal"), with
# a collation of another provider on one side (equal tables reported
# DIFFERENT), keyless tables (one aggregate over the whole table) and key
# collations that differ (a scan per chunk: quadratic), a user schema named
# "tide" (skipped), and a key type whose order lives in an extension.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;

my $common = q{
CREATE EXTENSION citext;
CREATE TABLE a_secret (id int PRIMARY KEY, owner text, v text);
ALTER TABLE a_secret ENABLE ROW LEVEL SECURITY;
CREATE POLICY mine ON a_secret USING (owner = current_user);
INSERT INTO a_secret SELECT i, 'someone', 'v' || i FROM generate_series(1, 50) i;
CREATE TABLE plain (id int PRIMARY KEY, v text);
INSERT INTO plain SELECT i, 'p' || i FROM generate_series(1, 30) i;
CREATE TABLE bag (a int, b text);
INSERT INTO bag SELECT i % 300, 'x' || (i % 7) FROM generate_series(1, 1000) i;
CREATE TABLE bag_equal (a int, b text);
INSERT INTO bag_equal SELECT i, 'y' FROM generate_series(1, 1000) i;
CREATE SCHEMA tide;
CREATE TABLE tide.users (id int PRIMARY KEY, name text);
INSERT INTO tide.users SELECT i, 'u' || i FROM generate_series(1, 20) i;
CREATE TABLE tide.progress (system_id text, dbname text);
CREATE TABLE ci (k citext PRIMARY KEY, v int);
INSERT INTO ci SELECT CASE WHEN i % 2 = 0 THEN upper(chr(97 + i % 26)) ELSE chr(97 + i % 26) END
  || lpad(i::text, 3, '0'), i FROM generate_series(1, 100) i;
CREATE TABLE ci2 (k citext, n int, v text, PRIMARY KEY (k, n));
INSERT INTO ci2 SELECT CASE WHEN i % 3 = 0 THEN 'AbC' WHEN i % 3 = 1 THEN 'abd' ELSE 'ABE' END, i, 'v' || i
  FROM generate_series(1, 60) i;
CREATE ROLE auditor LOGIN;
GRANT pg_read_all_data TO auditor;
};
my $keys = q{
INSERT INTO icu_keys SELECT k, i FROM (SELECT i, CASE WHEN i % 2 = 0 THEN chr(65 + i % 26) ELSE chr(97 + i % 26) END || i AS k
  FROM generate_series(1, 300) i) s;
INSERT INTO wide_coll SELECT CASE WHEN i % 2 = 0 THEN chr(65 + i % 26) ELSE chr(97 + i % 26) END || i, i
  FROM generate_series(1, 2000) i;
};

my $src = PostgreSQL::Test::Cluster->new('gaps_src');
$src->init;
$src->start;
$src->safe_psql('postgres', $common . q{
CREATE COLLATION kc (provider = icu, locale = 'und-u-kn-true');
CREATE TABLE icu_keys (k text COLLATE kc PRIMARY KEY, v int);
CREATE TABLE wide_coll (name text COLLATE "C" PRIMARY KEY, v int);
INSERT INTO tide.progress VALUES ('1', 'a');
} . $keys);

my $rep = PostgreSQL::Test::Cluster->new('gaps_rep');
$rep->init;
$rep->start;
$rep->safe_psql('postgres', $common . q{
CREATE COLLATION kc (provider = libc, locale = 'C');
CREATE TABLE icu_keys (k text COLLATE kc PRIMARY KEY, v int);
CREATE TABLE wide_coll (name text COLLATE "und-x-icu" PRIMARY KEY, v int);
INSERT INTO tide.progress VALUES ('2', 'b'), ('3', 'c');
} . $keys . q{
DELETE FROM bag WHERE ctid = (SELECT min(ctid) FROM bag WHERE a = 5);
INSERT INTO bag VALUES (7, 'x0'), (7, 'x0');
UPDATE tide.users SET name = 'changed' WHERE id = 13;
UPDATE ci SET v = -1 WHERE k = 'Q042';
UPDATE ci2 SET v = 'changed' WHERE n = 31;
DELETE FROM ci2 WHERE n = 47;
});

my $s = $src->connstr('postgres');
my $r = $rep->connstr('postgres');

sub verify { return tide_run('verify', '-s', $s, '-d', $r, @_); }

# ---- row-level security: a role that cannot see every row must not say "equal"
my ($rc, $out, $err) = tide_run('verify', '-s', "$s user=auditor", '-d', "$r user=auditor",
	'--tables', 'public.a_secret,public.plain');
note($out, $err);
is($rc, 3, 'a table hidden by a policy on the source: exit 3, not 0');
unlike($out, qr/a_secret: equal/, 'never "equal (0 rows)" under row-level security');
like($out, qr/^public\.a_secret: ERROR: could not compare: on the source: .*row-level security.*"a_secret"/m,
	'the report names the table and says why');
like($err, qr/could not compare table "public\.a_secret" on the source: .*row-level security/,
	'so does the error');
like($out, qr/^public\.plain: equal \(30 rows, 1 chunk\)$/m, 'and the next table is still compared');
like($out, qr/^verify: 1 table equal, 0 different, 1 could not be compared$/m, 'summary counts the failure');
($rc, $out, $err) = verify('--tables', 'public.a_secret');
is($rc, 0, 'a superuser reads every row: equal') or diag("$out\n$err");
like($out, qr/^public\.a_secret: equal \(50 rows, 1 chunk\)$/m, 'all 50 rows compared');

# ---- a collation of another provider under the same name: not "the same"
($rc, $out, $err) = verify('--tables', 'public.icu_keys', '--chunk', '7');
is($rc, 0, 'ICU on the source, libc on the replica, same name: equal') or diag("$out\n$err");
like($out, qr/^public\.icu_keys: equal \(300 rows, 43 pieces by key hash\)$/m,
	'compared by key hash, not by ranges the two servers order differently');
like($err, qr/key columns of "public\.icu_keys" have different collations/, 'and says why');

# the same through the database's default collation: ICU on one side, libc on the other
$src->safe_psql('postgres', q{CREATE DATABASE dflt TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'und-u-kn-true'});
$rep->safe_psql('postgres', q{CREATE DATABASE dflt TEMPLATE template0 LOCALE_PROVIDER libc LOCALE 'C'});
for my $n ($src, $rep)
{
	$n->safe_psql('dflt', q{
CREATE TABLE d (k text PRIMARY KEY);
INSERT INTO d SELECT CASE WHEN i % 2 = 0 THEN chr(65 + i % 26) ELSE chr(97 + i % 26) END || i FROM generate_series(1, 200) i;});
}
($rc, $out, $err) = tide_run('verify', '-s', $src->connstr('dflt'), '-d', $rep->connstr('dflt'), '--chunk', '10');
is($rc, 0, 'default collation ICU against libc: equal') or diag("$out\n$err");
like($out, qr/^public\.d: equal \(200 rows, 20 pieces by key hash\)$/m, 'by key hash');

# a planted difference is still found by key hash, and named exactly
$rep->safe_psql('dflt', q{UPDATE d SET k = k || '!' WHERE k = 'C2'; DELETE FROM d WHERE k = 'n39'});
($rc, $out, $err) = tide_run('verify', '-s', $src->connstr('dflt'), '-d', $rep->connstr('dflt'),
	'--chunk', '10', '--json');
is($rc, 1, 'differences by key hash: exit 1');
my %k;
for my $l (map { decode_json($_) } grep { /"range"/ } split /\n/, $out)
{
	push @{ $k{$_} }, @{ $l->{$_} } for qw(differing missing_on_replica extra_on_replica);
	ok(defined $l->{bucket}, 'a hash bucket, not a key range');
}
is_deeply([ sort @{ $k{missing_on_replica} } ], [ '(C2)', '(n39)' ], 'missing keys');
is_deeply($k{extra_on_replica}, [ '(C2!)' ], 'extra key');
is_deeply($k{differing}, [], 'nothing else');

# ---- differing key collations: a fixed number of scans, not one per chunk
sub seq_scans
{
	my ($node) = @_;
	$node->poll_query_until('postgres',
		"SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'tide verify')");
	return $node->safe_psql('postgres',
		"SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'wide_coll'");
}
my @before = (seq_scans($src), seq_scans($rep));
($rc, $out, $err) = verify('--tables', 'public.wide_coll', '--chunk', '10');
is($rc, 0, 'differing key collations, 200 pieces: equal') or diag("$out\n$err");
like($out, qr/^public\.wide_coll: equal \(2000 rows, 200 pieces by key hash\)$/m, 'pieces of --chunk rows');
my @after = (seq_scans($src), seq_scans($rep));
cmp_ok($after[0] - $before[0], '<=', 2, 'source: at most 2 scans of the table (count, buckets), whatever the pieces');
cmp_ok($after[1] - $before[1], '<=', 1, 'replica: 1 scan of the table');

# ---- keyless tables: in pieces, with what only one side has
($rc, $out, $err) = verify('--tables', 'public.bag*', '--chunk', '100');
is($rc, 1, 'keyless table differs: exit 1') or diag("$out\n$err");
like($out, qr/^public\.bag: DIFFERENT: 1000 rows on source, 1001 on replica; 1 only on the source, 2 only on the replica \(no primary key or replica identity index: compared by row hash in 10 pieces\)$/m,
	'a deleted row and a duplicated one, counted');
like($out, qr/^public\.bag_equal: equal \(1000 rows, no primary key or replica identity index: compared by row hash in 10 pieces\)$/m,
	'equal keyless table, in pieces of --chunk rows');

# ---- schema "tide": the user's tables are compared, tide.progress is not
($rc, $out, $err) = verify('--tables', 'tide.*');
is($rc, 1, 'a user table in schema "tide" is compared');
like($out, qr/^tide\.users: DIFFERENT: 1 range/m, 'and its difference found');
unlike($out, qr/tide\.progress/, 'tide.progress is tide\'s own: skipped');

# ---- a key whose order comes from an extension (citext), small chunks
($rc, $out, $err) = verify('--tables', 'public.ci', '--chunk', '5', '--json');
is($rc, 1, 'citext key: the difference is found');
my @ranges = grep { /"range"/ } split /\n/, $out;
is(scalar(@ranges), 1, 'one range');
is_deeply(decode_json($ranges[0])->{differing}, ['(Q042)'], 'exactly the changed key');
like($out, qr/"table": "public.ci", "status": "different", "source_rows": 100, "replica_rows": 100/,
	'every row counted once on each side');

# a key of citext and int: operators of two schemas, spelled out per column
($rc, $out, $err) = verify('--tables', 'public.ci2', '--chunk', '4', '--json');
is($rc, 1, 'citext and int key: the differences are found') or diag($err);
my %c2;
for my $l (map { decode_json($_) } grep { /"range"/ } split /\n/, $out)
{
	push @{ $c2{$_} }, @{ $l->{$_} } for qw(differing missing_on_replica extra_on_replica);
}
is_deeply(\%c2, { differing => ['(abd,31)'], missing_on_replica => ['(ABE,47)'], extra_on_replica => [] },
	'exactly the changed and the deleted key');
like($out, qr/"table": "public.ci2", "status": "different", "source_rows": 60, "replica_rows": 59/,
	'every row counted once on each side');

done_testing();
