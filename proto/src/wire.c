/*
 * proto/src/wire.c
 *		Encoding and decoding of the decoder's wire messages.
 *
 * Every writer below has its reader right after it, field for field, so the
 * two cannot drift apart.  The byte tables are in proto/FORMAT.md.
 */
#include "tide/wire.h"

#define TUPLE_HAS_NULLS 0x01
#define TUPLE_HAS_UNCHANGED 0x02

/* ---------------------------------------------------------------- framing */

size_t
proto_msg_begin(proto_wbuf_t *b, uint8_t type)
{
	size_t		start = b->len;

	if (proto_wbuf_ensure(b, 1 + PROTO_LEN_RESERVE) == 0)
	{
		b->data[b->len++] = type;
		b->len += PROTO_LEN_RESERVE;
	}
	return start;
}

int
proto_msg_end(proto_wbuf_t *b, size_t start)
{
	size_t		body = start + 1 + PROTO_LEN_RESERVE;
	size_t		n;
	size_t		k;
	uint8_t    *p;

	if (b->err)
		return b->err;
	n = b->len - body;
	if (n > PROTO_MAX_BODY)
		return b->err = TIDE_ETOOLONG;
	k = proto_varint_size(n);
	/*
	 * Most rows need exactly the reserved room; a short body moves down one
	 * byte, a long one (16 KiB or more) moves up, a cost small beside its
	 * size.
	 */
	if (k > PROTO_LEN_RESERVE)
	{
		if (proto_wbuf_ensure(b, k - PROTO_LEN_RESERVE) != 0)
			return b->err;
		memmove(b->data + start + 1 + k, b->data + body, n);
	}
	else if (k < PROTO_LEN_RESERVE)
		memmove(b->data + start + 1 + k, b->data + body, n);
	p = b->data + start + 1;
	for (uint64_t v = n; v >= 0x80; v >>= 7)
		*p++ = (uint8_t) (v | 0x80);
	*p = (uint8_t) (n >> (7 * (k - 1)));
	b->len = start + 1 + k + n;
	return 0;
}

int
proto_read_msg(proto_rbuf_t *frame, uint8_t *type, proto_rbuf_t *body)
{
	uint64_t	n;
	const uint8_t *p;

	if (frame->err)
		return frame->err;
	if (frame->pos == frame->len)
		return TIDE_EEOF;
	if (proto_get_u8(frame, type) || proto_get_varint(frame, &n))
		return frame->err;
	if (n > frame->len - frame->pos)
		return proto_rbuf_fail(frame, TIDE_ETRUNCATED);
	proto_get_bytes(frame, (size_t) n, &p);
	proto_rbuf_init(body, p, (size_t) n);
	return 0;
}

/* proto__read_end - a body must be consumed exactly. */
static int
read_end(proto_rbuf_t *r)
{
	if (r->err)
		return r->err;
	if (r->pos != r->len)
		return proto_rbuf_fail(r, TIDE_ETRAILING);
	return 0;
}

static void
put_pstr(proto_wbuf_t *b, proto_str_t s)
{
	proto_put_str(b, s.p, s.n);
}

static int
get_pstr(proto_rbuf_t *r, size_t maxlen, proto_str_t *s)
{
	return proto_get_str(r, maxlen, &s->p, &s->n);
}

static int
finish(proto_wbuf_t *b, size_t start)
{
	return proto_msg_end(b, start);
}

/* ---------------------------------------------------------------- STARTUP */

int
proto_write_startup(proto_wbuf_t *b, const proto_startup_t *m)
{
	size_t		start = proto_msg_begin(b, PROTO_MSG_STARTUP);

	proto_put_varint(b, m->format_version);
	proto_put_varint(b, m->flags);
	proto_put_varint(b, m->server_version);
	proto_put_u64(b, m->system_id);
	proto_put_varint(b, m->timeline);
	proto_put_varint(b, m->dboid);
	put_pstr(b, m->dbname);
	put_pstr(b, m->slot);
	put_pstr(b, m->encoding);
	return finish(b, start);
}

