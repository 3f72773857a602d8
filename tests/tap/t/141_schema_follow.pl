# tests/tap/t/141_schema_follow.pl - tide apply --schema follow without DDL
# capture: tables created at the source mid-stream are created on the
# replica from their RELATION (types with typmods, key, identity FULL,
# hostile names, --tables and --map respected), columns added at the
# source are added before the first row that needs them, and new daily
# partitions of a time-partitioned table follow with no operator action
# while old ones are dropped at the source.  Without it (--schema strict,
# the default) a missing table stops apply with exit 4 naming it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;
use Time::HiRes qw(usleep);

# the schema both sides start with: a user enum and domain exist on both
my $schema = q{
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TABLE base (id int PRIMARY KEY, v text);
};

my $src = tide_node('src');
my $conn = $src->connstr('postgres');
$src->safe_psql('postgres', $schema);
$src->safe_psql('postgres', q{SELECT pg_create_logical_replication_slot('tide', 'tide')});

sub replica
{
	my ($name, $sql) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->start;
	$node->safe_psql('postgres', $sql // $schema);
	return $node;
}

# count and md5 of a table's rows in order of their text
sub table_md5
{
	my ($node, $t) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, '' ORDER BY x::text)), '') FROM $t x");
}

sub stream_all
{
	my ($dir) = @_;
	my $end = $src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
	my ($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'tide',
		'-D', $dir, '--bucket', '1s', '--endpos', $end, '-q');
	is($rc, 0, "stream up to $end") or diag($err);
}

sub apply
{
	my ($node, $dir, @extra) = @_;
	return tide_run('apply', '-d', $node->connstr('postgres'), '-D', $dir, @extra);
}

# ---- the workload: (a) new tables, (b) ADD COLUMN, (d) typmods and names
$src->safe_psql('postgres', q{INSERT INTO base VALUES (1, 'before')});
$src->safe_psql('postgres', q{
CREATE TABLE fresh (id int PRIMARY KEY, note text);
INSERT INTO fresh SELECT g, 'n' || g FROM generate_series(1, 50) g;
});
# created and filled in one transaction, then changed
$src->safe_psql('postgres', q{
BEGIN;
CREATE TABLE fresh_full (a int, b text);
ALTER TABLE fresh_full REPLICA IDENTITY FULL;
INSERT INTO fresh_full VALUES (1, 'x'), (1, 'x'), (2, NULL);
COMMIT;
UPDATE fresh_full SET b = 'y' WHERE a = 2;
DELETE FROM fresh WHERE id > 45;
UPDATE fresh SET note = 'changed' WHERE id = 3;
});
# (b) ADD COLUMN with rows before and after it, in one transaction too
$src->safe_psql('postgres', q{
INSERT INTO base VALUES (2, 'two');
BEGIN;
INSERT INTO base VALUES (3, 'three');
ALTER TABLE base ADD COLUMN added numeric(10,2);
INSERT INTO base VALUES (4, 'four', 4.25);
UPDATE base SET added = 1.5 WHERE id = 1;
COMMIT;
ALTER TABLE base ADD COLUMN "Also ""added""" varchar(20)[];
INSERT INTO base VALUES (5, 'five', NULL, '{a,"b c"}');
UPDATE base SET "Also ""added""" = '{z}' WHERE id = 2;
});
# (d) typmods, arrays, a user enum and domain, hostile identifiers
$src->safe_psql('postgres', q{
CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema"."Mixed ""Case"" T" (
  "Key Col" int, "k2" varchar(20),
  amount numeric(10,2), code varchar(20), at timestamptz(3), bits bit(3),
  tags text[], nums numeric(6,1)[], m mood, ms mood[], p posint, c char(4),
  PRIMARY KEY ("Key Col", k2));
INSERT INTO "Odd Schema"."Mixed ""Case"" T" VALUES
  (1, 'a', 12345678.91, 'twenty chars max abc', '2026-01-02 03:04:05.678+00', B'101',
   '{"x y",NULL}', '{1.5,NULL}', 'happy', '{sad,ok}', 7, 'ab'),
  (2, 'b"q', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
UPDATE "Odd Schema"."Mixed ""Case"" T" SET amount = 0.01 WHERE "Key Col" = 2;
CREATE TABLE nokey (a int, b text);
INSERT INTO nokey VALUES (1, 'a'), (1, 'a');
-- (e) a table --tables leaves out
CREATE TABLE skipped (id int PRIMARY KEY);
INSERT INTO skipped VALUES (1);
});

my $dir = seg_dir('segs');
stream_all($dir);

my @tables = ('base', 'fresh', 'fresh_full', '"Odd Schema"."Mixed ""Case"" T"', 'nokey', 'skipped');

