# tests/random/Runner.pm - runs one workload end to end and checks it:
# fresh databases on the shared source and replica clusters, a tide slot
# and a test_decoding slot copied from it (same start), tide stream (through
# the cutable proxy, into the tmpfs when there is one) and tide apply
# (--follow or bounded runs) supervised as a service manager would, the
# steps with their faults, then the oracles (Oracle.pm).  Returns a result:
# { ok, failures => [ { oracle, msg } ], stats }.
package Runner;

use strict;
use warnings;
use File::Path qw(rmtree make_path);
use POSIX qw(WNOHANG);
use Time::HiRes qw(usleep time);
use Gen;
use Oracle;
use Session;
use IPC::Run;
use Storable qw(dclone);

# new src => NODE, rep => NODE, tide => BIN, workdir => DIR, tmpfs => DIR|undef,
#     proxy => Proxy|undef, log => CODE (progress lines)
sub new
{
	my ($class, %o) = @_;
	my $self = bless { %o, runs => 0 }, $class;
	$self->{log} //= sub { };
	return $self;
}

# ---- processes: forked, output to a log file each, reaped with waitpid
sub spawn
{
	my ($self, $name, @args) = @_;
	my $log = "$self->{rundir}/$name.log";
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open STDIN, '<', '/dev/null';
		open STDOUT, '>>', $log;
		open STDERR, '>>', $log;
		exec($self->{tide}, @args) or POSIX::_exit(127);
	}
	open my $fh, '>>', $log;
	print $fh "==== " . scalar(localtime) . " tide @args\n";
	close $fh;
	$self->{live}{$pid} = $name;
	$self->{started}{$pid} = time();
	return $pid;
}

sub reap
{
	my ($self, $pid) = @_;
	return undef unless $pid;
	my $r = waitpid($pid, WNOHANG);
	return undef if $r == 0;
	delete $self->{live}{$pid};
	return $r < 0 ? 0 : $?;
}

sub wait_pid
{
	my ($self, $pid, $secs) = @_;
	my $deadline = time() + $secs;
	while (time() < $deadline)
	{
		my $st = $self->reap($pid);
		return $st if defined $st;
		usleep(20_000);
	}
	kill 'KILL', $pid;
	waitpid($pid, 0);
	delete $self->{live}{$pid};
	return undef;
}

sub describe
{
	my ($st) = @_;
	return 'still running (killed after the timeout)' unless defined $st;
	return 'killed by signal ' . ($st & 127) if $st & 127;
	return 'exit code ' . ($st >> 8);
}

# run_tide SECS NAME ARGS - (wait status, the output of this run)
sub run_tide
{
	my ($self, $secs, $name, @args) = @_;
	my $log = "$self->{rundir}/$name.log";
	my $before = -s $log // 0;
	my $pid = $self->spawn($name, @args);
	my $st = $self->wait_pid($pid, $secs);
	open my $fh, '<', $log;
	local $/;
	my $all = <$fh> // '';
	close $fh;
	my $out = substr($all, $before);
	$out =~ s/^==== .*\n//mg;    # our own header: the command line names tables too
	return ($st, $out);
}

sub tail
{
	my ($self, $name, $n) = @_;
	$n //= 15;
	open my $fh, '<', "$self->{rundir}/$name.log" or return "($name: no log)";
	my @l = <$fh>;
	close $fh;
	@l = @l[ -$n .. -1 ] if @l > $n;
	return "---- $name.log (last lines):\n" . join('', @l);
}

sub fail
{
	my ($self, $oracle, $msg) = @_;
	push @{ $self->{failures} }, { oracle => $oracle, msg => $msg };
	$self->{log}->("FAIL [$oracle] $msg");
}

