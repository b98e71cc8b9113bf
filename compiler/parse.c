/*
** parse.c -- YAML and JSON streams to mc_node trees (see parse.h).
**
** Both readers feed one builder: a stack of open containers, each
** collecting its children by value in a scratch vector; when a container
** closes, its children are copied into one arena array (tree.h layout).
** The builder applies kubectl's decoding rules: duplicate keys, '<<'
** merges, non-scalar keys, and the alias expansion budget.
*/
#include "parse.h"
#include "diag.h"
#include "source.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct anchor {
    const char *name;
    mc_node node;
    uint64_t expanded;
} anchor;

typedef struct frame {
    mc_node hdr;            /* type, flags and position of the container */
    mc_vec kids;            /* mc_node, by value */
    mc_vec merges;          /* mc_node: values of '<<' keys */
    uint64_t expanded;      /* expanded size of the children so far */
    char *anchor;           /* heap copy, or NULL */
} frame;

/* One entry of the interning cache (b_text). */
typedef struct shared_text { const char *s; uint32_t len, hash; } shared_text;
#define SHARED_SLOTS 8192

typedef struct builder {
    mc_arena *a;
    shared_text *shared;    /* SHARED_SLOTS, or NULL: no interning */
    uint16_t file;
    uint32_t base;          /* global position of the reader's character 0 */
    size_t byte0;           /* byte offset in the source of the reader's byte 0 */
    int depth;              /* open containers */
    frame frames[MC_MAX_DEPTH];
    mc_node root;
    uint64_t root_expanded;
    bool have_root;
    mc_vec anchors;         /* anchor, for the current document */
    uint64_t real;          /* nodes written in the document */
    uint64_t expanded;      /* nodes after alias expansion */
    bool failed;
} builder;

static void b_init(builder *b, mc_arena *a, bool intern, uint16_t file)
{
    memset(b, 0, sizeof *b);
    b->a = a;
    if (intern) {
        b->shared = mc_xmalloc(SHARED_SLOTS * sizeof *b->shared);
        memset(b->shared, 0, SHARED_SLOTS * sizeof *b->shared);
    }
    b->file = file;
    b->base = mc_src_get(file)->base;
    for (int i = 0; i < MC_MAX_DEPTH; i++) {
        mc_vec_init(&b->frames[i].kids, sizeof(mc_node));
        mc_vec_init(&b->frames[i].merges, sizeof(mc_node));
    }
    mc_vec_init(&b->anchors, sizeof(anchor));
}

static void b_doc_reset(builder *b)
{
    for (size_t i = 0; i < b->anchors.n; i++) free((char *)MC_VEC_AT(&b->anchors, anchor, i).name);
    b->anchors.n = 0;
    for (int i = 0; i < b->depth; i++) { free(b->frames[i].anchor); b->frames[i].anchor = NULL; }
    b->depth = 0;
    b->have_root = false;
    b->real = b->expanded = 0;
}

static void b_free(builder *b)
{
    b_doc_reset(b);
    for (int i = 0; i < MC_MAX_DEPTH; i++) {
        mc_vec_free(&b->frames[i].kids);
        mc_vec_free(&b->frames[i].merges);
    }
    mc_vec_free(&b->anchors);
    free(b->shared);
}

#define INTERN_MAX 64

/* The arena copy of a scalar's text, shared when short and met recently:
** keys, names, hosts and values repeat constantly in manifests, mostly
** close together. A direct-mapped cache, not a map of every text: a map
** of a 13 MB input's texts is 6 MB of cold slots, one cache miss per
** scalar. Equal texts are not always one copy; tree.h promises no more. */
static const char *b_text(builder *b, const char *s, size_t len)
{
    if (!b->shared || len > INTERN_MAX) return mc_arena_strndup(b->a, s, len);
    uint32_t h = (uint32_t)mc_hash(s, len);
    shared_text *e = &b->shared[h & (SHARED_SLOTS - 1)];
    if (e->s && e->hash == h && e->len == len && memcmp(e->s, s, len) == 0) return e->s;
    char *copy = mc_arena_strndup(b->a, s, len);
    e->s = copy;
    e->len = (uint32_t)len;
    e->hash = h;
    return copy;
}

/* Report at a character index of the source. */
static void fail_at(builder *b, mc_code c, size_t index, const char *msg)
{
    mc_node at;
    memset(&at, 0, sizeof at);
    at.pos = b->base + (uint32_t)index;
    mc_diag(c, NULL, &at, "%s", msg);
    b->failed = true;
}

static bool budget(builder *b, uint64_t add, const mc_node *at)
{
    b->expanded += add;
    if (b->expanded > MC_MAX_EXPANDED || (b->expanded > 400000 && b->expanded > 10 * b->real)) {
        mc_diag(MSH0005, NULL, at, "document contains excessive aliasing: aliases expand it beyond %llu nodes",
                (unsigned long long)(b->expanded > MC_MAX_EXPANDED ? MC_MAX_EXPANDED : 10 * b->real));
        b->failed = true;
        return false;
    }
    return true;
}

