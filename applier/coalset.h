/*
 * applier/coalset.h
 *		The pending set of one table's folded changes (coalesce.c): which
 *		state each key ends in, decided without a server, so that the rule
 *		can be tested on its own (tests/unit/test_coalesce.c).
 *
 * A key is its columns' wire bytes; a line is a row (or, for a deleted
 * key, its key columns) as a line of text COPY.  Both are copied into the
 * set's arena.
 */
#ifndef TIDE_COALSET_H
#define TIDE_COALSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tide/buf.h"

/* coal_fold and coal_append: take the statement path instead */
#define COAL_FALLBACK (-1)
/* a set this big is applied at once */
#define COAL_MAX_ENTRIES 65536
#define COAL_MAX_ARENA ((size_t) 32 << 20)

typedef struct
{
	uint64_t	hash;
	size_t		key_off;		/* the key's wire bytes, in arena */
	uint32_t	key_len;
	size_t		row_off;		/* COPY line of the whole row (I, U) */
	uint32_t	row_len;
	size_t		kline_off;		/* COPY line of the key (D, del_first) */
	uint32_t	kline_len;
	char		op;				/* 'I', 'U', 'D', or 0: nothing to do */
	bool		del_first;		/* an 'I' of a key the replica has */
	bool		dep;			/* --jobs: an earlier uncommitted unit wrote
								 * the key: written after it commits */
} coal_entry_t;

typedef struct apply_coal_s
{
	proto_wbuf_t arena;			/* owned */
	coal_entry_t *e;			/* owned */
	uint32_t	n;
	uint32_t	cap;
	uint32_t   *slots;			/* owned: entry index + 1, 0 = free */
	uint32_t	nslots;			/* power of two, > 2 n */
	uint32_t	last;			/* the entry the last fold or add went to */
} apply_coal_t;

/* coal_new - an empty set (NULL when out of memory); coal_set_free frees it */
apply_coal_t *coal_new(void);
void		coal_set_free(apply_coal_t *co);

/* coal_reset - empty the set, keeping its memory */
void		coal_reset(apply_coal_t *co);

/*
 * coal_fold - fold one change into the set: 'I' or 'U' with its new row's
 * line, 'D' with its key's line.  Returns 0 for a key new to the set, 1
 * when the change folded into an earlier one of the same key,
 * COAL_FALLBACK when no source produces this sequence (the set is left as
 * it was: the caller applies it, then the change by statement), or
 * TIDE_ENOMEM.
 */
int			coal_fold(apply_coal_t *co, char op, const void *key, size_t key_len,
					  const void *line, size_t line_len);

/*
 * coal_add_row - an insert into a table not folded per key: its line joins
 * the set in arrival order.  0 or TIDE_ENOMEM.
 */
int			coal_add_row(apply_coal_t *co, const void *line, size_t line_len);

/* coal_full - the set is big enough to be applied now */
bool		coal_full(const apply_coal_t *co);

#endif							/* TIDE_COALSET_H */
