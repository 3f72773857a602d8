# tests/tap/t/015_stream_rename.pl - one walsender session of tide stream
# sees ALTER SCHEMA ... RENAME and ALTER TYPE ... RENAME: with
# include-tables, a table renamed into the pattern is streamed from then on
# (the slot must not move past its rows), and every row goes out under the
# names of its time, in this session and the next alike.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;

my $node = tide_node('source');
my $conn = $node->connstr('postgres');
$node->safe_psql('postgres', q{
CREATE SCHEMA s4;
CREATE TYPE s4.kind AS ENUM ('a', 'b');
CREATE TABLE s4.x (id int PRIMARY KEY, k s4.kind);
});
my $dir = seg_dir('segs');

sub stream
{
	my @extra = @_;
	my ($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir,
		'--bucket', '1s', '-q', '-o', 'include-tables=app.*', '--endpos',
		$node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()'), @extra);
	is($rc, 0, 'stream') or diag($err);
}
stream('--create-slot');

# one streaming session decodes all of this
$node->safe_psql('postgres', q{INSERT INTO s4.x VALUES (1, 'a')});
$node->safe_psql('postgres', q{ALTER SCHEMA s4 RENAME TO app});
$node->safe_psql('postgres', q{INSERT INTO app.x VALUES (2, 'b')});
$node->safe_psql('postgres', q{ALTER TYPE app.kind RENAME TO sort});
$node->safe_psql('postgres', q{INSERT INTO app.x VALUES (3, 'a')});
stream();

# each INSERT with the RELATION in force for it (segments may repeat one)
sub rows_with_relation
{
	my ($rel, @out);
	for (seg_lines($dir))
	{
		$rel = $1 if /^RELATION (.*)/;
		push @out, "$1 | $rel" if /^INSERT (.*)/;
	}
	return @out;
}

is_deeply([ rows_with_relation() ], [
	"app.x: id[integer]:2 k[app.kind]:'b' | app.x identity default: id[integer fixed4] key, k[app.kind text]",
	"app.x: id[integer]:3 k[app.sort]:'a' | app.x identity default: id[integer fixed4] key, k[app.sort text]",
], 'rows after the renames are streamed under the new names; the row before, filtered out then, is not');

# the next session describes the table the same way
$node->safe_psql('postgres', q{INSERT INTO app.x VALUES (4, 'b')});
stream();
is_deeply([ (rows_with_relation())[2] ], [
	"app.x: id[integer]:4 k[app.sort]:'b' | app.x identity default: id[integer fixed4] key, k[app.sort text]",
], 'a new session names the table and its type the same');

done_testing();
