/*
 * applier/ddl.c
 *		Replaying captured DDL: the "tide.ddl" messages tide setup's event
 *		triggers put into the stream (proto/FORMAT.md, "Captured DDL").
 *
 * Each command runs at its place among its transaction's changes, in the
 * same replica transaction as they and as the progress row that accounts
 * for its source transaction: a restart after a crash at any instant
 * neither runs it twice nor skips it (invariant 6).  Changes before it are
 * sent and answered first (replica.c's coalesced sets, COPY, pipeline);
 * the command runs with the search_path it ran with on the source, set
 * transaction-locally and put back to the session's empty one right after,
 * as the applier's role and under session_replication_role = replica
 * (replica-side triggers do not fire, as for rows).
 *
 * Special cases, each measured on PostgreSQL 15:
 *	- CREATE TABLE AS / SELECT INTO: the rows decode before the command's
 *	  ddl_command_end.  The capture emits a "start" message before them;
 *	  from it until the "end" message a missing table is created from its
 *	  relation description (replica.c's --schema follow code).  The query is
 *	  never run again while the source wrote rows; when it wrote none (no
 *	  relation description came), the statement runs and its rows, if the
 *	  replica's query found any, are removed.
 *	- CREATE/DROP INDEX CONCURRENTLY cannot run in a transaction block:
 *	  what precedes is committed first (apply.c), the command runs alone,
 *	  and a row in tide.ddl_pending says it was started, so that after a
 *	  crash the index's state decides whether it runs again.
 *	- A command run from a function, procedure or DO block: its statement
 *	  text is not known (the event trigger sees the call).  A CREATE TABLE
 *	  is left to --schema follow when given; anything else stops.
 * Mapped schemas (--map) stop: the statement names the source's schemas
 * and no rewrite of SQL text would be safe.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tide/common.h"
#include "ddl.h"

#define LSN_FMT "%X/%X"
#define LSN_ARGS(l) (unsigned) ((l) >> 32), (unsigned) (l)

static bool
lsn_in(const proto_lsn_t *v, int n, proto_lsn_t l)
{
	for (int i = 0; i < n; i++)
		if (v[i] == l)
			return true;
	return false;
}

static bool
is_ctas(const tide_ddl_t *d)
{
	return strcmp(d->tag, "CREATE TABLE AS") == 0 || strcmp(d->tag, "SELECT INTO") == 0;
}

/*
 * stop - log why the command at lsn is not applied and how to go on: as a
 * change the replica refused (replica.c holds it back in batch mode, and
 * apply.c stops after committing every source transaction before it).
 */
static int
stop(apply_replica_t *r, const tide_ddl_t *d, proto_lsn_t lsn, const char *why)
{
	apply_replica_fail(r);
	apply_replica_log(r, 'E', "stopped before the DDL command %s at " LSN_FMT ": %s", d->tag, LSN_ARGS(lsn), why);
	if (d->stmt)
		apply_replica_log(r, 'D', "statement: %s", d->stmt);
	else
		apply_replica_log(r, 'D', "query string on the source: %s", d->query);
	apply_replica_log(r, 'D', "it ran with search_path %s as role %s", d->search_path,
					  d->role ? d->role : "(unknown)");
	apply_replica_txn_detail(r);
	apply_replica_log(r, 'H', "run tide apply again with --ddl-apply-lsn " LSN_FMT " to apply it as captured, or "
					  "with --ddl-skip-lsn " LSN_FMT " to go on without it (after running it, or what it should do, "
					  "on the replica yourself)", LSN_ARGS(lsn), LSN_ARGS(lsn));
	return TIDE_EXIT_REPLICA;
}

/* set_path - the search_path for the command, or back to the session's */
static int
set_path(apply_replica_t *r, const char *path, bool local)
{
	PGconn	   *conn = apply_replica_conn(r);
	const char *vals[2] = {path, local ? "true" : "false"};
	PGresult   *res = PQexecParams(conn, "SELECT pg_catalog.set_config('search_path', $1, $2::pg_catalog.bool)",
								   2, NULL, vals, NULL, NULL, 0);
	int			rc = 0;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = apply_replica_report(r, res, "could not set the search_path of a DDL command on the replica");
	PQclear(res);
	return rc;
}

