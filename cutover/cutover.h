/*
 * cutover/cutover.h
 *		`tide cutover`: writes stopped on the source -> the replica equal.
 *
 * A small part on top of the streamer's side (sequence states into the
 * stream) and the applier's (verify), as cli/ is: neither includes it.
 */
#ifndef TIDE_CUTOVER_H
#define TIDE_CUTOVER_H

/*
 * tide_cmd_cutover - `tide cutover`.  TIDE_EXIT_OK when the replica is
 * equal, TIDE_EXIT_DIFFERENT when verify found a difference, else the
 * exit code of the stage that failed or timed out (logged).
 */
int			tide_cmd_cutover(int argc, char **argv);

#endif /* TIDE_CUTOVER_H */
