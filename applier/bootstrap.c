/*
 * applier/bootstrap.c
 *		`tide bootstrap`: a new replica from a base dump plus the segments
 *		after it.
 *
 * The base (written by `tide base`, streamer/base.c) is a pg_dump taken in
 * the snapshot its slot exported, so it holds exactly the transactions
 * that committed before the slot's consistent point, and the slot's
 * segments hold every one after.  Bootstrap restores the base with
 * pg_restore, writes the replica's tide.progress row at the consistent
 * point (the row `tide apply` keeps), then runs `tide apply` over the
 * directory: transactions below the point are skipped, the rest applied.
 *
 * Everything that can be checked before the (possibly hours long) restore
 * is checked first, so that a failure costs seconds: the base is complete
 * and this pg_restore can read it, the segments come from the base's source
 * and reach back to its point, --until is not before it (by the source's
 * clock, recorded in the base), and the replica is empty, has the source's
 * encoding (or UTF8), every extension the dump creates can be created there
 * by this role, and every role the dump's GRANTs, policies and user
 * mappings name exists.
 *
 * Ownership is never restored (pg_restore --no-owner): the role that
 * bootstraps owns every object, which is what tide apply needs to write.
 * Privileges (GRANT/REVOKE) are restored unless --no-acl.
 *
 * Sessions pin search_path to '' first; pg_restore gets the connection
 * string without its password (a private passfile instead).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libpq-fe.h>

#include "tide/cmdline.h"
#include "tide/common.h"
#include "tide/pgtools.h"
#include "apply.h"
#include "tide/segment.h"
#include "tide/store.h"

#define LSN_FMT "%X/%X"
#define LSN_ARGS(l) (unsigned) ((uint64_t) (l) >> 32), (unsigned) (l)

typedef struct
{
	tide_conn_opts_t conn;		/* -d, -h, -p, -U, -W (owns conninfo) */
	char	   *conninfo;		/* conn's */
	char	   *dir;			/* a directory or a store URL */
	char	   *cache;			/* --cache, passed on to tide apply */
	const char *base;			/* --base NAME, or NULL: the newest */
	char	   *until;			/* --until, passed on to tide apply */
	bool		until_is_lsn;
	proto_lsn_t until_lsn;
	proto_time_t until_time;
	int			jobs;
	bool		no_acl;			/* --no-acl: privileges are not restored */
} boot_opts_t;

static void
bootstrap_usage(FILE *f)
{
	fprintf(f,
			"Usage: tide bootstrap -d REPLICA_CONNINFO -D DIR|URL [OPTIONS]\n\n"
			"Build a new replica: restore a base dump of DIR/base (written by tide base)\n"
			"into an empty database with pg_restore, record the base's consistent point\n"
			"in tide.progress, then apply every segment of DIR after it, as tide apply.\n"
			"DIR may be a store the directory is published to (s3://BUCKET/PREFIX,\n"
			"http(s)://HOST/PATH): the base and the segments are downloaded, checked,\n"
			"into the cache first.\n\n"
			"Connection options (PG* variables apply):\n");
	tide_conn_usage(f, "the replica (an empty database)", 25);
	fprintf(f,
			"\nOptions:\n"
			"  -D, --directory=DIR|URL  segment directory (or store) holding base/ and\n"
			"                         the segments\n"
			"      --cache=DIR        where a remote store's objects are downloaded\n"
			"                         (default ~/.cache/tide/HOST-HASH, owner-only)\n"
			"      --base=NAME        the base to restore (default: the newest complete)\n"
			"      --until=TIME|LSN   apply only the transactions committed at or before\n"
			"                         TIME (a timestamptz) or LSN\n"
			"  -j, --jobs=N           parallel pg_restore jobs (default 1)\n"
			"      --no-acl           do not restore privileges (GRANT/REVOKE): then the\n"
			"                         roles they name need not exist on the replica\n"
			"  -q, --quiet            only warnings and errors\n");
	tide_std_usage(f, 25);
	fprintf(f,
			"\nObjects are owned by the role that bootstraps (ownership is not restored).\n"
			"Before restoring anything it checks that the replica is empty, has the\n"
			"source's encoding (or UTF8), can create the base's extensions and has the\n"
			"roles its privileges and policies name.\n\n"
			"Exit codes: 0 done, 2 bad arguments, no base or --until before it, 4 replica\n"
			"connection, replica not empty or lacking a role, an extension or the\n"
			"encoding, pg_restore or apply error, 5 damaged base or segments missing or\n"
			"of another source, 6 local I/O error, 7 the store cannot be reached.\n");
}

