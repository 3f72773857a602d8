/*
 * applier/replica.c
 *		The replica side of `tide apply`: session, progress row, relation
 *		checks, and the fast paths (COPY for runs of inserts, prepared
 *		statements in pipeline mode for the rest).
 *
 * Progress lives in a table, tide.progress, written in the same replica
 * transaction as the changes it accounts for.  A replication origin
 * (pg_replication_origin_advance inside the transaction) would save the
 * one-row write per replica transaction, but it needs superuser or
 * pg_replication_origin_* grants, is invisible to pg_dump (a replica
 * restored from a dump would lose its position and replay from the start),
 * and holds one LSN where we also want the source identity and commit time.
 * With group commit the row costs one tuple per replica transaction of up
 * to --batch changes, so the origin's saving is not worth those losses.
 *
 * Values never appear in SQL text: they travel as COPY data or as
 * parameters (text, or binary in the type's send format when proto cannot
 * render the type as text).  Every identifier goes through
 * PQescapeIdentifier.
 */
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <xxhash.h>

#include "tide/common.h"
#include "tide/seqstate.h"
#include "apply.h"
#include "tide/value.h"

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
	uint64_t	stmt_seq;
	apply_counts_t counts;
	char		fail_state[6];	/* SQLSTATE of the failure, "" if none */

	/*
	 * --jobs: a worker's session asks gate_cb before each statement that
	 * writes (jobs.c: the units it depends on must have committed first).
	 */
	int			(*gate_cb) (void *arg);
	void	   *gate_arg;
};

/* ------------------------------------------------------------- helpers */

static void
sql_put(proto_wbuf_t *b, const char *s)
{
	proto_put_bytes(b, s, strlen(s));
}

static char *
cstr(proto_str_t s)
{
	char	   *p = malloc(s.n + 1);

	if (p)
	{
		if (s.n)
			memcpy(p, s.p, s.n);
		p[s.n] = '\0';
	}
	return p;
}

/* quote - "name" quoted by libpq, malloc'd (NULL on failure) */
static char *
quote(PGconn *conn, const char *s, size_t n)
{
	char	   *q = PQescapeIdentifier(conn, s, n);
	char	   *copy;

	if (q == NULL)
		return NULL;
	copy = strdup(q);
	PQfreemem(q);
	return copy;
}

static const char *
kind_name(char kind)
{
	switch (kind)
	{
		case 'I':
			return "INSERT";
		case 'U':
			return "UPDATE";
		case 'D':
			return "DELETE";
		case 'T':
			return "TRUNCATE";
		default:
			return "statement";
	}
}

/*
 * rlog - one line of a failure message: logged at once, or held back in
 * batch mode (see apply_replica_s).  level is 'E'rror, 'D'etail, 'H'int.
 */
static void rlog(apply_replica_t *r, char level, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

static void
rlog(apply_replica_t *r, char level, const char *fmt,...)
{
	char		line[4096];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (level == 'E' && r->first_error[0] == '\0')
		snprintf(r->first_error, sizeof(r->first_error), "%s", line);
	if (r->defer)
	{
		proto_put_u8(&r->held, (uint8_t) level);
		proto_put_bytes(&r->held, line, strlen(line) + 1);
		return;
	}
	if (level == 'E')
		tide_log_error("%s", line);
	else if (level == 'D')
		tide_log_detail("%s", line);
	else
		tide_log_hint("%s", line);
}

static void
time_text(proto_wbuf_t *out, proto_time_t t)
{
	uint8_t		le[8];

	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t) ((uint64_t) t >> (8 * i));
	proto_value_text(out, PROTO_ENC_FIXED, PROTO_TIMESTAMPTZOID, le, 8);
	proto_put_u8(out, '\0');
}

/*
 * txn_detail - which source transaction a failure belongs to.  Only in
 * strict mode is that exact (one transaction per replica transaction, one
 * statement answered at a time).
 */
static void
txn_detail(apply_replica_t *r)
{
	proto_wbuf_t t;

	if (!r->strict || !r->have_txn)
		return;
	proto_wbuf_init_heap(&t);
	time_text(&t, r->txn_time);
	rlog(r, 'D', "in the source transaction with commit LSN %X/%X, committed %s, xid %u",
		 (unsigned) (r->txn_lsn >> 32), (unsigned) r->txn_lsn,
		 t.err ? "?" : (const char *) t.data, r->txn_xid);
	proto_wbuf_free(&t);
}

/*
 * fail_change - a change the replica cannot take as the source made it
 * (invariant 7: divergence stops, it never warns): the caller logs what and
 * why with rlog.  Returns TIDE_EXIT_REPLICA.
 */
static int
fail_change(apply_replica_t *r)
{
	if (!r->failed)
	{
		r->failed = true;
		r->fail_kind = APPLY_FAIL_CHANGE;
	}
	return TIDE_EXIT_REPLICA;
}

/*
 * fail_kind_of - what a server error says about the replica, by SQLSTATE
 * class: the connection or the server itself (08 connection, 57 operator
 * intervention, 53 resources, 58 system, XX internal), or else the change
 * (a constraint, a type, a missing partition, a lock or serialization
 * conflict), which a strict re-application will name.
 */
static char
fail_kind_of(const char *sqlstate)
{
	static const char *const server[] = {"08", "57", "53", "58", "XX"};

	if (sqlstate == NULL || strlen(sqlstate) != 5)
		return APPLY_FAIL_OTHER;
	for (size_t i = 0; i < sizeof(server) / sizeof(server[0]); i++)
		if (strncmp(sqlstate, server[i], 2) == 0)
			return APPLY_FAIL_OTHER;
	return APPLY_FAIL_CHANGE;
}

/*
 * report - log a failed result the way psql would (message, detail, hint),
 * prefixed by what we were doing, and classify it by SQLSTATE.  Returns
 * TIDE_EXIT_REPLICA.
 */
static int
report(apply_replica_t *r, PGresult *res, const char *fmt, const char *arg)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
	const char *ctx = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	char		what[1200];

	if (r->failed)
		return TIDE_EXIT_REPLICA;
	r->failed = true;
	r->fail_kind = msg ? fail_kind_of(state) : APPLY_FAIL_OTHER;
	snprintf(r->fail_state, sizeof(r->fail_state), "%s", msg && state ? state : "");
	snprintf(what, sizeof(what), fmt, arg);
	if (msg == NULL)
	{
		const char *e = r->conn ? PQerrorMessage(r->conn) : "no connection to the server";
		size_t		n = strlen(e);

		while (n > 0 && e[n - 1] == '\n')
			n--;
		rlog(r, 'E', "%s: %.*s", what, (int) n, e);
	}
	else
		rlog(r, 'E', "%s: %s", what, msg);
	if (detail)
		rlog(r, 'D', "%s", detail);
	if (ctx)
		rlog(r, 'D', "replica context: %s", ctx);
	txn_detail(r);
	if (hint)
		rlog(r, 'H', "%s", hint);
	else if (state && strcmp(state, "23505") == 0)
		rlog(r, 'H', "the replica already has a row the source inserted: if it was loaded after the slot was created, use --on-conflict skip or update; otherwise it differs from the source");
	else if (state && strcmp(state, "23514") == 0 &&
			 PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) == NULL)
	{
		/*
		 * A check violation without a constraint: no partition of the
		 * table takes the row, or the row is outside the bounds of the
		 * replica's partition named like the source's.
		 */
		const char *nsp = PQresultErrorField(res, PG_DIAG_SCHEMA_NAME);
		const char *tab = PQresultErrorField(res, PG_DIAG_TABLE_NAME);

		rlog(r, 'H', "the replica's partitions do not take this row as the source's do (a partition created on the source?): "
			 "create the partition for it on the replica (CREATE TABLE ... PARTITION OF %s%s%s FOR VALUES ...), then run tide apply again",
			 nsp && tab ? nsp : "", nsp && tab ? "." : "", tab ? tab : "the table");
	}
	return TIDE_EXIT_REPLICA;
}

/* exec - run sql in plain mode, expecting status ok; logs on failure */
static int
exec(apply_replica_t *r, const char *sql, ExecStatusType ok, const char *what)
{
	PGresult   *res = PQexec(r->conn, sql);
	int			rc = 0;

	if (PQresultStatus(res) != ok)
		rc = report(r, res, "%s", what);
	PQclear(res);
	return rc;
}

/*
 * gate - before a statement that writes to the replica's tables: a --jobs
 * worker waits there until what its unit depends on has committed
 * (jobs.c).  A gate that says no (the unit is abandoned) fails the
 * session's transaction, which the worker then rolls back.
 */
static int
gate(apply_replica_t *r)
{
	if (r->gate_cb == NULL || r->gate_cb(r->gate_arg) == 0)
		return 0;
	if (!r->failed)
	{
		r->failed = true;
		r->fail_kind = APPLY_FAIL_OTHER;
		snprintf(r->first_error, sizeof(r->first_error), "%s", "abandoned by the dispatcher");
	}
	return TIDE_EXIT_REPLICA;
}

/* ------------------------------------------------------------- pipeline */

static void
ring_push(apply_replica_t *r, char kind, apply_rel_t *rel)
{
	pending_t  *p = &r->ring[(r->ring_head + r->ring_n) % PIPE_RING];

	p->kind = kind;
	p->rel = rel;
	r->ring_n++;
}

/*
 * drain_sync - read results up to and including the oldest Sync.  The first
 * error is logged, naming the table; later results are the pipeline's
 * aborted ones.
 */
static int
drain_sync(apply_replica_t *r)
{
	while (r->ring_n > 0)
	{
		pending_t	p = r->ring[r->ring_head];
		PGresult   *res = PQgetResult(r->conn);

		r->ring_head = (r->ring_head + 1) % PIPE_RING;
		r->ring_n--;
		if (res == NULL)
			return report(r, NULL, "%s", "lost the replica connection");
		if (p.kind == 'S')
		{
			ExecStatusType st = PQresultStatus(res);

			PQclear(res);
			r->syncs--;
			if (st != PGRES_PIPELINE_SYNC)
				return report(r, NULL, "%s", "replica pipeline out of step");
			return r->failed ? TIDE_EXIT_REPLICA : 0;
		}
		switch (PQresultStatus(res))
		{
			case PGRES_COMMAND_OK:
				if (p.kind == 'I' && strcmp(PQcmdTuples(res), "0") == 0)
					r->counts.conflicts++;
				else if ((p.kind == 'U' || p.kind == 'D') && strcmp(PQcmdTuples(res), "1") != 0)
				{
					if (strcmp(PQcmdTuples(res), "0") == 0 &&
						r->opts->on_conflict != APPLY_CONFLICT_ERROR)
						r->counts.not_found++;	/* a dump taken after the slot: see README */
					else if (!r->failed)
					{
						/* invariant 7: the strict re-application names the key */
						fail_change(r);
						rlog(r, 'E', "%s of table \"%s\" matched %s rows on the replica where the source changed one",
							 kind_name(p.kind), p.rel->display, PQcmdTuples(res));
					}
				}
				break;
			case PGRES_PIPELINE_ABORTED:
				break;
			default:
				{
					char		what[1100];

					snprintf(what, sizeof(what), "could not apply %s to table \"%s\"",
							 kind_name(p.kind), p.rel->display);
					report(r, res, "%s", what);
				}
				break;
		}
		PQclear(res);
		/* each statement's results end with a NULL */
		if ((res = PQgetResult(r->conn)) != NULL)
		{
			PQclear(res);
			return report(r, NULL, "%s", "replica pipeline out of step");
		}
	}
	return report(r, NULL, "%s", "replica pipeline out of step");
}

static int
copy_end(apply_replica_t *r)
{
	PGresult   *res;
	int			rc = 0;
	char		what[1100];

	if (r->copy_rel == NULL)
		return 0;
	snprintf(what, sizeof(what), "could not copy rows into table \"%s\"", r->copy_rel->display);
	if (r->copybuf.len > 0 &&
		PQputCopyData(r->conn, (const char *) r->copybuf.data, (int) r->copybuf.len) != 1)
		rc = report(r, NULL, "%s", what);
	r->copybuf.len = 0;
	if (PQputCopyEnd(r->conn, NULL) != 1 && rc == 0)
		rc = report(r, NULL, "%s", what);
	while ((res = PQgetResult(r->conn)) != NULL)
	{
		if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0)
			rc = report(r, res, "%s", what);
		PQclear(res);
	}
	r->copy_rel = NULL;
	return rc;
}

/* go_plain - no COPY open, not in pipeline mode, every result read. */
static int
go_plain(apply_replica_t *r)
{
	int			rc = copy_end(r);

	if (rc)
		return rc;
	if (!r->pipeline)
		return 0;
	if (r->since_sync > 0 || r->syncs == 0)
	{
		if (PQpipelineSync(r->conn) != 1)
			return report(r, NULL, "%s", "could not send to the replica");
		ring_push(r, 'S', NULL);
		r->syncs++;
		r->since_sync = 0;
	}
	while (r->syncs > 0)
		if ((rc = drain_sync(r)) != 0)
			return rc;
	if (PQexitPipelineMode(r->conn) != 1)
		return report(r, NULL, "%s", "could not leave pipeline mode");
	r->pipeline = false;
	return 0;
}

static int
go_pipeline(apply_replica_t *r)
{
	int			rc = copy_end(r);

	if (rc || r->pipeline)
		return rc;
	if (PQenterPipelineMode(r->conn) != 1)
		return report(r, NULL, "%s", "could not enter pipeline mode");
	r->pipeline = true;
	return 0;
}

static int
ensure_txn(apply_replica_t *r)
{
	int			rc;

	if (r->in_txn)
		return 0;
	if ((rc = go_plain(r)) != 0 ||
		(rc = exec(r, "BEGIN", PGRES_COMMAND_OK, "could not begin a replica transaction")) != 0)
		return rc;
	r->in_txn = true;
	return 0;
}

/*
 * send_prepared - queue one execution with the parameters built in r.  In
 * strict mode it runs at once instead, and r->last_rows says how many rows
 * it touched.
 */
