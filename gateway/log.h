/* Human-readable server log: one line per event to stderr ("2026-11-28T14:03:07Z
 * ferry[123]: message"), and to syslog (LOG_DAEMON) when enabled. The audit log is
 * separate (gateway/audit.h). */
#ifndef FERRY_GATEWAY_LOG_H
#define FERRY_GATEWAY_LOG_H

#include <stdbool.h>

enum gw_log_level { GW_LOG_ERROR, GW_LOG_WARN, GW_LOG_INFO, GW_LOG_DEBUG };

/* Sets the minimum level shown and whether lines also go to syslog. */
void gw_log_setup(enum gw_log_level min, bool use_syslog);
void gw_log(enum gw_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
