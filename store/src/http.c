/*
 * store/src/http.c
 *		HTTP for the remote backends (libcurl): requests with retries,
 *		streamed downloads that resume, error answers in words; and the
 *		read-only backend for a directory on a static web server.
 *
 * One curl easy handle per store, reset before each request, so
 * connections are reused.  Every request this library sends is
 * idempotent, so each is retried the same way: on a connection failure, a
 * timeout (connect, or a transfer under 1 kB/s for low_speed_secs) and
 * HTTP 429/500/502/503/504, with backoff and jitter, at most
 * opts.retries times.
 *
 * A download streams into PATH.part.  The object's ETag is noted in
 * PATH.part.etag before the first byte is written, so that whoever
 * continues the part (this call after a broken connection, or a later one
 * after a crash) asks for the rest with "Range: bytes=N-" and
 * "If-Range: ETAG": a server whose object changed meanwhile answers 200
 * with all of it, and the part starts over.  A body shorter than its
 * Content-Length (or Content-Range) is TIDE_ETRUNCATED, never a short
 * file under the final name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "internal.h"

#define ERR_BODY_MAX (64 * 1024)

static store__remote_t *
remote(store_t *s)
{
	return s->be;
}

/* ------------------------------------------------------------- encoding */

char *
store__uri_encode(const char *in, bool keep_slash)
{
	static const char hexd[] = "0123456789ABCDEF";
	size_t		n = strlen(in);
	char	   *out = malloc(3 * n + 1);
	char	   *o = out;

	if (out == NULL)
		return NULL;
	for (const unsigned char *p = (const unsigned char *) in; *p; p++)
	{
		unsigned char c = *p;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/'))
			*o++ = (char) c;
		else
		{
			*o++ = '%';
			*o++ = hexd[c >> 4];
			*o++ = hexd[c & 15];
		}
	}
	*o = '\0';
	return out;
}

/* ------------------------------------------------------------- XML errors */

static const char *
child_text(xmlNode *parent, const char *name, char *buf, size_t len)
{
	for (xmlNode *n = parent->children; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && strcmp((const char *) n->name, name) == 0)
		{
			xmlChar    *t = xmlNodeGetContent(n);

			snprintf(buf, len, "%s", t ? (const char *) t : "");
			xmlFree(t);
			return buf;
		}
	return NULL;
}

bool
store__xml_error(const char *body, size_t len, char *code, size_t clen, char *msg, size_t mlen)
{
	xmlDoc	   *doc;
	xmlNode    *root;
	bool		ok = false;

	code[0] = msg[0] = '\0';
	if (body == NULL || len == 0 || len > INT32_MAX)
		return false;
	doc = xmlReadMemory(body, (int) len, NULL, NULL,
						XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc && (root = xmlDocGetRootElement(doc)) != NULL &&
		strcmp((const char *) root->name, "Error") == 0)
	{
		ok = child_text(root, "Code", code, clen) != NULL;
		child_text(root, "Message", msg, mlen);
	}
	xmlFreeDoc(doc);
	return ok;
}

/* ------------------------------------------------------------- one attempt */

typedef struct
{
	store_t    *s;
	store__resp_t *resp;
	store__sink_kind_t sink;
	size_t		max_body;		/* memory sink */
	bool		too_big;

	/* file sink */
	struct get_state *get;

	/* upload */
	int			upload_fd;
	int			read_errno;
} xfer_t;

/* The state of one download, across attempts (store__remote_get). */
struct get_state
{
	const char *part;			/* PATH.part */
	const char *etag_path;		/* PATH.part.etag */
	int			fd;				/* of part, -1 until the first body byte */
	EVP_MD_CTX *sha;			/* of part's bytes so far */
	uint64_t	have;			/* bytes in part */
	uint64_t	asked_from;		/* the Range this attempt asked for, or 0 */
	bool		started;		/* this attempt wrote its first byte */
	int			write_errno;
	int			bad_range;		/* a 206 for bytes we did not ask for */
};

