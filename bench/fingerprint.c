/*
 * bench/fingerprint: how fast fingerprint() analyses articles, next to the
 * hashing limit measured in the same run on the same bytes.
 *
 *   full        fingerprint(): normalize title and body, terms (stemmed,
 *               weighted), 3-word shingles, MinHash, SimHash, exact hash
 *   limit       normalize() title and body, then shingle_hashes() over the
 *               body's words (the title's when there is no body): every word
 *               hashed once with XXH3, every shingle once with XXH3
 *   raw         no normalization: split the bytes at ASCII non-alphanumerics,
 *               XXH3 each word, XXH3 each run of 3 word hashes
 *
 * plus the stages of full on their own (normalize; normalize + terms;
 * limit + MinHash), to show where its time goes. Times are the thread's CPU
 * time, and the passes alternate within each round, so a busy neighbour
 * slows all of them alike; ratios are taken per round and their median
 * reported with the spread.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "cluster.h"
#include "corpus.h"
#include "fingerprint.h"
#include "minhash.h"
#include "normalize.h"
#include "shingle.h"
#include "simhash.h"
#include "terms.h"

struct ctx {
	const struct corpus	*c;
	struct cluster_params	 params;
	struct fingerprinter	*fp;
	struct terms_ctx	*tc;
	struct minhasher	*mh;
	struct tokens		 title, body;
	struct terms		 terms;
	uint64_t		*sh;
	size_t			 sh_cap;
	uint32_t		*sig;
	uint64_t		 sink;	/* keeps the compiler from dropping work */
};

static void
normalize_both(struct ctx *x, const struct corpus_article *a)
{
	tokens_reset(&x->title);
	tokens_reset(&x->body);
	if (normalize(a->title, a->title_len, NORM_TITLE, &x->title) != 0 ||
	    normalize(a->body, a->body_len, 0, &x->body) != 0) {
		fprintf(stderr, "fingerprint: normalize: out of memory\n");
		exit(1);
	}
}

static size_t
shingles(struct ctx *x)
{
	const struct tokens	*t = x->body.n > 0 ? &x->body : &x->title;
	size_t			 n = shingle_count(t->n, x->params.shingle);

	if (n > x->sh_cap) {
		x->sh_cap = n * 2;
		if ((x->sh = realloc(x->sh, x->sh_cap * sizeof(*x->sh))) == NULL)
			exit(1);
	}
	return shingle_hashes(t, x->params.shingle, x->sh);
}

/* What fingerprint() takes of a corpus article. */
static struct article_text
text_of(const struct corpus_article *a)
{
	return (struct article_text){
		.title = a->title, .title_len = a->title_len,
		.body = a->body, .body_len = a->body_len,
		.source = a->source, .source_len = a->source_len,
		.published = 1700000000,
	};
}

static void
pass_full(struct ctx *x, const struct corpus_article *a)
{
	struct article_text	t = text_of(a);
	const struct doc	*d;

	if (fingerprint(x->fp, &t, &d) == 0)
		x->sink ^= d->simhash ^ d->sig[0];
}

static void
pass_limit(struct ctx *x, const struct corpus_article *a)
{
	size_t	n;

	normalize_both(x, a);
	n = shingles(x);
	if (n > 0)
		x->sink ^= x->sh[n - 1];
}

static void
pass_normalize(struct ctx *x, const struct corpus_article *a)
{
	normalize_both(x, a);
	x->sink ^= x->body.n + x->title.n;
}

static void
pass_terms(struct ctx *x, const struct corpus_article *a)
{
	normalize_both(x, a);
	if (terms_extract(x->tc, &x->title, &x->body, &x->terms) != 0)
		exit(1);
	x->sink ^= x->terms.n;
}

static void
pass_minhash(struct ctx *x, const struct corpus_article *a)
{
	size_t	n;

	normalize_both(x, a);
	n = shingles(x);
	minhasher_sign(x->mh, x->sh, n, x->sig);
	x->sink ^= x->sig[0];
}

