/*
 * streamer/segdir.h
 *		The streamer's directory: scanning a segment, repairing a torn open
 *		segment on restart (listing and retention are store/'s).
 */
#ifndef TIDE_SEGDIR_H
#define TIDE_SEGDIR_H

#include <stdbool.h>
#include <stdint.h>

#include "segstats.h"
#include "segwriter.h"
#include "tide/segment.h"

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

#endif /* TIDE_SEGDIR_H */
