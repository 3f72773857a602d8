/*
 * store/src/segments.c
 *		Segments in a store: which objects are segments, what their
 *		headers and footers say, and whether they form one history.
 *
 * This is the one listing of segments for every backend (STYLE: one
 * directory/store lister).  Its rules are those of streamer/segdir.c and
 * applier/apply.c (scan_dir, catch_up), which it is to replace:
 *
 *   - order is by start LSN, then bucket (segments of idle buckets share a
 *     start LSN; their buckets order them), then name;
 *   - LSNs come from the files (the header's start LSN, the footer's last
 *     end LSN) or from an index that copied them from the files, never
 *     from names or clocks: a name that disagrees with its header is an
 *     error, not a hint;
 *   - each segment starts exactly where the one before it ended; a gap is
 *     reported with both objects and the LSN range no file holds;
 *   - only the last segment may be open (".partial");
 *   - one source: system identifier, timeline and slot are the same
 *     throughout.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tide/segment.h"

#define HEAD_READ 8192			/* magic + header block: names are short */
#define HEAD_MAX (64 * 1024)	/* three names of PROTO_MAX_NAME, and more */
#define FOOTER_MAX (64 * 1024 * 1024)	/* a footer with many tables */

#define LSN_FMT "%X/%X"
#define LSN_ARGS(l) (unsigned) ((uint64_t) (l) >> 32), (unsigned) (l)

int
store_seglist_from_list(const store_list_t *l, store_seglist_t *out)
{
	out->v = NULL;
	out->n = 0;
	if (l->n == 0)
		return 0;
	if ((out->v = calloc(l->n, sizeof(*out->v))) == NULL)
		return TIDE_ENOMEM;
	for (size_t i = 0; i < l->n; i++)
	{
		const char *name = l->v[i].name;
		store_segment_t *g = &out->v[out->n];
		size_t		len = strlen(name);

		/* directly under the root, a whole segment name and a suffix */
		if (strchr(name, '/') != NULL || len >= sizeof(g->name) ||
			len <= SEG_NAME_LEN ||
			seg_name_parse(name, &g->bucket_start, &g->start_lsn, &g->partial) != 0)
			continue;
		memcpy(g->name, name, len + 1);
		g->size = l->v[i].size;
		g->end_lsn = g->start_lsn;
		out->n++;
	}
	store_seglist_sort(out);
	return 0;
}