/* exec_stmt - d->stmt under its search_path; logs and returns on failure */
static int
exec_stmt(apply_replica_t *r, const tide_ddl_t *d, proto_lsn_t lsn, bool local)
{
	PGconn	   *conn = apply_replica_conn(r);
	PGresult   *res;
	int			rc;
	char		what[256];

	if ((rc = set_path(r, d->search_path, local)) != 0)
		return rc;
	tide_log_info("DDL at " LSN_FMT ": %s", LSN_ARGS(lsn), d->stmt);
	/* the extended protocol runs exactly one statement */
	res = PQexecParams(conn, d->stmt, 0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		snprintf(what, sizeof(what), "could not apply the DDL command %s at " LSN_FMT " to the replica",
				 d->tag, LSN_ARGS(lsn));
		rc = apply_replica_report(r, res, what);
		apply_replica_log(r, 'D', "statement: %s", d->stmt);
		apply_replica_log(r, 'D', "search_path: %s", d->search_path);
		apply_replica_log(r, 'H', "make the replica take it (or do by hand what it should do), then run tide apply again, "
						  "with --ddl-skip-lsn " LSN_FMT " if it must not run again", LSN_ARGS(lsn));
		PQclear(res);
		if (!local)
			set_path(r, "", false);
		return rc;
	}
	PQclear(res);
	return set_path(r, "", local);
}

/*
 * catalog_query - run sql, a read of the replica's catalog with identity
 * as its one parameter, into *out (the caller PQclear()s it).  On failure
 * logs, leaves *out NULL and returns the TIDE_EXIT code.
 */
static int
catalog_query(apply_replica_t *r, const char *sql, const char *identity, PGresult **out)
{
	const char *vals[1] = {identity};
	PGresult   *res = PQexecParams(apply_replica_conn(r), sql, 1, NULL, vals, NULL, NULL, 0);
	int			rc;

	*out = NULL;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		rc = apply_replica_report(r, res, "could not read the replica's catalog");
		PQclear(res);
		return rc;
	}
	*out = res;
	return 0;
}

/* relation_exists - does the replica have relation identity?  1 yes, 0
 * no, or a TIDE_EXIT code */
static int
relation_exists(apply_replica_t *r, const char *identity, bool *valid_index)
{
	PGresult   *res;
	int			rc;

	if (valid_index)
		*valid_index = false;
	if ((rc = catalog_query(r, "SELECT i.indisvalid FROM (SELECT pg_catalog.to_regclass($1) AS oid) c "
							"LEFT JOIN pg_catalog.pg_index i ON i.indexrelid OPERATOR(pg_catalog.=) c.oid "
							"WHERE c.oid IS NOT NULL",
							identity, &res)) != 0)
		return rc;
	rc = PQntuples(res) == 1;
	if (valid_index)
		*valid_index = rc && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return rc;
}

/*
 * owner_table - for --tables: the table an object is of and its partition
 * root, as the replica knows them (a dropped index or partition carries
 * neither in the message).  0 with *found false when the replica has no
 * such relation.
 */
