/*
 * store/include/tide/store.h
 *		Where segments and bases live: one interface over a local directory,
 *		S3-compatible object storage and a static HTTP(S) server.
 *
 * A store is opened from a URL and holds objects under names relative to
 * its root ("20261120T130000Z_00000001A2B3C4D0.tseg", "index.json",
 * "base/20261120T120000Z/toc.dat"):
 *
 *   /path/to/dir, file:///path/to/dir   a local directory (read, write)
 *   s3://BUCKET[/PREFIX]                 S3 or an S3-compatible server (read,
 *                                        write), configured the way the AWS
 *                                        tools are (below)
 *   http://HOST/PATH, https://...        a directory served by any static
 *                                        web server (read only)
 *
 * S3 settings come from the environment, as for the AWS CLI and SDKs:
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (credentials;
 * none set means unsigned requests, for public buckets), AWS_REGION or
 * AWS_DEFAULT_REGION (default us-east-1), AWS_ENDPOINT_URL_S3 or
 * AWS_ENDPOINT_URL (a custom endpoint, e.g. http://127.0.0.1:9000, addressed
 * path-style: ENDPOINT/BUCKET/KEY; without one, AWS's virtual-hosted
 * https://BUCKET.s3.REGION.amazonaws.com/KEY).
 *
 * Errors.  Functions return 0 or a negative code: -errno, or a TIDE_E* code
 * from tide/errors.h.  The codes callers act on:
 *
 *   -ENOENT        no such object (HTTP 404)
 *   -EEXIST        a create-only put found the name holding other content
 *   -EACCES        the store refused the credentials or the request (401, 403)
 *   -ENOKEY        the store needs credentials and none are set
 *   -ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH
 *                  the server cannot be reached (after the retries)
 *   -EIO           the server failed (5xx after the retries) or said
 *                  something else this code does not expect
 *   -EPROTO        an answer that cannot be parsed
 *   -EROFS         a write to a read-only (http) store
 *   -EOPNOTSUPP    the operation does not exist on this kind of store
 *                  (a static web server cannot list: read its index)
 *   -EFBIG         an object larger than a single PUT may carry (5 GiB)
 *   TIDE_ETRUNCATED a download ended before the length the server declared
 *   TIDE_ECHECKSUM a download's content differs from the checksum expected
 *
 * Nothing here logs, prints or exits.  After a failure, store_errmsg() has
 * one line in PostgreSQL's message style naming what failed: the store, the
 * bucket and key, the HTTP status, the S3 error code and message, and for
 * S3 where the credentials came from (the variables' names).  A secret (the
 * secret key, the session token, a signature) never reaches a message.
 *
 * Idempotent requests (every request this library makes, see store_put for
 * why a create-only PUT is one) are retried on connection failures,
 * timeouts and HTTP 429/500/502/503/504, with exponential backoff and full
 * jitter, a bounded number of times (store_opts_t).
 *
 * Objects move between the store and local files, streamed: memory use does
 * not grow with an object's size.
 *
 * The published layout (names, index.json, immutability, what a reader may
 * assume) is specified in store/LAYOUT.md.
 */
#ifndef TIDE_STORE_H
#define TIDE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tide/errors.h"
#include "tide/segment.h"
#include "tide/wire.h"

typedef struct store_s store_t;

typedef enum
{
	STORE_LOCAL = 1,
	STORE_S3 = 2,
	STORE_HTTP = 3
} store_kind_t;

#define STORE_ERRLEN 1024
#define STORE_ETAG_MAX 132		/* quotes and a W/ prefix included */
#define STORE_SHA256_HEX 65		/* 64 hex digits and a NUL */
#define STORE_NAME_MAX 1024		/* an object name, without the store's root */
#define STORE_PUT_MAX (UINT64_C(5) << 30)	/* S3's limit for one PUT */

#define STORE_IDENT_MAX 128		/* a database or encoding name, NUL included */