int
proto_read_startup(proto_rbuf_t *r, proto_startup_t *m)
{
	proto_get_varint32(r, &m->format_version);
	proto_get_varint32(r, &m->flags);
	proto_get_varint32(r, &m->server_version);
	proto_get_u64(r, &m->system_id);
	proto_get_varint32(r, &m->timeline);
	proto_get_varint32(r, &m->dboid);
	get_pstr(r, PROTO_MAX_NAME, &m->dbname);
	get_pstr(r, PROTO_MAX_NAME, &m->slot);
	get_pstr(r, PROTO_MAX_NAME, &m->encoding);
	if (r->err == 0 && (m->format_version < PROTO_FORMAT_VERSION_MIN ||
						m->format_version > PROTO_FORMAT_VERSION))
		return proto_rbuf_fail(r, TIDE_EBADVERSION);
	if (r->err == 0 && (m->flags & ~PROTO_STARTUP_BIG_ENDIAN) != 0)
		return proto_rbuf_fail(r, TIDE_EBADVALUE);
	return read_end(r);
}

/* ------------------------------------------------------------------ BEGIN */

int
proto_write_begin(proto_wbuf_t *b, const proto_begin_t *m)
{
	size_t		start = proto_msg_begin(b, PROTO_MSG_BEGIN);

	proto_put_u64(b, m->final_lsn);
	proto_put_u64(b, (uint64_t) m->commit_time);
	proto_put_varint(b, m->xid);
	return finish(b, start);
}

int
proto_read_begin(proto_rbuf_t *r, proto_begin_t *m)
{
	uint64_t	t;

	proto_get_u64(r, &m->final_lsn);
	if (proto_get_u64(r, &t) == 0)
		m->commit_time = (proto_time_t) t;
	proto_get_varint32(r, &m->xid);
	return read_end(r);
}

/* ----------------------------------------------------------------- COMMIT */

int
proto_write_commit(proto_wbuf_t *b, const proto_commit_t *m)
{
	size_t		start = proto_msg_begin(b, PROTO_MSG_COMMIT);

	proto_put_varint(b, m->flags);
	proto_put_u64(b, m->end_lsn);
	proto_put_varint(b, m->nchanges);
	return finish(b, start);
}

int
proto_read_commit(proto_rbuf_t *r, proto_commit_t *m)
{
	proto_get_varint32(r, &m->flags);
	proto_get_u64(r, &m->end_lsn);
	proto_get_varint(r, &m->nchanges);
	if (r->err == 0 && m->flags != 0)
		return proto_rbuf_fail(r, TIDE_EBADVALUE);
	return read_end(r);
}

/* ----------------------------------------------------------------- ORIGIN */

int
proto_write_origin(proto_wbuf_t *b, const proto_origin_t *m)
{
	size_t		start = proto_msg_begin(b, PROTO_MSG_ORIGIN);

	proto_put_u64(b, m->origin_lsn);
	put_pstr(b, m->name);
	return finish(b, start);
}

int
proto_read_origin(proto_rbuf_t *r, proto_origin_t *m)
{
	proto_get_u64(r, &m->origin_lsn);
	get_pstr(r, PROTO_MAX_NAME, &m->name);
	return read_end(r);
}

/* --------------------------------------------------------------- RELATION */

static bool
valid_replident(uint8_t c)
{
	return c == PROTO_IDENT_DEFAULT || c == PROTO_IDENT_NOTHING ||
		c == PROTO_IDENT_FULL || c == PROTO_IDENT_INDEX;
}

static bool
valid_column(const proto_column_t *c)
{
	if (c->flags & ~PROTO_COL_KEY)
		return false;
	switch (c->encoding)
	{
		case PROTO_ENC_FIXED:
			return c->width >= 1 && c->width <= 16;
		case PROTO_ENC_BYTES:
		case PROTO_ENC_JSONB:
		case PROTO_ENC_BINARY:
		case PROTO_ENC_TEXT:
			return c->width == 0;
		default:
			return false;
	}
}

