/*
 * json.h — a small streaming JSON writer for the CLI's --json output. It
 * appends to an lm_buf (borrowed, owned by the caller), inserts commas and
 * colons itself, escapes strings per RFC 8259 (quote, backslash and control
 * characters) and also DEL, C1 controls, bidi overrides and U+2028/9, so a
 * document printed to a terminal cannot drive it; other valid UTF-8 passes
 * through untouched, invalid bytes become U+FFFD so the output is always
 * valid JSON). Errors are sticky: after the
 * first failure every call is a no-op and lm_json_finish() reports it.
 */
#ifndef LM_TEXT_JSON_H
#define LM_TEXT_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lm_protocol.h"

#define LM_JSON_MAX_DEPTH 32

typedef struct lm_json {
    lm_buf *out;                       /* borrowed */
    int rc;                            /* sticky LM_E* */
    int depth;                         /* open containers */
    uint8_t count[LM_JSON_MAX_DEPTH];  /* 0 = no element yet at this level */
    uint8_t object[LM_JSON_MAX_DEPTH]; /* 1 when the level is an object */
    int want_value;                    /* a key was written, its value is next */
    int top_written;                   /* the one top-level value has begun */
} lm_json;

void lm_json_init(lm_json *j, lm_buf *out);
void lm_json_begin_object(lm_json *j);
void lm_json_end_object(lm_json *j);
void lm_json_begin_array(lm_json *j);
void lm_json_end_array(lm_json *j);
/* Inside an object only; the next call writes its value. */
void lm_json_key(lm_json *j, const char *key);
void lm_json_string(lm_json *j, const char *s); /* NULL writes null */
void lm_json_string_n(lm_json *j, const char *s, size_t len);
void lm_json_int(lm_json *j, int64_t v);
void lm_json_uint(lm_json *j, uint64_t v);
/* Finite doubles with up to 6 significant decimals; NaN/inf write null. */
void lm_json_double(lm_json *j, double v);
void lm_json_bool(lm_json *j, int v);
void lm_json_null(lm_json *j);
/* A cell value (lm_protocol.h) as JSON: an integer, a number, a string; a
 * BLOB as the lowercase hex of its bytes (a string); NULL as null. One
 * rendering for every --json that shows a synced value (conflicts,
 * refusals), in both tools. */
void lm_json_value(lm_json *j, const lm_value *v);
/* LM_OK when every call succeeded and all containers are closed; otherwise
 * the first error (LM_ESTATE for misuse such as a value without a key). */
int lm_json_finish(const lm_json *j);

/* Writes s as one JSON string literal to f (NULL writes null), escaped as
 * above. LM_OK, LM_ENOMEM or LM_EIO. */
int lm_json_fput_string(FILE *f, const char *s);

#endif
