/*
 * applier/verify.h
 *		`tide verify`: what it is told, and running it without a command line
 *		(its own is parsed in verify.c).
 */
#ifndef TIDE_VERIFY_H
#define TIDE_VERIFY_H

#include <stdbool.h>

#include "relmap.h"

#define VERIFY_MAX_PATTERNS 256

/* The options of `tide verify` (strings borrowed). */
typedef struct
{
	const char *source;			/* -s: the source's connection string */
	const char *replica;		/* the replica's: -d, -h, -p, -U made one */
	const char *tables[VERIFY_MAX_PATTERNS + 1];	/* --tables patterns */
	int			ntables;
	apply_maps_t maps;			/* --map SRC=DST */
	long long	chunk;			/* --chunk (10000) */
	long long	max_keys;		/* --keys (50) */
	bool		json;			/* --json */
} verify_opts_t;

/*
 * tide_verify_run - compare the tables (and sequences) of the two servers,
 * printing the report on stdout: 0 equal, TIDE_EXIT_DIFFERENT, or another
 * TIDE_EXIT_* code after logging.
 */
int			tide_verify_run(const verify_opts_t *o);

/* tide_cmd_verify - `tide verify`: its options, then tide_verify_run */
int			tide_cmd_verify(int argc, char **argv);

#endif /* TIDE_VERIFY_H */
