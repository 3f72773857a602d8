/*
 * proto/src/render.c
 *		Text and JSON-lines renderings of the wire stream.
 *
 * The text form follows contrib/test_decoding where it can, so PostgreSQL
 * people read it at a glance:
 *		INSERT public.t: id[integer]:1 name[text]:'x'
 * Volatile fields (LSNs, xids, times, OIDs) appear only when asked for, so
 * regression output is deterministic by default.
 */
#include <stdio.h>

#include "tide/render.h"
#include "tide/value.h"

#define MAX_TRUNCATE_SHOWN 4096

static void
put_cstr(proto_wbuf_t *out, const char *s)
{
	proto_put_bytes(out, s, strlen(s));
}

static void
put_pstr(proto_wbuf_t *out, proto_str_t s)
{
	proto_put_bytes(out, s.p, s.n);
}

static void
putf_u64(proto_wbuf_t *out, const char *fmt, uint64_t v)
{
	char		tmp[64];
	int			n = snprintf(tmp, sizeof(tmp), fmt, (unsigned long long) v);

	proto_put_bytes(out, tmp, (size_t) n);
}

static void
put_lsn(proto_wbuf_t *out, proto_lsn_t lsn)
{
	char		tmp[32];
	int			n = snprintf(tmp, sizeof(tmp), "%X/%X",
							 (unsigned) (lsn >> 32), (unsigned) lsn);

	proto_put_bytes(out, tmp, (size_t) n);
}

static void
put_time(proto_wbuf_t *out, proto_time_t t)
{
	uint8_t		le[8];

	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t) ((uint64_t) t >> (8 * i));
	proto_value_text(out, PROTO_ENC_FIXED, PROTO_TIMESTAMPTZOID, le, 8);
}

/* key/value separators for both output styles */
typedef struct
{
	proto_wbuf_t *out;
	bool		json;
	bool		first;
} emit_t;

static void
emit_key(emit_t *e, const char *key)
{
	if (e->json)
	{
		proto_put_bytes(e->out, e->first ? "{\"" : ",\"", 2);
		put_cstr(e->out, key);
		proto_put_bytes(e->out, "\":", 2);
	}
	else
	{
		proto_put_u8(e->out, ' ');
		put_cstr(e->out, key);
		proto_put_u8(e->out, '=');
	}
	e->first = false;
}

static void
emit_str(emit_t *e, const char *key, proto_str_t v)
{
	emit_key(e, key);
	if (e->json)
		proto_value_quote(e->out, v.p, v.n, 1);
	else
		put_pstr(e->out, v);
}

static void
emit_u64(emit_t *e, const char *key, uint64_t v)
{
	emit_key(e, key);
	putf_u64(e->out, "%llu", v);
}

static void
emit_lsn(emit_t *e, const char *key, proto_lsn_t v)
{
	emit_key(e, key);
	if (e->json)
		proto_put_u8(e->out, '"');
	put_lsn(e->out, v);
	if (e->json)
		proto_put_u8(e->out, '"');
}

static void
emit_time(emit_t *e, const char *key, proto_time_t t)
{
	emit_key(e, key);
	proto_put_u8(e->out, e->json ? '"' : '\'');
	put_time(e->out, t);
	proto_put_u8(e->out, e->json ? '"' : '\'');
}

/* the head of a line: "BEGIN" in text, {"type":"begin" in JSON */
static void
emit_head(emit_t *e, const char *text, const char *json)
{
	if (e->json)
	{
		put_cstr(e->out, "{\"type\":\"");
		put_cstr(e->out, json);
		proto_put_u8(e->out, '"');
		e->first = false;
	}
	else
		put_cstr(e->out, text);
}

static void
emit_close(emit_t *e)
{
	if (e->json)
		proto_put_u8(e->out, '}');
}

static void
put_qualified(proto_wbuf_t *out, proto_str_t nsp, proto_str_t rel)
{
	put_pstr(out, nsp);
	proto_put_u8(out, '.');
	put_pstr(out, rel);
}

/*
 * put_literal - s as a SQL literal on one line: '...' with '' doubling, or
 * E'...' with backslash escapes when s holds control characters, so a
 * rendered message never spans lines (test_decoding
 * prints newlines raw; a line-oriented reader then splits one message).
 */
