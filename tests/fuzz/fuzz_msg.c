/*
 * fuzz_msg.c — libFuzzer target for the message decoder. The first byte
 * picks the message type (1..10, or an unknown one), the rest is the
 * payload. Besides "no crash, no leak, no UB", a payload that decodes must
 * survive encode -> decode unchanged: the decoder accepts nothing the
 * encoder cannot reproduce; a change list also with integers as deltas.
 */
#include <stdlib.h>

#include "proto_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int type = data[0] <= 200 ? 1 + data[0] % 10 : data[0];
    lm_msg m, again;
    char err[256];
    int rc = lm_msg_decode(type, data + 1, size - 1, &m, err, sizeof err);
    if (rc > 0)
        abort();
    if (rc != LM_OK) {
        if (err[0] == '\0')
            abort(); /* every refusal must say what was wrong */
        return 0;
    }
    lm_buf b;
    lm_buf_init(&b);
    if (lm_msg_encode(&m, &b) != LM_OK)
        abort();
    if (lm_msg_decode(type, b.data, b.len, &again, err, sizeof err) != LM_OK)
        abort();
    if (!pu_msg_eq(&m, &again))
        abort();
    lm_msg_clear(&again);
    /* and again with integers as deltas (LM_FEATURE_INT_DELTAS): the
     * encoder's choice of delta or integer must decode to the same list */
    if (type == LM_MSG_PUSH || type == LM_MSG_CHANGES) {
        if (type == LM_MSG_PUSH)
            m.u.push.int_deltas = 1;
        else
            m.u.changes.int_deltas = 1;
        lm_buf_reset(&b);
        if (lm_msg_encode(&m, &b) != LM_OK)
            abort();
        if (lm_msg_decode(type, b.data, b.len, &again, err, sizeof err) != LM_OK)
            abort();
        if (!pu_msg_eq(&m, &again))
            abort();
        lm_msg_clear(&again);
    }
    lm_msg_clear(&m);
    lm_buf_close(&b);
    return 0;
}
