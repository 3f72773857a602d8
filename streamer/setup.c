/*
 * streamer/setup.c
 *		`tide setup`: check that a source can be streamed from and install
 *		(or, with --remove, take out) the DDL capture.
 *
 * The capture is two PL/pgSQL functions in schema tide and three event
 * triggers.  ddl_command_end emits each DDL command as a transactional
 * logical message "tide.ddl" (payload: proto/FORMAT.md, "Captured DDL"),
 * so it reaches the segments at its place among its transaction's changes;
 * sql_drop collects what a DROP removed for the message of its command;
 * ddl_command_start emits CREATE TABLE AS and SELECT INTO before their rows,
 * which PostgreSQL decodes before the command ends (the applier then
 * creates the table from the rows' relation description instead of running
 * the query again).  An event trigger needs no restart and no library in
 * shared_preload_libraries; what it cannot see is listed in README.md
 * ("Schema changes").
 *
 * Everything is checked and reported before anything is changed; the
 * install is one transaction, so running setup twice (or concurrently) is
 * harmless.  tide setup never restarts or reconfigures the server: for
 * what needs that it prints the fix.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tide/cmdline.h"
#include "tide/common.h"
#include "tide/ddlmsg.h"
#include "tide/pgtools.h"
#include "source.h"

/* tide_cmd_setup - `tide setup` (declared for cli/ in cli/tide.h) */
int			tide_cmd_setup(int argc, char **argv);


/*
 * The capture.  Neither function is SECURITY DEFINER: it runs as the role
 * that ran the DDL (so "role" is that role) and that role can run no more
 * than its own DDL allows.  Each pins search_path to pg_catalog for its own
 * statements (a role's search_path must not choose the functions and
 * operators of a function every role's DDL runs) and puts the role's back,
 * transaction-locally, before returning.  "pos" counts the top-level
 * commands of one query string (keyed by statement_timestamp() and the
 * string's hash, in the session setting tide_ddl.pos: a prefix of its own,
 * so that a library reserving "tide." can never break the source's DDL)
 * so the applier can cut the
 * command's own statement out of a multi-statement string; a command run
 * from a function, procedure or DO block has a PL call stack above the
 * trigger and is marked "nested".  Objects of temporary tables and of
 * schema tide itself are not replicated.  The triggers fire ALWAYS, also in
 * sessions with session_replication_role = replica (pg_restore
 * --disable-triggers, another replication tool, tide apply into a server
 * that is itself a source): their rows are decoded too.
 */
