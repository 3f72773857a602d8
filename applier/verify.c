/*
 * applier/verify.c
 *		`tide verify`: compare table contents between a source and a replica,
 *		chunk by chunk over the key, narrowing down to the differing rows.
 *
 * For each table the source's key space is cut into chunks of about --chunk
 * rows by keyset pagination: the next boundary is the key --chunk rows past
 * the previous one (`WHERE key > last ORDER BY key OFFSET chunk-1 LIMIT 1`,
 * so the offset never grows with the table).  Both sides then compute, for
 * the same key range, count(*) and an md5 over the md5 of every row's text
 * in key order, in one query each, sent to both servers at once.  A chunk
 * that differs is bisected at the median key of the side holding more rows
 * until a range holds at most LEAF_ROWS rows on either side; those rows are
 * then fetched (key text and row hash only) and matched one by one, so the
 * report says which keys differ, are missing on the replica, or are extra
 * there.  The client only ever holds aggregates and at most 2 x LEAF_ROWS
 * row hashes: memory does not grow with the table.
 *
 * The key is the primary key, else the replica identity index (what tide
 * apply matches rows by).  A table with neither is compared as a whole:
 * count and a hash of its sorted row hashes, with no ranges.
 *
 * Partitioned tables are compared through their root (partitions are not
 * listed on their own): tide apply routes a partition's changes to the
 * replica's root when the replica is partitioned differently, so the root
 * is the only level both sides are sure to share.
 *
 * Each table is read in one REPEATABLE READ READ ONLY transaction per side:
 * one snapshot of the source and one of the replica.  Rows the source
 * changed after the replica's position show as differences; verify is meant
 * for a quiesced source or a replica caught up to a known point.
 *
 * Row text must come out the same on both servers: both sessions fix the
 * output settings (DateStyle, IntervalStyle, extra_float_digits, TimeZone,
 * bytea_output, lc_monetary) and search_path = pg_catalog, and rows are
 * built from the source's columns by name, in the source's order (the
 * replica's column order and extra replica columns do not matter).  When
 * the two servers' encodings differ, rows are hashed as UTF-8.  Key columns
 * whose collation differs between the sides are compared under "C" on both
 * (correct, but the key index cannot serve the range scans).
 *
 * Identifiers go through PQescapeIdentifier; key values travel as text
 * parameters cast to each side's column type, never spliced into SQL.
 */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "tide/common.h"

#define LEAF_ROWS 16			/* bisect until a range has at most this */
#define MAX_RANGES 100			/* ranges reported per table */
#define MAX_KEYS 32				/* INDEX_MAX_KEYS */
#define MAX_PATTERNS 256
#define MAX_MAPS 64
#define SRC 0
#define DST 1

/*
 * A column's collation, described so the two servers can be compared:
 * "default" is resolved to the database's collation.
 */
#define VERIFY_COLL_SQL \
	"CASE WHEN a.attcollation = 0 THEN '' " \
	"WHEN a.attcollation = 100 THEN 'default:' || " \
	"(SELECT datcollate FROM pg_database WHERE datname = current_database()) " \
	"ELSE (SELECT collname FROM pg_collation WHERE oid = a.attcollation) END"

/* ------------------------------------------------------------- strings */

/* A growable string; allocation failure ends the program (as pg_dump's
 * pg_malloc does: there is nothing sensible to fall back to). */
typedef struct
{
	char	   *p;				/* owned, NUL-terminated once anything is put */
	size_t		n;
	size_t		cap;
} sb_t;

static void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
	{
		tide_log_error("out of memory");
		exit(TIDE_EXIT_BUG);
	}
	return p;
}

static char *
xstrdup(const char *s)
{
	size_t		n = strlen(s) + 1;

	return memcpy(xmalloc(n), s, n);
}

static void
sb_reserve(sb_t *b, size_t extra)
{
	if (b->cap - b->n > extra)
		return;
	while (b->cap - b->n <= extra)
		b->cap = b->cap ? 2 * b->cap : 256;
	b->p = realloc(b->p, b->cap);
	if (b->p == NULL)
	{
		tide_log_error("out of memory");
		exit(TIDE_EXIT_BUG);
	}
}

static void
sb_puts(sb_t *b, const char *s)
{
	size_t		n = strlen(s);

	sb_reserve(b, n);
	memcpy(b->p + b->n, s, n + 1);
	b->n += n;
}

static void sb_printf(sb_t *b, const char *fmt,...) __attribute__((format(printf, 2, 3)));

static void
sb_printf(sb_t *b, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	sb_reserve(b, (size_t) n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->n, (size_t) n + 1, fmt, ap);
	va_end(ap);
	b->n += (size_t) n;
}

static void
sb_reset(sb_t *b)
{
	b->n = 0;
	if (b->p)
		b->p[0] = '\0';
}

