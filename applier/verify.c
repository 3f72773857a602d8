/*
 * applier/verify.c
 *		`tide verify`: compare table contents between a source and a replica,
 *		chunk by chunk over the key, narrowing down to the differing rows.
 *
 * Every table is compared in one of three ways, chosen per table:
 *
 * By key ranges, when every key column has the same type and the same
 * collation (provider, locale, library version) on both sides, so that both
 * servers order keys alike.  The source's key space is cut into chunks of
 * about --chunk rows by keyset pagination: the next boundary is the key
 * --chunk rows past the previous one (`WHERE key > last ORDER BY key OFFSET
 * chunk-1 LIMIT 1`, so the offset never grows with the table).  Both sides
 * then compute, for the same key range, count(*) and two sums of the 64-bit
 * halves of every row's md5, in one query each, sent to both servers at
 * once: a multiset hash that needs no sort and no string growing with the
 * chunk.  A chunk that differs is bisected at the median key of the side
 * holding more rows until a range holds at most LEAF_ROWS rows on either
 * side; those rows are then fetched (key text and row hash only) and
 * matched one by one, so the report says which keys differ, are missing on
 * the replica, or are extra there.  Comparisons and ORDER BY use the
 * operators of the key index's btree operator class, schema-qualified, so
 * ranges and order always agree and no user operator is ever picked.
 *
 * By key hash, when a key column's type or collation differs: the two
 * servers would order keys differently, and comparing under "C" defeats the
 * key index (a scan and sort of the table per chunk: quadratic).  Rows are
 * spread instead over ceil(rows / --chunk) buckets by the md5 of their key
 * text; each side computes count and hash per bucket in one pass (GROUP BY),
 * and the rows of the buckets that differ are fetched in one more pass,
 * ordered by bucket and key bytes, and merged here.  A fixed number of
 * scans whatever the table's size.
 *
 * By row hash, when the table has no key (neither primary key nor replica
 * identity index): the same, with the bucket taken from the row's md5; the
 * differing buckets tell how many rows only one side has (duplicates count).
 *
 * Results are read in single-row mode: the client holds aggregates, one
 * bucket row per side, and at most 2 x LEAF_ROWS row hashes, whatever the
 * table's size; the server never builds a value that grows with the table.
 *
 * Partitioned tables are compared through their root (partitions are not
 * listed on their own): tide apply routes a partition's changes to the
 * replica's root when the replica is partitioned differently, so the root
 * is the only level both sides are sure to share.  tide's own table on the
 * replica, tide.progress, is never compared; a user schema named "tide" is.
 *
 * Each table is read in one REPEATABLE READ READ ONLY transaction per side:
 * one snapshot of the source and one of the replica.  Rows the source
 * changed after the replica's position show as differences; verify is meant
 * for a quiesced source or a replica caught up to a known point.  A table
 * that cannot be read on one side (permissions, row-level security, a
 * statement error) is reported and the run goes on with the next one; the
 * exit code says so at the end.
 *
 * Sessions: search_path is emptied first thing (CVE-2018-1058), every
 * object, function and operator in the SQL is schema-qualified, and the
 * settings that change a type's text form (DateStyle, IntervalStyle,
 * extra_float_digits, TimeZone, bytea_output, lc_monetary) are fixed so
 * that row text comes out the same on both servers.  row_security is off:
 * a table a policy would filter is an error naming it, never "equal (0
 * rows)".  Rows are built from the source's columns by name, in the
 * source's order (the replica's column order and extra replica columns do
 * not matter).  When the two servers' encodings differ, rows are hashed as
 * UTF-8.
 *
 * Identifiers go through PQescapeIdentifier; key values travel as text
 * parameters cast to each side's column type, never spliced into SQL.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "tide/cmdline.h"
#include "verify.h"
#include "tide/common.h"
#include "tide/seqstate.h"
#include "relmap.h"

#define LEAF_ROWS 16			/* bisect until a range has at most this */
#define MAX_RANGES 100			/* ranges (and hash buckets) narrowed per table */
#define MAX_KEYS 32				/* INDEX_MAX_KEYS */
#define MAX_PATTERNS VERIFY_MAX_PATTERNS
#define MAX_BUCKETS (1 << 27)	/* bucket numbers come from 28 bits of md5 */
#define SRC 0
#define DST 1

/* Operators spelled out in catalog queries (invariant 8: no search_path). */
#define EQ " OPERATOR(pg_catalog.=) "
#define LE " OPERATOR(pg_catalog.<=) "

/* The btree strategies verify needs, in the order the key query returns them. */
enum
{
	OP_LT,
	OP_LE,
	OP_EQ,
	OP_GT,
	NOPS
};

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

/* What both sides compute for one key range or bucket. */
typedef struct
{
	long long	n;
	char		hash[96];		/* "sum1/sum2"; "/" for an empty range */
} agg_t;

/* How a table is compared (see the file's comment). */
typedef enum
{
	BY_RANGES,
	BY_KEY_HASH,
	BY_ROW_HASH
} vmethod_t;

/* One table being compared; every string is owned. */
typedef struct
{
	char	   *display;		/* the source's schema.table, quoted as needed */
	char	   *rel[2];			/* "schema"."table" on each side */
	char	   *hash;			/* per-row md5 expression (over alias x) */
	vmethod_t	method;
	int			nkeys;			/* 0: no key */
	char	   *klist;			/* key expressions, comma-separated */
	char	   *ktext;			/* the key as text: ROW(keys)::text */
	char	   *korder;			/* ORDER BY list: key USING its "<" */
	char	   *ktype[2][MAX_KEYS];	/* each side's key column types */
	char	   *kexpr[MAX_KEYS];	/* x."column" */
	char	   *op[MAX_KEYS][NOPS];	/* OPERATOR(schema.op) of the key's opclass */
	bool		rowop;			/* every key column's operators are the same:
								 * row comparisons can use them */
	long long	pieces;			/* buckets of the hash methods */
} vtable_t;

typedef struct
{
	vside_t		side[2];
	const char *conninfo[2];	/* -s, and the replica's (verify_opts_t) */
	const char *tables[MAX_PATTERNS + 1];
	int			ntables;
	apply_relmap_t relmap;		/* --map and --tables, as tide apply has them */
	long long	chunk;
	bool		json;
	bool		utf8;			/* encodings differ: hash rows as UTF-8 */
	char		last_error[1024];	/* primary message of the last failure */
	/* per table */
	sb_t		out;			/* owned: range lines of the current table */
	int			nranges;
	long long	more;			/* differing ranges past MAX_RANGES, not narrowed */
	long long	only[2];		/* row hash: rows only the source / replica has */
	long long	nclass[3];		/* keys differing, missing, extra on replica */
	long long	max_keys;		/* --keys: keys named in text per table */
	long long	keys_shown;		/* of the current table, in text */
	int			ranges_hidden;	/* text: range lines past --keys */
} verify_t;

/* ------------------------------------------------------------- libpq */

static verify_t *the_verify;	/* for fail(): where the last error goes */

/*
 * fail - log a failed command on one side the way psql would, prefixed by
 * what we were doing, and keep its primary message for the report.
 * Returns that side's exit code.
 */
static int
fail(vside_t *s, PGresult *res, const char *what, const char *table)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	char		ctx[1024];
	char		text[1024];

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
		snprintf(text, sizeof(text), "%.*s", (int) n, e);
	}
	else
		snprintf(text, sizeof(text), "%s", msg);
	tide_log_error("%s: %s", ctx, text);
	if (detail)
		tide_log_detail("%s", detail);
	if (hint)
		tide_log_hint("%s", hint);
	else if (state && strcmp(state, "42501") == 0 && table)
		tide_log_hint("verify reads every row of every table: connect as a role that may "
					  "(SELECT on the table; under row-level security, also BYPASSRLS or the table's owner)");
	if (the_verify)
		snprintf(the_verify->last_error, sizeof(the_verify->last_error), "on the %s: %s", s->name, text);
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

