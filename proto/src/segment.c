/*
 * proto/src/segment.c
 *		Segment files: block codec, header and footer, sequential reader.
 *
 * Checksums are XXH3 (libxxhash) and compression is zstd, both used as
 * their maintainers publish them.  See proto/FORMAT.md, part 2.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#include "tide/segment.h"

#define PG_EPOCH_UNIX INT64_C(946684800)	/* 2000-01-01 in Unix seconds */
#define USECS INT64_C(1000000)

struct seg_zstd_s
{
	ZSTD_CCtx  *cctx;			/* owned */
	ZSTD_DCtx  *dctx;			/* owned */
	int			level;
};

seg_zstd_t *
seg_zstd_new(int level)
{
	seg_zstd_t *z = calloc(1, sizeof(*z));

	if (z == NULL)
		return NULL;
	z->cctx = ZSTD_createCCtx();
	z->dctx = ZSTD_createDCtx();
	z->level = level;
	if (z->cctx == NULL || z->dctx == NULL)
	{
		seg_zstd_free(z);
		return NULL;
	}
	return z;
}

void
seg_zstd_free(seg_zstd_t *z)
{
	if (z == NULL)
		return;
	ZSTD_freeCCtx(z->cctx);
	ZSTD_freeDCtx(z->dctx);
	free(z);
}

static void
le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}

static void
le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 |
		(uint32_t) p[3] << 24;
}

static uint64_t
rd64(const uint8_t *p)
{
	return (uint64_t) rd32(p) | (uint64_t) rd32(p + 4) << 32;
}

/* block_checksum - XXH3 of the payload seeded with XXH3 of header 0..27 */
static uint32_t
block_checksum(const uint8_t *hdr, const uint8_t *payload, size_t n)
{
	XXH64_hash_t seed = XXH3_64bits(hdr, 28);

	return (uint32_t) XXH3_64bits_withSeed(payload, n, seed);
}

int
seg_block_encode(proto_wbuf_t *out, seg_zstd_t *z, uint8_t kind, uint8_t codec,
				 uint8_t flags, proto_lsn_t end_lsn, const uint8_t *raw,
				 size_t raw_len)
{
	size_t		start;
	size_t		stored;
	uint8_t    *hdr;

	if (raw_len > SEG_MAX_BLOCK || (codec == SEG_CODEC_ZSTD && z == NULL) ||
		(codec != SEG_CODEC_ZSTD && codec != SEG_CODEC_NONE))
		return out->err = TIDE_EBADVALUE;
	if (proto_wbuf_ensure(out, SEG_BLOCK_HEADER_LEN + raw_len) != 0)
		return out->err;
	start = out->len;
	stored = raw_len;
	if (codec == SEG_CODEC_ZSTD)
	{
		size_t		bound = ZSTD_compressBound(raw_len);
		size_t		n;

		if (proto_wbuf_ensure(out, SEG_BLOCK_HEADER_LEN + bound) != 0)
			return out->err;
		n = ZSTD_compressCCtx(z->cctx, out->data + start + SEG_BLOCK_HEADER_LEN,
							  bound, raw, raw_len, z->level);
		if (ZSTD_isError(n))
			return out->err = TIDE_ECOMPRESS;
		if (n < raw_len)
			stored = n;
		else
			codec = SEG_CODEC_NONE;
	}
	if (codec == SEG_CODEC_NONE && raw_len > 0)
		memcpy(out->data + start + SEG_BLOCK_HEADER_LEN, raw, raw_len);
	hdr = out->data + start;
	memcpy(hdr, SEG_BLOCK_MAGIC, 4);
	hdr[4] = kind;
	hdr[5] = codec;
	hdr[6] = flags;
	hdr[7] = 0;
	le32(hdr + 8, (uint32_t) stored);
	le32(hdr + 12, (uint32_t) raw_len);
	le64(hdr + 16, end_lsn);
	le32(hdr + 24, 0);
	le32(hdr + 28, block_checksum(hdr, hdr + SEG_BLOCK_HEADER_LEN, stored));
	out->len = start + SEG_BLOCK_HEADER_LEN + stored;
	return 0;
}

