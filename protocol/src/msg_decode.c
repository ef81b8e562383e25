/*
 * msg_decode.c — msgpack payload to lm_msg, driven by the field tables in
 * msg_fields.c. Every field is checked for type, range and length; unknown
 * keys are skipped (with the depth limit still enforced); duplicate keys and
 * trailing bytes are refused. On error the message is cleared and the text
 * names the field path, e.g. "PUSH.rows[3].pk: string longer than 128".
 */
#include <stdio.h>
#include <string.h>

#include "codec.h"

static void *at(lm_msg *m, size_t off)
{
    return (char *)m + off;
}

/* Error for a failed read at `before`: a type mismatch says what was found. */
static int read_fail(lm__dctx *c, int rc, const char *name, const char *want,
                     const lm__mp_reader *before)
{
    int kind;
    if (rc == LM_ETYPE && lm__mp_peek(before, &kind) == LM_OK)
        return lm__derr(c, rc, "%s: expected %s, got %s", name, want, lm__mp_kind_name(kind));
    return lm__derr(c, rc, "%s: %s", name, lm__read_errtext(rc));
}

static int read_string(lm__dctx *c, lm__mp_reader *r, const char *name, size_t max, int nullable,
                       char **out)
{
    const uint8_t *s;
    uint32_t len;
    int kind;
    lm__mp_reader before = *r;

    if (nullable && lm__mp_peek(r, &kind) == LM_OK && kind == LM__MP_NIL) {
        *out = NULL;
        return lm__mp_read_nil(r);
    }
    int rc = lm__mp_read_str(r, &s, &len);
    if (rc != LM_OK)
        return read_fail(c, rc, name, "str", &before);
    if (len > max)
        return lm__derr(c, LM_ETOOBIG, "%s: string longer than %zu", name, max);
    if (len && memchr(s, 0, len))
        return lm__derr(c, LM_EMALFORMED, "%s: string contains a NUL byte", name);
    *out = lm_malloc((size_t)len + 1);
    if (!*out)
        return lm__derr(c, LM_ENOMEM, "%s: out of memory", name);
    if (len)
        memcpy(*out, s, len);
    (*out)[len] = '\0';
    return LM_OK;
}

static int read_refusals(lm__dctx *c, lm__mp_reader *r, lm_msg *m, const lm__field *f)
{
    uint32_t n;
    lm__mp_reader before = *r;
    int rc = lm__mp_read_array(r, &n);
    if (rc != LM_OK)
        return read_fail(c, rc, f->name, "array", &before);
    if (n > LM_MAX_REFUSALS)
        return lm__derr(c, LM_ETOOBIG, "%s: more than %u", f->name, LM_MAX_REFUSALS);
    if (n == 0)
        return LM_OK;
    lm_refusal *rf = lm_calloc(n, sizeof *rf);
    if (!rf)
        return lm__derr(c, LM_ENOMEM, "%s: out of memory", f->name);
    /* Owned by the message from here on, so lm_msg_clear frees partial work. */
    *(lm_refusal **)at(m, f->off) = rf;
    *(uint32_t *)at(m, f->off2) = n;

    char path[48];
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k;
        uint64_t index;
        int64_t code;
        before = *r;
        snprintf(path, sizeof path, "%s[%u]", f->name, i);
        if ((rc = lm__mp_read_array(r, &k)) != LM_OK)
            return read_fail(c, rc, path, "array", &before);
        if (k < 3)
            return lm__derr(c, LM_EMISSING, "%s: needs [index, code, reason]", path);
        before = *r;
        if ((rc = lm__mp_read_u64(r, &index)) != LM_OK || index > UINT32_MAX)
            return rc != LM_OK ? read_fail(c, rc, path, "integer", &before)
                               : lm__derr(c, LM_ERANGE, "%s.index: out of range", path);
        before = *r;
        if ((rc = lm__mp_read_i64(r, &code)) != LM_OK || code < INT32_MIN || code > INT32_MAX)
            return rc != LM_OK ? read_fail(c, rc, path, "integer", &before)
                               : lm__derr(c, LM_ERANGE, "%s.code: out of range", path);
        rf[i].index = (uint32_t)index;
        rf[i].code = (int32_t)code;
        snprintf(path, sizeof path, "%s[%u].reason", f->name, i);
        if ((rc = read_string(c, r, path, LM_MAX_TEXT, 1, &rf[i].reason)) != LM_OK)
            return rc;
        for (uint32_t e = 3; e < k; e++)
            if ((rc = lm__mp_skip(r, 4)) != LM_OK)
                return lm__derr(c, rc, "%s[%u]: %s", f->name, i, lm__read_errtext(rc));
    }
    return LM_OK;
}

/* One integer of a stamp range, at most max. */
static int read_uint_max(lm__dctx *c, lm__mp_reader *r, const char *path, const char *what,
                         uint64_t max, uint64_t *out)
{
    lm__mp_reader before = *r;
    int rc = lm__mp_read_u64(r, out);
    if (rc != LM_OK)
        return read_fail(c, rc, path, "integer", &before);
    if (*out > max)
        return lm__derr(c, LM_ERANGE, "%s.%s: out of range", path, what);
    return LM_OK;
}

