/*
 * tests/store/store_tool.c
 *		A small driver of the store/ library for its TAP suite
 *		(tests/tap/t/12x_*.pl): each command is one library call, its
 *		outcome printed on one line for the test to check.
 *
 *   store_tool [--retries N] [--page N] COMMAND URL ...
 *     ls URL [PREFIX]            name, size, etag per line
 *     head URL NAME              size, etag, sha256
 *     get URL NAME PATH [--sha256 HEX] [--if-none-match ETAG] [--no-resume]
 *     put URL NAME PATH          create-only, archive-push rule
 *     replace URL NAME PATH
 *     rm URL NAME
 *     publish DIR URL            closed segments of the local DIR into URL
 *                                (create-only), then URL's index.json
 *     segs URL                   the segments by LSN (the index for http,
 *                                else the listing and each file's header
 *                                and footer) and the chain check
 *     poll URL [ETAG]            fetch the index, conditionally
 *     mkseg DIR BUCKET START END write a closed segment (header, footer,
 *                                no data) of bucket start BUCKET (Unix
 *                                seconds) from LSN START to END (hex)
 *
 * Exit status: 0 done, 2 usage, 4 exists with other content (-EEXIST),
 * 5 corrupt (checksum, chain, damaged file), 1 anything else; the
 * library's message goes to stderr as "store_tool: error: ...".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tide/segment.h"
#include "tide/store.h"

static store_opts_t opts;

static int
fail(store_t *s, int rc)
{
	fprintf(stderr, "store_tool: error: %s\n", s ? store_errmsg(s) : "");
	if (rc == -EEXIST)
		return 4;
	if (rc == TIDE_ECHECKSUM || rc == TIDE_ETRUNCATED || rc == TIDE_EBADVALUE ||
		rc == TIDE_EBADMAGIC)
		return 5;
	return 1;
}

static store_t *
open_url(const char *url)
{
	store_t    *s = NULL;
	char		err[STORE_ERRLEN];

	if (store_open(url, &opts, &s, err) != 0)
	{
		fprintf(stderr, "store_tool: error: %s\n", err);
		exit(1);
	}
	return s;
}

static int
cmd_ls(int argc, char **argv)
{
	store_t    *s = open_url(argv[0]);
	store_list_t l;
	int			rc;

	if ((rc = store_list(s, argc > 1 ? argv[1] : "", &l)) != 0)
		return fail(s, rc);
	for (size_t i = 0; i < l.n; i++)
		printf("%s %llu %s\n", l.v[i].name, (unsigned long long) l.v[i].size, l.v[i].etag);
	printf("%zu objects\n", l.n);
	store_list_free(&l);
	store_close(s);
	return 0;
}

static int
cmd_head(int argc, char **argv)
{
	store_t    *s;
	store_object_t o;
	int			rc;

	if (argc != 2)
		return 2;
	s = open_url(argv[0]);
	if ((rc = store_head(s, argv[1], &o)) != 0)
		return fail(s, rc);
	printf("%s size=%llu etag=%s sha256=%s\n", o.name, (unsigned long long) o.size, o.etag,
		   o.sha256[0] ? o.sha256 : "-");
	store_object_free(&o);
	store_close(s);
	return 0;
}

static int
cmd_get(int argc, char **argv)
{
	store_get_opts_t o = {0};
	store_get_result_t r;
	store_t    *s;
	int			rc;

	if (argc < 3)
		return 2;
	for (int i = 3; i < argc; i++)
	{
		if (strcmp(argv[i], "--sha256") == 0 && i + 1 < argc)
			o.sha256 = argv[++i];
		else if (strcmp(argv[i], "--if-none-match") == 0 && i + 1 < argc)
			o.if_none_match = argv[++i];
		else if (strcmp(argv[i], "--no-resume") == 0)
			o.no_resume = true;
		else
			return 2;
	}
	s = open_url(argv[0]);
	if ((rc = store_get(s, argv[1], argv[2], &o, &r)) != 0)
		return fail(s, rc);
	if (r.not_modified)
		printf("not modified etag=%s\n", r.etag);
	else
		printf("got %s size=%llu resumed_at=%llu sha256=%s etag=%s\n", argv[1],
			   (unsigned long long) r.size, (unsigned long long) r.resumed_at, r.sha256, r.etag);
	store_close(s);
	return 0;
}

static int
cmd_put(int argc, char **argv, bool replace)
{
	store_put_result_t r;
	store_t    *s;
	int			rc;

	if (argc != 3)
		return 2;
	s = open_url(argv[0]);
	if (replace)
	{
		if ((rc = store_replace(s, argv[1], argv[2])) != 0)
			return fail(s, rc);
		printf("replaced %s\n", argv[1]);
	}
	else
	{
		if ((rc = store_put(s, argv[1], argv[2], NULL, &r)) != 0)
			return fail(s, rc);
		printf("%s %s size=%llu sha256=%s\n", r.existed ? "exists" : "created", argv[1],
			   (unsigned long long) r.size, r.sha256);
	}
	store_close(s);
	return 0;
}

static int
cmd_rm(int argc, char **argv)
{
	store_t    *s;
	int			rc;

	if (argc != 2)
		return 2;
	s = open_url(argv[0]);
	if ((rc = store_delete(s, argv[1])) != 0)
		return fail(s, rc);
	printf("removed %s\n", argv[1]);
	store_close(s);
	return 0;
}

static void
print_chain(const store_seglist_t *l)
{
	for (size_t i = 0; i < l->n; i++)
		printf("%s %X/%X %X/%X txns=%llu%s\n", l->v[i].name,
			   (unsigned) (l->v[i].start_lsn >> 32), (unsigned) l->v[i].start_lsn,
			   (unsigned) (l->v[i].end_lsn >> 32), (unsigned) l->v[i].end_lsn,
			   (unsigned long long) l->v[i].txns, l->v[i].partial ? " open" : "");
}

static int
check_chain(const store_seglist_t *l)
{
	store_chain_problem_t p;
	char		msg[2048];

	if (store_seglist_check(l, &p) != 0)
	{
		store_chain_describe(l, &p, msg, sizeof(msg));
		fprintf(stderr, "store_tool: error: %s\n", msg);
		return 5;
	}
	printf("chain ok: %zu segments\n", l->n);
	return 0;
}

static int
cmd_segs(int argc, char **argv)
{
	store_t    *s;
	store_seglist_t l;
	int			rc;

	if (argc != 1)
		return 2;
	s = open_url(argv[0]);
	if (store_kind(s) == STORE_HTTP)
	{
		store_index_t ix;

		if ((rc = store_index_fetch(s, &ix, NULL, NULL, NULL)) != 0)
			return fail(s, rc);
		rc = store_seglist_from_index(&ix, &l);
		store_index_free(&ix);
	}
	else
	{
		store_list_t ol;

		if ((rc = store_list(s, "", &ol)) != 0)
			return fail(s, rc);
		rc = store_seglist_from_list(&ol, &l);
		store_list_free(&ol);
		for (size_t i = 0; rc == 0 && i < l.n; i++)
			if ((rc = store_segment_meta(s, &l.v[i])) != 0)
				return fail(s, rc);
		store_seglist_sort(&l);
	}
	if (rc != 0)
		return 1;
	print_chain(&l);
	rc = check_chain(&l);
	store_seglist_free(&l);
	store_close(s);
	return rc;
}

static int
cmd_publish(int argc, char **argv)
{
	store_t    *src;
	store_t    *dst;
	store_list_t ol;
	store_seglist_t l;
	store_index_t ix;
	bool		nm;
	int			rc;
	int			created = 0;
	int			existed = 0;

	if (argc != 2)
		return 2;
	src = open_url(argv[0]);
	dst = open_url(argv[1]);
	if ((rc = store_list(src, "", &ol)) != 0)
		return fail(src, rc);
	rc = store_seglist_from_list(&ol, &l);
	store_list_free(&ol);
	if (rc != 0)
		return 1;
	rc = store_index_fetch(dst, &ix, NULL, &nm, NULL);
	if (rc == -ENOENT)
		memset(&ix, 0, sizeof(ix));
	else if (rc != 0)
		return fail(dst, rc);
	for (size_t i = 0; i < l.n; i++)
	{
		store_segment_t *g = &l.v[i];
		store_put_result_t r;
		char		path[4200];

		if (g->partial)
			continue;			/* only closed segments leave the machine */
		if ((rc = store_segment_meta(src, g)) != 0)
			return fail(src, rc);
		store_local_path(src, g->name, path, sizeof(path));
		if ((rc = store_put(dst, g->name, path, NULL, &r)) != 0)
			return fail(dst, rc);
		memcpy(g->sha256, r.sha256, sizeof(g->sha256));
		if ((rc = store_index_put_segment(&ix, g)) != 0)
		{
			fprintf(stderr, "store_tool: error: segment \"%s\" does not belong to the store's history\n", g->name);
			return 5;
		}
		r.existed ? existed++ : created++;
	}
	/* objects first, the index last */
	ix.updated = (int64_t) (time(NULL) - 946684800) * 1000000;
	if ((rc = store_index_publish(dst, &ix)) != 0)
		return fail(dst, rc);
	printf("published %d segments, %d already there, index of %zu\n", created, existed, ix.nsegs);
	store_index_free(&ix);
	store_seglist_free(&l);
	store_close(src);
	store_close(dst);
	return 0;
}

