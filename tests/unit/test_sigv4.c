/*
 * tests/unit/test_sigv4.c
 *		store/'s SigV4 signer against AWS's published test suite
 *		(tests/unit/sigv4/, see its README): canonical request, string to
 *		sign and signature, byte for byte, for every case there.
 *
 * Each case's request.txt is read as an HTTP request: the request line's
 * path and query (percent-decoded: the signer encodes), the headers (a
 * folded line continues the header before it), a body after a blank line.
 * The signer gets them as store/'s S3 code gives them: every header to
 * sign, x-amz-date from the context's time, x-amz-content-sha256 when the
 * context signs the body, x-amz-security-token unless the context adds it
 * after signing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../store/src/sigv4.h"

#ifndef SIGV4_DIR
#define SIGV4_DIR "unit/sigv4"
#endif

static const char *const cases[] = {
	"get-vanilla", "get-vanilla-query", "get-vanilla-empty-query-key",
	"get-vanilla-query-order-encoded", "get-vanilla-query-order-key-case",
	"get-vanilla-query-unreserved", "get-vanilla-utf8-query",
	"get-vanilla-with-session-token", "get-header-key-duplicate",
	"get-header-value-multiline", "get-header-value-order",
	"get-header-value-trim", "get-unreserved", "get-utf8",
	"get-space-unnormalized", "get-slashes-unnormalized",
	"get-slash-unnormalized", "get-slash-dot-slash-unnormalized",
	"get-relative-unnormalized", "get-relative-relative-unnormalized",
	"get-slash-pointless-dot-unnormalized", "post-header-key-case",
	"post-header-key-sort", "post-header-value-case",
	"post-sts-header-after", "post-sts-header-before", "post-vanilla",
	"post-vanilla-empty-query-value", "post-vanilla-query",
	"post-x-www-form-urlencoded", "post-x-www-form-urlencoded-parameters",
};

static char *
slurp(const char *name, const char *file, size_t *len)
{
	char		path[512];
	FILE	   *f;
	char	   *buf;
	long		n;

	snprintf(path, sizeof(path), "%s/%s/%s", SIGV4_DIR, name, file);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t) n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t) n, f), (size_t) n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t) n;
	return buf;
}

/* pct_decode - in place */
static void
pct_decode(char *s)
{
	char	   *o = s;

	for (; *s; s++)
	{
		unsigned	v;

		if (*s == '%' && sscanf(s + 1, "%2x", &v) == 1)
		{
			*o++ = (char) v;
			s += 2;
		}
		else
			*o++ = *s;
	}
	*o = '\0';
}

typedef struct
{
	char	   *text;			/* owned: request.txt, cut up in place */
	char	   *method;
	char	   *path;
	store__kv_t query[16];
	size_t		nquery;
	store__kv_t hdr[24];
	char	   *hdrbuf[24];		/* owned: folded values */
	size_t		nhdr;
	const char *body;
	size_t		body_len;
} req_t;

