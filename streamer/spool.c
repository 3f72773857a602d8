/*
 * streamer/spool.c
 *		Transactions streamed while in progress, kept in files until they
 *		commit, then written into the segment as BEGIN ... COMMIT.
 *
 * See spool.h for the contract.  The file of a transaction is the chunks'
 * messages back to back, each run of messages of one (sub)transaction
 * preceded by a SUBXACT naming it (the first run of each chunk too, unless
 * it continues the file's last run).  Which subtransactions rolled back is
 * kept in memory, in a small table per transaction; reading the file back
 * leaves their changes out.
 *
 * Cutting the file back after a subtransaction's rollback: everything after
 * the end of the last message of a (sub)transaction that did not roll back
 * can go.  A list of the transaction's (sub)transactions, ordered by where
 * their last message ends (the newest first), gives that point at once:
 * rolled-back entries at its head are unlinked (their bytes past the point
 * are cut, and what they left before it is skipped when read back), and the
 * first live entry's end is the new size.  Each entry is unlinked at most
 * once, so the cost is that of the rollbacks.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tide/common.h"
#include "spool.h"

#define SPOOL_WBUF ((size_t) 256 << 10) /* written when this full */
#define SPOOL_RSTEP ((size_t) 1 << 20)	/* read back this much at a time */
#define SPOOL_REPORT_MIN ((uint64_t) 64 << 20)	/* log use from this size */

/* One (sub)transaction of a spooled transaction that sent a message. */
typedef struct
{
	uint32_t	xid;
	bool		aborted;		/* rolled back: its changes are left out */
	bool		listed;			/* in the recency list */
	uint64_t	nchanges;		/* I/U/D/T/M sent under it */
	uint64_t	last_end;		/* file offset after its last message */
	int32_t		prev;			/* recency list, by last_end, newest first */
	int32_t		next;
} xid_entry_t;

typedef struct spool_txn_s
{
	struct spool_txn_s *next;	/* the spool's list of open transactions */
	uint32_t	xid;
	uint64_t	size;			/* bytes in the file (written or buffered) */
	uint64_t	nchanges;		/* I/U/D/T/M not rolled back */
	uint64_t	chunks;
	uint32_t	file_xid;		/* (sub)xid in effect at the end of the
								 * file; 0: none, a SUBXACT must come */
	xid_entry_t *xids;			/* owned; in order of first message */
	uint32_t	nxids;
	uint32_t	maxxids;
	int32_t    *slots;			/* owned: hash of xids to indexes, -1 free */
	uint32_t	nslots;
	int32_t		recent;			/* head of the recency list, -1 if empty */
} spool_txn_t;

struct spool_s
{
	int			dirfd;
	char		dir[4200];		/* the spool area, for messages */
	spool_txn_t *txns;			/* owned: open transactions */
	size_t		ntxns;
	spool_txn_t *cur;			/* between STREAM START and STREAM STOP */
	uint32_t	chunk_xid;		/* (sub)xid of the chunk's changes */
	int32_t		chunk_idx;		/* its entry in cur->xids, -1 unknown */
	int			fd;				/* cur's file while a chunk is open */
	proto_wbuf_t wbuf;			/* owned: cur's bytes not yet written */
	uint64_t	wbuf_at;		/* file offset of wbuf's first byte */
	int			failed;			/* sticky: a write failed */
	uint64_t	bytes;			/* in all files */
	uint64_t	peak;
	uint64_t	report_at;		/* log the use when bytes pass this */
};

struct spool_replay_s
{
	spool_txn_t *txn;			/* owned: out of the spool's list */
	proto_stream_commit_t c;	/* origin points into origin[] */
	char		origin[PROTO_MAX_NAME + 1];
	int			fd;
	uint64_t	off;			/* next file byte to read */
	bool		eof;
	proto_wbuf_t buf;			/* owned: bytes read, from pos unused */
	size_t		pos;
	proto_relcat_t cat;			/* owned: the transaction's RELATIONs */
	uint32_t	xid;			/* (sub)xid in effect */
	bool		skipping;		/* ... and it rolled back */
	bool		begun;
	bool		duplicate;
	bool		done;			/* whole in the writer */
	uint64_t	nchanges;		/* written into the segment */
};

