/*
** insight_vhost.c -- IR checks per virtual host of the gateways' route
** tables (WORKLOAD views):
**   MSH0610 a route shadowed by an earlier route of its VirtualService
**   MSH0611 a route shadowed by a route of an earlier VirtualService
**   MSH0612 a rule after a catch-all match (dropped by lowering)
**   MSH0613 a wildcard host's requests that 404 on a more specific host
**   MSH0614 several VirtualServices merged on one host (info)
**
** Bounds: a virtual host's rows are compared pairwise up to PAIR_BUDGET
** comparisons, and a wildcard gap is searched with at most GAP_BUDGET row
** evaluations per route table; identical row lists (one VirtualService with
** many hosts) are analyzed once. Past a bound, findings are only missed.
*/
#include "insight_int.h"
#include "host.h"
#include "image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PAIR_BUDGET 200000u
#define GAP_BUDGET 200000u

typedef struct vh_ctx {
    in_ctx *c;
    mc_strmap lists;            /* route lists already analyzed */
    mc_strmap catch_all;        /* VS mc_obj* -> its catch-all mc_ir_route* (a match) */
    mc_buf b;
} vh_ctx;

/* ------------------------------------------------------------ naming rows */

static const mc_obj *origin(const mc_ir_route *r)
{
    return r->http->delegate ? r->http->delegate->obj : r->http->vs->obj;
}

static const mc_node *row_node(const mc_ir_route *r)
{
    return r->match ? r->match->node : r->http->node;
}

static const char *op_text(int op)
{
    return op == IMG_OP_EXACT ? "exact" : op == IMG_OP_PREFIX ? "prefix" : op == IMG_OP_REGEX ? "regex" : "present";
}

/* "http[1].match[0] (prefix /api, header x-user exact \"a\")" */
static const char *row_text(vh_ctx *x, const mc_ir_route *r)
{
    mc_buf *b = &x->b;
    mc_buf_reset(b);
    const mc_http_route *h = r->http;
    if (h->delegate) mc_buf_printf(b, "http[%u] (delegate %s http[%u])", h->index, in_name(x->c, h->delegate->obj), h->delegate_index);
    else mc_buf_printf(b, "http[%u]", h->index);
    if (r->match) mc_buf_printf(b, ".match[%u]", r->match->index);
    mc_buf_printf(b, " (%s %s", r->path_kind == IMG_PATH_EXACT ? "exact" : r->path_kind == IMG_PATH_REGEX ? "regex" : "prefix", r->path);
    for (uint32_t i = 0; i < r->nmatchers; i++) {
        const mc_ir_matcher *m = &r->matchers[i];
        mc_buf_printf(b, ", %s%s %s %s", m->flags & IMG_M_INVERT ? "without " : "",
                      m->target == IMG_TARGET_QUERY ? "query" : "header", m->name, op_text(m->op));
        if (m->op != IMG_OP_PRESENT) mc_buf_printf(b, " \"%s\"", m->value);
    }
    mc_buf_putc(b, ')');
    return mc_arena_strdup(&x->c->a, b->s);
}

/* ------------------------------------------------------------ shadowing */

static void shadowed(vh_ctx *x, const mc_ir_vhost *vh, const mc_ir_route *a, const mc_ir_route *b)
{
    in_ctx *c = x->c;
    const mc_vs *va = a->http->vs, *vb = b->http->vs;
    if (va == vb) {
        /* istioctl's webhook warnings cover duplicates and prefix over prefix */
        if (a->match && b->match && !a->http->delegate && !b->http->delegate && in_ist_overlap(a->match->node, b->match->node))
            return;
        if (in_report(c, MSH0610, MC_WARNING, origin(b), row_node(b),
                "%s never matches on host %s: %s comes before it in VirtualService %s and accepts every request it does",
                row_text(x, b), vh->domain, row_text(x, a), in_name(c, va->obj)))
            mc_diag_note(row_node(a), "the earlier match");
        return;
    }
    const char *shared = strcmp(a->gw, b->gw) == 0 ? ""
        : mc_arena_printf(&c->a, " (bound to %s, whose servers on port %u share the route table)", a->gw, vh->port);
    if (in_report(c, MSH0611, MC_WARNING, origin(b), row_node(b),
            "%s of VirtualService %s never matches on host %s of gateway %s: VirtualService %s%s is merged before it "
            "(creation time, then name) and its %s accepts every request this one does",
            row_text(x, b), in_name(c, vb->obj), vh->domain, b->gw, in_name(c, va->obj), shared, row_text(x, a)))
        mc_diag_note(row_node(a), "the route of %s that takes them", in_name(c, va->obj));
}

