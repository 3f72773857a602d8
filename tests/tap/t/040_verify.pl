# tests/tap/t/040_verify.pl - tide verify between two plain servers: equal
# data reads equal whatever the replica's session defaults and partition
# layout; planted differences are narrowed down to exactly their keys.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use TideTest;

my $common = q{
CREATE TABLE big (id int PRIMARY KEY, v text, n numeric);
CREATE TABLE comp (name text, seq int, val text, PRIMARY KEY (name, seq));
CREATE TABLE nokey (a int, b text);
CREATE TABLE "Weird ""T""" ("col with space" int PRIMARY KEY, "Ünï ""q""" text);
CREATE TABLE parted (id int, k int, v text, PRIMARY KEY (id, k)) PARTITION BY RANGE (k);
CREATE TABLE gone (id int PRIMARY KEY);
CREATE TABLE ident (a int NOT NULL, b text);
CREATE UNIQUE INDEX ident_a ON ident (a);
ALTER TABLE ident REPLICA IDENTITY USING INDEX ident_a;
};
# the replica: kinds with its columns in another order, one partition
# instead of two, schema "other" named "other_r"
my $src_only = q{
CREATE TABLE kinds (id int PRIMARY KEY, j jsonb, n numeric, ts timestamptz, b bytea,
  f float8, t text, iv interval, d date);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (100);
CREATE TABLE parted_2 PARTITION OF parted FOR VALUES FROM (100) TO (200);
CREATE SCHEMA other;
CREATE TABLE other.t (id int PRIMARY KEY, v text);
CREATE TABLE coll (name text COLLATE "C" PRIMARY KEY, v int);
};
my $rep_only = q{
CREATE TABLE kinds (d date, iv interval, t text, f float8, b bytea, ts timestamptz,
  n numeric, j jsonb, id int PRIMARY KEY);
CREATE TABLE parted_all PARTITION OF parted FOR VALUES FROM (0) TO (200);
CREATE SCHEMA other_r;
CREATE TABLE other_r.t (id int PRIMARY KEY, v text);
CREATE TABLE coll (name text COLLATE "und-x-icu" PRIMARY KEY, v int);
};
my $data = q{
INSERT INTO big SELECT i, md5(i::text), i * 1.5 FROM generate_series(1, 50000) i;
INSERT INTO comp SELECT 'name ' || (i % 50), i, 'v' || i FROM generate_series(1, 2000) i;
INSERT INTO nokey SELECT i % 100, 'x' || (i % 7) FROM generate_series(1, 1000) i;
INSERT INTO kinds (id, j, n, ts, b, f, t, iv, d)
  SELECT i,
    CASE WHEN i % 3 = 0 THEN NULL ELSE jsonb_build_object('i', i, 'a', jsonb_build_array(i, 'x', 1.50)) END,
    CASE WHEN i % 5 = 0 THEN NULL ELSE i / 7.0 END,
    '2024-01-01 00:00:00+00'::timestamptz + i * interval '1 hour 1.25 second',
    CASE WHEN i % 4 = 0 THEN NULL ELSE decode(md5(i::text), 'hex') END,
    i / 3.0::float8,
    CASE WHEN i % 2 = 0 THEN NULL ELSE E'quote '' back\\ tab\t nl\n ünï ' || i END,
    i * interval '1 day 3 min', date '2000-02-28' + i
  FROM generate_series(1, 500) i;
INSERT INTO "Weird ""T""" SELECT i, E'a "q" \'' || i FROM generate_series(1, 100) i;
INSERT INTO parted SELECT i, i % 200, 'p' || i FROM generate_series(1, 3000) i;
INSERT INTO gone SELECT generate_series(1, 10);
INSERT INTO ident SELECT i, 'i' || i FROM generate_series(1, 300) i;
INSERT INTO coll SELECT chr(65 + i % 26) || i, i FROM generate_series(1, 200) i;
INSERT INTO coll SELECT chr(97 + i % 26) || i, -i FROM generate_series(1, 200) i;
};

my $src = PostgreSQL::Test::Cluster->new('verify_src');
$src->init;
$src->start;
$src->safe_psql('postgres', $common . $src_only . $data
	  . q{INSERT INTO other.t SELECT i, 'o' || i FROM generate_series(1, 20) i;});