static void
sb_free(sb_t *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* sb_json - s as a JSON string */
static void
sb_json(sb_t *b, const char *s)
{
	sb_puts(b, "\"");
	for (const unsigned char *c = (const unsigned char *) s; *c; c++)
	{
		if (*c == '"' || *c == '\\')
			sb_printf(b, "\\%c", *c);
		else if (*c == '\n')
			sb_puts(b, "\\n");
		else if (*c == '\t')
			sb_puts(b, "\\t");
		else if (*c < 0x20)
			sb_printf(b, "\\u%04x", *c);
		else
		{
			sb_reserve(b, 1);
			b->p[b->n++] = (char) *c;
			b->p[b->n] = '\0';
		}
	}
	sb_puts(b, "\"");
}

/* ------------------------------------------------------------- state */

typedef struct
{
	PGconn	   *conn;			/* owned */
	const char *name;			/* "source" or "replica" */
	int			exit_code;		/* TIDE_EXIT_SOURCE or TIDE_EXIT_REPLICA */
} vside_t;

/* A key bound: v == NULL is unbounded (below everything or above). */
typedef struct
{
	char	  **v;				/* owned: nkeys value texts */
} bound_t;

/* What both sides compute for one key range. */
typedef struct
{
	long long	n;
	char		hash[33];		/* "" for an empty range */
} agg_t;

/* One table being compared; every string is owned. */
typedef struct
{
	char	   *display;		/* the source's schema.table, quoted as needed */
	char	   *rel[2];			/* "schema"."table" on each side */
	char	   *hash;			/* per-row hash expression */
	int			nkeys;			/* 0: no key, compared as a whole */
	char	   *klist;			/* key expressions, comma-separated */
	char	   *ktype[2][MAX_KEYS];	/* each side's key column types */
} vtable_t;

typedef struct
{
	vside_t		side[2];
	const char *conninfo[2];
	const char *tables[MAX_PATTERNS + 1];
	int			ntables;
	const char *map_src[MAX_MAPS];
	const char *map_dst[MAX_MAPS];
	int			nmaps;
	long long	chunk;
	bool		json;
	bool		utf8;			/* encodings differ: hash rows as UTF-8 */
	/* per table */
	sb_t		out;			/* owned: range lines of the current table */
	int			nranges;
	long long	more;			/* differing ranges past MAX_RANGES, not bisected */
} verify_t;

/* ------------------------------------------------------------- libpq */

/*
 * fail - log a failed command on one side the way psql would, prefixed by
 * what we were doing.  Returns that side's exit code.
 */
static int
fail(vside_t *s, PGresult *res, const char *what, const char *table)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
	char		ctx[1024];

	if (table)
		snprintf(ctx, sizeof(ctx), "%s \"%s\" on the %s", what, table, s->name);
	else
		snprintf(ctx, sizeof(ctx), "%s on the %s", what, s->name);
	if (msg == NULL)
	{
		const char *e = PQerrorMessage(s->conn);
		size_t		n = strlen(e);

		while (n > 0 && (e[n - 1] == '\n' || e[n - 1] == ' '))
			n--;
		tide_log_error("%s: %.*s", ctx, (int) n, e);
	}
	else
		tide_log_error("%s: %s", ctx, msg);
	if (detail)
		tide_log_detail("%s", detail);
	if (hint)
		tide_log_hint("%s", hint);
	return s->exit_code;
}

/* run - a command without parameters, expecting ok; logs on failure */
static int
run(vside_t *s, const char *sql, ExecStatusType ok, const char *what)
{
	PGresult   *res = PQexec(s->conn, sql);
	int			rc = 0;

	if (PQresultStatus(res) != ok)
		rc = fail(s, res, what, NULL);
	PQclear(res);
	return rc;
}

/* send - start a query; its result comes from collect() */
static int
send(vside_t *s, const char *sql, int n, const char *const *params,
	 const char *table)
{
	if (!PQsendQueryParams(s->conn, sql, n, NULL, params, NULL, NULL, 0))
		return fail(s, NULL, "could not compare table", table);
	return 0;
}

/*
 * collect - the result of the query send() started, rows expected; the
 * caller owns *out (NULL on failure, after logging).
 */
static int
collect(vside_t *s, PGresult **out, const char *table)
{
	PGresult   *res = PQgetResult(s->conn);
	PGresult   *extra;
	int			rc = 0;

	while ((extra = PQgetResult(s->conn)) != NULL)
		PQclear(extra);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		rc = fail(s, res, "could not compare table", table);
		PQclear(res);
		res = NULL;
	}
	*out = res;
	return rc;
}

/* query - send and collect on one side */
static int
query(vside_t *s, const char *sql, int n, const char *const *params,
	  PGresult **out, const char *table)
{
	int			rc = send(s, sql, n, params, table);

	if (rc != 0)
	{
		*out = NULL;
		return rc;
	}
	return collect(s, out, table);
}

static int
connect_side(verify_t *v, int i)
{
	const char *keys[] = {"dbname", "fallback_application_name", NULL};
	const char *vals[] = {v->conninfo[i], "tide verify", NULL};
	vside_t    *s = &v->side[i];

	s->conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(s->conn) != CONNECTION_OK)
	{
		const char *e = PQerrorMessage(s->conn);
		size_t		n = strlen(e);

		while (n > 0 && (e[n - 1] == '\n' || e[n - 1] == ' '))
			n--;
		tide_log_error("could not connect to the %s: %.*s", s->name, (int) n, e);
		tide_log_hint("check the %s connection string (%s)", s->name,
					  i == SRC ? "-s" : "-d");
		return s->exit_code;
	}

	/*
	 * Text forms must agree between the servers whatever their defaults;
	 * search_path = pg_catalog makes format_type() qualify every user type
	 * and keeps user functions out of our queries.
	 */
	return run(s, "SET search_path = pg_catalog; SET DateStyle = ISO, MDY; "
			   "SET IntervalStyle = postgres; SET extra_float_digits = 1; "
			   "SET TimeZone = 'UTC'; SET bytea_output = 'hex'; "
			   "SET lc_monetary = 'C'; SET client_encoding = 'UTF8'; "
			   "SET statement_timeout = 0",
			   PGRES_COMMAND_OK, "could not set up the session");
}

