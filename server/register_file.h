/*
 * register_file.h — reads the register of poor households HQ imports
 * (docs/hq.md) as UTF-8 text, whatever a spreadsheet program saved: a
 * UTF-8 byte-order mark is dropped, a GBK file is converted with iconv(3)
 * when asked, and a file that is not valid UTF-8 is refused with a hint.
 */
#ifndef LM_SERVER_REGISTER_FILE_H
#define LM_SERVER_REGISTER_FILE_H

#include <stddef.h>

/* The largest register file read (a county's register is a few MB). */
#define LM_REGISTER_MAX_BYTES (64L * 1024 * 1024)

/* Reads the file at path whole into *text (lm_malloc'd, NUL-terminated,
 * owned by the caller; *len bytes without the NUL), as UTF-8 without a
 * byte-order mark. encoding is NULL or "utf-8" (the bytes must be valid
 * UTF-8), "gbk" or "gb18030" (converted; GB18030 is the superset Chinese
 * spreadsheet programs write as "GBK"). LM_OK, or LM_EINVAL / LM_EIO with
 * "PATH: reason" or "PATH:LINE: reason" in err and *text NULL. */
int lm__register_file_read(const char *path, const char *encoding, char **text, size_t *len,
                           char *err, size_t err_size);

/* Trims ASCII blanks (and a CR or LF) at both ends, in place. */
char *lm__csv_trim(char *s);

/* The lines of a CSV text read whole (the files hq imports: registers,
 * road distances, user batches), one at a time, in place. */
typedef struct lm__csv_lines {
    char *next;       /* the rest of the text */
    long no;          /* the line just returned, from 1 */
    size_t max_bytes; /* a longer line is refused */
} lm__csv_lines;
#define LM__CSV_LONG (-2) /* the line is longer than max_bytes */
#define LM__CSV_END (-3)  /* no line left */
void lm__csv_lines_init(lm__csv_lines *it, char *text, size_t max_bytes);
/* The next line that is not blank, split into at most max fields (RFC
 * 4180, lm_csv_split), each trimmed: the number of fields, -1 when the
 * line is malformed or has more than max, or LM__CSV_LONG / LM__CSV_END.
 * it->no names the line either way. */
int lm__csv_next(lm__csv_lines *it, char **fields, int max);
/* "PATH:LINE: line longer than N bytes" into err, for LM__CSV_LONG;
 * returns LM_EINVAL. */
int lm__csv_long(const lm__csv_lines *it, const char *path, char *err, size_t err_size);

#endif
