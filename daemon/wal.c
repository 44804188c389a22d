/* wal: the segmented write-ahead log; the format and the recovery rules are in wal.h. */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "clock.h"
#include "fdio.h"
#include "le.h"
#include "thread.h"
#include "wal.h"

#define MAGIC		"STORYWAL"
/*
 * 2: a put's record keeps its fingerprint, 3: and its decision (store.c);
 * 1 and 2 are still read. The records are the store's: the log only has to
 * refuse what an older storyd could not apply.
 */
#define VERSION		3
#define FILE_HEADER	16
#define RECORD_HEADER	24
#define NAME_SIZE	32		/* "wal-" 16 hex digits ".log" NUL fits */
#define BUF_KEEP	(4u << 20)	/* a buffer grown past this is freed after a flush */

/* A segment file; map, end and next are used by replay_log() only. */
struct seg {
	uint64_t		 first;		/* from the name */
	uint64_t		 size;
	const unsigned char	*map;
	uint64_t		 end;		/* the valid records end here */
	uint64_t		 next;		/* the seq after its last valid record */
};

/*
 * The background fdatasync of wal_sync_start(), and the write-behind of
 * wal_flush(): a thread that owns nothing but the fds it is handed (dups,
 * closed when done, so rotation may close the segment meanwhile). mu
 * guards every field below it.
 */
struct syncer {
	pthread_t	 thread;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 fd;		/* a job waiting for the thread, or -1 */
	int		 busy;		/* handed over, not yet collected by wal_sync_done() */
	int		 done;		/* finished: result and secs are its outcome */
	int		 result;	/* 0 or -errno */
	double		 secs;
	int		 behind_fd;	/* a write-behind waiting for the thread, or -1 */
	uint64_t	 behind_from, behind_to;
	int		 behind_off;	/* the file system cannot: no more of them */
	int		 quit;
};

struct wal {
	int		 dirfd, fd;	/* dirfd is our dup; fd: the segment in use */
	enum wal_sync	 sync;
	uint64_t	 next;		/* the seq the next append gets */
	int		 error;		/* sticky: the first failed write or fsync */
	int		 dirty;		/* written since the last fdatasync */
	uint64_t	 unsynced;	/* bytes written since the last fdatasync began */
	unsigned char	*buf;		/* appended records not yet written */
	size_t		 len, cap;
	struct seg	*segs;		/* oldest first; the last is in use */
	size_t		 nsegs, segs_cap;
	XXH3_state_t	*xxh;
	struct syncer	*syncer;	/* started by the first wal_sync_start() or write-behind */
	uint64_t	 reserved;	/* the segment in use has blocks up to here (seg_reserve()) */
	int		 no_reserve;	/* the file system cannot reserve them */
	uint64_t	 behind;	/* the segment in use is handed to the disk up to here */
	int		 behind_unsynced;	/* a write-behind handed since the last fdatasync began */
	int		 rotating;	/* wal_rotate_ready() was asked: no write-behind until wal_rotate() */
};

static int	syncer_collect(struct wal *w, int wait, double *secs);
static void	write_behind(struct wal *w);

/* XXH3 of the record header's first 16 bytes, then the payload after the checksum. */
static uint64_t
record_checksum(XXH3_state_t *xxh, const unsigned char *rec, size_t len)
{
	XXH3_64bits_reset(xxh);
	XXH3_64bits_update(xxh, rec, 16);
	XXH3_64bits_update(xxh, rec + RECORD_HEADER, len);
	return XXH3_64bits_digest(xxh);
}

static void
seg_name(uint64_t first, char name[NAME_SIZE])
{
	snprintf(name, NAME_SIZE, "wal-%016" PRIx64 ".log", first);
}

/* Exactly what seg_name() prints, or -1: other files are not ours. */
static int
seg_name_parse(const char *s, uint64_t *first)
{
	uint64_t	v = 0;

	if (strlen(s) != 24 || strncmp(s, "wal-", 4) != 0 || strcmp(s + 20, ".log") != 0)
		return -1;
	for (int i = 4; i < 20; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			v = v << 4 | (uint64_t)(s[i] - '0');
		else if (s[i] >= 'a' && s[i] <= 'f')
			v = v << 4 | (uint64_t)(s[i] - 'a' + 10);
		else
			return -1;
	}
	*first = v;
	return 0;
}

static int
seg_cmp(const void *a, const void *b)
{
	const struct seg	*x = a, *y = b;

	return (x->first > y->first) - (x->first < y->first);
}

