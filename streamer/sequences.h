/*
 * streamer/sequences.h
 *		Recording sequence states into the stream: for tide stream (at
 *		startup, each segment close and every --sequence-interval) and
 *		tide sync-sequences (on demand).
 */
#ifndef TIDE_STREAM_SEQUENCES_H
#define TIDE_STREAM_SEQUENCES_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "tide/seqstate.h"

#define STREAM_SEQ_MAX_PATTERNS 256

/*
 * Which sequences to record: the decoder's include-tables/exclude-tables
 * (-o) judge a sequence by the table that owns it (serial, identity); a
 * sequence no table owns is always recorded.  off: the decoder's message
 * prefix filters leave "tide.seq" out, nothing would reach the segments.
 */
typedef struct
{
	char	   *patterns;		/* owned: copies the entries point into */
	const char *incl[STREAM_SEQ_MAX_PATTERNS];	/* schema.table (tablematch.h) */
	int			nincl;
	const char *excl[STREAM_SEQ_MAX_PATTERNS];
	int			nexcl;
	bool		off;
	char		why_off[256];
} stream_seq_filter_t;

/*
 * stream_seq_filter - the filter for the plugin options opts[n][2] (key,
 * value); TIDE_EXIT_USAGE (logged) for a pattern the decoder would refuse.
 * stream_seq_filter_free - its memory.
 */
int			stream_seq_filter(stream_seq_filter_t *f, const char *const (*opts)[2], int n);
void		stream_seq_filter_free(stream_seq_filter_t *f);

/*
 * stream_seq_payload - the payload to emit for the states in l (read with
 * common/seqstate.c) that f keeps: *payload (malloc'd, the caller's), or
 * NULL when there is nothing to emit: no sequence, or (unless force) the
 * same states as last (the payload last emitted, may be NULL).  *count
 * says how many sequences it holds.  The sequences the role cannot read
 * are logged once, when *warned_unreadable is false.  Returns 0, or -1
 * out of memory (logged).
 */
int			stream_seq_payload(const tide_seqlist_t *l, const stream_seq_filter_t *f,
							   const char *last, bool force, char **payload,
							   size_t *count, bool *warned_unreadable);

/*
 * stream_seq_record - read the states over conn (a plain session, pinned)
 * and emit them as one "tide.seq" message, synchronously (tide
 * sync-sequences; tide stream sends the same statements asynchronously).
 * lsn gets the message's LSN, "" when there was nothing to emit; *count
 * how many sequences it holds.  Returns 0 or -1 (logged).
 */
int			stream_seq_record(PGconn *conn, const stream_seq_filter_t *f, char *lsn,
							  size_t lsnlen, size_t *count, bool *warned_unreadable);

/* tide_cmd_sync_sequences - `tide sync-sequences` */
int			tide_cmd_sync_sequences(int argc, char **argv);

/* What `tide sync-sequences` is told (strings borrowed). */
typedef struct
{
	const char *conninfo;		/* the source: one connection string */
	const char *popts[STREAM_SEQ_MAX_PATTERNS][2];	/* -o NAME=VALUE */
	int			npopts;
} stream_sync_opts_t;

/*
 * tide_sync_sequences_run - record the source's sequence states into the
 * stream now; lsn (at least 64 bytes) gets the message's LSN, "" when
 * there was no sequence to record.  0 or a TIDE_EXIT_* code, logged.
 */
int			tide_sync_sequences_run(const stream_sync_opts_t *o, char *lsn, size_t len);

#endif /* TIDE_STREAM_SEQUENCES_H */
