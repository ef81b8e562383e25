/*
 * text_args_test.c — CLI option parsing: both value forms, flags,
 * negative values, positionals, "--", and every refusal.
 */
#include <string.h>

#include "args.h"
#include "lm_test.h"

typedef struct opts {
    const char *kg, *delta;
    int json, poor;
} opts;

static int parse(opts *o, lm_args *a, char *err, size_t err_size, int argc, char **argv)
{
    const lm_opt table[] = {
        {"kg", LM_OPT_VALUE, &o->kg, NULL},
        {"delta-kg", LM_OPT_VALUE, &o->delta, NULL},
        {"json", LM_OPT_FLAG, NULL, &o->json},
        {"poor", LM_OPT_FLAG, NULL, &o->poor},
    };
    memset(o, 0, sizeof *o);
    return lm_args_parse(argc, argv, table, sizeof table / sizeof table[0], a, err, err_size);
}

int main(void)
{
    opts o;
    lm_args a;
    char err[128];

    char *v1[] = {"list", "--kg", "1.5", "--json", "--delta-kg=-2", "collections"};
    CHECK_RC(parse(&o, &a, err, sizeof err, 6, v1), LM_OK);
    CHECK_STR(o.kg, "1.5");
    CHECK_STR(o.delta, "-2");
    CHECK_EQ_INT(o.json, 1);
    CHECK_EQ_INT(o.poor, 0);
    CHECK_EQ_INT(a.n_positional, 2);
    CHECK_STR(a.positional[0], "list");
    CHECK_STR(a.positional[1], "collections");

    char *v2[] = {"--delta-kg", "-1.25", "-7", "--", "--json"};
    CHECK_RC(parse(&o, &a, err, sizeof err, 5, v2), LM_OK);
    CHECK_STR(o.delta, "-1.25");
    CHECK_EQ_INT(o.json, 0);
    CHECK_EQ_INT(a.n_positional, 2);
    CHECK_STR(a.positional[0], "-7");
    CHECK_STR(a.positional[1], "--json");

    char *v3[] = {"--weight", "3"};
    CHECK_RC(parse(&o, &a, err, sizeof err, 2, v3), LM_EINVAL);
    CHECK_STR(err, "unknown option --weight");

    char *v4[] = {"--kg"};
    CHECK_RC(parse(&o, &a, err, sizeof err, 1, v4), LM_EINVAL);
    CHECK_STR(err, "--kg needs a value");

    char *v5[] = {"--kg", "1", "--kg", "2"};
    CHECK_RC(parse(&o, &a, err, sizeof err, 4, v5), LM_EINVAL);
    CHECK_STR(err, "--kg given twice");

    char *v6[] = {"--json=yes"};
    CHECK_RC(parse(&o, &a, err, sizeof err, 1, v6), LM_EINVAL);
    CHECK_STR(err, "--json takes no value");

    char *v7[] = {"-x"};
    CHECK_RC(parse(&o, &a, err, sizeof err, 1, v7), LM_EINVAL);

    char *v8[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
    CHECK_RC(parse(&o, &a, err, sizeof err, 9, v8), LM_EINVAL);
    CHECK_STR(err, "too many arguments");

    /* An option's value is never empty nor the next option: `--kg $W
     * --json` with an empty $W is an error about --kg. */
    char *v9[] = {"--kg="};
    CHECK_RC(parse(&o, &a, err, sizeof err, 1, v9), LM_EINVAL);
    CHECK_STR(err, "--kg is empty");
    char *v10[] = {"--kg", "", "--json"};
    CHECK_RC(parse(&o, &a, err, sizeof err, 3, v10), LM_EINVAL);
    CHECK_STR(err, "--kg is empty");
    char *v11[] = {"--kg", "--json", "corn"};
    CHECK_RC(parse(&o, &a, err, sizeof err, 3, v11), LM_EINVAL);
    CHECK_STR(err, "--kg needs a value, not the option that follows it");
    char *v13[] = {"--kg", "--1"}; /* no option: the command judges it */
    CHECK_RC(parse(&o, &a, err, sizeof err, 2, v13), LM_OK);
    CHECK_STR(o.kg, "--1");
    char *v12[] = {"--delta-kg", "-1.5"};
    CHECK_RC(parse(&o, &a, err, sizeof err, 2, v12), LM_OK);
    CHECK_STR(o.delta, "-1.5");
    return lm_test_done("text_args");
}
