# tests/tap/t/103_bootstrap_checks.pl - tide bootstrap checks what the
# restore needs before restoring anything (a failure costs seconds, not the
# hours of a restore): the roles that privileges and policies name, the
# extensions (there, and creatable by the role), the encoding; --no-acl
# leaves privileges out.  --until is checked against the source's clock,
# not the clock of the host that took the base.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;
use Time::HiRes qw(usleep);

my $src = tide_node('boot_src');
$src->safe_psql('postgres', q{
CREATE ROLE app_owner; CREATE ROLE app_reader; CREATE ROLE app_policy;
CREATE DATABASE app; CREATE DATABASE extdb; CREATE DATABASE extdb2; CREATE DATABASE clk;
});
$src->safe_psql('app', q{
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 100) i;
ALTER TABLE t OWNER TO app_owner;
GRANT SELECT ON t TO app_reader;
CREATE TABLE p (id int PRIMARY KEY);
ALTER TABLE p ENABLE ROW LEVEL SECURITY;
CREATE POLICY pp ON p TO app_policy USING (true);
});
# an extension no server has: the catalog row of a real one, renamed
$src->safe_psql('extdb', q{
CREATE EXTENSION tsm_system_rows;
UPDATE pg_extension SET extname = 'tide_test_missing' WHERE extname = 'tsm_system_rows';
CREATE TABLE e (id int PRIMARY KEY);
});
# an extension only a superuser may create
$src->safe_psql('extdb2', q{CREATE EXTENSION pageinspect; CREATE TABLE e (id int PRIMARY KEY);});
is($src->safe_psql('postgres',
	"SELECT trusted FROM pg_available_extension_versions WHERE name = 'pageinspect' LIMIT 1"), 'f',
	'pageinspect is not a trusted extension');

my $top = PostgreSQL::Test::Utils::tempdir('top');
my %dir;
for my $db (qw(app extdb extdb2))
{
	$dir{$db} = "$top/$db";
	my ($rc, $out, $err) = tide_run('base', '-d', $src->connstr($db), '-S', "s_$db", '-D', $dir{$db});
	is($rc, 0, "base of $db") or diag($err);
}

my $rep = PostgreSQL::Test::Cluster->new('boot_rep');
$rep->init;
$rep->start;
$rep->safe_psql('postgres', q{
CREATE DATABASE r1; CREATE DATABASE r2; CREATE DATABASE r3; CREATE DATABASE r6; CREATE DATABASE r7;
CREATE ROLE boot LOGIN; CREATE DATABASE r4 OWNER boot;
});

sub boot
{
	my ($db, $base, @opts) = @_;
	return tide_run('bootstrap', '-d', $rep->connstr($db), '-D', $dir{$base}, @opts);
}

sub restored
{
	my ($db, $table) = @_;
	return $rep->safe_psql($db, "SELECT to_regclass('public.$table') IS NOT NULL");
}

# ---- roles named by privileges and policies
my ($rc, $out, $err) = boot('r1', 'app');
is($rc, 4, 'missing roles: exit 4');
like($err, qr/the replica lacks 3 roles the base names: "app_owner", "app_policy", "app_reader"/,
	'names every missing role');
like($err, qr/hint: .*--no-acl.*nothing was restored/, 'hints at --no-acl');
is(restored('r1', 't'), 'f', 'before restoring anything');

($rc, $out, $err) = boot('r1', 'app', '--no-acl');
is($rc, 4, '--no-acl: a policy\'s role is still needed');
like($err, qr/the replica lacks 1 role the base names: "app_policy"/, 'only that one');
is(restored('r1', 't'), 'f', 'nothing restored');

$rep->safe_psql('postgres', 'CREATE ROLE app_policy');
($rc, $out, $err) = boot('r1', 'app', '--no-acl');
is($rc, 0, '--no-acl with the policy role: bootstrapped') or diag($err);
like($err, qr/privileges are not restored \(--no-acl\)/, 'says privileges are left out');
is($rep->safe_psql('r1', 'SELECT count(*) FROM t'), 100, 'rows restored');
is($rep->safe_psql('r1', "SELECT relacl IS NULL, pg_get_userbyid(relowner) FROM pg_class WHERE relname = 't'"),
	't|postgres', 'no privileges, owned by the role that bootstrapped');

