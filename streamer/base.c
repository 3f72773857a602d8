/*
 * streamer/base.c
 *		`tide base`: create the slot with an exported snapshot and take a
 *		consistent pg_dump with it, the start of the slot's history.
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
 * The manifest and tool helpers here are shared with `tide bootstrap`
 * (applier/bootstrap.c) through base.h.
 */
#include <dirent.h>
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

#include "tide/common.h"
#include "tide/pgtools.h"
#include "source.h"
#include "base.h"

#define LSN_FMT "%X/%X"
#define LSN_ARGS(l) (unsigned) ((uint64_t) (l) >> 32), (unsigned) (l)
#define PG_EPOCH_UNIX INT64_C(946684800)

typedef struct
{
	const char *conninfo;
	const char *host;			/* -h, -p, -U: as tide stream's */
	const char *port;
	const char *user;
	const char *slot;
	const char *dir;
	int			jobs;
} base_opts_t;

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

/* ------------------------------------------------------------- manifest */

static void
json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* json_array - "[\"a\", \"b\"]" */
static void
json_array(FILE *f, char *const *v, int n)
{
	fputc('[', f);
	for (int i = 0; i < n; i++)
	{
		if (i)
			fputs(", ", f);
		json_string(f, v[i]);
	}
	fputc(']', f);
}

int
base_manifest_write(const char *dir, const base_manifest_t *m, const base_prereqs_t *p)
{
	char		path[4200];
	char		t0[40];
	char		t1[40];
	char		ts[40];
	char		lsn[32];
	char		version[64];
	FILE	   *f;
	int			fd;
	int			err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, BASE_MANIFEST);
	/* invariant 8: owner-only, and never through a planted link */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL)
	{
		tide_log_error("could not create \"%s\": %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return TIDE_EXIT_IO;
	}
	tide_time_text(t0, sizeof(t0), m->start_time);
	tide_time_text(t1, sizeof(t1), m->end_time);
	tide_time_text(ts, sizeof(ts), m->source_time);
	snprintf(lsn, sizeof(lsn), LSN_FMT, LSN_ARGS(m->consistent_point));
	snprintf(version, sizeof(version), "tide (wire format %d)", PROTO_FORMAT_VERSION);
	fprintf(f, "{\n  \"format\": %d,\n", m->format);
	/* a string: 64-bit identifiers do not survive JSON readers' doubles */
	fprintf(f, "  \"system_identifier\": \"%llu\",\n", (unsigned long long) m->system_id);
	fprintf(f, "  \"timeline\": %u,\n  \"database\": ", m->timeline);
	json_string(f, m->dbname);
	fprintf(f, ",\n  \"encoding\": ");
	json_string(f, m->encoding);
	fprintf(f, ",\n  \"server_version_num\": %u,\n  \"slot\": ", m->server_version);
	json_string(f, m->slot);
	fprintf(f, ",\n  \"consistent_point\": \"%s\",\n  \"snapshot\": ", lsn);
	json_string(f, m->snapshot);
	fprintf(f, ",\n  \"start_time\": \"%s\",\n  \"start_time_usec\": %lld,\n"
			"  \"end_time\": \"%s\",\n  \"end_time_usec\": %lld,\n",
			t0, (long long) m->start_time, t1, (long long) m->end_time);
	if (m->source_time)
		fprintf(f, "  \"source_time\": \"%s\",\n  \"source_time_usec\": %lld,\n",
				ts, (long long) m->source_time);
	fprintf(f, "  \"pg_dump_version\": ");
	json_string(f, m->pg_dump_version);
	fprintf(f, ",\n  \"jobs\": %d,\n", m->jobs);
	if (p && p->recorded)
	{
		fprintf(f, "  \"roles\": ");
		json_array(f, p->roles, p->nroles);
		fprintf(f, ",\n  \"roles_without_acl\": ");
		json_array(f, p->roles_no_acl, p->nroles_no_acl);
		fprintf(f, ",\n  \"extensions\": ");
		json_array(f, p->exts, p->nexts);
		fprintf(f, ",\n  \"extension_versions\": ");
		json_array(f, p->ext_versions, p->nexts);
		fprintf(f, ",\n");
	}
	fprintf(f, "  \"tide_version\": ");
	json_string(f, version);
	fprintf(f, "\n}\n");
	if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0)
		err = errno ? errno : EIO;
	if (fclose(f) != 0 && err == 0)
		err = errno;
	if (err)
	{
		tide_log_error("could not write \"%s\": %s", path, strerror(err));
		return TIDE_EXIT_IO;
	}
	return 0;
}

