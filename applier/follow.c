/*
 * applier/follow.c
 *		--schema follow: the tables, partitions, columns and sequences the
 *		segments describe and the replica lacks, created.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replica_int.h"
#include "follow.h"
#include "relation.h"
#include "report.h"
#include "session.h"

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
 * sql_end - end the statement in r->sql: 0, or TIDE_EXIT_BUG when
 * building it failed (out of memory)
 */
static int
sql_end(apply_replica_t *r)
{
	proto_put_u8(&r->sql, '\0');
	return r->sql.err ? TIDE_EXIT_BUG : 0;
}

/*
 * follow_exec - end the one DDL statement in r->sql, log it at info level,
 * then run it through the extended protocol, which takes exactly one
 * statement
 */
static int
follow_exec(apply_replica_t *r, const char *what)
{
	const char *sql;
	PGresult   *res;
	int			rc;

	if ((rc = sql_end(r)) != 0)
		return rc;
	sql = (const char *) r->sql.data;	/* after sql_end: it may move */
	tide_log_info("--schema follow: %s", sql);
	res = PQexecParams(r->conn, sql, 0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = report(r, res, "%s", what);
	else
		r->ddl_in_txn = true;
	PQclear(res);
	return rc;
}

/* put_qualified - qn.qt (both quoted already) into b */
static void
put_qualified(proto_wbuf_t *b, const char *qn, const char *qt)
{
	sql_put(b, qn);
	sql_put(b, ".");
	sql_put(b, qt);
}

/* sql_begin - r->sql anew: verb, then the object qn.qt (quoted already) */
static void
sql_begin(apply_replica_t *r, const char *verb, const char *qn, const char *qt)
{
	proto_wbuf_reset(&r->sql);
	sql_put(&r->sql, verb);
	put_qualified(&r->sql, qn, qt);
}

/*
 * follow_identity_full - give the replica's new table qn.qt (both quoted
 * already) REPLICA IDENTITY FULL, as the source's: an update or delete of
 * a table without a key then matches on all its columns there too.
 */
static int
follow_identity_full(apply_replica_t *r, const char *qn, const char *qt)
{
	sql_begin(r, "ALTER TABLE ", qn, qt);
	sql_put(&r->sql, " REPLICA IDENTITY FULL");
	return follow_exec(r, "could not set the replica identity of a table on the replica");
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
	free(q);
	return follow_exec(r, "could not create a schema on the replica");
}

/*
 * follow_sequence - --schema follow: create sequence nsp.name, missing on
 * the replica, with the source's increment and cycle.  Its bounds are the
 * whole bigint range (the source's are not in the stream), so any state
 * the source reports can be set; the caller then moves it forward.
 */
int
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
	sql_begin(r, "CREATE SEQUENCE ", qn, qr);
	snprintf(tail, sizeof(tail), " AS bigint INCREMENT BY %lld MINVALUE %lld MAXVALUE %lld%s",
			 (long long) (increment ? increment : 1), (long long) INT64_MIN, (long long) INT64_MAX,
			 cycle ? " CYCLE" : "");
	sql_put(&r->sql, tail);
	free(qn);
	free(qr);
	return follow_exec(r, "could not create a sequence on the replica");
}

/*
 * follow_create - create table nsp.name on the replica as the source's
 * RELATION describes it: its columns with their types, a primary key of
 * the identity columns (identity default or index), REPLICA IDENTITY FULL
 * when the source has it.  No NOT NULL but the key's, no defaults, no
 * other constraint or index: the replica only needs to hold the rows.
 */
int
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
	sql_begin(r, "CREATE TABLE ", qn, qt);
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
	if ((rc = follow_exec(r, "could not create a table on the replica")) != 0)
		goto done;
	if (rel->replident == PROTO_IDENT_FULL)
		rc = follow_identity_full(r, qn, qt);
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
int
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
	sql_begin(r, "CREATE TABLE ", qn, qt);
	sql_put(&r->sql, " PARTITION OF ");
	put_qualified(&r->sql, qpn, qpt);
	sql_put(&r->sql, " ");
	sql_put(&r->sql, bound);
	if ((rc = sql_end(r)) != 0)
		goto done;

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
		rc = follow_identity_full(r, qn, qt);
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
int
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
		sql_begin(r, "ALTER TABLE ", qn, qt);
		sql_put(&r->sql, " ADD COLUMN ");
		sql_put(&r->sql, qc);
		sql_put(&r->sql, " ");
		sql_put(&r->sql, type);
		free(qc);
		free(type);
		type = NULL;
		if ((rc = follow_exec(r, "could not add a column on the replica")) != 0)
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
