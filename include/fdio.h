/* fdio: whole writes to a file descriptor, through short writes and EINTR. */
#pragma once
#include <stddef.h>

/* Write all n bytes: 0, or -errno (-EIO when write() wrote nothing). */
int	write_all(int fd, const void *buf, size_t n);
