/*
 * tests/unit/test_tablematch.c
 *		The one table-pattern rule (proto/tablematch.c) that the decoder's
 *		include-tables/exclude-tables, tide apply --tables and tide verify
 *		--tables share, and the --map/--tables map of applier/relmap.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tide/common.h"
#include "tide/tablematch.h"
#include "relmap.h"

#define M(p, n, r) proto_table_match((p), (n), (r))

static void
test_valid(void **state)
{
	(void) state;
	assert_true(proto_table_pattern_valid("public.orders"));
	assert_true(proto_table_pattern_valid("*.*"));
	assert_true(proto_table_pattern_valid("a.b.c"));
	assert_false(proto_table_pattern_valid(NULL));
	assert_false(proto_table_pattern_valid(""));
	assert_false(proto_table_pattern_valid("*"));
	assert_false(proto_table_pattern_valid("orders"));
	assert_false(proto_table_pattern_valid(".orders"));
	assert_false(proto_table_pattern_valid("public."));
	assert_false(proto_table_pattern_valid("."));
}

static void
test_exact(void **state)
{
	(void) state;
	assert_true(M("public.orders", "public", "orders"));
	assert_false(M("public.orders", "public", "orders2"));
	assert_false(M("public.orders", "public", "order"));
	assert_false(M("public.orders", "other", "orders"));
	/* names as PostgreSQL stores them: case matters */
	assert_false(M("Public.orders", "public", "orders"));
	assert_true(M("Public.Orders", "Public", "Orders"));
}

static void
test_star(void **state)
{
	(void) state;
	assert_true(M("public.*", "public", "orders"));
	assert_true(M("public.*", "public", "x"));
	assert_false(M("public.*", "publicx", "orders"));
	assert_false(M("public.*", "other", "orders"));
	assert_true(M("*.events", "a", "events"));
	assert_true(M("*.events", "b", "events"));
	assert_false(M("*.events", "a", "events_2026"));
	assert_true(M("*.*", "any", "thing"));
	/* '*' matches nothing as well as many */
	assert_true(M("public.orders*", "public", "orders"));
	assert_true(M("public.orders*", "public", "orders_2026_01"));
	assert_true(M("p*c.*s", "public", "orders"));
	assert_false(M("p*c.*s", "public", "order"));
	assert_true(M("*.e*_2026*", "log", "events_2026_12"));
	assert_false(M("*.e*_2026*", "log", "events_2025_12"));
	/* backtracking: the first candidate for a '*' is not the right one */
	assert_true(M("x.a*b*c", "x", "abxbbc"));
	assert_true(M("x.*ab", "x", "aaab"));
	assert_false(M("x.*ab", "x", "aaba"));
	assert_true(M("x.**", "x", ""));
}

static void
test_parts(void **state)
{
	(void) state;
	/* each part matches its own name: a '*' never crosses into the other */
	assert_false(M("pub*", "public", "orders"));
	assert_false(M("*.orders", "public", "orders.old"));
	assert_true(M("*.orders*", "public", "orders.old"));
	/* the pattern is cut at its first '.' */
	assert_true(M("a.b.c", "a", "b.c"));
	assert_false(M("a.b.c", "a.b", "c"));
	/* only '*' is special: no '?', no brackets, no backslash escapes */
	assert_false(M("public.t?", "public", "t1"));
	assert_true(M("public.t?", "public", "t?"));
	assert_false(M("public.t[12]", "public", "t1"));
	assert_true(M("public.t[12]", "public", "t[12]"));
	assert_false(M("public.t\\*", "public", "t*"));
	/* an invalid pattern selects nothing */
	assert_false(M("*", "public", "orders"));
	assert_false(M("public", "public", "orders"));
}