int
seg_block_parse(const uint8_t *hdr, seg_block_t *b)
{
	if (memcmp(hdr, SEG_BLOCK_MAGIC, 4) != 0)
		return TIDE_EBADMAGIC;
	b->kind = hdr[4];
	b->codec = hdr[5];
	b->flags = hdr[6];
	b->stored_len = rd32(hdr + 8);
	b->raw_len = rd32(hdr + 12);
	b->end_lsn = rd64(hdr + 16);
	b->checksum = rd32(hdr + 28);
	if ((b->kind != SEG_KIND_HEADER && b->kind != SEG_KIND_DATA &&
		 b->kind != SEG_KIND_FOOTER) ||
		(b->codec != SEG_CODEC_NONE && b->codec != SEG_CODEC_ZSTD) ||
		(b->flags & ~SEG_BLOCK_ENDS_TXN) || hdr[7] != 0 || rd32(hdr + 24) != 0 ||
		b->stored_len > SEG_MAX_BLOCK || b->raw_len > SEG_MAX_BLOCK ||
		(b->codec == SEG_CODEC_NONE && b->stored_len != b->raw_len) ||
		(b->kind != SEG_KIND_DATA && b->codec != SEG_CODEC_NONE))
		return TIDE_EBADVALUE;
	return 0;
}

int
seg_block_verify(const uint8_t *hdr, const seg_block_t *b,
				 const uint8_t *payload)
{
	return block_checksum(hdr, payload, b->stored_len) == b->checksum ?
		0 : TIDE_ECHECKSUM;
}

/*
 * check_messages - walk the message framing of raw[*checked..len), where
 * the block declares raw_len bytes in all: each message a type its wire
 * version defines inside a segment, and a length that stays inside the
 * block.  *checked advances over every whole message; a message whose
 * bytes are not all there yet stops the walk (more will be decoded).
 */
static int
check_messages(const uint8_t *raw, size_t len, size_t raw_len,
			   uint32_t wire_version, size_t *checked)
{
	size_t		at = *checked;

	while (at < len)
	{
		uint64_t	n = 0;
		size_t		p = at + 1;
		int			shift = 0;

		if (!seg_message_type_ok(raw[at], wire_version))
			return TIDE_EBADTYPE;
		for (;;)
		{
			if (p == len)
				goto more;		/* the length is not all there yet */
			if (shift > 63 || (shift == 63 && (raw[p] & 0x7e)))
				return TIDE_EBADVARINT;
			n |= (uint64_t) (raw[p] & 0x7f) << shift;
			shift += 7;
			if ((raw[p++] & 0x80) == 0)
				break;
		}
		if (n > raw_len - p)
			return TIDE_ETOOLONG;	/* runs past the block's end */
		if (n > len - p)
			break;
		at = p + (size_t) n;
	}
more:
	*checked = at;
	return 0;
}

bool
seg_message_type_ok(uint8_t type, uint32_t wire_version)
{
	/*
	 * Version 1 defines these; version 2 added only stream messages, which
	 * never reach a segment (tide stream writes a streamed transaction as
	 * BEGIN ... COMMIT).  STARTUP stays out too.
	 */
	(void) wire_version;
	switch (type)
	{
		case PROTO_MSG_BEGIN:
		case PROTO_MSG_COMMIT:
		case PROTO_MSG_ORIGIN:
		case PROTO_MSG_RELATION:
		case PROTO_MSG_INSERT:
		case PROTO_MSG_UPDATE:
		case PROTO_MSG_DELETE:
		case PROTO_MSG_TRUNCATE:
		case PROTO_MSG_MESSAGE:
			return true;
		default:
			return false;
	}
}