#define STORE_INDEX_NAME "index.json"
#define STORE_BASE_PREFIX "base/"
#define STORE_MANIFEST_NAME "manifest.json"

/* Tunables; zero fields take the defaults shown. */
typedef struct
{
	long		connect_timeout_ms; /* 10000 */
	long		low_speed_secs; /* 30: a transfer slower than 1 kB/s this
								 * long is abandoned (then retried) */
	int			retries;		/* 4 attempts after the first; -1: none */
	long		retry_base_ms;	/* 200: doubled per attempt, jittered */
	long		retry_max_ms;	/* 10000: cap of one wait */
	const char *ca_file;		/* TLS trust anchors; NULL: the system's */
	int			list_page;		/* S3 max-keys per listing page (1-1000);
								 * 0: the server's (1000) */
} store_opts_t;

/* One object of a listing or a head. */
typedef struct
{
	char	   *name;			/* owned: relative to the store's root */
	uint64_t	size;
	char		etag[STORE_ETAG_MAX];	/* as the server sends it, quotes
										 * included; "" if it sends none */
	char		sha256[STORE_SHA256_HEX];	/* hex SHA-256 of the content if
											 * the store records it (S3
											 * metadata written by
											 * store_put), else "" */
	int64_t		mtime;			/* Unix seconds; 0 if unknown */
} store_object_t;

typedef struct
{
	store_object_t *v;			/* owned, sorted by name (bytewise) */
	size_t		n;
} store_list_t;

/*
 * store_open - a handle on the store at url.  On failure returns a negative
 * code, *out is NULL and errbuf (STORE_ERRLEN bytes, may be NULL) says why.
 * store_close frees everything; NULL is allowed.
 */
int			store_open(const char *url, const store_opts_t *opts, store_t **out,
					   char *errbuf);
void		store_close(store_t *s);

/*
 * store_errmsg - the last failure on s, one line without a trailing
 * newline or period ("" if none).  Valid until the next call on s.
 */
const char *store_errmsg(const store_t *s);

store_kind_t store_kind(const store_t *s);
bool		store_writable(const store_t *s);

/* store_describe - the store as messages name it: its URL, never a secret. */
const char *store_describe(const store_t *s);

/*
 * store_local_path - for a local store, the file name of object name
 * (readers use the file in place); -EOPNOTSUPP for remote stores.
 */
int			store_local_path(store_t *s, const char *name, char *buf, size_t len);

/*
 * store_list - every object whose name starts with prefix ("" for all),
 * sorted by name.  S3 pages through ListObjectsV2 with continuation tokens;
 * a local store walks subdirectories and leaves out dot files (temporary
 * names); http stores cannot list (-EOPNOTSUPP).  store_list_free frees.
 */
int			store_list(store_t *s, const char *prefix, store_list_t *out);
void		store_list_free(store_list_t *l);

/* store_head - size, ETag, checksum of one object; -ENOENT if absent. */
int			store_head(store_t *s, const char *name, store_object_t *out);
void		store_object_free(store_object_t *o);

/*
 * store_read - up to len bytes of object name from offset into buf (a
 * ranged GET); *got is how many came (fewer only at the object's end).
 * For the small pieces of a file a caller needs without downloading it:
 * a segment's header and footer.
 */
int			store_read(store_t *s, const char *name, uint64_t offset, size_t len,
					   void *buf, size_t *got);

typedef struct
{
	/*
	 * An ETag from an earlier get: if the object still has it, nothing is
	 * transferred, the file at path is left alone and result.not_modified
	 * is set (HTTP If-None-Match, 304).  For cheap polling of the index.
	 */
	const char *if_none_match;
	/* expected hex SHA-256: checked before the file gets its name */
	const char *sha256;
	/* start again even if a partial download is left at PATH.part */
	bool		no_resume;
} store_get_opts_t;

