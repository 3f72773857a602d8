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
 * The manifest and tool helpers here are shared with `tide bootstrap`
 * (applier/bootstrap.c) through base.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "tide/common.h"
#include "source.h"
#include "base.h"

#define LSN_FMT "%X/%X"
#define LSN_ARGS(l) (unsigned) ((uint64_t) (l) >> 32), (unsigned) (l)
#define CAPTURE_MAX (64 * 1024)
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

void
base_time_text(char *buf, size_t len, proto_time_t t)
{
	time_t		secs = (time_t) (t / 1000000 + PG_EPOCH_UNIX);
	struct tm	tm;
	char		s[32];

	gmtime_r(&secs, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06dZ", s, (int) (t % 1000000));
}

int
base_fsync_path(const char *path)
{
	int			fd = open(path, O_RDONLY);
	int			rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st;
	(void) ftw;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) != 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int
base_remove_tree(const char *path)
{
	int			rc = nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);

	if (rc == -1 && errno == ENOENT)
		return 0;
	return rc > 0 ? -EIO : rc < 0 ? (errno ? -errno : -EIO) : 0;
}

void
base_tool_path(const char *tool, char *out, size_t len)
{
	char		bindir[4096] = "";
	FILE	   *p = popen("pg_config --bindir 2>/dev/null", "r");

	if (p)
	{
		if (fgets(bindir, sizeof(bindir), p) == NULL)
			bindir[0] = '\0';
		pclose(p);
	}
	bindir[strcspn(bindir, "\n")] = '\0';
	if (bindir[0])
	{
		snprintf(out, len, "%s/%s", bindir, tool);
		if (access(out, X_OK) == 0)
			return;
	}
	snprintf(out, len, "%s", tool);
}

static volatile sig_atomic_t child_pid = 0;
static volatile sig_atomic_t got_signal = 0;

static void
forward_signal(int signum)
{
	got_signal = signum;
	if (child_pid > 0)
		kill((pid_t) child_pid, signum);
}