int
seg_block_decode(seg_zstd_t *z, const seg_block_t *b, const uint8_t *payload,
				 uint32_t wire_version, proto_wbuf_t *raw)
{
	ZSTD_inBuffer in = {payload, b->stored_len, 0};
	size_t		start = raw->len;
	size_t		checked = 0;
	int			rc;

	/* an empty block (an idle mark) holds nothing; a writer never zstds one */
	if (b->raw_len == 0)
		return b->codec == SEG_CODEC_NONE ? 0 : TIDE_ECOMPRESS;
	if (b->codec == SEG_CODEC_NONE)
	{
		proto_put_bytes(raw, payload, b->stored_len);
		if (raw->err)
			return raw->err;
		if (wire_version != 0 &&
			((rc = check_messages(raw->data + start, b->raw_len, b->raw_len,
								  wire_version, &checked)) != 0 ||
			 checked != b->raw_len))
			return rc ? rc : TIDE_ETRUNCATED;
		return 0;
	}
	if (z == NULL)
		return TIDE_EBADSTATE;
	ZSTD_DCtx_reset(z->dctx, ZSTD_reset_session_only);

	/*
	 * A step at a time, never more than the block declares, and for message
	 * blocks checking the framing as it comes out: a crafted 33 kB block
	 * that declares 1 GiB of zeros is refused after the first step, before
	 * the reader has spent a gigabyte on it.  Memory grows with what the
	 * payload really holds.
	 */
	for (;;)
	{
		size_t		done = raw->len - start;
		size_t		step = b->raw_len - done < SEG_DECODE_STEP ?
			b->raw_len - done : SEG_DECODE_STEP;
		ZSTD_outBuffer out;
		size_t		ret;

		if (proto_wbuf_ensure(raw, step) != 0)
			return raw->err;
		out.dst = raw->data + start;
		out.size = done + step;
		out.pos = done;
		ret = ZSTD_decompressStream(z->dctx, &out, &in);
		if (ZSTD_isError(ret))
			return TIDE_ECOMPRESS;
		raw->len = start + out.pos;
		if (wire_version != 0 &&
			(rc = check_messages(raw->data + start, out.pos, b->raw_len,
								 wire_version, &checked)) != 0)
			return rc;
		if (out.pos == b->raw_len)
		{
			/* exactly the declared size, the frame complete, nothing after */
			if (ret != 0 || in.pos != in.size)
				return TIDE_ECOMPRESS;
			break;
		}
		if (ret == 0 || (in.pos == in.size && out.pos < out.size))
			return TIDE_ECOMPRESS;	/* less than declared */
	}
	if (wire_version != 0 && checked != b->raw_len)
		return TIDE_ETRUNCATED;
	return 0;
}

/* ------------------------------------------------------- header, footer */

int
seg_header_write(proto_wbuf_t *out, const seg_header_t *h)
{
	proto_put_varint(out, h->version);
	proto_put_varint(out, h->wire_version);
	proto_put_u64(out, h->system_id);
	proto_put_varint(out, h->timeline);
	proto_put_varint(out, h->dboid);
	proto_put_str(out, h->dbname.p, h->dbname.n);
	proto_put_str(out, h->slot.p, h->slot.n);
	proto_put_varint(out, h->server_version);
	proto_put_str(out, h->encoding.p, h->encoding.n);
	proto_put_u64(out, (uint64_t) h->bucket_start);
	proto_put_varint(out, h->bucket_seconds);
	proto_put_u64(out, h->start_lsn);
	proto_put_u64(out, (uint64_t) h->created);
	return out->err;
}

int
seg_header_read(proto_rbuf_t *r, seg_header_t *h)
{
	uint64_t	t1 = 0;
	uint64_t	t2 = 0;

	proto_get_varint32(r, &h->version);
	if (r->err == 0 && h->version != SEG_FORMAT_VERSION)
		return proto_rbuf_fail(r, TIDE_EBADVERSION);
	proto_get_varint32(r, &h->wire_version);
	proto_get_u64(r, &h->system_id);
	proto_get_varint32(r, &h->timeline);
	proto_get_varint32(r, &h->dboid);
	proto_get_str(r, PROTO_MAX_NAME, &h->dbname.p, &h->dbname.n);
	proto_get_str(r, PROTO_MAX_NAME, &h->slot.p, &h->slot.n);
	proto_get_varint32(r, &h->server_version);
	proto_get_str(r, PROTO_MAX_NAME, &h->encoding.p, &h->encoding.n);
	proto_get_u64(r, &t1);
	proto_get_varint32(r, &h->bucket_seconds);
	proto_get_u64(r, &h->start_lsn);
	proto_get_u64(r, &t2);
	h->bucket_start = (proto_time_t) t1;
	h->created = (proto_time_t) t2;
	if (r->err == 0 && (h->wire_version < PROTO_FORMAT_VERSION_MIN ||
						h->wire_version > PROTO_FORMAT_VERSION))
		return proto_rbuf_fail(r, TIDE_EBADVERSION);
	if (r->err == 0 && r->pos != r->len)
		return proto_rbuf_fail(r, TIDE_ETRAILING);
	return r->err;
}

