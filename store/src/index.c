/*
 * store/src/index.c
 *		index.json and manifest.json, read and written with jansson; the
 *		index fetched from and published to a store.
 *
 * Both formats are specified in store/LAYOUT.md.  Readers are strict: a
 * field that is missing, of the wrong JSON type or out of range is an
 * error naming it, never a zero.  64-bit identifiers travel as strings
 * (JSON readers in other languages hold numbers as doubles), LSNs in
 * PostgreSQL's "X/X" form, times twice: ISO 8601 text for people and
 * integer microseconds (…_usec) for programs, which read only the latter.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "internal.h"
#include "tide/common.h"

#define PG_EPOCH_UNIX INT64_C(946684800)
#define INDEX_MAX (256 * 1024 * 1024)

/* ------------------------------------------------------------- helpers */

static void
time_text(char *buf, size_t len, int64_t t)
{
	int64_t		secs = t / 1000000;
	int64_t		us = t % 1000000;
	time_t		u;
	struct tm	tm;
	char		s[32];

	if (us < 0)
	{
		us += 1000000;
		secs--;
	}
	u = (time_t) (secs + PG_EPOCH_UNIX);
	gmtime_r(&u, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06dZ", s, (int) us);
}

static void
lsn_text(char *buf, size_t len, proto_lsn_t l)
{
	snprintf(buf, len, "%X/%X", (unsigned) (l >> 32), (unsigned) l);
}

/* A reader's cursor over one JSON object, with the first problem kept. */
typedef struct
{
	json_t	   *o;
	const char *where;			/* "manifest", "segments[3]" */
	const char *bad;			/* first field found wrong */
	char		detail[160];
} rd_t;

static json_t *
field(rd_t *r, const char *key, bool required)
{
	json_t	   *v = json_object_get(r->o, key);

	if (v == NULL && required && r->bad == NULL)
		r->bad = key;
	return v;
}

static const char *
get_str(rd_t *r, const char *key, bool required)
{
	json_t	   *v = field(r, key, required);

	if (v == NULL)
		return NULL;
	if (!json_is_string(v))
	{
		if (r->bad == NULL)
			r->bad = key;
		return NULL;
	}
	return json_string_value(v);
}

static void
get_cstr(rd_t *r, const char *key, char *dst, size_t cap, bool required)
{
	const char *v = get_str(r, key, required);

	if (v == NULL)
		return;
	if (strlen(v) >= cap || strlen(v) != json_string_length(json_object_get(r->o, key)))
	{
		if (r->bad == NULL)
			r->bad = key;
		return;
	}
	memcpy(dst, v, strlen(v) + 1);
}

static bool
get_int(rd_t *r, const char *key, int64_t min, int64_t max, int64_t *out, bool required)
{
	json_t	   *v = field(r, key, required);

	if (v == NULL)
		return false;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
	{
		if (r->bad == NULL)
			r->bad = key;
		return false;
	}
	*out = json_integer_value(v);
	return true;
}

static void
get_lsn_opt(rd_t *r, const char *key, proto_lsn_t *out, bool required)
{
	const char *v = get_str(r, key, required);

	if (v && tide_parse_lsn(v, out) != 0 && r->bad == NULL)
		r->bad = key;
}

static void
get_lsn(rd_t *r, const char *key, proto_lsn_t *out)
{
	const char *v = get_str(r, key, true);

	if (v && tide_parse_lsn(v, out) != 0 && r->bad == NULL)
		r->bad = key;
}

/* get_u64str - a 64-bit number written as a decimal string (or a number) */
static void
get_u64str(rd_t *r, const char *key, uint64_t *out)
{
	json_t	   *v = field(r, key, true);
	if (v == NULL)
		return;
	if (json_is_integer(v) && json_integer_value(v) > 0)
	{
		*out = (uint64_t) json_integer_value(v);
		return;
	}
	if (json_is_string(v))
	{
		const char *s = json_string_value(v);
		char	   *end;

		errno = 0;
		*out = strtoull(s, &end, 10);
		if (s[0] >= '0' && s[0] <= '9' && *end == '\0' && errno == 0 && *out > 0)
			return;
	}
	if (r->bad == NULL)
		r->bad = key;
}

static void
get_sha(rd_t *r, const char *key, char *dst)
{
	const char *v = get_str(r, key, true);

	if (v == NULL)
		return;
	if (strlen(v) != 64 || strspn(v, "0123456789abcdef") != 64)
	{
		if (r->bad == NULL)
			r->bad = key;
		return;
	}
	memcpy(dst, v, 65);
}

/* strings - a JSON array of strings as an owned char ** */
static int
get_strings(rd_t *r, const char *key, char ***out, int *n)
{
	json_t	   *a = field(r, key, true);
	size_t		i;
	json_t	   *v;

	*out = NULL;
	*n = 0;
	if (a == NULL)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > 1000000)
	{
		if (r->bad == NULL)
			r->bad = key;
		return 0;
	}
	if (json_array_size(a) && (*out = calloc(json_array_size(a), sizeof(char *))) == NULL)
		return TIDE_ENOMEM;
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		{
			if (r->bad == NULL)
				r->bad = key;
			return 0;
		}
		if (((*out)[i] = strdup(json_string_value(v))) == NULL)
			return TIDE_ENOMEM;
		(*n)++;
	}
	return 0;
}

