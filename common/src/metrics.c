/*
 * common/src/metrics.c
 *		The Prometheus text exposition writer, the HTTP request parsing of
 *		the metrics responder, and --metrics-listen's value: the parts of
 *		tide/metrics.h that need no libuv (unit-tested on their own).
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tide/common.h"
#include "tide/metrics.h"

/* ---------------------------------------------------------- the buffer */

void
tide_mbuf_free(tide_mbuf_t *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* reserve - room for n more bytes and a NUL; false (sticky) past max */
static bool
reserve(tide_mbuf_t *b, size_t n)
{
	size_t		max = b->max ? b->max : TIDE_METRICS_MAX_BODY;
	size_t		cap;
	char	   *p;

	if (b->err)
		return false;
	if (n > max || b->len > max - n)
	{
		b->err = true;
		return false;
	}
	if (b->len + n + 1 <= b->cap)
		return true;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + n + 1)
		cap *= 2;
	if ((p = realloc(b->data, cap)) == NULL)
	{
		b->err = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

static void
put(tide_mbuf_t *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
tide_mbuf_printf(tide_mbuf_t *b, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(b, (size_t) n))
	{
		b->err = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t) n;
}

/*
 * put_escaped - s with \ and newline escaped, and " too in a label value
 * (the format's two escaping rules; anything else is UTF-8 as given).
 */
static void
put_escaped(tide_mbuf_t *b, const char *s, bool label)
{
	for (; *s; s++)
	{
		if (*s == '\\')
			put(b, "\\\\", 2);
		else if (*s == '\n')
			put(b, "\\n", 2);
		else if (*s == '"' && label)
			put(b, "\\\"", 2);
		else
			put(b, s, 1);
	}
}

/* ---------------------------------------------------------- exposition */

void
tide_metric_family(tide_mbuf_t *b, const char *name, const char *type, const char *help)
{
	tide_mbuf_printf(b, "# HELP %s ", name);
	put_escaped(b, help, false);
	tide_mbuf_printf(b, "\n# TYPE %s %s\n", name, type);
}

/* sample_head - name{a="x",b="y"} and the blank before the value */
static void
sample_head(tide_mbuf_t *b, const char *name, const tide_label_t *labels, int nlabels)
{
	put(b, name, strlen(name));
	if (nlabels > 0)
	{
		put(b, "{", 1);
		for (int i = 0; i < nlabels; i++)
		{
			if (i > 0)
				put(b, ",", 1);
			put(b, labels[i].name, strlen(labels[i].name));
			put(b, "=\"", 2);
			put_escaped(b, labels[i].value ? labels[i].value : "", true);
			put(b, "\"", 1);
		}
		put(b, "}", 1);
	}
	put(b, " ", 1);
}

void
tide_metric_u64(tide_mbuf_t *b, const char *name, const tide_label_t *labels, int nlabels,
				uint64_t v)
{
	sample_head(b, name, labels, nlabels);
	tide_mbuf_printf(b, "%llu\n", (unsigned long long) v);
}

void
tide_metric_i64(tide_mbuf_t *b, const char *name, const tide_label_t *labels, int nlabels,
				int64_t v)
{
	sample_head(b, name, labels, nlabels);
	tide_mbuf_printf(b, "%lld\n", (long long) v);
}

void
tide_metric_double(tide_mbuf_t *b, const char *name, const tide_label_t *labels, int nlabels,
				   double v)
{
	sample_head(b, name, labels, nlabels);
	if (isnan(v))
		put(b, "NaN\n", 4);
	else if (isinf(v))
		put(b, v > 0 ? "+Inf\n" : "-Inf\n", 5);
	else if (v == floor(v) && fabs(v) < 1e15)
		tide_mbuf_printf(b, "%.0f\n", v);	/* 3, not 3.0000000000000000 */
	else
		tide_mbuf_printf(b, "%.17g\n", v);
}

void
tide_metric_build_info(tide_mbuf_t *b)
{
	tide_label_t l[1] = {{"version", TIDE_VERSION}};

	tide_metric_family(b, "tide_build_info", "gauge",
					   "Always 1; the version label says which tide build this is (git describe at build time).");
	tide_metric_u64(b, "tide_build_info", l, 1, 1);
}

/* ---------------------------------------------------------- HTTP */

int
tide_http_parse(const char *buf, size_t len, char *method, size_t msize, char *path,
				size_t psize)
{
	const char *end = NULL;
	const char *sp1;
	const char *sp2;
	const char *eol;

	/* the head ends at an empty line (CRLF, or a bare LF from a sloppy client) */
	for (size_t i = 0; i + 1 < len && end == NULL; i++)
	{
		if (buf[i] == '\n' && buf[i + 1] == '\n')
			end = buf + i;
		else if (i + 3 < len && memcmp(buf + i, "\r\n\r\n", 4) == 0)
			end = buf + i;
	}
	/* a request line that can already be seen to be wrong need not wait */
	eol = memchr(buf, '\n', len);
	if (eol == NULL)
		return memchr(buf, '\0', len) ? -1 : 0;
	sp1 = memchr(buf, ' ', (size_t) (eol - buf));
	if (sp1 == NULL || sp1 == buf)
		return -1;
	sp2 = memchr(sp1 + 1, ' ', (size_t) (eol - sp1 - 1));
	if (sp2 == NULL || sp2 == sp1 + 1 || sp1[1] != '/' ||
		(size_t) (eol - sp2 - 1) < 8 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
		return -1;
	for (const char *c = buf; c < sp1; c++)
		if (*c < 'A' || *c > 'Z')
			return -1;
	if (end == NULL)
		return 0;
	snprintf(method, msize, "%.*s", (int) (sp1 - buf), buf);
	snprintf(path, psize, "%.*s", (int) (sp2 - sp1 - 1), sp1 + 1);
	return 1;
}

int
tide_http_route(const char *method, const char *path)
{
	size_t		n = strcspn(path, "?");

	if (n != strlen("/metrics") || strncmp(path, "/metrics", n) != 0)
		return 404;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return 405;
	return 200;
}

/* ---------------------------------------------------------- the address */

int
tide_metrics_addr(const char *opt, const char *val, struct sockaddr_storage *out)
{
	char		host[64];
	const char *port;
	int64_t		p;
	struct sockaddr_in *in4 = (struct sockaddr_in *) out;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) out;

	memset(out, 0, sizeof(*out));
	if (val[0] == '[')
	{
		const char *close = strchr(val, ']');

		if (close == NULL || close[1] != ':' || (size_t) (close - val - 1) >= sizeof(host))
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int) (close - val - 1), val + 1);
		port = close + 2;
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			goto bad;
		in6->sin6_family = AF_INET6;
	}
	else if (strchr(val, ':'))
	{
		const char *colon = strrchr(val, ':');

		if (strchr(val, ':') != colon || (size_t) (colon - val) >= sizeof(host))
			goto bad;			/* an IPv6 address needs its brackets */
		snprintf(host, sizeof(host), "%.*s", (int) (colon - val), val);
		port = colon + 1;
		if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
			goto bad;
		in4->sin_family = AF_INET;
	}
	else
	{
		port = val;
		in4->sin_family = AF_INET;
		in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	if (tide_parse_int(port, 1, 65535, &p) != 0)
		goto bad;
	if (out->ss_family == AF_INET6)
		in6->sin6_port = htons((uint16_t) p);
	else
		in4->sin_port = htons((uint16_t) p);
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	tide_log_error("invalid value \"%s\" for %s", val, opt);
	tide_log_hint("give PORT (on 127.0.0.1), ADDRESS:PORT or [IPV6-ADDRESS]:PORT with a numeric address and a port from 1 to 65535, e.g. 9187, 0.0.0.0:9187 or [::1]:9187");
	return TIDE_EXIT_USAGE;
}
