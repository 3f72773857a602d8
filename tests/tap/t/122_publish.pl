# tests/tap/t/122_publish.pl - segments leave the machine: tide stream
# --publish to S3 (s3rver) under a workload, with --ack-after-publish;
# then two new replicas, one bootstrapped from s3:// (the base published by
# the stream too) and one from http:// (nginx serving the streamer's own
# directory as it is: its index.json is kept by the stream), both equal to
# the source and to tide verify; tide publish of the same directory twice
# writes nothing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideStore;
use TideTest;
use Time::HiRes qw(usleep);

delete @ENV{qw(AWS_SESSION_TOKEN AWS_ENDPOINT_URL_S3 AWS_REGION AWS_DEFAULT_REGION AWS_PROFILE)};
my $work = PostgreSQL::Test::Utils::tempdir('t122');
my $s3 = TideStore->s3rver("$work/s3", 'tide');
$ENV{AWS_ACCESS_KEY_ID} = 'S3RVER';
$ENV{AWS_SECRET_ACCESS_KEY} = 'S3RVER';
$ENV{AWS_ENDPOINT_URL} = $s3->{url};
my $url = 's3://tide/t122';
$ENV{XDG_CACHE_HOME} = "$work/cache";

my $src = tide_node('src');
my $conn = $src->connstr('postgres');
$src->safe_psql('postgres', q{
CREATE TABLE acct (id int PRIMARY KEY, balance bigint NOT NULL, note jsonb);
CREATE TABLE hist (id bigserial PRIMARY KEY, acct int NOT NULL, delta int NOT NULL, at timestamptz NOT NULL DEFAULT now());
INSERT INTO acct SELECT g, 0, jsonb_build_object('g', g) FROM generate_series(1, 200) g;
});

my $dir = seg_dir('segs');
my ($rc, $out, $err) = tide_run('base', '-d', $conn, '-S', 'tide', '-D', $dir);
is($rc, 0, 'tide base starts the history') or diag($err);
ok(-f "$dir/index.json", 'the base is in the directory\'s index');
my $web = TideStore->nginx("$work/nginx", $dir);

my $script = "$work/wl.sql";
open my $fh, '>', $script or die;
print $fh q{
\set a random(1, 200)
\set d random(-50, 50)
BEGIN;
UPDATE acct SET balance = balance + :d, note = jsonb_set(note, '{last}', to_jsonb(:d)) WHERE id = :a;
INSERT INTO hist (acct, delta) VALUES (:a, :d);
COMMIT;
};
close $fh;
my $pgbench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '2', '-T', '6', '-R', '300', '-f', $script,
	  '-h', $src->host, '-p', $src->port, 'postgres' ],
	'>', \my $pb_out, '2>', \my $pb_err);

my ($h, $sout, $serr) = tide_start('stream', '-d', $conn, '-S', 'tide', '-D', $dir,
	'--bucket', '2s', '--publish', $url, '--ack-after-publish', '--status-interval', '1s');

# --ack-after-publish: the slot never gets ahead of what S3 holds
sub lsn_num { my ($hi, $lo) = split m{/}, shift; return hex($hi) * 2**32 + hex($lo); }
sub s3_index
{
	unlink "$work/index.copy";
	my ($r, $o, $e) = TideStore::run_tool('get', $url, 'index.json', "$work/index.copy");
	return undef if $r != 0 || !-s "$work/index.copy";
	open my $f, '<', "$work/index.copy" or return undef;
	my $text = do { local $/; <$f> };
	# s3rver writes an object in place, not atomically as S3 does: a GET
	# while the publisher rewrites the index may see part of it (read
	# again at the next poll)
	return eval { decode_json($text) };
}
my ($checked, $ahead) = (0, 0);
for (1 .. 60)
{
	usleep(200_000);
	my $confirmed = $src->safe_psql('postgres',
		"SELECT coalesce(confirmed_flush_lsn::text, '0/0') FROM pg_replication_slots WHERE slot_name = 'tide'");
	my $ix = s3_index() or next;
	my @segs = @{ $ix->{segments} };
	next unless @segs;
	my $end = lsn_num($segs[-1]{end_lsn});
	$checked++;
	$ahead++ if lsn_num($confirmed) > $end;
	last if $checked >= 5 && !$pgbench->pumpable;
}
cmp_ok($checked, '>=', 3, "the slot checked against S3's index $checked times during the run");
is($ahead, 0, '--ack-after-publish: the slot\'s confirmed position never passed what S3 holds');

$pgbench->finish;
is($?, 0, 'workload ran') or diag($pb_err);
# the sequences' states last (README "Sequences"), then the end: the
# replica's sequences must be ahead for tide verify
($rc, $out, $err) = tide_run('sync-sequences', '-d', $conn, '-q');
is($rc, 0, 'tide sync-sequences') or diag($err);
my $end = $src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
$h->signal('TERM');
$h->finish;
is($h->result(0), 0, 'stream --publish stops on SIGTERM') or diag($$serr);
like($$serr, qr/published "base\/\d{8}T\d{6}Z\/manifest\.json"/, 'the base was published by the stream');
like($$serr, qr/published "\d{8}T\d{6}Z_[0-9A-F]{16}\.tseg" \(\d+ bytes\) to "s3:\/\/tide\/t122"/, 'closed segments were published');
like($$serr, qr/wait to be published/, 'the status line tells the backlog');
# the rest of the history, closed and published as the run ends
($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir, '--bucket', '2s',
	'--publish', $url, '--endpos', $end, '-q');
