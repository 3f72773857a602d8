/*
 * proto/src/value.c
 *		Text form of encoded column values, as PostgreSQL 15 prints them.
 *
 * Each renderer here reproduces one PostgreSQL output function, as printed
 * in a session with these settings (all defaults but the two marked *):
 *
 *   DateStyle = ISO
 *   TimeZone = UTC *                   timestamptz is printed in UTC ("+00"),
 *                                      whatever zone the writer used
 *   IntervalStyle = postgres           "1 year 2 mons 3 days 04:05:06"
 *   extra_float_digits = 1             shortest exact float text (Ryu's)
 *   bytea_output = hex                 "\x0102"
 *   lc_monetary = C *                  "$1,234.56"
 *
 * Nothing here allocates, keeps state or calls a locale-dependent function:
 * floats are converted from their bits with exact integer arithmetic rather
 * than through printf/strtod, whose decimal point follows LC_NUMERIC.
 *
 * Every reader is bounds-checked against the value's own length; malformed
 * bytes give TIDE_EBADVALUE and the partial output is taken back, so callers
 * never see half a value.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tide/buf.h"
#include "tide/errors.h"
#include "tide/value.h"
#include "tide/wire.h"

/* Array types whose element types this module renders (pg_type.h). */
#define ARR_BOOLOID 1000
#define ARR_BYTEAOID 1001
#define ARR_CHAROID 1002
#define ARR_NAMEOID 1003
#define ARR_INT8OID 1016
#define ARR_INT2OID 1005
#define ARR_INT4OID 1007
#define ARR_TEXTOID 1009
#define ARR_OIDOID 1028
#define ARR_XIDOID 1011
#define ARR_JSONOID 199
#define ARR_XMLOID 143
#define ARR_CIDROID 651
#define ARR_FLOAT4OID 1021
#define ARR_FLOAT8OID 1022
#define ARR_MACADDR8OID 775
#define ARR_MONEYOID 791
#define ARR_MACADDROID 1040
#define ARR_INETOID 1041
#define ARR_BPCHAROID 1014
#define ARR_VARCHAROID 1015
#define ARR_DATEOID 1182
#define ARR_TIMEOID 1183
#define ARR_TIMESTAMPOID 1115
#define ARR_TIMESTAMPTZOID 1185
#define ARR_INTERVALOID 1187
#define ARR_TIMETZOID 1270
#define ARR_NUMERICOID 1231
#define ARR_UUIDOID 2951
#define ARR_JSONBOID 3807

/* Date and time (datatype/timestamp.h). */
#define USECS_PER_DAY INT64_C(86400000000)
#define USECS_PER_HOUR INT64_C(3600000000)
#define USECS_PER_MINUTE INT64_C(60000000)
#define USECS_PER_SEC INT64_C(1000000)
#define DAYS_1970_TO_2000 10957
/* Valid dates: julian day 0 (4714-11-24 BC) up to 5874898-01-01. */
#define DATE_MIN (-2451545)
#define DATE_END 2145031949
/* Valid timestamps: the same first day up to 294277-01-01 00:00. */
#define TIMESTAMP_MIN INT64_C(-211813488000000000)
#define TIMESTAMP_END INT64_C(9223371331200000000)
/* timetz zones lie strictly within this many seconds of UTC (TZDISP_LIMIT). */
#define TZDISP_LIMIT (16 * 3600)
/* Fractional second digits (MAX_TIMESTAMP_PRECISION). */
#define FSEC_DIGITS 6

/* numeric (utils/adt/numeric.c). */
#define NUM_POS 0x0000
#define NUM_NEG 0x4000
#define NUM_SHORT 0x8000
#define NUM_NAN 0xC000
#define NUM_PINF 0xD000
#define NUM_NINF 0xF000
#define NUM_DSCALE_MASK 0x3FFF
#define NUM_NBASE 10000

/* jsonb (utils/jsonb.h). */
#define JB_CMASK 0x0FFFFFFFu
#define JB_FSCALAR 0x10000000u
#define JB_FOBJECT 0x20000000u
#define JB_FARRAY 0x40000000u
#define JENTRY_OFFLENMASK 0x0FFFFFFFu
#define JENTRY_TYPEMASK 0x70000000u
#define JENTRY_HAS_OFF 0x80000000u
#define JENTRY_ISSTRING 0x00000000u
#define JENTRY_ISNUMERIC 0x10000000u
#define JENTRY_ISBOOL_FALSE 0x20000000u
#define JENTRY_ISBOOL_TRUE 0x30000000u
#define JENTRY_ISNULL 0x40000000u
#define JENTRY_ISCONTAINER 0x50000000u
#define JSONB_VERSION 1

#define JB_OFFSET_STRIDE 32		/* every 32nd JEntry holds an end offset */

/*
 * Deepest jsonb nesting rendered.  PostgreSQL's own limit is its stack
 * depth: about 20000 levels with the default max_stack_depth.  The walk
 * below keeps 8 bytes a level on the C stack, so this costs 32 kB.
 */
#define JSONB_MAX_DEPTH 4096

/* arrays (utils/array.h). */
#define ARRAY_MAXDIM 6
#define ARRAY_MAX_ITEMS 0x7FFFFFF	/* MaxArraySize */

/* inet (utils/inet.h): PGSQL_AF_INET is AF_INET + 0, AF_INET6 + 1. */
#define PGSQL_AF_INET 2
#define PGSQL_AF_INET6 3

static const char hexdigits[] = "0123456789abcdef";

/* ----------------------------------------------------------------
 * Output helpers
 * ----------------------------------------------------------------
 */

static void
put_cstr(proto_wbuf_t *out, const char *s)
{
	proto_put_bytes(out, s, strlen(s));
}

/* put_uint - v in decimal, zero-padded to at least width digits. */
static void
put_uint(proto_wbuf_t *out, uint64_t v, int width)
{
	char		buf[24];
	size_t		i = sizeof(buf);

	do
	{
		buf[--i] = (char) ('0' + v % 10);
		v /= 10;
		width--;
	} while (v != 0 || (width > 0 && i > 0));
	proto_put_bytes(out, buf + i, sizeof(buf) - i);
}

/* put_int - v in decimal with a leading '-' when negative. */
static void
put_int(proto_wbuf_t *out, int64_t v)
{
	if (v < 0)
	{
		proto_put_u8(out, '-');
		put_uint(out, 0 - (uint64_t) v, 1);
	}
	else
		put_uint(out, (uint64_t) v, 1);
}

/* put_hex - n bytes as lower-case hex digit pairs. */
static void
put_hex(proto_wbuf_t *out, const uint8_t *p, size_t n)
{
	size_t		i;

	if (proto_wbuf_ensure(out, 2 * n) != 0)
		return;
	for (i = 0; i < n; i++)
	{
		out->data[out->len++] = (uint8_t) hexdigits[p[i] >> 4];
		out->data[out->len++] = (uint8_t) hexdigits[p[i] & 15];
	}
}

/* put_bytea - bytea's hex output: \x then the bytes in hex. */
static void
put_bytea(proto_wbuf_t *out, const uint8_t *p, size_t n)
{
	proto_put_bytes(out, "\\x", 2);
	put_hex(out, p, n);
}

/*
 * put_unknown - the fallback for a type or encoding not known here: the
 * bytes as a bytea literal.  Returns TIDE_EBADTYPE so the caller can tell.
 */
static int
put_unknown(proto_wbuf_t *out, const uint8_t *p, size_t n)
{
	put_bytea(out, p, n);
	return TIDE_EBADTYPE;
}

/*
 * put_json_string - s as a JSON string with escape_json()'s rules: the
 * short escapes, \u00xx for the other control characters, every other byte
 * (UTF-8 included) as it is.  A NUL, which no PostgreSQL text holds, comes
 * out as \u0000 rather than ending the string.
 */
static void
put_json_string(proto_wbuf_t *out, const uint8_t *s, size_t n)
{
	size_t		i;
	size_t		run = 0;		/* start of the bytes not yet copied */

	proto_put_u8(out, '"');
	for (i = 0; i < n; i++)
	{
		uint8_t		c = s[i];
		const char *esc = NULL;

		switch (c)
		{
			case '\b':
				esc = "\\b";
				break;
			case '\f':
				esc = "\\f";
				break;
			case '\n':
				esc = "\\n";
				break;
			case '\r':
				esc = "\\r";
				break;
			case '\t':
				esc = "\\t";
				break;
			case '"':
				esc = "\\\"";
				break;
			case '\\':
				esc = "\\\\";
				break;
			default:
				if (c >= 0x20)
					continue;
				break;
		}
		proto_put_bytes(out, s + run, i - run);
		run = i + 1;
		if (esc != NULL)
			put_cstr(out, esc);
		else
		{
			char		u[6] = {'\\', 'u', '0', '0', 0, 0};

			u[4] = hexdigits[c >> 4];
			u[5] = hexdigits[c & 15];
			proto_put_bytes(out, u, sizeof(u));
		}
	}
	proto_put_bytes(out, s + run, n - run);
	proto_put_u8(out, '"');
}