/* a partition's bound only comes with the partition's root */
static bool
valid_rel_flags(uint8_t f)
{
	if (f & ~(PROTO_REL_PARTITION | PROTO_REL_BOUND))
		return false;
	return !(f & PROTO_REL_BOUND) || (f & PROTO_REL_PARTITION);
}

int
proto_write_relation(proto_wbuf_t *b, const proto_relation_t *m)
{
	size_t		start;

	if (!valid_replident(m->replident) || !valid_rel_flags(m->flags) ||
		m->natts > PROTO_MAX_COLUMNS)
		return b->err = TIDE_EBADVALUE;
	start = proto_msg_begin(b, PROTO_MSG_RELATION);
	proto_put_varint(b, m->relid);
	proto_put_u8(b, m->replident);
	proto_put_u8(b, m->flags);
	put_pstr(b, m->nspname);
	put_pstr(b, m->relname);
	if (m->flags & PROTO_REL_PARTITION)
	{
		proto_put_varint(b, m->root_relid);
		put_pstr(b, m->root_nspname);
		put_pstr(b, m->root_relname);
	}
	if (m->flags & PROTO_REL_BOUND)
	{
		proto_put_varint(b, m->parent_relid);
		put_pstr(b, m->parent_nspname);
		put_pstr(b, m->parent_relname);
		put_pstr(b, m->bound);
		put_pstr(b, m->partkey);
	}
	proto_put_varint(b, m->natts);
	for (int i = 0; i < m->natts; i++)
	{
		const proto_column_t *c = &m->cols[i];

		if (!valid_column(c))
			return b->err = TIDE_EBADVALUE;
		proto_put_u8(b, c->flags);
		proto_put_u8(b, c->encoding);
		proto_put_u8(b, c->width);
		proto_put_varint(b, c->typoid);
		proto_put_varint(b, c->basetypoid);
		proto_put_svarint(b, c->typmod);
		put_pstr(b, c->name);
		put_pstr(b, c->typname);
	}
	return finish(b, start);
}

int
proto_read_relation(proto_rbuf_t *r, proto_relation_t *m,
					proto_column_t *cols, size_t maxcols)
{
	uint32_t	natts = 0;

	proto_get_varint32(r, &m->relid);
	proto_get_u8(r, &m->replident);
	proto_get_u8(r, &m->flags);
	get_pstr(r, PROTO_MAX_NAME, &m->nspname);
	get_pstr(r, PROTO_MAX_NAME, &m->relname);
	if (r->err)
		return r->err;
	if (!valid_replident(m->replident) || !valid_rel_flags(m->flags))
		return proto_rbuf_fail(r, TIDE_EBADVALUE);
	m->root_relid = 0;
	m->root_nspname.p = m->root_relname.p = NULL;
	m->root_nspname.n = m->root_relname.n = 0;
	m->parent_relid = 0;
	m->parent_nspname.p = m->parent_relname.p = m->bound.p = m->partkey.p = NULL;
	m->parent_nspname.n = m->parent_relname.n = m->bound.n = m->partkey.n = 0;
	if (m->flags & PROTO_REL_PARTITION)
	{
		proto_get_varint32(r, &m->root_relid);
		get_pstr(r, PROTO_MAX_NAME, &m->root_nspname);
		get_pstr(r, PROTO_MAX_NAME, &m->root_relname);
	}
	if (m->flags & PROTO_REL_BOUND)
	{
		proto_get_varint32(r, &m->parent_relid);
		get_pstr(r, PROTO_MAX_NAME, &m->parent_nspname);
		get_pstr(r, PROTO_MAX_NAME, &m->parent_relname);
		get_pstr(r, PROTO_MAX_EXPR, &m->bound);
		get_pstr(r, PROTO_MAX_EXPR, &m->partkey);
	}
	if (proto_get_varint32(r, &natts))
		return r->err;
	if (natts > PROTO_MAX_COLUMNS || natts > maxcols)
		return proto_rbuf_fail(r, TIDE_ETOOLONG);
	m->natts = (uint16_t) natts;
	m->cols = cols;
	for (uint32_t i = 0; i < natts; i++)
	{
		proto_column_t *c = &cols[i];
		int64_t		typmod = 0;

		proto_get_u8(r, &c->flags);
		proto_get_u8(r, &c->encoding);
		proto_get_u8(r, &c->width);
		proto_get_varint32(r, &c->typoid);
		proto_get_varint32(r, &c->basetypoid);
		proto_get_svarint(r, &typmod);
		get_pstr(r, PROTO_MAX_NAME, &c->name);
		get_pstr(r, PROTO_MAX_NAME, &c->typname);
		if (r->err)
			return r->err;
		if (typmod < INT32_MIN || typmod > INT32_MAX || !valid_column(c))
			return proto_rbuf_fail(r, TIDE_EBADVALUE);
		c->typmod = (int32_t) typmod;
	}
	return read_end(r);
}

