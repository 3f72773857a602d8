/*
 * common/src/metrics_http.c
 *		The metrics responder: GET /metrics over HTTP/1.x on a libuv loop.
 *
 * Deliberately tiny: one request per connection, answered in full and
 * closed (Connection: close), no keep-alive, no chunking.  Each connection
 * owns a fixed request buffer (TIDE_METRICS_MAX_REQUEST: a longer head is
 * answered 431) and a timer that closes it TIDE_METRICS_IDLE_MS after it
 * was accepted, whatever it is doing, so a client that never sends, sends
 * a byte a minute or never reads its answer costs one slot for at most
 * that long; at most TIDE_METRICS_MAX_CONNS are open: past that, the
 * oldest still waiting for its request is closed to make room.  Nothing here blocks: the page is written by the owner's collect
 * callback into memory and handed to uv_write.
 *
 * The listening socket is made by hand (socket, bind, listen) and only
 * then given to libuv, so "address in use" is reported at start-up, before
 * any handle exists that would need the loop to run to be closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "tide/common.h"
#include "tide/metrics.h"

typedef struct conn_s
{
	uv_tcp_t	tcp;
	uv_timer_t	timer;
	uv_write_t	wr;
	uv_shutdown_t sd;
	struct tide_metrics_server_s *srv;
	char		req[TIDE_METRICS_MAX_REQUEST];
	size_t		len;
	bool		answered;		/* a response is being written */
	bool		lingering;		/* written: waiting for the client to close */
	int			open_handles;	/* tcp and timer: freed when both closed */
	tide_mbuf_t resp;			/* owned */
	struct conn_s *prev;
	struct conn_s *next;
} conn_t;

struct tide_metrics_server_s
{
	uv_loop_t  *loop;
	uv_tcp_t	listener;
	bool		listener_open;
	bool		stopping;
	tide_metrics_collect_cb collect;
	void	   *arg;
	conn_t	   *conns;			/* open connections (owned list) */
	int			nconns;
};

static void
maybe_free_server(tide_metrics_server_t *s)
{
	if (s->stopping && !s->listener_open && s->conns == NULL)
		free(s);
}

static void
on_conn_handle_closed(uv_handle_t *h)
{
	conn_t	   *c = h->data;
	tide_metrics_server_t *s = c->srv;

	if (--c->open_handles > 0)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	tide_mbuf_free(&c->resp);
	free(c);
	maybe_free_server(s);
}

static void
conn_close(conn_t *c)
{
	if (!uv_is_closing((uv_handle_t *) &c->tcp))
		uv_close((uv_handle_t *) &c->tcp, on_conn_handle_closed);
	if (!uv_is_closing((uv_handle_t *) &c->timer))
		uv_close((uv_handle_t *) &c->timer, on_conn_handle_closed);
}

static void
on_timeout(uv_timer_t *t)
{
	conn_close(t->data);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf);

static void
on_shutdown(uv_shutdown_t *sd, int status)
{
	conn_t	   *c = sd->data;

	if (status < 0 || uv_is_closing((uv_handle_t *) &c->tcp) ||
		uv_read_start((uv_stream_t *) &c->tcp, on_alloc, on_read) != 0)
		conn_close(c);
	else
		c->lingering = true;
}

/*
 * on_written - the answer is out: send FIN, then read (and drop) whatever
 * the client still sends until it closes (or the timer does).  Closing at
 * once with unread bytes in the socket would send a reset, and a client
 * could lose the answer it has not read yet (a 400 or 431 to a long head).
 */
static void
on_written(uv_write_t *w, int status)
{
	conn_t	   *c = w->data;

	c->sd.data = c;
	if (status < 0 || uv_shutdown(&c->sd, (uv_stream_t *) &c->tcp, on_shutdown) != 0)
		conn_close(c);
}

static const char *
reason(int status)
{
	switch (status)
	{
		case 200:
			return "OK";
		case 400:
			return "Bad Request";
		case 404:
			return "Not Found";
		case 405:
			return "Method Not Allowed";
		case 431:
			return "Request Header Fields Too Large";
		default:
			return "Internal Server Error";
	}
}

