/*
 * common/include/tide/common.h
 *		What every part of the `tide` program shares: exit classes, logging,
 *		the clock, and one strict parser per kind of option value.
 *
 * This is the small library below the parts (PostgreSQL's src/common and
 * fe_utils): the streamer, the applier and the face (cli/) use it; it uses
 * nothing of theirs.
 *
 * Exit codes are by class, so a supervisor can tell "retry" from "page
 * someone"; they are documented in `tide --help` and README.md and never
 * change meaning.
 */
#ifndef TIDE_COMMON_H
#define TIDE_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIDE_EXIT_OK 0
#define TIDE_EXIT_DIFFERENT 1	/* verify found a difference */
#define TIDE_EXIT_USAGE 2		/* bad arguments or options */
#define TIDE_EXIT_SOURCE 3		/* source connection or slot problem */
#define TIDE_EXIT_REPLICA 4		/* replica connection, schema or divergence */
#define TIDE_EXIT_CORRUPT 5		/* corrupt or inconsistent input files */
#define TIDE_EXIT_IO 6			/* local I/O: disk full, permissions */
#define TIDE_EXIT_STORE 7		/* a remote store cannot be reached or
								 * refused the request (credentials, 5xx) */
#define TIDE_EXIT_ATTENTION 8	/* tide status: something needs a human
								 * (slot inactive, lag, a gap in the store) */
#define TIDE_EXIT_BUG 70		/* internal error: please report */

/*
 * Logging, in PostgreSQL's message style: "tide: error: could not open
 * segment "x": No such file or directory", then detail and hint lines.
 * tide_log_info lines carry a UTC timestamp (long-running commands).
 * Never pass a connection string or password to these.
 */
void		tide_log_error(const char *fmt,...) __attribute__((format(printf, 1, 2)));
void		tide_log_warning(const char *fmt,...) __attribute__((format(printf, 1, 2)));
void		tide_log_info(const char *fmt,...) __attribute__((format(printf, 1, 2)));
void		tide_log_detail(const char *fmt,...) __attribute__((format(printf, 1, 2)));
void		tide_log_hint(const char *fmt,...) __attribute__((format(printf, 1, 2)));
extern int	tide_log_quiet;		/* suppress info lines */

/* tide_now - the current time as microseconds since 2000-01-01 UTC */
int64_t		tide_now(void);

#define TIDE_LSN_FMT "%X/%X"
#define TIDE_LSN_ARGS(l) (unsigned) ((uint64_t) (l) >> 32), (unsigned) (l)

/*
 * Value parsers.  Each accepts exactly one written form and nothing else:
 * no blanks, no trailing characters, no sign where none makes sense, no
 * "nan", "inf" or hex floats, and a value out of range is an error rather
 * than wrapped or clamped.  They return 0, or -1 with *out untouched.
 *
 * tide_parse_int     decimal integer in [min, max]
 * tide_parse_duration "90s", "15min", "36h", "15d", "500ms", "2.5h", a bare
 *                    number of seconds; units us ms s min h d; result in
 *                    microseconds, at most max_usecs
 * tide_parse_size    "1GB", "512kB", "100MB", "1.5TB", a bare number of
 *                    bytes; units B kB MB GB TB (1024-based, case-insensitive)
 * tide_parse_lsn     "16/B374D848": 1-8 hex digits, '/', 1-8 hex digits
 * tide_parse_time    "2026-11-20 13:00:00+00", "2026-11-20T13:00:00.5Z",
 *                    "2026-11-20 13:00+01:30"; a zone (Z, UTC, +HH[:MM])
 *                    is required; result in microseconds since 2000-01-01 UTC
 */
int			tide_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);
int			tide_parse_duration(const char *s, int64_t max_usecs, int64_t *out);
int			tide_parse_size(const char *s, int64_t *out);
int			tide_parse_lsn(const char *s, uint64_t *out);
int			tide_parse_time(const char *s, int64_t *out);

/*
 * Option wrappers: the same parsers for a command-line option.  On a bad
 * value they log an error naming the option, the value and the accepted
 * form (and range), and return TIDE_EXIT_USAGE; else 0.  opt is the
 * option as the user spells it, e.g. "--retain".
 */
int			tide_opt_int(const char *opt, const char *val, int64_t min, int64_t max,
						 int64_t *out);
int			tide_opt_duration(const char *opt, const char *val, int64_t min_usecs,
							  int64_t max_usecs, int64_t *out);
int			tide_opt_size(const char *opt, const char *val, int64_t *out);
int			tide_opt_lsn(const char *opt, const char *val, uint64_t *out);
int			tide_opt_time(const char *opt, const char *val, int64_t *out);

/*
 * tide_opt_point - an LSN or a time (for --until, --from): *is_lsn says
 * which it was.
 */
int			tide_opt_point(const char *opt, const char *val, bool *is_lsn,
						   uint64_t *lsn, int64_t *time);

/* tide_format_duration - "15d", "1h30min", "90s" into buf */
void		tide_format_duration(int64_t usecs, char *buf, size_t len);

/*
 * tide_pwrite_all - write all n bytes of p at offset off, across short
 * writes and EINTR.  Returns 0 or -errno (ENOSPC reaches the caller, who
 * knows what the full disk means for its file).
 */
int			tide_pwrite_all(int fd, const void *p, size_t n, uint64_t off);

/* tide_fsync_path - fsync a file or a directory; 0 or -errno */
int			tide_fsync_path(const char *path);

#endif /* TIDE_COMMON_H */
