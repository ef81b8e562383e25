/*
 * frame_stream.c — the sending side of a session deflate stream.
 *
 * On a 2G link a push goes out in batches of a few KB, and deflating each
 * frame alone starts every one without history: a day of 300 purchases
 * took 16.4-16.8 KB. One raw deflate stream for the whole session, each
 * frame's piece ending in a sync flush so the receiver can inflate it at
 * once, lets later batches refer to the earlier ones (13.4-14.0 KB for the
 * same payloads, bench/link/deflate_stream.py). The window is 8 KiB, or
 * gzip's 32 KiB when both sides agreed on LM_FEATURE_WIDE_WINDOW: 3.8 %
 * fewer bytes on that day, for about 25 KB more inflate state per session
 * on the server (its stream_window_kib chooses).
 *
 * A sync flush ends in the empty stored block 00 00 ff ff; every piece
 * does, so the sender drops it and the receiver puts it back (as RFC 7692
 * does), and those 4 bytes carry the CRC-32 of the piece's message instead:
 * raw deflate has no check of its own, unlike a frame deflated alone.
 *
 * What went into the stream must reach the peer, in order. So a payload
 * whose worst case might not fit a frame is deflated alone instead (a
 * caller can then retry a smaller one), and after any failure inside
 * zlib the stream is spent.
 */
#include <limits.h>
#include <string.h>

#include <zlib.h>

#include "lm_protocol.h"
#include "zhooks.h"

/* Payloads past this are deflated alone, with zlib's full 32 KiB window:
 * such a frame has history enough of its own, and an 8 KiB stream window
 * made it bigger (a 10,000-record loopback push: 52.4 -> 54.8 B/record
 * with every frame in the stream). 2G batches stay far below. */
#define STREAM_MAX_PAYLOAD (64u << 10)

/* A sync flush adds an empty stored block (5 bytes) after the pending bits;
 * deflateBound() counts neither (it assumes Z_FINISH). */
#define FLUSH_SLACK 16u

struct lm_frame_deflater {
    z_stream zs;
    int spent; /* an error left the stream unknown to the peer */
};

int lm_frame_deflater_new(lm_frame_deflater **out, int wbits)
{
    *out = NULL;
    if (wbits != LM_FRAME_STREAM_WBITS && wbits != LM_FRAME_STREAM_WIDE_WBITS)
        return LM_EINVAL;
    lm_frame_deflater *z = lm_calloc(1, sizeof *z);
    if (!z)
        return LM_ENOMEM;
    z->zs.zalloc = lm__z_alloc;
    z->zs.zfree = lm__z_free;
    /* Level 9 as for single frames: the link, not the CPU, is scarce. */
    int zrc = deflateInit2(&z->zs, Z_BEST_COMPRESSION, Z_DEFLATED, -wbits, 8, Z_DEFAULT_STRATEGY);
    if (zrc != Z_OK) {
        lm_free(z);
        return zrc == Z_MEM_ERROR ? LM_ENOMEM : LM_EZLIB;
    }
    *out = z;
    return LM_OK;
}

void lm_frame_deflater_free(lm_frame_deflater *z)
{
    if (!z)
        return;
    deflateEnd(&z->zs);
    lm_free(z);
}

/* Deflates payload into out after a header left for the caller, growing
 * out while zlib has more to write. */
static int deflate_piece(lm_frame_deflater *z, lm_buf *out, size_t start, const uint8_t *payload,
                         size_t len, size_t room)
{
    z->zs.next_in = (Bytef *)(uintptr_t)payload; /* zlib's API is not const-correct */
    z->zs.avail_in = (uInt)len;
    size_t produced = 0;
    for (;;) {
        int rc = lm_buf_reserve(out, LM_FRAME_HEADER_SIZE + produced + room);
        if (rc != LM_OK)
            return rc;
        z->zs.next_out = out->data + start + LM_FRAME_HEADER_SIZE + produced;
        z->zs.avail_out = (uInt)room;
        int zrc = deflate(&z->zs, Z_SYNC_FLUSH);
        produced += room - z->zs.avail_out;
        if (zrc != Z_OK && zrc != Z_BUF_ERROR)
            return zrc == Z_MEM_ERROR ? LM_ENOMEM : LM_EZLIB;
        if (z->zs.avail_out > 0 && z->zs.avail_in == 0)
            break; /* all in, all flushed */
        room = 4096;
    }
    out->len = start + LM_FRAME_HEADER_SIZE + produced;
    return LM_OK;
}

int lm_frame_encode_z(lm_frame_deflater *z, lm_buf *out, uint8_t type, const uint8_t *payload,
                      size_t len, size_t deflate_min, size_t max_frame)
{
    if (!z || !deflate_min || len < deflate_min)
        return lm_frame_encode(out, type, payload, len, deflate_min, max_frame);
    if (z->spent)
        return LM_EZLIB;
    if (!out || !payload || type < LM_MSG_HELLO || type > LM_MSG_BYE)
        return LM_EINVAL;
    if (max_frame == 0)
        max_frame = LM_FRAME_DEFAULT_MAX;
    /* As lm_frame_encode: nothing the default receiver would refuse. */
    if (len > LM_FRAME_DEFAULT_MAX_INFLATED)
        return LM_ETOOBIG;
    size_t bound = (size_t)deflateBound(&z->zs, (uLong)len) + FLUSH_SLACK;
    if (max_frame > UINT32_MAX)
        max_frame = UINT32_MAX;
    if (len > STREAM_MAX_PAYLOAD || max_frame < 2 || bound > max_frame - 2)
        return lm_frame_encode(out, type, payload, len, deflate_min, max_frame);

    size_t start = out->len, piece = 0;
    int rc = deflate_piece(z, out, start, payload, len, bound);
    if (rc == LM_OK) {
        piece = out->len - start - LM_FRAME_HEADER_SIZE;
        if (piece < 4 || memcmp(out->data + out->len - 4, lm__flush_tail, 4) != 0)
            rc = LM_EZLIB;
        else if (piece > max_frame - 2)
            rc = LM_ETOOBIG; /* past the bound and its slack: zlib broke its word */
    }
    if (rc != LM_OK) {
        z->spent = 1;
        out->len = start;
        return rc;
    }
    lm__put_u32(out->data + out->len - 4, (uint32_t)crc32(0L, payload, (uInt)len));
    uint8_t *h = out->data + start;
    lm__put_u32(h, (uint32_t)(piece + 2));
    h[4] = type;
    h[5] = LM_FRAME_STREAM;
    return LM_OK;
}
