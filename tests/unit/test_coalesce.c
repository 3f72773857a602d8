/*
 * tests/unit/test_coalesce.c
 *		The fold of set-based apply (applier/coalset.c): the state each key
 *		of a batch ends in, for every sequence of changes a source can
 *		produce, and the sequences no source produces refused (the applier
 *		then applies the set and takes the statement path).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tide/errors.h"
#include "coalset.h"

/* fold - one change of key k; the line says which change it was */
static int
fold(apply_coal_t *co, char op, const char *k, const char *line)
{
	return coal_fold(co, op, k, strlen(k), line, strlen(line));
}

/* entry - the set's entry of key k, or NULL */
static const coal_entry_t *
entry(const apply_coal_t *co, const char *k)
{
	for (uint32_t i = 0; i < co->n; i++)
	{
		const coal_entry_t *e = &co->e[i];

		if (e->key_len == strlen(k) && memcmp(co->arena.data + e->key_off, k, e->key_len) == 0)
			return e;
	}
	return NULL;
}

static void
assert_row(const apply_coal_t *co, const coal_entry_t *e, const char *line)
{
	assert_non_null(e);
	assert_int_equal(e->row_len, strlen(line));
	assert_memory_equal(co->arena.data + e->row_off, line, e->row_len);
}

static void
assert_kline(const apply_coal_t *co, const coal_entry_t *e, const char *line)
{
	assert_non_null(e);
	assert_int_equal(e->kline_len, strlen(line));
	assert_memory_equal(co->arena.data + e->kline_off, line, e->kline_len);
}

static int
setup(void **state)
{
	*state = coal_new();
	return *state ? 0 : -1;
}

static int
teardown(void **state)
{
	coal_set_free(*state);
	return 0;
}

/* first changes of a key are kept as they came */
static void
test_first(void **state)
{
	apply_coal_t *co = *state;

	assert_int_equal(fold(co, 'I', "k1", "1\ta\n"), 0);
	assert_int_equal(fold(co, 'U', "k2", "2\tb\n"), 0);
	assert_int_equal(fold(co, 'D', "k3", "3\n"), 0);
	assert_int_equal(co->n, 3);
	assert_int_equal(entry(co, "k1")->op, 'I');
	assert_row(co, entry(co, "k1"), "1\ta\n");
	assert_int_equal(entry(co, "k2")->op, 'U');
	assert_row(co, entry(co, "k2"), "2\tb\n");
	assert_int_equal(entry(co, "k3")->op, 'D');
	assert_kline(co, entry(co, "k3"), "3\n");
	assert_false(entry(co, "k1")->del_first);
	assert_null(entry(co, "k4"));
}

/* updates fold into the insert or update before them: the newest image */
static void
test_updates(void **state)
{
	apply_coal_t *co = *state;

	assert_int_equal(fold(co, 'I', "k", "1\ta\n"), 0);
	assert_int_equal(fold(co, 'U', "k", "1\tb\n"), 1);
	assert_int_equal(fold(co, 'U', "k", "1\tc\n"), 1);
	assert_int_equal(co->n, 1);
	assert_int_equal(entry(co, "k")->op, 'I');	/* still an insert */
	assert_row(co, entry(co, "k"), "1\tc\n");

	assert_int_equal(fold(co, 'U', "u", "2\tx\n"), 0);
	assert_int_equal(fold(co, 'U', "u", "2\ty\n"), 1);
	assert_int_equal(entry(co, "u")->op, 'U');
	assert_row(co, entry(co, "u"), "2\ty\n");
}

/* a delete ends an update (the key goes) and cancels an insert of the batch */
static void
test_deletes(void **state)
{
	apply_coal_t *co = *state;

	assert_int_equal(fold(co, 'U', "u", "1\ta\n"), 0);
	assert_int_equal(fold(co, 'D', "u", "1\n"), 1);
	assert_int_equal(entry(co, "u")->op, 'D');
	assert_kline(co, entry(co, "u"), "1\n");

	/* inserted and deleted in the batch: the replica never sees it */
	assert_int_equal(fold(co, 'I', "i", "2\ta\n"), 0);
	assert_int_equal(fold(co, 'D', "i", "2\n"), 1);
	assert_int_equal(entry(co, "i")->op, 0);
	/* and inserted again: an insert, nothing to delete first */
	assert_int_equal(fold(co, 'I', "i", "2\tb\n"), 1);
	assert_int_equal(entry(co, "i")->op, 'I');
	assert_false(entry(co, "i")->del_first);
	assert_row(co, entry(co, "i"), "2\tb\n");
	assert_int_equal(co->n, 2);
}

/* deleted then inserted: the replica's row goes first, then the new one */
static void
test_reinsert(void **state)
{
	apply_coal_t *co = *state;

	assert_int_equal(fold(co, 'D', "k", "1\n"), 0);
	assert_int_equal(fold(co, 'I', "k", "1\tnew\n"), 1);
	assert_int_equal(entry(co, "k")->op, 'I');
	assert_true(entry(co, "k")->del_first);
	assert_row(co, entry(co, "k"), "1\tnew\n");
	assert_kline(co, entry(co, "k"), "1\n");	/* still the key to delete */
	assert_int_equal(fold(co, 'U', "k", "1\tnewer\n"), 1);
	assert_int_equal(entry(co, "k")->op, 'I');
	assert_true(entry(co, "k")->del_first);
	assert_row(co, entry(co, "k"), "1\tnewer\n");
	/* and deleted again: the replica's row must still go */
	assert_int_equal(fold(co, 'D', "k", "1\n"), 1);
	assert_int_equal(entry(co, "k")->op, 'D');
}