static void register_anchor(builder *b, const char *name, const mc_node *n, uint64_t expanded)
{
    if (!name) return;
    /* a redefined anchor replaces the old one from here on */
    for (size_t i = 0; i < b->anchors.n; i++) {
        anchor *an = &MC_VEC_AT(&b->anchors, anchor, i);
        if (strcmp(an->name, name) == 0) { an->node = *n; an->expanded = expanded; return; }
    }
    anchor *an = mc_vec_push(&b->anchors);
    an->name = mc_xstrdup(name);
    an->node = *n;
    an->expanded = expanded;
}

static bool is_merge_key(const mc_node *k)
{
    return k->type == MC_STR && !(k->flags & MC_N_QUOTED) && k->n == 2 && k->u.s[0] == '<' && k->u.s[1] == '<';
}

/* Add a complete node to the innermost open container, or make it the root. */
static void b_add(builder *b, const mc_node *n, uint64_t expanded)
{
    if (b->depth == 0) {
        b->root = *n;
        b->root_expanded = expanded;
        b->have_root = true;
        return;
    }
    frame *f = &b->frames[b->depth - 1];
    f->expanded += expanded;
    if (f->hdr.type == MC_MAP && (f->kids.n & 1) == 0 && (n->type == MC_MAP || n->type == MC_SEQ)) {
        mc_diag(MSH0009, NULL, n, "mapping key must be a string, not %s", n->type == MC_MAP ? "a mapping" : "a sequence");
        /* keep the slot so the value pairs up, then drop both at the end */
    }
    *(mc_node *)mc_vec_push(&f->kids) = *n;
    if (f->hdr.type == MC_MAP && (f->kids.n & 1) == 0) {
        mc_node *k = &MC_VEC_AT(&f->kids, mc_node, f->kids.n - 2);
        if (k->type == MC_MAP || k->type == MC_SEQ) {
            f->kids.n -= 2;
        } else if (is_merge_key(k)) {
            *(mc_node *)mc_vec_push(&f->merges) = MC_VEC_AT(&f->kids, mc_node, f->kids.n - 1);
            f->kids.n -= 2;
        }
    }
}

static void b_open(builder *b, mc_type t, size_t index, const char *anchor_name)
{
    if (b->depth >= MC_MAX_DEPTH) {
        char m[96];
        snprintf(m, sizeof m, "nesting deeper than %d levels", MC_MAX_DEPTH);
        fail_at(b, MSH0004, index, m);
        return;
    }
    frame *f = &b->frames[b->depth++];
    memset(&f->hdr, 0, sizeof f->hdr);
    f->hdr.type = t;
    f->hdr.pos = b->base + (uint32_t)index;
    f->kids.n = 0;
    f->merges.n = 0;
    f->expanded = 0;
    f->anchor = anchor_name ? mc_xstrdup(anchor_name) : NULL;
    b->real++;
    budget(b, 1, &f->hdr);
}

static bool same_key(const mc_node *a, const mc_node *b)
{
    return a->n == b->n && memcmp(a->u.s, b->u.s, a->n) == 0;
}

static int cmp_key_idx(const void *pa, const void *pb, void *ctx)
{
    const mc_node *kids = ctx;
    const mc_node *a = &kids[2 * *(const uint32_t *)pa], *b = &kids[2 * *(const uint32_t *)pb];
    uint32_t n = a->n < b->n ? a->n : b->n;
    int c = memcmp(a->u.s, b->u.s, n);
    if (c) return c;
    if (a->n != b->n) return a->n < b->n ? -1 : 1;
    return *(const uint32_t *)pa < *(const uint32_t *)pb ? -1 : 1;
}

/* Report duplicate keys among the explicit pairs; keep the first. */
static void dedupe_keys(frame *f)
{
    mc_node *kids = f->kids.v;
    uint32_t n = (uint32_t)(f->kids.n / 2);
    if (n < 2) return;
    bool *drop = NULL;
    if (n <= 16) {
        for (uint32_t i = 1; i < n; i++)
            for (uint32_t j = 0; j < i; j++)
                if (same_key(&kids[2 * i], &kids[2 * j])) {
                    if (!drop) drop = mc_xcalloc(n, sizeof *drop);
                    if (!drop[i]) {
                        mc_diag(MSH0007, NULL, &kids[2 * i], "mapping key \"%s\" already defined at line %u",
                                kids[2 * i].u.s, mc_node_line(&kids[2 * j]));
                        drop[i] = true;
                    }
                    break;
                }
    } else {
        uint32_t *idx = mc_xmalloc(n * sizeof *idx);
        for (uint32_t i = 0; i < n; i++) idx[i] = i;
        qsort_r(idx, n, sizeof *idx, cmp_key_idx, kids);
        for (uint32_t i = 1; i < n; i++)
            if (same_key(&kids[2 * idx[i]], &kids[2 * idx[i - 1]])) {
                if (!drop) drop = mc_xcalloc(n, sizeof *drop);
                /* idx is sorted by (key, position): idx[i-1] came first, or
                ** is itself a dropped duplicate of an earlier one */
                uint32_t first = idx[i - 1];
                uint32_t k = i - 1;
                while (k > 0 && same_key(&kids[2 * idx[k - 1]], &kids[2 * idx[i]])) first = idx[--k];
                mc_diag(MSH0007, NULL, &kids[2 * idx[i]], "mapping key \"%s\" already defined at line %u",
                        kids[2 * idx[i]].u.s, mc_node_line(&kids[2 * first]));
                drop[idx[i]] = true;
            }
        free(idx);
    }
    if (drop) {
        uint32_t w = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (drop[i]) continue;
            kids[2 * w] = kids[2 * i];
            kids[2 * w + 1] = kids[2 * i + 1];
            w++;
        }
        f->kids.n = 2 * w;
        free(drop);
    }
}