static uint64_t
rd64(const uint8_t *p)
{
	uint64_t	v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void
copy_str(char *dst, size_t cap, proto_str_t s)
{
	size_t		n = s.n < cap - 1 ? s.n : cap - 1;

	if (n)
		memcpy(dst, s.p, n);
	dst[n] = '\0';
}

/*
 * read_block - the block at offset of object name, checked: its header
 * read from the first bytes of buf (len of them already there) or fetched,
 * its payload fetched as needed, its checksum verified.  *payload points
 * into *buf (malloc'd, grown as needed).
 */
static int
read_block(store_t *s, const char *name, uint64_t offset, uint8_t **buf, size_t *have,
		   size_t max, seg_block_t *b, const uint8_t **payload)
{
	size_t		need;
	size_t		got;
	int			rc;

	if (*have < SEG_BLOCK_HEADER_LEN)
		return TIDE_ETRUNCATED;
	if ((rc = seg_block_parse(*buf, b)) != 0)
		return rc;
	need = SEG_BLOCK_HEADER_LEN + (size_t) b->stored_len;
	if (b->codec != SEG_CODEC_NONE || need > max)
		return TIDE_EBADVALUE;
	if (need > *have)
	{
		uint8_t    *nb = realloc(*buf, need);

		if (nb == NULL)
			return TIDE_ENOMEM;
		*buf = nb;
		if ((rc = store_read(s, name, offset + *have, need - *have, nb + *have, &got)) != 0)
			return rc;
		*have += got;
		if (*have < need)
			return TIDE_ETRUNCATED;
	}
	*payload = *buf + SEG_BLOCK_HEADER_LEN;
	return seg_block_verify(*buf, b, *payload);
}

int
store_segment_meta(store_t *s, store_segment_t *g)
{
	uint8_t    *buf = NULL;
	size_t		have = 0;
	seg_block_t b;
	const uint8_t *payload;
	proto_rbuf_t rb;
	seg_header_t h;
	uint64_t	size = g->size;
	int			rc;

	if (size == 0)
	{
		store_object_t o;

		if ((rc = store_head(s, g->name, &o)) != 0)
			return rc;
		size = g->size = o.size;
		store_object_free(&o);
	}

	/* magic and header block, at the start */
	if ((buf = malloc(HEAD_READ)) == NULL)
		return TIDE_ENOMEM;
	if ((rc = store_read(s, g->name, 0, HEAD_READ, buf, &have)) != 0)
		goto out;
	if (have < SEG_FILE_MAGIC_LEN)
	{
		rc = TIDE_ETRUNCATED;
		goto out;
	}
	if (memcmp(buf, SEG_FILE_MAGIC, SEG_FILE_MAGIC_LEN) != 0)
	{
		rc = TIDE_EBADMAGIC;
		goto out;
	}
	memmove(buf, buf + SEG_FILE_MAGIC_LEN, have - SEG_FILE_MAGIC_LEN);
	have -= SEG_FILE_MAGIC_LEN;
	if ((rc = read_block(s, g->name, SEG_FILE_MAGIC_LEN, &buf, &have, HEAD_MAX, &b, &payload)) != 0)
		goto out;
	if (b.kind != SEG_KIND_HEADER)
	{
		rc = TIDE_EBADVALUE;
		goto out;
	}
	proto_rbuf_init(&rb, payload, b.stored_len);
	if ((rc = seg_header_read(&rb, &h)) != 0)
		goto out;
	g->system_id = h.system_id;
	g->timeline = h.timeline;
	copy_str(g->slot, sizeof(g->slot), h.slot);
	copy_str(g->dbname, sizeof(g->dbname), h.dbname);
	copy_str(g->encoding, sizeof(g->encoding), h.encoding);
	g->bucket_seconds = h.bucket_seconds;
	g->start_lsn = h.start_lsn;
	g->end_lsn = h.start_lsn;
	g->txns = 0;
	g->changes = 0;
	g->first_lsn = 0;
	g->first_time = g->last_time = 0;
	if (h.bucket_start != g->bucket_start)
	{
		/* the name's bucket is the header's (FORMAT.md); trust the file */
		g->bucket_start = h.bucket_start;
	}
	g->known = true;
	if (g->partial)
		goto out;				/* no footer until it closes */

	/* trailer, then footer */
	{
		uint8_t		tr[SEG_TRAILER_LEN];
		uint64_t	foff;
		size_t		got;
		seg_footer_t f;

		g->known = false;
		if (size < SEG_FILE_MAGIC_LEN + 2 * SEG_BLOCK_HEADER_LEN + SEG_TRAILER_LEN)
		{
			rc = TIDE_ETRUNCATED;
			goto out;
		}
		if ((rc = store_read(s, g->name, size - SEG_TRAILER_LEN, SEG_TRAILER_LEN, tr, &got)) != 0)
			goto out;
		if (got != SEG_TRAILER_LEN || memcmp(tr + 8, SEG_TRAILER_MAGIC, 8) != 0)
		{
			rc = TIDE_ETRUNCATED;	/* a closed segment without its end */
			goto out;
		}
		foff = rd64(tr);
		if (foff < SEG_FILE_MAGIC_LEN || foff > size - SEG_TRAILER_LEN - SEG_BLOCK_HEADER_LEN ||
			size - SEG_TRAILER_LEN - foff > FOOTER_MAX)
		{
			rc = TIDE_EBADVALUE;
			goto out;
		}
		have = 0;
		if ((rc = store_read(s, g->name, foff, SEG_BLOCK_HEADER_LEN, buf, &have)) != 0)
			goto out;
		if ((rc = read_block(s, g->name, foff, &buf, &have, FOOTER_MAX, &b, &payload)) != 0)
			goto out;
		if (b.kind != SEG_KIND_FOOTER ||
			foff + SEG_BLOCK_HEADER_LEN + b.stored_len != size - SEG_TRAILER_LEN)
		{
			rc = TIDE_EBADVALUE;
			goto out;
		}
		proto_rbuf_init(&rb, payload, b.stored_len);
		if ((rc = seg_footer_read(&rb, &f)) != 0)
			goto out;
		/*
		 * The footer's last LSN: the last commit's end, or where an idle
		 * stream was marked complete (a segment without a transaction may
		 * still end past its start; the next one starts there).
		 */
		g->end_lsn = f.last_lsn > g->start_lsn ? f.last_lsn : g->start_lsn;
		if (f.ntxns && f.last_lsn < g->start_lsn)
		{
			rc = TIDE_EBADVALUE;
			goto out;
		}
		g->first_time = f.first_time;
		g->last_time = f.last_time;
		g->txns = f.ntxns;
		g->changes = f.nchanges;
		g->first_lsn = f.ntxns ? f.first_lsn : 0;
		g->known = true;
	}
out:
	free(buf);
	if (rc != 0)
		store__fail(s, rc, "segment \"%s\" in \"%s\" cannot be read: %s", g->name, store_describe(s),
					tide_strerror(rc));
	return rc;
}

static int
seg_cmp(const void *a, const void *b)
{
	const store_segment_t *x = a;
	const store_segment_t *y = b;

	if (x->start_lsn != y->start_lsn)
		return x->start_lsn < y->start_lsn ? -1 : 1;
	if (x->bucket_start != y->bucket_start)
		return x->bucket_start < y->bucket_start ? -1 : 1;
	return strcmp(x->name, y->name);
}

void
store_seglist_sort(store_seglist_t *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), seg_cmp);
}

