# tests/tap/t/144_ddl_setup.pl - tide setup's checks on sources that are not
# ready (wal_level, a role that may not replicate nor install the capture:
# exit 3, each problem with its fix, nothing installed it could not), and
# captured DDL under --tables and --map: skipped when every table it
# touches is left out, a stop when it touches kept and left-out tables or
# a mapped schema; temporary tables and schema tide are never captured.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;

# ---- a server without wal_level = logical
my $plain = PostgreSQL::Test::Cluster->new('plain');
$plain->init;
$plain->start;
my $level = $plain->safe_psql('postgres', 'SHOW wal_level');
my ($rc, $out, $err) = tide_run('setup', '-d', $plain->connstr('postgres'));
is($rc, 3, "wal_level $level: exit 3");
like($out, qr/^PROBLEM +wal_level is $level, logical decoding needs logical\n +fix: ALTER SYSTEM SET wal_level = logical; then restart the server/m,
	'wal_level: the problem and its fix');
unlike($out, qr/the tide output plugin loads/, 'no plugin check without logical decoding');
like($out, qr/^ok +the DDL capture is installed/m, 'what it can do, it does');
is($plain->safe_psql('postgres', 'SHOW wal_level'), $level, 'the server was not reconfigured');
# the capture never breaks the source's DDL, even where nothing decodes it
$plain->safe_psql('postgres', q{CREATE TABLE still_works (i int); ALTER TABLE still_works ADD j int; DROP TABLE still_works});
pass('DDL runs on a source with the capture and no logical decoding');
$plain->stop;

# ---- a role that may neither replicate nor create event triggers
my $src = tide_node('src');
my $conn = $src->connstr('postgres');
$src->safe_psql('postgres', q{
CREATE ROLE app LOGIN;
CREATE SCHEMA a AUTHORIZATION app;
CREATE SCHEMA b AUTHORIZATION app;
GRANT CREATE ON DATABASE postgres TO app;
CREATE TABLE a.t (id int PRIMARY KEY, v text);
CREATE TABLE b.t (id int PRIMARY KEY, v text);
ALTER TABLE a.t OWNER TO app;
ALTER TABLE b.t OWNER TO app;
});
my $appconn = $conn . ' user=app';
($rc, $out, $err) = tide_run('setup', '-d', $appconn);
is($rc, 3, 'unprivileged role: exit 3');
like($out, qr/^PROBLEM +role "app" has neither REPLICATION nor superuser.*\n +fix: ALTER ROLE "app" REPLICATION/m,
	'replication right: problem and fix');
like($out, qr/^PROBLEM +the DDL capture is not installed: event triggers need a superuser\n +fix: run tide setup/m,
	'capture: problem and fix');
is($src->safe_psql('postgres', 'SELECT count(*) FROM pg_event_trigger'), '0', 'nothing installed');
($rc, $out, $err) = tide_run('setup', '-d', $conn, '--check');
is($rc, 3, '--check before setup: exit 3');
like($out, qr/^PROBLEM +the DDL capture is not installed/m, '--check says the capture is missing');
is($src->safe_psql('postgres', 'SELECT count(*) FROM pg_event_trigger'), '0', '--check installs nothing');
($rc, $out, $err) = tide_run('setup', '-d', $conn);
is($rc, 0, 'as a superuser: ready') or diag("$out\n$err");

$src->safe_psql('postgres', q{SELECT pg_create_logical_replication_slot('tide', 'tide')});
my $dir = seg_dir('segs');

# ---- DDL by the application's role, in both schemas
$src->safe_psql('postgres', q{
SET ROLE app;
INSERT INTO a.t VALUES (1, 'a'); INSERT INTO b.t VALUES (1, 'b');
ALTER TABLE a.t ADD COLUMN w int DEFAULT 1;
ALTER TABLE b.t ADD COLUMN w int DEFAULT 2;
CREATE INDEX b_t_v ON b.t (v);
CREATE TEMP TABLE scratch (x int);
ALTER TABLE scratch ADD COLUMN y int;
INSERT INTO a.t VALUES (2, 'a', 5); INSERT INTO b.t VALUES (2, 'b', 6);
RESET ROLE;
CREATE TABLE tide.own (x int);
});
my $end = $src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir, '--endpos', $end, '-q');
is($rc, 0, 'streamed') or diag($err);
($rc, $out, $err) = tide_run('inspect', $dir);
like($out, qr/DDL ALTER TABLE: ALTER TABLE a\.t ADD COLUMN w int DEFAULT 1 \[search_path "\$user", public; role app; table a\.t\]/,
	'inspect: statement, search_path, role and object');
