/*
 * cli.h — the zeroskip command: one file per subcommand (cli/cmd_<name>.c),
 * each `int cmd_<name>(int argc, char **argv)` with argv[0] = subcommand.
 * Exit codes (documented in README): 0 ok, 1 failure of the operation
 * (input/format/numeric), 2 usage, 3 I/O error.
 */
#ifndef ZS_CLI_H
#define ZS_CLI_H
#include "zeroskip.h"
#include <stdint.h>
#include <stdio.h>

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_IO = 3 };

int cmd_info(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_features(int argc, char **argv);
int cmd_listen(int argc, char **argv);
int cmd_dataset(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_serve(int argc, char **argv);
/* `zeroskip bench --learn` (cli/cmd_bench_learn.c), called from cmd_bench */
int cmd_bench_learn(int argc, char **argv);
int cmd_enroll(int argc, char **argv);
int cmd_continual(int argc, char **argv);
int cmd_hw_compile(int argc, char **argv);

/* Strict numeric option parsing: the whole string must be a number in
 * [lo, hi]. Return 0 on success, -1 (after printing "zeroskip CMD: bad
 * value for OPT: ...") otherwise. */
int cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
/* Online CPUs (1..256); the 1-minute load average (/proc/loadavg), or -1. */
int cli_online_cpus(void);
double cli_loadavg(void);
/* A run's load verdict: others were running when it started (load0 above
 * half the CPUs), or the load at its end (load1) exceeded what its own
 * `threads` add plus half the CPUs. */
int cli_machine_busy(double load0, double load1, int threads);
int cli_u64(const char *cmd, const char *opt, const char *s, uint64_t *out);
int cli_float(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out);
/* Failures the command raises itself go through zs_last_error() as the
 * library's do (zs_set_error), so cli_fail prints either the same way.
 * ZS_FAIL: set `st` and jump to the function's `fail:` label. */
#ifndef ZS_ERR /* (the fuzz replay test also includes the library's) */
#define ZS_ERR(code, ...) zs_set_error((code), __VA_ARGS__)
#define ZS_FAIL(code, ...) do { st = ZS_ERR((code), __VA_ARGS__); goto fail; } while (0)
#endif
/* Print "zeroskip CMD: <zs_last_error()>" and map a status to an exit code. */
int cli_fail(const char *cmd, zs_status st);
/* Same, naming FILE first unless the message already starts with it. */
int cli_fail_file(const char *cmd, const char *file, zs_status st);
/* Print "zeroskip CMD: msg\nusage: ..." and return EXIT_USAGE. */
int cli_usage(const char *cmd, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Option value helper: if argv[*i] equals `name`, take argv[*i+1] into *val
 * (advancing *i) and return 1; a missing value, or the option already given
 * earlier on the line, prints a message and returns -1; no match returns 0.
 * Also accepts "--name=value". */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **val);
/* Check an output file before any work: NULL is fine; "" is a usage error
 * (EXIT_USAGE); a directory, a missing or unwritable directory, or (atomic
 * = 1, the file is replaced by rename) a non-regular PATH is EXIT_IO with a
 * message naming `opt`, PATH and the reason. atomic = 0: an existing PATH
 * must open for writing (it is not truncated here). Returns EXIT_OK. */
int cli_check_output(const char *cmd, const char *usage, const char *opt, const char *path, int atomic);
/* Flush stdout; EXIT_IO with a message if anything written to it failed. */
int cli_stdout_done(const char *cmd);
/* Write s as a JSON string literal (quotes, escapes) to f. */
void cli_json_string(FILE *f, const char *s);
/* Read a small regular text file (never blocking on a FIFO) into a
 * NUL-terminated malloc'ed *out; prints the reason and returns an exit code
 * on failure. */
int cli_read_text(const char *cmd, const char *path, size_t max, char **out);
#endif
