/*
 * streamer/segdir.c
 *		A directory of segments: listing, scanning, repair, retention, and
 *		the `tide ls` and `tide prune` commands.
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

#include "tide/common.h"
#include "tide/pgtools.h"
#include "base.h"
#include "segdir.h"
#include "tide/value.h"


/*
 * entry_cmp - LSN order: the start LSN in the name (the header's, which
 * readers check), then the bucket.  Segments with the same start hold no
 * transaction but the last (idle buckets): their buckets order them.
 * Chaining follows LSNs, never names or clocks (invariant 3).
 */
static int
entry_cmp(const void *a, const void *b)
{
	const segdir_entry_t *x = a;
	const segdir_entry_t *y = b;

	if (x->start_lsn != y->start_lsn)
		return x->start_lsn < y->start_lsn ? -1 : 1;
	if (x->bucket_start != y->bucket_start)
		return x->bucket_start < y->bucket_start ? -1 : 1;
	return strcmp(x->name, y->name);
}

int
segdir_list(const char *dir, segdir_list_t *list)
{
	DIR		   *d = opendir(dir);
	struct dirent *de;
	size_t		cap = 0;

	list->v = NULL;
	list->n = 0;
	if (d == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL)
	{
		segdir_entry_t e;

		if (seg_name_parse(de->d_name, &e.bucket_start, &e.start_lsn, &e.partial) != 0 ||
			strlen(de->d_name) == SEG_NAME_LEN)
			continue;
		memcpy(e.name, de->d_name, SEG_NAME_LEN);
		e.name[SEG_NAME_LEN] = '\0';
		if (list->n == cap)
		{
			segdir_entry_t *v = realloc(list->v, (cap = cap ? cap * 2 : 64) * sizeof(*v));

			if (v == NULL)
			{
				closedir(d);
				segdir_list_free(list);
				return TIDE_ENOMEM;
			}
			list->v = v;
		}
		list->v[list->n++] = e;
	}
	closedir(d);
	qsort(list->v, list->n, sizeof(*list->v), entry_cmp);
	return 0;
}

void
segdir_list_free(segdir_list_t *list)
{
	free(list->v);
	list->v = NULL;
	list->n = 0;
}

static void
entry_path(char *buf, size_t len, const char *dir, const segdir_entry_t *e)
{
	snprintf(buf, len, "%s/%s%s", dir, e->name, e->partial ? SEG_PARTIAL_SUFFIX : SEG_SUFFIX);
}

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

int
segdir_resume(const char *dir, segwriter_resume_t *res)
{
	segdir_list_t list;
	segdir_entry_t *last;
	seg_reader_t r;
	segdir_scan_t scan;
	char		path[4200];
	uint64_t	at = 0;
	int			rc;

	memset(res, 0, sizeof(*res));
	segstats_init(&res->stats);
	if ((rc = segdir_list(dir, &list)) != 0)
	{
		tide_log_error("could not read segment directory \"%s\": %s", dir, tide_strerror(rc));
		return rc;
	}
	if (list.n == 0)
	{
		segdir_list_free(&list);
		return 0;
	}
	for (size_t i = 0; i + 1 < list.n; i++)
		if (list.v[i].partial)
		{
			tide_log_error("segment \"%s%s\" is open but is not the newest in \"%s\"",
						   list.v[i].name, SEG_PARTIAL_SUFFIX, dir);
			tide_log_hint("only the newest segment can be open; move the files that do not belong to this stream elsewhere");
			segdir_list_free(&list);
			return TIDE_EBADVALUE;
		}
	last = &list.v[list.n - 1];
	entry_path(path, sizeof(path), dir, last);
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
			segdir_list_free(&list);
			return -errno;
		}
		tide_log_info("set aside \"%s\" as \"%s\": its header is incomplete (%s at byte offset %llu), so it holds no transaction",
					  path, aside, damage_hint(rc), (unsigned long long) at);
		segdir_list_free(&list);
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
		segdir_list_free(&list);
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
		segdir_list_free(&list);
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
		res->partial_name = strdup(last->name);
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
	segdir_list_free(&list);
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

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * prune_bases - delete the bases beyond the newest keep_bases (-1: keep
 * them all) whose dump ended before the window; return through *oldest
 * the consistent point of the oldest base kept (0 when none), which every
 * segment after it must outlive: without them the base cannot be rolled
 * forward.  Bases are complete directories DIR/base/<time>/ (a .partial one
 * is being written and is neither counted nor touched).
 */
