/*
 * tests/unit/test_deptrack.c
 *		applier/deptrack.c: which earlier uncommitted unit a unit of ordered
 *		parallel apply waits for; barriers and floors; committed keys swept
 *		(backward-shift deletion, clusters wrapping around the table's end);
 *		a bound that is never exceeded; and, against a model that remembers
 *		every key, that the answer is exact while nothing overflows and never
 *		smaller than the exact one when something does; a tracker that
 *		forgets only when everything has committed.  The key hashes of
 *		tuples too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tide/errors.h"
#include "deptrack.h"

/* unit: begin, write the keys, end; returns its dependency */
static uint64_t
unit(deptrack_t *dt, uint64_t u, const uint64_t *keys, int n, bool barrier)
{
	assert_int_equal(deptrack_begin(dt, u), 0);
	for (int i = 0; i < n; i++)
		deptrack_key(dt, keys[i]);
	if (barrier)
		deptrack_barrier(dt);
	return deptrack_end(dt, NULL);
}

static void
test_last_writer(void **state)
{
	deptrack_t	dt;
	uint64_t	a = 101, b = 202, c = 303;

	(void) state;
	assert_int_equal(deptrack_init(&dt, 64), 0);
	assert_int_equal(unit(&dt, 1, (uint64_t[]) {a, b}, 2, false), 0);
	/* B was written by 1, not committed */
	assert_int_equal(unit(&dt, 2, (uint64_t[]) {b}, 1, false), 1);
	assert_int_equal(unit(&dt, 3, (uint64_t[]) {c}, 1, false), 0);
	/* A's last writer is 1, B's is 2 now: the latest of both */
	assert_int_equal(unit(&dt, 4, (uint64_t[]) {a, b}, 2, false), 2);
	/* a key written twice in one unit does not make it wait for itself */
	assert_int_equal(unit(&dt, 5, (uint64_t[]) {c, c, c}, 3, false), 3);
	/* committed writers are waited for by nobody */
	deptrack_committed(&dt, 3);
	assert_int_equal(unit(&dt, 6, (uint64_t[]) {c}, 1, false), 5);
	assert_int_equal(unit(&dt, 7, (uint64_t[]) {b}, 1, false), 4);
	deptrack_committed(&dt, 7);
	assert_int_equal(unit(&dt, 8, (uint64_t[]) {a, b, c}, 3, false), 0);
	assert_int_equal(dt.stats.keys, 14);
	assert_int_equal(dt.stats.waits, 6);
	deptrack_free(&dt);
}

static void
test_per_key_prefix(void **state)
{
	deptrack_t	dt;

	(void) state;
	assert_int_equal(deptrack_init(&dt, 64), 0);
	assert_int_equal(unit(&dt, 1, (uint64_t[]) {1}, 1, false), 0);
	assert_int_equal(unit(&dt, 2, (uint64_t[]) {2}, 1, false), 0);
	/* deptrack_key: each key's own writer; deptrack_dep: the running
	 * dependency of the unit, so a worker may start early */
	assert_int_equal(deptrack_begin(&dt, 3), 0);
	assert_int_equal(deptrack_key(&dt, 9), 0);
	assert_int_equal(deptrack_dep(&dt), 0);
	assert_int_equal(deptrack_key(&dt, 1), 1);
	assert_int_equal(deptrack_key(&dt, 8), 0);
	assert_int_equal(deptrack_dep(&dt), 1);
	assert_int_equal(deptrack_key(&dt, 2), 2);
	assert_int_equal(deptrack_key(&dt, 1), 0);	/* its own now */
	assert_int_equal(deptrack_dep(&dt), 2);
	/* the watermark passing it while the unit is described */
	deptrack_committed(&dt, 2);
	assert_int_equal(deptrack_dep(&dt), 0);
	assert_int_equal(deptrack_key(&dt, 7), 0);
	assert_int_equal(deptrack_end(&dt, NULL), 0);
	/* a floor: every key of a later unit waits for it */
	assert_int_equal(unit(&dt, 4, NULL, 0, true), 3);
	assert_int_equal(deptrack_begin(&dt, 5), 0);
	assert_int_equal(deptrack_key(&dt, 12345), 4);
	assert_int_equal(deptrack_key(&dt, 9), 4);
	deptrack_end(&dt, NULL);
	assert_int_equal(deptrack_begin(&dt, 6), 0);
	assert_int_equal(deptrack_key(&dt, 9), 5);
	assert_int_equal(deptrack_end(&dt, NULL), 5);
	deptrack_free(&dt);
}