# ---- the run
sub run
{
	my ($self, $w, %opt) = @_;
	my $n = ++$self->{runs};
	my $db = "r$$" . "_$n";
	$self->{db} = $db;
	$self->{w} = $w;
	$self->{failures} = [];
	$self->{stats} = { txns => 0, commits => 0, rollbacks => 0, stmt_errors => 0, faults => {}, marks => 0,
		stream_restarts => 0, apply_restarts => 0, jobs => $w->{jobs} // 1, prefix_checks => 0 };
	$self->{rundir} = "$self->{workdir}/$db";
	rmtree($self->{rundir});
	make_path($self->{rundir});
	$self->{live} = {};
	my $k = $w->{knobs};
	my $use_tmpfs = $self->{tmpfs} && $k->{fault_enospc};
	$self->{segdir} = $use_tmpfs ? "$self->{tmpfs}/$db" : "$self->{rundir}/segs";
	rmtree($self->{segdir});
	make_path($self->{segdir});
	chmod 0700, $self->{segdir};
	my $t0 = time();
	my $ok = eval { $self->run_inner($w, %opt); 1 };
	if (!$ok)
	{
		my $e = $@;
		$self->fail('harness', "the run stopped: $e");
	}
	$self->cleanup;
	my $res = { ok => !@{ $self->{failures} }, failures => $self->{failures}, stats => $self->{stats},
		seconds => time() - $t0, rundir => $self->{rundir} };
	if ($res->{ok} && !$opt{keep} && !$ENV{RANDOM_KEEP})
	{
		rmtree($self->{rundir});
	}
	elsif (!$res->{ok} && $use_tmpfs && -d $self->{segdir})
	{
		system('cp', '-a', $self->{segdir}, "$self->{rundir}/segs");
	}
	rmtree($self->{segdir}) if $use_tmpfs || $res->{ok};
	return $res;
}

sub sql_src { my ($self, $sql, $db) = @_; return $self->{src}->safe_psql($db // $self->{db}, $sql); }

sub run_inner
{
	my ($self, $w, %opt) = @_;
	my ($src, $rep) = @{$self}{qw(src rep)};
	my $db = $self->{db};
	my $k = $w->{knobs};
	my $S = $w->{schema};
	my $slot = "tide_$db";
	my $tdslot = "td_$db";
	$self->{slot} = $slot;
	$self->{tdslot} = $tdslot;

	$src->safe_psql('postgres', qq{CREATE DATABASE "$db"});
	$rep->safe_psql('postgres', qq{CREATE DATABASE "$db"});
	$rep->safe_psql('postgres', qq{CREATE DATABASE "${db}_u"}) if $k->{until};
	$self->{dbs_made} = 1;
	$src->safe_psql($db, join(";\n", @{ $S->{src_sql} }));
	$rep->safe_psql($db, join(";\n", @{ $S->{rep_sql} }));
	$rep->safe_psql("${db}_u", join(";\n", @{ $S->{rep_sql} })) if $k->{until};
	if ($w->{capture})
	{
		# the DDL capture, before the slot: every command after it is in the stream
		my ($cst, $cout) = $self->run_tide(120, 'setup', 'setup', '-d', $src->connstr($db));
		die "tide setup: " . describe($cst) . "\n$cout" unless defined $cst && $cst == 0;
	}
	$src->safe_psql($db, "SELECT pg_create_logical_replication_slot('$slot', 'tide');
SELECT pg_copy_logical_replication_slot('$slot', '$tdslot', false, 'test_decoding')");

	$self->{slot_start} = $src->safe_psql($db, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$slot'");

	# the tables as DDL leaves them: what each committed command changed
	$self->{tables_now} = dclone($S->{tables});
	$self->{tables_ever} = dclone($S->{tables});    # and under every name they had
	my %pending;    # session => [ what its open transaction's DDL changes ]
	# the replica's own tables: their content must not change
	my @cmp = Oracle::compare_list($w);
	my $rsess = Session->new($rep, $db, 'replica');
	my $h = Oracle::hashes($rsess, map { $_->[1] } grep { !$_->[0] } @cmp);
	$self->{rep_baseline} = $h;
	$self->{seq_initial} = $self->seq_states($rsess, 'rep_schema');
	$rsess->close;

	my $proxy = $k->{fault_netcut} ? $self->{proxy} : undef;
	$self->{proxy_used} = $proxy;
	$self->{src_conn} = $proxy ? "host=127.0.0.1 port=$proxy->{port} dbname=$db" : $src->connstr($db);
	$self->{rep_conn} = $rep->connstr($db);
	$self->{stream_args} = [ 'stream', '-d', $self->{src_conn}, '-S', $slot, '-D', $self->{segdir},
		'--bucket', ($w->{stream_bounded} ? '1s' : '2s'), '--flush-interval', '200ms', '--status-interval', '1h',
		(@{ $S->{seqs} // [] } ? ('--sequence-interval', ($w->{tamper} // '') eq 'stream_noseq' ? '0' : '1s') : ()) ];
	if (($w->{tamper} // '') eq 'stream_exclude')
	{
		# (oracle self-test) the decoder leaves a table out: the segments lack its changes
		my $t = $S->{tables}[0];
		push @{ $self->{stream_args} }, '-o', "exclude-tables=$t->{schema}.$t->{name}";
	}
	$self->{apply_args} = [ 'apply', '-d', $self->{rep_conn}, '-D', $self->{segdir}, '--batch', $w->{batch},
		(($w->{jobs} // 1) > 1 ? ('--jobs', $w->{jobs}) : ()), @{ $S->{apply_args} } ];
	# (oracle self-test) an applier that leaves captured DDL out
	push @{ $self->{apply_args} }, '--ddl', 'skip' if ($w->{tamper} // '') eq 'ddl_skip';
	$self->{stream_pid} = $w->{stream_bounded} ? undef : $self->spawn('stream', @{ $self->{stream_args} });
	$self->{apply_pid} = undef;
	$self->{rep_crashed} = 0;
	$self->{enospc} = 0;
	$self->{poisoned} = 0;
	$self->{follower_refused} = undef;

	my %sess;
	my $session = sub {
		my ($s) = @_;
		$sess{$s} = Session->new($src, $db, "s$s") unless $sess{$s} && $sess{$s}->alive;
		return $sess{$s};
	};
	$self->{obs} = Session->new($src, $db, 'observer');
	# prefix consistency after a kill -9 of the applier: the source's
	# tables after every commit, with the WAL insert position just before
	# and just after it (the commit's end LSN lies between)
	$self->{snaps} = undef;
	$self->{prefix_tampered} = 0;
	if ($k->{prefix_check} && !$opt{no_faults} && grep { $_->{t} eq 'fault' && $_->{kind} eq 'apply_kill' } @{ $w->{steps} })
	{
		my @now = Oracle::compare_list($w, $self->{tables_now});
		$self->{snaps} = [ { before => 0, after => 0, cmp => \@now,
			hashes => Oracle::hashes_all($self->{obs}, map { $_->[0] } grep { $_->[0] } @now) } ];
	}
	my @marks;
	my %open_tx;
	for my $st (@{ $w->{steps} })
	{
		if ($st->{t} eq 'sql')
		{
			$self->{poisoned} = 1 if $st->{poison} && $st->{sql} eq 'COMMIT';
			if ($st->{poison} && $st->{sql} eq 'BEGIN' && $self->{apply_pid})
			{
				# the follower is stopped before the poison: its refusal is checked by the final run
				$self->stop_follower;
			}
			my $commits = $st->{auto} || $st->{sql} eq 'COMMIT';
			my $before = $self->{snaps} && $commits ? ($self->{obs}->query('SELECT pg_current_wal_insert_lsn()'))[0] : undef;
			my ($o, $e) = $session->($st->{s})->query($st->{sql});
			if ($e =~ /\S/)
			{
				$self->{stats}{stmt_errors}++;
				push @{ $self->{stats}{errors} }, "s$st->{s} tx$st->{tx}: " . (split /\n/, $e)[0] . " [$st->{sql}]"
				  if @{ $self->{stats}{errors} // [] } < 3;
				$self->{log}->("source statement failed (s$st->{s} tx$st->{tx}): " . (split /\n/, $e)[0]) if $opt{verbose};
			}
			if ($self->{proxy_used} && ($st->{auto} || $st->{sql} eq 'COMMIT'))
			{
				# where the last commit ends (what a caught-up streamer confirms)
				($self->{last_commit_lsn}) = $session->($st->{s})->query('SELECT pg_current_wal_lsn()');
			}
			push @{ $pending{ $st->{s} } }, $st->{eff} if $st->{eff};
			if (($st->{auto} || $st->{sql} eq 'COMMIT') && $pending{ $st->{s} })
			{
				$self->ddl_took_effect(@{ $pending{ $st->{s} } });
			}
			delete $pending{ $st->{s} } if $st->{auto} || $st->{sql} =~ /^(COMMIT|ROLLBACK)$/;
			$self->snapshot($before) if defined $before;
			if ($st->{auto} || $st->{sql} =~ /^(COMMIT|ROLLBACK)$/)
			{
				$self->{stats}{txns}++;
				$self->{stats}{ $st->{sql} eq 'ROLLBACK' ? 'rollbacks' : 'commits' }++;
			}
		}
		elsif ($st->{t} eq 'mark')
		{
			my $target = $st->{kind} eq 'time'
			  ? ($self->{obs}->query("SELECT clock_timestamp()"))[0]
			  : ($self->{obs}->query("SELECT pg_current_wal_lsn()"))[0];
			my @now = Oracle::compare_list($w, $self->{tables_now});
			push @marks, { kind => $st->{kind}, target => $target, pre_poison => $st->{pre_poison}, cmp => \@now,
				hashes => Oracle::hashes($self->{obs}, map { $_->[0] } grep { $_->[0] } @now) };
			usleep(2000) if $st->{kind} eq 'time';
			$self->{stats}{marks}++;
		}
		elsif ($st->{t} eq 'fault')
		{
			next if $opt{no_faults};
			$self->fault($st->{kind}, \%sess, $st->{mode});
		}
		elsif ($st->{t} eq 'apply')
		{
			$self->bounded_apply('apply_run');
		}
		elsif ($st->{t} eq 'sleep')
		{
			# (hand-written cases) let the streamer's timers run
			usleep($st->{ms} * 1000);
		}
		$self->supervise;
		if ($w->{follow} && !$self->{apply_pid} && !$self->{poisoned} && !$self->{follower_refused}
			&& $self->has_segment)
		{
			$self->{apply_pid} = $self->spawn('follow', @{ $self->{apply_args} }, '--follow');
		}
	}
	$_->close for values %sess;

	# ---- the end: every fault over, stream to the end, apply to the end
	$self->fault('net_on') if $proxy && $proxy->{state} ne 'up';
	$self->fault('enospc_off') if $self->{enospc};
	$self->supervise;
	if ($self->{stream_pid})
	{
		# stopped before the end is taken: it records sequence states on
		# its own, which must not land past the end
		# (a process that has not set up its handlers yet dies of SIGTERM)
		my $age = time() - $self->{started}{ $self->{stream_pid} };
		usleep(int((2 - $age) * 1e6)) if $age < 2;
		kill 'TERM', $self->{stream_pid};
		my $st = $self->wait_pid($self->{stream_pid}, 60);
		$self->{stream_pid} = undef;
		$self->fail('stream', 'the background streamer did not stop cleanly on SIGTERM (' . describe($st) . ")\n"
			  . $self->tail('stream')) unless defined $st && $st == 0;
	}
	if (@{ $S->{seqs} // [] } && ($w->{tamper} // '') ne 'stream_noseq')
	{
		# the last word on the sequences, as before a cutover
		my ($sst, $sout) = $self->run_tide(60, 'sync_sequences', 'sync-sequences', '-d', $self->{src_conn});
		$self->fail('sequences', 'tide sync-sequences: ' . describe($sst) . "\n$sout") unless defined $sst && $sst == 0;
	}
	# The end is where the source has inserted WAL, made durable: a
	# non-transactional message is not flushed by its own (PostgreSQL 15
	# flushes at commit), so a trailing one could sit past the write
	# position that pg_current_wal_lsn() reports, while the test_decoding
	# oracle, read later, sees it (harness finding, seed 357216009).
	my $end = ($self->{obs}->query('SELECT pg_current_wal_insert_lsn()'))[0];
	$self->{obs}->query('CHECKPOINT');
	my ($st, $out) = $self->run_tide(180, 'stream_end', @{ $self->{stream_args} }, '--endpos', $end, '--sequence-interval', '0');
	my $stream_ok = defined $st && $st == 0;
	if (!$stream_ok)
	{
		$self->fail('stream', "tide stream --endpos $end: " . describe($st) . "\n$out");
	}
	$self->stop_follower if $self->{apply_pid};

	my ($ast, $aout) = $self->run_tide(300, 'apply_end', @{ $self->{apply_args} });
	$self->tamper($w->{tamper}, $db) if ($w->{tamper} // '') =~ /^rep_/;

	# ---- oracle 2: the segments against test_decoding
	my ($tdo, $tde) = $self->{obs}->query("SELECT replace(replace(data, E'\\\\', E'\\\\\\\\'), E'\\n', E'\\\\n') FROM pg_logical_slot_get_changes('$tdslot', NULL, NULL, 'include-xids', '0', 'skip-empty-xacts', '0')");
	die "reading the test_decoding slot: $tde" if $tde =~ /\S/;
	my @tdl = map { my $x = $_; $x =~ s/\\(.)/$1 eq 'n' ? "\n" : $1/ge; $x } split /\n/, $tdo;
	my @td = Oracle::td_events(@tdl);
	$self->{stats}{td_events} = scalar @td;
	$self->{stats}{td_txns} = scalar grep { $_ eq 'BEGIN' } @td;
	$self->{stats}{td_messages} = scalar grep { /^MESSAGE/ } @td;
	my @tide = $self->segment_events;
	my ($same, $why) = Oracle::compare_events(\@tide, \@td);
	$self->fail('segments', "the segments differ from test_decoding: $why") unless $same;
	my @unparsed = grep { /^UNPARSED/ } @td, @tide;
	$self->fail('harness', "events the oracle cannot read:\n  " . join("\n  ", @unparsed[ 0 .. ($#unparsed > 4 ? 4 : $#unparsed) ]))
	  if @unparsed;

	# ---- oracles 1 and 3: the replica, or the refusal
	my $exp = Oracle::expectations($w, \@td, $self->{tables_ever});
	my ($must) = grep { $_->{level} eq 'must' } @$exp;
	my $first = $must // $exp->[0];
	$self->fail('apply', "tide apply (the follower or a bounded run) refused (exit code 4) with nothing it should refuse\n$self->{follower_refused}")
	  if $self->{follower_refused} && !$first;
	$self->{stats}{expect} = $first ? "$first->{level} refuse: $first->{why}" : 'apply';
	my $code = defined $ast ? ($ast & 127 ? -1 : $ast >> 8) : -2;
	my $rsess2 = Session->new($rep, $db, 'replica');
	if ($code == 0)
	{
		# exit 0 is fine where a refusal is only allowed, if the replica is equal
		$self->fail('refusal', "tide apply exited 0, but it must refuse: $must->{why}") if $must;
		$self->compare_tables($rsess2, [ Oracle::compare_list($w, $self->{tables_now}) ], undef, 'end');
		$self->compare_sequences($rsess2, undef, 'end');
	}
	elsif (!$first)
	{
		$self->fail('apply', "tide apply to the end: " . describe($ast) . " with nothing it should refuse\n$aout");
	}
	else
	{
		$self->{stats}{refused} = 1;
		if ($code != 4)
		{
			$self->fail('refusal', "tide apply refused ($first->{why}) with " . describe($ast) . ", not exit code 4\n$aout");
		}
		# the refusal names the table of one of the changes that call for it
		my @tables = map { @{ $_->{tables} } } @$exp;
		my @named = grep { index($aout, $_) >= 0 } @tables;
		$self->fail('refusal', "tide apply refused without naming the table of a change that calls for a refusal ("
			  . join(' or ', @tables) . ")\n$aout") unless @named;
		if ($k->{refusal_prefix})
		{
			# the replica is at the mark before the poison when the poison is
			# what was refused: not when a transaction before it may be
			# refused too (a leaf TRUNCATE on a replica partitioned
			# otherwise), and was (harness false alarm, seed 790498715)
			my ($pre) = grep { $_->{pre_poison} } @marks;
			$self->compare_tables($rsess2, $pre->{cmp}, $pre->{hashes}, 'before the refused transaction')
			  if $pre && $must && $exp->[0] == $must;
		}
	}
	$rsess2->close;

	# ---- oracle 1 at every until point, on a second replica
	if ($k->{until} && @marks)
	{
		my $usess = Session->new($rep, "${db}_u", 'until');
		my @uargs = @{ $self->{apply_args} };
		$uargs[2] = $rep->connstr("${db}_u");
		for my $i (0 .. $#marks)
		{
			my $m = $marks[$i];
			my ($ust, $uout) = $self->run_tide(180, 'apply_until', @uargs, '--until', $m->{target});
			if (defined $ust && $ust == 4 << 8 && $first && $self->refused_before($uout, $first, $exp, $m))
			{
				# a refusal the workload allows, of a transaction up to this
				# point: the later points are past it too
				last;
			}
			if (!defined $ust || $ust != 0)
			{
				$self->fail('until', "tide apply --until $m->{target} (point $i, $m->{kind}): " . describe($ust) . "\n$uout");
				last;
			}
			$self->tamper('rep_delete', "${db}_u") if ($w->{tamper} // '') eq 'until_delete';
			last unless $self->compare_tables($usess, $m->{cmp}, $m->{hashes}, "--until $m->{target} (point $i)", "${db}_u");
			last unless $self->compare_sequences($usess, $m, "--until $m->{target} (point $i)");
		}
		$usess->close;
	}

	# ---- a dropped slot is never silently re-created (finding 17)
	# a directory without a segment holds no history to continue: there a
	# new slot starts one (what a reduced workload with no transaction
	# that reached a segment leaves)
	my @history = glob("$self->{segdir}/*.tseg");
	if ($k->{slot_drop} && $stream_ok && @history)
	{
		$self->sql_src("SELECT pg_drop_replication_slot('$slot')");
		my $t = $self->{tables_now}[0];    # (as DDL left it)
		$self->sql_src('INSERT INTO ' . Gen::qn($t->{schema}, $t->{name}) . ' (' . Gen::qi($t->{key}) . ') VALUES (-42)');
		my $e2 = ($self->{obs}->query('SELECT pg_current_wal_lsn()'))[0];
		my ($sst, $sout) = $self->run_tide(120, 'stream_recreate', @{ $self->{stream_args} }, '--create-slot', '--endpos', $e2);
		my $scode = defined $sst ? $sst >> 8 : -1;
		$self->fail('refusal', "tide stream --create-slot after the slot was dropped under an existing history: "
			  . describe($sst) . ", expected exit code 5 (a gap)\n$sout") unless $scode == 5;
	}
	$self->{obs}->close;
}

# refused_before OUTPUT FIRST EXP MARK - whether tide apply --until MARK
# refused (exit 4) a transaction the workload allows to be refused (it
# names one of its tables), committed at or before MARK (the commit LSN or
# time the refusal names)
sub refused_before
{
	my ($self, $out, $first, $exp, $m) = @_;
	my @tables = map { @{ $_->{tables} } } @$exp;
	return 0 unless grep { index($out, $_) >= 0 } @tables;
	my ($lsn, $time) = $out =~ /commit LSN ([0-9A-F]+\/[0-9A-F]+), committed ([^,]+?), xid/;
	return 0 unless defined $lsn;
	my $sql = $m->{kind} eq 'time'
	  ? "SELECT '$time'::timestamptz <= '$m->{target}'::timestamptz"
	  : "SELECT '$lsn'::pg_lsn <= '$m->{target}'::pg_lsn";
	return (($self->{obs}->query($sql))[0] // '') eq 't';
}

# tamper KIND DB - (oracle self-test) damage a replica as a bug would:
# delete a row of the first replicated table that has one, or duplicate a
# row of a table without a unique key
sub tamper
{
	my ($self, $kind, $db) = @_;
	if ($kind eq 'rep_seq')
	{
		# a replica sequence moved behind tide's back
		my ($q) = grep { !$_->{excluded} } @{ $self->{w}{schema}{seqs} // [] };
		return 0 unless $q;
		$self->{rep}->safe_psql($db, 'SELECT nextval(' . Gen::ql(Gen::qn($q->{rep_schema}, $q->{name})) . ')');
		$self->{stats}{tampered} = "$kind $q->{schema}.$q->{name}";
		return 1;
	}
	for my $t (@{ $self->{tables_now} })
	{
		next if $t->{excluded};
		next if $kind eq 'rep_dup' && $t->{kind} !~ /^(full|keyless)$/;
		my $q = Gen::qn($t->{rep_schema}, $t->{name});
		my $n = $self->{rep}->safe_psql($db, "SELECT count(*) FROM $q");
		next unless $n > 0;
		my $sql = $kind eq 'rep_dup'
		  ? "INSERT INTO $q SELECT * FROM $q LIMIT 1"
		  : "DELETE FROM $q WHERE ctid = (SELECT ctid FROM $q LIMIT 1)";
		$self->{rep}->safe_psql($db, $sql);
		$self->{stats}{tampered} = "$kind $t->{schema}.$t->{name}";
		return 1;
	}
	return 0;
}

# compare_tables SESSION CMP EXPECTED WHEN [DB] - replica against source
# (EXPECTED: a mark's hashes; else the source now)
sub compare_tables
{
	my ($self, $rsess, $cmp, $expected, $when, $rdb) = @_;
	my $ok = 1;
	my $src_now = $expected ? undef : Oracle::hashes($self->{obs}, map { $_->[0] } grep { $_->[0] } @$cmp);
	for my $c (@$cmp)
	{
		my ($sq, $rq, $label) = @$c;
		my $want = $sq ? ($expected ? $expected->{$sq} : $src_now->{$sq}) : $self->{rep_baseline}{$rq};
		my $got = Oracle::hashes($rsess, $rq)->{$rq};
		next if defined $want && $got eq $want;
		$ok = 0;
		my @diff;
		if (!$expected && $sq)
		{
			@diff = Oracle::row_diff([ Oracle::rows($self->{obs}, $sq) ], [ Oracle::rows($rsess, $rq) ]);
		}
		$self->fail('replica', "$label differs $when: source " . ($want // '?') . ", replica $got"
			  . (@diff ? "\n" . join("\n", @diff) : ''));
	}
	return $ok;
}

# ddl_took_effect EFF... - a transaction that ran DDL committed: each
# command whose effect the source's catalog shows changes the tables the
# oracles compare (a rename, a new table, a partition detached); one that
# did not take effect (the transaction failed at the source) changes nothing
sub ddl_took_effect
{
	my ($self, @effs) = @_;
	for my $e (@effs)
	{
		my ($ok, $err) = $self->{obs}->query($e->{check});
		die "checking DDL ($e->{check}): $err" if $err =~ /\S/;
		next unless $ok eq 't';
		$self->{stats}{ddl}++;
		if ($e->{op} eq 'rename_table')
		{
			for my $t (grep { $_->{id} == $e->{id} } @{ $self->{tables_now} })
			{
				$t->{name} = $e->{to};
				push @{ $self->{tables_ever} }, dclone($t);
			}
		}
		elsif ($e->{op} eq 'create_table' || $e->{op} eq 'detach')
		{
			push @{ $self->{tables_now} }, dclone($e->{table});
			push @{ $self->{tables_ever} }, dclone($e->{table});
		}
	}
}

# seq_states SESSION SCHEMA_KEY - { "schema.name" (source names) => [last_value, is_called] }
# of the workload's sequences, read where SCHEMA_KEY ('schema' on the
# source, 'rep_schema' on a replica) says they live
sub seq_states
{
	my ($self, $sess, $key) = @_;
	my %st;
	for my $q (@{ $self->{w}{schema}{seqs} // [] })
	{
		my ($o, $e) = $sess->query('SELECT last_value, is_called FROM ' . Gen::qn($q->{$key}, $q->{name}));
		die "reading sequence $q->{$key}.$q->{name}: $e" if $e =~ /\S/;
		my ($v, $c) = split /\|/, $o;
		$st{"$q->{schema}.$q->{name}"} = [ $v, $c eq 't' ? 1 : 0 ];
	}
	return \%st;
}

# compare_sequences SESSION MARK WHEN - each replica sequence where the
# rule README states puts it: from the replica's first state, every
# tide.seq state applied up to the point (MARK, or all of them at the
# end) moves it forward in its direction, never backward; a sequence
# --tables leaves out stays.  At the end, after tide sync-sequences, a
# sequence that cannot wrap is where the source's is.
sub compare_sequences
{
	my ($self, $sess, $m, $when) = @_;
	my @seqs = @{ $self->{w}{schema}{seqs} // [] };
	return 1 unless @seqs;
	my @em = @{ $self->{seq_emissions} // [] };
	if ($m)
	{
		if ($m->{kind} eq 'lsn')
		{
			@em = grep { lsn_num($_->{lsn}) <= lsn_num($m->{target}) } @em;
		}
		elsif (@em)
		{
			my $vals = join(', ', map { "($_, '$em[$_]{time}')" } 0 .. $#em);
			my ($n) = $self->{obs}->query("SELECT coalesce(max(i) + 1, 0) FROM (VALUES $vals) v(i, t) WHERE t::timestamptz <= '$m->{target}'::timestamptz");
			@em = @em[ 0 .. $n - 1 ];
		}
	}
	my $got = $self->seq_states($sess, 'rep_schema');
	my $src = $m ? undef : $self->seq_states($self->{obs}, 'schema');
	my $ok = 1;
	for my $q (@seqs)
	{
		my $n = "$q->{schema}.$q->{name}";
		my $want = $self->{seq_initial}{$n};
		my $inc;
		if (!$q->{excluded})
		{
			for my $e (@em)
			{
				my $x = $e->{seqs}{$n} or next;
				$inc = $x->[2];
				$want = [ $x->[0], $x->[1] ] if Oracle::seq_out($x->[0], $x->[1], $inc) * ($inc <=> 0)
				  > Oracle::seq_out($want->[0], $want->[1], $inc) * ($inc <=> 0);
			}
		}
		$inc //= 1;
		my $fmt = sub { "last_value $_[0][0], is_called " . ($_[0][1] ? 'true' : 'false') };
		if (Oracle::seq_out(@{ $got->{$n} }, $inc) != Oracle::seq_out(@$want, $inc))
		{
			$ok = 0;
			$self->fail('sequences', "sequence $n $when: the replica's is at " . $fmt->($got->{$n})
				  . ', the tide.seq states up to there put it at ' . $fmt->($want));
		}
		if ($src && !$q->{excluded} && $q->{kind} ne 'cycle'
			&& Oracle::seq_out(@{ $src->{$n} }, $inc) != Oracle::seq_out(@{ $got->{$n} }, $inc))
		{
			$ok = 0;
			$self->fail('sequences', "sequence $n $when, after tide sync-sequences: the source's is at "
				  . $fmt->($src->{$n}) . ', the replica\'s at ' . $fmt->($got->{$n}));
		}
	}
	return $ok;
}

# snapshot BEFORE - a commit (or an autocommit statement) just ran: the
# source's tables now, with the WAL insert position before (BEFORE) and
# after it.  The commit's end LSN, which tide.progress records, is in
# (before, after]; only the streamer's tide.seq transactions (and commits
# without changes) commit in between, and they change no table.
sub snapshot
{
	my ($self, $before) = @_;
	my @now = Oracle::compare_list($self->{w}, $self->{tables_now});
	# (one statement: one snapshot, one round trip per commit)
	my ($h, $after) = Oracle::hashes_at($self->{obs}, 'pg_current_wal_insert_lsn()', map { $_->[0] } grep { $_->[0] } @now);
	push @{ $self->{snaps} }, { before => lsn_num($before), after => lsn_num($after), cmp => \@now, hashes => $h };
}

# check_prefix WHEN - (after a kill -9 of the applier) prefix consistency:
# the replica equals the source as it was right after the transaction
# whose end LSN the replica's tide.progress row names, read in one
# snapshot of the replica with that row (a COMMIT the dead client had sent
# may still land: it is in the row too, or in neither).  A progress LSN in
# the window of a commit is that commit's end, unless something else
# committed inside the window (a tide.seq state): then the state before
# it is equal too.
sub check_prefix
{
	my ($self, $when) = @_;
	my $snaps = $self->{snaps} or return 1;
	# (oracle self-test) a replica row lost where the applier was killed
	$self->{prefix_tampered} = $self->tamper('rep_delete', $self->{db})
	  if ($self->{w}{tamper} // '') eq 'prefix_delete' && !$self->{prefix_tampered};
	my $rsess = Session->new($self->{rep}, $self->{db}, 'prefix');
	# (no table yet: the applier never committed; the row is read in
	# the snapshot the tables are)
	my ($o, $e) = $rsess->query("BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT to_regclass('tide.progress') IS NOT NULL");
	($o, $e) = $rsess->query("SELECT coalesce((SELECT max(end_lsn)::text FROM tide.progress WHERE slot = "
		  . Gen::ql($self->{slot}) . "), '0/0')") if $o eq 't' && $e !~ /\S/;
	$o = '0/0' if $o eq 'f';
	if ($e =~ /\S/)
	{
		$rsess->close;
		$self->fail('prefix', "$when: cannot read tide.progress on the replica: $e");
		return 0;
	}
	my $p = lsn_num($o);
	my $i = 0;
	$i++ while $i < $#$snaps && $snaps->[ $i + 1 ]{before} < $p;
	my @cand = ($i);
	push @cand, $i - 1 if $i > 0 && $p <= $snaps->[$i]{after};
	$self->{stats}{prefix_checks}++;
	my @why;
	for my $c (@cand)
	{
		my $sn = $snaps->[$c];
		my @d;
		for my $t (@{ $sn->{cmp} })
		{
			my ($sq, $rq, $label) = @$t;
			my $want = $sq ? $sn->{hashes}{$sq} : $self->{rep_baseline}{$rq};
			# (a table the other candidate's DDL made may be missing: the
			# error must not end the snapshot)
			my ($got, $he) = $rsess->query('SAVEPOINT h; ' . Oracle::hash_sql($rq));
			if ($he =~ /\S/)
			{
				$got = "error: $he";
				$got =~ s/\s+$//;
				$rsess->query('ROLLBACK TO SAVEPOINT h');
			}
			push @d, "$label: source " . ($want // '?') . ", replica $got" unless defined $want && $got eq $want;
		}
		if (!@d)
		{
			$rsess->close;
			$self->{log}->("prefix check $when: the replica at tide.progress $o equals the source after its commit $c of "
				  . $#$snaps);
			return 1;
		}
		push @why, "  the source after its commit $c of " . $#$snaps . ":\n    " . join("\n    ", @d);
	}
	$rsess->close;
	$self->fail('prefix', "$when: the replica, at tide.progress $o, is not the source's state at that point (jobs "
		  . ($self->{w}{jobs} // 1) . "):\n" . join("\n", @why));
	return 0;
}

sub has_segment
{
	my ($self) = @_;
	my @g = glob("$self->{segdir}/*.tseg*");
	return scalar @g;
}

sub segment_events
{
	my ($self) = @_;
	opendir(my $dh, $self->{segdir}) or die "cannot open $self->{segdir}: $!";
	my @segs = sort grep { /\.tseg(\.partial)?$/ } readdir($dh);
	closedir $dh;
	my @lines;
	for my $s (@segs)
	{
		my ($out, $err) = ('', '');
		IPC::Run::run([ $self->{tide}, 'inspect', '--json', '--verbose', "$self->{segdir}/$s" ], '<', \undef, '>', \$out, '2>', \$err,
			IPC::Run::timeout(120));
		if ($? != 0)
		{
			$self->fail('segments', "tide inspect $s: " . describe($?) . "\n" . substr($err, 0, 2000));
			next;
		}
		push @lines, split /\n/, $out;
	}
	$self->{stats}{segments} = scalar @segs;
	$self->{seq_emissions} = [ Oracle::seq_emissions(@lines) ];
	return Oracle::tide_events(@lines);
}

sub stop_follower
{
	my ($self) = @_;
	return unless $self->{apply_pid};
	my $age = time() - $self->{started}{ $self->{apply_pid} };
	usleep(int((2 - $age) * 1e6)) if $age < 2;
	kill 'TERM', $self->{apply_pid};
	my $st = $self->wait_pid($self->{apply_pid}, 60);
	$self->{apply_pid} = undef;
	my $code = defined $st && !($st & 127) ? $st >> 8 : -1;
	return if $code == 0 || ($code == 4 && $self->{rep_crashed});
	if ($code == 4)
	{
		$self->{follower_refused} //= $self->tail('follow', 6);
		return;
	}
	$self->fail('apply', 'the follower did not stop cleanly on SIGTERM (' . describe($st) . ")\n" . $self->tail('follow'));
}

sub bounded_apply
{
	my ($self, $name) = @_;
	if ($self->{w}{stream_bounded})
	{
		my $e = ($self->{obs}->query('SELECT pg_current_wal_lsn()'))[0];
		# with the network cut, a bounded run cannot reach its end: it keeps
		# reconnecting (a connect times out after 30 s) until stopped, as an
		# operator would stop it; nothing it did not make durable may be
		# confirmed (checked below)
		my $cut = $self->{proxy_used} && $self->{proxy_used}{state} ne 'up';
		my ($st, $out) = $self->run_tide($cut ? 3 : 120, 'stream_run', @{ $self->{stream_args} }, '--endpos', $e);
		my $scode = defined $st && !($st & 127) ? $st >> 8 : -1;
		if ($scode == 6 && $self->{enospc}) { $self->{stats}{enospc_exits}++; }
		elsif ($cut && !defined $st) { $self->{stats}{stream_cut_stops}++; $self->check_durable('network cut'); }
		elsif ($cut && $scode == 3 && $out =~ /could not connect to the source/)
		{
			# a directory that holds no history yet is not retried for: a
			# first connection that fails is exit code 3 (retry may help)
			$self->{stats}{stream_cut_stops}++;
			$self->check_durable('network cut');
		}
		elsif ($scode != 0) { $self->fail('stream', "tide stream --endpos $e: " . describe($st) . "\n$out"); }
	}
	my ($st, $out) = $self->run_tide(180, $name, @{ $self->{apply_args} });
	my $code = defined $st && !($st & 127) ? $st >> 8 : -1;
	return if $code == 0 || ($code == 4 && $self->{rep_crashed});
	if ($code == 4 && $out =~ /tide: error: cannot apply /)
	{
		# a refusal (a transaction the replica cannot take as the source
		# made it): judged at the end against what test_decoding says must
		# or may be refused, as the follower's (harness false alarm, seed
		# 20261207: a leaf TRUNCATE on a replica partitioned otherwise)
		$self->{follower_refused} //= $out;
		return;
	}
	$self->fail('apply', "tide apply (a bounded run): " . describe($st) . "\n$out");
}

# supervise - restart what died, as a service manager would: the streamer
# on exit code 3 (retry) or 6 once space is back; the follower on exit code
# 4 after a replica crash.  Anything else is a failure.
sub supervise
{
	my ($self) = @_;
	my $st = $self->reap($self->{stream_pid});
	if (defined $st)
	{
		$self->{stream_pid} = undef;
		my $code = $st & 127 ? -1 : $st >> 8;
		if ($code == 6 && $self->{enospc})
		{
			$self->{stream_enospc_exit} = 1;    # restarted when space is back
		}
		elsif ($code == 6 && time() - ($self->{enospc_off_at} // 0) < 10)
		{
			# it met the full disk just before the space came back
			$self->{stats}{enospc_exits}++;
			$self->{stream_pid} = $self->spawn('stream', @{ $self->{stream_args} });
		}
		else
		{
			$self->fail('stream', 'the streamer exited on its own (' . describe($st) . ")\n" . $self->tail('stream'))
			  unless $code == 3;
			$self->{stats}{stream_restarts}++;
			$self->{stream_pid} = $self->spawn('stream', @{ $self->{stream_args} });
		}
	}
	$st = $self->reap($self->{apply_pid});
	if (defined $st)
	{
		$self->{apply_pid} = undef;
		my $code = $st & 127 ? -1 : $st >> 8;
		if ($code == 4 && !$self->{rep_crashed})
		{
			# a refusal: judged at the end, against what test_decoding says
			# must or may be refused; not restarted (it would refuse again)
			$self->{follower_refused} = $self->tail('follow', 6);
		}
		elsif ($code == 4 && $self->{rep_crashed})
		{
			$self->{stats}{apply_restarts}++;
		}
		elsif ($code == 6 && !$self->{w}{knobs}{strict_follower} && $self->tail('follow', 3) =~ /could not read segment .*No such file or directory/)
		{
			# a new finding (README): the follower dies when the streamer sets
			# aside the .partial it was reading; a service manager restarts it
			$self->{stats}{follower_enoent}++;
			$self->{log}->('the follower exited 6 on a segment that vanished (known, strict_follower=0): restarted');
		}
		else
		{
			$self->fail('apply', 'the follower exited on its own (' . describe($st) . ")\n" . $self->tail('follow'));
		}
		$self->{rep_crashed} = 0;
	}
}

sub lsn_num { my ($hi, $lo) = split m{/}, $_[0]; return hex($hi) * 4294967296 + hex($lo); }

# check_durable - the slot never confirmed past what the segments hold
sub check_durable
{
	my ($self, $when) = @_;
	my $confirmed = $self->sql_src("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$self->{slot}'");
	for (1 .. 5)
	{
		my ($st, $out) = $self->run_tide(60, 'ls', 'ls', '--json', $self->{segdir});
		my $max = 0;
		for my $l (split /\n/, $out)
		{
			my ($c) = $l =~ /"covered_lsn":"([^"]+)"/;
			$max = lsn_num($c) if $c && lsn_num($c) > $max;
		}
		# (a new slot confirms its start before any segment holds anything)
		$max = lsn_num($self->{slot_start}) if $self->{slot_start} && lsn_num($self->{slot_start}) > $max;
		return 1 if !$confirmed || lsn_num($confirmed) <= $max;
		usleep(300_000);
	}
	$self->fail('durability', "$when: the slot confirmed $confirmed, past what the segments hold\n"
		  . scalar(($self->run_tide(60, 'ls', 'ls', $self->{segdir}))[1]));
	return 0;
}

sub fault
{
	my ($self, $kind, $sess, $mode) = @_;
	my $k = $self->{w}{knobs};
	return if $kind =~ /^enospc/ && !$self->{tmpfs};
	return if $kind =~ /^net/ && !$self->{proxy_used};
	$self->{stats}{faults}{$kind}++;
	if ($kind eq 'stream_kill')
	{
		if ($self->{stream_pid})
		{
			kill 'KILL', $self->{stream_pid};
			$self->wait_pid($self->{stream_pid}, 30);
			$self->{stream_pid} = undef;
			$self->check_durable('after kill -9 of the streamer');
			$self->{stream_pid} = $self->spawn('stream', @{ $self->{stream_args} }) unless $self->{enospc};
		}
	}
	elsif ($kind eq 'apply_kill')
	{
		if ($self->{apply_pid})
		{
			kill 'KILL', $self->{apply_pid};
			$self->wait_pid($self->{apply_pid}, 30);
			$self->{apply_pid} = undef;    # restarted by the step loop
			$self->check_prefix('after kill -9 of the follower');
		}
		elsif (!$self->{w}{follow})
		{
			# a bounded run killed at a random instant
			my $pid = $self->spawn('apply_killed', @{ $self->{apply_args} });
			usleep(int(rand(1_500_000)));
			kill 'KILL', $pid;
			$self->wait_pid($pid, 30);
			$self->check_prefix('after kill -9 of a bounded run');
		}
	}
	elsif ($kind eq 'src_restart')
	{
		$_->close for values %{ $sess // {} };
		%{ $sess // {} } = ();
		$self->{obs}->close;
		$self->{src}->stop('immediate');
		$self->{src}->start;
		$self->{obs} = Session->new($self->{src}, $self->{db}, 'observer');
	}
	elsif ($kind eq 'rep_restart')
	{
		$self->{rep}->stop('immediate');
		$self->{rep}->start;
		$self->{rep_crashed} = 1;
	}
	elsif ($kind eq 'enospc_on')
	{
		return unless $self->{tmpfs};
		$self->{enospc} = 1;
		my $f = "$self->{tmpfs}/filler";
		open my $fh, '>', $f or die "cannot create $f: $!";
		my $block = 'x' x 65536;
		while (1) { my $n = syswrite($fh, $block); last unless $n; }
		close $fh;
	}
	elsif ($kind eq 'enospc_off')
	{
		return unless $self->{enospc};
		# give a streamer that had something to write the time to fail
		usleep(800_000);
		$self->supervise;
		$self->check_durable('disk full');
		unlink "$self->{tmpfs}/filler";
		$self->{enospc} = 0;
		$self->{enospc_off_at} = time();
		if ($self->{stream_enospc_exit})
		{
			$self->{stats}{enospc_exits}++;
			$self->{stream_enospc_exit} = 0;
		}
		$self->{stream_pid} //= $self->spawn('stream', @{ $self->{stream_args} }) unless $self->{w}{stream_bounded};
	}
	elsif ($kind eq 'net_off')
	{
		$self->{proxy_used}->cut($mode) if $self->{proxy_used};
	}
	elsif ($kind eq 'net_on')
	{
		return unless $self->{proxy_used} && $self->{proxy_used}{state} ne 'up';
		$self->{proxy_used}->restore;
		return if $k->{netcut_overlap} || !$self->{stream_pid};
		# the streamer catches up with what was committed while it was cut off
		my $lsn = $self->{last_commit_lsn} or return;
		my $deadline = time() + 90;
		while (time() < $deadline)
		{
			my ($o) = $self->{obs}->query("SELECT confirmed_flush_lsn >= '$lsn' FROM pg_replication_slots WHERE slot_name = '$self->{slot}'");
			return if $o eq 't';
			$self->supervise;
			usleep(100_000);
		}
		$self->fail('stream', "the streamer did not catch up with $lsn within 90 s of the network coming back\n" . $self->tail('stream'));
	}
	elsif ($kind eq 'slot_drop')
	{
		# checked at the end of the run
	}
}

sub cleanup
{
	my ($self) = @_;
	for my $pid (keys %{ $self->{live} })
	{
		kill 'KILL', $pid;
		waitpid($pid, 0);
	}
	$self->{live} = {};
	$self->{proxy}->restore if $self->{proxy} && $self->{proxy}{state} ne 'up';
	unlink "$self->{tmpfs}/filler" if $self->{tmpfs};
	eval { $self->{obs}->close if $self->{obs} };
	return unless $self->{dbs_made};
	my $db = $self->{db};
	eval {
		# a walsender may still hold the slot for a moment
		$self->{src}->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_replication_slots WHERE database = '$db' AND active");
		$self->{src}->safe_psql('postgres', "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '$db'");
		$self->{src}->safe_psql('postgres', qq{DROP DATABASE IF EXISTS "$db" WITH (FORCE)});
		$self->{rep}->safe_psql('postgres', qq{DROP DATABASE IF EXISTS "$db" WITH (FORCE)});
		$self->{rep}->safe_psql('postgres', qq{DROP DATABASE IF EXISTS "${db}_u" WITH (FORCE)});
		1;
	} or $self->{log}->("cleanup: $@");
	$self->{dbs_made} = 0;
}

1;
