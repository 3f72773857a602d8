/*
 * streamer/source.c
 *		Connecting to the source, for tide stream and tide base; and the
 *		asynchronous session steps tide stream runs under its loop.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tide/common.h"
#include "source.h"

/*
 * Defaults for a source that stops answering without closing the
 * connection (a cut network, a host that froze): connecting gives up after
 * connect_timeout, and a connection whose peer went silent fails within
 * about a minute (TCP keepalives while idle, tcp_user_timeout while our
 * status updates go unacknowledged) instead of hanging forever with
 * nothing logged.  The streamer then reconnects with backoff.  Each yields
 * to the user: to the connection string, and to the PG* variable libpq
 * reads for it.
 */
static const struct
{
	const char *keyword;
	const char *env;			/* libpq's variable for it, or NULL */
	const char *value;
} source_defaults[] = {
	{"connect_timeout", "PGCONNECT_TIMEOUT", "30"},
	{"keepalives", NULL, "1"},
	{"keepalives_idle", NULL, "30"},
	{"keepalives_interval", NULL, "10"},
	{"keepalives_count", NULL, "3"},
	{"tcp_user_timeout", NULL, "60000"},
};

#define NDEFAULTS (sizeof(source_defaults) / sizeof(source_defaults[0]))

/* params - the keywords and values, into keys/vals (NDEFAULTS + 8 each) */
static void
params(const char **keys, const char **vals, const char *conninfo, const char *host,
	   const char *port, const char *user, bool replication, const char *appname)
{
	int			n = 0;

	/* first, so the connection string that follows overrides them */
	for (size_t i = 0; i < NDEFAULTS; i++)
	{
		if (source_defaults[i].env && getenv(source_defaults[i].env))
			continue;
		keys[n] = source_defaults[i].keyword;
		vals[n++] = source_defaults[i].value;
	}
	/* later keywords override what the connection string says */
	keys[n] = "dbname";
	vals[n++] = conninfo;
	if (replication)
	{
		keys[n] = "replication";
		vals[n++] = "database";
	}
	keys[n] = "fallback_application_name";
	vals[n++] = appname;
	if (host)
	{
		keys[n] = "host";
		vals[n++] = host;
	}
	if (port)
	{
		keys[n] = "port";
		vals[n++] = port;
	}
	if (user)
	{
		keys[n] = "user";
		vals[n++] = user;
	}
	keys[n] = NULL;
	vals[n] = NULL;
}

/*
 * connect_params - PQconnectdbParams, or with start PQconnectStartParams.
 * The latter resolves a host name itself, synchronously (getaddrinfo);
 * everything after that (connect, TLS, authentication, the startup
 * packet) waits on the socket under the loop.  A source named by address
 * or socket directory, or a working resolver, keeps that short.
 */
static PGconn *
connect_params(const char *conninfo, const char *host, const char *port,
			   const char *user, bool replication, const char *appname, bool start)
{
	const char *keys[NDEFAULTS + 8];
	const char *vals[NDEFAULTS + 8];

	params(keys, vals, conninfo, host, port, user, replication, appname);
	return start ? PQconnectStartParams(keys, vals, 1) : PQconnectdbParams(keys, vals, 1);
}

PGconn *
stream_connect_source(const char *conninfo, const char *host, const char *port,
					  const char *user, bool replication, const char *appname)
{
	return connect_params(conninfo, host, port, user, replication, appname, false);
}

PGconn *
stream_connect_source_start(const char *conninfo, const char *host, const char *port,
							const char *user, bool replication, const char *appname)
{
	return connect_params(conninfo, host, port, user, replication, appname, true);
}

/* ------------------------------------------------ asynchronous steps */

enum
{
	SA_IDLE,
	SA_CONNECTING,
	SA_QUERY,
};

static void on_sa_poll(uv_poll_t *h, int status, int events);

static void
sa_poll_close(source_async_t *a)
{
	if (a->poll == NULL)
		return;
	/*
	 * Stopping removes the descriptor from epoll at once (uv_close only
	 * frees the handle later), so a new handle may take the same
	 * descriptor number right after.
	 */
	uv_poll_stop(a->poll);
	uv_close((uv_handle_t *) a->poll, (uv_close_cb) free);
	a->poll = NULL;
}