static bool has_key(const mc_node *kids, size_t npairs, const mc_node *k)
{
    for (size_t i = 0; i < npairs; i++)
        if (same_key(&kids[2 * i], k)) return true;
    return false;
}

/* Append the pairs of merge source m that the mapping lacks. */
static void merge_from(builder *b, frame *f, const mc_node *m)
{
    for (uint32_t i = 0; i < m->n; i++) {
        const mc_node *k = &m->u.kids[2 * i];
        if (has_key(f->kids.v, f->kids.n / 2, k)) continue;
        mc_node *nk = mc_vec_push(&f->kids);
        *nk = *k;
        nk->flags |= MC_N_MERGED;
        *(mc_node *)mc_vec_push(&f->kids) = m->u.kids[2 * i + 1];
    }
    (void)b;
}

static void b_close(builder *b)
{
    frame *f = &b->frames[b->depth - 1];
    if (f->hdr.type == MC_MAP) {
        dedupe_keys(f);
        for (size_t i = 0; i < f->merges.n; i++) {
            const mc_node *m = &MC_VEC_AT(&f->merges, mc_node, i);
            if (m->type == MC_MAP) {
                merge_from(b, f, m);
            } else if (m->type == MC_SEQ) {
                for (uint32_t j = 0; j < m->n; j++) {
                    if (m->u.kids[j].type != MC_MAP) {
                        mc_diag(MSH0019, NULL, &m->u.kids[j], "map merge requires a mapping or a sequence of mappings");
                        continue;
                    }
                    merge_from(b, f, &m->u.kids[j]);
                }
            } else {
                mc_diag(MSH0019, NULL, m, "map merge requires a mapping or a sequence of mappings");
            }
        }
    }
    mc_node n = f->hdr;
    size_t count = f->hdr.type == MC_MAP ? f->kids.n / 2 : f->kids.n;
    /* the expansion budget keeps counts far below MC_NODE_MAX_N */
    n.n = (uint32_t)count & MC_NODE_MAX_N;
    n.u.kids = f->kids.n ? mc_arena_alloc(b->a, f->kids.n * sizeof(mc_node)) : NULL;
    if (f->kids.n) memcpy(n.u.kids, f->kids.v, f->kids.n * sizeof(mc_node));
    uint64_t expanded = 1 + f->expanded;
    char *an = f->anchor;
    f->anchor = NULL;
    b->depth--;
    register_anchor(b, an, &n, expanded);
    free(an);
    b_add(b, &n, expanded);
}

static void b_scalar(builder *b, const char *s, size_t len, bool plain, const char *tag,
                     size_t index, const char *anchor_name)
{
    if (len > MC_MAX_SCALAR) {
        char m[96];
        snprintf(m, sizeof m, "scalar of %zu bytes is larger than the limit of %u bytes", len, MC_MAX_SCALAR);
        fail_at(b, MSH0006, index, m);
        return;
    }
    mc_node n;
    memset(&n, 0, sizeof n);
    n.pos = b->base + (uint32_t)index;
    n.n = (uint32_t)len;
    n.u.s = b_text(b, s, len);
    uint8_t flags = plain ? 0 : MC_N_QUOTED;
    mc_type t = MC_STR;
    if (tag && strncmp(tag, "tag:yaml.org,2002:", 18) == 0) {
        const char *tt = tag + 18;
        uint8_t tf = 0;
        mc_type r = mc_resolve_plain(s, (uint32_t)len, &tf);
        if (strcmp(tt, "str") == 0 || strcmp(tt, "binary") == 0) t = MC_STR;
        else if (strcmp(tt, "int") == 0) t = r == MC_INT ? MC_INT : MC_STR;
        else if (strcmp(tt, "float") == 0) t = (r == MC_INT || r == MC_FLOAT) ? MC_FLOAT : MC_STR;
        else if (strcmp(tt, "bool") == 0) { t = r == MC_BOOL ? MC_BOOL : MC_STR; flags |= tf & MC_N_TRUE; }
        else if (strcmp(tt, "null") == 0) t = r == MC_NULL ? MC_NULL : MC_STR;
        else if (strcmp(tt, "timestamp") == 0) { t = MC_STR; flags |= MC_N_TIMESTAMP; }
        else if (plain) { t = r; flags |= tf; }
    } else if (tag && !(tag[0] == '!' && tag[1] == '\0')) {
        t = MC_STR;     /* a local tag: go-yaml keeps the text */
    } else if (plain) {
        t = mc_resolve_plain(s, (uint32_t)len, &flags);
    }
    n.type = t;
    n.flags = flags & 0x1F;
    b->real++;
    if (!budget(b, 1, &n)) return;
    register_anchor(b, anchor_name, &n, 1);
    b_add(b, &n, 1);
}

