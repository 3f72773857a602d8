/*
 * applier/session.h
 *		the replica session: transaction control (session.c), for the other files of the replica side.
 */
#ifndef TIDE_APPLIER_SESSION_H
#define TIDE_APPLIER_SESSION_H

#include "replica_int.h"

int			ensure_txn(apply_replica_t *r);

#endif							/* TIDE_APPLIER_SESSION_H */
