/*
 * streamer/source.h
 *		Connecting to the source, for tide stream and tide base; and running
 *		a session's connection and queries under a libuv loop without
 *		blocking it (tide stream).
 */
#ifndef TIDE_SOURCE_H
#define TIDE_SOURCE_H

#include <stdbool.h>

#include <libpq-fe.h>
#include <uv.h>

/*
 * stream_connect_source - connect with libpq as pg_recvlogical does: the
 * connection string (or database name) first, then -h/-p/-U where given,
 * which override it; PG* variables fill in the rest.  replication asks for
 * a replication connection with a database.  Never returns NULL for lack
 * of memory alone: check PQstatus.  Blocks until connected or failed: for
 * one-shot commands with no loop to serve (tide base).
 */
PGconn	   *stream_connect_source(const char *conninfo, const char *host,
								  const char *port, const char *user,
								  bool replication, const char *appname);

/*
 * stream_connect_source_start - the same parameters through
 * PQconnectStartParams: nothing waits for the network (a host name is
 * still resolved here, by libpq; see source.c).  Drive it with
 * source_async_connect.  NULL only for lack of memory.
 */
PGconn	   *stream_connect_source_start(const char *conninfo, const char *host,
										const char *port, const char *user,
										bool replication, const char *appname);

/*
 * source_async_t - one session's connection attempt or query in flight,
 * driven by a uv_poll_t on PQsocket: libpq's asynchronous API
 * (PQconnectPoll; PQsendQuery, PQconsumeInput, PQgetResult) under the
 * loop, so the loop keeps serving (the replication socket, timers,
 * --metrics-listen) while a source is slow or silent.  One at a time per
 * source_async_t; the callback runs once the step is over, with nothing
 * of it left on the loop, and may start the next step or PQfinish the
 * connection.
 *
 * Connecting: cb(a, NULL); the attempt succeeded iff
 * source_async_connected(a), else source_async_error says why (the
 * connection is the caller's to PQfinish either way).  libpq enforces
 * connect_timeout only in its blocking calls: here a timer does it (per
 * attempt, not per host of a multi-host string).  The connection is
 * switched to non-blocking mode once made, so that no later call
 * (PQflush, PQfinish's goodbye) waits for the network either.
 *
 * A query: cb(a, res) with the first error result, else the last result,
 * or the COPY result that ends a START_REPLICATION; res is the callee's to
 * PQclear.  res is NULL if the connection failed (source_async_error).
 */
typedef struct source_async source_async_t;
typedef void (*source_async_cb) (source_async_t *a, PGresult *res);

struct source_async
{
	uv_loop_t  *loop;
	PGconn	   *conn;			/* the session; not owned */
	void	   *data;			/* the caller's */
	/* private */
	uv_poll_t  *poll;			/* owned; freed in its close callback */
	uv_timer_t	timer;			/* connect_timeout */
	source_async_cb cb;
	int			state;
	PGresult   *res;			/* the result kept so far */
	bool		connected;		/* the last attempt succeeded */
	char		why[256];		/* a failure libpq's message does not say */
};

void		source_async_init(source_async_t *a, uv_loop_t *loop, void *data);

/* 0, or -1 if the attempt cannot start (source_async_error) */
int			source_async_connect(source_async_t *a, PGconn *conn, source_async_cb cb);

/* 0, or -1 if the query cannot be sent (source_async_error) */
int			source_async_send(source_async_t *a, const char *sql, source_async_cb cb);

/* the last connection attempt succeeded and the session is still up */
bool		source_async_connected(const source_async_t *a);

/* a step is running */
bool		source_async_busy(const source_async_t *a);

/* source_async_cancel - forget the running step (no callback); the
 * connection is the caller's to PQfinish */
void		source_async_cancel(source_async_t *a);

/* source_async_close - cancel, and close the timer: before the loop ends */
void		source_async_close(source_async_t *a);

/*
 * source_async_error - why the step failed, one line: res's message where
 * there is one, else the connection's (or the timeout's).
 */
const char *source_async_error(source_async_t *a, const PGresult *res);

/* source_log_notes - the server's DETAIL and HINT of res, where it gave them */
void		source_log_notes(const PGresult *res);

/*
 * source_sqlstate_is - res failed with SQLSTATE code (5 characters), or
 * one of its class (2 characters).  Server errors are classified by
 * SQLSTATE, never by their text: a server with lc_messages set to another
 * language words them differently.
 */
bool		source_sqlstate_is(const PGresult *res, const char *code);

#endif /* TIDE_SOURCE_H */
