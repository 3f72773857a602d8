/*
 * applier/apply.c
 *		`tide apply`: replay segments into a replica, exactly once.
 *
 * A source transaction is known by its LSNs: BEGIN carries the commit
 * record's LSN, COMMIT the end of that record, which is what the replica's
 * progress row holds.  A transaction whose commit LSN is below the recorded
 * end was applied before and is skipped, so a restart after a crash at any
 * instant continues exactly where the last committed replica transaction
 * ended.  Before anything is applied, the directory is checked: one source,
 * and an unbroken chain of LSN ranges from the replica's progress on (a
 * segment starts where the previous one is complete).
 *
 * Memory stays bounded: one decompressed block at a time, rows streamed to
 * the replica as they are read.  Consecutive source transactions share a
 * replica transaction until --batch changes are reached (group commit);
 * a transaction too big for one block (it spills into blocks of its own)
 * starts a replica transaction of its own, so a batch never ends inside a
 * source transaction.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <unistd.h>

#include <uv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tide/cmdline.h"
#include "tide/common.h"
#include "tide/seqstate.h"
#include "apply.h"
#include "ddl.h"
#include "apply_metrics.h"
#include "jobs.h"
#include "tide/segment.h"
#include "tide/store.h"
#include "tide/value.h"

#define LSN_FMT "%X/%X"
#define LSN_ARGS(l) (unsigned) ((l) >> 32), (unsigned) (l)

/* the options (apply.h): shorter names inside this file */
typedef apply_target_t target_t;
typedef apply_opts_t opts_t;

/*
 * One segment of the store (its header and footer, as store/ read them
 * from the file or the index), and the local file to read it from once
 * fetched.
 */
typedef struct
{
	store_segment_t g;
	char		base[SEG_NAME_LEN + 1];	/* its name without the suffix */
	char		path[4200];		/* the local file ("" until fetched) */
	char		label[4200];	/* how messages name it: the file, or URL/NAME */
	bool		closed;
	proto_lsn_t start;
	proto_lsn_t first_lsn;		/* closed only */
	proto_lsn_t covered;		/* closed: footer's last end LSN */
	proto_time_t first_time;	/* closed only */
	proto_time_t last_time;		/* closed only */
	uint64_t	ntxns;
	uint64_t	size;			/* bytes */
} seginfo_t;

/* The apply pass. */
typedef struct
{
	const opts_t *o;
	store_t    *store;			/* where the segments are */
	bool		remote;			/* read through the index and the cache */
	char		cache[4096];	/* downloads (remote stores) */
	char		etag[STORE_ETAG_MAX];	/* of the index last read */
	store_seglist_t list;		/* owned: the remote index's segments */
	uint64_t	fetched_bytes;	/* downloaded by this run */
	bool		unreachable;	/* --follow: the store did not answer the last poll */
	uint64_t	fetched_objects;
	apply_replica_t *rep;
	apply_jobs_t *jobs;			/* owned; NULL without --jobs */
	uint64_t	jobs_units;		/* units committed as of the last look */
	char		jobs_error[512];	/* a failed unit's first error */
	proto_relcat_t cat;
	apply_progress_t progress;
	apply_ident_t ident;		/* the source the run began with */
	apply_scratch_t scratch;

	bool		stop;			/* --until reached */
	bool		in_txn;			/* inside a source BEGIN..COMMIT */
	bool		skip;			/* the open source transaction is skipped */
	bool		txn_jobs;		/* it goes to the --jobs workers */
	bool		txn_serial;		/* --jobs, but it spans blocks: this session */
	bool		block_whole;	/* the block being read ends a transaction */
	proto_begin_t begin;
	uint64_t	nmsgs;			/* counted I/U/D/T/M since BEGIN */
	bool		had_ddl;		/* the open source transaction ran DDL: its
								 * replica transaction ends with it (a new
								 * enum value, say, is usable only then) */
	bool		record;			/* the open transaction holds a cutover
								 * marker: its COMMIT is recorded at once */

	proto_lsn_t done_lsn;		/* end of the last transaction dealt with */
	proto_time_t done_time;
	proto_lsn_t written_lsn;	/* progress committed on the replica */
	proto_time_t written_time;
	uint64_t	batch_changes;

	/*
	 * After a batch failed: its source transactions are applied again one
	 * per replica transaction, each change answered before the next, until
	 * done_lsn reaches strict_until; a failure then names its transaction
	 * and everything before it is committed (invariant 7).
	 */
	bool		strict;
	proto_lsn_t strict_until;
	char		seg_path[4200];	/* the segment being read */

	/*
	 * Where to pick up the open segment on the next --follow pass: after
	 * its last block that ended a transaction wholly dealt with.
	 */
	char		resume_name[SEG_NAME_LEN + 1];
	uint64_t	resume_offset;

	uint64_t	txns;			/* applied (maybe with every change filtered) */
	uint64_t	skipped;		/* already applied, or before --from */
	uint64_t	written_txns;	/* txns and skipped as of the last replica commit */
	uint64_t	written_skipped;
	uint64_t	raw_bytes;
	uint64_t	segments;

	/* the progress bar (stderr is a terminal, not --quiet) */
	bool		bar;
	double		bar_start;
	double		bar_last;
	uint64_t	bar_total;		/* segment bytes this pass will read */
	uint64_t	bar_done;
	size_t		bar_seg;
	size_t		bar_nsegs;

	apply_metrics_t *m;			/* owned; NULL without --metrics-listen */
	bool		m_pending;		/* m->pending_time is set */
} pass_t;

/* the metrics snapshot (apply_metrics.h), updated under its lock */
#define METRICS(p, stmt) \
	do { \
		if ((p)->m) \
		{ \
			pthread_mutex_lock(&(p)->m->mu); \
			stmt; \
			pthread_mutex_unlock(&(p)->m->mu); \
		} \
	} while (0)

/* metrics_committed - a replica transaction committed: the snapshot follows */
/* counts_now - the committed work's counts: this session's and the workers' */
static void
counts_now(pass_t *p, apply_counts_t *c)
{
	memset(c, 0, sizeof(*c));
	if (p->rep)
		*c = *apply_replica_counts(p->rep);
	if (p->jobs)
		apply_jobs_counts(p->jobs, c);
}

static void
metrics_committed(pass_t *p)
{
	apply_counts_t cbuf;
	const apply_counts_t *c = p->rep ? &cbuf : NULL;

	if (p->rep)
		counts_now(p, &cbuf);

	METRICS(p, {
		p->m->applied_lsn = p->written_lsn;
		p->m->applied_time = p->written_time;
		if (p->done_lsn > p->m->store_end_lsn)
			p->m->store_end_lsn = p->done_lsn;
		p->m->txns = p->written_txns;
		if (c)
		{
			p->m->changes = c->inserts + c->updates + c->deletes + c->truncates;
			p->m->replica_txns = c->replica_txns;
			p->m->xids = c->xids;
		}
		p->m->fetched_bytes = p->fetched_bytes;
		p->m->pending_time = 0;
	});
	p->m_pending = false;
}

/* Set by SIGINT/SIGTERM under --follow: finish the batch and stop. */
static volatile sig_atomic_t apply_interrupted = 0;

static void
on_stop_signal(int signum)
{
	(void) signum;
	apply_interrupted = 1;
}