/* ------------------------------------------------------------- helpers */

static void
format_bytes(uint64_t n, char *buf, size_t len)
{
	if (n >= ((uint64_t) 1 << 30))
		snprintf(buf, len, "%.1f GB", (double) n / (1 << 30));
	else if (n >= ((uint64_t) 1 << 20))
		snprintf(buf, len, "%.1f MB", (double) n / (1 << 20));
	else if (n >= 1024)
		snprintf(buf, len, "%.1f kB", (double) n / 1024);
	else
		snprintf(buf, len, "%llu bytes", (unsigned long long) n);
}

static void
file_name(char *buf, size_t len, uint32_t xid)
{
	snprintf(buf, len, "%u.spool", xid);
}

/* log_io - an I/O error on a spool file, with the hint a full disk needs */
static int
log_io(const spool_t *sp, int err, const char *what, uint32_t xid)
{
	tide_log_error("could not %s spool file \"%s/%u.spool\": %s", what, sp->dir, xid,
				   strerror(err));
	if (err == ENOSPC || err == EDQUOT)
		tide_log_hint("free space in the file system of the segment directory; nothing was "
					  "acknowledged that is not durable in a segment, so nothing is lost");
	return -err;
}

static void
account(spool_t *sp, int64_t delta)
{
	char		a[32];

	sp->bytes = (uint64_t) ((int64_t) sp->bytes + delta);
	if (sp->bytes > sp->peak)
		sp->peak = sp->bytes;
	if (sp->bytes == 0)
		sp->report_at = SPOOL_REPORT_MIN;
	else if (sp->bytes >= sp->report_at)
	{
		format_bytes(sp->bytes, a, sizeof(a));
		tide_log_info("spool holds %s for %zu transactions in progress in \"%s\"",
					  a, sp->ntxns, sp->dir);
		sp->report_at = sp->bytes * 2;
	}
}

/* ---------------------------------------------------- (sub)xid tables */

static uint32_t
slot_of(uint32_t xid, uint32_t nslots)
{
	return (uint32_t) ((xid * UINT64_C(11400714819323198485)) >> 32) & (nslots - 1);
}

static int32_t
xid_find(const spool_txn_t *t, uint32_t xid)
{
	if (t->nslots == 0)
		return -1;
	for (uint32_t s = slot_of(xid, t->nslots);; s = (s + 1) & (t->nslots - 1))
	{
		int32_t		i = t->slots[s];

		if (i < 0 || t->xids[i].xid == xid)
			return i;
	}
}

static int
xid_rehash(spool_txn_t *t, uint32_t nslots)
{
	int32_t    *slots = malloc(sizeof(int32_t) * nslots);

	if (slots == NULL)
		return TIDE_ENOMEM;
	for (uint32_t s = 0; s < nslots; s++)
		slots[s] = -1;
	for (uint32_t i = 0; i < t->nxids; i++)
	{
		uint32_t	s = slot_of(t->xids[i].xid, nslots);

		while (slots[s] >= 0)
			s = (s + 1) & (nslots - 1);
		slots[s] = (int32_t) i;
	}
	free(t->slots);
	t->slots = slots;
	t->nslots = nslots;
	return 0;
}

