# tests/tap/t/100_search_path.pl - a hostile role that may create objects
# in a schema on the default search_path (public on the source, as before
# PostgreSQL 15; on the replica a schema named like the role that
# bootstraps, "$user") defines operators and functions that shadow what
# tide's SQL uses, each logging a marker and trying to make her a
# superuser when it runs: tide base, bootstrap and verify must never run
# them (CVE-2018-1058, invariant 8).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;

# operators on types whose pg_catalog operators need a cast (so these
# would win the resolution), and functions of the same kind
my @ops = qw(= <> < > <= >= ~ !~);
my @pairs = (['name', 'name'], ['varchar', 'varchar'], ['name', 'text'], ['"char"', 'text']);
sub traps
{
my ($schema) = @_;
my $traps = "SET ROLE mallory;\n";
my $i = 0;
for my $p (@pairs)
{
	for my $op (@ops)
	{
		$i++;
		$traps .= qq{
CREATE FUNCTION $schema.trap_$i($p->[0], $p->[1]) RETURNS bool LANGUAGE plpgsql AS \$\$
BEGIN
	RAISE LOG 'tide-pwned: % ran %', current_user, '$op($p->[0], $p->[1])';
	BEGIN EXECUTE 'ALTER ROLE mallory SUPERUSER'; EXCEPTION WHEN OTHERS THEN NULL; END;
	RETURN NULL;
END \$\$;
CREATE OPERATOR $schema.$op (LEFTARG = $p->[0], RIGHTARG = $p->[1], FUNCTION = $schema.trap_$i);
};
	}
}
for my $f ('md5(varchar)', 'md5(name)', 'concat(varchar, varchar)', 'substr(varchar, int, int)',
	'format(varchar, name, name)', 'current_setting(varchar)', 'pg_encoding_to_char(int8)',
	'set_config(varchar, varchar, bool)', 'format_type(oid, int8)', 'mod(int8, int8)')
{
	$i++;
	(my $args = $f) =~ s/^\w+//;
	my ($name) = $f =~ /^(\w+)/;
	$traps .= qq{
CREATE FUNCTION $schema.$name$args RETURNS text LANGUAGE plpgsql AS \$\$
BEGIN
	RAISE LOG 'tide-pwned: % ran %', current_user, '$f';
	BEGIN EXECUTE 'ALTER ROLE mallory SUPERUSER'; EXCEPTION WHEN OTHERS THEN NULL; END;
	RETURN NULL;
END \$\$;
};
}
$traps .= "RESET ROLE;\n";
return $traps;
}

my $hostile = q{
CREATE ROLE mallory LOGIN;
GRANT CREATE ON SCHEMA public TO mallory;
};

my $src = tide_node('sp_src');
$src->safe_psql('postgres', $hostile . q{
CREATE TABLE v (k varchar(20) PRIMARY KEY, n name, x int);
INSERT INTO v SELECT 'k' || i, 'n' || i, i FROM generate_series(1, 40) i;
CREATE TABLE w (a name, b "char", c varchar(5));
INSERT INTO w SELECT 'a' || i, 'b', 'c' FROM generate_series(1, 10) i;
} . traps('public'));

my $rep = PostgreSQL::Test::Cluster->new('sp_rep');
$rep->init;
$rep->start;
# the base brings the source's traps into public; before that, the
# (empty) replica has its own in "postgres", first on the default path
$rep->safe_psql('postgres', $hostile . 'CREATE DATABASE r; GRANT CREATE ON DATABASE r TO mallory;');
$rep->safe_psql('r', 'SET ROLE mallory; CREATE SCHEMA postgres; RESET ROLE;' . traps('postgres'));

my $dir = PostgreSQL::Test::Utils::tempdir('segs');
my ($rc, $out, $err) = tide_run('base', '-d', $src->connstr('postgres'), '-S', 'sp', '-D', $dir);
is($rc, 0, 'tide base') or diag($err);
($rc, $out, $err) = tide_run('bootstrap', '-d', $rep->connstr('r'), '-D', $dir);
is($rc, 0, 'tide bootstrap') or diag($err);
($rc, $out, $err) = tide_run('verify', '-s', $src->connstr('postgres'), '-d', $rep->connstr('r'), '--chunk', '3');
is($rc, 0, 'tide verify: equal') or diag("$out\n$err");
like($out, qr/^public\.v: equal \(40 rows, 14 chunks\)$/m, 'varchar key compared by ranges');
like($out, qr/^public\.w: equal \(10 rows, no primary key/m, 'keyless table');

for my $n ([ 'source', $src, 'postgres' ], [ 'replica', $rep, 'r' ])
{
	my ($side, $node, $db) = @$n;
	my $log = slurp_file($node->logfile);
	my @ran = $log =~ /LOG:\s+(tide-pwned: \S+ ran .*)/g;
	is_deeply(\@ran, [], "no trap ran on the $side");
	is($node->safe_psql($db, "SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'"), 'f',
		"mallory is no superuser on the $side");
}

# the traps are armed: an unpinned session runs one
$rep->safe_psql('r', q{SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname !~ '^pg_toast'});
is($rep->safe_psql('r', "SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'"), 't',
	'(an unpinned superuser session, as bootstrap\'s was, makes mallory a superuser)');

done_testing();