static void
test_barrier(void **state)
{
	deptrack_t	dt;
	bool		barrier;

	(void) state;
	assert_int_equal(deptrack_init(&dt, 64), 0);
	assert_int_equal(unit(&dt, 1, (uint64_t[]) {1}, 1, false), 0);
	assert_int_equal(unit(&dt, 2, (uint64_t[]) {2}, 1, false), 0);
	/* a barrier waits for every earlier unit ... */
	assert_int_equal(deptrack_begin(&dt, 3), 0);
	deptrack_barrier(&dt);
	deptrack_barrier(&dt);
	assert_int_equal(deptrack_end(&dt, &barrier), 2);
	assert_true(barrier);
	/* ... and every later one for it, sharing keys or not */
	assert_int_equal(deptrack_begin(&dt, 4), 0);
	assert_int_equal(deptrack_key(&dt, 77), 3);
	assert_int_equal(deptrack_end(&dt, &barrier), 3);
	assert_false(barrier);
	assert_int_equal(unit(&dt, 5, (uint64_t[]) {78}, 1, false), 3);
	assert_int_equal(unit(&dt, 6, (uint64_t[]) {77}, 1, false), 4);
	deptrack_committed(&dt, 3);
	assert_int_equal(unit(&dt, 7, (uint64_t[]) {79}, 1, false), 0);
	/* a barrier right after everything committed waits for nothing */
	deptrack_committed(&dt, 7);
	assert_int_equal(unit(&dt, 8, NULL, 0, true), 0);
	assert_int_equal(unit(&dt, 9, NULL, 0, false), 8);
	assert_int_equal(dt.stats.barriers, 2);
	deptrack_free(&dt);
}

static void
test_order(void **state)
{
	deptrack_t	dt;

	(void) state;
	assert_int_equal(deptrack_init(&dt, 64), 0);
	assert_int_equal(deptrack_begin(&dt, 0), TIDE_EBADSTATE);
	assert_int_equal(deptrack_begin(&dt, 2), 0);
	assert_int_equal(deptrack_begin(&dt, 3), TIDE_EBADSTATE);	/* 2 is open */
	deptrack_end(&dt, NULL);
	assert_int_equal(deptrack_begin(&dt, 2), TIDE_EBADSTATE);	/* not after 2 */
	assert_int_equal(deptrack_begin(&dt, 1), TIDE_EBADSTATE);
	deptrack_committed(&dt, 5);
	assert_int_equal(deptrack_begin(&dt, 4), TIDE_EBADSTATE);	/* committed already */
	assert_int_equal(deptrack_begin(&dt, 6), 0);
	/* no open unit: keys are not taken */
	deptrack_end(&dt, NULL);
	assert_int_equal(deptrack_key(&dt, 5), 0);
	assert_int_equal(dt.used, 0);
	deptrack_free(&dt);
}

/*
 * A bound of 8 keys: a unit whose new key does not fit becomes a floor;
 * once its writers commit, the sweep makes room again.
 */
