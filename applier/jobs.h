/*
 * applier/jobs.h
 *		`tide apply --jobs N`: ordered parallel apply.  apply.c reads the
 *		segments and hands whole source transactions to the dispatcher here;
 *		N worker sessions apply them, committing in source commit order
 *		(jobs.c opens with the design and the correctness argument).
 *
 * Functions returning int return 0 or a TIDE_EXIT_* code after logging the
 * failure once, except where a failure of a unit is held back for apply.c's
 * strict re-application (apply_jobs_failure).
 */
#ifndef TIDE_JOBS_H
#define TIDE_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include "apply.h"

#define APPLY_JOBS_MAX 16

typedef struct apply_jobs_s apply_jobs_t;

typedef struct
{
	int			njobs;			/* worker sessions, 2..APPLY_JOBS_MAX */
	uint64_t	batch;			/* changes per unit (--batch) */
	size_t		unit_bytes;		/* message bytes per unit (0: the default) */
	uint32_t	max_keys;		/* tracker bound (0: the default) */
	const apply_replica_opts_t *ropts;	/* the main session's; copied */
	apply_ident_t ident;
} apply_jobs_opts_t;

/* The replica's position as of the last unit committed. */
typedef struct
{
	uint64_t	units;			/* units committed */
	proto_lsn_t end_lsn;		/* progress row of the last one */
	proto_time_t end_time;
	uint64_t	txns;			/* the reader's counters as of its end */
	uint64_t	skipped;
	proto_lsn_t failed_end;		/* a failed unit's last transaction's end (0: none) */
} apply_jobs_pos_t;

/*
 * apply_jobs_start - connect the workers' sessions and start their
 * threads.  main is the run's own session (it holds the lock against other
 * appliers): the dispatcher reads the replica's catalog through it and
 * watches the workers' locks with it, between units.
 * apply_jobs_stop - abandon whatever has not committed, stop the threads,
 * close the sessions (NULL is fine).
 */
int			apply_jobs_start(apply_jobs_t **out, const apply_jobs_opts_t *o,
							 apply_replica_t *main);
void		apply_jobs_stop(apply_jobs_t *j);

/*
 * The reader's side, one source transaction at a time, in commit order:
 * apply_jobs_begin with its BEGIN message (frame: the framed bytes),
 * apply_jobs_change for each change message (INSERT, UPDATE, DELETE,
 * TRUNCATE, a transactional MESSAGE), then apply_jobs_commit with its
 * COMMIT and the reader's counters after it.  apply_jobs_abandon forgets
 * a transaction begun and not committed (the open segment's tail).
 * A change whose table the replica lacks, or a corrupt one, returns the
 * exit code (logged, or held back as replica.c holds batch failures);
 * one for the run's own session APPLY_JOBS_SERIAL.
 */
int			apply_jobs_begin(apply_jobs_t *j, const uint8_t *frame, size_t len);

/*
 * apply_jobs_change's answer when the change must run on the run's own
 * session (--schema follow meets a description that session has not
 * resolved): the caller takes the transaction back (apply_jobs_take).
 */
#define APPLY_JOBS_SERIAL (-1)

int			apply_jobs_change(apply_jobs_t *j, proto_relcat_t *cat, uint8_t type,
							  proto_rbuf_t body, const uint8_t *frame, size_t len,
							  const char *where, uint64_t off);
int			apply_jobs_commit(apply_jobs_t *j, const uint8_t *frame, size_t len,
							  proto_lsn_t end_lsn, proto_time_t end_time,
							  uint64_t txns, uint64_t skipped);
void		apply_jobs_abandon(apply_jobs_t *j);

/*
 * apply_jobs_take - the open transaction is not the workers' after all
 * (it holds captured DDL): its messages so far are appended to *out (BEGIN,
 * RELATION and change frames) and forgotten here, as are the replica-side
 * facts of every table (the DDL may add a trigger or an index).  Returns 0
 * or TIDE_EXIT_BUG (out of memory).
 */
int			apply_jobs_take(apply_jobs_t *j, proto_wbuf_t *out);

/*
 * apply_jobs_drain - hand out the unit being filled and wait until every
 * unit handed out has committed (or one failed).  *pos says where the
 * replica is either way.
 */
int			apply_jobs_drain(apply_jobs_t *j, apply_jobs_pos_t *pos);

/*
 * apply_jobs_trim - after apply_jobs_drain, before the run's own session
 * applies a transaction that spans blocks: the idle workers' sessions, the
 * free units and the dependency tracker hand back what they keep for
 * reuse, so that their high-water marks and that session's are never
 * held at once (the peak stays that of one session plus the run's fixed
 * part).  Does nothing if a unit is in flight.
 */
void		apply_jobs_trim(apply_jobs_t *j);

/* apply_jobs_pos - where the replica is now (units commit behind the reader) */
void		apply_jobs_pos(apply_jobs_t *j, apply_jobs_pos_t *pos);

/*
 * A unit that failed.  apply_jobs_failure - APPLY_FAIL_CHANGE when the
 * replica refused a change (apply.c then applies the transactions from
 * where the replica is again, one at a time, on its own session, where the
 * failure is named), APPLY_FAIL_OTHER otherwise (logged), 0 if none.
 * apply_jobs_first_error - its primary message.  apply_jobs_reset - after
 * apply.c took over: every worker idle, new units may begin.
 */
char		apply_jobs_failure(apply_jobs_t *j);
const char *apply_jobs_first_error(apply_jobs_t *j);
int			apply_jobs_reset(apply_jobs_t *j);

/* apply_jobs_counts - the workers' counts of committed work, added to *c */
void		apply_jobs_counts(apply_jobs_t *j, apply_counts_t *c);

/* what the dispatcher did: retries of units, barriers, units */
typedef struct
{
	uint64_t	units;
	uint64_t	barriers;
	uint64_t	waits;			/* units that waited for an earlier one */
	uint64_t	retries;		/* re-applied after a deadlock or as a victim */
	uint64_t	victims;		/* later units the watchdog abandoned */
	uint64_t	overflows;
	uint64_t	trims;			/* apply_jobs_trim before a large transaction */
} apply_jobs_stats_t;

void		apply_jobs_stats(apply_jobs_t *j, apply_jobs_stats_t *s);

/*
 * apply_change - apply one change message (INSERT, UPDATE, DELETE,
 * TRUNCATE, MESSAGE) to session r, its relation from cat: the one place
 * that turns a message into apply_insert and its siblings, for the run's
 * own session (apply.c) and the workers' alike.  rest is what follows the
 * message in its frame (a run of inserts goes by COPY).  where and off
 * name the segment and block for a corrupt message.  *counted says
 * whether it counts toward --batch.
 */
typedef struct
{
	proto_datum_t oldcols[PROTO_MAX_COLUMNS];
	proto_datum_t newcols[PROTO_MAX_COLUMNS];
	uint32_t	relids[PROTO_MAX_TRUNCATE];
	apply_rel_t *trels[PROTO_MAX_TRUNCATE];
} apply_scratch_t;

int			apply_change(apply_replica_t *r, proto_relcat_t *cat, apply_scratch_t *s,
						 uint8_t type, proto_rbuf_t body, proto_rbuf_t rest,
						 const char *where, uint64_t off, bool *counted);

#endif /* TIDE_JOBS_H */
