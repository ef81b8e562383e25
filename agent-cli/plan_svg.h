/*
 * plan_svg.h — a picture of suggested pickup routes: the warehouses as
 * squares, the villages as circles sized by the weight waiting there, each
 * route as a coloured line from its warehouse through its stops and back.
 * Pure over a FILE*: no database, no solver.
 *
 * Ownership: everything in lm_plan_svg is borrowed for the call.
 */
#ifndef LM_PLAN_SVG_H
#define LM_PLAN_SVG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct lm_plan_svg_site {
    const char *name;
    double lat, lon;  /* decimal degrees */
    int64_t weight_g; /* villages: waiting weight; warehouses: ignored */
} lm_plan_svg_site;

typedef struct lm_plan_svg_route {
    size_t warehouse;    /* index into warehouses */
    const size_t *stops; /* indices into villages, in visiting order */
    size_t n_stops;
} lm_plan_svg_route;

typedef struct lm_plan_svg {
    const lm_plan_svg_site *warehouses;
    size_t n_warehouses;
    const lm_plan_svg_site *villages;
    size_t n_villages;
    const lm_plan_svg_route *routes;
    size_t n_routes;
} lm_plan_svg;

/* Writes the SVG document (800 x 600, north up, longitudes scaled by the
 * cosine of the mean latitude). LM_OK, or LM_EIO when f reports an error. */
int lm_plan_svg_write(FILE *f, const lm_plan_svg *p);

#endif
