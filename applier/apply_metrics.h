/*
 * applier/apply_metrics.h
 *		What `tide apply --metrics-listen` serves.  tide apply's work blocks
 *		(on the replica, on downloads), so the page is served from a thread
 *		of its own (tide_metrics_thread_start) out of this snapshot, which
 *		apply.c updates under its mutex at the points where its numbers
 *		change meaning: a source transaction begins a batch, a replica
 *		transaction commits, a listing of the store, a failure.
 */
#ifndef TIDE_APPLY_METRICS_H
#define TIDE_APPLY_METRICS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "tide/metrics.h"

typedef struct
{
	pthread_mutex_t mu;			/* guards everything below */
	uint64_t	applied_lsn;	/* tide.progress: end of the last committed */
	int64_t		applied_time;	/* its commit time (µs since 2000, source
								 * clock), 0: none */
	uint64_t	store_end_lsn;	/* the newest end LSN seen in the store */
	int64_t		pending_time;	/* commit time of the oldest transaction
								 * read but not committed on the replica,
								 * 0: none */
	int64_t		next_time;		/* first commit time of the first segment
								 * not wholly applied, 0: unknown */
	uint64_t	txns;			/* source transactions applied (committed) */
	uint64_t	changes;		/* inserts, updates, deletes, truncates */
	uint64_t	replica_txns;
	uint64_t	xids;
	uint64_t	segments;		/* segments read to their end */
	uint64_t	download_failures;
	uint64_t	store_errors;	/* --follow: the store did not answer */
	uint64_t	replica_retries;	/* batches failed and applied again */
	uint64_t	fetched_bytes;
} apply_metrics_t;

/* apply_metrics_collect - a tide_metrics_collect_cb; arg is the apply_metrics_t */
void		apply_metrics_collect(tide_mbuf_t *b, void *arg);

#endif /* TIDE_APPLY_METRICS_H */
