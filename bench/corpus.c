/* corpus: benchmark input from ../shared/data, real and synthetic. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "corpus.h"

static void *
xrealloc_or_die(void *p, size_t n)
{
	if ((p = realloc(p, n)) == NULL) {
		fprintf(stderr, "corpus: out of memory\n");
		exit(1);
	}
	return p;
}

static char *
dup_or_die(const char *s, size_t n)
{
	char	*p = xrealloc_or_die(NULL, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static void
field(json_t *o, const char *name, char **p, size_t *n)
{
	json_t	*v = json_object_get(o, name);

	if (json_is_string(v)) {
		*n = json_string_length(v);
		*p = dup_or_die(json_string_value(v), *n);
	} else {
		*n = 0;
		*p = dup_or_die("", 0);
	}
}

static void
append(struct corpus *c, const struct corpus_article *a)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 1024;
		c->v = xrealloc_or_die(c->v, c->cap * sizeof(*c->v));
	}
	c->v[c->n++] = *a;
	c->bytes += a->title_len + a->body_len;
}

/* The hash of a word, for the vocabulary's table. */
static uint64_t
word_hash(const char *s, size_t n)
{
	uint64_t	h = n;

	for (size_t i = 0; i < n; i++)
		h = mix64(h ^ (unsigned char)s[i]);
	return h;
}

/* The vocab index of the word s, added if it is new. */
static uint32_t
intern(struct corpus *c, const char *s, size_t n)
{
	size_t	i;

	if (2 * (c->nvocab + 1) > c->nslots) {
		free(c->slots);
		c->nslots = c->nslots ? 2 * c->nslots : 65536;
		c->slots = xrealloc_or_die(NULL, c->nslots * sizeof(*c->slots));
		memset(c->slots, 0, c->nslots * sizeof(*c->slots));
		for (uint32_t v = 0; v < c->nvocab; v++) {
			const struct corpus_word	*w = &c->vocab[v];

			for (i = word_hash(c->text + w->off, w->len) & (c->nslots - 1); c->slots[i];
			    i = (i + 1) & (c->nslots - 1))
				;
			c->slots[i] = v + 1;
		}
	}
	for (i = word_hash(s, n) & (c->nslots - 1); c->slots[i]; i = (i + 1) & (c->nslots - 1)) {
		const struct corpus_word	*w = &c->vocab[c->slots[i] - 1];

		if (w->len == n && memcmp(c->text + w->off, s, n) == 0)
			return c->slots[i] - 1;
	}
	if (c->nvocab == c->vocab_cap) {
		c->vocab_cap = c->vocab_cap ? 2 * c->vocab_cap : 4096;
		c->vocab = xrealloc_or_die(c->vocab, c->vocab_cap * sizeof(*c->vocab));
	}
	if (c->text_len + n + 1 > c->text_cap) {
		c->text_cap = 2 * (c->text_len + n + 1);
		c->text = xrealloc_or_die(c->text, c->text_cap);
	}
	memcpy(c->text + c->text_len, s, n);
	c->text[c->text_len + n] = '\0';
	c->vocab[c->nvocab] = (struct corpus_word){ .off = (uint32_t)c->text_len, .len = (uint32_t)n };
	c->text_len += n + 1;
	c->slots[i] = (uint32_t)++c->nvocab;
	return (uint32_t)(c->nvocab - 1);
}

/* Remember the body's words: the vocabulary the synthetic articles are drawn from. */
static void
collect_words(struct corpus *c, const char *s, size_t n)
{
	size_t	i = 0, cap = c->nwords;

	while (i < n) {
		size_t	j;

		while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r'))
			i++;
		for (j = i; j < n && s[j] != ' ' && s[j] != '\n' && s[j] != '\t' && s[j] != '\r'; j++)
			;
		if (j == i)
			break;
		if (c->nwords == cap) {
			cap = cap ? cap * 2 : 65536;
			c->words = xrealloc_or_die(c->words, cap * sizeof(*c->words));
		}
		c->words[c->nwords++] = intern(c, s + i, j - i);
		i = j;
	}
}

static int
load_file(struct corpus *c, const char *path)
{
	FILE	*f = fopen(path, "r");
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 len;
	int	 lineno = 0;

	if (f == NULL) {
		fprintf(stderr, "corpus: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		struct corpus_article	a;
		json_error_t		err;
		json_t			*o;

		lineno++;
		if ((o = json_loadb(line, (size_t)len, 0, &err)) == NULL) {
			fprintf(stderr, "corpus: %s:%d: %s\n", path, lineno, err.text);
			continue;
		}
		field(o, "title", &a.title, &a.title_len);
		field(o, "body", &a.body, &a.body_len);
		field(o, "source", &a.source, &a.source_len);
		json_decref(o);
		collect_words(c, a.body, a.body_len);
		append(c, &a);
	}
	free(line);
	fclose(f);
	return 0;
}

const char *
corpus_default_dir(void)
{
	const char	*d = getenv("STORYD_SHARED_DATA");

	if (d != NULL && *d != '\0')
		return d;
#ifdef BENCH_SHARED_DATA
	return BENCH_SHARED_DATA;
#else
	return "../shared/data";
#endif
}

int
corpus_load(struct corpus *c, const char *dir)
{
	static const char *const files[] = {
		"ecbplus.jsonl", "uci-news-sample.jsonl", "seed-blinken.jsonl",
	};
	char	path[4096];
	int	r;

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if ((r = load_file(c, path)) != 0)
			return r;
	}
	if (c->nwords == 0) {
		fprintf(stderr, "corpus: no body words in %s\n", dir);
		return -ENODATA;
	}
	free(c->slots);
	c->slots = NULL;
	c->nslots = 0;
	return 0;
}

