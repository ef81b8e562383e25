/*
 * table.h — aligned text tables for human output, the one table printer of
 * both tools. Cells are copied in as lm_text_display shows them (control
 * characters, escapes and bidi overrides made visible, lm_text.h), so a
 * name can never drive the reader's terminal or fake a line; columns are
 * padded by terminal columns, CJK counting two. The table owns its cells
 * until lm_table_close().
 */
#ifndef LM_TEXT_TABLE_H
#define LM_TEXT_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct lm_table {
    size_t n_cols;
    size_t n_cells, cap;
    char **cells;   /* row-major; the first row is the header */
    uint64_t right; /* bit k: column k is right-aligned (numbers) */
    int rc;         /* sticky LM_E* */
} lm_table;

void lm_table_init(lm_table *t, size_t n_cols);
void lm_table_close(lm_table *t);
/* Right-aligns column col (numbers); columns past 63 stay left-aligned. */
void lm_table_align_right(lm_table *t, size_t col);
/* Appends one cell (NULL shows as empty); rows fill left to right. */
void lm_table_add(lm_table *t, const char *cell);
/* Prints the table, two blanks between columns, each column as wide as its
 * widest cell; no line ends in blanks (a left-aligned last column is not
 * padded, and empty cells at the end of a line add nothing). Returns the
 * sticky error, LM_OK when all went well. */
int lm_table_print(const lm_table *t, FILE *out);

#endif
