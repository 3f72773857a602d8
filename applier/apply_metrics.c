/*
 * applier/apply_metrics.c
 *		The metrics of `tide apply`, written from the snapshot apply.c keeps
 *		(apply_metrics.h), copied under its lock.  Positions are LSNs as
 *		plain numbers of bytes; counters count since the process started.
 */
#include <string.h>

#include "tide/common.h"
#include "apply_metrics.h"

#define UNIX_EPOCH_OFFSET INT64_C(946684800000000)	/* 1970 -> 2000, in µs */

static void
one_u64(tide_mbuf_t *b, const char *name, const char *type, const char *help, uint64_t v)
{
	tide_metric_family(b, name, type, help);
	tide_metric_u64(b, name, NULL, 0, v);
}

void
apply_metrics_collect(tide_mbuf_t *b, void *arg)
{
	apply_metrics_t *live = arg;
	apply_metrics_t m;
	int64_t		now = tide_now();
	int64_t		since = 0;
	double		lag = 0;
	tide_label_t cls[1] = {{"class", NULL}};

	pthread_mutex_lock(&live->mu);
	memcpy(&m, live, sizeof(m));
	pthread_mutex_unlock(&live->mu);

	if (m.store_end_lsn < m.applied_lsn)
		m.store_end_lsn = m.applied_lsn;
	if (m.pending_time)
		since = m.pending_time;
	else if (m.store_end_lsn > m.applied_lsn)
		since = m.next_time ? m.next_time : m.applied_time;
	if (since && now > since)
		lag = (double) (now - since) / 1e6;

	tide_metric_build_info(b);
	one_u64(b, "tide_apply_applied_lsn_bytes", "gauge",
			"End LSN of the last source transaction committed on the replica (its tide.progress row; transactions --tables filters out whole count as soon as they are read, tide.progress records them at the end of the run), as a number of bytes.",
			m.applied_lsn);
	one_u64(b, "tide_apply_store_lsn_bytes", "gauge",
			"The newest end LSN this applier has seen in the store (closed segments' ends, and what it read of the open one), as a number of bytes.",
			m.store_end_lsn);
	one_u64(b, "tide_apply_lag_bytes", "gauge",
			"tide_apply_store_lsn_bytes - tide_apply_applied_lsn_bytes: WAL bytes of segments not yet applied.",
			m.store_end_lsn - m.applied_lsn);
	tide_metric_family(b, "tide_apply_lag_seconds", "gauge",
					   "Seconds from the commit (source clock) of the oldest source transaction the store holds and the replica has not committed yet, to now; 0 when the replica has everything the store holds.");
	tide_metric_double(b, "tide_apply_lag_seconds", NULL, 0, lag);
	one_u64(b, "tide_apply_applied_commit_timestamp_seconds", "gauge",
			"Commit time (Unix seconds, source clock) of the last source transaction committed on the replica; 0 until one is.",
			m.applied_time ? (uint64_t) ((m.applied_time + UNIX_EPOCH_OFFSET) / 1000000) : 0);
	one_u64(b, "tide_apply_transactions_total", "counter",
			"Source transactions applied and committed on the replica by this process (also those whose changes --tables filtered out).",
			m.txns);
	one_u64(b, "tide_apply_changes_total", "counter",
			"Inserts, updates, deletes and truncates committed on the replica.", m.changes);
	one_u64(b, "tide_apply_replica_transactions_total", "counter",
			"Replica transactions committed (source transactions are grouped, up to --batch changes).",
			m.replica_txns);
	one_u64(b, "tide_apply_replica_xids_total", "counter",
			"Replica transaction IDs spent (replica transactions that were assigned an XID).", m.xids);
	one_u64(b, "tide_apply_segments_total", "counter",
			"Segments read to their end (closed ones; a segment read again after a retry counts again).",
			m.segments);
	one_u64(b, "tide_apply_download_failures_total", "counter",
			"Failed reads of a remote store: its index or a segment download (the run stops or, with --follow, retries).",
			m.download_failures);
	one_u64(b, "tide_apply_downloaded_bytes_total", "counter",
			"Bytes of segments downloaded from a remote store into the cache.", m.fetched_bytes);
	tide_metric_family(b, "tide_errors_total", "counter",
					   "Errors survived by exit class: store = a --follow poll found the store unreachable (retried), replica = a batch failed on the replica and was applied again one source transaction at a time.  Other errors stop tide apply.");
	cls[0].value = "store";
	tide_metric_u64(b, "tide_errors_total", cls, 1, m.store_errors);
	cls[0].value = "replica";
	tide_metric_u64(b, "tide_errors_total", cls, 1, m.replica_retries);
}