int
proto_read_relid(proto_rbuf_t body, uint32_t *relid)
{
	return proto_get_varint32(&body, relid);
}

/* ------------------------------------------------------------------ rows */

int
proto_tuple_write(proto_wbuf_t *b, const proto_relation_t *rel,
				  const proto_tuple_t *t)
{
	uint8_t		flags = 0;
	size_t		nbytes = ((size_t) t->natts + 7) / 8;

	if (t->natts != rel->natts)
		return b->err = TIDE_ENATTS;
	for (int i = 0; i < t->natts; i++)
	{
		if (t->cols[i].kind == PROTO_DATUM_NULL)
			flags |= TUPLE_HAS_NULLS;
		else if (t->cols[i].kind == PROTO_DATUM_UNCHANGED)
			flags |= TUPLE_HAS_UNCHANGED;
		else if (t->cols[i].kind != PROTO_DATUM_VALUE)
			return b->err = TIDE_EBADVALUE;
	}
	proto_put_u8(b, flags);
	proto_put_varint(b, t->natts);
	for (uint8_t kind = PROTO_DATUM_NULL, f = TUPLE_HAS_NULLS; f <= TUPLE_HAS_UNCHANGED;
		 kind = PROTO_DATUM_UNCHANGED, f <<= 1)
	{
		if (!(flags & f) || proto_wbuf_ensure(b, nbytes))
			continue;
		memset(b->data + b->len, 0, nbytes);
		for (int i = 0; i < t->natts; i++)
			if (t->cols[i].kind == kind)
				b->data[b->len + i / 8] |= (uint8_t) (1 << (i % 8));
		b->len += nbytes;
	}
	for (int i = 0; i < t->natts; i++)
	{
		const proto_datum_t *d = &t->cols[i];
		const proto_column_t *c = &rel->cols[i];

		if (d->kind != PROTO_DATUM_VALUE)
			continue;
		if (c->encoding == PROTO_ENC_FIXED)
		{
			if (d->len != c->width)
				return b->err = TIDE_EBADVALUE;
		}
		else
		{
			if (d->len > PROTO_MAX_VALUE)
				return b->err = TIDE_ETOOLONG;
			proto_put_varint(b, d->len);
		}
		proto_put_bytes(b, d->data, d->len);
	}
	return b->err;
}

static inline bool
bit_set(const uint8_t *bm, int i)
{
	return bm != NULL && (bm[i / 8] & (1 << (i % 8))) != 0;
}

