/*
 * cli/status.c
 *		`tide status`: the whole pipeline at a glance, for a human or a
 *		monitoring check - the store's durable end, size, retention window
 *		and newest base; with -s the source's position and the slot; with -d
 *		the replica's progress; lags between them; exit code 8 when
 *		something needs a human.
 *
 * It only reads: the store through store/ (a directory, s3://, http(s)://;
 * the open segment of a directory is scanned as tide ls scans it), the
 * source through pg_replication_slots, the replica through tide.progress.
 * Like tide ls and inspect it sits on top of the parts (cli/), since it
 * looks at both sides of the pipeline.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "tide.h"
#include "tide/cmdline.h"
#include "tide/pgtools.h"
#include "tide/segment.h"
#include "tide/store.h"
#include "../streamer/segdir.h"

#define LSN_FMT "%X/%X"
#define LSN_ARGS(l) (unsigned) ((uint64_t) (l) >> 32), (unsigned) (l)
#define USECS INT64_C(1000000)

typedef struct
{
	const char *store;
	const char *source;			/* -s, or NULL */
	tide_conn_opts_t rconn;		/* the replica's -d, -h, -p, -U, -W */
	const char *replica;		/* rconn's connection string, or NULL */
	bool		json;
	int64_t		max_lag_bytes;	/* -1: not checked */
	int64_t		max_lag;		/* µs, -1: not checked */
	int64_t		max_inactive;	/* µs, -1: not checked */
} status_opts_t;

/* What is found, and the problems that need a human. */
typedef struct
{
	json_t	   *root;			/* owned: the --json document */
	json_t	   *problems;		/* borrowed from root */
	/* the store */
	size_t		nsegs;
	proto_lsn_t end;			/* durable end: complete up to */
	proto_time_t last_time;		/* newest commit time, 0: none */
	proto_time_t last_write;	/* newest segment change (local: mtime) */
	char		slot[64];
	uint64_t	system_id;
	char		dbname[STORE_IDENT_MAX];
} status_t;

static void
status_usage(FILE *f)
{
	fprintf(f,
			"Usage: tide status -D DIR|URL [-s SOURCE_CONNINFO] [-d REPLICA_CONNINFO] [OPTIONS]\n\n"
			"The pipeline at a glance: the store's durable end (the newest segment's end\n"
			"LSN and last commit), its segments, size, retention window and newest base;\n"
			"with -s the source's current LSN and the slot the segments name (active or\n"
			"not, retained WAL, safe_wal_size, catalog_xmin age) and the lag from the\n"
			"source to the store; with -d the replica's progress (tide.progress) and the\n"
			"lag from the store to the replica.  Connection strings are shown without\n"
			"their passwords.\n\n"
			"Options:\n"
			"  -D, --directory=DIR|URL   a segment directory, s3://BUCKET/PREFIX or\n"
			"                            http(s)://HOST/PATH\n"
			"      --json                one JSON document instead of text\n"
			"      --max-lag-bytes=SIZE  attention when a lag (source to store, store to\n"
			"                            replica) passes this many bytes\n"
			"      --max-lag=DURATION    attention when the replica's last applied commit\n"
			"                            is this much older than the store's newest\n"
			"      --max-inactive=DURATION  attention when the slot has been inactive this\n"
			"                            long (PostgreSQL 17: inactive_since; before, since\n"
			"                            the store's newest segment last changed)\n");
	tide_std_usage(f, 28);
	fprintf(f, "\nConnection options: -s names the source; psql's options name the replica\n"
			"(PG* variables apply to what they leave unsaid; the replica is read when\n"
			"one of -d, -h, -p, -U is given):\n"
			"  -s, --source=CONNINFO     the source (any role that can read\n"
			"                            pg_replication_slots)\n");
	tide_conn_usage(f, "the replica", 28);
	fprintf(f,
			"\nExit codes: 0 all fine; 8 something needs a human (a gap in the store, the\n"
			"slot missing or inactive past --max-inactive, a lag past --max-lag-bytes or\n"
			"--max-lag, a replica without progress for this source; each is printed);\n"
			"2 bad arguments; 3 the source, 4 the replica could not be read; 5 the\n"
			"store is damaged; 6 a local directory cannot be read; 7 the store cannot\n"
			"be reached.\n");
}

