/*
 * store/src/reader.c
 *		What a reader of a store needs: its segments in LSN order, its
 *		bases, and local files it can read them from, checked first.
 *
 * A reader never trusts a byte it has not checked: a downloaded object
 * must have the index's size and SHA-256 and every block of a segment
 * must pass its checksum before the file gets the name a reader opens
 * (invariant 4).  Downloads go to a cache directory the user owns alone
 * (invariant 8: segments hold every replicated row).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "tide/segment.h"

/* ------------------------------------------------------------- segments */

/* header_unready - an error reading a header the streamer may still be writing */
static bool
header_unready(int rc)
{
	return rc == TIDE_ETRUNCATED || rc == TIDE_EBADMAGIC || rc == TIDE_ECHECKSUM;
}

static int
local_segments(store_t *s, store_seglist_t *out)
{
	store_list_t l;
	int			rc;

	if ((rc = store__local_list_top(s, &l)) != 0)
		return rc;
	rc = store_seglist_from_list(&l, out);
	store_list_free(&l);
	if (rc != 0)
		return store__fail(s, rc, "out of memory");
	for (size_t i = 0; i < out->n; i++)
	{
		store_segment_t *g = &out->v[i];
		bool		was_partial = g->partial;

		rc = store_segment_meta(s, g);
		if (rc == -ENOENT && g->partial)
		{
			/* closed by the streamer (renamed) since the listing */
			g->name[strlen(g->name) - strlen(SEG_PARTIAL_SUFFIX)] = '\0';
			strcat(g->name, SEG_SUFFIX);
			g->partial = false;
			g->size = 0;
			rc = store_segment_meta(s, g);
		}
		if (rc != 0 && g->partial && i + 1 == out->n && header_unready(rc))
		{
			/*
			 * The streamer creates a segment, then writes and fsyncs its
			 * header before any transaction goes in: caught in between,
			 * the newest segment holds nothing yet.
			 */
			out->n--;
			s->err[0] = '\0';
			rc = 0;
			break;
		}
		if (rc == -ENOENT && was_partial && i + 1 == out->n)
		{
			/*
			 * Gone under both names: the streamer, restarting, set aside an
			 * open segment whose header it never finished (it held
			 * nothing).  The next listing's chain check says if anything
			 * is really missing.
			 */
			out->n--;
			s->err[0] = '\0';
			rc = 0;
			break;
		}
		if (rc != 0)
			return rc;
	}
	/* the files' LSNs may order them otherwise than their names */
	store_seglist_sort(out);
	return 0;
}

int
store_segment_names(store_t *s, store_seglist_t *out)
{
	store_list_t l;
	int			rc;

	out->v = NULL;
	out->n = 0;
	s->err[0] = '\0';
	if (s->kind != STORE_LOCAL)
		return store__fail(s, -EOPNOTSUPP, "store \"%s\" is not a directory", s->url);
	if ((rc = store__local_list_top(s, &l)) != 0)
		return rc;
	rc = store_seglist_from_list(&l, out);
	store_list_free(&l);
	return rc ? store__fail(s, rc, "out of memory") : 0;
}

int
store_segments(store_t *s, store_seglist_t *out, char *etag, bool *not_modified)
{
	store_index_t ix;
	bool		nm = false;
	int			rc;

	out->v = NULL;
	out->n = 0;
	s->err[0] = '\0';
	if (not_modified)
		*not_modified = false;
	if (s->kind == STORE_LOCAL)
	{
		if ((rc = local_segments(s, out)) != 0)
			store_seglist_free(out);
		return rc;
	}
	memset(&ix, 0, sizeof(ix));
	rc = store_index_fetch(s, &ix, etag && etag[0] ? etag : NULL, &nm, etag);
	if (rc == -ENOENT)
	{
		s->err[0] = '\0';
		return 0;				/* nothing published yet */
	}
	if (rc != 0)
		return rc;
	if (nm)
	{
		if (not_modified)
			*not_modified = true;
		return 0;
	}
	rc = store_seglist_from_index(&ix, out);
	store_index_free(&ix);
	if (rc != 0)
		return store__fail(s, rc, "out of memory");
	return 0;
}

/* ------------------------------------------------------------- bases */

void
store_base_free(store_base_t *b)
{
	store_manifest_free(&b->manifest);
	for (size_t j = 0; j < b->nfiles; j++)
		free(b->files[j].name);
	free(b->files);
	b->files = NULL;
	b->nfiles = 0;
}

