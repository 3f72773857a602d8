/*
 * applier/jobs.c
 *		`tide apply --jobs N`: ordered parallel apply.  A dispatcher (the
 *		reader of apply.c, on the run's own thread) cuts the source's
 *		transactions, in commit order, into units; N worker threads, each
 *		with a replica session of its own, apply units concurrently and
 *		commit them in order.
 *
 * Design
 * ------
 * A unit is a contiguous run of source transactions (never part of one),
 * closed at --batch / N changes (at least JOBS_MIN_UNIT) or unit_bytes of
 * messages, whichever comes first, and after a barrier: it is one replica
 * transaction, as a batch is without --jobs (group
 * commit: the replica spends one XID per unit), and it carries its own
 * copies of the messages and of the RELATION descriptions they use, so a
 * worker needs nothing else.  Units are numbered 1, 2, ... in commit order.
 *
 * Why a unit must be a contiguous run: a replica transaction holding the
 * source's T1 and T3 while another holds T2 could commit neither first
 * without the replica passing through a state the source never had (T1+T3
 * without T2, or T2 without T1).  With contiguous runs, committing units in
 * order commits transactions in order.
 *
 * Dependencies (deptrack.h): each change names the keys it writes: the
 * replica table (its OID: partitions routed into one replica table share
 * it) and the values of its replica identity key, old and new.  A
 * transaction of unit u may write only once every earlier unit that wrote
 * one of its keys has committed; because units commit in order, that is
 * one watermark, its "gate", which the session asks before each statement
 * that writes (apply_replica_set_gate).  So a unit starts at once, folds
 * and renders its changes, and waits only before its first write that
 * could meet an earlier unit's uncommitted one.  Writes to one key thus
 * reach the replica in source order; writes to different keys commute, as
 * folding within a batch already relies on.
 *
 * What the keys cannot describe is a barrier, which runs alone: every
 * earlier unit commits before it starts, and no later unit is handed out
 * before it commits.  Barriers are: TRUNCATE; UPDATE and DELETE on a table
 * without identity or with identity FULL (rows found by every column);
 * any change to a table with a trigger or rule that fires on the replica
 * (session_replication_role = replica leaves foreign keys' internal
 * triggers off, so foreign keys take no locks and need no barrier, but an
 * ALWAYS trigger, internal or not, is a barrier), or with a unique index
 * or exclusion constraint other than one on exactly the identity columns
 * (the stream carries old values of the identity only, so a DELETE cannot
 * say which other unique value it frees); a key value that was not sent;
 * any message type this version does not know.  A RELATION that is new or
 * redefined needs no barrier: each unit carries the descriptions it uses.
 * Captured DDL runs on the run's own session (apply.c takes its transaction
 * back from the unit being filled).  So does, under --schema follow, a
 * transaction that uses a description the run's session has not resolved
 * yet (rel_facts: it may create a table, partition or column); once it
 * has, units use the description like any other, and workers never create.
 * Inserts into a table without identity and without a unique index have
 * no key and need none: nothing can conflict with a new row there.
 *
 * Large transactions: a transaction that spans blocks (it did not fit in
 * one segment block) is not handed to a worker at all: apply.c drains the
 * workers (every unit committed) and applies it on its own session,
 * streaming, in bounded memory, exactly as without --jobs, and commits it
 * before the next unit begins.  A 1 GB transaction therefore costs the
 * memory of one block, never 1 GB, and never waits in a unit's buffer.
 *
 * Hot rows: folding (coalesce.c) works within a unit as it does within a
 * batch: a pgbench branch updated by every transaction of a unit is
 * written once per unit.  A folded set is written in two parts: the keys
 * no earlier uncommitted unit writes, at once, and the others (the unit
 * lists them, and the session asks keydep_cb for each key it folds) after
 * the table's gate, the latest earlier uncommitted unit that wrote one of
 * them.  So unit k writes nearly all of its pgbench_accounts rows while
 * unit k-1 has not committed, and only the few it shares with k-1, and
 * its branch and teller rows, wait for k-1's commit.  Units that share
 * hot rows thus serialise only the statements that write those rows;
 * parsing, rendering, folding and the rest overlap.
 *
 * Commit order: a worker that has applied and flushed its unit waits for
 * its turn (every earlier unit committed), then writes the progress row
 * (end LSN of the unit's last transaction) and commits, in one replica
 * transaction, as apply.c does for a batch.  The progress row is written
 * only in the turn, so no two workers ever wait on each other for it.
 *
 * Locks the tracker cannot see (a replica-side index on an expression of
 * an identity column, two wire forms of one key value) may still make an
 * earlier unit wait for a later one, which waits for the earlier one's
 * commit: a deadlock PostgreSQL cannot see.  The dispatcher watches: when
 * the oldest uncommitted unit (the head) has run for a while, it asks
 * pg_blocking_pids() for the head's backend, and any worker of a later
 * unit among the blockers is abandoned (its query cancelled, or its wait
 * ended) and retried once the head has committed.  A deadlock PostgreSQL
 * sees (40P01) or a serialization failure (40001) is retried the same way,
 * after every earlier unit has committed: the earlier unit always wins.
 * Any other failure of a unit stops the dispatcher: earlier units commit,
 * later ones are abandoned, and apply.c applies the transactions from the
 * replica's position again one at a time on its own session (as after a
 * failed batch), which names the failing transaction, or goes through if
 * the failure came from a dependency the tracker missed (a key value in
 * two wire forms: an UPDATE that found no row because the INSERT before it
 * had not committed).
 *
 * Threads, not one event loop: replica.c's sessions are written against
 * libpq's blocking calls (COPY, pipeline drains, catalog lookups), and a
 * worker spends its time inside them; a thread per worker keeps every
 * line of that code as it is, and runs the client side of N sessions
 * (rendering COPY lines, folding) on N cores, which one event loop would
 * not.  The applier did not use libuv for its sessions before either
 * (only --follow's directory watch, on the reader's thread).
 *
 * Correctness argument
 * --------------------
 * Prefix consistency.  Unit u commits only after unit u-1's COMMIT has
 * returned, so the replica's commits, and its WAL, follow unit order; a
 * unit is a contiguous run of source transactions.  After any replica
 * commit, the replica holds exactly source transactions 1..k for some k
 * (with --tables: their changes to the chosen tables).  Within a unit,
 * changes are applied in source order by one session.  Across units, two
 * changes to one key are ordered by the gate: the later unit's write waits
 * for the earlier unit's commit; changes to different keys of tables that
 * are not barriers commute (their effects are on different rows, and the
 * tables have no triggers and no other unique constraints that could make
 * one change's outcome depend on another's).  Barriers run alone.  So when
 * unit k commits, every row holds what the source's row held after
 * transaction k's run: the state after a prefix.  A missed dependency
 * (a false "different") shows as a server error or a wait the watchdog
 * breaks, never as a silently different row: UPDATE and DELETE check the
 * row count (invariant 7), INSERT meets the unique index; the failure
 * sends the transactions back to the one-at-a-time path.  That is why
 * --jobs refuses --on-conflict skip|update, where a row not found is not
 * an error.
 *
 * No loss, no duplicate, across crashes.  Each unit's replica transaction
 * writes the progress row (end LSN of its last source transaction) with
 * its changes, atomically.  Since units commit in order, the progress row
 * the replica holds after any crash (of the applier, its workers, or the
 * replica, with synchronous_commit off too: a crash loses a suffix of
 * commits, never a middle one) names exactly the last committed unit, and
 * every transaction up to it is applied and every one after it is not.
 * A restart (with any --jobs) skips transactions whose commit LSN is below
 * the progress row's end and applies the rest: exactly once.  A unit
 * abandoned (a retry, a failure, a kill) is rolled back whole with its
 * progress row; it is applied again later, never partly.
 *
 * Progress.  The head unit never waits for a later one: its gate is open
 * (everything earlier committed); a lock held by a later unit is found by
 * the watchdog or PostgreSQL's deadlock detector and the later unit gives
 * way; a retried unit starts only when it is the head.  So the head
 * commits, and then the next unit is the head.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tide/common.h"
#include "tide/seqstate.h"
#include "apply.h"
#include "coalset.h"
#include "deptrack.h"
#include "jobs.h"

#define JOBS_UNIT_BYTES ((size_t) 8 << 20)	/* default message bytes per unit */
#define JOBS_MIN_UNIT 2000		/* changes: units are not made smaller */
#define JOBS_RETRIES 1000		/* a unit given up after this many retries */
#define JOBS_WATCH_USECS 100000	/* the dispatcher looks at the head this often */
#define JOBS_WATCH_AFTER 0.2	/* seconds the head runs before it is watched */
#define JOBS_WATCH_GIVEUP 5.0	/* ... before every later unit it waits for gives way */
#define JOBS_REL_BUCKETS 256