void
store_seglist_free(store_seglist_t *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int
store_seglist_check(const store_seglist_t *l, store_chain_problem_t *p)
{
	return store_seglist_check_range(l, 0, l->n ? l->n - 1 : 0, p);
}

int
store_seglist_check_range(const store_seglist_t *l, size_t from, size_t to,
						  store_chain_problem_t *p)
{
	memset(p, 0, sizeof(*p));
	p->before = SIZE_MAX;
	for (size_t i = from; i < l->n && i <= to; i++)
	{
		const store_segment_t *g = &l->v[i];
		const store_segment_t *prev = i > from ? &l->v[i - 1] : NULL;
		proto_time_t nb;
		proto_lsn_t nl;
		bool		np;

		p->after = i;
		p->before = i > from ? i - 1 : SIZE_MAX;
		if (!g->known)
		{
			p->kind = STORE_CHAIN_UNKNOWN;
			return TIDE_EBADVALUE;
		}
		if (seg_name_parse(g->name, &nb, &nl, &np) != 0 || nl != g->start_lsn ||
			nb != g->bucket_start || np != g->partial)
		{
			p->kind = STORE_CHAIN_NAME;
			p->from = nl;
			p->to = g->start_lsn;
			return TIDE_EBADVALUE;
		}
		if (g->partial && i + 1 < l->n)
		{
			p->kind = STORE_CHAIN_PARTIAL;
			p->before = SIZE_MAX;
			return TIDE_EBADVALUE;
		}
		if (prev == NULL)
			continue;
		if (g->system_id != prev->system_id || g->timeline != prev->timeline ||
			strcmp(g->slot, prev->slot) != 0)
		{
			p->kind = STORE_CHAIN_SOURCE;
			return TIDE_EBADVALUE;
		}
		if (g->start_lsn != prev->end_lsn)
		{
			p->kind = g->start_lsn > prev->end_lsn ? STORE_CHAIN_GAP : STORE_CHAIN_OVERLAP;
			p->from = prev->end_lsn;
			p->to = g->start_lsn;
			return TIDE_EBADVALUE;
		}
	}
	p->kind = STORE_CHAIN_OK;
	return 0;
}

void
store_chain_describe(const store_seglist_t *l, const store_chain_problem_t *p, char *buf, size_t len)
{
	const store_segment_t *a = p->before < l->n ? &l->v[p->before] : NULL;
	const store_segment_t *g = p->after < l->n ? &l->v[p->after] : NULL;

	if (g == NULL)
	{
		snprintf(buf, len, "no problem");
		return;
	}
	switch (p->kind)
	{
		case STORE_CHAIN_OK:
			snprintf(buf, len, "the segments form one history");
			break;
		case STORE_CHAIN_GAP:
			snprintf(buf, len, "segments are missing: the changes from " LSN_FMT " to " LSN_FMT
					 " are in none of the files (\"%s\" ends at " LSN_FMT ", the next segment, \"%s\", starts at " LSN_FMT ")",
					 LSN_ARGS(p->from), LSN_ARGS(p->to), a ? a->name : "", LSN_ARGS(p->from),
					 g->name, LSN_ARGS(p->to));
			break;
		case STORE_CHAIN_OVERLAP:
			snprintf(buf, len, "segments overlap: \"%s\" starts at " LSN_FMT ", before \"%s\" ends at " LSN_FMT
					 " (a segment of another history, or one written twice)",
					 g->name, LSN_ARGS(p->to), a ? a->name : "", LSN_ARGS(p->from));
			break;
		case STORE_CHAIN_PARTIAL:
			snprintf(buf, len, "segment \"%s\" is open but is not the newest: only the last segment of a history can be open",
					 g->name);
			break;
		case STORE_CHAIN_SOURCE:
			snprintf(buf, len, "segment \"%s\" comes from another source than \"%s\": system %llu, timeline %u, slot \"%s\" against system %llu, timeline %u, slot \"%s\"",
					 g->name, a ? a->name : "", (unsigned long long) g->system_id, g->timeline, g->slot,
					 a ? (unsigned long long) a->system_id : 0ULL, a ? a->timeline : 0, a ? a->slot : "");
			break;
		case STORE_CHAIN_NAME:
			snprintf(buf, len, "segment \"%s\" is misnamed: its header says it starts at " LSN_FMT " (the name says " LSN_FMT ")",
					 g->name, LSN_ARGS(p->to), LSN_ARGS(p->from));
			break;
		case STORE_CHAIN_UNKNOWN:
			snprintf(buf, len, "segment \"%s\" has not been read: its LSNs are not known", g->name);
			break;
	}
}
