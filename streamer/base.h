/*
 * streamer/base.h
 *		`tide base`: what it is told, and running it without a command line
 *		(its own is parsed in base.c).
 */
#ifndef TIDE_STREAM_BASE_H
#define TIDE_STREAM_BASE_H

/* The options of `tide base` (strings borrowed). */
typedef struct
{
	const char *conninfo;		/* the source: -d, -h, -p, -U made one */
	const char *host;			/* NULL: in conninfo (kept for pg_dump's argv) */
	const char *port;
	const char *user;
	const char *slot;			/* -S */
	const char *dir;			/* -D */
	int			jobs;			/* -j (1) */
} base_opts_t;

/*
 * tide_base_run - create or join the slot and take a base dump into
 * dir/base: 0 or a TIDE_EXIT_* code, logged.
 */
int			tide_base_run(const base_opts_t *o);

/* tide_cmd_base - `tide base`: its options, then tide_base_run */
int			tide_cmd_base(int argc, char **argv);

#endif /* TIDE_STREAM_BASE_H */
