/*
 * common/include/tide/metrics.h
 *		Prometheus metrics for the long-running commands (tide stream,
 *		tide apply): the text exposition writer and a tiny HTTP responder
 *		for GET /metrics on a libuv loop.
 *
 * The writer (metrics.c) is plain C: a bounded growable buffer and one
 * function per line kind, in the text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/).  The
 * responder (metrics_http.c) needs libuv and is linked only by programs
 * that serve; it never blocks the loop it runs on and each scrape is
 * answered from what a collect callback writes at that moment, so the
 * owner decides what is read and under which lock.
 */
#ifndef TIDE_METRICS_H
#define TIDE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define TIDE_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define TIDE_METRICS_MAX_BODY ((size_t) 1 << 20)	/* a page never grows past this */
#define TIDE_METRICS_MAX_REQUEST 8192	/* request line and headers */
#define TIDE_METRICS_MAX_CONNS 64	/* open scrapes; more are refused */
#define TIDE_METRICS_IDLE_MS 10000	/* a request must arrive within this */

#ifndef TIDE_VERSION
#define TIDE_VERSION "unknown"
#endif

/* A bounded growable buffer: err is sticky (out of memory, or too big). */
typedef struct
{
	char	   *data;			/* owned, NUL-terminated while !err */
	size_t		len;
	size_t		cap;
	size_t		max;			/* 0: TIDE_METRICS_MAX_BODY */
	bool		err;
} tide_mbuf_t;

void		tide_mbuf_free(tide_mbuf_t *b);
void		tide_mbuf_printf(tide_mbuf_t *b, const char *fmt,...) __attribute__((format(printf, 2, 3)));

/* A label: name (a valid label name, not checked) and value (escaped). */
typedef struct
{
	const char *name;
	const char *value;
} tide_label_t;

/*
 * tide_metric_family - the "# HELP" and "# TYPE" lines of a metric; type is
 * "counter", "gauge" or "untyped".  The help text is escaped (\\ and \n).
 * tide_metric_u64 / _i64 / _double - one sample: name{labels} value.  Label
 * values are escaped (\\, \" and \n).  A double is written so it reads back
 * exactly (%.17g), NaN as NaN and infinities as +Inf / -Inf; integers in
 * full (an LSN of 2^64-1 is exact, which a double would not be).
 */
void		tide_metric_family(tide_mbuf_t *b, const char *name, const char *type,
							   const char *help);
void		tide_metric_u64(tide_mbuf_t *b, const char *name, const tide_label_t *labels,
							int nlabels, uint64_t v);
void		tide_metric_i64(tide_mbuf_t *b, const char *name, const tide_label_t *labels,
							int nlabels, int64_t v);
void		tide_metric_double(tide_mbuf_t *b, const char *name, const tide_label_t *labels,
							   int nlabels, double v);

/*
 * tide_metric_build_info - tide_build_info{version="..."} 1,
 * which every endpoint starts with.
 */
void		tide_metric_build_info(tide_mbuf_t *b);

/*
 * tide_http_parse - the request in buf[0..len): 0 while its head is
 * incomplete, 1 when complete with method and path filled (NUL-terminated,
 * truncated to their sizes), -1 when it is not an HTTP/1.x request line.
 * tide_http_route - the status for method and path: 200 for GET (or HEAD)
 * of /metrics (a query string is ignored), 405 another method there, 404
 * any other path.
 */
int			tide_http_parse(const char *buf, size_t len, char *method, size_t msize,
							char *path, size_t psize);
int			tide_http_route(const char *method, const char *path);

/*
 * tide_metrics_addr - parse --metrics-listen's value: PORT (127.0.0.1),
 * ADDR:PORT (an IPv4 address) or [ADDR]:PORT (IPv6); port 1-65535.  Logs
 * an error naming opt and returns TIDE_EXIT_USAGE on anything else, else
 * 0 with *out filled.
 */
int			tide_metrics_addr(const char *opt, const char *val, struct sockaddr_storage *out);

/* tide_metrics_collect_cb - write the whole page into out, on the serving thread */
typedef void (*tide_metrics_collect_cb) (tide_mbuf_t *out, void *arg);

typedef struct tide_metrics_server_s tide_metrics_server_t;

/*
 * tide_metrics_start - listen on addr on loop (a uv_loop_t *, kept void so
 * this header needs no libuv) and answer scrapes with collect.  0, or an
 * exit code after logging (an address in use or not available: 2 with the
 * address named).  tide_metrics_stop closes the listener and every open
 * connection; the server is freed once their close callbacks have run
 * (the loop must run on), so the caller owns nothing after the call.
 */
int			tide_metrics_start(tide_metrics_server_t **out, void *loop,
							   const struct sockaddr_storage *addr,
							   tide_metrics_collect_cb collect, void *arg);
void		tide_metrics_stop(tide_metrics_server_t *s);

/*
 * tide_metrics_thread_start - the same on a loop of its own in a thread of
 * its own, for a command whose work blocks (tide apply waits on the
 * replica): collect runs on that thread, so it must take whatever lock
 * guards what it reads.  tide_metrics_thread_stop stops the loop and joins
 * the thread (NULL is a no-op).
 */
typedef struct tide_metrics_thread_s tide_metrics_thread_t;

int			tide_metrics_thread_start(tide_metrics_thread_t **out,
									  const struct sockaddr_storage *addr,
									  tide_metrics_collect_cb collect, void *arg);
void		tide_metrics_thread_stop(tide_metrics_thread_t *t);

#endif /* TIDE_METRICS_H */
