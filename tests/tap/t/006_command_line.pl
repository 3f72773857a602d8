# tests/tap/t/006_command_line.pl - one command line: every command takes
# -?/--help and -V/--version, names an unknown option (exit 2), and those
# that connect take psql's connection options (-d, -h, -p, -U, -W) and the
# PG* environment, which really reach the server: each command run against
# clusters on their own (non-default) ports with -h and -p alone, refused
# with the exit class of the side it could not reach.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;

# ---- every command: help, version, unknown options (no server needed)

my ($rc, $out, $err) = tide_run('--help');
is($rc, 0, 'tide --help');
my @commands = $out =~ /^Commands:\n((?:  \S.*\n)+)/m ? map { /^  (\S+)/ } split /\n/, $1 : ();
cmp_ok(scalar(@commands), '>=', 11, "tide --help lists the commands (@commands)");
my ($vrc, $version) = tide_run('--version');
is($vrc, 0, 'tide --version');
like($version, qr/^tide \S+ \(wire format \d+\)$/, "the version: $version");
is((tide_run('-V'))[1], $version, 'tide -V prints the same');

my %connects = map { $_ => 1 } qw(stream base sync-sequences apply bootstrap verify status setup cutover);
for my $c (@commands)
{
	for my $h ('-?', '--help')
	{
		($rc, $out, $err) = tide_run($c, $h);
		is($rc, 0, "tide $c $h: exit 0");
		like($out, qr/^Usage: tide \Q$c\E/, "tide $c $h: usage on stdout");
		like($out, qr/^  -\?, --help /m, "tide $c $h lists -?, --help");
		like($out, qr/^  -V, --version /m, "tide $c $h lists -V, --version");
		is($err, '', "tide $c $h: nothing on stderr");
	}
	if ($connects{$c})
	{
		($rc, $out) = tide_run($c, '--help');
		for my $o ('-d, --dbname=CONNINFO', '-h, --host=HOST', '-p, --port=PORT',
			'-U, --username=NAME', '-w, --no-password', '-W, --password')
		{
			like($out, qr/^  \Q$o\E /m, "tide $c --help lists $o");
		}
	}
	($rc, $out, $err) = tide_run($c, '-V');
	is($rc, 0, "tide $c -V: exit 0");
	is($out, $version, "tide $c -V prints the version");
	($rc, $out, $err) = tide_run($c, '--no-such-option');
	is($rc, 2, "tide $c --no-such-option: exit 2");
	like($err, qr/^tide: error: unknown option "--no-such-option"$/m, "tide $c: names the unknown option");
	like($err, qr/run 'tide \Q$c\E --help'/, "tide $c: says where the options are");
	is($out, '', "tide $c: nothing on stdout for an unknown option");
	($rc, $out, $err) = tide_run($c, '-Z');
	is($rc, 2, "tide $c -Z: exit 2");
	like($err, qr/unknown option "-Z"/, "tide $c: names -Z");
}
($rc, $out, $err) = tide_run('apply', '-D', '/nonexistent', '-h');
is($rc, 2, 'tide apply -h without a value: exit 2 (-h is --host now, as in psql)');
like($err, qr/option "-h" \(--host\) needs a value/, 'names the option and its long form');
($rc, $out, $err) = tide_run('stream', '-S', 's', '--directory');
is($rc, 2, 'a long option without its value: exit 2');
like($err, qr/option "--directory" needs a value/, 'named as written');

# ---- the connection options reach the server

my $src = tide_node('src');
my $rep = PostgreSQL::Test::Cluster->new('rep');
$rep->init;
$rep->start;
note('source on ' . $src->host . ':' . $src->port . ', replica on ' . $rep->host . ':' . $rep->port);
isnt($src->port, 5432, 'the source is not on the default port');
my ($sh, $sp, $rh, $rp) = ($src->host, $src->port, $rep->host, $rep->port);
my @src_hp = ('-h', $sh, '-p', $sp);
my @rep_hp = ('-h', $rh, '-p', $rp);

