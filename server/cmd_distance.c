/*
 * cmd_distance.c — `lastmile-server distance import` and `distance set`:
 * the road distances and per-county routing settings headquarters gives
 * the dispatchers for `lastmile route suggest` (docs/dispatch.md). Both
 * write synced tables (road_distances, routing_settings; schema 15) through
 * the replica's connection, so a county's dispatchers receive them on
 * their next sync. An import is one transaction: a bad line names
 * FILE:LINE and nothing is written.
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hq.h"
#include "lm_text.h"
#include "money.h"
#include "args.h"
#include "register_file.h"

static const char usage[] =
    "usage: lastmile-server distance import --db PATH --csv FILE\n"
    "       lastmile-server distance set --db PATH --county C [--detour F]\n"
    "                                    [--speed-kmh V] [--stop-minutes M]\n"
    "\n"
    "import: FILE is UTF-8 CSV (a byte-order mark and CRLF line ends are fine)\n"
    "with the header from,to,km or from,to,km,minutes, then one line per road:\n"
    "two places (villages or warehouses of one county), the road distance in km\n"
    "(at most 3 decimals) and optionally the driving time in minutes (at most 1\n"
    "decimal; empty = unknown). A pair is one direction; route suggest uses the\n"
    "reverse pair when only that one is known. Lines add or replace pairs; pairs\n"
    "not in the file are kept. A bad line (unknown place, negative or\n"
    "non-numeric value, a pair listed twice) names FILE:LINE and nothing is\n"
    "written.\n"
    "\n"
    "set: a county's routing settings: --detour, the factor on the great-circle\n"
    "distance where no road distance is known (1 to 5, default 1.3); --speed-kmh,\n"
    "the average speed for a route's time where no minutes are known (default\n"
    "30); --stop-minutes, the time at each stop (default 0).\n";

#define LINE_MAX_BYTES 4096
#define MAX_KM 10000             /* one road: more is a typo */
#define MAX_MINUTES 10000        /* a week on the road */
#define MAX_STOP_MINUTES 600     /* ten hours at one stop */
#define MAX_SPEED_M_PER_H 200000 /* 200 km/h */

/* The county of a place, village or warehouse (warehouses when the
 * replica has them), as a new string; NULL when unknown. */
static char *place_county(sqlite3 *db, int have_warehouses, const char *name)
{
    const char *sql = have_warehouses ? "SELECT county FROM villages WHERE name = ?1 UNION ALL"
                                        " SELECT county FROM warehouses WHERE name = ?1 LIMIT 1"
                                      : "SELECT county FROM villages WHERE name = ?1";
    sqlite3_stmt *st = NULL;
    char *out = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        out = lm_strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
}

/* A decimal with at most places decimals in 0..max × 10^places; 0 or a
 * fixed phrase. */
static const char *parse_amount(const char *s, int places, int64_t max, int64_t *out)
{
    const char *why = NULL;
    if (lm_money_parse_decimal(s, places, out, &why) != LM_OK)
        return why;
    if (*out < 0)
        return "is negative";
    for (int i = 0; i < places; i++)
        max *= 10;
    return *out > max ? "is too large" : NULL;
}

/* The pairs of text (modified in place) into road_distances, inside the
 * caller's transaction. */
