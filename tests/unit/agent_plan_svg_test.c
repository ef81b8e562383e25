/*
 * agent_plan_svg_test.c — the route picture: one polyline per route from
 * its warehouse through its stops and back, one circle per village sized by
 * weight (the heavier larger), one square per warehouse, names escaped,
 * finite coordinates inside the picture even when every point is the same,
 * and a write error reported.
 */
#include <math.h>

#include "lm_test.h"
#include "plan_svg.h"

static char *render(const lm_plan_svg *p, int *rc)
{
    FILE *f = tmpfile();
    *rc = lm_plan_svg_write(f, p);
    long len = ftell(f);
    char *text = calloc(1, (size_t)len + 1);
    rewind(f);
    CHECK(fread(text, 1, (size_t)len, f) == (size_t)len);
    fclose(f);
    return text;
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (; (s = strstr(s, what)); s++)
        n++;
    return n;
}

/* Every number in x=, y=, cx=, cy=, r= and points= is finite and on the page. */
static void check_numbers(const char *text)
{
    static const char *const attrs[] = {" x=\"", " y=\"", " cx=\"", " cy=\"", "points=\""};
    for (size_t a = 0; a < sizeof attrs / sizeof attrs[0]; a++) {
        for (const char *s = text; (s = strstr(s, attrs[a])); s++) {
            char *end;
            const char *v = strchr(s, '"') + 1;
            do {
                double x = strtod(v, &end);
                CHECK(end != v && isfinite(x) && x > -20 && x < 820);
                v = end + (*end == ',' || *end == ' ');
            } while (*end == ',' || *end == ' ');
        }
    }
}

static void test_plan(void)
{
    lm_plan_svg_site wh[1] = {{"wh <main>", 27.0, 110.0, 0}};
    lm_plan_svg_site vs[3] = {{"a&b", 27.05, 110.02, 1200000},
                              {"xiaba", 27.02, 110.06, 300000},
                              {"\"q\"", 26.96, 110.05, 0}};
    size_t r1[2] = {0, 1}, r2[1] = {2};
    lm_plan_svg_route rs[2] = {{0, r1, 2}, {0, r2, 1}};
    lm_plan_svg p = {wh, 1, vs, 3, rs, 2};
    int rc;
    char *text = render(&p, &rc);
    CHECK_RC(rc, LM_OK);
    CHECK(strncmp(text, "<svg", 4) == 0 && strstr(text, "</svg>\n") != NULL);
    CHECK_EQ_INT(count(text, "class=\"route\""), 2);
    CHECK_EQ_INT(count(text, "class=\"village\""), 3);
    CHECK_EQ_INT(count(text, "class=\"warehouse\""), 1);
    CHECK(strstr(text, ">a&amp;b<") && strstr(text, ">wh &lt;main&gt;<") &&
          strstr(text, ">&quot;q&quot;<"));
    /* the first route has the warehouse, two stops and the warehouse again */
    const char *pts = strstr(strstr(text, "class=\"route\""), "points=\"");
    CHECK(pts && count(strchr(pts, '"') + 1, " ") >= 3);
    /* radius grows with weight: a (1200 kg) > xiaba (300 kg) > q (0 kg) */
    double r[3];
    const char *s = text;
    for (int k = 0; k < 3; k++) {
        s = strstr(strstr(s, "class=\"village\""), " r=\"");
        r[k] = s ? atof(s + 4) : 0;
        s = s ? s + 1 : text;
    }
    CHECK(r[0] > r[1] && r[1] > r[2] && r[2] > 0);
    check_numbers(text);
    free(text);
}

static void test_degenerate(void)
{
    lm_plan_svg_site wh[1] = {{"w", 30.0, 100.0, 0}};
    lm_plan_svg_site vs[2] = {{"same", 30.0, 100.0, 5}, {"also", 30.0, 100.0, 5}};
    size_t stops[2] = {0, 1};
    lm_plan_svg_route rs[1] = {{0, stops, 2}};
    lm_plan_svg p = {wh, 1, vs, 2, rs, 1};
    int rc;
    char *text = render(&p, &rc);
    CHECK_RC(rc, LM_OK);
    check_numbers(text);
    free(text);
    lm_plan_svg empty = {0};
    text = render(&empty, &rc);
    CHECK_RC(rc, LM_OK);
    CHECK(strstr(text, "</svg>") != NULL);
    free(text);
}

static void test_write_error(void)
{
    FILE *f = fopen("/dev/full", "w");
    if (!f)
        return; /* no /dev/full here */
    setvbuf(f, NULL, _IONBF, 0);
    lm_plan_svg empty = {0};
    CHECK_RC(lm_plan_svg_write(f, &empty), LM_EIO);
    fclose(f);
}

int main(void)
{
    test_plan();
    test_degenerate();
    test_write_error();
    return lm_test_done("agent_plan_svg");
}
