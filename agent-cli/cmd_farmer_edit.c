/*
 * cmd_farmer_edit.c — `lastmile farmer edit FARMER`: corrects a farmer's
 * name, phone, household id or poor-household mark. A plain UPDATE: the
 * capture triggers queue only the columns that changed, and the server
 * merges them per column like any other write.
 */
#include <stdio.h>
#include <string.h>
#include <sqlite3.h>

#include "cli.h"
#include "farmer_lookup.h"

static const char usage[] =
    "usage: lastmile farmer edit FARMER [--name NAME] [--phone P] [--household ID]\n"
    "                           [--poor | --not-poor] [--force] [--db PATH] [--json]\n"
    "\n"
    "Changes the given fields of one farmer. FARMER is the farmer's id, an\n"
    "unambiguous id prefix or exact name (see 'lastmile farmer find'). A new\n"
    "name already used in the farmer's village needs --force. The village\n"
    "cannot change (a farmer who moved is registered anew). Prints what\n"
    "changed; with --json {\"id\": ..., \"changed\": [columns]}.\n";

#define MAX_FIELD 200

typedef struct edit {
    const char *name, *phone, *household;
    int poor, not_poor, force;
} edit;

static int check_edit(const char *cmd, const edit *e)
{
    if (!e->name && !e->phone && !e->household && !e->poor && !e->not_poor)
        return lm_cli_usage_error(cmd, "say what to change: --name, --phone, --household, "
                                       "--poor or --not-poor");
    if (e->poor && e->not_poor)
        return lm_cli_usage_error(cmd, "--poor and --not-poor exclude each other");
    if (e->name && !*e->name)
        return lm_cli_usage_error(cmd, "--name cannot be empty");
    if ((e->name && strlen(e->name) > MAX_FIELD) || (e->phone && strlen(e->phone) > MAX_FIELD) ||
        (e->household && strlen(e->household) > MAX_FIELD))
        return lm_cli_usage_error(cmd, "values are limited to %d bytes", MAX_FIELD);
    if (e->phone && !lm_farmer_phone_ok(e->phone))
        return lm_cli_usage_error(cmd, "'%s' is not a phone number (7 to 15 digits)", e->phone);
    int code;
    if ((code = lm_cli_check_text(cmd, "name", "farmers", "name", e->name)) >= 0 ||
        (code = lm_cli_check_text(cmd, "household", "farmers", "household_id", e->household)) >= 0)
        return code;
    return -1;
}

static void print_changed(const char *id, const char *changed, int json)
{
    if (!json) {
        printf("farmer %s: changed %s\n", id, changed);
        return;
    }
    printf("{\"id\":\"%s\",\"changed\":[", id);
    char copy[128];
    snprintf(copy, sizeof copy, "%s", changed);
    int first = 1;
    for (char *save = NULL, *col = strtok_r(copy, ", ", &save); col;
         col = strtok_r(NULL, ", ", &save), first = 0)
        printf("%s\"%s\"", first ? "" : ",", col);
    printf("]}\n");
}

/* The columns the edit actually changes, as "name, phone" (empty: none). */
static void changed_columns(sqlite3_stmt *cur, const edit *e, char *out, size_t size)
{
    const char *old_name = (const char *)sqlite3_column_text(cur, 0);
    const char *old_phone = (const char *)sqlite3_column_text(cur, 1);
    const char *old_household = (const char *)sqlite3_column_text(cur, 2);
    int old_poor = sqlite3_column_int(cur, 3);
    out[0] = 0;
#define CHANGED(col)                                                                               \
    snprintf(out + strlen(out), size - strlen(out), "%s%s", out[0] ? ", " : "", col)
    if (e->name && strcmp(e->name, old_name ? old_name : ""))
        CHANGED("name");
    if (e->phone && (!old_phone || strcmp(e->phone, old_phone)))
        CHANGED("phone");
    if (e->household && (!old_household || strcmp(e->household, old_household)))
        CHANGED("household_id");
    if ((e->poor && !old_poor) || (e->not_poor && old_poor))
        CHANGED("registered_poor");
#undef CHANGED
}

