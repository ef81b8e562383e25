/*
 * mp_read.c — bounds-checked msgpack reader over a {pointer, remaining}
 * cursor. Pure functions: no allocation, no global state. Every multi-byte
 * read is preceded by a length check, every declared count is compared with
 * the bytes that could possibly hold it.
 */
#include <string.h>

#include "mp.h"

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Describes the object at the cursor without consuming it: its kind, the
 * size of its header, and for str/bin/ext/array/map the declared length
 * (bytes for str/bin/ext payloads, elements for array, pairs for map). For
 * integers `len` is unused; *hdr includes the integer's bytes. */
static int head(const lm__mp_reader *r, int *kind, size_t *hdr, uint64_t *len)
{
    if (r->left == 0)
        return LM_ETRUNC;
    uint8_t b = r->p[0];
    int k;
    size_t h = 1, lenbytes = 0;
    uint64_t l = 0;

    if (b <= 0x7f) {
        k = LM__MP_UINT;
    } else if (b >= 0xe0) {
        k = LM__MP_NINT;
    } else if ((b & 0xf0) == 0x80) {
        k = LM__MP_MAP;
        l = b & 0x0f;
    } else if ((b & 0xf0) == 0x90) {
        k = LM__MP_ARRAY;
        l = b & 0x0f;
    } else if ((b & 0xe0) == 0xa0) {
        k = LM__MP_STR;
        l = b & 0x1f;
    } else {
        switch (b) {
        case 0xc0:
            k = LM__MP_NIL;
            break;
        case 0xc2:
        case 0xc3:
            k = LM__MP_BOOL;
            break;
        case 0xc4:
        case 0xc5:
        case 0xc6:
            k = LM__MP_BIN;
            lenbytes = (size_t)1 << (b - 0xc4);
            break;
        case 0xc7:
        case 0xc8:
        case 0xc9:
            k = LM__MP_EXT;
            lenbytes = (size_t)1 << (b - 0xc7);
            h = 2; /* the ext type byte follows the length */
            break;
        case 0xca:
            k = LM__MP_FLOAT;
            h = 5;
            break;
        case 0xcb:
            k = LM__MP_FLOAT;
            h = 9;
            break;
        case 0xcc:
        case 0xcd:
        case 0xce:
        case 0xcf:
            k = LM__MP_UINT;
            h = 1 + ((size_t)1 << (b - 0xcc));
            break;
        case 0xd0:
        case 0xd1:
        case 0xd2:
        case 0xd3: {
            size_t n = (size_t)1 << (b - 0xd0);
            if (r->left < 1 + n)
                return LM_ETRUNC;
            /* Negative only when the sign bit is set; msgpack allows a signed
             * encoding of a non-negative value. */
            k = (r->p[1] & 0x80) ? LM__MP_NINT : LM__MP_UINT;
            h = 1 + n;
            break;
        }
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
            k = LM__MP_EXT;
            h = 2;
            l = (uint64_t)1 << (b - 0xd4);
            break;
        case 0xd9:
        case 0xda:
        case 0xdb:
            k = LM__MP_STR;
            lenbytes = (size_t)1 << (b - 0xd9);
            break;
        case 0xdc:
        case 0xdd:
            k = LM__MP_ARRAY;
            lenbytes = b == 0xdc ? 2 : 4;
            break;
        case 0xde:
        case 0xdf:
            k = LM__MP_MAP;
            lenbytes = b == 0xde ? 2 : 4;
            break;
        default: /* 0xc1 is never used */
            return LM_EMALFORMED;
        }
    }
    if (lenbytes) {
        h += lenbytes;
        if (r->left < h)
            return LM_ETRUNC;
        l = be(r->p + 1, (int)lenbytes);
    }
    if (r->left < h)
        return LM_ETRUNC;
    *kind = k;
    *hdr = h;
    *len = l;
    return LM_OK;
}

int lm__mp_peek(const lm__mp_reader *r, int *kind)
{
    size_t h;
    uint64_t l;
    return head(r, kind, &h, &l);
}

const char *lm__mp_kind_name(int kind)
{
    static const char *names[] = {"nil", "bool", "integer", "integer", "float",
                                  "str", "bin",  "array",   "map",     "ext"};
    return kind >= 0 && kind <= LM__MP_EXT ? names[kind] : "?";
}

static int expect(lm__mp_reader *r, int want, size_t *hdr, uint64_t *len)
{
    int kind;
    int rc = head(r, &kind, hdr, len);
    if (rc != LM_OK)
        return rc;
    return kind == want ? LM_OK : LM_ETYPE;
}

int lm__mp_read_nil(lm__mp_reader *r)
{
    size_t h;
    uint64_t l;
    int rc = expect(r, LM__MP_NIL, &h, &l);
    if (rc == LM_OK) {
        r->p += h;
        r->left -= h;
    }
    return rc;
}

int lm__mp_read_bool(lm__mp_reader *r, int *out)
{
    size_t h;
    uint64_t l;
    int rc = expect(r, LM__MP_BOOL, &h, &l);
    if (rc == LM_OK) {
        *out = r->p[0] == 0xc3;
        r->p += h;
        r->left -= h;
    }
    return rc;
}