/* One source transaction of a unit: its gate. */
typedef struct
{
	uint64_t	gate;			/* unit that must have committed first */
} jobs_txn_t;

/* A replica table the unit writes keys of, and the gate of its folded set. */
typedef struct
{
	uint32_t	table;
	uint64_t	gate;
} jobs_tgate_t;

/* A key of the open transaction and the replica table it belongs to. */
typedef struct
{
	uint64_t	key;
	uint32_t	table;
} jobs_key_t;

typedef struct jobs_unit_s
{
	uint64_t	id;				/* tracker unit, 1, 2, ... */
	proto_wbuf_t buf;			/* owned: framed messages */
	jobs_txn_t *txns;			/* owned: one per BEGIN in buf */
	uint32_t	ntxns;
	uint32_t	captxns;
	jobs_tgate_t *tgates;		/* owned: per table, for its folded set */
	uint32_t	ntgates;
	size_t		captgates;
	uint64_t   *depkeys;		/* owned: keys an earlier unit writes too,
								 * sorted when the unit is handed out */
	uint32_t	ndepkeys;
	uint32_t	capdepkeys;
	uint64_t	changes;
	uint64_t	dep_all;		/* gate of the final flush */
	bool		barrier;
	proto_lsn_t end_lsn;		/* of its last transaction */
	proto_time_t end_time;
	uint64_t	txn_count;		/* the reader's counters at its end */
	uint64_t	skipped;
	uint32_t	mark;			/* bumped when a transaction is cut off */
	struct jobs_unit_s *next;	/* free list */
} jobs_unit_t;

typedef struct
{
	struct apply_jobs_s *j;
	int			idx;
	pthread_t	thread;
	bool		started;
	apply_replica_t *rep;		/* owned */
	apply_replica_opts_t ropts;
	proto_relcat_t cat;			/* owned: descriptions from its units */
	apply_scratch_t scratch;
	/* under j->mu: */
	jobs_unit_t *unit;			/* assigned, NULL: idle */
	jobs_unit_t *cur;			/* the unit it runs (its own thread's copy) */
	bool		busy;			/* running it (assigned and not yet done) */
	uint64_t	need;			/* the gate of what it applies now */
	bool		victim;			/* the watchdog abandoned its unit */
	bool		waiting;		/* in a gate or for its turn: it holds its
								 * locks until an earlier unit commits */
	int			pid;			/* its backend */
	PGcancel   *cancel;			/* owned */
	apply_counts_t counts;		/* as of its last commit */
} jobs_worker_t;

/* What the dispatcher knows of a relation (source OID). */
typedef struct jobs_rel_s
{
	uint32_t	relid;
	uint64_t	generation;		/* relcat generation it was built for */
	bool		filtered;
	bool		barrier;		/* any change to it is a barrier */
	bool		full;			/* identity FULL: UPDATE/DELETE are barriers */
	uint32_t	table;			/* the replica table */
	int			nk;
	uint16_t	kcols[PROTO_MAX_COLUMNS];	/* identity columns by name */
	uint64_t	in_unit;		/* its RELATION is in this unit ... */
	uint32_t	in_mark;		/* ... as of this mark */
	uint64_t	in_gen;			/* ... for this generation */
	struct jobs_rel_s *next;
} jobs_rel_t;

struct apply_jobs_s
{
	apply_jobs_opts_t o;
	apply_replica_opts_t ropts;
	apply_replica_t *main;		/* not owned: the run's session */
	bool		blind;			/* TIDE_TEST_JOBS_BLIND: no keys (tests) */
	int			n;
	jobs_worker_t w[APPLY_JOBS_MAX];
	jobs_unit_t units[APPLY_JOBS_MAX + 1];

	/* the dispatcher's own (reader thread) */
	deptrack_t	dt;
	jobs_rel_t *rels[JOBS_REL_BUCKETS];	/* owned */
	jobs_unit_t *fill;			/* the unit being filled, or NULL */
	uint64_t	next_id;		/* last unit id given */
	bool		in_txn;
	uint8_t		begin[64];		/* the open transaction's BEGIN frame */
	size_t		begin_len;
	bool		txn_appended;	/* its BEGIN is in fill */
	size_t		txn_off;		/* where it starts in fill->buf */
	uint64_t	txn_changes;
	bool		txn_barrier;
	jobs_key_t *keys;			/* owned: the open transaction's keys */
	size_t		nkeys;
	size_t		capkeys;
	proto_datum_t oldcols[PROTO_MAX_COLUMNS];
	proto_datum_t newcols[PROTO_MAX_COLUMNS];
	uint32_t	relids[PROTO_MAX_TRUNCATE];

	/* shared, under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	jobs_unit_t *free_units;
	uint64_t	committed;		/* every unit <= committed is done */
	double		head_since;		/* when committed last moved */
	apply_jobs_pos_t pos;
	uint64_t	stop_from;		/* units >= it are abandoned (0: none) */
	char		fail_kind;
	char		first_error[512];
	bool		quit;
	apply_jobs_stats_t stats;
};

static double
now_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------- one change */


/* change_entry - the relation an INSERT, UPDATE or DELETE names, from cat */
static int
change_entry(proto_relcat_t *cat, proto_rbuf_t body, const char *where,
			 uint64_t off, proto_relcat_entry_t **e)
{
	uint32_t	relid;

	if (proto_read_relid(body, &relid) != 0)
		return apply_corrupt(where, off, "a change without a relation");
	if ((*e = proto_relcat_get(cat, relid)) == NULL)
		return apply_corrupt(where, off, tide_strerror(TIDE_ENORELATION));
	return 0;
}

/* seq_message - is body a transactional "tide.seq" message (read into *m)? */
static bool
seq_message(proto_rbuf_t body, proto_message_t *m)
{
	return proto_read_message(&body, m) == 0 && (m->flags & PROTO_MESSAGE_TRANSACTIONAL) &&
		m->prefix.n == strlen(TIDE_SEQ_PREFIX) &&
		memcmp(m->prefix.p, TIDE_SEQ_PREFIX, m->prefix.n) == 0;
}
/* insert_run - does the INSERT just read start a run worth a COPY? */
static bool
insert_run(proto_rbuf_t f, uint32_t relid)
{
	uint8_t		type;
	proto_rbuf_t body;
	int			n = 0;

	while (n < 3 && proto_read_msg(&f, &type, &body) == 0)
	{
		uint32_t	id;

		if (type != PROTO_MSG_INSERT || proto_read_relid(body, &id) != 0 || id != relid)
			break;
		n++;
	}
	return n >= 3;
}

