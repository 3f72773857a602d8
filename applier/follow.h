/*
 * applier/follow.h
 *		--schema follow: what the replica lacks, created (follow.c), for the other files of the replica side.
 */
#ifndef TIDE_APPLIER_FOLLOW_H
#define TIDE_APPLIER_FOLLOW_H

#include "replica_int.h"

int			follow_sequence(apply_replica_t *r, const char *nsp, const char *name,
							int64_t increment, bool cycle);
int			follow_create(apply_replica_t *r, const proto_relation_t *rel, const char *nsp,
						  const char *name, const char *partby);
int			follow_partition(apply_replica_t *r, const proto_relation_t *rel,
							 const char *nsp, const char *name);
int			follow_columns(apply_replica_t *r, const proto_relation_t *rel, const char *oid,
						   const char *display, PGresult *cols, bool *added);

#endif							/* TIDE_APPLIER_FOLLOW_H */
