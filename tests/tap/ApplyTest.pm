# tests/tap/ApplyTest.pm - helpers for the apply suites (080-089): a
# source streaming into one segment directory, replica clusters with one
# database per case, and content checks by count and md5 of ordered rows.
package ApplyTest;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;

our @EXPORT = qw(apply_source stream_to replica_node replica_db table_md5
  apply_to lsn_now);

# the settings every content check runs under, on both sides, so a text
# form does not depend on either server's defaults
our $PIN = "SET lc_monetary = 'C'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = postgres; "
  . "SET extra_float_digits = 3; SET bytea_output = hex; SET TimeZone = 'UTC'; ";

# apply_source NAME, SQL - a source node with SQL run, a slot, and the
# directory its segments go to (the slot starts after SQL)
sub apply_source
{
	my ($name, $sql) = @_;
	my $src = tide_node($name);
	$src->safe_psql('postgres', $sql) if $sql;
	my $dir = seg_dir("segs_$name");
	my ($rc, $out, $err) = tide_run('stream', '-d', $src->connstr('postgres'), '-S', 'tide',
		'-D', $dir, '--create-slot', '--endpos', lsn_now($src), '-q');
	is($rc, 0, "$name: slot created") or diag($err);
	return ($src, $dir);
}

sub lsn_now
{
	my ($node) = @_;
	return $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
}

# stream_to SRC, DIR - every change committed so far into DIR
sub stream_to
{
	my ($src, $dir) = @_;
	my $end = lsn_now($src);
	my ($rc, $out, $err) = tide_run('stream', '-d', $src->connstr('postgres'), '-S', 'tide',
		'-D', $dir, '--bucket', '1s', '--endpos', $end, '-q');
	is($rc, 0, "stream up to $end") or diag($err);
}

# replica_node NAME, CONF - a started plain cluster, CONF appended to its
# postgresql.conf
sub replica_node
{
	my ($name, $conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', $conf) if $conf;
	$node->start;
	return $node;
}

# replica_db NODE, DB, SQL - a new database on NODE with SQL run in it
sub replica_db
{
	my ($node, $db, $sql) = @_;
	$node->safe_psql('postgres', qq{CREATE DATABASE "$db"});
	$node->safe_psql($db, $sql) if $sql;
	return $db;
}

# table_md5 NODE, DB, TABLE - "count:md5" of the table's rows in text order
sub table_md5
{
	my ($node, $db, $t) = @_;
	return $node->safe_psql($db, $PIN
		  . "SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text COLLATE \"C\")), '') FROM $t x");
}

# apply_to NODE, DB, DIR, ARGS... - tide apply: (exit code, stdout, stderr)
sub apply_to
{
	my ($node, $db, $dir, @extra) = @_;
	return tide_run('apply', '-d', $node->connstr($db), '-D', $dir, @extra);
}

1;
