# tests/random/Shrink.pm - reduce a failing workload to a small one that
# still fails the same oracle: drop the faults, then whole transactions,
# then single statements (delta debugging, ddmin), then the tables no step
# touches any more.  The test function runs a candidate and says whether
# it still fails; the time budget bounds the whole reduction.
package Shrink;

use strict;
use warnings;
use Storable qw(dclone);
use Time::HiRes qw(time);
use Gen;

# shrink WORKLOAD TEST LOG SECONDS - the smallest failing workload found
sub shrink
{
	my ($w, $test, $log, $budget) = @_;
	my $deadline = time() + $budget;
	my $tries = 0;
	my $still = sub {
		my ($cand) = @_;
		return 0 if time() > $deadline;
		$tries++;
		return $test->($cand);
	};
	my $cur = dclone($w);

	# 1. without faults, until points and bounded apply runs at all
	my $c = dclone($cur);
	$c->{steps} = [ grep { $_->{t} eq 'sql' || $_->{pre_poison} } @{ $c->{steps} } ];
	if (@{ $c->{steps} } < @{ $cur->{steps} } && $still->($c))
	{
		$cur = $c;
		$log->('shrink: fails without faults');
	}

	# 2. whole transactions, then 3. single statements
	$cur = ddmin($cur, \&tx_units, $still, $log, 'transactions');
	$cur = ddmin($cur, \&stmt_units, $still, $log, 'statements');
	# 4. the other steps one by one (faults that matter stay)
	$cur = ddmin($cur, \&other_units, $still, $log, 'faults and points');
	# 5. tables nothing touches any more
	$cur = drop_tables($cur, $still, $log);
	$log->(sprintf('shrink: %d tries, %d steps left (%s)', $tries, scalar @{ $cur->{steps} },
		time() > $deadline ? 'time budget used up' : 'done'));
	return $cur;
}

# units: lists of step indexes that go away together
sub tx_units
{
	my ($w) = @_;
	my (%by, @order);
	my $i = 0;
	for my $st (@{ $w->{steps} })
	{
		if ($st->{t} eq 'sql')
		{
			push @order, $st->{tx} unless $by{ $st->{tx} };
			push @{ $by{ $st->{tx} } }, $i;
		}
		$i++;
	}
	return map { $by{$_} } @order;
}

sub stmt_units
{
	my ($w) = @_;
	my @u;
	my $i = 0;
	for my $st (@{ $w->{steps} })
	{
		push @u, [$i] if $st->{t} eq 'sql' && $st->{sql} !~ /^(BEGIN|COMMIT|ROLLBACK)$/;
		$i++;
	}
	return @u;
}

sub other_units
{
	my ($w) = @_;
	my @u;
	my $i = 0;
	for my $st (@{ $w->{steps} })
	{
		push @u, [$i] if $st->{t} ne 'sql' && !$st->{pre_poison};
		$i++;
	}
	return @u;
}

sub without
{
	my ($w, $drop) = @_;
	my $c = dclone($w);
	my %d = map { $_ => 1 } @$drop;
	my $i = 0;
	$c->{steps} = [ grep { !$d{ $i++ } } @{ $c->{steps} } ];
	return $c;
}

# ddmin - Zeller's delta debugging over the units of one kind
sub ddmin
{
	my ($w, $units_of, $still, $log, $what) = @_;
	my @units = $units_of->($w);
	my $n = 2;
	while (@units >= 2)
	{
		my $size = int(@units / $n) || 1;
		my @chunks;
		for (my $i = 0; $i < @units; $i += $size)
		{
			push @chunks, [ @units[ $i .. ($i + $size - 1 < $#units ? $i + $size - 1 : $#units) ] ];
		}
		my $reduced = 0;
		for my $ci (0 .. $#chunks)
		{
			my @drop = map { @$_ } @{ $chunks[$ci] };
			my $c = without($w, \@drop);
			if ($still->($c))
			{
				$w = $c;
				@units = $units_of->($w);
				$n = $n > 2 ? $n - 1 : 2;
				$reduced = 1;
				$log->(sprintf('shrink: %s: %d left', $what, scalar @units));
				last;
			}
		}
		next if $reduced;
		last if $n >= @units;
		$n = $n * 2 > @units ? scalar @units : $n * 2;
	}
	if (@units == 1)
	{
		my $c = without($w, $units[0]);
		$w = $c if $still->($c);
	}
	return $w;
}

# drop_tables - tables no statement names: out of both schemas
sub drop_tables
{
	my ($w, $still, $log) = @_;
	my $all = join("\n", map { $_->{sql} } grep { $_->{t} eq 'sql' } @{ $w->{steps} });
	for my $t (@{ dclone($w->{schema}{tables}) })
	{
		my $q = Gen::qn($t->{schema}, $t->{name});
		next if index($all, $q) >= 0;
		next if grep { $_->{parent} && $_->{parent} == $t->{id} } @{ $w->{schema}{tables} };
		next if $w->{schema}{reponly} && $w->{schema}{reponly}{target} == $t->{id};
		next if grep { ($_->{owner} // 0) == $t->{id} } @{ $w->{schema}{seqs} // [] };
		my $c = dclone($w);
		my $rq = Gen::qn($t->{rep_schema}, $t->{name});
		my $pre = qr/^(CREATE TABLE|ALTER TABLE|CREATE UNIQUE INDEX \S+ ON|INSERT INTO) (ONLY )?\Q$q\E|^(CREATE TABLE|CREATE UNIQUE INDEX \S+ ON|INSERT INTO) \Q$rq\E|PARTITION OF \Q$q\E|PARTITION OF \Q$rq\E/;
		my $leafs = join('|', map { quotemeta(Gen::qn($t->{schema}, $_)) . '|' . quotemeta(Gen::qn($t->{rep_schema}, $_)) }
			  @{ $t->{leaves} // [] }, "$t->{name} p2");
		$c->{schema}{src_sql} = [ grep { !/$pre/ && !($leafs && /PARTITION OF ($leafs)/) } @{ $c->{schema}{src_sql} } ];
		$c->{schema}{rep_sql} = [ grep { !/$pre/ && !($leafs && /PARTITION OF ($leafs)/) } @{ $c->{schema}{rep_sql} } ];
		$c->{schema}{tables} = [ grep { $_->{id} != $t->{id} } @{ $c->{schema}{tables} } ];
		my @a = @{ $c->{schema}{apply_args} };
		my @keep;
		while (@a)
		{
			my ($o, $v) = splice(@a, 0, 2);
			next if $o eq '--tables' && index($v, "$t->{schema}.$t->{name}") == 0;
			push @keep, $o, $v;
		}
		$c->{schema}{apply_args} = \@keep;
		if ($still->($c))
		{
			$w = $c;
			$log->("shrink: table $q dropped");
		}
	}
	return $w;
}

1;
