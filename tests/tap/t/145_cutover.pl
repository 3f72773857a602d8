# tests/tap/t/145_cutover.pl - tide cutover: with tide stream and tide
# apply --follow running under a pgbench load that uses serial, identity
# and free sequences, writes stopped, one command brings the replica to
# equal (its marker, a transaction that changes nothing, advances the
# replica's progress), the replica's sequences are at or past the source's
# and a row inserted on it after the cutover does not collide; a stalled
# applier or streamer gives the timeout exit naming the stage (and takes
# --read-only back); --read-only stops a running load itself and
# --undo-read-only takes it back.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideStore;
use TideTest;

my $schema = q{
CREATE TABLE t_serial (id serial PRIMARY KEY, v int NOT NULL);
CREATE TABLE t_ident (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v int NOT NULL, note text);
CREATE SEQUENCE free_seq;
CREATE TABLE t_free (id bigint PRIMARY KEY DEFAULT nextval('free_seq'), v int);
};

my $src = tide_node('src');
my $conn = $src->connstr('postgres');
$src->safe_psql('postgres', $schema);
$src->safe_psql('postgres', "SELECT pg_create_logical_replication_slot('tide', 'tide')");
my $rep = PostgreSQL::Test::Cluster->new('rep');
$rep->init;
$rep->start;
$rep->safe_psql('postgres', $schema);
my $repconn = $rep->connstr('postgres');
my $dir = seg_dir('segs');

# the load: every transaction takes values of all three sequences, and
# nextval outside a row (a value handed out that no row keeps)
my $script = PostgreSQL::Test::Utils::tempdir('load') . '/load.sql';
open(my $fh, '>', $script) or die;
print $fh q{\set x random(1, 1000)
BEGIN;
INSERT INTO t_serial (v) VALUES (:x);
INSERT INTO t_ident (v, note) VALUES (:x, md5(:x::text));
INSERT INTO t_free (v) VALUES (:x);
SELECT nextval('free_seq');
UPDATE t_serial SET v = v + 1 WHERE id = (SELECT max(id) FROM t_serial) - 3;
COMMIT;
};
close $fh;

sub load
{
	my ($seconds, $bg) = @_;
	my @cmd = ('pgbench', '-n', '-c', '2', '-T', $seconds, '-f', $script, '-h', $src->host,
		'-p', $src->port, 'postgres');
	my ($out, $err) = ('', '');
	return (IPC::Run::start(\@cmd, '<', \undef, '>', \$out, '2>', \$err), \$err) if $bg;
	IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err);
	return ($? >> 8, $out, $err);
}

sub seq_state
{
	my ($node, $seq) = @_;
	return $node->safe_psql('postgres', "SELECT last_value FROM $seq");
}

my @seqs = qw(t_serial_id_seq t_ident_id_seq free_seq);

# --sequence-interval 0: no sequence states but the cutover's (which then
# must bring the replica's sequences ahead), and no transaction of the
# streamer's own that would make the replica record its progress
my ($st, $st_out, $st_err) = tide_start('stream', '-d', $conn, '-S', 'tide', '-D', $dir,
	'--status-interval', '1h', '--sequence-interval', '0');
ok(wait_for_file("$dir/*.tseg*"), 'the stream opened a segment');
my ($ap, $ap_out, $ap_err) = tide_start('apply', '-d', $repconn, '-D', $dir, '--follow');

