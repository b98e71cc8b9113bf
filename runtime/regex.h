/*
** regex.h -- RE2 behind a small C API, shared by meshc (validation) and
** meshrt (matching). RE2 is the engine Envoy uses: the same syntax, and
** matching in time linear in the subject whatever the pattern.
**
** Patterns and subjects are UTF-8 byte ranges (no NUL terminator needed).
** Syntax: RE2's. One addition keeps us in step with Go's regexp, which Istio
** validates with: a named group may be written `(?<name>...)` as well as
** `(?P<name>...)` (older RE2 releases know only the second form).
**
** Errors: rx_compile returns NULL and writes RE2's message (for example
** "missing ): (abc") into err, truncated to errlen and NUL-terminated. No
** function throws or aborts on bad input; running out of memory is reported
** as an error too.
*/
#ifndef RX_REGEX_H
#define RX_REGEX_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rx rx;

#define RX_ERR_LEN 256

rx  *rx_compile(const char *pat, size_t len, char *err, size_t errlen);
void rx_free(rx *r);

/* Whole subject matches (Envoy's safe_regex on paths and headers). */
bool rx_full_match(const rx *r, const char *s, size_t n);
/* Some substring matches. */
bool rx_partial_match(const rx *r, const char *s, size_t n);
/* Number of capturing groups. */
int  rx_groups(const rx *r);
/* Is rewrite valid for r (groups it names exist, escapes well formed)?
** False with the reason in err. */
bool rx_check_rewrite(const rx *r, const char *rewrite, size_t rlen, char *err, size_t errlen);

/* Replace every non-overlapping match of r in s[0..n) with rewrite, where
** \0..\9 stand for the match and its groups and \\ for a backslash
** (Envoy's regex_rewrite, RE2's GlobalReplace). Writes a NUL-terminated
** result into out[0..cap); returns its length, -1 when cap is too small,
** -2 when rewrite names a group the pattern lacks or is malformed. */
long rx_replace_all(const rx *r, const char *s, size_t n, const char *rewrite, size_t rlen,
                    char *out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