is($rc, 0, 'a bounded run closes and publishes the last segment') or diag($err);

# both indexes name the same segments, in LSN order; S3 holds them all
my $ix = s3_index();
open my $lf, '<', "$dir/index.json" or die;
my $local = decode_json(do { local $/; <$lf> });
close $lf;
my @names = map { $_->{name} } @{ $ix->{segments} };
is_deeply(\@names, [ map { $_->{name} } @{ $local->{segments} } ], 'S3\'s index and the directory\'s name the same segments');
is_deeply(\@names, [ sort grep { /\.tseg$/ } map { s{.*/}{}r } glob("$dir/*.tseg") ], '... every closed segment of the directory');
cmp_ok(scalar(@names), '>=', 3, scalar(@names) . ' segments published');
is(scalar(@{ $ix->{bases} }), 1, 'the base is in S3\'s index');
ok(!grep({ /\.partial/ } @names), 'an open segment is never published');
for my $i (1 .. $#{ $ix->{segments} })
{
	is($ix->{segments}[$i]{start_lsn}, $ix->{segments}[ $i - 1 ]{end_lsn}, "segment $i continues the one before")
	  or last;
}

my @tables = qw(acct hist);
my %sql = map { $_ => "SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') FROM $_ x" } @tables;
my %want = map { $_ => $src->safe_psql('postgres', $sql{$_}) } @tables;

my $rep = PostgreSQL::Test::Cluster->new('rep');
$rep->init;
$rep->start;
$rep->safe_psql('postgres', 'CREATE DATABASE from_s3; CREATE DATABASE from_http');

# replica 2: base and segments from S3, downloaded and checked into the cache
($rc, $out, $err) = tide_run('bootstrap', '-d', $rep->connstr('from_s3'), '-D', $url);
is($rc, 0, 'tide bootstrap from s3://') or diag($err);
like($err, qr/downloading base "s3:\/\/tide\/t122\/base\/\d{8}T\d{6}Z"/, 'the base came from S3');
like($err, qr/downloaded \d+ segments \([\d.]+ MB\) from "s3:\/\/tide\/t122"/, 'the segments came from S3');
is($rep->safe_psql('from_s3', $sql{$_}), $want{$_}, "s3://: $_ equal to the source") for @tables;
($rc, $out, $err) = tide_run('verify', '-s', $conn, '-d', $rep->connstr('from_s3'));
is($rc, 0, 's3://: tide verify finds them equal') or diag($out . $err);
my @cached = glob("$work/cache/tide/*/*.tseg");
is(scalar(@cached), 0, 'segments the replica is past are not kept in the cache');
my ($cache_dir) = glob("$work/cache/tide/*");
is((stat($cache_dir))[2] & 07777, 0700, 'the cache is owner-only');

# replica 3: the streamer's own directory, served as it is by nginx
($rc, $out, $err) = tide_run('bootstrap', '-d', $rep->connstr('from_http'), '-D', $web->{url});
is($rc, 0, 'tide bootstrap from http:// (the stream\'s directory served by nginx)') or diag($err);
is($rep->safe_psql('from_http', $sql{$_}), $want{$_}, "http://: $_ equal to the source") for @tables;
($rc, $out, $err) = tide_run('verify', '-s', $conn, '-d', $rep->connstr('from_http'));
is($rc, 0, 'http://: tide verify finds them equal') or diag($out . $err);
ok(!grep({ /\.partial/ } $web->access_log), 'no reader asked for an open segment');

# tide publish of what is published already: nothing is written (counted at a proxy)
my $proxy = TideStore->proxy("$work/proxy", $s3);
{
	local $ENV{AWS_ENDPOINT_URL} = $proxy->{url};
	for my $run (1 .. 2)
	{
		($rc, $out, $err) = tide_run('publish', $dir, $url);
		is($rc, 0, "tide publish, run $run") or diag($err);
		like($err, qr/already holds everything .* nothing to do/, "run $run: nothing to do");
	}
}
my @puts = grep { /^PUT / } $proxy->requests;
is(scalar(@puts), 0, 'tide publish twice: not one PUT') or diag(@puts);

# and to another directory (a web server's root): everything, then nothing
my $www = "$work/www";
mkdir $www or die;
($rc, $out, $err) = tide_run('publish', $dir, $www);
is($rc, 0, 'tide publish to another directory') or diag($err);
ok(-f "$www/index.json" && -f "$www/$names[0]", 'the index and the segments are there');
($rc, $out, $err) = tide_run('publish', $dir, $www);
like($err, qr/nothing to do/, 'again: nothing to do');

done_testing();
