/*
 * streamer/publish.c
 *		Publishing and retention for the writer side: the stream's
 *		publisher thread (tide stream --publish), `tide publish` (a one-shot
 *		sync for cron) and `tide prune`.
 *
 * All three run store_sync()/store_prune(), which do the work in the order
 * store/LAYOUT.md fixes (objects, then the index; on deletion the index,
 * then objects) under the directory's writer lock.  This file adds the
 * thread, the retries and what is logged.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "tide/cmdline.h"
#include "tide/common.h"
#include "publish.h"

#define LSN_FMT "%X/%X"
#define LSN_ARGS(l) (unsigned) ((uint64_t) (l) >> 32), (unsigned) (l)
#define PERIOD_MS 10000			/* a pass at least this often */
#define GAP_MS 1000				/* and at most this often: while a backlog
								 * drains, segments close many times a
								 * second and are published in batches */
#define NICE 10					/* the thread takes what CPU the slot's
								 * reading leaves */
#define RETRY_BASE_MS 1000
#define RETRY_MAX_MS 60000

struct publisher_s
{
	publisher_opts_t o;
	char	   *dir;			/* owned copies of o's strings */
	char	   *url;
	store_t    *src;			/* owned */
	store_t    *dst;			/* owned; NULL without --publish */
	uv_thread_t thread;
	bool		thread_started;
	uv_mutex_t	mu;				/* guards everything below */
	uv_cond_t	cv;
	uv_async_t	async;			/* the thread's news for the loop */
	bool		async_open;
	bool		kicked;
	bool		stopping;
	publisher_state_t st;
	uint64_t	warned_bytes;	/* the backlog warned about last */
	uint64_t	pass_segments;	/* segments uploaded by the running pass
								 * (the thread's alone, outside mu) */
	publisher_cb cb;
	void	   *arg;
};

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* backoff_ms - exponential with equal jitter: clients that failed together spread out */
static uint64_t
backoff_ms(int failures)
{
	uint64_t	cap = RETRY_BASE_MS;
	uint32_t	rnd = 0;

	for (int i = 1; i < failures && cap < RETRY_MAX_MS; i++)
		cap *= 2;
	if (cap > RETRY_MAX_MS)
		cap = RETRY_MAX_MS;
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (uint32_t) mono_ms() * 2654435761u;
	return cap / 2 + rnd % (cap / 2 + 1);
}

/* on_event - what a pass did, in the log */
static void
on_event(void *arg, const store_event_t *e)
{
	const char *to = arg;

	switch (e->kind)
	{
		case STORE_EV_UPLOADED:
			tide_log_info("published \"%s\" (%llu bytes) to \"%s\"", e->name,
						  (unsigned long long) e->size, to ? to : "?");
			break;
		case STORE_EV_DELETED:
			tide_log_info("removed %s", e->text);
			break;
		case STORE_EV_KEPT:
			tide_log_info("%s", e->text);
			break;
		case STORE_EV_WARNING:
		case STORE_EV_UNINDEXED:
			tide_log_warning("%s", e->text);
			break;
		default:
			break;
	}
}

/* on_pass_event - the thread's events: counted for metrics, then logged */
static void
on_pass_event(void *arg, const store_event_t *e)
{
	publisher_t *p = arg;
	size_t		n = e->name ? strlen(e->name) : 0;

	if (e->kind == STORE_EV_UPLOADED && n > strlen(SEG_SUFFIX) &&
		strcmp(e->name + n - strlen(SEG_SUFFIX), SEG_SUFFIX) == 0)
		p->pass_segments++;
	on_event(p->url, e);
}

/* one_pass - store_sync with the thread's stores; 0 or the error (logged by the caller) */
static int
one_pass(publisher_t *p, store_sync_result_t *r, char *err)
{
	store_sync_opts_t so;

	memset(&so, 0, sizeof(so));
	so.src_retain = p->o.retain;
	so.dst_retain = p->o.publish_retain;
	so.now = tide_now();
	so.cb = on_pass_event;
	so.arg = p;
	return store_sync(p->src, p->dst, &so, r, err);
}

