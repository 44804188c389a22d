/*
 * test-wal: records come back in order, and damage is told apart, in SQLite's
 * spirit: cut the log at every byte of its last record, flip every byte of a
 * record, and check what replay keeps, drops and reports. The background
 * fdatasync of wal_sync_start() is tested through an interposed fdatasync()
 * that can hold it "still running" and make it fail, and the write-behind
 * of wal_flush() through an interposed sync_file_range() that records it.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "wal.h"

#define MAXREC	64

struct dir {
	char	path[256];
	int	fd;
};

struct seen {
	size_t		n;
	uint64_t	seq[MAXREC];
	int		stop_at;	/* fn returns -EINTR at this seq; 0: never */
	unsigned	nlast;		/* records marked last */
	uint64_t	last_seq;	/* the one marked last */
};

/*
 * fdatasync(), interposed: this executable's definition is the one wal.c,
 * linked in statically, calls. It counts the calls, fsync()s for real, and
 * holds the background thread's call at a gate while hold is set, so "still
 * running" is a state the test sets rather than a race it hopes to win; fail
 * makes the next background call fail with that errno.
 */
static struct {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	pthread_t	 main;		/* the tests' thread; any other is wal's */
	unsigned	 fg_calls;	/* on the tests' thread */
	unsigned	 bg_calls;	/* entered on another thread */
	unsigned	 bg_done;	/* returned there */
	ino_t		 bg_ino;	/* the file the last background call synced */
	int		 hold;
	int		 fail;
} fds = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

struct fds_counts {
	unsigned	fg_calls, bg_calls, bg_done;
	ino_t		bg_ino;
};

