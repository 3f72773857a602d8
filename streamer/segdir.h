/*
 * streamer/segdir.h
 *		A directory of segments: listing, scanning, repair, retention.
 */
#ifndef TIDE_SEGDIR_H
#define TIDE_SEGDIR_H

#include <stdbool.h>
#include <stdint.h>

#include "segstats.h"
#include "segwriter.h"
#include "tide/segment.h"

typedef struct
{
	char		name[SEG_NAME_LEN + 1];	/* without suffix */
	proto_time_t bucket_start;
	proto_lsn_t start_lsn;
	bool		partial;
} segdir_entry_t;

typedef struct
{
	segdir_entry_t *v;			/* owned, in LSN order (then bucket) */
	size_t		n;
} segdir_list_t;

/* segdir_list - the segments in dir, in start LSN order, then bucket. */
int			segdir_list(const char *dir, segdir_list_t *list);
void		segdir_list_free(segdir_list_t *list);

/* What a full read of one segment found. */
typedef struct
{
	int			err;			/* 0, or the damage found */
	uint64_t	err_offset;		/* where */
	uint64_t	size;			/* file size */
	uint64_t	txn_end;		/* end of the last whole-transaction block */
	proto_lsn_t covered;		/* complete up to this LSN */
	uint64_t	nblocks;		/* data blocks up to txn_end */
	uint64_t   *block_offsets;	/* owned, if asked for */
	proto_lsn_t *block_lsns;	/* owned, if asked for */
} segdir_scan_t;

/*
 * segdir_scan_file - read every block of an open reader, verifying each
 * checksum and counting messages into stats.  For a closed segment the
 * counts are compared with the footer (a mismatch is TIDE_EBADVALUE).
 * With want_index, the block index up to txn_end is kept.
 */
int			segdir_scan_file(seg_reader_t *r, segstats_t *stats,
							 segdir_scan_t *scan, bool want_index);
void		segdir_scan_free(segdir_scan_t *scan);

/*
 * segdir_resume - what `tide stream` needs to continue in dir: identity,
 * the LSN the stream is complete up to, and the open .partial cut back to
 * its last whole transaction.  Logs what it repairs; errors are logged.
 */
int			segdir_resume(const char *dir, segwriter_resume_t *resume);
void		segdir_resume_free(segwriter_resume_t *resume);

/*
 * segdir_prune - delete closed segments whose bucket ended before
 * now - retain.  The open segment and the newest closed one stay, and so
 * does every segment after the oldest kept base.  keep_bases >= 1 also
 * deletes bases older than the window beyond the newest keep_bases.
 * Returns the number deleted, or a negative error (logged).
 */
int			segdir_prune(const char *dir, int64_t retain_usecs,
						 proto_time_t now, bool dry_run, int keep_bases);

#endif /* TIDE_SEGDIR_H */
