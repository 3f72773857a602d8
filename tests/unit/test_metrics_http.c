/*
 * tests/unit/test_metrics_http.c
 *		The metrics responder end to end over loopback, under valgrind: a
 *		page, 404, 405, 400, 431, HEAD, more idle connections than slots,
 *		a port in use, and a stop with connections still open (nothing
 *		leaks, the loop closes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cmocka.h>

#include "tide/common.h"
#include "tide/metrics.h"

static int	collected;

static void
collect(tide_mbuf_t *b, void *arg)
{
	tide_label_t l = {"k", "v\"1"};

	(void) arg;
	collected++;
	tide_metric_family(b, "tide_test_total", "counter", "A test counter.");
	tide_metric_u64(b, "tide_test_total", &l, 1, 7);
}

static int
connect_to(const struct sockaddr_storage *a)
{
	int			fd = socket(AF_INET, SOCK_STREAM, 0);
	struct timeval tv = {20, 0};

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (const struct sockaddr *) a, sizeof(struct sockaddr_in)), 0);
	return fd;
}

/* exchange - send req, read the whole answer (until the server closes) */
static char *
exchange(const struct sockaddr_storage *a, const char *req, size_t len)
{
	int			fd = connect_to(a);
	char	   *out = calloc(1, 65536);
	size_t		n = 0;
	ssize_t		r;

	if (len)
		assert_int_equal(write(fd, req, len), (ssize_t) len);
	while (n < 65535 && (r = read(fd, out + n, 65535 - n)) > 0)
		n += (size_t) r;
	close(fd);
	return out;
}

static void
test_serve(void **state)
{
	struct sockaddr_storage a;
	tide_metrics_thread_t *t;
	tide_metrics_thread_t *t2;
	char		port[16];
	char	   *r;
	char		big[9000];
	int			idle[80];

	(void) state;
	tide_log_quiet = 1;
	/* a free port: bind 0, read it, let it go */
	{
		int			fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t	len = sizeof(in);

		assert_int_equal(bind(fd, (struct sockaddr *) &in, sizeof(in)), 0);
		getsockname(fd, (struct sockaddr *) &in, &len);
		snprintf(port, sizeof(port), "%u", (unsigned) ntohs(in.sin_port));
		close(fd);
	}
	assert_int_equal(tide_metrics_addr("--metrics-listen", port, &a), 0);
	assert_int_equal(tide_metrics_thread_start(&t, &a, collect, NULL), 0);

	r = exchange(&a, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 35);
	assert_non_null(strstr(r, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(r, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	assert_non_null(strstr(r, "Connection: close\r\n"));
	assert_non_null(strstr(r, "\r\n\r\n# HELP tide_test_total A test counter.\n# TYPE tide_test_total counter\n"
						   "tide_test_total{k=\"v\\\"1\"} 7\n"));
	free(r);
	r = exchange(&a, "HEAD /metrics HTTP/1.0\r\n\r\n", 26);
	assert_non_null(strstr(r, "HTTP/1.1 200 OK\r\n"));
	assert_null(strstr(r, "tide_test_total"));
	free(r);
	r = exchange(&a, "GET /other HTTP/1.1\r\n\r\n", 23);
	assert_true(strncmp(r, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
	free(r);
	r = exchange(&a, "PUT /metrics HTTP/1.1\r\n\r\n", 25);
	assert_true(strncmp(r, "HTTP/1.1 405 Method Not Allowed\r\n", 33) == 0);
	assert_non_null(strstr(r, "Allow: GET, HEAD\r\n"));
	free(r);
	r = exchange(&a, "\x16\x03\x01\x00\x10hello\n", 11);
	assert_true(strncmp(r, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
	free(r);
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	memset(big + 26, 'a', sizeof(big) - 26);
	r = exchange(&a, big, sizeof(big));
	assert_true(strncmp(r, "HTTP/1.1 431 ", 13) == 0);
	free(r);

	/* more idle connections than slots: a scrape still gets through */
	for (int i = 0; i < 80; i++)
		idle[i] = connect_to(&a);
	collected = 0;
	r = exchange(&a, "GET /metrics HTTP/1.1\r\n\r\n", 25);
	assert_non_null(strstr(r, "HTTP/1.1 200 OK\r\n"));
	assert_int_equal(collected, 1);
	free(r);

	/* 50 scrapes at once, each answered whole */
	{
		int			fds[50];
		const char *req = "GET /metrics HTTP/1.1\r\n\r\n";

		collected = 0;
		for (int i = 0; i < 50; i++)
		{
			fds[i] = connect_to(&a);
			assert_int_equal(write(fds[i], req, strlen(req)), (ssize_t) strlen(req));
		}
		for (int i = 0; i < 50; i++)
		{
			char		buf[4096];
			size_t		n = 0;
			ssize_t		got;

			while (n < sizeof(buf) - 1 && (got = read(fds[i], buf + n, sizeof(buf) - 1 - n)) > 0)
				n += (size_t) got;
			buf[n] = '\0';
			assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
			assert_non_null(strstr(buf, "tide_test_total{k=\"v\\\"1\"} 7\n"));
			close(fds[i]);
		}
		assert_int_equal(collected, 50);
	}

	/* the port is taken now: a second server says so, exit code 2 */
	assert_int_equal(tide_metrics_thread_start(&t2, &a, collect, NULL), TIDE_EXIT_USAGE);
	assert_null(t2);

	/* stopped with the idle connections still open: all closed, nothing leaks */
	tide_metrics_thread_stop(t);
	for (int i = 0; i < 80; i++)
		close(idle[i]);
	/* and the port is free again */
	assert_int_equal(tide_metrics_thread_start(&t, &a, collect, NULL), 0);
	tide_metrics_thread_stop(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