/* The segments in dirfd with their sizes, oldest first. */
static int
segs_list(int dirfd, struct seg **out, size_t *nout)
{
	struct seg	*v = NULL, *nv;
	size_t		 n = 0, cap = 0;
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	uint64_t	 first;
	int		 fd, r = 0;

	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -errno;
	if ((d = fdopendir(fd)) == NULL) {
		r = -errno;
		close(fd);
		return r;
	}
	for (errno = 0; (de = readdir(d)) != NULL; errno = 0) {
		if (seg_name_parse(de->d_name, &first) == -1)
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			r = -errno;
			goto fail;
		}
		if (!S_ISREG(st.st_mode)) {
			r = -EINVAL;
			goto fail;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			if ((nv = realloc(v, cap * sizeof *v)) == NULL) {
				r = -ENOMEM;
				goto fail;
			}
			v = nv;
		}
		v[n++] = (struct seg){ .first = first, .size = (uint64_t)st.st_size };
	}
	if (errno != 0) {
		r = -errno;
		goto fail;
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof *v, seg_cmp);
	*out = v;
	*nout = n;
	return 0;
fail:
	closedir(d);
	free(v);
	return r;
}

/*
 * Create segment first, header written and fsynced and its directory entry
 * too, so a record never lands in a file a crash could make disappear.
 */
static int
seg_create(int dirfd, uint64_t first, int *out)
{
	unsigned char	h[FILE_HEADER];
	char		name[NAME_SIZE];
	int		fd, r;

	seg_name(first, name);
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1)
		return -errno;
	memcpy(h, MAGIC, 8);
	le32_put(h + 8, VERSION);
	le32_put(h + 12, 0);
	if ((r = write_all(fd, h, sizeof h)) < 0)
		goto fail;
	if (fsync(fd) == -1 || fsync(dirfd) == -1) {
		r = -errno;
		goto fail;
	}
	*out = fd;
	return 0;
fail:
	close(fd);
	unlinkat(dirfd, name, 0);
	return r;
}

/* Truncate segment first to len bytes, or fsync it unchanged if len is its size. */
static int
seg_truncate(int dirfd, uint64_t first, uint64_t len)
{
	char	name[NAME_SIZE];
	int	fd, r = 0;

	seg_name(first, name);
	if ((fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC)) == -1)
		return -errno;
	if (ftruncate(fd, (off_t)len) == -1 || fsync(fd) == -1)
		r = -errno;
	close(fd);
	return r;
}

static int
seg_fsync(int dirfd, uint64_t first)
{
	char	name[NAME_SIZE];
	int	fd, r = 0;

	seg_name(first, name);
	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) == -1)
		return -errno;
	if (fsync(fd) == -1)
		r = -errno;
	close(fd);
	return r;
}

/* Delete segment first: 1, or 0 when it was gone already, or -errno. */
static int
seg_unlink(int dirfd, uint64_t first)
{
	char	name[NAME_SIZE];

	seg_name(first, name);
	if (unlinkat(dirfd, name, 0) == 0)
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

/*
 * Delete, oldest first, the segments of segs[0..n) whose records all have
 * seqs < seq, then fsync the directory if a file went; *k: how many are gone.
 * A snapshot's rebuild deletes what it covered, off the loop, and the
 * loop's call then finds the files gone and has nothing to sync.
 */
static int
unlink_covered(int dirfd, const struct seg *segs, size_t n, uint64_t seq, size_t *k)
{
	int	r = 0, removed = 0;

	/* segment k holds seqs first[k] .. first[k + 1] - 1 */
	for (*k = 0; *k + 1 < n && segs[*k + 1].first <= seq; (*k)++) {
		if ((r = seg_unlink(dirfd, segs[*k].first)) < 0)
			break;
		removed |= r;
		r = 0;
	}
	if (removed && fsync(dirfd) == -1 && r == 0)
		r = -errno;
	return r;
}

static int
seg_map(int dirfd, struct seg *s)
{
	struct stat	 st;
	char		 name[NAME_SIZE];
	void		*p;
	int		 fd, r = 0;

	seg_name(s->first, name);
	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) == -1)
		return -errno;
	if (fstat(fd, &st) == -1) {
		r = -errno;
		goto out;
	}
	if ((uint64_t)st.st_size > SIZE_MAX) {
		r = -EFBIG;
		goto out;
	}
	s->size = (uint64_t)st.st_size;
	if (s->size > 0) {
		p = mmap(NULL, (size_t)s->size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			r = -errno;
			goto out;
		}
		s->map = p;
	}
out:
	close(fd);
	return r;
}

/*
 * Whether a valid record follows damage at off, where the record numbered seq
 * was due. Record seq + k starts at least k headers later, which bounds the
 * seqs worth hashing; a 64-bit checksum match is not luck. Stale blocks of a
 * deleted segment, which a crash can leave in a file's tail, hold lower seqs.
 */
