/*
** regex.h -- RE2 behind a tiny C API (the engine Envoy uses: same syntax,
** linear-time matching on hostile input). Compiled patterns are immutable
** and may be shared by threads.
*/
#ifndef RX_REGEX_H
#define RX_REGEX_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rx rx;

/* Compile pattern[0..len) (RE2 syntax, UTF-8). NULL on error, with RE2's
** message in err. */
rx  *rx_compile(const char *pattern, size_t len, char *err, size_t errlen);
void rx_free(rx *r);
/* The whole of s[0..len) matches (Envoy's safe_regex). */
bool rx_full_match(const rx *r, const char *s, size_t len);
/* Some part of s matches. */
bool rx_partial_match(const rx *r, const char *s, size_t len);
/* Every non-overlapping match in s replaced by rewrite, where \0..\9
** stand for the match and its groups and \\ for a backslash (RE2's
** GlobalReplace). Writes a NUL-terminated result into out; returns its
** length, -1 when cap is too small, -2 when rewrite names a group the
** pattern does not have. Does not allocate. */
long rx_replace_all(const rx *r, const char *s, size_t len, const char *rewrite, size_t rlen,
                    char *out, size_t cap);
/* Number of capturing groups. */
int  rx_groups(const rx *r);

#ifdef __cplusplus
}
#endif

#endif