void
corpus_free(struct corpus *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].title);
		free(c->v[i].body);
		free(c->v[i].source);
	}
	free(c->v);
	free(c->words);
	free(c->vocab);
	free(c->text);
	free(c->slots);
	memset(c, 0, sizeof(*c));
}

/* A growing string. */
struct sbuf {
	char	*p;
	size_t	 n, cap;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->p = xrealloc_or_die(b->p, b->cap);
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void
sb_word(struct sbuf *b, const char *s, size_t n)
{
	if (b->n > 0)
		sb_add(b, " ", 1);
	sb_add(b, s, n);
}

static void
sb_random_word(struct sbuf *b, const struct corpus *c, uint64_t *rng)
{
	const struct corpus_word	*w = &c->vocab[c->words[rng_below(rng, c->nwords)]];

	sb_word(b, c->text + w->off, w->len);
}

/*
 * Copy the words of s to b, replacing each with a random corpus word with
 * probability permille / 1000, and dropping the words of sentence number
 * `drop` (counted by words ending in '.'; -1: none).
 */
static void
edit_words(struct sbuf *b, const struct corpus *c, const char *s, size_t n, unsigned permille,
    long drop, uint64_t *rng)
{
	size_t	i = 0;
	long	sentence = 0;

	while (i < n) {
		size_t	j;

		while (i < n && s[i] == ' ')
			i++;
		for (j = i; j < n && s[j] != ' '; j++)
			;
		if (j == i)
			break;
		if (sentence != drop) {
			if (rng_below(rng, 1000) < permille)
				sb_random_word(b, c, rng);
			else
				sb_word(b, s + i, j - i);
		}
		if (s[j - 1] == '.')
			sentence++;
		i = j;
	}
}

size_t
corpus_add_near_duplicates(struct corpus *c, uint64_t seed)
{
	static const char tail[] = "Reporting by staff writers; editing by the news desk.";
	size_t	n = c->n, added = 0;
	uint64_t rng = seed;

	for (size_t i = 0; i < n; i++) {
		struct corpus_article	a, *o = &c->v[i];
		struct sbuf		t = { 0 }, b = { 0 };

		if (o->body_len == 0)
			continue;
		edit_words(&t, c, o->title, o->title_len, 150, -1, &rng);
		edit_words(&b, c, o->body, o->body_len, 30, (long)rng_below(&rng, 8), &rng);
		sb_word(&b, tail, sizeof(tail) - 1);
		a.title = t.p ? t.p : dup_or_die("", 0);
		a.title_len = t.n;
		a.body = b.p;
		a.body_len = b.n;
		a.source = dup_or_die(o->source, o->source_len);
		a.source_len = o->source_len;
		append(c, &a);
		added++;
	}
	return added;
}

#define SYNTH_TOPIC	24	/* words that characterise a story */
#define SYNTH_STORIES	4096	/* stories still receiving articles */
#define SYNTH_RECENT	512	/* articles a duplicate may copy */

struct synth {
	const struct corpus	*c;
	struct synth_params	 p;
	uint64_t		 rng;
	uint64_t		 i;
	uint32_t		 (*topics)[SYNTH_TOPIC];
	uint64_t		 nstories;
	struct sbuf		 recent_title[SYNTH_RECENT], recent_body[SYNTH_RECENT];
	const char		*recent_source[SYNTH_RECENT];
	uint64_t		 nrecent;
	struct sbuf		 title, body;
};

void
synth_params_default(struct synth_params *p)
{
	*p = (struct synth_params){
		.seed = 42,
		.body_words = 300,	/* ~2 KB, like the ECB+ bodies */
		.p_near = 0.15,
		.p_exact = 0.02,
		.p_new_story = 0.3,
		.start = 1700000000,
		.interval = 0.6,	/* 1,000,000 articles in a week: max_articles over retention_hours */
	};
}

struct synth *
synth_new(const struct corpus *c, const struct synth_params *p)
{
	struct synth	*s = xrealloc_or_die(NULL, sizeof(*s));

	memset(s, 0, sizeof(*s));
	s->c = c;
	s->p = *p;
	s->rng = p->seed;
	s->topics = xrealloc_or_die(NULL, SYNTH_STORIES * sizeof(*s->topics));
	return s;
}

void
synth_free(struct synth *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < SYNTH_RECENT; i++) {
		free(s->recent_title[i].p);
		free(s->recent_body[i].p);
	}
	free(s->title.p);
	free(s->body.p);
	free(s->topics);
	free(s);
}