static void
apply_usage(FILE *f)
{
	fprintf(f,
			"Usage: tide apply -d REPLICA_CONNINFO -D DIR|URL [OPTIONS]\n\n"
			"Replay the segments of DIR (or of the store at URL: s3://BUCKET/PREFIX,\n"
			"http(s)://HOST/PATH) into a replica whose tables exist, exactly once.\n"
			"Progress (source identity, end LSN and time of the last applied commit) is\n"
			"kept in tide.progress on the replica, in the same transaction as the\n"
			"changes, so a run can be stopped or killed at any moment and run again.\n\n"
			"Connection options (PG* variables apply):\n");
	tide_conn_usage(f, "the replica", 25);
	fprintf(f,
			"\nOptions:\n"
			"  -D, --directory=DIR|URL\n"
			"                         segment directory written by tide stream, or a\n"
			"                         store it is published to: s3://BUCKET/PREFIX\n"
			"                         (AWS_* variables) or http(s)://HOST/PATH\n"
			"      --cache=DIR        where segments of a remote store are downloaded\n"
			"                         (default ~/.cache/tide/HOST-HASH, owner-only); only\n"
			"                         those the replica still needs, each checked against\n"
			"                         the index's SHA-256 and its block checksums first\n"
			"      --poll-interval=DUR  --follow on a remote store: ask for its index this\n"
			"                         often, If-None-Match (default 2s)\n"
			"      --until=TIME|LSN   stop after the last transaction committed at or\n"
			"                         before TIME (a timestamptz) or at or before LSN\n"
			"      --from=TIME|LSN    start with the first transaction committed at or\n"
			"                         after it; refused if the replica's progress is past it\n"
			"      --batch=N          source transactions share one replica transaction\n"
			"                         up to N changes (default 50000)\n"
			"  -j, --jobs=N           apply with N replica sessions at once (default 1),\n"
			"                         committing in the source's order: transactions that\n"
			"                         touch the same rows wait for each other, TRUNCATE\n"
			"                         and tables with replica triggers or other unique\n"
			"                         keys run alone (README, \"Parallel apply\")\n"
			"      --tables=PATTERN   only tables matching schema.table (* wildcard);\n"
			"                         repeat or separate with commas\n"
			"      --map=SRC=DST      apply tables of source schema SRC to schema DST\n"
			"      --on-conflict=error|skip|update\n"
			"                         an INSERT whose key the replica already has: stop\n"
			"                         (default), keep the replica's row, or overwrite it\n"
			"                         (for a replica loaded from a dump taken after the\n"
			"                         slot: an UPDATE or DELETE of a row the dump no\n"
			"                         longer had is counted, not an error; inserts go\n"
			"                         through statements, not COPY)\n"
			"      --values=binary|text\n"
			"                         how values reach the replica: fixed-width and\n"
			"                         binary-encoded ones in their types' binary form\n"
			"                         where the replica column has the source's type\n"
			"                         (default), or all as text, parsed again there\n"
			"      --schema=strict|follow\n"
			"                         a table or column the segments describe and the\n"
			"                         replica lacks: stop (default), or create it before\n"
			"                         its first row, in the same replica transaction\n"
			"                         (columns, types, key, the partition of its parent);\n"
			"                         never drops, renames or retypes (README, \"Schema\n"
			"                         changes\")\n"
			"      --ddl=apply|skip|stop\n"
			"                         DDL captured on the source (tide setup): run it at\n"
			"                         its place in the same replica transaction (default),\n"
			"                         leave it out, or stop before it (exit 4) printing\n"
			"                         its statement, LSN and how to go on\n"
			"      --ddl-apply-lsn=LSN  run the captured DDL command at LSN even with\n"
			"                         --ddl stop (repeatable)\n"
			"      --ddl-skip-lsn=LSN  leave out the captured DDL command at LSN, once it\n"
			"                         (or what it should do) was run on the replica by\n"
			"                         hand (repeatable)\n"
			"  -f, --follow           keep applying: tail the open segment and new ones\n"
			"                         (inotify, and a poll every second; a remote store's\n"
			"                         closed segments as its index names them); SIGINT\n"
			"                         or SIGTERM commits what is applied and stops\n"
			"      --metrics-listen=[ADDR:]PORT\n"
			"                         serve Prometheus metrics at http://ADDR:PORT/metrics\n"
			"                         (ADDR 127.0.0.1 unless given; [::1]:PORT for IPv6)\n"
			"  -q, --quiet            no summary\n");
	tide_std_usage(f, 25);
	fprintf(f,
			"\nDivergence stops, it never warns: an UPDATE or DELETE that matches no row\n"
			"on the replica (tolerated only with --on-conflict skip|update), a TRUNCATE\n"
			"that would empty more than the source did, a missing table, partition or\n"
			"column, a type that differs.  Every source transaction before the one that\n"
			"fails is committed; the message names it (commit LSN and time) and the\n"
			"command that continues once the replica is fixed.\n\n"
			"Exit codes: 0 done, 2 bad arguments, 4 the replica: connection, schema,\n"
			"or a change it cannot take as the source made it (see above), or a trigger\n"
			"that would run as the applying role for an owner without its privileges,\n"
			"5 segments missing (gap), of another source or damaged (a download whose\n"
			"checksum differs: nothing of it applied), 6 local I/O error, 7 the store\n"
			"cannot be reached or refused the request (retry may help), 70 internal\n"
			"error.\n");
}

/* ------------------------------------------------------------- options */

/*
 * parse_opts - the command line into *o; the connection string it names
 * is conn's (the caller frees it with tide_conn_free).  -1: help or
 * version printed.
 */
static int
parse_opts(int argc, char **argv, opts_t *o, tide_conn_opts_t *conn)
{
	static const struct option opts[] = {
		TIDE_CONN_LONGOPTS,
		TIDE_STD_LONGOPTS,
		{"directory", required_argument, NULL, 'D'},
		{"until", required_argument, NULL, 1},
		{"from", required_argument, NULL, 2},
		{"batch", required_argument, NULL, 3},
		{"jobs", required_argument, NULL, 'j'},
		{"tables", required_argument, NULL, 4},
		{"map", required_argument, NULL, 5},
		{"follow", no_argument, NULL, 'f'},
		{"on-conflict", required_argument, NULL, 6},
		{"cache", required_argument, NULL, 7},
		{"poll-interval", required_argument, NULL, 8},
		{"metrics-listen", required_argument, NULL, 40},
		{"schema", required_argument, NULL, 9},
		{"ddl", required_argument, NULL, 10},
		{"ddl-skip-lsn", required_argument, NULL, 11},
		{"ddl-apply-lsn", required_argument, NULL, 12},
		{"values", required_argument, NULL, 13},
		{"quiet", no_argument, NULL, 'q'},
		{NULL, 0, NULL, 0}
	};
	int			c;
	int			rc;

	apply_opts_init(o);
	optind = 1;
	while ((c = tide_getopt(argc, argv, TIDE_CONN_SHORTOPTS "D:fj:q", opts)) != -1)
	{
		if (tide_conn_opt(conn, c, optarg))
			continue;
		switch (c)
		{
			case 'D':
				o->dir = optarg;
				break;
			case 1:
			case 2:
				{
					target_t   *t = c == 1 ? &o->until : &o->from;

					t->arg = optarg;
					if ((rc = tide_opt_point(c == 1 ? "--until" : "--from", optarg, &t->is_lsn,
											 &t->lsn, &t->time)) != 0)
						return rc;
					break;
				}
			case 3:
				{
					int64_t		v;

					if ((rc = tide_opt_int("--batch", optarg, 1, INT32_MAX, &v)) != 0)
						return rc;
					o->batch = (uint64_t) v;
					break;
				}
			case 4:
				{
					char	   *save = NULL;

					for (char *p = strtok_r(optarg, ",", &save); p; p = strtok_r(NULL, ",", &save))
					{
						if (o->ntables == 256)
						{
							tide_log_error("too many --tables patterns (at most 256)");
							return TIDE_EXIT_USAGE;
						}
						o->tables[o->ntables++] = p;
					}
					break;
				}
			case 5:
				if ((rc = apply_maps_parse(&o->r.maps, optarg)) != 0)
					return rc;
				break;
			case 'j':
				{
					int64_t		v;

					if ((rc = tide_opt_int("--jobs", optarg, 1, APPLY_JOBS_MAX, &v)) != 0)
						return rc;
					o->jobs = (int) v;
					break;
				}
			case 'f':
				o->follow = true;
				break;
			case 7:
				o->cache = optarg;
				break;
			case 8:
				if ((rc = tide_opt_duration("--poll-interval", optarg, 100000, INT64_C(3600) * 1000000,
											&o->poll_usecs)) != 0)
					return rc;
				break;
			case 40:
				if ((rc = tide_metrics_addr("--metrics-listen", optarg, &o->metrics_addr)) != 0)
					return rc;
				o->metrics = true;
				break;
			case 6:
				if (strcmp(optarg, "error") == 0)
					o->r.on_conflict = APPLY_CONFLICT_ERROR;
				else if (strcmp(optarg, "skip") == 0)
					o->r.on_conflict = APPLY_CONFLICT_SKIP;
				else if (strcmp(optarg, "update") == 0)
					o->r.on_conflict = APPLY_CONFLICT_UPDATE;
				else
				{
					tide_log_error("invalid --on-conflict \"%s\"", optarg);
					tide_log_hint("use error (the default), skip or update");
					return TIDE_EXIT_USAGE;
				}
				break;
			case 13:
				if (strcmp(optarg, "binary") == 0)
					o->r.text_values = false;
				else if (strcmp(optarg, "text") == 0)
					o->r.text_values = true;
				else
				{
					tide_log_error("invalid --values \"%s\"", optarg);
					tide_log_hint("use binary (the default) or text");
					return TIDE_EXIT_USAGE;
				}
				break;
			case 9:
				if (strcmp(optarg, "strict") == 0)
					o->r.schema_follow = false;
				else if (strcmp(optarg, "follow") == 0)
					o->r.schema_follow = true;
				else
				{
					tide_log_error("invalid --schema \"%s\"", optarg);
					tide_log_hint("use strict (the default) or follow");
					return TIDE_EXIT_USAGE;
				}
				break;
			case 10:
				if (strcmp(optarg, "apply") == 0)
					o->ddl.mode = APPLY_DDL_APPLY;
				else if (strcmp(optarg, "skip") == 0)
					o->ddl.mode = APPLY_DDL_SKIP;
				else if (strcmp(optarg, "stop") == 0)
					o->ddl.mode = APPLY_DDL_STOP;
				else
				{
					tide_log_error("invalid --ddl \"%s\"", optarg);
					tide_log_hint("use apply (the default), skip or stop");
					return TIDE_EXIT_USAGE;
				}
				break;
			case 11:
			case 12:
				{
					proto_lsn_t *v = c == 11 ? o->ddl.skip : o->ddl.run;
					int		   *n = c == 11 ? &o->ddl.nskip : &o->ddl.nrun;

					if (*n == APPLY_DDL_MAX_LSNS)
					{
						tide_log_error("too many %s options (at most %d)", c == 11 ? "--ddl-skip-lsn" : "--ddl-apply-lsn",
									   APPLY_DDL_MAX_LSNS);
						return TIDE_EXIT_USAGE;
					}
					if ((rc = tide_opt_lsn(c == 11 ? "--ddl-skip-lsn" : "--ddl-apply-lsn", optarg, &v[*n])) != 0)
						return rc;
					(*n)++;
					break;
				}
			case 'q':
				tide_log_quiet = 1;
				break;
			default:
				return tide_opt_std(c, "apply", apply_usage);
		}
	}
	if (optind < argc)
	{
		tide_log_error("unexpected argument \"%s\"", argv[optind]);
		apply_usage(stderr);
		return TIDE_EXIT_USAGE;
	}
	if (o->dir == NULL)
	{
		tide_log_error("no segment directory given");
		tide_log_hint("give the directory tide stream writes with -D DIR");
		return TIDE_EXIT_USAGE;
	}
	/* -d with -h, -p, -U over it; what none gives: PG* variables */
	if ((rc = tide_conn_finish(conn, "the replica")) != 0)
		return rc;
	o->r.conninfo = conn->conninfo;
	if (o->jobs > 1 && o->r.on_conflict != APPLY_CONFLICT_ERROR)
	{
		/* jobs.c: a row not found must stay an error for a missed dependency to show */
		tide_log_error("--jobs cannot be combined with --on-conflict %s",
					   o->r.on_conflict == APPLY_CONFLICT_SKIP ? "skip" : "update");
		tide_log_hint("apply with --jobs 1 until the replica has passed the point of its dump, then with --jobs");
		return TIDE_EXIT_USAGE;
	}
	return 0;
}

