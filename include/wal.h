/*
 * wal: the write-ahead log, segments of checksummed records in the data
 * directory. Plain POSIX I/O relative to a directory fd, and XXH3; no event
 * loop, no JSON, no logging: outcomes are returned and reports filled for the
 * caller (store, main) to log.
 *
 * Format (all integers little-endian):
 *   file    "wal-<16 lowercase hex digits>.log", the seq of its first record
 *           (or of the record it will hold first, while it is empty)
 *   header  16 bytes: "STORYWAL", uint32 version (3; 1 and 2 are read too: the
 *           store's records changed), uint32 reserved (0)
 *   record  24-byte header { uint32 payload length (<= WAL_MAX_PAYLOAD);
 *           uint8 type; uint8[3] zero; uint64 seq; uint64 checksum }, then the
 *           payload. checksum = XXH3_64bits of the header's first 16 bytes
 *           followed by the payload.
 * Seqs start at 1 and are consecutive within a segment and across segments.
 *
 * Durability. wal_append() only buffers. wal_flush() write()s the buffer (and
 * under WAL_SYNC_ALWAYS fdatasync()s it); a record is acknowledged only after
 * that. Group commit: handlers append and hold their replies, the loop calls
 * wal_flush() once per turn and then sends them (Redis beforeSleep). Under
 * WAL_SYNC_EVERYSEC a one-second timer calls wal_sync_start(), which
 * fdatasyncs in a background thread. Under EVERYSEC and NO that thread also
 * starts the disk's writes of each 2 MiB of the segment once it is written
 * (write-behind, wal.c), which promises nothing more. A new segment's
 * header is fsynced, and its directory entry too, before any record goes in;
 * the previous segment is fsynced before a new one is created, so only the
 * last segment can end in a torn write.
 *
 * Recovery. wal_replay() reads every segment in seq order. Damage at the end
 * of the last segment with no valid record after it (an incomplete header or
 * payload, or a checksum mismatch: a write the crash cut short, never
 * acknowledged) is a torn tail: the file is truncated to its last good record
 * and the loss reported. Anything else is corruption: a bad record followed by
 * a valid one, damage in an earlier segment, a gap in the seqs, a bad file
 * header. Then wal_replay() returns WAL_CORRUPT before calling fn at all, or,
 * with allow_truncate, cuts the log at the damage (deleting later segments),
 * reports what it dropped, and replays what is left.
 *
 * Errors: 0, -errno for a system failure, or the positive outcomes below. A
 * failed write or fsync leaves the segment in an unknown state (Linux may
 * drop dirty pages after a failed fsync), so the error is sticky: every later
 * wal_append(), wal_flush(), wal_sync() and wal_rotate() returns it. The
 * caller must stop acknowledging writes; a restart replays the log, dropping
 * the unacknowledged tail.
 *
 * Not thread-safe: one loop owns the struct wal (its background fdatasync
 * thread touches only an fd of its own and the hand-over fields). Only one
 * process may use a directory at a time (the caller locks it).
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define WAL_MAX_PAYLOAD	(1u << 30)	/* a longer length field is damage */

/* Positive outcomes the caller must handle; failures are -errno. */
enum {
	WAL_CORRUPT = 1,	/* damage before the tail; rep says where */
	WAL_NEWER_VERSION,	/* a segment from a newer storyd: refuse to start */
	WAL_SYNC_BUSY,		/* wal_sync_start: the previous one is still running */
};

enum wal_sync {
	WAL_SYNC_ALWAYS,	/* wal_flush() fdatasyncs: nothing acknowledged is lost */
	WAL_SYNC_EVERYSEC,	/* the caller's timer calls wal_sync_start() every second */
	WAL_SYNC_NO,		/* the OS decides */
};

struct wal;

/*
 * A record as replayed. data stays valid until wal_replay() returns (the
 * segments are mapped for the whole replay), so fn may gather records and
 * apply several at once.
 */
struct wal_record {
	uint8_t		 type;
	uint64_t	 seq;
	const void	*data;
	size_t		 len;
	int		 last;		/* no record follows: apply what was gathered */
};

/*
 * Return 0 to go on; anything else stops the replay, which returns it (use
 * -errno), with rep->corrupt_file and corrupt_offset locating the record.
 */
typedef int	wal_replay_fn(const struct wal_record *r, void *arg);

/* What wal_replay() found; file names are relative to the directory. */
struct wal_report {
	unsigned	 segments;		/* segment files read */
	uint64_t	 records;		/* records passed to fn */
	uint64_t	 skipped;		/* valid records below from_seq */
	uint64_t	 first_seq, last_seq;	/* of the records passed to fn; 0 if none */
	uint64_t	 next_seq;		/* give this to wal_open() */
	uint64_t	 bytes;			/* in the segments kept */

	int		 torn;			/* a torn tail was dropped */
	char		 torn_file[32];
	uint64_t	 torn_offset, torn_bytes;

	int		 corrupt;		/* damage found before the tail */
	char		 corrupt_file[32];	/* also on WAL_NEWER_VERSION and fn's stop */
	uint64_t	 corrupt_offset;
	const char	*corrupt_what;		/* static: "checksum mismatch", "seq gap", ... */
	uint64_t	 corrupt_bytes;		/* dropped with allow_truncate, later segments included */
	unsigned	 corrupt_segments;	/* later segments deleted with allow_truncate */
};

