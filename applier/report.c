/*
 * applier/report.c
 *		Failure messages of the replica side: logged at once, or held back
 *		while a batch is applied (strict mode names the change instead), and
 *		classified by SQLSTATE (a change the replica refused, or trouble with
 *		the connection or the server).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replica_int.h"
#include "tide/value.h"
#include "report.h"

const char *
kind_name(char kind)
{
	switch (kind)
	{
		case 'I':
			return "INSERT";
		case 'U':
			return "UPDATE";
		case 'D':
			return "DELETE";
		case 'T':
			return "TRUNCATE";
		default:
			return "statement";
	}
}

/*
 * rlog - one line of a failure message: logged at once, or held back in
 * batch mode (see apply_replica_s).  level is 'E'rror, 'D'etail, 'H'int.
 */
void
rlog(apply_replica_t *r, char level, const char *fmt,...)
{
	char		line[4096];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (level == 'E' && r->first_error[0] == '\0')
		snprintf(r->first_error, sizeof(r->first_error), "%s", line);
	if (r->defer)
	{
		proto_put_u8(&r->held, (uint8_t) level);
		proto_put_bytes(&r->held, line, strlen(line) + 1);
		return;
	}
	if (level == 'E')
		tide_log_error("%s", line);
	else if (level == 'D')
		tide_log_detail("%s", line);
	else
		tide_log_hint("%s", line);
}

void
time_text(proto_wbuf_t *out, proto_time_t t)
{
	uint8_t		le[8];

	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t) ((uint64_t) t >> (8 * i));
	proto_value_text(out, PROTO_ENC_FIXED, PROTO_TIMESTAMPTZOID, le, 8);
	proto_put_u8(out, '\0');
}

/*
 * txn_detail - which source transaction a failure belongs to.  Only in
 * strict mode is that exact (one transaction per replica transaction, one
 * statement answered at a time).
 */
void
txn_detail(apply_replica_t *r)
{
	proto_wbuf_t t;

	if (!r->strict || !r->have_txn)
		return;
	proto_wbuf_init_heap(&t);
	time_text(&t, r->txn_time);
	rlog(r, 'D', "in the source transaction with commit LSN %X/%X, committed %s, xid %u",
		 (unsigned) (r->txn_lsn >> 32), (unsigned) r->txn_lsn,
		 t.err ? "?" : (const char *) t.data, r->txn_xid);
	proto_wbuf_free(&t);
}

/*
 * fail_change - a change the replica cannot take as the source made it
 * (invariant 7: divergence stops, it never warns): the caller logs what and
 * why with rlog.  Returns TIDE_EXIT_REPLICA.
 */
int
fail_change(apply_replica_t *r)
{
	if (!r->failed)
	{
		r->failed = true;
		r->fail_kind = APPLY_FAIL_CHANGE;
	}
	return TIDE_EXIT_REPLICA;
}

/*
 * fail_kind_of - what a server error says about the replica, by SQLSTATE
 * class: the connection or the server itself (08 connection, 57 operator
 * intervention, 53 resources, 58 system, XX internal), or else the change
 * (a constraint, a type, a missing partition, a lock or serialization
 * conflict), which a strict re-application will name.
 */
static char
fail_kind_of(const char *sqlstate)
{
	static const char *const server[] = {"08", "57", "53", "58", "XX"};

	if (sqlstate == NULL || strlen(sqlstate) != 5)
		return APPLY_FAIL_OTHER;
	for (size_t i = 0; i < sizeof(server) / sizeof(server[0]); i++)
		if (strncmp(sqlstate, server[i], 2) == 0)
			return APPLY_FAIL_OTHER;
	return APPLY_FAIL_CHANGE;
}

/*
 * report - log a failed result the way psql would (message, detail, hint),
 * prefixed by what we were doing, and classify it by SQLSTATE.  Returns
 * TIDE_EXIT_REPLICA.
 */
