/*
** stats.c -- Istio metrics tables and the /stats, /stats/prometheus text
** (stats.h).
*/
#include "stats.h"

#include "dns.h"
#include "table.h"
#include "upstream.h"

#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ text buffer */

#define SBUF_LIT(b, lit) rt_sbuf_add((b), (lit), sizeof(lit) - 1)

static void sbuf_reserve(rt_sbuf *b, size_t more)
{
    if (b->oom) return;
    if (b->n + more + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + more + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return;
    }
    b->p = p;
    b->cap = cap;
}

void rt_sbuf_add(rt_sbuf *b, const char *s, size_t n)
{
    sbuf_reserve(b, n);
    if (b->oom) return;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

void rt_sbuf_printf(rt_sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[512];
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    if ((size_t)k < sizeof tmp) {
        rt_sbuf_add(b, tmp, (size_t)k);
        return;
    }
    sbuf_reserve(b, (size_t)k);
    if (b->oom) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

void rt_sbuf_free(rt_sbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------ metric tables */

static const double bucket_ms[RT_NBUCKETS] = { 0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000,
                                               10000, 30000, 60000, 300000, 600000, 1800000, 3600000 };
static const char *const bucket_le[RT_NBUCKETS] = { "0.5", "1", "5", "10", "25", "50", "100", "250", "500", "1000",
                                                    "2500", "5000", "10000", "30000", "60000", "300000", "600000",
                                                    "1800000", "3600000" };

typedef struct ment {
    _Atomic uint32_t used;
    uint32_t cluster, code, flags;
    uint32_t tcp;
    rt_ctr count, dur_us, buckets[RT_NBUCKETS];
    rt_ctr opened, closed, rx, tx;
} ment;

struct rt_mtable {
    uint32_t n;
    ment overflow;
    ment e[RT_METRICS_CAP];
};

struct rt_mtable *rt_metrics_new(void)
{
    struct rt_mtable *t = calloc(1, sizeof *t);
    if (t) {
        t->overflow.cluster = IMG_NONE;
        atomic_store(&t->overflow.used, 1);
    }
    return t;
}

void rt_metrics_free(struct rt_mtable *t) { free(t); }

static ment *mfind(struct rt_mtable *t, uint32_t cluster, uint32_t code, uint32_t flags, uint32_t tcp)
{
    uint64_t h = ((uint64_t)cluster * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)code << 17) ^ ((uint64_t)flags << 29) ^ tcp;
    h ^= h >> 31;
    for (uint32_t i = 0, k = (uint32_t)h & (RT_METRICS_CAP - 1); i < RT_METRICS_CAP; i++, k = (k + 1) & (RT_METRICS_CAP - 1)) {
        ment *e = &t->e[k];
        if (!atomic_load_explicit(&e->used, memory_order_relaxed)) {
            if (t->n >= RT_METRICS_CAP * 3 / 4) return &t->overflow;
            e->cluster = cluster;
            e->code = code;
            e->flags = flags;
            e->tcp = tcp;
            t->n++;
            atomic_store_explicit(&e->used, 1, memory_order_release);
            return e;
        }
        if (e->cluster == cluster && e->code == code && e->flags == flags && e->tcp == tcp) return e;
    }
    return &t->overflow;
}

void rt_metrics_http(rt_worker *w, uint32_t cluster, uint32_t code, uint32_t flags, uint64_t duration_us)
{
    if (!w->metrics) return;
    ment *e = mfind(w->metrics, cluster, code, flags, 0);
    rt_ctr_inc(&e->count);
    rt_ctr_add(&e->dur_us, duration_us);
    double ms = (double)duration_us / 1000.0;
    for (int i = 0; i < RT_NBUCKETS; i++)
        if (ms <= bucket_ms[i]) {
            rt_ctr_inc(&e->buckets[i]);
            break;
        }
}

void rt_metrics_tcp_open(rt_worker *w, uint32_t cluster, uint32_t flags)
{
    if (!w->metrics) return;
    (void)flags;
    rt_ctr_inc(&mfind(w->metrics, cluster, 0, 0, 1)->opened);
}

void rt_metrics_tcp_close(rt_worker *w, uint32_t cluster, uint32_t flags, uint64_t rx, uint64_t tx)
{
    if (!w->metrics) return;
    ment *e = mfind(w->metrics, cluster, 0, flags, 1);
    rt_ctr_inc(&e->closed);
    rt_ctr_add(&e->rx, rx);
    rt_ctr_add(&e->tx, tx);
}

/* ------------------------------------------------------------ merging */

typedef struct mrow {
    uint32_t cluster, code, flags, tcp;
    uint64_t count, dur_us, buckets[RT_NBUCKETS], opened, closed, rx, tx;
} mrow;

typedef struct mset { mrow *v; size_t n, cap; } mset;

static mrow *mset_get(mset *s, const ment *e)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].cluster == e->cluster && s->v[i].code == e->code && s->v[i].flags == e->flags && s->v[i].tcp == e->tcp)
            return &s->v[i];
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        mrow *v = realloc(s->v, cap * sizeof *v);
        if (!v) return NULL;
        s->v = v;
        s->cap = cap;
    }
    mrow *r = &s->v[s->n++];
    memset(r, 0, sizeof *r);
    r->cluster = e->cluster;
    r->code = e->code;
    r->flags = e->flags;
    r->tcp = e->tcp;
    return r;
}

