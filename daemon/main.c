/*
 * storyd: finds duplicate and related news stories. main() reads like the
 * table of contents: arguments, config, store, server, READY=1, the loop
 * until SIGTERM, STOPPING=1, then everything closed in reverse order.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "notify.h"
#include "server.h"
#include "store.h"

#ifndef STORYD_VERSION
#define STORYD_VERSION "0.0.0"
#endif

struct args {
	const char	*config;
	const char	*listen;
	const char	*data_dir;
	int		 check;
	int		 verbose;
};

/* One table drives getopt_long and --help. */
static const struct {
	struct option	 opt;
	const char	*arg, *help;
} options[] = {
	{ { "config", required_argument, NULL, 'c' }, "FILE", "read settings from FILE (INI)" },
	{ { "listen", required_argument, NULL, 'l' }, "ADDR:PORT", "listen there (port 0: any free port)" },
	{ { "data-dir", required_argument, NULL, 'd' }, "DIR", "keep the log and snapshots in DIR" },
	{ { "check-config", no_argument, NULL, 'n' }, NULL, "check the config file, report every error, exit" },
	{ { "verbose", no_argument, NULL, 'v' }, NULL, "log debug lines too" },
	{ { "help", no_argument, NULL, 'h' }, NULL, "show this help and exit" },
	{ { "version", no_argument, NULL, 'V' }, NULL, "show the version and exit" },
};

#define NOPTIONS	(sizeof(options) / sizeof(options[0]))

static void
usage(FILE *f)
{
	fprintf(f, "usage: storyd [-c FILE] [-l ADDR:PORT] [-d DIR] [-n] [-v] [-h] [-V]\n\n");
	for (size_t i = 0; i < NOPTIONS; i++) {
		char	left[40];

		snprintf(left, sizeof(left), "-%c, --%s%s%s", options[i].opt.val,
		    options[i].opt.name, options[i].arg ? " " : "", options[i].arg ? options[i].arg : "");
		fprintf(f, "  %-28s %s\n", left, options[i].help);
	}
	fprintf(f, "\nWithout a config file storyd uses built-in defaults: it listens on\n"
	    "127.0.0.1:7878 and keeps its data in ./data.\n");
}

static void
args_parse(int argc, char **argv, struct args *a)
{
	struct option	longopts[NOPTIONS + 1];
	char		shortopts[2 * NOPTIONS + 1], *p = shortopts;
	int		ch;

	for (size_t i = 0; i < NOPTIONS; i++) {
		longopts[i] = options[i].opt;
		*p++ = (char)options[i].opt.val;
		if (options[i].opt.has_arg == required_argument)
			*p++ = ':';
	}
	*p = '\0';
	memset(&longopts[NOPTIONS], 0, sizeof(longopts[NOPTIONS]));

	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': a->config = optarg; break;
		case 'l': a->listen = optarg; break;
		case 'd': a->data_dir = optarg; break;
		case 'n': a->check = 1; break;
		case 'v': a->verbose = 1; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("storyd %s\n", STORYD_VERSION); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "storyd: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		exit(2);
	}
}

static void
on_config_error(const char *file, unsigned line, const char *key, const char *msg, void *arg)
{
	(void)arg;
	if (line > 0 && key != NULL)
		log_warnx("%s:%u: %s: %s", file, line, key, msg);
	else if (line > 0)
		log_warnx("%s:%u: %s", file, line, msg);
	else
		log_warnx("%s: %s", file, msg);
}

/* Flags override the file; a bad flag value is reported like a bad key. */
static unsigned
config_apply_args(struct config *c, const struct args *a)
{
	const char	*msg;
	unsigned	 errors = 0;

	if (a->listen != NULL && config_set(c, "server", "listen", a->listen, &msg) != 0) {
		log_warnx("--listen %s: %s", a->listen, msg);
		errors++;
	}
	if (a->data_dir != NULL && config_set(c, "store", "data_dir", a->data_dir, &msg) != 0) {
		log_warnx("--data-dir %s: %s", a->data_dir, msg);
		errors++;
	}
	config_finish(c);
	return errors;
}

