/*
 * json.c — the streaming JSON writer (see json.h). The writer tracks one
 * small state per nesting level so callers never think about commas.
 */
#include "json.h"
#include "text_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void lm_json_init(lm_json *j, lm_buf *out)
{
    memset(j, 0, sizeof *j);
    j->out = out;
}

static void put(lm_json *j, const void *data, size_t len)
{
    if (j->rc == LM_OK)
        j->rc = lm_buf_append(j->out, data, len);
}

static void put_str(lm_json *j, const char *s)
{
    put(j, s, strlen(s));
}

/* Writes the separator a new value needs at the current level and checks the
 * value is allowed here (in an object a key must come first). */
static void begin_value(lm_json *j)
{
    if (j->rc != LM_OK)
        return;
    if (j->depth > 0 && j->object[j->depth - 1]) {
        if (!j->want_value) {
            j->rc = LM_ESTATE;
            return;
        }
        j->want_value = 0;
        return;
    }
    if (j->depth == 0) {
        if (j->top_written)
            j->rc = LM_ESTATE; /* only one top-level value */
        j->top_written = 1;
        return;
    }
    if (j->count[j->depth - 1])
        put(j, ",", 1);
    j->count[j->depth - 1] = 1;
}

static void open_container(lm_json *j, int object)
{
    begin_value(j);
    if (j->rc != LM_OK)
        return;
    if (j->depth + 1 >= LM_JSON_MAX_DEPTH) {
        j->rc = LM_EDEPTH;
        return;
    }
    put(j, object ? "{" : "[", 1);
    j->depth++;
    j->count[j->depth - 1] = 0;
    j->object[j->depth - 1] = (uint8_t)object;
}

static void close_container(lm_json *j, int object)
{
    if (j->rc != LM_OK)
        return;
    if (j->depth == 0 || j->object[j->depth - 1] != object || j->want_value) {
        j->rc = LM_ESTATE;
        return;
    }
    j->depth--;
    put(j, object ? "}" : "]", 1);
}

void lm_json_begin_object(lm_json *j)
{
    open_container(j, 1);
}

void lm_json_end_object(lm_json *j)
{
    close_container(j, 1);
}

void lm_json_begin_array(lm_json *j)
{
    open_container(j, 0);
}

void lm_json_end_array(lm_json *j)
{
    close_container(j, 0);
}

/* Code points a string keeps only as \uXXXX: DEL and the C1 controls
 * (terminals act on them), bidi marks, overrides and isolates (they reorder
 * what a reader sees), and U+2028/9 (line breaks to JavaScript). JSON allows
 * them raw; escaped, a document printed to a terminal stays inert. */
static int escaped_cp(uint32_t cp)
{
    return (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 ||
           cp == 0x2029;
}

/* Writes s as a quoted JSON string. */
static void put_quoted(lm_json *j, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0; /* run: bytes since i that pass through unchanged */
    put(j, "\"", 1);
    while (i + run < len) {
        const unsigned char *c = p + i + run;
        uint32_t cp = 0;
        size_t n = lm__utf8_decode(c, len - i - run, &cp);
        if (n > 0 && cp >= 0x20 && cp != '"' && cp != '\\' && !escaped_cp(cp)) {
            run += n;
            continue;
        }
        put(j, p + i, run);
        i += run;
        run = 0;
        char esc[8];
        switch (*c) {
        case '"':
            put_str(j, "\\\"");
            break;
        case '\\':
            put_str(j, "\\\\");
            break;
        case '\n':
            put_str(j, "\\n");
            break;
        case '\r':
            put_str(j, "\\r");
            break;
        case '\t':
            put_str(j, "\\t");
            break;
        case '\b':
            put_str(j, "\\b");
            break;
        case '\f':
            put_str(j, "\\f");
            break;
        default:
            if (n > 0) {
                snprintf(esc, sizeof esc, "\\u%04x", (unsigned)cp);
                put_str(j, esc);
            } else {
                put_str(j, "\\ufffd"); /* invalid UTF-8 byte */
                n = 1;
            }
            break;
        }
        i += n;
    }
    put(j, p + i, run);
    put(j, "\"", 1);
}

void lm_json_key(lm_json *j, const char *key)
{
    if (j->rc != LM_OK)
        return;
    if (j->depth == 0 || !j->object[j->depth - 1] || j->want_value || !key) {
        j->rc = LM_ESTATE;
        return;
    }
    if (j->count[j->depth - 1])
        put(j, ",", 1);
    j->count[j->depth - 1] = 1;
    put_quoted(j, key, strlen(key));
    put(j, ":", 1);
    j->want_value = 1;
}

void lm_json_string_n(lm_json *j, const char *s, size_t len)
{
    begin_value(j);
    if (j->rc == LM_OK)
        put_quoted(j, s, len);
}

void lm_json_value(lm_json *j, const lm_value *v)
{
    switch (v->type) {
    case LM_VAL_INTEGER:
        lm_json_int(j, v->i);
        break;
    case LM_VAL_FLOAT:
        lm_json_double(j, v->f);
        break;
    case LM_VAL_TEXT:
        lm_json_string_n(j, v->bytes ? (const char *)v->bytes : "", v->len);
        break;
    case LM_VAL_BLOB: {
        static const char digits[] = "0123456789abcdef";
        char *hex = lm_malloc(2 * v->len + 1);
        if (!hex) {
            if (j->rc == LM_OK)
                j->rc = LM_ENOMEM;
            return;
        }
        for (size_t i = 0; i < v->len; i++) {
            hex[2 * i] = digits[v->bytes[i] >> 4];
            hex[2 * i + 1] = digits[v->bytes[i] & 15];
        }
        lm_json_string_n(j, hex, 2 * v->len);
        lm_free(hex);
        break;
    }
    default:
        lm_json_null(j);
        break;
    }
}

void lm_json_string(lm_json *j, const char *s)
{
    if (!s)
        lm_json_null(j);
    else
        lm_json_string_n(j, s, strlen(s));
}

void lm_json_int(lm_json *j, int64_t v)
{
    char tmp[32];
    begin_value(j);
    snprintf(tmp, sizeof tmp, "%lld", (long long)v);
    put_str(j, tmp);
}

void lm_json_uint(lm_json *j, uint64_t v)
{
    char tmp[32];
    begin_value(j);
    snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    put_str(j, tmp);
}

void lm_json_double(lm_json *j, double v)
{
    char tmp[64];
    if (!isfinite(v)) {
        lm_json_null(j);
        return;
    }
    begin_value(j);
    snprintf(tmp, sizeof tmp, "%.6g", v);
    put_str(j, tmp);
}

void lm_json_bool(lm_json *j, int v)
{
    begin_value(j);
    put_str(j, v ? "true" : "false");
}

void lm_json_null(lm_json *j)
{
    begin_value(j);
    put_str(j, "null");
}

int lm_json_finish(const lm_json *j)
{
    if (j->rc != LM_OK)
        return j->rc;
    return j->depth == 0 && !j->want_value ? LM_OK : LM_ESTATE;
}

int lm_json_fput_string(FILE *f, const char *s)
{
    lm_buf b;
    lm_json j;
    lm_buf_init(&b);
    lm_json_init(&j, &b);
    lm_json_string(&j, s);
    int rc = lm_json_finish(&j);
    if (rc == LM_OK && fwrite(b.data, 1, b.len, f) != b.len)
        rc = LM_EIO;
    lm_buf_close(&b);
    return rc;
}
