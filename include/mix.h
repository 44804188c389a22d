/*
 * mix: splitmix64's finalizer (Stafford's variant 13), for algorithms/ that
 * need well-spread bits from a hash or a sequential key: every input bit
 * flips about half the output bits; and splitmix64 itself, the seeded
 * sequence the tests and benchmarks draw from. Pure, the same on every
 * machine.
 */
#pragma once
#include <stdint.h>

static inline uint64_t
mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/* The next number of the splitmix64 sequence whose state is *s. */
static inline uint64_t
rng_next(uint64_t *s)
{
	return mix64(*s += 0x9e3779b97f4a7c15ull);
}
