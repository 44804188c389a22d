/*
 * config: storyd's settings. One table in config.c drives the INI parsing
 * (inih), the defaults, validation, `storyd -n` and the test that
 * config/storyd.conf shows every key. Only main.c and config.c see struct
 * config; other modules get the parts they need.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "cluster.h"
#include "store.h"

struct config {
	char		*listen;		/* "host:port" */
	char		*data_dir;
	size_t		 max_request_bytes;
	unsigned	 max_batch;
	unsigned	 max_field_bytes;	/* title, source, url */
	size_t		 max_body_bytes;
	unsigned	 request_timeout;	/* seconds */
	size_t		 max_header_bytes;
	unsigned	 max_json_depth;
	unsigned	 max_connections;
	char		*token_file;		/* "" : none */
	int		 auth_reads;
	double		 access_log;		/* share of requests logged */
	unsigned	 max_long_polls;
	enum store_sync	 fsync;
	size_t		 snapshot_log_bytes;
	double		 snapshot_log_share;	/* of the newest snapshot's size */
	unsigned	 retention_hours;
	unsigned	 max_articles;
	int		 allow_truncate;
	struct cluster_params cluster;
	unsigned	 window_hours;		/* cluster.window in hours, as configured */
};

/* One error found while reading or checking a config; line 0: not from a file. */
typedef void	config_error_fn(const char *file, unsigned line, const char *key,
		    const char *msg, void *arg);

void	config_defaults(struct config *c);
void	config_fini(struct config *c);

/*
 * Read an INI file over the values in c. Every error (unknown section or key,
 * bad value, unreadable file) is passed to fn; returns how many there were.
 */
unsigned	config_load(struct config *c, const char *path, config_error_fn *fn, void *arg);

/* Set one key from outside a file (command-line flags). 0 or -EINVAL, msg set. */
int	config_set(struct config *c, const char *section, const char *key,
	    const char *value, const char **msg);

/* Derived values (LSH bands and rows, window in seconds); call after loading. */
void	config_finish(struct config *c);

/* For tests and help: the n-th key of the table, or NULL past the end. */
struct config_key_info {
	const char	*section, *key, *def, *help;
};
const struct config_key_info *config_key(size_t n, struct config_key_info *out);