static int
parse_status_opts(int argc, char **argv, status_opts_t *o)
{
	static const struct option opts[] = {
		TIDE_CONN_LONGOPTS,
		TIDE_STD_LONGOPTS,
		{"directory", required_argument, NULL, 'D'},
		{"source", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 1},
		{"max-lag-bytes", required_argument, NULL, 2},
		{"max-lag", required_argument, NULL, 3},
		{"max-inactive", required_argument, NULL, 4},
		{NULL, 0, NULL, 0}
	};
	int			c;
	int			rc;

	memset(o, 0, sizeof(*o));
	o->max_lag_bytes = o->max_lag = o->max_inactive = -1;
	optind = 1;
	while ((c = tide_getopt(argc, argv, TIDE_CONN_SHORTOPTS "D:s:", opts)) != -1)
	{
		if (tide_conn_opt(&o->rconn, c, optarg))
			continue;
		switch (c)
		{
			case 'D':
				o->store = optarg;
				break;
			case 's':
				o->source = optarg;
				break;
			case 1:
				o->json = true;
				break;
			case 2:
				if ((rc = tide_opt_size("--max-lag-bytes", optarg, &o->max_lag_bytes)) != 0)
					return rc;
				break;
			case 3:
				if ((rc = tide_opt_duration("--max-lag", optarg, 0, INT64_C(100) * 366 * 86400 * USECS,
											&o->max_lag)) != 0)
					return rc;
				break;
			case 4:
				if ((rc = tide_opt_duration("--max-inactive", optarg, 0, INT64_C(100) * 366 * 86400 * USECS,
											&o->max_inactive)) != 0)
					return rc;
				break;
			default:
				return tide_opt_std(c, "status", status_usage);
		}
	}
	if (optind != argc || o->store == NULL)
	{
		tide_log_error("tide status needs -D DIR|URL%s", optind != argc ? " and no other arguments" : "");
		tide_log_hint("run 'tide status --help' for its options");
		return TIDE_EXIT_USAGE;
	}
	/* the replica is optional: read when named (not from PG* alone) */
	if (o->rconn.dbname || o->rconn.host || o->rconn.port || o->rconn.user)
	{
		if ((rc = tide_conn_finish(&o->rconn, "the replica")) != 0)
			return rc;
		o->replica = o->rconn.conninfo;
	}
	return 0;
}

/* ------------------------------------------------------------ helpers */

static json_t *
lsn_json(proto_lsn_t l)
{
	char		b[32];

	snprintf(b, sizeof(b), LSN_FMT, LSN_ARGS(l));
	return json_string(b);
}

static json_t *
time_json(proto_time_t t)
{
	char		b[64];

	if (t == 0)
		return json_null();
	tide_time_text(b, sizeof(b), t);
	return json_string(b);
}

static const char *
time_str(proto_time_t t, char *b, size_t n)
{
	if (t == 0)
		return "-";
	tide_time_text(b, n, t);
	return b;
}

/* problem - something needs a human: listed under "status" (text) or "problems" (--json) */
static void
problem(status_t *st, const char *fmt,...) __attribute__((format(printf, 2, 3)));

static void
problem(status_t *st, const char *fmt,...)
{
	char		buf[2048];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(st->problems, json_string(buf));
}

/*
 * masked - a connection string for display: host, port, dbname and user
 * as libpq parsed them, never a password or any other option (a secret
 * may hide in several: password, sslpassword, a URI's userinfo).
 */
