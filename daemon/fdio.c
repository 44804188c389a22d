/* fdio: whole writes to a file descriptor. */
#include <errno.h>
#include <unistd.h>

#include "fdio.h"

int
write_all(int fd, const void *buf, size_t n)
{
	const unsigned char	*p = buf;
	ssize_t			 w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}
