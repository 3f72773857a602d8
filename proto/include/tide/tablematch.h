/*
 * proto/include/tide/tablematch.h
 *		Table patterns: the one rule by which the decoder's include-tables
 *		and exclude-tables, tide apply --tables and tide verify --tables
 *		select tables.
 *
 * A pattern is schema.table.  It is cut at its first '.': the part before
 * matches the schema's name, the part after the table's, each as a whole.
 * In either part '*' matches any run of characters (none, or several,
 * dots included); every other character matches itself, byte for byte and
 * case-sensitively, as PostgreSQL stores the names (unquoted).  So
 * "public.*" selects every table of schema public, "*.events" a table
 * named events in any schema, "*.*" every table.  A pattern without a '.',
 * or with an empty part, selects nothing: callers refuse it up front with
 * proto_table_pattern_valid.
 *
 * Plain functions of their arguments: nothing is allocated, so the server
 * module and the programs share them.
 */
#ifndef TIDE_TABLEMATCH_H
#define TIDE_TABLEMATCH_H

#include <stdbool.h>

/* proto_table_pattern_valid - has the pattern the form schema.table? */
bool		proto_table_pattern_valid(const char *pattern);

/* proto_table_match - does pattern select table nsp.rel? */
bool		proto_table_match(const char *pattern, const char *nsp, const char *rel);

#endif							/* TIDE_TABLEMATCH_H */