static void shadowing(vh_ctx *x, const mc_ir_vhost *vh)
{
    uint32_t budget = PAIR_BUDGET;
    for (uint32_t j = 1; j < vh->nroutes && budget; j++) {
        const mc_ir_route *b = vh->routes[j];
        if (!b->http) continue;
        in_row rb = in_row_of(b);
        for (uint32_t i = 0; i < j && budget; i++, budget--) {
            const mc_ir_route *a = vh->routes[i];
            if (!a->http || (a->http == b->http && a->match == b->match)) continue;   /* a copy (two gateways) */
            in_row ra = in_row_of(a);
            if (!in_row_covers(x->c, &ra, &rb)) continue;
            shadowed(x, vh, a, b);
            break;
        }
    }
}

/* ------------------------------------------------------------ merged hosts */

/* the host of VirtualService o that gives virtual host d */
static const mc_node *host_for(vh_ctx *x, const mc_obj *o, const char *d, bool exact)
{
    const in_vs *v = in_vs_of(x->c, o);
    for (uint32_t i = 0; v && i < v->nhosts; i++)
        if (strcasecmp(v->hosts[i], d) == 0) return v->hnodes[i];
    for (uint32_t i = 0; v && i < v->nhosts && !exact; i++)
        if (mc_host_subset(d, v->hosts[i])) return v->hnodes[i];
    return NULL;
}