static void
run(void *arg)
{
	publisher_t *p = arg;
	uint64_t	next = 0;		/* when the next pass is due (ms), 0: now */
	uint64_t	last_pass = 0;
	uint64_t	last_warned = 0;

	/*
	 * Checksums, uploads and index writes are background work: a lower
	 * priority for this thread (Linux: per thread), so they never take
	 * CPU the loop and the compression threads need to drain the slot.
	 */
	(void) setpriority(PRIO_PROCESS, (id_t) gettid(), NICE);
	uv_mutex_lock(&p->mu);
	for (;;)
	{
		store_sync_result_t r;
		char		err[STORE_ERRLEN];
		bool		last;
		int			rc;

		for (;;)
		{
			uint64_t	now = mono_ms();
			uint64_t	until = next;

			if (p->stopping || now >= next)
				break;
			if (p->kicked)
			{
				/* a kick runs a pass soon, but not sooner than GAP_MS after the last */
				if (now >= last_pass + GAP_MS)
					break;
				if (last_pass + GAP_MS < until)
					until = last_pass + GAP_MS;
			}
			uv_cond_timedwait(&p->cv, &p->mu, (until - now) * 1000000);
		}
		last = p->stopping;
		p->kicked = false;
		uv_mutex_unlock(&p->mu);

		p->pass_segments = 0;
		rc = one_pass(p, &r, err);
		last_pass = mono_ms();

		uv_mutex_lock(&p->mu);
		p->st.segments_published += p->pass_segments;
		p->st.deleted += r.deleted;
		if (rc != 0)
			p->st.failed_passes++;
		p->st.uploaded += r.uploaded;
		p->st.uploaded_bytes += r.uploaded_bytes;
		if (rc == 0)
		{
			if (p->st.failures > 0)
				tide_log_info("publishing to \"%s\" works again (after %d failed attempts)",
							  p->url ? p->url : p->dir, p->st.failures);
			p->st.failures = 0;
			p->st.published_end = r.published_end;
			p->st.have_published = true;
			p->st.pending = r.pending;
			p->st.pending_bytes = r.pending_bytes;
			next = mono_ms() + PERIOD_MS;
		}
		else
		{
			uint64_t	wait = backoff_ms(++p->st.failures);

			if (r.published_end > p->st.published_end)
				p->st.published_end = r.published_end;
			/* say it the first time, then once a minute while it lasts */
			if (p->st.failures == 1 || mono_ms() - last_warned >= 60000)
			{
				tide_log_warning("could not publish to \"%s\" (attempt %d): %s",
								 p->url ? p->url : p->dir, p->st.failures, err);
				tide_log_detail("the slot is read on: closed segments wait in \"%s\" and are published when it works again; retrying in %.1f s",
								p->dir, (double) wait / 1000.0);
				last_warned = mono_ms();
			}
			next = mono_ms() + wait;
		}
		/* the backlog lives on local disk; say when it grows */
		if (p->url && p->o.warn_bytes > 0 && p->st.pending_bytes >= (uint64_t) p->o.warn_bytes &&
			p->st.pending_bytes >= 2 * p->warned_bytes)
		{
			tide_log_warning("%zu closed segments (%llu bytes) in \"%s\" are not published to \"%s\" yet",
							 p->st.pending, (unsigned long long) p->st.pending_bytes, p->dir, p->url);
			tide_log_hint("they stay in the directory until the store takes them; make sure it can (credentials, space, network)");
			p->warned_bytes = p->st.pending_bytes;
		}
		else if (p->st.pending_bytes < (uint64_t) p->o.warn_bytes / 2)
			p->warned_bytes = 0;
		if (p->async_open && !p->stopping)
			uv_async_send(&p->async);
		if (last)
			break;
	}
	uv_mutex_unlock(&p->mu);
}

