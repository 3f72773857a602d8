/*
 * streamer/segdir.c
 *		The streamer's directory: the full scan of a segment, the repair of
 *		a torn open segment on restart, and `tide ls`.  Listing, chaining
 *		and retention are store/'s (one lister for every backend).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tide/cmdline.h"
#include "tide/common.h"
#include "segdir.h"
#include "tide/store.h"
#include "tide/value.h"


static int
index_push(segdir_scan_t *s, uint64_t *cap, uint64_t off, proto_lsn_t lsn)
{
	if (s->nblocks == *cap)
	{
		uint64_t	ncap = *cap ? *cap * 2 : 256;
		uint64_t   *o = realloc(s->block_offsets, ncap * sizeof(*o));

		if (o == NULL)
			return TIDE_ENOMEM;
		s->block_offsets = o;
		o = realloc(s->block_lsns, ncap * sizeof(*o));
		if (o == NULL)
			return TIDE_ENOMEM;
		s->block_lsns = o;
		*cap = ncap;
	}
	s->block_offsets[s->nblocks] = off;
	s->block_lsns[s->nblocks] = lsn;
	s->nblocks++;
	return 0;
}

int
segdir_scan_file(seg_reader_t *r, segstats_t *stats, segdir_scan_t *scan,
				 bool want_index)
{
	uint64_t	cap = 0;
	uint64_t	nwhole = 0;
	int			rc;

	memset(scan, 0, sizeof(*scan));
	scan->size = r->file_size;
	while ((rc = seg_reader_next(r)) == 0)
	{
		proto_rbuf_t f;
		proto_rbuf_t body;
		uint8_t		type;

		if (want_index && (rc = index_push(scan, &cap, r->block_offset, r->block.end_lsn)) != 0)
			break;
		if (r->block.flags & SEG_BLOCK_ENDS_TXN)
			nwhole = scan->nblocks;
		proto_rbuf_init(&f, r->raw.data, r->raw.len);
		while ((rc = proto_read_msg(&f, &type, &body)) == 0)
			if ((rc = segstats_account(stats, type, body.data, body.len)) != 0)
				break;
		if (rc != TIDE_EEOF)
		{
			r->block_offset = r->offset - SEG_BLOCK_HEADER_LEN - r->block.stored_len;
			break;
		}
		rc = 0;
	}
	scan->txn_end = r->txn_end;
	scan->covered = r->txn_end_lsn;
	scan->nblocks = nwhole;
	if (rc != TIDE_EEOF)
	{
		scan->err = rc;
		scan->err_offset = r->block_offset;
		return rc;
	}
	if (r->closed)
	{
		seg_footer_t f;

		if ((rc = seg_reader_footer(r, &f)) != 0)
		{
			scan->err = rc;
			scan->err_offset = r->footer_offset;
			return rc;
		}
		if (f.ntxns != stats->ntxns || f.nchanges != stats->nchanges || stats->in_txn)
		{
			scan->err = TIDE_EBADVALUE;
			scan->err_offset = r->footer_offset;
			return scan->err;
		}
		scan->covered = f.last_lsn;
	}
	return 0;
}

void
segdir_scan_free(segdir_scan_t *scan)
{
	free(scan->block_offsets);
	free(scan->block_lsns);
	scan->block_offsets = NULL;
	scan->block_lsns = NULL;
}

static const char *
damage_hint(int err)
{
	switch (err)
	{
		case TIDE_ECHECKSUM:
			return "the block's bytes changed after they were written (disk or copy damage)";
		case TIDE_ETRUNCATED:
			return "the file ends inside a block (an interrupted write or copy)";
		case TIDE_EBADMAGIC:
			return "the bytes there are not a tide block";
		default:
			return tide_strerror(err);
	}
}

static char *
dup_ident(seg_header_t *h)
{
	size_t		n = h->dbname.n + h->slot.n + h->encoding.n + 1;
	char	   *buf = malloc(n);
	char	   *p = buf;

	if (buf == NULL)
		return NULL;
	memcpy(p, h->dbname.p, h->dbname.n);
	h->dbname.p = p;
	p += h->dbname.n;
	memcpy(p, h->slot.p, h->slot.n);
	h->slot.p = p;
	p += h->slot.n;
	memcpy(p, h->encoding.p, h->encoding.n);
	h->encoding.p = p;
	return buf;
}

/* list_names - the segment names of directory dir, through store/ */
static int
list_names(const char *dir, store_seglist_t *list)
{
	store_t    *s;
	char		err[STORE_ERRLEN];
	int			rc;

	list->v = NULL;
	list->n = 0;
	if ((rc = store_open(dir, NULL, &s, err)) != 0)
	{
		tide_log_error("%s", err);
		return rc;
	}
	if ((rc = store_segment_names(s, list)) != 0)
		tide_log_error("could not read segment directory \"%s\": %s", dir, store_errmsg(s));
	store_close(s);
	return rc;
}