void
apply_opts_init(apply_opts_t *o)
{
	memset(o, 0, sizeof(*o));
	o->batch = 50000;
	o->jobs = 1;
	o->poll_usecs = 2000000;
	o->r.on_conflict = APPLY_CONFLICT_ERROR;
	o->r.conninfo = "";
	o->ddl.mode = APPLY_DDL_APPLY;
}

/* ------------------------------------------------------------- directory */

/*
 * store_exit - the exit class of a store/ failure: the data is wrong
 * (damaged, inconsistent: 5), the local disk (6), or the store itself
 * could not be reached or refused us (7: retry may help).
 */
static int
store_exit(const pass_t *p, int rc)
{
	if (rc <= TIDE__EBASE)
		return rc == TIDE_ENOMEM ? TIDE_EXIT_BUG : TIDE_EXIT_CORRUPT;
	if (!p->remote)
		return TIDE_EXIT_IO;
	switch (rc)
	{
		case -ENOSPC:
		case -EDQUOT:
		case -EROFS:
			return TIDE_EXIT_IO;
		case -EINVAL:
		case -ENAMETOOLONG:
			return TIDE_EXIT_USAGE;
		default:
			return TIDE_EXIT_STORE;
	}
}

/*
 * fetch_segment - a local file for si, checked (store_fetch_segment): in
 * place for a directory, downloaded into the cache for a remote store.
 */
static int
fetch_segment(pass_t *p, seginfo_t *si)
{
	uint64_t	fetched = 0;
	int			rc;

	if (si->path[0])
		return 0;
	if ((rc = store_fetch_segment(p->store, &si->g, p->cache, si->path, sizeof(si->path), &fetched)) != 0)
	{
		si->path[0] = '\0';
		METRICS(p, p->m->download_failures++);
		tide_log_error("%s", store_errmsg(p->store));
		if (rc == -ENOENT && p->remote)
		{
			/* store/LAYOUT.md: an object the current index names must be there */
			tide_log_detail("the store's index names segment \"%s\", but the store does not have it", si->g.name);
			tide_log_hint("nothing of it was applied; publish it again from the streamer's directory (tide publish)");
			return TIDE_EXIT_CORRUPT;
		}
		if (rc <= TIDE__EBASE)
			tide_log_hint("nothing of it was applied; the store's copy is damaged: publish it again from the streamer's directory");
		return store_exit(p, rc);
	}
	if (fetched)
	{
		p->fetched_bytes += fetched;
		p->fetched_objects++;
	}
	return 0;
}

/*
 * open_segment - open one listed segment.  Returns 0, a TIDE_EXIT_* code
 * (logged), or SEG_GONE when the newest, open segment vanished since the
 * listing (not an error: see below).
 */
#define SEG_GONE (-1)

static int
open_segment(pass_t *p, seg_reader_t *sr, seginfo_t *si)
{
	uint64_t	at = 0;
	bool		was_partial = si->g.partial;
	int			rc;

	if ((rc = fetch_segment(p, si)) != 0)
	{
		memset(sr, 0, sizeof(*sr));
		sr->fd = -1;
		return rc;
	}
	rc = seg_reader_open(sr, si->path, &at);
	if (rc == -ENOENT && si->g.partial && !p->remote)
	{
		/* closed by the streamer since we listed the directory */
		seg_reader_close(sr);
		si->g.partial = false;
		si->g.name[strlen(si->g.name) - strlen(SEG_PARTIAL_SUFFIX)] = '\0';
		strcat(si->g.name, SEG_SUFFIX);
		si->path[0] = '\0';
		if ((rc = fetch_segment(p, si)) != 0)
			return rc;
		snprintf(si->label, sizeof(si->label), "%s", si->path);
		rc = seg_reader_open(sr, si->path, &at);
	}
	if (rc == -ENOENT && was_partial)
	{
		/*
		 * Gone under both names: the streamer, restarting, set aside an
		 * open segment whose header it never finished (it held nothing).
		 * Not an error: the next pass lists the directory again, and its
		 * chain check says if anything is really missing.
		 */
		seg_reader_close(sr);
		return SEG_GONE;
	}
	if (rc != 0)
	{
		tide_log_error("could not read segment \"%s\" at byte offset %llu: %s",
					   si->label, (unsigned long long) at, tide_strerror(rc));
		seg_reader_close(sr);
		return rc <= TIDE__EBASE ? TIDE_EXIT_CORRUPT : TIDE_EXIT_IO;
	}
	return 0;
}

/*
 * scan_dir - the store's segments in LSN order, as store/ lists them (a
 * directory: headers and footers read from the files; a remote store: its
 * index, fetched only if it changed since the last call): one source, the
 * only open segment the newest.  Fills *segs (caller frees) and *ident.
 * The chain is checked by catch_up, from where the replica is.
 */
static int
scan_dir(pass_t *p, seginfo_t **segs, size_t *nsegs, apply_ident_t *ident)
{
	store_seglist_t fresh = {0};
	store_seglist_t *l = &fresh;
	const char *dir = p->o->dir;
	seginfo_t  *v;
	bool		nm = false;
	int			rc;

	*segs = NULL;
	*nsegs = 0;
	if ((rc = store_segments(p->store, &fresh, p->remote ? p->etag : NULL, &nm)) != 0)
	{
		if (p->remote)
			METRICS(p, p->m->download_failures++);
		/* --follow says once that the store is away, not at every poll */
		if (!(p->unreachable && store_exit(p, rc) == TIDE_EXIT_STORE))
			tide_log_error("could not read the segments of \"%s\": %s", dir, store_errmsg(p->store));
		return store_exit(p, rc);
	}
	if (p->remote)
	{
		/* invariant 4: the index is whole or not used at all (store_index_fetch) */
		if (!nm)
		{
			store_seglist_free(&p->list);
			p->list = fresh;
			fresh.v = NULL;
			fresh.n = 0;
		}
		l = &p->list;
	}
	if (l->n == 0)
	{
		store_seglist_free(&fresh);
		return 0;
	}
	if ((v = calloc(l->n, sizeof(*v))) == NULL)
	{
		store_seglist_free(&fresh);
		tide_log_error("out of memory");
		return TIDE_EXIT_BUG;
	}
	/* a source identity an older index leaves out: from the first header */
	if (l->v[0].dbname[0] == '\0')
	{
		store_segment_t first = l->v[0];

		if ((rc = store_segment_meta(p->store, &first)) != 0)
		{
			tide_log_error("%s", store_errmsg(p->store));
			free(v);
			store_seglist_free(&fresh);
			return store_exit(p, rc);
		}
		for (size_t i = 0; i < l->n; i++)
		{
			snprintf(l->v[i].dbname, sizeof(l->v[i].dbname), "%s", first.dbname);
			snprintf(l->v[i].encoding, sizeof(l->v[i].encoding), "%s", first.encoding);
		}
	}
	rc = 0;
	for (size_t i = 0; i < l->n; i++)
	{
		seginfo_t  *si = &v[i];
		store_segment_t *g = &l->v[i];

		si->g = *g;
		memcpy(si->base, g->name, SEG_NAME_LEN);
		si->base[SEG_NAME_LEN] = '\0';
		if (p->remote)
			snprintf(si->label, sizeof(si->label), "%s/%s", dir, g->name);
		else
		{
			store_local_path(p->store, g->name, si->label, sizeof(si->label));
			snprintf(si->path, sizeof(si->path), "%s", si->label);
		}
		if (g->partial && i + 1 < l->n)
		{
			tide_log_error("segment \"%s\" is open but is not the newest in \"%s\"", g->name, dir);
			tide_log_hint("only the newest segment can be open; move the files that do not belong to this stream elsewhere");
			rc = TIDE_EXIT_CORRUPT;
			break;
		}
		if (i == 0)
		{
			ident->system_id = g->system_id;
			snprintf(ident->dbname, sizeof(ident->dbname), "%s", g->dbname);
			snprintf(ident->slot, sizeof(ident->slot), "%s", g->slot);
			snprintf(ident->encoding, sizeof(ident->encoding), "%s", g->encoding);
		}
		else if (g->system_id != ident->system_id || strcmp(g->dbname, ident->dbname) != 0 ||
				 strcmp(g->slot, ident->slot) != 0)
		{
			tide_log_error("segment \"%s\" comes from another source than \"%s\"", si->label, v[0].label);
			tide_log_detail("system %llu, database \"%s\", slot \"%s\" against system %llu, database \"%s\", slot \"%s\"",
							(unsigned long long) g->system_id, g->dbname, g->slot,
							(unsigned long long) ident->system_id, ident->dbname, ident->slot);
			tide_log_hint("keep one source's segments per directory");
			rc = TIDE_EXIT_CORRUPT;
			break;
		}
		si->start = g->start_lsn;
		si->closed = !g->partial;
		si->covered = g->partial ? g->start_lsn : g->end_lsn;
		si->first_lsn = g->first_lsn ? g->first_lsn : g->start_lsn;
		si->first_time = g->first_time;
		si->last_time = g->last_time;
		si->ntxns = g->txns;
		si->size = g->size;
		METRICS(p, {
			if (si->covered > p->m->store_end_lsn)
				p->m->store_end_lsn = si->covered;
		});
	}
	if (rc != 0)
	{
		store_seglist_free(&fresh);
		free(v);
		return rc;
	}
	*segs = v;
	*nsegs = l->n;
	store_seglist_free(&fresh);	/* l may be it */
	return 0;
}