static void b_alias(builder *b, const char *name, size_t index)
{
    for (size_t i = b->anchors.n; i-- > 0;) {
        anchor *an = &MC_VEC_AT(&b->anchors, anchor, i);
        if (strcmp(an->name, name) != 0) continue;
        mc_node n = an->node;
        n.pos = b->base + (uint32_t)index;
        n.flags |= MC_N_ALIAS;
        if (!budget(b, an->expanded, &n)) return;
        b_add(b, &n, an->expanded);
        return;
    }
    for (int i = 0; i < b->depth; i++)
        if (b->frames[i].anchor && strcmp(b->frames[i].anchor, name) == 0) {
            char m[160];
            snprintf(m, sizeof m, "anchor '%.100s' value contains itself", name);
            fail_at(b, MSH0008, index, m);
            return;
        }
    char m[160];
    snprintf(m, sizeof m, "unknown anchor '%.100s' referenced", name);
    fail_at(b, MSH0008, index, m);
}

static void b_deliver(builder *b, mc_doc_fn fn, void *ud)
{
    if (b->have_root && !(b->root.type == MC_NULL)) {
        mc_node *r = mc_arena_alloc(b->a, sizeof *r);
        *r = b->root;
        fn(ud, r);
    }
    b_doc_reset(b);
}

/* ------------------------------------------------------------------ YAML */

typedef struct reader {
    const char *data;       /* the whole source */
    size_t end, off, released;
    uint16_t file;
} reader;

static int read_handler(void *data, unsigned char *buffer, size_t size, size_t *size_read)
{
    reader *r = data;
    size_t n = r->end - r->off;
    if (n > size) n = size;
    memcpy(buffer, r->data + r->off, n);
    r->off += n;
    *size_read = n;
    /* libyaml keeps what it needs in its own buffers: let the kernel drop
    ** the mapped pages behind us every 4 MiB */
    if (r->off - r->released >= (4u << 20)) {
        size_t upto = r->off - (1u << 20);
        mc_src_release_range(r->file, r->released, upto);
        r->released = upto;
    }
    return 1;
}

static void yaml_error(builder *b, yaml_parser_t *p)
{
    char m[512];
    if (p->error == YAML_MEMORY_ERROR) mc_oom();
    if (p->error == YAML_READER_ERROR) {
        /* point at the first byte of a broken multi-byte sequence, not at
        ** the octet that broke it */
        const mc_source *src = mc_src_get(b->file);
        size_t off = b->byte0 + p->problem_offset;
        if (src && p->problem && strstr(p->problem, "trailing") && off > 0 && off <= src->len) {
            size_t k = off;
            while (k > 0 && k > off - 4 && ((unsigned char)src->data[k - 1] & 0xC0) == 0x80) k--;
            if (k > 0 && ((unsigned char)src->data[k - 1] & 0xC0) == 0xC0) off = k - 1;
        }
        uint32_t line, col;
        mc_src_position(b->file, off, &line, &col);
        if (p->problem_value != -1)
            snprintf(m, sizeof m, "%s (#x%X) at byte %zu", p->problem ? p->problem : "invalid input",
                     (unsigned)p->problem_value, off);
        else
            snprintf(m, sizeof m, "%s at byte %zu", p->problem ? p->problem : "invalid input", off);
        mc_diag_pos(MSH0003, MC_ERROR, NULL, b->file, line, col, "%s", m);
        b->failed = true;
        return;
    }
    snprintf(m, sizeof m, "%s", p->problem ? p->problem : "syntax error");
    fail_at(b, MSH0001, p->problem_mark.index, m);
    if (p->context) {
        mc_node at;
        memset(&at, 0, sizeof at);
        at.pos = b->base + (uint32_t)p->context_mark.index;
        mc_diag_note(&at, "%s", p->context);
    }
}

/* ---- reading ahead
** A large YAML stream is read in two halves at once. The split is the start
** of a line "---" near the middle. A second thread parses from there to the
** end as a stream of its own, collecting its documents and holding its
** findings (diag.h). The main thread parses from the start as always; when
** its parser reports a document start exactly at the split, everything from
** there on is what the second thread produced: at a document start libyaml
** carries nothing over from earlier documents (anchors and %TAG directives
** are per document, and the scanner is back at indentation -1 outside any
** flow), and neither do we. If instead the main thread meets anything else
** at or past the split (directives before the "---", so the document
** starts earlier; a syntax error; a "---" inside a quoted scalar), or fails
** before it, or the second half itself fails (see ahead_finish), the work
** ahead is thrown away and the main thread reads on (or stops) exactly as it
** would have alone. Output never depends on the split; only inputs without
** a fatal problem after the split gain from it. */

typedef struct ahead {
    pthread_t thread;
    builder *b;             /* the second half's builder */
    mc_arena arena;         /* its trees */
    size_t from;            /* byte offset of the split */
    uint32_t from_ci;       /* its character index (the parser's mark.index) */
    mc_vec docs;            /* mc_node *: complete documents, in order */
    mc_diag_hold *hold;
    atomic_bool cancel;
    bool ok;
} ahead;

