/*
 * snapshot: the file that holds storyd's whole state as of one point of the
 * write-ahead log, so recovery is the snapshot plus the log records after it.
 *
 * Layout: "STORYSNP", uint32 LE format version, uint32 LE 0; uint64 LE
 * wal_seq, the first log record the snapshot does not cover; the body, as
 * the caller writes it; uint64 LE XXH3-64 of everything before it. A
 * snapshot is written to "snapshot.tmp", fsynced, renamed to "snapshot" and
 * the directory fsynced (Redis), so "snapshot" is always whole: the old one
 * or the new one.
 *
 * Outcomes: 0, -errno for system failures, or a positive SNAPSHOT_* value.
 */
#pragma once
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SNAPSHOT_VERSION	1

enum {
	SNAPSHOT_NONE = 1,	/* no snapshot file: start empty */
	SNAPSHOT_CORRUPT,	/* bad magic, checksum, length, or a body the reader refused */
	SNAPSHOT_NEWER,		/* made by a newer storyd */
};

struct snapshot_io;

/* Writes or reads the body; 0 or a negative error, which aborts the whole snapshot. */
typedef int	snapshot_body_fn(struct snapshot_io *io, void *arg);

/* Buffered body I/O; the argument order fits cluster_write_fn and cluster_read_fn. */
int	snapshot_put(const void *buf, size_t len, void *io);
int	snapshot_get(void *buf, size_t len, void *io);	/* -ENODATA past the end */

/*
 * Write dir/snapshot atomically; *bytes is its size. 0 or -errno (the old one
 * stays). A thread that sets *stop (NULL: none) makes a write or read give
 * up at its next 64 KiB buffer with -ECANCELED.
 */
int	snapshot_write(int dirfd, uint64_t wal_seq, snapshot_body_fn *fn, void *arg,
	    uint64_t *bytes, const atomic_int *stop);

/*
 * Read dir/snapshot: *wal_seq, then fn reads the body. When this returns
 * anything but 0, whatever fn built must be thrown away: the checksum is
 * verified only after fn is done.
 */
int	snapshot_read(int dirfd, uint64_t *wal_seq, snapshot_body_fn *fn, void *arg,
	    const atomic_int *stop);