static void
gap_error(proto_lsn_t from, proto_lsn_t to, const char *before, const char *after)
{
	tide_log_error("segments are missing: the changes from " LSN_FMT " to " LSN_FMT " are in none of the files",
				   LSN_ARGS(from), LSN_ARGS(to));
	if (before)
		tide_log_detail("\"%s\" ends at " LSN_FMT " and the next segment, \"%s\", starts at " LSN_FMT,
						before, LSN_ARGS(from), after, LSN_ARGS(to));
	else
		tide_log_detail("the replica has applied up to " LSN_FMT " but the first segment to apply, \"%s\", starts at " LSN_FMT,
						LSN_ARGS(from), after, LSN_ARGS(to));
	tide_log_hint("restore the missing segment files into the directory; nothing was applied");
}

/* ------------------------------------------------------------- apply */

/*
 * jobs_look - --jobs: units commit behind the reader; the pass follows
 * where the replica is.
 */
static void
jobs_look(pass_t *p)
{
	apply_jobs_pos_t pos;

	apply_jobs_pos(p->jobs, &pos);
	if (pos.units == p->jobs_units)
		return;
	p->jobs_units = pos.units;
	p->written_lsn = pos.end_lsn;
	p->written_time = pos.end_time;
	p->written_txns = pos.txns;
	p->written_skipped = pos.skipped;
	metrics_committed(p);
}

static int
flush_batch(pass_t *p)
{
	int			rc;

	if (p->jobs)
	{
		apply_jobs_pos_t pos;

		/* every unit handed out commits before this session writes */
		rc = apply_jobs_drain(p->jobs, &pos);
		jobs_look(p);
		if (rc != 0)
			return rc;
	}
	if (!apply_replica_in_txn(p->rep) && !p->record)
	{
		/*
		 * Nothing to commit: what was read was skipped or filtered out
		 * (--tables) whole.  For the metrics it is dealt with; the progress
		 * row records it at the end of the run.
		 */
		if (p->m && p->done_lsn > p->written_lsn)
			METRICS(p, {
				p->m->applied_lsn = p->done_lsn;
				p->m->applied_time = p->done_time;
				p->m->txns = p->txns;
			});
		METRICS(p, p->m->pending_time = 0);
		p->m_pending = false;
		return 0;
	}
	if ((rc = apply_replica_commit(p->rep, p->done_lsn, p->done_time)) != 0)
		return rc;
	p->record = false;
	p->written_lsn = p->done_lsn;
	p->written_time = p->done_time;
	p->written_txns = p->txns;
	p->written_skipped = p->skipped;
	p->batch_changes = 0;
	metrics_committed(p);
	return 0;
}

/* leave_strict - the failed batch went through this time: batches again */
static void
leave_strict(pass_t *p)
{
	p->strict = false;
	apply_replica_set_strict(p->rep, false);
	tide_log_info("applied one source transaction at a time, the batch went through (its first attempt failed: %s); back to batches",
				  p->jobs_error[0] ? p->jobs_error : apply_replica_first_error(p->rep));
	p->jobs_error[0] = '\0';
	apply_replica_held(p->rep, false);
}

int
apply_corrupt(const char *path, uint64_t off, const char *what)
{
	tide_log_error("segment \"%s\" is damaged in the block at byte offset %llu: %s",
				   path, (unsigned long long) off, what);
	tide_log_hint("restore the file from a copy; nothing past the last whole transaction before it was applied");
	return TIDE_EXIT_CORRUPT;
}

/*
 * jobs_to_serial - --jobs: the open transaction turns out to hold what
 * cannot go to a worker (captured DDL): what of it went into the unit
 * being filled is taken back, every unit before it commits, and it is
 * applied from its first change on this session, as without --jobs
 * (jobs.c, "barriers"), committed at its COMMIT.
 */
static int
jobs_to_serial(pass_t *p, const seginfo_t *si)
{
	proto_wbuf_t txn;
	apply_jobs_pos_t pos;
	int			rc;

	proto_wbuf_init_heap(&txn);
	if ((rc = apply_jobs_take(p->jobs, &txn)) != 0)
		return rc;
	p->txn_jobs = false;
	p->txn_serial = true;
	rc = apply_jobs_drain(p->jobs, &pos);
	jobs_look(p);
	if (rc == 0)
	{
		proto_rbuf_t f;
		proto_rbuf_t body;
		uint8_t		type;

		proto_rbuf_init(&f, txn.data, txn.len);
		while (rc == 0 && proto_read_msg(&f, &type, &body) == 0)
		{
			bool		counted;

			if (type == PROTO_MSG_RELATION || type == PROTO_MSG_BEGIN || type == PROTO_MSG_COMMIT)
				continue;		/* this session has them: p->cat, apply_replica_txn */
			rc = apply_change(p->rep, &p->cat, &p->scratch, type, body, f, si->label, 0, &counted);
			if (counted)
				p->batch_changes++;
		}
	}
	proto_wbuf_free(&txn);
	return rc;
}

/*
 * on_ddl - a captured DDL command ("tide.ddl", applier/ddl.c) at its place
 * in its source transaction.  One that cannot run in a transaction block
 * (CONCURRENTLY) comes alone in its source transaction; the replica
 * transaction holding the ones before is committed first.
 */
static int
on_ddl(pass_t *p, const proto_message_t *m, const seginfo_t *si)
{
	tide_ddl_t	d;
	char		err[512];
	int			rc = 0;

	if (tide_ddl_parse(m->payload.p, m->payload.n, &d, err, sizeof(err)) != 0)
	{
		tide_log_error("a \"" TIDE_DDL_PREFIX "\" message in %s cannot be read: %s", si->label, err);
		tide_log_hint("a newer tide wrote it: apply it with that version; nothing past the last whole transaction before it was applied");
		return TIDE_EXIT_CORRUPT;
	}
	/* --jobs: DDL runs alone, on this session, after every unit before it */
	if (p->txn_jobs && (rc = jobs_to_serial(p, si)) != 0)
	{
		tide_ddl_free(&d);
		return rc;
	}
	p->batch_changes++;
	p->had_ddl = true;
	if (apply_ddl_outside(p->rep, &p->o->ddl, &d, m->lsn))
	{
		if (p->nmsgs != 1)
		{
			/* as a change the replica refused: what precedes is committed */
			rc = apply_replica_fail(p->rep);
			apply_replica_log(p->rep, 'E', "the DDL command %s at " LSN_FMT " cannot run in a transaction block, but its source transaction has changes before it",
							  d.tag, LSN_ARGS(m->lsn));
			apply_replica_log(p->rep, 'H', "run it on the replica by hand, then run tide apply again with --ddl-skip-lsn " LSN_FMT,
							  LSN_ARGS(m->lsn));
			tide_ddl_free(&d);
			return rc;
		}
		rc = flush_batch(p);
	}
	if (rc == 0)
		rc = apply_ddl(p->rep, &p->o->ddl, &d, m->lsn);
	tide_ddl_free(&d);
	return rc;
}

