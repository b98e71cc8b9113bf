/*
** path.c -- Envoy/Istio path normalization. Semantics in path.h.
*/
#include "path.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* What to do with a byte met raw in the path. */
enum { PASS, UNESC, ESC, BAD };

static int raw_class(unsigned char c)
{
    if (c == 0) return BAD;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        c == '-' || c == '.' || c == '_' || c == '~')
        return UNESC;               /* also: decoded when met escaped */
    if (c <= 0x20 || c >= 0x7f || strchr("\"#<>?^`{|}", c)) return ESC;
    return PASS;
}

static int hexv(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

typedef struct obuf {
    char *p;
    size_t n, cap;
    bool full;
} obuf;

static void put(obuf *o, char c)
{
    if (o->n < o->cap) o->p[o->n++] = c;
    else o->full = true;
}

/* Length of a dot at in[i]: '.' is 1, "%2e"/"%2E" is 3, else 0. */
static size_t dot_at(const char *in, size_t i, size_t n)
{
    if (in[i] == '.') return 1;
    if (in[i] == '%' && i + 2 < n && in[i + 1] == '2' && (in[i + 2] == 'e' || in[i + 2] == 'E')) return 3;
    return 0;
}

static bool is_slash(char c) { return c == '/' || c == '\\'; }

/* After a dot segment start at j: how many more input bytes belong to
** it, and is it "." (1), ".." (2) or neither (0)? */
static int classify_dot(const char *in, size_t j, size_t n, size_t *more)
{
    *more = 0;
    if (j == n) return 1;
    if (is_slash(in[j])) { *more = 1; return 1; }
    size_t d2 = dot_at(in, j, n);
    if (d2) {
        size_t k = j + d2;
        if (k == n) { *more = d2; return 2; }
        if (is_slash(in[k])) { *more = d2 + 1; return 2; }
    }
    return 0;
}

/* Drop the last segment: the output ends with '/'; cut back to the
** previous '/' (never before the first). */
static void up_one(obuf *o)
{
    size_t i = o->n - 1;
    if (i == 0) return;
    i--;
    while (i > 0 && o->p[i] != '/') i--;
    o->n = i + 1;
}

static const char HEX[] = "0123456789ABCDEF";

/* Chromium-style path canonicalization of in[0..n) (no query). */
static bool canonicalize(const char *in, size_t n, obuf *o)
{
    bool good = true;
    long bad_pct = -4;              /* output index of a '%' that began no valid escape */
    if (n == 0 || !is_slash(in[0])) put(o, '/');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        size_t dl = dot_at(in, i, n);
        if (dl) {
            if (o->n > 0 && o->p[o->n - 1] == '/') {
                size_t more;
                int kind = classify_dot(in, i + dl, n, &more);
                if (kind == 0) put(o, '.');
                else if (kind == 2) up_one(o);
                i += dl + (kind ? more : 0) - 1;
            } else {
                put(o, '.');
                i += dl - 1;
            }
        } else if (c == '\\') {
            put(o, '/');
        } else if (c == '%') {
            int h = i + 2 < n ? hexv(in[i + 1]) : -1, l = i + 2 < n ? hexv(in[i + 2]) : -1;
            if (h < 0 || l < 0) {
                bad_pct = (long)o->n;
                put(o, '%');
                continue;
            }
            unsigned char v = (unsigned char)(h * 16 + l);
            if (raw_class(v) == UNESC) {
                put(o, (char)v);
                i += 2;
                /* a decoded byte right after an invalid '%' must not form
                ** a new valid escape with it: write that '%' as "%25" */
                if (!o->full && bad_pct >= (long)o->n - 3) {
                    size_t len0 = o->n;
                    bool append = bad_pct == (long)len0 - 2;
                    if (append) {
                        if (i + 1 >= n || (unsigned char)in[i + 1] >= 0x80) continue;
                        put(o, in[i + 1]);
                    }
                    size_t b = (size_t)bad_pct;
                    if (!o->full && b + 2 < o->n && hexv(o->p[b + 1]) >= 0 && hexv(o->p[b + 2]) >= 0) {
                        if (!append) put(o, o->p[b + 1]);
                        o->p[b + 1] = '2';
                        o->p[b + 2] = '5';
                        put(o, (char)v);
                    } else if (append) {
                        o->n = len0;
                    }
                }
            } else {
                put(o, '%');
                put(o, in[i + 1]);
                put(o, in[i + 2]);
                i += 2;
                if (v == 0) good = false;
            }
        } else if (raw_class(c) == BAD || raw_class(c) == ESC) {
            put(o, '%');
            put(o, HEX[c >> 4]);
            put(o, HEX[c & 15]);
            if (c == 0) good = false;
        } else {
            put(o, (char)c);
        }
    }
    return good;
}