static bool yaml_stream(builder *b, const mc_source *src, size_t from, mc_doc_fn fn, void *ud,
                        ahead *ah, atomic_bool *cancel);

static atomic_uint splits_taken;

unsigned mc_parse_split_count(void) { return atomic_load(&splits_taken); }

static void collect_doc(void *ud, mc_node *root)
{
    *(mc_node **)mc_vec_push(ud) = root;
}

static void *ahead_main(void *p)
{
    ahead *ah = p;
    mc_diag_hold_begin();
    ah->ok = yaml_stream(ah->b, mc_src_get(ah->b->file), ah->from, collect_doc, &ah->docs, NULL, &ah->cancel);
    ah->hold = mc_diag_hold_end();
    return NULL;
}

/* Sources at least this large are split (MESHC_PARSE_SPLIT overrides it,
** and the CPU count, for tests; "off" never splits). */
#define SPLIT_MIN (1u << 20)

static size_t split_min(void)
{
    const char *e = getenv("MESHC_PARSE_SPLIT");
    if (e && *e) {
        if (strcmp(e, "off") == 0) return SIZE_MAX;
        char *end;
        unsigned long long v = strtoull(e, &end, 10);
        if (*end == '\0') return v ? (size_t)v : 1;
    }
    cpu_set_t cs;
    if (sched_getaffinity(0, sizeof cs, &cs) == 0 && CPU_COUNT(&cs) < 2) return SIZE_MAX;
    return SPLIT_MIN;
}

static bool is_doc_start_line(const char *d, size_t len, size_t i)
{
    if (i + 3 > len || memcmp(d + i, "---", 3) != 0) return false;
    return i + 3 == len || d[i + 3] == ' ' || d[i + 3] == '\t' || d[i + 3] == '\n' || d[i + 3] == '\r';
}

/* A line start "---" nearest the middle (after it, else before it), > 0. */
static size_t find_split(const char *d, size_t len)
{
    size_t mid = len / 2;
    for (const char *p = d + mid; (p = memchr(p, '\n', (size_t)(d + len - p))) != NULL; p++)
        if (is_doc_start_line(d, len, (size_t)(p - d) + 1)) return (size_t)(p - d) + 1;
    for (size_t i = mid; i-- > 1;)
        if (d[i - 1] == '\n' && is_doc_start_line(d, len, i)) return i;
    return 0;
}

/* Characters (the parser's index) in d[from, to): bytes that do not
** continue a UTF-8 sequence. */
static uint32_t count_chars(const char *d, size_t from, size_t to)
{
    size_t n = to - from, cont = 0, i = 0;
    const unsigned char *p = (const unsigned char *)d + from;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        /* continuation bytes: 10xxxxxx */
        uint64_t hi = w & 0x8080808080808080ull, nb6 = ~(w << 1) & 0x8080808080808080ull;
        cont += (size_t)__builtin_popcountll(hi & nb6);
    }
    for (; i < n; i++) cont += (p[i] & 0xC0) == 0x80;
    return (uint32_t)(n - cont);
}

/* Everything but the documents' trees when they were adopted. */
static void ahead_free(ahead *ah)
{
    b_free(ah->b);
    free(ah->b);
    mc_arena_free(&ah->arena);
    mc_vec_free(&ah->docs);
    free(ah);
}

