# tests/random/Proxy.pm - a TCP proxy between tide stream and the source
# (127.0.0.1:PORT to the server's Unix socket) that a test can cut and
# restore: a lost network.  Cutting closes every connection both ways, and
# new ones are reset as soon as they arrive until it is restored ("reset"
# mode); in "blackhole" mode connections stay open but no byte passes until
# the restore (a partition without RSTs).  The listening socket stays open
# throughout: closed, its port (an ephemeral one) could be taken by another
# process's connection before the restore, and the "network" would never
# come back (a harness false alarm: seed 129555611).
package Proxy;

use strict;
use warnings;
use IO::Handle;
use IO::Select;
use IO::Socket::INET;
use IO::Socket::UNIX;
use POSIX ();
use Socket qw(SOL_SOCKET SO_REUSEADDR SO_LINGER);
use Time::HiRes qw(usleep);

# start NODE - a running proxy: { pid, port }
sub start
{
	my ($class, $node) = @_;
	my $upstream = $node->host . '/.s.PGSQL.' . $node->port;
	my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 64, ReuseAddr => 1, Proto => 'tcp')
	  or die "proxy: cannot listen: $!";
	my $port = $l->sockport;
	pipe(my $ctl_r, my $ctl_w) or die "pipe: $!";
	pipe(my $ack_r, my $ack_w) or die "pipe: $!";
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		close $ctl_w;
		close $ack_r;
		$ack_w->autoflush(1);
		# a client killed with bytes still on their way to it must not
		# kill the proxy: a failed write closes that pair instead
		$SIG{PIPE} = 'IGNORE';
		eval { loop($l, $port, $upstream, $ctl_r, $ack_w) };
		POSIX::_exit(0);
	}
	close $ctl_r;
	close $ack_w;
	close $l;
	$ctl_w->autoflush(1);
	return bless { pid => $pid, port => $port, ctl => $ctl_w, ack => $ack_r, state => 'up' }, $class;
}

sub command
{
	my ($self, $c) = @_;
	print { $self->{ctl} } "$c\n";
	my $sel = IO::Select->new($self->{ack});
	die "proxy: no answer to $c" unless $sel->can_read(10);
	my $a = readline($self->{ack});
	chomp $a;
	return $a;
}

# cut [MODE] - "reset" (default) or "blackhole"
sub cut { my ($self, $mode) = @_; $self->{state} = 'cut'; return $self->command($mode // 'reset'); }
sub restore { my ($self) = @_; $self->{state} = 'up'; return $self->command('restore'); }

sub stop
{
	my ($self) = @_;
	return unless $self->{pid};
	kill 'KILL', $self->{pid};
	waitpid($self->{pid}, 0);
	$self->{pid} = undef;
}

sub DESTROY { my ($self) = @_; local ($?, $@); $self->stop if $self->{pid}; }

# the child: forward bytes between accepted clients and the upstream
sub loop
{
	my ($l, $port, $upstream, $ctl, $ack) = @_;
	my %peer;    # fileno => [ handle, peer handle ]
	my %out;     # fileno => pending bytes
	my $mode = 'up';
	my $close_all = sub {
		for my $p (values %peer) { close $p->[0]; }
		%peer = ();
		%out = ();
	};
	while (1)
	{
		my $sel = IO::Select->new($ctl, $mode eq 'up' ? (map { $_->[0] } values %peer) : ());
		$sel->add($l) if $l;
		my $wsel = IO::Select->new(map { $peer{$_}[0] } grep { length($out{$_} // '') } keys %peer);
		my ($r, $w) = IO::Select->select($sel, $mode eq 'up' ? $wsel : undef, undef, 1);
		for my $h (@{ $w // [] })
		{
			my $fn = fileno($h);
			next unless defined $fn && exists $peer{$fn};
			my $n = syswrite($h, $out{$fn});
			if (!defined $n) { close_pair(\%peer, \%out, $fn); next; }
			substr($out{$fn}, 0, $n) = '';
		}
		for my $h (@{ $r // [] })
		{
			if ($h == $ctl)
			{
				my $c = readline($ctl);
				exit 0 unless defined $c;
				chomp $c;
				if ($c eq 'reset')
				{
					$close_all->();
					$mode = 'reset';
				}
				elsif ($c eq 'blackhole')
				{
					$mode = 'blackhole';
				}
				elsif ($c eq 'restore')
				{
					$mode = 'up';
				}
				print $ack "$c ok\n";
				next;
			}
			if ($l && $h == $l)
			{
				my $c = $l->accept or next;
				if ($mode eq 'reset')
				{
					# cut: the connection is reset at once (SO_LINGER 0)
					setsockopt($c, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
					close $c;
					next;
				}
				my $u = IO::Socket::UNIX->new(Peer => $upstream, Type => Socket::SOCK_STREAM());
				if (!$u) { close $c; next; }
				$peer{ fileno($c) } = [ $c, $u ];
				$peer{ fileno($u) } = [ $u, $c ];
				next;
			}
			my $fn = fileno($h);
			next unless defined $fn && exists $peer{$fn};
			next if $mode eq 'blackhole';
			my $buf;
			my $n = sysread($h, $buf, 65536);
			if (!$n) { close_pair(\%peer, \%out, $fn); next; }
			my $to = fileno($peer{$fn}[1]);
			$out{$to} .= $buf;
		}
	}
}

sub close_pair
{
	my ($peer, $out, $fn) = @_;
	my $p = delete $peer->{$fn} or return;
	my $ofn = fileno($p->[1]);
	delete $peer->{$ofn} if defined $ofn;
	delete $out->{$fn};
	delete $out->{$ofn} if defined $ofn;
	close $p->[0];
	close $p->[1];
}

1;
