# tests/tap/t/082_apply_text_forms.pl - values read the same whatever the
# replica's defaults for the settings that change a type's text form: a
# replica with lc_monetary = de_DE (money as "1.234,56 €"), array_nulls =
# off, xmloption = document, IntervalStyle = sql_standard, DateStyle =
# 'SQL, DMY', another TimeZone, bytea_output = escape, extra_float_digits =
# -3 gets exactly the source's values, through COPY, set-based updates and
# statements.
#
# Needs a de_DE locale: it is compiled here with localedef from Debian's
# `locales` package (make deps installs it) into a private directory the
# replica server finds through LOCPATH, so the machine's locales are left
# alone.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;
use ApplyTest;

my $locdir = PostgreSQL::Test::Utils::tempdir('locales');
my ($lrc, $lout, $lerr) = ('', '', '');
IPC::Run::run([ 'localedef', '-i', 'de_DE', '-f', 'UTF-8', "$locdir/de_DE.UTF-8" ],
	'<', \undef, '>', \$lout, '2>', \$lerr);
ok(-d "$locdir/de_DE.UTF-8", 'a de_DE.UTF-8 locale compiled with localedef')
  or BAIL_OUT("localedef failed (is Debian's locales package installed? make deps): $lerr");

my $schema = q{
CREATE TABLE vals (id int PRIMARY KEY, m money, tags text[], doc xml, iv interval,
  d date, ts timestamp, tz timestamptz, f float8, b bytea);
};
my ($src, $dir) = apply_source('src', $schema);
$src->safe_psql('postgres', q{
INSERT INTO vals VALUES
 (1, '1234.56', '{a,NULL,"NULL",null}', 'fragment <a/> text', '-1 years +2 mons -3 days +04:05:06.5',
  '2024-02-03', '2024-02-03 04:05:06', '2024-02-03 04:05:06+00', 0.1, '\x00ff'),
 (2, '-0.01', '{NULL}', '<doc/>', '1 day -00:00:01', '0044-03-15 BC', '1999-12-31 23:59:59.999999',
  'infinity', -1e-300, '\x'),
 (3, '92233720368547758.07', '{}', NULL, '-178000000 years', 'epoch', 'epoch', 'epoch', 1.5e300, '\x5c');
});
$src->safe_psql('postgres', q{
UPDATE vals SET m = m + '0.01', tags = tags || '{NULL}'::text[], iv = iv * 2 WHERE id = 1;
UPDATE vals SET id = 20, m = '-12345.67', doc = 'two <b/> roots <c/>' WHERE id = 2;
});
stream_to($src, $dir);

# the replica's own defaults, all different from tide's and PostgreSQL's
$ENV{LOCPATH} = $locdir;
my $rep = replica_node('rep', q{
lc_monetary = 'de_DE.UTF-8'
array_nulls = off
xmloption = document
IntervalStyle = sql_standard
DateStyle = 'SQL, DMY'
TimeZone = 'Pacific/Chatham'
bytea_output = escape
extra_float_digits = -3
});
is($rep->safe_psql('postgres', "SELECT '1234,56'::money"), '1.234,56 €', 'the replica prints money in de_DE');
replica_db($rep, 'r', $schema);
my ($rc, $out, $err) = apply_to($rep, 'r', $dir);
is($rc, 0, 'apply exits 0') or diag($err);
is(table_md5($rep, 'r', 'vals'), table_md5($src, 'postgres', 'vals'), 'every value equal to the source');
is($rep->safe_psql('r', "SET lc_monetary = 'C'; SELECT string_agg(m::text, ' ' ORDER BY id) FROM vals"),
	$src->safe_psql('postgres', "SELECT string_agg(m::text, ' ' ORDER BY id) FROM vals"),
	'money amounts equal');
is($rep->safe_psql('r', "SELECT count(*) FROM vals, unnest(tags) t WHERE t IS NULL"),
	$src->safe_psql('postgres', "SELECT count(*) FROM vals, unnest(tags) t WHERE t IS NULL"),
	'NULL array elements stay NULL');

done_testing();
