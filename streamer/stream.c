/*
 * streamer/stream.c
 *		`tide stream`: follow a logical replication slot into segment files.
 *
 * One libuv loop drives everything: a uv_poll_t on the replication
 * connection's socket (a new one per connection: the socket changes on
 * reconnect), a one-shot timer that flushes whole transactions a short
 * delay after they arrive (group commit), a 100 ms tick for the periodic
 * flush, status updates, idle bucket rotation and backpressure, and signal
 * handlers.  Segment writes run in the threadpool (segwriter.c).  The flush
 * position sent to the server is only ever what the writer reported
 * durable.
 *
 * On servers that can (PostgreSQL 14 and later) the decoder streams large
 * transactions while they are in progress (wire version 2): their chunks go
 * to the spool (spool.c), and at STREAM COMMIT the transaction is written
 * from there into the segment at its commit position, while reading from
 * the server waits (section "Streamed transactions" below).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <uv.h>

#include "tide/cmdline.h"
#include "tide/common.h"
#include "tide/ddlmsg.h"
#include "tide/pgtools.h"
#include "tide/metrics.h"
#include "publish.h"
#include "source.h"
#include "segdir.h"
#include "segwriter.h"
#include "sequences.h"
#include "spool.h"
#include "stream.h"
#include "stream_metrics.h"

#define MAX_PLUGIN_OPTIONS STREAM_MAX_PLUGIN_OPTIONS
#define BACKLOG_LIMIT ((size_t) 24 << 20)	/* stop reading above this */
#define TICK_MS 100
#define IDLE_USECS 1000000		/* no data this long: the source is idle */
#define USECS INT64_C(1000000)
#define DAY (86400 * USECS)
#define COMMIT_RING 4096		/* accepted, not yet durable: for lag seconds */
#define UNIX_EPOCH_OFFSET INT64_C(946684800000000)	/* 1970 -> 2000, in µs */


typedef struct
{
	stream_opts_t o;
	uv_loop_t	loop;
	uv_poll_t  *poll;			/* owned; freed in its close callback */
	uv_timer_t	tick;
	uv_timer_t	flush_soon;		/* armed while whole transactions wait */
	uv_timer_t	retry;
	uv_signal_t sig[3];
	PGconn	   *conn;			/* replication connection */
	source_async_t ra;			/* its connection and setup (RS_*) */
	int			rstep;			/* RS_*: the setup step running on ra */
	char		src_dbname[256];	/* IDENTIFY_SYSTEM's answer, for the */
	uint64_t	src_sysid;		/* steps after it */
	uint32_t	src_timeline;
	bool		sent_bounds;	/* START_REPLICATION asked for
								 * partition-bounds */
	PGconn	   *health;			/* plain connection for slot checks */
	source_async_t ha;			/* its connection and the slot check */
	bool		health_ready;	/* connected and set up */
	segwriter_t w;
	proto_relcat_t cat;
	segwriter_resume_t resume;
	spool_t    *spool;			/* owned: streamed transactions in progress */
	spool_replay_t *replay;		/* owned: one being written out */
	uint8_t    *pending;		/* owned: rest of a frame that came with its
								 * STREAM COMMIT, handled after it */
	size_t		pending_len;
	bool		stream_txns;	/* this session asked the decoder to stream */
	bool		stream_refused; /* the source's plugin cannot */
	bool		bounds_refused; /* nor describe partitions' bounds */
	uint32_t	server_version;
	proto_lsn_t replay_end;		/* COMMIT end LSN of the one being written */

	bool		streaming;
	bool		paused;			/* reading stopped for backpressure */
	bool		skipping;		/* inside a duplicate transaction */
	bool		stopping;
	bool		closing;		/* handles are being closed */
	bool		want_close_segment;
	int			exit_code;
	int			retry_ms;

	proto_lsn_t received;		/* highest LSN received */
	proto_lsn_t server_end;		/* walEnd of the last keepalive */
	proto_lsn_t reported;		/* flush LSN last sent */
	uint64_t	ticks;
	uint64_t	last_flush_tick;
	uint64_t	last_status_tick;
	uint64_t	last_feedback_tick;
	uint64_t	last_health_tick;
	uint64_t	last_mark_tick;
	uint64_t	last_data_tick; /* an XLogData message arrived */
	bool		goodbye_sent;	/* the final status update (finish_if_idle) */
	uint64_t	goodbye_tick;
	int64_t		clock_offset;	/* source clock - this host's, from sendTime */
	uint64_t	bytes_in;
	uint64_t	bytes_in_status;
	bool		warned_unknown;

	/*
	 * The slot check (check_health): asynchronous on the health
	 * connection, its last answer kept for the metrics.
	 */
	int			health_step;	/* HS_*: what ha runs */
	uint64_t	last_warn_tick;
	uint64_t	health_sent_tick;	/* when the running step began */
	uint64_t	health_failed_tick; /* when the last attempt failed */
	bool		health_down;	/* the last connection attempt failed: the
								 * next one waits a minute, not to knock
								 * every 5 s on a source that is down */
	bool		have_slot;
	bool		slot_active;
	bool		have_retained;
	int64_t		retained;
	bool		have_safe_wal;
	int64_t		safe_wal;
	bool		have_xmin_age;
	int64_t		xmin_age;
	proto_lsn_t source_lsn;
	int64_t		slot_checked;	/* tide_now() of the last answer */

	/* metrics (--metrics-listen) */
	tide_metrics_server_t *metrics; /* owned; frees itself once stopped */
	uint64_t	txns;
	uint64_t	changes;
	uint64_t	connection_losses;
	proto_time_t durable_time;	/* commit time of the last durable txn */

	/*
	 * Commit times of transactions accepted but not yet durable, oldest
	 * first, for tide_stream_lag_seconds.  When full, the newest entry
	 * takes the next one's place: the lag of the oldest stays exact.
	 */
	struct
	{
		proto_lsn_t end;
		proto_time_t time;
	}			ring[COMMIT_RING];
	size_t		ring_head;
	size_t		ring_n;

	/* the publisher thread: index, --publish, retention (publish.c) */
	publisher_t *pub;			/* owned */
	char		pub_seen_seg[SEG_NAME_LEN + 1];	/* open segment at the last look */
	bool		pub_seen_open;

	/* sequence states recorded into the stream (sequences.c) */
	stream_seq_filter_t seqf;	/* owned */
	char	   *seq_last;		/* owned: the payload last emitted */
	char		seq_seen_seg[SEG_NAME_LEN + 1];	/* open segment at the last look */
	uint64_t	last_seq_tick;
	bool		seq_due;		/* a segment closed: record at the next chance */
	int			seq_phase;		/* SEQ_*: the statement in flight on health */
	PGresult   *seq_res;		/* owned: its first result, until the last */
	char	   *seq_pending;	/* owned: the payload being emitted */
	size_t		seq_count;		/* sequences in it */
	bool		seq_failing;	/* the last attempt failed (said once) */
	bool		seq_unreadable_warned;
	bool		seq_announced;
} stream_t;

/* stream_t.seq_phase */
#define SEQ_IDLE 0
#define SEQ_READING 1			/* tide_seq_sql sent */
#define SEQ_EMITTING 2			/* tide_seq_emit_sql sent */

static void start_streaming(stream_t *s);
static void on_retry(uv_timer_t *t);
static void on_poll(uv_poll_t *h, int status, int events);
static void stop_stream(stream_t *s, int exit_code);
static void finish_if_idle(stream_t *s);
static int	handle_frame(stream_t *s, const uint8_t *data, size_t len);
static int	handle_stream_msg(stream_t *s, uint8_t type, const uint8_t *msg,
							  size_t len, proto_rbuf_t body);
static void replay_abandon(stream_t *s);
static void replay_continue(stream_t *s);
static void read_available(stream_t *s);
static void schedule_flush(stream_t *s);
static uint64_t every(const stream_t *s, int64_t usecs);

/* ------------------------------------------------------------ helpers */


static uint64_t
be64(const uint8_t *p)
{
	uint64_t	v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--)
	{
		p[i] = (uint8_t) v;
		v >>= 8;
	}
}

#define LSN_FMT "%X/%X"
#define LSN_ARGS(l) (unsigned) ((uint64_t) (l) >> 32), (unsigned) (l)

/* conn_error - the server's message, one line, without the trailing \n */
static const char *
conn_error(PGconn *c)
{
	static char buf[1024];
	const char *m = c ? PQerrorMessage(c) : "out of memory";
	size_t		n;

	snprintf(buf, sizeof(buf), "%s", m);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf;
}

/* ---------------------------------------------------------- feedback */

/*
 * ack_position - what the slot may be told is safe: what is durable in the
 * directory (invariant 1), and with --ack-after-publish no more than what
 * the store holds, so losing this machine's disk loses nothing the slot
 * has let go of.  Never below what was reported already.
 */
static proto_lsn_t
ack_position(stream_t *s)
{
	proto_lsn_t flush = s->w.durable;

	if (s->o.ack_after_publish && s->pub)
	{
		publisher_state_t st;

		publisher_state(s->pub, &st);
		if (!st.have_published || st.published_end < flush)
			flush = st.have_published ? st.published_end : 0;
	}
	return flush > s->reported ? flush : s->reported;
}

/*
 * send_feedback - a standby status update.  Written is what is durable in
 * the segment directory (fsynced; what merely arrived is in no file yet),
 * flushed = applied is what the slot may let go of (ack_position: the
 * same, or with --ack-after-publish what the store holds), so
 * pg_stat_replication shows tide's real progress like any standby's.
 */
static void
send_feedback(stream_t *s, bool reply)
{
	uint8_t		msg[34];
	proto_lsn_t flush = ack_position(s);
	int			rc = 0;

	if (!s->streaming || s->conn == NULL)
		return;
	msg[0] = 'r';
	put_be64(msg + 1, s->w.durable > flush ? s->w.durable : flush);
	put_be64(msg + 9, flush);
	put_be64(msg + 17, flush);
	put_be64(msg + 25, (uint64_t) tide_now());
	msg[33] = reply ? 1 : 0;
	if (PQputCopyData(s->conn, (const char *) msg, sizeof(msg)) <= 0 ||
		(rc = PQflush(s->conn)) < 0)
	{
		tide_log_warning("could not send a status update: %s", conn_error(s->conn));
		return;
	}
	/* the socket is full: finish sending when it is writable again */
	if (rc == 1 && s->poll && !s->paused)
		uv_poll_start(s->poll, UV_READABLE | UV_WRITABLE, on_poll);
	s->reported = flush;
	s->last_feedback_tick = s->ticks;
}

/* ------------------------------------------------------- the stream */

static void
fatal_stream(stream_t *s, int code, int exit_code)
{
	(void) code;
	stop_stream(s, exit_code);
}

/*
 * handle_msg - one wire message.  Returns 0, or an error already logged
 * (the stream stops).
 */