/* ------------------------------------------------------------- SQL pieces */

static char *
quote_ident(PGconn *conn, const char *s)
{
	char	   *q = PQescapeIdentifier(conn, s, strlen(s));
	char	   *copy;

	if (q == NULL)
	{
		tide_log_error("could not quote identifier \"%s\": %s", s, PQerrorMessage(conn));
		exit(TIDE_EXIT_BUG);
	}
	copy = xstrdup(q);
	PQfreemem(q);
	return copy;
}

/* row_cmp - "(k1, k2) OP ($n::t1, $n+1::t2)", appending the parameters */
static void
row_cmp(sb_t *sql, const vtable_t *t, int side, const char *op,
		const bound_t *b, const char **params, int *np)
{
	sb_printf(sql, "(%s) %s (", t->klist, op);
	for (int k = 0; k < t->nkeys; k++)
	{
		params[*np] = b->v[k];
		(*np)++;
		sb_printf(sql, "%s$%d::%s", k ? ", " : "", *np, t->ktype[side][k]);
	}
	sb_puts(sql, ")");
}

/* where_range - " WHERE key > lo AND key <= hi", unbounded ends left out */
static void
where_range(sb_t *sql, const vtable_t *t, int side, const bound_t *lo,
			const bound_t *hi, const char **params, int *np)
{
	const char *kw = " WHERE ";

	*np = 0;
	if (lo && lo->v)
	{
		sb_puts(sql, kw);
		row_cmp(sql, t, side, ">", lo, params, np);
		kw = " AND ";
	}
	if (hi && hi->v)
	{
		sb_puts(sql, kw);
		row_cmp(sql, t, side, "<=", hi, params, np);
	}
}

static void
bound_free(const vtable_t *t, bound_t *b)
{
	if (b->v)
		for (int k = 0; k < t->nkeys; k++)
			free(b->v[k]);
	free(b->v);
	b->v = NULL;
}

/* ------------------------------------------------------------- queries */

/*
 * nth_key - the key `offset` rows into (lo, hi] on one side, in key order;
 * out->v stays NULL when the range holds fewer rows, or, with not_last,
 * when that key is the range's last (so that the final chunk takes it
 * rather than leaving an empty chunk behind).
 */
static int
nth_key(verify_t *v, int side, const vtable_t *t, const bound_t *lo,
		const bound_t *hi, long long offset, bool not_last, bound_t *out)
{
	sb_t		sql = {0};
	const char *params[2 * MAX_KEYS];
	int			np;
	PGresult   *res;
	int			rc;

	out->v = NULL;
	sb_printf(&sql, "SELECT %s FROM %s x", t->klist, t->rel[side]);
	where_range(&sql, t, side, lo, hi, params, &np);
	sb_printf(&sql, " ORDER BY %s OFFSET %lld LIMIT %d", t->klist, offset, not_last ? 2 : 1);
	rc = query(&v->side[side], sql.p, np, params, &res, t->display);
	sb_free(&sql);
	if (rc != 0)
		return rc;
	if (PQntuples(res) == (not_last ? 2 : 1))
	{
		out->v = xmalloc(sizeof(char *) * t->nkeys);
		for (int k = 0; k < t->nkeys; k++)
			out->v[k] = xstrdup(PQgetvalue(res, 0, k));
	}
	PQclear(res);
	return 0;
}

/*
 * agg2 - count and hash of (lo, hi] on both sides, the two queries running
 * at once.  A table without key (nkeys 0) is hashed over its sorted row
 * hashes instead of in key order.
 */
static int
agg2(verify_t *v, const vtable_t *t, const bound_t *lo, const bound_t *hi,
	 agg_t a[2])
{
	const char *params[2][2 * MAX_KEYS];
	int			np[2];
	sb_t		sql[2] = {{0}, {0}};
	int			rc = 0;

	for (int s = 0; s < 2; s++)
	{
		if (t->nkeys == 0)
			sb_printf(&sql[s], "SELECT count(*), md5(string_agg(h, '' ORDER BY h COLLATE \"C\")) "
					  "FROM (SELECT %s AS h FROM %s x) s", t->hash, t->rel[s]);
		else
		{
			sb_printf(&sql[s], "SELECT count(*), md5(string_agg(%s, '' ORDER BY %s)) FROM %s x",
					  t->hash, t->klist, t->rel[s]);
			where_range(&sql[s], t, s, lo, hi, params[s], &np[s]);
		}
		if (t->nkeys == 0)
			np[s] = 0;
		if ((rc = send(&v->side[s], sql[s].p, np[s], params[s], t->display)) != 0)
			break;
	}
	for (int s = 0; s < 2 && rc == 0; s++)
	{
		PGresult   *res;

		if ((rc = collect(&v->side[s], &res, t->display)) != 0)
			break;
		a[s].n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		snprintf(a[s].hash, sizeof(a[s].hash), "%s", PQgetvalue(res, 0, 1));
		PQclear(res);
	}
	sb_free(&sql[0]);
	sb_free(&sql[1]);
	return rc;
}

