/*
 * streamer/base.h
 *		Base dumps: the manifest `tide base` writes beside pg_dump's output
 *		and `tide bootstrap` reads back, and the helpers both use to run
 *		PostgreSQL's client programs (pg_dump, pg_restore).
 *
 * A base lives in DIR/base/<UTC start, YYYYMMDDTHHMMSSZ>/ (".partial" while
 * it is written): a pg_dump directory-format archive plus manifest.json,
 * owner-only (directories 0700, files 0600) like a data directory.
 * Functions returning int return 0 or a TIDE_EXIT_* code after logging.
 */
#ifndef TIDE_BASE_H
#define TIDE_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "tide/wire.h"

#define BASE_SUBDIR "base"
#define BASE_MANIFEST "manifest.json"
#define BASE_PARTIAL_SUFFIX ".partial"
#define BASE_NAME_LEN 16		/* YYYYMMDDTHHMMSSZ */
#define BASE_MANIFEST_FORMAT 1

/* What manifest.json says. */
typedef struct
{
	int			format;
	uint64_t	system_id;
	uint32_t	timeline;
	char		dbname[PROTO_MAX_NAME + 1];
	char		encoding[PROTO_MAX_NAME + 1];
	char		slot[PROTO_MAX_NAME + 1];
	uint32_t	server_version;
	proto_lsn_t consistent_point;
	char		snapshot[64];
	proto_time_t start_time;	/* just after the snapshot was taken (this host's clock) */
	proto_time_t end_time;		/* pg_dump finished (this host's clock) */
	/*
	 * The source's own clock read inside the dump's snapshot: every commit
	 * the base holds has a commit time at or before it.  0 when the base
	 * was taken by a tide that did not record it.
	 */
	proto_time_t source_time;
	char		pg_dump_version[128];
	int			jobs;
} base_manifest_t;

/*
 * What restoring a base needs on the replica, as seen in the dump's
 * snapshot: the roles the database's objects name and the extensions it
 * has.  Every array and string is owned.
 */
typedef struct
{
	bool		recorded;		/* false: an older base, nothing known */
	char	  **roles;			/* owners, grantees, policy roles, user mappings */
	int			nroles;
	char	  **roles_no_acl;	/* those still needed without ACLs: policy
								 * roles and user mappings */
	int			nroles_no_acl;
	char	  **exts;			/* extension names */
	char	  **ext_versions;	/* and their versions */
	int			nexts;
} base_prereqs_t;

/*
 * base_manifest_write - manifest.json in dir, owner-only, fsynced.
 * base_manifest_read - parse dir's manifest.json; errors are logged
 * (TIDE_EXIT_CORRUPT for a damaged file, TIDE_EXIT_IO if unreadable).
 * base_prereqs_read - the prerequisites recorded in dir's manifest
 * (p->recorded false if it has none); free with base_prereqs_free.
 */
int			base_manifest_write(const char *dir, const base_manifest_t *m,
								const base_prereqs_t *p);
int			base_manifest_read(const char *dir, base_manifest_t *m);
int			base_prereqs_read(const char *dir, base_prereqs_t *p);
void		base_prereqs_free(base_prereqs_t *p);

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
} base_child_conn_t;

/*
 * base_child_conn - split conninfo (a connection string, URI or database
 * name) with libpq's parser; TIDE_EXIT_USAGE (logged, without the string)
 * if it cannot be parsed or holds a secret that cannot leave argv.
 * base_child_conn_free - remove the passfile, free the string.
 */
int			base_child_conn(const char *conninfo, base_child_conn_t *out);
void		base_child_conn_free(base_child_conn_t *c);

/*
 * base_tool_path - where PostgreSQL's client program `tool` is: next to
 * `pg_config --bindir` if it is there, else the bare name (found on PATH
 * when run).
 */
void		base_tool_path(const char *tool, char *out, size_t len);

/*
 * base_run_tool - run argv[0] (searched on PATH when it has no '/'),
 * collecting what it writes to file descriptor `capture_fd` (1 or 2) into
 * *captured (malloc'd, NUL-terminated, truncated to 64 kB; caller frees).
 * SIGINT and SIGTERM received meanwhile are passed on to the child.
 * Returns its exit status, 128 + signal if it died of one, or -1 if it
 * could not be started (logged).
 */
int			base_run_tool(char *const argv[], int capture_fd, char **captured);

/* base_log_output - each line of a tool's output as a detail line,
 * prefixed with the tool's name unless it starts with it. */
void		base_log_output(const char *tool, const char *text);

/*
 * base_pin_session - what every session tide opens does first (invariant
 * 8): search_path emptied, the text-form settings fixed.  0, or -1 with
 * the reason in PQerrorMessage(conn).
 */
int			base_pin_session(PGconn *conn);

/* base_remove_tree - rm -rf path; 0 or -errno. */
int			base_remove_tree(const char *path);

/* base_fsync_path - fsync a file or directory; 0 or -errno. */
int			base_fsync_path(const char *path);

/* base_time_text - "2026-11-20T13:00:00.123456Z" for a PostgreSQL-epoch time. */
void		base_time_text(char *buf, size_t len, proto_time_t t);

#endif /* TIDE_BASE_H */
