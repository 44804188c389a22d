/* test-fingerprint: what the whole analysis makes of real article text. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <xxhash.h>

#include "fingerprint.h"
#include "minhash.h"
#include "simhash.h"

/* blinken-1 of shared/data/seed-blinken.jsonl, as scraped */
static const char *seed_title = "Blinken to meet China's Xi Jinping on Monday, U.S. official says";
static const char *seed_body =
    "U.S. Secretary of State Antony Blinken is to meet with Chinese President Xi Jinping on "
    "Monday, as the top U.S. diplomat wraps up his rare two-day visit to Beijing amid simmering "
    "U.S.-China tensions.The trip by Blinken makes him the highest-level American official to "
    "visit China sincebecame U.S. president and the first U.S. secretary of State to make the "
    "trip in nearly five years.\nBlinken met top Chinese diplomat Wang Yi on Monday, after "
    "\"candid, substantive, and constructive talks\"";

struct fp {
	uint64_t	exact, simhash;
	uint32_t	sig[128];
	size_t		nterms;
};

static struct fp
analyse(const char *title, const char *body)
{
	struct cluster_params	 p;
	struct fingerprinter	*f;
	const struct doc	*d;
	struct article_text	 a = { .title = title, .title_len = strlen(title), .body = body,
				    .body_len = strlen(body), .source = "wire", .source_len = 4,
				    .published = 1687161600 };
	struct fp		 out;

	cluster_params_default(&p);
	assert_int_equal(p.k, 128);
	f = fingerprinter_new(&p);
	assert_non_null(f);
	assert_int_equal(fingerprint(f, &a, &d), 0);
	out.exact = d->exact;
	out.simhash = d->simhash;
	out.nterms = d->terms->n;
	memcpy(out.sig, d->sig, sizeof(out.sig));
	assert_true(d->terms->n <= p.doc_terms);
	fingerprinter_free(f);
	return out;
}

static void
test_curly_and_straight_quotes_give_the_same_fingerprints(void **state)
{
	struct fp	a = analyse(seed_title, seed_body);
	struct fp	b = analyse("Blinken to meet China\u2019s Xi Jinping on Monday, U.S. official says",
			    seed_body);

	(void)state;
	assert_true(a.exact == b.exact);
	assert_true(a.simhash == b.simhash);
	assert_memory_equal(a.sig, b.sig, sizeof(a.sig));
}

static void
test_a_new_headline_and_a_read_more_trailer_keep_the_text_a_near_duplicate(void **state)
{
	char		*body = strdup(seed_body), *cut;
	struct fp	 a = analyse(seed_title, seed_body), b;

	(void)state;
	cut = strstr(body, "\nBlinken met top");
	assert_non_null(cut);
	strcpy(cut, " Read more \u00bb");
	b = analyse("America's top diplomat ends Beijing trip", body);
	assert_true(a.exact != b.exact);
	assert_true(minhash_jaccard(a.sig, b.sig, 128) >= 0.5);
	free(body);
}

static void
test_unrelated_texts_are_far_apart(void **state)
{
	struct fp	a = analyse(seed_title, seed_body);
	struct fp	b = analyse("Quake hits California",
			    "A magnitude 6.1 earthquake struck off the coast of northern California "
			    "early on Tuesday, shaking buildings and cutting power to thousands.");

	(void)state;
	assert_true(minhash_jaccard(a.sig, b.sig, 128) < 0.1);
	assert_true(simhash_distance(a.simhash, b.simhash) > 10);
}

static void
test_text_without_words_is_no_data(void **state)
{
	struct cluster_params	 p;
	struct fingerprinter	*f;
	const struct doc	*d = NULL;
	struct article_text	 a = { .title = "!!!", .title_len = 3, .body = "<p></p> -- ...",
				    .body_len = 14 };

	(void)state;
	cluster_params_default(&p);
	f = fingerprinter_new(&p);
	assert_int_equal(fingerprint(f, &a, &d), -ENODATA);
	assert_null(d);
	fingerprinter_free(f);
}

/* ---- kept docs: doc_encode() and fingerprint() of a->kept ---- */

static const char *const sample[][2] = {
	{ "Blinken to meet China's Xi Jinping on Monday, U.S. official says", NULL },
	{ "Blinken meets Xi", "" },
	{ "", "Blinken met top Chinese diplomat Wang Yi on Monday in Beijing." },
	{ "Storm closes schools across the region",
	  "Heavy snow closed schools and roads on Tuesday; the weather service said "
	  "more was on the way. \u201cStay home,\u201d officials said. NASA and the "
	  "U.N. watched: \u00c9cole Polytechnique, Zürich, ΑΘΗΝΑ. 3.5% of 1,200." },
};

static struct article_text
sample_text(size_t i)
{
	const char	*body = sample[i][1] != NULL ? sample[i][1] : seed_body;

	return (struct article_text){ .title = sample[i][0], .title_len = strlen(sample[i][0]),
	    .body = body, .body_len = strlen(body), .source = "wire", .source_len = 4,
	    .published = 1687161600 + (int64_t)i };
}

