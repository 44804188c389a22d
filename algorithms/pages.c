/* pages: large tables in mappings of their own. */
#include <stdlib.h>
#include <sys/mman.h>

#include "pages.h"

void *
pages_alloc(size_t bytes)
{
	void	*p;

	if (bytes < PAGES_APART)
		return calloc(1, bytes);
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (bytes >= PAGES_HUGE)
		(void)madvise(p, bytes, MADV_HUGEPAGE);
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