# ---- without --schema follow: exit 4 naming the table, nothing created
my $strict = replica('strict');
my ($rc, $out, $err) = apply($strict, $dir);
is($rc, 4, 'strict: a table missing on the replica stops apply with exit 4');
like($err, qr/table "public\.fresh" does not exist on the replica/, 'strict: the message names the table');
like($err, qr/--schema follow|create the table on the replica/, 'strict: the hint says what to do');
is($strict->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname = 'fresh'}), '0',
	'strict: nothing created');
($rc, $out, $err) = apply($strict, $dir, '--schema', 'strict');
is($rc, 4, '--schema strict is the default');
($rc, $out, $err) = apply($strict, $dir, '--schema', 'Follow');
is($rc, 2, '--schema takes strict or follow, exactly');
like($err, qr/invalid --schema "Follow"/, '--schema: the refused value is named');

# ---- --schema follow: every table and column created, rows equal
my $rep = replica('follow');
($rc, $out, $err) = apply($rep, $dir, '--schema', 'follow');
is($rc, 0, 'follow: applied') or diag($err);
for my $t (@tables)
{
	is(table_md5($rep, $t), table_md5($src, $t), "follow: $t equal to the source");
}
like($err, qr/--schema follow: CREATE TABLE "public"\."fresh" \("id" integer, "note" text, PRIMARY KEY \("id"\)\)/,
	'follow: the CREATE TABLE is logged with its statement');
like($err, qr/--schema follow: ALTER TABLE "public"\."base" ADD COLUMN "added" numeric\(10,2\)/,
	'follow: the ADD COLUMN is logged with its statement');
like($err, qr/--schema follow: CREATE SCHEMA IF NOT EXISTS "Odd Schema"/, 'follow: the schema is created');
my $coldefs = q{SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
  FROM pg_attribute WHERE attrelid = '"Odd Schema"."Mixed ""Case"" T"'::regclass AND attnum > 0 AND NOT attisdropped};
is($rep->safe_psql('postgres', $coldefs), $src->safe_psql('postgres', $coldefs),
	'follow: column names and types with typmods are the source\'s');
$coldefs =~ s/"Odd Schema"."Mixed ""Case"" T"/base/;
is($rep->safe_psql('postgres', $coldefs), $src->safe_psql('postgres', $coldefs),
	'follow: added columns have the source\'s types');
my $pk = q{SELECT coalesce(pg_get_constraintdef(oid), '') FROM pg_constraint
  WHERE conrelid = '"Odd Schema"."Mixed ""Case"" T"'::regclass AND contype = 'p'};
is($rep->safe_psql('postgres', $pk), 'PRIMARY KEY ("Key Col", k2)', 'follow: the key is the primary key');
is($rep->safe_psql('postgres', q{SELECT relreplident FROM pg_class WHERE oid = 'fresh_full'::regclass}), 'f',
	'follow: REPLICA IDENTITY FULL as on the source');
is($rep->safe_psql('postgres', q{SELECT count(*) FROM pg_constraint WHERE conrelid = 'nokey'::regclass}), '0',
	'follow: no key for a table without one');
# a second run changes nothing and creates nothing
($rc, $out, $err) = apply($rep, $dir, '--schema', 'follow');
is($rc, 0, 'follow: a second run is a no-op') or diag($err);
unlike($err, qr/--schema follow:/, 'follow: a second run runs no DDL');

# ---- --tables and --map: a filtered table is never created, a mapped one
# is created under the mapped schema
my $mapped = replica('mapped', $schema . q{CREATE SCHEMA other;
CREATE TABLE other.base (id int PRIMARY KEY, v text);});
($rc, $out, $err) = apply($mapped, $dir, '--schema', 'follow', '--map', 'public=other',
	'--tables', 'public.base,public.fresh*,Odd Schema.*');
is($rc, 0, 'follow with --tables and --map: applied') or diag($err);
is($mapped->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname IN ('skipped', 'nokey')}), '0',
	'--tables: tables left out are not created');