static int
handle_msg(stream_t *s, uint8_t type, const uint8_t *msg, size_t len,
		   proto_rbuf_t body)
{
	int			rc = 0;

	if (proto_is_stream_msg(type) || spool_in_chunk(s->spool))
		return handle_stream_msg(s, type, msg, len, body);
	switch (type)
	{
		case PROTO_MSG_STARTUP:
			{
				proto_startup_t st;

				if ((rc = proto_read_startup(&body, &st)) != 0)
					break;
				if ((rc = segwriter_set_ident(&s->w, &st)) == TIDE_EBADVALUE)
				{
					tide_log_error("segment directory \"%s\" holds segments of another source", s->o.dir);
					tide_log_detail("its segments come from system %llu, database \"%.*s\", slot \"%.*s\"; "
									"this stream is system %llu, database \"%.*s\", slot \"%.*s\"",
									(unsigned long long) s->w.ident.system_id,
									(int) s->w.ident.dbname.n, s->w.ident.dbname.p,
									(int) s->w.ident.slot.n, s->w.ident.slot.p,
									(unsigned long long) st.system_id, (int) st.dbname.n, st.dbname.p,
									(int) st.slot.n, st.slot.p);
					tide_log_hint("use one directory per source and slot");
					stop_stream(s, TIDE_EXIT_USAGE);
					return rc;
				}
				break;
			}
		case PROTO_MSG_RELATION:
			rc = proto_relcat_put(&s->cat, body.data, body.len, NULL);
			break;
		case PROTO_MSG_BEGIN:
			{
				proto_begin_t b;

				if ((rc = proto_read_begin(&body, &b)) != 0)
					break;
				if (s->o.endpos && b.final_lsn > s->o.endpos)
				{
					tide_log_info("reached end position " LSN_FMT, LSN_ARGS(s->o.endpos));
					s->want_close_segment = true;
					stop_stream(s, TIDE_EXIT_OK);
					return 0;
				}
				rc = segwriter_begin(&s->w, &b, msg, len);
				if (rc == 1)
				{
					s->skipping = true;
					rc = 0;
				}
				break;
			}
		case PROTO_MSG_COMMIT:
			{
				proto_commit_t c;

				if ((rc = proto_read_commit(&body, &c)) != 0)
					break;
				if (s->skipping)
				{
					s->skipping = false;
					break;
				}
				if ((rc = segwriter_commit(&s->w, &c, msg, len)) != 0)
					break;
				if (s->o.endpos && c.end_lsn >= s->o.endpos)
				{
					tide_log_info("reached end position " LSN_FMT, LSN_ARGS(s->o.endpos));
					s->want_close_segment = true;
					stop_stream(s, TIDE_EXIT_OK);
				}
				break;
			}
		case PROTO_MSG_MESSAGE:
			if (!s->w.in_txn && !s->skipping && s->o.endpos)
			{
				proto_message_t m;
				proto_rbuf_t copy = body;

				if ((rc = proto_read_message(&copy, &m)) != 0)
					break;
				/* a non-transactional message past the end position ends the run */
				if (!segwriter_message_dup(&s->w, m.lsn) && m.lsn > s->o.endpos)
				{
					tide_log_info("reached end position " LSN_FMT, LSN_ARGS(s->o.endpos));
					s->want_close_segment = true;
					stop_stream(s, TIDE_EXIT_OK);
					return 0;
				}
			}
			if (s->skipping)
				break;
			rc = segwriter_message(&s->w, &s->cat, type, msg, len, body.data, body.len);
			break;
		case PROTO_MSG_ORIGIN:
		case PROTO_MSG_INSERT:
		case PROTO_MSG_UPDATE:
		case PROTO_MSG_DELETE:
		case PROTO_MSG_TRUNCATE:
			if (s->skipping)
				break;
			rc = segwriter_message(&s->w, &s->cat, type, msg, len, body.data, body.len);
			break;
		default:
			if (!s->warned_unknown)
				tide_log_warning("skipping unknown message type 0x%02x from the decoder", type);
			s->warned_unknown = true;
			break;
	}
	if (rc != 0 && !s->stopping)
	{
		tide_log_error("could not process a '%c' message from the decoder: %s",
					   type >= 32 && type < 127 ? type : '?', tide_strerror(rc));
		stop_stream(s, s->w.failed ? TIDE_EXIT_IO : TIDE_EXIT_CORRUPT);
	}
	return rc;
}

static int
handle_frame(stream_t *s, const uint8_t *data, size_t len)
{
	proto_rbuf_t f;
	proto_rbuf_t body;
	uint8_t		type;
	int			rc;

	proto_rbuf_init(&f, data, len);
	for (;;)
	{
		size_t		start = f.pos;

		if ((rc = proto_read_msg(&f, &type, &body)) != 0)
			break;
		if ((rc = handle_msg(s, type, data + start, f.pos - start, body)) != 0 || s->stopping)
			return rc;
		if (s->replay != NULL && f.pos < len)
		{
			/* segment order is commit order: the rest waits for it */
			if ((s->pending = malloc(len - f.pos)) == NULL)
			{
				tide_log_error("out of memory");
				stop_stream(s, TIDE_EXIT_BUG);
				return TIDE_ENOMEM;
			}
			memcpy(s->pending, data + f.pos, len - f.pos);
			s->pending_len = len - f.pos;
			return 0;
		}
	}
	if (rc == TIDE_EEOF)
		return 0;
	tide_log_error("malformed frame from the decoder: %s", tide_strerror(rc));
	stop_stream(s, TIDE_EXIT_CORRUPT);
	return rc;
}

/* ------------------------------------------------ streamed transactions */

/*
 * Wire version 2 (FORMAT.md, "Streamed transactions"): chunks of a
 * transaction in progress go to the spool; at STREAM COMMIT it is written
 * from the spool into the segment writer, as the BEGIN ... COMMIT the
 * decoder would have sent, at its commit position: reading from the server
 * waits meanwhile (segments are in commit order), and the writing goes at
 * the pace of the writer's backlog (on_writer_drain), so a transaction of
 * any size passes in bounded memory.  It is acknowledged like any other:
 * once durable.
 */

/* spool_status - ", spool 3.1 MB for 2 transactions" for the status line */
static const char *
spool_status(const stream_t *s)
{
	static char buf[96];

	if (spool_open_txns(s->spool) == 0 && s->replay == NULL)
		return "";
	snprintf(buf, sizeof(buf), ", spool %.1f MB for %zu transactions%s",
			 (double) spool_bytes(s->spool) / (1 << 20), spool_open_txns(s->spool),
			 s->replay ? ", writing one" : "");
	return buf;
}

/* stream_exit_code - the exit class of a spool or replay failure */
static int
stream_exit_code(const stream_t *s, int rc)
{
	if (s->w.failed || (rc < 0 && rc > TIDE__EBASE))
		return TIDE_EXIT_IO;
	return rc == TIDE_ENOMEM ? TIDE_EXIT_BUG : TIDE_EXIT_CORRUPT;
}

/* replay_abandon - drop a transaction being written (the session ends) */
static void
replay_abandon(stream_t *s)
{
	spool_replay_free(s->spool, s->replay);
	s->replay = NULL;
	free(s->pending);
	s->pending = NULL;
	s->pending_len = 0;
}

/*
 * replay_run - write the streamed transaction on, as far as the writer's
 * backlog allows.  Returns 0 (done, or waiting for the writer) or an error
 * (logged).
 */
static int
replay_run(stream_t *s)
{
	int			rc = spool_replay_step(s->replay, &s->w, BACKLOG_LIMIT);
	bool		dup;

	if (rc == 1)
		return 0;
	if (rc != 0)
		return rc;
	dup = spool_replay_duplicate(s->replay);
	spool_replay_free(s->spool, s->replay);
	s->replay = NULL;
	schedule_flush(s);
	if (!dup && s->o.endpos && s->replay_end >= s->o.endpos)
	{
		tide_log_info("reached end position " LSN_FMT, LSN_ARGS(s->o.endpos));
		s->want_close_segment = true;
		stop_stream(s, TIDE_EXIT_OK);
	}
	return 0;
}

/* resume_reading - after a replay: the stream goes on where it waited */
static void
resume_reading(stream_t *s)
{
	if (s->pending)
	{
		uint8_t    *p = s->pending;
		size_t		n = s->pending_len;

		s->pending = NULL;
		s->pending_len = 0;
		handle_frame(s, p, n);
		free(p);
	}
	if (s->stopping || s->replay != NULL || s->conn == NULL || s->poll == NULL ||
		segwriter_backlog(&s->w) >= BACKLOG_LIMIT)
		return;
	if (s->paused)
	{
		s->paused = false;
		uv_poll_start(s->poll, UV_READABLE, on_poll);
	}
	read_available(s);
}

/* replay_continue - on the writer's progress (or the tick) */
static void
replay_continue(stream_t *s)
{
	int			rc;

	if (s->replay == NULL || s->stopping)
		return;
	if ((rc = replay_run(s)) != 0)
	{
		stop_stream(s, stream_exit_code(s, rc));
		return;
	}
	if (s->replay == NULL)
		resume_reading(s);
}

static void
on_writer_drain(segwriter_t *w)
{
	replay_continue(w->data);
}

/*
 * handle_stream_msg - a stream message, or any message inside a chunk (it
 * goes to the spool).  Returns 0, or an error already logged (the stream
 * stops).
 */
static int
handle_stream_msg(stream_t *s, uint8_t type, const uint8_t *msg, size_t len,
				  proto_rbuf_t body)
{
	int			rc = 0;

	if (!s->stream_txns || s->w.in_txn || s->skipping)
	{
		tide_log_error("the decoder sent a '%c' message %s", type >= 32 && type < 127 ? type : '?',
					   s->stream_txns ? "inside a transaction" : "of a streamed transaction, which this session did not ask for");
		stop_stream(s, TIDE_EXIT_CORRUPT);
		return TIDE_EBADSTATE;
	}
	switch (type)
	{
		case PROTO_MSG_STREAM_START:
			{
				proto_stream_start_t m;

				if ((rc = proto_read_stream_start(&body, &m)) == 0)
					rc = spool_chunk_start(s->spool, &m);
				break;
			}
		case PROTO_MSG_SUBXACT:
			{
				proto_subxact_t m;

				if ((rc = proto_read_subxact(&body, &m)) == 0)
					rc = spool_subxact(s->spool, m.xid);
				break;
			}
		case PROTO_MSG_STREAM_STOP:
			{
				proto_stream_stop_t m;

				if ((rc = proto_read_stream_stop(&body, &m)) == 0)
					rc = spool_chunk_stop(s->spool, m.xid);
				break;
			}
		case PROTO_MSG_STREAM_ABORT:
			{
				proto_stream_abort_t m;

				if ((rc = proto_read_stream_abort(&body, &m)) == 0)
					rc = spool_abort(s->spool, &m);
				break;
			}
		case PROTO_MSG_STREAM_COMMIT:
			{
				proto_stream_commit_t m;

				if ((rc = proto_read_stream_commit(&body, &m)) != 0)
					break;
				if (s->o.endpos && m.final_lsn > s->o.endpos)
				{
					tide_log_info("reached end position " LSN_FMT, LSN_ARGS(s->o.endpos));
					s->want_close_segment = true;
					stop_stream(s, TIDE_EXIT_OK);
					return 0;
				}
				if (m.nchanges == 0)
				{
					/*
					 * Every change of it was rolled back with its
					 * subtransactions: a transaction without changes
					 * reaches no segment, streamed or not (the decoder
					 * sends none for one that was not streamed), so its
					 * spool goes as if it had rolled back.
					 */
					proto_stream_abort_t a = {.xid = m.xid, .subxid = m.xid, .abort_lsn = 0};

					rc = spool_abort(s->spool, &a);
					break;
				}
				if ((rc = spool_replay_start(s->spool, &m, &s->replay)) != 0)
					break;
				s->replay_end = m.end_lsn;
				rc = replay_run(s);
				break;
			}
		default:
			rc = spool_append(s->spool, type, msg, len);
			break;
	}
	if (rc != 0 && !s->stopping)
	{
		if (rc <= TIDE__EBASE && rc != TIDE_EBADSTATE && rc != TIDE_ENOMEM)
			tide_log_error("could not process a '%c' message from the decoder: %s",
						   type >= 32 && type < 127 ? type : '?', tide_strerror(rc));
		stop_stream(s, stream_exit_code(s, rc));
	}
	return rc;
}