/* respond - the whole answer, then close once it is written */
static void
respond(conn_t *c, int status, const char *method)
{
	tide_mbuf_t body = {0};
	uv_buf_t	buf;

	c->answered = true;
	uv_read_stop((uv_stream_t *) &c->tcp);
	if (status == 200)
	{
		c->srv->collect(&body, c->srv->arg);
		if (body.err)
		{
			tide_log_warning("could not build the metrics page (%s)",
							 body.len >= TIDE_METRICS_MAX_BODY ? "too large" : "out of memory");
			status = 500;
		}
	}
	if (status != 200)
	{
		tide_mbuf_free(&body);
		memset(&body, 0, sizeof(body));
		tide_mbuf_printf(&body, "%d %s%s\n", status, reason(status),
						 status == 404 ? ": the metrics are at /metrics" : "");
	}
	tide_mbuf_printf(&c->resp, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
					 "%sConnection: close\r\n\r\n",
					 status, reason(status),
					 status == 200 ? TIDE_METRICS_CONTENT_TYPE : "text/plain; charset=utf-8",
					 body.len, status == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (method == NULL || strcmp(method, "HEAD") != 0)
	{
		c->resp.max = TIDE_METRICS_MAX_BODY + 1024;
		if (body.data)
			tide_mbuf_printf(&c->resp, "%s", body.data);
	}
	tide_mbuf_free(&body);
	if (c->resp.err)
	{
		conn_close(c);
		return;
	}
	buf = uv_buf_init(c->resp.data, (unsigned int) c->resp.len);
	c->wr.data = c;
	if (uv_write(&c->wr, (uv_stream_t *) &c->tcp, &buf, 1, on_written) != 0)
		conn_close(c);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	conn_t	   *c = h->data;

	(void) suggested;
	if (c->answered)
		*buf = uv_buf_init(c->req, sizeof(c->req));	/* after the answer: dropped */
	else
		*buf = uv_buf_init(c->req + c->len, (unsigned int) (sizeof(c->req) - c->len));
}

static void
on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	conn_t	   *c = st->data;
	char		method[16];
	char		path[256];
	int			rc;

	(void) buf;
	if (c->answered)
	{
		if (n < 0)
			conn_close(c);		/* the client has closed too */
		return;
	}
	if (n < 0)
	{
		conn_close(c);			/* EOF before a whole request, or an error */
		return;
	}
	c->len += (size_t) n;
	rc = tide_http_parse(c->req, c->len, method, sizeof(method), path, sizeof(path));
	if (rc == 1)
		respond(c, tide_http_route(method, path), method);
	else if (rc < 0)
		respond(c, 400, NULL);
	else if (c->len == sizeof(c->req))
		respond(c, 431, NULL);
}

static void
on_connection(uv_stream_t *server, int status)
{
	tide_metrics_server_t *s = server->data;
	conn_t	   *c;

	if (status < 0 || s->stopping)
		return;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return;
	c->srv = s;
	uv_tcp_init(s->loop, &c->tcp);
	uv_timer_init(s->loop, &c->timer);
	c->tcp.data = c->timer.data = c;
	c->open_handles = 2;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	if (uv_accept(server, (uv_stream_t *) &c->tcp) != 0)
	{
		conn_close(c);
		return;
	}
	if (s->nconns > TIDE_METRICS_MAX_CONNS)
	{
		/*
		 * Full: the oldest connection still waiting for its request, or
		 * answered and waiting for the client to close, makes room (idle
		 * or half-open clients never lock scrapers out); if all are being
		 * answered, the new one is refused.
		 */
		conn_t	   *old = NULL;

		for (conn_t *o = c->next; o; o = o->next)
			if ((!o->answered || o->lingering) && !uv_is_closing((uv_handle_t *) &o->tcp))
				old = o;
		conn_close(old ? old : c);
		if (old == NULL)
			return;
	}
	uv_timer_start(&c->timer, on_timeout, TIDE_METRICS_IDLE_MS, 0);
	if (uv_read_start((uv_stream_t *) &c->tcp, on_alloc, on_read) != 0)
		conn_close(c);
}

/* addr_text - "127.0.0.1:9187" or "[::1]:9187" for messages */
static void
addr_text(const struct sockaddr_storage *a, char *buf, size_t len)
{
	char		host[INET6_ADDRSTRLEN] = "?";

	if (a->ss_family == AF_INET6)
	{
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) a;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, (unsigned) ntohs(in6->sin6_port));
	}
	else
	{
		const struct sockaddr_in *in4 = (const struct sockaddr_in *) a;

		inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, (unsigned) ntohs(in4->sin_port));
	}
}

