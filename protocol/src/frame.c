/*
 * frame.c — frames on the byte stream: encoder, incremental decoder, zlib.
 *
 * Wire format of one frame, byte by byte:
 *
 *   offset 0..3  length  u32 big-endian: number of bytes that follow the
 *                        length field (type + flags + payload), so >= 2.
 *                        A frame takes 4 + length bytes on the wire.
 *   offset 4     type    u8, an lm_msg_type (1 HELLO .. 10 BYE); any other
 *                        value is refused with LM_EUNKNOWNTYPE.
 *   offset 5     flags   u8; bit 0 LM_FRAME_DEFLATED, bit 1 LM_FRAME_STREAM
 *                        (only once accepted, never with bit 0). Any other
 *                        bit set is refused with LM_EFLAGS (a peer must not
 *                        send what we cannot interpret).
 *   offset 6..   payload length - 2 bytes: a msgpack map (see msg_encode.c),
 *                        or with LM_FRAME_DEFLATED a zlib stream (RFC 1950)
 *                        that inflates to that map, or with LM_FRAME_STREAM
 *                        the next piece of the sender's raw deflate stream
 *                        (frame_stream.c), ending in a sync flush.
 *
 * Limits: `length` is checked against max_frame as soon as the 4 length
 * bytes have arrived, and type/flags as soon as those arrived, before a single
 * byte of the body is buffered. A deflated payload is inflated into a window
 * that never grows past max_inflated; a stream that would produce more is
 * refused with LM_EBOMB without being inflated further.
 *
 * Errors in the decoder are sticky: after bad input the byte stream has no
 * trustworthy frame boundary left, so the only sane reaction is an ERROR
 * frame and a closed connection.
 */
#include <limits.h>
#include <string.h>

#include <zlib.h>

#include "lm_protocol.h"
#include "zhooks.h"

/* Buffers above this size are released once empty, so a burst of large
 * frames does not pin memory in thousands of idle sessions. */
#define KEEP_BUF_CAP (64u << 10)

/* ------------------------------------------------------------ zlib hooks */

voidpf lm__z_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    if (size && items > SIZE_MAX / size)
        return Z_NULL;
    return lm_malloc((size_t)items * size);
}

void lm__z_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    lm_free(p);
}

static int known_type(unsigned t)
{
    return t >= LM_MSG_HELLO && t <= LM_MSG_BYE;
}

const uint8_t lm__flush_tail[4] = {0x00, 0x00, 0xff, 0xff};

void lm__put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

uint32_t lm__get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---------------------------------------------------------------- encode */

/* Deflates src into a fresh lm_malloc'd buffer at level 9: the link, not the
 * CPU, is the bottleneck on 2G. *out is NULL when the result would not be
 * smaller than src (the caller then sends it raw). */
static int deflate_payload(const uint8_t *src, size_t len, uint8_t **out, size_t *out_len)
{
    int rc = LM_OK;
    z_stream zs;
    *out = NULL;
    *out_len = 0;
    if (len > UINT_MAX)
        return LM_ETOOBIG;
    memset(&zs, 0, sizeof zs);
    zs.zalloc = lm__z_alloc;
    zs.zfree = lm__z_free;
    int zrc = deflateInit(&zs, Z_BEST_COMPRESSION);
    if (zrc != Z_OK)
        return zrc == Z_MEM_ERROR ? LM_ENOMEM : LM_EZLIB;
    /* Only worth keeping when strictly smaller, so the window is len - 1. */
    size_t cap = len - 1;
    uint8_t *buf = lm_malloc(cap);
    if (!buf) {
        rc = LM_ENOMEM;
        goto fail_buf;
    }
    zs.next_in = (Bytef *)(uintptr_t)src; /* zlib's API is not const-correct */
    zs.avail_in = (uInt)len;
    zs.next_out = buf;
    zs.avail_out = (uInt)cap;
    zrc = deflate(&zs, Z_FINISH);
    if (zrc == Z_STREAM_END) {
        *out = buf;
        *out_len = zs.total_out;
        buf = NULL;
    } else if (zrc == Z_MEM_ERROR) {
        rc = LM_ENOMEM;
    } else if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
        rc = LM_EZLIB;
    } /* else: did not fit in len - 1 bytes, send raw */
    lm_free(buf);
fail_buf:
    deflateEnd(&zs);
    return rc;
}