# ---- under load, then writes stopped by the operator (the load ends)
my ($rc, $out, $err) = load(4);
is($rc, 0, 'pgbench load ran') or diag($err);
my ($txns) = $out =~ /number of transactions actually processed: (\d+)/;
cmp_ok($txns // 0, '>', 20, "the load committed transactions (" . ($txns // 0) . ")");
($rc, $out, $err) = tide_run('cutover', '-s', $conn, '-d', $repconn, '-D', $dir);
is($rc, 0, 'tide cutover: exit 0') or diag($out . $err);
like($out, qr/^replica is equal; promote it \((\d+\.\d+) s from start to equal\)$/m,
	'cutover says the replica is equal, with the time from start to equal');
my ($secs) = $out =~ /\((\d+\.\d+) s from start to equal\)/;
diag("cutover: $secs s from start to equal") if defined $secs;
for my $stage ('sequences + marker', 'streamer durable', 'applier applied', 'verify')
{
	like($out, qr/^cutover: \Q$stage\E\s+\d+\.\d{3} s/m, "cutover times the stage \"$stage\"");
}
unlike($out, qr/^cutover: read-only/m, 'no read-only stage without --read-only');
like($out, qr/^cutover: sequences \+ marker .* 3 sequences, marker at ([0-9A-F]+\/[0-9A-F]+)$/m,
	'the sequences recorded and the marker\'s LSN');
my ($marker) = $out =~ /marker at ([0-9A-F]+\/[0-9A-F]+)$/m;
like($out, qr/^verify: 3 tables equal, 0 different$/m, 'verify: every table equal');
like($out, qr/^verify: 3 sequences at or ahead of the source, 0 behind or missing$/m,
	'verify: every sequence at or ahead');

# the marker's transaction changes nothing, yet it is recorded
is($rep->safe_psql('postgres', "SELECT end_lsn > '$marker' FROM tide.progress"), 't',
	'the replica\'s progress is past the marker (a message-only transaction recorded)');
# alone (no sequence states before it in the same pass of the applier)
my $alone = $src->safe_psql('postgres', "SELECT pg_logical_emit_message(true, 'tide.cutover', '{\"v\":1}')");
ok($rep->poll_query_until('postgres', "SELECT end_lsn >= '$alone' FROM tide.progress"),
	'a marker alone in its transaction advances the replica\'s progress under apply --follow');
my @markers = grep { /^MESSAGE/ && /tide\.cutover/ } seg_lines($dir);
is(scalar(@markers), 2, 'the tide.cutover messages in the segments');
like($markers[0] // '', qr/^MESSAGE transactional=true prefix='tide\.cutover' content='\{"v":1,"token":"[0-9a-f]{32}","time":"\d{4}-\d\d-\d\dT[0-9:.]+Z"\}'/,
	'the marker: transactional, token and time');

for my $q ('SELECT count(*), sum(v), max(id) FROM t_serial', 'SELECT count(*), md5(string_agg(note, \',\' ORDER BY id)) FROM t_ident',
	'SELECT count(*), max(id) FROM t_free')
{
	is($rep->safe_psql('postgres', $q), $src->safe_psql('postgres', $q), "same content: $q");
}
for my $s (@seqs)
{
	my ($a, $b) = (seq_state($src, $s), seq_state($rep, $s));
	cmp_ok($b, '>=', $a, "replica's $s ($b) at or past the source's ($a)");
}
cmp_ok(seq_state($src, 'free_seq'), '>', $src->safe_psql('postgres', 'SELECT max(id) FROM t_free'),
	'free_seq handed out values no row keeps');

# ---- promoted: new rows on the replica take ids the source never handed out
my $src_serial = $src->safe_psql('postgres', 'SELECT max(id) FROM t_serial');
my $id = $rep->safe_psql('postgres', 'INSERT INTO t_serial (v) VALUES (-1) RETURNING id');
cmp_ok($id, '>', $src_serial, "a serial id on the replica after cutover ($id) is past the source's ($src_serial)");
$id = $rep->safe_psql('postgres', 'INSERT INTO t_ident (v) VALUES (-1) RETURNING id');
cmp_ok($id, '>', $src->safe_psql('postgres', 'SELECT max(id) FROM t_ident'), 'an identity id too');
$id = $rep->safe_psql('postgres', 'INSERT INTO t_free (v) VALUES (-1) RETURNING id');
cmp_ok($id, '>', seq_state($src, 'free_seq'), 'a free sequence\'s value past every value the source handed out');
$rep->safe_psql('postgres', 'DELETE FROM t_serial WHERE v = -1; DELETE FROM t_ident WHERE v = -1; DELETE FROM t_free WHERE v = -1');

# ---- a stalled applier: timeout naming the applier stage, read-only taken back
$ap->signal('STOP');
$src->safe_psql('postgres', 'INSERT INTO t_serial (v) VALUES (7)');
($rc, $out, $err) = tide_run('cutover', '-s', $conn, '-d', $repconn, '-D', $dir, '--timeout', '2s', '--read-only');
is($rc, 4, 'a stalled applier: exit 4') or diag($out . $err);
like($err, qr/stage applier: timed out before tide apply applied the marker at [0-9A-F]+\/[0-9A-F]+/,
	'the error names the applier stage');
like($err, qr/hint: is tide apply --follow running/, 'with the fix');
like($out, qr/^cutover: streamer durable /m, 'the streamer stage had passed');
unlike($out, qr/promote it/, 'no promotion said');
like($err, qr/the source database postgres takes writes again: the cutover did not finish/,
	'--read-only is taken back on failure, and it says so');
is($src->safe_psql('postgres', "SELECT count(*) FROM pg_db_role_setting WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = 'postgres')"),
	'0', 'no database setting left behind');
is($src->safe_psql('postgres', 'SHOW default_transaction_read_only'), 'off', 'new sessions can write');
$ap->signal('CONT');

# ---- --read-only under a running load: tide stops the writes itself
my $before = $src->safe_psql('postgres', 'SELECT count(*) FROM t_serial');
my ($bg, $bg_err) = load(60, 1);
for (1 .. 100)
{
	last if $src->safe_psql('postgres', 'SELECT count(*) FROM t_serial') > $before + 20;
	$bg->pump_nb;
	last unless $bg->pumpable;
	select(undef, undef, undef, 0.1);
}
cmp_ok($src->safe_psql('postgres', 'SELECT count(*) FROM t_serial'), '>', $before + 20, 'the load is running')
  or diag($$bg_err);
($rc, $out, $err) = tide_run('cutover', '-s', $conn, '-d', $repconn, '-D', $dir, '--read-only', '--timeout', '30s');
is($rc, 0, '--read-only under load: exit 0') or diag($out . $err);
like($out, qr/^cutover: read-only\s+\d+\.\d{3} s  postgres$/m, 'the read-only stage is timed');
like($err, qr/the source database postgres is read-only for new sessions; [2-9]\d* other sessions ended/,
	'the load\'s sessions were ended');
like($out, qr/^replica is equal; promote it/m, 'equal');
like($out, qr/^the source stays read-only; to take writes on it again: tide cutover -s SOURCE --undo-read-only$/m,
	'says the source stays read-only and how to undo it');
$bg->finish;
isnt($bg->result(0), 0, 'the load was stopped by the cutover');
is($src->safe_psql('postgres', 'SHOW default_transaction_read_only'), 'on', 'new sessions are read-only');
my ($prc, $pout, $perr) = $src->psql('postgres', 'INSERT INTO t_serial (v) VALUES (8)');
like($perr, qr/cannot execute INSERT in a read-only transaction/, 'a write on the source is refused');
for my $q ('SELECT count(*), sum(v) FROM t_serial', 'SELECT count(*) FROM t_ident')
{
	is($rep->safe_psql('postgres', $q), $src->safe_psql('postgres', $q), "same content after --read-only: $q");
}

($rc, $out, $err) = tide_run('cutover', '-s', $conn, '--undo-read-only');
is($rc, 0, '--undo-read-only') or diag($err);
like($err, qr/the source database postgres takes writes again/, 'it says so');
is($src->safe_psql('postgres', 'SHOW default_transaction_read_only'), 'off', 'new sessions can write again');
$src->safe_psql('postgres', 'INSERT INTO t_serial (v) VALUES (9)');
($rc, $out, $err) = tide_run('cutover', '-s', $conn, '--undo-read-only', '-d', $repconn);
is($rc, 2, '--undo-read-only with -d: usage error');

# ---- a remote store: the stream's directory served by nginx, 1-second
# buckets so that the segment holding the marker closes and is indexed
$st->signal('TERM');
$st->finish;
is($st->result(0), 0, 'tide stream stopped for a restart') or diag($$st_err);
($st, $st_out, $st_err) = tide_start('stream', '-d', $conn, '-S', 'tide', '-D', $dir,
	'--status-interval', '1h', '--sequence-interval', '0', '--bucket', '1s');
my $web = TideStore->nginx(PostgreSQL::Test::Utils::tempdir('nginx'), $dir);
$src->safe_psql('postgres', 'INSERT INTO t_serial (v) VALUES (10)');
# the store names its source in its first closed segment (a bounded wait)
for (1 .. 300)
{
	my ($lrc, $lout) = tide_run('ls', $web->{url});
	last if $lrc == 0 && $lout =~ /\.tseg\b/;
	select(undef, undef, undef, 0.1);
}
($rc, $out, $err) = tide_run('cutover', '-s', $conn, '-d', $repconn, '-D', $web->{url}, '--timeout', '30s');
is($rc, 0, 'cutover with an http:// store: exit 0') or diag($out . $err);
like($out, qr/^cutover: streamer durable .*\n^cutover: store published\s+\d+\.\d{3} s\n(?s:.*)^cutover: applier applied /m,
	'the store stage comes between the streamer and the applier');
like($out, qr/^replica is equal; promote it/m, 'equal');
$web->stop;

# ---- a stopped streamer: timeout naming the streamer stage (exit 3)
$st->signal('TERM');
$st->finish;
is($st->result(0), 0, 'tide stream stopped cleanly') or diag($$st_err);
($rc, $out, $err) = tide_run('cutover', '-s', $conn, '-d', $repconn, '-D', $dir, '--timeout', '1s');
is($rc, 3, 'no streamer: exit 3') or diag($out . $err);
like($err, qr/stage streamer: timed out before tide stream made the marker at [0-9A-F]+\/[0-9A-F]+ durable/,
	'the error names the streamer stage');
like($err, qr/slot "tide" is confirmed up to [0-9A-F]+\/[0-9A-F]+ \(slot inactive\)/, 'and where the slot is');

# ---- the slot the segments follow is gone
$src->safe_psql('postgres', "SELECT pg_drop_replication_slot('tide')");
($rc, $out, $err) = tide_run('cutover', '-s', $conn, '-d', $repconn, '-D', $dir);
is($rc, 3, 'no slot: exit 3');
like($err, qr/replication slot "tide", which the segments in ".*" follow, does not exist on the source/,
	'says which slot is missing');
unlike($out, qr/marker at/, 'before any marker is written');

# ---- a store without segments
my $other = seg_dir('empty');
($rc, $out, $err) = tide_run('cutover', '-s', $conn, '-d', $repconn, '-D', $other);
is($rc, 5, 'a store without segments: exit 5');
like($err, qr/holds no segment/, 'says so');

$ap->signal('TERM');
$ap->finish;
is($ap->result(0), 0, 'tide apply --follow stopped cleanly') or diag($$ap_err);
done_testing();
