/*
 * store/src/sigv4.c
 *		AWS Signature Version 4: canonical request, string to sign,
 *		signing key, signature.
 *
 * Written from AWS's description of the algorithm ("Create a signed AWS
 * API request"), on OpenSSL: libcurl 7.88's CURLOPT_AWS_SIGV4 neither
 * sorts nor encodes the query string and wants x-amz-content-sha256
 * supplied, so it cannot sign ListObjectsV2 with a continuation token.
 * The secret key only ever goes into HMAC; nothing here keeps it.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "internal.h"
#include "sigv4.h"

/* A growing string; a failed allocation sticks (oom) and is checked once. */
typedef struct
{
	char	   *p;
	size_t		len;
	size_t		cap;
	bool		oom;
} sb_t;

static void
sb_add(sb_t *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 256;
		char	   *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL)
		{
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_str(sb_t *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

void
store__sha256_hex(const void *p, size_t n, char *hex)
{
	unsigned char md[32];

	EVP_Digest(p, n, md, NULL, EVP_sha256(), NULL);
	store__hex(md, 32, hex);
}

static void
hmac(const unsigned char *key, size_t klen, const char *msg, unsigned char out[32])
{
	unsigned int n = 32;

	HMAC(EVP_sha256(), key, (int) klen, (const unsigned char *) msg, strlen(msg), out, &n);
}

/* One query parameter, encoded. */
typedef struct
{
	char	   *k;
	char	   *v;
} qp_t;

static int
qp_cmp(const void *a, const void *b)
{
	const qp_t *x = a;
	const qp_t *y = b;
	int			c = strcmp(x->k, y->k);

	return c ? c : strcmp(x->v, y->v);
}

/* One header: lower-case name, trimmed and folded value. */
typedef struct
{
	char	   *name;
	sb_t		value;
	size_t		order;
} hd_t;

static int
hd_cmp(const void *a, const void *b)
{
	const hd_t *x = a;
	const hd_t *y = b;
	int			c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* fold - value trimmed, inner runs of blanks (and line folds) as one space */
static void
fold(sb_t *b, const char *v)
{
	bool		space = false;
	bool		any = false;

	for (; *v; v++)
	{
		if (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
		{
			space = any;
			continue;
		}
		if (space)
			sb_add(b, " ", 1);
		space = false;
		any = true;
		sb_add(b, v, 1);
	}
	if (!any)
		sb_add(b, "", 0);
}

int
store__sigv4_sign(const store__sigv4_req_t *r, store__sigv4_t *out)
{
	sb_t		cr = {0};
	sb_t		sts = {0};
	sb_t		sh = {0};
	sb_t		au = {0};
	sb_t		key = {0};
	qp_t	   *q = NULL;
	hd_t	   *h = NULL;
	size_t		nh = 0;
	char	   *path = NULL;
	char		hash[65];
	char		date[9];
	unsigned char k1[32];
	unsigned char k2[32];
	bool		oom = false;

	memset(out, 0, sizeof(*out));
	snprintf(date, sizeof(date), "%.8s", r->amz_date);

	/* method, path */
	sb_str(&cr, r->method);
	sb_add(&cr, "\n", 1);
	if ((path = store__uri_encode(r->path[0] ? r->path : "/", true)) == NULL)
		oom = true;
	else
		sb_str(&cr, path);
	sb_add(&cr, "\n", 1);

	/* query: every name and value encoded, sorted by name then value */
	if (r->nquery && (q = calloc(r->nquery, sizeof(*q))) == NULL)
		oom = true;
	for (size_t i = 0; q && i < r->nquery; i++)
	{
		q[i].k = store__uri_encode(r->query[i].name, false);
		q[i].v = store__uri_encode(r->query[i].value ? r->query[i].value : "", false);
		if (q[i].k == NULL || q[i].v == NULL)
			oom = true;
	}
	if (q && !oom)
	{
		qsort(q, r->nquery, sizeof(*q), qp_cmp);
		for (size_t i = 0; i < r->nquery; i++)
		{
			if (i)
				sb_add(&cr, "&", 1);
			sb_str(&cr, q[i].k);
			sb_add(&cr, "=", 1);
			sb_str(&cr, q[i].v);
		}
	}
	sb_add(&cr, "\n", 1);

	/* headers: lower-case names, sorted; duplicates joined in order */
	if (r->nheaders && (h = calloc(r->nheaders, sizeof(*h))) == NULL)
		oom = true;
	for (size_t i = 0; h && i < r->nheaders; i++)
	{
		if ((h[i].name = strdup(r->headers[i].name)) == NULL)
		{
			oom = true;
			break;
		}
		for (char *c = h[i].name; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char) (*c - 'A' + 'a');
		fold(&h[i].value, r->headers[i].value);
		h[i].order = i;
		nh = i + 1;
	}
	if (h && !oom)
	{
		qsort(h, nh, sizeof(*h), hd_cmp);
		for (size_t i = 0; i < nh; i++)
		{
			bool		dup = i > 0 && strcmp(h[i].name, h[i - 1].name) == 0;

			if (dup)
			{
				sb_add(&cr, ",", 1);
				sb_add(&cr, h[i].value.p ? h[i].value.p : "", h[i].value.len);
				continue;
			}
			if (i)
				sb_add(&cr, "\n", 1);
			sb_str(&cr, h[i].name);
			sb_add(&cr, ":", 1);
			sb_add(&cr, h[i].value.p ? h[i].value.p : "", h[i].value.len);
			if (sh.len)
				sb_add(&sh, ";", 1);
			sb_str(&sh, h[i].name);
		}
	}
	sb_add(&cr, "\n\n", 2);
	sb_str(&cr, sh.p ? sh.p : "");
	sb_add(&cr, "\n", 1);
	sb_str(&cr, r->payload_hash);

	/* string to sign */
	if (!cr.oom && cr.p)
		store__sha256_hex(cr.p, cr.len, hash);
	else
		hash[0] = '\0';
	sb_str(&sts, "AWS4-HMAC-SHA256\n");
	sb_str(&sts, r->amz_date);
	sb_add(&sts, "\n", 1);
	sb_str(&sts, date);
	sb_add(&sts, "/", 1);
	sb_str(&sts, r->region);
	sb_add(&sts, "/", 1);
	sb_str(&sts, r->service);
	sb_str(&sts, "/aws4_request\n");
	sb_str(&sts, hash);

	/* signing key: HMAC chain over date, region, service, "aws4_request" */
	sb_str(&key, "AWS4");
	sb_str(&key, r->secret_key);
	if (!key.oom && !sts.oom && key.p && sts.p)
	{
		hmac((unsigned char *) key.p, key.len, date, k1);
		hmac(k1, 32, r->region, k2);
		hmac(k2, 32, r->service, k1);
		hmac(k1, 32, "aws4_request", k2);
		hmac(k2, 32, sts.p, k1);
		store__hex(k1, 32, out->signature);
	}
	if (key.p)
		OPENSSL_cleanse(key.p, key.cap);
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(k2, sizeof(k2));
	free(key.p);

	sb_str(&au, "AWS4-HMAC-SHA256 Credential=");
	sb_str(&au, r->access_key);
	sb_add(&au, "/", 1);
	sb_str(&au, date);
	sb_add(&au, "/", 1);
	sb_str(&au, r->region);
	sb_add(&au, "/", 1);
	sb_str(&au, r->service);
	sb_str(&au, "/aws4_request, SignedHeaders=");
	sb_str(&au, sh.p ? sh.p : "");
	sb_str(&au, ", Signature=");
	sb_str(&au, out->signature);

	for (size_t i = 0; q && i < r->nquery; i++)
	{
		free(q[i].k);
		free(q[i].v);
	}
	free(q);
	for (size_t i = 0; h && i < r->nheaders; i++)
	{
		free(h[i].name);
		free(h[i].value.p);
	}
	free(h);
	free(path);

	out->canonical = cr.p;
	out->string_to_sign = sts.p;
	out->signed_headers = sh.p;
	out->authorization = au.p;
	if (oom || cr.oom || sts.oom || sh.oom || au.oom || out->signature[0] == '\0')
	{
		store__sigv4_free(out);
		return TIDE_ENOMEM;
	}
	return 0;
}

void
store__sigv4_free(store__sigv4_t *out)
{
	free(out->canonical);
	free(out->string_to_sign);
	free(out->signed_headers);
	free(out->authorization);
	memset(out, 0, sizeof(*out));
}