static int
parse_opts(int argc, char **argv, boot_opts_t *o)
{
	static const struct option opts[] = {
		TIDE_CONN_LONGOPTS,
		TIDE_STD_LONGOPTS,
		{"directory", required_argument, NULL, 'D'},
		{"base", required_argument, NULL, 1},
		{"until", required_argument, NULL, 2},
		{"jobs", required_argument, NULL, 'j'},
		{"no-acl", no_argument, NULL, 3},
		{"cache", required_argument, NULL, 4},
		{"quiet", no_argument, NULL, 'q'},
		{NULL, 0, NULL, 0}
	};
	int			c;
	int			rc;

	memset(o, 0, sizeof(*o));
	o->jobs = 1;
	optind = 1;
	while ((c = tide_getopt(argc, argv, TIDE_CONN_SHORTOPTS "D:j:q", opts)) != -1)
	{
		if (tide_conn_opt(&o->conn, c, optarg))
			continue;
		switch (c)
		{
			case 'D':
				o->dir = optarg;
				break;
			case 1:
				o->base = optarg;
				break;
			case 2:
				o->until = optarg;
				if ((rc = tide_opt_point("--until", optarg, &o->until_is_lsn, &o->until_lsn,
										 &o->until_time)) != 0)
					return rc;
				break;
			case 'j':
				{
					int64_t		v;

					if ((rc = tide_opt_int("--jobs", optarg, 1, 256, &v)) != 0)
						return rc;
					o->jobs = (int) v;
					break;
				}
			case 3:
				o->no_acl = true;
				break;
			case 4:
				o->cache = optarg;
				break;
			case 'q':
				tide_log_quiet = 1;
				break;
			default:
				return tide_opt_std(c, "bootstrap", bootstrap_usage);
		}
	}
	if (optind < argc)
	{
		tide_log_error("unexpected argument \"%s\"", argv[optind]);
		bootstrap_usage(stderr);
		return TIDE_EXIT_USAGE;
	}
	if (o->dir == NULL || (o->conn.dbname == NULL && getenv("PGDATABASE") == NULL))
	{
		/* a restore goes into a database named on purpose, not libpq's default */
		tide_log_error("tide bootstrap needs -D DIR and the replica's database (-d, or PGDATABASE)");
		tide_log_hint("run 'tide bootstrap --help' for its options");
		return TIDE_EXIT_USAGE;
	}
	if ((rc = tide_conn_finish(&o->conn, "the replica")) != 0)
		return rc;
	o->conninfo = o->conn.conninfo;
	if (o->base && (strchr(o->base, '/') || strcmp(o->base, ".") == 0 || strcmp(o->base, "..") == 0))
	{
		tide_log_error("invalid --base \"%s\": give the name of a directory in %s/base", o->base, o->dir);
		return TIDE_EXIT_USAGE;
	}
	return 0;
}

/* store_fail_exit - the exit class of a store/ failure reading s */
static int
store_fail_exit(const store_t *s, int rc)
{
	if (rc <= TIDE__EBASE)
		return rc == TIDE_ENOMEM ? TIDE_EXIT_BUG : TIDE_EXIT_CORRUPT;
	return store_kind(s) == STORE_LOCAL ? TIDE_EXIT_IO : TIDE_EXIT_STORE;
}