int lm_frame_encode(lm_buf *out, uint8_t type, const uint8_t *payload, size_t len,
                    size_t deflate_min, size_t max_frame)
{
    uint8_t *z = NULL;
    size_t zlen = 0;
    uint8_t flags = 0;
    int rc;

    if (!out || (!payload && len) || !known_type(type))
        return LM_EINVAL;
    if (max_frame == 0)
        max_frame = LM_FRAME_DEFAULT_MAX;
    if (deflate_min && len >= deflate_min && len > 1) {
        /* The receiver refuses a payload inflating past its limit: do not
         * produce one that the default receiver would refuse. */
        if (len > LM_FRAME_DEFAULT_MAX_INFLATED)
            return LM_ETOOBIG;
        rc = deflate_payload(payload, len, &z, &zlen);
        if (rc != LM_OK)
            return rc;
        if (z) {
            payload = z;
            len = zlen;
            flags |= LM_FRAME_DEFLATED;
        }
    }
    if (len > max_frame - 2 || len > UINT32_MAX - 2 || max_frame < 2) {
        rc = LM_ETOOBIG;
        goto done;
    }
    rc = lm_buf_reserve(out, LM_FRAME_HEADER_SIZE + len);
    if (rc != LM_OK)
        goto done;
    uint8_t *p = out->data + out->len;
    lm__put_u32(p, (uint32_t)(len + 2));
    p[4] = type;
    p[5] = flags;
    if (len)
        memcpy(p + LM_FRAME_HEADER_SIZE, payload, len);
    out->len += LM_FRAME_HEADER_SIZE + len;
done:
    lm_free(z);
    return rc;
}

/* ---------------------------------------------------------------- decode */

void lm_frame_decoder_init(lm_frame_decoder *d, size_t max_frame, size_t max_inflated)
{
    memset(d, 0, sizeof *d);
    d->max_frame = max_frame ? max_frame : LM_FRAME_DEFAULT_MAX;
    d->max_inflated = max_inflated ? max_inflated : LM_FRAME_DEFAULT_MAX_INFLATED;
    if (d->max_frame > UINT32_MAX)
        d->max_frame = UINT32_MAX;
}

void lm_frame_decoder_close(lm_frame_decoder *d)
{
    lm_free(d->buf);
    lm_free(d->inflated);
    if (d->stream) {
        inflateEnd(d->stream);
        lm_free(d->stream);
    }
    d->buf = NULL;
    d->inflated = NULL;
    d->stream = NULL;
    d->len = d->cap = d->off = d->inflated_cap = 0;
}

/* Checks a complete 6-byte header. */
static int check_header(const lm_frame_decoder *d, const uint8_t *h)
{
    uint32_t length = lm__get_u32(h);
    if (length > d->max_frame)
        return LM_ETOOBIG;
    if (length < 2)
        return LM_EMALFORMED;
    if (!known_type(h[4]))
        return LM_EUNKNOWNTYPE;
    if (h[5] & ~LM_FRAME_KNOWN_FLAGS)
        return LM_EFLAGS;
    /* a session stream only where the handshake agreed on one; a frame is
     * deflated either alone or as a piece of it */
    if ((h[5] & LM_FRAME_STREAM) && (!d->stream_ok || (h[5] & LM_FRAME_DEFLATED)))
        return LM_EFLAGS;
    return LM_OK;
}

/* Length field check alone, possible as soon as 4 bytes are in. */
static int check_length(const lm_frame_decoder *d, const uint8_t *h)
{
    uint32_t length = lm__get_u32(h);
    if (length > d->max_frame)
        return LM_ETOOBIG;
    return length < 2 ? LM_EMALFORMED : LM_OK;
}

/* Drops consumed bytes and releases big idle buffers. Called only at the
 * start of a decoder call, when the previous frame's borrowed payload has
 * expired. */
static void compact(lm_frame_decoder *d)
{
    if (d->off > 0) {
        memmove(d->buf, d->buf + d->off, d->len - d->off);
        d->len -= d->off;
        d->off = 0;
    }
    if (d->len == 0 && d->cap > KEEP_BUF_CAP) {
        lm_free(d->buf);
        d->buf = NULL;
        d->cap = 0;
    }
    if (d->inflated_cap > KEEP_BUF_CAP) {
        lm_free(d->inflated);
        d->inflated = NULL;
        d->inflated_cap = 0;
    }
}

static int append(lm_frame_decoder *d, const uint8_t *p, size_t n)
{
    if (n > d->cap - d->len) {
        size_t need = d->len + n;
        size_t cap = d->cap ? d->cap : 256;
        while (cap < need)
            cap *= 2;
        uint8_t *nb = lm_realloc(d->buf, cap);
        if (!nb)
            return LM_ENOMEM;
        d->buf = nb;
        d->cap = cap;
    }
    memcpy(d->buf + d->len, p, n);
    d->len += n;
    return LM_OK;
}

