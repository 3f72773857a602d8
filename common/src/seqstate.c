/*
 * common/src/seqstate.c
 *		Sequence states: the one query that reads them, the "tide.seq"
 *		payload's writer and reader, and the forward comparison.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tide/seqstate.h"

/*
 * The states in one statement.  last_value and is_called live in the
 * sequence relation itself; pg_sequences shows last_value as NULL until
 * the first nextval, which would lose a setval(..., false) done after a
 * bulk load.  query_to_xml runs the per-sequence SELECT inside the same
 * statement (and snapshot), only for sequences the role may read, so a
 * sequence it may not read is listed without its state instead of failing
 * the whole query.  Other sessions' temporary sequences are not readable
 * at all and are left out.  The owning table (serial: 'a', identity: 'i'
 * dependency) lets readers apply table filters.
 */
const char *const tide_seq_sql =
"WITH q AS MATERIALIZED ("
"  SELECT c.oid, n.nspname, c.relname, s.seqincrement, s.seqcycle,"
"         pg_catalog.has_table_privilege(c.oid, 'SELECT') AS readable"
"  FROM pg_catalog.pg_sequence s"
"  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) s.seqrelid"
"  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
"  WHERE c.relkind OPERATOR(pg_catalog.=) 'S' AND c.relpersistence OPERATOR(pg_catalog.<>) 't'"
"    AND n.nspname OPERATOR(pg_catalog.!~) '^pg_'"
"    AND n.nspname OPERATOR(pg_catalog.<>) 'information_schema') "
"SELECT q.nspname, q.relname, q.seqincrement, q.seqcycle, q.readable,"
"       (pg_catalog.xpath('/table/row/last_value/text()', x.d))[1]::pg_catalog.text,"
"       (pg_catalog.xpath('/table/row/is_called/text()', x.d))[1]::pg_catalog.text,"
"       o.nspname, o.relname "
"FROM q "
"CROSS JOIN LATERAL (SELECT CASE WHEN q.readable THEN pg_catalog.query_to_xml("
"       pg_catalog.format('SELECT last_value, is_called FROM %I.%I', q.nspname, q.relname),"
"       false, false, '') END) x(d) "
"LEFT JOIN LATERAL ("
"  SELECT tn.nspname, t.relname FROM pg_catalog.pg_depend d"
"  JOIN pg_catalog.pg_class t ON t.oid OPERATOR(pg_catalog.=) d.refobjid"
"  JOIN pg_catalog.pg_namespace tn ON tn.oid OPERATOR(pg_catalog.=) t.relnamespace"
"  WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass"
"    AND d.objid OPERATOR(pg_catalog.=) q.oid"
"    AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass"
"    AND d.deptype OPERATOR(pg_catalog.=) ANY ('{a,i}') LIMIT 1) o ON true "
"ORDER BY 1, 2";

static void
set_err(char *err, size_t errlen, const char *what, const char *why)
{
	size_t		n;

	snprintf(err, errlen, "%s%s%s", what, why ? ": " : "", why ? why : "");
	n = strlen(err);
	while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
		err[--n] = '\0';
}

static void
seq_free(tide_seq_t *s)
{
	free(s->schema);
	free(s->name);
	free(s->owner_schema);
	free(s->owner_table);
	memset(s, 0, sizeof(*s));
}