/* Reads any integer as its two's complement bits plus a sign flag. */
static int read_int(lm__mp_reader *r, uint64_t *bits, int *neg)
{
    int kind;
    size_t h;
    uint64_t l;
    int rc = head(r, &kind, &h, &l);
    if (rc != LM_OK)
        return rc;
    if (kind != LM__MP_UINT && kind != LM__MP_NINT)
        return LM_ETYPE;
    uint8_t b = r->p[0];
    uint64_t v;
    if (b <= 0x7f) {
        v = b;
    } else if (b >= 0xe0) {
        v = (uint64_t)(int64_t)(int8_t)b;
    } else if (b >= 0xcc && b <= 0xcf) {
        v = be(r->p + 1, (int)(h - 1));
    } else {
        /* d0..d3: sign-extend from the encoded width */
        int bits_n = (int)(h - 1) * 8;
        v = be(r->p + 1, (int)(h - 1));
        if (bits_n < 64 && (v >> (bits_n - 1)) & 1)
            v |= ~(uint64_t)0 << bits_n;
    }
    *bits = v;
    *neg = kind == LM__MP_NINT;
    r->p += h;
    r->left -= h;
    return LM_OK;
}

int lm__mp_read_u64(lm__mp_reader *r, uint64_t *out)
{
    lm__mp_reader save = *r;
    uint64_t v;
    int neg;
    int rc = read_int(r, &v, &neg);
    if (rc != LM_OK)
        return rc;
    if (neg) {
        *r = save;
        return LM_ERANGE;
    }
    *out = v;
    return LM_OK;
}

int lm__mp_read_i64(lm__mp_reader *r, int64_t *out)
{
    lm__mp_reader save = *r;
    uint64_t v;
    int neg;
    int rc = read_int(r, &v, &neg);
    if (rc != LM_OK)
        return rc;
    if (!neg && v > (uint64_t)INT64_MAX) {
        *r = save;
        return LM_ERANGE;
    }
    /* Two's complement reinterpretation without implementation-defined
     * conversion of out-of-range unsigned values. */
    if (neg)
        *out = -(int64_t)(~v) - 1;
    else
        *out = (int64_t)v;
    return LM_OK;
}

int lm__mp_read_double(lm__mp_reader *r, double *out)
{
    size_t h;
    uint64_t l;
    int rc = expect(r, LM__MP_FLOAT, &h, &l);
    if (rc != LM_OK)
        return rc;
    if (h == 5) {
        uint32_t bits = (uint32_t)be(r->p + 1, 4);
        float f;
        memcpy(&f, &bits, sizeof f);
        *out = f;
    } else {
        uint64_t bits = be(r->p + 1, 8);
        memcpy(out, &bits, sizeof *out);
    }
    r->p += h;
    r->left -= h;
    return LM_OK;
}

static int read_bytes(lm__mp_reader *r, int want, const uint8_t **s, uint32_t *len)
{
    size_t h;
    uint64_t l;
    int rc = expect(r, want, &h, &l);
    if (rc != LM_OK)
        return rc;
    if (l > r->left - h)
        return LM_ETRUNC;
    *s = r->p + h;
    *len = (uint32_t)l;
    r->p += h + l;
    r->left -= h + l;
    return LM_OK;
}

int lm__mp_read_str(lm__mp_reader *r, const uint8_t **s, uint32_t *len)
{
    return read_bytes(r, LM__MP_STR, s, len);
}

int lm__mp_read_bin(lm__mp_reader *r, const uint8_t **s, uint32_t *len)
{
    return read_bytes(r, LM__MP_BIN, s, len);
}

int lm__mp_read_ext(lm__mp_reader *r, int8_t *type, const uint8_t **data, uint32_t *len)
{
    size_t h;
    uint64_t l;
    int rc = expect(r, LM__MP_EXT, &h, &l);
    if (rc == LM_OK)
        *type = (int8_t)r->p[h - 1]; /* the type byte ends the header, fixext or not */
    return rc == LM_OK ? read_bytes(r, LM__MP_EXT, data, len) : rc;
}

int lm__mp_read_array(lm__mp_reader *r, uint32_t *n)
{
    size_t h;
    uint64_t l;
    int rc = expect(r, LM__MP_ARRAY, &h, &l);
    if (rc != LM_OK)
        return rc;
    if (l > r->left - h)
        return LM_ETRUNC;
    *n = (uint32_t)l;
    r->p += h;
    r->left -= h;
    return LM_OK;
}

int lm__mp_read_map(lm__mp_reader *r, uint32_t *n)
{
    size_t h;
    uint64_t l;
    int rc = expect(r, LM__MP_MAP, &h, &l);
    if (rc != LM_OK)
        return rc;
    if (l > (r->left - h) / 2)
        return LM_ETRUNC;
    *n = (uint32_t)l;
    r->p += h;
    r->left -= h;
    return LM_OK;
}

int lm__mp_skip(lm__mp_reader *r, int depth)
{
    int kind;
    size_t h;
    uint64_t l;
    int rc = head(r, &kind, &h, &l);
    if (rc != LM_OK)
        return rc;
    switch (kind) {
    case LM__MP_STR:
    case LM__MP_BIN:
    case LM__MP_EXT:
        if (l > r->left - h)
            return LM_ETRUNC;
        r->p += h + l;
        r->left -= h + l;
        return LM_OK;
    case LM__MP_ARRAY:
    case LM__MP_MAP: {
        if (depth > LM_MAX_DEPTH)
            return LM_EDEPTH;
        uint64_t n = kind == LM__MP_MAP ? l * 2 : l;
        if (n > r->left - h)
            return LM_ETRUNC;
        lm__mp_reader save = *r;
        r->p += h;
        r->left -= h;
        for (uint64_t i = 0; i < n; i++) {
            rc = lm__mp_skip(r, depth + 1);
            if (rc != LM_OK) {
                *r = save;
                return rc;
            }
        }
        return LM_OK;
    }
    default:
        r->p += h;
        r->left -= h;
        return LM_OK;
    }
}
