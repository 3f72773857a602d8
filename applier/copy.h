/*
 * applier/copy.h
 *		COPY into the replica, and rows as COPY lines, binary or text
 *		(copy.c), for the other files of the replica side.
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
const char *copy_from_stdin(const apply_rel_t *rs);
void		value_error(const apply_rel_t *rs, const proto_column_t *col, int rc);
void		copy_header(proto_wbuf_t *b);
void		copy_trailer(proto_wbuf_t *b);

#endif							/* TIDE_APPLIER_COPY_H */
