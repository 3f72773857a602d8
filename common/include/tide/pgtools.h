/*
 * common/include/tide/pgtools.h
 *		What the parts share to talk to PostgreSQL outside the replication
 *		protocol: the session every connection starts with, and running
 *		PostgreSQL's client programs (pg_dump, pg_restore) without leaking a
 *		secret into their argv.
 *
 * This is tide's fe_utils: `tide base` (streamer/) and `tide bootstrap`
 * (applier/) both use it, so neither includes the other's headers.
 * Functions returning int return 0 or a TIDE_EXIT_* code after logging,
 * unless said otherwise.
 */
#ifndef TIDE_PGTOOLS_H
#define TIDE_PGTOOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

/*
 * tide_pin_session - what every session tide opens does first (invariant
 * 8): search_path emptied, the text-form settings fixed.  0, or -1 with
 * the reason in PQerrorMessage(conn).
 */
int			tide_pin_session(PGconn *conn);

/*
 * tide_pin_session_sql - what tide_pin_session runs, as one query string,
 * for a session driven asynchronously (PQsendQuery).
 */
const char *tide_pin_session_sql(void);

/*
 * A connection string made fit for a child program's argv (pg_dump,
 * pg_restore): its secrets removed, the password moved to a private
 * owner-only passfile the string names.  Invariant 8: no secret in a
 * child's argv, where every local user can read it (ps, /proc).
 */
typedef struct
{
	char	   *conninfo;		/* owned: "" when there was nothing to pass */
	char		dir[4096];		/* private directory of the passfile, or "" */
	char		passfile[4200];
} tide_child_conn_t;

/*
 * tide_child_conn - split conninfo (a connection string, URI or database
 * name) with libpq's parser; TIDE_EXIT_USAGE (logged, without the string)
 * if it cannot be parsed or holds a secret that cannot leave argv.
 * tide_child_conn_free - remove the passfile, free the string.
 */
int			tide_child_conn(const char *conninfo, tide_child_conn_t *out);
void		tide_child_conn_free(tide_child_conn_t *c);

/*
 * tide_tool_path - where PostgreSQL's client program `tool` is: next to
 * `pg_config --bindir` if it is there, else the bare name (found on PATH
 * when run).
 */
void		tide_tool_path(const char *tool, char *out, size_t len);

/*
 * tide_run_tool - run argv[0] (searched on PATH when it has no '/'),
 * collecting what it writes to file descriptor `capture_fd` (1 or 2) into
 * *captured (malloc'd, NUL-terminated, truncated to 64 kB; caller frees).
 * SIGINT and SIGTERM received meanwhile are passed on to the child.
 * Returns its exit status, 128 + signal if it died of one, or -1 if it
 * could not be started (logged).
 */
int			tide_run_tool(char *const argv[], int capture_fd, char **captured);

/* tide_log_tool_output - each line of a tool's output as a detail line,
 * prefixed with the tool's name unless it starts with it. */
void		tide_log_tool_output(const char *tool, const char *text);

/* tide_remove_tree - rm -rf path; 0 or -errno. */
int			tide_remove_tree(const char *path);


/* tide_time_text - "2026-11-20T13:00:00.123456Z" for a PostgreSQL-epoch time. */
void		tide_time_text(char *buf, size_t len, int64_t t);

#endif /* TIDE_PGTOOLS_H */