static const char *const capture_sql =
"SET LOCAL client_min_messages = warning;\n"
"CREATE SCHEMA IF NOT EXISTS tide;\n"
"CREATE OR REPLACE FUNCTION tide.ddl_drop() RETURNS event_trigger LANGUAGE plpgsql AS $tide$\n"
"DECLARE\n"
"	saved pg_catalog.text := pg_catalog.current_setting('search_path');\n"
"	objs pg_catalog.jsonb;\n"
"BEGIN\n"
"	PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);\n"
"	SELECT coalesce(jsonb_agg(jsonb_build_object('type', d.object_type, 'schema', d.schema_name,\n"
"			'identity', d.object_identity, 'temp', d.is_temporary,\n"
"			'table', CASE WHEN d.object_type IN ('table', 'view', 'materialized view', 'foreign table',\n"
"					'table column', 'table constraint', 'trigger', 'rule', 'policy')\n"
"				AND array_length(d.address_names, 1) >= 2\n"
"				THEN jsonb_build_array(d.address_names[1], d.address_names[2]) END)\n"
"			ORDER BY d.ord), '[]')\n"
"	  INTO objs\n"
"	  FROM pg_event_trigger_dropped_objects() WITH ORDINALITY d(classid, objid, objsubid, original, normal,\n"
"			is_temporary, object_type, schema_name, object_name, object_identity, address_names, address_args, ord)\n"
"	 WHERE d.original OR d.normal;\n"
"	PERFORM set_config('tide_ddl.dropped',\n"
"		(coalesce(nullif(current_setting('tide_ddl.dropped', true), ''), '[]')::jsonb || objs)::text, true);\n"
"	PERFORM set_config('search_path', saved, true);\n"
"END\n"
"$tide$;\n"
"CREATE OR REPLACE FUNCTION tide.ddl_capture() RETURNS event_trigger LANGUAGE plpgsql AS $tide$\n"
"DECLARE\n"
"	saved pg_catalog.text := pg_catalog.current_setting('search_path');\n"
"	objs pg_catalog.jsonb := '[]';\n"
"	stack pg_catalog.text;\n"
"	nested pg_catalog.bool;\n"
"	key pg_catalog.text;\n"
"	cur pg_catalog.text;\n"
"	pos pg_catalog.int4 := 0;\n"
"BEGIN\n"
"	PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);\n"
"	GET DIAGNOSTICS stack = PG_CONTEXT;\n"
"	nested := position(E'\\n' in stack) > 0;\n"
"	IF TG_EVENT = 'ddl_command_end' THEN\n"
"		SELECT coalesce(jsonb_agg(jsonb_build_object('type', c.object_type, 'schema', c.schema_name,\n"
"				'identity', c.object_identity, 'table', t.tab, 'root', t.root) ORDER BY c.ord), '[]')\n"
"		  INTO objs\n"
"		  FROM pg_event_trigger_ddl_commands() WITH ORDINALITY c(classid, objid, objsubid, command_tag,\n"
"				object_type, schema_name, object_identity, in_extension, command, ord)\n"
"		  LEFT JOIN LATERAL (\n"
"			SELECT jsonb_build_array(n.nspname, r.relname) AS tab,\n"
"			       CASE WHEN r.relispartition THEN (SELECT jsonb_build_array(rn.nspname, rr.relname)\n"
"			         FROM pg_class rr JOIN pg_namespace rn ON rn.oid = rr.relnamespace\n"
"			        WHERE rr.oid = pg_partition_root(r.oid)) END AS root\n"
"			  FROM pg_class r JOIN pg_namespace n ON n.oid = r.relnamespace\n"
"			 WHERE r.relkind IN ('r', 'p', 'v', 'm', 'f')\n"
"			   AND r.oid = CASE c.classid\n"
"				WHEN 'pg_class'::regclass THEN coalesce((SELECT i.indrelid FROM pg_index i WHERE i.indexrelid = c.objid), c.objid)\n"
"				WHEN 'pg_constraint'::regclass THEN (SELECT k.conrelid FROM pg_constraint k WHERE k.oid = c.objid)\n"
"				WHEN 'pg_trigger'::regclass THEN (SELECT g.tgrelid FROM pg_trigger g WHERE g.oid = c.objid) END) t ON true;\n"
"		objs := objs || coalesce(nullif(current_setting('tide_ddl.dropped', true), ''), '[]')::jsonb;\n"
"		PERFORM set_config('tide_ddl.dropped', '', true);\n"
"	END IF;\n"
"	IF NOT nested THEN\n"
"		key := statement_timestamp()::text || '|' || md5(current_query());\n"
"		cur := current_setting('tide_ddl.pos', true);\n"
"		IF cur LIKE key || '|%' THEN\n"
"			pos := split_part(cur, '|', 3)::int4 + 1;\n"
"		END IF;\n"
"		IF TG_EVENT = 'ddl_command_end' THEN\n"
"			PERFORM set_config('tide_ddl.pos', key || '|' || pos, false);\n"
"		END IF;\n"
"	END IF;\n"
"	IF TG_EVENT = 'ddl_command_end' AND NOT EXISTS (\n"
"		SELECT FROM jsonb_array_elements(objs) o\n"
"		 WHERE NOT coalesce((o->>'temp')::bool, false)\n"
"		   AND coalesce(o->>'schema', '') !~ '^pg_temp' AND coalesce(o->>'schema', '') <> 'tide'\n"
"		   AND NOT (o->>'type' = 'schema' AND o->>'identity' = 'tide')) THEN\n"
"		PERFORM set_config('search_path', saved, true);\n"
"		RETURN;\n"
"	END IF;\n"
"	PERFORM pg_logical_emit_message(true, 'tide.ddl', jsonb_build_object('v', 1,\n"
"		'phase', CASE TG_EVENT WHEN 'ddl_command_end' THEN 'end' ELSE 'start' END,\n"
"		'tag', TG_TAG, 'query', current_query(), 'pos', pos, 'nested', nested,\n"
"		'search_path', saved, 'role', current_user, 'session_user', session_user,\n"
"		'objects', objs)::text);\n"
"	PERFORM set_config('search_path', saved, true);\n"
"END\n"
"$tide$;\n"
"COMMENT ON FUNCTION tide.ddl_capture() IS 'tide setup: DDL commands into the change stream as \"tide.ddl\" messages';\n"
"DROP EVENT TRIGGER IF EXISTS tide_ddl_end;\n"
"DROP EVENT TRIGGER IF EXISTS tide_ddl_drop;\n"
"DROP EVENT TRIGGER IF EXISTS tide_ddl_start;\n"
"CREATE EVENT TRIGGER tide_ddl_drop ON sql_drop EXECUTE FUNCTION tide.ddl_drop();\n"
"CREATE EVENT TRIGGER tide_ddl_end ON ddl_command_end EXECUTE FUNCTION tide.ddl_capture();\n"
"CREATE EVENT TRIGGER tide_ddl_start ON ddl_command_start WHEN TAG IN ('CREATE TABLE AS', 'SELECT INTO')\n"
"	EXECUTE FUNCTION tide.ddl_capture();\n"
"ALTER EVENT TRIGGER tide_ddl_drop ENABLE ALWAYS;\n"
"ALTER EVENT TRIGGER tide_ddl_end ENABLE ALWAYS;\n"
"ALTER EVENT TRIGGER tide_ddl_start ENABLE ALWAYS;\n";