for my $t ('base', 'fresh', 'fresh_full')
{
	is(table_md5($mapped, "other.$t"), table_md5($src, $t), "--map: other.$t equal to the source's $t");
}
is($mapped->safe_psql('postgres', q{SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public' AND c.relname LIKE 'fresh%'}), '0', '--map: nothing created in the source\'s schema');
is(table_md5($mapped, '"Odd Schema"."Mixed ""Case"" T"'), table_md5($src, '"Odd Schema"."Mixed ""Case"" T"'),
	'--tables: a pattern on a hostile schema name');

# ---- a type the replica lacks: exit 4 naming it, before anything of the
# transaction is applied
my $notype = replica('notype', q{CREATE TABLE base (id int PRIMARY KEY, v text);});
($rc, $out, $err) = apply($notype, $dir, '--schema', 'follow', '--tables', 'public.base,Odd Schema.*');
is($rc, 4, 'follow: a type missing on the replica stops apply');
like($err, qr/type public\.mood does not exist on the replica/, 'follow: the message names the type');
is($notype->safe_psql('postgres', q{SELECT count(*) FROM pg_namespace WHERE nspname = 'Odd Schema'}), '0',
	'follow: the failed transaction created nothing');

# ---- a column whose type differs is still an error (never retyped)
my $retype = replica('retype', $schema . q{ALTER TABLE base ADD COLUMN added text});
($rc, $out, $err) = apply($retype, $dir, '--schema', 'follow', '--tables', 'public.base');
is($rc, 4, 'follow: a type mismatch stops apply');
like($err, qr/column "added" of table "public\.base" has type text on the replica but numeric\(10,2\) on the source/,
	'follow: the mismatch is named');

# ---- (c) the time-decay pattern: a table partitioned by a timestamptz in
# 1-second "days", a new day created at the source while tide stream and
# tide apply --follow --schema follow run, old days dropped at the source.
# The replica creates each new day as a partition of its own table with the
# source's bound, with no operator action; a DROP of an old partition at
# the source reaches nobody without DDL capture, so the replica keeps that
# day's rows (README, "Schema changes").
my $events = q{
CREATE TABLE events (id bigint, at timestamptz, payload text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_d0 PARTITION OF events FOR VALUES FROM ('2030-01-01 00:00:00+00') TO ('2030-01-01 00:00:01+00');
CREATE TABLE events_d1 PARTITION OF events FOR VALUES FROM ('2030-01-01 00:00:01+00') TO ('2030-01-01 00:00:02+00');
CREATE TABLE marker (n int PRIMARY KEY);
};
$src->safe_psql('postgres', $events);
$src->safe_psql('postgres', q{SELECT pg_create_logical_replication_slot('decay', 'tide')});
my $drep = replica('decay', $schema . $events);
my $ddir = seg_dir('decay');
my ($st) = tide_start('stream', '-d', $conn, '-S', 'decay', '-D', $ddir, '--bucket', '1s',
	'--flush-interval', '200ms', '-q');
ok(wait_for_file("$ddir/*.tseg*", 30), 'decay: the streamer opened a segment');
my ($ap, $aout, $aerr) = tide_start('apply', '-d', $drep->connstr('postgres'), '-D', $ddir,
	'--follow', '--schema', 'follow', '--batch', '100');

my $id = 0;
my %dropped;	# day => count:md5 of its rows when the source dropped it
sub day_at { my ($d, $frac) = @_; return "'2030-01-01 00:00:00+00'::timestamptz + interval '$d.$frac seconds'"; }
$src->safe_psql('postgres', 'INSERT INTO events SELECT g, ' . day_at(0, 1) . ", 'd0' FROM generate_series(1, 10) g");
$src->safe_psql('postgres', 'INSERT INTO events SELECT g, ' . day_at(1, 1) . ", 'd1' FROM generate_series(11, 20) g");
$id = 20;
# rows keep flowing into the first day from other sessions while days are
# created and dropped (CREATE ... PARTITION OF waits for them, and they for it)
$src->safe_psql('postgres', 'CREATE SEQUENCE flow_id START 1000000');
my $flow = "$ddir/../flow.sql";
open my $fh, '>', $flow or die;
print $fh q{INSERT INTO events VALUES (nextval('flow_id'), '2030-01-01 00:00:00.5+00', 'flow');
UPDATE events SET payload = 'flow updated' WHERE id = (SELECT max(id) - 3 FROM events WHERE payload = 'flow');
};
close $fh;
my $pgbench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '2', '-T', '8', '-R', '100', '-f', $flow,
	  '-h', $src->host, '-p', $src->port, 'postgres' ],
	'>', \my $pb_out, '2>', \my $pb_err);
for my $d (2 .. 7)
{
	my $from = $d;
	my $to = $d + 1;
	my $sql = "CREATE TABLE events_d$d PARTITION OF events FOR VALUES FROM ('2030-01-01 00:00:00+00'::timestamptz + interval '$from s') TO ('2030-01-01 00:00:00+00'::timestamptz + interval '$to s');";
	my $rows = join(', ', map { $id++; "($id, " . day_at($d, $_) . ", 'd$d r$_')" } 1 .. 20);
	if ($d % 2)
	{
		# the new day and its first rows in one transaction
		$src->safe_psql('postgres', "BEGIN; $sql INSERT INTO events VALUES $rows; COMMIT;");
	}
	else
	{
		$src->safe_psql('postgres', $sql);
		$src->safe_psql('postgres', "INSERT INTO events VALUES $rows");
	}
	# late rows for the day before, an update, a delete
	$id++;
	$src->safe_psql('postgres', "INSERT INTO events VALUES ($id, " . day_at($d - 1, 9) . ", 'late');
		UPDATE events SET payload = payload || ' updated' WHERE id = " . ($id - 3) . ";
		DELETE FROM events WHERE id = " . ($id - 5));
	if ($d >= 4)
	{
		my $old = $d - 3;
		$dropped{$old} = table_md5($src, "events_d$old");
		$src->safe_psql('postgres', "DROP TABLE events_d$old");
	}
	usleep(1_000_000);
}
$pgbench->finish;
is($?, 0, 'decay: the concurrent workload ran') or diag($pb_err);
cmp_ok($src->safe_psql('postgres', q{SELECT count(*) FROM events WHERE payload LIKE 'flow%'}), '>', 100,
	'decay: rows flowed while days were created and dropped');
$src->safe_psql('postgres', 'INSERT INTO marker VALUES (1)');
ok($drep->poll_query_until('postgres', 'SELECT count(*) = 1 FROM marker'), 'decay: the follower caught up');
my @src_days = split /\n/, $src->safe_psql('postgres',
	q{SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass ORDER BY 1});
is_deeply(\@src_days, [ map { "events_d$_" } (0, 5, 6, 7) ], 'decay: the source kept its last days');
for my $t (@src_days)
{
	is(table_md5($drep, $t), table_md5($src, $t), "decay: $t equal to the source");
	my $b = "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = '$t'";
	is($drep->safe_psql('postgres', $b), $src->safe_psql('postgres', $b), "decay: $t has the source's bound");
}
for my $d (sort keys %dropped)
{
	is(table_md5($drep, "events_d$d"), $dropped{$d}, "decay: events_d$d, dropped at the source, keeps its rows on the replica");
}
$ap->signal('TERM');
$ap->finish;
is($ap->result(0), 0, 'decay: the follower stops cleanly') or diag($$aerr);
like($$aerr, qr/--schema follow: CREATE TABLE "public"\."events_d2" PARTITION OF "public"\."events" FOR VALUES FROM \('2030-01-01 00:00:02\+00'\) TO \('2030-01-01 00:00:03\+00'\)/,
	'decay: the new partition is created with its bound, and logged');
$st->signal('TERM');
$st->finish;
ok((grep { /^RELATION public\.events_d3 partition of public\.events parent public\.events \(RANGE \(at\)\) FOR VALUES FROM \('2030-01-01 00:00:03\+00'\) TO \('2030-01-01 00:00:04\+00'\)/ }
	seg_lines($ddir)), 'decay: the segments describe a partition with its parent, key and bound (tide inspect)');

# the same segments into a replica without the partitioned table: the root
# is created from the source's partition key, then each day
my $bare = replica('bare');
($rc, $out, $err) = apply($bare, $ddir, '--schema', 'follow');
is($rc, 0, 'decay, bare replica: applied') or diag($err);
like($err, qr/--schema follow: CREATE TABLE "public"\."events" \("id" bigint, "at" timestamp with time zone, "payload" text, PRIMARY KEY \("id", "at"\)\) PARTITION BY RANGE \(at\)/,
	'decay, bare replica: the root is created with its partition key');
for my $t (@src_days)
{
	is(table_md5($bare, $t), table_md5($src, $t), "decay, bare replica: $t equal to the source");
}
is($bare->safe_psql('postgres', q{SELECT relkind FROM pg_class WHERE relname = 'events'}), 'p',
	'decay, bare replica: events is partitioned');

# a replica whose events is a plain table (an analytics sink): rows of
# every day, new ones included, go to it; no partition is created
my $sink = replica('sink', $schema . q{CREATE TABLE events (id bigint, at timestamptz, payload text, PRIMARY KEY (id, at));
CREATE TABLE marker (n int PRIMARY KEY);});
($rc, $out, $err) = apply($sink, $ddir, '--schema', 'follow');
is($rc, 0, 'decay, plain sink: applied') or diag($err);
unlike($err, qr/PARTITION OF/, 'decay, plain sink: no partition created');
my $n_dropped = 0;
$n_dropped += (split /:/, $dropped{$_})[0] for keys %dropped;
is($sink->safe_psql('postgres', 'SELECT count(*) FROM events'),
	$src->safe_psql('postgres', 'SELECT count(*) FROM events') + $n_dropped,
	'decay, plain sink: every row of every day');
is($sink->safe_psql('postgres', q{SELECT count(*) || ':' || md5(string_agg(x::text, '' ORDER BY x::text)) FROM events x
  WHERE at >= '2030-01-01 00:00:05+00'}),
	$src->safe_psql('postgres', q{SELECT count(*) || ':' || md5(string_agg(x::text, '' ORDER BY x::text)) FROM events x
  WHERE at >= '2030-01-01 00:00:05+00'}), 'decay, plain sink: the days the source kept are equal');

# a replica whose operator created a day under another name: its partition
# takes that day's rows, nothing overlapping is created
my $pre = replica('pre', $schema . $events . q{
CREATE TABLE events_mine_2 PARTITION OF events FOR VALUES FROM ('2030-01-01 00:00:02+00') TO ('2030-01-01 00:00:03+00');});
($rc, $out, $err) = apply($pre, $ddir, '--schema', 'follow');
is($rc, 0, 'decay, a day created by the operator: applied') or diag($err);
like($err, qr/not created: .*would overlap.*go to the replica's own partitions of "public\.events"/,
	'decay, a day created by the operator: says why the source\'s day is not created');
is(table_md5($pre, 'events_mine_2'), $dropped{2}, 'decay, a day created by the operator: it holds that day\'s rows');
for my $t (@src_days)
{
	is(table_md5($pre, $t), table_md5($src, $t), "decay, a day created by the operator: $t equal to the source");
}

# strict (the default): the first row of a new day stops apply, naming the fix.
# The replica has the flow's sequence: whether the streamer recorded its
# state before the first new day's row depends on when a segment closed.
my $dstrict = replica('dstrict', $schema . $events . "CREATE SEQUENCE flow_id START 1000000;\n");
($rc, $out, $err) = apply($dstrict, $ddir);
is($rc, 4, 'decay, strict: a new day stops apply with exit 4');
like($err, qr/create the partition for it on the replica/, 'decay, strict: the hint says what to do');

# ---- a batch that created a table and then fails is rolled back, applied
# again one source transaction at a time (the table created again, what
# comes before the failure committed), and the failure named
$src->safe_psql('postgres', q{SELECT pg_create_logical_replication_slot('batch', 'tide')});
$src->safe_psql('postgres', q{
CREATE TABLE later (id int PRIMARY KEY, v text);
INSERT INTO later SELECT g, 'l' || g FROM generate_series(1, 30) g;
UPDATE later SET v = 'changed' WHERE id = 2;
});
$src->safe_psql('postgres', q{UPDATE base SET v = 'diverges' WHERE id = 1});
$src->safe_psql('postgres', q{INSERT INTO later VALUES (31, 'after')});
my $bdir = seg_dir('batch');
{
	my $end = $src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
	($rc, $out, $err) = tide_run('stream', '-d', $conn, '-S', 'batch', '-D', $bdir, '--bucket', '1s',
		'--endpos', $end, '-q');
	is($rc, 0, 'batch: streamed') or diag($err);
}
my $brep = replica('batchrep', $schema . q{ALTER TABLE base ADD COLUMN added numeric(10,2), ADD COLUMN "Also ""added""" varchar(20)[]});
($rc, $out, $err) = apply($brep, $bdir, '--schema', 'follow', '--tables', 'public.later,public.base');
is($rc, 4, 'batch: the UPDATE of a row the replica lacks stops apply');
like($err, qr/a batch failed on the replica/, 'batch: the batch was applied again one transaction at a time');
like($err, qr/public\.base/, 'batch: the failure names the table');
is($brep->safe_psql('postgres', q{SELECT count(*) || ':' || md5(string_agg(x::text, '' ORDER BY x.id)) FROM later x}),
	$src->safe_psql('postgres', q{SELECT count(*) || ':' || md5(string_agg(x::text, '' ORDER BY x.id)) FROM later x WHERE id <= 30}),
	'batch: the table created before the failure is committed with its rows');
# the operator fixes the replica; the same command continues
$brep->safe_psql('postgres', q{INSERT INTO base (id, v) SELECT 1, 'before'});
($rc, $out, $err) = apply($brep, $bdir, '--schema', 'follow', '--tables', 'public.later,public.base');
is($rc, 0, 'batch: continues once the replica is fixed') or diag($err);
is(table_md5($brep, 'later'), table_md5($src, 'later'), 'batch: later equal to the source');
is($brep->safe_psql('postgres', q{SELECT v FROM base WHERE id = 1}), 'diverges', 'batch: the update applied');

done_testing();