int
fdatasync(int fd)
{
	struct stat	st;
	int		bg, err = 0;

	pthread_mutex_lock(&fds.mu);
	bg = !pthread_equal(pthread_self(), fds.main);
	if (!bg)
		fds.fg_calls++;
	else {
		fds.bg_calls++;
		fds.bg_ino = fstat(fd, &st) == 0 ? st.st_ino : 0;
		pthread_cond_broadcast(&fds.cv);
		while (fds.hold)
			pthread_cond_wait(&fds.cv, &fds.mu);
		err = fds.fail;
		fds.fail = 0;
	}
	pthread_mutex_unlock(&fds.mu);
	if (err == 0 && fsync(fd) == -1)
		err = errno;
	if (bg) {
		pthread_mutex_lock(&fds.mu);
		fds.bg_done++;
		pthread_cond_broadcast(&fds.cv);
		pthread_mutex_unlock(&fds.mu);
	}
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

/*
 * sync_file_range(), interposed the same way: it records each call (on
 * which thread, which file, what range, which flags) and starts the writes
 * for real, or fails with refuse's errno when that is set.
 */
#define SFR_MAX	256

static struct {
	pthread_mutex_t	 mu;
	unsigned	 n;
	unsigned	 on_main;	/* calls on the tests' thread */
	unsigned	 odd_flags;	/* calls asking for anything but SYNC_FILE_RANGE_WRITE */
	ino_t		 ino[SFR_MAX];
	uint64_t	 from[SFR_MAX], to[SFR_MAX];
	int		 refuse;
} sfr = { .mu = PTHREAD_MUTEX_INITIALIZER };

int
sync_file_range(int fd, off64_t off, off64_t len, unsigned int flags)
{
	struct stat	st;
	int		err;

	pthread_mutex_lock(&sfr.mu);
	if (sfr.n < SFR_MAX) {
		sfr.ino[sfr.n] = fstat(fd, &st) == 0 ? st.st_ino : 0;
		sfr.from[sfr.n] = (uint64_t)off;
		sfr.to[sfr.n] = (uint64_t)(off + len);
	}
	sfr.n++;
	sfr.on_main += pthread_equal(pthread_self(), fds.main) != 0;
	sfr.odd_flags += flags != SYNC_FILE_RANGE_WRITE;
	err = sfr.refuse;
	pthread_mutex_unlock(&sfr.mu);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return (int)syscall(SYS_sync_file_range, fd, off, len, flags);
}

/* The calls so far, once none has come for 100 ms (the thread is done with them). */
static unsigned
sfr_settled(void)
{
	struct timespec	t = { 0, 100 * 1000 * 1000 };
	unsigned	n, before;

	do {
		pthread_mutex_lock(&sfr.mu);
		before = sfr.n;
		pthread_mutex_unlock(&sfr.mu);
		nanosleep(&t, NULL);
		pthread_mutex_lock(&sfr.mu);
		n = sfr.n;
		pthread_mutex_unlock(&sfr.mu);
	} while (n != before);
	return n;
}

static void
fds_set(int hold, int fail)
{
	pthread_mutex_lock(&fds.mu);
	fds.hold = hold;
	fds.fail = fail;
	pthread_cond_broadcast(&fds.cv);
	pthread_mutex_unlock(&fds.mu);
}

static struct fds_counts
fds_get(void)
{
	struct fds_counts	c;

	pthread_mutex_lock(&fds.mu);
	c = (struct fds_counts){ fds.fg_calls, fds.bg_calls, fds.bg_done, fds.bg_ino };
	pthread_mutex_unlock(&fds.mu);
	return c;
}

/* Wait, up to 10 s, until n background fdatasyncs have entered; 0 or ETIMEDOUT. */
static int
fds_wait_entered(unsigned n)
{
	struct timespec	dl;
	int		r = 0;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 10;
	pthread_mutex_lock(&fds.mu);
	while (fds.bg_calls < n && r == 0)
		r = pthread_cond_timedwait(&fds.cv, &fds.mu, &dl);
	r = fds.bg_calls >= n ? 0 : r;
	pthread_mutex_unlock(&fds.mu);
	return r;
}

/*
 * Open the gate from another thread 50 ms on, while the tests' thread is (if
 * wal waits as it must) blocked in wal_sync(), wal_rotate() or wal_close().
 * A correct wal passes whatever the delay; the delay gives one that does not
 * wait the time to return early and be caught.
 */
static void *
fds_release_later(void *arg)
{
	struct timespec	t = { 0, 50 * 1000 * 1000 };

	(void)arg;
	nanosleep(&t, NULL);
	fds_set(0, 0);
	return NULL;
}

/* wal_sync_done() until it answers other than 0, as the loop's timer would; 0 after 10 s. */
static int
sync_wait_done(struct wal *w, double *secs)
{
	struct timespec	t = { 0, 1000 * 1000 };
	int		r;

	for (int i = 0; i < 10000; i++) {
		if ((r = wal_sync_done(w, secs)) != 0)
			return r;
		nanosleep(&t, NULL);
	}
	return 0;
}

static int
setup(void **state)
{
	const char	*tmp = getenv("TMPDIR");
	struct dir	*d = calloc(1, sizeof *d);

	if (d == NULL)
		return -1;
	snprintf(d->path, sizeof d->path, "%s/test-wal.XXXXXX", tmp != NULL && *tmp ? tmp : "/tmp");
	if (mkdtemp(d->path) == NULL || (d->fd = open(d->path, O_RDONLY | O_DIRECTORY)) == -1) {
		free(d);
		return -1;
	}
	*state = d;
	pthread_mutex_lock(&fds.mu);
	fds.main = pthread_self();
	fds.fg_calls = fds.bg_calls = fds.bg_done = 0;
	fds.bg_ino = 0;
	fds.hold = fds.fail = 0;
	pthread_mutex_unlock(&fds.mu);
	pthread_mutex_lock(&sfr.mu);
	sfr.n = sfr.on_main = sfr.odd_flags = 0;
	sfr.refuse = 0;
	pthread_mutex_unlock(&sfr.mu);
	return 0;
}

static int
teardown(void **state)
{
	struct dir	*d = *state;
	struct dirent	*de;
	DIR		*dp;

	fds_set(0, 0);		/* a failed test may have left a sync at the gate */
	if ((dp = opendir(d->path)) != NULL) {
		while ((de = readdir(dp)) != NULL) {
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
				unlinkat(d->fd, de->d_name, 0);
		}
		closedir(dp);
	}
	close(d->fd);
	rmdir(d->path);
	free(d);
	return 0;
}

/* Record seq's payload: 5 to 17 bytes that depend on seq. */
static size_t
payload(uint64_t seq, unsigned char *buf)
{
	size_t	len = 5 + seq % 13;

	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(seq * 31 + i);
	return len;
}

static int
on_record(const struct wal_record *r, void *arg)
{
	struct seen	*s = arg;
	unsigned char	 want[32];
	size_t		 len = payload(r->seq, want);

	if (s->stop_at != 0 && r->seq == (uint64_t)s->stop_at)
		return -EINTR;
	assert_int_equal(s->nlast, 0);		/* nothing follows the record marked last */
	if (r->last) {
		s->nlast++;
		s->last_seq = r->seq;
	}
	assert_int_equal(r->type, (uint8_t)(r->seq % 3));
	assert_int_equal(r->len, len);
	assert_memory_equal(r->data, want, len);
	assert_true(s->n < MAXREC);
	s->seq[s->n++] = r->seq;
	return 0;
}

static void
append(struct wal *w, uint64_t n)
{
	unsigned char	buf[32];
	uint64_t	seq, want;

	for (uint64_t i = 0; i < n; i++) {
		want = wal_next_seq(w);
		assert_int_equal(wal_append(w, (uint8_t)(want % 3), buf, payload(want, buf), &seq), 0);
		assert_int_equal(seq, want);
	}
}

/* Write records 1..n, starting a new segment after every per_seg of them. */
static void
write_log(int dirfd, uint64_t n, uint64_t per_seg)
{
	struct wal	*w;
	uint64_t	 first;

	assert_int_equal(wal_open(&w, dirfd, WAL_SYNC_NO, 1), 0);
	for (uint64_t i = 1; i <= n; i++) {
		append(w, 1);
		if (i % per_seg == 0 && i < n) {
			assert_int_equal(wal_rotate(w, &first), 0);
			assert_int_equal(first, i + 1);
		}
	}
	assert_int_equal(wal_sync(w), 0);
	wal_close(w);
}

static int
replay(int dirfd, uint64_t from, int allow, struct seen *s, struct wal_report *rep)
{
	memset(s, 0, sizeof *s);
	return wal_replay(dirfd, from, allow, on_record, s, rep);
}

static const char *
name(uint64_t first)
{
	static char	buf[32];

	snprintf(buf, sizeof buf, "wal-%016" PRIx64 ".log", first);
	return buf;
}

static long
file_size(int dirfd, const char *file)
{
	struct stat	st;

	if (fstatat(dirfd, file, &st, 0) == -1)
		return -1;
	return (long)st.st_size;
}

static size_t
file_read(int dirfd, const char *file, unsigned char *buf, size_t cap)
{
	int	fd = openat(dirfd, file, O_RDONLY);
	ssize_t	n;

	assert_true(fd != -1);
	n = read(fd, buf, cap);
	assert_true(n >= 0 && (size_t)n < cap);
	close(fd);
	return (size_t)n;
}

static void
file_write(int dirfd, const char *file, const unsigned char *buf, size_t len)
{
	int	fd = openat(dirfd, file, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd != -1);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

/* Offsets of the records in a segment image, and its record count. */
static size_t
record_offsets(const unsigned char *buf, size_t len, size_t *off)
{
	size_t	n = 0;

	for (size_t o = 16; o < len; o += 24 + (buf[o] | buf[o + 1] << 8))
		off[n++] = o;
	return n;
}

static void
assert_seqs(const struct seen *s, uint64_t first, uint64_t last)
{
	assert_int_equal(s->n, last + 1 - first);
	for (size_t i = 0; i < s->n; i++)
		assert_int_equal(s->seq[i], first + i);
}

/*
 * The closed log in d holds records 1..last, whole, and a log reopened on it
 * carries on: one more record replays as last + 1.
 */
static void
assert_log_carries_on(struct dir *d, uint64_t last)
{
	struct wal		*w;
	struct seen		 s;
	struct wal_report	 rep;

	assert_int_equal(replay(d->fd, 1, 0, &s, &rep), 0);
	assert_seqs(&s, 1, last);
	assert_int_equal(rep.torn + rep.corrupt, 0);
	assert_int_equal(wal_open(&w, d->fd, WAL_SYNC_EVERYSEC, rep.next_seq), 0);
	append(w, 1);
	wal_close(w);
	assert_int_equal(replay(d->fd, 1, 0, &s, &rep), 0);
	assert_seqs(&s, 1, last + 1);
}

static void
test_records_replay_in_order_across_segments(void **state)
{
	struct dir		*d = *state;
	struct seen		 s;
	struct wal_report	 rep;

	write_log(d->fd, 8, 3);
	assert_int_equal(replay(d->fd, 1, 0, &s, &rep), 0);
	assert_seqs(&s, 1, 8);
	assert_int_equal(rep.segments, 3);
	assert_int_equal(rep.records, 8);
	assert_int_equal(rep.first_seq, 1);
	assert_int_equal(rep.last_seq, 8);
	assert_int_equal(rep.next_seq, 9);
	assert_int_equal(rep.torn, 0);
	assert_int_equal(rep.corrupt, 0);
	assert_int_equal(rep.bytes, file_size(d->fd, name(1)) + file_size(d->fd, name(4)) +
	    file_size(d->fd, name(7)));
}

/*
 * The last record passed is marked last, once, so that a caller gathering
 * records applies them while their data is still mapped: also when the log
 * ends in an empty segment (a rotation's or a restart's) and when a snapshot
 * covers the first records.
 */
static void
test_the_last_record_replayed_is_marked_last(void **state)
{
	struct dir		*d = *state;
	struct wal		*w;
	struct seen		 s;
	struct wal_report	 rep;

	write_log(d->fd, 8, 3);
	assert_int_equal(replay(d->fd, 1, 0, &s, &rep), 0);
	assert_int_equal(s.nlast, 1);
	assert_int_equal(s.last_seq, 8);

	assert_int_equal(wal_open(&w, d->fd, WAL_SYNC_NO, rep.next_seq), 0);	/* empty wal-9 */
	wal_close(w);
	assert_int_equal(file_size(d->fd, name(9)), 16);
	assert_int_equal(replay(d->fd, 1, 0, &s, &rep), 0);
	assert_int_equal(rep.segments, 4);
	assert_int_equal(s.nlast, 1);
	assert_int_equal(s.last_seq, 8);
	assert_int_equal(replay(d->fd, 5, 0, &s, &rep), 0);
	assert_seqs(&s, 5, 8);
	assert_int_equal(s.nlast, 1);
	assert_int_equal(s.last_seq, 8);
	assert_int_equal(replay(d->fd, 9, 0, &s, &rep), 0);	/* the snapshot holds them all */
	assert_int_equal(s.n, 0);
	assert_int_equal(s.nlast, 0);
}

static void
test_a_log_cut_at_every_byte_of_its_last_record_recovers_all_before_it(void **state)
{
	struct dir		*d = *state;
	unsigned char		 img[4096], copy[4096];
	size_t			 len, off[MAXREC], last;
	struct seen		 s;
	struct wal_report	 rep;

	write_log(d->fd, 5, 100);
	len = file_read(d->fd, name(1), img, sizeof img);
	assert_int_equal(record_offsets(img, len, off), 5);
	last = off[4];

	for (size_t cut = last; cut < len; cut++) {
		/* the file ends mid-record */
		file_write(d->fd, name(1), img, cut);
		assert_int_equal(replay(d->fd, 1, 0, &s, &rep), 0);
		assert_seqs(&s, 1, 4);
		assert_int_equal(rep.next_seq, 5);
		assert_int_equal(rep.torn, cut > last);
		if (cut > last) {
			assert_string_equal(rep.torn_file, name(1));
			assert_int_equal(rep.torn_offset, last);
			assert_int_equal(rep.torn_bytes, cut - last);
		}
		assert_int_equal(file_size(d->fd, name(1)), last);
		assert_int_equal(replay(d->fd, 1, 0, &s, &rep), 0);
		assert_seqs(&s, 1, 4);
		assert_int_equal(rep.torn, 0);

		/* the file has its full length but the rest never reached the disk */
		memcpy(copy, img, len);
		memset(copy + cut, 0, len - cut);
		file_write(d->fd, name(1), copy, len);
		assert_int_equal(replay(d->fd, 1, 0, &s, &rep), 0);
		assert_seqs(&s, 1, 4);
		assert_int_equal(rep.torn, 1);
		assert_int_equal(rep.torn_offset, last);
		assert_int_equal(rep.torn_bytes, len - last);
		assert_int_equal(file_size(d->fd, name(1)), last);
	}
}

static void
test_a_flipped_byte_is_caught(void **state)
{
	struct dir		*d = *state;
	unsigned char		 img[4096], copy[4096];
	size_t			 len, off[MAXREC];
	struct seen		 s;
	struct wal_report	 rep;

	write_log(d->fd, 5, 100);
	len = file_read(d->fd, name(1), img, sizeof img);
	assert_int_equal(record_offsets(img, len, off), 5);

	for (size_t i = off[2]; i < off[3]; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			memcpy(copy, img, len);
			copy[i] ^= (unsigned char)(1u << bit);
			file_write(d->fd, name(1), copy, len);
			assert_int_equal(replay(d->fd, 1, 0, &s, &rep), WAL_CORRUPT);
			assert_int_equal(s.n, 0);	/* fn is not called on failure */
			assert_int_equal(rep.corrupt, 1);
			assert_string_equal(rep.corrupt_file, name(1));
			assert_int_equal(rep.corrupt_offset, off[2]);
			assert_non_null(rep.corrupt_what);
			assert_int_equal(file_size(d->fd, name(1)), len);
		}
	}

	/* allow_truncate keeps the records before the damage */
	assert_int_equal(replay(d->fd, 1, 1, &s, &rep), 0);
	assert_seqs(&s, 1, 2);
	assert_int_equal(rep.corrupt, 1);
	assert_int_equal(rep.corrupt_offset, off[2]);
	assert_int_equal(rep.corrupt_bytes, len - off[2]);
	assert_int_equal(rep.next_seq, 3);
	assert_int_equal(file_size(d->fd, name(1)), off[2]);
	assert_int_equal(replay(d->fd, 1, 0, &s, &rep), 0);
	assert_seqs(&s, 1, 2);
	assert_int_equal(rep.corrupt, 0);

	/* in the last record nothing follows: a torn tail */
	for (size_t i = off[4]; i < len; i++) {
		memcpy(copy, img, len);
		copy[i] ^= 0x10;
		file_write(d->fd, name(1), copy, len);
		assert_int_equal(replay(d->fd, 1, 0, &s, &rep), 0);
		assert_seqs(&s, 1, 4);
		assert_int_equal(rep.torn, 1);
		assert_int_equal(rep.torn_bytes, len - off[4]);
	}

	/* in the file header */
	memcpy(copy, img, len);
	copy[3] ^= 0x20;
	file_write(d->fd, name(1), copy, len);
	assert_int_equal(replay(d->fd, 1, 0, &s, &rep), WAL_CORRUPT);
	assert_int_equal(rep.corrupt_offset, 0);
}

static void
test_damage_in_an_earlier_segment_is_corruption(void **state)
{
	struct dir		*d = *state;
	unsigned char		 img[4096];
	size_t			 len, off[MAXREC];
	struct seen		 s;
	struct wal_report	 rep;

	write_log(d->fd, 9, 3);
	len = file_read(d->fd, name(4), img, sizeof img);
	assert_int_equal(record_offsets(img, len, off), 3);
	img[len - 1] ^= 1;	/* the last record of the middle segment */
	file_write(d->fd, name(4), img, len);

	assert_int_equal(replay(d->fd, 1, 0, &s, &rep), WAL_CORRUPT);
	assert_int_equal(s.n, 0);
	assert_string_equal(rep.corrupt_file, name(4));
	assert_int_equal(rep.corrupt_offset, off[2]);
	assert_int_equal(rep.corrupt_segments, 1);

	assert_int_equal(replay(d->fd, 1, 1, &s, &rep), 0);
	assert_seqs(&s, 1, 5);
	assert_int_equal(rep.next_seq, 6);
	assert_int_equal(file_size(d->fd, name(4)), off[2]);
	assert_int_equal(file_size(d->fd, name(7)), -1);
	assert_int_equal(replay(d->fd, 1, 0, &s, &rep), 0);
	assert_seqs(&s, 1, 5);
}

static void
test_a_missing_segment_is_a_gap(void **state)
{
	struct dir		*d = *state;
	struct seen		 s;
	struct wal_report	 rep;

	write_log(d->fd, 9, 3);
	assert_int_equal(unlinkat(d->fd, name(4), 0), 0);
	assert_int_equal(replay(d->fd, 1, 0, &s, &rep), WAL_CORRUPT);
	assert_string_equal(rep.corrupt_file, name(7));
	assert_int_equal(rep.corrupt_offset, 0);
	assert_string_equal(rep.corrupt_what, "seq gap");

	/* unless a snapshot holds the missing records */
	assert_int_equal(replay(d->fd, 7, 0, &s, &rep), 0);
	assert_seqs(&s, 7, 9);
	assert_int_equal(rep.skipped, 3);
}

static void
test_from_seq_skips_records_a_snapshot_covers(void **state)
{
	struct dir		*d = *state;
	struct seen		 s;
	struct wal_report	 rep;

	write_log(d->fd, 6, 3);
	assert_int_equal(replay(d->fd, 4, 0, &s, &rep), 0);
	assert_seqs(&s, 4, 6);
	assert_int_equal(rep.skipped, 3);
	assert_int_equal(rep.first_seq, 4);
	assert_int_equal(rep.next_seq, 7);

	assert_int_equal(replay(d->fd, 5, 0, &s, &rep), 0);
	assert_seqs(&s, 5, 6);

	/* a snapshot newer than the log: new records must come after it */
	assert_int_equal(replay(d->fd, 10, 0, &s, &rep), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(rep.skipped, 6);
	assert_int_equal(rep.next_seq, 10);
}

static void
test_a_log_that_starts_after_from_seq_has_lost_records(void **state)
{
	struct dir		*d = *state;
	struct seen		 s;
	struct wal_report	 rep;

	write_log(d->fd, 6, 3);
	assert_int_equal(unlinkat(d->fd, name(1), 0), 0);
	assert_int_equal(replay(d->fd, 4, 0, &s, &rep), 0);
	assert_seqs(&s, 4, 6);
	assert_int_equal(replay(d->fd, 2, 0, &s, &rep), WAL_CORRUPT);
	assert_int_equal(s.n, 0);
	assert_string_equal(rep.corrupt_file, name(4));
}

static void
test_remove_before_deletes_covered_segments_only(void **state)
{
	struct dir		*d = *state;
	struct wal		*w;
	uint64_t		 first, bytes;
	long			 b1;
	struct seen		 s;
	struct wal_report	 rep;

	assert_int_equal(wal_open(&w, d->fd, WAL_SYNC_EVERYSEC, 1), 0);
	append(w, 3);
	assert_int_equal(wal_rotate(w, &first), 0);
	append(w, 3);
	assert_int_equal(wal_rotate(w, &first), 0);
	assert_int_equal(first, 7);
	append(w, 2);
	assert_int_equal(wal_flush(w), 0);
	bytes = wal_bytes(w);
	assert_int_equal(bytes, file_size(d->fd, name(1)) + file_size(d->fd, name(4)) +
	    file_size(d->fd, name(7)));

	b1 = file_size(d->fd, name(1));
	assert_int_equal(wal_remove_before(w, 6), 0);	/* 6 is in the second segment */
	assert_int_equal(file_size(d->fd, name(1)), -1);
	assert_true(file_size(d->fd, name(4)) > 0);
	assert_int_equal(wal_bytes(w), bytes - b1);
	assert_int_equal(wal_remove_before(w, 7), 0);
	assert_int_equal(file_size(d->fd, name(4)), -1);
	assert_int_equal(wal_remove_before(w, 100), 0);	/* never the segment in use */
	assert_true(file_size(d->fd, name(7)) > 0);
	assert_int_equal(wal_bytes(w), file_size(d->fd, name(7)));
	wal_close(w);

	assert_int_equal(replay(d->fd, 7, 0, &s, &rep), 0);
	assert_seqs(&s, 7, 8);
	assert_int_equal(rep.next_seq, 9);
}

/* Cut file to its first len bytes. */
static void
file_cut(int dirfd, const char *file, long len)
{
	unsigned char	img[4096];

	assert_true((long)file_read(dirfd, file, img, sizeof img) >= len);
	file_write(dirfd, file, img, (size_t)len);
}

/*
 * wal_read(), for a snapshot rebuilt while the daemon appends: the segment
 * at until_seq and later ones are the daemon's, never opened (here the one
 * being written ends mid-record, and stays so); before it, a torn tail or a
 * record missing is damage, and nothing is repaired.
 */
static void
test_a_read_until_a_segment_stops_before_it_and_repairs_nothing(void **state)
{
	struct dir		*d = *state;
	struct seen		 s;
	struct wal_report	 rep;
	long			 live, seven;

	write_log(d->fd, 11, 3);	/* segments 1, 4, 7, 10 */
	live = file_size(d->fd, name(10)) - 3;
	file_cut(d->fd, name(10), live);
	memset(&s, 0, sizeof s);
	assert_int_equal(wal_read(d->fd, 4, 10, on_record, &s, &rep), 0);
	assert_seqs(&s, 4, 9);
	assert_int_equal(s.nlast, 1);
	assert_int_equal(s.last_seq, 9);
	assert_int_equal(file_size(d->fd, name(10)), live);

	/* records missing at the end: until_seq past the last record */
	memset(&s, 0, sizeof s);
	assert_int_equal(wal_read(d->fd, 1, 7, on_record, &s, &rep), 0);
	assert_seqs(&s, 1, 6);
	memset(&s, 0, sizeof s);
	assert_int_equal(wal_read(d->fd, 1, 8, on_record, &s, &rep), WAL_CORRUPT);
	assert_int_equal(s.n, 0);

	/* a torn tail just before until_seq: the daemon synced it whole, so it is damage */
	seven = file_size(d->fd, name(7)) - 1;
	file_cut(d->fd, name(7), seven);
	memset(&s, 0, sizeof s);
	assert_int_equal(wal_read(d->fd, 1, 10, on_record, &s, &rep), WAL_CORRUPT);
	assert_int_equal(s.n, 0);
	assert_string_equal(rep.corrupt_file, name(7));
	assert_int_equal(file_size(d->fd, name(7)), seven);
	assert_int_equal(file_size(d->fd, name(10)), live);
}

static void
test_unlink_before_deletes_covered_segments_only(void **state)
{
	struct dir	*d = *state;

	write_log(d->fd, 8, 3);		/* segments 1, 4, 7 */
	assert_int_equal(wal_unlink_before(d->fd, 6), 0);
	assert_int_equal(file_size(d->fd, name(1)), -1);
	assert_true(file_size(d->fd, name(4)) > 0);
	assert_int_equal(wal_unlink_before(d->fd, 100), 0);	/* never the last */
	assert_int_equal(file_size(d->fd, name(4)), -1);
	assert_true(file_size(d->fd, name(7)) > 0);
}

static void
test_newer_version_is_refused(void **state)
{
	struct dir		*d = *state;
	unsigned char		 img[4096], newer[64] = "STORYWAL\4\0\0\0\0\0\0\0";
	size_t			 len, off[MAXREC];
	struct seen		 s;
	struct wal_report	 rep;

	write_log(d->fd, 3, 100);
	len = file_read(d->fd, name(1), img, sizeof img);
	assert_int_equal(record_offsets(img, len, off), 3);
	img[off[1] + 30] ^= 1;		/* damage that allow_truncate would cut */
	file_write(d->fd, name(1), img, len);
	file_write(d->fd, name(4), newer, sizeof newer);

	assert_int_equal(replay(d->fd, 1, 1, &s, &rep), WAL_NEWER_VERSION);
	assert_int_equal(s.n, 0);
	assert_string_equal(rep.corrupt_file, name(4));
	assert_int_equal(file_size(d->fd, name(1)), len);
	assert_int_equal(file_size(d->fd, name(4)), sizeof newer);
}

/*
 * Segments of versions 1 and 2, from before the store's records kept their
 * fingerprints and their decisions, are read as they are; a version 0 is a
 * bad header.
 */
static void
test_an_older_version_is_read(void **state)
{
	struct dir		*d = *state;
	unsigned char		 img[4096];
	size_t			 len;
	struct seen		 s;
	struct wal_report	 rep;

	write_log(d->fd, 6, 3);
	len = file_read(d->fd, name(1), img, sizeof img);
	assert_int_equal(img[8], 3);
	for (img[8] = 1; img[8] <= 2; img[8]++) {
		file_write(d->fd, name(1), img, len);
		assert_int_equal(replay(d->fd, 1, 0, &s, &rep), 0);
		assert_seqs(&s, 1, 6);
	}
	img[8] = 0;
	file_write(d->fd, name(1), img, len);
	assert_int_equal(replay(d->fd, 1, 0, &s, &rep), WAL_CORRUPT);
	assert_string_equal(rep.corrupt_what, "bad file header");
}

static void
test_append_without_flush_writes_nothing(void **state)
{
	struct dir		*d = *state;
	struct wal		*w;
	size_t			 pending;
	struct seen		 s;
	struct wal_report	 rep;

	assert_int_equal(wal_open(&w, d->fd, WAL_SYNC_ALWAYS, 1), 0);
	append(w, 3);
	pending = wal_pending(w);
	assert_int_equal(pending, 3 * 24 + (5 + 1) + (5 + 2) + (5 + 3));
	assert_int_equal(file_size(d->fd, name(1)), 16);
	assert_int_equal(wal_bytes(w), 16);
	assert_int_equal(wal_next_seq(w), 4);

	assert_int_equal(wal_flush(w), 0);
	assert_int_equal(wal_pending(w), 0);
	assert_int_equal(file_size(d->fd, name(1)), 16 + pending);
	assert_int_equal(wal_bytes(w), 16 + pending);

	append(w, 1);		/* wal_close writes what is pending */
	wal_close(w);
	assert_int_equal(replay(d->fd, 1, 0, &s, &rep), 0);
	assert_seqs(&s, 1, 4);
}

static void
test_sticky_error_after_failed_write(void **state)
{
	struct dir		*d = *state;
	struct wal		*w;
	struct rlimit		 old, lim;
	uint64_t		 first;
	long			 size;
	int			 r;
	struct seen		 s;
	struct wal_report	 rep;

	/* RLIMIT_FSIZE makes write() stop short, then fail with EFBIG */
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(wal_open(&w, d->fd, WAL_SYNC_EVERYSEC, 1), 0);
	append(w, 2);
	assert_int_equal(wal_flush(w), 0);
	size = file_size(d->fd, name(1));
	append(w, 2);
	lim = old;
	lim.rlim_cur = (rlim_t)size + 30;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	r = wal_flush(w);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(r, -EFBIG);

	/* writes would succeed again, but the segment holds part of a record */
	assert_int_equal(wal_flush(w), -EFBIG);
	assert_int_equal(wal_sync(w), -EFBIG);
	assert_int_equal(wal_append(w, 0, "x", 1, NULL), -EFBIG);
	assert_int_equal(wal_rotate(w, &first), -EFBIG);
	wal_close(w);
	assert_int_equal(file_size(d->fd, name(1)), size + 30);

	assert_int_equal(replay(d->fd, 1, 0, &s, &rep), 0);
	assert_seqs(&s, 1, 2);
	assert_int_equal(rep.torn, 1);
	assert_int_equal(rep.torn_bytes, 30);
}

static void
test_empty_directory_replays_nothing(void **state)
{
	struct dir		*d = *state;
	struct seen		 s;
	struct wal_report	 rep;

	assert_int_equal(replay(d->fd, 0, 0, &s, &rep), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(rep.segments, 0);
	assert_int_equal(rep.next_seq, 1);

	/* other files are not segments */
	file_write(d->fd, "snapshot", (const unsigned char *)"x", 1);
	file_write(d->fd, "wal-00000000000000zz.log", (const unsigned char *)"x", 1);
	file_write(d->fd, "wal-0000000000000001.log.tmp", (const unsigned char *)"x", 1);
	assert_int_equal(replay(d->fd, 5, 0, &s, &rep), 0);
	assert_int_equal(rep.segments, 0);
	assert_int_equal(rep.next_seq, 5);
}

static void
test_a_torn_segment_header_is_dropped(void **state)
{
	static const unsigned char	zeros[16];
	struct dir		*d = *state;
	struct wal		*w;
	uint64_t		 first;
	struct seen		 s;
	struct wal_report	 rep;

	assert_int_equal(wal_open(&w, d->fd, WAL_SYNC_NO, 1), 0);
	append(w, 2);
	assert_int_equal(wal_rotate(w, &first), 0);
	wal_close(w);
	assert_int_equal(file_size(d->fd, name(3)), 16);

	/* created, but the crash came before its header was on disk */
	file_write(d->fd, name(3), (const unsigned char *)"STORYW", 7);
	assert_int_equal(replay(d->fd, 1, 0, &s, &rep), 0);
	assert_seqs(&s, 1, 2);
	assert_int_equal(rep.torn, 1);
	assert_string_equal(rep.torn_file, name(3));
	assert_int_equal(rep.torn_offset, 0);
	assert_int_equal(rep.torn_bytes, 7);
	assert_int_equal(rep.next_seq, 3);
	assert_int_equal(file_size(d->fd, name(3)), -1);

	/* its length reached the disk, its bytes did not */
	file_write(d->fd, name(3), zeros, 16);
	assert_int_equal(replay(d->fd, 1, 0, &s, &rep), 0);
	assert_seqs(&s, 1, 2);
	assert_int_equal(rep.torn, 1);
	assert_int_equal(rep.torn_bytes, 16);
	assert_int_equal(file_size(d->fd, name(3)), -1);

	assert_int_equal(wal_open(&w, d->fd, WAL_SYNC_NO, rep.next_seq), 0);
	wal_close(w);
}

static void
test_open_reuses_an_empty_last_segment(void **state)
{
	struct dir		*d = *state;
	struct wal		*w;
	uint64_t		 first;
	struct seen		 s;
	struct wal_report	 rep;

	write_log(d->fd, 2, 100);
	assert_int_equal(wal_open(&w, d->fd, WAL_SYNC_ALWAYS, 3), 0);
	assert_int_equal(wal_rotate(w, &first), 0);	/* no records: no new segment */
	assert_int_equal(first, 3);
	wal_close(w);
	assert_int_equal(file_size(d->fd, name(3)), 16);

	assert_int_equal(replay(d->fd, 1, 0, &s, &rep), 0);
	assert_seqs(&s, 1, 2);
	assert_int_equal(rep.next_seq, 3);
	assert_int_equal(rep.torn + rep.corrupt, 0);
	assert_int_equal(wal_open(&w, d->fd, WAL_SYNC_ALWAYS, 2), -EEXIST);
	assert_int_equal(wal_open(&w, d->fd, WAL_SYNC_ALWAYS, 3), 0);
	append(w, 1);
	wal_close(w);
	assert_int_equal(replay(d->fd, 1, 0, &s, &rep), 0);
	assert_seqs(&s, 1, 3);
	assert_int_equal(wal_open(&w, d->fd, WAL_SYNC_ALWAYS, 3), -EEXIST);
}

static void
test_a_callback_error_stops_the_replay(void **state)
{
	struct dir		*d = *state;
	unsigned char		 buf[32];
	struct seen		 s;
	struct wal_report	 rep;

	write_log(d->fd, 5, 2);
	memset(&s, 0, sizeof s);
	s.stop_at = 4;
	assert_int_equal(wal_replay(d->fd, 1, 0, on_record, &s, &rep), -EINTR);
	assert_seqs(&s, 1, 3);
	assert_string_equal(rep.corrupt_file, name(3));
	assert_int_equal(rep.corrupt_offset, 16 + 24 + payload(3, buf));
}

static void
test_a_background_sync_covers_what_was_appended_before_it(void **state)
{
	struct dir		*d = *state;
	struct wal		*w;
	struct stat		 st;
	struct fds_counts	 c;
	double			 secs = -1;
	struct seen		 s;
	struct wal_report	 rep;

	assert_int_equal(wal_open(&w, d->fd, WAL_SYNC_EVERYSEC, 1), 0);
	append(w, 5);
	assert_int_equal(wal_sync_start(w), 0);
	assert_int_equal(wal_pending(w), 0);
	assert_int_equal(sync_wait_done(w, &secs), 1);
	assert_true(secs >= 0);
	assert_int_equal(wal_sync_done(w, &secs), 0);	/* collected once */

	/* the segment's fd was synced, on another thread, not on the loop's */
	c = fds_get();
	assert_int_equal(c.bg_calls, 1);
	assert_int_equal(c.bg_done, 1);
	assert_int_equal(c.fg_calls, 0);
	assert_int_equal(fstatat(d->fd, name(1), &st, 0), 0);
	assert_true(c.bg_ino == st.st_ino);

	/* the log as a crash now would leave it */
	assert_int_equal(replay(d->fd, 1, 0, &s, &rep), 0);
	assert_seqs(&s, 1, 5);
	wal_close(w);
	assert_log_carries_on(d, 5);
}

/* Bytes on disk of d's file, or -1. */
static long
file_blocks_bytes(int dirfd, const char *file)
{
	struct stat	st;

	if (fstatat(dirfd, file, &st, 0) == -1)
		return -1;
	return (long)st.st_blocks * 512;
}

/*
 * A segment in use has blocks reserved past its end, so that its writes
 * allocate none (a write that allocated waited on ext4 for a background
 * fdatasync's writeback); its size stays what was written, so a crash
 * replays the same records; rotating and closing give the blocks back.
 */
static void
test_a_segment_reserves_blocks_ahead_and_gives_them_back(void **state)
{
	struct dir		*d = *state;
	struct wal		*w;
	struct seen		 s;
	struct wal_report	 rep;
	uint64_t		 first;
	int			 fd;

	fd = openat(d->fd, "probe", O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd != -1);
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 1 << 20) != 0) {
		close(fd);
		unlinkat(d->fd, "probe", 0);
		skip();		/* this file system reserves nothing: writes allocate as before */
	}
	close(fd);
	assert_int_equal(unlinkat(d->fd, "probe", 0), 0);

	assert_int_equal(wal_open(&w, d->fd, WAL_SYNC_EVERYSEC, 1), 0);
	append(w, 5);
	assert_int_equal(wal_flush(w), 0);
	assert_true(file_size(d->fd, name(1)) < 4096);
	assert_true(file_blocks_bytes(d->fd, name(1)) >= 1 << 20);
	/* the log as a crash now would leave it: the reserved blocks read as nothing */
	assert_int_equal(replay(d->fd, 1, 0, &s, &rep), 0);
	assert_seqs(&s, 1, 5);
	assert_int_equal(rep.torn + rep.corrupt, 0);

	assert_int_equal(wal_rotate(w, &first), 0);
	assert_int_equal(first, 6);
	assert_true(file_blocks_bytes(d->fd, name(1)) < 64 * 1024);
	append(w, 2);
	assert_int_equal(wal_flush(w), 0);
	assert_true(file_blocks_bytes(d->fd, name(6)) >= 1 << 20);
	wal_close(w);
	assert_true(file_blocks_bytes(d->fd, name(6)) < 64 * 1024);
	assert_log_carries_on(d, 7);
}

/* Files open in this process. */
static int
open_fds(void)
{
	DIR		*dp = opendir("/proc/self/fd");
	struct dirent	*de;
	int		 n = 0;

	assert_non_null(dp);
	while ((de = readdir(dp)) != NULL)
		n += de->d_name[0] != '.';
	closedir(dp);
	return n - 1;		/* opendir's own */
}

static int
count_record(const struct wal_record *r, void *arg)
{
	(void)r;
	++*(uint64_t *)arg;
	return 0;
}

/* The log in d replays n records, whole. */
static void
assert_log_holds(struct dir *d, uint64_t n)
{
	struct wal_report	rep;
	uint64_t		seen = 0;

	assert_int_equal(wal_replay(d->fd, 1, 0, count_record, &seen, &rep), 0);
	assert_int_equal(seen, n);
	assert_int_equal(rep.torn + rep.corrupt, 0);
}

/* Append n records of len bytes, each flushed on its own, as the loop's turns are. */
static void
append_flushed(struct wal *w, unsigned n, size_t len)
{
	static unsigned char	buf[64 * 1024];

	assert_true(len <= sizeof buf);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(wal_append(w, 1, buf, len, NULL), 0);
		assert_int_equal(wal_flush(w), 0);
	}
}

