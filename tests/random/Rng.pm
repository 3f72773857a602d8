# tests/random/Rng.pm - a small seeded PRNG (xorshift128, 32-bit words), so
# a workload depends only on its seed, never on Perl's rand() or on the
# modules that call it.
package Rng;

use strict;
use warnings;

sub new
{
	my ($class, $seed) = @_;
	my @s = (123456789, 362436069, 521288629, 88675123);
	$s[0] ^= $seed & 0xffffffff;
	$s[1] ^= int($seed / 4294967296) & 0xffffffff;
	my $self = bless { s => \@s }, $class;
	$self->next32 for 1 .. 20;
	return $self;
}

sub next32
{
	my ($self) = @_;
	my $s = $self->{s};
	my $t = ($s->[0] ^ (($s->[0] << 11) & 0xffffffff)) & 0xffffffff;
	@$s[0 .. 2] = @$s[1 .. 3];
	$s->[3] = ($s->[3] ^ ($s->[3] >> 19) ^ ($t ^ ($t >> 8))) & 0xffffffff;
	return $s->[3];
}

# int N - 0 .. N-1
sub int { my ($self, $n) = @_; return $n <= 0 ? 0 : $self->next32 % $n; }
# range A B - A .. B inclusive
sub range { my ($self, $a, $b) = @_; return $a + $self->int($b - $a + 1); }
# chance P - true with probability P (0..1)
sub chance { my ($self, $p) = @_; return $self->next32 < $p * 4294967296; }
sub pick { my ($self, @l) = @_; return $l[ $self->int(scalar @l) ]; }

# weighted [name, weight], ... - a name
sub weighted
{
	my ($self, @pairs) = @_;
	my $total = 0;
	$total += $_->[1] for @pairs;
	return undef if $total <= 0;
	my $r = $self->next32 / 4294967296 * $total;
	for my $p (@pairs)
	{
		return $p->[0] if $r < $p->[1];
		$r -= $p->[1];
	}
	return $pairs[-1][0];
}

1;
