/*
 * decoder/compat.h
 *		Every PostgreSQL version difference the tide output plugin cares about.
 *
 * tide targets PostgreSQL 15 and also builds against 14, 16 and 17.  All
 * PG_VERSION_NUM tests live here so that tide.c reads as plain PostgreSQL
 * code for one version (see STYLE.md: wal2json's guards sprinkled through
 * the plugin are the example not to follow).
 */
#ifndef TIDE_COMPAT_H
#define TIDE_COMPAT_H

#include "postgres.h"

#include "access/xlog.h"
#include "replication/logical.h"
#include "replication/output_plugin.h"
#include "replication/reorderbuffer.h"

#if PG_VERSION_NUM < 140000
#error "tide requires PostgreSQL 14 or later"
#endif

#if PG_VERSION_NUM >= 160000
#include "access/xlogrecovery.h"
#endif

/*
 * TideTxnCommitTime - commit timestamp of a decoded transaction.  PostgreSQL
 * 15 turned the field into a union shared with the prepare time.
 */
#if PG_VERSION_NUM >= 150000
#define TideTxnCommitTime(txn) ((txn)->xact_time.commit_time)
#else
#define TideTxnCommitTime(txn) ((txn)->commit_time)
#endif

/*
 * TideChangeTuple - the HeapTuple inside change->data.tp.newtuple/oldtuple
 * (NULL when absent).  PostgreSQL 17 dropped ReorderBufferTupleBuf and
 * stores a HeapTuple directly.
 */
#if PG_VERSION_NUM >= 170000
#define TideChangeTuple(tb) (tb)
#else
#define TideChangeTuple(tb) ((tb) != NULL ? &(tb)->tuple : (HeapTuple) NULL)
#endif

/*
 * TideUpdateProgress - OutputPluginUpdateProgress() grew its skipped_xact
 * argument in PostgreSQL 15 (empty transactions skipped under synchronous
 * replication get a keepalive).
 */
#if PG_VERSION_NUM >= 150000
#define TideUpdateProgress(ctx, skipped) OutputPluginUpdateProgress((ctx), (skipped))
#else
#define TideUpdateProgress(ctx, skipped) OutputPluginUpdateProgress((ctx))
#endif

/*
 * TIDE_PLUGIN_REPORTS_PROGRESS - before PostgreSQL 16 the reorder buffer
 * does not report progress while it replays a large transaction; an output
 * plugin that filters every change of it must call OutputPluginUpdateProgress
 * now and then itself (as pgoutput does), or the walsender times out.
 * PostgreSQL 16 moved that into the reorder buffer (update_progress_txn).
 */
#if PG_VERSION_NUM < 160000
#define TIDE_PLUGIN_REPORTS_PROGRESS 1
#else
#define TIDE_PLUGIN_REPORTS_PROGRESS 0
#endif

/*
 * TideCurrentTimeLine - the timeline the decoded WAL belongs to, for the
 * STARTUP message.  Logical decoding runs on a primary in PostgreSQL 14 and
 * 15, where the insertion timeline is the answer.  PostgreSQL 16 can decode
 * on a standby: there it is the replay timeline.  PostgreSQL 14 still has the
 * ThisTimeLineID global, valid once RecoveryInProgress() has returned false.
 */
static inline TimeLineID
TideCurrentTimeLine(void)
{
#if PG_VERSION_NUM >= 160000
	if (RecoveryInProgress())
	{
		TimeLineID	tli;

		(void) GetXLogReplayRecPtr(&tli);
		return tli;
	}
	return GetWALInsertionTimeLine();
#elif PG_VERSION_NUM >= 150000
	return GetWALInsertionTimeLine();
#else
	(void) RecoveryInProgress();
	return ThisTimeLineID;
#endif
}

/*
 * TIDE_BIG_ENDIAN - set on big-endian hosts.  The wire format is
 * little-endian; by-value types are written field by field (portable), but
 * types shipped as their in-memory bytes (interval, timetz: several fields;
 * jsonb: a container full of native uint32s) only have the wire layout on a
 * little-endian host.  On a big-endian one tide ships those through their
 * send functions instead (PROTO_ENC_BINARY); see tide_column_encoding().
 */
#ifdef WORDS_BIGENDIAN
#define TIDE_BIG_ENDIAN 1
#else
#define TIDE_BIG_ENDIAN 0
#endif

#endif							/* TIDE_COMPAT_H */
