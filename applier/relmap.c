/*
 * applier/relmap.c
 *		The --map schema mapping and the --tables filter (relmap.h).
 */
#include <string.h>

#include "tide/common.h"
#include "tide/tablematch.h"
#include "relmap.h"

int
apply_relmap_init(apply_relmap_t *m, const char *const *tables, const char *option)
{
	memset(m, 0, sizeof(*m));
	m->tables = tables;
	for (const char *const *p = tables; p && *p; p++)
		if (!proto_table_pattern_valid(*p))
		{
			tide_log_error("invalid table pattern \"%s\" in %s", *p, option);
			tide_log_detail("a table pattern has the form schema.table, where \"*\" in either part matches any characters");
			tide_log_hint("use \"public.*\" for every table of schema public, \"*.name\" for tables called name in any schema");
			return TIDE_EXIT_USAGE;
		}
	return 0;
}

bool
apply_relmap_add(apply_relmap_t *m, const char *src, const char *dst)
{
	if (m->nmaps == APPLY_RELMAP_MAX_MAPS)
		return false;
	m->src[m->nmaps] = src;
	m->dst[m->nmaps++] = dst;
	return true;
}

void
apply_relmap_add_maps(apply_relmap_t *m, const apply_maps_t *maps)
{
	/* apply_maps_t holds no more than the map takes: add cannot fail */
	for (int i = 0; i < maps->n; i++)
		apply_relmap_add(m, maps->src[i], maps->dst[i]);
}

int
apply_maps_parse(apply_maps_t *maps, char *arg)
{
	char	   *eq = strchr(arg, '=');

	if (eq == NULL || eq == arg || eq[1] == '\0' || strchr(eq + 1, '='))
	{
		tide_log_error("invalid --map \"%s\"", arg);
		tide_log_hint("use --map SOURCE_SCHEMA=REPLICA_SCHEMA");
		return TIDE_EXIT_USAGE;
	}
	if (maps->n == APPLY_RELMAP_MAX_MAPS)
	{
		tide_log_error("too many --map options (at most %d)", APPLY_RELMAP_MAX_MAPS);
		return TIDE_EXIT_USAGE;
	}
	*eq = '\0';
	maps->src[maps->n] = arg;
	maps->dst[maps->n++] = eq + 1;
	return 0;
}

const char *
apply_relmap_schema(const apply_relmap_t *m, const char *nsp)
{
	for (int i = 0; i < m->nmaps; i++)
		if (strcmp(m->src[i], nsp) == 0)
			return m->dst[i];
	return nsp;
}

bool
apply_relmap_wanted(const apply_relmap_t *m, const char *nsp, const char *rel)
{
	if (m->tables == NULL || m->tables[0] == NULL)
		return true;
	for (const char *const *p = m->tables; *p; p++)
		if (proto_table_match(*p, nsp, rel))
			return true;
	return false;
}
