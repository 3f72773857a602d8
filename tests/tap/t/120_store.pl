# tests/tap/t/120_store.pl - store/ against real servers on loopback: S3
# (s3rver, which checks SigV4 signatures) and a static web server (nginx),
# through the library's test driver (tests/store/store_tool.c).
#
# What it proves: objects go to S3 and come back byte for byte; a put is
# create-only with pgBackRest's archive-push rule; a listing longer than
# one page follows continuation tokens; segments are listed by the LSNs in
# their files on S3 (ranged reads of headers and footers) and from the
# index over HTTP, and a segment missing from the middle is a gap naming
# both neighbours; a download cut short is continued with Range + If-Range
# (and restarted whole when the object changed); the index is polled with
# If-None-Match (304); a wrong secret and a server that is down give clear
# errors, the secret nowhere in the output.
use strict;
use warnings;

use File::Compare qw(compare);
use File::Copy qw(copy);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use IPC::Run qw(run);
use Test::More;

use TideStore;

my $base = $ENV{TESTDIR} ? "$ENV{TESTDIR}/t120" : tempdir(CLEANUP => 1);
remove_tree($base);
make_path($base);
my $tool = TideStore::tool();

# the AWS variables of the developer's shell must not leak in
delete @ENV{qw(AWS_SESSION_TOKEN AWS_ENDPOINT_URL_S3 AWS_REGION AWS_DEFAULT_REGION AWS_PROFILE)};

my $s3 = TideStore->s3rver("$base/s3", 'tide');
$ENV{AWS_ACCESS_KEY_ID} = 'S3RVER';
$ENV{AWS_SECRET_ACCESS_KEY} = 'S3RVER';
$ENV{AWS_ENDPOINT_URL} = $s3->{url};
my $url = 's3://tide/t120';

# tool(args) - (exit code, stdout, stderr)
sub tool
{
	my ($out, $err) = ('', '');
	run [ $tool, @_ ], '<', \undef, '>', \$out, '2>', \$err;
	return ($? >> 8, $out, $err);
}

sub write_random
{
	my ($path, $size, $seed) = @_;
	srand($seed);
	open(my $f, '>', $path) or die "$path: $!";
	binmode $f;
	print $f pack('C*', map { int(rand(256)) } 1 .. $size);
	close $f;
}

sub slurp
{
	my ($path) = @_;
	open(my $f, '<', $path) or return undef;
	binmode $f;
	local $/;
	return <$f>;
}

# ---------------------------------------------------------------- S3 objects

write_random("$base/a.bin", 300_000, 1);
write_random("$base/b.bin", 1234, 2);

my ($rc, $out, $err) = tool('put', $url, 'obj/a.bin', "$base/a.bin");
is($rc, 0, 'put a new object') or diag $err;
like($out, qr/^created obj\/a\.bin size=300000 sha256=[0-9a-f]{64}$/m, 'put says it created it');
my ($sha_a) = $out =~ /sha256=([0-9a-f]{64})/;

($rc, $out, $err) = tool('get', $url, 'obj/a.bin', "$base/a.back", '--sha256', $sha_a);
is($rc, 0, 'get it back, checksum given') or diag $err;
is(compare("$base/a.bin", "$base/a.back"), 0, 'the bytes that came back are the bytes put');
like($out, qr/resumed_at=0 sha256=$sha_a/, 'get reports the checksum of what it wrote');

($rc, $out, $err) = tool('head', $url, 'obj/a.bin');
like($out, qr/size=300000 etag="[0-9a-f]+" sha256=$sha_a/, 'head shows size, ETag and the SHA-256 put with it');

($rc, $out, $err) = tool('put', $url, 'obj/a.bin', "$base/a.bin");
is($rc, 0, 'putting the same content again succeeds');
like($out, qr/^exists obj\/a\.bin/, '... as a no-op (same checksum)');

