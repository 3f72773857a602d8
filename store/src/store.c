/*
 * store/src/store.c
 *		Opening a store by URL, the calls every backend answers, and the
 *		helpers they share.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static const store_opts_t default_opts = {
	.connect_timeout_ms = 10000,
	.low_speed_secs = 30,
	.retries = 4,
	.retry_base_ms = 200,
	.retry_max_ms = 10000,
	.ca_file = NULL,
};

int
store__fail(store_t *s, int code, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	return code;
}

void
store__errbuf(char *errbuf, const char *fmt,...)
{
	va_list		ap;

	if (errbuf == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, STORE_ERRLEN, fmt, ap);
	va_end(ap);
}

int
store_open(const char *url, const store_opts_t *opts, store_t **out, char *errbuf)
{
	store_t    *s;
	int			rc;

	*out = NULL;
	if (errbuf)
		errbuf[0] = '\0';
	if (url == NULL || url[0] == '\0')
	{
		store__errbuf(errbuf, "no store given: a directory, s3://BUCKET/PREFIX or http(s)://HOST/PATH");
		return -EINVAL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL || (s->url = strdup(url)) == NULL)
	{
		free(s);
		store__errbuf(errbuf, "out of memory");
		return TIDE_ENOMEM;
	}
	s->opts = default_opts;
	if (opts)
	{
		if (opts->connect_timeout_ms > 0)
			s->opts.connect_timeout_ms = opts->connect_timeout_ms;
		if (opts->low_speed_secs > 0)
			s->opts.low_speed_secs = opts->low_speed_secs;
		if (opts->retries != 0)
			s->opts.retries = opts->retries < 0 ? 0 : opts->retries;
		if (opts->retry_base_ms > 0)
			s->opts.retry_base_ms = opts->retry_base_ms;
		if (opts->retry_max_ms > 0)
			s->opts.retry_max_ms = opts->retry_max_ms;
		s->opts.ca_file = opts->ca_file;
		if (opts->list_page > 0 && opts->list_page <= 1000)
			s->opts.list_page = opts->list_page;
	}
	if (strncmp(url, "s3://", 5) == 0)
	{
		s->kind = STORE_S3;
		rc = store__s3_open(s, url + 5, errbuf);
	}
	else if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)
	{
		s->kind = STORE_HTTP;
		rc = store__http_open(s, url, errbuf);
	}
	else if (strncmp(url, "file://", 7) == 0)
	{
		const char *p = url + 7;

		/* file:///path or file://localhost/path, as RFC 8089 allows */
		if (strncmp(p, "localhost/", 10) == 0)
			p += 9;
		s->kind = STORE_LOCAL;
		if (p[0] != '/')
		{
			store__errbuf(errbuf, "invalid store URL \"%s\": a file URL names an absolute path on this host (file:///path)", url);
			rc = -EINVAL;
		}
		else
			rc = store__local_open(s, p, errbuf);
	}
	else if (strstr(url, "://") != NULL)
	{
		store__errbuf(errbuf, "unsupported store URL \"%s\": use a directory, file://, s3:// or http(s)://", url);
		rc = -EINVAL;
	}
	else
	{
		s->kind = STORE_LOCAL;
		rc = store__local_open(s, url, errbuf);
	}
	if (rc != 0)
	{
		free(s->url);
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void
store_close(store_t *s)
{
	if (s == NULL)
		return;
	if (s->ops && s->ops->close)
		s->ops->close(s);
	free(s->url);
	free(s);
}

const char *
store_errmsg(const store_t *s)
{
	return s ? s->err : "no store";
}

store_kind_t
store_kind(const store_t *s)
{
	return s->kind;
}

bool
store_writable(const store_t *s)
{
	return s->ops->put != NULL;
}

const char *
store_describe(const store_t *s)
{
	return s->url;
}

bool
store__name_ok(const char *name)
{
	const char *c = name;

	if (name == NULL || name[0] == '\0' || name[0] == '/' || strlen(name) > STORE_NAME_MAX)
		return false;
	while (*c)
	{
		const char *end = strchr(c, '/');
		size_t		n = end ? (size_t) (end - c) : strlen(c);

		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		for (size_t i = 0; i < n; i++)
			if ((unsigned char) c[i] < 0x20 || c[i] == 0x7f || c[i] == '\\')
				return false;
		c += n;
		if (*c == '/')
			c++;
		if (end && *c == '\0')
			return false;		/* trailing slash */
	}
	return true;
}

static int
check_name(store_t *s, const char *name)
{
	if (!store__name_ok(name))
		return store__fail(s, -EINVAL, "invalid object name \"%s\" in store \"%s\"",
						   name ? name : "(null)", s->url);
	return 0;
}

int
store_local_path(store_t *s, const char *name, char *buf, size_t len)
{
	int			rc;

	if (s->kind != STORE_LOCAL)
		return store__fail(s, -EOPNOTSUPP, "store \"%s\" is not a local directory", s->url);
	if ((rc = check_name(s, name)) != 0)
		return rc;
	if ((size_t) snprintf(buf, len, "%s/%s", (const char *) s->be, name) >= len)
		return store__fail(s, -ENAMETOOLONG, "path of \"%s\" in \"%s\" is too long", name, s->url);
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(((const store_object_t *) a)->name, ((const store_object_t *) b)->name);
}

int
store_list(store_t *s, const char *prefix, store_list_t *out)
{
	int			rc;

	out->v = NULL;
	out->n = 0;
	s->err[0] = '\0';
	if (prefix == NULL)
		prefix = "";
	if (s->ops->list == NULL)
		return store__fail(s, -EOPNOTSUPP, "store \"%s\" cannot list its objects: a static web server has no listing; read its %s",
						   s->url, STORE_INDEX_NAME);
	if ((rc = s->ops->list(s, prefix, out)) != 0)
	{
		store_list_free(out);
		return rc;
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), name_cmp);
	return 0;
}

