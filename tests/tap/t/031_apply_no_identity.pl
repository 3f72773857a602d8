# tests/tap/t/031_apply_no_identity.pl - a DELETE on a table without a
# replica identity (no primary key, or REPLICA IDENTITY NOTHING) reaches the
# segments and stops tide apply (exit 4) naming the table and the fix; it is
# never dropped while apply exits 0 with the row still on the replica.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;

my $schema = q{
CREATE TABLE keyed (id int PRIMARY KEY, v text);
CREATE TABLE nokey (a int, b text);
CREATE TABLE nothing (id int PRIMARY KEY, v text);
ALTER TABLE nothing REPLICA IDENTITY NOTHING;
};

my $src = tide_node('src');
$src->safe_psql('postgres', $schema);
my $dir = seg_dir('segs');

sub lsn { return $src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()'); }

sub stream
{
	my @extra = @_;
	my ($rc, $out, $err) = tide_run('stream', '-d', $src->connstr('postgres'), '-S', 'tide',
		'-D', $dir, '--bucket', '1s', '--endpos', lsn(), '-q', @extra);
	is($rc, 0, 'stream') or diag($err);
}

sub replica
{
	my ($name) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->start;
	$node->safe_psql('postgres', $schema);
	return $node;
}

sub apply
{
	my ($node, @extra) = @_;
	return tide_run('apply', '-d', $node->connstr('postgres'), '-D', $dir, '-q', @extra);
}

sub rows
{
	my ($node, $t) = @_;
	return $node->safe_psql('postgres', "SELECT string_agg(x::text, ' ' ORDER BY x::text) FROM $t x");
}

stream('--create-slot');

# one transaction each, so that the one that cannot be applied is in the middle
$src->safe_psql('postgres', q{
INSERT INTO keyed VALUES (1, 'one');
INSERT INTO nokey VALUES (1, 'a'), (2, 'b');
INSERT INTO nothing VALUES (1, 'x'), (2, 'y');
});
$src->safe_psql('postgres', q{INSERT INTO keyed VALUES (2, 'two')});
my $before_delete = lsn();
$src->safe_psql('postgres', q{DELETE FROM nokey WHERE a = 1});
$src->safe_psql('postgres', q{INSERT INTO keyed VALUES (3, 'three')});
$src->safe_psql('postgres', q{DELETE FROM nothing WHERE id = 2});
$src->safe_psql('postgres', q{INSERT INTO keyed VALUES (4, 'four')});
stream();

# the segments carry both DELETEs, without an old row
my @lines = seg_lines($dir);
is_deeply([ grep { /^DELETE/ } @lines ],
	[ 'DELETE public.nokey: (no old row)', 'DELETE public.nothing: (no old row)' ],
	'both DELETEs are in the segments, with no old row');

# --batch 1: a replica transaction per source transaction, so everything
# before the DELETE is committed when apply stops on it
my $rep = replica('rep');
my ($rc, $out, $err) = apply($rep, '--batch', '1');
is($rc, 4, 'DELETE without identity: exit 4');
like($err, qr/cannot apply DELETE to table "public\.nokey": it has no replica identity/,
	'the error names the table');
like($err, qr/ALTER TABLE \.\.\. REPLICA IDENTITY FULL/, 'the hint names ALTER TABLE ... REPLICA IDENTITY FULL');
like($err, qr/primary key/, 'the hint names a primary key');
like($err, qr/REPLICA IDENTITY USING INDEX/, 'the hint names REPLICA IDENTITY USING INDEX');
like($err, qr/--tables/, 'the hint names --tables');
is(rows($rep, 'keyed'), '(1,one) (2,two)', 'transactions before the DELETE are applied, none after');
is(rows($rep, 'nokey'), '(1,a) (2,b)', 'the row the DELETE could not find stays, and apply said so');
my $progress = $rep->safe_psql('postgres', 'SELECT end_lsn FROM tide.progress');
is($rep->safe_psql('postgres', "SELECT '$progress'::pg_lsn <= '$before_delete'::pg_lsn"), 't',
	'progress stops before the DELETE');

# a rerun stops at the same place
($rc, $out, $err) = apply($rep, '--batch', '1');
is($rc, 4, 'rerun: exit 4 again');
is(rows($rep, 'keyed'), '(1,one) (2,two)', 'rerun: nothing more applied');

# leaving the table out gets past it, up to the next one (identity NOTHING)
($rc, $out, $err) = apply($rep, '--batch', '1', '--tables', 'public.keyed,public.nothing');
is($rc, 4, 'REPLICA IDENTITY NOTHING: exit 4');
like($err, qr/cannot apply DELETE to table "public\.nothing": it has no replica identity/,
	'REPLICA IDENTITY NOTHING: the error names the table');
is(rows($rep, 'keyed'), '(1,one) (2,two) (3,three)', 'REPLICA IDENTITY NOTHING: what came before is applied');
is(rows($rep, 'nothing'), '(1,x) (2,y)', 'REPLICA IDENTITY NOTHING: the row stays');

($rc, $out, $err) = apply($rep, '--batch', '1', '--tables', 'public.keyed');
is($rc, 0, 'both tables left out: exit 0') or diag($err);
is(rows($rep, 'keyed'), '(1,one) (2,two) (3,three) (4,four)', 'both tables left out: the rest is applied');

# the default batch: the DELETE stops apply all the same
my $rep2 = replica('rep2');
($rc, $out, $err) = apply($rep2);
is($rc, 4, 'default batch: exit 4');
like($err, qr/cannot apply DELETE to table "public\.nokey"/, 'default batch: the error names the table');
is(rows($rep2, 'keyed'), '(1,one) (2,two)', 'default batch: transactions before the DELETE are applied');

done_testing();
