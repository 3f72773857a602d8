# tests/tap/t/088_apply_binary_values.pl - values reach the replica in
# their types' binary form (COPY's binary format, binary parameters) where
# the replica column's base type is the source's, and read back exactly as
# the source's: every fixed-width type at its edges, numeric, arrays,
# ranges, text-like types with COPY's special bytes, bytea, jsonb.  A table
# with a column that cannot go in binary (an enum, xml), and a column whose
# replica type has the source's name but another base type, take text.
# `--values text` gives the same replica.  The replica's statement log
# shows which COPY format each table took.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;
use ApplyTest;

my $types = q{
CREATE DOMAIN small AS int4 CHECK (VALUE > -1000000);
CREATE TABLE fixed (id int8 PRIMARY KEY, b bool, c "char", i2 int2, i4 int4, o oid,
  f4 float4, f8 float8, d date, t time, ttz timetz, ts timestamp, tz timestamptz,
  iv interval, m money, mac macaddr, mac8 macaddr8, u uuid, dom small);
CREATE TABLE varied (id int PRIMARY KEY, n numeric, n2 numeric(10,2), a int4[], ta text[],
  vc varchar(8), bp char(6), nm name, tx text, by bytea, js json, jb jsonb,
  ip inet, r int4range, p point, ts3 timestamp(3));
CREATE TABLE keyed (u uuid, tz timestamptz, f8 float8, v text, PRIMARY KEY (u, tz, f8));
CREATE TYPE mood AS ENUM ('ok', 'meh');
CREATE TABLE texty (id int PRIMARY KEY, md mood, x xml, i int4);
};
# "wide" has the source's name on the replica, over int8 there
my $shadow = q{CREATE DOMAIN wide AS int4; CREATE TABLE shadow (id int PRIMARY KEY, s wide);};
(my $repshadow = $shadow) =~ s/AS int4/AS int8/;

my ($src, $dir) = apply_source('src', $types . $shadow);
$src->safe_psql('postgres', q{
INSERT INTO fixed VALUES
 (1, true, 'a', -32768, -2147483648, 4294967295, 'NaN', '-0', '-infinity', '00:00', '23:59:59.999999+14:59',
  '294276-12-31 23:59:59.999999', 'infinity', '-178000000 years -2 days -00:00:00.000001', '-92233720368547758.08',
  '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', -999999),
 (2, false, '\377', 32767, 2147483647, 0, '-Infinity', '1e-320', '4713-01-01 BC', '24:00:00', '00:00-15:59',
  '4713-01-01 00:00:00 BC', '-infinity', '178000000 years 1 mon', '92233720368547758.07',
  'ff:ff:ff:ff:ff:ff', '00:00:00:00:00:00:00:00', '00000000-0000-0000-0000-000000000000', 0),
 (3, NULL, NULL, NULL, NULL, NULL, '3.4028235e38', '1.7976931348623157e308', '2000-01-01', '12:34:56.789012',
  '12:00+05:30', '2000-01-01 00:00:00', '1999-12-31 23:59:59.999999+00', '1 day -1 second', '0.01',
  NULL, NULL, NULL, NULL),
 (4, true, ' ', 0, 0, 1, '1.4e-45', 'NaN', 'infinity', '00:00:00.000001', '00:00:00+00', '-infinity',
  '2024-02-29 12:00:00.5+01', '0', '0', '01:02:03:04:05:06', 'ff:ee:dd:cc:bb:aa:99:88',
  'ffffffff-ffff-ffff-ffff-ffffffffffff', 42);
INSERT INTO fixed SELECT 5, b, c, i2, i4, o, f4, f8, d, t, ttz, ts, tz, iv, m, mac, mac8, u, dom FROM fixed WHERE id = 4;
INSERT INTO varied VALUES
 (1, 'NaN', 12345678.91, '{1,NULL,-3}', E'{"a\\tb","c\\\\d",NULL,"NULL",""}', 'eight ch', 'ab', 'a name',
  E'tab\there\nnewline\\\\back\rcr', '\x00ff5c0a09', '{"k": [1, 2.50, "x"]}', '{"k": [1, 2.50, "x\ty"], "z": null}',
  '10.1.2.3/8', '[1,10)', '(1.5,-2.25)', '2024-01-01 00:00:00.123'),
 (2, '-123456789012345678901234567890.123456789', -0.01, '{}', '{}', '', '', '', '', '\x', 'null', '"s"',
  '::1', 'empty', '(0,0)', '-infinity'),
 (3, 'Infinity', 0, '{{1,2},{3,4}}', '{x}', NULL, 'six ch', NULL, NULL, NULL, NULL, '[]',
  '2001:db8::ff00:42:8329', '(,5]', NULL, NULL),
 (4, '0.000000000000000000000000000001', 99999999.99, NULL, NULL, 'é€😀', 'ü', 'ß', E'\\\\N', '\x5c4e',
  '{"deep": {"deeper": [[[]]]}}', '{"a": {"b": {"c": [1e100, -1e-100, 0.0]}}}', NULL, '[-2147483648,2147483647)', NULL, NULL);
INSERT INTO keyed SELECT ('00000000-0000-0000-0000-00000000000' || i)::uuid,
  '2024-01-01 00:00:00+00'::timestamptz + i * interval '1 microsecond', i * 0.1, 'v' || i
  FROM generate_series(1, 9) i;
INSERT INTO texty VALUES (1, 'ok', '<a>1</a>', 1), (2, 'meh', NULL, 2);
INSERT INTO shadow VALUES (1, 7), (2, -999999);
});
$src->safe_psql('postgres', q{
UPDATE fixed SET f8 = f8 / 3, tz = '2024-03-10 02:30:00+00', iv = iv + '1 mon', u = 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' WHERE id = 3;
UPDATE varied SET n = n * 2, a = CASE WHEN array_ndims(a) = 2 THEN a ELSE a || 5 END, jb = jb || '{"new": true}', tx = tx || E'\t!' WHERE id IN (2, 3, 4);
UPDATE keyed SET v = 'changed' WHERE u = '00000000-0000-0000-0000-000000000003';
UPDATE keyed SET f8 = -0.5 WHERE u = '00000000-0000-0000-0000-000000000004';
DELETE FROM keyed WHERE tz = '2024-01-01 00:00:00.000005+00';
DELETE FROM fixed WHERE id = 5;
UPDATE shadow SET s = s + 1;
UPDATE texty SET md = 'meh', i = i + 10 WHERE id = 1;
});
stream_to($src, $dir);