/* ----------------------------------------------------------------
 * Input helpers
 * ----------------------------------------------------------------
 */

/* rd_uint - a w-byte unsigned integer at p, big- or little-endian. */
static uint64_t
rd_uint(const uint8_t *p, int w, bool be)
{
	uint64_t	v = 0;
	int			i;

	for (i = 0; i < w; i++)
		v |= (uint64_t) p[be ? w - 1 - i : i] << (8 * i);
	return v;
}

static int64_t
rd_int64(const uint8_t *p, bool be)
{
	return (int64_t) rd_uint(p, 8, be);
}

static int32_t
rd_int32(const uint8_t *p, bool be)
{
	return (int32_t) (uint32_t) rd_uint(p, 4, be);
}

/*
 * get_be - the next w bytes of r as a big-endian integer (send formats).
 * On underflow r->err is set, *v left alone and TIDE_EBADVALUE returned:
 * to a value renderer a short read is a malformed value.
 */
static int
get_be(proto_rbuf_t *r, int w, uint64_t *v)
{
	const uint8_t *p;

	if (proto_get_bytes(r, (size_t) w, &p) != 0)
		return TIDE_EBADVALUE;
	*v = rd_uint(p, w, true);
	return 0;
}

static int
get_be_i32(proto_rbuf_t *r, int32_t *v)
{
	uint64_t	u;

	if (get_be(r, 4, &u) != 0)
		return TIDE_EBADVALUE;
	*v = (int32_t) (uint32_t) u;
	return 0;
}

/* ----------------------------------------------------------------
 * float4 / float8: shortest exact decimal, formatted like PostgreSQL's Ryu
 *
 * Steele & White / Burger & Dybvig free-format digit generation over exact
 * big integers: v = mant * 2^e2 lies in an interval of values that read
 * back as the same float; digits are generated until the prefix is inside
 * that interval, and the last digit is the one closest to v (ties to even).
 * That is the shortest, correctly rounded string, which is what Ryu
 * computes, without Ryu's tables.
 *
 * The interval's boundaries are always excluded.  A boundary reads back as
 * v when mant is even (round-half-even), but PostgreSQL builds Ryu without
 * STRICTLY_SHORTEST, so it never prints one: 1e23 comes out as
 * 9.999999999999999e+22.
 * ----------------------------------------------------------------
 */

/*
 * Enough for every intermediate of a double: the scaled value, gap and
 * denominator stay below 2^1090, and 40 words hold 1280 bits.
 */
#define BN_WORDS 40

typedef struct
{
	int			n;				/* words in use, top one nonzero */
	uint32_t	w[BN_WORDS];	/* least significant first */
} bn_t;

static void
bn_trim(bn_t *b)
{
	while (b->n > 0 && b->w[b->n - 1] == 0)
		b->n--;
}

static void
bn_set(bn_t *b, uint64_t v)
{
	b->w[0] = (uint32_t) v;
	b->w[1] = (uint32_t) (v >> 32);
	b->n = 2;
	bn_trim(b);
}

/* bn_mul - b *= m. */
static void
bn_mul(bn_t *b, uint32_t m)
{
	uint64_t	carry = 0;
	int			i;

	for (i = 0; i < b->n; i++)
	{
		uint64_t	t = (uint64_t) b->w[i] * m + carry;

		b->w[i] = (uint32_t) t;
		carry = t >> 32;
	}
	if (carry != 0 && b->n < BN_WORDS)
		b->w[b->n++] = (uint32_t) carry;
}

/* bn_mul_pow10 - b *= 10^e, e >= 0. */
static void
bn_mul_pow10(bn_t *b, int e)
{
	for (; e >= 9; e -= 9)
		bn_mul(b, 1000000000u);
	for (; e > 0; e--)
		bn_mul(b, 10);
}

/* bn_shl - b <<= s. */
static void
bn_shl(bn_t *b, int s)
{
	int			words = s / 32;
	int			bits = s % 32;
	int			i;

	if (b->n == 0)
		return;
	if (bits != 0)
	{
		uint32_t	carry = 0;

		for (i = 0; i < b->n; i++)
		{
			uint32_t	t = b->w[i];

			b->w[i] = (t << bits) | carry;
			carry = t >> (32 - bits);
		}
		if (carry != 0 && b->n < BN_WORDS)
			b->w[b->n++] = carry;
	}
	if (words > 0)
	{
		if (b->n + words > BN_WORDS)
			words = BN_WORDS - b->n;
		memmove(b->w + words, b->w, sizeof(uint32_t) * (size_t) b->n);
		memset(b->w, 0, sizeof(uint32_t) * (size_t) words);
		b->n += words;
	}
}

static int
bn_cmp(const bn_t *a, const bn_t *b)
{
	int			i;

	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	for (i = a->n - 1; i >= 0; i--)
	{
		if (a->w[i] != b->w[i])
			return a->w[i] < b->w[i] ? -1 : 1;
	}
	return 0;
}

/* bn_add - d = a + b (d may be a or b). */
static void
bn_add(bn_t *d, const bn_t *a, const bn_t *b)
{
	int			n = a->n > b->n ? a->n : b->n;
	uint64_t	carry = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		uint64_t	t = carry;

		if (i < a->n)
			t += a->w[i];
		if (i < b->n)
			t += b->w[i];
		d->w[i] = (uint32_t) t;
		carry = t >> 32;
	}
	d->n = n;
	if (carry != 0 && n < BN_WORDS)
		d->w[d->n++] = (uint32_t) carry;
}

/* bn_sub - a -= b, where a >= b. */
static void
bn_sub(bn_t *a, const bn_t *b)
{
	int64_t		borrow = 0;
	int			i;

	for (i = 0; i < a->n; i++)
	{
		int64_t		t = (int64_t) a->w[i] - borrow;

		if (i < b->n)
			t -= b->w[i];
		borrow = t < 0;
		a->w[i] = (uint32_t) (t + (borrow << 32));
	}
	bn_trim(a);
}

/*
 * reaches_high - whether r + mp passes s: the upper end of the interval
 * lies beyond the next unit of the current digit.
 */
static bool
reaches_high(const bn_t *r, const bn_t *mp, const bn_t *s)
{
	bn_t		t;

	bn_add(&t, r, mp);
	return bn_cmp(&t, s) > 0;
}

/* floor_log10_pow2 - floor(e * log10(2)) for |e| < 1650. */
static int
floor_log10_pow2(int e)
{
	int64_t		t = (int64_t) e * 78913;

	return (int) (t >= 0 ? t >> 18 : -((-t + (1 << 18) - 1) >> 18));
}

/*
 * shortest_digits - the shortest decimal digits of mant * 2^e2 (mant > 0)
 * that read back as the same float.  unequal: the gap below is half the gap
 * above (mant is a power of two that is not the smallest normal).  Writes
 * the digits (no leading zero) to digits[] as values 0..9 and returns their
 * count; *k is set so that the value is 0.d1d2... * 10^k.
 */
static int
shortest_digits(uint64_t mant, int e2, bool unequal, uint8_t *digits, int *k)
{
	bn_t		r,
				s,
				mp,
				mm,
				t;
	int			bits = 0;
	int			n = 0;
	int			kk;
	uint64_t	m;

	/* r / s is the value, mp / s and mm / s the gaps above and below. */
	bn_set(&r, mant);
	bn_set(&s, 1);
	bn_set(&mp, 1);
	bn_set(&mm, 1);
	if (e2 >= 0)
	{
		bn_shl(&r, e2 + (unequal ? 2 : 1));
		bn_shl(&s, unequal ? 2 : 1);
		bn_shl(&mp, e2 + (unequal ? 1 : 0));
		bn_shl(&mm, e2);
	}
	else
	{
		bn_shl(&r, unequal ? 2 : 1);
		bn_shl(&s, -e2 + (unequal ? 2 : 1));
		if (unequal)
			bn_shl(&mp, 1);
	}

	/* Scale by 10^k, k estimated from the binary exponent, then fix up. */
	for (m = mant; m != 0; m >>= 1)
		bits++;
	kk = floor_log10_pow2(e2 + bits - 1) + 1;
	if (kk >= 0)
		bn_mul_pow10(&s, kk);
	else
	{
		bn_mul_pow10(&r, -kk);
		bn_mul_pow10(&mp, -kk);
		bn_mul_pow10(&mm, -kk);
	}
	while (reaches_high(&r, &mp, &s))
	{
		bn_mul(&s, 10);
		kk++;
	}
	for (;;)
	{
		bn_t		r10 = r,
					mp10 = mp;

		bn_mul(&r10, 10);
		bn_mul(&mp10, 10);
		if (reaches_high(&r10, &mp10, &s))
			break;
		r = r10;
		mp = mp10;
		bn_mul(&mm, 10);
		kk--;
	}

	for (;;)
	{
		int			d = 0;
		bool		low,
					high;

		bn_mul(&r, 10);
		bn_mul(&mp, 10);
		bn_mul(&mm, 10);
		while (bn_cmp(&r, &s) >= 0)
		{
			bn_sub(&r, &s);
			d++;
		}
		low = bn_cmp(&r, &mm) < 0;
		high = reaches_high(&r, &mp, &s);
		if (!low && !high && n < 24)
		{
			digits[n++] = (uint8_t) d;
			continue;
		}
		if (low && high)
		{
			/* Both d and d + 1 read back: take the closer, ties to even. */
			int			c;

			t = r;
			bn_shl(&t, 1);
			c = bn_cmp(&t, &s);
			if (c > 0 || (c == 0 && (d & 1)))
				d++;
		}
		else if (high)
			d++;
		digits[n++] = (uint8_t) d;
		break;
	}

	/* d + 1 cannot be 10 (the prefix before would have ended); be safe. */
	while (n > 1 && digits[n - 1] == 10)
	{
		n--;
		digits[n - 1]++;
	}
	if (digits[0] == 10)
	{
		digits[0] = 1;
		n = 1;
		kk++;
	}
	while (n > 1 && digits[n - 1] == 0)
		n--;
	*k = kk;
	return n;
}

