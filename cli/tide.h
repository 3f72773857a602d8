/*
 * cli/tide.h
 *		The subcommands the dispatcher (cli/main.c) calls.  Each lives in its
 *		part's folder; nothing below cli/ includes this file (the shared
 *		helpers are in common/, tide/common.h).
 */
#ifndef TIDE_CLI_H
#define TIDE_CLI_H

#include "tide/common.h"

int			tide_cmd_inspect(int argc, char **argv);	/* cli/inspect.c */
int			tide_cmd_stream(int argc, char **argv);	/* streamer/stream.c */
int			tide_cmd_ls(int argc, char **argv);	/* streamer/segdir.c (any store) */
int			tide_cmd_prune(int argc, char **argv);	/* streamer/publish.c */
int			tide_cmd_publish(int argc, char **argv);	/* streamer/publish.c */
int			tide_cmd_apply(int argc, char **argv);	/* applier/apply.c */
int			tide_cmd_verify(int argc, char **argv);	/* applier/verify.c */
int			tide_cmd_base(int argc, char **argv);	/* streamer/base.c */
int			tide_cmd_bootstrap(int argc, char **argv);	/* applier/bootstrap.c */
int			tide_cmd_sync_sequences(int argc, char **argv);	/* streamer/sequences.c */
int			tide_cmd_status(int argc, char **argv);	/* cli/status.c */
int			tide_cmd_setup(int argc, char **argv);	/* streamer/setup.c */
int			tide_cmd_cutover(int argc, char **argv);	/* cutover/cutover.c */

#endif /* TIDE_CLI_H */