static int
send_prepared(apply_replica_t *r, const char *name, char kind, apply_rel_t *rel)
{
	int			rc;

	if ((rc = gate(r)) != 0)
		return rc;
	if (r->strict)
	{
		PGresult   *res;

		r->last_rows = -1;
		if ((rc = go_plain(r)) != 0)
			return rc;
		res = PQexecPrepared(r->conn, name, r->np, r->pv, r->pl, r->pf, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			char		what[1100];

			snprintf(what, sizeof(what), "could not apply %s to table \"%s\"", kind_name(kind), rel->display);
			rc = report(r, res, "%s", what);
		}
		else
			r->last_rows = strtoll(PQcmdTuples(res), NULL, 10);
		PQclear(res);
		return rc;
	}
	if ((rc = go_pipeline(r)) != 0)
		return rc;
	if (PQsendQueryPrepared(r->conn, name, r->np, r->pv, r->pl, r->pf, 0) != 1)
		return report(r, NULL, "%s", "could not send to the replica");
	ring_push(r, kind, rel);
	if (++r->since_sync >= PIPE_SYNC_EVERY)
	{
		if (PQpipelineSync(r->conn) != 1)
			return report(r, NULL, "%s", "could not send to the replica");
		ring_push(r, 'S', NULL);
		r->syncs++;
		r->since_sync = 0;
		if (r->syncs > PIPE_MAX_SYNCS && (rc = drain_sync(r)) != 0)
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------------- values */

static void
params_reset(apply_replica_t *r)
{
	proto_wbuf_reset(&r->vals);
	r->np = 0;
}

/*
 * params_add - one value as a parameter: its text when proto knows the
 * type, else the bytes as they came (the type's send format) in binary.
 */
static int
params_add(apply_replica_t *r, apply_rel_t *rs, const proto_column_t *col,
		   const proto_datum_t *d)
{
	int			i = r->np++;
	size_t		start = r->vals.len;
	int			rc;

	r->pf[i] = 0;
	r->voff[i] = SIZE_MAX;
	r->pv[i] = NULL;
	r->pl[i] = 0;
	if (d->kind != PROTO_DATUM_VALUE)
		return 0;
	rc = proto_value_text(&r->vals, col->encoding, col->basetypoid, d->data, d->len);
	if (rc == TIDE_EBADTYPE && col->encoding == PROTO_ENC_BINARY)
	{
		r->vals.len = start;
		r->pv[i] = (const char *) d->data;
		r->pl[i] = (int) d->len;
		r->pf[i] = 1;
		return 0;
	}
	if (rc != 0 && rc != TIDE_EBADTYPE)
	{
		tide_log_error("could not convert a value of column \"%.*s\" of table \"%s\": %s",
					   (int) col->name.n, col->name.p, rs->display, tide_strerror(rc));
		return rc == r->vals.err ? TIDE_EXIT_BUG : TIDE_EXIT_CORRUPT;
	}
	proto_put_u8(&r->vals, '\0');
	if (r->vals.err)
		return TIDE_EXIT_BUG;
	r->voff[i] = start;
	r->pl[i] = (int) (r->vals.len - start - 1);
	return 0;
}

static void
params_done(apply_replica_t *r)
{
	for (int i = 0; i < r->np; i++)
		if (r->voff[i] != SIZE_MAX)
			r->pv[i] = (const char *) r->vals.data + r->voff[i];
}

/* copy_escape - text COPY format: backslash, tab, newline, CR escaped */
static void
copy_escape(proto_wbuf_t *out, const uint8_t *p, size_t n)
{
	size_t		run = 0;

	for (size_t i = 0; i < n; i++)
	{
		const char *esc;

		switch (p[i])
		{
			case '\\':
				esc = "\\\\";
				break;
			case '\t':
				esc = "\\t";
				break;
			case '\n':
				esc = "\\n";
				break;
			case '\r':
				esc = "\\r";
				break;
			default:
				continue;
		}
		proto_put_bytes(out, p + run, i - run);
		proto_put_bytes(out, esc, 2);
		run = i + 1;
	}
	proto_put_bytes(out, p + run, n - run);
}

/*
 * copy_row - one row into the COPY stream.  Returns 1 without writing
 * anything when a value can only travel in binary (the caller switches the
 * relation to INSERT statements).
 */
/*
 * render_line - a row (or, with keys_only, its key columns) as one line of
 * text COPY in r->line.  Returns 1 when a value can only travel in binary.
 */
static int
render_line(apply_replica_t *r, apply_rel_t *rs, const proto_relation_t *rel,
			const proto_tuple_t *t, bool keys_only)
{
	bool		first = true;

	proto_wbuf_reset(&r->line);
	for (int i = 0; i < rel->natts; i++)
	{
		const proto_datum_t *d = &t->cols[i];
		int			rc;

		if (keys_only && !(rel->cols[i].flags & PROTO_COL_KEY))
			continue;
		if (!first)
			proto_put_u8(&r->line, '\t');
		first = false;
		if (d->kind != PROTO_DATUM_VALUE)
		{
			proto_put_bytes(&r->line, "\\N", 2);
			continue;
		}
		proto_wbuf_reset(&r->tmp);
		rc = proto_value_text(&r->tmp, rel->cols[i].encoding, rel->cols[i].basetypoid,
							  d->data, d->len);
		if (rc == TIDE_EBADTYPE && rel->cols[i].encoding == PROTO_ENC_BINARY)
			return 1;
		if (rc != 0 && rc != TIDE_EBADTYPE)
		{
			tide_log_error("could not convert a value of column \"%.*s\" of table \"%s\": %s",
						   (int) rel->cols[i].name.n, rel->cols[i].name.p, rs->display,
						   tide_strerror(rc));
			return TIDE_EXIT_CORRUPT;
		}
		copy_escape(&r->line, r->tmp.data, r->tmp.len);
	}
	proto_put_u8(&r->line, '\n');
	return r->line.err ? TIDE_EXIT_BUG : 0;
}

static int
copy_row(apply_replica_t *r, apply_rel_t *rs, const proto_relation_t *rel,
		 const proto_tuple_t *t)
{
	int			rc = render_line(r, rs, rel, t, false);

	if (rc != 0)
		return rc;
	proto_put_bytes(&r->copybuf, r->line.data, r->line.len);
	if (r->line.err || r->copybuf.err)
		return TIDE_EXIT_BUG;
	if (r->copybuf.len >= COPY_CHUNK)
	{
		if (PQputCopyData(r->conn, (const char *) r->copybuf.data, (int) r->copybuf.len) != 1)
			return report(r, NULL, "could not copy rows into table \"%s\"", rs->display);
		r->copybuf.len = 0;
	}
	return 0;
}

/* put_target_cols - "schema"."table" ("col", ...), for COPY and INSERT */
static void
put_target_cols(apply_replica_t *r, apply_rel_t *rs)
{
	sql_put(&r->sql, rs->target);
	sql_put(&r->sql, " (");
	for (int i = 0; i < rs->natts; i++)
	{
		if (i)
			sql_put(&r->sql, ", ");
		sql_put(&r->sql, rs->colq[i]);
	}
	sql_put(&r->sql, ")");
}

static int
copy_begin(apply_replica_t *r, apply_rel_t *rs)
{
	PGresult   *res;
	int			rc;

	if ((rc = go_plain(r)) != 0 || (rc = gate(r)) != 0)
		return rc;
	proto_wbuf_reset(&r->sql);
	sql_put(&r->sql, "COPY ");
	put_target_cols(r, rs);
	sql_put(&r->sql, " FROM STDIN");
	proto_put_u8(&r->sql, '\0');
	if (r->sql.err)
		return TIDE_EXIT_BUG;
	res = PQexec(r->conn, (const char *) r->sql.data);
	if (PQresultStatus(res) != PGRES_COPY_IN)
	{
		rc = report(r, res, "could not copy rows into table \"%s\"", rs->display);
		PQclear(res);
		return rc;
	}
	PQclear(res);
	r->copy_rel = rs;
	r->copybuf.len = 0;
	return 0;
}

/* ------------------------------------------------------------- statements */

/*
 * prepare - prepare r->sql, its parameters of the types put_param noted.
 * Parameters are declared with the replica column's type (no typmod), so
 * values are never cast in SQL: a cast to a type without its typmod cuts
 * char(n) and bit(n) values, and a cast with it pads or cuts silently too;
 * the column's own assignment applies its typmod, which the source's value
 * already satisfies.
 */
static int
prepare(apply_replica_t *r, apply_rel_t *rs, char *name, int nparams)
{
	PGresult   *res;
	int			rc;

	if ((rc = go_plain(r)) != 0)
		return rc;
	proto_put_u8(&r->sql, '\0');
	if (r->sql.err)
		return TIDE_EXIT_BUG;
	snprintf(name, 32, "tide_%llu", (unsigned long long) ++r->stmt_seq);
	res = PQprepare(r->conn, name, (const char *) r->sql.data, nparams, r->ptypes);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		rc = report(r, res, "could not prepare a statement for table \"%s\"", rs->display);
		name[0] = '\0';
	}
	PQclear(res);
	return rc;
}

static void put_same(apply_replica_t *r, const char *left, const char *right);

/* put_param - "$n", a value of column col (its type noted for prepare) */
static void
put_param(apply_replica_t *r, apply_rel_t *rs, int col, int n)
{
	char		num[32];

	snprintf(num, sizeof(num), "$%d", n);
	sql_put(&r->sql, num);
	r->ptypes[n - 1] = rs->coltypid[col];
}

/*
 * put_eq - left and right (SQL expressions of column col's type) compared
 * with the equality operator of the column type's default btree opclass
 * on the replica, named with its schema (invariant 8: nothing resolves
 * through a search path, and an index on the column is used), or, for a
 * type without one, by the exact text form of both values.
 */
static void
put_eq(apply_replica_t *r, apply_rel_t *rs, int col, const char *left, const char *right)
{
	if (rs->eqop[col] == NULL)
	{
		put_same(r, left, right);
		return;
	}
	sql_put(&r->sql, left);
	if (rs->eqcast[col])
		sql_put(&r->sql, rs->eqcast[col]);
	sql_put(&r->sql, " ");
	sql_put(&r->sql, rs->eqop[col]);
	sql_put(&r->sql, " ");
	sql_put(&r->sql, right);
	if (rs->eqcast[col])
		sql_put(&r->sql, rs->eqcast[col]);
}

/*
 * put_same - the two values have the same exact text form, as the
 * replica's output function prints them under this session's settings:
 * never a type's notion of equality (box "=" compares areas, numeric 1.0 =
 * 1.00, float8 0 = -0, citext ignores case).  %L prints NULL as NULL and
 * every value quoted, so NULL matches NULL only; "C" compares bytes.
 */
static void
put_same(apply_replica_t *r, const char *left, const char *right)
{
	sql_put(&r->sql, "pg_catalog.format('%L', ");
	sql_put(&r->sql, left);
	sql_put(&r->sql, ") COLLATE pg_catalog.\"C\" OPERATOR(pg_catalog.=) pg_catalog.format('%L', ");
	sql_put(&r->sql, right);
	sql_put(&r->sql, ")");
}

/*
 * put_where - the match on the columns set in where[]: the key's equality
 * on the identity columns, or for REPLICA IDENTITY FULL the exact text form
 * of every column of the old row, and one row only (a table without a key
 * may hold duplicates; the source changed exactly one of them).  ctid and
 * tableoid are compared with pg_catalog's operators.
 */
static void
put_where(apply_replica_t *r, apply_rel_t *rs, const uint8_t *where, bool full,
		  int n)
{
	bool		first = true;

	if (full)
	{
		sql_put(&r->sql, rs->relkind == 'p' ?
				" WHERE (tableoid, ctid) OPERATOR(pg_catalog.=) (SELECT tableoid, ctid FROM "
				: " WHERE ctid OPERATOR(pg_catalog.=) (SELECT ctid FROM ");
		sql_put(&r->sql, rs->target);
	}
	sql_put(&r->sql, " WHERE ");
	for (int i = 0; i < rs->natts; i++)
	{
		char		num[32];

		if (!where[i])
			continue;
		if (!first)
			sql_put(&r->sql, " AND ");
		first = false;
		snprintf(num, sizeof(num), "$%d", n);
		r->ptypes[n - 1] = rs->coltypid[i];
		n++;
		if (full)
			put_same(r, rs->colq[i], num);
		else
			put_eq(r, rs, i, rs->colq[i], num);
	}
	if (full)
		sql_put(&r->sql, " LIMIT 1)");
}

/* find_stmt - the prepared UPDATE/DELETE for this shape, preparing it */
static int
find_stmt(apply_replica_t *r, apply_rel_t *rs, char kind, const uint8_t *mask,
		  bool full, const char **name)
{
	apply_upd_t *u;
	int			n = 1;
	bool		first = true;
	int			rc;
	size_t		mlen = (size_t) rs->natts * 2 + 1;

	for (u = rs->upds; u; u = u->next)
		if (u->mask[0] == (uint8_t) kind && memcmp(u->mask + 1, mask, mlen - 1) == 0)
		{
			*name = u->name;
			return 0;
		}
	if ((u = calloc(1, sizeof(*u))) == NULL || (u->mask = malloc(mlen)) == NULL)
	{
		free(u);
		tide_log_error("out of memory");
		return TIDE_EXIT_BUG;
	}
	u->mask[0] = (uint8_t) kind;
	memcpy(u->mask + 1, mask, mlen - 1);
	proto_wbuf_reset(&r->sql);
	if (kind == 'U')
	{
		sql_put(&r->sql, "UPDATE ");
		sql_put(&r->sql, rs->target);
		sql_put(&r->sql, " SET ");
		for (int i = 0; i < rs->natts; i++)
		{
			if (!mask[i])
				continue;
			if (!first)
				sql_put(&r->sql, ", ");
			first = false;
			sql_put(&r->sql, rs->colq[i]);
			sql_put(&r->sql, " = ");
			put_param(r, rs, i, n++);
		}
	}
	else
	{
		sql_put(&r->sql, "DELETE FROM ");
		sql_put(&r->sql, rs->target);
	}
	put_where(r, rs, mask + rs->natts, full, n);
	for (int i = 0; i < rs->natts; i++)
		n += mask[rs->natts + i];
	if ((rc = prepare(r, rs, u->name, n - 1)) != 0)
	{
		free(u->mask);
		free(u);
		return rc;
	}
	u->next = rs->upds;
	rs->upds = u;
	*name = u->name;
	return 0;
}

/* ------------------------------------------------------------- relations */

static void coal_free(apply_rel_t *rs);
static int	coal_flush(apply_replica_t *r, apply_rel_t *rs);

static void
rel_clear(apply_rel_t *rs)
{
	for (int i = 0; rs->colq && i < rs->natts; i++)
		free(rs->colq[i]);
	for (int i = 0; rs->eqop && i < rs->natts; i++)
		free(rs->eqop[i]);
	for (int i = 0; rs->eqcast && i < rs->natts; i++)
		free(rs->eqcast[i]);
	free(rs->colq);
	free(rs->coltypid);
	free(rs->eqop);
	free(rs->eqcast);
	free(rs->target);
	free(rs->display);
	free(rs->srcname);
	free(rs->body);
	while (rs->upds)
	{
		apply_upd_t *u = rs->upds;

		rs->upds = u->next;
		free(u->mask);
		free(u);
	}
	coal_free(rs);
	{
		uint32_t	relid = rs->relid;
		apply_rel_t *next = rs->next;

		memset(rs, 0, sizeof(*rs));
		rs->relid = relid;
		rs->next = next;
	}
}

/*
 * type_norm - a format_type() name without its schema qualification: the
 * source prints names as its search_path sees them, the replica as ours
 * does, so "public.mood" and "mood" are the same type.
 */
static const char *
type_norm(const char *s, size_t *n)
{
	const char *p = s;
	const char *end = s + *n;

	if (p < end && *p == '"')
	{
		for (p++; p < end; p++)
			if (*p == '"')
			{
				if (p + 1 < end && p[1] == '"')
					p++;
				else
				{
					p++;
					break;
				}
			}
	}
	else
		while (p < end && *p != '.' && *p != '(' && *p != ' ' && *p != '[')
			p++;
	if (p < end && *p == '.')
	{
		*n = (size_t) (end - p - 1);
		return p + 1;
	}
	return s;
}

static bool
types_equal(const char *a, size_t an, const char *b, size_t bn)
{
	if (an == bn && memcmp(a, b, an) == 0)
		return true;
	a = type_norm(a, &an);
	b = type_norm(b, &bn);
	return an == bn && memcmp(a, b, an) == 0;
}

static const char *
map_schema(apply_replica_t *r, const char *nsp)
{
	for (int i = 0; i < r->opts->nmaps; i++)
		if (strcmp(r->opts->maps[i].src, nsp) == 0)
			return r->opts->maps[i].dst;
	return nsp;
}

static bool
table_wanted(apply_replica_t *r, const char *nsp, const char *rel)
{
	char		name[2 * PROTO_MAX_NAME + 2];

	if (r->opts->tables == NULL || r->opts->tables[0] == NULL)
		return true;
	snprintf(name, sizeof(name), "%s.%s", nsp, rel);
	for (const char **p = r->opts->tables; *p; p++)
		if (fnmatch(*p, name, 0) == 0)
			return true;
	return false;
}

/* lookup - OID and relkind of nsp.rel on the replica; 1 if missing */
static int
lookup(apply_replica_t *r, const char *nsp, const char *rel, char *oid,
	   char *relkind)
{
	const char *vals[2] = {nsp, rel};
	PGresult   *res = PQexecParams(r->conn,
								   "SELECT c.oid, c.relkind FROM pg_catalog.pg_class c "
								   "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
								   "WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')",
								   2, NULL, vals, NULL, NULL, 0);
	int			rc = 1;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = report(r, res, "%s", "could not read the replica's catalog");
	else if (PQntuples(res) == 1)
	{
		snprintf(oid, 16, "%s", PQgetvalue(res, 0, 0));
		*relkind = PQgetvalue(res, 0, 1)[0];
		rc = 0;
	}
	PQclear(res);
	return rc;
}

/*
 * The replica's columns of a table, in order, with what put_eq needs: the
 * equality operator of the column type's default btree opclass (found as
 * PostgreSQL's GetDefaultOpClass does: the base type of a domain, an exact
 * opclass, the polymorphic array/enum/range ones, or a binary-coercible
 * one; an array's elements must have one too), its schema, and the type to
 * cast both sides to so that exactly that operator is chosen.  Catalog
 * queries run with search_path = '', so their own operators on built-in
 * types can only be pg_catalog's.
 */
static const char *const columns_sql =
"SELECT a.attname, a.atttypid, pg_catalog.format_type(a.atttypid, a.atttypmod), "
"       op.nsp, op.oprname, op.ltype, op.lsame, op.exact "
"FROM pg_catalog.pg_attribute a "
"LEFT JOIN LATERAL ("
"  WITH RECURSIVE d(oid, lvl) AS ("
"      SELECT a.atttypid, 0"
"      UNION ALL"
"      SELECT t.typbasetype, d.lvl + 1 FROM d JOIN pg_catalog.pg_type t ON t.oid = d.oid WHERE t.typtype = 'd')"
"  SELECT n.nspname AS nsp, o.oprname, pg_catalog.format_type(o.oprleft, -1) AS ltype,"
"         o.oprleft = a.atttypid AS lsame,"
"         o.oprleft = o.oprright AND lt.typtype <> 'p' AS exact"
"  FROM (SELECT oid FROM d ORDER BY lvl DESC LIMIT 1) b"
"  JOIN pg_catalog.pg_type t ON t.oid = b.oid"
"  JOIN pg_catalog.pg_opclass oc ON oc.opcdefault"
"       AND oc.opcmethod = (SELECT oid FROM pg_catalog.pg_am WHERE amname = 'btree')"
"  JOIN pg_catalog.pg_amop ao ON ao.amopfamily = oc.opcfamily AND ao.amopstrategy = 3"
"       AND ao.amoplefttype = oc.opcintype AND ao.amoprighttype = oc.opcintype"
"  JOIN pg_catalog.pg_operator o ON o.oid = ao.amopopr"
"  JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace"
"  JOIN pg_catalog.pg_type lt ON lt.oid = o.oprleft"
"  WHERE oc.opcintype = t.oid"
"     OR (oc.opcintype = 'pg_catalog.anyenum'::pg_catalog.regtype AND t.typtype = 'e')"
"     OR (oc.opcintype = 'pg_catalog.anyrange'::pg_catalog.regtype AND t.typtype = 'r')"
"     OR (oc.opcintype = 'pg_catalog.anymultirange'::pg_catalog.regtype AND t.typtype = 'm')"
"     OR EXISTS (SELECT FROM pg_catalog.pg_cast c WHERE c.castsource = t.oid"
"                AND c.casttarget = oc.opcintype AND c.castmethod = 'b' AND c.castcontext = 'i')"
"     OR (oc.opcintype = 'pg_catalog.anyarray'::pg_catalog.regtype"
"         AND t.typsubscript = 'pg_catalog.array_subscript_handler'::pg_catalog.regproc"
"         AND EXISTS ("
"           WITH RECURSIVE e(oid, lvl) AS ("
"               SELECT t.typelem, 0"
"               UNION ALL"
"               SELECT et.typbasetype, e.lvl + 1 FROM e JOIN pg_catalog.pg_type et ON et.oid = e.oid"
"               WHERE et.typtype = 'd')"
"           SELECT FROM (SELECT oid FROM e ORDER BY lvl DESC LIMIT 1) eb"
"           JOIN pg_catalog.pg_type et ON et.oid = eb.oid"
"           JOIN pg_catalog.pg_opclass eoc ON eoc.opcdefault AND eoc.opcmethod = oc.opcmethod"
"           WHERE eoc.opcintype = et.oid"
"              OR (eoc.opcintype = 'pg_catalog.anyenum'::pg_catalog.regtype AND et.typtype = 'e')"
"              OR (eoc.opcintype = 'pg_catalog.anyrange'::pg_catalog.regtype AND et.typtype = 'r')"
"              OR (eoc.opcintype = 'pg_catalog.anymultirange'::pg_catalog.regtype AND et.typtype = 'm')"
"              OR EXISTS (SELECT FROM pg_catalog.pg_cast c WHERE c.castsource = et.oid"
"                         AND c.casttarget = eoc.opcintype AND c.castmethod = 'b' AND c.castcontext = 'i')))"
"  ORDER BY oc.opcintype = t.oid DESC"
"  LIMIT 1) op ON true "
"WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' "
"ORDER BY a.attnum";

/*
 * Triggers and rules of a table (and its partitions) that fire under
 * session_replication_role = replica, and whether their owners (of the
 * table, and of a trigger's function) hold the applying role's privileges
 * already: such code runs as the applying role.
 */
static const char *const firing_sql =
"WITH s AS (SELECT $1::pg_catalog.oid AS relid"
"           UNION SELECT p.relid FROM pg_catalog.pg_partition_tree($1::pg_catalog.oid::pg_catalog.regclass) p) "
"SELECT 'trigger', t.tgname::pg_catalog.text, c.oid::pg_catalog.regclass::pg_catalog.text,"
"       pg_catalog.pg_get_userbyid(c.relowner), pg_catalog.pg_get_userbyid(p.proowner),"
"       CASE t.tgenabled WHEN 'A' THEN 'ALWAYS' ELSE 'REPLICA' END, CURRENT_USER,"
"       pg_catalog.pg_has_role(c.relowner, CURRENT_USER, 'USAGE')"
"       AND pg_catalog.pg_has_role(p.proowner, CURRENT_USER, 'USAGE') "
"FROM s JOIN pg_catalog.pg_class c ON c.oid = s.relid"
" JOIN pg_catalog.pg_trigger t ON t.tgrelid = c.oid"
" JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid "
"WHERE NOT t.tgisinternal AND t.tgenabled IN ('A', 'R') "
"UNION ALL "
"SELECT 'rule', w.rulename::pg_catalog.text, c.oid::pg_catalog.regclass::pg_catalog.text,"
"       pg_catalog.pg_get_userbyid(c.relowner), NULL,"
"       CASE w.ev_enabled WHEN 'A' THEN 'ALWAYS' ELSE 'REPLICA' END, CURRENT_USER,"
"       pg_catalog.pg_has_role(c.relowner, CURRENT_USER, 'USAGE') "
"FROM s JOIN pg_catalog.pg_class c ON c.oid = s.relid"
" JOIN pg_catalog.pg_rewrite w ON w.ev_class = c.oid "
"WHERE w.ev_enabled IN ('A', 'R') AND w.rulename <> '_RETURN' "
"ORDER BY 8, 1, 2";

/* shape - "schema.table (col type, ...)" of the source (res NULL) or the replica */
static void
shape(proto_wbuf_t *b, const char *name, const proto_relation_t *rel, PGresult *res)
{
	int			n = res ? PQntuples(res) : rel->natts;

	proto_wbuf_reset(b);
	sql_put(b, name);
	sql_put(b, " (");
	for (int i = 0; i < n; i++)
	{
		if (i)
			sql_put(b, ", ");
		if (b->len > 2000)
		{
			sql_put(b, "...");
			break;
		}
		if (res)
		{
			sql_put(b, PQgetvalue(res, i, 0));
			sql_put(b, " ");
			sql_put(b, PQgetvalue(res, i, 2));
		}
		else
		{
			proto_put_bytes(b, rel->cols[i].name.p, rel->cols[i].name.n);
			sql_put(b, " ");
			proto_put_bytes(b, rel->cols[i].typname.p, rel->cols[i].typname.n);
		}
	}
	sql_put(b, ")");
	proto_put_u8(b, '\0');
}

/* shapes - both shapes of the table, as detail lines */
static void
shapes(apply_replica_t *r, apply_rel_t *rs, const proto_relation_t *rel, PGresult *res,
	   const char *srcname)
{
	shape(&r->tmp, srcname, rel, NULL);
	rlog(r, 'D', "source: %s", r->tmp.err ? "?" : (const char *) r->tmp.data);
	shape(&r->tmp, rs->display, rel, res);
	rlog(r, 'D', "replica: %s", r->tmp.err ? "?" : (const char *) r->tmp.data);
}

/*
 * check_firing - refuse a table whose triggers or rules fire in the apply
 * session when their owners could use it to act as the applying role
 * (invariant 8); note in rs->firing that some fire (folding changes would
 * change what they see).
 */
static int
check_firing(apply_replica_t *r, apply_rel_t *rs, const char *oid)
{
	const char *vals[1] = {oid};
	PGresult   *res = PQexecParams(r->conn, firing_sql, 1, NULL, vals, NULL, NULL, 0);
	int			rc = 0;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = report(r, res, "%s", "could not read the replica's catalog");
	else if (PQntuples(res) > 0)
	{
		rs->firing = true;
		if (PQgetvalue(res, 0, 7)[0] == 'f')
		{
			bool		trig = strcmp(PQgetvalue(res, 0, 0), "trigger") == 0;

			rc = fail_change(r);
			rlog(r, 'E', "refusing to apply changes to table \"%s\": its %s \"%s\"%s%s fires during apply (ENABLE %s) "
				 "and would run as role \"%s\", whose privileges its owner \"%s\"%s%s%s does not have",
				 rs->display, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
				 strcmp(PQgetvalue(res, 0, 2), rs->display) ? " on partition " : "",
				 strcmp(PQgetvalue(res, 0, 2), rs->display) ? PQgetvalue(res, 0, 2) : "",
				 PQgetvalue(res, 0, 5), PQgetvalue(res, 0, 6), PQgetvalue(res, 0, 3),
				 trig ? " (or its function's owner \"" : "", trig ? PQgetvalue(res, 0, 4) : "",
				 trig ? "\")" : "");
			rlog(r, 'D', "tide apply runs with session_replication_role = replica, where triggers and rules enabled ALWAYS or REPLICA fire "
				 "with the applying role's privileges: whoever owns them could act as that role");
			txn_detail(r);
			rlog(r, 'H', "make the applying role own the table (ALTER TABLE ... OWNER TO), run tide apply as a role no more privileged than its owner, "
				 "or let the %s fire only for the replica's own writes (ALTER TABLE %s ENABLE %s %s); see README, \"Who the applier trusts\"",
				 PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 2), trig ? "TRIGGER" : "RULE", PQgetvalue(res, 0, 1));
		}
	}
	PQclear(res);
	return rc;
}

