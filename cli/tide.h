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

#include <stdint.h>

#define TIDE_EXIT_OK 0
#define TIDE_EXIT_DIFFERENT 1	/* verify found a difference */
#define TIDE_EXIT_USAGE 2		/* bad arguments or options */
#define TIDE_EXIT_SOURCE 3		/* source connection or slot problem */
#define TIDE_EXIT_REPLICA 4		/* replica connection or schema problem */
#define TIDE_EXIT_CORRUPT 5		/* corrupt or inconsistent input files */
#define TIDE_EXIT_IO 6			/* local I/O: disk full, permissions */
#define TIDE_EXIT_BUG 70		/* internal error: please report */

/*
 * Logging, in PostgreSQL's message style: "tide: error: could not open
 * segment "x": No such file or directory", then detail and hint lines.
 * tide_log_info lines carry a UTC timestamp (long-running commands).
 */
void		tide_log_error(const char *fmt,...) __attribute__((format(printf, 1, 2)));
void		tide_log_warning(const char *fmt,...) __attribute__((format(printf, 1, 2)));
void		tide_log_info(const char *fmt,...) __attribute__((format(printf, 1, 2)));
void		tide_log_detail(const char *fmt,...) __attribute__((format(printf, 1, 2)));
void		tide_log_hint(const char *fmt,...) __attribute__((format(printf, 1, 2)));
extern int	tide_log_quiet;		/* suppress info lines */

/* Subcommands; each lives in its part's folder. */
int			tide_cmd_inspect(int argc, char **argv);	/* cli/inspect.c */
int			tide_cmd_stream(int argc, char **argv);	/* streamer/stream.c */
int			tide_cmd_ls(int argc, char **argv);	/* streamer/segdir.c */
int			tide_cmd_prune(int argc, char **argv);	/* streamer/segdir.c */
int			tide_cmd_apply(int argc, char **argv);	/* applier/apply.c */
int			tide_cmd_verify(int argc, char **argv);	/* applier/verify.c */
int			tide_cmd_base(int argc, char **argv);	/* streamer/base.c */
int			tide_cmd_bootstrap(int argc, char **argv);	/* applier/bootstrap.c */

/* tide_now - the current time as microseconds since 2000-01-01 UTC */
int64_t		tide_now(void);

/* tide_parse_duration - "15d", "1h", "90s", "500ms" into microseconds */
int			tide_parse_duration(const char *s, int64_t *usecs);

/* tide_parse_lsn - "16/B374D848" */
int			tide_parse_lsn(const char *s, uint64_t *lsn);

#endif /* TIDE_CLI_H */
