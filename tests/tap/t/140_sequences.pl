# tests/tap/t/140_sequences.pl - sequence states recorded into the stream
# ("tide.seq" messages: tide stream at startup, segment close and every
# --sequence-interval; tide sync-sequences on demand) and applied forward
# only: serial, identity, bigserial, descending, cycled and oddly named
# sequences end at the source's state after catch-up and after --until; a
# replica sequence set ahead stays; tide verify compares sequences (fails
# on one behind, passes at or ahead); a sequence missing on the replica
# stops apply (exit 4) unless --tables leaves it out.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;
use Time::HiRes qw(usleep);

my $schema = q{
CREATE TABLE s_serial (id serial PRIMARY KEY, v int);
CREATE TABLE s_ident (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v int);
CREATE TABLE s_big (id bigserial PRIMARY KEY, v int);
CREATE SEQUENCE s_desc INCREMENT -3 MINVALUE -1000000 MAXVALUE -1 START -1;
CREATE TABLE s_down (id int PRIMARY KEY DEFAULT nextval('s_desc'), v int);
CREATE SEQUENCE s_cyc MINVALUE 1 MAXVALUE 1000 CYCLE;
CREATE TABLE s_cycle (id serial PRIMARY KEY, c int DEFAULT nextval('s_cyc'));
CREATE SCHEMA "Odd schema";
CREATE SEQUENCE "Odd schema"."odd ""seq""";
CREATE TABLE marks (m int PRIMARY KEY);
};
# the sequences, as schema-qualified literals for the queries below
my %seqs = (
	'public.s_serial_id_seq' => q{'public.s_serial_id_seq'},
	'public.s_ident_id_seq' => q{'public.s_ident_id_seq'},
	'public.s_big_id_seq' => q{'public.s_big_id_seq'},
	'public.s_desc' => q{'public.s_desc'},
	'public.s_cyc' => q{'public.s_cyc'},
	'public.s_cycle_id_seq' => q{'public.s_cycle_id_seq'},
	'Odd schema.odd "seq"' => q{'"Odd schema"."odd ""seq"""'},
);

my $src = tide_node('src');
my $conn = $src->connstr('postgres');
$src->safe_psql('postgres', $schema);
my $rep = PostgreSQL::Test::Cluster->new('rep');
$rep->init;
$rep->start;
$rep->safe_psql('postgres', $schema);
my $repconn = $rep->connstr('postgres');

# state NODE - { name => "last_value/is_called" } of every sequence
sub state
{
	my ($node) = @_;
	my %s;
	for my $n (sort keys %seqs)
	{
		my $rel = $seqs{$n};
		my $q = $rel =~ /Odd/ ? q{"Odd schema"."odd ""seq"""} : substr($rel, 1, -1);
		$s{$n} = $node->safe_psql('postgres', "SELECT last_value || '/' || is_called FROM $q");
	}
	return \%s;
}

sub workload
{
	my ($n) = @_;
	for my $i (1 .. 5)
	{
		$src->safe_psql('postgres', qq{
BEGIN;
INSERT INTO s_serial (v) SELECT g FROM generate_series(1, $n) g;
INSERT INTO s_ident (v) SELECT g FROM generate_series(1, $n) g;
UPDATE s_ident SET v = v + 1 WHERE id % 7 = 0;
INSERT INTO s_big (v) SELECT g FROM generate_series(1, 2 * $n) g;
INSERT INTO s_down (v) SELECT g FROM generate_series(1, $n) g;
INSERT INTO s_cycle (c) SELECT nextval('s_cyc') FROM generate_series(1, 3);
SELECT nextval('"Odd schema"."odd ""seq"""');
COMMIT;
});
		usleep(150_000);
	}
}

$src->safe_psql('postgres', "SELECT pg_create_logical_replication_slot('tide', 'tide')");
my $dir = seg_dir('segs');

# ---- a stream recording states every 300ms while a workload runs
my ($st, $st_out, $st_err) = tide_start('stream', '-d', $conn, '-S', 'tide', '-D', $dir,
	'--bucket', '1s', '--sequence-interval', '300ms', '--status-interval', '1h');
workload(40);

# the point of --until: states read, recorded by sync-sequences, marker
my $at_mark = state($src);
my ($rc, $out, $err) = tide_run('sync-sequences', '-d', $conn);
is($rc, 0, 'tide sync-sequences') or diag($err);
like($out, qr{^[0-9A-F]+/[0-9A-F]+\n\z}, 'sync-sequences prints the LSN of its message');
like($err, qr/recorded the states of 7 sequences at /, 'sync-sequences says how many it recorded');
$src->safe_psql('postgres', 'INSERT INTO marks VALUES (1)');
my $mark = $src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');