static int
valid_record_after(const unsigned char *p, uint64_t size, uint64_t off, uint64_t seq,
    XXH3_state_t *xxh)
{
	uint64_t	v, len;

	for (uint64_t q = off + 1; q + RECORD_HEADER <= size; q++) {
		v = le64_get(p + q + 8);
		if (v < seq || v - seq > (size - off) / RECORD_HEADER)
			continue;
		if (p[q + 5] != 0 || p[q + 6] != 0 || p[q + 7] != 0)
			continue;
		len = le32_get(p + q);
		if (len > size - q - RECORD_HEADER)
			continue;
		if (record_checksum(xxh, p + q, (size_t)len) == le64_get(p + q + 16))
			return 1;
	}
	return 0;
}

struct scan {
	uint64_t	 off;		/* the valid records end here: the damage, or the size */
	uint64_t	 next;		/* the seq after the last valid record */
	const char	*what;		/* NULL: no damage */
	int		 after;		/* valid data follows the damage: not a torn tail */
};

/* Check segment s, whose records must number s->first on; its header's version is not newer. */
static void
seg_scan(const struct seg *s, XXH3_state_t *xxh, struct scan *sc)
{
	const unsigned char	*p = s->map;
	uint64_t		 off = FILE_HEADER, len;

	*sc = (struct scan){ .next = s->first };
	if (s->size < FILE_HEADER) {
		sc->what = "incomplete file header";
		sc->off = 0;
		return;
	}
	if (memcmp(p, MAGIC, 8) != 0 || le32_get(p + 8) == 0 || le32_get(p + 8) > VERSION ||
	    le32_get(p + 12) != 0) {
		/* a header-only file holds no records: crashed while being created */
		sc->what = "bad file header";
		sc->after = s->size > FILE_HEADER;
		sc->off = 0;
		return;
	}
	while (off < s->size) {
		if (s->size - off < RECORD_HEADER) {
			sc->what = "incomplete record header";
			break;
		}
		len = le32_get(p + off);
		if (len > WAL_MAX_PAYLOAD) {
			sc->what = "record too large";
			break;
		}
		if (len > s->size - off - RECORD_HEADER) {
			sc->what = "incomplete record";
			break;
		}
		if (record_checksum(xxh, p + off, (size_t)len) != le64_get(p + off + 16)) {
			sc->what = "checksum mismatch";
			break;
		}
		if (p[off + 5] != 0 || p[off + 6] != 0 || p[off + 7] != 0) {
			sc->what = "nonzero padding";
			sc->after = 1;
			break;
		}
		if (le64_get(p + off + 8) != sc->next) {
			sc->what = "unexpected seq";
			sc->after = 1;
			break;
		}
		sc->next++;
		off += RECORD_HEADER + len;
	}
	sc->off = off;
	if (sc->what != NULL && !sc->after)
		sc->after = valid_record_after(p, s->size, off, sc->next, xxh);
}

/* The records of s from from_seq on; last_seg: no later segment holds one. */
static int
replay_records(const struct seg *s, uint64_t from_seq, int last_seg, wal_replay_fn *fn,
    void *arg, struct wal_report *rep)
{
	struct wal_record	rec;
	uint64_t		off;
	int			r;

	for (off = FILE_HEADER; off < s->end; off += RECORD_HEADER + rec.len) {
		rec.len = le32_get(s->map + off);
		rec.type = s->map[off + 4];
		rec.seq = le64_get(s->map + off + 8);
		rec.data = s->map + off + RECORD_HEADER;
		rec.last = last_seg && off + RECORD_HEADER + rec.len >= s->end;
		if (rec.seq < from_seq) {
			rep->skipped++;
			continue;
		}
		if ((r = fn(&rec, arg)) != 0) {
			seg_name(s->first, rep->corrupt_file);
			rep->corrupt_offset = off;
			return r;
		}
		if (rep->records++ == 0)
			rep->first_seq = rec.seq;
		rep->last_seq = rec.seq;
	}
	return 0;
}

/* What replay_log() may change to go on past damage. */
enum repair {
	REPAIR_NONE,	/* read only, up to until_seq: any damage is corruption (wal_read) */
	REPAIR_TAIL,	/* cut a torn tail (wal_replay) */
	REPAIR_ALL,	/* cut at any damage (wal_replay with allow_truncate) */
};

/*
 * Three passes over the mapped segments (under REPAIR_NONE, those before
 * until_seq): refuse a newer format before judging anything (so REPAIR_ALL
 * never deletes its files); validate and find the damage; repair, then call
 * fn. fn is called only once nothing can fail.
 */