void
store_list_free(store_list_t *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void
store_object_free(store_object_t *o)
{
	free(o->name);
	o->name = NULL;
}

int
store_head(store_t *s, const char *name, store_object_t *out)
{
	int			rc;

	memset(out, 0, sizeof(*out));
	s->err[0] = '\0';
	if ((rc = check_name(s, name)) != 0)
		return rc;
	if ((out->name = strdup(name)) == NULL)
		return store__fail(s, TIDE_ENOMEM, "out of memory");
	if ((rc = s->ops->head(s, name, out)) != 0)
		store_object_free(out);
	return rc;
}

int
store_read(store_t *s, const char *name, uint64_t offset, size_t len, void *buf, size_t *got)
{
	int			rc;

	*got = 0;
	s->err[0] = '\0';
	if ((rc = check_name(s, name)) != 0)
		return rc;
	if (len == 0)
		return 0;
	return s->ops->read(s, name, offset, len, buf, got);
}

int
store_get(store_t *s, const char *name, const char *path, const store_get_opts_t *o,
		  store_get_result_t *r)
{
	store_get_opts_t no_opts = {0};
	store_get_result_t tmp;
	int			rc;

	s->err[0] = '\0';
	if (r == NULL)
		r = &tmp;
	memset(r, 0, sizeof(*r));
	if ((rc = check_name(s, name)) != 0)
		return rc;
	return s->ops->get(s, name, path, o ? o : &no_opts, r);
}

static int
put_common(store_t *s, const char *name, const char *path, const char *sha256,
		   bool create_only, store_put_result_t *r)
{
	store_put_result_t tmp;
	int			rc;

	s->err[0] = '\0';
	if (r == NULL)
		r = &tmp;
	memset(r, 0, sizeof(*r));
	if ((rc = check_name(s, name)) != 0)
		return rc;
	if (s->ops->put == NULL)
		return store__fail(s, -EROFS, "store \"%s\" is read-only: a web server is published to through its directory or another store",
						   s->url);
	if (sha256 && (strlen(sha256) != 64 || strspn(sha256, "0123456789abcdef") != 64))
		return store__fail(s, -EINVAL, "invalid SHA-256 \"%s\" given for \"%s\"", sha256, path);
	return s->ops->put(s, name, path, sha256, create_only, r);
}

int
store_put(store_t *s, const char *name, const char *path, const char *sha256,
		  store_put_result_t *r)
{
	return put_common(s, name, path, sha256, true, r);
}

int
store_replace(store_t *s, const char *name, const char *path)
{
	return put_common(s, name, path, NULL, false, NULL);
}

int
store_delete(store_t *s, const char *name)
{
	int			rc;

	s->err[0] = '\0';
	if ((rc = check_name(s, name)) != 0)
		return rc;
	if (s->ops->del == NULL)
		return store__fail(s, -EROFS, "store \"%s\" is read-only", s->url);
	return s->ops->del(s, name);
}

/* ------------------------------------------------------------- helpers */

void
store__hex(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++)
	{
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

EVP_MD_CTX *
store__sha_new(void)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)
	{
		EVP_MD_CTX_free(c);
		return NULL;
	}
	return c;
}

void
store__sha_hex(EVP_MD_CTX *c, char hex[STORE_SHA256_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	EVP_DigestFinal_ex(c, md, &n);
	store__hex(md, n, hex);
	EVP_MD_CTX_free(c);
}

int
store_sha256_file(const char *path, char hex[STORE_SHA256_HEX])
{
	int			fd = open(path, O_RDONLY | O_CLOEXEC);
	EVP_MD_CTX *c;
	unsigned char *buf;
	ssize_t		n;
	int			rc = 0;

	hex[0] = '\0';
	if (fd < 0)
		return -errno;
	buf = malloc(1 << 20);
	c = store__sha_new();
	if (buf == NULL || c == NULL)
	{
		free(buf);
		EVP_MD_CTX_free(c);
		close(fd);
		return TIDE_ENOMEM;
	}
	while ((n = read(fd, buf, 1 << 20)) > 0)
		EVP_DigestUpdate(c, buf, (size_t) n);
	if (n < 0)
		rc = -errno;
	close(fd);
	free(buf);
	if (rc == 0)
		store__sha_hex(c, hex);
	else
		EVP_MD_CTX_free(c);
	return rc;
}

void
store__retry_wait(const store_t *s, int attempt)
{
	long		cap = s->opts.retry_base_ms;
	uint32_t	rnd = 0;
	long		ms;
	struct timespec ts;

	for (int i = 1; i < attempt && cap < s->opts.retry_max_ms; i++)
		cap *= 2;
	if (cap > s->opts.retry_max_ms)
		cap = s->opts.retry_max_ms;
	/* "equal jitter": at least half the backoff, so clients that failed
	 * together neither stampede back nor hammer at once */
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (uint32_t) time(NULL) * 2654435761u;
	ms = cap / 2 + (long) (rnd % (uint32_t) (cap / 2 + 1));
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