int
proto_tuple_read(proto_rbuf_t *r, const proto_relation_t *rel, proto_tuple_t *t)
{
	uint8_t		flags = 0;
	uint32_t	natts = 0;
	const uint8_t *nulls = NULL;
	const uint8_t *unchanged = NULL;
	size_t		nbytes;

	proto_get_u8(r, &flags);
	if (proto_get_varint32(r, &natts))
		return r->err;
	if (flags & ~(TUPLE_HAS_NULLS | TUPLE_HAS_UNCHANGED))
		return proto_rbuf_fail(r, TIDE_EBADVALUE);
	if (natts != rel->natts)
		return proto_rbuf_fail(r, TIDE_ENATTS);
	nbytes = ((size_t) natts + 7) / 8;
	if (flags & TUPLE_HAS_NULLS)
		proto_get_bytes(r, nbytes, &nulls);
	if (flags & TUPLE_HAS_UNCHANGED)
		proto_get_bytes(r, nbytes, &unchanged);
	if (r->err)
		return r->err;
	t->natts = (uint16_t) natts;
	for (uint32_t i = 0; i < natts; i++)
	{
		proto_datum_t *d = &t->cols[i];
		const proto_column_t *c = &rel->cols[i];
		uint64_t	len;

		d->data = NULL;
		d->len = 0;
		if (bit_set(nulls, i))
		{
			if (bit_set(unchanged, i))
				return proto_rbuf_fail(r, TIDE_EBADVALUE);
			d->kind = PROTO_DATUM_NULL;
			continue;
		}
		if (bit_set(unchanged, i))
		{
			d->kind = PROTO_DATUM_UNCHANGED;
			continue;
		}
		d->kind = PROTO_DATUM_VALUE;
		if (c->encoding == PROTO_ENC_FIXED)
			len = c->width;
		else if (proto_get_varint(r, &len))
			return r->err;
		else if (len > PROTO_MAX_VALUE)
			return proto_rbuf_fail(r, TIDE_ETOOLONG);
		if (proto_get_bytes(r, (size_t) len, &d->data))
			return r->err;
		d->len = (uint32_t) len;
	}
	return 0;
}

/* proto__tuple_has_unchanged - only an UPDATE's new row may hold them. */
static bool
tuple_has_unchanged(const proto_tuple_t *t)
{
	for (int i = 0; i < t->natts; i++)
		if (t->cols[i].kind == PROTO_DATUM_UNCHANGED)
			return true;
	return false;
}

/* ----------------------------------------------------------------- INSERT */

int
proto_write_insert(proto_wbuf_t *b, const proto_relation_t *rel,
				   const proto_insert_t *m)
{
	size_t		start;

	if (tuple_has_unchanged(&m->newtup) || m->relid != rel->relid)
		return b->err = TIDE_EBADVALUE;
	start = proto_msg_begin(b, PROTO_MSG_INSERT);
	proto_put_varint(b, m->relid);
	proto_tuple_write(b, rel, &m->newtup);
	return finish(b, start);
}

int
proto_read_insert(proto_rbuf_t *r, const proto_relation_t *rel,
				  proto_insert_t *m)
{
	if (proto_get_varint32(r, &m->relid))
		return r->err;
	if (m->relid != rel->relid)
		return proto_rbuf_fail(r, TIDE_ENORELATION);
	if (proto_tuple_read(r, rel, &m->newtup))
		return r->err;
	if (tuple_has_unchanged(&m->newtup))
		return proto_rbuf_fail(r, TIDE_EBADVALUE);
	return read_end(r);
}

/* ----------------------------------------------------------------- UPDATE */

int
proto_write_update(proto_wbuf_t *b, const proto_relation_t *rel,
				   const proto_update_t *m)
{
	size_t		start;

	if (m->relid != rel->relid ||
		(m->old_kind != PROTO_OLD_NONE && m->old_kind != PROTO_OLD_KEY &&
		 m->old_kind != PROTO_OLD_FULL) ||
		(m->old_kind != PROTO_OLD_NONE && tuple_has_unchanged(&m->oldtup)))
		return b->err = TIDE_EBADVALUE;
	start = proto_msg_begin(b, PROTO_MSG_UPDATE);
	proto_put_varint(b, m->relid);
	proto_put_u8(b, m->old_kind);
	if (m->old_kind != PROTO_OLD_NONE)
		proto_tuple_write(b, rel, &m->oldtup);
	proto_tuple_write(b, rel, &m->newtup);
	return finish(b, start);
}