static const char *const remove_sql =
"SET LOCAL client_min_messages = warning;\n"
"DROP EVENT TRIGGER IF EXISTS tide_ddl_end;\n"
"DROP EVENT TRIGGER IF EXISTS tide_ddl_drop;\n"
"DROP EVENT TRIGGER IF EXISTS tide_ddl_start;\n"
"DROP FUNCTION IF EXISTS tide.ddl_capture();\n"
"DROP FUNCTION IF EXISTS tide.ddl_drop();\n";

typedef struct
{
	int			problems;		/* the source needs a fix setup cannot make */
} report_t;

static void
ok(const char *fmt, const char *a, const char *b)
{
	printf("ok       ");
	printf(fmt, a ? a : "", b ? b : "");
	printf("\n");
}

static void
problem(report_t *rep, const char *what, const char *fix)
{
	rep->problems++;
	printf("PROBLEM  %s\n         fix: %s\n", what, fix);
}

/* one_value - the first column of the first row of sql, or NULL (malloc'd) */
static char *
one_value(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);
	char	   *v = NULL;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		v = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/* server_error - the primary message of a failed result, one line */
static void
server_error(PGconn *conn, PGresult *res, char *out, size_t len)
{
	const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	size_t		n;

	snprintf(out, len, "%s", m ? m : PQerrorMessage(conn));
	n = strlen(out);
	while (n > 0 && out[n - 1] == '\n')
		out[--n] = '\0';
}

/* exec_txn - sql as one transaction; 0 or -1 with the server's message */
static int
exec_txn(PGconn *conn, const char *sql, char *err, size_t errlen)
{
	PGresult   *res = PQexec(conn, "BEGIN");
	int			rc = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		server_error(conn, res, err, errlen);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		server_error(conn, res, err, errlen);
		rc = -1;
	}
	PQclear(res);
	res = PQexec(conn, rc == 0 ? "COMMIT" : "ROLLBACK");
	if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		server_error(conn, res, err, errlen);
		rc = -1;
	}
	PQclear(res);
	return rc;
}