typedef struct
{
	bool		not_modified;	/* if_none_match matched: nothing written */
	uint64_t	size;			/* bytes of the file */
	uint64_t	resumed_at;		/* bytes kept from an earlier partial
								 * download (0: fetched from the start) */
	char		etag[STORE_ETAG_MAX];
	char		sha256[STORE_SHA256_HEX];	/* of the file written */
} store_get_result_t;

/*
 * store_get - object name into the local file path, streamed.  The bytes
 * go to PATH.part (owner-only) and a note of the object's ETag to
 * PATH.part.etag; when the whole object is there, its length checked
 * against the server's and its SHA-256 against opts->sha256 if given, the
 * file is fsynced and renamed to path (replacing it).  An interrupted get
 * leaves PATH.part behind, and the next one continues it with Range and
 * If-Range (the object changed meanwhile: the server sends it whole and
 * the part is dropped); a connection lost mid-transfer is continued the
 * same way within one call.  A short body is TIDE_ETRUNCATED; a checksum
 * mismatch TIDE_ECHECKSUM (PATH.part is removed).  From a local store the
 * file is copied whole (to a hidden temporary name, then renamed); readers
 * of a local store may rather use the file in place (store_local_path).
 * opts and result may be NULL.
 */
int			store_get(store_t *s, const char *name, const char *path,
					  const store_get_opts_t *opts, store_get_result_t *result);

typedef struct
{
	bool		existed;		/* the store already held the same content:
								 * nothing was written */
	uint64_t	size;
	char		sha256[STORE_SHA256_HEX];
} store_put_result_t;

/*
 * store_put - the local file path as object name, create-only, with
 * pgBackRest's archive-push rule: if name exists with the same SHA-256 the
 * put is a no-op (result.existed), with other content it is -EEXIST and
 * nothing changes.  Locally the file is copied to a temporary name,
 * fsynced, renamed without replacing (RENAME_NOREPLACE) and the directory
 * fsynced.  On S3 the object carries its SHA-256 in metadata
 * (x-amz-meta-tide-sha256) and is sent as a single signed PUT (the payload
 * hash signed, so S3 rejects damaged bytes) with If-None-Match: *, so of
 * two racing writers one wins and the other compares.  sha256 is the
 * file's hex SHA-256 if the caller has it (NULL: computed).  result may be
 * NULL.
 */
int			store_put(store_t *s, const char *name, const char *path,
					  const char *sha256, store_put_result_t *result);

/*
 * store_replace - the local file path as object name, replacing what is
 * there, atomically: a reader sees the old object or the new one, whole.
 * Locally a temporary name, fsync, rename, directory fsync; on S3 one PUT.
 * For the index, which is the only object tide ever rewrites.
 */
int			store_replace(store_t *s, const char *name, const char *path);

/* store_delete - remove object name; an absent one is not an error. */
int			store_delete(store_t *s, const char *name);

/* store_sha256_file - hex SHA-256 of a local file, read streamed. */
int			store_sha256_file(const char *path, char hex[STORE_SHA256_HEX]);

/* ------------------------------------------------------------- segments */

/*
 * Segments in a store, ordered and chained by the LSNs recorded in the
 * files (proto/FORMAT.md part 2), never by names or clocks.  A list comes
 * from a store's listing (store_seglist_from_list, then store_segment_meta
 * on each to read its header and footer) or from the index, which holds
 * what the publisher read from the files (store_seglist_from_index).
 */