static void
put_literal(proto_wbuf_t *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	bool		escape = false;

	for (size_t i = 0; i < n && !escape; i++)
		escape = (uint8_t) s[i] < 0x20 || s[i] == 0x7f;
	if (!escape)
	{
		proto_value_quote(out, s, n, 0);
		return;
	}
	proto_put_bytes(out, "E'", 2);
	for (size_t i = 0; i < n; i++)
	{
		uint8_t		c = (uint8_t) s[i];

		switch (c)
		{
			case '\'':
				proto_put_bytes(out, "''", 2);
				break;
			case '\\':
				proto_put_bytes(out, "\\\\", 2);
				break;
			case '\n':
				proto_put_bytes(out, "\\n", 2);
				break;
			case '\r':
				proto_put_bytes(out, "\\r", 2);
				break;
			case '\t':
				proto_put_bytes(out, "\\t", 2);
				break;
			default:
				if (c < 0x20 || c == 0x7f)
				{
					proto_put_bytes(out, "\\x", 2);
					proto_put_u8(out, (uint8_t) hex[c >> 4]);
					proto_put_u8(out, (uint8_t) hex[c & 15]);
				}
				else
					proto_put_u8(out, c);
		}
	}
	proto_put_u8(out, '\'');
}

/* ------------------------------------------------------------------ values */

/* Types printed bare (no quotes), as test_decoding does. */
static bool
unquoted_type(uint32_t basetypoid)
{
	switch (basetypoid)
	{
		case PROTO_INT2OID:
		case PROTO_INT4OID:
		case PROTO_INT8OID:
		case PROTO_OIDOID:
		case PROTO_FLOAT4OID:
		case PROTO_FLOAT8OID:
		case PROTO_NUMERICOID:
		case PROTO_BOOLOID:
			return true;
		default:
			return false;
	}
}

/*
 * put_value - render one value.  The text form goes through a scratch
 * buffer because it must be quoted afterwards; scratch is the caller's and
 * is reused across values.
 */
static int
put_value(proto_wbuf_t *out, proto_wbuf_t *scratch, const proto_column_t *c,
		  const proto_datum_t *d, bool json)
{
	int			rc;
	bool		bare;

	if (d->kind == PROTO_DATUM_NULL)
	{
		put_cstr(out, "null");
		return 0;
	}
	if (d->kind == PROTO_DATUM_UNCHANGED)
	{
		put_cstr(out, json ? "{\"unchanged-toast\":true}" : "unchanged-toast-datum");
		return 0;
	}
	proto_wbuf_reset(scratch);
	rc = proto_value_text(scratch, c->encoding, c->basetypoid, d->data, d->len);
	if (scratch->err)
		return scratch->err;
	if (rc != 0 && rc != TIDE_EBADTYPE)
		return rc;
	bare = unquoted_type(c->basetypoid);
	if (json)
	{
		/* JSON numbers cannot say NaN or Infinity: those stay strings */
		if (bare && c->basetypoid != PROTO_BOOLOID && scratch->len > 0 &&
			(scratch->data[0] == '-' || (scratch->data[0] >= '0' && scratch->data[0] <= '9')) &&
			!(scratch->len > 1 && scratch->data[1] == 'I'))
			proto_put_bytes(out, scratch->data, scratch->len);
		else if (c->basetypoid == PROTO_BOOLOID)
			put_cstr(out, scratch->len && scratch->data[0] == 't' ? "true" : "false");
		else if (c->encoding == PROTO_ENC_JSONB || c->basetypoid == PROTO_JSONOID ||
				 c->basetypoid == PROTO_JSONBOID)
			proto_put_bytes(out, scratch->data, scratch->len);
		else
			proto_value_quote(out, (const char *) scratch->data, scratch->len, 1);
	}
	else if (bare)
	{
		if (c->basetypoid == PROTO_BOOLOID)
			put_cstr(out, scratch->len && scratch->data[0] == 't' ? "true" : "false");
		else
			proto_put_bytes(out, scratch->data, scratch->len);
	}
	else
		put_literal(out, (const char *) scratch->data, scratch->len);
	return 0;
}

