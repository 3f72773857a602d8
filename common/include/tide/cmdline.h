/*
 * common/include/tide/cmdline.h
 *		What every command's option parsing shares: one getopt wrapper, the
 *		options every command takes (-?/--help, -V/--version) and the
 *		connection options as psql and pg_dump spell them (-d, -h, -p, -U,
 *		-w, -W).
 *
 * A command lists TIDE_STD_LONGOPTS (and TIDE_CONN_LONGOPTS when it
 * connects) in its struct option table, puts TIDE_CONN_SHORTOPTS in its
 * short options, reads them with tide_getopt, hands connection options to
 * tide_conn_opt and everything it does not know to tide_opt_std:
 *
 *		while ((c = tide_getopt(argc, argv, "D:q" TIDE_CONN_SHORTOPTS, opts)) != -1)
 *			if (tide_conn_opt(&conn, c, optarg)) continue;
 *			else switch (c) { ...; default: return tide_opt_std(c, usage); }
 *
 * then tide_conn_finish builds the one connection string the command
 * connects with.  Functions returning int return 0, -1 for "done, exit 0"
 * (help or version printed) or TIDE_EXIT_USAGE after logging.
 */
#ifndef TIDE_CMDLINE_H
#define TIDE_CMDLINE_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

/* what tide_getopt returns for -?/--help and for a refused option */
#define TIDE_OPT_HELP 0x7001
#define TIDE_OPT_ERROR 0x7002

#define TIDE_STD_LONGOPTS \
	{"help", no_argument, NULL, TIDE_OPT_HELP}, \
	{"version", no_argument, NULL, 'V'}

#define TIDE_CONN_SHORTOPTS "d:h:p:U:wW"
#define TIDE_CONN_LONGOPTS \
	{"dbname", required_argument, NULL, 'd'}, \
	{"host", required_argument, NULL, 'h'}, \
	{"port", required_argument, NULL, 'p'}, \
	{"username", required_argument, NULL, 'U'}, \
	{"no-password", no_argument, NULL, 'w'}, \
	{"password", no_argument, NULL, 'W'}

/*
 * tide_getopt - getopt_long with -? and -V added to shortopts and tide's
 * own messages: an unknown option or a missing value is logged naming it
 * and comes back as TIDE_OPT_ERROR; -? and --help as TIDE_OPT_HELP.
 * optind must be set to 1 by the caller before the first call (the
 * dispatcher calls one command per process, but tests call several).
 */
int			tide_getopt(int argc, char **argv, const char *shortopts,
						const struct option *longopts);

/*
 * tide_opt_std - what a command does with an option it does not handle
 * itself: help (usage to stdout, -1), version (-1), an error (the hint to
 * run --help, TIDE_EXIT_USAGE).  cmd is the command's name.
 */
int			tide_opt_std(int c, const char *cmd, void (*usage) (FILE *));

/* tide_version - the version of this build ("git describe") */
const char *tide_version(void);

/* tide_print_version - "tide VERSION (wire format N)" on stdout */
void		tide_print_version(void);

/* tide_std_usage - the -V and -? lines of a command's --help, their text
 * at column width */
void		tide_std_usage(FILE *f, int width);

/*
 * One connection as psql takes it: -d is a connection string, a URI or a
 * database name; -h, -p, -U override what it says; what neither gives
 * comes from the PG* environment (libpq).  tide never prompts for a
 * password unless -W asks (it runs unattended): -w is accepted for
 * psql's sake and is the default.
 */
typedef struct
{
	const char *dbname;			/* -d, or NULL */
	const char *host;			/* -h, or NULL */
	const char *port;			/* -p, or NULL */
	const char *user;			/* -U, or NULL */
	bool		prompt;			/* -W */
	char	   *conninfo;		/* owned: built by tide_conn_finish */
} tide_conn_opts_t;

/*
 * tide_conn_opt - if c is one of TIDE_CONN_SHORTOPTS, take it into *o and
 * return true.
 */
bool		tide_conn_opt(tide_conn_opts_t *o, int c, const char *arg);

/*
 * tide_conn_finish - o->conninfo: one connection string (key='value'
 * pairs, "" when nothing was given: libpq's environment and defaults)
 * with -h, -p, -U over what -d says and, with -W, the password read from
 * the terminal without echo (stdin when there is none).  what names the
 * connection in messages ("the replica").  The string may hold a
 * password: never log it; tide_child_conn moves it out of a child's argv.
 * TIDE_EXIT_USAGE when -d cannot be parsed (logged without the string).
 */
int			tide_conn_finish(tide_conn_opts_t *o, const char *what);
void		tide_conn_free(tide_conn_opts_t *o);

/*
 * tide_conn_usage - the connection options' lines of a command's --help.
 * what says what -d connects to ("the replica"), width is the column the
 * descriptions start at (the command's other lines use the same).
 */
void		tide_conn_usage(FILE *f, const char *what, int width);

/* tide_usage_line - "  OPTS   TEXT" with TEXT at column width */
void		tide_usage_line(FILE *f, int width, const char *opts, const char *text);

#endif /* TIDE_CMDLINE_H */
