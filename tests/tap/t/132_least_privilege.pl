# tests/tap/t/132_least_privilege.pl - tide base and tide stream on the
# source as a REPLICATION login role without superuser, created with
# exactly the SQL of README's role recipe (read from README.md, between its
# "role recipe" markers), over scram-sha-256 password connections: a base,
# a slot created by tide stream, large transactions streamed; the replica
# bootstrapped from base + segments equals the source.  A role without
# REPLICATION is refused with the fix named.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;

# the recipe, as README.md has it
my $readme = "$FindBin::Bin/../../../README.md";
open my $fh, '<', $readme or die "$readme: $!";
my $text = do { local $/; <$fh> };
close $fh;
my ($recipe) = $text =~ /<!-- role recipe: begin -->\s*```sql\n(.*?)```\s*<!-- role recipe: end -->/s;
ok(defined $recipe, 'README.md has the role recipe');
$recipe =~ s/^\s+//mg;
my $password = 'tide-test-secret';
like($recipe, qr/PASSWORD '\.\.\.'/, 'the recipe leaves the password to the reader');
$recipe =~ s/PASSWORD '\.\.\.'/PASSWORD '$password'/;

my $schema = q{
CREATE TABLE acct (id int PRIMARY KEY, owner text, balance numeric);
CREATE TABLE events (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(),
  payload jsonb) ;
CREATE SCHEMA app;
CREATE TABLE app.notes (id int PRIMARY KEY, body text);
REVOKE ALL ON ALL TABLES IN SCHEMA public, app FROM PUBLIC;
};
my $node = tide_node('source');
$node->append_conf('postgresql.conf', "password_encryption = 'scram-sha-256'\n");
# the role comes in by password only: its lines before the node's trust lines
my $hba = $node->data_dir . '/pg_hba.conf';
open my $in, '<', $hba or die;
my $old = do { local $/; <$in> };
close $in;
open my $outf, '>', $hba or die;
print $outf "local replication tide scram-sha-256\nlocal all tide scram-sha-256\n"
  . "local replication norepl scram-sha-256\nlocal all norepl scram-sha-256\n" . $old;
close $outf;
$node->restart;
$node->safe_psql('postgres', $schema);
$node->safe_psql('postgres', $recipe);
is($node->safe_psql('postgres', "SELECT rolsuper, rolreplication FROM pg_roles WHERE rolname = 'tide'"),
	'f|t', 'the role replicates and is no superuser');
$node->safe_psql('postgres', q{
INSERT INTO acct SELECT g, 'o' || g, g * 1.5 FROM generate_series(1, 500) g;
INSERT INTO events (payload) SELECT jsonb_build_object('g', g) FROM generate_series(1, 300) g;
INSERT INTO app.notes SELECT g, 'note ' || g FROM generate_series(1, 50) g;
});

my $host = $node->host;
my $port = $node->port;
my $as_tide = "host=$host port=$port dbname=postgres user=tide password=$password";
my $dir = seg_dir('segs');

# tide base: slot with an exported snapshot and pg_dump in it
my ($rc, $out, $err) = tide_run('base', '-d', $as_tide, '-S', 'tide', '-D', $dir);
is($rc, 0, 'tide base as the role') or diag($err);
unlike($err, qr/\Q$password\E/, 'the password appears in no message');

# changes after the base, a large one streamed while in progress
$node->safe_psql('postgres', q{
UPDATE acct SET balance = balance + 1 WHERE id <= 100;
DELETE FROM acct WHERE id > 450;
INSERT INTO events (payload) SELECT jsonb_build_object('big', g, 'pad', repeat('x', 100))
  FROM generate_series(1, 20000) g;
BEGIN;
INSERT INTO app.notes SELECT g, 'late ' || g FROM generate_series(51, 3000) g;
SAVEPOINT s;
DELETE FROM app.notes WHERE id <= 10;
ROLLBACK TO s;
COMMIT;
});
my $end = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
($rc, $out, $err) = tide_run('stream', '-d', $as_tide, '-S', 'tide', '-D', $dir, '--endpos', $end);
is($rc, 0, 'tide stream as the role') or diag($err);
like($err, qr/large transactions streamed while in progress/, 'it streams transactions in progress');
like($err, qr/streamed transaction \d+ /, 'a large transaction came streamed');
is($node->safe_psql('postgres',
		"SELECT spill_bytes FROM pg_stat_replication_slots WHERE slot_name = 'tide'"),
	'0', 'the source spilled nothing');

# a second slot, created by tide stream itself as the role
my $dir2 = seg_dir('segs2');
my $now = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
($rc, $out, $err) = tide_run('stream', '-d', $as_tide, '-S', 'tide2', '-D', $dir2,
	'--create-slot', '--endpos', $now);
is($rc, 0, 'tide stream --create-slot as the role') or diag($err);

# the replica, from base and segments
my $rep = PostgreSQL::Test::Cluster->new('replica');
$rep->init;
$rep->start;
($rc, $out, $err) = tide_run('bootstrap', '-d', $rep->connstr('postgres'), '-D', $dir);
is($rc, 0, 'tide bootstrap from what the role produced') or diag($err);
for my $tab (qw(acct events app.notes))
{
	my $q = "SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY id), '')) FROM $tab x";
	is($rep->safe_psql('postgres', $q), $node->safe_psql('postgres', $q), "replica's $tab equals the source's");
}

# without REPLICATION: refused, with the fix
$node->safe_psql('postgres', "CREATE ROLE norepl LOGIN PASSWORD '$password'; GRANT pg_read_all_data TO norepl;");
($rc, $out, $err) = tide_run('stream', '-d', "host=$host port=$port dbname=postgres user=norepl password=$password",
	'-S', 'tide', '-D', seg_dir('norepl'));
is($rc, 3, 'a role without REPLICATION: exit code 3');
like($err, qr/REPLICATION/, 'the message names the missing attribute');

done_testing();
