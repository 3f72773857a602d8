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
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libpq-fe.h>

#include "tide/common.h"
#include "tide/pgtools.h"
#include "../streamer/base.h"
#include "../streamer/segdir.h"
#include "apply.h"
#include "tide/segment.h"

#define LSN_FMT "%X/%X"
#define LSN_ARGS(l) (unsigned) ((uint64_t) (l) >> 32), (unsigned) (l)

typedef struct
{
	char	   *conninfo;
	char	   *dir;
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
			"Usage: tide bootstrap -d REPLICA_CONNINFO -D DIR [OPTIONS]\n\n"
			"Build a new replica: restore a base dump of DIR/base (written by tide base)\n"
			"into an empty database with pg_restore, record the base's consistent point\n"
			"in tide.progress, then apply every segment of DIR after it, as tide apply.\n\n"
			"Options:\n"
			"  -d, --dbname=CONNINFO  the replica (an empty database)\n"
			"  -D, --directory=DIR    segment directory holding base/ and the segments\n"
			"      --base=NAME        the base to restore (default: the newest complete)\n"
			"      --until=TIME|LSN   apply only the transactions committed at or before\n"
			"                         TIME (a timestamptz) or LSN\n"
			"  -j, --jobs=N           parallel pg_restore jobs (default 1)\n"
			"      --no-acl           do not restore privileges (GRANT/REVOKE): then the\n"
			"                         roles they name need not exist on the replica\n"
			"  -q, --quiet            only warnings and errors\n"
			"  -h, --help             this help\n\n"
			"Objects are owned by the role that bootstraps (ownership is not restored).\n"
			"Before restoring anything it checks that the replica is empty, has the\n"
			"source's encoding (or UTF8), can create the base's extensions and has the\n"
			"roles its privileges and policies name.\n\n"
			"Exit codes: 0 done, 2 bad arguments, no base or --until before it, 4 replica\n"
			"connection, replica not empty or lacking a role, an extension or the\n"
			"encoding, pg_restore or apply error, 5 damaged base or segments missing or\n"
			"of another source, 6 local I/O error.\n");
}

