/*
 * proto/include/tide/buf.h
 *		Growable output buffer and bounds-checked input cursor.
 *
 * Every encoder in proto appends to a proto_wbuf_t and every decoder reads
 * through a proto_rbuf_t.  Both carry a sticky error: after the first
 * failure all further calls are no-ops and the error is reported once, by
 * whoever checks it at the end.  A reader never returns a plausible zero on
 * underflow: read functions return the value through an out-parameter and the
 * caller checks rb->err (or the function's return code).
 *
 * Byte order: every fixed-width integer is little-endian.  Variable-length
 * integers are unsigned LEB128 (7 bits a byte, low group first, at most 10
 * bytes); signed ones are zigzag-mapped first.
 */
#ifndef TIDE_BUF_H
#define TIDE_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tide/errors.h"

typedef struct proto_wbuf_s proto_wbuf_t;

/*
 * proto_reserve_cb - make room for at least `extra` more bytes after b->len.
 * It may move b->data; it must update b->data and b->cap.  Returns 0 or a
 * negative code.  Lets the decoder grow a PostgreSQL StringInfo and programs
 * use realloc, so proto itself never allocates.
 */
typedef int (*proto_reserve_cb)(proto_wbuf_t *b, size_t extra);

struct proto_wbuf_s
{
	uint8_t    *data;			/* owned by whoever supplies reserve_cb */
	size_t		len;
	size_t		cap;
	proto_reserve_cb reserve_cb;	/* NULL: fixed buffer, fails NOSPACE */
	void	   *arg;			/* for reserve_cb */
	int			err;			/* sticky: first error, 0 while fine */
};

typedef struct proto_rbuf_s
{
	const uint8_t *data;		/* not owned */
	size_t		len;
	size_t		pos;
	int			err;			/* sticky */
} proto_rbuf_t;

/* proto_wbuf_init_fixed - write into caller memory of cap bytes. */
void		proto_wbuf_init_fixed(proto_wbuf_t *b, void *mem, size_t cap);

/*
 * proto_wbuf_init_heap / proto_wbuf_free - a buffer grown with realloc;
 * proto_wbuf_free hands the memory back (programs only; the decoder supplies
 * its own reserve_cb over a StringInfo).
 */
void		proto_wbuf_init_heap(proto_wbuf_t *b);
void		proto_wbuf_free(proto_wbuf_t *b);

/* proto_wbuf_reset - empty the buffer and clear the sticky error. */
static inline void
proto_wbuf_reset(proto_wbuf_t *b)
{
	b->len = 0;
	b->err = 0;
}

/* proto__reserve - slow path of proto_wbuf_ensure. */
int			proto__reserve(proto_wbuf_t *b, size_t extra);

/* proto_wbuf_ensure - 0 if `extra` bytes fit (growing if needed), else err. */
static inline int
proto_wbuf_ensure(proto_wbuf_t *b, size_t extra)
{
	if (b->err)
		return b->err;
	if (extra <= b->cap - b->len)
		return 0;
	return proto__reserve(b, extra);
}

static inline void
proto_put_u8(proto_wbuf_t *b, uint8_t v)
{
	if (proto_wbuf_ensure(b, 1) == 0)
		b->data[b->len++] = v;
}

static inline void
proto_put_bytes(proto_wbuf_t *b, const void *p, size_t n)
{
	if (n > 0 && proto_wbuf_ensure(b, n) == 0)
	{
		memcpy(b->data + b->len, p, n);
		b->len += n;
	}
}

static inline void
proto_put_u16(proto_wbuf_t *b, uint16_t v)
{
	if (proto_wbuf_ensure(b, 2) == 0)
	{
		b->data[b->len++] = (uint8_t) v;
		b->data[b->len++] = (uint8_t) (v >> 8);
	}
}

static inline void
proto_put_u32(proto_wbuf_t *b, uint32_t v)
{
	if (proto_wbuf_ensure(b, 4) == 0)
	{
		for (int i = 0; i < 4; i++)
			b->data[b->len++] = (uint8_t) (v >> (8 * i));
	}
}

static inline void
proto_put_u64(proto_wbuf_t *b, uint64_t v)
{
	if (proto_wbuf_ensure(b, 8) == 0)
	{
		for (int i = 0; i < 8; i++)
			b->data[b->len++] = (uint8_t) (v >> (8 * i));
	}
}

static inline void
proto_put_varint(proto_wbuf_t *b, uint64_t v)
{
	if (proto_wbuf_ensure(b, 10) == 0)
	{
		while (v >= 0x80)
		{
			b->data[b->len++] = (uint8_t) (v | 0x80);
			v >>= 7;
		}
		b->data[b->len++] = (uint8_t) v;
	}
}

static inline void
proto_put_svarint(proto_wbuf_t *b, int64_t v)
{
	proto_put_varint(b, ((uint64_t) v << 1) ^ (uint64_t) (v >> 63));
}

/* proto_put_str - varint length then the bytes (no terminator). */
static inline void
proto_put_str(proto_wbuf_t *b, const char *s, size_t n)
{
	proto_put_varint(b, n);
	proto_put_bytes(b, s, n);
}

/* proto_varint_size - bytes proto_put_varint(v) takes. */
static inline size_t
proto_varint_size(uint64_t v)
{
	size_t		n = 1;

	while (v >= 0x80)
	{
		v >>= 7;
		n++;
	}
	return n;
}

static inline void
proto_rbuf_init(proto_rbuf_t *r, const void *data, size_t len)
{
	r->data = (const uint8_t *) data;
	r->len = len;
	r->pos = 0;
	r->err = 0;
}

static inline size_t
proto_rbuf_left(const proto_rbuf_t *r)
{
	return r->err ? 0 : r->len - r->pos;
}

/*
 * Readers: on underflow they set r->err = TIDE_ETRUNCATED, leave *out
 * untouched and return the error.  Once r->err is set they do nothing.
 */
int			proto_get_u8(proto_rbuf_t *r, uint8_t *out);
int			proto_get_u16(proto_rbuf_t *r, uint16_t *out);
int			proto_get_u32(proto_rbuf_t *r, uint32_t *out);
int			proto_get_u64(proto_rbuf_t *r, uint64_t *out);
int			proto_get_varint(proto_rbuf_t *r, uint64_t *out);
int			proto_get_svarint(proto_rbuf_t *r, int64_t *out);

/* proto_get_varint32 - a varint that must fit in uint32 (else BADVARINT). */
int			proto_get_varint32(proto_rbuf_t *r, uint32_t *out);

/*
 * proto_get_bytes - point *out at the next n bytes (no copy; valid while the
 * input is).
 */
int			proto_get_bytes(proto_rbuf_t *r, size_t n, const uint8_t **out);

/*
 * proto_get_str - varint length (at most maxlen) then bytes; *out points
 * into the input, *n is the length.  Strings are not NUL-terminated.
 */
int			proto_get_str(proto_rbuf_t *r, size_t maxlen,
						  const char **out, size_t *n);

/* proto_rbuf_fail - set the sticky error (if none yet); returns r->err. */
int			proto_rbuf_fail(proto_rbuf_t *r, int code);

#endif /* TIDE_BUF_H */