($rc, $out, $err) = tool('put', $url, 'obj/a.bin', "$base/b.bin");
is($rc, 4, 'putting other content under an existing name is refused');
like($err, qr/object "obj\/a\.bin" already exists in bucket "tide" \(s3:\/\/tide\/t120\) with other content \(SHA-256 $sha_a/,
	'... saying which object, where, and both checksums');
tool('get', $url, 'obj/a.bin', "$base/a.again");
is(compare("$base/a.bin", "$base/a.again"), 0, '... and the object is unchanged');

($rc, $out, $err) = tool('get', $url, 'obj/a.bin', "$base/a.bad", '--sha256', '0' x 64);
is($rc, 5, 'a download whose checksum differs from the one expected fails');
ok(!-e "$base/a.bad" && !-e "$base/a.bad.part", '... leaving no file under either name');

# ---------------------------------------------------------------- listing

for my $i (1 .. 7)
{
	($rc) = tool('put', $url, sprintf('many/o%02d', $i), "$base/b.bin");
	die "put many/o$i: $rc" if $rc;
}
($rc, $out, $err) = tool('--page', 2, 'ls', $url, 'many/');
is($rc, 0, 'list with pages of 2') or diag $err;
is_deeply([ map { (split / /)[0] } grep { /^many\// } split /\n/, $out ],
	[ map { sprintf('many/o%02d', $_) } 1 .. 7 ],
	'all 7 objects, in name order, through 4 pages of continuation tokens');
like($out, qr/^7 objects$/m, '... and nothing else under the prefix');

# ---------------------------------------------------------------- segments

my $segdir = "$base/segs";
make_path($segdir);
my @segs;
for ([ 1795179600, '1000', '2000' ], [ 1795183200, '2000', '2000' ], [ 1795186800, '2000', '3A00' ])
{
	($rc, $out) = tool('mkseg', $segdir, @$_);
	chomp $out;
	push @segs, $out;
}
($rc, $out, $err) = tool('publish', $segdir, $url);
is($rc, 0, 'publish three segments and the index to S3') or diag $err;
like($out, qr/published 3 segments, 0 already there, index of 3/, '... all new');
($rc, $out, $err) = tool('publish', $segdir, $url);
like($out, qr/published 0 segments, 3 already there, index of 3/, 'publishing again is a no-op for every segment');

($rc, $out, $err) = tool('segs', $url);
is($rc, 0, 'the segments in S3 chain by the LSNs read from their headers and footers') or diag $err;
like($out, qr/\Q$segs[0]\E 0\/1000 0\/2000.*\n\Q$segs[1]\E 0\/2000 0\/2000.*\n\Q$segs[2]\E 0\/2000 0\/3A00/,
	'... in LSN order, the idle bucket between');

# the first segment comes back ending early, the idle one not at all: a
# hole in the history before the last one
make_path("$base/orig");
copy("$segdir/$_", "$base/orig/$_") for @segs;
tool('rm', $url, $_) for @segs[ 0, 1 ];
unlink "$segdir/$segs[0]", "$segdir/$segs[1]";
tool('mkseg', $segdir, 1795179600, '1000', '1800');
tool('put', $url, $segs[0], "$segdir/$segs[0]");
($rc, $out, $err) = tool('segs', $url);
is($rc, 5, 'a segment missing from the middle breaks the chain');
like($err, qr/segments are missing: the changes from 0\/1800 to 0\/2000 are in none of the files \("\Q$segs[0]\E" ends at 0\/1800, the next segment, "\Q$segs[2]\E", starts at 0\/2000\)/,
	'... the error names both neighbours and the LSN range');

# ---------------------------------------------------------------- wrong secret

{
	local $ENV{AWS_SECRET_ACCESS_KEY} = 'NotTheSecret42';
	($rc, $out, $err) = tool('ls', $url);
	is($rc, 1, 'a wrong secret fails');
	like($err, qr/S3 "s3:\/\/tide\/t120" refused a listing in bucket "tide": HTTP 403 SignatureDoesNotMatch/,
		'... naming the store, the bucket, the status and S3\'s error code');
	like($err, qr/credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/, '... and where the credentials came from');
	unlike("$out$err", qr/NotTheSecret42|S3RVER\b(?!")/, '... and never the secret');
}

# ---------------------------------------------------------------- web server

# the whole history again, for the web server
unlink "$segdir/$segs[0]";
copy("$base/orig/$_", "$segdir/$_") for @segs;

my $www = "$base/www";
make_path($www);
my $web = TideStore->nginx("$base/nginx", $www);
my $http = "$web->{url}/pub";
make_path("$www/pub");

($rc, $out, $err) = tool('publish', $segdir, "$www/pub");
is($rc, 0, 'publish to a local directory a web server serves') or diag $err;
($rc, $out, $err) = tool('segs', $http);
is($rc, 0, 'over HTTP the segments come from the index') or diag $err;
like($out, qr/chain ok: 3 segments/, '... and chain')
  or diag $out;

($rc, $out, $err) = tool('put', $http, 'x', "$base/b.bin");
is($rc, 1, 'a web server is read-only');
like($err, qr/read-only/, '... and says so');

($rc, $out, $err) = tool('ls', $http);
like($err, qr/cannot list its objects: a static web server has no listing; read its index\.json/, 'a web server cannot list');

# polling the index: 304 until it changes
($rc, $out, $err) = tool('poll', $http);
my ($etag) = $out =~ /etag=(\S+)/;
ok(defined $etag && $etag =~ /^"/, 'the index comes with an ETag') or diag "$out$err";
($rc, $out, $err) = tool('poll', $http, $etag);
like($out, qr/^not modified etag=\Q$etag\E$/m, 'polling with that ETag: not modified');
ok((grep { m{"GET /pub/index\.json HTTP/1\.1" 304 } } $web->access_log), '... the server answered 304, no body');
tool('mkseg', $segdir, 1795190400, '3A00', '4000');
tool('publish', $segdir, "$www/pub");
($rc, $out, $err) = tool('poll', $http, $etag);
like($out, qr/^index etag=(?!\Q$etag\E)\S+ segments=4$/m, 'after a publish the poll gets the new index');

# downloads: whole, resumed, restarted
write_random("$www/pub/data.bin", 2_000_000, 3);
($rc, $out, $err) = tool('get', $http, 'data.bin', "$base/d1");
is($rc, 0, 'get over HTTP') or diag $err;
is(compare("$www/pub/data.bin", "$base/d1"), 0, '... byte for byte');

($rc, $out) = tool('head', $http, 'data.bin');
my ($detag) = $out =~ /etag=(\S+)/;
open(my $p, '>', "$base/d2.part") or die;
binmode $p;
print $p substr(slurp("$www/pub/data.bin"), 0, 700_000);
close $p;
open($p, '>', "$base/d2.part.etag") or die;
print $p $detag;
close $p;
($rc, $out, $err) = tool('get', $http, 'data.bin', "$base/d2");
is($rc, 0, 'a partial download is continued') or diag $err;
like($out, qr/resumed_at=700000/, '... from where it stopped');
is(compare("$www/pub/data.bin", "$base/d2"), 0, '... and the result is whole');
ok((grep { m{"GET /pub/data\.bin HTTP/1\.1" 206 1300000 } } $web->access_log), '... the server sent only the rest (206)');
ok(!-e "$base/d2.part" && !-e "$base/d2.part.etag", '... and the part files are gone');

open($p, '>', "$base/d3.part") or die;
print $p "stale bytes of an older object";
close $p;
open($p, '>', "$base/d3.part.etag") or die;
print $p '"5f0c0ffe-1e"';
close $p;
($rc, $out, $err) = tool('get', $http, 'data.bin', "$base/d3");
is($rc, 0, 'a part of an older version of the object') or diag $err;
like($out, qr/resumed_at=0 /, '... is restarted: If-Range did not match');
is(compare("$www/pub/data.bin", "$base/d3"), 0, '... and the result is the new object');

# the same resume against S3
tool('put', $url, 'obj/data.bin', "$www/pub/data.bin");
($rc, $out) = tool('head', $url, 'obj/data.bin');
($detag) = $out =~ /etag=(\S+)/;
open($p, '>', "$base/d4.part") or die;
binmode $p;
print $p substr(slurp("$www/pub/data.bin"), 0, 123_456);
close $p;
open($p, '>', "$base/d4.part.etag") or die;
print $p $detag;
close $p;
($rc, $out, $err) = tool('get', $url, 'obj/data.bin', "$base/d4");
like($out, qr/resumed_at=123456/, 'a partial download from S3 is continued') or diag $err;
is(compare("$www/pub/data.bin", "$base/d4"), 0, '... and the result is whole');

# ---------------------------------------------------------------- servers down

$web->stop;
($rc, $out, $err) = tool('--retries', 2, 'get', $http, 'data.bin', "$base/d5");
is($rc, 1, 'the web server down: get fails');
like($err, qr/could not reach web server "\Q$http\E" \(GET of "data\.bin"\): .*\(Connection refused\) \(3 attempts\)/,
	'... with the server, the object, the reason and the attempts');

$s3->stop;
($rc, $out, $err) = tool('--retries', 1, 'head', $url, 'obj/a.bin');
is($rc, 1, 'S3 down: head fails');
like($err, qr/could not reach S3 "s3:\/\/tide\/t120" \(HEAD of "obj\/a\.bin" in bucket "tide"\).*\(2 attempts\)/,
	'... naming the store, the bucket and the key');
$s3->start;
($rc, $out, $err) = tool('head', $url, 'obj/a.bin');
is($rc, 0, 'S3 back: the object is there') or diag $err;

done_testing();
