/*
 * tests/unit/test_store_s3.c
 *		The request bytes store/ sends to S3 and how it reads the answers,
 *		against a scripted fake server on loopback (as pgBackRest's tests
 *		do): what s3rver does not check — the payload hash header,
 *		If-None-Match on create, query order and encoding, the signature
 *		over exactly the headers sent — and the answers a real S3 gives
 *		that s3rver does not (412, 503 then success, a connection cut in
 *		the middle of a body, If-Range answered with the whole object).
 *
 * The server is a thread: it answers each request, in order, with the
 * next canned response of the script and records the request bytes; a
 * response may end the connection early (a truncated body).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tide/store.h"
#include "../../store/src/sigv4.h"

#define SECRET "fake/Secret+Key=ShouldNeverShow"
#define MAXREQ 16

typedef struct
{
	const char *response;		/* raw bytes: status line, headers, body */
	bool		close_after;	/* cut the connection after sending */
} step_t;

static struct
{
	int			listen_fd;
	int			port;
	pthread_t	thread;
	const step_t *script;
	int			nsteps;
	int			next;
	char	   *req[MAXREQ];	/* owned: requests as received */
	size_t		req_len[MAXREQ];
	int			nreq;
	bool		stop;
} srv;

/* read_request - one whole request (headers, Content-Length body) or NULL */
static char *
read_request(int fd, size_t *len)
{
	size_t		cap = 4096;
	size_t		n = 0;
	char	   *buf = malloc(cap + 1);
	char	   *end = NULL;
	size_t		want = SIZE_MAX;

	while (buf)
	{
		struct pollfd p = {fd, POLLIN, 0};
		ssize_t		r;

		if (n == want)
			break;
		if (poll(&p, 1, 5000) <= 0)
			break;
		if (n == cap && (buf = realloc(buf, (cap *= 2) + 1)) == NULL)
			break;
		r = recv(fd, buf + n, cap - n, 0);
		if (r <= 0)
			break;
		n += (size_t) r;
		buf[n] = '\0';
		if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL)
		{
			char	   *cl = strcasestr(buf, "\r\nContent-Length:");

			want = (size_t) (end - buf) + 4;
			if (cl && cl < end)
				want += strtoul(cl + 17, NULL, 10);
		}
	}
	if (buf == NULL || n == 0 || n < want)
	{
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

/* send_response - "Content-Length: *" becomes the body's real length */
static ssize_t
send_response(int c, const char *resp)
{
	const char *star = strstr(resp, "Content-Length: *\r\n");
	const char *body = strstr(resp, "\r\n\r\n");
	char		buf[8192];

	if (star == NULL || body == NULL)
		return send(c, resp, strlen(resp), MSG_NOSIGNAL);
	snprintf(buf, sizeof(buf), "%.*sContent-Length: %zu%s", (int) (star - resp), resp,
			 strlen(body + 4), star + 17);
	return send(c, buf, strlen(buf), MSG_NOSIGNAL);
}

static void *
serve(void *arg)
{
	(void) arg;
	while (!srv.stop && srv.next < srv.nsteps)
	{
		struct pollfd p = {srv.listen_fd, POLLIN, 0};
		int			c;

		if (poll(&p, 1, 200) <= 0)
			continue;
		if ((c = accept(srv.listen_fd, NULL, NULL)) < 0)
			continue;
		while (srv.next < srv.nsteps)
		{
			size_t		len;
			char	   *req = read_request(c, &len);
			const step_t *st;

			if (req == NULL)
				break;
			if (srv.nreq < MAXREQ)
			{
				srv.req[srv.nreq] = req;
				srv.req_len[srv.nreq++] = len;
			}
			else
				free(req);
			st = &srv.script[srv.next++];
			if (send_response(c, st->response) < 0 || st->close_after)
				break;
		}
		close(c);
	}
	return NULL;
}

static void
server_start(const step_t *script, int nsteps)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t	alen = sizeof(a);
	char		url[64];
	int			one = 1;

	memset(&srv, 0, sizeof(srv));
	srv.script = script;
	srv.nsteps = nsteps;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(srv.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(srv.listen_fd, (struct sockaddr *) &a, sizeof(a)), 0);
	assert_int_equal(listen(srv.listen_fd, 8), 0);
	getsockname(srv.listen_fd, (struct sockaddr *) &a, &alen);
	srv.port = ntohs(a.sin_port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv.port);
	setenv("AWS_ENDPOINT_URL", url, 1);
	assert_int_equal(pthread_create(&srv.thread, NULL, serve, NULL), 0);
}

