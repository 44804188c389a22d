/* auth: the bearer token, loaded from a file and compared in constant time. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "xmalloc.h"

#define TOKEN_MIN	16
#define TOKEN_MAX	4096

struct auth {
	char	*token;
	size_t	 len;
};

int
auth_load(struct auth **out, const char *path)
{
	struct auth	*a;
	char		 buf[TOKEN_MAX + 2];
	size_t		 n;
	FILE		*f;

	if ((f = fopen(path, "re")) == NULL)
		return -errno;
	if (fgets(buf, sizeof(buf), f) == NULL)
		buf[0] = '\0';
	fclose(f);
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	if (n < TOKEN_MIN || n > TOKEN_MAX)
		return -EINVAL;
	a = xcalloc(1, sizeof(*a));
	a->token = xstrdup(buf);
	a->len = n;
	explicit_bzero(buf, sizeof(buf));
	*out = a;
	return 0;
}

void
auth_free(struct auth *a)
{
	if (a == NULL)
		return;
	explicit_bzero(a->token, a->len);
	free(a->token);
	free(a);
}

int
auth_check(const struct auth *a, const char *h)
{
	unsigned char	diff = 0;
	size_t		n;

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	h += 7;
	while (*h == ' ')
		h++;
	n = strlen(h);
	/* every byte of the token is compared, whatever the presented one holds */
	for (size_t i = 0; i < a->len; i++)
		diff |= (unsigned char)(a->token[i] ^ (i < n ? h[i] : 0));
	return diff == 0 && n == a->len;
}
