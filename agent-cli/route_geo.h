/*
 * route_geo.h — `lastmile route suggest` over real geography: when the
 * replica knows where the county's warehouse and every village with weight
 * waiting lie, the suggestion is a capacitated vehicle routing plan from
 * lm_route (the solver bench/routing measures) over great-circle distances
 * times a detour factor; otherwise cmd_route.c keeps first-fit decreasing.
 * Details and limits in docs/dispatch.md.
 *
 * Where coordinates come from: villages.lat / villages.lon and a table
 * warehouses(name, county, lat, lon), decimal degrees, as the
 * administration commands of issue 22 are to add them. This file only reads
 * them when they exist (PRAGMA table_info); it adds no schema.
 */
#ifndef LM_ROUTE_GEO_H
#define LM_ROUTE_GEO_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* Road kilometres per great-circle kilometre until road distances exist. */
#define LM_GEO_DETOUR 1.3

typedef struct lm_geo_point {
    const char *village, *county; /* borrowed */
    int64_t waiting_g;
} lm_geo_point;

typedef struct lm_geo_opts {
    int64_t cap_g;
    size_t vehicles;     /* per county; 0 = any number */
    int64_t max_route_m; /* 0 = no limit */
    const char *svg;     /* NULL = no picture */
    int json;
} lm_geo_opts;

/* 1 when every county of pts (sorted by county) has a warehouse with
 * coordinates and every village of pts has coordinates; 0 otherwise, with
 * what is missing in why (empty when this replica holds no coordinates at
 * all). pts with n == 0: 0. */
int lm_geo_ready(sqlite3 *db, const lm_geo_point *pts, size_t n, char *why, size_t why_size);

/* Plans each county of pts (sorted by county, lm_geo_ready true) and prints
 * the routes (and writes opts->svg). Returns the exit code; a county that
 * needs more than opts->vehicles routes or a village farther than
 * max_route_m allows is a clear error, nothing printed or written. */
int lm_geo_suggest(sqlite3 *db, const lm_geo_point *pts, size_t n, const lm_geo_opts *o);

/* Great-circle metres between two points (decimal degrees) times detour. */
int64_t lm_geo_metres(double lat1, double lon1, double lat2, double lon2, double detour);

#endif