/* server_stop - wait for the script to be used up; the number of requests */
static int
server_stop(void)
{
	srv.stop = true;
	pthread_join(srv.thread, NULL);
	close(srv.listen_fd);
	return srv.nreq;
}

static void
server_free(void)
{
	for (int i = 0; i < srv.nreq; i++)
		free(srv.req[i]);
	srv.nreq = 0;
}

/* header - the value of a header in request i, or NULL (static buffer) */
static const char *
header(int i, const char *name)
{
	static char v[2048];
	char		pat[128];
	const char *p;
	const char *end = strstr(srv.req[i], "\r\n\r\n");

	snprintf(pat, sizeof(pat), "\r\n%s:", name);
	if (i >= srv.nreq || (p = strcasestr(srv.req[i], pat)) == NULL || p > end)
		return NULL;
	p += strlen(pat);
	p += strspn(p, " ");
	snprintf(v, sizeof(v), "%.*s", (int) strcspn(p, "\r"), p);
	return v;
}

static bool
starts(int i, const char *prefix)
{
	if (i >= srv.nreq)
		return false;
	return strncmp(srv.req[i], prefix, strlen(prefix)) == 0;
}

static const char *
body(int i)
{
	return strstr(srv.req[i], "\r\n\r\n") + 4;
}

static void
clean_get(void)
{
	unlink("store_s3_get.tmp");
	unlink("store_s3_get.tmp.part");
	unlink("store_s3_get.tmp.part.etag");
}

