/*
 * streamer/base.c
 *		`tide base`: a consistent pg_dump in a snapshot whose position in
 *		the slot's history is known: the start of a new slot's history, or
 *		a point in a live one.
 *
 * CREATE_REPLICATION_SLOT ... (SNAPSHOT 'export') returns the slot's
 * consistent point and the name of a snapshot that sees exactly the
 * transactions committed before it.  The snapshot lives until the next
 * command on the replication connection, so the connection stays idle while
 * pg_dump --snapshot runs; every transaction the dump does not see is
 * decoded by the slot, so `tide stream` on the slot afterwards writes
 * segments that start where the dump ends: base + segments are one history.
 *
 * The dump is written to DIR/base/<start>.partial, then manifest.json
 * beside it, everything fsynced, and renamed to its final name: a base
 * without ".partial" is complete.  A failed pg_dump removes the partial
 * directory and drops the slot again, so a retry starts clean.
 *
 * The dump and its manifest are owner-only (umask 077: directories 0700,
 * files 0600), as PostgreSQL's data directory is: a base holds every row.
 * pg_dump gets the connection string without its password, which goes to a
 * private passfile instead of argv (where `ps` shows it to every user).
 *
 * Inside the exported snapshot, a second (ordinary) session reads what a
 * restore will need (the roles the database's objects name, the extensions)
 * and the source's own clock, an upper bound of every commit time the base
 * holds; the manifest records them for `tide bootstrap`'s checks.
 *
 * Every session pins search_path to '' first and schema-qualifies the rest.
 *
 * A base can also join a live history: when the slot exists and the
 * directory holds its segments, the snapshot comes from a second,
 * temporary slot instead (tide_cmd_base says why that is consistent), the
 * streamer keeps its slot, and retention later lets older bases and the
 * history only they needed go.
 *
 * The manifest is written with store/'s JSON writer (the one reader of it
 * is store/'s too), and the finished base is added to the directory's
 * index.json.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "tide/cmdline.h"
#include "tide/common.h"
#include "tide/pgtools.h"
#include "tide/store.h"
#include "base.h"
#include "source.h"

#define LSN_FMT "%X/%X"
#define LSN_ARGS(l) (unsigned) ((uint64_t) (l) >> 32), (unsigned) (l)
#define PG_EPOCH_UNIX INT64_C(946684800)


/* ------------------------------------------------------------- helpers */

/* one_line - a libpq message without its trailing newline (static buffer) */
static const char *
one_line(PGconn *c)
{
	static char buf[1024];
	const char *m = c ? PQerrorMessage(c) : "out of memory";
	size_t		n;

	snprintf(buf, sizeof(buf), "%s", m);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf;
}

/* ------------------------------------------------------------- command */

static void
base_usage(FILE *f)
{
	fprintf(f,
			"Usage: tide base -d CONNINFO -S SLOT -D DIR [OPTIONS]\n\n"
			"Take a base dump of the database with pg_dump (directory format) into\n"
			"DIR/base/<UTC time>/ with a manifest.json recording its point in the slot's\n"
			"history, and add it to DIR/index.json.  `tide bootstrap` builds a replica\n"
			"from a base and the segments after it.\n\n"
			"When SLOT does not exist, it is created (plugin tide) with an exported\n"
			"snapshot and the dump runs in it: the base starts the slot's history, and\n"
			"`tide stream -S SLOT -D DIR` continues exactly where the dump ends (DIR must\n"
			"hold no segments).  When SLOT exists and DIR holds its history (tide\n"
			"stream may be running), the dump runs in the snapshot of a second,\n"
			"temporary slot, whose consistent point is the base's: base and segments\n"
			"are still one history, with nothing missing or twice (README.md, \"A new\n"
			"base while the stream runs\").\n\n"
			"Connection options (PG* variables apply; the user needs REPLICATION):\n");
	tide_conn_usage(f, "the source", 26);
	fprintf(f,
			"\nOptions:\n"
			"  -S, --slot=SLOT         replication slot: created, or joined (see above)\n"
			"  -D, --directory=DIR     segment directory (created if missing)\n"
			"  -j, --jobs=N            parallel pg_dump jobs (default 1)\n"
			"  -q, --quiet             only warnings and errors\n");
	tide_std_usage(f, 26);
	fprintf(f,
			"\nExit codes: 0 done, 2 bad arguments (DIR holds another history), 3 source\n"
			"connection, slot or pg_dump problem (a slot this run created is dropped\n"
			"again), 5 DIR's history does not reach back to the new base's point,\n"
			"6 local I/O error.\n");
}

