/*
 * scope_key.c — the scope key of a row (schema 4): which agents' pulls
 * must look at its versions.
 *
 * An agent's pull used to step over every version since its cursor and
 * look each row up to test the scope: with 1,000 agents pushing a day
 * each, every pull walked every other agent's rows. lm_versions.scope now
 * holds a key derived from the row's immutable scope columns, and the
 * (scope, seq) index lets an agent's pull read only the keys it could see:
 *
 *   farmers                          'v:' || village
 *   collections, route_stops         'a:' || agent_id
 *   gradings, adjustments            'a:' || the collection's agent_id
 *   routes                           'c:' || county
 *   receipts, load_corrections,      'n' (no agent sees them)
 *   warehouses, road_distances,
 *   routing_settings
 *   catalog tables, tombstones       '*'
 *   the tombstone of a new row the   'a:' || that agent (merge.c: only it
 *   server refused from an agent       ever held the row)
 *
 * A key is a necessary condition, never a sufficient one: the pull still
 * applies the scope's SQL to each row it reads (a collection's village, for
 * one). '*' means "every agent looks": a row whose key cannot be told yet
 * (a grading whose collection has not arrived) is read by everyone, as
 * before.
 *
 * A wrong key would hide a change, so a key is only made from TEXT values
 * (the merge refuses other types for these columns) and from columns that
 * never change (scope.c: scope columns are immutable). Dispatchers and hq
 * read by seq as before: they are few.
 *
 * Only a file a server opened with lm_replica_options.scope_keys keeps
 * keys (lm_keyed.v = 1, r->keyed): an agent's replica never answers a
 * pull, and the index would cost it a b-tree insert per version (records
 * pushed 13.0k/s -> 10.0k/s when agents kept keys). There scope stays
 * NULL, which the partial index leaves out.
 *
 * The key has two spellings that must agree: SQL for the capture triggers
 * and lm__scope_keys_enable (lm__scope_key_sql), C for the merge, which writes the
 * versions of rows it has in memory (lm__scope_key). The merge refuses a
 * change to a scope column; plain SQL on the server can still make one,
 * and then the update trigger keys the row again (lm__scope_rekey_sql).
 */
#include <string.h>

#include "sync_internal.h"

typedef struct key_def {
    const char *table;
    const char *col;    /* the column the key is made from */
    const char *prefix; /* the whole key when col is NULL */
    int via_collection; /* col is a collection id: the key is its agent's */
} key_def;

static const key_def key_defs[] = {
    {"farmers", "village", "v:", 0},
    {"collections", "agent_id", "a:", 0},
    {"route_stops", "agent_id", "a:", 0},
    {"gradings", "collection_id", "a:", 1},
    {"adjustments", "collection_id", "a:", 1},
    {"routes", "county", "c:", 0},
    {"receipts", NULL, "n", 0},
    {"load_corrections", NULL, "n", 0},
    {"warehouses", NULL, "n", 0},
    {"road_distances", NULL, "n", 0},
    {"routing_settings", NULL, "n", 0},
};

static const key_def *key_def_of(int tid)
{
    const char *name = lm__tables[tid - 1].name;
    for (size_t i = 0; i < sizeof key_defs / sizeof key_defs[0]; i++)
        if (!strcmp(key_defs[i].table, name))
            return &key_defs[i];
    return NULL;
}

void lm__scope_key_sql(lm__sb *b, int tid, const char *rowref)
{
    const key_def *d = key_def_of(tid);
    if (!d) {
        lm__sb_add(b, "NULL");
    } else if (!d->col) {
        lm__sb_quote(b, d->prefix);
    } else if (d->via_collection) {
        lm__sb_addf(b,
                    "(SELECT '%s' || agent_id FROM collections WHERE typeof(%s.\"%s\") = 'text'"
                    " AND id = %s.\"%s\" AND typeof(agent_id) = 'text')",
                    d->prefix, rowref, d->col, rowref, d->col);
    } else {
        lm__sb_addf(b, "CASE WHEN typeof(%s.\"%s\") = 'text' THEN '%s' || %s.\"%s\" END", rowref,
                    d->col, d->prefix, rowref, d->col);
    }
}