static store_t *
open_store(void)
{
	store_opts_t o = {.retries = 3, .retry_base_ms = 1, .retry_max_ms = 5};
	store_t    *s = NULL;
	char		err[STORE_ERRLEN];

	setenv("AWS_ACCESS_KEY_ID", "AKIDFAKE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
	setenv("AWS_REGION", "eu-central-1", 1);
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_ENDPOINT_URL_S3");
	if (store_open("s3://bucket/pfx", &o, &s, err) != 0)
		fail_msg("store_open: %s", err);
	return s;
}

static void
write_file(const char *path, const char *text)
{
	FILE	   *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *
read_file(const char *path)
{
	static char buf[4096];
	FILE	   *f = fopen(path, "r");
	size_t		n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/*
 * check_signature - recompute the signature of request i from the bytes
 * received, over the headers its Authorization names: what was sent is
 * what was signed.
 */
static void
check_signature(int i)
{
	char		auth[2048];
	char		line[1024];
	char		method[16];
	char		target[900];
	char	   *path;
	char	   *query;
	store__kv_t q[8];
	size_t		nq = 0;
	store__kv_t h[16];
	char		hval[16][1024];
	char		hname[16][64];
	size_t		nh = 0;
	char	   *sh;
	char	   *tok;
	char	   *save;
	store__sigv4_t out;
	char		qbuf[8][2][256];

	snprintf(auth, sizeof(auth), "%s", header(i, "Authorization"));
	assert_non_null(strstr(auth, "AWS4-HMAC-SHA256 Credential=AKIDFAKE/"));
	assert_non_null(strstr(auth, "/eu-central-1/s3/aws4_request"));
	snprintf(line, sizeof(line), "%.*s", (int) strcspn(srv.req[i], "\r"), srv.req[i]);
	assert_int_equal(sscanf(line, "%15s %899s", method, target), 2);
	path = target;
	if ((query = strchr(target, '?')) != NULL)
	{
		*query++ = '\0';
		for (tok = strtok_r(query, "&", &save); tok; tok = strtok_r(NULL, "&", &save))
		{
			char	   *eq = strchr(tok, '=');
			char	   *src[2] = {tok, eq ? eq + 1 : ""};

			if (eq)
				*eq = '\0';
			for (int k = 0; k < 2; k++)
			{
				char	   *o = qbuf[nq][k];

				for (char *c = src[k]; *c; c++)
				{
					unsigned	v;

					if (*c == '%' && sscanf(c + 1, "%2x", &v) == 1)
					{
						*o++ = (char) v;
						c += 2;
					}
					else
						*o++ = *c;
				}
				*o = '\0';
			}
			q[nq].name = qbuf[nq][0];
			q[nq].value = qbuf[nq][1];
			nq++;
		}
	}
	sh = strstr(auth, "SignedHeaders=") + 14;
	sh[strcspn(sh, ",")] = '\0';
	for (tok = strtok_r(sh, ";", &save); tok; tok = strtok_r(NULL, ";", &save))
	{
		const char *v = header(i, tok);

		assert_non_null(v);
		snprintf(hname[nh], sizeof(hname[nh]), "%s", tok);
		snprintf(hval[nh], sizeof(hval[nh]), "%s", v);
		h[nh].name = hname[nh];
		h[nh].value = hval[nh];
		nh++;
	}
	{
		store__sigv4_req_t r = {
			.method = method, .path = path, .query = q, .nquery = nq,
			.headers = h, .nheaders = nh,
			.payload_hash = header(i, "x-amz-content-sha256") ? strdup(header(i, "x-amz-content-sha256")) : NULL,
			.region = "eu-central-1", .service = "s3",
			.access_key = "AKIDFAKE", .secret_key = SECRET,
		};
		char		date[32];

		/* the path arrives encoded; the signer wants it raw */
		for (char *c = path, *o = path; ; c++)
		{
			unsigned	v;

			if (*c == '%' && sscanf(c + 1, "%2x", &v) == 1)
			{
				*o++ = (char) v;
				c += 2;
			}
			else if ((*o++ = *c) == '\0')
				break;
		}
		snprintf(date, sizeof(date), "%s", header(i, "x-amz-date"));
		r.amz_date = date;
		assert_non_null(r.payload_hash);
		assert_int_equal(store__sigv4_sign(&r, &out), 0);
		free((char *) r.payload_hash);
	}
	assert_non_null(strstr(header(i, "Authorization"), out.signature));
	store__sigv4_free(&out);
}

#define FILE_TEXT "segment bytes 0123456789\n"
/* sha256 of FILE_TEXT */
static char file_sha[65];

static int
setup(void **state)
{
	(void) state;
	write_file("store_s3_upload.tmp", FILE_TEXT);
	assert_int_equal(store_sha256_file("store_s3_upload.tmp", file_sha), 0);
	return 0;
}

static int
teardown(void **state)
{
	(void) state;
	unlink("store_s3_upload.tmp");
	unlink("store_s3_get.tmp");
	unlink("store_s3_get.tmp.part");
	unlink("store_s3_get.tmp.part.etag");
	return 0;
}

/* A create-only PUT: HEAD finds nothing, then the signed PUT with its hash. */
static void
test_put_create(void **state)
{
	static const step_t script[] = {
		{"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", false},
		{"HTTP/1.1 200 OK\r\nETag: \"abc\"\r\nContent-Length: 0\r\n\r\n", false},
	};
	store_put_result_t r;
	store_t    *s;

	(void) state;
	server_start(script, 2);
	s = open_store();
	assert_int_equal(store_put(s, "20261120T130000Z_0000000001000000.tseg", "store_s3_upload.tmp", NULL, &r), 0);
	store_close(s);
	assert_int_equal(server_stop(), 2);
	assert_false(r.existed);
	assert_string_equal(r.sha256, file_sha);

	assert_true(starts(0, "HEAD /bucket/pfx/20261120T130000Z_0000000001000000.tseg HTTP/1.1\r\n"));
	check_signature(0);
	assert_true(starts(1, "PUT /bucket/pfx/20261120T130000Z_0000000001000000.tseg HTTP/1.1\r\n"));
	/* the payload hash is the body's, signed; the create is conditional */
	assert_string_equal(header(1, "x-amz-content-sha256"), file_sha);
	assert_string_equal(header(1, "If-None-Match"), "*");
	assert_string_equal(header(1, "x-amz-meta-tide-sha256"), file_sha);
	assert_string_equal(header(1, "Content-Length"), "25");
	assert_null(header(1, "Expect"));
	assert_string_equal(body(1), FILE_TEXT);
	assert_non_null(strstr(header(1, "Authorization"), "if-none-match"));
	assert_non_null(strstr(header(1, "Authorization"), "x-amz-content-sha256"));
	check_signature(1);
	server_free();
}

/* The same content already there: a no-op; other content: -EEXIST. */
static void
test_put_exists(void **state)
{
	char		same[512];
	step_t		script[2];
	store_put_result_t r;
	store_t    *s;
	int			rc;

	(void) state;
	snprintf(same, sizeof(same), "HTTP/1.1 200 OK\r\nContent-Length: 25\r\nETag: \"x\"\r\n"
			 "x-amz-meta-tide-sha256: %s\r\n\r\n", file_sha);
	script[0] = (step_t) {same, false};
	server_start(script, 1);
	s = open_store();
	assert_int_equal(store_put(s, "a.tseg", "store_s3_upload.tmp", NULL, &r), 0);
	assert_true(r.existed);
	store_close(s);
	assert_int_equal(server_stop(), 1);
	assert_true(starts(0, "HEAD "));
	server_free();

	script[0] = (step_t) {"HTTP/1.1 200 OK\r\nContent-Length: 25\r\nETag: \"x\"\r\n"
		"x-amz-meta-tide-sha256: 0000000000000000000000000000000000000000000000000000000000000000\r\n\r\n", false};
	server_start(script, 1);
	s = open_store();
	rc = store_put(s, "a.tseg", "store_s3_upload.tmp", NULL, &r);
	assert_int_equal(rc, -EEXIST);
	assert_non_null(strstr(store_errmsg(s), "already exists in bucket \"bucket\""));
	assert_non_null(strstr(store_errmsg(s), file_sha));
	store_close(s);
	assert_int_equal(server_stop(), 1);
	server_free();
}

/* A writer that lost the race gets 412, looks again and compares. */
static void
test_put_race(void **state)
{
	char		same[512];
	step_t		script[4];
	store_put_result_t r;
	store_t    *s;

	(void) state;
	snprintf(same, sizeof(same), "HTTP/1.1 200 OK\r\nContent-Length: 25\r\n"
			 "x-amz-meta-tide-sha256: %s\r\n\r\n", file_sha);
	script[0] = (step_t) {"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", false};
	script[1] = (step_t) {"HTTP/1.1 412 Precondition Failed\r\nContent-Length: 0\r\n\r\n", false};
	script[2] = (step_t) {same, false};
	server_start(script, 3);
	s = open_store();
	assert_int_equal(store_put(s, "a.tseg", "store_s3_upload.tmp", NULL, &r), 0);
	assert_true(r.existed);
	store_close(s);
	assert_int_equal(server_stop(), 3);
	assert_true(starts(2, "HEAD "));
	server_free();
}

/* ListObjectsV2 over two pages; the token goes back encoded, query sorted. */
static void
test_list_pages(void **state)
{
	static const step_t script[] = {
		{"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: *\r\n\r\n"
			"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
			"<Name>bucket</Name><Prefix>pfx/</Prefix><IsTruncated>true</IsTruncated>"
			"<NextContinuationToken>tok/en=1+</NextContinuationToken>"
			"<Contents><Key>pfx/a.tseg</Key><Size>10</Size><ETag>&quot;e1&quot;</ETag>"
			"<LastModified>2026-11-20T13:00:00.000Z</LastModified></Contents>"
			"<Contents><Key>pfx/b.tseg</Key><Size>20</Size><ETag>\"e2\"</ETag></Contents>"
			"</ListBucketResult>", false},
		{"HTTP/1.1 200 OK\r\nContent-Length: *\r\n\r\n"
			"<ListBucketResult><IsTruncated>false</IsTruncated>"
			"<Contents><Key>pfx/base/x/toc.dat</Key><Size>3</Size><ETag>\"e3\"</ETag></Contents>"
			"</ListBucketResult>", false},
	};
	store_list_t l;
	store_t    *s;

	(void) state;
	server_start(script, 2);
	s = open_store();
	assert_int_equal(store_list(s, "", &l), 0);
	store_close(s);
	assert_int_equal(server_stop(), 2);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[0].name, "a.tseg");
	assert_int_equal(l.v[0].size, 10);
	assert_string_equal(l.v[0].etag, "\"e1\"");
	assert_int_equal(l.v[0].mtime, 1795179600);
	assert_string_equal(l.v[1].name, "b.tseg");
	assert_string_equal(l.v[2].name, "base/x/toc.dat");
	store_list_free(&l);
	assert_true(starts(0, "GET /bucket?list-type=2&prefix=pfx%2F HTTP/1.1\r\n"));
	assert_true(starts(1, "GET /bucket?continuation-token=tok%2Fen%3D1%2B&list-type=2&prefix=pfx%2F HTTP/1.1\r\n"));
	check_signature(0);
	check_signature(1);
	server_free();
}

/* 503 SlowDown is retried; 403 is not, and says what and why, no secret. */
static void
test_errors(void **state)
{
	static const step_t script[] = {
		{"HTTP/1.1 503 Slow Down\r\nContent-Length: 0\r\n\r\n", false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nETag: \"z\"\r\n\r\n", false},
		{"HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: *\r\n\r\n"
			"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code>"
			"<Message>The request signature we calculated does not match the signature you provided.</Message>"
			"<StringToSign>AWS4-HMAC-SHA256</StringToSign><RequestId>1</RequestId></Error>", false},
	};
	store_object_t o;
	store_t    *s;
	int			rc;

	(void) state;
	server_start(script, 3);
	s = open_store();
	assert_int_equal(store_head(s, "a.tseg", &o), 0);
	assert_int_equal(o.size, 4);
	store_object_free(&o);
	rc = store_head(s, "b.tseg", &o);
	assert_int_equal(rc, -EACCES);
	/* HEAD answers carry no body: the status and the credential source */
	assert_non_null(strstr(store_errmsg(s), "HTTP 403"));
	assert_non_null(strstr(store_errmsg(s), "bucket \"bucket\""));
	assert_non_null(strstr(store_errmsg(s), "AWS_SECRET_ACCESS_KEY"));
	assert_null(strstr(store_errmsg(s), "Secret+Key"));
	store_close(s);
	assert_int_equal(server_stop(), 3);
	server_free();

	/* the same on a GET, whose error body names S3's code */
	{
		static const step_t s2[] = {
			{"HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: *\r\n\r\n"
				"<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match.</Message>"
				"<RequestId>1</RequestId></Error>", false},
		};
		store_get_result_t gr;

		server_start(s2, 1);
		s = open_store();
		rc = store_get(s, "b.tseg", "store_s3_get.tmp", NULL, &gr);
		assert_int_equal(rc, -EACCES);
		assert_non_null(strstr(store_errmsg(s), "SignatureDoesNotMatch"));
		assert_non_null(strstr(store_errmsg(s), "GET of \"b.tseg\" in bucket \"bucket\""));
		assert_non_null(strstr(store_errmsg(s), "credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"));
		assert_null(strstr(store_errmsg(s), SECRET));
		assert_int_equal(access("store_s3_get.tmp", F_OK), -1);
		store_close(s);
		server_stop();
		server_free();
	}
}

/* A body cut short is continued with Range + If-Range on the next attempt. */
static void
test_get_truncated_resumes(void **state)
{
	static const step_t script[] = {
		{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nETag: \"v1\"\r\n\r\n01234", true},
		{"HTTP/1.1 206 Partial Content\r\nContent-Length: 5\r\nContent-Range: bytes 5-9/10\r\nETag: \"v1\"\r\n\r\n56789", false},
	};
	store_get_result_t r;
	store_t    *s;

	(void) state;
	clean_get();
	server_start(script, 2);
	s = open_store();
	assert_int_equal(store_get(s, "a.tseg", "store_s3_get.tmp", NULL, &r), 0);
	store_close(s);
	assert_int_equal(server_stop(), 2);
	assert_string_equal(read_file("store_s3_get.tmp"), "0123456789");
	assert_int_equal(r.size, 10);
	assert_null(header(0, "Range"));
	assert_string_equal(header(1, "Range"), "bytes=5-");
	assert_string_equal(header(1, "If-Range"), "\"v1\"");
	check_signature(1);
	assert_int_equal(access("store_s3_get.tmp.part", F_OK), -1);
	assert_int_equal(access("store_s3_get.tmp.part.etag", F_OK), -1);
	server_free();
}

/* A body that never completes: TIDE_ETRUNCATED, no file under the name. */
static void
test_get_truncated_fails(void **state)
{
	static const step_t script[] = {
		{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nETag: \"v1\"\r\n\r\n01234", true},
		{"HTTP/1.1 206 Partial Content\r\nContent-Length: 5\r\nContent-Range: bytes 5-9/10\r\nETag: \"v1\"\r\n\r\n5", true},
		{"HTTP/1.1 206 Partial Content\r\nContent-Length: 4\r\nContent-Range: bytes 6-9/10\r\nETag: \"v1\"\r\n\r\n", true},
		{"HTTP/1.1 206 Partial Content\r\nContent-Length: 4\r\nContent-Range: bytes 6-9/10\r\nETag: \"v1\"\r\n\r\n", true},
		{"HTTP/1.1 206 Partial Content\r\nContent-Length: 4\r\nContent-Range: bytes 6-9/10\r\nETag: \"v1\"\r\n\r\n", true},
		{"HTTP/1.1 206 Partial Content\r\nContent-Length: 4\r\nContent-Range: bytes 6-9/10\r\nETag: \"v1\"\r\n\r\n", true},
	};
	store_get_result_t r;
	store_t    *s;
	int			rc;

	(void) state;
	clean_get();
	server_start(script, 6);
	s = open_store();
	rc = store_get(s, "a.tseg", "store_s3_get.tmp", NULL, &r);
	assert_int_equal(rc, TIDE_ETRUNCATED);
	assert_non_null(strstr(store_errmsg(s), "6 of 10 bytes"));
	store_close(s);
	server_stop();
	assert_int_equal(access("store_s3_get.tmp", F_OK), -1);
	/* what came is kept for the next call to continue */
	assert_string_equal(read_file("store_s3_get.tmp.part"), "012345");
	assert_string_equal(read_file("store_s3_get.tmp.part.etag"), "\"v1\"");
	server_free();
}

/* The same on a plain web server: a short body is reported, never renamed. */
static void
test_http_truncated(void **state)
{
	static const step_t script[] = {
		{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nETag: \"w1\"\r\n\r\nabcd", true},
		{"HTTP/1.1 206 Partial Content\r\nContent-Length: 6\r\nContent-Range: bytes 4-9/10\r\nETag: \"w1\"\r\n\r\n", true},
		{"HTTP/1.1 206 Partial Content\r\nContent-Length: 6\r\nContent-Range: bytes 4-9/10\r\nETag: \"w1\"\r\n\r\n", true},
		{"HTTP/1.1 206 Partial Content\r\nContent-Length: 6\r\nContent-Range: bytes 4-9/10\r\nETag: \"w1\"\r\n\r\n", true},
	};
	store_opts_t o = {.retries = 1, .retry_base_ms = 1, .retry_max_ms = 5};
	store_get_result_t r;
	store_t    *s = NULL;
	char		url[96];
	char		err[STORE_ERRLEN];
	int			rc;

	(void) state;
	clean_get();
	server_start(script, 4);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/pub/", srv.port);
	assert_int_equal(store_open(url, &o, &s, err), 0);
	rc = store_get(s, "day 1.tseg", "store_s3_get.tmp", NULL, &r);
	assert_int_equal(rc, TIDE_ETRUNCATED);
	assert_non_null(strstr(store_errmsg(s), "download of \"day 1.tseg\" from web server"));
	assert_non_null(strstr(store_errmsg(s), "ended after 4 of 10 bytes"));
	store_close(s);
	server_stop();
	assert_true(starts(0, "GET /pub/day%201.tseg HTTP/1.1\r\n"));
	assert_null(header(0, "Authorization"));
	assert_string_equal(header(1, "Range"), "bytes=4-");
	assert_int_equal(access("store_s3_get.tmp", F_OK), -1);
	assert_string_equal(read_file("store_s3_get.tmp.part"), "abcd");
	server_free();
}

/* A part of an older object: If-Range fails, the server sends it whole. */
static void
test_get_changed_object(void **state)
{
	static const step_t script[] = {
		{"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nETag: \"v2\"\r\n\r\nfresh!", false},
	};
	store_get_result_t r;
	store_t    *s;

	(void) state;
	clean_get();
	write_file("store_s3_get.tmp.part", "old");
	write_file("store_s3_get.tmp.part.etag", "\"v1\"");
	server_start(script, 1);
	s = open_store();
	assert_int_equal(store_get(s, "a.tseg", "store_s3_get.tmp", NULL, &r), 0);
	store_close(s);
	server_stop();
	assert_string_equal(header(0, "Range"), "bytes=3-");
	assert_string_equal(header(0, "If-Range"), "\"v1\"");
	assert_string_equal(read_file("store_s3_get.tmp"), "fresh!");
	assert_int_equal(r.resumed_at, 0);
	assert_string_equal(r.etag, "\"v2\"");
	server_free();
}

/* Polling the index: If-None-Match, a 304 costs no body and changes nothing. */
static void
test_index_poll(void **state)
{
	static const step_t script[] = {
		{"HTTP/1.1 304 Not Modified\r\nETag: \"i1\"\r\n\r\n", false},
	};
	store_index_t ix;
	bool		nm = false;
	char		etag[STORE_ETAG_MAX];
	store_t    *s;

	(void) state;
	server_start(script, 1);
	s = open_store();
	memset(&ix, 0, sizeof(ix));
	assert_int_equal(store_index_fetch(s, &ix, "\"i1\"", &nm, etag), 0);
	store_close(s);
	server_stop();
	assert_true(nm);
	assert_string_equal(etag, "\"i1\"");
	assert_true(starts(0, "GET /bucket/pfx/index.json HTTP/1.1\r\n"));
	assert_string_equal(header(0, "If-None-Match"), "\"i1\"");
	check_signature(0);
	server_free();
}

/* Nobody listening: a clear error after the retries, naming the endpoint. */
static void
test_server_down(void **state)
{
	store_object_t o;
	store_t    *s;
	char		url[64];
	int			rc;
	int			fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t	alen = sizeof(a);

	(void) state;
	/* a port that was just free */
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *) &a, sizeof(a));
	getsockname(fd, (struct sockaddr *) &a, &alen);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(a.sin_port));
	setenv("AWS_ENDPOINT_URL", url, 1);
	s = open_store();
	rc = store_head(s, "a.tseg", &o);
	assert_int_equal(rc, -ECONNREFUSED);
	assert_non_null(strstr(store_errmsg(s), "could not reach S3 \"s3://bucket/pfx\""));
	assert_non_null(strstr(store_errmsg(s), "(4 attempts)"));
	store_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_create),
		cmocka_unit_test(test_put_exists),
		cmocka_unit_test(test_put_race),
		cmocka_unit_test(test_list_pages),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_get_truncated_resumes),
		cmocka_unit_test(test_get_truncated_fails),
		cmocka_unit_test(test_http_truncated),
		cmocka_unit_test(test_get_changed_object),
		cmocka_unit_test(test_index_poll),
		cmocka_unit_test(test_server_down),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
