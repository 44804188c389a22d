/*
 * store: the articles storyd holds, by the client's id, and the clusterer
 * that groups them; their write-ahead log and snapshots. Article ids are
 * mapped to dense indexes, the ids the algorithms work with; the store keeps
 * what GET /v1/articles returns (not the body text: fingerprints are all the
 * clusterer needs, and the log keeps bodies only until the next snapshot).
 *
 * Every change (stored, replaced, deleted, evicted) is appended to the log
 * before memory changes; the append is buffered, and store_flush() writes it
 * (and fsyncs under fsync=always) once per loop turn, before any reply that
 * depends on it is sent: group commit. Recovery (store_open) is the latest
 * snapshot plus the log records after it, replayed through the same code, so
 * every article, duplicate_of, cluster id and feed sequence number comes back
 * as it was. Deterministic: the same calls in the same order give the same
 * state.
 *
 * Memory stays bounded: articles published more than `retention` seconds
 * before the newest one (an article's time counts at most up to its ingest
 * time) and the oldest beyond `max_articles` are evicted from every index.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cluster.h"
#include "fingerprint.h"
#include "histogram.h"

/* Positive outcomes the caller must handle; failures are -errno. */
enum {
	STORE_CREATED = 1,	/* a new id */
	STORE_REPLACED,		/* put with replace: the id had other content */
	STORE_SAME,		/* the id holds identical content: nothing changed */
	STORE_CONFLICT,		/* the id holds other content and replace was not asked */
	STORE_NO_WORDS,		/* title and body have no words to fingerprint */
	STORE_NOT_FOUND,
	STORE_CORRUPT,		/* store_open: a damaged log or snapshot; see the report */
	STORE_NEWER,		/* store_open: files made by a newer storyd */
};

enum store_sync {
	STORE_SYNC_ALWAYS,	/* fsync before the replies of each loop turn */
	STORE_SYNC_EVERYSEC,	/* write before replying, fsync once a second */
	STORE_SYNC_NO,		/* write before replying; the OS decides */
};

struct store_params {
	struct cluster_params	cluster;
	enum store_sync		sync;
	int64_t			retention;	/* seconds */
	uint32_t		max_articles;
	int			allow_truncate;	/* a corrupt log is cut at the damage, not refused */
};

/* What recovery found, for the log and for READY's STATUS line. */
struct store_report {
	int		snapshot;		/* a snapshot was loaded */
	uint64_t	snapshot_seq;
	uint64_t	replayed;		/* log records applied after it */
	int		torn;			/* a torn tail was dropped */
	char		torn_file[64];
	uint64_t	torn_offset, torn_bytes;
	int		truncated;		/* corruption was cut away (allow_truncate) */
	char		corrupt_what[160];	/* for STORE_CORRUPT and STORE_NEWER */
};

/* An article as submitted; strings are borrowed and need not be NUL-terminated. */
struct article_in {
	const char	*id;
	size_t		 id_len;
	const char	*title, *body, *source, *url;
	size_t		 title_len, body_len, source_len, url_len;
	int64_t		 published;	/* seconds since the epoch */
	int		 has_published;	/* 0: published is the ingest time */
	int64_t		 now;		/* ingest time */
	const unsigned char *kept;	/* the fingerprint the log kept, or a thread made (doc_encode()) */
	size_t		 kept_len;
	const unsigned char *chosen;	/* replay only: what the clusterer decided (log version 3) */
	size_t		 chosen_len;
};

/* An article held; its strings live in the same allocation. */
struct article {
	char		*id;
	char		*title, *source, *url;	/* NUL-terminated, "" when absent */
	int64_t		 published, ingested;
	uint64_t	 content[2];		/* XXH3-128 of what was submitted */
	uint32_t	 index;			/* the clusterer's id */
	uint16_t	 id_len;		/* strlen(id) */
	uint8_t		 status;		/* enum verdict_status at ingest */
};

struct store;

/* A store in memory only, with no log: for tests and tools. NULL: no memory. */
struct store	*store_new(const struct store_params *params);

/*
 * Recover the store kept in directory dir (created if missing) and open its
 * log for appending. 0, STORE_CORRUPT or STORE_NEWER (rep says what), or
 * -errno. The report is filled in every case.
 */
int	store_open(struct store **out, const char *dir, const struct store_params *params,
	    struct store_report *rep);

/* Flush the log, write a final snapshot, close everything. 0 or -errno (still freed). */
int	store_close(struct store *);
void	store_free(struct store *);	/* without a final snapshot; NULL is a no-op */

/*
 * Store a (replace: PUT semantics). Returns STORE_CREATED or STORE_REPLACED
 * with *out the verdict, STORE_SAME with *out the article's current state (no
 * matches), STORE_CONFLICT or STORE_NO_WORDS (nothing changed), or -errno.
 */
int	store_put(struct store *, const struct article_in *a, int replace, struct verdict *out);

/*
 * Store in[0..n) in order, each as store_put() does: results[i] is its
 * return and outs[i] its verdict. On a machine of more than one core, a
 * second thread fingerprints the batch from its end meanwhile (ahead.h),
 * which the loop would otherwise do itself; what is stored and decided is
 * the same.
 */
void	store_put_batch(struct store *, const struct article_in *in, size_t n, int replace,
	    int *results, struct verdict *outs);

/* The text fingerprint() analyses of a. */
struct article_text	store_text_of(const struct article_in *a);

