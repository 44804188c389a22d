/*
 * grow: geometric growth of a caller's array, for algorithms/ (which reports
 * -ENOMEM rather than aborting). Pure; no globals.
 */
#pragma once
#include <stddef.h>

int	grow_array_realloc(void **p, size_t *cap, size_t need, size_t size);

/*
 * Make *p hold at least need elements of size bytes, doubling *cap (from 64)
 * as needed. 0, or -ENOMEM with *p and *cap unchanged. Inline: most calls
 * find the room there already.
 */
static inline int
grow_array(void **p, size_t *cap, size_t need, size_t size)
{
	return need <= *cap ? 0 : grow_array_realloc(p, cap, need, size);
}