static int
parse_opts(int argc, char **argv, boot_opts_t *o)
{
	static const struct option opts[] = {
		{"dbname", required_argument, NULL, 'd'},
		{"directory", required_argument, NULL, 'D'},
		{"base", required_argument, NULL, 1},
		{"until", required_argument, NULL, 2},
		{"jobs", required_argument, NULL, 'j'},
		{"no-acl", no_argument, NULL, 3},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int			c;
	int			rc;

	memset(o, 0, sizeof(*o));
	o->jobs = 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:D:j:qh", opts, NULL)) != -1)
	{
		switch (c)
		{
			case 'd':
				o->conninfo = optarg;
				break;
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
			case 'q':
				tide_log_quiet = 1;
				break;
			case 'h':
				bootstrap_usage(stdout);
				return -1;
			default:
				bootstrap_usage(stderr);
				return TIDE_EXIT_USAGE;
		}
	}
	if (optind < argc)
	{
		tide_log_error("unexpected argument \"%s\"", argv[optind]);
		bootstrap_usage(stderr);
		return TIDE_EXIT_USAGE;
	}
	if (o->dir == NULL || o->conninfo == NULL)
	{
		tide_log_error("tide bootstrap needs -d REPLICA_CONNINFO and -D DIR");
		bootstrap_usage(stderr);
		return TIDE_EXIT_USAGE;
	}
	if (o->base && (strchr(o->base, '/') || strcmp(o->base, ".") == 0 || strcmp(o->base, "..") == 0))
	{
		tide_log_error("invalid --base \"%s\": give the name of a directory in %s/%s", o->base, o->dir, BASE_SUBDIR);
		return TIDE_EXIT_USAGE;
	}
	return 0;
}

/*
 * find_base - the directory of the base to restore into path: --base, or
 * the newest complete one (names sort in time order; ".partial" ones are
 * unfinished or abandoned).
 */
static int
find_base(const boot_opts_t *o, char *path, size_t len)
{
	char		basedir[4200];
	char		best[256] = "";
	DIR		   *d;
	struct dirent *de;
	struct stat st;

	snprintf(basedir, sizeof(basedir), "%s/%s", o->dir, BASE_SUBDIR);
	if (o->base)
	{
		size_t		n = strlen(o->base);

		snprintf(path, len, "%s/%s", basedir, o->base);
		if (n > strlen(BASE_PARTIAL_SUFFIX) &&
			strcmp(o->base + n - strlen(BASE_PARTIAL_SUFFIX), BASE_PARTIAL_SUFFIX) == 0)
		{
			tide_log_error("base \"%s\" is not complete", path);
			tide_log_detail("a base is renamed without \"%s\" once pg_dump and its manifest are durable", BASE_PARTIAL_SUFFIX);
			tide_log_hint("take a new base with tide base, or choose a complete one with --base");
			return TIDE_EXIT_USAGE;
		}
		if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		{
			tide_log_error("base \"%s\" does not exist", path);
			tide_log_hint("list the bases with: ls %s", basedir);
			return TIDE_EXIT_USAGE;
		}
		return 0;
	}
	if ((d = opendir(basedir)) == NULL && errno != ENOENT)
	{
		tide_log_error("could not open base directory \"%s\": %s", basedir, strerror(errno));
		return TIDE_EXIT_IO;
	}
	while (d && (de = readdir(d)) != NULL)
	{
		char		p[4500];

		if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof(best) ||
			strstr(de->d_name, BASE_PARTIAL_SUFFIX))
			continue;
		snprintf(p, sizeof(p), "%s/%s/%s", basedir, de->d_name, BASE_MANIFEST);
		if (stat(p, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (strcmp(de->d_name, best) > 0)
			snprintf(best, sizeof(best), "%s", de->d_name);
	}
	if (d)
		closedir(d);
	if (best[0] == '\0')
	{
		tide_log_error("no complete base dump in \"%s\"", basedir);
		tide_log_hint("take one with: tide base -d SOURCE -S SLOT -D %s", o->dir);
		return TIDE_EXIT_USAGE;
	}
	snprintf(path, len, "%s/%s", basedir, best);
	return 0;
}

/*
 * check_segments - the segments (if any) come from the base's source and
 * the oldest reaches back to the base's consistent point: otherwise the
 * restore would be wasted on a replica that cannot be brought forward.
 */
static int
check_segments(const char *dir, const char *base, const base_manifest_t *m)
{
	segdir_list_t list;
	seg_reader_t sr;
	seg_header_t *h;
	char		path[4200];
	uint64_t	at = 0;
	int			rc;

	if ((rc = segdir_list(dir, &list)) != 0)
	{
		tide_log_error("could not read segment directory \"%s\": %s", dir, tide_strerror(rc));
		return TIDE_EXIT_IO;
	}
	if (list.n == 0)
	{
		segdir_list_free(&list);
		tide_log_info("no segments in \"%s\" yet: the replica will be the base alone", dir);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/%s%s", dir, list.v[0].name,
			 list.v[0].partial ? SEG_PARTIAL_SUFFIX : SEG_SUFFIX);
	segdir_list_free(&list);
	if ((rc = seg_reader_open(&sr, path, &at)) != 0)
	{
		tide_log_error("could not read segment \"%s\" at byte offset %llu: %s",
					   path, (unsigned long long) at, tide_strerror(rc));
		seg_reader_close(&sr);
		return rc <= TIDE__EBASE ? TIDE_EXIT_CORRUPT : TIDE_EXIT_IO;
	}
	h = &sr.header;
	rc = 0;
	if (h->system_id != m->system_id ||
		h->dbname.n != strlen(m->dbname) || memcmp(h->dbname.p, m->dbname, h->dbname.n) != 0 ||
		h->slot.n != strlen(m->slot) || memcmp(h->slot.p, m->slot, h->slot.n) != 0)
	{
		tide_log_error("the segments in \"%s\" come from another source than base \"%s\"", dir, base);
		tide_log_detail("segment \"%s\" is from system %llu, database \"%.*s\", slot \"%.*s\"; "
						"the base from system %llu, database \"%s\", slot \"%s\"",
						path, (unsigned long long) h->system_id, (int) h->dbname.n, h->dbname.p,
						(int) h->slot.n, h->slot.p, (unsigned long long) m->system_id,
						m->dbname, m->slot);
		tide_log_hint("keep a base with the segments of the slot it created");
		rc = TIDE_EXIT_CORRUPT;
	}
	else if (h->start_lsn > m->consistent_point)
	{
		tide_log_error("segments are missing: the changes from " LSN_FMT " to " LSN_FMT " are in none of the files",
					   LSN_ARGS(m->consistent_point), LSN_ARGS(h->start_lsn));
		tide_log_detail("base \"%s\" ends at " LSN_FMT " but the oldest segment, \"%s\", starts at " LSN_FMT,
						base, LSN_ARGS(m->consistent_point), path, LSN_ARGS(h->start_lsn));
		tide_log_hint("restore the missing segment files, or bootstrap from a newer base; nothing was restored");
		rc = TIDE_EXIT_CORRUPT;
	}
	seg_reader_close(&sr);
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
check_until(const boot_opts_t *o, const base_manifest_t *m, const char *base)
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
check_replica(const boot_opts_t *o, const base_manifest_t *m, const base_prereqs_t *pre)
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
record_base(const boot_opts_t *o, const base_manifest_t *m)
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
	base_manifest_t m;
	base_prereqs_t pre;
	tide_child_conn_t child;
	char		base[4200];
	char		pg_restore[4200];
	char		jobs_arg[16];
	char		when[40];
	char	   *rargv[16];
	char	   *errtext = NULL;
	int			n = 0;
	int			status;
	int			rc;

	memset(&pre, 0, sizeof(pre));
	memset(&child, 0, sizeof(child));
	if ((rc = parse_opts(argc, argv, &o)) != 0)
		return rc < 0 ? TIDE_EXIT_OK : rc;
	tide_tool_path("pg_restore", pg_restore, sizeof(pg_restore));
	if ((rc = find_base(&o, base, sizeof(base))) != 0 ||
		(rc = base_manifest_read(base, &m)) != 0 ||
		(rc = base_prereqs_read(base, &pre)) != 0 ||
		(rc = check_until(&o, &m, base)) != 0 ||
		(rc = check_segments(o.dir, base, &m)) != 0 ||
		(rc = check_archive(pg_restore, base)) != 0 ||
		(rc = check_replica(&o, &m, &pre)) != 0 ||
		(rc = tide_child_conn(o.conninfo, &child)) != 0)
	{
		base_prereqs_free(&pre);
		return rc;
	}
	base_prereqs_free(&pre);

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
				  base, (unsigned long long) m.system_id, m.dbname, LSN_ARGS(m.consistent_point),
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
		free(errtext);
		return TIDE_EXIT_REPLICA;
	}
	if (errtext && errtext[0])
	{
		tide_log_warning("pg_restore reported:");
		tide_log_tool_output("pg_restore", errtext);
	}
	free(errtext);

	if ((rc = record_base(&o, &m)) != 0)
		return rc;
	tide_log_info("base restored; the replica is at " LSN_FMT ": applying the segments of \"%s\"",
				  LSN_ARGS(m.consistent_point), o.dir);

	/* the rest is exactly tide apply */
	{
		char		cmd[] = "apply";
		char		d[] = "--dbname";
		char		D[] = "--directory";
		char		u[] = "--until";
		char	   *aargv[8];
		int			an = 0;

		aargv[an++] = cmd;
		aargv[an++] = d;
		aargv[an++] = o.conninfo;
		aargv[an++] = D;
		aargv[an++] = o.dir;
		if (o.until)
		{
			aargv[an++] = u;
			aargv[an++] = o.until;
		}
		aargv[an] = NULL;
		return tide_cmd_apply(an, aargv);
	}
}