my $rep = PostgreSQL::Test::Cluster->new('verify_rep');
$rep->init;
$rep->start;
# other session defaults than the source's: verify must fix them itself
$rep->safe_psql('postgres', q{
ALTER DATABASE postgres SET timezone = 'Asia/Tokyo';
ALTER DATABASE postgres SET datestyle = 'SQL, DMY';
ALTER DATABASE postgres SET intervalstyle = 'sql_standard';
ALTER DATABASE postgres SET extra_float_digits = -2;
ALTER DATABASE postgres SET bytea_output = 'escape';
});
$rep->safe_psql('postgres', $common . $rep_only . $data
	  . q{INSERT INTO other_r.t SELECT i, 'o' || i FROM generate_series(1, 20) i;});

my $s = $src->connstr('postgres');
my $r = $rep->connstr('postgres');
my @map = ('--map', 'other=other_r');

sub verify
{
	return tide_run('verify', '-s', $s, '-d', $r, @_);
}

# lines of --json output, decoded
sub json_lines
{
	my ($out) = @_;
	return map { decode_json($_) } grep { /\S/ } split /\n/, $out;
}

# ---- equal
my $t0 = time;
my ($rc, $out, $err) = verify(@map);
my $took = time - $t0;
is($rc, 0, 'equal data: exit 0') or diag("$out\n$err");
note($out);
diag(sprintf('verify of equal data (50k-row table and 9 more) took %.2f s', $took));
like($out, qr/^public\.big: equal \(50000 rows, 5 chunks\)$/m, 'big equal, 5 chunks');
like($out, qr/^public\.comp: equal \(2000 rows, 1 chunk\)$/m, 'composite key table equal');
like($out, qr/^public\.nokey: equal \(1000 rows, no primary key or replica identity index: compared as a whole\)$/m,
	'keyless table compared as a whole');
like($out, qr/^public\.kinds: equal \(500 rows, 1 chunk\)$/m,
	'types and NULLs equal across other session defaults and column order');
like($out, qr/^public\."Weird ""T""": equal \(100 rows, 1 chunk\)$/m, 'hostile identifiers');
like($out, qr/^public\.parted: equal \(3000 rows, 1 chunk\)$/m,
	'partitioned table compared through its root, whatever the replica partitions');
unlike($out, qr/parted_/, 'partitions are not listed on their own');
like($out, qr/^public\.ident: equal \(300 rows, 1 chunk\)$/m, 'replica identity index as the key');
like($out, qr/^other\.t: equal \(20 rows, 1 chunk\)$/m, '--map');
like($out, qr/^public\.coll: equal \(400 rows, 1 piece by key hash\)$/m,
	'key collations differ: compared by key hash');
like($err, qr/key columns of "public\.coll" have different collations/, 'and says so');
like($out, qr/^verify: 10 tables equal, 0 different$/m, 'summary');

($rc, $out, $err) = verify('--chunk', '7', '--tables', 'public.comp,public.Weird*', '--tables', 'public.ident');
is($rc, 0, 'small chunks: equal') or diag("$out\n$err");
like($out, qr/^public\.comp: equal \(2000 rows, 286 chunks\)$/m, '--chunk 7 on 2000 rows');
like($out, qr/^verify: 3 tables equal, 0 different$/m, '--tables, comma-separated and repeated');
($rc, $out, $err) = verify('--chunk', '7', '--tables', 'public.coll');
is($rc, 0, 'differing key collations, small chunks: equal') or diag("$out\n$err");
like($out, qr/^public\.coll: equal \(400 rows, 58 pieces by key hash\)$/m, 'pieces of about --chunk rows');

# ---- differences
$rep->safe_psql('postgres', q{
UPDATE big SET v = 'changed' WHERE id = 31337;
DELETE FROM big WHERE id = 40000;
DELETE FROM big WHERE id BETWEEN 20001 AND 20040;
INSERT INTO big VALUES (60001, 'extra', 0), (0, 'extra below', 0);
UPDATE kinds SET n = 42 WHERE id = 5;
UPDATE comp SET val = 'changed' WHERE name = 'name 7' AND seq = 1007;
INSERT INTO nokey VALUES (1, 'x1');
DROP TABLE gone;
UPDATE "Weird ""T""" SET "Ünï ""q""" = 'other' WHERE "col with space" = 50;
});

$t0 = time;
($rc, $out, $err) = verify(@map);
$took = time - $t0;
is($rc, 1, 'differences: exit 1') or diag("$out\n$err");
note($out);
diag(sprintf('verify with differences took %.2f s', $took));
like($out, qr/^public\.big: DIFFERENT: \d+ ranges \(50000 rows on source, 49961 on replica, 5 chunks\)$/m,
	'big is different');
