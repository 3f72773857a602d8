/*-------------------------------------------------------------------------
 *
 * decoder/tide.c
 *		The tide logical decoding output plugin: committed changes as the
 *		compact binary wire messages of proto/include/tide/wire.h.
 *
 * tide runs inside the production server, so it converts as little as it
 * can (values ship in their stored form where that form is stable, see
 * proto/FORMAT.md "Value encodings"), it does every per-relation decision
 * once per relation rather than once per change, and it batches the
 * messages of a transaction into frames so that the walsender makes one
 * write per frame rather than one per message.
 *
 * Stream of one decoding session (one START_REPLICATION or one call of
 * pg_logical_slot_get_binary_changes):
 *
 *		STARTUP                 once, before anything else
 *		BEGIN [ORIGIN]          before the first change a transaction emits
 *		RELATION                before the first row of a relation, and
 *		                        again after its description changed
 *		INSERT/UPDATE/DELETE/TRUNCATE/MESSAGE ...
 *		COMMIT                  with the number of changes emitted
 *
 * Transactions that emit nothing (every change filtered, DDL only) produce
 * no bytes at all.  Non-transactional logical messages are frames of their
 * own.
 *
 * With the option streaming (wire version 2), PostgreSQL hands over a
 * transaction that outgrows logical_decoding_work_mem while it is still in
 * progress, in chunks, instead of spilling it to disk here:
 *
 *		STREAM START            before the first message of a chunk
 *		SUBXACT                 when the (sub)transaction of the changes
 *		                        changes, before its first change
 *		RELATION                before the first row of a relation in the
 *		                        chunk, and again after it changed
 *		INSERT/UPDATE/DELETE/TRUNCATE/MESSAGE ...
 *		STREAM STOP
 *		... other transactions and chunks ...
 *		STREAM ABORT            a subtransaction, or the whole, rolled back
 *		STREAM COMMIT           commit LSN, time, origin and change count
 *
 * The client keeps the chunks until STREAM COMMIT (proto/FORMAT.md,
 * "Streamed transactions").
 *
 * Memory: one private context, reset after every callback; a relation cache
 * in its own context that lives as long as the decoding context; each
 * published relation owns a small context that is reset when the relation
 * is described again.  Nothing grows with the size of a transaction; a
 * streamed transaction in progress costs a few bytes for each of its
 * subtransactions that sent a change (their counts, see TideStreamTxn).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>

#include "access/detoast.h"
#include "access/htup_details.h"
#include "access/transam.h"
#include "access/tupdesc.h"
#include "access/xact.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "replication/logical.h"
#include "replication/origin.h"
#include "replication/output_plugin.h"
#include "replication/slot.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include "compat.h"
#include "wbuf.h"

#include "utils/jsonb.h"

#include "tide/errors.h"
#include "tide/relcat.h"
#include "tide/tablematch.h"
#include "tide/value.h"
#include "tide/wire.h"

PG_MODULE_MAGIC;

/* Defaults and limits of the options. */
#define TIDE_DEFAULT_FRAME_SIZE 65536
/* a client that names no version gets version 1, which every reader knows */
#define TIDE_DEFAULT_FORMAT_VERSION 1
#define TIDE_MAX_FRAME_SIZE (64 * 1024 * 1024)

/*
 * The search_path under which output functions print values that name
 * database objects (tide_fill_tuple): pg_catalog first, then the session's
 * temporary schema, so that whatever a session has in its temporary schema
 * cannot shadow a pg_catalog name.  PostgreSQL 17 runs maintenance commands
 * under the same path (GUC_SAFE_SEARCH_PATH).
 */
#define TIDE_SAFE_SEARCH_PATH "pg_catalog, pg_temp"

/* ctx->out larger than this (and than 4 frames) is shrunk after a write */
#define TIDE_OUT_KEEP (1024 * 1024)

/*
 * Changes between two progress reports to the walsender (PostgreSQL < 16,
 * see compat.h); pgoutput uses the same number.
 */
#define TIDE_PROGRESS_INTERVAL 100

/*
 * Relation cache invalidations seen before the next commit sweeps invalid
 * entries (of dropped tables, mostly) out of the cache.
 */
#define TIDE_SWEEP_THRESHOLD 1024

/* A table's schema and name (of a partition's ancestors, for the filters). */
typedef struct TideTableName
{
	char	   *nsp;
	char	   *rel;
} TideTableName;

/* How a FIXED value is taken from its Datum. */
typedef enum TideFixedKind
{
	TIDE_FIXED_BYVAL,			/* integer in the Datum itself */
	TIDE_FIXED_INT64_REF,		/* int64/float8 by reference (32-bit hosts) */
	TIDE_FIXED_RAW				/* bytes as stored (uuid, macaddr, interval...) */
} TideFixedKind;

/* Per-column state of a published relation, built once per description. */
typedef struct TideColumn
{
	int			attidx;			/* index into the tuple descriptor */
	int16		typlen;			/* of the base type */
	char		encoding;		/* PROTO_ENC_* */
	uint8		width;			/* PROTO_ENC_FIXED: bytes on the wire */
	TideFixedKind fixed_kind;	/* PROTO_ENC_FIXED: how to take the value */
	bool		is_bool;		/* normalise to 0/1 */
	bool		names_objects;	/* TEXT whose output may name objects */
	int			fixed_off;		/* PROTO_ENC_FIXED: offset in the scratch */
	FmgrInfo	func;			/* send (BINARY) or output (TEXT) function */
} TideColumn;

/*
 * TideRelation - relation cache entry, one per relation OID seen in the
 * session.  The description and the filter verdict are built once and kept
 * until an invalidation clears `valid`: of the relation or an ancestor
 * (relcache), of any schema, or of a type its columns use (syscache).
 */
typedef struct TideRelation
{
	Oid			relid;			/* hash key: must be first */
	bool		valid;			/* verdict and description are current */
	bool		publish;		/* verdict of include-/exclude-tables */
	bool		schema_sent;	/* relmsg went out in this session, outside
								 * streamed chunks */
	uint64		stream_chunk;	/* relmsg went out in this streamed chunk
								 * (TideData.chunk_seq); 0: in none */
	Oid		   *ancestors;		/* of a partition, parent first; owned, in
								 * cachectx; NULL if none */
	int			nancestors;
	int			tupdesc_natts;	/* natts of the descriptor described */
	MemoryContext context;		/* owns every pointer below but relmsg */
	uint32	   *typehashes;		/* TYPEOID hash values of the types the
								 * description names or encodes by */
	int			ntypehashes;	/* -1 while described: any type counts */
	proto_relation_t desc;		/* what RELATION says; desc.cols owned */
	TideColumn *cols;			/* desc.natts entries */
	Datum	   *values;			/* heap_deform_tuple scratch, tupdesc_natts */
	bool	   *isnull;
	proto_datum_t *newvals;		/* wire values of one row, desc.natts */
	proto_datum_t *oldvals;
	uint8	   *newfixed;		/* bytes of FIXED values, fixed_bytes each */
	uint8	   *oldfixed;
	uint8	   *relmsg;			/* the RELATION message; owned, in cachectx */
	Size		relmsg_len;
} TideRelation;

/* Changes a subtransaction of a streamed transaction sent. */
typedef struct TideSubxactCount
{
	TransactionId xid;
	uint64		nchanges;
} TideSubxactCount;

/*
 * TideStreamTxn - a streamed transaction in progress, from the first chunk
 * that sent something until its STREAM COMMIT or ABORT.  Its count leaves
 * out what rolled-back subtransactions sent, as the client cuts them away,
 * so STREAM COMMIT can tell the client how many changes it must hold.
 */
typedef struct TideStreamTxn
{
	TransactionId xid;			/* hash key: the top-level xid */
	uint64		nchanges;		/* I/U/D/T/M sent and not rolled back */
	uint64		top_nchanges;	/* of these, by the top level itself */
	TideSubxactCount *subs;		/* owned, in streamctx: sorted by distance
								 * from xid (assignment order) */
	int			nsubs;
	int			maxsubs;
} TideStreamTxn;

/* TideData - the plugin's state for one decoding context. */
typedef struct TideData
{
	MemoryContext context;		/* per callback; reset at its end */
	MemoryContext cachectx;		/* the relation cache and its entries */
	HTAB	   *relcache;		/* of TideRelation, in cachectx */

	/* options */
	int			format_version;
	List	   *include_tables;	/* of char *: schema.table patterns */
	List	   *exclude_tables;
	List	   *include_prefixes;	/* of char * */
	List	   *exclude_prefixes;
	bool		only_local;
	int			frame_size;
	bool		values_text;
	bool		streaming;		/* stream in-progress transactions */
	bool		partition_bounds;	/* RELATIONs of partitions carry their
									 * parent, bound and partition key */

	/* session */
	bool		startup_sent;

	/* the transaction being replayed */
	bool		txn_begun;		/* BEGIN written */
	uint64		nchanges;		/* I/U/D/T/M written since BEGIN */

	/* streamed transactions (option streaming) */
	MemoryContext streamctx;	/* stream_txns and their arrays */
	HTAB	   *stream_txns;	/* of TideStreamTxn, those that sent a chunk */
	ReorderBufferTXN *chunk_txn;	/* between stream_start and stream_stop */
	TideStreamTxn *chunk_stxn;	/* its entry, once the chunk sent something */
	TransactionId chunk_xid;	/* (sub)xid of the changes being sent */
	uint64		chunk_seq;		/* bumps per chunk */

	/* the frame being filled in ctx->out */
	bool		frame_open;		/* OutputPluginPrepareWrite called */
	size_t		frame_start;	/* ctx->out->len after the prepare */
	proto_wbuf_t wbuf;			/* writes into ctx->out */
	StringInfoData stash;		/* frame body carried over at commit */

	int			changes_since_progress; /* see tide_report_progress */
} TideData;

/*
 * The relation cache of the decoding session running in this backend (a
 * backend decodes one slot at a time).  It lives in TideData.cachectx; a
 * reset callback on that context clears the pointer, so the invalidation
 * callbacks, registered once per backend and never removed (PostgreSQL
 * cannot unregister them, and a backend has room for few), never see a
 * freed cache, whether the session ended with shutdown or with an ERROR.
 */
static HTAB *TideRelationCache = NULL;
static bool TideCallbacksRegistered = false;
static bool TideCacheHasPartitions = false;
static int	TideInvalidations = 0;

/* plugin callbacks */
static void tide_startup(LogicalDecodingContext *ctx,
						 OutputPluginOptions *opt, bool is_init);
static void tide_shutdown(LogicalDecodingContext *ctx);
static void tide_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn);
static void tide_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
						XLogRecPtr commit_lsn);
static void tide_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
						Relation relation, ReorderBufferChange *change);
static void tide_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
						  int nrelations, Relation relations[],
						  ReorderBufferChange *change);
static void tide_message(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
						 XLogRecPtr message_lsn, bool transactional,
						 const char *prefix, Size message_size,
						 const char *message);