static ahead *ahead_start(builder *mb, const mc_source *src)
{
    if (src->len < split_min()) return NULL;
    size_t bom = src->len >= 3 && memcmp(src->data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    size_t at = find_split(src->data, src->len);
    if (at <= bom) return NULL;
    ahead *ah = mc_xcalloc(1, sizeof *ah);
    mc_arena_init(&ah->arena);
    mc_vec_init(&ah->docs, sizeof(mc_node *));
    atomic_init(&ah->cancel, false);
    ah->from = at;
    ah->from_ci = count_chars(src->data, bom, at);
    ah->b = mc_xmalloc(sizeof *ah->b);
    b_init(ah->b, &ah->arena, mb->shared != NULL, mb->file);
    ah->b->base = mb->base + ah->from_ci;
    ah->b->byte0 = at;
    if (pthread_create(&ah->thread, NULL, ahead_main, ah) != 0) {
        ahead_free(ah);
        return NULL;
    }
    return ah;
}

/* Wait for the second half; take its documents and findings (`take`) or
** forget them. Returns whether they were taken. A second half that ended
** in a fatal problem is always forgotten, and the main thread reads on to
** the failure one pass would meet: libyaml decodes (and checks the encoding
** of) its input up to 16 KiB ahead of the parser, so whether a broken byte
** or a syntax error is met first, and after which documents, depends on
** where reading began. */
static bool ahead_finish(ahead *ah, builder *mb, bool take, mc_doc_fn fn, void *ud)
{
    if (!take) atomic_store(&ah->cancel, true);
    pthread_join(ah->thread, NULL);
    take = take && ah->ok;
    mc_diag_hold_commit(ah->hold, take);
    if (take) {
        mc_arena_adopt(mb->a, &ah->arena);
        for (size_t i = 0; i < ah->docs.n; i++) fn(ud, MC_VEC_AT(&ah->docs, mc_node *, i));
    }
    ahead_free(ah);
    return take;
}

/* Parse src from byte `from` (0, or a split) as one YAML stream. With `ah`,
** hand over to it at its split (see above). */
static bool yaml_stream(builder *b, const mc_source *src, size_t from, mc_doc_fn fn, void *ud,
                        ahead *ah, atomic_bool *cancel)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) mc_oom();
    reader r = { src->data, src->len, from, from, b->file };
    yaml_parser_set_input(&p, read_handler, &r);
    size_t doc_start = 0;
    bool done = false;
    while (!done && !b->failed) {
        if (cancel && atomic_load_explicit(cancel, memory_order_relaxed)) break;
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) { yaml_error(b, &p); break; }
        size_t at = ev.start_mark.index;
        if (ah && at >= ah->from_ci) {
            if (ev.type == YAML_DOCUMENT_START_EVENT && at == ah->from_ci) {
                bool took = ahead_finish(ah, b, true, fn, ud);
                ah = NULL;
                if (took) {
                    yaml_event_delete(&ev);
                    atomic_fetch_add(&splits_taken, 1);
                    break;
                }
                /* forgotten: read on from the split */
            } else if (!(at == ah->from_ci && (ev.type == YAML_DOCUMENT_END_EVENT || ev.type == YAML_MAPPING_END_EVENT ||
                                               ev.type == YAML_SEQUENCE_END_EVENT ||
                                               (ev.type == YAML_SCALAR_EVENT && ev.data.scalar.length == 0 &&
                                                !ev.data.scalar.anchor && !ev.data.scalar.tag)))) {
                /* The ends of the collections and of the document before
                ** the split come first, marked at the "---", and so does
                ** the empty value of a key (or document) left empty there.
                ** Anything else there or past it: the split is no document
                ** boundary. */
                ahead_finish(ah, b, false, fn, ud);
                ah = NULL;
            }
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            b_doc_reset(b);
            doc_start = ev.start_mark.index;
            break;
        case YAML_DOCUMENT_END_EVENT:
            if (ev.end_mark.index - doc_start > MC_MAX_DOCUMENT) {
                char m[96];
                snprintf(m, sizeof m, "document of %zu bytes is larger than the limit of %u bytes",
                         ev.end_mark.index - doc_start, MC_MAX_DOCUMENT);
                fail_at(b, MSH0006, at, m);
                break;
            }
            b_deliver(b, fn, ud);
            break;
        case YAML_SCALAR_EVENT: {
            const char *tag = (const char *)ev.data.scalar.tag;
            bool plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
            /* a plain scalar with the non-specific tag '!' is a string */
            if (tag && strcmp(tag, "!") == 0) plain = false;
            b_scalar(b, (const char *)ev.data.scalar.value, ev.data.scalar.length, plain, tag, at,
                     (const char *)ev.data.scalar.anchor);
            break;
        }
        case YAML_SEQUENCE_START_EVENT:
            b_open(b, MC_SEQ, at, (const char *)ev.data.sequence_start.anchor);
            break;
        case YAML_MAPPING_START_EVENT:
            b_open(b, MC_MAP, at, (const char *)ev.data.mapping_start.anchor);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            b_close(b);
            break;
        case YAML_ALIAS_EVENT:
            b_alias(b, (const char *)ev.data.alias.anchor, at);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    /* stopped before the split (a fatal problem): the rest is not read */
    if (ah) ahead_finish(ah, b, false, fn, ud);
    yaml_parser_delete(&p);
    /* and the pages of the last stretch read (a later diagnostic's source
    ** line reads them in again) */
    mc_src_release_range(r.file, r.released, r.off);
    return !b->failed;
}

static bool parse_yaml(builder *b, const mc_source *src, mc_doc_fn fn, void *ud)
{
    return yaml_stream(b, src, 0, fn, ud, ahead_start(b, src), NULL);
}

/* ------------------------------------------------------------------ JSON */

/* RFC 8259, as Go's encoding/json reads it: a stream of values separated
** by white space. Positions are tracked as we go. */
typedef struct jp {
    builder *b;
    const char *s;
    size_t len, i;
    size_t ci;              /* character index of s[i] */
    mc_buf tmp;
} jp;

static void jp_adv(jp *j)
{
    unsigned char c = (unsigned char)j->s[j->i++];
    if ((c & 0xC0) != 0x80) j->ci++;
}