int
proto_read_update(proto_rbuf_t *r, const proto_relation_t *rel,
				  proto_update_t *m)
{
	if (proto_get_varint32(r, &m->relid) || proto_get_u8(r, &m->old_kind))
		return r->err;
	if (m->relid != rel->relid)
		return proto_rbuf_fail(r, TIDE_ENORELATION);
	if (m->old_kind != PROTO_OLD_NONE && m->old_kind != PROTO_OLD_KEY &&
		m->old_kind != PROTO_OLD_FULL)
		return proto_rbuf_fail(r, TIDE_EBADVALUE);
	if (m->old_kind != PROTO_OLD_NONE)
	{
		if (proto_tuple_read(r, rel, &m->oldtup))
			return r->err;
		if (tuple_has_unchanged(&m->oldtup))
			return proto_rbuf_fail(r, TIDE_EBADVALUE);
	}
	if (proto_tuple_read(r, rel, &m->newtup))
		return r->err;
	return read_end(r);
}

/* ----------------------------------------------------------------- DELETE */

int
proto_write_delete(proto_wbuf_t *b, const proto_relation_t *rel,
				   const proto_delete_t *m)
{
	size_t		start;

	if (m->relid != rel->relid ||
		(m->old_kind != PROTO_OLD_NONE && m->old_kind != PROTO_OLD_KEY &&
		 m->old_kind != PROTO_OLD_FULL) ||
		(m->old_kind != PROTO_OLD_NONE && tuple_has_unchanged(&m->oldtup)))
		return b->err = TIDE_EBADVALUE;
	start = proto_msg_begin(b, PROTO_MSG_DELETE);
	proto_put_varint(b, m->relid);
	proto_put_u8(b, m->old_kind);
	/* old kind none: the source logged no old row (no replica identity) */
	if (m->old_kind != PROTO_OLD_NONE)
		proto_tuple_write(b, rel, &m->oldtup);
	return finish(b, start);
}

int
proto_read_delete(proto_rbuf_t *r, const proto_relation_t *rel,
				  proto_delete_t *m)
{
	if (proto_get_varint32(r, &m->relid) || proto_get_u8(r, &m->old_kind))
		return r->err;
	if (m->relid != rel->relid)
		return proto_rbuf_fail(r, TIDE_ENORELATION);
	if (m->old_kind != PROTO_OLD_NONE && m->old_kind != PROTO_OLD_KEY &&
		m->old_kind != PROTO_OLD_FULL)
		return proto_rbuf_fail(r, TIDE_EBADVALUE);
	if (m->old_kind == PROTO_OLD_NONE)
	{
		m->oldtup.natts = 0;
		return read_end(r);
	}
	if (proto_tuple_read(r, rel, &m->oldtup))
		return r->err;
	if (tuple_has_unchanged(&m->oldtup))
		return proto_rbuf_fail(r, TIDE_EBADVALUE);
	return read_end(r);
}

/* --------------------------------------------------------------- TRUNCATE */

int
proto_write_truncate(proto_wbuf_t *b, const proto_truncate_t *m)
{
	size_t		start;

	if ((m->flags & ~(PROTO_TRUNCATE_CASCADE | PROTO_TRUNCATE_RESTART_IDENTITY)) ||
		m->nrelids == 0 || m->nrelids > PROTO_MAX_TRUNCATE)
		return b->err = TIDE_EBADVALUE;
	start = proto_msg_begin(b, PROTO_MSG_TRUNCATE);
	proto_put_u8(b, m->flags);
	proto_put_varint(b, m->nrelids);
	for (uint32_t i = 0; i < m->nrelids; i++)
		proto_put_varint(b, m->relids[i]);
	return finish(b, start);
}

