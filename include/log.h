/*
 * log: one line per event on stderr, as "module: what happened". When stderr
 * is the journal ($JOURNAL_STREAM names it), each line starts with a <N>
 * syslog priority so journald keeps the level; no timestamps (the journal or
 * the terminal adds them). Debug lines only after log_init(1).
 *
 * log_warn() appends ": strerror(errno)"; log_warnx() does not (OpenBSD).
 * fatal() and fatalx() log and exit(1): only main.c calls them, and only
 * before READY=1.
 */
#pragma once
#include <stdarg.h>
#include <stdnoreturn.h>

void	log_init(int verbose);
int	log_verbose(void);

void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void	fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void	fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