/* what no source produces is refused and leaves the set as it was */
static void
test_fallback(void **state)
{
	apply_coal_t *co = *state;
	static const struct
	{
		const char *first;		/* changes before, as op letters */
		char		op;
	}			cases[] = {
		{"I", 'I'},				/* inserted twice */
		{"U", 'I'},				/* insert of a key the replica has */
		{"D", 'D'},				/* deleted twice */
		{"D", 'U'},				/* update of a deleted key */
		{"ID", 'U'},			/* update of a key inserted and deleted */
		{"ID", 'D'},
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
	{
		char		key[16];
		const coal_entry_t *e;
		coal_entry_t before;
		size_t		arena;

		snprintf(key, sizeof(key), "key%zu", c);
		for (const char *p = cases[c].first; *p; p++)
			assert_true(fold(co, *p, key, *p == 'D' ? "k\n" : "k\tv\n") >= 0);
		e = entry(co, key);
		assert_non_null(e);
		before = *e;
		arena = co->arena.len;
		assert_int_equal(fold(co, cases[c].op, key, "k\tx\n"), COAL_FALLBACK);
		assert_memory_equal(entry(co, key), &before, sizeof(before));
		assert_int_equal(co->arena.len, arena);
	}
}

/*
 * pgbench's hot rows: many updates of few keys fold into one row each,
 * while the history rows stay one each, across the table's growth.
 */
static void
test_hot_rows(void **state)
{
	apply_coal_t *co = *state;
	int			folded = 0;
	char		key[32];
	char		line[64];

	for (int i = 0; i < 20000; i++)
	{
		int			rc;

		snprintf(key, sizeof(key), "branch%d", i % 3);
		snprintf(line, sizeof(line), "%d\t%d\n", i % 3, i);
		rc = fold(co, 'U', key, line);
		assert_true(rc == 0 || rc == 1);
		folded += rc;
		snprintf(key, sizeof(key), "history%d", i);
		snprintf(line, sizeof(line), "%d\n", i);
		assert_int_equal(fold(co, 'I', key, line), 0);
	}
	assert_int_equal(co->n, 20003);
	assert_int_equal(folded, 20000 - 3);
	assert_row(co, entry(co, "branch0"), "0\t19998\n");
	assert_row(co, entry(co, "branch1"), "1\t19999\n");
	assert_row(co, entry(co, "branch2"), "2\t19997\n");
	/* every key is found again after the slots grew */
	for (int i = 0; i < 20000; i += 997)
	{
		snprintf(key, sizeof(key), "history%d", i);
		assert_int_equal(fold(co, 'U', key, "u\n"), 1);
		assert_int_equal(entry(co, key)->op, 'I');
	}
	assert_int_equal(co->n, 20003);
	assert_false(coal_full(co));

	/* a reset set knows no key, and keeps working */
	coal_reset(co);
	assert_int_equal(co->n, 0);
	assert_int_equal(co->arena.len, 0);
	assert_int_equal(fold(co, 'U', "branch0", "0\tz\n"), 0);
	assert_int_equal(co->n, 1);
}

/* keys differing only in length or in their last byte are different keys */
static void
test_keys(void **state)
{
	apply_coal_t *co = *state;

	assert_int_equal(coal_fold(co, 'I', "ab", 2, "1\n", 2), 0);
	assert_int_equal(coal_fold(co, 'I', "ab\0", 3, "2\n", 2), 0);
	assert_int_equal(coal_fold(co, 'I', "ac", 2, "3\n", 2), 0);
	assert_int_equal(coal_fold(co, 'I', "", 0, "4\n", 2), 0);
	assert_int_equal(co->n, 4);
	assert_int_equal(coal_fold(co, 'U', "ab", 2, "5\n", 2), 1);
	assert_int_equal(co->n, 4);
}

/* rows of a table not folded per key: all kept, in arrival order */
static void
test_append(void **state)
{
	apply_coal_t *co = *state;

	assert_int_equal(coal_add_row(co, "1\ta\n", 4), 0);
	assert_int_equal(coal_add_row(co, "1\ta\n", 4), 0);
	assert_int_equal(coal_add_row(co, "2\tb\n", 4), 0);
	assert_int_equal(co->n, 3);
	for (uint32_t i = 0; i < co->n; i++)
		assert_int_equal(co->e[i].op, 'I');
	assert_row(co, &co->e[0], "1\ta\n");
	assert_row(co, &co->e[1], "1\ta\n");
	assert_row(co, &co->e[2], "2\tb\n");
}

/* the set is applied at a bound on entries */
static void
test_full(void **state)
{
	apply_coal_t *co = *state;
	char		key[16];

	for (int i = 0; i < COAL_MAX_ENTRIES; i++)
	{
		assert_false(coal_full(co));
		snprintf(key, sizeof(key), "%d", i);
		assert_int_equal(fold(co, 'D', key, "x\n"), 0);
	}
	assert_true(coal_full(co));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_updates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deletes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reinsert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hot_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
