# tests/tap/t/022_stream_sqlstate.pl - tide stream classifies the source's
# errors by SQLSTATE, never by their text: against a source whose
# lc_messages is German (de_DE compiled here with localedef, as in
# 082_apply_text_forms.pl), a missing slot, a slot in use, a role without
# REPLICATION, a plugin the server cannot load (58P01), a plugin it does
# not trust (42501, where the server has output_plugin_libraries) and a
# decoder option it refuses (22023) each give their exit code and a hint
# that fits.
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

my $locdir = PostgreSQL::Test::Utils::tempdir('locales');
my ($lout, $lerr) = ('', '');
IPC::Run::run([ 'localedef', '-i', 'de_DE', '-f', 'UTF-8', "$locdir/de_DE.UTF-8" ],
	'<', \undef, '>', \$lout, '2>', \$lerr);
ok(-d "$locdir/de_DE.UTF-8", 'a de_DE.UTF-8 locale compiled with localedef')
  or BAIL_OUT("localedef failed (is Debian's locales package installed? make deps): $lerr");
plan skip_all => 'PostgreSQL\'s German messages are not installed'
  unless glob('/usr/share/locale/de/LC_MESSAGES/postgres-*.mo');

# the server finds the locale through LOCPATH, inherited from here
$ENV{LOCPATH} = $locdir;
my $node = tide_node('source');
$node->append_conf('postgresql.conf', "lc_messages = 'de_DE.UTF-8'\n");
$node->restart;
my $conn = $node->connstr('postgres');
my ($ret, $o, $e) = $node->psql('postgres', 'SELECT * FROM no_such_table');
like($e, qr/Relation .*no_such_table.* existiert nicht/, 'the source speaks German');

my $dir = seg_dir('segs');

# ------------------------------------------------ a missing slot
my ($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'nosuch', '-D', $dir);
is($rc, 3, 'missing slot: exit code 3');
like($err, qr/replication slot "nosuch" does not exist/, 'missing slot: named');
like($err, qr/--create-slot/, 'missing slot: the hint');

# ------------------------------------------------ a slot in use
$node->safe_psql('postgres', "SELECT pg_create_logical_replication_slot('busy', 'tide')");
my $recv = IPC::Run::start([ 'pg_recvlogical', '-d', $conn, '-S', 'busy', '--start', '-f', '/dev/null' ],
	'<', \undef, '>', \my $rout, '2>', \my $rerr);
my $pid;
for (1 .. 300)
{
	$pid = $node->safe_psql('postgres', "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'busy'");
	last if $pid;
	usleep(100_000);
}
ok($pid, 'pg_recvlogical holds slot "busy"');
($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'busy', '-D', $dir);
is($rc, 3, 'slot in use: exit code 3');
like($err, qr/replication slot "busy" is in use by process \Q$pid\E/, 'slot in use: named, with the process');
like($err, qr/stop the other consumer of the slot first/, 'slot in use: the hint');
$recv->kill_kill;
$recv->finish;

# ------------------------------------------------ a role without REPLICATION
$node->safe_psql('postgres', 'CREATE ROLE norep LOGIN');
($rc, $out, $err) = tide_run('stream', '-d', "$conn user=norep", '-S', 'busy', '-D', $dir);
is($rc, 3, 'no REPLICATION: exit code 3');
like($err, qr/could not connect to the source: .*(Replikation|WAL-Sender)/,
	'no REPLICATION: the server\'s (German) reason, on one line');
like($err, qr/LOGIN and REPLICATION/, 'no REPLICATION: the hint');

# ------------------------------------------------ a plugin it cannot load
# the decoder's directory out of dynamic_library_path: new sessions get
# 58P01 (undefined file) for "tide"
$node->safe_psql('postgres', q{ALTER SYSTEM SET dynamic_library_path = '$libdir'});
$node->reload;
($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'fresh', '-D', seg_dir('fresh'), '--create-slot');
is($rc, 3, 'plugin not found: exit code 3');
like($err, qr/could not create replication slot "fresh": .*tide/, 'plugin not found: the server\'s message');
like($err, qr/install the tide plugin on the source/, 'plugin not found: the hint, by SQLSTATE 58P01');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET dynamic_library_path');
$node->reload;

# ------------------------------------------------ a plugin it does not trust
my ($pout, $perr);
IPC::Run::run([ 'postgres', '-D', $node->data_dir, '-C', 'output_plugin_libraries' ],
	'>', \$pout, '2>', \$perr);
SKIP:
{
	skip 'this server has no output_plugin_libraries', 3 if $?;
	$node->safe_psql('postgres', q{ALTER SYSTEM SET output_plugin_libraries = 'pgoutput'});
	$node->reload;
	($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'fresh', '-D', seg_dir('fresh2'), '--create-slot');
	is($rc, 3, 'untrusted plugin: exit code 3');
	like($err, qr/could not create replication slot "fresh"/, 'untrusted plugin: named');
	like($err, qr/hint: .*output_plugin_libraries/, 'untrusted plugin: the server\'s own hint');
	$node->safe_psql('postgres', 'ALTER SYSTEM RESET output_plugin_libraries');
	$node->reload;
}

# ------------------------------------------------ a refused decoder option
$node->safe_psql('postgres', "SELECT pg_create_logical_replication_slot('tide', 'tide')");
($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', seg_dir('opt'), '-o', 'no-such-option=1');
is($rc, 2, 'refused decoder option: exit code 2 (usage), by SQLSTATE 22023');
like($err, qr/could not start replication from slot "tide": .*no-such-option/, 'refused option: named');
like($err, qr/check the decoder options given with -o/, 'refused option: the hint');

# ------------------------------------------------ and it streams
my $end = $node->safe_psql('postgres',
	'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (7); SELECT pg_current_wal_lsn()');
($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir, '--endpos', $end);
is($rc, 0, 'a German source streams') or diag($err);
like(join("\n", seg_lines($dir)), qr/INSERT public\.t: id\[integer\]:7/, 'with its row');

done_testing();
