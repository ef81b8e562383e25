/*
 * records.h — the peer benchmark's records (generate.py JSONL) as lastmile
 * collections: one flat JSON object per line, parsed without a JSON library
 * (the lines are machine-written: string, integer and boolean values only).
 */
#ifndef LM_BENCH_RECORDS_H
#define LM_BENCH_RECORDS_H

#include <stddef.h>
#include <stdint.h>

typedef struct lm_bench_record {
    char id[64];
    char agent_id[32];
    char farmer_id[32];
    char village[48];
    char product[32];
    char grade[8];
    int64_t weight_g;
    int64_t unit_price_fen;
    int64_t collected_at_ms; /* from the ISO-8601 time with its UTC offset */
    char note[128];          /* "" = none (stored as NULL, as the CLI does) */
} lm_bench_record;

/* Parses one JSONL line into *rec (zeroed first). LM_OK, or LM_EMALFORMED
 * for a line that is not a flat object with the expected fields. */
int lm_bench_record_parse(const char *line, lm_bench_record *rec);

/* Reads every line of path into an array owned by the caller (lm_free).
 * LM_OK, LM_EIO when unreadable, LM_EMALFORMED with the line number on
 * stderr, LM_ENOMEM. */
int lm_bench_records_load(const char *path, lm_bench_record **out, size_t *n);

/* "2024-09-01T06:00:00+08:00" (seconds or fractional seconds, offset or Z)
 * to ms since the epoch; LM_EMALFORMED when it is not such a time. */
int lm_bench_parse_iso_ms(const char *s, int64_t *ms);

#endif