int
segdir_resume(const char *dir, segwriter_resume_t *res)
{
	store_seglist_t list;
	store_segment_t *last;
	seg_reader_t r;
	segdir_scan_t scan;
	char		path[4200];
	uint64_t	at = 0;
	int			rc;

	memset(res, 0, sizeof(*res));
	segstats_init(&res->stats);
	if ((rc = list_names(dir, &list)) != 0)
		return rc;
	if (list.n == 0)
	{
		store_seglist_free(&list);
		return 0;
	}
	for (size_t i = 0; i + 1 < list.n; i++)
		if (list.v[i].partial)
		{
			tide_log_error("segment \"%s\" is open but is not the newest in \"%s\"",
						   list.v[i].name, dir);
			tide_log_hint("only the newest segment can be open; move the files that do not belong to this stream elsewhere");
			store_seglist_free(&list);
			return TIDE_EBADVALUE;
		}
	last = &list.v[list.n - 1];
	snprintf(path, sizeof(path), "%s/%s", dir, last->name);
	if ((rc = seg_reader_open(&r, path, &at)) != 0 && last->partial &&
		rc != -EACCES && rc != -EIO)
	{
		/*
		 * The streamer writes and fsyncs a new segment's header before any
		 * transaction goes into it: a .partial without a whole header was
		 * being created when the streamer died, and holds nothing.  Set it
		 * aside and resume from the segments before it (if the slot is
		 * past them, the gap check refuses to go on).
		 */
		char		aside[4300];

		seg_reader_close(&r);
		snprintf(aside, sizeof(aside), "%s.broken", path);
		if (rename(path, aside) != 0)
		{
			tide_log_error("could not rename \"%s\" to \"%s\": %s", path, aside, strerror(errno));
			store_seglist_free(&list);
			return -errno;
		}
		tide_log_info("set aside \"%s\" as \"%s\": its header is incomplete (%s at byte offset %llu), so it holds no transaction",
					  path, aside, damage_hint(rc), (unsigned long long) at);
		store_seglist_free(&list);
		segstats_free(&res->stats);
		return segdir_resume(dir, res);
	}
	if (rc != 0)
	{
		tide_log_error("could not read segment \"%s\" at byte offset %llu: %s",
					   path, (unsigned long long) at, damage_hint(rc));
		if (last->partial)
			tide_log_hint("if the streamer crashed while creating it, the file holds no transaction: remove it and start again");
		seg_reader_close(&r);
		store_seglist_free(&list);
		return rc;
	}
	rc = segdir_scan_file(&r, &res->stats, &scan, last->partial);
	if (rc != 0 && !last->partial)
	{
		tide_log_error("segment \"%s\" is damaged at byte offset %llu: %s",
					   path, (unsigned long long) scan.err_offset, damage_hint(rc));
		tide_log_hint("restore the file from a copy; the streamer appends only after an intact segment");
		segdir_scan_free(&scan);
		seg_reader_close(&r);
		store_seglist_free(&list);
		return rc;
	}
	res->have_segment = true;
	res->last_bucket = last->bucket_start;
	res->ident = r.header;
	res->ident_buf = dup_ident(&res->ident);
	res->covered = scan.covered;
	if (last->partial)
	{
		if (scan.txn_end < scan.size)
			tide_log_info("cutting the torn tail of \"%s\" at byte offset %llu (file was %llu bytes; %s)",
						  path, (unsigned long long) scan.txn_end,
						  (unsigned long long) scan.size,
						  rc ? damage_hint(rc) : "an unfinished transaction");
		/* the counts of the unfinished transaction are dropped with it */
		segstats_abort(&res->stats);
		res->partial_name = strndup(last->name, SEG_NAME_LEN);
		res->partial_size = scan.txn_end;
		res->nblocks = scan.nblocks;
		res->block_offsets = scan.block_offsets;
		res->block_lsns = scan.block_lsns;
		scan.block_offsets = NULL;
		scan.block_lsns = NULL;
	}
	rc = (res->ident_buf && (!last->partial || res->partial_name)) ? 0 : TIDE_ENOMEM;
	segdir_scan_free(&scan);
	seg_reader_close(&r);
	store_seglist_free(&list);
	return rc;
}