static void
test_the_log_is_handed_to_the_disk_behind_its_writes(void **state)
{
	struct dir		*d = *state;
	struct wal		*w;
	struct stat		 st;
	struct fds_counts	 c;
	uint64_t		 covered = 0;
	unsigned		 calls;
	int			 fds_before = open_fds();

	assert_int_equal(wal_open(&w, d->fd, WAL_SYNC_EVERYSEC, 1), 0);
	append_flushed(w, 31, 64 * 1024);		/* just under 2 MiB: not yet */
	assert_int_equal(sfr_settled(), 0);
	append_flushed(w, 72, 64 * 1024);
	/* flushes while the thread was busy asked nothing: the next one asks for all of it */
	sfr_settled();
	append_flushed(w, 1, 64 * 1024);		/* 104 records, 6.5 MiB in all */
	calls = sfr_settled();
	assert_int_equal(fstatat(d->fd, name(1), &st, 0), 0);

	/*
	 * From the thread, only starting the writes, of this segment, in order
	 * and whole, each range ending on a 2 MiB boundary: never in the
	 * page the next append goes to, which the writes would lock.
	 */
	assert_true(calls >= 1 && calls <= 3);
	assert_int_equal(sfr.on_main, 0);
	assert_int_equal(sfr.odd_flags, 0);
	for (unsigned i = 0; i < calls; i++) {
		assert_int_equal(sfr.ino[i], st.st_ino);
		assert_int_equal(sfr.from[i], covered);
		assert_true(sfr.to[i] > covered);
		assert_int_equal(sfr.to[i] % (2 << 20), 0);
		covered = sfr.to[i];
	}
	/* all but the last, partly written 2 MiB */
	assert_int_equal(covered, 6 << 20);
	assert_true((uint64_t)st.st_size > covered);
	/* and no fdatasync: nothing waited for the disk */
	c = fds_get();
	assert_int_equal(c.fg_calls + c.bg_calls, 0);

	wal_close(w);
	assert_int_equal(open_fds(), fds_before);
	assert_log_holds(d, 104);
}

