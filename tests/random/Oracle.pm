# tests/random/Oracle.pm - what a run is checked against:
#   1. table contents: count + md5 of every row's text in a collation-free
#      order (duplicates show), source against replica;
#   2. the segments against a test_decoding slot over the same WAL, event
#      for event (BEGIN/COMMIT, each change with its old and new values,
#      TRUNCATE with its relations and flags, messages in stream order);
#   3. which transactions apply must refuse (no replica identity, a
#      TRUNCATE that cannot be replayed exactly), derived from test_decoding.
package Oracle;

use strict;
use JSON::PP;
use warnings;
use Gen;

# ---- 1. table contents

sub hash_sql
{
	my ($qname) = @_;
	return "SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, E'\\n' ORDER BY x::text COLLATE \"C\")), '') FROM $qname x";
}

# hashes SESSION [QNAME, ...] - { qname => "count:md5" } ("error: ..." when
# the query fails)
sub hashes
{
	my ($sess, @q) = @_;
	my %h;
	for my $q (@q)
	{
		my ($o, $e) = $sess->query(hash_sql($q));
		$h{$q} = $e =~ /\S/ ? "error: $e" : $o;
	}
	return \%h;
}

# hashes_all SESSION [QNAME, ...] - as hashes, in one statement (a
# snapshot taken after every commit must be cheap); table by table when
# one of them fails
sub hashes_all
{
	my ($sess, @q) = @_;
	return (hashes_at($sess, undef, @q))[0];
}

# hashes_at SESSION EXPR [QNAME, ...] - (hashes, the value of the SQL
# expression EXPR) read in the same statement
sub hashes_at
{
	my ($sess, $expr, @q) = @_;
	my @cols = ((defined $expr ? "($expr)::text" : ()), map { '(' . hash_sql($_) . ')' } @q);
	return ({}, undef) unless @cols;
	my ($o, $e) = $sess->query('SELECT concat_ws(E\'\\t\', ' . join(', ', @cols) . ')');
	my @v = $e =~ /\S/ ? () : split /\t/, $o, -1;
	my $x = defined $expr && @v ? shift @v : undef;
	if (@v != @q)
	{
		# one table failed (its error shows in its entry)
		($x) = $sess->query("SELECT ($expr)::text") if defined $expr && !defined $x;
		return (hashes($sess, @q), $x);
	}
	my %h;
	@h{@q} = @v;
	return (\%h, $x);
}

# rows SESSION QNAME - the rows' text, sorted
sub rows
{
	my ($sess, $q) = @_;
	my ($o, $e) = $sess->query("SELECT replace(replace(x::text, E'\\\\', E'\\\\\\\\'), E'\\n', E'\\\\n') FROM $q x ORDER BY x::text COLLATE \"C\"");
	return ("error: $e") if $e =~ /\S/;
	return split /\n/, $o;
}