void
tide_seqlist_free(tide_seqlist_t *l)
{
	for (size_t i = 0; l->v && i < l->n; i++)
		seq_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int
tide_seq_from_result(PGconn *conn, PGresult *res, tide_seqlist_t *out, char *err, size_t errlen)
{
	int			n;

	out->v = NULL;
	out->n = 0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != 9)
	{
		const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

		set_err(err, errlen, "could not read the sequences' states", m ? m : PQerrorMessage(conn));
		return -1;
	}
	n = PQntuples(res);
	if (n > 0 && (out->v = calloc((size_t) n, sizeof(tide_seq_t))) == NULL)
	{
		set_err(err, errlen, "out of memory", NULL);
		return -1;
	}
	for (int i = 0; i < n; i++)
	{
		tide_seq_t *s = &out->v[out->n++];
		bool		oom = false;

		s->schema = strdup(PQgetvalue(res, i, 0));
		s->name = strdup(PQgetvalue(res, i, 1));
		s->increment = strtoll(PQgetvalue(res, i, 2), NULL, 10);
		s->cycle = PQgetvalue(res, i, 3)[0] == 't';
		s->readable = PQgetvalue(res, i, 4)[0] == 't' && !PQgetisnull(res, i, 5) &&
			!PQgetisnull(res, i, 6);
		if (s->readable)
		{
			s->last_value = strtoll(PQgetvalue(res, i, 5), NULL, 10);
			s->is_called = strcmp(PQgetvalue(res, i, 6), "true") == 0;
		}
		if (!PQgetisnull(res, i, 7))
		{
			s->owner_schema = strdup(PQgetvalue(res, i, 7));
			s->owner_table = strdup(PQgetvalue(res, i, 8));
			oom = !s->owner_schema || !s->owner_table;
		}
		if (oom || !s->schema || !s->name)
		{
			tide_seqlist_free(out);
			set_err(err, errlen, "out of memory", NULL);
			return -1;
		}
	}
	return 0;
}

int
tide_seq_read(PGconn *conn, tide_seqlist_t *out, char *err, size_t errlen)
{
	PGresult   *res = PQexec(conn, tide_seq_sql);
	int			rc = tide_seq_from_result(conn, res, out, err, errlen);

	PQclear(res);
	return rc;
}

char *
tide_seq_payload(const tide_seqlist_t *l, bool (*keep) (const tide_seq_t *s, void *arg),
				 void *arg, size_t *count)
{
	json_t	   *root = json_object();
	json_t	   *arr = json_array();
	char	   *text = NULL;
	bool		ok = root && arr;

	*count = 0;
	if (ok)
		ok = json_object_set_new(root, "v", json_integer(TIDE_SEQ_VERSION)) == 0;
	for (size_t i = 0; ok && i < l->n; i++)
	{
		const tide_seq_t *s = &l->v[i];
		json_t	   *o;

		if (!s->readable || (keep && !keep(s, arg)))
			continue;
		o = json_pack("{s:s, s:s, s:I, s:b, s:I, s:b}",
					  "schema", s->schema, "name", s->name,
					  "last_value", (json_int_t) s->last_value, "is_called", (int) s->is_called,
					  "increment", (json_int_t) s->increment, "cycle", (int) s->cycle);
		if (o && s->owner_schema)
		{
			json_t	   *ob = json_pack("{s:s, s:s}", "schema", s->owner_schema,
									   "table", s->owner_table);

			if (ob == NULL || json_object_set_new(o, "owned_by", ob) != 0)
			{
				json_decref(o);
				o = NULL;
			}
		}
		ok = o && json_array_append_new(arr, o) == 0;
		if (ok)
			(*count)++;
	}
	if (ok && json_object_set(root, "sequences", arr) == 0)
		text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(arr);
	json_decref(root);
	return text;
}

/* str_of - o[key] as a malloc'd string; NULL (err set) if absent or not one */
static char *
str_of(json_t *o, const char *key, size_t i, char *err, size_t errlen)
{
	json_t	   *v = json_object_get(o, key);
	char	   *s;

	if (!json_is_string(v) || json_string_length(v) == 0 ||
		strlen(json_string_value(v)) != json_string_length(v))
	{
		snprintf(err, errlen, "sequence %zu of the payload has no valid \"%s\"", i + 1, key);
		return NULL;
	}
	if ((s = strdup(json_string_value(v))) == NULL)
		snprintf(err, errlen, "out of memory");
	return s;
}

