/*
 * applier/report.h
 *		failure messages of the replica side and their classification (report.c), for the other files of the replica side.
 */
#ifndef TIDE_APPLIER_REPORT_H
#define TIDE_APPLIER_REPORT_H

#include "replica_int.h"

void		rlog(apply_replica_t *r, char level, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
const char *kind_name(char kind);
void		time_text(proto_wbuf_t *out, proto_time_t t);
void		txn_detail(apply_replica_t *r);
int			fail_change(apply_replica_t *r);
int			report(apply_replica_t *r, PGresult *res, const char *fmt, const char *arg);
int			exec(apply_replica_t *r, const char *sql, ExecStatusType ok, const char *what);
int			gate(apply_replica_t *r, uint32_t table);

#endif							/* TIDE_APPLIER_REPORT_H */
