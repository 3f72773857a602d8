# tests/tap/t/021_stream_stalled_source.pl - tide stream's loop never waits
# for the source: against a "source" that accepts TCP connections and never
# answers (a listener here), /metrics keeps answering during the connection
# attempt, at startup and on reconnects; SIGTERM during the attempt ends the
# run at once; connect_timeout is enforced under the loop (libpq enforces
# it only in its blocking calls), then the stream retries with backoff.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use HTTP::Tiny;
use IO::Socket::INET;
use POSIX ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;
use Time::HiRes qw(usleep time);

# a listener that accepts and holds every connection, never writing;
# it appends a line to $log per connection accepted
my $tmp = PostgreSQL::Test::Utils::tempdir('stall');
my $log = "$tmp/accepted";
my $lsn = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 16, ReuseAddr => 1)
  or die "listen: $!";
my $stall_port = $lsn->sockport;
my $stall_pid = fork() // die "fork: $!";
if ($stall_pid == 0)
{
	my @held;
	while (my $c = $lsn->accept)
	{
		push @held, $c;
		open my $fh, '>>', $log or POSIX::_exit(1);
		print $fh "accepted\n";
		close $fh;
	}
	POSIX::_exit(0);
}
close $lsn;
END { kill 'KILL', $stall_pid if $stall_pid; }

sub accepted
{
	open my $fh, '<', $log or return 0;
	my @l = <$fh>;
	return scalar @l;
}

my $http = HTTP::Tiny->new(timeout => 2);

# scrape PORT - the page's metrics as { name => value }, or undef
sub scrape
{
	my ($port) = @_;
	my $r = $http->get("http://127.0.0.1:$port/metrics");
	return undef unless $r->{success};
	my %m = map { /^(\S+) (\S+)$/ ? ($1 => $2) : () } grep { !/^#/ } split /\n/, $r->{content};
	return \%m;
}

# wait_for COND - up to 30 s
sub wait_for
{
	my ($cond) = @_;
	for (1 .. 300)
	{
		return 1 if $cond->();
		usleep(100_000);
	}
	return 0;
}

# gone H - the process of harness H has exited (a zombie counts: finish
# reaps it)
sub gone
{
	my ($h) = @_;
	my $pid = $h->{KIDS}[0]{PID};
	open my $fh, '<', "/proc/$pid/stat" or return 1;
	my $stat = <$fh>;
	return $stat =~ /^\d+ \(.*\) Z/ ? 1 : 0;
}

# A directory with history, from a real source: a stream that loses its
# source retries instead of stopping.
my $node = tide_node('source');
my $conn = $node->connstr('postgres');
$node->safe_psql('postgres', q{
CREATE TABLE t (id int PRIMARY KEY);
SELECT pg_create_logical_replication_slot('tide', 'tide');
INSERT INTO t VALUES (1);
});
my $dir = seg_dir('segs');
my $end = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
my ($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir, '--endpos', $end);
is($rc, 0, 'a first run from the real source') or diag($err);

# ------------------------------------------------ a slow first attempt
# connect_timeout 60: the old, blocking connect sat in PQconnectdbParams for
# the whole minute before the loop ever ran.
my $stall = "host=127.0.0.1 port=$stall_port dbname=postgres user=nobody connect_timeout=60";
my $mport = PostgreSQL::Test::Cluster::get_free_port();
my ($h, $sout, $serr) = tide_start('stream', '-d', $stall, '-S', 'tide', '-D', $dir,
	'--metrics-listen', $mport);
ok(wait_for(sub { accepted() >= 1 }), 'the stream connects to the stalled source');
my ($ok, $tries, $m) = (0, 5, undef);
for (1 .. $tries)
{
	my $got = scrape($mport);
	$ok++ if $got;
	$m = $got if $got;
	usleep(300_000);
}
is($ok, $tries, "/metrics answers all $tries scrapes while the connection attempt hangs") or diag($$serr);
is($m->{tide_stream_connected}, 0, '... and says the stream is not connected');
ok(!gone($h), 'the stream is still waiting for the source');
$h->pump_nb;
unlike($$serr, qr/reconnecting/, 'no attempt has ended (the timeout is a minute)');

# SIGTERM during the attempt: the loop is free, the run ends at once
$h->signal('TERM');
ok(wait_for(sub { gone($h) }), 'SIGTERM during the attempt stops the stream');
$h->finish;
is($h->result(0), 0, '... with exit code 0') or diag($$serr);
like($$serr, qr/received SIGTERM/, '... saying why');

# ------------------------------------------------ the timeout, then retries
$stall =~ s/connect_timeout=60/connect_timeout=2/;
my $before = accepted();
($h, $sout, $serr) = tide_start('stream', '-d', $stall, '-S', 'tide', '-D', $dir,
	'--metrics-listen', $mport);
ok(wait_for(sub { $h->pump_nb; $$serr =~ /reconnecting in/ && accepted() >= $before + 3 }),
	'connect_timeout ends an attempt, and the stream tries again') or diag($$serr);
like($$serr, qr/lost the replication connection: timeout expired \(connect_timeout\)/,
	'the timeout is named');
ok(scrape($mport), '/metrics answers between and during the attempts');
$h->signal('TERM');
ok(wait_for(sub { gone($h) }), 'SIGTERM stops it');
$h->finish;
is($h->result(0), 0, '... with exit code 0') or diag($$serr);

# ------------------------------------------------ a first run gives up
# No history in the directory: a source it cannot reach is an error to fix.
my $fresh = seg_dir('fresh');
($rc, $out, $err) = tide_run('stream', '-d', $stall, '-S', 'tide', '-D', $fresh);
is($rc, 3, 'a first run whose source never answers exits 3');
like($err, qr/could not connect to the source: timeout expired \(connect_timeout\)/,
	'... naming the timeout');

# ------------------------------------------------ the real source again
$end = $node->safe_psql('postgres', 'INSERT INTO t VALUES (2); SELECT pg_current_wal_lsn()');
($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir, '--endpos', $end);
is($rc, 0, 'the directory continues from the real source afterwards') or diag($err);
like(join("\n", seg_lines($dir)), qr/INSERT public\.t: id\[integer\]:2/, 'with the new row');

done_testing();
