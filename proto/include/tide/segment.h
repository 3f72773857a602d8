/*
 * proto/include/tide/segment.h
 *		Segment files: blocks, header, footer, and a sequential reader.
 *
 * Layout and byte tables: proto/FORMAT.md, part 2.  The block codec works on
 * memory only; seg_reader_t adds the file access every consumer needs
 * (streamer restart scan, applier, ls, inspect) and reports where damage is.
 * No function here logs or exits; memory is handed back by the matching
 * close/free call.
 */
#ifndef TIDE_SEGMENT_H
#define TIDE_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tide/buf.h"
#include "tide/wire.h"

#define SEG_FORMAT_VERSION 1

#define SEG_FILE_MAGIC "\x89TIDE\r\n\x1a"
#define SEG_FILE_MAGIC_LEN 8
#define SEG_TRAILER_MAGIC "TIDEEND\n"
#define SEG_TRAILER_LEN 16
#define SEG_BLOCK_MAGIC "TBLK"
#define SEG_BLOCK_HEADER_LEN 32
#define SEG_MAX_BLOCK ((size_t) 1 << 30)	/* stored or raw payload */
#define SEG_DECODE_STEP ((size_t) 1 << 20)	/* a reader inflates this much at a time */

#define SEG_KIND_HEADER 'H'
#define SEG_KIND_DATA 'D'
#define SEG_KIND_FOOTER 'F'

#define SEG_CODEC_NONE 0
#define SEG_CODEC_ZSTD 1

#define SEG_BLOCK_ENDS_TXN 0x01

#define SEG_SUFFIX ".tseg"
#define SEG_PARTIAL_SUFFIX ".tseg.partial"
#define SEG_NAME_LEN 33			/* YYYYMMDDTHHMMSSZ_<16 hex>, no suffix */

typedef struct
{
	uint8_t		kind;
	uint8_t		codec;
	uint8_t		flags;
	uint32_t	stored_len;
	uint32_t	raw_len;
	proto_lsn_t end_lsn;		/* of the last COMMIT in the block, or 0 */
	uint32_t	checksum;
} seg_block_t;

/* Identity and position of a segment (the header block). */
typedef struct
{
	uint32_t	version;
	uint32_t	wire_version;
	uint64_t	system_id;
	uint32_t	timeline;
	uint32_t	dboid;
	proto_str_t dbname;
	proto_str_t slot;
	uint32_t	server_version;
	proto_str_t encoding;
	proto_time_t bucket_start;
	uint32_t	bucket_seconds;
	proto_lsn_t start_lsn;		/* end LSN of the previous segment's last txn */
	proto_time_t created;
} seg_header_t;

typedef struct
{
	uint32_t	relid;
	proto_str_t nspname;
	proto_str_t relname;
	uint64_t	inserts;
	uint64_t	updates;
	uint64_t	deletes;
	uint64_t	truncates;
} seg_table_count_t;

typedef struct
{
	proto_lsn_t first_lsn;		/* first commit LSN (0 if no transaction) */
	proto_lsn_t last_lsn;		/* last end LSN */
	proto_time_t first_time;
	proto_time_t last_time;
	uint64_t	ntxns;
	uint64_t	nchanges;
	uint64_t	nblocks;
	uint64_t	ntables;
	/* readers: cursors over the arrays, for seg_footer_next_*() */
	proto_rbuf_t blocks;
	proto_rbuf_t tables;
} seg_footer_t;

typedef struct seg_zstd_s seg_zstd_t;	/* compression contexts, opaque */

/* seg_zstd_new - contexts for level; NULL on out of memory. */
seg_zstd_t *seg_zstd_new(int level);
void		seg_zstd_free(seg_zstd_t *z);

/*
 * seg_block_encode - append one whole block (header and payload) to out.
 * codec SEG_CODEC_ZSTD needs z; the block is stored uncompressed instead if
 * compression does not make it smaller.  Returns 0 or an error (out->err).
 */
int			seg_block_encode(proto_wbuf_t *out, seg_zstd_t *z, uint8_t kind,
							 uint8_t codec, uint8_t flags, proto_lsn_t end_lsn,
							 const uint8_t *raw, size_t raw_len);

/* seg_block_parse - decode and sanity-check a 32-byte block header. */
int			seg_block_parse(const uint8_t *hdr, seg_block_t *b);

/*
 * seg_block_verify - the checksum of header bytes + stored payload.
 * TIDE_ECHECKSUM on mismatch.
 */
int			seg_block_verify(const uint8_t *hdr, const seg_block_t *b,
							 const uint8_t *payload);