static int
on_message(pass_t *p, uint8_t type, proto_rbuf_t body, proto_rbuf_t rest,
		   const uint8_t *frame, size_t flen, const seginfo_t *si, uint64_t off)
{
	const opts_t *o = p->o;
	bool		counted;
	int			rc;

	switch (type)
	{
		case PROTO_MSG_RELATION:
			if ((rc = proto_relcat_put(&p->cat, body.data, body.len, NULL)) != 0)
				return rc == TIDE_ENOMEM ? TIDE_EXIT_BUG : apply_corrupt(si->label, off, tide_strerror(rc));
			return 0;
		case PROTO_MSG_BEGIN:
			if (p->in_txn || proto_read_begin(&body, &p->begin) != 0)
				return apply_corrupt(si->label, off, "a BEGIN out of place");
			if (o->until.arg && (o->until.is_lsn ? p->begin.final_lsn > o->until.lsn
								 : p->begin.commit_time > o->until.time))
			{
				p->stop = true;
				return 0;
			}
			p->in_txn = true;
			p->nmsgs = 0;
			p->txn_jobs = false;
			p->txn_serial = false;
			p->had_ddl = false;
			p->record = false;	/* an abandoned one is read again */
			/* invariant 6, exactly once: committed before the progress row's end */
			p->skip = p->begin.final_lsn < p->done_lsn ||
				(o->from.arg && (o->from.is_lsn ? p->begin.final_lsn < o->from.lsn
								 : p->begin.commit_time < o->from.time));
			if (!p->skip)
			{
				apply_replica_txn(p->rep, p->begin.final_lsn, p->begin.commit_time, p->begin.xid);
				if (p->m && !p->m_pending)
				{
					METRICS(p, p->m->pending_time = p->begin.commit_time);
					p->m_pending = true;
				}

				/*
				 * --jobs: a transaction that began in a block that does not
				 * end one spans blocks; it is applied here, on the run's
				 * own session, in bounded memory (jobs.c, "Large
				 * transactions"); apply_segment has drained the workers.
				 */
				if (p->jobs && !p->strict)
				{
					p->txn_serial = !p->block_whole;
					p->txn_jobs = !p->txn_serial;
					if (p->txn_jobs && (rc = apply_jobs_begin(p->jobs, frame, flen)) != 0)
						return rc;
				}
			}
			return 0;
		case PROTO_MSG_COMMIT:
			{
				proto_commit_t c;

				if (!p->in_txn || proto_read_commit(&body, &c) != 0)
					return apply_corrupt(si->label, off, "a COMMIT out of place");
				if (c.nchanges != p->nmsgs)
					return apply_corrupt(si->label, off, "a transaction's change count differs from its COMMIT");
				p->in_txn = false;
				apply_ddl_txn_end(p->rep);
				if (p->skip)
				{
					p->skipped++;
					return 0;
				}
				p->txns++;
				p->done_lsn = c.end_lsn;
				p->done_time = p->begin.commit_time;
				if (p->txn_jobs)
				{
					p->txn_jobs = false;
					rc = apply_jobs_commit(p->jobs, frame, flen, p->done_lsn, p->done_time,
										   p->txns, p->skipped);
					jobs_look(p);
					/* a cutover marker: recorded at once, after the units before it */
					if (rc == 0 && p->record)
						rc = flush_batch(p);
					return rc;
				}
				/* a transaction applied here under --jobs commits before the next unit writes */
				if ((p->strict || p->had_ddl || p->batch_changes >= o->batch || p->record || p->txn_serial) &&
					(rc = flush_batch(p)) != 0)
					return rc;
				/* ... and the workers take over again: this session's sets go */
				if (p->txn_serial)
					apply_replica_trim(p->rep);
				p->txn_serial = false;
				if (p->strict && p->done_lsn >= p->strict_until)
					leave_strict(p);
				return 0;
			}
		case PROTO_MSG_INSERT:
		case PROTO_MSG_UPDATE:
		case PROTO_MSG_DELETE:
		case PROTO_MSG_TRUNCATE:
			if (!p->in_txn)
				return apply_corrupt(si->label, off, "a change outside a transaction");
			p->nmsgs++;
			if (p->skip)
				return 0;
			break;
		case PROTO_MSG_MESSAGE:
			/*
			 * Logical messages count in COMMIT's total; of them only
			 * sequence states ("tide.seq", transactional) are applied, in
			 * the replica transaction of their source transaction.
			 */
			{
				proto_message_t m;
				proto_rbuf_t b = body;

				if (proto_read_message(&b, &m) != 0 || !(m.flags & PROTO_MESSAGE_TRANSACTIONAL) || !p->in_txn)
					return 0;
				p->nmsgs++;
				if (p->skip)
					return 0;
				if (m.prefix.n == strlen(TIDE_DDL_PREFIX) &&
					memcmp(m.prefix.p, TIDE_DDL_PREFIX, m.prefix.n) == 0)
					return on_ddl(p, &m, si);
				if (m.prefix.n == strlen(PROTO_CUTOVER_PREFIX) &&
					memcmp(m.prefix.p, PROTO_CUTOVER_PREFIX, m.prefix.n) == 0)
				{
					/*
					 * tide cutover waits for the replica's progress to pass
					 * its marker: the transaction holding it is recorded at
					 * its COMMIT even though nothing is applied (one XID per
					 * cutover).
					 */
					p->record = true;
					return 0;
				}
				if (m.prefix.n != strlen(TIDE_SEQ_PREFIX) ||
					memcmp(m.prefix.p, TIDE_SEQ_PREFIX, m.prefix.n) != 0)
					return 0;
				break;
			}
		default:
			/* STARTUP, ORIGIN, and types a newer minor writer may add */
			return 0;
	}
	if (p->txn_jobs)
	{
		rc = apply_jobs_change(p->jobs, &p->cat, type, body, frame, flen, si->label, off);
		if (rc != APPLY_JOBS_SERIAL)
			return rc;
		/* --schema follow may create what it needs: on this session */
		if ((rc = jobs_to_serial(p, si)) != 0)
			return rc;
	}
	rc = apply_change(p->rep, &p->cat, &p->scratch, type, body, rest, si->label, off, &counted);
	if (counted)
		p->batch_changes++;
	return rc;
}

static double now_seconds(void);

/*
 * bar_show - one line, redrawn in place at most five times a second:
 * segments, transactions, throughput and the time left at that rate.
 */
static void
bar_show(pass_t *p, bool force)
{
	double		now = now_seconds();
	double		secs = now - p->bar_start;
	double		rate = secs > 0 ? (double) p->bar_done / secs : 0;
	double		left = rate > 0 && p->bar_total > p->bar_done ?
		(double) (p->bar_total - p->bar_done) / rate : 0;
	int			pct = p->bar_total ? (int) (100.0 * (double) p->bar_done / (double) p->bar_total) : 100;

	if (!p->bar || p->bar_nsegs == 0 || (!force && now - p->bar_last < 0.2))
		return;
	p->bar_last = now;
	fprintf(stderr, "\r[%-20.*s] %3d%%  segment %zu/%zu  %llu transactions  %.1f MB/s  ETA %d:%02d ",
			pct / 5, "####################", pct > 100 ? 100 : pct, p->bar_seg, p->bar_nsegs,
			(unsigned long long) p->txns, rate / 1e6, (int) left / 60, (int) left % 60);
	fflush(stderr);
}

static void
bar_end(pass_t *p, bool complete)
{
	if (complete)
		p->bar_done = p->bar_total;		/* headers and footers count too */
	if (p->bar && p->bar_nsegs > 0)
	{
		bar_show(p, true);
		fputc('\n', stderr);
	}
	p->bar_nsegs = 0;
}