static void
masked(const char *conninfo, char *out, size_t len)
{
	PQconninfoOption *ci = PQconninfoParse(conninfo, NULL);
	size_t		n = 0;

	out[0] = '\0';
	for (PQconninfoOption *c = ci; c && c->keyword; c++)
	{
		if ((strcmp(c->keyword, "host") == 0 || strcmp(c->keyword, "port") == 0 ||
			 strcmp(c->keyword, "dbname") == 0 || strcmp(c->keyword, "user") == 0) &&
			c->val && c->val[0] && n < len)
			n += (size_t) snprintf(out + n, len - n, "%s%s=%s", n ? " " : "", c->keyword, c->val);
		else if (strcmp(c->keyword, "password") == 0 && c->val && c->val[0] && n < len)
			n += (size_t) snprintf(out + n, len - n, "%spassword=********", n ? " " : "");
	}
	PQconninfoFree(ci);
	if (ci == NULL)
		snprintf(out, len, "(a connection string libpq cannot parse)");
	else if (out[0] == '\0')
		snprintf(out, len, "(PG* environment)");
}

/* url_masked - a store URL without userinfo (http://user:secret@host/...) */
static void
url_masked(const char *url, char *out, size_t len)
{
	const char *scheme = strstr(url, "://");
	const char *at;
	const char *slash;

	snprintf(out, len, "%s", url);
	if (scheme == NULL)
		return;
	slash = strchr(scheme + 3, '/');
	at = strchr(scheme + 3, '@');
	if (at && (slash == NULL || at < slash))
		snprintf(out, len, "%.*s***@%s", (int) (scheme + 3 - url), url, at + 1);
}

static PGconn *
connect_to(const char *conninfo, const char *what, int fail_code, int *rc)
{
	const char *keys[] = {"dbname", "application_name", "connect_timeout", NULL};
	const char *vals[] = {conninfo, "tide status", "10", NULL};
	PGconn	   *c = PQconnectdbParams(keys, vals, 1);
	char		m[512];

	*rc = 0;
	if (PQstatus(c) != CONNECTION_OK || tide_pin_session(c) != 0)
	{
		masked(conninfo, m, sizeof(m));
		tide_log_error("could not connect to the %s (%s): %s", what, m, PQerrorMessage(c));
		PQfinish(c);
		*rc = fail_code;
		return NULL;
	}
	return c;
}

/* ------------------------------------------------------------ the store */

static int
store_exit_code(store_t *s, int rc)
{
	if (rc <= TIDE__EBASE)
		return TIDE_EXIT_CORRUPT;
	return store_kind(s) == STORE_LOCAL ? TIDE_EXIT_IO : TIDE_EXIT_STORE;
}

/*
 * look_at_store - segments (the open one of a directory scanned to its last
 * whole transaction), chain check, bases.  0 or an exit code (logged).
 */
