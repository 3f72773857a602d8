/*
 * store/src/sync.c
 *		Writers: a local directory's index kept in step with its files,
 *		publishing it to another store, and retention.
 *
 * The order of operations is store/LAYOUT.md's: objects first, the index
 * after them; on deletion the index first, objects after.  So an index
 * never names an object that is not there, whatever instant a writer
 * stops at, and a reader polling the index never sees half a change.
 *
 * One writer at a time per local directory: the streamer's publisher,
 * `tide base`, `tide publish` and `tide prune` take an exclusive lock on
 * a hidden file in it for a whole pass (a reader needs no lock).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "tide/segment.h"

#define LOCK_NAME ".tide-lock"
#define LSN_FMT "%X/%X"
#define LSN_ARGS(l) (unsigned) ((uint64_t) (l) >> 32), (unsigned) (l)

static void
ev(const store_sync_opts_t *o, store_event_kind_t kind, const char *name, uint64_t size,
   const char *fmt,...)
{
	char		text[1024] = "";
	store_event_t e = {kind, name, size, text};

	if (o->cb == NULL)
		return;
	if (fmt)
	{
		va_list		ap;

		va_start(ap, fmt);
		vsnprintf(text, sizeof(text), fmt, ap);
		va_end(ap);
	}
	o->cb(o->arg, &e);
}

/* lock_local - the directory's writer lock (blocking); -1 for a remote store */
static int
lock_local(store_t *s, int *fd, char *errbuf)
{
	char		path[4200];

	*fd = -1;
	if (s->kind != STORE_LOCAL)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", (const char *) s->be, LOCK_NAME);
	if ((*fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
	{
		store__errbuf(errbuf, "could not open lock file \"%s\": %s", path, strerror(errno));
		return -errno;
	}
	while (flock(*fd, LOCK_EX) != 0)
	{
		if (errno == EINTR)
			continue;
		store__errbuf(errbuf, "could not lock \"%s\": %s", path, strerror(errno));
		close(*fd);
		*fd = -1;
		return -errno;
	}
	return 0;
}

static void
unlock_local(int fd)
{
	if (fd >= 0)
		close(fd);				/* releases the flock */
}

/* ------------------------------------------------------------- bases */

static int
file_cmp(const void *a, const void *b)
{
	return strcmp(((const store_file_t *) a)->name, ((const store_file_t *) b)->name);
}

int
store_base_load(store_t *s, const char *name, bool with_sha, store_base_t *b, char *errbuf)
{
	char		prefix[64];
	char		path[4400];
	store_list_t l;
	int			rc;

	char		nm[sizeof(b->name)];

	snprintf(nm, sizeof(nm), "%s", name);	/* name may be b->name */
	memset(b, 0, sizeof(*b));
	if (s->kind != STORE_LOCAL || !store__base_name_ok(nm, strlen(nm)))
	{
		store__errbuf(errbuf, "base \"%s\" cannot be loaded from \"%s\"", nm, s->url);
		return -EINVAL;
	}
	snprintf(b->name, sizeof(b->name), "%s", nm);
	name = b->name;
	snprintf(prefix, sizeof(prefix), "%s%s/", STORE_BASE_PREFIX, name);
	snprintf(path, sizeof(path), "%s/%s%s", (const char *) s->be, prefix, STORE_MANIFEST_NAME);
	if ((rc = store_manifest_read(path, &b->manifest, errbuf)) != 0)
		return rc;
	if ((rc = store_list(s, prefix, &l)) != 0)
	{
		store__errbuf(errbuf, "%s", s->err);
		store_base_free(b);
		return rc;
	}
	if ((b->files = calloc(l.n ? l.n : 1, sizeof(*b->files))) == NULL)
	{
		store_list_free(&l);
		store_base_free(b);
		store__errbuf(errbuf, "out of memory");
		return TIDE_ENOMEM;
	}
	for (size_t i = 0; i < l.n; i++)
	{
		store_file_t *f = &b->files[b->nfiles];

		if ((f->name = strdup(l.v[i].name + strlen(prefix))) == NULL)
		{
			rc = TIDE_ENOMEM;
			break;
		}
		b->nfiles++;
		f->size = l.v[i].size;
		if (with_sha)
		{
			snprintf(path, sizeof(path), "%s/%s", (const char *) s->be, l.v[i].name);
			if ((rc = store_sha256_file(path, f->sha256)) != 0)
			{
				store__errbuf(errbuf, "could not read \"%s\": %s", path, tide_strerror(rc));
				break;
			}
		}
	}
	store_list_free(&l);
	if (rc != 0)
	{
		if (rc == TIDE_ENOMEM)
			store__errbuf(errbuf, "out of memory");
		store_base_free(b);
		return rc;
	}
	qsort(b->files, b->nfiles, sizeof(*b->files), file_cmp);
	return 0;
}

/* base_copy - a deep copy of b into out */
static int
base_copy(const store_base_t *b, store_base_t *out)
{
	store_manifest_t *m = &out->manifest;

	*out = *b;
	out->files = NULL;
	out->nfiles = 0;
	m->roles = m->roles_no_acl = m->exts = m->ext_versions = NULL;
	m->nroles = m->nroles_no_acl = m->nexts = 0;
	m->recorded = false;
#define DUP_STRINGS(dst, src, n) \
	do { \
		if ((n) > 0 && ((dst) = calloc((size_t) (n), sizeof(char *))) == NULL) \
			goto oom; \
		for (int k_ = 0; k_ < (n); k_++) \
			if (((dst)[k_] = strdup((src)[k_])) == NULL) \
				goto oom; \
	} while (0)
	if (b->manifest.recorded)
	{
		m->nroles = b->manifest.nroles;
		DUP_STRINGS(m->roles, b->manifest.roles, b->manifest.nroles);
		m->nroles_no_acl = b->manifest.nroles_no_acl;
		DUP_STRINGS(m->roles_no_acl, b->manifest.roles_no_acl, b->manifest.nroles_no_acl);
		m->nexts = b->manifest.nexts;
		DUP_STRINGS(m->exts, b->manifest.exts, b->manifest.nexts);
		DUP_STRINGS(m->ext_versions, b->manifest.ext_versions, b->manifest.nexts);
		m->recorded = true;
	}
#undef DUP_STRINGS
	if ((out->files = calloc(b->nfiles ? b->nfiles : 1, sizeof(*out->files))) == NULL)
		goto oom;
	for (size_t i = 0; i < b->nfiles; i++)
	{
		out->files[i] = b->files[i];
		if ((out->files[i].name = strdup(b->files[i].name)) == NULL)
			goto oom;
		out->nfiles++;
	}
	return 0;
oom:
	/* arrays are freed by count: a NULL past the copied ones is harmless */
	store_base_free(out);
	return TIDE_ENOMEM;
}

static void
drop_base(store_index_t *ix, const char *name)
{
	for (size_t i = 0; i < ix->nbases; i++)
		if (strcmp(ix->bases[i].name, name) == 0)
		{
			store_base_free(&ix->bases[i]);
			memmove(&ix->bases[i], &ix->bases[i + 1], (ix->nbases - i - 1) * sizeof(*ix->bases));
			ix->nbases--;
			return;
		}
}

static const store_segment_t *
find_seg(const store_index_t *ix, const char *name)
{
	for (size_t i = 0; i < ix->nsegs; i++)
		if (strcmp(ix->segs[i].name, name) == 0)
			return &ix->segs[i];
	return NULL;
}

static const store_base_t *
find_base(const store_index_t *ix, const char *name)
{
	for (size_t i = 0; i < ix->nbases; i++)
		if (strcmp(ix->bases[i].name, name) == 0)
			return &ix->bases[i];
	return NULL;
}

/* ------------------------------------------------------------- retention */

void
store_retain_plan_free(store_retain_plan_t *p)
{
	for (size_t i = 0; i < p->nsegs; i++)
		free(p->segs[i]);
	for (size_t i = 0; i < p->nbases; i++)
		free(p->bases[i]);
	free(p->segs);
	free(p->bases);
	memset(p, 0, sizeof(*p));
}

static int
push_name(char ***v, size_t *n, const char *name)
{
	char	  **nv = realloc(*v, (*n + 1) * sizeof(char *));

	if (nv == NULL)
		return TIDE_ENOMEM;
	*v = nv;
	if ((nv[*n] = strdup(name)) == NULL)
		return TIDE_ENOMEM;
	(*n)++;
	return 0;
}

/*
 * seg_end - when segment i's time is over: its bucket's end, but no later
 * than the next segment's bucket start (every commit it holds precedes
 * that: names sort in time order).  So the window is monotonic along the
 * history even where the bucket width changed.
 */
static proto_time_t
seg_end(const store_index_t *ix, size_t i)
{
	const store_segment_t *g = &ix->segs[i];
	proto_time_t end = g->bucket_start + (int64_t) g->bucket_seconds * 1000000;

	if (i + 1 < ix->nsegs && ix->segs[i + 1].bucket_start < end)
		end = ix->segs[i + 1].bucket_start;
	return end;
}

int
store_retain_plan(const store_index_t *ix, const store_index_t *published, const store_retain_t *r,
				  proto_time_t now, store_retain_plan_t *p)
{
	proto_lsn_t base_lsn = 0;
	proto_time_t cutoff;
	int			rc = 0;

	memset(p, 0, sizeof(*p));
	if (r->retain_usecs < 0)
		return 0;
	cutoff = now - r->retain_usecs;

	/*
	 * Bases: the newest keep_bases stay; an older one goes once it is past
	 * the window.  The oldest base that stays pins the history after its
	 * consistent point.
	 */
	for (size_t i = 0; i < ix->nbases && rc == 0; i++)
	{
		const store_base_t *b = &ix->bases[i];
		bool		beyond = r->keep_bases > 0 && ix->nbases - i > (size_t) r->keep_bases;

		if (beyond && b->manifest.end_time < cutoff &&
			(published == NULL || find_base(published, b->name) != NULL))
		{
			rc = push_name(&p->bases, &p->nbases, b->name);
			continue;
		}
		if (p->base_name[0] == '\0')
		{
			base_lsn = b->manifest.consistent_point;
			snprintf(p->base_name, sizeof(p->base_name), "%s", b->name);
		}
	}

	/*
	 * Segments: a prefix of the history, never a hole in it.  The first
	 * segment that must stay ends the deletions: every later one stays too
	 * (retention never opens a gap, invariant 9).
	 */
	for (size_t i = 0; i + 1 < ix->nsegs && rc == 0; i++)
	{
		const store_segment_t *g = &ix->segs[i];

		if (seg_end(ix, i) > cutoff)
			break;
		/* a base kept needs every segment holding commits at or after its point */
		if (base_lsn != 0 && g->end_lsn > base_lsn)
		{
			for (size_t k = i; k + 1 < ix->nsegs && seg_end(ix, k) <= cutoff; k++)
				p->kept_for_base++;
			break;
		}
		if (published && find_seg(published, g->name) == NULL)
		{
			for (size_t k = i; k + 1 < ix->nsegs && seg_end(ix, k) <= cutoff; k++)
				p->kept_unpublished++;
			break;
		}
		rc = push_name(&p->segs, &p->nsegs, g->name);
		p->seg_bytes += g->size;
	}
	if (rc != 0)
		store_retain_plan_free(p);
	return rc;
}

/* delete_base_objects - manifest.json first: the base is incomplete from then on */
static int
delete_base_objects(store_t *s, const store_index_t *ix, const char *name, size_t *deleted)
{
	char		obj[STORE_NAME_MAX + 1];
	store_list_t l = {0};
	int			rc;

	snprintf(obj, sizeof(obj), "%s%s/%s", STORE_BASE_PREFIX, name, STORE_MANIFEST_NAME);
	if ((rc = store_delete(s, obj)) != 0)
		return rc;
	(*deleted)++;
	if (s->kind == STORE_LOCAL)
	{
		char		prefix[64];
		char		dir[4200];

		snprintf(prefix, sizeof(prefix), "%s%s/", STORE_BASE_PREFIX, name);
		if ((rc = store_list(s, prefix, &l)) != 0)
			return rc;
		for (size_t i = 0; i < l.n && rc == 0; i++)
			if ((rc = store_delete(s, l.v[i].name)) == 0)
				(*deleted)++;
		store_list_free(&l);
		snprintf(dir, sizeof(dir), "%s/%s%s", (const char *) s->be, STORE_BASE_PREFIX, name);
		if (rc == 0 && rmdir(dir) != 0 && errno != ENOENT)
			rc = store__fail(s, -errno, "could not remove directory \"%s\": %s", dir, strerror(errno));
		return rc;
	}
	{
		const store_base_t *b = find_base(ix, name);

		for (size_t i = 0; b && i < b->nfiles && rc == 0; i++)
		{
			if (strcmp(b->files[i].name, STORE_MANIFEST_NAME) == 0)
				continue;
			snprintf(obj, sizeof(obj), "%s%s/%s", STORE_BASE_PREFIX, name, b->files[i].name);
			if ((rc = store_delete(s, obj)) == 0)
				(*deleted)++;
		}
	}
	return rc;
}

/*
 * retain - apply r to store s whose index is ix (updated in place): the
 * index without the doomed entries first, then the objects.
 */
static int
retain(store_t *s, store_index_t *ix, const store_index_t *published, const store_retain_t *r,
	   const store_sync_opts_t *o, store_sync_result_t *res, char *errbuf)
{
	store_retain_plan_t p;
	int			rc;

	if (r->retain_usecs < 0)
		return 0;
	if ((rc = store_retain_plan(ix, published, r, o->now, &p)) != 0)
	{
		store__errbuf(errbuf, "out of memory");
		return rc;
	}
	for (size_t i = 0; i < p.nbases; i++)
		ev(o, STORE_EV_DELETED, p.bases[i], 0, "base \"%s\" (older than the retention window, beyond the newest %d)",
		   p.bases[i], r->keep_bases);
	for (size_t i = 0; i < p.nsegs; i++)
	{
		const store_segment_t *g = find_seg(ix, p.segs[i]);

		ev(o, STORE_EV_DELETED, p.segs[i], g ? g->size : 0, "segment \"%s\" (older than the retention window)", p.segs[i]);
	}
	if (p.kept_for_base)
		ev(o, STORE_EV_KEPT, p.base_name, 0, "kept %zu segments older than the retention window: base \"%s\" needs them",
		   p.kept_for_base, p.base_name);
	if (p.kept_unpublished)
		ev(o, STORE_EV_KEPT, NULL, 0, "kept %zu segments older than the retention window: they are not published yet",
		   p.kept_unpublished);
	if (o->dry_run || (p.nsegs == 0 && p.nbases == 0))
	{
		store_retain_plan_free(&p);
		return 0;
	}
	/* the index first: from now on no reader is sent to these objects */
	for (size_t i = 0; i < p.nsegs; i++)
		store_index_drop_segment(ix, p.segs[i]);
	ix->updated = o->now;
	{
		/* bases leave the index before their files go; keep their file lists */
		store_base_t *gone = calloc(p.nbases ? p.nbases : 1, sizeof(*gone));
		size_t		ngone = 0;

		if (gone == NULL)
		{
			store_retain_plan_free(&p);
			store__errbuf(errbuf, "out of memory");
			return TIDE_ENOMEM;
		}
		for (size_t i = 0; i < p.nbases; i++)
		{
			const store_base_t *b = find_base(ix, p.bases[i]);

			if (b && base_copy(b, &gone[ngone]) == 0)
				ngone++;
			drop_base(ix, p.bases[i]);
		}
		if ((rc = store_index_publish(s, ix)) != 0)
			store__errbuf(errbuf, "%s", store_errmsg(s));
		for (size_t i = 0; i < p.nsegs && rc == 0; i++)
		{
			if ((rc = store_delete(s, p.segs[i])) != 0)
				store__errbuf(errbuf, "%s", store_errmsg(s));
			else
				res->deleted++;
		}
		for (size_t i = 0; i < ngone && rc == 0; i++)
		{
			store_index_t one = {.bases = &gone[i], .nbases = 1};

			if ((rc = delete_base_objects(s, &one, gone[i].name, &res->deleted)) != 0)
				store__errbuf(errbuf, "%s", store_errmsg(s));
		}
		store_bases_free(gone, ngone);
	}
	store_retain_plan_free(&p);
	return rc;
}

/* ------------------------------------------------------------- the local index */

/*
 * index_local - bring the local directory's index (*ix, read from it)
 * in step with its files; *changed if it needs writing.
 */
static int
index_local(store_t *s, store_index_t *ix, bool *changed, const store_sync_opts_t *o,
			store_sync_result_t *res, char *errbuf)
{
	char		path[4200];
	store_list_t top = {0};
	store_list_t bl = {0};
	store_seglist_t segs = {0};
	int			rc;

	*changed = false;
	snprintf(path, sizeof(path), "%s/%s", (const char *) s->be, STORE_INDEX_NAME);
	rc = store_index_read(path, ix, errbuf);
	if (rc == -ENOENT)
		memset(ix, 0, sizeof(*ix));
	else if (rc != 0)
	{
		ev(o, STORE_EV_WARNING, STORE_INDEX_NAME, 0, "%s: it is written anew from the files", errbuf);
		memset(ix, 0, sizeof(*ix));
		*changed = true;
	}
	ix->format = STORE_INDEX_FORMAT;

	/* closed segments: the files, not the names, say what they hold */
	if ((rc = store__local_list_top(s, &top)) != 0 ||
		(rc = store_seglist_from_list(&top, &segs)) != 0)
	{
		store__errbuf(errbuf, "%s", rc == TIDE_ENOMEM ? "out of memory" : store_errmsg(s));
		goto out;
	}
	for (size_t i = ix->nsegs; i-- > 0;)
	{
		bool		there = false;

		for (size_t k = 0; k < segs.n && !there; k++)
			there = !segs.v[k].partial && strcmp(segs.v[k].name, ix->segs[i].name) == 0 &&
				segs.v[k].size == ix->segs[i].size;
		if (!there)
		{
			char		name[sizeof(ix->segs[i].name)];

			snprintf(name, sizeof(name), "%s", ix->segs[i].name);
			ev(o, STORE_EV_UNINDEXED, name, 0, "segment \"%s\" is named by the index of \"%s\" but its file is gone or changed: the index forgets it",
			   name, s->url);
			store_index_drop_segment(ix, name);
			*changed = true;
		}
	}
	for (size_t k = 0; k < segs.n; k++)
	{
		store_segment_t g = segs.v[k];

		if (g.partial || find_seg(ix, g.name) != NULL)
			continue;
		if ((rc = store_segment_meta(s, &g)) != 0)
		{
			store__errbuf(errbuf, "%s", store_errmsg(s));
			goto out;
		}
		snprintf(path, sizeof(path), "%s/%s", (const char *) s->be, g.name);
		if ((rc = store_sha256_file(path, g.sha256)) != 0)
		{
			store__errbuf(errbuf, "could not read \"%s\": %s", path, tide_strerror(rc));
			goto out;
		}
		if ((rc = store_index_put_segment(ix, &g)) != 0)
		{
			if (rc == TIDE_EBADVALUE)
				store__errbuf(errbuf, "segment \"%s\" in \"%s\" comes from another source than the others (system %llu, timeline %u, slot \"%s\" against system %llu, timeline %u, slot \"%s\")",
							  g.name, s->url, (unsigned long long) g.system_id, g.timeline, g.slot,
							  (unsigned long long) ix->system_id, ix->timeline, ix->slot);
			else
				store__errbuf(errbuf, "out of memory");
			goto out;
		}
		res->indexed++;
		*changed = true;
		ev(o, STORE_EV_INDEXED, g.name, g.size, NULL);
	}

	/* complete bases: base/NAME/manifest.json */
	if ((rc = store_list(s, STORE_BASE_PREFIX, &bl)) != 0)
	{
		store__errbuf(errbuf, "%s", store_errmsg(s));
		goto out;
	}
	for (size_t i = ix->nbases; i-- > 0;)
	{
		char		want[64];
		bool		there = false;

		snprintf(want, sizeof(want), "%s%s/%s", STORE_BASE_PREFIX, ix->bases[i].name, STORE_MANIFEST_NAME);
		for (size_t k = 0; k < bl.n && !there; k++)
			there = strcmp(bl.v[k].name, want) == 0;
		if (!there)
		{
			char		name[32];

			snprintf(name, sizeof(name), "%s", ix->bases[i].name);
			ev(o, STORE_EV_UNINDEXED, name, 0, "base \"%s\" is named by the index of \"%s\" but its manifest is gone: the index forgets it",
			   name, s->url);
			drop_base(ix, name);
			*changed = true;
		}
	}
	for (size_t k = 0; k < bl.n; k++)
	{
		const char *nm = bl.v[k].name + strlen(STORE_BASE_PREFIX);
		const char *slash = strchr(nm, '/');
		char		name[32];
		store_base_t b;

		if (slash == NULL || strcmp(slash + 1, STORE_MANIFEST_NAME) != 0 ||
			!store__base_name_ok(nm, (size_t) (slash - nm)))
			continue;
		snprintf(name, sizeof(name), "%.16s", nm);
		if (find_base(ix, name))
			continue;
		if ((rc = store_base_load(s, name, true, &b, errbuf)) != 0)
		{
			if (rc != TIDE_EBADVALUE && rc != TIDE_EBADVERSION)
				goto out;
			ev(o, STORE_EV_WARNING, name, 0, "%s: the base is left out of the index", errbuf);
			rc = 0;
			continue;
		}
		if ((rc = store_index_put_base(ix, &b)) != 0)
		{
			store_base_free(&b);
			store__errbuf(errbuf, "out of memory");
			goto out;
		}
		res->indexed++;
		*changed = true;
		ev(o, STORE_EV_INDEXED, name, 0, NULL);
	}
	rc = 0;
out:
	store_list_free(&top);
	store_list_free(&bl);
	store_seglist_free(&segs);
	return rc;
}

static proto_lsn_t
end_of(const store_index_t *ix)
{
	proto_lsn_t e = 0;

	for (size_t i = 0; i < ix->nsegs; i++)
		if (ix->segs[i].end_lsn > e)
			e = ix->segs[i].end_lsn;
	return e;
}

static double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* publish_index - dst's index, stamped now */
static int
publish_index(store_t *dst, store_index_t *ix, const store_sync_opts_t *o, char *errbuf)
{
	int			rc;

	ix->format = STORE_INDEX_FORMAT;
	ix->updated = o->now;
	if ((rc = store_index_publish(dst, ix)) != 0)
		store__errbuf(errbuf, "%s", store_errmsg(dst));
	return rc;
}

/* publish - what src's index names and dst's lacks, objects before the index */
static int
publish(store_t *src, store_t *dst, const store_index_t *ixl, store_index_t *ixr,
		const store_sync_opts_t *o, store_sync_result_t *res, char *errbuf)
{
	bool		dirty = false;
	double		last = mono_now();
	int			rc = 0;

	if (ixr->system_id && ixl->system_id &&
		(ixr->system_id != ixl->system_id || ixr->timeline != ixl->timeline ||
		 strcmp(ixr->slot, ixl->slot) != 0))
	{
		store__errbuf(errbuf, "store \"%s\" holds the history of another source (system %llu, timeline %u, slot \"%s\"); \"%s\" is system %llu, timeline %u, slot \"%s\"",
					  dst->url, (unsigned long long) ixr->system_id, ixr->timeline, ixr->slot,
					  src->url, (unsigned long long) ixl->system_id, ixl->timeline, ixl->slot);
		return TIDE_EBADVALUE;
	}
	for (size_t i = 0; i < ixl->nsegs && rc == 0; i++)
	{
		const store_segment_t *g = &ixl->segs[i];
		const store_segment_t *have = find_seg(ixr, g->name);
		store_put_result_t pr;
		char		path[4200];

		if (have)
		{
			if (strcmp(have->sha256, g->sha256) != 0)
			{
				store__errbuf(errbuf, "segment \"%s\" is in \"%s\" with other content (SHA-256 %s, the local file's is %s)",
							  g->name, dst->url, have->sha256, g->sha256);
				rc = -EEXIST;
			}
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", (const char *) src->be, g->name);
		if ((rc = store_put(dst, g->name, path, g->sha256, &pr)) != 0)
		{
			store__errbuf(errbuf, "%s", store_errmsg(dst));
			break;
		}
		if (pr.existed)
		{
			res->existed++;
			ev(o, STORE_EV_EXISTED, g->name, g->size, NULL);
		}
		else
		{
			res->uploaded++;
			res->uploaded_bytes += g->size;
			ev(o, STORE_EV_UPLOADED, g->name, g->size, NULL);
		}
		if ((rc = store_index_put_segment(ixr, g)) != 0)
		{
			store__errbuf(errbuf, "out of memory");
			break;
		}
		dirty = true;
		/* a long backlog: readers see progress every second, not only at the end */
		if (mono_now() - last >= 1.0)
		{
			if ((rc = publish_index(dst, ixr, o, errbuf)) != 0)
				break;
			res->published_end = end_of(ixr);
			dirty = false;
			last = mono_now();
		}
	}
	for (size_t i = 0; i < ixl->nbases && rc == 0; i++)
	{
		const store_base_t *b = &ixl->bases[i];
		store_base_t copy;
		const store_file_t *manifest = NULL;

		if (find_base(ixr, b->name))
			continue;
		/* every file, manifest.json last: a base with a manifest is complete */
		for (size_t pass = 0; pass < 2 && rc == 0; pass++)
			for (size_t k = 0; k < b->nfiles && rc == 0; k++)
			{
				const store_file_t *f = &b->files[k];
				char		obj[STORE_NAME_MAX + 1];
				char		path[4400];
				store_put_result_t pr;
				bool		is_manifest = strcmp(f->name, STORE_MANIFEST_NAME) == 0;

				if (is_manifest != (pass == 1))
					continue;
				if (is_manifest)
					manifest = f;
				snprintf(obj, sizeof(obj), "%s%s/%s", STORE_BASE_PREFIX, b->name, f->name);
				snprintf(path, sizeof(path), "%s/%s", (const char *) src->be, obj);
				if ((rc = store_put(dst, obj, path, f->sha256, &pr)) != 0)
				{
					store__errbuf(errbuf, "%s", store_errmsg(dst));
					break;
				}
				if (pr.existed)
					res->existed++;
				else
				{
					res->uploaded++;
					res->uploaded_bytes += f->size;
				}
				ev(o, pr.existed ? STORE_EV_EXISTED : STORE_EV_UPLOADED, obj, f->size, NULL);
			}
		if (rc != 0)
			break;
		if (manifest == NULL)
		{
			store__errbuf(errbuf, "base \"%s\" of \"%s\" has no %s", b->name, src->url, STORE_MANIFEST_NAME);
			rc = TIDE_EBADVALUE;
			break;
		}
		if ((rc = base_copy(b, &copy)) != 0 || (rc = store_index_put_base(ixr, &copy)) != 0)
		{
			store__errbuf(errbuf, "out of memory");
			break;
		}
		dirty = true;
	}
	if (ixr->system_id == 0 && ixl->system_id)
	{
		ixr->system_id = ixl->system_id;
		ixr->timeline = ixl->timeline;
		snprintf(ixr->slot, sizeof(ixr->slot), "%s", ixl->slot);
	}
	if (ixr->dbname[0] == '\0' && ixl->dbname[0])
	{
		snprintf(ixr->dbname, sizeof(ixr->dbname), "%s", ixl->dbname);
		snprintf(ixr->encoding, sizeof(ixr->encoding), "%s", ixl->encoding);
	}
	/* what went is named now, also after a failure: the index last */
	if (dirty)
	{
		char		e2[STORE_ERRLEN];
		int			rc2 = publish_index(dst, ixr, o, rc ? e2 : errbuf);

		if (rc2 == 0)
			res->published_end = end_of(ixr);
		if (rc == 0)
			rc = rc2;
	}
	return rc;
}

int
store_sync(store_t *src, store_t *dst, const store_sync_opts_t *o, store_sync_result_t *res,
		   char *errbuf)
{
	store_sync_result_t tmp;
	store_index_t ixl;
	store_index_t ixr;
	bool		changed = false;
	int			lockfd = -1;
	int			rc;

	if (res == NULL)
		res = &tmp;
	memset(res, 0, sizeof(*res));
	memset(&ixl, 0, sizeof(ixl));
	memset(&ixr, 0, sizeof(ixr));
	errbuf[0] = '\0';
	if (src->kind != STORE_LOCAL)
	{
		store__errbuf(errbuf, "\"%s\" is not a local directory: only a directory is published from", src->url);
		return -EINVAL;
	}
	if (dst && !store_writable(dst))
	{
		store__errbuf(errbuf, "store \"%s\" is read-only: publish to its directory, or to S3", dst->url);
		return -EROFS;
	}
	if ((rc = lock_local(src, &lockfd, errbuf)) != 0)
		return rc;
	if ((rc = index_local(src, &ixl, &changed, o, res, errbuf)) != 0)
		goto out;
	if (changed)
	{
		ixl.updated = o->now;
		if ((rc = store_index_publish(src, &ixl)) != 0)
		{
			store__errbuf(errbuf, "%s", store_errmsg(src));
			goto out;
		}
	}
	res->segments = ixl.nsegs;
	if (dst)
	{
		rc = store_index_fetch(dst, &ixr, NULL, NULL, NULL);
		if (rc == -ENOENT)
		{
			memset(&ixr, 0, sizeof(ixr));
			ixr.format = STORE_INDEX_FORMAT;
			rc = 0;
		}
		else if (rc != 0)
		{
			store__errbuf(errbuf, "%s", store_errmsg(dst));
			goto out;
		}
		res->dst_empty = ixr.nsegs == 0;
		/*
		 * Invariant 1 with --ack-after-publish: published is what the
		 * store's index names (readers find nothing else), so it moves
		 * only when an index naming more was written, never with the
		 * objects alone (an index write that failed after them).
		 */
		res->published_end = end_of(&ixr);
		rc = publish(src, dst, &ixl, &ixr, o, res, errbuf);
		for (size_t i = 0; i < ixl.nsegs; i++)
			if (find_seg(&ixr, ixl.segs[i].name) == NULL)
			{
				res->pending++;
				res->pending_bytes += ixl.segs[i].size;
			}
		if (rc != 0)
			goto out;
		if ((rc = retain(dst, &ixr, NULL, &o->dst_retain, o, res, errbuf)) != 0)
			goto out;
	}
	else
		res->published_end = end_of(&ixl);
	rc = retain(src, &ixl, dst ? &ixr : NULL, &o->src_retain, o, res, errbuf);
	res->segments = ixl.nsegs;
out:
	unlock_local(lockfd);
	store_index_free(&ixl);
	store_index_free(&ixr);
	return rc;
}

int
store_prune(store_t *s, const store_sync_opts_t *o, store_sync_result_t *res, char *errbuf)
{
	store_sync_result_t tmp;
	store_index_t ix;
	bool		changed = false;
	int			lockfd = -1;
	int			rc;

	if (res == NULL)
		res = &tmp;
	memset(res, 0, sizeof(*res));
	memset(&ix, 0, sizeof(ix));
	errbuf[0] = '\0';
	if (!o->dry_run && !store_writable(s))
	{
		store__errbuf(errbuf, "store \"%s\" is read-only: prune it where it is written (its directory, or S3), or use --dry-run",
					  s->url);
		return -EROFS;
	}
	if (s->kind == STORE_LOCAL)
	{
		if ((rc = lock_local(s, &lockfd, errbuf)) != 0)
			return rc;
		if ((rc = index_local(s, &ix, &changed, o, res, errbuf)) != 0)
			goto out;
		if (changed && !o->dry_run)
		{
			ix.updated = o->now;
			if ((rc = store_index_publish(s, &ix)) != 0)
			{
				store__errbuf(errbuf, "%s", store_errmsg(s));
				goto out;
			}
		}
	}
	else if ((rc = store_index_fetch(s, &ix, NULL, NULL, NULL)) != 0)
	{
		if (rc == -ENOENT)
			rc = 0;				/* nothing published: nothing to prune */
		else
			store__errbuf(errbuf, "%s", store_errmsg(s));
		goto out;
	}
	rc = retain(s, &ix, NULL, &o->src_retain, o, res, errbuf);
	res->segments = ix.nsegs;
	res->published_end = end_of(&ix);
out:
	unlock_local(lockfd);
	store_index_free(&ix);
	return rc;
}
