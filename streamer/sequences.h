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
	const char *incl[STREAM_SEQ_MAX_PATTERNS][2];	/* schema, table */
	int			nincl;
	const char *excl[STREAM_SEQ_MAX_PATTERNS][2];
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
 * stream_seq_record - read the states over conn (a plain session, pinned)
 * and emit them as one "tide.seq" message.  With *last (the payload last
 * emitted, owned by the caller, may be NULL) and !force, nothing is
 * emitted when the states are those of *last; *last becomes the payload
 * emitted.  lsn (may be NULL) gets the message's LSN, "" when nothing was
 * emitted; *count how many sequences it holds.  *warned_unreadable: log
 * the sequences the role cannot read once.  Returns 0 or -1, logged by
 * errlevel: 0 not at all (a failure said already), 1 as a warning, 2 as an
 * error.
 */
int			stream_seq_record(PGconn *conn, const stream_seq_filter_t *f, char **last,
							  bool force, char *lsn, size_t lsnlen, size_t *count,
							  bool *warned_unreadable, int errlevel);

/* tide_cmd_sync_sequences - `tide sync-sequences` */
int			tide_cmd_sync_sequences(int argc, char **argv);

#endif /* TIDE_STREAM_SEQUENCES_H */
