/* grow: geometric growth of a caller's array. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "grow.h"

int
grow_array_realloc(void **p, size_t *cap, size_t need, size_t size)
{
	size_t	 ncap;
	void	*np;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 64;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / size)
			return -ENOMEM;
		ncap *= 2;
	}
	if ((np = realloc(*p, ncap * size)) == NULL)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}