static bool tide_filter_by_origin(LogicalDecodingContext *ctx,
								  RepOriginId origin_id);
static void tide_stream_start(LogicalDecodingContext *ctx,
							  ReorderBufferTXN *txn);
static void tide_stream_stop(LogicalDecodingContext *ctx,
							 ReorderBufferTXN *txn);
static void tide_stream_abort(LogicalDecodingContext *ctx,
							  ReorderBufferTXN *txn, XLogRecPtr abort_lsn);
static void tide_stream_commit(LogicalDecodingContext *ctx,
							   ReorderBufferTXN *txn, XLogRecPtr commit_lsn);
static void tide_stream_change(LogicalDecodingContext *ctx,
							   ReorderBufferTXN *txn, Relation relation,
							   ReorderBufferChange *change);
static void tide_stream_truncate(LogicalDecodingContext *ctx,
								 ReorderBufferTXN *txn, int nrelations,
								 Relation relations[],
								 ReorderBufferChange *change);
static void tide_stream_message(LogicalDecodingContext *ctx,
								ReorderBufferTXN *txn, XLogRecPtr message_lsn,
								bool transactional, const char *prefix,
								Size message_size, const char *message);

void		_PG_output_plugin_init(OutputPluginCallbacks *cb);

/* ---------------------------------------------------------------------
 * Options
 * ---------------------------------------------------------------------
 */

static const char *
tide_option_value(DefElem *elem)
{
	if (elem->arg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tide option \"%s\" requires a value",
						elem->defname)));
	return strVal(elem->arg);
}

/*
 * tide_parse_int - a decimal integer and nothing else (no blanks, no
 * trailing garbage); *ok false when it is not one or overflows int.
 */
static int
tide_parse_int(const char *s, bool *ok)
{
	const char *p = s;
	char	   *end;
	long		v;

	*ok = false;
	if (*p == '-' || *p == '+')
		p++;
	if (!isdigit((unsigned char) *p))
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < INT_MIN || v > INT_MAX)
		return 0;
	*ok = true;
	return (int) v;
}

static bool
tide_is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
		c == '\v';
}

/*
 * tide_split_list - the comma-separated items of an option's value,
 * trimmed of surrounding blanks.  An empty item is an error: a stray comma
 * more likely hides a typo than means anything.
 */
static List *
tide_split_list(DefElem *elem)
{
	char	   *copy = pstrdup(tide_option_value(elem));
	List	   *items = NIL;
	char	   *p = copy;

	for (;;)
	{
		char	   *comma = strchr(p, ',');
		char	   *end;

		if (comma != NULL)
			*comma = '\0';
		while (tide_is_blank(*p))
			p++;
		end = p + strlen(p);
		while (end > p && tide_is_blank(end[-1]))
			*--end = '\0';
		if (*p == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("empty item in tide option \"%s\"", elem->defname),
					 errdetail("The value is a comma-separated list: \"%s\".",
							   tide_option_value(elem))));
		items = lappend(items, p);
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return items;
}

static List *
tide_parse_table_patterns(DefElem *elem)
{
	List	   *patterns = NIL;
	ListCell   *lc;

	foreach(lc, tide_split_list(elem))
	{
		char	   *item = lfirst(lc);

		if (!proto_table_pattern_valid(item))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid table pattern \"%s\" in tide option \"%s\"",
							item, elem->defname),
					 errdetail("A table pattern has the form schema.table, where \"*\" in either part matches any characters."),
					 errhint("Use \"public.*\" for every table of schema public, \"*.name\" for tables called name in any schema.")));
		patterns = lappend(patterns, item);
	}
	return patterns;
}

static bool
tide_parse_bool_option(DefElem *elem)
{
	bool		result;

	/* a bare option name (walsender syntax) means true */
	if (elem->arg == NULL)
		return true;
	if (!parse_bool(strVal(elem->arg), &result))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value \"%s\" for tide option \"%s\"",
						strVal(elem->arg), elem->defname),
				 errdetail("Valid values are true, false, on, off, yes, no, 1 and 0.")));
	return result;
}

/*
 * tide_parse_options - fill data from the plugin options.  Unknown and
 * repeated options are errors, and so is any value out of range: a typo in
 * a replication setup should stop it, not be ignored.
 */
static void
tide_parse_options(TideData *data, List *options)
{
	static const char *const names[] = {
		"format-version", "include-tables", "exclude-tables",
		"include-message-prefixes", "exclude-message-prefixes",
		"only-local", "frame-size", "values", "streaming",
		"partition-bounds"
	};
	bool		seen[lengthof(names)] = {false};
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *elem = lfirst(lc);
		int			which = -1;

		Assert(elem->arg == NULL || IsA(elem->arg, String));

		for (int i = 0; i < (int) lengthof(names); i++)
		{
			if (strcmp(elem->defname, names[i]) == 0)
				which = i;
		}
		if (which < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unrecognized tide option \"%s\"", elem->defname),
					 errhint("Valid options are format-version, include-tables, exclude-tables, include-message-prefixes, exclude-message-prefixes, only-local, frame-size, values, streaming and partition-bounds.")));
		if (seen[which])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("tide option \"%s\" specified more than once",
							elem->defname)));
		seen[which] = true;

		switch (which)
		{
			case 0:				/* format-version */
				{
					const char *s = tide_option_value(elem);
					bool		ok;
					int			v = tide_parse_int(s, &ok);

					if (!ok)
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("invalid value \"%s\" for tide option \"%s\"",
										s, elem->defname),
								 errdetail("The format version is an integer from %d to %d.",
										   PROTO_FORMAT_VERSION_MIN,
										   PROTO_FORMAT_VERSION)));
					if (v < PROTO_FORMAT_VERSION_MIN || v > PROTO_FORMAT_VERSION)
						ereport(ERROR,
								(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
								 errmsg("client requested format version %d, but tide supports %d to %d",
										v, PROTO_FORMAT_VERSION_MIN,
										PROTO_FORMAT_VERSION),
								 errhint("Upgrade the tide client or the tide plugin on the server so that both speak a common format version.")));
					data->format_version = v;
					break;
				}
			case 1:				/* include-tables */
				data->include_tables = tide_parse_table_patterns(elem);
				break;
			case 2:				/* exclude-tables */
				data->exclude_tables = tide_parse_table_patterns(elem);
				break;
			case 3:				/* include-message-prefixes */
				data->include_prefixes = tide_split_list(elem);
				break;
			case 4:				/* exclude-message-prefixes */
				data->exclude_prefixes = tide_split_list(elem);
				break;
			case 5:				/* only-local */
				data->only_local = tide_parse_bool_option(elem);
				break;
			case 6:				/* frame-size */
				{
					const char *s = tide_option_value(elem);
					bool		ok;
					int			v = tide_parse_int(s, &ok);

					if (!ok || v < 0 || v > TIDE_MAX_FRAME_SIZE)
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("invalid value \"%s\" for tide option \"%s\"",
										s, elem->defname),
								 errdetail("Valid values are integers from 0 (one message per write) to %d bytes.",
										   TIDE_MAX_FRAME_SIZE)));
					data->frame_size = v;
					break;
				}
			case 7:				/* values */
				{
					const char *s = tide_option_value(elem);

					if (strcmp(s, "native") == 0)
						data->values_text = false;
					else if (strcmp(s, "text") == 0)
						data->values_text = true;
					else
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("invalid value \"%s\" for tide option \"%s\"",
										s, elem->defname),
								 errdetail("Valid values are \"native\" and \"text\".")));
					break;
				}
			case 8:				/* streaming */
				data->streaming = tide_parse_bool_option(elem);
				break;
			case 9:				/* partition-bounds */
				data->partition_bounds = tide_parse_bool_option(elem);
				break;
		}
	}

	/*
	 * The stream messages are version 2's, and a version-1 reader must never
	 * be handed them (it would skip what it does not know): streaming
	 * selects version 2 unless the client named an older one, which is an
	 * error.
	 */
	if (data->streaming)
	{
		if (!seen[0])
			data->format_version = PROTO_STREAM_VERSION;
		else if (data->format_version < PROTO_STREAM_VERSION)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("tide option \"streaming\" requires format version %d or later, but the client requested %d",
							PROTO_STREAM_VERSION, data->format_version),
					 errhint("Request format-version %d, or leave streaming off.",
							 PROTO_STREAM_VERSION)));
	}
}

/* ---------------------------------------------------------------------
 * Filters
 * ---------------------------------------------------------------------
 */

/* tide_patterns_match - does one of the patterns (tablematch.h) select nsp.rel? */
static bool
tide_patterns_match(List *patterns, const char *nsp, const char *rel)
{
	ListCell   *lc;

	foreach(lc, patterns)
	{
		if (proto_table_match(lfirst(lc), nsp, rel))
			return true;
	}
	return false;
}

/*
 * tide_table_published - the verdict of include-tables/exclude-tables for
 * a relation.  A partition is also judged by each of its ancestors
 * (ancestors: a List of TideTableName holding their names), so that
 * naming a partitioned table selects, or excludes, all of its partitions.
 * Exclude wins; no include list means every table.
 */
static bool
tide_table_published(TideData *data, const char *nsp, const char *rel,
					 List *ancestors)
{
	ListCell   *lc;
	bool		included;

	if (tide_patterns_match(data->exclude_tables, nsp, rel))
		return false;
	foreach(lc, ancestors)
	{
		TideTableName *a = lfirst(lc);

		if (tide_patterns_match(data->exclude_tables, a->nsp, a->rel))
			return false;
	}
	if (data->include_tables == NIL)
		return true;
	included = tide_patterns_match(data->include_tables, nsp, rel);
	foreach(lc, ancestors)
	{
		TideTableName *a = lfirst(lc);

		if (!included)
			included = tide_patterns_match(data->include_tables, a->nsp, a->rel);
	}
	return included;
}

/* tide_message_published - prefixes match exactly; exclude wins. */
static bool
tide_message_published(TideData *data, const char *prefix)
{
	ListCell   *lc;

	foreach(lc, data->exclude_prefixes)
	{
		if (strcmp(prefix, (const char *) lfirst(lc)) == 0)
			return false;
	}
	if (data->include_prefixes == NIL)
		return true;
	foreach(lc, data->include_prefixes)
	{
		if (strcmp(prefix, (const char *) lfirst(lc)) == 0)
			return true;
	}
	return false;
}

/* ---------------------------------------------------------------------
 * Relation cache
 * ---------------------------------------------------------------------
 */

/*
 * tide_relcache_callback - mark entries stale; never frees anything, since
 * it can run in the middle of building or using an entry.  InvalidOid
 * means every relation.  An invalidated partitioned table also makes its
 * partitions stale: their descriptions carry the root's name and their
 * verdicts depend on their ancestors' names.
 */
