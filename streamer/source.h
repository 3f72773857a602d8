/*
 * streamer/source.h
 *		Connecting to the source, for tide stream and tide base.
 */
#ifndef TIDE_SOURCE_H
#define TIDE_SOURCE_H

#include <stdbool.h>

#include <libpq-fe.h>

/*
 * stream_connect_source - connect with libpq as pg_recvlogical does: the
 * connection string (or database name) first, then -h/-p/-U where given,
 * which override it; PG* variables fill in the rest.  replication asks for
 * a replication connection with a database.  Never returns NULL for lack
 * of memory alone: check PQstatus.
 */
PGconn	   *stream_connect_source(const char *conninfo, const char *host,
								  const char *port, const char *user,
								  bool replication, const char *appname);

#endif /* TIDE_SOURCE_H */
