/* Server log lines (see log.h). */
#include "gateway/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static enum gw_log_level log_min = GW_LOG_INFO;
static bool log_syslog;

void gw_log_setup(enum gw_log_level min, bool use_syslog)
{
    log_min = min;
    if (use_syslog && !log_syslog)
        openlog("ferry", LOG_PID | LOG_NDELAY, LOG_DAEMON);
    log_syslog = use_syslog;
}

void gw_log(enum gw_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"error: ", "warning: ", "", "debug: "};
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    if (level > log_min)
        return;
    char msg[1024], stamp[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    /* One fprintf per line: stderr is unbuffered, so lines of concurrent sessions do
     * not interleave within a line. */
    fprintf(stderr, "%s ferry[%d]: %s%s\n", stamp, (int)getpid(), names[level], msg);
    if (log_syslog)
        syslog(prio[level], "%s%s", names[level], msg);
}