static void
test_bound_and_sweep(void **state)
{
	deptrack_t	dt;
	uint64_t	u = 0;

	(void) state;
	assert_int_equal(deptrack_init(&dt, 8), 0);
	for (uint64_t k = 1; k <= 8; k++)
		assert_int_equal(unit(&dt, ++u, (uint64_t[]) {k * 1000}, 1, false), 0);
	assert_int_equal(dt.used, 8);
	/* full, nothing committed: unit 9 cannot be remembered */
	assert_int_equal(unit(&dt, ++u, (uint64_t[]) {9000, 1000}, 2, false), 1);
	assert_int_equal(dt.used, 8);
	assert_int_equal(dt.stats.overflows, 1);
	/* so unit 10 waits for 9, though it shares no key it knows of (and,
	 * its key not fitting either, is the floor now) */
	assert_int_equal(unit(&dt, ++u, (uint64_t[]) {9000}, 1, false), 9);
	assert_int_equal(dt.stats.overflows, 2);
	assert_int_equal(dt.floor, 10);
	/* units 1..10 commit: a sweep frees their keys (9's own 1000 too) */
	deptrack_committed(&dt, 10);
	assert_int_equal(unit(&dt, ++u, (uint64_t[]) {9000}, 1, false), 0);
	assert_int_equal(dt.stats.sweeps, 1);
	assert_int_equal(deptrack_live(&dt), 1);
	assert_int_equal(dt.used, 1);
	/* 10's key 9000? it never got in; 11 wrote it: 12 waits for 11 */
	assert_int_equal(unit(&dt, ++u, (uint64_t[]) {9000, 1000}, 2, false), 11);
	assert_true(dt.used <= dt.max_keys);
	deptrack_free(&dt);
}

/*
 * Keys crowding the end of the table so that clusters wrap around to its
 * start: after a sweep every live key is still found.
 */
static void
test_sweep_wraps(void **state)
{
	deptrack_t	dt;
	uint32_t	ns;
	uint64_t	keys[24];
	uint64_t	u = 0;

	(void) state;
	assert_int_equal(deptrack_init(&dt, 24), 0);
	ns = dt.nslots;
	/* homes ns-3 .. ns-1 and 0: one cluster across the end */
	for (int i = 0; i < 24; i++)
		keys[i] = (uint64_t) (i + 1) * ns + (uint64_t) ((ns - 3 + (uint32_t) (i % 4)) & (ns - 1));
	for (int i = 0; i < 24; i++)
		unit(&dt, ++u, &keys[i], 1, false);
	assert_int_equal(dt.used, 24);
	/* every other unit "commits" by rewriting odd keys in later units first */
	for (int i = 1; i < 24; i += 2)
		unit(&dt, ++u, &keys[i], 1, false);
	deptrack_committed(&dt, 24);	/* the first 24 units */
	/* a new key forces a sweep: even keys go, odd ones (units 25..36) stay */
	assert_int_equal(unit(&dt, ++u, (uint64_t[]) {5}, 1, false), 0);
	assert_int_equal(dt.stats.sweeps, 1);
	assert_int_equal(dt.used, 13);
	for (int i = 1; i < 24; i += 2)
	{
		uint64_t	w = 25 + (uint64_t) (i / 2);

		assert_int_equal(unit(&dt, ++u, &keys[i], 1, false), w);
	}
	for (int i = 0; i < 24; i += 2)
		assert_int_equal(unit(&dt, ++u, &keys[i], 1, false), 0);
	deptrack_free(&dt);
}

/* a small deterministic generator (xorshift) */
static uint64_t rng = 88172645463325252ULL;

static uint64_t
next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/*
 * Random units against a model that remembers every key's last writer:
 * with room enough (sweeps, no overflow) the answers are equal; with a
 * tight bound they are never smaller (overflows only add waits), and the
 * table never holds more than the bound.
 */
