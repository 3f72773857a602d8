/*
 * tests/unit/test_parse.c
 *		The strict option-value parsers of common/: every value the hostile
 *		review found accepted ("nan", "-1", "2x", "3junk", "50000d", "-1/-1",
 *		"0x10/0x20") is refused, and the documented forms read exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tide/common.h"

#define USECS INT64_C(1000000)
#define DAY (86400 * USECS)

static void
test_int(void **state)
{
	static const char *bad[] = {
		"", "-", "+1", " 1", "1 ", "2x", "3junk", "0x10", "1e3", "1.0", "nan",
		"9223372036854775808", "-9223372036854775809", "--1", NULL
	};
	int64_t		v = 42;

	(void) state;
	assert_int_equal(tide_parse_int("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(tide_parse_int("10", 0, 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(tide_parse_int("-5", -10, 10, &v), 0);
	assert_int_equal(v, -5);
	assert_int_equal(tide_parse_int("9223372036854775807", INT64_MIN, INT64_MAX, &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(tide_parse_int("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
	assert_true(v == INT64_MIN);
	v = 42;
	assert_int_equal(tide_parse_int("11", 0, 10, &v), -1);
	assert_int_equal(tide_parse_int("-1", 1, 10, &v), -1);
	assert_int_equal(tide_parse_int("0", 1, 10, &v), -1);
	for (int i = 0; bad[i]; i++)
		assert_int_equal(tide_parse_int(bad[i], INT64_MIN, INT64_MAX, &v), -1);
	assert_int_equal(v, 42);	/* untouched on error */
}

static void
test_duration(void **state)
{
	static const struct
	{
		const char *s;
		int64_t		usecs;
	} good[] = {
		{"0", 0}, {"90", 90 * USECS}, {"90s", 90 * USECS}, {"500ms", 500000},
		{"15min", 900 * USECS}, {"36h", 36 * 3600 * USECS}, {"15d", 15 * DAY},
		{"2.5h", 9000 * USECS}, {"0.5s", 500000}, {"1.000001s", 1000001},
		{"250us", 250},
	};
	static const char *bad[] = {
		"", "nan", "NaN", "inf", "infinity", "-1s", "+1s", "1 s", " 1s", "1s ",
		"1m", "1x", "1S", "1.s", ".5s", "1.0000001s", "1.5us", "0x10", "1e3s",
		"106751991167d", "99999999999999999999s", NULL
	};
	int64_t		v = 7;

	(void) state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
	{
		assert_int_equal(tide_parse_duration(good[i].s, INT64_MAX, &v), 0);
		assert_true(v == good[i].usecs);
	}
	v = 7;
	for (int i = 0; bad[i]; i++)
		assert_int_equal(tide_parse_duration(bad[i], INT64_MAX, &v), -1);
	/* the --bucket case: 50000 days is past what the header's seconds hold */
	assert_int_equal(tide_parse_duration("50000d", 366 * DAY, &v), -1);
	assert_int_equal(tide_parse_duration("366d", 366 * DAY, &v), 0);
	assert_true(v == 366 * DAY);
}

static void
test_size(void **state)
{
	int64_t		v = 0;

	(void) state;
	assert_int_equal(tide_parse_size("1GB", &v), 0);
	assert_true(v == INT64_C(1) << 30);
	assert_int_equal(tide_parse_size("512kB", &v), 0);
	assert_true(v == 512 * 1024);
	assert_int_equal(tide_parse_size("512kb", &v), 0);
	assert_true(v == 512 * 1024);
	assert_int_equal(tide_parse_size("1.5MB", &v), 0);
	assert_true(v == 3 * 512 * 1024);
	assert_int_equal(tide_parse_size("100", &v), 0);
	assert_true(v == 100);
	assert_int_equal(tide_parse_size("8388607TB", &v), 0);
	assert_int_equal(tide_parse_size("8388608TB", &v), -1);
	assert_int_equal(tide_parse_size("nan", &v), -1);
	assert_int_equal(tide_parse_size("-1GB", &v), -1);
	assert_int_equal(tide_parse_size("1 GB", &v), -1);
	assert_int_equal(tide_parse_size("1GiB", &v), -1);
	assert_int_equal(tide_parse_size("1.1B", &v), -1);
}

