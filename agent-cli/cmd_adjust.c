/*
 * cmd_adjust.c — `lastmile adjust`: a correction to a collection, as a new
 * ledger row (the collection itself is immutable): a weight delta with its
 * money delta at the collection's unit price, or a void that takes the
 * collection out of every total.
 */
#include <stdio.h>
#include <string.h>
#include <sqlite3.h>

#include "cli.h"
#include "money.h"

static const char usage[] =
    "usage: lastmile adjust --collection ID (--delta-kg KG | --void) --reason TEXT\n"
    "                       [--db PATH] [--json]\n"
    "\n"
    "Corrects a collection with an adjustment record. --delta-kg (may be\n"
    "negative, not zero, at most 3 decimals) changes the weight; the money\n"
    "delta is delta_g x unit_price_fen / 1000 rounded half up (away from zero).\n"
    "--void takes the whole collection out of every total. A void collection\n"
    "cannot be adjusted again, and no delta may bring its weight below zero or\n"
    "over 1000000 kg (nor be larger than that itself).\n"
    "Prints the new adjustment id as the last line.\n";

#define MAX_REASON 1000

/* The collection's price and current totals, read inside the transaction. */
typedef struct target {
    int64_t price_fen;
    int64_t weight_g; /* weight_g + sum of deltas */
    int voided;
} target;

/* 1 when found (t filled), 0 when not, LM_EDB on error. */
static int load_target(sqlite3 *db, const char *id, target *t)
{
    sqlite3_stmt *st = NULL;
    int rc;
    memset(t, 0, sizeof t[0]);
    if (sqlite3_prepare_v2(db,
                           "SELECT c.unit_price_fen, c.weight_g + "
                           "  COALESCE((SELECT SUM(delta_weight_g) FROM adjustments a "
                           "            WHERE a.collection_id = c.id), 0), "
                           "  EXISTS (SELECT 1 FROM adjustments a "
                           "          WHERE a.collection_id = c.id AND a.voided = 1) "
                           "FROM collections c WHERE c.id = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return LM_EDB;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        t->price_fen = sqlite3_column_int64(st, 0);
        t->weight_g = sqlite3_column_int64(st, 1);
        t->voided = sqlite3_column_int(st, 2);
        rc = 1;
    } else {
        rc = rc == SQLITE_DONE ? 0 : LM_EDB;
    }
    sqlite3_finalize(st);
    return rc;
}

int lm_cmd_adjust(int argc, char **argv)
{
    lm_cli_common c = {0};
    const char *collection = NULL, *delta = NULL, *reason = NULL, *why;
    int is_void = 0;
    lm_args a;
    const lm_opt opts[] = {
        LM_CLI_COMMON_OPTS(c),
        LM_CLI_JSON_OPT(c),
        {"collection", LM_OPT_VALUE, &collection, NULL},
        {"delta-kg", LM_OPT_VALUE, &delta, NULL},
        {"void", LM_OPT_FLAG, NULL, &is_void},
        {"reason", LM_OPT_VALUE, &reason, NULL},
    };
    const char *cmd = "adjust";
    int code = lm_cli_parse(cmd, usage, argc, argv, opts, sizeof opts / sizeof opts[0], &a, &c);
    if (code >= 0)
        return code;
    if (a.n_positional)
        return lm_cli_usage_error(cmd, "unexpected argument '%s'", a.positional[0]);
    if (!collection)
        return lm_cli_usage_error(cmd, "--collection is required");
    if (!delta == !is_void)
        return lm_cli_usage_error(cmd, "give exactly one of --delta-kg and --void");
    if (!reason || !*reason)
        return lm_cli_usage_error(cmd, "--reason is required");
    if (strlen(reason) > MAX_REASON)
        return lm_cli_usage_error(cmd, "--reason is limited to %d bytes", MAX_REASON);
    if ((code = lm_cli_check_text(cmd, "reason", "adjustments", "reason", reason)) >= 0)
        return code;
    int64_t delta_g = 0, delta_fen = 0;
    if (delta && lm_money_parse_delta_kg(delta, &delta_g, &why) != LM_OK)
        return lm_cli_usage_error(cmd, "--delta-kg '%s' %s", delta, why);

    lm_replica *r;
    if ((code = lm_cli_open(cmd, c.db, LM_CLI_USER | LM_CLI_WRITE, &r)) != LM_EXIT_OK)
        return code;
    sqlite3 *db = lm_replica_db(r);
    char *user = lm_cli_meta(r, "user");
    char id[LM_ID_SIZE];
    sqlite3_stmt *st = NULL;
    target t;

    if (lm_cli_exec(db, "BEGIN IMMEDIATE") != LM_OK) {
        code = lm_cli_sql_error(cmd, db, "cannot start a transaction");
        goto fail_begin;
    }
    int found = load_target(db, collection, &t);
    if (found != 1) {
        code = found < 0 ? lm_cli_sql_error(cmd, db, "cannot read collections")
                         : lm_cli_error(cmd, "unknown collection '%s'", collection);
        goto fail_tx;
    }
    if (t.voided) {
        code = lm_cli_error(cmd, "collection '%s' is already void", collection);
        goto fail_tx;
    }
    if (delta) {
        if (lm_money_amount_fen(delta_g, t.price_fen, &delta_fen) != LM_OK) {
            code = lm_cli_error(cmd, "--delta-kg %s is too large", delta);
            goto fail_tx;
        }
        /* Written so that a weight stored out of range (plain SQL on a
         * replica) cannot overflow here; a delta toward the range is fine. */
        if (delta_g < 0 && t.weight_g < -delta_g) {
            code =
                lm_cli_error(cmd, "--delta-kg %s would bring the weight below zero (it is %lld g)",
                             delta, (long long)t.weight_g);
            goto fail_tx;
        }
        if (delta_g > 0 && t.weight_g > LM_MONEY_MAX_G - delta_g) {
            code = lm_cli_error(cmd,
                                "--delta-kg %s would bring the weight over the limit of 1000000 kg "
                                "(it is %lld g)",
                                delta, (long long)t.weight_g);
            goto fail_tx;
        }
    }
    code = lm_cli_insert_prepare(cmd, r,
                                 "INSERT INTO adjustments (id, collection_id, delta_weight_g, "
                                 "delta_amount_fen, voided, reason, \"by\", \"at\") "
                                 "VALUES (?,?,?,?,?,?,?,?)",
                                 id, &st);
    if (code)
        goto fail_tx;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, collection, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, delta_g);
    sqlite3_bind_int64(st, 4, delta_fen);
    sqlite3_bind_int(st, 5, is_void);
    sqlite3_bind_text(st, 6, reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)lm_cli_now_ms());
    code = lm_cli_insert_commit(cmd, db, st);
    if (code)
        goto fail_tx;
    sqlite3_finalize(st);
    lm_free(user);
    lm_replica_close(r);
    return lm_cli_print_id(cmd, id, c.json);

fail_tx:
    sqlite3_finalize(st);
    lm_cli_exec(db, "ROLLBACK");
fail_begin:
    lm_free(user);
    lm_replica_close(r);
    return code;
}