static void
parse_request(const char *name, req_t *r)
{
	size_t		len;
	char	   *p;
	char	   *line;
	char	   *q;

	memset(r, 0, sizeof(*r));
	r->text = slurp(name, "request.txt", &len);
	p = r->text;

	/* request line */
	line = p;
	p = strchr(p, '\n');
	assert_non_null(p);
	*p++ = '\0';
	r->method = line;
	line = strchr(line, ' ');
	*line++ = '\0';
	r->path = line;
	*strrchr(line, ' ') = '\0';	/* " HTTP/1.1" */
	if ((q = strchr(r->path, '?')) != NULL)
	{
		*q++ = '\0';
		while (q && *q)
		{
			char	   *amp = strchr(q, '&');
			char	   *eq;

			if (amp)
				*amp++ = '\0';
			eq = strchr(q, '=');
			if (eq)
				*eq++ = '\0';
			pct_decode(q);
			if (eq)
				pct_decode(eq);
			r->query[r->nquery].name = q;
			r->query[r->nquery].value = eq ? eq : "";
			r->nquery++;
			q = amp;
		}
	}
	pct_decode(r->path);

	/* headers, until a blank line or the end */
	while (*p && *p != '\n')
	{
		char	   *nl = strchr(p, '\n');
		char	   *colon;

		line = p;
		if (nl)
		{
			*nl = '\0';
			p = nl + 1;
		}
		else
			p += strlen(p);
		if (line[0] == ' ' || line[0] == '\t')
		{
			/* a folded line continues the header before it */
			char	   *prev = r->hdrbuf[r->nhdr - 1];
			char	   *grown = malloc(strlen(prev) + strlen(line) + 2);

			sprintf(grown, "%s %s", prev, line);
			free(prev);
			r->hdrbuf[r->nhdr - 1] = grown;
			r->hdr[r->nhdr - 1].value = grown;
			continue;
		}
		colon = strchr(line, ':');
		assert_non_null(colon);
		*colon = '\0';
		r->hdrbuf[r->nhdr] = strdup(colon + 1);
		r->hdr[r->nhdr].name = line;
		r->hdr[r->nhdr].value = r->hdrbuf[r->nhdr];
		r->nhdr++;
	}
	if (*p == '\n')
		p++;
	r->body = p;
	r->body_len = strlen(p);
}

static void
free_request(req_t *r)
{
	for (size_t i = 0; i < r->nhdr; i++)
		free(r->hdrbuf[i]);
	free(r->text);
}

static void
add_header(req_t *r, const char *name, const char *value)
{
	r->hdrbuf[r->nhdr] = strdup(value);
	r->hdr[r->nhdr].name = name;
	r->hdr[r->nhdr].value = r->hdrbuf[r->nhdr];
	r->nhdr++;
}

static void
run_case(const char *name, store__sigv4_t *out, req_t *r)
{
	size_t		clen;
	char	   *ctx = slurp(name, "context.json", &clen);
	json_error_t je;
	json_t	   *c = json_loadb(ctx, clen, 0, &je);
	json_t	   *cred;
	const char *ts;
	const char *token;
	char		date[17];
	char		body_hash[65];
	store__sigv4_req_t req;

	assert_non_null(c);
	cred = json_object_get(c, "credentials");
	ts = json_string_value(json_object_get(c, "timestamp"));
	/* 2015-08-30T12:36:00Z -> 20150830T123600Z */
	snprintf(date, sizeof(date), "%.4s%.2s%.2sT%.2s%.2s%.2sZ", ts, ts + 5, ts + 8, ts + 11,
			 ts + 14, ts + 17);
	parse_request(name, r);
	store__sha256_hex(r->body, r->body_len, body_hash);
	add_header(r, "X-Amz-Date", date);
	if (json_is_true(json_object_get(c, "sign_body")))
		add_header(r, "x-amz-content-sha256", body_hash);
	token = json_string_value(json_object_get(cred, "token"));
	if (token && !json_is_true(json_object_get(c, "omit_session_token")))
		add_header(r, "X-Amz-Security-Token", token);

	memset(&req, 0, sizeof(req));
	req.method = r->method;
	req.path = r->path;
	req.query = r->query;
	req.nquery = r->nquery;
	req.headers = r->hdr;
	req.nheaders = r->nhdr;
	req.payload_hash = body_hash;
	req.amz_date = date;
	req.region = json_string_value(json_object_get(c, "region"));
	req.service = json_string_value(json_object_get(c, "service"));
	req.access_key = json_string_value(json_object_get(cred, "access_key_id"));
	req.secret_key = json_string_value(json_object_get(cred, "secret_access_key"));
	assert_int_equal(store__sigv4_sign(&req, out), 0);
	json_decref(c);
	free(ctx);
}