static int read_stamps(lm__dctx *c, lm__mp_reader *r, lm_msg *m, const lm__field *f)
{
    uint32_t n;
    lm__mp_reader before = *r;
    int rc = lm__mp_read_array(r, &n);
    if (rc != LM_OK)
        return read_fail(c, rc, f->name, "array", &before);
    if (n > LM_MAX_CHANGES)
        return lm__derr(c, LM_ETOOBIG, "%s: more than %u", f->name, LM_MAX_CHANGES);
    if (n == 0)
        return LM_OK;
    lm_stamp_range *sr = lm_calloc(n, sizeof *sr);
    if (!sr)
        return lm__derr(c, LM_ENOMEM, "%s: out of memory", f->name);
    *(lm_stamp_range **)at(m, f->off) = sr;
    *(uint32_t *)at(m, f->off2) = n;

    char path[48];
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k;
        uint64_t lo, hi;
        before = *r;
        snprintf(path, sizeof path, "%s[%u]", f->name, i);
        if ((rc = lm__mp_read_array(r, &k)) != LM_OK)
            return read_fail(c, rc, path, "array", &before);
        if (k < 4)
            return lm__derr(c, LM_EMISSING, "%s: needs [hlc, received_at_ms, lo, hi]", path);
        if ((rc = read_uint_max(c, r, path, "hlc", UINT64_MAX, &sr[i].hlc)) != LM_OK ||
            (rc = read_uint_max(c, r, path, "received_at_ms", INT64_MAX, &sr[i].received_at_ms)) !=
                LM_OK ||
            (rc = read_uint_max(c, r, path, "lo", LM_MAX_CHANGES - 1, &lo)) != LM_OK ||
            (rc = read_uint_max(c, r, path, "hi", LM_MAX_CHANGES - 1, &hi)) != LM_OK)
            return rc;
        if (lo > hi)
            return lm__derr(c, LM_ERANGE, "%s: lo %llu is after hi %llu", path,
                            (unsigned long long)lo, (unsigned long long)hi);
        sr[i].lo = (uint32_t)lo;
        sr[i].hi = (uint32_t)hi;
        for (uint32_t e = 4; e < k; e++)
            if ((rc = lm__mp_skip(r, 4)) != LM_OK)
                return lm__derr(c, rc, "%s[%u]: %s", f->name, i, lm__read_errtext(rc));
    }
    return LM_OK;
}

static int read_field(lm__dctx *c, lm__mp_reader *r, lm_msg *m, const lm__field *f,
                      lm__mp_reader *dict, lm__mp_reader *rows)
{
    lm__mp_reader before = *r;
    uint64_t u;
    int64_t i;
    int rc, kind;

    switch (f->kind) {
    case LM__F_U64:
    case LM__F_OPT_U64:
        if ((rc = lm__mp_read_u64(r, &u)) != LM_OK)
            return read_fail(c, rc, f->name, "integer", &before);
        *(uint64_t *)at(m, f->off) = u;
        if (f->kind == LM__F_OPT_U64)
            *(uint8_t *)at(m, f->off2) = 1;
        return LM_OK;
    case LM__F_U32:
        if ((rc = lm__mp_read_u64(r, &u)) != LM_OK)
            return read_fail(c, rc, f->name, "integer", &before);
        if (u > UINT32_MAX)
            return lm__derr(c, LM_ERANGE, "%s: %llu does not fit 32 bits", f->name,
                            (unsigned long long)u);
        *(uint32_t *)at(m, f->off) = (uint32_t)u;
        return LM_OK;
    case LM__F_I32:
        if ((rc = lm__mp_read_i64(r, &i)) != LM_OK)
            return read_fail(c, rc, f->name, "integer", &before);
        if (i < INT32_MIN || i > INT32_MAX)
            return lm__derr(c, LM_ERANGE, "%s: %lld does not fit 32 bits", f->name, (long long)i);
        *(int32_t *)at(m, f->off) = (int32_t)i;
        return LM_OK;
    case LM__F_BOOL8: {
        int b = 0;
        if ((rc = lm__mp_peek(r, &kind)) == LM_OK && kind == LM__MP_UINT) {
            rc = lm__mp_read_u64(r, &u);
            if (rc == LM_OK && u > 1)
                return lm__derr(c, LM_ERANGE, "%s: must be 0 or 1", f->name);
            b = (int)u;
        } else if (rc == LM_OK) {
            rc = lm__mp_read_bool(r, &b);
        }
        if (rc != LM_OK)
            return read_fail(c, rc, f->name, "bool", &before);
        *(uint8_t *)at(m, f->off) = (uint8_t)b;
        return LM_OK;
    }
    case LM__F_STR:
        return read_string(c, r, f->name, f->max, !f->required, (char **)at(m, f->off));
    case LM__F_BIN32:
    case LM__F_OPT_BIN32:
    case LM__F_BIN64: {
        const uint8_t *s;
        uint32_t len, want = f->kind == LM__F_BIN64 ? 64u : 32u;
        if ((rc = lm__mp_read_bin(r, &s, &len)) != LM_OK)
            return read_fail(c, rc, f->name, "bin", &before);
        if (len != want)
            return lm__derr(c, LM_ERANGE, "%s: must be %u bytes, got %u", f->name, want, len);
        memcpy(at(m, f->off), s, want);
        if (f->kind == LM__F_OPT_BIN32)
            *(uint8_t *)at(m, f->off2) = 1;
        return LM_OK;
    }
    case LM__F_DICT:
    case LM__F_ROWS:
        /* Decoded after the whole map is read: keys may come in any order
         * and the rows need the dictionary. Skipping here validates the
         * structure and depth. */
        if ((rc = lm__mp_skip(r, 2)) != LM_OK)
            return lm__derr(c, rc, "%s: %s", f->name, lm__read_errtext(rc));
        *(f->kind == LM__F_DICT ? dict : rows) = before;
        return LM_OK;
    case LM__F_REFUSALS:
        return read_refusals(c, r, m, f);
    case LM__F_STAMPS:
        return read_stamps(c, r, m, f);
    default:
        return LM_EINVAL;
    }
}

