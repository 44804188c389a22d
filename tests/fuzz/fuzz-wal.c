/*
 * fuzz-wal: the write-ahead log as recovery reads it. The bytes become
 * segment files in an empty data directory, and store_open() recovers from
 * them: wal_replay() (headers, checksums, seqs, torn tails, corruption) and
 * the store's record decoder, which applies each record through the code
 * that first applied it. Damage must be refused or cut, never crash. After a
 * recovery that succeeds, one more article is stored, the store is closed
 * (a snapshot of the recovered state) and reopened, which must succeed.
 * Before that, wal_read() (a snapshot's rebuild reading the log the daemon
 * appends to) reads up to the second segment, or up to a seq the flags give:
 * it passes only consecutive seqs below that, and changes no file.
 *
 * Input: one flags byte, then the log. Flags: bit 0 rewrites each record's
 * checksum so the fuzzer gets past it to the payloads; bit 1 sets
 * allow_truncate; bit 2 splits the log at its second "STORYWAL" header into
 * two segments, the second named for the seq of its first record; bits 3-7
 * are wal_read()'s until_seq - 1 when there is one segment.
 */
#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "fuzz.h"
#include "store.h"
#include "wal.h"

#define FILE_HEADER	16	/* wal.h: "STORYWAL", version, reserved */
#define RECORD_HEADER	24	/* wal.h: length, type, 3 zero bytes, seq, checksum */

enum {
	FIX_CHECKSUMS	= 1 << 0,
	TRUNCATE	= 1 << 1,
	TWO_SEGMENTS	= 1 << 2,
};

static uint64_t
le64(const uint8_t *p)
{
	uint64_t	v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Give every whole record of a segment the checksum wal.h defines. */
static void
fix_checksums(uint8_t *p, size_t len)
{
	XXH3_state_t	*xxh = XXH3_createState();
	size_t		 off = FILE_HEADER;

	while (off + RECORD_HEADER <= len) {
		uint32_t	n = (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 |
				    (uint32_t)p[off + 2] << 16 | (uint32_t)p[off + 3] << 24;
		uint64_t	sum;

		if (n > len - off - RECORD_HEADER)
			break;
		XXH3_64bits_reset(xxh);
		XXH3_64bits_update(xxh, p + off, 16);
		XXH3_64bits_update(xxh, p + off + RECORD_HEADER, n);
		sum = XXH3_64bits_digest(xxh);
		for (int i = 0; i < 8; i++)
			p[off + 16 + i] = (uint8_t)(sum >> (8 * i));
		off += RECORD_HEADER + n;
	}
	XXH3_freeState(xxh);
}

static void
write_segment(const char *dir, uint8_t *p, size_t len, uint64_t first, unsigned flags)
{
	char	name[32];

	if (flags & FIX_CHECKSUMS)
		fix_checksums(p, len);
	snprintf(name, sizeof(name), "wal-%016" PRIx64 ".log", first);
	fuzz_write(dir, name, p, len);
}

struct reading {
	uint64_t	next, until;	/* the seq due, 0 before the first */
};

static int
on_record(const struct wal_record *r, void *arg)
{
	struct reading	*rd = arg;

	assert(r->seq < rd->until);
	assert(rd->next == 0 || r->seq == rd->next);
	rd->next = r->seq + 1;
	return 0;
}

/* The files in dir and their sizes, as one sum: wal_read() must change none. */
static off_t
dir_size(const char *dir)
{
	struct dirent	*de;
	struct stat	 st;
	char		 path[4096];
	off_t		 sum = 0;
	DIR		*d = opendir(dir);

	if (d == NULL)
		abort();
	while ((de = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (de->d_name[0] != '.' && stat(path, &st) == 0)
			sum += 1 + st.st_size;
	}
	closedir(d);
	return sum;
}

/* wal_read() up to until: what it passes, and that the files stay as they were. */
static void
read_until(const char *dir, uint64_t until)
{
	struct wal_report	rep;
	struct reading		rd = { 0, until };
	int			dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	off_t			size;

	if (dirfd == -1)
		abort();
	size = dir_size(dir);
	(void)wal_read(dirfd, 1, until, on_record, &rd, &rep);
	assert(dir_size(dir) == size);
	close(dirfd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*dir = fuzz_dir();
	struct store_params	 params;
	uint8_t			*p;
	unsigned		 flags;
	size_t			 len, split = 0;
	uint64_t		 until;

	if (size < 1)
		return 0;
	flags = data[0];
	until = 1 + (flags >> 3);
	len = size - 1;
	if ((p = malloc(len + 1)) == NULL)
		abort();
	memcpy(p, data + 1, len);
	fuzz_store_params(fuzz_config(), &params);
	params.sync = STORE_SYNC_NO;
	params.allow_truncate = (flags & TRUNCATE) != 0;

	if ((flags & TWO_SEGMENTS) && len > FILE_HEADER) {
		uint8_t *q = memmem(p + FILE_HEADER, len - FILE_HEADER, "STORYWAL", 8);

		split = q != NULL ? (size_t)(q - p) : 0;
	}
	fuzz_clear(dir);
	if (split > 0) {
		uint8_t		*second = p + split;
		size_t		 n = len - split;
		uint64_t	 first = n >= FILE_HEADER + 16 ? le64(second + FILE_HEADER + 8) : 2;

		write_segment(dir, p, split, 1, flags);
		write_segment(dir, second, n, first, flags);
		until = first;
	} else
		write_segment(dir, p, len, 1, flags);
	free(p);
	read_until(dir, until);
	fuzz_recover(dir, &params);
	fuzz_clear(dir);
	return 0;
}
