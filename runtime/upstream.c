/*
** upstream.c -- per-worker cluster state, hosts, load balancing and idle
** connection pools (contracts in upstream.h).
*/
#include "upstream.h"

#include "dns.h"
#include "table.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_HOSTS 4096          /* per cluster; more endpoints are ignored */

bool rt_up_init(rt_worker *w)
{
    w->npools_slots = 256;
    w->pools = calloc(w->npools_slots, sizeof *w->pools);
    return w->pools != NULL;
}

static void host_free(rt_host *h) { free(h); }

void rt_host_unref(rt_host *h)
{
    if (--h->refs == 0) host_free(h);
}

void rt_up_clusters_free(struct rt_ucluster **t, uint32_t n)
{
    for (uint32_t i = 0; i < n && t; i++) {
        rt_ucluster *uc = t[i];
        if (!uc) continue;
        t[i] = NULL;
        for (uint32_t j = 0; j < uc->nhosts; j++) rt_host_unref(uc->hosts[j]);
        free(uc->hosts);
        free(uc->dns);
        free(uc->dns_ver);
        free(uc);
    }
}

void rt_up_free(rt_worker *w)
{
    for (uint32_t i = 0; i < w->npools_slots && w->pools; i++) {
        rt_pool *p = w->pools[i];
        while (p) {
            rt_pool *next = p->next;
            free(p);
            p = next;
        }
    }
    free(w->pools);
    w->pools = NULL;
}

/* ------------------------------------------------------------ overrides */

uint32_t rt_up_overrides(const rt_server *srv, const char *host, uint32_t port, bool dns_name, rt_addr *out, uint32_t cap)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < srv->o.nresolve; i++) {
        const rt_resolve *r = &srv->o.resolve[i];
        if (r->port != port) continue;
        bool any = r->host[0] == '*' && r->host[1] == '\0';
        if (!(any ? dns_name : strcasecmp(r->host, host) == 0)) continue;
        if (n < cap) out[n] = r->addr;
        n++;
    }
    return n < cap ? n : cap;
}

/* ------------------------------------------------------------ building */

typedef struct cand { rt_addr a; uint32_t weight; const char *hostname; } cand;

static int addr_cmp(const rt_addr *x, const rt_addr *y)
{
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return memcmp(&x->ss, &y->ss, x->len);
}

static int haddr_cmp(const rt_haddr *x, const rt_addr *y)
{
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return memcmp(&x->u, &y->ss, x->len);
}

void rt_host_addr(const rt_host *h, rt_addr *out)
{
    memset(out, 0, sizeof *out);
    memcpy(&out->ss, &h->addr.u, h->addr.len);
    out->len = (socklen_t)h->addr.len;
}

static int cand_cmp(const void *a, const void *b) { return addr_cmp(&((const cand *)a)->a, &((const cand *)b)->a); }

static bool add_cand(cand **v, uint32_t *n, uint32_t *cap, const rt_addr *a, uint32_t weight, const char *hostname)
{
    if (*n >= MAX_HOSTS) return true;
    if (*n == *cap) {
        uint32_t c = *cap ? *cap * 2 : 8;
        cand *nv = realloc(*v, c * sizeof *nv);
        if (!nv) return false;
        *v = nv;
        *cap = c;
    }
    (*v)[*n].a = *a;
    (*v)[*n].weight = weight ? weight : 1;
    (*v)[*n].hostname = hostname;
    (*n)++;
    return true;
}

static bool track_dns(rt_ucluster *uc, rt_dnsname *e, uint32_t ver)
{
    for (uint32_t i = 0; i < uc->ndns; i++)
        if (uc->dns[i] == e) {
            uc->dns_ver[i] = ver;
            return true;
        }
    rt_dnsname **d = realloc(uc->dns, (uc->ndns + 1) * sizeof *d);
    if (!d) return false;
    uc->dns = d;
    uint32_t *v = realloc(uc->dns_ver, (uc->ndns + 1) * sizeof *v);
    if (!v) return false;
    uc->dns_ver = v;
    uc->dns[uc->ndns] = e;
    uc->dns_ver[uc->ndns] = ver;
    uc->ndns++;
    return true;
}

