/*
 * zhooks.h — what frame.c and frame_stream.c share: zlib's allocator hooks
 * on lm_malloc/lm_free (so the tests' failing allocators reach zlib's state
 * too), the big-endian u32 and the 4 bytes that end every sync flush.
 */
#ifndef LM_ZHOOKS_H
#define LM_ZHOOKS_H

#include <stdint.h>

#include <zlib.h>

voidpf lm__z_alloc(voidpf opaque, uInt items, uInt size);
void lm__z_free(voidpf opaque, voidpf p);
void lm__put_u32(uint8_t *p, uint32_t v);
uint32_t lm__get_u32(const uint8_t *p);
extern const uint8_t lm__flush_tail[4]; /* 00 00 ff ff */

#endif