static void
test_relmap(void **state)
{
	static const char *const none[] = {NULL};
	static const char *const some[] = {"public.*", "audit.log_*", NULL};
	static const char *const bad[] = {"public.*", "orders", NULL};
	apply_relmap_t m;

	(void) state;
	/* no --tables: every table */
	assert_int_equal(apply_relmap_init(&m, NULL, "--tables"), 0);
	assert_true(apply_relmap_wanted(&m, "x", "y"));
	assert_int_equal(apply_relmap_init(&m, none, "--tables"), 0);
	assert_true(apply_relmap_wanted(&m, "x", "y"));

	assert_int_equal(apply_relmap_init(&m, some, "--tables"), 0);
	assert_true(apply_relmap_wanted(&m, "public", "orders"));
	assert_true(apply_relmap_wanted(&m, "audit", "log_2026"));
	assert_false(apply_relmap_wanted(&m, "audit", "users"));
	assert_false(apply_relmap_wanted(&m, "x", "y"));

	/* --map: the first mapping of a schema, others unchanged */
	assert_true(apply_relmap_add(&m, "public", "replica"));
	assert_true(apply_relmap_add(&m, "audit", "arch"));
	assert_true(apply_relmap_add(&m, "public", "ignored"));
	assert_string_equal(apply_relmap_schema(&m, "public"), "replica");
	assert_string_equal(apply_relmap_schema(&m, "audit"), "arch");
	assert_string_equal(apply_relmap_schema(&m, "other"), "other");
	/* the filter is on the source's names, before mapping */
	assert_true(apply_relmap_wanted(&m, "public", "orders"));
	assert_false(apply_relmap_wanted(&m, "replica", "orders"));

	for (int i = m.nmaps; i < APPLY_RELMAP_MAX_MAPS; i++)
		assert_true(apply_relmap_add(&m, "s", "d"));
	assert_false(apply_relmap_add(&m, "s", "d"));

	/* a pattern that is not schema.table is refused as a usage error */
	assert_int_equal(apply_relmap_init(&m, bad, "--tables"), TIDE_EXIT_USAGE);
}

/*
 * The one --map parser of tide apply and tide verify: SRC=DST split in
 * place, anything else and one too many a usage error that keeps what
 * came before.
 */
static void
test_maps_parse(void **state)
{
	static const char *const badargs[] = {"public", "=replica", "public=", "a=b=c", "", "="};
	apply_maps_t maps = {0};
	apply_relmap_t m;
	char		arg[2][32];
	char		more[APPLY_RELMAP_MAX_MAPS][16];

	(void) state;
	strcpy(arg[0], "public=replica");
	strcpy(arg[1], "audit=arch");
	assert_int_equal(apply_maps_parse(&maps, arg[0]), 0);
	assert_int_equal(apply_maps_parse(&maps, arg[1]), 0);
	assert_int_equal(maps.n, 2);
	assert_string_equal(maps.src[0], "public");
	assert_string_equal(maps.dst[0], "replica");
	assert_string_equal(maps.src[1], "audit");
	assert_string_equal(maps.dst[1], "arch");
	/* split in place: the pointers are into the argument */
	assert_ptr_equal(maps.src[0], arg[0]);
	assert_ptr_equal(maps.dst[0], arg[0] + strlen("public="));

	for (size_t i = 0; i < sizeof(badargs) / sizeof(badargs[0]); i++)
	{
		char		b[32];

		strcpy(b, badargs[i]);
		assert_int_equal(apply_maps_parse(&maps, b), TIDE_EXIT_USAGE);
		/* refused: left as it was */
		assert_string_equal(b, badargs[i]);
		assert_int_equal(maps.n, 2);
	}

	/* what it parsed is what the relation map applies */
	assert_int_equal(apply_relmap_init(&m, NULL, "--tables"), 0);
	apply_relmap_add_maps(&m, &maps);
	assert_string_equal(apply_relmap_schema(&m, "public"), "replica");
	assert_string_equal(apply_relmap_schema(&m, "audit"), "arch");
	assert_string_equal(apply_relmap_schema(&m, "other"), "other");

	/* up to APPLY_RELMAP_MAX_MAPS, then a usage error */
	for (int i = maps.n; i < APPLY_RELMAP_MAX_MAPS; i++)
	{
		snprintf(more[i], sizeof(more[i]), "s%d=d%d", i, i);
		assert_int_equal(apply_maps_parse(&maps, more[i]), 0);
	}
	assert_int_equal(maps.n, APPLY_RELMAP_MAX_MAPS);
	strcpy(arg[0], "one=toomany");
	assert_int_equal(apply_maps_parse(&maps, arg[0]), TIDE_EXIT_USAGE);
	assert_int_equal(maps.n, APPLY_RELMAP_MAX_MAPS);
	assert_string_equal(arg[0], "one=toomany");
	assert_string_equal(maps.dst[APPLY_RELMAP_MAX_MAPS - 1], "d63");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_exact),
		cmocka_unit_test(test_star),
		cmocka_unit_test(test_parts),
		cmocka_unit_test(test_relmap),
		cmocka_unit_test(test_maps_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