static int
look_at_store(const status_opts_t *o, store_t *s, status_t *st)
{
	store_seglist_t l = {0};
	store_chain_problem_t pr;
	store_base_t *bases = NULL;
	size_t		nbases = 0;
	json_t	   *js = json_object();
	uint64_t	bytes = 0;
	size_t		closed = 0;
	const char *open_name = NULL;
	char		shown[4200];
	int			rc;

	json_object_set_new(st->root, "store", js);
	url_masked(o->store, shown, sizeof(shown));
	json_object_set_new(js, "url", json_string(shown));
	if ((rc = store_segments(s, &l, NULL, NULL)) != 0)
	{
		tide_log_error("could not read the segments of \"%s\": %s", shown, store_errmsg(s));
		return store_exit_code(s, rc);
	}
	st->nsegs = l.n;
	for (size_t i = 0; i < l.n; i++)
	{
		store_segment_t *g = &l.v[i];
		proto_lsn_t end = g->end_lsn;
		proto_time_t last = g->txns ? g->last_time : 0;

		bytes += g->size;
		if (g->partial)
		{
			char		path[4200];
			struct stat sb;

			open_name = g->name;
			if (store_local_path(s, g->name, path, sizeof(path)) == 0)
			{
				seg_reader_t r;
				segstats_t	ss;
				segdir_scan_t scan = {0};
				uint64_t	at = 0;

				segstats_init(&ss);
				if (seg_reader_open(&r, path, &at) == 0)
				{
					/* a torn tail of an open segment is expected: complete up to its whole part */
					segdir_scan_file(&r, &ss, &scan, false);
					if (scan.covered > end)
						end = scan.covered;
					if (ss.ntxns)
						last = ss.last_time;
				}
				seg_reader_close(&r);
				segdir_scan_free(&scan);
				segstats_free(&ss);
				if (stat(path, &sb) == 0)
				{
					proto_time_t m = ((int64_t) sb.st_mtim.tv_sec - INT64_C(946684800)) * USECS +
						sb.st_mtim.tv_nsec / 1000;

					if (m > st->last_write)
						st->last_write = m;
				}
			}
		}
		else
		{
			char		path[4200];
			struct stat sb;

			closed++;
			if (store_kind(s) == STORE_LOCAL &&
				store_local_path(s, g->name, path, sizeof(path)) == 0 && stat(path, &sb) == 0)
			{
				proto_time_t m = ((int64_t) sb.st_mtim.tv_sec - INT64_C(946684800)) * USECS +
					sb.st_mtim.tv_nsec / 1000;

				if (m > st->last_write)
					st->last_write = m;
			}
		}
		if (end > st->end)
			st->end = end;
		if (last > st->last_time)
			st->last_time = last;
	}
	if (store_kind(s) != STORE_LOCAL)
		st->last_write = st->last_time;	/* an index knows no mtimes */
	if (l.n > 0)
	{
		snprintf(st->slot, sizeof(st->slot), "%s", l.v[0].slot);
		snprintf(st->dbname, sizeof(st->dbname), "%s", l.v[0].dbname);
		st->system_id = l.v[0].system_id;
	}
	json_object_set_new(js, "segments", json_integer((json_int_t) l.n));
	json_object_set_new(js, "closed_segments", json_integer((json_int_t) closed));
	json_object_set_new(js, "bytes", json_integer((json_int_t) bytes));
	json_object_set_new(js, "open_segment", open_name ? json_string(open_name) : json_null());
	json_object_set_new(js, "end_lsn", l.n ? lsn_json(st->end) : json_null());
	json_object_set_new(js, "end_lsn_bytes", json_integer((json_int_t) st->end));
	json_object_set_new(js, "last_commit_time", time_json(st->last_time));
	json_object_set_new(js, "start_lsn", l.n ? lsn_json(l.v[0].start_lsn) : json_null());
	json_object_set_new(js, "oldest_bucket_start", l.n ? time_json(l.v[0].bucket_start) : json_null());
	json_object_set_new(js, "oldest_commit_time", time_json(l.n ? l.v[0].first_time : 0));
	json_object_set_new(js, "slot", l.n ? json_string(st->slot) : json_null());
	json_object_set_new(js, "system_identifier", l.n ? json_string("") : json_null());
	if (l.n)
	{
		char		sys[32];

		snprintf(sys, sizeof(sys), "%llu", (unsigned long long) st->system_id);
		json_object_set_new(js, "system_identifier", json_string(sys));
	}
	/* invariant 9: a history with a hole is a problem, whatever else is fine */
	if (l.n > 1 && store_seglist_check(&l, &pr) != 0)
	{
		char		why[2048];

		store_chain_describe(&l, &pr, why, sizeof(why));
		json_object_set_new(js, "gap", json_string(why));
		problem(st, "%s", why);
	}
	else
		json_object_set_new(js, "gap", json_null());
	store_seglist_free(&l);

	if ((rc = store_bases(s, &bases, &nbases)) != 0)
	{
		tide_log_error("could not read the bases of \"%s\": %s", shown, store_errmsg(s));
		return store_exit_code(s, rc);
	}
	json_object_set_new(js, "bases", json_integer((json_int_t) nbases));
	if (nbases > 0)
	{
		json_t	   *b = json_object();

		json_object_set_new(b, "name", json_string(bases[nbases - 1].name));
		json_object_set_new(b, "consistent_point", lsn_json(bases[nbases - 1].manifest.consistent_point));
		json_object_set_new(b, "finished", time_json(bases[nbases - 1].manifest.end_time));
		json_object_set_new(js, "newest_base", b);
	}
	else
		json_object_set_new(js, "newest_base", json_null());
	store_bases_free(bases, nbases);
	return 0;
}

