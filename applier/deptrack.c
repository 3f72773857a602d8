/*
 * applier/deptrack.c
 *		The dependency tracker of ordered parallel apply (deptrack.h says
 *		what it answers and why one watermark per unit is enough).
 *
 * The table is open addressing with linear probing over 16-byte slots, at
 * most half full.  A slot is free when its writer is 0 (units start at 1).
 * Keys are never deleted one by one: a sweep, run when the table is full
 * and the watermark has moved since the last one, removes every key whose
 * writer has committed, with backward-shift deletion so that no tombstone
 * is left to lengthen later probes.
 */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "tide/errors.h"
#include "deptrack.h"

int
deptrack_init(deptrack_t *dt, uint32_t max_keys)
{
	uint32_t	n = 16;

	memset(dt, 0, sizeof(*dt));
	if (max_keys == 0)
		max_keys = DEPTRACK_DEFAULT_KEYS;
	if (max_keys > (UINT32_C(1) << 30))
		max_keys = UINT32_C(1) << 30;
	while (n < 2 * (uint64_t) max_keys)
		n *= 2;
	if ((dt->slots = calloc(n, sizeof(deptrack_slot_t))) == NULL)
		return TIDE_ENOMEM;
	dt->nslots = n;
	dt->max_keys = max_keys;
	return 0;
}

void
deptrack_free(deptrack_t *dt)
{
	free(dt->slots);
	memset(dt, 0, sizeof(*dt));
}

int
deptrack_begin(deptrack_t *dt, uint64_t unit)
{
	if (dt->cur != 0 || unit <= dt->last || unit <= dt->committed)
		return TIDE_EBADSTATE;
	dt->cur = dt->last = unit;
	dt->cur_barrier = false;
	/* a floor not yet committed holds every later unit back */
	dt->cur_dep = dt->floor > dt->committed ? dt->floor : 0;
	return 0;
}

/* pending - the open unit's dependency, 0 once it has committed */
static inline uint64_t
pending(const deptrack_t *dt)
{
	return dt->cur_dep > dt->committed ? dt->cur_dep : 0;
}

/* home - the first slot a key probes */
static inline uint32_t
home(const deptrack_t *dt, uint64_t key)
{
	/* the low bits of a hash are as good as any; mix in the high ones */
	return (uint32_t) (key ^ (key >> 32)) & (dt->nslots - 1);
}

/*
 * sweep - remove every key whose writer has committed.  Backward-shift
 * deletion: after a slot is emptied, each following entry of the cluster
 * whose home does not lie cyclically in (hole, entry] moves into the hole.
 * The walk starts just after a free slot, so no cluster wraps across its
 * start; a slot that received a moved entry is looked at again.
 */
static void
sweep(deptrack_t *dt)
{
	uint32_t	mask = dt->nslots - 1;
	uint32_t	start = 0;
	uint32_t	removed = 0;

	dt->stats.sweeps++;
	dt->swept_at = dt->committed;
	while (dt->slots[start].writer != 0)
		start = (start + 1) & mask;		/* at most half full: one is free */
	for (uint32_t step = 1; step <= dt->nslots; step++)
	{
		uint32_t	i = (start + step) & mask;

		while (dt->slots[i].writer != 0 && dt->slots[i].writer <= dt->committed)
		{
			uint32_t	hole = i;
			uint32_t	j = i;

			removed++;
			for (;;)
			{
				uint32_t	h;

				j = (j + 1) & mask;
				if (dt->slots[j].writer == 0)
					break;
				h = home(dt, dt->slots[j].key);
				/* may the entry at j move back to hole? (h not in (hole, j]) */
				if (hole <= j ? (h <= hole || h > j) : (h <= hole && h > j))
				{
					dt->slots[hole] = dt->slots[j];
					hole = j;
				}
			}
			dt->slots[hole].writer = 0;
			dt->slots[hole].key = 0;
			/* slot i now holds what moved into it, or is free: look again */
		}
	}
	dt->used -= removed;
	dt->stats.swept += removed;
}

