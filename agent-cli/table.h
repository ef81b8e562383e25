/*
 * table.h — aligned text tables for the CLI's human output. Cells are
 * copied in; the table owns them until lm_table_close().
 */
#ifndef LM_AGENT_TABLE_H
#define LM_AGENT_TABLE_H

#include <stddef.h>
#include <stdio.h>

typedef struct lm_table {
    size_t n_cols;
    size_t n_cells, cap;
    char **cells; /* row-major; the first row is the header */
    int rc;       /* sticky LM_E* */
} lm_table;

void lm_table_init(lm_table *t, size_t n_cols);
void lm_table_close(lm_table *t);
/* Appends one cell (NULL shows as empty); rows fill left to right. */
void lm_table_add(lm_table *t, const char *cell);
/* Prints the table with columns padded to their widest cell (in UTF-8
 * characters). Returns the sticky error, LM_OK when all went well. */
int lm_table_print(const lm_table *t, FILE *out);

#endif