static int
replay_log(int dirfd, uint64_t from_seq, uint64_t until_seq, enum repair repair,
    wal_replay_fn *fn, void *arg, struct wal_report *rep)
{
	struct seg	*segs = NULL, *s;
	struct scan	 sc;
	XXH3_state_t	*xxh = NULL;
	uint64_t	 expect;
	size_t		 n = 0, i, kept, last;
	int		 r, ok;

	memset(rep, 0, sizeof *rep);
	if (from_seq == 0)
		from_seq = 1;
	if ((r = segs_list(dirfd, &segs, &n)) < 0)
		return r;
	while (repair == REPAIR_NONE && n > 0 && segs[n - 1].first >= until_seq)
		n--;	/* being written by the daemon: not ours to read */
	if ((xxh = XXH3_createState()) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((r = seg_map(dirfd, &segs[i])) < 0)
			goto out;
	}
	rep->segments = (unsigned)n;
	for (i = 0; i < n; i++) {
		s = &segs[i];
		if (s->size >= FILE_HEADER && memcmp(s->map, MAGIC, 8) == 0 &&
		    le32_get(s->map + 8) > VERSION) {
			seg_name(s->first, rep->corrupt_file);
			rep->corrupt_what = "newer format version";
			r = WAL_NEWER_VERSION;
			goto out;
		}
	}

	/* Records missing below from_seq are harmless: a snapshot holds them. */
	expect = from_seq;
	for (kept = 0; kept < n; kept++) {
		s = &segs[kept];
		ok = kept == 0 ? s->first <= from_seq :
		    s->first == expect || (s->first > expect && s->first <= from_seq);
		if (!ok) {
			sc = (struct scan){ .off = 0, .next = s->first, .after = 1,
			    .what = s->first < expect ? "seq overlaps the previous segment" : "seq gap" };
		} else
			seg_scan(s, xxh, &sc);
		s->end = sc.off;
		s->next = sc.next;
		if (sc.what == NULL) {
			expect = sc.next;
			continue;
		}
		if (kept + 1 == n && !sc.after && repair != REPAIR_NONE) {
			/* a write the crash cut short: never acknowledged */
			rep->torn = 1;
			seg_name(s->first, rep->torn_file);
			rep->torn_offset = sc.off;
			rep->torn_bytes = s->size - sc.off;
		} else {
			rep->corrupt = 1;
			seg_name(s->first, rep->corrupt_file);
			rep->corrupt_offset = sc.off;
			rep->corrupt_what = sc.what;
			rep->corrupt_bytes = s->size - sc.off;
			for (i = kept + 1; i < n; i++)
				rep->corrupt_bytes += segs[i].size;
			rep->corrupt_segments = (unsigned)(n - kept - 1);
		}
		if (sc.off > 0)
			expect = sc.next;
		break;
	}
	if (repair == REPAIR_NONE && kept == n && expect != until_seq) {
		/* the segment before until_seq was synced whole before it was started */
		rep->corrupt = 1;
		if (n > 0) {
			seg_name(segs[n - 1].first, rep->corrupt_file);
			rep->corrupt_offset = segs[n - 1].size;
		}
		rep->corrupt_what = "records missing before the segment in use";
	}
	if (rep->corrupt && repair != REPAIR_ALL) {
		r = WAL_CORRUPT;
		goto out;
	}

	/* Cut the log at the damage, newest first, so a crash here leaves a prefix. */
	if (kept < n) {
		for (i = n - 1; i > kept; i--) {
			if ((r = seg_unlink(dirfd, segs[i].first)) < 0)
				goto out;
		}
		if (segs[kept].end == 0)
			r = seg_unlink(dirfd, segs[kept].first);
		else
			r = seg_truncate(dirfd, segs[kept].first, segs[kept].end);
		if (r < 0)
			goto out;
		if ((kept + 1 < n || segs[kept].end == 0) && fsync(dirfd) == -1) {
			r = -errno;
			goto out;
		}
		if (segs[kept].end > 0)
			kept++;
	}
	for (i = 0; i < kept; i++)
		rep->bytes += segs[i].end;
	rep->next_seq = expect > from_seq ? expect : from_seq;

	for (last = kept; last > 0 && segs[last - 1].end <= FILE_HEADER; last--)
		;	/* empty segments (a rotation's last) hold no record */
	for (i = 0; i < kept; i++) {
		if ((r = replay_records(&segs[i], from_seq, i + 1 == last, fn, arg, rep)) != 0)
			goto out;
	}
	r = 0;
out:
	for (i = 0; i < n; i++) {
		if (segs[i].map != NULL)
			munmap((void *)segs[i].map, (size_t)segs[i].size);
	}
	free(segs);
	XXH3_freeState(xxh);
	return r;
}

