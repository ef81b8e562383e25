/*
 * test_basics.c — error table, allocator, lm_buf, values and auth.
 */
#include <math.h>

#include "lm_test.h"

static void test_errors(void)
{
    CHECK_STR(lm_strerror(LM_OK), "ok");
    CHECK_STR(lm_strerror(LM_EBOMB), "inflated payload over its limit");
    CHECK_STR(lm_strerror(-999), "unknown error");
    CHECK_STR(lm_errname(LM_ETOOBIG), "LM_ETOOBIG");
    CHECK_STR(lm_errname(LM_EEXISTS), "LM_EEXISTS");
    CHECK_STR(lm_errname(7), "LM_E?");
    CHECK_STR(lm_msg_type_name(LM_MSG_PUSH_ACK), "PUSH_ACK");
    CHECK_STR(lm_msg_type_name(0), "UNKNOWN");
    /* every code in the table has a distinct name and real text */
    for (int rc = 0; rc >= -34; rc--) {
        CHECK(strcmp(lm_errname(rc), "LM_E?") != 0);
        CHECK(strcmp(lm_strerror(rc), "unknown error") != 0);
    }
}

static void test_alloc(void)
{
    lm_test_heap_install(0);
    char *s = lm_strdup("hello");
    CHECK_STR(s, "hello");
    char *t = lm_strndup("abcdef", 3);
    CHECK_STR(t, "abc");
    CHECK(lm_strdup(NULL) == NULL);
    unsigned char *z = lm_calloc(10, 4);
    CHECK(z != NULL);
    int zero = 1;
    for (int i = 0; z && i < 40; i++)
        zero &= z[i] == 0;
    CHECK(zero);
    CHECK(lm_calloc(SIZE_MAX / 2, 4) == NULL); /* overflow refused, not wrapped */
    void *e = lm_malloc(0);                    /* a unique pointer, not NULL */
    CHECK(e != NULL);
    lm_free(e);
    lm_free(s);
    lm_free(t);
    lm_free(z);
    lm_free(NULL);
    CHECK_EQ_INT(lm_test_heap_state.live_blocks, 0);
    lm_test_heap_check_clean("alloc");

    lm_test_heap_install(1);
    CHECK(lm_strdup("x") == NULL);
    CHECK(lm_test_heap_state.failed);
    lm_test_heap_check_clean("alloc fail");
}

static void test_buf(void)
{
    lm_test_heap_install(0);
    lm_buf b;
    lm_buf_init(&b);
    for (int i = 0; i < 1000; i++)
        CHECK_RC(lm_buf_append(&b, "abc", 3), LM_OK);
    CHECK_EQ_INT(b.len, 3000);
    CHECK(memcmp(b.data + 2997, "abc", 3) == 0);
    CHECK_RC(lm_buf_append(&b, NULL, 0), LM_OK);
    CHECK_RC(lm_buf_reserve(&b, SIZE_MAX), LM_ETOOBIG);
    size_t cap = b.cap;
    lm_buf_reset(&b);
    CHECK_EQ_INT(b.len, 0);
    CHECK_EQ_INT(b.cap, cap);
    lm_buf_close(&b);
    CHECK(b.data == NULL);
    lm_test_heap_check_clean("buf");

    /* a failed growth leaves the buffer as it was */
    lm_test_heap_install(2);
    lm_buf_init(&b);
    CHECK_RC(lm_buf_append(&b, "x", 1), LM_OK);
    uint8_t big[200] = {0};
    CHECK_RC(lm_buf_append(&b, big, sizeof big), LM_ENOMEM);
    CHECK_EQ_INT(b.len, 1);
    CHECK_EQ_INT(b.data[0], 'x');
    lm_buf_close(&b);
    lm_test_heap_check_clean("buf fail");
}

static lm_value vint(int64_t i)
{
    lm_value v = {LM_VAL_INTEGER, i, 0, NULL, 0};
    return v;
}

static lm_value vfloat(double f)
{
    lm_value v = {LM_VAL_FLOAT, 0, f, NULL, 0};
    return v;
}

static lm_value vbytes(int type, const char *s)
{
    lm_value v = {type, 0, 0, (uint8_t *)(uintptr_t)s, strlen(s)};
    return v;
}