/* A content word for a story's topic: long, half of them capitalized (names). */
static uint32_t
topic_word(struct synth *s)
{
	const struct corpus	*c = s->c;
	int			 name = rng_below(&s->rng, 2) == 0;
	uint32_t		 w = 0;

	for (int tries = 0; tries < 64; tries++) {
		const struct corpus_word	*v;

		w = c->words[rng_below(&s->rng, c->nwords)];
		v = &c->vocab[w];
		if (v->len >= 5 && (!name || (c->text[v->off] >= 'A' && c->text[v->off] <= 'Z')))
			break;
	}
	return w;
}

static void
compose(struct synth *s, struct sbuf *b, const uint32_t *topic, unsigned nwords, unsigned topic_pm)
{
	const struct corpus	*c = s->c;

	for (unsigned k = 0; k < nwords; k++) {
		if (rng_below(&s->rng, 1000) < topic_pm) {
			const struct corpus_word	*w = &c->vocab[topic[rng_below(&s->rng, SYNTH_TOPIC)]];

			sb_word(b, c->text + w->off, w->len);
		} else
			sb_random_word(b, c, &s->rng);
	}
}

static void
sb_copy(struct sbuf *dst, const struct sbuf *src)
{
	dst->n = 0;
	sb_add(dst, src->p ? src->p : "", src->n);
}

void
synth_next(struct synth *s, struct synth_article *out)
{
	const struct corpus	*c = s->c;
	double			 u = (double)(rng_next(&s->rng) >> 11) / 9007199254740992.0;
	size_t			 slot = s->nrecent % SYNTH_RECENT;
	const char		*source;

	s->title.n = s->body.n = 0;
	out->kind = SYNTH_NEW;
	if (s->nrecent > 0 && u < s->p.p_exact + s->p.p_near) {
		uint64_t	back = 1 + rng_below(&s->rng, s->nrecent < SYNTH_RECENT ? s->nrecent :
				    SYNTH_RECENT);
		size_t		from = (s->nrecent - back) % SYNTH_RECENT;
		struct sbuf	*t = &s->recent_title[from], *b = &s->recent_body[from];

		source = s->recent_source[from];
		if (u < s->p.p_exact) {
			sb_copy(&s->title, t);
			sb_copy(&s->body, b);
			out->kind = SYNTH_EXACT;
		} else {
			edit_words(&s->title, c, t->p, t->n, 200, -1, &s->rng);
			edit_words(&s->body, c, b->p, b->n, 30, (long)rng_below(&s->rng, 12),
			    &s->rng);
			out->kind = SYNTH_NEAR;
		}
	} else {
		uint64_t	st;

		if (s->nstories == 0 || rng_below(&s->rng, 1000) < s->p.p_new_story * 1000) {
			st = s->nstories++ % SYNTH_STORIES;
			for (int k = 0; k < SYNTH_TOPIC; k++)
				s->topics[st][k] = topic_word(s);
		} else {
			/* recent stories get more articles: the back distance is squared */
			uint64_t live = s->nstories < SYNTH_STORIES ? s->nstories : SYNTH_STORIES;
			uint64_t r = rng_below(&s->rng, 1024);

			st = (s->nstories - 1 - (r * r * live >> 20)) % SYNTH_STORIES;
		}
		compose(s, &s->title, s->topics[st], 6 + (unsigned)rng_below(&s->rng, 8), 500);
		if (s->p.body_words > 0)
			compose(s, &s->body, s->topics[st],
			    s->p.body_words / 2 + (unsigned)rng_below(&s->rng, s->p.body_words), 150);
		source = c->v[rng_below(&s->rng, c->n)].source;
	}
	if (s->title.p == NULL)
		sb_add(&s->title, "", 0);
	if (s->body.p == NULL)
		sb_add(&s->body, "", 0);
	sb_copy(&s->recent_title[slot], &s->title);
	sb_copy(&s->recent_body[slot], &s->body);
	s->recent_source[slot] = source;
	s->nrecent++;

	out->title = s->title.p;
	out->title_len = s->title.n;
	out->body = s->body.p;
	out->body_len = s->body.n;
	out->source = source;
	out->source_len = strlen(source);
	out->published = s->p.start + (int64_t)((double)s->i * s->p.interval);
	s->i++;
}

double
now_sec(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double
cpu_sec(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

size_t
rss_bytes(void)
{
	FILE		*f = fopen("/proc/self/statm", "r");
	unsigned long	 size, resident = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return resident * (size_t)sysconf(_SC_PAGESIZE);
}
