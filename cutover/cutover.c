/*
 * cutover/cutover.c
 *		`tide cutover`: from "writes stopped on the source" to "the replica is
 *		equal; promote it" in one command.
 *
 * It sits on top of both sides, as cli/status.c does: it drives the source
 * (an optional read-only switch, the last sequence states, a marker), reads
 * the store (which slot and source the segments follow) and the replica
 * (tide.progress), and ends with tide verify's comparison.  tide stream and
 * tide apply --follow do the moving, as they always do, and never meet but
 * through the store: the marker is an ordinary transactional logical
 * message (prefix "tide.cutover", proto/FORMAT.md "Cutover marker") that
 * travels through the slot, the segments and the applier like any
 * transaction, so that when the replica's progress passes it, everything
 * committed on the source before it is on the replica.
 *
 * Stages, each timed and each with its own exit code on timeout:
 *	 streamer  the slot's confirmed_flush_lsn >= the marker: tide stream
 *			   confirms only what it has fsynced in the directory (and with
 *			   --ack-after-publish, published), so the marker is durable;
 *	 store	   a remote store (s3://, http(s)://) lists a segment ending at or
 *			   past the marker: what a remote applier reads is published;
 *	 applier   the replica's tide.progress row for these segments >= the
 *			   marker: tide apply records the marker's transaction at its
 *			   COMMIT although it changes nothing (applier/apply.c);
 *	 verify	   tables and sequences compared (applier/verify.c).
 *
 * --read-only: ALTER DATABASE ... SET default_transaction_read_only = on,
 * then the database's other client sessions (not tide's own, whose
 * application_name starts with "tide ") are terminated, waiting for each
 * to end, so that every session that can still write is a new one, born
 * read-only.  On any failure the setting is taken back before exiting (it
 * is said so); on success it stays (the source must not take writes the
 * promoted replica would miss) and the command that takes it back is
 * printed: tide cutover -s SOURCE --undo-read-only, which runs ALTER
 * DATABASE ... RESET default_transaction_read_only.  A session can still
 * SET default_transaction_read_only = off for itself: it is a guard
 * against applications, not against a determined user.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "tide/common.h"
#include "tide/pgtools.h"
#include "tide/store.h"
#include "tide/wire.h"
#include "tide/cmdline.h"
#include "../applier/verify.h"
#include "../streamer/sequences.h"
#include "../streamer/source.h"
#include "cutover.h"

#define POLL_USECS 20000		/* how often the waits look */

typedef struct
{
	const char *source;
	const char *replica;
	const char *store;
	int64_t		timeout;		/* µs, for the waits together */
	bool		read_only;
	bool		undo_read_only;
	tide_conn_opts_t replica_conn;	/* psql's options: the replica */
} cutover_opts_t;

