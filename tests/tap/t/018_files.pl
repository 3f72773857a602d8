# tests/tap/t/018_files.pl - what tide stream leaves on disk is owner-only
# (segments 0600 in a 0700 directory, as a data directory), its write probe
# never follows a link planted in the directory, and a directory that
# belongs to another user is refused (findings 7 and 8 of issue 8).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use File::stat;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;

my $node = tide_node('source');
my $conn = $node->connstr('postgres');
$node->safe_psql('postgres', 'CREATE TABLE t (id int PRIMARY KEY)');
sub lsn { $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()') }

umask 022;
my $parent = seg_dir('files');
my $dir = "$parent/segs";    # created by tide stream
$node->safe_psql('postgres', 'INSERT INTO t SELECT generate_series(1, 10)');
my ($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir,
	'--create-slot', '--endpos', lsn());
is($rc, 0, 'stream into a new directory') or diag($err);
$node->safe_psql('postgres', 'INSERT INTO t SELECT generate_series(11, 20)');
($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir, '--endpos', lsn());
is($rc, 0, 'and again') or diag($err);
is(sprintf('%04o', stat($dir)->mode & 07777), '0700', 'the directory is created 0700');
my @files = glob("$dir/*.tseg*");
cmp_ok(scalar(@files), '>=', 1, 'segments written');
is_deeply([ map { sprintf('%04o', stat($_)->mode & 07777) } @files ], [ map { '0600' } @files ],
	'every segment is 0600');

# a link planted where the probe used to be, pointing at a file of ours
my $victim = "$parent/victim";
open(my $fh, '>', $victim) or die;
print $fh "precious\n";
close $fh;
symlink($victim, "$dir/.tide-write-probe") or die "symlink: $!";
$node->safe_psql('postgres', 'INSERT INTO t SELECT generate_series(21, 30)');
($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir, '--endpos', lsn());
is($rc, 0, 'stream with a planted link') or diag($err);
open($fh, '<', $victim) or die;
my $content = do { local $/; <$fh> };
close $fh;
is($content, "precious\n", 'the file the link points at is untouched');
opendir(my $dh, $dir) or die;
is_deeply([ grep { /^\.tide-write-probe\./ } readdir($dh) ], [], 'no probe left behind');
closedir $dh;

# a directory of another user: / is root's and we are not root
SKIP:
{
	skip 'runs as root: no directory of another user at hand', 3 if $> == 0;
	($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', '/tmp', '--endpos', lsn());
	is($rc, 6, 'a directory of another user: exit 6');
	like($err, qr/segment directory "\/tmp" belongs to another user \(uid 0\)/, '... named');
	like($err, qr/--allow-other-owner/, '... with the way out');
}

done_testing();
