/*
 * text_table_test.c — aligned text tables: padding by UTF-8 characters,
 * a short last row, no blanks at a line's end, and clean LM_ENOMEM (no leak) when allocation fails.
 */
#include <stdio.h>
#include <string.h>

#include "lm_test.h"
#include "table.h"

/* Prints t into a string (tmpfile: the harness counts lm_* allocations). */
static int render(const lm_table *t, char *out, size_t size)
{
    FILE *f = tmpfile();
    if (!f)
        return LM_EIO;
    int rc = lm_table_print(t, f);
    rewind(f);
    size_t n = fread(out, 1, size - 1, f);
    out[n] = '\0';
    fclose(f);
    return rc;
}

static int fill(lm_table *t)
{
    static const char *const cells[] = {"id", "village", "kg", "1", "上坝", "12.5", "22", NULL};
    lm_table_init(t, 3);
    for (size_t i = 0; i < sizeof cells / sizeof cells[0]; i++)
        lm_table_add(t, cells[i]);
    return t->rc;
}

int main(void)
{
    lm_table t;
    char text[256];
    CHECK_RC(fill(&t), LM_OK);
    CHECK_RC(render(&t, text, sizeof text), LM_OK);
    CHECK_STR(text, "id  village  kg\n"
                    "1   上坝     12.5\n"
                    "22\n");
    lm_table_close(&t);

    /* A report whose last column (a flag) is empty, after a right-aligned
     * one: no line ends in blanks, and an empty cell inside a line still
     * keeps the columns after it aligned. */
    static const char *const rows[] = {"farmer", "kg",  "flag", "王秀英", "152.400", "",
                                       "Li",     "1.5", "poor", "",       "",        "x"};
    lm_table_init(&t, 3);
    lm_table_align_right(&t, 1);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        lm_table_add(&t, rows[i]);
    CHECK_RC(render(&t, text, sizeof text), LM_OK);
    CHECK_STR(text, "farmer       kg  flag\n"
                    "王秀英  152.400\n"
                    "Li          1.5  poor\n"
                    "                 x\n");
    lm_table_close(&t);

    int saw_ok = 0;
    for (long long n = 1; n < 40 && !saw_ok; n++) {
        lm_test_heap_install(n);
        int rc = fill(&t);
        if (rc == LM_OK)
            rc = render(&t, text, sizeof text);
        int failed = lm_test_heap_state.failed;
        lm_table_close(&t);
        lm_test_heap_check_clean("table alloc failure");
        if (failed)
            CHECK_RC(rc, LM_ENOMEM);
        else
            saw_ok = rc == LM_OK;
    }
    CHECK(saw_ok);
    return lm_test_done("text_table");
}
