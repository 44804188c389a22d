/*
 * prefetch: ask for the cache line at p ahead of use, where the compiler can
 * (GCC and clang); elsewhere nothing. A hint: never a fault, never a change
 * in what the code computes.
 */
#pragma once

#if defined(__GNUC__)
#define PREFETCH(p)	__builtin_prefetch(p)
#else
#define PREFETCH(p)	((void)(p))
#endif
