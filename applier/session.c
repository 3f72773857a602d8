/*
 * applier/session.c
 *		The replica session: connecting and the session's settings, the
 *		progress row in tide.progress, replica transactions (begin, commit
 *		with the progress row, rollback), closing.
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
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>				/* malloc_trim */
#endif

#include "replica_int.h"
#include "coalesce.h"
#include "relation.h"
#include "report.h"
#include "session.h"
#include "stmt.h"

int
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

bool
apply_replica_in_txn(apply_replica_t *r)
{
	return r->in_txn;
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
	r->create_missing = false;
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
	if (apply_relmap_init(&r->relmap, opts->tables, "--tables") != 0)
		return TIDE_EXIT_USAGE;
	apply_relmap_add_maps(&r->relmap, &opts->maps);
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

void
apply_replica_trim(apply_replica_t *r)
{
	proto_wbuf_t *bufs[] = {&r->copybuf, &r->line, &r->keybuf, &r->tmp, &r->vals};

	for (int i = 0; i < REL_BUCKETS; i++)
		for (apply_rel_t *rs = r->rels[i]; rs; rs = rs->next)
			if (rs->co && rs->co->n == 0)
				coal_free(rs);
	for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
		if (bufs[i]->len == 0)
		{
			proto_wbuf_free(bufs[i]);
			proto_wbuf_init_heap(bufs[i]);
		}
#ifdef __GLIBC__

	/*
	 * glibc keeps freed chunks below its (self-raising) mmap threshold in
	 * its arenas, resident: give their pages back to the system now.
	 */
	malloc_trim(0);
#endif
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
apply_replica_set_gate(apply_replica_t *r, int (*gate_cb) (void *arg, uint32_t table),
					   bool (*keydep_cb) (void *arg, uint32_t table, const proto_relation_t *rel,
										  const proto_tuple_t *t),
					   void *arg)
{
	r->gate_cb = gate_cb;
	r->keydep_cb = keydep_cb;
	r->gate_arg = arg;
}

/* ------------------------------------------------------------- captured DDL
 *
 * What applier/ddl.c needs of the session: a replica transaction with
 * every change before the DDL sent and answered, the failure reporting of
 * this file (so batch mode holds its messages back as for any change), and
 * a way to forget what was resolved against the catalog the DDL changed.
 */

int
apply_replica_quiesce(apply_replica_t *r, bool txn)
{
	int			rc;

	if (txn && (rc = ensure_txn(r)) != 0)
		return rc;
	if ((rc = coal_flush_all(r)) != 0)
		return rc;
	return go_plain(r);
}

void
apply_replica_schema_changed(apply_replica_t *r)
{
	r->ddl_in_txn = true;
	for (int i = 0; i < REL_BUCKETS; i++)
		for (apply_rel_t *rs = r->rels[i]; rs; rs = rs->next)
			rel_clear(rs);
}

void
apply_replica_create_missing(apply_replica_t *r, bool on)
{
	r->create_missing = on;
}

int
apply_replica_report(apply_replica_t *r, PGresult *res, const char *what)
{
	return report(r, res, "%s", what);
}

int
apply_replica_fail(apply_replica_t *r)
{
	return fail_change(r);
}

void
apply_replica_log(apply_replica_t *r, char level, const char *fmt,...)
{
	char		line[4096];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	rlog(r, level, "%s", line);
}

void
apply_replica_txn_detail(apply_replica_t *r)
{
	txn_detail(r);
}

void
apply_replica_count_ddl(apply_replica_t *r, bool run)
{
	if (run)
		r->counts.ddl_run++;
	else
		r->counts.ddl_skipped++;
}

const char *
apply_replica_map_schema(apply_replica_t *r, const char *nsp)
{
	return map_schema(r, nsp);
}

bool
apply_replica_table_wanted(apply_replica_t *r, const char *nsp, const char *rel)
{
	return table_wanted(r, nsp, rel);
}

bool
apply_replica_filtered(apply_replica_t *r)
{
	return r->opts->tables != NULL && r->opts->tables[0] != NULL;
}

bool
apply_replica_mapped(apply_replica_t *r)
{
	return r->opts->maps.n > 0;
}

bool
apply_replica_follows(apply_replica_t *r)
{
	return r->opts->schema_follow;
}

const apply_ident_t *
apply_replica_ident(apply_replica_t *r)
{
	return &r->ident;
}

bool
apply_replica_strict(apply_replica_t *r)
{
	return r->strict;
}
