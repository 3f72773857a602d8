/*
 * common/src/log.c
 *		Logging in PostgreSQL's message style, and the clock.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "tide/common.h"

int			tide_log_quiet = 0;

/*
 * vlog - one line, written whole: the streamer's publisher thread logs
 * too, and a line must not interleave with the loop thread's.
 */
static void
vlog(const char *stamp, const char *level, const char *fmt, va_list ap)
{
	flockfile(stderr);
	if (stamp)
		fprintf(stderr, "%s ", stamp);
	fprintf(stderr, "tide: %s: ", level);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

void
tide_log_error(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vlog(NULL, "error", fmt, ap);
	va_end(ap);
}

void
tide_log_warning(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vlog(NULL, "warning", fmt, ap);
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
	va_start(ap, fmt);
	vlog(stamp, "LOG", fmt, ap);
	va_end(ap);
}

void
tide_log_detail(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vlog(NULL, "detail", fmt, ap);
	va_end(ap);
}

void
tide_log_hint(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vlog(NULL, "hint", fmt, ap);
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