static void
on_async(uv_async_t *h)
{
	publisher_t *p = h->data;

	if (p->cb)
		p->cb(p, p->arg);
}

/* open_stores - the directory and the destination; a TIDE_EXIT_* code (logged) */
static int
open_stores(const char *dir, const char *url, store_t **src, store_t **dst)
{
	char		err[STORE_ERRLEN];
	int			rc;

	*src = *dst = NULL;
	if ((rc = store_open(dir, NULL, src, err)) != 0)
	{
		tide_log_error("%s", err);
		return rc == -EINVAL ? TIDE_EXIT_USAGE : TIDE_EXIT_IO;
	}
	if (store_kind(*src) != STORE_LOCAL)
	{
		tide_log_error("\"%s\" is not a directory: segments are published from the directory tide stream writes", dir);
		store_close(*src);
		*src = NULL;
		return TIDE_EXIT_USAGE;
	}
	if (url == NULL)
		return 0;
	if ((rc = store_open(url, NULL, dst, err)) != 0)
	{
		tide_log_error("%s", err);
		store_close(*src);
		*src = NULL;
		return rc == -EINVAL ? TIDE_EXIT_USAGE : rc == -ENOENT || rc == -ENOTDIR ? TIDE_EXIT_IO : TIDE_EXIT_STORE;
	}
	if (!store_writable(*dst))
	{
		tide_log_error("store \"%s\" is read-only: publish to the directory a web server serves, or to S3", url);
		store_close(*src);
		store_close(*dst);
		*src = *dst = NULL;
		return TIDE_EXIT_USAGE;
	}
	return 0;
}

int
publisher_start(publisher_t **out, uv_loop_t *loop, const publisher_opts_t *o,
				publisher_cb cb, void *arg)
{
	publisher_t *p = calloc(1, sizeof(*p));
	int			rc;

	*out = NULL;
	if (p == NULL || (p->dir = strdup(o->dir)) == NULL ||
		(o->url && (p->url = strdup(o->url)) == NULL))
	{
		if (p)
			free(p->dir);
		free(p);
		tide_log_error("out of memory");
		return TIDE_EXIT_BUG;
	}
	p->o = *o;
	p->cb = cb;
	p->arg = arg;
	if ((rc = open_stores(p->dir, p->url, &p->src, &p->dst)) != 0)
	{
		free(p->dir);
		free(p->url);
		free(p);
		return rc;
	}
	uv_mutex_init(&p->mu);
	uv_cond_init(&p->cv);
	uv_async_init(loop, &p->async, on_async);
	p->async.data = p;
	p->async_open = true;
	p->kicked = true;
	if (uv_thread_create(&p->thread, run, p) != 0)
	{
		tide_log_error("could not start the publisher thread");
		p->async_open = false;
		uv_close((uv_handle_t *) &p->async, NULL);
		return TIDE_EXIT_BUG;	/* freed by publisher_free */
	}
	p->thread_started = true;
	*out = p;
	return 0;
}

void
publisher_kick(publisher_t *p)
{
	if (p == NULL)
		return;
	uv_mutex_lock(&p->mu);
	p->kicked = true;
	uv_cond_signal(&p->cv);
	uv_mutex_unlock(&p->mu);
}

void
publisher_state(publisher_t *p, publisher_state_t *st)
{
	uv_mutex_lock(&p->mu);
	*st = p->st;
	uv_mutex_unlock(&p->mu);
}

void
publisher_stop(publisher_t *p)
{
	if (p == NULL)
		return;
	uv_mutex_lock(&p->mu);
	if (p->stopping)
	{
		uv_mutex_unlock(&p->mu);
		return;
	}
	p->stopping = true;
	uv_cond_signal(&p->cv);
	uv_mutex_unlock(&p->mu);
	if (p->async_open)
	{
		/* the thread sends nothing once stopping is set (under the mutex) */
		p->async_open = false;
		uv_close((uv_handle_t *) &p->async, NULL);
	}
}

