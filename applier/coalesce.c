/*
 * applier/coalesce.c
 *		Set-based apply of a batch: changes folded per key, applied with a
 *		few statements per table through stage tables and COPY.  Which
 *		state each key ends in is coalset.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replica_int.h"
#include "coalesce.h"
#include "copy.h"
#include "report.h"
#include "stmt.h"

/* ------------------------------------------------------------- coalescing
 *
 * Rows are kept as COPY lines (copy.c's render_line): binary COPY tuples
 * for a table whose values all go in binary, text lines for others; the
 * stage tables have the table's own column types, so take either.
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
/*
 * set_full - must the table's pending set be written now: at the set's own
 * bounds, or at the session's smaller byte budget (a --jobs worker's: N
 * sessions hold sets at once, within the memory of one)
 */
static bool
set_full(const apply_replica_t *r, const apply_coal_t *co)
{
	return coal_full(co) || (r->opts->set_bytes && co->arena.len >= r->opts->set_bytes);
}

void
coal_free(apply_rel_t *rs)
{
	coal_set_free(rs->co);
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

/*
 * coal_change - fold one change ('I' or 'U' with its new row, 'D' with its
 * old key) into the table's pending set.  Returns 0 when folded,
 * COAL_FALLBACK when the caller must take the statement path (the pending
 * set has been applied first), or an exit code.
 */
int
coal_change(apply_replica_t *r, apply_rel_t *rs, const proto_relation_t *rel,
			char op, const proto_tuple_t *t)
{
	int			rc;

	if ((rc = render_line(r, rs, rel, t, op == 'D')) != 0)
	{
		if (rc != 1)
			return rc;
		/* a value only binary can carry: this table takes statements */
		rs->coalesce = false;
		return (rc = coal_flush(r, rs)) != 0 ? rc : COAL_FALLBACK;
	}
	if (rs->co == NULL && (rs->co = coal_new()) == NULL)
		return report(r, NULL, "%s", "out of memory");
	coal_keybytes(r, rel, t);
	rc = coal_fold(rs->co, op, r->keybuf.data, r->keybuf.len, r->line.data, r->line.len);
	if (rc == COAL_FALLBACK)
		return (rc = coal_flush(r, rs)) != 0 ? rc : COAL_FALLBACK;
	if (rc == TIDE_ENOMEM)
		return report(r, NULL, "%s", "out of memory");
	if (r->keydep_cb && r->keydep_cb(r->gate_arg, rs->oid, rel, t))
		rs->co->e[rs->co->last].dep = true;
	r->counts.coalesced += rc;	/* 1: folded into an earlier change */
	if (set_full(r, rs->co))
		return coal_flush(r, rs);
	return 0;
}

/*
 * coal_append - an insert into a table that is not folded per key (no key,
 * or other unique indexes): it joins the table's pending COPY in arrival
 * order, flushed before any other change of the table goes out.  Same
 * returns as coal_change.
 */
int
coal_append(apply_replica_t *r, apply_rel_t *rs, const proto_relation_t *rel,
			const proto_tuple_t *t)
{
	int			rc;

	if ((rc = render_line(r, rs, rel, t, false)) != 0)
	{
		if (rc != 1)
			return rc;
		rs->no_copy = true;		/* statements from now on */
		return (rc = coal_flush(r, rs)) != 0 ? rc : COAL_FALLBACK;
	}
	if (rs->co == NULL && (rs->co = coal_new()) == NULL)
		return report(r, NULL, "%s", "out of memory");
	if (coal_add_row(rs->co, r->line.data, r->line.len) != 0)
		return report(r, NULL, "%s", "out of memory");
	if (set_full(r, rs->co))
		return coal_flush(r, rs);
	return 0;
}

/* which entries a part of coal_flush writes */
#define PART_ALL 0
#define PART_FREE 1
#define PART_DEP 2

static inline bool
in_part(const coal_entry_t *e, int part)
{
	return part == PART_ALL || (part == PART_DEP) == e->dep;
}

static int	coal_flush_part(apply_replica_t *r, apply_rel_t *rs, int part);

/* coal_copy - COPY the lines of the selected entries into sql's table */
static int
coal_copy(apply_replica_t *r, apply_rel_t *rs, const char *sql, char op, bool klines, int part)
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
	if (rs->bincopy)
		copy_header(&r->copybuf);
	for (uint32_t i = 0; i < co->n && rc == 0; i++)
	{
		coal_entry_t *e = &co->e[i];

		if (klines ? !(e->op == 'D' || (e->op == 'I' && e->del_first)) : e->op != op)
			continue;
		if (!in_part(e, part))
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
	if (rs->bincopy)
		copy_trailer(&r->copybuf);
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

/*
 * coal_flush - apply a table's pending set.  Under --jobs the keys an
 * earlier uncommitted unit also writes (dep) go after the table's gate,
 * the others at once (jobs.c: a unit's cold rows are written while the
 * unit before it still holds a hot one); without, in one part.
 */
int
coal_flush(apply_replica_t *r, apply_rel_t *rs)
{
	apply_coal_t *co = rs->co;
	bool		dep = false;
	bool		free = false;
	int			rc;

	if (co == NULL || co->n == 0)
		return 0;
	for (uint32_t i = 0; i < co->n; i++)
	{
		if (co->e[i].dep)
			dep = true;
		else
			free = true;
	}
	if (dep && free)
	{
		if ((rc = coal_flush_part(r, rs, PART_FREE)) != 0 ||
			(rc = go_plain(r)) != 0 || (rc = gate(r, rs->oid)) != 0 ||
			(rc = coal_flush_part(r, rs, PART_DEP)) != 0)
			return rc;
	}
	else
	{
		if ((rc = go_plain(r)) != 0 || (dep && (rc = gate(r, rs->oid)) != 0) ||
			(rc = coal_flush_part(r, rs, PART_ALL)) != 0)
			return rc;
	}
	coal_reset(co);
	return 0;
}

/* coal_flush_part - the deletes, updates and inserts of the entries of part */
static int
coal_flush_part(apply_replica_t *r, apply_rel_t *rs, int part)
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

	if ((rc = go_plain(r)) != 0)
		return rc;
	/* the relation's description: the body the table was resolved from */
	proto_rbuf_init(&rb, rs->body, rs->body_len);
	if (proto_read_relation(&rb, &relbuf, cols, PROTO_MAX_COLUMNS) != 0)
		return report(r, NULL, "%s", "internal error: relation description unreadable");
	rel = &relbuf;
	for (uint32_t i = 0; i < co->n; i++)
	{
		if (!in_part(&co->e[i], part))
			continue;
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
		sql_put(&r->sql, ")");
		sql_put(&r->sql, copy_from_stdin(rs));
		proto_put_u8(&r->sql, '\0');
		if ((rc = coal_copy(r, rs, (const char *) r->sql.data, 'D', true, part)) != 0)
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
		sql_put(&r->sql, copy_from_stdin(rs));
		proto_put_u8(&r->sql, '\0');
		if ((rc = coal_copy(r, rs, (const char *) r->sql.data, 'U', false, part)) != 0)
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
		sql_put(&r->sql, copy_from_stdin(rs));
		proto_put_u8(&r->sql, '\0');
		if ((rc = coal_copy(r, rs, (const char *) r->sql.data, 'I', false, part)) != 0)
			return rc;
		r->counts.copied += ni;
		r->counts.set_rows += ni;
	}
	return 0;
}

/* coal_flush_all - every table's pending set (before commit, TRUNCATE) */
int
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
void
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
