/*
 * prefetch: ask for the cache line at p ahead of use, where the compiler can
 * (GCC and clang); elsewhere nothing. A hint: never a fault, never a change
 * in what the code computes.
 */
#pragma once

#include <stddef.h>

#if defined(__GNUC__)
#define PREFETCH(p)	__builtin_prefetch(p)
#else
#define PREFETCH(p)	((void)(p))
#endif

#define PREFETCH_LINE	64	/* bytes a cache line holds, on the machines measured */

/* Ask for every cache line of bytes at p. */
static inline void
prefetch_range(const void *p, size_t bytes)
{
	for (size_t off = 0; off < bytes; off += PREFETCH_LINE)
		PREFETCH((const char *)p + off);
}
