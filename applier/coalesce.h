/*
 * applier/coalesce.h
 *		set-based apply of a batch (coalesce.c), for the other files of the replica side.
 */
#ifndef TIDE_APPLIER_COALESCE_H
#define TIDE_APPLIER_COALESCE_H

#include "replica_int.h"
#include "coalset.h"

int			coal_change(apply_replica_t *r, apply_rel_t *rs, const proto_relation_t *rel,
						char op, const proto_tuple_t *t);
int			coal_append(apply_replica_t *r, apply_rel_t *rs, const proto_relation_t *rel,
						const proto_tuple_t *t);
int			coal_flush(apply_replica_t *r, apply_rel_t *rs);
int			coal_flush_all(apply_replica_t *r);
void		coal_discard(apply_replica_t *r);
void		coal_free(apply_rel_t *rs);

#endif							/* TIDE_APPLIER_COALESCE_H */