/* ------------------------------------------------------------ the source */

static int
look_at_source(const status_opts_t *o, status_t *st)
{
	json_t	   *js = json_object();
	json_t	   *slot = json_object();
	char		m[512];
	char		sql[1024];
	char	   *lit;
	PGconn	   *c;
	PGresult   *r;
	int			rc;
	bool		v17;
	proto_lsn_t cur = 0;

	json_object_set_new(st->root, "source", js);
	masked(o->source, m, sizeof(m));
	json_object_set_new(js, "conninfo", json_string(m));
	if ((c = connect_to(o->source, "source", TIDE_EXIT_SOURCE, &rc)) == NULL)
		return rc;
	v17 = PQserverVersion(c) >= 170000;
	r = PQexec(c, "SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn() "
			   "ELSE pg_catalog.pg_current_wal_lsn() END");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
	{
		tide_log_error("could not read the source's WAL position: %s", PQerrorMessage(c));
		PQclear(r);
		PQfinish(c);
		return TIDE_EXIT_SOURCE;
	}
	tide_parse_lsn(PQgetvalue(r, 0, 0), &cur);
	PQclear(r);
	json_object_set_new(js, "current_lsn", lsn_json(cur));
	json_object_set_new(js, "current_lsn_bytes", json_integer((json_int_t) cur));
	json_object_set_new(js, "slot", slot);
	if (st->slot[0] == '\0')
	{
		json_object_set_new(slot, "name", json_null());
		json_object_set_new(js, "lag_bytes", json_null());
		PQfinish(c);
		return 0;				/* no segment names one yet */
	}
	json_object_set_new(slot, "name", json_string(st->slot));
	lit = PQescapeLiteral(c, st->slot, strlen(st->slot));
	snprintf(sql, sizeof(sql),
			 "SELECT active, active_pid, "
			 "pg_catalog.pg_wal_lsn_diff(CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn() "
			 "ELSE pg_catalog.pg_current_wal_lsn() END, restart_lsn)::bigint, "
			 "safe_wal_size, pg_catalog.age(catalog_xmin), wal_status, confirmed_flush_lsn, "
			 "%s FROM pg_catalog.pg_replication_slots WHERE slot_name = %s",
			 v17 ? "extract(epoch FROM pg_catalog.now() - inactive_since)::float8" : "NULL::float8",
			 lit ? lit : "NULL");
	PQfreemem(lit);
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
	{
		tide_log_error("could not read replication slot \"%s\": %s", st->slot, PQerrorMessage(c));
		PQclear(r);
		PQfinish(c);
		return TIDE_EXIT_SOURCE;
	}
	json_object_set_new(js, "lag_bytes", json_integer(cur > st->end ? (json_int_t) (cur - st->end) : 0));
	if (o->max_lag_bytes >= 0 && cur > st->end && (int64_t) (cur - st->end) > o->max_lag_bytes)
		problem(st, "the store is %llu bytes of WAL behind the source (more than --max-lag-bytes %lld)",
				(unsigned long long) (cur - st->end), (long long) o->max_lag_bytes);
	if (PQntuples(r) == 0)
	{
		json_object_set_new(slot, "exists", json_false());
		problem(st, "replication slot \"%s\" that the segments name does not exist on the source", st->slot);
	}
	else
	{
		bool		active = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
		double		inactive = -1;

		json_object_set_new(slot, "exists", json_true());
		json_object_set_new(slot, "active", json_boolean(active));
		json_object_set_new(slot, "active_pid", PQgetisnull(r, 0, 1) ? json_null() :
							json_integer(strtoll(PQgetvalue(r, 0, 1), NULL, 10)));
		json_object_set_new(slot, "retained_wal_bytes", PQgetisnull(r, 0, 2) ? json_null() :
							json_integer(strtoll(PQgetvalue(r, 0, 2), NULL, 10)));
		json_object_set_new(slot, "safe_wal_size_bytes", PQgetisnull(r, 0, 3) ? json_null() :
							json_integer(strtoll(PQgetvalue(r, 0, 3), NULL, 10)));
		json_object_set_new(slot, "catalog_xmin_age", PQgetisnull(r, 0, 4) ? json_null() :
							json_integer(strtoll(PQgetvalue(r, 0, 4), NULL, 10)));
		json_object_set_new(slot, "wal_status", PQgetisnull(r, 0, 5) ? json_null() :
							json_string(PQgetvalue(r, 0, 5)));
		json_object_set_new(slot, "confirmed_flush_lsn", PQgetisnull(r, 0, 6) ? json_null() :
							json_string(PQgetvalue(r, 0, 6)));
		if (!active)
		{
			if (!PQgetisnull(r, 0, 7))
				inactive = strtod(PQgetvalue(r, 0, 7), NULL);
			else if (st->last_write)
				inactive = (double) (tide_now() - st->last_write) / 1e6;
			if (inactive < 0)
				inactive = 0;
		}
		json_object_set_new(slot, "inactive_seconds", active ? json_null() : json_real(inactive));
		if (!PQgetisnull(r, 0, 5) && strcmp(PQgetvalue(r, 0, 5), "lost") == 0)
			problem(st, "replication slot \"%s\" is lost: the source removed WAL it needed", st->slot);
		if (!active && o->max_inactive >= 0 && inactive * 1e6 > (double) o->max_inactive)
		{
			char		d[32];

			tide_format_duration(o->max_inactive, d, sizeof(d));
			problem(st, "replication slot \"%s\" has been inactive for %.0f s (more than --max-inactive %s): is tide stream running?",
					st->slot, inactive, d);
		}
	}
	PQclear(r);
	PQfinish(c);
	return 0;
}