static void
server_params_from(const struct config *c, struct server_params *sp)
{
	*sp = (struct server_params){
		.listen = c->listen,
		.max_request_bytes = c->max_request_bytes,
		.max_batch = c->max_batch,
		.request_timeout = c->request_timeout,
		.max_header_bytes = c->max_header_bytes,
		.max_json_depth = c->max_json_depth,
		.max_connections = c->max_connections,
		.token_file = c->token_file,
		.auth_reads = c->auth_reads,
		.access_log = c->access_log,
		.max_long_polls = c->max_long_polls,
		.api = { .max_field_bytes = c->max_field_bytes, .max_body_bytes = c->max_body_bytes },
		.data_dir = c->data_dir,
		.store = {
			.cluster = c->cluster,
			.sync = c->fsync,
			.retention = (int64_t)c->retention_hours * 3600,
			.max_articles = c->max_articles,
			.allow_truncate = c->allow_truncate,
		},
		.snapshot_log_bytes = c->snapshot_log_bytes,
		.snapshot_log_share = c->snapshot_log_share,
	};
	/*
	 * the candidate indexes sized for the bound at once, so a growing daemon
	 * moves no ids and copies no arrays (README "Memory stays bounded")
	 */
	sp->store.cluster.room = c->max_articles;
}

struct reload_ctx {
	const struct args	*args;
};

/* SIGHUP: parse into a fresh config and hand it over only if it is valid. */
static void
on_reload(struct server *srv, void *arg)
{
	struct reload_ctx	*rc = arg;
	struct config		 cfg;
	struct server_params	 sp;
	unsigned		 errors = 0;

	log_info("storyd: SIGHUP received; reloading the configuration");
	config_defaults(&cfg);
	if (rc->args->config != NULL)
		errors = config_load(&cfg, rc->args->config, on_config_error, NULL);
	errors += config_apply_args(&cfg, rc->args);
	if (errors > 0)
		log_warnx("storyd: reload: %u error%s; keeping the running configuration", errors,
		    errors > 1 ? "s" : "");
	else {
		server_params_from(&cfg, &sp);
		server_reload(srv, &sp);
	}
	config_fini(&cfg);
}

static const char *
sync_name(enum store_sync s)
{
	return s == STORE_SYNC_ALWAYS ? "always" : s == STORE_SYNC_EVERYSEC ? "everysec" : "no";
}

/*
 * Blocks of a MiB and more get mappings of their own, so that growing one
 * is a mremap(), not a copy. glibc's own threshold rises as large blocks
 * are freed (up to 32 MiB), after which the clusterer's per-article arrays
 * were doubled by copying them while the loop waited: 21 and 30 ms at
 * 65,536 and 131,072 articles, 3 and 6 ms with this.
 */
static void
malloc_tune(void)
{
	mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
}

int
main(int argc, char **argv)
{
	struct args		 a = { 0 };
	struct reload_ctx	 rc = { &a };
	struct config		 cfg;
	struct server_params	 sp;
	struct server		*srv;
	unsigned		 errors = 0;
	int			 status;

	malloc_tune();
	args_parse(argc, argv, &a);
	log_init(a.verbose);
	config_defaults(&cfg);
	if (a.config != NULL)
		errors = config_load(&cfg, a.config, on_config_error, NULL);
	else if (a.check)
		fatalx("--check-config needs a file: storyd -n -c FILE");
	errors += config_apply_args(&cfg, &a);
	if (a.check) {
		if (errors == 0)
			printf("%s: configuration OK\n", a.config);
		config_fini(&cfg);
		return errors == 0 ? 0 : 1;
	}
	if (errors > 0)
		fatalx("%u error%s in the configuration; nothing started", errors, errors > 1 ? "s" : "");

	server_params_from(&cfg, &sp);
	if (server_open(&srv, &sp) != 0)
		fatalx("cannot start the server");
	srv->srv_reload = on_reload;
	srv->srv_reload_arg = &rc;
	log_info("storyd %s: listening on %s, data in %s, fsync %s", STORYD_VERSION, srv->srv_addr,
	    cfg.data_dir, sync_name(cfg.fsync));
	config_fini(&cfg);

	status = server_run(srv);

	if (server_close(srv) != 0 && status == 0)
		status = 1;
	log_info("storyd: stopped");
	return status;
}