/*
 * put_tuple - "a[integer]:1 b[text]:'x'" or {"a":1,"b":"x"}.  With
 * key_only, columns outside the replica identity are left out (they are
 * NULL in a key tuple anyway).
 */
static int
put_tuple(proto_wbuf_t *out, proto_wbuf_t *scratch, const proto_relation_t *rel,
		  const proto_tuple_t *t, bool key_only, bool json)
{
	bool		first = true;

	if (json)
		proto_put_u8(out, '{');
	for (int i = 0; i < t->natts; i++)
	{
		const proto_column_t *c = &rel->cols[i];
		int			rc;

		if (key_only && !(c->flags & PROTO_COL_KEY))
			continue;
		if (json)
		{
			if (!first)
				proto_put_u8(out, ',');
			proto_value_quote(out, c->name.p, c->name.n, 1);
			proto_put_u8(out, ':');
		}
		else
		{
			if (!first)
				proto_put_u8(out, ' ');
			put_pstr(out, c->name);
			proto_put_u8(out, '[');
			put_pstr(out, c->typname);
			proto_put_bytes(out, "]:", 2);
		}
		first = false;
		if ((rc = put_value(out, scratch, c, &t->cols[i], json)) != 0)
			return rc;
	}
	if (json)
		proto_put_u8(out, '}');
	return out->err;
}

static const char *
encoding_name(const proto_column_t *c)
{
	switch (c->encoding)
	{
		case PROTO_ENC_FIXED:
			return "fixed";
		case PROTO_ENC_BYTES:
			return "bytes";
		case PROTO_ENC_JSONB:
			return "jsonb";
		case PROTO_ENC_BINARY:
			return "binary";
		default:
			return "text";
	}
}

static const char *
identity_name(uint8_t replident)
{
	switch (replident)
	{
		case PROTO_IDENT_DEFAULT:
			return "default";
		case PROTO_IDENT_NOTHING:
			return "nothing";
		case PROTO_IDENT_FULL:
			return "full";
		default:
			return "index";
	}
}

static void
put_relation(emit_t *e, const proto_relation_t *rel, int flags)
{
	proto_wbuf_t *out = e->out;

	if (e->json)
	{
		emit_str(e, "schema", rel->nspname);
		emit_str(e, "table", rel->relname);
		if (flags & PROTO_RENDER_IDS)
			emit_u64(e, "relid", rel->relid);
		emit_key(e, "identity");
		proto_put_u8(out, '"');
		put_cstr(out, identity_name(rel->replident));
		proto_put_u8(out, '"');
		if (rel->flags & PROTO_REL_PARTITION)
		{
			emit_str(e, "root_schema", rel->root_nspname);
			emit_str(e, "root_table", rel->root_relname);
		}
		if (rel->flags & PROTO_REL_BOUND)
		{
			emit_str(e, "parent_schema", rel->parent_nspname);
			emit_str(e, "parent_table", rel->parent_relname);
			emit_str(e, "bound", rel->bound);
			emit_str(e, "parent_key", rel->partkey);
		}
		emit_key(e, "columns");
		proto_put_u8(out, '[');
		for (int i = 0; i < rel->natts; i++)
		{
			const proto_column_t *c = &rel->cols[i];

			put_cstr(out, i ? ",{\"name\":" : "{\"name\":");
			proto_value_quote(out, c->name.p, c->name.n, 1);
			put_cstr(out, ",\"type\":");
			proto_value_quote(out, c->typname.p, c->typname.n, 1);
			putf_u64(out, ",\"typoid\":%llu", c->typoid);
			putf_u64(out, ",\"basetypoid\":%llu", c->basetypoid);
			putf_u64(out, ",\"typmod\":%lld", (uint64_t) (int64_t) c->typmod);
			put_cstr(out, ",\"encoding\":\"");
			put_cstr(out, encoding_name(c));
			put_cstr(out, (c->flags & PROTO_COL_KEY) ? "\",\"key\":true}" : "\",\"key\":false}");
		}
		proto_put_u8(out, ']');
		return;
	}
	proto_put_u8(out, ' ');
	put_qualified(out, rel->nspname, rel->relname);
	if (rel->flags & PROTO_REL_PARTITION)
	{
		put_cstr(out, " partition of ");
		put_qualified(out, rel->root_nspname, rel->root_relname);
	}
	if (rel->flags & PROTO_REL_BOUND)
	{
		put_cstr(out, " parent ");
		put_qualified(out, rel->parent_nspname, rel->parent_relname);
		put_cstr(out, " (");
		proto_put_bytes(out, rel->partkey.p, rel->partkey.n);
		put_cstr(out, ") ");
		proto_put_bytes(out, rel->bound.p, rel->bound.n);
	}
	put_cstr(out, " identity ");
	put_cstr(out, identity_name(rel->replident));
	if (flags & PROTO_RENDER_IDS)
		putf_u64(out, " relid=%llu", rel->relid);
	put_cstr(out, ":");
	for (int i = 0; i < rel->natts; i++)
	{
		const proto_column_t *c = &rel->cols[i];

		put_cstr(out, i ? ", " : " ");
		put_pstr(out, c->name);
		proto_put_u8(out, '[');
		put_pstr(out, c->typname);
		proto_put_u8(out, ' ');
		put_cstr(out, encoding_name(c));
		if (c->encoding == PROTO_ENC_FIXED)
			putf_u64(out, "%llu", c->width);
		proto_put_u8(out, ']');
		if (c->flags & PROTO_COL_KEY)
			put_cstr(out, " key");
		if (flags & PROTO_RENDER_IDS)
		{
			putf_u64(out, " typoid=%llu", c->typoid);
			putf_u64(out, " basetypoid=%llu", c->basetypoid);
			putf_u64(out, " typmod=%lld", (uint64_t) (int64_t) c->typmod);
		}
	}
}

