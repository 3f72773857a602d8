/*
 * tests/unit/test_cmdline.c
 *		common/cmdline.c: the getopt wrapper's answers for -?, --help, -V,
 *		unknown options and missing values; psql's connection options made
 *		into one connection string (-h, -p, -U over what -d says, libpq's
 *		quoting), read back with libpq's own parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "tide/cmdline.h"
#include "tide/common.h"

/* value - what libpq reads for keyword in conninfo (NULL: not given) */
static char *
value(const char *conninfo, const char *keyword)
{
	PQconninfoOption *o = PQconninfoParse(conninfo, NULL);
	char	   *v = NULL;

	assert_non_null(o);
	for (PQconninfoOption *p = o; p->keyword; p++)
		if (strcmp(p->keyword, keyword) == 0 && p->val)
			v = strdup(p->val);
	PQconninfoFree(o);
	return v;
}

static void
expect(const char *conninfo, const char *keyword, const char *want)
{
	char	   *v = value(conninfo, keyword);

	if (want == NULL)
		assert_null(v);
	else
	{
		assert_non_null(v);
		assert_string_equal(v, want);
	}
	free(v);
}

static void
test_conn_nothing(void **state)
{
	tide_conn_opts_t o = {0};

	(void) state;
	assert_int_equal(tide_conn_finish(&o, "the replica"), 0);
	assert_string_equal(o.conninfo, "");	/* libpq's environment */
	tide_conn_free(&o);
}

static void
test_conn_name(void **state)
{
	tide_conn_opts_t o = {.dbname = "app's db", .host = "/tmp/sock dir", .port = "5433",
	.user = "ba\\ck"};

	(void) state;
	assert_int_equal(tide_conn_finish(&o, "the replica"), 0);
	expect(o.conninfo, "dbname", "app's db");
	expect(o.conninfo, "host", "/tmp/sock dir");
	expect(o.conninfo, "port", "5433");
	expect(o.conninfo, "user", "ba\\ck");
	expect(o.conninfo, "password", NULL);
	tide_conn_free(&o);
}

static void
test_conn_overrides(void **state)
{
	tide_conn_opts_t u = {.dbname = "postgresql://alice@db1:6000/app?sslmode=disable", .port = "7000"};
	tide_conn_opts_t k = {.dbname = "host=db2 port=1 dbname=x user=bob application_name='a b'",
	.host = "db3", .user = "carol"};

	(void) state;
	assert_int_equal(tide_conn_finish(&u, "the source"), 0);
	expect(u.conninfo, "host", "db1");
	expect(u.conninfo, "port", "7000");		/* -p over the URI's */
	expect(u.conninfo, "user", "alice");
	expect(u.conninfo, "dbname", "app");
	expect(u.conninfo, "sslmode", "disable");
	assert_null(strstr(u.conninfo, "6000"));
	tide_conn_free(&u);

	assert_int_equal(tide_conn_finish(&k, "the source"), 0);
	expect(k.conninfo, "host", "db3");
	expect(k.conninfo, "port", "1");
	expect(k.conninfo, "user", "carol");
	expect(k.conninfo, "application_name", "a b");
	tide_conn_free(&k);
}

static void
test_conn_bad(void **state)
{
	tide_conn_opts_t o = {.dbname = "host=x password='unterminated"};

	(void) state;
	assert_int_equal(tide_conn_finish(&o, "the source"), TIDE_EXIT_USAGE);
	assert_null(o.conninfo);
}

static void
test_conn_opt(void **state)
{
	tide_conn_opts_t o = {0};

	(void) state;
	assert_true(tide_conn_opt(&o, 'h', "h1"));
	assert_true(tide_conn_opt(&o, 'W', NULL));
	assert_true(o.prompt);
	assert_true(tide_conn_opt(&o, 'w', NULL));
	assert_false(o.prompt);
	assert_false(tide_conn_opt(&o, 'D', "dir"));
	assert_string_equal(o.host, "h1");
}

/* run - tide_getopt over args: the codes it returned, 0-terminated */
static void
run(char **argv, int argc, int *codes)
{
	static const struct option opts[] = {
		TIDE_CONN_LONGOPTS,
		TIDE_STD_LONGOPTS,
		{"directory", required_argument, NULL, 'D'},
		{"json", no_argument, NULL, 1},
		{NULL, 0, NULL, 0}
	};
	int			c;
	int			n = 0;

	optind = 1;
	while ((c = tide_getopt(argc, argv, TIDE_CONN_SHORTOPTS "D:q", opts)) != -1 && n < 15)
		codes[n++] = c;
	codes[n] = 0;
}

static void
test_getopt(void **state)
{
	char	   *a1[] = {"x", "-?", NULL};
	char	   *a2[] = {"x", "--help", NULL};
	char	   *a3[] = {"x", "-V", "--version", NULL};
	char	   *a4[] = {"x", "--nope", NULL};
	char	   *a5[] = {"x", "-qZ", NULL};
	char	   *a6[] = {"x", "-D", NULL};
	char	   *a7[] = {"x", "--json", "-h", "h", "--port=5", "-D", "d", NULL};
	int			c[16];

	(void) state;
	tide_log_quiet = 1;
	run(a1, 2, c);
	assert_int_equal(c[0], TIDE_OPT_HELP);
	run(a2, 2, c);
	assert_int_equal(c[0], TIDE_OPT_HELP);
	run(a3, 3, c);
	assert_int_equal(c[0], 'V');
	assert_int_equal(c[1], 'V');
	run(a4, 2, c);
	assert_int_equal(c[0], TIDE_OPT_ERROR);
	run(a5, 2, c);
	assert_int_equal(c[0], 'q');
	assert_int_equal(c[1], TIDE_OPT_ERROR);
	run(a6, 2, c);
	assert_int_equal(c[0], TIDE_OPT_ERROR);
	run(a7, 7, c);
	assert_int_equal(c[0], 1);
	assert_int_equal(c[1], 'h');
	assert_int_equal(c[2], 'p');
	assert_int_equal(c[3], 'D');
	assert_int_equal(c[4], 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conn_nothing),
		cmocka_unit_test(test_conn_name),
		cmocka_unit_test(test_conn_overrides),
		cmocka_unit_test(test_conn_bad),
		cmocka_unit_test(test_conn_opt),
		cmocka_unit_test(test_getopt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
