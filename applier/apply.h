/*
 * applier/apply.h
 *		`tide apply`: what the segment side (apply.c) and the replica side
 *		(session.c, stmt.c and the other files replica_int.h lists) share.
 *
 * apply.c reads segments block by block and decides which source
 * transactions to apply and where replica transactions begin and end; the
 * replica side owns the libpq connection and turns decoded changes into
 * COPY data and prepared statements.  Functions returning int return 0 or a
 * TIDE_EXIT_* code after logging the failure once.
 */
#ifndef TIDE_APPLY_H
#define TIDE_APPLY_H

#include <stdbool.h>
#include <stdint.h>

#include <sys/socket.h>

#include <libpq-fe.h>

#include "tide/buf.h"
#include "tide/relcat.h"
#include "tide/wire.h"

#include "relmap.h"

/* Per-change-kind counters. */
typedef struct
{
	uint64_t	inserts;
	uint64_t	updates;
	uint64_t	deletes;
	uint64_t	truncates;
	uint64_t	copied;			/* inserts that went through COPY */
	uint64_t	not_found;		/* UPDATE/DELETE that matched no row */
	uint64_t	conflicts;		/* INSERTs skipped by --on-conflict skip */
	uint64_t	coalesced;		/* changes folded into a later one of the batch */
	uint64_t	set_rows;		/* rows written by set-based statements */
	uint64_t	replica_txns;	/* replica transactions committed */
	uint64_t	xids;			/* of which had an XID assigned */
	uint64_t	seq_states;		/* sequence states of "tide.seq" messages */
	uint64_t	seq_moved;		/* of which moved a replica sequence forward */
	uint64_t	ddl_run;		/* captured DDL commands run (applier/ddl.c) */
	uint64_t	ddl_skipped;	/* captured DDL commands left out */
} apply_counts_t;

/* A prepared UPDATE for one set of changed columns. */
typedef struct apply_upd_s
{
	uint8_t    *mask;			/* owned: natts bytes, 1 = column is SET */
	char		name[32];
	struct apply_upd_s *next;
} apply_upd_t;

/*
 * What the replica has for one source relation (keyed by source OID), built
 * on the first change that uses it and kept while its RELATION message
 * stays byte-identical (each segment repeats it).
 */
typedef struct apply_rel_s
{
	uint32_t	relid;
	uint64_t	generation;		/* relcat generation this was checked for */
	uint8_t    *body;			/* owned: copy of the RELATION body */
	size_t		body_len;
	bool		resolved;
	bool		filtered;		/* not in --tables: changes are skipped */
	char	   *target;			/* owned: quoted "schema"."table" */
	char	   *display;		/* owned: schema.table, for messages */
	char	   *srcname;		/* owned: the source's schema.table */
	uint32_t	oid;			/* the replica table */
	char		relkind;		/* 'r' or 'p' */
	bool		routed;			/* a source partition mapped to this root */
	bool		firing;			/* has triggers or rules that fire in replica mode */
	uint16_t	natts;
	char	  **colq;			/* owned: quoted column names */
	uint32_t   *coltypid;		/* owned: replica column types (parameter types) */
	char	  **eqop;			/* owned: "OPERATOR(nsp.=)" of the column's
								 * default btree opclass, NULL: compare the
								 * exact text form */
	char	  **eqcast;			/* owned: "::type" making the operator's input
								 * types exact, or NULL */
	bool		has_key;		/* some column is in the replica identity */
	bool		no_copy;		/* a value needs the binary path */
	bool	   *colbin;			/* owned: the column's values go in binary
								 * (proto_value_send), its replica type being
								 * the source's base type */
	bool		bincopy;		/* every column goes in binary: COPY (FORMAT
								 * binary) */
	char		ins_name[32];	/* prepared INSERT, "" until prepared */
	char		del_name[32];	/* prepared DELETE, "" until prepared */
	apply_upd_t *upds;			/* owned list */
	/* set-based apply of a batch (coalesce.c) */
	bool		coalesce;		/* the table qualifies */
	bool		stage_ok;		/* its stage table exists in this session */
	struct apply_coal_s *co;	/* owned: the batch's pending changes */
	struct apply_rel_s *next;	/* hash chain */
} apply_rel_t;

