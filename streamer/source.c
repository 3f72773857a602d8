/*
 * streamer/source.c
 *		Connecting to the source, for tide stream and tide base.
 */
#include <stddef.h>

#include "source.h"

PGconn *
stream_connect_source(const char *conninfo, const char *host, const char *port,
					  const char *user, bool replication, const char *appname)
{
	const char *keys[7];
	const char *vals[7];
	int			n = 0;

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
	return PQconnectdbParams(keys, vals, 1);
}
