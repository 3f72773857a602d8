/*
 * store/src/sigv4.h
 *		AWS Signature Version 4 (header form), on OpenSSL's SHA-256 and
 *		HMAC-SHA256.  Internal to store/; tested against AWS's published
 *		test suite (tests/unit/test_sigv4.c).
 */
#ifndef TIDE_STORE_SIGV4_H
#define TIDE_STORE_SIGV4_H

#include <stddef.h>

typedef struct
{
	const char *name;
	const char *value;
} store__kv_t;

typedef struct
{
	const char *method;
	/*
	 * The path as an object store names it, not encoded: each byte but
	 * the unreserved ones and '/' is percent-encoded here, once, and the
	 * path is not normalized (S3's rules: "a/./b" and "a//b" are keys of
	 * their own).
	 */
	const char *path;
	const store__kv_t *query;	/* raw (decoded) names and values */
	size_t		nquery;
	/*
	 * Every header to sign, as sent: names in any case, values are
	 * trimmed and their inner runs of blanks folded to one space here;
	 * a name given twice is signed as one header with the values joined
	 * by commas, in the order given.  Must include host and x-amz-date
	 * (and x-amz-content-sha256, x-amz-security-token where used).
	 */
	const store__kv_t *headers;
	size_t		nheaders;
	const char *payload_hash;	/* hex SHA-256 of the body, or
								 * "UNSIGNED-PAYLOAD" */
	const char *amz_date;		/* YYYYMMDDTHHMMSSZ, as in x-amz-date */
	const char *region;
	const char *service;		/* "s3" */
	const char *access_key;
	const char *secret_key;
} store__sigv4_req_t;

typedef struct
{
	char	   *canonical;		/* owned: the canonical request */
	char	   *string_to_sign; /* owned */
	char	   *signed_headers; /* owned: "host;x-amz-date" */
	char		signature[65];
	char	   *authorization;	/* owned: the Authorization header's value */
} store__sigv4_t;

/* store__sigv4_sign - 0, or TIDE_ENOMEM (out is then empty). */
int			store__sigv4_sign(const store__sigv4_req_t *r, store__sigv4_t *out);
void		store__sigv4_free(store__sigv4_t *out);

/* store__sha256_hex - hex SHA-256 of n bytes into hex (65 bytes). */
void		store__sha256_hex(const void *p, size_t n, char *hex);

#endif /* TIDE_STORE_SIGV4_H */
