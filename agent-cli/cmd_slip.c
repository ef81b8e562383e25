/*
 * cmd_slip.c — `lastmile slip COLLECTION`: the purchase slip the farmer
 * keeps, laid out for a 58 mm (32 columns) or 80 mm (48 columns) receipt
 * printer. Widths count Chinese characters as two columns (lm_text_width);
 * a value too long for its line wraps, never overflows the paper. Every
 * value passes through lm_text_display, so a name typed on another phone
 * cannot drive the printer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "cli.h"
#include "lm_text.h"

static const char usage[] =
    "usage: lastmile slip COLLECTION [--width 32|48] [--utc-offset +08:00] [--db PATH]\n"
    "\n"
    "Prints the purchase slip of one collection of this replica for the farmer:\n"
    "date and time (local), agent, farmer, village, product and grade, weight,\n"
    "price and amount, each adjustment, the net to pay and a line to sign.\n"
    "--width is the printer's columns: 32 (58 mm paper, the default) or 48\n"
    "(80 mm). Chinese characters count as two columns.\n";

#define LABEL_COLS 9

typedef struct slip {
    int width;
    FILE *out;
} slip;

static void rule(const slip *s, char c)
{
    for (int i = 0; i < s->width; i++)
        fputc(c, s->out);
    fputc('\n', s->out);
}

/* Bytes of the UTF-8 sequence at p (1 for an invalid byte). */
static size_t seq_len(const unsigned char *p)
{
    size_t n = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 1;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 1;
    return n;
}

/* "label    value", the value wrapped at the paper's edge by display
 * columns, continuation lines indented under it. */
static void line(const slip *s, const char *label, const char *value)
{
    char *shown = lm_text_display(value ? value : "");
    const char *v = shown ? shown : "?";
    int room = s->width - LABEL_COLS;
    fprintf(s->out, "%-*s", LABEL_COLS, label);
    int used = 0;
    for (const unsigned char *p = (const unsigned char *)v; *p;) {
        size_t n = seq_len(p);
        char one[5] = {0};
        memcpy(one, p, n);
        int w = (int)lm_text_width(one);
        if (used + w > room) {
            fprintf(s->out, "\n%*s", LABEL_COLS, "");
            used = 0;
        }
        fputs(one, s->out);
        used += w;
        p += n;
    }
    fputc('\n', s->out);
    lm_free(shown);
}

static void centred(const slip *s, const char *text)
{
    int pad = (s->width - (int)lm_text_width(text)) / 2;
    fprintf(s->out, "%*s%s\n", pad > 0 ? pad : 0, "", text);
}

static const char collection_sql[] =
    "SELECT c.collected_at, c.agent_id, f.name, c.village, c.product, c.grade, c.weight_g,"
    " c.unit_price_fen, c.amount_fen, f.registered_poor, c.id"
    " FROM collections c LEFT JOIN farmers f ON f.id = c.farmer_id WHERE c.id = ?1";
static const char adjustments_sql[] =
    "SELECT delta_weight_g, delta_amount_fen, voided, reason, \"at\" FROM adjustments"
    " WHERE collection_id = ?1 ORDER BY \"at\", id";

/* The adjustments, one line each; the net weight and amount come back. */
static int print_adjustments(const slip *s, sqlite3 *db, const char *id, int offset, int64_t *net_g,
                             int64_t *net_fen, int *voided)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, adjustments_sql, -1, &st, NULL) != SQLITE_OK)
        return LM_EDB;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char when[32], kg[LM_TEXT_UNIT_SIZE], yuan[LM_TEXT_UNIT_SIZE], text[160];
        lm_text_time(sqlite3_column_int64(st, 4), offset, when, sizeof when);
        if (sqlite3_column_int(st, 2)) {
            *voided = 1;
            snprintf(text, sizeof text, "VOID");
        } else {
            *net_g += sqlite3_column_int64(st, 0);
            *net_fen += sqlite3_column_int64(st, 1);
            lm_text_kg(sqlite3_column_int64(st, 0), kg, sizeof kg);
            lm_text_yuan(sqlite3_column_int64(st, 1), yuan, sizeof yuan);
            snprintf(text, sizeof text, "%s kg %s", kg, yuan);
        }
        line(s, "Adjusted", text);
        line(s, "", when);
        line(s, "", (const char *)sqlite3_column_text(st, 3));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? LM_OK : LM_EDB;
}