/* Feeding walks the frame boundaries as the bytes arrive: header bytes are
 * buffered first, the header is validated the moment it is complete, and
 * only then is room made for (a slice of) the body. `pos` is the start of
 * the first frame not yet complete in the buffer; frames before it were
 * validated by earlier calls. */
int lm_frame_decoder_feed(lm_frame_decoder *d, const uint8_t *data, size_t len)
{
    if (d->error)
        return d->error;
    if (!data && len)
        return LM_EINVAL;
    compact(d);

    size_t pos = d->off;
    while (d->len - pos >= LM_FRAME_HEADER_SIZE) {
        size_t flen = 4 + (size_t)lm__get_u32(d->buf + pos);
        if (d->len - pos < flen)
            break;
        pos += flen;
    }

    int rc = LM_OK;
    while (len > 0) {
        size_t have = d->len - pos, take;
        if (have < LM_FRAME_HEADER_SIZE) {
            take = LM_FRAME_HEADER_SIZE - have;
            take = take < len ? take : len;
            if ((rc = append(d, data, take)) != LM_OK)
                break;
            have += take;
            if (have >= 4 && (rc = check_length(d, d->buf + pos)) != LM_OK)
                break;
            if (have == LM_FRAME_HEADER_SIZE && (rc = check_header(d, d->buf + pos)) != LM_OK)
                break;
        } else {
            size_t flen = 4 + (size_t)lm__get_u32(d->buf + pos);
            take = flen - have;
            take = take < len ? take : len;
            if ((rc = append(d, data, take)) != LM_OK)
                break;
            if (have + take == flen)
                pos += flen;
        }
        data += take;
        len -= take;
    }
    if (rc != LM_OK)
        d->error = rc;
    return rc;
}

/* Inflates src through zs into d->inflated, growing the window by doubling
 * but never past max_inflated. When the window is full and zlib may have
 * more, one more byte of output is requested: if zlib can produce it the
 * payload is a bomb, refused without inflating the rest. A frame's own zlib
 * stream must end exactly with its payload; a piece of the session stream
 * (session = 1) must be taken whole and not end the stream (it never
 * ends). */
static int inflate_window(lm_frame_decoder *d, z_stream *zs, const uint8_t *src, size_t len,
                          int session, size_t *out_len)
{
    const int flush = session ? Z_SYNC_FLUSH : Z_FINISH;
    int zrc = Z_OK;
    if (len > UINT_MAX)
        return LM_ETOOBIG;
    zs->next_in = (Bytef *)(uintptr_t)src; /* zlib's API is not const-correct */
    zs->avail_in = (uInt)len;

    size_t total = 0;
    for (;;) {
        if (total == d->inflated_cap) {
            if (d->inflated_cap >= d->max_inflated) {
                /* Window full: one probe byte tells a bomb from an exact fit. */
                uint8_t probe;
                zs->next_out = &probe;
                zs->avail_out = 1;
                zrc = inflate(zs, flush);
                if (zs->avail_out == 0)
                    return LM_EBOMB;
                break;
            }
            size_t cap = d->inflated_cap ? d->inflated_cap * 2 : 4096;
            if (cap < len * 4 && d->inflated_cap == 0)
                cap = len * 4;
            if (cap > d->max_inflated)
                cap = d->max_inflated;
            uint8_t *nb = lm_realloc(d->inflated, cap);
            if (!nb)
                return LM_ENOMEM;
            d->inflated = nb;
            d->inflated_cap = cap;
        }
        size_t room = d->inflated_cap - total;
        zs->next_out = d->inflated + total;
        zs->avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
        uInt before = zs->avail_out;
        zrc = inflate(zs, flush);
        total += before - zs->avail_out;
        if (zrc == Z_STREAM_END || (zrc != Z_OK && zrc != Z_BUF_ERROR))
            break;
        if (zs->avail_out > 0)
            break; /* input exhausted (and, for a piece, all of it out) */
    }
    if (zrc == Z_MEM_ERROR)
        return LM_ENOMEM;
    if (session ? zrc == Z_STREAM_END || (zrc != Z_OK && zrc != Z_BUF_ERROR) || zs->avail_in != 0
                : zrc != Z_STREAM_END || zs->avail_in != 0)
        return LM_EZLIB; /* corrupt, truncated, ended, or bytes after the end */
    *out_len = total;
    return LM_OK;
}

