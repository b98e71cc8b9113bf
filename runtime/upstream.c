/*
** upstream.c -- per-worker cluster state, hosts, load balancing and idle
** connection pools (contracts in upstream.h).
*/
#include "upstream.h"

#include "dns.h"
#include "table.h"
#include "utls.h"

#include <stdio.h>
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

void rt_up_clusters_free(rt_worker *w, struct rt_ucluster **t, uint32_t n)
{
    for (uint32_t i = 0; i < n && t; i++) {
        rt_ucluster *uc = t[i];
        if (!uc) continue;
        t[i] = NULL;
        if (w->loop) rt_timer_stop(w->loop, &uc->od_timer);
        for (uint32_t j = 0; j < uc->nhosts; j++) rt_host_unref(uc->hosts[j]);
        free(uc->hosts);
        free(uc->healthy);
        rt_ring_free(uc->ring);
        rt_utls_ctx_free(uc->tls_ctx);
        free(uc->tls_err);
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

/* The healthy list (hosts not ejected) and what depends on it. False on
** out of memory (the old list stays). */
static bool healthy_update(rt_ucluster *uc)
{
    rt_host **v = realloc(uc->healthy, (uc->nhosts ? uc->nhosts : 1) * sizeof *v);
    if (!v) return false;
    uc->healthy = v;
    uint32_t n = 0, ej = 0;
    for (uint32_t i = 0; i < uc->nhosts; i++) {
        if (atomic_load_explicit(&uc->hosts[i]->ejected, memory_order_relaxed)) ej++;
        else v[n++] = uc->hosts[i];
    }
    uc->nhealthy = n;
    uc->nejected = ej;
    atomic_store_explicit(&uc->od_ejections_active, ej, memory_order_relaxed);
    uc->healthy_equal_weights = true;
    for (uint32_t i = 1; i < n; i++)
        if (v[i]->weight != v[0]->weight) uc->healthy_equal_weights = false;
    rt_ring_free(uc->ring);
    uc->ring = NULL;
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
    bool ok2 = healthy_update(uc);
    pthread_mutex_unlock(&w->lock);
    for (uint32_t i = 0; i < nold; i++) {
        bool kept = false;
        for (uint32_t j = 0; j < m && !kept; j++) kept = nh[j] == old[i];
        if (!kept) old[i]->removed = true;
        rt_host_unref(old[i]);
    }
    free(old);
    return ok2;
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
    uc->max_duration_ms = ci.max_connection_duration_set ? ci.max_connection_duration_ms : 0;
    uc->policy ^= uc->max_duration_ms * 2246822519u;
    uc->max_connections = ci.max_connections ? ci.max_connections : UINT32_MAX;
    uc->max_pending = ci.max_pending_requests ? ci.max_pending_requests : UINT32_MAX;
    uc->max_requests = ci.max_requests ? ci.max_requests : UINT32_MAX;
    /* a cluster with a connection limit keeps its connections to itself */
    if (uc->max_connections != UINT32_MAX) uc->policy ^= (idx + 1) * 0x9e3779b9u;
    rt_link_init(&uc->pending);
    rt_link_init(&uc->kick);
    uc->outlier = ci.outlier;
    uc->consecutive_5xx = ci.consecutive_5xx;
    uc->enforcing_5xx = ci.enforcing_5xx;
    uc->consecutive_gateway = ci.consecutive_gateway;
    uc->enforcing_gateway = ci.enforcing_gateway;
    uc->interval_ms = ci.interval_ms ? ci.interval_ms : 10000;
    uc->base_ejection_ms = ci.base_ejection_ms ? ci.base_ejection_ms : 30000;
    uc->max_ejection_percent = ci.max_ejection_percent;
    uc->min_health_percent = ci.min_health_percent;
    rt_timer_init(&uc->od_timer, NULL, uc);
    if (uc->lb == IMG_LB_RING_HASH || uc->lb == IMG_LB_MAGLEV) {
        uc->hash_kind = ci.hash_kind;
        uc->hash_name = ci.hash_name.p;
        uc->hash_name_len = ci.hash_name.n;
        uc->ring_size = ci.ring_size ? ci.ring_size : (uc->lb == IMG_LB_MAGLEV ? RT_MAGLEV_SIZE : 1024);
        uc->cookie_gen = ci.hash_kind == IMG_HASH_COOKIE && ci.cookie_ttl_set;
        uc->cookie_path = ci.cookie_path.p;
        uc->cookie_ttl_s = ci.cookie_ttl_ms / 1000;
    }
    if (ci.tls == IMG_CTLS_SIMPLE || ci.tls == IMG_CTLS_MUTUAL) {
        /* connections differ by their TLS settings: pools too */
        uc->tls = true;
        uc->sni = ci.sni.n ? ci.sni.p : ci.host.p;
        uc->sni_len = ci.sni.n ? ci.sni.n : ci.host.n;
        uc->sni_auto = ci.sni.n == 0;
        uc->policy ^= (uint32_t)img_hash(ci.name.p, ci.name.n, 7) | 1u;
        const char *sans[16];
        uint32_t ns = ci.nsans < 16 ? ci.nsans : 16;
        for (uint32_t i = 0; i < ns; i++) sans[i] = rt_cluster_san(w->gen->img, idx, i).p;
        char err[256];
        uc->tls_ctx = rt_utls_ctx_new(ci.ca_certificates.p, ci.tls == IMG_CTLS_MUTUAL ? ci.client_certificate.p : NULL,
                                      ci.tls == IMG_CTLS_MUTUAL ? ci.private_key.p : NULL, ci.insecure_skip_verify, sans, ns, err,
                                      sizeof err);
        if (!uc->tls_ctx) uc->tls_err = strdup(err);
    }
    if (!rebuild(w, uc)) {
        rt_utls_ctx_free(uc->tls_ctx);
        free(uc->tls_err);
        free(uc->dns);
        free(uc->dns_ver);
        free(uc->healthy);
        free(uc);
        return NULL;
    }
    __atomic_store_n(&w->clusters[idx], uc, __ATOMIC_RELEASE);
    return uc;
}

/* ------------------------------------------------------------ balancing */

/* The hosts to balance over: the healthy ones, or all of them in panic
** mode (healthy share below min_health_percent; 0 disables panic). */
static rt_host **active_set(const rt_ucluster *uc, uint32_t *n, bool *eq, bool *all)
{
    *all = !uc->nejected || (uc->min_health_percent &&
                             (uint64_t)uc->nhealthy * 100 < (uint64_t)uc->min_health_percent * uc->nhosts);
    if (*all) {
        *n = uc->nhosts;
        *eq = uc->equal_weights;
        return uc->hosts;
    }
    *n = uc->nhealthy;
    *eq = uc->healthy_equal_weights;
    return uc->healthy;
}

static rt_host *pick_once(rt_worker *w, rt_ucluster *uc, rt_host **hs, uint32_t n, bool eq)
{
    if (n == 1) return hs[0];
    switch (uc->lb) {
    case IMG_LB_ROUND_ROBIN:
        if (eq) return hs[uc->rr++ % n];
        else {
            /* smooth weighted round robin (nginx): deterministic, spread out */
            int64_t total = 0;
            rt_host *best = NULL;
            for (uint32_t i = 0; i < n; i++) {
                rt_host *h = hs[i];
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
        rt_host *x = hs[a], *y = hs[b];
        if (eq) return y->active_rq < x->active_rq ? y : x;
        /* active/weight, compared without division */
        return (uint64_t)y->active_rq * x->weight < (uint64_t)x->active_rq * y->weight ? y : x;
    }
    default: {
        if (eq) return hs[rt_rng_below(&w->rng, n)];
        uint64_t total = 0;
        for (uint32_t i = 0; i < n; i++) total += hs[i]->weight;
        uint64_t r = rt_rng_below(&w->rng, total);
        for (uint32_t i = 0; i < n; i++) {
            if (r < hs[i]->weight) return hs[i];
            r -= hs[i]->weight;
        }
        return hs[n - 1];
    }
    }
}

/* A hash ring (RING_HASH: points sorted by hash, a key goes to the first
** point at or after it, wrapping) or a Maglev lookup table (MAGLEV: the
** key modulo the table size). Built over the active set on first use and
** dropped whenever the set changes. Indexes are into that set. */
typedef struct rt_ring_pt { uint64_t h; uint32_t host; uint32_t pad; } rt_ring_pt;
struct rt_ring {
    bool all;                   /* built over every host (panic) rather than the healthy ones */
    uint32_t n;                 /* points, or table size */
    rt_ring_pt *pts;            /* RING_HASH */
    uint32_t *table;            /* MAGLEV */
};

static int pt_cmp(const void *a, const void *b)
{
    const rt_ring_pt *x = a, *y = b;
    if (x->h != y->h) return x->h < y->h ? -1 : 1;
    return x->host < y->host ? -1 : x->host > y->host;
}

static uint64_t host_hash(const rt_host *h, uint32_t salt, uint32_t seed)
{
    char b[RT_ADDR_STRLEN + 16];
    int k = snprintf(b, sizeof b, "%s_%u", h->addr_str, salt);
    return img_hash(b, (size_t)k, seed);
}

rt_ring *rt_ring_build(rt_host *const *hs, uint32_t n, bool maglev, uint32_t size)
{
    rt_ring *r = calloc(1, sizeof *r);
    if (!r || !n) return r;
    uint64_t total = 0, wmax = 0;
    for (uint32_t i = 0; i < n; i++) {
        total += hs[i]->weight;
        if (hs[i]->weight > wmax) wmax = hs[i]->weight;
    }
    if (maglev) {
        uint32_t m = size < 2 ? RT_MAGLEV_SIZE : size;
        r->n = m;
        r->table = malloc((size_t)m * sizeof *r->table);
        uint64_t *off = calloc(n, sizeof *off), *skip = calloc(n, sizeof *skip), *next = calloc(n, sizeof *next),
                 *credit = calloc(n, sizeof *credit);
        if (!r->table || !off || !skip || !next || !credit) {
            free(off); free(skip); free(next); free(credit);
            rt_ring_free(r);
            return NULL;
        }
        memset(r->table, 0xff, (size_t)m * sizeof *r->table);
        for (uint32_t i = 0; i < n; i++) {
            off[i] = host_hash(hs[i], 0, 1) % m;
            skip[i] = host_hash(hs[i], 0, 2) % (m - 1) + 1;
        }
        /* each round every host earns its weight; a host with credit of
        ** the largest weight takes its next preferred free slot */
        uint32_t filled = 0;
        while (filled < m) {
            for (uint32_t i = 0; i < n && filled < m; i++) {
                credit[i] += hs[i]->weight;
                if (credit[i] < wmax) continue;
                credit[i] -= wmax;
                uint32_t c;
                do c = (uint32_t)((off[i] + next[i]++ * skip[i]) % m); while (r->table[c] != UINT32_MAX);
                r->table[c] = i;
                filled++;
            }
        }
        free(off); free(skip); free(next); free(credit);
        return r;
    }
    /* ring: about `size` points shared by weight, at least one per host */
    uint64_t npts = 0;
    uint32_t *per = malloc(n * sizeof *per);
    if (!per) {
        free(r);
        return NULL;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t k = ((uint64_t)size * hs[i]->weight + total - 1) / total;
        per[i] = (uint32_t)(k ? k : 1);
        npts += per[i];
    }
    r->pts = malloc(npts * sizeof *r->pts);
    if (!r->pts) {
        free(per);
        free(r);
        return NULL;
    }
    uint64_t j = 0;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t k = 0; k < per[i]; k++) r->pts[j++] = (rt_ring_pt){ host_hash(hs[i], k, 0), i, 0 };
    free(per);
    qsort(r->pts, npts, sizeof *r->pts, pt_cmp);
    r->n = (uint32_t)npts;
    return r;
}

uint32_t rt_ring_lookup(const rt_ring *r, uint64_t key)
{
    if (!r->n) return UINT32_MAX;
    if (r->table) return r->table[key % r->n];
    uint32_t lo = 0, hi = r->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (r->pts[mid].h < key) lo = mid + 1;
        else hi = mid;
    }
    return r->pts[lo == r->n ? 0 : lo].host;
}

void rt_ring_free(rt_ring *r)
{
    if (!r) return;
    free(r->pts);
    free(r->table);
    free(r);
}

rt_host *rt_up_pick_key(rt_worker *w, rt_ucluster *uc, const rt_host *avoid, bool has_key, uint64_t key)
{
    uint32_t n;
    bool eq, all;
    rt_host **hs = active_set(uc, &n, &eq, &all);
    if (n == 0) return NULL;
    if (has_key && (uc->lb == IMG_LB_RING_HASH || uc->lb == IMG_LB_MAGLEV)) {
        if (uc->ring && uc->ring->all != all) {
            rt_ring_free(uc->ring);
            uc->ring = NULL;
        }
        if (!uc->ring && (uc->ring = rt_ring_build(hs, n, uc->lb == IMG_LB_MAGLEV, uc->ring_size))) uc->ring->all = all;
        uint32_t i = uc->ring ? rt_ring_lookup(uc->ring, key) : UINT32_MAX;
        if (i < n) return hs[i];        /* retries keep the key's host (no previous_hosts predicate) */
    }
    rt_host *h = pick_once(w, uc, hs, n, eq);
    for (int i = 0; i < 5 && avoid && h == avoid && n > 1; i++) h = pick_once(w, uc, hs, n, eq);
    return h;
}

rt_host *rt_up_pick(rt_worker *w, rt_ucluster *uc, const rt_host *avoid) { return rt_up_pick_key(w, uc, avoid, false, 0); }

/* ------------------------------------------------------------ hash keys */

bool rt_up_hash_key(const rt_ucluster *uc, rt_up_hdr_fn hdr, void *ud, const char *path, size_t path_len,
                    const char *peer_ip, uint64_t *key)
{
    const char *v = NULL;
    size_t vn = 0;
    switch (uc->hash_kind) {
    case IMG_HASH_HEADER:
        if (!hdr || !(v = hdr(ud, uc->hash_name, uc->hash_name_len, &vn))) return false;
        break;
    case IMG_HASH_COOKIE: {
        const char *c = hdr ? hdr(ud, "cookie", 6, &vn) : NULL;
        if (!c) return false;
        const char *e = c + vn;
        while (c < e && !v) {
            while (c < e && (*c == ' ' || *c == ';' || *c == ',')) c++;
            const char *ne = c;
            while (ne < e && *ne != '=' && *ne != ';') ne++;
            const char *ve = ne;
            while (ve < e && *ve != ';') ve++;
            if (ne < e && *ne == '=' && (size_t)(ne - c) == uc->hash_name_len && memcmp(c, uc->hash_name, uc->hash_name_len) == 0) {
                v = ne + 1;
                vn = (size_t)(ve - v);
                if (vn >= 2 && v[0] == '"' && v[vn - 1] == '"') { v++; vn -= 2; }
            }
            c = ve;
        }
        if (!v) return false;
        break;
    }
    case IMG_HASH_SOURCE_IP:
        if (!peer_ip || !*peer_ip) return false;
        v = peer_ip;
        vn = strlen(peer_ip);
        break;
    case IMG_HASH_QUERY: {
        const char *q = path ? memchr(path, '?', path_len) : NULL;
        if (!q) return false;
        const char *e = path + path_len, *f = memchr(q, '#', (size_t)(e - q));
        if (f) e = f;
        for (const char *c = q + 1; c < e && !v;) {
            const char *pe = memchr(c, '&', (size_t)(e - c));
            if (!pe) pe = e;
            const char *eq = memchr(c, '=', (size_t)(pe - c));
            const char *ne = eq ? eq : pe;
            if ((size_t)(ne - c) == uc->hash_name_len && memcmp(c, uc->hash_name, uc->hash_name_len) == 0) {
                v = eq ? eq + 1 : pe;
                vn = (size_t)(pe - v);
            }
            c = pe + 1;
        }
        if (!v) return false;
        break;
    }
    default:
        return false;
    }
    *key = img_hash(v, vn, 0);
    return true;
}

size_t rt_up_cookie_make(const rt_ucluster *uc, const char *peer, const char *local, uint64_t *key, char *out, size_t cap)
{
    char both[2 * RT_ADDR_STRLEN + 2], v[17];
    int k = snprintf(both, sizeof both, "%s%s", peer ? peer : "", local ? local : "");
    snprintf(v, sizeof v, "%016llx", (unsigned long long)img_hash(both, (size_t)(k < 0 ? 0 : k), 0));
    *key = img_hash(v, 16, 0);
    int n = snprintf(out, cap, "%.*s=\"%s\"", (int)uc->hash_name_len, uc->hash_name, v);
    if (n > 0 && uc->cookie_ttl_s && (size_t)n < cap) n += snprintf(out + n, cap - (size_t)n, "; Max-Age=%u", uc->cookie_ttl_s);
    if (n > 0 && uc->cookie_path && *uc->cookie_path && (size_t)n < cap) n += snprintf(out + n, cap - (size_t)n, "; Path=%s", uc->cookie_path);
    if (n > 0 && (size_t)n < cap) n += snprintf(out + n, cap - (size_t)n, "; HttpOnly");
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* ------------------------------------------------------------ outlier detection */

static void od_tick(rt_loop *l, rt_timer *t, void *ud)
{
    rt_ucluster *uc = ud;
    uint64_t now = rt_loop_now_ms(l);
    uint64_t cap = uc->base_ejection_ms > 300000 ? uc->base_ejection_ms : 300000;
    bool changed = false;
    for (uint32_t i = 0; i < uc->nhosts; i++) {
        rt_host *h = uc->hosts[i];
        if (!atomic_load_explicit(&h->ejected, memory_order_relaxed)) continue;
        uint64_t d = (uint64_t)uc->base_ejection_ms * h->num_ejections;
        if (d > cap) d = cap;
        if (now - h->ejected_ms >= d) {
            atomic_store_explicit(&h->ejected, false, memory_order_relaxed);
            h->healthy_since_ms = now;
            changed = true;
        }
    }
    if (changed) healthy_update(uc);
    if (uc->nejected) rt_timer_start(l, t, uc->interval_ms, od_tick, uc);
}

static void od_eject(rt_worker *w, rt_ucluster *uc, rt_host *h, uint32_t enforcing, rt_ctr *enforced)
{
    if (atomic_load_explicit(&h->ejected, memory_order_relaxed)) return;
    if ((uint64_t)uc->nejected * 100 >= (uint64_t)uc->max_ejection_percent * uc->nhosts) {
        rt_ctr_inc(&uc->od_ejections_overflow);
        return;
    }
    if (enforcing < 100 && rt_rng_below(&w->rng, 100) >= enforcing) return;
    uint64_t now = rt_loop_now_ms(w->loop);
    /* times ejected decay by one per healthy interval */
    if (h->num_ejections && h->healthy_since_ms) {
        uint64_t k = (now - h->healthy_since_ms) / uc->interval_ms;
        h->num_ejections = k >= h->num_ejections ? 0 : h->num_ejections - (uint32_t)k;
    }
    h->num_ejections++;
    h->ejected_ms = now;
    h->cons_5xx = h->cons_gw = 0;
    atomic_store_explicit(&h->ejected, true, memory_order_relaxed);
    rt_ctr_inc(&uc->od_ejections_enforced_total);
    rt_ctr_inc(enforced);
    healthy_update(uc);
    if (!rt_timer_active(&uc->od_timer)) rt_timer_start(w->loop, &uc->od_timer, uc->interval_ms, od_tick, uc);
}

void rt_up_outlier(rt_worker *w, rt_ucluster *uc, rt_host *h, uint32_t code)
{
    if (!uc || !h || !uc->outlier || h->removed) return;
    if (code < 500 || code > 599) {
        h->cons_5xx = h->cons_gw = 0;
        return;
    }
    if ((code == 502 || code == 503 || code == 504) && uc->consecutive_gateway && ++h->cons_gw >= uc->consecutive_gateway) {
        h->cons_gw = 0;
        rt_ctr_inc(&uc->od_detected_gateway);
        if (uc->enforcing_gateway) od_eject(w, uc, h, uc->enforcing_gateway, &uc->od_enforced_gateway);
    }
    if (uc->consecutive_5xx && ++h->cons_5xx >= uc->consecutive_5xx) {
        h->cons_5xx = 0;
        rt_ctr_inc(&uc->od_detected_5xx);
        if (uc->enforcing_5xx) od_eject(w, uc, h, uc->enforcing_5xx, &uc->od_enforced_5xx);
    }
}

/* ------------------------------------------------------------ circuit breakers */

bool rt_up_rq_room(rt_ucluster *uc)
{
    return rt_ctr_get(&uc->rq_active) <= uc->max_requests;
}

bool rt_up_pending_room(rt_ucluster *uc)
{
    if (uc->max_pending == UINT32_MAX) return true;
    uint32_t k = 0;
    for (rt_link *l = uc->pending.next; l != &uc->pending; l = l->next)
        if (++k >= uc->max_pending) return false;
    return true;
}

rt_host *rt_up_idle_host(rt_ucluster *uc, rt_host *h)
{
    if (h && h->pool && h->pool->nidle) return h;
    uint32_t n;
    bool eq, all;
    rt_host **hs = active_set(uc, &n, &eq, &all);
    for (uint32_t i = 0; i < n; i++)
        if (hs[i]->pool && hs[i]->pool->nidle) return hs[i];
    return NULL;
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