static void
tide_relcache_callback(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	TideRelation *entry;

	if (TideRelationCache == NULL)
		return;
	TideInvalidations++;
	if (OidIsValid(relid))
	{
		entry = hash_search(TideRelationCache, &relid, HASH_FIND, NULL);
		if (entry != NULL)
			entry->valid = false;
		if (!TideCacheHasPartitions)
			return;
	}
	hash_seq_init(&status, TideRelationCache);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (!OidIsValid(relid))
			entry->valid = false;
		for (int i = 0; i < entry->nancestors; i++)
		{
			if (entry->ancestors[i] == relid)
				entry->valid = false;
		}
	}
}

/*
 * tide_namespace_callback - a schema changed.  ALTER SCHEMA ... RENAME
 * invalidates no relation, yet every description and verdict may hold a
 * schema's name (the relation's, its partition root's, its column types'),
 * so every entry goes stale, as pgoutput does for its cache.  Schemas
 * change seldom.  Never frees, like tide_relcache_callback.
 */
static void
tide_namespace_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	tide_relcache_callback(arg, InvalidOid);
}

/*
 * tide_type_callback - a type changed: ALTER TYPE / ALTER DOMAIN ...
 * RENAME or SET SCHEMA, a table's row type renamed with its table.  Only
 * the entries whose descriptions use the type go stale: pg_type also
 * changes with every CREATE and DROP TABLE, which must not make a session
 * describe all its relations again.  A hash value of 0 means every type;
 * an entry being described (ntypehashes -1) does not know its types yet
 * and goes stale on any.  Never frees.
 */
static void
tide_type_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS status;
	TideRelation *entry;

	if (TideRelationCache == NULL)
		return;
	hash_seq_init(&status, TideRelationCache);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		bool		stale = hashvalue == 0 || entry->ntypehashes < 0;

		for (int i = 0; !stale && i < entry->ntypehashes; i++)
			stale = entry->typehashes[i] == hashvalue;
		if (stale && entry->valid)
		{
			entry->valid = false;
			TideInvalidations++;
		}
	}
}

/*
 * tide_relation_cache_gone - reset callback of the relation cache's
 * context.  arg is the cache that goes away: a newer session's cache is
 * left alone (a walsender may free an errored session's memory late).
 */
static void
tide_relation_cache_gone(void *arg)
{
	if (TideRelationCache != (HTAB *) arg)
		return;
	TideRelationCache = NULL;
	TideCacheHasPartitions = false;
	TideInvalidations = 0;
}