static bool
agg_differ(const agg_t a[2])
{
	return a[0].n != a[1].n || strcmp(a[0].hash, a[1].hash) != 0;
}

static const char *
rows(long long n)
{
	return n == 1 ? "row" : "rows";
}

/* key_list - append the keys of a class to the text and JSON lines */
static void
key_list(sb_t *txt, sb_t *js, const char *label, const char *jlabel,
		 const char **keys, int n)
{
	sb_printf(js, ", \"%s\": [", jlabel);
	if (n > 0)
		sb_printf(txt, "; %s: ", label);
	for (int i = 0; i < n; i++)
	{
		sb_printf(txt, "%s%s", i ? ", " : "", keys[i]);
		if (i)
			sb_puts(js, ", ");
		sb_json(js, keys[i]);
	}
	sb_puts(js, "]");
}

/*
 * leaf - fetch the at most LEAF_ROWS rows of (lo, hi] from each side (key
 * text and row hash) and match them by key: rows that differ, rows missing
 * on the replica, rows only the replica has.  Both lists come in the same
 * key order, so walking them together gives the range's first and last
 * key without comparing values here.
 */
static int
leaf(verify_t *v, const vtable_t *t, const bound_t *lo, const bound_t *hi,
	 const agg_t a[2])
{
	const char *params[2][2 * MAX_KEYS];
	int			np[2];
	sb_t		sql[2] = {{0}, {0}};
	PGresult   *res[2] = {NULL, NULL};
	int			rc = 0;
	int			n[2];
	int			match[LEAF_ROWS + 1];
	bool		matched[LEAF_ROWS + 1] = {false};
	const char *differ[LEAF_ROWS + 1];
	const char *missing[LEAF_ROWS + 1];
	const char *extra[LEAF_ROWS + 1];
	int			nd = 0,
				nm = 0,
				ne = 0;
	const char *first = NULL;
	const char *last = NULL;
	sb_t		txt = {0};
	sb_t		js = {0};

	for (int s = 0; s < 2 && rc == 0; s++)
	{
		sb_printf(&sql[s], "SELECT ROW(%s)::text, %s FROM %s x", t->klist, t->hash, t->rel[s]);
		where_range(&sql[s], t, s, lo, hi, params[s], &np[s]);
		sb_printf(&sql[s], " ORDER BY %s LIMIT %d", t->klist, LEAF_ROWS + 1);
		rc = send(&v->side[s], sql[s].p, np[s], params[s], t->display);
	}
	for (int s = 0; s < 2 && rc == 0; s++)
		rc = collect(&v->side[s], &res[s], t->display);
	sb_free(&sql[0]);
	sb_free(&sql[1]);
	if (rc != 0)
		goto done;

	n[SRC] = PQntuples(res[SRC]);
	n[DST] = PQntuples(res[DST]);
	for (int i = 0; i < n[SRC]; i++)
	{
		match[i] = -1;
		for (int j = 0; j < n[DST] && match[i] < 0; j++)
			if (!matched[j] && strcmp(PQgetvalue(res[SRC], i, 0), PQgetvalue(res[DST], j, 0)) == 0)
			{
				match[i] = j;
				matched[j] = true;
			}
		if (match[i] < 0)
			missing[nm++] = PQgetvalue(res[SRC], i, 0);
		else if (strcmp(PQgetvalue(res[SRC], i, 1), PQgetvalue(res[DST], match[i], 1)) != 0)
			differ[nd++] = PQgetvalue(res[SRC], i, 0);
	}
	for (int j = 0; j < n[DST]; j++)
		if (!matched[j])
			extra[ne++] = PQgetvalue(res[DST], j, 0);

	/* first and last key of the merged order */
	{
		int			i = 0,
					j = 0;

		while (i < n[SRC] || j < n[DST])
		{
			const char *k;

			if (i < n[SRC] && (match[i] < 0 || match[i] == j || j >= n[DST]))
			{
				k = PQgetvalue(res[SRC], i, 0);
				if (match[i] == j)
					j++;
				i++;
			}
			else if (j < n[DST] && !matched[j])
				k = PQgetvalue(res[DST], j++, 0);
			else if (i < n[SRC])
				k = PQgetvalue(res[SRC], i++, 0);	/* orders disagree */
			else
				k = PQgetvalue(res[DST], j++, 0);
			if (first == NULL)
				first = k;
			last = k;
		}
	}

	sb_printf(&txt, "  keys %s .. %s: %lld %s on source, %lld on replica",
			  first ? first : "()", last ? last : "()", a[SRC].n, rows(a[SRC].n), a[DST].n);
	sb_puts(&js, "{\"table\": ");
	sb_json(&js, t->display);
	sb_puts(&js, ", \"range\": {\"from\": ");
	sb_json(&js, first ? first : "");
	sb_puts(&js, ", \"to\": ");
	sb_json(&js, last ? last : "");
	sb_printf(&js, "}, \"source_rows\": %lld, \"replica_rows\": %lld", a[SRC].n, a[DST].n);
	key_list(&txt, &js, "differing", "differing", differ, nd);
	key_list(&txt, &js, "missing on replica", "missing_on_replica", missing, nm);
	key_list(&txt, &js, "extra on replica", "extra_on_replica", extra, ne);
	if (nd + nm + ne == 0)
		sb_puts(&txt, "; rows equal one by one, but in another order (collation?)");
	sb_puts(&js, "}");
	sb_printf(&v->out, "%s\n", v->json ? js.p : txt.p);
	v->nranges++;

done:
	sb_free(&txt);
	sb_free(&js);
	PQclear(res[SRC]);
	PQclear(res[DST]);
	return rc;
}