static int
apply_segment(pass_t *p, seginfo_t *si)
{
	seg_reader_t sr;
	int			rc;

	if ((rc = open_segment(p, &sr, si)) != 0)
		return rc == SEG_GONE ? 0 : rc;
	p->segments++;
	snprintf(p->seg_path, sizeof(p->seg_path), "%s", si->label);
	if (p->resume_offset > sr.offset && p->resume_offset <= sr.file_size &&
		strcmp(p->resume_name, si->base) == 0)
	{
		/*
		 * Everything before resume_offset was applied by an earlier pass.
		 * If the streamer cut its file back and wrote it anew since (a
		 * crash), the offset may no longer start a block: read it all again
		 * then; transactions already applied are skipped by LSN anyway.
		 */
		uint64_t	header_end = sr.offset;
		seg_block_t probe;
		uint8_t		hdr[SEG_BLOCK_HEADER_LEN];

		sr.offset = p->resume_offset;
		if (sr.offset < sr.file_size &&
			(pread(sr.fd, hdr, sizeof(hdr), (off_t) sr.offset) != (ssize_t) sizeof(hdr) ||
			 seg_block_parse(hdr, &probe) != 0))
			sr.offset = header_end;
	}
	while (!p->stop && !apply_interrupted && (rc = seg_reader_next(&sr)) == 0)
	{
		proto_rbuf_t f;
		proto_rbuf_t body;
		uint8_t		type;

		p->raw_bytes += sr.raw.len;
		p->bar_done += SEG_BLOCK_HEADER_LEN + sr.block.stored_len;
		bar_show(p, false);

		/*
		 * A block that does not end a transaction starts (or continues) one
		 * too big for a block: it gets a replica transaction of its own, so
		 * the batch before it is committed first.
		 */
		if (!(sr.block.flags & SEG_BLOCK_ENDS_TXN) && !p->in_txn)
		{
			if ((rc = flush_batch(p)) != 0)
				break;

			/*
			 * --jobs: it runs on this session while the workers idle; what
			 * they keep for reuse is handed back first (bounded memory:
			 * one session's high-water mark at a time).
			 */
			if (p->jobs)
				apply_jobs_trim(p->jobs);
		}
		p->block_whole = (sr.block.flags & SEG_BLOCK_ENDS_TXN) != 0;
		proto_rbuf_init(&f, sr.raw.data, sr.raw.len);
		for (size_t at = f.pos; !p->stop && (rc = proto_read_msg(&f, &type, &body)) == 0; at = f.pos)
			if ((rc = on_message(p, type, body, f, f.data + at, f.pos - at, si, sr.block_offset)) != 0)
				break;
		if (rc == TIDE_EEOF || (rc == 0 && p->stop))
		{
			if (rc == TIDE_EEOF && !p->in_txn && (sr.block.flags & SEG_BLOCK_ENDS_TXN))
			{
				memcpy(p->resume_name, si->base, sizeof(p->resume_name));
				p->resume_offset = sr.offset;
			}
			rc = 0;
			continue;
		}
		if (rc < 0)
			rc = apply_corrupt(si->label, sr.block_offset, tide_strerror(rc));
		break;
	}
	if (rc == TIDE_EEOF || (rc == TIDE_ETRUNCATED && si->g.partial))
		rc = 0;					/* a torn tail of an open segment: not ours yet */
	else if (rc < 0)
		rc = apply_corrupt(si->label, sr.block_offset, tide_strerror(rc));
	if (rc == 0 && p->in_txn && !si->g.partial)
		rc = apply_corrupt(si->label, sr.block_offset, "the segment ends inside a transaction");
	if (rc == 0 && !si->g.partial && !p->stop && !apply_interrupted)
		METRICS(p, p->m->segments++);
	seg_reader_close(&sr);
	return rc;
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
summary(pass_t *p, double secs, const char *how)
{
	apply_counts_t cbuf;
	const apply_counts_t *c = &cbuf;

	counts_now(p, &cbuf);
	tide_log_info("%s: %llu transactions applied, %llu skipped as already applied or out of range; "
				  "%llu inserts (%llu by COPY), %llu updates, %llu deletes, %llu truncates; "
				  "%llu replica transactions, %llu XIDs; %llu segments, %.1f MB in %.2f s (%.1f MB/s); "
				  "replica at " LSN_FMT,
				  how,
				  (unsigned long long) p->txns, (unsigned long long) p->skipped,
				  (unsigned long long) c->inserts, (unsigned long long) c->copied,
				  (unsigned long long) c->updates, (unsigned long long) c->deletes,
				  (unsigned long long) c->truncates, (unsigned long long) c->replica_txns,
				  (unsigned long long) c->xids, (unsigned long long) p->segments,
				  (double) p->raw_bytes / 1e6, secs,
				  secs > 0 ? (double) p->raw_bytes / 1e6 / secs : 0.0,
				  LSN_ARGS(p->written_lsn));
	if (p->remote)
		tide_log_info("downloaded %llu segments (%.1f MB) from \"%s\" into \"%s\"",
					  (unsigned long long) p->fetched_objects, (double) p->fetched_bytes / 1e6,
					  p->o->dir, p->cache);
	if (p->jobs)
	{
		apply_jobs_stats_t js;

		apply_jobs_stats(p->jobs, &js);
		tide_log_info("--jobs %d: %llu units, %llu of which waited for an earlier one to commit, %llu ran alone (barriers); "
					  "%llu retried after a deadlock or for an earlier unit; "
					  "%llu transactions spanning blocks applied on the run's own session",
					  p->o->jobs, (unsigned long long) js.units, (unsigned long long) js.waits,
					  (unsigned long long) js.barriers, (unsigned long long) js.retries,
					  (unsigned long long) js.trims);
	}
	if (c->coalesced || c->set_rows)
		tide_log_info("%llu changes folded into later ones of their batch; %llu rows written by set-based statements",
					  (unsigned long long) c->coalesced, (unsigned long long) c->set_rows);
	if (c->seq_states)
		tide_log_info("%llu sequence states applied, %llu of which moved a replica sequence forward (never backward)",
					  (unsigned long long) c->seq_states, (unsigned long long) c->seq_moved);
	if (c->ddl_run || c->ddl_skipped)
		tide_log_info("%llu captured DDL commands run, %llu left out (--ddl, --ddl-skip-lsn, --tables, or made from their rows)",
					  (unsigned long long) c->ddl_run, (unsigned long long) c->ddl_skipped);
	if (c->conflicts)
		tide_log_info("%llu inserts found their key on the replica and were skipped (--on-conflict skip)",
					  (unsigned long long) c->conflicts);
	if (c->not_found)
		tide_log_info("%llu updates or deletes found no row on the replica and were skipped (--on-conflict %s: "
					  "rows a dump taken after the slot no longer had)",
					  (unsigned long long) c->not_found,
					  p->o->r.on_conflict == APPLY_CONFLICT_SKIP ? "skip" : "update");
}

/*
 * check_chain - segs[first..last] form one history, by store/'s rule:
 * each starts where the one before ended (invariants 1 and 3: chained by
 * the LSNs in the files, never by names).  A gap names the LSN range no
 * file holds; nothing is applied past it.
 */
static int
check_chain(const seginfo_t *segs, size_t first, size_t last)
{
	store_seglist_t l;
	store_chain_problem_t pr;
	char		why[2048];
	int			rc;

	if (last == first)
		return 0;
	if ((l.v = malloc((last - first + 1) * sizeof(*l.v))) == NULL)
	{
		tide_log_error("out of memory");
		return TIDE_EXIT_BUG;
	}
	l.n = last - first + 1;
	for (size_t i = first; i <= last; i++)
		l.v[i - first] = segs[i].g;
	rc = store_seglist_check(&l, &pr);
	if (rc != 0 && pr.kind == STORE_CHAIN_GAP)
		gap_error(pr.from, pr.to, segs[first + pr.before].label, segs[first + pr.after].label);
	else if (rc != 0)
	{
		store_chain_describe(&l, &pr, why, sizeof(why));
		tide_log_error("%s", why);
		tide_log_hint("nothing past it was applied");
	}
	free(l.v);
	return rc != 0 ? TIDE_EXIT_CORRUPT : 0;
}

/*
 * catch_up - one pass over the directory: check that the segments form an
 * unbroken chain from where the replica is, and apply every whole
 * transaction they hold.  *reached says --until was reached.
 */
static int
catch_up(pass_t *p, bool first_pass, bool *reached)
{
	const opts_t *o = p->o;
	seginfo_t  *segs = NULL;
	size_t		nsegs = 0;
	size_t		first;
	size_t		last;
	apply_ident_t ident;
	int			rc;

	memset(&ident, 0, sizeof(ident));
	if ((rc = scan_dir(p, &segs, &nsegs, &ident)) != 0)
		return rc;
	if (nsegs == 0)
		goto done;
	if (ident.system_id != p->ident.system_id || strcmp(ident.dbname, p->ident.dbname) != 0 ||
		strcmp(ident.slot, p->ident.slot) != 0)
	{
		tide_log_error("the segments in \"%s\" now come from another source", o->dir);
		tide_log_detail("system %llu, database \"%s\", slot \"%s\" where this run began with system %llu, database \"%s\", slot \"%s\"",
						(unsigned long long) ident.system_id, ident.dbname, ident.slot,
						(unsigned long long) p->ident.system_id, p->ident.dbname, p->ident.slot);
		rc = TIDE_EXIT_CORRUPT;
		goto done;
	}

	/*
	 * The first segment to read: the first one not wholly applied (and, for
	 * --from, not wholly before it).  It must reach back to where the replica
	 * is, or to --from's LSN: otherwise changes in between are missing.
	 */
	{
		proto_lsn_t pos = p->done_lsn;
		bool		check = p->progress.found || p->txns > 0;

		if (o->from.arg && o->from.is_lsn && o->from.lsn > pos)
		{
			pos = o->from.lsn;
			check = true;
		}
		if (o->from.arg && !o->from.is_lsn && p->txns == 0)
			check = false;		/* a time: no LSN to check against */
		for (first = 0; first < nsegs; first++)
		{
			seginfo_t  *si = &segs[first];

			if (si->closed && si->covered <= pos)
				continue;
			if (si->closed && o->from.arg && !o->from.is_lsn &&
				(si->ntxns == 0 || si->last_time < o->from.time))
				continue;		/* wholly before --from */
			break;
		}
		METRICS(p, p->m->next_time = first < nsegs && segs[first].closed && segs[first].ntxns > 0 ?
				segs[first].first_time : 0);
		if (first == nsegs)
		{
			if (first_pass && !o->follow)
				tide_log_info("the replica is up to date with \"%s\" (at " LSN_FMT ")", o->dir, LSN_ARGS(p->done_lsn));
			goto done;
		}
		/* invariants 1 and 9: a gap in LSNs is refused, never skipped */
		if (check && segs[first].start > pos)
		{
			gap_error(pos, segs[first].start, NULL, segs[first].label);
			rc = TIDE_EXIT_CORRUPT;
			goto done;
		}
	}
	/* The segments up to --until must form one unbroken LSN chain. */
	for (last = first; last + 1 < nsegs; last++)
	{
		seginfo_t  *next = &segs[last + 1];

		if (o->until.arg && next->closed && next->ntxns > 0 &&
			(o->until.is_lsn ? next->first_lsn > o->until.lsn : next->first_time > o->until.time))
		{
			*reached = true;	/* segments after `last` start past --until */
			break;
		}
	}
	if ((rc = check_chain(segs, first, last)) != 0)
		goto done;

	if (p->bar && !o->follow)
	{
		p->bar_start = now_seconds();
		p->bar_total = p->bar_done = 0;
		for (size_t i = first; i <= last; i++)
			p->bar_total += segs[i].size;
		p->bar_nsegs = last - first + 1;
	}
	for (size_t i = first; i <= last && !p->stop && !apply_interrupted; i++)
	{
		p->bar_seg = i - first + 1;
		/* nothing to apply in an idle bucket: its place in the chain is the index's */
		if (p->remote && segs[i].closed && segs[i].ntxns == 0)
			continue;
		/*
		 * A download is checked whole before a byte of it is applied
		 * (invariant 4); what came before it is committed first, so a
		 * damaged object stops the run with the history before it applied.
		 */
		if (p->remote && segs[i].path[0] == '\0')
		{
			if (!p->in_txn && (rc = flush_batch(p)) != 0)
				goto done;
			if ((rc = fetch_segment(p, &segs[i])) != 0)
			{
				bar_end(p, false);
				goto done;
			}
		}
		if ((rc = apply_segment(p, &segs[i])) != 0)
		{
			bar_end(p, false);
			goto done;
		}
	}
	bar_end(p, !p->stop && !apply_interrupted);
	if (p->stop)
		*reached = true;
	if (p->in_txn)
	{
		/*
		 * The open segment ends inside a transaction still being written.
		 * It began a replica transaction of its own (see apply_segment), so
		 * abandoning it loses nothing already whole; the next pass reads it
		 * again from its first block.
		 */
		apply_replica_rollback(p->rep);
		if (p->txn_jobs)
			apply_jobs_abandon(p->jobs);
		p->in_txn = false;
		p->skip = false;
		p->txn_jobs = false;
		p->txn_serial = false;
		if (p->jobs)
			rc = flush_batch(p);	/* the units before it commit */
	}
	else
		rc = flush_batch(p);
done:
	/* a download the replica's progress is past is never needed again */
	if (p->remote && rc == 0)
		store_cache_forget(p->cache, &p->list, p->written_lsn);
	free(segs);
	return rc;
}

static void
on_wake(uv_handle_t *h)
{
	(void) h;					/* uv_run(UV_RUN_ONCE) returns: that is all */
}

static void
on_dir_event(uv_fs_event_t *h, const char *name, int events, int status)
{
	(void) name;
	(void) events;
	(void) status;
	on_wake((uv_handle_t *) h);
}

static void
on_poll_timer(uv_timer_t *t)
{
	on_wake((uv_handle_t *) t);
}

/* same_listing - a and b hold the same segments, each open or closed alike */
static bool
same_listing(const store_seglist_t *a, const store_seglist_t *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].name, b->v[i].name) != 0)
			return false;
	return true;
}

/*
 * follow_tail - apply what the streamer appended to the open segment g
 * since the last pass, from where that pass left off, and end the pass as
 * catch_up does: commit the batch, or abandon a transaction still being
 * written (the next pass reads it again from its first block).
 */
static int
follow_tail(pass_t *p, const store_segment_t *g, bool *reached)
{
	seginfo_t	si;
	int			rc;

	memset(&si, 0, sizeof(si));
	si.g = *g;
	memcpy(si.base, g->name, SEG_NAME_LEN);
	store_local_path(p->store, g->name, si.label, sizeof(si.label));
	snprintf(si.path, sizeof(si.path), "%s", si.label);
	if ((rc = apply_segment(p, &si)) != 0)
		return rc;
	if (p->stop)
		*reached = true;
	if (p->in_txn)
	{
		apply_replica_rollback(p->rep);
		if (p->txn_jobs)
			apply_jobs_abandon(p->jobs);
		p->in_txn = false;
		p->skip = false;
		p->txn_jobs = false;
		p->txn_serial = false;
		return flush_batch(p);
	}
	return flush_batch(p);
}