static void test_values(void)
{
    lm_value null = {LM_VAL_NULL, 0, 0, NULL, 0};
    lm_value a = vint(5), b = vfloat(5.5), t = vbytes(LM_VAL_TEXT, "ab"),
             t2 = vbytes(LM_VAL_TEXT, "abc"), bl = vbytes(LM_VAL_BLOB, "a");
    CHECK(lm_value_compare(&null, &a) < 0);
    CHECK(lm_value_compare(&a, &b) < 0);
    CHECK(lm_value_compare(&b, &a) > 0);
    CHECK(lm_value_compare(&b, &t) < 0);
    CHECK(lm_value_compare(&t, &t2) < 0);
    CHECK(lm_value_compare(&t2, &bl) < 0);
    CHECK_EQ_INT(lm_value_compare(&null, &null), 0);
    lm_value i5 = vint(5), f5 = vfloat(5.0);
    CHECK_EQ_INT(lm_value_compare(&i5, &f5), 0);
    /* beyond 2^53 a double cannot tell these apart; the exact compare can */
    lm_value big = vint(INT64_C(9007199254740993)), bigf = vfloat(9007199254740992.0);
    CHECK(lm_value_compare(&big, &bigf) > 0);
    lm_value neg = vint(-3), negf = vfloat(-2.5);
    CHECK(lm_value_compare(&neg, &negf) < 0);
    lm_value huge = vfloat(1e30), nan = vfloat(NAN);
    CHECK(lm_value_compare(&a, &huge) < 0);
    CHECK(lm_value_compare(&nan, &a) < 0);
    CHECK(lm_value_compare(&nan, &nan) == 0);

    lm_test_heap_install(0);
    lm_value c;
    CHECK_RC(lm_value_copy(&c, &t2), LM_OK);
    CHECK(c.bytes != t2.bytes);
    CHECK_STR((char *)c.bytes, "abc");
    CHECK_EQ_INT(lm_value_compare(&c, &t2), 0);
    lm_value_clear(&c);
    CHECK_EQ_INT(c.type, LM_VAL_NULL);
    lm_value empty_blob = {LM_VAL_BLOB, 0, 0, NULL, 0};
    CHECK_RC(lm_value_copy(&c, &empty_blob), LM_OK);
    CHECK(c.bytes == NULL && c.type == LM_VAL_BLOB);
    lm_value_clear(&c);
    lm_test_heap_check_clean("values");

    lm_test_heap_install(1);
    CHECK_RC(lm_value_copy(&c, &t), LM_ENOMEM);
    CHECK_EQ_INT(c.type, LM_VAL_NULL);
    lm_test_heap_check_clean("values fail");
}

static void test_auth(void)
{
    uint8_t key[LM_KEY_SIZE], back[LM_KEY_SIZE];
    char hex[LM_KEY_HEX_SIZE];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)i;
    CHECK_RC(lm_key_to_hex(key, hex), LM_OK);
    CHECK_STR(hex, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    CHECK_RC(lm_key_from_hex(hex, back), LM_OK);
    CHECK(memcmp(back, key, 32) == 0);
    CHECK_RC(
        lm_key_from_hex("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", back),
        LM_OK);
    CHECK(memcmp(back, key, 32) == 0);
    memset(back, 0xee, sizeof back);
    CHECK_RC(lm_key_from_hex("00", back), LM_EINVAL);
    CHECK_RC(
        lm_key_from_hex("zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", back),
        LM_EINVAL);
    CHECK_RC(lm_key_from_hex(NULL, back), LM_EINVAL);
    CHECK_EQ_INT(back[0], 0xee); /* untouched on failure */

    uint8_t r1[LM_KEY_SIZE] = {0}, r2[LM_KEY_SIZE] = {0};
    CHECK_RC(lm_random_bytes(r1, sizeof r1), LM_OK);
    CHECK_RC(lm_random_bytes(r2, sizeof r2), LM_OK);
    CHECK(memcmp(r1, r2, sizeof r1) != 0);
}

int main(void)
{
    test_errors();
    test_alloc();
    test_buf();
    test_values();
    test_auth();
    return lm_test_done("protocol_basics");
}
