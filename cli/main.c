/*
 * cli/main.c
 *		The `tide` command: a thin dispatcher to each part's subcommand.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tide.h"
#include "tide/wire.h"

typedef struct
{
	const char *name;
	int			(*run) (int argc, char **argv);
	const char *summary;
} command_t;

static const command_t commands[] = {
	{"inspect", tide_cmd_inspect, "print a stream or segment as text or JSON lines"},
};

static void
vlog(const char *level, const char *fmt, va_list ap)
{
	fprintf(stderr, "tide: %s: ", level);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
tide_log_error(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vlog("error", fmt, ap);
	va_end(ap);
}

void
tide_log_detail(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vlog("detail", fmt, ap);
	va_end(ap);
}

void
tide_log_hint(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vlog("hint", fmt, ap);
	va_end(ap);
}

static void
usage(FILE *f)
{
	fprintf(f, "tide - PostgreSQL change streams into segment files and back into replicas\n\n"
			"Usage: tide COMMAND [OPTIONS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'tide COMMAND --help' for a command's options.\n\n"
			"Exit codes:\n"
			"  0  success\n"
			"  1  verify found a difference\n"
			"  2  bad arguments or options\n"
			"  3  source connection or slot problem (retry may help)\n"
			"  4  replica connection or schema problem\n"
			"  5  corrupt or inconsistent input files\n"
			"  6  local I/O error (disk full, permissions)\n"
			"  70 internal error (please report)\n\n"
			"Wire format version %d.\n", PROTO_FORMAT_VERSION);
}

int
main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
	{
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? TIDE_EXIT_USAGE : TIDE_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0)
	{
		printf("tide (wire format %d)\n", PROTO_FORMAT_VERSION);
		return TIDE_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	tide_log_error("unknown command \"%s\"", argv[1]);
	tide_log_hint("run 'tide --help' for the list of commands");
	return TIDE_EXIT_USAGE;
}