/* ------------------------------------------------------------ the replica */

static int
look_at_replica(const status_opts_t *o, status_t *st)
{
	json_t	   *js = json_object();
	char		m[512];
	char		sql[1024];
	char		sys[32];
	char	   *lslot;
	char	   *ldb;
	PGconn	   *c;
	PGresult   *r;
	int			rc;

	json_object_set_new(st->root, "replica", js);
	masked(o->replica, m, sizeof(m));
	json_object_set_new(js, "conninfo", json_string(m));
	if ((c = connect_to(o->replica, "replica", TIDE_EXIT_REPLICA, &rc)) == NULL)
		return rc;
	if (st->slot[0] == '\0')
	{
		json_object_set_new(js, "progress", json_null());
		PQfinish(c);
		return 0;
	}
	snprintf(sys, sizeof(sys), "%llu", (unsigned long long) st->system_id);
	lslot = PQescapeLiteral(c, st->slot, strlen(st->slot));
	ldb = PQescapeLiteral(c, st->dbname, strlen(st->dbname));
	snprintf(sql, sizeof(sql),
			 "SELECT end_lsn, (extract(epoch FROM commit_time) * 1000000)::bigint, "
			 "(extract(epoch FROM updated_at) * 1000000)::bigint "
			 "FROM tide.progress WHERE system_id = %s AND slot = %s AND (%s = '' OR dbname = %s)",
			 sys, lslot ? lslot : "NULL", ldb ? ldb : "''", ldb ? ldb : "''");
	PQfreemem(lslot);
	PQfreemem(ldb);
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
	{
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

		if (state && strcmp(state, "42P01") == 0)	/* undefined_table */
		{
			json_object_set_new(js, "progress", json_null());
			problem(st, "the replica has no tide.progress: tide apply has never run there");
			PQclear(r);
			PQfinish(c);
			return 0;
		}
		tide_log_error("could not read tide.progress on the replica: %s", PQerrorMessage(c));
		PQclear(r);
		PQfinish(c);
		return TIDE_EXIT_REPLICA;
	}
	if (PQntuples(r) == 0)
	{
		json_object_set_new(js, "progress", json_null());
		problem(st, "the replica has no progress for system %s, slot \"%s\": tide apply has not applied this source there",
				sys, st->slot);
	}
	else
	{
		json_t	   *p = json_object();
		proto_lsn_t end = 0;
		int64_t		commit = PQgetisnull(r, 0, 1) ? 0 :
			strtoll(PQgetvalue(r, 0, 1), NULL, 10) - INT64_C(946684800) * USECS;
		int64_t		updated = strtoll(PQgetvalue(r, 0, 2), NULL, 10) - INT64_C(946684800) * USECS;
		bool		has_newest;
		uint64_t	lag_bytes;
		double		lag_secs;

		tide_parse_lsn(PQgetvalue(r, 0, 0), &end);
		json_object_set_new(p, "end_lsn", lsn_json(end));
		json_object_set_new(p, "end_lsn_bytes", json_integer((json_int_t) end));
		json_object_set_new(p, "commit_time", time_json(PQgetisnull(r, 0, 1) ? 0 : commit));
		json_object_set_new(p, "updated_at", time_json(updated));
		json_object_set_new(js, "progress", p);

		/*
		 * The store's end may lie past its last transaction (a quiet source's
		 * keepalives), so "caught up" means the replica has its newest
		 * commit; then the lag is 0, else measured to the store's end.
		 */
		has_newest = st->last_time == 0 || (commit >= st->last_time && end > 0);
		lag_bytes = has_newest || end >= st->end ? 0 : st->end - end;
		lag_secs = has_newest ? 0 : (double) (st->last_time - commit) / 1e6;
		json_object_set_new(js, "lag_bytes", json_integer((json_int_t) lag_bytes));
		json_object_set_new(js, "lag_seconds", json_real(lag_secs));
		if (o->max_lag_bytes >= 0 && lag_bytes > (uint64_t) o->max_lag_bytes)
			problem(st, "the replica is %llu bytes behind the store (more than --max-lag-bytes %lld)",
					(unsigned long long) lag_bytes, (long long) o->max_lag_bytes);
		if (o->max_lag >= 0 && lag_secs * 1e6 > (double) o->max_lag)
		{
			char		d[32];

			tide_format_duration(o->max_lag, d, sizeof(d));
			problem(st, "the replica's last applied commit is %.1f s older than the store's newest (more than --max-lag %s)",
					lag_secs, d);
		}
	}
	PQclear(r);
	PQfinish(c);
	return 0;
}