typedef struct apply_replica_s apply_replica_t;

/* Settings the replica side needs (from the command line). */
typedef struct
{
	const char *conninfo;
	apply_maps_t maps;			/* --map */
	const char **tables;		/* --tables patterns, NULL-terminated */
	char		on_conflict;	/* APPLY_CONFLICT_* */
	bool		schema_follow;	/* --schema follow: create missing tables
								 * and columns (follow.c, "schema
								 * following") */
	bool		worker;			/* a --jobs worker's session (jobs.c): no
								 * lock of its own against other appliers */
	bool		text_values;	/* --values text: every value as text, as
								 * before binary values */
	size_t		set_bytes;		/* a table's pending set is written at this
								 * many bytes (0: coalset.h's bound) */
} apply_replica_opts_t;

/* --on-conflict: what an INSERT that hits an existing key does */
#define APPLY_CONFLICT_ERROR 'e'	/* stop (the default: the replica differs) */
#define APPLY_CONFLICT_SKIP 's'		/* keep the replica's row */
#define APPLY_CONFLICT_UPDATE 'u'	/* overwrite it with the source's */

/* Progress row of one source. */
typedef struct
{
	bool		found;
	proto_lsn_t end_lsn;
	proto_time_t commit_time;
} apply_progress_t;

/* Source identity (from segment headers). */
typedef struct
{
	uint64_t	system_id;
	char		dbname[PROTO_MAX_NAME + 1];
	char		slot[PROTO_MAX_NAME + 1];
	char		encoding[PROTO_MAX_NAME + 1];
} apply_ident_t;

/*
 * apply_replica_connect - connect, set up the session for the source's
 * encoding, make sure tide.progress exists, lock out other appliers of the
 * same source and read its progress.
 */
int			apply_replica_connect(apply_replica_t **out,
								  const apply_replica_opts_t *opts,
								  const apply_ident_t *ident,
								  apply_progress_t *progress);
void		apply_replica_close(apply_replica_t *r);

/*
 * apply_replica_trim - between replica transactions, hand back the memory
 * the session keeps for reuse: its tables' empty pending sets (one grows
 * to COAL_MAX_ARENA of rows) and its empty render buffers.  Anything that
 * holds bytes is kept.  For a session about to sit idle while another
 * works (--jobs, jobs.c "Large transactions").
 */
void		apply_replica_trim(apply_replica_t *r);
PGconn	   *apply_replica_conn(apply_replica_t *r);
const apply_counts_t *apply_replica_counts(apply_replica_t *r);

/*
 * apply_rel_known - has r resolved this relcat entry's description already
 * (so apply_rel_get runs no catalog query and, under --schema follow, no
 * DDL)?
 */
bool		apply_rel_known(apply_replica_t *r, const proto_relcat_entry_t *e);

/* apply_rel_get - the state for a relcat entry, checked against the replica. */
int			apply_rel_get(apply_replica_t *r, proto_relcat_entry_t *e,
						  apply_rel_t **out);

/* Changes.  apply_replica_begin is implied by the first change. */
bool		apply_replica_in_txn(apply_replica_t *r);
int			apply_insert(apply_replica_t *r, apply_rel_t *rs,
						 const proto_relation_t *rel, const proto_tuple_t *t,
						 bool run);
int			apply_update(apply_replica_t *r, apply_rel_t *rs,
						 const proto_relation_t *rel, const proto_update_t *u);
int			apply_delete(apply_replica_t *r, apply_rel_t *rs,
						 const proto_relation_t *rel, const proto_delete_t *d);
