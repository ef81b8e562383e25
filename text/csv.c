/*
 * csv.c — CSV fields that a spreadsheet cannot run (see lm_text.h). Excel,
 * LibreOffice and WPS evaluate a cell whose text starts with = + - or @ (and
 * some strip a leading TAB or CR first), so `=HYPERLINK(...)` typed as a
 * farmer's name would become a live link in hq's report. OWASP's advice:
 * prefix such a cell with an apostrophe, which the spreadsheet shows as
 * text, and quote it. Characters a terminal acts on are shown as escapes
 * too (lm_text_display), so `cat report.csv` is as safe as the table.
 */
#include <string.h>

#include "lm_protocol.h"
#include "lm_text.h"
#include "text_internal.h"

/* "-1500" or "-1.25": a number a report prints, not a formula. */
static int plain_number(const char *s)
{
    const char *p = s + (*s == '-');
    if (*p < '0' || *p > '9')
        return 0;
    while (*p >= '0' && *p <= '9')
        p++;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

static void write_field(FILE *f, const char *s)
{
    int formula = strchr("=+-@\t\r", *s) && *s && !plain_number(s);
    if (!formula && !strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputs(formula ? "\"'" : "\"", f);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

int lm_csv_field(FILE *f, const char *s)
{
    if (!s)
        return LM_OK;
    char *inert = lm__text_escape(s, 1);
    if (!inert)
        return LM_ENOMEM;
    write_field(f, inert);
    lm_free(inert);
    return LM_OK;
}

int lm_csv_split(char *line, char **fields, int n)
{
    int count = 0;
    char *p = line;
    for (;;) {
        if (count == n)
            return -1;
        char *out = p, *start = p;
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '\0')
                    return -1;
                if (*p == '"' && p[1] == '"') {
                    *out++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *out++ = *p++;
                }
            }
            if (*p != ',' && *p != '\0')
                return -1;
        } else {
            while (*p && *p != ',')
                out = ++p;
        }
        char end = *p;
        *out = '\0';
        fields[count++] = start;
        if (end == '\0')
            return count;
        p++;
    }
}
