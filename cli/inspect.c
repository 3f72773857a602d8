/*
 * cli/inspect.c
 *		`tide inspect`: print a change stream as text or JSON lines.
 *
 * Reads a file of frames (what the decoder emits) and renders every message
 * with proto's renderer.  pg_recvlogical writes a newline after each frame;
 * a newline is never a message type, so it is skipped between messages.
 * Segment files are read by the same command once the streamer writes them.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "tide.h"
#include "tide/cmdline.h"
#include "tide/ddlmsg.h"
#include "tide/render.h"
#include "tide/segment.h"
#include "tide/store.h"

/*
 * put_ddl - after a "tide.ddl" message, a line that shows the command as
 * tide apply would run it: its own statement (cut out of a multi-statement
 * query string) or why there is none, its search_path, role and objects.
 * JSON: {"type": "ddl", ...}.  Nothing for any other message.
 */
static void
put_ddl(uint8_t type, proto_rbuf_t body, int flags, proto_wbuf_t *out)
{
	proto_message_t m;
	tide_ddl_t	d;
	char		err[256];
	char	   *line = NULL;

	if (type != PROTO_MSG_MESSAGE || proto_read_message(&body, &m) != 0 ||
		m.prefix.n != strlen(TIDE_DDL_PREFIX) || memcmp(m.prefix.p, TIDE_DDL_PREFIX, m.prefix.n) != 0 ||
		tide_ddl_parse(m.payload.p, m.payload.n, &d, err, sizeof(err)) != 0)
		return;
	if (flags & PROTO_RENDER_JSON)
	{
		json_t	   *o = json_object();
		json_t	   *objs = json_array();

		for (size_t i = 0; i < d.nobjs; i++)
			json_array_append_new(objs, json_pack("{s:s, s:s?}", "type", d.objs[i].type,
												  "identity", d.objs[i].identity));
		json_object_set_new(o, "type", json_string("ddl"));
		json_object_set_new(o, "phase", json_string(d.start ? "start" : "end"));
		json_object_set_new(o, "tag", json_string(d.tag));
		json_object_set_new(o, "statement", d.stmt ? json_string(d.stmt) : json_null());
		if (!d.stmt)
			json_object_set_new(o, "why", json_string(d.why));
		json_object_set_new(o, "search_path", json_string(d.search_path));
		json_object_set_new(o, "role", d.role ? json_string(d.role) : json_null());
		json_object_set_new(o, "objects", objs);
		line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
		json_decref(o);
		if (line)
		{
			proto_put_bytes(out, line, strlen(line));
			proto_put_u8(out, '\n');
		}
	}
	else
	{
		char		head[128];

		snprintf(head, sizeof(head), "  DDL %s%s: ", d.tag, d.start ? " (start, its rows follow)" : "");
		proto_put_bytes(out, head, strlen(head));
		if (d.stmt)
			proto_put_bytes(out, d.stmt, strlen(d.stmt));
		else
		{
			proto_put_bytes(out, "(no statement: ", 15);
			proto_put_bytes(out, d.why, strlen(d.why));
			proto_put_u8(out, ')');
		}
		proto_put_bytes(out, " [search_path ", 14);
		proto_put_bytes(out, d.search_path, strlen(d.search_path));
		if (d.role)
		{
			proto_put_bytes(out, "; role ", 7);
			proto_put_bytes(out, d.role, strlen(d.role));
		}
		for (size_t i = 0; i < d.nobjs; i++)
		{
			proto_put_bytes(out, i ? ", " : "; ", 2);
			proto_put_bytes(out, d.objs[i].type, strlen(d.objs[i].type));
			if (d.objs[i].identity)
			{
				proto_put_u8(out, ' ');
				proto_put_bytes(out, d.objs[i].identity, strlen(d.objs[i].identity));
			}
		}
		proto_put_bytes(out, "]\n", 2);
	}
	free(line);
	tide_ddl_free(&d);
}

/* put_ddl_cb - put_ddl as proto_render_frame's msg_cb; arg is the flags */
static void
put_ddl_cb(void *arg, uint8_t type, proto_rbuf_t body, proto_wbuf_t *out)
{
	put_ddl(type, body, *(const int *) arg, out);
}