/* ------------------------------------------------------------- schema following
 *
 * --schema follow: a table the segments describe and the replica lacks is
 * created, and a column the source sends and the replica's table lacks is
 * added, before the first row that needs them and in the same replica
 * transaction (a rollback takes them back with the rows; the relations
 * resolved since are then resolved again, see apply_replica_rollback).
 * Nothing is ever dropped, renamed, narrowed or retyped.
 *
 * Types are never spliced from the segment into SQL: the source's type name
 * is resolved on the replica (to_regtype, under the session's empty
 * search_path, so only pg_catalog's names resolve unqualified and the
 * decoder qualifies every other type) and the DDL says the replica's own
 * format_type() of it with the source's typmod.  A name that does not
 * resolve, or resolves to a type that prints differently from the
 * source's, stops apply: creating a column of another type would diverge.
 * Identifiers go through PQescapeIdentifier like everywhere else.
 */

/*
 * follow_exec - log one DDL statement at info level, then run it through
 * the extended protocol, which takes exactly one statement
 */
static int
follow_exec(apply_replica_t *r, const char *sql, const char *what)
{
	PGresult   *res;
	int			rc = 0;

	tide_log_info("--schema follow: %s", sql);
	res = PQexecParams(r->conn, sql, 0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = report(r, res, "%s", what);
	else
		r->ddl_in_txn = true;
	PQclear(res);
	return rc;
}

/*
 * follow_type - the replica's name for the type of source column c, with
 * its typmod, into *out (malloc'd).  Logs and returns TIDE_EXIT_REPLICA
 * when the replica has no such type or names it differently.
 */
static int
follow_type(apply_replica_t *r, const proto_column_t *c, const char *table, char **out)
{
	char	   *tn = cstr(c->typname);
	char		typmod[16];
	const char *vals[2];
	PGresult   *res;
	int			rc = 0;

	*out = NULL;
	if (tn == NULL)
	{
		tide_log_error("out of memory");
		return TIDE_EXIT_BUG;
	}
	snprintf(typmod, sizeof(typmod), "%d", (int) c->typmod);
	vals[0] = tn;
	vals[1] = typmod;
	res = PQexecParams(r->conn,
					   "SELECT pg_catalog.format_type(t, $2::pg_catalog.int4) "
					   "FROM (SELECT pg_catalog.to_regtype($1::pg_catalog.text) AS t) s WHERE t IS NOT NULL",
					   2, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = report(r, res, "could not look up the type of a column of table \"%s\" on the replica", table);
	else if (PQntuples(res) != 1)
	{
		rc = fail_change(r);
		rlog(r, 'E', "cannot create column \"%.*s\" of table \"%s\": type %s does not exist on the replica",
			 (int) c->name.n, c->name.p, table, tn);
		txn_detail(r);
		rlog(r, 'H', "create the type on the replica as it is on the source, then run tide apply again");
	}
	else if (!types_equal(PQgetvalue(res, 0, 0), strlen(PQgetvalue(res, 0, 0)), c->typname.p, c->typname.n))
	{
		rc = fail_change(r);
		rlog(r, 'E', "cannot create column \"%.*s\" of table \"%s\": the source's type %s is %s on the replica",
			 (int) c->name.n, c->name.p, table, tn, PQgetvalue(res, 0, 0));
		txn_detail(r);
		rlog(r, 'H', "create the column on the replica by hand, then run tide apply again");
	}
	else if ((*out = strdup(PQgetvalue(res, 0, 0))) == NULL)
	{
		tide_log_error("out of memory");
		rc = TIDE_EXIT_BUG;
	}
	PQclear(res);
	free(tn);
	return rc;
}

/* follow_schema - CREATE SCHEMA IF NOT EXISTS nsp, when it does not */
static int
follow_schema(apply_replica_t *r, const char *nsp)
{
	const char *vals[1] = {nsp};
	PGresult   *res = PQexecParams(r->conn,
								   "SELECT FROM pg_catalog.pg_namespace WHERE nspname = $1",
								   1, NULL, vals, NULL, NULL, 0);
	char	   *q;
	int			rc;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		rc = report(r, res, "%s", "could not read the replica's catalog");
		PQclear(res);
		return rc;
	}
	rc = PQntuples(res);
	PQclear(res);
	if (rc > 0)
		return 0;
	if ((q = quote(r->conn, nsp, strlen(nsp))) == NULL)
	{
		tide_log_error("out of memory");
		return TIDE_EXIT_BUG;
	}
	proto_wbuf_reset(&r->sql);
	sql_put(&r->sql, "CREATE SCHEMA IF NOT EXISTS ");
	sql_put(&r->sql, q);
	proto_put_u8(&r->sql, '\0');
	free(q);
	if (r->sql.err)
		return TIDE_EXIT_BUG;
	return follow_exec(r, (const char *) r->sql.data, "could not create a schema on the replica");
}

/*
 * follow_sequence - --schema follow: create sequence nsp.name, missing on
 * the replica, with the source's increment and cycle.  Its bounds are the
 * whole bigint range (the source's are not in the stream), so any state
 * the source reports can be set; the caller then moves it forward.
 */
static int
follow_sequence(apply_replica_t *r, const char *nsp, const char *name, int64_t increment, bool cycle)
{
	char	   *qn = quote(r->conn, nsp, strlen(nsp));
	char	   *qr = quote(r->conn, name, strlen(name));
	char		tail[160];
	int			rc;

	if (qn == NULL || qr == NULL)
	{
		free(qn);
		free(qr);
		tide_log_error("out of memory");
		return TIDE_EXIT_BUG;
	}
	if ((rc = follow_schema(r, nsp)) != 0)
	{
		free(qn);
		free(qr);
		return rc;
	}
	proto_wbuf_reset(&r->sql);
	sql_put(&r->sql, "CREATE SEQUENCE ");
	sql_put(&r->sql, qn);
	sql_put(&r->sql, ".");
	sql_put(&r->sql, qr);
	snprintf(tail, sizeof(tail), " AS bigint INCREMENT BY %lld MINVALUE %lld MAXVALUE %lld%s",
			 (long long) (increment ? increment : 1), (long long) INT64_MIN, (long long) INT64_MAX,
			 cycle ? " CYCLE" : "");
	sql_put(&r->sql, tail);
	proto_put_u8(&r->sql, '\0');
	free(qn);
	free(qr);
	if (r->sql.err)
		return TIDE_EXIT_BUG;
	return follow_exec(r, (const char *) r->sql.data, "could not create a sequence on the replica");
}

/*
 * follow_create - create table nsp.name on the replica as the source's
 * RELATION describes it: its columns with their types, a primary key of
 * the identity columns (identity default or index), REPLICA IDENTITY FULL
 * when the source has it.  No NOT NULL but the key's, no defaults, no
 * other constraint or index: the replica only needs to hold the rows.
 */
static int
follow_create(apply_replica_t *r, const proto_relation_t *rel, const char *nsp, const char *name,
			  const char *partby)
{
	char		display[2 * PROTO_MAX_NAME + 2];
	char	   *qn = quote(r->conn, nsp, strlen(nsp));
	char	   *qt = quote(r->conn, name, strlen(name));
	char	  **types = calloc(rel->natts + 1, sizeof(char *));
	bool		key = false;
	int			rc = 0;

	snprintf(display, sizeof(display), "%s.%s", nsp, name);
	if (!qn || !qt || !types)
	{
		tide_log_error("out of memory");
		rc = TIDE_EXIT_BUG;
		goto done;
	}
	if ((rc = ensure_txn(r)) != 0)
		goto done;
	for (int i = 0; i < rel->natts && rc == 0; i++)
		rc = follow_type(r, &rel->cols[i], display, &types[i]);
	if (rc || (rc = follow_schema(r, nsp)) != 0)
		goto done;
	proto_wbuf_reset(&r->sql);
	sql_put(&r->sql, "CREATE TABLE ");
	sql_put(&r->sql, qn);
	sql_put(&r->sql, ".");
	sql_put(&r->sql, qt);
	sql_put(&r->sql, " (");
	for (int i = 0; i < rel->natts; i++)
	{
		char	   *qc = quote(r->conn, rel->cols[i].name.p, rel->cols[i].name.n);

		if (qc == NULL)
		{
			tide_log_error("out of memory");
			rc = TIDE_EXIT_BUG;
			goto done;
		}
		if (i)
			sql_put(&r->sql, ", ");
		sql_put(&r->sql, qc);
		sql_put(&r->sql, " ");
		sql_put(&r->sql, types[i]);
		free(qc);
		if (rel->cols[i].flags & PROTO_COL_KEY)
			key = true;
	}
	if (key && (rel->replident == PROTO_IDENT_DEFAULT || rel->replident == PROTO_IDENT_INDEX))
	{
		bool		first = true;

		sql_put(&r->sql, rel->natts ? ", PRIMARY KEY (" : "PRIMARY KEY (");
		for (int i = 0; i < rel->natts; i++)
		{
			char	   *qc;

			if (!(rel->cols[i].flags & PROTO_COL_KEY))
				continue;
			if ((qc = quote(r->conn, rel->cols[i].name.p, rel->cols[i].name.n)) == NULL)
			{
				tide_log_error("out of memory");
				rc = TIDE_EXIT_BUG;
				goto done;
			}
			if (!first)
				sql_put(&r->sql, ", ");
			sql_put(&r->sql, qc);
			free(qc);
			first = false;
		}
		sql_put(&r->sql, ")");
	}
	sql_put(&r->sql, ")");
	if (partby)
	{
		sql_put(&r->sql, " PARTITION BY ");
		sql_put(&r->sql, partby);
	}
	proto_put_u8(&r->sql, '\0');
	if (r->sql.err)
	{
		rc = TIDE_EXIT_BUG;
		goto done;
	}
	if ((rc = follow_exec(r, (const char *) r->sql.data, "could not create a table on the replica")) != 0)
		goto done;
	if (rel->replident == PROTO_IDENT_FULL)
	{
		proto_wbuf_reset(&r->sql);
		sql_put(&r->sql, "ALTER TABLE ");
		sql_put(&r->sql, qn);
		sql_put(&r->sql, ".");
		sql_put(&r->sql, qt);
		sql_put(&r->sql, " REPLICA IDENTITY FULL");
		proto_put_u8(&r->sql, '\0');
		if (r->sql.err)
			rc = TIDE_EXIT_BUG;
		else
			rc = follow_exec(r, (const char *) r->sql.data, "could not set the replica identity of a table on the replica");
	}
done:
	for (int i = 0; types && i < rel->natts; i++)
		free(types[i]);
	free(types);
	free(qn);
	free(qt);
	return rc;
}

/*
 * SQL text from the segments never reaches the replica unless it is made
 * of nothing that can run code: a partition bound is keywords, string
 * literals without backslashes (their meaning would hang on
 * standard_conforming_strings), unsigned numbers, parentheses and commas,
 * which is all pg_get_expr() prints for a bound (negative numbers come
 * quoted); a partition key is a strategy and plain column names of the
 * table.  Anything else (an expression, a collation or operator class in
 * the key) is left to the operator.
 */
static bool
bound_sql_ok(const char *s, size_t n)
{
	static const char *const words[] = {
		"FOR", "VALUES", "FROM", "TO", "IN", "WITH", "MODULUS", "REMAINDER",
		"DEFAULT", "MINVALUE", "MAXVALUE", "NULL", "TRUE", "FALSE", NULL
	};
	size_t		i = 0;

	if (n == 0)
		return false;
	while (i < n)
	{
		char		ch = s[i];

		if (ch == ' ' || ch == '(' || ch == ')' || ch == ',')
			i++;
		else if (ch == '\'')
		{
			for (i++;; i++)
			{
				if (i >= n || s[i] == '\\' || s[i] == '\0')
					return false;
				if (s[i] == '\'')
				{
					if (i + 1 < n && s[i + 1] == '\'')
						i++;
					else
						break;
				}
			}
			i++;
		}
		else if (ch >= '0' && ch <= '9')
		{
			while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == 'e' ||
							 s[i] == 'E' || ((s[i] == '+' || s[i] == '-') && (s[i - 1] == 'e' || s[i - 1] == 'E'))))
				i++;
		}
		else
		{
			size_t		w = 0;
			bool		known = false;

			while (i + w < n && ((s[i + w] >= 'A' && s[i + w] <= 'Z') || (s[i + w] >= 'a' && s[i + w] <= 'z')))
				w++;
			if (w == 0)
				return false;
			for (const char *const *k = words; *k && !known; k++)
				known = strlen(*k) == w && strncasecmp(*k, s + i, w) == 0;
			if (!known)
				return false;
			i += w;
		}
	}
	return true;
}

