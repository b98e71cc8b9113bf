/*
** image.c -- the route image verifier (uBPF's validate() idea): every
** offset, length, index, count, string and cross-reference is checked once,
** before the first lookup, and a bad image is refused with the file offset
** of the first bad byte. After img_verify() succeeds, table.c reads the
** image without any bounds check.
**
** Order of the checks (the cheap ones first, each with its own message, as
** Lua's checkHeader): size, magic, newline bytes, byte order, version,
** total size, section count, checksum, section table, the string section's
** guards, records field by field (from the descriptors in image.h, each at
** its own width), then the rules that tie records together (kind-dependent
** indexes, target words against their clusters, host-table placement, trie
** order, relative row numbers, sorted clusters, regex syntax).
*/
#include "image.h"
#include "regex.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* ------------------------------------------------------------ names */

#define ROW_NAME(n, s) s,
#define ENUM_TABLE(n, list) static const char *const names_##n[] = { list(ROW_NAME) };
IMG_ENUMS(ENUM_TABLE)
#undef ENUM_TABLE

static const struct { const char *const *names; uint32_t n; } enums[] = {
#define ENUM_ROW(n, list) { names_##n, sizeof names_##n / sizeof names_##n[0] },
    IMG_ENUMS(ENUM_ROW)
#undef ENUM_ROW
};

const char *img_enum_name(img_enum e, uint32_t v)
{
    if ((unsigned)e >= IMG_E_COUNT_ || v >= enums[e].n) return "?";
    return enums[e].names[v];
}

uint32_t img_enum_count(img_enum e) { return (unsigned)e < IMG_E_COUNT_ ? enums[e].n : 0; }

static const struct { const char *name; uint32_t id, recsize; } sections[] = {
#define SEC_ROW(n, id, t) { #n, id, (uint32_t)sizeof(t) },
    IMG_SECTIONS(SEC_ROW)
#undef SEC_ROW
};

const char *img_section_name(img_sec s) { return (unsigned)s < IMG_NSECTIONS ? sections[s].name : "?"; }
uint32_t img_section_id(img_sec s) { return (unsigned)s < IMG_NSECTIONS ? sections[s].id : 0; }
uint32_t img_section_recsize(img_sec s) { return (unsigned)s < IMG_NSECTIONS ? sections[s].recsize : 0; }

#define FIELDS_DECL(n, id, t) static const img_field fields_##n[] = { IMG_FIELDS_##n(IMG_FIELD_ROW) { 0, 0, 0, 0, NULL } };
IMG_SECTIONS(FIELDS_DECL)
#undef FIELDS_DECL

static const img_field *const field_tables[] = {
#define FIELDS_PTR(n, id, t) fields_##n,
    IMG_SECTIONS(FIELDS_PTR)
#undef FIELDS_PTR
};

const img_field *img_section_fields(img_sec s, uint32_t *n)
{
    if ((unsigned)s >= IMG_NSECTIONS) { *n = 0; return NULL; }
    const img_field *f = field_tables[s];
    uint32_t k = 0;
    while (f[k].name) k++;
    *n = k;
    return f;
}

uint64_t img_hash(const void *p, size_t n, uint32_t kind) { return XXH3_64bits_withSeed(p, n, kind); }

/* The record layouts must not drift from the format: sizes are part of it. */
_Static_assert(sizeof(img_header) == IMG_HEADER_SIZE, "header size");
_Static_assert(sizeof(img_section) == 24, "section entry size");
_Static_assert(sizeof(img_view) == 48, "view");
_Static_assert(sizeof(img_listener) == 40, "listener");
_Static_assert(sizeof(img_chain_shape) == 28, "chain shape");
_Static_assert(sizeof(img_chain) == 16, "chain");
_Static_assert(sizeof(img_hbucket) == 64, "hash bucket");
_Static_assert(sizeof(img_host_table) == 32, "host table");
_Static_assert(sizeof(img_vhost) == 16, "virtual host");
_Static_assert(sizeof(img_rowset) == 16, "row set");
_Static_assert(sizeof(img_trie_node) == 16, "trie node");
_Static_assert(sizeof(img_row) == 24, "row");
_Static_assert(sizeof(img_src) == 24, "origin");
_Static_assert(sizeof(img_matcher) == 24, "matcher");
_Static_assert(sizeof(img_vs) == 8, "virtual service");
_Static_assert(sizeof(img_cluster) == 8, "cluster");
_Static_assert(sizeof(img_cluster_shape) == 24, "cluster shape");
_Static_assert(sizeof(img_endpoint) == 12, "endpoint");
_Static_assert(sizeof(img_cpolicy) == 128, "cluster policy");
_Static_assert(sizeof(img_chash) == 32, "consistent hash");
#define SEC_ALIGN(n, id, t) _Static_assert(sizeof(t) % 4 == 0 || sizeof(t) == 1, "record size of " #n);
IMG_SECTIONS(SEC_ALIGN)
#undef SEC_ALIGN

/* ------------------------------------------------------------ checking */

typedef struct vctx {
    const uint8_t *base;
    uint64_t size;
    img_map *m;
    char *err;
    size_t errlen;
    uint32_t *rowmax;       /* ROWLISTS: last row + 1 (0 empty) */
    uint32_t *triemax;      /* TRIE: max row + 1 in the subtree */
    uint32_t *htmax;        /* HOSTTABLES used as exact-path tables: max row + 1, or UINT32_MAX unknown */
    uint64_t work, budget;  /* string bytes read by checks that follow SZ strings, and the cap */
} vctx;

__attribute__((format(printf, 3, 4)))
static bool fail(vctx *c, uint64_t off, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->err && c->errlen) snprintf(c->err, c->errlen, "at offset %llu: %s", (unsigned long long)off, msg);
    return false;
}

static const void *rec(const vctx *c, img_sec s, uint32_t i)
{
    return (const uint8_t *)c->m->sec[s] + (size_t)i * sections[s].recsize;
}

static uint64_t rec_off(const vctx *c, img_sec s, uint32_t i, size_t field)
{
    return (uint64_t)((const uint8_t *)rec(c, s, i) - c->base) + field;
}

#define REC(c, type, sec, i) ((const type *)rec(c, IMG_S_##sec, i))
#define CNT(c, sec) ((c)->m->count[IMG_S_##sec])
#define OFF(c, sec, i, type, field) rec_off(c, IMG_S_##sec, i, offsetof(type, field))

static const char *sname(img_sec s) { return sections[s].name; }