/*
 * follow_pass - one wake-up's worth of applying.  Usually the streamer has
 * only appended to the open segment: the directory holds the same files
 * as at the last full pass, and the newest is the .partial that pass
 * stopped in.  Then only the new tail of that file is read (follow_tail),
 * instead of opening every segment's header and footer again, which costs
 * in proportion to the retained history on every wake.  Anything else (a
 * segment closed, opened or pruned) takes a full catch_up pass with its
 * source, gap and chain checks.  *seen is the listing of the last full pass.
 *
 * A remote store has no open segment: each pass asks for its index with
 * If-None-Match (a 304 costs a round trip and no body) and a full pass
 * runs over the index it has; nothing is downloaded unless a segment the
 * replica lacks appeared.
 */
static int
follow_pass(pass_t *p, store_seglist_t *seen, bool *reached)
{
	store_seglist_t now;
	const store_segment_t *last;
	int			rc;

	if (p->remote)
		return catch_up(p, false, reached);
	if ((rc = store_segment_names(p->store, &now)) != 0)
	{
		tide_log_error("could not read segment directory \"%s\": %s", p->o->dir, store_errmsg(p->store));
		return TIDE_EXIT_IO;
	}
	last = now.n > 0 ? &now.v[now.n - 1] : NULL;
	if (last && last->partial && same_listing(seen, &now) &&
		strncmp(last->name, p->resume_name, SEG_NAME_LEN) == 0 && p->resume_name[0])
	{
		rc = follow_tail(p, last, reached);
		store_seglist_free(&now);
		return rc;
	}
	/* listed before catch_up's scan: a file arriving in between differs next time */
	rc = catch_up(p, false, reached);
	store_seglist_free(seen);
	*seen = now;
	return rc;
}

/*
 * follow - after the catch-up, keep applying: wake on any change in the
 * directory (inotify through libuv: the streamer's write of each flush),
 * or after a second without one (a poll, for file systems without change
 * events), and apply what became whole.  Each pass commits its batch, so
 * the replica trails the source by the streamer's --flush-delay plus the
 * time to apply.  A remote store is polled every --poll-interval; while
 * it cannot be reached the replica simply stays where it is and the poll
 * goes on.  SIGINT/SIGTERM end it between passes.
 */
static int
follow(pass_t *p, bool *reached)
{
	uv_loop_t	loop;
	uv_fs_event_t watch;
	uv_timer_t	poll;
	store_seglist_t seen = {NULL, 0};
	int			rc = 0;
	int			erc;
	double		last_log = now_seconds();
	uint64_t	logged_txns = p->txns;
	uint64_t	every = p->remote ? (uint64_t) (p->o->poll_usecs / 1000) : 1000;
	uv_loop_init(&loop);
	uv_fs_event_init(&loop, &watch);
	uv_timer_init(&loop, &poll);
	if (!p->remote && (erc = uv_fs_event_start(&watch, on_dir_event, p->o->dir, 0)) != 0)
		tide_log_warning("cannot watch \"%s\" for changes (%s): polling it every second",
						 p->o->dir, uv_strerror(erc));
	uv_timer_start(&poll, on_poll_timer, every, every);
	tide_log_info("following \"%s\": the replica is at " LSN_FMT, p->o->dir, LSN_ARGS(p->written_lsn));
	while (rc == 0 && !*reached && !apply_interrupted)
	{
		uv_run(&loop, UV_RUN_ONCE);
		if (apply_interrupted)
			break;
		rc = follow_pass(p, &seen, reached);
		if (rc == TIDE_EXIT_STORE && !p->in_txn)
		{
			/* the store is away (a web server restarting): wait for it */
			METRICS(p, p->m->store_errors++);
			if (!p->unreachable)
				tide_log_warning("the store is unreachable: the replica stays at " LSN_FMT " and tide apply keeps polling it",
								 LSN_ARGS(p->written_lsn));
			p->unreachable = true;
			rc = 0;
		}
		else if (rc == 0 && p->unreachable)
		{
			tide_log_info("the store \"%s\" answers again", p->o->dir);
			p->unreachable = false;
		}
		uv_timer_again(&poll);	/* the poll is for when no event comes */
		if (p->txns > logged_txns && now_seconds() - last_log >= 10)
		{
			tide_log_info("applied %llu transactions; the replica is at " LSN_FMT,
						  (unsigned long long) (p->txns - logged_txns), LSN_ARGS(p->written_lsn));
			logged_txns = p->txns;
			last_log = now_seconds();
		}
	}
	store_seglist_free(&seen);
	uv_close((uv_handle_t *) &watch, NULL);
	uv_close((uv_handle_t *) &poll, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) != 0)
		tide_log_warning("internal: event loop handles left open");
	if (apply_interrupted && rc == 0)
		tide_log_info("stopping on a signal: the replica is at " LSN_FMT, LSN_ARGS(p->written_lsn));
	return rc;
}

/* put_quoted - s for a POSIX shell, in single quotes when it needs them */
static void
put_quoted(proto_wbuf_t *b, const char *s)
{
	if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,@%+") == strlen(s))
	{
		proto_put_bytes(b, s, strlen(s));
		return;
	}
	proto_put_u8(b, '\'');
	for (; *s; s++)
	{
		if (*s == '\'')
			proto_put_bytes(b, "'\\''", 4);
		else
			proto_put_u8(b, (uint8_t) *s);
	}
	proto_put_u8(b, '\'');
}

/*
 * continue_command - the tide apply command that continues where the
 * replica is: this one, without --from (the replica is past it).  The
 * connection string is shown only when it holds no password.
 */
static void
continue_command(const opts_t *o, proto_wbuf_t *b)
{
	PQconninfoOption *ci = PQconninfoParse(o->r.conninfo, NULL);
	bool		secret = ci == NULL;
	char		num[64];

	for (PQconninfoOption *c = ci; c && c->keyword; c++)
		if (strcmp(c->keyword, "password") == 0 && c->val && c->val[0])
			secret = true;
	PQconninfoFree(ci);
	proto_wbuf_reset(b);
	proto_put_bytes(b, "tide apply -d ", 14);
	put_quoted(b, secret ? "REPLICA_CONNINFO" : o->r.conninfo);
	proto_put_bytes(b, " -D ", 4);
	put_quoted(b, o->dir);
	for (int i = 0; i < o->ntables; i++)
	{
		proto_put_bytes(b, " --tables ", 10);
		put_quoted(b, o->tables[i]);
	}
	for (int i = 0; i < o->r.maps.n; i++)
	{
		proto_wbuf_t m;

		proto_wbuf_init_heap(&m);
		proto_put_bytes(&m, o->r.maps.src[i], strlen(o->r.maps.src[i]));
		proto_put_u8(&m, '=');
		proto_put_bytes(&m, o->r.maps.dst[i], strlen(o->r.maps.dst[i]));
		proto_put_u8(&m, '\0');
		proto_put_bytes(b, " --map ", 7);
		put_quoted(b, m.err ? "?" : (const char *) m.data);
		proto_wbuf_free(&m);
	}
	if (o->r.on_conflict != APPLY_CONFLICT_ERROR)
	{
		const char *oc = o->r.on_conflict == APPLY_CONFLICT_SKIP ? " --on-conflict skip" : " --on-conflict update";

		proto_put_bytes(b, oc, strlen(oc));
	}
	if (o->batch != 50000)
	{
		snprintf(num, sizeof(num), " --batch %llu", (unsigned long long) o->batch);
		proto_put_bytes(b, num, strlen(num));
	}
	if (o->until.arg)
	{
		proto_put_bytes(b, " --until ", 9);
		put_quoted(b, o->until.arg);
	}
	if (o->r.schema_follow)
		proto_put_bytes(b, " --schema follow", 16);
	if (o->ddl.mode != APPLY_DDL_APPLY)
	{
		const char *dm = o->ddl.mode == APPLY_DDL_SKIP ? " --ddl skip" : " --ddl stop";

		proto_put_bytes(b, dm, strlen(dm));
	}
	for (int i = 0; i < o->ddl.nskip + o->ddl.nrun; i++)
	{
		proto_lsn_t l = i < o->ddl.nskip ? o->ddl.skip[i] : o->ddl.run[i - o->ddl.nskip];

		snprintf(num, sizeof(num), " %s " LSN_FMT, i < o->ddl.nskip ? "--ddl-skip-lsn" : "--ddl-apply-lsn", LSN_ARGS(l));
		proto_put_bytes(b, num, strlen(num));
	}
	if (o->follow)
		proto_put_bytes(b, " --follow", 9);
	proto_put_u8(b, '\0');
}

/*
 * stopped_at - after a strict re-application failed (report.c has said
 * what and in which source transaction): where the replica is and the
 * command that continues.
 */
static void
stopped_at(pass_t *p)
{
	proto_wbuf_t cmd;

	proto_wbuf_init_heap(&cmd);
	continue_command(p->o, &cmd);
	tide_log_detail("every source transaction before it is applied and committed: the replica is at " LSN_FMT
					"; the transaction is in segment \"%s\" (tide inspect --verbose shows it)",
					LSN_ARGS(p->written_lsn), p->seg_path);
	tide_log_hint("once the replica is fixed, this command continues with that transaction: %s",
				  cmd.err ? "tide apply" : (const char *) cmd.data);
	proto_wbuf_free(&cmd);
}

/*
 * retry_strict - after a batch failed on a change the replica refused:
 * roll it back and set up its re-application one source transaction at a
 * time (a new session: the failed one may be closed).  False when there is
 * nothing to retry (a lost connection, corrupt input, a strict run that
 * failed already) or the new session failed.
 */
