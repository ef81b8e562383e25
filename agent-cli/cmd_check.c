/*
 * cmd_check.c — `lastmile check`: SQLite's full integrity check of the
 * replica on demand. It opens the file on its own (exclusive locking, no
 * writes), so it runs on a file the other commands refuse and on a full
 * disk. Write commands and sync run the cheaper quick check themselves.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
    "usage: lastmile check [--db PATH] [--json]\n"
    "\n"
    "Runs SQLite's integrity check on the replica: every page, record and\n"
    "index. Prints 'ok' or what is damaged (at most 20 findings). A damaged\n"
    "replica takes no new records; 'lastmile salvage --db PATH --out NEW'\n"
    "builds a new one from the server and what is still readable.\n"
    "Exit 0 ok, 3 damaged, 1 when the check could not run.\n"
    "--json keys: db, ok, findings (array of strings), elapsed_ms.\n";

#define MAX_FINDINGS 20

typedef struct findings {
    char *line[MAX_FINDINGS];
    size_t n, more;
} findings;

static void keep_line(const char *line, void *ud)
{
    findings *f = ud;
    if (f->n < MAX_FINDINGS && (f->line[f->n] = lm_strdup(line)) != NULL)
        f->n++;
    else
        f->more++;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int print_json(const char *path, const findings *f, int ok, uint64_t ms)
{
    lm_buf b;
    lm_json j;
    lm_buf_init(&b);
    lm_json_init(&j, &b);
    lm_json_begin_object(&j);
    lm_json_key(&j, "db");
    lm_json_string(&j, path);
    lm_json_key(&j, "ok");
    lm_json_bool(&j, ok);
    lm_json_key(&j, "findings");
    lm_json_begin_array(&j);
    for (size_t i = 0; i < f->n; i++)
        lm_json_string(&j, f->line[i]);
    lm_json_end_array(&j);
    lm_json_key(&j, "elapsed_ms");
    lm_json_uint(&j, ms);
    lm_json_end_object(&j);
    int code = lm_cli_emit_json("check", &j, &b);
    lm_buf_close(&b);
    return code;
}

int lm_cmd_check(int argc, char **argv)
{
    lm_cli_common c = {0};
    lm_args a;
    const lm_opt opts[] = {LM_CLI_COMMON_OPTS(c), LM_CLI_JSON_OPT(c)};
    int code = lm_cli_parse("check", usage, argc, argv, opts, sizeof opts / sizeof opts[0], &a, &c);
    if (code >= 0)
        return code;
    if (a.n_positional)
        return lm_cli_usage_error("check", "unexpected argument '%s'", a.positional[0]);
    const char *path = lm_cli_db_path(c.db);
    if (access(path, F_OK) != 0)
        return lm_cli_error("check", "no replica at %s", path);
    findings f;
    memset(&f, 0, sizeof f);
    char err[256];
    uint64_t started = mono_ms();
    int rc = lm_file_check(path, 1, keep_line, &f, err, sizeof err);
    uint64_t ms = mono_ms() - started;
    if (rc != LM_OK && rc != LM_ECORRUPT) {
        code = lm_cli_error("check", "cannot check %s: %s", path, err);
    } else if (c.json) {
        code = print_json(path, &f, rc == LM_OK, ms);
        if (rc == LM_OK)
            lm_cli_damage_cleared(path);
        else if (code == LM_EXIT_OK)
            code = lm_cli_damaged_error("check", path, f.n ? f.line[0] : err);
    } else if (rc == LM_OK) {
        lm_cli_damage_cleared(path);
        printf("ok: %s passed the integrity check (%.1f s)\n", path, (double)ms / 1000.0);
        code = fflush(stdout) == 0 ? LM_EXIT_OK : LM_EXIT_RUNTIME;
    } else {
        for (size_t i = 0; i < f.n; i++)
            printf("damaged: %s\n", f.line[i]);
        if (f.more)
            printf("damaged: ... and %zu more findings\n", f.more);
        fflush(stdout);
        code = lm_cli_damaged_error("check", path, f.n ? f.line[0] : err);
    }
    for (size_t i = 0; i < f.n; i++)
        lm_free(f.line[i]);
    return code;
}
