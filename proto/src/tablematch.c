/*
 * proto/src/tablematch.c
 *		Table patterns (schema.table with '*' wildcards), see tablematch.h.
 */
#include <stddef.h>
#include <string.h>

#include "tide/tablematch.h"

/*
 * glob - does s match the n bytes of pat, where '*' matches any run of
 * bytes?  Backtracks to the last '*' only, which is enough for '*' alone
 * (a later '*' can always take over what an earlier one would have
 * matched), so the cost is at most the product of the lengths.
 */
static bool
glob(const char *pat, size_t n, const char *s)
{
	const char *end = pat + n;
	const char *star = NULL;
	const char *resume = NULL;

	while (*s != '\0')
	{
		if (pat < end && *pat == '*')
		{
			star = pat++;
			resume = s;
		}
		else if (pat < end && *pat == *s)
		{
			pat++;
			s++;
		}
		else if (star != NULL)
		{
			pat = star + 1;
			s = ++resume;
		}
		else
			return false;
	}
	while (pat < end && *pat == '*')
		pat++;
	return pat == end;
}

bool
proto_table_pattern_valid(const char *pattern)
{
	const char *dot = pattern ? strchr(pattern, '.') : NULL;

	return dot != NULL && dot != pattern && dot[1] != '\0';
}

bool
proto_table_match(const char *pattern, const char *nsp, const char *rel)
{
	const char *dot;

	if (!proto_table_pattern_valid(pattern))
		return false;
	dot = strchr(pattern, '.');
	return glob(pattern, (size_t) (dot - pattern), nsp) && glob(dot + 1, strlen(dot + 1), rel);
}
