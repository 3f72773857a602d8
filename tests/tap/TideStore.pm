# tests/tap/TideStore.pm - the test servers of the store suites
# (tap/t/12x_*.pl), started on loopback ports and stopped by the tests:
#
#   S3:   npm @20minutes/s3rver (tests/store/s3rver.js; installed into
#         tests/store/node_modules by `make deps`), which checks SigV4
#         signatures against the key pair S3RVER/S3RVER;
#   HTTP: Debian's nginx, unprivileged, with its own configuration, logs,
#         pid and temporary files in the test's directory;
#   faults: tests/store/faultproxy.js in front of either (server errors,
#         slow transfers, bodies cut short).
#
# Each start returns an object with {port, url, dir} and stop/start methods;
# every server still running is stopped when the test ends.  Nothing here
# waits for a fixed time: readiness is a bounded poll of the port.
package TideStore;

use strict;
use warnings;

use Carp;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(usleep);

my $TESTS = abs_path(dirname(__FILE__) . '/..');
my @running;

# tool - the store driver (tests/build/store_tool); dies if it was not built
sub tool
{
	my $t = "$TESTS/build/store_tool";
	croak "$t is missing: run 'make -C tests store-tool' (make check does)" unless -x $t;
	return $t;
}

# run_tool(args) - store_tool with args: (exit code, stdout, stderr)
sub run_tool
{
	my ($out, $err) = ('', '');
	require IPC::Run;
	IPC::Run::run([ tool(), @_ ], '<', \undef, '>', \$out, '2>', \$err);
	return ($? >> 8, $out, $err);
}

sub free_port
{
	my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1, ReuseAddr => 1)
	  or croak "no free port: $!";
	my $p = $s->sockport;
	close $s;
	return $p;
}

# wait_port - until something accepts on port, or the process died (bounded)
sub _wait_port
{
	my ($self) = @_;
	for (1 .. 600)
	{
		my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port}, Timeout => 1);
		if ($c)
		{
			close $c;
			return;
		}
		if (waitpid($self->{pid}, WNOHANG) == $self->{pid})
		{
			delete $self->{pid};
			croak "$self->{what} exited before listening on $self->{port}: " . _tail($self->{log});
		}
		usleep(100_000);
	}
	croak "$self->{what} did not listen on port $self->{port} within 60 s: " . _tail($self->{log});
}

sub _tail
{
	my ($f) = @_;
	open(my $h, '<', $f) or return '(no log)';
	local $/;
	my $t = <$h> // '';
	return substr($t, -2000);
}

sub _spawn
{
	my ($self, @argv) = @_;
	my $pid = fork() // croak "fork: $!";
	if ($pid == 0)
	{
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>>', $self->{log});
		open(STDERR, '>&', \*STDOUT);
		exec(@argv) or POSIX::_exit(127);
	}
	$self->{pid} = $pid;
	$self->_wait_port;
	push @running, $self;
	return $self;
}

sub stop
{
	my ($self) = @_;
	return unless $self->{pid};
	kill 'TERM', $self->{pid};
	waitpid($self->{pid}, 0);
	delete $self->{pid};
	@running = grep { $_ != $self } @running;
	return;
}

sub running { return defined $_[0]->{pid} }

# s3rver(dir, bucket) - an S3 server storing its objects under dir
sub s3rver
{
	my ($class, $dir, $bucket) = @_;
	make_path("$dir/data");
	my $self = bless {
		what => 's3rver', dir => $dir, bucket => $bucket, port => free_port(),
		log => "$dir/s3rver.log",
	}, $class;
	$self->{url} = "http://127.0.0.1:$self->{port}";
	my $js = "$TESTS/store/s3rver.js";
	croak "$TESTS/store/node_modules is missing: run 'make deps'"
	  unless -d "$TESTS/store/node_modules/\@20minutes/s3rver";
	$self->start;
	return $self;
}

# nginx(dir, root) - a static web server of root
sub nginx
{
	my ($class, $dir, $root) = @_;
	make_path("$dir/tmp");
	my $self = bless {
		what => 'nginx', dir => $dir, root => $root, port => free_port(),
		log => "$dir/nginx.out",
	}, $class;
	$self->{url} = "http://127.0.0.1:$self->{port}";
	# run as root (by hand), the workers would switch to "nobody"
	my $user = $> == 0 ? "user root root;\n" : '';
	open(my $c, '>', "$dir/nginx.conf") or croak "$dir/nginx.conf: $!";
	print $c <<"EOF";
${user}daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 64; }
http {
	access_log $dir/access.log;
	client_body_temp_path $dir/tmp/body;
	proxy_temp_path $dir/tmp/proxy;
	fastcgi_temp_path $dir/tmp/fastcgi;
	uwsgi_temp_path $dir/tmp/uwsgi;
	scgi_temp_path $dir/tmp/scgi;
	types { application/json json; }
	default_type application/octet-stream;
	server {
		listen 127.0.0.1:$self->{port};
		root $root;
	}
}
EOF
	close $c;
	$self->start;
	return $self;
}

# proxy(dir, target) - tests/store/faultproxy.js in front of target (a
# server started above): $p->fault('status 503'), ->fault('slow 65536'),
# ->fault('cut 1000'), ->fault('pass'); $p->requests the log so far
sub proxy
{
	my ($class, $dir, $target) = @_;
	make_path($dir);
	my $self = bless {
		what => 'faultproxy', dir => $dir, target => $target, port => free_port(),
		log => "$dir/proxy.out", control => "$dir/control",
	}, $class;
	$self->{url} = "http://127.0.0.1:$self->{port}";
	$self->fault('pass');
	$self->start;
	return $self;
}

sub fault
{
	my ($self, $what) = @_;
	open(my $c, '>', "$self->{control}.new") or croak "$self->{control}: $!";
	print $c "$what\n";
	close $c;
	rename("$self->{control}.new", $self->{control}) or croak "rename: $!";
	return;
}

sub requests
{
	my ($self) = @_;
	open(my $h, '<', "$self->{control}.log") or return ();
	return <$h>;
}

sub start
{
	my ($self) = @_;
	if ($self->{what} eq 'faultproxy')
	{
		return $self->_spawn('node', "$TESTS/store/faultproxy.js", $self->{port},
			$self->{target}->{port}, $self->{control});
	}
	if ($self->{what} eq 's3rver')
	{
		# its continuation tokens are DES-encrypted: OpenSSL 3 keeps DES in
		# the legacy provider, without which listings past one page fail
		return $self->_spawn('node', '--openssl-legacy-provider', "$TESTS/store/s3rver.js",
			$self->{port}, "$self->{dir}/data", $self->{bucket});
	}
	return $self->_spawn('/usr/sbin/nginx', '-p', $self->{dir}, '-c', "$self->{dir}/nginx.conf",
		'-e', "$self->{dir}/error.log");
}

# access_log - nginx's access log lines so far
sub access_log
{
	my ($self) = @_;
	open(my $h, '<', "$self->{dir}/access.log") or return ();
	return <$h>;
}

END
{
	my $rc = $?;
	# a copy: stop() takes each one out of @running
	$_->stop for reverse @{ [@running] };
	$? = $rc;
}

1;