static int
parse_args(base_opts_t *o, tide_conn_opts_t *conn, int argc, char **argv)
{
	static const struct option opts[] = {
		TIDE_CONN_LONGOPTS,
		TIDE_STD_LONGOPTS,
		{"slot", required_argument, NULL, 'S'},
		{"directory", required_argument, NULL, 'D'},
		{"jobs", required_argument, NULL, 'j'},
		{"quiet", no_argument, NULL, 'q'},
		{NULL, 0, NULL, 0}
	};
	int			c;
	int			rc;

	memset(o, 0, sizeof(*o));
	o->jobs = 1;
	optind = 1;
	while ((c = tide_getopt(argc, argv, TIDE_CONN_SHORTOPTS "S:D:j:q", opts)) != -1)
	{
		if (tide_conn_opt(conn, c, optarg))
			continue;
		switch (c)
		{
			case 'S':
				o->slot = optarg;
				break;
			case 'D':
				o->dir = optarg;
				break;
			case 'j':
				{
					int64_t		v;

					if ((rc = tide_opt_int("--jobs", optarg, 1, 256, &v)) != 0)
						return rc;
					o->jobs = (int) v;
					break;
				}
			case 'q':
				tide_log_quiet = 1;
				break;
			default:
				return tide_opt_std(c, "base", base_usage);
		}
	}
	if (optind != argc || o->slot == NULL || o->dir == NULL)
	{
		tide_log_error("tide base needs -S SLOT and -D DIR%s", optind != argc ? " and no other arguments" : "");
		base_usage(stderr);
		return TIDE_EXIT_USAGE;
	}
	if (strlen(o->slot) > 63)
	{
		tide_log_error("slot name \"%s\" is too long", o->slot);
		return TIDE_EXIT_USAGE;
	}
	/* -d with -h, -p, -U over it; what none gives: PG* variables */
	if ((rc = tide_conn_finish(conn, "the source")) != 0)
		return rc;
	o->conninfo = conn->conninfo;
	return 0;
}


/*
 * prepare_dir - DIR exists, owner-only if tide creates it (invariant 8),
 * and opens as a store.
 */
static int
prepare_dir(const char *dir, store_t **s)
{
	char		err[STORE_ERRLEN];

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
	{
		tide_log_error("could not create segment directory \"%s\": %s", dir, strerror(errno));
		return TIDE_EXIT_IO;
	}
	if (store_open(dir, NULL, s, err) != 0)
	{
		tide_log_error("%s", err);
		return TIDE_EXIT_IO;
	}
	if (store_kind(*s) != STORE_LOCAL)
	{
		tide_log_error("tide base writes into a directory, not \"%s\"", dir);
		tide_log_hint("take the base into the directory tide stream writes; tide stream --publish or tide publish copy it to the store");
		store_close(*s);
		*s = NULL;
		return TIDE_EXIT_USAGE;
	}
	return 0;
}

/* dump_version - "pg_dump (PostgreSQL) 15.4", or "" */
static void
dump_version(const char *pg_dump, char *out, size_t len)
{
	char	   *argv[] = {(char *) pg_dump, "--version", NULL};
	char	   *text = NULL;

	out[0] = '\0';
	if (tide_run_tool(argv, 1, &text) == 0 && text)
	{
		text[strcspn(text, "\n")] = '\0';
		snprintf(out, len, "%s", text);
	}
	free(text);
}

/* sync_files - fsync every file of the pg_dump directory `rel` in s, then the directory */
static int
sync_files(store_t *s, const char *rel)
{
	store_list_t l;
	char		prefix[4200];
	char		path[4400];
	int			rc;

	snprintf(prefix, sizeof(prefix), "%s/", rel);
	if ((rc = store_list(s, prefix, &l)) != 0)
		return rc;
	for (size_t i = 0; i < l.n && rc == 0; i++)
	{
		store_local_path(s, l.v[i].name, path, sizeof(path));
		rc = tide_fsync_path(path);
	}
	store_list_free(&l);
	if (rc == 0)
	{
		store_local_path(s, rel, path, sizeof(path));
		rc = tide_fsync_path(path);
	}
	return rc;
}

