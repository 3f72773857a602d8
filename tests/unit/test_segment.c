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
#include <xxhash.h>

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
 * fill_messages - n bytes of well-framed MESSAGE messages (type, varint
 * length, body) whose bodies vary with seed: what a data block holds.
 */
static void
fill_messages(uint8_t *buf, size_t n, int seed)
{
	size_t		at = 0;

	while (at < n)
	{
		size_t		left = n - at;
		size_t		body = left - 3 < 997 ? left - 3 : 997;

		/* the last message takes the rest: a 2-byte length covers it */
		assert_true(left >= 3);
		if (left - 3 - body < 3 && left - 3 - body > 0)
			body = left - 3;
		buf[at++] = PROTO_MSG_MESSAGE;
		buf[at++] = (uint8_t) (0x80 | (body & 0x7f));
		buf[at++] = (uint8_t) (body >> 7);
		for (size_t i = 0; i < body; i++)
			buf[at + i] = (uint8_t) ((i + (size_t) seed) % 251 < 100 ? 'a' : i + (size_t) seed);
		at += body;
	}
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
		fill_messages(big, sizeof(big) - i * 1000, i);
		assert_int_equal(seg_block_encode(seg, z, SEG_KIND_DATA, SEG_CODEC_ZSTD,
										  i == 1 ? 0 : SEG_BLOCK_ENDS_TXN, lsns[i],
										  big, sizeof(big) - i * 1000), 0);
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
	static uint8_t expect[70000];

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
		fill_messages(expect, 70000 - i * 1000, i);
		assert_memory_equal(r.raw.data, expect, r.raw.len);
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

/*
 * bomb - a segment whose one data block is a 32 kB zstd frame of RLE
 * blocks that inflates to `zeros` zero bytes, and declares that size.
 */
static void
write_bomb(const char *path, uint32_t zeros)
{
	proto_wbuf_t seg;
	proto_wbuf_t payload;
	proto_wbuf_t frame;
	seg_header_t h = {SEG_FORMAT_VERSION, PROTO_FORMAT_VERSION, 7311111111111111111ULL,
		1, 5, S("postgres"), S("tide"), 150020, S("UTF8"),
		123456789000000, 3600, 0x16B3748, 123456789123456};
	uint8_t    *hdr;

	proto_wbuf_init_heap(&seg);
	proto_wbuf_init_heap(&payload);
	proto_wbuf_init_heap(&frame);
	/* zstd frame: magic, descriptor (no content size), window 128 kB */
	proto_put_u32(&frame, 0xFD2FB528);
	proto_put_u8(&frame, 0x00);
	proto_put_u8(&frame, 7 << 3);
	for (uint32_t left = zeros; left > 0;)
	{
		uint32_t	n = left < 131072 ? left : 131072;
		uint32_t	bh = (left == n ? 1 : 0) | 1 << 1 | n << 3;	/* RLE block */

		proto_put_u8(&frame, (uint8_t) bh);
		proto_put_u8(&frame, (uint8_t) (bh >> 8));
		proto_put_u8(&frame, (uint8_t) (bh >> 16));
		proto_put_u8(&frame, 0);
		left -= n;
	}
	proto_put_bytes(&seg, SEG_FILE_MAGIC, SEG_FILE_MAGIC_LEN);
	assert_int_equal(seg_header_write(&payload, &h), 0);
	assert_int_equal(seg_block_encode(&seg, NULL, SEG_KIND_HEADER, SEG_CODEC_NONE, 0, 0,
									  payload.data, payload.len), 0);
	/* a stored block, then relabelled as the zstd block it is */
	assert_int_equal(seg_block_encode(&seg, NULL, SEG_KIND_DATA, SEG_CODEC_NONE,
									  SEG_BLOCK_ENDS_TXN, 0x2000, frame.data, frame.len), 0);
	hdr = seg.data + (seg.len - frame.len - SEG_BLOCK_HEADER_LEN);
	hdr[5] = SEG_CODEC_ZSTD;
	hdr[12] = (uint8_t) zeros;
	hdr[13] = (uint8_t) (zeros >> 8);
	hdr[14] = (uint8_t) (zeros >> 16);
	hdr[15] = (uint8_t) (zeros >> 24);
	{
		/* the checksum again, over the changed header (FORMAT.md, "Block") */
		uint32_t	c = (uint32_t) XXH3_64bits_withSeed(frame.data, frame.len,
														XXH3_64bits(hdr, 28));
		seg_block_t b;

		for (int i = 0; i < 4; i++)
			hdr[28 + i] = (uint8_t) (c >> (8 * i));
		assert_int_equal(seg_block_parse(hdr, &b), 0);
		assert_int_equal(seg_block_verify(hdr, &b, hdr + SEG_BLOCK_HEADER_LEN), 0);
	}
	write_file(path, seg.data, seg.len);
	proto_wbuf_free(&seg);
	proto_wbuf_free(&payload);
	proto_wbuf_free(&frame);
}

/*
 * A crafted 33 kB segment declaring a 1 GiB block of zeros (messages of
 * type 0): refused as corrupt after one decode step, with the reader's
 * memory bounded by that step, never inflated whole and never read as
 * "0 changes".
 */
static void
test_decompression_bomb(void **state)
{
	char		path[256];
	seg_reader_t r;
	uint64_t	at;

	(void) state;
	snprintf(path, sizeof(path), "%s/bomb.tseg", tmpdir);
	write_bomb(path, UINT32_C(1) << 30);
	assert_int_equal(seg_reader_open(&r, path, &at), 0);
	assert_int_equal(seg_reader_next(&r), TIDE_EBADTYPE);
	assert_true(r.raw.cap <= 2 * SEG_DECODE_STEP + 65536);
	assert_true(r.block_offset > 0);
	seg_reader_close(&r);
}

/* a message type the segment's wire version does not define is damage */
static void
test_unknown_type_is_damage(void **state)
{
	uint8_t		msgs[] = {PROTO_MSG_MESSAGE, 2, 'a', 'b', 'Z', 1, 'x'};
	uint8_t		startup[] = {PROTO_MSG_STARTUP, 1, 0};
	uint8_t		past[] = {PROTO_MSG_MESSAGE, 9, 'a'};
	proto_wbuf_t b;
	proto_wbuf_t raw;
	seg_block_t blk;
	seg_zstd_t *z = seg_zstd_new(1);

	(void) state;
	proto_wbuf_init_heap(&b);
	proto_wbuf_init_heap(&raw);
	assert_int_equal(seg_block_encode(&b, NULL, SEG_KIND_DATA, SEG_CODEC_NONE, 0, 0, msgs, sizeof(msgs)), 0);
	assert_int_equal(seg_block_parse(b.data, &blk), 0);
	assert_int_equal(seg_block_decode(z, &blk, b.data + 32, 1, &raw), TIDE_EBADTYPE);
	/* the same bytes are fine when they are not messages (header, footer) */
	proto_wbuf_reset(&raw);
	assert_int_equal(seg_block_decode(z, &blk, b.data + 32, 0, &raw), 0);
	/* STARTUP never belongs in a segment */
	proto_wbuf_reset(&b);
	proto_wbuf_reset(&raw);
	assert_int_equal(seg_block_encode(&b, NULL, SEG_KIND_DATA, SEG_CODEC_NONE, 0, 0, startup, sizeof(startup)), 0);
	assert_int_equal(seg_block_parse(b.data, &blk), 0);
	assert_int_equal(seg_block_decode(z, &blk, b.data + 32, 1, &raw), TIDE_EBADTYPE);
	/* nor does a stream message, whatever wire version the header names */
	for (uint32_t v = 1; v <= PROTO_FORMAT_VERSION; v++)
	{
		uint8_t		commit[] = {PROTO_MSG_STREAM_COMMIT, 1, 0};

		proto_wbuf_reset(&b);
		proto_wbuf_reset(&raw);
		assert_int_equal(seg_block_encode(&b, NULL, SEG_KIND_DATA, SEG_CODEC_NONE, 0, 0, commit, sizeof(commit)), 0);
		assert_int_equal(seg_block_parse(b.data, &blk), 0);
		assert_int_equal(seg_block_decode(z, &blk, b.data + 32, v, &raw), TIDE_EBADTYPE);
	}
	/* a length past the block's end */
	proto_wbuf_reset(&b);
	proto_wbuf_reset(&raw);
	assert_int_equal(seg_block_encode(&b, NULL, SEG_KIND_DATA, SEG_CODEC_NONE, 0, 0, past, sizeof(past)), 0);
	assert_int_equal(seg_block_parse(b.data, &blk), 0);
	assert_int_equal(seg_block_decode(z, &blk, b.data + 32, 1, &raw), TIDE_ETOOLONG);
	/* header and footer blocks are never compressed */
	proto_wbuf_reset(&b);
	assert_int_equal(seg_block_encode(&b, z, SEG_KIND_FOOTER, SEG_CODEC_ZSTD, 0, 0,
									  (const uint8_t *) "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 32), 0);
	assert_int_equal(seg_block_parse(b.data, &blk), TIDE_EBADVALUE);
	proto_wbuf_free(&b);
	proto_wbuf_free(&raw);
	seg_zstd_free(z);
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
		cmocka_unit_test(test_decompression_bomb),
		cmocka_unit_test(test_unknown_type_is_damage),
	};

	return cmocka_run_group_tests_name("segment", tests, setup, teardown);
}
