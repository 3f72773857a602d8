/*
 * applier/verify.h
 *		`tide verify` as a function: for the commands that end in a
 *		comparison of source and replica (tide cutover).
 */
#ifndef TIDE_VERIFY_H
#define TIDE_VERIFY_H

#include <stdbool.h>

/* What to compare; strings are borrowed for the call. */
typedef struct
{
	const char *source;			/* the source's connection string */
	const char *replica;		/* the replica's */
	const char *const *tables;	/* NULL-terminated schema.table patterns, or
								 * NULL: every table */
	long long	chunk;			/* rows per chunk, 0: the default (10000) */
	bool		json;			/* one JSON object per line */
	const char *app_name;		/* fallback_application_name, NULL: "tide verify" */
} apply_verify_opts_t;

/*
 * apply_verify - compare the tables and sequences as tide verify does,
 * printing the same report on stdout.  Returns TIDE_EXIT_OK (every table
 * equal, every sequence at or ahead), TIDE_EXIT_DIFFERENT, or the exit
 * code of a failure (logged): TIDE_EXIT_SOURCE, TIDE_EXIT_REPLICA.
 */
int			apply_verify(const apply_verify_opts_t *o);

/* tide_cmd_verify - `tide verify` */
int			tide_cmd_verify(int argc, char **argv);

#endif /* TIDE_VERIFY_H */
