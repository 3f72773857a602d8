# tests/tap/t/005_options.pl - option values: every command refuses a value
# that is not exactly in its documented form (exit 2), naming the option,
# the value and the accepted form, before it touches anything.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;

my $dir = PostgreSQL::Test::Utils::tempdir('opts');

# [ command line, option as named in the message ]
my @bad = (
	[ [ 'stream', '-S', 's', '-D', $dir, '--retain', 'nan' ], '--retain', 'nan' ],
	[ [ 'stream', '-S', 's', '-D', $dir, '--retain', '-1d' ], '--retain', '-1d' ],
	[ [ 'stream', '-S', 's', '-D', $dir, '--bucket', '50000d' ], '--bucket', '50000d' ],
	[ [ 'stream', '-S', 's', '-D', $dir, '--bucket', '1.5s' ], '--bucket', '1.5s' ],
	[ [ 'stream', '-S', 's', '-D', $dir, '--compress-level', '3junk' ], '--compress-level', '3junk' ],
	[ [ 'stream', '-S', 's', '-D', $dir, '--flush-interval', '0x10' ], '--flush-interval', '0x10' ],
	[ [ 'stream', '-S', 's', '-D', $dir, '--flush-delay', '-5ms' ], '--flush-delay', '-5ms' ],
	[ [ 'stream', '-S', 's', '-D', $dir, '--endpos', '-1/-1' ], '--endpos', '-1/-1' ],
	[ [ 'stream', '-S', 's', '-D', $dir, '--endpos', '0x10/0x20' ], '--endpos', '0x10/0x20' ],
	[ [ 'stream', '-S', 's', '-D', $dir, '--warn-retained', 'inf' ], '--warn-retained', 'inf' ],
	[ [ 'stream', '-S', 's', '-D', $dir, '--warn-xmin-age', '1e9' ], '--warn-xmin-age', '1e9' ],
	[ [ 'stream', '-S', 's', '-D', $dir, '--keep-bases', '0' ], '--keep-bases', '0' ],
	[ [ 'stream', '-S', 's', '-D', $dir, '--publish', 's3://b/p', '--publish-retain', '15 d' ], '--publish-retain', '15 d' ],
	[ [ 'stream', '-S', 's', '-D', $dir, '--publish', 's3://b/p', '--warn-unpublished', '1 GB' ], '--warn-unpublished', '1 GB' ],
	[ [ 'prune', '--retain', '1d', '--keep-bases', '2x', $dir ], '--keep-bases', '2x' ],
	[ [ 'publish', '--retain', '2 weeks', $dir, $dir ], '--retain', '2 weeks' ],
	[ [ 'prune', '--retain', 'nan', $dir ], '--retain', 'nan' ],
	[ [ 'apply', '-D', $dir, '--batch', '-1' ], '--batch', '-1' ],
	[ [ 'apply', '-D', $dir, '--batch', '18446744073709551615' ], '--batch', '18446744073709551615' ],
	[ [ 'apply', '-D', $dir, '--until', '2026-11-20 13:00:00' ], '--until', '2026-11-20 13:00:00' ],
	[ [ 'apply', '-D', $dir, '--from', 'yesterday' ], '--from', 'yesterday' ],
	[ [ 'apply', '-D', 's3://b/p', '--poll-interval', '50ms' ], '--poll-interval', '50ms' ],
	[ [ 'verify', '-s', 'x', '-d', 'y', '--chunk', '10k' ], '--chunk', '10k' ],
	[ [ 'base', '-S', 's', '-D', $dir, '-j', '4x' ], '--jobs', '4x' ],
	[ [ 'bootstrap', '-d', 'x', '-D', $dir, '--until', '0/1/2' ], '--until', '0/1/2' ],
);

for my $case (@bad)
{
	my ($args, $opt, $val) = @$case;
	my ($rc, $out, $err) = tide_run(@$args);
	is($rc, 2, "tide @$args: exit 2");
	like($err, qr/invalid value "\Q$val\E" for \Q$opt\E: give /,
		"tide @$args: names the option, the value and the form");
}

# nothing was created in the directory by a refused command
opendir(my $dh, $dir) or die;
my @left = grep { !/^\.\.?$/ } readdir($dh);
closedir $dh;
is_deeply(\@left, [], 'a refused command leaves the directory untouched');

done_testing();
