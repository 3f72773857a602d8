/*
 * proto/include/tide/render.h
 *		Human- and machine-readable renderings of the wire stream.
 *
 * Used by `tide inspect`, by the decoder's SQL function tide_render() that
 * the regression tests read, and by any tool that wants to see a stream.  A
 * renderer keeps the relations it has seen (RELATION messages) so it can
 * decode later rows (a proto_relcat_t); proto_render_free() hands the
 * memory back.
 */
#ifndef TIDE_RENDER_H
#define TIDE_RENDER_H

#include <stddef.h>

#include "tide/buf.h"
#include "tide/relcat.h"
#include "tide/wire.h"

/* proto_render_t.flags */
#define PROTO_RENDER_LSN 0x01		/* show LSNs */
#define PROTO_RENDER_XID 0x02		/* show transaction ids */
#define PROTO_RENDER_TIME 0x04		/* show commit times */
#define PROTO_RENDER_JSON 0x08		/* JSON lines instead of text */
#define PROTO_RENDER_IDS 0x10		/* show relation OIDs, server facts */
#define PROTO_RENDER_ALL (0x01 | 0x02 | 0x04 | 0x10)

/*
 * proto_render_msg_cb - a caller's own lines after a message's line:
 * proto_render_frame calls it with each message it rendered (type + body
 * as proto_read_msg returns them) and the output, to append to it.
 */
typedef void (*proto_render_msg_cb) (void *arg, uint8_t type,
									 proto_rbuf_t body, proto_wbuf_t *out);

typedef struct
{
	int			flags;			/* PROTO_RENDER_* */
	proto_relcat_t cat;			/* owned: relations seen so far */
	proto_render_msg_cb msg_cb; /* NULL (from proto_render_init), or
								 * called after each message's line */
	void	   *msg_arg;		/* msg_cb's first argument */
} proto_render_t;

/*
 * proto_render_init - mem may be NULL for malloc/free.  No msg_cb: set
 * msg_cb and msg_arg afterwards to have one.
 */
void		proto_render_init(proto_render_t *r, const proto_alloc_t *mem,
							  int flags);
void		proto_render_free(proto_render_t *r);

/*
 * proto_render_frame - render every message of frame, one line each
 * (terminated by '\n', then r->msg_cb's lines if any) appended to out.
 * Returns 0 or the first error (msg_cb is not called for a message that
 * failed to render); on error the lines rendered so far stay in out and
 * the error names what was wrong (the offset is out of reach here: the
 * caller knows the frame).
 */
int			proto_render_frame(proto_render_t *r, const uint8_t *frame,
							   size_t len, proto_wbuf_t *out);

/*
 * proto_render_msg - render one message (type + body as returned by
 * proto_read_msg), without the trailing newline.
 */
int			proto_render_msg(proto_render_t *r, uint8_t type,
							 proto_rbuf_t body, proto_wbuf_t *out);

#endif /* TIDE_RENDER_H */