like($out, qr/^public\.gone: DIFFERENT: missing on the replica$/m, 'missing table');
like($out, qr/^public\.nokey: DIFFERENT: 1000 rows on source, 1001 on replica/m, 'keyless table differs');
like($out, qr/^public\.parted: equal/m, 'untouched table still equal');
like($out, qr/^verify: 4 tables equal, 6 different$/m, 'summary');
like($out, qr/^  keys \(313\d\d\) \.\. \(313\d\d\): (\d+) rows on source, \1 on replica; differing: \(31337\)$/m,
	'text report of a changed row')
  or diag($out);

# the same through --json, checked exactly
($rc, $out, $err) = verify(@map, '--json');
is($rc, 1, '--json: exit 1') or diag($err);
my @j = json_lines($out);
my %status = map { $_->{table} => $_->{status} } grep { exists $_->{status} } @j;
is_deeply(\%status, {
	'public.big' => 'different', 'public.comp' => 'different',
	'public.kinds' => 'different', 'public.nokey' => 'different',
	'public.gone' => 'different', 'public."Weird ""T"""' => 'different',
	'public.parted' => 'equal', 'public.ident' => 'equal', 'other.t' => 'equal',
	'public.coll' => 'equal',
}, 'exactly the right tables differ');

my %keys;	# table => class => [keys]
for my $l (grep { exists $_->{range} } @j)
{
	ok($l->{source_rows} <= 16 && $l->{replica_rows} <= 16,
		"$l->{table} range $l->{range}{from} .. $l->{range}{to} is small");
	for my $class (qw(differing missing_on_replica extra_on_replica))
	{
		push @{ $keys{ $l->{table} }{$class} }, @{ $l->{$class} };
	}
}
is_deeply($keys{'public.big'}, {
	differing => ['(31337)'],
	missing_on_replica => [ map { "($_)" } 20001 .. 20040, 40000 ],
	extra_on_replica => [ '(0)', '(60001)' ],
}, 'big: exactly the changed, deleted and extra keys');
is_deeply($keys{'public.kinds'},
	{ differing => ['(5)'], missing_on_replica => [], extra_on_replica => [] },
	'kinds: NULL changed to a value');
is_deeply($keys{'public.comp'},
	{ differing => ['("name 7",1007)'], missing_on_replica => [], extra_on_replica => [] },
	'composite key');
is_deeply($keys{'public."Weird ""T"""'},
	{ differing => ['(50)'], missing_on_replica => [], extra_on_replica => [] },
	'hostile identifiers');
my ($sum) = grep { $_->{summary} } @j;
is_deeply([ $sum->{equal}, $sum->{different} ], [ 4, 6 ], 'json summary');

# the reported ranges contain their keys, with smaller chunks too
($rc, $out, $err) = verify('--tables', 'public.big', '--chunk', '1000', '--json');
is($rc, 1, '--chunk 1000: exit 1');
my %big;
for my $l (grep { exists $_->{range} } json_lines($out))
{
	my ($from) = $l->{range}{from} =~ /(\d+)/;
	my ($to) = $l->{range}{to} =~ /(\d+)/;
	for my $k (map { /(\d+)/ } @{ $l->{differing} }, @{ $l->{missing_on_replica} }, @{ $l->{extra_on_replica} })
	{
		$big{$k} = 1;
		ok($from <= $k && $k <= $to, "key $k inside reported range $from .. $to");
	}
	ok($l->{source_rows} <= 16 && $l->{replica_rows} <= 16, "range $from .. $to is small");
}
is_deeply([ sort { $a <=> $b } keys %big ], [ 0, 20001 .. 20040, 31337, 40000, 60001 ],
	'--chunk 1000 finds the same keys');