/* xid_add - the entry of xid, created if new; -1 when out of memory */
static int32_t
xid_add(spool_txn_t *t, uint32_t xid)
{
	int32_t		i = xid_find(t, xid);
	uint32_t	s;

	if (i >= 0)
		return i;
	if (t->nxids == INT32_MAX)
		return -1;
	if (t->nxids == t->maxxids)
	{
		uint32_t	n = t->maxxids ? t->maxxids * 2 : 8;
		xid_entry_t *v = realloc(t->xids, sizeof(xid_entry_t) * n);

		if (v == NULL)
			return -1;
		t->xids = v;
		t->maxxids = n;
	}
	if ((t->nxids + 1) * 2 > t->nslots && xid_rehash(t, t->nslots ? t->nslots * 2 : 16) != 0)
		return -1;
	i = (int32_t) t->nxids++;
	memset(&t->xids[i], 0, sizeof(xid_entry_t));
	t->xids[i].xid = xid;
	t->xids[i].prev = t->xids[i].next = -1;
	for (s = slot_of(xid, t->nslots); t->slots[s] >= 0; s = (s + 1) & (t->nslots - 1))
		;
	t->slots[s] = i;
	return i;
}

static void
recent_unlink(spool_txn_t *t, int32_t i)
{
	xid_entry_t *e = &t->xids[i];

	if (!e->listed)
		return;
	if (e->prev >= 0)
		t->xids[e->prev].next = e->next;
	else
		t->recent = e->next;
	if (e->next >= 0)
		t->xids[e->next].prev = e->prev;
	e->prev = e->next = -1;
	e->listed = false;
}

static void
recent_push(spool_txn_t *t, int32_t i)
{
	xid_entry_t *e = &t->xids[i];

	if (t->recent == i)
		return;
	recent_unlink(t, i);
	e->next = t->recent;
	if (t->recent >= 0)
		t->xids[t->recent].prev = i;
	t->recent = i;
	e->listed = true;
}

/* ------------------------------------------------------- transactions */

static spool_txn_t *
txn_find(const spool_t *sp, uint32_t xid)
{
	for (spool_txn_t *t = sp->txns; t; t = t->next)
		if (t->xid == xid)
			return t;
	return NULL;
}

static void
txn_unlist(spool_t *sp, spool_txn_t *t)
{
	for (spool_txn_t **pp = &sp->txns; *pp; pp = &(*pp)->next)
		if (*pp == t)
		{
			*pp = t->next;
			sp->ntxns--;
			return;
		}
}

static void
txn_free(spool_txn_t *t)
{
	if (t == NULL)
		return;
	free(t->xids);
	free(t->slots);
	free(t);
}

/* txn_delete - the file goes and its bytes leave the count */
static void
txn_delete(spool_t *sp, spool_txn_t *t)
{
	char		name[32];

	file_name(name, sizeof(name), t->xid);
	if (unlinkat(sp->dirfd, name, 0) != 0 && errno != ENOENT)
		tide_log_warning("could not remove spool file \"%s/%s\": %s", sp->dir, name, strerror(errno));
	account(sp, -(int64_t) t->size);
}

static void
chunk_close(spool_t *sp)
{
	if (sp->fd >= 0)
		close(sp->fd);
	sp->fd = -1;
	sp->cur = NULL;
	sp->chunk_xid = 0;
	sp->chunk_idx = -1;
	proto_wbuf_reset(&sp->wbuf);
}

/* flush - cur's buffered bytes to its file */
static int
flush(spool_t *sp)
{
	int			rc;

	if (sp->wbuf.len == 0)
		return 0;
	if ((rc = tide_pwrite_all(sp->fd, sp->wbuf.data, sp->wbuf.len, sp->wbuf_at)) != 0)
		return sp->failed = log_io(sp, -rc, "write", sp->cur->xid);
	sp->wbuf_at += sp->wbuf.len;
	proto_wbuf_reset(&sp->wbuf);
	return 0;
}

/* put - bytes at the end of cur's file, through the buffer */
static int
put(spool_t *sp, const uint8_t *p, size_t n)
{
	int			rc;

	if (n >= SPOOL_WBUF)
	{
		/* a large message goes straight to the file */
		if ((rc = flush(sp)) != 0)
			return rc;
		if ((rc = tide_pwrite_all(sp->fd, p, n, sp->wbuf_at)) != 0)
			return sp->failed = log_io(sp, -rc, "write", sp->cur->xid);
		sp->wbuf_at += n;
	}
	else
	{
		proto_put_bytes(&sp->wbuf, p, n);
		if (sp->wbuf.err)
			return sp->failed = sp->wbuf.err;
		if (sp->wbuf.len >= SPOOL_WBUF && (rc = flush(sp)) != 0)
			return rc;
	}
	sp->cur->size += n;
	account(sp, (int64_t) n);
	return 0;
}