typedef struct
{
	char		name[SEG_NAME_LEN + sizeof(SEG_PARTIAL_SUFFIX)];	/* object name,
																 * suffix included */
	proto_time_t bucket_start;
	uint32_t	bucket_seconds;
	bool		partial;		/* ".tseg.partial": still being written */
	bool		known;			/* the fields below were read from the file
								 * (or the index) */
	uint64_t	system_id;
	uint32_t	timeline;
	char		slot[64];
	proto_lsn_t start_lsn;		/* header: the previous segment's end */
	proto_lsn_t end_lsn;		/* footer: last end LSN; an open segment's
								 * start until it closes */
	proto_time_t first_time;	/* first and last commit time (footer) */
	proto_time_t last_time;
	uint64_t	txns;
	uint64_t	size;			/* bytes */
	char		sha256[STORE_SHA256_HEX];	/* "" if not known */
	/* known from the file, or "" / 0 from an index of an older writer */
	char		dbname[STORE_IDENT_MAX];	/* header: the source database */
	char		encoding[STORE_IDENT_MAX];	/* header: its encoding */
	proto_lsn_t first_lsn;		/* footer: first commit LSN (0: none) */
	uint64_t	changes;		/* footer: changes */
} store_segment_t;

typedef struct
{
	store_segment_t *v;			/* owned */
	size_t		n;
} store_seglist_t;

/*
 * store_seglist_from_list - the segment objects of a listing (names that
 * parse as segment names directly under the root, closed or ".partial";
 * everything else is left out), with their sizes and name fields; not yet
 * known (call store_segment_meta).  Sorted by the name's start LSN, then
 * bucket, until the files' LSNs are known.
 */
int			store_seglist_from_list(const store_list_t *l, store_seglist_t *out);

/*
 * store_segment_meta - read seg's header and (closed) footer from the
 * store with two ranged reads, verifying their block checksums, and fill
 * in the LSNs, times, identity and counts.  TIDE_ECHECKSUM, TIDE_EBADMAGIC,
 * TIDE_ETRUNCATED etc. for a damaged object (an open segment whose header
 * is not complete yet is TIDE_ETRUNCATED).
 */
int			store_segment_meta(store_t *s, store_segment_t *seg);

/* store_seglist_sort - by start LSN (as known), then bucket, then name. */
void		store_seglist_sort(store_seglist_t *l);

void		store_seglist_free(store_seglist_t *l);

typedef enum
{
	STORE_CHAIN_OK = 0,
	STORE_CHAIN_GAP,			/* after's start is past before's end */
	STORE_CHAIN_OVERLAP,		/* after starts before before's end */
	STORE_CHAIN_PARTIAL,		/* an open segment that is not the last */
	STORE_CHAIN_SOURCE,			/* after comes from another source */
	STORE_CHAIN_NAME,			/* after's name disagrees with its header */
	STORE_CHAIN_UNKNOWN			/* after's LSNs were never read */
} store_chain_kind_t;

typedef struct
{
	store_chain_kind_t kind;
	size_t		before;			/* index of the segment before (SIZE_MAX
								 * when the problem is with the first) */
	size_t		after;			/* index of the segment concerned */
	proto_lsn_t from;			/* GAP: the LSN range no file holds */
	proto_lsn_t to;
} store_chain_problem_t;

/*
 * store_seglist_check - a sorted list forms one history: one source
 * (system identifier, timeline, slot), each segment starting where the one
 * before ended, no open segment but the last, names that agree with the
 * headers.  0, or TIDE_EBADVALUE with the first problem in *p;
 * store_chain_describe words it ("segments are missing: ... from X to Y
 * ..." naming both objects).
 */
int			store_seglist_check(const store_seglist_t *l, store_chain_problem_t *p);
void		store_chain_describe(const store_seglist_t *l,
								 const store_chain_problem_t *p,
								 char *buf, size_t len);

/* ------------------------------------------------------------- manifest */

/*
 * A base's manifest.json: what `tide base` records beside pg_dump's output
 * and `tide bootstrap` checks (the fields streamer/base.c writes today, read
 * and written here with jansson).  Arrays and their strings are owned.
 */
#define STORE_MANIFEST_FORMAT 1