int
base_run_tool(char *const argv[], int capture_fd, char **captured)
{
	int			fds[2];
	pid_t		pid;
	char	   *buf = malloc(CAPTURE_MAX + 1);
	size_t		n = 0;
	int			status;
	struct sigaction sa;
	struct sigaction old_int;
	struct sigaction old_term;

	*captured = NULL;
	if (buf == NULL || pipe(fds) != 0)
	{
		tide_log_error("could not run %s: %s", argv[0], buf ? strerror(errno) : "out of memory");
		free(buf);
		return -1;
	}
	fflush(NULL);
	if ((pid = fork()) < 0)
	{
		tide_log_error("could not run %s: %s", argv[0], strerror(errno));
		close(fds[0]);
		close(fds[1]);
		free(buf);
		return -1;
	}
	if (pid == 0)
	{
		dup2(fds[1], capture_fd);
		close(fds[0]);
		close(fds[1]);
		execvp(argv[0], argv);
		fprintf(stderr, "could not execute \"%s\": %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward_signal;
	child_pid = pid;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	for (;;)
	{
		char		chunk[4096];
		ssize_t		r = read(fds[0], chunk, sizeof(chunk));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (n < CAPTURE_MAX)
		{
			size_t		take = (size_t) r < CAPTURE_MAX - n ? (size_t) r : CAPTURE_MAX - n;

			memcpy(buf + n, chunk, take);
			n += take;
		}
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0)
	{
		if (errno != EINTR)
		{
			status = -1;
			break;
		}
	}
	child_pid = 0;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	buf[n] = '\0';
	*captured = buf;
	if (status == -1)
		return -1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

void
base_log_output(const char *tool, const char *text)
{
	const char *p = text;

	while (p && *p)
	{
		size_t		len = strcspn(p, "\n");

		/* pg_dump and pg_restore name themselves on each line already */
		if (len > 0 && strncmp(p, tool, strlen(tool)) == 0 && p[strlen(tool)] == ':')
			tide_log_detail("%.*s", (int) len, p);
		else if (len > 0)
			tide_log_detail("%s: %.*s", tool, (int) len, p);
		p += len;
		if (*p == '\n')
			p++;
	}
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

int
base_manifest_write(const char *dir, const base_manifest_t *m)
{
	char		path[4200];
	char		t0[40];
	char		t1[40];
	char		lsn[32];
	char		version[64];
	FILE	   *f;
	int			err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, BASE_MANIFEST);
	if ((f = fopen(path, "w")) == NULL)
	{
		tide_log_error("could not create \"%s\": %s", path, strerror(errno));
		return TIDE_EXIT_IO;
	}
	base_time_text(t0, sizeof(t0), m->start_time);
	base_time_text(t1, sizeof(t1), m->end_time);
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
			"  \"end_time\": \"%s\",\n  \"end_time_usec\": %lld,\n  \"pg_dump_version\": ",
			t0, (long long) m->start_time, t1, (long long) m->end_time);
	json_string(f, m->pg_dump_version);
	fprintf(f, ",\n  \"jobs\": %d,\n  \"tide_version\": ", m->jobs);
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

int
base_manifest_read(const char *dir, base_manifest_t *m)
{
	char		path[4200];
	char		text[16384];
	char		v[PROTO_MAX_NAME + 1];
	FILE	   *f;
	size_t		n;
	const char *bad = NULL;

	memset(m, 0, sizeof(*m));
	snprintf(path, sizeof(path), "%s/%s", dir, BASE_MANIFEST);
	if ((f = fopen(path, "r")) == NULL)
	{
		tide_log_error("could not open base manifest \"%s\": %s", path, strerror(errno));
		return errno == ENOENT ? TIDE_EXIT_CORRUPT : TIDE_EXIT_IO;
	}
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';

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

	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
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
	if (mkdir(basedir, 0755) != 0 && errno != EEXIST)
	{
		tide_log_error("could not create base directory \"%s\": %s", basedir, strerror(errno));
		tide_log_hint("give the user running tide write access, or choose another -D");
		return TIDE_EXIT_IO;
	}
	if (base_fsync_path(dir) != 0)
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
	if (base_run_tool(argv, 1, &text) == 0 && text)
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
		rc = base_fsync_path(path);
	}
	closedir(d);
	return rc ? rc : base_fsync_path(dir);
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

	if ((rc = parse_args(&o, argc, argv)) != 0)
		return rc < 0 ? TIDE_EXIT_OK : rc;
	if ((rc = prepare_dirs(o.dir, basedir, sizeof(basedir))) != 0)
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
				 "SELECT plugin, database FROM pg_catalog.pg_replication_slots WHERE slot_name = %s",
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
	r = PQexec(conn, "SELECT current_setting('server_version_num'), "
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

	base_tool_path("pg_dump", pg_dump, sizeof(pg_dump));
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
	if (o.conninfo[0])
	{
		dargv[nargs++] = "--dbname";
		dargv[nargs++] = (char *) o.conninfo;
	}
	dargv[nargs] = NULL;
	tide_log_info("running %s with %d job%s into \"%s\"", pg_dump, o.jobs, o.jobs == 1 ? "" : "s", partial);
	t0 = tide_now();
	dump_started = true;
	status = base_run_tool(dargv, 2, &errtext);
	if (status != 0)
	{
		if (status > 128)
			tide_log_error("pg_dump was terminated by signal %d", status - 128);
		else if (status > 0)
			tide_log_error("pg_dump failed with exit code %d", status);
		base_log_output("pg_dump", errtext);
		if (status == 127)
			tide_log_hint("install the PostgreSQL client programs (pg_dump) of the source's major version or newer");
		rc = TIDE_EXIT_SOURCE;
		goto out;
	}
	if (errtext && errtext[0])
	{
		tide_log_warning("pg_dump reported:");
		base_log_output("pg_dump", errtext);
	}
	m.end_time = tide_now();

	/* manifest, fsync, then the name that says "complete" */
	if ((rc = base_manifest_write(partial, &m)) != 0)
		goto out;
	if ((status = sync_files(partial)) != 0)
	{
		tide_log_error("could not fsync base \"%s\": %s", partial, strerror(-status));
		rc = TIDE_EXIT_IO;
		goto out;
	}
	if (rename(partial, final) != 0 || base_fsync_path(basedir) != 0)
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
	if (rc != 0 && slot_created)
	{
		if (dump_started && base_remove_tree(partial) != 0)
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
