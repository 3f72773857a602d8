/*
 * proto/include/tide/wire.h
 *		The decoder's wire messages: structs and symmetric write/read pairs.
 *
 * A frame (one CopyData payload, one row of pg_logical_slot_get_binary_
 * changes, or one record run in a segment block) is a sequence of messages.
 * Each message is: type (1 byte, printable), body length (varint), body.
 * The length lets a reader skip a message type it does not know and bounds
 * every field read.  See proto/FORMAT.md for the byte tables.
 *
 * Readers fill structs whose strings and value bytes point into the input
 * buffer: they stay valid as long as that buffer does.  Variable-size parts
 * (columns, tuple values, truncated relations) are written into arrays the
 * caller supplies, so proto never allocates.
 */
#ifndef TIDE_WIRE_H
#define TIDE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tide/buf.h"

#define PROTO_FORMAT_VERSION 2		/* the wire format this library speaks */
#define PROTO_FORMAT_VERSION_MIN 1	/* oldest one it still reads */

/*
 * Version 2 is version 1 plus the stream messages below (a minor version:
 * nothing of version 1 changed).  A decoder speaks it only to a client that
 * asks for it.  tide stream writes a streamed transaction into a segment as
 * BEGIN ... COMMIT, so segments hold version-1 messages whatever version the
 * session spoke, and their header says so (PROTO_SEGMENT_WIRE_VERSION).
 */
#define PROTO_STREAM_VERSION 2		/* first version with stream messages */
#define PROTO_SEGMENT_WIRE_VERSION 1	/* the messages segments hold */

/* Limits a reader enforces (a writer never produces more). */
#define PROTO_MAX_NAME 1024			/* identifiers, prefixes, type names */
#define PROTO_MAX_COLUMNS 1664		/* MaxTupleAttributeNumber */
#define PROTO_MAX_VALUE ((size_t) 1 << 30)	/* 1 GB, PostgreSQL's own limit */
#define PROTO_MAX_TRUNCATE 65536
#define PROTO_MAX_EXPR 65536		/* a partition bound or key, as SQL text */

/* Message types. */
#define PROTO_MSG_STARTUP 'S'
#define PROTO_MSG_BEGIN 'B'
#define PROTO_MSG_COMMIT 'C'
#define PROTO_MSG_ORIGIN 'O'
#define PROTO_MSG_RELATION 'R'
#define PROTO_MSG_INSERT 'I'
#define PROTO_MSG_UPDATE 'U'
#define PROTO_MSG_DELETE 'D'
#define PROTO_MSG_TRUNCATE 'T'
#define PROTO_MSG_MESSAGE 'M'

/*
 * Stream messages (version 2): a transaction still in progress, sent in
 * chunks before its commit (decoder option streaming).  Lower case: none
 * of them ever reaches a segment.
 */
#define PROTO_MSG_STREAM_START 's'
#define PROTO_MSG_STREAM_STOP 'e'
#define PROTO_MSG_SUBXACT 'x'
#define PROTO_MSG_STREAM_ABORT 'a'
#define PROTO_MSG_STREAM_COMMIT 'c'

/* How a column's values are encoded (proto_column_t.encoding). */
#define PROTO_ENC_FIXED 'f'		/* `width` raw bytes, little-endian fields */
#define PROTO_ENC_BYTES 'r'		/* varint length + the stored bytes */
#define PROTO_ENC_JSONB 'j'		/* varint length + on-disk jsonb container */
#define PROTO_ENC_BINARY 'b'	/* varint length + the type's send format */
#define PROTO_ENC_TEXT 't'		/* varint length + the type's output text */

/* Replica identity (pg_class.relreplident). */
#define PROTO_IDENT_DEFAULT 'd'
#define PROTO_IDENT_NOTHING 'n'
#define PROTO_IDENT_FULL 'f'
#define PROTO_IDENT_INDEX 'i'

/* proto_relation_t.flags */
#define PROTO_REL_PARTITION 0x01	/* leaf of a partitioned table: root set */
#define PROTO_REL_BOUND 0x02		/* with PARTITION: parent, bound and the
									 * parent's partition key set (decoder
									 * option partition-bounds) */

/* proto_column_t.flags */
#define PROTO_COL_KEY 0x01			/* part of the replica identity */

/* proto_datum_t.kind */
#define PROTO_DATUM_NULL 'n'
#define PROTO_DATUM_UNCHANGED 'u'	/* unchanged TOASTed value (UPDATE only) */
#define PROTO_DATUM_VALUE 'v'