static void
free_strings(char **v, int n)
{
	for (int i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* write_text - text to path, owner-only, exclusively created, fsynced */
static int
write_text(const char *path, const char *text, char *errbuf)
{
	int			fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	size_t		n = strlen(text);
	size_t		off = 0;
	int			e = 0;

	if (fd < 0)
	{
		e = errno;
		store__errbuf(errbuf, "could not create \"%s\": %s", path, strerror(e));
		return -e;
	}
	while (off < n)
	{
		ssize_t		w = write(fd, text + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
		{
			e = errno;
			break;
		}
		off += (size_t) w;
	}
	if (e == 0 && fsync(fd) != 0)
		e = errno;
	if (close(fd) != 0 && e == 0)
		e = errno;
	if (e)
	{
		store__errbuf(errbuf, "could not write \"%s\": %s", path, strerror(e));
		unlink(path);
		return -e;
	}
	return 0;
}

/* read_text - a whole small file, NUL-terminated, malloc'd */
static int
read_text(const char *path, size_t max, char **text, size_t *len, char *errbuf)
{
	int			fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char	   *buf;
	size_t		n = 0;

	*text = NULL;
	if (fd < 0 || fstat(fd, &st) != 0)
	{
		int			e = errno;

		store__errbuf(errbuf, "could not open \"%s\": %s", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	if ((uint64_t) st.st_size > max)
	{
		close(fd);
		store__errbuf(errbuf, "\"%s\" is %lld bytes, more than such a file can be (%zu)", path,
					  (long long) st.st_size, max);
		return TIDE_EBADVALUE;
	}
	if ((buf = malloc((size_t) st.st_size + 1)) == NULL)
	{
		close(fd);
		store__errbuf(errbuf, "out of memory");
		return TIDE_ENOMEM;
	}
	while (n < (size_t) st.st_size)
	{
		ssize_t		r = read(fd, buf + n, (size_t) st.st_size - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t) r;
	}
	close(fd);
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

/* ------------------------------------------------------------- manifest */

void
store_manifest_free(store_manifest_t *m)
{
	free_strings(m->roles, m->nroles);
	free_strings(m->roles_no_acl, m->nroles_no_acl);
	free_strings(m->exts, m->nexts);
	free_strings(m->ext_versions, m->nexts);
	m->roles = m->roles_no_acl = m->exts = m->ext_versions = NULL;
	m->nroles = m->nroles_no_acl = m->nexts = 0;
	m->recorded = false;
}

/* manifest_from_json - the fields of a manifest object; 0, or an error with r->bad set */
static int
manifest_from_json(json_t *o, store_manifest_t *m, rd_t *r)
{
	int64_t		v;
	int			rc = 0;

	memset(m, 0, sizeof(*m));
	r->o = o;
	if (!json_is_object(o))
	{
		r->bad = "(the whole object)";
		return TIDE_EBADVALUE;
	}
	if (get_int(r, "format", 1, INT32_MAX, &v, true))
		m->format = (int) v;
	if (r->bad == NULL && m->format > STORE_MANIFEST_FORMAT)
		return TIDE_EBADVERSION;
	get_u64str(r, "system_identifier", &m->system_id);
	if (get_int(r, "timeline", 1, UINT32_MAX, &v, true))
		m->timeline = (uint32_t) v;
	get_cstr(r, "database", m->dbname, sizeof(m->dbname), true);
	get_cstr(r, "encoding", m->encoding, sizeof(m->encoding), true);
	if (get_int(r, "server_version_num", 1, UINT32_MAX, &v, true))
		m->server_version = (uint32_t) v;
	get_cstr(r, "slot", m->slot, sizeof(m->slot), true);
	get_lsn(r, "consistent_point", &m->consistent_point);
	get_cstr(r, "snapshot", m->snapshot, sizeof(m->snapshot), true);
	get_cstr(r, "snapshot_slot", m->snapshot_slot, sizeof(m->snapshot_slot), false);
	get_int(r, "start_time_usec", INT64_MIN + 1, INT64_MAX - 1, &m->start_time, true);
	get_int(r, "end_time_usec", INT64_MIN + 1, INT64_MAX - 1, &m->end_time, true);
	get_int(r, "source_time_usec", 1, INT64_MAX - 1, &m->source_time, false);
	get_cstr(r, "pg_dump_version", m->pg_dump_version, sizeof(m->pg_dump_version), true);
	if (get_int(r, "jobs", 1, 1024, &v, true))
		m->jobs = (int) v;
	get_cstr(r, "tide_version", m->tide_version, sizeof(m->tide_version), false);
	if (r->bad == NULL && (m->dbname[0] == '\0' || m->slot[0] == '\0'))
		r->bad = m->dbname[0] ? "slot" : "database";

	/* the prerequisites: all four arrays, or none (an older base) */
	if (r->bad == NULL && json_object_get(o, "roles") != NULL)
	{
		char	  **ev = NULL;
		int			nv = 0;

		if ((rc = get_strings(r, "roles", &m->roles, &m->nroles)) == 0 &&
			(rc = get_strings(r, "roles_without_acl", &m->roles_no_acl, &m->nroles_no_acl)) == 0 &&
			(rc = get_strings(r, "extensions", &m->exts, &m->nexts)) == 0)
			rc = get_strings(r, "extension_versions", &ev, &nv);
		if (rc == 0 && r->bad == NULL && nv != m->nexts)
			r->bad = "extension_versions";
		/* ext_versions is freed with nexts entries: only a matching array */
		if (nv == m->nexts)
			m->ext_versions = ev;
		else
			free_strings(ev, nv);
		m->recorded = rc == 0 && r->bad == NULL;
	}
	if (rc == 0 && r->bad)
		rc = TIDE_EBADVALUE;
	if (rc != 0)
		store_manifest_free(m);
	return rc;
}

int
store_manifest_read(const char *path, store_manifest_t *m, char *errbuf)
{
	char	   *text;
	size_t		len;
	json_t	   *root;
	json_error_t je;
	rd_t		r = {.where = "manifest"};
	int			rc;

	memset(m, 0, sizeof(*m));
	if ((rc = read_text(path, 16 * 1024 * 1024, &text, &len, errbuf)) != 0)
		return rc;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	free(text);
	if (root == NULL)
	{
		store__errbuf(errbuf, "base manifest \"%s\" is damaged: %s at line %d", path, je.text, je.line);
		return TIDE_EBADVALUE;
	}
	rc = manifest_from_json(root, m, &r);
	json_decref(root);
	if (rc == TIDE_EBADVERSION)
		store__errbuf(errbuf, "base manifest \"%s\" has format %d; this tide reads format %d",
					  path, m->format, STORE_MANIFEST_FORMAT);
	else if (rc == TIDE_ENOMEM)
		store__errbuf(errbuf, "out of memory");
	else if (rc != 0)
		store__errbuf(errbuf, "base manifest \"%s\" is damaged: field \"%s\" is missing or invalid", path, r.bad);
	return rc;
}

static json_t *
strings_json(char *const *v, int n)
{
	json_t	   *a = json_array();

	for (int i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i] ? v[i] : ""));
	return a;
}

/* manifest_json - a manifest object in the key order base.c has always used */
static json_t *
manifest_json(const store_manifest_t *m)
{
	json_t	   *o = json_object();
	char		buf[64];
	char		t[48];

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "format", json_integer(m->format ? m->format : STORE_MANIFEST_FORMAT));
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long) m->system_id);
	json_object_set_new(o, "system_identifier", json_string(buf));
	json_object_set_new(o, "timeline", json_integer(m->timeline));
	json_object_set_new(o, "database", json_string(m->dbname));
	json_object_set_new(o, "encoding", json_string(m->encoding));
	json_object_set_new(o, "server_version_num", json_integer(m->server_version));
	json_object_set_new(o, "slot", json_string(m->slot));
	lsn_text(buf, sizeof(buf), m->consistent_point);
	json_object_set_new(o, "consistent_point", json_string(buf));
	json_object_set_new(o, "snapshot", json_string(m->snapshot));
	if (m->snapshot_slot[0])
		json_object_set_new(o, "snapshot_slot", json_string(m->snapshot_slot));
	time_text(t, sizeof(t), m->start_time);
	json_object_set_new(o, "start_time", json_string(t));
	json_object_set_new(o, "start_time_usec", json_integer(m->start_time));
	time_text(t, sizeof(t), m->end_time);
	json_object_set_new(o, "end_time", json_string(t));
	json_object_set_new(o, "end_time_usec", json_integer(m->end_time));
	if (m->source_time)
	{
		time_text(t, sizeof(t), m->source_time);
		json_object_set_new(o, "source_time", json_string(t));
		json_object_set_new(o, "source_time_usec", json_integer(m->source_time));
	}
	json_object_set_new(o, "pg_dump_version", json_string(m->pg_dump_version));
	json_object_set_new(o, "jobs", json_integer(m->jobs));
	if (m->recorded)
	{
		json_object_set_new(o, "roles", strings_json(m->roles, m->nroles));
		json_object_set_new(o, "roles_without_acl", strings_json(m->roles_no_acl, m->nroles_no_acl));
		json_object_set_new(o, "extensions", strings_json(m->exts, m->nexts));
		json_object_set_new(o, "extension_versions", strings_json(m->ext_versions, m->nexts));
	}
	snprintf(buf, sizeof(buf), "tide (wire format %d)", PROTO_FORMAT_VERSION);
	json_object_set_new(o, "tide_version", json_string(buf));
	return o;
}

int
store_manifest_write(const char *path, const store_manifest_t *m, char *errbuf)
{
	json_t	   *o = manifest_json(m);
	char	   *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	char	   *nl;
	int			rc;

	json_decref(o);
	if (text == NULL || asprintf(&nl, "%s\n", text) < 0)
	{
		free(text);
		store__errbuf(errbuf, "out of memory (or a string that is not UTF-8)");
		return TIDE_ENOMEM;
	}
	free(text);
	rc = write_text(path, nl, errbuf);
	free(nl);
	return rc;
}

/* ------------------------------------------------------------- index */

void
store_index_free(store_index_t *ix)
{
	for (size_t i = 0; i < ix->nbases; i++)
	{
		store_base_t *b = &ix->bases[i];

		store_manifest_free(&b->manifest);
		for (size_t j = 0; j < b->nfiles; j++)
			free(b->files[j].name);
		free(b->files);
	}
	free(ix->bases);
	free(ix->segs);
	memset(ix, 0, sizeof(*ix));
}

static int
seg_from_json(json_t *o, store_segment_t *g, rd_t *r)
{
	const char *name;
	int64_t		v;
	proto_time_t nb;
	proto_lsn_t nl;
	bool		np;

	memset(g, 0, sizeof(*g));
	r->o = o;
	if (!json_is_object(o))
	{
		r->bad = "(the whole entry)";
		return TIDE_EBADVALUE;
	}
	name = get_str(r, "name", true);
	if (name && (strlen(name) >= sizeof(g->name) ||
				 seg_name_parse(name, &nb, &nl, &np) != 0 || np || strlen(name) <= SEG_NAME_LEN))
		r->bad = r->bad ? r->bad : "name";
	else if (name)
		memcpy(g->name, name, strlen(name) + 1);
	get_lsn(r, "start_lsn", &g->start_lsn);
	get_lsn(r, "end_lsn", &g->end_lsn);
	get_int(r, "bucket_start_usec", INT64_MIN + 1, INT64_MAX - 1, &g->bucket_start, true);
	if (get_int(r, "bucket_seconds", 1, UINT32_MAX, &v, true))
		g->bucket_seconds = (uint32_t) v;
	get_int(r, "first_commit_usec", INT64_MIN, INT64_MAX, &g->first_time, true);
	get_int(r, "last_commit_usec", INT64_MIN, INT64_MAX, &g->last_time, true);
	if (get_int(r, "transactions", 0, INT64_MAX, &v, true))
		g->txns = (uint64_t) v;
	if (get_int(r, "size", 1, INT64_MAX, &v, true))
		g->size = (uint64_t) v;
	get_sha(r, "sha256", g->sha256);
	/* optional: an older writer left them out */
	get_lsn_opt(r, "first_commit_lsn", &g->first_lsn, false);
	if (get_int(r, "changes", 0, INT64_MAX, &v, false))
		g->changes = (uint64_t) v;
	if (r->bad == NULL && g->end_lsn < g->start_lsn)
		r->bad = "end_lsn";
	if (r->bad == NULL && name && (nl != g->start_lsn || nb != g->bucket_start))
		r->bad = nl != g->start_lsn ? "start_lsn" : "bucket_start_usec";
	g->known = r->bad == NULL;
	return r->bad ? TIDE_EBADVALUE : 0;
}

static int
file_cmp(const void *a, const void *b)
{
	return strcmp(((const store_file_t *) a)->name, ((const store_file_t *) b)->name);
}

static int
base_from_json(json_t *o, store_base_t *b, rd_t *r, char *sub, size_t sublen)
{
	json_t	   *files;
	json_t	   *f;
	size_t		i;
	int			rc;

	memset(b, 0, sizeof(*b));
	r->o = o;
	if (!json_is_object(o))
	{
		r->bad = "(the whole entry)";
		return TIDE_EBADVALUE;
	}
	get_cstr(r, "name", b->name, sizeof(b->name), true);
	if (r->bad == NULL && (strlen(b->name) != 16 || b->name[8] != 'T' || b->name[15] != 'Z'))
		r->bad = "name";
	if (r->bad)
		return TIDE_EBADVALUE;
	files = json_object_get(o, "files");
	if (!json_is_array(files) || json_array_size(files) == 0)
	{
		r->bad = "files";
		return TIDE_EBADVALUE;
	}
	if ((b->files = calloc(json_array_size(files), sizeof(*b->files))) == NULL)
		return TIDE_ENOMEM;
	json_array_foreach(files, i, f)
	{
		rd_t		fr = {.o = f};
		const char *n;
		int64_t		v = 0;

		if (!json_is_object(f))
			fr.bad = "files";
		n = get_str(&fr, "name", true);
		if (n && (!store__name_ok(n) || strlen(n) >= 256))
			fr.bad = fr.bad ? fr.bad : "name";
		get_int(&fr, "size", 0, INT64_MAX, &v, true);
		get_sha(&fr, "sha256", b->files[i].sha256);
		if (fr.bad)
		{
			snprintf(sub, sublen, "files[%zu].", i);
			r->bad = fr.bad;
			return TIDE_EBADVALUE;
		}
		if ((b->files[i].name = strdup(n)) == NULL)
			return TIDE_ENOMEM;
		b->files[i].size = (uint64_t) v;
		b->nfiles++;
	}
	qsort(b->files, b->nfiles, sizeof(*b->files), file_cmp);
	for (i = 1; i < b->nfiles; i++)
		if (strcmp(b->files[i].name, b->files[i - 1].name) == 0)
		{
			snprintf(sub, sublen, "files[\"%s\"] twice: ", b->files[i].name);
			r->bad = "name";
			return TIDE_EBADVALUE;
		}
	{
		rd_t		mr = {0};

		if ((rc = manifest_from_json(json_object_get(o, "manifest"), &b->manifest, &mr)) != 0)
		{
			snprintf(sub, sublen, "manifest.");
			r->bad = mr.bad ? mr.bad : "manifest";
			return rc;
		}
	}
	return 0;
}

int
store_index_parse(const char *text, size_t len, store_index_t *ix, char *errbuf)
{
	json_error_t je;
	json_t	   *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	json_t	   *a;
	json_t	   *e;
	size_t		i;
	rd_t		r = {.where = "index"};
	char		where[64] = "";
	char		sub[96] = "";
	int64_t		v;
	int			rc = 0;

	memset(ix, 0, sizeof(*ix));
	if (root == NULL)
	{
		store__errbuf(errbuf, "the index is not valid JSON (torn or damaged): %s at line %d, column %d",
					  je.text, je.line, je.column);
		return TIDE_EBADVALUE;
	}
	r.o = root;
	if (!json_is_object(root))
		r.bad = "(the whole index)";
	if (get_int(&r, "format", 1, INT32_MAX, &v, true))
		ix->format = (int) v;
	if (r.bad == NULL && ix->format > STORE_INDEX_FORMAT)
	{
		store__errbuf(errbuf, "the index has format %d; this tide reads format %d", ix->format, STORE_INDEX_FORMAT);
		json_decref(root);
		return TIDE_EBADVERSION;
	}
	get_int(&r, "updated_usec", INT64_MIN + 1, INT64_MAX - 1, &ix->updated, true);
	if (r.bad == NULL && json_object_get(root, "source") != NULL)
	{
		rd_t		sr = {.o = json_object_get(root, "source")};

		get_u64str(&sr, "system_identifier", &ix->system_id);
		if (get_int(&sr, "timeline", 1, UINT32_MAX, &v, true))
			ix->timeline = (uint32_t) v;
		get_cstr(&sr, "slot", ix->slot, sizeof(ix->slot), true);
		get_cstr(&sr, "database", ix->dbname, sizeof(ix->dbname), false);
		get_cstr(&sr, "encoding", ix->encoding, sizeof(ix->encoding), false);
		if (sr.bad)
		{
			snprintf(where, sizeof(where), "source.");
			r.bad = sr.bad;
		}
	}
	a = json_object_get(root, "segments");
	if (r.bad == NULL && !json_is_array(a))
		r.bad = "segments";
	if (r.bad == NULL && json_array_size(a) > 0)
	{
		if (ix->system_id == 0)
			r.bad = "source";
		else if ((ix->segs = calloc(json_array_size(a), sizeof(*ix->segs))) == NULL)
			rc = TIDE_ENOMEM;
	}
	if (r.bad == NULL && rc == 0)
		json_array_foreach(a, i, e)
	{
		store_segment_t *g = &ix->segs[i];

		if ((rc = seg_from_json(e, g, &r)) != 0)
		{
			snprintf(where, sizeof(where), "segments[%zu].", i);
			break;
		}
		g->system_id = ix->system_id;
		g->timeline = ix->timeline;
		snprintf(g->slot, sizeof(g->slot), "%s", ix->slot);
		snprintf(g->dbname, sizeof(g->dbname), "%s", ix->dbname);
		snprintf(g->encoding, sizeof(g->encoding), "%s", ix->encoding);
		ix->nsegs++;
		/* an index lists segments in LSN order, each once */
		if (i > 0 && (g->start_lsn < ix->segs[i - 1].start_lsn ||
					  strcmp(g->name, ix->segs[i - 1].name) == 0))
		{
			snprintf(where, sizeof(where), "segments[%zu].", i);
			r.bad = "start_lsn";
			rc = TIDE_EBADVALUE;
			break;
		}
	}
	a = json_object_get(root, "bases");
	if (rc == 0 && r.bad == NULL && !json_is_array(a))
		r.bad = "bases";
	if (rc == 0 && r.bad == NULL && json_array_size(a) > 0 &&
		(ix->bases = calloc(json_array_size(a), sizeof(*ix->bases))) == NULL)
		rc = TIDE_ENOMEM;
	if (rc == 0 && r.bad == NULL)
		json_array_foreach(a, i, e)
	{
		rc = base_from_json(e, &ix->bases[i], &r, sub, sizeof(sub));
		ix->nbases++;
		if (rc != 0)
		{
			snprintf(where, sizeof(where), "bases[%zu].", i);
			break;
		}
	}
	json_decref(root);
	if (rc == 0 && r.bad)
		rc = TIDE_EBADVALUE;
	if (rc == TIDE_ENOMEM)
		store__errbuf(errbuf, "out of memory");
	else if (rc == TIDE_EBADVERSION)
		store__errbuf(errbuf, "the index holds a base manifest of a newer format than this tide reads (%d)",
					  STORE_MANIFEST_FORMAT);
	else if (rc != 0)
		store__errbuf(errbuf, "the index is damaged: field \"%s%s%s\" is missing or invalid", where, sub, r.bad);
	if (rc != 0)
		store_index_free(ix);
	return rc;
}

int
store_index_read(const char *path, store_index_t *ix, char *errbuf)
{
	char	   *text;
	size_t		len;
	int			rc;

	memset(ix, 0, sizeof(*ix));
	if ((rc = read_text(path, INDEX_MAX, &text, &len, errbuf)) != 0)
		return rc;
	rc = store_index_parse(text, len, ix, errbuf);
	free(text);
	return rc;
}

static char *
index_text(const store_index_t *ix)
{
	json_t	   *root = json_object();
	json_t	   *segs = json_array();
	json_t	   *bases = json_array();
	char		t[48];
	char		buf[64];
	char	   *text = NULL;
	char	   *out = NULL;

	if (root == NULL || segs == NULL || bases == NULL)
		goto out;
	json_object_set_new(root, "format", json_integer(STORE_INDEX_FORMAT));
	time_text(t, sizeof(t), ix->updated);
	json_object_set_new(root, "updated", json_string(t));
	json_object_set_new(root, "updated_usec", json_integer(ix->updated));
	if (ix->system_id)
	{
		json_t	   *src = json_object();

		snprintf(buf, sizeof(buf), "%llu", (unsigned long long) ix->system_id);
		json_object_set_new(src, "system_identifier", json_string(buf));
		json_object_set_new(src, "timeline", json_integer(ix->timeline));
		json_object_set_new(src, "slot", json_string(ix->slot));
		if (ix->dbname[0])
			json_object_set_new(src, "database", json_string(ix->dbname));
		if (ix->encoding[0])
			json_object_set_new(src, "encoding", json_string(ix->encoding));
		json_object_set_new(root, "source", src);
	}
	for (size_t i = 0; i < ix->nsegs; i++)
	{
		const store_segment_t *g = &ix->segs[i];
		json_t	   *o = json_object();

		json_object_set_new(o, "name", json_string(g->name));
		lsn_text(buf, sizeof(buf), g->start_lsn);
		json_object_set_new(o, "start_lsn", json_string(buf));
		lsn_text(buf, sizeof(buf), g->end_lsn);
		json_object_set_new(o, "end_lsn", json_string(buf));
		time_text(t, sizeof(t), g->bucket_start);
		json_object_set_new(o, "bucket_start", json_string(t));
		json_object_set_new(o, "bucket_start_usec", json_integer(g->bucket_start));
		json_object_set_new(o, "bucket_seconds", json_integer(g->bucket_seconds));
		time_text(t, sizeof(t), g->first_time);
		json_object_set_new(o, "first_commit", json_string(t));
		json_object_set_new(o, "first_commit_usec", json_integer(g->first_time));
		time_text(t, sizeof(t), g->last_time);
		json_object_set_new(o, "last_commit", json_string(t));
		json_object_set_new(o, "last_commit_usec", json_integer(g->last_time));
		json_object_set_new(o, "transactions", json_integer((json_int_t) g->txns));
		json_object_set_new(o, "size", json_integer((json_int_t) g->size));
		json_object_set_new(o, "sha256", json_string(g->sha256));
		if (g->first_lsn)
		{
			lsn_text(buf, sizeof(buf), g->first_lsn);
			json_object_set_new(o, "first_commit_lsn", json_string(buf));
		}
		json_object_set_new(o, "changes", json_integer((json_int_t) g->changes));
		json_array_append_new(segs, o);
	}
	for (size_t i = 0; i < ix->nbases; i++)
	{
		const store_base_t *b = &ix->bases[i];
		json_t	   *o = json_object();
		json_t	   *files = json_array();

		json_object_set_new(o, "name", json_string(b->name));
		json_object_set_new(o, "manifest", manifest_json(&b->manifest));
		for (size_t j = 0; j < b->nfiles; j++)
		{
			json_t	   *f = json_object();

			json_object_set_new(f, "name", json_string(b->files[j].name));
			json_object_set_new(f, "size", json_integer((json_int_t) b->files[j].size));
			json_object_set_new(f, "sha256", json_string(b->files[j].sha256));
			json_array_append_new(files, f);
		}
		json_object_set_new(o, "files", files);
		json_array_append_new(bases, o);
	}
	json_object_set(root, "segments", segs);
	json_object_set(root, "bases", bases);
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (text && asprintf(&out, "%s\n", text) < 0)
		out = NULL;
out:
	free(text);
	json_decref(segs);
	json_decref(bases);
	json_decref(root);
	return out;
}

int
store_index_write(const char *path, const store_index_t *ix, char *errbuf)
{
	char	   *text = index_text(ix);
	int			rc;

	if (text == NULL)
	{
		store__errbuf(errbuf, "out of memory (or a name that is not UTF-8)");
		return TIDE_ENOMEM;
	}
	rc = write_text(path, text, errbuf);
	free(text);
	return rc;
}

int
store_index_put_segment(store_index_t *ix, const store_segment_t *g)
{
	size_t		at;
	store_segment_t *v;

	if (!g->known || g->partial || g->sha256[0] == '\0' || g->end_lsn < g->start_lsn)
		return TIDE_EBADVALUE;
	if (ix->system_id == 0)
	{
		ix->system_id = g->system_id;
		ix->timeline = g->timeline;
		snprintf(ix->slot, sizeof(ix->slot), "%s", g->slot);
	}
	if (ix->dbname[0] == '\0' && g->dbname[0])
	{
		snprintf(ix->dbname, sizeof(ix->dbname), "%s", g->dbname);
		snprintf(ix->encoding, sizeof(ix->encoding), "%s", g->encoding);
	}
	else if (ix->system_id != g->system_id || ix->timeline != g->timeline ||
			 strcmp(ix->slot, g->slot) != 0)
		return TIDE_EBADVALUE;
	for (size_t i = 0; i < ix->nsegs; i++)
		if (strcmp(ix->segs[i].name, g->name) == 0)
		{
			ix->segs[i] = *g;
			return 0;
		}
	if ((v = realloc(ix->segs, (ix->nsegs + 1) * sizeof(*v))) == NULL)
		return TIDE_ENOMEM;
	ix->segs = v;
	for (at = ix->nsegs; at > 0; at--)
	{
		const store_segment_t *p = &v[at - 1];

		if (p->start_lsn < g->start_lsn ||
			(p->start_lsn == g->start_lsn && p->bucket_start < g->bucket_start) ||
			(p->start_lsn == g->start_lsn && p->bucket_start == g->bucket_start &&
			 strcmp(p->name, g->name) < 0))
			break;
	}
	memmove(&v[at + 1], &v[at], (ix->nsegs - at) * sizeof(*v));
	v[at] = *g;
	ix->nsegs++;
	return 0;
}

void
store_index_drop_segment(store_index_t *ix, const char *name)
{
	for (size_t i = 0; i < ix->nsegs; i++)
		if (strcmp(ix->segs[i].name, name) == 0)
		{
			memmove(&ix->segs[i], &ix->segs[i + 1], (ix->nsegs - i - 1) * sizeof(*ix->segs));
			ix->nsegs--;
			return;
		}
}

int
store_index_put_base(store_index_t *ix, store_base_t *b)
{
	store_base_t *v;
	size_t		at;

	for (size_t i = 0; i < ix->nbases; i++)
		if (strcmp(ix->bases[i].name, b->name) == 0)
		{
			store_base_t old = ix->bases[i];

			ix->bases[i] = *b;
			memset(b, 0, sizeof(*b));
			store_manifest_free(&old.manifest);
			for (size_t j = 0; j < old.nfiles; j++)
				free(old.files[j].name);
			free(old.files);
			return 0;
		}
	if ((v = realloc(ix->bases, (ix->nbases + 1) * sizeof(*v))) == NULL)
		return TIDE_ENOMEM;
	ix->bases = v;
	for (at = ix->nbases; at > 0 && strcmp(v[at - 1].name, b->name) > 0; at--)
		;
	memmove(&v[at + 1], &v[at], (ix->nbases - at) * sizeof(*v));
	v[at] = *b;
	memset(b, 0, sizeof(*b));
	ix->nbases++;
	return 0;
}

int
store_seglist_from_index(const store_index_t *ix, store_seglist_t *out)
{
	out->v = NULL;
	out->n = 0;
	if (ix->nsegs == 0)
		return 0;
	if ((out->v = malloc(ix->nsegs * sizeof(*out->v))) == NULL)
		return TIDE_ENOMEM;
	memcpy(out->v, ix->segs, ix->nsegs * sizeof(*out->v));
	out->n = ix->nsegs;
	store_seglist_sort(out);
	return 0;
}

/* ------------------------------------------------------------- fetch, publish */

int
store_index_fetch(store_t *s, store_index_t *ix, const char *etag, bool *not_modified,
				  char *new_etag)
{
	char		errbuf[STORE_ERRLEN];
	char	   *text = NULL;
	size_t		len = 0;
	char		tag[STORE_ETAG_MAX] = "";
	int			rc;

	s->err[0] = '\0';
	if (not_modified)
		*not_modified = false;
	if (s->kind == STORE_LOCAL)
	{
		char		path[4200];
		store_object_t o;

		if ((rc = store_local_path(s, STORE_INDEX_NAME, path, sizeof(path))) != 0)
			return rc;
		if ((rc = store_head(s, STORE_INDEX_NAME, &o)) != 0)
			return rc;
		snprintf(tag, sizeof(tag), "%s", o.etag);
		store_object_free(&o);
		if (etag && strcmp(etag, tag) == 0)
		{
			if (not_modified)
				*not_modified = true;
			if (new_etag)
				snprintf(new_etag, STORE_ETAG_MAX, "%s", tag);
			return 0;
		}
		if ((rc = read_text(path, INDEX_MAX, &text, &len, errbuf)) != 0)
			return store__fail(s, rc, "%s", errbuf);
	}
	else
	{
		char		inm[STORE_ETAG_MAX + 32];
		store__call_t c = {.method = "GET", .name = STORE_INDEX_NAME, .upload_fd = -1};
		store__resp_t r;

		if (etag && etag[0])
		{
			snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
			c.hdr[c.nhdr++] = inm;
		}
		if ((rc = store__http_call(s, &c, INDEX_MAX, &r)) != 0)
			return rc;
		if (r.status == 304 && etag && etag[0])
		{
			store__resp_free(&r);
			if (not_modified)
				*not_modified = true;
			if (new_etag)
				snprintf(new_etag, STORE_ETAG_MAX, "%s", etag);
			return 0;
		}
		if (r.status != 200)
		{
			rc = store__http_fail(s, &c, &r);
			store__resp_free(&r);
			return rc;
		}
		if (r.content_length >= 0 && (size_t) r.content_length != r.body_len)
		{
			store__resp_free(&r);
			return store__fail(s, TIDE_ETRUNCATED, "the index of \"%s\" came truncated: %zu of %lld bytes",
							   s->url, r.body_len, (long long) r.content_length);
		}
		snprintf(tag, sizeof(tag), "%s", r.etag);
		text = r.body;
		len = r.body_len;
		r.body = NULL;
	}
	rc = store_index_parse(text ? text : "", len, ix, errbuf);
	free(text);
	if (rc != 0)
		return store__fail(s, rc, "index \"%s\" of store \"%s\": %s", STORE_INDEX_NAME, s->url, errbuf);
	if (new_etag)
		snprintf(new_etag, STORE_ETAG_MAX, "%s", tag);
	return 0;
}

int
store_index_publish(store_t *s, const store_index_t *ix)
{
	const char *tmpdir = getenv("TMPDIR");
	char		path[4200];
	char		errbuf[STORE_ERRLEN];
	int			fd;
	int			rc;

	s->err[0] = '\0';
	snprintf(path, sizeof(path), "%s/tide-index-XXXXXX", tmpdir && tmpdir[0] ? tmpdir : "/tmp");
	if ((fd = mkostemp(path, O_CLOEXEC)) < 0)
		return store__fail(s, -errno, "could not create a temporary file \"%s\": %s", path, strerror(errno));
	close(fd);
	unlink(path);				/* write_text creates it exclusively */
	if ((rc = store_index_write(path, ix, errbuf)) != 0)
		return store__fail(s, rc, "%s", errbuf);
	rc = store_replace(s, STORE_INDEX_NAME, path);
	unlink(path);
	return rc;
}
