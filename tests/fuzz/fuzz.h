/*
 * fuzz: what the targets in tests/fuzz share. Each target defines
 * LLVMFuzzerTestOneInput(); built with clang and -Dfuzz=true it links
 * libFuzzer's main, otherwise replay.c's, which runs it once over each file of
 * a corpus (the fuzz-replay tests). Targets check with assert(), which stays
 * on (b_ndebug=false), so a broken property is a crash the fuzzer reports.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The shipped defaults (config.c's table, config_finish() applied); made once. */
const struct config	*fuzz_config(void);

/* The store parameters storyd derives from c, as main.c does. */
void	fuzz_store_params(const struct config *c, struct store_params *out);

/*
 * A private directory for this process, on tmpfs (/dev/shm) when there is
 * one, so that file-based targets stay fast; removed at exit.
 */
const char	*fuzz_dir(void);

/* Write name in dir with exactly the bytes given; aborts on failure. */
void	fuzz_write(const char *dir, const char *name, const void *p, size_t len);

/* Remove every file in dir (not the directory). */
void	fuzz_clear(const char *dir);

/*
 * store_open() dir, whatever it holds: recovery must succeed or refuse
 * (STORE_CORRUPT, STORE_NEWER), never crash. When it succeeds, store one more
 * article, close (a final snapshot) and reopen, which must succeed with the
 * same articles.
 */
void	fuzz_recover(const char *dir, const struct store_params *params);