void
publisher_free(publisher_t *p)
{
	if (p == NULL)
		return;
	if (p->thread_started)
		uv_thread_join(&p->thread);
	uv_mutex_destroy(&p->mu);
	uv_cond_destroy(&p->cv);
	store_close(p->src);
	store_close(p->dst);
	free(p->dir);
	free(p->url);
	free(p);
}

int
publisher_adopt(const char *dir, const char *url)
{
	store_t    *src;
	store_t    *dst;
	store_seglist_t mine = {0};
	store_seglist_t theirs = {0};
	int			rc;

	if ((rc = open_stores(dir, url, &src, &dst)) != 0)
		return rc;
	if (store_segment_names(src, &mine) != 0)
	{
		tide_log_error("could not read segment directory \"%s\": %s", dir, store_errmsg(src));
		rc = TIDE_EXIT_IO;
	}
	else if (mine.n == 0 && (rc = store_segments(dst, &theirs, NULL, NULL)) != 0)
	{
		tide_log_error("could not read the index of \"%s\": %s", url, store_errmsg(dst));
		rc = rc <= TIDE__EBASE ? TIDE_EXIT_CORRUPT : TIDE_EXIT_STORE;
	}
	else if (mine.n == 0 && theirs.n > 0)
	{
		const store_segment_t *g = &theirs.v[theirs.n - 1];
		char		path[4200];
		store_get_opts_t go = {.sha256 = g->sha256};

		/*
		 * Invariant 1: the directory continues the published history, so
		 * the slot's check (its confirmed position may not be past the
		 * directory's end) and the gap checks hold across the two.
		 */
		snprintf(path, sizeof(path), "%s/%s", dir, g->name);
		if ((rc = store_get(dst, g->name, path, &go, NULL)) != 0)
		{
			tide_log_error("%s", store_errmsg(dst));
			rc = rc <= TIDE__EBASE ? TIDE_EXIT_CORRUPT : TIDE_EXIT_STORE;
		}
		else
			tide_log_info("\"%s\" holds no segment: continuing the history published in \"%s\" after its newest segment \"%s\" (ends at " LSN_FMT ")",
						  dir, url, g->name, LSN_ARGS(g->end_lsn));
	}
	store_seglist_free(&mine);
	store_seglist_free(&theirs);
	store_close(src);
	store_close(dst);
	return rc;
}

/* ------------------------------------------------------------- commands */

/* sync_exit - the exit class of a failed pass */
static int
sync_exit(int rc, bool remote)
{
	if (rc == -EEXIST || (rc <= TIDE__EBASE && rc != TIDE_ENOMEM))
		return TIDE_EXIT_CORRUPT;
	if (rc == TIDE_ENOMEM)
		return TIDE_EXIT_BUG;
	if (rc == -EROFS || rc == -EINVAL)
		return TIDE_EXIT_USAGE;
	return remote ? TIDE_EXIT_STORE : TIDE_EXIT_IO;
}

static int
parse_retain(const char *opt, const char *val, store_retain_t *r)
{
	return tide_opt_duration(opt, val, 0, INT64_C(100) * 366 * 86400 * 1000000, &r->retain_usecs);
}

static int
parse_keep(const char *val, store_retain_t *r)
{
	int64_t		v;
	int			rc;

	/* at least one: a base is what a new replica starts from */
	if ((rc = tide_opt_int("--keep-bases", val, 1, INT32_MAX, &v)) != 0)
		return rc;
	r->keep_bases = (int) v;
	return 0;
}

