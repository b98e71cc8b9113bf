/*
** hostset.c -- host names indexed for wildcard-aware overlap queries.
*/
#include "hostset.h"

#include <stdlib.h>
#include <string.h>

typedef struct ent { void *val; struct ent *next; } ent;
typedef struct list { const char *host; ent *first, *last; } list;

struct mc_hostset_rev {
    const char *rev;            /* the key reversed */
    size_t len;
    list *l;
};

void mc_hostset_init(mc_hostset *s, mc_arena *a)
{
    memset(s, 0, sizeof *s);
    s->a = a;
    mc_strmap_init(&s->exact);
    mc_strmap_init(&s->wild);
}

void mc_hostset_free(mc_hostset *s)
{
    mc_strmap_free(&s->exact);
    mc_strmap_free(&s->wild);
    free(s->rexact);
    free(s->rwild);
    s->rexact = s->rwild = NULL;
}

void mc_hostset_add(mc_hostset *s, const char *host, void *val)
{
    bool wild = host[0] == '*';
    const char *key = wild ? host + 1 : host;
    bool found;
    void **slot = mc_strmap_put(wild ? &s->wild : &s->exact, key, strlen(key), &found);
    list *l = *slot;
    if (!found) {
        l = mc_arena_zalloc(s->a, sizeof *l);
        l->host = host;
        *slot = l;
        /* a new key invalidates the reversed arrays */
        free(wild ? s->rwild : s->rexact);
        if (wild) { s->rwild = NULL; s->nrwild = 0; } else { s->rexact = NULL; s->nrexact = 0; }
    }
    ent *e = mc_arena_alloc(s->a, sizeof *e);
    e->val = val;
    e->next = NULL;
    if (l->last) l->last->next = e; else l->first = e;
    l->last = e;
    s->n++;
}

static bool emit(const list *l, mc_hostset_fn fn, void *ud)
{
    for (const ent *e = l->first; e; e = e->next)
        if (!fn(ud, l->host, e->val)) return false;
    return true;
}

static int cmp_rev(const void *pa, const void *pb)
{
    const mc_hostset_rev *a = pa, *b = pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->rev, b->rev, n);
    if (c) return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

static mc_hostset_rev *build_rev(mc_hostset *s, mc_strmap *m, size_t *n)
{
    mc_hostset_rev *r = mc_xmalloc((m->n ? m->n : 1) * sizeof *r);
    size_t k = 0;
    MC_STRMAP_EACH(m, sl) {
        char *rv = mc_arena_alloc(s->a, sl->len + 1);
        for (size_t i = 0; i < sl->len; i++) rv[i] = sl->key[sl->len - 1 - i];
        rv[sl->len] = '\0';
        r[k].rev = rv;
        r[k].len = sl->len;
        r[k].l = sl->val;
        k++;
    }
    qsort(r, k, sizeof *r, cmp_rev);
    *n = k;
    return r;
}

/* Entries of r whose key ends with y (reversed key starts with reversed y),
** skipping the key equal to y when skip_equal. */
static bool each_suffixed(const mc_hostset_rev *r, size_t n, const char *y, bool skip_equal,
                          mc_hostset_fn fn, void *ud)
{
    size_t yl = strlen(y);
    char stackbuf[256];
    char *ry = yl < sizeof stackbuf ? stackbuf : mc_xmalloc(yl + 1);
    for (size_t i = 0; i < yl; i++) ry[i] = y[yl - 1 - i];
    ry[yl] = '\0';
    /* lower bound of ry */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        size_t m = r[mid].len < yl ? r[mid].len : yl;
        int c = memcmp(r[mid].rev, ry, m);
        if (c < 0 || (c == 0 && r[mid].len < yl)) lo = mid + 1; else hi = mid;
    }
    bool go = true;
    for (size_t i = lo; i < n && go; i++) {
        if (r[i].len < yl || memcmp(r[i].rev, ry, yl) != 0) break;
        if (skip_equal && r[i].len == yl) continue;
        go = emit(r[i].l, fn, ud);
    }
    if (ry != stackbuf) free(ry);
    return go;
}

bool mc_hostset_each(mc_hostset *s, const char *h, mc_hostset_fn fn, void *ud)
{
    if (!h || s->n == 0) return true;
    size_t hl = strlen(h);
    if (h[0] != '*') {
        /* plain h: equal plain hosts, and wildcards whose tail ends h */
        list *l = mc_strmap_get(&s->exact, h, hl);
        if (l && !emit(l, fn, ud)) return false;
        if (s->wild.n)
            for (size_t i = 0; i <= hl; i++) {
                l = mc_strmap_get(&s->wild, h + i, hl - i);
                if (l && !emit(l, fn, ud)) return false;
            }
        return true;
    }
    const char *y = h + 1;
    size_t yl = hl - 1;
    /* plain hosts ending with y */
    if (s->exact.n) {
        if (!s->rexact) s->rexact = build_rev(s, &s->exact, &s->nrexact);
        if (!each_suffixed(s->rexact, s->nrexact, y, false, fn, ud)) return false;
    }
    if (s->wild.n) {
        /* tails that y ends with (the shorter wildcard covers h) ... */
        for (size_t i = 0; i <= yl; i++) {
            list *l = mc_strmap_get(&s->wild, y + i, yl - i);
            if (l && !emit(l, fn, ud)) return false;
        }
        /* ... and longer tails ending with y (h covers them) */
        if (!s->rwild) s->rwild = build_rev(s, &s->wild, &s->nrwild);
        if (!each_suffixed(s->rwild, s->nrwild, y, true, fn, ud)) return false;
    }
    return true;
}

static bool stop_at_first(void *ud, const char *host, void *val)
{
    (void)host;
    (void)val;
    *(bool *)ud = true;
    return false;
}

bool mc_hostset_any(mc_hostset *s, const char *h)
{
    bool found = false;
    mc_hostset_each(s, h, stop_at_first, &found);
    return found;
}