static void
run_model(uint32_t bound, uint32_t universe, int maxkeys, int lag, bool expect_exact)
{
	deptrack_t	dt;
	uint64_t   *writer = calloc(universe, sizeof(uint64_t));
	uint64_t	committed = 0;
	uint64_t	floor = 0;

	assert_non_null(writer);
	assert_int_equal(deptrack_init(&dt, bound), 0);
	for (uint64_t u = 1; u <= 20000; u++)
	{
		int			n = 1 + (int) (next_rand() % (uint64_t) maxkeys);
		bool		barrier = next_rand() % 500 == 0;
		uint64_t	exact = floor > committed ? floor : 0;
		uint64_t	got;

		assert_int_equal(deptrack_begin(&dt, u), 0);
		for (int i = 0; i < n; i++)
		{
			uint32_t	k = (uint32_t) (next_rand() % universe);

			/* keys as a hash would give them: spread, but collisions happen */
			deptrack_key(&dt, (uint64_t) k * 0x9E3779B97F4A7C15ULL);
			if (writer[k] > committed && writer[k] != u && writer[k] > exact)
				exact = writer[k];
			writer[k] = u;
		}
		if (barrier)
		{
			deptrack_barrier(&dt);
			if (u - 1 > committed)
				exact = u - 1;
			floor = u;
		}
		got = deptrack_end(&dt, NULL);
		if (expect_exact)
			assert_int_equal(got, exact);
		else
			assert_true(got >= exact);
		assert_true(got < u);
		assert_true(dt.used <= dt.max_keys);
		/* commits trail dispatch by up to lag units */
		if (u > (uint64_t) lag && next_rand() % 3 != 0)
		{
			uint64_t	to = u - (uint64_t) (next_rand() % (uint64_t) lag);

			if (to > committed)
			{
				committed = to;
				deptrack_committed(&dt, committed);
			}
		}
	}
	if (expect_exact)
	{
		assert_int_equal(dt.stats.overflows, 0);
		assert_true(dt.stats.sweeps > 10);
	}
	else
		assert_true(dt.stats.overflows > 0);
	deptrack_free(&dt);
	free(writer);
}

static void
test_model_exact(void **state)
{
	(void) state;
	run_model(512, 100000, 8, 20, true);
	/* a small universe: most units wait for someone */
	run_model(256, 300, 6, 30, true);
}

static void
test_model_bounded(void **state)
{
	(void) state;
	run_model(64, 100000, 8, 40, false);
}

/* ------------------------------------------------------------- keys */

static proto_column_t cols3[3] = {
	{.flags = PROTO_COL_KEY, .name = {"zeta", 4}},
	{.flags = 0, .name = {"payload", 7}},
	{.flags = PROTO_COL_KEY, .name = {"alpha", 5}},
};

static void
test_key_cols(void **state)
{
	proto_relation_t rel = {.relid = 1, .natts = 3, .cols = cols3};
	uint16_t	c[3];

	(void) state;
	/* by name, not by position */
	assert_int_equal(deptrack_key_cols(&rel, c), 2);
	assert_int_equal(c[0], 2);
	assert_int_equal(c[1], 0);
	cols3[0].flags = 0;
	cols3[2].flags = 0;
	assert_int_equal(deptrack_key_cols(&rel, c), 0);
	cols3[0].flags = PROTO_COL_KEY;
	cols3[2].flags = PROTO_COL_KEY;
}

