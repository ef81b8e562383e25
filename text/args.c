/*
 * args.c — long-option parsing (see args.h). Repeated options are refused
 * rather than "last one wins": on a purchase record a doubled --kg is far
 * more likely a typo than an intent.
 */
#include "args.h"

#include <stdio.h>
#include <string.h>

#include "lm_protocol.h"
#include "lm_text.h"

static const lm_opt *find_opt(const lm_opt *opts, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        if (strlen(opts[i].name) == len && memcmp(opts[i].name, name, len) == 0)
            return &opts[i];
    }
    return NULL;
}

int lm_args_parse(int argc, char **argv, const lm_opt *opts, size_t n_opts, lm_args *out, char *err,
                  size_t err_size)
{
    int only_positional = 0;
    unsigned char seen[64] = {0};

    memset(out, 0, sizeof *out);
    if (n_opts > sizeof seen) {
        snprintf(err, err_size, "too many options declared");
        return LM_EINVAL;
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (only_positional || a[0] != '-' || a[1] == '\0' ||
            (a[1] != '-' && !(a[1] >= 'a' && a[1] <= 'z') && !(a[1] >= 'A' && a[1] <= 'Z'))) {
            /* Positional; "-5" or "-" are values, not options. */
            if (out->n_positional == LM_ARGS_MAX_POSITIONAL) {
                snprintf(err, err_size, "too many arguments");
                return LM_EINVAL;
            }
            out->positional[out->n_positional++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_positional = 1;
            continue;
        }
        if (strcmp(a, "-h") == 0)
            a = "--help";
        if (a[1] != '-') {
            snprintf(err, err_size, "unknown option %s (options are spelled --name)", a);
            return LM_EINVAL;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const lm_opt *o = find_opt(opts, n_opts, name, name_len);
        if (!o) {
            snprintf(err, err_size, "unknown option --%.*s", (int)name_len, name);
            return LM_EINVAL;
        }
        size_t idx = (size_t)(o - opts);
        if (seen[idx]) {
            snprintf(err, err_size, "--%s given twice", o->name);
            return LM_EINVAL;
        }
        seen[idx] = 1;
        if (o->kind == LM_OPT_FLAG) {
            if (eq) {
                snprintf(err, err_size, "--%s takes no value", o->name);
                return LM_EINVAL;
            }
            *o->flag = 1;
            continue;
        }
        const char *value = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
        if (!value) {
            snprintf(err, err_size, "--%s needs a value", o->name);
            return LM_EINVAL;
        }
        const char *problem = lm_text_option_value_problem(value);
        if (problem) {
            snprintf(err, err_size, "--%s %s", o->name, problem);
            return LM_EINVAL;
        }
        *o->value = value;
    }
    return LM_OK;
}

/* The value of the value option named by the n bytes at name, or NULL. */
static const char *opt_value(const lm_opt *opts, size_t n_opts, const char *name, size_t n)
{
    const lm_opt *o = find_opt(opts, n_opts, name, n);
    return o && o->kind == LM_OPT_VALUE ? *o->value : NULL;
}

int lm_args_run(int argc, char **argv, const lm_opt *opts, size_t n_opts, const char *cmd,
                const char *usage, const char *required)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        }
    }
    lm_args args;
    char err[160];
    if (lm_args_parse(argc, argv, opts, n_opts, &args, err, sizeof err) != LM_OK) {
        fprintf(stderr, "%s: %s (see --help)\n", cmd, err);
        return 2;
    }
    if (args.n_positional > 0) {
        fprintf(stderr, "%s: unexpected argument '", cmd);
        lm_text_fput(stderr, args.positional[0]);
        fputs("' (see --help)\n", stderr);
        return 2;
    }
    int missing = 0, n_req = 0;
    for (const char *p = required; p && *p; n_req++) {
        size_t n = strcspn(p, ",");
        const char *v = opt_value(opts, n_opts, p, n);
        missing |= !v || !*v;
        p += n + (p[n] == ',');
    }
    if (!missing)
        return LM_ARGS_GO;
    fprintf(stderr, "%s: ", cmd);
    int i = 0;
    for (const char *p = required; *p; i++) {
        size_t n = strcspn(p, ",");
        fprintf(stderr, "%s--%.*s", i == 0 ? "" : i == n_req - 1 ? " and " : ", ", (int)n, p);
        p += n + (p[n] == ',');
    }
    fprintf(stderr, " %s required\n", n_req == 1 ? "is" : "are");
    return 2;
}
