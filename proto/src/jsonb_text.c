/*
 * proto/src/jsonb_text.c
 *		The compact jsonb tree (jsonb.c, FORMAT.md "jsonb values") as
 *		jsonb_out prints it.
 *
 * Consumers' work: it is not compiled into the decoder's module, which
 * only writes the tree.
 */
#include <string.h>

#include "tide/value.h"
#include "tide/wire.h"

#define MAX_DEPTH 4096			/* as proto_jsonb_container_text() */

/* ------------------------------------------------------------ to text */

static int	text_value(proto_wbuf_t *out, proto_rbuf_t *r, int depth);

/*
 * numeric_begin - start a numeric's send format (ndigits, weight, sign,
 * dscale, then the digits appended by the caller) in a scratch buffer, so
 * numerics print exactly as numeric_out does everywhere in tide.
 */
static void
numeric_begin(proto_wbuf_t *b, uint8_t sign, int64_t weight, uint64_t dscale,
			  uint64_t ndigits)
{
	uint16_t	s = sign == 1 ? 0x4000 : sign == 2 ? 0xC000 : sign == 3 ? 0xD000 :
		sign == 4 ? 0xF000 : 0x0000;
	uint16_t	f[4] = {(uint16_t) ndigits, (uint16_t) weight, s, (uint16_t) dscale};

	for (int i = 0; i < 4; i++)
	{
		proto_put_u8(b, (uint8_t) (f[i] >> 8));
		proto_put_u8(b, (uint8_t) f[i]);
	}
}

static int
text_value(proto_wbuf_t *out, proto_rbuf_t *r, int depth)
{
	uint8_t		tag;
	uint64_t	n;
	int			rc;

	if (depth >= MAX_DEPTH)
		return TIDE_EBADVALUE;
	if (proto_get_u8(r, &tag))
		return TIDE_EBADVALUE;
	switch (tag)
	{
		case PROTO_JSONB_TEXT:
			{
				const char *s;
				size_t		len;

				if (depth > 0 || proto_get_str(r, PROTO_MAX_VALUE, &s, &len))
					return TIDE_EBADVALUE;
				proto_put_bytes(out, s, len);
				return 0;
			}
		case PROTO_JSONB_NULL:
			proto_put_bytes(out, "null", 4);
			return 0;
		case PROTO_JSONB_FALSE:
			proto_put_bytes(out, "false", 5);
			return 0;
		case PROTO_JSONB_TRUE:
			proto_put_bytes(out, "true", 4);
			return 0;
		case PROTO_JSONB_STRING:
			{
				const char *s;
				size_t		len;

				if (proto_get_str(r, PROTO_MAX_VALUE, &s, &len))
					return TIDE_EBADVALUE;
				proto_value_quote(out, s, len, 1);
				return 0;
			}
		case PROTO_JSONB_INT:
			{
				int64_t		v;
				char		tmp[24];
				int			k = 0;
				uint64_t	u;

				if (proto_get_svarint(r, &v))
					return TIDE_EBADVALUE;
				u = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;
				do
				{
					tmp[k++] = (char) ('0' + u % 10);
					u /= 10;
				} while (u);
				if (v < 0)
					proto_put_u8(out, '-');
				while (k > 0)
					proto_put_u8(out, (uint8_t) tmp[--k]);
				return 0;
			}
		case PROTO_JSONB_NUMERIC:
			{
				uint8_t		sign;
				int64_t		weight;
				uint64_t	dscale;
				proto_wbuf_t b;

				if (proto_get_u8(r, &sign) || proto_get_svarint(r, &weight) ||
					proto_get_varint(r, &dscale) || proto_get_varint(r, &n) ||
					sign > 4 || n > 0xFFFF || n > proto_rbuf_left(r) ||
					weight < INT16_MIN || weight > INT16_MAX || dscale > 0x3FFF)
					return TIDE_EBADVALUE;
				proto_wbuf_init_heap(&b);
				numeric_begin(&b, sign, weight, dscale, n);
				rc = 0;
				for (uint64_t i = 0; i < n && rc == 0; i++)
				{
					uint64_t	d = 0;

					if (proto_get_varint(r, &d) || d > 9999)
						rc = TIDE_EBADVALUE;
					else
					{
						proto_put_u8(&b, (uint8_t) (d >> 8));
						proto_put_u8(&b, (uint8_t) d);
					}
				}
				if (rc == 0)
					rc = b.err ? b.err :
						proto_value_text(out, PROTO_ENC_BINARY, PROTO_NUMERICOID,
										 b.data, (uint32_t) b.len);
				proto_wbuf_free(&b);
				return rc;
			}
		case PROTO_JSONB_ARRAY:
		case PROTO_JSONB_OBJECT:
			if (proto_get_varint(r, &n) || n > proto_rbuf_left(r))
				return TIDE_EBADVALUE;
			proto_put_u8(out, tag == PROTO_JSONB_ARRAY ? '[' : '{');
			for (uint64_t i = 0; i < n; i++)
			{
				if (i)
					proto_put_bytes(out, ", ", 2);
				if (tag == PROTO_JSONB_OBJECT)
				{
					const char *k;
					size_t		klen;

					if (proto_get_str(r, PROTO_MAX_VALUE, &k, &klen))
						return TIDE_EBADVALUE;
					proto_value_quote(out, k, klen, 1);
					proto_put_bytes(out, ": ", 2);
				}
				if ((rc = text_value(out, r, depth + 1)) != 0)
					return rc;
			}
			proto_put_u8(out, tag == PROTO_JSONB_ARRAY ? ']' : '}');
			return 0;
		default:
			return TIDE_EBADVALUE;
	}
}

int
proto_jsonb_text(proto_wbuf_t *out, const uint8_t *data, size_t len)
{
	proto_rbuf_t r;
	int			rc;

	proto_rbuf_init(&r, data, len);
	if ((rc = text_value(out, &r, 0)) != 0)
		return rc;
	if (r.pos != r.len)
		return TIDE_EBADVALUE;
	return out->err;
}