static void merge_entry(mset *s, const ment *e)
{
    if (!atomic_load_explicit(&e->used, memory_order_acquire)) return;
    if (!rt_ctr_get(&e->count) && !rt_ctr_get(&e->opened) && !rt_ctr_get(&e->closed)) return;
    mrow *r = mset_get(s, e);
    if (!r) return;
    r->count += rt_ctr_get(&e->count);
    r->dur_us += rt_ctr_get(&e->dur_us);
    for (int i = 0; i < RT_NBUCKETS; i++) r->buckets[i] += rt_ctr_get(&e->buckets[i]);
    r->opened += rt_ctr_get(&e->opened);
    r->closed += rt_ctr_get(&e->closed);
    r->rx += rt_ctr_get(&e->rx);
    r->tx += rt_ctr_get(&e->tx);
}

static const rt_server *sort_srv;

static const char *cluster_name_of(const rt_server *srv, uint32_t c)
{
    if (c == IMG_NONE || c >= rt_cluster_count(srv->img)) return "";
    rt_cluster_info ci;
    rt_cluster_get(srv->img, c, &ci);
    return ci.name.p;
}

static int mrow_cmp(const void *a, const void *b)
{
    const mrow *x = a, *y = b;
    if (x->tcp != y->tcp) return x->tcp < y->tcp ? -1 : 1;
    int c = strcmp(cluster_name_of(sort_srv, x->cluster), cluster_name_of(sort_srv, y->cluster));
    if (c) return c;
    if (x->code != y->code) return x->code < y->code ? -1 : 1;
    if (x->flags != y->flags) return x->flags < y->flags ? -1 : 1;
    return 0;
}

static void merge_all(rt_server *srv, mset *s)
{
    for (uint32_t i = 0; i < srv->nworkers; i++) {
        struct rt_mtable *t = srv->gen->wg[i].metrics;     /* the admin's generation */
        if (!t) continue;
        for (uint32_t k = 0; k < RT_METRICS_CAP; k++) merge_entry(s, &t->e[k]);
        merge_entry(s, &t->overflow);
    }
    sort_srv = srv;
    if (s->n > 1) qsort(s->v, s->n, sizeof *s->v, mrow_cmp);
}

/* ------------------------------------------------------------ /stats */

typedef struct line { char *name; uint64_t v; } line;
typedef struct lines { line *v; size_t n, cap; } lines;

