/*
 * lm_text.h — what people read, below both tools: text that reaches a
 * terminal or a spreadsheet is made harmless here, and every kg, yuan, time
 * and date a person sees or types is formatted or checked here. The JSON
 * writer (json.h), tables (table.h), options (args.h) and exact decimal
 * input (money.h) sit beside it in text/.
 *
 * Why: names, villages and products are typed on phones by people lastmile
 * does not control, and a replica accepts plain SQL. A farmer named
 * "\e]8;;http://x\e\\click" or "=HYPERLINK(...)" must reach a dispatcher's
 * terminal or hq's spreadsheet as inert text.
 *
 * Strings are UTF-8; every function copes with invalid bytes. Returned
 * strings are lm_malloc'd and owned by the caller (lm_free).
 */
#ifndef LM_TEXT_H
#define LM_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- terminal ---------------------------------------------------------- */

/* s as a terminal may show it: TAB, LF and CR become the two characters
 * \t \n \r; other C0 controls, DEL and bytes that are not UTF-8 become \xNN;
 * C1 controls (U+0080..U+009F), bidirectional overrides and isolates
 * (U+061C, U+200E/F, U+202A..E, U+2066..9) and line/paragraph separators
 * (U+2028/9) become \uNNNN. Everything else passes unchanged. NULL when out
 * of memory; NULL s gives "". */
char *lm_text_display(const char *s);
/* Writes lm_text_display(s) to f (a byte-at-a-time fallback when out of
 * memory, so nothing raw is ever written). */
void lm_text_fput(FILE *f, const char *s);
/* Columns s takes on a terminal: 2 for East Asian wide and fullwidth
 * characters (CJK, Hangul, fullwidth forms, common emoji), 0 for combining
 * marks and zero-width characters, 1 otherwise (an invalid byte counts 1).
 * Meant for text already passed through lm_text_display. */
size_t lm_text_width(const char *s);

/* ---- units and times for people -------------------------------------- */

/* Grams as kg with 3 decimals ("604.300", "-1.500"), fen as yuan with the
 * sign ¥ and 2 decimals ("¥274.32", "-¥1.50"). Exact: integer arithmetic.
 * out needs LM_TEXT_UNIT_SIZE bytes. */
#define LM_TEXT_UNIT_SIZE 32
void lm_text_kg(int64_t grams, char *out, size_t size);
void lm_text_yuan(int64_t fen, char *out, size_t size);
/* ms since the epoch as local "YYYY-MM-DD HH:MM:SS" at offset_min minutes
 * east of UTC (a time past the year 9999 either way as its number). */
void lm_text_time(int64_t ms, int offset_min, char *out, size_t size);
/* Parses a UTC offset "+08:00", "+8", "-05:30", "+0530" or "0" into
 * minutes east of UTC (at most 14 hours either way). LM_OK or LM_EINVAL. */
int lm_text_utc_offset_parse(const char *s, int *minutes);
/* The offset people read and type days and times in, the one setting both
 * tools follow: $LASTMILE_UTC_OFFSET when it parses, else
 * LM_TIME_DEFAULT_OFFSET_MIN (UTC+8). A command's --utc-offset, where it
 * has one, overrides it. */
int lm_text_utc_offset_default(void);
/* When $LASTMILE_UTC_OFFSET is set but does not parse, a line for stderr
 * saying so and that the default stands (the tools print it once, at
 * start, so that a typo does not move every day silently); else "". */
void lm_text_utc_offset_env_warning(char *out, size_t size);
/* The offset as an SQLite date modifier ("+480 minutes"), for SQL that
 * turns ms into a local day: "date(ms / 1000, 'unixepoch', "
 * LM_TEXT_SQL_OFFSET ")" with parameter LM_TEXT_SQL_OFFSET_INDEX bound to
 * it. A numbered slot far past any statement's own ?1..?n: a named one
 * (":utc_offset") would take the next free number where it first appears
 * and collide with a ?2 written after it. out needs
 * LM_TEXT_SQL_OFFSET_SIZE bytes. */
#define LM_TEXT_SQL_OFFSET "?99"
#define LM_TEXT_SQL_OFFSET_INDEX 99
#define LM_TEXT_SQL_OFFSET_SIZE 24
void lm_text_sql_offset(int offset_min, char *out, size_t size);

/* The machine-to-human rule tables share, by column name: a column named
 * *_g holds grams (shown as kg, header *_kg), *_fen fen (shown in yuan,
 * header *_yuan), *_at ms since the epoch (shown as local time). Writes the
 * header for name into out; returns the kind (LM_TEXT_COL_*). */