static void
inspect_usage(FILE *f)
{
	fprintf(f, "Usage: tide inspect [--json] [--verbose] FILE...|DIR|URL[/NAME.tseg]\n\n"
			"Print the messages of segment files (several in LSN order, whatever order\n"
			"they are given in: a shell's DIR/*.tseg* is fine), or of a raw tide stream (e.g.\n"
			"pg_recvlogical -f output of a slot using the tide plugin), one line\n"
			"each; of a directory or store (s3://BUCKET/PREFIX, http(s)://HOST/PATH),\n"
			"every segment in LSN order, or the one named after the URL.  Segments of a\n"
			"remote store are downloaded into the cache and checked (SHA-256 of the\n"
			"index, block checksums) first.  Damage is reported with the byte offset\n"
			"(exit code 5); a store that cannot be reached is exit code 7.\n\n"
			"Options:\n"
			"  -j, --json             JSON lines instead of text\n"
			"  -v, --verbose          show LSNs, transaction ids, commit times and OIDs\n"
			"      --cache=DIR        where a remote store's segments are downloaded\n");
	tide_std_usage(f, 25);
}

/* One FILE of several: its start LSN orders them. */
typedef struct
{
	const char *path;
	uint64_t	start_lsn;
	bool		partial;
} seg_arg_t;

static int
seg_arg_cmp(const void *a, const void *b)
{
	const seg_arg_t *x = a;
	const seg_arg_t *y = b;

	if (x->start_lsn != y->start_lsn)
		return x->start_lsn < y->start_lsn ? -1 : 1;
	if (x->partial != y->partial)
		return x->partial ? 1 : -1;		/* the open one continues a closed one */
	return strcmp(x->path, y->path);
}

static int	inspect_segment(const char *path, int flags);

/*
 * inspect_files - several segment files, in the order of their start LSNs
 * (from their headers, invariant 3: never from names).  Each must be a
 * segment: a raw stream or a directory goes alone.
 */
static int
inspect_files(char **paths, int n, int flags)
{
	seg_arg_t  *v = calloc((size_t) n, sizeof(*v));
	int			rc = 0;

	if (v == NULL)
		return TIDE_EXIT_BUG;
	for (int i = 0; i < n && rc == 0; i++)
	{
		seg_reader_t sr;
		uint64_t	at = 0;
		struct stat st;
		int			e;

		if (stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode))
		{
			tide_log_error("\"%s\" is a directory: give it alone, or its segment files", paths[i]);
			rc = TIDE_EXIT_USAGE;
			break;
		}
		if ((e = seg_reader_open(&sr, paths[i], &at)) != 0)
		{
			tide_log_error("could not read segment \"%s\" at byte offset %llu: %s",
						   paths[i], (unsigned long long) at, tide_strerror(e));
			tide_log_hint("several files must all be segment files; a raw stream goes alone");
			rc = e <= TIDE__EBASE ? TIDE_EXIT_CORRUPT : TIDE_EXIT_IO;
		}
		else
		{
			v[i].path = paths[i];
			v[i].start_lsn = sr.header.start_lsn;
			v[i].partial = strstr(paths[i], SEG_PARTIAL_SUFFIX) != NULL;
		}
		seg_reader_close(&sr);
	}
	if (rc == 0)
	{
		qsort(v, (size_t) n, sizeof(*v), seg_arg_cmp);
		for (int i = 0; i < n && rc == 0; i++)
			rc = inspect_segment(v[i].path, flags);
	}
	free(v);
	return rc;
}

/* read_file - the whole file into *data (caller frees); 0 or -errno */
static int
read_file(const char *path, uint8_t **data, size_t *len)
{
	FILE	   *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	uint8_t    *buf = NULL;
	size_t		cap = 0;
	size_t		n = 0;

	if (f == NULL)
		return -errno;
	for (;;)
	{
		size_t		got;

		if (n == cap)
		{
			uint8_t    *p = realloc(buf, cap ? cap * 2 : 1 << 16);

			if (p == NULL)
			{
				free(buf);
				if (f != stdin)
					fclose(f);
				return -ENOMEM;
			}
			buf = p;
			cap = cap ? cap * 2 : 1 << 16;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f))
	{
		int			e = errno;

		free(buf);
		if (f != stdin)
			fclose(f);
		return -e;
	}
	if (f != stdin)
		fclose(f);
	*data = buf;
	*len = n;
	return 0;
}

/*
 * inspect_segment - every message of every block, verified block by block.
 * A torn tail of an open segment ends the listing with a note, not an
 * error; any other damage is an error naming the block's offset.
 */