/*
 * json_find - the value of "key" in the flat object text: a string
 * (unescaped into out) or a bare number/literal.  0, or -1 if missing or
 * malformed.
 */
static int
json_find(const char *text, const char *key, char *out, size_t len)
{
	char		pat[80];
	const char *p;
	size_t		n = 0;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	if ((p = strstr(text, pat)) == NULL)
		return -1;
	p += strlen(pat);
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p++ != ':')
		return -1;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p != '"')
	{
		while (*p && strchr(",}\n\r \t", *p) == NULL && n + 1 < len)
			out[n++] = *p++;
		out[n] = '\0';
		return n > 0 ? 0 : -1;
	}
	for (p++; *p != '"'; p++)
	{
		char		c = *p;

		if (c == '\0' || n + 1 >= len)
			return -1;
		if (c == '\\')
		{
			c = *++p;
			if (c == 'u')
			{
				unsigned	u;

				if (sscanf(p + 1, "%4x", &u) != 1 || u == 0 || u > 0x7f)
					return -1;
				c = (char) u;
				p += 4;
			}
			else if (c == 'n')
				c = '\n';
			else if (c == 't')
				c = '\t';
			else if (c != '"' && c != '\\' && c != '/')
				return -1;
		}
		out[n++] = c;
	}
	out[n] = '\0';
	return 0;
}

/*
 * json_str - the JSON string at *p (just past its opening quote) unescaped
 * into a malloc'd string; *p is left past the closing quote.  NULL if
 * malformed.
 */
static char *
json_str(const char **p)
{
	size_t		cap = 64,
				n = 0;
	char	   *out = malloc(cap);

	for (; out && **p != '"'; (*p)++)
	{
		char		c = **p;

		if (c == '\0')
			break;
		if (c == '\\')
		{
			c = *++(*p);
			if (c == 'u')
			{
				unsigned	u;

				if (sscanf(*p + 1, "%4x", &u) != 1 || u == 0 || u > 0x7f)
					break;
				c = (char) u;
				*p += 4;
			}
			else if (c == 'n')
				c = '\n';
			else if (c == 't')
				c = '\t';
			else if (c != '"' && c != '\\' && c != '/')
				break;
		}
		if (n + 2 > cap && (out = realloc(out, cap *= 2)) == NULL)
			break;
		out[n++] = c;
	}
	if (out == NULL || **p != '"')
	{
		free(out);
		return NULL;
	}
	(*p)++;
	out[n] = '\0';
	return out;
}

/* json_strings - the array of strings under "key": 0, or -1 if missing or malformed */
static int
json_strings(const char *text, const char *key, char ***out, int *n)
{
	char		pat[80];
	const char *p;
	int			cap = 0;

	*out = NULL;
	*n = 0;
	snprintf(pat, sizeof(pat), "\"%s\"", key);
	if ((p = strstr(text, pat)) == NULL)
		return -1;
	p += strlen(pat);
	p += strspn(p, " \t\r\n");
	if (*p++ != ':')
		return -1;
	p += strspn(p, " \t\r\n");
	if (*p++ != '[')
		return -1;
	for (;;)
	{
		char	   *v;

		p += strspn(p, " \t\r\n");
		if (*p == ']')
			return 0;
		if (*n > 0)
		{
			if (*p++ != ',')
				break;
			p += strspn(p, " \t\r\n");
		}
		if (*p++ != '"' || (v = json_str(&p)) == NULL)
			break;
		if (*n == cap)
		{
			char	  **grown = realloc(*out, sizeof(char *) * (cap = cap ? 2 * cap : 16));

			if (grown == NULL)
			{
				free(v);
				break;
			}
			*out = grown;
		}
		(*out)[(*n)++] = v;
	}
	for (int i = 0; i < *n; i++)
		free((*out)[i]);
	free(*out);
	*out = NULL;
	*n = 0;
	return -1;
}

