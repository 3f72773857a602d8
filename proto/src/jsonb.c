/*
 * proto/src/jsonb.c
 *		jsonb on the wire: the stored container re-encoded as a compact tree.
 *
 * PostgreSQL's on-disk jsonb (a container header, one 4-byte JEntry per
 * key and value, numerics as whole varlenas, alignment padding) is larger
 * than the JSON text for small documents.  Converting it to text on the
 * source is what makes pgoutput slow (escape_json, numeric_out).  So the
 * decoder walks the container and writes the tree below: no escaping, no
 * numeric formatting, one pass over the bytes; it is smaller than the text
 * and independent of the source's byte order.  FORMAT.md has the grammar.
 *
 * The container layout is PostgreSQL's (src/include/utils/jsonb.h), stable
 * since 9.4 because pg_upgrade keeps jsonb on disk.  It is read with
 * bounds checks everywhere: a damaged value is an error, never a read past
 * the buffer.  The tree's text form (for the consumers) is jsonb_text.c's.
 */
#include <string.h>

#include "tide/value.h"
#include "tide/wire.h"

#define JB_CMASK 0x0FFFFFFF
#define JB_FSCALAR 0x10000000
#define JB_FOBJECT 0x20000000
#define JB_FARRAY 0x40000000

#define JENTRY_OFFLENMASK 0x0FFFFFFF
#define JENTRY_TYPEMASK 0x70000000
#define JENTRY_HAS_OFF 0x80000000
#define JENTRY_ISSTRING 0x00000000
#define JENTRY_ISNUMERIC 0x10000000
#define JENTRY_ISBOOL_FALSE 0x20000000
#define JENTRY_ISBOOL_TRUE 0x30000000
#define JENTRY_ISNULL 0x40000000
#define JENTRY_ISCONTAINER 0x50000000

#define MAX_DEPTH 4096			/* as proto_jsonb_container_text() */

/* numeric header bits (src/backend/utils/adt/numeric.c) */
#define NUMERIC_SIGN_MASK 0xC000
#define NUMERIC_NEG 0x4000
#define NUMERIC_SHORT 0x8000
#define NUMERIC_SPECIAL 0xC000
#define NUMERIC_EXT_SIGN_MASK 0xF000
#define NUMERIC_NAN 0xC000
#define NUMERIC_PINF 0xD000
#define NUMERIC_NINF 0xF000
#define NUMERIC_DSCALE_MASK 0x3FFF
#define NUMERIC_SHORT_SIGN_MASK 0x2000
#define NUMERIC_SHORT_DSCALE_MASK 0x1F80
#define NUMERIC_SHORT_DSCALE_SHIFT 7
#define NUMERIC_SHORT_WEIGHT_SIGN_MASK 0x0040
#define NUMERIC_SHORT_WEIGHT_MASK 0x003F

/* native-endian loads: the container was written by this very host */
static uint32_t
ld32(const uint8_t *p)
{
	uint32_t	v;

	memcpy(&v, p, 4);
	return v;
}

static uint16_t
ld16(const uint8_t *p)
{
	uint16_t	v;

	memcpy(&v, p, 2);
	return v;
}

static size_t
intalign(size_t off)
{
	return (off + 3) & ~(size_t) 3;
}

/*
 * varlena_payload - the bytes of a varlena stored at p (at most len bytes
 * available): its header decoded the way PostgreSQL's VARSIZE_ANY does on
 * this host.  Returns 0 or TIDE_EBADVALUE.
 */