static void
test_lsn(void **state)
{
	static const char *bad[] = {
		"", "/", "0/", "/0", "-1/-1", "0x10/0x20", "1/2/3", "123456789/0",
		"0/123456789", " 0/1", "0/1 ", "+0/1", "G/0", "16 /B374D848", NULL
	};
	uint64_t	v = 0;

	(void) state;
	assert_int_equal(tide_parse_lsn("16/B374D848", &v), 0);
	assert_true(v == (UINT64_C(0x16) << 32 | 0xB374D848));
	assert_int_equal(tide_parse_lsn("0/0", &v), 0);
	assert_true(v == 0);
	assert_int_equal(tide_parse_lsn("FFFFFFFF/ffffffff", &v), 0);
	assert_true(v == UINT64_MAX);
	v = 5;
	for (int i = 0; bad[i]; i++)
		assert_int_equal(tide_parse_lsn(bad[i], &v), -1);
	assert_true(v == 5);
}

static void
test_time(void **state)
{
	static const char *bad[] = {
		"", "2026-11-20", "2026-11-20 13:00:00", "2026-11-20 13:00", "now",
		"2026-13-01 00:00:00+00", "2026-02-29 00:00:00+00", "2026-11-31 00:00+00",
		"2026-11-20 24:00:00+00", "2026-11-20 13:60:00+00", "2026-11-20 13:00:60+00",
		"2026-11-20 13:00:00.1234567+00", "2026-11-20 13:00:00.+00",
		"2026-11-20 13:00:00+16", "2026-11-20 13:00:00+01:60", "2026-11-20 13:00:00 PST",
		"26-11-20 13:00:00+00", "2026-1-20 13:00:00+00", "2026-11-20  13:00:00+00",
		"2026-11-20 13:00:00+00 ", "2026-11-20 13:00:00+0", NULL
	};
	int64_t		v = 0;
	/* 2026-11-20 13:00:00 UTC in PostgreSQL's epoch (SELECT extract(epoch ...)) */
	const int64_t at = (INT64_C(1795179600) - INT64_C(946684800)) * USECS;

	(void) state;
	assert_int_equal(tide_parse_time("2026-11-20 13:00:00+00", &v), 0);
	assert_true(v == at);
	assert_int_equal(tide_parse_time("2026-11-20T13:00:00Z", &v), 0);
	assert_true(v == at);
	assert_int_equal(tide_parse_time("2026-11-20 13:00 UTC", &v), 0);
	assert_true(v == at);
	assert_int_equal(tide_parse_time("2026-11-20 14:30:00+01:30", &v), 0);
	assert_true(v == at);
	assert_int_equal(tide_parse_time("2026-11-20 08:00:00-0500", &v), 0);
	assert_true(v == at);
	assert_int_equal(tide_parse_time("2026-11-20 13:00:00.25+00", &v), 0);
	assert_true(v == at + 250000);
	/* what psql prints for clock_timestamp() */
	assert_int_equal(tide_parse_time("2026-11-20 13:00:00.123456+00", &v), 0);
	assert_true(v == at + 123456);
	assert_int_equal(tide_parse_time("2000-01-01 00:00:00+00", &v), 0);
	assert_true(v == 0);
	assert_int_equal(tide_parse_time("1999-12-31 23:59:59+00", &v), 0);
	assert_true(v == -USECS);
	assert_int_equal(tide_parse_time("2024-02-29 00:00:00+00", &v), 0);
	v = 9;
	for (int i = 0; bad[i]; i++)
		assert_int_equal(tide_parse_time(bad[i], &v), -1);
	assert_true(v == 9);
}

static void
test_format_duration(void **state)
{
	char		buf[32];

	(void) state;
	tide_format_duration(15 * DAY, buf, sizeof(buf));
	assert_string_equal(buf, "15d");
	tide_format_duration(90 * USECS, buf, sizeof(buf));
	assert_string_equal(buf, "90s");
	tide_format_duration(100000, buf, sizeof(buf));
	assert_string_equal(buf, "100ms");
	tide_format_duration(0, buf, sizeof(buf));
	assert_string_equal(buf, "0s");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_int),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_lsn),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_format_duration),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