typedef struct
{
	int			format;
	uint64_t	system_id;
	uint32_t	timeline;
	char		dbname[PROTO_MAX_NAME + 1];
	char		encoding[PROTO_MAX_NAME + 1];
	char		slot[PROTO_MAX_NAME + 1];
	uint32_t	server_version;
	proto_lsn_t consistent_point;
	char		snapshot[64];
	char		snapshot_slot[64];	/* the temporary slot whose snapshot the
									 * dump ran in, for a base taken into a
									 * live store; "" when it is `slot` */
	proto_time_t start_time;	/* after the snapshot (the host's clock) */
	proto_time_t end_time;		/* pg_dump finished (the host's clock) */
	proto_time_t source_time;	/* the source's clock in the snapshot; 0 if
								 * not recorded */
	char		pg_dump_version[128];
	int			jobs;
	char		tide_version[64];	/* as read; written as this build's */

	/* prerequisites of a restore; recorded false: an older base */
	bool		recorded;
	char	  **roles;
	int			nroles;
	char	  **roles_no_acl;
	int			nroles_no_acl;
	char	  **exts;
	char	  **ext_versions;
	int			nexts;
} store_manifest_t;

/*
 * store_manifest_read - parse the manifest.json at path (the format of
 * today's bases, format 1).  TIDE_EBADVALUE (errbuf names the field) for a
 * damaged or incomplete one, TIDE_EBADVERSION for a newer format, -errno
 * if unreadable.  store_manifest_write - the same fields to path,
 * owner-only, created exclusively (never through a link), fsynced.
 * store_manifest_free - the owned arrays (the struct may be reused).
 */
int			store_manifest_read(const char *path, store_manifest_t *m, char *errbuf);
int			store_manifest_write(const char *path, const store_manifest_t *m,
								 char *errbuf);
void		store_manifest_free(store_manifest_t *m);

/* ------------------------------------------------------------- index */

/* One file of a published base (pg_dump's directory, manifest.json too). */
typedef struct
{
	char	   *name;			/* owned: relative to the base's directory */
	uint64_t	size;
	char		sha256[STORE_SHA256_HEX];
} store_file_t;

typedef struct
{
	char		name[32];		/* YYYYMMDDTHHMMSSZ: objects are base/NAME/... */
	store_manifest_t manifest;	/* owned arrays */
	store_file_t *files;		/* owned, sorted by name */
	size_t		nfiles;
} store_base_t;

#define STORE_INDEX_FORMAT 1

/*
 * index.json: every closed segment and complete base a store publishes,
 * in LSN order.  Specified in store/LAYOUT.md.
 */
typedef struct
{
	int			format;
	int64_t		updated;		/* µs since 2000-01-01 UTC (proto_time_t) */
	/* the one history a store holds: set by the first segment */
	uint64_t	system_id;		/* 0: no segment yet */
	uint32_t	timeline;
	char		slot[64];
	char		dbname[STORE_IDENT_MAX];	/* "" if an older writer left it out */
	char		encoding[STORE_IDENT_MAX];
	store_segment_t *segs;		/* owned, in LSN order */
	size_t		nsegs;
	store_base_t *bases;		/* owned, by name (time) */
	size_t		nbases;
} store_index_t;

/*
 * store_index_parse - an index from its JSON text; TIDE_EBADVALUE with
 * errbuf naming the entry and field for anything malformed (a torn index
 * fails to parse: a reader never acts on half an index),
 * TIDE_EBADVERSION for a format this build does not read.
 * store_index_read - the same from a local file.
 * store_index_write - the JSON text to path (owner-only, fsynced).
 * store_index_free - everything owned (the struct may be reused).
 */
int			store_index_parse(const char *text, size_t len, store_index_t *ix,
							  char *errbuf);
int			store_index_read(const char *path, store_index_t *ix, char *errbuf);
int			store_index_write(const char *path, const store_index_t *ix,
							  char *errbuf);
void		store_index_free(store_index_t *ix);

