/*
 * out.h — writers for the machine-readable outputs (JSON strings, CSV
 * fields) the reporting subcommands print.
 */
#ifndef LM_SERVER_OUT_H
#define LM_SERVER_OUT_H

#include <stdio.h>

/* Writes s as a JSON string literal (quotes included); NULL writes null. */
void lm__out_json_str(FILE *f, const char *s);
/* Writes s as one CSV field (RFC 4180 quoting when needed); NULL is empty. */
void lm__out_csv_field(FILE *f, const char *s);

#endif