static bool check_str(vctx *c, img_str s, uint64_t off, img_sec sec, uint32_t i, const char *field)
{
    uint32_t n = CNT(c, STRINGS);
    const uint8_t *str = c->m->sec[IMG_S_STRINGS];
    if (s.off >= n || s.len >= n - s.off)
        return fail(c, off, "%s %u: %s: string %u+%u outside the %u string bytes", sname(sec), i, field, s.off, s.len, n);
    if (str[s.off + s.len] != 0)
        return fail(c, off, "%s %u: %s: string %u+%u is not NUL-terminated", sname(sec), i, field, s.off, s.len);
    return true;
}

static bool check_range(vctx *c, img_range r, img_sec target, uint64_t off, img_sec sec, uint32_t i, const char *field)
{
    uint32_t n = c->m->count[target];
    if (r.first > n || r.count > n - r.first)
        return fail(c, off, "%s %u: %s: range %u+%u exceeds %u %s records", sname(sec), i, field,
                    r.first, r.count, n, sname(target));
    return true;
}

/* a field of 1, 2 or 4 bytes, zero-extended */
static uint32_t rd(const uint8_t *p, unsigned width)
{
    if (width == 1) return p[0];
    if (width == 2) {
        uint16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* STRINGS: the empty string first and a NUL last, so that every SZ offset
** below the section's size names a terminated string. */
static bool check_strings(vctx *c)
{
    uint32_t n = CNT(c, STRINGS);
    const uint8_t *s = c->m->sec[IMG_S_STRINGS];
    if (n == 0) return fail(c, IMG_HEADER_SIZE, "empty string section");
    if (s[0] != 0) return fail(c, rec_off(c, IMG_S_STRINGS, 0, 0), "STRINGS: the first string is not the empty string");
    if (s[n - 1] != 0) return fail(c, rec_off(c, IMG_S_STRINGS, n - 1, 0), "STRINGS: the last byte is not NUL");
    return true;
}

static bool check_fields(vctx *c, img_sec s)
{
    const img_field *f = field_tables[s];
    if (!f[0].name) return true;
    uint32_t n = c->m->count[s];
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *r = rec(c, s, i);
        for (const img_field *d = f; d->name; d++) {
            uint64_t off = rec_off(c, s, i, d->off);
            uint32_t v = d->width <= 4 ? rd(r + d->off, d->width) : 0;
            switch (d->kind) {
            case IMG_F_STR: {
                img_str str;
                memcpy(&str, r + d->off, sizeof str);
                if (!check_str(c, str, off, s, i, d->name)) return false;
                break;
            }
            case IMG_F_SZ:
                if (v >= CNT(c, STRINGS))
                    return fail(c, off, "%s %u: %s: string offset %u outside the %u string bytes", sname(s), i, d->name, v, CNT(c, STRINGS));
                break;
            case IMG_F_SOFF:
                if (v > CNT(c, STRINGS))
                    return fail(c, off, "%s %u: %s: string offset %u outside the %u string bytes", sname(s), i, d->name, v, CNT(c, STRINGS));
                break;
            case IMG_F_RANGE: {
                img_range rg;
                memcpy(&rg, r + d->off, sizeof rg);
                if (!check_range(c, rg, (img_sec)d->arg, off, s, i, d->name)) return false;
                break;
            }
            case IMG_F_IDX:
            case IMG_F_IDXN:
                if (v == IMG_NONE && d->kind == IMG_F_IDXN) break;
                if (v >= c->m->count[d->arg])
                    return fail(c, off, "%s %u: %s: index %u outside the %u %s records", sname(s), i, d->name, v,
                                c->m->count[d->arg], sname((img_sec)d->arg));
                break;
            case IMG_F_ENUM:
                if (v >= img_enum_count((img_enum)d->arg))
                    return fail(c, off, "%s %u: %s: unknown value %u", sname(s), i, d->name, v);
                break;
            case IMG_F_FLAGS:
                if (v & ~d->arg) return fail(c, off, "%s %u: %s: unknown flag bits 0x%x", sname(s), i, d->name, v & ~d->arg);
                break;
            case IMG_F_U32:
                if (d->arg && v >= d->arg) return fail(c, off, "%s %u: %s: value %u out of range", sname(s), i, d->name, v);
                break;
            case IMG_F_ZERO:
                if (v) return fail(c, off, "%s %u: %s: padding is not zero", sname(s), i, d->name);
                break;
            default:
                return fail(c, off, "internal: bad field descriptor");
            }
        }
    }
    return true;
}

static const char *str_at(const vctx *c, img_str s) { return (const char *)c->m->sec[IMG_S_STRINGS] + s.off; }
static const char *sz_at(const vctx *c, uint32_t off) { return (const char *)c->m->sec[IMG_S_STRINGS] + off; }

/* Checks that read strings (hashing keys, comparing names) count the bytes
** they read: overlapping strings could otherwise make a small hostile
** image cost quadratic time. A real image reads each string a few times. */
static bool spend(vctx *c, uint64_t n, uint64_t off)
{
    c->work += n + 1;
    if (c->work > c->budget) return fail(c, off, "string references cost too much to verify (more than %llu bytes read)",
                                         (unsigned long long)c->budget);
    return true;
}

/* strcmp that counts what it reads */
static int sz_cmp(const char *a, const char *b, size_t *read)
{
    size_t i = 0;
    while (a[i] && a[i] == b[i]) i++;
    *read += i;
    return (unsigned char)a[i] - (unsigned char)b[i];
}

/* ---- host tables: placement of every entry, targets, suffix lengths */

static bool check_host_tables(vctx *c)
{
    const img_hbucket *all = c->m->sec[IMG_S_HBUCKETS];
    const uint32_t *u32 = c->m->sec[IMG_S_U32LIST];
    for (uint32_t t = 0; t < CNT(c, HOSTTABLES); t++) {
        const img_host_table *ht = REC(c, img_host_table, HOSTTABLES, t);
        uint32_t nb = ht->buckets.count;
        /* IMG_HB_SUFFIX targets: any 31-bit value (an index's row references) */
        if (ht->ntargets > IMG_HB_SUFFIX)
            return fail(c, OFF(c, HOSTTABLES, t, img_host_table, ntargets), "HOSTTABLES %u: %u targets", t, ht->ntargets);
        if (ht->dflt != IMG_NONE && ht->dflt >= ht->ntargets)
            return fail(c, OFF(c, HOSTTABLES, t, img_host_table, dflt), "HOSTTABLES %u: default target %u >= %u", t, ht->dflt, ht->ntargets);
        const uint32_t *lens = u32 + ht->lens.first;
        for (uint32_t i = 0; i < ht->lens.count; i++) {
            if (lens[i] == 0 || (i && lens[i] >= lens[i - 1]))
                return fail(c, rec_off(c, IMG_S_U32LIST, ht->lens.first + i, 0),
                            "HOSTTABLES %u: suffix lengths must be >= 1 and strictly descending", t);
        }
        const img_hbucket *bk = all + ht->buckets.first;
        /* a search stops at the first bucket without IMG_HB_OVERFLOW */
        bool stops = false;
        for (uint32_t b = 0; b < nb && !stops; b++) stops = !(bk[b].flags & IMG_HB_OVERFLOW);
        if (!stops)
            return fail(c, OFF(c, HOSTTABLES, t, img_host_table, buckets), "HOSTTABLES %u: no bucket ends a search (%u buckets)", t, nb);
        uint64_t used = 0;
        for (uint32_t b = 0; b < nb; b++) {
            const img_hbucket *k = &bk[b];
            uint32_t bi = ht->buckets.first + b;
            used += k->count;
            for (uint32_t i = k->count; i < IMG_HB_SLOTS; i++)
                if (k->tag[i] || k->key[i] || k->target[i])
                    return fail(c, OFF(c, HBUCKETS, bi, img_hbucket, tag[i]), "HBUCKETS %u: unused slot %u is not zero", bi, i);
            for (uint32_t i = 0; i < k->count; i++) {
                const char *key = sz_at(c, k->key[i]);
                size_t klen = strlen(key);
                if (!spend(c, klen, OFF(c, HBUCKETS, bi, img_hbucket, key[i]))) return false;
                if (klen == 0) return fail(c, OFF(c, HBUCKETS, bi, img_hbucket, key[i]), "HBUCKETS %u: slot %u: empty key", bi, i);
                uint32_t suffix = k->target[i] & IMG_HB_SUFFIX, target = k->target[i] & ~IMG_HB_SUFFIX;
                if (target >= ht->ntargets)
                    return fail(c, OFF(c, HBUCKETS, bi, img_hbucket, target[i]), "HBUCKETS %u: slot %u: target %u >= %u", bi, i, target,
                                ht->ntargets);
                uint64_t h = img_hash(key, klen, suffix ? IMG_HOST_SUFFIX : IMG_HOST_EXACT);
                if (k->tag[i] != (uint16_t)(h >> 48))
                    return fail(c, OFF(c, HBUCKETS, bi, img_hbucket, tag[i]), "HBUCKETS %u: slot %u: stored hash does not match the key", bi, i);
                if (suffix) {
                    bool found = false;
                    for (uint32_t l = 0; l < ht->lens.count && !found; l++) found = lens[l] == klen;
                    if (!found)
                        return fail(c, OFF(c, HBUCKETS, bi, img_hbucket, key[i]), "HBUCKETS %u: slot %u: suffix length %zu not in the table's lengths",
                                    bi, i, klen);
                }
                /* the search from the home bucket must reach this slot: every
                ** bucket before it overflowed; no other slot on the way (or
                ** before it in its bucket) holds the same key */
                for (uint32_t o = img_home(h, nb), steps = 0;; o = o + 1 == nb ? 0 : o + 1) {
                    const img_hbucket *ob = &bk[o];
                    uint32_t n = o == b ? i : ob->count;
                    for (uint32_t j = 0; j < n; j++) {
                        size_t read = 0;
                        bool same = ob->tag[j] == k->tag[i] && (ob->target[j] & IMG_HB_SUFFIX) == suffix &&
                                    sz_cmp(sz_at(c, ob->key[j]), key, &read) == 0;
                        if (!spend(c, read, OFF(c, HBUCKETS, bi, img_hbucket, key[i]))) return false;
                        if (same) return fail(c, OFF(c, HBUCKETS, bi, img_hbucket, key[i]), "HBUCKETS %u: slot %u: duplicate key", bi, i);
                    }
                    if (o == b) break;
                    if (!(ob->flags & IMG_HB_OVERFLOW) || ++steps > nb)
                        return fail(c, OFF(c, HBUCKETS, bi, img_hbucket, key[i]), "HBUCKETS %u: slot %u: not reachable from its home bucket", bi, i);
                }
            }
        }
        if (used != ht->nentries)
            return fail(c, OFF(c, HOSTTABLES, t, img_host_table, nentries), "HOSTTABLES %u: %llu slots used for %u entries", t,
                        (unsigned long long)used, ht->nentries);
    }
    return true;
}

/* ---- row lists, trie, indexes, row sets */

/* the largest row + 1 a row reference names (image.h); false when bad */
static bool rowref(vctx *c, uint32_t ref, uint32_t *mx, uint64_t off, const char *who, uint32_t i)
{
    if (ref & IMG_ROWS_ONE) {
        if (ref & ~(IMG_ROWS_ONE | (IMG_ROWS_ONE - 1))) return fail(c, off, "%s %u: bad row reference 0x%x", who, i, ref);
        *mx = (ref & ~IMG_ROWS_ONE) + 1;
        return true;
    }
    if (ref >= CNT(c, ROWLISTS)) return fail(c, off, "%s %u: row list %u outside the %u ROWLISTS records", who, i, ref, CNT(c, ROWLISTS));
    *mx = c->rowmax[ref];
    return true;
}

static bool node_rows(vctx *c, uint32_t i, const img_trie_node *t, uint32_t *mx)
{
    *mx = 0;
    if (t->rows == IMG_NONE) return true;
    return rowref(c, t->rows, mx, OFF(c, TRIE, i, img_trie_node, rows), "TRIE", i);
}

/* A host table of an index: exact names only, no default, row references
** as targets; a prefix table's keys have the lengths its `lens` lists.
** The largest row + 1 goes to c->htmax (once per table). */
static bool index_table(vctx *c, uint32_t i, uint32_t t, bool prefix, uint64_t off)
{
    const img_host_table *ht = REC(c, img_host_table, HOSTTABLES, t);
    const char *what = prefix ? "prefix" : "exact-path";
    if (ht->ntargets != IMG_HB_SUFFIX) return fail(c, off, "INDEXES %u: %s table %u is not a table of row references", i, what, t);
    if (ht->dflt != IMG_NONE) return fail(c, off, "INDEXES %u: %s table %u has a default (a wildcard)", i, what, t);
    if ((ht->lens.count != 0) != prefix)
        return fail(c, off, "INDEXES %u: %s table %u %s", i, what, t, prefix ? "has no literal lengths" : "has suffix lengths (wildcards)");
    if (c->htmax[t] != UINT32_MAX) return true;
    const uint32_t *lens = REC(c, uint32_t, U32LIST, ht->lens.first);
    uint32_t mx = 0;
    const img_hbucket *bk = REC(c, img_hbucket, HBUCKETS, ht->buckets.first);
    for (uint32_t b = 0; b < ht->buckets.count; b++)
        for (uint32_t e = 0; e < bk[b].count; e++) {
            uint32_t bi = ht->buckets.first + b, m;
            if (bk[b].target[e] & IMG_HB_SUFFIX) return fail(c, off, "INDEXES %u: table %u has wildcards", i, t);
            if (!rowref(c, bk[b].target[e], &m, OFF(c, HBUCKETS, bi, img_hbucket, target[e]), "HBUCKETS", bi)) return false;
            if (m > mx) mx = m;
            if (prefix) {
                size_t klen = strlen(sz_at(c, bk[b].key[e]));
                bool found = false;
                if (!spend(c, klen, off)) return false;
                for (uint32_t l = 0; l < ht->lens.count && !found; l++) found = lens[l] == klen;
                if (!found) return fail(c, OFF(c, HBUCKETS, bi, img_hbucket, key[e]), "HBUCKETS %u: slot %u: literal length %zu not in the table's lengths",
                                        bi, e, klen);
            }
        }
    c->htmax[t] = mx;
    return true;
}

static bool check_rows(vctx *c)
{
    const uint32_t *rl = c->m->sec[IMG_S_ROWLIST];
    const uint8_t *keys = c->m->sec[IMG_S_TRIEKEYS];
    c->rowmax = calloc(CNT(c, ROWLISTS) + 1, sizeof *c->rowmax);
    c->triemax = calloc(CNT(c, TRIE) + 1, sizeof *c->triemax);
    c->htmax = malloc((CNT(c, HOSTTABLES) + 1) * sizeof *c->htmax);
    if (!c->rowmax || !c->triemax || !c->htmax) return fail(c, 0, "out of memory");
    for (uint32_t i = 0; i < CNT(c, HOSTTABLES); i++) c->htmax[i] = UINT32_MAX;
    for (uint32_t i = 0; i < CNT(c, ROWLISTS); i++) {
        const img_range *r = REC(c, img_range, ROWLISTS, i);
        if (r->count == 0) return fail(c, rec_off(c, IMG_S_ROWLISTS, i, 0), "ROWLISTS %u: empty row list", i);
        for (uint32_t k = 1; k < r->count; k++)
            if (rl[r->first + k] <= rl[r->first + k - 1])
                return fail(c, rec_off(c, IMG_S_ROWLIST, r->first + k, 0), "ROWLISTS %u: rows not strictly ascending", i);
        c->rowmax[i] = rl[r->first + r->count - 1] + 1;
    }
    /* trie: children after their parent (no cycles, bounded walks), labels
    ** in bounds, children's labels non-empty with distinct first bytes in
    ** ascending order, the key array agreeing with the labels */
    uint32_t nt = CNT(c, TRIE);
    if (CNT(c, TRIEKEYS) != nt)
        return fail(c, rec_off(c, IMG_S_TRIEKEYS, 0, 0), "TRIEKEYS: %u keys for %u trie nodes", CNT(c, TRIEKEYS), nt);
    for (uint32_t i = nt; i-- > 0;) {
        const img_trie_node *t = REC(c, img_trie_node, TRIE, i);
        if ((uint64_t)t->label + t->label_len > CNT(c, STRINGS))
            return fail(c, OFF(c, TRIE, i, img_trie_node, label), "TRIE %u: label %u+%u outside the %u string bytes", i, t->label,
                        t->label_len, CNT(c, STRINGS));
        uint32_t want = t->label_len ? (uint8_t)sz_at(c, t->label)[0] : 0;
        if (keys[i] != want) return fail(c, rec_off(c, IMG_S_TRIEKEYS, i, 0), "TRIE %u: key byte is not the label's first byte", i);
        if (t->nkids && (t->kids <= i || t->kids > nt || t->nkids > nt - t->kids))
            return fail(c, OFF(c, TRIE, i, img_trie_node, kids), "TRIE %u: children %u+%u do not come after their parent within %u nodes",
                        i, t->kids, t->nkids, nt);
        uint32_t mx;
        if (!node_rows(c, i, t, &mx)) return false;
        int prev = -1;
        for (uint32_t k = 0; k < t->nkids; k++) {
            uint32_t ch = t->kids + k;
            const img_trie_node *cn = REC(c, img_trie_node, TRIE, ch);
            if (cn->label_len == 0) return fail(c, OFF(c, TRIE, ch, img_trie_node, label_len), "TRIE %u: empty label below the root", ch);
            if ((int)keys[ch] <= prev) return fail(c, OFF(c, TRIE, ch, img_trie_node, label), "TRIE %u: children not sorted by first byte", ch);
            prev = keys[ch];
            if (c->triemax[ch] > mx) mx = c->triemax[ch];
        }
        c->triemax[i] = mx;
    }
    for (uint32_t i = 0; i < CNT(c, INDEXES); i++) {
        const img_index *x = REC(c, img_index, INDEXES, i);
        if (x->trie != IMG_NONE) {
            const img_trie_node *root = REC(c, img_trie_node, TRIE, x->trie);
            if (root->label_len) return fail(c, OFF(c, INDEXES, i, img_index, trie), "INDEXES %u: trie root has a label", i);
            if (c->triemax[x->trie] > x->nrows)
                return fail(c, OFF(c, INDEXES, i, img_index, trie), "INDEXES %u: trie names row %u of %u", i, c->triemax[x->trie] - 1, x->nrows);
        }
        if (x->rest != IMG_NONE && c->rowmax[x->rest] > x->nrows)
            return fail(c, OFF(c, INDEXES, i, img_index, rest), "INDEXES %u: rest list names row %u of %u", i, c->rowmax[x->rest] - 1, x->nrows);
        if (x->exact != IMG_NONE) {
            uint64_t off = OFF(c, INDEXES, i, img_index, exact);
            if (!index_table(c, i, x->exact, false, off)) return false;
            if (c->htmax[x->exact] > x->nrows)
                return fail(c, off, "INDEXES %u: exact-path table names row %u of %u", i, c->htmax[x->exact] - 1, x->nrows);
        }
        if (x->prefix != IMG_NONE) {
            uint64_t off = OFF(c, INDEXES, i, img_index, prefix);
            if (!index_table(c, i, x->prefix, true, off)) return false;
            if (c->htmax[x->prefix] > x->nrows)
                return fail(c, off, "INDEXES %u: prefix table names row %u of %u", i, c->htmax[x->prefix] - 1, x->nrows);
        }
    }
    for (uint32_t i = 0; i < CNT(c, ROWSETS); i++) {
        const img_rowset *rs = REC(c, img_rowset, ROWSETS, i);
        const img_index *x = REC(c, img_index, INDEXES, rs->index);
        if (x->nrows != rs->rows.count)
            return fail(c, OFF(c, ROWSETS, i, img_rowset, index), "ROWSETS %u: %u rows but its index is for %u", i, rs->rows.count, x->nrows);
    }
    return true;
}

/* ---- everything else that ties records together */

static bool check_matchers(vctx *c, uint32_t first, uint32_t count, bool origin, uint64_t off, const char *who, uint32_t i)
{
    for (uint32_t k = 0; k < count; k++) {
        uint32_t mi = first + k;
        const img_matcher *m = REC(c, img_matcher, MATCHERS, mi);
        if ((m->target == IMG_TARGET_ORIGIN) != origin)
            return fail(c, off, "%s %u: matcher %u has target %s here", who, i, mi, img_enum_name(IMG_E_TARGET, m->target));
        if ((m->op == IMG_OP_REGEX) != (m->regex != IMG_NONE))
            return fail(c, OFF(c, MATCHERS, mi, img_matcher, regex), "MATCHERS %u: regex index does not agree with the operator", mi);
    }
    return true;
}

/* what a lookup answers for a cluster: OK, UH (no endpoints) or NC (missing) */
static uint32_t cluster_status(const vctx *c, uint32_t ci)
{
    const img_cluster_shape *s = REC(c, img_cluster_shape, CSHAPES, REC(c, img_cluster, CLUSTERS, ci)->shape);
    if (s->kind == IMG_CLUSTER_MISSING) return IMG_TW_NC;
    if (s->endpoints.count == 0 && !(s->flags & IMG_CLUSTER_SELF_ENDPOINT) && s->kind != IMG_CLUSTER_ORIGINAL_DST) return IMG_TW_UH;
    return IMG_TW_OK;
}

/* a target word: IMG_NONE, a TARGETS index, or a CLUSTERS index with the
** status of that cluster */
static bool check_target_word(vctx *c, uint32_t w, uint64_t off, const char *who, uint32_t i)
{
    if (w == IMG_NONE) return true;
    uint32_t tag = IMG_TW_TAG(w), x = IMG_TW_INDEX(w);
    if (tag == IMG_TW_SPLIT) {
        if (x >= CNT(c, TARGETS)) return fail(c, off, "%s %u: target %u outside the %u TARGETS records", who, i, x, CNT(c, TARGETS));
        return true;
    }
    if (x >= CNT(c, CLUSTERS)) return fail(c, off, "%s %u: cluster %u outside the %u CLUSTERS records", who, i, x, CNT(c, CLUSTERS));
    if (cluster_status(c, x) != tag) return fail(c, off, "%s %u: the status bits of cluster %u do not agree with the cluster", who, i, x);
    return true;
}

/* clusters order: host, then port, then subset */
static int cluster_cmp(vctx *c, const img_cluster *a, const img_cluster *b, size_t *read)
{
    int r = sz_cmp(sz_at(c, a->host), sz_at(c, b->host), read);
    if (r) return r;
    const img_cluster_shape *x = REC(c, img_cluster_shape, CSHAPES, a->shape), *y = REC(c, img_cluster_shape, CSHAPES, b->shape);
    if (x->port != y->port) return x->port < y->port ? -1 : 1;
    return sz_cmp(sz_at(c, x->subset), sz_at(c, y->subset), read);
}

static bool check_links(vctx *c)
{
    for (uint32_t i = 0; i < CNT(c, VIEWS); i++) {
        const img_view *v = REC(c, img_view, VIEWS, i);
        for (uint32_t k = 1; k < v->labels.count; k++) {
            const img_label *a = REC(c, img_label, LABELS, v->labels.first + k - 1), *b = a + 1;
            uint32_t n = a->key.len < b->key.len ? a->key.len : b->key.len;
            if (!spend(c, n, OFF(c, VIEWS, i, img_view, labels))) return false;
            int cmp = memcmp(str_at(c, a->key), str_at(c, b->key), n);
            if (cmp > 0 || (cmp == 0 && a->key.len >= b->key.len))
                return fail(c, OFF(c, VIEWS, i, img_view, labels), "VIEWS %u: labels not sorted by key", i);
        }
    }
    for (uint32_t i = 0; i < CNT(c, ORIGINS); i++) {
        uint32_t vs = REC(c, img_src, ORIGINS, i)->vs;
        if (vs != IMG_NONE && vs != IMG_VS_SELF && vs >= CNT(c, VSES))
            return fail(c, OFF(c, ORIGINS, i, img_src, vs), "ORIGINS %u: vs: index %u outside the %u VSES records", i, vs, CNT(c, VSES));
    }
    for (uint32_t i = 0; i < CNT(c, CHAINSHAPES); i++) {
        const img_chain_shape *s = REC(c, img_chain_shape, CHAINSHAPES, i);
        if (s->kind == IMG_CHAIN_HTTP && s->src != IMG_NONE)
            return fail(c, OFF(c, CHAINSHAPES, i, img_chain_shape, src), "CHAINSHAPES %u: an HTTP chain has no origin", i);
    }
    for (uint32_t i = 0; i < CNT(c, CHAINS); i++) {
        const img_chain *ch = REC(c, img_chain, CHAINS, i);
        const img_chain_shape *s = REC(c, img_chain_shape, CHAINSHAPES, ch->shape);
        uint64_t off = OFF(c, CHAINS, i, img_chain, next);
        if (s->kind == IMG_CHAIN_HTTP) {
            if (ch->next >= CNT(c, ROUTETABLES))
                return fail(c, off, "CHAINS %u: route table %u outside the %u ROUTETABLES records", i, ch->next, CNT(c, ROUTETABLES));
        } else {
            if (ch->next == IMG_NONE) return fail(c, off, "CHAINS %u: a TCP chain needs a target", i);
            if (!check_target_word(c, ch->next, off, "CHAINS", i)) return false;
        }
        off = OFF(c, CHAINS, i, img_chain, sni);
        if (s->nsni == 0 && ch->sni) return fail(c, off, "CHAINS %u: server names without a count", i);
        if (s->nsni == 1 && ch->sni >= CNT(c, STRINGS))
            return fail(c, off, "CHAINS %u: sni: string offset %u outside the %u string bytes", i, ch->sni, CNT(c, STRINGS));
        if (s->nsni > 1 && (ch->sni > CNT(c, STRLIST) || s->nsni > CNT(c, STRLIST) - ch->sni))
            return fail(c, off, "CHAINS %u: sni: range %u+%u exceeds %u STRLIST records", i, ch->sni, s->nsni, CNT(c, STRLIST));
        if (s->src != IMG_NONE && REC(c, img_src, ORIGINS, s->src)->vs == IMG_VS_SELF && ch->vs == IMG_NONE)
            return fail(c, OFF(c, CHAINS, i, img_chain, vs), "CHAINS %u: its origin needs the chain's VirtualService", i);
    }
    for (uint32_t i = 0; i < CNT(c, LISTENERS); i++) {
        const img_listener *l = REC(c, img_listener, LISTENERS, i);
        uint64_t off = OFF(c, LISTENERS, i, img_listener, kind);
        if (l->kind == IMG_LISTENER_TLS) {
            if (l->sni == IMG_NONE) return fail(c, off, "LISTENERS %u: TLS listener without an SNI table", i);
            const img_host_table *ht = REC(c, img_host_table, HOSTTABLES, l->sni);
            if (ht->ntargets != l->chains.count)
                return fail(c, OFF(c, LISTENERS, i, img_listener, sni), "LISTENERS %u: SNI table targets %u chains, listener has %u",
                            i, ht->ntargets, l->chains.count);
            if (l->chain != IMG_NONE) return fail(c, off, "LISTENERS %u: TLS listener with a single chain", i);
        } else {
            if (l->sni != IMG_NONE) return fail(c, off, "LISTENERS %u: SNI table on a %s listener", i, img_enum_name(IMG_E_LISTENER, l->kind));
        }
        if (l->chain != IMG_NONE && (l->chain < l->chains.first || l->chain - l->chains.first >= l->chains.count))
            return fail(c, OFF(c, LISTENERS, i, img_listener, chain), "LISTENERS %u: chain %u is not one of its chains", i, l->chain);
        for (uint32_t k = 0; k < l->chains.count; k++) {
            const img_chain *ch = REC(c, img_chain, CHAINS, l->chains.first + k);
            uint32_t kind = REC(c, img_chain_shape, CHAINSHAPES, ch->shape)->kind;
            if (l->kind == IMG_LISTENER_HTTP && kind != IMG_CHAIN_HTTP)
                return fail(c, off, "LISTENERS %u: HTTP listener with a %s chain", i, img_enum_name(IMG_E_CHAIN, kind));
            if (l->kind == IMG_LISTENER_TCP && kind != IMG_CHAIN_TCP)
                return fail(c, off, "LISTENERS %u: TCP listener with a %s chain", i, img_enum_name(IMG_E_CHAIN, kind));
        }
    }
    for (uint32_t i = 0; i < CNT(c, ROUTETABLES); i++) {
        const img_route_table *rt = REC(c, img_route_table, ROUTETABLES, i);
        const img_host_table *ht = REC(c, img_host_table, HOSTTABLES, rt->hosts);
        if (ht->ntargets != rt->vhosts.count)
            return fail(c, OFF(c, ROUTETABLES, i, img_route_table, hosts), "ROUTETABLES %u: host table targets %u, %u virtual hosts",
                        i, ht->ntargets, rt->vhosts.count);
    }
    for (uint32_t i = 0; i < CNT(c, ROWS); i++) {
        const img_row *r = REC(c, img_row, ROWS, i);
        uint32_t kind = r->flags & IMG_ROW_KIND_MASK;
        uint64_t off = OFF(c, ROWS, i, img_row, path);
        if (kind >= IMG_PATH_COUNT_) return fail(c, OFF(c, ROWS, i, img_row, flags), "ROWS %u: unknown path kind %u", i, kind);
        if (kind == IMG_PATH_REGEX) {
            if (r->path >= CNT(c, REGEXES) || r->path_len)
                return fail(c, off, "ROWS %u: regex %u outside the %u REGEXES records", i, r->path, CNT(c, REGEXES));
        } else if (r->path > CNT(c, STRINGS) || r->path_len > CNT(c, STRINGS) - r->path) {
            return fail(c, off, "ROWS %u: path %u+%u outside the %u string bytes", i, r->path, r->path_len, CNT(c, STRINGS));
        }
        if (r->matchers > CNT(c, MATCHERS) || r->nmatchers > CNT(c, MATCHERS) - r->matchers)
            return fail(c, OFF(c, ROWS, i, img_row, matchers), "ROWS %u: matchers: range %u+%u exceeds %u MATCHERS records", i,
                        r->matchers, r->nmatchers, CNT(c, MATCHERS));
        if (!check_matchers(c, r->matchers, r->nmatchers, false, OFF(c, ROWS, i, img_row, matchers), "ROWS", i)) return false;
        const img_src *o = REC(c, img_src, ORIGINS, r->src);
        if (!(r->flags & IMG_ROW_SELF_VS) != (o->vs != IMG_VS_SELF) || !(r->flags & IMG_ROW_NAMED) != (o->name.len == 0))
            return fail(c, OFF(c, ROWS, i, img_row, flags), "ROWS %u: flags do not agree with origin %u", i, r->src);
    }
    for (uint32_t i = 0; i < CNT(c, ROUTES); i++) {
        uint32_t w = *REC(c, uint32_t, ROUTES, i);
        if (!check_target_word(c, w, rec_off(c, IMG_S_ROUTES, i, 0), "ROUTES", i)) return false;
    }
    for (uint32_t i = 0; i < CNT(c, VHOSTS); i++) {
        const img_vhost *v = REC(c, img_vhost, VHOSTS, i);
        const img_rowset *rs = REC(c, img_rowset, ROWSETS, v->rowset);
        uint32_t n = rs->rows.count;
        if (v->routes > CNT(c, ROUTES) || n > CNT(c, ROUTES) - v->routes)
            return fail(c, OFF(c, VHOSTS, i, img_vhost, routes), "VHOSTS %u: routes: range %u+%u exceeds %u ROUTES records", i, v->routes, n,
                        CNT(c, ROUTES));
        for (uint32_t k = 0; k < n; k++) {
            const img_row *r = REC(c, img_row, ROWS, rs->rows.first + k);
            uint32_t w = *REC(c, uint32_t, ROUTES, v->routes + k);
            uint32_t akind = REC(c, img_action, ACTIONS, r->action)->kind;
            if ((akind == IMG_ACTION_ROUTE) != (w != IMG_NONE))
                return fail(c, rec_off(c, IMG_S_ROUTES, v->routes + k, 0), "ROUTES %u: target does not agree with a %s action (VHOSTS %u row %u)",
                            v->routes + k, img_enum_name(IMG_E_ACTION, akind), i, k);
            if (REC(c, img_src, ORIGINS, r->src)->vs == IMG_VS_SELF && v->vs == IMG_NONE)
                return fail(c, OFF(c, VHOSTS, i, img_vhost, vs), "VHOSTS %u: row %u needs the virtual host's VirtualService", i, k);
        }
    }
    for (uint32_t i = 0; i < CNT(c, ACTIONS); i++) {
        const img_action *a = REC(c, img_action, ACTIONS, i);
        uint32_t lim = a->kind == IMG_ACTION_ROUTE ? CNT(c, POLICIES) : a->kind == IMG_ACTION_REDIRECT ? CNT(c, REDIRECTS) : CNT(c, DIRECTS);
        if (a->detail >= lim)
            return fail(c, OFF(c, ACTIONS, i, img_action, detail), "ACTIONS %u: %s detail %u outside %u records", i,
                        img_enum_name(IMG_E_ACTION, a->kind), a->detail, lim);
    }
    for (uint32_t i = 0; i < CNT(c, CORSES); i++) {
        const img_cors *co = REC(c, img_cors, CORSES, i);
        if (!check_matchers(c, co->origins.first, co->origins.count, true, OFF(c, CORSES, i, img_cors, origins), "CORSES", i)) return false;
    }
    for (uint32_t i = 0; i < CNT(c, TARGETS); i++) {
        const img_target *t = REC(c, img_target, TARGETS, i);
        uint64_t off = OFF(c, TARGETS, i, img_target, clusters);
        if (t->clusters.count == 0) return fail(c, off, "TARGETS %u: no clusters", i);
        if (!t->weighted && t->clusters.count != 1) return fail(c, off, "TARGETS %u: %u clusters without weights", i, t->clusters.count);
        uint64_t sum = 0;
        for (uint32_t k = 0; k < t->clusters.count; k++) {
            const img_wcluster *w = REC(c, img_wcluster, WCLUSTERS, t->clusters.first + k);
            if (t->weighted && w->weight == 0)
                return fail(c, OFF(c, WCLUSTERS, t->clusters.first + k, img_wcluster, weight), "WCLUSTERS %u: zero weight", t->clusters.first + k);
            sum += t->weighted ? w->weight : 1;
        }
        if (sum != t->total || sum == 0)
            return fail(c, OFF(c, TARGETS, i, img_target, total), "TARGETS %u: total %u is not the sum of the weights", i, t->total);
    }
    for (uint32_t i = 0; i < CNT(c, REDIRECTS); i++) {
        uint32_t code = REC(c, img_redirect, REDIRECTS, i)->code;
        if (code != 301 && code != 302 && code != 303 && code != 307 && code != 308)
            return fail(c, OFF(c, REDIRECTS, i, img_redirect, code), "REDIRECTS %u: status %u is not a redirect", i, code);
    }
    for (uint32_t i = 0; i < CNT(c, DIRECTS); i++) {
        uint32_t st = REC(c, img_direct, DIRECTS, i)->status;
        if (st < 100) return fail(c, OFF(c, DIRECTS, i, img_direct, status), "DIRECTS %u: status %u", i, st);
    }
    for (uint32_t i = 0; i < CNT(c, CSHAPES); i++) {
        const img_cluster_shape *s = REC(c, img_cluster_shape, CSHAPES, i);
        bool self = s->flags & IMG_CLUSTER_SELF_ENDPOINT;
        if ((s->kind == IMG_CLUSTER_MISSING) != (s->policy == IMG_NONE))
            return fail(c, OFF(c, CSHAPES, i, img_cluster_shape, policy), "CSHAPES %u: settings do not agree with kind %s", i,
                        img_enum_name(IMG_E_CLUSTER, s->kind));
        if ((s->kind == IMG_CLUSTER_MISSING || self) && s->endpoints.count)
            return fail(c, OFF(c, CSHAPES, i, img_cluster_shape, endpoints), "CSHAPES %u: endpoints on a %s cluster", i,
                        self ? "self-endpoint" : "missing");
        if (s->kind == IMG_CLUSTER_MISSING && self)
            return fail(c, OFF(c, CSHAPES, i, img_cluster_shape, flags), "CSHAPES %u: a missing cluster has an endpoint", i);
        if (!self && (s->ep_port || s->ep_kind))
            return fail(c, OFF(c, CSHAPES, i, img_cluster_shape, ep_port), "CSHAPES %u: endpoint fields without a self endpoint", i);
    }
    for (uint32_t i = 0; i < CNT(c, CLUSTERS); i++) {
        /* the runtime writes every cluster's name out once (table.c): its
        ** parts count against the same budget */
        const img_cluster *cl = REC(c, img_cluster, CLUSTERS, i);
        size_t parts = strlen(sz_at(c, cl->host)) + strlen(sz_at(c, REC(c, img_cluster_shape, CSHAPES, cl->shape)->subset));
        if (!spend(c, parts, OFF(c, CLUSTERS, i, img_cluster, host))) return false;
        if (i == 0) continue;
        size_t read = 0;
        int cmp = cluster_cmp(c, REC(c, img_cluster, CLUSTERS, i - 1), REC(c, img_cluster, CLUSTERS, i), &read);
        if (!spend(c, read, OFF(c, CLUSTERS, i, img_cluster, host))) return false;
        if (cmp >= 0) return fail(c, OFF(c, CLUSTERS, i, img_cluster, host), "CLUSTERS %u: not sorted by (host, port, subset) and unique", i);
    }
    for (uint32_t i = 0; i < CNT(c, ENDPOINTS); i++) {
        if (REC(c, img_endpoint, ENDPOINTS, i)->weight == 0)
            return fail(c, OFF(c, ENDPOINTS, i, img_endpoint, weight), "ENDPOINTS %u: zero weight", i);
    }
    return true;
}

static bool check_regexes(vctx *c, struct rx ***out)
{
    uint32_t n = CNT(c, REGEXES);
    struct rx **rxs = calloc(n + 1, sizeof *rxs);
    if (!rxs) return fail(c, 0, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        const img_str *s = REC(c, img_str, REGEXES, i);
        char e[128];
        rxs[i] = rx_compile(str_at(c, *s), s->len, e, sizeof e);
        if (!rxs[i]) {
            img_free_regexes(rxs, i);
            return fail(c, rec_off(c, IMG_S_REGEXES, i, 0), "REGEXES %u: invalid RE2 pattern: %s", i, e);
        }
    }
    if (out) *out = rxs;
    else img_free_regexes(rxs, n);
    return true;
}

void img_free_regexes(struct rx **rxs, uint32_t n)
{
    if (!rxs) return;
    for (uint32_t i = 0; i < n; i++) rx_free(rxs[i]);
    free(rxs);
}

static uint64_t checksum(const uint8_t *p, uint64_t n)
{
    XXH3_state_t *st = XXH3_createState();
    if (!st) return 0;
    XXH3_64bits_reset(st);
    XXH3_64bits_update(st, p, offsetof(img_header, checksum));
    XXH3_64bits_update(st, p + offsetof(img_header, reserved), n - offsetof(img_header, reserved));
    uint64_t h = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return h;
}

static bool check_header(vctx *c, size_t n)
{
    const uint8_t *p = c->base;
    if (n < IMG_HEADER_SIZE) return fail(c, n, "truncated image: %zu bytes, the header alone is %u", n, IMG_HEADER_SIZE);
    img_header h;
    memcpy(&h, p, sizeof h);
    if (memcmp(h.magic, IMG_MAGIC, 4) != 0) return fail(c, 0, "not a route image (bad magic)");
    if (memcmp(h.data, IMG_DATA, 6) != 0)
        return fail(c, 4, "image damaged by newline or text-mode conversion (check bytes differ)");
    uint32_t probe = 0x01020304u;
    if (*(const uint8_t *)&probe != 0x04) return fail(c, 16, "this host is big-endian; route images are little-endian");
    if (h.endian != IMG_ENDIAN_PROBE) return fail(c, 16, "byte order mismatch (endianness probe 0x%08x)", h.endian);
    if (h.major != IMG_MAJOR)
        return fail(c, 10, "image format version %u.%u, this program reads %u.x: rebuild the image with a matching meshc",
                    h.major, h.minor, IMG_MAJOR);
    if (h.total_size != n)
        return fail(c, 24, "%s image: header says %llu bytes, file has %zu", h.total_size > n ? "truncated" : "oversized",
                    (unsigned long long)h.total_size, n);
    if (h.nsections > IMG_MAX_SECTIONS || h.nsections < IMG_NSECTIONS)
        return fail(c, 20, "%u sections (this format has %u)", h.nsections, (unsigned)IMG_NSECTIONS);
    if (h.header_size != IMG_HEADER_SIZE + 24u * h.nsections || h.header_size > n)
        return fail(c, 14, "header size %u does not fit %u sections", h.header_size, h.nsections);
    uint64_t cs = checksum(p, n);
    if (cs != h.checksum)
        return fail(c, 48, "checksum mismatch: the image is corrupted (stored %016llx, computed %016llx)",
                    (unsigned long long)h.checksum, (unsigned long long)cs);
    if (h.reserved) return fail(c, 56, "reserved header bytes are not zero");
    uint8_t id[16];
    XXH128_canonical_t canon;
    XXH128_canonicalFromHash(&canon, XXH3_128bits(p + h.header_size, n - h.header_size));
    memcpy(id, canon.digest, 16);
    if (memcmp(id, h.build_id, 16) != 0) return fail(c, 32, "build id is not the hash of the content");
    /* section table: known ids in order, aligned, in bounds, increasing, gaps zero */
    uint64_t prev_end = h.header_size;
    for (uint32_t i = 0; i < h.nsections; i++) {
        img_section s;
        uint64_t so = IMG_HEADER_SIZE + 24ull * i;
        memcpy(&s, p + so, sizeof s);
        if (i < IMG_NSECTIONS && s.id != sections[i].id)
            return fail(c, so, "section %u has id %u, expected %u (%s)", i, s.id, sections[i].id, sections[i].name);
        if (s.off % IMG_ALIGN) return fail(c, so + 8, "section %u: offset %llu not 8-aligned", i, (unsigned long long)s.off);
        if (s.off < prev_end || s.off > n || s.size > n - s.off)
            return fail(c, so + 8, "section %u: bad offset or size (%llu+%llu)", i, (unsigned long long)s.off, (unsigned long long)s.size);
        for (uint64_t k = prev_end; k < s.off; k++)
            if (p[k]) return fail(c, k, "padding byte before section %u is not zero", i);
        if (i < IMG_NSECTIONS) {
            if ((uint64_t)s.count * sections[i].recsize != s.size)
                return fail(c, so + 4, "section %u (%s): %u records of %u bytes do not make %llu bytes", i, sections[i].name, s.count,
                            sections[i].recsize, (unsigned long long)s.size);
            c->m->sec[i] = p + s.off;
            c->m->count[i] = s.count;
        }
        prev_end = s.off + s.size;
    }
    for (uint64_t k = prev_end; k < n; k++)
        if (p[k]) return fail(c, k, "trailing byte after the last section is not zero");
    return true;
}

bool img_verify(const void *p, size_t n, img_map *m, struct rx ***rxs, char *err, size_t errlen)
{
    img_map local;
    if (!m) m = &local;
    memset(m, 0, sizeof *m);
    vctx c = { p, n, m, err, errlen, NULL, NULL, NULL, 0, 8 * (uint64_t)n + (1u << 20) };
    bool ok = false;
    if ((uintptr_t)p % IMG_ALIGN) {
        fail(&c, 0, "image buffer is not 8-byte aligned");
        goto out;
    }
    if (n > IMG_MAX_SIZE) {
        fail(&c, 0, "image larger than 4 GiB");
        goto out;
    }
    m->base = p;
    m->size = n;
    if (!check_header(&c, n) || !check_strings(&c)) goto out;
    for (int s = 0; s < IMG_NSECTIONS; s++)
        if (!check_fields(&c, (img_sec)s)) goto out;
    if (!check_host_tables(&c) || !check_rows(&c) || !check_links(&c)) goto out;
    if (!check_regexes(&c, rxs)) goto out;
    ok = true;
out:
    free(c.rowmax);
    free(c.triemax);
    free(c.htmax);
    if (!ok) memset(m, 0, sizeof *m);
    return ok;
}
