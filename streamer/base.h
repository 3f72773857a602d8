/*
 * streamer/base.h
 *		Base dumps: the manifest `tide base` writes beside pg_dump's output
 *		and `tide bootstrap` reads back, and the helpers both use to run
 *		PostgreSQL's client programs (pg_dump, pg_restore).
 *
 * A base lives in DIR/base/<UTC start, YYYYMMDDTHHMMSSZ>/ (".partial" while
 * it is written): a pg_dump directory-format archive plus manifest.json.
 * Functions returning int return 0 or a TIDE_EXIT_* code after logging.
 */
#ifndef TIDE_BASE_H
#define TIDE_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
	proto_time_t start_time;	/* just after the snapshot was taken */
	proto_time_t end_time;		/* pg_dump finished */
	char		pg_dump_version[128];
	int			jobs;
} base_manifest_t;

/*
 * base_manifest_write - manifest.json in dir, fsynced.
 * base_manifest_read - parse dir's manifest.json; errors are logged
 * (TIDE_EXIT_CORRUPT for a damaged file, TIDE_EXIT_IO if unreadable).
 */
int			base_manifest_write(const char *dir, const base_manifest_t *m);
int			base_manifest_read(const char *dir, base_manifest_t *m);

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

/* base_remove_tree - rm -rf path; 0 or -errno. */
int			base_remove_tree(const char *path);

/* base_fsync_path - fsync a file or directory; 0 or -errno. */
int			base_fsync_path(const char *path);

/* base_time_text - "2026-11-20T13:00:00.123456Z" for a PostgreSQL-epoch time. */
void		base_time_text(char *buf, size_t len, proto_time_t t);

#endif /* TIDE_BASE_H */