static void
connection_lost(stream_t *s, const char *why)
{
	if (s->stopping)
		return;
	tide_log_warning("lost the replication connection: %s", why);
	s->connection_losses++;
	s->streaming = false;
	s->skipping = false;
	/* the next session streams unfinished transactions again from their start */
	replay_abandon(s);
	segwriter_abort(&s->w, &s->cat);
	spool_discard_all(s->spool);
	source_async_cancel(&s->ra);
	if (s->poll)
	{
		uv_poll_stop(s->poll);
		uv_close((uv_handle_t *) s->poll, (uv_close_cb) free);
		s->poll = NULL;
	}
	PQfinish(s->conn);
	s->conn = NULL;
	/* exponential backoff with jitter: 1 s, 2 s, ... 60 s, +-25 % */
	{
		int			base = s->retry_ms ? s->retry_ms * 2 : 1000;
		int			jitter;

		if (base > 60000)
			base = 60000;
		s->retry_ms = base;
		jitter = base / 4 ? (rand() % (base / 2)) - base / 4 : 0;
		tide_log_info("reconnecting in %d ms", base + jitter);
		uv_timer_start(&s->retry, on_retry, (uint64_t) (base + jitter), 0);
	}
}

/*
 * on_flush_soon - whole transactions have waited flush_delay in memory for
 * later ones to share their write and fsync: make them durable now.
 */
static void
on_flush_soon(uv_timer_t *t)
{
	stream_t   *s = t->data;

	if (!s->stopping)
		segwriter_flush(&s->w, 0);
}

/*
 * schedule_flush - whole transactions not yet handed to a sync are in
 * memory: flush them flush_delay from now, unless a flush is already
 * scheduled.  The delay runs from the first of them, not the last, so a
 * busy stream is flushed every flush_delay (few fsyncs, each covering many
 * transactions) and a transaction never waits longer than that; a quiet
 * one is flushed flush_delay after its commit instead of at the next
 * periodic flush.
 */
static void
schedule_flush(stream_t *s)
{
	if (s->stopping || s->w.accepted <= s->w.queued_covered ||
		uv_is_active((uv_handle_t *) &s->flush_soon))
		return;
	uv_timer_start(&s->flush_soon, on_flush_soon, (uint64_t) (s->o.flush_delay / 1000), 0);
}

/* read_available - drain every complete CopyData message libpq holds */
static void
read_available(stream_t *s)
{
	char	   *buf;
	int			n = 0;

	while (!s->stopping && s->conn && s->replay == NULL &&
		   segwriter_backlog(&s->w) < BACKLOG_LIMIT &&
		   (n = PQgetCopyData(s->conn, &buf, 1)) > 0)
	{
		const uint8_t *p = (const uint8_t *) buf;

		s->bytes_in += (uint64_t) n;
		if (p[0] == 'w' && n >= 25)
		{
			proto_lsn_t start = be64(p + 1);

			if (start > s->received)
				s->received = start;
			s->clock_offset = (int64_t) be64(p + 17) - tide_now();
			s->last_data_tick = s->ticks;
			handle_frame(s, p + 25, (size_t) n - 25);
		}
		else if (p[0] == 'k' && n >= 18)
		{
			s->server_end = be64(p + 1);
			s->clock_offset = (int64_t) be64(p + 9) - tide_now();
			if (s->server_end > s->received && !s->w.in_txn)
				s->received = s->server_end;
			if (p[17])
				send_feedback(s, false);
			/* caught up past the end position with nothing open: done */
			if (s->o.endpos && s->server_end >= s->o.endpos && !s->w.in_txn && !s->skipping)
			{
				tide_log_info("reached end position " LSN_FMT, LSN_ARGS(s->o.endpos));
				s->want_close_segment = true;
				stop_stream(s, TIDE_EXIT_OK);
			}
		}
		PQfreemem(buf);
	}
	schedule_flush(s);
	if (s->stopping || s->conn == NULL)
		return;
	if (segwriter_backlog(&s->w) >= BACKLOG_LIMIT || s->replay != NULL)
	{
		/* the disk is behind: stop reading until the writer drains */
		if (!s->paused && s->poll)
			uv_poll_stop(s->poll);
		s->paused = true;
		return;
	}
	if (n == -1 || n == -2)
	{
		PGresult   *res = PQgetResult(s->conn);
		char		why[1024];

		snprintf(why, sizeof(why), "%s", n == -2 || PQresultStatus(res) != PGRES_COMMAND_OK ?
				 conn_error(s->conn) : "the server ended the stream");
		PQclear(res);
		connection_lost(s, why);
	}
}

static void
on_poll(uv_poll_t *h, int status, int events)
{
	stream_t   *s = h->data;

	if (s->stopping)
	{
		/* only the goodbye is left to send (finish_if_idle) */
		if (status < 0 || PQflush(s->conn) != 1)
			uv_poll_stop(h);
		finish_if_idle(s);
		return;
	}
	if (status < 0)
	{
		/*
		 * libuv reports a socket's pending error (EPOLLERR: a reset, a
		 * refused or timed-out connection) as EBADF: say what it really is.
		 */
		int			err = 0;
		socklen_t	len = sizeof(err);

		if (status == UV_EBADF && s->conn &&
			getsockopt(PQsocket(s->conn), SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0)
			connection_lost(s, strerror(err));
		else
			connection_lost(s, uv_strerror(status));
		return;
	}
	if (events & UV_WRITABLE)
	{
		int			rc = PQflush(s->conn);

		if (rc == 0)
			uv_poll_start(h, UV_READABLE, on_poll);
		else if (rc < 0)
		{
			connection_lost(s, conn_error(s->conn));
			return;
		}
	}
	if (events & UV_READABLE)
	{
		if (PQconsumeInput(s->conn) == 0)
		{
			connection_lost(s, conn_error(s->conn));
			return;
		}
		read_available(s);
	}
}

/* --------------------------------------------------- connection setup */

/*
 * The replication session is made and set up under the loop, one step at
 * a time (source_async_t, source.c): connect, IDENTIFY_SYSTEM, the slot's
 * row, CREATE_REPLICATION_SLOT if asked, the database's identity, then
 * START_REPLICATION.  Nothing waits for the source on the loop thread, so
 * the segment writer's callbacks, signals and --metrics-listen are served
 * while a source is slow to answer or silent, at startup as on every
 * reconnect.  (tide_cmd_stream does nothing with the source before the
 * loop runs: the first attempt is started right before uv_run.)
 */
#define RS_CONNECT 0
#define RS_IDENTIFY 1
#define RS_SLOT 2
#define RS_CREATE 3
#define RS_IDENT 4
#define RS_START 5

#define REPL_LOST (-1)			/* a step's result: handled, reconnecting */

static void on_repl_step(source_async_t *a, PGresult *res);

/*
 * may_retry - a failure now is an outage to wait out, not a configuration
 * to fix: this run streamed before, or the directory already holds the
 * source's history.  (A first run that cannot reach its source says so
 * and stops.)
 */
static bool
may_retry(const stream_t *s)
{
	return s->retry_ms != 0 || s->w.have_ident;
}

/*
 * transient - by SQLSTATE (or by its absence: the connection failed): the
 * server went away or is not ready, and trying again later is the cure.
 * 08 connection exceptions, 57P01 admin shutdown, 57P02 crash shutdown,
 * 57P03 cannot connect now.
 */
static bool
transient(const stream_t *s, const PGresult *res)
{
	if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK || res == NULL)
		return true;			/* the connection failed: by PQstatus */
	return source_sqlstate_is(res, "08") || source_sqlstate_is(res, "57P01") ||
		source_sqlstate_is(res, "57P02") || source_sqlstate_is(res, "57P03");
}

/*
 * repl_lost - res failed transiently on a stream that may retry:
 * reconnect with backoff (and return true).
 */
static bool
repl_lost(stream_t *s, const PGresult *res)
{
	if (!may_retry(s) || !transient(s, res))
		return false;
	connection_lost(s, source_async_error(&s->ra, res));
	return true;
}

/* repl_send - the next setup step: 0, or REPL_LOST / an exit code */
static int
repl_send(stream_t *s, int step, const char *sql)
{
	s->rstep = step;
	if (source_async_send(&s->ra, sql, on_repl_step) == 0)
		return 0;
	if (repl_lost(s, NULL))
		return REPL_LOST;
	tide_log_error("could not send a command to the source: %s", source_async_error(&s->ra, NULL));
	return TIDE_EXIT_SOURCE;
}

/*
 * hint_for - after an error res: the server's DETAIL and HINT, or where it
 * gave no hint, what its SQLSTATE calls for.  Never the message's text:
 * it is in the server's lc_messages language.
 */
static void
hint_for(const PGresult *res)
{
	source_log_notes(res);
	if (res == NULL || PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) != NULL)
		return;
	if (source_sqlstate_is(res, "58P01"))	/* undefined file */
		tide_log_hint("install the tide plugin on the source (tide.so in its $libdir, or in dynamic_library_path)");
	else if (source_sqlstate_is(res, "42501"))	/* insufficient privilege */
		tide_log_hint("the role needs LOGIN and REPLICATION (no superuser), and tide must be a trusted output plugin where the server has output_plugin_libraries (README, \"Enabling the plugin on a source server\")");
	else if (source_sqlstate_is(res, "53400"))	/* configuration limit exceeded */
		tide_log_hint("every replication slot is taken: raise max_replication_slots on the source, or drop a slot no longer used");
}

/*
 * slot_missing - the slot does not exist (its row is gone, or the server
 * said 42704 undefined object).  Returns the exit code of the logged
 * problem.
 */
static int
slot_missing(stream_t *s)
{
	if (s->w.have_ident)
	{
		/*
		 * Invariant 1: a new slot starts at the source's current WAL
		 * position, so the transactions between the directory's end and
		 * that point would be in no segment.  --create-slot only starts a
		 * history; it never continues one.
		 */
		tide_log_error("replication slot \"%s\" does not exist, but segment directory \"%s\" holds its history up to " LSN_FMT,
					   s->o.slot, s->o.dir, LSN_ARGS(s->w.accepted));
		tide_log_detail("the slot was dropped (or the source failed over to a server without it); a new slot would start at the source's current position, and the transactions committed since " LSN_FMT " would be in no segment",
						LSN_ARGS(s->w.accepted));
		tide_log_hint("start a new segment directory from a new base (tide base); keep this one for replicas already past it");
		return TIDE_EXIT_CORRUPT;
	}
	tide_log_error("replication slot \"%s\" does not exist", s->o.slot);
	tide_log_hint("create it with --create-slot, or SELECT pg_create_logical_replication_slot('%s', 'tide')", s->o.slot);
	return TIDE_EXIT_SOURCE;
}

/* slot_in_use - another process streams from the slot (pid, or NULL) */
static int
slot_in_use(stream_t *s, const char *pid)
{
	if (pid)
		tide_log_error("replication slot \"%s\" is in use by process %s", s->o.slot, pid);
	else
		tide_log_error("replication slot \"%s\" is in use by another process", s->o.slot);
	tide_log_hint("stop the other consumer of the slot first");
	return TIDE_EXIT_SOURCE;
}

/* send_identity - the query learn_identity reads */
static int
send_identity(stream_t *s)
{
	return repl_send(s, RS_IDENT,
					 "SELECT d.oid, current_setting('server_version_num'), "
					 "pg_catalog.pg_encoding_to_char(d.encoding) "
					 "FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()");
}

/*
 * identified - IDENTIFY_SYSTEM answered: the same source as the
 * directory's, on its timeline; then the slot's row is asked for.
 */