static void jp_ws(jp *j)
{
    while (j->i < j->len) {
        char c = j->s[j->i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') jp_adv(j);
        else break;
    }
}

static bool jp_fail(jp *j, const char *what)
{
    char m[160];
    if (j->i >= j->len) snprintf(m, sizeof m, "unexpected end of JSON input (%s)", what);
    else {
        unsigned char c = (unsigned char)j->s[j->i];
        if (c >= 0x20 && c < 0x7f) snprintf(m, sizeof m, "invalid character '%c' %s", c, what);
        else snprintf(m, sizeof m, "invalid character 0x%02x %s", c, what);
    }
    fail_at(j->b, MSH0010, j->ci, m);
    return false;
}

/* Length of a valid UTF-8 sequence at p (max n bytes), 0 when invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    if (p[0] < 0x80) return 1;
    size_t k;
    uint32_t cp;
    if ((p[0] & 0xE0) == 0xC0) { k = 2; cp = p[0] & 0x1F; }
    else if ((p[0] & 0xF0) == 0xE0) { k = 3; cp = p[0] & 0x0F; }
    else if ((p[0] & 0xF8) == 0xF0) { k = 4; cp = p[0] & 0x07; }
    else return 0;
    if (k > n) return 0;
    for (size_t i = 1; i < k; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((k == 2 && cp < 0x80) || (k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return k;
}

static void put_utf8(mc_buf *b, uint32_t cp)
{
    char o[4];
    if (cp < 0x80) { o[0] = (char)cp; mc_buf_add(b, o, 1); }
    else if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); mc_buf_add(b, o, 2); }
    else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[2] = (char)(0x80 | (cp & 0x3F));
        mc_buf_add(b, o, 3);
    } else {
        o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
        mc_buf_add(b, o, 4);
    }
}

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return -1;
    }
    return v;
}

static bool jp_string(jp *j, size_t at, bool *ok)
{
    /* at the opening quote */
    jp_adv(j);
    mc_buf_reset(&j->tmp);
    for (;;) {
        if (j->i >= j->len) return *ok = jp_fail(j, "in string literal");
        unsigned char c = (unsigned char)j->s[j->i];
        if (c == '"') { jp_adv(j); break; }
        if (c < 0x20) return *ok = jp_fail(j, "in string literal");
        if (c == '\\') {
            if (j->i + 1 >= j->len) { jp_adv(j); return *ok = jp_fail(j, "in string escape code"); }
            char e = j->s[j->i + 1];
            const char *rep = NULL;
            switch (e) {
            case '"': rep = "\""; break;
            case '\\': rep = "\\"; break;
            case '/': rep = "/"; break;
            case 'b': rep = "\b"; break;
            case 'f': rep = "\f"; break;
            case 'n': rep = "\n"; break;
            case 'r': rep = "\r"; break;
            case 't': rep = "\t"; break;
            case 'u': break;
            default: jp_adv(j); return *ok = jp_fail(j, "in string escape code");
            }
            if (rep) { mc_buf_add(&j->tmp, rep, 1); jp_adv(j); jp_adv(j); continue; }
            if (j->i + 6 > j->len || hex4(j->s + j->i + 2) < 0) { jp_adv(j); jp_adv(j); return *ok = jp_fail(j, "in \\u hexadecimal character escape"); }
            uint32_t cp = (uint32_t)hex4(j->s + j->i + 2);
            for (int k = 0; k < 6; k++) jp_adv(j);
            if (cp >= 0xD800 && cp < 0xDC00 && j->i + 6 <= j->len && j->s[j->i] == '\\' && j->s[j->i + 1] == 'u') {
                int lo = hex4(j->s + j->i + 2);
                if (lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
                    for (int k = 0; k < 6; k++) jp_adv(j);
                }
            }
            if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD;  /* lone surrogate: Go writes U+FFFD */
            put_utf8(&j->tmp, cp);
            continue;
        }
        size_t k = utf8_len((const unsigned char *)j->s + j->i, j->len - j->i);
        if (k == 0) {
            char m[96];
            snprintf(m, sizeof m, "invalid UTF-8 byte (#x%02X) at byte %zu", c, j->i);
            fail_at(j->b, MSH0003, j->ci, m);
            return *ok = false;
        }
        mc_buf_add(&j->tmp, j->s + j->i, k);
        for (size_t q = 0; q < k; q++) jp_adv(j);
    }
    if (j->tmp.n > MC_MAX_SCALAR) {
        fail_at(j->b, MSH0006, at, "string larger than the scalar limit");
        return *ok = false;
    }
    return *ok = true;
}

static bool jp_value(jp *j, int depth);

static void jp_scalar(jp *j, mc_type t, uint8_t flags, const char *s, size_t n, size_t at)
{
    mc_node nd;
    memset(&nd, 0, sizeof nd);
    nd.type = t;
    nd.flags = flags & 0x1F;
    nd.pos = j->b->base + (uint32_t)at;
    nd.n = (uint32_t)n;
    nd.u.s = b_text(j->b, s, n);
    j->b->real++;
    budget(j->b, 1, &nd);
    b_add(j->b, &nd, 1);
}

