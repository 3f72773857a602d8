# tests/tap/t/008_readme_recipes.pl - README.md's recipe "Publish
# yesterday's changes on a web server", run as written: its ```sh block
# (after the marker "<!-- tested: tests/tap/t/008_readme_recipes.pl") and
# the tide commands of the paragraph after it, in order.
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

done_testing();