static int
identified(stream_t *s, PGresult *r)
{
	char	   *lit;
	char		sql[1024];

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQnfields(r) < 4 || PQntuples(r) != 1)
	{
		if (repl_lost(s, r))
			return REPL_LOST;
		tide_log_error("could not identify the source system: %s", source_async_error(&s->ra, r));
		source_log_notes(r);
		tide_log_hint("the connection must allow replication: a role with REPLICATION and a \"replication\" line in pg_hba.conf");
		return TIDE_EXIT_SOURCE;
	}
	snprintf(s->src_dbname, sizeof(s->src_dbname), "%s", PQgetvalue(r, 0, 3));
	s->src_sysid = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	s->src_timeline = (uint32_t) strtoul(PQgetvalue(r, 0, 1), NULL, 10);
	if (s->w.have_ident &&
		(s->src_sysid != s->w.ident.system_id ||
		 strlen(s->src_dbname) != s->w.ident.dbname.n ||
		 memcmp(s->src_dbname, s->w.ident.dbname.p, s->w.ident.dbname.n) != 0 ||
		 strlen(s->o.slot) != s->w.ident.slot.n ||
		 memcmp(s->o.slot, s->w.ident.slot.p, s->w.ident.slot.n) != 0))
	{
		tide_log_error("segment directory \"%s\" holds segments of another source", s->o.dir);
		tide_log_detail("its segments come from system %llu, database \"%.*s\", slot \"%.*s\"; "
						"this stream is system %s, database \"%s\", slot \"%s\"",
						(unsigned long long) s->w.ident.system_id,
						(int) s->w.ident.dbname.n, s->w.ident.dbname.p,
						(int) s->w.ident.slot.n, s->w.ident.slot.p,
						PQgetvalue(r, 0, 0), s->src_dbname, s->o.slot);
		tide_log_hint("use one directory per source and slot");
		return TIDE_EXIT_USAGE;
	}
	if (s->w.have_ident && s->src_timeline != s->w.ident.timeline)
	{
		/*
		 * Invariant 1: another timeline is another history (a promoted
		 * standby, a point-in-time recovery); what this directory holds
		 * past the fork may never have happened there.
		 */
		tide_log_error("the source is on timeline %u, but segment directory \"%s\" was written on timeline %u",
					   s->src_timeline, s->o.dir, s->w.ident.timeline);
		tide_log_detail("the directory holds the history up to " LSN_FMT "; after a failover or a point-in-time recovery the source's history forked, and a stream from it would not continue this one",
						LSN_ARGS(s->w.accepted));
		tide_log_hint("start a new segment directory from a new base (tide base) on the new primary");
		return TIDE_EXIT_CORRUPT;
	}
	lit = PQescapeLiteral(s->conn, s->o.slot, strlen(s->o.slot));
	if (lit == NULL)
	{
		tide_log_error("could not quote the slot name: %s", source_async_error(&s->ra, NULL));
		return TIDE_EXIT_SOURCE;
	}
	snprintf(sql, sizeof(sql),
			 "SELECT plugin, slot_type, database, confirmed_flush_lsn, active_pid "
			 "FROM pg_catalog.pg_replication_slots WHERE slot_name = %s", lit);
	PQfreemem(lit);
	return repl_send(s, RS_SLOT, sql);
}

/*
 * slot_checked - the slot's row: it exists (or is created now), is
 * logical, uses tide, belongs to this database and is not in use; and the
 * directory is not behind it.
 */
static int
slot_checked(stream_t *s, PGresult *r)
{
	uint64_t	confirmed = 0;

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
	{
		if (repl_lost(s, r))
			return REPL_LOST;
		tide_log_error("could not look up replication slot \"%s\": %s", s->o.slot, source_async_error(&s->ra, r));
		source_log_notes(r);
		return TIDE_EXIT_SOURCE;
	}
	if (PQntuples(r) == 0)
	{
		if (s->o.create_slot && !s->w.have_ident)
		{
			char	   *id = PQescapeIdentifier(s->conn, s->o.slot, strlen(s->o.slot));
			char		sql[1024];

			snprintf(sql, sizeof(sql), "CREATE_REPLICATION_SLOT %s LOGICAL tide (SNAPSHOT 'nothing')",
					 id ? id : "\"\"");
			PQfreemem(id);
			return repl_send(s, RS_CREATE, sql);
		}
		return slot_missing(s);
	}
	if (strcmp(PQgetvalue(r, 0, 1), "logical") != 0 || strcmp(PQgetvalue(r, 0, 0), "tide") != 0)
	{
		tide_log_error("replication slot \"%s\" uses output plugin \"%s\" (%s), not \"tide\"",
					   s->o.slot, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
		tide_log_hint("give tide its own slot: --create-slot with another -S name");
		return TIDE_EXIT_SOURCE;
	}
	if (strcmp(PQgetvalue(r, 0, 2), s->src_dbname) != 0)
	{
		tide_log_error("replication slot \"%s\" belongs to database \"%s\", not \"%s\"",
					   s->o.slot, PQgetvalue(r, 0, 2), s->src_dbname);
		return TIDE_EXIT_SOURCE;
	}
	if (!PQgetisnull(r, 0, 4))
		return slot_in_use(s, PQgetvalue(r, 0, 4));
	if (!PQgetisnull(r, 0, 3))
		tide_parse_lsn(PQgetvalue(r, 0, 3), &confirmed);
	if (s->w.have_ident && confirmed > s->w.accepted)
	{
		tide_log_error("replication slot \"%s\" has confirmed " LSN_FMT ", past the end of segment directory \"%s\" (complete to " LSN_FMT ")",
					   s->o.slot, LSN_ARGS(confirmed), s->o.dir, LSN_ARGS(s->w.accepted));
		tide_log_detail("transactions between those positions were acknowledged but are not in the directory");
		tide_log_hint("restore the missing segments, or start a new directory from a new base dump");
		return TIDE_EXIT_CORRUPT;
	}
	if (!s->w.have_ident && confirmed > s->w.accepted)
		s->w.accepted = confirmed;
	return send_identity(s);
}

/* slot_created - CREATE_REPLICATION_SLOT answered */
static int
slot_created(stream_t *s, PGresult *r)
{
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) < 2)
	{
		if (repl_lost(s, r))
			return REPL_LOST;
		tide_log_error("could not create replication slot \"%s\": %s", s->o.slot, source_async_error(&s->ra, r));
		hint_for(r);
		if (source_sqlstate_is(r, "42710"))	/* duplicate object */
			tide_log_hint("another process created the slot meanwhile: run again without --create-slot if it is yours");
		return TIDE_EXIT_SOURCE;
	}
	tide_log_info("created replication slot \"%s\" at %s", s->o.slot, PQgetvalue(r, 0, 1));
	tide_parse_lsn(PQgetvalue(r, 0, 1), &s->w.accepted);
	return send_identity(s);
}

/*
 * learn_identity - what the decoder's STARTUP will say, asked before
 * streaming so a segment can be opened (and the idle bucket closed) even
 * before the first transaction arrives; then START_REPLICATION.
 */
static int
learn_identity(stream_t *s, PGresult *r)
{
	proto_startup_t st;
	int			rc;
	char		cmd[8192];
	size_t		n;
	bool		send_bounds;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
	{
		if (repl_lost(s, r))
			return REPL_LOST;
		tide_log_error("could not read the source database's identity: %s", source_async_error(&s->ra, r));
		source_log_notes(r);
		return TIDE_EXIT_SOURCE;
	}
	memset(&st, 0, sizeof(st));
	st.format_version = PROTO_FORMAT_VERSION;
	st.server_version = (uint32_t) strtoul(PQgetvalue(r, 0, 1), NULL, 10);
	s->server_version = st.server_version;
	st.system_id = s->src_sysid;
	st.timeline = s->src_timeline;
	st.dboid = (uint32_t) strtoul(PQgetvalue(r, 0, 0), NULL, 10);
	st.dbname.p = s->src_dbname;
	st.dbname.n = strlen(s->src_dbname);
	st.slot.p = s->o.slot;
	st.slot.n = strlen(s->o.slot);
	st.encoding.p = PQgetvalue(r, 0, 2);
	st.encoding.n = strlen(st.encoding.p);
	if ((rc = segwriter_set_ident(&s->w, &st)) != 0)
	{
		/* IDENTIFY_SYSTEM's check came first: only memory is left to fail */
		tide_log_error("could not record the source identity: %s", tide_strerror(rc));
		return TIDE_EXIT_BUG;
	}

	/*
	 * Stream transactions in progress where the server can: the source then
	 * never spills a large transaction to its disk (PostgreSQL 14+).
	 * Version 1 otherwise, which any tide plugin speaks.
	 */
	s->stream_txns = !s->o.no_streaming && !s->stream_refused && s->server_version >= 140000;
	{
		char	   *id = PQescapeIdentifier(s->conn, s->o.slot, strlen(s->o.slot));

		n = (size_t) snprintf(cmd, sizeof(cmd),
							  "START_REPLICATION SLOT %s LOGICAL " LSN_FMT " (\"format-version\" '%d'%s",
							  id ? id : "\"\"", LSN_ARGS(s->w.accepted),
							  s->stream_txns ? PROTO_STREAM_VERSION : 1,
							  s->stream_txns ? ", \"streaming\" 'on'" : "");
		PQfreemem(id);
	}

	/*
	 * Partitions described with their parent, bound and partition key, so
	 * that tide apply --schema follow can create a partition the replica
	 * lacks (a new day of a time-partitioned table); an -o
	 * partition-bounds=... given by the user is sent instead.
	 */
	send_bounds = !s->bounds_refused;
	for (int i = 0; i < s->o.nplugin_opts; i++)
		if (strcmp(s->o.plugin_opts[i][0], "partition-bounds") == 0)
			send_bounds = false;
	s->sent_bounds = send_bounds;
	if (send_bounds && n < sizeof(cmd))
		n += (size_t) snprintf(cmd + n, sizeof(cmd) - n, ", \"partition-bounds\" 'on'");
	for (int i = 0; i < s->o.nplugin_opts && n < sizeof(cmd); i++)
	{
		char	   *k = PQescapeIdentifier(s->conn, s->o.plugin_opts[i][0], strlen(s->o.plugin_opts[i][0]));
		char	   *v = PQescapeLiteral(s->conn, s->o.plugin_opts[i][1], strlen(s->o.plugin_opts[i][1]));

		n += (size_t) snprintf(cmd + n, sizeof(cmd) - n, ", %s %s", k ? k : "\"\"", v ? v : "''");
		PQfreemem(k);
		PQfreemem(v);
	}
	if (n + 2 >= sizeof(cmd))
	{
		tide_log_error("too many or too long decoder options (-o)");
		return TIDE_EXIT_USAGE;
	}
	strcat(cmd, ")");
	return repl_send(s, RS_START, cmd);
}

/*
 * started - START_REPLICATION answered: the copy stream begins, or the
 * refusal is classified by its SQLSTATE.
 */
