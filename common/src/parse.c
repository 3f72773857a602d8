/*
 * common/src/parse.c
 *		One strict parser per kind of option value: integer, duration,
 *		size, LSN, time.
 *
 * A value either is exactly in the documented form or is an error that
 * names the option, the value and the form.  strtod() and atoi() are not
 * used: they accept "nan", "0x10", "2x", blanks and overflow silently, and
 * a retention of "nan" must not become "keep everything".
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tide/common.h"

#define USECS INT64_C(1000000)

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * decimal - "digits[.digits]" at *p: the whole part and the fraction in
 * millionths (at most 6 fraction digits).  Advances *p.
 */
static int
decimal(const char **p, int64_t *whole, int64_t *micro)
{
	const char *s = *p;
	int64_t		w = 0;
	int64_t		f = 0;
	int			nf = 0;

	if (!is_digit(*s))
		return -1;
	for (; is_digit(*s); s++)
	{
		if (w > (INT64_MAX - (*s - '0')) / 10)
			return -1;
		w = w * 10 + (*s - '0');
	}
	if (*s == '.')
	{
		s++;
		if (!is_digit(*s))
			return -1;
		for (; is_digit(*s); s++)
		{
			if (++nf > 6)
				return -1;
			f = f * 10 + (*s - '0');
		}
		for (int i = nf; i < 6; i++)
			f *= 10;
	}
	*whole = w;
	*micro = f;
	*p = s;
	return 0;
}

/* scaled - whole.micro * mult, which must come out integral and in range */
static int
scaled(int64_t whole, int64_t micro, int64_t mult, int64_t *out)
{
	__int128	frac = (__int128) micro * mult;

	if (whole > INT64_MAX / mult || frac % USECS != 0)
		return -1;
	frac /= USECS;
	if (whole * mult > INT64_MAX - frac)
		return -1;
	*out = whole * mult + (int64_t) frac;
	return 0;
}

int
tide_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	bool		neg = false;
	int64_t		v = 0;

	if (s == NULL)
		return -1;
	if (*s == '-')
	{
		neg = true;
		s++;
	}
	if (!is_digit(*s))
		return -1;
	for (; is_digit(*s); s++)
	{
		int			d = *s - '0';

		/* accumulate negatively: INT64_MIN has no positive twin */
		if (v < (INT64_MIN + d) / 10)
			return -1;
		v = v * 10 - d;
	}
	if (*s != '\0')
		return -1;
	if (!neg)
	{
		if (v == INT64_MIN)
			return -1;
		v = -v;
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static const struct
{
	const char *name;
	int64_t		usecs;
} duration_units[] = {
	{"us", 1},
	{"ms", 1000},
	{"s", USECS},
	{"min", 60 * USECS},
	{"h", 3600 * USECS},
	{"d", 86400 * USECS},
};

int
tide_parse_duration(const char *s, int64_t max_usecs, int64_t *out)
{
	int64_t		whole;
	int64_t		micro;
	int64_t		v;
	int64_t		mult = -1;

	if (s == NULL || decimal(&s, &whole, &micro) != 0)
		return -1;
	if (*s == '\0')
		mult = USECS;			/* a bare number is seconds */
	for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++)
		if (strcmp(s, duration_units[i].name) == 0)
			mult = duration_units[i].usecs;
	if (mult < 0 || scaled(whole, micro, mult, &v) != 0 || v > max_usecs)
		return -1;
	*out = v;
	return 0;
}

static const struct
{
	const char *name;
	int64_t		bytes;
} size_units[] = {
	{"B", 1},
	{"kB", INT64_C(1) << 10},
	{"MB", INT64_C(1) << 20},
	{"GB", INT64_C(1) << 30},
	{"TB", INT64_C(1) << 40},
};

int
tide_parse_size(const char *s, int64_t *out)
{
	int64_t		whole;
	int64_t		micro;
	int64_t		v;
	int64_t		mult = -1;

	if (s == NULL || decimal(&s, &whole, &micro) != 0)
		return -1;
	if (*s == '\0')
		mult = 1;
	for (size_t i = 0; i < sizeof(size_units) / sizeof(size_units[0]); i++)
		if (strcasecmp(s, size_units[i].name) == 0)
			mult = size_units[i].bytes;
	if (mult < 0 || scaled(whole, micro, mult, &v) != 0)
		return -1;
	*out = v;
	return 0;
}

static int
hex_word(const char **p, uint32_t *out)
{
	const char *s = *p;
	uint32_t	v = 0;
	int			n = 0;

	for (;; s++, n++)
	{
		int			d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		if (n == 8)
			return -1;
		v = v << 4 | (uint32_t) d;
	}
	if (n == 0)
		return -1;
	*out = v;
	*p = s;
	return 0;
}

int
tide_parse_lsn(const char *s, uint64_t *out)
{
	uint32_t	hi;
	uint32_t	lo;

	if (s == NULL || hex_word(&s, &hi) != 0 || *s++ != '/' ||
		hex_word(&s, &lo) != 0 || *s != '\0')
		return -1;
	*out = (uint64_t) hi << 32 | lo;
	return 0;
}