/*
 * The second thread, for a caller that has it decode posts before it
 * fingerprints them (ahead_begin_posts()): NULL on one core or when it
 * cannot be started. The store frees it.
 */
struct ahead	*store_ahead(struct store *);

/*
 * If a (NULL: none) has article or post i of its open batch or stream
 * ready (ahead_ready()), ask for the memory that storing it will read
 * first (cluster_prefetch()): called a put ahead, its cache misses are
 * served while the put before it runs. A hint: nothing changes.
 */
void	store_prefetch_ready(struct store *, struct ahead *a, size_t i);

/*
 * store_put() (no replace) of an article the second thread fingerprinted
 * (ahead_take_post()): its doc, or fingerprint()'s error in r.
 */
int	store_put_fingerprinted(struct store *, const struct article_in *a,
	    const struct doc *doc, int r, struct verdict *out);

/* What store_put() would decide for a new article, changing nothing. */
int	store_similar(struct store *, const struct article_in *a, struct verdict *out);

/* Remove an article from every index: 0 or STORE_NOT_FOUND, or -errno. */
int	store_delete(struct store *, const char *id, size_t id_len);

/* Log bytes appended but not yet written: replies must wait for store_flush(). */
size_t	store_pending(const struct store *);

/* Write what is pending; fsync under STORE_SYNC_ALWAYS. 0 or -errno (sticky). */
int	store_flush(struct store *);

/* fsync what was written, on the caller's thread. 0 or -errno. */
int	store_sync(struct store *);

/*
 * The everysec timer: write what is pending and fsync it in the log's
 * background thread (wal_sync_start), after collecting the previous one's
 * outcome; skipped while that one still runs. 0 or -errno (sticky).
 */
int	store_sync_background(struct store *);

/* Change the fsync policy live (SIGHUP). */
void	store_set_sync(struct store *, enum store_sync sync);

/* Log bytes since the last snapshot: a snapshot is due past the configured size. */
uint64_t	store_log_bytes(const struct store *);

/*
 * Start a snapshot: the log moves to a new segment, and a thread rebuilds the
 * state as of the records before it from the last snapshot and the log, then
 * writes it (the loop goes on; its memory is not read). 0, -EBUSY when one is
 * running, -EAGAIN when the log's thread is first flushing the segment (call
 * again soon: at the end of a turn), or -errno. store_snapshot_poll()
 * collects it: 0 when none is running, SNAPSHOT_RUNNING, or the finished
 * one's result (1 done, -errno: store_stats()'s snapshot_error says why;
 * -EBADMSG: a damaged log or snapshot, which a restart would refuse too).
 */
int	store_snapshot_start(struct store *);
enum { STORE_SNAPSHOT_RUNNING = 2, STORE_SNAPSHOT_DONE = 1 };
int	store_snapshot_poll(struct store *, uint64_t *bytes);

const struct article	*store_find(const struct store *, const char *id, size_t id_len);
const struct article	*store_at(const struct store *, uint32_t index);	/* NULL: none */
struct clusterer	*store_clusterer(const struct store *);
size_t			 store_count(const struct store *);
uint64_t		 store_evicted(const struct store *);	/* since start */

/* What a background snapshot's rebuild started from. */
enum snapshot_from {
	SNAPSHOT_FROM_NOTHING,		/* no snapshot yet: the log alone */
	SNAPSHOT_FROM_DISK,		/* the last snapshot, read back */
	SNAPSHOT_FROM_KEPT,		/* the state the last rebuild wrote, kept in memory */
};

/* Where a background snapshot's time went: seconds, each on the clock. */
struct snapshot_phases {
	double			load;		/* the last snapshot read back */
	double			replay;		/* the log since, applied again */
	double			write;		/* the new one written and synced */
	double			cpu;		/* seconds the rebuild's thread ran, all phases */
	uint64_t		replayed;	/* log records applied */
	uint64_t		refused;	/* puts of them whose logged decision did not fit */
	enum snapshot_from	from;
};

/*
 * Figures for the metrics, kept as the store works: counting costs an
 * addition, timing a clock read around a write or fsync that costs far more.
 */
struct store_stats {
	uint64_t		 ingested[VERDICT_EXACT_DUPLICATE + 1];	/* store_put, by status */
	uint64_t		 fingerprinted_ahead;	/* off the loop: batches, a turn's posts, the log at recovery */
	uint64_t		 fingerprints_taken;	/* replayed puts that took the one their record kept */
	uint64_t		 decisions_taken;	/* replayed puts added as their record said, undecided */
	uint64_t		 decisions_refused;	/* theirs that did not fit, decided again; rebuilds' too */
	uint64_t		 log_written;		/* log bytes written since start */
	struct histogram	 fsync;			/* seconds per log write + fdatasync */
	struct histogram	 log_write;		/* seconds per write of pending records; not under always */
	uint64_t		 snapshots, snapshot_failures;	/* background ones since start */
	double			 snapshot_time;		/* when the newest snapshot was done (epoch s); 0: none */
	double			 snapshot_duration;	/* seconds the last background one took */
	double			 snapshot_rotation;	/* seconds its start held the loop (the log's rotation) */
	struct snapshot_phases	 snapshot_phases;	/* of the last background one written */
	double			 snapshot_cpu;		/* seconds every background one ran, failed too */
	uint64_t		 snapshot_bytes;	/* its size */
	int			 snapshot_running;
	char			 snapshot_error[160];	/* why the last one failed */
};
const struct store_stats	*store_stats(const struct store *);