static int decode(lm__dctx *c, int type, const uint8_t *payload, size_t len, lm_msg *m)
{
    size_t nf;
    const lm__field *fields = lm__msg_fields(type, &nf);
    lm__mp_reader r = {payload, len}, before = r;
    lm__mp_reader dict = {NULL, 0}, rows = {NULL, 0};
    uint32_t n, seen = 0;
    int rc;

    m->type = type;
    if ((rc = lm__mp_read_map(&r, &n)) != LM_OK)
        return read_fail(c, rc, "map", "map", &before);
    for (uint32_t k = 0; k < n; k++) {
        const uint8_t *key;
        uint32_t klen;
        before = r;
        if ((rc = lm__mp_read_str(&r, &key, &klen)) != LM_OK)
            return read_fail(c, rc, "key", "str", &before);
        size_t fi = 0;
        while (fi < nf &&
               !(strlen(fields[fi].key) == klen && memcmp(fields[fi].key, key, klen) == 0))
            fi++;
        if (fi == nf) {
            /* A newer peer's field: skip it, still within the depth limit. */
            if ((rc = lm__mp_skip(&r, 2)) != LM_OK)
                return lm__derr(c, rc, "(unknown key): %s", lm__read_errtext(rc));
            continue;
        }
        if (seen & (1u << fi))
            return lm__derr(c, LM_EMALFORMED, "%s: duplicate key", fields[fi].name);
        seen |= 1u << fi;
        if ((rc = read_field(c, &r, m, &fields[fi], &dict, &rows)) != LM_OK)
            return rc;
    }
    if (r.left != 0)
        return lm__derr(c, LM_EMALFORMED, "map: %zu trailing bytes", r.left);
    for (size_t fi = 0; fi < nf; fi++)
        if (fields[fi].required && !(seen & (1u << fi)))
            return lm__derr(c, LM_EMISSING, "%s: required field missing", fields[fi].name);
    for (size_t fi = 0; fi < nf; fi++)
        if (fields[fi].kind == LM__F_ROWS)
            return lm__changes_decode(c, dict, rows, (lm_change **)at(m, fields[fi].off),
                                      (uint32_t *)at(m, fields[fi].off2));
    return LM_OK;
}

int lm_push_rows(const uint8_t *payload, size_t len, uint32_t *rows)
{
    lm__mp_reader r = {payload, len};
    uint32_t n;
    *rows = 0;
    if (lm__mp_read_map(&r, &n) != LM_OK)
        return LM_EMALFORMED;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *key;
        uint32_t klen;
        if (lm__mp_read_str(&r, &key, &klen) != LM_OK)
            return LM_EMALFORMED;
        if (klen == 1 && key[0] == 'r')
            return lm__mp_read_array(&r, rows) == LM_OK ? LM_OK : LM_EMALFORMED;
        if (lm__mp_skip(&r, 0) != LM_OK)
            return LM_EMALFORMED;
    }
    return LM_OK;
}

int lm_msg_decode(int type, const uint8_t *payload, size_t len, lm_msg *m, char *errmsg,
                  size_t errmsg_size)
{
    lm__dctx c = {errmsg, errmsg_size, lm_msg_type_name(type)};
    if (errmsg && errmsg_size)
        errmsg[0] = '\0';
    if (!m)
        return LM_EINVAL;
    memset(m, 0, sizeof *m);
    if (!payload && len)
        return lm__derr(&c, LM_EINVAL, "payload: NULL");
    size_t nf;
    if (!lm__msg_fields(type, &nf))
        return lm__derr(&c, LM_EUNKNOWNTYPE, "type: %d is not a message type", type);
    int rc = decode(&c, type, payload ? payload : (const uint8_t *)"", len, m);
    if (rc != LM_OK)
        lm_msg_clear(m);
    return rc;
}
