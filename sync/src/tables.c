/*
 * tables.c — the domain schema in one place: the synced tables, their
 * columns' types, policies (lww, immutable, monotonic with its order) and
 * owning roles, and the lookups by name. schema.c turns it into tables,
 * lm_columns and the capture triggers; the merge, the scopes and the log
 * readers consult it. It calls nothing, so every file of the engine may.
 */
#include <string.h>

#include "sync_internal.h"

#define LWW LM__POL_LWW
#define IMM LM__POL_IMMUTABLE
#define MONO LM__POL_MONOTONIC

/* Columns that decide a row's scope are immutable, so a row never moves
 * between scopes (a moved row would leave stale copies behind). */
const lm__table_def lm__tables[LM__N_TABLES] = {
    {"adjustments",
     "id",
     1,
     7,
     {{"collection_id", "TEXT", IMM, NULL, NULL},
      {"delta_weight_g", "INTEGER", IMM, NULL, NULL},
      {"delta_amount_fen", "INTEGER", IMM, NULL, NULL},
      {"voided", "INTEGER", IMM, NULL, NULL},
      {"reason", "TEXT", IMM, NULL, NULL},
      {"by", "TEXT", IMM, NULL, NULL},
      {"at", "INTEGER", IMM, NULL, NULL}}},
    {"collections",
     "id",
     1,
     11,
     {{"agent_id", "TEXT", IMM, NULL, NULL},
      {"farmer_id", "TEXT", IMM, NULL, NULL},
      {"village", "TEXT", IMM, NULL, NULL},
      {"product", "TEXT", IMM, NULL, NULL},
      {"grade", "TEXT", IMM, NULL, NULL},
      {"weight_g", "INTEGER", IMM, NULL, NULL},
      {"unit_price_fen", "INTEGER", IMM, NULL, NULL},
      {"amount_fen", "INTEGER", IMM, NULL, NULL},
      {"collected_at", "INTEGER", IMM, NULL, NULL},
      {"received_at", "INTEGER", LWW, NULL, "system"},
      {"note", "TEXT", LWW, NULL, NULL}}},
    /* deactivated_at (schema 12): when hq stopped purchases from the
     * farmer, NULL while active; the server's alone (`lastmile-server
     * farmer deactivate`), so no agent or remote hq sets or clears it */
    {"farmers",
     "id",
     0,
     8,
     {{"name", "TEXT", LWW, NULL, NULL},
      {"village", "TEXT", IMM, NULL, NULL},
      {"phone", "TEXT", LWW, NULL, NULL},
      {"registered_poor", "INTEGER", LWW, NULL, NULL},
      {"household_id", "TEXT", LWW, NULL, NULL},
      {"created_by", "TEXT", IMM, NULL, NULL},
      {"created_at", "INTEGER", IMM, NULL, NULL},
      {"deactivated_at", "INTEGER", LWW, NULL, "system"}}},
    {"gradings",
     "id",
     0,
     6,
     {{"collection_id", "TEXT", IMM, NULL, NULL},
      {"grade", "TEXT", LWW, NULL, NULL},
      {"moisture_permille", "INTEGER", LWW, NULL, NULL},
      {"defects", "TEXT", LWW, NULL, NULL},
      {"graded_by", "TEXT", LWW, NULL, NULL},
      {"graded_at", "INTEGER", LWW, NULL, NULL}}},
    {"grades",
     "code",
     0,
     2,
     {{"name", "TEXT", LWW, NULL, NULL}, {"rank", "INTEGER", LWW, NULL, NULL}}},
    {"prices",
     "id",
     0,
     4,
     {{"product", "TEXT", IMM, NULL, NULL},
      {"grade", "TEXT", IMM, NULL, NULL},
      {"price_fen", "INTEGER", LWW, NULL, NULL},
      {"effective_from", "TEXT", LWW, NULL, NULL}}},
    {"products",
     "code",
     0,
     2,
     {{"name", "TEXT", LWW, NULL, NULL}, {"unit", "TEXT", LWW, NULL, NULL}}},
    /* voided_at, void_reason (schema 12): a void, immutable once set: the
     * receipt stays and the reports leave it out */
    {"receipts",
     "id",
     0,
     8,
     {{"route_id", "TEXT", LWW, NULL, NULL},
      {"warehouse", "TEXT", LWW, NULL, NULL},
      {"product", "TEXT", LWW, NULL, NULL},
      {"grade", "TEXT", LWW, NULL, NULL},
      {"weight_g", "INTEGER", LWW, NULL, NULL},
      {"received_at", "INTEGER", LWW, NULL, NULL},
      {"voided_at", "INTEGER", IMM, NULL, NULL},
      {"void_reason", "TEXT", IMM, NULL, NULL}}},
    {"route_stops",
     "id",
     0,
     7,
     {{"route_id", "TEXT", IMM, NULL, "dispatcher"},
      {"seq", "INTEGER", LWW, NULL, "dispatcher"},
      {"village", "TEXT", LWW, NULL, "dispatcher"},
      {"agent_id", "TEXT", IMM, NULL, "dispatcher"},
      {"planned_at", "INTEGER", LWW, NULL, "dispatcher"},
      {"status", "TEXT", MONO, "planned,arrived,loaded", "agent"},
      {"loaded_weight_g", "INTEGER", LWW, NULL, "agent"}}},
    {"routes",
     "id",
     0,
     7,
     {{"county", "TEXT", IMM, NULL, NULL},
      {"date", "TEXT", LWW, NULL, NULL},
      {"vehicle", "TEXT", LWW, NULL, NULL},
      {"driver", "TEXT", LWW, NULL, NULL},
      {"dispatcher_id", "TEXT", LWW, NULL, NULL},
      {"capacity_g", "INTEGER", LWW, NULL, NULL},
      /* cancelled (schema 12) is last: nothing replaces it */
      {"status", "TEXT", MONO, "planned,dispatched,done,cancelled", NULL}}},
    /* lat and lon (schema 9): decimal degrees, NULL when not known yet;
     * migrate_to_9 adds them to a file made before */
    {"villages",
     "name",
     0,
     3,
     {{"county", "TEXT", IMM, NULL, NULL},
      {"lat", "REAL", LWW, NULL, NULL},
      {"lon", "REAL", LWW, NULL, NULL}}},
    /* Schema 7 (appended: ids are stored). A dispatcher's or hq's
     * correction of a stop's recorded load, a ledger row like an
     * adjustment: the latest one (by `at`, then id) is the stop's load.
     * county is the stop's route's county (the scope column). */
    {"load_corrections",
     "id",
     1,
     6,
     {{"stop_id", "TEXT", IMM, NULL, NULL},
      {"county", "TEXT", IMM, NULL, NULL},
      {"loaded_weight_g", "INTEGER", IMM, NULL, NULL},
      {"reason", "TEXT", IMM, NULL, NULL},
      {"by", "TEXT", IMM, NULL, NULL},
      {"at", "INTEGER", IMM, NULL, NULL}}},
    /* Schema 9: a county's warehouses, where its trucks start and unload
     * (route suggest plans from one). county is the scope column:
     * dispatchers of the county and hq read them, hq writes them. */
    {"warehouses",
     "name",
     0,
     3,
     {{"county", "TEXT", IMM, NULL, NULL},
      {"lat", "REAL", LWW, NULL, NULL},
      {"lon", "REAL", LWW, NULL, NULL}}},
    /* Schema 15 (appended). Road distances headquarters imports
     * (`lastmile-server distance import`): one row per ordered pair of
     * places (villages, warehouses) of a county; id is from || '|' || to.
     * metres, and seconds when the file gave minutes. county is the scope
     * column: the county's dispatchers receive them, agents do not. */
    {"road_distances",
     "id",
     0,
     5,
     {{"county", "TEXT", IMM, NULL, NULL},
      {"from_place", "TEXT", IMM, NULL, NULL},
      {"to_place", "TEXT", IMM, NULL, NULL},
      {"metres", "INTEGER", LWW, NULL, NULL},
      {"seconds", "INTEGER", LWW, NULL, NULL}}},
    /* Schema 15. A county's routing settings (`lastmile-server distance
     * set`): the detour factor on great-circle distances (per mille), the
     * speed for a route's time when no minutes were imported (metres per
     * hour) and the time at each stop (seconds); NULL = the default
     * (docs/dispatch.md). Scoped like road_distances. */
    {"routing_settings",
     "county",
     0,
     3,
     {{"detour_permille", "INTEGER", LWW, NULL, NULL},
      {"speed_m_per_h", "INTEGER", LWW, NULL, NULL},
      {"stop_seconds", "INTEGER", LWW, NULL, NULL}}},
    /* Schema 11 (appended). A person's closing of a conflict, synced so
     * that every replica that logged the same conflict closes it too
     * (conflicts.c): the conflict is named by its cell and the two
     * versions, which are the same wherever it was logged. kept is
     * "winner" or "loser"; by the user (or "hq"), reason free text. Read
     * by whoever may read the row it is about (scope.c). */
    {"conflict_resolutions",
     "id",
     1,
     11,
     {{"tbl", "TEXT", IMM, NULL, NULL},
      {"row_pk", "TEXT", IMM, NULL, NULL},
      {"col", "TEXT", IMM, NULL, NULL},
      {"winner_hlc", "INTEGER", IMM, NULL, NULL},
      {"winner_site", "INTEGER", IMM, NULL, NULL},
      {"loser_hlc", "INTEGER", IMM, NULL, NULL},
      {"loser_site", "INTEGER", IMM, NULL, NULL},
      {"kept", "TEXT", IMM, NULL, NULL},
      {"by", "TEXT", IMM, NULL, NULL},
      {"reason", "TEXT", IMM, NULL, NULL},
      {"at", "INTEGER", IMM, NULL, NULL}}},
};

int lm__table_find(const char *name)
{
    if (!name)
        return 0;
    for (int i = 0; i < LM__N_TABLES; i++)
        if (strcmp(lm__tables[i].name, name) == 0)
            return i + 1;
    return 0;
}

int lm__col_find(int tid, const char *name)
{
    if (tid < 1 || tid > LM__N_TABLES || !name)
        return 0;
    const lm__table_def *t = &lm__tables[tid - 1];
    for (int i = 0; i < t->n_cols; i++)
        if (strcmp(t->cols[i].name, name) == 0)
            return i + 1;
    return 0;
}

int lm__mono_rank(const char *order, const lm_value *v)
{
    if (v->type == LM_VAL_NULL)
        return -2;
    if (v->type != LM_VAL_TEXT || !order)
        return -1;
    int rank = 0;
    const char *p = order;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == v->len && memcmp(p, v->bytes, n) == 0)
            return rank;
        rank++;
        if (!e)
            break;
        p = e + 1;
    }
    return -1;
}
