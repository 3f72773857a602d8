# tests/random/Gen.pm - the workload generator of the randomized harness:
# from a seed and knobs, a random schema (source and replica, which may be
# partitioned or named differently) and a schedule of steps: SQL statements
# of interleaved sessions, until-points, faults and apply runs.  A workload
# is plain data (JSON-serialisable): it is what a failing run prints, what
# the shrinker reduces and what a regression case stores.
package Gen;

use strict;
use warnings;
use Rng;
use Digest::MD5;
use Storable qw(dclone);

# Every feature is behind a knob.  0 switches a shape off; see README.md for
# which knobs are off on this branch and why (a known finding not fixed yet).
our %DEFAULT_KNOBS = (
	txns => 40,                    # transactions per run (plus the initial loads)
	tables => 6,                   # at most this many tables
	sessions => 3,                 # concurrent sessions with interleaved open transactions
	hostile_names => 1,            # quotes, spaces, upper case, unicode, reserved words
	partitioned => 1,              # range-partitioned tables, up to two levels
	rep_diff_partition => 1,       # the replica partitions such a table differently
	toast => 1,                    # TOASTed columns (changed and unchanged in updates)
	large_tx => 1,                 # bulk transactions past logical_decoding_work_mem
	savepoints => 1,
	rollbacks => 1,                # rolled back transactions and savepoints
	msg_tx => 1,                   # transactional pg_logical_emit_message
	msg_nontx => 1,                # non-transactional messages, also right before a COMMIT at their LSN (finding 1)
	truncate => 1,                 # TRUNCATE (ONLY, several tables, RESTART IDENTITY)
	truncate_cascade => 1,         # TRUNCATE ... CASCADE over the source's foreign key
	truncate_cascade_restart => 1, # ... with RESTART IDENTITY (harness finding A)
	trunc_diffpart_root => 1,      # TRUNCATE a root partitioned differently on the replica
	src_fk => 1,                   # a foreign key pair on the source (ON DELETE/UPDATE CASCADE)
	keyless => 1,                  # tables without a key (insert and truncate only)
	nothing_identity => 1,         # REPLICA IDENTITY NOTHING (insert and truncate only)
	index_identity => 1,           # REPLICA IDENTITY USING INDEX
	full_identity => 1,            # REPLICA IDENTITY FULL over types whose = is exact
	full_inexact => 1,             # ... and over types whose = is not (finding 14)
	type_fixed_len => 1,           # char(n), bit(n) (finding 13)
	type_reg => 1,                 # regclass, regtype, regproc (finding 5)
	type_money => 1,
	type_geo => 1,
	type_range => 1,
	type_array => 1,
	type_custom => 1,              # enum, domain, composite
	type_json => 1,
	type_net => 1,
	type_time => 1,
	type_float_special => 1,       # -0, NaN, Infinity
	map => 1,                      # tide apply --map for a schema
	tables_filter => 1,            # tide apply --tables leaving a table out
	exclude_fk_child => 1,         # ... possibly the FK child a TRUNCATE CASCADE reaches (finding 3)
	until => 1,                    # --until points replayed on a second replica
	poison => 0.3,                 # probability that a run ends in a transaction apply must refuse
	poison_update_noident => 1,    # UPDATE on a table without replica identity
	poison_delete_noident => 1,    # DELETE on it (finding 4)
	poison_truncate_leaf => 1,     # TRUNCATE of a leaf the replica lacks (finding 2)
	poison_truncate_fk => 1,       # TRUNCATE of a table a replica-only FK references (finding 3)
	refusal_prefix => 1,           # a refusal commits everything before it (finding 16)
	faults => 0.25,                # probability of a fault after a transaction
	fault_stream_kill => 1,
	fault_apply_kill => 1,
	fault_src_restart => 1,
	fault_rep_restart => 1,
	fault_enospc => 1,             # needs TIDE_TMPFS (a tmpfs the Makefile mounts as root)
	fault_netcut => 1,             # a TCP proxy between streamer and source, cut and restored
	netcut_blackhole => 1,         # some cuts drop packets silently (connections stay open) instead
	netcut_overlap => 1,           # other faults while the network is cut, no wait for the catch-up
	                               # after it (finding 15, another trigger: segments named by the
	                               # clock while cut off, then by commit time after a restart)
	apply_follow => 0.7,           # probability of tide apply --follow (else bounded runs)
	strict_follower => 1,          # a follower exit 6 on a segment set aside under it fails the run (harness finding C)
	                               # (new finding; 0: restarted as a service manager would)
	stream_bounded => 1,           # stream in bounded --endpos runs, --bucket 1s (finding 15)
	slot_drop => 1,                # drop the slot and restart --create-slot (finding 17)
	ddl => 0.5,                    # probability that a run installs tide setup's DDL capture and its
	                               # solo transactions run DDL among their changes (issue 10)
	sequences => 1,                # sequences (ascending, descending, cycled, owned by a table), nextval in
	                               # transactions, tide.seq states recorded by tide stream (issue 10, section 3)
	jobs => 0.5,                   # probability that a run applies with tide apply --jobs N (issue 11): the
	                               # follower, bounded and killed runs, the final run and the --until replica
	jobs_n => 0,                   # that N (0: drawn from 2..4 per run)
	prefix_check => 1,             # after each kill -9 of the applier, the replica equals the source as it
	                               # was at the replica's tide.progress LSN (a source snapshot per commit)
);

sub knobs
{
	my (%over) = @_;
	my %k = (%DEFAULT_KNOBS, %over);
	for my $n (keys %over)
	{
		die "unknown knob \"$n\" (see tests/random/README.md)\n" unless exists $DEFAULT_KNOBS{$n};
	}
	return \%k;
}

