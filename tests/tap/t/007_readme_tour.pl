# tests/tap/t/007_readme_tour.pl - README.md's five-minute tour, run as
# written, so the README cannot drift from the program.
#
# The block is the ```sh fence after the marker "<!-- tested:
# tests/tap/t/007_readme_tour.pl" in README.md; its commands run one by one
# in a fresh directory, through bash, against a throwaway cluster that
# PGHOST and PGPORT name (databases app and app_replica with the table the
# tour inserts into), with this build's tide first on PATH.  The build steps
# (make, sudo make install) are what the harness already did, and are
# skipped.  Between commands the harness waits, as a reader would, for what
# the next command looks at: a first segment closed empty before the
# INSERT (the stream starts on an idle source), the INSERT durable in the
# segments after it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use TideTest;

# ---- the block, from README.md
my $readme = "$FindBin::Bin/../../../README.md";
open my $fh, '<', $readme or die "cannot open $readme: $!";
my $text = do { local $/; <$fh> };
close $fh;
my ($block) = $text =~ /<!-- tested: tests\/tap\/t\/007_readme_tour\.pl[^\n]*-->\n```sh\n(.*?)\n```/s;
ok(defined $block, 'README.md marks the tour block') or BAIL_OUT('no tour block in README.md');
$block =~ s/\\\n\s*/ /g;	# continuation lines
my @lines = grep { /\S/ && !/^\s*#/ } split /\n/, $block;
cmp_ok(scalar(@lines), '>=', 6, scalar(@lines) . ' commands in the tour');

# ---- the throwaway cluster and the place the tour runs in
my $node = tide_node('tour');
$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('postgres', 'CREATE DATABASE app_replica');
$node->safe_psql($_, 'CREATE TABLE t (id int PRIMARY KEY)') for qw(app app_replica);
my $work = PostgreSQL::Test::Utils::tempdir('tour');
mkdir "$work/bin" or die;
symlink($TideTest::TIDE, "$work/bin/tide") or die "symlink: $!";
local $ENV{PATH} = "$work/bin:$ENV{PATH}";
local $ENV{PGHOST} = $node->host;
local $ENV{PGPORT} = $node->port;
delete local $ENV{PGDATABASE};

sub run_line
{
	my ($line) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'bash', '-c', "cd '$work' && $line" ], '<', \undef, '>', \$out, '2>', \$err);
	return ($? >> 8, $out, $err);
}

sub segs { return glob("$work/segs/*.tseg*") }

sub txns_durable
{
	my ($rc, $out) = tide_run('ls', '--json', "$work/segs");
	return 0 if $rc != 0;
	my $n = 0;
	$n += decode_json($_)->{transactions} for split /\n/, $out;
	return $n;
}

sub wait_until
{
	my ($what, $cond) = @_;
	for (1 .. 600)
	{
		return 1 if $cond->();
		usleep(100_000);
	}
	fail("waited 60 s for $what");
	return 0;
}

my @background;
for my $line (@lines)
{
	my ($cmd) = $line =~ /^\s*(\S+(?:\s+\S+)?)/;
	if ($line =~ /^\s*(sudo\s+)?make\b/)
	{
		note("build step, done by the harness: $line");
		next;
	}
	if ($line =~ /^(.*?)\s*&\s*$/)
	{
		my ($out, $err) = ('', '');
		push @background, [ IPC::Run::start([ 'bash', '-c', "cd '$work' && exec $1" ],
			'<', \undef, '>', \$out, '2>', \$err), \$err ];
		note("started in the background: $1");
		next;
	}
	# what a reader waits for before the next command
	if ($line =~ /^\s*psql\b/)
	{
		wait_until('the stream to close its first, empty segment', sub { scalar(grep { !/\.partial$/ } segs()) });
	}
	if ($line =~ /^\s*tide inspect\b/)
	{
		wait_until('two segments', sub { my @s = segs(); return @s >= 2 });
	}
	my ($rc, $out, $err) = run_line($line);
	is($rc, 0, "README: $line") or diag("stdout:\n$out\nstderr:\n$err");
	if ($line =~ /^\s*psql\b/)
	{
		wait_until('the INSERT durable in the segments', sub { txns_durable() >= 1 });
	}
	elsif ($line =~ /^\s*tide ls\b/)
	{
		like($out, qr/^\S+\.tseg\s+closed\s+empty, covers [0-9A-F]+\/[0-9A-F]+\.\.[0-9A-F]+\/[0-9A-F]+ /m,
			'tide ls: the empty segment shows the range it covers');
		unlike($out, qr{\s0/0\s}, 'tide ls: no 0/0 LSN');
		like($out, qr/\s1\s+1000\s+\d+$/m, 'tide ls: the transaction and its 1000 changes');
	}
	elsif ($line =~ /^\s*tide inspect\b/)
	{
		my @l = split /\n/, $out;
		is(scalar(@l), 10, 'tide inspect | head: ten lines');
		like($out, qr/^INSERT public\.t: id\[integer\]:\d+/m, 'tide inspect: the rows inserted');
		is(scalar(grep { /inspect needs/ } split /\n/, $err), 0, 'tide inspect takes several files');
	}
	elsif ($line =~ /^\s*tide apply\b/)
	{
		is($node->safe_psql('app_replica', 'SELECT count(*) FROM t'), 1000, 'the replica caught up');
	}
	elsif ($line =~ /^\s*tide verify\b/)
	{
		like($out, qr/^verify: 1 table equal, 0 different$/m, 'tide verify: equal');
	}
}
ok(scalar(@background), 'the tour started tide stream in the background');
for my $b (@background)
{
	$b->[0]->signal('TERM');
	$b->[0]->finish;
	is($? >> 8, 0, 'the background tide stream stops on SIGTERM with exit 0') or diag(${ $b->[1] });
}

# ---- what the tour leans on, beyond its own words
# several files come out in LSN order, whatever order they are given in
my @files = segs();
my ($frc, $fwd) = tide_run('inspect', '--verbose', @files);
my ($rrc, $rev) = tide_run('inspect', '--verbose', reverse @files);
is($frc, 0, 'inspect of ' . scalar(@files) . ' files');
is($rev, $fwd, 'in LSN order whatever the order of the arguments');
my ($drc, $dout) = tide_run('inspect', '--verbose', "$work/segs");
is($dout, $fwd, 'the same as the directory');
my ($xrc, $xout, $xerr) = tide_run('inspect', $files[0], "$work/segs");
is($xrc, 2, 'a directory among files: exit 2');
like($xerr, qr/is a directory: give it alone/, 'said so');
# the empty segment in --json: no first commit, its range
my ($lrc, $lout) = tide_run('ls', '--json', "$work/segs");
my ($empty) = grep { $_->{transactions} == 0 && $_->{state} eq 'closed' } map { decode_json($_) } split /\n/, $lout;
ok($empty, 'ls --json: the empty segment');
is($empty->{first_lsn}, undef, 'its first_lsn is null, not 0/0');
like($empty->{start_lsn}, qr{^[0-9A-F]+/[0-9A-F]+$}, 'its start_lsn is given');

done_testing();
