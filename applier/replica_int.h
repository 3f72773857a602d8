/*
 * applier/replica_int.h
 *		What the files of the replica side share and nothing else includes:
 *		the session state (struct apply_replica_s) and its limits.
 *
 * The replica side of `tide apply` is split by job, as PostgreSQL splits
 * logical/worker.c and logical/relation.c:
 *
 *	session.c	connection, session settings, tide.progress, transactions
 *	report.c	failure messages (held back in batch mode), their
 *				classification by SQLSTATE, strict mode
 *	relation.c	a source relation's table on the replica (apply_rel_get),
 *				its columns, operators and triggers
 *	follow.c	--schema follow: missing tables, partitions, columns and
 *				sequences created
 *	stmt.c		prepared INSERT/UPDATE/DELETE in pipeline mode, TRUNCATE
 *	copy.c		COPY for runs of inserts, the text COPY rendering of rows
 *	coalesce.c	set-based apply of a batch (hot rows folded per key)
 *	seq.c		"tide.seq" messages: replica sequences moved forward
 *
 * relmap.c (the --map schema mapping and the --tables filter) is shared
 * with verify.c; coalset.c (the pure fold of coalesce.c) is unit-tested.
 * Each file's functions that others call are declared in the file's own
 * header.
 */
#ifndef TIDE_REPLICA_INT_H
#define TIDE_REPLICA_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tide/common.h"
#include "apply.h"
#include "relmap.h"

/* Statements in flight in pipeline mode: a Sync every PIPE_SYNC_EVERY
 * statements, and at most PIPE_MAX_SYNCS unanswered Syncs. */
#define PIPE_SYNC_EVERY 100
#define PIPE_MAX_SYNCS 4
#define PIPE_RING (PIPE_SYNC_EVERY * (PIPE_MAX_SYNCS + 2) + 16)
#define COPY_CHUNK (256 * 1024)
#define REL_BUCKETS 256
#define MAX_PARAMS (2 * PROTO_MAX_COLUMNS)

typedef struct
{
	char		kind;			/* 'I', 'U', 'D', or 'S' for a Sync */
	apply_rel_t *rel;
} pending_t;

struct apply_replica_s
{
	PGconn	   *conn;			/* owned */
	const apply_replica_opts_t *opts;
	apply_relmap_t relmap;		/* opts' --map and --tables */
	apply_ident_t ident;
	bool		in_txn;
	bool		pipeline;
	bool		failed;			/* an error was logged (or held): stop */
	char		fail_kind;		/* APPLY_FAIL_* of that error */
	char		first_error[512];	/* its primary message */

	/*
	 * Batch mode folds and pipelines changes of many source transactions,
	 * so a failure there cannot name the change that caused it: its
	 * messages are held back (defer) while apply.c applies the batch again
	 * in strict mode, one statement at a time and one source transaction
	 * per replica transaction, which names the change exactly.
	 */
	bool		strict;
	bool		defer;
	proto_wbuf_t held;			/* owned: held messages, level byte + text + NUL */
	bool		have_txn;		/* the source transaction being applied: */
	proto_lsn_t txn_lsn;		/* its commit LSN */
	proto_time_t txn_time;
	uint32_t	txn_xid;
	int64_t		last_rows;		/* rows of the last strict statement */
	apply_counts_t committed;	/* counts as of the last replica commit */
	int			since_sync;
	int			syncs;
	pending_t	ring[PIPE_RING];
	size_t		ring_head;
	size_t		ring_n;
	apply_rel_t *copy_rel;		/* COPY open into this relation */
	proto_wbuf_t copybuf;		/* owned */
	proto_wbuf_t line;			/* owned: one COPY row being built */
	proto_wbuf_t keybuf;		/* owned: a key's wire bytes, for folding */
	proto_wbuf_t tmp;			/* owned: one value's text */
	proto_wbuf_t vals;			/* owned: parameter texts, NUL-separated */
	proto_wbuf_t sql;			/* owned */
	size_t		voff[MAX_PARAMS];
	const char *pv[MAX_PARAMS];
	int			pl[MAX_PARAMS];
	int			pf[MAX_PARAMS];
	Oid			ptypes[MAX_PARAMS];	/* parameter types of the statement being built */
	int			np;
	apply_rel_t *rels[REL_BUCKETS];	/* owned */
	bool		ddl_in_txn;		/* --schema follow changed the replica's
								 * catalog in the open replica transaction */
	bool		create_missing;	/* applier/ddl.c: a CREATE TABLE AS is under
								 * way, create its table from the relation */
	uint64_t	stmt_seq;
	apply_counts_t counts;
	char		fail_state[6];	/* SQLSTATE of the failure, "" if none */

	/*
	 * --jobs: a worker's session asks gate_cb before each statement that
	 * writes (jobs.c: what its unit depends on must have committed first);
	 * table is the replica table a folded set is written to, 0 for others.
	 */
	int			(*gate_cb) (void *arg, uint32_t table);
	/* does an earlier uncommitted unit write this key of `table`? */
	bool		(*keydep_cb) (void *arg, uint32_t table, const proto_relation_t *rel,
							  const proto_tuple_t *t);
	void	   *gate_arg;
};

/* sql_put - a C string into a buffer (SQL text, messages) */
static inline void
sql_put(proto_wbuf_t *b, const char *s)
{
	proto_put_bytes(b, s, strlen(s));
}

#endif							/* TIDE_REPLICA_INT_H */
