/*
 * common/src/ddlmsg.c
 *		The "tide.ddl" payload's reader and the statement splitter that
 *		finds a captured command's own statement in its query string.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "tide/ddlmsg.h"

/* ------------------------------------------------------------- lexer */

#define TOK_END 0
#define TOK_WORD 'w'			/* an unquoted identifier or keyword */
#define TOK_OTHER 'o'			/* a literal, quoted identifier, number */
#define TOK_PUNCT 'p'			/* one character: ; ( ) and operators */

static bool
ident_start(unsigned char c)
{
	return isalpha(c) || c == '_' || c >= 0x80;
}

static bool
ident_cont(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

/*
 * next_token - the token at *i (whitespace and comments skipped): its kind,
 * and for a word its first 31 bytes upper-cased into word.  A string that
 * ends inside a quote or comment ends the token there: the statement then
 * runs to the end of the string, as the server would have refused it.
 */
static int
next_token(const char *q, size_t len, size_t *i, char *word, size_t wlen, size_t *tstart)
{
	size_t		p = *i;

	for (;;)
	{
		while (p < len && isspace((unsigned char) q[p]))
			p++;
		if (p + 1 < len && q[p] == '-' && q[p + 1] == '-')
		{
			while (p < len && q[p] != '\n')
				p++;
			continue;
		}
		if (p + 1 < len && q[p] == '/' && q[p + 1] == '*')
		{
			int			depth = 1;	/* block comments nest */

			p += 2;
			while (p < len && depth > 0)
			{
				if (p + 1 < len && q[p] == '/' && q[p + 1] == '*')
					depth++, p += 2;
				else if (p + 1 < len && q[p] == '*' && q[p + 1] == '/')
					depth--, p += 2;
				else
					p++;
			}
			continue;
		}
		break;
	}
	*tstart = p;
	if (p >= len)
	{
		*i = p;
		return TOK_END;
	}
	/* E'...' takes backslash escapes; U&'...' and B'...' quote as usual */
	if ((q[p] == 'E' || q[p] == 'e') && p + 1 < len && q[p + 1] == '\'')
	{
		p += 2;
		while (p < len && q[p] != '\'')
			p += (q[p] == '\\' && p + 1 < len) ? 2 : 1;
		while (p + 1 < len && q[p] == '\'' && q[p + 1] == '\'')
		{
			p += 2;
			while (p < len && q[p] != '\'')
				p += (q[p] == '\\' && p + 1 < len) ? 2 : 1;
		}
		*i = p < len ? p + 1 : p;
		return TOK_OTHER;
	}
	if (q[p] == '\'' || q[p] == '"')
	{
		char		c = q[p++];

		for (;;)
		{
			while (p < len && q[p] != c)
				p++;
			if (p + 1 < len && q[p + 1] == c)
			{
				p += 2;			/* a doubled quote */
				continue;
			}
			break;
		}
		*i = p < len ? p + 1 : p;
		return TOK_OTHER;
	}
	if (q[p] == '$')
	{
		/* $tag$ ... $tag$; $1 is a parameter */
		size_t		t = p + 1;

		while (t < len && (ident_cont((unsigned char) q[t])) && q[t] != '$' &&
			   !(t == p + 1 && isdigit((unsigned char) q[t])))
			t++;
		if (t < len && q[t] == '$')
		{
			size_t		taglen = t - p + 1;
			const char *body = q + t + 1;
			const char *end = NULL;

			for (const char *s = body; s + taglen <= q + len; s++)
				if (memcmp(s, q + p, taglen) == 0)
				{
					end = s;
					break;
				}
			*i = end ? (size_t) (end - q) + taglen : len;
			return TOK_OTHER;
		}
		p++;
		while (p < len && isdigit((unsigned char) q[p]))
			p++;
		*i = p;
		return TOK_OTHER;
	}
	if (ident_start((unsigned char) q[p]))
	{
		size_t		n = 0;

		while (p < len && ident_cont((unsigned char) q[p]))
		{
			if (n + 1 < wlen)
				word[n++] = (char) toupper((unsigned char) q[p]);
			p++;
		}
		word[n] = '\0';
		*i = p;
		return TOK_WORD;
	}
	if (isdigit((unsigned char) q[p]))
	{
		while (p < len && (isalnum((unsigned char) q[p]) || q[p] == '.'))
			p++;
		*i = p;
		return TOK_OTHER;
	}
	word[0] = q[p];
	word[1] = '\0';
	*i = p + 1;
	return TOK_PUNCT;
}

int
tide_sql_split(const char *q, size_t len, size_t **starts, size_t **ends, size_t *n)
{
	size_t		cap = 8;
	size_t		i = 0;
	size_t		start = (size_t) -1;
	size_t		last_end = 0;
	int			paren = 0;
	int			atomic = 0;		/* BEGIN ATOMIC ... END depth */
	int			nwords = 0;
	bool		routine = false;	/* CREATE [OR REPLACE] FUNCTION|PROCEDURE */
	bool		after_begin = false;
	char		w[32];
	size_t		ts;

	*n = 0;
	*starts = malloc(cap * sizeof(size_t));
	*ends = malloc(cap * sizeof(size_t));
	if (*starts == NULL || *ends == NULL)
		goto oom;
	for (;;)
	{
		int			k = next_token(q, len, &i, w, sizeof(w), &ts);
		bool		cut = k == TOK_END || (k == TOK_PUNCT && w[0] == ';' && paren == 0 && atomic == 0);

		if (cut)
		{
			if (start != (size_t) -1)
			{
				if (*n == cap)
				{
					size_t	   *a,
							   *b;

					cap *= 2;
					if ((a = realloc(*starts, cap * sizeof(size_t))) == NULL)
						goto oom;
					*starts = a;
					if ((b = realloc(*ends, cap * sizeof(size_t))) == NULL)
						goto oom;
					*ends = b;
				}
				(*starts)[*n] = start;
				(*ends)[*n] = last_end;
				(*n)++;
			}
			if (k == TOK_END)
				return 0;
			start = (size_t) -1;
			paren = atomic = nwords = 0;
			routine = after_begin = false;
			continue;
		}
		if (start == (size_t) -1)
			start = ts;
		last_end = i;
		if (k == TOK_PUNCT)
		{
			paren += w[0] == '(';
			paren -= w[0] == ')' && paren > 0;
		}
		if (k != TOK_WORD)
		{
			after_begin = false;
			continue;
		}
		nwords++;
		if (nwords <= 4 && (strcmp(w, "FUNCTION") == 0 || strcmp(w, "PROCEDURE") == 0))
			routine = true;
		if (routine && after_begin && strcmp(w, "ATOMIC") == 0)
			atomic++;
		else if (atomic > 0 && strcmp(w, "CASE") == 0)
			atomic++;
		else if (atomic > 0 && strcmp(w, "END") == 0)
			atomic--;
		after_begin = routine && strcmp(w, "BEGIN") == 0;
	}
oom:
	free(*starts);
	free(*ends);
	*starts = *ends = NULL;
	*n = 0;
	return -1;
}

/* words - up to max leading words of q[s, e) (other tokens skipped), and
 * whether INTO / CONCURRENTLY occur outside parentheses */
typedef struct
{
	char		w[12][32];
	int			n;
	bool		into;
	bool		concurrently;
} words_t;

static void
words_of(const char *q, size_t s, size_t e, words_t *out)
{
	size_t		i = s;
	size_t		ts;
	int			paren = 0;
	char		w[32];
	int			k;

	memset(out, 0, sizeof(*out));
	while ((k = next_token(q, e, &i, w, sizeof(w), &ts)) != TOK_END)
	{
		if (k == TOK_PUNCT)
		{
			paren += w[0] == '(';
			paren -= w[0] == ')' && paren > 0;
			continue;
		}
		if (k != TOK_WORD)
			continue;
		if (out->n < 12)
			strcpy(out->w[out->n++], w);
		if (paren == 0 && strcmp(w, "INTO") == 0)
			out->into = true;
		if (strcmp(w, "CONCURRENTLY") == 0)
			out->concurrently = true;
	}
}

/*
 * fires - would this statement fire ddl_command_end?  The event-trigger
 * commands of PostgreSQL 15: CREATE/ALTER/DROP of database-local objects,
 * COMMENT, GRANT/REVOKE on objects, SECURITY LABEL, IMPORT FOREIGN
 * SCHEMA, REFRESH MATERIALIZED VIEW, ALTER DEFAULT PRIVILEGES, DROP OWNED,
 * SELECT INTO; not those on databases, roles, tablespaces, event triggers
 * or the system.
 */
static bool
fires(const words_t *ws)
{
	static const char *const global[] = {"DATABASE", "ROLE", "USER", "GROUP", "TABLESPACE", "SYSTEM"};
	const char *w0 = ws->n > 0 ? ws->w[0] : "";
	int			obj = 1;

	if (strcmp(w0, "SELECT") == 0)
		return ws->into;
	if (strcmp(w0, "GRANT") == 0 || strcmp(w0, "REVOKE") == 0)
	{
		for (int i = 1; i < ws->n; i++)
			if (strcmp(ws->w[i], "ON") == 0)
				return true;
		return false;			/* role membership */
	}
	if (strcmp(w0, "COMMENT") == 0 || strcmp(w0, "SECURITY") == 0 ||
		strcmp(w0, "IMPORT") == 0 || strcmp(w0, "REFRESH") == 0)
		return true;
	if (strcmp(w0, "CREATE") != 0 && strcmp(w0, "ALTER") != 0 && strcmp(w0, "DROP") != 0)
		return false;
	if (strcmp(w0, "DROP") == 0 && ws->n > 1 && strcmp(ws->w[1], "OWNED") == 0)
		return true;
	while (obj < ws->n && (strcmp(ws->w[obj], "OR") == 0 || strcmp(ws->w[obj], "REPLACE") == 0))
		obj++;
	if (obj >= ws->n)
		return false;
	if (strcmp(ws->w[obj], "EVENT") == 0)
		return false;
	if (strcmp(ws->w[obj], "USER") == 0 && obj + 1 < ws->n && strcmp(ws->w[obj + 1], "MAPPING") == 0)
		return true;
	for (size_t i = 0; i < sizeof(global) / sizeof(global[0]); i++)
		if (strcmp(ws->w[obj], global[i]) == 0)
			return false;
	return true;
}

/* tag_matches - the tag's words, in order, among the statement's first */
static bool
tag_matches(const words_t *ws, const char *tag)
{
	char		t[64];
	int			at = 0;
	char	   *save = NULL;

	snprintf(t, sizeof(t), "%s", tag);
	for (char *w = strtok_r(t, " ", &save); w; w = strtok_r(NULL, " ", &save))
	{
		if (at == 0)
		{
			if (ws->n == 0 || strcasecmp(ws->w[0], w) != 0)
				return false;
			at = 1;
			continue;
		}
		while (at < ws->n && strcasecmp(ws->w[at], w) != 0)
			at++;
		if (at >= ws->n)
			return false;
		at++;
	}
	return at > 0;
}

/* find_stmt - d->stmt from d->query, d->pos and d->tag, or d->why */
static int
find_stmt(tide_ddl_t *d)
{
	size_t	   *st = NULL,
			   *en = NULL,
				n = 0;
	int			seen = 0;
	size_t		len = strlen(d->query);

	if (d->nested)
	{
		d->why = "the command ran inside a function, procedure or DO block: the query string is the call, not the command";
		return 0;
	}
	if (tide_sql_split(d->query, len, &st, &en, &n) != 0)
		return -1;
	d->why = "the query string holds no statement of this command at its place (its command tag does not match)";
	for (size_t i = 0; i < n; i++)
	{
		words_t		ws;

		words_of(d->query, st[i], en[i], &ws);
		if (!fires(&ws))
			continue;
		if (seen++ != d->pos)
			continue;
		if (tag_matches(&ws, d->tag))
		{
			if ((d->stmt = strndup(d->query + st[i], en[i] - st[i])) == NULL)
			{
				free(st);
				free(en);
				return -1;
			}
			d->concurrently = ws.concurrently;
			d->why = NULL;
		}
		break;
	}
	free(st);
	free(en);
	return 0;
}

/* ------------------------------------------------------------- payload */

static int
get_str(json_t *o, const char *key, bool required, char **out, char *err, size_t errlen)
{
	json_t	   *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
	{
		if (!required)
			return 0;
		snprintf(err, errlen, "the payload has no \"%s\"", key);
		return -1;
	}
	if (!json_is_string(v))
	{
		snprintf(err, errlen, "\"%s\" of the payload is not a string", key);
		return -1;
	}
	if ((*out = strdup(json_string_value(v))) == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* get_pair - ["schema", "name"] into two strings, or both NULL */
static int
get_pair(json_t *o, const char *key, char **a, char **b, char *err, size_t errlen)
{
	json_t	   *v = json_object_get(o, key);

	*a = *b = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) != 2 ||
		!json_is_string(json_array_get(v, 0)) || !json_is_string(json_array_get(v, 1)))
	{
		snprintf(err, errlen, "\"%s\" of an object of the payload is not [schema, name]", key);
		return -1;
	}
	*a = strdup(json_string_value(json_array_get(v, 0)));
	*b = strdup(json_string_value(json_array_get(v, 1)));
	if (*a == NULL || *b == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

void
tide_ddl_free(tide_ddl_t *d)
{
	for (size_t i = 0; d->objs && i < d->nobjs; i++)
	{
		tide_ddl_obj_t *o = &d->objs[i];

		free(o->type);
		free(o->schema);
		free(o->identity);
		free(o->tschema);
		free(o->tname);
		free(o->rschema);
		free(o->rname);
	}
	free(d->objs);
	free(d->tag);
	free(d->query);
	free(d->search_path);
	free(d->role);
	free(d->session_user);
	free(d->stmt);
	memset(d, 0, sizeof(*d));
}

int
tide_ddl_parse(const char *data, size_t len, tide_ddl_t *out, char *err, size_t errlen)
{
	json_error_t je;
	json_t	   *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	json_t	   *v;
	json_t	   *arr;
	const char *phase;

	memset(out, 0, sizeof(*out));
	if (root == NULL || !json_is_object(root))
	{
		snprintf(err, errlen, "the payload is not a JSON object%s%s", root ? "" : ": ",
				 root ? "" : je.text);
		json_decref(root);
		return -1;
	}
	v = json_object_get(root, "v");
	if (!json_is_integer(v) || json_integer_value(v) < 1)
	{
		snprintf(err, errlen, "the payload has no valid version \"v\"");
		goto bad;
	}
	if (json_integer_value(v) > TIDE_DDL_VERSION)
	{
		snprintf(err, errlen, "the payload has version %lld, this tide reads up to version %d",
				 (long long) json_integer_value(v), TIDE_DDL_VERSION);
		goto bad;
	}
	phase = json_string_value(json_object_get(root, "phase"));
	if (phase == NULL || (strcmp(phase, "start") != 0 && strcmp(phase, "end") != 0))
	{
		snprintf(err, errlen, "the payload has no valid \"phase\" (start or end)");
		goto bad;
	}
	out->start = strcmp(phase, "start") == 0;
	if (get_str(root, "tag", true, &out->tag, err, errlen) != 0 ||
		get_str(root, "query", true, &out->query, err, errlen) != 0 ||
		get_str(root, "search_path", true, &out->search_path, err, errlen) != 0 ||
		get_str(root, "role", false, &out->role, err, errlen) != 0 ||
		get_str(root, "session_user", false, &out->session_user, err, errlen) != 0)
		goto bad;
	v = json_object_get(root, "pos");
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000)
	{
		snprintf(err, errlen, "the payload has no valid \"pos\"");
		goto bad;
	}
	out->pos = (int) json_integer_value(v);
	out->nested = json_is_true(json_object_get(root, "nested"));
	arr = json_object_get(root, "objects");
	if (!json_is_array(arr))
	{
		snprintf(err, errlen, "the payload has no \"objects\" array");
		goto bad;
	}
	if (json_array_size(arr) > 0 &&
		(out->objs = calloc(json_array_size(arr), sizeof(tide_ddl_obj_t))) == NULL)
	{
		snprintf(err, errlen, "out of memory");
		goto bad;
	}
	for (size_t i = 0; i < json_array_size(arr); i++)
	{
		json_t	   *o = json_array_get(arr, i);
		tide_ddl_obj_t *ob = &out->objs[out->nobjs++];

		if (!json_is_object(o))
		{
			snprintf(err, errlen, "object %zu of the payload is not an object", i + 1);
			goto bad;
		}
		if (get_str(o, "type", true, &ob->type, err, errlen) != 0 ||
			get_str(o, "schema", false, &ob->schema, err, errlen) != 0 ||
			get_str(o, "identity", false, &ob->identity, err, errlen) != 0 ||
			get_pair(o, "table", &ob->tschema, &ob->tname, err, errlen) != 0 ||
			get_pair(o, "root", &ob->rschema, &ob->rname, err, errlen) != 0)
			goto bad;
		ob->temp = json_is_true(json_object_get(o, "temp"));
	}
	json_decref(root);
	if (find_stmt(out) != 0)
	{
		snprintf(err, errlen, "out of memory");
		tide_ddl_free(out);
		return -1;
	}
	return 0;
bad:
	json_decref(root);
	tide_ddl_free(out);
	return -1;
}