/* What the run found and did; strings owned. */
typedef struct
{
	const cutover_opts_t *o;
	PGconn	   *src;
	PGconn	   *rep;
	store_t    *store;
	uint64_t	system_id;		/* the segments' source */
	char		dbname[STORE_IDENT_MAX];
	char		slot[64];
	char	   *dbquoted;		/* owned: the source database, quoted */
	bool		set_read_only;	/* we set it: undo on failure */
	char	   *old_setting;	/* owned: the database's own setting before, or NULL */
	proto_lsn_t marker;
	double		t0;
} cutover_t;

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	(void) sig;
	interrupted = 1;
}

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
cutover_usage(FILE *f)
{
	fprintf(f,
			"Usage: tide cutover -s SOURCE_CONNINFO -d REPLICA_CONNINFO -D DIR|URL [OPTIONS]\n"
			"       tide cutover -s SOURCE_CONNINFO --undo-read-only\n\n"
			"With writes stopped on the source, bring the replica to equal and say so:\n"
			"record the sequences' states (as tide sync-sequences) and a marker (a\n"
			"transactional logical message, prefix \"tide.cutover\"), wait until tide\n"
			"stream has the marker durable (the slot's confirmed position) and, for a\n"
			"remote store, published, then until tide apply --follow has applied it\n"
			"(the replica's tide.progress), then compare tables and sequences as tide\n"
			"verify does.  Prints \"replica is equal; promote it\" with the time from\n"
			"start to equal and each stage's.  tide stream and tide apply --follow must\n"
			"be running.\n\n"
			"Connection options: -s names the source; psql's options name the replica\n"
			"(PG* variables apply to what -d, -h, -p, -U leave unsaid, on both sides):\n"
			"  -s, --source=CONNINFO  the source: a connection string, URI or database name\n");
	tide_conn_usage(f, "the replica", 25);
	fprintf(f,
			"\nOptions:\n"
			"  -D, --directory=DIR|URL  the store the streamer writes and the applier\n"
			"                         reads (a directory, s3://BUCKET/PREFIX,\n"
			"                         http(s)://HOST/PATH)\n"
			"      --timeout=DUR      how long the waits may take together (default\n"
			"                         60s)\n"
			"      --read-only        stop writes first: ALTER DATABASE ... SET\n"
			"                         default_transaction_read_only = on and terminate\n"
			"                         the database's other sessions (not tide's); taken\n"
			"                         back on failure, kept on success\n"
			"      --undo-read-only   take it back: ALTER DATABASE ... RESET\n"
			"                         default_transaction_read_only (only -s needed)\n");
	tide_std_usage(f, 25);
	fprintf(f,
			"\n"
			"Exit codes: 0 the replica is equal, 1 a table differs or a sequence is\n"
			"behind, 2 bad arguments, 3 the source (connection, privileges) or the\n"
			"streamer did not make the marker durable in time, 4 the replica or the\n"
			"applier did not apply the marker in time, 5 the store holds no segment or\n"
			"segments of another source, 7 a remote store failed or did not publish\n"
			"the marker in time.\n");
}

static int
parse_opts(cutover_opts_t *o, int argc, char **argv)
{
	static const struct option opts[] = {
		TIDE_CONN_LONGOPTS,
		TIDE_STD_LONGOPTS,
		{"source", required_argument, NULL, 's'},
		{"directory", required_argument, NULL, 'D'},
		{"timeout", required_argument, NULL, 1},
		{"read-only", no_argument, NULL, 2},
		{"undo-read-only", no_argument, NULL, 3},
		{NULL, 0, NULL, 0}
	};
	int			c;
	int			rc;
	bool		given;

	memset(o, 0, sizeof(*o));
	o->timeout = INT64_C(60000000);
	optind = 1;
	while ((c = tide_getopt(argc, argv, TIDE_CONN_SHORTOPTS "s:D:", opts)) != -1)
	{
		if (tide_conn_opt(&o->replica_conn, c, optarg))
			continue;
		switch (c)
		{
			case 's':
				o->source = optarg;
				break;
			case 'D':
				o->store = optarg;
				break;
			case 1:
				if ((rc = tide_opt_duration("--timeout", optarg, INT64_C(100000),
											INT64_C(86400000000), &o->timeout)) != 0)
					return rc;
				break;
			case 2:
				o->read_only = true;
				break;
			case 3:
				o->undo_read_only = true;
				break;
			default:
				return tide_opt_std(c, "cutover", cutover_usage);
		}
	}
	if (optind < argc)
	{
		tide_log_error("unexpected argument \"%s\"", argv[optind]);
		cutover_usage(stderr);
		return TIDE_EXIT_USAGE;
	}
	if (o->source == NULL)
	{
		tide_log_error("no source given");
		tide_log_hint("give the source with -s CONNINFO");
		return TIDE_EXIT_USAGE;
	}
	given = o->replica_conn.dbname || o->replica_conn.host || o->replica_conn.port ||
		o->replica_conn.user;
	if (o->undo_read_only)
	{
		if (o->read_only || given || o->store)
		{
			tide_log_error("--undo-read-only takes only -s");
			return TIDE_EXIT_USAGE;
		}
		return 0;
	}
	/* two servers: the replica is never left to the environment alone */
	if (!given || o->store == NULL)
	{
		tide_log_error("no %s given", !given ? "replica" : "store");
		tide_log_hint("give -s SOURCE_CONNINFO -d REPLICA_CONNINFO (or -h, -p, -U) -D DIR|URL");
		return TIDE_EXIT_USAGE;
	}
	if ((rc = tide_conn_finish(&o->replica_conn, "the replica")) != 0)
		return rc;
	o->replica = o->replica_conn.conninfo;
	return 0;
}

