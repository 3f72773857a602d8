/*
 * streamer/sequences.c
 *		Recording sequence states into the stream (tide stream, tide
 *		sync-sequences).
 *
 * PostgreSQL 15 decodes no sequence changes.  The states are read over a
 * plain session (common/seqstate.c: one statement) and written back into
 * WAL as one transactional logical message, prefix "tide.seq", in a
 * transaction of its own: the slot then delivers it in commit order with
 * the data, the segments keep it, and tide apply moves the replica's
 * sequences forward to it.  One message holds every recorded sequence (a
 * batch): a replica transaction applies them together, and a reader never
 * sees half an emission.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tide/cmdline.h"
#include "tide/common.h"
#include "tide/pgtools.h"
#include "tide/seqstate.h"
#include "tide/tablematch.h"
#include "sequences.h"
#include "source.h"

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* split - value's comma-separated items, trimmed as the decoder trims them */
static int
split(char *value, const char *key, const char **out, int *n, bool tables)
{
	char	   *p = value;

	for (;;)
	{
		char	   *comma = strchr(p, ',');
		char	   *end;

		if (comma)
			*comma = '\0';
		while (is_blank(*p))
			p++;
		end = p + strlen(p);
		while (end > p && is_blank(end[-1]))
			*--end = '\0';
		if (*n == STREAM_SEQ_MAX_PATTERNS)
		{
			tide_log_error("too many items in -o %s (at most %d)", key, STREAM_SEQ_MAX_PATTERNS);
			return TIDE_EXIT_USAGE;
		}
		if (tables && !proto_table_pattern_valid(p))
		{
			tide_log_error("invalid table pattern \"%s\" in -o %s", p, key);
			tide_log_hint("a table pattern has the form schema.table, where \"*\" in either part matches any characters");
			return TIDE_EXIT_USAGE;
		}
		out[(*n)++] = p;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

int
stream_seq_filter(stream_seq_filter_t *f, const char *const (*opts)[2], int n)
{
	size_t		total = 0;
	char	   *at;
	const char *prefixes[STREAM_SEQ_MAX_PATTERNS];
	int			nprefixes;
	int			rc;

	memset(f, 0, sizeof(*f));
	for (int i = 0; i < n; i++)
		total += strlen(opts[i][1]) + 1;
	if ((f->patterns = malloc(total + 1)) == NULL)
	{
		tide_log_error("out of memory");
		return TIDE_EXIT_BUG;
	}
	at = f->patterns;
	for (int i = 0; i < n; i++)
	{
		const char *key = opts[i][0];
		bool		incl_t = strcmp(key, "include-tables") == 0;
		bool		excl_t = strcmp(key, "exclude-tables") == 0;
		bool		incl_m = strcmp(key, "include-message-prefixes") == 0;
		bool		excl_m = strcmp(key, "exclude-message-prefixes") == 0;
		bool		found = false;
		size_t		len = strlen(opts[i][1]);

		if (!incl_t && !excl_t && !incl_m && !excl_m)
			continue;
		memcpy(at, opts[i][1], len + 1);
		if (incl_t)
			rc = split(at, key, f->incl, &f->nincl, true);
		else if (excl_t)
			rc = split(at, key, f->excl, &f->nexcl, true);
		else
		{
			nprefixes = 0;
			rc = split(at, key, prefixes, &nprefixes, false);
			for (int j = 0; rc == 0 && j < nprefixes; j++)
				found |= strcmp(prefixes[j], TIDE_SEQ_PREFIX) == 0;
			if (rc == 0 && (incl_m ? !found : found))
			{
				f->off = true;
				snprintf(f->why_off, sizeof(f->why_off), "-o %s %s \"" TIDE_SEQ_PREFIX "\"",
						 key, incl_m ? "does not name" : "names");
			}
		}
		if (rc != 0)
		{
			stream_seq_filter_free(f);
			return rc;
		}
		at += len + 1;			/* split() cut it up in place */
	}
	return 0;
}

void
stream_seq_filter_free(stream_seq_filter_t *f)
{
	free(f->patterns);
	f->patterns = NULL;
}

/* keep - a sequence is recorded unless the table owning it is filtered out */
static bool
keep(const tide_seq_t *s, void *arg)
{
	const stream_seq_filter_t *f = arg;
	bool		in = f->nincl == 0;

	if (s->owner_schema == NULL)
		return true;
	for (int i = 0; i < f->nexcl; i++)
		if (proto_table_match(f->excl[i], s->owner_schema, s->owner_table))
			return false;
	for (int i = 0; !in && i < f->nincl; i++)
		in = proto_table_match(f->incl[i], s->owner_schema, s->owner_table);
	return in;
}

int
stream_seq_payload(const tide_seqlist_t *l, const stream_seq_filter_t *f, const char *last,
				   bool force, char **payload, size_t *count, bool *warned_unreadable)
{
	size_t		unreadable = 0;

	*payload = NULL;
	*count = 0;
	for (size_t i = 0; i < l->n; i++)
		if (!l->v[i].readable)
		{
			if (!*warned_unreadable)
			{
				if (unreadable == 0)
					tide_log_warning("the states of sequences this role cannot read are not recorded");
				if (unreadable < 10)
					tide_log_detail("no SELECT privilege on sequence \"%s.%s\"", l->v[i].schema, l->v[i].name);
			}
			unreadable++;
		}
	if (unreadable && !*warned_unreadable)
	{
		if (unreadable > 10)
			tide_log_detail("and %zu more", unreadable - 10);
		tide_log_hint("GRANT SELECT ON ALL SEQUENCES IN SCHEMA ... to the role tide connects as, so that replicas get them");
		*warned_unreadable = true;
	}
	if ((*payload = tide_seq_payload(l, f ? keep : NULL, (void *) f, count)) == NULL)
	{
		tide_log_error("out of memory");
		return -1;
	}
	if (*count == 0 || (!force && last && strcmp(last, *payload) == 0))
	{
		/* nothing moved since the last emission: the source may stay idle */
		free(*payload);
		*payload = NULL;
	}
	return 0;
}

int
stream_seq_record(PGconn *conn, const stream_seq_filter_t *f, char *lsn, size_t lsnlen,
				  size_t *count, bool *warned_unreadable)
{
	tide_seqlist_t l;
	char		err[1024];
	char	   *payload;
	int			rc;

	if (lsn)
		lsn[0] = '\0';
	*count = 0;
	if (tide_seq_read(conn, &l, err, sizeof(err)) != 0)
	{
		tide_log_error("%s", err);
		return -1;
	}
	rc = stream_seq_payload(&l, f, NULL, true, &payload, count, warned_unreadable);
	tide_seqlist_free(&l);
	if (rc != 0 || payload == NULL)
		return rc;
	if ((rc = tide_seq_emit(conn, payload, lsn, lsnlen, err, sizeof(err))) != 0)
		tide_log_error("%s", err);
	free(payload);
	return rc;
}

/* ------------------------------------------------------------- command */

static void
sync_usage(FILE *f)
{
	fprintf(f,
			"Usage: tide sync-sequences -d SOURCE_CONNINFO [OPTIONS]\n\n"
			"Record the states of the source's sequences into the stream now: one\n"
			"transactional logical message (prefix \"tide.seq\") that tide stream writes\n"
			"into the segments in commit order and tide apply applies, moving each\n"
			"replica sequence forward (never backward).  tide stream records them by\n"
			"itself at startup, when a segment closes and every --sequence-interval;\n"
			"run this last before a cutover so the replica's sequences are ahead of\n"
			"every value the source handed out.  Prints the message's LSN: a stream\n"
			"and an apply that reach it have it.\n\n"
			"Connection options (PG* variables apply; the role needs SELECT on the\n"
			"sequences and EXECUTE on pg_logical_emit_message, every role's by default):\n");
	tide_conn_usage(f, "the source", 25);
	fprintf(f,
			"\nOptions:\n"
			"  -o, --option=NAME=VALUE  the decoder options tide stream is given, of which\n"
			"                         include-tables and exclude-tables leave out the\n"
			"                         sequences of the tables they leave out\n"
			"  -q, --quiet            print nothing but the LSN\n");
	tide_std_usage(f, 25);
	fprintf(f,
			"\nExit codes: 0 recorded (or no sequence to record: no LSN printed),\n"
			"2 bad arguments, 3 the source: connection, privileges.\n");
}

int
tide_cmd_sync_sequences(int argc, char **argv)
{
	static const struct option opts[] = {
		TIDE_CONN_LONGOPTS,
		TIDE_STD_LONGOPTS,
		{"option", required_argument, NULL, 'o'},
		{"quiet", no_argument, NULL, 'q'},
		{NULL, 0, NULL, 0}
	};
	tide_conn_opts_t co = {0};
	stream_sync_opts_t o;
	char		lsn[64];
	int			c;
	int			rc;

	memset(&o, 0, sizeof(o));
	optind = 1;
	while ((c = tide_getopt(argc, argv, TIDE_CONN_SHORTOPTS "o:q", opts)) != -1)
	{
		if (tide_conn_opt(&co, c, optarg))
			continue;
		switch (c)
		{
			case 'o':
				{
					char	   *eq = strchr(optarg, '=');

					if (o.npopts == STREAM_SEQ_MAX_PATTERNS)
					{
						tide_log_error("too many -o options");
						return TIDE_EXIT_USAGE;
					}
					o.popts[o.npopts][0] = optarg;
					o.popts[o.npopts][1] = "";
					if (eq)
					{
						*eq = '\0';
						o.popts[o.npopts][1] = eq + 1;
					}
					o.npopts++;
					break;
				}
			case 'q':
				tide_log_quiet = 1;
				break;
			default:
				rc = tide_opt_std(c, "sync-sequences", sync_usage);
				return rc < 0 ? TIDE_EXIT_OK : rc;
		}
	}
	if (optind < argc)
	{
		tide_log_error("unexpected argument \"%s\"", argv[optind]);
		tide_log_hint("run 'tide sync-sequences --help' for its options");
		return TIDE_EXIT_USAGE;
	}
	/* -d with -h, -p, -U over it; what none gives: PG* variables */
	if ((rc = tide_conn_finish(&co, "the source")) != 0)
		return rc;
	o.conninfo = co.conninfo;
	rc = tide_sync_sequences_run(&o, lsn, sizeof(lsn));
	if (rc == 0 && lsn[0])
	{
		printf("%s\n", lsn);
		fflush(stdout);
	}
	tide_conn_free(&co);
	return rc;
}

int
tide_sync_sequences_run(const stream_sync_opts_t *o, char *lsn, size_t len)
{
	stream_seq_filter_t f;
	PGconn	   *conn;
	size_t		count = 0;
	bool		warned = false;
	int			rc;

	lsn[0] = '\0';
	if ((rc = stream_seq_filter(&f, (const char *const (*)[2]) o->popts, o->npopts)) != 0)
		return rc;
	if (f.off)
		tide_log_warning("tide stream given these options would not write the sequences' states into the segments: %s",
						 f.why_off);
	conn = stream_connect_source(o->conninfo, NULL, NULL, NULL, false, "tide sync-sequences");
	if (PQstatus(conn) != CONNECTION_OK)
	{
		const char *e = PQerrorMessage(conn);
		size_t		n = strlen(e);

		while (n > 0 && e[n - 1] == '\n')
			n--;
		tide_log_error("could not connect to the source: %.*s", (int) n, e);
		PQfinish(conn);
		stream_seq_filter_free(&f);
		return TIDE_EXIT_SOURCE;
	}
	if (tide_pin_session(conn) != 0)
	{
		tide_log_error("could not set up the source session: %s", PQerrorMessage(conn));
		rc = TIDE_EXIT_SOURCE;
	}
	else if (stream_seq_record(conn, &f, lsn, len, &count, &warned) != 0)
	{
		tide_log_hint("the role needs SELECT on the sequences and EXECUTE on pg_catalog.pg_logical_emit_message (every role's by default)");
		rc = TIDE_EXIT_SOURCE;
		lsn[0] = '\0';
	}
	else if (count == 0)
	{
		tide_log_info("no sequence to record");
		lsn[0] = '\0';
	}
	else
		tide_log_info("recorded the states of %zu %s at %s", count, count == 1 ? "sequence" : "sequences", lsn);
	PQfinish(conn);
	stream_seq_filter_free(&f);
	return rc;
}
