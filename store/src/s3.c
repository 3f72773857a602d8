/*
 * store/src/s3.c
 *		The S3 backend: s3://BUCKET/PREFIX on AWS or any S3-compatible
 *		server, every request signed with SigV4 (sigv4.c), listings and
 *		error answers read with libxml2.
 *
 * Settings come from the AWS variables (store.h).  With AWS_ENDPOINT_URL_S3
 * or AWS_ENDPOINT_URL the store is addressed path-style
 * (ENDPOINT/BUCKET/KEY), which every S3-compatible server understands;
 * without, AWS's virtual-hosted https://BUCKET.s3.REGION.amazonaws.com/KEY
 * (path-style for bucket names with dots, which TLS cannot match).
 *
 * Objects are written by one PUT each, with their SHA-256 as the signed
 * payload hash (S3 refuses a body that does not match it) and in metadata
 * (x-amz-meta-tide-sha256), which is what the create-only rule compares.
 * Objects larger than a single PUT may be (5 GiB) are refused: tide's
 * segments and dump files are far smaller, and a multipart upload would
 * need its own clean-up of abandoned parts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "internal.h"
#include "sigv4.h"

#define LIST_BODY_MAX (16 * 1024 * 1024)
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct
{
	store__remote_t r;			/* first */
	char	   *bucket;			/* owned */
	char	   *prefix;			/* owned: "" or "some/prefix/" */
	char	   *scheme_host;	/* owned: "https://bucket.s3.region.amazonaws.com" */
	char	   *host;			/* owned: the Host header's value */
	bool		path_style;
	char	   *region;			/* owned */
	char	   *access_key;		/* owned; NULL: unsigned requests */
	char	   *secret_key;		/* owned, cleansed when freed */
	char	   *token;			/* owned, may be NULL */
	const char *region_from;	/* the variable it came from, or "default" */
	int			list_page;		/* max-keys; 0: the server's default */
} s3_t;

static s3_t *
s3(store_t *s)
{
	return s->be;
}

/* ------------------------------------------------------------- requests */

static int
append_hdr(store_t *s, struct curl_slist **l, const char *name, const char *value)
{
	char		buf[4096];
	struct curl_slist *n;

	snprintf(buf, sizeof(buf), "%s: %s", name, value);
	if ((n = curl_slist_append(*l, buf)) == NULL)
		return store__fail(s, TIDE_ENOMEM, "out of memory");
	*l = n;
	return 0;
}

