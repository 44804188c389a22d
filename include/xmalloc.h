/*
 * xmalloc: allocation for daemon/ that aborts when memory runs out (tmux,
 * Redis). storyd bounds its memory with limits and retention instead of
 * half-handling NULL; algorithms/ does not use these and returns -ENOMEM.
 */
#pragma once
#include <stddef.h>

void	*xmalloc(size_t n);
void	*xcalloc(size_t nmemb, size_t size);
void	*xreallocarray(void *p, size_t nmemb, size_t size);
char	*xstrdup(const char *s);
char	*xstrndup(const char *s, size_t n);
void	*xpages_alloc(size_t bytes);	/* pages_alloc() (pages.h) */
