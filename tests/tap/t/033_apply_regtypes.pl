# tests/tap/t/033_apply_regtypes.pl - values of the reg* types (regclass,
# regtype, regprocedure, ... and arrays of them) reach a replica as the
# objects they name, not as the source's OIDs: the replica creates the same
# objects in another order, so every OID differs.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;

my $objects_src = q{
CREATE SCHEMA app;
CREATE TABLE app.target (id int);
CREATE TYPE app.color AS ENUM ('red', 'blue');
CREATE FUNCTION app.fn(int, app.color) RETURNS int LANGUAGE sql AS 'SELECT $1';
CREATE TEXT SEARCH CONFIGURATION app.cfg (COPY = pg_catalog.english);
};
# the same objects on the replica, created in another order after others,
# so that none of them gets the source's OID
my $objects_rep = q{
CREATE TABLE pad1 (a int, b text, c jsonb);
CREATE TYPE pad2 AS (x int, y text);
CREATE SCHEMA app;
CREATE TEXT SEARCH CONFIGURATION app.cfg (COPY = pg_catalog.english);
CREATE TYPE app.color AS ENUM ('red', 'blue');
CREATE FUNCTION app.fn(int, app.color) RETURNS int LANGUAGE sql AS 'SELECT $1';
CREATE TABLE pad3 (a int);
CREATE TABLE app.target (id int);
};
my $table = q{
CREATE TABLE regtab (id int PRIMARY KEY, c regclass, t regtype, p regprocedure,
  cfg regconfig, n regnamespace, a regclass[], ta regtype[]);
};

my $src = tide_node('src');
$src->safe_psql('postgres', $objects_src . $table);
my $rep = PostgreSQL::Test::Cluster->new('rep');
$rep->init;
$rep->start;
$rep->safe_psql('postgres', $objects_rep . $table);

for my $obj ("'app.target'::regclass", "'app.color'::regtype", "'app.fn(int, app.color)'::regprocedure",
	"'app.cfg'::regconfig", "'app'::regnamespace")
{
	isnt($rep->safe_psql('postgres', "SELECT ${obj}::oid"), $src->safe_psql('postgres', "SELECT ${obj}::oid"),
		"$obj has another OID on the replica");
}

my $dir = seg_dir('segs');
sub stream
{
	my @extra = @_;
	my ($rc, $out, $err) = tide_run('stream', '-d', $src->connstr('postgres'), '-S', 'tide',
		'-D', $dir, '--bucket', '1s', '-q', '--endpos',
		$src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()'), @extra);
	is($rc, 0, 'stream') or diag($err);
}
stream('--create-slot');

# written by a session whose search_path makes every name unqualified
$src->safe_psql('postgres', q{
SET search_path = app, public;
INSERT INTO regtab VALUES
 (1, 'app.target', 'app.color', 'app.fn(int, app.color)', 'app.cfg', 'app',
  '{app.target,pg_class,public.regtab}', '{app.color,app.color[],int4}'),
 (2, 'pg_class', 'int4', 'lower(text)', 'english', 'pg_catalog', '{}', '{text[]}'),
 (3, 'regtab', NULL, NULL, NULL, NULL, '{NULL,regtab}', NULL),
 (4, 'app.target', 'app.color[]', 'app.fn(int, app.color)', NULL, 'public', NULL, NULL);
});
$src->safe_psql('postgres', q{
SET search_path = app, public;
UPDATE regtab SET c = 'target', a = '{target}' WHERE id = 3;
UPDATE regtab SET id = 5 WHERE c = 'pg_class'::regclass;
DELETE FROM regtab WHERE id = 4;
});
stream();

# the walsender's search_path has public in it: names are qualified anyway
my ($ins) = grep { /^INSERT public\.regtab: id\[integer\]:1 / } seg_lines($dir);
like($ins, qr/ c\[regclass\]:'app\.target' .* a\[regclass\[\]\]:'\{app\.target,pg_class,public\.regtab\}'/,
	'the segment holds schema-qualified names');

my ($rc, $out, $err) = tide_run('apply', '-d', $rep->connstr('postgres'), '-D', $dir, '-q');
is($rc, 0, 'apply') or diag($err);

# both sides print names under the same search_path
my $q = q{SET search_path = pg_catalog;
SELECT id, c, t, p, cfg, n, a, ta FROM public.regtab ORDER BY id};
my $want = $src->safe_psql('postgres', $q);
is($rep->safe_psql('postgres', $q), $want, 'the replica holds the same names as the source');
is($want, join("\n",
	'1|app.target|app.color|app.fn(integer,app.color)|app.cfg|app|{app.target,pg_class,public.regtab}|{app.color,app.color[],integer}',
	'3|app.target|||||{app.target}|',
	'5|pg_class|integer|lower(text)|english|pg_catalog|{}|{text[]}'),
	'the source holds what the workload wrote');
# and the values are the replica's own OIDs for those objects
is($rep->safe_psql('postgres', q{SELECT c = 'app.target'::regclass AND p = 'app.fn(int, app.color)'::regprocedure
  AND t = 'app.color'::regtype FROM regtab WHERE id = 1}), 't', 'the replica values are its own OIDs');

done_testing();