/* ---------------------------------------------------------------- messages */

static int
render_row(proto_render_t *r, uint8_t type, proto_rbuf_t body, emit_t *e)
{
	proto_relcat_entry_t *ent;
	const proto_relation_t *rel;
	proto_datum_t stack_cols[2][64];
	proto_datum_t *heap = NULL;
	proto_datum_t *oldc;
	proto_datum_t *newc;
	proto_wbuf_t scratch;
	uint32_t	relid;
	uint8_t		old_kind = PROTO_OLD_NONE;
	proto_tuple_t *oldt = NULL;
	proto_tuple_t *newt = NULL;
	proto_insert_t ins;
	proto_update_t upd;
	proto_delete_t del;
	int			rc;

	if ((rc = proto_read_relid(body, &relid)) != 0)
		return rc;
	if ((ent = proto_relcat_get(&r->cat, relid)) == NULL)
		return TIDE_ENORELATION;
	rel = &ent->rel;
	if (rel->natts <= 64)
	{
		oldc = stack_cols[0];
		newc = stack_cols[1];
	}
	else
	{
		heap = r->cat.mem.alloc(r->cat.mem.arg, 2 * rel->natts * sizeof(proto_datum_t));
		if (heap == NULL)
			return TIDE_ENOMEM;
		oldc = heap;
		newc = heap + rel->natts;
	}
	switch (type)
	{
		case PROTO_MSG_INSERT:
			ins.newtup.cols = newc;
			rc = proto_read_insert(&body, rel, &ins);
			newt = &ins.newtup;
			break;
		case PROTO_MSG_UPDATE:
			upd.oldtup.cols = oldc;
			upd.newtup.cols = newc;
			rc = proto_read_update(&body, rel, &upd);
			old_kind = upd.old_kind;
			oldt = &upd.oldtup;
			newt = &upd.newtup;
			break;
		default:
			del.oldtup.cols = oldc;
			rc = proto_read_delete(&body, rel, &del);
			old_kind = del.old_kind;
			oldt = &del.oldtup;
			break;
	}
	proto_wbuf_init_heap(&scratch);
	if (rc == 0)
	{
		const char *verb = type == PROTO_MSG_INSERT ? "insert" :
			type == PROTO_MSG_UPDATE ? "update" : "delete";

		if (e->json)
		{
			emit_head(e, "", verb);
			emit_str(e, "schema", rel->nspname);
			emit_str(e, "table", rel->relname);
			if (old_kind != PROTO_OLD_NONE)
			{
				emit_key(e, old_kind == PROTO_OLD_KEY ? "old_key" : "old");
				rc = put_tuple(e->out, &scratch, rel, oldt, old_kind == PROTO_OLD_KEY, true);
			}
			if (rc == 0 && newt)
			{
				emit_key(e, "new");
				rc = put_tuple(e->out, &scratch, rel, newt, false, true);
			}
			emit_close(e);
		}
		else
		{
			put_cstr(e->out, type == PROTO_MSG_INSERT ? "INSERT " :
					 type == PROTO_MSG_UPDATE ? "UPDATE " : "DELETE ");
			put_qualified(e->out, rel->nspname, rel->relname);
			proto_put_u8(e->out, ':');
			if (old_kind != PROTO_OLD_NONE)
			{
				put_cstr(e->out, old_kind == PROTO_OLD_KEY ? " old-key: " : " old: ");
				rc = put_tuple(e->out, &scratch, rel, oldt, old_kind == PROTO_OLD_KEY, false);
			}
			else if (type == PROTO_MSG_DELETE)
				put_cstr(e->out, " (no old row)");
			if (rc == 0 && newt)
			{
				put_cstr(e->out, type == PROTO_MSG_UPDATE ? " new: " : " ");
				rc = put_tuple(e->out, &scratch, rel, newt, false, false);
			}
		}
	}
	proto_wbuf_free(&scratch);
	if (heap)
		r->cat.mem.free(r->cat.mem.arg, heap);
	return rc;
}