static int
cmd_poll(int argc, char **argv)
{
	store_t    *s;
	store_index_t ix;
	bool		nm = false;
	char		etag[STORE_ETAG_MAX];
	int			rc;

	if (argc < 1)
		return 2;
	s = open_url(argv[0]);
	if ((rc = store_index_fetch(s, &ix, argc > 1 ? argv[1] : NULL, &nm, etag)) != 0)
		return fail(s, rc);
	if (nm)
		printf("not modified etag=%s\n", etag);
	else
	{
		printf("index etag=%s segments=%zu\n", etag, ix.nsegs);
		store_index_free(&ix);
	}
	store_close(s);
	return 0;
}

static int
cmd_mkseg(int argc, char **argv)
{
	proto_wbuf_t out;
	proto_wbuf_t pl;
	seg_header_t h;
	seg_footer_t ft;
	char		name[SEG_NAME_LEN + 1];
	char		path[4200];
	uint64_t	at;
	FILE	   *f;

	if (argc != 4)
		return 2;
	memset(&h, 0, sizeof(h));
	memset(&ft, 0, sizeof(ft));
	h.version = 1;
	h.wire_version = 1;
	h.system_id = 7710844410833677738ULL;
	h.timeline = 1;
	h.dbname = (proto_str_t) {"postgres", 8};
	h.slot = (proto_str_t) {"s1", 2};
	h.server_version = 150000;
	h.encoding = (proto_str_t) {"UTF8", 4};
	h.bucket_start = (strtoll(argv[1], NULL, 10) - 946684800) * 1000000;
	h.bucket_seconds = 3600;
	h.start_lsn = strtoull(argv[2], NULL, 16);
	h.created = h.bucket_start;
	ft.last_lsn = strtoull(argv[3], NULL, 16);
	ft.first_lsn = ft.last_lsn > h.start_lsn ? h.start_lsn : 0;
	ft.ntxns = ft.last_lsn > h.start_lsn ? 1 : 0;
	ft.first_time = ft.last_time = h.bucket_start + 1000000;
	proto_wbuf_init_heap(&out);
	proto_wbuf_init_heap(&pl);
	proto_put_bytes(&out, SEG_FILE_MAGIC, SEG_FILE_MAGIC_LEN);
	seg_header_write(&pl, &h);
	seg_block_encode(&out, NULL, SEG_KIND_HEADER, SEG_CODEC_NONE, 0, 0, pl.data, pl.len);
	at = out.len;
	proto_wbuf_reset(&pl);
	seg_footer_write(&pl, &ft);
	seg_footer_begin_tables(&pl, 0);
	seg_block_encode(&out, NULL, SEG_KIND_FOOTER, SEG_CODEC_NONE, 0, 0, pl.data, pl.len);
	seg_trailer_write(&out, at);
	seg_name_format(name, h.bucket_start, h.start_lsn);
	snprintf(path, sizeof(path), "%s/%s%s", argv[0], name, SEG_SUFFIX);
	if (out.err || (f = fopen(path, "wb")) == NULL || fwrite(out.data, 1, out.len, f) != out.len ||
		fclose(f) != 0)
	{
		fprintf(stderr, "store_tool: error: could not write \"%s\"\n", path);
		return 1;
	}
	printf("%s%s\n", name, SEG_SUFFIX);
	proto_wbuf_free(&out);
	proto_wbuf_free(&pl);
	return 0;
}

