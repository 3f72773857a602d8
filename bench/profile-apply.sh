#!/usr/bin/env bash
# bench/profile-apply.sh - where the time of a catch-up goes: the replica's
# backends and tide, profiled with perf during bench/apply.sh's runs.
#
# Usage: bench/profile-apply.sh [--jobs N] insert|tpcb [SIZE] [WORKDIR]
#   runs bench/apply.sh --jobs N (default 4) with PROFILE_DIR=WORKDIR/profile
#   (tide apply and tide apply --jobs N, each recorded system-wide with
#   perf, DWARF call chains, and the PIDs that belong to the run sampled
#   while it runs), then prints for each run and each group of processes
#   (tide's main thread: reader and dispatcher; tide's other threads: the
#   --jobs workers; the replica's backends; its background processes: WAL
#   writer, checkpointer) the CPU seconds, the CPU per source transaction,
#   the shares of what the samples were doing (by the first matching frame
#   of a category, in the order below) and the top functions by own time.
# The machine's other processes are in the recording but not in the
# figures (they are filtered by PID).  perf's own overhead and its DWARF
# unwinding make the profiled runs slower: their seconds are not the
# benchmark's, their shares are.  PostgreSQL's binary has no symbol table
# here: its static functions show as "postgres+0x..." in the top list and
# are counted in the category of the exported function that called them.
# REPORT_ONLY=1 only analyses an earlier recording in WORKDIR/profile.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
jobs=4
if [ "${1:-}" = --jobs ]; then jobs=${2:?--jobs needs a number}; shift 2; fi
kind=${1:-insert}
case $kind in insert) size=${2:-5000} ;; tpcb) size=${2:-50000} ;;
	*) echo "usage: $0 [--jobs N] insert|tpcb [SIZE] [WORKDIR]" >&2; exit 2 ;; esac
W=${3:-/tmp/tide-bench-profile}
P=$W/profile
command -v perf >/dev/null || { echo "perf is not installed (linux-perf)" >&2; exit 1; }

if [ -z "${REPORT_ONLY:-}" ]; then
	rm -rf "$P"; mkdir -p "$P"
	PROFILE_DIR=$P PERF_RECORD="--call-graph dwarf,8192 -F ${PERF_FREQ:-300}" \
		"$here/apply.sh" --jobs "$jobs" "$kind" "$size" "$W" | tee "$P/apply.log"
fi
srcxacts=$(sed -n 's/^workload .*: \([0-9]*\) source transactions.*/\1/p' "$P/apply.log")

# The categories, in order: a sample counts for the first whose pattern
# matches one of its frames (so a WAL insert made by heap_insert is WAL,
# and a jsonb parse inside COPY is jsonb).
categories='
commit: WAL flush and fsync|^(XLogFlush|issue_xlog_fsync|XLogBackgroundFlush|pg_fdatasync|pg_fsync)$
WAL insert and write|^(XLogInsert|XLogInsertRecord|XLogRecordAssemble|XLogWrite|AdvanceXLInsertBuffer|XLogBeginInsert)$
jsonb input|^(jsonb_in|jsonb_recv|pg_parse_json|pushJsonbValue|JsonbValueToJsonb)$
other type input|^(InputFunctionCall|ReceiveFunctionCall|OidInputFunctionCall)$
index insert|^(index_insert|btinsert|_bt_doinsert|ExecInsertIndexTuples)$
heap insert/update/delete|^(heap_insert|heap_multi_insert|heap_update|heap_delete|simple_heap_update|RelationGetBufferForTuple)$
sequential scans and hash joins (set-based UPDATE/DELETE)|^(heap_getnextslot|heapgettup|heapgettup_pagemode|SeqNext|ExecSeqScan|ExecHashJoin|MultiExecHash|ExecHashTableInsert|ExecHashGetHashValue)$
index lookups|^(index_getnext_slot|index_getnext_tid|index_fetch_heap|_bt_first|_bt_search|heap_hot_search_buffer|heapam_index_fetch_tuple|ExecIndexScan|ExecNestLoop|IndexNext)$
COPY parsing (lines, fields)|^(NextCopyFrom|NextCopyFromRawFields|CopyFrom|CopyGetData|CopyMultiInsertInfoFlush|BeginCopyFrom)$
parse, analyze, plan|^(pg_parse_query|raw_parser|parse_analyze_fixedparams|parse_analyze_varparams|pg_analyze_and_rewrite_fixedparams|pg_analyze_and_rewrite_varparams|pg_plan_queries|planner|standard_planner|GetCachedPlan|RevalidateCachedQuery)$
executor, other|^(ExecutorRun|standard_ExecutorRun|ExecutorStart|standard_ExecutorStart|ExecutorEnd|ExecModifyTable|PortalRun)$
commit, other|^(CommitTransactionCommand|CommitTransaction|finish_xact_command|AbortCurrentTransaction)$
client protocol and socket|^(pq_getbyte|pq_getmessage|pq_getbytes|secure_read|secure_write|pq_flush|ReadCommand|internal_flush|pq_putmessage)$
zstd decompress|^ZSTD_
segment reading and decoding (proto)|^(proto_|seg_|tide_store|store_)
dependency tracking and dispatch (--jobs)|^(deptrack_|apply_jobs_|dispatch$|table_gate$|add_depkey$|jobs_)
libpq (send, receive)|^(PQ|pq[A-Z]|pqsecure|pqSend|pqFlush|pqReadData|pqPutMsg|pqGet)
rendering, folding (COPY lines, statements)|^(apply_copy|apply_render|render_|coalesce|coal|apply_stmt|stmt_|copy_|apply_change$|apply_rel)
waiting on locks/latches (spinning)|^(LWLockAcquire|LockAcquireExtended|ProcSleep|WaitEventSetWait|pthread_cond_|__futex|futex_)
memory allocation|^(malloc|free|realloc|calloc|_int_malloc|_int_free|palloc|pfree|MemoryContext|AllocSet)
'

