/*
 * scope.c — who may see and who may write what (DESIGN.md, "Roles and
 * scopes"; docs/schema.md).
 *
 * Read side: a SQL condition per table, evaluated on the live row, filters
 * changes_since and the state hash. Tombstones carry no row and are sent to
 * every reader (an id is all they reveal).
 * Write side: a row check on the row's scope columns (which are immutable,
 * so a row never moves scope) and a column ownership check.
 * Roles by name (lm_role_name, lm_role_parse) live here too.
 */
#include <string.h>

#include "lm_rules.h"
#include "sync_internal.h"

const char *lm_role_name(int role)
{
    switch (role) {
    case LM_ROLE_SYSTEM:
        return "system";
    case LM_ROLE_AGENT:
        return "agent";
    case LM_ROLE_DISPATCHER:
        return "dispatcher";
    case LM_ROLE_HQ:
        return "hq";
    default:
        return "unknown";
    }
}

int lm_role_parse(const char *name)
{
    if (!name)
        return -1;
    for (int i = LM_ROLE_SYSTEM; i <= LM_ROLE_HQ; i++)
        if (strcmp(name, lm_role_name(i)) == 0)
            return i;
    return -1;
}

static void villages_list(lm__sb *b, const lm_scope *s)
{
    lm__sb_add(b, "(");
    for (size_t i = 0; i < s->n_villages; i++) {
        if (i)
            lm__sb_add(b, ",");
        lm__sb_quote(b, s->villages[i] ? s->villages[i] : "");
    }
    lm__sb_add(b, ")");
}

static void county_villages(lm__sb *b, const lm_scope *s)
{
    lm__sb_add(b, "(SELECT name FROM villages WHERE county = ");
    lm__sb_quote(b, s->county ? s->county : "");
    lm__sb_add(b, ")");
}

/* Opens "EXISTS (SELECT 1 FROM collections c WHERE c.id = <table>.collection_id"
 * for the caller to add conditions on c and close. Correlated on purpose:
 * `collection_id IN (SELECT id FROM collections WHERE ...)` made SQLite
 * build the whole list again each time the row read is stepped — one scan
 * of collections per grading a PULL looked at, which made concurrent
 * agents' pulls quadratic. This is one primary-key lookup. */
static void parent_collection(lm__sb *b, const char *table)
{
    lm__sb_addf(b, "EXISTS (SELECT 1 FROM collections c WHERE c.id = \"%s\".collection_id", table);
}

static void agent_sql(lm__sb *b, const lm_scope *s, const char *table)
{
    const char *u = s->user_id ? s->user_id : "";
    if (!strcmp(table, "farmers")) {
        lm__sb_add(b, "village IN ");
        villages_list(b, s);
    } else if (!strcmp(table, "collections")) {
        lm__sb_add(b, "agent_id = ");
        lm__sb_quote(b, u);
        lm__sb_add(b, " AND village IN ");
        villages_list(b, s);
    } else if (!strcmp(table, "adjustments") || !strcmp(table, "gradings")) {
        parent_collection(b, table);
        lm__sb_add(b, " AND c.agent_id = ");
        lm__sb_quote(b, u);
        lm__sb_add(b, " AND c.village IN ");
        villages_list(b, s);
        lm__sb_add(b, ")");
    } else if (!strcmp(table, "routes")) {
        /* routes of the counties its villages are in: decided by the route
         * row alone, so a route never appears after its cells were sent */
        lm__sb_add(b, "county IN (SELECT county FROM villages WHERE name IN ");
        villages_list(b, s);
        lm__sb_add(b, ")");
    } else if (!strcmp(table, "route_stops")) {
        lm__sb_add(b, "agent_id = ");
        lm__sb_quote(b, u);
    } else if (!strcmp(table, "receipts") || !strcmp(table, "load_corrections") ||
               !strcmp(table, "warehouses") || !strcmp(table, "road_distances") ||
               !strcmp(table, "routing_settings")) {
        lm__sb_add(b, "0");
    } else {
        lm__sb_add(b, "1"); /* catalog */
    }
}