int
report(apply_replica_t *r, PGresult *res, const char *fmt, const char *arg)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
	const char *ctx = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	char		what[1200];

	if (r->failed)
		return TIDE_EXIT_REPLICA;
	r->failed = true;
	r->fail_kind = msg ? fail_kind_of(state) : APPLY_FAIL_OTHER;
	snprintf(r->fail_state, sizeof(r->fail_state), "%s", msg && state ? state : "");
	snprintf(what, sizeof(what), fmt, arg);
	if (msg == NULL)
	{
		const char *e = r->conn ? PQerrorMessage(r->conn) : "no connection to the server";
		size_t		n = strlen(e);

		while (n > 0 && e[n - 1] == '\n')
			n--;
		rlog(r, 'E', "%s: %.*s", what, (int) n, e);
	}
	else
		rlog(r, 'E', "%s: %s", what, msg);
	if (detail)
		rlog(r, 'D', "%s", detail);
	if (ctx)
		rlog(r, 'D', "replica context: %s", ctx);
	txn_detail(r);
	if (hint)
		rlog(r, 'H', "%s", hint);
	else if (state && strcmp(state, "23505") == 0)
		rlog(r, 'H', "the replica already has a row the source inserted: if it was loaded after the slot was created, use --on-conflict skip or update; otherwise it differs from the source");
	else if (state && strcmp(state, "23514") == 0 &&
			 PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) == NULL)
	{
		/*
		 * A check violation without a constraint: no partition of the
		 * table takes the row, or the row is outside the bounds of the
		 * replica's partition named like the source's.
		 */
		const char *nsp = PQresultErrorField(res, PG_DIAG_SCHEMA_NAME);
		const char *tab = PQresultErrorField(res, PG_DIAG_TABLE_NAME);

		rlog(r, 'H', "the replica's partitions do not take this row as the source's do (a partition created on the source?): "
			 "create the partition for it on the replica (CREATE TABLE ... PARTITION OF %s%s%s FOR VALUES ...), then run tide apply again",
			 nsp && tab ? nsp : "", nsp && tab ? "." : "", tab ? tab : "the table");
	}
	return TIDE_EXIT_REPLICA;
}

/* exec - run sql in plain mode, expecting status ok; logs on failure */
int
exec(apply_replica_t *r, const char *sql, ExecStatusType ok, const char *what)
{
	PGresult   *res = PQexec(r->conn, sql);
	int			rc = 0;

	if (PQresultStatus(res) != ok)
		rc = report(r, res, "%s", what);
	PQclear(res);
	return rc;
}
void
apply_replica_set_strict(apply_replica_t *r, bool strict)
{
	r->strict = strict;
	r->defer = !strict;
}

void
apply_replica_txn(apply_replica_t *r, proto_lsn_t commit_lsn, proto_time_t commit_time,
				  uint32_t xid)
{
	r->have_txn = true;
	r->txn_lsn = commit_lsn;
	r->txn_time = commit_time;
	r->txn_xid = xid;
}

char
apply_replica_failure(apply_replica_t *r)
{
	return r && r->failed ? r->fail_kind : 0;
}

const char *
apply_replica_first_error(apply_replica_t *r)
{
	return r->first_error;
}

void
apply_replica_held(apply_replica_t *r, bool emit)
{
	size_t		off = 0;

	if (r == NULL)
		return;
	while (emit && !r->held.err && off < r->held.len)
	{
		char		level = (char) r->held.data[off];
		const char *line = (const char *) r->held.data + off + 1;

		if (level == 'E')
			tide_log_error("%s", line);
		else if (level == 'D')
			tide_log_detail("%s", line);
		else
			tide_log_hint("%s", line);
		off += 1 + strlen(line) + 1;
	}
	proto_wbuf_reset(&r->held);
	r->first_error[0] = '\0';
}

/*
 * gate - before a statement that writes to the replica's tables (to
 * `table` for a folded set, else 0): a --jobs worker waits there until
 * what its unit depends on has committed (jobs.c).  A gate that says no
 * (the unit is abandoned) fails the session's transaction, which the
 * worker then rolls back.
 */
int
gate(apply_replica_t *r, uint32_t table)
{
	if (r->gate_cb == NULL || r->gate_cb(r->gate_arg, table) == 0)
		return 0;
	if (!r->failed)
	{
		r->failed = true;
		r->fail_kind = APPLY_FAIL_OTHER;
		snprintf(r->first_error, sizeof(r->first_error), "%s", "abandoned by the dispatcher");
	}
	return TIDE_EXIT_REPLICA;
}
