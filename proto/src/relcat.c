/*
 * proto/src/relcat.c
 *		A catalog of the relations a stream has described.
 */
#include <stdlib.h>

#include "tide/relcat.h"

static void *
default_alloc(void *arg, size_t n)
{
	(void) arg;
	return malloc(n);
}

static void
default_free(void *arg, void *p)
{
	(void) arg;
	free(p);
}

void
proto_relcat_init(proto_relcat_t *cat, const proto_alloc_t *mem)
{
	if (mem)
		cat->mem = *mem;
	else
	{
		cat->mem.alloc = default_alloc;
		cat->mem.free = default_free;
		cat->mem.arg = NULL;
	}
	cat->buckets = NULL;
	cat->nbuckets = 0;
	cat->count = 0;
	cat->generation = 0;
}

static void
entry_free(proto_relcat_t *cat, proto_relcat_entry_t *e)
{
	cat->mem.free(cat->mem.arg, e);	/* body and cols live in the same block */
}

void
proto_relcat_free(proto_relcat_t *cat)
{
	for (size_t i = 0; i < cat->nbuckets; i++)
	{
		proto_relcat_entry_t *e = cat->buckets[i];

		while (e)
		{
			proto_relcat_entry_t *next = e->next;

			entry_free(cat, e);
			e = next;
		}
	}
	if (cat->buckets)
		cat->mem.free(cat->mem.arg, cat->buckets);
	cat->buckets = NULL;
	cat->nbuckets = cat->count = 0;
}

static size_t
slot_of(uint32_t relid, size_t nbuckets)
{
	/* Fibonacci hashing: OIDs are often consecutive */
	return (size_t) ((relid * UINT64_C(11400714819323198485)) >> 32) & (nbuckets - 1);
}

static int
grow(proto_relcat_t *cat)
{
	size_t		n = cat->nbuckets ? cat->nbuckets * 2 : 64;
	proto_relcat_entry_t **b = cat->mem.alloc(cat->mem.arg, n * sizeof(*b));

	if (b == NULL)
		return TIDE_ENOMEM;
	for (size_t i = 0; i < n; i++)
		b[i] = NULL;
	for (size_t i = 0; i < cat->nbuckets; i++)
	{
		proto_relcat_entry_t *e = cat->buckets[i];

		while (e)
		{
			proto_relcat_entry_t *next = e->next;
			size_t		s = slot_of(e->rel.relid, n);

			e->next = b[s];
			b[s] = e;
			e = next;
		}
	}
	if (cat->buckets)
		cat->mem.free(cat->mem.arg, cat->buckets);
	cat->buckets = b;
	cat->nbuckets = n;
	return 0;
}

proto_relcat_entry_t *
proto_relcat_get(const proto_relcat_t *cat, uint32_t relid)
{
	proto_relcat_entry_t *e;

	if (cat->nbuckets == 0)
		return NULL;
	for (e = cat->buckets[slot_of(relid, cat->nbuckets)]; e; e = e->next)
		if (e->rel.relid == relid)
			return e;
	return NULL;
}

int
proto_relcat_put(proto_relcat_t *cat, const uint8_t *body, size_t len,
				 proto_relcat_entry_t **out)
{
	proto_rbuf_t r;
	proto_relation_t probe;
	proto_column_t *cols;
	proto_relcat_entry_t *e;
	proto_relcat_entry_t **pp;
	uint64_t	natts;
	size_t		colbytes;
	int			rc;

	/* learn natts first so one allocation holds entry, columns and body */
	proto_rbuf_init(&r, body, len);
	{
		const char *s;
		size_t		n;
		uint8_t		u;
		uint32_t	v;

		proto_get_varint32(&r, &v);
		proto_get_u8(&r, &u);
		proto_get_u8(&r, &probe.flags);
		proto_get_str(&r, PROTO_MAX_NAME, &s, &n);
		proto_get_str(&r, PROTO_MAX_NAME, &s, &n);
		if (probe.flags & PROTO_REL_PARTITION)
		{
			proto_get_varint32(&r, &v);
			proto_get_str(&r, PROTO_MAX_NAME, &s, &n);
			proto_get_str(&r, PROTO_MAX_NAME, &s, &n);
		}
		if (probe.flags & PROTO_REL_BOUND)
		{
			proto_get_varint32(&r, &v);
			proto_get_str(&r, PROTO_MAX_NAME, &s, &n);
			proto_get_str(&r, PROTO_MAX_NAME, &s, &n);
			proto_get_str(&r, PROTO_MAX_EXPR, &s, &n);
			proto_get_str(&r, PROTO_MAX_EXPR, &s, &n);
		}
		if (proto_get_varint(&r, &natts))
			return r.err;
		if (natts > PROTO_MAX_COLUMNS)
			return TIDE_ETOOLONG;
	}
	colbytes = (size_t) natts * sizeof(proto_column_t);
	e = cat->mem.alloc(cat->mem.arg, sizeof(*e) + colbytes + len);
	if (e == NULL)
		return TIDE_ENOMEM;
	cols = (proto_column_t *) (e + 1);
	e->body = (uint8_t *) cols + colbytes;
	e->body_len = len;
	memcpy(e->body, body, len);
	proto_rbuf_init(&r, e->body, len);
	if ((rc = proto_read_relation(&r, &e->rel, cols, (size_t) natts)) != 0)
	{
		entry_free(cat, e);
		return rc;
	}
	if (cat->count >= cat->nbuckets && (rc = grow(cat)) != 0)
	{
		entry_free(cat, e);
		return rc;
	}
	e->generation = ++cat->generation;
	e->user = 0;
	/* replace an older description of the same relation */
	for (pp = &cat->buckets[slot_of(e->rel.relid, cat->nbuckets)]; *pp; pp = &(*pp)->next)
	{
		if ((*pp)->rel.relid == e->rel.relid)
		{
			proto_relcat_entry_t *old = *pp;

			e->next = old->next;
			*pp = e;
			entry_free(cat, old);
			if (out)
				*out = e;
			return 0;
		}
	}
	e->next = NULL;
	*pp = e;
	cat->count++;
	if (out)
		*out = e;
	return 0;
}

int
proto_relcat_foreach(const proto_relcat_t *cat,
					 int (*cb) (proto_relcat_entry_t *e, void *arg), void *arg)
{
	for (size_t i = 0; i < cat->nbuckets; i++)
		for (proto_relcat_entry_t *e = cat->buckets[i]; e; e = e->next)
		{
			int			rc = cb(e, arg);

			if (rc)
				return rc;
		}
	return 0;
}
