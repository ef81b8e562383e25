/*
 * codec.h — internal glue between the message codec files (private).
 */
#ifndef LM_CODEC_H
#define LM_CODEC_H

#include <stdarg.h>

#include "mp.h"

/* Most distinct table/column names one PUSH/CHANGES may carry in its
 * dictionary. The whole schema has about a hundred; the cap bounds what a
 * hostile dictionary can make the decoder allocate. */
#define LM__MAX_DICT 4096u

/* Decoding context: where the error text goes and the message name that
 * prefixes every field path ("PUSH.rows[3].pk: ..."). */
typedef struct lm__dctx {
    char *err;
    size_t err_size;
    const char *msg;
} lm__dctx;

/* Writes "<msg>.<formatted path and text>" into c->err (when set); returns
 * rc so callers can `return lm__derr(...)`. */
int lm__derr(lm__dctx *c, int rc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Short text for a reader error code, to follow a field path. */
const char *lm__read_errtext(int rc);

/* Appends the two map entries "d" (name dictionary) and "r" (rows) for a
 * change list. Validates every change against the decoder's limits first:
 * LM_EINVAL for NULL names or unknown value types, LM_ETOOBIG past a limit.
 * Nothing is written on a validation error. */
int lm__changes_encode(lm__mp_writer *w, const lm_change *ch, uint32_t n, int int_deltas);

/* Decodes the "d" and "r" values (cursors positioned on each) into a new
 * lm_change array owned by the caller. On error nothing is returned and
 * nothing leaks. `dict` may be NULL when the key was absent. */
int lm__changes_decode(lm__dctx *c, lm__mp_reader dict, lm__mp_reader rows, lm_change **out,
                       uint32_t *n_out);

/* Two's complement reinterpretation without implementation-defined
 * conversions (deltas on the wire are signed, versions unsigned). */
static inline int64_t lm__u2i(uint64_t v)
{
    return v <= (uint64_t)INT64_MAX ? (int64_t)v : -(int64_t)(~v) - 1;
}

/* ------------------------------------------------------- message layout */

/* One entry of a message map. The table drives both encoder and decoder so
 * the two can never disagree about a key. */
enum lm__field_kind {
    LM__F_U64,
    LM__F_U32,
    LM__F_I32,
    LM__F_BOOL8,     /* uint8_t 0/1 on the wire as bool (0/1 ints accepted) */
    LM__F_STR,       /* char *, at most `max` bytes, no NUL inside */
    LM__F_BIN32,     /* uint8_t[32] */
    LM__F_BIN64,     /* uint8_t[64] */
    LM__F_OPT_BIN32, /* uint8_t[32] at off, sent when the uint8_t at off2 is 1 */
    LM__F_DICT,      /* "d" of a change list: lm_change *at off, uint32_t n at off2 */
    LM__F_ROWS,      /* "r" of a change list, same offsets */
    LM__F_REFUSALS,  /* lm_refusal *at off, uint32_t n at off2 */
    LM__F_STAMPS,    /* lm_stamp_range *at off, uint32_t n at off2 */
    LM__F_OPT_U64    /* uint64_t at off, sent when the uint8_t at off2 is 1 */
};

typedef struct lm__field {
    const char *key;  /* on the wire: one or two characters */
    const char *name; /* in error messages */
    int kind;
    int required; /* absent on decode -> LM_EMISSING; NULL on encode -> LM_EINVAL */
    size_t off, off2;
    size_t max;
} lm__field;

/* The fields of a message type (NULL for an unknown type). */
const lm__field *lm__msg_fields(int type, size_t *n);

#endif
