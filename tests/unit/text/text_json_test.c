/*
 * text_json_test.c — the CLI's JSON writer: structure, escaping (quotes,
 * backslashes, control characters), UTF-8 passthrough and replacement of
 * invalid bytes, misuse detection, and clean failure when allocation fails.
 */
#include <string.h>

#include "json.h"
#include "lm_test.h"

/* Writes a fixed document; returns the writer's final status. */
static int write_doc(lm_buf *b)
{
    lm_json j;
    lm_json_init(&j, b);
    lm_json_begin_array(&j);
    lm_json_begin_object(&j);
    lm_json_key(&j, "id");
    lm_json_string(&j, "01J");
    lm_json_key(&j, "weight_g");
    lm_json_int(&j, 12345);
    lm_json_key(&j, "note");
    lm_json_null(&j);
    lm_json_key(&j, "poor");
    lm_json_bool(&j, 1);
    lm_json_end_object(&j);
    lm_json_begin_object(&j);
    lm_json_end_object(&j);
    lm_json_uint(&j, 18446744073709551615ull);
    lm_json_int(&j, -9);
    lm_json_double(&j, 0.5);
    lm_json_end_array(&j);
    return lm_json_finish(&j);
}

static void test_structure(void)
{
    lm_buf b;
    lm_buf_init(&b);
    CHECK_RC(write_doc(&b), LM_OK);
    CHECK_RC(lm_buf_append(&b, "", 1), LM_OK);
    CHECK_STR((const char *)b.data, "[{\"id\":\"01J\",\"weight_g\":12345,\"note\":null,"
                                    "\"poor\":true},{},18446744073709551615,-9,0.5]");
    lm_buf_close(&b);
}

/* lm_json_value: every storage class, the BLOB as hex, a hostile TEXT
 * escaped like any string. */
static void test_values(void)
{
    uint8_t blob[3] = {0x00, 0xab, 0x7f};
    lm_value v[] = {{LM_VAL_INTEGER, -42, 0, NULL, 0},
                    {LM_VAL_FLOAT, 0, 2.5, NULL, 0},
                    {LM_VAL_TEXT, 0, 0, (uint8_t *)"a\x1b[2J", 5},
                    {LM_VAL_BLOB, 0, 0, blob, 3},
                    {LM_VAL_BLOB, 0, 0, NULL, 0},
                    {LM_VAL_NULL, 0, 0, NULL, 0}};
    lm_buf b;
    lm_json j;
    lm_buf_init(&b);
    lm_json_init(&j, &b);
    lm_json_begin_array(&j);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        lm_json_value(&j, &v[i]);
    lm_json_end_array(&j);
    CHECK_RC(lm_json_finish(&j), LM_OK);
    CHECK_RC(lm_buf_append(&b, "", 1), LM_OK);
    CHECK_STR((const char *)b.data, "[-42,2.5,\"a\\u001b[2J\",\"00ab7f\",\"\",null]");
    lm_buf_close(&b);
}

static const char *escaped(lm_buf *b, const char *s, size_t len)
{
    lm_json j;
    lm_buf_reset(b);
    lm_json_init(&j, b);
    lm_json_string_n(&j, s, len);
    if (lm_json_finish(&j) != LM_OK || lm_buf_append(b, "", 1) != LM_OK)
        return "(error)";
    return (const char *)b->data;
}

