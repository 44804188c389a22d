/* snapshot: a checksummed file written beside the log, replaced atomically. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "fdio.h"
#include "le.h"
#include "snapshot.h"

#define MAGIC		"STORYSNP"
#define BUFSIZE		(64 * 1024)
#define TMPNAME		"snapshot.tmp"
#define NAME		"snapshot"
#define TRAILER		8	/* bytes: the checksum, last in the file and not hashed */

/*
 * The checksum is taken a buffer at a time, as the buffer is written or
 * read, not a piece at a time: XXH3's streaming state gives any split of
 * the same bytes the same digest, and a call for each piece (14 an
 * article) was a fifth of a snapshot's write.
 */
struct snapshot_io {
	int		 fd;
	XXH3_state_t	*hash;
	unsigned char	 buf[BUFSIZE];
	size_t		 len, off;	/* bytes in buf; read position in buf */
	off_t		 unhashed;	/* reading: the file's bytes before the trailer not yet read */
	const atomic_int *stop;		/* set: give up at the next buffer (NULL: never) */
};

static int
stopped(const struct snapshot_io *io)
{
	return io->stop != NULL && atomic_load_explicit(io->stop, memory_order_relaxed);
}

/* Hash and write the buffer. */
static int
io_drain(struct snapshot_io *io)
{
	int	r;

	if (stopped(io))
		r = -ECANCELED;
	else {
		XXH3_64bits_update(io->hash, io->buf, io->len);
		r = write_all(io->fd, io->buf, io->len);
	}
	io->len = 0;
	return r;
}

int
snapshot_put(const void *buf, size_t len, void *arg)
{
	struct snapshot_io	*io = arg;
	const unsigned char	*p = buf;
	int			 r;

	while (len > 0) {
		size_t n = BUFSIZE - io->len < len ? BUFSIZE - io->len : len;

		memcpy(io->buf + io->len, p, n);
		io->len += n;
		p += n;
		len -= n;
		if (io->len == BUFSIZE && (r = io_drain(io)) != 0)
			return r;
	}
	return 0;
}

/*
 * Read len bytes. Each buffer is hashed as it is read, but for the
 * trailer, which is not part of what it checks: the file's last TRAILER bytes,
 * wherever the reader's pieces put them.
 */
static int
io_read(struct snapshot_io *io, unsigned char *p, size_t len)
{
	while (len > 0) {
		size_t	n;

		if (io->off == io->len) {
			ssize_t got;
			size_t	body;

			if (stopped(io))
				return -ECANCELED;
			do
				got = read(io->fd, io->buf, BUFSIZE);
			while (got == -1 && errno == EINTR);
			if (got == -1)
				return -errno;
			if (got == 0)
				return -ENODATA;
			io->len = (size_t)got;
			io->off = 0;
			body = io->unhashed < (off_t)io->len ? (size_t)io->unhashed : io->len;
			XXH3_64bits_update(io->hash, io->buf, body);
			io->unhashed -= (off_t)body;
		}
		n = io->len - io->off < len ? io->len - io->off : len;
		memcpy(p, io->buf + io->off, n);
		io->off += n;
		p += n;
		len -= n;
	}
	return 0;
}

int
snapshot_get(void *buf, size_t len, void *arg)
{
	return io_read(arg, buf, len);
}

static struct snapshot_io *
io_new(int fd, const atomic_int *stop)
{
	struct snapshot_io	*io;

	if ((io = calloc(1, sizeof(*io))) == NULL)
		return NULL;
	if ((io->hash = XXH3_createState()) == NULL) {
		free(io);
		return NULL;
	}
	XXH3_64bits_reset(io->hash);
	io->fd = fd;
	io->stop = stop;
	return io;
}

static void
io_free(struct snapshot_io *io)
{
	if (io == NULL)
		return;
	XXH3_freeState(io->hash);
	free(io);
}

static int
write_body(struct snapshot_io *io, uint64_t wal_seq, snapshot_body_fn *fn, void *arg)
{
	unsigned char	head[24], tail[TRAILER];
	int		r;

	memcpy(head, MAGIC, 8);
	le32_put(head + 8, SNAPSHOT_VERSION);
	le32_put(head + 12, 0);
	le64_put(head + 16, wal_seq);
	if ((r = snapshot_put(head, sizeof(head), io)) != 0 || (r = fn(io, arg)) != 0 ||
	    (r = io_drain(io)) != 0)
		return r;
	le64_put(tail, XXH3_64bits_digest(io->hash));
	return write_all(io->fd, tail, sizeof(tail));
}

int
snapshot_write(int dirfd, uint64_t wal_seq, snapshot_body_fn *fn, void *arg, uint64_t *bytes,
    const atomic_int *stop)
{
	struct snapshot_io	*io = NULL;
	off_t			 size;
	int			 fd, r;

	fd = openat(dirfd, TMPNAME, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		return -errno;
	if ((io = io_new(fd, stop)) == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = write_body(io, wal_seq, fn, arg)) != 0)
		goto fail;
	if ((size = lseek(fd, 0, SEEK_CUR)) == -1 || fsync(fd) == -1 ||
	    renameat(dirfd, TMPNAME, dirfd, NAME) == -1 || fsync(dirfd) == -1) {
		r = -errno;
		goto fail;
	}
	io_free(io);
	close(fd);
	*bytes = (uint64_t)size;
	return 0;
fail:
	io_free(io);
	close(fd);
	unlinkat(dirfd, TMPNAME, 0);
	return r;
}

static int
read_body(struct snapshot_io *io, uint64_t *wal_seq, snapshot_body_fn *fn, void *arg)
{
	unsigned char	head[24], tail[TRAILER], extra;
	uint32_t	version;
	int		r;

	if ((r = snapshot_get(head, sizeof(head), io)) == -ENODATA)
		return SNAPSHOT_CORRUPT;
	if (r != 0)
		return r;
	if (memcmp(head, MAGIC, 8) != 0)
		return SNAPSHOT_CORRUPT;
	version = le32_get(head + 8);
	if (version > SNAPSHOT_VERSION)
		return SNAPSHOT_NEWER;
	if (version == 0)
		return SNAPSHOT_CORRUPT;
	if ((r = fn(io, arg)) != 0) {
		if (stopped(io))
			return -ECANCELED;
		return r == -ENOMEM ? r : SNAPSHOT_CORRUPT;	/* short, or refused by the reader */
	}
	if (io_read(io, tail, sizeof(tail)) != 0 || io_read(io, &extra, 1) != -ENODATA ||
	    le64_get(tail) != XXH3_64bits_digest(io->hash))
		return SNAPSHOT_CORRUPT;
	*wal_seq = le64_get(head + 16);
	return 0;
}

int
snapshot_read(int dirfd, uint64_t *wal_seq, snapshot_body_fn *fn, void *arg,
    const atomic_int *stop)
{
	struct snapshot_io	*io;
	struct stat		 st;
	int			 fd, r;

	if ((fd = openat(dirfd, NAME, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? SNAPSHOT_NONE : -errno;
	if (fstat(fd, &st) == -1) {
		r = -errno;
		close(fd);
		return r;
	}
	if ((io = io_new(fd, stop)) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	io->unhashed = st.st_size > TRAILER ? st.st_size - TRAILER : 0;
	r = read_body(io, wal_seq, fn, arg);
	io_free(io);
	close(fd);
	return r;
}
