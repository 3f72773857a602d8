/*
 * applier/copy.c
 *		COPY into the replica for runs of inserts, and rows rendered as lines
 *		of text COPY (also for the stage tables of coalesce.c).
 */
#include <stdio.h>
#include <string.h>

#include "replica_int.h"
#include "tide/value.h"
#include "copy.h"
#include "report.h"
#include "stmt.h"

int
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
int
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

int
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
void
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

int
copy_begin(apply_replica_t *r, apply_rel_t *rs)
{
	PGresult   *res;
	int			rc;

	if ((rc = go_plain(r)) != 0 || (rc = gate(r, 0)) != 0)
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