static void
tide_init_relation_cache(TideData *data, MemoryContext parent)
{
	HASHCTL		ctl;
	MemoryContextCallback *cb;

	data->cachectx = AllocSetContextCreate(parent, "tide relation cache",
										   ALLOCSET_DEFAULT_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(TideRelation);
	ctl.hcxt = data->cachectx;
	data->relcache = hash_create("tide relation cache", 128, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	TideRelationCache = data->relcache;
	TideCacheHasPartitions = false;
	TideInvalidations = 0;

	cb = MemoryContextAlloc(data->cachectx, sizeof(MemoryContextCallback));
	cb->func = tide_relation_cache_gone;
	cb->arg = data->relcache;
	MemoryContextRegisterResetCallback(data->cachectx, cb);

	/*
	 * Invariants 1 and 2: a stale verdict drops committed rows, a stale
	 * description sends them under names the relation no longer has.
	 */
	if (!TideCallbacksRegistered)
	{
		CacheRegisterRelcacheCallback(tide_relcache_callback, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, tide_namespace_callback,
									  (Datum) 0);
		CacheRegisterSyscacheCallback(TYPEOID, tide_type_callback, (Datum) 0);
		TideCallbacksRegistered = true;
	}
}

/*
 * tide_sweep_relation_cache - drop invalid entries (mostly of dropped
 * tables) so that a long session over a schema that keeps creating and
 * dropping tables does not grow.  Called between transactions only, when
 * no entry is in use.
 */
static void
tide_sweep_relation_cache(TideData *data)
{
	HASH_SEQ_STATUS status;
	TideRelation *entry;

	hash_seq_init(&status, data->relcache);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (entry->valid)
			continue;
		if (entry->context != NULL)
			MemoryContextDelete(entry->context);
		if (entry->relmsg != NULL)
			pfree(entry->relmsg);
		if (entry->ancestors != NULL)
			pfree(entry->ancestors);
		/* removing the element just returned is allowed during a scan */
		hash_search(data->relcache, &entry->relid, HASH_REMOVE, NULL);
	}
	TideInvalidations = 0;
}

/*
 * tide_partition_sql - a partition's bound (pg_get_expr of relpartbound:
 * "FOR VALUES ...", "DEFAULT") and its parent's partition key
 * (pg_get_partkeydef: "RANGE (ts)"), for a consumer that creates the
 * partition (tide apply --schema follow).  Printed in a GUC nest level of
 * their own under TIDE_SAFE_SEARCH_PATH (names outside pg_catalog come out
 * qualified) with the settings that fix a constant's text form (DateStyle
 * ISO prints timestamptz with its offset), as pg_dump does; the decoding
 * session's own settings are left as they were.
 */
static void
tide_partition_sql(Oid relid, Oid parent, char **bound, char **partkey)
{
	int			save_nestlevel = NewGUCNestLevel();
	HeapTuple	tup;
	Datum		d;
	bool		isnull;

	(void) set_config_option("search_path", TIDE_SAFE_SEARCH_PATH,
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("datestyle", "ISO",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("intervalstyle", "postgres",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("extra_float_digits", "3",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	d = SysCacheGetAttr(RELOID, tup, Anum_pg_class_relpartbound, &isnull);
	if (isnull)
		elog(ERROR, "relation %u is a partition without a bound", relid);
	*bound = TextDatumGetCString(DirectFunctionCall2(pg_get_expr, d,
													 ObjectIdGetDatum(relid)));
	ReleaseSysCache(tup);
	*partkey = TextDatumGetCString(DirectFunctionCall1(pg_get_partkeydef,
													   ObjectIdGetDatum(parent)));
	AtEOXact_GUC(true, save_nestlevel);
}

/*
 * tide_type_name - format_type() of a column's type with its typmod.  Types
 * outside pg_catalog (or arrays of them) are always schema-qualified, so
 * the name does not depend on the search_path of whoever decodes.
 */
static char *
tide_type_name(Oid typoid, int32 typmod)
{
	Oid			nameoid = get_element_type(typoid);
	HeapTuple	tup;
	Oid			nsp;
	bits16		flags = FORMAT_TYPE_TYPEMOD_GIVEN;

	if (!OidIsValid(nameoid))
		nameoid = typoid;
	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(nameoid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for type %u", nameoid);
	nsp = ((Form_pg_type) GETSTRUCT(tup))->typnamespace;
	ReleaseSysCache(tup);
	if (nsp != PG_CATALOG_NAMESPACE)
		flags |= FORMAT_TYPE_FORCE_QUALIFY;
	return format_type_extended(typoid, typmod, flags);
}

/*
 * tide_type_names_objects - may a value of this type refer to database
 * objects?  The reg* types do: their send form is the bare OID, which
 * names an unrelated object (or none) on another server, and their text
 * form is a name that depends on the search_path.  So do arrays, domains,
 * ranges and multiranges over them, and, conservatively, every composite
 * type (record_out prints each member with its own output function, and
 * members can be added later by ALTER TYPE without any invalidation of the
 * tables using the type) and pseudo-type (anyarray columns of CREATE TABLE
 * AS over pg_statistic carry element type OIDs of any kind).  Such values
 * travel as text printed under TIDE_SAFE_SEARCH_PATH (tide_fill_tuple).
 *
 * A user-defined base type's output function might call a reg* output
 * function too; none of the common extensions' types do, and that is not
 * assumed here.
 */
static bool
tide_type_names_objects(Oid typoid)
{
	HeapTuple	tup;
	Form_pg_type typ;
	bool		result;

	check_stack_depth();
	switch (typoid)
	{
		case REGCLASSOID:
		case REGTYPEOID:
		case REGPROCOID:
		case REGPROCEDUREOID:
		case REGOPEROID:
		case REGOPERATOROID:
		case REGCONFIGOID:
		case REGDICTIONARYOID:
		case REGNAMESPACEOID:
		case REGROLEOID:
		case REGCOLLATIONOID:
			return true;
		default:
			break;
	}

	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typoid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for type %u", typoid);
	typ = (Form_pg_type) GETSTRUCT(tup);
	switch (typ->typtype)
	{
		case TYPTYPE_COMPOSITE:
		case TYPTYPE_PSEUDO:
			result = true;
			break;
		case TYPTYPE_DOMAIN:
			result = tide_type_names_objects(typ->typbasetype);
			break;
		case TYPTYPE_RANGE:
			result = tide_type_names_objects(get_range_subtype(typoid));
			break;
		case TYPTYPE_MULTIRANGE:
			result = tide_type_names_objects(get_multirange_range(typoid));
			break;
		default:
			/* base types and enums; a true array is judged by its element */
			result = IsTrueArrayType(typ) &&
				tide_type_names_objects(typ->typelem);
			break;
	}
	ReleaseSysCache(tup);
	return result;
}

/*
 * tide_column_encoding - choose how a column's values travel (FORMAT.md,
 * "Value encodings"), by its base type.  Fills pcol->encoding/width and
 * col's fields; the send or output function is looked up in mcxt.
 */
static void
tide_column_encoding(TideData *data, Oid basetypoid, proto_column_t *pcol,
					 TideColumn *col, MemoryContext mcxt)
{
	HeapTuple	tup;
	Form_pg_type typ;
	Oid			sendfn;
	Oid			outfn;
	int			width;

	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(basetypoid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for type %u", basetypoid);
	typ = (Form_pg_type) GETSTRUCT(tup);
	col->typlen = typ->typlen;
	sendfn = typ->typsend;
	outfn = typ->typoutput;
	width = proto_fixed_width(basetypoid);

	pcol->width = 0;
	col->width = 0;
	col->is_bool = (basetypoid == BOOLOID);
	col->names_objects = tide_type_names_objects(basetypoid);

	if (data->values_text)
		pcol->encoding = PROTO_ENC_TEXT;
	else if (width > 0 && width == typ->typlen &&
			 !(TIDE_BIG_ENDIAN &&
			   (basetypoid == INTERVALOID || basetypoid == TIMETZOID)))
	{
		pcol->encoding = PROTO_ENC_FIXED;
		pcol->width = (uint8) width;
		col->width = (uint8) width;
		if (typ->typbyval)
			col->fixed_kind = TIDE_FIXED_BYVAL;
		else if (basetypoid == INTERVALOID || basetypoid == TIMETZOID ||
				 basetypoid == UUIDOID || basetypoid == MACADDROID ||
				 basetypoid == MACADDR8OID)
			col->fixed_kind = TIDE_FIXED_RAW;
		else
			col->fixed_kind = TIDE_FIXED_INT64_REF; /* int8, float8, ... */
	}
	else
	{
		switch (basetypoid)
		{
			case TEXTOID:
			case VARCHAROID:
			case BPCHAROID:
			case BYTEAOID:
			case JSONOID:
			case XMLOID:
			case NAMEOID:
				pcol->encoding = PROTO_ENC_BYTES;
				break;
			case JSONBOID:
				pcol->encoding = TIDE_BIG_ENDIAN ? PROTO_ENC_BINARY : PROTO_ENC_JSONB;
				break;
			default:

				/*
				 * A send format is portable when it holds no server-local
				 * OID: built-in types (OIDs below FirstGenbkiObjectId are
				 * fixed by the catalog sources, the same on every server)
				 * that refer to no object.  Arrays embed their element's
				 * type OID, built-in here too.
				 */
				if (basetypoid < FirstGenbkiObjectId && OidIsValid(sendfn) &&
					!col->names_objects)
					pcol->encoding = PROTO_ENC_BINARY;
				else
					pcol->encoding = PROTO_ENC_TEXT;
				break;
		}
	}
	ReleaseSysCache(tup);

	col->encoding = pcol->encoding;
	if (col->encoding == PROTO_ENC_BINARY)
		fmgr_info_cxt(sendfn, &col->func, mcxt);
	else if (col->encoding == PROTO_ENC_TEXT)
		fmgr_info_cxt(outfn, &col->func, mcxt);
}

static proto_str_t
tide_str(const char *s)
{
	proto_str_t r;

	r.p = s;
	r.n = strlen(s);
	return r;
}

/*
 * tide_build_relation - (re)describe a relation and judge it against the
 * table filters.  Called with the Relation the reorder buffer hands us,
 * which reflects the catalog as of the change being decoded.
 *
 * The description is serialized here, once; the serialized RELATION is
 * what tide_send_relation copies into the stream.  When a relcache
 * invalidation did not change the description (ANALYZE, an unrelated
 * index, ...), the message compares equal to the one already sent and is
 * not sent again.
 */
static void
tide_build_relation(TideData *data, TideRelation *entry, Relation rel)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	Oid			relid = RelationGetRelid(rel);
	char	   *nspname;
	char	   *relname;
	char	   *rootnsp = NULL;
	char	   *rootrel = NULL;
	Oid			root = InvalidOid;
	List	   *ancestor_names = NIL;
	Bitmapset  *keyattrs = NULL;
	bool		all_key;
	int			natts;
	int			fixed_bytes;
	uint32	   *typehashes;
	int			ntypehashes;
	MemoryContext oldcxt;
	StringInfoData msg;
	proto_wbuf_t wb;
	int			rc;

	/*
	 * Valid from here: an invalidation that arrives while we read the
	 * catalogs below clears it again and we describe the relation anew at
	 * its next change.
	 */
	entry->valid = true;
	entry->publish = false;
	entry->tupdesc_natts = tupdesc->natts;
	entry->typehashes = NULL;	/* in entry->context, reset below */
	entry->ntypehashes = -1;

	nspname = get_namespace_name(RelationGetNamespace(rel));
	if (nspname == NULL)
		elog(ERROR, "cache lookup failed for namespace %u",
			 RelationGetNamespace(rel));
	relname = RelationGetRelationName(rel);
	if (entry->ancestors != NULL)
	{
		pfree(entry->ancestors);
		entry->ancestors = NULL;
		entry->nancestors = 0;
	}
	if (rel->rd_rel->relispartition)
	{
		List	   *ancestors = get_partition_ancestors(relid);
		ListCell   *lc;

		if (ancestors != NIL)
		{
			entry->ancestors = MemoryContextAlloc(data->cachectx,
												  sizeof(Oid) * list_length(ancestors));
			TideCacheHasPartitions = true;
		}
		/* from the parent up to the root */
		foreach(lc, ancestors)
		{
			Oid			ancestor = lfirst_oid(lc);
			TideTableName *names = palloc(sizeof(TideTableName));

			names->rel = get_rel_name(ancestor);
			names->nsp = get_namespace_name(get_rel_namespace(ancestor));
			if (names->rel == NULL || names->nsp == NULL)
				elog(ERROR, "cache lookup failed for relation %u", ancestor);
			ancestor_names = lappend(ancestor_names, names);
			entry->ancestors[entry->nancestors++] = ancestor;
			root = ancestor;
			rootnsp = names->nsp;
			rootrel = names->rel;
		}
	}

	if (!tide_table_published(data, nspname, relname, ancestor_names))
	{
		/* keep the verdict only; an unpublished relation costs no memory */
		if (entry->context != NULL)
		{
			MemoryContextDelete(entry->context);
			entry->context = NULL;
		}
		if (entry->relmsg != NULL)
		{
			pfree(entry->relmsg);
			entry->relmsg = NULL;
		}
		entry->schema_sent = false;
		entry->stream_chunk = 0;
		entry->ntypehashes = 0;
		return;
	}
	entry->publish = true;

	if (entry->context == NULL)
		entry->context = AllocSetContextCreate(data->cachectx, "tide relation",
											   ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(entry->context);
	oldcxt = MemoryContextSwitchTo(entry->context);

	all_key = rel->rd_rel->relreplident == REPLICA_IDENTITY_FULL;
	if (!all_key)
		keyattrs = RelationGetIdentityKeyBitmap(rel);

	natts = 0;
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (!att->attisdropped && !att->attgenerated)
			natts++;
	}

	memset(&entry->desc, 0, sizeof(entry->desc));
	entry->desc.relid = relid;
	entry->desc.replident = (uint8) rel->rd_rel->relreplident;
	entry->desc.nspname = tide_str(pstrdup(nspname));
	entry->desc.relname = tide_str(pstrdup(relname));
	if (OidIsValid(root))
	{
		entry->desc.flags |= PROTO_REL_PARTITION;
		entry->desc.root_relid = root;
		entry->desc.root_nspname = tide_str(pstrdup(rootnsp));
		entry->desc.root_relname = tide_str(pstrdup(rootrel));
		if (data->partition_bounds)
		{
			TideTableName *parent = linitial(ancestor_names);
			char	   *bound;
			char	   *partkey;

			tide_partition_sql(relid, entry->ancestors[0], &bound, &partkey);
			entry->desc.flags |= PROTO_REL_BOUND;
			entry->desc.parent_relid = entry->ancestors[0];
			entry->desc.parent_nspname = tide_str(pstrdup(parent->nsp));
			entry->desc.parent_relname = tide_str(pstrdup(parent->rel));
			entry->desc.bound = tide_str(bound);
			entry->desc.partkey = tide_str(partkey);
		}
	}
	entry->desc.natts = (uint16) natts;
	entry->desc.cols = palloc0(sizeof(proto_column_t) * Max(natts, 1));
	entry->cols = palloc0(sizeof(TideColumn) * Max(natts, 1));
	/* a column's type, its element type, its base type */
	typehashes = palloc(sizeof(uint32) * 3 * Max(natts, 1));
	ntypehashes = 0;

	fixed_bytes = 0;
	for (int i = 0, c = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		proto_column_t *pcol;
		TideColumn *col;
		Oid			basetypoid;
		Oid			elemtypoid;

		if (att->attisdropped || att->attgenerated)
			continue;
		pcol = &entry->desc.cols[c];
		col = &entry->cols[c];
		c++;

		basetypoid = getBaseType(att->atttypid);
		elemtypoid = get_element_type(att->atttypid);
		typehashes[ntypehashes++] = GetSysCacheHashValue1(TYPEOID,
														  ObjectIdGetDatum(att->atttypid));
		if (OidIsValid(elemtypoid))
			typehashes[ntypehashes++] = GetSysCacheHashValue1(TYPEOID,
															  ObjectIdGetDatum(elemtypoid));
		if (basetypoid != att->atttypid)
			typehashes[ntypehashes++] = GetSysCacheHashValue1(TYPEOID,
															  ObjectIdGetDatum(basetypoid));
		col->attidx = i;
		pcol->typoid = att->atttypid;
		pcol->basetypoid = basetypoid;
		pcol->typmod = att->atttypmod;
		pcol->name = tide_str(pstrdup(NameStr(att->attname)));
		pcol->typname = tide_str(tide_type_name(att->atttypid, att->atttypmod));
		if (all_key ||
			bms_is_member(att->attnum - FirstLowInvalidHeapAttributeNumber,
						  keyattrs))
			pcol->flags |= PROTO_COL_KEY;
		tide_column_encoding(data, basetypoid, pcol, col, entry->context);
		if (col->encoding == PROTO_ENC_FIXED)
		{
			col->fixed_off = fixed_bytes;
			fixed_bytes += col->width;
		}
	}

	entry->values = palloc(sizeof(Datum) * Max(tupdesc->natts, 1));
	entry->isnull = palloc(sizeof(bool) * Max(tupdesc->natts, 1));
	entry->newvals = palloc0(sizeof(proto_datum_t) * Max(natts, 1));
	entry->oldvals = palloc0(sizeof(proto_datum_t) * Max(natts, 1));
	entry->newfixed = palloc(Max(fixed_bytes, 1));
	entry->oldfixed = palloc(Max(fixed_bytes, 1));

	MemoryContextSwitchTo(oldcxt);

	/* serialize, and send again only if it differs from what was sent */
	initStringInfo(&msg);
	tide_wbuf_attach(&wb, &msg);
	if ((rc = proto_write_relation(&wb, &entry->desc)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not encode the description of relation \"%s.%s\": %s",
						nspname, relname, tide_strerror(rc))));
	if (entry->relmsg != NULL &&
		(entry->relmsg_len != wb.len || memcmp(entry->relmsg, wb.data, wb.len) != 0))
	{
		pfree(entry->relmsg);
		entry->relmsg = NULL;
	}
	if (entry->relmsg == NULL)
	{
		entry->relmsg = MemoryContextAlloc(data->cachectx, wb.len);
		memcpy(entry->relmsg, wb.data, wb.len);
		entry->relmsg_len = wb.len;
		entry->schema_sent = false;
		entry->stream_chunk = 0;
	}
	entry->typehashes = typehashes;
	entry->ntypehashes = ntypehashes;
}

/*
 * tide_get_relation - the cache entry of rel, described and judged.  The
 * natts test is a safety net: a descriptor that changed under us without
 * an invalidation would otherwise misread every row.
 */
static TideRelation *
tide_get_relation(TideData *data, Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	TideRelation *entry;
	bool		found;

	entry = hash_search(data->relcache, &relid, HASH_ENTER, &found);
	if (!found)
	{
		entry->valid = false;
		entry->publish = false;
		entry->schema_sent = false;
		entry->stream_chunk = 0;
		entry->ancestors = NULL;
		entry->nancestors = 0;
		entry->tupdesc_natts = 0;
		entry->context = NULL;
		entry->typehashes = NULL;
		entry->ntypehashes = 0;
		entry->relmsg = NULL;
		entry->relmsg_len = 0;
	}
	if (!entry->valid ||
		(entry->publish && entry->tupdesc_natts != RelationGetDescr(rel)->natts))
		tide_build_relation(data, entry, rel);
	return entry;
}

/* ---------------------------------------------------------------------
 * Values
 * ---------------------------------------------------------------------
 */

/* tide_put_fixed - the wire bytes of a FIXED value, little-endian. */
static void
tide_put_fixed(const TideColumn *col, Datum d, uint8 *out)
{
	uint64		v;

	switch (col->fixed_kind)
	{
		case TIDE_FIXED_BYVAL:
			if (col->is_bool)
				v = DatumGetBool(d) ? 1 : 0;
			else
				v = (uint64) d;
			break;
		case TIDE_FIXED_INT64_REF:
			memcpy(&v, DatumGetPointer(d), sizeof(v));
			break;
		case TIDE_FIXED_RAW:
		default:
			/* uuid/macaddr are byte strings; interval/timetz: LE hosts only */
			memcpy(out, DatumGetPointer(d), col->width);
			return;
	}
	for (int i = 0; i < col->width; i++)
		out[i] = (uint8) (v >> (8 * i));
}

/*
 * tide_fill_tuple - convert one heap tuple into wire values in vals, the
 * bytes of FIXED values going to fixed.  Everything allocated (detoasted
 * values, send and output results) lands in the per-callback context.
 * Unchanged TOASTed values (on-disk pointers the reorder buffer has no data
 * for: they are never fetched) become PROTO_DATUM_UNCHANGED, which only an
 * UPDATE's new row may hold (unchanged_ok); elsewhere one is an ERROR.
 *
 * Values that name database objects (regclass, regproc[], ...: see
 * tide_type_names_objects) are printed by their output functions under
 * search_path TIDE_SAFE_SEARCH_PATH, set for the row in a GUC nest level of
 * its own (as PostgreSQL 17's RestrictSearchPath does): every name outside
 * pg_catalog then comes out schema-qualified, whatever the search_path of
 * the walsender or of the session calling pg_logical_slot_get_changes, and
 * reads back as the same object under the pg_catalog search_path the
 * applier pins on the replica.  The output functions are PostgreSQL's own,
 * so what they print is what the input functions accept, for arrays,
 * domains and composites as well, with no per-type code here; rows without
 * such a value pay nothing, the others one GUC set and restore.  The nest
 * level is popped on the way out; an ERROR in between is cleaned up by the
 * (sub)transaction abort, which restores the caller's search_path.
 */
static void
tide_fill_tuple(TideRelation *entry, TupleDesc tupdesc, HeapTuple tuple,
				proto_datum_t *vals, uint8 *fixed, bool unchanged_ok)
{
	int			save_nestlevel = -1;

	heap_deform_tuple(tuple, tupdesc, entry->values, entry->isnull);

	for (int i = 0; i < entry->desc.natts; i++)
	{
		const TideColumn *col = &entry->cols[i];
		proto_datum_t *pd = &vals[i];
		Datum		d = entry->values[col->attidx];

		pd->data = NULL;
		pd->len = 0;
		if (entry->isnull[col->attidx])
		{
			pd->kind = PROTO_DATUM_NULL;
			continue;
		}
		if (col->typlen == -1 &&
			VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(d)))
		{
			/*
			 * The reorder buffer rebuilds every TOASTed value written by
			 * the transaction, and old rows are logged detoasted: only an
			 * UPDATE's new row can point at a value it did not change.
			 */
			if (!unchanged_ok)
				elog(ERROR, "tide: unexpected TOAST pointer in column \"%s\" of relation \"%.*s.%.*s\"",
					 NameStr(TupleDescAttr(tupdesc, col->attidx)->attname),
					 (int) entry->desc.nspname.n, entry->desc.nspname.p,
					 (int) entry->desc.relname.n, entry->desc.relname.p);
			pd->kind = PROTO_DATUM_UNCHANGED;
			continue;
		}
		pd->kind = PROTO_DATUM_VALUE;

		switch (col->encoding)
		{
			case PROTO_ENC_FIXED:
				tide_put_fixed(col, d, fixed + col->fixed_off);
				pd->data = fixed + col->fixed_off;
				pd->len = col->width;
				break;
			case PROTO_ENC_JSONB:
				{
					/*
					 * The stored container, re-encoded as the compact tree:
					 * one pass, no escaping, no numeric formatting, and
					 * smaller than both the container and the text.
					 */
					struct varlena *v = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(d));
					StringInfo	si = makeStringInfo();
					proto_wbuf_t b;
					int			rc;

					tide_wbuf_attach(&b, si);
					rc = proto_jsonb_compact(&b, (const uint8_t *) VARDATA_ANY(v),
											 VARSIZE_ANY_EXHDR(v));
					if (rc == TIDE_ETOOLONG)
					{
						/* too deep for the tree: jsonb_out's text instead */
						Jsonb	   *jb = DatumGetJsonbP(d);
						char	   *txt = JsonbToCString(NULL, &jb->root, VARSIZE(jb));

						b.len = 0;
						proto_put_u8(&b, PROTO_JSONB_TEXT);
						proto_put_str(&b, txt, strlen(txt));
						rc = b.err;
					}
					if (rc != 0)
						ereport(ERROR,
								(errcode(ERRCODE_DATA_CORRUPTED),
								 errmsg("could not encode jsonb column \"%s\" of relation \"%.*s.%.*s\": %s",
										NameStr(TupleDescAttr(tupdesc, col->attidx)->attname),
										(int) entry->desc.nspname.n, entry->desc.nspname.p,
										(int) entry->desc.relname.n, entry->desc.relname.p,
										tide_strerror(rc))));
					pd->data = b.data;
					pd->len = (uint32) b.len;
					break;
				}
			case PROTO_ENC_BYTES:
				if (col->typlen == -1)
				{
					/* decompresses and follows indirect pointers */
					struct varlena *v = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(d));

					pd->data = (const uint8_t *) VARDATA_ANY(v);
					pd->len = VARSIZE_ANY_EXHDR(v);
				}
				else
				{
					/* name: fixed-length, NUL-padded */
					const char *s = NameStr(*DatumGetName(d));

					pd->data = (const uint8_t *) s;
					pd->len = strnlen(s, NAMEDATALEN);
				}
				break;
			case PROTO_ENC_BINARY:
				{
					bytea	   *b = SendFunctionCall((FmgrInfo *) &col->func, d);

					pd->data = (const uint8_t *) VARDATA(b);
					pd->len = VARSIZE(b) - VARHDRSZ;
					break;
				}
			case PROTO_ENC_TEXT:
			default:
				{
					char	   *s;

					if (col->names_objects && save_nestlevel < 0)
					{
						save_nestlevel = NewGUCNestLevel();
						(void) set_config_option("search_path",
												 TIDE_SAFE_SEARCH_PATH,
												 PGC_USERSET, PGC_S_SESSION,
												 GUC_ACTION_SAVE, true, 0,
												 false);
					}
					s = OutputFunctionCall((FmgrInfo *) &col->func, d);
					pd->data = (const uint8_t *) s;
					pd->len = strlen(s);
					break;
				}
		}
	}
	if (save_nestlevel >= 0)
		AtEOXact_GUC(true, save_nestlevel);
}

/* ---------------------------------------------------------------------
 * Frames
 *
 * Messages go straight into ctx->out through data->wbuf.  A frame is
 * prepared (OutputPluginPrepareWrite) when its first message is written
 * and written out (OutputPluginWrite) once it holds frame-size bytes, at
 * commit, or after every message with frame-size 0.  Between two callbacks
 * of one transaction ctx->out holds the unfinished frame: nothing else
 * touches it then (the walsender's keepalives and progress updates go
 * through their own buffers, and a transaction is replayed by one call of
 * ReorderBufferCommit with no other output in between; non-transactional
 * messages and the SQL functions' bookkeeping only happen between
 * transactions, when no frame is open).
 * ---------------------------------------------------------------------
 */

static void
tide_frame_open(LogicalDecodingContext *ctx, TideData *data, bool last_write)
{
	if (data->frame_open)
		return;
	OutputPluginPrepareWrite(ctx, last_write);
	tide_wbuf_attach(&data->wbuf, ctx->out);
	data->frame_start = data->wbuf.len;
	data->frame_open = true;
}

static void
tide_frame_write(LogicalDecodingContext *ctx, TideData *data, bool last_write)
{
	StringInfo	out = ctx->out;

	if (!data->frame_open)
		return;
	tide_wbuf_sync(&data->wbuf);
	data->frame_open = false;
	OutputPluginWrite(ctx, last_write);

	/*
	 * One huge value makes ctx->out as big as its frame; give that memory
	 * back rather than keep it for the rest of the session.
	 */
	if (out->maxlen > TIDE_OUT_KEEP && out->maxlen / 4 > data->frame_size)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(GetMemoryChunkContext(out->data));

		pfree(out->data);
		initStringInfo(out);
		MemoryContextSwitchTo(oldcxt);
	}
}

/*
 * tide_check_write - report a proto error of the message just written.
 * With PostgreSQL's allocator the only errors are values or messages past
 * the 1 GB limit and values the wire format rejects.
 */
static void
tide_check_write(TideData *data, int rc, const char *what)
{
	if (rc == 0)
		rc = data->wbuf.err;
	if (rc != 0)
		ereport(ERROR,
				(errcode(rc == TIDE_ETOOLONG ? ERRCODE_PROGRAM_LIMIT_EXCEEDED :
						 ERRCODE_INTERNAL_ERROR),
				 errmsg("could not encode tide %s message: %s",
						what, tide_strerror(rc))));
}

/* tide_message_done - after each message: write the frame if it is full. */
static void
tide_message_done(LogicalDecodingContext *ctx, TideData *data)
{
	if (data->frame_size == 0 ||
		data->wbuf.len - data->frame_start >= (size_t) data->frame_size)
		tide_frame_write(ctx, data, false);
}

/*
 * tide_database_name - the current database's name, palloc'd in the
 * current context.  The lookup needs a transaction: changes are decoded
 * inside one, but a walsender decodes non-transactional messages outside
 * any, so one is started for the lookup then (under the historic snapshot
 * the decoder has set up, as the reorder buffer itself does).
 */
static char *
tide_database_name(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *name;

	if (IsTransactionState())
		return get_database_name(MyDatabaseId);

	StartTransactionCommand();
	name = get_database_name(MyDatabaseId);
	if (name != NULL)
		name = MemoryContextStrdup(cxt, name);
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	return name;
}

/* tide_write_startup - the STARTUP message, once per session. */
static void
tide_write_startup(LogicalDecodingContext *ctx, TideData *data)
{
	proto_startup_t m;
	const char *dbname;

	if (data->startup_sent)
		return;
	memset(&m, 0, sizeof(m));
	m.format_version = (uint32) data->format_version;
	m.flags = 0;
	m.server_version = PG_VERSION_NUM;
	m.system_id = GetSystemIdentifier();
	m.timeline = TideCurrentTimeLine();
	m.dboid = MyDatabaseId;
	dbname = tide_database_name();
	m.dbname = tide_str(dbname != NULL ? dbname : "");
	m.slot = tide_str(NameStr(MyReplicationSlot->data.name));
	m.encoding = tide_str(GetDatabaseEncodingName());
	tide_check_write(data, proto_write_startup(&data->wbuf, &m), "STARTUP");
	data->startup_sent = true;
	tide_message_done(ctx, data);
}

/*
 * tide_begin_if_needed - BEGIN is written lazily, before the first change
 * a transaction emits, so that a transaction whose changes are all filtered
 * out (or that only ran DDL) emits nothing at all.
 */
static void
tide_begin_if_needed(LogicalDecodingContext *ctx, TideData *data,
					 ReorderBufferTXN *txn)
{
	proto_begin_t m;

	if (data->txn_begun)
		return;
	tide_frame_open(ctx, data, false);
	tide_write_startup(ctx, data);

	tide_frame_open(ctx, data, false);
	m.final_lsn = txn->final_lsn;
	m.commit_time = TideTxnCommitTime(txn);
	m.xid = txn->xid;
	tide_check_write(data, proto_write_begin(&data->wbuf, &m), "BEGIN");
	data->txn_begun = true;
	data->nchanges = 0;
	tide_message_done(ctx, data);

	if (txn->origin_id != InvalidRepOriginId)
	{
		proto_origin_t o;
		char	   *name = NULL;

		/* an origin dropped since is still worth its LSN: name it "" */
		if (!replorigin_by_oid(txn->origin_id, true, &name))
			name = NULL;
		tide_frame_open(ctx, data, false);
		o.origin_lsn = txn->origin_lsn;
		o.name = tide_str(name != NULL ? name : "");
		tide_check_write(data, proto_write_origin(&data->wbuf, &o), "ORIGIN");
		tide_message_done(ctx, data);
	}
}

/*
 * tide_send_relation - RELATION for entry, unless the stream has it: outside
 * streamed chunks once per session (and after each change of the
 * description), inside them once per chunk, so that every chunk describes
 * its own relations whatever comes between chunks and whatever a
 * subtransaction rollback cuts away (FORMAT.md, "Streamed transactions").
 * A chunk's RELATION does not count for the session: the client keeps it
 * with the chunk.
 */
static void
tide_send_relation(LogicalDecodingContext *ctx, TideData *data,
				   TideRelation *entry)
{
	bool		in_chunk = data->chunk_txn != NULL;

	if (in_chunk ? entry->stream_chunk == data->chunk_seq : entry->schema_sent)
		return;
	tide_frame_open(ctx, data, false);
	proto_put_bytes(&data->wbuf, entry->relmsg, entry->relmsg_len);
	tide_check_write(data, 0, "RELATION");
	if (in_chunk)
		entry->stream_chunk = data->chunk_seq;
	else
		entry->schema_sent = true;
	tide_message_done(ctx, data);
}

/*
 * tide_stream_find - the index of subtransaction xid in stxn->subs, or -1;
 * *pos (if not NULL) is where it would go.  Subtransaction xids are
 * assigned after their top level's, so their distance from it orders them,
 * across xid wraparound too.
 */
static int
tide_stream_find(TideStreamTxn *stxn, TransactionId xid, int *pos)
{
	uint32		key = xid - stxn->xid;
	int			lo = 0;
	int			hi = stxn->nsubs;

	/* the common case: the newest subtransaction, appended last */
	if (hi > 0 && stxn->subs[hi - 1].xid == xid)
		return hi - 1;
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;
		uint32		k = stxn->subs[mid].xid - stxn->xid;

		if (k == key)
			return mid;
		if (k < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (pos != NULL)
		*pos = lo;
	return -1;
}

/* tide_stream_count - one more change of (sub)transaction xid in stxn. */
static void
tide_stream_count(TideData *data, TideStreamTxn *stxn, TransactionId xid)
{
	int			pos = 0;
	int			i;

	stxn->nchanges++;
	if (xid == stxn->xid)
	{
		stxn->top_nchanges++;
		return;
	}
	if ((i = tide_stream_find(stxn, xid, &pos)) < 0)
	{
		if (stxn->nsubs == stxn->maxsubs)
		{
			int			n = stxn->maxsubs ? stxn->maxsubs * 2 : 8;

			stxn->subs = stxn->subs == NULL ?
				MemoryContextAlloc(data->streamctx, sizeof(TideSubxactCount) * n) :
				repalloc(stxn->subs, sizeof(TideSubxactCount) * n);
			stxn->maxsubs = n;
		}
		memmove(&stxn->subs[pos + 1], &stxn->subs[pos],
				sizeof(TideSubxactCount) * (stxn->nsubs - pos));
		stxn->subs[pos].xid = xid;
		stxn->subs[pos].nchanges = 0;
		stxn->nsubs++;
		i = pos;
	}
	stxn->subs[i].nchanges++;
}

/* tide_stream_forget - the transaction ended: drop its entry. */
static void
tide_stream_forget(TideData *data, TideStreamTxn *stxn)
{
	TransactionId xid = stxn->xid;

	if (stxn->subs != NULL)
		pfree(stxn->subs);
	hash_search(data->stream_txns, &xid, HASH_REMOVE, NULL);
}

/*
 * tide_chunk_begin_if_needed - STREAM START before the first message of a
 * chunk (a chunk whose changes are all filtered out sends nothing), flagged
 * first when the transaction sent no chunk before in this session.
 */
static void
tide_chunk_begin_if_needed(LogicalDecodingContext *ctx, TideData *data)
{
	ReorderBufferTXN *txn = data->chunk_txn;
	TideStreamTxn *stxn;
	proto_stream_start_t m;
	bool		found;

	if (data->chunk_stxn != NULL)
		return;
	tide_frame_open(ctx, data, false);
	tide_write_startup(ctx, data);

	stxn = hash_search(data->stream_txns, &txn->xid, HASH_ENTER, &found);
	if (!found)
	{
		stxn->nchanges = 0;
		stxn->top_nchanges = 0;
		stxn->subs = NULL;
		stxn->nsubs = 0;
		stxn->maxsubs = 0;
	}
	tide_frame_open(ctx, data, false);
	m.xid = txn->xid;
	m.flags = found ? 0 : PROTO_STREAM_FIRST;
	tide_check_write(data, proto_write_stream_start(&data->wbuf, &m), "STREAM START");
	data->chunk_stxn = stxn;
	data->chunk_xid = txn->xid;
	tide_message_done(ctx, data);
}

/*
 * tide_txn_prologue - what a change of (sub)transaction xid needs before
 * it: BEGIN, or inside a streamed chunk STREAM START and, when the changes
 * switch to another (sub)transaction, SUBXACT, so that the client can leave
 * out what a subtransaction sent if it rolls back.
 */
static void
tide_txn_prologue(LogicalDecodingContext *ctx, TideData *data,
				  ReorderBufferTXN *txn, TransactionId xid)
{
	proto_subxact_t m;

	if (data->chunk_txn == NULL)
	{
		tide_begin_if_needed(ctx, data, txn);
		return;
	}
	tide_chunk_begin_if_needed(ctx, data);
	if (xid == data->chunk_xid || !TransactionIdIsValid(xid))
		return;
	tide_frame_open(ctx, data, false);
	m.xid = xid;
	tide_check_write(data, proto_write_subxact(&data->wbuf, &m), "SUBXACT");
	data->chunk_xid = xid;
	tide_message_done(ctx, data);
}

/*
 * tide_change_done - after an I/U/D/T/M message of the transaction, counted
 * for COMMIT, or for STREAM COMMIT by (sub)transaction.
 */
static void
tide_change_done(LogicalDecodingContext *ctx, TideData *data)
{
	if (data->chunk_txn != NULL)
		tide_stream_count(data, data->chunk_stxn, data->chunk_xid);
	else
		data->nchanges++;
	tide_message_done(ctx, data);
}

/*
 * tide_report_progress - let a walsender replaying a transaction that
 * emits little or nothing answer its client's keepalives (PostgreSQL < 16
 * leaves this to the plugin, see compat.h).
 */
static inline void
tide_report_progress(LogicalDecodingContext *ctx, TideData *data)
{
	if (TIDE_PLUGIN_REPORTS_PROGRESS &&
		++data->changes_since_progress >= TIDE_PROGRESS_INTERVAL)
	{
		data->changes_since_progress = 0;
		TideUpdateProgress(ctx, false);
	}
}

/* ---------------------------------------------------------------------
 * Callbacks
 * ---------------------------------------------------------------------
 */

void
_PG_output_plugin_init(OutputPluginCallbacks *cb)
{
	AssertVariableIsOfType(&_PG_output_plugin_init, LogicalOutputPluginInit);

	cb->startup_cb = tide_startup;
	cb->begin_cb = tide_begin;
	cb->change_cb = tide_change;
	cb->truncate_cb = tide_truncate;
	cb->commit_cb = tide_commit;
	cb->message_cb = tide_message;
	cb->filter_by_origin_cb = tide_filter_by_origin;
	cb->shutdown_cb = tide_shutdown;

	/* in-progress transactions, when the client asks (option streaming) */
	cb->stream_start_cb = tide_stream_start;
	cb->stream_stop_cb = tide_stream_stop;
	cb->stream_abort_cb = tide_stream_abort;
	cb->stream_commit_cb = tide_stream_commit;
	cb->stream_change_cb = tide_stream_change;
	cb->stream_truncate_cb = tide_stream_truncate;
	cb->stream_message_cb = tide_stream_message;
}

/*
 * tide_startup - parse the options and set up the session's memory.  tide
 * writes binary output only; PostgreSQL itself rejects the plugin in
 * pg_logical_slot_get_changes() and peek_changes() ("produces binary
 * output, but function ... expects textual data"), as the plugin cannot
 * see which function called it.
 */
static void
tide_startup(LogicalDecodingContext *ctx, OutputPluginOptions *opt,
			 bool is_init)
{
	TideData   *data;
	int			client_enc = pg_get_client_encoding();

	data = MemoryContextAllocZero(ctx->context, sizeof(TideData));
	data->context = AllocSetContextCreate(ctx->context, "tide change context",
										  ALLOCSET_DEFAULT_SIZES);
	data->format_version = TIDE_DEFAULT_FORMAT_VERSION;
	data->frame_size = TIDE_DEFAULT_FRAME_SIZE;
	ctx->output_plugin_private = data;

	opt->output_type = OUTPUT_PLUGIN_BINARY_OUTPUT;
	opt->receive_rewrites = false;

	tide_parse_options(data, ctx->output_plugin_options);

	/*
	 * PostgreSQL streams when the plugin has the callbacks; the client
	 * decides (a client of version 1 must never see stream messages).
	 */
	ctx->streaming = ctx->streaming && data->streaming;
	if (ctx->streaming)
	{
		HASHCTL		hctl;

		data->streamctx = AllocSetContextCreate(ctx->context,
												"tide streamed transactions",
												ALLOCSET_SMALL_SIZES);
		memset(&hctl, 0, sizeof(hctl));
		hctl.keysize = sizeof(TransactionId);
		hctl.entrysize = sizeof(TideStreamTxn);
		hctl.hcxt = data->streamctx;
		data->stream_txns = hash_create("tide streamed transactions", 16, &hctl,
										HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	initStringInfo(&data->stash);
	tide_init_relation_cache(data, ctx->context);

	if (is_init)
		return;

	/*
	 * Send functions of text-bearing types (text[], tsvector, ...) convert
	 * to the client encoding, while the stream says it carries the server
	 * encoding.  Refuse a session where those differ rather than ship text
	 * in two encodings.
	 */
	if (client_enc != GetDatabaseEncoding() && client_enc != PG_SQL_ASCII &&
		GetDatabaseEncoding() != PG_SQL_ASCII)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("tide requires client_encoding to match the database encoding"),
				 errdetail("client_encoding is \"%s\", the database encoding is \"%s\".",
						   pg_get_client_encoding_name(),
						   GetDatabaseEncodingName()),
				 errhint("Set client_encoding to \"%s\" in the decoding session.",
						 GetDatabaseEncodingName())));
}

static void
tide_shutdown(LogicalDecodingContext *ctx)
{
	TideData   *data = ctx->output_plugin_private;

	/* the reset callback forgets the cache */
	if (data->cachectx != NULL)
	{
		MemoryContextDelete(data->cachectx);
		data->cachectx = NULL;
	}
}

static void
tide_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	TideData   *data = ctx->output_plugin_private;

	Assert(!data->frame_open);
	data->txn_begun = false;
	data->nchanges = 0;
}

/*
 * tide_commit - COMMIT, and the frame goes out.
 *
 * The frame holding COMMIT must carry the commit's position: the walsender
 * stamps a frame with the LSN current when it was prepared
 * (InvalidXLogRecPtr for one prepared with last_write false), and clients
 * such as pg_recvlogical confirm what those stamps say.  A frame left open
 * by the transaction's changes was prepared with last_write false, so it is
 * prepared again with last_write true and its body carried over (the
 * stash: less than a frame, often the whole small transaction).
 *
 * Only the output-plugin API is used (OutputPluginPrepareWrite with
 * ctx->write_location at the commit, OutputPluginWrite): the header in
 * front of the body is the writer's own.  An earlier version stamped the
 * walsender's XLogData header ('w', dataStart, walEnd, sendTime) in place
 * instead of copying the body; that depended on WalSndPrepareWrite's
 * private layout (unchanged in 14-17, but no API promises it), to save a
 * copy of less than frame-size bytes per transaction.  Measured with
 * bench/decoder.sh on a shared 2-core machine, patching (before) against
 * copying (after), medians of 3 drains: insert 5000 (500k jsonb rows)
 * walsender CPU 2.83 s vs 2.86 s (tide/floor 1.06x vs 1.10x), tpcb 20000
 * (80k changes, 20k commits) 0.53 s vs 0.52 s; wall times moved with the
 * machine's load more than that.  The copy is not worth a dependency on
 * walsender internals.
 */
static void
tide_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			XLogRecPtr commit_lsn)
{
	TideData   *data = ctx->output_plugin_private;
	proto_commit_t m;

	TideUpdateProgress(ctx, !data->txn_begun);
	data->changes_since_progress = 0;

	if (!data->txn_begun)
	{
		elog(DEBUG1, "tide skipped transaction %u: no change to send",
			 txn->xid);
		return;
	}

	if (data->frame_open && data->frame_start > 0)
	{
		/* a writer with a header (the walsender): prepare the frame again */
		size_t		header = data->frame_start;

		tide_wbuf_sync(&data->wbuf);
		resetStringInfo(&data->stash);
		appendBinaryStringInfo(&data->stash,
							   (const char *) data->wbuf.data + header,
							   (int) (data->wbuf.len - header));
		data->frame_open = false;
		tide_frame_open(ctx, data, true);

		/*
		 * The writer starts each frame afresh (resetStringInfo, then its
		 * header): a frame that does not would hold the old body twice.
		 */
		if (data->frame_start != header)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("tide cannot write to this output writer: its frame header was %zu bytes, then %zu",
							header, data->frame_start)));
		proto_put_bytes(&data->wbuf, data->stash.data, data->stash.len);
	}
	else
	{
		/*
		 * No frame yet, or the SQL functions' writer, which has no header
		 * and takes the LSN when the frame is written.
		 */
		tide_frame_open(ctx, data, true);
	}

	m.flags = 0;
	m.end_lsn = txn->end_lsn;
	m.nchanges = data->nchanges;
	tide_check_write(data, proto_write_commit(&data->wbuf, &m), "COMMIT");
	tide_frame_write(ctx, data, true);

	data->txn_begun = false;
	data->nchanges = 0;

	if (TideInvalidations >= TIDE_SWEEP_THRESHOLD)
		tide_sweep_relation_cache(data);
}