static int
prune_bases(const char *dir, int keep_bases, int64_t retain_usecs, proto_time_t now,
			bool dry_run, proto_lsn_t *oldest, char *oldest_name)
{
	char		bdir[4200];
	DIR		   *d;
	struct dirent *de;
	char	  **names = NULL;
	size_t		n = 0;
	size_t		cap = 0;
	int			rc = 0;

	*oldest = 0;
	oldest_name[0] = '\0';
	snprintf(bdir, sizeof(bdir), "%s/%s", dir, BASE_SUBDIR);
	if ((d = opendir(bdir)) == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) != NULL)
	{
		if (strlen(de->d_name) != BASE_NAME_LEN || de->d_name[0] == '.')
			continue;
		if (n == cap)
		{
			char	  **v = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*v));

			if (v == NULL)
			{
				rc = TIDE_ENOMEM;
				break;
			}
			names = v;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
		{
			rc = TIDE_ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (rc == 0)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n && rc == 0; i++)
	{
		char		path[4400];
		base_manifest_t m;
		bool		beyond = keep_bases >= 0 && n - i > (size_t) keep_bases;

		snprintf(path, sizeof(path), "%s/%s", bdir, names[i]);
		if (base_manifest_read(path, &m) != 0)
		{
			tide_log_warning("base \"%s\" has no readable manifest: it is neither pruned nor protected", path);
			continue;
		}
		if (beyond && m.end_time < now - retain_usecs)
		{
			tide_log_info("%s base \"%s\" (more than %d newer bases are kept)",
						  dry_run ? "would remove" : "removed", path, keep_bases);
			if (!dry_run && tide_remove_tree(path) != 0)
			{
				tide_log_error("could not remove base \"%s\": %s", path, strerror(errno));
				rc = -errno;
			}
			continue;
		}
		if (*oldest == 0)
		{
			*oldest = m.consistent_point;
			snprintf(oldest_name, BASE_NAME_LEN + 1, "%s", names[i]);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

int
segdir_prune(const char *dir, int64_t retain_usecs, proto_time_t now, bool dry_run,
			 int keep_bases)
{
	segdir_list_t list;
	int			rc;
	int			deleted = 0;
	int			kept_for_base = 0;
	size_t		last_closed = SIZE_MAX;
	proto_lsn_t base_lsn;
	char		base_name[BASE_NAME_LEN + 1];

	if ((rc = prune_bases(dir, keep_bases, retain_usecs, now, dry_run, &base_lsn, base_name)) != 0)
	{
		tide_log_error("could not read the bases of \"%s\": %s", dir, tide_strerror(rc));
		return rc;
	}
	if ((rc = segdir_list(dir, &list)) != 0)
	{
		tide_log_error("could not read segment directory \"%s\": %s", dir, tide_strerror(rc));
		return rc;
	}
	for (size_t i = 0; i < list.n; i++)
		if (!list.v[i].partial)
			last_closed = i;
	for (size_t i = 0; i < list.n; i++)
	{
		segdir_entry_t *e = &list.v[i];
		char		path[4200];
		seg_reader_t r;
		seg_footer_t f;
		uint64_t	at;
		proto_time_t end;

		if (e->partial || i == last_closed)
			continue;
		entry_path(path, sizeof(path), dir, e);
		/* the bucket width is in the header, the range in the footer */
		if (seg_reader_open(&r, path, &at) != 0 || seg_reader_footer(&r, &f) != 0)
		{
			seg_reader_close(&r);
			tide_log_warning("not pruning \"%s\": its header or footer cannot be read", path);
			continue;
		}
		end = e->bucket_start + (int64_t) r.header.bucket_seconds * 1000000;
		seg_reader_close(&r);
		if (end > now - retain_usecs)
			continue;
		if (base_lsn != 0 && f.last_lsn > base_lsn)
		{
			/* a kept base needs every segment after its consistent point */
			kept_for_base++;
			continue;
		}
		if (!dry_run && unlink(path) != 0)
		{
			tide_log_error("could not remove segment \"%s\": %s", path, strerror(errno));
			segdir_list_free(&list);
			return -errno;
		}
		tide_log_info("%s segment \"%s\" (older than the retention window)",
					  dry_run ? "would remove" : "removed", path);
		deleted++;
	}
	if (kept_for_base)
		tide_log_info("kept %d segments older than the retention window: base \"%s\" needs them",
					  kept_for_base, base_name);
	if (deleted && !dry_run)
	{
		int			dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd >= 0)
		{
			fsync(dfd);
			close(dfd);
		}
	}
	segdir_list_free(&list);
	return deleted;
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

int
tide_cmd_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	bool		json = false;
	int			c;
	int			damaged = 0;
	segdir_list_t list;
	int			rc;
	const char *dir;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1)
	{
		if (c == 'j')
			json = true;
		else
		{
			fprintf(c == 'h' ? stdout : stderr,
					"Usage: tide ls [--json] DIR\n\n"
					"List the segments of DIR with their time and LSN ranges, transactions,\n"
					"changes and bytes.  Every block's checksum is verified; damage is\n"
					"reported with the file and byte offset (exit code 5).\n");
			return c == 'h' ? TIDE_EXIT_OK : TIDE_EXIT_USAGE;
		}
	}
	if (optind != argc - 1)
	{
		tide_log_error("ls needs exactly one directory");
		return TIDE_EXIT_USAGE;
	}
	dir = argv[optind];
	if ((rc = segdir_list(dir, &list)) != 0)
	{
		tide_log_error("could not read segment directory \"%s\": %s", dir, tide_strerror(rc));
		return TIDE_EXIT_IO;
	}
	if (!json)
		printf("%-45s %-6s %-21s %-21s %8s %10s %12s\n", "segment", "state",
			   "first commit LSN", "complete to LSN", "txns", "changes", "bytes");
	for (size_t i = 0; i < list.n; i++)
	{
		segdir_entry_t *e = &list.v[i];
		char		path[4200];
		char		fname[128];
		seg_reader_t r;
		segstats_t st;
		segdir_scan_t scan = {0};
		uint64_t	at = 0;

		entry_path(path, sizeof(path), dir, e);
		snprintf(fname, sizeof(fname), "%s%s", e->name, e->partial ? SEG_PARTIAL_SUFFIX : SEG_SUFFIX);
		segstats_init(&st);
		rc = seg_reader_open(&r, path, &at);
		if (rc == 0)
			rc = segdir_scan_file(&r, &st, &scan, false);
		else
			scan.err_offset = at;
		/* the torn tail of an open segment is expected, not damage */
		if (rc != 0 && !(e->partial && (rc == TIDE_ETRUNCATED)))
		{
			damaged++;
			tide_log_error("segment \"%s\" is damaged at byte offset %llu: %s",
						   path, (unsigned long long) scan.err_offset, damage_hint(rc));
		}
		if (json)
		{
			printf("{\"segment\":\"%s\",\"state\":\"%s\",\"first_lsn\":\"" LSN_FMT "\","
				   "\"covered_lsn\":\"" LSN_FMT "\",\"transactions\":%llu,\"changes\":%llu,"
				   "\"bytes\":%llu,\"first_commit\":\"",
				   fname, rc && !(e->partial && rc == TIDE_ETRUNCATED) ? "damaged" : e->partial ? "open" : "closed",
				   LSN_ARGS(st.first_lsn), LSN_ARGS(scan.covered),
				   (unsigned long long) st.ntxns, (unsigned long long) st.nchanges,
				   (unsigned long long) scan.size);
			put_time(stdout, st.first_time);
			printf("\",\"last_commit\":\"");
			put_time(stdout, st.last_time);
			printf("\"");
			if (rc && !(e->partial && rc == TIDE_ETRUNCATED))
				printf(",\"damage_offset\":%llu,\"damage\":\"%s\"",
					   (unsigned long long) scan.err_offset, tide_err_name(rc));
			printf("}\n");
		}
		else
		{
			char		a[32];
			char		b[32];

			snprintf(a, sizeof(a), LSN_FMT, LSN_ARGS(st.first_lsn));
			snprintf(b, sizeof(b), LSN_FMT, LSN_ARGS(scan.covered));
			printf("%-45s %-6s %-21s %-21s %8llu %10llu %12llu\n", fname,
				   rc && !(e->partial && rc == TIDE_ETRUNCATED) ? "DAMAGED" : e->partial ? "open" : "closed",
				   a, b, (unsigned long long) st.ntxns, (unsigned long long) st.nchanges,
				   (unsigned long long) scan.size);
		}
		segdir_scan_free(&scan);
		segstats_free(&st);
		seg_reader_close(&r);
	}
	segdir_list_free(&list);
	return damaged ? TIDE_EXIT_CORRUPT : TIDE_EXIT_OK;
}