#define KEYED_SQL "(SELECT v FROM lm_keyed)"

void lm__scope_key_capture_sql(lm__sb *b, int tid, const char *rowref)
{
    lm__sb_add(b, "(CASE WHEN " KEYED_SQL " THEN COALESCE(");
    lm__scope_key_sql(b, tid, rowref);
    lm__sb_add(b, ", '*') END)");
}

void lm__scope_rekey_sql(lm__sb *b, int tid)
{
    const key_def *d = key_def_of(tid);
    const char *pk = lm__tables[tid - 1].pk;
    if (!d || !d->col)
        return;
    /* the row's own versions take the new key */
    lm__sb_addf(b, " UPDATE lm_versions SET scope = ");
    lm__scope_key_capture_sql(b, tid, "NEW");
    lm__sb_addf(
        b, " WHERE OLD.\"%s\" IS NOT NEW.\"%s\" AND tid = %d AND pk = NEW.\"%s\" AND cid <> 0;\n",
        d->col, d->col, tid, pk);
    if (strcmp(lm__tables[tid - 1].name, "collections"))
        return;
    /* a collection's gradings and adjustments were keyed by its agent:
     * every agent reads them from now on */
    for (size_t i = 0; i < sizeof key_defs / sizeof key_defs[0]; i++) {
        if (!key_defs[i].via_collection)
            continue;
        lm__sb_addf(b,
                    " UPDATE lm_versions SET scope = (CASE WHEN " KEYED_SQL " THEN '*' END)"
                    " WHERE OLD.\"%s\" IS NOT NEW.\"%s\""
                    " AND tid = %d AND pk IN (SELECT id FROM \"%s\" WHERE \"%s\" = NEW.\"%s\");\n",
                    d->col, d->col, lm__table_find(key_defs[i].table), key_defs[i].table,
                    key_defs[i].col, pk);
    }
}

static char *key_join(const char *prefix, const char *text, size_t len)
{
    size_t pl = strlen(prefix);
    char *k = lm_malloc(pl + len + 1);
    if (!k)
        return NULL;
    memcpy(k, prefix, pl);
    memcpy(k + pl, text, len);
    k[pl + len] = 0;
    return k;
}

static int scope_key_of(lm_replica *r, int tid, const lm_value *vals, char **out)
{
    const key_def *d = key_def_of(tid);
    *out = NULL;
    if (!d)
        return LM_OK;
    if (!d->col) {
        *out = lm_strdup(d->prefix);
        return *out ? LM_OK : LM_ENOMEM;
    }
    const lm_value *v = &vals[lm__col_find(tid, d->col)];
    if (v->type != LM_VAL_TEXT)
        return LM_OK;
    if (!d->via_collection) {
        *out = key_join(d->prefix, (const char *)v->bytes, v->len);
        return *out ? LM_OK : LM_ENOMEM;
    }
    /* the collection is in its table if it came first: the merge takes a
     * batch's rows in the order they were written and inserts a table's
     * pending rows before it turns to another table (a grading whose
     * collection comes later gets '*': every agent reads it, as before) */
    int rc = lm__prepare(r, &r->s_key_agent,
                         "SELECT agent_id FROM collections WHERE id = ?"
                         " AND typeof(agent_id) = 'text'");
    if (rc)
        return rc;
    sqlite3_bind_text(r->s_key_agent, 1, (const char *)v->bytes, (int)v->len, SQLITE_STATIC);
    int s = sqlite3_step(r->s_key_agent);
    if (s == SQLITE_ROW) {
        const char *a = (const char *)sqlite3_column_text(r->s_key_agent, 0);
        *out = key_join(d->prefix, a ? a : "", (size_t)sqlite3_column_bytes(r->s_key_agent, 0));
        rc = *out ? LM_OK : LM_ENOMEM;
    } else if (s != SQLITE_DONE) {
        rc = lm__dberr(r, "scope key");
    }
    sqlite3_reset(r->s_key_agent);
    return rc;
}