/* ------------------------------------------------------------- sessions */

static char *
trimmed(PGconn *c)
{
	static char buf[1024];
	const char *e = PQerrorMessage(c);
	size_t		n = strlen(e);

	while (n > 0 && (e[n - 1] == '\n' || e[n - 1] == ' '))
		n--;
	snprintf(buf, sizeof(buf), "%.*s", (int) n, e);
	return buf;
}

/*
 * connect_to - a pinned session (invariant 8).  Our own session on the
 * source must be able to write its messages even when the database was
 * made read-only (by --read-only, earlier or now).
 */
static PGconn *
connect_to(const char *conninfo, const char *what, const char *opt)
{
	PGconn	   *c = stream_connect_source(conninfo, NULL, NULL, NULL, false, "tide cutover");
	PGresult   *r;

	if (PQstatus(c) != CONNECTION_OK)
	{
		tide_log_error("could not connect to the %s: %s", what, trimmed(c));
		tide_log_hint("check the %s connection string (%s)", what, opt);
		PQfinish(c);
		return NULL;
	}
	if (tide_pin_session(c) != 0)
	{
		tide_log_error("could not set up the %s session: %s", what, trimmed(c));
		PQfinish(c);
		return NULL;
	}
	r = PQexec(c, "SET default_transaction_read_only = off; SET statement_timeout = 0");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
	{
		tide_log_error("could not set up the %s session: %s", what, trimmed(c));
		PQclear(r);
		PQfinish(c);
		return NULL;
	}
	PQclear(r);
	return c;
}

/* one_value - the single value of a one-row query with text parameters, or
 * NULL (logged as "could not WHAT"); a NULL value comes back as "" */
static char *
one_value(PGconn *c, const char *sql, int n, const char *const *params, const char *what)
{
	PGresult   *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	char	   *v = NULL;

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		tide_log_error("could not %s: %s", what, trimmed(c));
	else if (PQntuples(r) == 1)
		v = strdup(PQgetvalue(r, 0, 0));
	else
		v = strdup("");
	PQclear(r);
	return v;
}

static int
command(PGconn *c, const char *sql, const char *what)
{
	PGresult   *r = PQexec(c, sql);
	int			rc = 0;

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
	{
		tide_log_error("could not %s: %s", what, trimmed(c));
		rc = -1;
	}
	PQclear(r);
	return rc;
}

/* ------------------------------------------------------------- read-only */

static const char *const db_setting_sql =
"SELECT s.cfg FROM pg_catalog.pg_db_role_setting d, "
"pg_catalog.unnest(d.setconfig) AS s(cfg) "
"WHERE d.setrole OPERATOR(pg_catalog.=) 0 AND d.setdatabase OPERATOR(pg_catalog.=) "
"(SELECT oid FROM pg_catalog.pg_database WHERE datname OPERATOR(pg_catalog.=) pg_catalog.current_database()) "
"AND s.cfg OPERATOR(pg_catalog.~~) 'default\\_transaction\\_read\\_only=%'";

static char *
quoted_db(PGconn *c)
{
	char	   *db = one_value(c, "SELECT pg_catalog.quote_ident(pg_catalog.current_database())",
							   0, NULL, "read the database's name");

	return db;
}

/*
 * read_only_on - the database read-only for new sessions, then the other
 * client sessions ended (each waited for, 5 s at most).  0 or an exit code.
 */