/* drop_slot - undo CREATE_REPLICATION_SLOT after a failed dump */
static void
drop_slot(PGconn *conn, const char *slot)
{
	char	   *id = PQescapeIdentifier(conn, slot, strlen(slot));
	char		sql[256];
	PGresult   *r;

	if (id == NULL)
	{
		tide_log_warning("could not drop replication slot \"%s\": %s", slot, one_line(conn));
		tide_log_hint("drop it before a new attempt: SELECT pg_drop_replication_slot('%s')", slot);
		return;
	}
	snprintf(sql, sizeof(sql), "DROP_REPLICATION_SLOT %s", id);
	PQfreemem(id);
	r = PQexec(conn, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
	{
		tide_log_warning("could not drop replication slot \"%s\": %s", slot, one_line(conn));
		tide_log_hint("drop it before a new attempt: SELECT pg_drop_replication_slot('%s')", slot);
	}
	else
		tide_log_info("dropped replication slot \"%s\" again", slot);
	PQclear(r);
}

/* add - append a copy of s to a growing array */
static void
add(char ***v, int *n, const char *s)
{
	char	  **grown = realloc(*v, sizeof(char *) * (*n + 1));
	char	   *copy = strdup(s);

	if (grown == NULL || copy == NULL)
	{
		tide_log_error("out of memory");
		exit(TIDE_EXIT_BUG);
	}
	*v = grown;
	(*v)[(*n)++] = copy;
}

/*
 * snapshot_facts - in a second, ordinary session that imports the dump's
 * snapshot: the source's clock (every commit the dump sees has a commit
 * time at or before it, whatever this host's clock says), the roles the
 * database's objects name (owners, grantees, policy roles, user mappings:
 * pg_shdepend) and its extensions, for bootstrap's checks.
 */
static int
snapshot_facts(const base_opts_t *o, store_manifest_t *m)
{
	PGconn	   *c = stream_connect_source(o->conninfo, o->host, o->port, o->user, false, "tide base");
	PGresult   *r = NULL;
	char		sql[256];
	char	   *lit;
	int			rc = TIDE_EXIT_SOURCE;

	if (PQstatus(c) != CONNECTION_OK || tide_pin_session(c) != 0)
	{
		tide_log_error("could not open a session in the base's snapshot: %s", one_line(c));
		goto out;
	}
	r = PQexec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		goto failed;
	PQclear(r);
	lit = PQescapeLiteral(c, m->snapshot, strlen(m->snapshot));
	snprintf(sql, sizeof(sql), "SET TRANSACTION SNAPSHOT %s", lit ? lit : "''");
	PQfreemem(lit);
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		goto failed;
	PQclear(r);

	/* TimeZone is UTC and DateStyle ISO: "2026-11-20 13:00:00.123456+00" */
	r = PQexec(c, "SELECT CAST(pg_catalog.clock_timestamp() AS pg_catalog.text)");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 ||
		tide_parse_time(PQgetvalue(r, 0, 0), &m->source_time) != 0)
		goto failed;
	PQclear(r);

	/* 1260 pg_authid, 1418 pg_user_mapping */
	r = PQexec(c, "SELECT a.rolname, pg_catalog.bool_or(d.deptype OPERATOR(pg_catalog.=) 'r' "
			   "OR d.classid OPERATOR(pg_catalog.=) 1418) "
			   "FROM pg_catalog.pg_shdepend d "
			   "JOIN pg_catalog.pg_roles a ON a.oid OPERATOR(pg_catalog.=) d.refobjid "
			   "WHERE d.refclassid OPERATOR(pg_catalog.=) 1260 "
			   "AND d.dbid OPERATOR(pg_catalog.=) (SELECT b.oid FROM pg_catalog.pg_database b "
			   "  WHERE b.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()) "
			   "GROUP BY a.rolname ORDER BY a.rolname");
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		goto failed;
	for (int i = 0; i < PQntuples(r); i++)
	{
		add(&m->roles, &m->nroles, PQgetvalue(r, i, 0));
		if (strcmp(PQgetvalue(r, i, 1), "t") == 0)
			add(&m->roles_no_acl, &m->nroles_no_acl, PQgetvalue(r, i, 0));
	}
	PQclear(r);
	r = PQexec(c, "SELECT e.extname, e.extversion FROM pg_catalog.pg_extension e ORDER BY e.extname");
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		goto failed;
	for (int i = 0; i < PQntuples(r); i++)
	{
		int			n = m->nexts;

		add(&m->exts, &m->nexts, PQgetvalue(r, i, 0));
		add(&m->ext_versions, &n, PQgetvalue(r, i, 1));
	}
	m->recorded = true;
	rc = 0;
	goto out;

failed:
	tide_log_error("could not read the source in the base's snapshot: %s", one_line(c));
out:
	PQclear(r);
	PQfinish(c);
	return rc;
}