/*
 * diff_range - (lo, hi] differs (a): bisect at the median key of the side
 * with more rows until a range is small enough for leaf().
 */
static int
diff_range(verify_t *v, const vtable_t *t, const bound_t *lo,
		   const bound_t *hi, const agg_t a[2])
{
	int			big = a[SRC].n >= a[DST].n ? SRC : DST;
	bound_t		mid;
	agg_t		al[2],
				ar[2];
	int			rc;

	if (v->nranges >= MAX_RANGES)
	{
		v->more++;
		return 0;
	}
	if (a[big].n <= LEAF_ROWS)
		return leaf(v, t, lo, hi, a);
	if ((rc = nth_key(v, big, t, lo, hi, a[big].n / 2 - 1, false, &mid)) != 0)
		return rc;
	if (mid.v == NULL)
	{
		/* the side changed under us: cannot happen in one snapshot */
		tide_log_error("table \"%s\" changed during verify on the %s", t->display,
					   v->side[big].name);
		return TIDE_EXIT_BUG;
	}
	if ((rc = agg2(v, t, lo, &mid, al)) == 0 && (rc = agg2(v, t, &mid, hi, ar)) == 0)
	{
		if (agg_differ(al))
			rc = diff_range(v, t, lo, &mid, al);
		if (rc == 0 && agg_differ(ar))
			rc = diff_range(v, t, &mid, hi, ar);
	}
	bound_free(t, &mid);
	return rc;
}

/* ------------------------------------------------------------- one table */

static void
table_free(vtable_t *t)
{
	free(t->display);
	free(t->rel[SRC]);
	free(t->rel[DST]);
	free(t->hash);
	free(t->klist);
	for (int s = 0; s < 2; s++)
		for (int k = 0; k < t->nkeys; k++)
			free(t->ktype[s][k]);
	memset(t, 0, sizeof(*t));
}

/* report_table - print the table's line and its ranges */
static void
report_table(verify_t *v, const vtable_t *t, bool equal, const char *why,
			 long long ns, long long nr, long long chunks)
{
	if (v->json)
	{
		sb_t		js = {0};

		sb_puts(&js, "{\"table\": ");
		sb_json(&js, t->display);
		sb_printf(&js, ", \"status\": \"%s\"", equal ? "equal" : "different");
		if (why)
		{
			sb_puts(&js, ", \"reason\": ");
			sb_json(&js, why);
		}
		else
		{
			sb_printf(&js, ", \"source_rows\": %lld, \"replica_rows\": %lld, \"keyed\": %s",
					  ns, nr, t->nkeys ? "true" : "false");
			if (t->nkeys)
				sb_printf(&js, ", \"chunks\": %lld, \"ranges\": %d, \"unnarrowed_ranges\": %lld",
						  chunks, v->nranges, v->more);
		}
		sb_puts(&js, "}");
		printf("%s\n", js.p);
		sb_free(&js);
	}
	else if (why)
		printf("%s: DIFFERENT: %s\n", t->display, why);
	else if (t->nkeys == 0 && equal)
		printf("%s: equal (%lld %s, no primary key or replica identity index: compared as a whole)\n",
			   t->display, ns, rows(ns));
	else if (t->nkeys == 0)
		printf("%s: DIFFERENT: %lld %s on source, %lld on replica (no primary key or replica identity index: compared as a whole, no ranges)\n",
			   t->display, ns, rows(ns), nr);
	else if (equal)
		printf("%s: equal (%lld %s, %lld %s)\n", t->display, ns, rows(ns), chunks,
			   chunks == 1 ? "chunk" : "chunks");
	else
		printf("%s: DIFFERENT: %d %s (%lld %s on source, %lld on replica, %lld %s)\n",
			   t->display, v->nranges, v->nranges == 1 ? "range" : "ranges",
			   ns, rows(ns), nr, chunks, chunks == 1 ? "chunk" : "chunks");
	if (v->out.n)
		fputs(v->out.p, stdout);
	if (v->more && !v->json)
		printf("  ... and %lld more differing %s not narrowed down (at most %d ranges per table)\n",
			   v->more, v->more == 1 ? "range" : "ranges", MAX_RANGES);
	fflush(stdout);
}

static const char *
map_schema(const verify_t *v, const char *nsp)
{
	for (int i = 0; i < v->nmaps; i++)
		if (strcmp(v->map_src[i], nsp) == 0)
			return v->map_dst[i];
	return nsp;
}

/*
 * setup_table - the table's columns and key on the source, and its
 * counterpart on the replica.  Sets *why (malloc'd) when the replica lacks
 * the table or a column: a difference, not an error.
 */
