/*
 * applier/coalset.c
 *		The pending set of one table's folded changes (coalset.h).
 */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "tide/errors.h"
#include "coalset.h"

apply_coal_t *
coal_new(void)
{
	apply_coal_t *co = calloc(1, sizeof(apply_coal_t));

	if (co)
		proto_wbuf_init_heap(&co->arena);
	return co;
}

void
coal_set_free(apply_coal_t *co)
{
	if (co == NULL)
		return;
	proto_wbuf_free(&co->arena);
	free(co->e);
	free(co->slots);
	free(co);
}

void
coal_reset(apply_coal_t *co)
{
	proto_wbuf_reset(&co->arena);
	co->n = 0;
	if (co->slots)
		memset(co->slots, 0, co->nslots * sizeof(uint32_t));
}

static int
coal_grow(apply_coal_t *co)
{
	if (co->n == co->cap)
	{
		uint32_t	cap = co->cap ? co->cap * 2 : 1024;
		coal_entry_t *e = realloc(co->e, cap * sizeof(*e));

		if (e == NULL)
			return TIDE_ENOMEM;
		co->e = e;
		co->cap = cap;
	}
	if ((co->n + 1) * 2 > co->nslots)
	{
		uint32_t	ns = co->nslots ? co->nslots * 2 : 4096;
		uint32_t   *sl = calloc(ns, sizeof(uint32_t));

		if (sl == NULL)
			return TIDE_ENOMEM;
		for (uint32_t i = 0; i < co->n; i++)
		{
			uint32_t	j = (uint32_t) co->e[i].hash & (ns - 1);

			while (sl[j])
				j = (j + 1) & (ns - 1);
			sl[j] = i + 1;
		}
		free(co->slots);
		co->slots = sl;
		co->nslots = ns;
	}
	return 0;
}

/* coal_keep - copy a line into the arena; *off and *len say where */
static void
coal_keep(apply_coal_t *co, const void *line, size_t line_len, size_t *off, uint32_t *len)
{
	*off = co->arena.len;
	*len = (uint32_t) line_len;
	proto_put_bytes(&co->arena, line, line_len);
}

int
coal_fold(apply_coal_t *co, char op, const void *key, size_t key_len,
		  const void *line, size_t line_len)
{
	coal_entry_t *e = NULL;
	uint64_t	h;
	uint32_t	j;
	int			folded = 0;

	if (coal_grow(co) != 0)
		return TIDE_ENOMEM;
	h = XXH3_64bits(key, key_len);
	for (j = (uint32_t) h & (co->nslots - 1); co->slots[j]; j = (j + 1) & (co->nslots - 1))
	{
		coal_entry_t *c = &co->e[co->slots[j] - 1];

		if (c->hash == h && c->key_len == key_len &&
			memcmp(co->arena.data + c->key_off, key, c->key_len) == 0)
		{
			e = c;
			break;
		}
	}
	if (e == NULL)
	{
		e = &co->e[co->n];
		memset(e, 0, sizeof(*e));
		e->hash = h;
		e->key_off = co->arena.len;
		e->key_len = (uint32_t) key_len;
		proto_put_bytes(&co->arena, key, key_len);
		co->slots[j] = ++co->n;
		co->last = co->n - 1;
		e->op = op;
		if (op == 'D')
			coal_keep(co, line, line_len, &e->kline_off, &e->kline_len);
		else
			coal_keep(co, line, line_len, &e->row_off, &e->row_len);
	}
	else
	{
		char		was = e->op;

		folded = 1;
		co->last = (uint32_t) (e - co->e);
		if (op == 'U' && (was == 'I' || was == 'U'))
			coal_keep(co, line, line_len, &e->row_off, &e->row_len);	/* the newer image */
		else if (op == 'D' && was == 'U')
		{
			e->op = 'D';
			coal_keep(co, line, line_len, &e->kline_off, &e->kline_len);
		}
		else if (op == 'D' && was == 'I')
		{
			/* inserted in this batch and gone again: the replica never saw it,
			 * unless it replaced a row the replica has */
			e->op = e->del_first ? 'D' : 0;
		}
		else if (op == 'I' && was == 'D')
		{
			e->op = 'I';
			e->del_first = true;
			coal_keep(co, line, line_len, &e->row_off, &e->row_len);
		}
		else if (op == 'I' && was == 0)
		{
			e->op = 'I';
			coal_keep(co, line, line_len, &e->row_off, &e->row_len);
		}
		else
		{
			/* no source does this: let the statements say what is wrong */
			return COAL_FALLBACK;
		}
	}
	return co->arena.err ? TIDE_ENOMEM : folded;
}

int
coal_add_row(apply_coal_t *co, const void *line, size_t line_len)
{
	coal_entry_t *e;

	if (coal_grow(co) != 0)
		return TIDE_ENOMEM;
	co->last = co->n;
	e = &co->e[co->n++];
	memset(e, 0, sizeof(*e));
	e->op = 'I';
	coal_keep(co, line, line_len, &e->row_off, &e->row_len);
	return co->arena.err ? TIDE_ENOMEM : 0;
}

bool
coal_full(const apply_coal_t *co)
{
	return co->n >= COAL_MAX_ENTRIES || co->arena.len >= COAL_MAX_ARENA;
}