static int
render_truncate(proto_render_t *r, proto_rbuf_t body, emit_t *e)
{
	uint32_t	relids[MAX_TRUNCATE_SHOWN];
	proto_truncate_t m;
	int			rc;

	if ((rc = proto_read_truncate(&body, &m, relids, MAX_TRUNCATE_SHOWN)) != 0)
		return rc;
	emit_head(e, "TRUNCATE", "truncate");
	if (e->json)
		emit_key(e, "relations");
	proto_put_u8(e->out, e->json ? '[' : ' ');
	for (uint32_t i = 0; i < m.nrelids; i++)
	{
		proto_relcat_entry_t *ent = proto_relcat_get(&r->cat, relids[i]);

		if (ent == NULL)
			return TIDE_ENORELATION;
		if (i)
			proto_put_bytes(e->out, e->json ? "," : ", ", e->json ? 1 : 2);
		if (e->json)
		{
			/* "schema.table" as one JSON string: names may hold quotes */
			proto_wbuf_t name;

			proto_wbuf_init_heap(&name);
			put_qualified(&name, ent->rel.nspname, ent->rel.relname);
			if ((rc = name.err) == 0)
				proto_value_quote(e->out, (const char *) name.data, name.len, 1);
			proto_wbuf_free(&name);
			if (rc)
				return rc;
		}
		else
			put_qualified(e->out, ent->rel.nspname, ent->rel.relname);
	}
	if (e->json)
	{
		proto_put_u8(e->out, ']');
		emit_key(e, "cascade");
		put_cstr(e->out, (m.flags & PROTO_TRUNCATE_CASCADE) ? "true" : "false");
		emit_key(e, "restart_identity");
		put_cstr(e->out, (m.flags & PROTO_TRUNCATE_RESTART_IDENTITY) ? "true" : "false");
		emit_close(e);
	}
	else
	{
		if (m.flags & PROTO_TRUNCATE_CASCADE)
			put_cstr(e->out, " cascade");
		if (m.flags & PROTO_TRUNCATE_RESTART_IDENTITY)
			put_cstr(e->out, " restart-identity");
	}
	return e->out->err;
}