/* ------------------------------------------------------------ output */

static const char *
jstr(json_t *o, const char *path1, const char *path2)
{
	json_t	   *v = json_object_get(o, path1);

	if (v && path2)
		v = json_object_get(v, path2);
	if (v == NULL || json_is_null(v))
		return "-";
	if (json_is_string(v))
		return json_string_value(v);
	return "?";
}

static void
print_text(const status_opts_t *o, status_t *st)
{
	json_t	   *s = json_object_get(st->root, "store");
	json_t	   *src = json_object_get(st->root, "source");
	json_t	   *rep = json_object_get(st->root, "replica");
	char		t[64];

	(void) o;
	printf("store      %s\n", jstr(s, "url", NULL));
	printf("  durable end      %s (last commit %s)\n", jstr(s, "end_lsn", NULL),
		   time_str(st->last_time, t, sizeof(t)));
	printf("  segments         %lld (%lld closed, open: %s), %lld bytes\n",
		   (long long) json_integer_value(json_object_get(s, "segments")),
		   (long long) json_integer_value(json_object_get(s, "closed_segments")),
		   jstr(s, "open_segment", NULL),
		   (long long) json_integer_value(json_object_get(s, "bytes")));
	printf("  retention window from %s (bucket %s, first commit %s)\n", jstr(s, "start_lsn", NULL),
		   jstr(s, "oldest_bucket_start", NULL), jstr(s, "oldest_commit_time", NULL));
	printf("  newest base      %s (consistent point %s)\n", jstr(s, "newest_base", "name"),
		   jstr(s, "newest_base", "consistent_point"));
	printf("  gap              %s\n", jstr(s, "gap", NULL));
	printf("  slot             %s\n", jstr(s, "slot", NULL));
	if (src)
	{
		json_t	   *sl = json_object_get(src, "slot");

		printf("source     %s\n", jstr(src, "conninfo", NULL));
		printf("  current LSN      %s\n", jstr(src, "current_lsn", NULL));
		printf("  lag to store     %lld bytes\n", (long long) json_integer_value(json_object_get(src, "lag_bytes")));
		if (sl && json_is_true(json_object_get(sl, "exists")))
		{
			json_t	   *ina = json_object_get(sl, "inactive_seconds");

			printf("  slot \"%s\"      %s", jstr(sl, "name", NULL),
				   json_is_true(json_object_get(sl, "active")) ? "active" : "inactive");
			if (json_is_real(ina))
				printf(" for %.0f s", json_real_value(ina));
			printf(", retained WAL %lld bytes, catalog_xmin age %lld, wal_status %s\n",
				   (long long) json_integer_value(json_object_get(sl, "retained_wal_bytes")),
				   (long long) json_integer_value(json_object_get(sl, "catalog_xmin_age")),
				   jstr(sl, "wal_status", NULL));
			if (json_is_integer(json_object_get(sl, "safe_wal_size_bytes")))
				printf("  safe_wal_size    %lld bytes\n",
					   (long long) json_integer_value(json_object_get(sl, "safe_wal_size_bytes")));
			else
				printf("  safe_wal_size    unlimited (max_slot_wal_keep_size = -1)\n");
		}
		else if (sl && json_object_get(sl, "exists"))
			printf("  slot \"%s\"      MISSING\n", jstr(sl, "name", NULL));
	}
	if (rep)
	{
		printf("replica    %s\n", jstr(rep, "conninfo", NULL));
		if (json_is_object(json_object_get(rep, "progress")))
		{
			printf("  applied to       %s (commit %s, updated %s)\n",
				   jstr(rep, "progress", "end_lsn"), jstr(rep, "progress", "commit_time"),
				   jstr(rep, "progress", "updated_at"));
			printf("  lag from store   %lld bytes, %.1f s\n",
				   (long long) json_integer_value(json_object_get(rep, "lag_bytes")),
				   json_real_value(json_object_get(rep, "lag_seconds")));
		}
		else
			printf("  applied to       - (no progress for this source)\n");
	}
	if (json_array_size(st->problems) == 0)
		printf("status     ok\n");
	else
	{
		printf("status     ATTENTION\n");
		for (size_t i = 0; i < json_array_size(st->problems); i++)
			printf("  - %s\n", json_string_value(json_array_get(st->problems, i)));
	}
}

