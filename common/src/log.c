/*
 * common/src/log.c
 *		Logging in PostgreSQL's message style, and the clock.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "tide/common.h"

int			tide_log_quiet = 0;

static void
vlog(const char *level, const char *fmt, va_list ap)
{
	fprintf(stderr, "tide: %s: ", level);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
tide_log_error(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vlog("error", fmt, ap);
	va_end(ap);
}

void
tide_log_warning(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vlog("warning", fmt, ap);
	va_end(ap);
}

void
tide_log_info(const char *fmt,...)
{
	va_list		ap;
	char		stamp[32];
	time_t		now = time(NULL);
	struct tm	tm;

	if (tide_log_quiet)
		return;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S UTC", &tm);
	fprintf(stderr, "%s ", stamp);
	va_start(ap, fmt);
	vlog("LOG", fmt, ap);
	va_end(ap);
}

void
tide_log_detail(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vlog("detail", fmt, ap);
	va_end(ap);
}

void
tide_log_hint(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vlog("hint", fmt, ap);
	va_end(ap);
}

int64_t
tide_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	/* 946684800: 2000-01-01, PostgreSQL's epoch, in Unix seconds */
	return ((int64_t) ts.tv_sec - INT64_C(946684800)) * 1000000 + ts.tv_nsec / 1000;
}
