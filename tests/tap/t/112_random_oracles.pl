# tests/tap/t/112_random_oracles.pl - the randomized harness's oracles
# bite: a replica row deleted or duplicated behind tide's back, a decoder
# that leaves a table out, a replica wrong at an --until point — each is
# caught by the oracle it concerns, and a caught failure shrinks to a
# smaller workload that still fails.  (A harness that cannot fail is a
# defect.)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..", "$FindBin::Bin/../../random";
use Test::More;
use TideTest;
use Gen;
use Harness;
use Shrink;

# small, fault-free workloads: the point is the oracles
my $k = Gen::knobs(txns => 10, faults => 0, poison => 0, tables => 4, apply_follow => 0, ddl => 0);
my $h = Harness::setup();
my $r = $h->{runner};

sub failed_oracles { my ($res) = @_; return join(',', sort { $a cmp $b } map { $_->{oracle} } @{ $res->{failures} }); }

# a seed whose schema has a table without a unique key (for duplicates)
my $seed;
for my $s (1 .. 200)
{
	my $w = Gen::generate($s, $k);
	next unless grep { $_->{kind} =~ /^(full|keyless)$/ && !$_->{excluded} } @{ $w->{schema}{tables} };
	next unless $w->{schema}{tables}[0]{kind} eq 'keyed' && !$w->{schema}{tables}[0]{excluded};
	# a sequence that cannot wrap, applied, and moved by the workload
	my $all = join("\n", map { $_->{sql} } grep { $_->{t} eq 'sql' } @{ $w->{steps} });
	next unless grep { !$_->{excluded} && $_->{kind} ne 'cycle' && index($all, Gen::ql(Gen::qn($_->{schema}, $_->{name}))) >= 0 }
	  @{ $w->{schema}{seqs} };
	$seed = $s;
	last;
}
ok(defined $seed, "seed $seed has a keyless table and a sequence its transactions move");

my $w = Gen::generate($seed, $k);
my $res = $r->run($w);
ok($res->{ok}, "untampered seed $seed passes") or diag(Harness::failure_text($res));

for my $t ([ 'rep_delete', 'replica', qr/differs end/ ], [ 'rep_dup', 'replica', qr/differs end/ ],
	[ 'stream_exclude', 'segments', qr/differ from test_decoding/ ],
	[ 'rep_seq', 'sequences', qr/sequence .* end: the replica's is at/ ],
	[ 'stream_noseq', 'sequences', qr/after tide sync-sequences: the source's is at/ ])
{
	my ($tamper, $oracle, $msg) = @$t;
	my $tw = Gen::generate($seed, $k);
	$tw->{tamper} = $tamper;
	my $tr = $r->run($tw);
	ok(!$tr->{ok}, "$tamper: the run fails (" . failed_oracles($tr) . ')');
	my @f = grep { $_->{oracle} eq $oracle } @{ $tr->{failures} };
	ok(scalar @f, "$tamper: the $oracle oracle catches it");
	like($f[0]{msg} // '', $msg, "$tamper: it says what differs") if @f;
}

# captured DDL left out by the applier: the replica's shape, then its rows,
# differ from the source's (a column added, a table renamed or created)
{
	my $dk = Gen::knobs(%$k, ddl => 1);
	my $dw;
	for my $s (1 .. 300)
	{
		my $c = Gen::generate($s, $dk);
		next unless grep { ($_->{eff}{op} // '') =~ /^(add_col|drop_col|rename_table|create_table)$/ } @{ $c->{steps} };
		$dw = $c;
		last;
	}
	ok($dw, "seed $dw->{seed} runs DDL that changes what a row holds or where it lives");
	my $ok = $r->run(Gen::generate($dw->{seed}, $dk));
	ok($ok->{ok}, "seed $dw->{seed} with its DDL replayed passes") or diag(Harness::failure_text($ok));
	$dw->{tamper} = 'ddl_skip';
	my $tr = $r->run($dw);
	# tide apply stops at a row of a column the replica lacks (exit 4 with
	# nothing to refuse: the apply oracle), or the replica differs
	ok((grep { $_->{oracle} =~ /^(replica|apply)$/ } @{ $tr->{failures} }), 'ddl_skip: the run fails ('
		  . failed_oracles($tr) . ')') or diag(Harness::failure_text($tr));
}

# --until points: the second replica damaged after its first point
{
	my $uw;
	for my $s ($seed .. $seed + 100)
	{
		my $c = Gen::generate($s, Gen::knobs(%$k, until => 1));
		next unless grep { $_->{t} eq 'mark' } @{ $c->{steps} };
		$uw = $c;
		last;
	}
	$uw->{tamper} = 'until_delete';
	my $tr = $r->run($uw);
	ok((grep { $_->{oracle} eq 'replica' && $_->{msg} =~ /--until/ } @{ $tr->{failures} }),
		'until_delete: the until-point comparison catches it') or diag(Harness::failure_text($tr));
}

# prefix consistency after a kill -9 of the applier (tide apply --jobs 3):
# the follower killed late in the run, once it has caught up; untampered
# the replica equals the source at its tide.progress LSN, with a row
# deleted there the prefix oracle says so
{
	my $pk = Gen::knobs(%$k, apply_follow => 1, stream_bounded => 0, jobs => 1, jobs_n => 3, until => 0);
	my $pw = Gen::generate($seed, $pk);
	my @st = @{ $pw->{steps} };
	my $at = int(@st * 0.8);
	$at++ while $at < $#st && !($st[$at]{t} eq 'sql' && ($st[$at]{auto} || $st[$at]{sql} eq 'COMMIT'));
	splice(@st, $at + 1, 0, { t => 'sleep', ms => 3000 }, { t => 'fault', kind => 'apply_kill' });
	$pw->{steps} = \@st;
	my $ok = $r->run($pw);
	ok($ok->{ok} && $ok->{stats}{prefix_checks} == 1, "the follower killed (--jobs 3): the replica is a prefix ("
		  . ($ok->{stats}{prefix_checks} // 0) . ' check)') or diag(Harness::failure_text($ok));
	$pw->{tamper} = 'prefix_delete';
	my $tr = $r->run($pw);
	my ($f) = grep { $_->{oracle} eq 'prefix' } @{ $tr->{failures} };
	ok($f, 'prefix_delete: the prefix oracle catches it (' . failed_oracles($tr) . ')');
	like($f->{msg} // '', qr/after kill -9 of the follower: the replica, at tide.progress \S+, is not the source's state/,
		'prefix_delete: it says where the replica stands');
}

# a caught failure shrinks: fewer statements, same oracle
{
	my $tw = Gen::generate($seed, $k);
	$tw->{tamper} = 'rep_delete';
	my $before = grep { $_->{t} eq 'sql' } @{ $tw->{steps} };
	my $min = Shrink::shrink($tw, sub {
			my $c = $r->run($_[0]);
			return scalar grep { $_->{oracle} eq 'replica' } @{ $c->{failures} };
		}, sub { note(@_) }, 150);
	my $after = grep { $_->{t} eq 'sql' } @{ $min->{steps} };
	cmp_ok($after, '<', $before, "shrinking: $before statements reduced to $after");
	my $again = $r->run($min);
	ok((grep { $_->{oracle} eq 'replica' } @{ $again->{failures} }), 'the reduced workload still fails the same oracle');
}

Harness::teardown($h);
done_testing();