int
apply_change(apply_replica_t *r, proto_relcat_t *cat, apply_scratch_t *s,
			 uint8_t type, proto_rbuf_t body, proto_rbuf_t rest,
			 const char *where, uint64_t off, bool *counted)
{
	proto_relcat_entry_t *e;
	apply_rel_t *rs;
	int			rc;

	*counted = false;
	switch (type)
	{
		case PROTO_MSG_INSERT:
		case PROTO_MSG_UPDATE:
		case PROTO_MSG_DELETE:
			if ((rc = change_entry(cat, body, where, off, &e)) != 0 ||
				(rc = apply_rel_get(r, e, &rs)) != 0)
				return rc;
			if (rs->filtered)
				return 0;
			*counted = true;
			if (type == PROTO_MSG_INSERT)
			{
				proto_insert_t m = {.newtup = {.cols = s->newcols}};

				if ((rc = proto_read_insert(&body, &e->rel, &m)) != 0)
					return apply_corrupt(where, off, tide_strerror(rc));
				return apply_insert(r, rs, &e->rel, &m.newtup, insert_run(rest, m.relid));
			}
			if (type == PROTO_MSG_UPDATE)
			{
				proto_update_t m = {.oldtup = {.cols = s->oldcols}, .newtup = {.cols = s->newcols}};

				if ((rc = proto_read_update(&body, &e->rel, &m)) != 0)
					return apply_corrupt(where, off, tide_strerror(rc));
				return apply_update(r, rs, &e->rel, &m);
			}
			{
				proto_delete_t m = {.oldtup = {.cols = s->oldcols}};

				if ((rc = proto_read_delete(&body, &e->rel, &m)) != 0)
					return apply_corrupt(where, off, tide_strerror(rc));
				return apply_delete(r, rs, &e->rel, &m);
			}
		case PROTO_MSG_TRUNCATE:
			{
				proto_truncate_t m;
				int			n = 0;

				if ((rc = proto_read_truncate(&body, &m, s->relids, PROTO_MAX_TRUNCATE)) != 0)
					return apply_corrupt(where, off, tide_strerror(rc));
				for (uint32_t i = 0; i < m.nrelids; i++)
				{
					if ((e = proto_relcat_get(cat, m.relids[i])) == NULL)
						return apply_corrupt(where, off, tide_strerror(TIDE_ENORELATION));
					if ((rc = apply_rel_get(r, e, &rs)) != 0)
						return rc;
					if (!rs->filtered)
						s->trels[n++] = rs;
				}
				if (n == 0)
					return 0;
				*counted = true;
				return apply_truncate(r, s->trels, n, m.flags);
			}
		case PROTO_MSG_MESSAGE:
			{
				proto_message_t m;

				/* of logical messages only sequence states are applied */
				if (!seq_message(body, &m))
					return 0;
				*counted = true;
				return apply_sequences(r, m.payload.p, m.payload.n, where);
			}
		default:
			return 0;
	}
}

/* ------------------------------------------------------------- workers */

/* abandoned - must the worker's unit stop?  Under j->mu. */
static bool
abandoned(const jobs_worker_t *w)
{
	const struct apply_jobs_s *j = w->j;

	return j->quit || w->victim ||
		(j->stop_from != 0 && w->unit && w->unit->id >= j->stop_from);
}

/*
 * wait_for - wait until every unit up to `unit` has committed, or the
 * worker's unit is abandoned (nonzero).
 */
static int
wait_for(jobs_worker_t *w, uint64_t unit)
{
	struct apply_jobs_s *j = w->j;
	int			rc;

	pthread_mutex_lock(&j->mu);
	w->waiting = true;
	while (j->committed < unit && !abandoned(w))
		pthread_cond_wait(&j->cv, &j->mu);
	w->waiting = false;
	rc = abandoned(w) ? -1 : 0;
	pthread_mutex_unlock(&j->mu);
	return rc;
}

/* gate_cb - replica.c asks before a write (apply_replica_set_gate) */
/*
 * gate_cb - replica.c asks before a write (apply_replica_set_gate).  A
 * folded set of one table (coalesce.c: written when the unit commits, or
 * when the set grows big) waits only for the earlier units that wrote keys
 * of that table: a unit's writes to a cold table go out while the unit
 * before it still holds a hot row of another.  Any other write waits for
 * the gate of the transaction being applied, which covers every key of the
 * unit so far.
 */
static int
gate_cb(void *arg, uint32_t table)
{
	jobs_worker_t *w = arg;
	uint64_t	need = w->need;

	if (table != 0)
	{
		need = 0;
		for (uint32_t i = 0; i < w->cur->ntgates; i++)
			if (w->cur->tgates[i].table == table)
				need = w->cur->tgates[i].gate;
	}
	return wait_for(w, need);
}

static int
key_cmp(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *) a;
	uint64_t	y = *(const uint64_t *) b;

	return x < y ? -1 : x > y;
}

/*
 * keydep_cb - replica.c asks for each key it folds: does an earlier unit,
 * uncommitted when this one was handed out, write it too?  Those keys of a
 * folded set are written after the set's gate, the others at once.  A key
 * that cannot be hashed is taken to depend.
 */
static bool
keydep_cb(void *arg, uint32_t table, const proto_relation_t *rel, const proto_tuple_t *t)
{
	jobs_worker_t *w = arg;
	uint16_t	cols[PROTO_MAX_COLUMNS];
	int			n = deptrack_key_cols(rel, cols);
	int			st;
	uint64_t	h = deptrack_hash(table, 0, t, cols, n, &st);

	if (st != DEPTRACK_KEY_OK)
		return true;
	return w->cur->ndepkeys &&
		bsearch(&h, w->cur->depkeys, w->cur->ndepkeys, sizeof(uint64_t), key_cmp) != NULL;
}

/* session - (re)connect the worker's session; its pid and cancel handle */
static int
session(jobs_worker_t *w, bool again)
{
	apply_progress_t progress;
	PGcancel   *cancel;
	int			rc;

	if (again)
		rc = apply_replica_reconnect(w->rep, &progress);
	else
		rc = apply_replica_connect(&w->rep, &w->ropts, &w->j->o.ident, &progress);
	if (rc != 0)
		return rc;
	apply_replica_set_strict(w->rep, false);
	apply_replica_held(w->rep, false);
	apply_replica_set_gate(w->rep, gate_cb, keydep_cb, w);
	cancel = PQgetCancel(apply_replica_conn(w->rep));
	pthread_mutex_lock(&w->j->mu);
	if (w->cancel)
		PQfreeCancel(w->cancel);
	w->cancel = cancel;
	w->pid = PQbackendPID(apply_replica_conn(w->rep));
	pthread_mutex_unlock(&w->j->mu);
	return 0;
}

/* exec_unit - apply the unit's messages in the worker's open transaction */
static int
exec_unit(jobs_worker_t *w, jobs_unit_t *u)
{
	proto_rbuf_t f;
	proto_rbuf_t body;
	uint8_t		type;
	uint32_t	t = 0;
	int			rc;

	proto_rbuf_init(&f, u->buf.data, u->buf.len);
	while ((rc = proto_read_msg(&f, &type, &body)) == 0)
	{
		bool		counted;

		switch (type)
		{
			case PROTO_MSG_RELATION:
				if ((rc = proto_relcat_put(&w->cat, body.data, body.len, NULL)) != 0)
					return rc == TIDE_ENOMEM ? TIDE_EXIT_BUG : apply_corrupt("a --jobs unit", 0, tide_strerror(rc));
				break;
			case PROTO_MSG_BEGIN:
				{
					proto_begin_t b;

					if (proto_read_begin(&body, &b) != 0 || t >= u->ntxns)
						return apply_corrupt("a --jobs unit", 0, "a BEGIN out of place");
					apply_replica_txn(w->rep, b.final_lsn, b.commit_time, b.xid);
					w->need = u->txns[t++].gate;
					break;
				}
			case PROTO_MSG_COMMIT:
				break;
			default:
				if ((rc = apply_change(w->rep, &w->cat, &w->scratch, type, body, f,
									   "a --jobs unit", 0, &counted)) != 0)
					return rc;
				break;
		}
	}
	return rc == TIDE_EEOF ? 0 : apply_corrupt("a --jobs unit", 0, tide_strerror(rc));
}

