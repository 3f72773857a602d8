/*
 * common/include/tide/ddlmsg.h
 *		Captured DDL: the "tide.ddl" message payload (written on the source
 *		by the event triggers tide setup installs) read back, and the one
 *		statement of its query string that the command came from.
 *
 * The payload is documented in proto/FORMAT.md ("Captured DDL").  An event
 * trigger sees the whole query string (current_query()), not the statement
 * of its command; the trigger counts the top-level commands of one query
 * string ("pos") and tide_ddl_parse cuts the pos-th DDL statement out of
 * the string with a lexer that knows PostgreSQL's quoting, comments and
 * BEGIN ATOMIC bodies, then checks its leading words against the command
 * tag.  When that fails (DDL run from a function, DO block or procedure;
 * a string the lexer cannot place) stmt is NULL and why says so.
 *
 * Functions returning int return 0 or -1 with a message in err; they never
 * log.  Needs jansson when linked.
 */
#ifndef TIDE_DDLMSG_H
#define TIDE_DDLMSG_H

#include <stdbool.h>
#include <stddef.h>

#define TIDE_DDL_PREFIX "tide.ddl"
#define TIDE_DDL_VERSION 1		/* payload's "v": readers refuse a greater one */

/* One object the command created, altered or dropped; strings owned. */
typedef struct
{
	char	   *type;			/* "table", "index", "table column", ... */
	char	   *schema;			/* NULL for schemas themselves, GRANT */
	char	   *identity;		/* pg_identify_object's, quoted as needed */
	char	   *tschema;		/* the table it is (or belongs to), */
	char	   *tname;			/* or NULL when not a table's */
	char	   *rschema;		/* that table's partition root, or NULL */
	char	   *rname;
	bool		temp;
} tide_ddl_obj_t;

typedef struct
{
	bool		start;			/* ddl_command_start (CREATE TABLE AS only) */
	char	   *tag;			/* command tag, "ALTER TABLE" */
	char	   *query;			/* the whole query string */
	int			pos;			/* top-level command number in query, from 0 */
	bool		nested;			/* run from a function, DO, a procedure */
	char	   *search_path;
	char	   *role;			/* current_user when it ran */
	char	   *session_user;
	tide_ddl_obj_t *objs;		/* owned */
	size_t		nobjs;
	char	   *stmt;			/* owned: the command's statement, or NULL */
	const char *why;			/* static: why stmt is NULL */
	bool		concurrently;	/* stmt cannot run in a transaction block */
} tide_ddl_t;

int			tide_ddl_parse(const char *data, size_t len, tide_ddl_t *out,
						   char *err, size_t errlen);
void		tide_ddl_free(tide_ddl_t *d);

/*
 * tide_sql_split - the statements of a query string as [start, end) byte
 * ranges (without the semicolon), blank ones left out.  *starts and *ends
 * are malloc'd; -1 when out of memory.
 */
int			tide_sql_split(const char *q, size_t len, size_t **starts, size_t **ends,
						   size_t *n);

#endif /* TIDE_DDLMSG_H */