static void
test_no_write_behind_where_every_flush_syncs_or_the_file_system_cannot(void **state)
{
	struct dir	*d = *state;
	struct wal	*w;

	assert_int_equal(wal_open(&w, d->fd, WAL_SYNC_ALWAYS, 1), 0);
	append_flushed(w, 72, 64 * 1024);
	assert_int_equal(sfr_settled(), 0);
	wal_close(w);

	/* one refusal, and no more are asked for; the log goes on as before */
	pthread_mutex_lock(&sfr.mu);
	sfr.refuse = EINVAL;
	pthread_mutex_unlock(&sfr.mu);
	assert_int_equal(wal_open(&w, d->fd, WAL_SYNC_NO, 73), 0);
	append_flushed(w, 40, 64 * 1024);
	assert_int_equal(sfr_settled(), 1);
	append_flushed(w, 72, 64 * 1024);
	assert_int_equal(sfr_settled(), 1);
	assert_int_equal(wal_sync(w), 0);
	wal_close(w);
	assert_log_holds(d, 184);
}

static void
test_a_rotation_waits_for_a_sync_over_the_write_behind_and_stops_it_meanwhile(void **state)
{
	struct dir	*d = *state;
	struct wal	*w;
	struct stat	 st;
	uint64_t	 first;
	double		 secs;
	int		 r;

	assert_int_equal(wal_open(&w, d->fd, WAL_SYNC_EVERYSEC, 1), 0);
	append_flushed(w, 40, 64 * 1024);
	assert_int_equal(sfr_settled(), 1);

	/*
	 * Little enough unsynced for the loop to flush, but the disk may still
	 * be writing what the write-behind handed it: the thread syncs first.
	 */
	assert_int_equal(wal_rotate_ready(w, 4 << 20, &secs), 0);
	assert_int_equal(fds_wait_entered(1), 0);
	append_flushed(w, 40, 64 * 1024);		/* past 4 MiB: none while a rotation waits */
	assert_int_equal(sfr_settled(), 1);
	for (int i = 0; i < 10000 && (r = wal_rotate_ready(w, 4 << 20, &secs)) == 0; i++)
		nanosleep(&(struct timespec){ 0, 1000 * 1000 }, NULL);
	assert_int_equal(r, 1);
	assert_int_equal(wal_rotate(w, &first), 0);
	assert_int_equal(first, 81);

	/* and it goes on in the new segment */
	append_flushed(w, 40, 64 * 1024);
	assert_int_equal(sfr_settled(), 2);
	assert_int_equal(fstatat(d->fd, name(81), &st, 0), 0);
	assert_int_equal(sfr.ino[1], st.st_ino);
	assert_int_equal(sfr.from[1], 0);
	wal_close(w);
}