/* drain - discard what is left of a query's results */
static void
drain(vside_t *s)
{
	PGresult   *res;

	while ((res = PQgetResult(s->conn)) != NULL)
		PQclear(res);
}

/* send - start a query; its result comes from collect() or rs_next() */
static int
send(vside_t *s, const char *sql, int n, const char *const *params,
	 const char *table)
{
	drain(s);
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
	int			rc = 0;

	drain(s);
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

/*
 * A query's rows one at a time (single-row mode), so that a result of any
 * size passes through bounded memory.
 */
typedef struct
{
	vside_t    *s;
	const char *table;
	PGresult   *row;			/* owned: the current row, or NULL */
	bool		done;
} rstream_t;

static int
rs_start(rstream_t *r, vside_t *s, const char *sql, int n,
		 const char *const *params, const char *table)
{
	int			rc;

	memset(r, 0, sizeof(*r));
	r->s = s;
	r->table = table;
	if ((rc = send(s, sql, n, params, table)) != 0)
	{
		r->done = true;
		return rc;
	}
	PQsetSingleRowMode(s->conn);
	return 0;
}

/* rs_next - 1 and r->row set, 0 at the end, or an exit code (logged) */
static int
rs_next(rstream_t *r, int *rc)
{
	PGresult   *res;

	PQclear(r->row);
	r->row = NULL;
	*rc = 0;
	if (r->done)
		return 0;
	res = PQgetResult(r->s->conn);
	if (PQresultStatus(res) == PGRES_SINGLE_TUPLE)
	{
		r->row = res;
		return 1;
	}
	r->done = true;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		*rc = fail(r->s, res, "could not compare table", r->table);
	PQclear(res);
	drain(r->s);
	return 0;
}

static void
rs_close(rstream_t *r)
{
	PQclear(r->row);
	r->row = NULL;
	if (!r->done && r->s)
		drain(r->s);
	r->done = true;
}

static int
connect_side(verify_t *v, int i)
{
	const char *keys[] = {"dbname", "fallback_application_name", NULL};
	const char *vals[] = {v->conninfo[i], "tide verify", NULL};
	vside_t    *s = &v->side[i];
	int			rc;

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
	 * Invariant 8: search_path is emptied before anything else runs, as
	 * PostgreSQL's own tools do since CVE-2018-1058; then the text forms are
	 * fixed so that they agree between the servers whatever their defaults,
	 * and row_security is off so that a policy that would hide rows makes
	 * the query fail instead.
	 */
	if ((rc = run(s, "SELECT pg_catalog.set_config('search_path', '', false)",
				  PGRES_TUPLES_OK, "could not set up the session")) != 0)
		return rc;
	return run(s, "SET DateStyle = ISO, MDY; SET IntervalStyle = postgres; "
			   "SET extra_float_digits = 1; SET TimeZone = 'UTC'; "
			   "SET bytea_output = 'hex'; SET lc_monetary = 'C'; "
			   "SET client_encoding = 'UTF8'; SET row_security = off; "
			   "SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0",
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

/* agg_cols - count and the two sums of row hash h: the multiset hash */
static void
agg_cols(sb_t *sql, const char *h)
{
	sb_printf(sql, "pg_catalog.count(*), "
			  "pg_catalog.sum(CAST(CAST(pg_catalog.concat('x', pg_catalog.substr(%s, 1, 16)) "
			  "AS pg_catalog.\"bit\"(64)) AS pg_catalog.int8)), "
			  "pg_catalog.sum(CAST(CAST(pg_catalog.concat('x', pg_catalog.substr(%s, 17, 16)) "
			  "AS pg_catalog.\"bit\"(64)) AS pg_catalog.int8))", h, h);
}

/* agg_read - an agg_t from columns col.. of a row: count, sum1, sum2 */
static void
agg_read(const PGresult *res, int row, int col, agg_t *a)
{
	a->n = strtoll(PQgetvalue(res, row, col), NULL, 10);
	snprintf(a->hash, sizeof(a->hash), "%s/%s", PQgetvalue(res, row, col + 1),
			 PQgetvalue(res, row, col + 2));
}

/* param - "CAST($n AS type)" for key column k on a side, appending the value */
static void
param(sb_t *sql, const vtable_t *t, int side, int k, const bound_t *b,
	  const char **params, int *np)
{
	params[*np] = b->v[k];
	(*np)++;
	sb_printf(sql, "CAST($%d AS %s)", *np, t->ktype[side][k]);
}

/*
 * key_cmp - the key compared with bound b: "key > b" (gt) or "key <= b".
 * With the same operators on every key column, a row comparison (which a
 * key index serves); otherwise spelled out lexicographically with each
 * column's own operators.
 */
static void
key_cmp(sb_t *sql, const vtable_t *t, int side, bool gt, const bound_t *b,
		const char **params, int *np)
{
	if (t->rowop)
	{
		sb_printf(sql, "(%s) %s (", t->klist, t->op[0][gt ? OP_GT : OP_LE]);
		for (int k = 0; k < t->nkeys; k++)
		{
			if (k)
				sb_puts(sql, ", ");
			param(sql, t, side, k, b, params, np);
		}
		sb_puts(sql, ")");
		return;
	}

	/* (k1 > $1 OR (k1 = $1 AND (k2 > $2 OR ...))), the last with > or <= */
	{
		int			pn[MAX_KEYS];

		for (int k = 0; k < t->nkeys; k++)
		{
			params[*np] = b->v[k];
			pn[k] = ++(*np);
		}
		for (int k = 0; k < t->nkeys; k++)
		{
			int			op = k < t->nkeys - 1 ? (gt ? OP_GT : OP_LT) : (gt ? OP_GT : OP_LE);

			sb_printf(sql, "(%s %s CAST($%d AS %s)", t->kexpr[k], t->op[k][op], pn[k],
					  t->ktype[side][k]);
			if (k < t->nkeys - 1)
				sb_printf(sql, " OR (%s %s CAST($%d AS %s) AND ", t->kexpr[k], t->op[k][OP_EQ],
						  pn[k], t->ktype[side][k]);
		}
		for (int k = 0; k < t->nkeys; k++)
			sb_puts(sql, k < t->nkeys - 1 ? "))" : ")");
	}
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
		key_cmp(sql, t, side, true, lo, params, np);
		kw = " AND ";
	}
	if (hi && hi->v)
	{
		sb_puts(sql, kw);
		key_cmp(sql, t, side, false, hi, params, np);
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

/* ------------------------------------------------------------- key ranges */

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
	sb_printf(&sql, " ORDER BY %s OFFSET %lld LIMIT %d", t->korder, offset, not_last ? 2 : 1);
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

/* agg2 - count and hash of (lo, hi] on both sides, the two queries at once */
static int
agg2(verify_t *v, const vtable_t *t, const bound_t *lo, const bound_t *hi,
	 agg_t a[2])
{
	const char *params[2][2 * MAX_KEYS];
	int			np[2];
	sb_t		sql[2] = {{0}, {0}};
	int			rc = 0;

	for (int s = 0; s < 2 && rc == 0; s++)
	{
		sb_puts(&sql[s], "SELECT ");
		agg_cols(&sql[s], "s.h");
		sb_printf(&sql[s], " FROM (SELECT %s AS h FROM %s x", t->hash, t->rel[s]);
		where_range(&sql[s], t, s, lo, hi, params[s], &np[s]);
		sb_puts(&sql[s], ") s");
		rc = send(&v->side[s], sql[s].p, np[s], params[s], t->display);
	}
	for (int s = 0; s < 2 && rc == 0; s++)
	{
		PGresult   *res;

		if ((rc = collect(&v->side[s], &res, t->display)) != 0)
			break;
		agg_read(res, 0, 0, &a[s]);
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

/*
 * key_list - append the keys of a class to the JSON line (all of them) and
 * to the text line (while the table's text has named fewer than --keys)
 */
static void
key_list(verify_t *v, sb_t *txt, sb_t *js, const char *label, const char *jlabel,
		 const char **keys, int n)
{
	int			shown = 0;

	sb_printf(js, ", \"%s\": [", jlabel);
	for (int i = 0; i < n; i++)
	{
		if (i)
			sb_puts(js, ", ");
		sb_json(js, keys[i]);
		if (v->keys_shown < v->max_keys)
		{
			sb_printf(txt, "%s%s", shown ? ", " : label, keys[i]);
			shown++;
			v->keys_shown++;
		}
	}
	if (shown < n && shown > 0)
		sb_printf(txt, " and %d more", n - shown);
	sb_puts(js, "]");
}

/*
 * range_line - one narrowed-down range in the report: its first and last
 * key, the rows each side has there, and the keys of each class.  bucket
 * >= 0 marks a group of keys of one hash bucket (not a key range).
 */
static void
range_line(verify_t *v, const vtable_t *t, const char *first, const char *last,
		   long long ns, long long nr, long long bucket,
		   const char **differ, int nd, const char **missing, int nm,
		   const char **extra, int ne)
{
	sb_t		txt = {0};
	sb_t		js = {0};
	bool		hide = !v->json && v->keys_shown >= v->max_keys;

	v->nclass[0] += nd;
	v->nclass[1] += nm;
	v->nclass[2] += ne;
	sb_printf(&txt, "  keys %s .. %s", first ? first : "()", last ? last : "()");
	if (bucket >= 0)
		sb_printf(&txt, " (hash bucket %lld of %lld)", bucket, t->pieces);
	sb_printf(&txt, ": %lld %s on source, %lld on replica", ns, rows(ns), nr);
	sb_puts(&js, "{\"table\": ");
	sb_json(&js, t->display);
	sb_puts(&js, ", \"range\": {\"from\": ");
	sb_json(&js, first ? first : "");
	sb_puts(&js, ", \"to\": ");
	sb_json(&js, last ? last : "");
	sb_puts(&js, "}");
	if (bucket >= 0)
		sb_printf(&js, ", \"bucket\": %lld", bucket);
	sb_printf(&js, ", \"source_rows\": %lld, \"replica_rows\": %lld", ns, nr);
	key_list(v, &txt, &js, "; differing: ", "differing", differ, nd);
	key_list(v, &txt, &js, "; missing on replica: ", "missing_on_replica", missing, nm);
	key_list(v, &txt, &js, "; extra on replica: ", "extra_on_replica", extra, ne);
	if (nd + nm + ne == 0)
		sb_puts(&txt, "; rows equal one by one, but in another order (collation?)");
	sb_puts(&js, "}");
	/* text: the ranges past --keys are counted, not listed (--json has all) */
	if (hide)
		v->ranges_hidden++;
	else
		sb_printf(&v->out, "%s\n", v->json ? js.p : txt.p);
	v->nranges++;
	sb_free(&txt);
	sb_free(&js);
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

	for (int s = 0; s < 2 && rc == 0; s++)
	{
		sb_printf(&sql[s], "SELECT %s, %s FROM %s x", t->ktext, t->hash, t->rel[s]);
		where_range(&sql[s], t, s, lo, hi, params[s], &np[s]);
		sb_printf(&sql[s], " ORDER BY %s LIMIT %d", t->korder, LEAF_ROWS + 1);
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
	range_line(v, t, first, last, a[SRC].n, a[DST].n, -1, differ, nd, missing, nm, extra, ne);

done:
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

/* ------------------------------------------------------------- hashes */

/*
 * hash_rows - "SELECT b, h[, k] FROM (...) s": a side's rows with their
 * bucket (0 .. pieces-1, from the md5 of the key text, or of the row when
 * the table has no key), row hash and key text.
 */
static void
hash_rows(sb_t *sql, const verify_t *v, const vtable_t *t, int side)
{
	bool		keyed = t->method == BY_KEY_HASH;

	sb_printf(sql, "SELECT pg_catalog.mod(CAST(CAST(pg_catalog.concat('x', pg_catalog.substr(%s, 1, 7)) "
			  "AS pg_catalog.\"bit\"(28)) AS pg_catalog.int4), %lld) AS b, s.h%s "
			  "FROM (SELECT %s AS h", keyed ? "s.kh" : "s.h", t->pieces, keyed ? ", s.k" : "",
			  t->hash);
	if (keyed && v->utf8)
		sb_printf(sql, ", pg_catalog.md5(pg_catalog.convert_to(%s, 'UTF8')) AS kh", t->ktext);
	else if (keyed)
		sb_printf(sql, ", pg_catalog.md5(%s) AS kh", t->ktext);
	if (keyed)
		sb_printf(sql, ", %s AS k", t->ktext);
	sb_printf(sql, " FROM %s x) s", t->rel[side]);
}

/* A group of differing keys of one bucket, reported as one range line. */
typedef struct
{
	long long	bucket;
	char	   *keys[3][LEAF_ROWS];	/* owned: differing, missing, extra */
	int			n[3];
	char	   *first;			/* borrowed from keys */
	char	   *last;
} kgroup_t;

static void
kgroup_flush(verify_t *v, const vtable_t *t, kgroup_t *g)
{
	int			total = g->n[0] + g->n[1] + g->n[2];

	if (total > 0)
	{
		if (v->nranges < MAX_RANGES)
			range_line(v, t, g->first, g->last, g->n[0] + g->n[1], g->n[0] + g->n[2],
					   g->bucket, (const char **) g->keys[0], g->n[0],
					   (const char **) g->keys[1], g->n[1], (const char **) g->keys[2], g->n[2]);
		else
			v->more++;
	}
	for (int c = 0; c < 3; c++)
		for (int i = 0; i < g->n[c]; i++)
			free(g->keys[c][i]);
	memset(g->n, 0, sizeof(g->n));
	g->first = g->last = NULL;
}

/* kgroup_add - key of class c (0 differing, 1 missing, 2 extra) in bucket b */
static void
kgroup_add(verify_t *v, const vtable_t *t, kgroup_t *g, long long b, int c,
		   const char *key)
{
	if (b != g->bucket || g->n[0] + g->n[1] + g->n[2] == LEAF_ROWS)
		kgroup_flush(v, t, g);
	g->bucket = b;
	g->keys[c][g->n[c]] = xstrdup(key);
	if (g->first == NULL)
		g->first = g->keys[c][g->n[c]];
	g->last = g->keys[c][g->n[c]];
	g->n[c]++;
}

static long long
row_bucket(const rstream_t *r)
{
	return r->row ? strtoll(PQgetvalue(r->row, 0, 0), NULL, 10) : -1;
}

/*
 * hash_compare - compare a table by key hash or row hash (see the file's
 * comment): a count on the source, one pass per side for the buckets, and
 * one more for the rows of the differing buckets.  *ns and *nr get the row
 * counts; differences go to v->out (key hash) or v->only (row hash).
 */
static int
hash_compare(verify_t *v, vtable_t *t, long long *ns, long long *nr, bool *equal)
{
	sb_t		sql[2] = {{0}, {0}};
	rstream_t	rs[2];
	PGresult   *res = NULL;
	long long	diff[MAX_RANGES];
	int			ndiff = 0;
	int			have[2];
	int			rc = 0;
	int			rc2 = 0;
	long long	n;

	memset(rs, 0, sizeof(rs));
	*equal = false;
	*ns = *nr = 0;

	/* about --chunk rows per bucket on the source */
	sb_printf(&sql[0], "SELECT pg_catalog.count(*) FROM %s x", t->rel[SRC]);
	if ((rc = query(&v->side[SRC], sql[0].p, 0, NULL, &res, t->display)) != 0)
		goto done;
	n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	t->pieces = n / v->chunk + (n % v->chunk != 0);
	if (t->pieces < 1)
		t->pieces = 1;
	if (t->pieces > MAX_BUCKETS)
		t->pieces = MAX_BUCKETS;

	/* count and hash per bucket, both sides at once, merged by bucket */
	for (int s = 0; s < 2 && rc == 0; s++)
	{
		sb_reset(&sql[s]);
		sb_puts(&sql[s], "SELECT s2.b, ");
		agg_cols(&sql[s], "s2.h");
		sb_puts(&sql[s], " FROM (");
		hash_rows(&sql[s], v, t, s);
		sb_puts(&sql[s], ") s2 GROUP BY s2.b ORDER BY s2.b");
		rc = rs_start(&rs[s], &v->side[s], sql[s].p, 0, NULL, t->display);
	}
	if (rc != 0)
		goto done;
	have[SRC] = rs_next(&rs[SRC], &rc);
	have[DST] = rs_next(&rs[DST], &rc2);
	while (rc == 0 && rc2 == 0 && (have[SRC] || have[DST]))
	{
		long long	b0 = have[SRC] ? row_bucket(&rs[SRC]) : -1;
		long long	b1 = have[DST] ? row_bucket(&rs[DST]) : -1;
		long long	b = b0 < 0 ? b1 : b1 < 0 ? b0 : b0 < b1 ? b0 : b1;
		agg_t		a[2] = {{0, "/"}, {0, "/"}};

		if (b0 == b)
			agg_read(rs[SRC].row, 0, 1, &a[SRC]);
		if (b1 == b)
			agg_read(rs[DST].row, 0, 1, &a[DST]);
		*ns += a[SRC].n;
		*nr += a[DST].n;
		if (agg_differ(a))
		{
			if (ndiff < MAX_RANGES)
				diff[ndiff++] = b;
			else
				v->more++;
		}
		if (b0 == b)
			have[SRC] = rs_next(&rs[SRC], &rc);
		if (b1 == b)
			have[DST] = rs_next(&rs[DST], &rc2);
	}
	rs_close(&rs[SRC]);
	rs_close(&rs[DST]);
	if (rc == 0)
		rc = rc2;
	if (rc != 0 || ndiff == 0)
	{
		*equal = rc == 0 && v->more == 0;
		goto done;
	}

	/* the rows of the differing buckets, ordered by bucket and key bytes */
	{
		sb_t		arr = {0};
		const char *params[1];
		kgroup_t	g;
		bool		keyed = t->method == BY_KEY_HASH;

		memset(&g, 0, sizeof(g));
		g.bucket = -1;
		sb_puts(&arr, "{");
		for (int i = 0; i < ndiff; i++)
			sb_printf(&arr, "%s%lld", i ? "," : "", diff[i]);
		sb_puts(&arr, "}");
		params[0] = arr.p;
		for (int s = 0; s < 2 && rc == 0; s++)
		{
			sb_reset(&sql[s]);
			sb_puts(&sql[s], "SELECT s2.* FROM (");
			hash_rows(&sql[s], v, t, s);
			sb_printf(&sql[s], ") s2 WHERE s2.b" EQ "ANY (CAST($1 AS pg_catalog.int4[])) ORDER BY s2.b, %s",
					  keyed ? "pg_catalog.convert_to(s2.k, 'UTF8')" : "s2.h COLLATE pg_catalog.\"C\"");
			rc = rs_start(&rs[s], &v->side[s], sql[s].p, 1, params, t->display);
		}
		if (rc == 0)
		{
			have[SRC] = rs_next(&rs[SRC], &rc);
			have[DST] = rs_next(&rs[DST], &rc2);
		}
		while (rc == 0 && rc2 == 0 && (have[SRC] || have[DST]))
		{
			long long	b0 = have[SRC] ? row_bucket(&rs[SRC]) : -1;
			long long	b1 = have[DST] ? row_bucket(&rs[DST]) : -1;
			int			kc = keyed ? 2 : 1;	/* the column orders by */
			int			cmp;

			if (!have[DST])
				cmp = -1;
			else if (!have[SRC])
				cmp = 1;
			else if (b0 != b1)
				cmp = b0 < b1 ? -1 : 1;
			else
				cmp = strcmp(PQgetvalue(rs[SRC].row, 0, kc), PQgetvalue(rs[DST].row, 0, kc));
			if (cmp == 0)
			{
				if (keyed && strcmp(PQgetvalue(rs[SRC].row, 0, 1), PQgetvalue(rs[DST].row, 0, 1)) != 0)
					kgroup_add(v, t, &g, b0, 0, PQgetvalue(rs[SRC].row, 0, 2));
				have[SRC] = rs_next(&rs[SRC], &rc);
				have[DST] = rs_next(&rs[DST], &rc2);
			}
			else if (cmp < 0)
			{
				if (keyed)
					kgroup_add(v, t, &g, b0, 1, PQgetvalue(rs[SRC].row, 0, 2));
				v->only[SRC]++;
				have[SRC] = rs_next(&rs[SRC], &rc);
			}
			else
			{
				if (keyed)
					kgroup_add(v, t, &g, b1, 2, PQgetvalue(rs[DST].row, 0, 2));
				v->only[DST]++;
				have[DST] = rs_next(&rs[DST], &rc2);
			}
		}
		kgroup_flush(v, t, &g);
		sb_free(&arr);
		if (rc == 0)
			rc = rc2;
	}

done:
	rs_close(&rs[SRC]);
	rs_close(&rs[DST]);
	sb_free(&sql[0]);
	sb_free(&sql[1]);
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
	free(t->ktext);
	free(t->korder);
	for (int k = 0; k < t->nkeys; k++)
	{
		free(t->ktype[SRC][k]);
		free(t->ktype[DST][k]);
		free(t->kexpr[k]);
		for (int o = 0; o < NOPS; o++)
			free(t->op[k][o]);
	}
	memset(t, 0, sizeof(*t));
}

static const char *
pieces(long long n)
{
	return n == 1 ? "piece" : "pieces";
}

/* report_table - print the table's line and its ranges */
static void
report_table(verify_t *v, const vtable_t *t, bool equal, const char *why,
			 long long ns, long long nr, long long chunks)
{
	static const char *const method[] = {"key ranges", "key hash", "row hash"};

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
			sb_printf(&js, ", \"source_rows\": %lld, \"replica_rows\": %lld, \"keyed\": %s, \"method\": \"%s\"",
					  ns, nr, t->nkeys ? "true" : "false", method[t->method]);
			sb_printf(&js, ", \"chunks\": %lld", chunks);
			if (t->nkeys)
				sb_printf(&js, ", \"ranges\": %d, \"unnarrowed_ranges\": %lld, \"differing_rows\": %lld, "
						  "\"missing_rows\": %lld, \"extra_rows\": %lld",
						  v->nranges, v->more, v->nclass[0], v->nclass[1], v->nclass[2]);
			else
				sb_printf(&js, ", \"only_on_source\": %lld, \"only_on_replica\": %lld",
						  v->only[SRC], v->only[DST]);
		}
		sb_puts(&js, "}");
		printf("%s\n", js.p);
		sb_free(&js);
	}
	else if (why)
		printf("%s: DIFFERENT: %s\n", t->display, why);
	else if (t->method == BY_ROW_HASH)
	{
		char		how[128];

		if (chunks == 1)
			snprintf(how, sizeof(how), "compared as a whole");
		else
			snprintf(how, sizeof(how), "compared by row hash in %lld pieces", chunks);
		if (equal)
			printf("%s: equal (%lld %s, no primary key or replica identity index: %s)\n",
				   t->display, ns, rows(ns), how);
		else
			printf("%s: DIFFERENT: %lld %s on source, %lld on replica; %lld only on the source, "
				   "%lld only on the replica (no primary key or replica identity index: %s)\n",
				   t->display, ns, rows(ns), nr, v->only[SRC], v->only[DST], how);
	}
	else if (t->method == BY_KEY_HASH && equal)
		printf("%s: equal (%lld %s, %lld %s by key hash)\n", t->display, ns, rows(ns), chunks,
			   pieces(chunks));
	else if (t->method == BY_KEY_HASH)
		printf("%s: DIFFERENT: %d %s (%lld %s on source, %lld on replica, %lld %s by key hash)\n",
			   t->display, v->nranges, v->nranges == 1 ? "range" : "ranges",
			   ns, rows(ns), nr, chunks, pieces(chunks));
	else if (equal)
		printf("%s: equal (%lld %s, %lld %s)\n", t->display, ns, rows(ns), chunks,
			   chunks == 1 ? "chunk" : "chunks");
	else
		printf("%s: DIFFERENT: %d %s (%lld %s on source, %lld on replica, %lld %s)\n",
			   t->display, v->nranges, v->nranges == 1 ? "range" : "ranges",
			   ns, rows(ns), nr, chunks, chunks == 1 ? "chunk" : "chunks");
	if (!v->json && !equal && !why && t->method != BY_ROW_HASH)
		printf("  %lld differing, %lld missing on replica, %lld extra on replica%s\n",
			   v->nclass[0], v->nclass[1], v->nclass[2],
			   v->more ? " (in the ranges narrowed down)" : "");
	if (v->out.n)
		fputs(v->out.p, stdout);
	if (v->ranges_hidden && !v->json)
		printf("  ... and %d more differing %s (--keys names more keys, --json lists all)\n",
			   v->ranges_hidden, v->ranges_hidden == 1 ? "range" : "ranges");
	if (v->more && !v->json && t->nkeys)
		printf("  ... and %lld more differing %s not narrowed down (at most %d per table)\n",
			   v->more, v->more == 1 ? "range" : "ranges", MAX_RANGES);
	fflush(stdout);
}

/* report_error - a table that could not be compared: why, on which side */
static void
report_error(verify_t *v, const char *display)
{
	if (v->json)
	{
		sb_t		js = {0};

		sb_puts(&js, "{\"table\": ");
		sb_json(&js, display);
		sb_puts(&js, ", \"status\": \"error\", \"reason\": ");
		sb_json(&js, v->last_error);
		sb_puts(&js, "}");
		printf("%s\n", js.p);
		sb_free(&js);
	}
	else
		printf("%s: ERROR: could not compare: %s\n", display, v->last_error);
	fflush(stdout);
}

static const char *
map_schema(const verify_t *v, const char *nsp)
{
	return apply_relmap_schema(&v->relmap, nsp);
}

/*
 * coll_desc - SQL describing the collation of column a (alias) on a server
 * of that version, so that two servers can be compared: provider, locale
 * and the collation library's version ("default" resolved to the
 * database's), '' for a type without collation.
 */
static void
coll_desc(sb_t *sql, PGconn *conn)
{
	int			ver = PQserverVersion(conn);
	const char *cloc = ver >= 170000 ? "l.colllocale" : ver >= 150000 ? "l.colliculocale" : "NULL";
	const char *dprov = ver >= 150000 ? "d.datlocprovider" : "'c'";
	const char *dloc = ver >= 170000 ? "d.datlocale" : ver >= 150000 ? "d.daticulocale" : "NULL";
	const char *dver = ver >= 150000 ? "pg_catalog.pg_database_collation_actual_version(d.oid)" : "NULL";
	const char *det = ver >= 120000 ? "l.collisdeterministic" : "true";

	/* provider:collate:ctype:locale:deterministic:version; an ICU
	 * collation's order does not depend on its libc fields */
	sb_printf(sql,
			  "CASE WHEN a.attcollation" EQ "0 THEN '' "
			  "WHEN a.attcollation" EQ "100 THEN (SELECT pg_catalog.concat_ws(':', p.prov, "
			  "CASE WHEN p.prov" EQ "'i' THEN '' ELSE d.datcollate END, "
			  "CASE WHEN p.prov" EQ "'i' THEN '' ELSE d.datctype END, COALESCE(%s, ''), 'true', "
			  "COALESCE(%s, '')) "
			  "FROM pg_catalog.pg_database d CROSS JOIN LATERAL (SELECT CAST(%s AS pg_catalog.text) AS prov) p "
			  "WHERE d.datname" EQ "pg_catalog.current_database()) "
			  "ELSE (SELECT pg_catalog.concat_ws(':', p.prov, "
			  "CASE WHEN p.prov" EQ "'i' THEN '' ELSE COALESCE(l.collcollate, '') END, "
			  "CASE WHEN p.prov" EQ "'i' THEN '' ELSE COALESCE(l.collctype, '') END, "
			  "COALESCE(%s, ''), CAST(%s AS pg_catalog.text), "
			  "COALESCE(pg_catalog.pg_collation_actual_version(l.oid), '')) "
			  "FROM pg_catalog.pg_collation l CROSS JOIN LATERAL (SELECT CAST(l.collprovider AS pg_catalog.text) AS prov) p "
			  "WHERE l.oid" EQ "a.attcollation) END",
			  dloc, dver, dprov, cloc, det);
}

/*
 * setup_table - the table's columns and key on the source, its counterpart
 * on the replica, and how to compare them.  Sets *why (malloc'd) when the
 * replica lacks the table or a column: a difference, not an error.
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
	sb_t		sql = {0};
	sb_t		row = {0};
	const char *differs = NULL;
	bool		ops_ok = true;
	int			rc;

	*why = NULL;
	if ((rc = query(&v->side[SRC],
					"SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) "
					"FROM pg_catalog.pg_attribute a "
					"WHERE a.attrelid" EQ "CAST($1 AS pg_catalog.oid) AND a.attnum OPERATOR(pg_catalog.>) 0 "
					"AND NOT a.attisdropped ORDER BY a.attnum",
					1, p1, &cols, t->display)) != 0)
		goto done;

	/*
	 * The key: primary key, else the replica identity index; only its key
	 * columns (not INCLUDE ones), with their collation described and the
	 * <, <=, =, > of the index's operator class (btree strategies 1, 2, 3,
	 * 5), so that WHERE and ORDER BY use the order the index has.
	 */
	sb_puts(&sql, "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), ");
	coll_desc(&sql, v->side[SRC].conn);
	sb_puts(&sql,
			", o.lt, o.le, o.eq, o.gt "
			"FROM (SELECT i.indrelid, i.indkey, i.indclass, i.indnkeyatts FROM pg_catalog.pg_index i "
			"      WHERE i.indrelid" EQ "CAST($1 AS pg_catalog.oid) AND (i.indisprimary OR i.indisreplident) "
			"      AND i.indisvalid ORDER BY i.indisprimary DESC LIMIT 1) i "
			"CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(CAST(i.indkey AS pg_catalog.int2[])), "
			"  pg_catalog.unnest(CAST(i.indclass AS pg_catalog.oid[]))) WITH ORDINALITY k(attnum, opc, ord) "
			"JOIN pg_catalog.pg_attribute a ON a.attrelid" EQ "i.indrelid AND a.attnum" EQ "k.attnum "
			"LEFT JOIN LATERAL (SELECT "
			"  pg_catalog.max(f.op) FILTER (WHERE ao.amopstrategy" EQ "1) AS lt, "
			"  pg_catalog.max(f.op) FILTER (WHERE ao.amopstrategy" EQ "2) AS le, "
			"  pg_catalog.max(f.op) FILTER (WHERE ao.amopstrategy" EQ "3) AS eq, "
			"  pg_catalog.max(f.op) FILTER (WHERE ao.amopstrategy" EQ "5) AS gt "
			"  FROM pg_catalog.pg_opclass oc "
			"  JOIN pg_catalog.pg_amop ao ON ao.amopfamily" EQ "oc.opcfamily "
			"   AND ao.amoplefttype" EQ "oc.opcintype AND ao.amoprighttype" EQ "oc.opcintype "
			"  JOIN pg_catalog.pg_operator op ON op.oid" EQ "ao.amopopr "
			"  JOIN pg_catalog.pg_namespace opn ON opn.oid" EQ "op.oprnamespace "
			"  CROSS JOIN LATERAL (SELECT pg_catalog.format('OPERATOR(%I.%s)', opn.nspname, op.oprname) AS op) f "
			"  WHERE oc.oid" EQ "k.opc) o ON true "
			"WHERE k.ord" LE "i.indnkeyatts ORDER BY k.ord");
	if ((rc = query(&v->side[SRC], sql.p, 1, p1, &keys, t->display)) != 0)
		goto done;

	if ((rc = query(&v->side[DST],
					"SELECT c.oid FROM pg_catalog.pg_class c "
					"JOIN pg_catalog.pg_namespace n ON n.oid" EQ "c.relnamespace "
					"WHERE n.nspname" EQ "CAST($1 AS pg_catalog.name) "
					"AND c.relname" EQ "CAST($2 AS pg_catalog.name) "
					"AND c.relkind" EQ "ANY ('{r,p}')",
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

		sb_reset(&sql);
		sb_puts(&sql, "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), ");
		coll_desc(&sql, v->side[DST].conn);
		sb_puts(&sql, " FROM pg_catalog.pg_attribute a "
				"WHERE a.attrelid" EQ "CAST($1 AS pg_catalog.oid) "
				"AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped");
		if ((rc = query(&v->side[DST], sql.p, 1, p3, &rcols, t->display)) != 0)
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
	sb_puts(&row, "CAST(ROW(");
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
	sb_puts(&row, ") AS pg_catalog.text)");
	{
		sb_t		h = {0};

		if (v->utf8)
			sb_printf(&h, "pg_catalog.md5(pg_catalog.convert_to(%s, 'UTF8'))", row.p);
		else
			sb_printf(&h, "pg_catalog.md5(%s)", row.p);
		t->hash = h.p;
	}

	if (PQntuples(keys) > MAX_KEYS)
	{
		tide_log_error("table \"%s\" has a key of %d columns, more than %d", t->display,
					   PQntuples(keys), MAX_KEYS);
		rc = TIDE_EXIT_BUG;
		goto done;
	}
	t->nkeys = PQntuples(keys);
	if (t->nkeys == 0)
	{
		t->method = BY_ROW_HASH;
		goto done;
	}
	for (int k = 0; k < t->nkeys; k++)
	{
		const char *name = PQgetvalue(keys, k, 0);
		char	   *q = quote_ident(v->side[SRC].conn, name);
		sb_t		e = {0};

		sb_printf(&e, "x.%s", q);
		free(q);
		t->kexpr[k] = e.p;
		t->ktype[SRC][k] = xstrdup(PQgetvalue(keys, k, 1));
		for (int o = 0; o < NOPS; o++)
		{
			ops_ok = ops_ok && !PQgetisnull(keys, k, 3 + o);
			t->op[k][o] = xstrdup(PQgetvalue(keys, k, 3 + o));
		}
		for (int j = 0; j < PQntuples(rcols); j++)
			if (strcmp(PQgetvalue(rcols, j, 0), name) == 0)
			{
				t->ktype[DST][k] = xstrdup(PQgetvalue(rcols, j, 1));
				if (differs == NULL && strcmp(PQgetvalue(rcols, j, 1), PQgetvalue(keys, k, 1)) != 0)
					differs = "types";
				if (differs == NULL && strcmp(PQgetvalue(rcols, j, 2), PQgetvalue(keys, k, 2)) != 0)
					differs = "collations";
			}
	}
	{
		sb_t		kl = {0};
		sb_t		ko = {0};
		sb_t		kt = {0};

		t->rowop = true;
		for (int k = 0; k < t->nkeys; k++)
		{
			sb_printf(&kl, "%s%s", k ? ", " : "", t->kexpr[k]);
			sb_printf(&ko, "%s%s USING %s", k ? ", " : "", t->kexpr[k], t->op[k][OP_LT]);
			for (int o = 0; o < NOPS; o++)
				t->rowop = t->rowop && strcmp(t->op[k][o], t->op[0][o]) == 0;
		}
		sb_printf(&kt, "CAST(ROW(%s) AS pg_catalog.text)", kl.p);
		t->klist = kl.p;
		t->korder = ko.p;
		t->ktext = kt.p;
	}

	/*
	 * Key ranges only where both servers order keys alike; otherwise by key
	 * hash, in a fixed number of passes.
	 */
	if (differs)
	{
		t->method = BY_KEY_HASH;
		tide_log_warning("key columns of \"%s\" have different %s on the source and the replica: "
						 "comparing rows by a hash of the key, not by key ranges", t->display, differs);
	}
	else if (!ops_ok)
		t->method = BY_KEY_HASH;
	else
		t->method = BY_RANGES;

done:
	sb_free(&sql);
	sb_free(&row);
	PQclear(cols);
	PQclear(keys);
	PQclear(rcols);
	PQclear(res);
	return rc;
}

/*
 * verify_table - compare one table in one snapshot per side; prints its
 * report.  *equal tells the outcome; the return is 0 or an exit code (the
 * failure logged, the transactions rolled back).
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
	v->only[SRC] = v->only[DST] = 0;
	v->nclass[0] = v->nclass[1] = v->nclass[2] = 0;
	v->keys_shown = 0;
	v->ranges_hidden = 0;
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

	if (t.method != BY_RANGES)
	{
		if ((rc = hash_compare(v, &t, &ns, &nr, equal)) != 0)
			goto done;
		report_table(v, &t, *equal, NULL, ns, nr, t.pieces);
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
	{
		if (PQstatus(v->side[s].conn) != CONNECTION_OK)
			continue;
		drain(&v->side[s]);
		if (PQtransactionStatus(v->side[s].conn) == PQTRANS_IDLE)
			continue;
		if (rc == 0)
			rc = run(&v->side[s], "COMMIT", PGRES_COMMAND_OK, "could not end the transaction");
		else
			PQclear(PQexec(v->side[s].conn, "ROLLBACK"));
	}
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
			"expect rows changed after the replica's position to show as differences.\n"
			"Key columns whose type or collation differs between the sides, and tables\n"
			"without key, are compared by hash in pieces of about --chunk rows.\n"
			"Sequences are compared too (those --tables selects by name or by the\n"
			"table owning them): the replica's must be at or past the source's state\n"
			"in its direction (see tide sync-sequences).\n\n"
			"Connection options: -s names the source; psql's options name the replica\n"
			"(PG* variables apply to what -d, -h, -p, -U leave unsaid, on both sides):\n"
			"  -s, --source=CONNINFO  the source: a connection string, URI or database name\n",
			LEAF_ROWS);
	tide_conn_usage(f, "the replica", 25);
	fprintf(f,
			"\nOptions:\n"
			"      --tables=PATTERN   only tables matching schema.table (* wildcard);\n"
			"                         repeat or separate with commas\n"
			"      --map=SRC=DST      compare source schema SRC with replica schema DST\n"
			"      --chunk=N          rows per chunk (default 10000)\n"
			"      --keys=N           name at most N differing keys per table in text\n"
			"                         (default 50; counts and the remaining ranges are\n"
			"                         summarised)\n"
			"      --json             one JSON object per line, every range and key\n");
	tide_std_usage(f, 25);
	fprintf(f,
			"\nExit codes: 0 all tables equal and sequences at or ahead, 1 some table\n"
			"differs (or is missing on the replica) or a replica sequence is behind the\n"
			"source's (or missing), 2 bad arguments, 3 source connection error or a\n"
			"table (or sequence) that could not be read there (row-level security,\n"
			"permissions), 4 the same on the replica.  A table that cannot be read is\n"
			"reported and the others are still compared.\n");
}

static int
parse_opts(verify_opts_t *o, tide_conn_opts_t *dconn, int argc, char **argv)
{
	static const struct option opts[] = {
		TIDE_CONN_LONGOPTS,
		TIDE_STD_LONGOPTS,
		{"source", required_argument, NULL, 's'},
		{"tables", required_argument, NULL, 1},
		{"map", required_argument, NULL, 2},
		{"chunk", required_argument, NULL, 3},
		{"json", no_argument, NULL, 4},
		{"keys", required_argument, NULL, 5},
		{NULL, 0, NULL, 0}
	};
	int			c;
	int			rc;

	optind = 1;
	while ((c = tide_getopt(argc, argv, TIDE_CONN_SHORTOPTS "s:", opts)) != -1)
	{
		if (tide_conn_opt(dconn, c, optarg))
			continue;
		switch (c)
		{
			case 's':
				o->source = optarg;
				break;
			case 1:
				{
					char	   *save = NULL;

					for (char *p = strtok_r(optarg, ",", &save); p; p = strtok_r(NULL, ",", &save))
					{
						if (o->ntables == MAX_PATTERNS)
						{
							tide_log_error("too many --tables patterns (at most %d)", MAX_PATTERNS);
							return TIDE_EXIT_USAGE;
						}
						o->tables[o->ntables++] = p;
					}
					break;
				}
			case 2:
				if ((rc = apply_maps_parse(&o->maps, optarg)) != 0)
					return rc;
				break;
			case 3:
				{
					int64_t		n;

					if ((rc = tide_opt_int("--chunk", optarg, 1, INT32_MAX, &n)) != 0)
						return rc;
					o->chunk = n;
					break;
				}
			case 4:
				o->json = true;
				break;
			case 5:
				{
					int64_t		n;

					if ((rc = tide_opt_int("--keys", optarg, 0, INT32_MAX, &n)) != 0)
						return rc;
					o->max_keys = n;
					break;
				}
			default:
				return tide_opt_std(c, "verify", verify_usage);
		}
	}
	if (optind < argc)
	{
		tide_log_error("unexpected argument \"%s\"", argv[optind]);
		verify_usage(stderr);
		return TIDE_EXIT_USAGE;
	}
	/* two servers: neither may be left to the environment alone */
	if (o->source == NULL ||
		(dconn->dbname == NULL && dconn->host == NULL && dconn->port == NULL && dconn->user == NULL))
	{
		tide_log_error("no %s given", o->source == NULL ? "source" : "replica");
		tide_log_hint("give both servers: -s SOURCE_CONNINFO and -d REPLICA_CONNINFO (or -h, -p, -U)");
		return TIDE_EXIT_USAGE;
	}
	if ((rc = tide_conn_finish(dconn, "the replica")) != 0)
		return rc;
	o->replica = dconn->conninfo;
	o->tables[o->ntables] = NULL;
	return 0;
}

static bool
table_wanted(const verify_t *v, const char *nsp, const char *rel)
{
	return apply_relmap_wanted(&v->relmap, nsp, rel);
}

/* ------------------------------------------------------------- sequences */

/* seq_find - the sequence schema.name in l (sorted by schema, name), or NULL */
static const tide_seq_t *
seq_find(const tide_seqlist_t *l, const char *schema, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].schema, schema) == 0 && strcmp(l->v[i].name, name) == 0)
			return &l->v[i];
	return NULL;
}

/* seq_state - "41 (called)" / "1 (not called yet)" */
static void
seq_state(char *buf, size_t len, const tide_seq_t *q)
{
	snprintf(buf, len, "%lld%s", (long long) q->last_value, q->is_called ? "" : " (not called yet)");
}

static void
seq_line(verify_t *v, const tide_seq_t *q, const char *status, const tide_seq_t *r,
		 const char *why)
{
	char		src[64];
	char		rep[64];
	sb_t		name = {0};

	sb_printf(&name, "%s.%s", q->schema, q->name);
	seq_state(src, sizeof(src), q);
	if (r)
		seq_state(rep, sizeof(rep), r);
	if (v->json)
	{
		sb_t		js = {0};

		sb_puts(&js, "{\"sequence\": ");
		sb_json(&js, name.p);
		sb_printf(&js, ", \"status\": \"%s\"", status);
		if (q->readable)
			sb_printf(&js, ", \"source_last_value\": %lld, \"source_is_called\": %s",
					  (long long) q->last_value, q->is_called ? "true" : "false");
		if (r && r->readable)
			sb_printf(&js, ", \"replica_last_value\": %lld, \"replica_is_called\": %s",
					  (long long) r->last_value, r->is_called ? "true" : "false");
		sb_printf(&js, ", \"increment\": %lld", (long long) q->increment);
		if (why)
		{
			sb_puts(&js, ", \"reason\": ");
			sb_json(&js, why);
		}
		sb_puts(&js, "}");
		printf("%s\n", js.p);
		sb_free(&js);
	}
	else if (strcmp(status, "behind") == 0)
		printf("sequence %s: BEHIND: replica at %s, source at %s (increment %lld): "
			   "the replica would hand out values the source has handed out already\n",
			   name.p, rep, src, (long long) q->increment);
	else if (why)
		printf("sequence %s: %s: %s\n", name.p, strcmp(status, "error") == 0 ? "ERROR: could not compare" : "DIFFERENT", why);
	else if (strcmp(status, "equal") == 0)
		printf("sequence %s: equal (at %s)\n", name.p, src);
	else
		printf("sequence %s: ahead (replica at %s, source at %s)\n", name.p, rep, src);
	sb_free(&name);
}

/*
 * compare_sequences - every sequence of the source that --tables wants (by
 * its own name or by the table owning it) against the replica's of the
 * same (--map'ped) name: the replica must be at or past the source's
 * state in the sequence's direction (what tide apply guarantees, see
 * README "Sequences").  Counts go to n[0] (at or ahead), n[1] (behind or
 * missing), n[2] (could not be compared, *failed_rc set).  Returns 0, or
 * the exit code of a failure to read either side's list (logged).
 */
static int
compare_sequences(verify_t *v, int n[3], int *failed_rc)
{
	tide_seqlist_t l[2] = {{0}};
	char		err[1024];
	int			rc = 0;

	for (int i = SRC; i <= DST; i++)
		if (tide_seq_read(v->side[i].conn, &l[i], err, sizeof(err)) != 0)
		{
			tide_log_error("%s on the %s", err, v->side[i].name);
			rc = v->side[i].exit_code;
			goto done;
		}
	for (size_t i = 0; i < l[SRC].n; i++)
	{
		const tide_seq_t *q = &l[SRC].v[i];
		const tide_seq_t *r;

		if (!table_wanted(v, q->schema, q->name) &&
			!(q->owner_schema && table_wanted(v, q->owner_schema, q->owner_table)))
			continue;
		r = seq_find(&l[DST], map_schema(v, q->schema), q->name);
		if (!q->readable || (r && !r->readable))
		{
			seq_line(v, q, "error", r, !q->readable ? "no SELECT privilege on it on the source"
					 : "no SELECT privilege on it on the replica");
			n[2]++;
			if (*failed_rc == 0)
				*failed_rc = !q->readable ? TIDE_EXIT_SOURCE : TIDE_EXIT_REPLICA;
		}
		else if (r == NULL)
		{
			seq_line(v, q, "missing", NULL, "missing on the replica");
			n[1]++;
		}
		else if (tide_seq_ahead(q->increment, q->last_value, q->is_called, r->last_value, r->is_called))
		{
			seq_line(v, q, "behind", r, NULL);
			n[1]++;
		}
		else
		{
			bool		ahead = tide_seq_ahead(q->increment, r->last_value, r->is_called,
											   q->last_value, q->is_called);

			seq_line(v, q, ahead ? "ahead" : "equal", r, NULL);
			n[0]++;
		}
	}
done:
	tide_seqlist_free(&l[SRC]);
	tide_seqlist_free(&l[DST]);
	return rc;
}

/*
 * tide_cmd_verify - `tide verify`.  Returns TIDE_EXIT_OK when every table
 * is equal, TIDE_EXIT_DIFFERENT when one is not, else the exit code of the
 * failure (logged).
 */
int
tide_cmd_verify(int argc, char **argv)
{
	verify_opts_t o;
	tide_conn_opts_t dconn = {0};
	int			rc;

	memset(&o, 0, sizeof(o));
	o.chunk = 10000;
	o.max_keys = 50;
	if ((rc = parse_opts(&o, &dconn, argc, argv)) == 0)
		rc = tide_verify_run(&o);
	tide_conn_free(&dconn);
	return rc < 0 ? TIDE_EXIT_OK : rc;
}

int
tide_verify_run(const verify_opts_t *o)
{
	verify_t	v;
	PGresult   *list = NULL;
	int			rc;
	int			failed_rc = 0;
	int			nequal = 0,
				ndiff = 0,
				nfailed = 0;
	int			nseq[3] = {0, 0, 0};	/* at or ahead, behind or missing, failed */
	int			seq_rc = 0;
	struct timespec t0,
				t1;

	memset(&v, 0, sizeof(v));
	the_verify = &v;
	v.conninfo[SRC] = o->source;
	v.conninfo[DST] = o->replica;
	memcpy(v.tables, o->tables, sizeof(v.tables));
	v.ntables = o->ntables;
	v.tables[v.ntables] = NULL;
	v.chunk = o->chunk;
	v.json = o->json;
	v.max_keys = o->max_keys;
	v.side[SRC].name = "source";
	v.side[SRC].exit_code = TIDE_EXIT_SOURCE;
	v.side[DST].name = "replica";
	v.side[DST].exit_code = TIDE_EXIT_REPLICA;
	if ((rc = apply_relmap_init(&v.relmap, v.tables, "--tables")) != 0)
		return rc;
	apply_relmap_add_maps(&v.relmap, &o->maps);
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
	 * tide.progress is tide apply's own table, never replicated; any other
	 * table of a schema named "tide" is the user's and compared.
	 */
	if ((rc = query(&v.side[SRC],
					"SELECT c.oid, n.nspname, c.relname, pg_catalog.format('%I.%I', n.nspname, c.relname) "
					"FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid" EQ "c.relnamespace "
					"WHERE c.relkind" EQ "ANY ('{r,p}') AND NOT c.relispartition "
					"AND n.nspname OPERATOR(pg_catalog.!~) '^pg_' "
					"AND n.nspname OPERATOR(pg_catalog.<>) 'information_schema' "
					"AND NOT (n.nspname" EQ "'tide' AND c.relname" EQ "'progress') "
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
		rc = verify_table(&v, PQgetvalue(list, i, 0), PQgetvalue(list, i, 1),
						  PQgetvalue(list, i, 2), PQgetvalue(list, i, 3), &equal);
		if (rc == TIDE_EXIT_BUG)
			goto done;
		if (rc != 0)
		{
			/* one table that cannot be read does not stop the others */
			report_error(&v, PQgetvalue(list, i, 3));
			nfailed++;
			if (failed_rc == 0)
				failed_rc = rc;
			if (PQstatus(v.side[SRC].conn) != CONNECTION_OK ||
				PQstatus(v.side[DST].conn) != CONNECTION_OK)
			{
				tide_log_error("lost the connection: %d tables not compared", PQntuples(list) - i - 1);
				goto done;
			}
			rc = 0;
			continue;
		}
		if (equal)
			nequal++;
		else
			ndiff++;
	}
	if (nequal + ndiff + nfailed == 0)
		tide_log_warning("no table to compare%s", v.ntables ? " matches --tables" : " on the source");
	if ((rc = compare_sequences(&v, nseq, &seq_rc)) != 0)
		goto done;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (v.json && nseq[0] + nseq[1] + nseq[2])
		printf("{\"summary\": true, \"equal\": %d, \"different\": %d, \"failed\": %d, "
			   "\"sequences_ok\": %d, \"sequences_behind\": %d, \"sequences_failed\": %d, \"seconds\": %.3f}\n",
			   nequal, ndiff, nfailed, nseq[0], nseq[1], nseq[2],
			   (double) (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	else if (v.json)
		printf("{\"summary\": true, \"equal\": %d, \"different\": %d, \"failed\": %d, \"seconds\": %.3f}\n",
			   nequal, ndiff, nfailed,
			   (double) (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	else if (nfailed)
		printf("verify: %d %s equal, %d different, %d could not be compared\n", nequal,
			   nequal == 1 ? "table" : "tables", ndiff, nfailed);
	else
		printf("verify: %d %s equal, %d different\n", nequal, nequal == 1 ? "table" : "tables", ndiff);
	if (!v.json && nseq[0] + nseq[1] + nseq[2])
		printf("verify: %d %s at or ahead of the source, %d behind or missing%s\n", nseq[0],
			   nseq[0] == 1 ? "sequence" : "sequences", nseq[1],
			   nseq[2] ? ", some could not be compared" : "");
	fflush(stdout);

	/*
	 * Invariant 7: a table that could not be read is never counted equal;
	 * it outranks a difference (nothing can be said of it).
	 */
	rc = failed_rc ? failed_rc : seq_rc ? seq_rc : ndiff || nseq[1] ? TIDE_EXIT_DIFFERENT : TIDE_EXIT_OK;
	if (failed_rc)
		tide_log_error("%d %s could not be compared", nfailed, nfailed == 1 ? "table" : "tables");
	if (seq_rc)
		tide_log_error("%d %s could not be compared", nseq[2], nseq[2] == 1 ? "sequence" : "sequences");
	if (nseq[1])
	{
		tide_log_error("%d %s of the replica %s behind the source's or missing", nseq[1],
					   nseq[1] == 1 ? "sequence" : "sequences", nseq[1] == 1 ? "is" : "are");
		tide_log_hint("run tide sync-sequences on the source, let tide stream and tide apply pass the LSN it prints, and verify again");
	}

done:
	PQclear(list);
	sb_free(&v.out);
	PQfinish(v.side[SRC].conn);
	PQfinish(v.side[DST].conn);
	the_verify = NULL;
	return rc;
}
