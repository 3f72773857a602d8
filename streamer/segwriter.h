/*
 * streamer/segwriter.h
 *		Writing the stream into segment files, durably and in LSN order.
 *
 * The writer lives on the event loop thread: messages are appended to an
 * in-memory block, and sealed blocks become operations (open, write, sync,
 * cut, close) executed strictly in order by one libuv threadpool job at a
 * time, so compression, write() and fsync() never stall the socket.  The
 * writer reports a position as durable only after the fsync that covers
 * it, and after the segment's directory entry is durable.
 *
 * Memory is bounded: segwriter_backlog() tells the caller how many bytes
 * wait for the threadpool so it can stop reading until they drain.
 */
#ifndef TIDE_SEGWRITER_H
#define TIDE_SEGWRITER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "segstats.h"
#include "tide/relcat.h"
#include "tide/segment.h"

typedef struct segwriter_s segwriter_t;

/* segwriter_durable_cb - everything up to lsn is on disk. */
typedef void (*segwriter_durable_cb) (segwriter_t *w, proto_lsn_t lsn);

/*
 * segwriter_error_cb - an operation failed (message already logged); the
 * writer accepts nothing more.  code is -errno or a tide code.
 */
typedef void (*segwriter_error_cb) (segwriter_t *w, int code);

/*
 * segwriter_commit_cb - a whole transaction was accepted (not yet durable):
 * its COMMIT's end LSN, its commit time and its change count.
 */
typedef void (*segwriter_commit_cb) (segwriter_t *w, proto_lsn_t end_lsn,
									 proto_time_t commit_time, uint64_t nchanges);

/* segwriter_idle_cb - every queued operation has completed. */
typedef void (*segwriter_idle_cb) (segwriter_t *w);

/*
 * segwriter_drain_cb - a batch of operations completed: the backlog shrank
 * (a caller holding data back for backpressure may go on).
 */
typedef void (*segwriter_drain_cb) (segwriter_t *w);

typedef struct
{
	const char *dir;
	int			compress_level;
	size_t		block_size;		/* raw bytes per data block */
	int64_t		bucket_usecs;	/* time bucket width */
} segwriter_opts_t;

/* Where a directory scan left off (segdir_resume fills it). */
typedef struct
{
	bool		have_segment;	/* the directory holds segments */
	seg_header_t ident;			/* strings point into ident_buf */
	char	   *ident_buf;		/* owned; the writer takes it over */
	proto_lsn_t covered;		/* the stream is complete up to here */
	/* an open .partial to append to (cut to its last whole transaction) */
	char	   *partial_name;	/* owned; NULL if none */
	uint64_t	partial_size;
	uint64_t	nblocks;
	uint64_t   *block_offsets;	/* owned */
	proto_lsn_t *block_lsns;	/* owned */
	segstats_t	stats;			/* of the partial's contents */
	proto_time_t last_bucket;	/* bucket of the newest segment (0: none) */
} segwriter_resume_t;

struct segwriter_s
{
	uv_loop_t  *loop;
	segwriter_opts_t opts;
	segwriter_durable_cb durable_cb;
	segwriter_error_cb error_cb;
	segwriter_idle_cb idle_cb;	/* optional */
	segwriter_drain_cb drain_cb;	/* optional */
	segwriter_commit_cb commit_cb;	/* optional */
	void	   *data;			/* for the owner */
	uint64_t	segs_closed;	/* segments closed since the start (metrics) */

	/* identity: set from the directory or the first STARTUP */
	bool		have_ident;
	seg_header_t ident;			/* strings point into ident_buf */
	char	   *ident_buf;		/* owned */

	/*
	 * Bucket of the newest segment, open or closed: a new segment's bucket
	 * is never before it, so names sort in time order as they do in LSN
	 * order (FORMAT.md, "Name").
	 */
	proto_time_t last_bucket;
	bool		have_last_bucket;

	/*
	 * The RELATION last written for each relation into the open segment
	 * (user: its seg_seq): a reader applies the last one it saw, so a row
	 * needs one before it unless this is its description.  Descriptions
	 * come from the stream's catalog or a spooled transaction's.
	 */
	proto_relcat_t seen;		/* owned */

	/* the open segment, as the loop thread sees it */
	bool		seg_open;
	uint64_t	seg_seq;		/* bumps per segment: relcat entries' user */
	proto_time_t bucket_start;
	proto_lsn_t seg_start_lsn;
	char		seg_name[SEG_NAME_LEN + 1];
	segstats_t	stats;			/* owned */