# analyse NAME - the groups and their shares for one recorded run
analyse() {
	local name=$1
	[ -s "$P/$name.perf" ] || { echo "no recording $P/$name.perf" >&2; return 1; }
	perf script -i "$P/$name.perf" -F pid,tid,period,ip,sym,dso 2>/dev/null |
		awk -v pidfile="$P/$name.pids" -v cats="$categories" -v nx="$srcxacts" -v name="$name" '
		function flush_sample(   g, c, i, k) {
			if (!ins) return
			ins = 0
			g = role[tid]
			if (g == "") g = role[pid]
			if (g == "") return
			cpu[g] += period
			c = "other"
			for (k = 1; k <= ncat && c == "other"; k++)
				for (i = 1; i <= nf; i++)
					if (fr[i] ~ cpat[k]) { c = cname[k]; break }
			if (c == "other" && kern) c = "kernel (other syscalls, page faults)"
			share[g, c] += period
			seen[g, c] = 1
			self[g, leaf] += period
		}
		BEGIN {
			while ((getline line < pidfile) > 0) {
				split(line, a, " ")
				r = a[2] == "tide-main" ? "tide main thread (reader, dispatcher)" : \
					a[2] == "tide-thread" ? "tide other threads (--jobs workers)" : \
					a[2] == "backend" ? "replica backends" : "replica background (walwriter, checkpointer, ...)"
				if (role[a[1]] != "replica backends")
					role[a[1]] = r
			}
			n = split(cats, cl, "\n")
			for (i = 1; i <= n; i++) {
				if (cl[i] == "") continue
				p = index(cl[i], "|")
				ncat++; cname[ncat] = substr(cl[i], 1, p - 1); cpat[ncat] = substr(cl[i], p + 1)
			}
		}
		/^[^\t]/ {
			flush_sample()
			split($1, pt, "/"); pid = pt[1]; tid = pt[2]; period = $2
			ins = 1; nf = 0; kern = 0; leaf = ""
			next
		}
		/^\t/ {
			# "\t addr sym+off (dso)"
			s = $2; d = $NF
			sub(/\+0x[0-9a-f]+$/, "", s)
			if (s == "[unknown]") {
				d2 = d; gsub(/[()]/, "", d2); sub(/.*\//, "", d2)
				s = d2 "+0x" $1
			}
			if (d ~ /kernel/) kern = 1
			nf++; fr[nf] = s
			if (leaf == "") leaf = (d ~ /kernel/ ? "[k] " : "") s
			next
		}
		END {
			flush_sample()
			for (g in cpu) total += cpu[g]
			printf "\n== %s: CPU by group (%d source transactions)\n", name, nx
			printf "%-52s %9s %7s %12s\n", "group", "CPU s", "share", "CPU us/txn"
			for (g in cpu)
				printf "%-52s %9.2f %6.1f%% %12.1f\n", g, cpu[g] / 1e9, 100 * cpu[g] / total, cpu[g] / 1e3 / nx
			printf "%-52s %9.2f\n", "all", total / 1e9
			for (g in cpu) {
				printf "\n-- %s: %.2f CPU s; what its samples were doing\n", g, cpu[g] / 1e9
				for (k = 0; k <= ncat + 2; k++) {
					c = k == 0 ? "" : k <= ncat ? cname[k] : k == ncat + 1 ? "kernel (other syscalls, page faults)" : "other"
					if (c != "" && seen[g, c])
						printf "   %5.1f%%  %-48s %8.1f us/txn\n", 100 * share[g, c] / cpu[g], c, share[g, c] / 1e3 / nx
				}
				# the top functions by own samples
				m = 0
				for (key in self) {
					split(key, kk, SUBSEP)
					if (kk[1] == g) { m++; tv[m] = self[key]; tk[m] = kk[2] }
				}
				for (i = 1; i <= m; i++)
					for (j = i + 1; j <= m; j++)
						if (tv[j] > tv[i]) { t = tv[i]; tv[i] = tv[j]; tv[j] = t; t = tk[i]; tk[i] = tk[j]; tk[j] = t }
				printf "   top functions (own time):"
				for (i = 1; i <= m && i <= 12; i++)
					printf "%s %s %.1f%%", i == 1 ? "" : ",", tk[i], 100 * tv[i] / cpu[g]
				printf "\n"
				delete tv; delete tk
			}
		}'
}

for r in apply "apply$jobs"; do
	[ "$r" = apply1 ] && continue
	secs=$(cut -d' ' -f1 "$W/$r.time")
	echo
	echo "#### $r: $(if [ "$r" = apply ]; then echo "tide apply"; else echo "tide apply --jobs $jobs"; fi), $secs s wall (profiled)"
	analyse "$r"
done