/*
 * inspect_store - a directory or store URL: every segment in LSN order
 * (a remote one downloaded into the cache and checked first, as tide
 * apply does); URL/NAME.tseg: that segment alone.
 */
static int
inspect_store(const char *arg, const char *cache_opt, int flags)
{
	char		url[4200];
	char		err[STORE_ERRLEN];
	char		cache[4096] = "";
	const char *one = NULL;
	store_t    *s;
	store_seglist_t l = {0};
	int			rc;

	snprintf(url, sizeof(url), "%s", arg);
	{
		size_t		n = strlen(url);
		char	   *slash = strrchr(url, '/');

		/* URL/NAME.tseg names one object of the store at URL */
		if (n > strlen(SEG_SUFFIX) && strcmp(url + n - strlen(SEG_SUFFIX), SEG_SUFFIX) == 0 && slash)
		{
			*slash = '\0';
			one = slash + 1;
		}
	}
	if ((rc = store_open(url, NULL, &s, err)) != 0)
	{
		tide_log_error("%s", err);
		return rc == -EINVAL ? TIDE_EXIT_USAGE : TIDE_EXIT_STORE;
	}
	if (store_kind(s) != STORE_LOCAL &&
		(rc = store_cache_dir(url, cache_opt, cache, sizeof(cache), err)) != 0)
	{
		tide_log_error("%s", err);
		store_close(s);
		return TIDE_EXIT_IO;
	}
	if ((rc = store_segments(s, &l, NULL, NULL)) != 0)
	{
		tide_log_error("could not read the segments of \"%s\": %s", url, store_errmsg(s));
		store_close(s);
		return rc <= TIDE__EBASE ? TIDE_EXIT_CORRUPT : store_kind(s) == STORE_LOCAL ? TIDE_EXIT_IO : TIDE_EXIT_STORE;
	}
	rc = 0;
	if (one && !l.n)
	{
		tide_log_error("store \"%s\" has no segment \"%s\"", url, one);
		rc = TIDE_EXIT_USAGE;
	}
	for (size_t i = 0; i < l.n && rc == 0; i++)
	{
		char		path[4400];
		int			frc;

		if (one && strcmp(l.v[i].name, one) != 0)
		{
			if (i + 1 == l.n)
			{
				tide_log_error("store \"%s\" has no segment \"%s\"", url, one);
				rc = TIDE_EXIT_USAGE;
			}
			continue;
		}
		if ((frc = store_fetch_segment(s, &l.v[i], cache, path, sizeof(path), NULL)) != 0)
		{
			tide_log_error("%s", store_errmsg(s));
			rc = frc <= TIDE__EBASE ? TIDE_EXIT_CORRUPT : TIDE_EXIT_STORE;
			break;
		}
		rc = inspect_segment(path, flags);
		if (one)
			break;
	}
	store_seglist_free(&l);
	store_close(s);
	return rc;
}

static int
inspect_segment(const char *path, int flags)
{
	seg_reader_t sr;
	proto_render_t r;
	proto_wbuf_t out;
	uint64_t	at = 0;
	int			rc;
	bool		partial = strstr(path, SEG_PARTIAL_SUFFIX) != NULL;

	if ((rc = seg_reader_open(&sr, path, &at)) != 0)
	{
		tide_log_error("could not read segment \"%s\" at byte offset %llu: %s",
					   path, (unsigned long long) at, tide_strerror(rc));
		seg_reader_close(&sr);
		return rc <= TIDE__EBASE ? TIDE_EXIT_CORRUPT : TIDE_EXIT_IO;
	}
	if (flags & PROTO_RENDER_IDS)
	{
		seg_header_t *h = &sr.header;

		printf("%sSEGMENT version=%u system_id=%llu timeline=%u db=%.*s slot=%.*s "
			   "bucket_seconds=%u start_lsn=%X/%X%s\n",
			   (flags & PROTO_RENDER_JSON) ? "# " : "", h->version,
			   (unsigned long long) h->system_id, h->timeline, (int) h->dbname.n,
			   h->dbname.p, (int) h->slot.n, h->slot.p, h->bucket_seconds,
			   (unsigned) (h->start_lsn >> 32), (unsigned) h->start_lsn,
			   sr.closed ? " closed" : " open");
	}
	proto_render_init(&r, NULL, flags);
	r.msg_cb = put_ddl_cb;
	r.msg_arg = &flags;
	proto_wbuf_init_heap(&out);
	while ((rc = seg_reader_next(&sr)) == 0)
	{
		proto_wbuf_reset(&out);
		if ((rc = proto_render_frame(&r, sr.raw.data, sr.raw.len, &out)) != 0)
			break;
		fwrite(out.data, 1, out.len, stdout);
	}
	if (rc == TIDE_ETRUNCATED && partial)
	{
		fprintf(stderr, "tide: note: open segment \"%s\" ends with an unfinished block at byte offset %llu\n",
				path, (unsigned long long) sr.block_offset);
		rc = TIDE_EEOF;
	}
	if (rc != TIDE_EEOF)
		tide_log_error("segment \"%s\" is damaged at byte offset %llu: %s",
					   path, (unsigned long long) sr.block_offset, tide_strerror(rc));
	proto_wbuf_free(&out);
	proto_render_free(&r);
	seg_reader_close(&sr);
	return rc == TIDE_EEOF ? TIDE_EXIT_OK : TIDE_EXIT_CORRUPT;
}