int
seg_footer_write(proto_wbuf_t *out, const seg_footer_t *f)
{
	proto_put_u64(out, f->first_lsn);
	proto_put_u64(out, f->last_lsn);
	proto_put_u64(out, (uint64_t) f->first_time);
	proto_put_u64(out, (uint64_t) f->last_time);
	proto_put_varint(out, f->ntxns);
	proto_put_varint(out, f->nchanges);
	proto_put_varint(out, f->nblocks);
	return out->err;
}

void
seg_footer_put_block(proto_wbuf_t *out, uint64_t offset, proto_lsn_t end_lsn)
{
	proto_put_u64(out, offset);
	proto_put_u64(out, end_lsn);
}

int
seg_footer_begin_tables(proto_wbuf_t *out, uint64_t ntables)
{
	proto_put_varint(out, ntables);
	return out->err;
}

void
seg_footer_put_table(proto_wbuf_t *out, const seg_table_count_t *t)
{
	proto_put_varint(out, t->relid);
	proto_put_str(out, t->nspname.p, t->nspname.n);
	proto_put_str(out, t->relname.p, t->relname.n);
	proto_put_varint(out, t->inserts);
	proto_put_varint(out, t->updates);
	proto_put_varint(out, t->deletes);
	proto_put_varint(out, t->truncates);
}

int
seg_footer_read(proto_rbuf_t *r, seg_footer_t *f)
{
	uint64_t	t1 = 0;
	uint64_t	t2 = 0;
	const uint8_t *p;

	proto_get_u64(r, &f->first_lsn);
	proto_get_u64(r, &f->last_lsn);
	proto_get_u64(r, &t1);
	proto_get_u64(r, &t2);
	proto_get_varint(r, &f->ntxns);
	proto_get_varint(r, &f->nchanges);
	if (proto_get_varint(r, &f->nblocks))
		return r->err;
	f->first_time = (proto_time_t) t1;
	f->last_time = (proto_time_t) t2;
	if (f->nblocks > proto_rbuf_left(r) / 16)
		return proto_rbuf_fail(r, TIDE_ETRUNCATED);
	proto_get_bytes(r, (size_t) f->nblocks * 16, &p);
	proto_rbuf_init(&f->blocks, p, (size_t) f->nblocks * 16);
	if (proto_get_varint(r, &f->ntables))
		return r->err;
	/* the table entries run to the end of the payload */
	proto_get_bytes(r, r->len - r->pos, &p);
	proto_rbuf_init(&f->tables, p, f->tables.len = r->len - (size_t) (p - r->data));
	return r->err;
}

int
seg_footer_next_block(seg_footer_t *f, uint64_t *offset, proto_lsn_t *end_lsn)
{
	if (proto_rbuf_left(&f->blocks) == 0 && f->blocks.err == 0)
		return TIDE_EEOF;
	proto_get_u64(&f->blocks, offset);
	proto_get_u64(&f->blocks, end_lsn);
	return f->blocks.err;
}

int
seg_footer_next_table(seg_footer_t *f, seg_table_count_t *t)
{
	proto_rbuf_t *r = &f->tables;

	if (proto_rbuf_left(r) == 0 && r->err == 0)
		return TIDE_EEOF;
	proto_get_varint32(r, &t->relid);
	proto_get_str(r, PROTO_MAX_NAME, &t->nspname.p, &t->nspname.n);
	proto_get_str(r, PROTO_MAX_NAME, &t->relname.p, &t->relname.n);
	proto_get_varint(r, &t->inserts);
	proto_get_varint(r, &t->updates);
	proto_get_varint(r, &t->deletes);
	proto_get_varint(r, &t->truncates);
	return r->err;
}

void
seg_trailer_write(proto_wbuf_t *out, uint64_t footer_offset)
{
	proto_put_u64(out, footer_offset);
	proto_put_bytes(out, SEG_TRAILER_MAGIC, 8);
}