/*
 * proto_update_t.old_kind / proto_delete_t.old_kind.  NONE on an UPDATE: the
 * identity did not change; on a DELETE: the table has no replica identity,
 * so the source logged nothing that says which row went.
 */
#define PROTO_OLD_NONE 0
#define PROTO_OLD_KEY 'K'			/* replica identity columns only */
#define PROTO_OLD_FULL 'O'			/* the whole old row (identity FULL) */

/* proto_truncate_t.flags */
#define PROTO_TRUNCATE_CASCADE 0x01
#define PROTO_TRUNCATE_RESTART_IDENTITY 0x02

/* proto_message_t.flags */
#define PROTO_MESSAGE_TRANSACTIONAL 0x01

/*
 * The prefix of tide cutover's marker (FORMAT.md, "Cutover marker"): a
 * transactional message in a transaction of its own, which tide apply
 * records progress for even though it changes nothing.
 */
#define PROTO_CUTOVER_PREFIX "tide.cutover"

/* proto_stream_start_t.flags */
#define PROTO_STREAM_FIRST 0x01		/* the transaction's first chunk */

/* proto_stream_commit_t.flags */
#define PROTO_STREAM_COMMIT_ORIGIN 0x01 /* origin_lsn and origin are set */

/* proto_startup_t.flags */
#define PROTO_STARTUP_BIG_ENDIAN 0x01	/* never set by this version */

typedef uint64_t proto_lsn_t;
/* Microseconds since 2000-01-01 00:00:00 UTC, PostgreSQL's TimestampTz. */
typedef int64_t proto_time_t;

typedef struct
{
	const char *p;				/* not NUL-terminated; may be NULL if n == 0 */
	size_t		n;
} proto_str_t;

/* First message of a session: what produced the stream. */
typedef struct
{
	uint32_t	format_version;
	uint32_t	flags;
	uint32_t	server_version;	/* PG_VERSION_NUM, e.g. 150020 */
	uint64_t	system_id;		/* pg_control system identifier */
	uint32_t	timeline;
	uint32_t	dboid;
	proto_str_t dbname;
	proto_str_t slot;
	proto_str_t encoding;		/* server encoding name, e.g. "UTF8" */
} proto_startup_t;

typedef struct
{
	proto_lsn_t final_lsn;		/* LSN of the commit record */
	proto_time_t commit_time;
	uint32_t	xid;
} proto_begin_t;

typedef struct
{
	uint32_t	flags;			/* none defined yet: must be 0 */
	proto_lsn_t end_lsn;		/* end of the commit record: confirm this */
	uint64_t	nchanges;		/* I/U/D/T/M messages since BEGIN */
	/* the commit LSN, time and xid are in the transaction's BEGIN */
} proto_commit_t;

typedef struct
{
	proto_lsn_t origin_lsn;
	proto_str_t name;
} proto_origin_t;

typedef struct
{
	uint8_t		flags;			/* PROTO_COL_* */
	uint8_t		encoding;		/* PROTO_ENC_* */
	uint8_t		width;			/* bytes, for PROTO_ENC_FIXED; else 0 */
	uint32_t	typoid;			/* declared type (maybe a domain) */
	uint32_t	basetypoid;		/* the type whose encoding is used */
	int32_t		typmod;
	proto_str_t name;
	proto_str_t typname;		/* format_type() of the declared type */
} proto_column_t;

typedef struct
{
	uint32_t	relid;
	uint8_t		replident;		/* PROTO_IDENT_* */
	uint8_t		flags;			/* PROTO_REL_* */
	proto_str_t nspname;
	proto_str_t relname;
	/* Set when flags & PROTO_REL_PARTITION: the top-most partitioned root. */
	uint32_t	root_relid;
	proto_str_t root_nspname;
	proto_str_t root_relname;
	uint16_t	natts;
	proto_column_t *cols;		/* natts entries, caller's array */
	/*
	 * Set when flags & PROTO_REL_BOUND: the leaf's immediate parent, the
	 * leaf's bound as pg_get_expr() prints it ("FOR VALUES ...", or
	 * "DEFAULT"), and the parent's partition key as pg_get_partkeydef()
	 * prints it ("RANGE (ts)").
	 */
	uint32_t	parent_relid;
	proto_str_t parent_nspname;
	proto_str_t parent_relname;
	proto_str_t bound;
	proto_str_t partkey;
} proto_relation_t;

