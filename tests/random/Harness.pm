# tests/random/Harness.pm - what the TAP entry points share: the clusters,
# the proxy and the tmpfs, running a seed or a saved case, shrinking a
# failure and saving it as a regression case.
package Harness;

use strict;
use warnings;
use File::Path qw(make_path);
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use TideTest;
use Gen;
use Proxy;
use Runner;
use Shrink;

our $CURRENT;    # the clusters, runner and proxy of this test (for END)

# setup - { src, rep, runner, proxy, tmpfs }
sub setup
{
	my (%o) = @_;
	my $src = tide_node('rsrc');
	my $rep = PostgreSQL::Test::Cluster->new('rrep');
	$rep->init;
	$rep->append_conf('postgresql.conf', "max_connections = 50\n");
	$rep->start;
	my $tmpfs = $ENV{TIDE_TMPFS};
	if (!$tmpfs || !-d $tmpfs || !-w $tmpfs)
	{
		note('disk-full faults skipped: TIDE_TMPFS names no writable tmpfs (make check and make torture mount one when run as root)');
		$tmpfs = undef;
	}
	my $proxy = Proxy->start($src);
	# the runs' logs and segments: kept for failed runs (and RANDOM_KEEP=1)
	my $workdir = ($ENV{TESTDIR} // PostgreSQL::Test::Utils::tempdir('random')) . '/random_runs';
	make_path($workdir);
	my $runner = Runner->new(src => $src, rep => $rep, tide => $TideTest::TIDE, workdir => $workdir,
		tmpfs => $tmpfs, proxy => $proxy, log => sub { note(@_) });
	$CURRENT = { src => $src, rep => $rep, runner => $runner, proxy => $proxy, tmpfs => $tmpfs, workdir => $workdir };
	return $CURRENT;
}

# an interrupted test leaves no tide process and no proxy behind
END
{
	if ($CURRENT)
	{
		local ($?, $@);
		my $r = $CURRENT->{runner};
		for my $pid (keys %{ $r->{live} // {} }) { kill 'KILL', $pid; waitpid($pid, 0); }
		$CURRENT->{proxy}->stop if $CURRENT->{proxy};
	}
}

sub teardown
{
	my ($h) = @_;
	$CURRENT = undef;
	$h->{proxy}->stop if $h->{proxy};
	$h->{src}->stop('fast');
	$h->{rep}->stop('fast');
}

sub env_knobs { return Gen::parse_knobs($ENV{RANDOM_KNOBS} // ''); }

sub knob_string
{
	my ($k) = @_;
	return join(',', map { "$_=$k->{$_}" } grep { "$k->{$_}" ne "$Gen::DEFAULT_KNOBS{$_}" } sort keys %$k);
}

sub summary
{
	my ($res) = @_;
	my $s = $res->{stats};
	my $f = join(' ', map { "$_=$s->{faults}{$_}" } sort keys %{ $s->{faults} });
	return sprintf('%d transactions (%d committed, %d rolled back, %d statement errors), %d decoded, %d messages, '
		  . '%d DDL commands, %d until points, faults [%s], %d prefix checks, jobs %d, %d segments, %s, %.0fs',
		$s->{txns}, $s->{commits}, $s->{rollbacks}, $s->{stmt_errors}, $s->{td_txns} // 0, $s->{td_messages} // 0,
		$s->{ddl} // 0, $s->{marks}, $f || 'none', $s->{prefix_checks} // 0, $s->{jobs} // 1, $s->{segments} // 0,
		$s->{expect} // '?', $res->{seconds});
}

sub failure_text
{
	my ($res) = @_;
	return join("\n", map { "[$_->{oracle}] $_->{msg}" } @{ $res->{failures} });
}

# run_workload H W NAME [SHRINK] - one TAP check; on failure the seed, the
# replay command, the reduced workload (saved as a case)
sub run_workload
{
	my ($h, $w, $name, %o) = @_;
	my $res = $h->{runner}->run($w);
	my $ok = ok($res->{ok}, "$name: " . summary($res));
	note("source statements that failed (the source decides, the oracles follow it): " . join(' | ', map { substr($_, 0, 300) } @{ $res->{stats}{errors} }))
	  if $res->{stats}{errors};
	return $res if $ok;
	my $ks = knob_string($w->{knobs});
	diag(failure_text($res));
	diag("logs and segments kept in $res->{rundir}");
	diag("replay (tide apply --jobs " . ($w->{jobs} // 1) . "): make -C tests tap TAP_TESTS=tap/t/110_random.pl RANDOM_SEEDS=$w->{seed}"
		  . ($ks ? " RANDOM_KNOBS='$ks'" : ''));
	return $res unless $o{shrink} // ($ENV{RANDOM_SHRINK} // 1);
	my $oracle = $res->{failures}[0]{oracle};
	my $budget = 60 * ($ENV{RANDOM_SHRINK_MINUTES} // 10);
	my $min = Shrink::shrink($w, sub {
			my ($c) = @_;
			my $r = $h->{runner}->run($c);
			return scalar grep { $_->{oracle} eq $oracle } @{ $r->{failures} };
		}, sub { note(@_) }, $budget);
	my $mres = $h->{runner}->run($min, keep => 1);
	my $file = save_case($min, $oracle, $mres->{ok} ? $res : $mres, $name);
	diag("reduced to " . scalar(grep { $_->{t} eq 'sql' } @{ $min->{steps} }) . " statements, saved as $file:\n"
		  . Gen::script($min) . "\nwhich fails with:\n" . failure_text($mres->{ok} ? $res : $mres));
	return $res;
}

# save_case W ORACLE RES NAME - a JSON file in RANDOM_CASES_OUT (the
# Makefile copies new ones into tests/random/cases/)
sub save_case
{
	my ($w, $oracle, $res, $name) = @_;
	my $dir = $ENV{RANDOM_CASES_OUT} // (($ENV{TESTDIR} // '/tmp') . '/random_cases');
	make_path($dir);
	my $first = $res->{failures}[0]{msg} // '';
	$first =~ s/\n.*//s;
	my @req = grep { !$Gen::DEFAULT_KNOBS{$_} && $w->{knobs}{$_} } sort keys %{ $w->{knobs} };
	my $case = {
		name => "seed$w->{seed}-$oracle",
		oracle => $oracle,
		failure => $first,
		seed => $w->{seed},
		requires_knobs => \@req,
		note => 'found by the randomized harness (tests/random); replayed by tests/tap/t/111_random_cases.pl',
		workload => $w,
	};
	my $file = "$dir/$case->{name}.json";
	open my $fh, '>', $file or die "cannot write $file: $!";
	print $fh JSON::PP->new->canonical->pretty->encode($case);
	close $fh;
	return $file;
}

sub load_case
{
	my ($file) = @_;
	open my $fh, '<', $file or die "cannot read $file: $!";
	local $/;
	my $c = JSON::PP->new->decode(<$fh>);
	close $fh;
	return $c;
}

1;
