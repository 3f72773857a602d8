/*
 * tests/unit/test_wire.c
 *		Round trips of every wire message, and rejection of damaged input.
 *
 * Every message kind is encoded with edge values and decoded back field by
 * field; then every encoding is cut at each byte offset and has each byte
 * flipped, and the readers must fail cleanly (a negative code, no reads out
 * of bounds: this runs under valgrind in `make check`).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tide/render.h"
#include "tide/relcat.h"
#include "tide/wire.h"

#define S(lit) ((proto_str_t) {lit, sizeof(lit) - 1})

static proto_str_t
str_eq_check(proto_str_t got, const char *want)
{
	assert_int_equal(got.n, strlen(want));
	assert_memory_equal(got.p, want, got.n);
	return got;
}

/* -------------------------------------------------------------- varints */

static void
test_varint_edges(void **state)
{
	uint64_t	vals[] = {0, 1, 127, 128, 255, 16383, 16384, UINT32_MAX,
		(uint64_t) 1 << 35, (uint64_t) 1 << 63, UINT64_MAX};
	int64_t		svals[] = {0, -1, 1, -64, 64, INT32_MIN, INT32_MAX, INT64_MIN, INT64_MAX};
	proto_wbuf_t b;
	proto_rbuf_t r;

	(void) state;
	proto_wbuf_init_heap(&b);
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
	{
		uint64_t	got = 12345;

		proto_wbuf_reset(&b);
		proto_put_varint(&b, vals[i]);
		assert_int_equal(b.len, proto_varint_size(vals[i]));
		proto_rbuf_init(&r, b.data, b.len);
		assert_int_equal(proto_get_varint(&r, &got), 0);
		assert_true(got == vals[i]);
		assert_int_equal(proto_rbuf_left(&r), 0);
		/* every shorter prefix is truncated, and *out is left alone */
		for (size_t cut = 0; cut < b.len; cut++)
		{
			got = 777;
			proto_rbuf_init(&r, b.data, cut);
			assert_int_equal(proto_get_varint(&r, &got), TIDE_ETRUNCATED);
			assert_true(got == 777);
		}
	}
	for (size_t i = 0; i < sizeof(svals) / sizeof(svals[0]); i++)
	{
		int64_t		got;

		proto_wbuf_reset(&b);
		proto_put_svarint(&b, svals[i]);
		proto_rbuf_init(&r, b.data, b.len);
		assert_int_equal(proto_get_svarint(&r, &got), 0);
		assert_true(got == svals[i]);
	}
	proto_wbuf_free(&b);
}