$src->safe_psql('postgres', q{
CREATE TABLE t (id int PRIMARY KEY, v text);
CREATE SEQUENCE s;
SELECT nextval('s');
SELECT pg_create_logical_replication_slot('cl', 'tide');
INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 100) g;
});
$rep->safe_psql('postgres', 'CREATE DATABASE r; CREATE DATABASE boot;');
$rep->safe_psql('r', 'CREATE TABLE t (id int PRIMARY KEY, v text); CREATE SEQUENCE s;');
my $endpos = $src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
my $dir = seg_dir('segs');

# a command that fails to connect: the exit class of that side, the
# server's own words about the role -U named (so -U reached it)
sub refused
{
	my ($what, $code, @args) = @_;
	my ($rc, $out, $err) = tide_run(@args);
	is($rc, $code, "$what: exit $code");
	like($err, qr/role "nobody_here" does not exist/, "$what: -U reached the server");
}

# tide stream
refused('stream -U unknown', 3, 'stream', @src_hp, '-U', 'nobody_here', '-d', 'postgres',
	'-S', 'cl', '-D', seg_dir('refused'));
($rc, $out, $err) = tide_run('stream', @src_hp, '-d', 'postgres', '-S', 'cl', '-D', $dir,
	'--endpos', $endpos, '--bucket', '1s');
is($rc, 0, 'tide stream -h -p -d NAME') or diag($err);
($rc, $out) = tide_run('ls', '--json', $dir);
my $txns = 0;
$txns += decode_json($_)->{transactions} for split /\n/, $out;
cmp_ok($txns, '>=', 1, "the stream wrote the source's transactions ($txns)");

# tide sync-sequences: PG* variables alone, then -h/-p over a wrong PGPORT
{
	local $ENV{PGHOST} = $sh;
	local $ENV{PGPORT} = $sp;
	local $ENV{PGDATABASE} = 'postgres';
	($rc, $out, $err) = tide_run('sync-sequences');
	is($rc, 0, 'tide sync-sequences with PGHOST, PGPORT, PGDATABASE alone') or diag($err);
	like($out, qr{^[0-9A-F]+/[0-9A-F]+$}, 'prints the LSN of the states it recorded');
	local $ENV{PGUSER} = 'nobody_here';
	refused('sync-sequences with PGUSER unknown', 3, 'sync-sequences');
	delete local $ENV{PGUSER};
	local $ENV{PGPORT} = '1';
	($rc, $out, $err) = tide_run('sync-sequences', '-p', $sp);
	is($rc, 0, '-p overrides PGPORT') or diag($err);
}
($rc, $out, $err) = tide_run('sync-sequences', '-h', $sh, '-p', '1', '-d', 'postgres');
is($rc, 3, 'sync-sequences on a port nobody listens on: exit 3');
like($err, qr/\.s\.PGSQL\.1\b|port 1\b/, 'the message names the port -p gave');

# -d as a URI and as key=value, with -p over what it says
($rc, $out, $err) = tide_run('sync-sequences', '-p', $sp, '-d', "postgresql:///postgres?host=$sh&port=1");
is($rc, 0, '-d URI, -p over its port') or diag($err);
($rc, $out, $err) = tide_run('sync-sequences', '-d', "host=$sh port=$sp dbname=nosuchdb");
is($rc, 3, '-d key=value reaches the server');
like($err, qr/database "nosuchdb" does not exist/, 'the database -d named');

# tide apply, tide verify, tide status (-s: the source's connection string)
refused('apply -U unknown', 4, 'apply', @rep_hp, '-U', 'nobody_here', '-d', 'r', '-D', $dir);
($rc, $out, $err) = tide_run('apply', @rep_hp, '-d', 'r', '-D', $dir);
is($rc, 0, 'tide apply -h -p -d NAME') or diag($err);
is($rep->safe_psql('r', 'SELECT count(*) FROM t'), 100, 'applied to the replica -h/-p named');
($rc, $out, $err) = tide_run('verify', '-s', $src->connstr('postgres'), @rep_hp, '-d', 'r', '--tables', 'public.t');
is($rc, 0, 'tide verify -s CONNINFO -h -p -d NAME') or diag($out . $err);
like($out, qr/verify: 1 table equal, 0 different/, 'verify compared the two servers');
refused('verify -U unknown (the replica)', 4, 'verify', '-s', $src->connstr('postgres'), @rep_hp,
	'-U', 'nobody_here', '-d', 'r');
