/*
 * tests/unit/test_store_local.c
 *		store/ on a local directory: create-only puts and the archive-push
 *		rule, atomic replace, gets with checksums and ETags, names; the
 *		listing of segments by the LSNs in the files (headers and footers
 *		read through the store, checked against proto's own reader and
 *		against the golden segment the streamer wrote) and the chain
 *		check; the index published and polled.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tide/store.h"
#include "tide/segment.h"

static char dir[256];

static void
write_file(const char *path, const char *text)
{
	FILE	   *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static const char *
read_file(const char *path)
{
	static char buf[8192];
	FILE	   *f = fopen(path, "r");
	size_t		n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int
setup(void **state)
{
	(void) state;
	snprintf(dir, sizeof(dir), "%s/tide-store-test-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int
rm_tree(const char *path)
{
	char		cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	return system(cmd);
}

static int
teardown(void **state)
{
	(void) state;
	rm_tree(dir);
	return 0;
}

static store_t *
open_dir(const char *path)
{
	store_t    *s = NULL;
	char		err[STORE_ERRLEN];

	if (store_open(path, NULL, &s, err) != 0)
		fail_msg("store_open %s: %s", path, err);
	return s;
}

/*
 * make_segment - a segment file as the streamer writes one: magic, header
 * block, (no data blocks: nothing here reads them), footer, trailer.
 */
static void
make_segment(const char *d, proto_time_t bucket, proto_lsn_t start, proto_lsn_t end,
			 uint64_t sysid, const char *slot, bool closed, char *name_out)
{
	proto_wbuf_t out;
	proto_wbuf_t pl;
	char		name[SEG_NAME_LEN + 1];
	char		path[512];
	seg_header_t h;
	FILE	   *f;

	memset(&h, 0, sizeof(h));
	proto_wbuf_init_heap(&out);
	proto_wbuf_init_heap(&pl);
	proto_put_bytes(&out, SEG_FILE_MAGIC, SEG_FILE_MAGIC_LEN);
	h.version = 1;
	h.wire_version = 1;
	h.system_id = sysid;
	h.timeline = 1;
	h.dboid = 5;
	h.dbname.p = "db";
	h.dbname.n = 2;
	h.slot.p = slot;
	h.slot.n = strlen(slot);
	h.server_version = 150000;
	h.encoding.p = "UTF8";
	h.encoding.n = 4;
	h.bucket_start = bucket;
	h.bucket_seconds = 3600;
	h.start_lsn = start;
	h.created = bucket;
	assert_int_equal(seg_header_write(&pl, &h), 0);
	assert_int_equal(seg_block_encode(&out, NULL, SEG_KIND_HEADER, SEG_CODEC_NONE, 0, 0, pl.data, pl.len), 0);
	if (closed)
	{
		seg_footer_t ft;
		uint64_t	at = out.len;

		memset(&ft, 0, sizeof(ft));
		ft.first_lsn = end > start ? start + 0x28 : 0;
		ft.last_lsn = end;
		ft.first_time = bucket + 1000000;
		ft.last_time = bucket + 2000000;
		ft.ntxns = end > start ? 2 : 0;
		ft.nchanges = end > start ? 7 : 0;
		proto_wbuf_reset(&pl);
		assert_int_equal(seg_footer_write(&pl, &ft), 0);
		assert_int_equal(seg_footer_begin_tables(&pl, 0), 0);
		assert_int_equal(seg_block_encode(&out, NULL, SEG_KIND_FOOTER, SEG_CODEC_NONE, 0, 0, pl.data, pl.len), 0);
		seg_trailer_write(&out, at);
	}
	seg_name_format(name, bucket, start);
	snprintf(name_out, 64, "%s%s", name, closed ? SEG_SUFFIX : SEG_PARTIAL_SUFFIX);
	snprintf(path, sizeof(path), "%s/%s", d, name_out);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(out.data, 1, out.len, f), out.len);
	fclose(f);
	proto_wbuf_free(&out);
	proto_wbuf_free(&pl);
}

#define HOUR INT64_C(3600000000)
#define T0 (INT64_C(848491200) * 1000000)	/* 2026-11-20 12:00 UTC */

/* ------------------------------------------------------------- objects */