/* partkey_ok - "RANGE|LIST|HASH (col, ...)" over plain columns of rel */
static bool
partkey_ok(const proto_relation_t *rel, const char *s, size_t n)
{
	size_t		i = 0;
	size_t		w;

	for (w = 0; w < n && s[w] >= 'A' && s[w] <= 'Z'; w++)
		;
	if (!((w == 5 && strncmp(s, "RANGE", 5) == 0) || (w == 4 && strncmp(s, "LIST", 4) == 0) ||
		  (w == 4 && strncmp(s, "HASH", 4) == 0)))
		return false;
	i = w;
	if (i + 2 > n || s[i] != ' ' || s[i + 1] != '(' || s[n - 1] != ')')
		return false;
	i += 2;
	while (i < n - 1)
	{
		char		name[PROTO_MAX_NAME + 1];
		size_t		len = 0;
		bool		found = false;

		if (s[i] == '"')
		{
			for (i++;; i++)
			{
				if (i >= n - 1 || len >= PROTO_MAX_NAME)
					return false;
				if (s[i] == '"')
				{
					if (s[i + 1] != '"')
						break;
					i++;
				}
				name[len++] = s[i];
			}
			i++;
		}
		else
			while (i < n - 1 && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_') &&
				   len < PROTO_MAX_NAME)
				name[len++] = s[i++];
		if (len == 0)
			return false;
		for (int c = 0; c < rel->natts && !found; c++)
			found = rel->cols[c].name.n == len && memcmp(rel->cols[c].name.p, name, len) == 0;
		if (!found)
			return false;
		if (i < n - 1)
		{
			if (i + 2 > n - 1 || s[i] != ',' || s[i + 1] != ' ')
				return false;
			i += 2;
		}
	}
	return true;
}

/*
 * follow_partition - the replica lacks source partition rel (which carries
 * its parent and bound): create it as a partition of the same-named parent
 * with the source's bound, creating the parent first when it is missing and
 * is the top-most root (with the source's partition key).  Returns 1 to
 * decline (no bound, the replica's parent is not partitioned, or the
 * parent is a missing intermediate level): the caller routes rows to the
 * root as without --schema follow.
 */
static int
follow_partition(apply_replica_t *r, const proto_relation_t *rel, const char *nsp, const char *name)
{
	char	   *pnsp = cstr(rel->parent_nspname);
	char	   *pname = cstr(rel->parent_relname);
	char	   *bound = cstr(rel->bound);
	char	   *partkey = cstr(rel->partkey);
	char	   *qn = NULL;
	char	   *qt = NULL;
	char	   *qpn = NULL;
	char	   *qpt = NULL;
	const char *tpnsp;
	char		poid[16];
	char		pkind = 0;
	char		display[2 * PROTO_MAX_NAME + 2];
	int			rc;

	snprintf(display, sizeof(display), "%s.%s", nsp, name);
	if (!pnsp || !pname || !bound || !partkey)
	{
		tide_log_error("out of memory");
		rc = TIDE_EXIT_BUG;
		goto done;
	}
	tpnsp = map_schema(r, pnsp);
	if ((rc = lookup(r, tpnsp, pname, poid, &pkind)) > 1 || rc < 0)
		goto done;
	if (rc == 1)
	{
		/*
		 * Only the root's partition key is known to be over its columns;
		 * a root --tables leaves out is not created for its partition.
		 */
		if (rel->parent_relid != rel->root_relid || !table_wanted(r, pnsp, pname))
			goto done;
		if (!partkey_ok(rel, partkey, strlen(partkey)))
		{
			rc = fail_change(r);
			rlog(r, 'E', "cannot create partitioned table \"%s.%s\" on the replica: its partition key %s is more than plain columns",
				 tpnsp, pname, partkey);
			rlog(r, 'D', "the segments hold changes for its partition \"%s\", which the replica lacks too", display);
			txn_detail(r);
			rlog(r, 'H', "create the partitioned table on the replica (CREATE TABLE ... PARTITION BY %s), then run tide apply again", partkey);
			goto done;
		}
		if ((rc = follow_create(r, rel, tpnsp, pname, partkey)) != 0 ||
			(rc = lookup(r, tpnsp, pname, poid, &pkind)) != 0)
			goto done;
	}
	if (pkind != 'p')
	{
		rc = 1;
		goto done;
	}
	else
	{
		/* partitioned otherwise on the replica: its own partitions decide */
		const char *vals[1] = {poid};
		PGresult   *res = PQexecParams(r->conn, "SELECT pg_catalog.pg_get_partkeydef($1::pg_catalog.oid)",
									   1, NULL, vals, NULL, NULL, 0);

		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		{
			rc = report(r, res, "%s", "could not read the replica's catalog");
			PQclear(res);
			goto done;
		}
		rc = strcmp(PQgetvalue(res, 0, 0), partkey) == 0 ? 0 : 1;
		if (rc)
			tide_log_info("--schema follow: table \"%s.%s\" is partitioned by %s on the replica, by %s on the source: "
						  "rows of the source's new partition \"%s\" go to the replica's own partitions",
						  tpnsp, pname, PQgetvalue(res, 0, 0), partkey, display);
		PQclear(res);
		if (rc)
			goto done;
	}
	if (!bound_sql_ok(bound, strlen(bound)))
	{
		rc = fail_change(r);
		rlog(r, 'E', "cannot create partition \"%s\" on the replica: its bound is not one tide apply creates on its own", display);
		rlog(r, 'D', "the source's bound: %s", bound);
		txn_detail(r);
		rlog(r, 'H', "create the partition on the replica (CREATE TABLE ... PARTITION OF %s.%s %s), then run tide apply again",
			 tpnsp, pname, bound);
		goto done;
	}
	qn = quote(r->conn, nsp, strlen(nsp));
	qt = quote(r->conn, name, strlen(name));
	qpn = quote(r->conn, tpnsp, strlen(tpnsp));
	qpt = quote(r->conn, pname, strlen(pname));
	if (!qn || !qt || !qpn || !qpt)
	{
		tide_log_error("out of memory");
		rc = TIDE_EXIT_BUG;
		goto done;
	}
	if ((rc = ensure_txn(r)) != 0 || (rc = follow_schema(r, nsp)) != 0)
		goto done;
	proto_wbuf_reset(&r->sql);
	sql_put(&r->sql, "CREATE TABLE ");
	sql_put(&r->sql, qn);
	sql_put(&r->sql, ".");
	sql_put(&r->sql, qt);
	sql_put(&r->sql, " PARTITION OF ");
	sql_put(&r->sql, qpn);
	sql_put(&r->sql, ".");
	sql_put(&r->sql, qpt);
	sql_put(&r->sql, " ");
	sql_put(&r->sql, bound);
	proto_put_u8(&r->sql, '\0');
	if (r->sql.err)
	{
		rc = TIDE_EXIT_BUG;
		goto done;
	}

	/*
	 * The replica may cover the range already under other names (its
	 * operator created the day, or keeps a default partition holding rows
	 * of it): then its own partitions take the rows, as without --schema
	 * follow.  A savepoint keeps the failed CREATE from ending the batch.
	 */
	if ((rc = exec(r, "SAVEPOINT tide_follow", PGRES_COMMAND_OK, "could not create a partition on the replica")) != 0)
		goto done;
	tide_log_info("--schema follow: %s", (const char *) r->sql.data);
	{
		PGresult   *res = PQexecParams(r->conn, (const char *) r->sql.data, 0, NULL, NULL, NULL, NULL, 0);
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		if (PQresultStatus(res) == PGRES_COMMAND_OK)
			r->ddl_in_txn = true;
		else if (state && (strcmp(state, "42P17") == 0 || strcmp(state, "23514") == 0))
		{
			tide_log_info("--schema follow: not created: %s; rows of the source's partition \"%s\" go to the replica's own partitions of \"%s.%s\"",
						  PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY), display, tpnsp, pname);
			rc = 1;
		}
		else
			rc = report(r, res, "%s", "could not create a partition on the replica");
		PQclear(res);
		if (rc == 1 &&
			exec(r, "ROLLBACK TO SAVEPOINT tide_follow", PGRES_COMMAND_OK, "could not create a partition on the replica") != 0)
			rc = TIDE_EXIT_REPLICA;
		if (rc)
			goto done;
		if ((rc = exec(r, "RELEASE SAVEPOINT tide_follow", PGRES_COMMAND_OK, "could not create a partition on the replica")) != 0)
			goto done;
	}
	if (rel->replident == PROTO_IDENT_FULL)
	{
		proto_wbuf_reset(&r->sql);
		sql_put(&r->sql, "ALTER TABLE ");
		sql_put(&r->sql, qn);
		sql_put(&r->sql, ".");
		sql_put(&r->sql, qt);
		sql_put(&r->sql, " REPLICA IDENTITY FULL");
		proto_put_u8(&r->sql, '\0');
		if (r->sql.err)
			rc = TIDE_EXIT_BUG;
		else
			rc = follow_exec(r, (const char *) r->sql.data, "could not set the replica identity of a table on the replica");
	}
done:
	free(pnsp);
	free(pname);
	free(bound);
	free(partkey);
	free(qn);
	free(qt);
	free(qpn);
	free(qpt);
	return rc;
}

/*
 * follow_columns - add to the replica's table (oid) the columns of rel
 * that res (columns_sql) lacks.  A column goes to the top-most partitioned
 * table when the table is a partition: PostgreSQL adds columns to a whole
 * partition tree at once.  *added says whether any was.
 */