int lm__scope_key(lm_replica *r, int tid, const lm_value *vals, char **out)
{
    *out = NULL;
    if (!r->keyed)
        return LM_OK;
    int rc = scope_key_of(r, tid, vals, out);
    if (!rc && !*out && !(*out = lm_strdup("*")))
        rc = LM_ENOMEM;
    return rc;
}

int lm__scope_keys_enable(lm_replica *r)
{
    lm__sb b = {0};
    lm__sb_add(&b, "UPDATE lm_versions SET scope = '*';\n");
    for (int tid = 1; tid <= LM__N_TABLES; tid++) {
        const lm__table_def *t = &lm__tables[tid - 1];
        if (!key_def_of(tid))
            continue;
        lm__sb_add(&b, "UPDATE lm_versions SET scope = COALESCE((SELECT ");
        lm__scope_key_sql(&b, tid, t->name);
        lm__sb_addf(&b,
                    " FROM \"%s\" WHERE \"%s\" = lm_versions.pk), '*') WHERE tid = %d"
                    " AND cid <> 0;\n",
                    t->name, t->pk, tid);
    }
    lm__sb_add(&b, "UPDATE lm_keyed SET v = 1;\n");
    int rc = lm__exec_sb(r, &b, "keying the change log");
    if (!rc)
        r->keyed = 1;
    return rc;
}

int lm__scope_keyed(const lm_scope *reader)
{
    return reader && reader->role == LM_ROLE_AGENT;
}

/* One arm of the keyed read: the versions under the keys `keys` (an SQL
 * condition on scope that the (scope, seq) index can serve). */
static void keyed_arm(lm__sb *b, const char *cols, const char *filter, const char *keys)
{
    lm__sb_addf(b, "%sSELECT %s FROM lm_versions WHERE %s AND %s", b->len ? " UNION ALL " : "",
                cols, keys, filter);
}

char *lm__scope_keyed_sql(const lm_scope *reader, const char *cols, const char *filter)
{
    lm__sb b = {0}, k = {0}, v = {0};
    keyed_arm(&b, cols, filter, "scope = '*'");
    lm__sb_add(&k, "scope = ");
    lm__sb_quote(&k, "a:");
    lm__sb_add(&k, " || ");
    lm__sb_quote(&k, reader->user_id ? reader->user_id : "");
    if (!k.oom)
        keyed_arm(&b, cols, filter, k.s);
    /* its villages' farmers, and the routes of the counties those villages
     * are in (scope.c, agent_sql) */
    for (size_t i = 0; i < reader->n_villages; i++) {
        lm__sb_add(&v, i ? ", " : "");
        lm__sb_quote(&v, reader->villages[i] ? reader->villages[i] : "");
    }
    if (reader->n_villages && !v.oom) {
        k.len = 0;
        lm__sb_add(&k, "scope IN (");
        for (size_t i = 0; i < reader->n_villages; i++) {
            lm__sb_add(&k, i ? ", 'v:' || " : "'v:' || ");
            lm__sb_quote(&k, reader->villages[i] ? reader->villages[i] : "");
        }
        lm__sb_add(&k, ")");
        if (!k.oom)
            keyed_arm(&b, cols, filter, k.s);
        k.len = 0;
        lm__sb_addf(&k, "scope IN (SELECT 'c:' || county FROM villages WHERE name IN (%s))", v.s);
        if (!k.oom)
            keyed_arm(&b, cols, filter, k.s);
    }
    lm__sb_add(&b, " ORDER BY seq");
    int oom = b.oom || k.oom || v.oom;
    lm__sb_free(&k);
    lm__sb_free(&v);
    if (oom) {
        lm__sb_free(&b);
        return NULL;
    }
    return b.s;
}
