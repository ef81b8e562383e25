/*
 * opts.c — flag parsing shared by the subcommands (see opts.h). A flag
 * given twice is refused, as `lastmile` refuses it, rather than "last one
 * wins": `user add --id u1 --id u2` is a slip, not a choice of u2.
 */
#include "opts.h"

#include <stdio.h>
#include <string.h>

#include "lm_text.h"

int lm__opts_parse(int argc, char **argv, const lm_opt *opts, size_t n_opts, const char *cmd)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return LM_OPTS_HELP;
    }
    unsigned char seen[64] = {0};
    if (n_opts > sizeof seen) {
        fprintf(stderr, "lastmile-server %s: too many options declared\n", cmd);
        return LM_OPTS_USAGE;
    }
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            fprintf(stderr, "lastmile-server %s: unexpected argument '%s' (see --help)\n", cmd,
                    arg);
            return LM_OPTS_USAGE;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const lm_opt *o = NULL;
        for (size_t k = 0; k < n_opts; k++) {
            if (strlen(opts[k].name) == name_len && strncmp(opts[k].name, name, name_len) == 0) {
                o = &opts[k];
                break;
            }
        }
        if (!o) {
            fprintf(stderr, "lastmile-server %s: unknown option '--%.*s' (see --help)\n", cmd,
                    (int)name_len, name);
            return LM_OPTS_USAGE;
        }
        if (seen[o - opts]++) {
            fprintf(stderr, "lastmile-server %s: --%s given twice\n", cmd, o->name);
            return LM_OPTS_USAGE;
        }
        if (o->present) {
            if (eq) {
                fprintf(stderr, "lastmile-server %s: --%s takes no value\n", cmd, o->name);
                return LM_OPTS_USAGE;
            }
            *o->present = 1;
            continue;
        }
        const char *value = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
        const char *problem = value ? lm_text_option_value_problem(value) : "needs a value";
        if (problem) {
            fprintf(stderr, "lastmile-server %s: --%s %s\n", cmd, o->name, problem);
            return LM_OPTS_USAGE;
        }
        *o->value = value;
    }
    return LM_OPTS_OK;
}

/* The value of the flag named by the n bytes at name, or NULL. */
static const char *opt_value(const lm_opt *opts, size_t n_opts, const char *name, size_t n)
{
    for (size_t k = 0; k < n_opts; k++) {
        if (opts[k].value && strlen(opts[k].name) == n && strncmp(opts[k].name, name, n) == 0)
            return *opts[k].value;
    }
    return NULL;
}

int lm__opts_run(int argc, char **argv, const lm_opt *opts, size_t n_opts, const char *cmd,
                 const char *usage, const char *required)
{
    int prc = lm__opts_parse(argc, argv, opts, n_opts, cmd);
    if (prc == LM_OPTS_HELP) {
        fputs(usage, stdout);
        return 0;
    }
    if (prc != LM_OPTS_OK)
        return 2;
    int missing = 0, n_req = 0;
    for (const char *p = required; p && *p; n_req++) {
        size_t n = strcspn(p, ",");
        const char *v = opt_value(opts, n_opts, p, n);
        missing |= !v || !*v;
        p += n + (p[n] == ',');
    }
    if (!missing)
        return LM_OPTS_GO;
    fprintf(stderr, "lastmile-server %s: ", cmd);
    int i = 0;
    for (const char *p = required; *p; i++) {
        size_t n = strcspn(p, ",");
        fprintf(stderr, "%s--%.*s", i == 0 ? "" : i == n_req - 1 ? " and " : ", ", (int)n, p);
        p += n + (p[n] == ',');
    }
    fprintf(stderr, " %s required\n", n_req == 1 ? "is" : "are");
    return 2;
}