static int
read_only_on(cutover_t *c)
{
	char		sql[1024];
	char	   *n;
	char	   *left;

	if ((c->old_setting = one_value(c->src, db_setting_sql, 0, NULL,
									"read the database's settings")) == NULL)
		return TIDE_EXIT_SOURCE;
	if (c->old_setting[0] == '\0')
	{
		free(c->old_setting);
		c->old_setting = NULL;
	}
	snprintf(sql, sizeof(sql), "ALTER DATABASE %s SET default_transaction_read_only = on", c->dbquoted);
	if (command(c->src, sql, "make the source database read-only") != 0)
	{
		tide_log_hint("ALTER DATABASE needs the database's owner or a superuser; or stop the writes yourself and leave out --read-only");
		return TIDE_EXIT_SOURCE;
	}
	c->set_read_only = true;
	n = one_value(c->src,
				  "SELECT pg_catalog.count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(pid, 5000)) "
				  "FROM pg_catalog.pg_stat_activity "
				  "WHERE datname OPERATOR(pg_catalog.=) pg_catalog.current_database() "
				  "AND pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid() "
				  "AND backend_type OPERATOR(pg_catalog.=) 'client backend' "
				  "AND NOT pg_catalog.starts_with(COALESCE(application_name, ''), 'tide ')",
				  0, NULL, "end the source's other sessions");
	if (n == NULL)
	{
		tide_log_hint("ending other sessions needs the role pg_signal_backend (or a superuser)");
		return TIDE_EXIT_SOURCE;
	}
	left = one_value(c->src,
					 "SELECT pg_catalog.count(*) FROM pg_catalog.pg_stat_activity "
					 "WHERE datname OPERATOR(pg_catalog.=) pg_catalog.current_database() "
					 "AND pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid() "
					 "AND backend_type OPERATOR(pg_catalog.=) 'client backend' "
					 "AND backend_xid IS NOT NULL "
					 "AND NOT pg_catalog.starts_with(COALESCE(application_name, ''), 'tide ')",
					 0, NULL, "look at the source's sessions");
	if (left == NULL || strcmp(left, "0") != 0)
	{
		if (left)
			tide_log_error("%s sessions of the source still hold write transactions after being terminated", left);
		free(left);
		free(n);
		return TIDE_EXIT_SOURCE;
	}
	tide_log_info("the source database %s is read-only for new sessions; %s other %s ended",
				  c->dbquoted, n, strcmp(n, "1") == 0 ? "session" : "sessions");
	free(left);
	free(n);
	return 0;
}

/*
 * read_only_undo - the database's setting as it was before: RESET, or its
 * own earlier value (old is "default_transaction_read_only=VALUE").
 */
static int
read_only_undo(PGconn *src, const char *dbquoted, const char *old)
{
	char		sql[1200];

	if (old)
	{
		const char *v = strchr(old, '=') + 1;
		char	   *lit = PQescapeLiteral(src, v, strlen(v));

		snprintf(sql, sizeof(sql), "ALTER DATABASE %s SET default_transaction_read_only = %s",
				 dbquoted, lit ? lit : "off");
		PQfreemem(lit);
	}
	else
		snprintf(sql, sizeof(sql), "ALTER DATABASE %s RESET default_transaction_read_only", dbquoted);
	if (command(src, sql, "take back the source's read-only setting") != 0)
	{
		tide_log_hint("run on the source: %s", sql);
		return TIDE_EXIT_SOURCE;
	}
	return 0;
}

static int
undo_command(const cutover_opts_t *o)
{
	PGconn	   *src = connect_to(o->source, "source", "-s");
	char	   *db;
	int			rc;

	if (src == NULL)
		return TIDE_EXIT_SOURCE;
	if ((db = quoted_db(src)) == NULL)
	{
		PQfinish(src);
		return TIDE_EXIT_SOURCE;
	}
	if ((rc = read_only_undo(src, db, NULL)) == 0)
		tide_log_info("the source database %s takes writes again (new sessions)", db);
	free(db);
	PQfinish(src);
	return rc;
}

/* ------------------------------------------------------------- stages */

