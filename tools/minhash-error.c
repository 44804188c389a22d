/*
 * minhash-error: how far storyd's MinHash Jaccard estimate (minhash.c, K
 * values, one-permutation hashing with densification) is from the exact
 * Jaccard similarity, from the whole signatures and from the byte a value
 * cluster.c keeps (minhash_keep(), minhash_jaccard_kept()).
 *
 * For each target J and set size n it makes TRIALS pairs of sets of n
 * distinct 64-bit hashes sharing m of them (J = m / (2n - m) exactly), signs
 * both, and prints the mean error, the mean absolute error and the standard
 * deviation of the estimate, then the same three of the kept estimate. Deterministic (XXH3 with fixed seeds). Build and
 * run from the source tree, after meson compile -C build:
 *
 *	cc -O2 -Iinclude tools/minhash-error.c build/libalgorithms.a \
 *	    -lxxhash -lutf8proc -lstemmer -lm -o minhash-error && ./minhash-error [K]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <xxhash.h>

#include "minhash.h"

#define TRIALS	2000

int
main(int argc, char **argv)
{
	static const double	targets[] = { 0.1, 0.25, 0.3, 0.5, 0.7, 0.9 };
	static const size_t	sizes[] = { 20, 200, 2000 };
	unsigned		k = argc > 1 ? (unsigned)atoi(argv[1]) : 128;
	uint32_t		*sa, *sb;
	uint8_t			*ka, *kb;
	uint64_t		*a, *b;
	size_t			 ti, si, t, i;

	if (k < 1 || k > 4096)
		return 2;
	sa = malloc(k * sizeof(*sa));
	sb = malloc(k * sizeof(*sb));
	a = malloc(2000 * sizeof(*a));
	b = malloc(2000 * sizeof(*b));
	ka = malloc(k);
	kb = malloc(k);
	if (sa == NULL || sb == NULL || a == NULL || b == NULL || ka == NULL || kb == NULL)
		return 1;
	printf("K = %u, %d pairs per row\n%8s %6s %8s %10s %10s %10s %8s %10s %10s %10s\n",
	    k, TRIALS, "n", "J", "exact J", "mean err", "mean |err|", "sd", "sqrt(J(1-J)/K)",
	    "kept err", "kept |err|", "kept sd");
	for (si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++)
		for (ti = 0; ti < sizeof(targets) / sizeof(targets[0]); ti++) {
			size_t	n = sizes[si];
			/* m shared of n each: J = m / (2n - m), so m = 2nJ / (1 + J) */
			size_t	m = (size_t)llround(2.0 * n * targets[ti] / (1 + targets[ti]));
			double	j = (double)m / (double)(2 * n - m), sum = 0, sabs = 0, ssq = 0;
			double	ksum = 0, ksabs = 0, kssq = 0;

			for (t = 0; t < TRIALS; t++) {
				uint64_t	seed = (uint64_t)t * 1000003 + si * 101 + ti;
				double		e;

				for (i = 0; i < n; i++) {
					a[i] = XXH3_64bits_withSeed(&i, sizeof(i), seed);
					if (i < m)
						b[i] = a[i];
					else {
						size_t	x = i + n;

						b[i] = XXH3_64bits_withSeed(&x, sizeof(x), seed);
					}
				}
				minhash_sign(a, n, k, sa);
				minhash_sign(b, n, k, sb);
				e = minhash_jaccard(sa, sb, k) - j;
				sum += e;
				sabs += fabs(e);
				ssq += e * e;
				for (i = 0; i < k; i++) {
					ka[i] = minhash_keep((unsigned)i, sa[i]);
					kb[i] = minhash_keep((unsigned)i, sb[i]);
				}
				e = minhash_jaccard_kept(ka, kb, k) - j;
				ksum += e;
				ksabs += fabs(e);
				kssq += e * e;
			}
			printf("%8zu %6.2f %8.3f %+10.4f %10.4f %10.4f %8.4f %+10.4f %10.4f %10.4f\n",
			    n, targets[ti], j, sum / TRIALS, sabs / TRIALS,
			    sqrt(ssq / TRIALS - (sum / TRIALS) * (sum / TRIALS)),
			    sqrt(j * (1 - j) / k), ksum / TRIALS, ksabs / TRIALS,
			    sqrt(kssq / TRIALS - (ksum / TRIALS) * (ksum / TRIALS)));
		}
	free(sa);
	free(sb);
	free(a);
	free(b);
	free(ka);
	free(kb);
	return 0;
}