/* on_index_event - what indexing the directory found worth saying */
static void
on_index_event(void *arg, const store_event_t *e)
{
	(void) arg;
	if (e->kind == STORE_EV_WARNING || e->kind == STORE_EV_UNINDEXED)
		tide_log_warning("%s", e->text);
}

/*
 * history_of - where the directory's history starts (*first, its first
 * segment's start) and ends (*end), 0 when it has no segment; *ours is
 * false when a segment is of another source, timeline or slot (its name
 * into other_name).
 */
static int
history_of(store_t *s, const char *dir, uint64_t sysid, uint32_t timeline, const char *slot,
		   proto_lsn_t *first, proto_lsn_t *end, bool *ours, char *other_name, size_t len,
		   store_segment_t *other)
{
	store_seglist_t l = {0};
	int			rc;

	*first = *end = 0;
	*ours = true;
	other_name[0] = '\0';
	if ((rc = store_segments(s, &l, NULL, NULL)) != 0)
	{
		tide_log_error("could not read the segments of \"%s\": %s", dir, store_errmsg(s));
		return rc <= TIDE__EBASE ? TIDE_EXIT_CORRUPT : TIDE_EXIT_IO;
	}
	for (size_t i = 0; i < l.n; i++)
	{
		const store_segment_t *g = &l.v[i];

		if (i == 0)
		{
			*first = g->start_lsn;
			snprintf(other_name, len, "%s", g->name);
		}
		if (*ours && (g->system_id != sysid || g->timeline != timeline || strcmp(g->slot, slot) != 0))
		{
			*ours = false;
			snprintf(other_name, len, "%s", g->name);
			*other = *g;
		}
		if (g->end_lsn > *end)
			*end = g->end_lsn;
	}
	store_seglist_free(&l);
	return 0;
}

/*
 * create_slot - CREATE_REPLICATION_SLOT name [TEMPORARY] LOGICAL tide
 * (SNAPSHOT 'export'): its consistent point and the exported snapshot
 * into m.  The snapshot lives while conn stays idle.
 */
static int
create_slot(PGconn *conn, const char *name, bool temporary, store_manifest_t *m)
{
	char	   *id = PQescapeIdentifier(conn, name, strlen(name));
	char		sql[512];
	PGresult   *r;
	int			rc = 0;

	snprintf(sql, sizeof(sql), "CREATE_REPLICATION_SLOT %s%s LOGICAL tide (SNAPSHOT 'export')",
			 id ? id : "\"\"", temporary ? " TEMPORARY" : "");
	PQfreemem(id);
	r = PQexec(conn, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) < 4)
	{
		const char *e = one_line(conn);

		tide_log_error("could not create %sreplication slot \"%s\": %s", temporary ? "temporary " : "", name, e);
		/* by SQLSTATE: the text is in the server's lc_messages language */
		source_log_notes(r);
		if (PQresultErrorField(r, PG_DIAG_MESSAGE_HINT) != NULL)
			;					/* the server said what to do */
		else if (source_sqlstate_is(r, "58P01"))	/* undefined file */
			tide_log_hint("install the tide plugin on the source (tide.so in its $libdir, or in dynamic_library_path)");
		else if (source_sqlstate_is(r, "53400"))	/* configuration limit exceeded */
			tide_log_hint("a base into a live directory needs one free replication slot while it runs: raise max_replication_slots");
		PQclear(r);
		return TIDE_EXIT_SOURCE;
	}
	m->start_time = tide_now();
	if (tide_parse_lsn(PQgetvalue(r, 0, 1), &m->consistent_point) != 0 || PQgetisnull(r, 0, 2))
	{
		tide_log_error("unexpected answer to CREATE_REPLICATION_SLOT: consistent point \"%s\"",
					   PQgetvalue(r, 0, 1));
		rc = TIDE_EXIT_SOURCE;
	}
	else
		snprintf(m->snapshot, sizeof(m->snapshot), "%s", PQgetvalue(r, 0, 2));
	PQclear(r);
	return rc;
}

