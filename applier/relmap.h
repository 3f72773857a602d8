/*
 * applier/relmap.h
 *		Which source tables go where: the --map schema mapping and the
 *		--tables filter, shared by tide apply (relation.c, seq.c) and tide
 *		verify, so that both select and rename the same tables.
 *
 * Tables are selected by proto/'s one pattern rule (tide/tablematch.h):
 * schema.table with '*' wildcards, as the decoder's include-tables.
 * Nothing here talks to a server or allocates.
 */
#ifndef TIDE_RELMAP_H
#define TIDE_RELMAP_H

#include <stdbool.h>

#define APPLY_RELMAP_MAX_MAPS 64

/* The --map SRC=DST options of a command line (strings borrowed). */
typedef struct
{
	const char *src[APPLY_RELMAP_MAX_MAPS];	/* source schema */
	const char *dst[APPLY_RELMAP_MAX_MAPS];	/* its replica schema */
	int			n;
} apply_maps_t;

/*
 * apply_maps_parse - one --map argument into maps, split in place (its
 * '=' becomes a NUL; maps keeps pointers into arg).  Something not of the
 * form SRC=DST, or one --map too many, is logged and TIDE_EXIT_USAGE
 * returned; the one parser of tide apply's and tide verify's --map.
 */
int			apply_maps_parse(apply_maps_t *maps, char *arg);

typedef struct
{
	const char *src[APPLY_RELMAP_MAX_MAPS];	/* source schema */
	const char *dst[APPLY_RELMAP_MAX_MAPS];	/* its replica schema */
	int			nmaps;
	const char *const *tables;	/* patterns, NULL-terminated; NULL or
								 * none: every table */
} apply_relmap_t;

/*
 * apply_relmap_init - an empty map with the --tables patterns (kept by
 * reference).  A pattern that is not schema.table is logged, naming the
 * option, and TIDE_EXIT_USAGE returned.
 */
int			apply_relmap_init(apply_relmap_t *m, const char *const *tables,
							  const char *option);

/* apply_relmap_add - one --map SRC=DST (kept by reference); false when full */
bool		apply_relmap_add(apply_relmap_t *m, const char *src, const char *dst);

/* apply_relmap_add_maps - every --map of maps (kept by reference) */
void		apply_relmap_add_maps(apply_relmap_t *m, const apply_maps_t *maps);

/* apply_relmap_schema - the replica's schema for source schema nsp */
const char *apply_relmap_schema(const apply_relmap_t *m, const char *nsp);

/* apply_relmap_wanted - does --tables select nsp.rel? */
bool		apply_relmap_wanted(const apply_relmap_t *m, const char *nsp, const char *rel);

#endif							/* TIDE_RELMAP_H */
