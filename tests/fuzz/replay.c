/*
 * replay: main() for fuzz targets built without libFuzzer (gcc, or clang
 * without -Dfuzz=true): run LLVMFuzzerTestOneInput() once on each file named,
 * and on each file in each directory named, in name order. No fuzzing: the
 * fuzz-replay tests use it to keep every seed and every past crash passing.
 * Arguments starting with '-' are libFuzzer flags and are ignored.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static int
run_file(const char *path)
{
	unsigned char	*buf;
	long		 n;
	FILE		*f;

	if ((f = fopen(path, "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		perror(path);
		return -1;
	}
	/* an exact-size copy, so ASan sees any read past the input */
	if ((buf = malloc(n > 0 ? (size_t)n : 1)) == NULL ||
	    (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
		perror(path);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int
main(int argc, char **argv)
{
	struct dirent	**names;
	struct stat	  st;
	char		  path[4096];
	unsigned	  inputs = 0, failed = 0;

	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-')
			continue;
		if (stat(argv[i], &st) != 0) {
			perror(argv[i]);
			failed++;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			failed += run_file(argv[i]) != 0;
			inputs++;
			continue;
		}
		int n = scandir(argv[i], &names, NULL, by_name);

		if (n < 0) {
			perror(argv[i]);
			failed++;
			continue;
		}
		for (int j = 0; j < n; j++) {
			snprintf(path, sizeof(path), "%s/%s", argv[i], names[j]->d_name);
			if (names[j]->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
				failed += run_file(path) != 0;
				inputs++;
			}
			free(names[j]);
		}
		free(names);
	}
	printf("replay: %u inputs, %u unreadable\n", inputs, failed);
	return inputs == 0 || failed > 0;
}
