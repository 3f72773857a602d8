/*
 * tests/unit/test_seqstate.c
 *		The "tide.seq" payload of common/seqstate.c: written and read back
 *		(odd names, int8 limits, owned_by), refused when damaged or of a
 *		newer version; and the forward comparison in both directions, with
 *		is_called and at the int8 limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tide/seqstate.h"

static bool
only_owned(const tide_seq_t *s, void *arg)
{
	(void) arg;
	return s->owner_schema != NULL;
}

static void
test_roundtrip(void **state)
{
	tide_seq_t	v[3] = {
		{.schema = "Odd schema", .name = "odd \"seq\"\\", .last_value = INT64_MIN,
		.is_called = false, .increment = -1, .cycle = true, .readable = true},
		{.schema = "public", .name = "t_id_seq", .last_value = INT64_MAX, .is_called = true,
		.increment = 1, .readable = true, .owner_schema = "public", .owner_table = "t"},
		{.schema = "public", .name = "hidden", .readable = false, .increment = 1},
	};
	tide_seqlist_t l = {.v = v, .n = 3};
	tide_seqlist_t back;
	char		err[256];
	size_t		n;
	char	   *p;

	(void) state;
	p = tide_seq_payload(&l, NULL, NULL, &n);
	assert_non_null(p);
	assert_int_equal(n, 2);		/* the unreadable one is left out */
	assert_int_equal(tide_seq_parse(p, strlen(p), &back, err, sizeof(err)), 0);
	assert_int_equal(back.n, 2);
	assert_string_equal(back.v[0].schema, "Odd schema");
	assert_string_equal(back.v[0].name, "odd \"seq\"\\");
	assert_true(back.v[0].last_value == INT64_MIN);
	assert_false(back.v[0].is_called);
	assert_true(back.v[0].increment == -1);
	assert_true(back.v[0].cycle);
	assert_null(back.v[0].owner_schema);
	assert_true(back.v[1].last_value == INT64_MAX);
	assert_true(back.v[1].is_called);
	assert_string_equal(back.v[1].owner_schema, "public");
	assert_string_equal(back.v[1].owner_table, "t");
	tide_seqlist_free(&back);
	free(p);

	p = tide_seq_payload(&l, only_owned, NULL, &n);
	assert_int_equal(n, 1);
	assert_non_null(strstr(p, "\"owned_by\":{\"schema\":\"public\",\"table\":\"t\"}"));
	assert_non_null(strstr(p, "{\"v\":1,\"sequences\":["));
	free(p);
}

static void
test_refused(void **state)
{
	static const char *bad[] = {
		"", "[]", "not json", "{\"sequences\": []}", "{\"v\": 0, \"sequences\": []}",
		"{\"v\": 2, \"sequences\": []}", "{\"v\": 1}", "{\"v\": 1, \"sequences\": {}}",
		"{\"v\": 1, \"sequences\": [1]}",
		"{\"v\": 1, \"sequences\": [{\"schema\": \"s\", \"name\": \"n\", \"last_value\": 1, \"is_called\": true}]}",
		"{\"v\": 1, \"sequences\": [{\"schema\": \"s\", \"name\": \"n\", \"last_value\": 1, \"is_called\": true, \"increment\": 0}]}",
		"{\"v\": 1, \"sequences\": [{\"schema\": \"\", \"name\": \"n\", \"last_value\": 1, \"is_called\": true, \"increment\": 1}]}",
		"{\"v\": 1, \"sequences\": [{\"schema\": \"s\", \"name\": \"n\", \"last_value\": \"1\", \"is_called\": true, \"increment\": 1}]}",
		"{\"v\": 1, \"sequences\": [{\"schema\": \"s\", \"name\": \"n\", \"last_value\": 1, \"is_called\": true, \"increment\": 1, \"owned_by\": {\"schema\": \"s\"}}]}",
		"{\"v\": 1, \"v\": 1, \"sequences\": []}",
		NULL
	};
	tide_seqlist_t l;
	char		err[256];

	(void) state;
	for (int i = 0; bad[i]; i++)
	{
		err[0] = '\0';
		if (tide_seq_parse(bad[i], strlen(bad[i]), &l, err, sizeof(err)) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_true(err[0] != '\0');
		assert_null(l.v);
	}
	assert_int_equal(tide_seq_parse(bad[5], strlen(bad[5]), &l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "version 2"));
	/* unknown keys of the same version are ignored */
	assert_int_equal(tide_seq_parse("{\"v\": 1, \"x\": 3, \"sequences\": [{\"schema\": \"s\", \"name\": \"n\", "
									"\"last_value\": 5, \"is_called\": false, \"increment\": 2, \"new\": []}]}",
									strlen("{\"v\": 1, \"x\": 3, \"sequences\": [{\"schema\": \"s\", \"name\": \"n\", "
										   "\"last_value\": 5, \"is_called\": false, \"increment\": 2, \"new\": []}]}"),
									&l, err, sizeof(err)), 0);
	assert_int_equal(l.n, 1);
	assert_true(l.v[0].last_value == 5);
	tide_seqlist_free(&l);
}

static void
test_ahead(void **state)
{
	(void) state;
	/* ascending */
	assert_true(tide_seq_ahead(1, 10, true, 9, true));
	assert_false(tide_seq_ahead(1, 10, true, 10, true));
	assert_false(tide_seq_ahead(1, 9, true, 10, true));
	/* not called: one increment before last_value */
	assert_false(tide_seq_ahead(1, 10, false, 9, true));
	assert_true(tide_seq_ahead(1, 10, true, 10, false));
	assert_true(tide_seq_ahead(5, 11, false, 5, true));
	/* descending: ahead is lower */
	assert_true(tide_seq_ahead(-3, -10, true, -7, true));
	assert_false(tide_seq_ahead(-3, -7, true, -10, true));
	assert_false(tide_seq_ahead(-3, -10, false, -7, true));	/* -10 not called: -7 handed out */
	/* int8 limits do not overflow */
	assert_true(tide_seq_ahead(INT64_MAX, INT64_MAX, true, INT64_MIN, false));
	assert_false(tide_seq_ahead(INT64_MAX, INT64_MIN, false, INT64_MAX, true));
	assert_true(tide_seq_ahead(INT64_MIN, INT64_MIN, true, INT64_MAX, false));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_ahead),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
