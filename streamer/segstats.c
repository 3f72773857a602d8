/*
 * streamer/segstats.c
 *		Counting a segment's contents for its footer.
 */
#include <stdlib.h>
#include <string.h>

#include "segstats.h"

enum
{
	N_INS, N_UPD, N_DEL, N_TRUNC
};

void
segstats_init(segstats_t *s)
{
	memset(s, 0, sizeof(*s));
}

void
segstats_free(segstats_t *s)
{
	for (uint32_t i = 0; i < s->cap; i++)
	{
		free(s->tables[i].nspname);
		free(s->tables[i].relname);
	}
	free(s->tables);
	memset(s, 0, sizeof(*s));
}

void
segstats_reset(segstats_t *s)
{
	segstats_free(s);
}

static uint32_t
slot_of(uint32_t relid, uint32_t cap)
{
	return (uint32_t) ((relid * UINT64_C(11400714819323198485)) >> 40) & (cap - 1);
}

/* table - the entry for relid, created if needed; NULL on out of memory */
static segstats_table_t *
table(segstats_t *s, uint32_t relid)
{
	uint32_t	i;

	if (s->cap == 0 || (s->ntables + 1) * 2 > s->cap)
	{
		uint32_t	ncap = s->cap ? s->cap * 2 : 64;
		segstats_table_t *nt = calloc(ncap, sizeof(*nt));

		if (nt == NULL)
			return NULL;
		for (uint32_t k = 0; k < s->cap; k++)
		{
			if (s->tables[k].relid == 0)
				continue;
			for (i = slot_of(s->tables[k].relid, ncap); nt[i].relid; i = (i + 1) & (ncap - 1))
				;
			nt[i] = s->tables[k];
		}
		free(s->tables);
		s->tables = nt;
		s->cap = ncap;
	}
	for (i = slot_of(relid, s->cap); s->tables[i].relid; i = (i + 1) & (s->cap - 1))
		if (s->tables[i].relid == relid)
			return &s->tables[i];
	s->tables[i].relid = relid;
	s->ntables++;
	return &s->tables[i];
}

static char *
dupstr(proto_str_t v)
{
	char	   *p = malloc(v.n + 1);

	if (p)
	{
		memcpy(p, v.p, v.n);
		p[v.n] = '\0';
	}
	return p;
}

static int
count(segstats_t *s, uint32_t relid, int kind)
{
	segstats_table_t *t = table(s, relid);

	if (t == NULL)
		return TIDE_ENOMEM;
	t->pending[kind]++;
	return 0;
}

int
segstats_account(segstats_t *s, uint8_t type, const uint8_t *body, size_t len)
{
	proto_rbuf_t r;
	uint32_t	relid;
	int			rc = 0;

	proto_rbuf_init(&r, body, len);
	switch (type)
	{
		case PROTO_MSG_BEGIN:
			{
				proto_begin_t b;

				segstats_abort(s);	/* a BEGIN without COMMIT was cut short */
				if ((rc = proto_read_begin(&r, &b)) != 0)
					return rc;
				s->in_txn = true;
				s->txn_lsn = b.final_lsn;
				s->txn_time = b.commit_time;
				return 0;
			}
		case PROTO_MSG_COMMIT:
			{
				proto_commit_t c;

				if ((rc = proto_read_commit(&r, &c)) != 0)
					return rc;
				if (!s->in_txn)
					return TIDE_EBADVALUE;	/* COMMIT without BEGIN */
				if (s->ntxns == 0)
				{
					s->first_lsn = s->txn_lsn;
					s->first_time = s->txn_time;
				}
				s->last_lsn = c.end_lsn;
				s->last_time = s->txn_time;
				s->ntxns++;
				s->nchanges += s->pending_changes;
				s->pending_changes = 0;
				for (uint32_t i = 0; i < s->cap; i++)
					for (int k = 0; k < 4; k++)
					{
						s->tables[i].n[k] += s->tables[i].pending[k];
						s->tables[i].pending[k] = 0;
					}
				s->in_txn = false;
				return 0;
			}
		case PROTO_MSG_RELATION:
			{
				proto_relation_t rel;
				proto_column_t cols[PROTO_MAX_COLUMNS];
				segstats_table_t *t;

				if ((rc = proto_read_relation(&r, &rel, cols, PROTO_MAX_COLUMNS)) != 0)
					return rc;
				if ((t = table(s, rel.relid)) == NULL)
					return TIDE_ENOMEM;
				free(t->nspname);
				free(t->relname);
				t->nspname = dupstr(rel.nspname);
				t->relname = dupstr(rel.relname);
				return (t->nspname && t->relname) ? 0 : TIDE_ENOMEM;
			}
		case PROTO_MSG_INSERT:
		case PROTO_MSG_UPDATE:
		case PROTO_MSG_DELETE:
			if ((rc = proto_read_relid(r, &relid)) != 0)
				return rc;
			s->pending_changes++;
			return count(s, relid, type == PROTO_MSG_INSERT ? N_INS :
						 type == PROTO_MSG_UPDATE ? N_UPD : N_DEL);
		case PROTO_MSG_TRUNCATE:
			{
				uint32_t	relids[PROTO_MAX_TRUNCATE];
				proto_truncate_t t;

				if ((rc = proto_read_truncate(&r, &t, relids, PROTO_MAX_TRUNCATE)) != 0)
					return rc;
				s->pending_changes++;
				for (uint32_t i = 0; i < t.nrelids && rc == 0; i++)
					rc = count(s, relids[i], N_TRUNC);
				return rc;
			}
		case PROTO_MSG_MESSAGE:
			{
				proto_message_t m;

				if ((rc = proto_read_message(&r, &m)) != 0)
					return rc;
				if (m.flags & PROTO_MESSAGE_TRANSACTIONAL)
					s->pending_changes++;
				else
					s->nchanges++;
				return 0;
			}
		default:
			return 0;
	}
}

void
segstats_abort(segstats_t *s)
{
	s->pending_changes = 0;
	s->in_txn = false;
	for (uint32_t i = 0; i < s->cap; i++)
		memset(s->tables[i].pending, 0, sizeof(s->tables[i].pending));
}
