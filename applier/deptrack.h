/*
 * applier/deptrack.h
 *		Dependency tracking for ordered parallel apply (`tide apply --jobs`):
 *		which earlier, still uncommitted unit of work a new one must wait for.
 *
 * A unit is what one worker applies in one replica transaction: a run of
 * consecutive source transactions (applier/jobs.c).  Units are numbered
 * 1, 2, 3, ... in source commit order and commit on the replica in that
 * order.  Each unit is described to the tracker as the set of keys its
 * changes write; a key is a 64-bit hash of (replica table, which unique
 * key, the key's values).  The tracker remembers, per key, the last unit
 * that wrote it (its "writer"), and answers for each new unit the latest
 * earlier unit that wrote one of its keys and has not committed yet.
 *
 * Why one number is enough: the replica commits units in order, so "every
 * unit this one depends on has committed" is the same as "the commit
 * watermark has reached the latest of them".  A worker therefore waits for
 * a single watermark, dep, before it writes (deptrack_key gives it per key,
 * so a worker may start a unit and wait only before its first conflicting
 * write; deptrack_end gives it for the whole unit).
 *
 * Barriers: a unit that cannot be described by keys (TRUNCATE, DDL, a
 * table with replica triggers or another unique index, anything unknown)
 * is a barrier: it depends on every earlier unit, and every later unit
 * depends on it.
 *
 * Bounded memory: at most max_keys keys are remembered.  Keys whose writer
 * has committed are useless (nobody needs to wait for a committed unit) and
 * are swept out when the table is full.  When the keys of uncommitted units
 * alone fill it, the unit whose key did not fit becomes a floor: every
 * later unit depends on it, as after a barrier.  That is slower, never
 * wrong, and never unbounded.
 *
 * Hash collisions only add dependencies (two different keys sharing a hash
 * make the later unit wait), never remove one.  The tracker is pure: no
 * locks, no I/O; the dispatcher owns it and feeds it the commit watermark.
 */
#ifndef TIDE_DEPTRACK_H
#define TIDE_DEPTRACK_H

#include <stdbool.h>
#include <stdint.h>

#include "tide/wire.h"

/* the default bound on remembered keys (16 bytes each, twice as many slots) */
#define DEPTRACK_DEFAULT_KEYS (256 * 1024)

typedef struct
{
	uint64_t	key;
	uint64_t	writer;			/* unit; 0: the slot is free */
} deptrack_slot_t;

typedef struct
{
	uint64_t	keys;			/* keys described */
	uint64_t	waits;			/* of which depended on an uncommitted unit */
	uint64_t	barriers;		/* units that were barriers */
	uint64_t	overflows;		/* units whose keys did not fit: a floor */
	uint64_t	sweeps;			/* sweeps of committed keys */
	uint64_t	swept;			/* keys they removed */
} deptrack_stats_t;

typedef struct
{
	deptrack_slot_t *slots;		/* owned: open addressing, linear probing */
	uint32_t	nslots;			/* a power of two, >= 2 max_keys */
	uint32_t	max_keys;		/* at most this many slots used */
	uint32_t	used;
	uint64_t	committed;		/* every unit <= committed has committed */
	uint64_t	swept_at;		/* committed at the last sweep */
	uint64_t	floor;			/* every unit after floor depends on it */
	uint64_t	last;			/* the last unit begun */
	uint64_t	cur;			/* the unit being described, 0: none */
	uint64_t	cur_dep;		/* its dependency so far */
	bool		cur_barrier;
	deptrack_stats_t stats;
} deptrack_t;

/*
 * deptrack_init - a tracker remembering at most max_keys keys (0: the
 * default).  Returns 0 or TIDE_ENOMEM.  deptrack_free releases it.
 */
int			deptrack_init(deptrack_t *dt, uint32_t max_keys);
void		deptrack_free(deptrack_t *dt);

/*
 * deptrack_begin - describe unit `unit` (greater than every unit before).
 * Returns 0, or TIDE_EBADSTATE for a unit out of order or one begun while
 * another is open.
 */
int			deptrack_begin(deptrack_t *dt, uint64_t unit);

/*
 * deptrack_key - the open unit writes key.  Returns the unit that must have
 * committed before this write goes out (0: none): the key's last writer if
 * it is an earlier unit not yet committed, or a floor, whichever is later.
 * The unit's dependency (deptrack_dep, deptrack_end) is the largest of
 * these.  The key's writer becomes the open unit.
 */
uint64_t	deptrack_key(deptrack_t *dt, uint64_t key);

/*
 * deptrack_dep - the open unit's dependency so far (deptrack_key's answer
 * for its last key), 0 when that unit has committed or there is none.
 */
uint64_t	deptrack_dep(const deptrack_t *dt);

/*
 * deptrack_barrier - the open unit depends on every earlier unit and every
 * later unit on it.
 */
void		deptrack_barrier(deptrack_t *dt);

/*
 * deptrack_end - close the open unit.  Returns the unit it must wait for
 * (0: none; unit - 1 for a barrier); *barrier (if not NULL) says whether it
 * was one.
 */
uint64_t	deptrack_end(deptrack_t *dt, bool *barrier);

/*
 * deptrack_committed - every unit up to and including `unit` has committed
 * on the replica (the watermark only moves forward).
 */
void		deptrack_committed(deptrack_t *dt, uint64_t unit);

/*
 * deptrack_forget - with no unit open and every unit begun committed,
 * drop every key (none can make a later unit wait) and hand back the
 * table's pages: it is allocated anew, untouched.  Returns 0,
 * TIDE_EBADSTATE when a unit is open or one has not committed (nothing
 * changes), or TIDE_ENOMEM (the tracker keeps its old table).
 */
int			deptrack_forget(deptrack_t *dt);

/*
 * deptrack_live - keys whose writer has not committed (for tests and
 * metrics; walks the table).
 */
uint32_t	deptrack_live(const deptrack_t *dt);

/*
 * Keys.  deptrack_key_cols - the columns of rel in its replica identity,
 * ordered by name (not by position: two source partitions routed into one
 * replica table may order their columns differently), into cols (room for
 * rel->natts).  Returns how many (0: no identity).
 *
 * deptrack_hash - the key of tuple t's values in cols[0..n) for unique key
 * `index` (0: the identity) of replica table `table`.  *status says whether
 * there is one: DEPTRACK_KEY_OK; DEPTRACK_KEY_NULL, a NULL in it (NULLs do
 * not conflict in a unique index: no key); DEPTRACK_KEY_UNKNOWN, a value
 * that was not sent (an unchanged TOASTed column): the caller must treat
 * the change as a barrier.  Equal values in the same wire form give equal
 * keys; two wire forms of values the replica holds equal (numeric 1.0 and
 * 1.00) do not, see jobs.c for what catches that.
 */
#define DEPTRACK_KEY_OK 0
#define DEPTRACK_KEY_NULL 1
#define DEPTRACK_KEY_UNKNOWN 2

int			deptrack_key_cols(const proto_relation_t *rel, uint16_t *cols);
uint64_t	deptrack_hash(uint32_t table, uint16_t index, const proto_tuple_t *t,
						  const uint16_t *cols, int n, int *status);

#endif /* TIDE_DEPTRACK_H */