typedef struct
{
	uint8_t		kind;			/* PROTO_DATUM_* */
	uint32_t	len;			/* bytes at data, for PROTO_DATUM_VALUE */
	const uint8_t *data;
} proto_datum_t;

typedef struct
{
	uint16_t	natts;			/* equals the relation's natts */
	proto_datum_t *cols;		/* caller's array of natts (or more) */
} proto_tuple_t;

typedef struct
{
	uint32_t	relid;
	proto_tuple_t newtup;
} proto_insert_t;

typedef struct
{
	uint32_t	relid;
	uint8_t		old_kind;		/* PROTO_OLD_* */
	proto_tuple_t oldtup;		/* valid when old_kind != PROTO_OLD_NONE */
	proto_tuple_t newtup;
} proto_update_t;

typedef struct
{
	uint32_t	relid;
	uint8_t		old_kind;		/* PROTO_OLD_*; NONE: no replica identity */
	proto_tuple_t oldtup;		/* valid when old_kind != PROTO_OLD_NONE */
} proto_delete_t;

typedef struct
{
	uint8_t		flags;			/* PROTO_TRUNCATE_* */
	uint32_t	nrelids;
	uint32_t   *relids;			/* caller's array */
} proto_truncate_t;

typedef struct
{
	uint8_t		flags;			/* PROTO_MESSAGE_* */
	proto_lsn_t lsn;
	proto_str_t prefix;
	proto_str_t payload;
} proto_message_t;

/*
 * STREAM START: a chunk of an in-progress transaction follows, up to its
 * STREAM STOP.  Inside a chunk: RELATION, INSERT, UPDATE, DELETE, TRUNCATE,
 * transactional MESSAGE and SUBXACT.
 */
typedef struct
{
	uint32_t	xid;			/* top-level transaction id, never 0 */
	uint8_t		flags;			/* PROTO_STREAM_* */
} proto_stream_start_t;

typedef struct
{
	uint32_t	xid;			/* the one of the chunk's STREAM START */
} proto_stream_stop_t;

/*
 * SUBXACT: the changes that follow in the chunk were made by this
 * (sub)transaction; at STREAM START it is the top-level transaction.
 */
typedef struct
{
	uint32_t	xid;
} proto_subxact_t;

/*
 * STREAM ABORT: the transaction xid rolled back (subxid == xid), or one of
 * its subtransactions did (the changes sent under a SUBXACT naming it go).
 */
typedef struct
{
	uint32_t	xid;
	uint32_t	subxid;
	proto_lsn_t abort_lsn;		/* end of the abort record; 0 if unknown */
} proto_stream_abort_t;

/*
 * STREAM COMMIT: the transaction committed; with its chunks it is exactly
 * the BEGIN [ORIGIN] ... COMMIT a non-streamed transaction would have been.
 */
typedef struct
{
	uint32_t	xid;
	uint32_t	flags;			/* PROTO_STREAM_COMMIT_* */
	proto_lsn_t final_lsn;		/* start of the commit record (BEGIN's) */
	proto_lsn_t end_lsn;		/* end of it (COMMIT's) */
	proto_time_t commit_time;
	uint64_t	nchanges;		/* I/U/D/T/M kept in its chunks */
	proto_lsn_t origin_lsn;		/* with PROTO_STREAM_COMMIT_ORIGIN */
	proto_str_t origin;
} proto_stream_commit_t;

/*
 * Message framing.  proto_msg_begin() writes the type and reserves room for
 * a two-byte length; proto_msg_end() writes the length as a minimal varint,
 * moving the body if the length needs more or less room.  Writers of the
 * individual messages below do both; they are exposed for callers that
 * build a body themselves.
 */
#define PROTO_LEN_RESERVE 2			/* bodies of 128 B to 16 KiB stay put */
#define PROTO_MAX_BODY (((size_t) 1 << 35) - 1)

size_t		proto_msg_begin(proto_wbuf_t *b, uint8_t type);
int			proto_msg_end(proto_wbuf_t *b, size_t start);

/*
 * proto_read_msg - the next message of a frame: *type and a reader over its
 * body.  Returns 0, TIDE_EEOF at the clean end of the frame, or an error.
 */
int			proto_read_msg(proto_rbuf_t *frame, uint8_t *type, proto_rbuf_t *body);

/*
 * Symmetric pairs.  A write appends one whole message (type, length, body)
 * and returns b->err.  A read decodes one message body (as given by
 * proto_read_msg) and returns 0 or an error; it rejects trailing bytes.
 */
int			proto_write_startup(proto_wbuf_t *b, const proto_startup_t *m);
int			proto_read_startup(proto_rbuf_t *body, proto_startup_t *m);