static void dispatcher_sql(lm__sb *b, const lm_scope *s, const char *table)
{
    if (!strcmp(table, "farmers") || !strcmp(table, "collections")) {
        lm__sb_add(b, "village IN ");
        county_villages(b, s);
    } else if (!strcmp(table, "adjustments") || !strcmp(table, "gradings")) {
        parent_collection(b, table);
        lm__sb_add(b, " AND c.village IN ");
        county_villages(b, s);
        lm__sb_add(b, ")");
    } else if (!strcmp(table, "routes") || !strcmp(table, "load_corrections") ||
               !strcmp(table, "warehouses") || !strcmp(table, "road_distances") ||
               !strcmp(table, "routing_settings")) {
        lm__sb_add(b, "county = ");
        lm__sb_quote(b, s->county ? s->county : "");
    } else if (!strcmp(table, "route_stops") || !strcmp(table, "receipts")) {
        lm__sb_add(b, "route_id IN (SELECT id FROM routes WHERE county = ");
        lm__sb_quote(b, s->county ? s->county : "");
        lm__sb_add(b, ")");
    } else {
        lm__sb_add(b, "1");
    }
}

typedef void (*rows_sql_fn)(lm__sb *b, const lm_scope *s, const char *table);

/* A conflict's resolution (conflict_resolutions) is read by whoever may
 * read the row it is about: the row's own condition, on the row its
 * row_pk names in the table its tbl names. Inside the subquery the row's
 * columns are the innermost, so the row condition reads them unqualified
 * as it does on its own table. */
static void resolution_sql(lm__sb *b, const lm_scope *s, rows_sql_fn rows)
{
    lm__sb_add(b, "CASE \"conflict_resolutions\".tbl");
    for (int tid = 1; tid <= LM__N_TABLES; tid++) {
        const lm__table_def *t = &lm__tables[tid - 1];
        if (!strcmp(t->name, "conflict_resolutions"))
            continue;
        lm__sb_addf(b,
                    " WHEN '%s' THEN EXISTS (SELECT 1 FROM \"%s\" WHERE \"%s\".\"%s\" ="
                    " \"conflict_resolutions\".row_pk AND (",
                    t->name, t->name, t->name, t->pk);
        rows(b, s, t->name);
        lm__sb_add(b, "))");
    }
    lm__sb_add(b, " ELSE 0 END");
}

char *lm__scope_visible_sql(const lm_scope *reader, int tid)
{
    lm__sb b = {0};
    const char *table = lm__tables[tid - 1].name;
    int resolution = !strcmp(table, "conflict_resolutions");
    if (!reader || reader->role == LM_ROLE_SYSTEM || reader->role == LM_ROLE_HQ)
        lm__sb_add(&b, "1");
    else if (reader->role == LM_ROLE_AGENT && resolution)
        resolution_sql(&b, reader, agent_sql);
    else if (reader->role == LM_ROLE_AGENT)
        agent_sql(&b, reader, table);
    else if (reader->role == LM_ROLE_DISPATCHER && resolution)
        resolution_sql(&b, reader, dispatcher_sql);
    else if (reader->role == LM_ROLE_DISPATCHER)
        dispatcher_sql(&b, reader, table);
    else
        lm__sb_add(&b, "0");
    if (b.oom) {
        lm__sb_free(&b);
        return NULL;
    }
    return b.s;
}

static int text_is(const lm_value *v, const char *s)
{
    return s && v->type == LM_VAL_TEXT && v->len == strlen(s) && memcmp(v->bytes, s, v->len) == 0;
}

static int in_villages(const lm_scope *s, const lm_value *v)
{
    for (size_t i = 0; i < s->n_villages; i++)
        if (text_is(v, s->villages[i]))
            return 1;
    return 0;
}

