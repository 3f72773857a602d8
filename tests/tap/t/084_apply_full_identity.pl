# tests/tap/t/084_apply_full_identity.pl - REPLICA IDENTITY FULL finds the
# row by its exact stored value, never by the type's "=": two rows equal by
# "=" but different in content (box and circle of the same area, numeric
# 1.0 and 1.00, float8 0 and -0, interval '1 day' and '24 hours', citext,
# ranges, numeric[]) and a type with no "=" at all (box[]) are each
# deleted and updated exactly as on the source.  One replica database per
# type, so each type shows on its own.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;
use ApplyTest;

# type => [first row, second row equal to it by "=", the second's new value]
my %cases = (
	box      => [ '(2,2),(0,0)',   '(4,1),(0,0)',   '(1,1),(0,0)' ],
	circle   => [ '<(0,0),1>',     '<(5,5),1>',     '<(0,0),3>' ],
	numeric  => [ '1.0',           '1.00',          '3' ],
	float8   => [ '0',             '-0',            '7' ],
	interval => [ '1 day',         '24:00:00',      '2 days' ],
	citext   => [ 'Abc',           'aBC',           'x' ],
	numrange => [ '[1.0,2)',       '[1.00,2)',      '[5,6)' ],
	'numeric[]' => [ '{1.0}',      '{1.00}',        '{3}' ],
	'box[]'  => [ '{(2,2),(0,0)}', '{(4,1),(0,0)}', '{(1,1),(0,0)}' ],
);
sub tname { my $t = shift; $t =~ s/\[\]/_arr/; return $t; }

my $schema = "CREATE EXTENSION citext;\n";
for my $type (sort keys %cases)
{
	my $n = tname($type);
	$schema .= "CREATE TABLE d_$n (v $type); ALTER TABLE d_$n REPLICA IDENTITY FULL;\n";
	$schema .= "CREATE TABLE u_$n (v $type); ALTER TABLE u_$n REPLICA IDENTITY FULL;\n";
}
my ($src, $dir) = apply_source('src', $schema);
for my $type (sort keys %cases)
{
	my $n = tname($type);
	my ($a, $b, $c) = @{ $cases{$type} };
	$src->safe_psql('postgres', "INSERT INTO d_$n VALUES ('$a'), ('$b'); INSERT INTO u_$n VALUES ('$a'), ('$b')");
	is($src->safe_psql('postgres', "SELECT count(DISTINCT v::text) FROM d_$n"), '2', "$type: two different values");
	# the second row, chosen by its text: the source changes exactly that one
	$src->safe_psql('postgres', "DELETE FROM d_$n WHERE v::text = '$b'");
	$src->safe_psql('postgres', "UPDATE u_$n SET v = '$c' WHERE v::text = '$b'");
}
stream_to($src, $dir);

my $rep = replica_node('rep');
for my $type (sort keys %cases)
{
	my $n = tname($type);
	replica_db($rep, "r_$n", $schema);
	my ($rc, $out, $err) = apply_to($rep, "r_$n", $dir, '--tables', "public.d_$n,public.u_$n");
	is($rc, 0, "$type: apply exits 0") or diag($err);
	is($rep->safe_psql("r_$n", "SELECT string_agg(v::text, ' ') FROM d_$n"), $cases{$type}[0],
		"$type: DELETE removed the row the source removed");
	is(table_md5($rep, "r_$n", "u_$n"), table_md5($src, 'postgres', "u_$n"),
		"$type: UPDATE changed the row the source changed");
}

done_testing();
