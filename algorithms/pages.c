/* pages: large tables in mappings of their own. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pages.h"

#define HUGE_ALIGN	((size_t)2 << 20)	/* x86-64's and arm64's (4 KiB pages) huge page */

/* A private anonymous mapping of bytes, zeroed, or NULL. */
static char *
map_anon(size_t bytes)
{
	void	*p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * The kernel backs only the whole 2 MiB stretches of a mapping that start on
 * a 2 MiB boundary with huge pages, so a mapping that asks for them is made
 * HUGE_ALIGN longer and trimmed to start on one. A daemon at the default
 * max_articles started with 142-148 MiB of huge pages, and 192 MiB so
 * (AnonHugePages in /proc/PID/smaps_rollup; the stem caches' 4 MiB each
 * included). Two clusterers fed the same articles in one process, one's
 * band tables 1 MiB off a boundary (bench/index -n 1000000 -R 1000000 -P,
 * a throwaway build): the aligned one's adds took 0.92-0.96 of the other's
 * at every size from 10,000 to a million held, and 1.01-1.06 the other
 * way round (docs/performance-history.md).
 */
static void *
map_huge(size_t bytes)
{
	size_t		 page = (size_t)sysconf(_SC_PAGESIZE), len, lead;
	char		*p;

	if (bytes > SIZE_MAX - 2 * HUGE_ALIGN)
		return NULL;
	len = (bytes + page - 1) / page * page;		/* what pages_free() unmaps */
	if ((p = map_anon(len + HUGE_ALIGN)) == NULL)
		return NULL;
	lead = (HUGE_ALIGN - (uintptr_t)p % HUGE_ALIGN) % HUGE_ALIGN;
	if (lead > 0)
		(void)munmap(p, lead);
	(void)munmap(p + lead + len, HUGE_ALIGN - lead);
	p += lead;
	(void)madvise(p, bytes, MADV_HUGEPAGE);
	return p;
}

void *
pages_alloc(size_t bytes)
{
	void	*p;

	if (bytes < PAGES_APART)
		return calloc(1, bytes);
	if ((p = bytes >= PAGES_HUGE ? map_huge(bytes) : map_anon(bytes)) == NULL)
		return NULL;
	/* before Linux 5.14: EINVAL, and pages come as they are touched */
	(void)madvise(p, bytes, MADV_POPULATE_WRITE);
	return p;
}

void
pages_free(void *p, size_t bytes)
{
	if (p == NULL)
		return;
	if (bytes < PAGES_APART)
		free(p);
	else
		munmap(p, bytes);
}