static void test_escaping(void)
{
    lm_buf b;
    lm_buf_init(&b);
    CHECK_STR(escaped(&b, "a\"b\\c", 5), "\"a\\\"b\\\\c\"");
    CHECK_STR(escaped(&b, "\n\r\t\b\f", 5), "\"\\n\\r\\t\\b\\f\"");
    /* DEL too: a terminal acts on it (lm_text.h). */
    CHECK_STR(escaped(&b, "\x01\x1f\x7f", 3), "\"\\u0001\\u001f\\u007f\"");
    CHECK_STR(escaped(&b, "a\0b", 3), "\"a\\u0000b\"");
    /* Valid UTF-8 passes through: 2-, 3- and 4-byte forms. */
    CHECK_STR(escaped(&b, "\xc3\xa9 \xe5\x9c\x9f\xe8\xb1\x86 \xf0\x9f\xa5\x94", 14),
              "\"\xc3\xa9 \xe5\x9c\x9f\xe8\xb1\x86 \xf0\x9f\xa5\x94\"");
    /* Invalid: lone continuation, truncated sequence, overlong '/',
     * surrogate, past U+10FFFF, 0xff. */
    CHECK_STR(escaped(&b, "\x80", 1), "\"\\ufffd\"");
    CHECK_STR(escaped(&b, "x\xe5\x9c", 3), "\"x\\ufffd\\ufffd\"");
    CHECK_STR(escaped(&b, "\xc0\xaf", 2), "\"\\ufffd\\ufffd\"");
    CHECK_STR(escaped(&b, "\xed\xa0\x80", 3), "\"\\ufffd\\ufffd\\ufffd\"");
    CHECK_STR(escaped(&b, "\xf4\x90\x80\x80", 4), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
    CHECK_STR(escaped(&b, "\xff", 1), "\"\\ufffd\"");
    CHECK_STR(escaped(&b, "", 0), "\"\"");
    lm_buf_close(&b);
}

static void test_misuse(void)
{
    lm_buf b;
    lm_json j;
    lm_buf_init(&b);

    lm_json_init(&j, &b); /* value in an object without a key */
    lm_json_begin_object(&j);
    lm_json_int(&j, 1);
    CHECK_RC(lm_json_finish(&j), LM_ESTATE);

    lm_buf_reset(&b);
    lm_json_init(&j, &b); /* key in an array */
    lm_json_begin_array(&j);
    lm_json_key(&j, "k");
    CHECK_RC(lm_json_finish(&j), LM_ESTATE);

    lm_buf_reset(&b);
    lm_json_init(&j, &b); /* mismatched close */
    lm_json_begin_array(&j);
    lm_json_end_object(&j);
    CHECK_RC(lm_json_finish(&j), LM_ESTATE);

    lm_buf_reset(&b);
    lm_json_init(&j, &b); /* unclosed */
    lm_json_begin_object(&j);
    CHECK_RC(lm_json_finish(&j), LM_ESTATE);

    lm_buf_reset(&b);
    lm_json_init(&j, &b); /* key without value */
    lm_json_begin_object(&j);
    lm_json_key(&j, "k");
    lm_json_end_object(&j);
    CHECK_RC(lm_json_finish(&j), LM_ESTATE);

    lm_buf_reset(&b);
    lm_json_init(&j, &b); /* two top-level values */
    lm_json_int(&j, 1);
    lm_json_int(&j, 2);
    CHECK_RC(lm_json_finish(&j), LM_ESTATE);

    lm_buf_reset(&b);
    lm_json_init(&j, &b); /* too deep */
    for (int i = 0; i < LM_JSON_MAX_DEPTH + 2; i++)
        lm_json_begin_array(&j);
    CHECK_RC(lm_json_finish(&j), LM_EDEPTH);
    lm_buf_close(&b);
}

/* Failing each allocation in turn gives LM_ENOMEM, never a crash or leak. */
static void test_alloc_failures(void)
{
    int saw_ok = 0;
    for (long long n = 1; n < 50 && !saw_ok; n++) {
        lm_test_heap_install(n);
        lm_buf b;
        lm_buf_init(&b);
        int rc = write_doc(&b);
        int failed = lm_test_heap_state.failed;
        lm_buf_close(&b);
        lm_test_heap_check_clean("json alloc failure");
        if (failed)
            CHECK_RC(rc, LM_ENOMEM);
        else
            saw_ok = rc == LM_OK;
    }
    CHECK(saw_ok);
}

int main(void)
{
    test_structure();
    test_values();
    test_escaping();
    test_misuse();
    test_alloc_failures();
    return lm_test_done("text_json");
}