/*
 * run_unit - apply, flush, wait for the turn, commit; retry after a
 * deadlock, a serialization failure or the watchdog's decision, once every
 * earlier unit has committed.  Any other failure stops the dispatcher.
 */
static void
run_unit(jobs_worker_t *w, jobs_unit_t *u)
{
	struct apply_jobs_s *j = w->j;

	w->cur = u;
	for (int attempt = 0;; attempt++)
	{
		int			rc = 0;
		const char *state;
		bool		retry;
		bool		gone;

		if (attempt > 0)
			rc = wait_for(w, u->id - 1);
		if (rc == 0 && (rc = exec_unit(w, u)) == 0)
		{
			w->need = u->dep_all;
			if ((rc = apply_replica_quiesce(w->rep, false)) == 0 &&
				(rc = wait_for(w, u->id - 1)) == 0 &&
				(rc = apply_replica_commit(w->rep, u->end_lsn, u->end_time)) == 0)
			{
				pthread_mutex_lock(&j->mu);
				j->committed = u->id;
				j->head_since = now_secs();
				j->pos.units++;
				j->pos.end_lsn = u->end_lsn;
				j->pos.end_time = u->end_time;
				j->pos.txns = u->txn_count;
				j->pos.skipped = u->skipped;
				w->counts = *apply_replica_counts(w->rep);
				if (attempt > 0)
					j->stats.retries += (uint64_t) attempt;
				pthread_cond_broadcast(&j->cv);
				pthread_mutex_unlock(&j->mu);
				return;
			}
		}

		/* it failed, or was abandoned: why? */
		state = apply_replica_sqlstate(w->rep);
		pthread_mutex_lock(&j->mu);
		gone = j->quit || (j->stop_from != 0 && u->id >= j->stop_from);
		retry = !gone && attempt < JOBS_RETRIES &&
			(w->victim || strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0 ||
			 (strcmp(state, "57014") == 0 && w->victim));
		w->victim = false;
		if (!gone && !retry)
		{
			/* the first failing unit in order is the one apply.c re-applies */
			if (j->stop_from == 0 || u->id < j->stop_from)
			{
				j->stop_from = u->id;
				j->pos.failed_end = u->end_lsn;
				j->fail_kind = apply_replica_failure(w->rep);
				if (j->fail_kind == 0)
					j->fail_kind = rc == TIDE_EXIT_CORRUPT ? APPLY_FAIL_OTHER : APPLY_FAIL_CHANGE;
				snprintf(j->first_error, sizeof(j->first_error), "%s", apply_replica_first_error(w->rep));
				if (j->fail_kind != APPLY_FAIL_CHANGE)
					apply_replica_held(w->rep, true);	/* no strict pass will say it */
			}
			pthread_cond_broadcast(&j->cv);
		}
		pthread_mutex_unlock(&j->mu);
		/* a new session: the old one may be mid-COPY or mid-pipeline */
		apply_replica_held(w->rep, false);
		if (session(w, true) != 0)
		{
			pthread_mutex_lock(&j->mu);
			if (j->stop_from == 0 || u->id < j->stop_from)
			{
				j->stop_from = u->id;
				j->fail_kind = APPLY_FAIL_OTHER;
				snprintf(j->first_error, sizeof(j->first_error), "%s", "a worker lost its replica session");
			}
			pthread_cond_broadcast(&j->cv);
			pthread_mutex_unlock(&j->mu);
			return;
		}
		if (!retry)
			return;
	}
}

static void *
worker_main(void *arg)
{
	jobs_worker_t *w = arg;
	struct apply_jobs_s *j = w->j;

	pthread_mutex_lock(&j->mu);
	for (;;)
	{
		jobs_unit_t *u;

		while (!j->quit && (w->unit == NULL || !w->busy))
			pthread_cond_wait(&j->cv, &j->mu);
		if (j->quit)
			break;
		u = w->unit;
		pthread_mutex_unlock(&j->mu);
		run_unit(w, u);
		pthread_mutex_lock(&j->mu);
		w->unit = NULL;
		w->busy = false;
		u->next = j->free_units;
		j->free_units = u;
		pthread_cond_broadcast(&j->cv);
	}
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

/* ------------------------------------------------------------- dispatcher */

/*
 * The replica-side facts that make every change to a table a barrier:
 * a trigger or rule that fires in the apply session (ALWAYS or REPLICA,
 * internal ones too), an exclusion constraint, or a unique index other
 * than one on exactly the identity columns ($2; NULL: no identity), on
 * the table or any of its partitions.
 */
static const char *const barrier_sql =
"WITH s AS (SELECT $1::pg_catalog.oid AS relid"
"           UNION SELECT p.relid FROM pg_catalog.pg_partition_tree($1::pg_catalog.oid::pg_catalog.regclass) p),"
" k AS (SELECT pg_catalog.array_agg(x ORDER BY x) AS cols FROM pg_catalog.unnest($2::pg_catalog.text[]) x) "
"SELECT pg_catalog.count(*) FROM ("
"  SELECT FROM pg_catalog.pg_index i JOIN s ON i.indrelid = s.relid, k"
"   WHERE i.indisunique AND (i.indpred IS NOT NULL OR i.indexprs IS NOT NULL OR k.cols IS NULL"
"     OR (SELECT pg_catalog.array_agg(a.attname::pg_catalog.text ORDER BY a.attname::pg_catalog.text)"
"         FROM pg_catalog.pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey))"
"        IS DISTINCT FROM k.cols)"
"  UNION ALL SELECT FROM pg_catalog.pg_constraint c JOIN s ON c.conrelid = s.relid WHERE c.contype = 'x'"
"  UNION ALL SELECT FROM pg_catalog.pg_trigger t JOIN s ON t.tgrelid = s.relid WHERE t.tgenabled IN ('A', 'R')"
"  UNION ALL SELECT FROM pg_catalog.pg_rewrite w JOIN s ON w.ev_class = s.relid"
"   WHERE w.ev_enabled IN ('A', 'R') AND w.rulename <> '_RETURN') x";

/* names_array - the columns cols[0..n) of rel as a text[] literal */
static void
names_array(proto_wbuf_t *b, const proto_relation_t *rel, const uint16_t *cols, int n)
{
	proto_wbuf_reset(b);
	proto_put_u8(b, '{');
	for (int i = 0; i < n; i++)
	{
		const proto_str_t *nm = &rel->cols[cols[i]].name;

		if (i)
			proto_put_u8(b, ',');
		proto_put_u8(b, '"');
		for (size_t c = 0; c < nm->n; c++)
		{
			if (nm->p[c] == '"' || nm->p[c] == '\\')
				proto_put_u8(b, '\\');
			proto_put_u8(b, (uint8_t) nm->p[c]);
		}
		proto_put_u8(b, '"');
	}
	proto_put_u8(b, '}');
	proto_put_u8(b, '\0');
}

/*
 * rel_facts - what the dispatcher needs of a relation, resolved on the
 * run's own session (it is idle while units run) and kept while the
 * relation's description stays the same.
 */
static int
rel_facts(apply_jobs_t *j, proto_relcat_entry_t *e, jobs_rel_t **out)
{
	jobs_rel_t **head = &j->rels[e->rel.relid % JOBS_REL_BUCKETS];
	jobs_rel_t *jr;
	apply_rel_t *rs;
	int			rc;

	for (jr = *head; jr; jr = jr->next)
		if (jr->relid == e->rel.relid)
			break;
	if (jr && jr->generation == e->generation)
	{
		*out = jr;
		return 0;
	}
	/*
	 * --schema follow: a description the run's session has not resolved
	 * may need a table, partition or column created; that runs on the
	 * run's session, in the transaction of the source transaction that
	 * needs it, after every unit before it has committed.
	 */
	if (j->ropts.schema_follow && !apply_rel_known(j->main, e))
		return APPLY_JOBS_SERIAL;
	if ((rc = apply_rel_get(j->main, e, &rs)) != 0)
		return rc;
	if (jr == NULL)
	{
		if ((jr = calloc(1, sizeof(*jr))) == NULL)
		{
			tide_log_error("out of memory");
			return TIDE_EXIT_BUG;
		}
		jr->relid = e->rel.relid;
		jr->next = *head;
		*head = jr;
	}
	jr->generation = e->generation;
	jr->in_unit = 0;
	jr->filtered = rs->filtered;
	jr->table = rs->oid;
	jr->full = e->rel.replident == PROTO_IDENT_FULL;
	jr->nk = deptrack_key_cols(&e->rel, jr->kcols);
	jr->barrier = rs->firing;
	if (!jr->filtered && !jr->barrier)
	{
		PGconn	   *conn = apply_replica_conn(j->main);
		proto_wbuf_t arr;
		char		oid[16];
		const char *vals[2];
		PGresult   *res;

		proto_wbuf_init_heap(&arr);
		names_array(&arr, &e->rel, jr->kcols, jr->nk);
		snprintf(oid, sizeof(oid), "%u", jr->table);
		vals[0] = oid;
		vals[1] = jr->nk ? (const char *) arr.data : NULL;
		res = conn && !arr.err ? PQexecParams(conn, barrier_sql, 2, NULL, vals, NULL, NULL, 0) : NULL;
		proto_wbuf_free(&arr);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			tide_log_error("could not read the replica's catalog: %s",
						   conn ? PQerrorMessage(conn) : "no connection");
			PQclear(res);
			jr->generation = 0;
			return TIDE_EXIT_REPLICA;
		}
		jr->barrier = strcmp(PQgetvalue(res, 0, 0), "0") != 0;
		PQclear(res);
	}
	*out = jr;
	return 0;
}

