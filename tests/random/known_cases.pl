#!/usr/bin/perl
# tests/random/known_cases.pl - writes cases/known-*.json: the shapes of
# issue 8's findings as workloads of the randomized harness, so that
# 111_random_cases.pl replays each (as TODO while its knob is off on this
# branch).  Run it again after changing it: perl tests/random/known_cases.pl
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use JSON::PP;
use Gen;

my $ty = '"Ty pes"';
my @types_sql = ("CREATE SCHEMA $ty", "CREATE TABLE $ty.\"target\" (x int)", "CREATE TYPE $ty.\"mood\" AS ENUM ('sad', 'ok')");

sub tbl
{
	my (%o) = @_;
	return { id => $o{id} // 1, schema => 'public', rep_schema => 'public', name => $o{name}, kind => $o{kind} // 'keyed',
		key => $o{key} // 'id', cols => $o{cols} // [], leaves => $o{leaves}, rep_diff => $o{rep_diff} };
}

sub case
{
	my (%o) = @_;
	my $k = Gen::knobs(%{ $o{knobs} // {} }, faults => 0, until => 0);
	my $tx = 0;
	my @steps;
	for my $t (@{ $o{txns} })
	{
		$tx++;
		my @s = ref $t ? @$t : ($t);
		if (@s == 1) { push @steps, { t => 'sql', s => 1, tx => $tx, sql => $s[0], auto => 1 }; next; }
		push @steps, { t => 'sql', s => 1, tx => $tx, sql => 'BEGIN' };
		push @steps, { t => 'sql', s => 1, tx => $tx, sql => $_ } for @s;
		push @steps, { t => 'sql', s => 1, tx => $tx, sql => 'COMMIT' };
	}
	return {
		name => $o{name},
		oracle => $o{oracle},
		failure => $o{failure},
		seed => 0,
		requires_knobs => [ sort keys %{ $o{knobs} // {} } ],
		note => "issue 8, finding $o{finding}: written by tests/random/known_cases.pl",
		workload => {
			seed => 0, knobs => $k, sessions => 1, follow => 0, batch => $o{batch} // 50000, stream_bounded => 0,
			poison => undef,
			schema => { src_sql => [ @types_sql, @{ $o{src} } ], rep_sql => [ @types_sql, @{ $o{rep} // $o{src} } ],
				tables => $o{tables}, reponly => $o{reponly}, rep_refs => $o{rep_refs} // [], apply_args => $o{apply_args} // [], map => {},
				types_schema => 'Ty pes' },
			steps => \@steps,
		},
	};
}

my @cases = (
	case(name => 'known-f01-message-before-commit', finding => 1, knobs => { msg_nontx => 1 }, oracle => 'segments',
		failure => 'the transaction after a non-transactional message at the same LSN is missing from the segments',
		src => [ 'CREATE TABLE t (id int PRIMARY KEY, v text)' ], tables => [ tbl(name => 't', cols => [ { name => 'v', type => 'text' } ]) ],
		txns => [ "INSERT INTO t VALUES (100, 'a')",
			[ "INSERT INTO t VALUES (101, 'x')", "SELECT pg_logical_emit_message(false, 'a', 'm')" ],
			"INSERT INTO t VALUES (102, 'b')" ]),
	case(name => 'known-f04-delete-without-identity', finding => 4, knobs => { poison_delete_noident => 1 }, oracle => 'refusal',
		failure => 'tide apply exited 0, but it must refuse: DELETE on public.nk, a table without replica identity',
		src => [ 'CREATE TABLE nk (id int, v text)' ], tables => [ tbl(name => 'nk', kind => 'keyless', cols => [ { name => 'v', type => 'text' } ]) ],
		txns => [ "INSERT INTO nk VALUES (1, 'a'), (2, 'b')", 'DELETE FROM nk WHERE id = 1' ]),
	case(name => 'known-f02-truncate-leaf-repartitioned', finding => 2, knobs => { poison_truncate_leaf => 1 }, oracle => 'replica',
		failure => 'TRUNCATE of one leaf empties the whole table on a differently partitioned replica',
		src => [ 'CREATE TABLE pm (id int PRIMARY KEY) PARTITION BY RANGE (id)',
			'CREATE TABLE pm_jan PARTITION OF pm FOR VALUES FROM (MINVALUE) TO (100)',
			'CREATE TABLE pm_feb PARTITION OF pm FOR VALUES FROM (100) TO (MAXVALUE)' ],
		rep => [ 'CREATE TABLE pm (id int PRIMARY KEY) PARTITION BY RANGE (id)',
			'CREATE TABLE pm_all PARTITION OF pm FOR VALUES FROM (MINVALUE) TO (MAXVALUE)' ],
		tables => [ tbl(name => 'pm', kind => 'part', leaves => [ 'pm_jan', 'pm_feb' ], rep_diff => 1) ],
		txns => [ 'INSERT INTO pm VALUES (1), (2), (150), (160)', 'TRUNCATE pm_jan' ]),
	case(name => 'known-f03-truncate-cascade-replica-only', finding => 3, knobs => { poison_truncate_fk => 1 }, oracle => 'refusal',
		failure => 'TRUNCATE is replayed with CASCADE and wipes the replica-only table that references the truncated one',
		src => [ 'CREATE TABLE p (id int PRIMARY KEY)' ],
		rep => [ 'CREATE TABLE p (id int PRIMARY KEY)', 'CREATE TABLE "rep only" (x int PRIMARY KEY, pid int REFERENCES p (id), note text)',
			"INSERT INTO \"rep only\" VALUES (1, NULL, 'replica-only row')" ],
		tables => [ tbl(name => 'p') ], reponly => { schema => 'public', name => 'rep only', target => 1 },
		txns => [ 'INSERT INTO p VALUES (1), (2)', 'TRUNCATE p CASCADE' ]),
	case(name => 'known-f03-truncate-cascade-excluded-table', finding => 3, knobs => { exclude_fk_child => 1 },
		failure => 'TRUNCATE ... CASCADE wipes a table that tide apply --tables leaves out (it references the truncated one on the replica)', oracle => 'refusal',
		src => [ 'CREATE TABLE p (id int PRIMARY KEY)', 'CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p (id))' ],
		rep => [ 'CREATE TABLE p (id int PRIMARY KEY)', 'CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p (id))',
			'INSERT INTO c (id) VALUES (-7)' ], rep_refs => [ { schema => 'public', name => 'c', target => 1 } ],
		tables => [ tbl(name => 'p'), { %{ tbl(id => 2, name => 'c', cols => [ { name => 'pid', type => 'int4', fkref => 1 } ]) },
				parent => 1, excluded => 1 } ],
		apply_args => [ '--tables', 'public.p' ],
		txns => [ 'INSERT INTO p VALUES (1), (2)', 'INSERT INTO c VALUES (1, 1)', 'TRUNCATE p CASCADE' ]),
	case(name => 'known-f05-regclass', finding => 5, knobs => { type_reg => 1 }, oracle => 'replica',
		failure => 'regclass/regtype values travel as OIDs and point at other objects on the replica',
		src => [ 'CREATE TABLE r (id int PRIMARY KEY, c regclass, t regtype)' ],
		tables => [ tbl(name => 'r', cols => [ { name => 'c', type => 'regclass' }, { name => 't', type => 'regtype' } ]) ],
		txns => [ "INSERT INTO r VALUES (1, '$ty.\"target\"', '$ty.\"mood\"')" ]),
	case(name => 'known-f13-char-key-update', finding => 13, knobs => { type_fixed_len => 1 }, oracle => 'replica',
		failure => 'a key update sends char(3) as $n::character: the replica keeps U instead of USD',
		src => [ 'CREATE TABLE cur (id int PRIMARY KEY, code char(3), amount int)' ],
		tables => [ tbl(name => 'cur', cols => [ { name => 'code', type => 'bpchar' }, { name => 'amount', type => 'int4' } ]) ],
		txns => [ "INSERT INTO cur VALUES (1, 'EUR', 10), (2, 'USD', 20)", 'UPDATE cur SET id = 3 WHERE id = 2' ]),
	case(name => 'known-f14-full-identity-box', finding => 14, knobs => { full_inexact => 1 }, oracle => 'replica',
		failure => 'REPLICA IDENTITY FULL deletes the other box of the same area',
		src => [ 'CREATE TABLE b (id int, x box)', 'ALTER TABLE b REPLICA IDENTITY FULL' ], rep => [ 'CREATE TABLE b (id int, x box)' ],
		tables => [ tbl(name => 'b', kind => 'full', cols => [ { name => 'x', type => 'box' } ]) ],
		txns => [ "INSERT INTO b VALUES (1, '(2,2),(0,0)'), (1, '(4,1),(0,0)')", "DELETE FROM b WHERE x ~= '(4,1),(0,0)'" ]),
	case(name => 'known-f14-full-identity-numeric', finding => 14, knobs => { full_inexact => 1 }, oracle => 'replica',
		failure => 'REPLICA IDENTITY FULL updates the row holding 1.0 for the one holding 1.00',
		src => [ 'CREATE TABLE n (id int, x numeric, y float8)', 'ALTER TABLE n REPLICA IDENTITY FULL' ],
		rep => [ 'CREATE TABLE n (id int, x numeric, y float8)' ],
		tables => [ tbl(name => 'n', kind => 'full', cols => [ { name => 'x', type => 'numeric' }, { name => 'y', type => 'float8' } ]) ],
		txns => [ "INSERT INTO n VALUES (1, 1.0, 0), (1, 1.00, '-0')", "UPDATE n SET id = 2 WHERE x::text = '1.00'",
			"DELETE FROM n WHERE y::text = '-0'" ]),
	case(name => 'known-f16-refusal-keeps-prefix', finding => 16, knobs => { refusal_prefix => 1 }, oracle => 'replica',
		failure => 'apply refuses the UPDATE without identity but rolls back the transactions before it in its batch',
		src => [ 'CREATE TABLE t (id int PRIMARY KEY, v text)', 'CREATE TABLE nk (id int, v text)' ],
		tables => [ tbl(name => 't', cols => [ { name => 'v', type => 'text' } ]),
			tbl(id => 2, name => 'nk', kind => 'keyless', cols => [ { name => 'v', type => 'text' } ]) ],
		txns => [ "INSERT INTO nk VALUES (1, 'a')", "INSERT INTO t VALUES (1, 'kept')" ],
		poison => "UPDATE nk SET v = 'b'"),
	case(name => 'new-truncate-restart-identity-cascade', finding => 'new (harness)', knobs => { truncate_cascade_restart => 1 },
		oracle => 'apply', failure => 'TRUNCATE ... RESTART IDENTITY CASCADE is replayed as invalid SQL: apply stops with exit 4',
		src => [ 'CREATE TABLE t (id int PRIMARY KEY, v text)' ], tables => [ tbl(name => 't', cols => [ { name => 'v', type => 'text' } ]) ],
		txns => [ "INSERT INTO t VALUES (1, 'a')", 'TRUNCATE t RESTART IDENTITY CASCADE', "INSERT INTO t VALUES (2, 'b')" ]),
	case(name => 'known-f17-dropped-slot', finding => 17, knobs => { slot_drop => 1 }, oracle => 'refusal',
		failure => 'tide stream --create-slot re-creates a dropped slot under an existing history and exits 0',
		src => [ 'CREATE TABLE t (id int PRIMARY KEY, v text)' ], tables => [ tbl(name => 't', cols => [ { name => 'v', type => 'text' } ]) ],
		txns => [ "INSERT INTO t VALUES (1, 'a')" ]),
);

# the network-cut trigger of finding 15: while cut off, the idle timer
# closes empty segments named after the clock; the restarted streamer names
# its first segment after the first commit time of the backlog, which sorts
# before them; apply then reports segments missing (exit 5)
{
	my $c = case(name => 'new-f15-netcut-idle-rotation', finding => '15 (a new trigger found by the harness)',
		knobs => { netcut_overlap => 1 }, oracle => 'apply',
		failure => 'segments are missing: an empty segment closed by the idle timer while cut off sorts after the restarted stream\'s first segment',
		src => [ 'CREATE TABLE t (id int PRIMARY KEY, v text)' ], tables => [ tbl(name => 't', cols => [ { name => 'v', type => 'text' } ]) ],
		txns => [ "INSERT INTO t VALUES (1, 'before')", "INSERT INTO t VALUES (2, 'cut off')", "INSERT INTO t VALUES (3, 'cut off')",
			"INSERT INTO t VALUES (4, 'after')" ]);
	my $w = $c->{workload};
	# the restart that names by commit time: the disk fills while cut off,
	# the next idle rotation cannot write its new segment's header (exit 6);
	# the network comes back, then the space: the restart sets that file
	# aside, connects at once and names its first segment after the
	# backlog's first commit
	my @s = @{ $w->{steps} };
	$w->{steps} = [ $s[0], { t => 'sleep', ms => 1500 }, { t => 'fault', kind => 'net_off', mode => 'reset' }, @s[ 1, 2 ],
		{ t => 'sleep', ms => 4500 }, { t => 'fault', kind => 'enospc_on' }, { t => 'sleep', ms => 3000 },
		{ t => 'fault', kind => 'net_on' }, { t => 'fault', kind => 'enospc_off' }, { t => 'sleep', ms => 1000 }, $s[3] ];
	push @cases, $c;
}

# finding 16's poison: an until-point right before it, then the refused transaction
for my $c (@cases)
{
	next unless $c->{name} =~ /f16/;
	my $w = $c->{workload};
	push @{ $w->{steps} }, { t => 'mark', kind => 'lsn', pre_poison => 1 },
	  { t => 'sql', s => 1, tx => 9, sql => 'BEGIN', poison => 1 },
	  { t => 'sql', s => 1, tx => 9, sql => "UPDATE nk SET v = 'b'", poison => 1 },
	  { t => 'sql', s => 1, tx => 9, sql => 'COMMIT', poison => 1 };
	$w->{batch} = 50000;
}

for my $c (@cases)
{
	my $f = "$FindBin::Bin/cases/$c->{name}.json";
	open my $fh, '>', $f or die "$f: $!";
	print $fh JSON::PP->new->canonical->pretty->encode($c);
	close $fh;
	print "wrote $f\n";
}