static void
publish_usage(FILE *f)
{
	fprintf(f,
			"Usage: tide publish [OPTIONS] DIR URL\n\n"
			"Copy the closed segments and complete bases of DIR (a directory tide stream\n"
			"writes) that the store at URL lacks: s3://BUCKET/PREFIX (AWS_* variables)\n"
			"or another directory (e.g. a web server's root).  DIR's index.json is\n"
			"brought up to date first; each object is written once (the same SHA-256\n"
			"already there is a no-op, other content an error), URL's index.json last,\n"
			"so a reader never sees an entry whose object is missing.  Running it again\n"
			"with nothing new does nothing: for cron.\n\n"
			"Options:\n"
			"      --retain=DURATION  afterwards, delete from URL the segments older than\n"
			"                         this that no kept base needs (e.g. 15d)\n"
			"      --keep-bases=N     with --retain: keep the newest N bases, delete older\n"
			"                         ones past the window\n"
			"  -q, --quiet            only warnings and errors\n");
	tide_std_usage(f, 25);
	fprintf(f,
			"\nExit codes: 0 done, 2 bad arguments, 5 URL holds other content under a name\n"
			"or another source's history, 6 local I/O error, 7 the store cannot be\n"
			"reached or refused the request (retry may help).\n");
}

int
tide_cmd_publish(int argc, char **argv)
{
	static const struct option opts[] = {
		{"retain", required_argument, NULL, 1},
		{"keep-bases", required_argument, NULL, 2},
		{"quiet", no_argument, NULL, 'q'},
		TIDE_STD_LONGOPTS,
		{NULL, 0, NULL, 0}
	};
	store_sync_opts_t so;
	store_sync_result_t r;
	store_t    *src;
	store_t    *dst;
	char		err[STORE_ERRLEN];
	int			c;
	int			rc;

	memset(&so, 0, sizeof(so));
	so.src_retain.retain_usecs = so.dst_retain.retain_usecs = -1;
	optind = 1;
	while ((c = tide_getopt(argc, argv, "q", opts)) != -1)
	{
		switch (c)
		{
			case 1:
				if ((rc = parse_retain("--retain", optarg, &so.dst_retain)) != 0)
					return rc;
				break;
			case 2:
				if ((rc = parse_keep(optarg, &so.dst_retain)) != 0)
					return rc;
				break;
			case 'q':
				tide_log_quiet = 1;
				break;
			default:
				rc = tide_opt_std(c, "publish", publish_usage);
				return rc < 0 ? TIDE_EXIT_OK : rc;
		}
	}
	if (optind != argc - 2)
	{
		tide_log_error("publish needs a directory and a store URL");
		tide_log_hint("run 'tide publish --help' for its options");
		return TIDE_EXIT_USAGE;
	}
	if (so.dst_retain.keep_bases && so.dst_retain.retain_usecs < 0)
	{
		tide_log_error("--keep-bases needs --retain");
		return TIDE_EXIT_USAGE;
	}
	if ((rc = open_stores(argv[optind], argv[optind + 1], &src, &dst)) != 0)
		return rc;
	so.now = tide_now();
	so.cb = on_event;
	so.arg = argv[optind + 1];
	rc = store_sync(src, dst, &so, &r, err);
	if (rc != 0)
	{
		tide_log_error("%s", err);
		if (rc == -EEXIST)
			tide_log_hint("an object of that name holds other bytes: another stream publishes there, or the file was changed; nothing was overwritten");
		rc = sync_exit(rc, store_kind(dst) != STORE_LOCAL);
	}
	else if (r.uploaded == 0 && r.deleted == 0)
		tide_log_info("\"%s\" already holds everything \"%s\" has to publish (%zu segments): nothing to do",
					  argv[optind + 1], argv[optind], r.segments);
	else
		tide_log_info("published %zu objects (%.1f MB) to \"%s\" (its history ends at " LSN_FMT "); %zu were there already; %zu removed by retention",
					  r.uploaded, (double) r.uploaded_bytes / 1e6, argv[optind + 1],
					  LSN_ARGS(r.published_end), r.existed, r.deleted);
	store_close(src);
	store_close(dst);
	return rc;
}

