/*
 * applier/copy.c
 *		COPY into the replica for runs of inserts, and rows rendered as lines
 *		of text COPY (also for the stage tables of coalesce.c).
 *
 * A table whose every column the replica can read in binary (relation.c
 * sets rs->bincopy: the replica column's base type is the source's, and
 * proto_value_send knows its send format) is copied in COPY's binary
 * format: fixed-width values go as they arrived, byte order turned, and
 * the replica runs each type's receive function instead of parsing text
 * (no int8in, timestamptz_in or numeric_in, no COPY escapes).  Others take
 * text COPY, as --values text makes every table do.
 */
#include <stdio.h>
#include <string.h>

#include "replica_int.h"
#include "tide/value.h"
#include "copy.h"
#include "report.h"
#include "stmt.h"

/* value_error - log that a value of col could not be converted (rc) */
void
value_error(const apply_rel_t *rs, const proto_column_t *col, int rc)
{
	tide_log_error("could not convert a value of column \"%.*s\" of table \"%s\": %s",
				   (int) col->name.n, col->name.p, rs->display, tide_strerror(rc));
}

/* copy_from_stdin - the end of a COPY statement for rs's rows */
const char *
copy_from_stdin(const apply_rel_t *rs)
{
	return rs->bincopy ? " FROM STDIN (FORMAT binary)" : " FROM STDIN";
}

/* copy_header - binary COPY's signature, no flags, no header extension */
void
copy_header(proto_wbuf_t *b)
{
	proto_put_bytes(b, "PGCOPY\n\377\r\n\0", 11);
	proto_put_bytes(b, "\0\0\0\0\0\0\0\0", 8);
}

/* copy_trailer - binary COPY's end: a field count of -1 */
void
copy_trailer(proto_wbuf_t *b)
{
	proto_put_u8(b, 0xff);
	proto_put_u8(b, 0xff);
}

int
copy_end(apply_replica_t *r)
{
	PGresult   *res;
	int			rc = 0;
	char		what[1100];

	if (r->copy_rel == NULL)
		return 0;
	snprintf(what, sizeof(what), "could not copy rows into table \"%s\"", r->copy_rel->display);
	if (r->copy_rel->bincopy)
		copy_trailer(&r->copybuf);
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

/* put_be32 - a 32-bit integer, network byte order, at b[at] */
static void
put_be32_at(proto_wbuf_t *b, size_t at, uint32_t v)
{
	b->data[at] = (uint8_t) (v >> 24);
	b->data[at + 1] = (uint8_t) (v >> 16);
	b->data[at + 2] = (uint8_t) (v >> 8);
	b->data[at + 3] = (uint8_t) v;
}

/*
 * binary_line - a row as one tuple of binary COPY in r->line: a 16-bit
 * field count, then each field as a 32-bit length (-1: NULL) and the
 * type's send format.
 */
static int
binary_line(apply_replica_t *r, apply_rel_t *rs, const proto_relation_t *rel,
			const proto_tuple_t *t, bool keys_only)
{
	int			n = 0;

	for (int i = 0; i < rel->natts; i++)
		n += !keys_only || (rel->cols[i].flags & PROTO_COL_KEY);
	proto_wbuf_reset(&r->line);
	proto_put_u8(&r->line, (uint8_t) (n >> 8));
	proto_put_u8(&r->line, (uint8_t) n);
	for (int i = 0; i < rel->natts; i++)
	{
		const proto_datum_t *d = &t->cols[i];
		size_t		at = r->line.len;
		int			rc;

		if (keys_only && !(rel->cols[i].flags & PROTO_COL_KEY))
			continue;
		proto_put_bytes(&r->line, "\xff\xff\xff\xff", 4);
		if (d->kind != PROTO_DATUM_VALUE)
			continue;
		rc = proto_value_send(&r->line, rel->cols[i].encoding, rel->cols[i].basetypoid,
							  d->data, d->len);
		if (rc != 0 || r->line.err)
		{
			if (r->line.err)
				return TIDE_EXIT_BUG;
			value_error(rs, &rel->cols[i], rc);
			return TIDE_EXIT_CORRUPT;
		}
		put_be32_at(&r->line, at, (uint32_t) (r->line.len - at - 4));
	}
	return r->line.err ? TIDE_EXIT_BUG : 0;
}

/*
 * render_line - a row (or, with keys_only, its key columns) as one line of
 * COPY in r->line: a binary COPY tuple for a table whose values all go in
 * binary (rs->bincopy), else text.  Returns 1 when a value can only travel
 * in binary and the table takes text (the caller switches it to INSERT
 * statements).
 */
int
render_line(apply_replica_t *r, apply_rel_t *rs, const proto_relation_t *rel,
			const proto_tuple_t *t, bool keys_only)
{
	bool		first = true;

	if (rs->bincopy)
		return binary_line(r, rs, rel, t, keys_only);

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
			value_error(rs, &rel->cols[i], rc);
			return TIDE_EXIT_CORRUPT;
		}
		copy_escape(&r->line, r->tmp.data, r->tmp.len);
	}
	proto_put_u8(&r->line, '\n');
	return r->line.err ? TIDE_EXIT_BUG : 0;
}

/* copy_row - one row into the open COPY (render_line's returns) */
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
	sql_put(&r->sql, copy_from_stdin(rs));
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
	if (rs->bincopy)
		copy_header(&r->copybuf);
	return 0;
}
