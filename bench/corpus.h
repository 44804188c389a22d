/*
 * corpus: the benchmarks' input, made deterministically from ../shared/data.
 *
 * corpus_load() reads the JSON Lines files (ECB+ bodies and titles, UCI
 * titles, the seed) and corpus_add_near_duplicates() appends an edited copy
 * of every article with a body. struct synth writes an endless stream of
 * synthetic articles from the corpus's own words (a story model with near and
 * exact duplicates), for the index and HTTP benchmarks that need more than
 * the 7,355 real ones. Same seed, same bytes, on every run.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "mix.h"

struct corpus_article {
	char		*title, *body, *source;
	size_t		 title_len, body_len, source_len;
};

struct corpus {
	struct corpus_article	*v;
	size_t			 n, cap;
	size_t			 bytes;		/* title + body bytes of all articles */
	uint32_t		*words;		/* every whitespace-separated body word, in order: its vocab index */
	size_t			 nwords;
	/*
	 * Each distinct word once, packed: the synthetic stream draws a word
	 * per ~7 bytes it writes, at random, and 307,000 separate allocations
	 * made every draw a cache miss (loadgen spent 60% of its time there).
	 */
	struct corpus_word {
		uint32_t	off, len;	/* in text */
	}			*vocab;
	size_t			 nvocab, vocab_cap;
	char			*text;
	size_t			 text_len, text_cap;
	uint32_t		*slots;		/* vocab index + 1 by hash, 0 empty; while loading */
	size_t			 nslots;
};

static inline uint64_t
rng_below(uint64_t *s, uint64_t n)
{
	return rng_next(s) % n;
}

/* Read dir/{ecbplus,uci-news-sample,seed-blinken}.jsonl. 0 or -errno (a message is printed). */
int	corpus_load(struct corpus *c, const char *dir);
void	corpus_free(struct corpus *c);

/*
 * For every article with a body, append a copy with deterministic edits: a
 * reworded title, one sentence dropped, 3% of the words replaced, a
 * sentence appended. Returns how many were added.
 */
size_t	corpus_add_near_duplicates(struct corpus *c, uint64_t seed);

/* The shared data directory: $STORYD_SHARED_DATA, else ../shared/data next to the source. */
const char	*corpus_default_dir(void);

struct synth_params {
	uint64_t	seed;
	unsigned	body_words;	/* mean body length in words; 0: titles only */
	double		p_near;		/* an edited copy of a recent article */
	double		p_exact;	/* a verbatim copy of a recent article */
	double		p_new_story;	/* otherwise: a new story, else a recent one */
	int64_t		start;		/* published time of the first article */
	double		interval;	/* seconds between publications */
};

void	synth_params_default(struct synth_params *p);

struct synth;

struct synth	*synth_new(const struct corpus *c, const struct synth_params *p);
void		 synth_free(struct synth *);

struct synth_article {
	const char	*title, *body, *source;	/* NUL-terminated, valid until the next call */
	size_t		 title_len, body_len, source_len;
	int64_t		 published;
	int		 kind;			/* SYNTH_NEW, SYNTH_NEAR, SYNTH_EXACT */
};

enum { SYNTH_NEW, SYNTH_NEAR, SYNTH_EXACT };

void	synth_next(struct synth *, struct synth_article *out);

/* Seconds on the monotonic clock. */
double	now_sec(void);

/*
 * CPU seconds of the calling thread: on a machine shared with other work,
 * time taken from us by others does not count (their effect on the caches
 * still does).
 */
double	cpu_sec(void);

/* Resident set size in bytes (from /proc/self/statm), 0 when unknown. */
size_t	rss_bytes(void);