/*
 * check_source - every check that needs no change on the source.  super
 * and repl say what the role may do.
 */
static void
check_source(PGconn *conn, report_t *rep, bool *super, bool *can_slot)
{
	char	   *v;
	char		line[1024];
	char		fix[1024];
	PGresult   *res;

	*can_slot = true;
	v = one_value(conn, "SELECT pg_catalog.current_setting('wal_level')");
	if (v && strcmp(v, "logical") == 0)
		ok("wal_level is logical", NULL, NULL);
	else
	{
		snprintf(line, sizeof(line), "wal_level is %s, logical decoding needs logical", v ? v : "unknown");
		problem(rep, line, "ALTER SYSTEM SET wal_level = logical; then restart the server (tide setup never restarts it)");
		*can_slot = false;
	}
	free(v);

	res = PQexec(conn,
				 "SELECT pg_catalog.current_setting('max_replication_slots')::pg_catalog.int4,"
				 " (SELECT pg_catalog.count(*) FROM pg_catalog.pg_replication_slots)::pg_catalog.int4,"
				 " pg_catalog.current_setting('max_wal_senders')::pg_catalog.int4,"
				 " (SELECT pg_catalog.count(*) FROM pg_catalog.pg_stat_activity"
				 "   WHERE backend_type OPERATOR(pg_catalog.=) 'walsender')::pg_catalog.int4");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
	{
		int			slots = atoi(PQgetvalue(res, 0, 0));
		int			used = atoi(PQgetvalue(res, 0, 1));
		int			senders = atoi(PQgetvalue(res, 0, 2));
		int			busy = atoi(PQgetvalue(res, 0, 3));

		if (slots - used >= 1)
		{
			snprintf(line, sizeof(line), "%d of max_replication_slots = %d free", slots - used, slots);
			ok("%s", line, NULL);
		}
		else
		{
			snprintf(line, sizeof(line), "no free replication slot: max_replication_slots = %d, %d in use", slots, used);
			snprintf(fix, sizeof(fix), "drop an unused slot (SELECT pg_drop_replication_slot(name)), or ALTER SYSTEM SET max_replication_slots = %d; then restart the server",
					 slots + 2);
			problem(rep, line, fix);
			*can_slot = false;
		}
		if (senders - busy >= 1)
		{
			snprintf(line, sizeof(line), "%d of max_wal_senders = %d free", senders - busy, senders);
			ok("%s", line, NULL);
		}
		else
		{
			snprintf(line, sizeof(line), "no free WAL sender: max_wal_senders = %d, %d running", senders, busy);
			snprintf(fix, sizeof(fix), "ALTER SYSTEM SET max_wal_senders = %d; then restart the server", senders + 2);
			problem(rep, line, fix);
		}
	}
	else
		problem(rep, "could not read max_replication_slots and max_wal_senders", "run tide setup as a role that may read pg_stat_activity and pg_replication_slots");
	PQclear(res);

	res = PQexec(conn, "SELECT current_user, r.rolsuper, r.rolreplication FROM pg_catalog.pg_roles r "
				 "WHERE r.rolname OPERATOR(pg_catalog.=) current_user");
	*super = false;
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
	{
		const char *who = PQgetvalue(res, 0, 0);

		*super = PQgetvalue(res, 0, 1)[0] == 't';
		if (*super)
			ok("role \"%s\" is a superuser", who, NULL);
		else if (PQgetvalue(res, 0, 2)[0] == 't')
			ok("role \"%s\" has REPLICATION", who, NULL);
		else
		{
			snprintf(line, sizeof(line), "role \"%s\" has neither REPLICATION nor superuser: it cannot use a replication slot", who);
			snprintf(fix, sizeof(fix), "ALTER ROLE \"%s\" REPLICATION (as a superuser), or stream as another role", who);
			problem(rep, line, fix);
			*can_slot = false;
		}
	}
	PQclear(res);

	/* servers that only load the output plugins they name */
	v = one_value(conn, "SELECT setting FROM pg_catalog.pg_settings WHERE name OPERATOR(pg_catalog.=) 'output_plugin_libraries'");
	if (v)
	{
		char	   *save = NULL;
		bool		named = false;

		for (char *t = strtok_r(v, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save))
			named |= strcmp(t, "tide") == 0 || strcmp(t, "\"tide\"") == 0;
		if (named)
			ok("output_plugin_libraries names tide", NULL, NULL);
		else
		{
			problem(rep, "output_plugin_libraries does not name tide: the server refuses to load the plugin",
					"add tide to output_plugin_libraries in postgresql.conf (ALTER SYSTEM SET output_plugin_libraries = '..., tide'), then SELECT pg_reload_conf()");
			*can_slot = false;
		}
		free(v);
	}

	/* the plugin itself: a temporary slot, dropped at once */
	if (*can_slot)
	{
		char		sql[256];
		char		err[512];

		snprintf(sql, sizeof(sql),
				 "SELECT pg_catalog.pg_create_logical_replication_slot('tide_setup_%d', 'tide', true)", (int) getpid());
		res = PQexec(conn, sql);
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
		{
			ok("the tide output plugin loads (a temporary slot was created and dropped)", NULL, NULL);
			PQclear(res);
			snprintf(sql, sizeof(sql), "SELECT pg_catalog.pg_drop_replication_slot('tide_setup_%d')", (int) getpid());
			res = PQexec(conn, sql);
		}
		else
		{
			server_error(conn, res, err, sizeof(err));
			snprintf(line, sizeof(line), "the tide output plugin does not load: %s", err);
			problem(rep, line, "install the plugin into the server's library directory (make -C decoder install, or the postgresql-15-tide package)");
		}
		PQclear(res);
	}
}

