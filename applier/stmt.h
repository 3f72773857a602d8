/*
 * applier/stmt.h
 *		the statement pipeline (stmt.c), for the other files of the replica side.
 */
#ifndef TIDE_APPLIER_STMT_H
#define TIDE_APPLIER_STMT_H

#include "replica_int.h"

int			go_plain(apply_replica_t *r);
void		put_eq(apply_replica_t *r, apply_rel_t *rs, int col, const char *left,
				   const char *right);

#endif							/* TIDE_APPLIER_STMT_H */
