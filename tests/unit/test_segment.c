/*
 * tests/unit/test_segment.c
 *		Segment blocks, header, footer, names and the file reader.
 *
 * Builds segment files by hand from proto's block codec, then damages them:
 * a cut at every byte offset must read back as a clean prefix up to the last
 * whole block (torn tail), and a flipped bit anywhere must be reported with
 * the damaged block's offset, never decoded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tide/segment.h"

#define S(lit) ((proto_str_t) {lit, sizeof(lit) - 1})

static char tmpdir[] = "/tmp/tide-test-segment-XXXXXX";

static int
setup(void **state)
{
	(void) state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int
teardown(void **state)
{
	char		cmd[128];

	(void) state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd);
}

static void
write_file(const char *path, const uint8_t *data, size_t len)
{
	FILE	   *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/*
 * build - a segment with three data blocks: two transactions, then a
 * large one split across a continuation block and a closing block.
 * block_ends receives the file offset after each block (header first).
 */
static void
build(proto_wbuf_t *seg, bool closed, size_t *block_ends, int *nblocks)
{
	seg_zstd_t *z = seg_zstd_new(3);
	seg_header_t h = {SEG_FORMAT_VERSION, PROTO_FORMAT_VERSION, 7311111111111111111ULL,
		1, 5, S("postgres"), S("tide"), 150020, S("UTF8"),
		123456789000000, 3600, 0x16B3748, 123456789123456};
	proto_wbuf_t payload;
	uint8_t		big[70000];
	uint64_t	offs[3];
	proto_lsn_t lsns[3] = {0x1000, 0, 0x3000};
	seg_footer_t f = {0x900, 0x3000, 1, 2, 3, 12, 3, 0, {0}, {0}};
	seg_table_count_t t = {16384, S("public"), S("t"), 10, 1, 1, 0};
	uint64_t	footer_at;

	assert_non_null(z);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t) (i % 251 < 100 ? 'a' : i);
	proto_wbuf_init_heap(&payload);
	*nblocks = 0;
	proto_put_bytes(seg, SEG_FILE_MAGIC, SEG_FILE_MAGIC_LEN);
	assert_int_equal(seg_header_write(&payload, &h), 0);
	assert_int_equal(seg_block_encode(seg, NULL, SEG_KIND_HEADER, SEG_CODEC_NONE, 0, 0,
									  payload.data, payload.len), 0);
	block_ends[(*nblocks)++] = seg->len;
	for (int i = 0; i < 3; i++)
	{
		offs[i] = seg->len;
		assert_int_equal(seg_block_encode(seg, z, SEG_KIND_DATA, SEG_CODEC_ZSTD,
										  i == 1 ? 0 : SEG_BLOCK_ENDS_TXN, lsns[i],
										  big + i, sizeof(big) - i * 1000), 0);
		block_ends[(*nblocks)++] = seg->len;
	}
	if (closed)
	{
		footer_at = seg->len;
		proto_wbuf_reset(&payload);
		seg_footer_write(&payload, &f);
		for (int i = 0; i < 3; i++)
			seg_footer_put_block(&payload, offs[i], lsns[i]);
		seg_footer_begin_tables(&payload, 1);
		seg_footer_put_table(&payload, &t);
		assert_int_equal(seg_block_encode(seg, NULL, SEG_KIND_FOOTER, SEG_CODEC_NONE, 0, 0,
										  payload.data, payload.len), 0);
		seg_trailer_write(seg, footer_at);
	}
	assert_int_equal(seg->err, 0);
	proto_wbuf_free(&payload);
	seg_zstd_free(z);
}

