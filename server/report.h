/*
 * report.h — the volume report: per group of collections, weight_g
 * (collections plus adjustments), amount_fen and count, with voided
 * collections left out (docs/schema.md, ledger rules). Exact integer sums.
 */
#ifndef LM_SERVER_REPORT_H
#define LM_SERVER_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "lm_sync.h"

enum lm_report_dim {
    LM_DIM_AGENT,
    LM_DIM_VILLAGE,
    LM_DIM_PRODUCT,
    LM_DIM_GRADE,
    LM_DIM_DAY,
    LM_DIM_COUNT_
};

enum lm_report_format { LM_FMT_TABLE, LM_FMT_CSV, LM_FMT_JSON };

/* A purchase dated more than this after the server received it was
 * recorded on a phone whose clock runs ahead: `report volumes --by day`
 * and `report agents` count them as future_dated (one day, in ms). A
 * purchase the server has not stamped (received_at NULL or 0) is not. */
#define LM_FUTURE_DATED_MS_SQL "86400000"

typedef struct lm_report_spec {
    int dims[LM_DIM_COUNT_]; /* in the order asked */
    size_t n_dims;
    int format;
} lm_report_spec;

/* Parses "agent,village,product,grade,day" (any subset, any order, no
 * repeats; NULL or "" = no grouping). LM_EINVAL with a message in err. */
int lm__report_parse_by(const char *by, lm_report_spec *spec, char *err, size_t err_size);
/* "table", "csv", "json" -> enum; -1 when unknown. */
int lm__report_parse_format(const char *name);
/* Opens the server database read-only with a busy timeout, so a report can
 * run beside a serving server (WAL). On failure prints "lastmile-server
 * CMD: PATH: reason" and returns NULL. Close with sqlite3_close. */
sqlite3 *lm__report_open(const char *path, const char *cmd);

/* Runs the report on db (borrowed) and prints it to out, only once every
 * row was read: on failure nothing is printed and err says why (LM_ERANGE:
 * a total does not fit 64-bit integers; see lm__hq_rows_report). */
int lm__report_volumes(sqlite3 *db, const lm_report_spec *spec, FILE *out, char *err,
                       size_t err_size);

#endif
