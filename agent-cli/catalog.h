/*
 * catalog.h — what the synced catalog says about a purchase: the price of a
 * product and grade on a day, so `collect` can take it when the agent gives
 * none and warn when a typed price is far from it.
 */
#ifndef LM_AGENT_CATALOG_H
#define LM_AGENT_CATALOG_H

#include <stdint.h>
#include <sqlite3.h>

/* A typed price further than this from the catalog's (in percent) gets a
 * warning: 18.00 for 1.80 potatoes is a slip of the decimal point. */
#define LM_CATALOG_WARN_PERCENT 30

/* The price in force today (local date) for product and grade: the row
 * with the latest effective_from not after today. 1 found (*fen and
 * effective_from, 11 bytes, filled), 0 none, LM_EDB (negative) on a read
 * error. */
int lm_catalog_price_today(sqlite3 *db, const char *product, const char *grade, int64_t *fen,
                           char effective_from[11]);

#endif