/*
 * store_index_put_segment - add seg (known, closed) to the index in LSN
 * order, or replace the entry of the same name; TIDE_EBADVALUE for a
 * segment of another source than the index's.  store_index_drop_segment - remove
 * the entry named name (absent: nothing).  store_index_put_base - add or
 * replace a base; the index takes ownership of b's arrays.
 */
int			store_index_put_segment(store_index_t *ix, const store_segment_t *seg);
void		store_index_drop_segment(store_index_t *ix, const char *name);
int			store_index_put_base(store_index_t *ix, store_base_t *b);

/* store_seglist_from_index - the index's segments as a list, known. */
int			store_seglist_from_index(const store_index_t *ix, store_seglist_t *out);

/*
 * store_index_fetch - download and parse the store's index.  With etag (an
 * ETag from an earlier fetch, may be NULL) the request is conditional: if
 * the index did not change, *not_modified is set and ix is untouched (a
 * 304 costs a round trip and no body).  new_etag (STORE_ETAG_MAX, may be
 * NULL) receives the index's ETag.  -ENOENT if the store has no index.
 */
int			store_index_fetch(store_t *s, store_index_t *ix, const char *etag,
							  bool *not_modified, char *new_etag);

/*
 * store_index_publish - write ix as the store's index.json, atomically
 * (store_replace).  Publishers call it last, after every object the index
 * names is in the store, and before deleting objects it no longer names.
 */
int			store_index_publish(store_t *s, const store_index_t *ix);

/* ------------------------------------------------------------- readers */

/*
 * store_segments - the segments of s as a reader sees them, in LSN order,
 * each known.  A local directory is listed and each segment's header and
 * footer read (the open ".partial" too, whose end is its start until it
 * closes; a ".partial" renamed to ".tseg" between the listing and the read
 * is read under its new name; a newest ".partial" whose header is not
 * complete yet is left out: the streamer is creating it).  A remote
 * store's segments are those of its index (closed segments only); a store
 * without an index has none yet.  With etag (STORE_ETAG_MAX bytes, may be
 * NULL: "" the first time) a remote index is fetched only if it changed:
 * otherwise *not_modified is set (not_modified may be NULL when etag is)
 * and out is empty.  The chain is not checked here (store_seglist_check).
 */
int			store_segments(store_t *s, store_seglist_t *out, char *etag,
						   bool *not_modified);

/*
 * store_segment_names - the segment objects of a local directory, by name
 * only (nothing is read: cheaper than store_segments, for noticing that
 * nothing but the open segment changed); -EOPNOTSUPP for remote stores.
 */
int			store_segment_names(store_t *s, store_seglist_t *out);

/*
 * store_bases - the complete bases of s, oldest first: a local
 * directory's base/NAME/ with a manifest.json (file sizes, no checksums),
 * or a remote store's index.  *out and its entries are owned by the
 * caller: store_bases_free.
 */
int			store_bases(store_t *s, store_base_t **out, size_t *n);
void		store_bases_free(store_base_t *v, size_t n);

/* store_base_free - what b owns (b itself is not freed; it may be reused) */
void		store_base_free(store_base_t *b);

/*
 * store_seglist_check_range - store_seglist_check for the segments from
 * index `from` to `to` (inclusive) only: what a reader that starts past
 * the beginning of a history needs to hold together.
 */
int			store_seglist_check_range(const store_seglist_t *l, size_t from, size_t to,
									  store_chain_problem_t *p);

/*
 * store_segment_verify - read every block of the closed segment file at
 * path, checking each block's checksum and its decompression, the header's
 * start LSN against start_lsn and the footer.  0, or TIDE_ECHECKSUM,
 * TIDE_ETRUNCATED, TIDE_EBADMAGIC, TIDE_EBADVALUE... with *offset (may be
 * NULL) where the damage is.
 */
int			store_segment_verify(const char *path, proto_lsn_t start_lsn, uint64_t *offset);

