/*
 * plan_svg.c — the SVG picture of a route suggestion (plan_svg.h). Names
 * are XML-escaped; identical points (or one point) still give a finite
 * scale, so the document never carries NaN.
 */
#include <math.h>

#include "lm_protocol.h"
#include "plan_svg.h"

#define PI 3.14159265358979323846
#define WIDTH 800.0
#define HEIGHT 600.0
#define MARGIN 40.0

static const char *const colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                      "#ff7f0e", "#17becf", "#8c564b", "#e377c2"};

typedef struct frame {
    double lon0, lat0, kx, scale;
} frame;

static void fit(const lm_plan_svg *p, frame *fr)
{
    double lat_lo = INFINITY, lat_hi = -INFINITY, lon_lo = INFINITY, lon_hi = -INFINITY;
    for (size_t k = 0; k < p->n_warehouses + p->n_villages; k++) {
        const lm_plan_svg_site *s =
            k < p->n_warehouses ? &p->warehouses[k] : &p->villages[k - p->n_warehouses];
        lat_lo = fmin(lat_lo, s->lat);
        lat_hi = fmax(lat_hi, s->lat);
        lon_lo = fmin(lon_lo, s->lon);
        lon_hi = fmax(lon_hi, s->lon);
    }
    if (lat_lo > lat_hi) /* nothing to draw */
        lat_lo = lat_hi = lon_lo = lon_hi = 0;
    fr->kx = cos((lat_lo + lat_hi) / 2 * PI / 180.0);
    double w = (lon_hi - lon_lo) * fr->kx, h = lat_hi - lat_lo;
    double sx = w > 0 ? (WIDTH - 2 * MARGIN) / w : INFINITY;
    double sy = h > 0 ? (HEIGHT - 2 * MARGIN) / h : INFINITY;
    fr->scale = isfinite(fmin(sx, sy)) ? fmin(sx, sy) : 1.0;
    fr->lon0 = (lon_lo + lon_hi) / 2;
    fr->lat0 = (lat_lo + lat_hi) / 2;
}

static double px(const frame *fr, const lm_plan_svg_site *s)
{
    return WIDTH / 2 + (s->lon - fr->lon0) * fr->kx * fr->scale;
}

static double py(const frame *fr, const lm_plan_svg_site *s)
{
    return HEIGHT / 2 - (s->lat - fr->lat0) * fr->scale;
}

static void put_escaped(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

static void label(FILE *f, double x, double y, const char *name)
{
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" font-family=\"sans-serif\">", x, y);
    put_escaped(f, name);
    fputs("</text>\n", f);
}

int lm_plan_svg_write(FILE *f, const lm_plan_svg *p)
{
    frame fr;
    fit(p, &fr);
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\""
            " viewBox=\"0 0 %.0f %.0f\">\n<title>lastmile route suggest</title>\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            WIDTH, HEIGHT, WIDTH, HEIGHT);
    for (size_t r = 0; r < p->n_routes; r++) {
        const lm_plan_svg_route *rt = &p->routes[r];
        const lm_plan_svg_site *wh = &p->warehouses[rt->warehouse];
        fprintf(
            f, "<polyline class=\"route\" fill=\"none\" stroke-width=\"2\" stroke=\"%s\" points=\"",
            colours[r % (sizeof colours / sizeof colours[0])]);
        fprintf(f, "%.1f,%.1f", px(&fr, wh), py(&fr, wh));
        for (size_t k = 0; k < rt->n_stops; k++) {
            const lm_plan_svg_site *v = &p->villages[rt->stops[k]];
            fprintf(f, " %.1f,%.1f", px(&fr, v), py(&fr, v));
        }
        fprintf(f, " %.1f,%.1f\"/>\n", px(&fr, wh), py(&fr, wh));
    }
    int64_t heaviest = 1;
    for (size_t k = 0; k < p->n_villages; k++)
        heaviest = p->villages[k].weight_g > heaviest ? p->villages[k].weight_g : heaviest;
    for (size_t k = 0; k < p->n_villages; k++) {
        const lm_plan_svg_site *v = &p->villages[k];
        double w = v->weight_g > 0 ? (double)v->weight_g : 0;
        double radius = 3 + 15 * sqrt(w / (double)heaviest);
        fprintf(f,
                "<circle class=\"village\" cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"#999\""
                " fill-opacity=\"0.6\" stroke=\"#333\"/>\n",
                px(&fr, v), py(&fr, v), radius);
        label(f, px(&fr, v) + radius + 2, py(&fr, v) + 4, v->name);
    }
    for (size_t k = 0; k < p->n_warehouses; k++) {
        const lm_plan_svg_site *wh = &p->warehouses[k];
        fprintf(f,
                "<rect class=\"warehouse\" x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"14\""
                " fill=\"black\"/>\n",
                px(&fr, wh) - 7, py(&fr, wh) - 7);
        label(f, px(&fr, wh) + 10, py(&fr, wh) - 8, wh->name);
    }
    fputs("</svg>\n", f);
    return ferror(f) ? LM_EIO : LM_OK;
}
