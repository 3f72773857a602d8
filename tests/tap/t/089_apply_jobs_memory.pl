# tests/tap/t/089_apply_jobs_memory.pl - tide apply --jobs 4 in bounded
# memory across a transaction that spans blocks (applier/jobs.c, "Large
# transactions"): 200 transactions of 100 jsonb-heavy rows keep the four
# workers busy, then one transaction of 80,000 rows (more than a pending
# set holds before it is applied: the run's own session fills its set to
# the limit, about 32 MB), then 200 small ones again.  Before it, the
# idle workers' sessions, the free units and the dependency tracker used to
# keep their high-water marks while the run's session filled its own (a
# 1 GB transaction: 70 MiB); they hand them back now.  The peak resident
# set (GNU time) must stay under 64 MiB, and the replica equal the source.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;
use ApplyTest;

-x '/usr/bin/time' or BAIL_OUT('/usr/bin/time (Debian package "time") is missing: run make deps');
my $limit_kb = 64 * 1024;

my $schema = q{CREATE TABLE messages (id bigserial PRIMARY KEY, msg_id uuid NOT NULL,
	topic text NOT NULL, ts timestamptz NOT NULL DEFAULT now(), username text,
	category text, headers jsonb, body jsonb)};
my ($src, $dir) = apply_source('src', $schema);

# rows(N) - N rows as bench/workload.sh's insert workload makes them
sub rows
{
	my ($n) = @_;
	return qq{INSERT INTO messages (msg_id, topic, username, category, headers, body)
SELECT gen_random_uuid(), 'org.fedoraproject.prod.bodhi.update.' || (i % 50),
       'user' || (i % 1000), 'cat' || (i % 20),
       jsonb_build_object('sent-at', now(), 'priority', i % 3, 'x-id', i),
       jsonb_build_object('i', i, 'comment', md5(random()::text) || ' ' || md5(random()::text) || ' ' || md5(random()::text),
                          'tags', jsonb_build_array('a', 'b', i), 'agent', 'bodhi', 'version', '5.7.1')
FROM generate_series(1, $n) i;
};
}

my $wdir = PostgreSQL::Test::Utils::tempdir('scripts');
open(my $fh, '>', "$wdir/small.sql") or die;
print $fh rows(100);
close $fh;

sub small
{
	my ($o, $e);
	IPC::Run::run([ 'pgbench', '-n', '-h', $src->host, '-p', $src->port, '-f', "$wdir/small.sql",
		'-t', '200', 'postgres' ], '<', \undef, '>', \$o, '2>', \$e);
	is($?, 0, '200 transactions of 100 rows') or diag($e);
}

small();
$src->safe_psql('postgres', "BEGIN;\n" . rows(80000) . "COMMIT;");
small();
stream_to($src, $dir);
my $want = table_md5($src, 'postgres', 'messages');
like($want, qr/^120000:/, '120,000 rows on the source');

my $rep = replica_node('rep');
my $db = replica_db($rep, 'jobs4', $schema);
my ($out, $err) = ('', '');
IPC::Run::run([ '/usr/bin/time', '-v', $TideTest::TIDE, 'apply', '-d', $rep->connstr($db), '-D', $dir,
	'--jobs', '4' ], '<', \undef, '>', \$out, '2>', \$err);
is($? >> 8, 0, 'tide apply --jobs 4: exit 0') or diag($err);
is(table_md5($rep, $db, 'messages'), $want, '--jobs 4: the replica equals the source');
like($err, qr/1 transactions spanning blocks applied on the run's own session/,
	'--jobs 4: the large transaction ran on the run\'s own session');
my ($kb) = $err =~ /Maximum resident set size \(kbytes\): (\d+)/;
ok(defined $kb && $kb < $limit_kb, "--jobs 4: peak RSS ${\($kb // '?')} kB, under 64 MiB");
diag sprintf('tide apply --jobs 4, 80,000-row transaction among 400 small ones: peak RSS %.1f MiB', ($kb // 0) / 1024);

done_testing();
