/*
 * applier/relation.c
 *		Source relations resolved to replica tables: the table a RELATION
 *		maps to (--map, --tables, partitions routed to their root), its
 *		columns and their types and equality operators, triggers that fire,
 *		whether its changes can be folded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replica_int.h"
#include "tide/value.h"
#include "coalesce.h"
#include "copy.h"
#include "follow.h"
#include "relation.h"
#include "report.h"
#include "stmt.h"

char *
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
char *
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
/* ------------------------------------------------------------- relations */


void
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
	free(rs->colbin);
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

bool
types_equal(const char *a, size_t an, const char *b, size_t bn)
{
	if (an == bn && memcmp(a, b, an) == 0)
		return true;
	a = type_norm(a, &an);
	b = type_norm(b, &bn);
	return an == bn && memcmp(a, b, an) == 0;
}

/* map_schema - the replica's schema for source schema nsp (--map) */
const char *
map_schema(apply_replica_t *r, const char *nsp)
{
	return apply_relmap_schema(&r->relmap, nsp);
}

/* table_wanted - does --tables select nsp.rel? */
bool
table_wanted(apply_replica_t *r, const char *nsp, const char *rel)
{
	return apply_relmap_wanted(&r->relmap, nsp, rel);
}

/* lookup - OID and relkind of nsp.rel on the replica; 1 if missing */
int
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
"       op.nsp, op.oprname, op.ltype, op.lsame, op.exact, bt.baseoid "
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
"LEFT JOIN LATERAL ("
"  WITH RECURSIVE d(oid, lvl) AS ("
"      SELECT a.atttypid, 0"
"      UNION ALL"
"      SELECT t.typbasetype, d.lvl + 1 FROM d JOIN pg_catalog.pg_type t ON t.oid = d.oid WHERE t.typtype = 'd')"
"  SELECT oid AS baseoid FROM d ORDER BY lvl DESC LIMIT 1) bt ON true "
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
int
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
	rs->colbin = calloc(rel->natts + 1, sizeof(bool));
	rs->eqop = calloc(rel->natts + 1, sizeof(char *));
	rs->eqcast = calloc(rel->natts + 1, sizeof(char *));
	if (!nsp || !name || (rel->flags & PROTO_REL_PARTITION && (!rnsp || !rname)) ||
		!rs->colq || !rs->coltypid || !rs->colbin || !rs->eqop || !rs->eqcast)
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
	if (rc == 1 && (r->opts->schema_follow || r->create_missing) && !rnsp)
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

		/*
		 * Binary values: the replica's receive function reads the bytes as
		 * its column's base type, so that type must be the source's (the
		 * types' names already matched; built-in OIDs are fixed, and only
		 * built-in types have a binary form here).
		 */
		rs->colbin[i] = !r->opts->text_values &&
			proto_value_send_ok(c->encoding, c->basetypoid) &&
			(uint32_t) strtoul(PQgetvalue(res, row, 8), NULL, 10) == c->basetypoid;
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
	rs->bincopy = true;
	for (int i = 0; i < rel->natts; i++)
		rs->bincopy = rs->bincopy && rs->colbin[i];

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