int			apply_truncate(apply_replica_t *r, apply_rel_t **rels, int n,
						   uint8_t flags);

/*
 * apply_sequences - a "tide.seq" message's payload: every replica sequence
 * it names (and --tables wants) moved forward to the source's state, never
 * backward.  where names the segment for messages.  TIDE_EXIT_CORRUPT for
 * a payload that cannot be read.
 */
int			apply_sequences(apply_replica_t *r, const char *payload, size_t len,
							const char *where);

/*
 * Failure handling.  In batch mode (the default after connecting, once
 * apply.c calls apply_replica_set_strict(r, false)) changes of many source
 * transactions are folded and pipelined, so the messages of a failure are
 * held back; apply.c then re-applies the batch in strict mode (one
 * statement answered at a time, one source transaction per replica
 * transaction), where a failure is logged at once naming the source
 * transaction given by apply_replica_txn.
 *
 * apply_replica_failure - APPLY_FAIL_CHANGE when the replica refused a
 *		change (a server error about the data or schema, or a divergence
 *		found here: worth a strict re-application), APPLY_FAIL_OTHER for a
 *		lost connection or a server in trouble, 0 when nothing failed.
 * apply_replica_first_error - the primary message of that failure.
 * apply_replica_held - log the held messages (emit) or drop them.
 * apply_replica_reconnect - a new session (after a rollback that may have
 *		closed the old one): every prepared statement and cached relation
 *		is forgotten, counts go back to the last commit; *progress is read
 *		again.
 */
#define APPLY_FAIL_CHANGE 'c'
#define APPLY_FAIL_OTHER 'o'

void		apply_replica_set_strict(apply_replica_t *r, bool strict);
void		apply_replica_txn(apply_replica_t *r, proto_lsn_t commit_lsn,
							  proto_time_t commit_time, uint32_t xid);
char		apply_replica_failure(apply_replica_t *r);
const char *apply_replica_first_error(apply_replica_t *r);
void		apply_replica_held(apply_replica_t *r, bool emit);
int			apply_replica_reconnect(apply_replica_t *r, apply_progress_t *progress);

/*
 * apply_replica_commit - write the progress row (end_lsn, commit_time) and
 * commit, in one replica transaction (opened if none is).
 * apply_replica_rollback - abandon the open replica transaction.
 */
int			apply_replica_commit(apply_replica_t *r, proto_lsn_t end_lsn,
								 proto_time_t commit_time);
void		apply_replica_rollback(apply_replica_t *r);

/*
 * For --jobs (jobs.c).  apply_replica_sqlstate - the SQLSTATE of the
 * failure ("" when it was not a server error).  apply_replica_set_gate -
 * gate_cb is asked before every statement that writes (table: the replica
 * table of a folded set, else 0): 0 goes on, anything else fails the
 * session's transaction (APPLY_FAIL_OTHER); keydep_cb says whether a key
 * folded into a set must wait (those of a set are written after its gate,
 * the others before).  A worker sends what it holds back before its turn
 * to commit with apply_replica_quiesce (below).
 */
const char *apply_replica_sqlstate(apply_replica_t *r);
void		apply_replica_set_gate(apply_replica_t *r, int (*gate_cb) (void *arg, uint32_t table),
								   bool (*keydep_cb) (void *arg, uint32_t table,
													  const proto_relation_t *rel,
													  const proto_tuple_t *t),
								   void *arg);

/*
 * apply_corrupt - log that segment `path` is damaged in the block at off
 * (what: how); returns TIDE_EXIT_CORRUPT.
 */
int			apply_corrupt(const char *path, uint64_t off, const char *what);

