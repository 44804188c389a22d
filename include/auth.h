/*
 * auth: an optional bearer token that clients must present, read from a
 * file the configuration names (never from the command line, where ps would
 * show it). Writes always need it when one is set; reads need it when
 * auth_reads is set. /healthz and /readyz never do, so probes keep working.
 */
#pragma once
#include <stddef.h>

struct auth;

/*
 * Read the token from path: the file's first line, without the line end;
 * it must be at least 16 bytes. 0, -EINVAL (too short or empty), or -errno.
 */
int	auth_load(struct auth **out, const char *path);
void	auth_free(struct auth *);

/*
 * Does an Authorization header value carry the token? Compared in time that
 * depends only on the lengths, not on where the first difference is.
 */
int	auth_check(const struct auth *, const char *authorization);
