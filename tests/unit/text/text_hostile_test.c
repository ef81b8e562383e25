/*
 * text_hostile_test.c — what the text layer does with text typed by people
 * lastmile does not control: terminal escapes, TAB/newline, bidi overrides
 * and invalid bytes shown as visible escapes; CJK measured two columns;
 * CSV cells that would run as spreadsheet formulas neutralised (OWASP)
 * while numbers stay exact; JSON strings with terminal controls escaped;
 * real calendar dates only.
 */
#include <string.h>

#include "json.h"
#include "lm_test.h"
#include "lm_text.h"
#include "table.h"

static const char *display(const char *s)
{
    static char buf[256];
    char *d = lm_text_display(s);
    snprintf(buf, sizeof buf, "%s", d ? d : "(null)");
    lm_free(d);
    return buf;
}

static void test_display(void)
{
    CHECK_STR(display("王秀英 plain"), "王秀英 plain");
    CHECK_STR(display("a\x1b]8;;http://x\x1b\\b"), "a\\x1b]8;;http://x\\x1b\\b");
    CHECK_STR(display("x\tmatched 999\ny\r"), "x\\tmatched 999\\ny\\r");
    CHECK_STR(display("del\x7f c1\xc2\x9b bidi\xe2\x80\xae"), "del\\x7f c1\\u009b bidi\\u202e");
    CHECK_STR(display("bad\xff\xc0"), "bad\\xff\\xc0");
    CHECK_STR(display(NULL), "");
    CHECK_EQ_INT(lm_text_width("abc"), 3);
    CHECK_EQ_INT(lm_text_width("王秀英"), 6);
    CHECK_EQ_INT(lm_text_width("ｶ"), 1);         /* halfwidth katakana */
    CHECK_EQ_INT(lm_text_width("Ａ"), 2);        /* fullwidth A */
    CHECK_EQ_INT(lm_text_width("e\xcc\x81"), 1); /* e + combining acute */
    CHECK_EQ_INT(lm_text_width("\xff"), 1);
}

static const char *csv(const char *s)
{
    static char buf[256];
    memset(buf, 0, sizeof buf);
    FILE *f = fmemopen(buf, sizeof buf, "w");
    lm_csv_field(f, s);
    fclose(f);
    return buf;
}

static void test_csv(void)
{
    CHECK_STR(csv("plain"), "plain");
    CHECK_STR(csv("with,comma \"q\""), "\"with,comma \"\"q\"\"\"");
    CHECK_STR(csv("=HYPERLINK(\"http://x\",\"click\")"),
              "\"'=HYPERLINK(\"\"http://x\"\",\"\"click\"\")\"");
    CHECK_STR(csv("+1"), "\"'+1\"");
    CHECK_STR(csv("@SUM(A1)"), "\"'@SUM(A1)\"");
    CHECK_STR(csv("-2+3+cmd|' /C calc'!A0"), "\"'-2+3+cmd|' /C calc'!A0\"");
    CHECK_STR(csv("\t=1"), "\"'\t=1\"");
    CHECK_STR(csv("\r=1"), "\"'\r=1\"");
    CHECK_STR(csv("-1500"), "-1500");
    CHECK_STR(csv("-1.25"), "-1.25");
    CHECK_STR(csv("-"), "\"'-\"");
    CHECK_STR(csv("-1."), "\"'-1.\"");
    CHECK_STR(csv("a=b"), "a=b");
    CHECK_STR(csv(""), "");
    /* What a terminal acts on is escaped; TAB, LF, CR stay data. */
    CHECK_STR(csv("a\x1b[2Jb\xe2\x80\xae"), "a\\x1b[2Jb\\u202e");
    CHECK_STR(csv("two\nlines\tx"), "\"two\nlines\tx\"");
}