my $rep = replica_node('rep', "log_statement = 'all'\nlog_min_duration_statement = -1\n");
replica_db($rep, 'bin', $types . $repshadow);
replica_db($rep, 'txt', $types . $repshadow);

my ($rc, $out, $err) = apply_to($rep, 'bin', $dir);
is($rc, 0, 'apply (binary values, the default) exits 0') or diag($err);
($rc, $out, $err) = apply_to($rep, 'txt', $dir, '--values', 'text');
is($rc, 0, 'apply --values text exits 0') or diag($err);

for my $t (qw(fixed varied keyed texty shadow))
{
	my $want = table_md5($src, 'postgres', $t);
	is(table_md5($rep, 'bin', $t), $want, "$t: binary values equal the source's");
	is(table_md5($rep, 'txt', $t), $want, "$t: text values equal the source's");
}
# exact bits where text could round: floats, -0, the domain's check ran
is($rep->safe_psql('bin', q{SELECT string_agg(float8send(f8)::text || float4send(f4)::text, ',' ORDER BY id) FROM fixed}),
	$src->safe_psql('postgres', q{SELECT string_agg(float8send(f8)::text || float4send(f4)::text, ',' ORDER BY id) FROM fixed}),
	'float bits identical');
is($rep->safe_psql('bin', q{SELECT string_agg(c::int4::text, ',' ORDER BY id) FROM fixed}),
	$src->safe_psql('postgres', q{SELECT string_agg(c::int4::text, ',' ORDER BY id) FROM fixed}),
	'"char" bytes kept (a high byte, a space)');
is($rep->safe_psql('bin', q{SELECT string_agg(length(bp)::text || ':' || octet_length(bp::bytea)::text, ',' ORDER BY id) FROM varied}),
	$src->safe_psql('postgres', q{SELECT string_agg(length(bp)::text || ':' || octet_length(bp::bytea)::text, ',' ORDER BY id) FROM varied}),
	'char(n) padding as on the source');

# which COPY format each table took, from the replica's statement log:
# (bin is applied first, txt second: each table lists its formats in that order)
my $log = slurp_file($rep->logfile);
my @copies = ($log =~ /statement: (COPY \S+)[^\n]*?FROM STDIN( \(FORMAT binary\))?$/mg);
my %fmt;
my $n = 0;
while (my ($what, $bin) = splice(@copies, 0, 2))
{
	push @{ $fmt{$what} }, $bin ? 'binary' : 'text';
	$n++;
}
note(join(', ', map { "$_: @{ $fmt{$_} }" } sort keys %fmt));
ok($n >= 10, "the replica logged $n COPY statements");
is($fmt{'COPY "public"."fixed"'}[0], 'binary', 'fixed: binary COPY');
is($fmt{'COPY "public"."varied"'}[0], 'binary', 'varied: binary COPY');
is($fmt{'COPY "public"."keyed"'}[0], 'binary', 'keyed: binary COPY');
is((grep { /tide_stage/ } keys %fmt) ? $fmt{ (grep { /tide_stage/ } sort keys %fmt)[0] }[0] : 'none', 'binary',
	'a stage table of the set-based updates: binary COPY');
is(join(' ', @{ $fmt{'COPY "public"."texty"'} }), 'text text', 'texty (enum, xml): text COPY, both runs');
is(join(' ', @{ $fmt{'COPY "public"."shadow"'} }), 'text text',
	'shadow (a domain of the source\'s name over another base type): text COPY, both runs');
is($fmt{'COPY "public"."fixed"'}[1], 'text', '--values text: fixed as text');
is($fmt{'COPY "public"."varied"'}[1], 'text', '--values text: varied as text');

# a bad --values is a usage error naming the choices
($rc, $out, $err) = apply_to($rep, 'bin', $dir, '--values', 'fast');
is($rc, 2, 'an unknown --values exits 2');
like($err, qr/invalid --values "fast".*binary \(the default\) or text/s, 'and names the choices');

done_testing();