void
store_bases_free(store_base_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_base_free(&v[i]);
	free(v);
}

/* base_name_ok - YYYYMMDDTHHMMSSZ */
bool
store__base_name_ok(const char *n, size_t len)
{
	if (len != 16 || n[8] != 'T' || n[15] != 'Z')
		return false;
	for (size_t i = 0; i < 15; i++)
		if (i != 8 && (n[i] < '0' || n[i] > '9'))
			return false;
	return true;
}

int
store_bases(store_t *s, store_base_t **out, size_t *n)
{
	store_list_t l;
	store_base_t *v = NULL;
	size_t		cap = 0;
	int			rc;

	*out = NULL;
	*n = 0;
	s->err[0] = '\0';
	if (s->kind != STORE_LOCAL)
	{
		store_index_t ix;

		memset(&ix, 0, sizeof(ix));
		rc = store_index_fetch(s, &ix, NULL, NULL, NULL);
		if (rc == -ENOENT)
		{
			s->err[0] = '\0';
			return 0;
		}
		if (rc != 0)
			return rc;
		*out = ix.bases;
		*n = ix.nbases;
		ix.bases = NULL;
		ix.nbases = 0;
		store_index_free(&ix);
		return 0;
	}
	if ((rc = store_list(s, STORE_BASE_PREFIX, &l)) != 0)
		return rc;
	for (size_t i = 0; i < l.n && rc == 0; i++)
	{
		const char *nm = l.v[i].name + strlen(STORE_BASE_PREFIX);
		const char *slash = strchr(nm, '/');
		char		errbuf[STORE_ERRLEN];

		/* a complete base: base/NAME/manifest.json (".partial" ones are being written) */
		if (slash == NULL || strcmp(slash + 1, STORE_MANIFEST_NAME) != 0 ||
			!store__base_name_ok(nm, (size_t) (slash - nm)))
			continue;
		if (*n == cap)
		{
			store_base_t *nv = realloc(v, (cap = cap ? cap * 2 : 8) * sizeof(*nv));

			if (nv == NULL)
			{
				rc = store__fail(s, TIDE_ENOMEM, "out of memory");
				break;
			}
			v = nv;
		}
		memset(&v[*n], 0, sizeof(v[*n]));
		memcpy(v[*n].name, nm, 16);
		v[*n].name[16] = '\0';
		if ((rc = store_base_load(s, v[*n].name, false, &v[*n], errbuf)) != 0)
		{
			/* a base whose manifest cannot be read is not complete: say so, skip it */
			if (rc == TIDE_EBADVALUE || rc == TIDE_EBADVERSION)
			{
				store_base_free(&v[*n]);
				rc = 0;
				continue;
			}
			store__fail(s, rc, "%s", errbuf);
			(*n)++;
			break;
		}
		(*n)++;
	}
	store_list_free(&l);
	if (rc != 0)
	{
		store_bases_free(v, *n);
		*n = 0;
		return rc;
	}
	*out = v;
	return 0;
}

/* ------------------------------------------------------------- verify */

int
store_segment_verify(const char *path, proto_lsn_t start_lsn, uint64_t *offset)
{
	seg_reader_t r;
	seg_footer_t f;
	uint64_t	at = 0;
	int			rc;

	if (offset)
		*offset = 0;
	if ((rc = seg_reader_open(&r, path, &at)) != 0)
	{
		if (offset)
			*offset = at;
		seg_reader_close(&r);
		return rc;
	}
	if (!r.closed || r.header.start_lsn != start_lsn)
	{
		seg_reader_close(&r);
		return r.closed ? TIDE_EBADVALUE : TIDE_ETRUNCATED;
	}
	while ((rc = seg_reader_next(&r)) == 0)
		;
	if (rc == TIDE_EEOF)
		rc = seg_reader_footer(&r, &f);
	if (rc != 0 && offset)
		*offset = r.block_offset;
	seg_reader_close(&r);
	return rc;
}

/* ------------------------------------------------------------- cache */