/*
 * sa_wait - wait for events on the session's socket, on a new handle.
 * While connecting, PQconnectPoll may close the socket and open another
 * (the next address of a host, a retry without SSL or GSS): the new one
 * can even have the same number, and epoll forgets a descriptor once it
 * is closed, so a handle kept across calls could wait on nothing.  A
 * connection takes a handful of steps: a handle per step costs nothing.
 */
static int
sa_wait(source_async_t *a, int events)
{
	int			fd = PQsocket(a->conn);
	int			rc;

	sa_poll_close(a);
	if (fd < 0)
	{
		snprintf(a->why, sizeof(a->why), "the connection has no socket");
		return -1;
	}
	if ((a->poll = malloc(sizeof(uv_poll_t))) == NULL)
	{
		snprintf(a->why, sizeof(a->why), "out of memory");
		return -1;
	}
	if ((rc = uv_poll_init(a->loop, a->poll, fd)) != 0)
	{
		free(a->poll);
		a->poll = NULL;
		snprintf(a->why, sizeof(a->why), "could not watch the connection's socket: %s", uv_strerror(rc));
		return -1;
	}
	a->poll->data = a;
	uv_poll_start(a->poll, events, on_sa_poll);
	return 0;
}

/* sa_finish - the step is over: nothing of it stays on the loop, then cb */
static void
sa_finish(source_async_t *a, PGresult *res)
{
	source_async_cb cb = a->cb;

	sa_poll_close(a);
	uv_timer_stop(&a->timer);
	a->state = SA_IDLE;
	a->cb = NULL;
	cb(a, res);
}

static void
sa_fail(source_async_t *a)
{
	PQclear(a->res);
	a->res = NULL;
	sa_finish(a, NULL);
}

static void
sa_connect_step(source_async_t *a)
{
	switch (PQconnectPoll(a->conn))
	{
		case PGRES_POLLING_OK:
			/* PQfinish and PQflush must never wait for the network either */
			if (PQsetnonblocking(a->conn, 1) != 0)
				snprintf(a->why, sizeof(a->why), "could not switch the connection to non-blocking mode");
			else
				a->connected = true;
			sa_finish(a, NULL);
			return;
		case PGRES_POLLING_READING:
			if (sa_wait(a, UV_READABLE) != 0)
				sa_fail(a);
			return;
		case PGRES_POLLING_WRITING:
			if (sa_wait(a, UV_WRITABLE) != 0)
				sa_fail(a);
			return;
		default:
			sa_fail(a);			/* PQstatus says CONNECTION_BAD */
			return;
	}
}

static void
sa_query_step(source_async_t *a)
{
	int			fl;

	if (PQconsumeInput(a->conn) == 0 || (fl = PQflush(a->conn)) < 0)
	{
		sa_fail(a);
		return;
	}
	uv_poll_start(a->poll, UV_READABLE | (fl == 1 ? UV_WRITABLE : 0), on_sa_poll);
	while (!PQisBusy(a->conn))
	{
		PGresult   *r = PQgetResult(a->conn);
		ExecStatusType st;

		if (r == NULL)
		{
			PGresult   *res = a->res;

			a->res = NULL;
			sa_finish(a, res);
			return;
		}
		st = PQresultStatus(r);
		if (st == PGRES_COPY_BOTH || st == PGRES_COPY_OUT || st == PGRES_COPY_IN)
		{
			/* the copy state: PQgetResult would hand it out again and again */
			PQclear(a->res);
			a->res = NULL;
			sa_finish(a, r);
			return;
		}
		/* the first error is what went wrong; later results only follow it */
		if (a->res != NULL && PQresultStatus(a->res) == PGRES_FATAL_ERROR)
			PQclear(r);
		else
		{
			PQclear(a->res);
			a->res = r;
		}
	}
}

