/*
 * opts.h — the one flag parser every lastmile-server subcommand uses:
 * `--name value`, `--name=value` and boolean `--name`; `-h`/`--help`
 * anywhere asks for the subcommand's help. No positional arguments; a
 * flag given twice is a usage error.
 */
#ifndef LM_SERVER_OPTS_H
#define LM_SERVER_OPTS_H

#include <stddef.h>

typedef struct lm_opt {
    const char *name;   /* without the leading "--" */
    const char **value; /* flag takes a value: stored here (borrowed from argv) */
    int *present;       /* boolean flag: set to 1 (value must be NULL then) */
} lm_opt;

enum {
    LM_OPTS_OK = 0,
    LM_OPTS_HELP = 1,  /* --help seen: print usage to stdout, exit 0 */
    LM_OPTS_USAGE = 2, /* bad flag: message already on stderr, exit 2 */
};

/* Parses argv[0..argc) (the words after the subcommand). cmd names the
 * subcommand in error messages. */
int lm__opts_parse(int argc, char **argv, const lm_opt *opts, size_t n_opts, const char *cmd);

#define LM_OPTS_GO (-1)

/* lm__opts_parse for a subcommand's whole front: prints usage on --help and
 * checks that the flags named in `required` (comma-separated, e.g.
 * "db,id") got a non-empty value ("--db and --id are required"). Returns
 * LM_OPTS_GO to go on, else the exit code: 0 after help, 2 on bad usage. */
int lm__opts_run(int argc, char **argv, const lm_opt *opts, size_t n_opts, const char *cmd,
                 const char *usage, const char *required);

#endif
