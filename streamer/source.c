/*
 * streamer/source.c
 *		Connecting to the source, for tide stream and tide base.
 */
#include <stddef.h>
#include <stdlib.h>

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

PGconn *
stream_connect_source(const char *conninfo, const char *host, const char *port,
					  const char *user, bool replication, const char *appname)
{
	const char *keys[NDEFAULTS + 8];
	const char *vals[NDEFAULTS + 8];
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
	return PQconnectdbParams(keys, vals, 1);
}