static int
started(stream_t *s, PGresult *r)
{
	int			rc;

	if (PQresultStatus(r) != PGRES_COPY_BOTH && s->stream_txns && source_sqlstate_is(r, "0A000"))
	{
		/* a plugin older than wire version 2: go on without streaming */
		tide_log_warning("the tide plugin on the source cannot stream transactions in progress: %s",
						 source_async_error(&s->ra, r));
		tide_log_hint("large transactions spill to the source's disk until they commit; install this version's plugin on the source to avoid that");
		s->stream_refused = true;
		goto again;
	}
	if (PQresultStatus(r) != PGRES_COPY_BOTH && s->sent_bounds && s->o.nplugin_opts == 0 &&
		source_sqlstate_is(r, "22023"))
	{
		/*
		 * An option refused while the only one not tide stream's own is
		 * partition-bounds: a plugin older than it.  (With -o options,
		 * the refusal is reported below, naming the option.)
		 */
		tide_log_warning("the tide plugin on the source refused the option partition-bounds: %s",
						 source_async_error(&s->ra, r));
		tide_log_hint("trying again without partition-bounds: tide apply --schema follow then routes rows of a new partition to its root instead of creating it; install this version's plugin on the source");
		s->bounds_refused = true;
		goto again;
	}
	if (PQresultStatus(r) != PGRES_COPY_BOTH)
	{
		if (repl_lost(s, r))
			return REPL_LOST;
		/* the slot went (42704) or was taken (55006) since it was looked at */
		if (source_sqlstate_is(r, "42704"))
			return slot_missing(s);
		if (source_sqlstate_is(r, "55006"))
			return slot_in_use(s, NULL);
		tide_log_error("could not start replication from slot \"%s\": %s", s->o.slot, source_async_error(&s->ra, r));
		hint_for(r);
		if (source_sqlstate_is(r, "22023"))
		{
			tide_log_hint("check the decoder options given with -o (tide stream adds partition-bounds, which a plugin older than this tide refuses: "
						  "install this version's plugin on the source)");
			return TIDE_EXIT_USAGE;
		}
		return TIDE_EXIT_SOURCE;
	}
	if ((s->poll = malloc(sizeof(uv_poll_t))) == NULL ||
		(rc = uv_poll_init(&s->loop, s->poll, PQsocket(s->conn))) != 0)
	{
		free(s->poll);
		s->poll = NULL;
		tide_log_error("could not watch the replication connection's socket");
		return TIDE_EXIT_BUG;
	}
	s->poll->data = s;
	s->streaming = true;
	s->paused = false;
	s->retry_ms = 0;
	tide_log_info("streaming from slot \"%s\" at " LSN_FMT " into \"%s\"%s",
				  s->o.slot, LSN_ARGS(s->w.accepted), s->o.dir,
				  s->stream_txns ? " (large transactions streamed while in progress)" : "");
	uv_poll_start(s->poll, UV_READABLE, on_poll);
	/* data may already be buffered in libpq */
	read_available(s);
	return 0;

again:
	PQfinish(s->conn);
	s->conn = NULL;
	start_streaming(s);
	return 0;
}

/* repl_connect_failed - the attempt to connect failed (source_async_error) */
static void
repl_connect_failed(stream_t *s)
{
	const char *e = source_async_error(&s->ra, NULL);

	if (!may_retry(s))
	{
		tide_log_error("could not connect to the source: %s", e);
		tide_log_hint("check that the source is up, that the role has LOGIN and REPLICATION (it needs no superuser), and that pg_hba.conf has a \"replication\" line for it (README, \"Enabling the plugin on a source server\")");
		PQfinish(s->conn);
		s->conn = NULL;
		stop_stream(s, TIDE_EXIT_SOURCE);
		return;
	}
	connection_lost(s, e);
}

static void
on_repl_step(source_async_t *a, PGresult *res)
{
	stream_t   *s = a->data;
	int			rc = 0;

	if (s->stopping)
	{
		PQclear(res);
		return;
	}
	switch (s->rstep)
	{
		case RS_CONNECT:
			if (!source_async_connected(a))
			{
				repl_connect_failed(s);
				return;
			}
			rc = repl_send(s, RS_IDENTIFY, "IDENTIFY_SYSTEM");
			break;
		case RS_IDENTIFY:
			rc = identified(s, res);
			break;
		case RS_SLOT:
			rc = slot_checked(s, res);
			break;
		case RS_CREATE:
			rc = slot_created(s, res);
			break;
		case RS_IDENT:
			rc = learn_identity(s, res);
			break;
		case RS_START:
			rc = started(s, res);
			break;
	}
	PQclear(res);
	if (rc > 0)
		stop_stream(s, rc);
}

/* start_streaming - a connection attempt begins; the steps follow */
static void
start_streaming(stream_t *s)
{
	if (s->stopping)
		return;
	s->conn = stream_connect_source_start(s->o.conninfo, s->o.host, s->o.port, s->o.user,
										  true, "tide stream");
	s->rstep = RS_CONNECT;
	if (source_async_connect(&s->ra, s->conn, on_repl_step) != 0)
		repl_connect_failed(s);
}

static void
on_retry(uv_timer_t *t)
{
	start_streaming(t->data);
}
/* --------------------------------------------------- slot health */

/*
 * The plain (non-replication) session, for the slot check and the
 * sequence statements, is made and set up under the loop like the
 * replication one (source_async_t): HS_CONNECT, HS_SETUP (the pinned
 * settings and the timeouts), then the slot check (HS_CHECK) or the
 * sequence statements, one at a time, never waiting on the loop thread.
 * Its answer feeds the --warn-* warnings (at most once a minute) and the
 * metrics (it runs every 5 s with --metrics-listen, else every minute).
 */
#define HS_CONNECT 0
#define HS_SETUP 1
#define HS_CHECK 2

static void check_health(stream_t *s);
static void on_health_step(source_async_t *a, PGresult *res);

/* health_drop - the plain session goes; made again when next needed */
static void
health_drop(stream_t *s)
{
	source_async_cancel(&s->ha);
	PQfinish(s->health);
	s->health = NULL;
	s->health_ready = false;
}

/* health_failed - connecting or setting up the plain session failed */
static void
health_failed(stream_t *s)
{
	health_drop(s);
	s->health_down = true;
	s->health_failed_tick = s->ticks;
}

/*
 * plain_conn - the plain session if it is up and set up; else NULL, and a
 * connection attempt starts if none is running (the replication side
 * reports outages).
 */
static PGconn *
plain_conn(stream_t *s)
{
	if (s->health && s->health_ready && PQstatus(s->health) == CONNECTION_OK)
		return s->health;
	if (source_async_busy(&s->ha))
		return NULL;
	/* a failed attempt ends at once when refused: not another every tick */
	if (s->health_down && s->ticks - s->health_failed_tick < every(s, 5 * USECS))
		return NULL;
	health_drop(s);
	s->health = stream_connect_source_start(s->o.conninfo, s->o.host, s->o.port, s->o.user,
											false, "tide stream (slot check)");
	s->health_step = HS_CONNECT;
	s->health_sent_tick = s->ticks;
	if (source_async_connect(&s->ha, s->health, on_health_step) != 0)
		health_failed(s);
	return NULL;
}

static void
warn_health(stream_t *s)
{
	if (s->ticks - s->last_warn_tick < every(s, 60 * 1000000) && s->last_warn_tick != 0)
		return;
	s->last_warn_tick = s->ticks;
	if (s->have_retained && s->retained >= s->o.warn_retained)
	{
		tide_log_warning("replication slot \"%s\" retains %lld bytes of WAL on the source", s->o.slot,
						 (long long) s->retained);
		tide_log_hint("the stream is behind or stopped; if it cannot catch up, set max_slot_wal_keep_size on the source or drop the slot");
	}
	if (s->have_xmin_age && s->xmin_age >= s->o.warn_xmin_age)
	{
		tide_log_warning("replication slot \"%s\" holds back catalog_xmin by %lld transactions", s->o.slot,
						 (long long) s->xmin_age);
		tide_log_hint("vacuum cannot remove catalog rows older than the slot; a stalled slot leads toward XID wraparound");
	}
}

static void
health_result(stream_t *s, PGresult *r)
{
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		return;
	s->have_slot = true;
	s->slot_checked = tide_now();
	tide_parse_lsn(PQgetvalue(r, 0, 0), &s->source_lsn);
	if ((s->have_retained = !PQgetisnull(r, 0, 1)))
		s->retained = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	if ((s->have_xmin_age = !PQgetisnull(r, 0, 2)))
		s->xmin_age = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
	if ((s->have_safe_wal = !PQgetisnull(r, 0, 3)))
		s->safe_wal = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
	s->slot_active = strcmp(PQgetvalue(r, 0, 4), "t") == 0;
	warn_health(s);
}

static void
on_health_step(source_async_t *a, PGresult *res)
{
	stream_t   *s = a->data;
	char		sql[1024];

	switch (s->health_step)
	{
		case HS_CONNECT:
			if (!source_async_connected(a))
			{
				health_failed(s);
				break;
			}
			s->health_step = HS_SETUP;
			s->health_sent_tick = s->ticks;
			snprintf(sql, sizeof(sql), "%s; SET statement_timeout = '5s'; SET lock_timeout = '1s'",
					 tide_pin_session_sql());
			if (source_async_send(a, sql, on_health_step) != 0)
				health_failed(s);
			break;
		case HS_SETUP:
			if (PQresultStatus(res) != PGRES_COMMAND_OK)
			{
				health_failed(s);
				break;
			}
			s->health_ready = true;
			s->health_down = false;
			/* the check that asked for the session */
			if (!s->stopping && s->seq_phase == SEQ_IDLE)
				check_health(s);
			break;
		case HS_CHECK:
			if (res == NULL)
				health_drop(s);
			else
				health_result(s, res);
			break;
	}
	PQclear(res);
}

static void
check_health(stream_t *s)
{
	char		sql[1024];
	char	   *lit;

	if (source_async_busy(&s->ha))
	{
		/* a source that does not answer for a minute: a new session next time */
		if (s->ticks - s->health_sent_tick >= every(s, 60 * USECS))
			health_drop(s);
		return;
	}
	/* the session is shared: another statement in flight goes first */
	if (s->health && PQstatus(s->health) == CONNECTION_OK &&
		PQtransactionStatus(s->health) == PQTRANS_ACTIVE)
		return;
	/* not up yet: connecting, and the check runs once it is set up */
	if (plain_conn(s) == NULL)
		return;
	lit = PQescapeLiteral(s->health, s->o.slot, strlen(s->o.slot));
	snprintf(sql, sizeof(sql),
			 "SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn() "
			 "ELSE pg_catalog.pg_current_wal_lsn() END, "
			 "pg_catalog.pg_wal_lsn_diff(CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn() "
			 "ELSE pg_catalog.pg_current_wal_lsn() END, restart_lsn)::bigint, "
			 "pg_catalog.age(catalog_xmin), %s, active "
			 "FROM pg_catalog.pg_replication_slots WHERE slot_name = %s",
			 PQserverVersion(s->health) >= 130000 ? "safe_wal_size" : "NULL::bigint", lit ? lit : "NULL");
	PQfreemem(lit);
	s->health_step = HS_CHECK;
	s->health_sent_tick = s->ticks;
	if (source_async_send(&s->ha, sql, on_health_step) != 0)
		health_drop(s);
}

/* ------------------------------------------------------- the tick */

static uint64_t every(const stream_t *s, int64_t usecs);

/*
 * seq_fail - a sequence statement failed: said once (until one succeeds),
 * the stream goes on.  A lost session is dropped (plain_conn connects
 * again when next needed).
 */
static void
seq_fail(stream_t *s, const char *what, const char *why)
{
	if (!s->seq_failing)
	{
		tide_log_warning("%s%s%s", what, why ? ": " : "", why ? why : "");
		tide_log_hint("sequence states are not recorded until this succeeds; the role needs SELECT on the sequences and EXECUTE on pg_catalog.pg_logical_emit_message");
	}
	s->seq_failing = true;
	s->seq_phase = SEQ_IDLE;
	PQclear(s->seq_res);
	s->seq_res = NULL;
	free(s->seq_pending);
	s->seq_pending = NULL;
	if (s->health && PQstatus(s->health) != CONNECTION_OK)
		health_drop(s);
}