/*
 * seg_block_decode - the raw payload of a verified block, appended to raw,
 * decompressed a step (SEG_DECODE_STEP) at a time.  With wire_version not
 * 0 the payload is a data block's messages: their framing is checked as
 * they come out (seg_message_type_ok, lengths inside the block), so a
 * crafted block fails before it is inflated whole.  Fails with
 * TIDE_ECOMPRESS if the payload does not decompress to exactly raw_len
 * bytes, TIDE_EBADTYPE / TIDE_ETOOLONG / TIDE_ETRUNCATED / TIDE_EBADVARINT
 * on bad framing.
 */
int			seg_block_decode(seg_zstd_t *z, const seg_block_t *b,
							 const uint8_t *payload, uint32_t wire_version,
							 proto_wbuf_t *raw);

/*
 * seg_message_type_ok - may a data block of a segment whose messages are
 * of wire_version hold a message of this type?  (STARTUP never does.)
 */
bool		seg_message_type_ok(uint8_t type, uint32_t wire_version);

int			seg_header_write(proto_wbuf_t *out, const seg_header_t *h);
int			seg_header_read(proto_rbuf_t *r, seg_header_t *h);

/*
 * Footer: seg_footer_write() writes the fixed part, then the caller appends
 * nblocks entries with seg_footer_put_block() and ntables with
 * seg_footer_put_table(), in that order.  seg_footer_read() reads the fixed
 * part and sets the cursors; seg_footer_next_block/table() walk them.
 */
int			seg_footer_write(proto_wbuf_t *out, const seg_footer_t *f);
void		seg_footer_put_block(proto_wbuf_t *out, uint64_t offset,
								 proto_lsn_t end_lsn);
int			seg_footer_begin_tables(proto_wbuf_t *out, uint64_t ntables);
void		seg_footer_put_table(proto_wbuf_t *out, const seg_table_count_t *t);
int			seg_footer_read(proto_rbuf_t *r, seg_footer_t *f);
int			seg_footer_next_block(seg_footer_t *f, uint64_t *offset,
								  proto_lsn_t *end_lsn);
int			seg_footer_next_table(seg_footer_t *f, seg_table_count_t *t);

/* seg_trailer_write - the 16 bytes that close a segment. */
void		seg_trailer_write(proto_wbuf_t *out, uint64_t footer_offset);

/*
 * seg_name_format - "YYYYMMDDTHHMMSSZ_LLLLLLLLLLLLLLLL" for a bucket start
 * and start LSN into buf (at least SEG_NAME_LEN + 1 bytes).
 * seg_name_parse - the inverse; accepts a trailing ".tseg" or
 * ".tseg.partial" and says which through *partial (may be NULL).
 */
void		seg_name_format(char *buf, proto_time_t bucket_start,
							proto_lsn_t start_lsn);
int			seg_name_parse(const char *name, proto_time_t *bucket_start,
						   proto_lsn_t *start_lsn, bool *partial);

/* ------------------------------------------------------------- reader */

typedef struct
{
	int			fd;
	char	   *path;			/* owned */
	seg_zstd_t *z;				/* owned */
	uint64_t	file_size;
	uint64_t	offset;			/* of the next block to read */
	uint64_t	block_offset;	/* of the block last returned */
	seg_header_t header;		/* strings point into hdr_raw */
	proto_wbuf_t hdr_raw;		/* owned */
	proto_wbuf_t stored;		/* owned: payload as read */
	proto_wbuf_t raw;			/* owned: payload decompressed */
	seg_block_t block;			/* last block returned */
	bool		closed;			/* the file has footer and trailer */
	uint64_t	footer_offset;
	uint64_t	good_end;		/* end of the last valid block */
	uint64_t	txn_end;		/* end of the last valid ENDS_TXN block */
	proto_lsn_t txn_end_lsn;	/* its end LSN */
} seg_reader_t;

/*
 * seg_reader_open - open path, check the file magic and read the header.
 * Returns 0 or an error; on error *err_offset (may be NULL) is where the
 * damage is.  seg_reader_close frees everything.
 */
int			seg_reader_open(seg_reader_t *r, const char *path,
							uint64_t *err_offset);
void		seg_reader_close(seg_reader_t *r);

/*
 * seg_reader_next - the next data block, verified and decompressed:
 * r->raw holds its messages and r->block its header.  Returns 0,
 * TIDE_EEOF at the footer or at the clean end of a .partial, or an error
 * (TIDE_ETRUNCATED for a torn tail, TIDE_ECHECKSUM, ...) with
 * r->block_offset naming the damaged block's offset.
 */
int			seg_reader_next(seg_reader_t *r);

/*
 * seg_reader_footer - read the footer of a closed segment into f, whose
 * cursors point into r's memory (valid until the next call on r).
 */
int			seg_reader_footer(seg_reader_t *r, seg_footer_t *f);

#endif /* TIDE_SEGMENT_H */
