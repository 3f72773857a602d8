# tests/tap/t/008_readme_recipes.pl - README.md's recipes "Publish
# yesterday's changes on a web server" and "Segments in S3, appliers
# anywhere", run as written: their ```sh blocks (after the markers "<!--
# tested: tests/tap/t/008_readme_recipes.pl"), and the tide commands of the
# paragraph after the first, in order.  (The other recipes are prose about
# options tested elsewhere: --until/--from in 030 and 086, --schema follow
# in 141, bootstrap in 060.)
#
# The recipe names machines and paths this test does not have; each is
# replaced by its throwaway stand-in, and nothing else is changed:
#   host=src                       the source cluster (host and port)
#   /srv/tide/app, /var/lib/tide/app  a directory of the test
#   https://data.example.org/app/  nginx serving that directory
#   /var/www/app                   another directory of the test (a web
#                                  root exists: tide publish does not create it)
#   "dbname=app" with no host      the analyst's replica (PGHOST, PGPORT)
# tide stream runs until the test stops it, as a service would; between
# the two bases the source gets some rows, as a live source would.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use TideStore;
use TideTest;

my $readme = "$FindBin::Bin/../../../README.md";
open my $fh, '<', $readme or die "cannot open $readme: $!";
my $text = do { local $/; <$fh> };
close $fh;
my ($block, $after) =
  $text =~ /<!-- tested: tests\/tap\/t\/008_readme_recipes\.pl[^\n]*-->\n```sh\n(.*?)\n```\n\n(.*?)\n\n/s;