($rc, $out, $err) = tide_run('status', '-D', $dir, @rep_hp, '-d', 'r', '--json');
is($rc, 0, 'tide status -D DIR -h -p -d NAME') or diag($out . $err);
my $st = decode_json($out);
ok($st->{replica}{progress}{end_lsn_bytes}, 'status read the progress of the replica -h/-p named');
unlike($st->{replica}{conninfo} // '', qr/password/, 'status shows the connection without a password');
refused('status -U unknown', 4, 'status', '-D', $dir, @rep_hp, '-U', 'nobody_here', '-d', 'r');

# tide base (PG* for the host and port), tide bootstrap (-h/-p)
my $bdir = seg_dir('based');
{
	local $ENV{PGHOST} = $sh;
	local $ENV{PGPORT} = $sp;
	refused('base -U unknown', 3, 'base', '-U', 'nobody_here', '-d', 'postgres', '-S', 'b', '-D', seg_dir('refb'));
	($rc, $out, $err) = tide_run('base', '-d', 'postgres', '-S', 'b', '-D', $bdir);
	is($rc, 0, 'tide base with PGHOST and PGPORT') or diag($err);
}
refused('bootstrap -U unknown', 4, 'bootstrap', @rep_hp, '-U', 'nobody_here', '-d', 'boot', '-D', $bdir);
($rc, $out, $err) = tide_run('bootstrap', @rep_hp, '-d', 'boot', '-D', $bdir);
is($rc, 0, 'tide bootstrap -h -p -d NAME') or diag($err);
is($rep->safe_psql('boot', 'SELECT count(*) FROM t'), 100, 'the base was restored where -h/-p said');

# ---- -W: the password read from the terminal (stdin without one), never shown

$rep->safe_psql('postgres', "CREATE ROLE pwuser LOGIN SUPERUSER PASSWORD 'sekrit-pw-42'");
{
	my $hba = $rep->data_dir . '/pg_hba.conf';
	open my $in, '<', $hba or die;
	my $old = do { local $/; <$in> };
	close $in;
	open my $o, '>', $hba or die;
	print $o "local all pwuser scram-sha-256\n$old";
	close $o;
	$rep->reload;
}

# setsid: no controlling terminal, so -W reads standard input
sub with_stdin
{
	my ($in, @args) = @_;
	my ($o, $e) = ('', '');
	IPC::Run::run([ 'setsid', '-w', $TideTest::TIDE, @args ], '<', \$in, '>', \$o, '2>', \$e);
	return ($? >> 8, $o, $e);
}
my @pw = ('status', '-D', $dir, @rep_hp, '-U', 'pwuser', '-d', 'r', '--json');
($rc, $out, $err) = with_stdin('', @pw, '-w');
is($rc, 4, 'no -W: no password, refused (exit 4)');
like($err, qr/password/, 'the server asked for one');
($rc, $out, $err) = with_stdin("sekrit-pw-42\n", @pw, '-W');
is($rc, 0, '-W: the password read from stdin') or diag($err);
like($err, qr/Password for the replica: /, 'the prompt names the connection');
unlike($out . $err, qr/sekrit-pw-42/, 'the password is not echoed or shown');
# pg_restore gets it too, through a private passfile, never its argv
$rep->safe_psql('postgres', 'CREATE DATABASE boot2');
($rc, $out, $err) = with_stdin("sekrit-pw-42\n", 'bootstrap', @rep_hp, '-U', 'pwuser', '-d', 'boot2',
	'-D', $bdir, '-W');
is($rc, 0, 'tide bootstrap -W: pg_restore connected with the password read') or diag($err);
is($rep->safe_psql('boot2', 'SELECT count(*) FROM t'), 100, 'restored as pwuser');
unlike($out . $err, qr/sekrit-pw-42/, 'the password is not shown');
($rc, $out, $err) = with_stdin("wrong\n", @pw, '-W');
is($rc, 4, '-W with a wrong password: exit 4');
like($err, qr/password authentication failed/, 'named');
unlike($out . $err, qr/wrong/, 'the wrong password is not shown either');

done_testing();