static int apply_edit(const char *cmd, sqlite3 *db, const char *ref, const edit *e, int json)
{
    char id[LM_ID_SIZE], twin[LM_ID_SIZE], changed[128];
    sqlite3_stmt *st = NULL;
    int code = lm_farmer_resolve(cmd, db, ref, id);
    if (code)
        return code;
    if (sqlite3_prepare_v2(db,
                           "SELECT name, phone, household_id, registered_poor, village"
                           " FROM farmers WHERE id = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return lm_cli_error(cmd, "cannot read farmers: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        code = lm_cli_error(cmd, "cannot read farmer %s: %s", id, sqlite3_errmsg(db));
        goto done;
    }
    changed_columns(st, e, changed, sizeof changed);
    if (!changed[0]) {
        if (json)
            printf("{\"id\":\"%s\",\"changed\":[]}\n", id);
        else
            printf("farmer %s: nothing to change\n", id);
        goto done;
    }
    if (!strncmp(changed, "name", 4)) { /* renamed: name is listed first */
        int dup =
            lm_farmer_duplicate(db, e->name, (const char *)sqlite3_column_text(st, 4), id, twin);
        if (dup < 0) {
            code = lm_cli_error(cmd, "cannot read farmers: %s", sqlite3_errmsg(db));
            goto done;
        }
        if (dup && !e->force) {
            code = lm_cli_usage_error(cmd,
                                      "%s is already registered in %s (farmer %s); "
                                      "add --force if this is another person",
                                      e->name, sqlite3_column_text(st, 4), twin);
            goto done;
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db,
                           "UPDATE farmers SET name = coalesce(?2, name),"
                           " phone = coalesce(?3, phone),"
                           " household_id = coalesce(?4, household_id),"
                           " registered_poor = coalesce(?5, registered_poor) WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK) {
        code = lm_cli_error(cmd, "cannot prepare: %s", sqlite3_errmsg(db));
        goto done;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, e->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, e->phone, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, e->household, -1, SQLITE_STATIC);
    if (e->poor || e->not_poor)
        sqlite3_bind_int(st, 5, e->poor);
    if (sqlite3_step(st) != SQLITE_DONE) {
        code = lm_cli_sql_error(cmd, db, "cannot update");
        goto done;
    }
    if (lm_cli_exec(db, "COMMIT") != LM_OK) {
        code = lm_cli_sql_error(cmd, db, "cannot commit");
        goto done;
    }
    print_changed(id, changed, json);
done:
    sqlite3_finalize(st);
    return code;
}

int lm_cmd_farmer_edit(int argc, char **argv)
{
    lm_cli_common c = {0};
    edit e = {0};
    lm_args a;
    const lm_opt opts[] = {
        LM_CLI_COMMON_OPTS(c),
        LM_CLI_JSON_OPT(c),
        {"name", LM_OPT_VALUE, &e.name, NULL},
        {"phone", LM_OPT_VALUE, &e.phone, NULL},
        {"household", LM_OPT_VALUE, &e.household, NULL},
        {"poor", LM_OPT_FLAG, NULL, &e.poor},
        {"not-poor", LM_OPT_FLAG, NULL, &e.not_poor},
        {"force", LM_OPT_FLAG, NULL, &e.force},
    };
    const char *cmd = "farmer edit";
    int code = lm_cli_parse(cmd, usage, argc, argv, opts, sizeof opts / sizeof opts[0], &a, &c);
    if (code >= 0)
        return code;
    if (a.n_positional != 1)
        return lm_cli_usage_error(cmd, a.n_positional ? "edit one farmer at a time"
                                                      : "say which farmer (id, id prefix or name)");
    if ((code = check_edit(cmd, &e)) >= 0)
        return code;

    lm_replica *r;
    if ((code = lm_cli_open(cmd, c.db, LM_CLI_USER | LM_CLI_WRITE, &r)) != LM_EXIT_OK)
        return code;
    sqlite3 *db = lm_replica_db(r);
    if (lm_cli_exec(db, "BEGIN IMMEDIATE") != LM_OK) {
        code = lm_cli_sql_error(cmd, db, "cannot start a transaction");
    } else {
        code = apply_edit(cmd, db, a.positional[0], &e, c.json);
        if (!sqlite3_get_autocommit(db)) /* refused, or nothing to change */
            lm_cli_exec(db, "ROLLBACK");
    }
    lm_replica_close(r);
    return code;
}