int
tide_cmd_prune(int argc, char **argv)
{
	static const struct option opts[] = {
		{"retain", required_argument, NULL, 'r'},
		{"dry-run", no_argument, NULL, 'n'},
		{"keep-bases", required_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int64_t		retain = -1;
	int			keep_bases = -1;
	bool		dry = false;
	int			c;
	int			rc;

	while ((c = getopt_long(argc, argv, "r:nk:h", opts, NULL)) != -1)
	{
		switch (c)
		{
			case 'r':
				if ((rc = tide_opt_duration("--retain", optarg, 0, INT64_C(100) * 366 * 86400 * 1000000,
											&retain)) != 0)
					return rc;
				break;
			case 'n':
				dry = true;
				break;
			case 'k':
				{
					int64_t		v;

					/* at least one: a base is what a new replica starts from */
					if ((rc = tide_opt_int("--keep-bases", optarg, 1, INT32_MAX, &v)) != 0)
						return rc;
					keep_bases = (int) v;
					break;
				}
			default:
				fprintf(c == 'h' ? stdout : stderr,
						"Usage: tide prune --retain DURATION [--keep-bases N] [--dry-run] DIR\n\n"
						"Delete closed segments whose time bucket ended more than DURATION\n"
						"ago (e.g. 15d).  The open segment and the newest closed one are kept,\n"
						"and so is every segment after the oldest kept base (DIR/base): a base\n"
						"is useless without the history that follows it.  --keep-bases N also\n"
						"deletes the bases older than DURATION beyond the newest N.\n");
				return c == 'h' ? TIDE_EXIT_OK : TIDE_EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || retain < 0)
	{
		tide_log_error("prune needs --retain and exactly one directory");
		return TIDE_EXIT_USAGE;
	}
	rc = segdir_prune(argv[optind], retain, tide_now(), dry, keep_bases);
	return rc < 0 ? TIDE_EXIT_IO : TIDE_EXIT_OK;
}
