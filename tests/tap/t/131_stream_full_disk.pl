# tests/tap/t/131_stream_full_disk.pl - the disk fills up while a large
# transaction is spooled (a real ENOSPC, on the tmpfs the Makefile mounts
# as root): tide stream stops with exit code 6, having acknowledged nothing
# that is not durable in a segment; once space is back, a new run completes
# the history exactly once and a replica applies it equal.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use File::Path qw(rmtree);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;

my $tmpfs = $ENV{TIDE_TMPFS};
plan skip_all => 'no tmpfs to fill (run make as root: the Makefile mounts one)'
  unless $tmpfs && -d $tmpfs && -w $tmpfs;

my $schema = 'CREATE TABLE t (id int PRIMARY KEY, v text)';
my $node = tide_node('source');
my $rep = PostgreSQL::Test::Cluster->new('replica');
$rep->init;
$rep->start;
$node->safe_psql('postgres', $schema);
$rep->safe_psql('postgres', $schema);
$node->safe_psql('postgres', q{
SELECT pg_create_logical_replication_slot('td', 'test_decoding');
SELECT pg_create_logical_replication_slot('tide', 'tide');
});
my $conn = $node->connstr('postgres');
my $dir = "$tmpfs/stream_full_disk";
rmtree($dir);
mkdir $dir, 0700 or die "mkdir $dir: $!";
my $filler = "$tmpfs/stream_full_disk.filler";

sub lsn { $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()') }

sub avail
{
	my $out = `df -B1 --output=avail '$tmpfs'`;
	my ($n) = $out =~ /(\d+)\s*$/;
	return $n;
}

# leave about $keep bytes free on the file system
sub fill_up_to
{
	my ($keep) = @_;
	open my $fh, '>', $filler or die "$filler: $!";
	binmode $fh;
	my $block = "\0" x (1 << 20);
	while (avail() > $keep + (1 << 20))
	{
		print $fh $block or last;
		$fh->flush;
	}
	close $fh;
}

# small transactions first: they are durable and acknowledged
$node->safe_psql('postgres', "INSERT INTO t SELECT g, 'small ' || g FROM generate_series(1, 100) g");
$node->safe_psql('postgres', "INSERT INTO t VALUES (101, 'small')");
my $small = lsn();
my ($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir, '--endpos', $small);
is($rc, 0, 'the small transactions are streamed') or diag($err);

# then 3 MB of room, and a transaction of some 20 MB streamed into the spool
fill_up_to(3 << 20);
cmp_ok(avail(), '<', 5 << 20, 'the file system is nearly full');
$node->safe_psql('postgres',
	"INSERT INTO t SELECT g, repeat(md5(g::text), 4) FROM generate_series(1001, 120000) g");
my $end = lsn();
($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir, '--endpos', $end);
is($rc, 6, 'a full disk while spooling: exit code 6');
like($err, qr/could not write spool file ".*\/\.spool\/\d+\.spool": No space left on device/,
	'the message names the spool file and the cause');
like($err, qr/nothing was acknowledged that is not durable/, 'and says that nothing is lost');
my ($lrc, $ls) = tide_run('ls', '--json', $dir);
my ($covered) = $ls =~ /"covered_lsn":"([^"]+)"[^\n]*$/;
my $confirmed = $node->safe_psql('postgres',
	"SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'tide'");
ok($node->safe_psql('postgres', "SELECT '$confirmed'::pg_lsn <= '$covered'::pg_lsn") eq 't',
	"the slot ($confirmed) is not past what is durable ($covered)");
ok($node->safe_psql('postgres', "SELECT '$confirmed'::pg_lsn < '$end'::pg_lsn") eq 't',
	'the large transaction was not acknowledged');
ok($node->safe_psql('postgres', "SELECT '$confirmed'::pg_lsn >= '$small'::pg_lsn") eq 't',
	'the small ones before it stay acknowledged');
is_deeply([ glob("$dir/.spool/*") ], [], 'the stop gives the spool\'s space back');

# space comes back: the next run streams it again from its start
unlink $filler or die "$filler: $!";
($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir, '--endpos', $end);
is($rc, 0, 'with space back, a new run completes') or diag($err);
is_deeply([ normalize_tide(seg_lines($dir)) ], [ normalize_td(td_lines($node, 'td')) ],
	'every transaction exactly once, in commit order');
($rc, $out, $err) = tide_run('apply', '-d', $rep->connstr('postgres'), '-D', $dir, '-q');
is($rc, 0, 'tide apply') or diag($err);
my $q = "SELECT md5(string_agg(x::text, ',' ORDER BY id)) FROM t x";
is($rep->safe_psql('postgres', $q), $node->safe_psql('postgres', $q), 'the replica equals the source');

rmtree($dir);
done_testing();
