# tests/tap/t/102_base_secrets_modes.pl - a password in the connection
# string never reaches pg_dump's or pg_restore's argv (where `ps` shows it
# to every local user), an error message or a log line; bases and their
# manifests are owner-only (directories 0700, files 0600).
#
# pg_dump and pg_restore are wrapped by scripts that record their argv,
# their environment and the mode of any passfile they are given; tide finds
# them through a pg_config on PATH that names the wrappers' directory.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use File::Find;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;

my $pw = q{S3cr:t\pw 'x};	# a colon, a backslash, a blank and a quote
(my $pw_sql = $pw) =~ s/'/''/g;
(my $pw_conn = $pw) =~ s/([\\'])/\\$1/g;
(my $pw_uri = $pw) =~ s/([^A-Za-z0-9_.~-])/sprintf('%%%02X', ord $1)/ge;

# the wrappers
my $real = `pg_config --bindir`;
chomp $real;
my $bin = PostgreSQL::Test::Utils::tempdir('bin');
open my $fh, '>', "$bin/pg_config" or die;
print $fh qq{#!/bin/sh\nif [ "\$1" = --bindir ]; then echo '$bin'; else exec '$real/pg_config' "\$@"; fi\n};
close $fh;
for my $tool (qw(pg_dump pg_restore))
{
	open $fh, '>', "$bin/$tool" or die;
	print $fh qq{#!/bin/sh
log='$bin/$tool.log'
{ echo "argv:"; for a in "\$@"; do printf '%s\\n' "\$a"; done; echo "env:"; env; } >> "\$log"
for a in "\$@"; do
	f=\$(printf '%s' "\$a" | sed -n "s/.*passfile='\\([^']*\\)'.*/\\1/p")
	if [ -n "\$f" ]; then
		stat -c 'passfile-mode=%a' "\$f" >> "\$log"
		stat -c 'passdir-mode=%a' "\$(dirname "\$f")" >> "\$log"
	fi
done
exec '$real/$tool' "\$@"
};
	close $fh;
}
chmod 0755, "$bin/pg_config", "$bin/pg_dump", "$bin/pg_restore";
$ENV{PATH} = "$bin:$ENV{PATH}";
my $tmp = PostgreSQL::Test::Utils::tempdir('tmp');
$ENV{TMPDIR} = $tmp;

sub slurp_log
{
	my ($tool) = @_;
	my $f = "$bin/$tool.log";
	return '' unless -f $f;
	my $text = slurp_file($f);
	unlink $f;
	return $text;
}

# password authentication for one role, ahead of the trust lines
sub require_password
{
	my ($node, $role) = @_;
	my $hba = $node->data_dir . '/pg_hba.conf';
	my $old = slurp_file($hba);
	open my $h, '>', $hba or die;
	print $h "local all $role scram-sha-256\nlocal replication $role scram-sha-256\n$old";
	close $h;
	$node->reload;
}

my $src = tide_node('sec_src');
$src->safe_psql('postgres', qq{
SET password_encryption = 'scram-sha-256';
CREATE ROLE sec LOGIN REPLICATION PASSWORD '$pw_sql';
GRANT pg_read_all_data TO sec;
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 100) i;
});
require_password($src, 'sec');
my $conn = $src->connstr('postgres') . " user=sec password='$pw_conn'";

# ---- tide base with a password in the connection string
my $top = PostgreSQL::Test::Utils::tempdir('top');
my $dir = "$top/segs";	# created by tide base
my ($rc, $out, $err) = tide_run('base', '-d', $conn, '-S', 'sec', '-D', $dir);
is($rc, 0, 'tide base with a password-authenticated role') or diag($err);
my $log = slurp_log('pg_dump');
like($log, qr/^argv:\n.*--dbname\n/ms, 'pg_dump ran and was given a connection string');
unlike($log, qr/S3cr/, 'the password is in neither pg_dump\'s argv nor its environment');
like($log, qr/^passfile-mode=600$/m, 'it is in a passfile of mode 0600');
like($log, qr/^passdir-mode=700$/m, 'in a directory of mode 0700');
unlike($err, qr/S3cr/, 'no password in tide\'s messages');
opendir(my $dh, $tmp) or die;
is_deeply([ grep { !/^\.\.?$/ } readdir($dh) ], [], 'the passfile is gone afterwards');
closedir $dh;

# ---- owner-only: directories 0700, files 0600
my %modes;
find({ no_chdir => 1, wanted => sub {
	return if $File::Find::name =~ /\.tseg/;
	$modes{ $File::Find::name } = sprintf('%o', (stat $File::Find::name)[2] & 07777);
} }, $dir);
my ($base) = grep { m{/base/\d{8}T\d{6}Z$} } keys %modes;
ok($base, 'a base was written');
is($modes{$dir}, '700', 'the directory tide base created is 0700');
is($modes{"$dir/base"}, '700', 'DIR/base is 0700');
is($modes{$base}, '700', 'the base is 0700');
my @files = grep { -f $_ } keys %modes;
ok(grep({ m{/manifest\.json$} } @files) && grep({ m{/toc\.dat$} } @files), 'manifest and dump files');
is_deeply([ sort grep { $modes{$_} ne '600' } @files ], [], 'every file of the base is 0600');

# ---- the manifest records the source's clock, roles and extensions
my $m = decode_json(slurp_file("$base/manifest.json"));
like($m->{source_time}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, 'manifest: source_time');
ok(ref $m->{roles} eq 'ARRAY', 'manifest: roles');
ok(grep({ $_ eq 'plpgsql' } @{ $m->{extensions} }), 'manifest: extensions');

# ---- the same as a URI
my $uri = "postgresql://sec:$pw_uri\@/postgres?host=" . $src->host . '&port=' . $src->port;
($rc, $out, $err) = tide_run('base', '-d', $uri, '-S', 'sec_uri', '-D', "$top/segs_uri");
is($rc, 0, 'tide base with a URI holding the password') or diag($err);
$log = slurp_log('pg_dump');
unlike($log, qr/S3cr/, 'URI: no password in pg_dump\'s argv or environment');
like($log, qr/^passfile-mode=600$/m, 'URI: passfile');

# ---- a wrong password: the error does not echo it
($rc, $out, $err) = tide_run('base', '-d', $src->connstr('postgres') . ' user=sec password=Wr0ng-pa55',
	'-S', 'sec_bad', '-D', "$top/segs_bad");
is($rc, 3, 'wrong password: exit 3');
like($err, qr/password authentication failed/, 'says why');
unlike($err, qr/Wr0ng-pa55/, 'without the password');

# ---- tide bootstrap with a password: pg_restore's argv holds none either
my $rep = PostgreSQL::Test::Cluster->new('sec_rep');
$rep->init;
$rep->start;
$rep->safe_psql('postgres', qq{
SET password_encryption = 'scram-sha-256';
CREATE ROLE rsec SUPERUSER LOGIN PASSWORD '$pw_sql';
CREATE DATABASE r;
});
require_password($rep, 'rsec');
($rc, $out, $err) = tide_run('bootstrap', '-d', $rep->connstr('r') . " user=rsec password='$pw_conn'", '-D', $dir);
is($rc, 0, 'tide bootstrap with a password-authenticated role') or diag($err);
$log = slurp_log('pg_restore');
like($log, qr/--dbname\n/, 'pg_restore was given a connection string');
unlike($log, qr/S3cr/, 'the password is in neither pg_restore\'s argv nor its environment');
like($log, qr/^passfile-mode=600$/m, 'it is in a passfile of mode 0600');
unlike($err, qr/S3cr/, 'no password in bootstrap\'s messages');
is($rep->safe_psql('r', 'SELECT count(*) FROM t'), 100, 'and the base was restored');
opendir($dh, $tmp) or die;
is_deeply([ grep { !/^\.\.?$/ } readdir($dh) ], [], 'no passfile left behind');
closedir $dh;

done_testing();