static int
varlena_payload(const uint8_t *p, size_t len, const uint8_t **data, size_t *n)
{
	size_t		total;
	size_t		hdr;

	if (len < 1)
		return TIDE_EBADVALUE;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	if (p[0] & 0x80)
	{
		if (p[0] == 0x80)
			return TIDE_EBADVALUE;	/* external TOAST pointer: never here */
		total = p[0] & 0x7F;
		hdr = 1;
	}
	else
	{
		if (len < 4)
			return TIDE_EBADVALUE;
		total = ((uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 |
				 (uint32_t) p[2] << 8 | p[3]) & 0x3FFFFFFF;
		hdr = 4;
	}
#else
	if (p[0] & 0x01)
	{
		if (p[0] == 0x01)
			return TIDE_EBADVALUE;	/* external TOAST pointer: never here */
		total = (p[0] >> 1) & 0x7F;
		hdr = 1;
	}
	else
	{
		if (len < 4 || (p[0] & 0x02))
			return TIDE_EBADVALUE;	/* compressed inline: never in jsonb */
		total = (ld32(p) >> 2) & 0x3FFFFFFF;
		hdr = 4;
	}
#endif
	if (total < hdr || total > len)
		return TIDE_EBADVALUE;
	*data = p + hdr;
	*n = total - hdr;
	return 0;
}

/*
 * put_numeric - a stored numeric as the compact form: an integer that fits
 * in int64 as PROTO_JSONB_INT, anything else as its base-10000 digits.
 */
static int
put_numeric(proto_wbuf_t *out, const uint8_t *p, size_t n)
{
	uint16_t	h;
	int			sign;
	int			weight;
	int			dscale;
	size_t		ndigits;
	const uint8_t *digits;

	if (n < 2)
		return TIDE_EBADVALUE;
	h = ld16(p);
	if ((h & NUMERIC_SIGN_MASK) == NUMERIC_SPECIAL)
	{
		uint16_t	ext = h & NUMERIC_EXT_SIGN_MASK;

		if (ext != NUMERIC_NAN && ext != NUMERIC_PINF && ext != NUMERIC_NINF)
			return TIDE_EBADVALUE;
		proto_put_u8(out, PROTO_JSONB_NUMERIC);
		proto_put_u8(out, ext == NUMERIC_NAN ? 2 : ext == NUMERIC_PINF ? 3 : 4);
		proto_put_svarint(out, 0);
		proto_put_varint(out, 0);
		proto_put_varint(out, 0);
		return 0;
	}
	if (h & NUMERIC_SHORT)
	{
		sign = (h & NUMERIC_SHORT_SIGN_MASK) ? 1 : 0;
		dscale = (h & NUMERIC_SHORT_DSCALE_MASK) >> NUMERIC_SHORT_DSCALE_SHIFT;
		weight = (h & NUMERIC_SHORT_WEIGHT_SIGN_MASK) ?
			(int) (~NUMERIC_SHORT_WEIGHT_MASK | (h & NUMERIC_SHORT_WEIGHT_MASK)) :
			(int) (h & NUMERIC_SHORT_WEIGHT_MASK);
		digits = p + 2;
		ndigits = (n - 2) / 2;
	}
	else
	{
		if (n < 4)
			return TIDE_EBADVALUE;
		sign = (h & NUMERIC_SIGN_MASK) == NUMERIC_NEG ? 1 : 0;
		dscale = h & NUMERIC_DSCALE_MASK;
		weight = (int16_t) ld16(p + 2);
		digits = p + 4;
		ndigits = (n - 4) / 2;
	}
	/* an integer (no fraction digits, at most 4 base-10000 digits) */
	if (dscale == 0 && weight >= 0 && weight < 4 && ndigits <= (size_t) weight + 1)
	{
		int64_t		v = 0;

		for (int i = 0; i <= weight; i++)
		{
			uint16_t	d = (size_t) i < ndigits ? ld16(digits + 2 * i) : 0;

			if (d > 9999)
				return TIDE_EBADVALUE;
			v = v * 10000 + d;
		}
		proto_put_u8(out, PROTO_JSONB_INT);
		proto_put_svarint(out, sign ? -v : v);
		return 0;
	}
	proto_put_u8(out, PROTO_JSONB_NUMERIC);
	proto_put_u8(out, (uint8_t) sign);
	proto_put_svarint(out, weight);
	proto_put_varint(out, (uint64_t) dscale);
	proto_put_varint(out, ndigits);
	for (size_t i = 0; i < ndigits; i++)
	{
		uint16_t	d = ld16(digits + 2 * i);

		if (d > 9999)
			return TIDE_EBADVALUE;
		proto_put_varint(out, d);
	}
	return 0;
}

static int	put_container(proto_wbuf_t *out, const uint8_t *p, size_t len, int depth);

/* put_entry - one child: its JEntry, where its data lies in the data area */
static int
put_entry(proto_wbuf_t *out, uint32_t je, const uint8_t *base, size_t start,
		  size_t end, size_t area, int depth)
{
	if (start > end || end > area)
		return TIDE_EBADVALUE;
	switch (je & JENTRY_TYPEMASK)
	{
		case JENTRY_ISSTRING:
			proto_put_u8(out, PROTO_JSONB_STRING);
			proto_put_str(out, (const char *) base + start, end - start);
			return 0;
		case JENTRY_ISNUMERIC:
			{
				size_t		s = intalign(start);
				const uint8_t *d;
				size_t		n;
				int			rc;

				if (s > end || (rc = varlena_payload(base + s, end - s, &d, &n)) != 0)
					return TIDE_EBADVALUE;
				return put_numeric(out, d, n);
			}
		case JENTRY_ISBOOL_FALSE:
			proto_put_u8(out, PROTO_JSONB_FALSE);
			return 0;
		case JENTRY_ISBOOL_TRUE:
			proto_put_u8(out, PROTO_JSONB_TRUE);
			return 0;
		case JENTRY_ISNULL:
			proto_put_u8(out, PROTO_JSONB_NULL);
			return 0;
		case JENTRY_ISCONTAINER:
			{
				size_t		s = intalign(start);

				if (s > end)
					return TIDE_EBADVALUE;
				return put_container(out, base + s, end - s, depth + 1);
			}
		default:
			return TIDE_EBADVALUE;
	}
}

static int
put_container(proto_wbuf_t *out, const uint8_t *p, size_t len, int depth)
{
	uint32_t	header;
	uint32_t	count;
	uint64_t	nentries;
	const uint8_t *children;
	const uint8_t *base;
	size_t		area;
	size_t		start = 0;
	int			rc;

	if (depth >= MAX_DEPTH)
		return TIDE_ETOOLONG;
	if (len < 4)
		return TIDE_EBADVALUE;
	header = ld32(p);
	count = header & JB_CMASK;
	if ((header & (JB_FOBJECT | JB_FARRAY)) == JB_FOBJECT)
		nentries = (uint64_t) count * 2;
	else if ((header & (JB_FOBJECT | JB_FARRAY)) == JB_FARRAY)
		nentries = count;
	else
		return TIDE_EBADVALUE;
	if ((header & JB_FSCALAR) && (!(header & JB_FARRAY) || count != 1 || depth > 0))
		return TIDE_EBADVALUE;
	if (nentries > (len - 4) / 4)
		return TIDE_EBADVALUE;
	children = p + 4;
	base = children + 4 * nentries;
	area = len - 4 - 4 * (size_t) nentries;

	if (header & JB_FSCALAR)
	{
		uint32_t	je = ld32(children);
		size_t		end = (je & JENTRY_OFFLENMASK);

		if ((je & JENTRY_TYPEMASK) == JENTRY_ISCONTAINER)
			return TIDE_EBADVALUE;
		return put_entry(out, je, base, 0, end, area, depth);
	}
	proto_put_u8(out, (header & JB_FOBJECT) ? PROTO_JSONB_OBJECT : PROTO_JSONB_ARRAY);
	proto_put_varint(out, count);
	if (header & JB_FARRAY)
	{
		for (uint32_t i = 0; i < count; i++)
		{
			uint32_t	je = ld32(children + 4 * i);
			size_t		end = (je & JENTRY_HAS_OFF) ? (je & JENTRY_OFFLENMASK) :
				start + (je & JENTRY_OFFLENMASK);

			if ((rc = put_entry(out, je, base, start, end, area, depth)) != 0)
				return rc;
			start = end;
		}
		return out->err;
	}
	/* objects store all keys, then all values, in one offset sequence */
	{
		size_t		vstart;

		/* first find where the values begin: after the last key */
		for (uint32_t i = 0; i < count; i++)
		{
			uint32_t	je = ld32(children + 4 * i);

			start = (je & JENTRY_HAS_OFF) ? (je & JENTRY_OFFLENMASK) :
				start + (je & JENTRY_OFFLENMASK);
		}
		vstart = start;
		start = 0;
		for (uint32_t i = 0; i < count; i++)
		{
			uint32_t	kje = ld32(children + 4 * i);
			uint32_t	vje = ld32(children + 4 * ((size_t) count + i));
			size_t		kend = (kje & JENTRY_HAS_OFF) ? (kje & JENTRY_OFFLENMASK) :
				start + (kje & JENTRY_OFFLENMASK);
			size_t		vend = (vje & JENTRY_HAS_OFF) ? (vje & JENTRY_OFFLENMASK) :
				vstart + (vje & JENTRY_OFFLENMASK);

			if ((kje & JENTRY_TYPEMASK) != JENTRY_ISSTRING || start > kend || kend > area)
				return TIDE_EBADVALUE;
			proto_put_str(out, (const char *) base + start, kend - start);
			if ((rc = put_entry(out, vje, base, vstart, vend, area, depth)) != 0)
				return rc;
			start = kend;
			vstart = vend;
		}
	}
	return out->err;
}

int
proto_jsonb_compact(proto_wbuf_t *out, const uint8_t *container, size_t len)
{
	/* TIDE_ETOOLONG: nested deeper than MAX_DEPTH; see PROTO_JSONB_TEXT */
	size_t		mark = out->len;
	int			rc = put_container(out, container, len, 0);

	if (rc == 0)
		rc = out->err;
	if (rc != 0 && out->err == 0)
		out->len = mark;		/* leave no half value behind */
	return rc;
}