# ---- a large difference is summarised in text: counts, the first --keys
# keys, the number of ranges left out; --json still lists every key
$rep->safe_psql('postgres', 'CREATE TABLE many (id int PRIMARY KEY, v text)');
$src->safe_psql('postgres', 'CREATE TABLE many (id int PRIMARY KEY, v text)');
$src->safe_psql('postgres', "INSERT INTO many SELECT g, 'v' FROM generate_series(1, 3000) g");
$rep->safe_psql('postgres', "INSERT INTO many SELECT g, 'v' FROM generate_series(1, 3000) g WHERE g NOT BETWEEN 1001 AND 2000");
($rc, $out, $err) = verify('--tables', 'public.many');
is($rc, 1, 'a thousand rows missing: exit 1');
like($out, qr/^  0 differing, 1000 missing on replica, 0 extra on replica$/m, 'counted');
my @named = map { /\((\d+)\)/g } $out =~ /missing on replica: ([^;\n]*)/g;
is(scalar(@named), 50, 'the first 50 missing keys named (--keys default)') or diag($out);
is(join(',', @named[0 .. 2]), '1001,1002,1003', 'in key order');
is(scalar(grep { $_ < 1001 || $_ > 2000 } @named), 0, 'only missing keys');
like($out, qr/^  \.\.\. and \d+ more differing ranges \(--keys names more keys, --json lists all\)$/m,
	'the rest is a count');
my @mlines = split /\n/, $out;
cmp_ok(scalar(@mlines), '<', 12, 'a few lines, not one per range') or diag($out);
($rc, $out, $err) = verify('--tables', 'public.many', '--keys', '0');
unlike($out, qr/^  keys /m, '--keys 0: no range line');
like($out, qr/1000 missing on replica/, '--keys 0: the counts still');
($rc, $out, $err) = verify('--tables', 'public.many', '--json');
my @mj = json_lines($out);
my $nmiss = 0;
$nmiss += scalar(@{ $_->{missing_on_replica} }) for grep { exists $_->{range} } @mj;
is($nmiss, 1000, '--json lists every missing key');
my ($mt) = grep { ($_->{table} // '') eq 'public.many' && exists $_->{status} } @mj;
is_deeply([ @$mt{qw(differing_rows missing_rows extra_rows)} ], [ 0, 1000, 0 ], '--json: the counts');
$src->safe_psql('postgres', 'DROP TABLE many');
$rep->safe_psql('postgres', 'DROP TABLE many');

# ---- --tables and --map
($rc, $out, $err) = verify('--tables', 'public.parted,public.ident');
is($rc, 0, '--tables selecting equal tables: exit 0') or diag("$out\n$err");
like($out, qr/^verify: 2 tables equal, 0 different$/m, 'only the selected tables');
($rc, $out, $err) = verify('--tables', 'other.*');
is($rc, 1, 'without --map the schema is missing');
like($out, qr/^other\.t: DIFFERENT: missing on the replica$/m, 'named missing');
($rc, $out, $err) = verify('--tables', 'other.*', @map);
is($rc, 0, 'with --map equal');
# one pattern rule for decoder, apply and verify: schema.table, '*' only
($rc, $out, $err) = verify('--tables', 'public.parted,*');
is($rc, 2, 'a pattern that is not schema.table: exit 2');
like($err, qr/^tide: error: invalid table pattern "\*" in --tables$/m, 'the pattern named');
($rc, $out, $err) = verify('--tables', 'public.parte?,public.iden[t]');
like($err, qr/no table to compare matches --tables/, "'?' and brackets are no wildcards");
($rc, $out, $err) = verify('--tables', 'p*c.*ted,*.ide*');
is($rc, 0, "'*' in both parts: exit 0") or diag("$out\n$err");
like($out, qr/^verify: 2 tables equal, 0 different$/m, "'*' in both parts selects both tables");

# ---- errors
my $dead = 'host=' . $src->host . ' port=1 dbname=postgres connect_timeout=5';
($rc, $out, $err) = tide_run('verify', '-s', $dead, '-d', $r);
is($rc, 3, 'bad source connection: exit 3');
like($err, qr/^tide: error: could not connect to the source: /m, 'source message');
($rc, $out, $err) = tide_run('verify', '-s', $s, '-d', "$r password=sekrit user=nobody");
is($rc, 4, 'bad replica connection: exit 4');
like($err, qr/^tide: error: could not connect to the replica: /m, 'replica message');
unlike($err, qr/sekrit/, 'no password in messages');
($rc, $out, $err) = tide_run('verify', '-s', $s);
is($rc, 2, 'no replica: exit 2');
like($err, qr/no replica given/, 'says what is missing');
($rc, $out, $err) = verify('--chunk', '0');
is($rc, 2, '--chunk 0: exit 2');
($rc, $out, $err) = verify('--map', 'nonsense');
is($rc, 2, 'bad --map: exit 2');
($rc, $out, $err) = tide_run('verify', '--help');
is($rc, 0, '--help');
like($out, qr/Usage: tide verify/, '--help prints usage');

done_testing();
