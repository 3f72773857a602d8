# tests/tap/t/142_schema_follow_sequences.pl - tide apply --schema follow
# creates the sequences the stream's "tide.seq" states name and the replica
# lacks (a table it created has a serial key whose sequence is missing too),
# with the source's increment, and moves them to the source's state; without
# --schema follow a missing sequence stops apply (exit 4) naming it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;

my $src = tide_node('src');
my $conn = $src->connstr('postgres');
$src->safe_psql('postgres', q{SELECT pg_create_logical_replication_slot('tide', 'tide')});
$src->safe_psql('postgres', q{
CREATE SCHEMA "Odd ""s""";
CREATE TABLE "Odd ""s""".ev (id bigserial PRIMARY KEY, v text);
INSERT INTO "Odd ""s""".ev (v) SELECT 'e' || g FROM generate_series(1, 40) g;
CREATE SEQUENCE down INCREMENT BY -3 MINVALUE -1000 MAXVALUE 100 START 100;
SELECT nextval('down') FROM generate_series(1, 7);
CREATE SEQUENCE cyc INCREMENT BY 5 MAXVALUE 30 CYCLE;
SELECT nextval('cyc') FROM generate_series(1, 4);
});
my ($rc, $out, $err) = tide_run('sync-sequences', '-d', $conn);
is($rc, 0, 'tide sync-sequences records the states') or diag($err);

my $dir = PostgreSQL::Test::Utils::tempdir('segs');
my $end = $src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir,
	'--sequence-interval', '0', '--endpos', $end, '-q');
is($rc, 0, "stream up to $end") or diag($err);

my $state = q{SELECT string_agg(format('%s.%s=%s/%s', schemaname, sequencename,
	(SELECT last_value FROM pg_catalog.pg_sequence_last_value(format('%I.%I', schemaname, sequencename)::regclass)),
	increment_by), ' ' ORDER BY schemaname, sequencename) FROM pg_sequences};
my $want = $src->safe_psql('postgres', $state);
like($want, qr/down=82\/-3/, "the source's states: $want");

# an empty replica: the table, its schema and every sequence are created
my $rep = PostgreSQL::Test::Cluster->new('rep');
$rep->init;
$rep->start;
($rc, $out, $err) = tide_run('apply', '-d', $rep->connstr('postgres'), '-D', $dir, '--schema', 'follow');
is($rc, 0, 'apply --schema follow onto an empty replica') or diag($err);
like($err, qr/--schema follow: CREATE SEQUENCE "Odd ""s"""\."ev_id_seq" AS bigint INCREMENT BY 1 /,
	'the created sequence is logged with its statement');
is($rep->safe_psql('postgres', $state), $want, 'every replica sequence is at the source\'s state, same increment');
is($rep->safe_psql('postgres', q{SELECT count(*) || ':' || max(id) FROM "Odd ""s""".ev}), '40:40', 'the rows came too');
is($rep->safe_psql('postgres', q{SELECT cycle FROM pg_sequences WHERE sequencename = 'cyc'}), 't',
	'a cycled sequence is created cycling');

# applied again: nothing moves backward, nothing fails
$rep->safe_psql('postgres', q{SELECT setval('"Odd ""s""".ev_id_seq', 500)});
($rc, $out, $err) = tide_run('apply', '-d', $rep->connstr('postgres'), '-D', $dir, '--schema', 'follow');
is($rc, 0, 'apply again') or diag($err);
is($rep->safe_psql('postgres', q{SELECT last_value FROM "Odd ""s""".ev_id_seq}), '500', 'a sequence set ahead stays ahead');

# strict (the default): the table exists, its sequence does not: exit 4
my $rep2 = PostgreSQL::Test::Cluster->new('rep2');
$rep2->init;
$rep2->start;
$rep2->safe_psql('postgres', q{CREATE SCHEMA "Odd ""s"""; CREATE TABLE "Odd ""s""".ev (id bigint PRIMARY KEY, v text)});
($rc, $out, $err) = tide_run('apply', '-d', $rep2->connstr('postgres'), '-D', $dir);
is($rc, 4, 'without --schema follow a missing sequence stops apply (exit 4)');
like($err, qr/sequence "(Odd "s"|public)\.\w+" does not exist on the replica/, 'naming the sequence');
like($err, qr/--schema follow/, 'and the hint names --schema follow');

done_testing();
