/*
 * streamer/segwriter.c
 *		Writing the stream into segment files, durably and in LSN order.
 *
 * Two sides share this file.  The loop side (segwriter_* functions) cuts
 * the stream into blocks and queues operations; the job side (run_op and
 * what it calls) executes them in a libuv threadpool thread, one batch at
 * a time, so operations never overtake each other.  The job side alone
 * touches struct segwriter_file_s while a batch runs; the loop side looks
 * at it only when no batch runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tide/common.h"
#include "segwriter.h"


typedef enum
{
	OP_OPEN,					/* create NAME.tseg.partial with its header */
	OP_RESUME,					/* reopen a scanned .partial for appending */
	OP_WRITE,					/* append one data block */
	OP_SYNC,					/* fsync: everything before is durable */
	OP_CUT,						/* drop blocks after the last whole txn */
	OP_CLOSE					/* footer, trailer, fsync, rename, fsync dir */
} op_kind_t;

typedef struct segwriter_op_s
{
	struct segwriter_op_s *next;
	op_kind_t	kind;
	proto_wbuf_t data;			/* owned: header, block, or footer tables */
	uint8_t		flags;			/* WRITE: SEG_BLOCK_* */
	proto_lsn_t lsn;			/* WRITE: block end LSN; SYNC/CLOSE: covered */
	seg_footer_t footer;		/* CLOSE: the fixed fields */
	char		name[SEG_NAME_LEN + 1];
} op_t;

typedef struct segwriter_file_s
{
	int			dirfd;
	int			fd;				/* -1 while no segment is open */
	char		name[SEG_NAME_LEN + 1];
	uint64_t	size;
	uint64_t   *offs;			/* owned: block index */
	proto_lsn_t *lsns;			/* owned */
	uint64_t	n;
	uint64_t	cap;
	uint64_t	txn_end_size;	/* end of the last whole-txn block */
	uint64_t	txn_end_n;
	seg_zstd_t *z;				/* owned */
	proto_wbuf_t out;			/* owned: encoded bytes */
	char		dir[4096];
} file_t;

typedef struct segwriter_job_s
{
	uv_work_t	req;
	segwriter_t *w;
	op_t	   *ops;			/* owned list */
	size_t		bytes;			/* counted in w->backlog */
	int			rc;
	char		errmsg[1024];
	proto_lsn_t synced;			/* highest covered LSN made durable */
} job_t;

/* ---------------------------------------------------------- job side */

static int
fail(job_t *j, int rc, const char *fmt, const char *a, const char *b)
{
	char		msg[900];

	snprintf(msg, sizeof(msg), fmt, a, b ? b : "");
	snprintf(j->errmsg, sizeof(j->errmsg), "%s: %s", msg, tide_strerror(rc));
	return j->rc = rc;
}

static int
index_add(file_t *f, uint64_t off, proto_lsn_t lsn)
{
	if (f->n == f->cap)
	{
		uint64_t	cap = f->cap ? f->cap * 2 : 256;
		uint64_t   *o = realloc(f->offs, cap * sizeof(*o));

		if (o == NULL)
			return TIDE_ENOMEM;
		f->offs = o;
		o = realloc(f->lsns, cap * sizeof(*o));
		if (o == NULL)
			return TIDE_ENOMEM;
		f->lsns = o;
		f->cap = cap;
	}
	f->offs[f->n] = off;
	f->lsns[f->n] = lsn;
	f->n++;
	return 0;
}

static void
path_of(char *buf, size_t len, const file_t *f, const char *name, bool partial)
{
	snprintf(buf, len, "%s/%s%s", f->dir, name, partial ? SEG_PARTIAL_SUFFIX : SEG_SUFFIX);
}