static int
follow_columns(apply_replica_t *r, const proto_relation_t *rel, const char *oid,
			   const char *display, PGresult *cols, bool *added)
{
	const char *vals[1] = {oid};
	PGresult   *res;
	char	   *qn = NULL;
	char	   *qt = NULL;
	char	   *type = NULL;
	int			rc = 0;

	*added = false;
	res = PQexecParams(r->conn,
					   "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c "
					   "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
					   "WHERE c.oid = COALESCE(pg_catalog.pg_partition_root($1::pg_catalog.oid::pg_catalog.regclass), "
					   "$1::pg_catalog.oid::pg_catalog.regclass)",
					   1, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
	{
		rc = report(r, res, "%s", "could not read the replica's catalog");
		goto done;
	}
	qn = quote(r->conn, PQgetvalue(res, 0, 0), strlen(PQgetvalue(res, 0, 0)));
	qt = quote(r->conn, PQgetvalue(res, 0, 1), strlen(PQgetvalue(res, 0, 1)));
	if (!qn || !qt)
	{
		tide_log_error("out of memory");
		rc = TIDE_EXIT_BUG;
		goto done;
	}
	if ((rc = ensure_txn(r)) != 0)
		goto done;
	for (int i = 0; i < rel->natts; i++)
	{
		const proto_column_t *c = &rel->cols[i];
		bool		have = false;
		char	   *qc;

		for (int j = 0; j < PQntuples(cols) && !have; j++)
			have = strlen(PQgetvalue(cols, j, 0)) == c->name.n &&
				memcmp(PQgetvalue(cols, j, 0), c->name.p, c->name.n) == 0;
		if (have)
			continue;
		if ((rc = follow_type(r, c, display, &type)) != 0)
			goto done;
		if ((qc = quote(r->conn, c->name.p, c->name.n)) == NULL)
		{
			tide_log_error("out of memory");
			rc = TIDE_EXIT_BUG;
			goto done;
		}
		proto_wbuf_reset(&r->sql);
		sql_put(&r->sql, "ALTER TABLE ");
		sql_put(&r->sql, qn);
		sql_put(&r->sql, ".");
		sql_put(&r->sql, qt);
		sql_put(&r->sql, " ADD COLUMN ");
		sql_put(&r->sql, qc);
		sql_put(&r->sql, " ");
		sql_put(&r->sql, type);
		proto_put_u8(&r->sql, '\0');
		free(qc);
		free(type);
		type = NULL;
		if (r->sql.err)
		{
			rc = TIDE_EXIT_BUG;
			goto done;
		}
		if ((rc = follow_exec(r, (const char *) r->sql.data, "could not add a column on the replica")) != 0)
			goto done;
		*added = true;
	}
done:
	PQclear(res);
	free(type);
	free(qn);
	free(qt);
	return rc;
}

/*
 * resolve - find the table a RELATION maps to on the replica and check its
 * columns.  A partition goes to the same-named leaf when the replica has
 * it, else to its root (rs->routed).  A column the replica lacks, or whose
 * type differs, is an error naming both shapes; columns only the replica
 * has keep their defaults.
 */
static int
resolve(apply_replica_t *r, apply_rel_t *rs, const proto_relation_t *rel)
{
	char	   *nsp = cstr(rel->nspname);
	char	   *name = cstr(rel->relname);
	char	   *rnsp = rel->flags & PROTO_REL_PARTITION ? cstr(rel->root_nspname) : NULL;
	char	   *rname = rel->flags & PROTO_REL_PARTITION ? cstr(rel->root_relname) : NULL;
	const char *tnsp;
	const char *tname;
	char		oid[16];
	char		dispbuf[2 * PROTO_MAX_NAME + 2];
	PGresult   *res = NULL;
	int			rc;

	rs->natts = rel->natts;
	rs->colq = calloc(rel->natts + 1, sizeof(char *));
	rs->coltypid = calloc(rel->natts + 1, sizeof(uint32_t));
	rs->eqop = calloc(rel->natts + 1, sizeof(char *));
	rs->eqcast = calloc(rel->natts + 1, sizeof(char *));
	if (!nsp || !name || (rel->flags & PROTO_REL_PARTITION && (!rnsp || !rname)) ||
		!rs->colq || !rs->coltypid || !rs->eqop || !rs->eqcast)
	{
		rc = TIDE_EXIT_BUG;
		tide_log_error("out of memory");
		goto done;
	}
	if (!table_wanted(r, nsp, name) && !(rnsp && table_wanted(r, rnsp, rname)))
	{
		rs->filtered = true;
		rs->resolved = true;
		rc = 0;
		goto done;
	}
	if ((rc = go_plain(r)) != 0)
		goto done;
	snprintf(dispbuf, sizeof(dispbuf), "%s.%s", nsp, name);
	if ((rs->srcname = strdup(dispbuf)) == NULL)
	{
		rc = TIDE_EXIT_BUG;
		tide_log_error("out of memory");
		goto done;
	}
	tnsp = map_schema(r, nsp);
	tname = name;
	rc = lookup(r, tnsp, tname, oid, &rs->relkind);
	if (rc == 1 && r->opts->schema_follow && (rel->flags & PROTO_REL_BOUND))
	{
		if ((rc = follow_partition(r, rel, tnsp, tname)) == 0)
			rc = lookup(r, tnsp, tname, oid, &rs->relkind);
		else if (rc != 1)
			goto done;
	}
	if (rc == 1 && rnsp)
	{
		tnsp = map_schema(r, rnsp);
		tname = rname;
		rc = lookup(r, tnsp, tname, oid, &rs->relkind);
		rs->routed = rc == 0;
	}
	if (rc == 1 && r->opts->schema_follow && !rnsp)
	{
		tnsp = map_schema(r, nsp);
		tname = name;
		if ((rc = follow_create(r, rel, tnsp, tname, NULL)) != 0)
			goto done;
		rc = lookup(r, tnsp, tname, oid, &rs->relkind);
	}
	if (rc == 1)
	{
		rc = fail_change(r);
		rlog(r, 'E', "table \"%s.%s\" does not exist on the replica", map_schema(r, nsp), name);
		if (rnsp)
			rlog(r, 'D', "it is a partition of \"%s.%s\", which does not exist on the replica either",
				 rnsp, rname);
		if (rnsp && r->opts->schema_follow && !(rel->flags & PROTO_REL_BOUND))
			rlog(r, 'D', "--schema follow creates a partition only when the segments carry its bound, "
				 "which a tide stream and plugin of this version write (decoder option partition-bounds)");
		rlog(r, 'D', "the segments hold changes for table \"%s.%s\" of the source", nsp, name);
		txn_detail(r);
		rlog(r, 'H', "create the table on the replica (or let tide apply --schema follow create it), map its schema with --map, "
			 "or leave it out with --tables");
		goto done;
	}
	if (rc)
		goto done;
	rs->oid = (uint32_t) strtoul(oid, NULL, 10);
	snprintf(dispbuf, sizeof(dispbuf), "%s.%s", tnsp, tname);
	rs->display = strdup(dispbuf);
	{
		char	   *qn = quote(r->conn, tnsp, strlen(tnsp));
		char	   *qt = quote(r->conn, tname, strlen(tname));

		if (qn && qt && (rs->target = malloc(strlen(qn) + strlen(qt) + 2)) != NULL)
			sprintf(rs->target, "%s.%s", qn, qt);
		free(qn);
		free(qt);
	}
	if (!rs->display || !rs->target)
	{
		rc = TIDE_EXIT_BUG;
		tide_log_error("out of memory");
		goto done;
	}
	{
		const char *vals[1] = {oid};

		res = PQexecParams(r->conn, columns_sql, 1, NULL, vals, NULL, NULL, 0);
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		rc = report(r, res, "%s", "could not read the replica's catalog");
		goto done;
	}
	if (r->opts->schema_follow)
	{
		bool		added;

		if ((rc = follow_columns(r, rel, oid, rs->display, res, &added)) != 0)
			goto done;
		if (added)
		{
			const char *vals[1] = {oid};

			PQclear(res);
			res = PQexecParams(r->conn, columns_sql, 1, NULL, vals, NULL, NULL, 0);
			if (PQresultStatus(res) != PGRES_TUPLES_OK)
			{
				rc = report(r, res, "%s", "could not read the replica's catalog");
				goto done;
			}
		}
	}
	for (int i = 0; i < rel->natts; i++)
	{
		const proto_column_t *c = &rel->cols[i];
		int			row = -1;

		for (int j = 0; j < PQntuples(res); j++)
		{
			const char *an = PQgetvalue(res, j, 0);

			if (strlen(an) == c->name.n && memcmp(an, c->name.p, c->name.n) == 0)
			{
				row = j;
				break;
			}
		}
		if (row < 0)
		{
			rc = fail_change(r);
			rlog(r, 'E', "column \"%.*s\" of table \"%s\" does not exist on the replica",
				 (int) c->name.n, c->name.p, rs->display);
			rlog(r, 'D', "the source's table \"%s.%s\" has column \"%.*s\" of type %.*s",
				 nsp, name, (int) c->name.n, c->name.p, (int) c->typname.n, c->typname.p);
			shapes(r, rs, rel, res, rs->srcname);
			txn_detail(r);
			rlog(r, 'H', "add the column on the replica (or let tide apply --schema follow add it), then run tide apply again");
			goto done;
		}
		if (!types_equal(PQgetvalue(res, row, 2), strlen(PQgetvalue(res, row, 2)),
						 c->typname.p, c->typname.n))
		{
			rc = fail_change(r);
			rlog(r, 'E', "column \"%.*s\" of table \"%s\" has type %s on the replica but %.*s on the source",
				 (int) c->name.n, c->name.p, rs->display, PQgetvalue(res, row, 2),
				 (int) c->typname.n, c->typname.p);
			shapes(r, rs, rel, res, rs->srcname);
			txn_detail(r);
			rlog(r, 'H', "make the replica's column type match the source's, then run tide apply again");
			goto done;
		}
		rs->colq[i] = quote(r->conn, c->name.p, c->name.n);
		rs->coltypid[i] = (uint32_t) strtoul(PQgetvalue(res, row, 1), NULL, 10);
		if (!PQgetisnull(res, row, 3))
		{
			const char *onsp = PQgetvalue(res, row, 3);
			bool		catalog = strcmp(onsp, "pg_catalog") == 0;
			bool		exact = PQgetvalue(res, row, 7)[0] == 't';
			bool		lsame = PQgetvalue(res, row, 6)[0] == 't';

			/*
			 * pg_catalog's operators can be chosen by name there: nobody
			 * but a superuser adds one.  In another schema (citext's), the
			 * operands are cast to the operator's own input types, so the
			 * exact match is the one operator of that signature.
			 */
			if (catalog || exact)
			{
				char	   *qnsp = quote(r->conn, onsp, strlen(onsp));
				const char *opr = PQgetvalue(res, row, 4);

				if (qnsp && strspn(opr, "+-*/<>=~!@#%^&|`?") == strlen(opr) &&
					(rs->eqop[i] = malloc(strlen(qnsp) + strlen(opr) + 16)) != NULL)
					sprintf(rs->eqop[i], "OPERATOR(%s.%s)", qnsp, opr);
				if (!catalog && !lsame &&
					(rs->eqcast[i] = malloc(strlen(PQgetvalue(res, row, 5)) + 3)) != NULL)
					sprintf(rs->eqcast[i], "::%s", PQgetvalue(res, row, 5));
				free(qnsp);
			}
		}
		if (c->flags & PROTO_COL_KEY)
			rs->has_key = true;
		if (!rs->colq[i])
		{
			rc = TIDE_EXIT_BUG;
			tide_log_error("out of memory");
			goto done;
		}
	}
	if ((rc = check_firing(r, rs, oid)) != 0)
		goto done;

	/*
	 * Set-based apply needs rows found by a key with an equality operator,
	 * no other unique index or exclusion constraint on the replica (a
	 * statement writing many rows checks those row by row and could trip
	 * over an order the source never had), and no trigger or rule firing
	 * (they would see the folded changes, not the source's).
	 */
	rs->coalesce = false;
	if (rs->has_key && rel->replident != PROTO_IDENT_FULL && !rs->firing)
	{
		const char *vals[1] = {oid};
		bool		keyeq = true;

		for (int i = 0; i < rel->natts; i++)
			if ((rel->cols[i].flags & PROTO_COL_KEY) && rs->eqop[i] == NULL)
				keyeq = false;
		PQclear(res);
		res = PQexecParams(r->conn,
						   "SELECT (SELECT pg_catalog.count(*) FROM pg_catalog.pg_index WHERE indrelid = $1 AND indisunique) "
						   "+ (SELECT pg_catalog.count(*) FROM pg_catalog.pg_constraint WHERE conrelid = $1 AND contype = 'x')",
						   1, NULL, vals, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			rc = report(r, res, "%s", "could not read the replica's catalog");
			goto done;
		}
		rs->coalesce = keyeq && atoi(PQgetvalue(res, 0, 0)) <= 1;
	}
	rs->resolved = true;
	rc = 0;
done:
	PQclear(res);
	free(nsp);
	free(name);
	free(rnsp);
	free(rname);
	return rc;
}

int
apply_rel_get(apply_replica_t *r, proto_relcat_entry_t *e, apply_rel_t **out)
{
	apply_rel_t **head = &r->rels[e->rel.relid % REL_BUCKETS];
	apply_rel_t *rs;
	int			rc;

	for (rs = *head; rs; rs = rs->next)
		if (rs->relid == e->rel.relid)
			break;
	if (rs && rs->generation == e->generation && rs->resolved)
	{
		*out = rs;
		return 0;
	}
	if (rs && rs->resolved && rs->body_len == e->body_len &&
		memcmp(rs->body, e->body, e->body_len) == 0)
	{
		/* the same description repeated (each segment carries its own) */
		rs->generation = e->generation;
		*out = rs;
		return 0;
	}
	if (rs == NULL)
	{
		if ((rs = calloc(1, sizeof(*rs))) == NULL)
		{
			tide_log_error("out of memory");
			return TIDE_EXIT_BUG;
		}
		rs->relid = e->rel.relid;
		rs->next = *head;
		*head = rs;
	}
	else
	{
		/* a redefined relation: its statements go with the old shape */
		if (r->copy_rel == rs && (rc = copy_end(r)) != 0)
			return rc;
		if ((rc = coal_flush(r, rs)) != 0)
			return rc;
		rel_clear(rs);
	}
	if ((rs->body = malloc(e->body_len ? e->body_len : 1)) == NULL)
	{
		tide_log_error("out of memory");
		return TIDE_EXIT_BUG;
	}
	memcpy(rs->body, e->body, e->body_len);
	rs->body_len = e->body_len;
	rs->generation = e->generation;
	if ((rc = resolve(r, rs, &e->rel)) != 0)
	{
		rel_clear(rs);
		return rc;
	}
	*out = rs;
	return 0;
}

/* ------------------------------------------------------------- changes */

bool
apply_replica_in_txn(apply_replica_t *r)
{
	return r->in_txn;
}


/* ------------------------------------------------------------- coalescing
 *
 * Within a replica transaction the changes of a qualifying table are not
 * sent one statement each: they are folded per key into the key's final
 * state (inserted, updated or deleted), and applied with a few set-based
 * statements when the batch commits or the table's set grows big: DELETE
 * ... USING a stage table for deleted keys, UPDATE ... FROM the stage for
 * updated rows, COPY for inserted ones.  This is what lets a catch-up beat
 * the built-in subscriber, which executes every change: hot rows (pgbench's
 * branches and tellers) are written once per batch, and the rest travel by
 * COPY and two joins.  Each key ends in the state the source committed; the
 * order between keys does not matter, because the table has no other
 * unique constraint (checked in resolve) and triggers and foreign keys do
 * not fire in the replica session.  A change folding cannot express (a key
 * update, an unchanged TOASTed column, a sequence no source could produce)
 * first applies the table's pending set, then takes the statement path, so
 * the order per key always holds.
 */
#define COAL_FALLBACK (-1)
#define COAL_MAX_ENTRIES 65536
#define COAL_MAX_ARENA ((size_t) 32 << 20)

typedef struct
{
	uint64_t	hash;
	size_t		key_off;		/* the key's wire bytes, in arena */
	uint32_t	key_len;
	size_t		row_off;		/* COPY line of the whole row (I, U) */
	uint32_t	row_len;
	size_t		kline_off;		/* COPY line of the key (D, del_first) */
	uint32_t	kline_len;
	char		op;				/* 'I', 'U', 'D', or 0: nothing to do */
	bool		del_first;		/* an 'I' of a key the replica has */
} coal_entry_t;

typedef struct apply_coal_s
{
	proto_wbuf_t arena;			/* owned */
	coal_entry_t *e;			/* owned */
	uint32_t	n;
	uint32_t	cap;
	uint32_t   *slots;			/* owned: entry index + 1, 0 = free */
	uint32_t	nslots;			/* power of two, > 2 n */
} apply_coal_t;

static void
coal_reset(apply_coal_t *co)
{
	proto_wbuf_reset(&co->arena);
	co->n = 0;
	if (co->slots)
		memset(co->slots, 0, co->nslots * sizeof(uint32_t));
}

static void
coal_free(apply_rel_t *rs)
{
	if (rs->co == NULL)
		return;
	proto_wbuf_free(&rs->co->arena);
	free(rs->co->e);
	free(rs->co->slots);
	free(rs->co);
	rs->co = NULL;
}

/* coal_keybytes - the key columns' wire bytes, length-prefixed, in keybuf */
static void
coal_keybytes(apply_replica_t *r, const proto_relation_t *rel, const proto_tuple_t *t)
{
	proto_wbuf_reset(&r->keybuf);
	for (int i = 0; i < rel->natts; i++)
	{
		const proto_datum_t *d = &t->cols[i];

		if (!(rel->cols[i].flags & PROTO_COL_KEY))
			continue;
		proto_put_u32(&r->keybuf, d->kind == PROTO_DATUM_VALUE ? d->len : UINT32_MAX);
		if (d->kind == PROTO_DATUM_VALUE)
			proto_put_bytes(&r->keybuf, d->data, d->len);
	}
}

static int
coal_grow(apply_coal_t *co)
{
	if (co->n == co->cap)
	{
		uint32_t	cap = co->cap ? co->cap * 2 : 1024;
		coal_entry_t *e = realloc(co->e, cap * sizeof(*e));

		if (e == NULL)
			return TIDE_ENOMEM;
		co->e = e;
		co->cap = cap;
	}
	if ((co->n + 1) * 2 > co->nslots)
	{
		uint32_t	ns = co->nslots ? co->nslots * 2 : 4096;
		uint32_t   *sl = calloc(ns, sizeof(uint32_t));

		if (sl == NULL)
			return TIDE_ENOMEM;
		for (uint32_t i = 0; i < co->n; i++)
		{
			uint32_t	j = (uint32_t) co->e[i].hash & (ns - 1);

			while (sl[j])
				j = (j + 1) & (ns - 1);
			sl[j] = i + 1;
		}
		free(co->slots);
		co->slots = sl;
		co->nslots = ns;
	}
	return 0;
}

/* coal_keep - copy r->line into the arena; *off and *len say where */
static void
coal_keep(apply_coal_t *co, apply_replica_t *r, size_t *off, uint32_t *len)
{
	*off = co->arena.len;
	*len = (uint32_t) r->line.len;
	proto_put_bytes(&co->arena, r->line.data, r->line.len);
}

static int	coal_flush(apply_replica_t *r, apply_rel_t *rs);

/*
 * coal_change - fold one change ('I' or 'U' with its new row, 'D' with its
 * old key) into the table's pending set.  Returns 0 when folded,
 * COAL_FALLBACK when the caller must take the statement path (the pending
 * set has been applied first), or an exit code.
 */
static int
coal_change(apply_replica_t *r, apply_rel_t *rs, const proto_relation_t *rel,
			char op, const proto_tuple_t *t)
{
	apply_coal_t *co;
	coal_entry_t *e = NULL;
	uint64_t	h;
	uint32_t	j;
	int			rc;

	if ((rc = render_line(r, rs, rel, t, op == 'D')) != 0)
	{
		if (rc != 1)
			return rc;
		/* a value only binary can carry: this table takes statements */
		rs->coalesce = false;
		return (rc = coal_flush(r, rs)) != 0 ? rc : COAL_FALLBACK;
	}
	if (rs->co == NULL)
	{
		if ((rs->co = calloc(1, sizeof(apply_coal_t))) == NULL)
			return report(r, NULL, "%s", "out of memory");
		proto_wbuf_init_heap(&rs->co->arena);
	}
	co = rs->co;
	if (coal_grow(co) != 0)
		return report(r, NULL, "%s", "out of memory");
	coal_keybytes(r, rel, t);
	h = XXH3_64bits(r->keybuf.data, r->keybuf.len);
	for (j = (uint32_t) h & (co->nslots - 1); co->slots[j]; j = (j + 1) & (co->nslots - 1))
	{
		coal_entry_t *c = &co->e[co->slots[j] - 1];

		if (c->hash == h && c->key_len == r->keybuf.len &&
			memcmp(co->arena.data + c->key_off, r->keybuf.data, c->key_len) == 0)
		{
			e = c;
			break;
		}
	}
	if (e == NULL)
	{
		e = &co->e[co->n];
		memset(e, 0, sizeof(*e));
		e->hash = h;
		e->key_off = co->arena.len;
		e->key_len = (uint32_t) r->keybuf.len;
		proto_put_bytes(&co->arena, r->keybuf.data, r->keybuf.len);
		co->slots[j] = ++co->n;
		e->op = op;
		if (op == 'D')
			coal_keep(co, r, &e->kline_off, &e->kline_len);
		else
			coal_keep(co, r, &e->row_off, &e->row_len);
	}
	else
	{
		char		was = e->op;

		r->counts.coalesced++;
		if (op == 'U' && (was == 'I' || was == 'U'))
			coal_keep(co, r, &e->row_off, &e->row_len);	/* the newer image */
		else if (op == 'D' && was == 'U')
		{
			e->op = 'D';
			coal_keep(co, r, &e->kline_off, &e->kline_len);
		}
		else if (op == 'D' && was == 'I')
		{
			/* inserted in this batch and gone again: the replica never saw it,
			 * unless it replaced a row the replica has */
			e->op = e->del_first ? 'D' : 0;
		}
		else if (op == 'I' && was == 'D')
		{
			e->op = 'I';
			e->del_first = true;
			coal_keep(co, r, &e->row_off, &e->row_len);
		}
		else if (op == 'I' && was == 0)
		{
			e->op = 'I';
			coal_keep(co, r, &e->row_off, &e->row_len);
		}
		else
		{
			/* no source does this: let the statements say what is wrong */
			r->counts.coalesced--;
			return (rc = coal_flush(r, rs)) != 0 ? rc : COAL_FALLBACK;
		}
	}
	if (co->arena.err)
		return report(r, NULL, "%s", "out of memory");
	if (co->n >= COAL_MAX_ENTRIES || co->arena.len >= COAL_MAX_ARENA)
		return coal_flush(r, rs);
	return 0;
}

/*
 * coal_append - an insert into a table that is not folded per key (no key,
 * or other unique indexes): it joins the table's pending COPY in arrival
 * order, flushed before any other change of the table goes out.  Same
 * returns as coal_change.
 */
static int
coal_append(apply_replica_t *r, apply_rel_t *rs, const proto_relation_t *rel,
			const proto_tuple_t *t)
{
	apply_coal_t *co;
	coal_entry_t *e;
	int			rc;

	if ((rc = render_line(r, rs, rel, t, false)) != 0)
	{
		if (rc != 1)
			return rc;
		rs->no_copy = true;		/* statements from now on */
		return (rc = coal_flush(r, rs)) != 0 ? rc : COAL_FALLBACK;
	}
	if (rs->co == NULL)
	{
		if ((rs->co = calloc(1, sizeof(apply_coal_t))) == NULL)
			return report(r, NULL, "%s", "out of memory");
		proto_wbuf_init_heap(&rs->co->arena);
	}
	co = rs->co;
	if (coal_grow(co) != 0)
		return report(r, NULL, "%s", "out of memory");
	e = &co->e[co->n++];
	memset(e, 0, sizeof(*e));
	e->op = 'I';
	coal_keep(co, r, &e->row_off, &e->row_len);
	if (co->arena.err)
		return report(r, NULL, "%s", "out of memory");
	if (co->n >= COAL_MAX_ENTRIES || co->arena.len >= COAL_MAX_ARENA)
		return coal_flush(r, rs);
	return 0;
}

/* coal_copy - COPY the lines of the selected entries into sql's table */
static int
coal_copy(apply_replica_t *r, apply_rel_t *rs, const char *sql, char op, bool klines)
{
	apply_coal_t *co = rs->co;
	PGresult   *res = PQexec(r->conn, sql);
	int			rc = 0;

	if (PQresultStatus(res) != PGRES_COPY_IN)
	{
		rc = report(r, res, "could not copy rows for table \"%s\"", rs->display);
		PQclear(res);
		return rc;
	}
	PQclear(res);
	proto_wbuf_reset(&r->copybuf);
	for (uint32_t i = 0; i < co->n && rc == 0; i++)
	{
		coal_entry_t *e = &co->e[i];

		if (klines ? !(e->op == 'D' || (e->op == 'I' && e->del_first)) : e->op != op)
			continue;
		if (klines)
			proto_put_bytes(&r->copybuf, co->arena.data + e->kline_off, e->kline_len);
		else
			proto_put_bytes(&r->copybuf, co->arena.data + e->row_off, e->row_len);
		if (r->copybuf.len >= COPY_CHUNK)
		{
			if (PQputCopyData(r->conn, (const char *) r->copybuf.data, (int) r->copybuf.len) != 1)
				rc = report(r, NULL, "could not copy rows for table \"%s\"", rs->display);
			r->copybuf.len = 0;
		}
	}
	if (rc == 0 && r->copybuf.len > 0 &&
		PQputCopyData(r->conn, (const char *) r->copybuf.data, (int) r->copybuf.len) != 1)
		rc = report(r, NULL, "could not copy rows for table \"%s\"", rs->display);
	r->copybuf.len = 0;
	if (PQputCopyEnd(r->conn, rc ? "tide apply failed" : NULL) != 1 && rc == 0)
		rc = report(r, NULL, "could not copy rows for table \"%s\"", rs->display);
	while ((res = PQgetResult(r->conn)) != NULL)
	{
		if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0)
			rc = report(r, res, "could not copy rows into table \"%s\"", rs->display);
		PQclear(res);
	}
	return rc;
}