static void
test_hash(void **state)
{
	proto_datum_t d1[2] = {{PROTO_DATUM_VALUE, 2, (const uint8_t *) "ab"}, {PROTO_DATUM_VALUE, 1, (const uint8_t *) "c"}};
	proto_datum_t d2[2] = {{PROTO_DATUM_VALUE, 1, (const uint8_t *) "a"}, {PROTO_DATUM_VALUE, 2, (const uint8_t *) "bc"}};
	proto_datum_t d3[2] = {{PROTO_DATUM_VALUE, 2, (const uint8_t *) "ab"}, {PROTO_DATUM_VALUE, 1, (const uint8_t *) "c"}};
	proto_datum_t dn[2] = {{PROTO_DATUM_VALUE, 2, (const uint8_t *) "ab"}, {PROTO_DATUM_NULL, 0, NULL}};
	proto_datum_t du[2] = {{PROTO_DATUM_UNCHANGED, 0, NULL}, {PROTO_DATUM_VALUE, 1, (const uint8_t *) "c"}};
	proto_tuple_t t1 = {2, d1}, t2 = {2, d2}, t3 = {2, d3}, tn = {2, dn}, tu = {2, du};
	uint16_t	c[2] = {0, 1};
	uint16_t	rc[2] = {1, 0};
	uint16_t	bad[1] = {5};
	int			st;
	uint64_t	h1, h;

	(void) state;
	h1 = deptrack_hash(16384, 0, &t1, c, 2, &st);
	assert_int_equal(st, DEPTRACK_KEY_OK);
	/* equal values (other memory): equal keys */
	assert_true(deptrack_hash(16384, 0, &t3, c, 2, &st) == h1);
	/* the same bytes cut elsewhere, another table, another unique key,
	 * another column order: other keys */
	assert_true(deptrack_hash(16384, 0, &t2, c, 2, &st) != h1);
	assert_true(deptrack_hash(16385, 0, &t1, c, 2, &st) != h1);
	assert_true(deptrack_hash(16384, 1, &t1, c, 2, &st) != h1);
	assert_true(deptrack_hash(16384, 0, &t1, rc, 2, &st) != h1);
	/* a NULL: no key; a value not sent, or no such column: unknown */
	h = deptrack_hash(16384, 0, &tn, c, 2, &st);
	assert_int_equal(st, DEPTRACK_KEY_NULL);
	assert_true(h == 0);
	deptrack_hash(16384, 0, &tu, c, 2, &st);
	assert_int_equal(st, DEPTRACK_KEY_UNKNOWN);
	deptrack_hash(16384, 0, &t1, bad, 1, &st);
	assert_int_equal(st, DEPTRACK_KEY_UNKNOWN);
}

/* forget: only with no unit open and all committed; then nothing waits */
static void
test_forget(void **state)
{
	deptrack_t	dt;
	uint64_t	a = 101, b = 202;

	(void) state;
	assert_int_equal(deptrack_init(&dt, 64), 0);
	assert_int_equal(unit(&dt, 1, (uint64_t[]) {a, b}, 2, false), 0);
	assert_int_equal(unit(&dt, 2, (uint64_t[]) {b}, 1, false), 1);
	/* unit 2 has not committed: its key still matters */
	deptrack_committed(&dt, 1);
	assert_int_equal(deptrack_forget(&dt), TIDE_EBADSTATE);
	assert_int_equal(deptrack_live(&dt), 1);
	/* nor while a unit is open */
	deptrack_committed(&dt, 2);
	assert_int_equal(deptrack_begin(&dt, 3), 0);
	assert_int_equal(deptrack_forget(&dt), TIDE_EBADSTATE);
	deptrack_key(&dt, a);
	assert_int_equal(deptrack_end(&dt, NULL), 0);
	assert_int_equal(dt.used, 2);
	deptrack_committed(&dt, 3);
	/* everything committed: a new, empty table; units go on in order */
	assert_int_equal(deptrack_forget(&dt), 0);
	assert_int_equal(dt.used, 0);
	for (uint32_t i = 0; i < dt.nslots; i++)
		assert_int_equal(dt.slots[i].writer, 0);
	assert_int_equal(deptrack_begin(&dt, 3), TIDE_EBADSTATE);
	assert_int_equal(unit(&dt, 4, (uint64_t[]) {a, b}, 2, false), 0);
	assert_int_equal(unit(&dt, 5, (uint64_t[]) {b}, 1, false), 4);
	assert_int_equal(deptrack_live(&dt), 2);
	deptrack_free(&dt);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_last_writer),
		cmocka_unit_test(test_per_key_prefix),
		cmocka_unit_test(test_barrier),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_bound_and_sweep),
		cmocka_unit_test(test_sweep_wraps),
		cmocka_unit_test(test_model_exact),
		cmocka_unit_test(test_model_bounded),
		cmocka_unit_test(test_forget),
		cmocka_unit_test(test_key_cols),
		cmocka_unit_test(test_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
