/*
 * msg_encode.c — lm_msg to msgpack payload, driven by the field tables in
 * msg_fields.c. The encoder refuses what the decoder would refuse (missing
 * required strings, over-long fields, too many changes), so every payload it
 * produces decodes. On any error `out` is left as it was.
 */
#include <string.h>

#include "codec.h"

static const void *at(const lm_msg *m, size_t off)
{
    return (const char *)m + off;
}

/* Validates one field and says how many map entries it contributes. */
static int count_field(const lm_msg *m, const lm__field *f, uint32_t *entries)
{
    switch (f->kind) {
    case LM__F_STR: {
        const char *s = *(char *const *)at(m, f->off);
        if (!s)
            return f->required ? LM_EINVAL : LM_OK;
        if (strlen(s) > f->max)
            return LM_ETOOBIG;
        break;
    }
    case LM__F_REFUSALS: {
        const lm_refusal *rf = *(lm_refusal *const *)at(m, f->off);
        uint32_t n = *(const uint32_t *)at(m, f->off2);
        if (n == 0)
            return LM_OK;
        if (n > LM_MAX_REFUSALS)
            return LM_ETOOBIG;
        if (!rf)
            return LM_EINVAL;
        for (uint32_t i = 0; i < n; i++)
            if (rf[i].reason && strlen(rf[i].reason) > LM_MAX_TEXT)
                return LM_ETOOBIG;
        break;
    }
    case LM__F_STAMPS: {
        const lm_stamp_range *sr = *(lm_stamp_range *const *)at(m, f->off);
        uint32_t n = *(const uint32_t *)at(m, f->off2);
        if (n == 0)
            return LM_OK;
        if (n > LM_MAX_CHANGES)
            return LM_ETOOBIG;
        if (!sr)
            return LM_EINVAL;
        for (uint32_t i = 0; i < n; i++)
            if (sr[i].lo > sr[i].hi)
                return LM_EINVAL;
        break;
    }
    case LM__F_OPT_U64:
    case LM__F_OPT_BIN32:
        if (!*(const uint8_t *)at(m, f->off2))
            return LM_OK;
        break;
    default:
        break;
    }
    (*entries)++;
    return LM_OK;
}

static int put_field(lm__mp_writer *w, const lm_msg *m, const lm__field *f)
{
    switch (f->kind) {
    case LM__F_STR:
        if (!*(char *const *)at(m, f->off))
            return LM_OK;
        break;
    case LM__F_REFUSALS:
    case LM__F_STAMPS:
        if (*(const uint32_t *)at(m, f->off2) == 0)
            return LM_OK;
        break;
    case LM__F_DICT: /* writes both "d" and "r" */
        return lm__changes_encode(w, *(lm_change *const *)at(m, f->off),
                                  *(const uint32_t *)at(m, f->off2),
                                  m->type == LM_MSG_PUSH      ? m->u.push.int_deltas
                                  : m->type == LM_MSG_CHANGES ? m->u.changes.int_deltas
                                                              : 0);
    case LM__F_ROWS:
        return LM_OK;
    case LM__F_OPT_U64:
    case LM__F_OPT_BIN32:
        if (!*(const uint8_t *)at(m, f->off2))
            return LM_OK;
        break;
    default:
        break;
    }
    lm__mp_put_cstr(w, f->key);
    switch (f->kind) {
    case LM__F_U64:
    case LM__F_OPT_U64:
        lm__mp_put_u64(w, *(const uint64_t *)at(m, f->off));
        break;
    case LM__F_U32:
        lm__mp_put_u64(w, *(const uint32_t *)at(m, f->off));
        break;
    case LM__F_I32:
        lm__mp_put_i64(w, *(const int32_t *)at(m, f->off));
        break;
    case LM__F_BOOL8:
        lm__mp_put_bool(w, *(const uint8_t *)at(m, f->off) != 0);
        break;
    case LM__F_STR:
        lm__mp_put_cstr(w, *(char *const *)at(m, f->off));
        break;
    case LM__F_BIN32:
    case LM__F_OPT_BIN32:
        lm__mp_put_bin(w, at(m, f->off), 32);
        break;
    case LM__F_BIN64:
        lm__mp_put_bin(w, at(m, f->off), 64);
        break;
    case LM__F_REFUSALS: {
        const lm_refusal *rf = *(lm_refusal *const *)at(m, f->off);
        uint32_t n = *(const uint32_t *)at(m, f->off2);
        lm__mp_put_array(w, n);
        for (uint32_t i = 0; i < n; i++) {
            lm__mp_put_array(w, 3);
            lm__mp_put_u64(w, rf[i].index);
            lm__mp_put_i64(w, rf[i].code);
            if (rf[i].reason)
                lm__mp_put_cstr(w, rf[i].reason);
            else
                lm__mp_put_nil(w);
        }
        break;
    }
    case LM__F_STAMPS: {
        const lm_stamp_range *sr = *(lm_stamp_range *const *)at(m, f->off);
        uint32_t n = *(const uint32_t *)at(m, f->off2);
        lm__mp_put_array(w, n);
        for (uint32_t i = 0; i < n; i++) {
            lm__mp_put_array(w, 4);
            lm__mp_put_u64(w, sr[i].hlc);
            lm__mp_put_u64(w, sr[i].received_at_ms);
            lm__mp_put_u64(w, sr[i].lo);
            lm__mp_put_u64(w, sr[i].hi);
        }
        break;
    }
    default:
        break;
    }
    return w->rc;
}

int lm_msg_encode(const lm_msg *m, lm_buf *out)
{
    size_t nf;
    uint32_t entries = 0;
    int rc;

    if (!m || !out)
        return LM_EINVAL;
    const lm__field *fields = lm__msg_fields(m->type, &nf);
    if (!fields)
        return LM_EUNKNOWNTYPE;
    for (size_t i = 0; i < nf; i++)
        if ((rc = count_field(m, &fields[i], &entries)) != LM_OK)
            return rc;

    size_t start = out->len;
    lm__mp_writer w = {out, LM_OK};
    lm__mp_put_map(&w, entries);
    for (size_t i = 0; i < nf && w.rc == LM_OK; i++)
        if ((rc = put_field(&w, m, &fields[i])) != LM_OK && w.rc == LM_OK)
            w.rc = rc;
    if (w.rc != LM_OK)
        out->len = start;
    return w.rc;
}

int lm_msg_encode_frame_z(const lm_msg *m, lm_frame_deflater *z, lm_buf *out, size_t deflate_min,
                          size_t max_frame)
{
    lm_buf payload;
    lm_buf_init(&payload);
    int rc = lm_msg_encode(m, &payload);
    if (rc == LM_OK)
        rc = lm_frame_encode_z(z, out, (uint8_t)m->type, payload.data, payload.len, deflate_min,
                               max_frame);
    lm_buf_close(&payload);
    return rc;
}

int lm_msg_encode_frame(const lm_msg *m, lm_buf *out, size_t deflate_min, size_t max_frame)
{
    return lm_msg_encode_frame_z(m, NULL, out, deflate_min, max_frame);
}
