/*
 * proto/src/buf.c
 *		Growable output buffer and bounds-checked input cursor.
 */
#include <stdlib.h>

#include "tide/buf.h"

static int
heap_reserve(proto_wbuf_t *b, size_t extra)
{
	size_t		need;
	size_t		cap;
	uint8_t    *p;

	if (extra > SIZE_MAX / 2 - b->len)
		return TIDE_ENOMEM;
	need = b->len + extra;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	p = realloc(b->data, cap);
	if (p == NULL)
		return TIDE_ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

void
proto_wbuf_init_fixed(proto_wbuf_t *b, void *mem, size_t cap)
{
	b->data = mem;
	b->len = 0;
	b->cap = cap;
	b->reserve_cb = NULL;
	b->arg = NULL;
	b->err = 0;
}

void
proto_wbuf_init_heap(proto_wbuf_t *b)
{
	proto_wbuf_init_fixed(b, NULL, 0);
	b->reserve_cb = heap_reserve;
}

void
proto_wbuf_free(proto_wbuf_t *b)
{
	if (b->reserve_cb == heap_reserve)
		free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int
proto__reserve(proto_wbuf_t *b, size_t extra)
{
	int			rc;

	if (b->reserve_cb == NULL)
		rc = TIDE_ENOSPACE;
	else
		rc = b->reserve_cb(b, extra);
	if (rc == 0 && extra > b->cap - b->len)
		rc = TIDE_ENOMEM;		/* a callback that lied */
	if (rc != 0)
		b->err = rc;
	return rc;
}

int
proto_rbuf_fail(proto_rbuf_t *r, int code)
{
	if (r->err == 0)
		r->err = code;
	return r->err;
}

int
proto_get_bytes(proto_rbuf_t *r, size_t n, const uint8_t **out)
{
	if (r->err)
		return r->err;
	if (n > r->len - r->pos)
		return proto_rbuf_fail(r, TIDE_ETRUNCATED);
	*out = r->data + r->pos;
	r->pos += n;
	return 0;
}

int
proto_get_u8(proto_rbuf_t *r, uint8_t *out)
{
	const uint8_t *p;

	if (proto_get_bytes(r, 1, &p))
		return r->err;
	*out = p[0];
	return 0;
}

int
proto_get_u16(proto_rbuf_t *r, uint16_t *out)
{
	const uint8_t *p;

	if (proto_get_bytes(r, 2, &p))
		return r->err;
	*out = (uint16_t) (p[0] | (p[1] << 8));
	return 0;
}

int
proto_get_u32(proto_rbuf_t *r, uint32_t *out)
{
	const uint8_t *p;

	if (proto_get_bytes(r, 4, &p))
		return r->err;
	*out = (uint32_t) p[0] | (uint32_t) p[1] << 8 |
		(uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
	return 0;
}

int
proto_get_u64(proto_rbuf_t *r, uint64_t *out)
{
	const uint8_t *p;
	uint64_t	v = 0;

	if (proto_get_bytes(r, 8, &p))
		return r->err;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	*out = v;
	return 0;
}

int
proto_get_varint(proto_rbuf_t *r, uint64_t *out)
{
	uint64_t	v = 0;

	if (r->err)
		return r->err;
	for (int shift = 0; shift < 64; shift += 7)
	{
		uint8_t		c;

		if (r->pos >= r->len)
			return proto_rbuf_fail(r, TIDE_ETRUNCATED);
		c = r->data[r->pos++];
		/* the tenth byte may only carry the top bit of a 64-bit value */
		if (shift == 63 && c > 1)
			return proto_rbuf_fail(r, TIDE_EBADVARINT);
		v |= (uint64_t) (c & 0x7f) << shift;
		if ((c & 0x80) == 0)
		{
			/* reject over-long encodings: one value, one byte sequence */
			if (c == 0 && shift > 0)
				return proto_rbuf_fail(r, TIDE_EBADVARINT);
			*out = v;
			return 0;
		}
	}
	return proto_rbuf_fail(r, TIDE_EBADVARINT);
}

int
proto_get_varint32(proto_rbuf_t *r, uint32_t *out)
{
	uint64_t	v;

	if (proto_get_varint(r, &v))
		return r->err;
	if (v > UINT32_MAX)
		return proto_rbuf_fail(r, TIDE_EBADVARINT);
	*out = (uint32_t) v;
	return 0;
}

int
proto_get_svarint(proto_rbuf_t *r, int64_t *out)
{
	uint64_t	v;

	if (proto_get_varint(r, &v))
		return r->err;
	*out = (int64_t) (v >> 1) ^ -(int64_t) (v & 1);
	return 0;
}

int
proto_get_str(proto_rbuf_t *r, size_t maxlen, const char **out, size_t *n)
{
	uint64_t	len;
	const uint8_t *p;

	if (proto_get_varint(r, &len))
		return r->err;
	if (len > maxlen)
		return proto_rbuf_fail(r, TIDE_ETOOLONG);
	if (proto_get_bytes(r, (size_t) len, &p))
		return r->err;
	*out = (const char *) p;
	*n = (size_t) len;
	return 0;
}
