/*
 * streamer/segstats.h
 *		What a segment's footer counts: transactions, changes, LSN and time
 *		ranges, changes per table.
 *
 * Fed one message at a time, both by the writer as the stream arrives and
 * by the restart scan of a .partial segment, so the two always agree.
 * Changes of an open transaction are held apart until its COMMIT: a
 * transaction cut short (connection loss) never reaches the counts.
 */
#ifndef TIDE_SEGSTATS_H
#define TIDE_SEGSTATS_H

#include <stdbool.h>
#include <stdint.h>

#include "tide/wire.h"

typedef struct
{
	uint32_t	relid;			/* 0 = free slot */
	char	   *nspname;		/* owned */
	char	   *relname;		/* owned */
	uint64_t	n[4];			/* inserts, updates, deletes, truncates */
	uint64_t	pending[4];		/* the same, in the open transaction */
} segstats_table_t;

typedef struct
{
	proto_lsn_t first_lsn;
	proto_lsn_t last_lsn;		/* end LSN of the last COMMIT */
	proto_time_t first_time;
	proto_time_t last_time;
	uint64_t	ntxns;
	uint64_t	nchanges;
	uint64_t	pending_changes;
	bool		in_txn;
	proto_lsn_t txn_lsn;		/* the open transaction's commit LSN */
	proto_time_t txn_time;		/* and commit time, from its BEGIN */
	segstats_table_t *tables;	/* owned, open addressing */
	uint32_t	cap;			/* power of two */
	uint32_t	ntables;
} segstats_t;

void		segstats_init(segstats_t *s);
void		segstats_free(segstats_t *s);
void		segstats_reset(segstats_t *s);

/*
 * segstats_account - count one message (type and body as from
 * proto_read_msg).  Returns 0 or an error code from decoding the body.
 */
int			segstats_account(segstats_t *s, uint8_t type, const uint8_t *body,
							 size_t len);

/* segstats_abort - forget the open transaction's changes. */
void		segstats_abort(segstats_t *s);

#endif /* TIDE_SEGSTATS_H */
