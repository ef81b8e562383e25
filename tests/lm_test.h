/*
 * lm_test.h — the small test harness every unit test uses: checks that
 * report file:line and keep going, a counting allocator that can fail the
 * Nth allocation and proves no byte leaked, and a closing summary line.
 */
#ifndef LM_TEST_H
#define LM_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lm_protocol.h"

static int lm_test_failures;
static int lm_test_checks;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        lm_test_checks++;                                                                          \
        if (!(cond)) {                                                                             \
            lm_test_failures++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long lm__a = (long long)(a), lm__b = (long long)(b);                                  \
        lm_test_checks++;                                                                          \
        if (lm__a != lm__b) {                                                                      \
            lm_test_failures++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", __FILE__, __LINE__,  \
                    #a, #b, lm__a, lm__b);                                                         \
        }                                                                                          \
    } while (0)

#define CHECK_RC(expr, want)                                                                       \
    do {                                                                                           \
        int lm__rc = (expr);                                                                       \
        lm_test_checks++;                                                                          \
        if (lm__rc != (want)) {                                                                    \
            lm_test_failures++;                                                                    \
            fprintf(stderr, "%s:%d: %s returned %s (%d), want %s\n", __FILE__, __LINE__, #expr,    \
                    lm_errname(lm__rc), lm__rc, lm_errname(want));                                 \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *lm__a = (a), *lm__b = (b);                                                     \
        lm_test_checks++;                                                                          \
        if (!lm__a || !lm__b || strcmp(lm__a, lm__b) != 0) {                                       \
            lm_test_failures++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (\"%s\" != \"%s\")\n", __FILE__,        \
                    __LINE__, #a, #b, lm__a ? lm__a : "(null)", lm__b ? lm__b : "(null)");         \
        }                                                                                          \
    } while (0)

/* Counting allocator: tracks live bytes and fails allocation number
 * fail_at (1-based; 0 = never). A header in front of each block keeps the
 * size so frees can be counted. */
typedef struct lm_test_heap {
    long long live_bytes;
    long long live_blocks;
    long long calls;
    long long fail_at;
    int failed;
} lm_test_heap;

static lm_test_heap lm_test_heap_state;

#define LM_TEST_HDR 16

static void *lm_test_malloc(size_t size, void *ud)
{
    lm_test_heap *h = ud;
    h->calls++;
    if (h->fail_at && h->calls == h->fail_at) {
        h->failed = 1;
        return NULL;
    }
    unsigned char *p = malloc(size + LM_TEST_HDR);
    if (!p)
        return NULL;
    memcpy(p, &size, sizeof size);
    h->live_bytes += (long long)size;
    h->live_blocks++;
    return p + LM_TEST_HDR;
}

static void lm_test_free(void *ptr, void *ud)
{
    lm_test_heap *h = ud;
    if (!ptr)
        return;
    unsigned char *p = (unsigned char *)ptr - LM_TEST_HDR;
    size_t size;
    memcpy(&size, p, sizeof size);
    h->live_bytes -= (long long)size;
    h->live_blocks--;
    free(p);
}

static void *lm_test_realloc(void *ptr, size_t size, void *ud)
{
    if (!ptr)
        return lm_test_malloc(size, ud);
    lm_test_heap *h = ud;
    h->calls++;
    if (h->fail_at && h->calls == h->fail_at) {
        h->failed = 1;
        return NULL;
    }
    unsigned char *p = (unsigned char *)ptr - LM_TEST_HDR;
    size_t old;
    memcpy(&old, p, sizeof old);
    unsigned char *q = realloc(p, size + LM_TEST_HDR);
    if (!q)
        return NULL;
    memcpy(q, &size, sizeof size);
    h->live_bytes += (long long)size - (long long)old;
    return q + LM_TEST_HDR;
}

/* Installs the counting allocator; fail_at 0 never fails. */
static inline void lm_test_heap_install(long long fail_at)
{
    memset(&lm_test_heap_state, 0, sizeof lm_test_heap_state);
    lm_test_heap_state.fail_at = fail_at;
    lm_allocator a = {lm_test_malloc, lm_test_realloc, lm_test_free, &lm_test_heap_state};
    lm_set_allocator(&a);
}

/* Restores libc and checks nothing is left allocated. */
static inline void lm_test_heap_check_clean(const char *what)
{
    lm_set_allocator(NULL);
    if (lm_test_heap_state.live_blocks != 0 || lm_test_heap_state.live_bytes != 0) {
        lm_test_failures++;
        fprintf(stderr, "%s: leaked %lld bytes in %lld blocks\n", what,
                lm_test_heap_state.live_bytes, lm_test_heap_state.live_blocks);
    }
}

/* Prints the closing line and gives the exit code. */
static inline int lm_test_done(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, lm_test_checks, lm_test_failures);
    return lm_test_failures ? 1 : 0;
}

#endif
