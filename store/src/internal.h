/*
 * store/src/internal.h
 *		What the backends of store/ share: the handle, the backend table,
 *		and the helpers every backend uses (messages, names, retries).
 *
 * Internal symbols are prefixed store__ (libuv's uv__ convention).
 */
#ifndef TIDE_STORE_INTERNAL_H
#define TIDE_STORE_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "tide/common.h"
#include "tide/store.h"

typedef struct
{
	int			(*list) (store_t *s, const char *prefix, store_list_t *out);
	int			(*head) (store_t *s, const char *name, store_object_t *out);
	int			(*read) (store_t *s, const char *name, uint64_t offset, size_t len,
						 void *buf, size_t *got);
	int			(*get) (store_t *s, const char *name, const char *path,
						const store_get_opts_t *o, store_get_result_t *r);
	/* create_only: store_put's rule; else store_replace */
	int			(*put) (store_t *s, const char *name, const char *path,
						const char *sha256, bool create_only, store_put_result_t *r);
	int			(*del) (store_t *s, const char *name);
	void		(*close) (store_t *s);
} store__ops_t;

struct store_s
{
	store_kind_t kind;
	const store__ops_t *ops;
	char	   *url;			/* owned: as described in messages */
	store_opts_t opts;			/* defaults filled in */
	char		err[STORE_ERRLEN];
	void	   *be;				/* owned by the backend: its state */
};

/* store__fail - set s's message (printf-style) and return code. */
int			store__fail(store_t *s, int code, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

/* store__errbuf - snprintf into an optional STORE_ERRLEN buffer. */
void		store__errbuf(char *errbuf, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

/* store__name_ok - a relative name without "..", "." or empty components,
 * leading '/', control characters or backslashes. */
bool		store__name_ok(const char *name);

/* store__hex - bytes as lower-case hex into out (2n + 1 bytes). */
void		store__hex(const unsigned char *p, size_t n, char *out);

/* store__retry_wait - sleep before attempt (1, 2, ...): full jitter over
 * min(max, base * 2^(attempt-1)). */
void		store__retry_wait(const store_t *s, int attempt);

/*
 * Streaming SHA-256 (OpenSSL's EVP): store__sha_new returns NULL on out of
 * memory; store__sha_hex finishes into hex and frees.
 */
EVP_MD_CTX *store__sha_new(void);
void		store__sha_hex(EVP_MD_CTX *c, char hex[STORE_SHA256_HEX]);


/* ------------------------------------------------------------- HTTP */

#include <curl/curl.h>

/* One request of a remote backend, before the backend turns it into a URL
 * and headers (and, for S3, signs it). */
typedef struct
{
	const char *method;			/* GET, HEAD, PUT, DELETE */
	const char *name;			/* object name; NULL: the bucket (S3 list) */
	const char *query[8];		/* S3: raw name/value pairs, alternating */
	int			nquery;			/* entries in query (pairs * 2) */
	const char *hdr[8];			/* extra headers "Name: value" */
	int			nhdr;
	const char *payload_sha;	/* PUT: hex SHA-256 of the body */
	int			upload_fd;		/* PUT: the body, from offset 0; else -1 */
	uint64_t	upload_size;
} store__call_t;

typedef enum
{
	STORE__SINK_NONE,			/* HEAD, DELETE, PUT */
	STORE__SINK_MEM,			/* bodies of lists and ranged reads */
	STORE__SINK_FILE			/* a download (see http.c) */
} store__sink_kind_t;

/* What one attempt brought back. */
typedef struct
{
	long		status;			/* 0: no HTTP answer */
	char		etag[STORE_ETAG_MAX];
	char		sha256[STORE_SHA256_HEX];	/* x-amz-meta-tide-sha256 */
	int64_t		content_length; /* -1: none */
	int64_t		range_start;	/* Content-Range: bytes START-END/TOTAL */
	int64_t		range_total;	/* -1: none */
	int64_t		mtime;			/* Last-Modified, Unix seconds, 0: none */
	char	   *body;			/* owned: a memory sink's bytes, or an
								 * error answer's first 64 kB */
	size_t		body_len;
} store__resp_t;

/*
 * The part of a remote backend's state the shared code uses; S3's state
 * begins with it.
 */
typedef struct
{
	CURL	   *h;
	char		curl_err[CURL_ERROR_SIZE];
	const char *what;			/* "web server", "S3" */
	/* the request's URL (malloc'd) and headers, signed if need be */
	int			(*build) (store_t *s, const store__call_t *c, char **url,
						  struct curl_slist **hdrs);
	/* " in bucket \"b\"" and the like, for messages */
	void		(*where) (store_t *s, char *buf, size_t len);
	/* a note on the credentials for a refused request, or "" */
	void		(*cred_note) (store_t *s, char *buf, size_t len);
} store__remote_t;

void		store__remote_init(store__remote_t *r);
void		store__remote_cleanup(store__remote_t *r);

/*
 * store__http_call - c with retries; the answer's body kept in memory up
 * to max_body bytes (more is an error).  0 with *resp filled for any final
 * HTTP status (the caller judges it; store__http_fail words a failure), or
 * a negative code (message set) when no answer came after the retries.
 * store__resp_free frees resp->body.
 */
int			store__http_call(store_t *s, const store__call_t *c, size_t max_body,
							 store__resp_t *resp);
void		store__resp_free(store__resp_t *resp);

/* store__http_fail - the code and message for an unexpected status. */
int			store__http_fail(store_t *s, const store__call_t *c, const store__resp_t *r);

/* Shared operations of the remote backends. */
int			store__remote_head(store_t *s, const char *name, store_object_t *out);
int			store__remote_read(store_t *s, const char *name, uint64_t offset,
							   size_t len, void *buf, size_t *got);
int			store__remote_get(store_t *s, const char *name, const char *path,
							  const store_get_opts_t *o, store_get_result_t *r);

/*
 * store__uri_encode - RFC 3986 percent-encoding of everything but the
 * unreserved characters (and '/' if keep_slash), as SigV4 wants it.
 * Returns a malloc'd string or NULL.
 */
char	   *store__uri_encode(const char *in, bool keep_slash);

/* store__xml_error - Code and Message of an S3 <Error> body, if it is one */
bool		store__xml_error(const char *body, size_t len, char *code, size_t clen,
							 char *msg, size_t mlen);

/* store__local_list_top - a local store's objects directly under its root */
int			store__local_list_top(store_t *s, store_list_t *out);

/* store__base_name_ok - n[0:len] is a base's name, YYYYMMDDTHHMMSSZ */
bool		store__base_name_ok(const char *n, size_t len);

/* Backends: fill s->ops and s->be from the URL's remainder. */
int			store__local_open(store_t *s, const char *path, char *errbuf);
int			store__http_open(store_t *s, const char *url, char *errbuf);
int			store__s3_open(store_t *s, const char *bucket_and_prefix, char *errbuf);

#endif /* TIDE_STORE_INTERNAL_H */