# parse_knobs "a=1,b=0" - a hash
sub parse_knobs
{
	my ($s) = @_;
	my %h;
	for my $kv (split /[,\s]+/, $s // '')
	{
		next unless length $kv;
		my ($k, $v) = split /=/, $kv, 2;
		$h{$k} = defined $v ? $v : 1;
	}
	return %h;
}

sub qi { my ($n) = @_; $n =~ s/"/""/g; return qq{"$n"}; }
sub qn { my ($s, $t) = @_; return qi($s) . '.' . qi($t); }
sub ql { my ($v) = @_; $v =~ s/'/''/g; return "'$v'"; }

# ---- the types: literal pools with edge values, whether = is exact
# (so REPLICA IDENTITY FULL may use it), an expression of g for bulk rows
sub type_table
{
	my ($k, $ty) = @_;    # $ty: qualified name of the custom types' schema
	my @t = (
		[ 'int4', 'integer', 1, 1, sub { $_[0]->pick(-2147483648, -1, 0, 1, 42, 2147483647, $_[0]->range(-1000, 1000)) }, 'g' ],
		[ 'int8', 'bigint', 1, 1, sub { $_[0]->pick('9223372036854775807', '-9223372036854775808', 0, $_[0]->range(0, 1e9)) }, 'g::bigint * 1000000007' ],
		[ 'int2', 'smallint', 1, 1, sub { $_[0]->pick(-32768, 32767, 0, 7) }, '(g % 30000)::smallint' ],
		[ 'numeric', 'numeric', 1, 0, sub { ql($_[0]->pick('1.0', '1.00', '-0.0', '0', 'NaN', 'Infinity', '-Infinity',
				'123456789012345678901234567890.123456789', '0.000000000000000000001', '-1.5')) }, '(g / 7.0)' ],
		[ 'numeric_t', 'numeric(12,3)', 1, 0, sub { ql($_[0]->pick('1.5', '-0.001', '999999999.999', '0')) }, 'g / 8.0' ],
		[ 'float8', 'double precision', $k->{type_float_special}, 0, sub { ql($_[0]->pick('0', '-0', 'NaN', 'Infinity', '-Infinity',
				'1e-310', '0.1', '1.7976931348623157e308', '-2.5')) }, 'g / 3.0' ],
		[ 'float4', 'real', $k->{type_float_special}, 0, sub { ql($_[0]->pick('0', '-0', 'NaN', 'Infinity', '3.4e38', '0.1', '1.5')) }, '(g / 3.0)::real' ],
		[ 'text', 'text', 1, 1, \&text_lit, 'md5(g::text)' ],
		[ 'varchar', 'character varying(8)', 1, 1, sub { ql($_[0]->pick('', 'abc', 'ü✓ÿ', "it's", 'x' x 8)) }, 'left(md5(g::text), 8)' ],
		[ 'bpchar', 'character(4)', $k->{type_fixed_len}, 1, sub { ql($_[0]->pick('ab', 'abcd', '', 'é')) }, 'left(md5(g::text), 3)' ],
		[ 'bit', 'bit(8)', $k->{type_fixed_len}, 0, sub { $_[0]->pick("B'10101010'", "B'00000000'", "B'11111111'") }, undef ],
		[ 'varbit', 'bit varying', 1, 0, sub { $_[0]->pick("B''", "B'1'", "B'101010101'") }, undef ],
		[ 'bytea', 'bytea', 1, 1, sub { ql($_[0]->pick('\x', '\x00ff', '\xdeadbeef00', '\x5c27')) }, 'decode(md5(g::text), \'hex\')' ],
		[ 'json', 'json', $k->{type_json}, 0, sub { ql($_[0]->pick('{"a": 1}', '[1, 2.50, "x"]', '{"a":1,"a":2}', '"str"', 'null',
				'{"nested": {"k": [true, false, null]}, "u": "\u00e9"}')) }, 'json_build_object(\'g\', g)' ],
		[ 'jsonb', 'jsonb', $k->{type_json}, 0, sub { ql($_[0]->pick('{"a": 1}', '{"a": 1.00}', '[1, 2.50, "x"]', '"str"', 'null', '{}',
				'{"deep": {"k": [true, false, null, {"x": -0.5e3}]}}')) }, 'jsonb_build_object(\'g\', g, \'s\', md5(g::text))' ],
		[ 'date', 'date', $k->{type_time}, 1, sub { ql($_[0]->pick('2024-02-29', 'infinity', '-infinity', '0001-01-01 BC', '1999-12-31')) }, 'date \'2000-01-01\' + g' ],
		[ 'time', 'time without time zone', $k->{type_time}, 1, sub { ql($_[0]->pick('00:00:00', '23:59:59.999999', '24:00:00', '12:34:56.789')) }, undef ],
		[ 'timetz', 'time with time zone', $k->{type_time}, 1, sub { ql($_[0]->pick('01:02:03+05:30', '00:00:00-14', '12:00:00+00')) }, undef ],
		[ 'timestamp', 'timestamp without time zone', $k->{type_time}, 1, sub { ql($_[0]->pick('2024-01-01 00:00:00.5', 'infinity', '1970-01-01', '294276-12-31 23:59:59')) }, 'timestamp \'2000-01-01\' + g * interval \'1 minute\'' ],
		[ 'timestamptz', 'timestamp with time zone', $k->{type_time}, 1, sub { ql($_[0]->pick('2024-06-01 12:00:00+02', 'infinity', '-infinity', '2000-01-01 00:00:00+00')) }, 'timestamptz \'2000-01-01 00:00+00\' + g * interval \'1 second\'' ],
		[ 'interval', 'interval', $k->{type_time}, 0, sub { ql($_[0]->pick('1 day', '24 hours', '1 mon', '30 days', '-178000000 years', '00:00:00.000001', '1 day -24 hours')) }, 'g * interval \'1 hour\'' ],
		[ 'bool', 'boolean', 1, 1, sub { $_[0]->pick('true', 'false') }, 'g % 2 = 0' ],
		[ 'uuid', 'uuid', 1, 1, sub { ql($_[0]->pick('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff')) }, 'md5(g::text)::uuid' ],
		[ 'inet', 'inet', $k->{type_net}, 1, sub { ql($_[0]->pick('192.168.0.1/24', '192.168.0.1', '::1', '2001:db8::1/64')) }, undef ],
		[ 'cidr', 'cidr', $k->{type_net}, 1, sub { ql($_[0]->pick('10.0.0.0/8', '::/0', '192.168.1.0/24')) }, undef ],
		[ 'macaddr', 'macaddr', $k->{type_net}, 1, sub { ql($_[0]->pick('08:00:2b:01:02:03', '00:00:00:00:00:00')) }, undef ],
		[ 'money', 'money', $k->{type_money}, 1, sub { ql($_[0]->pick('12.34', '-0.01', '92233720368547758.07')) }, 'g::numeric::money' ],
		[ 'int_arr', 'integer[]', $k->{type_array}, 1, sub { ql($_[0]->pick('{1,NULL,3}', '{}', '{{1,2},{3,4}}', '[0:1]={5,6}')) }, 'ARRAY[g, -g]' ],
		[ 'text_arr', 'text[]', $k->{type_array}, 1, sub { ql($_[0]->pick('{"a b","c,d",NULL,"\\"q\\""}', '{}', '{ü,"{}"}')) }, 'ARRAY[md5(g::text)]' ],
		[ 'num_arr', 'numeric[]', $k->{type_array}, 0, sub { ql($_[0]->pick('{1.0,1.00}', '{NaN}', '{}')) }, undef ],
		[ 'enum', "$ty.\"mood\"", $k->{type_custom}, 1, sub { ql($_[0]->pick('sad', 'ok', 'happy')) }, undef ],
		[ 'domain', "$ty.\"posint\"", $k->{type_custom}, 1, sub { $_[0]->pick(1, 5, 2147483647) }, 'g' ],
		[ 'composite', "$ty.\"pair\"", $k->{type_custom}, 1, sub { ql($_[0]->pick('(1,"x y")', '(,)', '(-1,"")')) }, undef ],
		[ 'int4range', 'int4range', $k->{type_range}, 1, sub { ql($_[0]->pick('[1,5)', 'empty', '(,)', '[3,3]')) }, 'int4range(g, g + 10)' ],
		[ 'numrange', 'numrange', $k->{type_range}, 0, sub { ql($_[0]->pick('(1.5,2.50]', '[1.0,1.00]', 'empty')) }, undef ],
		[ 'tstzrange', 'tstzrange', $k->{type_range} && $k->{type_time}, 1, sub { ql($_[0]->pick('["2024-01-01 00:00+00",infinity)', 'empty')) }, undef ],
		[ 'point', 'point', $k->{type_geo}, 0, sub { ql($_[0]->pick('(1.5,-0)', '(0,0)', '(NaN,1)')) }, 'point(g, -g)' ],
		[ 'box', 'box', $k->{type_geo}, 0, sub { ql($_[0]->pick('(2,2),(0,0)', '(4,1),(0,0)', '(1,1),(1,1)')) }, undef ],
		[ 'circle', 'circle', $k->{type_geo}, 0, sub { ql($_[0]->pick('<(1,1),2>', '<(0,0),0>')) }, undef ],
		[ 'lseg', 'lseg', $k->{type_geo}, 0, sub { ql($_[0]->pick('[(0,0),(1,1)]')) }, undef ],
		[ 'path', 'path', $k->{type_geo}, 0, sub { ql($_[0]->pick('((0,0),(1,1),(2,0))', '[(0,0),(1,1)]')) }, undef ],
		[ 'polygon', 'polygon', $k->{type_geo}, 0, sub { ql($_[0]->pick('((0,0),(1,1),(1,0))')) }, undef ],
		[ 'regclass', 'regclass', $k->{type_reg}, 1, sub { ql($_[0]->pick("$ty.\"target\"", "$ty.\"Target 2\"", 'pg_class')) }, undef ],
		[ 'regtype', 'regtype', $k->{type_reg}, 1, sub { ql($_[0]->pick("$ty.\"mood\"", 'integer', "$ty.\"pair\"")) }, undef ],
		[ 'regproc', 'regproc', $k->{type_reg}, 1, sub { ql($_[0]->pick('now', "$ty.\"fn\"")) }, undef ],
		[ 'char1', '"char"', 1, 1, sub { ql($_[0]->pick('q', 'Z')) }, undef ],
		[ 'name', 'name', 1, 1, sub { ql($_[0]->pick('nm', 'Ünï')) }, undef ],
		[ 'oid', 'oid', 1, 1, sub { $_[0]->pick(0, 12345, 4294967295) }, undef ],
	);
	my @out;
	for my $e (@t)
	{
		my ($key, $decl, $on, $exact, $lit, $series) = @$e;
		next unless $on;
		push @out, { key => $key, decl => $decl, exact => $exact, lit => $lit, series => $series };
	}
	return @out;
}

sub text_lit
{
	my ($r) = @_;
	my $v = $r->pick('', 'plain', "it's", 'back\\slash', 'ünïcödé ✓ 日本', "\"dq\"", 'NULL', "tab\there",
		"line\nbreak", 'x' x 100, ' trailing ');
	return ql($v);
}

sub toast_lit
{
	my ($r, $tag) = @_;
	my $n = $r->range(70, 260);
	return "(SELECT string_agg(md5('$tag' || i), '') FROM generate_series(1, $n) i)";
}

# ---- names
my @SCHEMA_NAMES = ('app', 'Sch ema', 'Ünï', 'select');
my @TABLE_NAMES = ('t', 'Order', "quo\"te", 'ünï cödé', 'MiXed', 'with space', 'user', 'select', 'from', 'group');
my @COL_NAMES = ('c', 'Value', "the \"v\"", 'select', 'ü', 'col-x', 'Two Words', 'end');
my @KEY_NAMES = ('id', 'Id', 'key col', 'order', 'ÿ');

sub pick_name
{
	my ($r, $hostile, $used, $pool, $plain) = @_;
	for (1 .. 20)
	{
		my $n = $hostile ? $r->pick(@$pool) : $plain . $r->range(1, 99);
		$n .= $r->range(2, 9) if $used->{$n} || ($hostile && $r->chance(0.3));
		next if $used->{$n};
		$used->{$n} = 1;
		return $n;
	}
	my $n = $plain . (scalar(keys %$used) + 100);
	$used->{$n} = 1;
	return $n;
}

# ---- schema
sub gen_schema
{
	my ($r, $k) = @_;
	my $hostile = $k->{hostile_names};
	my %usedS;
	my @schemas = (pick_name($r, $hostile, \%usedS, \@SCHEMA_NAMES, 's'));
	push @schemas, pick_name($r, $hostile, \%usedS, \@SCHEMA_NAMES, 's') if $r->chance(0.5);
	my $tys = 'Ty pes';    # custom types and reg* targets: never mapped
	my $ty = qi($tys);
	my @types = type_table($k, $ty);

	my @src = ("CREATE SCHEMA $ty", "CREATE TYPE $ty.\"mood\" AS ENUM ('sad', 'ok', 'happy')",
		"CREATE DOMAIN $ty.\"posint\" AS integer CHECK (VALUE > 0)",
		"CREATE TYPE $ty.\"pair\" AS (a integer, b text)",
		"CREATE TABLE $ty.\"target\" (x int)", "CREATE TABLE $ty.\"Target 2\" (x int)",
		"CREATE FUNCTION $ty.\"fn\"() RETURNS int LANGUAGE sql AS 'SELECT 1'");
	# the replica creates objects first so that its OIDs differ from the source's
	my @rep = ('CREATE TABLE tide_random_oid_shift (x int)', 'DROP TABLE tide_random_oid_shift', @src);
	push @src, 'CREATE SCHEMA ' . qi($_) for @schemas;

	my %map;    # source schema => replica schema
	if ($k->{map} && $r->chance(0.5))
	{
		my $s = $r->pick(@schemas);
		$map{$s} = $s . ($hostile ? ' Répl' : '_rep');
	}
	push @rep, 'CREATE SCHEMA ' . qi($map{$_} // $_) for @schemas;

	my @kinds = ([ 'keyed', 4 ], [ 'keyless', $k->{keyless} ? 1 : 0 ], [ 'nothing', $k->{nothing_identity} ? 1 : 0 ],
		[ 'index', $k->{index_identity} ? 1 : 0 ], [ 'full', $k->{full_identity} ? 2 : 0 ],
		[ 'part', $k->{partitioned} ? 2 : 0 ]);
	my $ntables = $r->range(3, $k->{tables} < 3 ? 3 : $k->{tables});
	my (@tables, %usedT);
	for my $i (1 .. $ntables)
	{
		my $kind = $r->weighted(@kinds);
		$kind = 'keyed' if $i == 1;    # one keyed table always (the FK target)
		my $s = $r->pick(@schemas);
		my $name = pick_name($r, $hostile, \%usedT, \@TABLE_NAMES, 't');
		my %usedC;
		my $key = pick_name($r, $hostile, \%usedC, \@KEY_NAMES, 'k');
		my @cols;
		my @pool = $kind eq 'full' && !$k->{full_inexact} ? grep { $_->{exact} } @types : @types;
		for (1 .. $r->range(1, 5))
		{
			my $t = $r->pick(@pool);
			push @cols, { name => pick_name($r, $hostile, \%usedC, \@COL_NAMES, 'c'), type => $t->{key} };
		}
		my $toast;
		if ($k->{toast} && $r->chance(0.5))
		{
			$toast = pick_name($r, $hostile, \%usedC, [ 'big', 'Blob', 'toasted "t"' ], 'big');
			push @cols, { name => $toast, type => 'text', toast => 1 };
		}
		my $t = { id => $i, schema => $s, name => $name, kind => $kind, key => $key, cols => \@cols,
			toast => $toast, rep_schema => $map{$s} // $s };
		push @tables, $t;
	}
	my %tybykey = map { $_->{key} => $_ } @types;
	$tybykey{text} //= { key => 'text', decl => 'text', exact => 1, lit => \&text_lit, series => 'md5(g::text)' };

	# a foreign key pair on the source: child -> the first keyed table
	my $fk;
	if ($k->{src_fk} && $r->chance(0.6))
	{
		my $parent = $tables[0];
		my %usedC = map { $_->{name} => 1 } @{ $parent->{cols} };
		my $name = pick_name($r, $hostile, \%usedT, \@TABLE_NAMES, 't');
		$fk = { id => scalar(@tables) + 1, schema => $parent->{schema}, name => $name, kind => 'keyed',
			key => 'kid', cols => [ { name => 'pid', type => 'int4', fkref => 1 }, { name => 'note', type => 'text' } ],
			parent => $parent->{id}, rep_schema => $parent->{rep_schema} };
		push @tables, $fk;
	}

	for my $t (@tables)
	{
		my $q = qn($t->{schema}, $t->{name});
		my $rq = qn($t->{rep_schema}, $t->{name});
		my $kq = qi($t->{key});
		my @cd = map { qi($_->{name}) . ' ' . $tybykey{ $_->{type} }{decl} } @{ $t->{cols} };
		my $cols = join(', ', "$kq integer" . ($t->{kind} =~ /^(keyed|nothing|index)$/ ? ' NOT NULL' : ''), @cd);
		if ($t->{kind} eq 'part')
		{
			push @src, "CREATE TABLE $q ($cols, PRIMARY KEY ($kq)) PARTITION BY RANGE ($kq)";
			push @rep, "CREATE TABLE $rq ($cols, PRIMARY KEY ($kq)) PARTITION BY RANGE ($kq)";
			my $p = $t->{name};
			# source: [MIN,1000) [1000,3000) split in two at level 2, [3000,MAX)
			$t->{leaves} = [ "$p p1", "$p p2a", "$p p2b", "$p p3" ];
			$t->{p3} = "$p p3";    # the last range, which DDL may roll over
			push @src, "CREATE TABLE " . qn($t->{schema}, "$p p1") . " PARTITION OF $q FOR VALUES FROM (MINVALUE) TO (1000)";
			push @src, "CREATE TABLE " . qn($t->{schema}, "$p p2") . " PARTITION OF $q FOR VALUES FROM (1000) TO (3000) PARTITION BY RANGE ($kq)";
			push @src, "CREATE TABLE " . qn($t->{schema}, "$p p2a") . " PARTITION OF " . qn($t->{schema}, "$p p2") . " FOR VALUES FROM (1000) TO (2000)";
			push @src, "CREATE TABLE " . qn($t->{schema}, "$p p2b") . " PARTITION OF " . qn($t->{schema}, "$p p2") . " FOR VALUES FROM (2000) TO (3000)";
			push @src, "CREATE TABLE " . qn($t->{schema}, "$p p3") . " PARTITION OF $q FOR VALUES FROM (3000) TO (MAXVALUE)";
			if ($k->{rep_diff_partition} && $r->chance(0.6))
			{
				$t->{rep_diff} = 1;
				if ($r->chance(0.5))
				{
					push @rep, "CREATE TABLE " . qn($t->{rep_schema}, "$p all") . " PARTITION OF $rq FOR VALUES FROM (MINVALUE) TO (MAXVALUE)";
				}
				else
				{
					push @rep, "CREATE TABLE " . qn($t->{rep_schema}, "$p lo") . " PARTITION OF $rq FOR VALUES FROM (MINVALUE) TO (2000)";
					push @rep, "CREATE TABLE " . qn($t->{rep_schema}, "$p hi") . " PARTITION OF $rq DEFAULT";
				}
			}
			else
			{
				push @rep, "CREATE TABLE " . qn($t->{rep_schema}, "$p p1") . " PARTITION OF $rq FOR VALUES FROM (MINVALUE) TO (1000)";
				push @rep, "CREATE TABLE " . qn($t->{rep_schema}, "$p p2") . " PARTITION OF $rq FOR VALUES FROM (1000) TO (3000) PARTITION BY RANGE ($kq)";
				push @rep, "CREATE TABLE " . qn($t->{rep_schema}, "$p p2a") . " PARTITION OF " . qn($t->{rep_schema}, "$p p2") . " FOR VALUES FROM (1000) TO (2000)";
				push @rep, "CREATE TABLE " . qn($t->{rep_schema}, "$p p2b") . " PARTITION OF " . qn($t->{rep_schema}, "$p p2") . " FOR VALUES FROM (2000) TO (3000)";
				push @rep, "CREATE TABLE " . qn($t->{rep_schema}, "$p p3") . " PARTITION OF $rq FOR VALUES FROM (3000) TO (MAXVALUE)";
			}
			next;
		}
		my $pk = $t->{kind} =~ /^(keyed|nothing)$/ ? ", PRIMARY KEY ($kq)" : '';
		push @src, "CREATE TABLE $q ($cols$pk)";
		push @rep, "CREATE TABLE $rq ($cols$pk)";
		if ($t->{kind} eq 'index')
		{
			my $ix = qi("$t->{name} ux");
			push @src, "CREATE UNIQUE INDEX $ix ON $q ($kq)", "ALTER TABLE $q REPLICA IDENTITY USING INDEX $ix";
			push @rep, "CREATE UNIQUE INDEX $ix ON $rq ($kq)";
		}
		push @src, "ALTER TABLE $q REPLICA IDENTITY FULL" if $t->{kind} eq 'full';
		push @src, "ALTER TABLE $q REPLICA IDENTITY NOTHING" if $t->{kind} eq 'nothing';
		if ($t->{parent})
		{
			my $p = $tables[ $t->{parent} - 1 ];
			push @src, "ALTER TABLE $q ADD FOREIGN KEY (\"pid\") REFERENCES " . qn($p->{schema}, $p->{name})
			  . ' (' . qi($p->{key}) . ') ON DELETE CASCADE ON UPDATE CASCADE';
		}
		if ($t->{toast} && $r->chance(0.5))
		{
			push @src, "ALTER TABLE $q ALTER " . qi($t->{toast}) . ' SET STORAGE EXTERNAL';
		}
	}

	# a replica-only table referencing a replicated one (finding 3's shape)
	my $reponly;
	if ($k->{poison_truncate_fk})
	{
		my $p = $tables[0];
		my $q = qn($p->{rep_schema}, 'rep only');
		push @rep, "CREATE TABLE $q (x int PRIMARY KEY, pid int REFERENCES " . qn($p->{rep_schema}, $p->{name})
		  . ' (' . qi($p->{key}) . '), note text)', "INSERT INTO $q VALUES (1, NULL, 'replica-only row')";
		$reponly = { schema => $p->{rep_schema}, name => 'rep only', target => $p->{id} };
	}

	# --tables: leave one plain table out; the replica holds a row of its own
	# there that nothing may remove
	my ($excluded, @apply_args, @rep_refs);
	if ($k->{tables_filter} && $r->chance(0.4))
	{
		my @cand = grep { $_->{kind} ne 'part' && (!$_->{parent} || $k->{exclude_fk_child}) && $_->{id} != 1 } @tables;
		if (@cand)
		{
			$excluded = $r->pick(@cand);
			$excluded->{excluded} = 1;
			for my $t (@tables)
			{
				next if $t->{excluded};
				push @apply_args, '--tables', "$t->{schema}.$t->{name}";
				push @apply_args, '--tables', "$t->{schema}.$_" for @{ $t->{leaves} // [] };
				push @apply_args, '--tables', "$t->{schema}.$t->{name} p2" if $t->{kind} eq 'part';
			}
			push @rep, 'INSERT INTO ' . qn($excluded->{rep_schema}, $excluded->{name}) . ' (' . qi($excluded->{key}) . ') VALUES (-7)';
			if ($excluded->{parent})
			{
				# the replica keeps the foreign key of the table it leaves out:
				# a TRUNCATE of the parent cannot be replayed exactly there
				my $p = $tables[ $excluded->{parent} - 1 ];
				push @rep, 'ALTER TABLE ' . qn($excluded->{rep_schema}, $excluded->{name}) . ' ADD FOREIGN KEY ("pid") REFERENCES '
				  . qn($p->{rep_schema}, $p->{name}) . ' (' . qi($p->{key}) . ')';
				push @rep_refs, { schema => $excluded->{rep_schema}, name => $excluded->{name}, target => $p->{id} };
			}
		}
	}
	# sequences: recorded by tide stream, moved forward by tide apply
	my @seqs;
	if ($k->{sequences})
	{
		for my $i (1 .. $r->range(1, 3))
		{
			my $sch = $r->pick(@schemas);
			my $name = pick_name($r, $hostile, \%usedT, [ 'seq', 'Order Seq', 'ids "n"', 'séq' ], 'seq');
			my $kind = $r->weighted([ 'asc', 3 ], [ 'desc', 2 ], [ 'cycle', 1 ], [ 'big', 1 ]);
			my $inc = $kind eq 'desc' ? -$r->range(1, 3) : $r->range(1, 4);
			my $opts = "INCREMENT BY $inc";
			$opts .= ' MINVALUE 1 MAXVALUE ' . $r->range(15, 60) . ' CYCLE' if $kind eq 'cycle';
			$opts .= ' START WITH ' . (2**40 + $r->range(0, 1000)) if $kind eq 'big';
			my $q = { schema => $sch, name => $name, rep_schema => $map{$sch} // $sch, kind => $kind };
			push @src, 'CREATE SEQUENCE ' . qn($sch, $name) . " $opts";
			push @rep, 'CREATE SEQUENCE ' . qn($q->{rep_schema}, $name) . " $opts";
			my @own = grep { $_->{kind} ne 'part' && $_->{schema} eq $sch } @tables;
			if (@own && $r->chance(0.4))
			{
				my $t = $r->pick(@own);
				$q->{owner} = $t->{id};
				push @src, 'ALTER SEQUENCE ' . qn($sch, $name) . ' OWNED BY ' . qn($t->{schema}, $t->{name}) . '.' . qi($t->{key});
			}
			# --tables applies a sequence by its own name or its owner's
			$q->{excluded} = 1 if $q->{owner} && $tables[ $q->{owner} - 1 ]{excluded};
			push @apply_args, '--tables', "$sch.$name" if $excluded && !$q->{owner};
			push @seqs, $q;
		}
	}
	push @apply_args, '--map', "$_=$map{$_}" for sort keys %map;

	return {
		src_sql => \@src,
		rep_sql => \@rep,
		tables => \@tables,
		reponly => $reponly,
		rep_refs => \@rep_refs,
		apply_args => \@apply_args,
		seqs => \@seqs,
		map => \%map,
		types_schema => $tys,
	};
}

# ---- the schedule
sub generate
{
	my ($seed, $k) = @_;
	my $r = Rng->new($seed);
	my $schema = gen_schema($r, $k);
	# the schema as it is at the start stays in $schema; DDL changes a copy
	my @tables = @{ dclone($schema->{tables}) };
	my %types = map { $_->{key} => $_ } type_table($k, qi($schema->{types_schema}));
	$types{text} //= { key => 'text', lit => \&text_lit, series => 'md5(g::text)' };
	$types{int4} //= { key => 'int4', lit => sub { $_[0]->range(-1000, 1000) }, series => 'g' };

	my $nsess = $r->range(1, $k->{sessions} < 1 ? 1 : $k->{sessions});
	my @steps;
	my $txid = 0;
	my %own;        # "$table $session" => [keys]
	my %next_key = map { $_->{id} => 1 } @tables;
	my $fresh = 100000;
	my $tagn = 0;

	my $lit = sub {
		my ($c) = @_;
		return 'NULL' if !$c->{fkref} && $r->chance(0.08);
		return toast_lit($r, 'v' . (++$tagn)) if $c->{toast} && $r->chance(0.5);
		return $types{ $c->{type} }{lit}->($r);
	};
	my $tq = sub { qn($_[0]->{schema}, $_[0]->{name}) };
	# tables a replica-side foreign key references: truncated only by a poison
	my %protected = map { $_->{target} => 1 } @{ $schema->{rep_refs} };
	# keys of partitioned tables spread over every partition, never reused
	my %part_used;
	my $part_key = sub {
		my ($t, $s) = @_;
		for (1 .. 50)
		{
			my $key = $r->range(1, 399) * 10 + $s;
			next if $part_used{"$t->{id} $key"}++;
			return $key;
		}
		return ($fresh += 10) + $s;
	};
	my $has_unique = sub { $_[0]->{kind} =~ /^(keyed|nothing|index|part)$/ };
	my $owned = sub { my ($t, $s) = @_; $own{"$t->{id} $s"} //= [] };

	my $insert_sql = sub {
		my ($t, $s, $nrows) = @_;
		my @cn = (qi($t->{key}), map { qi($_->{name}) } @{ $t->{cols} });
		my @rows;
		for (1 .. $nrows)
		{
			my $key;
			my $o = $owned->($t, $s);
			if ($t->{kind} eq 'full' && @$o && $r->chance(0.4))
			{
				$key = $r->pick(@$o);    # duplicates of the FULL key column
			}
			else
			{
				$key = $t->{kind} eq 'part' ? $part_key->($t, $s) : $next_key{ $t->{id} }++ * 10 + $s;
				push @$o, $key;
			}
			my @v = ($key);
			for my $c (@{ $t->{cols} })
			{
				if ($c->{fkref})
				{
					# a parent key of this session's, NULL if it is gone meanwhile
					my $p = $tables[ $t->{parent} - 1 ];
					my $po = $owned->($p, $s);
					push @v, @$po ? '(SELECT ' . qi($p->{key}) . ' FROM ' . qn($p->{schema}, $p->{name}) . ' WHERE '
					  . qi($p->{key}) . ' = ' . $r->pick(@$po) . ')' : 'NULL';
				}
				else
				{
					push @v, $lit->($c);
				}
			}
			push @rows, '(' . join(', ', @v) . ')';
		}
		return 'INSERT INTO ' . $tq->($t) . ' (' . join(', ', @cn) . ') VALUES ' . join(', ', @rows)
		  . ($has_unique->($t) ? ' ON CONFLICT DO NOTHING' : '');
	};

	my $bulk_sql = sub {
		my ($t, $s) = @_;
		my $n = $r->range(600, 2500);
		my $base = ($fresh += 10000);
		$base = $r->pick(400, 1400, 2400) if $t->{kind} eq 'part';
		my @cn = (qi($t->{key}));
		my @ex = ("($base + g) * 10 + $s");
		for my $c (@{ $t->{cols} })
		{
			next if $c->{fkref};
			my $e = $c->{toast} ? ($r->chance(0.3) ? "repeat(md5(g::text), 80)" : 'md5(g::text)') : $types{ $c->{type} }{series};
			next unless defined $e;
			push @cn, qi($c->{name});
			push @ex, $e;
		}
		push @{ $owned->($t, $s) }, map { ($base + $_) * 10 + $s } 1 .. 10;
		return 'INSERT INTO ' . $tq->($t) . ' (' . join(', ', @cn) . ') SELECT ' . join(', ', @ex)
		  . " FROM generate_series(1, $n) g" . ($has_unique->($t) ? ' ON CONFLICT DO NOTHING' : '');
	};

	my $set_clause = sub {
		my ($t, $want_toast) = @_;
		my @c = grep { !$_->{fkref} && !$_->{toast} } @{ $t->{cols} };
		if ($want_toast && $t->{toast})
		{
			return qi($t->{toast}) . ' = ' . toast_lit($r, 'u' . (++$tagn));
		}
		return undef unless @c;
		my @sets = map { qi($_->{name}) . ' = ' . $lit->($_) } grep { $r->chance(0.6) } @c;
		@sets = (qi($c[0]{name}) . ' = ' . $lit->($c[0])) unless @sets;
		return join(', ', @sets);
	};

	# one statement for session S in its open transaction T
	my $statement = sub {
		my ($s, $T, $solo) = @_;
		my @updatable = grep { $_->{kind} =~ /^(keyed|index|full|part)$/ } @tables;
		my $what = $r->weighted([ 'insert', 6 ], [ 'update', 5 ], [ 'delete', 2 ], [ 'keyupd', 1 ],
			[ 'bulk', $k->{large_tx} ? 0.4 : 0 ], [ 'msg', $k->{msg_tx} ? 1 : 0 ],
			[ 'nmsg', $k->{msg_nontx} ? 1 : 0 ], [ 'trunc', $solo && $k->{truncate} ? 0.5 : 0 ],
			[ 'nextval', @{ $schema->{seqs} // [] } ? 1 : 0 ]);
		if ($what eq 'nextval')
		{
			# not transactional: a rolled back transaction moves it too
			my $q = $r->pick(@{ $schema->{seqs} });
			return 'SELECT nextval(' . ql(qn($q->{schema}, $q->{name})) . ') FROM generate_series(1, ' . $r->range(1, 6) . ')';
		}
		if ($what eq 'insert')
		{
			my $t = $r->pick(@tables);
			return $insert_sql->($t, $s, $r->chance(0.3) ? $r->range(2, 5) : 1);
		}
		if ($what eq 'bulk')
		{
			my $t = $r->pick(grep { !$_->{parent} } @tables);
			return $bulk_sql->($t, $s);
		}
		if ($what eq 'msg' || $what eq 'nmsg')
		{
			my $content = $r->pick('hello', 'ünï ✓', '', 'x' x 300, "quote ' and \\ backslash", 'payload ' . $r->int(1e6));
			return 'SELECT pg_logical_emit_message(' . ($what eq 'msg' ? 'true' : 'false') . ', '
			  . ql($r->pick('tide.test', 'app', 'Pfx ü')) . ', ' . ql($content) . ')';
		}
		if ($what eq 'trunc')
		{
			my @cand = grep {
				!($_->{rep_diff} && !$k->{trunc_diffpart_root})
				  && !($schema->{reponly} && $_->{id} == $schema->{reponly}{target})
				  && !$protected{ $_->{id} }
			} @tables;
			return $insert_sql->($tables[0], $s, 1) unless @cand;
			my @pick = grep { $r->chance(0.4) } @cand;
			@pick = ($r->pick(@cand)) unless @pick;
			my %in = map { $_->{id} => 1 } @pick;
			my $cascade = 0;
			for my $t (@tables)
			{
				next unless $t->{parent} && $in{ $t->{parent} } && !$in{ $t->{id} };
				if ($k->{truncate_cascade} && $r->chance(0.6)) { $cascade = 1; }
				else { push @pick, $t; $in{ $t->{id} } = 1; }
			}
			# a leaf alone, when the replica has the same leaves
			my @names;
			for my $t (@pick)
			{
				if ($t->{kind} eq 'part' && !$t->{rep_diff} && $r->chance(0.4))
				{
					push @names, qn($t->{schema}, $r->pick(@{ $t->{leaves} }));
				}
				else
				{
					push @names, ($t->{kind} ne 'part' && !$cascade && $r->chance(0.3) ? 'ONLY ' : '') . $tq->($t);
				}
			}
			$_->{truncated} = 1 for @pick;
			my $restart = $r->chance(0.2) && (!$cascade || $k->{truncate_cascade_restart});
			return 'TRUNCATE ' . join(', ', @names) . ($restart ? ' RESTART IDENTITY' : '') . ($cascade ? ' CASCADE' : '');
		}
		my $t = $r->pick(@updatable);
		return $insert_sql->($tables[0], $s, 1) unless $t;
		my $o = $owned->($t, $s);
		return $insert_sql->($t, $s, 1) unless @$o;
		my $kq = qi($t->{key});
		my $k1 = $r->pick(@$o);
		if ($what eq 'keyupd' && $t->{kind} ne 'full')
		{
			my $nk = ($fresh += 10) + $s;
			$nk = $part_key->($t, $s) if $t->{kind} eq 'part';
			@$o = grep { $_ != $k1 } @$o;
			push @$o, $nk;
			return 'UPDATE ' . $tq->($t) . " SET $kq = $nk WHERE $kq = $k1";
		}
		my $where = "$kq = $k1";
		if ($r->chance(0.3))
		{
			my @ks = map { $r->pick(@$o) } 1 .. 3;
			$where = "$kq IN (" . join(', ', @ks) . ')';
		}
		if ($t->{kind} eq 'full' && $r->chance(0.5))
		{
			# one row of several equal by the key column: by its exact content
			my @c = grep { !$_->{toast} } @{ $t->{cols} };
			if (@c && $r->chance(0.5))
			{
				my $c = $r->pick(@c);
				$where = "$kq = $k1 AND " . qi($c->{name}) . '::text = (' . $lit->($c) . ')::' . $types{ $c->{type} }{decl} . '::text';
			}
			$where = 'ctid = (SELECT ctid FROM ' . $tq->($t) . " WHERE $where LIMIT 1)";
		}
		if ($what eq 'delete')
		{
			return 'DELETE FROM ' . $tq->($t) . " WHERE $where";
		}
		my $set = $set_clause->($t, $r->chance(0.3));
		return $insert_sql->($t, $s, 1) unless defined $set;
		return 'UPDATE ' . $tq->($t) . " SET $set WHERE $where";
	};

	# DDL (with tide setup's capture): one command at a time in a solo
	# transaction, on tables tide apply may run it for (not in a mapped
	# schema: --map stops at captured DDL; not left out by --tables), each
	# with what it changes ("eff") and a query that tells whether it did
	# (the transaction may still fail at the source)
	my $capture = $k->{ddl} && $r->chance($k->{ddl}) ? 1 : 0;
	my $hostile = $k->{hostile_names};
	my $filtered = grep { $_->{excluded} } @tables;
	my $ddln = 0;
	my $ddl_sql = sub {
		my @cand = grep { !$_->{excluded} && $_->{rep_schema} eq $_->{schema} } @tables;
		return () unless @cand;
		my $t = $r->pick(@cand);
		my $q = $tq->($t);
		my $ql = ql($q);
		my @plain = grep { !$_->{fkref} && !$_->{toast} } @{ $t->{cols} };
		my %usedC = map { $_->{name} => 1 } @{ $t->{cols} };
		$usedC{ $t->{key} } = 1;
		my $op = $r->weighted([ 'add_col', 4 ], [ 'drop_col', @plain > 1 ? 2 : 0 ], [ 'rename_col', @plain ? 2 : 0 ],
			[ 'type_col', (grep { $_->{type} eq 'int4' } @plain) ? 1 : 0 ], [ 'index', 1 ], [ 'comment', 1 ],
			[ 'rename_table', !$filtered && $t->{kind} ne 'part' ? 1 : 0 ],
			[ 'create_table', !$filtered ? 1 : 0 ],
			[ 'partition', !$filtered && $t->{kind} eq 'part' && !$t->{rep_diff} && $t->{p3} ? 8 : 0 ]);
		$ddln++;
		my $has_col = sub {
			"SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($_[0]) AND attname = " . ql($_[1])
			  . ' AND NOT attisdropped) = ' . ($_[2] ? 'true' : 'false');
		};
		if ($op eq 'add_col')
		{
			my $name = pick_name($r, $hostile, \%usedC, \@COL_NAMES, 'c');
			my $ty = $r->pick('int4', 'text');
			my $def = $r->chance(0.4) ? ($ty eq 'int4' ? ' DEFAULT 7' : " DEFAULT 'd'") : '';
			push @{ $t->{cols} }, { name => $name, type => $ty };
			return ([ 'ALTER TABLE ' . $q . ' ADD COLUMN ' . qi($name) . ' ' . ($ty eq 'int4' ? 'integer' : 'text') . $def,
				{ op => $op, check => $has_col->($ql, $name, 1) } ]);
		}
		if ($op eq 'drop_col')
		{
			my $c = $r->pick(@plain);
			$t->{cols} = [ grep { $_ != $c } @{ $t->{cols} } ];
			return ([ 'ALTER TABLE ' . $q . ' DROP COLUMN ' . qi($c->{name}), { op => $op, check => $has_col->($ql, $c->{name}, 0) } ]);
		}
		if ($op eq 'rename_col')
		{
			my $c = $r->pick(@plain);
			my $old = $c->{name};
			$c->{name} = pick_name($r, $hostile, \%usedC, \@COL_NAMES, 'c');
			return ([ 'ALTER TABLE ' . $q . ' RENAME COLUMN ' . qi($old) . ' TO ' . qi($c->{name}),
				{ op => $op, check => $has_col->($ql, $c->{name}, 1) } ]);
		}
		if ($op eq 'type_col')
		{
			my $c = $r->pick(grep { $_->{type} eq 'int4' } @plain);
			$c->{type} = 'int8';
			return ([ 'ALTER TABLE ' . $q . ' ALTER COLUMN ' . qi($c->{name}) . ' TYPE bigint',
				{ op => $op, check => "SELECT format_type(atttypid, atttypmod) = 'bigint' FROM pg_attribute WHERE attrelid = to_regclass($ql) AND attname = " . ql($c->{name}) } ]);
		}
		if ($op eq 'index')
		{
			my @b = grep { $_->{type} =~ /^(int4|int8|text)$/ } @plain;    # types btree takes
			my $c = $r->pick(@b ? @b : ({ name => $t->{key} }));
			my $ix = "ix $ddln";
			return ([ 'CREATE INDEX ' . qi($ix) . ' ON ' . $q . ' (' . qi($c->{name}) . ')',
				{ op => $op, check => 'SELECT to_regclass(' . ql(qn($t->{schema}, $ix)) . ') IS NOT NULL' } ]);
		}
		if ($op eq 'comment')
		{
			return ([ 'COMMENT ON TABLE ' . $q . ' IS ' . ql("note $ddln ü"),
				{ op => $op, check => "SELECT obj_description(to_regclass($ql), 'pg_class') = " . ql("note $ddln ü") } ]);
		}
		if ($op eq 'rename_table')
		{
			my %usedT = map { $_->{name} => 1 } @tables;
			my $new = pick_name($r, $hostile, \%usedT, \@TABLE_NAMES, 't');
			my $nq = ql(qn($t->{schema}, $new));
			my $eff = { op => $op, id => $t->{id}, to => $new, check => "SELECT to_regclass($nq) IS NOT NULL" };
			$t->{name} = $new;
			return ([ 'ALTER TABLE ' . $q . ' RENAME TO ' . qi($new), $eff ]);
		}
		if ($op eq 'create_table')
		{
			my %usedT = map { $_->{name} => 1 } @tables;
			my $name = pick_name($r, $hostile, \%usedT, \@TABLE_NAMES, 't');
			my $n = { id => 1 + (sort { $b <=> $a } map { $_->{id} } @tables)[0], schema => $t->{schema}, name => $name,
				kind => 'keyed', key => 'k', cols => [ { name => 'v', type => 'text' }, { name => 'n', type => 'int4' } ],
				rep_schema => $t->{schema} };
			push @tables, $n;
			$next_key{ $n->{id} } = 1;
			return ([ 'CREATE TABLE ' . qn($n->{schema}, $name) . ' ("k" integer NOT NULL PRIMARY KEY, "v" text, "n" integer)',
				{ op => $op, table => dclone($n), check => 'SELECT to_regclass(' . ql(qn($n->{schema}, $name)) . ') IS NOT NULL' } ]);
		}
		# partition: the day's partition rolled over: the last one detached
		# (a table of its own from then on, with its rows) and a new one
		# created in its place
		my $leaf = $t->{p3};
		my $new = "$t->{name} p3 v$ddln";
		my $d = dclone($t);
		%$d = (%$d, id => 1 + (sort { $b <=> $a } map { $_->{id} } @tables)[0], name => $leaf, kind => 'keyed');
		delete @$d{qw(leaves p3 rep_diff)};
		push @tables, $d;
		$next_key{ $d->{id} } = 1000000;
		$t->{p3} = $new;
		$t->{leaves} = [ (grep { $_ ne $leaf } @{ $t->{leaves} }), $new ];
		return ([ 'ALTER TABLE ' . $q . ' DETACH PARTITION ' . qn($t->{schema}, $leaf), { op => 'detach', table => dclone($d),
					check => 'SELECT NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass(' . ql(qn($t->{schema}, $leaf)) . '))' } ],
			[ 'CREATE TABLE ' . qn($t->{schema}, $new) . ' PARTITION OF ' . $q . ' FOR VALUES FROM (3000) TO (MAXVALUE)',
				{ op => 'partition', check => 'SELECT to_regclass(' . ql(qn($t->{schema}, $new)) . ') IS NOT NULL' } ]);
	};

	# the initial loads: one autocommit insert per table
	for my $t (@tables)
	{
		next if $t->{parent};
		push @steps, { t => 'sql', s => 1, tx => ++$txid, sql => $insert_sql->($t, 1, $r->range(3, 12)), auto => 1 };
		for my $s (2 .. $nsess)
		{
			push @steps, { t => 'sql', s => $s, tx => ++$txid, sql => $insert_sql->($t, $s, $r->range(2, 6)), auto => 1 };
		}
	}
	for my $t (@tables)
	{
		next unless $t->{parent};
		push @steps, { t => 'sql', s => $_, tx => ++$txid, sql => $insert_sql->($t, $_, $r->range(2, 6)), auto => 1 } for 1 .. $nsess;
	}

	my %open;    # session => { tx, n, sp, solo }
	my $done = 0;
	my ($enospc, $netcut) = (0, 0);    # transactions left before the fault ends
	my @fault_kinds = grep { $k->{"fault_$_"} } qw(stream_kill apply_kill src_restart rep_restart enospc netcut);
	my $follow = $r->chance($k->{apply_follow});
	while ($done < $k->{txns} || %open)
	{
		my @idle = grep { !$open{$_} } 1 .. $nsess;
		my $solo_open = grep { $open{$_}{solo} } keys %open;
		if ($done < $k->{txns} && @idle && !$solo_open && (!%open || $r->chance(0.4)))
		{
			my $s = $r->pick(@idle);
			$done++;
			if ($r->chance(0.2))
			{
				# autocommit: one statement is its own transaction
				my $sql = $statement->($s, ++$txid, !%open);
				push @steps, { t => 'sql', s => $s, tx => $txid, sql => $sql, auto => 1 };
				next;
			}
			$open{$s} = { tx => ++$txid, n => 0, sp => 0, solo => !%open && $r->chance(0.3) };
			push @steps, { t => 'sql', s => $s, tx => $txid, sql => 'BEGIN' };
			next;
		}
		my @o = sort keys %open;
		my $s = $r->pick(@o);
		my $T = $open{$s};
		if ($T->{n} >= 1 && ($T->{n} >= 8 || $r->chance(0.25)))
		{
			# a transaction that ran DDL commits: what the run expects of the
			# schema follows the commands that took effect
			my $end = (!$T->{ddl} && $k->{rollbacks} && $r->chance(0.12)) ? 'ROLLBACK' : 'COMMIT';
			if ($k->{msg_nontx} && $r->chance(0.25))
			{
				# a non-transactional message right before the commit record
				push @steps, { t => 'sql', s => $s, tx => $T->{tx},
					sql => "SELECT pg_logical_emit_message(false, 'edge', 'before commit " . (++$tagn) . "')" };
			}
			push @steps, { t => 'sql', s => $s, tx => $T->{tx}, sql => $end };
			delete $open{$s};
			push @steps, { t => 'mark', kind => $r->pick('lsn', 'time') } if $k->{until} && !%open && $r->chance(0.3);
			push @steps, { t => 'apply' } if !$follow && $r->chance(0.15);
			if ($enospc && --$enospc == 0) { push @steps, { t => 'fault', kind => 'enospc_off' }; }
			if ($netcut && --$netcut == 0) { push @steps, { t => 'fault', kind => 'net_on' }; }
			if (@fault_kinds && $r->chance($k->{faults}))
			{
				my $f = $r->pick(@fault_kinds);
				$f = 'stream_kill' if $f eq 'src_restart' && %open;
				# one interval fault at a time; the streamer left alone while cut off
				next if !$k->{netcut_overlap} && ($netcut || $enospc) && $f =~ /^(stream_kill|src_restart|enospc|netcut)$/;
				if ($f eq 'enospc') { next if $enospc; $enospc = $r->range(1, 5); $f = 'enospc_on'; }
				if ($f eq 'netcut') { next if $netcut; $netcut = $r->range(1, 5); $f = 'net_off'; }
				push @steps, { t => 'fault', kind => $f,
					$f eq 'net_off' ? (mode => $k->{netcut_blackhole} && $r->chance(0.5) ? 'blackhole' : 'reset') : () };
			}
			next;
		}
		if ($capture && $T->{solo} && !$T->{sp} && $r->chance(0.35))
		{
			# no savepoint before it: nothing can roll it back but an error
			for my $d ($ddl_sql->())
			{
				push @steps, { t => 'sql', s => $s, tx => $T->{tx}, sql => $d->[0], eff => $d->[1] };
				$T->{ddl} = 1;
				$T->{n}++;
			}
			next;
		}
		if ($k->{savepoints} && !$T->{ddl} && $r->chance(0.1))
		{
			if ($T->{sp} && $r->chance(0.6))
			{
				my $how = ($k->{rollbacks} && $r->chance(0.5)) ? 'ROLLBACK TO SAVEPOINT' : 'RELEASE SAVEPOINT';
				push @steps, { t => 'sql', s => $s, tx => $T->{tx}, sql => "$how sp$T->{sp}" };
				$T->{sp}--;
			}
			else
			{
				$T->{sp}++;
				push @steps, { t => 'sql', s => $s, tx => $T->{tx}, sql => "SAVEPOINT sp$T->{sp}" };
			}
			next;
		}
		push @steps, { t => 'sql', s => $s, tx => $T->{tx}, sql => $statement->($s, $T->{tx}, $T->{solo}) };
		$T->{n}++;
	}
	push @steps, { t => 'fault', kind => 'enospc_off' } if $enospc;
	push @steps, { t => 'fault', kind => 'net_on' } if $netcut;

	# the poison: a last transaction that apply must refuse
	my $poison;
	my @pk = grep { $k->{"poison_$_"} } qw(update_noident delete_noident truncate_leaf truncate_fk);
	if (@pk && $r->chance($k->{poison}))
	{
		my $kind = $r->pick(@pk);
		my @noid = grep { $_->{kind} =~ /^(keyless|nothing)$/ && !$_->{excluded} } @tables;
		my @diff = grep { $_->{rep_diff} } @tables;
		my $sql;
		if ($kind =~ /noident/ && @noid)
		{
			my $t = $r->pick(@noid);
			my $q = $tq->($t);
			my $kq = qi($t->{key});
			$sql = $kind eq 'update_noident'
			  ? "UPDATE $q SET $kq = $kq WHERE ctid IN (SELECT ctid FROM $q LIMIT 2)"
			  : "DELETE FROM $q WHERE ctid IN (SELECT ctid FROM $q LIMIT 2)";
			# rows to change, whatever the schedule left
			push @steps, { t => 'sql', s => 1, tx => ++$txid, sql => $insert_sql->($t, 1, 2), auto => 1 };
		}
		elsif ($kind eq 'truncate_leaf' && @diff)
		{
			my $t = $r->pick(@diff);
			push @steps, { t => 'sql', s => 1, tx => ++$txid, sql => $insert_sql->($t, 1, 3), auto => 1 };
			$sql = 'TRUNCATE ' . qn($t->{schema}, $r->pick(@{ $t->{leaves} }));
		}
		elsif ($kind eq 'truncate_fk' && $schema->{reponly})
		{
			my $t = $tables[ $schema->{reponly}{target} - 1 ];
			my @with = grep { $_->{parent} && $_->{parent} == $t->{id} } @tables;
			$sql = 'TRUNCATE ' . join(', ', map { $tq->($_) } $t, @with);
		}
		if ($sql)
		{
			push @steps, { t => 'mark', kind => 'lsn', pre_poison => 1 };
			push @steps, { t => 'sql', s => 1, tx => ++$txid, sql => 'BEGIN', poison => 1 },
			  { t => 'sql', s => 1, tx => $txid, sql => $sql, poison => 1 },
			  { t => 'sql', s => 1, tx => $txid, sql => 'COMMIT', poison => 1 };
			$poison = $kind;
		}
	}
	push @steps, { t => 'fault', kind => 'slot_drop' } if $k->{slot_drop} && $r->chance(0.3);

	# --jobs from a generator of its own: a seed's workload stays what it was
	# before the knob existed; a saved case keeps its N (absent: 1)
	# (the seed hashed: nearby seeds would start xorshift alike)
	my $jr = Rng->new(hex(substr(Digest::MD5::md5_hex("jobs $seed"), 0, 8)));
	my $jobs = $k->{jobs} && $jr->chance($k->{jobs}) ? ($k->{jobs_n} || $jr->range(2, 4)) : 1;

	# strip the code references before handing the schema out
	return {
		seed => $seed,
		jobs => $jobs,
		knobs => $k,
		sessions => $nsess,
		follow => $follow ? 1 : 0,
		capture => $capture,
		batch => $r->pick(1, 3, 50, 1000, 50000),
		stream_bounded => $k->{stream_bounded} && $r->chance(0.5) ? 1 : 0,
		poison => $poison,
		schema => $schema,
		steps => \@steps,
	};
}

# script WORKLOAD - the workload as a readable SQL script (sessions marked)
sub script
{
	my ($w) = @_;
	my @l = ('-- source schema', map({ "$_;" } @{ $w->{schema}{src_sql} }), '', '-- replica schema',
		map({ "$_;" } @{ $w->{schema}{rep_sql} }), '',
		'-- tide apply options: ' . join(' ', map { /[^\w.=-]/ ? "'$_'" : $_ } @{ $w->{schema}{apply_args} }),
		"-- sessions $w->{sessions}, follow $w->{follow}, batch $w->{batch}, jobs " . ($w->{jobs} // 1), '');
	for my $st (@{ $w->{steps} })
	{
		if ($st->{t} eq 'sql') { push @l, "/* s$st->{s} tx$st->{tx} */ $st->{sql};"; }
		elsif ($st->{t} eq 'mark') { push @l, "-- until point ($st->{kind})" . ($st->{pre_poison} ? ' before the poison' : ''); }
		elsif ($st->{t} eq 'fault') { push @l, "-- fault: $st->{kind}"; }
		elsif ($st->{t} eq 'apply') { push @l, '-- tide apply (bounded run)'; }
	}
	return join("\n", @l) . "\n";
}

1;
