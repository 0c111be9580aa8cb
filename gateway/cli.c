/* Shared subcommand conventions (see cli.h). */
#include "gateway/cli.h"

#include <stdarg.h>
#include <unistd.h>

int gw_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ferry %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'ferry %s --help'.\n", cmd);
    va_end(ap);
    return GW_EXIT_USAGE;
}

void gw_errorf(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ferry %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

bool gw_stdout_tty(void)
{
    return isatty(STDOUT_FILENO) == 1;
}