__attribute__((format(printf, 3, 4)))
static void add_line(lines *L, uint64_t v, const char *fmt, ...)
{
    char name[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (L->n == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 256;
        line *nv = realloc(L->v, cap * sizeof *nv);
        if (!nv) return;
        L->v = nv;
        L->cap = cap;
    }
    char *s = strdup(name);
    if (!s) return;
    L->v[L->n].name = s;
    L->v[L->n].v = v;
    L->n++;
}

static int line_cmp(const void *a, const void *b) { return strcmp(((const line *)a)->name, ((const line *)b)->name); }

/* Sum of a cluster counter over workers; `off` is the field's offset. */
static uint64_t csum(rt_server *srv, uint32_t c, size_t off)
{
    uint64_t s = 0;
    for (uint32_t i = 0; i < srv->nworkers; i++) {
        rt_ucluster *uc = rt_up_cluster_peek(&srv->workers[i], c);
        if (uc) s += rt_ctr_get((const rt_ctr *)(const void *)((const char *)uc + off));
    }
    return s;
}

static uint64_t lsum(rt_server *srv, uint32_t l, size_t off)
{
    uint64_t s = 0;
    for (uint32_t i = 0; i < srv->nworkers; i++)
        if (srv->gen->wg[i].wl) s += rt_ctr_get((const rt_ctr *)(const void *)((const char *)&srv->gen->wg[i].wl[l] + off));
    return s;
}

static bool cluster_used(rt_server *srv, uint32_t c)
{
    for (uint32_t i = 0; i < srv->nworkers; i++)
        if (rt_up_cluster_peek(&srv->workers[i], c)) return true;
    return false;
}

/* Envoy has outlier_detection.* stats only for clusters that detect. */
static bool stat_applies(rt_server *srv, uint32_t c, const char *stat)
{
    if (strncmp(stat, "outlier_detection_", 18) != 0) return true;
    for (uint32_t i = 0; i < srv->nworkers; i++) {
        rt_ucluster *uc = rt_up_cluster_peek(&srv->workers[i], c);
        if (uc) return uc->outlier;
    }
    return false;
}

#define CLUSTER_COUNTERS(X) \
    X(upstream_cx_active, cx_active) X(upstream_cx_connect_fail, cx_connect_fail) \
    X(upstream_cx_connect_timeout, cx_connect_timeout) X(upstream_cx_destroy_local, cx_destroy_local) \
    X(upstream_cx_destroy_remote, cx_destroy_remote) X(upstream_cx_none_healthy, cx_none_healthy) \
    X(upstream_cx_rx_bytes_total, cx_rx_bytes) X(upstream_cx_total, cx_total) \
    X(upstream_cx_tx_bytes_total, cx_tx_bytes) X(upstream_rq_active, rq_active) \
    X(upstream_rq_completed, rq_completed) X(upstream_rq_retry, rq_retry) \
    X(upstream_rq_retry_limit_exceeded, rq_retry_limit_exceeded) X(upstream_rq_retry_success, rq_retry_success) \
    X(upstream_rq_timeout, rq_timeout) X(upstream_rq_total, rq_total) \
    X(upstream_cx_overflow, cx_overflow) X(upstream_rq_pending_overflow, rq_pending_overflow) \
    X(upstream_rq_pending_total, rq_pending_total) \
    X(outlier_detection_ejections_active, od_ejections_active) \
    X(outlier_detection_ejections_overflow, od_ejections_overflow) \
    X(outlier_detection_ejections_enforced_total, od_ejections_enforced_total) \
    X(outlier_detection_ejections_enforced_consecutive_5xx, od_enforced_5xx) \
    X(outlier_detection_ejections_enforced_consecutive_gateway_failure, od_enforced_gateway) \
    X(outlier_detection_ejections_detected_consecutive_5xx, od_detected_5xx) \
    X(outlier_detection_ejections_detected_consecutive_gateway_failure, od_detected_gateway)

static void codes_of(rt_server *srv, uint32_t c, uint32_t *codes, uint64_t *counts, int *n)
{
    *n = 0;
    for (uint32_t i = 0; i < srv->nworkers; i++) {
        rt_ucluster *uc = rt_up_cluster_peek(&srv->workers[i], c);
        if (!uc) continue;
        for (int k = 0; k < RT_UP_CODES; k++) {
            uint32_t code = atomic_load_explicit(&uc->codes[k].code, memory_order_acquire);
            if (!code) break;
            int j = 0;
            while (j < *n && codes[j] != code) j++;
            if (j == *n) {
                if (*n == 64) continue;
                codes[j] = code;
                counts[j] = 0;
                (*n)++;
            }
            counts[j] += rt_ctr_get(&uc->codes[k].n);
        }
    }
}

static void collect(rt_server *srv, lines *L)
{
    uint32_t nc = rt_cluster_count(srv->img);
    for (uint32_t c = 0; c < nc; c++) {
        if (!cluster_used(srv, c)) continue;
        const char *name = cluster_name_of(srv, c);
        /* Envoy's names: outlier_detection.ejections_active, not _ejections_active */
#define X(stat, field) if (stat_applies(srv, c, #stat)) add_line(L, csum(srv, c, offsetof(rt_ucluster, field)), "cluster.%s.%s%s", name, \
                                strncmp(#stat, "outlier_detection_", 18) ? "" : "outlier_detection.", \
                                strncmp(#stat, "outlier_detection_", 18) ? #stat : #stat + 18);
        CLUSTER_COUNTERS(X)
#undef X
        for (int k = 1; k <= 5; k++) {
            uint64_t v = 0;
            for (uint32_t i = 0; i < srv->nworkers; i++) {
                rt_ucluster *uc = rt_up_cluster_peek(&srv->workers[i], c);
                if (uc) v += rt_ctr_get(&uc->rq_xx[k]);
            }
            if (v) add_line(L, v, "cluster.%s.upstream_rq_%dxx", name, k);
        }
        uint32_t codes[64];
        uint64_t counts[64];
        int n;
        codes_of(srv, c, codes, counts, &n);
        for (int k = 0; k < n; k++) add_line(L, counts[k], "cluster.%s.upstream_rq_%u", name, codes[k]);
    }
    for (uint32_t l = 0; l < srv->nls; l++) {
        const rt_lspec *ls = &srv->ls[l];
        char la[RT_ADDR_STRLEN];
        snprintf(la, sizeof la, "%s", ls->addr_str);
        char *colon = strrchr(la, ':');
        if (colon) *colon = '_';
        add_line(L, lsum(srv, l, offsetof(rt_wlisten, cx_total)), "listener.%s.downstream_cx_total", la);
        add_line(L, lsum(srv, l, offsetof(rt_wlisten, cx_active)), "listener.%s.downstream_cx_active", la);
        add_line(L, lsum(srv, l, offsetof(rt_wlisten, no_chain)), "listener.%s.no_filter_chain_match", la);
        if (ls->kind != IMG_LISTENER_HTTP) continue;
        add_line(L, lsum(srv, l, offsetof(rt_wlisten, cx_total)), "http.%s.downstream_cx_total", ls->stat_prefix);
        add_line(L, lsum(srv, l, offsetof(rt_wlisten, cx_active)), "http.%s.downstream_cx_active", ls->stat_prefix);
        add_line(L, lsum(srv, l, offsetof(rt_wlisten, rq_total)), "http.%s.downstream_rq_total", ls->stat_prefix);
        add_line(L, lsum(srv, l, offsetof(rt_wlisten, rq_active)), "http.%s.downstream_rq_active", ls->stat_prefix);
        for (int k = 1; k <= 5; k++)
            add_line(L, lsum(srv, l, offsetof(rt_wlisten, rq_xx) + (size_t)k * sizeof(rt_ctr)), "http.%s.downstream_rq_%dxx",
                     ls->stat_prefix, k);
    }
    rt_dns_stats ds;
    rt_dns_stats_get(srv->dns, &ds);
    add_line(L, ds.queries, "dns.cares.queries");
    add_line(L, ds.answers, "dns.cares.answers");
    add_line(L, ds.failures, "dns.cares.resolve_failures");
    add_line(L, ds.changes, "dns.cares.changes");
    add_line(L, atomic_load(&srv->ready) ? 1 : 0, "server.live");
    add_line(L, srv->nworkers, "server.concurrency");
    uint64_t up_s = 0;
    {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
        up_s = (now - srv->start_mono_ms) / 1000;
    }
    add_line(L, up_s, "server.uptime");
    struct mallinfo2 mi = mallinfo2();
    add_line(L, mi.uordblks + mi.hblkhd, "server.memory_allocated");
    uint64_t live = 0;
    for (uint32_t i = 0; i < srv->nworkers; i++) live += rt_ctr_get(&srv->workers[i].conns_live);
    add_line(L, live, "server.total_connections");
    add_line(L, atomic_load(&srv->draining) ? 1 : 0, "server.state");     /* Envoy's: 0 LIVE, 1 DRAINING */
    /* hot reload (run.c): the image generation served, and how many are
    ** still loaded (the current one plus old ones with connections left) */
    uint64_t ngen = 1;
    for (const rt_gen *g = srv->retired; g; g = g->next) ngen++;
    add_line(L, srv->gen->id, "server.image_generation");
    add_line(L, ngen, "server.image_generations_loaded");
    qsort(L->v, L->n, sizeof *L->v, line_cmp);
}

static void lines_free(lines *L)
{
    for (size_t i = 0; i < L->n; i++) free(L->v[i].name);
    free(L->v);
}

void rt_stats_text(rt_server *srv, rt_sbuf *out)
{
    lines L = { 0 };
    collect(srv, &L);
    for (size_t i = 0; i < L.n; i++) rt_sbuf_printf(out, "%s: %llu\n", L.v[i].name, (unsigned long long)L.v[i].v);
    lines_free(&L);
}

/* ------------------------------------------------------------ /stats/prometheus */

static void prom_escape(rt_sbuf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') SBUF_LIT(b, "\\");
        if (*s == '\n') {
            SBUF_LIT(b, "\\n");
            continue;
        }
        rt_sbuf_add(b, s, 1);
    }
}

/* Istio's labels of one key, without the closing brace. */
static void istio_labels(rt_server *srv, rt_sbuf *b, const mrow *r)
{
    const char *svc = "unknown";
    rt_cluster_info ci;
    if (r->cluster != IMG_NONE && r->cluster < rt_cluster_count(srv->img)) {
        rt_cluster_get(srv->img, r->cluster, &ci);
        if (ci.host.n) svc = ci.host.p;
    }
    char flags[64];
    rt_flags_format(r->flags, flags, sizeof flags);
    SBUF_LIT(b, "{reporter=\"source\",source_workload=\"");
    prom_escape(b, srv->workload);
    SBUF_LIT(b, "\",source_canonical_service=\"");
    prom_escape(b, srv->app);
    SBUF_LIT(b, "\",source_canonical_revision=\"");
    prom_escape(b, srv->canonical_rev);
    SBUF_LIT(b, "\",source_workload_namespace=\"");
    prom_escape(b, srv->workload_ns);
    SBUF_LIT(b, "\",source_principal=\"unknown\",source_app=\"");
    prom_escape(b, srv->app);
    rt_sbuf_printf(b, "\",source_version=\"unknown\",source_cluster=\"Kubernetes\",destination_workload=\"unknown\","
                      "destination_workload_namespace=\"unknown\",destination_principal=\"unknown\","
                      "destination_app=\"unknown\",destination_version=\"unknown\",destination_service=\"");
    prom_escape(b, svc);
    SBUF_LIT(b, "\",destination_canonical_service=\"unknown\",destination_canonical_revision=\"latest\","
                   "destination_service_name=\"");
    prom_escape(b, svc);
    rt_sbuf_printf(b, "\",destination_service_namespace=\"unknown\",destination_cluster=\"unknown\",request_protocol=\"%s\",",
                   r->tcp ? "tcp" : "http");
    if (!r->tcp) rt_sbuf_printf(b, "response_code=\"%u\",grpc_response_status=\"\",", r->code);
    rt_sbuf_printf(b, "response_flags=\"%s\",connection_security_policy=\"unknown\"", flags);
}

void rt_stats_prometheus(rt_server *srv, rt_sbuf *out)
{
    /* envoy_* families: cluster and HTTP counters with Istio's tags */
    uint32_t nc = rt_cluster_count(srv->img);
    static const struct { const char *stat; size_t off; } cc[] = {
#define X(stat, field) { #stat, offsetof(rt_ucluster, field) },
        CLUSTER_COUNTERS(X)
#undef X
    };
    for (size_t k = 0; k < sizeof cc / sizeof cc[0]; k++) {
        bool header = false;
        for (uint32_t c = 0; c < nc; c++) {
            if (!cluster_used(srv, c) || !stat_applies(srv, c, cc[k].stat)) continue;
            if (!header) {
                bool gauge = strstr(cc[k].stat, "_active") != NULL;
                rt_sbuf_printf(out, "# TYPE envoy_cluster_%s %s\n", cc[k].stat, gauge ? "gauge" : "counter");
                header = true;
            }
            rt_sbuf_printf(out, "envoy_cluster_%s{cluster_name=\"", cc[k].stat);
            prom_escape(out, cluster_name_of(srv, c));
            rt_sbuf_printf(out, "\"} %llu\n", (unsigned long long)csum(srv, c, cc[k].off));
        }
    }
    bool header = false;
    for (uint32_t c = 0; c < nc; c++) {
        if (!cluster_used(srv, c)) continue;
        uint32_t codes[64];
        uint64_t counts[64];
        int n;
        codes_of(srv, c, codes, counts, &n);
        for (int k = 0; k < n; k++) {
            if (!header) {
                rt_sbuf_printf(out, "# TYPE envoy_cluster_upstream_rq counter\n");
                header = true;
            }
            rt_sbuf_printf(out, "envoy_cluster_upstream_rq{response_code=\"%u\",cluster_name=\"", codes[k]);
            prom_escape(out, cluster_name_of(srv, c));
            rt_sbuf_printf(out, "\"} %llu\n", (unsigned long long)counts[k]);
        }
        /* the same by class, as Istio's tag extraction gives upstream_rq_2xx */
        for (int k = 1; k <= 5; k++) {
            uint64_t v = 0;
            for (uint32_t i = 0; i < srv->nworkers; i++) {
                rt_ucluster *uc = rt_up_cluster_peek(&srv->workers[i], c);
                if (uc) v += rt_ctr_get(&uc->rq_xx[k]);
            }
            if (!v) continue;
            if (!header) {
                rt_sbuf_printf(out, "# TYPE envoy_cluster_upstream_rq counter\n");
                header = true;
            }
            rt_sbuf_printf(out, "envoy_cluster_upstream_rq{response_code_class=\"%dxx\",cluster_name=\"", k);
            prom_escape(out, cluster_name_of(srv, c));
            rt_sbuf_printf(out, "\"} %llu\n", (unsigned long long)v);
        }
    }
    static const struct { const char *stat; size_t off; bool gauge; } lc[] = {
        { "downstream_cx_total", offsetof(rt_wlisten, cx_total), false },
        { "downstream_cx_active", offsetof(rt_wlisten, cx_active), true },
        { "downstream_rq_total", offsetof(rt_wlisten, rq_total), false },
        { "downstream_rq_active", offsetof(rt_wlisten, rq_active), true },
    };
    for (size_t k = 0; k < sizeof lc / sizeof lc[0]; k++) {
        rt_sbuf_printf(out, "# TYPE envoy_http_%s %s\n", lc[k].stat, lc[k].gauge ? "gauge" : "counter");
        for (uint32_t l = 0; l < srv->nls; l++)
            if (srv->ls[l].kind == IMG_LISTENER_HTTP)
                rt_sbuf_printf(out, "envoy_http_%s{http_conn_manager_prefix=\"%s\"} %llu\n", lc[k].stat, srv->ls[l].stat_prefix,
                               (unsigned long long)lsum(srv, l, lc[k].off));
    }
    rt_sbuf_printf(out, "# TYPE envoy_http_downstream_rq_xx counter\n");
    for (uint32_t l = 0; l < srv->nls; l++) {
        if (srv->ls[l].kind != IMG_LISTENER_HTTP) continue;
        for (int k = 1; k <= 5; k++)
            rt_sbuf_printf(out, "envoy_http_downstream_rq_xx{response_code_class=\"%dxx\",http_conn_manager_prefix=\"%s\"} %llu\n", k,
                           srv->ls[l].stat_prefix,
                           (unsigned long long)lsum(srv, l, offsetof(rt_wlisten, rq_xx) + (size_t)k * sizeof(rt_ctr)));
    }
    rt_sbuf_printf(out, "# TYPE envoy_listener_downstream_cx_total counter\n");
    for (uint32_t l = 0; l < srv->nls; l++) {
        char la[RT_ADDR_STRLEN];
        snprintf(la, sizeof la, "%s", srv->ls[l].addr_str);
        char *colon = strrchr(la, ':');
        if (colon) *colon = '_';
        rt_sbuf_printf(out, "envoy_listener_downstream_cx_total{listener_address=\"%s\"} %llu\n", la,
                       (unsigned long long)lsum(srv, l, offsetof(rt_wlisten, cx_total)));
    }
    rt_sbuf_printf(out, "# TYPE envoy_server_live gauge\nenvoy_server_live %d\n", atomic_load(&srv->ready) ? 1 : 0);
    rt_sbuf_printf(out, "# TYPE envoy_server_concurrency gauge\nenvoy_server_concurrency %u\n", srv->nworkers);

    /* Istio's standard metrics */
    mset s = { 0 };
    merge_all(srv, &s);
    rt_sbuf_printf(out, "# TYPE istio_requests_total counter\n");
    for (size_t i = 0; i < s.n; i++) {
        if (s.v[i].tcp || !s.v[i].count) continue;
        SBUF_LIT(out, "istio_requests_total");
        istio_labels(srv, out, &s.v[i]);
        rt_sbuf_printf(out, "} %llu\n", (unsigned long long)s.v[i].count);
    }
    rt_sbuf_printf(out, "# TYPE istio_request_duration_milliseconds histogram\n");
    for (size_t i = 0; i < s.n; i++) {
        const mrow *r = &s.v[i];
        if (r->tcp || !r->count) continue;
        uint64_t cum = 0;
        for (int k = 0; k <= RT_NBUCKETS; k++) {
            const char *le = "+Inf";
            if (k < RT_NBUCKETS) {
                cum += r->buckets[k];
                le = bucket_le[k];
            } else {
                cum = r->count;
            }
            SBUF_LIT(out, "istio_request_duration_milliseconds_bucket");
            istio_labels(srv, out, r);
            rt_sbuf_printf(out, ",le=\"%s\"} %llu\n", le, (unsigned long long)cum);
        }
        SBUF_LIT(out, "istio_request_duration_milliseconds_sum");
        istio_labels(srv, out, r);
        rt_sbuf_printf(out, "} %.3f\n", (double)r->dur_us / 1000.0);
        SBUF_LIT(out, "istio_request_duration_milliseconds_count");
        istio_labels(srv, out, r);
        rt_sbuf_printf(out, "} %llu\n", (unsigned long long)r->count);
    }
    static const struct { const char *name; size_t off; } tc[] = {
        { "istio_tcp_connections_opened_total", offsetof(mrow, opened) },
        { "istio_tcp_connections_closed_total", offsetof(mrow, closed) },
        { "istio_tcp_received_bytes_total", offsetof(mrow, rx) },
        { "istio_tcp_sent_bytes_total", offsetof(mrow, tx) },
    };
    for (size_t k = 0; k < sizeof tc / sizeof tc[0]; k++) {
        rt_sbuf_printf(out, "# TYPE %s counter\n", tc[k].name);
        /* one series per (cluster, flags): opened counts carry no flags */
        for (size_t i = 0; i < s.n; i++) {
            const mrow *r = &s.v[i];
            if (!r->tcp) continue;
            uint64_t v = *(const uint64_t *)(const void *)((const char *)r + tc[k].off);
            if (!v) continue;
            rt_sbuf_add(out, tc[k].name, strlen(tc[k].name));
            istio_labels(srv, out, r);
            rt_sbuf_printf(out, "} %llu\n", (unsigned long long)v);
        }
    }
    free(s.v);
}