/* Compute the cluster's addresses and merge them into its host list. */
static bool rebuild(rt_worker *w, rt_ucluster *uc)
{
    const rt_image *img = w->gen->img;
    rt_cluster_info ci;
    rt_cluster_get(img, uc->idx, &ci);
    cand *v = NULL;
    uint32_t n = 0, cap = 0;
    bool ok = true;
    uc->unresolved = false;
    rt_addr tmp[64];
    for (uint32_t i = 0; i < ci.nendpoints && ok; i++) {
        rt_endpoint_info e;
        rt_endpoint_get(img, uc->idx, i, &e);
        if (e.kind == IMG_EP_UNIX) continue;
        bool dns = e.kind == IMG_EP_DNS;
        uint32_t k = rt_up_overrides(w->srv, e.address.p, e.port, dns, tmp, 64);
        if (k) {
            for (uint32_t j = 0; j < k && ok; j++) ok = add_cand(&v, &n, &cap, &tmp[j], e.weight, dns ? e.address.p : NULL);
        } else if (!dns) {
            rt_addr a;
            if (rt_addr_from_ip(e.address.p, (uint16_t)e.port, &a, NULL) == 0) ok = add_cand(&v, &n, &cap, &a, e.weight, NULL);
        } else {
            rt_dnsname *de = rt_dns_find(w->srv->dns, e.address.p, e.address.n);
            if (!de) continue;
            uint32_t ver = 0;
            uint32_t got = rt_dns_get(de, tmp, 64, &ver);
            if (got > 64) got = 64;
            ok = track_dns(uc, de, ver);
            if (ver == 0) uc->unresolved = true;
            for (uint32_t j = 0; j < got && ok; j++) {
                rt_addr_set_port(&tmp[j], (uint16_t)e.port);
                ok = add_cand(&v, &n, &cap, &tmp[j], e.weight, e.address.p);
                if (uc->kind == IMG_CLUSTER_LOGICAL_DNS) break;
            }
        }
        if (uc->kind == IMG_CLUSTER_LOGICAL_DNS && n) break;
    }
    if (!ok) {
        free(v);
        return false;
    }
    if (n > 1) qsort(v, n, sizeof *v, cand_cmp);
    /* merge with the current (sorted) hosts: survivors keep their state */
    rt_host **nh = calloc(n ? n : 1, sizeof *nh);
    if (!nh) {
        free(v);
        return false;
    }
    uint32_t m = 0, oi = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (i && addr_cmp(&v[i].a, &v[i - 1].a) == 0) continue;       /* same address twice */
        while (oi < uc->nhosts && haddr_cmp(&uc->hosts[oi]->addr, &v[i].a) < 0) oi++;
        rt_host *h;
        if (oi < uc->nhosts && haddr_cmp(&uc->hosts[oi]->addr, &v[i].a) == 0) {
            h = uc->hosts[oi];
            rt_host_ref(h);
        } else {
            h = calloc(1, sizeof *h);
            if (!h) break;
            if (v[i].a.len > sizeof h->addr.u) {
                free(h);
                continue;
            }
            memcpy(&h->addr.u, &v[i].a.ss, v[i].a.len);
            h->addr.len = (uint32_t)v[i].a.len;
            h->addr_len = (uint8_t)rt_addr_format(&v[i].a, h->addr_str, sizeof h->addr_str);
            h->refs = 1;
        }
        h->weight = v[i].weight;
        h->hostname = v[i].hostname;
        nh[m++] = h;
    }
    free(v);
    pthread_mutex_lock(&w->lock);
    rt_host **old = uc->hosts;
    uint32_t nold = uc->nhosts;
    uc->hosts = nh;
    uc->nhosts = m;
    uc->equal_weights = true;
    for (uint32_t i = 1; i < m; i++)
        if (nh[i]->weight != nh[0]->weight) uc->equal_weights = false;
    pthread_mutex_unlock(&w->lock);
    for (uint32_t i = 0; i < nold; i++) {
        bool kept = false;
        for (uint32_t j = 0; j < m && !kept; j++) kept = nh[j] == old[i];
        if (!kept) old[i]->removed = true;
        rt_host_unref(old[i]);
    }
    free(old);
    return true;
}

