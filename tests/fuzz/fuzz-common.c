/* fuzz-common: configuration and scratch directories for the fuzz targets. */
#include <sys/stat.h>

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

const struct config *
fuzz_config(void)
{
	static struct config	c;
	static int		done;

	if (!done) {
		config_defaults(&c);
		config_finish(&c);
		done = 1;
	}
	return &c;
}

void
fuzz_store_params(const struct config *c, struct store_params *out)
{
	*out = (struct store_params){
		.cluster = c->cluster,
		.sync = c->fsync,
		.retention = (int64_t)c->retention_hours * 3600,
		.max_articles = c->max_articles,
		.allow_truncate = c->allow_truncate,
	};
}

static char	dir_path[256];

void
fuzz_clear(const char *dir)
{
	struct dirent	*de;
	DIR		*d;
	int		 fd;

	if ((d = opendir(dir)) == NULL)
		return;
	fd = dirfd(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			unlinkat(fd, de->d_name, 0);
	closedir(d);
}

static void
on_exit_remove(void)
{
	fuzz_clear(dir_path);
	rmdir(dir_path);
}

const char *
fuzz_dir(void)
{
	const char	*base = getenv("FUZZ_TMPDIR");
	struct stat	 st;

	if (dir_path[0] != '\0')
		return dir_path;
	if (base == NULL || *base == '\0')
		base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
		    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir_path, sizeof(dir_path), "%s/storyd-fuzz.XXXXXX", base);
	if (mkdtemp(dir_path) == NULL) {
		perror(dir_path);
		abort();
	}
	atexit(on_exit_remove);
	return dir_path;
}

void
fuzz_write(const char *dir, const char *name, const void *p, size_t len)
{
	char	path[512];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL || (len > 0 && fwrite(p, 1, len, f) != len) ||
	    fclose(f) != 0) {
		perror(path);
		abort();
	}
}

/* Recover; on success change something and check the result survives a restart. */
void
fuzz_recover(const char *dir, const struct store_params *params)
{
	struct store_report	 rep;
	struct article_in	 in = {
		.id = "fuzz-extra", .id_len = 10,
		.title = "Storm closes port", .title_len = 17,
		.body = "A storm closed the port of Rotterdam on Monday.", .body_len = 47,
		.now = 1700000000,
	};
	struct verdict		 v;
	struct store		*s;
	size_t			 count;
	int			 r, held;

	r = store_open(&s, dir, params, &rep);
	assert(r == 0 || r == STORE_CORRUPT || r == STORE_NEWER || r == -ENOMEM);
	if (r != 0)
		return;
	r = store_put(s, &in, 1, &v);
	assert(r == STORE_CREATED || r == STORE_REPLACED || r == STORE_SAME);
	assert(store_flush(s) == 0);
	count = store_count(s);
	/* retention may evict it at once if the log holds articles from far ahead */
	held = store_find(s, "fuzz-extra", 10) != NULL;
	assert(store_close(s) == 0);
	r = store_open(&s, dir, params, &rep);
	if (r != 0)
		fprintf(stderr, "fuzz_recover: reopening gave %d: %s\n", r, rep.corrupt_what);
	assert(r == 0);
	assert(store_count(s) == count);
	assert((store_find(s, "fuzz-extra", 10) != NULL) == held);
	store_free(s);
}