static void test_json(void)
{
    char buf[256];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    CHECK_RC(lm_json_fput_string(f, "a\"b\\c\nd\x01\x1b[2J\x7f\xc2\x85\xe2\x80\xae\xe2\x80\xa8王"),
             LM_OK);
    fputc(' ', f);
    CHECK_RC(lm_json_fput_string(f, NULL), LM_OK);
    fclose(f);
    CHECK_STR(buf, "\"a\\\"b\\\\c\\nd\\u0001\\u001b[2J\\u007f\\u0085\\u202e\\u2028王\" null");
}

static void test_table(void)
{
    char buf[512];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    lm_table t;
    lm_table_init(&t, 3);
    lm_table_align_right(&t, 1);
    const char *cells[] = {"name",        "kg", "note",   "王秀英", "1.5",
                           "\x1b[31mred", "Li", "120.25", ""};
    for (size_t i = 0; i < 9; i++)
        lm_table_add(&t, cells[i]);
    CHECK_RC(lm_table_print(&t, f), LM_OK);
    lm_table_close(&t);
    fclose(f);
    CHECK_STR(buf, "name        kg  note\n"
                   "王秀英     1.5  \\x1b[31mred\n"
                   "Li      120.25\n");
}

static void test_dates(void)
{
    int64_t d = -1;
    const char *why = NULL;
    CHECK_RC(lm_date_parse("2026-02-28", &d, &why), LM_OK);
    char out[16];
    lm_date_format(d, out, sizeof out);
    CHECK_STR(out, "2026-02-28");
    CHECK_RC(lm_date_parse("1970-01-01", &d, &why), LM_EINVAL); /* outside the years */
    CHECK_STR(why, "is outside the years 2000-2099");
    CHECK_RC(lm_date_parse("2026-02-29", NULL, &why), LM_EINVAL);
    CHECK_STR(why, "has no such day in that month");
    CHECK_RC(lm_date_parse("2028-02-29", &d, NULL), LM_OK);
    CHECK_RC(lm_date_parse("2000-02-29", NULL, NULL), LM_OK);
    CHECK_RC(lm_date_parse("2100-02-29", NULL, NULL), LM_EINVAL);
    CHECK_RC(lm_date_parse("2026-02-30", NULL, NULL), LM_EINVAL);
    CHECK_RC(lm_date_parse("2026-04-31", NULL, NULL), LM_EINVAL);
    CHECK_RC(lm_date_parse("2026-13-01", NULL, &why), LM_EINVAL);
    CHECK_STR(why, "has no such month");
    CHECK_RC(lm_date_parse("2026-00-10", NULL, NULL), LM_EINVAL);
    CHECK_RC(lm_date_parse("2026-01-00", NULL, NULL), LM_EINVAL);
    CHECK_RC(lm_date_parse("2026-1-01", NULL, &why), LM_EINVAL);
    CHECK_STR(why, "is not a date (YYYY-MM-DD)");
    CHECK_RC(lm_date_parse("20261128xx", NULL, NULL), LM_EINVAL);
    CHECK_RC(lm_date_parse("2026-11-28 ", NULL, NULL), LM_EINVAL);
    CHECK_RC(lm_date_parse("", NULL, NULL), LM_EINVAL);
    CHECK_RC(lm_date_parse(NULL, NULL, NULL), LM_EINVAL);
    CHECK_RC(lm_date_parse("1999-12-31", NULL, NULL), LM_EINVAL);
    CHECK_RC(lm_date_parse("2099-12-31", &d, NULL), LM_OK);
    lm_date_format(d, out, sizeof out);
    CHECK_STR(out, "2099-12-31");
    /* 2026-12-06 is day 20793; 2026-12-06 23:30 at UTC+8 is 15:30 UTC. */
    CHECK_RC(lm_date_parse("2026-12-06", &d, NULL), LM_OK);
    CHECK_EQ_INT(d, 20793);
    CHECK_EQ_INT(lm_date_days_of_ms(INT64_C(1796571000000), 480), 20793);
    CHECK_EQ_INT(lm_date_days_of_ms(INT64_C(1796571000000) + 3600000, 480), 20794);
    CHECK_EQ_INT(lm_date_days_of_ms(-1, 0), -1);
    CHECK_RC(lm_date_parse_near("2027-12-06", 20793, 366, 366, NULL, &why), LM_OK);
    CHECK_RC(lm_date_parse_near("2031-01-01", 20793, 366, 366, NULL, &why), LM_EINVAL);
    CHECK_STR(why, "is too far from today");
    CHECK_RC(lm_date_parse_near("2020-01-01", 20793, 366, 366, NULL, NULL), LM_EINVAL);
}