static void
test_round_trip(void **state)
{
	proto_wbuf_t seg;
	size_t		ends[8];
	int			n;
	char		path[256];
	seg_reader_t r;
	seg_footer_t f;
	seg_table_count_t t;
	uint64_t	off;
	proto_lsn_t lsn;
	uint64_t	err_at;

	(void) state;
	proto_wbuf_init_heap(&seg);
	build(&seg, true, ends, &n);
	snprintf(path, sizeof(path), "%s/closed.tseg", tmpdir);
	write_file(path, seg.data, seg.len);

	assert_int_equal(seg_reader_open(&r, path, &err_at), 0);
	assert_true(r.closed);
	assert_true(r.header.system_id == 7311111111111111111ULL);
	assert_int_equal(r.header.bucket_seconds, 3600);
	assert_true(r.header.start_lsn == 0x16B3748);
	assert_int_equal(r.header.slot.n, 4);
	assert_memory_equal(r.header.slot.p, "tide", 4);
	for (int i = 0; i < 3; i++)
	{
		assert_int_equal(seg_reader_next(&r), 0);
		assert_int_equal(r.block.kind, SEG_KIND_DATA);
		assert_int_equal(r.raw.len, 70000 - i * 1000);
		assert_int_equal(r.raw.data[100], (uint8_t) (100 + i));
		/* compressible data was compressed */
		assert_int_equal(r.block.codec, SEG_CODEC_ZSTD);
		assert_true(r.block.stored_len < r.block.raw_len);
	}
	assert_int_equal(seg_reader_next(&r), TIDE_EEOF);
	assert_true(r.txn_end == ends[3]);
	assert_true(r.txn_end_lsn == 0x3000);
	assert_int_equal(seg_reader_footer(&r, &f), 0);
	assert_true(f.first_lsn == 0x900 && f.last_lsn == 0x3000);
	assert_int_equal(f.ntxns, 3);
	assert_int_equal(f.nchanges, 12);
	assert_int_equal(f.nblocks, 3);
	assert_int_equal(seg_footer_next_block(&f, &off, &lsn), 0);
	assert_true(off == ends[0] && lsn == 0x1000);
	assert_int_equal(seg_footer_next_block(&f, &off, &lsn), 0);
	assert_int_equal(seg_footer_next_block(&f, &off, &lsn), 0);
	assert_true(off == ends[2] && lsn == 0x3000);
	assert_int_equal(seg_footer_next_block(&f, &off, &lsn), TIDE_EEOF);
	assert_int_equal(seg_footer_next_table(&f, &t), 0);
	assert_int_equal(t.relid, 16384);
	assert_int_equal(t.inserts, 10);
	assert_int_equal(t.relname.n, 1);
	assert_int_equal(seg_footer_next_table(&f, &t), TIDE_EEOF);
	seg_reader_close(&r);
	proto_wbuf_free(&seg);
}

/* a .partial cut anywhere reads as a clean prefix, damage named by offset */
static void
test_torn_tail_every_offset(void **state)
{
	proto_wbuf_t seg;
	size_t		ends[8];
	int			n;
	char		path[256];

	(void) state;
	proto_wbuf_init_heap(&seg);
	build(&seg, false, ends, &n);
	snprintf(path, sizeof(path), "%s/torn.tseg.partial", tmpdir);
	for (size_t cut = 0; cut <= seg.len; cut += (cut < 200 || seg.len - cut < 200) ? 1 : 97)
	{
		seg_reader_t r;
		uint64_t	err_at = 0;
		int			rc;
		int			blocks = 0;
		size_t		want_good = 0;
		size_t		want_txn = 0;

		write_file(path, seg.data, cut);
		rc = seg_reader_open(&r, path, &err_at);
		if (cut < ends[0])
		{
			assert_true(rc < 0);
			seg_reader_close(&r);
			continue;
		}
		assert_int_equal(rc, 0);
		while ((rc = seg_reader_next(&r)) == 0)
			blocks++;
		for (int i = 0; i < n; i++)
			if (ends[i] <= cut)
			{
				want_good = ends[i];
				if (i != 2)		/* block 2 continues a transaction */
					want_txn = ends[i];
			}
		if (cut == want_good)
			assert_int_equal(rc, TIDE_EEOF);
		else
		{
			assert_int_equal(rc, TIDE_ETRUNCATED);
			assert_true(r.block_offset == want_good);
		}
		assert_true(r.good_end == want_good);
		assert_true(r.txn_end == want_txn);
		seg_reader_close(&r);
	}
	proto_wbuf_free(&seg);
}