/* h chained over n bytes at p */
static uint64_t
chain(uint64_t h, const void *p, size_t n)
{
	return XXH3_64bits_withSeed(p, n, h);
}

/*
 * One hash of everything fingerprint() and normalize() give for every article
 * of the set: a change meant only to be faster must leave it as it was.
 */
static uint64_t
digest(struct ctx *x, const struct corpus_article **set, size_t nset)
{
	uint64_t	h = 0;

	for (size_t i = 0; i < nset; i++) {
		const struct corpus_article	*a = set[i];
		struct article_text		 t = text_of(a);
		const struct doc		*d;
		int				 r = fingerprint(x->fp, &t, &d);

		h = chain(h, &r, sizeof(r));
		if (r == 0) {
			h = chain(h, &d->exact, sizeof(d->exact));
			h = chain(h, &d->simhash, sizeof(d->simhash));
			h = chain(h, &d->source, sizeof(d->source));
			h = chain(h, &d->shingles, sizeof(d->shingles));
			h = chain(h, d->sig, x->params.k * sizeof(*d->sig));
			for (size_t j = 0; j < d->terms->n; j++) {
				const struct term	*tm = &d->terms->v[j];

				h = chain(h, &tm->hash, sizeof(tm->hash));
				h = chain(h, &tm->weight, sizeof(tm->weight));
				h = chain(h, d->terms->words + tm->word, strlen(d->terms->words + tm->word));
			}
		}
		normalize_both(x, a);
		for (const struct tokens *tk = &x->title; tk != NULL; tk = tk == &x->title ? &x->body : NULL)
			for (size_t j = 0; j < tk->n; j++) {
				h = chain(h, &tk->v[j].flags, sizeof(tk->v[j].flags));
				h = chain(h, tk->text + tk->v[j].off, tk->v[j].len);
			}
	}
	return h;
}