static int cmp_vs(const void *a, const void *b)
{
    const mc_vs *x = *(const mc_vs *const *)a, *y = *(const mc_vs *const *)b;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void merged(vh_ctx *x, const mc_ir_view *view, const mc_ir_vhost *vh)
{
    in_ctx *c = x->c;
    const mc_vs *v[16];
    uint32_t n = 0;
    for (uint32_t i = 0; i < vh->nroutes && n < 16; i++) {
        const mc_ir_route *r = vh->routes[i];
        bool dup = !r->http;
        for (uint32_t k = 0; k < n && !dup; k++) dup = v[k] == r->http->vs;
        if (!dup) v[n++] = r->http->vs;
    }
    if (n < 2) return;
    qsort(v, n, sizeof *v, cmp_vs);
    const mc_node *first = host_for(x, v[0]->obj, vh->domain, false);
    /* one gateway, or several whose servers share this route table */
    const char *gw = vh->routes[0]->gw;
    for (uint32_t i = 1; i < vh->nroutes; i++)
        if (vh->routes[i]->gw && strcmp(vh->routes[i]->gw, gw) != 0) {
            gw = mc_arena_printf(&c->a, "port %u of the gateway workload %s (its Gateways' servers there share one "
                                 "route table)", vh->port, view->name);
            break;
        }
    for (uint32_t k = 1; k < n; k++) {
        const mc_node *at = host_for(x, v[k]->obj, vh->domain, false);
        if (!at) continue;
        if (in_report(c, MSH0614, MC_INFO, v[k]->obj, at,
                "VirtualServices %s and %s both define host %s on %s%s: Istio merges them into one virtual host, "
                "the routes of %s first (creation time, then name), catch-all routes last", in_name(c, v[0]->obj),
                in_name(c, v[k]->obj), vh->domain, strncmp(gw, "port ", 5) ? "gateway " : "", gw, in_name(c, v[0]->obj)) && first)
            mc_diag_note(first, "the host in %s", in_name(c, v[0]->obj));
    }
}

/* ------------------------------------------------------------ wildcard gaps */

typedef struct gap_ctx { vh_ctx *x; uint32_t budget; in_row *rows; uint32_t cap; } gap_ctx;

static const mc_ir_vhost *wildcard_for(const mc_ir_route_table *t, mc_strmap *wild, const char *d)
{
    size_t n = strlen(d);
    for (size_t i = 1; i < n; i++) {
        const mc_ir_vhost *w = mc_strmap_get(wild, d + i, n - i);
        if (w) return w;
    }
    (void)t;
    return mc_strmap_get(wild, "", 0);
}

static void gap(gap_ctx *g, const mc_ir_vhost *s, const mc_ir_vhost *w)
{
    vh_ctx *x = g->x;
    in_ctx *c = x->c;
    if (!s->nroutes || !w->nroutes || s->require_tls) return;
    if (g->cap < s->nroutes) {
        g->cap = s->nroutes;
        g->rows = mc_xrealloc(g->rows, g->cap * sizeof *g->rows);
    }
    for (uint32_t i = 0; i < s->nroutes; i++) g->rows[i] = in_row_of(s->routes[i]);
    /* the VirtualService that names the specific host */
    const mc_obj *owner = NULL;
    const mc_node *at = NULL;
    for (uint32_t i = 0; i < s->nroutes && !at; i++)
        if (s->routes[i]->http && (at = host_for(x, s->routes[i]->http->vs->obj, s->domain, true)))
            owner = s->routes[i]->http->vs->obj;
    if (!at) return;
    for (uint32_t k = 0; k < w->nroutes; k++) {
        const mc_ir_route *r = w->routes[k];
        if (!r->http || g->budget < s->nroutes) return;
        g->budget -= s->nroutes;
        in_row row = in_row_of(r);
        const char *req = in_row_gap(c, &row, s->domain, g->rows, s->nroutes);
        if (!req) continue;
        if (in_report(c, MSH0613, MC_WARNING, owner, at,
                "requests for %s that VirtualService %s routes on %s get 404 NR, for example %s: Envoy takes the more "
                "specific host %s (VirtualService %s), which has no route for them, and never falls back to %s",
                s->domain, in_name(c, r->http->vs->obj), w->domain, req, s->domain, in_name(c, owner), w->domain))
            mc_diag_note(row_node(r), "the route that would serve it on %s", w->domain);
        return;
    }
}

static void gaps(vh_ctx *x, const mc_ir_route_table *t)
{
    mc_strmap wild;
    mc_strmap_init(&wild);
    for (uint32_t i = 0; i < t->nvhosts; i++) {
        const char *d = t->vhosts[i].domain;
        if (d[0] == '*') *mc_strmap_put(&wild, d + 1, strlen(d + 1), NULL) = &t->vhosts[i];
    }
    if (wild.n) {
        gap_ctx g = { x, GAP_BUDGET, NULL, 0 };
        for (uint32_t i = 0; i < t->nvhosts && g.budget; i++) {
            const mc_ir_vhost *s = &t->vhosts[i];
            if (s->domain[0] == '*') continue;
            const mc_ir_vhost *w = wildcard_for(t, &wild, s->domain);
            if (w) gap(&g, s, w);
        }
        free(g.rows);
    }
    mc_strmap_free(&wild);
}

/* ------------------------------------------------------------ rules after a catch-all */

static bool anywhere(const mc_http_match *m)
{
    return !m->port && !m->ngateways && !m->nsource_labels && !(m->source_namespace && *m->source_namespace);
}

static void after_catch_all(vh_ctx *x, const mc_ir_drop *d)
{
    in_ctx *c = x->c;
    const mc_ir_route *ca = mc_strmap_get(&x->catch_all, (const char *)&d->obj, sizeof d->obj);
    if (!ca) return;        /* no catch-all match: a rule without matches (IST0130) */
    const mc_vs *vs = ca->http->vs;
    /* the rule, or the match of a rule, that was dropped */
    const mc_http_route *h = NULL;
    const mc_http_match *m = NULL;
    for (uint32_t i = 0; i < vs->nhttp && !h; i++) {
        if (vs->http[i].node == d->at) h = &vs->http[i];
        for (uint32_t j = 0; j < vs->http[i].nmatches && !h; j++)
            if (vs->http[i].matches[j].node == d->at) h = &vs->http[i], m = &vs->http[i].matches[j];
    }
    if (!h || h->delegate) return;
    /* istioctl reports a dropped prefix match the catch-all prefix covers (IST0131) */
    bool all_ist = h->nmatches > 0;
    if (m) all_ist = in_ist_overlap(ca->match->node, m->node);
    else
        for (uint32_t j = 0; j < h->nmatches && all_ist; j++) all_ist = in_ist_overlap(ca->match->node, h->matches[j].node);
    if (all_ist) return;
    char what[64];
    if (m) snprintf(what, sizeof what, "http[%u].match[%u]", h->index, m->index);
    else snprintf(what, sizeof what, "http[%u]", h->index);
    if (in_report(c, MSH0612, MC_WARNING, d->obj, d->at,
            "%s never applies: it comes after %s of VirtualService %s, which accepts every request, and Istio drops "
            "everything after a catch-all match", what, row_text(x, ca), in_name(c, d->obj)))
        mc_diag_note(ca->match->node, "the catch-all match");
}

/* ------------------------------------------------------------ entry */

static bool list_seen(vh_ctx *x, const mc_ir_vhost *vh)
{
    size_t n = vh->nroutes * sizeof *vh->routes;
    if (!n) return true;
    bool found;
    *mc_strmap_put(&x->lists, (const char *)vh->routes, n, &found) = (void *)1;
    return found;
}

void in_ir_vhosts(in_ctx *c)
{
    vh_ctx x;
    memset(&x, 0, sizeof x);
    x.c = c;
    mc_strmap_init(&x.lists);
    mc_strmap_init(&x.catch_all);
    mc_buf_init(&x.b);
    const mc_ir *ir = c->ir;
    for (const mc_ir_view *v = ir->views; v < ir->views + ir->nviews; v++) {
        if (v->kind != IMG_VIEW_WORKLOAD) continue;
        for (uint32_t l = 0; l < v->nlisteners; l++)
            for (uint32_t k = 0; k < v->listeners[l].nchains; k++) {
                const mc_ir_route_table *t = v->listeners[l].chains[k].routes;
                if (!t) continue;
                for (uint32_t h = 0; h < t->nvhosts; h++) {
                    const mc_ir_vhost *vh = &t->vhosts[h];
                    for (uint32_t r = 0; r < vh->nroutes; r++) {
                        const mc_ir_route *row = vh->routes[r];
                        if (row->catch_all && row->http && row->match && anywhere(row->match) && !row->http->delegate) {
                            const mc_obj *o = row->http->vs->obj;
                            bool found;
                            void **slot = mc_strmap_put(&x.catch_all, (const char *)&row->http->vs->obj, sizeof o, &found);
                            if (!found) *slot = (void *)row;
                        }
                    }
                    merged(&x, v, vh);
                    if (!list_seen(&x, vh)) shadowing(&x, vh);
                }
                gaps(&x, t);
            }
    }
    for (size_t i = 0; i < ir->drops.n; i++) {
        const mc_ir_drop *d = &MC_VEC_AT(&ir->drops, mc_ir_drop, i);
        if (d->reason == MC_DROP_AFTER_CATCH_ALL) after_catch_all(&x, d);
    }
    mc_strmap_free(&x.lists);
    mc_strmap_free(&x.catch_all);
    mc_buf_free(&x.b);
}
