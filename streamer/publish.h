/*
 * streamer/publish.h
 *		The streamer's publisher: a thread of its own that keeps the segment
 *		directory's index.json in step with its closed segments and bases,
 *		uploads them to a store (--publish), and applies retention, so the
 *		event loop that reads the slot never waits for a disk scan, a
 *		checksum or the network.
 *
 * The backlog of unpublished segments is the directory itself: closed
 * segments stay there until the store has them, so nothing waits in
 * memory however long the store is away.  Each pass is store_sync(), which
 * is idempotent: a failed pass is simply run again later, with exponential
 * backoff and jitter.
 */
#ifndef TIDE_PUBLISH_H
#define TIDE_PUBLISH_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "tide/store.h"

typedef struct publisher_s publisher_t;

/* publisher_cb - a pass changed what is published (on the loop thread) */
typedef void (*publisher_cb) (publisher_t *p, void *arg);

typedef struct
{
	const char *dir;			/* the segment directory */
	const char *url;			/* --publish, or NULL: index and retention only */
	store_retain_t retain;		/* the directory's (--retain, --keep-bases) */
	store_retain_t publish_retain;	/* the store's (--publish-retain) */
	int64_t		warn_bytes;		/* warn when the unpublished backlog passes it */
} publisher_opts_t;

/* What the loop may read at any time (publisher_state copies it). */
typedef struct
{
	proto_lsn_t published_end;	/* end LSN of the newest segment the store
								 * holds (without --publish: the index's) */
	bool		have_published; /* a pass has succeeded (published_end is
								 * known) */
	size_t		pending;		/* closed segments the store lacks */
	uint64_t	pending_bytes;
	uint64_t	uploaded;		/* objects uploaded since the start */
	uint64_t	uploaded_bytes;
	int			failures;		/* passes failed in a row */
	/* totals since the start, for metrics */
	uint64_t	segments_published; /* segment objects uploaded */
	uint64_t	deleted;		/* objects retention removed (both sides) */
	uint64_t	failed_passes;	/* passes that failed (store errors) */
} publisher_state_t;

/*
 * publisher_start - open the stores and start the thread; the first pass
 * runs at once.  cb (may be NULL) is called on the loop thread after a
 * pass that published something.  0 or a TIDE_EXIT_* code (logged).
 */
int			publisher_start(publisher_t **out, uv_loop_t *loop, const publisher_opts_t *o,
							publisher_cb cb, void *arg);

/* publisher_kick - run a pass soon (a segment closed, a base appeared) */
void		publisher_kick(publisher_t *p);

void		publisher_state(publisher_t *p, publisher_state_t *st);

/*
 * publisher_stop - on the loop thread, when the stream stops: the thread
 * makes one last pass (what is closed gets published, one attempt) and
 * ends; the loop handle is closed.  publisher_free (after uv_run returned)
 * joins the thread and frees everything.
 */
void		publisher_stop(publisher_t *p);
void		publisher_free(publisher_t *p);

/*
 * publisher_adopt - before the stream starts in an empty directory: if the
 * store at url already holds a history, copy its newest segment into dir,
 * so the stream continues it (after the streamer's disk was lost, with
 * --ack-after-publish the slot still holds everything after it).  0 or a
 * TIDE_EXIT_* code (logged).
 */
int			publisher_adopt(const char *dir, const char *url);

/* `tide publish` and `tide prune` */
int			tide_cmd_publish(int argc, char **argv);
int			tide_cmd_prune(int argc, char **argv);

#endif /* TIDE_PUBLISH_H */
