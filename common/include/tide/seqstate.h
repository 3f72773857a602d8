/*
 * common/include/tide/seqstate.h
 *		Sequence states: read from a server, carried in the stream as
 *		transactional logical messages with prefix "tide.seq", compared.
 *
 * PostgreSQL 15 does not decode sequences.  tide stream (and tide
 * sync-sequences) reads the states of the sequences its role can read and
 * emits them as one transactional message, so they reach the segments in
 * commit order with the data; tide apply moves each replica sequence
 * forward to it; tide verify reads both sides with the same query.  The
 * payload is documented in proto/FORMAT.md ("Sequence states").
 *
 * Functions returning int return 0 or -1 with a message in err (one line,
 * PostgreSQL's style); they never log.  Needs libpq and jansson when linked.
 */
#ifndef TIDE_SEQSTATE_H
#define TIDE_SEQSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#define TIDE_SEQ_PREFIX "tide.seq"
#define TIDE_SEQ_VERSION 1		/* payload's "v": readers refuse a greater one */

/* One sequence's state; every string is owned. */
typedef struct
{
	char	   *schema;
	char	   *name;
	int64_t		last_value;
	bool		is_called;
	int64_t		increment;
	bool		cycle;
	bool		readable;		/* tide_seq_read: the role may read it (else
								 * last_value and is_called are unknown) */
	char	   *owner_schema;	/* the table owning it (serial, identity), */
	char	   *owner_table;	/* or both NULL */
} tide_seq_t;

typedef struct
{
	tide_seq_t *v;				/* owned */
	size_t		n;
} tide_seqlist_t;

/*
 * tide_seq_read - every sequence of the non-system schemas of conn's
 * database (not other sessions' temporary ones), in schema and name order,
 * in one statement.  Those the role cannot SELECT are listed with
 * readable = false.  The session's search_path may be empty: everything is
 * qualified.
 */
int			tide_seq_read(PGconn *conn, tide_seqlist_t *out, char *err, size_t errlen);

/*
 * The same in two steps, for a caller that cannot wait (tide stream's
 * loop): send tide_seq_sql (no parameters) itself, then hand its result
 * to tide_seq_from_result (which does not clear it).
 */
extern const char *const tide_seq_sql;
int			tide_seq_from_result(PGconn *conn, PGresult *res, tide_seqlist_t *out,
								 char *err, size_t errlen);

/*
 * tide_seq_payload - the "tide.seq" message payload (JSON text, malloc'd)
 * for the readable sequences of l for which keep (may be NULL) says true;
 * *count says how many.  NULL when out of memory.
 */
char	   *tide_seq_payload(const tide_seqlist_t *l,
							 bool (*keep) (const tide_seq_t *s, void *arg),
							 void *arg, size_t *count);

/* tide_seq_parse - a payload back into a list (readable = true). */
int			tide_seq_parse(const char *data, size_t len, tide_seqlist_t *out,
						   char *err, size_t errlen);

/*
 * tide_seq_emit - emit payload as a transactional "tide.seq" message in a
 * transaction of its own; lsn (may be NULL) gets the message's LSN as
 * text.  Needs EXECUTE on pg_logical_emit_message (every role has it by
 * default).
 */
int			tide_seq_emit(PGconn *conn, const char *payload, char *lsn, size_t lsnlen,
						  char *err, size_t errlen);

/* The same in two steps: tide_seq_emit_sql with $1 TIDE_SEQ_PREFIX and $2
 * the payload, then its result to tide_seq_emitted (not cleared). */
extern const char *const tide_seq_emit_sql;
int			tide_seq_emitted(PGconn *conn, PGresult *res, char *lsn, size_t lsnlen,
							 char *err, size_t errlen);

/*
 * tide_seq_ahead - is state (a_last, a_called) past (b_last, b_called) in
 * the direction of increment?  A state's position is the last value handed
 * out: last_value once called, else one increment before it.  Positions
 * are computed without overflow.
 */
bool		tide_seq_ahead(int64_t increment, int64_t a_last, bool a_called,
						   int64_t b_last, bool b_called);

void		tide_seqlist_free(tide_seqlist_t *l);

#endif /* TIDE_SEQSTATE_H */
