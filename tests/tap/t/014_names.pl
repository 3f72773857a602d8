# tests/tap/t/014_names.pl - segment names sort in both time and LSN order
# across bounded runs that drain a backlog, and chaining follows LSNs: the
# second run's segments, the replica catching up from both runs and a third
# run resuming all agree (finding 15 of issue 8).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;

my $node = tide_node('source');
my $conn = $node->connstr('postgres');
my $schema = 'CREATE TABLE t (id int PRIMARY KEY);';
$node->safe_psql('postgres', $schema . q{
CREATE PROCEDURE ins(a int, b int) LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN a..b LOOP
    INSERT INTO t VALUES (i);
    COMMIT;
  END LOOP;
END $$;
});
sub lsn { $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()') }

# enough for the drain to outlast a few timer ticks
my $N = 50000;
my $dir = seg_dir(q{segs});
my @stream = ('stream', '-d', $conn, '-S', 'tide', '-D', $dir, '--bucket', '1s',
	'-q');
my ($rc, $out, $err) = tide_run(@stream, '--create-slot', '--endpos', lsn());
is($rc, 0, 'slot created') or diag($err);

# a backlog of tiny transactions, committed with the streamer off
$node->safe_psql('postgres', "CALL ins(1, $N)");
my $mid = lsn();
$node->safe_psql('postgres', "CALL ins($N + 1, 2 * $N)");
my $end = lsn();
sleep 2;    # every bucket of the backlog has ended by the clock

# the first run's timer ticks while the backlog drains; the second run's
# first transaction arrives before its timer does
($rc, $out, $err) = tide_run(@stream, '--flush-interval', '100ms', '--endpos', $mid);
is($rc, 0, 'first run to the middle') or diag($err);
($rc, $out, $err) = tide_run(@stream, '--flush-interval', '10s', '--endpos', $end);
is($rc, 0, 'second run to the end') or diag($err);

# names: sorted as strings they are in LSN order, and each segment starts
# where the one before it is complete
($rc, $out, $err) = tide_run('ls', '--json', $dir);
is($rc, 0, 'tide ls') or diag($err);
my @segs = map { decode_json($_) } split /\n/, $out;
cmp_ok(scalar(@segs), '>=', 2, scalar(@segs) . ' segments');
my @by_name = map { $_->{segment} } sort { $a->{segment} cmp $b->{segment} } @segs;
sub lsn_num { my ($h, $l) = split m{/}, shift; return hex($h) * 2**32 + hex($l) }
my @by_lsn = map { $_->{segment} }
  sort { lsn_num(($a->{segment} =~ /_([0-9A-F]{16})/)[0] =~ s/^(.{8})/$1\//r)
	  <=> lsn_num(($b->{segment} =~ /_([0-9A-F]{16})/)[0] =~ s/^(.{8})/$1\//r) } @segs;
is_deeply(\@by_name, \@by_lsn, 'names sort in LSN order');
my $chained = 1;
for my $i (1 .. $#segs)
{
	my ($start) = $segs[$i]{segment} =~ /_([0-9A-F]{16})/;
	$start = sprintf('%X/%X', hex(substr($start, 0, 8)), hex(substr($start, 8)));
	$chained = 0 if $start ne $segs[ $i - 1 ]{covered_lsn};
}
ok($chained, 'each segment starts where the one before it is complete');
my $txns = 0;
$txns += $_->{transactions} for @segs;
is($txns, 2 * $N, 'every transaction once');

# a replica catches up from both runs' segments
my $rep = PostgreSQL::Test::Cluster->new('replica');
$rep->init;
$rep->start;
$rep->safe_psql('postgres', $schema);
($rc, $out, $err) = tide_run('apply', '-d', $rep->connstr('postgres'), '-D', $dir, '-q');
is($rc, 0, 'apply over both runs') or diag($err);
is($rep->safe_psql('postgres', 'SELECT count(*), sum(id) FROM t'), (2 * $N) . '|' . ($N * (2 * $N + 1)),
	'the replica has every row once');

# a third run resumes from the newest segment by LSN
$node->safe_psql('postgres', "CALL ins(2 * $N + 1, 2 * $N + 10)");
($rc, $out, $err) = tide_run(@stream, '--endpos', lsn());
is($rc, 0, 'a third run resumes') or diag($err);
($rc, $out, $err) = tide_run('apply', '-d', $rep->connstr('postgres'), '-D', $dir, '-q');
is($rc, 0, 'and the replica follows') or diag($err);
is($rep->safe_psql('postgres', 'SELECT count(*) FROM t'), 2 * $N + 10, 'all rows');

done_testing();