/*
 * store_cache_dir - the directory downloads from url go to: given (from
 * --cache) if not NULL, else $XDG_CACHE_HOME/tide/ (or ~/.cache/tide/, or
 * $TMPDIR/tide-cache-UID/ without a home) and a name made of the URL's
 * host and a hash of the URL.  Created owner-only (0700) if missing; an
 * existing one that others may read gets tightened.  0 or -errno (errbuf
 * says why).
 */
int			store_cache_dir(const char *url, const char *given, char *out, size_t len,
							char *errbuf);

/*
 * store_fetch_segment - a local file holding segment g, checked before a
 * byte of it is used.  From a local store: the file itself (path names it
 * in place; *fetched 0).  From a remote store: cache_dir/NAME, downloaded
 * if it is not there (resumed from cache_dir/NAME.part with Range and
 * If-Range), its size and SHA-256 checked against g's (the index's), and
 * every block's checksum verified (store_segment_verify), before it gets
 * its name; a cached copy is checked again (size and SHA-256).  *fetched
 * (may be NULL) is the bytes moved.  A mismatch is TIDE_ECHECKSUM (or
 * TIDE_ETRUNCATED, TIDE_EBADVALUE) with the object named in
 * store_errmsg(s), and nothing is left under NAME.
 */
int			store_fetch_segment(store_t *s, const store_segment_t *g, const char *cache_dir,
								char *path, size_t len, uint64_t *fetched);

/*
 * store_fetch_base - a local directory holding base b: from a local store
 * base/NAME in place; from a remote store cache_dir/base/NAME/, every file
 * downloaded as store_fetch_segment does (checked against the index's
 * size and SHA-256).  *fetched as above.
 */
int			store_fetch_base(store_t *s, const store_base_t *b, const char *cache_dir,
							 char *dir, size_t len, uint64_t *fetched);

/*
 * store_cache_forget - remove cache_dir's copies of segments that end at
 * or before lsn (a replica's progress is past them: they are needed no
 * more) or hold no transaction, and parts left of them.  Returns how many
 * files went.
 */
int			store_cache_forget(const char *cache_dir, const store_seglist_t *l,
							   proto_lsn_t lsn);

/* ------------------------------------------------------------- writers */

/*
 * What a writer did, one event per object, for the caller to log (store/
 * never logs).  name is the object's name; text a message in PostgreSQL's
 * style for warnings and for what retention kept.
 */
typedef enum
{
	STORE_EV_INDEXED = 1,		/* a local object added to the local index */
	STORE_EV_UNINDEXED,			/* an index entry whose object is gone: dropped */
	STORE_EV_UPLOADED,			/* an object published to the destination */
	STORE_EV_EXISTED,			/* the destination had it already, same content */
	STORE_EV_DELETED,			/* retention removed it (or would, dry run) */
	STORE_EV_KEPT,				/* retention kept older objects: text says why */
	STORE_EV_WARNING			/* text: something the user should know */
} store_event_kind_t;

typedef struct
{
	store_event_kind_t kind;
	const char *name;			/* the object (or base) concerned, or NULL */
	uint64_t	size;
	const char *text;
} store_event_t;

typedef void (*store_event_cb) (void *arg, const store_event_t *ev);

/*
 * Retention: delete closed segments whose bucket ended before now -
 * retain, except what the bases kept need.  keep_bases N > 0 keeps the
 * newest N bases and deletes older ones once they are past the window; 0
 * keeps every base.  The newest closed segment always stays, and every
 * segment after the consistent point of the oldest base kept (a base is
 * useless without the history after it).  Only a prefix of the history is
 * ever deleted: retention never opens a gap.
 */
typedef struct
{
	int64_t		retain_usecs;	/* -1: no retention */
	int			keep_bases;		/* 0: all */
} store_retain_t;