static void test_units(void)
{
    char out[64];
    lm_text_kg(604300, out, sizeof out);
    CHECK_STR(out, "604.300");
    lm_text_kg(-1500, out, sizeof out);
    CHECK_STR(out, "-1.500");
    lm_text_kg(INT64_MIN, out, sizeof out);
    CHECK_STR(out, "-9223372036854775.808");
    lm_text_yuan(27432, out, sizeof out);
    CHECK_STR(out, "¥274.32");
    lm_text_yuan(-150, out, sizeof out);
    CHECK_STR(out, "-¥1.50");
    lm_text_yuan(5, out, sizeof out);
    CHECK_STR(out, "¥0.05");
    /* 1796274740673 ms: 2026-12-03 05:12:20.673 UTC, 13:12:20 at UTC+8. */
    lm_text_time(INT64_C(1796274740673), 480, out, sizeof out);
    CHECK_STR(out, "2026-12-03 13:12:20");
    lm_text_time(INT64_C(1796274740673), 0, out, sizeof out);
    CHECK_STR(out, "2026-12-03 05:12:20");
    lm_text_time(INT64_MAX, 480, out, sizeof out);
    CHECK_STR(out, "9223372036854775807");
    int m = 0;
    CHECK(lm_text_utc_offset_parse("+08:00", &m) == LM_OK && m == 480);
    CHECK(lm_text_utc_offset_parse("+8", &m) == LM_OK && m == 480);
    CHECK(lm_text_utc_offset_parse("-05:30", &m) == LM_OK && m == -330);
    CHECK(lm_text_utc_offset_parse("+0545", &m) == LM_OK && m == 345);
    CHECK(lm_text_utc_offset_parse("0", &m) == LM_OK && m == 0);
    CHECK_RC(lm_text_utc_offset_parse("+15", &m), LM_EINVAL);
    CHECK_RC(lm_text_utc_offset_parse("+08:60", &m), LM_EINVAL);
    CHECK_RC(lm_text_utc_offset_parse("UTC+8", &m), LM_EINVAL);
    CHECK_RC(lm_text_utc_offset_parse("", &m), LM_EINVAL);
    CHECK_RC(lm_text_utc_offset_parse("+", &m), LM_EINVAL);
    char head[32];
    CHECK_EQ_INT(lm_text_column_header("weight_g", head, sizeof head), LM_TEXT_COL_GRAMS);
    CHECK_STR(head, "weight_kg");
    CHECK_EQ_INT(lm_text_column_header("unit_price_fen", head, sizeof head), LM_TEXT_COL_FEN);
    CHECK_STR(head, "unit_price_yuan");
    CHECK_EQ_INT(lm_text_column_header("collected_at", head, sizeof head), LM_TEXT_COL_TIME);
    CHECK_EQ_INT(lm_text_column_header("count", head, sizeof head), LM_TEXT_COL_PLAIN);
    CHECK_EQ_INT(lm_text_column_header("_g", head, sizeof head), LM_TEXT_COL_PLAIN);
}

int main(void)
{
    lm_test_heap_install(0);
    test_display();
    test_csv();
    test_json();
    test_table();
    test_dates();
    test_units();
    lm_test_heap_check_clean("text");
    return lm_test_done("text_hostile");
}