/*
 * tide_change_prologue - what every row message needs before it: the
 * transaction's BEGIN (sent lazily; in a streamed chunk STREAM START and
 * SUBXACT), the relation's description if it is not current, and an open
 * frame.
 */
static void
tide_change_prologue(LogicalDecodingContext *ctx, TideData *data,
					 ReorderBufferTXN *txn, TransactionId xid,
					 TideRelation *entry)
{
	tide_txn_prologue(ctx, data, txn, xid);
	tide_send_relation(ctx, data, entry);
	tide_frame_open(ctx, data, false);
}

/*
 * tide_change_guts - the work of tide_change, in the private context.
 */
static void
tide_change_guts(LogicalDecodingContext *ctx, TideData *data,
				 ReorderBufferTXN *txn, Relation relation,
				 ReorderBufferChange *change)
{
	TideRelation *entry;
	TupleDesc	tupdesc = RelationGetDescr(relation);
	HeapTuple	oldtuple;
	HeapTuple	newtuple;
	int			rc;

	entry = tide_get_relation(data, relation);
	if (!entry->publish)
		return;

	switch (change->action)
	{
		case REORDER_BUFFER_CHANGE_INSERT:
			{
				proto_insert_t m;

				newtuple = TideChangeTuple(change->data.tp.newtuple);
				if (newtuple == NULL)
					elog(ERROR, "tide: INSERT into \"%s\" without a new tuple",
						 RelationGetRelationName(relation));
				tide_fill_tuple(entry, tupdesc, newtuple, entry->newvals,
								entry->newfixed, false);
				tide_change_prologue(ctx, data, txn, change->txn->xid, entry);
				m.relid = entry->desc.relid;
				m.newtup.natts = entry->desc.natts;
				m.newtup.cols = entry->newvals;
				rc = proto_write_insert(&data->wbuf, &entry->desc, &m);
				tide_check_write(data, rc, "INSERT");
				break;
			}
		case REORDER_BUFFER_CHANGE_UPDATE:
			{
				proto_update_t m;

				newtuple = TideChangeTuple(change->data.tp.newtuple);
				oldtuple = TideChangeTuple(change->data.tp.oldtuple);
				if (newtuple == NULL)
					elog(ERROR, "tide: UPDATE of \"%s\" without a new tuple",
						 RelationGetRelationName(relation));

				/*
				 * The old row is in the WAL when the identity is FULL (all
				 * of it) or when the key changed (the key columns).
				 */
				m.old_kind = PROTO_OLD_NONE;
				m.oldtup.natts = 0;
				m.oldtup.cols = NULL;
				if (oldtuple != NULL)
				{
					m.old_kind = entry->desc.replident == PROTO_IDENT_FULL ?
						PROTO_OLD_FULL : PROTO_OLD_KEY;
					tide_fill_tuple(entry, tupdesc, oldtuple, entry->oldvals,
									entry->oldfixed, false);
					m.oldtup.natts = entry->desc.natts;
					m.oldtup.cols = entry->oldvals;
				}
				tide_fill_tuple(entry, tupdesc, newtuple, entry->newvals,
								entry->newfixed, true);
				tide_change_prologue(ctx, data, txn, change->txn->xid, entry);
				m.relid = entry->desc.relid;
				m.newtup.natts = entry->desc.natts;
				m.newtup.cols = entry->newvals;
				rc = proto_write_update(&data->wbuf, &entry->desc, &m);
				tide_check_write(data, rc, "UPDATE");
				break;
			}
		case REORDER_BUFFER_CHANGE_DELETE:
			{
				proto_delete_t m;

				oldtuple = TideChangeTuple(change->data.tp.oldtuple);

				/*
				 * Invariant 1: every committed change reaches the stream.
				 * Without an old row (REPLICA IDENTITY NOTHING, or DEFAULT
				 * without a primary key) the WAL does not say which row
				 * went, but the DELETE still goes out, with old kind none,
				 * so that a consumer refuses it rather than keep the row
				 * unawares.  (pgoutput may skip it: a publication makes
				 * the source refuse such a DELETE in the first place.
				 * Nothing stops it on a tide source.)
				 */
				m.relid = entry->desc.relid;
				m.old_kind = PROTO_OLD_NONE;
				m.oldtup.natts = 0;
				m.oldtup.cols = NULL;
				if (oldtuple != NULL)
				{
					tide_fill_tuple(entry, tupdesc, oldtuple, entry->oldvals,
									entry->oldfixed, false);
					m.old_kind = entry->desc.replident == PROTO_IDENT_FULL ?
						PROTO_OLD_FULL : PROTO_OLD_KEY;
					m.oldtup.natts = entry->desc.natts;
					m.oldtup.cols = entry->oldvals;
				}
				tide_change_prologue(ctx, data, txn, change->txn->xid, entry);
				rc = proto_write_delete(&data->wbuf, &entry->desc, &m);
				tide_check_write(data, rc, "DELETE");
				break;
			}
		default:
			/* speculative insert confirmations etc. never reach plugins */
			return;
	}
	tide_change_done(ctx, data);
}

