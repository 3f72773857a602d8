/*
 * applier/stmt.c
 *		The statement pipeline: INSERT/UPDATE/DELETE as prepared statements
 *		with typed parameters, pipelined (or one at a time in strict mode),
 *		TRUNCATE, and the choice per change between COPY, folding and a
 *		statement.
 *
 * Values never appear in SQL text: they travel as COPY data or as
 * parameters (text, or binary in the type's send format when proto cannot
 * render the type as text).  Every identifier goes through
 * PQescapeIdentifier.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replica_int.h"
#include "tide/value.h"
#include "coalesce.h"
#include "copy.h"
#include "report.h"
#include "session.h"
#include "stmt.h"

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
/* go_plain - no COPY open, not in pipeline mode, every result read. */
int
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

/*
 * send_prepared - queue one execution with the parameters built in r.  In
 * strict mode it runs at once instead, and r->last_rows says how many rows
 * it touched.
 */
static int
send_prepared(apply_replica_t *r, const char *name, char kind, apply_rel_t *rel)
{
	int			rc;

	if ((rc = gate(r, 0)) != 0)
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
 * params_add - one value of column c as a parameter: binary when the
 * column takes binary values (relation.c, rs->colbin), else its text when
 * proto knows the type, else the bytes as they came (the type's send
 * format) in binary.
 */
static int
params_add(apply_replica_t *r, apply_rel_t *rs, const proto_relation_t *rel,
		   int c, const proto_datum_t *d)
{
	const proto_column_t *col = &rel->cols[c];
	int			i = r->np++;
	size_t		start = r->vals.len;
	int			rc;

	r->pf[i] = 0;
	r->voff[i] = SIZE_MAX;
	r->pv[i] = NULL;
	r->pl[i] = 0;
	if (d->kind != PROTO_DATUM_VALUE)
		return 0;
	if (rs->colbin[c])
	{
		rc = proto_value_send(&r->vals, col->encoding, col->basetypoid, d->data, d->len);
		if (rc != 0)
		{
			value_error(rs, col, rc);
			return rc == r->vals.err ? TIDE_EXIT_BUG : TIDE_EXIT_CORRUPT;
		}
		r->voff[i] = start;
		r->pl[i] = (int) (r->vals.len - start);
		r->pf[i] = 1;
		return 0;
	}
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
		value_error(rs, col, rc);
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
void
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
		if ((rc = params_add(r, rs, rel, i, &t->cols[i])) != 0)
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
		if (mask[i] && (rc = params_add(r, rs, rel, i, &u->newtup.cols[i])) != 0)
			return rc;
	for (int i = 0; i < rel->natts; i++)
		if (mask[rel->natts + i] && (rc = params_add(r, rs, rel, i, &key->cols[i])) != 0)
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
		if (mask[rel->natts + i] && (rc = params_add(r, rs, rel, i, &d->oldtup.cols[i])) != 0)
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
		(rc = go_plain(r)) != 0 || (rc = gate(r, 0)) != 0)
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