/* manifest_text - dir's manifest.json, malloc'd; logs and returns an exit code */
static int
manifest_text(const char *dir, char *path, size_t plen, char **text)
{
	FILE	   *f;
	size_t		cap = 16384,
				n = 0;
	char	   *buf;

	*text = NULL;
	snprintf(path, plen, "%s/%s", dir, BASE_MANIFEST);
	if ((f = fopen(path, "r")) == NULL)
	{
		tide_log_error("could not open base manifest \"%s\": %s", path, strerror(errno));
		return errno == ENOENT ? TIDE_EXIT_CORRUPT : TIDE_EXIT_IO;
	}
	buf = malloc(cap);
	while (buf)
	{
		size_t		r = fread(buf + n, 1, cap - n - 1, f);

		n += r;
		if (r == 0 || n + 1 < cap)
			break;
		if (cap >= 16 * 1024 * 1024)
			break;				/* a manifest is small: the rest is damage */
		buf = realloc(buf, cap *= 2);
	}
	fclose(f);
	if (buf == NULL)
	{
		tide_log_error("out of memory");
		return TIDE_EXIT_BUG;
	}
	buf[n] = '\0';
	*text = buf;
	return 0;
}

int
base_manifest_read(const char *dir, base_manifest_t *m)
{
	char		path[4200];
	char	   *text;
	char		v[PROTO_MAX_NAME + 1];
	const char *bad = NULL;
	int			rc;

	memset(m, 0, sizeof(*m));
	if ((rc = manifest_text(dir, path, sizeof(path), &text)) != 0)
		return rc;

#define FIELD(key) (bad == NULL && json_find(text, key, v, sizeof(v)) != 0 ? (bad = key, false) : bad == NULL)
	if (FIELD("format"))
		m->format = atoi(v);
	if (FIELD("system_identifier"))
		m->system_id = strtoull(v, NULL, 10);
	if (FIELD("timeline"))
		m->timeline = (uint32_t) strtoul(v, NULL, 10);
	if (FIELD("database"))
		snprintf(m->dbname, sizeof(m->dbname), "%s", v);
	if (FIELD("encoding"))
		snprintf(m->encoding, sizeof(m->encoding), "%s", v);
	if (FIELD("server_version_num"))
		m->server_version = (uint32_t) strtoul(v, NULL, 10);
	if (FIELD("slot"))
		snprintf(m->slot, sizeof(m->slot), "%s", v);
	if (FIELD("consistent_point") && tide_parse_lsn(v, &m->consistent_point) != 0)
		bad = "consistent_point";
	if (FIELD("snapshot"))
		snprintf(m->snapshot, sizeof(m->snapshot), "%s", v);
	if (FIELD("start_time_usec"))
		m->start_time = strtoll(v, NULL, 10);
	if (FIELD("end_time_usec"))
		m->end_time = strtoll(v, NULL, 10);
	if (FIELD("pg_dump_version"))
		snprintf(m->pg_dump_version, sizeof(m->pg_dump_version), "%s", v);
	if (FIELD("jobs"))
		m->jobs = atoi(v);
#undef FIELD
	/* optional: bases of an earlier tide lack it */
	if (bad == NULL && json_find(text, "source_time_usec", v, sizeof(v)) == 0 &&
		tide_parse_int(v, 1, INT64_MAX, &m->source_time) != 0)
		bad = "source_time_usec";
	free(text);
	if (bad == NULL && (m->format < 1 || m->format > BASE_MANIFEST_FORMAT))
	{
		tide_log_error("base manifest \"%s\" has format %d; this tide reads format %d",
					   path, m->format, BASE_MANIFEST_FORMAT);
		return TIDE_EXIT_CORRUPT;
	}
	if (bad == NULL && (m->system_id == 0 || m->dbname[0] == '\0' || m->slot[0] == '\0'))
		bad = "system_identifier";
	if (bad)
	{
		tide_log_error("base manifest \"%s\" is damaged: field \"%s\" is missing or invalid", path, bad);
		return TIDE_EXIT_CORRUPT;
	}
	return 0;
}

int
base_prereqs_read(const char *dir, base_prereqs_t *p)
{
	char		path[4200];
	char	   *text;
	int			rc;
	int			nv = 0;

	memset(p, 0, sizeof(*p));
	if ((rc = manifest_text(dir, path, sizeof(path), &text)) != 0)
		return rc;
	if (strstr(text, "\"roles\"") == NULL)
	{
		free(text);
		return 0;				/* an earlier tide's base: nothing recorded */
	}
	if (json_strings(text, "roles", &p->roles, &p->nroles) != 0 ||
		json_strings(text, "roles_without_acl", &p->roles_no_acl, &p->nroles_no_acl) != 0 ||
		json_strings(text, "extensions", &p->exts, &p->nexts) != 0 ||
		json_strings(text, "extension_versions", &p->ext_versions, &nv) != 0 || nv != p->nexts)
	{
		free(text);
		base_prereqs_free(p);
		tide_log_error("base manifest \"%s\" is damaged: its roles or extensions cannot be read", path);
		return TIDE_EXIT_CORRUPT;
	}
	free(text);
	p->recorded = true;
	return 0;
}