$rep->safe_psql('postgres', 'CREATE ROLE app_owner; CREATE ROLE app_reader');
($rc, $out, $err) = boot('r2', 'app');
is($rc, 0, 'every role there: bootstrapped with privileges') or diag($err);
is($rep->safe_psql('r2', "SELECT has_table_privilege('app_reader', 'public.t', 'SELECT')"), 't',
	'the GRANT was restored');

# ---- extensions
($rc, $out, $err) = boot('r3', 'extdb');
is($rc, 4, 'an extension the replica server lacks: exit 4');
like($err, qr/the replica cannot create an extension the base needs: "tide_test_missing"/, 'named');
like($err, qr/extension "tide_test_missing": not installed on the replica server/, 'with why');
is(restored('r3', 'e'), 'f', 'nothing restored');

($rc, $out, $err) = tide_run('bootstrap', '-d', $rep->connstr('r4') . ' user=boot', '-D', $dir{extdb2});
is($rc, 4, 'an untrusted extension and a role that is no superuser: exit 4');
like($err, qr/extension "pageinspect": not trusted: only a superuser may create it/, 'named, with why');
is(restored('r4', 'e'), 'f', 'nothing restored');

# ---- encoding
my $enc = $src->safe_psql('postgres', "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = 'app'");
my $other = $enc eq 'LATIN1' ? 'LATIN2' : 'LATIN1';
$rep->safe_psql('postgres', "CREATE DATABASE r5 ENCODING '$other' LOCALE 'C' TEMPLATE template0");
($rc, $out, $err) = boot('r5', 'app');
is($rc, 4, 'another encoding: exit 4');
like($err, qr/the replica database "r5" has encoding $other, the source $enc/, 'says both');
like($err, qr/createdb --encoding=$enc --template=template0/, 'and how to create it');
is(restored('r5', 't'), 'f', 'nothing restored');

# ---- --until against the source's clock, not this host's
# tide runs with its clock an hour behind the source's: the base's commit
# after T must still count as after T
$src->safe_psql('clk', q{CREATE TABLE c (id int PRIMARY KEY, at text);
INSERT INTO c SELECT i, 'before' FROM generate_series(1, 10) i;});
my $t = $src->safe_psql('clk',
	q{SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'});
usleep(1_100_000);
$src->safe_psql('clk', q{INSERT INTO c SELECT i, 'after' FROM generate_series(11, 20) i;});
my ($lib) = glob('/usr/lib/*/faketime/libfaketime.so.1');
ok($lib, 'libfaketime is installed');
$dir{clk} = "$top/clk";
{
	local $ENV{LD_PRELOAD} = $lib;
	local $ENV{FAKETIME} = '-3600';
	local $ENV{DONT_FAKE_MONOTONIC} = '1';
	($rc, $out, $err) = tide_run('base', '-d', $src->connstr('clk'), '-S', 's_clk', '-D', $dir{clk});
}
is($rc, 0, 'base taken on a host whose clock is an hour behind the source') or diag($err);
($rc, $out, $err) = boot('r6', 'clk', '--until', $t);
is($rc, 2, '--until T before the base\'s last commit by the source\'s clock: exit 2');
like($err, qr/--until \Q$t\E is before base/, 'says so');
like($err, qr/commits up to .* by the source's clock/, 'by the source\'s clock');
is(restored('r6', 'c'), 'f', 'nothing restored (the base holds commits after T)');

my $later = $src->safe_psql('clk',
	q{SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'});
($rc, $out, $err) = boot('r7', 'clk', '--until', $later);
is($rc, 0, '--until after the base by the source\'s clock: bootstrapped') or diag($err);
is($rep->safe_psql('r7', 'SELECT count(*) FROM c'), 20, 'the base restored');

done_testing();
