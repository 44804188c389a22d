/* test-fingerprint: what the whole analysis makes of real article text. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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
	struct article_text	 a = { title, strlen(title), body, strlen(body), "wire", 4, 1687161600 };
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
	struct article_text	 a = { "!!!", 3, "<p></p> -- ...", 14, NULL, 0, 0 };

	(void)state;
	cluster_params_default(&p);
	f = fingerprinter_new(&p);
	assert_int_equal(fingerprint(f, &a, &d), -ENODATA);
	assert_null(d);
	fingerprinter_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_curly_and_straight_quotes_give_the_same_fingerprints),
		cmocka_unit_test(test_a_new_headline_and_a_read_more_trailer_keep_the_text_a_near_duplicate),
		cmocka_unit_test(test_unrelated_texts_are_far_apart),
		cmocka_unit_test(test_text_without_words_is_no_data),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
