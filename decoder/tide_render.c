/*
 * decoder/tide_render.c
 *		tide_render(): the text rendering of a stream, as a SQL function,
 *		for the decoder's regression suite.
 *
 * It lives in a module of its own, tide_render.so, built beside tide.so
 * and loaded only by the tests: rendering values as text (proto's value.c
 * and render.c, PostgreSQL's output functions re-implemented) is work for
 * the consumers, and has no place in the plugin every production source
 * server loads.  Nothing installs it.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "wbuf.h"

#include "tide/errors.h"
#include "tide/render.h"
#include "tide/wire.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(tide_render);

/* ---------------------------------------------------------------------
 * tide_render(frames bytea, verbose bool DEFAULT false) RETURNS SETOF text
 *
 * The text rendering of a stream (proto_render_msg), one row per message.
 * frames may hold any number of frames back to back, e.g. string_agg(data,
 * '') over pg_logical_slot_get_binary_changes(): messages are
 * self-delimiting.  Messages are rendered one at a time rather than split
 * out of proto_render_frame()'s lines, since a value may hold a newline.
 * Without verbose the output leaves out LSNs, xids, times and OIDs, so
 * regression tests can compare it.
 * ---------------------------------------------------------------------
 */

static void *
tide_render_alloc(void *arg, size_t n)
{
	return MemoryContextAllocExtended((MemoryContext) arg, n,
									  MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
}

static void
tide_render_free(void *arg, void *p)
{
	if (p != NULL)
		pfree(p);
}

Datum
tide_render(PG_FUNCTION_ARGS)
{
	bytea	   *frames = PG_GETARG_BYTEA_PP(0);
	bool		verbose = PG_GETARG_BOOL(1);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Tuplestorestate *tupstore;
	TupleDesc	tupdesc;
	MemoryContext oldcxt;
	proto_alloc_t mem;
	proto_render_t r;
	proto_rbuf_t in;
	proto_rbuf_t body;
	uint8_t		type = 0;
	StringInfoData line;
	proto_wbuf_t wb;
	int			rc;
	int			nmsgs = 0;
	size_t		msgpos = 0;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	if (!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("materialize mode required, but it is not allowed in this context")));

	oldcxt = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	tupdesc = CreateTemplateTupleDesc(1);
	TupleDescInitEntry(tupdesc, (AttrNumber) 1, "tide_render", TEXTOID, -1, 0);
	tupstore = tuplestore_begin_heap(true, false, work_mem);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = tupstore;
	rsinfo->setDesc = tupdesc;
	MemoryContextSwitchTo(oldcxt);

	mem.alloc = tide_render_alloc;
	mem.free = tide_render_free;
	mem.arg = CurrentMemoryContext;
	proto_render_init(&r, &mem, verbose ? PROTO_RENDER_ALL : 0);
	initStringInfo(&line);
	proto_rbuf_init(&in, VARDATA_ANY(frames), VARSIZE_ANY_EXHDR(frames));

	for (;;)
	{
		Datum		value;
		bool		isnull = false;

		msgpos = in.pos;
		if ((rc = proto_read_msg(&in, &type, &body)) != 0)
			break;
		resetStringInfo(&line);
		tide_wbuf_attach(&wb, &line);
		if ((rc = proto_render_msg(&r, type, body, &wb)) != 0)
			break;
		tide_wbuf_sync(&wb);
		value = PointerGetDatum(cstring_to_text_with_len(line.data, line.len));
		tuplestore_putvalues(tupstore, tupdesc, &value, &isnull);
		pfree(DatumGetPointer(value));
		nmsgs++;
	}
	proto_render_free(&r);

	if (rc != TIDE_EEOF)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("could not render tide message %d at byte %zu: %s",
						nmsgs + 1, msgpos, tide_strerror(rc)),
				 errdetail("Message type is \"%c\" (0x%02x).",
						   (type >= 0x20 && type < 0x7f) ? type : '?', type)));

	return (Datum) 0;
}
