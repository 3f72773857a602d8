# tests/tap/t/121_store_memory.pl - objects are streamed, never held whole:
# a 1 GiB object put to S3, got back from S3 and got from a web server, each
# by a store_tool process whose peak resident set (GNU time's "Maximum
# resident set size") must stay under 64 MiB.  The figures are printed.
use strict;
use warnings;

use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use IPC::Run qw(run);
use Test::More;

use TideStore;

my $base = $ENV{TESTDIR} ? "$ENV{TESTDIR}/t121" : tempdir(CLEANUP => 1);
remove_tree($base);
make_path("$base/www");
my $tool = TideStore::tool();
my $limit_kb = 64 * 1024;
my $size = 1 << 30;

-x '/usr/bin/time' or BAIL_OUT('/usr/bin/time (Debian package "time") is missing: run make deps');

delete @ENV{qw(AWS_SESSION_TOKEN AWS_ENDPOINT_URL_S3 AWS_REGION AWS_DEFAULT_REGION AWS_PROFILE)};
my $s3 = TideStore->s3rver("$base/s3", 'tide');
$ENV{AWS_ACCESS_KEY_ID} = 'S3RVER';
$ENV{AWS_SECRET_ACCESS_KEY} = 'S3RVER';
$ENV{AWS_ENDPOINT_URL} = $s3->{url};
my $web = TideStore->nginx("$base/nginx", "$base/www");

# 1 GiB that is not one repeated byte: 1 MiB of random bytes, each copy
# stamped with its number
{
	srand(121);
	my $block = pack('C*', map { int(rand(256)) } 1 .. 1 << 20);
	open(my $f, '>', "$base/www/big.tseg") or die "$base/www/big.tseg: $!";
	binmode $f;
	for my $i (1 .. $size >> 20)
	{
		substr($block, 0, 8) = pack('Q<', $i);
		print $f $block or die "write: $!";
	}
	close $f or die "close: $!";
}
is(-s "$base/www/big.tseg", $size, 'a 1 GiB object to move');

# measured(args) - (exit code, stdout, stderr, peak RSS in kB)
sub measured
{
	my ($out, $err) = ('', '');
	run [ '/usr/bin/time', '-v', $tool, @_ ], '<', \undef, '>', \$out, '2>', \$err;
	my $rc = $? >> 8;
	my ($kb) = $err =~ /Maximum resident set size \(kbytes\): (\d+)/;
	return ($rc, $out, $err, $kb);
}

my ($rc, $out, $err, $kb) = measured('put', 's3://tide/mem', 'big.tseg', "$base/www/big.tseg");
is($rc, 0, 'put 1 GiB to S3') or diag $err;
my ($sha) = $out =~ /sha256=([0-9a-f]{64})/;
ok(defined $kb && $kb < $limit_kb, "put to S3: peak RSS ${\($kb // '?')} kB, under 64 MiB");
diag sprintf('put 1 GiB to S3: peak RSS %.1f MiB', ($kb // 0) / 1024);

($rc, $out, $err, $kb) = measured('get', 's3://tide/mem', 'big.tseg', "$base/from_s3", '--sha256', $sha);
is($rc, 0, 'get 1 GiB from S3, its SHA-256 checked') or diag $err;
like($out, qr/size=1073741824 resumed_at=0 sha256=$sha/, '... all of it, the same bytes');
ok(defined $kb && $kb < $limit_kb, "get from S3: peak RSS ${\($kb // '?')} kB, under 64 MiB");
diag sprintf('get 1 GiB from S3: peak RSS %.1f MiB', ($kb // 0) / 1024);
unlink "$base/from_s3";

($rc, $out, $err, $kb) = measured('get', $web->{url}, 'big.tseg', "$base/from_http", '--sha256', $sha);
is($rc, 0, 'get 1 GiB from the web server, its SHA-256 checked') or diag $err;
like($out, qr/size=1073741824 resumed_at=0 sha256=$sha/, '... all of it, the same bytes');
ok(defined $kb && $kb < $limit_kb, "get over HTTP: peak RSS ${\($kb // '?')} kB, under 64 MiB");
diag sprintf('get 1 GiB over HTTP: peak RSS %.1f MiB', ($kb // 0) / 1024);

remove_tree($base);
done_testing();