/* coal_exec - a set-based statement; *n receives the rows it touched */
static int
coal_exec(apply_replica_t *r, apply_rel_t *rs, const char *what, uint64_t *n)
{
	PGresult   *res = PQexec(r->conn, (const char *) r->sql.data);

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		char		msg[1100];
		int			rc;

		snprintf(msg, sizeof(msg), "could not apply %s to table \"%s\"", what, rs->display);
		rc = report(r, res, "%s", msg);
		PQclear(res);
		return rc;
	}
	if (n)
		*n = strtoull(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

/*
 * coal_settle - after a set-based DELETE or UPDATE that expected to touch
 * `expected` rows and touched `done`: a key the replica lacks is a
 * divergence (invariant 7; the strict re-application names it), unless
 * --on-conflict says the replica was loaded after the slot; then empty
 * the stage table for the next use.
 */
static int
coal_settle(apply_replica_t *r, apply_rel_t *rs, const char *stage,
			const char *what, uint64_t expected, uint64_t done)
{
	if (done < expected && r->opts->on_conflict != APPLY_CONFLICT_ERROR)
		r->counts.not_found += expected - done;
	else if (done != expected)
	{
		fail_change(r);
		rlog(r, 'E', "%s of table \"%s\" matched %llu rows on the replica where the source changed %llu",
			 what, rs->display, (unsigned long long) done, (unsigned long long) expected);
		return TIDE_EXIT_REPLICA;
	}
	r->counts.set_rows += done;
	proto_wbuf_reset(&r->sql);
	sql_put(&r->sql, "TRUNCATE ");
	sql_put(&r->sql, stage);
	proto_put_u8(&r->sql, '\0');
	return coal_exec(r, rs, "TRUNCATE of a stage table", NULL);
}

/* coal_where - the key columns of t and s equal, by the key's operators */
static void
coal_where(apply_replica_t *r, apply_rel_t *rs, const proto_relation_t *rel)
{
	bool		first = true;

	for (int i = 0; i < rel->natts; i++)
		if (rel->cols[i].flags & PROTO_COL_KEY)
		{
			char		left[PROTO_MAX_NAME * 2 + 8];
			char		right[PROTO_MAX_NAME * 2 + 8];

			snprintf(left, sizeof(left), "t.%s", rs->colq[i]);
			snprintf(right, sizeof(right), "s.%s", rs->colq[i]);
			sql_put(&r->sql, first ? " WHERE " : " AND ");
			put_eq(r, rs, i, left, right);
			first = false;
		}
}

/* coal_flush - apply a table's pending set: deletes, updates, inserts */
static int
coal_flush(apply_replica_t *r, apply_rel_t *rs)
{
	apply_coal_t *co = rs->co;
	const proto_relation_t *rel;
	proto_relation_t relbuf;
	proto_column_t cols[PROTO_MAX_COLUMNS];
	proto_rbuf_t rb;
	uint64_t	ndel = 0;
	uint64_t	nu = 0;
	uint64_t	ni = 0;
	uint64_t	done;
	char		stage[64];
	int			rc;

	if (co == NULL || co->n == 0)
		return 0;
	if ((rc = go_plain(r)) != 0 || (rc = gate(r)) != 0)
		return rc;
	/* the relation's description: the body the table was resolved from */
	proto_rbuf_init(&rb, rs->body, rs->body_len);
	if (proto_read_relation(&rb, &relbuf, cols, PROTO_MAX_COLUMNS) != 0)
		return report(r, NULL, "%s", "internal error: relation description unreadable");
	rel = &relbuf;
	for (uint32_t i = 0; i < co->n; i++)
	{
		ndel += co->e[i].op == 'D' || (co->e[i].op == 'I' && co->e[i].del_first);
		nu += co->e[i].op == 'U';
		ni += co->e[i].op == 'I';
	}
	snprintf(stage, sizeof(stage), "pg_temp.tide_stage_%u", rs->relid);
	if ((ndel || nu) && !rs->stage_ok)
	{
		/* made anew for each description of the table (its columns) */
		proto_wbuf_reset(&r->sql);
		sql_put(&r->sql, "DROP TABLE IF EXISTS ");
		sql_put(&r->sql, stage);
		proto_put_u8(&r->sql, '\0');
		if ((rc = coal_exec(r, rs, "a stage table", NULL)) != 0)
			return rc;
		proto_wbuf_reset(&r->sql);
		sql_put(&r->sql, "CREATE TEMP TABLE ");
		sql_put(&r->sql, stage + 8);	/* no schema in CREATE TEMP */
		sql_put(&r->sql, " ON COMMIT DELETE ROWS AS SELECT ");
		for (int i = 0; i < rs->natts; i++)
		{
			sql_put(&r->sql, i ? ", " : "");
			sql_put(&r->sql, rs->colq[i]);
		}
		sql_put(&r->sql, " FROM ");
		sql_put(&r->sql, rs->target);
		sql_put(&r->sql, " WITH NO DATA");
		proto_put_u8(&r->sql, '\0');
		if ((rc = coal_exec(r, rs, "a stage table", NULL)) != 0)
			return rc;
		rs->stage_ok = true;
	}
	if (ndel)
	{
		bool		first = true;

		proto_wbuf_reset(&r->sql);
		sql_put(&r->sql, "COPY ");
		sql_put(&r->sql, stage);
		sql_put(&r->sql, " (");
		for (int i = 0; i < rel->natts; i++)
			if (rel->cols[i].flags & PROTO_COL_KEY)
			{
				sql_put(&r->sql, first ? "" : ", ");
				sql_put(&r->sql, rs->colq[i]);
				first = false;
			}
		sql_put(&r->sql, ") FROM STDIN");
		proto_put_u8(&r->sql, '\0');
		if ((rc = coal_copy(r, rs, (const char *) r->sql.data, 'D', true)) != 0)
			return rc;
		proto_wbuf_reset(&r->sql);
		sql_put(&r->sql, "DELETE FROM ");
		sql_put(&r->sql, rs->target);
		sql_put(&r->sql, " t USING ");
		sql_put(&r->sql, stage);
		sql_put(&r->sql, " s");
		coal_where(r, rs, rel);
		proto_put_u8(&r->sql, '\0');
		if ((rc = coal_exec(r, rs, "DELETE", &done)) != 0 ||
			(rc = coal_settle(r, rs, stage, "DELETE", ndel, done)) != 0)
			return rc;
	}
	if (nu)
	{
		bool		first = true;

		proto_wbuf_reset(&r->sql);
		sql_put(&r->sql, "COPY ");
		sql_put(&r->sql, stage);
		sql_put(&r->sql, " FROM STDIN");
		proto_put_u8(&r->sql, '\0');
		if ((rc = coal_copy(r, rs, (const char *) r->sql.data, 'U', false)) != 0)
			return rc;
		proto_wbuf_reset(&r->sql);
		sql_put(&r->sql, "UPDATE ");
		sql_put(&r->sql, rs->target);
		sql_put(&r->sql, " t SET ");
		for (int i = 0; i < rel->natts; i++)
			if (!(rel->cols[i].flags & PROTO_COL_KEY))
			{
				sql_put(&r->sql, first ? "" : ", ");
				sql_put(&r->sql, rs->colq[i]);
				sql_put(&r->sql, " = s.");
				sql_put(&r->sql, rs->colq[i]);
				first = false;
			}
		sql_put(&r->sql, " FROM ");
		sql_put(&r->sql, stage);
		sql_put(&r->sql, " s");
		coal_where(r, rs, rel);
		proto_put_u8(&r->sql, '\0');
		done = nu;
		/* a table of key columns only has nothing to set: rows are there */
		if ((!first && (rc = coal_exec(r, rs, "UPDATE", &done)) != 0) ||
			(rc = coal_settle(r, rs, stage, "UPDATE", nu, done)) != 0)
			return rc;
	}
	if (ni)
	{
		proto_wbuf_reset(&r->sql);
		sql_put(&r->sql, "COPY ");
		put_target_cols(r, rs);
		sql_put(&r->sql, " FROM STDIN");
		proto_put_u8(&r->sql, '\0');
		if ((rc = coal_copy(r, rs, (const char *) r->sql.data, 'I', false)) != 0)
			return rc;
		r->counts.copied += ni;
		r->counts.set_rows += ni;
	}
	coal_reset(co);
	return 0;
}

/* coal_flush_all - every table's pending set (before commit, TRUNCATE) */
static int
coal_flush_all(apply_replica_t *r)
{
	for (int b = 0; b < REL_BUCKETS; b++)
		for (apply_rel_t *rs = r->rels[b]; rs; rs = rs->next)
		{
			int			rc;

			if (rs->co && rs->co->n && (rc = coal_flush(r, rs)) != 0)
				return rc;
		}
	return 0;
}

/* coal_discard - the replica transaction is gone: so are pending sets */
static void
coal_discard(apply_replica_t *r)
{
	for (int b = 0; b < REL_BUCKETS; b++)
		for (apply_rel_t *rs = r->rels[b]; rs; rs = rs->next)
		{
			if (rs->co)
				coal_reset(rs->co);
			rs->stage_ok = false;	/* it may have been created in it */
		}
}

static int
insert_stmt(apply_replica_t *r, apply_rel_t *rs, const proto_relation_t *rel,
			const proto_tuple_t *t)
{
	int			rc;

	if (rs->ins_name[0] == '\0')
	{
		proto_wbuf_reset(&r->sql);
		sql_put(&r->sql, "INSERT INTO ");
		put_target_cols(r, rs);

		/*
		 * The source's value of a GENERATED ALWAYS identity column is the
		 * row's (COPY takes it as it is; a plain INSERT would refuse it).
		 */
		sql_put(&r->sql, " OVERRIDING SYSTEM VALUE VALUES (");
		for (int i = 0; i < rs->natts; i++)
		{
			if (i)
				sql_put(&r->sql, ", ");
			put_param(r, rs, i, i + 1);
		}
		sql_put(&r->sql, ")");
		if (r->opts->on_conflict == APPLY_CONFLICT_SKIP || !rs->has_key)
		{
			if (r->opts->on_conflict != APPLY_CONFLICT_ERROR)
				sql_put(&r->sql, " ON CONFLICT DO NOTHING");
		}
		else if (r->opts->on_conflict == APPLY_CONFLICT_UPDATE)
		{
			bool		first = true;

			/* the source's identity columns name the unique key to match */
			sql_put(&r->sql, " ON CONFLICT (");
			for (int i = 0; i < rs->natts; i++)
				if (rel->cols[i].flags & PROTO_COL_KEY)
				{
					sql_put(&r->sql, first ? "" : ", ");
					sql_put(&r->sql, rs->colq[i]);
					first = false;
				}
			sql_put(&r->sql, ") DO UPDATE SET ");
			first = true;
			for (int i = 0; i < rs->natts; i++)
			{
				sql_put(&r->sql, first ? "" : ", ");
				sql_put(&r->sql, rs->colq[i]);
				sql_put(&r->sql, " = EXCLUDED.");
				sql_put(&r->sql, rs->colq[i]);
				first = false;
			}
		}
		if ((rc = prepare(r, rs, rs->ins_name, rs->natts)) != 0)
			return rc;
	}
	params_reset(r);
	for (int i = 0; i < rel->natts; i++)
		if ((rc = params_add(r, rs, &rel->cols[i], &t->cols[i])) != 0)
			return rc;
	params_done(r);
	return send_prepared(r, rs->ins_name, 'I', rs);
}

int
apply_insert(apply_replica_t *r, apply_rel_t *rs, const proto_relation_t *rel,
			 const proto_tuple_t *t, bool run)
{
	int			rc;

	if ((rc = ensure_txn(r)) != 0)
		return rc;
	r->counts.inserts++;
	if (r->strict)
	{
		/* one statement, answered before the next: a failure names it */
		if ((rc = insert_stmt(r, rs, rel, t)) == 0 && r->last_rows == 0)
			r->counts.conflicts++;
		return rc;
	}
	if (r->opts->on_conflict == APPLY_CONFLICT_ERROR && !rs->no_copy &&
		(rc = rs->coalesce ? coal_change(r, rs, rel, 'I', t) :
		 coal_append(r, rs, rel, t)) != COAL_FALLBACK)
		return rc;
	/* COPY cannot step over a conflict: statements then */
	if (!rs->no_copy && r->opts->on_conflict == APPLY_CONFLICT_ERROR &&
		(r->copy_rel == rs || run))
	{
		if (r->copy_rel != rs && (rc = copy_begin(r, rs)) != 0)
			return rc;
		if ((rc = copy_row(r, rs, rel, t)) == 0)
		{
			r->counts.copied++;
			return 0;
		}
		if (rc != 1)
			return rc;
		/* a value only binary can carry: statements from now on */
		rs->no_copy = true;
	}
	return insert_stmt(r, rs, rel, t);
}

/* no_identity - UPDATE/DELETE on a table without a replica identity */
static int
no_identity(apply_replica_t *r, apply_rel_t *rs, const char *what)
{
	fail_change(r);
	rlog(r, 'E', "cannot apply %s to table \"%s\": it has no replica identity", what, rs->display);
	rlog(r, 'D', "without a primary key, a REPLICA IDENTITY USING INDEX or REPLICA IDENTITY FULL on the source, the changed row cannot be found");
	txn_detail(r);
	rlog(r, 'H', "give the source table a replica identity (ALTER TABLE ... REPLICA IDENTITY FULL, a primary key, or REPLICA IDENTITY USING INDEX); "
		 "changes streamed before that cannot be replayed: leave the table out with --tables, or rebuild the replica from a new base");
	return TIDE_EXIT_REPLICA;
}

/*
 * key_text - "(k1, k2)=(v1, v2)" of the identity columns (every column for
 * identity FULL) of t, values as text and cut at 64 bytes, into b.
 */
static void
key_text(proto_wbuf_t *b, const proto_relation_t *rel, const proto_tuple_t *t, bool full)
{
	proto_wbuf_t v;
	bool		first = true;

	proto_wbuf_init_heap(&v);
	proto_wbuf_reset(b);
	sql_put(b, "(");
	for (int i = 0; i < rel->natts; i++)
		if (full || (rel->cols[i].flags & PROTO_COL_KEY))
		{
			sql_put(b, first ? "" : ", ");
			proto_put_bytes(b, rel->cols[i].name.p, rel->cols[i].name.n);
			first = false;
		}
	sql_put(b, ")=(");
	first = true;
	for (int i = 0; i < rel->natts; i++)
	{
		const proto_datum_t *d = &t->cols[i];

		if (!(full || (rel->cols[i].flags & PROTO_COL_KEY)))
			continue;
		sql_put(b, first ? "" : ", ");
		first = false;
		if (d->kind == PROTO_DATUM_NULL)
			sql_put(b, "null");
		else if (d->kind != PROTO_DATUM_VALUE)
			sql_put(b, "(unchanged)");
		else
		{
			proto_wbuf_reset(&v);
			proto_value_text(&v, rel->cols[i].encoding, rel->cols[i].basetypoid, d->data, d->len);
			proto_put_bytes(b, v.data, v.len > 64 ? 64 : v.len);
			if (v.len > 64)
				sql_put(b, "...");
		}
	}
	sql_put(b, ")");
	proto_put_u8(b, '\0');
	proto_wbuf_free(&v);
}

/*
 * matched - after a strict UPDATE or DELETE: exactly one row, or a
 * divergence (invariant 7), unless --on-conflict says the replica was
 * loaded after the slot and the row may be gone already.
 */
static int
matched(apply_replica_t *r, apply_rel_t *rs, const proto_relation_t *rel, char kind,
		const proto_tuple_t *key, bool full)
{
	proto_wbuf_t b;

	if (r->last_rows == 1)
		return 0;
	if (r->last_rows == 0 && r->opts->on_conflict != APPLY_CONFLICT_ERROR)
	{
		r->counts.not_found++;
		return 0;
	}
	fail_change(r);
	if (r->last_rows == 0)
		rlog(r, 'E', "%s of table \"%s\" matched no row on the replica", kind_name(kind), rs->display);
	else
		rlog(r, 'E', "%s of table \"%s\" matched %lld rows on the replica where the source changed one",
			 kind_name(kind), rs->display, (long long) r->last_rows);
	proto_wbuf_init_heap(&b);
	key_text(&b, rel, key, full);
	rlog(r, 'D', "the source %s the row %s", kind == 'U' ? "updated" : "deleted",
		 b.err ? "?" : (const char *) b.data);
	proto_wbuf_free(&b);
	txn_detail(r);
	rlog(r, 'H', "the replica differs from the source: put the row back as the source had it before this transaction, "
		 "or rebuild the replica from a base (tide verify lists the differences); a replica loaded from a dump taken "
		 "after the slot was created needs --on-conflict skip or update until it has passed the dump's point");
	return TIDE_EXIT_REPLICA;
}

int
apply_update(apply_replica_t *r, apply_rel_t *rs, const proto_relation_t *rel,
			 const proto_update_t *u)
{
	uint8_t		mask[2 * PROTO_MAX_COLUMNS];
	const proto_tuple_t *key = u->old_kind != PROTO_OLD_NONE ? &u->oldtup : &u->newtup;
	bool		full = rel->replident == PROTO_IDENT_FULL;
	bool		any_set = false;
	const char *name;
	int			rc;

	if (!rs->has_key)
		return no_identity(r, rs, "UPDATE");
	if ((rc = ensure_txn(r)) != 0)
		return rc;
	r->counts.updates++;
	memset(mask, 0, (size_t) rel->natts * 2);
	for (int i = 0; i < rel->natts; i++)
	{
		mask[i] = u->newtup.cols[i].kind != PROTO_DATUM_UNCHANGED;
		any_set |= mask[i];
		if (rel->cols[i].flags & PROTO_COL_KEY)
		{
			if (key->cols[i].kind == PROTO_DATUM_UNCHANGED)
			{
				r->failed = true;
				r->fail_kind = APPLY_FAIL_OTHER;
				rlog(r, 'E', "cannot apply UPDATE to table \"%s\": key column \"%.*s\" was not sent",
					 rs->display, (int) rel->cols[i].name.n, rel->cols[i].name.p);
				return TIDE_EXIT_CORRUPT;
			}
			mask[rel->natts + i] = 1;
		}
	}
	if (!any_set)
		return 0;
	if (!rs->coalesce && (rc = coal_flush(r, rs)) != 0)
		return rc;				/* its buffered inserts go first */
	if (rs->coalesce && !r->strict)
	{
		/* fold only a whole new row whose key stays the same */
		bool		foldable = true;

		for (int i = 0; i < rel->natts && foldable; i++)
		{
			const proto_datum_t *n = &u->newtup.cols[i];
			const proto_datum_t *o = &key->cols[i];

			if (n->kind == PROTO_DATUM_UNCHANGED)
				foldable = false;
			else if ((rel->cols[i].flags & PROTO_COL_KEY) && key != &u->newtup &&
					 (n->kind != o->kind || n->len != o->len ||
					  (n->len && memcmp(n->data, o->data, n->len) != 0)))
				foldable = false;
		}
		if (foldable)
		{
			if ((rc = coal_change(r, rs, rel, 'U', &u->newtup)) != COAL_FALLBACK)
				return rc;
		}
		else if ((rc = coal_flush(r, rs)) != 0)
			return rc;
	}
	if ((rc = find_stmt(r, rs, 'U', mask, full, &name)) != 0)
		return rc;
	params_reset(r);
	for (int i = 0; i < rel->natts; i++)
		if (mask[i] && (rc = params_add(r, rs, &rel->cols[i], &u->newtup.cols[i])) != 0)
			return rc;
	for (int i = 0; i < rel->natts; i++)
		if (mask[rel->natts + i] && (rc = params_add(r, rs, &rel->cols[i], &key->cols[i])) != 0)
			return rc;
	params_done(r);
	if ((rc = send_prepared(r, name, 'U', rs)) != 0 || !r->strict)
		return rc;
	return matched(r, rs, rel, 'U', key, full);
}

int
apply_delete(apply_replica_t *r, apply_rel_t *rs, const proto_relation_t *rel,
			 const proto_delete_t *d)
{
	uint8_t		mask[2 * PROTO_MAX_COLUMNS];
	bool		full = rel->replident == PROTO_IDENT_FULL;
	const char *name;
	int			rc;

	/* invariant 7: a DELETE that does not say which row went stops apply */
	if (!rs->has_key || d->old_kind == PROTO_OLD_NONE)
		return no_identity(r, rs, "DELETE");
	if ((rc = ensure_txn(r)) != 0)
		return rc;
	r->counts.deletes++;
	if (rs->coalesce && !r->strict &&
		(rc = coal_change(r, rs, rel, 'D', &d->oldtup)) != COAL_FALLBACK)
		return rc;
	if (!rs->coalesce && (rc = coal_flush(r, rs)) != 0)
		return rc;				/* its buffered inserts go first */
	memset(mask, 0, (size_t) rel->natts * 2);
	for (int i = 0; i < rel->natts; i++)
		mask[rel->natts + i] = (rel->cols[i].flags & PROTO_COL_KEY) != 0;
	if ((rc = find_stmt(r, rs, 'D', mask, full, &name)) != 0)
		return rc;
	params_reset(r);
	for (int i = 0; i < rel->natts; i++)
		if (mask[rel->natts + i] && (rc = params_add(r, rs, &rel->cols[i], &d->oldtup.cols[i])) != 0)
			return rc;
	params_done(r);
	if ((rc = send_prepared(r, name, 'D', rs)) != 0 || !r->strict)
		return rc;
	return matched(r, rs, rel, 'D', &d->oldtup, full);
}

/*
 * A foreign key on the replica that references a table the TRUNCATE
 * empties (or one of its partitions) from a table it does not empty:
 * PostgreSQL refuses such a TRUNCATE without CASCADE, whatever
 * session_replication_role says.  $1 is the emptied tables' OIDs.
 */
static const char *const truncate_fk_sql =
"WITH t AS (SELECT pg_catalog.unnest($1::pg_catalog.oid[]) AS relid),"
" s AS (SELECT relid FROM t"
"       UNION SELECT p.relid FROM t, pg_catalog.pg_partition_tree(t.relid::pg_catalog.regclass) p) "
"SELECT c.conname, c.conrelid::pg_catalog.regclass::pg_catalog.text,"
"       c.confrelid::pg_catalog.regclass::pg_catalog.text "
"FROM pg_catalog.pg_constraint c "
"WHERE c.contype = 'f' AND c.confrelid IN (SELECT relid FROM s) AND c.conrelid NOT IN (SELECT relid FROM s) "
"ORDER BY 2, 1 LIMIT 1";

/*
 * apply_truncate - empty exactly the tables the source's TRUNCATE listed
 * (it lists every table its CASCADE emptied, and only tables with storage:
 * leaves, never a partitioned root), as the built-in apply worker does:
 * never with CASCADE, never more.  Invariant 7: a TRUNCATE that would
 * remove rows the source kept stops instead: a source partition the
 * replica lacks (its rows sit in a partition that also holds others), or a
 * replica foreign key from a table the source did not empty.
 */
int
apply_truncate(apply_replica_t *r, apply_rel_t **rels, int n, uint8_t flags)
{
	int			rc;
	bool		first = true;

	if ((rc = ensure_txn(r)) != 0 || (rc = coal_flush_all(r)) != 0 ||
		(rc = go_plain(r)) != 0 || (rc = gate(r)) != 0)
		return rc;
	r->counts.truncates++;
	for (int i = 0; i < n; i++)
		if (rels[i]->routed)
		{
			fail_change(r);
			rlog(r, 'E', "cannot apply TRUNCATE of table \"%s\": the replica has no such partition, its rows are in \"%s\"",
				 rels[i]->srcname, rels[i]->display);
			rlog(r, 'D', "the source emptied its partition \"%s\" only; the replica is partitioned differently and "
				 "\"%s\" holds rows of other source partitions too, which a TRUNCATE there would remove",
				 rels[i]->srcname, rels[i]->display);
			txn_detail(r);
			rlog(r, 'H', "create the same partitions on the replica as on the source (\"%s\" as a partition of \"%s\"), "
				 "or leave the table out with --tables; then run tide apply again", rels[i]->srcname, rels[i]->display);
			return TIDE_EXIT_REPLICA;
		}

	/* the tables' OIDs, once each: a foreign key from outside them stops us */
	proto_wbuf_reset(&r->tmp);
	sql_put(&r->tmp, "{");
	for (int i = 0; i < n; i++)
	{
		char		num[16];

		snprintf(num, sizeof(num), "%s%u", i ? "," : "", rels[i]->oid);
		sql_put(&r->tmp, num);
	}
	sql_put(&r->tmp, "}");
	proto_put_u8(&r->tmp, '\0');
	if (r->tmp.err)
		return TIDE_EXIT_BUG;
	{
		const char *vals[1] = {(const char *) r->tmp.data};
		PGresult   *res = PQexecParams(r->conn, truncate_fk_sql, 1, NULL, vals, NULL, NULL, 0);

		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			rc = report(r, res, "%s", "could not read the replica's catalog");
			PQclear(res);
			return rc;
		}
		if (PQntuples(res) > 0)
		{
			fail_change(r);
			rlog(r, 'E', "cannot apply TRUNCATE of table \"%s\": table \"%s\" on the replica references it (foreign key \"%s\")",
				 PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 0));
			rlog(r, 'D', "the source's TRUNCATE emptied only the tables it lists (with CASCADE it lists every table it emptied); "
				 "\"%s\" is not among them here, so emptying \"%s\" would need it emptied too",
				 PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
			txn_detail(r);
			rlog(r, 'H', "drop or change that foreign key on the replica, or, if \"%s\" is a source table left out by --tables, "
				 "include it; then run tide apply again", PQgetvalue(res, 0, 1));
			PQclear(res);
			return TIDE_EXIT_REPLICA;
		}
		PQclear(res);
	}

	proto_wbuf_reset(&r->sql);
	sql_put(&r->sql, "TRUNCATE ");
	for (int i = 0; i < n; i++)
	{
		bool		dup = false;

		for (int j = 0; j < i; j++)
			dup |= strcmp(rels[j]->target, rels[i]->target) == 0;
		if (dup)
			continue;
		if (!first)
			sql_put(&r->sql, ", ");
		first = false;

		/*
		 * ONLY, except on a table the replica partitions further (ONLY is
		 * refused there): all of it is what the source emptied.
		 */
		if (rels[i]->relkind != 'p')
			sql_put(&r->sql, "ONLY ");
		sql_put(&r->sql, rels[i]->target);
	}
	if (flags & PROTO_TRUNCATE_RESTART_IDENTITY)
		sql_put(&r->sql, " RESTART IDENTITY");
	proto_put_u8(&r->sql, '\0');
	if (r->sql.err)
		return TIDE_EXIT_BUG;
	return exec(r, (const char *) r->sql.data, PGRES_COMMAND_OK, "could not apply TRUNCATE");
}

