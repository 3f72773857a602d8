# tests/tap/t/110_random.pl - the randomized differential harness
# (tests/random/README.md): random schemas and transactions from a seed,
# faults interleaved, the replica compared with the source (at the end and
# at --until points), the segments with test_decoding, refusals with their
# exit codes.  A failure prints the seed and the replay command, then is
# reduced to a minimal workload saved as a regression case.
#
#   RANDOM_SEEDS="1 2 3"  the seeds (default: the fixed set, then one random)
#   RANDOM_MINUTES=N      keep drawing random seeds for N minutes (torture)
#   RANDOM_KNOBS=a=1,b=0  override knobs (Gen.pm %DEFAULT_KNOBS)
#   RANDOM_SHRINK=0       do not reduce failures
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..", "$FindBin::Bin/../../random";
use Test::More;
use Time::HiRes qw(time);
use TideTest;
use Gen;
use Harness;

my %over = Harness::env_knobs();
my $k = Gen::knobs(%over);
my $minutes = $ENV{RANDOM_MINUTES} // 0;
my @seeds = split /[\s,]+/, ($ENV{RANDOM_SEEDS} // '');
my $random = $ENV{RANDOM_SEED_BASE} // (int(time() * 1000) ^ ($$ << 8)) % 1_000_000_000;
if (!@seeds)
{
	# the fixed set (with the random one, about 2 minutes of make check)
	@seeds = $minutes ? () : (11, 23);
	push @seeds, $random;
}
note('random harness: seeds ' . join(' ', @seeds) . ($minutes ? ", then random seeds for $minutes minutes" : '')
	  . ', knobs ' . (Harness::knob_string($k) || 'default'));
diag("random seed of this run: $random") unless $ENV{RANDOM_SEEDS};

my $h = Harness::setup();
my $t0 = time();
my (%tot, %faults, @failed, @jobs_failed);
my $runs = 0;
my $next_seed = $random;
while (1)
{
	my $seed;
	if (@seeds) { $seed = shift @seeds; }
	elsif ($minutes && time() - $t0 < $minutes * 60) { $seed = ($next_seed = ($next_seed * 1103515245 + 12345) % 1_000_000_007); }
	else { last; }
	my $w = Gen::generate($seed, $k);
	my $res = Harness::run_workload($h, $w, "seed $seed");
	$runs++;
	my $s = $res->{stats};
	$tot{$_} //= 0 for qw(jobs_runs jobs_faults jobs_apply_kills prefix_checks);
	$tot{$_} += $s->{$_} // 0 for qw(txns commits rollbacks td_txns td_messages marks ddl stmt_errors enospc_exits stream_restarts apply_restarts follower_enoent);
	$tot{refused} += $s->{refused} // 0;
	$tot{prefix_checks} += $s->{prefix_checks} // 0;
	if (($s->{jobs} // 1) > 1)
	{
		$tot{jobs_runs}++;
		$tot{jobs_faults} += $s->{faults}{$_} for keys %{ $s->{faults} };
		$tot{jobs_apply_kills} += $s->{faults}{apply_kill} // 0;
		push @jobs_failed, $seed unless $res->{ok};
	}
	$faults{$_} += $s->{faults}{$_} for keys %{ $s->{faults} };
	push @failed, $seed unless $res->{ok};
}
my $nf = 0;
$nf += $faults{$_} for keys %faults;
my $line = sprintf('random: %d runs (%d failed%s), %d transactions (%d committed, %d rolled back), '
	  . '%d decoded by test_decoding, %d messages, %d DDL commands, %d until points, %d refusals checked, %d faults (%s), '
	  . '%d streamer exits on a full disk, %d follower exits on a vanished segment, '
	  . '%d prefix checks after applier kills; with --jobs: %d runs (%d failed), %d faults, %d applier kills; %.0fs',
	$runs, scalar @failed, @failed ? ': seeds ' . join(' ', @failed) : '', $tot{txns}, $tot{commits}, $tot{rollbacks},
	$tot{td_txns}, $tot{td_messages}, $tot{ddl}, $tot{marks}, $tot{refused}, $nf,
	join(', ', map { "$_ $faults{$_}" } sort keys %faults) || 'none', $tot{enospc_exits}, $tot{follower_enoent},
	$tot{prefix_checks}, $tot{jobs_runs}, scalar @jobs_failed, $tot{jobs_faults}, $tot{jobs_apply_kills}, time() - $t0);
diag($line);
Harness::teardown($h);
done_testing();