workload(25);
$src->safe_psql('postgres', 'INSERT INTO marks VALUES (2)');
my $end_state = state($src);
my ($sync_end) = tide_run('sync-sequences', '-d', $conn, '-q');
my $end = $src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
ok($src->poll_query_until('postgres',
	"SELECT confirmed_flush_lsn >= '$end' FROM pg_replication_slots WHERE slot_name = 'tide'"),
	'the stream made everything durable');
$st->signal('TERM');
$st->finish;
is($st->result(0), 0, 'tide stream stopped cleanly') or diag($$st_err);
like($$st_err, qr/recording the states of 7 sequences into the stream \(first at [0-9A-F]+\/[0-9A-F]+\)/,
	'the stream says it records sequence states');

# the messages are in the segments, readable
my @msgs = grep { /^MESSAGE/ && /tide\.seq/ } seg_lines($dir);
cmp_ok(scalar(@msgs), '>=', 4, scalar(@msgs) . ' tide.seq messages in the segments (startup, interval, sync)');
like($msgs[0], qr/^MESSAGE transactional=true prefix='tide\.seq' content='\{"v":1,/, 'inspect: transactional, prefix and JSON content');
my ($json) = $msgs[-1] =~ /content='(.*)'$/;
$json =~ s/''/'/g if defined $json;
ok(defined $json, 'inspect shows the payload as text') or diag($msgs[-1]);
my $p = eval { decode_json($json) };
is($p->{v}, 1, 'payload version 1');
my %last = map { ("$_->{schema}.$_->{name}" => $_) } @{ $p->{sequences} || [] };
is(scalar(keys %last), 7, 'the last message holds the 7 sequences');
is("$last{'public.s_big_id_seq'}{last_value}/" . ($last{'public.s_big_id_seq'}{is_called} ? 'true' : 'false'),
	$end_state->{'public.s_big_id_seq'}, 'its s_big state is the source\'s at the end');
is($last{'public.s_desc'}{increment}, -3, 'increment recorded');
is_deeply($last{'public.s_serial_id_seq'}{owned_by}, { schema => 'public', table => 's_serial' },
	'owning table recorded');
ok(!exists $last{'Odd schema.odd "seq"'}{owned_by}, 'a sequence no table owns has no owned_by');
my @in_json = grep { /^\{/ } seg_lines($dir, '--json');
ok((grep { /"prefix":\s*"tide\.seq"/ } @in_json), 'inspect --json shows tide.seq messages');

# ---- --until the marker: every replica sequence at the source's state then
($rc, $out, $err) = tide_run('apply', '-d', $repconn, '-D', $dir, '--until', $mark);
is($rc, 0, 'apply --until the marker') or diag($err);
is($rep->safe_psql('postgres', 'SELECT string_agg(m::text, \',\') FROM marks'), '1', 'stopped at the marker');
like($err, qr/\d+ sequence states applied, \d+ of which moved a replica sequence forward/, 'apply counts sequence states');
is_deeply(state($rep), $at_mark, '--until: every replica sequence at the source\'s state at the marker');

# ---- set ahead on the replica: stays (forward only, in each direction)
$rep->safe_psql('postgres', q{
SELECT setval('s_big_id_seq', 1000000);
SELECT setval('s_desc', -900000);
});
($rc, $out, $err) = tide_run('apply', '-d', $repconn, '-D', $dir);
is($rc, 0, 'apply to the end') or diag($err);
is($rep->safe_psql('postgres', 'SELECT count(*) FROM marks'), '2', 'applied to the end');
my $rs = state($rep);
is($rs->{'public.s_big_id_seq'}, '1000000/true', 'a replica sequence set ahead is never set back');
is($rs->{'public.s_desc'}, '-900000/true', 'descending: set ahead (lower) is never set back (higher)');
for my $n (grep { $_ ne 'public.s_big_id_seq' && $_ ne 'public.s_desc' } sort keys %seqs)
{
	is($rs->{$n}, $end_state->{$n}, "$n: the source's state at the end");
}
my ($src_down) = $end_state->{'public.s_desc'} =~ /^(-?\d+)/;
cmp_ok($src_down, '<', -200, "descending sequence went down on the source ($src_down)");

# ---- verify: at or ahead passes, and says so per sequence
($rc, $out, $err) = tide_run('verify', '-s', $conn, '-d', $repconn);
is($rc, 0, 'verify: sequences at or ahead') or diag($out . $err);
like($out, qr/^sequence public\.s_big_id_seq: ahead \(replica at 1000000, source at \d+\)$/m, 'verify: ahead');
my ($serial_end) = $end_state->{'public.s_serial_id_seq'} =~ /^(\d+)/;
is($serial_end, 325, 'serial: 325 rows inserted on the source');
like($out, qr/^sequence public\.s_serial_id_seq: equal \(at 325\)$/m, 'verify: equal, with the value');
like($out, qr/^sequence Odd schema\.odd "seq": equal \(at 10\)$/m, 'verify: an odd name');
like($out, qr/^verify: 7 sequences at or ahead of the source, 0 behind or missing$/m, 'verify: sequence summary');

# ---- a replica sequence behind: verify fails, naming it
$rep->safe_psql('postgres', q{SELECT setval('s_serial_id_seq', 150); SELECT setval('s_desc', -4)});
($rc, $out, $err) = tide_run('verify', '-s', $conn, '-d', $repconn);
is($rc, 1, 'verify: a sequence behind is a difference (exit 1)') or diag($out . $err);
like($out, qr/^sequence public\.s_serial_id_seq: BEHIND: replica at 150, source at 325 \(increment 1\)/m,
	'verify names the sequence behind, with both values');
like($out, qr/^sequence public\.s_desc: BEHIND: replica at -4, source at $src_down \(increment -3\)/m,
	'verify: descending, behind means higher');
like($out, qr/^verify: 5 sequences at or ahead of the source, 2 behind or missing$/m, 'summary counts them');
like($err, qr/2 sequences of the replica are behind the source's or missing/, 'and says so on stderr');
like($err, qr/hint: .*tide sync-sequences/, 'with the fix');
($rc, $out, $err) = tide_run('verify', '-s', $conn, '-d', $repconn, '--json');
is($rc, 1, 'verify --json: exit 1');
my ($jl) = grep { /"sequence":\s*"public\.s_serial_id_seq"/ } split /\n/, $out;
my $j = eval { decode_json($jl // '{}') };
is_deeply([ @{$j}{qw(status source_last_value replica_last_value increment)} ], [ 'behind', 325, 150, 1 ],
	'verify --json: one object per sequence');

# ---- sync-sequences, then a plain --endpos stream and apply bring it back
$src->safe_psql('postgres', 'INSERT INTO s_serial (v) SELECT g FROM generate_series(1, 7) g');
($rc, $out, $err) = tide_run('sync-sequences', '-d', $conn, '-q');
is($rc, 0, 'sync-sequences again');
chomp(my $sync_lsn = $out);
($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir, '--endpos', $sync_lsn,
	'--sequence-interval', '0', '-q');
is($rc, 0, 'stream --endpos the sync\'s LSN, recording nothing itself') or diag($err);
($rc, $out, $err) = tide_run('apply', '-d', $repconn, '-D', $dir);
is($rc, 0, 'apply') or diag($err);
is(state($rep)->{'public.s_serial_id_seq'}, '332/true', 'the synced state reached the replica');
is(state($rep)->{'public.s_desc'}, $end_state->{'public.s_desc'}, 'descending: moved forward (down) again');
($rc, $out, $err) = tide_run('verify', '-s', $conn, '-d', $repconn);
is($rc, 0, 'verify passes again') or diag($out . $err);

# ---- --map: another replica keeps public's objects in schema pub2
$rep->safe_psql('postgres', 'CREATE DATABASE mapped');
$rep->safe_psql('mapped', 'CREATE SCHEMA pub2; CREATE SCHEMA "Odd schema"; SET search_path = pub2; '
	. ($schema =~ s/CREATE SCHEMA "Odd schema";\n//r));
# (--on-conflict skip: inserts go through INSERT statements, not COPY, so
# s_ident's GENERATED ALWAYS column takes the source's values that way too)
($rc, $out, $err) = tide_run('apply', '-d', $rep->connstr('mapped'), '-D', $dir, '--map', 'public=pub2',
	'--on-conflict', 'skip');
is($rc, 0, 'apply --map public=pub2, inserts by statements') or diag($err);
is($rep->safe_psql('mapped', 'SELECT count(*) || \':\' || sum(id) FROM pub2.s_ident'),
	$src->safe_psql('postgres', 'SELECT count(*) || \':\' || sum(id) FROM s_ident'),
	'GENERATED ALWAYS identity: the source\'s ids, by INSERT statements');
is($rep->safe_psql('mapped', q{SELECT last_value || '/' || is_called FROM pub2.s_serial_id_seq}), '332/true',
	'--map: the mapped replica sequence got the source\'s state');
is($rep->safe_psql('mapped', q{SELECT last_value || '/' || is_called FROM pub2.s_desc}), $end_state->{'public.s_desc'},
	'--map: descending too');
($rc, $out, $err) = tide_run('verify', '-s', $conn, '-d', $rep->connstr('mapped'), '--map', 'public=pub2');
is($rc, 0, 'verify --map: tables and sequences') or diag($out . $err);
like($out, qr/^verify: 7 sequences at or ahead of the source, 0 behind or missing$/m, 'verify --map counts all 7');

# ---- a sequence missing on the replica stops apply; --tables can leave it out
$src->safe_psql('postgres', q{CREATE SEQUENCE orphan START 40; SELECT nextval('orphan');});
($rc, $out, $err) = tide_run('sync-sequences', '-d', $conn, '-q');
chomp($sync_lsn = $out);
($rc) = tide_run('stream', '-d', $conn, '-S', 'tide', '-D', $dir, '--endpos', $sync_lsn,
	'--sequence-interval', '0', '-q');
is($rc, 0, 'stream the orphan\'s state');
($rc, $out, $err) = tide_run('apply', '-d', $repconn, '-D', $dir);
is($rc, 4, 'a sequence missing on the replica: exit 4') or diag($err);
like($err, qr/sequence "public\.orphan" does not exist on the replica/, 'names it');
like($err, qr/hint: .*create the sequence on the replica \(or let --schema follow create it\), map its schema with --map, or leave it out with --tables/,
	'says how to go on');
($rc, $out, $err) = tide_run('verify', '-s', $conn, '-d', $repconn);
is($rc, 1, 'verify: a sequence missing on the replica is a difference');
like($out, qr/^sequence public\.orphan: DIFFERENT: missing on the replica$/m, 'verify names it');
($rc, $out, $err) = tide_run('apply', '-d', $repconn, '-D', $dir, '--tables', 'public.s_*,public.marks');
is($rc, 0, 'apply with --tables leaving it out') or diag($err);
($rc, $out, $err) = tide_run('verify', '-s', $conn, '-d', $repconn, '--tables', 'public.s_*,public.marks');
is($rc, 0, 'verify --tables: the selected tables and their sequences') or diag($out . $err);
unlike($out, qr/orphan|Odd/, 'verify --tables: sequences of other names are left out');
like($out, qr/^verify: 6 sequences at or ahead/m, 'verify --tables: sequences owned by or named like the selected tables');

# ---- inspect renders the message content readably (text form)
@msgs = grep { /^MESSAGE/ && /tide\.seq/ } seg_lines($dir);
like($msgs[-1], qr/^MESSAGE transactional=true prefix='tide\.seq' content='\{"v":1,"sequences":\[.*\{"schema":"public","name":"orphan","last_value":40,"is_called":true,"increment":1,"cycle":false\}/,
	'inspect: the last message shows the orphan\'s state') or diag($msgs[-1]);

# ---- a role that may not read the sequences records none and says which
$src->safe_psql('postgres', 'CREATE ROLE noseq LOGIN');
($rc, $out, $err) = tide_run('sync-sequences', '-d', $src->connstr('postgres') . ' user=noseq');
is($rc, 0, 'sync-sequences as a role without SELECT on the sequences') or diag($err);
is($out, '', 'nothing recorded, no LSN printed');
like($err, qr/the states of sequences this role cannot read are not recorded/, 'warned');
like($err, qr/no SELECT privilege on sequence "public\.s_big_id_seq"/, 'naming them');
like($err, qr/hint: GRANT SELECT ON ALL SEQUENCES IN SCHEMA/, 'with the fix');

# ---- decoder options that would drop tide.seq are said
($rc, $out, $err) = tide_run('sync-sequences', '-d', $conn, '-o', 'include-message-prefixes=app,audit');
like($err, qr/would not write the sequences' states into the segments: -o include-message-prefixes does not name "tide\.seq"/,
	'include-message-prefixes without tide.seq is warned about');
($rc, $out, $err) = tide_run('sync-sequences', '-d', $conn, '-o', 'include-tables=public.s_serial',
	'-o', 'exclude-tables=public.s_big');
is($rc, 0, 'sync-sequences with table filters');
like($err, qr/recorded the states of 5 sequences/,
	'owned sequences of filtered-out tables are left out, unowned ones kept');

done_testing();
