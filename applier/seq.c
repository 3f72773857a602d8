/*
 * applier/seq.c
 *		"tide.seq" messages: replica sequences moved forward to the
 *		source's states.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replica_int.h"
#include "tide/seqstate.h"
#include "follow.h"
#include "relation.h"
#include "report.h"
#include "session.h"
#include "stmt.h"

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
	if ((rc = ensure_txn(r)) != 0 || (rc = go_plain(r)) != 0 || (rc = gate(r, 0)) != 0)
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