rt_ucluster *rt_up_cluster_peek(rt_worker *w, uint32_t idx)
{
    const rt_wgen *g = &w->srv->gen->wg[w->id];     /* the admin's generation */
    if (idx >= g->nclusters) return NULL;
    return __atomic_load_n(&g->clusters[idx], __ATOMIC_ACQUIRE);
}

rt_ucluster *rt_up_cluster(rt_worker *w, uint32_t idx)
{
    if (idx >= w->nclusters) return NULL;
    rt_ucluster *uc = w->clusters[idx];
    if (uc) {
        for (uint32_t i = 0; i < uc->ndns; i++)
            if (rt_dns_version(uc->dns[i]) != uc->dns_ver[i]) {
                rebuild(w, uc);
                break;
            }
        return uc;
    }
    uc = calloc(1, sizeof *uc);
    if (!uc) return NULL;
    rt_cluster_info ci;
    rt_cluster_get(w->gen->img, idx, &ci);
    uc->idx = idx;
    uc->kind = ci.kind;
    uc->lb = ci.lb;
    uc->protocol = ci.protocol;
    uc->name = ci.name.p;
    uc->name_len = ci.name.n;
    uc->svc_host = ci.host.p;
    uc->connect_timeout_ms = ci.connect_timeout_ms ? ci.connect_timeout_ms : 10000;
    uc->max_requests_per_connection = ci.max_requests_per_connection;
    uc->idle_timeout_ms = ci.idle_timeout_set ? ci.idle_timeout_ms : w->srv->o.idle_timeout_ms;
    /* connections are shared by clusters whose connection settings agree */
    uc->policy = (uc->max_requests_per_connection * 2654435761u) ^ (uc->idle_timeout_ms * 40503u) ^ (ci.h2 ? 1u : 0u);
    uc->equal_weights = true;
    for (int i = 0; i < RT_UP_CODES; i++) atomic_init(&uc->codes[i].code, 0);
    if (!rebuild(w, uc)) {
        free(uc->dns);
        free(uc->dns_ver);
        free(uc);
        return NULL;
    }
    __atomic_store_n(&w->clusters[idx], uc, __ATOMIC_RELEASE);
    return uc;
}

/* ------------------------------------------------------------ balancing */

static rt_host *pick_once(rt_worker *w, rt_ucluster *uc)
{
    uint32_t n = uc->nhosts;
    if (n == 1) return uc->hosts[0];
    switch (uc->lb) {
    case IMG_LB_ROUND_ROBIN:
        if (uc->equal_weights) return uc->hosts[uc->rr++ % n];
        else {
            /* smooth weighted round robin (nginx): deterministic, spread out */
            int64_t total = 0;
            rt_host *best = NULL;
            for (uint32_t i = 0; i < n; i++) {
                rt_host *h = uc->hosts[i];
                h->cw += h->weight;
                total += h->weight;
                if (!best || h->cw > best->cw) best = h;
            }
            best->cw -= total;
            return best;
        }
    case IMG_LB_LEAST_REQUEST: {
        uint32_t a = (uint32_t)rt_rng_below(&w->rng, n);
        uint32_t b = (uint32_t)rt_rng_below(&w->rng, n - 1);
        if (b >= a) b++;
        rt_host *x = uc->hosts[a], *y = uc->hosts[b];
        if (uc->equal_weights) return y->active_rq < x->active_rq ? y : x;
        /* active/weight, compared without division */
        return (uint64_t)y->active_rq * x->weight < (uint64_t)x->active_rq * y->weight ? y : x;
    }
    default: {
        if (uc->equal_weights) return uc->hosts[rt_rng_below(&w->rng, n)];
        uint64_t total = 0;
        for (uint32_t i = 0; i < n; i++) total += uc->hosts[i]->weight;
        uint64_t r = rt_rng_below(&w->rng, total);
        for (uint32_t i = 0; i < n; i++) {
            if (r < uc->hosts[i]->weight) return uc->hosts[i];
            r -= uc->hosts[i]->weight;
        }
        return uc->hosts[n - 1];
    }
    }
}