void
segdir_resume_free(segwriter_resume_t *res)
{
	free(res->ident_buf);
	free(res->partial_name);
	free(res->block_offsets);
	free(res->block_lsns);
	segstats_free(&res->stats);
	memset(res, 0, sizeof(*res));
}

/* ------------------------------------------------------------- commands */


static void
put_time(FILE *out, proto_time_t t)
{
	uint8_t		le[8];
	proto_wbuf_t b;

	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t) ((uint64_t) t >> (8 * i));
	proto_wbuf_init_heap(&b);
	proto_value_text(&b, PROTO_ENC_FIXED, PROTO_TIMESTAMPTZOID, le, 8);
	fwrite(b.data, 1, b.len, out);
	proto_wbuf_free(&b);
}

#define LSN_FMT "%X/%X"
#define LSN_ARGS(l) (unsigned) ((l) >> 32), (unsigned) (l)

/*
 * lsn_columns - the "first commit LSN" and "complete to LSN" columns; a
 * segment without a transaction has no first commit (not 0/0): what a
 * reader needs is the range it covers, from its start to where it is
 * complete.
 */
static void
lsn_columns(char *buf, size_t len, uint64_t ntxns, uint64_t start, uint64_t first, uint64_t covered)
{
	char		a[32];
	char		b[32];

	if (ntxns == 0)
	{
		snprintf(a, sizeof(a), LSN_FMT, LSN_ARGS(start));
		snprintf(b, sizeof(b), LSN_FMT, LSN_ARGS(covered > start ? covered : start));
		snprintf(buf, len, "empty, covers %s..%s", a, b);
		return;
	}
	snprintf(a, sizeof(a), LSN_FMT, LSN_ARGS(first));
	snprintf(b, sizeof(b), LSN_FMT, LSN_ARGS(covered));
	snprintf(buf, len, "%-21s %-21s", a, b);
}

/* put_time_json - a commit time as a JSON string, null when there is none */
static void
put_time_json(FILE *out, uint64_t ntxns, int64_t t)
{
	if (ntxns == 0)
	{
		fputs("null", out);
		return;
	}
	fputc('"', out);
	put_time(out, t);
	fputc('"', out);
}