static size_t
on_header(char *line, size_t size, size_t n, void *arg)
{
	xfer_t	   *x = arg;
	store__resp_t *r = x->resp;
	size_t		len = size * n;
	char		buf[512];
	char	   *v;
	size_t		vl;

	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0)
	{
		/* a new answer (after a 100 Continue, or a redirect): forget the old */
		const char *sp = memchr(line, ' ', len);

		r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		r->etag[0] = r->sha256[0] = '\0';
		r->content_length = r->range_total = -1;
		r->range_start = 0;
		return len;
	}
	if (len >= sizeof(buf) || (v = memchr(line, ':', len)) == NULL)
		return len;
	memcpy(buf, line, len);
	buf[len] = '\0';
	v = buf + (v - line);
	*v++ = '\0';
	v += strspn(v, " \t");
	vl = strcspn(v, "\r\n");
	v[vl] = '\0';
	while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		v[--vl] = '\0';
	if (strcasecmp(buf, "ETag") == 0)
		snprintf(r->etag, sizeof(r->etag), "%s", v);
	else if (strcasecmp(buf, "Content-Length") == 0)
		r->content_length = strtoll(v, NULL, 10);
	else if (strcasecmp(buf, "x-amz-meta-tide-sha256") == 0 && vl == 64)
		snprintf(r->sha256, sizeof(r->sha256), "%s", v);
	else if (strcasecmp(buf, "Content-Range") == 0)
	{
		long long	a,
					b,
					t;

		if (sscanf(v, "bytes %lld-%lld/%lld", &a, &b, &t) == 3)
		{
			r->range_start = a;
			r->range_total = t;
		}
		else if (sscanf(v, "bytes */%lld", &t) == 1)
			r->range_total = t;
	}
	else if (strcasecmp(buf, "Last-Modified") == 0)
	{
		time_t		t = curl_getdate(v, NULL);

		if (t > 0)
			r->mtime = t;
	}
	return len;
}

