/*
 * cli/main.c
 *		The `tide` command: a thin dispatcher to each part's subcommand.
 *
 * Where options are parsed: in each command's part, next to the code that
 * uses them (streamer/stream.c parses `tide stream`'s, applier/apply.c
 * `tide apply`'s), into an options struct the command then runs with.  The
 * commands another one may run expose both in their part's header, so
 * nothing builds an argv to call a command: tide_apply_run (apply_opts_t,
 * applier/apply.h; bootstrap fills one), tide_verify_run (verify.h),
 * tide_stream_run (streamer/stream.h), tide_base_run (streamer/base.h),
 * tide_sync_sequences_run (streamer/sequences.h).  A command that gains an
 * option changes one file, and a part builds without cli/.  What makes
 * the command lines one is below them, in common/: tide/cmdline.h (one
 * getopt wrapper with tide's messages, -?/--help and -V/--version on every
 * command, psql's connection options -d -h -p -U -w -W turned into one
 * connection string, PG* variables for what they leave unsaid), tide/common.h
 * (logging, exit classes, value parsers).  Nothing below cli/ includes a
 * header of cli/; cli/tide.h only declares the commands for this table.
 *
 * Commands with two connections (verify, status) take psql's options for
 * the replica (-d as everywhere: -d is always the database a command writes
 * or reads progress from) and -s CONNINFO for the source.
 */
#include <stdio.h>
#include <string.h>

#include "tide.h"
#include "tide/cmdline.h"
#include "tide/wire.h"

typedef struct
{
	const char *name;
	int			(*run) (int argc, char **argv);
	const char *summary;
} command_t;

static const command_t commands[] = {
	{"setup", tide_cmd_setup, "check a source and install the DDL capture (or --remove it)"},
	{"stream", tide_cmd_stream, "follow a replication slot into segment files"},
	{"ls", tide_cmd_ls, "list the segments and bases of a directory or store"},
	{"inspect", tide_cmd_inspect, "print a segment or stream as text or JSON lines"},
	{"prune", tide_cmd_prune, "delete segments and bases older than a retention window"},
	{"publish", tide_cmd_publish, "copy closed segments and bases to S3 or another directory"},
	{"apply", tide_cmd_apply, "replay segments into a replica, exactly once"},
	{"verify", tide_cmd_verify, "compare tables between a source and a replica"},
	{"base", tide_cmd_base, "create a slot and take a base dump in its snapshot"},
	{"bootstrap", tide_cmd_bootstrap, "build a new replica from a base dump plus segments"},
	{"sync-sequences", tide_cmd_sync_sequences, "record the source's sequence states into the stream now"},
	{"cutover", tide_cmd_cutover, "writes stopped on the source -> the replica equal, promote it"},
	{"status", tide_cmd_status, "the pipeline at a glance: store, slot, replica, lags"},
};

static void
usage(FILE *f)
{
	fprintf(f, "tide - PostgreSQL change streams into segment files and back into replicas\n\n"
			"Usage: tide COMMAND [OPTIONS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'tide COMMAND --help' for a command's options.  Every command takes\n"
			"-? (--help) and -V (--version); those that connect take psql's connection\n"
			"options -d, -h, -p, -U, -w, -W, and the PG* environment variables.\n\n"
			"Exit codes:\n"
			"  0  success\n"
			"  1  verify found a difference\n"
			"  2  bad arguments or options\n"
			"  3  source connection or slot problem (retry may help)\n"
			"  4  replica connection or schema problem, or divergence\n"
			"  5  corrupt or inconsistent input files\n"
			"  6  local I/O error (disk full, permissions)\n"
			"  7  a remote store (S3, a web server) cannot be reached or refused the\n"
			"     request: credentials, permissions, server errors (retry may help)\n"
			"  8  tide status: something needs a human (slot inactive, lag over a\n"
			"     threshold, a gap in the store)\n"
			"  70 internal error (please report)\n\n"
			"Wire format version %d.\n", PROTO_FORMAT_VERSION);
}

int
main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-?") == 0 ||
		strcmp(argv[1], "-h") == 0)
	{
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? TIDE_EXIT_USAGE : TIDE_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
	{
		tide_print_version();
		return TIDE_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	tide_log_error("unknown command \"%s\"", argv[1]);
	tide_log_hint("run 'tide --help' for the list of commands");
	return TIDE_EXIT_USAGE;
}