/*
 * find_base - the base to restore: --base, or the newest complete one
 * (names sort in time order; ".partial" ones are unfinished or abandoned
 * and store_bases leaves them out).  *b takes a copy (caller frees with
 * store_bases_free(b, 1)).
 */
static int
find_base(const boot_opts_t *o, store_t *s, store_base_t **b)
{
	store_base_t *v = NULL;
	size_t		n = 0;
	size_t		pick = SIZE_MAX;
	int			rc;

	*b = NULL;
	if (o->base)
	{
		size_t		len = strlen(o->base);

		if (len > 8 && strcmp(o->base + len - 8, ".partial") == 0)
		{
			tide_log_error("base \"%s/base/%s\" is not complete", o->dir, o->base);
			tide_log_detail("a base is renamed without \".partial\" once pg_dump and its manifest are durable");
			tide_log_hint("take a new base with tide base, or choose a complete one with --base");
			return TIDE_EXIT_USAGE;
		}
	}
	if ((rc = store_bases(s, &v, &n)) != 0)
	{
		tide_log_error("could not read the bases of \"%s\": %s", o->dir, store_errmsg(s));
		return store_fail_exit(s, rc);
	}
	for (size_t i = 0; i < n; i++)
		if (o->base ? strcmp(v[i].name, o->base) == 0 : true)
			pick = i;
	if (pick == SIZE_MAX)
	{
		if (o->base)
		{
			tide_log_error("base \"%s/base/%s\" does not exist", o->dir, o->base);
			tide_log_hint("list the bases with: tide ls %s", o->dir);
		}
		else
		{
			tide_log_error("no complete base dump in \"%s/base\"", o->dir);
			tide_log_hint("take one with: tide base -d SOURCE -S SLOT -D %s", o->dir);
		}
		store_bases_free(v, n);
		return TIDE_EXIT_USAGE;
	}
	/* keep the one picked, free the others */
	for (size_t i = 0; i < n; i++)
		if (i != pick)
			store_base_free(&v[i]);
	if ((*b = malloc(sizeof(**b))) == NULL)
	{
		store_bases_free(v, n);
		tide_log_error("out of memory");
		return TIDE_EXIT_BUG;
	}
	**b = v[pick];
	free(v);
	return 0;
}

/*
 * check_segments - the segments (if any) come from the base's source and
 * the oldest reaches back to the base's consistent point: otherwise the
 * restore would be wasted on a replica that cannot be brought forward.
 */
static int
check_segments(const boot_opts_t *o, store_t *s, const char *base, const store_manifest_t *m)
{
	store_seglist_t l = {0};
	const store_segment_t *g;
	int			rc;

	if ((rc = store_segments(s, &l, NULL, NULL)) != 0)
	{
		tide_log_error("could not read the segments of \"%s\": %s", o->dir, store_errmsg(s));
		return store_fail_exit(s, rc);
	}
	if (l.n == 0)
	{
		tide_log_info("no segments in \"%s\" yet: the replica will be the base alone", o->dir);
		return 0;
	}
	g = &l.v[0];
	rc = 0;
	if (g->system_id != m->system_id || (g->dbname[0] && strcmp(g->dbname, m->dbname) != 0) ||
		strcmp(g->slot, m->slot) != 0)
	{
		tide_log_error("the segments in \"%s\" come from another source than base \"%s\"", o->dir, base);
		tide_log_detail("segment \"%s\" is from system %llu, database \"%s\", slot \"%s\"; "
						"the base from system %llu, database \"%s\", slot \"%s\"",
						g->name, (unsigned long long) g->system_id, g->dbname, g->slot,
						(unsigned long long) m->system_id, m->dbname, m->slot);
		tide_log_hint("keep a base with the segments of the slot whose history it starts or joins");
		rc = TIDE_EXIT_CORRUPT;
	}
	else if (g->start_lsn > m->consistent_point)
	{
		tide_log_error("segments are missing: the changes from " LSN_FMT " to " LSN_FMT " are in none of the files",
					   LSN_ARGS(m->consistent_point), LSN_ARGS(g->start_lsn));
		tide_log_detail("base \"%s\" ends at " LSN_FMT " but the oldest segment, \"%s\", starts at " LSN_FMT,
						base, LSN_ARGS(m->consistent_point), g->name, LSN_ARGS(g->start_lsn));
		tide_log_hint("restore the missing segment files, or bootstrap from a newer base; nothing was restored");
		rc = TIDE_EXIT_CORRUPT;
	}
	store_seglist_free(&l);
	return rc;
}