/* ---------------------------------------------------------------- names */

void
seg_name_format(char *buf, proto_time_t bucket_start, proto_lsn_t start_lsn)
{
	time_t		secs = (time_t) (bucket_start / USECS + PG_EPOCH_UNIX);
	struct tm	tm;
	char		tmp[96];

	gmtime_r(&secs, &tm);
	/* years past 9999 do not fit the name: such commit times are bogus */
	if (tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0)
		tm.tm_year = 9999 - 1900;
	snprintf(tmp, sizeof(tmp), "%04d%02d%02dT%02d%02d%02dZ_%08X%08X",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, (unsigned) (start_lsn >> 32),
			 (unsigned) start_lsn);
	memcpy(buf, tmp, SEG_NAME_LEN);
	buf[SEG_NAME_LEN] = '\0';
}

int
seg_name_parse(const char *name, proto_time_t *bucket_start,
			   proto_lsn_t *start_lsn, bool *partial)
{
	struct tm	tm = {0};
	unsigned	hi;
	unsigned	lo;
	char		tail[32] = "";
	int			n = 0;

	if (strlen(name) < SEG_NAME_LEN ||
		sscanf(name, "%4d%2d%2dT%2d%2d%2dZ_%8X%8X%n", &tm.tm_year, &tm.tm_mon,
			   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &hi, &lo, &n) != 8 ||
		n != SEG_NAME_LEN)
		return TIDE_EBADVALUE;
	snprintf(tail, sizeof(tail), "%s", name + SEG_NAME_LEN);
	if (strcmp(tail, SEG_SUFFIX) != 0 && strcmp(tail, SEG_PARTIAL_SUFFIX) != 0 &&
		tail[0] != '\0')
		return TIDE_EBADVALUE;
	if (partial)
		*partial = strcmp(tail, SEG_PARTIAL_SUFFIX) == 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*bucket_start = ((proto_time_t) timegm(&tm) - PG_EPOCH_UNIX) * USECS;
	*start_lsn = (proto_lsn_t) hi << 32 | lo;
	return 0;
}

/* --------------------------------------------------------------- reader */

static int
pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	size_t		done = 0;

	while (done < n)
	{
		ssize_t		got = pread(fd, (uint8_t *) buf + done, n - done,
								(off_t) (off + done));

		if (got < 0)
		{
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (got == 0)
			return TIDE_ETRUNCATED;
		done += (size_t) got;
	}
	return 0;
}

/*
 * read_block - read, verify and decode the block at off into r->raw.
 * On success r->offset moves past it.
 */
static int
read_block(seg_reader_t *r, uint64_t off)
{
	uint8_t		hdr[SEG_BLOCK_HEADER_LEN];
	int			rc;

	r->block_offset = off;
	if (r->file_size - off < SEG_BLOCK_HEADER_LEN)
		return TIDE_ETRUNCATED;
	if ((rc = pread_full(r->fd, hdr, sizeof(hdr), off)) != 0 ||
		(rc = seg_block_parse(hdr, &r->block)) != 0)
		return rc;
	if (r->block.stored_len > r->file_size - off - SEG_BLOCK_HEADER_LEN)
		return TIDE_ETRUNCATED;
	proto_wbuf_reset(&r->stored);
	if (proto_wbuf_ensure(&r->stored, r->block.stored_len) != 0)
		return r->stored.err;
	if ((rc = pread_full(r->fd, r->stored.data, r->block.stored_len,
						 off + SEG_BLOCK_HEADER_LEN)) != 0)
		return rc;
	r->stored.len = r->block.stored_len;
	if ((rc = seg_block_verify(hdr, &r->block, r->stored.data)) != 0)
		return rc;
	proto_wbuf_reset(&r->raw);
	if ((rc = seg_block_decode(r->z, &r->block, r->stored.data,
							   r->block.kind == SEG_KIND_DATA ? r->header.wire_version : 0,
							   &r->raw)) != 0)
		return rc;
	r->offset = off + SEG_BLOCK_HEADER_LEN + r->block.stored_len;
	return 0;
}

