/*
 * streamer/stream.h
 *		`tide stream`: what it is told, and running it without a command line
 *		(its own is parsed in stream.c).
 */
#ifndef TIDE_STREAM_STREAM_H
#define TIDE_STREAM_STREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define STREAM_MAX_PLUGIN_OPTIONS 64

/* The options of `tide stream` (strings borrowed; durations in µs). */
typedef struct
{
	const char *conninfo;		/* the source: -d, -h, -p, -U made one */
	const char *host;			/* NULL: in conninfo */
	const char *port;
	const char *user;
	const char *slot;
	const char *dir;
	bool		create_slot;
	int64_t		bucket;
	int64_t		retain;			/* -1: keep everything */
	int			level;
	int64_t		flush_interval;
	int64_t		flush_delay;	/* at most flush_interval */
	int64_t		status_interval;
	int64_t		idle_mark_interval;
	uint64_t	endpos;			/* 0: none */
	int64_t		warn_retained;	/* bytes */
	int64_t		warn_xmin_age;	/* transactions */
	bool		allow_other_owner;	/* -D may belong to another user */
	int			keep_bases;		/* --keep-bases, 0: every base */
	const char *publish_url;	/* --publish, or NULL */
	int64_t		publish_retain; /* --publish-retain, -1: keep everything */
	bool		ack_after_publish;
	int64_t		warn_unpublished;	/* bytes */
	bool		no_streaming;	/* never ask the decoder to stream */
	int64_t		sequence_interval;	/* 0: sequence states not recorded */
	bool		metrics;		/* --metrics-listen given */
	struct sockaddr_storage metrics_addr;
	const char *plugin_opts[STREAM_MAX_PLUGIN_OPTIONS][2];
	int			nplugin_opts;
} stream_opts_t;

/* stream_opts_init - the defaults (what no option says) */
void		stream_opts_init(stream_opts_t *o);

/*
 * tide_stream_run - follow the slot into the directory until --endpos, a
 * signal or a failure: 0 or a TIDE_EXIT_* code, logged.
 */
int			tide_stream_run(const stream_opts_t *o);

/* tide_cmd_stream - `tide stream`: its options, then tide_stream_run */
int			tide_cmd_stream(int argc, char **argv);

#endif /* TIDE_STREAM_STREAM_H */
