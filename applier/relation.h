/*
 * applier/relation.h
 *		source relations resolved to replica tables (relation.c), for the other files of the replica side.
 */
#ifndef TIDE_APPLIER_RELATION_H
#define TIDE_APPLIER_RELATION_H

#include "replica_int.h"

char	   *cstr(proto_str_t s);
char	   *quote(PGconn *conn, const char *s, size_t n);
void		rel_clear(apply_rel_t *rs);
bool		types_equal(const char *a, size_t an, const char *b, size_t bn);
const char *map_schema(apply_replica_t *r, const char *nsp);
bool		table_wanted(apply_replica_t *r, const char *nsp, const char *rel);
int			lookup(apply_replica_t *r, const char *nsp, const char *rel, char *oid,
				   char *relkind);
int			check_firing(apply_replica_t *r, apply_rel_t *rs, const char *oid);

#endif							/* TIDE_APPLIER_RELATION_H */
