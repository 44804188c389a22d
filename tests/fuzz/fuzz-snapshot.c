/*
 * fuzz-snapshot: the snapshot as recovery reads it. The bytes become
 * "snapshot" in an empty data directory and store_open() recovers from it:
 * snapshot_read() (magic, version, checksum) around the store's body reader
 * and cluster_load(). A corrupt snapshot must be refused, never crash; one
 * that loads must survive a restart (see fuzz_recover()).
 *
 * Input: one flags byte, then the file. Flags: bit 0 rewrites the trailing
 * checksum (XXH3-64 of everything before it) so that bodies the reader
 * accepts load for real and the recovered state is exercised.
 */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "fuzz.h"
#include "store.h"

enum {
	FIX_CHECKSUM	= 1 << 0,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*dir = fuzz_dir();
	struct store_params	 params;
	uint8_t			*p;
	size_t			 len;

	if (size < 1)
		return 0;
	len = size - 1;
	if ((p = malloc(len + 1)) == NULL)
		abort();
	memcpy(p, data + 1, len);
	if ((data[0] & FIX_CHECKSUM) && len >= 8) {
		uint64_t sum = XXH3_64bits(p, len - 8);

		for (int i = 0; i < 8; i++)
			p[len - 8 + i] = (uint8_t)(sum >> (8 * i));
	}
	fuzz_store_params(fuzz_config(), &params);
	params.sync = STORE_SYNC_NO;
	fuzz_clear(dir);
	fuzz_write(dir, "snapshot", p, len);
	free(p);
	fuzz_recover(dir, &params);
	fuzz_clear(dir);
	return 0;
}
