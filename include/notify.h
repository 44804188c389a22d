/*
 * notify: the systemd notification protocol, a datagram of KEY=VALUE lines to
 * the AF_UNIX socket named by $NOTIFY_SOCKET (a leading '@' means the abstract
 * namespace). Without $NOTIFY_SOCKET every call is a no-op that succeeds.
 */
#pragma once
#include <stdint.h>

/* Send one message, e.g. notify("READY=1\nSTATUS=%s", what). 0 or -errno. */
int	notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Microseconds between WATCHDOG=1 pings ($WATCHDOG_USEC / 2), or 0 for none. */
uint64_t	notify_watchdog_usec(void);