static int
setup_table(verify_t *v, vtable_t *t, const char *oid, const char *nsp,
			const char *relname, char **why)
{
	const char *dnsp = map_schema(v, nsp);
	const char *p1[1] = {oid};
	const char *p2[2] = {dnsp, relname};
	PGresult   *cols = NULL;
	PGresult   *keys = NULL;
	PGresult   *rcols = NULL;
	PGresult   *res = NULL;
	sb_t		row = {0};
	sb_t		kl = {0};
	bool		collate_c = false;
	int			rc;

	*why = NULL;
	if ((rc = query(&v->side[SRC],
					"SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
					"WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
					1, p1, &cols, t->display)) != 0)
		goto done;

	/*
	 * The key: primary key, else the replica identity index; only its key
	 * columns (not INCLUDE ones).  The collation is described so that the
	 * two sides can be checked to sort text keys alike.
	 */
	if ((rc = query(&v->side[SRC],
					"SELECT a.attname, format_type(a.atttypid, a.atttypmod), " VERIFY_COLL_SQL " "
					"FROM (SELECT i.indrelid, i.indkey, i.indnkeyatts FROM pg_index i "
					"      WHERE i.indrelid = $1 AND (i.indisprimary OR i.indisreplident) AND i.indisvalid "
					"      ORDER BY i.indisprimary DESC LIMIT 1) i "
					"CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord) "
					"JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
					"WHERE k.ord <= i.indnkeyatts ORDER BY k.ord",
					1, p1, &keys, t->display)) != 0)
		goto done;

	if ((rc = query(&v->side[DST],
					"SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
					"WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')",
					2, p2, &res, t->display)) != 0)
		goto done;
	if (PQntuples(res) != 1)
	{
		sb_t		w = {0};

		sb_puts(&w, "missing on the replica");
		if (dnsp != nsp)
			sb_printf(&w, " (looked for as %s.%s)", dnsp, relname);
		*why = w.p;
		goto done;
	}
	{
		const char *p3[1] = {PQgetvalue(res, 0, 0)};

		if ((rc = query(&v->side[DST],
						"SELECT a.attname, format_type(a.atttypid, a.atttypmod), " VERIFY_COLL_SQL " "
						"FROM pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped",
						1, p3, &rcols, t->display)) != 0)
			goto done;
	}

	{
		char	   *qn = quote_ident(v->side[SRC].conn, nsp);
		char	   *qr = quote_ident(v->side[SRC].conn, relname);
		char	   *dn = quote_ident(v->side[DST].conn, dnsp);
		sb_t		b = {0};

		sb_printf(&b, "%s.%s", qn, qr);
		t->rel[SRC] = b.p;
		memset(&b, 0, sizeof(b));
		sb_printf(&b, "%s.%s", dn, qr);
		t->rel[DST] = b.p;
		free(qn);
		free(qr);
		free(dn);
	}

	/* every source column must be on the replica, by name */
	sb_puts(&row, "ROW(");
	for (int i = 0; i < PQntuples(cols); i++)
	{
		const char *name = PQgetvalue(cols, i, 0);
		bool		found = false;
		char	   *q;

		for (int j = 0; j < PQntuples(rcols) && !found; j++)
			found = strcmp(PQgetvalue(rcols, j, 0), name) == 0;
		if (!found)
		{
			sb_t		w = {0};

			sb_printf(&w, "column \"%s\" is missing on the replica", name);
			*why = w.p;
			goto done;
		}
		q = quote_ident(v->side[SRC].conn, name);
		sb_printf(&row, "%sx.%s", i ? ", " : "", q);
		free(q);
	}
	sb_puts(&row, ")::text");

	t->nkeys = PQntuples(keys);
	if (t->nkeys > MAX_KEYS)
	{
		tide_log_error("table \"%s\" has a key of %d columns, more than %d", t->display, t->nkeys, MAX_KEYS);
		rc = TIDE_EXIT_BUG;
		t->nkeys = 0;
		goto done;
	}
	for (int k = 0; k < t->nkeys; k++)
	{
		const char *name = PQgetvalue(keys, k, 0);

		t->ktype[SRC][k] = xstrdup(PQgetvalue(keys, k, 1));
		t->ktype[DST][k] = NULL;
		for (int j = 0; j < PQntuples(rcols); j++)
			if (strcmp(PQgetvalue(rcols, j, 0), name) == 0)
			{
				t->ktype[DST][k] = xstrdup(PQgetvalue(rcols, j, 1));
				if (strcmp(PQgetvalue(rcols, j, 2), PQgetvalue(keys, k, 2)) != 0)
					collate_c = true;
			}
	}
	if (collate_c)
		tide_log_warning("key columns of \"%s\" have different collations on the source and the replica: comparing keys under collation \"C\" (slower: the key index cannot be used)",
						 t->display);
	for (int k = 0; k < t->nkeys; k++)
	{
		char	   *q = quote_ident(v->side[SRC].conn, PQgetvalue(keys, k, 0));

		sb_printf(&kl, "%sx.%s%s", k ? ", " : "", q,
				  collate_c && PQgetvalue(keys, k, 2)[0] ? " COLLATE \"C\"" : "");
		free(q);
	}
	t->klist = kl.p ? kl.p : xstrdup("");
	memset(&kl, 0, sizeof(kl));
	{
		sb_t		h = {0};

		if (v->utf8)
			sb_printf(&h, "md5(convert_to(%s, 'UTF8'))", row.p);
		else
			sb_printf(&h, "md5(%s)", row.p);
		t->hash = h.p;
	}

done:
	sb_free(&row);
	sb_free(&kl);
	PQclear(cols);
	PQclear(keys);
	PQclear(rcols);
	PQclear(res);
	return rc;
}

