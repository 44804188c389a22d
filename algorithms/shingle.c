/*
 * shingle: XXH3 of each word, then XXH3 of each run of w word hashes.
 *
 * The word hashes are the tokens' own when tokens_hash() made them, else
 * those of the current window sit in a small buffer, so each word is hashed
 * once however large w is up to SHINGLE_BUF / 2; beyond that (no caller
 * needs it) word hashes are recomputed per shingle. The shingle hash is
 * XXH3-64 over the w word hashes as little-endian bytes, so it is the same
 * on every machine.
 */
#include <assert.h>
#include <string.h>

/* For XXH3_state_t on the stack, in the rare w > SHINGLE_BUF / 2 path. */
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "shingle.h"

#define SHINGLE_BUF	128

static uint64_t
word_hash(const struct tokens *t, size_t i)
{
	uint64_t	h = t->hashed ? t->hash[i] : XXH3_64bits(t->text + t->v[i].off, t->v[i].len);

	return __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__ ? __builtin_bswap64(h) : h;
}

size_t
shingle_count(size_t nwords, unsigned w)
{
	assert(w >= 1);
	if (nwords == 0)
		return 0;
	return nwords >= w ? nwords - w + 1 : 1;
}

size_t
shingle_hashes(const struct tokens *t, unsigned w, uint64_t *out)
{
	uint64_t	buf[SHINGLE_BUF];
	size_t		n = t->n, m = shingle_count(n, w), len = 0;

	if (m == 0)
		return 0;
	if (w > n)
		w = (unsigned)n;
	if (w > SHINGLE_BUF / 2) {
		for (size_t s = 0; s < m; s++) {
			XXH3_state_t	st;

			XXH3_64bits_reset(&st);
			for (size_t i = s; i < s + w; i++) {
				uint64_t	h = word_hash(t, i);

				XXH3_64bits_update(&st, &h, sizeof(h));
			}
			out[s] = XXH3_64bits_digest(&st);
		}
		return m;
	}
	for (size_t i = 0; i < n; i++) {
		if (len == SHINGLE_BUF) {
			memmove(buf, buf + len - (w - 1), (w - 1) * sizeof(*buf));
			len = w - 1;
		}
		buf[len++] = word_hash(t, i);
		if (len >= w)
			out[i + 1 - w] = XXH3_64bits(buf + len - w, w * sizeof(*buf));
	}
	return m;
}