/* ls_local - every segment of directory dir scanned in full: counts and damage */
static int
ls_local(const char *dir, bool json, int *damaged)
{
	store_seglist_t list;
	int			rc;

	if ((rc = list_names(dir, &list)) != 0)
		return TIDE_EXIT_IO;
	if (!json)
		printf("%-45s %-6s %-21s %-21s %8s %10s %12s\n", "segment", "state",
			   "first commit LSN", "complete to LSN", "txns", "changes", "bytes");
	for (size_t i = 0; i < list.n; i++)
	{
		store_segment_t *e = &list.v[i];
		char		path[4200];
		seg_reader_t r;
		segstats_t	st;
		segdir_scan_t scan = {0};
		uint64_t	at = 0;
		uint64_t	start = e->start_lsn;
		bool		bad;

		snprintf(path, sizeof(path), "%s/%s", dir, e->name);
		segstats_init(&st);
		rc = seg_reader_open(&r, path, &at);
		if (rc == 0)
		{
			start = r.header.start_lsn;
			rc = segdir_scan_file(&r, &st, &scan, false);
		}
		else
			scan.err_offset = at;
		/* the torn tail of an open segment is expected, not damage */
		bad = rc != 0 && !(e->partial && rc == TIDE_ETRUNCATED);
		if (bad)
		{
			(*damaged)++;
			tide_log_error("segment \"%s\" is damaged at byte offset %llu: %s",
						   path, (unsigned long long) scan.err_offset, damage_hint(rc));
		}
		if (json)
		{
			printf("{\"segment\":\"%s\",\"state\":\"%s\",\"start_lsn\":\"" LSN_FMT "\",",
				   e->name, bad ? "damaged" : e->partial ? "open" : "closed", LSN_ARGS(start));
			/* an empty segment has no first commit: null, never 0/0 */
			if (st.ntxns == 0)
				printf("\"first_lsn\":null,");
			else
				printf("\"first_lsn\":\"" LSN_FMT "\",", LSN_ARGS(st.first_lsn));
			printf("\"covered_lsn\":\"" LSN_FMT "\",\"transactions\":%llu,\"changes\":%llu,"
				   "\"bytes\":%llu,\"first_commit\":",
				   LSN_ARGS(scan.covered),
				   (unsigned long long) st.ntxns, (unsigned long long) st.nchanges,
				   (unsigned long long) scan.size);
			put_time_json(stdout, st.ntxns, st.first_time);
			printf(",\"last_commit\":");
			put_time_json(stdout, st.ntxns, st.last_time);
			if (bad)
				printf(",\"damage_offset\":%llu,\"damage\":\"%s\"",
					   (unsigned long long) scan.err_offset, tide_err_name(rc));
			printf("}\n");
		}
		else
		{
			char		range[96];

			lsn_columns(range, sizeof(range), st.ntxns, start, st.first_lsn, scan.covered);
			printf("%-45s %-6s %-43s %8llu %10llu %12llu\n", e->name,
				   bad ? "DAMAGED" : e->partial ? "open" : "closed",
				   range, (unsigned long long) st.ntxns, (unsigned long long) st.nchanges,
				   (unsigned long long) scan.size);
		}
		segdir_scan_free(&scan);
		segstats_free(&st);
		seg_reader_close(&r);
	}
	store_seglist_free(&list);
	return 0;
}

/*
 * ls_remote - a remote store's segments as its index describes them
 * (nothing is downloaded), checked to form one history.
 */
static int
ls_remote(store_t *s, const char *url, bool json, int *damaged)
{
	store_seglist_t l = {0};
	store_chain_problem_t pr;
	int			rc;

	if ((rc = store_segments(s, &l, NULL, NULL)) != 0)
	{
		tide_log_error("could not read the index of \"%s\": %s", url, store_errmsg(s));
		return rc <= TIDE__EBASE ? TIDE_EXIT_CORRUPT : TIDE_EXIT_STORE;
	}
	if (!json)
		printf("%-45s %-9s %-21s %-21s %8s %10s %12s\n", "segment", "state",
			   "first commit LSN", "complete to LSN", "txns", "changes", "bytes");
	for (size_t i = 0; i < l.n; i++)
	{
		const store_segment_t *g = &l.v[i];

		if (json)
		{
			printf("{\"segment\":\"%s\",\"state\":\"published\",\"start_lsn\":\"" LSN_FMT "\",",
				   g->name, LSN_ARGS(g->start_lsn));
			if (g->txns == 0)
				printf("\"first_lsn\":null,");
			else
				printf("\"first_lsn\":\"" LSN_FMT "\",", LSN_ARGS(g->first_lsn));
			printf("\"covered_lsn\":\"" LSN_FMT "\",\"transactions\":%llu,\"changes\":%llu,"
				   "\"bytes\":%llu,\"sha256\":\"%s\",\"first_commit\":",
				   LSN_ARGS(g->end_lsn),
				   (unsigned long long) g->txns, (unsigned long long) g->changes,
				   (unsigned long long) g->size, g->sha256);
			put_time_json(stdout, g->txns, g->first_time);
			printf(",\"last_commit\":");
			put_time_json(stdout, g->txns, g->last_time);
			printf("}\n");
		}
		else
		{
			char		range[96];

			lsn_columns(range, sizeof(range), g->txns, g->start_lsn, g->first_lsn, g->end_lsn);
			printf("%-45s %-9s %-43s %8llu %10llu %12llu\n", g->name, "published",
				   range, (unsigned long long) g->txns, (unsigned long long) g->changes,
				   (unsigned long long) g->size);
		}
	}
	/* invariant 9: a published history with a hole says so */
	if (l.n && store_seglist_check(&l, &pr) != 0)
	{
		char		why[2048];

		store_chain_describe(&l, &pr, why, sizeof(why));
		tide_log_error("%s", why);
		tide_log_hint("publish the missing segments again from the streamer's directory (tide publish)");
		(*damaged)++;
	}
	store_seglist_free(&l);
	return 0;
}