/* Envoy's mergeSlashes on p[0..n) in place; returns the new length. */
static size_t merge_slashes(char *p, size_t n)
{
    if (!memmem(p, n, "//", 2)) return n;
    bool lead = n && p[0] == '/', trail = n && p[n - 1] == '/';
    size_t w = 0, i = 0;
    if (lead) p[w++] = '/';
    bool first = true;
    while (i < n) {
        while (i < n && p[i] == '/') i++;
        if (i >= n) break;
        if (!first) p[w++] = '/';
        first = false;
        while (i < n && p[i] != '/') p[w++] = p[i++];
    }
    if (trail) p[w++] = '/';
    return w;
}

/* %2F/%2f -> '/', %5C/%5c -> '\' in place; returns the new length and
** whether anything changed. */
static size_t unescape_slashes(char *p, size_t n, bool *changed)
{
    size_t w = 0;
    *changed = false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '%' && i + 2 < n && p[i + 1] == '2' && (p[i + 2] == 'F' || p[i + 2] == 'f')) {
            p[w++] = '/';
            i += 2;
            *changed = true;
        } else if (p[i] == '%' && i + 2 < n && p[i + 1] == '5' && (p[i + 2] == 'C' || p[i + 2] == 'c')) {
            p[w++] = '\\';
            i += 2;
            *changed = true;
        } else {
            p[w++] = p[i];
        }
    }
    return w;
}

ssize_t rt_path_normalize(rt_path_mode mode, const char *in, size_t len, char *out, size_t cap)
{
    const char *hash = memchr(in, '#', len);
    if (hash) len = (size_t)(hash - in);
    const char *q = memchr(in, '?', len);
    size_t plen = q ? (size_t)(q - in) : len, qlen = len - plen;
    size_t half = cap / 2;
    obuf o = { out, 0, mode == RT_PATH_DECODE_AND_MERGE_SLASHES ? half : cap, false };

    if (mode == RT_PATH_NONE) {
        if (len > cap) return RT_PATH_NOSPACE;
        memcpy(out, in, len);
        return (ssize_t)len;
    }
    if (!canonicalize(in, plen, &o)) return RT_PATH_REJECT;
    if (o.full) return RT_PATH_NOSPACE;
    size_t n = o.n;
    if (mode >= RT_PATH_MERGE_SLASHES) n = merge_slashes(out, n);
    if (mode == RT_PATH_DECODE_AND_MERGE_SLASHES) {
        bool changed;
        n = unescape_slashes(out, n, &changed);
        if (changed) {
            /* normalize again from a copy in the scratch half */
            memcpy(out + half, out, n);
            obuf o2 = { out, 0, half, false };
            if (!canonicalize(out + half, n, &o2)) return RT_PATH_REJECT;
            if (o2.full) return RT_PATH_NOSPACE;
            n = merge_slashes(out, o2.n);
        }
    }
    if (n + qlen > cap) return RT_PATH_NOSPACE;
    memcpy(out + n, in + plen, qlen);
    return (ssize_t)(n + qlen);
}

int rt_path_mode_parse(const char *s)
{
    if (!strcasecmp(s, "NONE")) return RT_PATH_NONE;
    if (!strcasecmp(s, "BASE") || !strcasecmp(s, "DEFAULT")) return RT_PATH_BASE;
    if (!strcasecmp(s, "MERGE_SLASHES")) return RT_PATH_MERGE_SLASHES;
    if (!strcasecmp(s, "DECODE_AND_MERGE_SLASHES")) return RT_PATH_DECODE_AND_MERGE_SLASHES;
    return -1;
}

const char *rt_path_mode_name(rt_path_mode m)
{
    switch (m) {
    case RT_PATH_NONE: return "NONE";
    case RT_PATH_BASE: return "BASE";
    case RT_PATH_MERGE_SLASHES: return "MERGE_SLASHES";
    case RT_PATH_DECODE_AND_MERGE_SLASHES: return "DECODE_AND_MERGE_SLASHES";
    }
    return "?";
}
