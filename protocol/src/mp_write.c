/*
 * mp_write.c — msgpack writer appending to an lm_buf, always choosing the
 * shortest encoding (bytes on the wire are the scarce resource). Sticky rc:
 * after the first failure every put is a no-op and w->rc keeps the code.
 */
#include <string.h>

#include "mp.h"

static void put(lm__mp_writer *w, const void *p, size_t n)
{
    if (w->rc == LM_OK)
        w->rc = lm_buf_append(w->out, p, n);
}

/* Writes tag then v as an n-byte big-endian number. */
static void put_tagged(lm__mp_writer *w, uint8_t tag, uint64_t v, int n)
{
    uint8_t b[9];
    b[0] = tag;
    for (int i = 0; i < n; i++)
        b[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    put(w, b, (size_t)n + 1);
}

void lm__mp_put_nil(lm__mp_writer *w)
{
    uint8_t b = 0xc0;
    put(w, &b, 1);
}

void lm__mp_put_bool(lm__mp_writer *w, int v)
{
    uint8_t b = v ? 0xc3 : 0xc2;
    put(w, &b, 1);
}

void lm__mp_put_u64(lm__mp_writer *w, uint64_t v)
{
    if (v <= 0x7f) {
        uint8_t b = (uint8_t)v;
        put(w, &b, 1);
    } else if (v <= 0xff) {
        put_tagged(w, 0xcc, v, 1);
    } else if (v <= 0xffff) {
        put_tagged(w, 0xcd, v, 2);
    } else if (v <= 0xffffffffu) {
        put_tagged(w, 0xce, v, 4);
    } else {
        put_tagged(w, 0xcf, v, 8);
    }
}

void lm__mp_put_i64(lm__mp_writer *w, int64_t v)
{
    if (v >= 0) {
        lm__mp_put_u64(w, (uint64_t)v);
    } else if (v >= -32) {
        uint8_t b = (uint8_t)(int8_t)v;
        put(w, &b, 1);
    } else if (v >= INT8_MIN) {
        put_tagged(w, 0xd0, (uint64_t)v & 0xff, 1);
    } else if (v >= INT16_MIN) {
        put_tagged(w, 0xd1, (uint64_t)v & 0xffff, 2);
    } else if (v >= INT32_MIN) {
        put_tagged(w, 0xd2, (uint64_t)v & 0xffffffffu, 4);
    } else {
        put_tagged(w, 0xd3, (uint64_t)v, 8);
    }
}

void lm__mp_put_double(lm__mp_writer *w, double v)
{
    float f = (float)v;
    /* NaN compares unequal and takes the float64 path, keeping its bits. */
    if ((double)f == v) {
        uint32_t bits;
        memcpy(&bits, &f, sizeof bits);
        put_tagged(w, 0xca, bits, 4);
    } else {
        uint64_t bits;
        memcpy(&bits, &v, sizeof bits);
        put_tagged(w, 0xcb, bits, 8);
    }
}

static void put_len(lm__mp_writer *w, size_t len, uint8_t fix, size_t fixmax, uint8_t t8,
                    uint8_t t16, uint8_t t32)
{
    if (len > 0xffffffffu) {
        if (w->rc == LM_OK)
            w->rc = LM_ETOOBIG;
        return;
    }
    if (fix && len <= fixmax) {
        uint8_t b = (uint8_t)(fix | len);
        put(w, &b, 1);
    } else if (t8 && len <= 0xff) {
        put_tagged(w, t8, len, 1);
    } else if (len <= 0xffff) {
        put_tagged(w, t16, len, 2);
    } else {
        put_tagged(w, t32, len, 4);
    }
}

void lm__mp_put_str(lm__mp_writer *w, const void *s, size_t len)
{
    put_len(w, len, 0xa0, 31, 0xd9, 0xda, 0xdb);
    put(w, s, len);
}

void lm__mp_put_cstr(lm__mp_writer *w, const char *s)
{
    lm__mp_put_str(w, s, strlen(s));
}

void lm__mp_put_bin(lm__mp_writer *w, const void *s, size_t len)
{
    put_len(w, len, 0, 0, 0xc4, 0xc5, 0xc6);
    put(w, s, len);
}

void lm__mp_put_array(lm__mp_writer *w, uint32_t n)
{
    put_len(w, n, 0x90, 15, 0, 0xdc, 0xdd);
}

void lm__mp_put_map(lm__mp_writer *w, uint32_t n)
{
    put_len(w, n, 0x80, 15, 0, 0xde, 0xdf);
}

/* Width in bytes (1, 2, 4 or 8) of the shortest two's complement of v. */
static int int_width(int64_t v)
{
    if (v >= INT8_MIN && v <= INT8_MAX)
        return 1;
    if (v >= INT16_MIN && v <= INT16_MAX)
        return 2;
    if (v >= INT32_MIN && v <= INT32_MAX)
        return 4;
    return 8;
}

void lm__mp_put_ext_int(lm__mp_writer *w, int8_t type, int64_t v)
{
    int n = int_width(v);
    uint8_t b[10];
    b[0] = (uint8_t)(n == 1 ? 0xd4 : n == 2 ? 0xd5 : n == 4 ? 0xd6 : 0xd7);
    b[1] = (uint8_t)type;
    for (int i = 0; i < n; i++)
        b[2 + i] = (uint8_t)((uint64_t)v >> (8 * (n - 1 - i)));
    put(w, b, (size_t)n + 2);
}

size_t lm__mp_ext_int_size(int64_t v)
{
    return (size_t)int_width(v) + 2;
}

size_t lm__mp_i64_size(int64_t v)
{
    if (v >= -32 && v <= 0x7f)
        return 1;
    if (v >= 0) {
        uint64_t u = (uint64_t)v;
        return u <= 0xff ? 2 : u <= 0xffff ? 3 : u <= 0xffffffffu ? 5 : 9;
    }
    return (size_t)int_width(v) + 1;
}