static void
test_varint_malformed(void **state)
{
	static const uint8_t overlong[] = {0x80, 0x00};
	static const uint8_t eleven[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	static const uint8_t top[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
	static const uint8_t big32[] = {0x80, 0x80, 0x80, 0x80, 0x10};
	proto_rbuf_t r;
	uint64_t	v;
	uint32_t	v32;

	(void) state;
	proto_rbuf_init(&r, overlong, sizeof(overlong));
	assert_int_equal(proto_get_varint(&r, &v), TIDE_EBADVARINT);
	proto_rbuf_init(&r, eleven, sizeof(eleven));
	assert_int_equal(proto_get_varint(&r, &v), TIDE_EBADVARINT);
	proto_rbuf_init(&r, top, sizeof(top));
	assert_int_equal(proto_get_varint(&r, &v), TIDE_EBADVARINT);
	proto_rbuf_init(&r, big32, sizeof(big32));
	assert_int_equal(proto_get_varint32(&r, &v32), TIDE_EBADVARINT);
	/* the error is sticky: later reads fail the same way */
	assert_int_equal(proto_get_u8(&r, (uint8_t *) &v32), TIDE_EBADVARINT);
}

static void
test_fixed_buffer_nospace(void **state)
{
	uint8_t		mem[8];
	proto_wbuf_t b;
	proto_begin_t m = {0x1234, 42, 7};

	(void) state;
	proto_wbuf_init_fixed(&b, mem, sizeof(mem));
	assert_int_equal(proto_write_begin(&b, &m), TIDE_ENOSPACE);
	assert_int_equal(b.err, TIDE_ENOSPACE);
}

/* ------------------------------------------------------- a sample stream */

static proto_column_t cols[] = {
	{PROTO_COL_KEY, PROTO_ENC_FIXED, 8, 20, 20, -1, S("id"), S("bigint")},
	{0, PROTO_ENC_BYTES, 0, 25, 25, -1, S("name"), S("text")},
	{0, PROTO_ENC_FIXED, 1, 16, 16, -1, S("ok"), S("boolean")},
	{0, PROTO_ENC_TEXT, 0, 16400, 16400, -1, S("mood"), S("mood")},
	{0, PROTO_ENC_BYTES, 0, 1043, 1043, 14, S("Weird \"col\""), S("character varying(10)")},
};
static proto_relation_t rel = {
	16385, PROTO_IDENT_DEFAULT, PROTO_REL_PARTITION, S("public"), S("events_2026"),
	16384, S("public"), S("events"), 5, cols, 0, S(""), S(""), S(""), S("")
};

static const uint8_t id_le[8] = {0x2a, 0, 0, 0, 0, 0, 0, 0x80};
static const uint8_t t_true[1] = {1};

static proto_datum_t row1[] = {
	{PROTO_DATUM_VALUE, 8, id_le},
	{PROTO_DATUM_VALUE, 0, (const uint8_t *) ""},
	{PROTO_DATUM_VALUE, 1, t_true},
	{PROTO_DATUM_NULL, 0, NULL},
	{PROTO_DATUM_VALUE, 4, (const uint8_t *) "it's"},
};
static proto_datum_t row2[] = {
	{PROTO_DATUM_VALUE, 8, id_le},
	{PROTO_DATUM_UNCHANGED, 0, NULL},
	{PROTO_DATUM_NULL, 0, NULL},
	{PROTO_DATUM_VALUE, 3, (const uint8_t *) "sad"},
	{PROTO_DATUM_NULL, 0, NULL},
};
static uint32_t trunc_relids[] = {16385};

/* encode one of each message into b; returns the number of messages */
static int
encode_all(proto_wbuf_t *b)
{
	proto_startup_t st = {1, 0, 150020, UINT64_MAX, 1, 5,
	S("postgres"), S("slot_1"), S("UTF8")};
	proto_begin_t bg = {UINT64_MAX - 100, INT64_MIN, UINT32_MAX};
	proto_origin_t og = {0, S("")};
	proto_insert_t ins = {16385, {5, row1}};
	proto_update_t upd = {16385, PROTO_OLD_KEY, {5, row1}, {5, row2}};
	proto_update_t upd2 = {16385, PROTO_OLD_NONE, {0, NULL}, {5, row2}};
	proto_delete_t del = {16385, PROTO_OLD_FULL, {5, row1}};
	proto_delete_t del0 = {16385, PROTO_OLD_NONE, {0, NULL}};
	proto_truncate_t tr = {PROTO_TRUNCATE_CASCADE | PROTO_TRUNCATE_RESTART_IDENTITY, 1, trunc_relids};
	proto_message_t ms = {PROTO_MESSAGE_TRANSACTIONAL, 99, S("tide.test"), S("hello\0world")};
	proto_commit_t cm = {0, UINT64_MAX, 7};

	assert_int_equal(proto_write_startup(b, &st), 0);
	assert_int_equal(proto_write_begin(b, &bg), 0);
	assert_int_equal(proto_write_origin(b, &og), 0);
	assert_int_equal(proto_write_relation(b, &rel), 0);
	assert_int_equal(proto_write_insert(b, &rel, &ins), 0);
	assert_int_equal(proto_write_update(b, &rel, &upd), 0);
	assert_int_equal(proto_write_update(b, &rel, &upd2), 0);
	assert_int_equal(proto_write_delete(b, &rel, &del), 0);
	assert_int_equal(proto_write_delete(b, &rel, &del0), 0);
	assert_int_equal(proto_write_truncate(b, &tr), 0);
	assert_int_equal(proto_write_message(b, &ms), 0);
	assert_int_equal(proto_write_commit(b, &cm), 0);
	return 12;
}

/*
 * encode_stream - a version-2 session: a transaction in two chunks with a
 * subtransaction, one of its subtransactions rolled back, its commit, and a
 * second transaction rolled back whole.
 */
static int
encode_stream(proto_wbuf_t *b)
{
	proto_startup_t st = {PROTO_STREAM_VERSION, 0, 150020, 7, 1, 5,
	S("postgres"), S("slot_1"), S("UTF8")};
	proto_stream_start_t s1 = {UINT32_MAX, PROTO_STREAM_FIRST};
	proto_subxact_t sx = {UINT32_MAX - 1};
	proto_insert_t ins = {16385, {5, row1}};
	proto_message_t ms = {PROTO_MESSAGE_TRANSACTIONAL, 99, S("p"), S("m")};
	proto_stream_stop_t e1 = {UINT32_MAX};
	proto_stream_start_t s2 = {UINT32_MAX, 0};
	proto_stream_abort_t ab = {UINT32_MAX, UINT32_MAX - 1, 1234};
	proto_stream_commit_t cm = {UINT32_MAX, PROTO_STREAM_COMMIT_ORIGIN, UINT64_MAX - 100,
	UINT64_MAX, INT64_MAX, 2, 77, S("node_a")};
	proto_stream_start_t s3 = {3, PROTO_STREAM_FIRST};
	proto_stream_stop_t e3 = {3};
	proto_stream_abort_t ab3 = {3, 3, 0};

	assert_int_equal(proto_write_startup(b, &st), 0);
	assert_int_equal(proto_write_stream_start(b, &s1), 0);
	assert_int_equal(proto_write_relation(b, &rel), 0);
	assert_int_equal(proto_write_insert(b, &rel, &ins), 0);
	assert_int_equal(proto_write_subxact(b, &sx), 0);
	assert_int_equal(proto_write_insert(b, &rel, &ins), 0);
	assert_int_equal(proto_write_message(b, &ms), 0);
	assert_int_equal(proto_write_stream_stop(b, &e1), 0);
	assert_int_equal(proto_write_stream_abort(b, &ab), 0);
	assert_int_equal(proto_write_stream_start(b, &s2), 0);
	assert_int_equal(proto_write_relation(b, &rel), 0);
	assert_int_equal(proto_write_insert(b, &rel, &ins), 0);
	assert_int_equal(proto_write_stream_stop(b, &e1), 0);
	assert_int_equal(proto_write_stream_commit(b, &cm), 0);
	assert_int_equal(proto_write_stream_start(b, &s3), 0);
	assert_int_equal(proto_write_relation(b, &rel), 0);
	assert_int_equal(proto_write_insert(b, &rel, &ins), 0);
	assert_int_equal(proto_write_stream_stop(b, &e3), 0);
	assert_int_equal(proto_write_stream_abort(b, &ab3), 0);
	return 19;
}

static void
check_tuple(const proto_tuple_t *t, const proto_datum_t *want)
{
	assert_int_equal(t->natts, 5);
	for (int i = 0; i < 5; i++)
	{
		assert_int_equal(t->cols[i].kind, want[i].kind);
		if (want[i].kind == PROTO_DATUM_VALUE)
		{
			assert_int_equal(t->cols[i].len, want[i].len);
			assert_memory_equal(t->cols[i].data, want[i].data, want[i].len);
		}
	}
}

static void
test_round_trip(void **state)
{
	proto_wbuf_t b;
	proto_rbuf_t f;
	proto_rbuf_t body;
	uint8_t		type;
	proto_column_t rcols[8];
	proto_relation_t rrel;
	proto_datum_t c1[5];
	proto_datum_t c2[5];
	uint32_t	relids[4];

	(void) state;
	proto_wbuf_init_heap(&b);
	encode_all(&b);
	proto_rbuf_init(&f, b.data, b.len);

	{
		proto_startup_t m;

		assert_int_equal(proto_read_msg(&f, &type, &body), 0);
		assert_int_equal(type, 'S');
		assert_int_equal(proto_read_startup(&body, &m), 0);
		assert_int_equal(m.format_version, 1);
		assert_int_equal(m.server_version, 150020);
		assert_true(m.system_id == UINT64_MAX);
		assert_int_equal(m.timeline, 1);
		assert_int_equal(m.dboid, 5);
		str_eq_check(m.dbname, "postgres");
		str_eq_check(m.slot, "slot_1");
		str_eq_check(m.encoding, "UTF8");
	}
	{
		proto_begin_t m;

		assert_int_equal(proto_read_msg(&f, &type, &body), 0);
		assert_int_equal(type, 'B');
		assert_int_equal(proto_read_begin(&body, &m), 0);
		assert_true(m.final_lsn == UINT64_MAX - 100);
		assert_true(m.commit_time == INT64_MIN);
		assert_true(m.xid == UINT32_MAX);
	}
	{
		proto_origin_t m;

		assert_int_equal(proto_read_msg(&f, &type, &body), 0);
		assert_int_equal(type, 'O');
		assert_int_equal(proto_read_origin(&body, &m), 0);
		assert_int_equal(m.name.n, 0);
		assert_true(m.origin_lsn == 0);
	}
	assert_int_equal(proto_read_msg(&f, &type, &body), 0);
	assert_int_equal(type, 'R');
	/* too few column slots is refused, not overrun */
	{
		proto_rbuf_t copy = body;

		assert_int_equal(proto_read_relation(&copy, &rrel, rcols, 4), TIDE_ETOOLONG);
	}
	assert_int_equal(proto_read_relation(&body, &rrel, rcols, 8), 0);
	assert_int_equal(rrel.relid, 16385);
	assert_int_equal(rrel.natts, 5);
	assert_int_equal(rrel.flags, PROTO_REL_PARTITION);
	assert_int_equal(rrel.root_relid, 16384);
	str_eq_check(rrel.root_relname, "events");
	str_eq_check(rrel.relname, "events_2026");
	for (int i = 0; i < 5; i++)
	{
		assert_int_equal(rcols[i].flags, cols[i].flags);
		assert_int_equal(rcols[i].encoding, cols[i].encoding);
		assert_int_equal(rcols[i].width, cols[i].width);
		assert_int_equal(rcols[i].typoid, cols[i].typoid);
		assert_int_equal(rcols[i].basetypoid, cols[i].basetypoid);
		assert_int_equal(rcols[i].typmod, cols[i].typmod);
		assert_int_equal(rcols[i].name.n, cols[i].name.n);
		assert_memory_equal(rcols[i].name.p, cols[i].name.p, cols[i].name.n);
		assert_memory_equal(rcols[i].typname.p, cols[i].typname.p, cols[i].typname.n);
	}
	{
		proto_insert_t m;
		uint32_t	relid;

		m.newtup.cols = c1;
		assert_int_equal(proto_read_msg(&f, &type, &body), 0);
		assert_int_equal(type, 'I');
		assert_int_equal(proto_read_relid(body, &relid), 0);
		assert_int_equal(relid, 16385);
		assert_int_equal(proto_read_insert(&body, &rrel, &m), 0);
		check_tuple(&m.newtup, row1);
	}
	{
		proto_update_t m;

		m.oldtup.cols = c1;
		m.newtup.cols = c2;
		assert_int_equal(proto_read_msg(&f, &type, &body), 0);
		assert_int_equal(type, 'U');
		assert_int_equal(proto_read_update(&body, &rrel, &m), 0);
		assert_int_equal(m.old_kind, PROTO_OLD_KEY);
		check_tuple(&m.oldtup, row1);
		check_tuple(&m.newtup, row2);
		assert_int_equal(proto_read_msg(&f, &type, &body), 0);
		assert_int_equal(proto_read_update(&body, &rrel, &m), 0);
		assert_int_equal(m.old_kind, PROTO_OLD_NONE);
		check_tuple(&m.newtup, row2);
	}
	{
		proto_delete_t m;

		m.oldtup.cols = c1;
		assert_int_equal(proto_read_msg(&f, &type, &body), 0);
		assert_int_equal(type, 'D');
		assert_int_equal(proto_read_delete(&body, &rrel, &m), 0);
		assert_int_equal(m.old_kind, PROTO_OLD_FULL);
		check_tuple(&m.oldtup, row1);
		/* no replica identity: the DELETE comes without an old row */
		assert_int_equal(proto_read_msg(&f, &type, &body), 0);
		assert_int_equal(type, 'D');
		assert_int_equal(proto_read_delete(&body, &rrel, &m), 0);
		assert_int_equal(m.old_kind, PROTO_OLD_NONE);
		assert_int_equal(m.oldtup.natts, 0);
	}
	{
		proto_truncate_t m;

		assert_int_equal(proto_read_msg(&f, &type, &body), 0);
		assert_int_equal(type, 'T');
		assert_int_equal(proto_read_truncate(&body, &m, relids, 4), 0);
		assert_int_equal(m.flags, PROTO_TRUNCATE_CASCADE | PROTO_TRUNCATE_RESTART_IDENTITY);
		assert_int_equal(m.nrelids, 1);
		assert_int_equal(relids[0], 16385);
	}
	{
		proto_message_t m;

		assert_int_equal(proto_read_msg(&f, &type, &body), 0);
		assert_int_equal(type, 'M');
		assert_int_equal(proto_read_message(&body, &m), 0);
		assert_int_equal(m.flags, PROTO_MESSAGE_TRANSACTIONAL);
		assert_true(m.lsn == 99);
		str_eq_check(m.prefix, "tide.test");
		assert_int_equal(m.payload.n, 11);
		assert_memory_equal(m.payload.p, "hello\0world", 11);
	}
	{
		proto_commit_t m;

		assert_int_equal(proto_read_msg(&f, &type, &body), 0);
		assert_int_equal(type, 'C');
		assert_int_equal(proto_read_commit(&body, &m), 0);
		assert_true(m.end_lsn == UINT64_MAX);
		assert_int_equal(m.nchanges, 7);
	}
	assert_int_equal(proto_read_msg(&f, &type, &body), TIDE_EEOF);
	proto_wbuf_free(&b);
}

static void
test_stream_round_trip(void **state)
{
	proto_wbuf_t b;
	proto_rbuf_t f;
	proto_rbuf_t body;
	uint8_t		type;
	int			n = 0;
	int			want;

	(void) state;
	proto_wbuf_init_heap(&b);
	want = encode_stream(&b);
	proto_rbuf_init(&f, b.data, b.len);
	while (proto_read_msg(&f, &type, &body) == 0)
	{
		n++;
		switch (type)
		{
			case 'S':
				{
					proto_startup_t m;

					assert_int_equal(proto_read_startup(&body, &m), 0);
					assert_int_equal(m.format_version, PROTO_STREAM_VERSION);
					break;
				}
			case 's':
				{
					proto_stream_start_t m;

					assert_int_equal(proto_read_stream_start(&body, &m), 0);
					assert_true(m.xid == UINT32_MAX || m.xid == 3);
					/* the first chunk of each transaction says so */
					assert_int_equal(m.flags, n == 2 || n == 15 ? PROTO_STREAM_FIRST : 0);
					break;
				}
			case 'e':
				{
					proto_stream_stop_t m;

					assert_int_equal(proto_read_stream_stop(&body, &m), 0);
					assert_true(m.xid == UINT32_MAX || m.xid == 3);
					break;
				}
			case 'x':
				{
					proto_subxact_t m;

					assert_int_equal(proto_read_subxact(&body, &m), 0);
					assert_true(m.xid == UINT32_MAX - 1);
					break;
				}
			case 'a':
				{
					proto_stream_abort_t m;

					assert_int_equal(proto_read_stream_abort(&body, &m), 0);
					if (m.xid == 3)
					{
						assert_int_equal(m.subxid, 3);
						assert_true(m.abort_lsn == 0);
					}
					else
					{
						assert_true(m.subxid == UINT32_MAX - 1);
						assert_true(m.abort_lsn == 1234);
					}
					break;
				}
			case 'c':
				{
					proto_stream_commit_t m;

					assert_int_equal(proto_read_stream_commit(&body, &m), 0);
					assert_true(m.xid == UINT32_MAX);
					assert_true(m.final_lsn == UINT64_MAX - 100);
					assert_true(m.end_lsn == UINT64_MAX);
					assert_true(m.commit_time == INT64_MAX);
					assert_int_equal(m.nchanges, 2);
					assert_int_equal(m.flags, PROTO_STREAM_COMMIT_ORIGIN);
					assert_true(m.origin_lsn == 77);
					str_eq_check(m.origin, "node_a");
					break;
				}
			default:
				assert_true(type == 'R' || type == 'I' || type == 'M');
				break;
		}
	}
	assert_int_equal(n, want);

	/* writers refuse what readers would refuse: xid 0, unknown flags */
	{
		proto_stream_start_t s0 = {0, 0};
		proto_stream_start_t sf = {5, 0x02};
		proto_subxact_t x0 = {0};
		proto_stream_abort_t a0 = {5, 0, 0};
		proto_stream_commit_t c0 = {5, 0x02, 1, 2, 3, 0, 0, S("")};

		proto_wbuf_reset(&b);
		assert_int_equal(proto_write_stream_start(&b, &s0), TIDE_EBADVALUE);
		proto_wbuf_reset(&b);
		assert_int_equal(proto_write_stream_start(&b, &sf), TIDE_EBADVALUE);
		proto_wbuf_reset(&b);
		assert_int_equal(proto_write_subxact(&b, &x0), TIDE_EBADVALUE);
		proto_wbuf_reset(&b);
		assert_int_equal(proto_write_stream_abort(&b, &a0), TIDE_EBADVALUE);
		proto_wbuf_reset(&b);
		assert_int_equal(proto_write_stream_commit(&b, &c0), TIDE_EBADVALUE);
	}
	/* a version-1 reader would refuse the STARTUP: version 2 is known here */
	assert_true(proto_is_stream_msg('s') && proto_is_stream_msg('c') &&
				!proto_is_stream_msg('C') && !proto_is_stream_msg('S'));
	proto_wbuf_free(&b);
}

/* a long value crosses the 1-byte length boundary and the 5-byte reserve */
static void
test_long_values(void **state)
{
	static proto_column_t c[] = {{0, PROTO_ENC_BYTES, 0, 17, 17, -1, S("b"), S("bytea")}};
	proto_relation_t r1 = {1, PROTO_IDENT_FULL, 0, S("s"), S("t"), 0, S(""), S(""), 1, c,
		0, S(""), S(""), S(""), S("")};
	size_t		sizes[] = {0, 1, 127, 128, 16383, 16384, 1 << 21};
	proto_wbuf_t b;

	(void) state;
	proto_wbuf_init_heap(&b);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
	{
		uint8_t    *val = malloc(sizes[i] + 1);
		proto_datum_t d = {PROTO_DATUM_VALUE, (uint32_t) sizes[i], val};
		proto_insert_t m = {1, {1, &d}};
		proto_datum_t got;
		proto_insert_t back;
		proto_rbuf_t f;
		proto_rbuf_t body;
		uint8_t		type;

		for (size_t k = 0; k < sizes[i]; k++)
			val[k] = (uint8_t) (k * 7);
		proto_wbuf_reset(&b);
		assert_int_equal(proto_write_insert(&b, &r1, &m), 0);
		proto_rbuf_init(&f, b.data, b.len);
		assert_int_equal(proto_read_msg(&f, &type, &body), 0);
		back.newtup.cols = &got;
		assert_int_equal(proto_read_insert(&body, &r1, &back), 0);
		assert_int_equal(got.len, sizes[i]);
		if (sizes[i])
			assert_memory_equal(got.data, val, sizes[i]);
		assert_int_equal(proto_read_msg(&f, &type, &body), TIDE_EEOF);
		free(val);
	}
	proto_wbuf_free(&b);
}

/* writers refuse what readers would refuse */
static void
test_writer_rejects(void **state)
{
	proto_wbuf_t b;
	proto_insert_t ins = {16385, {5, row2}};	/* unchanged in an INSERT */
	proto_delete_t del = {16385, 'X', {5, row1}};	/* unknown old kind */
	proto_delete_t del_unchanged = {16385, PROTO_OLD_KEY, {5, row2}};
	proto_insert_t short_row = {16385, {4, row1}};
	proto_truncate_t none = {0, 0, NULL};
	proto_commit_t badflags = {1, 100, 0};

	(void) state;
	proto_wbuf_init_heap(&b);
	assert_int_equal(proto_write_insert(&b, &rel, &ins), TIDE_EBADVALUE);
	proto_wbuf_reset(&b);
	assert_int_equal(proto_write_delete(&b, &rel, &del), TIDE_EBADVALUE);
	proto_wbuf_reset(&b);
	assert_int_equal(proto_write_delete(&b, &rel, &del_unchanged), TIDE_EBADVALUE);
	proto_wbuf_reset(&b);
	/* a DELETE of old kind none carries nothing after it */
	{
		proto_delete_t full = {16385, PROTO_OLD_FULL, {5, row1}};
		proto_delete_t m;
		proto_rbuf_t f;
		proto_rbuf_t body;
		uint8_t		type;
		proto_datum_t c[5];

		assert_int_equal(proto_write_delete(&b, &rel, &full), 0);
		assert_true(b.len < 128);	/* 'D', 1-byte length, 3-byte relid, kind */
		b.data[5] = PROTO_OLD_NONE;
		proto_rbuf_init(&f, b.data, b.len);
		m.oldtup.cols = c;
		assert_int_equal(proto_read_msg(&f, &type, &body), 0);
		assert_true(proto_read_delete(&body, &rel, &m) < 0);
	}
	proto_wbuf_reset(&b);
	assert_int_equal(proto_write_insert(&b, &rel, &short_row), TIDE_ENATTS);
	proto_wbuf_reset(&b);
	assert_int_equal(proto_write_truncate(&b, &none), TIDE_EBADVALUE);
	proto_wbuf_reset(&b);
	/* a reader refuses flags this version does not define */
	assert_int_equal(proto_write_commit(&b, &badflags), 0);
	{
		proto_rbuf_t f;
		proto_rbuf_t body;
		uint8_t		type;
		proto_commit_t m;

		proto_rbuf_init(&f, b.data, b.len);
		assert_int_equal(proto_read_msg(&f, &type, &body), 0);
		assert_int_equal(proto_read_commit(&body, &m), TIDE_EBADVALUE);
	}
	proto_wbuf_free(&b);
}

/*
 * decode_frame - read every message of a frame with the matching reader.
 * Returns 0 if all decode, else the first error.  Relations come from the
 * frame itself, as in a real stream.
 */
static int
decode_frame(const uint8_t *data, size_t len)
{
	proto_rbuf_t f;
	proto_rbuf_t body;
	uint8_t		type;
	proto_column_t rc[8];
	proto_relation_t rr = {0};
	bool		have_rel = false;
	proto_datum_t a[8];
	proto_datum_t b2[8];
	uint32_t	relids[4];
	int			rcode;

	proto_rbuf_init(&f, data, len);
	while ((rcode = proto_read_msg(&f, &type, &body)) == 0)
	{
		union
		{
			proto_startup_t s;
			proto_begin_t b;
			proto_commit_t c;
			proto_origin_t o;
			proto_insert_t i;
			proto_update_t u;
			proto_delete_t d;
			proto_truncate_t t;
			proto_message_t m;
			proto_stream_start_t ss;
			proto_stream_stop_t se;
			proto_subxact_t sx;
			proto_stream_abort_t sa;
			proto_stream_commit_t sc;
		}			m;

		switch (type)
		{
			case 'S':
				rcode = proto_read_startup(&body, &m.s);
				break;
			case 'B':
				rcode = proto_read_begin(&body, &m.b);
				break;
			case 'C':
				rcode = proto_read_commit(&body, &m.c);
				break;
			case 'O':
				rcode = proto_read_origin(&body, &m.o);
				break;
			case 'R':
				rcode = proto_read_relation(&body, &rr, rc, 8);
				have_rel = rcode == 0;
				break;
			case 'I':
				if (!have_rel)
					return TIDE_ENORELATION;
				m.i.newtup.cols = a;
				rcode = proto_read_insert(&body, &rr, &m.i);
				break;
			case 'U':
				if (!have_rel)
					return TIDE_ENORELATION;
				m.u.oldtup.cols = a;
				m.u.newtup.cols = b2;
				rcode = proto_read_update(&body, &rr, &m.u);
				break;
			case 'D':
				if (!have_rel)
					return TIDE_ENORELATION;
				m.d.oldtup.cols = a;
				rcode = proto_read_delete(&body, &rr, &m.d);
				break;
			case 'T':
				rcode = proto_read_truncate(&body, &m.t, relids, 4);
				break;
			case 'M':
				rcode = proto_read_message(&body, &m.m);
				break;
			case 's':
				rcode = proto_read_stream_start(&body, &m.ss);
				break;
			case 'e':
				rcode = proto_read_stream_stop(&body, &m.se);
				break;
			case 'x':
				rcode = proto_read_subxact(&body, &m.sx);
				break;
			case 'a':
				rcode = proto_read_stream_abort(&body, &m.sa);
				break;
			case 'c':
				rcode = proto_read_stream_commit(&body, &m.sc);
				break;
			default:
				return TIDE_EBADTYPE;
		}
		if (rcode)
			return rcode;
	}
	return rcode == TIDE_EEOF ? 0 : rcode;
}

/* every prefix cut inside a message fails; cuts between messages do not */
static void
truncation_every_offset(int (*encode) (proto_wbuf_t *))
{
	proto_wbuf_t b;
	size_t		bounds[32];
	int			nb = 0;
	proto_rbuf_t f;
	proto_rbuf_t body;
	uint8_t		type;

	proto_wbuf_init_heap(&b);
	encode(&b);
	proto_rbuf_init(&f, b.data, b.len);
	bounds[nb++] = 0;
	while (proto_read_msg(&f, &type, &body) == 0)
		bounds[nb++] = f.pos;
	for (size_t cut = 0; cut <= b.len; cut++)
	{
		bool		boundary = false;
		uint8_t    *copy = malloc(cut ? cut : 1);
		int			rc;

		for (int i = 0; i < nb; i++)
			boundary |= bounds[i] == cut;
		memcpy(copy, b.data, cut);	/* exact-size copy: valgrind sees overruns */
		rc = decode_frame(copy, cut);
		if (boundary)
			assert_int_equal(rc, 0);
		else
			assert_true(rc < 0);
		free(copy);
	}
	proto_wbuf_free(&b);
}

static void
test_truncation_every_offset(void **state)
{
	(void) state;
	truncation_every_offset(encode_all);
	truncation_every_offset(encode_stream);
}

/*
 * Bit flips: the frame has no checksum (segments add one), so a flip may
 * decode to other valid values; what matters is that no read goes out of
 * bounds and every failure is a clean error code.
 */
static void
bit_flips(int (*encode) (proto_wbuf_t *))
{
	proto_wbuf_t b;
	int			failures = 0;

	proto_wbuf_init_heap(&b);
	encode(&b);
	for (size_t i = 0; i < b.len; i++)
		for (int bit = 0; bit < 8; bit++)
		{
			uint8_t    *copy = malloc(b.len);
			int			rc;

			memcpy(copy, b.data, b.len);
			copy[i] ^= (uint8_t) (1 << bit);
			rc = decode_frame(copy, b.len);
			assert_true(rc <= 0 && (rc == 0 || rc <= TIDE__EBASE));
			failures += rc != 0;
			free(copy);
		}
	/* most flips hit lengths, types or flags: many must be caught */
	assert_true(failures > (int) b.len);
	proto_wbuf_free(&b);
}

static void
test_bit_flips(void **state)
{
	(void) state;
	bit_flips(encode_all);
	bit_flips(encode_stream);
}

/* ------------------------------------------------------- catalog, render */

/*
 * A partition's parent, bound and partition key (PROTO_REL_BOUND) read
 * back through the reader and the relation catalog, render in inspect's
 * text, and come only with the partition's root.
 */
static void
test_relation_bound(void **state)
{
	proto_relation_t m = rel;
	proto_relation_t rrel;
	proto_column_t rcols[8];
	proto_relcat_t cat;
	proto_relcat_entry_t *e;
	proto_wbuf_t b;
	proto_wbuf_t txt;
	proto_rbuf_t f;
	proto_rbuf_t body;
	uint8_t		type;

	(void) state;
	m.flags = PROTO_REL_PARTITION | PROTO_REL_BOUND;
	m.parent_relid = 16390;
	m.parent_nspname = (proto_str_t) S("Odd \"nsp\"");
	m.parent_relname = (proto_str_t) S("events_2026");
	m.bound = (proto_str_t) S("FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-01-02 00:00:00+00')");
	m.partkey = (proto_str_t) S("RANGE (ts)");
	proto_wbuf_init_heap(&b);
	assert_int_equal(proto_write_relation(&b, &m), 0);
	proto_rbuf_init(&f, b.data, b.len);
	assert_int_equal(proto_read_msg(&f, &type, &body), 0);
	{
		proto_rbuf_t copy = body;

		assert_int_equal(proto_read_relation(&copy, &rrel, rcols, 8), 0);
	}
	assert_int_equal(rrel.flags, PROTO_REL_PARTITION | PROTO_REL_BOUND);
	assert_int_equal(rrel.parent_relid, 16390);
	str_eq_check(rrel.parent_nspname, "Odd \"nsp\"");
	str_eq_check(rrel.parent_relname, "events_2026");
	str_eq_check(rrel.bound, "FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-01-02 00:00:00+00')");
	str_eq_check(rrel.partkey, "RANGE (ts)");
	str_eq_check(rrel.root_relname, "events");
	assert_int_equal(rrel.natts, 5);
	str_eq_check(rcols[4].name, "Weird \"col\"");
	proto_relcat_init(&cat, NULL);
	assert_int_equal(proto_relcat_put(&cat, body.data, body.len, &e), 0);
	str_eq_check(e->rel.bound, "FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-01-02 00:00:00+00')");
	assert_int_equal(e->rel.natts, 5);
	proto_relcat_free(&cat);
	{
		proto_render_t rr;

		proto_render_init(&rr, NULL, 0);
		proto_wbuf_init_heap(&txt);
		assert_int_equal(proto_render_frame(&rr, b.data, b.len, &txt), 0);
		proto_put_u8(&txt, 0);
		assert_non_null(strstr((const char *) txt.data,
							   " parent Odd \"nsp\".events_2026 (RANGE (ts)) FOR VALUES FROM"));
		proto_wbuf_free(&txt);
		proto_render_free(&rr);
	}
	/* a bound without the partition's root is refused both ways */
	m.flags = PROTO_REL_BOUND;
	b.len = 0;
	assert_int_equal(proto_write_relation(&b, &m), TIDE_EBADVALUE);
	proto_wbuf_free(&b);
}

static void
test_relcat(void **state)
{
	proto_relcat_t cat;
	proto_wbuf_t b;
	proto_rbuf_t f;
	proto_rbuf_t body;
	uint8_t		type;
	proto_relcat_entry_t *e;
	uint64_t	gen;

	(void) state;
	proto_relcat_init(&cat, NULL);
	proto_wbuf_init_heap(&b);
	assert_int_equal(proto_write_relation(&b, &rel), 0);
	proto_rbuf_init(&f, b.data, b.len);
	assert_int_equal(proto_read_msg(&f, &type, &body), 0);
	assert_int_equal(proto_relcat_put(&cat, body.data, body.len, &e), 0);
	gen = e->generation;
	/* the catalog owns a copy: scribbling on the input changes nothing */
	memset(b.data, 0xee, b.len);
	e = proto_relcat_get(&cat, 16385);
	assert_non_null(e);
	str_eq_check(e->rel.relname, "events_2026");
	assert_int_equal(e->rel.natts, 5);
	assert_null(proto_relcat_get(&cat, 16384));
	/* many relations force the table to grow; a redefinition replaces */
	for (uint32_t id = 1; id <= 300; id++)
	{
		proto_relation_t r2 = rel;

		r2.relid = id;
		r2.natts = (uint16_t) (id % 5);
		proto_wbuf_reset(&b);
		assert_int_equal(proto_write_relation(&b, &r2), 0);
		proto_rbuf_init(&f, b.data, b.len);
		assert_int_equal(proto_read_msg(&f, &type, &body), 0);
		assert_int_equal(proto_relcat_put(&cat, body.data, body.len, NULL), 0);
	}
	assert_int_equal(cat.count, 301);
	for (uint32_t id = 1; id <= 300; id++)
		assert_int_equal(proto_relcat_get(&cat, id)->rel.natts, id % 5);
	rel.natts = 2;
	proto_wbuf_reset(&b);
	proto_write_relation(&b, &rel);
	rel.natts = 5;
	proto_rbuf_init(&f, b.data, b.len);
	proto_read_msg(&f, &type, &body);
	assert_int_equal(proto_relcat_put(&cat, body.data, body.len, &e), 0);
	assert_int_equal(cat.count, 301);
	assert_int_equal(proto_relcat_get(&cat, 16385)->rel.natts, 2);
	assert_true(e->generation > gen);
	/* a damaged body leaves the catalog as it was */
	assert_true(proto_relcat_put(&cat, body.data, body.len - 1, NULL) < 0);
	assert_int_equal(proto_relcat_get(&cat, 16385)->rel.natts, 2);
	proto_relcat_free(&cat);
	proto_wbuf_free(&b);
}

static void
test_render_text(void **state)
{
	proto_wbuf_t b;
	proto_wbuf_t out;
	proto_render_t r;
	static const char want[] =
		"STARTUP format=1 db=postgres slot=slot_1 encoding=UTF8\n"
		"BEGIN\n"
		"ORIGIN name=\n"
		"RELATION public.events_2026 partition of public.events identity default:"
		" id[bigint fixed8] key, name[text bytes], ok[boolean fixed1], mood[mood text],"
		" Weird \"col\"[character varying(10) bytes]\n"
		"INSERT public.events_2026: id[bigint]:-9223372036854775766 name[text]:'' ok[boolean]:true"
		" mood[mood]:null Weird \"col\"[character varying(10)]:'it''s'\n"
		"UPDATE public.events_2026: old-key: id[bigint]:-9223372036854775766"
		" new: id[bigint]:-9223372036854775766 name[text]:unchanged-toast-datum ok[boolean]:null"
		" mood[mood]:'sad' Weird \"col\"[character varying(10)]:null\n"
		"UPDATE public.events_2026: new: id[bigint]:-9223372036854775766 name[text]:unchanged-toast-datum"
		" ok[boolean]:null mood[mood]:'sad' Weird \"col\"[character varying(10)]:null\n"
		"DELETE public.events_2026: old: id[bigint]:-9223372036854775766 name[text]:'' ok[boolean]:true"
		" mood[mood]:null Weird \"col\"[character varying(10)]:'it''s'\n"
		"DELETE public.events_2026: (no old row)\n"
		"TRUNCATE public.events_2026 cascade restart-identity\n"
		"MESSAGE transactional=true prefix='tide.test' content='\\x68656c6c6f00776f726c64'\n"
		"COMMIT changes=7\n";

	(void) state;
	proto_wbuf_init_heap(&b);
	proto_wbuf_init_heap(&out);
	encode_all(&b);
	proto_render_init(&r, NULL, 0);
	assert_int_equal(proto_render_frame(&r, b.data, b.len, &out), 0);
	proto_put_u8(&out, 0);
	assert_string_equal((char *) out.data, want);
	proto_render_free(&r);

	/* JSON lines: one object per message */
	proto_wbuf_reset(&out);
	proto_render_init(&r, NULL, PROTO_RENDER_JSON | PROTO_RENDER_ALL);
	assert_int_equal(proto_render_frame(&r, b.data, b.len, &out), 0);
	proto_put_u8(&out, 0);
	assert_non_null(strstr((char *) out.data,
						   "{\"type\":\"insert\",\"schema\":\"public\",\"table\":\"events_2026\","
						   "\"new\":{\"id\":-9223372036854775766,\"name\":\"\",\"ok\":true,\"mood\":null,"
						   "\"Weird \\\"col\\\"\":\"it's\"}}\n"));
	assert_non_null(strstr((char *) out.data,
						   "{\"type\":\"delete\",\"schema\":\"public\",\"table\":\"events_2026\"}\n"));
	assert_non_null(strstr((char *) out.data,
						   "{\"type\":\"begin\",\"xid\":4294967295,\"lsn\":\"FFFFFFFF/FFFFFF9B\","
						   "\"time\":\"-infinity\"}\n"));
	assert_non_null(strstr((char *) out.data,
						   "{\"type\":\"commit\",\"changes\":7,\"end\":\"FFFFFFFF/FFFFFFFF\"}\n"));
	proto_render_free(&r);

	/* a row before its relation is an error, not a guess */
	proto_render_init(&r, NULL, 0);
	{
		proto_rbuf_t f;
		proto_rbuf_t body;
		uint8_t		type;
		size_t		start;

		proto_rbuf_init(&f, b.data, b.len);
		for (int i = 0; i < 4; i++)
			proto_read_msg(&f, &type, &body);
		start = f.pos;
		proto_wbuf_reset(&out);
		assert_int_equal(proto_render_frame(&r, b.data + start, b.len - start, &out), TIDE_ENORELATION);
	}
	proto_render_free(&r);
	proto_wbuf_free(&out);
	proto_wbuf_free(&b);
}

/* What render_cb saw: the types of the messages, in order. */
typedef struct
{
	char		types[32];
	int			n;
	bool		saw_test_message;	/* the MESSAGE's body, readable */
} render_seen_t;

static void
render_cb(void *arg, uint8_t type, proto_rbuf_t body, proto_wbuf_t *out)
{
	render_seen_t *seen = arg;
	proto_message_t m;

	if (seen->n < (int) sizeof(seen->types))
		seen->types[seen->n] = (char) type;
	seen->n++;
	if (type == PROTO_MSG_MESSAGE && proto_read_message(&body, &m) == 0 &&
		m.prefix.n == 9 && memcmp(m.prefix.p, "tide.test", 9) == 0)
		seen->saw_test_message = true;
	proto_put_u8(out, '+');
	proto_put_u8(out, type);
	proto_put_u8(out, '\n');
}

/*
 * proto_render_frame's msg_cb: called once per message, in order, with
 * the message's own body, its lines right after that message's line; the
 * rendering is otherwise the same; not called for a message that fails.
 */
static void
test_render_msg_cb(void **state)
{
	proto_wbuf_t b;
	proto_wbuf_t plain;
	proto_wbuf_t out;
	proto_wbuf_t want;
	proto_render_t r;
	render_seen_t seen = {{0}, 0, false};
	proto_rbuf_t f;
	proto_rbuf_t body;
	uint8_t		type;
	size_t		at = 0;
	int			nmsgs = 0;
	size_t		start = 0;

	(void) state;
	proto_wbuf_init_heap(&b);
	proto_wbuf_init_heap(&plain);
	proto_wbuf_init_heap(&out);
	proto_wbuf_init_heap(&want);
	encode_all(&b);

	proto_render_init(&r, NULL, 0);
	assert_null(r.msg_cb);
	assert_int_equal(proto_render_frame(&r, b.data, b.len, &plain), 0);
	proto_render_free(&r);

	proto_render_init(&r, NULL, 0);
	r.msg_cb = render_cb;
	r.msg_arg = &seen;
	assert_int_equal(proto_render_frame(&r, b.data, b.len, &out), 0);
	proto_render_free(&r);

	/* want: each line of the plain rendering, then "+TYPE" of its message */
	proto_rbuf_init(&f, b.data, b.len);
	while (proto_read_msg(&f, &type, &body) == 0)
	{
		const uint8_t *nl = memchr(plain.data + at, '\n', plain.len - at);

		assert_non_null(nl);
		proto_put_bytes(&want, plain.data + at, (size_t) (nl - plain.data) - at + 1);
		at = (size_t) (nl - plain.data) + 1;
		proto_put_u8(&want, '+');
		proto_put_u8(&want, type);
		proto_put_u8(&want, '\n');
		assert_true(nmsgs < (int) sizeof(seen.types));
		assert_int_equal(seen.types[nmsgs], (char) type);
		nmsgs++;
		if (nmsgs == 4)
			start = f.pos;
	}
	assert_int_equal(at, plain.len);
	assert_true(nmsgs > 4);
	assert_int_equal(seen.n, nmsgs);
	assert_true(seen.saw_test_message);
	assert_int_equal(out.len, want.len);
	assert_memory_equal(out.data, want.data, want.len);

	/* a row before its relation: the error, and no call for it */
	seen.n = 0;
	proto_render_init(&r, NULL, 0);
	r.msg_cb = render_cb;
	r.msg_arg = &seen;
	proto_wbuf_reset(&out);
	assert_int_equal(proto_render_frame(&r, b.data + start, b.len - start, &out), TIDE_ENORELATION);
	assert_int_equal(seen.n, 0);
	proto_render_free(&r);

	proto_wbuf_free(&want);
	proto_wbuf_free(&out);
	proto_wbuf_free(&plain);
	proto_wbuf_free(&b);
}

static void
test_render_stream(void **state)
{
	proto_wbuf_t b;
	proto_wbuf_t out;
	proto_render_t r;
	static const char want[] =
		"STARTUP format=2 db=postgres slot=slot_1 encoding=UTF8\n"
		"STREAM START first=true\n";
	static const char want_tail[] =
		"STREAM ABORT subtransaction=true\n"
		"STREAM START first=false\n";

	(void) state;
	proto_wbuf_init_heap(&b);
	proto_wbuf_init_heap(&out);
	encode_stream(&b);
	proto_render_init(&r, NULL, 0);
	assert_int_equal(proto_render_frame(&r, b.data, b.len, &out), 0);
	proto_put_u8(&out, 0);
	assert_memory_equal(out.data, want, sizeof(want) - 1);
	assert_non_null(strstr((char *) out.data, "SUBXACT\n"));
	assert_non_null(strstr((char *) out.data, want_tail));
	assert_non_null(strstr((char *) out.data, "STREAM COMMIT changes=2 origin=node_a\n"));
	assert_non_null(strstr((char *) out.data, "STREAM ABORT subtransaction=false\n"));
	proto_render_free(&r);

	proto_wbuf_reset(&out);
	proto_render_init(&r, NULL, PROTO_RENDER_JSON | PROTO_RENDER_ALL);
	assert_int_equal(proto_render_frame(&r, b.data, b.len, &out), 0);
	proto_put_u8(&out, 0);
	assert_non_null(strstr((char *) out.data,
						   "{\"type\":\"stream_start\",\"xid\":4294967295,\"first\":true}\n"));
	assert_non_null(strstr((char *) out.data,
						   "{\"type\":\"stream_abort\",\"xid\":4294967295,\"subxid\":4294967294,"
						   "\"subtransaction\":true,\"lsn\":\"0/4D2\"}\n"));
	assert_non_null(strstr((char *) out.data,
						   "{\"type\":\"stream_commit\",\"changes\":2,\"xid\":4294967295,"
						   "\"lsn\":\"FFFFFFFF/FFFFFF9B\",\"end\":\"FFFFFFFF/FFFFFFFF\","
						   "\"time\":\"infinity\",\"origin\":\"node_a\",\"origin_lsn\":\"0/4D\"}\n"));
	proto_render_free(&r);
	proto_wbuf_free(&out);
	proto_wbuf_free(&b);
}

/* a TRUNCATE's relation names are JSON strings, quotes and all */
static void
test_render_json_truncate_names(void **state)
{
	static proto_column_t qcols[] = {
		{PROTO_COL_KEY, PROTO_ENC_FIXED, 4, 23, 23, -1, S("id"), S("integer")},
	};
	static proto_relation_t qrel = {
		16390, PROTO_IDENT_DEFAULT, 0, S("Sch ema"), S("Tab\"le"), 0, S(""), S(""), 1, qcols,
		0, S(""), S(""), S(""), S("")
	};
	uint32_t	relids[] = {16390};
	proto_truncate_t tr = {0, 1, relids};
	proto_wbuf_t b;
	proto_wbuf_t out;
	proto_render_t r;

	(void) state;
	proto_wbuf_init_heap(&b);
	proto_wbuf_init_heap(&out);
	assert_int_equal(proto_write_relation(&b, &qrel), 0);
	assert_int_equal(proto_write_truncate(&b, &tr), 0);
	proto_render_init(&r, NULL, PROTO_RENDER_JSON);
	assert_int_equal(proto_render_frame(&r, b.data, b.len, &out), 0);
	proto_put_u8(&out, 0);
	assert_non_null(strstr((char *) out.data, "\"relations\":[\"Sch ema.Tab\\\"le\"]"));
	proto_render_free(&r);
	proto_wbuf_free(&out);
	proto_wbuf_free(&b);
}

static void
test_errors(void **state)
{
	(void) state;
	assert_string_equal(tide_err_name(TIDE_ETRUNCATED), "TIDE_ETRUNCATED");
	assert_string_equal(tide_strerror(TIDE_ECHECKSUM), "checksum mismatch");
	assert_string_equal(tide_strerror(-2), "No such file or directory");
	assert_string_equal(tide_strerror(0), "success");
	assert_string_equal(tide_err_name(12345), "EUNKNOWN");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_varint_edges),
		cmocka_unit_test(test_varint_malformed),
		cmocka_unit_test(test_fixed_buffer_nospace),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_stream_round_trip),
		cmocka_unit_test(test_long_values),
		cmocka_unit_test(test_writer_rejects),
		cmocka_unit_test(test_truncation_every_offset),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_relcat),
		cmocka_unit_test(test_relation_bound),
		cmocka_unit_test(test_render_text),
		cmocka_unit_test(test_render_msg_cb),
		cmocka_unit_test(test_render_stream),
		cmocka_unit_test(test_render_json_truncate_names),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