int
tide_metrics_start(tide_metrics_server_t **out, void *loop,
				   const struct sockaddr_storage *addr,
				   tide_metrics_collect_cb collect, void *arg)
{
	tide_metrics_server_t *s;
	char		where[80];
	int			fd;
	int			one = 1;
	int			err;

	*out = NULL;
	addr_text(addr, where, sizeof(where));
	fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
	{
		tide_log_error("could not create a socket for --metrics-listen %s: %s", where, strerror(errno));
		return TIDE_EXIT_IO;
	}
	(void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *) addr,
			 addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) != 0 ||
		listen(fd, 128) != 0)
	{
		err = errno;
		close(fd);
		tide_log_error("could not listen on %s for metrics: %s", where, strerror(err));
		if (err == EADDRINUSE)
			tide_log_hint("another process (perhaps another tide) uses that port: give --metrics-listen another one");
		else if (err == EADDRNOTAVAIL)
			tide_log_hint("no interface of this host has that address");
		else if (err == EACCES)
			tide_log_hint("ports below 1024 need privileges: choose a higher one");
		return TIDE_EXIT_USAGE;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
	{
		close(fd);
		tide_log_error("out of memory");
		return TIDE_EXIT_BUG;
	}
	/*
	 * A scraper that hangs up before its answer is written must not kill the
	 * process: writes to such a socket get EPIPE instead of SIGPIPE.
	 */
	signal(SIGPIPE, SIG_IGN);
	s->loop = loop;
	s->collect = collect;
	s->arg = arg;
	uv_tcp_init(s->loop, &s->listener);
	s->listener.data = s;
	s->listener_open = true;
	if ((err = uv_tcp_open(&s->listener, fd)) != 0 ||
		(err = uv_listen((uv_stream_t *) &s->listener, 128, on_connection)) != 0)
	{
		/* cannot happen with a listening socket; the handle still needs closing */
		tide_log_error("could not serve metrics on %s: %s", where, uv_strerror(err));
		tide_metrics_stop(s);
		return TIDE_EXIT_BUG;
	}
	tide_log_info("serving metrics on http://%s/metrics", where);
	*out = s;
	return 0;
}

static void
on_listener_closed(uv_handle_t *h)
{
	tide_metrics_server_t *s = h->data;

	s->listener_open = false;
	maybe_free_server(s);
}

void
tide_metrics_stop(tide_metrics_server_t *s)
{
	if (s == NULL || s->stopping)
		return;
	s->stopping = true;
	uv_close((uv_handle_t *) &s->listener, on_listener_closed);
	for (conn_t *c = s->conns; c; c = c->next)
		conn_close(c);
}

/* ---------------------------------------------------------- on a thread */

struct tide_metrics_thread_s
{
	uv_loop_t	loop;
	uv_async_t	stop;
	uv_thread_t thread;
	tide_metrics_server_t *srv;
};

static void
on_stop(uv_async_t *a)
{
	tide_metrics_thread_t *t = a->data;

	tide_metrics_stop(t->srv);
	uv_close((uv_handle_t *) &t->stop, NULL);
}

static void
thread_main(void *arg)
{
	tide_metrics_thread_t *t = arg;
	sigset_t	set;

	/* signals are the main thread's business (tide apply's SIGINT/SIGTERM) */
	sigfillset(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	uv_run(&t->loop, UV_RUN_DEFAULT);
}

int
tide_metrics_thread_start(tide_metrics_thread_t **out, const struct sockaddr_storage *addr,
						  tide_metrics_collect_cb collect, void *arg)
{
	tide_metrics_thread_t *t = calloc(1, sizeof(*t));
	int			rc;

	*out = NULL;
	if (t == NULL)
	{
		tide_log_error("out of memory");
		return TIDE_EXIT_BUG;
	}
	uv_loop_init(&t->loop);
	if ((rc = tide_metrics_start(&t->srv, &t->loop, addr, collect, arg)) != 0)
	{
		uv_run(&t->loop, UV_RUN_DEFAULT);	/* a handle's close, if any */
		uv_loop_close(&t->loop);
		free(t);
		return rc;
	}
	uv_async_init(&t->loop, &t->stop, on_stop);
	t->stop.data = t;
	if (uv_thread_create(&t->thread, thread_main, t) != 0)
	{
		tide_log_error("could not start the metrics thread");
		tide_metrics_stop(t->srv);
		uv_close((uv_handle_t *) &t->stop, NULL);
		uv_run(&t->loop, UV_RUN_DEFAULT);
		uv_loop_close(&t->loop);
		free(t);
		return TIDE_EXIT_BUG;
	}
	*out = t;
	return 0;
}

void
tide_metrics_thread_stop(tide_metrics_thread_t *t)
{
	if (t == NULL)
		return;
	uv_async_send(&t->stop);
	uv_thread_join(&t->thread);
	if (uv_loop_close(&t->loop) != 0)
		tide_log_warning("internal: metrics loop handles left open");
	free(t);
}