/* failed - has a unit failed?  (reader thread) */
static bool
failed(apply_jobs_t *j)
{
	bool		f;

	pthread_mutex_lock(&j->mu);
	f = j->stop_from != 0;
	pthread_mutex_unlock(&j->mu);
	return f;
}

/*
 * watch - under j->mu: if the head unit has run a while, is it waiting,
 * directly or through later units' running statements, for a lock a later
 * unit's session holds while that unit waits for an earlier one to commit
 * (in a gate or for its turn)?  That is a deadlock no server sees: the
 * later unit gives way (its worker sees `victim` in its wait) and is
 * retried once the head has committed.  A blocker still running a
 * statement is not abandoned for itself: it releases what it holds
 * briefly (the lock that extends a table several units COPY into) on its
 * own, and if it waits for the head in turn, the server's deadlock
 * detector ends one of them (40P01, retried).
 */
static void
watch(apply_jobs_t *j)
{
	PGconn	   *conn = apply_replica_conn(j->main);
	jobs_worker_t *h = NULL;
	uint64_t	head = j->committed + 1;
	int			frontier[APPLY_JOBS_MAX];
	int			nfront = 0;
	bool		seen[APPLY_JOBS_MAX] = {false};

	for (int i = 0; i < j->n; i++)
		if (j->w[i].busy && j->w[i].unit && j->w[i].unit->id == head)
			h = &j->w[i];
	if (h == NULL || conn == NULL || now_secs() - j->head_since < JOBS_WATCH_AFTER)
		return;
	frontier[nfront++] = h->pid;

	/*
	 * Follow the chain of waits from the head, through later units' running
	 * sessions (one waiting for a lock another later unit holds), to the
	 * later units that wait for an earlier one to commit: those give way.
	 */
	for (int depth = 0; depth < j->n && nfront > 0; depth++)
	{
		proto_wbuf_t arr;
		const char *vals[1];
		PGresult   *res;
		int			next[APPLY_JOBS_MAX];
		int			nnext = 0;

		proto_wbuf_init_heap(&arr);
		proto_put_u8(&arr, '{');
		for (int i = 0; i < nfront; i++)
		{
			char		num[16];

			snprintf(num, sizeof(num), "%s%d", i ? "," : "", frontier[i]);
			proto_put_bytes(&arr, num, strlen(num));
		}
		proto_put_bytes(&arr, "}", 2);
		vals[0] = (const char *) arr.data;
		pthread_mutex_unlock(&j->mu);
		res = arr.err ? NULL :
			PQexecParams(conn, "SELECT pg_catalog.unnest(pg_catalog.pg_blocking_pids(p)) "
						 "FROM pg_catalog.unnest($1::pg_catalog.int4[]) p",
						 1, NULL, vals, NULL, NULL, 0);
		pthread_mutex_lock(&j->mu);
		proto_wbuf_free(&arr);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			PQclear(res);
			return;
		}
		for (int r = 0; r < PQntuples(res); r++)
		{
			int			blocker = atoi(PQgetvalue(res, r, 0));

			for (int i = 0; i < j->n; i++)
			{
				jobs_worker_t *v = &j->w[i];
				char		err[256];

				if (seen[i] || v->pid != blocker || !v->busy || v->unit == NULL || v->unit->id <= head)
					continue;
				seen[i] = true;
				if (!v->waiting)
				{
					next[nnext++] = v->pid;	/* running: what does it wait for? */
					continue;
				}
				if (v->victim)
					continue;
				v->victim = true;
				j->stats.victims++;
				if (v->cancel)
					PQcancel(v->cancel, err, sizeof(err));
			}
		}
		PQclear(res);
		memcpy(frontier, next, sizeof(int) * (size_t) nnext);
		nfront = nnext;
	}

	/*
	 * The head has waited long for later units that run on: whatever they
	 * wait for, they give way too (a retry is always safe; a head that
	 * never commits is not).
	 */
	if (now_secs() - j->head_since >= JOBS_WATCH_GIVEUP)
		for (int i = 0; i < j->n; i++)
		{
			jobs_worker_t *v = &j->w[i];
			char		err[256];

			if (!seen[i] || v->victim || !v->busy)
				continue;
			v->victim = true;
			j->stats.victims++;
			if (v->cancel)
				PQcancel(v->cancel, err, sizeof(err));
		}
	pthread_cond_broadcast(&j->cv);
}

/* wait_disp - the dispatcher waits (under j->mu), watching the head */
static void
wait_disp(apply_jobs_t *j)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += JOBS_WATCH_USECS * 1000L;
	if (ts.tv_nsec >= 1000000000L)
	{
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	if (pthread_cond_timedwait(&j->cv, &j->mu, &ts) == ETIMEDOUT)
		watch(j);
}

static jobs_worker_t *
idle_worker(apply_jobs_t *j)
{
	for (int i = 0; i < j->n; i++)
		if (!j->w[i].busy && j->w[i].unit == NULL)
			return &j->w[i];
	return NULL;
}

/* unit_fail_rc - the exit code of a failed unit, for the reader */
static int
unit_fail_rc(apply_jobs_t *j)
{
	return j->fail_kind == APPLY_FAIL_OTHER && j->first_error[0] == '\0' ? TIDE_EXIT_BUG : TIDE_EXIT_REPLICA;
}

/*
 * dispatch - hand the filled unit to an idle worker.  A barrier first
 * waits for every earlier unit and is waited for in turn.
 */