/* ------------------------------------------------------------- public */

int
spool_open(const char *dir, spool_t **out)
{
	spool_t    *sp = calloc(1, sizeof(spool_t));
	struct stat st;
	DIR		   *d;
	struct dirent *de;
	int			n = 0;
	uint64_t	bytes = 0;
	int			dfd;

	if (sp == NULL)
		return TIDE_ENOMEM;
	sp->fd = -1;
	sp->chunk_idx = -1;
	sp->report_at = SPOOL_REPORT_MIN;
	proto_wbuf_init_heap(&sp->wbuf);
	snprintf(sp->dir, sizeof(sp->dir), "%s/%s", dir, SPOOL_DIR);
	/* invariant 8: owner-only, never through a link someone planted */
	if (mkdir(sp->dir, 0700) != 0 && errno != EEXIST)
	{
		tide_log_error("could not create spool area \"%s\": %s", sp->dir, strerror(errno));
		goto fail;
	}
	if ((sp->dirfd = open(sp->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
	{
		tide_log_error("could not open spool area \"%s\": %s", sp->dir, strerror(errno));
		tide_log_hint("it must be a directory of the user running tide, not a link");
		goto fail;
	}
	if (fstat(sp->dirfd, &st) != 0 || st.st_uid != geteuid())
	{
		tide_log_error("spool area \"%s\" belongs to another user", sp->dir);
		tide_log_hint("remove it; tide creates it again");
		close(sp->dirfd);
		goto fail;
	}
	if ((st.st_mode & 07777) != 0700)
		(void) fchmod(sp->dirfd, 0700);

	/*
	 * What an earlier run left is worthless: the server streams every
	 * unfinished transaction again from its start in a new session.
	 */
	if ((dfd = dup(sp->dirfd)) < 0 || (d = fdopendir(dfd)) == NULL)
	{
		tide_log_error("could not read spool area \"%s\": %s", sp->dir, strerror(errno));
		close(sp->dirfd);
		goto fail;
	}
	while ((de = readdir(d)) != NULL)
	{
		size_t		len = strlen(de->d_name);

		if (len < 7 || strcmp(de->d_name + len - 6, ".spool") != 0)
			continue;
		if (fstatat(sp->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			bytes += (uint64_t) st.st_size;
		if (unlinkat(sp->dirfd, de->d_name, 0) != 0)
		{
			tide_log_error("could not remove spool file \"%s/%s\": %s", sp->dir, de->d_name,
						   strerror(errno));
			closedir(d);
			close(sp->dirfd);
			goto fail;
		}
		n++;
	}
	closedir(d);
	if (n > 0)
	{
		char		a[32];

		format_bytes(bytes, a, sizeof(a));
		tide_log_info("discarded %d spool files (%s) of transactions an earlier run saw in progress: the server streams them again",
					  n, a);
	}
	*out = sp;
	return 0;
fail:
	proto_wbuf_free(&sp->wbuf);
	free(sp);
	return TIDE_EBADSTATE;
}

void
spool_discard_all(spool_t *sp)
{
	if (sp == NULL)
		return;
	chunk_close(sp);
	while (sp->txns)
	{
		spool_txn_t *t = sp->txns;

		txn_unlist(sp, t);
		txn_delete(sp, t);
		txn_free(t);
	}
	sp->failed = 0;
}

void
spool_close(spool_t *sp)
{
	if (sp == NULL)
		return;
	spool_discard_all(sp);
	close(sp->dirfd);
	proto_wbuf_free(&sp->wbuf);
	free(sp);
}

bool
spool_in_chunk(const spool_t *sp)
{
	return sp != NULL && sp->cur != NULL;
}

int
spool_chunk_start(spool_t *sp, const proto_stream_start_t *m)
{
	spool_txn_t *t;
	char		name[32];
	int			flags = O_WRONLY | O_NOFOLLOW | O_CLOEXEC;

	if (sp->failed)
		return sp->failed;
	if (sp->cur)
	{
		tide_log_error("the decoder started a chunk of transaction %u inside one of transaction %u",
					   m->xid, sp->cur->xid);
		return TIDE_EBADSTATE;
	}
	t = txn_find(sp, m->xid);
	if (m->flags & PROTO_STREAM_FIRST)
	{
		if (t != NULL)
		{
			/* the server starts it over: what it sent before does not count */
			tide_log_warning("the decoder streams transaction %u again from its start; dropping the %llu bytes it sent before",
							 m->xid, (unsigned long long) t->size);
			txn_unlist(sp, t);
			txn_delete(sp, t);
			txn_free(t);
		}
		if ((t = calloc(1, sizeof(spool_txn_t))) == NULL)
			return TIDE_ENOMEM;
		t->xid = m->xid;
		t->recent = -1;
		if (xid_add(t, m->xid) < 0)
		{
			txn_free(t);
			return TIDE_ENOMEM;
		}
		t->next = sp->txns;
		sp->txns = t;
		sp->ntxns++;
		flags |= O_CREAT | O_TRUNC;
	}
	else if (t == NULL)
	{
		/* invariant 1: its first changes would be missing */
		tide_log_error("the decoder continues transaction %u, of which this session holds nothing", m->xid);
		tide_log_detail("a chunk not flagged first came for a transaction whose first chunk never arrived");
		return TIDE_EBADSTATE;
	}
	file_name(name, sizeof(name), t->xid);
	if ((sp->fd = openat(sp->dirfd, name, flags, 0600)) < 0)
		return sp->failed = log_io(sp, errno, (flags & O_CREAT) ? "create" : "open", t->xid);
	sp->cur = t;
	sp->chunk_xid = t->xid;
	sp->chunk_idx = -1;
	sp->wbuf_at = t->size;
	proto_wbuf_reset(&sp->wbuf);
	t->chunks++;
	return 0;
}

int
spool_subxact(spool_t *sp, uint32_t xid)
{
	if (sp->cur == NULL)
	{
		tide_log_error("the decoder sent a SUBXACT outside a chunk");
		return TIDE_EBADSTATE;
	}
	if (xid != sp->chunk_xid)
	{
		sp->chunk_xid = xid;
		sp->chunk_idx = -1;
	}
	return 0;
}

int
spool_append(spool_t *sp, uint8_t type, const uint8_t *msg, size_t len)
{
	spool_txn_t *t = sp->cur;
	xid_entry_t *e;
	int			rc;

	if (sp->failed)
		return sp->failed;
	if (t == NULL)
		return TIDE_EBADSTATE;
	switch (type)
	{
		case PROTO_MSG_RELATION:
		case PROTO_MSG_INSERT:
		case PROTO_MSG_UPDATE:
		case PROTO_MSG_DELETE:
		case PROTO_MSG_TRUNCATE:
		case PROTO_MSG_MESSAGE:
			break;
		default:
			tide_log_error("the decoder sent a '%c' message inside a chunk of transaction %u",
						   type >= 32 && type < 127 ? type : '?', t->xid);
			return TIDE_EBADTYPE;
	}
	if (sp->chunk_idx < 0 && (sp->chunk_idx = xid_add(t, sp->chunk_xid)) < 0)
		return sp->failed = TIDE_ENOMEM;
	if (t->file_xid != sp->chunk_xid)
	{
		/* the run of another (sub)transaction starts: say whose */
		uint8_t		mem[16];
		proto_wbuf_t b;
		proto_subxact_t x = {sp->chunk_xid};

		proto_wbuf_init_fixed(&b, mem, sizeof(mem));
		if ((rc = proto_write_subxact(&b, &x)) != 0 || (rc = put(sp, b.data, b.len)) != 0)
			return rc;
		t->file_xid = sp->chunk_xid;
	}
	if ((rc = put(sp, msg, len)) != 0)
		return rc;
	e = &t->xids[sp->chunk_idx];
	e->last_end = t->size;
	recent_push(t, sp->chunk_idx);
	if (type != PROTO_MSG_RELATION)
	{
		e->nchanges++;
		t->nchanges++;
	}
	return 0;
}

int
spool_chunk_stop(spool_t *sp, uint32_t xid)
{
	int			rc;

	if (sp->cur == NULL || sp->cur->xid != xid)
	{
		tide_log_error("the decoder ended a chunk of transaction %u that was not open", xid);
		return TIDE_EBADSTATE;
	}
	rc = flush(sp);
	chunk_close(sp);
	return rc;
}

int
spool_abort(spool_t *sp, const proto_stream_abort_t *m)
{
	spool_txn_t *t;
	int32_t		i;
	uint64_t	keep;
	char		name[32];
	int			fd;

	if (sp->cur)
	{
		tide_log_error("the decoder rolled back transaction %u inside a chunk", m->xid);
		return TIDE_EBADSTATE;
	}
	if ((t = txn_find(sp, m->xid)) == NULL)
		return 0;
	if (m->subxid == m->xid)
	{
		txn_unlist(sp, t);
		txn_delete(sp, t);
		txn_free(t);
		return 0;
	}
	if ((i = xid_find(t, m->subxid)) < 0 || t->xids[i].aborted)
		return 0;
	t->xids[i].aborted = true;
	t->nchanges -= t->xids[i].nchanges;

	/* cut back to the end of the last message of one still alive */
	while (t->recent >= 0 && t->xids[t->recent].aborted)
		recent_unlink(t, t->recent);
	keep = t->recent >= 0 ? t->xids[t->recent].last_end : 0;
	if (keep >= t->size)
		return 0;
	file_name(name, sizeof(name), t->xid);
	if ((fd = openat(sp->dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
		ftruncate(fd, (off_t) keep) != 0)
	{
		int			err = errno;

		if (fd >= 0)
			close(fd);
		return sp->failed = log_io(sp, err, "cut back", t->xid);
	}
	close(fd);
	account(sp, -(int64_t) (t->size - keep));
	t->size = keep;
	t->file_xid = 0;			/* the next run names its (sub)transaction */
	return 0;
}

int
spool_replay_start(spool_t *sp, const proto_stream_commit_t *m,
				   spool_replay_t **out)
{
	spool_txn_t *t;
	spool_replay_t *r;
	char		name[32];

	if (sp->failed)
		return sp->failed;
	if (sp->cur)
	{
		tide_log_error("the decoder committed transaction %u inside a chunk", m->xid);
		return TIDE_EBADSTATE;
	}
	if ((t = txn_find(sp, m->xid)) == NULL)
	{
		/* invariant 1: its changes would be missing */
		tide_log_error("the decoder committed streamed transaction %u, of which this session holds nothing",
					   m->xid);
		return TIDE_EBADSTATE;
	}
	if ((r = calloc(1, sizeof(spool_replay_t))) == NULL)
		return TIDE_ENOMEM;
	txn_unlist(sp, t);
	r->txn = t;
	r->c = *m;
	if (m->origin.n > 0)
		memcpy(r->origin, m->origin.p, m->origin.n);
	r->c.origin.p = r->origin;
	r->xid = t->xid;
	proto_wbuf_init_heap(&r->buf);
	proto_relcat_init(&r->cat, NULL);
	file_name(name, sizeof(name), t->xid);
	if ((r->fd = openat(sp->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
	{
		int			rc = log_io(sp, errno, "open", t->xid);

		spool_replay_free(sp, r);
		return rc;
	}
	*out = r;
	return 0;
}

/* feed - one whole message of the transaction into the writer */
static int
feed(spool_replay_t *r, segwriter_t *w, const uint8_t *msg, size_t len)
{
	proto_rbuf_t f;
	proto_rbuf_t body;
	uint8_t		type;
	int			rc;

	proto_rbuf_init(&f, msg, len);
	if ((rc = proto_read_msg(&f, &type, &body)) != 0)
		return rc;
	return segwriter_message(w, &r->cat, type, msg, len, body.data, body.len);
}

/*
 * next_msg - the next whole message of the file: *msg and *len point into
 * r->buf (valid until the next call).  Returns 0, TIDE_EEOF at the clean
 * end, or an error.
 */
static int
next_msg(spool_replay_t *r, const uint8_t **msg, size_t *len)
{
	for (;;)
	{
		size_t		avail = r->buf.len - r->pos;
		proto_rbuf_t f;
		proto_rbuf_t body;
		uint8_t		type;
		size_t		want = SPOOL_RSTEP;
		ssize_t		k;
		int			rc;

		proto_rbuf_init(&f, r->buf.data + r->pos, avail);
		rc = proto_read_msg(&f, &type, &body);
		if (rc == 0)
		{
			*msg = r->buf.data + r->pos;
			*len = f.pos;
			r->pos += f.pos;
			return 0;
		}
		if (rc != TIDE_EEOF && rc != TIDE_ETRUNCATED)
			return rc;
		if (r->eof)
			return avail == 0 ? TIDE_EEOF : TIDE_ETRUNCATED;
		/* keep the unread part, then read at least the rest of a long message */
		memmove(r->buf.data, r->buf.data + r->pos, avail);
		r->buf.len = avail;
		r->pos = 0;
		if (rc == TIDE_ETRUNCATED && avail > 1)
		{
			uint64_t	n = 0;
			proto_rbuf_t h;
			uint8_t		t;

			proto_rbuf_init(&h, r->buf.data, avail);
			if (proto_get_u8(&h, &t) == 0 && proto_get_varint(&h, &n) == 0 &&
				n > PROTO_MAX_BODY)
				return TIDE_ETOOLONG;
			if (h.err == 0 && h.pos + n > avail && h.pos + n - avail > want)
				want = (size_t) (h.pos + n - avail);
		}
		if (proto_wbuf_ensure(&r->buf, want) != 0)
			return TIDE_ENOMEM;
		do
			k = pread(r->fd, r->buf.data + r->buf.len, want, (off_t) r->off);
		while (k < 0 && errno == EINTR);
		if (k < 0)
			return -errno;
		if (k == 0)
			r->eof = true;
		r->buf.len += (size_t) k;
		r->off += (uint64_t) k;
	}
}

int
spool_replay_step(spool_replay_t *r, segwriter_t *w, size_t limit)
{
	uint8_t		mem[PROTO_MAX_NAME + 64];
	proto_wbuf_t b;
	int			rc;

	if (!r->begun)
	{
		proto_begin_t bg = {r->c.final_lsn, r->c.commit_time, r->c.xid};

		proto_wbuf_init_fixed(&b, mem, sizeof(mem));
		if ((rc = proto_write_begin(&b, &bg)) != 0)
			return rc;
		rc = segwriter_begin(w, &bg, b.data, b.len);
		if (rc == 1)
		{
			/* already in the segments (FORMAT.md, "Positions and duplicates") */
			r->duplicate = true;
			return 0;
		}
		if (rc != 0)
			return rc;
		r->begun = true;
		if (r->c.flags & PROTO_STREAM_COMMIT_ORIGIN)
		{
			proto_origin_t o = {r->c.origin_lsn, r->c.origin};

			proto_wbuf_reset(&b);
			if ((rc = proto_write_origin(&b, &o)) != 0 || (rc = feed(r, w, b.data, b.len)) != 0)
				return rc;
		}
	}
	while (segwriter_backlog(w) < limit)
	{
		const uint8_t *msg = NULL;
		size_t		len = 0;
		proto_rbuf_t f;
		proto_rbuf_t body;
		uint8_t		type;

		rc = next_msg(r, &msg, &len);
		if (rc == TIDE_EEOF)
		{
			proto_commit_t c = {0, r->c.end_lsn, r->c.nchanges};

			/* invariant 1: write it only whole, as the decoder counted it */
			if (r->nchanges != r->c.nchanges)
			{
				tide_log_error("streamed transaction %u holds %llu changes, but the decoder committed %llu",
							   r->c.xid, (unsigned long long) r->nchanges,
							   (unsigned long long) r->c.nchanges);
				tide_log_detail("nothing of it was acknowledged; the stream stops rather than write it");
				return TIDE_EBADVALUE;
			}
			proto_wbuf_init_fixed(&b, mem, sizeof(mem));
			if ((rc = proto_write_commit(&b, &c)) != 0 ||
				(rc = segwriter_commit(w, &c, b.data, b.len)) != 0)
				return rc;
			r->done = true;
			return 0;
		}
		if (rc != 0)
		{
			if (rc < 0 && rc > TIDE__EBASE)
				tide_log_error("could not read spool file of transaction %u: %s", r->c.xid,
							   tide_strerror(rc));
			else
				tide_log_error("spool file of transaction %u is damaged: %s", r->c.xid,
							   tide_strerror(rc));
			return rc;
		}
		proto_rbuf_init(&f, msg, len);
		if ((rc = proto_read_msg(&f, &type, &body)) != 0)
			return rc;
		switch (type)
		{
			case PROTO_MSG_SUBXACT:
				{
					proto_subxact_t x;
					int32_t		i;

					if ((rc = proto_read_subxact(&body, &x)) != 0)
						return rc;
					r->xid = x.xid;
					i = xid_find(r->txn, x.xid);
					r->skipping = i >= 0 && r->txn->xids[i].aborted;
					break;
				}
			case PROTO_MSG_RELATION:
				/* a description: it holds for what follows, rolled back or not */
				if ((rc = proto_relcat_put(&r->cat, body.data, body.len, NULL)) != 0)
					return rc;
				break;
			case PROTO_MSG_INSERT:
			case PROTO_MSG_UPDATE:
			case PROTO_MSG_DELETE:
			case PROTO_MSG_TRUNCATE:
			case PROTO_MSG_MESSAGE:
				if (r->skipping)
					break;
				if ((rc = segwriter_message(w, &r->cat, type, msg, len, body.data, body.len)) != 0)
					return rc;
				r->nchanges++;
				break;
			default:
				return TIDE_EBADTYPE;
		}
	}
	return 1;
}

bool
spool_replay_duplicate(const spool_replay_t *r)
{
	return r->duplicate;
}

void
spool_replay_free(spool_t *sp, spool_replay_t *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	if (r->txn)
	{
		char		a[32];

		format_bytes(r->txn->size, a, sizeof(a));
		if (r->done)
			tide_log_info("streamed transaction %u (commit " TIDE_LSN_FMT "): %llu changes in %llu chunks, %s spooled, handed to the segment writer",
						  r->c.xid, TIDE_LSN_ARGS(r->c.final_lsn), (unsigned long long) r->nchanges,
						  (unsigned long long) r->txn->chunks, a);
		txn_delete(sp, r->txn);
		txn_free(r->txn);
	}
	proto_relcat_free(&r->cat);
	proto_wbuf_free(&r->buf);
	free(r);
}

uint64_t
spool_bytes(const spool_t *sp)
{
	return sp ? sp->bytes : 0;
}

uint64_t
spool_peak_bytes(const spool_t *sp)
{
	return sp ? sp->peak : 0;
}

size_t
spool_open_txns(const spool_t *sp)
{
	return sp ? sp->ntxns : 0;
}