uint64_t
deptrack_key(deptrack_t *dt, uint64_t key)
{
	uint32_t	mask = dt->nslots - 1;
	uint32_t	i;
	uint64_t	own;

	if (dt->cur == 0)
		return 0;
	dt->stats.keys++;
	/* a floor holds every key of the unit back */
	own = dt->floor > dt->committed && dt->floor != dt->cur ? dt->floor : 0;
	for (i = home(dt, key); dt->slots[i].writer != 0; i = (i + 1) & mask)
	{
		deptrack_slot_t *s = &dt->slots[i];

		if (s->key != key)
			continue;
		if (s->writer > dt->committed && s->writer != dt->cur)
		{
			dt->stats.waits++;
			if (s->writer > own)
				own = s->writer;
			if (s->writer > dt->cur_dep)
				dt->cur_dep = s->writer;
		}
		s->writer = dt->cur;
		return own;
	}
	/* a key no uncommitted unit wrote: remember it, if there is room */
	if (dt->used >= dt->max_keys && dt->committed > dt->swept_at)
	{
		sweep(dt);
		for (i = home(dt, key); dt->slots[i].writer != 0; i = (i + 1) & mask)
			;
	}
	if (dt->used >= dt->max_keys)
	{
		/* the unit's other keys are unknown to later units: it is a floor */
		if (dt->floor != dt->cur)
			dt->stats.overflows++;
		dt->floor = dt->cur;
		return own;
	}
	dt->slots[i].key = key;
	dt->slots[i].writer = dt->cur;
	dt->used++;
	return own;
}

uint64_t
deptrack_dep(const deptrack_t *dt)
{
	return dt->cur ? pending(dt) : 0;
}

void
deptrack_barrier(deptrack_t *dt)
{
	if (dt->cur == 0)
		return;
	if (!dt->cur_barrier)
		dt->stats.barriers++;
	dt->cur_barrier = true;
	dt->floor = dt->cur;
	if (dt->cur - 1 > dt->committed && dt->cur - 1 > dt->cur_dep)
		dt->cur_dep = dt->cur - 1;
}

uint64_t
deptrack_end(deptrack_t *dt, bool *barrier)
{
	uint64_t	dep = pending(dt);

	if (barrier)
		*barrier = dt->cur_barrier;
	dt->cur = 0;
	dt->cur_dep = 0;
	dt->cur_barrier = false;
	return dep;
}

void
deptrack_committed(deptrack_t *dt, uint64_t unit)
{
	if (unit > dt->committed)
		dt->committed = unit;
}

int
deptrack_forget(deptrack_t *dt)
{
	deptrack_slot_t *slots;

	if (dt->cur != 0 || dt->committed < dt->last)
		return TIDE_EBADSTATE;
	if ((slots = calloc(dt->nslots, sizeof(deptrack_slot_t))) == NULL)
		return TIDE_ENOMEM;
	free(dt->slots);
	dt->slots = slots;
	dt->used = 0;
	dt->swept_at = dt->committed;
	return 0;
}

uint32_t
deptrack_live(const deptrack_t *dt)
{
	uint32_t	n = 0;

	for (uint32_t i = 0; i < dt->nslots; i++)
		n += dt->slots[i].writer > dt->committed;
	return n;
}

/* ------------------------------------------------------------- keys */

/* name_cmp - two columns' names, as memcmp then length orders them */
static int
name_cmp(const proto_str_t *a, const proto_str_t *b)
{
	size_t		n = a->n < b->n ? a->n : b->n;
	int			c = n ? memcmp(a->p, b->p, n) : 0;

	if (c != 0)
		return c;
	return a->n < b->n ? -1 : a->n > b->n;
}

int
deptrack_key_cols(const proto_relation_t *rel, uint16_t *cols)
{
	int			n = 0;

	for (uint16_t i = 0; i < rel->natts; i++)
	{
		int			j;

		if (!(rel->cols[i].flags & PROTO_COL_KEY))
			continue;
		/* insertion sort by name: identity keys have a handful of columns */
		for (j = n; j > 0 && name_cmp(&rel->cols[cols[j - 1]].name, &rel->cols[i].name) > 0; j--)
			cols[j] = cols[j - 1];
		cols[j] = i;
		n++;
	}
	return n;
}

uint64_t
deptrack_hash(uint32_t table, uint16_t index, const proto_tuple_t *t,
			  const uint16_t *cols, int n, int *status)
{
	uint64_t	h = XXH3_64bits_withSeed(&table, sizeof(table), index);

	*status = DEPTRACK_KEY_OK;
	for (int i = 0; i < n; i++)
	{
		const proto_datum_t *d;

		if (cols[i] >= t->natts)
		{
			*status = DEPTRACK_KEY_UNKNOWN;
			return 0;
		}
		d = &t->cols[cols[i]];
		if (d->kind == PROTO_DATUM_NULL)
		{
			*status = DEPTRACK_KEY_NULL;
			return 0;
		}
		if (d->kind != PROTO_DATUM_VALUE)
		{
			*status = DEPTRACK_KEY_UNKNOWN;
			return 0;
		}
		/* each column's length is in its seed: ("ab","c") differs from ("a","bc") */
		h = XXH3_64bits_withSeed(d->data, d->len, h ^ ((uint64_t) d->len << 32 | (uint64_t) i));
	}
	return h;
}
