/*
 * streamer/stream_metrics.h
 *		What `tide stream --metrics-listen` serves: a snapshot the loop
 *		fills from its state at each scrape (stream.c), written out as
 *		Prometheus metrics here, so their names and meanings live in one
 *		place (README.md, "Monitoring", lists them).
 */
#ifndef TIDE_STREAM_METRICS_H
#define TIDE_STREAM_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "tide/metrics.h"

typedef struct
{
	const char *slot;
	bool		streaming;		/* connected and in COPY mode */
	/* positions (LSNs) */
	uint64_t	source_lsn;		/* the source's current WAL position, or
								 * the walsender's when newer */
	uint64_t	received_lsn;
	uint64_t	durable_lsn;
	uint64_t	confirmed_lsn;	/* flush position last sent to the slot */
	bool		publishing;		/* --publish */
	bool		have_published;
	uint64_t	published_lsn;
	/* lag */
	double		lag_seconds;
	int64_t		durable_commit_unix_usecs;	/* 0: none yet */
	/* the slot, from the periodic slot check (have_slot: one answered) */
	bool		have_slot;
	bool		slot_active;
	bool		have_retained;
	int64_t		retained_bytes;
	bool		have_safe_wal;
	int64_t		safe_wal_bytes;
	bool		have_xmin_age;
	int64_t		xmin_age;
	double		slot_checked_unix;	/* when it last answered */
	/* counters */
	uint64_t	received_bytes;
	uint64_t	txns;
	uint64_t	changes;
	uint64_t	segments_closed;
	uint64_t	segments_published;
	uint64_t	deleted;
	uint64_t	upload_failures;
	uint64_t	connection_losses;
	uint64_t	spool_bytes;
	uint64_t	spool_txns;
	uint64_t	unpublished_bytes;
} stream_metrics_t;

/* stream_metrics_write - the whole page for m */
void		stream_metrics_write(tide_mbuf_t *b, const stream_metrics_t *m);

#endif /* TIDE_STREAM_METRICS_H */