static PGconn *
connect_replica(const char *conninfo)
{
	const char *keys[] = {"dbname", "fallback_application_name", NULL};
	const char *vals[] = {conninfo, "tide bootstrap", NULL};

	return PQconnectdbParams(keys, vals, 1);
}

/* one_line - a libpq message without its trailing newline (static buffer) */
static const char *
one_line(PGconn *c)
{
	static char buf[1024];
	size_t		n;

	snprintf(buf, sizeof(buf), "%s", c ? PQerrorMessage(c) : "out of memory");
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf;
}

/* array_literal - names as a text[] literal: {"a","b \"c\""} (malloc'd) */
static char *
array_literal(char *const *v, int n)
{
	size_t		len = 3;
	char	   *out,
			   *p;

	for (int i = 0; i < n; i++)
		len += 2 * strlen(v[i]) + 3;
	if ((p = out = malloc(len)) == NULL)
		return NULL;
	*p++ = '{';
	for (int i = 0; i < n; i++)
	{
		if (i)
			*p++ = ',';
		*p++ = '"';
		for (const char *c = v[i]; *c; c++)
		{
			if (*c == '"' || *c == '\\')
				*p++ = '\\';
			*p++ = *c;
		}
		*p++ = '"';
	}
	*p++ = '}';
	*p = '\0';
	return out;
}

/* name_list - "a", "b", ... for messages, from rows of column 0 */
static void
name_list(const PGresult *r, char *buf, size_t len)
{
	buf[0] = '\0';
	for (int i = 0; i < PQntuples(r); i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s\"%s\"", i ? ", " : "", PQgetvalue(r, i, 0));
}

/*
 * check_until - --until is not before the base.  A time is compared with
 * the source's own clock read in the dump's snapshot (every commit the base
 * holds is at or before it), not with this host's: with the source's clock
 * ahead, the base may already hold commits after a target this host thinks
 * is later.
 */
static int
check_until(const boot_opts_t *o, const store_manifest_t *m, const char *base)
{
	char		when[40];
	proto_time_t at = m->source_time ? m->source_time : m->start_time;

	if (!o->until)
		return 0;
	if (!o->until_is_lsn && m->source_time == 0)
		tide_log_warning("base \"%s\" does not record the source's clock (taken by an older tide): "
						 "--until is checked against the clock of the host that took it", base);
	if (o->until_is_lsn ? o->until_lsn >= m->consistent_point : o->until_time >= at)
		return 0;
	tide_time_text(when, sizeof(when), at);
	tide_log_error("--until %s is before base \"%s\"", o->until, base);
	if (o->until_is_lsn)
		tide_log_detail("the base holds the source as of " LSN_FMT, LSN_ARGS(m->consistent_point));
	else
		tide_log_detail("the base holds the source as of " LSN_FMT ", with commits up to %s by the source's clock%s",
						LSN_ARGS(m->consistent_point), when, m->source_time ? "" : " (this host's clock: not recorded)");
	tide_log_hint("choose an older base with --base, or a later --until; nothing was restored");
	return TIDE_EXIT_USAGE;
}