static void
on_sa_poll(uv_poll_t *h, int status, int events)
{
	source_async_t *a = h->data;

	(void) events;
	if (a->state == SA_CONNECTING)
	{
		/*
		 * A socket error (libuv says EBADF for EPOLLERR) is PQconnectPoll's
		 * to find: it reads SO_ERROR, and may go on to the next address.
		 */
		sa_connect_step(a);
		return;
	}
	if (status < 0)
	{
		int			err = 0;
		socklen_t	len = sizeof(err);

		if (status == UV_EBADF &&
			getsockopt(PQsocket(a->conn), SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0)
			snprintf(a->why, sizeof(a->why), "%s", strerror(err));
		else
			snprintf(a->why, sizeof(a->why), "%s", uv_strerror(status));
		sa_fail(a);
		return;
	}
	sa_query_step(a);
}

static void
on_sa_timeout(uv_timer_t *t)
{
	source_async_t *a = t->data;

	if (a->state != SA_CONNECTING)
		return;
	snprintf(a->why, sizeof(a->why), "timeout expired (connect_timeout)");
	sa_fail(a);
}

void
source_async_init(source_async_t *a, uv_loop_t *loop, void *data)
{
	memset(a, 0, sizeof(*a));
	a->loop = loop;
	a->data = data;
	uv_timer_init(loop, &a->timer);
	a->timer.data = a;
}

/* connect_timeout_ms - the session's connect_timeout as libpq reads it; 0: none */
static uint64_t
connect_timeout_ms(PGconn *conn)
{
	PQconninfoOption *opts = PQconninfo(conn);
	long		secs = 0;

	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, "connect_timeout") == 0 && o->val && o->val[0])
			secs = strtol(o->val, NULL, 10);
	PQconninfoFree(opts);
	if (secs <= 0)
		return 0;
	/* as libpq: less than 2 s would fail on a busy network */
	return (uint64_t) (secs < 2 ? 2 : secs) * 1000;
}

int
source_async_connect(source_async_t *a, PGconn *conn, source_async_cb cb)
{
	uint64_t	ms;

	source_async_cancel(a);
	a->conn = conn;
	a->connected = false;
	a->why[0] = '\0';
	a->cb = cb;
	if (conn == NULL)
	{
		snprintf(a->why, sizeof(a->why), "out of memory");
		return -1;
	}
	if (PQstatus(conn) == CONNECTION_BAD)
		return -1;
	a->state = SA_CONNECTING;
	if ((ms = connect_timeout_ms(conn)) > 0)
		uv_timer_start(&a->timer, on_sa_timeout, ms, 0);
	/* as the documentation says: before the first PQconnectPoll, as if WRITING */
	if (sa_wait(a, UV_WRITABLE) != 0)
	{
		source_async_cancel(a);
		return -1;
	}
	return 0;
}

int
source_async_send(source_async_t *a, const char *sql, source_async_cb cb)
{
	int			fl;

	source_async_cancel(a);
	a->why[0] = '\0';
	if (a->conn == NULL || PQsendQuery(a->conn, sql) != 1)
		return -1;
	a->cb = cb;
	a->state = SA_QUERY;
	if ((fl = PQflush(a->conn)) < 0 || sa_wait(a, UV_READABLE | (fl == 1 ? UV_WRITABLE : 0)) != 0)
	{
		source_async_cancel(a);
		return -1;
	}
	return 0;
}

bool
source_async_connected(const source_async_t *a)
{
	return a->connected && a->conn != NULL && PQstatus(a->conn) == CONNECTION_OK;
}

bool
source_async_busy(const source_async_t *a)
{
	return a->state != SA_IDLE;
}

void
source_async_cancel(source_async_t *a)
{
	sa_poll_close(a);
	uv_timer_stop(&a->timer);
	PQclear(a->res);
	a->res = NULL;
	a->state = SA_IDLE;
	a->cb = NULL;
}

void
source_async_close(source_async_t *a)
{
	source_async_cancel(a);
	if (!uv_is_closing((uv_handle_t *) &a->timer))
		uv_close((uv_handle_t *) &a->timer, NULL);
}

const char *
source_async_error(source_async_t *a, const PGresult *res)
{
	static char buf[1024];
	const char *m = NULL;
	size_t		n;

	/* the server's own words: DETAIL and HINT are source_log_notes' */
	if (res)
		m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if ((m == NULL || m[0] == '\0') && res)
		m = PQresultErrorMessage(res);
	if ((m == NULL || m[0] == '\0') && a->why[0])
		m = a->why;
	if ((m == NULL || m[0] == '\0') && a->conn)
		m = PQerrorMessage(a->conn);
	if (m == NULL || m[0] == '\0')
		m = "unknown error";
	snprintf(buf, sizeof(buf), "%s", m);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	/* libpq's connection messages span lines: one line in the log */
	for (char *c = buf; *c; c++)
		if (*c == '\n')
			*c = ' ';
	return buf;
}

void
source_log_notes(const PGresult *res)
{
	const char *d = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *h = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;

	if (d)
		tide_log_detail("%s", d);
	if (h)
		tide_log_hint("%s", h);
}

bool
source_sqlstate_is(const PGresult *res, const char *code)
{
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return st != NULL && strncmp(st, code, strlen(code)) == 0;
}
