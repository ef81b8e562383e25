/*
 * text_args_test.c — CLI option parsing: both value forms, flags,
 * negative values, positionals, "--", and every refusal.
 */
#include <string.h>

#include "args.h"
#include "lm_text.h"
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

/* lm_args_run, the front of a command without positional arguments
 * (lastmile-server's): the cases its own parser (the deleted server/opts.c) was tested
 * with before the server moved onto this one. */
static void test_run(void)
{
    const char *db = NULL, *by = NULL;
    int json = 0;
    lm_opt t[] = {{"db", LM_OPT_VALUE, &db, NULL},
                  {"by", LM_OPT_VALUE, &by, NULL},
                  {"json", LM_OPT_FLAG, NULL, &json}};
    char *a1[] = {"--db", "x.db", "--by=agent,day", "--json"};
    CHECK_EQ_INT(lm_args_run(4, a1, t, 3, "t", "usage\n", NULL), LM_ARGS_GO);
    CHECK_STR(db, "x.db");
    CHECK_STR(by, "agent,day");
    CHECK_EQ_INT(json, 1);
    char *a2[] = {"--db"};
    CHECK_EQ_INT(lm_args_run(1, a2, t, 3, "t", "usage\n", NULL), 2);
    char *a3[] = {"--nope", "1"};
    CHECK_EQ_INT(lm_args_run(2, a3, t, 3, "t", "usage\n", NULL), 2);
    char *a4[] = {"stray"};
    CHECK_EQ_INT(lm_args_run(1, a4, t, 3, "t", "usage\n", NULL), 2);
    char *a5[] = {"--nope", "--help"}; /* help anywhere wins */
    CHECK_EQ_INT(lm_args_run(2, a5, t, 3, "t", "", NULL), 0);
    char *a6[] = {"--json=1"};
    CHECK_EQ_INT(lm_args_run(1, a6, t, 3, "t", "usage\n", NULL), 2);
    /* a flag given twice is refused, not "last one wins" */
    char *a7[] = {"--by", "agent", "--by=day"};
    CHECK_EQ_INT(lm_args_run(3, a7, t, 3, "t", "usage\n", NULL), 2);
    char *a8[] = {"--json", "--db", "x.db", "--json"};
    CHECK_EQ_INT(lm_args_run(4, a8, t, 3, "t", "usage\n", NULL), 2);

    /* required options given, missing, empty */
    db = by = NULL;
    char *r1[] = {"--db", "x.db", "--by", "day"};
    CHECK_EQ_INT(lm_args_run(4, r1, t, 3, "t", "usage\n", "db,by"), LM_ARGS_GO);
    db = by = NULL;
    char *r2[] = {"--db", "x.db"};
    CHECK_EQ_INT(lm_args_run(2, r2, t, 3, "t", "usage\n", "db,by"), 2);
    CHECK_EQ_INT(lm_args_run(2, r2, t, 3, "t", "usage\n", "db"), LM_ARGS_GO);
    db = by = NULL;
    char *r3[] = {"--db="};
    CHECK_EQ_INT(lm_args_run(1, r3, t, 3, "t", "usage\n", "db"), 2);
    /* a value is never empty nor the next flag (an empty $VAR unquoted) */
    db = by = NULL;
    char *r5[] = {"--db", "--by", "day"};
    CHECK_EQ_INT(lm_args_run(3, r5, t, 3, "t", "usage\n", NULL), 2);
    CHECK(db == NULL);
    char *r6[] = {"--db", "", "--by", "day"};
    CHECK_EQ_INT(lm_args_run(4, r6, t, 3, "t", "usage\n", NULL), 2);
    char *r4[] = {"-h"};
    CHECK_EQ_INT(lm_args_run(1, r4, t, 3, "t", "", "db"), 0);
    CHECK_EQ_INT(lm_args_run(0, NULL, t, 3, "t", "usage\n", NULL), LM_ARGS_GO);
}

/* The one HOST:PORT parser: the server's --listen (port 0 picks one) and
 * the address a phone connects to (1..65535). */
static void test_host_port(void)
{
    char host[64];
    int port;
    CHECK_RC(lm_text_host_port_parse("127.0.0.1:7443", 1, host, sizeof host, &port), LM_OK);
    CHECK_STR(host, "127.0.0.1");
    CHECK_EQ_INT(port, 7443);
    CHECK_RC(lm_text_host_port_parse("[::1]:80", 1, host, sizeof host, &port), LM_OK);
    CHECK_STR(host, "::1");
    CHECK_EQ_INT(port, 80);
    CHECK_RC(lm_text_host_port_parse("hq.example:65535", 1, host, sizeof host, &port), LM_OK);
    CHECK_EQ_INT(port, 65535);
    port = -1;
    CHECK_RC(lm_text_host_port_parse("127.0.0.1:0", 0, host, sizeof host, &port), LM_OK);
    CHECK_STR(host, "127.0.0.1");
    CHECK_EQ_INT(port, 0);
    CHECK_RC(lm_text_host_port_parse("[::1]:7070", 0, host, sizeof host, &port), LM_OK);
    CHECK_EQ_INT(port, 7070);
    static const char *const bad[] = {
        "",        "host",    ":80",     "host:",         "host:0",   "host:65536", "host:8x",
        "[::1]80", "[::1:80", "host:-1", "host:99999999", "host: 80", "host:+80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        port = 1;
        CHECK_RC(lm_text_host_port_parse(bad[i], 1, host, sizeof host, &port), LM_EINVAL);
        CHECK_EQ_INT(port, 0);
    }
    CHECK_RC(lm_text_host_port_parse("nohost", 0, host, sizeof host, &port), LM_EINVAL);
    CHECK_RC(lm_text_host_port_parse("host:65536", 0, host, sizeof host, &port), LM_EINVAL);
    CHECK_RC(lm_text_host_port_parse("averyveryverylonghostname:1", 1, host, 8, &port), LM_EINVAL);
}

int main(void)
{
    test_run();
    test_host_port();
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