int
wal_replay(int dirfd, uint64_t from_seq, int allow_truncate, wal_replay_fn *fn, void *arg,
    struct wal_report *rep)
{
	return replay_log(dirfd, from_seq, 0, allow_truncate ? REPAIR_ALL : REPAIR_TAIL, fn, arg,
	    rep);
}

int
wal_read(int dirfd, uint64_t from_seq, uint64_t until_seq, wal_replay_fn *fn, void *arg,
    struct wal_report *rep)
{
	return replay_log(dirfd, from_seq, until_seq, REPAIR_NONE, fn, arg, rep);
}

int
wal_unlink_before(int dirfd, uint64_t seq)
{
	struct seg	*segs;
	size_t		 n, k;
	int		 r;

	if ((r = segs_list(dirfd, &segs, &n)) < 0)
		return r;
	r = unlink_covered(dirfd, segs, n, seq, &k);
	free(segs);
	return r;
}

static void
syncer_stop(struct syncer *sy)
{
	if (sy == NULL)
		return;
	thread_stop(sy->thread, &sy->mu, &sy->cv, &sy->quit);
	pthread_mutex_destroy(&sy->mu);
	pthread_cond_destroy(&sy->cv);
	free(sy);
}

static void
wal_free(struct wal *w)
{
	syncer_stop(w->syncer);
	if (w->fd != -1)
		close(w->fd);
	if (w->dirfd != -1)
		close(w->dirfd);
	free(w->buf);
	free(w->segs);
	XXH3_freeState(w->xxh);
	free(w);
}

int
wal_open(struct wal **out, int dirfd, enum wal_sync sync, uint64_t next_seq)
{
	struct wal	*w;
	char		 name[NAME_SIZE];
	int		 r;

	assert(next_seq > 0);
	if ((w = calloc(1, sizeof *w)) == NULL)
		return -ENOMEM;
	w->fd = w->dirfd = -1;
	w->sync = sync;
	w->next = next_seq;
	if ((w->xxh = XXH3_createState()) == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	if ((w->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0)) == -1) {
		r = -errno;
		goto fail;
	}
	if ((r = segs_list(w->dirfd, &w->segs, &w->nsegs)) < 0)
		goto fail;
	w->segs_cap = w->nsegs;
	if (w->nsegs > 0 && w->segs[w->nsegs - 1].first >= next_seq) {
		if (w->segs[w->nsegs - 1].first > next_seq ||
		    w->segs[w->nsegs - 1].size > FILE_HEADER) {
			r = -EEXIST;
			goto fail;
		}
		/* empty: a crash came before its first record; start it afresh */
		seg_name(next_seq, name);
		if (unlinkat(w->dirfd, name, 0) == -1) {
			r = -errno;
			goto fail;
		}
		w->nsegs--;
	}
	/*
	 * Replay may have read the last segment from the page cache; it must be
	 * on disk before a later segment exists, or a power cut would make its
	 * tail damage before the tail.
	 */
	if (w->nsegs > 0 && (r = seg_fsync(w->dirfd, w->segs[w->nsegs - 1].first)) < 0)
		goto fail;
	if (w->nsegs == w->segs_cap) {
		struct seg	*nv;

		if ((nv = realloc(w->segs, (w->segs_cap + 8) * sizeof *nv)) == NULL) {
			r = -ENOMEM;
			goto fail;
		}
		w->segs = nv;
		w->segs_cap += 8;
	}
	if ((r = seg_create(w->dirfd, next_seq, &w->fd)) < 0)
		goto fail;
	w->segs[w->nsegs++] = (struct seg){ .first = next_seq, .size = FILE_HEADER };
	*out = w;
	return 0;
fail:
	wal_free(w);
	return r;
}

int
wal_appendv(struct wal *w, uint8_t type, const struct iovec *iov, int iovcnt, uint64_t *seq)
{
	unsigned char	*p;
	size_t		 len = 0, need, off;
	int		 r;

	if (w->error)
		return w->error;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > WAL_MAX_PAYLOAD - len)
			return -EMSGSIZE;
		len += iov[i].iov_len;
	}
	if ((r = wal_reserve(w, len)) < 0)
		return r;
	need = RECORD_HEADER + len;
	p = w->buf + w->len;
	le32_put(p, (uint32_t)len);
	p[4] = type;
	p[5] = p[6] = p[7] = 0;
	le64_put(p + 8, w->next);
	/* the pieces go straight into the buffer: the caller need not assemble the record first */
	off = RECORD_HEADER;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > 0)
			memcpy(p + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	le64_put(p + 16, record_checksum(w->xxh, p, len));
	w->len += need;
	if (seq != NULL)
		*seq = w->next;
	w->next++;
	return 0;
}