int
proto_read_truncate(proto_rbuf_t *r, proto_truncate_t *m,
					uint32_t *relids, size_t maxrels)
{
	if (proto_get_u8(r, &m->flags) || proto_get_varint32(r, &m->nrelids))
		return r->err;
	if (m->flags & ~(PROTO_TRUNCATE_CASCADE | PROTO_TRUNCATE_RESTART_IDENTITY) ||
		m->nrelids == 0)
		return proto_rbuf_fail(r, TIDE_EBADVALUE);
	if (m->nrelids > PROTO_MAX_TRUNCATE || m->nrelids > maxrels)
		return proto_rbuf_fail(r, TIDE_ETOOLONG);
	m->relids = relids;
	for (uint32_t i = 0; i < m->nrelids; i++)
		proto_get_varint32(r, &relids[i]);
	return read_end(r);
}

/* ---------------------------------------------------------------- MESSAGE */

int
proto_write_message(proto_wbuf_t *b, const proto_message_t *m)
{
	size_t		start;

	if (m->flags & ~PROTO_MESSAGE_TRANSACTIONAL)
		return b->err = TIDE_EBADVALUE;
	start = proto_msg_begin(b, PROTO_MSG_MESSAGE);
	proto_put_u8(b, m->flags);
	proto_put_u64(b, m->lsn);
	put_pstr(b, m->prefix);
	put_pstr(b, m->payload);
	return finish(b, start);
}

int
proto_read_message(proto_rbuf_t *r, proto_message_t *m)
{
	proto_get_u8(r, &m->flags);
	proto_get_u64(r, &m->lsn);
	get_pstr(r, PROTO_MAX_NAME, &m->prefix);
	get_pstr(r, PROTO_MAX_VALUE, &m->payload);
	if (r->err == 0 && (m->flags & ~PROTO_MESSAGE_TRANSACTIONAL))
		return proto_rbuf_fail(r, TIDE_EBADVALUE);
	return read_end(r);
}

/* -------------------------------------------------------- stream messages */

int
proto_write_stream_start(proto_wbuf_t *b, const proto_stream_start_t *m)
{
	size_t		start;

	if (m->xid == 0 || (m->flags & ~PROTO_STREAM_FIRST))
		return b->err = TIDE_EBADVALUE;
	start = proto_msg_begin(b, PROTO_MSG_STREAM_START);
	proto_put_varint(b, m->xid);
	proto_put_u8(b, m->flags);
	return finish(b, start);
}

int
proto_read_stream_start(proto_rbuf_t *r, proto_stream_start_t *m)
{
	proto_get_varint32(r, &m->xid);
	proto_get_u8(r, &m->flags);
	if (r->err == 0 && (m->xid == 0 || (m->flags & ~PROTO_STREAM_FIRST)))
		return proto_rbuf_fail(r, TIDE_EBADVALUE);
	return read_end(r);
}

int
proto_write_stream_stop(proto_wbuf_t *b, const proto_stream_stop_t *m)
{
	size_t		start;

	if (m->xid == 0)
		return b->err = TIDE_EBADVALUE;
	start = proto_msg_begin(b, PROTO_MSG_STREAM_STOP);
	proto_put_varint(b, m->xid);
	return finish(b, start);
}

int
proto_read_stream_stop(proto_rbuf_t *r, proto_stream_stop_t *m)
{
	proto_get_varint32(r, &m->xid);
	if (r->err == 0 && m->xid == 0)
		return proto_rbuf_fail(r, TIDE_EBADVALUE);
	return read_end(r);
}

int
proto_write_subxact(proto_wbuf_t *b, const proto_subxact_t *m)
{
	size_t		start;

	if (m->xid == 0)
		return b->err = TIDE_EBADVALUE;
	start = proto_msg_begin(b, PROTO_MSG_SUBXACT);
	proto_put_varint(b, m->xid);
	return finish(b, start);
}