static void
free_strings(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
base_prereqs_free(base_prereqs_t *p)
{
	free_strings(p->roles, p->nroles);
	free_strings(p->roles_no_acl, p->nroles_no_acl);
	free_strings(p->exts, p->nexts);
	free_strings(p->ext_versions, p->nexts);
	memset(p, 0, sizeof(*p));
}

/* ------------------------------------------------------------- command */

static void
base_usage(FILE *f)
{
	fprintf(f,
			"Usage: tide base -d CONNINFO -S SLOT -D DIR [OPTIONS]\n\n"
			"Create the logical replication slot SLOT (plugin tide) with an exported\n"
			"snapshot and, while the snapshot is held, dump the database with pg_dump\n"
			"into DIR/base/<UTC time>/ (directory format) with a manifest.json that\n"
			"records the slot's consistent point.  `tide stream -S SLOT -D DIR`\n"
			"afterwards continues exactly where the dump ends; `tide bootstrap`\n"
			"builds a replica from the two.\n\n"
			"  -d, --dbname=CONNINFO   source connection (PG* variables apply)\n"
			"  -h, --host=HOST         source host or socket directory\n"
			"  -p, --port=PORT         source port\n"
			"  -U, --username=USER     source user (needs REPLICATION)\n"
			"  -S, --slot=SLOT         replication slot to create (must not exist)\n"
			"  -D, --directory=DIR     segment directory (created if missing)\n"
			"  -j, --jobs=N            parallel pg_dump jobs (default 1)\n"
			"  -q, --quiet             only warnings and errors\n"
			"      --help              this help\n\n"
			"Exit codes: 0 done, 2 bad arguments, 3 source connection, slot or\n"
			"pg_dump problem (the slot is dropped again), 6 local I/O error.\n");
}

static int
parse_args(base_opts_t *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{"dbname", required_argument, NULL, 'd'},
		{"host", required_argument, NULL, 'h'},
		{"port", required_argument, NULL, 'p'},
		{"username", required_argument, NULL, 'U'},
		{"slot", required_argument, NULL, 'S'},
		{"directory", required_argument, NULL, 'D'},
		{"jobs", required_argument, NULL, 'j'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 1},
		{NULL, 0, NULL, 0}
	};
	int			c;
	int			rc;

	memset(o, 0, sizeof(*o));
	o->jobs = 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:h:p:U:S:D:j:q", opts, NULL)) != -1)
	{
		switch (c)
		{
			case 'd':
				o->conninfo = optarg;
				break;
			case 'h':
				o->host = optarg;
				break;
			case 'p':
				o->port = optarg;
				break;
			case 'U':
				o->user = optarg;
				break;
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
			case 1:
				base_usage(stdout);
				return -1;
			default:
				base_usage(stderr);
				return TIDE_EXIT_USAGE;
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
	if (o->conninfo == NULL)
		o->conninfo = "";		/* PG* environment variables */
	return 0;
}


/*
 * prepare_dirs - DIR and DIR/base exist and DIR holds no segments: the
 * slot this base creates starts a new history, which segments of an
 * earlier stream would contradict.
 */
static int
prepare_dirs(const char *dir, char *basedir, size_t len)
{
	DIR		   *d;
	struct dirent *de;
	int			rc = 0;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
	{
		tide_log_error("could not create segment directory \"%s\": %s", dir, strerror(errno));
		return TIDE_EXIT_IO;
	}
	if ((d = opendir(dir)) == NULL)
	{
		tide_log_error("could not open segment directory \"%s\": %s", dir, strerror(errno));
		return TIDE_EXIT_IO;
	}
	while ((de = readdir(d)) != NULL)
	{
		size_t		n = strlen(de->d_name);

		if ((n > 5 && strcmp(de->d_name + n - 5, ".tseg") == 0) ||
			(n > 13 && strcmp(de->d_name + n - 13, ".tseg.partial") == 0))
		{
			tide_log_error("segment directory \"%s\" already holds segments (\"%s\")", dir, de->d_name);
			tide_log_detail("a base starts the history of a new slot; the segments there belong to an earlier one");
			tide_log_hint("give the new base and its stream a directory of their own");
			rc = TIDE_EXIT_USAGE;
			break;
		}
	}
	closedir(d);
	if (rc)
		return rc;
	snprintf(basedir, len, "%s/%s", dir, BASE_SUBDIR);
	if (mkdir(basedir, 0700) != 0 && errno != EEXIST)
	{
		tide_log_error("could not create base directory \"%s\": %s", basedir, strerror(errno));
		tide_log_hint("give the user running tide write access, or choose another -D");
		return TIDE_EXIT_IO;
	}
	if (tide_fsync_path(dir) != 0)
	{
		tide_log_error("could not fsync directory \"%s\": %s", dir, strerror(errno));
		return TIDE_EXIT_IO;
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

/* sync_files - fsync every file of a pg_dump directory, then the directory */
static int
sync_files(const char *dir)
{
	DIR		   *d = opendir(dir);
	struct dirent *de;
	char		path[4400];
	int			rc = 0;

	if (d == NULL)
		return -errno;
	while (rc == 0 && (de = readdir(d)) != NULL)
	{
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		rc = tide_fsync_path(path);
	}
	closedir(d);
	return rc ? rc : tide_fsync_path(dir);
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
snapshot_facts(const base_opts_t *o, base_manifest_t *m, base_prereqs_t *p)
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
		add(&p->roles, &p->nroles, PQgetvalue(r, i, 0));
		if (strcmp(PQgetvalue(r, i, 1), "t") == 0)
			add(&p->roles_no_acl, &p->nroles_no_acl, PQgetvalue(r, i, 0));
	}
	PQclear(r);
	r = PQexec(c, "SELECT e.extname, e.extversion FROM pg_catalog.pg_extension e ORDER BY e.extname");
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		goto failed;
	for (int i = 0; i < PQntuples(r); i++)
	{
		int			n = p->nexts;

		add(&p->exts, &p->nexts, PQgetvalue(r, i, 0));
		add(&p->ext_versions, &n, PQgetvalue(r, i, 1));
	}
	p->recorded = true;
	rc = 0;
	goto out;

failed:
	tide_log_error("could not read the source in the base's snapshot: %s", one_line(c));
out:
	PQclear(r);
	PQfinish(c);
	return rc;
}

int
tide_cmd_base(int argc, char **argv)
{
	base_opts_t o;
	base_manifest_t m;
	PGconn	   *conn = NULL;
	PGresult   *r = NULL;
	char		basedir[4200];
	char		partial[4300];
	char		final[4300];
	char		name[BASE_NAME_LEN + 1];
	char		pg_dump[4200];
	char		snapshot_arg[128];
	char		jobs_arg[16];
	char	   *dargv[24];
	char	   *errtext = NULL;
	int			nargs = 0;
	int			status;
	int			rc;
	bool		slot_created = false;
	bool		dump_started = false;	/* partial is ours to remove */
	int64_t		t0;
	base_prereqs_t pre;
	tide_child_conn_t child;

	memset(&pre, 0, sizeof(pre));
	memset(&child, 0, sizeof(child));
	if ((rc = parse_args(&o, argc, argv)) != 0)
		return rc < 0 ? TIDE_EXIT_OK : rc;
	/* invariant 8: the dump and its manifest are owner-only (pg_dump inherits it) */
	umask(077);
	if ((rc = prepare_dirs(o.dir, basedir, sizeof(basedir))) != 0)
		return rc;
	if ((rc = tide_child_conn(o.conninfo, &child)) != 0)
		return rc;
	memset(&m, 0, sizeof(m));
	m.format = BASE_MANIFEST_FORMAT;
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

	/* the slot must not exist: the base starts its history */
	{
		char	   *lit = PQescapeLiteral(conn, o.slot, strlen(o.slot));
		char		sql[512];

		snprintf(sql, sizeof(sql),
				 "SELECT s.plugin, s.database FROM pg_catalog.pg_replication_slots s "
				 "WHERE s.slot_name OPERATOR(pg_catalog.=) %s",
				 lit ? lit : "NULL");
		PQfreemem(lit);
		r = PQexec(conn, sql);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
		{
			tide_log_error("could not look up replication slot \"%s\": %s", o.slot, one_line(conn));
			rc = TIDE_EXIT_SOURCE;
			goto out;
		}
		if (PQntuples(r) > 0)
		{
			tide_log_error("replication slot \"%s\" already exists", o.slot);
			tide_log_detail("a base dump must start the slot's history: the slot is created with the dump's snapshot");
			tide_log_hint("drop it (SELECT pg_drop_replication_slot('%s')) or give another -S name", o.slot);
			rc = TIDE_EXIT_SOURCE;
			goto out;
		}
		PQclear(r);
		r = NULL;
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

	/* the slot, and the snapshot the dump runs in */
	{
		char	   *id = PQescapeIdentifier(conn, o.slot, strlen(o.slot));
		char		sql[512];

		snprintf(sql, sizeof(sql), "CREATE_REPLICATION_SLOT %s LOGICAL tide (SNAPSHOT 'export')", id ? id : "\"\"");
		PQfreemem(id);
		r = PQexec(conn, sql);
		if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) < 4)
		{
			const char *e = one_line(conn);

			tide_log_error("could not create replication slot \"%s\": %s", o.slot, e);
			if (strstr(e, "output_plugin_libraries") || strstr(e, "output plugin"))
				tide_log_hint("add tide to output_plugin_libraries on the source and reload it");
			rc = TIDE_EXIT_SOURCE;
			goto out;
		}
	}
	slot_created = true;
	m.start_time = tide_now();
	if (tide_parse_lsn(PQgetvalue(r, 0, 1), &m.consistent_point) != 0 || PQgetisnull(r, 0, 2))
	{
		tide_log_error("unexpected answer to CREATE_REPLICATION_SLOT: consistent point \"%s\"",
					   PQgetvalue(r, 0, 1));
		rc = TIDE_EXIT_SOURCE;
		goto out;
	}
	snprintf(m.snapshot, sizeof(m.snapshot), "%s", PQgetvalue(r, 0, 2));
	PQclear(r);
	r = NULL;
	tide_log_info("created replication slot \"%s\" at " LSN_FMT " with snapshot \"%s\"",
				  o.slot, LSN_ARGS(m.consistent_point), m.snapshot);
	if ((rc = snapshot_facts(&o, &m, &pre)) != 0)
		goto out;

	/* DIR/base/<start>.partial, named by the snapshot's time */
	{
		time_t		secs = (time_t) (m.start_time / 1000000 + PG_EPOCH_UNIX);
		struct tm	tm;
		struct stat st;

		gmtime_r(&secs, &tm);
		strftime(name, sizeof(name), "%Y%m%dT%H%M%SZ", &tm);
		snprintf(final, sizeof(final), "%s/%s", basedir, name);
		snprintf(partial, sizeof(partial), "%s%s", final, BASE_PARTIAL_SUFFIX);
		if (stat(final, &st) == 0 || stat(partial, &st) == 0)
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
	if ((rc = base_manifest_write(partial, &m, &pre)) != 0)
		goto out;
	if ((status = sync_files(partial)) != 0)
	{
		tide_log_error("could not fsync base \"%s\": %s", partial, strerror(-status));
		rc = TIDE_EXIT_IO;
		goto out;
	}
	if (rename(partial, final) != 0 || tide_fsync_path(basedir) != 0)
	{
		tide_log_error("could not rename \"%s\" to \"%s\": %s", partial, final, strerror(errno));
		rc = TIDE_EXIT_IO;
		goto out;
	}
	tide_log_info("base \"%s\" complete in %.1f s: consistent point " LSN_FMT ", source system %llu, database \"%s\"",
				  final, (double) (m.end_time - t0) / 1e6, LSN_ARGS(m.consistent_point),
				  (unsigned long long) m.system_id, m.dbname);
	tide_log_info("continue it with: tide stream -S %s -D %s", o.slot, o.dir);
	rc = 0;

out:
	free(errtext);
	PQclear(r);
	tide_child_conn_free(&child);
	base_prereqs_free(&pre);
	if (rc != 0 && slot_created)
	{
		if (dump_started && tide_remove_tree(partial) != 0)
			tide_log_warning("could not remove the partial base \"%s\"", partial);
		if (PQstatus(conn) == CONNECTION_OK)
			drop_slot(conn, o.slot);
		else
		{
			tide_log_warning("replication slot \"%s\" was left behind: the connection is gone", o.slot);
			tide_log_hint("drop it before a new attempt: SELECT pg_drop_replication_slot('%s')", o.slot);
		}
	}
	PQfinish(conn);
	return rc;
}