static int
s3_build(store_t *s, const store__call_t *c, char **url, struct curl_slist **hdrs)
{
	s3_t	   *b = s3(s);
	char	   *key = NULL;
	char	   *path = NULL;
	char	   *enc = NULL;
	char		date[17];
	time_t		now = time(NULL);
	struct tm	tm;
	store__kv_t kv[20];
	size_t		nkv = 0;
	store__kv_t qv[4];
	size_t		nq = 0;
	char		hname[8][64];
	char		hval[8][1200];
	const char *payload = c->payload_sha ? c->payload_sha : EMPTY_SHA256;
	int			rc = 0;
	size_t		n;

	*url = NULL;
	*hdrs = NULL;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm);

	/* the path: /BUCKET/KEY (path-style) or /KEY, not normalized */
	n = strlen(b->prefix) + (c->name ? strlen(c->name) : 0) + strlen(b->bucket) + 4;
	if ((key = malloc(n)) == NULL || (path = malloc(n)) == NULL)
	{
		rc = store__fail(s, TIDE_ENOMEM, "out of memory");
		goto out;
	}
	if (c->name)
		snprintf(key, n, "%s%s", b->prefix, c->name);
	else
		key[0] = '\0';
	if (b->path_style)
		snprintf(path, n, "/%s%s%s", b->bucket, c->name ? "/" : "", key);
	else
		snprintf(path, n, "/%s", key);
	if ((enc = store__uri_encode(path, true)) == NULL)
	{
		rc = store__fail(s, TIDE_ENOMEM, "out of memory");
		goto out;
	}

	/* the URL: the same encoding as the signature's, query sorted */
	{
		size_t		len = strlen(b->scheme_host) + strlen(enc) + 2;
		char	   *qenc[8] = {0};

		for (int i = 0; i < c->nquery; i++)
		{
			if ((qenc[i] = store__uri_encode(c->query[i], false)) == NULL)
				rc = store__fail(s, TIDE_ENOMEM, "out of memory");
			else
				len += strlen(qenc[i]) + 2;
		}
		if (rc == 0 && (*url = malloc(len)) == NULL)
			rc = store__fail(s, TIDE_ENOMEM, "out of memory");
		if (rc == 0)
		{
			/* pairs sorted by encoded name (the signer sorts its own copy) */
			int			order[4] = {0, 1, 2, 3};
			int			np = c->nquery / 2;
			size_t		at;

			for (int i = 1; i < np; i++)
				for (int j = i; j > 0 && strcmp(qenc[2 * order[j - 1]], qenc[2 * order[j]]) > 0; j--)
				{
					int			t = order[j];

					order[j] = order[j - 1];
					order[j - 1] = t;
				}
			at = (size_t) snprintf(*url, len, "%s%s", b->scheme_host, enc);
			for (int i = 0; i < np; i++)
				at += (size_t) snprintf(*url + at, len - at, "%c%s=%s", i ? '&' : '?',
										qenc[2 * order[i]], qenc[2 * order[i] + 1]);
		}
		for (int i = 0; i < 8; i++)
			free(qenc[i]);
		if (rc)
			goto out;
	}
	for (int i = 0; i + 1 < c->nquery && nq < 4; i += 2)
	{
		qv[nq].name = c->query[i];
		qv[nq].value = c->query[i + 1];
		nq++;
	}

	/* headers: the caller's, then what S3 wants; all signed */
	for (int i = 0; i < c->nhdr && i < 8; i++)
	{
		const char *colon = strchr(c->hdr[i], ':');

		snprintf(hname[i], sizeof(hname[i]), "%.*s", (int) (colon - c->hdr[i]), c->hdr[i]);
		snprintf(hval[i], sizeof(hval[i]), "%s", colon + 1 + strspn(colon + 1, " "));
		kv[nkv].name = hname[i];
		kv[nkv].value = hval[i];
		nkv++;
	}
	kv[nkv].name = "host";
	kv[nkv++].value = b->host;
	kv[nkv].name = "x-amz-content-sha256";
	kv[nkv++].value = payload;
	kv[nkv].name = "x-amz-date";
	kv[nkv++].value = date;
	if (b->token)
	{
		kv[nkv].name = "x-amz-security-token";
		kv[nkv++].value = b->token;
	}
	for (size_t i = 0; i < nkv && rc == 0; i++)
		rc = append_hdr(s, hdrs, kv[i].name, kv[i].value);
	/* no "Expect: 100-continue" wait before a PUT's body */
	if (rc == 0 && strcmp(c->method, "PUT") == 0)
	{
		struct curl_slist *l = curl_slist_append(*hdrs, "Expect:");

		if (l == NULL)
			rc = store__fail(s, TIDE_ENOMEM, "out of memory");
		else
			*hdrs = l;
	}
	if (rc == 0 && b->access_key)
	{
		store__sigv4_req_t req = {
			.method = c->method,
			.path = path,
			.query = qv,
			.nquery = nq,
			.headers = kv,
			.nheaders = nkv,
			.payload_hash = payload,
			.amz_date = date,
			.region = b->region,
			.service = "s3",
			.access_key = b->access_key,
			.secret_key = b->secret_key,
		};
		store__sigv4_t sig;

		if (store__sigv4_sign(&req, &sig) != 0)
			rc = store__fail(s, TIDE_ENOMEM, "out of memory");
		else
		{
			rc = append_hdr(s, hdrs, "Authorization", sig.authorization);
			store__sigv4_free(&sig);
		}
	}
out:
	if (rc != 0)
	{
		free(*url);
		*url = NULL;
		curl_slist_free_all(*hdrs);
		*hdrs = NULL;
	}
	free(key);
	free(path);
	free(enc);
	return rc;
}