static void
tide_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			Relation relation, ReorderBufferChange *change)
{
	TideData   *data = ctx->output_plugin_private;
	MemoryContext oldcxt;

	tide_report_progress(ctx, data);

	oldcxt = MemoryContextSwitchTo(data->context);
	tide_change_guts(ctx, data, txn, relation, change);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(data->context);
}

static void
tide_truncate_guts(LogicalDecodingContext *ctx, TideData *data,
				   ReorderBufferTXN *txn, int nrelations,
				   Relation relations[], ReorderBufferChange *change)
{
	TideRelation **entries = palloc(sizeof(TideRelation *) * nrelations);
	uint32	   *relids = palloc(sizeof(uint32) * nrelations);
	proto_truncate_t m;
	int			n = 0;

	for (int i = 0; i < nrelations; i++)
	{
		TideRelation *entry = tide_get_relation(data, relations[i]);

		if (entry->publish)
		{
			entries[n] = entry;
			relids[n] = entry->desc.relid;
			n++;
		}
	}
	if (n == 0)
		return;

	tide_txn_prologue(ctx, data, txn, change->txn->xid);
	for (int i = 0; i < n; i++)
		tide_send_relation(ctx, data, entries[i]);

	m.flags = 0;
	if (change->data.truncate.cascade)
		m.flags |= PROTO_TRUNCATE_CASCADE;
	if (change->data.truncate.restart_seqs)
		m.flags |= PROTO_TRUNCATE_RESTART_IDENTITY;
	m.nrelids = (uint32) n;
	m.relids = relids;
	tide_frame_open(ctx, data, false);
	tide_check_write(data, proto_write_truncate(&data->wbuf, &m), "TRUNCATE");
	tide_change_done(ctx, data);
}