/*
 * verify_table - compare one table in one snapshot per side; prints its
 * report.  *equal tells the outcome; the return is 0 or an exit code.
 */
static int
verify_table(verify_t *v, const char *oid, const char *nsp, const char *relname,
			 const char *display, bool *equal)
{
	vtable_t	t = {0};
	char	   *why = NULL;
	long long	ns = 0,
				nr = 0,
				chunks = 0;
	int			rc;

	*equal = false;
	t.display = xstrdup(display);
	sb_reset(&v->out);
	v->nranges = 0;
	v->more = 0;
	for (int s = 0; s < 2; s++)
		if ((rc = run(&v->side[s], "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
					  PGRES_COMMAND_OK, "could not start a transaction")) != 0)
			goto done;
	if ((rc = setup_table(v, &t, oid, nsp, relname, &why)) != 0)
		goto done;
	if (why)
	{
		report_table(v, &t, false, why, 0, 0, 0);
		goto done;
	}

	if (t.nkeys == 0)
	{
		agg_t		a[2];

		if ((rc = agg2(v, &t, NULL, NULL, a)) != 0)
			goto done;
		*equal = !agg_differ(a);
		report_table(v, &t, *equal, NULL, a[SRC].n, a[DST].n, 1);
		goto done;
	}

	{
		bound_t		lo = {NULL};
		bound_t		hi = {NULL};

		for (;;)
		{
			agg_t		a[2];

			if ((rc = nth_key(v, SRC, &t, &lo, NULL, v->chunk - 1, true, &hi)) != 0)
				break;
			if ((rc = agg2(v, &t, &lo, &hi, a)) != 0)
				break;
			chunks++;
			ns += a[SRC].n;
			nr += a[DST].n;
			if (agg_differ(a) && (rc = diff_range(v, &t, &lo, &hi, a)) != 0)
				break;
			bound_free(&t, &lo);
			if (hi.v == NULL)
				break;
			lo = hi;
			hi.v = NULL;
		}
		bound_free(&t, &lo);
		bound_free(&t, &hi);
		if (rc != 0)
			goto done;
		*equal = v->nranges == 0 && v->more == 0;
		report_table(v, &t, *equal, NULL, ns, nr, chunks);
	}

done:
	for (int s = 0; s < 2; s++)
		if (PQtransactionStatus(v->side[s].conn) != PQTRANS_IDLE && rc == 0)
			rc = run(&v->side[s], "COMMIT", PGRES_COMMAND_OK, "could not end the transaction");
	free(why);
	table_free(&t);
	return rc;
}

/* ------------------------------------------------------------- command */

static void
verify_usage(FILE *f)
{
	fprintf(f,
			"Usage: tide verify -s SOURCE_CONNINFO -d REPLICA_CONNINFO [OPTIONS]\n\n"
			"Compare the contents of the source's tables with the replica's, chunk by\n"
			"chunk over the primary key (or replica identity index), and narrow each\n"
			"difference down to a range of at most %d rows.  Tables are those of every\n"
			"non-system schema of the source (partitioned tables through their root);\n"
			"a table without key is compared as a whole.  Each table is read in one\n"
			"REPEATABLE READ snapshot per side: run it against a quiesced source, or\n"
			"expect rows changed after the replica's position to show as differences.\n\n"
			"Options:\n"
			"  -s, --source=CONNINFO  the source (connection string or database name)\n"
			"  -d, --dbname=CONNINFO  the replica\n"
			"      --tables=PATTERN   only tables matching schema.table (* wildcard);\n"
			"                         repeat or separate with commas\n"
			"      --map=SRC=DST      compare source schema SRC with replica schema DST\n"
			"      --chunk=N          rows per chunk (default 10000)\n"
			"      --json             one JSON object per line\n"
			"  -h, --help             this help\n\n"
			"Exit codes: 0 all tables equal, 1 some table differs (or is missing on\n"
			"the replica), 2 bad arguments, 3 source connection or query error,\n"
			"4 replica connection or query error.\n", LEAF_ROWS);
}

