/*
 * args.h — option parsing for the CLI's subcommands. Each command declares a
 * table of long options; the parser fills borrowed pointers into argv (no
 * copies, nothing to free) and collects positional arguments.
 *
 * Accepted forms: "--name value", "--name=value", "--flag". A value option
 * always takes the next argument, even one starting with a single '-', so
 * "--delta-kg -1.5" works; an empty value or an option ("--product") is
 * refused (lm_text_option_value_problem). "--" ends the options.
 */
#ifndef LM_TEXT_ARGS_H
#define LM_TEXT_ARGS_H

#include <stddef.h>

typedef enum lm_opt_kind {
    LM_OPT_FLAG = 0,  /* sets *flag to 1 */
    LM_OPT_VALUE = 1, /* sets *value to the argument (borrowed from argv) */
} lm_opt_kind;

typedef struct lm_opt {
    const char *name; /* without the leading "--" */
    int kind;         /* lm_opt_kind */
    const char **value;
    int *flag;
} lm_opt;

#define LM_ARGS_MAX_POSITIONAL 8

typedef struct lm_args {
    const char *positional[LM_ARGS_MAX_POSITIONAL]; /* borrowed from argv */
    size_t n_positional;
} lm_args;

/* Parses argv[0..argc) against opts. Returns LM_OK, or LM_EINVAL with a
 * one-line reason in err ("unknown option --foo", "--kg needs a value",
 * "--kg given twice", "too many arguments"). Outputs not mentioned in argv
 * keep the values the caller initialised them with. */
int lm_args_parse(int argc, char **argv, const lm_opt *opts, size_t n_opts, lm_args *out, char *err,
                  size_t err_size);

#define LM_ARGS_GO (-1)

/* A subcommand's whole front for a command without positional arguments
 * (lastmile-server's): -h or --help anywhere prints usage on stdout;
 * otherwise lm_args_parse, a positional argument is refused, and the
 * options named in `required` (comma-separated, e.g. "db,id") must have a
 * non-empty value ("--db and --id are required"). Errors go to stderr as
 * "<cmd>: <reason>", cmd naming the program and subcommand
 * ("lastmile-server user add"). Returns LM_ARGS_GO to go on, else the exit
 * code: 0 after help, 2 on bad usage. */
int lm_args_run(int argc, char **argv, const lm_opt *opts, size_t n_opts, const char *cmd,
                const char *usage, const char *required);

#endif