static bool jp_value(jp *j, int depth)
{
    jp_ws(j);
    if (j->i >= j->len) return jp_fail(j, "looking for beginning of value");
    size_t at = j->ci;
    char c = j->s[j->i];
    if (c == '{' || c == '[') {
        bool obj = c == '{';
        b_open(j->b, obj ? MC_MAP : MC_SEQ, at, NULL);
        if (j->b->failed) return false;
        (void)depth;
        jp_adv(j);
        jp_ws(j);
        if (j->i < j->len && j->s[j->i] == (obj ? '}' : ']')) { jp_adv(j); b_close(j->b); return true; }
        for (;;) {
            if (obj) {
                jp_ws(j);
                if (j->i >= j->len || j->s[j->i] != '"') return jp_fail(j, "looking for beginning of object key string");
                size_t kat = j->ci;
                bool ok;
                jp_string(j, kat, &ok);
                if (!ok) return false;
                jp_scalar(j, MC_STR, MC_N_QUOTED, j->tmp.s ? j->tmp.s : "", j->tmp.n, kat);
                jp_ws(j);
                if (j->i >= j->len || j->s[j->i] != ':') return jp_fail(j, "after object key");
                jp_adv(j);
            }
            if (!jp_value(j, depth + 1)) return false;
            jp_ws(j);
            if (j->i >= j->len) return jp_fail(j, obj ? "after object key:value pair" : "after array element");
            if (j->s[j->i] == ',') { jp_adv(j); continue; }
            if (j->s[j->i] == (obj ? '}' : ']')) { jp_adv(j); break; }
            return jp_fail(j, obj ? "after object key:value pair" : "after array element");
        }
        b_close(j->b);
        return !j->b->failed;
    }
    if (c == '"') {
        bool ok;
        jp_string(j, at, &ok);
        if (!ok) return false;
        jp_scalar(j, MC_STR, MC_N_QUOTED, j->tmp.s ? j->tmp.s : "", j->tmp.n, at);
        return true;
    }
    static const struct { const char *w; mc_type t; uint8_t f; } words[] = {
        { "true", MC_BOOL, MC_N_TRUE }, { "false", MC_BOOL, 0 }, { "null", MC_NULL, 0 } };
    for (size_t w = 0; w < 3; w++) {
        size_t wl = strlen(words[w].w);
        if (j->len - j->i >= wl && memcmp(j->s + j->i, words[w].w, wl) == 0) {
            for (size_t k = 0; k < wl; k++) jp_adv(j);
            jp_scalar(j, words[w].t, words[w].f, words[w].w, wl, at);
            return true;
        }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        size_t st = j->i;
        bool isf = false;
        if (j->s[j->i] == '-') jp_adv(j);
        if (j->i >= j->len) return jp_fail(j, "in numeric literal");
        if (j->s[j->i] == '0') jp_adv(j);
        else if (j->s[j->i] >= '1' && j->s[j->i] <= '9') { while (j->i < j->len && j->s[j->i] >= '0' && j->s[j->i] <= '9') jp_adv(j); }
        else return jp_fail(j, "in numeric literal");
        if (j->i < j->len && j->s[j->i] == '.') {
            isf = true;
            jp_adv(j);
            if (j->i >= j->len || j->s[j->i] < '0' || j->s[j->i] > '9') return jp_fail(j, "after decimal point in numeric literal");
            while (j->i < j->len && j->s[j->i] >= '0' && j->s[j->i] <= '9') jp_adv(j);
        }
        if (j->i < j->len && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
            isf = true;
            jp_adv(j);
            if (j->i < j->len && (j->s[j->i] == '+' || j->s[j->i] == '-')) jp_adv(j);
            if (j->i >= j->len || j->s[j->i] < '0' || j->s[j->i] > '9') return jp_fail(j, "in exponent of numeric literal");
            while (j->i < j->len && j->s[j->i] >= '0' && j->s[j->i] <= '9') jp_adv(j);
        }
        int64_t v;
        mc_type t = isf ? MC_FLOAT : (mc_parse_int(j->s + st, (uint32_t)(j->i - st), &v) ? MC_INT : MC_FLOAT);
        jp_scalar(j, t, 0, j->s + st, j->i - st, at);
        return true;
    }
    return jp_fail(j, "looking for beginning of value");
}

static bool parse_json(builder *b, const mc_source *src, size_t start, mc_doc_fn fn, void *ud)
{
    jp j;
    memset(&j, 0, sizeof j);
    j.b = b;
    j.s = src->data;
    j.len = src->len;
    j.i = start;
    j.ci = 0;
    mc_buf_init(&j.tmp);
    bool ok = true;
    for (;;) {
        jp_ws(&j);
        if (j.i >= j.len) break;
        if (!jp_value(&j, 0)) { ok = false; break; }
        b_deliver(b, fn, ud);
    }
    mc_buf_free(&j.tmp);
    return ok && !b->failed;
}

bool mc_parse(mc_arena *a, bool intern, uint16_t file, mc_doc_fn fn, void *ud)
{
    const mc_source *src = mc_src_get(file);
    if (!src) return false;
    builder *b = mc_xmalloc(sizeof *b);
    b_init(b, a, intern, file);
    size_t i = 0;
    if (src->len >= 3 && memcmp(src->data, "\xEF\xBB\xBF", 3) == 0) i = 3;
    while (i < src->len && (src->data[i] == ' ' || src->data[i] == '\t' || src->data[i] == '\n' || src->data[i] == '\r')) i++;
    bool ok;
    if (i < src->len && src->data[i] == '{')
        ok = parse_json(b, src, src->len >= 3 && memcmp(src->data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0, fn, ud);
    else
        ok = parse_yaml(b, src, fn, ud);
    b_free(b);
    free(b);
    return ok;
}
