/*
 * common/src/cmdline.c
 *		The option parsing every command shares: getopt with tide's messages,
 *		-?/--help, -V/--version and psql's connection options.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "tide/cmdline.h"
#include "tide/common.h"
#include "tide/wire.h"

#ifndef TIDE_VERSION
#define TIDE_VERSION "unknown"
#endif

int
tide_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	char		spec[128];
	int			c;

	/*
	 * ':' first: a missing value comes back as ':', not as '?'.  '?' is
	 * not in the list: -? comes back as an unknown option whose optopt is
	 * '?' (for a valid one getopt leaves optopt as it was, which cannot be
	 * told from an unknown one).
	 */
	snprintf(spec, sizeof(spec), ":%sV", shortopts);
	opterr = 0;
	c = getopt_long(argc, argv, spec, longopts, NULL);
	if (c == '?' && optopt == '?')
		return TIDE_OPT_HELP;
	if (c == '?')
	{
		if (optopt > 0 && optopt < 0x100)
			tide_log_error("unknown option \"-%c\"", optopt);
		else
			tide_log_error("unknown option \"%s\"", argv[optind - 1]);
		return TIDE_OPT_ERROR;
	}
	if (c == ':')
	{
		if (optopt > 0 && optopt < 0x100)
		{
			const struct option *lo = NULL;

			/* name it as it was written: -d or --dbname */
			if (strncmp(argv[optind - 1], "--", 2) == 0)
				tide_log_error("option \"%s\" needs a value", argv[optind - 1]);
			else
			{
				for (lo = longopts; lo && lo->name; lo++)
					if (lo->val == optopt && lo->flag == NULL)
						break;
				if (lo && lo->name)
					tide_log_error("option \"-%c\" (--%s) needs a value", optopt, lo->name);
				else
					tide_log_error("option \"-%c\" needs a value", optopt);
			}
		}
		else
			tide_log_error("option \"%s\" needs a value", argv[optind - 1]);
		return TIDE_OPT_ERROR;
	}
	return c;
}

int
tide_opt_std(int c, const char *cmd, void (*usage) (FILE *))
{
	switch (c)
	{
		case TIDE_OPT_HELP:
			usage(stdout);
			return -1;
		case 'V':
			tide_print_version();
			return -1;
		case TIDE_OPT_ERROR:
			tide_log_hint("run 'tide %s --help' for its options", cmd);
			return TIDE_EXIT_USAGE;
		default:
			tide_log_error("internal error: option %d of tide %s is not handled", c, cmd);
			return TIDE_EXIT_BUG;
	}
}

const char *
tide_version(void)
{
	return TIDE_VERSION;
}

void
tide_print_version(void)
{
	printf("tide %s (wire format %d)\n", TIDE_VERSION, PROTO_FORMAT_VERSION);
}

void
tide_usage_line(FILE *f, int width, const char *opts, const char *text)
{
	int			n = (int) strlen(opts) + 2;

	if (n + 1 > width)
		fprintf(f, "  %s\n%*s%s\n", opts, width, "", text);
	else
		fprintf(f, "  %s%*s%s\n", opts, width - n, "", text);
}

void
tide_std_usage(FILE *f, int width)
{
	tide_usage_line(f, width, "-V, --version", "print the version, then exit");
	tide_usage_line(f, width, "-?, --help", "show this help, then exit");
}

void
tide_conn_usage(FILE *f, const char *what, int width)
{
	char		text[256];

	snprintf(text, sizeof(text), "%s: a connection string, URI or database name", what);
	tide_usage_line(f, width, "-d, --dbname=CONNINFO", text);
	tide_usage_line(f, width, "-h, --host=HOST", "its server's host or socket directory");
	tide_usage_line(f, width, "-p, --port=PORT", "its server's port");
	tide_usage_line(f, width, "-U, --username=NAME", "the user to connect as");
	tide_usage_line(f, width, "-w, --no-password", "never prompt for a password (the default)");
	tide_usage_line(f, width, "-W, --password", "prompt for the password (not echoed)");
}

bool
tide_conn_opt(tide_conn_opts_t *o, int c, const char *arg)
{
	switch (c)
	{
		case 'd':
			o->dbname = arg;
			return true;
		case 'h':
			o->host = arg;
			return true;
		case 'p':
			o->port = arg;
			return true;
		case 'U':
			o->user = arg;
			return true;
		case 'w':
			o->prompt = false;
			return true;
		case 'W':
			o->prompt = true;
			return true;
		default:
			return false;
	}
}

/*
 * read_password - one line from the terminal with echo off (from stdin
 * when there is no terminal, as psql's simple_prompt does); NULL at EOF.
 * Owned by the caller, who wipes it.
 */
