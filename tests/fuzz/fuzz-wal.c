/*
 * fuzz-wal: the write-ahead log as recovery reads it. The bytes become
 * segment files in an empty data directory, and store_open() recovers from
 * them: wal_replay() (headers, checksums, seqs, torn tails, corruption) and
 * the store's record decoder, which applies each record through the code
 * that first applied it. Damage must be refused or cut, never crash. After a
 * recovery that succeeds, one more article is stored, the store is closed
 * (a snapshot of the recovered state) and reopened, which must succeed.
 *
 * Input: one flags byte, then the log. Flags: bit 0 rewrites each record's
 * checksum so the fuzzer gets past it to the payloads; bit 1 sets
 * allow_truncate; bit 2 splits the log at its second "STORYWAL" header into
 * two segments, the second named for the seq of its first record.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*dir = fuzz_dir();
	struct store_params	 params;
	uint8_t			*p;
	unsigned		 flags;
	size_t			 len, split = 0;

	if (size < 1)
		return 0;
	flags = data[0];
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
	} else
		write_segment(dir, p, len, 1, flags);
	free(p);
	fuzz_recover(dir, &params);
	fuzz_clear(dir);
	return 0;
}
