/*
 * rfc3339: timestamps as the API writes them. Parsing accepts RFC 3339
 * date-times ("2023-06-19T08:00:00Z", "2023-06-19t10:00:00.5+02:00") and
 * rejects anything else, impossible dates included; fractions of a second
 * are dropped. Output is always UTC with seconds: "2023-06-19T08:00:00Z".
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define RFC3339_LEN	21	/* "YYYY-MM-DDTHH:MM:SSZ" and its NUL */

/* Seconds since the epoch in *out, or -EINVAL (and *out untouched). */
int	rfc3339_parse(const char *s, size_t len, int64_t *out);

/* Write t to buf (RFC3339_LEN bytes); returns buf. */
char	*rfc3339_format(int64_t t, char buf[RFC3339_LEN]);