int
tide_seq_parse(const char *data, size_t len, tide_seqlist_t *out, char *err, size_t errlen)
{
	json_error_t je;
	json_t	   *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	json_t	   *arr;
	json_t	   *ver;
	size_t		n;

	out->v = NULL;
	out->n = 0;
	if (root == NULL || !json_is_object(root))
	{
		snprintf(err, errlen, "the payload is not a JSON object%s%s", root ? "" : ": ",
				 root ? "" : je.text);
		json_decref(root);
		return -1;
	}
	ver = json_object_get(root, "v");
	if (!json_is_integer(ver) || json_integer_value(ver) < 1)
	{
		snprintf(err, errlen, "the payload has no valid version \"v\"");
		json_decref(root);
		return -1;
	}
	if (json_integer_value(ver) > TIDE_SEQ_VERSION)
	{
		snprintf(err, errlen, "the payload has version %lld, this tide reads up to version %d",
				 (long long) json_integer_value(ver), TIDE_SEQ_VERSION);
		json_decref(root);
		return -1;
	}
	arr = json_object_get(root, "sequences");
	if (!json_is_array(arr))
	{
		snprintf(err, errlen, "the payload has no \"sequences\" array");
		json_decref(root);
		return -1;
	}
	n = json_array_size(arr);
	if (n > 0 && (out->v = calloc(n, sizeof(tide_seq_t))) == NULL)
	{
		snprintf(err, errlen, "out of memory");
		json_decref(root);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
	{
		json_t	   *o = json_array_get(arr, i);
		tide_seq_t *s = &out->v[out->n++];
		json_t	   *lv,
				   *ic,
				   *inc,
				   *cy,
				   *ob;

		if (!json_is_object(o))
		{
			snprintf(err, errlen, "sequence %zu of the payload is not an object", i + 1);
			goto bad;
		}
		if ((s->schema = str_of(o, "schema", i, err, errlen)) == NULL ||
			(s->name = str_of(o, "name", i, err, errlen)) == NULL)
			goto bad;
		lv = json_object_get(o, "last_value");
		ic = json_object_get(o, "is_called");
		inc = json_object_get(o, "increment");
		cy = json_object_get(o, "cycle");
		if (!json_is_integer(lv) || !json_is_boolean(ic) || !json_is_integer(inc) ||
			json_integer_value(inc) == 0 || (cy && !json_is_boolean(cy)))
		{
			snprintf(err, errlen, "sequence \"%s.%s\" of the payload has no valid last_value, is_called and increment",
					 s->schema, s->name);
			goto bad;
		}
		s->last_value = json_integer_value(lv);
		s->is_called = json_is_true(ic);
		s->increment = json_integer_value(inc);
		s->cycle = json_is_true(cy);
		s->readable = true;
		ob = json_object_get(o, "owned_by");
		if (ob && !json_is_null(ob))
		{
			if (!json_is_object(ob) ||
				(s->owner_schema = str_of(ob, "schema", i, err, errlen)) == NULL ||
				(s->owner_table = str_of(ob, "table", i, err, errlen)) == NULL)
				goto bad;
		}
	}
	json_decref(root);
	return 0;
bad:
	json_decref(root);
	tide_seqlist_free(out);
	return -1;
}

const char *const tide_seq_emit_sql =
"SELECT pg_catalog.pg_logical_emit_message(true, $1::pg_catalog.text, $2::pg_catalog.text)";

int
tide_seq_emit(PGconn *conn, const char *payload, char *lsn, size_t lsnlen, char *err,
			  size_t errlen)
{
	const char *vals[2] = {TIDE_SEQ_PREFIX, payload};
	PGresult   *res = PQexecParams(conn, tide_seq_emit_sql, 2, NULL, vals, NULL, NULL, 0);
	int			rc = tide_seq_emitted(conn, res, lsn, lsnlen, err, errlen);

	PQclear(res);
	return rc;
}

int
tide_seq_emitted(PGconn *conn, PGresult *res, char *lsn, size_t lsnlen, char *err, size_t errlen)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) != 1)
	{
		const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

		set_err(err, errlen, "could not emit the sequences' states", m ? m : PQerrorMessage(conn));
		return -1;
	}
	if (lsn)
		snprintf(lsn, lsnlen, "%s", PQgetvalue(res, 0, 0));
	return 0;
}

bool
tide_seq_ahead(int64_t increment, int64_t a_last, bool a_called, int64_t b_last,
			   bool b_called)
{
	__int128	a = (__int128) a_last - (a_called ? 0 : increment);
	__int128	b = (__int128) b_last - (b_called ? 0 : increment);

	return increment > 0 ? a > b : a < b;
}