static int
owner_table(apply_replica_t *r, const char *identity, char *tab, char *root, size_t len, bool *found)
{
	PGresult   *res;
	int			rc;

	*found = false;
	if ((rc = catalog_query(r, "SELECT tn.nspname OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) t.relname, "
							" (SELECT rn.nspname OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) rr.relname "
							"    FROM pg_catalog.pg_class rr JOIN pg_catalog.pg_namespace rn ON rn.oid OPERATOR(pg_catalog.=) rr.relnamespace "
							"   WHERE rr.oid OPERATOR(pg_catalog.=) pg_catalog.pg_partition_root(t.oid)) "
							"FROM (SELECT pg_catalog.to_regclass($1) AS oid) c "
							"JOIN pg_catalog.pg_class t ON t.oid OPERATOR(pg_catalog.=) coalesce((SELECT i.indrelid FROM pg_catalog.pg_index i "
							"   WHERE i.indexrelid OPERATOR(pg_catalog.=) c.oid), c.oid) "
							"JOIN pg_catalog.pg_namespace tn ON tn.oid OPERATOR(pg_catalog.=) t.relnamespace",
							identity, &res)) != 0)
		return rc;
	if (PQntuples(res) == 1)
	{
		*found = true;
		snprintf(tab, len, "%s", PQgetvalue(res, 0, 0));
		snprintf(root, len, "%s", PQgetisnull(res, 0, 1) ? "" : PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return 0;
}

static bool
wanted_name(apply_replica_t *r, const char *qualified)
{
	char		nsp[2 * PROTO_MAX_NAME + 2];
	const char *dot = strchr(qualified, '.');

	if (dot == NULL || (size_t) (dot - qualified) >= sizeof(nsp))
		return true;
	memcpy(nsp, qualified, (size_t) (dot - qualified));
	nsp[dot - qualified] = '\0';
	return apply_replica_table_wanted(r, nsp, dot + 1);
}

/*
 * filter - --tables and --map: 0 with *skip set when every table the
 * command touches is left out, a stop when it touches both kinds or a
 * mapped schema.  Objects of no table (schemas, types, functions) are
 * applied: the tables that are kept may need them.
 */
static int
filter(apply_replica_t *r, const tide_ddl_t *d, proto_lsn_t lsn, bool *skip)
{
	int			in = 0,
				out = 0;
	char		why[600];

	*skip = false;
	if (apply_replica_mapped(r))
		for (size_t i = 0; i < d->nobjs; i++)
		{
			const tide_ddl_obj_t *o = &d->objs[i];
			const char *nsp = o->schema ? o->schema : o->tschema;

			if (nsp == NULL && strcmp(o->type, "schema") == 0)
				nsp = o->identity;
			if (nsp && strcmp(apply_replica_map_schema(r, nsp), nsp) != 0)
			{
				snprintf(why, sizeof(why), "it changes schema \"%s\", which --map maps to \"%s\", and its statement names the source's schemas",
						 nsp, apply_replica_map_schema(r, nsp));
				return stop(r, d, lsn, why);
			}
		}
	if (!apply_replica_filtered(r))
		return 0;
	for (size_t i = 0; i < d->nobjs; i++)
	{
		const tide_ddl_obj_t *o = &d->objs[i];
		bool		w;

		if (o->tschema)
			w = apply_replica_table_wanted(r, o->tschema, o->tname) ||
				(o->rschema && apply_replica_table_wanted(r, o->rschema, o->rname));
		else if (o->identity && (strcmp(o->type, "index") == 0 || strcmp(o->type, "table") == 0))
		{
			char		tab[2 * PROTO_MAX_NAME + 2],
						root[2 * PROTO_MAX_NAME + 2];
			bool		found;
			int			rc;

			if ((rc = owner_table(r, o->identity, tab, root, sizeof(tab), &found)) != 0)
				return rc;
			if (!found)
			{
				out++;			/* not on the replica: of a table left out */
				continue;
			}
			w = wanted_name(r, tab) || (root[0] && wanted_name(r, root));
		}
		else
			continue;
		if (w)
			in++;
		else
			out++;
	}
	if (out > 0 && in == 0)
	{
		*skip = true;
		return 0;
	}
	if (out > 0)
		return stop(r, d, lsn, "it touches tables --tables keeps and tables it leaves out");
	return 0;
}

bool
apply_ddl_outside(apply_replica_t *r, const apply_ddl_opts_t *o, const tide_ddl_t *d, proto_lsn_t lsn)
{
	(void) r;
	if (d->start || d->stmt == NULL || !d->concurrently || lsn_in(o->skip, o->nskip, lsn))
		return false;
	return o->mode == APPLY_DDL_APPLY || lsn_in(o->run, o->nrun, lsn);
}

static const char *const pending_delete_sql =
"DELETE FROM tide.ddl_pending WHERE system_id OPERATOR(pg_catalog.=) $1::pg_catalog.numeric "
"AND dbname OPERATOR(pg_catalog.=) $2 AND slot OPERATOR(pg_catalog.=) $3";

/*
 * outside - a CONCURRENTLY command, after everything before it is
 * committed.  The pending row is written and committed before it runs;
 * when it is found for this LSN on a later run, the command may have
 * completed already: the index's existence and validity decide.  The row
 * is deleted in the replica transaction that records the command's source
 * transaction as applied.
 */
static int
outside(apply_replica_t *r, const tide_ddl_t *d, proto_lsn_t lsn)
{
	PGconn	   *conn = apply_replica_conn(r);
	const apply_ident_t *id = apply_replica_ident(r);
	char		sysid[32],
				lsntext[32];
	const char *vals[5];
	const char *index = NULL;
	bool		drop = strncmp(d->tag, "DROP", 4) == 0;
	bool		pending = false;
	bool		run = true;
	PGresult   *res;
	int			rc;

	for (size_t i = 0; i < d->nobjs; i++)
		if (strcmp(d->objs[i].type, "index") == 0 && d->objs[i].identity)
			index = d->objs[i].identity;
	snprintf(sysid, sizeof(sysid), "%llu", (unsigned long long) id->system_id);
	snprintf(lsntext, sizeof(lsntext), LSN_FMT, LSN_ARGS(lsn));
	vals[0] = sysid;
	vals[1] = id->dbname;
	vals[2] = id->slot;
	vals[3] = lsntext;
	vals[4] = d->stmt;
	if ((rc = apply_replica_quiesce(r, false)) != 0)
		return rc;
	res = PQexec(conn, "CREATE TABLE IF NOT EXISTS tide.ddl_pending ("
				 " system_id pg_catalog.numeric NOT NULL, dbname pg_catalog.text NOT NULL,"
				 " slot pg_catalog.text NOT NULL, lsn pg_catalog.pg_lsn NOT NULL,"
				 " statement pg_catalog.text NOT NULL, PRIMARY KEY (system_id, dbname, slot))");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		rc = apply_replica_report(r, res, "could not create tide.ddl_pending on the replica");
		PQclear(res);
		return rc;
	}
	PQclear(res);
	res = PQexecParams(conn, "SELECT FROM tide.ddl_pending WHERE system_id OPERATOR(pg_catalog.=) $1::pg_catalog.numeric "
					   "AND dbname OPERATOR(pg_catalog.=) $2 AND slot OPERATOR(pg_catalog.=) $3 "
					   "AND lsn OPERATOR(pg_catalog.=) $4::pg_catalog.pg_lsn", 4, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		rc = apply_replica_report(r, res, "could not read tide.ddl_pending on the replica");
		PQclear(res);
		return rc;
	}
	pending = PQntuples(res) == 1;
	PQclear(res);
	if (pending && index)
	{
		bool		valid;
		int			ex = relation_exists(r, index, &valid);

		if (ex > 1)
			return ex;
		if (drop)
			run = ex == 1;
		else if (ex == 1 && valid)
			run = false;
		else if (ex == 1)
		{
			/* a CREATE INDEX CONCURRENTLY cut short leaves an invalid index */
			char		sql[1200];

			snprintf(sql, sizeof(sql), "DROP INDEX CONCURRENTLY %s", index);
			tide_log_info("DDL at " LSN_FMT ": dropping the invalid index a run cut short left: %s", LSN_ARGS(lsn), sql);
			res = PQexec(conn, sql);
			if (PQresultStatus(res) != PGRES_COMMAND_OK)
			{
				rc = apply_replica_report(r, res, "could not drop an invalid index on the replica");
				PQclear(res);
				return rc;
			}
			PQclear(res);
		}
		if (!run)
			tide_log_info("DDL at " LSN_FMT " ran before this run started (tide.ddl_pending): %s", LSN_ARGS(lsn), d->stmt);
	}
	else
	{
		res = PQexecParams(conn, "INSERT INTO tide.ddl_pending AS p VALUES ($1::pg_catalog.numeric, $2, $3, $4::pg_catalog.pg_lsn, $5) "
						   "ON CONFLICT (system_id, dbname, slot) DO UPDATE SET lsn = EXCLUDED.lsn, statement = EXCLUDED.statement",
						   5, NULL, vals, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			rc = apply_replica_report(r, res, "could not write tide.ddl_pending on the replica");
			PQclear(res);
			return rc;
		}
		PQclear(res);
	}
	if (run && (rc = exec_stmt(r, d, lsn, false)) != 0)
	{
		/*
		 * It failed, so it did not run: the row must not make a later
		 * run take an index that was there before (the reason it failed,
		 * maybe) for its own.  When even this fails (a lost connection),
		 * the row stays, and the index's state decides as after a crash.
		 */
		PQclear(PQexecParams(conn, pending_delete_sql, 3, NULL, vals, NULL, NULL, 0));
		return rc;
	}
	if ((rc = apply_replica_quiesce(r, true)) != 0)
		return rc;
	apply_replica_schema_changed(r);
	res = PQexecParams(conn, pending_delete_sql, 3, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = apply_replica_report(r, res, "could not write tide.ddl_pending on the replica");
	PQclear(res);
	return rc;
}

int
apply_ddl(apply_replica_t *r, const apply_ddl_opts_t *o, const tide_ddl_t *d, proto_lsn_t lsn)
{
	bool		skip;
	int			rc;

	if (d->start)
	{
		/* CREATE TABLE AS: its rows come next; their table is made from them */
		if (o->mode != APPLY_DDL_SKIP)
			apply_replica_create_missing(r, true);
		return 0;
	}
	if (is_ctas(d))
		apply_replica_create_missing(r, false);
	if (lsn_in(o->skip, o->nskip, lsn))
	{
		tide_log_info("DDL at " LSN_FMT " skipped as --ddl-skip-lsn asks: %s", LSN_ARGS(lsn),
					  d->stmt ? d->stmt : d->tag);
		apply_replica_count_ddl(r, false);
		return 0;
	}
	if (o->mode == APPLY_DDL_SKIP)
	{
		apply_replica_count_ddl(r, false);
		return 0;
	}
	/* a CONCURRENTLY command finds the replica transaction committed */
	if ((rc = apply_replica_quiesce(r, false)) != 0)
		return rc;
	if ((rc = filter(r, d, lsn, &skip)) != 0)
		return rc;
	if (skip)
	{
		tide_log_info("DDL at " LSN_FMT " skipped: --tables leaves out every table it touches (%s)",
					  LSN_ARGS(lsn), d->tag);
		apply_replica_count_ddl(r, false);
		return 0;
	}
	if (o->mode == APPLY_DDL_STOP && !lsn_in(o->run, o->nrun, lsn))
		return stop(r, d, lsn, "--ddl stop");
	if (is_ctas(d) && d->nobjs > 0 && d->objs[0].identity)
	{
		int			ex = relation_exists(r, d->objs[0].identity, NULL);

		if (ex > 1)
			return ex;
		if (ex == 1)
		{
			/* made from the relation of its rows, which came first */
			tide_log_info("DDL at " LSN_FMT ": %s made table %s from its rows' description", LSN_ARGS(lsn),
						  d->tag, d->objs[0].identity);
			apply_replica_schema_changed(r);
			apply_replica_count_ddl(r, false);
			return 0;
		}
	}
	if (d->stmt == NULL)
	{
		if (strcmp(d->tag, "CREATE TABLE") == 0 && apply_replica_follows(r))
		{
			tide_log_info("DDL at " LSN_FMT ": %s left to --schema follow (%s)", LSN_ARGS(lsn), d->tag, d->why);
			apply_replica_count_ddl(r, false);
			return 0;
		}
		return stop(r, d, lsn, d->why);
	}
	apply_replica_count_ddl(r, true);
	if (d->concurrently)
		return outside(r, d, lsn);
	if ((rc = apply_replica_quiesce(r, true)) != 0 || (rc = exec_stmt(r, d, lsn, true)) != 0)
		return rc;
	if (is_ctas(d) && d->nobjs > 0 && d->objs[0].identity)
	{
		/* the source's query wrote no row: neither may the replica's */
		char		sql[1200];
		PGresult   *res;

		snprintf(sql, sizeof(sql), "DELETE FROM %s", d->objs[0].identity);
		res = PQexec(apply_replica_conn(r), sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = apply_replica_report(r, res, "could not empty a table CREATE TABLE AS made on the replica");
		PQclear(res);
		if (rc)
			return rc;
	}
	apply_replica_schema_changed(r);
	return 0;
}

void
apply_ddl_txn_end(apply_replica_t *r)
{
	apply_replica_create_missing(r, false);
}