/* ls_bases - the complete bases, oldest first (text only) */
static int
ls_bases(store_t *s, const char *url, bool json)
{
	store_base_t *v = NULL;
	size_t		n = 0;
	int			rc;

	if ((rc = store_bases(s, &v, &n)) != 0)
	{
		tide_log_error("could not read the bases of \"%s\": %s", url, store_errmsg(s));
		return rc <= TIDE__EBASE ? TIDE_EXIT_CORRUPT :
			store_kind(s) == STORE_LOCAL ? TIDE_EXIT_IO : TIDE_EXIT_STORE;
	}
	if (n && !json)
	{
		printf("\n%-20s %-21s %-28s %12s\n", "base", "consistent point", "finished", "bytes");
		for (size_t i = 0; i < n; i++)
		{
			char		a[32];
			uint64_t	bytes = 0;

			for (size_t k = 0; k < v[i].nfiles; k++)
				bytes += v[i].files[k].size;
			snprintf(a, sizeof(a), LSN_FMT, LSN_ARGS(v[i].manifest.consistent_point));
			printf("%-20s %-21s ", v[i].name, a);
			put_time(stdout, v[i].manifest.end_time);
			printf(" %12llu\n", (unsigned long long) bytes);
		}
	}
	store_bases_free(v, n);
	return 0;
}

static void
ls_usage(FILE *f)
{
	fprintf(f,
			"Usage: tide ls [--json] DIR|URL\n\n"
			"List the segments of DIR with their time and LSN ranges, transactions,\n"
			"changes and bytes, then its bases.  A segment without a transaction shows\n"
			"the range it covers (\"empty, covers A..B\"; in JSON a null first_lsn).\n"
			"Every block's checksum is verified; damage is reported with the file and\n"
			"byte offset (exit code 5).  A store URL (s3://BUCKET/PREFIX,\n"
			"http(s)://HOST/PATH) is listed from its index, without downloading a\n"
			"segment; a gap in its history is reported (exit code 5).  Exit code 7:\n"
			"the store cannot be reached.\n\n"
			"Options:\n"
			"  -j, --json             one JSON object per segment\n");
	tide_std_usage(f, 25);
}

int
tide_cmd_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		TIDE_STD_LONGOPTS,
		{NULL, 0, NULL, 0}
	};
	bool		json = false;
	int			c;
	int			damaged = 0;
	int			rc;
	const char *dir;
	store_t    *s;
	char		err[STORE_ERRLEN];

	optind = 1;
	while ((c = tide_getopt(argc, argv, "j", opts)) != -1)
	{
		if (c == 'j')
			json = true;
		else
		{
			rc = tide_opt_std(c, "ls", ls_usage);
			return rc < 0 ? TIDE_EXIT_OK : rc;
		}
	}
	if (optind != argc - 1)
	{
		tide_log_error("ls needs exactly one directory or store URL");
		return TIDE_EXIT_USAGE;
	}
	dir = argv[optind];
	if ((rc = store_open(dir, NULL, &s, err)) != 0)
	{
		tide_log_error("%s", err);
		return rc == -EINVAL ? TIDE_EXIT_USAGE : strstr(dir, "://") && strncmp(dir, "file://", 7) ?
			TIDE_EXIT_STORE : TIDE_EXIT_IO;
	}
	if (store_kind(s) == STORE_LOCAL)
		rc = ls_local(dir, json, &damaged);
	else
		rc = ls_remote(s, dir, json, &damaged);
	if (rc == 0)
		rc = ls_bases(s, dir, json);
	store_close(s);
	if (rc != 0)
		return rc;
	return damaged ? TIDE_EXIT_CORRUPT : TIDE_EXIT_OK;
}
