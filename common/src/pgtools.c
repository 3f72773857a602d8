/*
 * common/src/pgtools.c
 *		Running PostgreSQL's client programs and opening sessions the way
 *		every part of tide does (see tide/pgtools.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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
#include "tide/pgtools.h"

#define CAPTURE_MAX (64 * 1024)
#define PG_EPOCH_UNIX INT64_C(946684800)

/*
 * tide_pin_session - what every session tide opens does first (invariant 8):
 * an empty search_path, as PostgreSQL's tools do since CVE-2018-1058, and
 * the settings that change a type's text form.  0, or -1 (PQerrorMessage).
 */
const char *
tide_pin_session_sql(void)
{
	return "SELECT pg_catalog.set_config('search_path', '', false); "
		"SET DateStyle = ISO, MDY; SET IntervalStyle = postgres; SET extra_float_digits = 3; "
		"SET TimeZone = 'UTC'; SET bytea_output = 'hex'; SET lc_monetary = 'C'";
}

int
tide_pin_session(PGconn *conn)
{
	/* one query string: the server stops at the first error and says it */
	PGresult   *r = PQexec(conn, tide_pin_session_sql());
	ExecStatusType st = PQresultStatus(r);

	PQclear(r);
	return st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK ? 0 : -1;
}

/* put_quoted - ' key='value'' as libpq's connection strings quote it */
static void
put_quoted(FILE *f, const char *key, const char *val)
{
	fprintf(f, "%s%s='", ftell(f) > 0 ? " " : "", key);
	for (const char *c = val; *c; c++)
	{
		if (*c == '\\' || *c == '\'')
			fputc('\\', f);
		fputc(*c, f);
	}
	fputc('\'', f);
}

int
tide_child_conn(const char *conninfo, tide_child_conn_t *out)
{
	PQconninfoOption *opts = NULL;
	char	   *err = NULL;
	char	   *buf = NULL;
	size_t		len = 0;
	FILE	   *f;
	const char *password = NULL;
	int			rc = 0;

	memset(out, 0, sizeof(*out));
	if ((f = open_memstream(&buf, &len)) == NULL)
	{
		tide_log_error("out of memory");
		return TIDE_EXIT_BUG;
	}
	if (conninfo == NULL || conninfo[0] == '\0')
		;						/* PG* environment variables only */
	else if (strchr(conninfo, '=') == NULL && strncmp(conninfo, "postgresql://", 13) != 0 &&
			 strncmp(conninfo, "postgres://", 11) != 0)
		put_quoted(f, "dbname", conninfo);	/* a database name */
	else if ((opts = PQconninfoParse(conninfo, &err)) == NULL)
	{
		/* libpq's message may quote a piece of the string: a password */
		tide_log_error("could not parse the connection string");
		tide_log_hint("give key=value pairs or a postgresql:// URI (see libpq's \"Connection Strings\")");
		PQfreemem(err);
		rc = TIDE_EXIT_USAGE;
	}
	else
	{
		for (PQconninfoOption *o = opts; o->keyword; o++)
		{
			if (o->val == NULL)
				continue;
			if (strcmp(o->keyword, "password") == 0)
				password = o->val;
			else if (o->dispchar && o->dispchar[0] == '*')
			{
				tide_log_error("the connection string's \"%s\" cannot be passed on to pg_dump or pg_restore "
							   "without showing it to other local users", o->keyword);
				tide_log_hint("leave it out of the connection string (e.g. use a key file without a passphrase, mode 0600)");
				rc = TIDE_EXIT_USAGE;
				break;
			}
			else if (strcmp(o->keyword, "passfile") != 0 || password == NULL)
				put_quoted(f, o->keyword, o->val);
		}
	}

	/* invariant 8: the password goes to an owner-only file, never to argv */
	if (rc == 0 && password)
	{
		const char *tmp = getenv("TMPDIR");
		int			fd;
		FILE	   *pf;

		snprintf(out->dir, sizeof(out->dir), "%s/tide-pass-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
		if (mkdtemp(out->dir) == NULL)
		{
			tide_log_error("could not create a private directory \"%s\": %s", out->dir, strerror(errno));
			out->dir[0] = '\0';
			rc = TIDE_EXIT_IO;
		}
		else
		{
			snprintf(out->passfile, sizeof(out->passfile), "%s/pgpass", out->dir);
			fd = open(out->passfile, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (fd < 0 || (pf = fdopen(fd, "w")) == NULL)
			{
				tide_log_error("could not create \"%s\": %s", out->passfile, strerror(errno));
				if (fd >= 0)
					close(fd);
				rc = TIDE_EXIT_IO;
			}
			else
			{
				/* hostname:port:database:username:password, any of the first four */
				fputs("*:*:*:*:", pf);
				for (const char *c = password; *c; c++)
				{
					if (*c == ':' || *c == '\\')
						fputc('\\', pf);
					fputc(*c, pf);
				}
				fputc('\n', pf);
				if (fclose(pf) != 0)
				{
					tide_log_error("could not write \"%s\": %s", out->passfile, strerror(errno));
					rc = TIDE_EXIT_IO;
				}
				put_quoted(f, "passfile", out->passfile);
			}
		}
	}
	PQconninfoFree(opts);
	if (fclose(f) != 0 || buf == NULL)
	{
		tide_log_error("out of memory");
		rc = TIDE_EXIT_BUG;
	}
	out->conninfo = buf;
	if (rc != 0)
		tide_child_conn_free(out);
	return rc;
}

void
tide_child_conn_free(tide_child_conn_t *c)
{
	if (c->passfile[0])
		unlink(c->passfile);
	if (c->dir[0])
		rmdir(c->dir);
	free(c->conninfo);
	memset(c, 0, sizeof(*c));
}

void
tide_time_text(char *buf, size_t len, int64_t t)
{
	time_t		secs = (time_t) (t / 1000000 + PG_EPOCH_UNIX);
	struct tm	tm;
	char		s[32];

	gmtime_r(&secs, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06dZ", s, (int) (t % 1000000));
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
tide_remove_tree(const char *path)
{
	int			rc = nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);

	if (rc == -1 && errno == ENOENT)
		return 0;
	return rc > 0 ? -EIO : rc < 0 ? (errno ? -errno : -EIO) : 0;
}

void
tide_tool_path(const char *tool, char *out, size_t len)
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
tide_run_tool(char *const argv[], int capture_fd, char **captured)
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
tide_log_tool_output(const char *tool, const char *text)
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