static int
dispatch(apply_jobs_t *j)
{
	jobs_unit_t *u = j->fill;
	jobs_worker_t *w;
	int			rc = 0;

	j->fill = NULL;
	if (u->ntxns == 0)
	{
		pthread_mutex_lock(&j->mu);
		u->next = j->free_units;
		j->free_units = u;
		pthread_mutex_unlock(&j->mu);
		return 0;
	}
	u->dep_all = deptrack_end(&j->dt, &u->barrier);
	qsort(u->depkeys, u->ndepkeys, sizeof(uint64_t), key_cmp);
	pthread_mutex_lock(&j->mu);
	while (u->barrier && j->committed < u->id - 1 && j->stop_from == 0)
		wait_disp(j);
	while ((w = idle_worker(j)) == NULL && j->stop_from == 0)
		wait_disp(j);
	if (j->stop_from != 0)
	{
		u->next = j->free_units;
		j->free_units = u;
		rc = unit_fail_rc(j);
		pthread_mutex_unlock(&j->mu);
		return rc;
	}
	w->unit = u;
	w->busy = true;
	w->victim = false;
	if (j->committed == u->id - 1)
		j->head_since = now_secs();
	j->stats.units++;
	j->stats.barriers += u->barrier;
	j->stats.waits += u->dep_all != 0;
	pthread_cond_broadcast(&j->cv);
	while (u->barrier && j->committed < u->id && j->stop_from == 0)
		wait_disp(j);
	if (j->stop_from != 0)
		rc = unit_fail_rc(j);
	pthread_mutex_unlock(&j->mu);
	return rc;
}

/* open_fill - a unit to fill (one is always free: N workers, N + 1 units) */
static void
open_fill(apply_jobs_t *j)
{
	jobs_unit_t *u;

	if (j->fill)
		return;
	pthread_mutex_lock(&j->mu);
	while ((u = j->free_units) == NULL)
		wait_disp(j);
	j->free_units = u->next;
	pthread_mutex_unlock(&j->mu);
	proto_wbuf_reset(&u->buf);
	u->id = 0;
	u->ntxns = 0;
	u->ntgates = 0;
	u->ndepkeys = 0;
	u->changes = 0;
	u->barrier = false;
	u->dep_all = 0;
	u->mark++;
	j->fill = u;
}

/* txn_start - the open transaction's first change: its BEGIN goes in */
static void
txn_start(apply_jobs_t *j)
{
	if (j->txn_appended)
		return;
	open_fill(j);
	j->txn_off = j->fill->buf.len;
	proto_put_bytes(&j->fill->buf, j->begin, j->begin_len);
	j->txn_appended = true;
}

/* put_relation - the unit carries the description of every relation it uses */
static void
put_relation(apply_jobs_t *j, jobs_rel_t *jr, proto_relcat_entry_t *e)
{
	jobs_unit_t *u = j->fill;
	uint64_t	tag = (uint64_t) (uintptr_t) u;

	if (jr->in_unit == tag && jr->in_mark == u->mark && jr->in_gen == e->generation)
		return;
	{
		size_t		at = proto_msg_begin(&u->buf, PROTO_MSG_RELATION);

		proto_put_bytes(&u->buf, e->body, e->body_len);
		proto_msg_end(&u->buf, at);
	}
	jr->in_unit = tag;
	jr->in_mark = u->mark;
	jr->in_gen = e->generation;
}

/*
 * grow - room for element n of the array *arr of *cap elements of `size`
 * bytes, doubled (from `first`) when full
 */
static int
grow(void **arr, size_t *cap, size_t n, size_t size, size_t first)
{
	size_t		ncap;
	void	   *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : first;
	if ((p = realloc(*arr, ncap * size)) == NULL)
	{
		tide_log_error("out of memory");
		return TIDE_EXIT_BUG;
	}
	*arr = p;
	*cap = ncap;
	return 0;
}

static int
add_key(apply_jobs_t *j, uint32_t table, uint64_t key)
{
	void	   *keys = j->keys;
	int			rc = grow(&keys, &j->capkeys, j->nkeys, sizeof(*j->keys), 1024);

	j->keys = keys;
	if (rc != 0)
		return rc;
	j->keys[j->nkeys].key = key;
	j->keys[j->nkeys++].table = table;
	return 0;
}

/* tuple_key - the key of t's identity values, or a barrier */
static int
tuple_key(apply_jobs_t *j, jobs_rel_t *jr, const proto_tuple_t *t)
{
	int			st;
	uint64_t	h = deptrack_hash(jr->table, 0, t, jr->kcols, jr->nk, &st);

	if (st == DEPTRACK_KEY_OK)
		return add_key(j, jr->table, h);
	if (st == DEPTRACK_KEY_UNKNOWN)
		j->txn_barrier = true;
	return 0;					/* a NULL in the key conflicts with nothing */
}

int
apply_jobs_begin(apply_jobs_t *j, const uint8_t *frame, size_t len)
{
	if (len > sizeof(j->begin))
		return apply_corrupt("a segment", 0, "a BEGIN message too long");
	if (failed(j))
	{
		pthread_mutex_lock(&j->mu);
		len = (size_t) unit_fail_rc(j);
		pthread_mutex_unlock(&j->mu);
		return (int) len;
	}
	memcpy(j->begin, frame, len);
	j->begin_len = len;
	j->in_txn = true;
	j->txn_appended = false;
	j->txn_changes = 0;
	j->txn_barrier = false;
	j->nkeys = 0;
	return 0;
}

int
apply_jobs_change(apply_jobs_t *j, proto_relcat_t *cat, uint8_t type,
				  proto_rbuf_t body, const uint8_t *frame, size_t len,
				  const char *where, uint64_t off)
{
	proto_relcat_entry_t *e;
	jobs_rel_t *jr;
	int			rc;

	switch (type)
	{
		case PROTO_MSG_INSERT:
		case PROTO_MSG_UPDATE:
		case PROTO_MSG_DELETE:
			if ((rc = change_entry(cat, body, where, off, &e)) != 0 ||
				(rc = rel_facts(j, e, &jr)) != 0)
				return rc;
			if (jr->filtered)
				return 0;
			if (jr->barrier)
				j->txn_barrier = true;
			if (type == PROTO_MSG_INSERT)
			{
				proto_insert_t m = {.newtup = {.cols = j->newcols}};

				if ((rc = proto_read_insert(&body, &e->rel, &m)) != 0)
					return apply_corrupt(where, off, tide_strerror(rc));
				/* identity FULL or none: a new row conflicts with nothing */
				if (jr->nk > 0 && !jr->full && (rc = tuple_key(j, jr, &m.newtup)) != 0)
					return rc;
			}
			else if (type == PROTO_MSG_UPDATE)
			{
				proto_update_t m = {.oldtup = {.cols = j->oldcols}, .newtup = {.cols = j->newcols}};

				if ((rc = proto_read_update(&body, &e->rel, &m)) != 0)
					return apply_corrupt(where, off, tide_strerror(rc));
				if (jr->nk == 0 || jr->full)
					j->txn_barrier = true;
				else if ((m.old_kind != PROTO_OLD_NONE && (rc = tuple_key(j, jr, &m.oldtup)) != 0) ||
						 (rc = tuple_key(j, jr, &m.newtup)) != 0)
					return rc;
			}
			else
			{
				proto_delete_t m = {.oldtup = {.cols = j->oldcols}};

				if ((rc = proto_read_delete(&body, &e->rel, &m)) != 0)
					return apply_corrupt(where, off, tide_strerror(rc));
				if (jr->nk == 0 || jr->full || m.old_kind == PROTO_OLD_NONE)
					j->txn_barrier = true;
				else if ((rc = tuple_key(j, jr, &m.oldtup)) != 0)
					return rc;
			}
			txn_start(j);
			put_relation(j, jr, e);
			break;
		case PROTO_MSG_TRUNCATE:
			{
				proto_truncate_t m;
				bool		any = false;

				if ((rc = proto_read_truncate(&body, &m, j->relids, PROTO_MAX_TRUNCATE)) != 0)
					return apply_corrupt(where, off, tide_strerror(rc));
				for (uint32_t i = 0; i < m.nrelids; i++)
				{
					if ((e = proto_relcat_get(cat, m.relids[i])) == NULL)
						return apply_corrupt(where, off, tide_strerror(TIDE_ENORELATION));
					if ((rc = rel_facts(j, e, &jr)) != 0)
						return rc;
					any |= !jr->filtered;
				}
				if (!any)
					return 0;

				/*
				 * The worker resolves every relation the TRUNCATE names,
				 * those --tables leaves out too (to leave them out), so the
				 * unit carries all their descriptions, not only the kept
				 * ones'.
				 */
				txn_start(j);
				for (uint32_t i = 0; i < m.nrelids; i++)
				{
					e = proto_relcat_get(cat, m.relids[i]);
					if ((rc = rel_facts(j, e, &jr)) != 0)
						return rc;
					put_relation(j, jr, e);
				}
				j->txn_barrier = true;
				break;
			}
		case PROTO_MSG_MESSAGE:
			{
				proto_message_t m;

				/* sequence states move forward only: no key, no barrier */
				if (!seq_message(body, &m))
					return 0;
				txn_start(j);
				break;
			}
		default:
			/* a kind this version does not know: it runs alone */
			j->txn_barrier = true;
			return 0;
	}
	proto_put_bytes(&j->fill->buf, frame, len);
	j->txn_changes++;
	j->fill->changes++;
	if (j->fill->buf.err)
	{
		tide_log_error("out of memory");
		return TIDE_EXIT_BUG;
	}
	return 0;
}

