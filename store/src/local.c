/*
 * store/src/local.c
 *		The local directory backend: objects are files under the root,
 *		names with '/' are subdirectories.
 *
 * Writes never leave a half-written object under its name: the bytes go
 * to a hidden temporary file in the same directory (".NAME.tmp-XXXXXX",
 * created exclusively), are fsynced, and the file is renamed to its name —
 * without replacing anything for store_put (renameat2 RENAME_NOREPLACE,
 * or link() where the file system lacks it), replacing for store_replace —
 * and the directory is fsynced, so the name is durable too.  Listings
 * leave out dot files, so a reader never sees a temporary name.
 *
 * A new object takes the permission bits of the file it was copied from
 * (segments and bases are owner-only: a web server serving the directory
 * must run as their owner, or the publisher widens them).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define COPY_BUF (1 << 20)

static const char *
root(const store_t *s)
{
	return s->be;
}

static void
local_etag(const struct stat *st, char *out)
{
	snprintf(out, STORE_ETAG_MAX, "\"%llx-%llx-%llx\"", (unsigned long long) st->st_ino,
			 (unsigned long long) st->st_size,
			 (unsigned long long) st->st_mtim.tv_sec * 1000000000ull + (unsigned long long) st->st_mtim.tv_nsec);
}

static int
obj_path(store_t *s, const char *name, char *buf, size_t len)
{
	if ((size_t) snprintf(buf, len, "%s/%s", root(s), name) >= len)
		return store__fail(s, -ENAMETOOLONG, "path of \"%s\" in \"%s\" is too long", name, s->url);
	return 0;
}

/* ------------------------------------------------------------- list */

typedef struct
{
	store_list_t *out;
	size_t		cap;
} walk_t;

static int
push(store_t *s, walk_t *w, const char *name, const struct stat *st)
{
	store_object_t *o;

	if (w->out->n == w->cap)
	{
		size_t		ncap = w->cap ? w->cap * 2 : 64;
		store_object_t *v = realloc(w->out->v, ncap * sizeof(*v));

		if (v == NULL)
			return store__fail(s, TIDE_ENOMEM, "out of memory");
		w->out->v = v;
		w->cap = ncap;
	}
	o = &w->out->v[w->out->n];
	memset(o, 0, sizeof(*o));
	if ((o->name = strdup(name)) == NULL)
		return store__fail(s, TIDE_ENOMEM, "out of memory");
	o->size = (uint64_t) st->st_size;
	o->mtime = st->st_mtim.tv_sec;
	local_etag(st, o->etag);
	w->out->n++;
	return 0;
}

/* walk - rel is "" or "sub/dir/"; symbolic links are neither followed nor listed */
static int
walk(store_t *s, walk_t *w, const char *rel, const char *prefix, int depth)
{
	/* depth -1: store__local_list_top, files of the root only */
	char		dpath[4096];
	DIR		   *d;
	struct dirent *de;
	int			rc = 0;

	if (depth > 16)
		return 0;
	if ((size_t) snprintf(dpath, sizeof(dpath), "%s/%s", root(s), rel) >= sizeof(dpath))
		return store__fail(s, -ENAMETOOLONG, "path under \"%s\" is too long", s->url);
	if ((d = opendir(dpath)) == NULL)
	{
		if (errno == ENOENT && rel[0] != '\0')
			return 0;			/* removed while we walked */
		return store__fail(s, -errno, "could not read directory \"%s\": %s", dpath, strerror(errno));
	}
	while (rc == 0 && (de = readdir(d)) != NULL)
	{
		char		name[STORE_NAME_MAX + 2];
		struct stat st;
		size_t		plen;

		if (de->d_name[0] == '.')
			continue;			/* ".", "..", temporary and hidden files */
		if ((size_t) snprintf(name, sizeof(name), "%s%s", rel, de->d_name) >= STORE_NAME_MAX)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;			/* removed meanwhile */
		plen = strlen(prefix);
		if (S_ISDIR(st.st_mode) && depth < 0)
			continue;
		if (S_ISDIR(st.st_mode))
		{
			size_t		n = strlen(name);

			/* descend only where names with the prefix can be */
			name[n] = '/';
			name[n + 1] = '\0';
			if (strncmp(name, prefix, plen < n + 1 ? plen : n + 1) == 0)
				rc = walk(s, w, name, prefix, depth + 1);
		}
		else if (S_ISREG(st.st_mode) && strncmp(name, prefix, plen) == 0)
			rc = push(s, w, name, &st);
	}
	closedir(d);
	return rc;
}

static int
local_list(store_t *s, const char *prefix, store_list_t *out)
{
	walk_t		w = {out, 0};

	return walk(s, &w, "", prefix, 0);
}

int
store__local_list_top(store_t *s, store_list_t *out)
{
	walk_t		w = {out, 0};
	int			rc;

	out->v = NULL;
	out->n = 0;
	s->err[0] = '\0';
	if ((rc = walk(s, &w, "", "", -1)) != 0)
		store_list_free(out);
	return rc;
}

