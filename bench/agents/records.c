/*
 * records.c — JSONL records of the peer benchmark into lm_bench_record.
 */
#include "records.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lm_protocol.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int lm_bench_parse_iso_ms(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
        return LM_EMALFORMED;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return LM_EMALFORMED;
    const char *p = s + n;
    int64_t frac_ms = 0;
    if (*p == '.') {
        int64_t scale = 100;
        for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
            frac_ms += (*p - '0') * scale;
    }
    int64_t off_min = 0;
    if (*p == '+' || *p == '-') {
        int oh, om;
        if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2)
            return LM_EMALFORMED;
        off_min = (*p == '-' ? -1 : 1) * (oh * 60 + om);
    } else if (*p != 'Z') {
        return LM_EMALFORMED;
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off_min * 60;
    *ms = secs * 1000 + frac_ms;
    return LM_OK;
}

/* Reads a JSON string at *p (after the opening quote) into out (size cap),
 * decoding the escapes json.dumps(ensure_ascii=False) can produce. */
static int read_string(const char **p, char *out, size_t cap)
{
    const char *s = *p;
    size_t n = 0;
    for (;;) {
        unsigned char c = (unsigned char)*s++;
        if (c == '\0')
            return LM_EMALFORMED;
        if (c == '"')
            break;
        if (c == '\\') {
            char e = *s++;
            switch (e) {
            case '"':
            case '\\':
            case '/':
                c = (unsigned char)e;
                break;
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case 'r':
                c = '\r';
                break;
            default:
                /* \uXXXX and the rest do not occur in generate.py output. */
                return LM_EMALFORMED;
            }
        }
        if (n + 1 >= cap)
            return LM_ETOOBIG;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    *p = s;
    return LM_OK;
}

int lm_bench_record_parse(const char *line, lm_bench_record *rec)
{
    const char *p = line;
    char key[32], text[128];
    int seen = 0;
    memset(rec, 0, sizeof *rec);
    while (isspace((unsigned char)*p))
        p++;
    if (*p++ != '{')
        return LM_EMALFORMED;
    for (;;) {
        while (isspace((unsigned char)*p) || *p == ',')
            p++;
        if (*p == '}')
            break;
        if (*p++ != '"' || read_string(&p, key, sizeof key) != LM_OK || *p++ != ':')
            return LM_EMALFORMED;
        int64_t num = 0;
        text[0] = '\0';
        if (*p == '"') {
            p++;
            if (read_string(&p, text, sizeof text) != LM_OK)
                return LM_EMALFORMED;
        } else if (!strncmp(p, "true", 4) || !strncmp(p, "false", 5)) {
            p += *p == 't' ? 4 : 5;
        } else {
            char *end;
            errno = 0;
            num = strtoll(p, &end, 10);
            if (end == p || errno)
                return LM_EMALFORMED;
            p = end;
        }
#define TEXT_FIELD(name)                                                                           \
    if (!strcmp(key, #name)) {                                                                     \
        if (strlen(text) >= sizeof rec->name)                                                      \
            return LM_ETOOBIG;                                                                     \
        memcpy(rec->name, text, strlen(text) + 1);                                                 \
        seen++;                                                                                    \
        continue;                                                                                  \
    }
        TEXT_FIELD(id)
        TEXT_FIELD(agent_id)
        TEXT_FIELD(farmer_id)
        TEXT_FIELD(village)
        TEXT_FIELD(product)
        TEXT_FIELD(grade)
        TEXT_FIELD(note)
#undef TEXT_FIELD
        if (!strcmp(key, "weight_g")) {
            rec->weight_g = num;
            seen++;
        } else if (!strcmp(key, "unit_price_fen")) {
            rec->unit_price_fen = num;
            seen++;
        } else if (!strcmp(key, "collected_at")) {
            if (lm_bench_parse_iso_ms(text, &rec->collected_at_ms) != LM_OK)
                return LM_EMALFORMED;
            seen++;
        }
        /* registered_poor is a farmer's attribute, not a collection column. */
    }
    return seen == 10 && rec->id[0] && rec->weight_g > 0 ? LM_OK : LM_EMALFORMED;
}

int lm_bench_records_load(const char *path, lm_bench_record **out, size_t *n)
{
    FILE *f = fopen(path, "r");
    char line[2048];
    size_t cap = 0, lineno = 0;
    lm_bench_record *v = NULL;
    int rc = LM_OK;
    *out = NULL;
    *n = 0;
    if (!f) {
        fprintf(stderr, "bench_agents: cannot open %s: %s\n", path, strerror(errno));
        return LM_EIO;
    }
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            lm_bench_record *nv = lm_realloc(v, nc * sizeof *nv);
            if (!nv) {
                rc = LM_ENOMEM;
                goto fail;
            }
            v = nv;
            cap = nc;
        }
        if ((rc = lm_bench_record_parse(line, &v[*n])) != LM_OK) {
            fprintf(stderr, "bench_agents: %s:%zu: not a record line\n", path, lineno);
            goto fail;
        }
        (*n)++;
    }
    fclose(f);
    *out = v;
    return LM_OK;

fail:
    fclose(f);
    lm_free(v);
    *n = 0;
    return rc;
}