/*
 * check_replica - the replica is reachable, has no relations of its own
 * outside the system schemas, and has what restoring the base needs: the
 * encoding, the extensions (creatable by this role) and the roles named by
 * privileges (unless --no-acl), policies and user mappings.  Each failure
 * is reported in full before returning, so one run lists everything to fix.
 */
static int
check_replica(const boot_opts_t *o, const store_manifest_t *m, const store_manifest_t *pre)
{
	PGconn	   *c = connect_replica(o->conninfo);
	PGresult   *r = NULL;
	int			rc = 0;
	bool		superuser;
	char		names[2048];

	if (PQstatus(c) != CONNECTION_OK)
	{
		tide_log_error("could not connect to the replica: %s", one_line(c));
		PQfinish(c);
		return TIDE_EXIT_REPLICA;
	}
	if (tide_pin_session(c) != 0)
	{
		tide_log_error("could not set up the replica session: %s", one_line(c));
		rc = TIDE_EXIT_REPLICA;
		goto out;
	}
	r = PQexec(c, "SELECT pg_catalog.count(*) OVER (), "
			   "pg_catalog.format('%I.%I', n.nspname, c.relname) "
			   "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
			   "WHERE c.relkind OPERATOR(pg_catalog.=) ANY ('{r,p,v,m,f,S}') "
			   "AND n.nspname OPERATOR(pg_catalog.<>) ALL ('{pg_catalog,information_schema}') "
			   "AND n.nspname OPERATOR(pg_catalog.!~) '^pg_(toast|temp_)' ORDER BY 2 LIMIT 5");
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
	{
		tide_log_error("could not read the replica's catalog: %s", one_line(c));
		rc = TIDE_EXIT_REPLICA;
		goto out;
	}
	if (PQntuples(r) > 0)
	{
		names[0] = '\0';
		for (int i = 0; i < PQntuples(r); i++)
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
					 i ? ", " : "", PQgetvalue(r, i, 1));
		tide_log_error("the replica database \"%s\" is not empty", PQdb(c));
		tide_log_detail("it has %s relations outside the system schemas: %s%s", PQgetvalue(r, 0, 0),
						names, atoi(PQgetvalue(r, 0, 0)) > PQntuples(r) ? ", ..." : "");
		tide_log_hint("bootstrap into a new database (createdb), or catch up an existing replica with tide apply");
		rc = TIDE_EXIT_REPLICA;
		goto out;
	}
	PQclear(r);

	/* the encoding: the source's, or UTF8 (which holds every other losslessly) */
	r = PQexec(c, "SELECT pg_catalog.pg_encoding_to_char(d.encoding), r.rolsuper "
			   "FROM pg_catalog.pg_database d, pg_catalog.pg_roles r "
			   "WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database() "
			   "AND r.rolname OPERATOR(pg_catalog.=) CURRENT_USER");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
	{
		tide_log_error("could not read the replica database's encoding: %s", one_line(c));
		rc = TIDE_EXIT_REPLICA;
		goto out;
	}
	superuser = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	if (strcmp(PQgetvalue(r, 0, 0), m->encoding) != 0 &&
		(strcmp(PQgetvalue(r, 0, 0), "UTF8") != 0 || strcmp(m->encoding, "SQL_ASCII") == 0))
	{
		tide_log_error("the replica database \"%s\" has encoding %s, the source %s",
					   PQdb(c), PQgetvalue(r, 0, 0), m->encoding);
		tide_log_detail("rows the replica's encoding cannot hold would fail the restore or the apply");
		tide_log_hint("create the replica database with the source's encoding: createdb --encoding=%s --template=template0 NAME",
					  m->encoding);
		rc = TIDE_EXIT_REPLICA;
	}
	PQclear(r);
	r = NULL;

	if (!pre->recorded)
	{
		tide_log_warning("base manifest records no roles or extensions (the base was taken by an older tide): "
						 "they are not checked before the restore");
		goto out;
	}

	/* extensions: there already, or available and creatable by this role */
	if (pre->nexts > 0)
	{
		char	   *lit = array_literal(pre->exts, pre->nexts);
		const char *params[2] = {lit, superuser ? "t" : "f"};

		r = PQexecParams(c,
						 "SELECT e.name, "
						 "  CASE WHEN a.name IS NULL THEN 'not installed on the replica server' "
						 "  ELSE 'not trusted: only a superuser may create it' END "
						 "FROM pg_catalog.unnest(CAST($1 AS pg_catalog.text[])) e(name) "
						 "LEFT JOIN pg_catalog.pg_available_extensions a ON a.name OPERATOR(pg_catalog.=) e.name "
						 "WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_extension x "
						 "                  WHERE x.extname OPERATOR(pg_catalog.=) e.name) "
						 "AND (a.name IS NULL OR (NOT CAST($2 AS pg_catalog.bool) AND NOT EXISTS "
						 "  (SELECT FROM pg_catalog.pg_available_extension_versions v "
						 "   WHERE v.name OPERATOR(pg_catalog.=) a.name AND v.trusted "
						 "   AND v.version OPERATOR(pg_catalog.=) a.default_version))) "
						 "ORDER BY 1",
						 2, NULL, params, NULL, NULL, 0);
		free(lit);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
		{
			tide_log_error("could not read the replica's extensions: %s", one_line(c));
			rc = TIDE_EXIT_REPLICA;
			goto out;
		}
		if (PQntuples(r) > 0)
		{
			name_list(r, names, sizeof(names));
			tide_log_error("the replica cannot create %s the base needs: %s",
						   PQntuples(r) == 1 ? "an extension" : "extensions", names);
			for (int i = 0; i < PQntuples(r); i++)
				tide_log_detail("extension \"%s\": %s", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
			tide_log_hint("install the extensions' packages on the replica server (same versions as the source), "
						  "or bootstrap as a superuser; nothing was restored");
			rc = TIDE_EXIT_REPLICA;
		}
		PQclear(r);
		r = NULL;
	}

	/* roles: those privileges, policies and user mappings name */
	{
		char	  **need = o->no_acl ? pre->roles_no_acl : pre->roles;
		int			nneed = o->no_acl ? pre->nroles_no_acl : pre->nroles;
		char	   *lit = array_literal(need, nneed);
		const char *params[1] = {lit};

		r = PQexecParams(c,
						 "SELECT n.name FROM pg_catalog.unnest(CAST($1 AS pg_catalog.text[])) n(name) "
						 "WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles a "
						 "                  WHERE a.rolname OPERATOR(pg_catalog.=) n.name) ORDER BY 1",
						 1, NULL, params, NULL, NULL, 0);
		free(lit);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
		{
			tide_log_error("could not read the replica's roles: %s", one_line(c));
			rc = TIDE_EXIT_REPLICA;
			goto out;
		}
		if (PQntuples(r) > 0)
		{
			name_list(r, names, sizeof(names));
			tide_log_error("the replica lacks %d %s the base names: %s", PQntuples(r),
						   PQntuples(r) == 1 ? "role" : "roles", names);
			tide_log_detail("%s", o->no_acl ?
							"row-level security policies and user mappings name them" :
							"privileges (GRANT), row-level security policies or user mappings name them");
			tide_log_hint("create them on the replica server (CREATE ROLE)%s; nothing was restored",
						  o->no_acl ? "" : ", or bootstrap with --no-acl to leave privileges out");
			rc = TIDE_EXIT_REPLICA;
		}
	}
out:
	PQclear(r);
	PQfinish(c);
	return rc;
}

