/*
 * text_internal.h — what the text layer's writers share (private to text/).
 */
#ifndef LM_TEXT_INTERNAL_H
#define LM_TEXT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Length of the valid UTF-8 sequence at s (1..4, at most left bytes) with
 * its code point in *cp, or 0 when the bytes there are not valid UTF-8
 * (overlong forms, surrogates and values past U+10FFFF included). */
size_t lm__utf8_decode(const unsigned char *s, size_t left, uint32_t *cp);

/* lm_text_display, except that with keep_breaks TAB, LF and CR pass
 * unchanged (a quoted CSV field holds them as data). NULL when out of
 * memory. */
char *lm__text_escape(const char *s, int keep_breaks);

#endif