static void
test_put_rules(void **state)
{
	char		src[300];
	char		other[300];
	char		path[512];
	store_put_result_t r;
	store_list_t l;
	struct stat st;
	store_t    *s = open_dir(dir);

	(void) state;
	snprintf(src, sizeof(src), "%s.src", dir);
	snprintf(other, sizeof(other), "%s.other", dir);
	write_file(src, "first content\n");
	write_file(other, "other content\n");
	chmod(src, 0600);

	/* create, into a subdirectory made on the way */
	assert_int_equal(store_put(s, "base/20261120T120000Z/toc.dat", src, NULL, &r), 0);
	assert_false(r.existed);
	assert_int_equal(r.size, 14);
	snprintf(path, sizeof(path), "%s/base/20261120T120000Z/toc.dat", dir);
	assert_string_equal(read_file(path), "first content\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* the same again: a no-op; other content: refused, nothing changed */
	assert_int_equal(store_put(s, "base/20261120T120000Z/toc.dat", src, NULL, &r), 0);
	assert_true(r.existed);
	assert_int_equal(store_put(s, "base/20261120T120000Z/toc.dat", other, NULL, &r), -EEXIST);
	assert_non_null(strstr(store_errmsg(s), "already exists"));
	assert_non_null(strstr(store_errmsg(s), "with other content"));
	assert_string_equal(read_file(path), "first content\n");

	/* a checksum given that the file does not have: refused */
	assert_int_equal(store_put(s, "x.dat", src, "0000000000000000000000000000000000000000000000000000000000000000", &r),
					 TIDE_ECHECKSUM);

	/* replace overwrites */
	assert_int_equal(store_replace(s, "base/20261120T120000Z/toc.dat", other), 0);
	assert_string_equal(read_file(path), "other content\n");

	/* no temporary file is left or listed */
	assert_int_equal(store_list(s, "", &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].name, "base/20261120T120000Z/toc.dat");
	assert_int_equal(l.v[0].size, 14);
	store_list_free(&l);
	{
		DIR		   *d;
		struct dirent *de;
		int			n = 0;

		snprintf(path, sizeof(path), "%s/base/20261120T120000Z", dir);
		d = opendir(path);
		while ((de = readdir(d)) != NULL)
			n += de->d_name[0] != '.';
		closedir(d);
		assert_int_equal(n, 1);
	}

	/* names that could leave the root, or are not names */
	assert_int_equal(store_put(s, "../escape", src, NULL, &r), -EINVAL);
	assert_int_equal(store_put(s, "/abs", src, NULL, &r), -EINVAL);
	assert_int_equal(store_put(s, "a//b", src, NULL, &r), -EINVAL);
	assert_int_equal(store_put(s, "a/./b", src, NULL, &r), -EINVAL);
	assert_int_equal(store_put(s, "a/", src, NULL, &r), -EINVAL);

	assert_int_equal(store_delete(s, "base/20261120T120000Z/toc.dat"), 0);
	assert_int_equal(store_delete(s, "base/20261120T120000Z/toc.dat"), 0);
	assert_int_equal(access(path, F_OK), 0);	/* the directory stays */
	store_close(s);
	unlink(src);
	unlink(other);
	rm_tree(dir);
	mkdir(dir, 0700);
}

static void
test_get_rules(void **state)
{
	char		src[300];
	char		dst[300];
	store_get_result_t r;
	store_get_opts_t o = {0};
	store_put_result_t pr;
	store_t    *s = open_dir(dir);
	char		etag[STORE_ETAG_MAX];

	(void) state;
	snprintf(src, sizeof(src), "%s.src", dir);
	snprintf(dst, sizeof(dst), "%s.dst", dir);
	write_file(src, "segment\n");
	assert_int_equal(store_put(s, "a.tseg", src, NULL, &pr), 0);

	o.sha256 = pr.sha256;
	assert_int_equal(store_get(s, "a.tseg", dst, &o, &r), 0);
	assert_string_equal(read_file(dst), "segment\n");
	assert_string_equal(r.sha256, pr.sha256);
	assert_false(r.not_modified);
	snprintf(etag, sizeof(etag), "%s", r.etag);

	/* polling: the same ETag, nothing written */
	unlink(dst);
	o.if_none_match = etag;
	assert_int_equal(store_get(s, "a.tseg", dst, &o, &r), 0);
	assert_true(r.not_modified);
	assert_int_equal(access(dst, F_OK), -1);

	/* a replaced object has another ETag */
	write_file(src, "segment, again\n");
	assert_int_equal(store_replace(s, "a.tseg", src), 0);
	o.sha256 = NULL;
	assert_int_equal(store_get(s, "a.tseg", dst, &o, &r), 0);
	assert_false(r.not_modified);
	assert_string_not_equal(r.etag, etag);
	assert_string_equal(read_file(dst), "segment, again\n");

	/* a checksum mismatch: an error, and no file under the name */
	unlink(dst);
	o.if_none_match = NULL;
	o.sha256 = pr.sha256;
	assert_int_equal(store_get(s, "a.tseg", dst, &o, &r), TIDE_ECHECKSUM);
	assert_non_null(strstr(store_errmsg(s), "not"));
	assert_int_equal(access(dst, F_OK), -1);

	assert_int_equal(store_get(s, "missing.tseg", dst, NULL, NULL), -ENOENT);
	assert_non_null(strstr(store_errmsg(s), "missing.tseg"));
	store_close(s);
	unlink(src);
	rm_tree(dir);
	mkdir(dir, 0700);
}

/* ------------------------------------------------------------- segments */

static void
check_against_reader(const char *path, const store_segment_t *g)
{
	seg_reader_t r;
	seg_footer_t f;
	uint64_t	at;

	assert_int_equal(seg_reader_open(&r, path, &at), 0);
	assert_true(g->known);
	assert_true(g->start_lsn == r.header.start_lsn);
	assert_true(g->system_id == r.header.system_id);
	assert_int_equal(g->timeline, r.header.timeline);
	assert_int_equal(strlen(g->slot), r.header.slot.n);
	assert_memory_equal(g->slot, r.header.slot.p, r.header.slot.n);
	assert_int_equal(g->bucket_seconds, r.header.bucket_seconds);
	assert_true(g->bucket_start == r.header.bucket_start);
	if (r.closed)
	{
		assert_int_equal(seg_reader_footer(&r, &f), 0);
		assert_true(g->end_lsn == (f.ntxns ? f.last_lsn : r.header.start_lsn));
		assert_int_equal(g->txns, f.ntxns);
		assert_true(g->first_time == f.first_time);
		assert_true(g->last_time == f.last_time);
	}
	seg_reader_close(&r);
}

static void
test_segments_by_lsn(void **state)
{
	char		n[5][64];
	char		path[512];
	store_list_t l;
	store_seglist_t sl;
	store_chain_problem_t p;
	char		msg[1024];
	store_t    *s;

	(void) state;
	/* three closed segments (one of an idle hour) and the open one */
	make_segment(dir, T0, 0x1000000, 0x1000800, 77, "s1", true, n[0]);
	make_segment(dir, T0 + HOUR, 0x1000800, 0x1000800, 77, "s1", true, n[1]);	/* idle */
	make_segment(dir, T0 + 2 * HOUR, 0x1000800, 0x2000000, 77, "s1", true, n[2]);
	make_segment(dir, T0 + 3 * HOUR, 0x2000000, 0, 77, "s1", false, n[3]);
	snprintf(path, sizeof(path), "%s/README", dir);
	write_file(path, "not a segment");
	snprintf(path, sizeof(path), "%s/%s", dir, STORE_INDEX_NAME);
	write_file(path, "{}");

	s = open_dir(dir);
	assert_int_equal(store_list(s, "", &l), 0);
	assert_int_equal(l.n, 6);
	assert_int_equal(store_seglist_from_list(&l, &sl), 0);
	store_list_free(&l);
	assert_int_equal(sl.n, 4);
	for (size_t i = 0; i < sl.n; i++)
	{
		assert_int_equal(store_segment_meta(s, &sl.v[i]), 0);
		snprintf(path, sizeof(path), "%s/%s", dir, sl.v[i].name);
		check_against_reader(path, &sl.v[i]);
	}
	store_seglist_sort(&sl);
	/* the idle hour shares its start LSN with the next: the bucket orders */
	assert_string_equal(sl.v[0].name, n[0]);
	assert_string_equal(sl.v[1].name, n[1]);
	assert_string_equal(sl.v[2].name, n[2]);
	assert_string_equal(sl.v[3].name, n[3]);
	assert_true(sl.v[3].partial);
	assert_int_equal(sl.v[2].txns, 2);
	assert_int_equal(store_seglist_check(&sl, &p), 0);

	/* a segment missing from the middle: a gap naming both objects */
	sl.v[1] = sl.v[0];
	memmove(&sl.v[1], &sl.v[2], 2 * sizeof(sl.v[0]));
	sl.n = 3;
	sl.v[0].end_lsn = 0x1000700;
	assert_int_equal(store_seglist_check(&sl, &p), TIDE_EBADVALUE);
	assert_int_equal(p.kind, STORE_CHAIN_GAP);
	store_chain_describe(&sl, &p, msg, sizeof(msg));
	assert_non_null(strstr(msg, "from 0/1000700 to 0/1000800"));
	assert_non_null(strstr(msg, n[0]));
	assert_non_null(strstr(msg, n[2]));
	store_seglist_free(&sl);
	store_close(s);
	rm_tree(dir);
	mkdir(dir, 0700);
}

static void
test_chain_rules(void **state)
{
	char		n[4][64];
	store_list_t l;
	store_seglist_t sl;
	store_chain_problem_t p;
	char		msg[1024];
	char		path[512];
	store_t    *s;
	int			fd;

	(void) state;
	make_segment(dir, T0, 0x1000, 0x2000, 77, "s1", true, n[0]);
	make_segment(dir, T0 + HOUR, 0x2000, 0x3000, 77, "s1", false, n[1]);	/* open, not last */
	make_segment(dir, T0 + 2 * HOUR, 0x3000, 0x4000, 77, "s1", true, n[2]);
	s = open_dir(dir);
	assert_int_equal(store_list(s, "", &l), 0);
	assert_int_equal(store_seglist_from_list(&l, &sl), 0);
	store_list_free(&l);
	for (size_t i = 0; i < sl.n; i++)
		assert_int_equal(store_segment_meta(s, &sl.v[i]), 0);
	store_seglist_sort(&sl);
	sl.v[1].end_lsn = 0x3000;	/* as if its tail had been scanned */
	assert_int_equal(store_seglist_check(&sl, &p), TIDE_EBADVALUE);
	assert_int_equal(p.kind, STORE_CHAIN_PARTIAL);
	store_chain_describe(&sl, &p, msg, sizeof(msg));
	assert_non_null(strstr(msg, n[1]));
	assert_non_null(strstr(msg, "not the newest"));

	/* another source */
	sl.v[1].partial = false;
	memcpy(sl.v[1].name, n[1], strlen(n[1]) + 1);
	*strstr(sl.v[1].name, ".partial") = '\0';
	sl.v[2].system_id = 78;
	assert_int_equal(store_seglist_check(&sl, &p), TIDE_EBADVALUE);
	assert_int_equal(p.kind, STORE_CHAIN_SOURCE);
	sl.v[2].system_id = 77;

	/* an overlap: a segment of another history */
	sl.v[2].start_lsn = 0x2800;
	seg_name_format(sl.v[2].name, sl.v[2].bucket_start, 0x2800);
	strcat(sl.v[2].name, SEG_SUFFIX);
	assert_int_equal(store_seglist_check(&sl, &p), TIDE_EBADVALUE);
	assert_int_equal(p.kind, STORE_CHAIN_OVERLAP);
	store_chain_describe(&sl, &p, msg, sizeof(msg));
	assert_non_null(strstr(msg, "overlap"));
	store_seglist_free(&sl);

	/* a name that disagrees with its header: the file wins, and it is an error */
	snprintf(path, sizeof(path), "%s/%s", dir, n[2]);
	{
		char		lie[64];
		char		lpath[512];

		snprintf(lie, sizeof(lie), "%s", n[2]);
		memcpy(lie + 17, "0000000000003100", 16);
		snprintf(lpath, sizeof(lpath), "%s/%s", dir, lie);
		assert_int_equal(rename(path, lpath), 0);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, n[1]);
	unlink(path);
	assert_int_equal(store_list(s, "", &l), 0);
	assert_int_equal(store_seglist_from_list(&l, &sl), 0);
	store_list_free(&l);
	for (size_t i = 0; i < sl.n; i++)
		assert_int_equal(store_segment_meta(s, &sl.v[i]), 0);
	store_seglist_sort(&sl);
	assert_int_equal(store_seglist_check(&sl, &p), TIDE_EBADVALUE);
	assert_int_equal(p.kind, STORE_CHAIN_NAME);
	store_chain_describe(&sl, &p, msg, sizeof(msg));
	assert_non_null(strstr(msg, "its header says it starts at 0/3000"));

	/* a damaged header: the checksum catches it */
	snprintf(path, sizeof(path), "%s/%s", dir, n[0]);
	fd = open(path, O_WRONLY);
	assert_int_equal(pwrite(fd, "X", 1, 8 + 32 + 3), 1);
	close(fd);
	for (size_t i = 0; i < sl.n; i++)
		if (strcmp(sl.v[i].name, n[0]) == 0)
		{
			assert_int_equal(store_segment_meta(s, &sl.v[i]), TIDE_ECHECKSUM);
			assert_non_null(strstr(store_errmsg(s), n[0]));
		}
	store_seglist_free(&sl);
	store_close(s);
	rm_tree(dir);
	mkdir(dir, 0700);
}

/* The golden segment, written by the streamer: the store reads it as proto does. */
static void
test_golden_meta(void **state)
{
	store_segment_t g;
	store_t    *s = open_dir("golden");

	(void) state;
	memset(&g, 0, sizeof(g));
	snprintf(g.name, sizeof(g.name), "v1_segment.tseg");
	assert_int_equal(store_segment_meta(s, &g), 0);
	check_against_reader("golden/v1_segment.tseg", &g);
	assert_true(g.start_lsn == 0x1538BA8);
	assert_true(g.system_id == UINT64_C(7710844410833677738));
	assert_string_equal(g.slot, "s1");
	assert_true(g.end_lsn > g.start_lsn);
	store_close(s);
}

/* ------------------------------------------------------------- index */

static void
test_index_publish_poll(void **state)
{
	char		n[3][64];
	store_list_t l;
	store_seglist_t sl;
	store_index_t ix;
	store_index_t back;
	store_seglist_t fromix;
	store_chain_problem_t p;
	char		etag[STORE_ETAG_MAX];
	char		etag2[STORE_ETAG_MAX];
	char		path[512];
	bool		nm;
	store_t    *s;

	(void) state;
	make_segment(dir, T0, 0x1000, 0x2000, 77, "s1", true, n[0]);
	make_segment(dir, T0 + HOUR, 0x2000, 0x3000, 77, "s1", true, n[1]);
	make_segment(dir, T0 + 2 * HOUR, 0x3000, 0x4000, 77, "s1", true, n[2]);
	s = open_dir(dir);
	assert_int_equal(store_list(s, "", &l), 0);
	assert_int_equal(store_seglist_from_list(&l, &sl), 0);
	store_list_free(&l);
	memset(&ix, 0, sizeof(ix));
	ix.updated = T0 + 3 * HOUR;
	/* put in reverse: the index keeps LSN order */
	for (size_t i = sl.n; i-- > 0;)
	{
		assert_int_equal(store_segment_meta(s, &sl.v[i]), 0);
		snprintf(path, sizeof(path), "%s/%s", dir, sl.v[i].name);
		assert_int_equal(store_sha256_file(path, sl.v[i].sha256), 0);
		assert_int_equal(store_index_put_segment(&ix, &sl.v[i]), 0);
	}
	assert_string_equal(ix.segs[0].name, n[0]);
	assert_string_equal(ix.segs[2].name, n[2]);
	{
		store_segment_t alien = sl.v[0];

		alien.system_id = 99;
		assert_int_equal(store_index_put_segment(&ix, &alien), TIDE_EBADVALUE);
	}
	assert_int_equal(store_index_publish(s, &ix), 0);

	/* fetch, then poll: unchanged until it is published again */
	assert_int_equal(store_index_fetch(s, &back, NULL, &nm, etag), 0);
	assert_false(nm);
	assert_int_equal(back.nsegs, 3);
	assert_true(back.system_id == 77);
	for (size_t i = 0; i < 3; i++)
	{
		assert_string_equal(back.segs[i].name, ix.segs[i].name);
		assert_true(back.segs[i].start_lsn == ix.segs[i].start_lsn);
		assert_true(back.segs[i].end_lsn == ix.segs[i].end_lsn);
		assert_true(back.segs[i].first_time == ix.segs[i].first_time);
		assert_int_equal(back.segs[i].size, ix.segs[i].size);
		assert_string_equal(back.segs[i].sha256, ix.segs[i].sha256);
	}
	assert_int_equal(store_seglist_from_index(&back, &fromix), 0);
	assert_int_equal(store_seglist_check(&fromix, &p), 0);
	store_seglist_free(&fromix);
	store_index_free(&back);
	assert_int_equal(store_index_fetch(s, &back, etag, &nm, etag2), 0);
	assert_true(nm);
	store_index_drop_segment(&ix, n[0]);
	assert_int_equal(store_index_publish(s, &ix), 0);
	assert_int_equal(store_index_fetch(s, &back, etag, &nm, etag2), 0);
	assert_false(nm);
	assert_int_equal(back.nsegs, 2);
	assert_string_not_equal(etag, etag2);
	store_index_free(&back);

	/* the text: LSNs as PostgreSQL writes them, no temporary file left */
	snprintf(path, sizeof(path), "%s/%s", dir, STORE_INDEX_NAME);
	assert_non_null(strstr(read_file(path), "\"start_lsn\": \"0/2000\""));
	assert_non_null(strstr(read_file(path), "\"system_identifier\": \"77\""));
	assert_int_equal(store_list(s, "", &l), 0);
	assert_int_equal(l.n, 4);
	store_list_free(&l);

	store_index_free(&ix);
	store_seglist_free(&sl);
	store_close(s);
	rm_tree(dir);
	mkdir(dir, 0700);
}

static void
test_index_damage(void **state)
{
	static const char good[] =
		"{\"format\": 1, \"updated\": \"x\", \"updated_usec\": 1,\n"
		" \"source\": {\"system_identifier\": \"77\", \"timeline\": 1, \"slot\": \"s1\"},\n"
		" \"segments\": [\n"
		"  {\"name\": \"20261120T120000Z_0000000000001000.tseg\", \"start_lsn\": \"0/1000\", \"end_lsn\": \"0/2000\",\n"
		"   \"bucket_start_usec\": 848491200000000, \"bucket_seconds\": 3600, \"first_commit_usec\": 1,\n"
		"   \"last_commit_usec\": 2, \"transactions\": 1, \"size\": 100,\n"
		"   \"sha256\": \"%s\"}],\n"
		" \"bases\": [%s]}\n";
	static const char *sha_ok = "00000000000000000000000000000000000000000000000000000000000000ff";
	char		text[4096];
	char		err[STORE_ERRLEN];
	store_index_t ix;

	(void) state;
	snprintf(text, sizeof(text), good, sha_ok, "");
	if (store_index_parse(text, strlen(text), &ix, err) != 0)
		fail_msg("%s", err);
	assert_int_equal(ix.nsegs, 1);
	assert_true(ix.segs[0].end_lsn == 0x2000);
	store_index_free(&ix);

	/* torn: half of it */
	assert_int_equal(store_index_parse(text, strlen(text) / 2, &ix, err), TIDE_EBADVALUE);
	assert_non_null(strstr(err, "not valid JSON"));

	/* a bad checksum, named with its entry */
	snprintf(text, sizeof(text), good, "ABC", "");
	assert_int_equal(store_index_parse(text, strlen(text), &ix, err), TIDE_EBADVALUE);
	assert_non_null(strstr(err, "\"segments[0].sha256\""));

	/* a name that disagrees with its start LSN */
	snprintf(text, sizeof(text), good, sha_ok, "");
	memcpy(strstr(text, "\"0/1000\""), "\"0/1100\"", 8);
	assert_int_equal(store_index_parse(text, strlen(text), &ix, err), TIDE_EBADVALUE);
	assert_non_null(strstr(err, "start_lsn"));

	/* a newer format is refused, not misread */
	snprintf(text, sizeof(text), good, sha_ok, "");
	memcpy(strstr(text, "\"format\": 1"), "\"format\": 9", 11);
	assert_int_equal(store_index_parse(text, strlen(text), &ix, err), TIDE_EBADVERSION);

	/* a base whose manifest lacks its consistent point */
	snprintf(text, sizeof(text), good, sha_ok,
			 "{\"name\": \"20261120T120000Z\", \"files\": [{\"name\": \"toc.dat\", \"size\": 1, \"sha256\": \""
			 "00000000000000000000000000000000000000000000000000000000000000ff\"}],"
			 " \"manifest\": {\"format\": 1}}");
	assert_int_equal(store_index_parse(text, strlen(text), &ix, err), TIDE_EBADVALUE);
	assert_non_null(strstr(err, "bases[0].manifest."));
}

/* ------------------------------------------------------------- manifest */

/* manifest.json exactly as streamer/base.c's base_manifest_write writes it */
static const char todays_manifest[] =
	"{\n"
	"  \"format\": 1,\n"
	"  \"system_identifier\": \"7710844410833677738\",\n"
	"  \"timeline\": 1,\n"
	"  \"database\": \"app \\\"db\\\"\",\n"
	"  \"encoding\": \"UTF8\",\n"
	"  \"server_version_num\": 150020,\n"
	"  \"slot\": \"s1\",\n"
	"  \"consistent_point\": \"16/B374D848\",\n"
	"  \"snapshot\": \"00000003-00000002-1\",\n"
	"  \"start_time\": \"2026-11-20T13:00:00.000001Z\",\n"
	"  \"start_time_usec\": 848494800000001,\n"
	"  \"end_time\": \"2026-11-20T13:05:00.000000Z\",\n"
	"  \"end_time_usec\": 848495100000000,\n"
	"  \"source_time\": \"2026-11-20T13:00:00.500000Z\",\n"
	"  \"source_time_usec\": 848494800500000,\n"
	"  \"pg_dump_version\": \"pg_dump (PostgreSQL) 15.4\",\n"
	"  \"jobs\": 4,\n"
	"  \"roles\": [\"app\", \"reader\"],\n"
	"  \"roles_without_acl\": [\"reader\"],\n"
	"  \"extensions\": [\"citext\", \"plpgsql\"],\n"
	"  \"extension_versions\": [\"1.6\", \"1.0\"],\n"
	"  \"tide_version\": \"tide (wire format 1)\"\n"
	"}\n";

static void
test_manifest(void **state)
{
	char		path[512];
	char		path2[512];
	char		err[STORE_ERRLEN];
	store_manifest_t m;
	store_manifest_t m2;
	struct stat st;

	(void) state;
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	write_file(path, todays_manifest);
	assert_int_equal(store_manifest_read(path, &m, err), 0);
	assert_int_equal(m.format, 1);
	assert_true(m.system_id == UINT64_C(7710844410833677738));
	assert_int_equal(m.timeline, 1);
	assert_string_equal(m.dbname, "app \"db\"");
	assert_string_equal(m.slot, "s1");
	assert_int_equal(m.server_version, 150020);
	assert_true(m.consistent_point == UINT64_C(0x16B374D848));
	assert_string_equal(m.snapshot, "00000003-00000002-1");
	assert_true(m.start_time == INT64_C(848494800000001));
	assert_true(m.source_time == INT64_C(848494800500000));
	assert_int_equal(m.jobs, 4);
	assert_true(m.recorded);
	assert_int_equal(m.nroles, 2);
	assert_string_equal(m.roles[1], "reader");
	assert_int_equal(m.nroles_no_acl, 1);
	assert_int_equal(m.nexts, 2);
	assert_string_equal(m.exts[0], "citext");
	assert_string_equal(m.ext_versions[0], "1.6");

	/* written and read back: the same fields; owner-only, never overwritten */
	snprintf(path2, sizeof(path2), "%s/manifest2.json", dir);
	assert_int_equal(store_manifest_write(path2, &m, err), 0);
	assert_int_equal(stat(path2, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(store_manifest_write(path2, &m, err), -EEXIST);
	assert_int_equal(store_manifest_read(path2, &m2, err), 0);
	assert_true(m2.system_id == m.system_id);
	assert_true(m2.consistent_point == m.consistent_point);
	assert_true(m2.end_time == m.end_time);
	assert_true(m2.source_time == m.source_time);
	assert_string_equal(m2.dbname, m.dbname);
	assert_string_equal(m2.pg_dump_version, m.pg_dump_version);
	assert_int_equal(m2.nexts, 2);
	assert_string_equal(m2.ext_versions[1], "1.0");
	assert_non_null(strstr(read_file(path2), "\"consistent_point\": \"16/B374D848\""));
	assert_non_null(strstr(read_file(path2), "\"start_time\": \"2026-11-20T13:00:00.000001Z\""));
	store_manifest_free(&m2);
	store_manifest_free(&m);

	/* an earlier tide's base: no source time, no prerequisites */
	{
		char		old[4096];
		char	   *p;

		snprintf(old, sizeof(old), "%s", todays_manifest);
		p = strstr(old, "  \"source_time\"");
		memmove(p, strstr(p, "  \"pg_dump_version\""), strlen(strstr(p, "  \"pg_dump_version\"")) + 1);
		p = strstr(old, "  \"roles\"");
		memmove(p, strstr(p, "  \"tide_version\""), strlen(strstr(p, "  \"tide_version\"")) + 1);
		unlink(path);
		write_file(path, old);
		assert_int_equal(store_manifest_read(path, &m, err), 0);
		assert_false(m.recorded);
		assert_true(m.source_time == 0);
		store_manifest_free(&m);
	}

	/* damage is named, never read as zero */
	{
		static const struct
		{
			const char *from;
			const char *to;
			const char *field;
			int			rc;
		}			cases[] = {
			{"\"consistent_point\": \"16/B374D848\"", "\"consistent_point\": \"16-B374D848\"", "consistent_point", TIDE_EBADVALUE},
			{"\"format\": 1", "\"format\": 2", NULL, TIDE_EBADVERSION},
			{"\"jobs\": 4", "\"jobs\": \"4\"", "jobs", TIDE_EBADVALUE},
			{"\"system_identifier\": \"7710844410833677738\"", "\"system_identifier\": \"-1\"", "system_identifier", TIDE_EBADVALUE},
			{"[\"1.6\", \"1.0\"]", "[\"1.6\"]", "extension_versions", TIDE_EBADVALUE},
			{"\"slot\": \"s1\"", "\"slot\": \"\"", "slot", TIDE_EBADVALUE},
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		{
			char		bad[4096];
			char	   *at;

			snprintf(bad, sizeof(bad), "%s", todays_manifest);
			at = strstr(bad, cases[i].from);
			assert_non_null(at);
			memmove(at + strlen(cases[i].to), at + strlen(cases[i].from), strlen(at + strlen(cases[i].from)) + 1);
			memcpy(at, cases[i].to, strlen(cases[i].to));
			unlink(path);
			write_file(path, bad);
			assert_int_equal(store_manifest_read(path, &m, err), cases[i].rc);
			if (cases[i].field)
				assert_non_null(strstr(err, cases[i].field));
		}
	}
	unlink(path);
	write_file(path, "{\"format\": 1, \"system_identifier\": \"1\"");
	assert_int_equal(store_manifest_read(path, &m, err), TIDE_EBADVALUE);
	assert_non_null(strstr(err, "damaged"));
	unlink(path);
	unlink(path2);
}

/*
 * A download is checked block by block before it gets its name: the
 * golden segment passes, a flipped byte is found at its block, a segment
 * that starts elsewhere than the index says is refused.
 */
static void
test_verify(void **state)
{
	char		path[512];
	char		cmd[1024];
	uint64_t	off = 1;
	FILE	   *f;

	(void) state;
	assert_int_equal(store_segment_verify("golden/v1_segment.tseg", 0x1538BA8, &off), 0);
	assert_true(off == 0);
	assert_int_equal(store_segment_verify("golden/v1_segment.tseg", 0x1538BA0, &off), TIDE_EBADVALUE);
	snprintf(path, sizeof(path), "%s/flipped.tseg", dir);
	snprintf(cmd, sizeof(cmd), "cp golden/v1_segment.tseg '%s'", path);
	assert_int_equal(system(cmd), 0);
	f = fopen(path, "r+b");
	assert_non_null(f);
	fseek(f, 400, SEEK_SET);
	{
		int			c = fgetc(f);

		fseek(f, 400, SEEK_SET);
		fputc(c ^ 0x40, f);
	}
	fclose(f);
	assert_int_equal(store_segment_verify(path, 0x1538BA8, &off), TIDE_ECHECKSUM);
	assert_true(off > 0 && off <= 400);
	unlink(path);
}

/* the index keeps what readers of a remote store need without the files */
static void
test_index_fields(void **state)
{
	char		path[512];
	char		err[STORE_ERRLEN];
	store_index_t ix;
	store_index_t back;
	store_segment_t g;
	store_t    *s = open_dir("golden");

	(void) state;
	memset(&ix, 0, sizeof(ix));
	memset(&g, 0, sizeof(g));
	snprintf(g.name, sizeof(g.name), "v1_segment.tseg");
	assert_int_equal(store_segment_meta(s, &g), 0);
	/* the index names segments by their proper names */
	seg_name_format(g.name, g.bucket_start, g.start_lsn);
	strcat(g.name, SEG_SUFFIX);
	assert_int_equal(store_sha256_file("golden/v1_segment.tseg", g.sha256), 0);
	assert_true(g.first_lsn >= g.start_lsn && g.changes > 0);
	assert_int_equal(store_index_put_segment(&ix, &g), 0);
	snprintf(path, sizeof(path), "%s/ix.json", dir);
	assert_int_equal(store_index_write(path, &ix, err), 0);
	assert_int_equal(store_index_read(path, &back, err), 0);
	assert_string_equal(back.dbname, g.dbname);
	assert_string_equal(back.encoding, g.encoding);
	assert_string_equal(back.segs[0].dbname, g.dbname);
	assert_true(back.segs[0].first_lsn == g.first_lsn);
	assert_true(back.segs[0].changes == g.changes);
	assert_true(back.segs[0].end_lsn == g.end_lsn);
	store_index_free(&back);
	store_index_free(&ix);
	unlink(path);
	store_close(s);
}

/* ------------------------------------------------------------- writers */

static int	nevents[8];

static void
count_event(void *arg, const store_event_t *e)
{
	(void) arg;
	nevents[e->kind]++;
}

/* make_base - base/NAME/ with a manifest whose consistent point is cp */
static void
make_base(const char *d, const char *name, proto_lsn_t cp, proto_time_t end)
{
	char		path[512];
	char		err[STORE_ERRLEN];
	store_manifest_t m;

	memset(&m, 0, sizeof(m));
	m.format = 1;
	m.system_id = 42;
	m.timeline = 1;
	snprintf(m.dbname, sizeof(m.dbname), "db");
	snprintf(m.encoding, sizeof(m.encoding), "UTF8");
	snprintf(m.slot, sizeof(m.slot), "s1");
	m.server_version = 150000;
	m.consistent_point = cp;
	snprintf(m.snapshot, sizeof(m.snapshot), "00000003-00000002-1");
	m.start_time = end - 1000000;
	m.end_time = end;
	snprintf(m.pg_dump_version, sizeof(m.pg_dump_version), "pg_dump (PostgreSQL) 15");
	m.jobs = 1;
	snprintf(path, sizeof(path), "%s/base", d);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/base/%s", d, name);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/base/%s/toc.dat", d, name);
	write_file(path, "a dump's table of contents");
	snprintf(path, sizeof(path), "%s/base/%s/manifest.json", d, name);
	assert_int_equal(store_manifest_write(path, &m, err), 0);
}

static bool
exists(const char *d, const char *name)
{
	char		path[512];

	snprintf(path, sizeof(path), "%s/%s", d, name);
	return access(path, F_OK) == 0;
}

/*
 * A directory is published to another store: its own index first, every
 * object once, the index last; a second run moves nothing; a name the
 * destination holds with other content stops it (the archive-push rule).
 */
static void
test_sync_publish(void **state)
{
	char		src[300];
	char		dst[300];
	char		n[4][64];
	char		err[STORE_ERRLEN];
	store_t    *s;
	store_t    *d;
	store_sync_opts_t o;
	store_sync_result_t r;
	store_index_t ix;
	char		path[512];

	(void) state;
	snprintf(src, sizeof(src), "%s/sync-src", dir);
	snprintf(dst, sizeof(dst), "%s/sync-dst", dir);
	assert_int_equal(mkdir(src, 0700), 0);
	assert_int_equal(mkdir(dst, 0700), 0);
	make_segment(src, T0, 0x1000, 0x2000, 42, "s1", true, n[0]);
	make_segment(src, T0 + HOUR, 0x2000, 0x3000, 42, "s1", true, n[1]);
	make_segment(src, T0 + 2 * HOUR, 0x3000, 0x3000, 42, "s1", true, n[2]);
	make_segment(src, T0 + 3 * HOUR, 0x3000, 0x3000, 42, "s1", false, n[3]);
	make_base(src, "20261120T120500Z", 0x1800, T0 + 600000000);
	s = open_dir(src);
	d = open_dir(dst);
	memset(&o, 0, sizeof(o));
	o.src_retain.retain_usecs = o.dst_retain.retain_usecs = -1;
	o.now = T0 + 4 * HOUR;
	o.cb = count_event;
	memset(nevents, 0, sizeof(nevents));
	assert_int_equal(store_sync(s, d, &o, &r, err), 0);
	assert_int_equal(r.indexed, 4);		/* three closed segments and the base */
	assert_int_equal(r.uploaded, 5);	/* and the base's two files */
	assert_int_equal(r.pending, 0);
	assert_true(r.published_end == 0x3000);
	assert_true(r.dst_empty);
	for (int i = 0; i < 3; i++)
		assert_true(exists(dst, n[i]));
	assert_false(exists(dst, n[3]));	/* an open segment is never published */
	assert_true(exists(dst, "base/20261120T120500Z/manifest.json"));
	assert_true(exists(dst, "base/20261120T120500Z/toc.dat"));
	snprintf(path, sizeof(path), "%s/index.json", dst);
	assert_int_equal(store_index_read(path, &ix, err), 0);
	assert_int_equal(ix.nsegs, 3);
	assert_int_equal(ix.nbases, 1);
	assert_int_equal(ix.bases[0].nfiles, 2);
	assert_string_equal(ix.dbname, "db");
	assert_true(ix.segs[0].changes == 7);
	store_index_free(&ix);
	snprintf(path, sizeof(path), "%s/index.json", src);
	assert_int_equal(store_index_read(path, &ix, err), 0);
	assert_int_equal(ix.nsegs, 3);
	store_index_free(&ix);

	/* idempotent */
	assert_int_equal(store_sync(s, d, &o, &r, err), 0);
	assert_int_equal(r.indexed, 0);
	assert_int_equal(r.uploaded, 0);
	assert_int_equal(r.existed, 0);

	/* the destination lost its index but kept the objects: each is compared, none written */
	snprintf(path, sizeof(path), "%s/index.json", dst);
	unlink(path);
	assert_int_equal(store_sync(s, d, &o, &r, err), 0);
	assert_int_equal(r.uploaded, 0);
	assert_int_equal(r.existed, 5);

	/* other content under a published name: an error, nothing replaced */
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", dst, n[1]);
	unlink(path);
	write_file(path, "not the segment");
	assert_int_equal(store_sync(s, d, &o, &r, err), -EEXIST);
	assert_non_null(strstr(err, n[1]));
	assert_string_equal(read_file(path), "not the segment");
	/* what went before it is indexed: the index never lags what it could name */
	snprintf(path, sizeof(path), "%s/index.json", dst);
	assert_int_equal(store_index_read(path, &ix, err), 0);
	assert_int_equal(ix.nsegs, 1);
	store_index_free(&ix);

	store_close(s);
	store_close(d);
}

static void
index_of(store_index_t *ix, int nsegs, const proto_lsn_t *cps, int nbases)
{
	memset(ix, 0, sizeof(*ix));
	ix->segs = calloc((size_t) nsegs, sizeof(*ix->segs));
	ix->bases = calloc((size_t) (nbases ? nbases : 1), sizeof(*ix->bases));
	for (int i = 0; i < nsegs; i++)
	{
		store_segment_t *g = &ix->segs[i];

		seg_name_format(g->name, T0 + i * HOUR, 0x1000 * (proto_lsn_t) (i + 1));
		strcat(g->name, SEG_SUFFIX);
		g->known = true;
		g->bucket_start = T0 + i * HOUR;
		g->bucket_seconds = 3600;
		g->start_lsn = 0x1000 * (proto_lsn_t) (i + 1);
		g->end_lsn = g->start_lsn + 0x1000;
		g->size = 100;
	}
	ix->nsegs = (size_t) nsegs;
	for (int i = 0; i < nbases; i++)
	{
		snprintf(ix->bases[i].name, sizeof(ix->bases[i].name), "2026112%dT000000Z", i);
		ix->bases[i].manifest.consistent_point = cps[i];
		ix->bases[i].manifest.end_time = T0 + i;
	}
	ix->nbases = (size_t) nbases;
}

/*
 * Retention deletes a prefix of the history: past the window, not needed
 * by a base kept, published; the newest N bases stay and pin what they
 * need, older ones go once past the window.
 */
static void
test_retain_plan(void **state)
{
	store_index_t ix;
	store_index_t pub;
	store_retain_t r = {0, 0};
	store_retain_plan_t p;
	proto_lsn_t cps[2] = {0x2800, 0x4800};

	(void) state;
	/* no base: every segment past the window but the newest */
	index_of(&ix, 5, cps, 0);
	assert_int_equal(store_retain_plan(&ix, NULL, &r, T0 + 10 * HOUR, &p), 0);
	assert_int_equal(p.nsegs, 4);
	store_retain_plan_free(&p);
	/* the window keeps the last three hours' buckets */
	r.retain_usecs = 3 * HOUR;
	assert_int_equal(store_retain_plan(&ix, NULL, &r, T0 + 5 * HOUR, &p), 0);
	assert_int_equal(p.nsegs, 2);
	store_retain_plan_free(&p);
	/* no retention */
	r.retain_usecs = -1;
	assert_int_equal(store_retain_plan(&ix, NULL, &r, T0 + 10 * HOUR, &p), 0);
	assert_int_equal(p.nsegs, 0);
	store_retain_plan_free(&p);
	store_index_free(&ix);

	/* two bases, all kept: the older pins everything after 0x2800 */
	r.retain_usecs = 0;
	index_of(&ix, 5, cps, 2);
	assert_int_equal(store_retain_plan(&ix, NULL, &r, T0 + 10 * HOUR, &p), 0);
	assert_int_equal(p.nsegs, 1);		/* 0x1000-0x2000 only: 0x2000-0x3000 holds commits after 0x2800 */
	assert_int_equal(p.nbases, 0);
	assert_int_equal(p.kept_for_base, 3);
	assert_string_equal(p.base_name, "20261120T000000Z");
	store_retain_plan_free(&p);
	/* the newest one kept: the older base goes, and the history up to 0x4800 */
	r.keep_bases = 1;
	assert_int_equal(store_retain_plan(&ix, NULL, &r, T0 + 10 * HOUR, &p), 0);
	assert_int_equal(p.nbases, 1);
	assert_string_equal(p.bases[0], "20261120T000000Z");
	assert_int_equal(p.nsegs, 3);
	assert_string_equal(p.base_name, "20261121T000000Z");
	store_retain_plan_free(&p);

	/* a publisher keeps what the destination lacks */
	index_of(&pub, 2, cps, 0);
	assert_int_equal(store_retain_plan(&ix, &pub, &r, T0 + 10 * HOUR, &p), 0);
	assert_int_equal(p.nbases, 0);		/* the old base is not published: it stays */
	assert_int_equal(p.nsegs, 1);		/* and pins what follows its point */
	store_retain_plan_free(&p);
	store_index_free(&pub);
	index_of(&pub, 2, cps, 1);
	assert_int_equal(store_retain_plan(&ix, &pub, &r, T0 + 10 * HOUR, &p), 0);
	assert_int_equal(p.nbases, 1);
	assert_int_equal(p.nsegs, 2);
	assert_int_equal(p.kept_unpublished, 2);	/* 0x3000-0x5000: not published yet */
	store_retain_plan_free(&p);
	store_index_free(&pub);
	store_index_free(&ix);
}

/* retention applied to a directory: index first, then the files; bases too */
static void
test_prune_dir(void **state)
{
	char		d[300];
	char		n[4][64];
	char		err[STORE_ERRLEN];
	store_t    *s;
	store_sync_opts_t o;
	store_sync_result_t r;
	store_index_t ix;
	char		path[512];

	(void) state;
	snprintf(d, sizeof(d), "%s/prune", dir);
	assert_int_equal(mkdir(d, 0700), 0);
	make_segment(d, T0, 0x1000, 0x2000, 42, "s1", true, n[0]);
	make_segment(d, T0 + HOUR, 0x2000, 0x3000, 42, "s1", true, n[1]);
	make_segment(d, T0 + 2 * HOUR, 0x3000, 0x4000, 42, "s1", true, n[2]);
	make_segment(d, T0 + 3 * HOUR, 0x4000, 0x4000, 42, "s1", false, n[3]);
	make_base(d, "20261120T120500Z", 0x1800, T0 + 600000000);
	make_base(d, "20261120T140500Z", 0x3000, T0 + 2 * HOUR + 600000000);
	s = open_dir(d);
	memset(&o, 0, sizeof(o));
	o.src_retain.retain_usecs = 0;
	o.src_retain.keep_bases = 1;
	o.now = T0 + 10 * HOUR;
	o.dry_run = true;
	o.cb = count_event;
	memset(nevents, 0, sizeof(nevents));
	assert_int_equal(store_prune(s, &o, &r, err), 0);
	assert_int_equal(nevents[STORE_EV_DELETED], 3);	/* the old base, two segments */
	assert_true(exists(d, n[0]) && exists(d, "base/20261120T120500Z/toc.dat"));
	o.dry_run = false;
	assert_int_equal(store_prune(s, &o, &r, err), 0);
	assert_false(exists(d, n[0]));
	assert_false(exists(d, n[1]));
	assert_true(exists(d, n[2]));
	assert_true(exists(d, n[3]));
	assert_false(exists(d, "base/20261120T120500Z"));
	assert_true(exists(d, "base/20261120T140500Z/manifest.json"));
	snprintf(path, sizeof(path), "%s/index.json", d);
	assert_int_equal(store_index_read(path, &ix, err), 0);
	assert_int_equal(ix.nsegs, 1);
	assert_int_equal(ix.nbases, 1);
	store_index_free(&ix);
	store_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_rules),
		cmocka_unit_test(test_get_rules),
		cmocka_unit_test(test_segments_by_lsn),
		cmocka_unit_test(test_chain_rules),
		cmocka_unit_test(test_golden_meta),
		cmocka_unit_test(test_index_publish_poll),
		cmocka_unit_test(test_index_damage),
		cmocka_unit_test(test_manifest),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_index_fields),
		cmocka_unit_test(test_sync_publish),
		cmocka_unit_test(test_retain_plan),
		cmocka_unit_test(test_prune_dir),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
