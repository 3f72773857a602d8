/*
 * cli/tide.h
 *		What every `tide` subcommand shares: exit codes and the entry points
 *		the dispatcher calls.
 *
 * Exit codes are by class, so a supervisor can tell "retry" from "page
 * someone"; they are documented in `tide --help` and README.md and never
 * change meaning.
 */
#ifndef TIDE_CLI_H
#define TIDE_CLI_H

#define TIDE_EXIT_OK 0
#define TIDE_EXIT_DIFFERENT 1	/* verify found a difference */
#define TIDE_EXIT_USAGE 2		/* bad arguments or options */
#define TIDE_EXIT_SOURCE 3		/* source connection or slot problem */
#define TIDE_EXIT_REPLICA 4		/* replica connection or schema problem */
#define TIDE_EXIT_CORRUPT 5		/* corrupt or inconsistent input files */
#define TIDE_EXIT_IO 6			/* local I/O: disk full, permissions */
#define TIDE_EXIT_BUG 70		/* internal error: please report */

/* tide_log_error - "tide: error: ..." on stderr, PostgreSQL message style */
void		tide_log_error(const char *fmt,...) __attribute__((format(printf, 1, 2)));
void		tide_log_detail(const char *fmt,...) __attribute__((format(printf, 1, 2)));
void		tide_log_hint(const char *fmt,...) __attribute__((format(printf, 1, 2)));

int			tide_cmd_inspect(int argc, char **argv);

#endif /* TIDE_CLI_H */
