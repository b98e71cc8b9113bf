/*
** path.h -- request path normalization before routing, as Envoy does it
** for Istio's meshConfig.pathNormalization (ConnectionManagerUtility::
** maybeNormalizePath; PathUtil; Chromium's url::CanonicalizePath):
**
**   NONE                      only the fragment is removed
**   BASE (Istio's DEFAULT)    + RFC 3986 dot-segment removal
**   MERGE_SLASHES             + "//" collapsed to "/"
**   DECODE_AND_MERGE_SLASHES  + %2F/%2f -> '/' and %5C/%5c -> '\', then
**                               normalized and merged again
**
** The input is the origin-form path with its query ("/a/b?x=1"); the
** query is copied unchanged. The fragment, from the first '#' (even one
** inside the query) on, is dropped: Istio sets Envoy's
** http_reject_path_with_fragment to false, which strips it.
**
** BASE canonicalization, byte for byte what Envoy's Chromium-derived
** canonicalizer produces:
**   - a path not starting with '/' gets one ("a/b" -> "/a/b"), "" -> "/";
**   - '\' is a separator and is written as '/';
**   - "." and ".." segments are removed, also when spelled "%2e"/"%2E"
**     (so "/%2e%2e/x" -> "/x"), never climbing above the root
**     ("/../a" -> "/a"); a dot elsewhere in a segment stays (escaped dots
**     come out unescaped: "/a%2eb" -> "/a.b");
**   - escapes of unreserved characters are decoded ("%41" -> "A",
**     "%7E" -> "~"); other escapes keep their original case ("%2f" stays
**     "%2f", "%c0%af" stays); an invalid escape ("%zz", a lone "%")
**     stays literal, except that one which would turn into a valid
**     escape once its neighbours are decoded gets its '%' written as
**     "%25" ("%%30" would otherwise become "%0");
**   - bytes that must not appear raw (controls, space, '"', '<', '>',
**     '^', '`', '{', '|', '}', DEL, 0x80-0xFF) are escaped "%XX".
**   - "%00" (and a raw NUL) makes the path invalid: RT_PATH_REJECT, which
**     Envoy answers with 400 and details "path_normalization_failed".
**
** MERGE_SLASHES applies Envoy's mergeSlashes to the path part: only when
** it contains "//", the non-empty segments are joined with '/', keeping
** a leading and a trailing '/' ("//" therefore stays "//", as in Envoy).
*/
#ifndef RT_PATH_H
#define RT_PATH_H

#include <stddef.h>
#include <sys/types.h>

typedef enum rt_path_mode {
    RT_PATH_NONE,
    RT_PATH_BASE,
    RT_PATH_MERGE_SLASHES,
    RT_PATH_DECODE_AND_MERGE_SLASHES
} rt_path_mode;

#define RT_PATH_REJECT  (-1)    /* invalid path: 400 path_normalization_failed */
#define RT_PATH_NOSPACE (-2)    /* out too small */

/* Output capacity that always suffices for an input of len bytes (the
** second half of it is scratch space for the DECODE mode's second pass). */
#define RT_PATH_CAP(len) (6 * (size_t)(len) + 8)

/* "NONE", "BASE", "DEFAULT" (= BASE), "MERGE_SLASHES",
** "DECODE_AND_MERGE_SLASHES" (case-insensitive, as Istio's enum names);
** -1 for anything else. */
int rt_path_mode_parse(const char *s);
const char *rt_path_mode_name(rt_path_mode m);

/* Normalize in[0..len) into out (not NUL-terminated, must not overlap
** in). Returns the output length, RT_PATH_REJECT or RT_PATH_NOSPACE. */
ssize_t rt_path_normalize(rt_path_mode mode, const char *in, size_t len, char *out, size_t cap);

#endif