static int print_slip(const slip *s, sqlite3 *db, const char *id, int offset)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, collection_sql, -1, &st, NULL) != SQLITE_OK)
        return LM_EDB;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? LM_ENOTFOUND : LM_EDB;
    }
    char when[32], kg[LM_TEXT_UNIT_SIZE], price[LM_TEXT_UNIT_SIZE + 4], yuan[LM_TEXT_UNIT_SIZE];
    char what[300];
    int64_t g = sqlite3_column_int64(st, 6), fen = sqlite3_column_int64(st, 8);
    lm_text_time(sqlite3_column_int64(st, 0), offset, when, sizeof when);
    snprintf(what, sizeof what, "%s, grade %s", sqlite3_column_text(st, 4),
             sqlite3_column_text(st, 5));
    rule(s, '=');
    centred(s, "收购单  PURCHASE SLIP");
    rule(s, '=');
    line(s, "Date", when);
    line(s, "Agent", (const char *)sqlite3_column_text(st, 1));
    line(s, "Farmer", (const char *)sqlite3_column_text(st, 2));
    line(s, "Village", (const char *)sqlite3_column_text(st, 3));
    line(s, "Product", what);
    lm_text_kg(g, kg, sizeof kg);
    strcat(kg, " kg");
    line(s, "Weight", kg);
    lm_text_yuan(sqlite3_column_int64(st, 7), price, sizeof price - 3);
    strcat(price, "/kg");
    line(s, "Price", price);
    lm_text_yuan(fen, yuan, sizeof yuan);
    line(s, "Amount", yuan);
    int64_t net_g = g, net_fen = fen;
    int voided = 0;
    rc = print_adjustments(s, db, id, offset, &net_g, &net_fen, &voided);
    if (rc == LM_OK) {
        rule(s, '-');
        if (voided) {
            line(s, "To pay", "nothing: this purchase is void");
        } else {
            lm_text_kg(net_g, kg, sizeof kg);
            strcat(kg, " kg");
            lm_text_yuan(net_fen, yuan, sizeof yuan);
            line(s, "Net", kg);
            line(s, "To pay", yuan);
        }
        line(s, "Slip", (const char *)sqlite3_column_text(st, 10));
        fputc('\n', s->out);
        char sign[64];
        int n = s->width - LABEL_COLS;
        memset(sign, '_', (size_t)n);
        sign[n] = 0;
        line(s, "Signed", sign);
        rule(s, '=');
    }
    sqlite3_finalize(st);
    return rc;
}

int lm_cmd_slip(int argc, char **argv)
{
    lm_cli_common c = {0};
    const char *width = NULL, *offset_arg = NULL;
    lm_args a;
    const lm_opt opts[] = {LM_CLI_COMMON_OPTS(c),
                           {"width", LM_OPT_VALUE, &width, NULL},
                           {"utc-offset", LM_OPT_VALUE, &offset_arg, NULL}};
    const char *cmd = "slip";
    int code = lm_cli_parse(cmd, usage, argc, argv, opts, sizeof opts / sizeof opts[0], &a, &c);
    if (code >= 0)
        return code;
    if (a.n_positional != 1)
        return lm_cli_usage_error(cmd, "say which collection (its id, as collect printed it)");
    slip s = {32, stdout};
    if (width && strcmp(width, "32") != 0 && strcmp(width, "48") != 0)
        return lm_cli_usage_error(cmd, "--width is 32 or 48 (columns of the receipt printer)");
    if (width)
        s.width = atoi(width);
    int offset = lm_text_utc_offset_default();
    if (offset_arg && lm_text_utc_offset_parse(offset_arg, &offset) != LM_OK)
        return lm_cli_usage_error(cmd, "--utc-offset '%s' is not an offset such as +08:00",
                                  offset_arg);
    lm_replica *r;
    if ((code = lm_cli_open(cmd, c.db, 0, &r)) != LM_EXIT_OK)
        return code;
    int rc = print_slip(&s, lm_replica_db(r), a.positional[0], offset);
    if (rc == LM_ENOTFOUND)
        code = lm_cli_error(cmd, "unknown collection '%s' (see 'lastmile list collections')",
                            a.positional[0]);
    else if (rc != LM_OK)
        code = lm_cli_sql_error(cmd, lm_replica_db(r), "cannot read the collection");
    else if (fflush(stdout) != 0)
        code = LM_EXIT_RUNTIME;
    lm_replica_close(r);
    return code;
}