/* ------------------------------------------------------------- sequences
 *
 * A "tide.seq" message (proto/FORMAT.md) carries the source's sequence
 * states.  Each replica sequence moves forward to the source's state, in
 * the sequence's direction, never backward: a replica sequence set ahead
 * on purpose stays, and an older message applied again changes nothing
 * (idempotent).  One statement per message: the replica's states are read
 * (query_to_xml runs the per-sequence SELECT inside it) and setval runs only
 * where the source's state is ahead, and only when every sequence exists.
 * setval is not transactional: a replica transaction rolled back after it
 * (a failed batch) leaves the sequence ahead, never behind.
 */
static const char *const setval_sql =
"WITH i AS ("
"  SELECT * FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), pg_catalog.unnest($2::pg_catalog.text[]),"
"    pg_catalog.unnest($3::pg_catalog.int8[]), pg_catalog.unnest($4::pg_catalog.bool[]),"
"    pg_catalog.unnest($5::pg_catalog.int8[]))"
"    WITH ORDINALITY AS i(nsp, rel, last, called, inc, ord)),"
" s AS MATERIALIZED ("
"  SELECT i.*, c.oid FROM i LEFT JOIN (pg_catalog.pg_class c"
"    JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace)"
"    ON n.nspname OPERATOR(pg_catalog.=) i.nsp AND c.relname OPERATOR(pg_catalog.=) i.rel"
"       AND c.relkind OPERATOR(pg_catalog.=) 'S'),"
" cur AS MATERIALIZED ("
"  SELECT s.*,"
"   (pg_catalog.xpath('/table/row/last_value/text()', x.d))[1]::pg_catalog.text::pg_catalog.int8 AS rlast,"
"   (pg_catalog.xpath('/table/row/is_called/text()', x.d))[1]::pg_catalog.text::pg_catalog.bool AS rcalled"
"  FROM s CROSS JOIN LATERAL (SELECT CASE WHEN s.oid IS NOT NULL THEN pg_catalog.query_to_xml("
"    pg_catalog.format('SELECT last_value, is_called FROM %I.%I', s.nsp, s.rel), false, false, '') END) x(d)),"
" v AS MATERIALIZED ("
"  SELECT p.*, p.oid IS NOT NULL AND CASE WHEN p.inc OPERATOR(pg_catalog.>) 0"
"    THEN p.spos OPERATOR(pg_catalog.>) p.rpos ELSE p.spos OPERATOR(pg_catalog.<) p.rpos END AS forward"
"  FROM (SELECT cur.*,"
"    (cur.last::pg_catalog.numeric OPERATOR(pg_catalog.-) (CASE WHEN cur.called THEN 0 ELSE cur.inc END)) AS spos,"
"    (cur.rlast::pg_catalog.numeric OPERATOR(pg_catalog.-) (CASE WHEN cur.rcalled THEN 0 ELSE cur.inc END)) AS rpos"
"    FROM cur) p) "
"SELECT v.ord, v.oid IS NOT NULL,"
"  CASE WHEN v.forward AND (SELECT pg_catalog.bool_and(s.oid IS NOT NULL) FROM s)"
"    THEN pg_catalog.setval(v.oid::pg_catalog.regclass, v.last, v.called) IS NOT NULL ELSE false END "
"FROM v ORDER BY v.ord";

/* arr_put - one element of a text array literal, double-quoted */
static void
arr_put(proto_wbuf_t *b, const char *s, bool first)
{
	if (!first)
		proto_put_u8(b, ',');
	proto_put_u8(b, '"');
	for (; *s; s++)
	{
		if (*s == '"' || *s == '\\')
			proto_put_u8(b, '\\');
		proto_put_u8(b, (uint8_t) *s);
	}
	proto_put_u8(b, '"');
}

int
apply_sequences(apply_replica_t *r, const char *payload, size_t len, const char *where)
{
	tide_seqlist_t l;
	char		err[512];
	proto_wbuf_t a[5];
	const char *vals[5];
	size_t	   *idx = NULL;
	size_t		n = 0;
	PGresult   *res = NULL;
	int			rc = 0;

	if (tide_seq_parse(payload, len, &l, err, sizeof(err)) != 0)
	{
		tide_log_error("a \"" TIDE_SEQ_PREFIX "\" message in %s cannot be read: %s", where, err);
		tide_log_hint("a newer tide wrote it: apply it with that version; nothing past the last whole transaction before it was applied");
		return TIDE_EXIT_CORRUPT;
	}
	for (int i = 0; i < 5; i++)
	{
		proto_wbuf_init_heap(&a[i]);
		proto_put_u8(&a[i], '{');
	}
	if (l.n && (idx = calloc(l.n, sizeof(size_t))) == NULL)
		rc = TIDE_EXIT_BUG;
	for (size_t i = 0; rc == 0 && i < l.n; i++)
	{
		const tide_seq_t *q = &l.v[i];
		char		num[32];

		/* --tables: the sequence by its own name, or by the table owning it */
		if (!table_wanted(r, q->schema, q->name) &&
			!(q->owner_schema && table_wanted(r, q->owner_schema, q->owner_table)))
			continue;
		arr_put(&a[0], map_schema(r, q->schema), n == 0);
		arr_put(&a[1], q->name, n == 0);
		snprintf(num, sizeof(num), "%s%lld", n ? "," : "", (long long) q->last_value);
		sql_put(&a[2], num);
		sql_put(&a[3], n ? (q->is_called ? ",t" : ",f") : (q->is_called ? "t" : "f"));
		snprintf(num, sizeof(num), "%s%lld", n ? "," : "", (long long) q->increment);
		sql_put(&a[4], num);
		idx[n++] = i;
	}
	for (int i = 0; i < 5; i++)
	{
		proto_put_u8(&a[i], '}');
		proto_put_u8(&a[i], '\0');
		if (a[i].err)
			rc = TIDE_EXIT_BUG;
		vals[i] = (const char *) a[i].data;
	}
	if (rc == TIDE_EXIT_BUG)
		tide_log_error("out of memory");
	if (rc != 0 || n == 0)
		goto done;
	if ((rc = ensure_txn(r)) != 0 || (rc = go_plain(r)) != 0 || (rc = gate(r)) != 0)
		goto done;
	res = PQexecParams(r->conn, setval_sql, 5, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || (size_t) PQntuples(res) != n)
	{
		rc = report(r, res, "%s", "could not move the replica's sequences forward");
		goto done;
	}
	if (r->opts->schema_follow)
	{
		bool		created = false;

		/* --schema follow: the missing ones are created, then all move */
		for (size_t j = 0; rc == 0 && j < n; j++)
		{
			const tide_seq_t *q = &l.v[idx[j]];

			if (PQgetvalue(res, (int) j, 1)[0] == 't')
				continue;
			rc = follow_sequence(r, map_schema(r, q->schema), q->name, q->increment, q->cycle);
			created = true;
		}
		if (rc != 0)
			goto done;
		if (created)
		{
			PQclear(res);
			res = PQexecParams(r->conn, setval_sql, 5, NULL, vals, NULL, NULL, 0);
			if (PQresultStatus(res) != PGRES_TUPLES_OK || (size_t) PQntuples(res) != n)
			{
				rc = report(r, res, "%s", "could not move the replica's sequences forward");
				goto done;
			}
		}
	}
	for (size_t j = 0; j < n; j++)
	{
		const tide_seq_t *q = &l.v[idx[j]];

		if (PQgetvalue(res, (int) j, 1)[0] != 't')
		{
			rc = fail_change(r);
			rlog(r, 'E', "sequence \"%s.%s\" does not exist on the replica", map_schema(r, q->schema), q->name);
			if (q->owner_schema)
				rlog(r, 'D', "the source's sequence \"%s.%s\" belongs to table \"%s.%s\"; its state is at %lld",
					 q->schema, q->name, q->owner_schema, q->owner_table, (long long) q->last_value);
			else
				rlog(r, 'D', "the segments hold the state of the source's sequence \"%s.%s\" (at %lld)",
					 q->schema, q->name, (long long) q->last_value);
			txn_detail(r);
			rlog(r, 'H', "create the sequence on the replica (or let --schema follow create it), map its schema with --map, or leave it out with --tables; then run tide apply again");
			goto done;
		}
		r->counts.seq_states++;
		if (PQgetvalue(res, (int) j, 2)[0] == 't')
			r->counts.seq_moved++;
	}
done:
	PQclear(res);
	for (int i = 0; i < 5; i++)
		proto_wbuf_free(&a[i]);
	free(idx);
	tide_seqlist_free(&l);
	return rc;
}