/* doc_encode() of d under p, in a buffer the caller frees. */
static unsigned char *
encode(const struct doc *d, const struct cluster_params *p, size_t *len)
{
	unsigned char	*b;

	*len = doc_encoded_size(d, p);
	assert_non_null(b = malloc(*len));
	doc_encode(d, p, b);
	return b;
}

static void
assert_docs_equal(const struct doc *a, const struct doc *b, unsigned k)
{
	assert_int_equal(a->exact, b->exact);
	assert_int_equal(a->simhash, b->simhash);
	assert_int_equal(a->source, b->source);
	assert_int_equal(a->published, b->published);
	assert_int_equal(a->shingles, b->shingles);
	assert_memory_equal(a->sig, b->sig, k * sizeof(*a->sig));
	assert_int_equal(a->terms->n, b->terms->n);
	for (size_t i = 0; i < a->terms->n; i++) {
		assert_int_equal(a->terms->v[i].hash, b->terms->v[i].hash);
		assert_true(a->terms->v[i].weight == b->terms->v[i].weight);
		assert_string_equal(a->terms->words + a->terms->v[i].word,
		    b->terms->words + b->terms->v[i].word);
	}
}

/*
 * A kept doc is the analysis, read back, and its text is not read: given
 * with another text, fingerprint() still answers with the kept one (but the
 * source and time of the article it is given).
 */
static void
test_a_kept_doc_reads_back_as_the_analysis_without_the_text(void **state)
{
	struct cluster_params	 p;
	struct fingerprinter	*f, *g;
	const struct doc	*d, *e;

	(void)state;
	cluster_params_default(&p);
	assert_non_null(f = fingerprinter_new(&p));
	assert_non_null(g = fingerprinter_new(&p));
	for (size_t i = 0; i < sizeof(sample) / sizeof(sample[0]); i++) {
		struct article_text	 t = sample_text(i), other = sample_text((i + 1) % 4);
		size_t			 len;
		unsigned char		*b;

		assert_int_equal(fingerprint(f, &t, &d), 0);
		b = encode(d, &p, &len);
		other.kept = b;
		other.kept_len = len;
		other.source = t.source;
		other.source_len = t.source_len;
		other.published = t.published;
		assert_int_equal(fingerprint(g, &other, &e), 0);
		assert_docs_equal(d, e, p.k);
		free(b);
	}
	fingerprinter_free(f);
	fingerprinter_free(g);
}

/* The text analysed, as fingerprint() without a kept doc gives it, by a fresh fingerprinter. */
static void
assert_analysed(const struct cluster_params *p, const struct article_text *t, const struct doc *d)
{
	struct article_text	 plain = *t;
	struct fingerprinter	*f;
	const struct doc	*e;

	plain.kept = NULL;
	assert_non_null(f = fingerprinter_new(p));
	assert_int_equal(fingerprint(f, &plain, &e), 0);
	assert_docs_equal(d, e, p->k);
	fingerprinter_free(f);
}

/*
 * A doc kept by another version, or under other params, would not be the
 * doc this fingerprint() makes: the text is analysed instead.
 */
static void
test_a_kept_doc_of_another_version_or_params_is_analysed_again(void **state)
{
	struct cluster_params	 p;
	struct fingerprinter	*f;
	const struct doc	*d;
	struct article_text	 t = sample_text(0), seed = sample_text(2);
	unsigned char		*b;
	size_t			 len;
	uint64_t		 exact;

	(void)state;
	cluster_params_default(&p);
	assert_non_null(f = fingerprinter_new(&p));
	assert_int_equal(fingerprint(f, &seed, &d), 0);
	b = encode(d, &p, &len);
	t.kept = b;
	t.kept_len = len;
	for (int field = 0; field < 4; field++) {
		b[4 * field]++;			/* the version, k, shingle or doc_terms */
		assert_int_equal(fingerprint(f, &t, &d), 0);
		assert_analysed(&p, &t, d);
		b[4 * field]--;
	}
	assert_int_equal(fingerprint(f, &seed, &d), 0);
	exact = d->exact;
	assert_int_equal(fingerprint(f, &t, &d), 0);	/* as made: taken */
	assert_int_equal(d->exact, exact);
	fingerprinter_free(f);
	free(b);
}

/*
 * Damage that the log's checksum would not show (a bug, a hand-edited
 * file) must not reach the clusterer as a doc it cannot take: every
 * truncation, and terms out of order, doubled, of no weight or without a
 * word, give the text's own analysis. No crash, no read out of bounds
 * (the sanitizer build runs this too).
 */