int
store_cache_dir(const char *url, const char *given, char *out, size_t len, char *errbuf)
{
	struct stat st;
	char		base[4096];

	if (given)
		snprintf(out, len, "%s", given);
	else
	{
		const char *xdg = getenv("XDG_CACHE_HOME");
		const char *home = getenv("HOME");
		char		hex[STORE_SHA256_HEX];
		char		host[64] = "";
		const char *h = strstr(url, "://");
		EVP_MD_CTX *c = store__sha_new();

		if (c == NULL)
		{
			store__errbuf(errbuf, "out of memory");
			return TIDE_ENOMEM;
		}
		EVP_DigestUpdate(c, url, strlen(url));
		store__sha_hex(c, hex);
		/* a readable name: the bucket or host, then the URL's hash */
		if (h)
		{
			size_t		k = 0;

			for (h += 3; *h && *h != '/' && k + 1 < sizeof(host) && k < 40; h++)
				host[k++] = (char) ((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') ||
									(*h >= '0' && *h <= '9') || *h == '.' || *h == '-' ? *h : '_');
			host[k] = '\0';
		}
		if (xdg && xdg[0] == '/')
			snprintf(base, sizeof(base), "%s/tide", xdg);
		else if (home && home[0] == '/')
			snprintf(base, sizeof(base), "%s/.cache/tide", home);
		else
		{
			const char *tmp = getenv("TMPDIR");

			snprintf(base, sizeof(base), "%s/tide-cache-%u", tmp && tmp[0] ? tmp : "/tmp",
					 (unsigned) geteuid());
		}
		/* the parents: only what is missing, owner-only */
		{
			char		p[4096];

			snprintf(p, sizeof(p), "%s", base);
			for (char *q = p + 1; (q = strchr(q, '/')) != NULL; q++)
			{
				*q = '\0';
				if (mkdir(p, 0700) != 0 && errno != EEXIST)
				{
					store__errbuf(errbuf, "could not create cache directory \"%s\": %s", p, strerror(errno));
					return -errno;
				}
				*q = '/';
			}
			if (mkdir(p, 0700) != 0 && errno != EEXIST)
			{
				store__errbuf(errbuf, "could not create cache directory \"%s\": %s", p, strerror(errno));
				return -errno;
			}
		}
		snprintf(out, len, "%s/%s%s%.16s", base, host, host[0] ? "-" : "", hex);
	}
	/* invariant 8: the cache holds every replicated row, owner-only */
	if (mkdir(out, 0700) != 0 && errno != EEXIST)
	{
		store__errbuf(errbuf, "could not create cache directory \"%s\": %s", out, strerror(errno));
		return -errno;
	}
	if (lstat(out, &st) != 0 || !S_ISDIR(st.st_mode))
	{
		store__errbuf(errbuf, "cache directory \"%s\" is not a directory", out);
		return -ENOTDIR;
	}
	if (st.st_uid != geteuid())
	{
		store__errbuf(errbuf, "cache directory \"%s\" belongs to another user (uid %u)", out, (unsigned) st.st_uid);
		return -EPERM;
	}
	if ((st.st_mode & 077) != 0 && chmod(out, 0700) != 0)
	{
		store__errbuf(errbuf, "could not make cache directory \"%s\" owner-only: %s", out, strerror(errno));
		return -errno;
	}
	return 0;
}

/* cached_ok - path holds size bytes with SHA-256 sha */
static int
cached_ok(const char *path, uint64_t size, const char *sha)
{
	struct stat st;
	char		have[STORE_SHA256_HEX];

	if (lstat(path, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (uint64_t) st.st_size != size)
		return TIDE_ECHECKSUM;
	if (sha[0] == '\0')
		return 0;
	if (store_sha256_file(path, have) != 0 || strcmp(have, sha) != 0)
		return TIDE_ECHECKSUM;
	return 0;
}

/*
 * fetch_object - name into path via a hidden download name in the same
 * directory (so a resumed part survives under a stable name), checked
 * against size and sha (and, for a segment, every block), then renamed.
 */
static int
fetch_object(store_t *s, const char *name, uint64_t size, const char *sha, const char *path,
			 bool segment, proto_lsn_t start_lsn, uint64_t *fetched)
{
	char		dl[4300];
	const char *slash = strrchr(path, '/');
	store_get_opts_t go = {.sha256 = sha[0] ? sha : NULL};
	store_get_result_t gr;
	uint64_t	off = 0;
	int			rc;

	if (cached_ok(path, size, sha) == 0)
		return 0;
	unlink(path);				/* a damaged copy: fetched again */
	if (slash == NULL)
		return store__fail(s, -EINVAL, "cache path \"%s\" has no directory", path);
	snprintf(dl, sizeof(dl), "%.*s/.%s.dl", (int) (slash - path), path, slash + 1);
	if ((rc = store_get(s, name, dl, &go, &gr)) != 0)
	{
		if (rc == TIDE_ECHECKSUM)
		{
			size_t		l = strlen(s->err);

			snprintf(s->err + l, sizeof(s->err) - l, " (the index says %s): the object is damaged in the store",
					 sha);
		}
		return rc;
	}
	if (fetched)
		*fetched += gr.size - gr.resumed_at;
	if (gr.size != size)
	{
		unlink(dl);
		return store__fail(s, TIDE_ECHECKSUM, "object \"%s\" in \"%s\" has %llu bytes, the index says %llu",
						   name, s->url, (unsigned long long) gr.size, (unsigned long long) size);
	}
	if (segment && (rc = store_segment_verify(dl, start_lsn, &off)) != 0)
	{
		unlink(dl);
		return store__fail(s, rc, "segment \"%s\" in \"%s\" is damaged at byte offset %llu: %s",
						   name, s->url, (unsigned long long) off, tide_strerror(rc));
	}
	if (rename(dl, path) != 0)
	{
		rc = store__fail(s, -errno, "could not rename \"%s\" to \"%s\": %s", dl, path, strerror(errno));
		unlink(dl);
		return rc;
	}
	return 0;
}

int
store_fetch_segment(store_t *s, const store_segment_t *g, const char *cache_dir, char *path,
					size_t len, uint64_t *fetched)
{
	s->err[0] = '\0';
	if (s->kind == STORE_LOCAL)
		return store_local_path(s, g->name, path, len);
	if (g->partial || g->sha256[0] == '\0')
		return store__fail(s, -EINVAL, "segment \"%s\" of \"%s\" has no checksum in the index: it cannot be checked",
						   g->name, s->url);
	if ((size_t) snprintf(path, len, "%s/%s", cache_dir, g->name) >= len)
		return store__fail(s, -ENAMETOOLONG, "cache path of \"%s\" is too long", g->name);
	return fetch_object(s, g->name, g->size, g->sha256, path, true, g->start_lsn, fetched);
}

int
store_fetch_base(store_t *s, const store_base_t *b, const char *cache_dir, char *dir, size_t len,
				 uint64_t *fetched)
{
	char		sub[4200];
	int			rc;

	s->err[0] = '\0';
	if (s->kind == STORE_LOCAL)
	{
		snprintf(sub, sizeof(sub), "%s%s", STORE_BASE_PREFIX, b->name);
		return store_local_path(s, sub, dir, len);
	}
	snprintf(sub, sizeof(sub), "%s/base", cache_dir);
	if (mkdir(sub, 0700) != 0 && errno != EEXIST)
		return store__fail(s, -errno, "could not create \"%s\": %s", sub, strerror(errno));
	if ((size_t) snprintf(dir, len, "%s/base/%s", cache_dir, b->name) >= len)
		return store__fail(s, -ENAMETOOLONG, "cache path of base \"%s\" is too long", b->name);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return store__fail(s, -errno, "could not create \"%s\": %s", dir, strerror(errno));
	for (size_t i = 0; i < b->nfiles; i++)
	{
		char		name[STORE_NAME_MAX + 1];
		char		path[4400];

		/* pg_dump's directory format is flat: no subdirectory to make */
		if (strchr(b->files[i].name, '/'))
			return store__fail(s, -EINVAL, "base \"%s\" names a file in a subdirectory (\"%s\"): not a pg_dump directory",
							   b->name, b->files[i].name);
		snprintf(name, sizeof(name), "%s%s/%s", STORE_BASE_PREFIX, b->name, b->files[i].name);
		snprintf(path, sizeof(path), "%s/%s", dir, b->files[i].name);
		if ((rc = fetch_object(s, name, b->files[i].size, b->files[i].sha256, path, false, 0, fetched)) != 0)
			return rc;
	}
	return 0;
}

int
store_cache_forget(const char *cache_dir, const store_seglist_t *l, proto_lsn_t lsn)
{
	int			n = 0;

	for (size_t i = 0; i < l->n; i++)
	{
		const store_segment_t *g = &l->v[i];
		char		path[4400];

		/*
		 * a segment ending at or before the replica's position, or one
		 * without a transaction (an idle bucket): never needed again
		 */
		if (g->partial || (g->end_lsn > lsn && g->txns > 0))
			continue;
		snprintf(path, sizeof(path), "%s/%s", cache_dir, g->name);
		if (unlink(path) == 0)
			n++;
		snprintf(path, sizeof(path), "%s/.%s.dl.part", cache_dir, g->name);
		unlink(path);
		snprintf(path, sizeof(path), "%s/.%s.dl.part.etag", cache_dir, g->name);
		unlink(path);
	}
	return n;
}
