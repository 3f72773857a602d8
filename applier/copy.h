/*
 * applier/copy.h
 *		COPY into the replica, and rows as text COPY lines (copy.c), for the other files of the replica side.
 */
#ifndef TIDE_APPLIER_COPY_H
#define TIDE_APPLIER_COPY_H

#include "replica_int.h"

int			copy_begin(apply_replica_t *r, apply_rel_t *rs);
int			copy_row(apply_replica_t *r, apply_rel_t *rs, const proto_relation_t *rel,
					 const proto_tuple_t *t);
int			copy_end(apply_replica_t *r);
int			render_line(apply_replica_t *r, apply_rel_t *rs, const proto_relation_t *rel,
						const proto_tuple_t *t, bool keys_only);
void		put_target_cols(apply_replica_t *r, apply_rel_t *rs);

#endif							/* TIDE_APPLIER_COPY_H */