/* A frame deflated alone: a zlib stream (RFC 1950) of its own. */
static int inflate_payload(lm_frame_decoder *d, const uint8_t *src, size_t len, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    zs.zalloc = lm__z_alloc;
    zs.zfree = lm__z_free;
    int zrc = inflateInit(&zs);
    if (zrc != Z_OK)
        return zrc == Z_MEM_ERROR ? LM_ENOMEM : LM_EZLIB;
    int rc = inflate_window(d, &zs, src, len, 0, out_len);
    inflateEnd(&zs);
    return rc;
}

/* The next piece of the peer's session stream (frame_stream.c): its last 4
 * bytes are the message's CRC-32, in the place of the sync flush's
 * 00 00 ff ff, which goes back there (src is the decoder's own buffer). */
static int inflate_piece(lm_frame_decoder *d, uint8_t *src, size_t len, size_t *out_len)
{
    z_stream *zs = d->stream;
    if (len < 4)
        return LM_EZLIB;
    uint32_t crc = lm__get_u32(src + len - 4);
    memcpy(src + len - 4, lm__flush_tail, 4);
    if (!zs) {
        if (!(zs = lm_calloc(1, sizeof *zs)))
            return LM_ENOMEM;
        zs->zalloc = lm__z_alloc;
        zs->zfree = lm__z_free;
        int zrc = inflateInit2(zs, -d->stream_wbits);
        if (zrc != Z_OK) {
            lm_free(zs);
            return zrc == Z_MEM_ERROR ? LM_ENOMEM : LM_EZLIB;
        }
        d->stream = zs;
    }
    int rc = inflate_window(d, zs, src, len, 1, out_len);
    if (rc == LM_OK && crc32(0L, d->inflated, (uInt)*out_len) != crc)
        rc = LM_EZLIB;
    return rc;
}

void lm_frame_decoder_accept_stream(lm_frame_decoder *d, int wbits)
{
    d->stream_ok = 1;
    d->stream_wbits =
        wbits == LM_FRAME_STREAM_WIDE_WBITS ? LM_FRAME_STREAM_WIDE_WBITS : LM_FRAME_STREAM_WBITS;
}

int lm_frame_decoder_peek(const lm_frame_decoder *d, uint8_t *type)
{
    if (d->error)
        return d->error;
    size_t have = d->len - d->off;
    if (have < LM_FRAME_HEADER_SIZE)
        return 0;
    const uint8_t *h = d->buf + d->off;
    if (have < 4 + (size_t)lm__get_u32(h))
        return 0;
    *type = h[4];
    return 1;
}

size_t lm_frame_decoder_held(const lm_frame_decoder *d)
{
    return d->len > d->off ? d->cap : 0;
}

int lm_frame_decoder_next(lm_frame_decoder *d, lm_frame *out)
{
    if (d->error)
        return d->error;
    if (d->off == d->len) { /* all taken: the last payload expired with this call */
        d->off = d->len = 0;
        if (d->cap > KEEP_BUF_CAP) {
            lm_free(d->buf);
            d->buf = NULL;
            d->cap = 0;
        }
    }
    if (d->inflated_cap > KEEP_BUF_CAP) {
        lm_free(d->inflated);
        d->inflated = NULL;
        d->inflated_cap = 0;
    }
    size_t have = d->len - d->off;
    if (have < LM_FRAME_HEADER_SIZE)
        return 0;
    const uint8_t *h = d->buf + d->off;
    size_t flen = 4 + (size_t)lm__get_u32(h);
    if (have < flen)
        return 0;

    memset(out, 0, sizeof *out);
    out->type = h[4];
    out->flags = h[5];
    out->wire_len = flen;
    out->payload = h + LM_FRAME_HEADER_SIZE;
    out->payload_len = flen - LM_FRAME_HEADER_SIZE;
    if (out->flags & (LM_FRAME_DEFLATED | LM_FRAME_STREAM)) {
        size_t n = 0;
        int rc =
            out->flags & LM_FRAME_STREAM
                ? inflate_piece(d, d->buf + d->off + LM_FRAME_HEADER_SIZE, out->payload_len, &n)
                : inflate_payload(d, out->payload, out->payload_len, &n);
        if (rc != LM_OK) {
            memset(out, 0, sizeof *out);
            d->error = rc;
            return rc;
        }
        out->payload = d->inflated ? d->inflated : h; /* empty output: any valid pointer */
        out->payload_len = n;
    }
    d->off += flen;
    return 1;
}