int
wal_reserve(struct wal *w, size_t len)
{
	unsigned char	*p;
	size_t		 need = RECORD_HEADER + len, cap;

	if (w->error)
		return w->error;
	if (len > WAL_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (need > SIZE_MAX / 4 - w->len)
		return -ENOMEM;
	if (need > w->cap - w->len) {
		for (cap = w->cap ? w->cap : 4096; cap - w->len < need; cap *= 2)
			;
		if ((p = realloc(w->buf, cap)) == NULL)
			return -ENOMEM;
		w->buf = p;
		w->cap = cap;
	}
	return 0;
}

int
wal_append(struct wal *w, uint8_t type, const void *data, size_t len, uint64_t *seq)
{
	struct iovec	iov = { (void *)(uintptr_t)data, len };

	if (len > WAL_MAX_PAYLOAD)
		return w->error ? w->error : -EMSGSIZE;
	return wal_appendv(w, type, &iov, 1, seq);
}

static int
wal_datasync(struct wal *w)
{
	if (!w->dirty)
		return 0;
	if (fdatasync(w->fd) == -1)
		return w->error = -errno;
	w->dirty = 0;
	w->unsynced = 0;
	w->behind_unsynced = 0;
	return 0;
}

/*
 * Blocks for the segment's next writes, reserved past its end with its size
 * unchanged (fallocate with FALLOC_FL_KEEP_SIZE), so that a write allocates
 * none. On ext4 an appending write that allocated waited for the inode's
 * block map while the background fdatasync's writeback held it: 4-26 ms,
 * once a second, on the loop (README "Where the time goes"). The step
 * grows with the segment, from RESERVE_LEAST to RESERVE_MOST, so a quiet
 * store reserves little; seg_give_back() returns what is left.
 */
#define RESERVE_LEAST	(1u << 20)
#define RESERVE_MOST	(64u << 20)

static void
seg_reserve(struct wal *w, size_t len)
{
	uint64_t	at = w->segs[w->nsegs - 1].size, step;

	if (w->no_reserve || at + len <= w->reserved)
		return;
	step = at < RESERVE_LEAST ? RESERVE_LEAST : at > RESERVE_MOST ? RESERVE_MOST : at;
	step = step < len ? len : step;
	if (fallocate(w->fd, FALLOC_FL_KEEP_SIZE, (off_t)at, (off_t)step) == 0)
		w->reserved = at + step;
	else if (errno == EOPNOTSUPP || errno == ENOSYS)
		w->no_reserve = 1;	/* writes allocate as they go, as before */
	/* else (no space, say) the write goes ahead, and the next flush tries again */
}

/*
 * Free the blocks reserved past the end of the segment in use, which is done
 * with: a truncation to its own size, only when that is the size it has, so
 * that it never changes the file's length.
 */
static void
seg_give_back(struct wal *w)
{
	uint64_t	size = w->segs[w->nsegs - 1].size;
	struct stat	st;

	if (w->reserved > size && fstat(w->fd, &st) == 0 && (uint64_t)st.st_size == size)
		(void)ftruncate(w->fd, (off_t)size);
	w->reserved = 0;
}

int
wal_flush(struct wal *w)
{
	int	r;

	if (w->error)
		return w->error;
	if (w->len == 0)
		return 0;
	seg_reserve(w, w->len);
	/* a partial write leaves part of a record in the file: sticky until a restart */
	if ((r = write_all(w->fd, w->buf, w->len)) < 0)
		return w->error = r;
	w->segs[w->nsegs - 1].size += w->len;
	w->unsynced += w->len;
	w->len = 0;
	w->dirty = 1;
	if (w->cap > BUF_KEEP) {
		free(w->buf);
		w->buf = NULL;
		w->cap = 0;
	}
	if (w->sync == WAL_SYNC_ALWAYS)
		return wal_datasync(w);
	write_behind(w);
	return 0;
}

int
wal_sync(struct wal *w)
{
	double	secs;
	int	r;

	if ((r = syncer_collect(w, 1, &secs)) < 0 || (r = wal_flush(w)) < 0)
		return r;
	return wal_datasync(w);
}

/*
 * Start the disk's writes of [from, to) of fd's file and return: no
 * waiting, and no error consumed, which the next fdatasync reports. False
 * when this file system cannot, so that no more are asked for.
 */
static int
behind_run(int fd, uint64_t from, uint64_t to)
{
	if (sync_file_range(fd, (off_t)from, (off_t)(to - from), SYNC_FILE_RANGE_WRITE) == 0)
		return 1;
	return !(errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP || errno == ESPIPE);
}

/*
 * The job left unfinished at quit is done first: wal_close() relies on it.
 * A write-behind is only ever an early start, so a sync job or quit drops it.
 */
static void *
syncer_main(void *arg)
{
	struct syncer	*sy = arg;
	uint64_t	 from, to;
	double		 t0;
	int		 fd, r;

	pthread_mutex_lock(&sy->mu);
	for (;;) {
		while (sy->fd == -1 && sy->behind_fd == -1 && !sy->quit)
			pthread_cond_wait(&sy->cv, &sy->mu);
		if (sy->behind_fd != -1 && sy->fd == -1 && !sy->quit) {
			fd = sy->behind_fd;
			from = sy->behind_from;
			to = sy->behind_to;
			pthread_mutex_unlock(&sy->mu);
			r = behind_run(fd, from, to);
			close(fd);
			pthread_mutex_lock(&sy->mu);
			sy->behind_fd = -1;
			sy->behind_off |= !r;
			continue;
		}
		if (sy->behind_fd != -1) {
			close(sy->behind_fd);
			sy->behind_fd = -1;
		}
		if (sy->fd == -1)
			break;
		fd = sy->fd;
		pthread_mutex_unlock(&sy->mu);
		t0 = clock_seconds(CLOCK_MONOTONIC);
		r = fdatasync(fd) == -1 ? -errno : 0;
		t0 = clock_seconds(CLOCK_MONOTONIC) - t0;
		close(fd);
		pthread_mutex_lock(&sy->mu);
		sy->fd = -1;
		sy->result = r;
		sy->secs = t0;
		sy->done = 1;
		pthread_cond_broadcast(&sy->cv);
	}
	pthread_mutex_unlock(&sy->mu);
	return NULL;
}

static int
syncer_start(struct wal *w)
{
	struct syncer	*sy;
	int		 r;

	if ((sy = calloc(1, sizeof(*sy))) == NULL)
		return -ENOMEM;
	sy->fd = sy->behind_fd = -1;
	pthread_mutex_init(&sy->mu, NULL);
	pthread_cond_init(&sy->cv, NULL);
	if ((r = thread_start(&sy->thread, "storyd-logsync", syncer_main, sy)) != 0) {
		pthread_mutex_destroy(&sy->mu);
		pthread_cond_destroy(&sy->cv);
		free(sy);
		return -r;
	}
	w->syncer = sy;
	return 0;
}

int
wal_sync_start(struct wal *w)
{
	struct syncer	*sy;
	int		 fd, r;

	if ((r = wal_flush(w)) < 0)
		return r;
	if (!w->dirty)
		return 0;
	if (w->syncer == NULL && (r = syncer_start(w)) < 0)
		return r;
	sy = w->syncer;
	pthread_mutex_lock(&sy->mu);
	r = sy->busy;
	pthread_mutex_unlock(&sy->mu);
	if (r)
		return WAL_SYNC_BUSY;
	if ((fd = fcntl(w->fd, F_DUPFD_CLOEXEC, 0)) == -1)
		return -errno;
	/* what is written from now on is dirty again; this job covers what was written before */
	w->dirty = 0;
	w->unsynced = 0;
	w->behind_unsynced = 0;
	pthread_mutex_lock(&sy->mu);
	sy->fd = fd;
	sy->busy = 1;
	sy->done = 0;
	pthread_cond_signal(&sy->cv);
	pthread_mutex_unlock(&sy->mu);
	return 0;
}

/*
 * Write-behind: the segment in use is handed to the disk WRITE_BEHIND bytes
 * at a time as it is written, by the syncer's thread, as RocksDB's
 * bytes_per_sync and PostgreSQL's wal_writer_flush_after do. Left to the
 * once-a-second fdatasync, a second of log at 7,000 posts a second (~20
 * MB) was 3-7 ms of one core's time in the kernel's writeback, all at
 * once, which kept the loop or its clients off that core (README "Where
 * the time goes"); 2 MiB at a time is ~0.4 ms. A range ends on a
 * WRITE_BEHIND boundary, never in the page being appended to: writeback
 * locks a page while it starts its write, and an append to it waits (the
 * loop's write() blocked there ~12 times a second when the range ran to
 * the end). Aligned to 2 MiB, the largest page the page cache makes on
 * x86-64, it holds for large pages too. Not with fsync = always, whose
 * flushes write everything at once anyway, nor while a rotation is wanted:
 * the rotation's fdatasync on the loop would wait for those writes, queued
 * behind whatever else the disk has (a snapshot's hundreds of MB), so
 * wal_rotate_ready() has the thread's fdatasync cover them first. Nothing
 * waits for it, and a failure to start the writes is left for the next
 * fdatasync to report.
 */
#define WRITE_BEHIND	(2u << 20)

static void
write_behind(struct wal *w)
{
	uint64_t	to = w->segs[w->nsegs - 1].size / WRITE_BEHIND * WRITE_BEHIND;
	struct syncer	*sy;
	int		fd = -1;

	if (to <= w->behind || w->rotating)
		return;
	if (w->syncer == NULL && syncer_start(w) < 0)
		return;
	sy = w->syncer;
	/* one at a time: while one waits, the next flush asks again, for more */
	pthread_mutex_lock(&sy->mu);
	if (!sy->behind_off && sy->behind_fd == -1 &&
	    (fd = fcntl(w->fd, F_DUPFD_CLOEXEC, 0)) != -1) {
		sy->behind_fd = fd;
		sy->behind_from = w->behind;
		sy->behind_to = to;
		pthread_cond_signal(&sy->cv);
	}
	pthread_mutex_unlock(&sy->mu);
	if (fd == -1)
		return;
	w->behind = to;
	w->behind_unsynced = 1;
}

/*
 * Collect a finished background fdatasync, waiting for it if wait is set.
 * Its failure is sticky, as on the loop: the thread's fdatasync on the dup
 * consumed the error report the segment's own fd would otherwise have seen.
 */
static int
syncer_collect(struct wal *w, int wait, double *secs)
{
	struct syncer	*sy = w->syncer;
	int		 done, r;

	if (sy == NULL)
		return 0;
	pthread_mutex_lock(&sy->mu);
	while (wait && sy->busy && !sy->done)
		pthread_cond_wait(&sy->cv, &sy->mu);
	done = sy->done;
	r = sy->result;
	if (done) {
		*secs = sy->secs;
		sy->done = sy->busy = 0;
	}
	pthread_mutex_unlock(&sy->mu);
	if (!done)
		return 0;
	if (r < 0) {
		if (w->error == 0)
			w->error = r;
		return r;
	}
	return 1;
}

int
wal_sync_done(struct wal *w, double *secs)
{
	return syncer_collect(w, 0, secs);
}

/* A background fdatasync handed over and not yet finished. */
static int
syncer_running(struct wal *w)
{
	struct syncer	*sy = w->syncer;
	int		 r;

	if (sy == NULL)
		return 0;
	pthread_mutex_lock(&sy->mu);
	r = sy->busy && !sy->done;
	pthread_mutex_unlock(&sy->mu);
	return r;
}

int
wal_rotate_ready(struct wal *w, uint64_t max, double *secs)
{
	int	r;

	*secs = -1;
	if (w->error)
		return w->error;
	w->rotating = 1;
	if ((r = syncer_collect(w, 0, secs)) < 0)
		return r;
	if (syncer_running(w))
		return 0;
	if (w->unsynced + w->len <= max && !w->behind_unsynced)
		return 1;
	return (r = wal_sync_start(w)) < 0 ? r : 0;
}

int
wal_rotate(struct wal *w, uint64_t *first_seq)
{
	struct seg	*nv;
	int		 fd, r;

	if ((r = wal_sync(w)) < 0)
		return r;
	w->rotating = 0;
	if (w->segs[w->nsegs - 1].first == w->next) {
		*first_seq = w->next;
		return 0;
	}
	if (w->nsegs == w->segs_cap) {
		if ((nv = realloc(w->segs, (w->segs_cap + 8) * sizeof *nv)) == NULL)
			return -ENOMEM;
		w->segs = nv;
		w->segs_cap += 8;
	}
	if ((r = seg_create(w->dirfd, w->next, &fd)) < 0)
		return r;
	seg_give_back(w);
	close(w->fd);
	w->fd = fd;
	w->behind = 0;
	w->segs[w->nsegs++] = (struct seg){ .first = w->next, .size = FILE_HEADER };
	*first_seq = w->next;
	return 0;
}

int
wal_remove_before(struct wal *w, uint64_t seq)
{
	size_t	k;
	int	r = unlink_covered(w->dirfd, w->segs, w->nsegs, seq, &k);

	memmove(w->segs, w->segs + k, (w->nsegs - k) * sizeof *w->segs);
	w->nsegs -= k;
	return r;
}

void
wal_set_sync(struct wal *w, enum wal_sync sync)
{
	w->sync = sync;
}

size_t
wal_pending(const struct wal *w)
{
	return w->len;
}

uint64_t
wal_bytes(const struct wal *w)
{
	uint64_t	n = 0;

	for (size_t i = 0; i < w->nsegs; i++)
		n += w->segs[i].size;
	return n;
}

uint64_t
wal_next_seq(const struct wal *w)
{
	return w->next;
}

void
wal_close(struct wal *w)
{
	if (w == NULL)
		return;
	if (wal_sync(w) == 0)
		seg_give_back(w);
	wal_free(w);
}
