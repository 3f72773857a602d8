/*
 * proto/include/tide/value.h
 *		Converting encoded column values to PostgreSQL's text form, and to
 *		their types' binary send format (proto_value_send).
 *
 * The decoder ships values in the cheapest stable form (FORMAT.md, "Value
 * encodings"); consumers that need text (inspect, the applier's text paths)
 * convert here, outside the source server.  Output matches what the source
 * server's output function prints for the same value wherever this module
 * knows the type; everything else is rendered as a \x hex string and the
 * function returns TIDE_EBADTYPE after writing it, so callers can tell.
 */
#ifndef TIDE_VALUE_H
#define TIDE_VALUE_H

#include <stdint.h>

#include "tide/buf.h"

/* Built-in type OIDs (pg_type.h); stable across PostgreSQL versions. */
#define PROTO_BOOLOID 16
#define PROTO_BYTEAOID 17
#define PROTO_CHAROID 18
#define PROTO_NAMEOID 19
#define PROTO_INT8OID 20
#define PROTO_INT2OID 21
#define PROTO_INT4OID 23
#define PROTO_TEXTOID 25
#define PROTO_OIDOID 26
#define PROTO_XIDOID 28
#define PROTO_JSONOID 114
#define PROTO_XMLOID 142
#define PROTO_FLOAT4OID 700
#define PROTO_FLOAT8OID 701
#define PROTO_MONEYOID 790
#define PROTO_MACADDROID 829
#define PROTO_INETOID 869
#define PROTO_CIDROID 650
#define PROTO_MACADDR8OID 774
#define PROTO_BPCHAROID 1042
#define PROTO_VARCHAROID 1043
#define PROTO_DATEOID 1082
#define PROTO_TIMEOID 1083
#define PROTO_TIMESTAMPOID 1114
#define PROTO_TIMESTAMPTZOID 1184
#define PROTO_INTERVALOID 1186
#define PROTO_TIMETZOID 1266
#define PROTO_NUMERICOID 1700
#define PROTO_UUIDOID 2950
#define PROTO_JSONBOID 3802

/*
 * proto_value_text - append the text form of one value to out.
 *   encoding:   PROTO_ENC_* of the column
 *   basetypoid: the column's basetypoid (the type whose encoding is used)
 *   data/len:   the value bytes as carried in the row
 * Returns 0, TIDE_EBADTYPE when the type is not known here (a \x hex form
 * was written instead), TIDE_EBADVALUE when the bytes are malformed for the
 * type (nothing useful written), or out->err.
 */
int			proto_value_text(proto_wbuf_t *out, uint8_t encoding,
							 uint32_t basetypoid, const uint8_t *data,
							 uint32_t len);

/*
 * proto_value_send - append one value in its type's binary send format,
 * what a binary COPY field or a binary parameter carries (the replica's
 * receive function reads it without parsing text).
 *   encoding, basetypoid, data/len: as for proto_value_text
 * Fixed-width values have their fields turned to network byte order; send
 * formats pass as they came; text-like types (not xml) and bytea are their
 * bytes; jsonb is jsonb_send's version byte and the document's text.
 * Returns 0, TIDE_EBADTYPE when the value has no binary form tide can
 * vouch for (PROTO_ENC_TEXT, xml, unknown types: nothing written, send
 * text), TIDE_EBADVALUE when the bytes are malformed (nothing written), or
 * out->err.
 */
int			proto_value_send(proto_wbuf_t *out, uint8_t encoding,
							 uint32_t basetypoid, const uint8_t *data,
							 uint32_t len);

/*
 * proto_value_send_ok - would proto_value_send take values of this
 * encoding and base type (whatever their bytes)?
 */
int			proto_value_send_ok(uint8_t encoding, uint32_t basetypoid);

/*
 * proto_value_quote - append s quoted as a SQL literal ('it''s') or, when
 * json is true, as a JSON string ("it's").
 */
void		proto_value_quote(proto_wbuf_t *out, const char *s, size_t n,
							  int json);

/*
 * jsonb travels as a compact tree (FORMAT.md, "jsonb values"), one tag
 * byte per value.
 */
#define PROTO_JSONB_NULL 0
#define PROTO_JSONB_FALSE 1
#define PROTO_JSONB_TRUE 2
#define PROTO_JSONB_STRING 3	/* varint length, bytes */
#define PROTO_JSONB_INT 4		/* svarint: an integral numeric */
#define PROTO_JSONB_NUMERIC 5	/* u8 sign, svarint weight, varint dscale,
								 * varint ndigits, varints base-10000 digits */
#define PROTO_JSONB_ARRAY 6		/* varint count, values */
#define PROTO_JSONB_OBJECT 7	/* varint count, (str key, value) pairs */
#define PROTO_JSONB_TEXT 8		/* top level only: str, jsonb_out's text of a
								 * document nested too deep for the tree */

/*
 * proto_jsonb_compact - the compact tree of a stored jsonb container (what
 * VARDATA_ANY of a detoasted jsonb points at, in this host's byte order).
 * Appends to out; on error nothing is left appended: TIDE_EBADVALUE for a
 * damaged container, TIDE_ETOOLONG for one nested deeper than 4096 levels
 * (the decoder then sends PROTO_JSONB_TEXT).
 */
int			proto_jsonb_compact(proto_wbuf_t *out, const uint8_t *container,
								size_t len);

/* proto_jsonb_text - a compact tree as jsonb_out prints it. */
int			proto_jsonb_text(proto_wbuf_t *out, const uint8_t *data, size_t len);

/* proto_jsonb_container_text - a stored container as jsonb_out prints it. */
int			proto_jsonb_container_text(proto_wbuf_t *out, const uint8_t *root,
									   size_t n);

#endif /* TIDE_VALUE_H */
