/*
 * display.c — text made safe and measured for a terminal (see lm_text.h).
 * A terminal acts on control characters (ESC starts a sequence that can
 * rewrite the screen, set the title or plant a hyperlink) and on bidi
 * overrides (which reorder what the reader sees), so none of them reaches
 * it raw: each is shown as a visible escape. Width follows Unicode's East
 * Asian Width (wide and fullwidth = 2 columns) closely enough for names.
 */
#include <string.h>

#include "lm_protocol.h"
#include "lm_text.h"
#include "text_internal.h"

/* Code points shown as \uNNNN: C1 controls, bidi marks/overrides/isolates,
 * line and paragraph separators. */
static int hidden_cp(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 ||
           cp == 0x2029;
}

/* Writes the display form of s into out (when non-NULL) and returns its
 * length; keep_breaks as lm__text_escape. */
static size_t escape(const char *s, char *out, int keep_breaks)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s), i = 0, o = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = lm__utf8_decode(p + i, len - i, &cp);
        char esc[12];
        size_t e = 0;
        if (n == 0) {
            e = (size_t)snprintf(esc, sizeof esc, "\\x%02x", p[i]);
            n = 1;
        } else if ((cp == '\t' || cp == '\n' || cp == '\r') && keep_breaks) {
            e = 0;
        } else if (cp == '\t' || cp == '\n' || cp == '\r') {
            esc[0] = '\\';
            esc[1] = cp == '\t' ? 't' : cp == '\n' ? 'n' : 'r';
            e = 2;
        } else if (cp < 0x20 || cp == 0x7f) {
            e = (size_t)snprintf(esc, sizeof esc, "\\x%02x", (unsigned)cp);
        } else if (hidden_cp(cp)) {
            e = (size_t)snprintf(esc, sizeof esc, "\\u%04x", (unsigned)cp);
        }
        if (out) {
            if (e)
                memcpy(out + o, esc, e);
            else
                memcpy(out + o, p + i, n);
        }
        o += e ? e : n;
        i += n;
    }
    return o;
}

char *lm__text_escape(const char *s, int keep_breaks)
{
    if (!s)
        s = "";
    size_t n = escape(s, NULL, keep_breaks);
    char *out = lm_malloc(n + 1);
    if (!out)
        return NULL;
    escape(s, out, keep_breaks);
    out[n] = '\0';
    return out;
}

char *lm_text_display(const char *s)
{
    return lm__text_escape(s, 0);
}

void lm_text_fput(FILE *f, const char *s)
{
    char *d = lm_text_display(s);
    if (d) {
        fputs(d, f);
        lm_free(d);
        return;
    }
    /* Out of memory: the same escapes, one character at a time. */
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    for (; *p; p++) {
        if (*p < 0x20 || *p >= 0x7f)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
}

/* East Asian Wide and Fullwidth ranges (Unicode 15, merged where adjacent
 * ranges are all wide), plus the common emoji blocks terminals draw two
 * columns wide. */
static const uint32_t wide[][2] = {
    {0x1100, 0x115f},   {0x231a, 0x231b},   {0x2329, 0x232a},   {0x23e9, 0x23ec},
    {0x23f0, 0x23f0},   {0x23f3, 0x23f3},   {0x25fd, 0x25fe},   {0x2614, 0x2615},
    {0x2648, 0x2653},   {0x267f, 0x267f},   {0x2693, 0x2693},   {0x26a1, 0x26a1},
    {0x26aa, 0x26ab},   {0x26bd, 0x26be},   {0x26c4, 0x26c5},   {0x26ce, 0x26ce},
    {0x26d4, 0x26d4},   {0x26ea, 0x26ea},   {0x26f2, 0x26f3},   {0x26f5, 0x26f5},
    {0x26fa, 0x26fa},   {0x26fd, 0x26fd},   {0x2705, 0x2705},   {0x270a, 0x270b},
    {0x2728, 0x2728},   {0x274c, 0x274c},   {0x274e, 0x274e},   {0x2753, 0x2755},
    {0x2757, 0x2757},   {0x2795, 0x2797},   {0x27b0, 0x27b0},   {0x27bf, 0x27bf},
    {0x2b1b, 0x2b1c},   {0x2b50, 0x2b50},   {0x2b55, 0x2b55},   {0x2e80, 0x303e},
    {0x3041, 0x33ff},   {0x3400, 0x4dbf},   {0x4e00, 0x9fff},   {0xa000, 0xa4cf},
    {0xa960, 0xa97f},   {0xac00, 0xd7a3},   {0xf900, 0xfaff},   {0xfe10, 0xfe19},
    {0xfe30, 0xfe6f},   {0xff00, 0xff60},   {0xffe0, 0xffe6},   {0x16fe0, 0x16fe4},
    {0x17000, 0x18cff}, {0x1b000, 0x1b2ff}, {0x1f004, 0x1f004}, {0x1f0cf, 0x1f0cf},
    {0x1f18e, 0x1f18e}, {0x1f191, 0x1f19a}, {0x1f200, 0x1f251}, {0x1f300, 0x1f64f},
    {0x1f680, 0x1f6ff}, {0x1f7e0, 0x1f7eb}, {0x1f900, 0x1f9ff}, {0x1fa70, 0x1faff},
    {0x20000, 0x2fffd}, {0x30000, 0x3fffd},
};

/* Combining marks and zero-width characters: no column of their own. */
static const uint32_t zero[][2] = {
    {0x0300, 0x036f}, {0x0483, 0x0489}, {0x0591, 0x05bd}, {0x0610, 0x061a},
    {0x064b, 0x065f}, {0x1ab0, 0x1aff}, {0x1dc0, 0x1dff}, {0x200b, 0x200d},
    {0x2060, 0x2064}, {0x20d0, 0x20ff}, {0x302a, 0x302d}, {0x3099, 0x309a},
    {0xfe00, 0xfe0f}, {0xfe20, 0xfe2f}, {0xfeff, 0xfeff}, {0xe0100, 0xe01ef},
};

static int in_ranges(uint32_t cp, const uint32_t (*r)[2], size_t n)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < r[mid][0])
            hi = mid;
        else if (cp > r[mid][1])
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

size_t lm_text_width(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s), i = 0, w = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = lm__utf8_decode(p + i, len - i, &cp);
        if (n == 0) {
            w++;
            i++;
            continue;
        }
        i += n;
        if (in_ranges(cp, zero, sizeof zero / sizeof zero[0]))
            continue;
        w += in_ranges(cp, wide, sizeof wide / sizeof wide[0]) ? 2 : 1;
    }
    return w;
}