static void
s3_where(store_t *s, char *buf, size_t len)
{
	snprintf(buf, len, " in bucket \"%s\"", s3(s)->bucket);
}

static void
s3_cred_note(store_t *s, char *buf, size_t len)
{
	s3_t	   *b = s3(s);

	if (b->access_key == NULL)
		snprintf(buf, len, " (no credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set, so the request was not signed)");
	else
		snprintf(buf, len, " (credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY%s, region \"%s\" from %s)",
				 b->token ? " with AWS_SESSION_TOKEN" : "", b->region, b->region_from);
}

/* ------------------------------------------------------------- list */

static int64_t
iso_time(const char *t)
{
	struct tm	tm;

	memset(&tm, 0, sizeof(tm));
	if (strptime(t, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
		return 0;
	return (int64_t) timegm(&tm);
}

/* parse_list - one ListObjectsV2 page into out; *next the continuation token */
static int
parse_list(store_t *s, const char *body, size_t len, store_list_t *out, size_t *cap,
		   char **next)
{
	s3_t	   *b = s3(s);
	xmlDoc	   *doc;
	xmlNode    *root;
	size_t		plen = strlen(b->prefix);
	bool		truncated = false;
	int			rc = 0;

	*next = NULL;
	doc = xmlReadMemory(body, (int) len, NULL, NULL,
						XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL || (root = xmlDocGetRootElement(doc)) == NULL ||
		strcmp((const char *) root->name, "ListBucketResult") != 0)
	{
		xmlFreeDoc(doc);
		return store__fail(s, -EPROTO, "S3 \"%s\" answered a listing of bucket \"%s\" with something that is not a ListBucketResult",
						   s->url, b->bucket);
	}
	for (xmlNode *n = root->children; n && rc == 0; n = n->next)
	{
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (strcmp((const char *) n->name, "IsTruncated") == 0)
		{
			xmlChar    *t = xmlNodeGetContent(n);

			truncated = t && strcmp((const char *) t, "true") == 0;
			xmlFree(t);
		}
		else if (strcmp((const char *) n->name, "NextContinuationToken") == 0)
		{
			xmlChar    *t = xmlNodeGetContent(n);

			free(*next);
			*next = t ? strdup((const char *) t) : NULL;
			xmlFree(t);
		}
		else if (strcmp((const char *) n->name, "Contents") == 0)
		{
			store_object_t o;
			char		key[STORE_NAME_MAX + 512] = "";
			char		v[256] = "";
			char	   *end;

			memset(&o, 0, sizeof(o));
			for (xmlNode *f = n->children; f; f = f->next)
			{
				xmlChar    *t;

				if (f->type != XML_ELEMENT_NODE)
					continue;
				t = xmlNodeGetContent(f);
				if (t == NULL)
					continue;
				if (strcmp((const char *) f->name, "Key") == 0)
					snprintf(key, sizeof(key), "%s", (const char *) t);
				else if (strcmp((const char *) f->name, "Size") == 0)
				{
					snprintf(v, sizeof(v), "%s", (const char *) t);
					o.size = strtoull(v, &end, 10);
					if (v[0] == '\0' || *end != '\0')
						rc = store__fail(s, -EPROTO, "S3 \"%s\" listed a size \"%s\" that is not a number", s->url, v);
				}
				else if (strcmp((const char *) f->name, "ETag") == 0)
					snprintf(o.etag, sizeof(o.etag), "%s", (const char *) t);
				else if (strcmp((const char *) f->name, "LastModified") == 0)
					o.mtime = iso_time((const char *) t);
				xmlFree(t);
			}
			if (rc || strncmp(key, b->prefix, plen) != 0 || key[plen] == '\0' ||
				strlen(key + plen) > STORE_NAME_MAX)
				continue;
			if (out->n == *cap)
			{
				size_t		ncap = *cap ? *cap * 2 : 256;
				store_object_t *nv = realloc(out->v, ncap * sizeof(*nv));

				if (nv == NULL)
				{
					rc = store__fail(s, TIDE_ENOMEM, "out of memory");
					break;
				}
				out->v = nv;
				*cap = ncap;
			}
			if ((o.name = strdup(key + plen)) == NULL)
			{
				rc = store__fail(s, TIDE_ENOMEM, "out of memory");
				break;
			}
			out->v[out->n++] = o;
		}
	}
	xmlFreeDoc(doc);
	if (rc == 0 && truncated && (*next == NULL || (*next)[0] == '\0'))
		rc = store__fail(s, -EPROTO, "S3 \"%s\" said its listing of bucket \"%s\" goes on but gave no continuation token",
						 s->url, b->bucket);
	if (rc == 0 && !truncated)
	{
		free(*next);
		*next = NULL;
	}
	return rc;
}

static int
s3_list(store_t *s, const char *prefix, store_list_t *out)
{
	s3_t	   *b = s3(s);
	char	   *full;
	char	   *token = NULL;
	char		page[16];
	size_t		cap = 0;
	int			rc = 0;
	int			pages = 0;

	if (asprintf(&full, "%s%s", b->prefix, prefix) < 0)
		return store__fail(s, TIDE_ENOMEM, "out of memory");
	snprintf(page, sizeof(page), "%d", b->list_page);
	do
	{
		store__call_t c = {.method = "GET", .name = NULL, .upload_fd = -1};
		store__resp_t r;
		char	   *next = NULL;

		c.query[c.nquery++] = "list-type";
		c.query[c.nquery++] = "2";
		c.query[c.nquery++] = "prefix";
		c.query[c.nquery++] = full;
		if (b->list_page > 0)
		{
			c.query[c.nquery++] = "max-keys";
			c.query[c.nquery++] = page;
		}
		if (token)
		{
			c.query[c.nquery++] = "continuation-token";
			c.query[c.nquery++] = token;
		}
		if ((rc = store__http_call(s, &c, LIST_BODY_MAX, &r)) != 0)
			break;
		if (r.status != 200)
			rc = store__http_fail(s, &c, &r);
		else
			rc = parse_list(s, r.body ? r.body : "", r.body_len, out, &cap, &next);
		store__resp_free(&r);
		free(token);
		token = next;
		if (++pages > 1000000)
			rc = store__fail(s, -EPROTO, "S3 \"%s\" keeps listing: over a million pages", s->url);
	} while (rc == 0 && token);
	free(token);
	free(full);
	return rc;
}

/* ------------------------------------------------------------- put, delete */

static int
s3_put(store_t *s, const char *name, const char *path, const char *want_sha, bool create_only,
	   store_put_result_t *res)
{
	int			fd;
	struct stat st;
	char		meta[128];
	int			rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return store__fail(s, -errno, "could not open \"%s\": %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
	{
		rc = store__fail(s, S_ISREG(st.st_mode) ? -errno : -EINVAL, "\"%s\" is not a readable regular file", path);
		close(fd);
		return rc;
	}
	res->size = (uint64_t) st.st_size;
	if (res->size > STORE_PUT_MAX)
	{
		close(fd);
		return store__fail(s, -EFBIG, "\"%s\" is %llu bytes: larger than one S3 PUT may carry (5 GiB)",
						   path, (unsigned long long) res->size);
	}
	if (want_sha)
		snprintf(res->sha256, sizeof(res->sha256), "%s", want_sha);
	else if ((rc = store_sha256_file(path, res->sha256)) != 0)
	{
		close(fd);
		return store__fail(s, rc, "could not read \"%s\": %s", path, tide_strerror(rc));
	}
	snprintf(meta, sizeof(meta), "x-amz-meta-tide-sha256: %s", res->sha256);

	for (int round = 0; round < 3; round++)
	{
		store__call_t c = {.method = "PUT", .name = name, .upload_fd = fd,
		.upload_size = res->size, .payload_sha = res->sha256};
		store__resp_t r;

		if (create_only)
		{
			store_object_t o;

			/* pgBackRest's archive-push rule: the same content is a no-op */
			memset(&o, 0, sizeof(o));
			rc = store__remote_head(s, name, &o);
			if (rc == 0)
			{
				close(fd);
				if (strcmp(o.sha256, res->sha256) == 0)
				{
					res->existed = true;
					return 0;
				}
				if (o.sha256[0] == '\0')
					return store__fail(s, -EEXIST, "object \"%s\" already exists in bucket \"%s\" (%s) without a tide checksum: it was not written by tide",
									   name, s3(s)->bucket, s->url);
				return store__fail(s, -EEXIST, "object \"%s\" already exists in bucket \"%s\" (%s) with other content (SHA-256 %s, the new file's is %s)",
								   name, s3(s)->bucket, s->url, o.sha256, res->sha256);
			}
			if (rc != -ENOENT)
			{
				close(fd);
				return rc;
			}
			c.hdr[c.nhdr++] = "If-None-Match: *";
		}
		c.hdr[c.nhdr++] = meta;
		rc = store__http_call(s, &c, 0, &r);
		if (rc == 0 && (r.status == 200 || r.status == 201 || r.status == 204))
		{
			store__resp_free(&r);
			close(fd);
			return 0;
		}
		if (rc == 0 && (r.status == 412 || r.status == 409) && create_only)
		{
			/* someone (or our own lost first attempt) wrote it: compare */
			store__resp_free(&r);
			continue;
		}
		if (rc == 0)
			rc = store__http_fail(s, &c, &r);
		store__resp_free(&r);
		close(fd);
		return rc;
	}
	close(fd);
	return store__fail(s, -EIO, "S3 \"%s\" keeps refusing to create \"%s\" in bucket \"%s\" and does not show it either",
					   s->url, name, s3(s)->bucket);
}

static int
s3_del(store_t *s, const char *name)
{
	store__call_t c = {.method = "DELETE", .name = name, .upload_fd = -1};
	store__resp_t r;
	int			rc;

	if ((rc = store__http_call(s, &c, 0, &r)) != 0)
		return rc;
	if (r.status != 204 && r.status != 200 && r.status != 404)
		rc = store__http_fail(s, &c, &r);
	store__resp_free(&r);
	return rc;
}

/* ------------------------------------------------------------- open */

static void
s3_close(store_t *s)
{
	s3_t	   *b = s->be;

	if (b == NULL)
		return;
	store__remote_cleanup(&b->r);
	free(b->bucket);
	free(b->prefix);
	free(b->scheme_host);
	free(b->host);
	free(b->region);
	free(b->access_key);
	if (b->secret_key)
		OPENSSL_cleanse(b->secret_key, strlen(b->secret_key));
	free(b->secret_key);
	if (b->token)
		OPENSSL_cleanse(b->token, strlen(b->token));
	free(b->token);
	free(b);
}

static const store__ops_t s3_ops = {
	.list = s3_list,
	.head = store__remote_head,
	.read = store__remote_read,
	.get = store__remote_get,
	.put = s3_put,
	.del = s3_del,
	.close = s3_close,
};

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v && v[0] ? v : NULL;
}

static bool
bucket_ok(const char *b)
{
	size_t		n = strlen(b);

	if (n < 3 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '-' ||
			  b[i] == '.' || b[i] == '_' || (b[i] >= 'A' && b[i] <= 'Z')))
			return false;
	return true;
}

int
store__s3_open(store_t *s, const char *rest, char *errbuf)
{
	s3_t	   *b = calloc(1, sizeof(*b));
	const char *slash = strchr(rest, '/');
	const char *endpoint = env("AWS_ENDPOINT_URL_S3");
	const char *ak = env("AWS_ACCESS_KEY_ID");
	const char *sk = env("AWS_SECRET_ACCESS_KEY");
	int			rc = 0;

	if (b == NULL)
	{
		store__errbuf(errbuf, "out of memory");
		return TIDE_ENOMEM;
	}
	s->be = b;
	s->ops = &s3_ops;
	store__remote_init(&b->r);
	b->r.what = "S3";
	b->r.build = s3_build;
	b->r.where = s3_where;
	b->r.cred_note = s3_cred_note;
	if (endpoint == NULL)
		endpoint = env("AWS_ENDPOINT_URL");

	b->bucket = slash ? strndup(rest, (size_t) (slash - rest)) : strdup(rest);
	if (b->bucket && !bucket_ok(b->bucket))
	{
		store__errbuf(errbuf, "invalid store URL \"%s\": \"%s\" is not a bucket name (3 to 63 letters, digits, '.', '-')",
					  s->url, b->bucket);
		rc = -EINVAL;
		goto out;
	}
	/* the prefix: "a/b" and "a/b/" both mean the objects a/b/NAME */
	{
		const char *p = slash ? slash + 1 : "";
		size_t		n = strlen(p);

		while (n > 0 && p[n - 1] == '/')
			n--;
		if (n && asprintf(&b->prefix, "%.*s/", (int) n, p) < 0)
			b->prefix = NULL;
		else if (n == 0)
			b->prefix = strdup("");
	}
	if ((b->region = strdup(env("AWS_REGION") ? env("AWS_REGION") :
							env("AWS_DEFAULT_REGION") ? env("AWS_DEFAULT_REGION") : "us-east-1")) == NULL ||
		b->bucket == NULL || b->prefix == NULL || b->r.h == NULL)
	{
		store__errbuf(errbuf, "out of memory");
		rc = TIDE_ENOMEM;
		goto out;
	}
	b->region_from = env("AWS_REGION") ? "AWS_REGION" : env("AWS_DEFAULT_REGION") ? "AWS_DEFAULT_REGION" : "the default";
	if ((ak == NULL) != (sk == NULL))
	{
		store__errbuf(errbuf, "%s is set but %s is not: set both for store \"%s\", or neither for a public bucket",
					  ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
					  ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID", s->url);
		rc = -ENOKEY;
		goto out;
	}
	if (ak)
	{
		b->access_key = strdup(ak);
		b->secret_key = strdup(sk);
		if (env("AWS_SESSION_TOKEN"))
			b->token = strdup(env("AWS_SESSION_TOKEN"));
		if (b->access_key == NULL || b->secret_key == NULL || (env("AWS_SESSION_TOKEN") && b->token == NULL))
		{
			store__errbuf(errbuf, "out of memory");
			rc = TIDE_ENOMEM;
			goto out;
		}
	}
	if (endpoint)
	{
		const char *hp = strstr(endpoint, "://");
		size_t		n = strlen(endpoint);

		if (hp == NULL || (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0))
		{
			store__errbuf(errbuf, "invalid S3 endpoint \"%s\" (from AWS_ENDPOINT_URL): use http://HOST[:PORT] or https://HOST[:PORT]",
						  endpoint);
			rc = -EINVAL;
			goto out;
		}
		while (n > 0 && endpoint[n - 1] == '/')
			n--;
		hp += 3;
		if (memchr(hp, '/', n - (size_t) (hp - endpoint)) != NULL || strchr(hp, '@') != NULL)
		{
			store__errbuf(errbuf, "invalid S3 endpoint \"%s\" (from AWS_ENDPOINT_URL): give only a scheme, host and port",
						  endpoint);
			rc = -EINVAL;
			goto out;
		}
		b->scheme_host = strndup(endpoint, n);
		b->host = strndup(hp, n - (size_t) (hp - endpoint));
		b->path_style = true;
	}
	else
	{
		b->path_style = strchr(b->bucket, '.') != NULL;
		if (b->path_style)
		{
			if (asprintf(&b->host, "s3.%s.amazonaws.com", b->region) < 0)
				b->host = NULL;
		}
		else if (asprintf(&b->host, "%s.s3.%s.amazonaws.com", b->bucket, b->region) < 0)
			b->host = NULL;
		if (b->host && asprintf(&b->scheme_host, "https://%s", b->host) < 0)
			b->scheme_host = NULL;
	}
	if (b->host == NULL || b->scheme_host == NULL)
	{
		store__errbuf(errbuf, "out of memory");
		rc = TIDE_ENOMEM;
		goto out;
	}
	b->list_page = s->opts.list_page;
out:
	if (rc != 0)
	{
		s3_close(s);
		s->be = NULL;
	}
	return rc;
}
