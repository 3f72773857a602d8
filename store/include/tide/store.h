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

#endif /* TIDE_STORE_H */
