# tests/tap/TideTest.pm - shared helpers for tide's TAP suites.
#
# Sources are PostgreSQL::Test::Cluster nodes that load the tide plugin from
# the build tree (dynamic_library_path) and trust it in
# output_plugin_libraries when the server has that setting.
package TideTest;

use strict;
use warnings;
use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(tide_node tide_run tide_start seg_dir seg_lines td_lines
  normalize_tide normalize_td wait_for_file);

our $TIDE = $ENV{TIDE_BIN} or die "TIDE_BIN is not set";
our $DECODER_DIR = $ENV{TIDE_DECODER_DIR} or die "TIDE_DECODER_DIR is not set";

# tide_node NAME - a started source node with the tide plugin enabled
sub tide_node
{
	my ($name, %extra) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(allows_streaming => 'logical');
	$node->append_conf('postgresql.conf', qq{
max_replication_slots = 10
max_wal_senders = 10
wal_sender_timeout = 60s
dynamic_library_path = '$DECODER_DIR:\$libdir'
logical_decoding_work_mem = '64kB'
});
	# Recent servers only load output plugins named in this setting.
	my ($stdout, $stderr);
	IPC::Run::run([ 'postgres', '-D', $node->data_dir, '-C',
		'output_plugin_libraries' ], '>', \$stdout, '2>', \$stderr);
	if ($? == 0)
	{
		$node->append_conf('postgresql.conf',
			"output_plugin_libraries = 'pgoutput, test_decoding, tide'\n");
	}
	$node->start;
	return $node;
}

# tide_run ARGS... - run tide to completion: (exit code, stdout, stderr)
sub tide_run
{
	my @args = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ $TIDE, @args ], '<', \undef, '>', \$out, '2>', \$err);
	# a crash is never an exit code a test could expect: 128 + the signal
	return (($? & 127) ? 128 + ($? & 127) : $? >> 8, $out, $err);
}

# tide_start ARGS... - start tide in the background; returns the harness
# and references to its stdout and stderr
sub tide_start
{
	my @args = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start([ $TIDE, @args ], '<', \undef, '>', \$out, '2>', \$err);
	return ($h, \$out, \$err);
}

sub seg_dir
{
	my ($name) = @_;
	return PostgreSQL::Test::Utils::tempdir($name);
}

# seg_lines DIR - every message of every segment in name order, rendered
sub seg_lines
{
	my ($dir, @flags) = @_;
	opendir(my $dh, $dir) or die "cannot open $dir: $!";
	my @segs = sort grep { /\.tseg(\.partial)?$/ } readdir($dh);
	closedir $dh;
	my @lines;
	for my $s (@segs)
	{
		my ($rc, $out, $err) = tide_run('inspect', @flags, "$dir/$s");
		die "tide inspect $s failed ($rc): $err" if $rc != 0;
		push @lines, split /\n/, $out;
	}
	return @lines;
}

# normalize_tide - change lines as "OP table: new values", BEGIN, COMMIT
sub normalize_tide
{
	my @out;
	for (@_)
	{
		next if /^(RELATION|STARTUP|ORIGIN|MESSAGE)/;
		if (/^BEGIN/) { push @out, 'BEGIN'; next; }
		if (/^COMMIT/) { push @out, 'COMMIT'; next; }
		s/^(INSERT|UPDATE|DELETE) (\S+): (?:old-key: .*? new: |new: |old-key: |old: )?/$1 $2: /;
		push @out, $_;
	}
	return @out;
}

# normalize_td - test_decoding lines in the same shape
sub normalize_td
{
	my @out;
	for (@_)
	{
		if (/^BEGIN/) { push @out, 'BEGIN'; next; }
		if (/^COMMIT/) { push @out, 'COMMIT'; next; }
		next unless s/^table (\S+): (INSERT|UPDATE|DELETE): (?:old-key: .*? new-tuple: )?/$2 $1: /;
		push @out, $_;
	}
	return @out;
}

# td_lines NODE SLOT - consume a test_decoding slot
sub td_lines
{
	my ($node, $slot) = @_;
	my $out = $node->safe_psql('postgres',
		"SELECT data FROM pg_logical_slot_get_changes('$slot', NULL, NULL, 'include-xids', '0', 'skip-empty-xacts', '1')");
	return split /\n/, $out;
}

sub wait_for_file
{
	my ($pattern, $timeout) = @_;
	$timeout //= 30;
	for (1 .. $timeout * 10)
	{
		my @f = glob($pattern);
		return @f if @f;
		select(undef, undef, undef, 0.1);
	}
	return ();
}

1;
