/*
 * route_cmd.h — what the route commands share (cmd_route.c,
 * cmd_route_suggest.c, cmd_route_from.c).
 */
#ifndef LM_AGENT_ROUTE_CMD_H
#define LM_AGENT_ROUTE_CMD_H

#include <sqlite3.h>
#include <stddef.h>

#include "cli.h"
#include "route_geo.h"

#define MAX_STOPS 32

/* One stop of a route to create. */
typedef struct stop_plan {
    char *village; /* points into the stops copy */
    char *agent;   /* into the copy, or owned when inferred (owned = 1) */
    int owned;
} stop_plan;

/* One text column of a one-row query with up to two text parameters (and
 * LM_TEXT_SQL_OFFSET, the local days' offset), as a new string; NULL when
 * there is no row (or out of memory). */
char *lm__route_query_text(sqlite3 *db, const char *sql, const char *p1, const char *p2);
/* Inserts the route and its stops (in the caller's transaction); the
 * reason on stderr when it cannot. */
int lm__route_insert(sqlite3 *db, lm_replica *r, const char *id, const char *county,
                     const char *date, const char *vehicle, const char *driver, const char *user,
                     long long cap, const stop_plan *stops, size_t n);

/* Net weight waiting in village ?1 up to day ?2 (cmd_route_suggest.c). */
extern const char lm__route_sql_waiting[];
/* What `route suggest` plans at village for day: what waits less what the
 * routes already planned for that day will take there. */
long long lm__route_waiting(sqlite3 *db, const char *village, const char *day);
/* `route suggest`; its exit code. */
int lm__route_suggest(lm_replica *r, const char *date, long long cap, lm_geo_opts *go);
/* `route create --from-suggestion FILE` (cmd_route_from.c); its exit code. */
int lm__route_from_suggestion(const char *path, const char *prefix, const char *driver,
                              lm_cli_common *c);

#endif