static void
test_a_start_with_nothing_written_does_nothing(void **state)
{
	struct dir		*d = *state;
	struct wal		*w;
	struct fds_counts	 c;
	double			 secs = -1;

	assert_int_equal(wal_open(&w, d->fd, WAL_SYNC_EVERYSEC, 1), 0);
	assert_int_equal(wal_sync_start(w), 0);
	assert_int_equal(wal_sync_done(w, &secs), 0);
	assert_true(secs == -1);
	assert_int_equal(wal_sync(w), 0);	/* would wait for a sync started anyway */
	c = fds_get();
	assert_int_equal(c.bg_calls + c.fg_calls, 0);

	/* wal_sync() covered it */
	append(w, 1);
	assert_int_equal(wal_sync(w), 0);
	assert_int_equal(wal_sync_start(w), 0);
	assert_int_equal(wal_sync(w), 0);
	c = fds_get();
	assert_int_equal(c.fg_calls, 1);
	assert_int_equal(c.bg_calls, 0);

	/* a background sync covered it */
	append(w, 1);
	assert_int_equal(wal_sync_start(w), 0);
	assert_int_equal(sync_wait_done(w, &secs), 1);
	assert_int_equal(wal_sync_start(w), 0);
	assert_int_equal(wal_sync(w), 0);
	c = fds_get();
	assert_int_equal(c.fg_calls, 1);
	assert_int_equal(c.bg_calls, 1);
	assert_int_equal(wal_sync_done(w, &secs), 0);
	wal_close(w);
	assert_int_equal(fds_get().fg_calls, 1);
}