static void
test_vectors(void **state)
{
	(void) state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		store__sigv4_t out;
		req_t		r;
		char	   *canon = slurp(cases[i], "header-canonical-request.txt", NULL);
		char	   *sts = slurp(cases[i], "header-string-to-sign.txt", NULL);
		char	   *sig = slurp(cases[i], "header-signature.txt", NULL);

		run_case(cases[i], &out, &r);
		if (strcmp(out.canonical, canon) != 0)
			fail_msg("%s: canonical request differs:\n--- expected\n%s\n--- got\n%s", cases[i], canon, out.canonical);
		if (strcmp(out.string_to_sign, sts) != 0)
			fail_msg("%s: string to sign differs:\n--- expected\n%s\n--- got\n%s", cases[i], sts, out.string_to_sign);
		if (strcmp(out.signature, sig) != 0)
			fail_msg("%s: signature %s, expected %s", cases[i], out.signature, sig);
		print_message("ok %s\n", cases[i]);
		store__sigv4_free(&out);
		free_request(&r);
		free(canon);
		free(sts);
		free(sig);
	}
}

/* The Authorization header as the suite's signed request carries it. */
static void
test_authorization(void **state)
{
	store__sigv4_t out;
	req_t		r;
	char	   *signed_req = slurp("get-vanilla", "header-signed-request.txt", NULL);

	(void) state;
	run_case("get-vanilla", &out, &r);
	assert_non_null(strstr(signed_req, out.authorization));
	assert_string_equal(out.authorization,
						"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
						"SignedHeaders=host;x-amz-date, "
						"Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	store__sigv4_free(&out);
	free_request(&r);
	free(signed_req);
}

/* A different secret, a different signature: the test can fail. */
static void
test_wrong_secret(void **state)
{
	store__kv_t h[] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
	store__sigv4_req_t req = {
		.method = "GET", .path = "/", .headers = h, .nheaders = 2,
		.payload_hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		.amz_date = "20150830T123600Z", .region = "us-east-1", .service = "service",
		.access_key = "AKIDEXAMPLE", .secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEz",
	};
	store__sigv4_t out;

	(void) state;
	assert_int_equal(store__sigv4_sign(&req, &out), 0);
	assert_string_not_equal(out.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	/* the secret itself appears in nothing the signer returns */
	assert_null(strstr(out.canonical, "EXAMPLEKEY"));
	assert_null(strstr(out.string_to_sign, "EXAMPLEKEY"));
	assert_null(strstr(out.authorization, "EXAMPLEKE"));
	store__sigv4_free(&out);
}

/* S3 keys: one encoding, '/' kept, nothing normalized. */
static void
test_s3_key_path(void **state)
{
	store__kv_t h[] = {{"host", "b.s3.amazonaws.com"}, {"x-amz-date", "20260101T000000Z"}};
	store__kv_t q[] = {{"prefix", "seg/2026 01/"}, {"list-type", "2"}, {"continuation-token", "a+b/c=="}};
	store__sigv4_req_t req = {
		.method = "GET", .path = "/bucket/a b/./c~d+e%f", .query = q, .nquery = 3,
		.headers = h, .nheaders = 2, .payload_hash = "UNSIGNED-PAYLOAD",
		.amz_date = "20260101T000000Z", .region = "eu-west-1", .service = "s3",
		.access_key = "AK", .secret_key = "SK",
	};
	store__sigv4_t out;

	(void) state;
	assert_int_equal(store__sigv4_sign(&req, &out), 0);
	assert_string_equal(out.canonical,
						"GET\n"
						"/bucket/a%20b/./c~d%2Be%25f\n"
						"continuation-token=a%2Bb%2Fc%3D%3D&list-type=2&prefix=seg%2F2026%2001%2F\n"
						"host:b.s3.amazonaws.com\n"
						"x-amz-date:20260101T000000Z\n"
						"\n"
						"host;x-amz-date\n"
						"UNSIGNED-PAYLOAD");
	assert_string_equal(out.signed_headers, "host;x-amz-date");
	store__sigv4_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_authorization),
		cmocka_unit_test(test_wrong_secret),
		cmocka_unit_test(test_s3_key_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
