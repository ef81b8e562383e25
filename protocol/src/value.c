/*
 * value.c — cell values typed by SQLite storage class: clear, deep copy and
 * the total order SQLite uses (NULL < numbers < TEXT < BLOB).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lm_protocol.h"

void lm_value_clear(lm_value *v)
{
    if (!v)
        return;
    lm_free(v->bytes);
    memset(v, 0, sizeof *v);
    v->type = LM_VAL_NULL;
}

/* Deep copy; dst is overwritten (not cleared first). TEXT gets a trailing NUL
 * so callers may use it as a C string; BLOB of length 0 has bytes NULL. On
 * failure dst is a NULL value and LM_ENOMEM is returned. */
int lm_value_copy(lm_value *dst, const lm_value *src)
{
    memset(dst, 0, sizeof *dst);
    dst->type = src->type;
    dst->i = src->i;
    dst->f = src->f;
    dst->len = src->len;
    if (src->type == LM_VAL_TEXT || (src->type == LM_VAL_BLOB && src->len > 0)) {
        dst->bytes = lm_malloc(src->len + 1);
        if (!dst->bytes) {
            memset(dst, 0, sizeof *dst);
            dst->type = LM_VAL_NULL;
            return LM_ENOMEM;
        }
        if (src->len)
            memcpy(dst->bytes, src->bytes, src->len);
        dst->bytes[src->len] = 0;
    }
    return LM_OK;
}

static int class_rank(int type)
{
    switch (type) {
    case LM_VAL_INTEGER:
    case LM_VAL_FLOAT:
        return 1;
    case LM_VAL_TEXT:
        return 2;
    case LM_VAL_BLOB:
        return 3;
    default:
        return 0; /* NULL and anything unknown */
    }
}

#define SIGN(a, b) (((a) > (b)) - ((a) < (b)))

/* Exact integer/double comparison: converting the integer to double would
 * round above 2^53 and call unequal values equal. NaN sorts below every
 * number so the order stays total. */
static int cmp_int_double(int64_t i, double f)
{
    if (isnan(f))
        return 1;
    if (f < -9223372036854775808.0)
        return 1;
    if (f >= 9223372036854775808.0)
        return -1;
    double t = trunc(f);
    int64_t fi = (int64_t)t;
    if (i != fi)
        return SIGN(i, fi);
    return SIGN(0.0, f - t); /* f has a fraction: positive means f bigger */
}

static int cmp_double(double a, double b)
{
    if (isnan(a) || isnan(b))
        return SIGN(!isnan(a), !isnan(b));
    return SIGN(a, b);
}

static int cmp_bytes(const lm_value *a, const lm_value *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->bytes, b->bytes, n) : 0;
    if (c)
        return c < 0 ? -1 : 1;
    return SIGN(a->len, b->len);
}

int lm_value_compare(const lm_value *a, const lm_value *b)
{
    int ra = class_rank(a->type), rb = class_rank(b->type);
    if (ra != rb)
        return SIGN(ra, rb);
    switch (ra) {
    case 0:
        return 0;
    case 1:
        if (a->type == LM_VAL_INTEGER && b->type == LM_VAL_INTEGER)
            return SIGN(a->i, b->i);
        if (a->type == LM_VAL_FLOAT && b->type == LM_VAL_FLOAT)
            return cmp_double(a->f, b->f);
        if (a->type == LM_VAL_INTEGER)
            return cmp_int_double(a->i, b->f);
        return -cmp_int_double(b->i, a->f);
    default:
        return cmp_bytes(a, b);
    }
}

void lm_value_format(const lm_value *v, const char *null_text, char *out, size_t size)
{
    switch (v->type) {
    case LM_VAL_INTEGER:
        snprintf(out, size, "%lld", (long long)v->i);
        break;
    case LM_VAL_FLOAT:
        snprintf(out, size, "%g", v->f);
        break;
    case LM_VAL_TEXT:
        snprintf(out, size, "%.*s", (int)(v->len < 200 ? v->len : 200),
                 v->bytes ? (const char *)v->bytes : "");
        break;
    case LM_VAL_BLOB:
        snprintf(out, size, "(%zu-byte blob)", v->len);
        break;
    default:
        snprintf(out, size, "%s", null_text);
        break;
    }
}