static void
test_a_start_while_one_runs_is_busy_and_its_writes_are_synced_next(void **state)
{
	struct dir		*d = *state;
	struct wal		*w;
	double			 secs = -1;
	struct seen		 s;
	struct wal_report	 rep;

	fds_set(1, 0);
	assert_int_equal(wal_open(&w, d->fd, WAL_SYNC_EVERYSEC, 1), 0);
	append(w, 2);
	assert_int_equal(wal_sync_start(w), 0);
	assert_int_equal(fds_wait_entered(1), 0);
	assert_int_equal(wal_sync_done(w, &secs), 0);
	assert_true(secs == -1);	/* written only when one finished */

	append(w, 2);
	assert_int_equal(wal_sync_start(w), WAL_SYNC_BUSY);
	assert_int_equal(wal_sync_done(w, &secs), 0);
	assert_int_equal(fds_get().bg_calls, 1);

	fds_set(0, 0);
	assert_int_equal(sync_wait_done(w, &secs), 1);
	assert_true(secs >= 0);
	/* records 3 and 4 came after the first sync began: the next one is theirs */
	assert_int_equal(wal_sync_start(w), 0);
	assert_int_equal(sync_wait_done(w, &secs), 1);
	assert_int_equal(fds_get().bg_calls, 2);
	assert_int_equal(wal_pending(w), 0);
	assert_int_equal(replay(d->fd, 1, 0, &s, &rep), 0);
	assert_seqs(&s, 1, 4);
	wal_close(w);
	assert_int_equal(fds_get().fg_calls, 0);
}

