/*
 * tests/unit/test_metrics.c
 *		common/'s Prometheus exposition writer and the metrics responder's
 *		request parsing: escaping of HELP text and label values, number
 *		forms, the buffer's bound, routing, and --metrics-listen's values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "tide/common.h"
#include "tide/metrics.h"

static void
test_family_and_escaping(void **state)
{
	tide_mbuf_t b = {0};
	tide_label_t l[2] = {{"stage", "dur\"able"}, {"path", "C:\\dir\nnext"}};

	(void) state;
	tide_metric_family(&b, "tide_x_bytes", "gauge", "a \\ backslash\nand a \"quote\"");
	tide_metric_u64(&b, "tide_x_bytes", l, 2, 42);
	assert_false(b.err);
	assert_string_equal(b.data,
						"# HELP tide_x_bytes a \\\\ backslash\\nand a \"quote\"\n"
						"# TYPE tide_x_bytes gauge\n"
						"tide_x_bytes{stage=\"dur\\\"able\",path=\"C:\\\\dir\\nnext\"} 42\n");
	tide_mbuf_free(&b);
}

static void
test_numbers(void **state)
{
	tide_mbuf_t b = {0};

	(void) state;
	tide_metric_u64(&b, "a", NULL, 0, UINT64_MAX);
	tide_metric_i64(&b, "b", NULL, 0, INT64_MIN);
	tide_metric_double(&b, "c", NULL, 0, 3.0);
	tide_metric_double(&b, "d", NULL, 0, 0.1);
	tide_metric_double(&b, "e", NULL, 0, NAN);
	tide_metric_double(&b, "f", NULL, 0, INFINITY);
	tide_metric_double(&b, "g", NULL, 0, -INFINITY);
	tide_metric_double(&b, "h", NULL, 0, -2.5);
	tide_metric_double(&b, "i", NULL, 0, 1e300);
	assert_false(b.err);
	assert_string_equal(b.data,
						"a 18446744073709551615\n"
						"b -9223372036854775808\n"
						"c 3\n"
						"d 0.10000000000000001\n"
						"e NaN\n"
						"f +Inf\n"
						"g -Inf\n"
						"h -2.5\n"
						"i 1.0000000000000001e+300\n");
	tide_mbuf_free(&b);
}

static void
test_bound(void **state)
{
	tide_mbuf_t b = {.max = 64};

	(void) state;
	for (int i = 0; i < 10; i++)
		tide_metric_u64(&b, "tide_some_metric_total", NULL, 0, (uint64_t) i);
	assert_true(b.err);			/* sticky: the page is refused, not cut */
	assert_true(b.len <= 64);
	tide_mbuf_free(&b);
}

static void
test_build_info(void **state)
{
	tide_mbuf_t b = {0};

	(void) state;
	tide_metric_build_info(&b);
	assert_non_null(strstr(b.data, "# TYPE tide_build_info gauge\n"));
	assert_non_null(strstr(b.data, "tide_build_info{version=\""));
	assert_non_null(strstr(b.data, "\"} 1\n"));
	tide_mbuf_free(&b);
}

static void
test_http_parse(void **state)
{
	char		m[16];
	char		p[64];

	(void) state;
	assert_int_equal(tide_http_parse("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 35, m, sizeof(m), p, sizeof(p)), 1);
	assert_string_equal(m, "GET");
	assert_string_equal(p, "/metrics");
	/* incomplete heads wait; a bare-LF client is served */
	assert_int_equal(tide_http_parse("GET /metrics HT", 15, m, sizeof(m), p, sizeof(p)), 0);
	assert_int_equal(tide_http_parse("GET /metrics HTTP/1.0\r\n", 23, m, sizeof(m), p, sizeof(p)), 0);
	assert_int_equal(tide_http_parse("GET / HTTP/1.0\n\n", 16, m, sizeof(m), p, sizeof(p)), 1);
	assert_string_equal(p, "/");
	/* garbage is refused as soon as its first line is seen */
	assert_int_equal(tide_http_parse("\x16\x03\x01\x02\n", 5, m, sizeof(m), p, sizeof(p)), -1);
	assert_int_equal(tide_http_parse("get /metrics HTTP/1.1\r\n\r\n", 25, m, sizeof(m), p, sizeof(p)), -1);
	assert_int_equal(tide_http_parse("GET metrics HTTP/1.1\r\n\r\n", 24, m, sizeof(m), p, sizeof(p)), -1);
	assert_int_equal(tide_http_parse("GET /metrics SPDY/3\r\n\r\n", 23, m, sizeof(m), p, sizeof(p)), -1);
	assert_int_equal(tide_http_parse("GET /metrics\r\n\r\n", 16, m, sizeof(m), p, sizeof(p)), -1);
	assert_int_equal(tide_http_parse("GET\0/metrics", 12, m, sizeof(m), p, sizeof(p)), -1);

	assert_int_equal(tide_http_route("GET", "/metrics"), 200);
	assert_int_equal(tide_http_route("HEAD", "/metrics"), 200);
	assert_int_equal(tide_http_route("GET", "/metrics?name[]=x"), 200);
	assert_int_equal(tide_http_route("POST", "/metrics"), 405);
	assert_int_equal(tide_http_route("GET", "/"), 404);
	assert_int_equal(tide_http_route("GET", "/metricsx"), 404);
	assert_int_equal(tide_http_route("DELETE", "/other"), 404);
}

static void
test_listen_addr(void **state)
{
	static const char *bad[] = {
		"", "0", "65536", "-1", "+80", "80x", "localhost:80", "::1:80", "[::1]", "[::1]80",
		"[nonsense]:80", "1.2.3:80", "1.2.3.4:", ":80", " 80", "[::1]:0", NULL
	};
	struct sockaddr_storage a;
	struct sockaddr_in *in4 = (struct sockaddr_in *) &a;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &a;
	struct in6_addr loop6 = IN6ADDR_LOOPBACK_INIT;

	(void) state;
	tide_log_quiet = 1;
	assert_int_equal(tide_metrics_addr("--metrics-listen", "9187", &a), 0);
	assert_int_equal(a.ss_family, AF_INET);
	assert_int_equal(ntohs(in4->sin_port), 9187);
	assert_int_equal(ntohl(in4->sin_addr.s_addr), INADDR_LOOPBACK);
	assert_int_equal(tide_metrics_addr("--metrics-listen", "0.0.0.0:80", &a), 0);
	assert_int_equal(in4->sin_addr.s_addr, htonl(INADDR_ANY));
	assert_int_equal(ntohs(in4->sin_port), 80);
	assert_int_equal(tide_metrics_addr("--metrics-listen", "[::1]:65535", &a), 0);
	assert_int_equal(a.ss_family, AF_INET6);
	assert_int_equal(ntohs(in6->sin6_port), 65535);
	assert_memory_equal(&in6->sin6_addr, &loop6, sizeof(loop6));
	for (int i = 0; bad[i]; i++)
		assert_int_equal(tide_metrics_addr("--metrics-listen", bad[i], &a), TIDE_EXIT_USAGE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_family_and_escaping),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_build_info),
		cmocka_unit_test(test_http_parse),
		cmocka_unit_test(test_listen_addr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