/*
 * put_float - float8out/float4out with extra_float_digits > 0: the shortest
 * exact digits, in fixed notation when the decimal exponent is in [-4, 15)
 * for float8 ([-4, 6) for float4), else d.ddde+XX.
 */
static void
put_float(proto_wbuf_t *out, uint64_t bits, bool dbl)
{
	int			mbits = dbl ? 52 : 23;
	int			ebits = dbl ? 11 : 8;
	int			bias = dbl ? 1023 : 127;
	int			fixed_max = dbl ? 15 : 6;
	bool		neg = ((bits >> (mbits + ebits)) & 1) != 0;
	uint64_t	frac = bits & ((UINT64_C(1) << mbits) - 1);
	int			bexp = (int) ((bits >> mbits) & ((1u << ebits) - 1));
	uint8_t		digits[32];
	char		buf[48];
	size_t		len = 0;
	uint64_t	mant;
	int			e2;
	int			n;
	int			k;
	int			exp;
	int			i;

	if (bexp == (1 << ebits) - 1)
	{
		put_cstr(out, frac != 0 ? "NaN" : neg ? "-Infinity" : "Infinity");
		return;
	}
	if (bexp == 0 && frac == 0)
	{
		put_cstr(out, neg ? "-0" : "0");
		return;
	}
	if (bexp == 0)
	{
		mant = frac;
		e2 = 1 - bias - mbits;
	}
	else
	{
		mant = frac | (UINT64_C(1) << mbits);
		e2 = bexp - bias - mbits;
	}
	n = shortest_digits(mant, e2, frac == 0 && bexp > 1, digits, &k);
	exp = k - 1;				/* the value is d.ddd * 10^exp */

	if (neg)
		buf[len++] = '-';
	if (exp >= -4 && exp < fixed_max)
	{
		if (exp < 0)
		{
			buf[len++] = '0';
			buf[len++] = '.';
			for (i = exp + 1; i < 0; i++)
				buf[len++] = '0';
			for (i = 0; i < n; i++)
				buf[len++] = (char) ('0' + digits[i]);
		}
		else
		{
			for (i = 0; i < n || i <= exp; i++)
			{
				if (i == exp + 1)
					buf[len++] = '.';
				buf[len++] = (char) ('0' + (i < n ? digits[i] : 0));
			}
		}
	}
	else
	{
		int			ae = exp < 0 ? -exp : exp;

		buf[len++] = (char) ('0' + digits[0]);
		if (n > 1)
		{
			buf[len++] = '.';
			for (i = 1; i < n; i++)
				buf[len++] = (char) ('0' + digits[i]);
		}
		buf[len++] = 'e';
		buf[len++] = exp < 0 ? '-' : '+';
		if (ae >= 100)
			buf[len++] = (char) ('0' + ae / 100);
		buf[len++] = (char) ('0' + ae / 10 % 10);
		buf[len++] = (char) ('0' + ae % 10);
	}
	proto_put_bytes(out, buf, len);
}

/* ----------------------------------------------------------------
 * Date and time
 * ----------------------------------------------------------------
 */

/*
 * civil_from_days - proleptic Gregorian year (astronomical: 0 is 1 BC),
 * month and day of a day count from 1970-01-01 (Hinnant's algorithm).
 */
