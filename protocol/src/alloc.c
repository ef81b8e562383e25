/*
 * alloc.c — the one replaceable allocator. Every lastmile allocation passes
 * through here so tests can fail the Nth call and count live bytes.
 *
 * The hooks are a process-global set once before use (tests swap them between
 * cases); they are not guarded by a lock because changing them while other
 * threads allocate would mix allocators regardless.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lm_protocol.h"

static void *libc_malloc(size_t size, void *ud)
{
    (void)ud;
    return malloc(size);
}

static void *libc_realloc(void *ptr, size_t size, void *ud)
{
    (void)ud;
    return realloc(ptr, size);
}

static void libc_free(void *ptr, void *ud)
{
    (void)ud;
    free(ptr);
}

static lm_allocator current = {libc_malloc, libc_realloc, libc_free, NULL};

void lm_set_allocator(const lm_allocator *a)
{
    if (a && a->malloc_fn && a->realloc_fn && a->free_fn)
        current = *a;
    else
        current = (lm_allocator){libc_malloc, libc_realloc, libc_free, NULL};
}

/* A zero-byte request still returns a unique pointer (or NULL on failure) so
 * callers can treat NULL as "out of memory" without a special case. */
void *lm_malloc(size_t size)
{
    return current.malloc_fn(size ? size : 1, current.ud);
}

void *lm_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    size_t total = n * size;
    void *p = lm_malloc(total);
    if (p && total > 0)
        memset(p, 0, total);
    return p;
}

void *lm_realloc(void *ptr, size_t size)
{
    return current.realloc_fn(ptr, size ? size : 1, current.ud);
}

void lm_free(void *ptr)
{
    if (ptr)
        current.free_fn(ptr, current.ud);
}

char *lm_strndup(const char *s, size_t n)
{
    if (!s)
        return NULL;
    size_t len = strnlen(s, n);
    char *p = lm_malloc(len + 1);
    if (!p)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *lm_strdup(const char *s)
{
    return s ? lm_strndup(s, strlen(s)) : NULL;
}