/* seq_done - the statement in flight answered (s->seq_res): the next step */
static void
seq_done(stream_t *s)
{
	PGresult   *res = s->seq_res;
	char		err[1024];
	char		lsn[64];

	s->seq_res = NULL;
	if (s->seq_phase == SEQ_READING)
	{
		tide_seqlist_t l;
		char	   *payload = NULL;
		int			rc = tide_seq_from_result(s->health, res, &l, err, sizeof(err));

		PQclear(res);
		if (rc != 0)
		{
			seq_fail(s, err, NULL);
			return;
		}
		rc = stream_seq_payload(&l, &s->seqf, s->seq_last, false, &payload, &s->seq_count,
								&s->seq_unreadable_warned);
		tide_seqlist_free(&l);
		s->seq_phase = SEQ_IDLE;
		if (rc != 0 || payload == NULL)
			return;				/* unchanged: nothing to emit */
		{
			const char *vals[2] = {TIDE_SEQ_PREFIX, payload};

			if (PQsendQueryParams(s->health, tide_seq_emit_sql, 2, NULL, vals, NULL, NULL, 0) != 1)
			{
				free(payload);
				seq_fail(s, "could not emit the sequences' states", conn_error(s->health));
				return;
			}
		}
		s->seq_pending = payload;
		s->seq_phase = SEQ_EMITTING;
		return;
	}
	if (tide_seq_emitted(s->health, res, lsn, sizeof(lsn), err, sizeof(err)) != 0)
	{
		PQclear(res);
		seq_fail(s, err, NULL);
		return;
	}
	PQclear(res);
	free(s->seq_last);
	s->seq_last = s->seq_pending;
	s->seq_pending = NULL;
	s->seq_phase = SEQ_IDLE;
	if (s->seq_failing)
		tide_log_info("recording the sequences' states again (at %s)", lsn);
	s->seq_failing = false;
	if (!s->seq_announced)
	{
		char		every_text[32];

		tide_format_duration(s->o.sequence_interval, every_text, sizeof(every_text));
		tide_log_info("recording the states of %zu sequences into the stream (first at %s): "
					  "when a segment closes and every %s, if they changed",
					  s->seq_count, lsn, every_text);
		s->seq_announced = true;
	}
}

/*
 * seq_poll - read what the server has sent for the statement in flight,
 * without waiting: the loop never blocks on it.  A statement that never
 * answers is ended by statement_timeout (or the session's keepalives).
 */
static void
seq_poll(stream_t *s)
{
	PGresult   *r;

	/* the session is non-blocking (check_health): send what is left first */
	if (s->health == NULL || PQflush(s->health) < 0 || PQconsumeInput(s->health) != 1)
	{
		seq_fail(s, "lost the session recording the sequences' states",
				 s->health ? conn_error(s->health) : NULL);
		return;
	}
	while (!PQisBusy(s->health))
	{
		if ((r = PQgetResult(s->health)) == NULL)
		{
			seq_done(s);
			return;
		}
		if (s->seq_res == NULL)
			s->seq_res = r;
		else
			PQclear(r);
	}
}

/*
 * record_sequences - emit the sequences' states into the source's WAL
 * (sequences.c) at the first tick of a run, after a segment closed and
 * every --sequence-interval; only when they changed since the last
 * emission, so that an idle source stays idle.  The two statements (read,
 * emit) are sent without waiting and their results picked up at later
 * ticks (seq_poll), on the plain session, which the slot check leaves
 * alone meanwhile.  A failure is a warning, said once until an emission
 * succeeds: the stream itself goes on.
 */
static void
record_sequences(stream_t *s)
{
	bool		closed;

	if (s->seq_phase != SEQ_IDLE)
	{
		seq_poll(s);
		return;
	}
	if (s->o.sequence_interval == 0 || s->seqf.off || s->stopping)
		return;
	closed = s->seq_seen_seg[0] != '\0' &&
		(!s->w.seg_open || strncmp(s->seq_seen_seg, s->w.seg_name, SEG_NAME_LEN) != 0);
	if (s->w.seg_open)
		memcpy(s->seq_seen_seg, s->w.seg_name, SEG_NAME_LEN);
	else
		s->seq_seen_seg[0] = '\0';
	s->seq_due |= closed;
	if (s->last_seq_tick == 0 || s->ticks - s->last_seq_tick >= every(s, s->o.sequence_interval))
		s->seq_due = true;
	/* the slot check's statement in flight goes first */
	if (!s->seq_due || !s->streaming || source_async_busy(&s->ha) || plain_conn(s) == NULL)
		return;
	s->seq_due = false;
	s->last_seq_tick = s->ticks;
	if (PQsendQuery(s->health, tide_seq_sql) != 1)
	{
		seq_fail(s, "could not read the sequences' states", conn_error(s->health));
		return;
	}
	s->seq_phase = SEQ_READING;
}

static uint64_t
every(const stream_t *s, int64_t usecs)
{
	(void) s;
	uint64_t	t = (uint64_t) (usecs / 1000 / TICK_MS);

	return t ? t : 1;
}

static void
close_handles(stream_t *s)
{
	if (s->closing)
		return;
	s->closing = true;
	if (s->poll)
	{
		uv_poll_stop(s->poll);
		uv_close((uv_handle_t *) s->poll, (uv_close_cb) free);
		s->poll = NULL;
	}
	source_async_close(&s->ra);
	source_async_close(&s->ha);
	tide_metrics_stop(s->metrics);
	s->metrics = NULL;
	uv_close((uv_handle_t *) &s->tick, NULL);
	uv_close((uv_handle_t *) &s->flush_soon, NULL);
	uv_close((uv_handle_t *) &s->retry, NULL);
	for (int i = 0; i < 3; i++)
		uv_close((uv_handle_t *) &s->sig[i], NULL);
	/* its last pass publishes what is closed; tide_cmd_stream joins it */
	publisher_stop(s->pub);
}

/*
 * finish_if_idle - once stopping and the writer has nothing left to do,
 * say goodbye with the final durable position and close the handles.
 */
static void
finish_if_idle(stream_t *s)
{
	if (!s->stopping || s->closing || !segwriter_idle(&s->w))
		return;
	if (s->streaming && s->conn && !s->goodbye_sent)
	{
		s->goodbye_sent = true;
		s->goodbye_tick = s->ticks;
		send_feedback(s, false);
		if (s->w.durable)
			tide_log_info("confirmed " LSN_FMT " to the source", LSN_ARGS(s->w.durable));
	}

	/*
	 * The connection stays non-blocking: what the socket did not take yet
	 * is flushed as it becomes writable (on_poll), for at most 5 s, while
	 * the loop goes on serving.
	 */
	if (s->streaming && s->conn && s->poll && PQflush(s->conn) == 1 &&
		s->ticks - s->goodbye_tick < every(s, 5 * USECS))
	{
		uv_poll_start(s->poll, UV_WRITABLE, on_poll);
		return;
	}
	close_handles(s);
}

/*
 * note_rotation - a segment closed (or opened) since the last look: the
 * publisher indexes and publishes it now rather than at its next periodic
 * pass.  Called after the writer's work, when the rename is durable.
 */
static void
note_rotation(stream_t *s)
{
	if (s->pub_seen_open == s->w.seg_open &&
		strncmp(s->pub_seen_seg, s->w.seg_name, SEG_NAME_LEN) == 0)
		return;
	s->pub_seen_open = s->w.seg_open;
	memcpy(s->pub_seen_seg, s->w.seg_name, sizeof(s->pub_seen_seg));
	publisher_kick(s->pub);
}

static void
on_writer_idle(segwriter_t *w)
{
	note_rotation(w->data);
	finish_if_idle(w->data);
}

/* log_publish_status - with --publish, the backlog beside the status line */
static void
log_publish_status(stream_t *s)
{
	publisher_state_t st;

	if (s->pub == NULL || s->o.publish_url == NULL)
		return;
	publisher_state(s->pub, &st);
	tide_log_info("published to " LSN_FMT " in \"%s\": %zu closed segments (%llu bytes) wait to be published, %llu objects (%llu bytes) uploaded so far",
				  LSN_ARGS(st.published_end), s->o.publish_url, st.pending,
				  (unsigned long long) st.pending_bytes, (unsigned long long) st.uploaded,
				  (unsigned long long) st.uploaded_bytes);
}

/* on_published - a publisher pass moved what the store holds */
static void
on_published(publisher_t *p, void *arg)
{
	stream_t   *s = arg;

	(void) p;
	if (s->o.ack_after_publish && !s->stopping)
		send_feedback(s, false);
}

/*
 * start_publisher - the thread that keeps DIR's index.json, publishes to
 * --publish and applies --retain; before the first segment is written,
 * an empty DIR continues a history the store already holds.
 */
static int
start_publisher(stream_t *s)
{
	publisher_opts_t po;

	memset(&po, 0, sizeof(po));
	po.dir = s->o.dir;
	po.url = s->o.publish_url;
	po.retain.retain_usecs = s->o.retain;
	po.retain.keep_bases = s->o.keep_bases;
	po.publish_retain.retain_usecs = s->o.publish_retain;
	po.publish_retain.keep_bases = s->o.keep_bases;
	po.warn_bytes = s->o.warn_unpublished;
	return publisher_start(&s->pub, &s->loop, &po, on_published, s);
}

static void
on_tick(uv_timer_t *t)
{
	stream_t   *s = t->data;

	s->ticks++;
	if (s->stopping)
	{
		finish_if_idle(s);
		return;
	}
	replay_continue(s);
	if (s->stopping)
		return;
	if (s->paused && segwriter_backlog(&s->w) < BACKLOG_LIMIT / 2 && s->poll &&
		s->replay == NULL)
	{
		s->paused = false;
		uv_poll_start(s->poll, UV_READABLE, on_poll);
		read_available(s);
	}
	if (s->ticks - s->last_flush_tick >= every(s, s->o.flush_interval))
	{
		proto_lsn_t idle = 0;

		/* a keepalive says the source is idle up to server_end */
		if (s->streaming && !s->skipping && !s->w.in_txn &&
			s->ticks - s->last_mark_tick >= every(s, s->o.idle_mark_interval))
		{
			idle = s->server_end;
			s->last_mark_tick = s->ticks;
		}
		/*
		 * Buckets close on commit times as transactions arrive; the timer
		 * only closes the bucket of a source that has gone quiet, by the
		 * source's clock.  While a backlog drains, this host's clock is far
		 * ahead of the commit times: closing by it would put old commits in
		 * a bucket named after now (invariant 3).
		 */
		if (s->streaming && !s->w.in_txn && !s->skipping &&
			s->ticks - s->last_data_tick >= every(s, IDLE_USECS))
			segwriter_rotate_idle(&s->w, tide_now() + s->clock_offset);
		segwriter_flush(&s->w, idle);
		s->last_flush_tick = s->ticks;
	}
	if (s->streaming && s->ticks - s->last_feedback_tick >= every(s, 10 * 1000000))
		send_feedback(s, false);
	if (s->ticks - s->last_status_tick >= every(s, s->o.status_interval))
	{
		double		secs = (double) (s->ticks - s->last_status_tick) * TICK_MS / 1000.0;
		proto_lsn_t end = s->server_end > s->received ? s->server_end : s->received;

		tide_log_info("received " LSN_FMT ", durable " LSN_FMT ", lag %llu bytes, segment \"%s\", %.2f MB/s%s",
					  LSN_ARGS(s->received), LSN_ARGS(s->w.durable),
					  (unsigned long long) (end > s->w.durable ? end - s->w.durable : 0),
					  s->w.seg_open ? s->w.seg_name : "(none)",
					  (double) (s->bytes_in - s->bytes_in_status) / secs / 1e6,
					  spool_status(s));
		s->bytes_in_status = s->bytes_in;
		s->last_status_tick = s->ticks;
		log_publish_status(s);
	}
	if ((s->ticks - s->last_health_tick >= every(s, (s->o.metrics && !s->health_down ? 5 : 60) * USECS) ||
		 s->last_health_tick == 0) && s->seq_phase == SEQ_IDLE)
	{
		s->last_health_tick = s->ticks;
		check_health(s);
	}
	record_sequences(s);
}

/* on_commit - a whole transaction accepted: counted, its time kept for the lag */
static void
on_commit(segwriter_t *w, proto_lsn_t end_lsn, proto_time_t commit_time, uint64_t nchanges)
{
	stream_t   *s = w->data;
	size_t		at;

	s->txns++;
	s->changes += nchanges;
	if (s->ring_n == COMMIT_RING)
		at = (s->ring_head + s->ring_n - 1) % COMMIT_RING;
	else
		at = (s->ring_head + s->ring_n++) % COMMIT_RING;
	s->ring[at].end = end_lsn;
	s->ring[at].time = commit_time;
}

/*
 * collect_metrics - the page for a scrape, on the loop thread: everything
 * read here is the loop's own, but for the publisher's state (copied
 * under its lock).
 */