int
main(int argc, char **argv)
{
	int			i = 1;
	const char *cmd;

	while (i + 1 < argc && strncmp(argv[i], "--", 2) == 0)
	{
		if (strcmp(argv[i], "--retries") == 0)
			opts.retries = atoi(argv[i + 1]) == 0 ? -1 : atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--page") == 0)
			opts.list_page = atoi(argv[i + 1]);
		else
			break;
		i += 2;
	}
	if (i + 1 >= argc)
	{
		fprintf(stderr, "usage: store_tool [--retries N] [--page N] ls|head|get|put|replace|rm|publish|segs|poll URL ...\n");
		return 2;
	}
	opts.retry_base_ms = 50;
	opts.retry_max_ms = 500;
	cmd = argv[i++];
	argc -= i;
	argv += i;
	if (strcmp(cmd, "ls") == 0)
		return cmd_ls(argc, argv);
	if (strcmp(cmd, "head") == 0)
		return cmd_head(argc, argv);
	if (strcmp(cmd, "get") == 0)
		return cmd_get(argc, argv);
	if (strcmp(cmd, "put") == 0)
		return cmd_put(argc, argv, false);
	if (strcmp(cmd, "replace") == 0)
		return cmd_put(argc, argv, true);
	if (strcmp(cmd, "rm") == 0)
		return cmd_rm(argc, argv);
	if (strcmp(cmd, "publish") == 0)
		return cmd_publish(argc, argv);
	if (strcmp(cmd, "segs") == 0)
		return cmd_segs(argc, argv);
	if (strcmp(cmd, "poll") == 0)
		return cmd_poll(argc, argv);
	if (strcmp(cmd, "mkseg") == 0)
		return cmd_mkseg(argc, argv);
	fprintf(stderr, "store_tool: unknown command \"%s\"\n", cmd);
	return 2;
}
