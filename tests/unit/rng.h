/*
 * rng: the unit tests' random numbers (splitmix64): fast, seeded, the same
 * sequence on every machine.
 */
#pragma once
#include <stdint.h>

static inline uint64_t
rng_next(uint64_t *s)
{
	uint64_t	z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}