/*
 * read_store - which source and slot the store's segments follow (the
 * newest segment's header).  0 or an exit code.
 */
static int
read_store(cutover_t *c)
{
	store_seglist_t l = {0};
	char		err[1024];
	int			rc;

	if ((rc = store_open(c->o->store, NULL, &c->store, err)) != 0)
	{
		tide_log_error("%s", err);
		return rc <= TIDE__EBASE ? TIDE_EXIT_CORRUPT : TIDE_EXIT_STORE;
	}
	if ((rc = store_segments(c->store, &l, NULL, NULL)) != 0)
	{
		tide_log_error("could not read the segments of \"%s\": %s", c->o->store, store_errmsg(c->store));
		return rc <= TIDE__EBASE ? TIDE_EXIT_CORRUPT :
			store_kind(c->store) == STORE_LOCAL ? TIDE_EXIT_IO : TIDE_EXIT_STORE;
	}
	if (l.n == 0)
	{
		tide_log_error("\"%s\" holds no segment", c->o->store);
		tide_log_hint("start tide stream into it (and tide apply --follow from it) before the cutover");
		store_seglist_free(&l);
		return TIDE_EXIT_CORRUPT;
	}
	c->system_id = l.v[l.n - 1].system_id;
	snprintf(c->dbname, sizeof(c->dbname), "%s", l.v[l.n - 1].dbname);
	snprintf(c->slot, sizeof(c->slot), "%s", l.v[l.n - 1].slot);
	store_seglist_free(&l);
	return 0;
}