int
tide_cmd_status(int argc, char **argv)
{
	status_opts_t o;
	status_t	st;
	store_t    *s = NULL;
	char		err[STORE_ERRLEN];
	int			rc;

	if ((rc = parse_status_opts(argc, argv, &o)) != 0)
		return rc < 0 ? TIDE_EXIT_OK : rc;
	memset(&st, 0, sizeof(st));
	st.root = json_object();
	st.problems = json_array();
	json_object_set_new(st.root, "problems", st.problems);
	if ((rc = store_open(o.store, NULL, &s, err)) != 0)
	{
		tide_log_error("%s", err);
		json_decref(st.root);
		if (rc == -EINVAL)
			return TIDE_EXIT_USAGE;
		return strstr(o.store, "://") && strncmp(o.store, "file://", 7) ? TIDE_EXIT_STORE : TIDE_EXIT_IO;
	}
	rc = look_at_store(&o, s, &st);
	store_close(s);
	if (rc == 0 && o.source)
		rc = look_at_source(&o, &st);
	if (rc == 0 && o.replica)
		rc = look_at_replica(&o, &st);
	if (rc != 0)
	{
		json_decref(st.root);
		return rc;
	}
	json_object_set_new(st.root, "status",
						json_string(json_array_size(st.problems) ? "attention" : "ok"));
	if (o.json)
	{
		char	   *text = json_dumps(st.root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		if (text)
			printf("%s\n", text);
		free(text);
	}
	else
		print_text(&o, &st);
	rc = json_array_size(st.problems) ? TIDE_EXIT_ATTENTION : TIDE_EXIT_OK;
	json_decref(st.root);
	return rc;
}