static void
setup_usage(FILE *f)
{
	fprintf(f,
			"Usage: tide setup -d SOURCE [--check | --remove]\n\n"
			"Prepare a source database for tide: check what streaming needs (wal_level,\n"
			"free replication slots and WAL senders, the role's rights, that the tide\n"
			"plugin loads) and install the DDL capture (schema tide, two functions and\n"
			"three event triggers) that records each DDL command into the change stream\n"
			"for tide apply to replay.  Idempotent; never restarts the server: what\n"
			"needs a restart or a superuser is printed with its fix.\n\n"
			"Connection options (PG* variables apply to what they leave unsaid):\n");
	tide_conn_usage(f, "the source", 25);
	fprintf(f,
			"\nOptions:\n"
			"      --check            check only, change nothing\n"
			"      --remove           take the DDL capture out again\n");
	tide_std_usage(f, 25);
	fprintf(f,
			"\nExit codes: 0 ready, 2 bad arguments, 3 the source needs a fix that is\n"
			"printed (or cannot be reached).\n");
}

/* setup_run - check the source, then install or remove the capture */
static int
setup_run(const char *conninfo, bool check_only, bool remove)
{
	bool		super = false;
	bool		can_slot = false;
	report_t	rep = {0};
	PGconn	   *conn;
	char		err[1024];

	conn = stream_connect_source(conninfo, NULL, NULL, NULL, false, "tide setup");
	if (PQstatus(conn) != CONNECTION_OK)
	{
		server_error(conn, NULL, err, sizeof(err));
		tide_log_error("could not connect to the source: %s", err);
		PQfinish(conn);
		return TIDE_EXIT_SOURCE;
	}
	if (tide_pin_session(conn) != 0)
	{
		server_error(conn, NULL, err, sizeof(err));
		tide_log_error("could not set up the source session: %s", err);
		PQfinish(conn);
		return TIDE_EXIT_SOURCE;
	}
	if (remove)
	{
		char	   *v = one_value(conn, "SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user");

		if (exec_txn(conn, remove_sql, err, sizeof(err)) != 0)
		{
			snprintf(err + strlen(err), sizeof(err) - strlen(err), "%s",
					 v && v[0] == 't' ? "" : " (dropping event triggers needs a superuser)");
			problem(&rep, "could not remove the DDL capture", err);
		}
		else
		{
			ok("the DDL capture is removed (event triggers tide_ddl_*, functions tide.ddl_*)", NULL, NULL);
			/* the schema too, when nothing else of ours or anyone's is in it */
			if (exec_txn(conn, "DROP SCHEMA IF EXISTS tide", err, sizeof(err)) == 0)
				ok("schema tide is dropped (it was empty)", NULL, NULL);
			else
				ok("schema tide is kept: %s", err, NULL);
		}
		free(v);
		PQfinish(conn);
		return rep.problems ? TIDE_EXIT_SOURCE : TIDE_EXIT_OK;
	}
	check_source(conn, &rep, &super, &can_slot);
	if (check_only)
	{
		char	   *v = one_value(conn, "SELECT pg_catalog.count(*) FROM pg_catalog.pg_event_trigger "
								  "WHERE evtname OPERATOR(pg_catalog.=) ANY ('{tide_ddl_end,tide_ddl_drop,tide_ddl_start}') "
								  "AND evtenabled OPERATOR(pg_catalog.<>) 'D'");

		if (v && strcmp(v, "3") == 0)
			ok("the DDL capture is installed", NULL, NULL);
		else
			problem(&rep, "the DDL capture is not installed (or not whole): DDL on the source stops tide apply",
					"run tide setup -d SOURCE as a superuser");
		free(v);
	}
	else if (!super)
		problem(&rep, "the DDL capture is not installed: event triggers need a superuser",
				"run tide setup -d SOURCE once as a superuser (or replay DDL on the replica by hand)");
	else if (exec_txn(conn, capture_sql, err, sizeof(err)) != 0)
	{
		char		line[1200];

		snprintf(line, sizeof(line), "could not install the DDL capture: %s", err);
		problem(&rep, line, "fix what the server says, then run tide setup again");
	}
	else
		ok("the DDL capture is installed: DDL commands go into the stream as \"" TIDE_DDL_PREFIX "\" messages", NULL, NULL);
	PQfinish(conn);
	if (rep.problems)
	{
		printf("%d %s to fix on the source (above)\n", rep.problems,
			   rep.problems == 1 ? "thing" : "things");
		return TIDE_EXIT_SOURCE;
	}
	printf("the source is ready for tide stream\n");
	return TIDE_EXIT_OK;
}