enum { LM_TEXT_COL_PLAIN, LM_TEXT_COL_GRAMS, LM_TEXT_COL_FEN, LM_TEXT_COL_TIME };
int lm_text_column_header(const char *name, char *out, size_t size);
/* The cell of an integer v in a column of kind, as people read it. */
void lm_text_column_cell(int kind, int64_t v, int offset_min, char *out, size_t size);

/* ---- options ---------------------------------------------------------- */

/* Why value cannot be the value of an option, or NULL when it can: an
 * empty value ("is empty") or one that is itself an option ("--" or "--"
 * and a letter, as "--product":
 * "needs a value, not the option that follows it"). Both tools'
 * option parsers ask, so `--farmer $F --product corn` with an empty $F is
 * an error about --farmer instead of a farmer named "--product". */
const char *lm_text_option_value_problem(const char *value);

/* Splits "HOST:PORT" ("[v6]:PORT" too) into host (NUL-terminated, at most
 * host_size bytes) and a port min_port..65535 given in decimal digits only:
 * lastmile-server's --listen takes port 0 (the kernel picks one), a
 * server address to connect to takes 1..65535. LM_OK, or LM_EINVAL with
 * *port 0 when malformed. */
int lm_text_host_port_parse(const char *s, int min_port, char *host, size_t host_size, int *port);

/* ---- CSV --------------------------------------------------------------- */

/* Writes s as one CSV field (RFC 4180: quoted when it holds a comma, quote,
 * CR or LF; quotes doubled). A field a spreadsheet would run as a formula —
 * one starting with = + - @ TAB or CR — is neutralised as OWASP recommends:
 * a leading apostrophe, and quoted. A plain decimal number ("-1500",
 * "-1.25") is data, not a formula, and is written as it is so machine
 * readers get exact values. Characters a terminal acts on are escaped as
 * lm_text_display does, except TAB, LF and CR, which a quoted field holds
 * as data. NULL writes nothing (an empty field). LM_OK, or LM_ENOMEM with
 * nothing written. */
int lm_csv_field(FILE *f, const char *s);

/* Splits one CSV line (no line end) into at most n fields in place (RFC
 * 4180 quotes, "" inside quotes). Returns the number of fields, -1 when
 * malformed or when there are more than n. */
int lm_csv_split(char *line, char **fields, int n);

/* ---- dates ------------------------------------------------------------- */

#define LM_DATE_MIN_YEAR 2000
#define LM_DATE_MAX_YEAR 2099

/* Parses a real calendar date "YYYY-MM-DD" (exactly that shape, month
 * 1..12, day within the month, 29 February only in leap years, year
 * LM_DATE_MIN_YEAR..LM_DATE_MAX_YEAR) into days since 1970-01-01. LM_OK,
 * or LM_EINVAL with *why (may be NULL) a fixed phrase: "is not a date
 * (YYYY-MM-DD)", "has no such month", "has no such day in that month",
 * "is outside the years 2000-2099". days may be NULL. */
int lm_date_parse(const char *s, int64_t *days, const char **why);
/* LM_OK when s is a real date (lm_date_parse) no more than `back` days
 * before and `ahead` days after today_days; otherwise LM_EINVAL with *why
 * as lm_date_parse or "is too far from today". */
int lm_date_parse_near(const char *s, int64_t today_days, int64_t back, int64_t ahead,
                       int64_t *days, const char **why);
/* Days since 1970-01-01 of the calendar date ms falls on at UTC offset
 * offset_min (minutes east of UTC). */
int64_t lm_date_days_of_ms(int64_t ms, int offset_min);
/* Formats days since 1970-01-01 as "YYYY-MM-DD" into out (at least 11). */
void lm_date_format(int64_t days, char *out, size_t size);
/* Today by the system clock at UTC offset offset_min, in days since
 * 1970-01-01. */
int64_t lm_date_today(int offset_min);

/* How far from today a planned date may be: a route is planned at most a
 * year ahead and recorded at most a month late; a price starts at most a
 * year ahead (a past start records the price history). Reports and
 * `points` take any real date. */
#define LM_DATE_ROUTE_BACK 31
#define LM_DATE_ROUTE_AHEAD 366
#define LM_DATE_PRICE_BACK 36525 /* any year lm_date_parse takes */
#define LM_DATE_PRICE_AHEAD 366

/* China Standard Time, the default for days and times people see. */
#define LM_TIME_DEFAULT_OFFSET_MIN 480

#endif