/* one flipped bit in any block is caught before decoding */
static void
test_bit_flip_every_block(void **state)
{
	proto_wbuf_t seg;
	size_t		ends[8];
	int			n;
	char		path[256];

	(void) state;
	proto_wbuf_init_heap(&seg);
	build(&seg, true, ends, &n);
	snprintf(path, sizeof(path), "%s/flip.tseg", tmpdir);
	for (size_t at = SEG_FILE_MAGIC_LEN; at < ends[3]; at += 13)
	{
		seg_reader_t r;
		uint64_t	err_at = 0;
		int			rc;
		size_t		block_start = SEG_FILE_MAGIC_LEN;

		for (int i = 0; i < n && ends[i] <= at; i++)
			block_start = ends[i];
		seg.data[at] ^= 0x10;
		write_file(path, seg.data, seg.len);
		seg.data[at] ^= 0x10;
		rc = seg_reader_open(&r, path, &err_at);
		if (rc == 0)
		{
			while ((rc = seg_reader_next(&r)) == 0)
				;
			err_at = r.block_offset;
		}
		assert_true(rc < 0 && rc != TIDE_EEOF);
		assert_true(err_at == block_start);
		seg_reader_close(&r);
	}
	proto_wbuf_free(&seg);
}

static void
test_block_rejects(void **state)
{
	proto_wbuf_t b;
	seg_block_t blk;
	uint8_t		raw[10] = "abcdefghi";

	(void) state;
	proto_wbuf_init_heap(&b);
	assert_int_equal(seg_block_encode(&b, NULL, SEG_KIND_DATA, SEG_CODEC_NONE, 0, 0, raw, 10), 0);
	assert_int_equal(seg_block_parse(b.data, &blk), 0);
	assert_int_equal(seg_block_verify(b.data, &blk, b.data + 32), 0);
	b.data[7] = 1;				/* reserved byte */
	assert_int_equal(seg_block_parse(b.data, &blk), TIDE_EBADVALUE);
	b.data[7] = 0;
	b.data[0] = 'X';
	assert_int_equal(seg_block_parse(b.data, &blk), TIDE_EBADMAGIC);
	b.data[0] = 'T';
	b.data[35] ^= 1;
	assert_int_equal(seg_block_verify(b.data, &blk, b.data + 32), TIDE_ECHECKSUM);
	/* zstd needs its contexts */
	proto_wbuf_reset(&b);
	assert_int_equal(seg_block_encode(&b, NULL, SEG_KIND_DATA, SEG_CODEC_ZSTD, 0, 0, raw, 10),
					 TIDE_EBADVALUE);
	/* incompressible data is stored as it is */
	{
		seg_zstd_t *z = seg_zstd_new(3);

		proto_wbuf_reset(&b);
		assert_int_equal(seg_block_encode(&b, z, SEG_KIND_DATA, SEG_CODEC_ZSTD, 0, 0, raw, 10), 0);
		assert_int_equal(b.data[5], SEG_CODEC_NONE);
		seg_zstd_free(z);
	}
	proto_wbuf_free(&b);
}

static void
test_names(void **state)
{
	char		name[SEG_NAME_LEN + 1];
	proto_time_t t;
	proto_lsn_t lsn;
	bool		partial;
	/* 2026-11-20 13:00:00 UTC in microseconds since 2000-01-01 */
	proto_time_t when = (INT64_C(1795179600) - INT64_C(946684800)) * 1000000;

	(void) state;
	seg_name_format(name, when, 0x1A2B3C4D0ULL);
	assert_string_equal(name, "20261120T130000Z_00000001A2B3C4D0");
	assert_int_equal(seg_name_parse("20261120T130000Z_00000001A2B3C4D0.tseg.partial", &t, &lsn, &partial), 0);
	assert_true(t == when && lsn == 0x1A2B3C4D0ULL && partial);
	assert_int_equal(seg_name_parse("20261120T130000Z_00000001A2B3C4D0.tseg", &t, &lsn, &partial), 0);
	assert_false(partial);
	assert_int_equal(seg_name_parse("20261120T130000Z_00000001A2B3C4D0.txt", &t, &lsn, NULL), TIDE_EBADVALUE);
	assert_int_equal(seg_name_parse("2026112", &t, &lsn, NULL), TIDE_EBADVALUE);
	assert_int_equal(seg_name_parse("20261120T130000Z_00000001A2B3C4DX.tseg", &t, &lsn, NULL), TIDE_EBADVALUE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_torn_tail_every_offset),
		cmocka_unit_test(test_bit_flip_every_block),
		cmocka_unit_test(test_block_rejects),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("segment", tests, setup, teardown);
}