/*
 * check_archive - this pg_restore reads the base's table of contents (a
 * newer pg_dump's archive fails here, in a second, not after hours)
 */
static int
check_archive(const char *pg_restore, const char *base)
{
	char	   *argv[] = {(char *) pg_restore, "--list", (char *) base, NULL};
	char	   *errtext = NULL;
	int			status = tide_run_tool(argv, 2, &errtext);

	if (status != 0)
	{
		tide_log_error("%s cannot read base \"%s\"", pg_restore, base);
		tide_log_tool_output("pg_restore", errtext);
		if (status == 127)
			tide_log_hint("install the PostgreSQL client programs (pg_restore) of the replica's major version");
		else
			tide_log_hint("use a pg_restore at least as new as the pg_dump that wrote the base; nothing was restored");
		free(errtext);
		return status == 127 ? TIDE_EXIT_USAGE : TIDE_EXIT_CORRUPT;
	}
	free(errtext);
	return 0;
}

/* record_base - tide.progress at the base's point, as tide apply keeps it */
static int
record_base(const boot_opts_t *o, const store_manifest_t *m)
{
	apply_replica_opts_t ro;
	apply_replica_t *rep = NULL;
	apply_ident_t ident;
	apply_progress_t progress;
	const char *no_tables[1] = {NULL};
	int			rc;

	memset(&ro, 0, sizeof(ro));
	ro.conninfo = o->conninfo;
	ro.tables = no_tables;
	ro.on_conflict = APPLY_CONFLICT_ERROR;
	memset(&ident, 0, sizeof(ident));
	ident.system_id = m->system_id;
	snprintf(ident.dbname, sizeof(ident.dbname), "%s", m->dbname);
	snprintf(ident.slot, sizeof(ident.slot), "%s", m->slot);
	snprintf(ident.encoding, sizeof(ident.encoding), "%s", m->encoding);
	if ((rc = apply_replica_connect(&rep, &ro, &ident, &progress)) == 0)
	{
		if (progress.found)
			tide_log_warning("the restored base already had progress for this source at " LSN_FMT ": replacing it",
							 LSN_ARGS(progress.end_lsn));
		rc = apply_replica_commit(rep, m->consistent_point, m->start_time);
	}
	apply_replica_close(rep);
	return rc;
}