/* Runs "SELECT 1 FROM <sql> LIMIT 1" with one text parameter. */
static int exists_with(lm_replica *r, const char *sql, const lm_value *p1, const char *p2,
                       int *found)
{
    sqlite3_stmt *st = NULL;
    *found = 0;
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
        return lm__dberr(r, "scope");
    lm__bind_value(st, 1, p1);
    if (p2)
        sqlite3_bind_text(st, 2, p2, -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    sqlite3_finalize(st);
    if (s == SQLITE_ROW)
        *found = 1;
    else if (s != SQLITE_DONE)
        return lm__dberr(r, "scope");
    return LM_OK;
}

/* An agent or a dispatcher closes a conflict on a row it may read, in its
 * own name. */
static int resolution_check(lm_replica *r, const lm_scope *w, lm__row_get_fn get, void *ud,
                            const char **why)
{
    lm_value tbl = {.type = LM_VAL_NULL}, pk = {.type = LM_VAL_NULL}, by = {.type = LM_VAL_NULL};
    char name[64];
    int rc, found = 0;
    if ((rc = get(ud, "tbl", &tbl)) < 0 || (rc = get(ud, "row_pk", &pk)) < 0 ||
        (rc = get(ud, "by", &by)) < 0)
        goto done;
    rc = LM_EDENIED;
    *why = "a conflict is closed in its closer's own name";
    if (!text_is(&by, w->user_id))
        goto done;
    *why = "the conflict's table is not a synced table";
    int tid = 0;
    if (tbl.type == LM_VAL_TEXT && tbl.len < sizeof name) {
        memcpy(name, tbl.bytes, tbl.len);
        name[tbl.len] = 0;
        tid = lm__table_find(name);
    }
    if (!tid || !strcmp(name, "conflict_resolutions") || pk.type != LM_VAL_TEXT)
        goto done;
    char *vis = lm__scope_visible_sql(w, tid);
    lm__sb b = {0};
    if (!vis) {
        rc = LM_ENOMEM;
        goto done;
    }
    lm__sb_addf(&b, "SELECT 1 FROM \"%s\" WHERE \"%s\" = ? AND (%s)", name, lm__tables[tid - 1].pk,
                vis);
    lm_free(vis);
    rc = b.oom ? LM_ENOMEM : exists_with(r, b.s, &pk, NULL, &found);
    lm__sb_free(&b);
    if (rc)
        goto done;
    rc = found ? 0 : LM_ESCOPE;
    *why = "the conflict is about a row outside the writer's scope";
done:
    lm_value_clear(&tbl);
    lm_value_clear(&pk);
    lm_value_clear(&by);
    return rc;
}

int lm__scope_row_check(lm_replica *r, const lm_scope *w, int tid, int fresh, lm__row_get_fn get,
                        void *ud, const char **why)
{
    const char *table = lm__tables[tid - 1].name;
    lm_value a = {.type = LM_VAL_NULL}, b = {.type = LM_VAL_NULL};
    int rc = 0, found = 0;
    *why = NULL;
    if (!w || w->role == LM_ROLE_SYSTEM || w->role == LM_ROLE_HQ)
        return 0;
    if ((w->role == LM_ROLE_AGENT || w->role == LM_ROLE_DISPATCHER) &&
        !strcmp(table, "conflict_resolutions"))
        return resolution_check(r, w, get, ud, why);
    if (w->role == LM_ROLE_AGENT) {
        if (!strcmp(table, "farmers")) {
            if ((rc = get(ud, "village", &a)) < 0)
                goto done;
            rc = in_villages(w, &a) ? 0 : LM_ESCOPE;
            *why = "farmer's village is not one of the agent's villages";
        } else if (!strcmp(table, "collections")) {
            if ((rc = get(ud, "agent_id", &a)) < 0 || (rc = get(ud, "village", &b)) < 0)
                goto done;
            rc = text_is(&a, w->user_id) && in_villages(w, &b) ? 0 : LM_ESCOPE;
            *why = "collection is not the agent's own in its villages";
        } else if (!strcmp(table, "adjustments") || !strcmp(table, "gradings")) {
            if ((rc = get(ud, "collection_id", &a)) < 0)
                goto done;
            if ((rc = exists_with(r, "SELECT 1 FROM collections WHERE id = ? AND agent_id = ?", &a,
                                  w->user_id ? w->user_id : "", &found)))
                goto done;
            rc = found ? 0 : LM_ESCOPE;
            *why = "not a correction of the agent's own collection";
        } else if (!strcmp(table, "route_stops")) {
            /* a dispatcher of the route's county (or hq) plans a stop; the
             * agent only marks it arrived and loaded */
            if (fresh) {
                rc = LM_EDENIED;
                *why = "agents do not create route stops (a dispatcher plans them)";
                goto done;
            }
            if ((rc = get(ud, "agent_id", &a)) < 0)
                goto done;
            rc = text_is(&a, w->user_id) ? 0 : LM_ESCOPE;
            *why = "route stop is not the agent's";
        } else {
            rc = LM_EDENIED;
            *why = "agents may not write this table";
        }
    } else if (w->role == LM_ROLE_DISPATCHER) {
        if (!strcmp(table, "routes")) {
            if ((rc = get(ud, "county", &a)) < 0)
                goto done;
            rc = text_is(&a, w->county) ? 0 : LM_ESCOPE;
            *why = "route is outside the dispatcher's county";
        } else if (!strcmp(table, "route_stops")) {
            if ((rc = get(ud, "route_id", &a)) < 0)
                goto done;
            if ((rc = exists_with(r, "SELECT 1 FROM routes WHERE id = ? AND county = ?", &a,
                                  w->county ? w->county : "", &found)))
                goto done;
            rc = found ? 0 : LM_ESCOPE;
            *why = "stop's route is outside the dispatcher's county";
        } else if (!strcmp(table, "load_corrections")) {
            if ((rc = get(ud, "stop_id", &a)) < 0 || (rc = get(ud, "county", &b)) < 0)
                goto done;
            if ((rc = exists_with(r,
                                  "SELECT 1 FROM route_stops s JOIN routes t ON t.id = s.route_id"
                                  " WHERE s.id = ? AND t.county = ?",
                                  &a, w->county ? w->county : "", &found)))
                goto done;
            rc = found && text_is(&b, w->county) ? 0 : LM_ESCOPE;
            *why = "corrected stop is outside the dispatcher's county";
        } else {
            rc = LM_EDENIED;
            *why = "dispatchers may not write this table";
        }
    } else {
        rc = LM_EDENIED;
        *why = "unknown role";
    }
done:
    lm_value_clear(&a);
    lm_value_clear(&b);
    return rc;
}

int lm__scope_col_check(const lm_scope *w, int tid, int cid, const char **why)
{
    const char *owner = lm__tables[tid - 1].cols[cid - 1].owner;
    *why = NULL;
    if (!w || !owner || w->role == LM_ROLE_SYSTEM)
        return 0;
    if (!strcmp(owner, "system")) {
        *why = "column is written by the server only";
        return LM_EOWNER;
    }
    if (w->role == LM_ROLE_HQ || lm_role_parse(owner) == w->role)
        return 0;
    *why = owner[0] == 'a' ? "column is owned by the agent role"
                           : "column is owned by the dispatcher role";
    return LM_EOWNER;
}

/* lm_rules.h: the server's rules on a new row, for the field tool's entry
 * checks; here, above rules.c, since it runs both files' checks. */
int lm_rules_new_row(lm_replica *r, const lm_scope *writer, const char *table, lm_rules_get_fn get,
                     void *ud, const char **why)
{
    *why = NULL;
    int tid = table ? lm__table_find(table) : 0;
    if (!r || !get || tid <= 0)
        return LM_EINVAL;
    int rc = lm__scope_row_check(r, writer, tid, 1, get, ud, why);
    if (rc == LM_ESCOPE || rc == LM_EDENIED)
        return rc;
    *why = NULL;
    if (rc)
        return rc;
    return lm__rules_row(r, tid, get, ud, why);
}
