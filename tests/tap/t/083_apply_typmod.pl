# tests/tap/t/083_apply_typmod.pl - values keep their length on the
# statement path: char(n) and bit(n) parameters are never cast to a type
# without its typmod (char(1), bit(1)), through a key update, inserts and
# updates that need statements (bit travels in binary), and identity FULL
# over char(3) finds its row.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;
use ApplyTest;

my $schema = q{
CREATE TABLE cur (id int PRIMARY KEY, code char(3), amount int);
CREATE TABLE bits (id int PRIMARY KEY, b bit(8), vb varbit(4), c char(2));
CREATE TABLE curf (code char(3), amount int);
ALTER TABLE curf REPLICA IDENTITY FULL;
};
my ($src, $dir) = apply_source('src', $schema);
$src->safe_psql('postgres', q{
INSERT INTO cur VALUES (1, 'EUR', 10), (2, 'USD', 20);
UPDATE cur SET id = 3 WHERE id = 2;
INSERT INTO bits VALUES (1, B'10101010', B'101', 'ab'), (2, B'11110000', B'1', 'c');
UPDATE bits SET b = B'00001111' WHERE id = 1;
UPDATE bits SET id = 5 WHERE id = 2;
INSERT INTO curf VALUES ('EUR', 1), ('USD', 2), ('GBP', 3);
DELETE FROM curf WHERE code = 'USD';
UPDATE curf SET amount = 30 WHERE code = 'GBP';
});
stream_to($src, $dir);

my $rep = replica_node('rep');
# one database per table, so each shows on its own
for my $t (qw(cur bits curf))
{
	replica_db($rep, "r_$t", $schema);
	my ($rc, $out, $err) = apply_to($rep, "r_$t", $dir, '--tables', "public.$t");
	is($rc, 0, "$t: apply exits 0") or diag($err);
	unlike($err, qr/warning/, "$t: no warning");
	is(table_md5($rep, "r_$t", $t), table_md5($src, 'postgres', $t), "$t: equal to the source");
}
is($rep->safe_psql('r_cur', "SELECT string_agg(id || '=' || code, ',' ORDER BY id) FROM cur"), '1=EUR,3=USD',
	'cur: the key update kept the whole code');

done_testing();
