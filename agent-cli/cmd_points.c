/*
 * cmd_points.c — `lastmile points`: the collection points (villages) a
 * dispatcher sees, with what waits there for pickup:
 *   village row    (product "*"): collected, loaded, waiting = collected -
 *                  loaded;
 *   product rows   (village, product, grade): net collected weight, and
 *                  loaded = 0, waiting = collected while nothing has been
 *                  loaded at the village. A load is one weight per stop
 *                  (`stop load --kg`), not per product, so once the village
 *                  has loads their split over products is unknown: loaded
 *                  and waiting are NULL ("-") there rather than a guess.
 * Net = weight_g + Σ adjustments, voided collections excluded; with --date
 * only collections of days <= D (UTC+8) and loads of routes dated <= D.
 * A stop's load is its latest correction (`stop correct`) when it has one,
 * else what the agent recorded; `corrected` counts the village's corrected
 * loads.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "table.h"

static const char usage[] =
    "usage: lastmile points [--date YYYY-MM-DD] [--db PATH] [--json]\n"
    "\n"
    "Collection points (villages) on this replica with the weight waiting for\n"
    "pickup, in grams: a line per village (product '*') with collected, loaded\n"
    "and waiting = collected - loaded, and per product and grade the collected\n"
    "weight, with loaded 0 and waiting = collected while nothing was loaded at\n"
    "the village ('-' once it was: loads are not recorded per product). A load\n"
    "corrected with 'stop correct' counts as corrected; the village line's\n"
    "'corrected' says how many of its loads were.\n"
    "--date counts collections and routes up to that day.\n";

static const char sql[] =
    "WITH net AS (SELECT c.village, c.product, c.grade, c.weight_g + COALESCE((SELECT"
    "   SUM(delta_weight_g) FROM adjustments a WHERE a.collection_id = c.id), 0) AS w"
    "   FROM collections c WHERE (?1 IS NULL OR"
    "   date(c.collected_at / 1000, 'unixepoch', " LM_TEXT_SQL_OFFSET ") <= ?1) AND NOT EXISTS"
    "   (SELECT 1 FROM adjustments a WHERE a.collection_id = c.id AND a.voided = 1)),"
    /* a stop's load: its latest correction (load_corrections), else what
     * the agent recorded */
    " lc AS (SELECT s.id, s.village, r.date, s.loaded_weight_g AS recorded,"
    "   (SELECT x.loaded_weight_g FROM load_corrections x WHERE x.stop_id = s.id"
    "     ORDER BY x.\"at\" DESC, x.id DESC LIMIT 1) AS corrected"
    "   FROM route_stops s JOIN routes r ON r.id = s.route_id),"
    " ld AS (SELECT village, SUM(COALESCE(corrected, recorded, 0)) AS w,"
    "   COUNT(corrected) AS n FROM lc WHERE ?1 IS NULL OR date <= ?1 GROUP BY village)"
    " SELECT * FROM ("
    " SELECT COALESCE(v.county, '?') AS county, n.village AS village, n.product AS product,"
    "   n.grade AS grade, SUM(n.w) AS collected_g,"
    "   CASE WHEN COALESCE((SELECT w FROM ld WHERE ld.village = n.village), 0) = 0"
    "    THEN 0 END AS loaded_g,"
    "   CASE WHEN COALESCE((SELECT w FROM ld WHERE ld.village = n.village), 0) = 0"
    "    THEN SUM(n.w) END AS waiting_g, NULL AS corrected"
    "   FROM net n LEFT JOIN villages v ON v.name = n.village"
    "   GROUP BY n.village, n.product, n.grade"
    " UNION ALL SELECT COALESCE(v.county, '?'), n.village, '*', '*', SUM(n.w),"
    "   COALESCE((SELECT w FROM ld WHERE ld.village = n.village), 0),"
    "   SUM(n.w) - COALESCE((SELECT w FROM ld WHERE ld.village = n.village), 0),"
    "   COALESCE((SELECT n FROM ld WHERE ld.village = n.village), 0)"
    "   FROM net n LEFT JOIN villages v ON v.name = n.village GROUP BY n.village)"
    " ORDER BY county, village, product = '*', product, grade";

int lm_cmd_points(int argc, char **argv)
{
    lm_cli_common c = {0};
    const char *date = NULL;
    lm_args a;
    const lm_opt opts[] = {
        LM_CLI_COMMON_OPTS(c), LM_CLI_JSON_OPT(c), {"date", LM_OPT_VALUE, &date, NULL}};
    const char *cmd = "points";
    int code = lm_cli_parse(cmd, usage, argc, argv, opts, sizeof opts / sizeof opts[0], &a, &c);
    if (code >= 0)
        return code;
    if (a.n_positional)
        return lm_cli_usage_error(cmd, "unexpected argument '%s'", a.positional[0]);
    const char *why = NULL;
    if (date && lm_date_parse(date, NULL, &why) != LM_OK)
        return lm_cli_usage_error(cmd, "--date '%s' %s", date, why);
    lm_replica *r;
    if ((code = lm_cli_open(cmd, c.db, 1, &r)) != LM_EXIT_OK)
        return code;
    sqlite3 *db = lm_replica_db(r);
    sqlite3_stmt *st = NULL;
    lm_buf b;
    lm_json j;
    lm_table t;
    lm_buf_init(&b);
    lm_json_init(&j, &b);
    lm_table_init(&t, 8);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        code = lm_cli_error(cmd, "cannot read: %s", sqlite3_errmsg(db));
        goto fail_read;
    }
    if (date)
        sqlite3_bind_text(st, 1, date, -1, SQLITE_STATIC);
    lm_cli_bind_utc_offset(st, lm_text_utc_offset_default());
    if (c.json)
        lm_json_begin_array(&j);
    int kinds[8];
    for (int k = 0; k < 8 && !c.json; k++)
        kinds[k] = lm_cli_table_head(&t, (size_t)k, sqlite3_column_name(st, k));
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (c.json)
            lm_json_begin_object(&j);
        for (int k = 0; k < 8; k++) {
            if (c.json) {
                lm_json_key(&j, sqlite3_column_name(st, k));
                lm_cli_json_column(&j, st, k);
            } else {
                lm_cli_table_cell(&t, st, k, kinds[k], lm_text_utc_offset_default(), "-");
            }
        }
        if (c.json)
            lm_json_end_object(&j);
    }
    if (step != SQLITE_DONE) {
        code = lm_cli_error(cmd, "cannot read: %s", sqlite3_errmsg(db));
        goto fail_read;
    }
    if (c.json) {
        lm_json_end_array(&j);
        code = lm_cli_emit_json(cmd, &j, &b);
    } else if (lm_table_print(&t, stdout) != LM_OK) {
        code = lm_cli_error(cmd, "cannot print the table");
    }
fail_read:
    sqlite3_finalize(st);
    lm_table_close(&t);
    lm_buf_close(&b);
    lm_replica_close(r);
    return code;
}