static int
run_op(job_t *j, file_t *f, op_t *op)
{
	char		path[4200];
	char		final[4200];
	int			rc;

	switch (op->kind)
	{
		case OP_OPEN:
			path_of(path, sizeof(path), f, op->name, true);
			/* owner-only, as a data directory's files (invariant 8) */
			f->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (f->fd < 0)
				return fail(j, -errno, "could not create segment \"%s\"%s", path, NULL);
			memcpy(f->name, op->name, sizeof(f->name));
			proto_wbuf_reset(&f->out);
			proto_put_bytes(&f->out, SEG_FILE_MAGIC, SEG_FILE_MAGIC_LEN);
			if ((rc = seg_block_encode(&f->out, NULL, SEG_KIND_HEADER, SEG_CODEC_NONE, 0, 0,
									   op->data.data, op->data.len)) != 0)
				return fail(j, rc, "could not encode the header of \"%s\"%s", path, NULL);
			if ((rc = tide_pwrite_all(f->fd, f->out.data, f->out.len, 0)) != 0)
				return fail(j, rc, "could not write segment \"%s\"%s", path, NULL);
			if (fsync(f->fd) != 0 || fsync(f->dirfd) != 0)
				return fail(j, -errno, "could not fsync segment \"%s\"%s", path, NULL);
			f->size = f->txn_end_size = f->out.len;
			f->n = f->txn_end_n = 0;
			return 0;
		case OP_RESUME:
			path_of(path, sizeof(path), f, op->name, true);
			if ((f->fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
				return fail(j, -errno, "could not open segment \"%s\"%s", path, NULL);
			memcpy(f->name, op->name, sizeof(f->name));
			if (ftruncate(f->fd, (off_t) f->size) != 0 || fsync(f->fd) != 0)
				return fail(j, -errno, "could not cut segment \"%s\" back to its last whole transaction%s", path, NULL);
			return 0;
		case OP_WRITE:
			path_of(path, sizeof(path), f, f->name, true);
			proto_wbuf_reset(&f->out);
			if ((rc = seg_block_encode(&f->out, f->z, SEG_KIND_DATA, SEG_CODEC_ZSTD, op->flags,
									   op->lsn, op->data.data, op->data.len)) != 0)
				return fail(j, rc, "could not compress a block for \"%s\"%s", path, NULL);
			if ((rc = tide_pwrite_all(f->fd, f->out.data, f->out.len, f->size)) != 0)
				return fail(j, rc, "could not write segment \"%s\"%s", path, NULL);
			if ((rc = index_add(f, f->size, op->lsn)) != 0)
				return fail(j, rc, "could not index segment \"%s\"%s", path, NULL);
			f->size += f->out.len;
			if (op->flags & SEG_BLOCK_ENDS_TXN)
			{
				f->txn_end_size = f->size;
				f->txn_end_n = f->n;
			}
			return 0;
		case OP_SYNC:
			if (f->fd >= 0 && fdatasync(f->fd) != 0)
			{
				path_of(path, sizeof(path), f, f->name, true);
				return fail(j, -errno, "could not fsync segment \"%s\"%s", path, NULL);
			}
			if (op->lsn > j->synced)
				j->synced = op->lsn;
			return 0;
		case OP_CUT:
			path_of(path, sizeof(path), f, f->name, true);
			if (ftruncate(f->fd, (off_t) f->txn_end_size) != 0 || fsync(f->fd) != 0)
				return fail(j, -errno, "could not cut segment \"%s\"%s", path, NULL);
			f->size = f->txn_end_size;
			f->n = f->txn_end_n;
			return 0;
		case OP_CLOSE:
			{
				proto_wbuf_t payload;
				uint64_t	footer_at = f->size;

				path_of(path, sizeof(path), f, f->name, true);
				path_of(final, sizeof(final), f, f->name, false);
				proto_wbuf_init_heap(&payload);
				op->footer.nblocks = f->n;
				seg_footer_write(&payload, &op->footer);
				for (uint64_t i = 0; i < f->n; i++)
					seg_footer_put_block(&payload, f->offs[i], f->lsns[i]);
				proto_put_bytes(&payload, op->data.data, op->data.len);
				proto_wbuf_reset(&f->out);
				rc = payload.err ? payload.err :
					seg_block_encode(&f->out, NULL, SEG_KIND_FOOTER, SEG_CODEC_NONE, 0, 0,
									 payload.data, payload.len);
				proto_wbuf_free(&payload);
				if (rc != 0)
					return fail(j, rc, "could not encode the footer of \"%s\"%s", path, NULL);
				seg_trailer_write(&f->out, footer_at);
				if ((rc = tide_pwrite_all(f->fd, f->out.data, f->out.len, f->size)) != 0)
					return fail(j, rc, "could not write segment \"%s\"%s", path, NULL);
				if (fsync(f->fd) != 0)
					return fail(j, -errno, "could not fsync segment \"%s\"%s", path, NULL);
				close(f->fd);
				f->fd = -1;
				if (rename(path, final) != 0)
					return fail(j, -errno, "could not rename \"%s\" to \"%s\"", path, final);
				if (fsync(f->dirfd) != 0)
					return fail(j, -errno, "could not fsync directory \"%s\"%s", f->dir, NULL);
				if (op->lsn > j->synced)
					j->synced = op->lsn;
				return 0;
			}
	}
	return 0;
}

static void
work_cb(uv_work_t *req)
{
	job_t	   *j = req->data;

	for (op_t *op = j->ops; op && j->rc == 0; op = op->next)
		run_op(j, j->w->file, op);
}

/* ---------------------------------------------------------- loop side */

static void kick(segwriter_t *w);

static void
op_free(op_t *op)
{
	proto_wbuf_free(&op->data);
	free(op);
}

static void
after_work_cb(uv_work_t *req, int status)
{
	job_t	   *j = req->data;
	segwriter_t *w = j->w;

	(void) status;
	w->job = NULL;
	w->backlog -= j->bytes;
	while (j->ops)
	{
		op_t	   *next = j->ops->next;

		op_free(j->ops);
		j->ops = next;
	}
	if (j->rc != 0)
	{
		tide_log_error("%s", j->errmsg);
		if (j->rc == -ENOSPC)
			tide_log_hint("free space in the segment directory; nothing was acknowledged past the last durable transaction, so nothing is lost");
		w->failed = j->rc;
		free(j);
		if (w->error_cb)
			w->error_cb(w, w->failed);
		return;
	}
	if (j->synced > w->durable)
	{
		w->durable = j->synced;
		if (w->durable_cb)
			w->durable_cb(w, w->durable);
	}
	free(j);
	kick(w);
	if (w->drain_cb)
		w->drain_cb(w);
	if (segwriter_idle(w) && w->idle_cb)
		w->idle_cb(w);
}

static void
kick(segwriter_t *w)
{
	job_t	   *j;
	size_t		bytes = 0;

	if (w->job || w->queue_head == NULL || w->failed)
		return;
	if ((j = calloc(1, sizeof(*j))) == NULL)
	{
		tide_log_error("out of memory");
		w->failed = TIDE_ENOMEM;
		if (w->error_cb)
			w->error_cb(w, w->failed);
		return;
	}
	j->w = w;
	j->ops = w->queue_head;
	for (op_t *op = j->ops; op; op = op->next)
		bytes += op->data.len;
	j->bytes = bytes;
	j->req.data = j;
	w->queue_head = w->queue_tail = NULL;
	w->job = j;
	uv_queue_work(w->loop, &j->req, work_cb, after_work_cb);
}

static op_t *
op_new(op_kind_t kind)
{
	op_t	   *op = calloc(1, sizeof(*op));

	if (op)
	{
		op->kind = kind;
		proto_wbuf_init_heap(&op->data);
	}
	return op;
}

static void
queue(segwriter_t *w, op_t *op)
{
	if (op == NULL)
	{
		w->failed = TIDE_ENOMEM;
		return;
	}
	if (w->queue_tail)
		w->queue_tail->next = op;
	else
		w->queue_head = op;
	w->queue_tail = op;
	w->backlog += op->data.len;
	kick(w);
}

/* emit - queue raw[0:len] as one data block and drop it from raw */
static void
emit(segwriter_t *w, size_t len, uint8_t flags, proto_lsn_t lsn)
{
	op_t	   *op = op_new(OP_WRITE);

	if (op == NULL)
	{
		w->failed = TIDE_ENOMEM;
		return;
	}
	op->flags = flags;
	op->lsn = lsn;
	if (len == w->raw.len)
	{
		/* the whole block: hand the buffer over instead of copying */
		proto_wbuf_t fresh;

		op->data = w->raw;
		proto_wbuf_init_heap(&fresh);
		w->raw = fresh;
		proto_wbuf_ensure(&w->raw, w->opts.block_size + 65536);
	}
	else
	{
		proto_put_bytes(&op->data, w->raw.data, len);
		memmove(w->raw.data, w->raw.data + len, w->raw.len - len);
		w->raw.len -= len;
	}
	queue(w, op);
}

/*
 * seal - turn buffered messages into blocks.  Whole transactions always
 * become a block of their own (flag ENDS_TXN); the open transaction's part
 * becomes a continuation block only when it fills a block by itself and
 * complete_only is false.
 */
static void
seal(segwriter_t *w, bool complete_only)
{
	if (w->raw.len == 0)
		return;
	if (!w->in_txn)
	{
		emit(w, w->raw.len, SEG_BLOCK_ENDS_TXN, w->accepted);
		return;
	}
	if (w->txn_start > 0)
	{
		emit(w, w->txn_start, SEG_BLOCK_ENDS_TXN, w->accepted);
		w->txn_start = 0;
	}
	if (!complete_only && w->raw.len >= w->opts.block_size)
	{
		emit(w, w->raw.len, 0, 0);
		w->txn_spilled = true;
	}
}

proto_time_t
segwriter_bucket_of(const segwriter_t *w, proto_time_t t)
{
	int64_t		b = w->opts.bucket_usecs;
	proto_time_t r = t - (t % b + b) % b;

	return r;
}


static void
open_segment(segwriter_t *w, proto_time_t bucket)
{
	op_t	   *op = op_new(OP_OPEN);
	seg_header_t h = w->ident;

	if (op == NULL)
	{
		w->failed = TIDE_ENOMEM;
		return;
	}
	/* names sort in LSN order, so in time order too: never an earlier bucket */
	if (w->have_last_bucket && bucket < w->last_bucket)
		bucket = w->last_bucket;
	w->last_bucket = bucket;
	w->have_last_bucket = true;
	h.version = SEG_FORMAT_VERSION;
	h.bucket_start = bucket;
	h.bucket_seconds = (uint32_t) (w->opts.bucket_usecs / 1000000);
	h.start_lsn = w->accepted;
	h.created = tide_now();
	seg_header_write(&op->data, &h);
	seg_name_format(op->name, bucket, w->accepted);
	memcpy(w->seg_name, op->name, sizeof(w->seg_name));
	w->seg_open = true;
	w->seg_seq++;
	w->bucket_start = bucket;
	w->seg_start_lsn = w->accepted;
	segstats_reset(&w->stats);
	queue(w, op);
	tide_log_info("opened segment \"%s%s\"", w->seg_name, SEG_PARTIAL_SUFFIX);
}

static void
close_segment(segwriter_t *w)
{
	op_t	   *op;
	segstats_t *s = &w->stats;
	uint64_t	ntables = 0;

	if (!w->seg_open || w->in_txn)
		return;
	seal(w, true);
	if ((op = op_new(OP_CLOSE)) == NULL)
	{
		w->failed = TIDE_ENOMEM;
		return;
	}
	op->footer.first_lsn = s->first_lsn;
	op->footer.last_lsn = w->accepted;
	op->footer.first_time = s->first_time;
	op->footer.last_time = s->last_time;
	op->footer.ntxns = s->ntxns;
	op->footer.nchanges = s->nchanges;
	op->lsn = w->accepted;
	for (uint32_t i = 0; i < s->cap; i++)
		ntables += s->tables[i].relid != 0;
	seg_footer_begin_tables(&op->data, ntables);
	for (uint32_t i = 0; i < s->cap; i++)
	{
		segstats_table_t *t = &s->tables[i];
		seg_table_count_t c;

		if (t->relid == 0)
			continue;
		c.relid = t->relid;
		c.nspname.p = t->nspname ? t->nspname : "";
		c.nspname.n = strlen(c.nspname.p);
		c.relname.p = t->relname ? t->relname : "";
		c.relname.n = strlen(c.relname.p);
		c.inserts = t->n[0];
		c.updates = t->n[1];
		c.deletes = t->n[2];
		c.truncates = t->n[3];
		seg_footer_put_table(&op->data, &c);
	}
	memcpy(op->name, w->seg_name, sizeof(op->name));
	w->seg_open = false;
	w->segs_closed++;
	tide_log_info("closed segment \"%s%s\": %llu transactions, %llu changes",
				  w->seg_name, SEG_SUFFIX, (unsigned long long) s->ntxns,
				  (unsigned long long) s->nchanges);
	queue(w, op);
}

int
segwriter_init(segwriter_t *w, uv_loop_t *loop, const segwriter_opts_t *opts,
			   segwriter_resume_t *resume, segwriter_durable_cb durable_cb,
			   segwriter_error_cb error_cb)
{
	file_t	   *f;

	memset(w, 0, sizeof(*w));
	w->loop = loop;
	w->opts = *opts;
	w->durable_cb = durable_cb;
	w->error_cb = error_cb;
	proto_wbuf_init_heap(&w->raw);
	segstats_init(&w->stats);
	proto_relcat_init(&w->seen, NULL);
	if ((f = w->file = calloc(1, sizeof(file_t))) == NULL)
		return TIDE_ENOMEM;
	f->fd = -1;
	proto_wbuf_init_heap(&f->out);
	snprintf(f->dir, sizeof(f->dir), "%s", opts->dir);
	if ((f->z = seg_zstd_new(opts->compress_level)) == NULL)
		return TIDE_ENOMEM;
	if ((f->dirfd = open(opts->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	if (resume->have_segment)
	{
		w->last_bucket = resume->last_bucket;
		w->have_last_bucket = true;
		w->have_ident = true;
		w->ident = resume->ident;
		w->ident_buf = resume->ident_buf;	/* the strings live there */
		resume->ident_buf = NULL;
		w->accepted = w->durable = w->queued_covered = resume->covered;
	}
	if (resume->partial_name)
	{
		op_t	   *op = op_new(OP_RESUME);
		proto_lsn_t lsn;

		if (op == NULL)
			return TIDE_ENOMEM;
		memcpy(op->name, resume->partial_name, SEG_NAME_LEN);
		memcpy(w->seg_name, resume->partial_name, SEG_NAME_LEN);
		seg_name_parse(w->seg_name, &w->bucket_start, &lsn, NULL);
		w->seg_start_lsn = lsn;
		w->seg_open = true;
		w->seg_seq = 1;
		f->size = f->txn_end_size = resume->partial_size;
		f->offs = resume->block_offsets;
		f->lsns = resume->block_lsns;
		f->n = f->cap = f->txn_end_n = resume->nblocks;
		resume->block_offsets = NULL;
		resume->block_lsns = NULL;
		segstats_free(&w->stats);
		w->stats = resume->stats;
		segstats_init(&resume->stats);
		queue(w, op);
	}
	proto_wbuf_ensure(&w->raw, opts->block_size + 65536);
	return 0;
}

void
segwriter_free(segwriter_t *w)
{
	file_t	   *f = w->file;

	while (w->queue_head)
	{
		op_t	   *next = w->queue_head->next;

		op_free(w->queue_head);
		w->queue_head = next;
	}
	if (f)
	{
		if (f->fd >= 0)
			close(f->fd);
		if (f->dirfd >= 0)
			close(f->dirfd);
		free(f->offs);
		free(f->lsns);
		seg_zstd_free(f->z);
		proto_wbuf_free(&f->out);
		free(f);
	}
	proto_wbuf_free(&w->raw);
	segstats_free(&w->stats);
	proto_relcat_free(&w->seen);
	free(w->ident_buf);
	w->file = NULL;
}

static bool
str_is(proto_str_t a, proto_str_t b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

int
segwriter_set_ident(segwriter_t *w, const proto_startup_t *s)
{
	char	   *buf;
	char	   *p;

	if (w->have_ident &&
		(w->ident.system_id != s->system_id || w->ident.dboid != s->dboid ||
		 w->ident.timeline != s->timeline ||
		 !str_is(w->ident.slot, s->slot) || !str_is(w->ident.dbname, s->dbname)))
		return TIDE_EBADVALUE;
	/* own copies: the STARTUP message's buffer goes away */
	if ((buf = malloc(s->dbname.n + s->slot.n + s->encoding.n + 1)) == NULL)
		return TIDE_ENOMEM;
	p = buf;
	memcpy(p, s->dbname.p, s->dbname.n);
	w->ident.dbname.p = p;
	w->ident.dbname.n = s->dbname.n;
	p += s->dbname.n;
	memcpy(p, s->slot.p, s->slot.n);
	w->ident.slot.p = p;
	w->ident.slot.n = s->slot.n;
	p += s->slot.n;
	memcpy(p, s->encoding.p, s->encoding.n);
	w->ident.encoding.p = p;
	w->ident.encoding.n = s->encoding.n;
	free(w->ident_buf);
	w->ident_buf = buf;
	/* the messages segments hold, whatever the session spoke */
	w->ident.wire_version = PROTO_SEGMENT_WIRE_VERSION;
	w->ident.system_id = s->system_id;
	w->ident.timeline = s->timeline;
	w->ident.dboid = s->dboid;
	w->ident.server_version = s->server_version;
	w->have_ident = true;
	return 0;
}

bool
segwriter_message_dup(const segwriter_t *w, proto_lsn_t lsn)
{
	/* it ended at or before a position the writer holds everything up to */
	return lsn <= w->accepted;
}

static void
append(segwriter_t *w, const uint8_t *msg, size_t len)
{
	proto_put_bytes(&w->raw, msg, len);
}

int
segwriter_begin(segwriter_t *w, const proto_begin_t *b, const uint8_t *msg,
				size_t len)
{
	proto_time_t bucket;

	if (w->failed)
		return w->failed;

	/*
	 * Invariant 1, no duplicates: a transaction is known by the LSN where its
	 * commit record starts (BEGIN's final_lsn); the server resends exactly
	 * those starting at or after the position it restarts from.  Every
	 * record that started before `accepted` is in the writer already (see
	 * FORMAT.md, "Positions and duplicates").
	 */
	if (b->final_lsn < w->accepted)
		return 1;
	if (w->in_txn)
		return TIDE_EBADSTATE;
	bucket = segwriter_bucket_of(w, b->commit_time);
	if (w->seg_open && bucket < w->bucket_start)
		bucket = w->bucket_start;	/* commit times may step back a little */
	if (w->seg_open && bucket > w->bucket_start)
		close_segment(w);
	if (!w->seg_open)
		open_segment(w, bucket);
	w->txn_start = w->raw.len;
	w->in_txn = true;
	w->txn_spilled = false;
	w->txn_time = b->commit_time;
	append(w, msg, len);
	{
		proto_rbuf_t r;
		proto_rbuf_t body;
		uint8_t		type;
		int			rc;

		proto_rbuf_init(&r, msg, len);
		if ((rc = proto_read_msg(&r, &type, &body)) != 0 ||
			(rc = segstats_account(&w->stats, type, body.data, body.len)) != 0)
			return rc;
	}
	return w->failed;
}

/*
 * describe - make sure the segment holds relid's description, as cat has
 * it, before its rows.  w->seen knows the last RELATION written for relid
 * in this segment; e->user caches the generation of the seen entry e was
 * found equal to, so a row usually costs one comparison.
 */
static int
describe(segwriter_t *w, proto_relcat_t *cat, uint32_t relid)
{
	proto_relcat_entry_t *e = proto_relcat_get(cat, relid);
	proto_relcat_entry_t *seen;
	uint8_t		hdr[1 + 10];
	size_t		n = 1;
	int			rc;

	if (e == NULL)
		return TIDE_ENORELATION;
	seen = proto_relcat_get(&w->seen, relid);
	if (seen != NULL && seen->user == w->seg_seq)
	{
		if (e->user == seen->generation)
			return 0;
		if (seen->body_len == e->body_len && memcmp(seen->body, e->body, e->body_len) == 0)
		{
			e->user = seen->generation;
			return 0;
		}
	}
	/* invariant 2: every row's relation is described in its segment */
	hdr[0] = PROTO_MSG_RELATION;
	for (uint64_t v = e->body_len;; v >>= 7)
	{
		hdr[n++] = (uint8_t) ((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
		if (v < 0x80)
			break;
	}
	append(w, hdr, n);
	append(w, e->body, e->body_len);
	if ((rc = proto_relcat_put(&w->seen, e->body, e->body_len, &seen)) != 0)
		return rc;
	seen->user = w->seg_seq;
	e->user = seen->generation;
	return segstats_account(&w->stats, PROTO_MSG_RELATION, e->body, e->body_len);
}

int
segwriter_message(segwriter_t *w, proto_relcat_t *cat, uint8_t type,
				  const uint8_t *msg, size_t len, const uint8_t *body,
				  size_t body_len)
{
	int			rc = 0;
	proto_rbuf_t r;

	if (w->failed)
		return w->failed;
	proto_rbuf_init(&r, body, body_len);
	switch (type)
	{
		case PROTO_MSG_INSERT:
		case PROTO_MSG_UPDATE:
		case PROTO_MSG_DELETE:
			{
				uint32_t	relid;

				if ((rc = proto_read_relid(r, &relid)) != 0 ||
					(rc = describe(w, cat, relid)) != 0)
					return rc;
				break;
			}
		case PROTO_MSG_TRUNCATE:
			{
				static uint32_t relids[PROTO_MAX_TRUNCATE];
				proto_truncate_t t;

				if ((rc = proto_read_truncate(&r, &t, relids, PROTO_MAX_TRUNCATE)) != 0)
					return rc;
				for (uint32_t i = 0; i < t.nrelids && rc == 0; i++)
					rc = describe(w, cat, relids[i]);
				if (rc)
					return rc;
				break;
			}
		case PROTO_MSG_MESSAGE:
			if (!w->in_txn)
			{
				proto_message_t m;

				/*
				 * Non-transactional: a unit of its own.  Its LSN is the END
				 * of its WAL record (as PostgreSQL reports it), and the next
				 * record -- often the COMMIT of the transaction that emitted
				 * it -- may start exactly there: accepting the message moves
				 * `accepted` to that end, not past it, or that COMMIT would
				 * look resent and be lost, here and at the slot (invariant 1).
				 */
				if ((rc = proto_read_message(&r, &m)) != 0)
					return rc;
				if (segwriter_message_dup(w, m.lsn))
					return 0;
				if (!w->seg_open)
					open_segment(w, w->have_last_bucket ? w->last_bucket :
								 segwriter_bucket_of(w, tide_now()));
				append(w, msg, len);
				w->accepted = m.lsn;
				return segstats_account(&w->stats, type, body, body_len);
			}
			break;
		default:
			break;
	}
	if (!w->in_txn)
		return TIDE_EBADSTATE;
	append(w, msg, len);
	if ((rc = segstats_account(&w->stats, type, body, body_len)) != 0)
		return rc;
	if (w->raw.len >= w->opts.block_size)
		seal(w, false);
	return w->failed;
}

int
segwriter_commit(segwriter_t *w, const proto_commit_t *c, const uint8_t *msg,
				 size_t len)
{
	proto_rbuf_t r;
	int			rc;

	if (w->failed)
		return w->failed;
	if (!w->in_txn)
		return TIDE_EBADSTATE;
	append(w, msg, len);
	proto_rbuf_init(&r, msg, len);
	{
		uint8_t		type;
		proto_rbuf_t body;

		proto_read_msg(&r, &type, &body);
		if ((rc = segstats_account(&w->stats, type, body.data, body.len)) != 0)
			return rc;
	}
	w->in_txn = false;
	if (c->end_lsn > w->accepted)
		w->accepted = c->end_lsn;
	if (w->commit_cb)
		w->commit_cb(w, c->end_lsn, w->txn_time, c->nchanges);
	if (w->raw.len >= w->opts.block_size)
		seal(w, false);
	return w->failed;
}

static int
forget_written(proto_relcat_entry_t *e, void *arg)
{
	(void) arg;
	e->user = 0;
	return 0;
}

void
segwriter_abort(segwriter_t *w, proto_relcat_t *cat)
{
	if (!w->in_txn)
		return;
	w->raw.len = w->txn_start;
	w->txn_start = 0;
	w->in_txn = false;
	segstats_abort(&w->stats);
	/* RELATIONs written in the dropped part are written again as needed */
	proto_relcat_foreach(&w->seen, forget_written, NULL);
	proto_relcat_foreach(cat, forget_written, NULL);
	if (w->txn_spilled)
		queue(w, op_new(OP_CUT));
	w->txn_spilled = false;
}

void
segwriter_flush(segwriter_t *w, proto_lsn_t idle_lsn)
{
	op_t	   *op;

	if (w->failed || !w->seg_open)
		return;
	seal(w, true);
	if (!w->in_txn && w->raw.len == 0 && idle_lsn > w->accepted)
	{
		/* an empty block says "complete up to idle_lsn" once durable */
		emit(w, 0, SEG_BLOCK_ENDS_TXN, idle_lsn);
		w->accepted = idle_lsn;
	}
	if (w->accepted <= w->queued_covered)
		return;
	if ((op = op_new(OP_SYNC)) == NULL)
	{
		w->failed = TIDE_ENOMEM;
		return;
	}
	op->lsn = w->queued_covered = w->accepted;
	queue(w, op);
}

void
segwriter_rotate_idle(segwriter_t *w, proto_time_t now)
{
	if (w->failed || w->in_txn || !w->have_ident)
		return;
	if (w->seg_open && now >= w->bucket_start + w->opts.bucket_usecs)
		close_segment(w);
	if (!w->seg_open)
		open_segment(w, segwriter_bucket_of(w, now));
}

void
segwriter_close(segwriter_t *w)
{
	close_segment(w);
}

bool
segwriter_idle(const segwriter_t *w)
{
	return w->job == NULL && (w->queue_head == NULL || w->failed);
}