/* add_depkey - key is written by an earlier uncommitted unit too */
static int
add_depkey(jobs_unit_t *u, uint64_t key)
{
	if (u->ndepkeys == u->capdepkeys)
	{
		uint32_t	cap = u->capdepkeys ? u->capdepkeys * 2 : 256;
		uint64_t   *k = realloc(u->depkeys, cap * sizeof(uint64_t));

		if (k == NULL)
		{
			tide_log_error("out of memory");
			return TIDE_EXIT_BUG;
		}
		u->depkeys = k;
		u->capdepkeys = cap;
	}
	u->depkeys[u->ndepkeys++] = key;
	return 0;
}

/* table_gate - the unit's folded set of `table` waits for unit d too */
static int
table_gate(jobs_unit_t *u, uint32_t table, uint64_t d)
{
	uint32_t	i;

	for (i = 0; i < u->ntgates; i++)
		if (u->tgates[i].table == table)
			break;
	if (i == u->ntgates)
	{
		void	   *tg = u->tgates;
		int			rc = grow(&tg, &u->captgates, u->ntgates, sizeof(*u->tgates), 16);

		u->tgates = tg;
		if (rc != 0)
			return rc;
		u->tgates[u->ntgates].table = table;
		u->tgates[u->ntgates++].gate = 0;
	}
	if (d > u->tgates[i].gate)
		u->tgates[i].gate = d;
	return 0;
}

int
apply_jobs_commit(apply_jobs_t *j, const uint8_t *frame, size_t len,
				  proto_lsn_t end_lsn, proto_time_t end_time,
				  uint64_t txns, uint64_t skipped)
{
	jobs_unit_t *u = j->fill;
	int			rc;

	j->in_txn = false;
	if (!j->txn_appended)
		return failed(j) ? TIDE_EXIT_REPLICA : 0;	/* nothing of it to apply */
	j->txn_appended = false;
	proto_put_bytes(&u->buf, frame, len);
	if (u->ntxns == u->captxns)
	{
		uint32_t	cap = u->captxns ? u->captxns * 2 : 256;
		jobs_txn_t *t = realloc(u->txns, cap * sizeof(*t));

		if (t == NULL)
		{
			tide_log_error("out of memory");
			return TIDE_EXIT_BUG;
		}
		u->txns = t;
		u->captxns = cap;
	}
	if (u->id == 0)
	{
		/* units are numbered as they get their first whole transaction */
		pthread_mutex_lock(&j->mu);
		deptrack_committed(&j->dt, j->committed);
		pthread_mutex_unlock(&j->mu);
		u->id = ++j->next_id;
		if ((rc = deptrack_begin(&j->dt, u->id)) != 0)
		{
			tide_log_error("internal error: --jobs unit %llu out of order", (unsigned long long) u->id);
			return TIDE_EXIT_BUG;
		}
	}
	if (!j->blind)
		for (size_t i = 0; i < j->nkeys; i++)
		{
			uint64_t	d = deptrack_key(&j->dt, j->keys[i].key);

			if ((rc = table_gate(u, j->keys[i].table, d)) != 0 ||
				(d != 0 && (rc = add_depkey(u, j->keys[i].key)) != 0))
				return rc;
		}
	if (j->txn_barrier)
		deptrack_barrier(&j->dt);
	u->txns[u->ntxns++].gate = deptrack_dep(&j->dt);
	u->end_lsn = end_lsn;
	u->end_time = end_time;
	u->txn_count = txns;
	u->skipped = skipped;
	if (u->buf.err)
	{
		tide_log_error("out of memory");
		return TIDE_EXIT_BUG;
	}
	if (j->txn_barrier || u->changes >= j->o.batch || u->buf.len >= j->o.unit_bytes)
		return dispatch(j);
	return failed(j) ? TIDE_EXIT_REPLICA : 0;
}

void
apply_jobs_abandon(apply_jobs_t *j)
{
	if (j->in_txn && j->txn_appended)
	{
		j->fill->buf.len = j->txn_off;
		j->fill->changes -= j->txn_changes;
		j->fill->mark++;		/* descriptions put in with it are gone */
	}
	j->in_txn = false;
	j->txn_appended = false;
}

int
apply_jobs_take(apply_jobs_t *j, proto_wbuf_t *out)
{
	if (j->in_txn && j->txn_appended)
		proto_put_bytes(out, j->fill->buf.data + j->txn_off, j->fill->buf.len - j->txn_off);
	apply_jobs_abandon(j);
	for (int b = 0; b < JOBS_REL_BUCKETS; b++)
		for (jobs_rel_t *jr = j->rels[b]; jr; jr = jr->next)
			jr->generation = 0;
	if (out->err)
	{
		tide_log_error("out of memory");
		return TIDE_EXIT_BUG;
	}
	return 0;
}

void
apply_jobs_trim(apply_jobs_t *j)
{
	if (j->fill || j->in_txn)
		return;
	pthread_mutex_lock(&j->mu);
	for (int i = 0; i < j->n; i++)
		if (j->w[i].busy || j->w[i].unit)
		{
			pthread_mutex_unlock(&j->mu);
			return;
		}

	/*
	 * Every worker waits on cv for a unit: their sessions are not touched
	 * by their threads until the dispatcher hands one out (under mu).
	 */
	for (int i = 0; i < j->n; i++)
		if (j->w[i].rep)
			apply_replica_trim(j->w[i].rep);
	for (jobs_unit_t *u = j->free_units; u; u = u->next)
	{
		proto_wbuf_free(&u->buf);
		proto_wbuf_init_heap(&u->buf);
		free(u->txns);
		u->txns = NULL;
		u->ntxns = u->captxns = 0;
		free(u->tgates);
		u->tgates = NULL;
		u->ntgates = u->captgates = 0;
		free(u->depkeys);
		u->depkeys = NULL;
		u->ndepkeys = u->capdepkeys = 0;
	}
	deptrack_committed(&j->dt, j->committed);
	j->stats.trims++;
	pthread_mutex_unlock(&j->mu);
	(void) deptrack_forget(&j->dt);	/* on failure it keeps its table: no harm */
}