	/* the block being filled */
	proto_wbuf_t raw;			/* owned */
	size_t		txn_start;		/* offset of the open txn's BEGIN in raw */
	bool		in_txn;
	bool		txn_spilled;	/* the open txn already filled a block */
	proto_time_t txn_time;		/* the open txn's commit time */
	proto_lsn_t accepted;		/* end of the last whole txn accepted */
	proto_lsn_t queued_covered; /* highest covered LSN handed to a sync */
	proto_lsn_t durable;		/* highest LSN known durable */

	/* operations waiting for, or in, the threadpool */
	struct segwriter_op_s *queue_head;	/* owned list */
	struct segwriter_op_s *queue_tail;
	struct segwriter_job_s *job;	/* owned while in flight */
	size_t		backlog;		/* bytes in queued and running ops */
	int			failed;			/* sticky error */

	/* file state: touched only by the running job (or when idle) */
	struct segwriter_file_s *file;	/* owned */
};

int			segwriter_init(segwriter_t *w, uv_loop_t *loop,
						   const segwriter_opts_t *opts,
						   segwriter_resume_t *resume,
						   segwriter_durable_cb durable_cb,
						   segwriter_error_cb error_cb);
/* segwriter_free - after segwriter_idle() is true. */
void		segwriter_free(segwriter_t *w);

/*
 * segwriter_set_ident - the source identity from STARTUP.  Returns 0, or
 * TIDE_EBADVALUE when the directory belongs to another source (the caller
 * reports it).
 */
int			segwriter_set_ident(segwriter_t *w, const proto_startup_t *s);

/*
 * segwriter_begin - a transaction starts.  Returns 1 when it is already on
 * disk (a duplicate resent after a restart) and must be skipped, 0 when
 * the caller should pass its messages, or an error.
 */
int			segwriter_begin(segwriter_t *w, const proto_begin_t *b,
							const uint8_t *msg, size_t len);

/*
 * segwriter_message_dup - is a non-transactional MESSAGE ending at lsn one
 * the writer already holds (resent after a reconnect)?
 */
bool		segwriter_message_dup(const segwriter_t *w, proto_lsn_t lsn);

/*
 * segwriter_message - append one whole message (type, length, body) of the
 * open transaction, or a non-transactional MESSAGE.  cat holds the
 * relations as the transaction sees them: their RELATION messages are
 * written into each segment before their first change there, and again
 * when a change comes with another description than the segment's last.
 */
int			segwriter_message(segwriter_t *w, proto_relcat_t *cat, uint8_t type,
							  const uint8_t *msg, size_t len,
							  const uint8_t *body, size_t body_len);

/* segwriter_commit - the COMMIT message; the transaction is whole. */
int			segwriter_commit(segwriter_t *w, const proto_commit_t *c,
							 const uint8_t *msg, size_t len);

/*
 * segwriter_abort - drop the open transaction (connection lost mid-way):
 * its bytes in memory, and blocks of it already written are cut off.
 */
void		segwriter_abort(segwriter_t *w, proto_relcat_t *cat);

/*
 * segwriter_flush - seal whole transactions and queue an fsync; durable_cb
 * follows.  With idle_lsn above what is accepted and no transaction open,
 * also records that the stream is complete up to idle_lsn (keepalive).
 */
void		segwriter_flush(segwriter_t *w, proto_lsn_t idle_lsn);

/*
 * segwriter_rotate_idle - close the open segment if its bucket ended
 * before now (and no transaction is open), then open the current bucket's.
 * The caller calls it only while the source is idle, with the source's
 * clock: a backlog's commit times are in the past, and closing their
 * bucket by this host's clock would put them in a later one.
 */
void		segwriter_rotate_idle(segwriter_t *w, proto_time_t now);

/* segwriter_close - seal, close (footer, rename) the open segment. */
void		segwriter_close(segwriter_t *w);

/* segwriter_idle - no operation queued or running. */
bool		segwriter_idle(const segwriter_t *w);

static inline size_t
segwriter_backlog(const segwriter_t *w)
{
	return w->backlog + w->raw.len;
}

/* segwriter_bucket_of - start of the bucket holding t. */
proto_time_t segwriter_bucket_of(const segwriter_t *w, proto_time_t t);

#endif /* TIDE_SEGWRITER_H */
