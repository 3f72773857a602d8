/*
 * streamer/stream_metrics.c
 *		The metrics of `tide stream`, written from a snapshot (see
 *		stream_metrics.h).  Positions are LSNs as plain numbers of bytes, so
 *		a difference of two is a lag in bytes; counters count since the
 *		process started (Prometheus handles the reset at a restart).
 */
#include "tide/common.h"
#include "stream_metrics.h"

#define GAUGE "gauge"
#define COUNTER "counter"

static void
one_u64(tide_mbuf_t *b, const char *name, const char *type, const char *help, uint64_t v)
{
	tide_metric_family(b, name, type, help);
	tide_metric_u64(b, name, NULL, 0, v);
}

void
stream_metrics_write(tide_mbuf_t *b, const stream_metrics_t *m)
{
	tide_label_t slot = {"slot", m->slot};
	tide_label_t stage[1];
	tide_label_t cls[1];
	uint64_t	end = m->source_lsn;

	if (m->received_lsn > end)
		end = m->received_lsn;
	if (m->durable_lsn > end)
		end = m->durable_lsn;

	tide_metric_build_info(b);
	one_u64(b, "tide_stream_connected", GAUGE,
			"1 while the replication connection to the source is streaming, 0 while it is being (re)established.",
			m->streaming ? 1 : 0);

	one_u64(b, "tide_stream_source_lsn_bytes", GAUGE,
			"The source's current WAL position (pg_current_wal_lsn() from the periodic slot check, or what the source has sent when further), as a number of bytes.",
			end);
	one_u64(b, "tide_stream_received_lsn_bytes", GAUGE,
			"The highest WAL position received from the slot (data or keepalive), as a number of bytes.",
			m->received_lsn);
	one_u64(b, "tide_stream_durable_lsn_bytes", GAUGE,
			"The position up to which every committed transaction is fsynced in a segment of the directory, as a number of bytes.",
			m->durable_lsn);
	one_u64(b, "tide_stream_confirmed_lsn_bytes", GAUGE,
			"The flush position last confirmed to the replication slot (what the source may recycle WAL up to), as a number of bytes.",
			m->confirmed_lsn);
	if (m->publishing)
		one_u64(b, "tide_stream_published_lsn_bytes", GAUGE,
				"The end of the newest segment the --publish store holds, as a number of bytes (0 until a publishing pass has succeeded).",
				m->have_published ? m->published_lsn : 0);

	tide_metric_family(b, "tide_stream_lag_bytes", GAUGE,
					   "Bytes of WAL between the source's current position (tide_stream_source_lsn_bytes) and a stage: durable (fsynced in a segment) or published (in the --publish store; the open segment is never published, so this includes it).");
	stage[0].name = "stage";
	stage[0].value = "durable";
	tide_metric_u64(b, "tide_stream_lag_bytes", stage, 1, end - m->durable_lsn);
	if (m->publishing)
	{
		uint64_t	pub = m->have_published ? m->published_lsn : 0;

		stage[0].value = "published";
		tide_metric_u64(b, "tide_stream_lag_bytes", stage, 1, end > pub ? end - pub : 0);
	}
	tide_metric_family(b, "tide_stream_lag_seconds", GAUGE,
					   "stage=durable: seconds from the commit (source clock) of the oldest transaction committed on the source and received but not yet durable in a segment, to now; while the connection is down, since the commit of the last durable transaction; 0 when every received transaction is durable.");
	stage[0].value = "durable";
	tide_metric_double(b, "tide_stream_lag_seconds", stage, 1, m->lag_seconds);
	one_u64(b, "tide_stream_durable_commit_timestamp_seconds", GAUGE,
			"Commit time (Unix seconds, source clock) of the last transaction durable in a segment; 0 until one is.",
			m->durable_commit_unix_usecs > 0 ? (uint64_t) (m->durable_commit_unix_usecs / 1000000) : 0);

	tide_metric_family(b, "tide_slot_active", GAUGE,
					   "1 if the replication slot is in use by a process (this stream), 0 if not, from the periodic slot check (absent until it answered).");
	if (m->have_slot)
		tide_metric_u64(b, "tide_slot_active", &slot, 1, m->slot_active ? 1 : 0);
	tide_metric_family(b, "tide_slot_retained_wal_bytes", GAUGE,
					   "WAL the source keeps for the slot: pg_current_wal_lsn() - restart_lsn, from the periodic slot check.");
	if (m->have_retained)
		tide_metric_i64(b, "tide_slot_retained_wal_bytes", &slot, 1, m->retained_bytes);
	tide_metric_family(b, "tide_slot_safe_wal_size_bytes", GAUGE,
					   "pg_replication_slots.safe_wal_size: WAL that can still be written before the slot is lost to max_slot_wal_keep_size (absent when unlimited).");
	if (m->have_safe_wal)
		tide_metric_i64(b, "tide_slot_safe_wal_size_bytes", &slot, 1, m->safe_wal_bytes);
	tide_metric_family(b, "tide_slot_catalog_xmin_age", GAUGE,
					   "age(catalog_xmin) of the slot, in transactions: how far it holds back vacuum of the system catalogs.");
	if (m->have_xmin_age)
		tide_metric_i64(b, "tide_slot_catalog_xmin_age", &slot, 1, m->xmin_age);
	tide_metric_family(b, "tide_slot_check_timestamp_seconds", GAUGE,
					   "Unix time of the last answered slot check (every 5 s with --metrics-listen); the tide_slot_* values are as of then.");
	if (m->have_slot)
		tide_metric_double(b, "tide_slot_check_timestamp_seconds", &slot, 1, m->slot_checked_unix);

	one_u64(b, "tide_stream_received_bytes_total", COUNTER,
			"Bytes of replication messages received from the source.", m->received_bytes);
	one_u64(b, "tide_stream_transactions_total", COUNTER,
			"Transactions received whole and handed to the segment writer (duplicates resent after a restart not counted).",
			m->txns);
	one_u64(b, "tide_stream_changes_total", COUNTER,
			"Changes (insert, update, delete, truncate, message) in those transactions.", m->changes);
	one_u64(b, "tide_stream_segments_written_total", COUNTER,
			"Segments closed (footer written, renamed from .partial).", m->segments_closed);
	one_u64(b, "tide_stream_segments_published_total", COUNTER,
			"Segments uploaded to the --publish store.", m->segments_published);
	one_u64(b, "tide_stream_pruned_objects_total", COUNTER,
			"Objects (segments, and files of bases past --keep-bases) deleted by retention, in the directory and the store.",
			m->deleted);
	one_u64(b, "tide_stream_upload_failures_total", COUNTER,
			"Publishing passes that failed (the store could not be reached or refused a request); each is retried with backoff.",
			m->upload_failures);
	one_u64(b, "tide_stream_unpublished_bytes", GAUGE,
			"Bytes of closed segments the --publish store does not have yet (they wait in the directory).",
			m->unpublished_bytes);
	one_u64(b, "tide_stream_spool_bytes", GAUGE,
			"Bytes in DIR/.spool: chunks of large transactions streamed while still in progress on the source.",
			m->spool_bytes);
	one_u64(b, "tide_stream_spool_transactions", GAUGE,
			"Transactions in progress with chunks in the spool.", m->spool_txns);

	tide_metric_family(b, "tide_errors_total", COUNTER,
					   "Errors survived (retried) by exit class: source = the replication connection was lost, store = a publishing pass failed.  Errors of the other classes stop tide stream.");
	cls[0].name = "class";
	cls[0].value = "source";
	tide_metric_u64(b, "tide_errors_total", cls, 1, m->connection_losses);
	cls[0].value = "store";
	tide_metric_u64(b, "tide_errors_total", cls, 1, m->upload_failures);
}