/* ------------------------------------------------------------- progress */

int
apply_replica_commit(apply_replica_t *r, proto_lsn_t end_lsn, proto_time_t commit_time)
{
	char		sysid[32];
	char		lsn[32];
	const char *vals[5];
	PGresult   *res;
	int			rc;

	if ((rc = ensure_txn(r)) != 0 || (rc = coal_flush_all(r)) != 0 ||
		(rc = go_plain(r)) != 0)
		return rc;
	snprintf(sysid, sizeof(sysid), "%llu", (unsigned long long) r->ident.system_id);
	snprintf(lsn, sizeof(lsn), "%X/%X", (unsigned) (end_lsn >> 32), (unsigned) end_lsn);
	proto_wbuf_reset(&r->tmp);
	time_text(&r->tmp, commit_time);
	if (r->tmp.err)
		return TIDE_EXIT_BUG;
	vals[0] = sysid;
	vals[1] = r->ident.dbname;
	vals[2] = r->ident.slot;
	vals[3] = lsn;
	vals[4] = (const char *) r->tmp.data;
	res = PQexecParams(r->conn,
					   "INSERT INTO tide.progress AS p (system_id, dbname, slot, end_lsn, commit_time, updated_at) "
					   "VALUES ($1::pg_catalog.numeric, $2::pg_catalog.text, $3::pg_catalog.text, $4::pg_catalog.pg_lsn, "
					   "$5::pg_catalog.timestamptz, pg_catalog.now()) "
					   "ON CONFLICT (system_id, dbname, slot) DO UPDATE SET end_lsn = EXCLUDED.end_lsn, "
					   "commit_time = EXCLUDED.commit_time, updated_at = EXCLUDED.updated_at "
					   "RETURNING pg_catalog.pg_current_xact_id_if_assigned() IS NOT NULL",
					   5, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		rc = report(r, res, "%s", "could not record progress in tide.progress");
		PQclear(res);
		return rc;
	}
	if (PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't')
		r->counts.xids++;
	PQclear(res);
	if ((rc = exec(r, "COMMIT", PGRES_COMMAND_OK, "could not commit on the replica")) != 0)
		return rc;
	r->in_txn = false;
	r->ddl_in_txn = false;
	r->counts.replica_txns++;
	r->committed = r->counts;
	return 0;
}

void
apply_replica_rollback(apply_replica_t *r)
{
	PGresult   *res;

	coal_discard(r);
	if (r->conn == NULL)
		return;
	/*
	 * Nothing failed (--follow abandons a transaction the streamer has not
	 * finished writing): end the COPY or pipeline normally, then roll back,
	 * keeping the session and its prepared statements.
	 */
	if ((r->copy_rel || r->pipeline) && !r->failed && PQstatus(r->conn) == CONNECTION_OK &&
		go_plain(r) != 0)
		r->failed = true;
	if (r->copy_rel || r->pipeline || PQstatus(r->conn) != CONNECTION_OK)
	{
		/*
		 * Mid-COPY or mid-pipeline after a failure: closing the connection
		 * is the one rollback that cannot get out of step.
		 */
		PQfinish(r->conn);
		r->conn = NULL;
	}
	else if (r->in_txn)
	{
		res = PQexec(r->conn, "ROLLBACK");
		PQclear(res);
	}
	if (r->ddl_in_txn)
	{
		/*
		 * --schema follow created or altered tables in the transaction
		 * just rolled back: what was resolved against them is gone.
		 */
		for (int i = 0; i < REL_BUCKETS; i++)
			for (apply_rel_t *rs = r->rels[i]; rs; rs = rs->next)
				rel_clear(rs);
		r->ddl_in_txn = false;
	}
	r->copy_rel = NULL;
	r->pipeline = false;
	r->in_txn = false;
	r->ring_n = 0;
	r->syncs = 0;
	r->since_sync = 0;
}

/* ------------------------------------------------------------- session */

static int
read_progress(apply_replica_t *r, apply_progress_t *p)
{
	PGresult   *res = PQexec(r->conn,
							 "SELECT system_id::pg_catalog.text, dbname, slot, end_lsn::pg_catalog.text, "
							 "((EXTRACT(epoch FROM commit_time) OPERATOR(pg_catalog.-) 946684800) "
							 "OPERATOR(pg_catalog.*) 1000000)::pg_catalog.int8 "
							 "FROM tide.progress ORDER BY updated_at DESC");
	int			rc = 0;
	int			other = -1;

	memset(p, 0, sizeof(*p));
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		rc = report(r, res, "%s", "could not read tide.progress");
		PQclear(res);
		return rc;
	}
	for (int i = 0; i < PQntuples(res); i++)
	{
		if (strtoull(PQgetvalue(res, i, 0), NULL, 10) == r->ident.system_id &&
			strcmp(PQgetvalue(res, i, 1), r->ident.dbname) == 0 &&
			strcmp(PQgetvalue(res, i, 2), r->ident.slot) == 0)
		{
			p->found = true;
			tide_parse_lsn(PQgetvalue(res, i, 3), &p->end_lsn);
			p->commit_time = strtoll(PQgetvalue(res, i, 4), NULL, 10);
		}
		else if (other < 0)
			other = i;
	}
	if (!p->found && other >= 0)
	{
		tide_log_error("the segments come from another source than the one this replica follows");
		tide_log_detail("tide.progress on the replica follows system %s, database \"%s\", slot \"%s\" (at %s); "
						"the segments are from system %llu, database \"%s\", slot \"%s\"",
						PQgetvalue(res, other, 0), PQgetvalue(res, other, 1),
						PQgetvalue(res, other, 2), PQgetvalue(res, other, 3),
						(unsigned long long) r->ident.system_id, r->ident.dbname, r->ident.slot);
		tide_log_hint("point -D at the segment directory of the source this replica follows, or use a replica of its own for this source");
		rc = TIDE_EXIT_CORRUPT;
	}
	PQclear(res);
	return rc;
}

/*
 * connect_session - open r->conn and set the session up: settings, the
 * advisory lock, tide.progress (made if missing) and *progress.
 */
static int
connect_session(apply_replica_t *r, apply_progress_t *progress)
{
	const char *keys[] = {"dbname", "fallback_application_name", NULL};
	const char *vals[] = {r->opts->conninfo, "tide apply", NULL};
	PGresult   *res;
	char	   *enc;
	char		sql[2048];
	char		oid[16];
	int			rc;

	r->conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(r->conn) != CONNECTION_OK)
	{
		const char *e = PQerrorMessage(r->conn);
		size_t		n = strlen(e);

		while (n > 0 && e[n - 1] == '\n')
			n--;
		tide_log_error("could not connect to the replica: %.*s", (int) n, e);
		r->failed = true;
		r->fail_kind = APPLY_FAIL_OTHER;
		return TIDE_EXIT_REPLICA;
	}

	/*
	 * Invariant 8: before anything else, a search_path no other role can
	 * put objects in (pg_catalog only, implicitly; the temporary schema
	 * only for our own stage tables): every function, operator and type
	 * the applier names is schema-qualified from here on, as pg_dump does
	 * since CVE-2018-1058 and the built-in apply worker does too.
	 */
	if ((rc = exec(r, "SELECT pg_catalog.set_config('search_path', '', false)", PGRES_TUPLES_OK,
				   "could not set up the replica session")) != 0)
		return rc;

	/*
	 * As the built-in subscriber does: replica-side triggers and FK checks
	 * behave as in logical replication.  The progress row is in the same
	 * transaction as the changes, so asynchronous commit loses nothing but
	 * a re-application of the last batches after a replica crash, which the
	 * progress row makes exactly-once again.
	 *
	 * Values travel as text in the source's encoding, printed as
	 * PostgreSQL's defaults print them (proto/src/value.c): every setting
	 * that changes how the replica reads (or, for identity FULL, prints) a
	 * value's text is pinned, whatever the replica's or the role's defaults
	 * say: lc_monetary (money), DateStyle, IntervalStyle, extra_float_digits,
	 * bytea_output, array_nulls (an unquoted NULL element), xmloption
	 * (content is what any xml value is).  TimeZone is left alone: every
	 * timestamptz value carries its offset, and the zone of replica-only
	 * defaults (current_date) is the replica's business.  row_security =
	 * off makes a table whose policies would hide rows from us an error
	 * instead of a silent miss; no statement or idle timeout cuts a batch.
	 */
	if ((enc = PQescapeLiteral(r->conn, r->ident.encoding, strlen(r->ident.encoding))) == NULL)
		return report(r, NULL, "%s", "could not set up the replica session");
	snprintf(sql, sizeof(sql),
			 "SET session_replication_role = replica; SET synchronous_commit = off; "
			 "SET DateStyle = 'ISO, MDY'; SET IntervalStyle = postgres; SET extra_float_digits = 3; "
			 "SET lc_monetary = 'C'; SET bytea_output = hex; SET array_nulls = on; "
			 "SET xmloption = content; SET row_security = off; SET statement_timeout = 0; "
			 "SET idle_in_transaction_session_timeout = 0; "
			 "SET client_encoding = %s; SET lock_timeout = '60s'; "
			 "SET client_min_messages = warning", enc);
	PQfreemem(enc);
	if ((rc = exec(r, sql, PGRES_COMMAND_OK, "could not set up the replica session")) != 0)
	{
		tide_log_hint("setting session_replication_role needs superuser, or GRANT SET ON PARAMETER session_replication_role (PostgreSQL 15)");
		return rc;
	}

	/*
	 * One applier per source and replica: a second one would interleave
	 * batches.  The lock is the session's; a killed applier's backend
	 * releases it when it notices the closed socket.  A --jobs worker's
	 * session is the applier's own: the main session holds the lock.
	 */
	if (!r->opts->worker)
	{
		char		key[2 * PROTO_MAX_NAME + 64];
		const char *kv[1] = {key};

		snprintf(key, sizeof(key), "%llu/%s/%s", (unsigned long long) r->ident.system_id,
				 r->ident.dbname, r->ident.slot);
		res = PQexecParams(r->conn, "SELECT pg_catalog.pg_advisory_lock(1952777317, pg_catalog.hashtext($1::pg_catalog.text))",
						   1, NULL, kv, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			rc = report(r, res, "%s", "could not lock out other appliers of this source");
			tide_log_hint("another tide apply of the same source may be running against this replica");
			PQclear(res);
			return rc;
		}
		PQclear(res);
	}
	if ((rc = exec(r, "SET lock_timeout = 0", PGRES_COMMAND_OK, "could not set up the replica session")) != 0)
		return rc;
	for (int pass = 0; pass < 2; pass++)
	{
		res = PQexec(r->conn, "SELECT c.oid, c.relkind FROM pg_catalog.pg_class c "
					 "WHERE c.oid = pg_catalog.to_regclass('tide.progress')");
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			rc = report(r, res, "%s", "could not read the replica's catalog");
			PQclear(res);
			return rc;
		}
		if (PQntuples(res) == 1)
			break;
		PQclear(res);
		res = NULL;
		if (pass == 0 &&
			(rc = exec(r,
					   "CREATE SCHEMA IF NOT EXISTS tide; "
					   "CREATE TABLE IF NOT EXISTS tide.progress ("
					   " system_id pg_catalog.numeric NOT NULL,"
					   " dbname pg_catalog.text NOT NULL,"
					   " slot pg_catalog.text NOT NULL,"
					   " end_lsn pg_catalog.pg_lsn NOT NULL,"
					   " commit_time pg_catalog.timestamptz,"
					   " updated_at pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),"
					   " PRIMARY KEY (system_id, dbname, slot)); "
					   "COMMENT ON TABLE tide.progress IS 'tide apply: last source transaction applied (end LSN of its commit), written with the changes'",
					   PGRES_COMMAND_OK, "could not create tide.progress on the replica")) != 0)
			return rc;
	}
	if (res == NULL || PQgetvalue(res, 0, 1)[0] != 'r')
	{
		PQclear(res);
		r->failed = true;
		r->fail_kind = APPLY_FAIL_OTHER;
		tide_log_error("tide.progress on the replica is not a table");
		tide_log_hint("drop whatever is named tide.progress on the replica; tide apply creates the table");
		return TIDE_EXIT_REPLICA;
	}
	snprintf(oid, sizeof(oid), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	{
		/* the progress row is written by the applying role too (invariant 8) */
		apply_rel_t prs;

		memset(&prs, 0, sizeof(prs));
		prs.display = (char *) "tide.progress";
		if ((rc = check_firing(r, &prs, oid)) != 0)
		{
			r->fail_kind = APPLY_FAIL_OTHER;
			return rc;
		}
	}
	return read_progress(r, progress);
}

int
apply_replica_connect(apply_replica_t **out, const apply_replica_opts_t *opts,
					  const apply_ident_t *ident, apply_progress_t *progress)
{
	apply_replica_t *r = calloc(1, sizeof(*r));

	*out = r;
	if (r == NULL)
	{
		tide_log_error("out of memory");
		return TIDE_EXIT_BUG;
	}
	r->opts = opts;
	r->ident = *ident;
	proto_wbuf_init_heap(&r->copybuf);
	proto_wbuf_init_heap(&r->line);
	proto_wbuf_init_heap(&r->keybuf);
	proto_wbuf_init_heap(&r->tmp);
	proto_wbuf_init_heap(&r->vals);
	proto_wbuf_init_heap(&r->sql);
	proto_wbuf_init_heap(&r->held);
	return connect_session(r, progress);
}

int
apply_replica_reconnect(apply_replica_t *r, apply_progress_t *progress)
{
	apply_replica_rollback(r);
	PQfinish(r->conn);			/* releases the advisory lock */
	r->conn = NULL;
	for (int i = 0; i < REL_BUCKETS; i++)
		for (apply_rel_t *rs = r->rels[i]; rs; rs = rs->next)
			rel_clear(rs);		/* resolved again in the new session */
	r->failed = false;
	r->fail_kind = 0;
	r->fail_state[0] = '\0';
	r->counts = r->committed;
	r->have_txn = false;
	return connect_session(r, progress);
}

void
apply_replica_set_strict(apply_replica_t *r, bool strict)
{
	r->strict = strict;
	r->defer = !strict;
}

void
apply_replica_txn(apply_replica_t *r, proto_lsn_t commit_lsn, proto_time_t commit_time,
				  uint32_t xid)
{
	r->have_txn = true;
	r->txn_lsn = commit_lsn;
	r->txn_time = commit_time;
	r->txn_xid = xid;
}

char
apply_replica_failure(apply_replica_t *r)
{
	return r && r->failed ? r->fail_kind : 0;
}

const char *
apply_replica_first_error(apply_replica_t *r)
{
	return r->first_error;
}

void
apply_replica_held(apply_replica_t *r, bool emit)
{
	size_t		off = 0;

	if (r == NULL)
		return;
	while (emit && !r->held.err && off < r->held.len)
	{
		char		level = (char) r->held.data[off];
		const char *line = (const char *) r->held.data + off + 1;

		if (level == 'E')
			tide_log_error("%s", line);
		else if (level == 'D')
			tide_log_detail("%s", line);
		else
			tide_log_hint("%s", line);
		off += 1 + strlen(line) + 1;
	}
	proto_wbuf_reset(&r->held);
	r->first_error[0] = '\0';
}

void
apply_replica_close(apply_replica_t *r)
{
	if (r == NULL)
		return;
	apply_replica_rollback(r);
	for (int i = 0; i < REL_BUCKETS; i++)
		while (r->rels[i])
		{
			apply_rel_t *rs = r->rels[i];

			r->rels[i] = rs->next;
			rel_clear(rs);
			free(rs);
		}
	PQfinish(r->conn);
	proto_wbuf_free(&r->copybuf);
	proto_wbuf_free(&r->line);
	proto_wbuf_free(&r->keybuf);
	proto_wbuf_free(&r->tmp);
	proto_wbuf_free(&r->vals);
	proto_wbuf_free(&r->sql);
	proto_wbuf_free(&r->held);
	free(r);
}

PGconn *
apply_replica_conn(apply_replica_t *r)
{
	return r->conn;
}

const apply_counts_t *
apply_replica_counts(apply_replica_t *r)
{
	return &r->counts;
}

const char *
apply_replica_sqlstate(apply_replica_t *r)
{
	return r->fail_state;
}

void
apply_replica_set_gate(apply_replica_t *r, int (*gate_cb) (void *arg), void *arg)
{
	r->gate_cb = gate_cb;
	r->gate_arg = arg;
}

int
apply_replica_flush(apply_replica_t *r)
{
	int			rc;

	if (!r->in_txn)
		return 0;
	if ((rc = coal_flush_all(r)) != 0 || (rc = go_plain(r)) != 0)
		return rc;
	return 0;
}
