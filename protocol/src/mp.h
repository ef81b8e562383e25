/*
 * mp.h — internal msgpack reader and writer (private to protocol/).
 *
 * Why our own: msgpack-c 4.0's unpacker allocates an array's or map's
 * declared count before any element arrives and reports nesting deeper than
 * 32 as NOMEM. The reader below is a pure cursor over {pointer, remaining}:
 * every declared length or count is checked against the bytes left before it
 * is believed, nothing is allocated, and strings/binaries are borrowed from
 * the input. The writer appends to an lm_buf through lm_malloc so allocation
 * failure injection reaches it, and uses the sticky-rc idiom: once w->rc is
 * set every further put is a no-op.
 */
#ifndef LM_MP_H
#define LM_MP_H

#include <stddef.h>
#include <stdint.h>

#include "lm_protocol.h"

/* ----------------------------------------------------------------- reader */

typedef struct lm__mp_reader {
    const uint8_t *p;
    size_t left;
} lm__mp_reader;

enum lm__mp_kind {
    LM__MP_NIL,
    LM__MP_BOOL,
    LM__MP_UINT, /* non-negative integer, any encoding */
    LM__MP_NINT, /* negative integer */
    LM__MP_FLOAT,
    LM__MP_STR,
    LM__MP_BIN,
    LM__MP_ARRAY,
    LM__MP_MAP,
    LM__MP_EXT,
};

/* All readers return LM_OK, LM_ETRUNC (input ends inside the object or a
 * declared size exceeds the bytes left), LM_ETYPE (another kind of object is
 * next), LM_ERANGE (an integer that does not fit) or LM_EMALFORMED (the
 * reserved 0xc1 byte). On error the cursor is not advanced. */
int lm__mp_peek(const lm__mp_reader *r, int *kind);
const char *lm__mp_kind_name(int kind);
int lm__mp_read_nil(lm__mp_reader *r);
int lm__mp_read_bool(lm__mp_reader *r, int *out);
int lm__mp_read_u64(lm__mp_reader *r, uint64_t *out);
int lm__mp_read_i64(lm__mp_reader *r, int64_t *out);
int lm__mp_read_double(lm__mp_reader *r, double *out);
/* Borrowed pointer into the input; *len bytes follow. */
int lm__mp_read_str(lm__mp_reader *r, const uint8_t **s, uint32_t *len);
int lm__mp_read_bin(lm__mp_reader *r, const uint8_t **s, uint32_t *len);
/* Count checked against the bytes left (an element takes at least a byte,
 * a map pair two), so a lying header is refused before anyone allocates. */
int lm__mp_read_array(lm__mp_reader *r, uint32_t *n);
int lm__mp_read_map(lm__mp_reader *r, uint32_t *n);
/* An ext object: its type and borrowed payload (*len bytes). */
int lm__mp_read_ext(lm__mp_reader *r, int8_t *type, const uint8_t **data, uint32_t *len);
/* Skips one object of any kind. depth is the nesting level of the object
 * being skipped (1 = top level); a container deeper than LM_MAX_DEPTH gives
 * LM_EDEPTH. */
int lm__mp_skip(lm__mp_reader *r, int depth);

/* ----------------------------------------------------------------- writer */

typedef struct lm__mp_writer {
    lm_buf *out;
    int rc; /* sticky: first error */
} lm__mp_writer;

void lm__mp_put_nil(lm__mp_writer *w);
void lm__mp_put_bool(lm__mp_writer *w, int v);
void lm__mp_put_u64(lm__mp_writer *w, uint64_t v);
void lm__mp_put_i64(lm__mp_writer *w, int64_t v);
/* float32 when that is exact, else float64. */
void lm__mp_put_double(lm__mp_writer *w, double v);
void lm__mp_put_str(lm__mp_writer *w, const void *s, size_t len);
void lm__mp_put_cstr(lm__mp_writer *w, const char *s);
void lm__mp_put_bin(lm__mp_writer *w, const void *s, size_t len);
void lm__mp_put_array(lm__mp_writer *w, uint32_t n);
void lm__mp_put_map(lm__mp_writer *w, uint32_t n);
/* A signed integer as the ext object `type` whose payload is its big-endian
 * two's complement in the fewest of 1, 2, 4 or 8 bytes (fixext). */
void lm__mp_put_ext_int(lm__mp_writer *w, int8_t type, int64_t v);
/* Bytes lm__mp_put_i64 / lm__mp_put_ext_int would write for v. */
size_t lm__mp_i64_size(int64_t v);
size_t lm__mp_ext_int_size(int64_t v);

#endif
