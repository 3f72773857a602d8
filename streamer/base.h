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

#endif /* TIDE_BASE_H */