int
tide_cmd_inspect(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"verbose", no_argument, NULL, 'v'},
		{"cache", required_argument, NULL, 'c'},
		TIDE_STD_LONGOPTS,
		{NULL, 0, NULL, 0}
	};
	int			flags = 0;
	int			c;
	uint8_t    *data = NULL;
	size_t		len = 0;
	size_t		pos = 0;
	proto_render_t r;
	proto_wbuf_t out;
	int			rc;
	const char *cache = NULL;

	optind = 1;
	while ((c = tide_getopt(argc, argv, "jv", opts)) != -1)
	{
		switch (c)
		{
			case 'j':
				flags |= PROTO_RENDER_JSON;
				break;
			case 'v':
				flags |= PROTO_RENDER_ALL;
				break;
			case 'c':
				cache = optarg;
				break;
			default:
				rc = tide_opt_std(c, "inspect", inspect_usage);
				return rc < 0 ? TIDE_EXIT_OK : rc;
		}
	}
	if (optind >= argc)
	{
		tide_log_error("inspect needs segment files, a directory or a store URL");
		tide_log_hint("run 'tide inspect --help' for its options");
		return TIDE_EXIT_USAGE;
	}
	if (optind < argc - 1)
		return inspect_files(argv + optind, argc - optind, flags);
	{
		struct stat st;

		if ((strstr(argv[optind], "://") != NULL && strncmp(argv[optind], "file://", 7) != 0) ||
			(stat(argv[optind], &st) == 0 && S_ISDIR(st.st_mode)))
			return inspect_store(argv[optind], cache, flags);
	}
	{
		FILE	   *f = strcmp(argv[optind], "-") ? fopen(argv[optind], "rb") : NULL;
		char		magic[SEG_FILE_MAGIC_LEN];
		bool		is_segment = f && fread(magic, 1, sizeof(magic), f) == sizeof(magic) &&
			memcmp(magic, SEG_FILE_MAGIC, SEG_FILE_MAGIC_LEN) == 0;

		if (f)
			fclose(f);
		if (is_segment)
			return inspect_segment(argv[optind], flags);
	}
	if ((rc = read_file(argv[optind], &data, &len)) != 0)
	{
		tide_log_error("could not read \"%s\": %s", argv[optind], tide_strerror(rc));
		return TIDE_EXIT_IO;
	}
	proto_render_init(&r, NULL, flags);
	proto_wbuf_init_heap(&out);
	rc = 0;
	while (pos < len)
	{
		proto_rbuf_t f;
		proto_rbuf_t body;
		uint8_t		type;

		if (data[pos] == '\n')
		{
			pos++;
			continue;
		}
		proto_rbuf_init(&f, data + pos, len - pos);
		if ((rc = proto_read_msg(&f, &type, &body)) != 0 ||
			(rc = proto_render_msg(&r, type, body, &out)) != 0)
			break;
		proto_put_u8(&out, '\n');
		put_ddl(type, body, flags, &out);
		if (out.err)
		{
			rc = out.err;
			break;
		}
		fwrite(out.data, 1, out.len, stdout);
		proto_wbuf_reset(&out);
		pos += f.pos;
	}
	if (rc != 0)
		tide_log_error("could not decode \"%s\" at byte offset %zu: %s",
					   argv[optind], pos, tide_strerror(rc));
	proto_wbuf_free(&out);
	proto_render_free(&r);
	free(data);
	return rc ? TIDE_EXIT_CORRUPT : TIDE_EXIT_OK;
}