static char *
read_password(const char *what)
{
	FILE	   *in = fopen("/dev/tty", "r+");
	FILE	   *out = in;
	struct termios t0;
	struct termios t;
	bool		echo_off = false;
	char		line[1024];
	char	   *got;

	if (in == NULL)
	{
		in = stdin;
		out = stderr;
	}
	if (tcgetattr(fileno(in), &t0) == 0)
	{
		t = t0;
		t.c_lflag &= ~(tcflag_t) ECHO;
		t.c_lflag |= ECHONL;
		echo_off = tcsetattr(fileno(in), TCSAFLUSH, &t) == 0;
	}
	fprintf(out, "Password for %s: ", what);
	fflush(out);
	got = fgets(line, sizeof(line), in);
	if (echo_off)
		tcsetattr(fileno(in), TCSAFLUSH, &t0);
	if (in != stdin)
		fclose(in);
	if (got == NULL)
		return NULL;
	line[strcspn(line, "\r\n")] = '\0';
	got = strdup(line);
	explicit_bzero(line, sizeof(line));
	return got;
}

/* put - append " key='value'" (libpq's quoting) to buf */
static bool
put(char **buf, size_t *len, size_t *cap, const char *key, const char *val)
{
	size_t		need = *len + strlen(key) + 2 * strlen(val) + 8;

	if (need > *cap)
	{
		size_t		ncap = need * 2;
		char	   *n = malloc(ncap);

		if (n == NULL)
			return false;
		memcpy(n, *buf, *len + 1);
		explicit_bzero(*buf, *cap);
		free(*buf);
		*buf = n;
		*cap = ncap;
	}
	*len += (size_t) sprintf(*buf + *len, "%s%s='", *len ? " " : "", key);
	for (const char *s = val; *s; s++)
	{
		if (*s == '\'' || *s == '\\')
			(*buf)[(*len)++] = '\\';
		(*buf)[(*len)++] = *s;
	}
	(*buf)[(*len)++] = '\'';
	(*buf)[*len] = '\0';
	return true;
}

int
tide_conn_finish(tide_conn_opts_t *o, const char *what)
{
	PQconninfoOption *opts = NULL;
	const char *over[3][2] = {{"host", o->host}, {"port", o->port}, {"user", o->user}};
	char	   *password = NULL;
	char	   *buf;
	size_t		len = 0;
	size_t		cap = 256;
	bool		ok = true;

	if ((buf = calloc(1, cap)) == NULL)
		return TIDE_EXIT_BUG;
	if (o->dbname && o->dbname[0])
	{
		const char *d = o->dbname;

		if (strchr(d, '=') || strncmp(d, "postgresql://", 13) == 0 || strncmp(d, "postgres://", 11) == 0)
		{
			char	   *err = NULL;

			if ((opts = PQconninfoParse(d, &err)) == NULL)
			{
				/* libpq's message can quote the string: leave it out */
				tide_log_error("could not parse the connection string of %s given with -d", what);
				tide_log_hint("give key=value pairs, a postgresql:// URI or a database name");
				PQfreemem(err);
				free(buf);
				return TIDE_EXIT_USAGE;
			}
		}
		else
			ok = put(&buf, &len, &cap, "dbname", d);
	}
	for (PQconninfoOption *p = opts; ok && p && p->keyword; p++)
	{
		bool		overridden = false;

		if (p->val == NULL)
			continue;
		for (int i = 0; i < 3; i++)
			if (over[i][1] && strcmp(p->keyword, over[i][0]) == 0)
				overridden = true;
		if (!overridden)
			ok = put(&buf, &len, &cap, p->keyword, p->val);
	}
	PQconninfoFree(opts);
	for (int i = 0; ok && i < 3; i++)
		if (over[i][1])
			ok = put(&buf, &len, &cap, over[i][0], over[i][1]);
	if (ok && o->prompt)
	{
		if ((password = read_password(what)) == NULL)
		{
			tide_log_error("no password read for %s", what);
			explicit_bzero(buf, cap);
			free(buf);
			return TIDE_EXIT_USAGE;
		}
		ok = put(&buf, &len, &cap, "password", password);
		explicit_bzero(password, strlen(password));
		free(password);
	}
	if (!ok)
	{
		explicit_bzero(buf, cap);
		free(buf);
		tide_log_error("out of memory");
		return TIDE_EXIT_BUG;
	}
	o->conninfo = buf;
	return 0;
}

void
tide_conn_free(tide_conn_opts_t *o)
{
	if (o->conninfo)
	{
		explicit_bzero(o->conninfo, strlen(o->conninfo));
		free(o->conninfo);
	}
	o->conninfo = NULL;
}