int
tide_cmd_setup(int argc, char **argv)
{
	static const struct option opts[] = {
		TIDE_CONN_LONGOPTS,
		TIDE_STD_LONGOPTS,
		{"check", no_argument, NULL, 'c'},
		{"remove", no_argument, NULL, 'r'},
		{NULL, 0, NULL, 0}
	};
	tide_conn_opts_t conn = {0};
	bool		check_only = false;
	bool		remove = false;
	int			c;
	int			rc;

	optind = 1;
	while ((c = tide_getopt(argc, argv, TIDE_CONN_SHORTOPTS, opts)) != -1)
	{
		if (tide_conn_opt(&conn, c, optarg))
			continue;
		switch (c)
		{
			case 'c':
				check_only = true;
				break;
			case 'r':
				remove = true;
				break;
			default:
				rc = tide_opt_std(c, "setup", setup_usage);
				tide_conn_free(&conn);
				return rc < 0 ? TIDE_EXIT_OK : rc;
		}
	}
	if (optind < argc)
	{
		tide_log_error("unexpected argument \"%s\"", argv[optind]);
		setup_usage(stderr);
		return TIDE_EXIT_USAGE;
	}
	if (check_only && remove)
	{
		tide_log_error("--check and --remove exclude each other");
		return TIDE_EXIT_USAGE;
	}
	if ((rc = tide_conn_finish(&conn, "the source")) == 0)
		rc = setup_run(conn.conninfo, check_only, remove);
	tide_conn_free(&conn);
	return rc;
}
