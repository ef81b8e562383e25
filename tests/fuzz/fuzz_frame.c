/*
 * fuzz_frame.c — libFuzzer target for the incremental frame decoder. The
 * input is a byte stream fed in slices whose sizes come from a generator
 * seeded by the first byte, so one input exercises many boundary positions.
 * Small limits keep each run fast and make the size and bomb checks
 * reachable. Every complete frame is handed to the message decoder too.
 * With the first byte's top bit set the decoder accepts session stream
 * frames (LM_FRAME_STREAM), as a server does after granting them.
 */
#include <stdlib.h>

#include "lm_test.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint32_t seed = data[0] * 2654435761u + 1;
    int stream = data[0] & 0x80, wide = data[0] & 0x40;
    data++;
    size--;
    lm_frame_decoder d;
    lm_frame_decoder_init(&d, 64u << 10, 256u << 10);
    if (stream)
        lm_frame_decoder_accept_stream(&d,
                                       wide ? LM_FRAME_STREAM_WIDE_WBITS : LM_FRAME_STREAM_WBITS);
    size_t off = 0;
    int rc = LM_OK;
    while (off < size && rc >= 0) {
        seed = seed * 1103515245u + 12345u;
        size_t n = 1 + (seed >> 16) % 97;
        if (n > size - off)
            n = size - off;
        rc = lm_frame_decoder_feed(&d, data + off, n);
        off += n;
        lm_frame f;
        while (rc == LM_OK && (rc = lm_frame_decoder_next(&d, &f)) == 1) {
            if (f.payload_len > d.max_inflated || f.wire_len > d.max_frame + 4)
                abort();
            lm_msg m;
            if (lm_msg_decode(f.type, f.payload, f.payload_len, &m, NULL, 0) == LM_OK)
                lm_msg_clear(&m);
            rc = LM_OK;
        }
    }
    /* once failed, the decoder must keep failing with the same code */
    if (rc < 0) {
        lm_frame f;
        if (lm_frame_decoder_next(&d, &f) != rc || lm_frame_decoder_feed(&d, data, 0) != rc)
            abort();
    }
    lm_frame_decoder_close(&d);
    return 0;
}