static int
local_head(store_t *s, const char *name, store_object_t *out)
{
	char		path[4200];
	struct stat st;
	int			rc;

	if ((rc = obj_path(s, name, path, sizeof(path))) != 0)
		return rc;
	if (lstat(path, &st) != 0)
		return store__fail(s, -errno, "could not stat \"%s\": %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return store__fail(s, -ENOENT, "\"%s\" is not a regular file", path);
	out->size = (uint64_t) st.st_size;
	out->mtime = st.st_mtim.tv_sec;
	local_etag(&st, out->etag);
	return 0;
}

static int
local_read(store_t *s, const char *name, uint64_t offset, size_t len, void *buf, size_t *got)
{
	char		path[4200];
	int			fd;
	int			rc;

	if ((rc = obj_path(s, name, path, sizeof(path))) != 0)
		return rc;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return store__fail(s, -errno, "could not open \"%s\": %s", path, strerror(errno));
	while (*got < len)
	{
		ssize_t		n = pread(fd, (char *) buf + *got, len - *got, (off_t) (offset + *got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
		{
			rc = store__fail(s, -errno, "could not read \"%s\": %s", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		*got += (size_t) n;
	}
	close(fd);
	return rc;
}

/* ------------------------------------------------------------- copying */

/*
 * copy_to_temp - copy src into a new hidden file beside dst, hashing what
 * is written; fsync it.  *tmp receives its name.  On error nothing is left.
 */
static int
copy_to_temp(store_t *s, const char *src, const char *dst, char *tmp, size_t tlen,
			 char sha[STORE_SHA256_HEX], uint64_t *size, mode_t mode)
{
	const char *slash = strrchr(dst, '/');
	int			in = -1;
	int			out = -1;
	unsigned char *buf = NULL;
	EVP_MD_CTX *c = NULL;
	ssize_t		n;
	int			rc = 0;

	*size = 0;
	if ((size_t) snprintf(tmp, tlen, "%.*s/.%s.tmp-XXXXXX", (int) (slash - dst), dst, slash + 1) >= tlen)
		return store__fail(s, -ENAMETOOLONG, "path \"%s\" is too long", dst);
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return store__fail(s, -errno, "could not open \"%s\": %s", src, strerror(errno));
	if ((out = mkostemp(tmp, O_CLOEXEC)) < 0)
	{
		rc = store__fail(s, -errno, "could not create a file in \"%s\": %s", s->url, strerror(errno));
		close(in);
		return rc;
	}
	if ((buf = malloc(COPY_BUF)) == NULL || (c = store__sha_new()) == NULL)
		rc = store__fail(s, TIDE_ENOMEM, "out of memory");
	while (rc == 0 && (n = read(in, buf, COPY_BUF)) != 0)
	{
		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			rc = store__fail(s, -errno, "could not read \"%s\": %s", src, strerror(errno));
			break;
		}
		EVP_DigestUpdate(c, buf, (size_t) n);
		for (ssize_t off = 0; off < n && rc == 0;)
		{
			ssize_t		w = write(out, buf + off, (size_t) (n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				rc = store__fail(s, -errno, "could not write \"%s\": %s", tmp, strerror(errno));
			else
				off += w;
		}
		*size += (uint64_t) n;
	}
	if (rc == 0 && fchmod(out, mode) != 0)
		rc = store__fail(s, -errno, "could not set the mode of \"%s\": %s", tmp, strerror(errno));
	if (rc == 0 && fsync(out) != 0)
		rc = store__fail(s, -errno, "could not fsync \"%s\": %s", tmp, strerror(errno));
	if (close(out) != 0 && rc == 0)
		rc = store__fail(s, -errno, "could not write \"%s\": %s", tmp, strerror(errno));
	close(in);
	free(buf);
	if (c && rc == 0)
		store__sha_hex(c, sha);
	else
		EVP_MD_CTX_free(c);
	if (rc != 0)
		unlink(tmp);
	return rc;
}

/* make_parents - the directories of name under the root, fsynced as made */
static int
make_parents(store_t *s, const char *path)
{
	char		dir[4200];
	size_t		rlen = strlen(root(s));

	snprintf(dir, sizeof(dir), "%s", path);
	for (char *p = dir + rlen + 1; (p = strchr(p, '/')) != NULL; p++)
	{
		*p = '\0';
		if (mkdir(dir, 0777) == 0)
		{
			char	   *up = strrchr(dir, '/');

			*up = '\0';
			tide_fsync_path(dir);
			*up = '/';
		}
		else if (errno != EEXIST)
			return store__fail(s, -errno, "could not create directory \"%s\": %s", dir, strerror(errno));
		*p = '/';
	}
	return 0;
}

static int
local_put(store_t *s, const char *name, const char *src, const char *want_sha,
		  bool create_only, store_put_result_t *r)
{
	char		path[4200];
	char		tmp[4300];
	char		dir[4200];
	struct stat st;
	int			rc;

	if ((rc = obj_path(s, name, path, sizeof(path))) != 0)
		return rc;
	if (stat(src, &st) != 0)
		return store__fail(s, -errno, "could not stat \"%s\": %s", src, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return store__fail(s, -EINVAL, "\"%s\" is not a regular file", src);
	if ((rc = make_parents(s, path)) != 0)
		return rc;
	if ((rc = copy_to_temp(s, src, path, tmp, sizeof(tmp), r->sha256, &r->size,
						   st.st_mode & 0666)) != 0)
		return rc;
	if (want_sha && strcmp(want_sha, r->sha256) != 0)
	{
		unlink(tmp);
		return store__fail(s, TIDE_ECHECKSUM, "\"%s\" changed while it was copied: its SHA-256 is %s, not %s as given",
						   src, r->sha256, want_sha);
	}
	if (!create_only)
		rc = rename(tmp, path) == 0 ? 0 : -errno;
	else if ((rc = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0 ? 0 : -errno) == -EINVAL ||
			 rc == -ENOSYS)
	{
		/* a file system without RENAME_NOREPLACE: link() never replaces */
		rc = link(tmp, path) == 0 ? 0 : -errno;
		if (rc == 0)
			unlink(tmp);
	}
	if (rc == -EEXIST)
	{
		char		have[STORE_SHA256_HEX];

		unlink(tmp);
		if ((rc = store_sha256_file(path, have)) != 0)
			return store__fail(s, rc, "could not read \"%s\": %s", path, tide_strerror(rc));
		if (strcmp(have, r->sha256) == 0)
		{
			r->existed = true;
			return 0;
		}
		return store__fail(s, -EEXIST, "object \"%s\" already exists in \"%s\" with other content (SHA-256 %s, the new file's is %s)",
						   name, s->url, have, r->sha256);
	}
	if (rc != 0)
	{
		unlink(tmp);
		return store__fail(s, rc, "could not rename \"%s\" to \"%s\": %s", tmp, path, strerror(-rc));
	}
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	if ((rc = tide_fsync_path(dir)) != 0)
		return store__fail(s, rc, "could not fsync directory \"%s\": %s", dir, strerror(-rc));
	return 0;
}

static int
local_get(store_t *s, const char *name, const char *dst, const store_get_opts_t *o,
		  store_get_result_t *r)
{
	char		path[4200];
	char		tmp[4300];
	struct stat st;
	int			rc;

	if ((rc = obj_path(s, name, path, sizeof(path))) != 0)
		return rc;
	if (lstat(path, &st) != 0)
		return store__fail(s, -errno, "could not open \"%s\": %s", path, strerror(errno));
	local_etag(&st, r->etag);
	if (o->if_none_match && strcmp(o->if_none_match, r->etag) == 0)
	{
		r->not_modified = true;
		r->size = (uint64_t) st.st_size;
		return 0;
	}
	if (strchr(dst, '/') == NULL)
	{
		/* copy_to_temp wants a directory part */
		char		rel[4200];

		snprintf(rel, sizeof(rel), "./%s", dst);
		return local_get(s, name, rel, o, r);
	}
	if ((rc = copy_to_temp(s, path, dst, tmp, sizeof(tmp), r->sha256, &r->size, 0600)) != 0)
		return rc;
	if (o->sha256 && strcmp(o->sha256, r->sha256) != 0)
	{
		unlink(tmp);
		return store__fail(s, TIDE_ECHECKSUM, "object \"%s\" in \"%s\" has SHA-256 %s, not %s as expected",
						   name, s->url, r->sha256, o->sha256);
	}
	if (rename(tmp, dst) != 0)
	{
		rc = store__fail(s, -errno, "could not rename \"%s\" to \"%s\": %s", tmp, dst, strerror(errno));
		unlink(tmp);
	}
	return rc;
}

static int
local_del(store_t *s, const char *name)
{
	char		path[4200];
	int			rc;

	if ((rc = obj_path(s, name, path, sizeof(path))) != 0)
		return rc;
	if (unlink(path) != 0)
	{
		if (errno == ENOENT)
			return 0;
		return store__fail(s, -errno, "could not remove \"%s\": %s", path, strerror(errno));
	}
	*strrchr(path, '/') = '\0';
	if ((rc = tide_fsync_path(path)) != 0)
		return store__fail(s, rc, "could not fsync directory \"%s\": %s", path, strerror(-rc));
	return 0;
}

static void
local_close(store_t *s)
{
	free(s->be);
}

static const store__ops_t local_ops = {
	.list = local_list,
	.head = local_head,
	.read = local_read,
	.get = local_get,
	.put = local_put,
	.del = local_del,
	.close = local_close,
};

int
store__local_open(store_t *s, const char *path, char *errbuf)
{
	struct stat st;
	size_t		n = strlen(path);
	char	   *r;

	while (n > 1 && path[n - 1] == '/')
		n--;
	if (stat(path, &st) != 0)
	{
		int			e = errno;

		store__errbuf(errbuf, "could not open store directory \"%s\": %s", path, strerror(e));
		return -e;
	}
	if (!S_ISDIR(st.st_mode))
	{
		store__errbuf(errbuf, "store \"%s\" is not a directory", path);
		return -ENOTDIR;
	}
	if ((r = strndup(path, n)) == NULL)
	{
		store__errbuf(errbuf, "out of memory");
		return TIDE_ENOMEM;
	}
	s->be = r;
	s->ops = &local_ops;
	return 0;
}
