/*
 * tests/unit/test_ddlmsg.c
 *		The "tide.ddl" payload of common/ddlmsg.c: read back, the command's
 *		own statement cut out of a multi-statement query string (quotes,
 *		dollar quotes, comments, BEGIN ATOMIC bodies, statements that fire
 *		no event trigger), and no statement where none can be known.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "tide/ddlmsg.h"

/* parse - the payload for query/tag/pos, parsed; asserts it parses */
static void
parse(const char *query, const char *tag, int pos, bool nested, tide_ddl_t *d)
{
	json_t	   *o = json_pack("{s:i, s:s, s:s, s:s, s:i, s:b, s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:[s,s]}]}",
							  "v", 1, "phase", "end", "tag", tag, "query", query, "pos", pos,
							  "nested", nested, "search_path", "public", "role", "alice",
							  "session_user", "alice", "objects", "type", "table", "schema", "public",
							  "identity", "public.t", "table", "public", "t");
	char	   *text = json_dumps(o, 0);
	char		err[256];

	assert_non_null(text);
	assert_int_equal(tide_ddl_parse(text, strlen(text), d, err, sizeof(err)), 0);
	free(text);
	json_decref(o);
}

static void
expect_stmt(const char *query, const char *tag, int pos, const char *want)
{
	tide_ddl_t	d;

	parse(query, tag, pos, false, &d);
	if (want == NULL)
	{
		assert_null(d.stmt);
		assert_non_null(d.why);
	}
	else
	{
		assert_non_null(d.stmt);
		assert_string_equal(d.stmt, want);
	}
	tide_ddl_free(&d);
}

static void
test_single(void **state)
{
	tide_ddl_t	d;

	(void) state;
	parse("ALTER TABLE t ADD COLUMN c int;", "ALTER TABLE", 0, false, &d);
	assert_string_equal(d.stmt, "ALTER TABLE t ADD COLUMN c int");
	assert_string_equal(d.role, "alice");
	assert_int_equal(d.nobjs, 1);
	assert_string_equal(d.objs[0].tschema, "public");
	assert_string_equal(d.objs[0].tname, "t");
	assert_false(d.concurrently);
	tide_ddl_free(&d);
	expect_stmt("  -- why\n create unique index concurrently i on t (a)", "CREATE INDEX", 0,
				"create unique index concurrently i on t (a)");
	parse("drop index concurrently i", "DROP INDEX", 0, false, &d);
	assert_true(d.concurrently);
	tide_ddl_free(&d);
}

static void
test_multi(void **state)
{
	const char *q = "CREATE TABLE a (x text DEFAULT ';'); INSERT INTO a VALUES ('a;b'); "
		"SELECT 1; ALTER TABLE a ADD y int /* ; */; -- ;\n"
		"COMMENT ON TABLE a IS E'it''s \\'; still'; GRANT r TO s; GRANT SELECT ON a TO s;"
		"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END;"
		"DO $x$ BEGIN PERFORM 1; END $x$; CREATE ROLE r2; DROP TABLE a";

	(void) state;
	expect_stmt(q, "CREATE TABLE", 0, "CREATE TABLE a (x text DEFAULT ';')");
	expect_stmt(q, "ALTER TABLE", 1, "ALTER TABLE a ADD y int");
	expect_stmt(q, "COMMENT", 2, "COMMENT ON TABLE a IS E'it''s \\'; still'");
	expect_stmt(q, "GRANT", 3, "GRANT SELECT ON a TO s");
	expect_stmt(q, "CREATE FUNCTION", 4,
				"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END");
	expect_stmt(q, "DROP TABLE", 5, "DROP TABLE a");
	/* a tag that does not match the statement at that place: unknown */
	expect_stmt(q, "CREATE INDEX", 1, NULL);
	expect_stmt(q, "DROP TABLE", 9, NULL);
	expect_stmt("SELECT * INTO b FROM a; CREATE TABLE c AS SELECT 1", "CREATE TABLE AS", 1,
				"CREATE TABLE c AS SELECT 1");
	expect_stmt("SELECT * INTO b FROM a; CREATE TABLE c AS SELECT 1", "SELECT INTO", 0,
				"SELECT * INTO b FROM a");
	expect_stmt("CREATE FUNCTION g() RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN ';'; END $$; ALTER TABLE a RENAME TO b",
				"ALTER TABLE", 1, "ALTER TABLE a RENAME TO b");
}

static void
test_nested(void **state)
{
	tide_ddl_t	d;

	(void) state;
	parse("SELECT f()", "CREATE TABLE", 0, true, &d);
	assert_null(d.stmt);
	assert_non_null(strstr(d.why, "function"));
	tide_ddl_free(&d);
}

static void
test_refused(void **state)
{
	static const char *const bad[] = {
		"", "[]", "{\"v\": 2, \"phase\": \"end\"}",
		"{\"v\": 1, \"phase\": \"middle\", \"tag\": \"X\", \"query\": \"x\", \"search_path\": \"\", \"pos\": 0, \"objects\": []}",
		"{\"v\": 1, \"phase\": \"end\", \"tag\": \"X\", \"query\": \"x\", \"search_path\": \"\", \"pos\": -1, \"objects\": []}",
		"{\"v\": 1, \"phase\": \"end\", \"tag\": \"X\", \"query\": \"x\", \"search_path\": \"\", \"pos\": 0, \"objects\": [1]}",
		"{\"v\": 1, \"phase\": \"end\", \"tag\": \"X\", \"query\": \"x\", \"search_path\": \"\", \"pos\": 0, \"objects\": [{\"type\": \"t\", \"table\": [\"a\"]}]}",
	};
	tide_ddl_t	d;
	char		err[256];

	(void) state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		assert_int_equal(tide_ddl_parse(bad[i], strlen(bad[i]), &d, err, sizeof(err)), -1);
		assert_true(err[0] != '\0');
	}
}

static void
test_split(void **state)
{
	size_t	   *s,
			   *e,
				n;
	const char *q = ";; SELECT '$$;' ; SELECT $a$ ; $a$; /* unterminated";

	(void) state;
	assert_int_equal(tide_sql_split(q, strlen(q), &s, &e, &n), 0);
	assert_int_equal(n, 2);	/* a comment is not a statement */
	assert_memory_equal(q + s[0], "SELECT '$$;'", e[0] - s[0]);
	assert_memory_equal(q + s[1], "SELECT $a$ ; $a$", e[1] - s[1]);
	free(s);
	free(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single),
		cmocka_unit_test(test_multi),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
