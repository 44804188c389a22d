/*
 * verdict-equal: one assertion shared by the unit tests that compare two
 * ways of reaching a verdict. Include after <cmocka.h> and "cluster.h".
 */
#pragma once

/* Every field of two verdicts equal, similarities to the bit. */
static inline void
assert_verdict_equal(const struct verdict *a, const struct verdict *b)
{
	assert_int_equal(a->status, b->status);
	assert_int_equal(a->story, b->story);
	assert_int_equal(a->duplicate_of, b->duplicate_of);
	assert_int_equal(a->nmatches, b->nmatches);
	for (size_t i = 0; i < a->nmatches; i++) {
		assert_int_equal(a->matches[i].id, b->matches[i].id);
		assert_int_equal(a->matches[i].kind, b->matches[i].kind);
		assert_true(a->matches[i].similarity == b->matches[i].similarity);
	}
}