# row_diff A B - a few lines saying which rows only one side has
sub row_diff
{
	my ($a, $b, $max) = @_;
	$max //= 6;
	my (%ca, %cb);
	$ca{$_}++ for @$a;
	$cb{$_}++ for @$b;
	my @l;
	for my $r (sort keys %ca)
	{
		my $d = $ca{$r} - ($cb{$r} // 0);
		push @l, "  source only ($d): $r" if $d > 0;
	}
	for my $r (sort keys %cb)
	{
		my $d = $cb{$r} - ($ca{$r} // 0);
		push @l, "  replica only ($d): $r" if $d > 0;
	}
	my $n = @l;
	@l = (@l[ 0 .. $max - 1 ], "  ... " . ($n - $max) . " more") if $n > $max;
	$_ = length($_) > 240 ? substr($_, 0, 240) . '...' : $_ for @l;
	return @l;
}

# compare_list WORKLOAD - [ source qname | undef, replica qname, label ]:
# every replicated top-level table, and the replica's own tables (the
# table left out by --tables, the replica-only one) whose content must stay
# as the replica schema left it
sub compare_list
{
	my ($w, $tables) = @_;
	my @l;
	for my $t (@{ $tables // $w->{schema}{tables} })
	{
		my $rq = Gen::qn($t->{rep_schema}, $t->{name});
		if ($t->{excluded}) { push @l, [ undef, $rq, "$t->{schema}.$t->{name} (left out by --tables)" ]; }
		else { push @l, [ Gen::qn($t->{schema}, $t->{name}), $rq, "$t->{schema}.$t->{name}" ]; }
	}
	my $ro = $w->{schema}{reponly};
	push @l, [ undef, Gen::qn($ro->{schema}, $ro->{name}), "$ro->{schema}.$ro->{name} (replica only)" ] if $ro;
	return @l;
}

# ---- 2. event streams

# parse a td qualified name list at $$s from pos: "a"."b", c.d, ...
sub td_ident
{
	my ($s, $pos) = @_;
	if (substr($s, $pos, 1) eq '"')
	{
		my $v = '';
		my $i = $pos + 1;
		while ($i < length $s)
		{
			my $c = substr($s, $i, 1);
			if ($c eq '"')
			{
				if (substr($s, $i + 1, 1) eq '"') { $v .= '"'; $i += 2; next; }
				return ($v, $i + 1);
			}
			$v .= $c;
			$i++;
		}
		return ($v, $i);
	}
	my ($v) = substr($s, $pos) =~ /^([^".,:\[\s]*)/;
	return ($v, $pos + length $v);
}

sub td_qname
{
	my ($s, $pos) = @_;
	my ($a, $p) = td_ident($s, $pos);
	if (substr($s, $p, 1) eq '.')
	{
		my ($b, $p2) = td_ident($s, $p + 1);
		return ("$a.$b", $p2);
	}
	return ($a, $p);
}

my $OPAQUE = qr/^(bit|bit varying|point|box|circle|line|lseg|path|polygon|reg\w+|int4range|int8range|numrange|daterange|tsrange|tstzrange)(\(\d+\))?(\[\])*$/;

# td_tuple STRING POS STOP - ([ [col, value], ... ], pos); stops before STOP
sub td_tuple
{
	my ($s, $pos, $stop) = @_;
	my @cols;
	while ($pos < length $s)
	{
		$pos++ while substr($s, $pos, 1) eq ' ';
		last if $pos >= length $s;
		last if defined $stop && substr($s, $pos, length $stop) eq $stop;
		my ($name, $p) = td_ident($s, $pos);
		return (\@cols, $pos, "column name at $pos") unless substr($s, $p, 1) eq '[';
		my $te = index($s, ']:', $p);
		return (\@cols, $pos, "type at $p") if $te < 0;
		my $type = substr($s, $p + 1, $te - $p - 1);
		$p = $te + 2;
		my $v;
		if (substr($s, $p, 1) eq "'")
		{
			$v = '';
			my $i = $p + 1;
			while ($i < length $s)
			{
				my $c = substr($s, $i, 1);
				if ($c eq "'")
				{
					if (substr($s, $i + 1, 1) eq "'") { $v .= "'"; $i += 2; next; }
					last;
				}
				$v .= $c;
				$i++;
			}
			$p = $i + 1;
		}
		else
		{
			($v) = substr($s, $p) =~ /^(\S*)/;
			$p += length $v;
			$v = undef if $v eq 'null';
			$v = '<unchanged>' if defined $v && $v eq 'unchanged-toast-datum';
		}
		$v = '<bin>' if defined $v && $v ne '<unchanged>' && $type =~ $OPAQUE;
		# tide's JSON rendering cannot tell a JSON null from an SQL NULL
		$v = undef if defined $v && $v eq 'null' && $type =~ /^jsonb?$/;
		push @cols, [ $name, $v ];
		$pos = $p;
	}
	return (\@cols, $pos, undef);
}

sub fmt_tuple
{
	my ($cols, $drop_nulls) = @_;
	return join(' ', map { "$_->[0]=" . (defined $_->[1] ? "'$_->[1]'" : 'null') }
		  grep { !($drop_nulls && !defined $_->[1]) } @$cols);
}

# td_events LINES - canonical events
sub td_events
{
	my @ev;
	for my $line (@_)
	{
		if ($line =~ /^BEGIN/) { push @ev, 'BEGIN'; next; }
		if ($line =~ /^COMMIT/) { push @ev, 'COMMIT'; next; }
		if ($line =~ /^message: transactional: (\d) prefix: (.*?), sz: (\d+) content:(.*)$/s)
		{
			push @ev, "MESSAGE " . ($1 ? 'tx' : 'nontx') . " prefix='$2' content='$4'";
			next;
		}
		if ($line =~ /^table /)
		{
			# table NAME[, NAME...]: OP: ...
			my $pos = 6;
			my @names;
			while (1)
			{
				my ($n, $p) = td_qname($line, $pos);
				push @names, $n;
				if (substr($line, $p, 2) eq ', ') { $pos = $p + 2; next; }
				$pos = $p;
				last;
			}
			my $rest = substr($line, $pos);
			if ($rest =~ /^: TRUNCATE: (.*)$/)
			{
				my $f = $1;
				push @ev, 'TRUNCATE ' . join(', ', @names) . ($f =~ /cascade/ ? ' cascade' : '') . ($f =~ /restart_seqs/ ? ' restart' : '');
				next;
			}
			my ($op) = $rest =~ /^: (INSERT|UPDATE|DELETE): ?/ or do { push @ev, "UNPARSED $line"; next; };
			my $p = $pos + length($&);
			my ($old, $new, $err);
			if (substr($line, $p) =~ /^\(no-tuple-data\)/)
			{
				push @ev, "$op $names[0]: (no-tuple-data)";
				next;
			}
			if ($op eq 'UPDATE' && substr($line, $p, 9) eq 'old-key: ')
			{
				($old, $p, $err) = td_tuple($line, $p + 9, 'new-tuple: ');
				$p += length 'new-tuple: ';
			}
			my $cols;
			($cols, $p, $err) = td_tuple($line, $p) unless $err;
			if ($err) { push @ev, "UNPARSED ($err) $line"; next; }
			if ($op eq 'DELETE') { push @ev, "DELETE $names[0]: old: " . fmt_tuple($cols, 1); next; }
			my $e = "$op $names[0]:";
			$e .= ' old: ' . fmt_tuple($old, 1) if $old;
			$e .= ' new: ' . fmt_tuple($cols);
			push @ev, $e;
			next;
		}
		push @ev, "UNPARSED $line";
	}
	# read with skip-empty-xacts off (so a transaction's messages follow its
	# BEGIN, as in tide); tide sends nothing for a transaction without changes
	my @out;
	for my $e (@ev)
	{
		if ($e eq 'COMMIT' && @out && $out[-1] eq 'BEGIN') { pop @out; next; }
		push @out, $e;
	}
	return @out;
}

# a small JSON reader that keeps each value's text: strings come back
# decoded, everything else (numbers, objects) as the exact text
sub json_value
{
	my ($s, $pr) = @_;
	my $c = substr($s, $$pr, 1);
	if ($c eq '"')
	{
		my $v = '';
		my $i = $$pr + 1;
		while ($i < length $s)
		{
			my $ch = substr($s, $i, 1);
			if ($ch eq '\\')
			{
				my $n = substr($s, $i + 1, 1);
				if ($n eq 'u')
				{
					my $cp = hex(substr($s, $i + 2, 4));
					$v .= $cp < 0x80 ? chr($cp) : do { my $u = chr($cp); utf8::encode($u); $u };
					$i += 6;
					next;
				}
				$v .= { n => "\n", t => "\t", r => "\r", b => "\b", f => "\f" }->{$n} // $n;
				$i += 2;
				next;
			}
			last if $ch eq '"';
			$v .= $ch;
			$i++;
		}
		$$pr = $i + 1;
		return ('str', $v);
	}
	if ($c eq '{' || $c eq '[')
	{
		my $start = $$pr;
		my $depth = 0;
		my $i = $$pr;
		while ($i < length $s)
		{
			my $ch = substr($s, $i, 1);
			if ($ch eq '"')
			{
				my $p = $i;
				json_value($s, \$p);
				$i = $p;
				next;
			}
			$depth++ if $ch eq '{' || $ch eq '[';
			$depth-- if $ch eq '}' || $ch eq ']';
			$i++;
			last if $depth == 0;
		}
		$$pr = $i;
		return ('raw', substr($s, $start, $i - $start));
	}
	my ($v) = substr($s, $$pr) =~ /^([^,}\]]*)/;
	$$pr += length $v;
	return ('raw', $v);
}

# json_object TEXT - [ [key, kind, value], ... ]
sub json_object
{
	my ($s) = @_;
	my @kv;
	my $p = 0;
	$p++ while substr($s, $p, 1) =~ /\s/;
	return \@kv unless substr($s, $p, 1) eq '{';
	$p++;
	while ($p < length $s)
	{
		$p++ while substr($s, $p, 1) =~ /[\s,]/;
		last if substr($s, $p, 1) eq '}';
		my (undef, $key) = json_value($s, \$p);
		$p++ while substr($s, $p, 1) =~ /[\s:]/;
		my $start = $p;
		my ($kind, $v) = json_value($s, \$p);
		push @kv, [ $key, $kind, $v, substr($s, $start, $p - $start) ];
	}
	return \@kv;
}

sub tide_tuple
{
	my ($obj, $types, $drop_nulls) = @_;
	my @cols;
	for my $kv (@{ json_object($obj) })
	{
		my ($name, $kind, $v, $raw) = @$kv;
		# json and jsonb values are embedded as JSON: their text is the raw
		# one (JSON null and SQL NULL look alike there)
		($kind, $v) = ('raw', $raw) if ($types->{$name} // '') =~ /^jsonb?$/;
		if ($kind eq 'raw')
		{
			$v = undef if $v eq 'null';
			$v = '<unchanged>' if defined $v && $v =~ /^\{"unchanged-toast"/;
		}
		$v = '<bin>' if defined $v && $v ne '<unchanged>' && ($types->{$name} // '') =~ $OPAQUE;
		push @cols, [ $name, $v ];
	}
	return fmt_tuple(\@cols, $drop_nulls);
}

# tide_events LINES - canonical events from `tide inspect --json` lines
sub tide_events
{
	my @ev;
	my %types;    # "schema.table" => { column => type name }
	for my $line (@_)
	{
		next if $line =~ /^# SEGMENT /;    # --verbose: the segment's header
		my $top = json_object($line);
		my %f = map { $_->[0] => $_->[2] } @$top;
		my $type = $f{type} // '';
		if ($type eq 'begin') { push @ev, 'BEGIN'; next; }
		if ($type eq 'commit') { push @ev, 'COMMIT'; next; }
		next if $type eq 'startup' || $type eq 'origin';
		next if $type eq 'ddl';    # inspect's reading of the tide.ddl message before it
		if ($type eq 'relation')
		{
			my %t;
			my $cols = $f{columns};
			while ($cols =~ /\{"name":("(?:[^"\\]|\\.)*"),"type":("(?:[^"\\]|\\.)*")/g)
			{
				my ($n, $ty) = ($1, $2);
				my $p = 0;
				(undef, $n) = json_value($n, \$p);
				$p = 0;
				(undef, $ty) = json_value($ty, \$p);
				$t{$n} = $ty;
			}
			$types{"$f{schema}.$f{table}"} = \%t;
			next;
		}
		if ($type eq 'message')
		{
			push @ev, 'MESSAGE ' . ($f{transactional} eq 'true' ? 'tx' : 'nontx') . " prefix='$f{prefix}' content='$f{content}'";
			next;
		}
		if ($type eq 'truncate')
		{
			# `tide inspect --json` does not escape quotes in these names:
			# take the array apart by its separators
			my ($arr) = $line =~ /"relations":\[(.*)\],"cascade"/;
			$arr //= '';
			$arr =~ s/^"//;
			$arr =~ s/"$//;
			my @n = map { my $x = $_; $x =~ s/\\(.)/$1/g; $x } split /","/, $arr;
			my ($casc) = $line =~ /"cascade":(true|false)/;
			my ($rest) = $line =~ /"restart_identity":(true|false)/;
			push @ev, 'TRUNCATE ' . join(', ', @n) . (($casc // '') eq 'true' ? ' cascade' : '') . (($rest // '') eq 'true' ? ' restart' : '');
			next;
		}
		if ($type =~ /^(insert|update|delete)$/)
		{
			my $tn = "$f{schema}.$f{table}";
			my $ty = $types{$tn} // {};
			my $op = uc $type;
			if ($op eq 'DELETE')
			{
				my $old = $f{old_key} // $f{old};
				push @ev, defined $old ? "DELETE $tn: old: " . tide_tuple($old, $ty, 1) : "DELETE $tn: (no-tuple-data)";
				next;
			}
			my $e = "$op $tn:";
			my $old = $f{old_key} // $f{old};
			$e .= ' old: ' . tide_tuple($old, $ty, 1) if defined $old && $op eq 'UPDATE';
			$e .= ' new: ' . tide_tuple($f{new}, $ty);
			push @ev, $e;
			next;
		}
		push @ev, "UNPARSED $line";
	}
	return @ev;
}

# seq_emissions LINES - the tide.seq states in `tide inspect --json
# --verbose` lines, in commit order: { lsn, time (of the commit), seqs =>
# { "schema.name" => [last_value, is_called, increment] } }
sub seq_emissions
{
	my (@em, $begin);
	my $js = JSON::PP->new;
	for my $line (@_)
	{
		if ($line =~ /^\{"type":"begin"/)
		{
			$begin = $js->decode($line);
			next;
		}
		next unless $line =~ /^\{"type":"message"/ && index($line, '"prefix":"tide.seq"') >= 0;
		my $m = $js->decode($line);
		next unless $m->{transactional} && $m->{prefix} eq 'tide.seq';
		my $c = $js->decode(ref $m->{content} ? $js->encode($m->{content}) : $m->{content});
		my %s = map { ("$_->{schema}.$_->{name}" => [ $_->{last_value}, $_->{is_called} ? 1 : 0, $_->{increment} ]) }
		  @{ $c->{sequences} };
		push @em, { lsn => $begin->{lsn}, time => $begin->{time}, seqs => \%s };
	}
	return @em;
}

# seq_out LAST_VALUE IS_CALLED INCREMENT - the last value the sequence handed
# out (before the first nextval: one increment before its start)
sub seq_out { my ($v, $called, $inc) = @_; return $called ? $v : $v - $inc; }

# compare_events TIDE TD - (ok, message)
sub compare_events
{
	my ($tide, $td) = @_;
	my $n = @$td > @$tide ? scalar @$td : scalar @$tide;
	for my $i (0 .. $n - 1)
	{
		my ($a, $b) = ($tide->[$i], $td->[$i]);
		next if defined $a && defined $b && $a eq $b;
		my $from = $i > 3 ? $i - 3 : 0;
		my @ctx;
		for my $j ($from .. $i + 2)
		{
			last if $j >= $n;
			push @ctx, sprintf("  %s %5d segments:      %s\n        test_decoding: %s", $j == $i ? '>' : ' ', $j,
				short($tide->[$j]), short($td->[$j]));
		}
		return (0, "first difference at event $i of " . scalar(@$td) . " (segments have " . scalar(@$tide) . "):\n" . join("\n", @ctx));
	}
	return (1, undef);
}

sub short
{
	my ($s) = @_;
	return '(end)' unless defined $s;
	return length($s) > 300 ? substr($s, 0, 300) . '...' : $s;
}

# ---- 3. refusals

# expectations WORKLOAD TD_EVENTS - the transactions (in commit order, from
# 0) that apply must or may refuse: [ { txn, level, tables, why } ]
sub expectations
{
	my ($w, $td, $tables) = @_;
	my %tab;    # "schema.table" (source names, leaves too; every name DDL gave it) => table
	for my $t (@{ $tables // $w->{schema}{tables} })
	{
		$tab{"$t->{schema}.$t->{name}"} = $t;
		$tab{"$t->{schema}.$_"} = $t for @{ $t->{leaves} // [] };
	}
	my $ro = $w->{schema}{reponly};
	my @out;
	my $txn = -1;
	for my $e (@$td)
	{
		$txn++ if $e eq 'BEGIN';
		my ($op, $name) = $e =~ /^(UPDATE|DELETE|TRUNCATE) (.*?)(?::| cascade| restart|$)/ or next;
		if ($op eq 'TRUNCATE')
		{
			my ($list) = $e =~ /^TRUNCATE (.*?)(?: cascade)?(?: restart)?$/;
			my @names = split /, /, $list;
			for my $n (@names)
			{
				my $t = $tab{$n} or next;
				next if $t->{excluded};
				my ($leaf) = $n =~ /^\Q$t->{schema}\E\.(.*)$/;
				if ($t->{rep_diff} && $leaf ne $t->{name})
				{
					push @out, { txn => $txn, level => 'may', tables => [ $n ], why => "TRUNCATE of $n, a leaf the replica partitions differently" };
				}
				for my $ref (grep { defined } $ro, @{ $w->{schema}{rep_refs} // [] })
				{
					next unless $t->{id} == $ref->{target};
					push @out, { txn => $txn, level => 'must', tables => [ $ref->{name}, $n ],
						why => "TRUNCATE of $n, referenced on the replica by $ref->{name}" };
				}
			}
			next;
		}
		my $t = $tab{$name} or next;
		next if $t->{excluded};
		if ($t->{kind} =~ /^(keyless|nothing)$/)
		{
			push @out, { txn => $txn, level => 'must', tables => [ $t->{name} ], why => "$op on $name, a table without replica identity" };
		}
	}
	return \@out;
}

1;