/* wal_rotate_ready() until it answers other than 0, as the end of each turn would; 0 after 10 s. */
static int
rotate_wait_ready(struct wal *w, uint64_t max, double *collected)
{
	struct timespec	t = { 0, 1000 * 1000 };
	double		secs;
	int		r;

	for (int i = 0; i < 10000; i++) {
		r = wal_rotate_ready(w, max, &secs);
		if (secs >= 0)
			*collected = secs;
		if (r != 0)
			return r;
		nanosleep(&t, NULL);
	}
	return 0;
}

static void
test_a_rotation_leaves_the_old_segments_flush_to_the_thread(void **state)
{
	struct dir		*d = *state;
	struct wal		*w;
	struct fds_counts	 c;
	double			 secs = -1, collected = -1;
	uint64_t		 first;
	struct seen		 s;
	struct wal_report	 rep;

	assert_int_equal(wal_open(&w, d->fd, WAL_SYNC_EVERYSEC, 1), 0);
	append(w, 2);
	assert_int_equal(wal_rotate_ready(w, 1 << 20, &secs), 1);	/* little to flush: now */
	assert_int_equal(fds_get().bg_calls, 0);

	/* more than max: the thread flushes it, and the rotation waits */
	fds_set(1, 0);
	assert_int_equal(wal_rotate_ready(w, 0, &secs), 0);
	assert_int_equal(fds_wait_entered(1), 0);
	append(w, 3);					/* written while it runs */
	assert_int_equal(wal_flush(w), 0);
	assert_int_equal(wal_rotate_ready(w, 0, &secs), 0);
	assert_true(secs == -1);
	fds_set(0, 0);
	assert_int_equal(rotate_wait_ready(w, 0, &collected), 1);
	assert_true(collected >= 0);
	c = fds_get();
	assert_int_equal(c.bg_calls, 2);		/* records 3 to 5 needed a second one */
	assert_int_equal(wal_rotate(w, &first), 0);
	assert_int_equal(first, 6);
	assert_int_equal(fds_get().fg_calls, 0);	/* nothing of segment 1 left to the loop */

	append(w, 2);
	assert_int_equal(replay(d->fd, 1, 0, &s, &rep), 0);
	assert_seqs(&s, 1, 5);				/* 6 and 7 not flushed yet */
	wal_close(w);
	assert_log_carries_on(d, 7);
}

static void
test_under_always_a_rotation_is_ready_at_once(void **state)
{
	struct dir	*d = *state;
	struct wal	*w;
	double		 secs;

	assert_int_equal(wal_open(&w, d->fd, WAL_SYNC_ALWAYS, 1), 0);
	append(w, 3);
	assert_int_equal(wal_flush(w), 0);		/* the flush was the fdatasync */
	assert_int_equal(wal_rotate_ready(w, 0, &secs), 1);
	assert_int_equal(fds_get().bg_calls, 0);
	wal_close(w);
}

static void
test_records_appended_during_a_background_sync_survive_a_restart(void **state)
{
	struct dir		*d = *state;
	struct wal		*w;
	double			 secs;

	fds_set(1, 0);
	assert_int_equal(wal_open(&w, d->fd, WAL_SYNC_EVERYSEC, 1), 0);
	append(w, 3);
	assert_int_equal(wal_sync_start(w), 0);
	assert_int_equal(fds_wait_entered(1), 0);
	append(w, 3);
	assert_int_equal(wal_flush(w), 0);
	append(w, 1);
	assert_int_equal(wal_sync_done(w, &secs), 0);

	fds_set(0, 0);
	assert_int_equal(sync_wait_done(w, &secs), 1);
	append(w, 1);
	assert_int_equal(wal_flush(w), 0);	/* the thread closed its own fd, not the segment's */
	wal_close(w);
	assert_log_carries_on(d, 8);
}