static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t		era;
	int64_t		doe;
	int64_t		yoe;
	int64_t		doy;
	int64_t		mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int) (doy - (153 * mp + 2) / 5 + 1);
	*m = (int) (mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/*
 * put_ymd - ISO "YYYY-MM-DD" of days since 2000-01-01, the year at least
 * four digits and counted from 1 BC downwards before year 1.  Returns
 * whether the date is BC (the caller appends " BC" where PostgreSQL does).
 */
static bool
put_ymd(proto_wbuf_t *out, int64_t days)
{
	int64_t		y;
	int			m;
	int			d;

	civil_from_days(days + DAYS_1970_TO_2000, &y, &m, &d);
	put_uint(out, (uint64_t) (y > 0 ? y : 1 - y), 4);
	proto_put_u8(out, '-');
	put_uint(out, (uint64_t) m, 2);
	proto_put_u8(out, '-');
	put_uint(out, (uint64_t) d, 2);
	return y <= 0;
}

/*
 * put_seconds - AppendSeconds(): two-digit seconds, then the microseconds
 * (absolute values) with trailing zeros dropped, none at all when zero.
 */
static void
put_seconds(proto_wbuf_t *out, int64_t sec, int64_t usec)
{
	char		buf[FSEC_DIGITS + 1];
	int			n = FSEC_DIGITS;
	int			i;

	put_uint(out, (uint64_t) (sec < 0 ? -sec : sec), 2);
	if (usec == 0)
		return;
	if (usec < 0)
		usec = -usec;
	buf[0] = '.';
	for (i = FSEC_DIGITS; i >= 1; i--)
	{
		buf[i] = (char) ('0' + usec % 10);
		usec /= 10;
	}
	while (buf[n] == '0')
		n--;
	proto_put_bytes(out, buf, (size_t) n + 1);
}

/* put_tod - "HH:MM:SS[.ffffff]" of 0 <= t <= USECS_PER_DAY microseconds. */
static void
put_tod(proto_wbuf_t *out, int64_t t)
{
	put_uint(out, (uint64_t) (t / USECS_PER_HOUR), 2);
	t %= USECS_PER_HOUR;
	proto_put_u8(out, ':');
	put_uint(out, (uint64_t) (t / USECS_PER_MINUTE), 2);
	t %= USECS_PER_MINUTE;
	proto_put_u8(out, ':');
	put_seconds(out, t / USECS_PER_SEC, t % USECS_PER_SEC);
}

/*
 * put_zone - EncodeTimezone(): zone is seconds west of UTC, shown with the
 * opposite sign as +HH, +HH:MM or +HH:MM:SS as precision requires.
 */
static void
put_zone(proto_wbuf_t *out, int32_t zone)
{
	uint32_t	a = zone < 0 ? 0 - (uint32_t) zone : (uint32_t) zone;
	uint32_t	sec = a % 60;
	uint32_t	min = a / 60 % 60;

	proto_put_u8(out, zone <= 0 ? '+' : '-');
	put_uint(out, a / 3600, 2);
	if (sec != 0 || min != 0)
	{
		proto_put_u8(out, ':');
		put_uint(out, min, 2);
	}
	if (sec != 0)
	{
		proto_put_u8(out, ':');
		put_uint(out, sec, 2);
	}
}

/* put_date - date_out(); false when outside PostgreSQL's date range. */
static bool
put_date(proto_wbuf_t *out, int32_t d)
{
	if (d == INT32_MIN)
		put_cstr(out, "-infinity");
	else if (d == INT32_MAX)
		put_cstr(out, "infinity");
	else if (d < DATE_MIN || d >= DATE_END)
		return false;
	else if (put_ymd(out, d))
		put_cstr(out, " BC");
	return true;
}

/*
 * put_timestamp - timestamp_out() or, with tz, timestamptz_out() in UTC;
 * false when outside PostgreSQL's timestamp range.
 */
static bool
put_timestamp(proto_wbuf_t *out, int64_t ts, bool tz)
{
	int64_t		days;
	int64_t		tod;
	bool		bc;

	if (ts == INT64_MIN)
	{
		put_cstr(out, "-infinity");
		return true;
	}
	if (ts == INT64_MAX)
	{
		put_cstr(out, "infinity");
		return true;
	}
	if (ts < TIMESTAMP_MIN || ts >= TIMESTAMP_END)
		return false;
	days = ts / USECS_PER_DAY;
	tod = ts % USECS_PER_DAY;
	if (tod < 0)
	{
		days--;
		tod += USECS_PER_DAY;
	}
	bc = put_ymd(out, days);
	proto_put_u8(out, ' ');
	put_tod(out, tod);
	if (tz)
		put_zone(out, 0);
	if (bc)
		put_cstr(out, " BC");
	return true;
}

/* put_interval_part - AddPostgresIntPart(). */
static void
put_interval_part(proto_wbuf_t *out, int64_t v, const char *unit,
				  bool *is_zero, bool *is_before)
{
	if (v == 0)
		return;
	if (!*is_zero)
		proto_put_u8(out, ' ');
	if (*is_before && v > 0)
		proto_put_u8(out, '+');
	put_int(out, v);
	proto_put_u8(out, ' ');
	put_cstr(out, unit);
	if (v != 1)
		proto_put_u8(out, 's');
	/* Each nonzero part decides whether the next positive one gets a '+'. */
	*is_before = v < 0;
	*is_zero = false;
}

/*
 * put_interval - interval_out() with IntervalStyle postgres: years, mons
 * and days as they are (each may carry its own sign), then the time part
 * as [-]HH:MM:SS[.ffffff] when nonzero or when nothing else was printed.
 */
static void
put_interval(proto_wbuf_t *out, int64_t time, int32_t day, int32_t month)
{
	bool		is_zero = true;
	bool		is_before = false;
	int64_t		hour = time / USECS_PER_HOUR;
	int64_t		min = time % USECS_PER_HOUR / USECS_PER_MINUTE;
	int64_t		sec = time % USECS_PER_MINUTE / USECS_PER_SEC;
	int64_t		usec = time % USECS_PER_SEC;

	put_interval_part(out, month / 12, "year", &is_zero, &is_before);
	put_interval_part(out, month % 12, "mon", &is_zero, &is_before);
	put_interval_part(out, day, "day", &is_zero, &is_before);
	if (is_zero || time != 0)
	{
		if (!is_zero)
			proto_put_u8(out, ' ');
		if (time < 0)
			proto_put_u8(out, '-');
		else if (is_before)
			proto_put_u8(out, '+');
		put_uint(out, (uint64_t) (hour < 0 ? -hour : hour), 2);
		proto_put_u8(out, ':');
		put_uint(out, (uint64_t) (min < 0 ? -min : min), 2);
		proto_put_u8(out, ':');
		put_seconds(out, sec, usec);
	}
}

/* ----------------------------------------------------------------
 * Other fixed-width types
 * ----------------------------------------------------------------
 */

/* put_char - charout(): the byte, \ooo when its high bit is set, "" for 0. */
static void
put_char(proto_wbuf_t *out, uint8_t c)
{
	if (c >= 0x80)
	{
		char		buf[4] = {'\\', 0, 0, 0};

		buf[1] = (char) ('0' + (c >> 6));
		buf[2] = (char) ('0' + ((c >> 3) & 7));
		buf[3] = (char) ('0' + (c & 7));
		proto_put_bytes(out, buf, sizeof(buf));
	}
	else if (c != 0)
		proto_put_u8(out, c);
}

/*
 * put_money - cash_out() in the C locale: "$", ',' every three digits, two
 * decimals, '-' in front of a negative amount.
 */
static void
put_money(proto_wbuf_t *out, int64_t v)
{
	char		buf[48];
	size_t		i = sizeof(buf);
	uint64_t	u = v < 0 ? 0 - (uint64_t) v : (uint64_t) v;
	int			group = 0;

	buf[--i] = (char) ('0' + u % 10);
	u /= 10;
	buf[--i] = (char) ('0' + u % 10);
	u /= 10;
	buf[--i] = '.';
	do
	{
		if (group == 3)
		{
			buf[--i] = ',';
			group = 0;
		}
		buf[--i] = (char) ('0' + u % 10);
		u /= 10;
		group++;
	} while (u != 0);
	buf[--i] = '$';
	if (v < 0)
		buf[--i] = '-';
	proto_put_bytes(out, buf + i, sizeof(buf) - i);
}

/* put_hexsep - n bytes as hex pairs, sep between them, dashes for uuid. */
static void
put_hexsep(proto_wbuf_t *out, const uint8_t *p, size_t n, bool uuid)
{
	size_t		i;

	for (i = 0; i < n; i++)
	{
		if (uuid ? (i == 4 || i == 6 || i == 8 || i == 10) : i > 0)
			proto_put_u8(out, uuid ? '-' : ':');
		put_hex(out, p + i, 1);
	}
}

/* Fixed-width types: the bytes each takes (PROTO_ENC_FIXED and send). */
static int
fixed_width(uint32_t typoid)
{
	switch (typoid)
	{
		case PROTO_BOOLOID:
		case PROTO_CHAROID:
			return 1;
		case PROTO_INT2OID:
			return 2;
		case PROTO_INT4OID:
		case PROTO_OIDOID:
		case PROTO_XIDOID:
		case PROTO_FLOAT4OID:
		case PROTO_DATEOID:
			return 4;
		case PROTO_MACADDROID:
			return 6;
		case PROTO_INT8OID:
		case PROTO_FLOAT8OID:
		case PROTO_MONEYOID:
		case PROTO_TIMEOID:
		case PROTO_TIMESTAMPOID:
		case PROTO_TIMESTAMPTZOID:
		case PROTO_MACADDR8OID:
			return 8;
		case PROTO_TIMETZOID:
			return 12;
		case PROTO_INTERVALOID:
		case PROTO_UUIDOID:
			return 16;
		default:
			return 0;
	}
}

/*
 * fixed_text - a fixed-width value, its integer fields little-endian
 * (PROTO_ENC_FIXED) or big-endian (the type's send format; the fields come
 * in the same order in both).  Unknown types are written as hex.
 */
static int
fixed_text(proto_wbuf_t *out, uint32_t typoid, const uint8_t *p, size_t n,
		   bool be)
{
	int			w = fixed_width(typoid);

	if (w == 0)
		return put_unknown(out, p, n);
	if (n != (size_t) w)
		return TIDE_EBADVALUE;

	switch (typoid)
	{
		case PROTO_BOOLOID:
			proto_put_u8(out, p[0] != 0 ? 't' : 'f');
			break;
		case PROTO_CHAROID:
			put_char(out, p[0]);
			break;
		case PROTO_INT2OID:
			put_int(out, (int16_t) (uint16_t) rd_uint(p, 2, be));
			break;
		case PROTO_INT4OID:
			put_int(out, rd_int32(p, be));
			break;
		case PROTO_INT8OID:
			put_int(out, rd_int64(p, be));
			break;
		case PROTO_OIDOID:
		case PROTO_XIDOID:
			put_uint(out, rd_uint(p, 4, be), 1);
			break;
		case PROTO_FLOAT4OID:
			put_float(out, rd_uint(p, 4, be), false);
			break;
		case PROTO_FLOAT8OID:
			put_float(out, rd_uint(p, 8, be), true);
			break;
		case PROTO_MONEYOID:
			put_money(out, rd_int64(p, be));
			break;
		case PROTO_DATEOID:
			if (!put_date(out, rd_int32(p, be)))
				return TIDE_EBADVALUE;
			break;
		case PROTO_TIMEOID:
			{
				int64_t		t = rd_int64(p, be);

				if (t < 0 || t > USECS_PER_DAY)
					return TIDE_EBADVALUE;
				put_tod(out, t);
				break;
			}
		case PROTO_TIMETZOID:
			{
				int64_t		t = rd_int64(p, be);
				int32_t		zone = rd_int32(p + 8, be);

				if (t < 0 || t > USECS_PER_DAY ||
					zone <= -TZDISP_LIMIT || zone >= TZDISP_LIMIT)
					return TIDE_EBADVALUE;
				put_tod(out, t);
				put_zone(out, zone);
				break;
			}
		case PROTO_TIMESTAMPOID:
		case PROTO_TIMESTAMPTZOID:
			if (!put_timestamp(out, rd_int64(p, be),
							   typoid == PROTO_TIMESTAMPTZOID))
				return TIDE_EBADVALUE;
			break;
		case PROTO_INTERVALOID:
			put_interval(out, rd_int64(p, be), rd_int32(p + 8, be),
						 rd_int32(p + 12, be));
			break;
		case PROTO_UUIDOID:
			put_hexsep(out, p, 16, true);
			break;
		case PROTO_MACADDROID:
		case PROTO_MACADDR8OID:
			put_hexsep(out, p, n, false);
			break;
		default:
			return put_unknown(out, p, n);
	}
	return 0;
}

/* ----------------------------------------------------------------
 * numeric
 * ----------------------------------------------------------------
 */

/* A numeric's fields, wherever they were read from. */
typedef struct
{
	int			sign;			/* NUM_POS, NUM_NEG or a special */
	int			weight;			/* power of 10000 of the first digit */
	int			dscale;			/* decimal digits after the point */
	int			ndigits;
	const uint8_t *digits;		/* ndigits int16 base-10000 digits */
	bool		be;				/* digits big-endian (send), else little */
} num_t;

static int
num_digit(const num_t *x, int i)
{
	if (i < 0 || i >= x->ndigits)
		return 0;
	return (int16_t) (uint16_t) rd_uint(x->digits + 2 * i, 2, x->be);
}

/* num_check - every digit in 0..9999 (numeric_recv's test). */
static bool
num_check(const num_t *x)
{
	int			i;

	for (i = 0; i < x->ndigits; i++)
	{
		int			d = num_digit(x, i);

		if (d < 0 || d >= NUM_NBASE)
			return false;
	}
	return true;
}

/*
 * num_strip - drop leading zero digits, as numeric_recv's make_result()
 * does: get_str_from_var() would print them ("00001" for weight 1, digits
 * 0 and 1).
 */
static void
num_strip(num_t *x)
{
	while (x->ndigits > 0 && num_digit(x, 0) == 0)
	{
		x->digits += 2;
		x->ndigits--;
		x->weight--;
	}
}

/*
 * num_visible - whether any nonzero digit survives truncation to dscale.
 * numeric_recv truncates to dscale and a zero result is positive, so a
 * negative sign is printed only when this holds.
 */
static bool
num_visible(const num_t *x)
{
	static const int pow10s[] = {1, 10, 100, 1000, 10000};
	int			i;

	for (i = 0; i < x->ndigits; i++)
	{
		int			d = num_digit(x, i);
		int			group = i - x->weight;	/* 1: first after the point */
		int			shown;

		if (d == 0)
			continue;
		if (group <= 0)
			return true;
		shown = x->dscale - (group - 1) * 4;
		if (shown >= 4)
			return true;
		if (shown > 0 && d / pow10s[4 - shown] != 0)
			return true;
	}
	return false;
}

/*
 * put_numeric - numeric_out(): the integer part without leading zeros,
 * then exactly dscale decimals (digits beyond dscale are cut, not rounded,
 * as get_str_from_var does).
 */
static void
put_numeric(proto_wbuf_t *out, num_t x)
{
	char		g[4];
	int			d;
	int			i;

	switch (x.sign)
	{
		case NUM_NAN:
			put_cstr(out, "NaN");
			return;
		case NUM_PINF:
			put_cstr(out, "Infinity");
			return;
		case NUM_NINF:
			put_cstr(out, "-Infinity");
			return;
		default:
			break;
	}
	num_strip(&x);
	if (x.ndigits == 0)
		x.weight = 0;			/* zero prints as "0" whatever its weight */
	if (x.sign == NUM_NEG && num_visible(&x))
		proto_put_u8(out, '-');

	if (x.weight < 0)
	{
		proto_put_u8(out, '0');
		d = x.weight + 1;
	}
	else
	{
		for (d = 0; d <= x.weight; d++)
		{
			int			v = num_digit(&x, d);

			if (d == 0)
				put_uint(out, (uint64_t) v, 1);
			else
				put_uint(out, (uint64_t) v, 4);
		}
	}
	if (x.dscale > 0)
	{
		proto_put_u8(out, '.');
		for (i = 0; i < x.dscale; i += 4, d++)
		{
			int			v = num_digit(&x, d);
			int			take = x.dscale - i < 4 ? x.dscale - i : 4;

			g[0] = (char) ('0' + v / 1000);
			g[1] = (char) ('0' + v / 100 % 10);
			g[2] = (char) ('0' + v / 10 % 10);
			g[3] = (char) ('0' + v % 10);
			proto_put_bytes(out, g, (size_t) take);
		}
	}
}

/*
 * numeric_send_text - numeric_send() format: uint16 ndigits, int16 weight,
 * uint16 sign, uint16 dscale, then the digits, all big-endian.
 */
static int
numeric_send_text(proto_wbuf_t *out, const uint8_t *p, size_t n)
{
	num_t		x;
	uint16_t	ndigits;
	uint16_t	sign;
	uint16_t	dscale;

	if (n < 8)
		return TIDE_EBADVALUE;
	ndigits = (uint16_t) rd_uint(p, 2, true);
	sign = (uint16_t) rd_uint(p + 4, 2, true);
	dscale = (uint16_t) rd_uint(p + 6, 2, true);
	if (n - 8 != (size_t) ndigits * 2)
		return TIDE_EBADVALUE;
	if (sign != NUM_POS && sign != NUM_NEG && sign != NUM_NAN &&
		sign != NUM_PINF && sign != NUM_NINF)
		return TIDE_EBADVALUE;
	if ((dscale & NUM_DSCALE_MASK) != dscale)
		return TIDE_EBADVALUE;
	x.sign = sign;
	x.weight = (int16_t) (uint16_t) rd_uint(p + 2, 2, true);
	x.dscale = dscale;
	x.ndigits = ndigits;
	x.digits = p + 8;
	x.be = true;
	if (!num_check(&x))
		return TIDE_EBADVALUE;
	put_numeric(out, x);
	return 0;
}

/*
 * varlena_body - the contents of an uncompressed, inline varlena at p
 * (little-endian header: 1-byte or 4-byte), at most n bytes available.
 */
static bool
varlena_body(const uint8_t *p, size_t n, const uint8_t **body, size_t *len)
{
	size_t		size;

	if (n < 1)
		return false;
	if (p[0] & 0x01)
	{
		/* 1-byte header; 0x01 alone marks a TOAST pointer. */
		if (p[0] == 0x01)
			return false;
		size = p[0] >> 1;
		if (size < 1 || size > n)
			return false;
		*body = p + 1;
		*len = size - 1;
		return true;
	}
	if ((p[0] & 0x03) != 0x00 || n < 4)
		return false;			/* compressed, or truncated */
	size = (size_t) (rd_uint(p, 4, false) >> 2);
	if (size < 4 || size > n)
		return false;
	*body = p + 4;
	*len = size - 4;
	return true;
}

/*
 * numeric_disk_text - a numeric as stored on disk (a varlena in host byte
 * order, here little-endian): short header (uint16 with sign, 6-bit dscale
 * and 7-bit weight), long header (uint16 sign and dscale, int16 weight) or
 * a special value (uint16), then the digits.
 */
static int
numeric_disk_text(proto_wbuf_t *out, const uint8_t *p, size_t n)
{
	const uint8_t *b;
	size_t		len;
	uint16_t	h;
	num_t		x;

	if (!varlena_body(p, n, &b, &len) || len < 2)
		return TIDE_EBADVALUE;
	h = (uint16_t) rd_uint(b, 2, false);
	memset(&x, 0, sizeof(x));
	if ((h & NUM_NAN) == NUM_NAN)
	{
		h &= 0xF000;
		if (h != NUM_NAN && h != NUM_PINF && h != NUM_NINF)
			return TIDE_EBADVALUE;
		x.sign = h;
		put_numeric(out, x);
		return 0;
	}
	if (h & NUM_SHORT)
	{
		x.sign = (h & 0x2000) ? NUM_NEG : NUM_POS;
		x.dscale = (h & 0x1F80) >> 7;
		x.weight = (h & 0x0040) ? (int) (h & 0x003F) - 64 : (int) (h & 0x003F);
		b += 2;
		len -= 2;
	}
	else
	{
		if (len < 4)
			return TIDE_EBADVALUE;
		x.sign = h & NUM_NAN;
		x.dscale = h & NUM_DSCALE_MASK;
		x.weight = (int16_t) (uint16_t) rd_uint(b + 2, 2, false);
		b += 4;
		len -= 4;
	}
	if (len % 2 != 0)
		return TIDE_EBADVALUE;
	x.ndigits = (int) (len / 2);
	x.digits = b;
	if (!num_check(&x))
		return TIDE_EBADVALUE;
	put_numeric(out, x);
	return 0;
}

/* ----------------------------------------------------------------
 * jsonb (the on-disk container)
 *
 * A container is a uint32 header (count, JB_F* flags), one JEntry per
 * element (objects: all keys, then all values), then the data area.  Each
 * JEntry holds its type and either its length or, every JB_OFFSET_STRIDE'th
 * entry, its end offset; an entry starts where the one before it ends.
 * Numerics and nested containers are int-aligned within the data area.
 *
 * The walk is iterative: a frame per open container (its offset from the
 * root and the next item to print) instead of recursion, so deep nesting
 * costs 8 bytes a level.  Each container's JEntries are checked once, when
 * it is entered; later reads of them need no checks.
 * ----------------------------------------------------------------
 */

/* A container whose JEntries have been checked by jcont_check(). */
typedef struct
{
	const uint8_t *je;			/* JEntry array */
	const uint8_t *data;		/* data area */
	uint32_t	count;			/* elements, or key/value pairs */
	bool		object;
} jcont_t;

typedef struct
{
	uint32_t	base;			/* container's offset from the root */
	uint32_t	next;			/* next element or pair to print */
} jframe_t;

static void
jcont_read(jcont_t *c, const uint8_t *p)
{
	uint32_t	header = (uint32_t) rd_uint(p, 4, false);

	c->count = header & JB_CMASK;
	c->object = (header & JB_FOBJECT) != 0;
	c->je = p + 4;
	c->data = c->je + 4 * (c->object ? 2 * (size_t) c->count : c->count);
}

/*
 * jcont_check - whether the n bytes at p are a well-formed container: known
 * flags (a raw scalar only at the root), JEntries inside n, entries that
 * end in order inside the data area, string keys, known types, and an end
 * offset at least every JB_OFFSET_STRIDE entries (so finding where an entry
 * starts never walks further back than that).  Nested values are checked
 * when they are reached.
 */
static bool
jcont_check(const uint8_t *p, size_t n, bool root, bool *scalar)
{
	uint32_t	header;
	uint32_t	flags;
	uint32_t	count;
	uint64_t	nent;
	uint64_t	dlen;
	uint64_t	off = 0;
	uint64_t	lastoff = 0;	/* 1 + index of the last end offset seen */
	uint64_t	k;

	if (n < 4)
		return false;
	header = (uint32_t) rd_uint(p, 4, false);
	flags = header & ~JB_CMASK;
	count = header & JB_CMASK;
	*scalar = flags == (JB_FARRAY | JB_FSCALAR);
	if (flags != JB_FOBJECT && flags != JB_FARRAY && !*scalar)
		return false;
	if (*scalar && (!root || count != 1))
		return false;
	nent = flags == JB_FOBJECT ? 2 * (uint64_t) count : count;
	if (nent > (n - 4) / 4)
		return false;
	dlen = n - 4 - 4 * nent;

	for (k = 0; k < nent; k++)
	{
		uint32_t	e = (uint32_t) rd_uint(p + 4 + 4 * k, 4, false);
		uint32_t	type = e & JENTRY_TYPEMASK;
		uint64_t	fld = e & JENTRY_OFFLENMASK;
		uint64_t	end = (e & JENTRY_HAS_OFF) ? fld : off + fld;

		if (k > JB_OFFSET_STRIDE && lastoff + JB_OFFSET_STRIDE <= k)
			return false;
		if (type > JENTRY_ISCONTAINER ||
			(flags == JB_FOBJECT && k < count && type != JENTRY_ISSTRING))
			return false;
		if (end < off || end > dlen)
			return false;
		if (e & JENTRY_HAS_OFF)
			lastoff = k + 1;
		off = end;
	}
	return true;
}

/*
 * jcont_entry - JEntry k of a checked container and its [*start, *end) in
 * the data area (getJsonbOffset() and getJsonbLength()).
 */
static uint32_t
jcont_entry(const jcont_t *c, uint32_t k, uint32_t *start, uint32_t *end)
{
	uint32_t	e = (uint32_t) rd_uint(c->je + 4 * (size_t) k, 4, false);
	uint32_t	off = 0;
	uint32_t	i = k;

	while (i > 0)
	{
		uint32_t	prev;

		i--;
		prev = (uint32_t) rd_uint(c->je + 4 * (size_t) i, 4, false);
		off += prev & JENTRY_OFFLENMASK;
		if (prev & JENTRY_HAS_OFF)
			break;
	}
	*start = off;
	*end = (e & JENTRY_HAS_OFF) ? (e & JENTRY_OFFLENMASK)
		: off + (e & JENTRY_OFFLENMASK);
	return e;
}

/* jsonb_scalar - a string, numeric, boolean or null item. */
static int
jsonb_scalar(proto_wbuf_t *out, const uint8_t *data, uint32_t je,
			 uint32_t start, uint32_t end)
{
	/* Numerics are int-aligned: padding may precede them. */
	uint32_t	aligned = (start + 3) & ~(uint32_t) 3;

	switch (je & JENTRY_TYPEMASK)
	{
		case JENTRY_ISSTRING:
			put_json_string(out, data + start, end - start);
			return 0;
		case JENTRY_ISNUMERIC:
			if (aligned > end)
				return TIDE_EBADVALUE;
			return numeric_disk_text(out, data + aligned, end - aligned);
		case JENTRY_ISBOOL_FALSE:
			put_cstr(out, "false");
			return 0;
		case JENTRY_ISBOOL_TRUE:
			put_cstr(out, "true");
			return 0;
		case JENTRY_ISNULL:
			put_cstr(out, "null");
			return 0;
		default:
			return TIDE_EBADVALUE;
	}
}

/*
 * jsonb_container_text - render a stored root container as jsonb_out()
 * does: ", " between items, ": " after keys, keys in stored order, and a
 * raw scalar (a one-element array flagged JB_FSCALAR) without brackets.
 */
static int
jsonb_container_text(proto_wbuf_t *out, const uint8_t *root, size_t n)
{
	jframe_t	stack[JSONB_MAX_DEPTH];
	int			depth = 0;
	bool		scalar;
	jcont_t		c;
	uint32_t	je;
	uint32_t	start;
	uint32_t	end;

	if (!jcont_check(root, n, true, &scalar))
		return TIDE_EBADVALUE;
	jcont_read(&c, root);
	if (scalar)
	{
		je = jcont_entry(&c, 0, &start, &end);
		return jsonb_scalar(out, c.data, je, start, end);
	}
	proto_put_u8(out, c.object ? '{' : '[');
	stack[0].base = 0;
	stack[0].next = 0;

	while (!out->err)
	{
		jframe_t   *f = &stack[depth];
		const uint8_t *child;
		uint32_t	aligned;
		uint32_t	i;
		int			rc;

		jcont_read(&c, root + f->base);
		if (f->next == c.count)
		{
			proto_put_u8(out, c.object ? '}' : ']');
			if (depth-- == 0)
				break;
			continue;
		}
		i = f->next++;
		if (i > 0)
			proto_put_bytes(out, ", ", 2);
		if (c.object)
		{
			jcont_entry(&c, i, &start, &end);
			put_json_string(out, c.data + start, end - start);
			proto_put_bytes(out, ": ", 2);
			je = jcont_entry(&c, c.count + i, &start, &end);
		}
		else
			je = jcont_entry(&c, i, &start, &end);

		if ((je & JENTRY_TYPEMASK) != JENTRY_ISCONTAINER)
		{
			if ((rc = jsonb_scalar(out, c.data, je, start, end)) != 0)
				return rc;
			continue;
		}

		/* Enter the nested container. */
		aligned = (start + 3) & ~(uint32_t) 3;
		if (aligned > end || depth + 1 >= JSONB_MAX_DEPTH)
			return TIDE_EBADVALUE;
		child = c.data + aligned;
		if (!jcont_check(child, end - aligned, false, &scalar))
			return TIDE_EBADVALUE;
		depth++;
		stack[depth].base = (uint32_t) (child - root);
		stack[depth].next = 0;
		jcont_read(&c, child);
		proto_put_u8(out, c.object ? '{' : '[');
	}
	return 0;
}

/*
 * proto_jsonb_container_text - a stored container (what VARDATA_ANY of a
 * detoasted jsonb points at) as jsonb_out() prints it.  The wire carries
 * the compact tree (jsonb.c); this reads the container itself, which the
 * tests use to check the two agree.  Returns 0, TIDE_EBADVALUE (nothing
 * left appended) or out->err.
 */
int
proto_jsonb_container_text(proto_wbuf_t *out, const uint8_t *root, size_t n)
{
	size_t		start = out->len;
	int			rc;

	if (out->err)
		return out->err;
	rc = jsonb_container_text(out, root, n);
	if (out->err)
		return out->err;
	if (rc != 0)
		out->len = start;
	return rc;
}

/* ----------------------------------------------------------------
 * inet / cidr
 * ----------------------------------------------------------------
 */

/* put_ipv6 - the address as inet_net_ntop() writes it (:: for zero runs). */
static void
put_ipv6(proto_wbuf_t *out, const uint8_t *a)
{
	unsigned	words[8];
	int			best = -1,
				bestlen = 0,
				cur = -1,
				curlen = 0;
	int			i;

	for (i = 0; i < 8; i++)
	{
		words[i] = (unsigned) (a[2 * i] << 8 | a[2 * i + 1]);
		if (words[i] == 0)
		{
			if (cur == -1)
			{
				cur = i;
				curlen = 0;
			}
			curlen++;
		}
		else if (cur != -1)
		{
			if (best == -1 || curlen > bestlen)
			{
				best = cur;
				bestlen = curlen;
			}
			cur = -1;
		}
	}
	if (cur != -1 && (best == -1 || curlen > bestlen))
	{
		best = cur;
		bestlen = curlen;
	}
	if (best != -1 && bestlen < 2)
		best = -1;

	for (i = 0; i < 8; i++)
	{
		if (best != -1 && i >= best && i < best + bestlen)
		{
			if (i == best)
				proto_put_u8(out, ':');
			continue;
		}
		if (i != 0)
			proto_put_u8(out, ':');
		/* An IPv4-compatible or IPv4-mapped address ends in dotted form. */
		if (i == 6 && best == 0 &&
			(bestlen == 6 || (bestlen == 7 && words[7] != 0x0001) ||
			 (bestlen == 5 && words[5] == 0xffff)))
		{
			put_uint(out, a[12], 1);
			proto_put_u8(out, '.');
			put_uint(out, a[13], 1);
			proto_put_u8(out, '.');
			put_uint(out, a[14], 1);
			proto_put_u8(out, '.');
			put_uint(out, a[15], 1);
			break;
		}
		{
			char		buf[4];
			int			k = 0;
			int			shift;

			for (shift = 12; shift > 0 && (words[i] >> shift) == 0; shift -= 4)
				;
			for (; shift >= 0; shift -= 4)
				buf[k++] = hexdigits[(words[i] >> shift) & 15];
			proto_put_bytes(out, buf, (size_t) k);
		}
	}
	if (best != -1 && best + bestlen == 8)
		proto_put_u8(out, ':');
}

/*
 * inet_send_text - inet_send() format: family, bits, is_cidr, address
 * length, address.  inet_out() leaves out /32 (/128) for inet; cidr_out()
 * always shows the mask length.
 */
static int
inet_send_text(proto_wbuf_t *out, const uint8_t *p, size_t n, bool cidr)
{
	int			maxbits;
	int			bits;
	int			i;

	if (n < 4)
		return TIDE_EBADVALUE;
	if (p[0] == PGSQL_AF_INET)
		maxbits = 32;
	else if (p[0] == PGSQL_AF_INET6)
		maxbits = 128;
	else
		return TIDE_EBADVALUE;
	bits = p[1];
	if (bits > maxbits || p[3] != maxbits / 8 || n != 4 + (size_t) p[3])
		return TIDE_EBADVALUE;
	p += 4;

	/* A cidr has no bits set beyond its mask (inet_recv's check). */
	if (cidr)
	{
		for (i = bits; i < maxbits; i++)
		{
			if (p[i / 8] & (0x80 >> (i % 8)))
				return TIDE_EBADVALUE;
		}
	}

	if (maxbits == 32)
	{
		for (i = 0; i < 4; i++)
		{
			if (i > 0)
				proto_put_u8(out, '.');
			put_uint(out, p[i], 1);
		}
	}
	else
		put_ipv6(out, p);
	if (bits != maxbits || cidr)
	{
		proto_put_u8(out, '/');
		put_uint(out, (uint64_t) bits, 1);
	}
	return 0;
}

/* ----------------------------------------------------------------
 * Send formats and arrays
 * ----------------------------------------------------------------
 */

/* array_elemtype - the element type of a built-in array type, or 0. */
static uint32_t
array_elemtype(uint32_t typoid)
{
	static const uint32_t map[][2] = {
		{ARR_BOOLOID, PROTO_BOOLOID},
		{ARR_BYTEAOID, PROTO_BYTEAOID},
		{ARR_CHAROID, PROTO_CHAROID},
		{ARR_NAMEOID, PROTO_NAMEOID},
		{ARR_INT8OID, PROTO_INT8OID},
		{ARR_INT2OID, PROTO_INT2OID},
		{ARR_INT4OID, PROTO_INT4OID},
		{ARR_TEXTOID, PROTO_TEXTOID},
		{ARR_OIDOID, PROTO_OIDOID},
		{ARR_XIDOID, PROTO_XIDOID},
		{ARR_JSONOID, PROTO_JSONOID},
		{ARR_XMLOID, PROTO_XMLOID},
		{ARR_CIDROID, PROTO_CIDROID},
		{ARR_FLOAT4OID, PROTO_FLOAT4OID},
		{ARR_FLOAT8OID, PROTO_FLOAT8OID},
		{ARR_MACADDR8OID, PROTO_MACADDR8OID},
		{ARR_MONEYOID, PROTO_MONEYOID},
		{ARR_MACADDROID, PROTO_MACADDROID},
		{ARR_INETOID, PROTO_INETOID},
		{ARR_BPCHAROID, PROTO_BPCHAROID},
		{ARR_VARCHAROID, PROTO_VARCHAROID},
		{ARR_DATEOID, PROTO_DATEOID},
		{ARR_TIMEOID, PROTO_TIMEOID},
		{ARR_TIMESTAMPOID, PROTO_TIMESTAMPOID},
		{ARR_TIMESTAMPTZOID, PROTO_TIMESTAMPTZOID},
		{ARR_INTERVALOID, PROTO_INTERVALOID},
		{ARR_TIMETZOID, PROTO_TIMETZOID},
		{ARR_NUMERICOID, PROTO_NUMERICOID},
		{ARR_UUIDOID, PROTO_UUIDOID},
		{ARR_JSONBOID, PROTO_JSONBOID},
	};
	size_t		i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
	{
		if (map[i][0] == typoid)
			return map[i][1];
	}
	return 0;
}

/* is_text_type - types whose stored and send forms are their text. */
static bool
is_text_type(uint32_t typoid)
{
	switch (typoid)
	{
		case PROTO_TEXTOID:
		case PROTO_VARCHAROID:
		case PROTO_BPCHAROID:
		case PROTO_NAMEOID:
		case PROTO_JSONOID:
		case PROTO_XMLOID:
			return true;
		default:
			return false;
	}
}

static int	array_send_text(proto_wbuf_t *out, uint32_t elemtype,
							const uint8_t *p, size_t n);

/* send_text - a value in its type's send format (PROTO_ENC_BINARY). */
static int
send_text(proto_wbuf_t *out, uint32_t typoid, const uint8_t *p, size_t n)
{
	uint32_t	elemtype;

	if (is_text_type(typoid))
	{
		proto_put_bytes(out, p, n);
		return 0;
	}
	switch (typoid)
	{
		case PROTO_BYTEAOID:
			put_bytea(out, p, n);
			return 0;
		case PROTO_JSONBOID:
			/*
			 * jsonb_send(): a version byte, then jsonb_out()'s text, which
			 * is passed on as it is (jsonb_recv() would parse and print it
			 * again, giving the same text for anything a server sent).
			 */
			if (n < 2 || p[0] != JSONB_VERSION)
				return TIDE_EBADVALUE;
			proto_put_bytes(out, p + 1, n - 1);
			return 0;
		case PROTO_NUMERICOID:
			return numeric_send_text(out, p, n);
		case PROTO_INETOID:
		case PROTO_CIDROID:
			return inet_send_text(out, p, n, typoid == PROTO_CIDROID);
		default:
			break;
	}
	if ((elemtype = array_elemtype(typoid)) != 0)
		return array_send_text(out, elemtype, p, n);
	return fixed_text(out, typoid, p, n, true);
}

static bool
array_isspace(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
		c == '\f';
}

/*
 * array_quote - quote the element text just written at out->data[start..]
 * in place, when array_out() would: empty, "NULL" in any case, or holding
 * braces, the delimiter, whitespace, a quote or a backslash (the last two
 * are backslash-escaped).
 */
static void
array_quote(proto_wbuf_t *out, size_t start)
{
	static const char null[] = "null";
	size_t		end = out->len;
	size_t		extra = 0;
	bool		quote = end == start;
	size_t		src;
	size_t		dst;
	size_t		i;

	if (out->err)
		return;
	if (end - start == 4)
	{
		quote = true;
		for (i = 0; i < 4; i++)
		{
			uint8_t		c = out->data[start + i];

			if (c >= 'A' && c <= 'Z')
				c = (uint8_t) (c - 'A' + 'a');
			if (c != (uint8_t) null[i])
				quote = false;
		}
	}
	for (i = start; i < end; i++)
	{
		uint8_t		c = out->data[i];

		if (c == '"' || c == '\\')
		{
			extra++;
			quote = true;
		}
		else if (c == '{' || c == '}' || c == ',' || array_isspace(c))
			quote = true;
	}
	if (!quote || proto_wbuf_ensure(out, extra + 2) != 0)
		return;

	/* Move the text up, escaping as we go, back to front. */
	src = end;
	dst = end + extra + 2;
	out->data[--dst] = '"';
	while (src > start)
	{
		uint8_t		c = out->data[--src];

		out->data[--dst] = c;
		if (c == '"' || c == '\\')
			out->data[--dst] = '\\';
	}
	out->data[--dst] = '"';
	out->len = end + extra + 2;
}

/*
 * array_send_text - array_send() format: int32 ndim, int32 has-nulls,
 * uint32 element type, ndim (int32 length, int32 lower bound) pairs, then
 * each element as int32 length (-1 for NULL) and its send bytes.  Printed
 * as array_out() does, with "[lo:hi]...=" in front when a lower bound is
 * not 1.
 */
static int
array_send_text(proto_wbuf_t *out, uint32_t elemtype, const uint8_t *p,
				size_t n)
{
	proto_rbuf_t r;
	int32_t		ndim;
	int32_t		flags;
	uint64_t	etype;
	int32_t		dims[ARRAY_MAXDIM];
	int32_t		lbs[ARRAY_MAXDIM];
	int32_t		idx[ARRAY_MAXDIM];
	int64_t		nitems = 1;
	bool		showdims = false;
	int			i;
	int			j;

	proto_rbuf_init(&r, p, n);
	if (get_be_i32(&r, &ndim) != 0 || get_be_i32(&r, &flags) != 0 ||
		get_be(&r, 4, &etype) != 0)
		return TIDE_EBADVALUE;
	if (ndim < 0 || ndim > ARRAY_MAXDIM || (flags != 0 && flags != 1) ||
		etype != elemtype)
		return TIDE_EBADVALUE;
	for (i = 0; i < ndim; i++)
	{
		if (get_be_i32(&r, &dims[i]) != 0 || get_be_i32(&r, &lbs[i]) != 0)
			return TIDE_EBADVALUE;
		if (dims[i] < 0 || (int64_t) dims[i] + lbs[i] > INT32_MAX)
			return TIDE_EBADVALUE;
		nitems *= dims[i];
		if (nitems > ARRAY_MAX_ITEMS)
			return TIDE_EBADVALUE;
		if (lbs[i] != 1)
			showdims = true;
		idx[i] = 0;
	}
	if (ndim == 0 || nitems == 0)
	{
		if (r.pos != n)
			return TIDE_EBADVALUE;
		put_cstr(out, "{}");
		return 0;
	}

	if (showdims)
	{
		for (i = 0; i < ndim; i++)
		{
			proto_put_u8(out, '[');
			put_int(out, lbs[i]);
			proto_put_u8(out, ':');
			put_int(out, (int64_t) lbs[i] + dims[i] - 1);
			proto_put_u8(out, ']');
		}
		proto_put_u8(out, '=');
	}

	/* Walk the elements in storage order, opening and closing braces. */
	j = 0;
	do
	{
		int32_t		elen;
		const uint8_t *ep;

		for (i = j; i < ndim; i++)
			proto_put_u8(out, '{');
		if (get_be_i32(&r, &elen) != 0)
			return TIDE_EBADVALUE;
		if (elen == -1)
			put_cstr(out, "NULL");
		else
		{
			size_t		start = out->len;
			int			rc;

			if (elen < 0 || proto_get_bytes(&r, (size_t) elen, &ep) != 0)
				return TIDE_EBADVALUE;
			if ((rc = send_text(out, elemtype, ep, (size_t) elen)) != 0)
				return rc;
			array_quote(out, start);
		}
		for (i = ndim - 1; i >= 0; i--)
		{
			if (++idx[i] < dims[i])
			{
				proto_put_u8(out, ',');
				break;
			}
			idx[i] = 0;
			proto_put_u8(out, '}');
		}
		j = i + 1;
	} while (i >= 0 && !out->err);

	if (r.pos != n)
		return TIDE_EBADVALUE;
	return 0;
}

/* ----------------------------------------------------------------
 * Entry points
 * ----------------------------------------------------------------
 */

/*
 * value_args - the checks both entry points start with: a buffer already
 * failed, or bytes missing; an empty value may come as NULL.
 */
static int
value_args(const proto_wbuf_t *out, const uint8_t **data, uint32_t len)
{
	if (out->err)
		return out->err;
	if (*data == NULL && len > 0)
		return TIDE_EBADVALUE;
	if (*data == NULL)
		*data = (const uint8_t *) "";
	return 0;
}

int
proto_value_text(proto_wbuf_t *out, uint8_t encoding, uint32_t basetypoid,
				 const uint8_t *data, uint32_t len)
{
	size_t		start = out->len;
	int			rc;

	if ((rc = value_args(out, &data, len)) != 0)
		return rc;

	switch (encoding)
	{
		case PROTO_ENC_FIXED:
			rc = fixed_text(out, basetypoid, data, len, false);
			break;
		case PROTO_ENC_BYTES:
			if (basetypoid == PROTO_BYTEAOID)
				put_bytea(out, data, len);
			else if (is_text_type(basetypoid))
				proto_put_bytes(out, data, len);
			else
				rc = put_unknown(out, data, len);
			break;
		case PROTO_ENC_JSONB:
			rc = proto_jsonb_text(out, data, len);
			break;
		case PROTO_ENC_BINARY:
			rc = send_text(out, basetypoid, data, len);
			break;
		case PROTO_ENC_TEXT:
			proto_put_bytes(out, data, len);
			break;
		default:
			rc = put_unknown(out, data, len);
			break;
	}
	if (out->err)
		return out->err;
	if (rc == TIDE_EBADVALUE)
		out->len = start;
	return rc;
}

/* ----------------------------------------------------------------
 * Binary send formats (binary COPY and parameters)
 * ----------------------------------------------------------------
 */

int
proto_value_send_ok(uint8_t encoding, uint32_t basetypoid)
{
	switch (encoding)
	{
		case PROTO_ENC_FIXED:
			return fixed_width(basetypoid) != 0;
		case PROTO_ENC_BYTES:
			/* xml_recv() reads an encoding declaration; its text is safer */
			return basetypoid == PROTO_BYTEAOID ||
				(is_text_type(basetypoid) && basetypoid != PROTO_XMLOID);
		case PROTO_ENC_JSONB:
		case PROTO_ENC_BINARY:
			return 1;
		default:
			return 0;
	}
}

/* put_be - the w-byte little-endian field at p, big-endian */
static void
put_be(proto_wbuf_t *out, const uint8_t *p, int w)
{
	uint8_t		b[8];

	for (int i = 0; i < w; i++)
		b[i] = p[w - 1 - i];
	proto_put_bytes(out, b, (size_t) w);
}

int
proto_value_send(proto_wbuf_t *out, uint8_t encoding, uint32_t basetypoid,
				 const uint8_t *data, uint32_t len)
{
	size_t		start = out->len;
	int			rc;

	if ((rc = value_args(out, &data, len)) != 0)
		return rc;
	if (!proto_value_send_ok(encoding, basetypoid))
		return TIDE_EBADTYPE;

	switch (encoding)
	{
		case PROTO_ENC_FIXED:
			if (len != (uint32_t) fixed_width(basetypoid))
				return TIDE_EBADVALUE;
			switch (basetypoid)
			{
				case PROTO_BOOLOID:
					proto_put_u8(out, data[0] != 0);
					break;
				case PROTO_CHAROID:
				case PROTO_MACADDROID:
				case PROTO_MACADDR8OID:
				case PROTO_UUIDOID:
					/* bytes, in the order the receive function reads them */
					proto_put_bytes(out, data, len);
					break;
				case PROTO_TIMETZOID:
					/* int64 time of day, int32 zone */
					put_be(out, data, 8);
					put_be(out, data + 8, 4);
					break;
				case PROTO_INTERVALOID:
					/* int64 time, int32 day, int32 month */
					put_be(out, data, 8);
					put_be(out, data + 8, 4);
					put_be(out, data + 12, 4);
					break;
				default:
					/* one integer (float bits, days, microseconds, cents) */
					put_be(out, data, (int) len);
					break;
			}
			break;
		case PROTO_ENC_BYTES:
		case PROTO_ENC_BINARY:
			proto_put_bytes(out, data, len);
			break;
		case PROTO_ENC_JSONB:
			proto_put_u8(out, JSONB_VERSION);
			rc = proto_jsonb_text(out, data, len);
			break;
	}
	if (out->err)
		return out->err;
	if (rc != 0)
		out->len = start;
	return rc;
}

void
proto_value_quote(proto_wbuf_t *out, const char *s, size_t n, int json)
{
	const char *run;
	size_t		i;

	if (s == NULL)
		s = "";					/* n is 0; keep arithmetic off NULL */
	run = s;
	if (json)
	{
		put_json_string(out, (const uint8_t *) s, n);
		return;
	}
	proto_put_u8(out, '\'');
	for (i = 0; i < n; i++)
	{
		if (s[i] == '\'')
		{
			/* Copy through the quote, then double it. */
			proto_put_bytes(out, run, (size_t) (s + i + 1 - run));
			proto_put_u8(out, '\'');
			run = s + i + 1;
		}
	}
	proto_put_bytes(out, run, (size_t) (s + n - run));
	proto_put_u8(out, '\'');
}
