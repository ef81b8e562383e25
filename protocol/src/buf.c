/*
 * buf.c — the growable output buffer encoders append to. Capacity grows
 * geometrically so appending N bytes in small pieces costs O(N).
 */
#include <stdint.h>
#include <string.h>

#include "lm_protocol.h"

void lm_buf_init(lm_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void lm_buf_close(lm_buf *b)
{
    lm_free(b->data);
    lm_buf_init(b);
}

void lm_buf_reset(lm_buf *b)
{
    b->len = 0;
}

/* Ensures room for `extra` more bytes. On failure the buffer is unchanged and
 * LM_ENOMEM (or LM_ETOOBIG when the size would overflow) is returned. */
int lm_buf_reserve(lm_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len)
        return LM_ETOOBIG;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return LM_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = lm_realloc(b->data, cap);
    if (!p)
        return LM_ENOMEM;
    b->data = p;
    b->cap = cap;
    return LM_OK;
}

int lm_buf_append(lm_buf *b, const void *data, size_t len)
{
    if (len == 0)
        return LM_OK;
    int rc = lm_buf_reserve(b, len);
    if (rc != LM_OK)
        return rc;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return LM_OK;
}
