# tests/random/Session.pm - one persistent psql session: statements run one
# at a time, each result read back before the next is sent, so open
# transactions of several sessions interleave deterministically.
package Session;

use strict;
use warnings;
use IPC::Run;

my $counter = 0;

# new NODE DB [NAME] - a connected session
sub new
{
	my ($class, $node, $db, $name) = @_;
	my $self = bless { node => $node, db => $db, name => $name // 'session',
		in => '', out => '', err => '' }, $class;
	$self->connect;
	return $self;
}

sub connect
{
	my ($self) = @_;
	$self->{in} = $self->{out} = $self->{err} = '';
	$self->{timer} = IPC::Run::timeout(180);
	$self->{h} = IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=0', '-d', $self->{node}->connstr($self->{db}) ],
		'<', \$self->{in}, '>', \$self->{out}, '2>', \$self->{err}, $self->{timer});
	my ($o, $e) = $self->query(q{SET client_min_messages = warning; SET lock_timeout = '10s';
SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres';
SET extra_float_digits = 1; SET bytea_output = 'hex'; SET lc_monetary = 'C'});
	die "session $self->{name}: cannot connect: $e" if $e =~ /\S/;
}

sub alive
{
	my ($self) = @_;
	return $self->{h} && $self->{h}->pumpable;
}

# query SQL - (stdout, stderr); stderr holds the errors (notices are off)
sub query
{
	my ($self, $sql) = @_;
	if (!$self->alive)
	{
		return ('', "session $self->{name}: connection lost\n");
	}
	my $tag = 'tide_random_sep_' . (++$counter);
	$self->{out} = $self->{err} = '';
	$self->{timer}->start(180);
	$self->{in} .= "$sql\n;\n\\echo $tag\n\\warn $tag\n";
	my $ok = eval {
		$self->{h}->pump until ($self->{out} =~ /$tag\n/ && $self->{err} =~ /$tag\n/);
		1;
	};
	if (!$ok)
	{
		my $e = $@;
		eval { $self->{h}->kill_kill; };
		$self->{h} = undef;
		return ('', "session $self->{name}: connection lost ($e): $self->{err}");
	}
	my ($o, $e) = ($self->{out}, $self->{err});
	$o =~ s/\n?$tag\n//;
	$e =~ s/$tag\n//;
	return ($o, $e);
}

sub close
{
	my ($self) = @_;
	return unless $self->{h};
	if ($self->alive)
	{
		$self->{in} .= "\\q\n";
		eval { $self->{h}->finish; 1 } or eval { $self->{h}->kill_kill };
	}
	else
	{
		eval { $self->{h}->finish };
	}
	$self->{h} = undef;
}

sub DESTROY { my ($self) = @_; local $@; eval { $self->close }; }

1;