static bool
retry_strict(pass_t *p, int rc)
{
	apply_progress_t progress;
	char		kind = p->jobs ? apply_jobs_failure(p->jobs) : 0;

	if (kind == 0)
		kind = apply_replica_failure(p->rep);
	if (rc != TIDE_EXIT_REPLICA || p->strict || kind != APPLY_FAIL_CHANGE)
		return false;
	p->strict_until = p->in_txn ? p->begin.final_lsn + 1 : p->done_lsn;
	if (p->jobs)
	{
		apply_jobs_pos_t pos;

		/*
		 * Units before the failed one commit, later ones are abandoned;
		 * the transactions from where the replica is then go one at a time
		 * through this session, and --jobs resumes after them.
		 */
		snprintf(p->jobs_error, sizeof(p->jobs_error), "%s",
				 apply_jobs_failure(p->jobs) ? apply_jobs_first_error(p->jobs) : apply_replica_first_error(p->rep));
		(void) apply_jobs_drain(p->jobs, &pos);
		jobs_look(p);
		/* one at a time only up to the end of the unit that failed */
		if (pos.failed_end && pos.failed_end < p->strict_until)
			p->strict_until = pos.failed_end;
		apply_jobs_reset(p->jobs);
		p->txn_jobs = false;
		p->txn_serial = false;
	}
	tide_log_info("a batch failed on the replica (%s): applying its source transactions again, one per replica transaction, to find the one that fails",
				  p->jobs_error[0] ? p->jobs_error : apply_replica_first_error(p->rep));
	apply_replica_set_strict(p->rep, true);
	if (apply_replica_reconnect(p->rep, &progress) != 0)
		return false;
	if ((progress.found ? progress.end_lsn : 0) != p->written_lsn)
	{
		tide_log_error("the replica's progress moved while tide apply ran: it is at " LSN_FMT ", this run had committed up to " LSN_FMT,
					   LSN_ARGS(progress.end_lsn), LSN_ARGS(p->written_lsn));
		tide_log_hint("make sure one tide apply at a time applies this source to the replica, then run it again");
		return false;
	}
	METRICS(p, p->m->replica_retries++);
	p->strict = true;
	p->done_lsn = p->written_lsn;
	p->done_time = p->written_time;
	p->txns = p->written_txns;
	p->skipped = p->written_skipped;
	p->in_txn = false;
	p->skip = false;
	p->stop = false;
	p->batch_changes = 0;
	p->resume_name[0] = '\0';	/* read the segments again from where the replica is */
	p->resume_offset = 0;
	return true;
}

/*
 * open_store - the store -D names: a directory read in place, or a remote
 * store (s3://, http(s)://) read through its index, its segments
 * downloaded into the cache as the replica needs them.
 */
static int
open_store(pass_t *p)
{
	char		err[STORE_ERRLEN];
	int			rc;

	if ((rc = store_open(p->o->dir, NULL, &p->store, err)) != 0)
	{
		tide_log_error("%s", err);
		if (rc == -ENOENT || rc == -ENOTDIR)
			return TIDE_EXIT_IO;
		return rc == -EINVAL ? TIDE_EXIT_USAGE : TIDE_EXIT_STORE;
	}
	p->remote = store_kind(p->store) != STORE_LOCAL;
	if (!p->remote)
		return 0;
	if ((rc = store_cache_dir(p->o->dir, p->o->cache, p->cache, sizeof(p->cache), err)) != 0)
	{
		tide_log_error("%s", err);
		tide_log_hint("give a directory of your own with --cache DIR");
		return TIDE_EXIT_IO;
	}
	return 0;
}

int
tide_cmd_apply(int argc, char **argv)
{
	apply_opts_t o;
	tide_conn_opts_t conn = {0};
	int			rc;

	if ((rc = parse_opts(argc, argv, &o, &conn)) == 0)
		rc = tide_apply_run(&o);
	tide_conn_free(&conn);
	return rc < 0 ? TIDE_EXIT_OK : rc;
}

int
tide_apply_run(const apply_opts_t *opts)
{
	apply_opts_t o = *opts;
	pass_t	   *p = NULL;
	seginfo_t  *segs = NULL;
	size_t		nsegs = 0;
	double		t0 = now_seconds();
	bool		reached = false;
	tide_metrics_thread_t *mt = NULL;
	int			rc;

	/* the copy's own --tables list, NULL-terminated, for the replica side */
	o.tables[o.ntables] = NULL;
	o.r.tables = o.tables;
	if ((p = calloc(1, sizeof(*p))) == NULL)
	{
		tide_log_error("out of memory");
		return TIDE_EXIT_BUG;
	}
	p->o = &o;

	/*
	 * The passes block on the replica and on downloads, and --follow's loop
	 * runs only between them, so the metrics are served from a thread of
	 * their own out of a snapshot under a mutex (apply_metrics.h): a scrape
	 * is answered, and shows the lag growing, while a pass waits on a lock.
	 */
	if (o.metrics)
	{
		if ((p->m = calloc(1, sizeof(*p->m))) == NULL)
		{
			free(p);
			tide_log_error("out of memory");
			return TIDE_EXIT_BUG;
		}
		pthread_mutex_init(&p->m->mu, NULL);
		if ((rc = tide_metrics_thread_start(&mt, &o.metrics_addr, apply_metrics_collect, p->m)) != 0)
			goto out;
	}
	if ((rc = open_store(p)) != 0)
		goto out;
	if ((rc = scan_dir(p, &segs, &nsegs, &p->ident)) != 0)
		goto out;
	free(segs);
	/* --follow before the streamer's first segment is whole: wait for it */
	for (int waited = 0; nsegs == 0 && o.follow && !apply_interrupted; waited++)
	{
		if (waited == 0)
			tide_log_info("waiting for a first segment in \"%s\"", o.dir);
		usleep(p->remote ? (useconds_t) o.poll_usecs : 1000000);
		if ((rc = scan_dir(p, &segs, &nsegs, &p->ident)) != 0)
		{
			if (rc == TIDE_EXIT_STORE)
				continue;		/* the store is away: keep waiting */
			goto out;
		}
		free(segs);
	}
	if (nsegs == 0)
	{
		if (!o.follow)
			tide_log_info("no segments in \"%s\": nothing to apply", o.dir);
		rc = TIDE_EXIT_OK;		/* or interrupted while waiting */
		goto out;
	}
	p->bar = isatty(STDERR_FILENO) && !tide_log_quiet;
	proto_relcat_init(&p->cat, NULL);
	if ((rc = apply_replica_connect(&p->rep, &o.r, &p->ident, &p->progress)) != 0)
		goto out;
	if (p->progress.found)
		p->done_lsn = p->written_lsn = p->progress.end_lsn;
	p->done_time = p->progress.commit_time;
	p->written_time = p->progress.found ? p->progress.commit_time : 0;
	metrics_committed(p);

	/* --from: never before what the replica already has */
	if (o.from.arg && p->progress.found &&
		(o.from.is_lsn ? p->progress.end_lsn > o.from.lsn : p->progress.commit_time > o.from.time))
	{
		tide_log_error("the replica is already past --from %s", o.from.arg);
		tide_log_detail("tide.progress says the replica has applied up to " LSN_FMT " (the transaction that ended there)",
						LSN_ARGS(p->progress.end_lsn));
		tide_log_hint("leave out --from to continue where the replica is; transactions are never applied twice");
		rc = TIDE_EXIT_USAGE;
		goto out;
	}
	if (o.follow)
	{
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_stop_signal;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}

	if (o.jobs > 1)
	{
		apply_jobs_opts_t jo;

		memset(&jo, 0, sizeof(jo));
		jo.njobs = o.jobs;
		jo.batch = o.batch;
		jo.ropts = &o.r;
		jo.ident = p->ident;
		if ((rc = apply_jobs_start(&p->jobs, &jo, p->rep)) != 0)
			goto out;
	}

	/*
	 * Batches until one fails on a change: then its transactions again one
	 * by one up to the failure, which is then named with everything before
	 * it committed (invariant 7), or went through after all.
	 */
	apply_replica_set_strict(p->rep, false);
	for (bool first = true;; first = false)
	{
		reached = false;
		rc = catch_up(p, first, &reached);
		if (rc == 0 && o.follow && !reached && !apply_interrupted)
			rc = follow(p, &reached);
		if (rc == 0)
			break;
		if (p->strict && rc == TIDE_EXIT_REPLICA && apply_replica_failure(p->rep) == APPLY_FAIL_CHANGE)
		{
			apply_replica_held(p->rep, false);	/* the strict run said it better */
			stopped_at(p);
			goto out;
		}
		if (!retry_strict(p, rc))
			goto out;
	}

	/*
	 * Transactions whose changes were all filtered out moved the position
	 * without a replica transaction.  Record it once, at the end of the run
	 * (one XID), so the next run does not need the segments before it.
	 */
	if (p->done_lsn > p->written_lsn)
	{
		if ((rc = apply_replica_commit(p->rep, p->done_lsn, p->done_time)) != 0)
			goto out;
		p->written_lsn = p->done_lsn;
		p->written_time = p->done_time;
		metrics_committed(p);
	}
	summary(p, now_seconds() - t0, reached ? "reached --until" : apply_interrupted ? "stopped" : "done");

out:
	if (rc != 0 && p->rep)
	{
		apply_replica_held(p->rep, true);	/* a failure not retried */
		apply_replica_rollback(p->rep);
	}
	apply_jobs_stop(p->jobs);	/* what has not committed is abandoned */
	apply_replica_close(p->rep);
	tide_metrics_thread_stop(mt);
	if (p->m)
		pthread_mutex_destroy(&p->m->mu);
	free(p->m);
	proto_relcat_free(&p->cat);
	store_seglist_free(&p->list);
	store_close(p->store);
	free(p);
	return rc;
}