static void
test_a_damaged_kept_doc_is_analysed_again(void **state)
{
	struct cluster_params	 p;
	struct fingerprinter	*f;
	const struct doc	*d;
	struct article_text	 t = sample_text(3);
	unsigned char		*b, *c;
	size_t			 len, terms_at, n;
	float			 bad[] = { 0.0f, -1.0f, NAN, INFINITY };

	(void)state;
	cluster_params_default(&p);
	assert_non_null(f = fingerprinter_new(&p));
	assert_int_equal(fingerprint(f, &t, &d), 0);
	n = d->terms->n;
	assert_true(n >= 3);
	b = encode(d, &p, &len);
	terms_at = 36 + 4 * (size_t)p.k + 4;
	for (size_t cut = 0; cut < len; cut++) {
		assert_non_null(c = malloc(cut + 1));	/* exactly cut bytes are readable */
		memcpy(c, b, cut);
		t.kept = c;
		t.kept_len = cut;
		assert_int_equal(fingerprint(f, &t, &d), 0);
		assert_analysed(&p, &t, d);
		free(c);
	}
	t.kept = b;
	t.kept_len = len;
	/* the first two terms swapped, then the second made the first's twin */
	unsigned char	first[12];

	memcpy(first, b + terms_at, 12);
	memcpy(b + terms_at, b + terms_at + 12, 12);
	memcpy(b + terms_at + 12, first, 12);
	assert_int_equal(fingerprint(f, &t, &d), 0);
	assert_analysed(&p, &t, d);
	memcpy(b + terms_at, b + terms_at + 12, 12);
	assert_int_equal(fingerprint(f, &t, &d), 0);
	assert_analysed(&p, &t, d);
	free(b);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct article_text	plain = sample_text(3);
		uint32_t		bits;

		assert_int_equal(fingerprint(f, &plain, &d), 0);
		b = encode(d, &p, &len);
		memcpy(&bits, &bad[i], sizeof(bits));
		for (int j = 0; j < 4; j++)	/* the second term's weight */
			b[terms_at + 12 + 8 + j] = (unsigned char)(bits >> (8 * j));
		t.kept = b;
		assert_int_equal(fingerprint(f, &t, &d), 0);
		assert_analysed(&p, &t, d);
		free(b);
	}
	/* a word's NUL gone: one word fewer than terms; then a byte after the last word */
	t.kept = NULL;
	assert_int_equal(fingerprint(f, &t, &d), 0);
	b = encode(d, &p, &len);
	assert_non_null(c = realloc(b, len + 1));
	b = c;
	b[len - 1] = 'x';
	t.kept = b;
	assert_int_equal(fingerprint(f, &t, &d), 0);
	assert_analysed(&p, &t, d);
	b[len - 1] = '\0';
	b[len] = 'x';
	t.kept_len = len + 1;
	assert_int_equal(fingerprint(f, &t, &d), 0);
	assert_analysed(&p, &t, d);
	t.kept_len = len;	/* as made: taken, not analysed */
	assert_int_equal(fingerprint(f, &t, &d), 0);
	assert_int_equal(fingerprinter_taken(f), 1);
	free(b);
	fingerprinter_free(f);
}

/*
 * The docs of the sample, as doc_encode() keeps them, hash to the value
 * pinned for this FINGERPRINT_VERSION. A change to fingerprinting that
 * changes a doc fails here: bump FINGERPRINT_VERSION and pin the new hash,
 * or the log's kept docs would be taken for the new analysis.
 */
static void
test_the_docs_of_this_version_are_pinned(void **state)
{
	struct cluster_params	 p;
	struct fingerprinter	*f;
	const struct doc	*d;
	XXH64_hash_t		 h = 0;

	(void)state;
	cluster_params_default(&p);
	assert_non_null(f = fingerprinter_new(&p));
	for (size_t i = 0; i < sizeof(sample) / sizeof(sample[0]); i++) {
		struct article_text	 t = sample_text(i);
		unsigned char		*b;
		size_t			 len;

		assert_int_equal(fingerprint(f, &t, &d), 0);
		b = encode(d, &p, &len);
		h = XXH3_64bits_withSeed(b, len, h);
		free(b);
	}
	fingerprinter_free(f);
	assert_int_equal(FINGERPRINT_VERSION, 1);
	if (h != 0x10efd995126d3d66)
		fail_msg("the docs hash to 0x%016llx: bump FINGERPRINT_VERSION and pin that",
		    (unsigned long long)h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_curly_and_straight_quotes_give_the_same_fingerprints),
		cmocka_unit_test(test_a_new_headline_and_a_read_more_trailer_keep_the_text_a_near_duplicate),
		cmocka_unit_test(test_unrelated_texts_are_far_apart),
		cmocka_unit_test(test_text_without_words_is_no_data),
		cmocka_unit_test(test_a_kept_doc_reads_back_as_the_analysis_without_the_text),
		cmocka_unit_test(test_a_kept_doc_of_another_version_or_params_is_analysed_again),
		cmocka_unit_test(test_a_damaged_kept_doc_is_analysed_again),
		cmocka_unit_test(test_the_docs_of_this_version_are_pinned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
