/*
 * table.c — aligned text tables (see table.h).
 */
#include "table.h"

#include <string.h>

#include "lm_protocol.h"
#include "lm_text.h"

void lm_table_init(lm_table *t, size_t n_cols)
{
    memset(t, 0, sizeof *t);
    t->n_cols = n_cols ? n_cols : 1;
}

void lm_table_close(lm_table *t)
{
    for (size_t i = 0; i < t->n_cells; i++)
        lm_free(t->cells[i]);
    lm_free(t->cells);
    memset(t, 0, sizeof *t);
}

void lm_table_add(lm_table *t, const char *cell)
{
    if (t->rc != LM_OK)
        return;
    if (t->n_cells == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char **cells = lm_realloc(t->cells, cap * sizeof *cells);
        if (!cells) {
            t->rc = LM_ENOMEM;
            return;
        }
        t->cells = cells;
        t->cap = cap;
    }
    char *copy = lm_text_display(cell);
    if (!copy) {
        t->rc = LM_ENOMEM;
        return;
    }
    t->cells[t->n_cells++] = copy;
}

void lm_table_align_right(lm_table *t, size_t col)
{
    if (col < 64)
        t->right |= UINT64_C(1) << col;
}

static void pad(FILE *out, size_t n)
{
    while (n--)
        fputc(' ', out);
}

int lm_table_print(const lm_table *t, FILE *out)
{
    if (t->rc != LM_OK)
        return t->rc;
    size_t *w = lm_calloc(t->n_cols, sizeof *w);
    if (!w)
        return LM_ENOMEM;
    for (size_t i = 0; i < t->n_cells; i++) {
        size_t cw = lm_text_width(t->cells[i]);
        if (cw > w[i % t->n_cols])
            w[i % t->n_cols] = cw;
    }
    /* Blanks are owed, not written, until a cell with text follows: a line
     * whose last cells are empty ends at its last text, with no trailing
     * blanks. */
    size_t owed = 0;
    for (size_t i = 0; i < t->n_cells; i++) {
        size_t col = i % t->n_cols;
        int last = col + 1 == t->n_cols || i + 1 == t->n_cells;
        int right = col < 64 && (t->right >> col) & 1;
        size_t cw = lm_text_width(t->cells[i]);
        if (right)
            owed += w[col] - cw;
        if (*t->cells[i]) {
            pad(out, owed);
            owed = 0;
            fputs(t->cells[i], out);
        }
        if (last) {
            fputc('\n', out);
            owed = 0;
        } else {
            owed += (right ? 0 : w[col] - cw) + 2;
        }
    }
    lm_free(w);
    return ferror(out) ? LM_EIO : LM_OK;
}
