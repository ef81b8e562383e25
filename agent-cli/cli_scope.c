/*
 * cli_scope.c — the scope the server last told this replica (WELCOME:
 * role, an agent's villages, a dispatcher's county; docs/sync.md, "Scope
 * changes"), kept in lm_meta: what the field tool checks a new row
 * against before it writes it, with the server's own rules
 * (lm_rules_new_row), and what the replica follows when hq moves its user.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lm_rules.h"

int lm_cli_scope_load(lm_replica *r, lm_cli_scope *s)
{
    memset(s, 0, sizeof *s);
    s->role_text = lm_cli_meta(r, "scope_role");
    s->user = lm_cli_meta(r, "user");
    if (!s->role_text || !s->user) {
        lm_cli_scope_free(s);
        return 0;
    }
    s->villages_text = lm_cli_meta(r, "scope_villages");
    s->county = lm_cli_meta(r, "scope_county");
    s->scope.role = lm_role_parse(s->role_text);
    s->scope.user_id = s->user;
    s->scope.county = s->county;
    if (s->scope.role < 0 || (s->scope.role == LM_ROLE_AGENT && !s->villages_text) ||
        (s->scope.role == LM_ROLE_DISPATCHER && !s->county)) {
        lm_cli_scope_free(s);
        return 0;
    }
    if (s->villages_text && *s->villages_text) {
        size_t n = 1;
        for (const char *p = s->villages_text; *p; p++)
            n += *p == ',';
        s->list = lm_calloc(n, sizeof *s->list);
        if (!s->list) {
            lm_cli_scope_free(s);
            return -1;
        }
        const char *start = s->villages_text;
        for (size_t i = 0; i < n; i++) {
            const char *end = strchr(start, ',');
            size_t len = end ? (size_t)(end - start) : strlen(start);
            if (!(s->list[i] = lm_strndup(start, len))) {
                s->n = i;
                lm_cli_scope_free(s);
                return -1;
            }
            s->n = i + 1;
            start = end ? end + 1 : start + len;
        }
    }
    s->scope.villages = (const char *const *)s->list;
    s->scope.n_villages = s->n;
    return 1;
}

void lm_cli_scope_free(lm_cli_scope *s)
{
    for (size_t i = 0; i < s->n; i++)
        lm_free(s->list[i]);
    lm_free(s->list);
    lm_free(s->role_text);
    lm_free(s->user);
    lm_free(s->villages_text);
    lm_free(s->county);
    memset(s, 0, sizeof *s);
}

typedef struct row_view {
    const lm_cli_col *cols;
    size_t n;
} row_view;

static int row_get(void *ud, const char *column, lm_value *out)
{
    const row_view *v = ud;
    out->type = LM_VAL_NULL;
    for (size_t i = 0; i < v->n; i++) {
        if (strcmp(v->cols[i].name, column))
            continue;
        if (v->cols[i].text) {
            out->bytes = lm_malloc(strlen(v->cols[i].text) + 1);
            if (!out->bytes)
                return LM_ENOMEM;
            memcpy(out->bytes, v->cols[i].text, strlen(v->cols[i].text) + 1);
            out->len = strlen(v->cols[i].text);
            out->type = LM_VAL_TEXT;
        } else {
            out->type = LM_VAL_INTEGER;
            out->i = v->cols[i].i;
        }
        break;
    }
    return LM_OK;
}

int lm_cli_check_new_row(const char *cmd, lm_replica *r, const char *table, const lm_cli_col *cols,
                         size_t n)
{
    lm_cli_scope s;
    int loaded = lm_cli_scope_load(r, &s);
    if (loaded < 0)
        return lm_cli_error(cmd, "out of memory");
    row_view v = {cols, n};
    const char *why = NULL;
    int rc = lm_rules_new_row(r, loaded ? &s.scope : NULL, table, row_get, &v, &why);
    int code = -1;
    if (rc && !why) {
        code = lm_cli_error(cmd, "cannot check the new row: %s", lm_replica_errmsg(r));
    } else if (rc && (rc == LM_ESCOPE || rc == LM_EDENIED) && loaded) {
        const char *what = s.scope.role == LM_ROLE_AGENT ? "villages" : "county";
        const char *which = s.scope.role == LM_ROLE_AGENT ? s.villages_text : s.county;
        code = lm_cli_usage_error(cmd,
                                  "refused, nothing written: %s (your %s: %s); the server "
                                  "would refuse it",
                                  why, what, which ? which : "-");
    } else if (rc) {
        code = lm_cli_usage_error(cmd, "refused, nothing written: %s; the server would refuse it",
                                  why);
    }
    if (loaded)
        lm_cli_scope_free(&s);
    return code;
}
