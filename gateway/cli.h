/* Conventions shared by every `ferry` subcommand: exit codes (DESIGN.md), usage
 * errors, and small output helpers. Each subcommand parses its own flags with
 * getopt_long, prints its usage to stdout and exits 0 on --help, prints
 * "ferry CMD: message" plus a hint to stderr and exits GW_EXIT_USAGE on a bad flag. */
#ifndef FERRY_GATEWAY_CLI_H
#define FERRY_GATEWAY_CLI_H

#include <stdbool.h>
#include <stdio.h>

#define GW_EXIT_OK 0
#define GW_EXIT_SOME_FAILED 1
#define GW_EXIT_USAGE 2
#define GW_EXIT_VERIFY 3
#define GW_EXIT_LOCKED 4
#define GW_EXIT_TEMPFAIL 75

/* Prints "ferry CMD: <fmt>" and "Try 'ferry CMD --help'." to stderr; returns
 * GW_EXIT_USAGE so callers can `return gw_usage_error(...)`. */
int gw_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "ferry CMD: <fmt>" to stderr (no hint). */
void gw_errorf(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when stdout is a terminal (progress bars, colours). */
bool gw_stdout_tty(void);

#endif