static int load(sqlite3 *db, char *text, const char *path, int *n_new, int *n_replaced, char *err,
                size_t err_size)
{
    int have_wh = lm__hq_exists(db, "sqlite_master", "name", "warehouses") == 1;
    sqlite3_stmt *ins = NULL, *seen = NULL;
    if (sqlite3_exec(db,
                     "CREATE TEMP TABLE IF NOT EXISTS lm_distance_lines(id TEXT PRIMARY KEY,"
                     " line INTEGER); DELETE FROM lm_distance_lines;",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO road_distances(id, county, from_place, to_place, metres,"
                           " seconds) VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(id) DO UPDATE"
                           " SET metres = excluded.metres, seconds = excluded.seconds",
                           -1, &ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO lm_distance_lines VALUES(?1, ?2) ON CONFLICT(id) DO"
                           " UPDATE SET id = id RETURNING line",
                           -1, &seen, NULL) != SQLITE_OK) {
        snprintf(err, err_size, "%s", sqlite3_errmsg(db));
        sqlite3_finalize(ins);
        return LM_EDB;
    }
    int rc = LM_OK, n_fields = 0, n;
    lm__csv_lines it;
    char *f[4];
    lm__csv_lines_init(&it, text, LINE_MAX_BYTES);
    while (rc == LM_OK && (n = lm__csv_next(&it, f, 4)) != LM__CSV_END) {
        long no = it.no;
        if (n == LM__CSV_LONG) {
            rc = lm__csv_long(&it, path, err, err_size);
            break;
        }
        if (!n_fields) { /* the header */
            if ((n != 3 && n != 4) || strcmp(f[0], "from") || strcmp(f[1], "to") ||
                strcmp(f[2], "km") || (n == 4 && strcmp(f[3], "minutes"))) {
                snprintf(err, err_size,
                         "%s:%ld: the first line must be the header from,to,km or"
                         " from,to,km,minutes",
                         path, no);
                rc = LM_EINVAL;
            }
            n_fields = n;
            continue;
        }
        if (n != n_fields) {
            snprintf(err, err_size, "%s:%ld: expected %s", path, no,
                     n_fields == 3 ? "from,to,km" : "from,to,km,minutes");
            rc = LM_EINVAL;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (!*f[i] || strchr(f[i], '|')) {
                snprintf(err, err_size, "%s:%ld: %s place name", path, no,
                         *f[i] ? "a '|' in a" : "an empty");
                rc = LM_EINVAL;
            }
        }
        if (rc == LM_OK && strcmp(f[0], f[1]) == 0) {
            snprintf(err, err_size, "%s:%ld: from and to are both '%s'", path, no, f[0]);
            rc = LM_EINVAL;
        }
        if (rc != LM_OK)
            break;
        int64_t metres = 0, tenths = -1;
        const char *why = parse_amount(f[2], 3, MAX_KM, &metres);
        if (why) {
            snprintf(err, err_size, "%s:%ld: km '%s' %s", path, no, f[2], why);
            rc = LM_EINVAL;
            break;
        }
        if (n_fields == 4 && *f[3] && (why = parse_amount(f[3], 1, MAX_MINUTES, &tenths))) {
            snprintf(err, err_size, "%s:%ld: minutes '%s' %s", path, no, f[3], why);
            rc = LM_EINVAL;
            break;
        }
        char *ca = place_county(db, have_wh, f[0]), *cb = place_county(db, have_wh, f[1]);
        if (!ca || !cb || strcmp(ca, cb) != 0) {
            if (!ca || !cb)
                snprintf(err, err_size, "%s:%ld: unknown place '%s' (not a village%s)", path, no,
                         ca ? f[1] : f[0], have_wh ? " or warehouse" : " in the catalog");
            else
                snprintf(err, err_size,
                         "%s:%ld: '%s' is in county %s, '%s' in %s (a route serves one county)",
                         path, no, f[0], ca, f[1], cb);
            lm_free(ca);
            lm_free(cb);
            rc = LM_EINVAL;
            break;
        }
        char id[2 * LINE_MAX_BYTES + 2];
        snprintf(id, sizeof id, "%s|%s", f[0], f[1]);
        sqlite3_bind_text(seen, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(seen, 2, no);
        long first = sqlite3_step(seen) == SQLITE_ROW ? (long)sqlite3_column_int64(seen, 0) : no;
        sqlite3_reset(seen);
        if (first != no) {
            snprintf(err, err_size, "%s:%ld: %s to %s is listed twice (line %ld)", path, no, f[0],
                     f[1], first);
            lm_free(ca);
            lm_free(cb);
            rc = LM_EINVAL;
            break;
        }
        int had = lm__hq_exists(db, "road_distances", "id", id);
        sqlite3_bind_text(ins, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 2, ca, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 3, f[0], -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 4, f[1], -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ins, 5, metres);
        if (tenths >= 0)
            sqlite3_bind_int64(ins, 6, tenths * 6);
        else
            sqlite3_bind_null(ins, 6);
        lm_free(ca);
        lm_free(cb);
        if (sqlite3_step(ins) != SQLITE_DONE) {
            snprintf(err, err_size, "%s:%ld: %s", path, no, sqlite3_errmsg(db));
            rc = LM_EDB;
        }
        sqlite3_reset(ins);
        *n_new += had == 0;
        *n_replaced += had == 1;
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(seen);
    if (rc == LM_OK && !n_fields) {
        snprintf(err, err_size, "%s: empty (the header from,to,km[,minutes] is needed)", path);
        rc = LM_EINVAL;
    } else if (rc == LM_OK && *n_new + *n_replaced == 0) {
        snprintf(err, err_size, "%s: no distances after the header", path);
        rc = LM_EINVAL;
    }
    return rc;
}

static int cmd_import(int argc, char **argv)
{
    const char *db = NULL, *csv = NULL;
    lm_opt opts[] = {{"db", LM_OPT_VALUE, &db, NULL}, {"csv", LM_OPT_VALUE, &csv, NULL}};
    int prc = lm_args_run(argc, argv, opts, sizeof opts / sizeof opts[0],
                          "lastmile-server distance import", usage, "db,csv");
    if (prc != LM_ARGS_GO)
        return prc;
    char err[1024] = "";
    char *text = NULL;
    size_t len = 0;
    if (lm__register_file_read(csv, NULL, &text, &len, err, sizeof err) != LM_OK) {
        fprintf(stderr, "lastmile-server distance import: %s\n", err);
        return 1;
    }
    int result = 1, n_new = 0, n_replaced = 0;
    lm_replica *r = lm__hq_open(db, "distance import");
    if (!r)
        goto fail_open;
    sqlite3 *sdb = lm_replica_db(r);
    if (sqlite3_exec(sdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, sizeof err, "%s", sqlite3_errmsg(sdb));
        goto fail_tx;
    }
    if (load(sdb, text, csv, &n_new, &n_replaced, err, sizeof err) != LM_OK) {
        sqlite3_exec(sdb, "ROLLBACK", NULL, NULL, NULL);
        goto fail_tx;
    }
    if (sqlite3_exec(sdb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, sizeof err, "%s", sqlite3_errmsg(sdb));
        sqlite3_exec(sdb, "ROLLBACK", NULL, NULL, NULL);
        goto fail_tx;
    }
    if (lm_replica_stamp(r, NULL) != LM_OK) {
        snprintf(err, sizeof err, "%s", lm_replica_errmsg(r));
        goto fail_tx;
    }
    printf("imported %d distances (%d new, %d replaced)\n", n_new + n_replaced, n_new, n_replaced);
    result = 0;
    goto done;
fail_tx:
    fprintf(stderr, "lastmile-server distance import: %s\n", err);
done:
    lm_replica_close(r);
fail_open:
    lm_free(text);
    return result;
}

static int cmd_set(int argc, char **argv)
{
    const char *db = NULL, *county = NULL, *detour = NULL, *speed = NULL, *stop = NULL;
    const char *cmd = "lastmile-server distance set";
    lm_opt opts[] = {{"db", LM_OPT_VALUE, &db, NULL},
                     {"county", LM_OPT_VALUE, &county, NULL},
                     {"detour", LM_OPT_VALUE, &detour, NULL},
                     {"speed-kmh", LM_OPT_VALUE, &speed, NULL},
                     {"stop-minutes", LM_OPT_VALUE, &stop, NULL}};
    int prc = lm_args_run(argc, argv, opts, sizeof opts / sizeof opts[0], cmd, usage, "db,county");
    if (prc != LM_ARGS_GO)
        return prc;
    if (!detour && !speed && !stop) {
        fprintf(stderr, "%s: give --detour, --speed-kmh or --stop-minutes\n", cmd);
        return 2;
    }
    int64_t permille = 0, speed_m = 0, stop_tenths = 0;
    const char *why = NULL;
    if (detour && ((why = parse_amount(detour, 3, 5, &permille)) || permille < 1000)) {
        fprintf(stderr, "%s: --detour '%s' %s\n", cmd, detour,
                why ? why : "is below 1 (a road is never shorter than the straight line)");
        return 2;
    }
    if (speed &&
        ((why = parse_amount(speed, 3, MAX_SPEED_M_PER_H / 1000, &speed_m)) || speed_m == 0)) {
        fprintf(stderr, "%s: --speed-kmh '%s' %s\n", cmd, speed, why ? why : "is zero");
        return 2;
    }
    if (stop && (why = parse_amount(stop, 1, MAX_STOP_MINUTES, &stop_tenths))) {
        fprintf(stderr, "%s: --stop-minutes '%s' %s\n", cmd, stop, why);
        return 2;
    }
    lm_replica *r = lm__hq_open(db, "distance set");
    if (!r)
        return 1;
    int result = 1;
    if (lm__hq_exists(lm_replica_db(r), "villages", "county", county) != 1) {
        fprintf(stderr, "%s: unknown county '%s' (no village of the catalog is in it)\n", cmd,
                county);
        goto done;
    }
    char err[512] = "";
    lm_hq_param p[] = {{county, 0, LM_HQ_INT, 0},
                       {NULL, detour ? permille : -1, LM_HQ_INT, 0},
                       {NULL, speed ? speed_m : -1, LM_HQ_INT, 0},
                       {NULL, stop ? stop_tenths * 6 : -1, LM_HQ_INT, 0}};
    if (lm__hq_write(r,
                     "INSERT INTO routing_settings(county, detour_permille, speed_m_per_h,"
                     " stop_seconds) VALUES(?1, NULLIF(?2, -1), NULLIF(?3, -1), NULLIF(?4, -1))"
                     " ON CONFLICT(county) DO UPDATE SET"
                     " detour_permille = COALESCE(excluded.detour_permille, detour_permille),"
                     " speed_m_per_h = COALESCE(excluded.speed_m_per_h, speed_m_per_h),"
                     " stop_seconds = COALESCE(excluded.stop_seconds, stop_seconds)",
                     p, 4, NULL, err, sizeof err) != LM_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        goto done;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(lm_replica_db(r),
                           "SELECT COALESCE(detour_permille, 1300), COALESCE(speed_m_per_h, 30000),"
                           " COALESCE(stop_seconds, 0) FROM routing_settings WHERE county = ?1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, county, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            long long d = sqlite3_column_int64(st, 0), v = sqlite3_column_int64(st, 1),
                      s = sqlite3_column_int64(st, 2);
            fputs("county ", stdout);
            lm_text_fput(stdout, county);
            printf(": detour %lld.%03lld, speed %lld.%03lld km/h, %lld.%lld minutes a stop\n",
                   d / 1000, d % 1000, v / 1000, v % 1000, s / 60, s % 60 / 6);
        }
        sqlite3_finalize(st);
    }
    result = 0;
done:
    lm_replica_close(r);
    return result;
}

int lm__cmd_distance(int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "import") == 0)
        return cmd_import(argc - 1, argv + 1);
    if (argc >= 1 && strcmp(argv[0], "set") == 0)
        return cmd_set(argc - 1, argv + 1);
    int help = argc >= 1 && (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0);
    fputs(usage, help ? stdout : stderr);
    return help ? 0 : 2;
}