static void
test_sync_waits_for_a_background_sync_still_running(void **state)
{
	struct dir		*d = *state;
	struct wal		*w;
	pthread_t		 t;
	struct fds_counts	 c;
	struct seen		 s;
	struct wal_report	 rep;

	fds_set(1, 0);
	assert_int_equal(wal_open(&w, d->fd, WAL_SYNC_EVERYSEC, 1), 0);
	append(w, 2);
	assert_int_equal(wal_sync_start(w), 0);
	assert_int_equal(fds_wait_entered(1), 0);
	append(w, 1);
	assert_int_equal(pthread_create(&t, NULL, fds_release_later, NULL), 0);
	assert_int_equal(wal_sync(w), 0);
	c = fds_get();
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(c.bg_done, 1);
	assert_int_equal(c.fg_calls, 1);	/* record 3, which the background one may have missed */
	wal_close(w);
	assert_int_equal(replay(d->fd, 1, 0, &s, &rep), 0);
	assert_seqs(&s, 1, 3);
}

static void
test_rotate_during_a_background_sync_waits_and_loses_nothing(void **state)
{
	struct dir		*d = *state;
	struct wal		*w;
	pthread_t		 t;
	struct stat		 st;
	struct fds_counts	 c;
	uint64_t		 first;
	double			 secs;
	struct seen		 s;
	struct wal_report	 rep;

	fds_set(1, 0);
	assert_int_equal(wal_open(&w, d->fd, WAL_SYNC_EVERYSEC, 1), 0);
	append(w, 3);
	assert_int_equal(wal_sync_start(w), 0);
	assert_int_equal(fds_wait_entered(1), 0);
	append(w, 2);
	assert_int_equal(pthread_create(&t, NULL, fds_release_later, NULL), 0);
	assert_int_equal(wal_rotate(w, &first), 0);
	c = fds_get();
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(c.bg_done, 1);
	assert_int_equal(first, 6);

	/* the next background sync is of the new segment */
	append(w, 2);
	assert_int_equal(wal_sync_start(w), 0);
	assert_int_equal(sync_wait_done(w, &secs), 1);
	assert_int_equal(fstatat(d->fd, name(6), &st, 0), 0);
	assert_true(fds_get().bg_ino == st.st_ino);
	wal_close(w);
	assert_int_equal(replay(d->fd, 1, 0, &s, &rep), 0);
	assert_seqs(&s, 1, 7);
	assert_int_equal(rep.segments, 2);
	assert_int_equal(rep.torn + rep.corrupt, 0);
}

static void
test_close_during_a_background_sync_waits_and_loses_nothing(void **state)
{
	struct dir		*d = *state;
	struct wal		*w;
	pthread_t		 t;
	struct fds_counts	 c;
	struct seen		 s;
	struct wal_report	 rep;

	fds_set(1, 0);
	assert_int_equal(wal_open(&w, d->fd, WAL_SYNC_EVERYSEC, 1), 0);
	append(w, 3);
	assert_int_equal(wal_sync_start(w), 0);
	assert_int_equal(fds_wait_entered(1), 0);
	append(w, 2);		/* pending: wal_close() writes them */
	assert_int_equal(pthread_create(&t, NULL, fds_release_later, NULL), 0);
	/* under ASan, a thread outliving the struct it reports to is a use after free */
	wal_close(w);
	c = fds_get();
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(c.bg_done, 1);
	assert_int_equal(replay(d->fd, 1, 0, &s, &rep), 0);
	assert_seqs(&s, 1, 5);
	assert_int_equal(rep.torn + rep.corrupt, 0);
}

static void
test_a_failed_background_sync_is_sticky(void **state)
{
	struct dir		*d = *state;
	struct wal		*w;
	uint64_t		 first;
	double			 secs = -1;
	struct seen		 s;
	struct wal_report	 rep;

	fds_set(0, EIO);
	assert_int_equal(wal_open(&w, d->fd, WAL_SYNC_EVERYSEC, 1), 0);
	append(w, 2);
	assert_int_equal(wal_sync_start(w), 0);
	assert_int_equal(sync_wait_done(w, &secs), -EIO);
	assert_int_equal(wal_append(w, 0, "x", 1, NULL), -EIO);
	assert_int_equal(wal_flush(w), -EIO);
	assert_int_equal(wal_sync(w), -EIO);
	assert_int_equal(wal_sync_start(w), -EIO);
	assert_int_equal(wal_rotate(w, &first), -EIO);
	wal_close(w);
	assert_int_equal(file_size(d->fd, name(3)), -1);	/* no rotation */

	/* collected by wal_sync(), which waits for it, instead */
	assert_int_equal(replay(d->fd, 1, 0, &s, &rep), 0);
	assert_seqs(&s, 1, 2);
	fds_set(0, EIO);
	assert_int_equal(wal_open(&w, d->fd, WAL_SYNC_EVERYSEC, rep.next_seq), 0);
	append(w, 1);
	assert_int_equal(wal_sync_start(w), 0);
	assert_int_equal(wal_sync(w), -EIO);
	assert_int_equal(wal_append(w, 0, "x", 1, NULL), -EIO);
	assert_int_equal(wal_flush(w), -EIO);
	wal_close(w);
	assert_int_equal(replay(d->fd, 1, 0, &s, &rep), 0);
	assert_seqs(&s, 1, 3);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_records_replay_in_order_across_segments),
		T(test_the_last_record_replayed_is_marked_last),
		T(test_a_log_cut_at_every_byte_of_its_last_record_recovers_all_before_it),
		T(test_a_flipped_byte_is_caught),
		T(test_damage_in_an_earlier_segment_is_corruption),
		T(test_a_missing_segment_is_a_gap),
		T(test_from_seq_skips_records_a_snapshot_covers),
		T(test_a_log_that_starts_after_from_seq_has_lost_records),
		T(test_remove_before_deletes_covered_segments_only),
		T(test_a_read_until_a_segment_stops_before_it_and_repairs_nothing),
		T(test_unlink_before_deletes_covered_segments_only),
		T(test_newer_version_is_refused),
		T(test_an_older_version_is_read),
		T(test_append_without_flush_writes_nothing),
		T(test_sticky_error_after_failed_write),
		T(test_empty_directory_replays_nothing),
		T(test_a_torn_segment_header_is_dropped),
		T(test_open_reuses_an_empty_last_segment),
		T(test_a_callback_error_stops_the_replay),
		T(test_a_background_sync_covers_what_was_appended_before_it),
		T(test_a_segment_reserves_blocks_ahead_and_gives_them_back),
	T(test_a_start_with_nothing_written_does_nothing),
		T(test_the_log_is_handed_to_the_disk_behind_its_writes),
		T(test_no_write_behind_where_every_flush_syncs_or_the_file_system_cannot),
		T(test_a_rotation_waits_for_a_sync_over_the_write_behind_and_stops_it_meanwhile),
		T(test_a_start_while_one_runs_is_busy_and_its_writes_are_synced_next),
		T(test_records_appended_during_a_background_sync_survive_a_restart),
		T(test_a_rotation_leaves_the_old_segments_flush_to_the_thread),
		T(test_under_always_a_rotation_is_ready_at_once),
		T(test_sync_waits_for_a_background_sync_still_running),
		T(test_rotate_during_a_background_sync_waits_and_loses_nothing),
		T(test_close_during_a_background_sync_waits_and_loses_nothing),
		T(test_a_failed_background_sync_is_sticky),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