static void
prune_usage(FILE *f)
{
	fprintf(f,
			"Usage: tide prune --retain DURATION [--keep-bases N] [--dry-run] DIR|URL\n\n"
			"Delete closed segments whose time bucket ended more than DURATION\n"
			"ago (e.g. 15d), from a directory or a store (s3://BUCKET/PREFIX; with\n"
			"--dry-run also http(s)://).  The open segment and the newest closed one\n"
			"are kept, and every segment a kept base needs (those holding changes\n"
			"after its consistent point): a base is useless without the history\n"
			"that follows it.  --keep-bases N keeps the newest N bases and deletes\n"
			"older ones past DURATION, so only what those N need is kept.  Only\n"
			"the oldest part of the history is ever deleted: never a hole.  The\n"
			"index is rewritten first, then the objects go.\n\n"
			"Options:\n"
			"  -r, --retain=DURATION  delete what is older than this (required)\n"
			"  -k, --keep-bases=N     keep the newest N bases (and what they need)\n"
			"  -n, --dry-run          say what would be deleted, delete nothing\n");
	tide_std_usage(f, 25);
	fprintf(f,
			"\nExit codes: 0 done, 2 bad arguments, 6 local I/O error, 7 the store\n"
			"cannot be reached or refused the request.\n");
}

/* on_prune_event - "removed ..." or, in a dry run, "would remove ..." */
static void
on_prune_event(void *arg, const store_event_t *e)
{
	bool		dry = *(bool *) arg;

	if (e->kind == STORE_EV_DELETED)
		tide_log_info("%s %s", dry ? "would remove" : "removed", e->text);
	else if (e->kind == STORE_EV_KEPT)
		tide_log_info("%s", e->text);
	else if (e->kind == STORE_EV_WARNING || e->kind == STORE_EV_UNINDEXED)
		tide_log_warning("%s", e->text);
}

int
tide_cmd_prune(int argc, char **argv)
{
	static const struct option opts[] = {
		{"retain", required_argument, NULL, 'r'},
		{"dry-run", no_argument, NULL, 'n'},
		{"keep-bases", required_argument, NULL, 'k'},
		TIDE_STD_LONGOPTS,
		{NULL, 0, NULL, 0}
	};
	store_sync_opts_t so;
	store_sync_result_t r;
	store_t    *s;
	char		err[STORE_ERRLEN];
	int			c;
	int			rc;

	memset(&so, 0, sizeof(so));
	so.src_retain.retain_usecs = so.dst_retain.retain_usecs = -1;
	optind = 1;
	while ((c = tide_getopt(argc, argv, "r:nk:", opts)) != -1)
	{
		switch (c)
		{
			case 'r':
				if ((rc = parse_retain("--retain", optarg, &so.src_retain)) != 0)
					return rc;
				break;
			case 'n':
				so.dry_run = true;
				break;
			case 'k':
				if ((rc = parse_keep(optarg, &so.src_retain)) != 0)
					return rc;
				break;
			default:
				rc = tide_opt_std(c, "prune", prune_usage);
				return rc < 0 ? TIDE_EXIT_OK : rc;
		}
	}
	if (optind != argc - 1 || so.src_retain.retain_usecs < 0)
	{
		tide_log_error("prune needs --retain and exactly one directory or store URL");
		tide_log_hint("run 'tide prune --help' for its options");
		return TIDE_EXIT_USAGE;
	}
	if ((rc = store_open(argv[optind], NULL, &s, err)) != 0)
	{
		tide_log_error("%s", err);
		return rc == -EINVAL ? TIDE_EXIT_USAGE :
			strstr(argv[optind], "://") && strncmp(argv[optind], "file://", 7) ? TIDE_EXIT_STORE : TIDE_EXIT_IO;
	}
	so.now = tide_now();
	so.cb = on_prune_event;
	so.arg = &so.dry_run;
	if ((rc = store_prune(s, &so, &r, err)) != 0)
	{
		tide_log_error("%s", err);
		rc = sync_exit(rc, store_kind(s) != STORE_LOCAL);
	}
	store_close(s);
	return rc;
}