rt_host *rt_up_pick(rt_worker *w, rt_ucluster *uc, const rt_host *avoid)
{
    if (uc->nhosts == 0) return NULL;
    rt_host *h = pick_once(w, uc);
    for (int i = 0; i < 5 && avoid && h == avoid && uc->nhosts > 1; i++) h = pick_once(w, uc);
    return h;
}

void rt_up_count_code(rt_ucluster *uc, uint32_t code)
{
    uint32_t cls = code / 100;
    rt_ctr_inc(&uc->rq_xx[cls < 6 ? cls : 0]);
    for (int i = 0; i < RT_UP_CODES; i++) {
        uint32_t c = atomic_load_explicit(&uc->codes[i].code, memory_order_relaxed);
        if (c == code) {
            rt_ctr_inc(&uc->codes[i].n);
            return;
        }
        if (c == 0) {
            rt_ctr_inc(&uc->codes[i].n);
            atomic_store_explicit(&uc->codes[i].code, code, memory_order_release);
            return;
        }
    }
}

/* ------------------------------------------------------------ pools */

static uint64_t pool_hash(const rt_addr *a, uint32_t policy)
{
    uint64_t h = 1469598103934665603ull ^ policy;
    const unsigned char *p = (const unsigned char *)&a->ss;
    for (socklen_t i = 0; i < a->len; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static void pools_grow(rt_worker *w)
{
    uint32_t ns = w->npools_slots * 2;
    rt_pool **s = calloc(ns, sizeof *s);
    if (!s) return;
    for (uint32_t i = 0; i < w->npools_slots; i++) {
        rt_pool *p = w->pools[i];
        while (p) {
            rt_pool *next = p->next;
            uint64_t h = pool_hash(&p->addr, p->policy) & (ns - 1);
            p->next = s[h];
            s[h] = p;
            p = next;
        }
    }
    free(w->pools);
    w->pools = s;
    w->npools_slots = ns;
}

rt_pool *rt_pool_of(rt_worker *w, const rt_addr *a, uint32_t policy)
{
    uint64_t h = pool_hash(a, policy) & (w->npools_slots - 1);
    for (rt_pool *p = w->pools[h]; p; p = p->next)
        if (p->policy == policy && addr_cmp(&p->addr, a) == 0) return p;
    if (w->npools >= w->npools_slots) {
        pools_grow(w);
        h = pool_hash(a, policy) & (w->npools_slots - 1);
    }
    rt_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->addr = *a;
    p->policy = policy;
    p->idle.next = p->idle.prev = &p->idle;
    p->next = w->pools[h];
    w->pools[h] = p;
    w->npools++;
    return p;
}

rt_pooled *rt_pool_take(rt_pool *p)
{
    if (p->idle.next == &p->idle) return NULL;
    rt_pooled *c = p->idle.next;
    rt_pool_remove(p, c);
    return c;
}

void rt_pool_put(rt_pool *p, rt_pooled *c)
{
    c->next = p->idle.next;
    c->prev = &p->idle;
    p->idle.next->prev = c;
    p->idle.next = c;
    p->nidle++;
}

void rt_pool_remove(rt_pool *p, rt_pooled *c)
{
    c->prev->next = c->next;
    c->next->prev = c->prev;
    c->next = c->prev = c;
    p->nidle--;
}