ok(defined $block, 'README.md marks the recipe') or BAIL_OUT('no marked recipe in README.md');
$block =~ s/\\\n\s*/ /g;
my @lines = map { s/\s+#.*$//r } grep { /\S/ && !/^\s*#/ } split /\n/, $block;
my @prose = map { s/\s+/ /gr } $after =~ /`(tide [^`]+)`/g;
cmp_ok(scalar(@lines), '>=', 3, scalar(@lines) . ' commands in the block');
cmp_ok(scalar(@prose), '>=', 3, scalar(@prose) . ' in the paragraph after it: ' . join('; ', @prose));

my $src = tide_node('src');
$src->safe_psql('postgres', 'CREATE DATABASE app');
$src->safe_psql('app', 'CREATE TABLE t (id int PRIMARY KEY, v text)');
my $rep = PostgreSQL::Test::Cluster->new('analyst');
$rep->init;
$rep->start;
$rep->safe_psql('postgres', 'CREATE DATABASE app');
my $work = PostgreSQL::Test::Utils::tempdir('recipe');
mkdir "$work/srv" or die;
mkdir "$work/www" or die;
mkdir "$work/www/app" or die;
my $web = TideStore->nginx("$work/nginx", "$work/srv");
mkdir "$work/bin" or die;
symlink($TideTest::TIDE, "$work/bin/tide") or die "symlink: $!";
local $ENV{PATH} = "$work/bin:$ENV{PATH}";
local $ENV{PGHOST} = $rep->host;
local $ENV{PGPORT} = $rep->port;
delete local $ENV{PGDATABASE};

my ($sh, $sp) = ($src->host, $src->port);
sub stand_ins
{
	my ($l) = @_;
	$l =~ s/host=src\b/host=$sh port=$sp/g;
	$l =~ s{/srv/tide/app|/var/lib/tide/app}{$work/srv/app}g;
	$l =~ s{https://data\.example\.org/app/}{$web->{url}/app/}g;
	$l =~ s{/var/www/app}{$work/www/app}g;
	return $l;
}

sub run_line
{
	my ($line) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'bash', '-c', "cd '$work' && " . stand_ins($line) ], '<', \undef, '>', \$out, '2>', \$err);
	return ($? >> 8, $out, $err);
}

my ($stream, $serr);
my $bases = 0;
for my $line (@lines)
{
	if ($line =~ /^\s*tide stream\b/)
	{
		$serr = '';
		$stream = IPC::Run::start([ 'bash', '-c', 'exec ' . stand_ins($line) ], '<', \undef, '>', \my $o, '2>', \$serr);
		ok($src->poll_query_until('postgres',
				"SELECT active FROM pg_replication_slots WHERE slot_name = 'tide'"),
			"README: $line (runs on, as a service)") or diag($serr);
		$src->safe_psql('app', "INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 500) g");
		next;
	}
	my ($rc, $out, $err) = run_line($line);
	is($rc, 0, "README: $line") or diag("stdout:\n$out\nstderr:\n$err");
	$bases++ if $line =~ /^\s*tide base\b/ && $rc == 0;
}
ok($stream, 'the recipe runs tide stream');
is($bases, 2, 'two bases: the first (with the slot), then one while the stream runs');
my @dirs = grep { !/^\./ } map { s{.*/}{}r } glob("$work/srv/app/base/*");
is(scalar(@dirs), 2, 'both in the directory') or diag("@dirs");

for my $cmd (@prose)
{
	my ($rc, $out, $err) = run_line($cmd);
	is($rc, 0, "README: $cmd") or diag("stdout:\n$out\nstderr:\n$err");
	if ($cmd =~ /^tide bootstrap/)
	{
		is($rep->safe_psql('app', 'SELECT count(*) FROM t'), 500,
			'the analyst has the rows of the newest base, over https:// (here http://)');
		like($err, qr/download/i, 'downloaded from the web server');
	}
	elsif ($cmd =~ /^tide publish/)
	{
		ok(-f "$work/www/app/index.json", 'published: the other root has an index');
		my @copied = glob("$work/www/app/base/*");
		is(scalar(@copied), 2, 'and both bases');
	}
}

$stream->signal('TERM');
$stream->finish;
is($? >> 8, 0, 'tide stream stops on SIGTERM with exit 0') or diag($serr);
$web->stop;

# ---- "Segments in S3, appliers anywhere": its block, with s3rver for S3
# (AWS_ENDPOINT_URL, as the block's comment says for an S3-compatible
# server; s3rver's key pair for the "..." of the export line), a second
# source for host=src and a new replica for host=replica3; the lines that
# run on (tide stream, tide apply --follow) run until the test stops them.
my ($s3block) = $text =~ /<!-- tested: tests\/tap\/t\/008_readme_recipes\.pl runs this block \(s3\) -->\n```sh\n(.*?)\n```/s;
ok(defined $s3block, 'README.md marks the S3 recipe') or BAIL_OUT('no S3 recipe');
$s3block =~ s/\\\n\s*/ /g;
my @s3lines = map { s/\s+#.*$//r } grep { /\S/ && !/^\s*#/ } split /\n/, $s3block;
my $src2 = tide_node('src2');
$src2->safe_psql('postgres', 'CREATE DATABASE app');
$src2->safe_psql('app', "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'base' FROM generate_series(1, 300) g");
my $rep3 = PostgreSQL::Test::Cluster->new('replica3');
$rep3->init;
$rep3->start;
$rep3->safe_psql('postgres', 'CREATE DATABASE app');
my $s3 = TideStore->s3rver("$work/s3", 'tide-archive');
mkdir "$work/s3src" or die;	# /var/lib/tide: the package makes it
delete local @ENV{qw(AWS_SESSION_TOKEN AWS_ENDPOINT_URL_S3 AWS_DEFAULT_REGION AWS_PROFILE)};
local $ENV{AWS_ENDPOINT_URL} = $s3->{url};
local $ENV{AWS_ACCESS_KEY_ID};
local $ENV{AWS_SECRET_ACCESS_KEY};
local $ENV{AWS_REGION};
my ($h2, $p2, $h3, $p3) = ($src2->host, $src2->port, $rep3->host, $rep3->port);
sub s3_stand_ins
{
	my ($l) = @_;
	$l =~ s/host=src\b/host=$h2 port=$p2/g;
	$l =~ s/host=replica3\b/host=$h3 port=$p3/g;
	$l =~ s{/var/lib/tide/app}{$work/s3src/app}g;
	return $l;
}
my @running;
for my $line (@s3lines)
{
	if ($line =~ /^\s*export\s+(.*)$/)
	{
		# the credentials the block leaves to the reader: s3rver's
		for my $kv (split /\s+/, $1)
		{
			my ($k, $v) = split /=/, $kv, 2;
			$ENV{$k} = $v eq '...' ? 'S3RVER' : $v;
		}
		is($ENV{AWS_SECRET_ACCESS_KEY}, 'S3RVER', "README: $line (s3rver's key pair for ...)");
		next;
	}
	my $cmd = s3_stand_ins($line);
	if ($line =~ /^\s*tide stream\b/ || $line =~ /--follow\b/)
	{
		my $err = '';
		push @running, [ $line, IPC::Run::start([ 'bash', '-c', "exec $cmd" ], '<', \undef, '>', \my $o, '2>', \$err), \$err ];
		if ($line =~ /^\s*tide stream\b/)
		{
			# what bootstrap reads: the base, published by the stream
			my $ok = 0;
			for (1 .. 600)
			{
				my ($rc, $out) = tide_run('ls', 's3://tide-archive/app');
				if ($rc == 0 && $out =~ /^\d{8}T\d{6}Z\s/m) { $ok = 1; last; }
				usleep(100_000);
			}
			ok($ok, "README: $line (runs on; the base reaches S3)") or diag($err);
		}
		else
		{
			# what S3 holds (the base; the open hour's segment is not
			# published before the hour ends), and still following
			ok($rep3->poll_query_until('app', 'SELECT count(*) >= 300 FROM t'),
				"README: $line (runs on)") or diag($err);
			ok($running[-1][1]->pumpable, 'the applier keeps following') or diag($err);
		}
		next;
	}
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'bash', '-c', $cmd ], '<', \undef, '>', \$out, '2>', \$err);
	is($? >> 8, 0, "README: $line") or diag("stdout:\n$out\nstderr:\n$err");
	if ($line =~ /^\s*tide bootstrap\b/)
	{
		cmp_ok($rep3->safe_psql('app', 'SELECT count(*) FROM t'), '>=', 300, 'bootstrapped from S3');
	}
}
for my $r (reverse @running)
{
	$r->[1]->signal('TERM');
	$r->[1]->finish;
	is($? >> 8, 0, "stopped with SIGTERM, exit 0: $r->[0]") or diag(${ $r->[2] });
}
$s3->stop;

done_testing();
