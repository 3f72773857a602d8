/*
 * decoder/wbuf.h
 *		proto's write buffer over a PostgreSQL StringInfo, for the code
 *		that runs inside the server (tide.c, tide_render.c).
 */
#ifndef TIDE_DECODER_WBUF_H
#define TIDE_DECODER_WBUF_H

#include "lib/stringinfo.h"
#include "utils/memutils.h"

#include "tide/buf.h"
#include "tide/errors.h"

/* ---------------------------------------------------------------------
 * Output buffer: proto_wbuf_t over a StringInfo
 * ---------------------------------------------------------------------
 */

/*
 * tide_reserve - proto_reserve_cb growing the StringInfo in b->arg.
 *
 * b->len is the authoritative length while proto writes; the StringInfo's
 * len is brought in line before it grows and again before it is handed to
 * PostgreSQL (tide_wbuf_sync).  One byte is kept spare for the terminating
 * NUL a StringInfo always has room for.  A request past PostgreSQL's 1 GB
 * allocation limit fails with TIDE_ETOOLONG instead of an ERROR thrown
 * through proto's code, so the caller can say what was too large.
 */
pg_attribute_unused() static int
tide_reserve(proto_wbuf_t *b, size_t extra)
{
	StringInfo	si = (StringInfo) b->arg;

	if (b->len >= MaxAllocSize - 1 || extra >= MaxAllocSize - 1 - b->len)
		return TIDE_ETOOLONG;
	si->len = (int) b->len;
	enlargeStringInfo(si, (int) extra);
	b->data = (uint8_t *) si->data;
	b->cap = (size_t) si->maxlen - 1;
	return 0;
}

/* tide_wbuf_attach - make b append to si, after what si already holds. */
pg_attribute_unused() static void
tide_wbuf_attach(proto_wbuf_t *b, StringInfo si)
{
	b->data = (uint8_t *) si->data;
	b->len = (size_t) si->len;
	b->cap = (size_t) si->maxlen - 1;
	b->reserve_cb = tide_reserve;
	b->arg = si;
	b->err = 0;
}

/* tide_wbuf_sync - copy b's length back into its StringInfo. */
pg_attribute_unused() static void
tide_wbuf_sync(proto_wbuf_t *b)
{
	StringInfo	si = (StringInfo) b->arg;

	si->len = (int) b->len;
	si->data[si->len] = '\0';
}

#endif							/* TIDE_DECODER_WBUF_H */