static void
collect_metrics(tide_mbuf_t *b, void *arg)
{
	stream_t   *s = arg;
	stream_metrics_t m;
	int64_t		now = tide_now() + s->clock_offset;	/* by the source's clock */

	memset(&m, 0, sizeof(m));
	m.slot = s->o.slot;
	m.streaming = s->streaming;
	m.source_lsn = s->source_lsn > s->server_end ? s->source_lsn : s->server_end;
	m.received_lsn = s->received;
	m.durable_lsn = s->w.durable;
	m.confirmed_lsn = s->reported;
	if (s->ring_n > 0)
		m.lag_seconds = (double) (now - s->ring[s->ring_head].time) / 1e6;
	else if (!s->streaming && s->durable_time)
		m.lag_seconds = (double) (now - s->durable_time) / 1e6;
	if (m.lag_seconds < 0)
		m.lag_seconds = 0;
	if (s->durable_time)
		m.durable_commit_unix_usecs = s->durable_time + UNIX_EPOCH_OFFSET;
	m.have_slot = s->have_slot;
	m.slot_active = s->slot_active;
	m.have_retained = s->have_retained;
	m.retained_bytes = s->retained;
	m.have_safe_wal = s->have_safe_wal;
	m.safe_wal_bytes = s->safe_wal;
	m.have_xmin_age = s->have_xmin_age;
	m.xmin_age = s->xmin_age;
	m.slot_checked_unix = (double) (s->slot_checked + UNIX_EPOCH_OFFSET) / 1e6;
	m.received_bytes = s->bytes_in;
	m.txns = s->txns;
	m.changes = s->changes;
	m.segments_closed = s->w.segs_closed;
	m.connection_losses = s->connection_losses;
	m.spool_bytes = s->spool ? spool_bytes(s->spool) : 0;
	m.spool_txns = s->spool ? spool_open_txns(s->spool) : 0;
	m.publishing = s->o.publish_url != NULL;
	if (s->pub)
	{
		publisher_state_t st;

		publisher_state(s->pub, &st);
		m.have_published = st.have_published;
		m.published_lsn = st.published_end;
		m.segments_published = st.segments_published;
		m.deleted = st.deleted;
		m.upload_failures = st.failed_passes;
		m.unpublished_bytes = st.pending_bytes;
	}
	stream_metrics_write(b, &m);
}

static void
on_durable(segwriter_t *w, proto_lsn_t lsn)
{
	stream_t   *s = w->data;

	while (s->ring_n > 0 && s->ring[s->ring_head].end <= lsn)
	{
		s->durable_time = s->ring[s->ring_head].time;
		s->ring_head = (s->ring_head + 1) % COMMIT_RING;
		s->ring_n--;
	}
	/* tell the server at once: it can recycle WAL sooner */
	if (!s->stopping)
		send_feedback(s, false);
	note_rotation(s);
}

static void
on_write_error(segwriter_t *w, int code)
{
	fatal_stream(w->data, code, TIDE_EXIT_IO);
}

/*
 * stop_stream - stop reading, make every whole transaction durable, then
 * (in on_tick) send the final feedback and close the loop's handles.  A
 * transaction cut short is dropped: the server sends it again next time.
 */
static void
stop_stream(stream_t *s, int exit_code)
{
	if (s->stopping)
		return;
	s->stopping = true;
	s->exit_code = exit_code;
	if (s->poll)
		uv_poll_stop(s->poll);
	uv_timer_stop(&s->retry);
	replay_abandon(s);
	segwriter_abort(&s->w, &s->cat);
	spool_discard_all(s->spool);
	if (!s->w.failed)
	{
		if (s->want_close_segment)
			segwriter_close(&s->w);
		segwriter_flush(&s->w, 0);
	}
	finish_if_idle(s);
}

static void
on_signal(uv_signal_t *h, int signum)
{
	stream_t   *s = h->data;

	if (signum == SIGHUP)
	{
		tide_log_info("received SIGHUP: durable " LSN_FMT ", segment \"%s\"",
					  LSN_ARGS(s->w.durable), s->w.seg_open ? s->w.seg_name : "(none)");
		return;
	}
	tide_log_info("received %s: finishing the durable part and stopping", signum == SIGINT ? "SIGINT" : "SIGTERM");
	stop_stream(s, TIDE_EXIT_OK);
}

/* ---------------------------------------------------------- command */

static void
stream_usage(FILE *f)
{
	fprintf(f,
			"Usage: tide stream -d CONNINFO -S SLOT -D DIR [OPTIONS]\n\n"
			"Follow a logical replication slot that uses the tide plugin and write\n"
			"its changes into time-bucketed, zstd-compressed segment files in DIR.\n"
			"The slot is acknowledged only up to what is fsynced in DIR.\n\n"
			"Connection options (PG* variables apply; the user needs REPLICATION):\n");
	tide_conn_usage(f, "the source", 30);
	fprintf(f,
			"\nOptions:\n"
			"  -S, --slot=SLOT             replication slot\n"
			"  -D, --directory=DIR         segment directory (created if missing)\n"
			"      --create-slot           create the slot if it does not exist\n"
			"      --bucket=DURATION       time bucket of a segment (default 1h)\n"
			"      --retain=DURATION       delete closed segments older than this (those a\n"
			"                              kept base needs and, with --publish, those not\n"
			"                              yet published stay)\n"
			"      --compress-level=N      zstd level (default 3)\n"
			"      --flush-interval=DUR    fsync and acknowledge at least this often (default 1s)\n"
			"      --flush-delay=DUR       make a committed transaction durable within this\n"
			"                              delay, sharing one fsync with those that follow\n"
			"                              (default 100ms, at most --flush-interval)\n"
			"      --status-interval=DUR   status line interval (default 10s)\n"
			"      --sequence-interval=DUR record the sequences' states into the stream (a\n"
			"                              \"tide.seq\" message) this often, at startup and\n"
			"                              when a segment closes, if they changed (default\n"
			"                              10s; 0: never, see tide sync-sequences)\n"
			"  -E, --endpos=LSN            stop after the transactions committed up to LSN\n"
			"  -o, --option=NAME=VALUE     decoder option (include-tables, ...)\n"
			"      --warn-retained=SIZE    warn when the slot retains this much WAL (default 1GB)\n"
			"      --warn-xmin-age=N       warn when catalog_xmin is this many transactions old\n"
			"                              (default 100000000)\n"
			"      --allow-other-owner     accept a DIR that belongs to another user\n"
			"      --keep-bases=N          with --retain: keep the newest N bases (and what\n"
			"                              they need), delete older ones past the window\n"
			"      --publish=URL           copy each closed segment and each base to a store:\n"
			"                              s3://BUCKET/PREFIX (AWS_* variables) or a directory;\n"
			"                              from a thread of its own, retried with backoff,\n"
			"                              never holding up the slot (what waits stays in DIR)\n"
			"      --ack-after-publish     acknowledge the slot only up to what the store holds\n"
			"                              (losing DIR's disk then loses nothing)\n"
			"      --publish-retain=DUR    delete from the store what is older than this\n"
			"      --warn-unpublished=SIZE warn when closed segments not yet published pass\n"
			"                              this size (default 1GB)\n"
			"      --no-streaming          let the source spill large transactions to its\n"
			"                              disk until they commit, instead of streaming them\n"
			"                              into DIR/.spool while they run (PostgreSQL 14+)\n"
			"      --metrics-listen=[ADDR:]PORT  serve Prometheus metrics at\n"
			"                              http://ADDR:PORT/metrics (ADDR 127.0.0.1 unless\n"
			"                              given; [::1]:PORT for IPv6; README \"Monitoring\")\n"
			"  -q, --quiet                 only warnings and errors\n");
	tide_std_usage(f, 30);
}

static int
parse_args(stream_opts_t *o, tide_conn_opts_t *conn, int argc, char **argv)
{
	static const struct option opts[] = {
		TIDE_CONN_LONGOPTS,
		TIDE_STD_LONGOPTS,
		{"slot", required_argument, NULL, 'S'},
		{"directory", required_argument, NULL, 'D'},
		{"create-slot", no_argument, NULL, 1},
		{"bucket", required_argument, NULL, 2},
		{"retain", required_argument, NULL, 3},
		{"compress-level", required_argument, NULL, 4},
		{"flush-interval", required_argument, NULL, 5},
		{"flush-delay", required_argument, NULL, 9},
		{"status-interval", required_argument, NULL, 6},
		{"endpos", required_argument, NULL, 'E'},
		{"option", required_argument, NULL, 'o'},
		{"warn-retained", required_argument, NULL, 7},
		{"warn-xmin-age", required_argument, NULL, 8},
		{"allow-other-owner", no_argument, NULL, 10},
		{"keep-bases", required_argument, NULL, 11},
		{"publish", required_argument, NULL, 12},
		{"ack-after-publish", no_argument, NULL, 13},
		{"publish-retain", required_argument, NULL, 14},
		{"warn-unpublished", required_argument, NULL, 15},
		{"no-streaming", no_argument, NULL, 16},
		{"sequence-interval", required_argument, NULL, 17},
		{"metrics-listen", required_argument, NULL, 40},
		{"quiet", no_argument, NULL, 'q'},
		{NULL, 0, NULL, 0}
	};
	int			c;
	int			rc;
	int64_t		v;

	stream_opts_init(o);
	optind = 1;
	while ((c = tide_getopt(argc, argv, TIDE_CONN_SHORTOPTS "S:D:E:o:q", opts)) != -1)
	{
		if (tide_conn_opt(conn, c, optarg))
			continue;
		switch (c)
		{
			case 'S':
				o->slot = optarg;
				break;
			case 'D':
				o->dir = optarg;
				break;
			case 1:
				o->create_slot = true;
				break;
			case 2:
				/* the header holds the bucket in whole seconds */
				if ((rc = tide_opt_duration("--bucket", optarg, USECS, 366 * DAY, &o->bucket)) != 0)
					return rc;
				if (o->bucket % USECS != 0)
				{
					tide_log_error("invalid value \"%s\" for --bucket: give whole seconds", optarg);
					tide_log_hint("for example 1h (the default), 1d or 10s");
					return TIDE_EXIT_USAGE;
				}
				break;
			case 3:
				if ((rc = tide_opt_duration("--retain", optarg, 0, 100 * 366 * DAY, &o->retain)) != 0)
					return rc;
				break;
			case 4:
				if ((rc = tide_opt_int("--compress-level", optarg, 1, 19, &v)) != 0)
					return rc;
				o->level = (int) v;
				break;
			case 5:
				if ((rc = tide_opt_duration("--flush-interval", optarg, TICK_MS * 1000, 3600 * USECS,
											&o->flush_interval)) != 0)
					return rc;
				break;
			case 9:
				if ((rc = tide_opt_duration("--flush-delay", optarg, 0, 3600 * USECS,
											&o->flush_delay)) != 0)
					return rc;
				break;
			case 6:
				if ((rc = tide_opt_duration("--status-interval", optarg, TICK_MS * 1000, 86400 * USECS,
											&o->status_interval)) != 0)
					return rc;
				break;
			case 'E':
				if ((rc = tide_opt_lsn("--endpos", optarg, &o->endpos)) != 0)
					return rc;
				break;
			case 'o':
				{
					char	   *eq = strchr(optarg, '=');

					if (o->nplugin_opts == MAX_PLUGIN_OPTIONS)
					{
						tide_log_error("too many -o options");
						return TIDE_EXIT_USAGE;
					}
					o->plugin_opts[o->nplugin_opts][0] = optarg;
					o->plugin_opts[o->nplugin_opts][1] = "";
					if (eq)
					{
						*eq = '\0';
						o->plugin_opts[o->nplugin_opts][1] = eq + 1;
					}
					if (strcmp(optarg, "format-version") == 0 || strcmp(optarg, "streaming") == 0)
					{
						tide_log_error("-o %s is set by tide stream itself", optarg);
						if (strcmp(optarg, "streaming") == 0)
							tide_log_hint("tide stream asks for streaming on servers that have it; --no-streaming turns it off");
						return TIDE_EXIT_USAGE;
					}
					o->nplugin_opts++;
					break;
				}
			case 7:
				if ((rc = tide_opt_size("--warn-retained", optarg, &o->warn_retained)) != 0)
					return rc;
				break;
			case 8:
				if ((rc = tide_opt_int("--warn-xmin-age", optarg, 0, INT32_MAX, &o->warn_xmin_age)) != 0)
					return rc;
				break;
			case 10:
				o->allow_other_owner = true;
				break;
			case 11:
				if ((rc = tide_opt_int("--keep-bases", optarg, 1, INT32_MAX, &v)) != 0)
					return rc;
				o->keep_bases = (int) v;
				break;
			case 12:
				o->publish_url = optarg;
				break;
			case 13:
				o->ack_after_publish = true;
				break;
			case 14:
				if ((rc = tide_opt_duration("--publish-retain", optarg, 0, 100 * 366 * DAY,
											&o->publish_retain)) != 0)
					return rc;
				break;
			case 15:
				if ((rc = tide_opt_size("--warn-unpublished", optarg, &o->warn_unpublished)) != 0)
					return rc;
				break;
			case 16:
				o->no_streaming = true;
				break;
			case 17:
				if ((rc = tide_opt_duration("--sequence-interval", optarg, 0, DAY,
											&o->sequence_interval)) != 0)
					return rc;
				if (o->sequence_interval > 0 && o->sequence_interval < TICK_MS * 1000)
					o->sequence_interval = TICK_MS * 1000;
				break;
			case 40:
				if ((rc = tide_metrics_addr("--metrics-listen", optarg, &o->metrics_addr)) != 0)
					return rc;
				o->metrics = true;
				break;
			case 'q':
				tide_log_quiet = 1;
				break;
			default:
				return tide_opt_std(c, "stream", stream_usage);
		}
	}
	if (optind != argc || o->slot == NULL || o->dir == NULL)
	{
		tide_log_error("tide stream needs -S SLOT and -D DIR%s", optind != argc ? " and no other arguments" : "");
		stream_usage(stderr);
		return TIDE_EXIT_USAGE;
	}
	/* -d with -h, -p, -U over it; what none gives: PG* variables */
	if ((rc = tide_conn_finish(conn, "the source")) != 0)
		return rc;
	o->conninfo = conn->conninfo;
	if (o->flush_delay > o->flush_interval)
		o->flush_delay = o->flush_interval;
	if ((o->ack_after_publish || o->publish_retain >= 0) && o->publish_url == NULL)
	{
		tide_log_error("%s needs --publish URL", o->ack_after_publish ? "--ack-after-publish" : "--publish-retain");
		return TIDE_EXIT_USAGE;
	}
	return 0;
}