int			proto_write_begin(proto_wbuf_t *b, const proto_begin_t *m);
int			proto_read_begin(proto_rbuf_t *body, proto_begin_t *m);

int			proto_write_commit(proto_wbuf_t *b, const proto_commit_t *m);
int			proto_read_commit(proto_rbuf_t *body, proto_commit_t *m);

int			proto_write_origin(proto_wbuf_t *b, const proto_origin_t *m);
int			proto_read_origin(proto_rbuf_t *body, proto_origin_t *m);

/* cols must hold at least maxcols entries; more columns is TIDE_ETOOLONG. */
int			proto_write_relation(proto_wbuf_t *b, const proto_relation_t *m);
int			proto_read_relation(proto_rbuf_t *body, proto_relation_t *m,
								proto_column_t *cols, size_t maxcols);

/*
 * proto_read_relid - the relation id every I/U/D body starts with, so a
 * consumer can find the relation before decoding the row.
 */
int			proto_read_relid(proto_rbuf_t body, uint32_t *relid);

/*
 * Row messages need the relation (for natts and each column's encoding).
 * The tuple arrays (m->newtup.cols, m->oldtup.cols) must be supplied by the
 * caller with rel->natts entries before a read.
 */
int			proto_write_insert(proto_wbuf_t *b, const proto_relation_t *rel,
							   const proto_insert_t *m);
int			proto_read_insert(proto_rbuf_t *body, const proto_relation_t *rel,
							  proto_insert_t *m);

int			proto_write_update(proto_wbuf_t *b, const proto_relation_t *rel,
							   const proto_update_t *m);
int			proto_read_update(proto_rbuf_t *body, const proto_relation_t *rel,
							  proto_update_t *m);

int			proto_write_delete(proto_wbuf_t *b, const proto_relation_t *rel,
							   const proto_delete_t *m);
int			proto_read_delete(proto_rbuf_t *body, const proto_relation_t *rel,
							  proto_delete_t *m);

/* relids must hold at least maxrels entries. */
int			proto_write_truncate(proto_wbuf_t *b, const proto_truncate_t *m);
int			proto_read_truncate(proto_rbuf_t *body, proto_truncate_t *m,
								uint32_t *relids, size_t maxrels);

int			proto_write_message(proto_wbuf_t *b, const proto_message_t *m);
int			proto_read_message(proto_rbuf_t *body, proto_message_t *m);

/* Stream messages (version 2); readers refuse a transaction id of 0. */
int			proto_write_stream_start(proto_wbuf_t *b, const proto_stream_start_t *m);
int			proto_read_stream_start(proto_rbuf_t *body, proto_stream_start_t *m);

int			proto_write_stream_stop(proto_wbuf_t *b, const proto_stream_stop_t *m);
int			proto_read_stream_stop(proto_rbuf_t *body, proto_stream_stop_t *m);

int			proto_write_subxact(proto_wbuf_t *b, const proto_subxact_t *m);
int			proto_read_subxact(proto_rbuf_t *body, proto_subxact_t *m);

int			proto_write_stream_abort(proto_wbuf_t *b, const proto_stream_abort_t *m);
int			proto_read_stream_abort(proto_rbuf_t *body, proto_stream_abort_t *m);

int			proto_write_stream_commit(proto_wbuf_t *b, const proto_stream_commit_t *m);
int			proto_read_stream_commit(proto_rbuf_t *body, proto_stream_commit_t *m);

/* proto_is_stream_msg - one of the stream messages (never in a segment)? */
static inline bool
proto_is_stream_msg(uint8_t type)
{
	return type == PROTO_MSG_STREAM_START || type == PROTO_MSG_STREAM_STOP ||
		type == PROTO_MSG_SUBXACT || type == PROTO_MSG_STREAM_ABORT ||
		type == PROTO_MSG_STREAM_COMMIT;
}

/*
 * proto_tuple_write / proto_tuple_read - the row encoding alone (used inside
 * I/U/D bodies; exposed for the segment and applier code).
 */
int			proto_tuple_write(proto_wbuf_t *b, const proto_relation_t *rel,
							  const proto_tuple_t *t);
int			proto_tuple_read(proto_rbuf_t *r, const proto_relation_t *rel,
							 proto_tuple_t *t);

/* proto_fixed_width - the PROTO_ENC_FIXED width of a built-in type, or 0. */
int			proto_fixed_width(uint32_t typoid);

#endif /* TIDE_WIRE_H */
