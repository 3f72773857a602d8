/*
 * streamer/spool.h
 *		Transactions the decoder streams while they are in progress (wire
 *		version 2), kept in files until they commit.
 *
 * Each open top-level transaction has a file DIR/.spool/<xid>.spool (owner
 * only, in an owner-only directory) holding the messages of its chunks as
 * they came, with a SUBXACT message wherever the (sub)transaction of the
 * changes changes.  A subtransaction's rollback marks it (its changes are
 * left out when the file is read back) and cuts the file back to the end of
 * the last message of a (sub)transaction still alive; a rollback of the
 * whole deletes the file.  At STREAM COMMIT the file is read back a bounded
 * buffer at a time into the segment writer, as the BEGIN ... COMMIT the
 * decoder would have sent without streaming (proto/FORMAT.md, "Streamed
 * transactions"), then deleted.
 *
 * Files are never fsynced: a spool is worth nothing after the session that
 * filled it (the server streams an unfinished transaction again from its
 * start in every new session), so every file is discarded at startup and
 * at each reconnect.  Nothing is acknowledged on account of a spool.
 *
 * Memory: one write buffer and, while a transaction is written out, one
 * read buffer (as large as its largest message); per open transaction a
 * few words for each of its subtransactions that sent a change.  I/O runs
 * on the caller's thread: plain write() and read() of at most a buffer.
 *
 * Errors are logged here, where the file is known, and returned: -errno for
 * the file system (the caller stops with exit 6), a tide code for a stream
 * that breaks the protocol (exit 5).
 */
#ifndef TIDE_SPOOL_H
#define TIDE_SPOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "segwriter.h"
#include "tide/wire.h"

#define SPOOL_DIR ".spool"

typedef struct spool_s spool_t;
typedef struct spool_replay_s spool_replay_t;

/*
 * spool_open - the spool area of segment directory dir: created owner-only
 * if missing; files an earlier run left there are deleted (logged).
 * Returns 0 and *out, or an error (logged).
 */
int			spool_open(const char *dir, spool_t **out);

/* spool_close - delete every file left and free everything. */
void		spool_close(spool_t *sp);

/*
 * spool_discard_all - a session ended: delete every open transaction's
 * file (the server sends them again from their start).
 */
void		spool_discard_all(spool_t *sp);

/* Between STREAM START and STREAM STOP? */
bool		spool_in_chunk(const spool_t *sp);

/*
 * spool_chunk_start - STREAM START: a chunk of m->xid follows.  A first
 * chunk starts a new file; a later one needs the transaction open.
 */
int			spool_chunk_start(spool_t *sp, const proto_stream_start_t *m);

/* spool_subxact - SUBXACT: the changes that follow are xid's. */
int			spool_subxact(spool_t *sp, uint32_t xid);

/*
 * spool_append - one whole message (type, length, body) of the chunk:
 * RELATION, INSERT, UPDATE, DELETE, TRUNCATE or transactional MESSAGE.
 */
int			spool_append(spool_t *sp, uint8_t type, const uint8_t *msg, size_t len);

/* spool_chunk_stop - STREAM STOP: the chunk's bytes go to its file. */
int			spool_chunk_stop(spool_t *sp, uint32_t xid);

/*
 * spool_abort - STREAM ABORT: the whole transaction (subxid == xid) or one
 * of its subtransactions rolled back.  An unknown one is no error: the
 * decoder only names what sent something, and a session's leftovers are
 * already gone.
 */
int			spool_abort(spool_t *sp, const proto_stream_abort_t *m);

/*
 * spool_replay_start - STREAM COMMIT: take the transaction out of the open
 * ones and prepare to write it.  Its file is read by spool_replay_step and
 * deleted by spool_replay_free.  An unknown transaction is an error: its
 * changes would be missing.
 */
int			spool_replay_start(spool_t *sp, const proto_stream_commit_t *m,
							   spool_replay_t **out);

/*
 * spool_replay_step - write the transaction into w, as far as w's backlog
 * stays under limit.  Returns 1 when more is to come (call again once the
 * writer has drained), 0 when the transaction is whole in the writer (or
 * was a duplicate: spool_replay_duplicate), or an error (logged).
 */
int			spool_replay_step(spool_replay_t *r, segwriter_t *w, size_t limit);

/* spool_replay_duplicate - the writer had it already (FORMAT.md rule). */
bool		spool_replay_duplicate(const spool_replay_t *r);

/* spool_replay_free - delete the file and free everything. */
void		spool_replay_free(spool_t *sp, spool_replay_t *r);

/* What the spool holds now, and held at most, for the log. */
uint64_t	spool_bytes(const spool_t *sp);
uint64_t	spool_peak_bytes(const spool_t *sp);
size_t		spool_open_txns(const spool_t *sp);

#endif /* TIDE_SPOOL_H */