/*
 * slot_state - does slot exist, and is it a tide slot of this database
 * (*usable)?  Its confirmed position into *confirmed.
 */
static int
slot_state(PGconn *conn, const char *slot, const char *dbname, bool *exists, proto_lsn_t *confirmed)
{
	char	   *lit = PQescapeLiteral(conn, slot, strlen(slot));
	char		sql[512];
	PGresult   *r;

	*exists = false;
	*confirmed = 0;
	snprintf(sql, sizeof(sql),
			 "SELECT s.plugin, s.database, s.confirmed_flush_lsn, s.slot_type FROM pg_catalog.pg_replication_slots s "
			 "WHERE s.slot_name OPERATOR(pg_catalog.=) %s",
			 lit ? lit : "NULL");
	PQfreemem(lit);
	r = PQexec(conn, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
	{
		tide_log_error("could not look up replication slot \"%s\": %s", slot, one_line(conn));
		PQclear(r);
		return TIDE_EXIT_SOURCE;
	}
	if (PQntuples(r) > 0)
	{
		*exists = true;
		if (strcmp(PQgetvalue(r, 0, 3), "logical") != 0 || strcmp(PQgetvalue(r, 0, 0), "tide") != 0 ||
			strcmp(PQgetvalue(r, 0, 1), dbname) != 0)
		{
			tide_log_error("replication slot \"%s\" is not a tide slot of database \"%s\" (plugin \"%s\", database \"%s\")",
						   slot, dbname, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
			PQclear(r);
			return TIDE_EXIT_SOURCE;
		}
		if (!PQgetisnull(r, 0, 2))
			tide_parse_lsn(PQgetvalue(r, 0, 2), confirmed);
	}
	PQclear(r);
	return 0;
}

int
tide_cmd_base(int argc, char **argv)
{
	base_opts_t o;
	tide_conn_opts_t conn = {0};
	int			rc;

	if ((rc = parse_args(&o, &conn, argc, argv)) == 0)
		rc = tide_base_run(&o);
	tide_conn_free(&conn);
	return rc < 0 ? TIDE_EXIT_OK : rc;
}

int
tide_base_run(const base_opts_t *opts)
{
	base_opts_t o = *opts;
	store_manifest_t m;
	store_t    *s = NULL;
	PGconn	   *conn = NULL;
	PGresult   *r = NULL;
	char		rel_partial[64];
	char		rel_final[64];
	char		partial[4300];
	char		final[4300];
	char		basedir[4300];
	char		name[32];
	char		pg_dump[4200];
	char		snapshot_arg[128];
	char		jobs_arg[16];
	char		tmp_slot[64] = "";
	char		first_name[64];
	char		err[STORE_ERRLEN];
	char	   *dargv[24];
	char	   *errtext = NULL;
	int			nargs = 0;
	int			status;
	int			rc;
	bool		live = false;	/* the slot exists: join its history */
	bool		ours = true;
	store_segment_t other;
	bool		slot_created = false;
	bool		dump_started = false;	/* partial is ours to remove */
	proto_lsn_t first = 0;
	proto_lsn_t end = 0;
	proto_lsn_t confirmed = 0;
	int64_t		t0;
	tide_child_conn_t child;

	memset(&child, 0, sizeof(child));
	memset(&m, 0, sizeof(m));
	/* invariant 8: the dump and its manifest are owner-only (pg_dump inherits it) */
	umask(077);
	if ((rc = prepare_dir(o.dir, &s)) != 0)
		return rc;
	if ((rc = tide_child_conn(o.conninfo, &child)) != 0)
		goto out;
	m.format = STORE_MANIFEST_FORMAT;
	m.jobs = o.jobs;
	snprintf(m.slot, sizeof(m.slot), "%s", o.slot);

	conn = stream_connect_source(o.conninfo, o.host, o.port, o.user, true, "tide base");
	if (PQstatus(conn) != CONNECTION_OK)
	{
		tide_log_error("could not connect to the source: %s", one_line(conn));
		rc = TIDE_EXIT_SOURCE;
		goto out;
	}
	if (tide_pin_session(conn) != 0)
	{
		tide_log_error("could not set up the source session: %s", one_line(conn));
		rc = TIDE_EXIT_SOURCE;
		goto out;
	}
	if ((r = PQexec(conn, "IDENTIFY_SYSTEM")) == NULL || PQresultStatus(r) != PGRES_TUPLES_OK ||
		PQnfields(r) < 4 || PQgetisnull(r, 0, 3))
	{
		tide_log_error("could not identify the source system: %s", one_line(conn));
		tide_log_hint("the connection must allow replication: a role with REPLICATION and a \"replication\" line in pg_hba.conf");
		rc = TIDE_EXIT_SOURCE;
		goto out;
	}
	m.system_id = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	m.timeline = (uint32_t) strtoul(PQgetvalue(r, 0, 1), NULL, 10);
	snprintf(m.dbname, sizeof(m.dbname), "%s", PQgetvalue(r, 0, 3));
	PQclear(r);
	r = NULL;

	/*
	 * A new slot starts a new history (its base is the start); an existing
	 * one is joined: the directory must hold its history already, and the
	 * base comes from a temporary slot (see below).
	 */
	if ((rc = slot_state(conn, o.slot, m.dbname, &live, &confirmed)) != 0 ||
		(rc = history_of(s, o.dir, m.system_id, m.timeline, o.slot, &first, &end, &ours,
						 first_name, sizeof(first_name), &other)) != 0)
		goto out;
	if (!live && first_name[0])
	{
		tide_log_error("segment directory \"%s\" already holds segments (\"%s\") but replication slot \"%s\" does not exist",
					   o.dir, first_name, o.slot);
		tide_log_detail("a new slot starts a new history; the segments there belong to another slot or to a dropped one");
		tide_log_hint("give the new base and its stream a directory of their own, or name the slot that writes this directory");
		rc = TIDE_EXIT_USAGE;
		goto out;
	}
	if (live && first_name[0] == '\0')
	{
		tide_log_error("replication slot \"%s\" already exists", o.slot);
		tide_log_detail("a base joins the history of an existing slot only in the directory that holds it, and \"%s\" holds none of it yet",
						o.dir);
		tide_log_hint("drop it (SELECT pg_drop_replication_slot('%s')) or give another -S name, or take the base into the directory tide stream -S %s writes",
					  o.slot, o.slot);
		rc = TIDE_EXIT_SOURCE;
		goto out;
	}
	if (!ours)
	{
		tide_log_error("segment directory \"%s\" holds segments of another history (\"%s\": system %llu, timeline %u, slot \"%s\")",
					   o.dir, first_name, (unsigned long long) other.system_id, other.timeline, other.slot);
		tide_log_detail("this base would join the history of slot \"%s\" on system %llu, timeline %u",
						o.slot, (unsigned long long) m.system_id, m.timeline);
		tide_log_hint("take the base into the directory tide stream -S %s writes", o.slot);
		rc = TIDE_EXIT_USAGE;
		goto out;
	}
	r = PQexec(conn, "SELECT pg_catalog.current_setting('server_version_num'), "
			   "pg_catalog.pg_encoding_to_char(d.encoding) "
			   "FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
	{
		tide_log_error("could not read the source database's identity: %s", one_line(conn));
		rc = TIDE_EXIT_SOURCE;
		goto out;
	}
	m.server_version = (uint32_t) strtoul(PQgetvalue(r, 0, 0), NULL, 10);
	snprintf(m.encoding, sizeof(m.encoding), "%s", PQgetvalue(r, 0, 1));
	PQclear(r);
	r = NULL;

	tide_tool_path("pg_dump", pg_dump, sizeof(pg_dump));
	dump_version(pg_dump, m.pg_dump_version, sizeof(m.pg_dump_version));

	if (!live)
	{
		/* the slot, and the snapshot the dump runs in: the start of its history */
		if ((rc = create_slot(conn, o.slot, false, &m)) != 0)
			goto out;
		slot_created = true;
		tide_log_info("created replication slot \"%s\" at " LSN_FMT " with snapshot \"%s\"",
					  o.slot, LSN_ARGS(m.consistent_point), m.snapshot);
	}
	else
	{
		/*
		 * A base into a live history.  The streamer keeps the slot; a
		 * second, temporary slot gives the dump its snapshot and the base
		 * its point P (the temporary slot's consistent point).  Why it is
		 * consistent (the argument in full is in README.md, "A new base
		 * while the stream runs"):
		 *
		 *  - the exported snapshot sees exactly the transactions whose
		 *    commit record starts before P (the snapshot builder's rule
		 *    for any logical slot), and the base holds exactly those;
		 *  - the directory's history is complete from its first segment's
		 *    start S0 on: every transaction committing at or after S0 is in
		 *    a segment or will be (the main slot is acknowledged only up to
		 *    what is durable here, and sends everything after that again);
		 *  - bootstrap records P as the replica's progress, and apply skips
		 *    exactly the transactions whose commit LSN is below P: the
		 *    same partition as the snapshot's, so no transaction is in
		 *    both the base and the applied segments, and none in neither,
		 *    provided S0 <= P (checked here) and retention keeps the
		 *    segments after P while the base is kept (it does: a kept base
		 *    pins every segment that ends past its point).
		 */
		snprintf(tmp_slot, sizeof(tmp_slot), "tide_base_%d_%lld", (int) getpid(),
				 (long long) (tide_now() / 1000000));
		if ((rc = create_slot(conn, tmp_slot, true, &m)) != 0)
			goto out;
		snprintf(m.snapshot_slot, sizeof(m.snapshot_slot), "%s", tmp_slot);
		tide_log_info("joining the history of slot \"%s\" in \"%s\" (from " LSN_FMT "): temporary slot \"%s\" at " LSN_FMT " with snapshot \"%s\"",
					  o.slot, o.dir, LSN_ARGS(first), tmp_slot, LSN_ARGS(m.consistent_point), m.snapshot);
		/* invariant 1: the history must reach back to the base's point */
		if (first > m.consistent_point)
		{
			tide_log_error("the history in \"%s\" starts at " LSN_FMT ", after the new base's point " LSN_FMT,
						   o.dir, LSN_ARGS(first), LSN_ARGS(m.consistent_point));
			tide_log_detail("the changes between them would be in neither the base nor a segment");
			tide_log_hint("the directory was pruned past the present: start a new directory with a new slot");
			rc = TIDE_EXIT_CORRUPT;
			goto out;
		}
		if (end < m.consistent_point)
			tide_log_info("the segments end at " LSN_FMT " for now: the stream on slot \"%s\" writes the rest (confirmed " LSN_FMT ")",
						  LSN_ARGS(end), o.slot, LSN_ARGS(confirmed));
	}
	if ((rc = snapshot_facts(&o, &m)) != 0)
		goto out;

	/* DIR/base/<start>.partial, named by the snapshot's time */
	{
		time_t		secs = (time_t) (m.start_time / 1000000 + PG_EPOCH_UNIX);
		struct tm	tm;

		gmtime_r(&secs, &tm);
		strftime(name, sizeof(name), "%Y%m%dT%H%M%SZ", &tm);
		snprintf(rel_final, sizeof(rel_final), "%s%s", STORE_BASE_PREFIX, name);
		snprintf(rel_partial, sizeof(rel_partial), "%s%s.partial", STORE_BASE_PREFIX, name);
		store_local_path(s, "base", basedir, sizeof(basedir));
		store_local_path(s, rel_final, final, sizeof(final));
		store_local_path(s, rel_partial, partial, sizeof(partial));
		if (mkdir(basedir, 0700) != 0 && errno != EEXIST)
		{
			tide_log_error("could not create base directory \"%s\": %s", basedir, strerror(errno));
			tide_log_hint("give the user running tide write access, or choose another -D");
			rc = TIDE_EXIT_IO;
			goto out;
		}
		if (access(final, F_OK) == 0 || access(partial, F_OK) == 0)
		{
			tide_log_error("base \"%s\" already exists in \"%s\"", name, basedir);
			tide_log_hint("wait a second and try again");
			rc = TIDE_EXIT_USAGE;
			goto out;
		}
	}

	/* pg_dump, connected as we are, inside the exported snapshot */
	snprintf(snapshot_arg, sizeof(snapshot_arg), "--snapshot=%s", m.snapshot);
	snprintf(jobs_arg, sizeof(jobs_arg), "%d", o.jobs);
	dargv[nargs++] = pg_dump;
	dargv[nargs++] = snapshot_arg;
	dargv[nargs++] = "--format=directory";
	dargv[nargs++] = "--jobs";
	dargv[nargs++] = jobs_arg;
	dargv[nargs++] = "--file";
	dargv[nargs++] = partial;
	dargv[nargs++] = "--no-password";
	if (o.host)
	{
		dargv[nargs++] = "--host";
		dargv[nargs++] = (char *) o.host;
	}
	if (o.port)
	{
		dargv[nargs++] = "--port";
		dargv[nargs++] = (char *) o.port;
	}
	if (o.user)
	{
		dargv[nargs++] = "--username";
		dargv[nargs++] = (char *) o.user;
	}
	if (child.conninfo[0])
	{
		/* invariant 8: without its password, which is in child.passfile */
		dargv[nargs++] = "--dbname";
		dargv[nargs++] = child.conninfo;
	}
	dargv[nargs] = NULL;
	tide_log_info("running %s with %d job%s into \"%s\"", pg_dump, o.jobs, o.jobs == 1 ? "" : "s", partial);
	t0 = tide_now();
	dump_started = true;
	status = tide_run_tool(dargv, 2, &errtext);
	if (status != 0)
	{
		if (status > 128)
			tide_log_error("pg_dump was terminated by signal %d", status - 128);
		else if (status > 0)
			tide_log_error("pg_dump failed with exit code %d", status);
		tide_log_tool_output("pg_dump", errtext);
		if (status == 127)
			tide_log_hint("install the PostgreSQL client programs (pg_dump) of the source's major version or newer");
		rc = TIDE_EXIT_SOURCE;
		goto out;
	}
	if (errtext && errtext[0])
	{
		tide_log_warning("pg_dump reported:");
		tide_log_tool_output("pg_dump", errtext);
	}
	m.end_time = tide_now();

	/* manifest, fsync, then the name that says "complete" */
	{
		char		mpath[4400];

		snprintf(mpath, sizeof(mpath), "%s/%s", partial, STORE_MANIFEST_NAME);
		if ((rc = store_manifest_write(mpath, &m, err)) != 0)
		{
			tide_log_error("%s", err);
			rc = TIDE_EXIT_IO;
			goto out;
		}
	}
	if ((status = sync_files(s, rel_partial)) != 0)
	{
		tide_log_error("could not fsync base \"%s\": %s", partial, tide_strerror(status));
		rc = TIDE_EXIT_IO;
		goto out;
	}
	if (rename(partial, final) != 0 || tide_fsync_path(basedir) != 0)
	{
		tide_log_error("could not rename \"%s\" to \"%s\": %s", partial, final, strerror(errno));
		rc = TIDE_EXIT_IO;
		goto out;
	}
	dump_started = false;
	tide_log_info("base \"%s\" complete in %.1f s: consistent point " LSN_FMT ", source system %llu, database \"%s\"",
				  final, (double) (m.end_time - t0) / 1e6, LSN_ARGS(m.consistent_point),
				  (unsigned long long) m.system_id, m.dbname);

	/* the directory's index names it from now on (a web server serving DIR publishes it) */
	{
		store_sync_opts_t so;
		store_sync_result_t sr;

		memset(&so, 0, sizeof(so));
		so.src_retain.retain_usecs = so.dst_retain.retain_usecs = -1;
		so.now = tide_now();
		so.cb = on_index_event;
		if (store_sync(s, NULL, &so, &sr, err) != 0)
		{
			tide_log_warning("could not index base \"%s\" in \"%s\": %s", name, o.dir, err);
			tide_log_hint("the base is complete; the next tide stream or tide publish on \"%s\" indexes it", o.dir);
		}
	}
	if (!live)
		tide_log_info("continue it with: tide stream -S %s -D %s", o.slot, o.dir);
	rc = 0;

out:
	free(errtext);
	PQclear(r);
	tide_child_conn_free(&child);
	store_manifest_free(&m);
	if (rc != 0 && dump_started && tide_remove_tree(partial) != 0)
		tide_log_warning("could not remove the partial base \"%s\"", partial);
	if (rc != 0 && slot_created)
	{
		if (PQstatus(conn) == CONNECTION_OK)
			drop_slot(conn, o.slot);
		else
		{
			tide_log_warning("replication slot \"%s\" was left behind: the connection is gone", o.slot);
			tide_log_hint("drop it before a new attempt: SELECT pg_drop_replication_slot('%s')", o.slot);
		}
	}
	/* a temporary slot goes with the connection */
	PQfinish(conn);
	store_close(s);
	return rc;
}
