/*
 * tests/fuzz/fuzz_segment.c
 *		libFuzzer harness for the segment readers: any bytes as a segment
 *		file, and as header and footer payloads.
 *
 * Checksums stop random bytes at the first block, so the harness also
 * feeds the input straight to the header and footer decoders, and to the
 * block decoder with the checksum recomputed (seg_block_encode), so the
 * code behind the checksum is reached too.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tide/segment.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
read_file(const uint8_t *data, size_t size)
{
	int			fd = memfd_create("seg", 0);
	char		path[64];
	seg_reader_t r;
	uint64_t	at;

	if (fd < 0)
		return;
	if (write(fd, data, size) == (ssize_t) size)
	{
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (seg_reader_open(&r, path, &at) == 0)
		{
			seg_footer_t f;

			while (seg_reader_next(&r) == 0)
				;
			if (r.closed && seg_reader_footer(&r, &f) == 0)
			{
				uint64_t	off;
				proto_lsn_t lsn;
				seg_table_count_t t;

				while (seg_footer_next_block(&f, &off, &lsn) == 0)
					;
				while (seg_footer_next_table(&f, &t) == 0)
					;
			}
		}
		seg_reader_close(&r);
	}
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	proto_rbuf_t rb;
	seg_header_t h;
	seg_footer_t f;
	proto_wbuf_t blk;
	proto_wbuf_t raw;
	seg_block_t b;

	read_file(data, size);

	proto_rbuf_init(&rb, data, size);
	(void) seg_header_read(&rb, &h);

	proto_rbuf_init(&rb, data, size);
	if (seg_footer_read(&rb, &f) == 0)
	{
		uint64_t	off;
		proto_lsn_t lsn;
		seg_table_count_t t;

		while (seg_footer_next_block(&f, &off, &lsn) == 0)
			;
		while (seg_footer_next_table(&f, &t) == 0)
			;
	}

	/* a stored block with a valid checksum around the input */
	proto_wbuf_init_heap(&blk);
	proto_wbuf_init_heap(&raw);
	if (seg_block_encode(&blk, NULL, SEG_KIND_DATA, SEG_CODEC_NONE, 0, 0, data, size) == 0 &&
		seg_block_parse(blk.data, &b) == 0 &&
		seg_block_verify(blk.data, &b, blk.data + SEG_BLOCK_HEADER_LEN) == 0)
		(void) seg_block_decode(NULL, &b, blk.data + SEG_BLOCK_HEADER_LEN, 1, &raw);
	/* the input as zstd payload of a block claiming a raw size */
	if (size > 4)
	{
		seg_zstd_t *z = seg_zstd_new(1);

		b.kind = SEG_KIND_DATA;
		b.codec = SEG_CODEC_ZSTD;
		b.flags = 0;
		b.stored_len = (uint32_t) size - 4;
		b.raw_len = (uint32_t) (data[0] | data[1] << 8) ;
		proto_wbuf_reset(&raw);
		if (z)
			(void) seg_block_decode(z, &b, data + 4, data[0] & 1, &raw);
		seg_zstd_free(z);
	}
	proto_wbuf_free(&raw);
	proto_wbuf_free(&blk);
	return 0;
}