static int
parse_opts(verify_t *v, int argc, char **argv)
{
	static const struct option opts[] = {
		{"source", required_argument, NULL, 's'},
		{"dbname", required_argument, NULL, 'd'},
		{"tables", required_argument, NULL, 1},
		{"map", required_argument, NULL, 2},
		{"chunk", required_argument, NULL, 3},
		{"json", no_argument, NULL, 4},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int			c;
	int			rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:d:h", opts, NULL)) != -1)
	{
		switch (c)
		{
			case 's':
				v->conninfo[SRC] = optarg;
				break;
			case 'd':
				v->conninfo[DST] = optarg;
				break;
			case 1:
				{
					char	   *save = NULL;

					for (char *p = strtok_r(optarg, ",", &save); p; p = strtok_r(NULL, ",", &save))
					{
						if (v->ntables == MAX_PATTERNS)
						{
							tide_log_error("too many --tables patterns (at most %d)", MAX_PATTERNS);
							return TIDE_EXIT_USAGE;
						}
						v->tables[v->ntables++] = p;
					}
					break;
				}
			case 2:
				{
					char	   *eq = strchr(optarg, '=');

					if (eq == NULL || eq == optarg || eq[1] == '\0' || strchr(eq + 1, '='))
					{
						tide_log_error("invalid --map \"%s\"", optarg);
						tide_log_hint("use --map SOURCE_SCHEMA=REPLICA_SCHEMA");
						return TIDE_EXIT_USAGE;
					}
					if (v->nmaps == MAX_MAPS)
					{
						tide_log_error("too many --map options (at most %d)", MAX_MAPS);
						return TIDE_EXIT_USAGE;
					}
					*eq = '\0';
					v->map_src[v->nmaps] = optarg;
					v->map_dst[v->nmaps++] = eq + 1;
					break;
				}
			case 3:
				{
					int64_t		n;

					if ((rc = tide_opt_int("--chunk", optarg, 1, INT32_MAX, &n)) != 0)
						return rc;
					v->chunk = n;
					break;
				}
			case 4:
				v->json = true;
				break;
			case 'h':
				verify_usage(stdout);
				return -1;
			default:
				verify_usage(stderr);
				return TIDE_EXIT_USAGE;
		}
	}
	if (optind < argc)
	{
		tide_log_error("unexpected argument \"%s\"", argv[optind]);
		verify_usage(stderr);
		return TIDE_EXIT_USAGE;
	}
	if (v->conninfo[SRC] == NULL || v->conninfo[DST] == NULL)
	{
		tide_log_error("no %s given", v->conninfo[SRC] == NULL ? "source" : "replica");
		tide_log_hint("give both servers: -s SOURCE_CONNINFO -d REPLICA_CONNINFO");
		return TIDE_EXIT_USAGE;
	}
	v->tables[v->ntables] = NULL;
	return 0;
}

static bool
table_wanted(const verify_t *v, const char *nsp, const char *rel)
{
	char		name[2 * 64 + 2];

	if (v->ntables == 0)
		return true;
	snprintf(name, sizeof(name), "%s.%s", nsp, rel);
	for (int i = 0; i < v->ntables; i++)
		if (fnmatch(v->tables[i], name, 0) == 0)
			return true;
	return false;
}

/*
 * tide_cmd_verify - `tide verify`.  Returns TIDE_EXIT_OK when every table
 * is equal, TIDE_EXIT_DIFFERENT when one is not, else the exit code of the
 * failure (logged).
 */
int
tide_cmd_verify(int argc, char **argv)
{
	verify_t	v;
	PGresult   *list = NULL;
	int			rc;
	int			nequal = 0,
				ndiff = 0;
	struct timespec t0,
				t1;

	memset(&v, 0, sizeof(v));
	v.chunk = 10000;
	v.side[SRC].name = "source";
	v.side[SRC].exit_code = TIDE_EXIT_SOURCE;
	v.side[DST].name = "replica";
	v.side[DST].exit_code = TIDE_EXIT_REPLICA;
	if ((rc = parse_opts(&v, argc, argv)) != 0)
		return rc < 0 ? TIDE_EXIT_OK : rc;
	clock_gettime(CLOCK_MONOTONIC, &t0);

	if ((rc = connect_side(&v, SRC)) != 0 || (rc = connect_side(&v, DST)) != 0)
		goto done;
	{
		const char *e1 = PQparameterStatus(v.side[SRC].conn, "server_encoding");
		const char *e2 = PQparameterStatus(v.side[DST].conn, "server_encoding");

		v.utf8 = e1 == NULL || e2 == NULL || strcmp(e1, e2) != 0;
	}

	/*
	 * Tables of the non-system schemas; partitions only through their root.
	 * The "tide" schema holds tide apply's progress table, never replicated.
	 */
	if ((rc = query(&v.side[SRC],
					"SELECT c.oid, n.nspname, c.relname, format('%I.%I', n.nspname, c.relname) "
					"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
					"WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
					"AND n.nspname !~ '^pg_' AND n.nspname NOT IN ('information_schema', 'tide') "
					"ORDER BY n.nspname, c.relname",
					0, NULL, &list, NULL)) != 0)
	{
		tide_log_detail("listing the tables");
		goto done;
	}
	for (int i = 0; i < PQntuples(list); i++)
	{
		bool		equal;

		if (!table_wanted(&v, PQgetvalue(list, i, 1), PQgetvalue(list, i, 2)))
			continue;
		if ((rc = verify_table(&v, PQgetvalue(list, i, 0), PQgetvalue(list, i, 1),
							   PQgetvalue(list, i, 2), PQgetvalue(list, i, 3), &equal)) != 0)
			goto done;
		if (equal)
			nequal++;
		else
			ndiff++;
	}
	if (nequal + ndiff == 0)
		tide_log_warning("no table to compare%s", v.ntables ? " matches --tables" : " on the source");

	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (v.json)
		printf("{\"summary\": true, \"equal\": %d, \"different\": %d, \"seconds\": %.3f}\n",
			   nequal, ndiff, (double) (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	else
		printf("verify: %d %s equal, %d different\n", nequal, nequal == 1 ? "table" : "tables", ndiff);
	fflush(stdout);
	rc = ndiff ? TIDE_EXIT_DIFFERENT : TIDE_EXIT_OK;

done:
	PQclear(list);
	sb_free(&v.out);
	PQfinish(v.side[SRC].conn);
	PQfinish(v.side[DST].conn);
	return rc;
}