static bool
printable(proto_str_t s)
{
	for (size_t i = 0; i < s.n; i++)
	{
		uint8_t		c = (uint8_t) s.p[i];

		if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

static void
put_payload(emit_t *e, proto_str_t p)
{
	static const char hex[] = "0123456789abcdef";

	if (printable(p))
	{
		if (e->json)
			proto_value_quote(e->out, p.p, p.n, 1);
		else
			put_literal(e->out, p.p, p.n);
		return;
	}
	proto_put_bytes(e->out, e->json ? "\"\\\\x" : "'\\x", e->json ? 4 : 3);
	for (size_t i = 0; i < p.n; i++)
	{
		proto_put_u8(e->out, (uint8_t) hex[(uint8_t) p.p[i] >> 4]);
		proto_put_u8(e->out, (uint8_t) hex[(uint8_t) p.p[i] & 15]);
	}
	proto_put_u8(e->out, e->json ? '"' : '\'');
}

int
proto_render_msg(proto_render_t *r, uint8_t type, proto_rbuf_t body,
				 proto_wbuf_t *out)
{
	emit_t		e = {out, (r->flags & PROTO_RENDER_JSON) != 0, true};
	int			f = r->flags;
	int			rc = 0;

	switch (type)
	{
		case PROTO_MSG_STARTUP:
			{
				proto_startup_t m;

				if ((rc = proto_read_startup(&body, &m)) != 0)
					return rc;
				emit_head(&e, "STARTUP", "startup");
				emit_u64(&e, "format", m.format_version);
				emit_str(&e, "db", m.dbname);
				emit_str(&e, "slot", m.slot);
				emit_str(&e, "encoding", m.encoding);
				if (f & PROTO_RENDER_IDS)
				{
					emit_u64(&e, "server_version", m.server_version);
					emit_key(&e, "system_id");
					putf_u64(out, e.json ? "\"%llu\"" : "%llu", m.system_id);
					emit_u64(&e, "timeline", m.timeline);
					emit_u64(&e, "dboid", m.dboid);
				}
				emit_close(&e);
				break;
			}
		case PROTO_MSG_BEGIN:
			{
				proto_begin_t m;

				if ((rc = proto_read_begin(&body, &m)) != 0)
					return rc;
				emit_head(&e, "BEGIN", "begin");
				if (f & PROTO_RENDER_XID)
					emit_u64(&e, "xid", m.xid);
				if (f & PROTO_RENDER_LSN)
					emit_lsn(&e, "lsn", m.final_lsn);
				if (f & PROTO_RENDER_TIME)
					emit_time(&e, "time", m.commit_time);
				emit_close(&e);
				break;
			}
		case PROTO_MSG_COMMIT:
			{
				proto_commit_t m;

				if ((rc = proto_read_commit(&body, &m)) != 0)
					return rc;
				emit_head(&e, "COMMIT", "commit");
				emit_u64(&e, "changes", m.nchanges);
				if (f & PROTO_RENDER_LSN)
					emit_lsn(&e, "end", m.end_lsn);
				emit_close(&e);
				break;
			}
		case PROTO_MSG_ORIGIN:
			{
				proto_origin_t m;

				if ((rc = proto_read_origin(&body, &m)) != 0)
					return rc;
				emit_head(&e, "ORIGIN", "origin");
				emit_str(&e, "name", m.name);
				if (f & PROTO_RENDER_LSN)
					emit_lsn(&e, "lsn", m.origin_lsn);
				emit_close(&e);
				break;
			}
		case PROTO_MSG_RELATION:
			{
				proto_relcat_entry_t *ent;

				if ((rc = proto_relcat_put(&r->cat, body.data + body.pos,
										   body.len - body.pos, &ent)) != 0)
					return rc;
				emit_head(&e, "RELATION", "relation");
				put_relation(&e, &ent->rel, f);
				emit_close(&e);
				break;
			}
		case PROTO_MSG_INSERT:
		case PROTO_MSG_UPDATE:
		case PROTO_MSG_DELETE:
			if ((rc = render_row(r, type, body, &e)) != 0)
				return rc;
			break;
		case PROTO_MSG_TRUNCATE:
			return render_truncate(r, body, &e);
		case PROTO_MSG_MESSAGE:
			{
				proto_message_t m;

				if ((rc = proto_read_message(&body, &m)) != 0)
					return rc;
				emit_head(&e, "MESSAGE", "message");
				emit_key(&e, "transactional");
				put_cstr(out, (m.flags & PROTO_MESSAGE_TRANSACTIONAL) ? "true" : "false");
				if (f & PROTO_RENDER_LSN)
					emit_lsn(&e, "lsn", m.lsn);
				emit_key(&e, "prefix");
				if (e.json)
					proto_value_quote(out, m.prefix.p, m.prefix.n, 1);
				else
					put_literal(out, m.prefix.p, m.prefix.n);
				emit_key(&e, "content");
				put_payload(&e, m.payload);
				emit_close(&e);
				break;
			}
		case PROTO_MSG_STREAM_START:
			{
				proto_stream_start_t m;

				if ((rc = proto_read_stream_start(&body, &m)) != 0)
					return rc;
				emit_head(&e, "STREAM START", "stream_start");
				if (f & PROTO_RENDER_XID)
					emit_u64(&e, "xid", m.xid);
				emit_key(&e, "first");
				put_cstr(out, (m.flags & PROTO_STREAM_FIRST) ? "true" : "false");
				emit_close(&e);
				break;
			}
		case PROTO_MSG_STREAM_STOP:
			{
				proto_stream_stop_t m;

				if ((rc = proto_read_stream_stop(&body, &m)) != 0)
					return rc;
				emit_head(&e, "STREAM STOP", "stream_stop");
				if (f & PROTO_RENDER_XID)
					emit_u64(&e, "xid", m.xid);
				emit_close(&e);
				break;
			}
		case PROTO_MSG_SUBXACT:
			{
				proto_subxact_t m;

				if ((rc = proto_read_subxact(&body, &m)) != 0)
					return rc;
				emit_head(&e, "SUBXACT", "subxact");
				if (f & PROTO_RENDER_XID)
					emit_u64(&e, "xid", m.xid);
				emit_close(&e);
				break;
			}
		case PROTO_MSG_STREAM_ABORT:
			{
				proto_stream_abort_t m;

				if ((rc = proto_read_stream_abort(&body, &m)) != 0)
					return rc;
				emit_head(&e, "STREAM ABORT", "stream_abort");
				if (f & PROTO_RENDER_XID)
				{
					emit_u64(&e, "xid", m.xid);
					emit_u64(&e, "subxid", m.subxid);
				}
				/* which one went, without the (varying) ids */
				emit_key(&e, "subtransaction");
				put_cstr(out, m.subxid != m.xid ? "true" : "false");
				if (f & PROTO_RENDER_LSN)
					emit_lsn(&e, "lsn", m.abort_lsn);
				emit_close(&e);
				break;
			}
		case PROTO_MSG_STREAM_COMMIT:
			{
				proto_stream_commit_t m;

				if ((rc = proto_read_stream_commit(&body, &m)) != 0)
					return rc;
				emit_head(&e, "STREAM COMMIT", "stream_commit");
				emit_u64(&e, "changes", m.nchanges);
				if (f & PROTO_RENDER_XID)
					emit_u64(&e, "xid", m.xid);
				if (f & PROTO_RENDER_LSN)
				{
					emit_lsn(&e, "lsn", m.final_lsn);
					emit_lsn(&e, "end", m.end_lsn);
				}
				if (f & PROTO_RENDER_TIME)
					emit_time(&e, "time", m.commit_time);
				if (m.flags & PROTO_STREAM_COMMIT_ORIGIN)
				{
					emit_str(&e, "origin", m.origin);
					if (f & PROTO_RENDER_LSN)
						emit_lsn(&e, "origin_lsn", m.origin_lsn);
				}
				emit_close(&e);
				break;
			}
		default:
			return TIDE_EBADTYPE;
	}
	return out->err;
}

void
proto_render_init(proto_render_t *r, const proto_alloc_t *mem, int flags)
{
	r->flags = flags;
	r->msg_cb = NULL;
	r->msg_arg = NULL;
	proto_relcat_init(&r->cat, mem);
}

void
proto_render_free(proto_render_t *r)
{
	proto_relcat_free(&r->cat);
}

int
proto_render_frame(proto_render_t *r, const uint8_t *frame, size_t len,
				   proto_wbuf_t *out)
{
	proto_rbuf_t f;
	proto_rbuf_t body;
	uint8_t		type;
	int			rc;

	proto_rbuf_init(&f, frame, len);
	while ((rc = proto_read_msg(&f, &type, &body)) == 0)
	{
		if ((rc = proto_render_msg(r, type, body, out)) != 0)
			return rc;
		proto_put_u8(out, '\n');
		if (r->msg_cb)
			r->msg_cb(r->msg_arg, type, body, out);
	}
	return rc == TIDE_EEOF ? out->err : rc;
}