/*
 * prepare_dir - DIR exists (created owner-only if missing), belongs to us
 * and is writable.  Invariant 8: segments hold every replicated row, so
 * the directory is created 0700 and its files 0600, as a data directory's;
 * a directory of another user is refused (whoever owns it can plant
 * symlinks), and the write probe never follows one.
 */
static int
prepare_dir(const char *dir, bool allow_other_owner)
{
	char		probe[4200];
	struct stat st;
	int			fd;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
	{
		tide_log_error("could not create segment directory \"%s\": %s", dir, strerror(errno));
		return TIDE_EXIT_IO;
	}
	if (stat(dir, &st) != 0)
	{
		tide_log_error("could not stat segment directory \"%s\": %s", dir, strerror(errno));
		return TIDE_EXIT_IO;
	}
	if (!S_ISDIR(st.st_mode))
	{
		tide_log_error("segment directory \"%s\" is not a directory", dir);
		return TIDE_EXIT_IO;
	}
	if (st.st_uid != geteuid() && !allow_other_owner)
	{
		tide_log_error("segment directory \"%s\" belongs to another user (uid %u)", dir, (unsigned) st.st_uid);
		tide_log_detail("its owner could replace the files tide writes with links to files of this user");
		tide_log_hint("run tide as the directory's owner, give it a directory of its own, or pass --allow-other-owner if you trust that user");
		return TIDE_EXIT_IO;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		tide_log_warning("segment directory \"%s\" is accessible by other users (mode %04o): segments hold every replicated row",
						 dir, (unsigned) (st.st_mode & 07777));
	snprintf(probe, sizeof(probe), "%s/.tide-write-probe.%d.%u", dir, (int) getpid(),
			 (unsigned) rand());
	if ((fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
	{
		tide_log_error("segment directory \"%s\" is not writable: %s", dir, strerror(errno));
		tide_log_hint("give the user running tide write access, or choose another -D");
		return TIDE_EXIT_IO;
	}
	close(fd);
	unlink(probe);
	return 0;
}

int
tide_cmd_stream(int argc, char **argv)
{
	stream_opts_t o;
	tide_conn_opts_t conn = {0};
	int			rc;

	if ((rc = parse_args(&o, &conn, argc, argv)) == 0)
		rc = tide_stream_run(&o);
	tide_conn_free(&conn);
	return rc < 0 ? TIDE_EXIT_OK : rc;
}

void
stream_opts_init(stream_opts_t *o)
{
	memset(o, 0, sizeof(*o));
	o->conninfo = "";
	o->bucket = INT64_C(3600) * 1000000;
	o->retain = -1;
	o->level = 3;
	o->flush_interval = 1000000;
	o->flush_delay = 100000;
	o->status_interval = 10 * 1000000;
	o->idle_mark_interval = 10 * 1000000;
	o->warn_retained = INT64_C(1) << 30;
	o->warn_xmin_age = 100000000;
	o->publish_retain = -1;
	o->warn_unpublished = INT64_C(1) << 30;
	o->sequence_interval = 10 * USECS;
}

int
tide_stream_run(const stream_opts_t *o)
{
	stream_t   *s = calloc(1, sizeof(stream_t));
	segwriter_opts_t wo;
	int			rc;
	int			code;

	if (s == NULL)
		return TIDE_EXIT_BUG;
	s->o = *o;
	if ((rc = stream_seq_filter(&s->seqf, (const char *const (*)[2]) s->o.plugin_opts,
								s->o.nplugin_opts)) != 0)
	{
		free(s);
		return rc;
	}
	if (s->seqf.off && s->o.sequence_interval > 0)
	{
		tide_log_warning("sequence states are not recorded: %s", s->seqf.why_off);
		tide_log_hint("add \"" "tide.seq" "\" to include-message-prefixes (or take it out of exclude-message-prefixes) for replicas to get them");
	}
	for (int i = 0; i < s->o.nplugin_opts; i++)
	{
		/* captured DDL (tide setup) travels as "tide.ddl" messages */
		bool		incl = strcmp(s->o.plugin_opts[i][0], "include-message-prefixes") == 0;
		bool		named = false;
		char		list[1024];
		char	   *save = NULL;

		if (!incl && strcmp(s->o.plugin_opts[i][0], "exclude-message-prefixes") != 0)
			continue;
		snprintf(list, sizeof(list), "%s", s->o.plugin_opts[i][1]);
		for (char *t = strtok_r(list, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
			named |= strcmp(t, TIDE_DDL_PREFIX) == 0;
		if (incl != named)
		{
			tide_log_warning("captured DDL is not recorded: -o %s %s \"" TIDE_DDL_PREFIX "\"",
							 s->o.plugin_opts[i][0], incl ? "does not name" : "names");
			tide_log_hint("replicas then stop at the first row of a changed table; add \"" TIDE_DDL_PREFIX "\" to include-message-prefixes (or take it out of exclude-message-prefixes)");
		}
	}
	srand((unsigned) time(NULL) ^ (unsigned) getpid());
	if ((rc = prepare_dir(s->o.dir, s->o.allow_other_owner)) != 0)
	{
		free(s);
		return rc;
	}
	if (s->o.publish_url && (rc = publisher_adopt(s->o.dir, s->o.publish_url)) != 0)
	{
		free(s);
		return rc;
	}
	if (segdir_resume(s->o.dir, &s->resume) != 0)
	{
		segdir_resume_free(&s->resume);
		free(s);
		return TIDE_EXIT_CORRUPT;
	}
	/* what the open segment holds is durable: its last commit, for the lag */
	if (s->resume.partial_name && s->resume.stats.ntxns > 0)
		s->durable_time = s->resume.stats.last_time;
	if (spool_open(s->o.dir, &s->spool) != 0)
	{
		segdir_resume_free(&s->resume);
		free(s);
		return TIDE_EXIT_IO;
	}
	uv_loop_init(&s->loop);
	if (s->o.metrics &&
		(rc = tide_metrics_start(&s->metrics, &s->loop, &s->o.metrics_addr, collect_metrics, s)) != 0)
	{
		/* nothing is on the loop yet: it closes as it is */
		uv_loop_close(&s->loop);
		spool_close(s->spool);
		segdir_resume_free(&s->resume);
		free(s);
		return rc;
	}
	proto_relcat_init(&s->cat, NULL);
	wo.dir = s->o.dir;
	wo.compress_level = s->o.level;
	wo.block_size = 1 << 20;
	wo.bucket_usecs = s->o.bucket;
	if ((rc = segwriter_init(&s->w, &s->loop, &wo, &s->resume, on_durable, on_write_error)) != 0)
	{
		tide_log_error("could not prepare segment writer in \"%s\": %s", s->o.dir, tide_strerror(rc));
		code = TIDE_EXIT_IO;
		goto out;
	}
	s->w.data = s;
	s->w.idle_cb = on_writer_idle;
	s->w.commit_cb = on_commit;
	if ((code = start_publisher(s)) != 0)
		goto out;
	s->w.drain_cb = on_writer_drain;
	uv_timer_init(&s->loop, &s->tick);
	uv_timer_init(&s->loop, &s->flush_soon);
	uv_timer_init(&s->loop, &s->retry);
	s->tick.data = s->flush_soon.data = s->retry.data = s;
	for (int i = 0; i < 3; i++)
	{
		static const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};

		uv_signal_init(&s->loop, &s->sig[i]);
		s->sig[i].data = s;
		uv_signal_start(&s->sig[i], on_signal, sigs[i]);
	}
	source_async_init(&s->ra, &s->loop, s);
	source_async_init(&s->ha, &s->loop, s);
	uv_timer_start(&s->tick, on_tick, TICK_MS, TICK_MS);
	/* only starts the attempt: the loop runs it (see "connection setup") */
	start_streaming(s);
	uv_run(&s->loop, UV_RUN_DEFAULT);
	code = s->exit_code;
	if (s->w.failed && code == 0)
		code = TIDE_EXIT_IO;
out:
	if (s->pub && !s->closing)
		publisher_stop(s->pub);
	if (s->pub)
		uv_run(&s->loop, UV_RUN_DEFAULT);	/* its handle's close */
	publisher_free(s->pub);
	PQfinish(s->conn);
	PQfinish(s->health);
	if (spool_peak_bytes(s->spool) > 0)
	{
		tide_log_info("the spool held at most %llu bytes",
					  (unsigned long long) spool_peak_bytes(s->spool));
	}
	replay_abandon(s);
	spool_close(s->spool);
	segwriter_free(&s->w);
	proto_relcat_free(&s->cat);
	segdir_resume_free(&s->resume);
	stream_seq_filter_free(&s->seqf);
	free(s->seq_last);
	free(s->seq_pending);
	PQclear(s->seq_res);
	if (uv_loop_close(&s->loop) != 0)
	{
		tide_log_error("internal error: event loop handles left open");
		code = TIDE_EXIT_BUG;
	}
	free(s);
	return code;
}