/* check_source - the source is the one the segments come from */
static int
check_source(cutover_t *c)
{
	PGresult   *r = PQexec(c->src, "SELECT system_identifier::pg_catalog.text, pg_catalog.current_database() "
						   "FROM pg_catalog.pg_control_system()");
	int			rc = 0;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
	{
		tide_log_error("could not read the source's system identifier: %s", trimmed(c->src));
		rc = TIDE_EXIT_SOURCE;
	}
	else if (strtoull(PQgetvalue(r, 0, 0), NULL, 10) != c->system_id ||
			 (c->dbname[0] && strcmp(PQgetvalue(r, 0, 1), c->dbname) != 0))
	{
		tide_log_error("the segments in \"%s\" come from another source", c->o->store);
		tide_log_detail("they follow system %llu, database \"%s\"; -s is system %s, database \"%s\"",
						(unsigned long long) c->system_id, c->dbname,
						PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
		rc = TIDE_EXIT_CORRUPT;
	}
	PQclear(r);
	if (rc == 0)
	{
		const char *params[1] = {c->slot};
		char	   *found = one_value(c->src,
									  "SELECT pg_catalog.count(*)::pg_catalog.text FROM pg_catalog.pg_replication_slots "
									  "WHERE slot_name OPERATOR(pg_catalog.=) $1",
									  1, params, "read the replication slots");

		if (found == NULL)
			rc = TIDE_EXIT_SOURCE;
		else if (strcmp(found, "1") != 0)
		{
			tide_log_error("replication slot \"%s\", which the segments in \"%s\" follow, does not exist on the source",
						   c->slot, c->o->store);
			tide_log_hint("nothing can carry the marker to the replica: check -s and -D");
			rc = TIDE_EXIT_SOURCE;
		}
		free(found);
	}
	return rc;
}

/* emit_marker - the "tide.cutover" message (FORMAT.md), in a transaction
 * of its own; c->marker gets its LSN */
static int
emit_marker(cutover_t *c)
{
	unsigned char rnd[16];
	char		token[33];
	char		when[64];
	char		payload[256];
	const char *params[2];
	char	   *lsn;

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
	{
		/* uniqueness only: the time and the pid make it so without randomness */
		uint64_t	a = (uint64_t) tide_now(),
					b = (uint64_t) getpid();

		memcpy(rnd, &a, 8);
		memcpy(rnd + 8, &b, 8);
	}
	for (int i = 0; i < 16; i++)
		snprintf(token + 2 * i, 3, "%02x", rnd[i]);
	tide_time_text(when, sizeof(when), tide_now());
	snprintf(payload, sizeof(payload), "{\"v\":1,\"token\":\"%s\",\"time\":\"%s\"}", token, when);
	params[0] = PROTO_CUTOVER_PREFIX;
	params[1] = payload;
	lsn = one_value(c->src, "SELECT pg_catalog.pg_logical_emit_message(true, $1::pg_catalog.text, "
					"$2::pg_catalog.text)::pg_catalog.text", 2, params, "write the cutover marker");
	if (lsn == NULL || tide_parse_lsn(lsn, &c->marker) != 0)
	{
		free(lsn);
		return TIDE_EXIT_SOURCE;
	}
	tide_log_info("cutover marker %s at %s", token, lsn);
	free(lsn);
	return 0;
}

/* A stage the cutover waits for, and how to say that it did not come. */
typedef struct
{
	const char *name;			/* "stage %s: timed out before ..." */
	const char *who;			/* "... before %s the marker at <LSN>" */
	const char *after;			/* what follows the LSN in that line */
	const char *what;			/* "could not %s", when the query fails */
	const char *fail_hint;		/* NULL, or a hint when the query fails */
	const char *none;			/* the value to show when the query finds no row */
	int			exit_code;		/* on failure or timeout */
	/* logs the detail and hint of a timeout; last is the query's value */
	void		(*timeout_cb) (const cutover_t *c, const char *last);
} wait_stage_t;

/*
 * wait_until - poll conn with sql (params[n]) until its first value says
 * 't', the deadline passes or a signal comes.  Returns 0, or st's exit
 * code after logging why: the query failed, or it timed out (then the
 * query's second value, if any, goes into the detail).
 */
static int
wait_until(const cutover_t *c, PGconn *conn, const char *sql, int n, const char *const *params,
		   const wait_stage_t *st, double deadline)
{
	char		last[64];

	snprintf(last, sizeof(last), "%s", st->none);
	for (;;)
	{
		PGresult   *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
		bool		yes;

		if (PQresultStatus(r) != PGRES_TUPLES_OK)
		{
			tide_log_error("could not %s: %s", st->what, trimmed(conn));
			PQclear(r);
			if (st->fail_hint)
				tide_log_hint("%s", st->fail_hint);
			return st->exit_code;
		}
		yes = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
		if (PQntuples(r) == 1 && PQnfields(r) > 1)
			snprintf(last, sizeof(last), "%s", PQgetisnull(r, 0, 1) ? "(none)" : PQgetvalue(r, 0, 1));
		PQclear(r);
		if (yes)
			return 0;
		if (interrupted || mono() >= deadline)
			break;
		usleep(POLL_USECS);
	}
	tide_log_error("stage %s: %s before %s the marker at " TIDE_LSN_FMT "%s", st->name,
				   interrupted ? "interrupted" : "timed out", st->who, TIDE_LSN_ARGS(c->marker), st->after);
	st->timeout_cb(c, last);
	return st->exit_code;
}

static void
streamer_timeout(const cutover_t *c, const char *last)
{
	tide_log_detail("replication slot \"%s\" is confirmed up to %s", c->slot, last);
	tide_log_hint("is tide stream running on slot \"%s\" into \"%s\"? run tide cutover again once it is",
				  c->slot, c->o->store);
}

static const wait_stage_t streamer_stage = {
	.name = "streamer",
	.who = "tide stream made",
	.after = " durable",
	.what = "read the replication slot",
	.none = "(no slot)",
	.exit_code = TIDE_EXIT_SOURCE,
	.timeout_cb = streamer_timeout,
};

static int
wait_streamer(cutover_t *c, double deadline)
{
	char		lsn[32];
	const char *params[2];

	snprintf(lsn, sizeof(lsn), TIDE_LSN_FMT, TIDE_LSN_ARGS(c->marker));
	params[0] = c->slot;
	params[1] = lsn;
	return wait_until(c, c->src,
					  "SELECT confirmed_flush_lsn OPERATOR(pg_catalog.>=) $2::pg_catalog.pg_lsn, "
					  "confirmed_flush_lsn::pg_catalog.text || CASE WHEN active THEN '' ELSE ' (slot inactive)' END "
					  "FROM pg_catalog.pg_replication_slots WHERE slot_name OPERATOR(pg_catalog.=) $1",
					  2, params, &streamer_stage, deadline);
}

static int
wait_store(cutover_t *c, double deadline)
{
	for (;;)
	{
		store_seglist_t l = {0};
		proto_lsn_t end = 0;
		int			rc = store_segments(c->store, &l, NULL, NULL);

		if (rc != 0)
		{
			tide_log_error("could not read the segments of \"%s\": %s", c->o->store, store_errmsg(c->store));
			return rc <= TIDE__EBASE ? TIDE_EXIT_CORRUPT : TIDE_EXIT_STORE;
		}
		for (size_t i = 0; i < l.n; i++)
			if (l.v[i].end_lsn > end)
				end = l.v[i].end_lsn;
		store_seglist_free(&l);
		if (end >= c->marker)
			return 0;
		if (interrupted || mono() >= deadline)
		{
			tide_log_error("stage store: %s before \"%s\" published the marker at " TIDE_LSN_FMT,
						   interrupted ? "interrupted" : "timed out", c->o->store, TIDE_LSN_ARGS(c->marker));
			tide_log_detail("its segments end at " TIDE_LSN_FMT, TIDE_LSN_ARGS(end));
			tide_log_hint("a remote store lists closed segments only: the segment holding the marker is published when its --bucket closes");
			return TIDE_EXIT_STORE;
		}
		usleep(POLL_USECS * 5);
	}
}

static void
applier_timeout(const cutover_t *c, const char *last)
{
	tide_log_detail("the replica's progress for slot \"%s\" is at %s", c->slot, last);
	tide_log_hint("is tide apply --follow running from \"%s\" into the replica, without errors? run tide cutover again once it is",
				  c->o->store);
}

static const wait_stage_t applier_stage = {
	.name = "applier",
	.who = "tide apply applied",
	.after = "",
	.what = "read tide.progress on the replica",
	.fail_hint = "the replica needs tide.progress: run tide apply (or bootstrap) on it first",
	.none = "(no progress row)",
	.exit_code = TIDE_EXIT_REPLICA,
	.timeout_cb = applier_timeout,
};

static int
wait_applier(cutover_t *c, double deadline)
{
	char		sysid[32];
	char		lsn[32];
	const char *params[4];

	snprintf(sysid, sizeof(sysid), "%llu", (unsigned long long) c->system_id);
	snprintf(lsn, sizeof(lsn), TIDE_LSN_FMT, TIDE_LSN_ARGS(c->marker));
	params[0] = sysid;
	params[1] = c->dbname;
	params[2] = c->slot;
	params[3] = lsn;
	return wait_until(c, c->rep,
					  "SELECT end_lsn OPERATOR(pg_catalog.>=) $4::pg_catalog.pg_lsn, end_lsn::pg_catalog.text "
					  "FROM tide.progress WHERE system_id OPERATOR(pg_catalog.=) $1::pg_catalog.numeric "
					  "AND dbname OPERATOR(pg_catalog.=) $2 AND slot OPERATOR(pg_catalog.=) $3",
					  4, params, &applier_stage, deadline);
}

/* ------------------------------------------------------------- command */

static void
step(const char *name, double secs, const char *note)
{
	printf("cutover: %-20s %7.3f s%s%s\n", name, secs, note ? "  " : "", note ? note : "");
	fflush(stdout);
}

int
tide_cmd_cutover(int argc, char **argv)
{
	cutover_opts_t o;
	cutover_t	c;
	struct sigaction sa;
	struct sigaction old_int,
				old_term;
	double		t,
				deadline;
	char		note[128];
	char		lsn[64];
	size_t		nseq = 0;
	bool		warned = false;
	int			rc;

	if ((rc = parse_opts(&o, argc, argv)) != 0)
	{
		tide_conn_free(&o.replica_conn);
		return rc < 0 ? TIDE_EXIT_OK : rc;
	}
	if (o.undo_read_only)
	{
		rc = undo_command(&o);
		tide_conn_free(&o.replica_conn);
		return rc;
	}

	memset(&c, 0, sizeof(c));
	c.o = &o;
	c.t0 = mono();
	deadline = c.t0 + (double) o.timeout / 1e6;
	interrupted = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);

	if ((rc = read_store(&c)) != 0)
		goto done;
	if ((c.src = connect_to(o.source, "source", "-s")) == NULL ||
		(c.rep = connect_to(o.replica, "replica", "-d")) == NULL)
	{
		rc = c.src == NULL ? TIDE_EXIT_SOURCE : TIDE_EXIT_REPLICA;
		goto done;
	}
	if ((rc = check_source(&c)) != 0)
		goto done;
	if ((c.dbquoted = quoted_db(c.src)) == NULL)
	{
		rc = TIDE_EXIT_SOURCE;
		goto done;
	}

	t = mono();
	if (o.read_only)
	{
		if ((rc = read_only_on(&c)) != 0)
			goto done;
		step("read-only", mono() - t, c.dbquoted);
		t = mono();
	}

	/* the last sequence states, then the marker after them */
	if (stream_seq_record(c.src, NULL, lsn, sizeof(lsn), &nseq, &warned) != 0)
	{
		tide_log_hint("the role needs SELECT on the sequences and EXECUTE on pg_catalog.pg_logical_emit_message (every role's by default)");
		rc = TIDE_EXIT_SOURCE;
		goto done;
	}
	if ((rc = emit_marker(&c)) != 0)
		goto done;
	snprintf(note, sizeof(note), "%zu %s, marker at " TIDE_LSN_FMT, nseq,
			 nseq == 1 ? "sequence" : "sequences", TIDE_LSN_ARGS(c.marker));
	step("sequences + marker", mono() - t, note);

	t = mono();
	if ((rc = wait_streamer(&c, deadline)) != 0)
		goto done;
	snprintf(note, sizeof(note), "slot \"%s\"", c.slot);
	step("streamer durable", mono() - t, note);
	if (store_kind(c.store) != STORE_LOCAL)
	{
		t = mono();
		if ((rc = wait_store(&c, deadline)) != 0)
			goto done;
		step("store published", mono() - t, NULL);
	}
	t = mono();
	if ((rc = wait_applier(&c, deadline)) != 0)
		goto done;
	step("applier applied", mono() - t, NULL);

	t = mono();
	{
		verify_opts_t vo = {
			.source = o.source,
			.replica = o.replica,
			.chunk = 10000,
			.max_keys = 50,
		};

		rc = tide_verify_run(&vo);
	}
	step("verify", mono() - t, NULL);
	if (rc == TIDE_EXIT_OK)
	{
		printf("replica is equal; promote it (%.2f s from start to equal)\n", mono() - c.t0);
		if (c.set_read_only)
			printf("the source stays read-only; to take writes on it again: tide cutover -s SOURCE --undo-read-only\n");
		fflush(stdout);
	}
	else if (rc == TIDE_EXIT_DIFFERENT)
	{
		printf("replica is NOT equal: do not promote it\n");
		fflush(stdout);
		tide_log_error("the replica differs from the source after the marker was applied");
		tide_log_hint("were writes stopped on the source? see the lines above for what differs");
	}

done:
	if (rc != TIDE_EXIT_OK && c.set_read_only)
	{
		/* never left read-only by a cutover that did not finish */
		if (read_only_undo(c.src, c.dbquoted, c.old_setting) == 0)
			tide_log_info("the source database %s takes writes again: the cutover did not finish", c.dbquoted);
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	PQfinish(c.src);
	PQfinish(c.rep);
	store_close(c.store);
	free(c.dbquoted);
	free(c.old_setting);
	tide_conn_free(&o.replica_conn);
	return rc;
}