static void
tide_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			  int nrelations, Relation relations[],
			  ReorderBufferChange *change)
{
	TideData   *data = ctx->output_plugin_private;
	MemoryContext oldcxt;

	tide_report_progress(ctx, data);

	oldcxt = MemoryContextSwitchTo(data->context);
	tide_truncate_guts(ctx, data, txn, nrelations, relations, change);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(data->context);
}

/*
 * tide_message_guts - the work of tide_message, in the private context.
 * A transactional message is a change of its transaction; a
 * non-transactional one is decoded as soon as it is read, between
 * transactions, and goes out as a frame of its own, stamped with its LSN.
 */
static void
tide_message_guts(LogicalDecodingContext *ctx, TideData *data,
				  ReorderBufferTXN *txn, TransactionId xid,
				  XLogRecPtr message_lsn, bool transactional,
				  const char *prefix, Size message_size, const char *message)
{
	proto_message_t m;
	size_t		prefix_len = strlen(prefix);

	if (!tide_message_published(data, prefix))
		return;

	/*
	 * The wire format bounds prefixes like names.  Stop rather than drop
	 * the message: the user can exclude the prefix or skip it.
	 */
	if (prefix_len > PROTO_MAX_NAME)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("logical decoding message prefix is too long for tide: %zu bytes, at most %d",
						prefix_len, PROTO_MAX_NAME),
				 errhint("Exclude the prefix with the tide option exclude-message-prefixes, or advance the slot past LSN %X/%X.",
						 LSN_FORMAT_ARGS(message_lsn))));

	m.flags = transactional ? PROTO_MESSAGE_TRANSACTIONAL : 0;
	m.lsn = message_lsn;
	m.prefix.p = prefix;
	m.prefix.n = prefix_len;
	m.payload.p = message;
	m.payload.n = message_size;

	if (transactional)
	{
		tide_txn_prologue(ctx, data, txn, xid);
		tide_frame_open(ctx, data, false);
		tide_check_write(data, proto_write_message(&data->wbuf, &m), "MESSAGE");
		tide_change_done(ctx, data);
		return;
	}

	/* never inside a transaction's frame: see "Frames" above */
	Assert(!data->frame_open);
	tide_frame_write(ctx, data, false);
	tide_frame_open(ctx, data, true);
	if (!data->startup_sent)
	{
		tide_write_startup(ctx, data);
		tide_frame_open(ctx, data, true);
	}
	tide_check_write(data, proto_write_message(&data->wbuf, &m), "MESSAGE");
	tide_frame_write(ctx, data, true);
}

