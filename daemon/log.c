/* log: stderr lines with optional <N> priority prefixes for the journal. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "pages.h"
#include "xmalloc.h"

static int	log_debug_on;
static int	log_journal;	/* stderr is the journal: prefix <N> priorities */

/* $JOURNAL_STREAM is "dev:ino" of the stream systemd connected; compare with stderr. */
static int
stderr_is_journal(void)
{
	const char		*js = getenv("JOURNAL_STREAM");
	unsigned long long	 dev, ino;
	struct stat		 st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(2, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void
log_init(int verbose)
{
	log_debug_on = verbose;
	log_journal = stderr_is_journal();
}

int
log_verbose(void)
{
	return log_debug_on;
}

/* syslog priorities: 3 err, 4 warning, 6 info, 7 debug */
static void
log_vline(int prio, const char *fmt, va_list ap, const char *err)
{
	char	line[2048];
	int	n;

	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	if (log_journal)
		fprintf(stderr, "<%d>", prio);
	fputs(line, stderr);
	if (err != NULL)
		fprintf(stderr, ": %s", err);
	fputc('\n', stderr);
	fflush(stderr);
}

void
log_warn(const char *fmt, ...)
{
	const char	*err = strerror(errno);
	va_list		 ap;

	va_start(ap, fmt);
	log_vline(4, fmt, ap, err);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vline(4, fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vline(6, fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (!log_debug_on)
		return;
	va_start(ap, fmt);
	log_vline(7, fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	const char	*err = strerror(errno);
	va_list		 ap;

	va_start(ap, fmt);
	log_vline(3, fmt, ap, err);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vline(3, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}

static void *
check(void *p, size_t n)
{
	if (p == NULL && n != 0) {
		log_warnx("out of memory allocating %zu bytes", n);
		abort();
	}
	return p;
}

void *
xpages_alloc(size_t n)
{
	return check(pages_alloc(n), n);
}

void *
xmalloc(size_t n)
{
	return check(malloc(n), n);
}

void *
xcalloc(size_t nmemb, size_t size)
{
	return check(calloc(nmemb, size), nmemb * size);
}

void *
xreallocarray(void *p, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > (size_t)-1 / size) {
		log_warnx("allocation of %zu x %zu bytes overflows", nmemb, size);
		abort();
	}
	return check(realloc(p, nmemb * size), nmemb * size);
}

char *
xstrdup(const char *s)
{
	return check(strdup(s), 1);
}

char *
xstrndup(const char *s, size_t n)
{
	return check(strndup(s, n), 1);
}