/* fixed - exactly n digits at *p */
static int
fixed(const char **p, int n, int *out)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		if (!is_digit((*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

/* days_from_civil - days since 1970-01-01 of a proleptic Gregorian date */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t		era;
	int64_t		yoe;
	int64_t		doy;
	int64_t		doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
days_in_month(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

int
tide_parse_time(const char *s, int64_t *out)
{
	int			y,
				mo,
				d,
				h,
				mi,
				sec = 0;
	int64_t		usec = 0;
	int			zone = 0;		/* seconds east of UTC */
	int64_t		t;

	if (s == NULL || fixed(&s, 4, &y) || *s++ != '-' || fixed(&s, 2, &mo) ||
		*s++ != '-' || fixed(&s, 2, &d) || (*s != ' ' && *s != 'T'))
		return -1;
	s++;
	if (fixed(&s, 2, &h) || *s++ != ':' || fixed(&s, 2, &mi))
		return -1;
	if (*s == ':')
	{
		s++;
		if (fixed(&s, 2, &sec))
			return -1;
		if (*s == '.')
		{
			int			n = 0;

			for (s++; is_digit(*s); s++)
			{
				if (++n > 6)
					return -1;
				usec = usec * 10 + (*s - '0');
			}
			if (n == 0)
				return -1;
			for (; n < 6; n++)
				usec *= 10;
		}
	}
	if (*s == ' ')
		s++;
	if (strcmp(s, "Z") == 0 || strcmp(s, "UTC") == 0)
		zone = 0;
	else if (*s == '+' || *s == '-')
	{
		int			sign = *s++ == '-' ? -1 : 1;
		int			zh;
		int			zm = 0;

		if (fixed(&s, 2, &zh))
			return -1;
		if (*s == ':')
			s++;
		if (*s != '\0' && fixed(&s, 2, &zm))
			return -1;
		if (*s != '\0' || zh > 15 || zm > 59)
			return -1;
		zone = sign * (zh * 3600 + zm * 60);
	}
	else
		return -1;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
		h > 23 || mi > 59 || sec > 59)
		return -1;
	/* 10957: days from 1970-01-01 to 2000-01-01 */
	t = (days_from_civil(y, mo, d) - 10957) * 86400 + h * 3600 + mi * 60 + sec - zone;
	*out = t * USECS + usec;
	return 0;
}

/* ------------------------------------------------------------ options */

int
tide_opt_int(const char *opt, const char *val, int64_t min, int64_t max,
			 int64_t *out)
{
	if (tide_parse_int(val, min, max, out) == 0)
		return 0;
	tide_log_error("invalid value \"%s\" for %s: give a whole number from %lld to %lld",
				   val, opt, (long long) min, (long long) max);
	return TIDE_EXIT_USAGE;
}

int
tide_opt_duration(const char *opt, const char *val, int64_t min_usecs,
				  int64_t max_usecs, int64_t *out)
{
	int64_t		v;
	char		lo[32];
	char		hi[32];

	if (tide_parse_duration(val, max_usecs, &v) == 0 && v >= min_usecs)
	{
		*out = v;
		return 0;
	}
	tide_format_duration(min_usecs, lo, sizeof(lo));
	tide_format_duration(max_usecs, hi, sizeof(hi));
	tide_log_error("invalid value \"%s\" for %s: give a duration from %s to %s",
				   val, opt, lo, hi);
	tide_log_hint("a number followed by a unit: us, ms, s, min, h or d (e.g. 90s, 15min, 36h, 15d)");
	return TIDE_EXIT_USAGE;
}

int
tide_opt_size(const char *opt, const char *val, int64_t *out)
{
	if (tide_parse_size(val, out) == 0)
		return 0;
	tide_log_error("invalid value \"%s\" for %s: give a size such as 512kB, 100MB or 1GB", val, opt);
	tide_log_hint("units are B, kB, MB, GB and TB, 1024-based; a bare number is bytes");
	return TIDE_EXIT_USAGE;
}

int
tide_opt_lsn(const char *opt, const char *val, uint64_t *out)
{
	if (tide_parse_lsn(val, out) == 0)
		return 0;
	tide_log_error("invalid value \"%s\" for %s: give an LSN such as 16/B374D848", val, opt);
	return TIDE_EXIT_USAGE;
}

int
tide_opt_time(const char *opt, const char *val, int64_t *out)
{
	if (tide_parse_time(val, out) == 0)
		return 0;
	tide_log_error("invalid value \"%s\" for %s: give a time with its zone, such as \"2026-11-20 13:00:00+00\"",
				   val, opt);
	tide_log_hint("YYYY-MM-DD HH:MM[:SS[.ffffff]] followed by Z, UTC or an offset such as +01 or -05:30");
	return TIDE_EXIT_USAGE;
}

int
tide_opt_point(const char *opt, const char *val, bool *is_lsn, uint64_t *lsn,
			   int64_t *time)
{
	if (tide_parse_lsn(val, lsn) == 0)
	{
		*is_lsn = true;
		return 0;
	}
	if (tide_parse_time(val, time) == 0)
	{
		*is_lsn = false;
		return 0;
	}
	tide_log_error("invalid value \"%s\" for %s: give an LSN such as 16/B374D848 or a time such as \"2026-11-20 13:00:00+00\"",
				   val, opt);
	tide_log_hint("a time is YYYY-MM-DD HH:MM[:SS[.ffffff]] followed by Z, UTC or an offset such as +01");
	return TIDE_EXIT_USAGE;
}

void
tide_format_duration(int64_t usecs, char *buf, size_t len)
{
	static const struct
	{
		const char *name;
		int64_t		usecs;
	} units[] = {
		{"d", 86400 * USECS}, {"h", 3600 * USECS}, {"min", 60 * USECS},
		{"s", USECS}, {"ms", 1000}, {"us", 1},
	};

	if (usecs == 0)
	{
		snprintf(buf, len, "0s");
		return;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (usecs % units[i].usecs == 0)
		{
			snprintf(buf, len, "%lld%s", (long long) (usecs / units[i].usecs), units[i].name);
			return;
		}
	snprintf(buf, len, "%lldus", (long long) usecs);
}