static void
tide_message(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			 XLogRecPtr message_lsn, bool transactional,
			 const char *prefix, Size message_size, const char *message)
{
	TideData   *data = ctx->output_plugin_private;
	MemoryContext oldcxt;

	if (transactional)
		tide_report_progress(ctx, data);

	oldcxt = MemoryContextSwitchTo(data->context);
	tide_message_guts(ctx, data, txn, InvalidTransactionId, message_lsn,
					  transactional, prefix, message_size, message);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(data->context);
}

static bool
tide_filter_by_origin(LogicalDecodingContext *ctx, RepOriginId origin_id)
{
	TideData   *data = ctx->output_plugin_private;

	return data->only_local && origin_id != InvalidRepOriginId;
}

/* ---------------------------------------------------------------------
 * Streamed transactions
 *
 * A chunk is one call of ReorderBufferProcessTXN: stream_start, the
 * changes, stream_stop, with no other output in between, like a whole
 * transaction otherwise; its frames are written out by stream_stop.
 * STREAM ABORT and STREAM COMMIT come between chunks, each a frame of its
 * own.  A transaction, or a subtransaction, that never sent anything is
 * unknown to the client, and its end sends nothing either.
 * ---------------------------------------------------------------------
 */

static void
tide_stream_start(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	TideData   *data = ctx->output_plugin_private;

	Assert(!data->frame_open && data->chunk_txn == NULL);
	data->chunk_txn = txn;
	data->chunk_stxn = NULL;	/* STREAM START goes out lazily */
	data->chunk_xid = InvalidTransactionId;
	data->chunk_seq++;
}

/*
 * tide_stream_stop - end of a chunk.  Also reached when the transaction
 * was rolled back while the chunk was being decoded (a concurrent abort
 * ends the chunk early): whatever it sent is complete messages, and the
 * STREAM ABORT follows.
 */
static void
tide_stream_stop(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	TideData   *data = ctx->output_plugin_private;

	if (data->chunk_stxn != NULL)
	{
		proto_stream_stop_t m;

		tide_frame_open(ctx, data, false);
		m.xid = data->chunk_txn->xid;
		tide_check_write(data, proto_write_stream_stop(&data->wbuf, &m), "STREAM STOP");
		tide_frame_write(ctx, data, false);
	}
	data->chunk_txn = NULL;
	data->chunk_stxn = NULL;
	data->chunk_xid = InvalidTransactionId;
}

/*
 * tide_stream_abort - the transaction, or one of its subtransactions
 * (txn->toptxn set), rolled back.  PostgreSQL calls this for every
 * rolled-back subtransaction that had changes streamed, nested ones each on
 * their own, so the count of the whole is the sum of the rest.
 */
static void
tide_stream_abort(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				  XLogRecPtr abort_lsn)
{
	TideData   *data = ctx->output_plugin_private;
	ReorderBufferTXN *top = txn->toptxn != NULL ? txn->toptxn : txn;
	TideStreamTxn *stxn;
	proto_stream_abort_t m;

	Assert(!data->frame_open && data->chunk_txn == NULL);
	stxn = hash_search(data->stream_txns, &top->xid, HASH_FIND, NULL);
	if (stxn == NULL)
		return;
	if (txn != top)
	{
		int			i = tide_stream_find(stxn, txn->xid, NULL);

		if (i < 0)
			return;
		stxn->nchanges -= stxn->subs[i].nchanges;
		memmove(&stxn->subs[i], &stxn->subs[i + 1],
				sizeof(TideSubxactCount) * (stxn->nsubs - i - 1));
		stxn->nsubs--;
	}
	tide_frame_open(ctx, data, true);
	m.xid = top->xid;
	m.subxid = txn->xid;
	m.abort_lsn = abort_lsn;
	tide_check_write(data, proto_write_stream_abort(&data->wbuf, &m), "STREAM ABORT");
	tide_frame_write(ctx, data, true);
	if (txn == top)
		tide_stream_forget(data, stxn);
}

/*
 * tide_origin_name - the name of a replication origin ("" if it was
 * dropped), palloc'd in the current context.  stream_commit runs outside
 * the transaction PostgreSQL decodes chunks in, so one is started for the
 * lookup then, as tide_database_name does.
 */
static char *
tide_origin_name(RepOriginId origin_id)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *name = NULL;
	bool		xact = IsTransactionState();

	if (!xact)
		StartTransactionCommand();
	if (!replorigin_by_oid(origin_id, true, &name) || name == NULL)
		name = "";
	name = MemoryContextStrdup(cxt, name);
	if (!xact)
	{
		CommitTransactionCommand();
		MemoryContextSwitchTo(cxt);
	}
	return name;
}

/*
 * tide_stream_commit - STREAM COMMIT: everything BEGIN, ORIGIN and COMMIT
 * would have said, in a frame of its own stamped with the commit's end.
 */
static void
tide_stream_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				   XLogRecPtr commit_lsn)
{
	TideData   *data = ctx->output_plugin_private;
	TideStreamTxn *stxn;
	proto_stream_commit_t m;

	Assert(!data->frame_open && data->chunk_txn == NULL);
	stxn = hash_search(data->stream_txns, &txn->xid, HASH_FIND, NULL);
	TideUpdateProgress(ctx, stxn == NULL);
	data->changes_since_progress = 0;
	if (stxn == NULL)
	{
		elog(DEBUG1, "tide skipped streamed transaction %u: no change to send",
			 txn->xid);
		return;
	}

	memset(&m, 0, sizeof(m));
	m.xid = txn->xid;
	m.final_lsn = txn->final_lsn;
	m.end_lsn = txn->end_lsn;
	m.commit_time = TideTxnCommitTime(txn);
	m.nchanges = stxn->nchanges;
	if (txn->origin_id != InvalidRepOriginId)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(data->context);

		m.flags |= PROTO_STREAM_COMMIT_ORIGIN;
		m.origin_lsn = txn->origin_lsn;
		m.origin = tide_str(tide_origin_name(txn->origin_id));
		MemoryContextSwitchTo(oldcxt);
	}
	tide_frame_open(ctx, data, true);
	tide_check_write(data, proto_write_stream_commit(&data->wbuf, &m), "STREAM COMMIT");
	tide_frame_write(ctx, data, true);
	MemoryContextReset(data->context);
	tide_stream_forget(data, stxn);

	if (TideInvalidations >= TIDE_SWEEP_THRESHOLD)
		tide_sweep_relation_cache(data);
}

/* The changes of a chunk: as outside chunks (tide_txn_prologue tells). */
static void
tide_stream_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				   Relation relation, ReorderBufferChange *change)
{
	tide_change(ctx, txn, relation, change);
}

static void
tide_stream_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					 int nrelations, Relation relations[],
					 ReorderBufferChange *change)
{
	tide_truncate(ctx, txn, nrelations, relations, change);
}

/*
 * tide_stream_message - a transactional message of a chunk.  PostgreSQL
 * hands over the top-level transaction only, but to stream it set
 * CheckXidAlive to the (sub)transaction the message was queued in (to
 * detect its concurrent abort); it leaves it invalid once that committed,
 * when no subtransaction rollback can follow.  The subtransaction matters:
 * a message that is the first thing a subtransaction did must be cut away
 * with it.
 */
static void
tide_stream_message(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					XLogRecPtr message_lsn, bool transactional,
					const char *prefix, Size message_size,
					const char *message)
{
	TideData   *data = ctx->output_plugin_private;
	TransactionId xid = TransactionIdIsValid(CheckXidAlive) ? CheckXidAlive : txn->xid;
	MemoryContext oldcxt;

	tide_report_progress(ctx, data);

	oldcxt = MemoryContextSwitchTo(data->context);
	tide_message_guts(ctx, data, txn, xid, message_lsn, transactional, prefix,
					  message_size, message);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(data->context);
}