typedef struct
{
	char	  **segs;			/* owned: segment names to delete, in LSN order */
	size_t		nsegs;
	uint64_t	seg_bytes;
	char	  **bases;			/* owned: base names to delete */
	size_t		nbases;
	size_t		kept_for_base;	/* past the window, kept for base_name */
	char		base_name[32];	/* the oldest base kept ("" if none) */
	size_t		kept_unpublished;	/* past the window, kept: not published */
} store_retain_plan_t;

/*
 * store_retain_plan - what retention deletes from the objects ix names at
 * time now.  With published (may be NULL), only objects it names too may
 * go: a publisher's local directory keeps what the destination lacks.
 * store_retain_plan_free frees the plan.
 */
int			store_retain_plan(const store_index_t *ix, const store_index_t *published,
							  const store_retain_t *r, proto_time_t now,
							  store_retain_plan_t *plan);
void		store_retain_plan_free(store_retain_plan_t *plan);

typedef struct
{
	store_retain_t src_retain;	/* retention in src (a local directory) */
	store_retain_t dst_retain;	/* retention in dst */
	proto_time_t now;
	bool		dry_run;		/* retention only says what it would delete */
	store_event_cb cb;			/* may be NULL */
	void	   *arg;
} store_sync_opts_t;

typedef struct
{
	size_t		indexed;		/* objects added to src's index */
	size_t		uploaded;		/* objects written to dst */
	uint64_t	uploaded_bytes;
	size_t		existed;		/* objects dst had already */
	size_t		deleted;		/* objects retention removed (both sides) */
	size_t		pending;		/* closed segments of src dst lacks after this run */
	uint64_t	pending_bytes;
	size_t		segments;		/* closed segments in src's index */
	proto_lsn_t published_end;	/* end LSN of dst's newest segment (without
								 * dst: src's) */
	bool		dst_empty;		/* dst held no segment before this run */
} store_sync_result_t;

/*
 * store_sync - make src (a local directory, the one `tide stream` and
 * `tide base` write) consistent with its index, then publish it to dst
 * (NULL: none), then apply retention.  Under an exclusive lock on src
 * (a hidden lock file), so the streamer, `tide base`, `tide publish` and
 * `tide prune` on one directory take turns:
 *
 *  1. src's index gets an entry for every closed segment (header, footer,
 *     size, SHA-256) and every complete base (manifest and files) it lacks,
 *     and loses those whose files are gone; rewritten only if it changed;
 *  2. every closed segment dst's index lacks is put to dst, in LSN order,
 *     create-only (pgBackRest's archive-push rule: the same SHA-256 there
 *     is a no-op, other content an error), then every base (manifest.json
 *     last); dst's index is rewritten after them (at most once a second
 *     while many go, and at the end), so it never names a missing object;
 *  3. retention: dst's by dst_retain, src's by src_retain (with dst, only
 *     what dst holds), index first, objects after.
 *
 * Idempotent: a second run with nothing new writes nothing.  0 or an
 * error (store_errmsg of the store concerned, in errbuf: STORE_ERRLEN);
 * r (may be NULL) counts what happened, also after an error.
 */
int			store_sync(store_t *src, store_t *dst, const store_sync_opts_t *o,
					   store_sync_result_t *r, char *errbuf);

/*
 * store_prune - retention alone on any store: a local directory's index is
 * brought up to date first (as store_sync step 1); a remote store's index
 * is read, the plan applied to it, the index written and the objects
 * deleted.  With o->dry_run only events.  o->src_retain is the rule.
 * Read-only stores (http) allow only a dry run.
 */
int			store_prune(store_t *s, const store_sync_opts_t *o, store_sync_result_t *r,
						char *errbuf);

/*
 * store_base_files - the files of the complete base `name` in local store
 * s, with sizes and SHA-256 (streamed), into b (b->name set, manifest
 * read).  For tide base, which indexes the base it wrote.
 */
int			store_base_load(store_t *s, const char *name, bool with_sha, store_base_t *b,
							char *errbuf);

#endif /* TIDE_STORE_H */