/*
 * Replay the log in dirfd: call fn, in seq order, for each valid record with
 * seq >= from_seq (a snapshot covers the ones before; pass 1 without one). A
 * log that starts after from_seq has lost records: WAL_CORRUPT. Drops a torn
 * tail (ftruncate, fsync) and reports it. On damage before the tail returns
 * WAL_CORRUPT without calling fn, unless allow_truncate, which truncates the
 * log there, reports it and replays what is left. WAL_NEWER_VERSION is
 * returned, and nothing touched, whatever allow_truncate says.
 * Returns 0, WAL_CORRUPT, WAL_NEWER_VERSION, fn's non-zero return, or -errno
 * (then fn was not called, and rep is unspecified). Files other than segments
 * are ignored, so the tests and a fuzzer can point this at any directory.
 */
int	wal_replay(int dirfd, uint64_t from_seq, int allow_truncate,
	    wal_replay_fn *fn, void *arg, struct wal_report *rep);

/*
 * Replay, reading only, the records from_seq .. until_seq - 1 of a log that
 * the daemon goes on appending to from segment until_seq on, which is not
 * opened (a snapshot rebuilt beside the daemon: store.h). Those records were
 * synced whole before that segment was started, so any damage, a torn tail
 * included, and any record missing are WAL_CORRUPT; nothing is repaired.
 * Returns as wal_replay() does.
 */
int	wal_read(int dirfd, uint64_t from_seq, uint64_t until_seq,
	    wal_replay_fn *fn, void *arg, struct wal_report *rep);

/*
 * Open the log for appending, after wal_replay(): next_seq is rep.next_seq.
 * Appends go to a new segment "wal-<next_seq>.log"; an empty one of that name
 * left by a crash is replaced. The last existing segment is fsynced first
 * (replay may have read it from the page cache). dirfd, opened O_RDONLY |
 * O_DIRECTORY, is borrowed (wal keeps a dup). -EEXIST if a segment at or after
 * next_seq already holds records.
 */
int	wal_open(struct wal **out, int dirfd, enum wal_sync sync, uint64_t next_seq);

/*
 * Buffer a record in memory (no system call) and set *seq, if not NULL, to its
 * seq. 0, -EMSGSIZE (len > WAL_MAX_PAYLOAD), -ENOMEM, or the sticky error.
 */
int	wal_append(struct wal *, uint8_t type, const void *data, size_t len, uint64_t *seq);

/*
 * Room in the buffer for a record of len payload bytes: until the next
 * append, one of at most len cannot fail. 0, -EMSGSIZE, -ENOMEM, or the
 * sticky error.
 */
int	wal_reserve(struct wal *, size_t len);

/* The same, the payload given in pieces, copied once, straight into the buffer. */
struct iovec;
int	wal_appendv(struct wal *, uint8_t type, const struct iovec *iov, int iovcnt,
	    uint64_t *seq);

/* write() everything buffered, and under WAL_SYNC_ALWAYS fdatasync: 0 or -errno (sticky). */
int	wal_flush(struct wal *);

/*
 * Flush, then fdatasync if anything was written since the last one: 0 or
 * -errno (sticky). Waits for a background fdatasync still running first.
 */
int	wal_sync(struct wal *);

/*
 * The everysec fdatasync off the loop (Redis's background fsync): flush, then
 * hand the fdatasync of what is written to a thread that owns nothing but a
 * dup of the segment's fd. 0 (started, or nothing written since the last
 * one), WAL_SYNC_BUSY (the previous one still runs: call again later), or
 * -errno (sticky). wal_sync_done() collects the outcome: 0 none finished, 1
 * one finished in *secs, or its -errno, sticky as a failed wal_sync() is.
 * The writes it covers were acknowledged before it ends, as under
 * WAL_SYNC_EVERYSEC on the loop; a slow disk widens the window at risk from
 * one second to one second plus the fdatasync's time, where on the loop it
 * held every reply for that time instead.
 */
int	wal_sync_start(struct wal *);
int	wal_sync_done(struct wal *, double *secs);

/*
 * Whether wal_rotate() would now flush little on the loop: 1 when no
 * background fdatasync is under way and at most max bytes were written since
 * the last one began; else 0 (call again later), having started one if none
 * was under way. A finished one collected here leaves its time in *secs
 * (else -1). -errno is sticky. The rotation's flush of the old segment must
 * end before the new segment exists (a crash must not find records after a
 * gap); this lets the log's thread do nearly all of it
 * (docs/performance-history.md, "The loop waits behind a rebuild": 16 ms of
 * a rotation's 16.3 on the loop were that flush).
 */
int	wal_rotate_ready(struct wal *, uint64_t max, double *secs);

/*
 * Flush and fsync the segment and start a new one at the next seq, which
 * *first_seq receives (a snapshot taken now covers every seq before it). A
 * no-op when the segment holds no records. 0 or -errno; if only the new
 * segment could not be created, the old one stays in use and nothing is sticky.
 */
int	wal_rotate(struct wal *, uint64_t *first_seq);

/*
 * Delete, oldest first, the segments whose records all have seqs < seq (a
 * snapshot covers them), then fsync the directory if any file went. Never
 * the segment in use.
 * A segment already gone (a snapshot's thread removes them first) counts as
 * deleted. 0 or -errno.
 */
int	wal_remove_before(struct wal *, uint64_t seq);

/*
 * wal_remove_before() for a thread that does not own the struct wal: the
 * segments found in dirfd. The owner's wal_remove_before() then finds them
 * gone.
 */
int	wal_unlink_before(int dirfd, uint64_t seq);

/* Change the policy (SIGHUP); moving to WAL_SYNC_ALWAYS, the next flush syncs what is written. */
void	wal_set_sync(struct wal *, enum wal_sync sync);

size_t		wal_pending(const struct wal *);	/* bytes buffered, not yet written */
uint64_t	wal_bytes(const struct wal *);		/* bytes written to the live segments */
uint64_t	wal_next_seq(const struct wal *);	/* the seq the next append gets */

/* Flush and fsync what is pending, then close; NULL is a no-op. Call wal_sync() first to see errors. */
void	wal_close(struct wal *);