/* file_start - the first body byte of a download's attempt has come */
static int
file_start(xfer_t *x)
{
	struct get_state *g = x->get;
	store__resp_t *r = x->resp;

	g->started = true;
	if (r->status == 206)
	{
		if ((uint64_t) r->range_start != g->asked_from || g->asked_from != g->have)
		{
			g->bad_range = 1;
			return -1;
		}
		return 0;
	}

	/* 200: the whole object, from the start, whatever the part held */
	if (g->fd < 0 &&
		(g->fd = open(g->part, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
	{
		g->write_errno = errno;
		return -1;
	}
	if (ftruncate(g->fd, 0) != 0 || lseek(g->fd, 0, SEEK_SET) != 0)
	{
		g->write_errno = errno;
		return -1;
	}
	g->have = 0;
	EVP_DigestInit_ex(g->sha, EVP_sha256(), NULL);
	/* note the ETag the part belongs to, for whoever continues it */
	unlink(g->etag_path);
	if (r->etag[0] && strncmp(r->etag, "W/", 2) != 0)
	{
		int			fd = open(g->etag_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

		if (fd >= 0)
		{
			ssize_t		w = write(fd, r->etag, strlen(r->etag));

			if (close(fd) != 0 || w != (ssize_t) strlen(r->etag))
				unlink(g->etag_path);
		}
	}
	return 0;
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	xfer_t	   *x = arg;
	store__resp_t *r = x->resp;
	size_t		len = size * n;
	bool		ok = r->status >= 200 && r->status < 300;

	if (!ok || x->sink == STORE__SINK_MEM || x->sink == STORE__SINK_NONE)
	{
		size_t		max = ok ? x->max_body : ERR_BODY_MAX;

		if (r->body_len + len > max)
		{
			if (!ok)
				return len;		/* an error's first 64 kB are enough */
			x->too_big = true;
			return 0;
		}
		if (len)
		{
			char	   *b = realloc(r->body, r->body_len + len + 1);

			if (b == NULL)
				return 0;
			r->body = b;
			memcpy(b + r->body_len, data, len);
			r->body_len += len;
			b[r->body_len] = '\0';
		}
		return len;
	}

	/* file sink */
	if (!x->get->started && file_start(x) != 0)
		return 0;
	for (size_t off = 0; off < len;)
	{
		ssize_t		w = write(x->get->fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
		{
			x->get->write_errno = errno;
			return 0;
		}
		off += (size_t) w;
	}
	EVP_DigestUpdate(x->get->sha, data, len);
	x->get->have += len;
	r->body_len += len;			/* counted, not kept */
	return len;
}

static size_t
on_upload(char *buf, size_t size, size_t n, void *arg)
{
	xfer_t	   *x = arg;
	ssize_t		r;

	do
		r = read(x->upload_fd, buf, size * n);
	while (r < 0 && errno == EINTR);
	if (r < 0)
	{
		x->read_errno = errno;
		return CURL_READFUNC_ABORT;
	}
	return (size_t) r;
}

/* transport_code - a curl failure as -errno */
static int
transport_code(CURL *h, CURLcode cc)
{
	long		oserr = 0;

	switch (cc)
	{
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_RESOLVE_PROXY:
			return -EHOSTUNREACH;
		case CURLE_COULDNT_CONNECT:
			curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
			return oserr > 0 ? -(int) oserr : -ECONNREFUSED;
		case CURLE_OPERATION_TIMEDOUT:
			return -ETIMEDOUT;
		case CURLE_PARTIAL_FILE:
			return TIDE_ETRUNCATED;
		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
		case CURLE_GOT_NOTHING:
			return -ECONNRESET;
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_CERTPROBLEM:
			return -EPROTO;
		case CURLE_OUT_OF_MEMORY:
			return TIDE_ENOMEM;
		default:
			return -EIO;
	}
}

static bool
transport_retryable(int code)
{
	return code == -EHOSTUNREACH || code == -ECONNREFUSED || code == -ETIMEDOUT ||
		code == TIDE_ETRUNCATED || code == -ECONNRESET || code == -ENETUNREACH;
}

static bool
status_retryable(long st)
{
	return st == 429 || st == 500 || st == 502 || st == 503 || st == 504;
}

static void
where(store_t *s, const store__call_t *c, char *buf, size_t len)
{
	char		w[512] = "";

	remote(s)->where(s, w, sizeof(w));
	if (c->name)
		snprintf(buf, len, "%s of \"%s\"%s", c->method, c->name, w);
	else
		snprintf(buf, len, "a listing%s", w);
}

/*
 * attempt - one try of c.  0 with resp->status set when an answer came;
 * else a negative code with the message set.
 */
static int
attempt(store_t *s, const store__call_t *c, xfer_t *x)
{
	store__remote_t *rm = remote(s);
	CURL	   *h = rm->h;
	char	   *url = NULL;
	struct curl_slist *hdrs = NULL;
	CURLcode	cc;
	int			rc;

	store__resp_free(x->resp);
	memset(x->resp, 0, sizeof(*x->resp));
	x->resp->content_length = x->resp->range_total = -1;
	x->too_big = false;
	if ((rc = rm->build(s, c, &url, &hdrs)) != 0)
		return rc;
	curl_easy_reset(h);
	rm->curl_err[0] = '\0';
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, rm->curl_err);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, s->opts.connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, s->opts.low_speed_secs);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "tide-store/1");
	if (s->opts.ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, s->opts.ca_file);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	if (strcmp(c->method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else if (strcmp(c->method, "PUT") == 0)
	{
		if (lseek(c->upload_fd, 0, SEEK_SET) != 0)
		{
			rc = store__fail(s, -errno, "could not rewind the file to upload: %s", strerror(errno));
			goto out;
		}
		x->upload_fd = c->upload_fd;
		x->read_errno = 0;
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload);
		curl_easy_setopt(h, CURLOPT_READDATA, x);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t) c->upload_size);
	}
	else if (strcmp(c->method, "GET") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);

	cc = curl_easy_perform(h);
	if (cc == CURLE_OK)
	{
		rc = 0;
		goto out;
	}
	if (x->get && x->get->write_errno)
		rc = store__fail(s, -x->get->write_errno, "could not write \"%s\": %s",
						 x->get->part, strerror(x->get->write_errno));
	else if (x->get && x->get->bad_range)
		rc = store__fail(s, -EPROTO, "the server answered a request for bytes from %llu of \"%s\" with other bytes (from %lld)",
						 (unsigned long long) x->get->asked_from, c->name, (long long) x->resp->range_start);
	else if (x->too_big)
		rc = store__fail(s, -EFBIG, "the answer to %s of \"%s\" is larger than %zu bytes",
						 c->method, c->name ? c->name : "", x->max_body);
	else if (cc == CURLE_READ_ERROR || cc == CURLE_ABORTED_BY_CALLBACK)
		rc = store__fail(s, -(x->read_errno ? x->read_errno : EIO), "could not read the file to upload: %s",
						 strerror(x->read_errno ? x->read_errno : EIO));
	else
	{
		char		w[800];

		rc = transport_code(h, cc);
		where(s, c, w, sizeof(w));
		store__fail(s, rc, "could not reach %s \"%s\" (%s): %s%s%s%s", rm->what, s->url, w,
					rm->curl_err[0] ? rm->curl_err : curl_easy_strerror(cc),
					rc > -4096 ? " (" : "", rc > -4096 ? strerror(-rc) : "", rc > -4096 ? ")" : "");
	}
out:
	free(url);
	curl_slist_free_all(hdrs);
	return rc;
}

void
store__resp_free(store__resp_t *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
}

int
store__http_call(store_t *s, const store__call_t *c, size_t max_body, store__resp_t *resp)
{
	xfer_t		x;
	int			rc;

	memset(resp, 0, sizeof(*resp));
	memset(&x, 0, sizeof(x));
	x.s = s;
	x.resp = resp;
	x.sink = max_body ? STORE__SINK_MEM : STORE__SINK_NONE;
	x.max_body = max_body;
	for (int n = 0;; n++)
	{
		rc = attempt(s, c, &x);
		if (rc == 0 && !status_retryable(resp->status))
			return 0;
		if (rc != 0 && !transport_retryable(rc))
			return rc;
		if (n >= s->opts.retries)
		{
			if (rc != 0 && n > 0)
			{
				size_t		l = strlen(s->err);

				snprintf(s->err + l, sizeof(s->err) - l, " (%d attempts)", n + 1);
			}
			return rc;			/* rc 0: the last 5xx, for the caller to word */
		}
		store__retry_wait(s, n + 1);
	}
}

int
store__http_fail(store_t *s, const store__call_t *c, const store__resp_t *r)
{
	store__remote_t *rm = remote(s);
	char		code[128];
	char		msg[512];
	char		w[800];
	char		note[400] = "";
	int			rc;

	where(s, c, w, sizeof(w));
	switch (r->status)
	{
		case 404:
			rc = -ENOENT;
			break;
		case 401:
		case 403:
			rc = -EACCES;
			rm->cred_note(s, note, sizeof(note));
			break;
		case 412:
			rc = -EEXIST;
			break;
		case 416:
			rc = -ERANGE;
			break;
		default:
			rc = -EIO;
	}
	if (store__xml_error(r->body, r->body_len, code, sizeof(code), msg, sizeof(msg)))
		return store__fail(s, rc, "%s \"%s\" refused %s: HTTP %ld %s: %s%s", rm->what, s->url, w,
						   r->status, code, msg, note);
	return store__fail(s, rc, "%s \"%s\" refused %s: HTTP %ld%s", rm->what, s->url, w, r->status, note);
}

/* ------------------------------------------------------------- operations */

int
store__remote_head(store_t *s, const char *name, store_object_t *out)
{
	store__call_t c = {.method = "HEAD", .name = name, .upload_fd = -1};
	store__resp_t r;
	int			rc;

	if ((rc = store__http_call(s, &c, 0, &r)) != 0)
		return rc;
	if (r.status != 200)
	{
		rc = store__http_fail(s, &c, &r);
		store__resp_free(&r);
		return rc;
	}
	out->size = r.content_length >= 0 ? (uint64_t) r.content_length : 0;
	snprintf(out->etag, sizeof(out->etag), "%s", r.etag);
	snprintf(out->sha256, sizeof(out->sha256), "%s", r.sha256);
	out->mtime = r.mtime;
	store__resp_free(&r);
	return 0;
}

int
store__remote_read(store_t *s, const char *name, uint64_t offset, size_t len, void *buf,
				   size_t *got)
{
	char		range[96];
	store__call_t c = {.method = "GET", .name = name, .upload_fd = -1};
	store__resp_t r;
	int			rc;

	snprintf(range, sizeof(range), "Range: bytes=%llu-%llu", (unsigned long long) offset,
			 (unsigned long long) (offset + len - 1));
	c.hdr[c.nhdr++] = range;
	if ((rc = store__http_call(s, &c, len, &r)) != 0)
		return rc;
	if (r.status == 416)
		rc = 0;					/* nothing at or after offset */
	else if (r.status == 206 && (uint64_t) r.range_start == offset && r.body_len <= len)
	{
		memcpy(buf, r.body, r.body_len);
		*got = r.body_len;
	}
	else if (r.status == 200 || r.status == 206)
		rc = store__fail(s, -EPROTO, "%s \"%s\" answered a ranged GET of \"%s\" with HTTP %ld and other bytes than asked for",
						 remote(s)->what, s->url, name, r.status);
	else
		rc = store__http_fail(s, &c, &r);
	store__resp_free(&r);
	return rc;
}

/* read_small - a little file's content (a part's ETag note), or "" */
static void
read_small(const char *path, char *buf, size_t len)
{
	int			fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t		n = fd >= 0 ? read(fd, buf, len - 1) : -1;

	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
}

/* hash_prefix - the SHA-256 state of the first n bytes of fd */
static int
hash_prefix(int fd, uint64_t n, EVP_MD_CTX *sha)
{
	unsigned char *buf = malloc(1 << 20);
	uint64_t	done = 0;

	if (buf == NULL)
		return TIDE_ENOMEM;
	while (done < n)
	{
		ssize_t		r = pread(fd, buf, n - done > (1 << 20) ? (1 << 20) : (size_t) (n - done), (off_t) done);

		if (r <= 0)
		{
			free(buf);
			return r < 0 ? -errno : TIDE_ETRUNCATED;
		}
		EVP_DigestUpdate(sha, buf, (size_t) r);
		done += (uint64_t) r;
	}
	free(buf);
	return 0;
}

int
store__remote_get(store_t *s, const char *name, const char *path, const store_get_opts_t *o,
				  store_get_result_t *res)
{
	char		part[4200];
	char		etag_path[4300];
	char		part_etag[STORE_ETAG_MAX] = "";
	char		range[64];
	char		ifrange[STORE_ETAG_MAX + 16];
	char		inm[STORE_ETAG_MAX + 32];
	struct get_state g = {.fd = -1};
	store__resp_t r;
	xfer_t		x;
	int			rc = 0;
	int			tries = 0;

	if ((size_t) snprintf(part, sizeof(part), "%s.part", path) >= sizeof(part) ||
		(size_t) snprintf(etag_path, sizeof(etag_path), "%s.part.etag", path) >= sizeof(etag_path))
		return store__fail(s, -ENAMETOOLONG, "path \"%s\" is too long", path);
	g.part = part;
	g.etag_path = etag_path;
	if ((g.sha = store__sha_new()) == NULL)
		return store__fail(s, TIDE_ENOMEM, "out of memory");

	/* an earlier attempt's part, continued if we know which object it was */
	if (!o->no_resume)
	{
		struct stat st;

		read_small(etag_path, part_etag, sizeof(part_etag));
		if (part_etag[0] && (g.fd = open(part, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) >= 0 &&
			fstat(g.fd, &st) == 0 && st.st_size > 0 &&
			hash_prefix(g.fd, (uint64_t) st.st_size, g.sha) == 0 &&
			lseek(g.fd, 0, SEEK_END) == st.st_size)
			g.have = (uint64_t) st.st_size;
		else if (g.fd >= 0)
		{
			close(g.fd);
			g.fd = -1;
			EVP_DigestInit_ex(g.sha, EVP_sha256(), NULL);
		}
	}
	res->resumed_at = g.have;

	memset(&x, 0, sizeof(x));
	memset(&r, 0, sizeof(r));
	x.s = s;
	x.resp = &r;
	x.sink = STORE__SINK_FILE;
	x.get = &g;
	for (;;)
	{
		store__call_t c = {.method = "GET", .name = name, .upload_fd = -1};
		uint64_t	before = g.have;

		if (g.have > 0)
		{
			snprintf(range, sizeof(range), "Range: bytes=%llu-", (unsigned long long) g.have);
			snprintf(ifrange, sizeof(ifrange), "If-Range: %s", part_etag);
			c.hdr[c.nhdr++] = range;
			c.hdr[c.nhdr++] = ifrange;
		}
		else if (o->if_none_match && o->if_none_match[0])
		{
			snprintf(inm, sizeof(inm), "If-None-Match: %s", o->if_none_match);
			c.hdr[c.nhdr++] = inm;
		}
		g.asked_from = g.have;
		g.started = false;
		g.write_errno = 0;
		g.bad_range = 0;
		rc = attempt(s, &c, &x);
		if (rc == 0)
		{
			if (r.status == 304 && g.have == 0 && o->if_none_match)
			{
				res->not_modified = true;
				snprintf(res->etag, sizeof(res->etag), "%s", o->if_none_match);
				goto out;
			}
			if (r.status == 416 && g.have > 0)
			{
				/* the part is longer than the object: it changed; start over */
				if (ftruncate(g.fd, 0) != 0 || lseek(g.fd, 0, SEEK_SET) != 0)
				{
					rc = store__fail(s, -errno, "could not truncate \"%s\": %s", part, strerror(errno));
					goto out;
				}
				g.have = 0;
				res->resumed_at = 0;
				EVP_DigestInit_ex(g.sha, EVP_sha256(), NULL);
				unlink(etag_path);
				if (++tries > s->opts.retries + 1)
				{
					rc = store__http_fail(s, &c, &r);
					goto out;
				}
				continue;
			}
			if (r.status == 200 || r.status == 206)
			{
				int64_t		total = r.status == 206 ? r.range_total : r.content_length;

				if (r.status == 200)
				{
					res->resumed_at = 0;
					if (!g.started && file_start(&x) != 0)	/* an empty object */
					{
						rc = store__fail(s, -g.write_errno, "could not create \"%s\": %s", part, strerror(g.write_errno));
						goto out;
					}
				}
				if (r.status == 206 && r.etag[0] == '\0')
					snprintf(r.etag, sizeof(r.etag), "%s", part_etag);
				snprintf(res->etag, sizeof(res->etag), "%s", r.etag);
				if (total >= 0 && g.have == (uint64_t) total)
					break;		/* complete */
				if (total < 0)
				{
					rc = store__fail(s, -EPROTO, "%s \"%s\" sent \"%s\" without a length: a truncated body could not be told from a whole one",
									 remote(s)->what, s->url, name);
					goto out;
				}
				rc = store__fail(s, TIDE_ETRUNCATED, "download of \"%s\" from %s \"%s\" ended after %llu of %lld bytes",
								 name, remote(s)->what, s->url, (unsigned long long) g.have, (long long) total);
			}
			else if (!status_retryable(r.status))
			{
				rc = store__http_fail(s, &c, &r);
				goto out;
			}
			else
				rc = store__http_fail(s, &c, &r);
		}
		else if (!transport_retryable(rc))
			goto out;
		else if (rc == TIDE_ETRUNCATED)
		{
			int64_t		total = r.status == 206 ? r.range_total : r.content_length;

			store__fail(s, rc, "download of \"%s\" from %s \"%s\" ended after %llu of %lld bytes (the connection was closed)",
						name, remote(s)->what, s->url, (unsigned long long) g.have, (long long) total);
		}

		/* what came is kept: the next attempt asks for the rest */
		if (g.have > 0)
		{
			if (r.etag[0] && strncmp(r.etag, "W/", 2) != 0 && (r.status == 200 || r.status == 206))
				snprintf(part_etag, sizeof(part_etag), "%s", r.etag);
			if (part_etag[0] == '\0')
			{
				/* no strong ETag: nothing proves the rest belongs to the part */
				g.have = 0;
				EVP_DigestInit_ex(g.sha, EVP_sha256(), NULL);
			}
		}
		if (g.have == before || g.have == 0)
			tries++;			/* no progress: this counts as a retry */
		if (tries > s->opts.retries)
		{
			if (tries > 1)
			{
				size_t		l = strlen(s->err);

				snprintf(s->err + l, sizeof(s->err) - l, " (%d attempts)", tries);
			}
			goto out;
		}
		store__retry_wait(s, tries ? tries : 1);
	}

	/* complete: checksum, durable, then the final name */
	store__sha_hex(g.sha, res->sha256);
	g.sha = NULL;
	res->size = g.have;
	if (o->sha256 && strcmp(o->sha256, res->sha256) != 0)
	{
		rc = store__fail(s, TIDE_ECHECKSUM, "object \"%s\" from %s \"%s\" has SHA-256 %s, not %s as expected",
						 name, remote(s)->what, s->url, res->sha256, o->sha256);
		close(g.fd);
		g.fd = -1;
		unlink(part);
		unlink(etag_path);
		goto out;
	}
	if (fsync(g.fd) != 0)
	{
		rc = store__fail(s, -errno, "could not fsync \"%s\": %s", part, strerror(errno));
		goto out;
	}
	if (rename(part, path) != 0)
	{
		rc = store__fail(s, -errno, "could not rename \"%s\" to \"%s\": %s", part, path, strerror(errno));
		goto out;
	}
	unlink(etag_path);
	{
		char		dir[4200];
		char	   *sl;

		snprintf(dir, sizeof(dir), "%s", path);
		sl = strrchr(dir, '/');
		if (sl)
			*sl = '\0';
		tide_fsync_path(sl ? (dir[0] ? dir : "/") : ".");
	}
	rc = 0;
out:
	if (g.fd >= 0)
		close(g.fd);
	if (g.sha)
		EVP_MD_CTX_free(g.sha);
	store__resp_free(&r);
	return rc;
}

/* ------------------------------------------------------------- lifecycle */

void
store__remote_init(store__remote_t *r)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r->h = curl_easy_init();
}

void
store__remote_cleanup(store__remote_t *r)
{
	if (r->h)
		curl_easy_cleanup(r->h);
	curl_global_cleanup();
}

/* ------------------------------------------------------------- http backend */

typedef struct
{
	store__remote_t r;			/* first */
	char	   *base;			/* owned: URL without a trailing slash */
} http_t;

static int
http_build(store_t *s, const store__call_t *c, char **url, struct curl_slist **hdrs)
{
	http_t	   *h = s->be;
	char	   *enc = store__uri_encode(c->name ? c->name : "", true);
	size_t		n;

	*hdrs = NULL;
	if (enc == NULL)
		return store__fail(s, TIDE_ENOMEM, "out of memory");
	n = strlen(h->base) + strlen(enc) + 2;
	if ((*url = malloc(n)) == NULL)
	{
		free(enc);
		return store__fail(s, TIDE_ENOMEM, "out of memory");
	}
	snprintf(*url, n, "%s/%s", h->base, enc);
	free(enc);
	for (int i = 0; i < c->nhdr; i++)
	{
		struct curl_slist *l = curl_slist_append(*hdrs, c->hdr[i]);

		if (l == NULL)
			return store__fail(s, TIDE_ENOMEM, "out of memory");
		*hdrs = l;
	}
	return 0;
}

static void
http_where(store_t *s, char *buf, size_t len)
{
	(void) s;
	if (len)
		buf[0] = '\0';
}

static void
http_cred_note(store_t *s, char *buf, size_t len)
{
	(void) s;
	if (len)
		buf[0] = '\0';
}

static void
http_close(store_t *s)
{
	http_t	   *h = s->be;

	if (h == NULL)
		return;
	store__remote_cleanup(&h->r);
	free(h->base);
	free(h);
}

static const store__ops_t http_ops = {
	.list = NULL,				/* a static server has no listing: the index */
	.head = store__remote_head,
	.read = store__remote_read,
	.get = store__remote_get,
	.put = NULL,
	.del = NULL,
	.close = http_close,
};

int
store__http_open(store_t *s, const char *url, char *errbuf)
{
	http_t	   *h = calloc(1, sizeof(*h));
	const char *hostpart = strstr(url, "://") + 3;
	const char *at = strchr(hostpart, '@');
	const char *slash = strchr(hostpart, '/');
	size_t		n = strlen(url);

	if (h == NULL)
	{
		store__errbuf(errbuf, "out of memory");
		return TIDE_ENOMEM;
	}
	/* user:password@ would be a secret in every message: refuse it */
	if (at && (slash == NULL || at < slash))
	{
		free(h);
		store__errbuf(errbuf, "invalid store URL: credentials in an http(s) URL are not supported (they would show in messages)");
		return -EINVAL;
	}
	if (strchr(url, '?') || strchr(url, '#'))
	{
		free(h);
		store__errbuf(errbuf, "invalid store URL \"%s\": a directory URL has no query or fragment", url);
		return -EINVAL;
	}
	while (n > 0 && url[n - 1] == '/')
		n--;
	h->base = strndup(url, n);
	store__remote_init(&h->r);
	h->r.what = "web server";
	h->r.build = http_build;
	h->r.where = http_where;
	h->r.cred_note = http_cred_note;
	s->be = h;
	s->ops = &http_ops;
	if (h->base == NULL || h->r.h == NULL)
	{
		store__errbuf(errbuf, "out of memory");
		http_close(s);
		s->be = NULL;
		return TIDE_ENOMEM;
	}
	return 0;
}