unlike($out, qr/scratch/, 'a temporary table is not captured');
unlike($out, qr/tide\.own/, 'schema tide is not captured');

# decoder options that leave the messages out: tide stream says so
my $dir2 = seg_dir('segs2');
$src->safe_psql('postgres', q{SELECT pg_create_logical_replication_slot('tide2', 'tide')});
($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide2', '-D', $dir2, '--endpos',
	$src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()'), '-o', 'include-message-prefixes=tide.seq');
is($rc, 0, 'stream with include-message-prefixes') or diag($err);
like($err, qr/captured DDL is not recorded: -o include-message-prefixes does not name "tide\.ddl"/,
	'stream warns that captured DDL is left out');
$src->safe_psql('postgres', q{SELECT pg_drop_replication_slot('tide2')});

# --tables a.*: DDL on b is skipped, on a applied
my $rep = PostgreSQL::Test::Cluster->new('rep');
$rep->init;
$rep->start;
$rep->safe_psql('postgres', q{
CREATE SCHEMA a; CREATE SCHEMA b;
CREATE TABLE a.t (id int PRIMARY KEY, v text);
CREATE TABLE b.t (id int PRIMARY KEY, v text);
});
($rc, $out, $err) = tide_run('apply', '-d', $rep->connstr('postgres'), '-D', $dir, '--tables', 'a.*');
is($rc, 0, '--tables: applied') or diag($err);
is($rep->safe_psql('postgres', q{SELECT string_agg(x::text, ',' ORDER BY id) FROM a.t x}), '(1,a,1),(2,a,5)',
	'--tables: DDL on a kept table replayed');
is($rep->safe_psql('postgres', q{SELECT count(*) FROM information_schema.columns WHERE table_schema = 'b' AND column_name = 'w'}),
	'0', '--tables: DDL on a table left out skipped');
is($rep->safe_psql('postgres', q{SELECT count(*) FROM pg_indexes WHERE indexname = 'b_t_v'}), '0',
	'--tables: index on a table left out skipped');
like($err, qr/skipped: --tables leaves out every table it touches \(ALTER TABLE\)/, '--tables: the skip is logged');

# a command touching a kept and a left-out table stops
$src->safe_psql('postgres', q{SET ROLE app; COMMENT ON TABLE a.t IS 'x'; DROP TABLE a.t, b.t;});
$end = $src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir, '--endpos', $end, '-q');
($rc, $out, $err) = tide_run('apply', '-d', $rep->connstr('postgres'), '-D', $dir, '--tables', 'a.*');
is($rc, 4, '--tables, mixed DDL: exit 4');
like($err, qr/stopped before the DDL command DROP TABLE at [0-9A-F]+\/[0-9A-F]+: it touches tables --tables keeps and tables it leaves out/,
	'--tables, mixed DDL: says why');
is($rep->safe_psql('postgres', q{SELECT obj_description('a.t'::regclass)}), 'x', 'what precedes it is committed');

# --map: a command on a mapped schema stops
my $rep2 = PostgreSQL::Test::Cluster->new('rep2');
$rep2->init;
$rep2->start;
$rep2->safe_psql('postgres', q{
CREATE SCHEMA a2; CREATE SCHEMA b;
CREATE TABLE a2.t (id int PRIMARY KEY, v text);
CREATE TABLE b.t (id int PRIMARY KEY, v text);
});
($rc, $out, $err) = tide_run('apply', '-d', $rep2->connstr('postgres'), '-D', $dir, '--map', 'a=a2');
is($rc, 4, '--map: exit 4');
like($err, qr/it changes schema "a", which --map maps to "a2", and its statement names the source's schemas/, '--map: says why');
is($rep2->safe_psql('postgres', q{SELECT string_agg(x::text, ',' ORDER BY id) FROM a2.t x}), '(1,a)',
	'--map: rows before it applied');

# ---- --remove as a superuser, and as the application's role
($rc, $out, $err) = tide_run('setup', '-d', $appconn, '--remove');
is($rc, 3, '--remove without superuser: exit 3');
like($out, qr/PROBLEM +could not remove the DDL capture/, '--remove: problem printed');
($rc, $out, $err) = tide_run('setup', '-d', $conn, '--remove');
is($rc, 0, '--remove') or diag("$out\n$err");
like($out, qr/schema tide is kept/, '--remove keeps a schema that holds other objects');
is($src->safe_psql('postgres', q{SELECT count(*) FROM pg_proc WHERE proname LIKE 'ddl\_%' AND pronamespace = 'tide'::regnamespace}),
	'0', '--remove: functions gone');

done_testing();