int
proto_read_subxact(proto_rbuf_t *r, proto_subxact_t *m)
{
	proto_get_varint32(r, &m->xid);
	if (r->err == 0 && m->xid == 0)
		return proto_rbuf_fail(r, TIDE_EBADVALUE);
	return read_end(r);
}

int
proto_write_stream_abort(proto_wbuf_t *b, const proto_stream_abort_t *m)
{
	size_t		start;

	if (m->xid == 0 || m->subxid == 0)
		return b->err = TIDE_EBADVALUE;
	start = proto_msg_begin(b, PROTO_MSG_STREAM_ABORT);
	proto_put_varint(b, m->xid);
	proto_put_varint(b, m->subxid);
	proto_put_u64(b, m->abort_lsn);
	return finish(b, start);
}

int
proto_read_stream_abort(proto_rbuf_t *r, proto_stream_abort_t *m)
{
	proto_get_varint32(r, &m->xid);
	proto_get_varint32(r, &m->subxid);
	proto_get_u64(r, &m->abort_lsn);
	if (r->err == 0 && (m->xid == 0 || m->subxid == 0))
		return proto_rbuf_fail(r, TIDE_EBADVALUE);
	return read_end(r);
}

int
proto_write_stream_commit(proto_wbuf_t *b, const proto_stream_commit_t *m)
{
	size_t		start;

	if (m->xid == 0 || (m->flags & ~PROTO_STREAM_COMMIT_ORIGIN))
		return b->err = TIDE_EBADVALUE;
	start = proto_msg_begin(b, PROTO_MSG_STREAM_COMMIT);
	proto_put_varint(b, m->xid);
	proto_put_varint(b, m->flags);
	proto_put_u64(b, m->final_lsn);
	proto_put_u64(b, m->end_lsn);
	proto_put_u64(b, (uint64_t) m->commit_time);
	proto_put_varint(b, m->nchanges);
	if (m->flags & PROTO_STREAM_COMMIT_ORIGIN)
	{
		proto_put_u64(b, m->origin_lsn);
		put_pstr(b, m->origin);
	}
	return finish(b, start);
}

int
proto_read_stream_commit(proto_rbuf_t *r, proto_stream_commit_t *m)
{
	uint64_t	t = 0;

	proto_get_varint32(r, &m->xid);
	proto_get_varint32(r, &m->flags);
	proto_get_u64(r, &m->final_lsn);
	proto_get_u64(r, &m->end_lsn);
	proto_get_u64(r, &t);
	m->commit_time = (proto_time_t) t;
	proto_get_varint(r, &m->nchanges);
	if (r->err)
		return r->err;
	if (m->xid == 0 || (m->flags & ~PROTO_STREAM_COMMIT_ORIGIN))
		return proto_rbuf_fail(r, TIDE_EBADVALUE);
	m->origin_lsn = 0;
	m->origin.p = NULL;
	m->origin.n = 0;
	if (m->flags & PROTO_STREAM_COMMIT_ORIGIN)
	{
		proto_get_u64(r, &m->origin_lsn);
		get_pstr(r, PROTO_MAX_NAME, &m->origin);
	}
	return read_end(r);
}

/* ----------------------------------------------------------------- types */

int
proto_fixed_width(uint32_t typoid)
{
	switch (typoid)
	{
		case 16:				/* bool */
		case 18:				/* "char" */
			return 1;
		case 21:				/* int2 */
			return 2;
		case 23:				/* int4 */
		case 26:				/* oid */
		case 700:				/* float4 */
		case 1082:				/* date */
			return 4;
		case 829:				/* macaddr */
			return 6;
		case 20:				/* int8 */
		case 701:				/* float8 */
		case 790:				/* money */
		case 1083:				/* time */
		case 1114:				/* timestamp */
		case 1184:				/* timestamptz */
		case 774:				/* macaddr8 */
			return 8;
		case 1266:				/* timetz */
			return 12;
		case 1186:				/* interval */
		case 2950:				/* uuid */
			return 16;
		default:
			return 0;
	}
}
