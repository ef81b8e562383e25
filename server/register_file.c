/*
 * register_file.c — the register file as UTF-8 text (register_file.h).
 */
#include "register_file.h"

#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <string.h>

#include "lm_sync.h"
#include "lm_text.h"

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when the bytes
 * there are not valid UTF-8 (overlong forms, surrogates, past U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t left)
{
    if (s[0] < 0x80)
        return 1;
    size_t n = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
    if (n == 0 || s[0] > 0xF4 || n > left)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    }
    if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0) ||
        (s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))
        return 0;
    return n;
}

/* The 1-based line number of byte offset at in text. */
static long line_of(const char *text, size_t at)
{
    long line = 1;
    for (size_t i = 0; i < at; i++)
        line += text[i] == '\n';
    return line;
}

/* Refuses NUL bytes and invalid UTF-8, naming the line. */
static int check_utf8(const char *path, const char *text, size_t len, char *err, size_t err_size)
{
    for (size_t i = 0; i < len;) {
        size_t n = text[i] ? utf8_len((const unsigned char *)text + i, len - i) : 0;
        if (n == 0) {
            snprintf(err, err_size,
                     "%s:%ld: not valid UTF-8 (a GBK file saved by a Chinese spreadsheet"
                     " program? try --encoding gbk, or save as \"CSV UTF-8\")",
                     path, line_of(text, i));
            return LM_EINVAL;
        }
        i += n;
    }
    return LM_OK;
}

/* Converts *text (len bytes) from GB18030 to UTF-8 with iconv(3),
 * replacing *text and *len. */
static int from_gb18030(const char *path, char **text, size_t *len, char *err, size_t err_size)
{
    iconv_t cd = iconv_open("UTF-8", "GB18030");
    if (cd == (iconv_t)-1) {
        snprintf(err, err_size, "%s: this system's iconv cannot convert GBK: %s", path,
                 strerror(errno));
        return LM_EIO;
    }
    size_t cap = *len * 2 + 1; /* a GB18030 character never takes more than 2x in UTF-8 */
    char *out = lm_malloc(cap);
    if (!out) {
        iconv_close(cd);
        snprintf(err, err_size, "%s: out of memory", path);
        return LM_ENOMEM;
    }
    char *in = *text, *op = out;
    size_t in_left = *len, out_left = cap - 1;
    size_t r = iconv(cd, &in, &in_left, &op, &out_left);
    iconv_close(cd);
    if (r == (size_t)-1) {
        snprintf(err, err_size, "%s:%ld: not valid GBK text either", path,
                 line_of(*text, (size_t)(in - *text)));
        lm_free(out);
        return LM_EINVAL;
    }
    *op = '\0';
    lm_free(*text);
    *text = out;
    *len = (size_t)(op - out);
    return LM_OK;
}

/* Reads the whole file into a NUL-terminated buffer. */
static int slurp(const char *path, char **text, size_t *len, char *err, size_t err_size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_size, "%s: cannot open: %s", path, strerror(errno));
        return LM_EIO;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = lm_malloc(cap);
    int rc = buf ? LM_OK : LM_ENOMEM;
    while (rc == LM_OK) {
        if (n + 1 == cap) {
            char *nb = (long)cap >= LM_REGISTER_MAX_BYTES ? NULL : lm_realloc(buf, cap * 2);
            if (!nb) {
                rc = (long)cap >= LM_REGISTER_MAX_BYTES ? LM_EINVAL : LM_ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (rc == LM_OK && ferror(f))
        rc = LM_EIO;
    fclose(f);
    if (rc != LM_OK) {
        snprintf(err, err_size, "%s: %s", path,
                 rc == LM_EINVAL ? "larger than 64 MiB"
                 : rc == LM_EIO  ? "read error"
                                 : "out of memory");
        lm_free(buf);
        return rc;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return LM_OK;
}

int lm__register_file_read(const char *path, const char *encoding, char **text, size_t *len,
                           char *err, size_t err_size)
{
    *text = NULL;
    *len = 0;
    int gbk = encoding && (strcmp(encoding, "gbk") == 0 || strcmp(encoding, "gb18030") == 0);
    if (encoding && !gbk && strcmp(encoding, "utf-8") != 0) {
        snprintf(err, err_size, "--encoding must be utf-8, gbk or gb18030");
        return LM_EINVAL;
    }
    char *buf = NULL;
    size_t n = 0;
    int rc = slurp(path, &buf, &n, err, err_size);
    if (rc == LM_OK && gbk)
        rc = from_gb18030(path, &buf, &n, err, err_size);
    if (rc == LM_OK && n >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
        memmove(buf, buf + 3, n - 3 + 1); /* the byte-order mark "CSV UTF-8" writes */
        n -= 3;
    }
    if (rc == LM_OK && strlen(buf) != n) {
        snprintf(err, err_size, "%s:%ld: a NUL byte (not a text file?)", path,
                 line_of(buf, strlen(buf)));
        rc = LM_EINVAL;
    }
    if (rc == LM_OK)
        rc = check_utf8(path, buf, n, err, err_size);
    if (rc != LM_OK) {
        lm_free(buf);
        return rc;
    }
    *text = buf;
    *len = n;
    return LM_OK;
}

/* Trims ASCII blanks at both ends, in place. */
void lm__csv_lines_init(lm__csv_lines *it, char *text, size_t max_bytes)
{
    it->next = text;
    it->no = 0;
    it->max_bytes = max_bytes;
}

int lm__csv_next(lm__csv_lines *it, char **fields, int max)
{
    while (it->next && *it->next) {
        char *line = it->next;
        it->next = strchr(line, '\n');
        if (it->next)
            *it->next++ = '\0';
        it->no++;
        if (strlen(line) > it->max_bytes)
            return LM__CSV_LONG;
        char *t = lm__csv_trim(line);
        if (!*t)
            continue;
        int n = lm_csv_split(t, fields, max);
        for (int i = 0; i < n; i++)
            fields[i] = lm__csv_trim(fields[i]);
        return n;
    }
    return LM__CSV_END;
}

int lm__csv_long(const lm__csv_lines *it, const char *path, char *err, size_t err_size)
{
    snprintf(err, err_size, "%s:%ld: line longer than %zu bytes", path, it->no, it->max_bytes);
    return LM_EINVAL;
}

char *lm__csv_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}
