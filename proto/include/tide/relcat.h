/*
 * proto/include/tide/relcat.h
 *		A catalog of the relations a stream has described.
 *
 * Rows on the wire name their relation by OID only; RELATION messages
 * describe it.  Every consumer (renderer, streamer, applier) keeps the last
 * description of each relation here.  The catalog stores a copy of each
 * RELATION body, so it can also hand the exact bytes back for re-emission
 * (the streamer writes them into each new segment).  Memory comes from the
 * caller's hooks and proto_relcat_free() returns all of it.
 */
#ifndef TIDE_RELCAT_H
#define TIDE_RELCAT_H

#include <stddef.h>
#include <stdint.h>

#include "tide/wire.h"

/* Allocation hooks so the decoder can use palloc and programs malloc. */
typedef struct
{
	void	   *(*alloc) (void *arg, size_t n);	/* NULL on failure */
	void		(*free) (void *arg, void *p);
	void	   *arg;
} proto_alloc_t;

typedef struct proto_relcat_entry_s
{
	proto_relation_t rel;		/* strings point into body */
	uint8_t    *body;			/* owned: the RELATION message body */
	size_t		body_len;
	uint64_t	generation;		/* bumped each time relid is redefined */
	uint64_t	user;			/* free for the owner (e.g. segment seq) */
	struct proto_relcat_entry_s *next;	/* hash chain */
} proto_relcat_entry_t;

typedef struct
{
	proto_alloc_t mem;
	proto_relcat_entry_t **buckets;	/* owned */
	size_t		nbuckets;
	size_t		count;
	uint64_t	generation;
} proto_relcat_t;

/* proto_relcat_init - mem NULL means malloc/free.  Never fails. */
void		proto_relcat_init(proto_relcat_t *cat, const proto_alloc_t *mem);
void		proto_relcat_free(proto_relcat_t *cat);

/*
 * proto_relcat_put - parse a RELATION body and store (or replace) it.
 * Returns 0, a parse error (catalog unchanged), or TIDE_ENOMEM.  *out, if
 * not NULL, receives the stored entry.
 */
int			proto_relcat_put(proto_relcat_t *cat, const uint8_t *body,
							 size_t len, proto_relcat_entry_t **out);

/* proto_relcat_get - the entry for relid, or NULL. */
proto_relcat_entry_t *proto_relcat_get(const proto_relcat_t *cat,
									   uint32_t relid);

/*
 * proto_relcat_foreach - call cb for every entry until it returns non-zero,
 * which is then returned.
 */
int			proto_relcat_foreach(const proto_relcat_t *cat,
								 int (*cb) (proto_relcat_entry_t *e, void *arg),
								 void *arg);

#endif /* TIDE_RELCAT_H */