void
apply_jobs_pos(apply_jobs_t *j, apply_jobs_pos_t *pos)
{
	pthread_mutex_lock(&j->mu);
	*pos = j->pos;
	pthread_mutex_unlock(&j->mu);
}

int
apply_jobs_drain(apply_jobs_t *j, apply_jobs_pos_t *pos)
{
	int			rc = 0;

	if (j->fill && !j->in_txn)
		rc = dispatch(j);
	pthread_mutex_lock(&j->mu);
	for (;;)
	{
		bool		busy = false;

		for (int i = 0; i < j->n; i++)
			busy |= j->w[i].busy;
		if (!busy)
			break;
		wait_disp(j);
	}
	if (j->stop_from != 0 && rc == 0)
		rc = unit_fail_rc(j);
	*pos = j->pos;
	pthread_mutex_unlock(&j->mu);
	return rc;
}

char
apply_jobs_failure(apply_jobs_t *j)
{
	char		k;

	pthread_mutex_lock(&j->mu);
	k = j->stop_from ? j->fail_kind : 0;
	pthread_mutex_unlock(&j->mu);
	return k;
}

const char *
apply_jobs_first_error(apply_jobs_t *j)
{
	return j->first_error;
}

int
apply_jobs_reset(apply_jobs_t *j)
{
	apply_jobs_pos_t pos;

	apply_jobs_abandon(j);
	if (j->fill)
	{
		/* what it held is read again from where the replica is */
		if (j->fill->id)
			deptrack_end(&j->dt, NULL);
		j->fill->ntxns = 0;
		(void) dispatch(j);
	}
	(void) apply_jobs_drain(j, &pos);
	pthread_mutex_lock(&j->mu);
	/* abandoned units never commit: nobody waits for them */
	j->committed = j->next_id;
	deptrack_committed(&j->dt, j->next_id);
	j->stop_from = 0;
	j->pos.failed_end = 0;
	j->fail_kind = 0;
	j->first_error[0] = '\0';
	pthread_mutex_unlock(&j->mu);
	return 0;
}

void
apply_jobs_counts(apply_jobs_t *j, apply_counts_t *c)
{
	pthread_mutex_lock(&j->mu);
	for (int i = 0; i < j->n; i++)
	{
		const apply_counts_t *w = &j->w[i].counts;

		c->inserts += w->inserts;
		c->updates += w->updates;
		c->deletes += w->deletes;
		c->truncates += w->truncates;
		c->copied += w->copied;
		c->not_found += w->not_found;
		c->conflicts += w->conflicts;
		c->coalesced += w->coalesced;
		c->set_rows += w->set_rows;
		c->replica_txns += w->replica_txns;
		c->xids += w->xids;
		c->seq_states += w->seq_states;
		c->seq_moved += w->seq_moved;
	}
	pthread_mutex_unlock(&j->mu);
}

void
apply_jobs_stats(apply_jobs_t *j, apply_jobs_stats_t *s)
{
	pthread_mutex_lock(&j->mu);
	*s = j->stats;
	s->overflows = j->dt.stats.overflows;
	pthread_mutex_unlock(&j->mu);
}

/* ------------------------------------------------------------- start, stop */

int
apply_jobs_start(apply_jobs_t **out, const apply_jobs_opts_t *o, apply_replica_t *main)
{
	apply_jobs_t *j = calloc(1, sizeof(*j));
	int			rc;

	*out = j;
	if (j == NULL)
	{
		tide_log_error("out of memory");
		return TIDE_EXIT_BUG;
	}
	j->o = *o;
	if (j->o.unit_bytes == 0)
		j->o.unit_bytes = JOBS_UNIT_BYTES;

	/*
	 * Units smaller than --batch, so that a backlog gives every worker
	 * one: N units per --batch changes, but never below JOBS_MIN_UNIT
	 * changes (a unit still spends one XID on a hundred source
	 * transactions or more, and folds hot rows as often).
	 */
	if (j->o.batch > JOBS_MIN_UNIT && j->o.batch / (uint64_t) o->njobs > JOBS_MIN_UNIT)
		j->o.batch /= (uint64_t) o->njobs;
	else if (j->o.batch > JOBS_MIN_UNIT)
		j->o.batch = JOBS_MIN_UNIT;
	j->ropts = *o->ropts;
	j->ropts.worker = true;
	j->main = main;
	j->n = o->njobs;
	/* a failpoint for tests/tap/t/087_apply_jobs.pl: units know no keys */
	j->blind = getenv("TIDE_TEST_JOBS_BLIND") != NULL;
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	j->head_since = now_secs();
	if (deptrack_init(&j->dt, o->max_keys) != 0)
	{
		tide_log_error("out of memory");
		return TIDE_EXIT_BUG;
	}
	for (int i = 0; i <= j->n; i++)
	{
		proto_wbuf_init_heap(&j->units[i].buf);
		j->units[i].next = j->free_units;
		j->free_units = &j->units[i];
	}
	for (int i = 0; i < j->n; i++)
	{
		jobs_worker_t *w = &j->w[i];

		w->j = j;
		w->idx = i;
		w->ropts = j->ropts;
		/* workers never create: the run's session has, before (rel_facts) */
		w->ropts.schema_follow = false;
		/*
		 * A worker writes a table's pending set at 4 MiB, not 32: N
		 * workers hold sets at once (bench/apply.sh --jobs 4 insert: peak
		 * RSS 64-67 MiB with 32, 61 MiB with 8 per worker).  Units are no
		 * shorter for it: replica XIDs stay as they were.
		 */
		w->ropts.set_bytes = COAL_MAX_ARENA / 8;
		proto_relcat_init(&w->cat, NULL);
		if ((rc = session(w, false)) != 0)
			return rc;
	}
	for (int i = 0; i < j->n; i++)
	{
		if (pthread_create(&j->w[i].thread, NULL, worker_main, &j->w[i]) != 0)
		{
			tide_log_error("could not start a --jobs worker thread: %s", strerror(errno));
			return TIDE_EXIT_BUG;
		}
		j->w[i].started = true;
	}
	return 0;
}

void
apply_jobs_stop(apply_jobs_t *j)
{
	if (j == NULL)
		return;
	pthread_mutex_lock(&j->mu);
	j->quit = true;
	for (int i = 0; i < j->n; i++)
	{
		char		err[256];

		if (j->w[i].busy && j->w[i].cancel)
			PQcancel(j->w[i].cancel, err, sizeof(err));
	}
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
	for (int i = 0; i < j->n; i++)
	{
		jobs_worker_t *w = &j->w[i];

		if (w->started)
			pthread_join(w->thread, NULL);
		apply_replica_close(w->rep);
		if (w->cancel)
			PQfreeCancel(w->cancel);
		if (w->j)
			proto_relcat_free(&w->cat);
	}
	for (int i = 0; i <= APPLY_JOBS_MAX; i++)
	{
		proto_wbuf_free(&j->units[i].buf);	/* a buffer never set up is zeroed */
		free(j->units[i].txns);
		free(j->units[i].tgates);
		free(j->units[i].depkeys);
	}
	for (int b = 0; b < JOBS_REL_BUCKETS; b++)
		while (j->rels[b])
		{
			jobs_rel_t *jr = j->rels[b];

			j->rels[b] = jr->next;
			free(jr);
		}
	free(j->keys);
	deptrack_free(&j->dt);
	pthread_cond_destroy(&j->cv);
	pthread_mutex_destroy(&j->mu);
	free(j);
}