int
tide_cmd_bootstrap(int argc, char **argv)
{
	boot_opts_t o;
	store_t    *s = NULL;
	store_base_t *b = NULL;
	store_manifest_t m;
	tide_child_conn_t child;
	char		base[4200];
	char		label[4300];
	char		cache[4096] = "";
	char		pg_restore[4200];
	char		jobs_arg[16];
	char		when[40];
	char		err[STORE_ERRLEN];
	char	   *rargv[16];
	char	   *errtext = NULL;
	int			n = 0;
	int			status;
	int			rc;

	memset(&child, 0, sizeof(child));
	memset(&m, 0, sizeof(m));
	if ((rc = parse_opts(argc, argv, &o)) != 0)
		return rc < 0 ? TIDE_EXIT_OK : rc;
	tide_tool_path("pg_restore", pg_restore, sizeof(pg_restore));
	if ((rc = store_open(o.dir, NULL, &s, err)) != 0)
	{
		tide_log_error("%s", err);
		return rc == -EINVAL ? TIDE_EXIT_USAGE :
			(rc == -ENOENT || rc == -ENOTDIR) ? TIDE_EXIT_IO : TIDE_EXIT_STORE;
	}
	if (store_kind(s) != STORE_LOCAL &&
		(rc = store_cache_dir(o.dir, o.cache, cache, sizeof(cache), err)) != 0)
	{
		tide_log_error("%s", err);
		tide_log_hint("give a directory of your own with --cache DIR");
		store_close(s);
		return TIDE_EXIT_IO;
	}
	if ((rc = find_base(&o, s, &b)) != 0)
	{
		store_close(s);
		return rc;
	}
	m = b->manifest;
	snprintf(label, sizeof(label), "%s/base/%s", o.dir, b->name);
	if ((rc = check_until(&o, &m, label)) != 0 ||
		(rc = check_segments(&o, s, label, &m)) != 0)
		goto out;
	/* a remote base is downloaded whole, every file checked, before pg_restore sees it */
	{
		uint64_t	fetched = 0;
		int			frc;

		if (store_kind(s) != STORE_LOCAL)
			tide_log_info("downloading base \"%s\" (%zu files) into \"%s\"", label, b->nfiles, cache);
		if ((frc = store_fetch_base(s, b, cache, base, sizeof(base), &fetched)) != 0)
		{
			tide_log_error("%s", store_errmsg(s));
			rc = store_fail_exit(s, frc);
			goto out;
		}
		if (fetched)
			tide_log_info("downloaded %.1f MB of base \"%s\"", (double) fetched / 1e6, b->name);
		if (store_kind(s) == STORE_LOCAL)
			snprintf(label, sizeof(label), "%s", base);
	}
	if ((rc = check_archive(pg_restore, base)) != 0 ||
		(rc = check_replica(&o, &m, &m)) != 0 ||
		(rc = tide_child_conn(o.conninfo, &child)) != 0)
		goto out;

	tide_time_text(when, sizeof(when), m.start_time);
	snprintf(jobs_arg, sizeof(jobs_arg), "%d", o.jobs);
	rargv[n++] = pg_restore;
	rargv[n++] = "--jobs";
	rargv[n++] = jobs_arg;
	rargv[n++] = "--no-owner";
	if (o.no_acl)
		rargv[n++] = "--no-acl";
	/* invariant 8: without its password, which is in child.passfile */
	rargv[n++] = "--dbname";
	rargv[n++] = child.conninfo;
	rargv[n++] = base;
	rargv[n] = NULL;
	tide_log_info("restoring base \"%s\" (source system %llu, database \"%s\", as of " LSN_FMT ", %s) with %d job%s",
				  label, (unsigned long long) m.system_id, m.dbname, LSN_ARGS(m.consistent_point),
				  when, o.jobs, o.jobs == 1 ? "" : "s");
	tide_log_info("objects will be owned by the role that restores them; privileges are %s",
				  o.no_acl ? "not restored (--no-acl)" : "restored");
	status = tide_run_tool(rargv, 2, &errtext);
	tide_child_conn_free(&child);
	if (status != 0)
	{
		if (status > 128)
			tide_log_error("pg_restore was terminated by signal %d", status - 128);
		else if (status > 0)
			tide_log_error("pg_restore failed with exit code %d", status);
		tide_log_tool_output("pg_restore", errtext);
		if (status == 127)
			tide_log_hint("install the PostgreSQL client programs (pg_restore) of the replica's major version");
		else
			tide_log_hint("the replica holds a partial restore: drop and recreate its database before a new attempt");
		rc = TIDE_EXIT_REPLICA;
		goto out;
	}
	if (errtext && errtext[0])
	{
		tide_log_warning("pg_restore reported:");
		tide_log_tool_output("pg_restore", errtext);
	}

	if ((rc = record_base(&o, &m)) != 0)
		goto out;
	tide_log_info("base restored; the replica is at " LSN_FMT ": applying the segments of \"%s\"",
				  LSN_ARGS(m.consistent_point), o.dir);
	store_close(s);
	s = NULL;

	/* the rest is exactly tide apply */
	{
		apply_opts_t ao;

		apply_opts_init(&ao);
		ao.r.conninfo = o.conninfo;
		ao.dir = o.dir;
		ao.cache = cache[0] ? cache : NULL;
		if (o.until)
		{
			ao.until.arg = o.until;
			ao.until.is_lsn = o.until_is_lsn;
			ao.until.lsn = o.until_lsn;
			ao.until.time = o.until_time;
		}
		rc = tide_apply_run(&ao);
	}
out:
	free(errtext);
	tide_child_conn_free(&child);
	tide_conn_free(&o.conn);
	if (b)
	{
		store_base_free(b);
		free(b);
	}
	store_close(s);
	return rc;
}