static int
is_word_byte(unsigned char ch)
{
	return ch >= 0x80 || (ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z');
}

/* Hash the words of s into a 3-word sliding window; returns the shingle count. */
static size_t
raw_text(const char *s, size_t len, uint64_t *sink)
{
	uint64_t	w[3];
	size_t		i = 0, nw = 0, nsh = 0;

	while (i < len) {
		size_t	j;

		while (i < len && !is_word_byte((unsigned char)s[i]))
			i++;
		for (j = i; j < len && is_word_byte((unsigned char)s[j]); j++)
			;
		if (j == i)
			break;
		w[nw % 3] = XXH3_64bits(s + i, j - i);
		if (++nw >= 3) {
			uint64_t	win[3] = { w[(nw - 3) % 3], w[(nw - 2) % 3], w[(nw - 1) % 3] };

			*sink ^= XXH3_64bits(win, sizeof(win));
			nsh++;
		}
		i = j;
	}
	return nsh;
}

static void
pass_raw(struct ctx *x, const struct corpus_article *a)
{
	if (a->body_len > 0)
		raw_text(a->body, a->body_len, &x->sink);
	else
		raw_text(a->title, a->title_len, &x->sink);
	/* the title's words are read too, as normalize() reads them */
	raw_text(a->title, a->title_len, &x->sink);
}

struct pass {
	const char	*name;
	void		(*fn)(struct ctx *, const struct corpus_article *);
};

static const struct pass passes[] = {
	{ "full fingerprint()", pass_full },
	{ "limit: normalize+shingle XXH3", pass_limit },
	{ "raw: split+XXH3 per shingle", pass_raw },
	{ "stage: normalize", pass_normalize },
	{ "stage: normalize+terms", pass_terms },
	{ "stage: limit+MinHash", pass_minhash },
};
#define NPASSES	(sizeof(passes) / sizeof(passes[0]))

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * One body of n bytes, the corpus's bodies end to end, through a fresh
 * fingerprinter: the time it takes (the loop's, for a post that long) and
 * the resident memory the fingerprinter keeps after it, scratch space sized
 * for the longest body it has met.
 */
static int
one_long_body(const struct corpus *c, const struct cluster_params *p, size_t n)
{
	struct fingerprinter	*fp = fingerprinter_new(p);
	struct article_text	 a = { .title = "A long one", .title_len = 10, .published = 1 };
	const struct doc	*d;
	char			*body = malloc(n);
	size_t			 len = 0, rss0;
	double			 t;

	if (fp == NULL || body == NULL)
		return 1;
	while (len < n) {
		for (size_t i = 0; i < c->n && len < n; i++) {
			size_t	k = c->v[i].body_len < n - len ? c->v[i].body_len : n - len;

			memcpy(body + len, c->v[i].body, k);
			len += k;
			if (len < n)
				body[len++] = ' ';
		}
	}
	a.body = body;
	a.body_len = n;
	rss0 = rss_bytes();
	t = cpu_sec();
	if (fingerprint(fp, &a, &d) != 0)
		return 1;
	t = cpu_sec() - t;
	printf("one body of %zu bytes: %.1f ms; the fingerprinter keeps %.1f MB more resident\n",
	    n, t * 1e3, (double)(rss_bytes() - rss0) / 1e6);
	fingerprinter_free(fp);
	free(body);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: fingerprint [-B | -T] [-L BYTES] [-d DATA_DIR] [-r ROUNDS]\n"
	    "       [-m MIN_SECONDS_PER_PASS] [-P PASS] [-V]\n"
	    "  -B  only the articles with a body (ECB+, the seed and their near-duplicates)\n"
	    "  -T  only the articles without one (UCI headlines)\n"
	    "  -L  fingerprint one body of BYTES (the corpus's bodies end to end) and\n"
	    "      print its time and what the fingerprinter keeps of it, and exit\n"
	    "  -P  run only pass number PASS (0: full ... 5), for a profiler\n"
	    "  -V  print one hash of every article's fingerprint and words, and exit:\n"
	    "      a change meant only to be faster must leave it as it was\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char	*dir = corpus_default_dir();
	unsigned	 rounds = 7;
	double		 min_pass = 0.25;
	struct corpus	 c;
	struct ctx	 x;
	int		 ch, bodies = 0, titles = 0, only = -1, verify = 0;
	size_t		 long_body = 0;

	while ((ch = getopt(argc, argv, "BTL:d:r:m:P:Vh")) != -1) {
		switch (ch) {
		case 'P': only = atoi(optarg); break;
		case 'B': bodies = 1; break;
		case 'T': titles = 1; break;
		case 'L': long_body = strtoul(optarg, NULL, 10); break;
		case 'V': verify = 1; break;
		case 'd': dir = optarg; break;
		case 'r': rounds = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'm': min_pass = strtod(optarg, NULL); break;
		default: usage();
		}
	}
	if (rounds < 1 || rounds > 1000 || !(min_pass > 0 && min_pass < 60) ||
	    only >= (int)NPASSES || (bodies && titles))
		usage();
	if (corpus_load(&c, dir) != 0)
		return 1;
	size_t real = c.n;

	corpus_add_near_duplicates(&c, 7);

	/* the articles measured: all, with -B those with a body, with -T the others */
	const struct corpus_article	**set = calloc(c.n, sizeof(*set));
	size_t				  nset = 0, bytes = 0, nreal = 0;

	if (set == NULL)
		return 1;
	for (size_t i = 0; i < c.n; i++) {
		if ((bodies && c.v[i].body_len == 0) || (titles && c.v[i].body_len > 0))
			continue;
		set[nset++] = &c.v[i];
		bytes += c.v[i].title_len + c.v[i].body_len;
		nreal += i < real;
	}

	memset(&x, 0, sizeof(x));
	x.c = &c;
	cluster_params_default(&x.params);
	x.fp = fingerprinter_new(&x.params);
	x.tc = terms_ctx_new();
	x.mh = minhasher_new(x.params.k);
	x.sig = calloc(x.params.k, sizeof(*x.sig));
	if (x.fp == NULL || x.tc == NULL || x.mh == NULL || x.sig == NULL)
		return 1;
	tokens_init(&x.title);
	tokens_init(&x.body);
	terms_init(&x.terms);

	if (long_body > 0)
		return one_long_body(&c, &x.params, long_body);
	if (verify) {
		printf("digest %016llx of %zu articles\n",
		    (unsigned long long)digest(&x, set, nset), nset);
		return 0;
	}
	printf("corpus: %zu articles (%zu real, %zu near-duplicates), %.2f MB of title+body, "
	    "mean %.0f bytes\n", nset, nreal, nset - nreal, bytes / 1e6, (double)bytes / nset);
	printf("params: k=%u shingle=%u doc_terms=%u; %u rounds, each pass >= %.2f s\n",
	    x.params.k, x.params.shingle, x.params.doc_terms, rounds, min_pass);

	double	 rate[NPASSES][1000], ratio_limit[1000], ratio_raw[1000];

	if (only >= 0) {
		double	t0 = cpu_sec();
		size_t	done = 0;

		while (cpu_sec() - t0 < min_pass * rounds && done < 100000)
			for (size_t i = 0; i < nset; i++, done++)
				passes[only].fn(&x, set[i]);
		printf("%s: %.0f articles/s\n", passes[only].name, done / (cpu_sec() - t0));
		return 0;
	}
	/* warm-up: caches, the stemmer's and the scratch buffers' allocations */
	for (size_t p = 0; p < NPASSES; p++)
		for (size_t i = 0; i < nset; i++)
			passes[p].fn(&x, set[i]);
	for (unsigned r = 0; r < rounds; r++) {
		for (size_t p = 0; p < NPASSES; p++) {
			double		t0 = cpu_sec(), t;
			uint64_t	done = 0;

			/* whole passes over the corpus until min_pass has gone by (at most 10,000) */
			for (unsigned rep = 0; rep < 10000; rep++) {
				for (size_t i = 0; i < nset; i++)
					passes[p].fn(&x, set[i]);
				done++;
				if ((t = cpu_sec() - t0) >= min_pass)
					break;
			}
			t = cpu_sec() - t0;
			rate[p][r] = (double)done * nset / t;
		}
		ratio_limit[r] = rate[0][r] / rate[1][r];
		ratio_raw[r] = rate[0][r] / rate[2][r];
	}

	printf("\n%-32s %12s %10s %10s %s\n", "pass", "articles/s", "MB/s", "us/article",
	    "(median of rounds; min..max articles/s)");
	for (size_t p = 0; p < NPASSES; p++) {
		double	v[1000], lo, hi, m;

		memcpy(v, rate[p], rounds * sizeof(double));
		m = median(v, rounds);
		lo = v[0];
		hi = v[rounds - 1];
		printf("%-32s %12.0f %10.1f %10.2f (%.0f..%.0f)\n", passes[p].name, m,
		    m * bytes / nset / 1e6, 1e6 / m, lo, hi);
	}
	double ml = median(ratio_limit, rounds), mr = median(ratio_raw, rounds);

	printf("\nratio full / limit: %.3f (rounds: %.3f..%.3f)  target >= 0.5: %s\n", ml,
	    ratio_limit[0], ratio_limit[rounds - 1], ml >= 0.5 ? "met" : "NOT met");
	printf("ratio full / raw:   %.3f (rounds: %.3f..%.3f)\n", mr, ratio_raw[0],
	    ratio_raw[rounds - 1]);
	fflush(stdout);
	fprintf(stderr, "(sink %llx)\n", (unsigned long long)x.sink);

	fingerprinter_free(x.fp);
	terms_ctx_free(x.tc);
	minhasher_free(x.mh);
	terms_fini(&x.terms);
	tokens_fini(&x.title);
	tokens_fini(&x.body);
	free(x.sh);
	free(x.sig);
	free(set);
	corpus_free(&c);
	return 0;
}