/*
 * For applier/ddl.c (captured DDL), in replica.c:
 * apply_replica_quiesce - every change before this point sent and answered
 *		(COPY ended, coalesced rows written, pipeline left); with txn, inside
 *		a replica transaction (opened if none is).
 * apply_replica_schema_changed - the replica's catalog changed in the open
 *		transaction: every cached table description is resolved again, and
 *		forgotten if the transaction rolls back.
 * apply_replica_create_missing - while on, a table missing on the replica
 *		is created from its relation description as --schema follow does.
 * apply_replica_report/fail/log/txn_detail - failure reporting as for a
 *		change (held back in batch mode); report and fail return
 *		TIDE_EXIT_REPLICA.  log's level is 'E'rror, 'D'etail or 'H'int.
 */
int			apply_replica_quiesce(apply_replica_t *r, bool txn);
void		apply_replica_schema_changed(apply_replica_t *r);
void		apply_replica_create_missing(apply_replica_t *r, bool on);
int			apply_replica_report(apply_replica_t *r, PGresult *res, const char *what);
int			apply_replica_fail(apply_replica_t *r);
void		apply_replica_log(apply_replica_t *r, char level, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
void		apply_replica_txn_detail(apply_replica_t *r);
void		apply_replica_count_ddl(apply_replica_t *r, bool run);
const char *apply_replica_map_schema(apply_replica_t *r, const char *nsp);
bool		apply_replica_table_wanted(apply_replica_t *r, const char *nsp, const char *rel);
bool		apply_replica_filtered(apply_replica_t *r);	/* --tables given */
bool		apply_replica_mapped(apply_replica_t *r);	/* --map given */
bool		apply_replica_follows(apply_replica_t *r);
bool		apply_replica_strict(apply_replica_t *r);
const apply_ident_t *apply_replica_ident(apply_replica_t *r);

#define APPLY_DDL_MAX_LSNS 16

/* --ddl: what a captured command does */
#define APPLY_DDL_APPLY 'a'		/* run it on the replica (the default) */
#define APPLY_DDL_SKIP 's'		/* leave it out */
#define APPLY_DDL_STOP 'x'		/* stop before it (exit 4) */

typedef struct
{
	char		mode;			/* APPLY_DDL_* */
	proto_lsn_t skip[APPLY_DDL_MAX_LSNS];	/* --ddl-skip-lsn */
	int			nskip;
	proto_lsn_t run[APPLY_DDL_MAX_LSNS];	/* --ddl-apply-lsn */
	int			nrun;
} apply_ddl_opts_t;

/* A point given to --until or --from. */
typedef struct
{
	const char *arg;			/* NULL: not given */
	bool		is_lsn;
	proto_lsn_t lsn;
	proto_time_t time;
} apply_target_t;

/*
 * What `tide apply` is told: its command line (tide_cmd_apply), or
 * bootstrap's, which fills one once the base is in.  Strings are borrowed.
 */
typedef struct
{
	apply_replica_opts_t r;		/* r.conninfo: one connection string */
	const char *dir;			/* -D: a directory or a store URL */
	const char *cache;			/* --cache, or NULL: the default */
	int64_t		poll_usecs;		/* --poll-interval (remote --follow) */
	apply_target_t until;
	apply_target_t from;
	uint64_t	batch;
	int			jobs;			/* --jobs: worker sessions (1: none) */
	bool		follow;
	bool		metrics;		/* --metrics-listen given */
	struct sockaddr_storage metrics_addr;
	const char *tables[257];	/* --tables; r.tables is set by the run */
	int			ntables;
	apply_ddl_opts_t ddl;		/* --ddl, --ddl-skip-lsn, --ddl-apply-lsn */
} apply_opts_t;

/* apply_opts_init - the defaults (what no option says) */
void		apply_opts_init(apply_opts_t *o);

/*
 * tide_apply_run - `tide apply` with these options: 0 or a TIDE_EXIT_*
 * code, logged.
 */
int			tide_apply_run(const apply_opts_t *o);

/* tide_cmd_apply - `tide apply`: its options into an apply_opts_t, then run */
int			tide_cmd_apply(int argc, char **argv);

#endif /* TIDE_APPLY_H */