int
seg_reader_open(seg_reader_t *r, const char *path, uint64_t *err_offset)
{
	uint8_t		magic[SEG_FILE_MAGIC_LEN];
	uint8_t		trailer[SEG_TRAILER_LEN];
	struct stat st;
	proto_rbuf_t rb;
	int			rc;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	proto_wbuf_init_heap(&r->hdr_raw);
	proto_wbuf_init_heap(&r->stored);
	proto_wbuf_init_heap(&r->raw);
	if (err_offset)
		*err_offset = 0;
	if ((r->path = strdup(path)) == NULL || (r->z = seg_zstd_new(3)) == NULL)
		return TIDE_ENOMEM;
	if ((r->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(r->fd, &st) != 0)
		return -errno;
	r->file_size = (uint64_t) st.st_size;
	if ((rc = pread_full(r->fd, magic, sizeof(magic), 0)) != 0)
		return rc;
	if (memcmp(magic, SEG_FILE_MAGIC, SEG_FILE_MAGIC_LEN) != 0)
		return TIDE_EBADMAGIC;
	if ((rc = read_block(r, SEG_FILE_MAGIC_LEN)) != 0)
	{
		if (err_offset)
			*err_offset = r->block_offset;
		return rc;
	}
	if (r->block.kind != SEG_KIND_HEADER)
	{
		if (err_offset)
			*err_offset = r->block_offset;
		return TIDE_EBADVALUE;
	}
	proto_put_bytes(&r->hdr_raw, r->raw.data, r->raw.len);
	if (r->hdr_raw.err)
		return r->hdr_raw.err;
	proto_rbuf_init(&rb, r->hdr_raw.data, r->hdr_raw.len);
	if ((rc = seg_header_read(&rb, &r->header)) != 0)
	{
		if (err_offset)
			*err_offset = r->block_offset;
		return rc;
	}
	r->good_end = r->txn_end = r->offset;
	r->txn_end_lsn = r->header.start_lsn;
	/* a closed segment ends with a trailer naming its footer */
	if (r->file_size >= r->offset + SEG_TRAILER_LEN &&
		pread_full(r->fd, trailer, sizeof(trailer), r->file_size - SEG_TRAILER_LEN) == 0 &&
		memcmp(trailer + 8, SEG_TRAILER_MAGIC, 8) == 0)
	{
		r->footer_offset = rd64(trailer);
		if (r->footer_offset < r->offset ||
			r->footer_offset > r->file_size - SEG_TRAILER_LEN - SEG_BLOCK_HEADER_LEN)
		{
			if (err_offset)
				*err_offset = r->file_size - SEG_TRAILER_LEN;
			return TIDE_EBADVALUE;
		}
		r->closed = true;
	}
	return 0;
}

void
seg_reader_close(seg_reader_t *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	free(r->path);
	r->path = NULL;
	seg_zstd_free(r->z);
	r->z = NULL;
	proto_wbuf_free(&r->hdr_raw);
	proto_wbuf_free(&r->stored);
	proto_wbuf_free(&r->raw);
}

int
seg_reader_next(seg_reader_t *r)
{
	int			rc;

	if (r->closed && r->offset == r->footer_offset)
		return TIDE_EEOF;
	if (!r->closed && r->offset == r->file_size)
		return TIDE_EEOF;
	if ((rc = read_block(r, r->offset)) != 0)
		return rc;
	if (r->block.kind != SEG_KIND_DATA ||
		(r->closed && r->offset > r->footer_offset))
		return TIDE_EBADVALUE;
	r->good_end = r->offset;
	if (r->block.flags & SEG_BLOCK_ENDS_TXN)
	{
		r->txn_end = r->offset;
		if (r->block.end_lsn)
			r->txn_end_lsn = r->block.end_lsn;
	}
	return 0;
}

int
seg_reader_footer(seg_reader_t *r, seg_footer_t *f)
{
	proto_rbuf_t rb;
	int			rc;

	if (!r->closed)
		return TIDE_EBADSTATE;
	if ((rc = read_block(r, r->footer_offset)) != 0)
		return rc;
	if (r->block.kind != SEG_KIND_FOOTER ||
		r->offset != r->file_size - SEG_TRAILER_LEN)
		return TIDE_EBADVALUE;
	proto_rbuf_init(&rb, r->raw.data, r->raw.len);
	return seg_footer_read(&rb, f);
}
