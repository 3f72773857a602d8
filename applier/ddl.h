/*
 * applier/ddl.h
 *		Replaying captured DDL ("tide.ddl" messages) in tide apply.
 */
#ifndef TIDE_APPLY_DDL_H
#define TIDE_APPLY_DDL_H

#include "apply.h"
#include "tide/ddlmsg.h"

/* the options (APPLY_DDL_*, apply_ddl_opts_t) are apply.h's, with tide apply's */

/*
 * apply_ddl_outside - will this command run outside a transaction block
 * (CREATE/DROP INDEX CONCURRENTLY)?  apply.c then commits what precedes
 * it before apply_ddl.
 */
bool		apply_ddl_outside(apply_replica_t *r, const apply_ddl_opts_t *o,
							  const tide_ddl_t *d, proto_lsn_t lsn);

/*
 * apply_ddl - one captured command at its place in the open replica
 * transaction: run, skipped, or a stop (logged like a change the replica
 * refused, so a batch is applied again one source transaction at a time
 * and everything before it is committed).  lsn is the message's.
 */
int			apply_ddl(apply_replica_t *r, const apply_ddl_opts_t *o, const tide_ddl_t *d,
					  proto_lsn_t lsn);

/* apply_ddl_txn_end - the source transaction ended (COMMIT) */
void		apply_ddl_txn_end(apply_replica_t *r);

#endif /* TIDE_APPLY_DDL_H */
