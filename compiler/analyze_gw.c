/*
** analyze_gw.c -- the gateway.* analyzers: ports on the gateway's Service
** (IST0101 selector, IST0162), TLS secrets (IST0101 credentialName,
** IST0161), conflicting gateways (IST0145), duplicate certificates (IST0138).
*/
#include "analyze_int.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ selector */

static const mc_node *selector_at(const mc_obj *gw)
{
    const mc_node *sel = mc_get(gw->spec, "selector");
    const mc_node *a = mc_an_selector_anchor(sel);
    return a ? a : sel ? sel : gw->root;
}

/* IST0101 "selector": every analyzer that needs the gateway's Pods says it
** with the same words on the same line, so istioctl shows it once. */
static void selector_not_found(mc_an_ctx *c, const mc_obj *gw)
{
    const mc_node *sel = mc_get(gw->spec, "selector");
    mc_an_report(c, IST0101, MC_ERROR, gw, selector_at(gw), mc_an_selector_anchor(sel), "Referenced %s not found: %s",
                 "selector", mc_an_q(c, mc_an_selector_string(c, sel)));
}

/* ------------------------------------------------------------ ports */

typedef struct ports {
    mc_an_ctx *c;
    mc_strmap *svc_by_ns;
    uint32_t matched;
    uint32_t *v;
    uint32_t n, cap;
} ports;

static void port_add(ports *p, uint32_t n)
{
    for (uint32_t i = 0; i < p->n; i++) if (p->v[i] == n) return;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->v = mc_xrealloc(p->v, p->cap * sizeof *p->v);
    }
    p->v[p->n++] = n;
}

static bool port_has(const ports *p, uint32_t n)
{
    for (uint32_t i = 0; i < p->n; i++) if (p->v[i] == n) return true;
    return false;
}

/* intstr.IntValue(): an int, or a string parsed as one (0 when not) */
static uint32_t int_value(const mc_node *n)
{
    return (uint32_t)mc_an_int(n, 0);
}

static bool gw_pod(void *ud, mc_an_pod *pod)
{
    ports *p = ud;
    p->matched++;
    bool any = false;
    const mc_an_vec *svcs = mc_strmap_get(p->svc_by_ns, pod->ns, strlen(pod->ns));
    for (uint32_t i = 0; svcs && i < svcs->n; i++) {
        const mc_obj *s = svcs->v[i];
        if (!mc_an_labels_match(mc_get(s->spec, "selector"), pod->labels)) continue;
        any = true;
        const mc_node *sp = mc_get(s->spec, "ports");
        MC_SEQ_EACH(sp, j) {
            const mc_node *port = mc_item(sp, j);
            /* the API server defaults an absent protocol to TCP */
            const char *proto = mc_an_str(mc_get(port, "protocol"));
            if (proto && strcmp(proto, "TCP") != 0) continue;
            uint32_t tp = int_value(mc_get(port, "targetPort"));
            if (tp) port_add(p, tp);
            port_add(p, int_value(mc_get(port, "port")));
        }
    }
    if (!pod->obj && !any) {
        /* the assumed default ingress gateway and its Service: the ports of
        ** Istio's chart (80->8080, 443->8443) and of istioctl's dummy */
        static const uint32_t dflt[] = { 80, 8080, 443, 8443, 31400, 15443 };
        for (size_t i = 0; i < sizeof dflt / sizeof dflt[0]; i++) port_add(p, dflt[i]);
    }
    return true;
}

void mc_an_gw_ports(mc_an_ctx *c)
{
    mc_strmap by_ns;
    mc_strmap_init(&by_ns);
    for (uint32_t i = 0; i < mc_an_count(c, MC_K_SERVICE); i++) {
        mc_obj *s = mc_an_obj(c, MC_K_SERVICE, i);
        mc_an_multi_add(c, &by_ns, s->o.ns, s, false);
    }
    ports p = { c, &by_ns, 0, NULL, 0, 0 };
    for (uint32_t g = 0; g < mc_an_count(c, MC_K_GATEWAY); g++) {
        mc_obj *gw = mc_an_obj(c, MC_K_GATEWAY, g);
        const mc_node *sel = mc_get(gw->spec, "selector");
        p.matched = 0;
        p.n = 0;
        mc_an_pods_matching(c, sel, gw_pod, &p);
        if (p.matched == 0) {
            /* no workloads in the inputs at all: a selector other than the
            ** default gateway's names a workload defined elsewhere */
            if (c->have_workloads) selector_not_found(c, gw);
            continue;
        }
        const char *selstr = mc_an_selector_string(c, sel);
        const mc_node *servers = mc_get(gw->spec, "servers");
        MC_SEQ_EACH(servers, i) {
            const mc_node *port = mc_get(mc_item(servers, i), "port");
            if (!mc_an_set(port)) continue;
            const mc_node *num = mc_get(port, "number");
            uint32_t n = (uint32_t)mc_an_int(num, 0);
            if (port_has(&p, n)) continue;
            mc_an_report(c, IST0162, MC_WARNING, gw, num ? num : port, mc_an_selector_anchor(sel),
                         "The gateway is listening on a target port (port %d) that is not defined in the Service "
                         "associated with its workload instances (Pod selector %s). If you need to access the gateway "
                         "port through the gateway Service, it will not be available.", (int)n, selstr);
        }
    }
    free(p.v);
    mc_an_multi_free(&by_ns);
}

/* ------------------------------------------------------------ secrets */

/* Go's base64.StdEncoding as encoding/json applies it to []byte: padding
** required, '\r' and '\n' ignored. */
static bool b64_decode(const char *s, mc_buf *out)
{
    static signed char val[256];
    static bool init;
    if (!init) {
        memset(val, -1, sizeof val);
        const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (int i = 0; a[i]; i++) val[(unsigned char)a[i]] = (signed char)i;
        init = true;
    }
    unsigned q[4];
    int nq = 0, pad = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\r' || *p == '\n') continue;
        if (pad) { if (*p != '=' || nq == 0) return false; }
        if (*p == '=') {
            if (nq < 2) return false;
            pad++;
            q[nq++] = 0;
        } else {
            if (val[*p] < 0) return false;
            q[nq++] = (unsigned)val[*p];
        }
        if (nq == 4) {
            char b[3] = { (char)(q[0] << 2 | q[1] >> 4), (char)(q[1] << 4 | q[2] >> 2), (char)(q[2] << 6 | q[3]) };
            mc_buf_add(out, b, (size_t)(3 - pad));
            nq = 0;
            if (pad) pad = 4;   /* nothing may follow the padding */
        }
    }
    return nq == 0;
}

/* The value of a Secret key: stringData wins over data (as the API server
** merges them); data is base64. false when absent or undecodable. */
static bool secret_value(const mc_obj *s, const char *key, mc_buf *out)
{
    mc_buf_reset(out);
    const char *sv = mc_an_str(mc_get(mc_get(s->root, "stringData"), key));
    if (sv) { mc_buf_puts(out, sv); return true; }
    const char *dv = mc_an_str(mc_get(mc_get(s->root, "data"), key));
    return dv && b64_decode(dv, out);
}

/* kube.ExtractCertInfo + xds.ValidateCertificate: cert+key or
** tls.crt+tls.key, both non-empty; the first PEM block holds X.509
** certificates, none expired or not yet valid. */
static bool secret_valid(const mc_obj *s)
{
    mc_buf cert, key;
    mc_buf_init(&cert);
    mc_buf_init(&key);
    bool have = (secret_value(s, "cert", &cert) && cert.n && secret_value(s, "key", &key) && key.n) ||
                (secret_value(s, "tls.crt", &cert) && cert.n && secret_value(s, "tls.key", &key) && key.n);
    bool ok = false;
    if (have) {
        BIO *bio = BIO_new_mem_buf(cert.s, (int)cert.n);
        char *name = NULL, *header = NULL;
        unsigned char *der = NULL;
        long len = 0;
        if (bio && PEM_read_bio(bio, &name, &header, &der, &len) == 1) {
            ok = true;
            const unsigned char *p = der, *end = der + len;
            while (ok && p < end) {
                X509 *x = d2i_X509(NULL, &p, end - p);
                if (!x) { ok = false; break; }
                if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0 ||
                    X509_cmp_current_time(X509_get0_notBefore(x)) >= 0)
                    ok = false;
                X509_free(x);
            }
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(der);
        BIO_free(bio);
    }
    mc_buf_free(&cert);
    mc_buf_free(&key);
    return ok;
}

static bool first_pod(void *ud, mc_an_pod *p)
{
    *(mc_an_pod **)ud = p;
    return false;
}

void mc_an_gw_secrets(mc_an_ctx *c)
{
    for (uint32_t g = 0; g < mc_an_count(c, MC_K_GATEWAY); g++) {
        mc_obj *gw = mc_an_obj(c, MC_K_GATEWAY, g);
        mc_an_pod *pod = NULL;
        mc_an_pods_matching(c, mc_get(gw->spec, "selector"), first_pod, &pod);
        if (!pod) {
            if (c->have_workloads) selector_not_found(c, gw);
            continue;
        }
        /* secrets rarely live next to the config: without any, say nothing */
        if (!c->have_secrets) continue;
        /* Istio looks in the namespace of the first Pod, not the Gateway's */
        const char *gwns = pod->ns;
        const mc_node *servers = mc_get(gw->spec, "servers");
        MC_SEQ_EACH(servers, i) {
            const mc_node *tls = mc_get(mc_item(servers, i), "tls");
            if (!mc_an_set(tls)) continue;
            const mc_node *cnn = mc_get(tls, "credentialName");
            const char *cn = mc_an_s(cnn);
            if (!*cn) continue;
            const char *sns, *sname;
            mc_an_short_or_full(c, gwns, cn, &sns, &sname);
            mc_obj *secret = mc_an_find(c, MC_K_SECRET, sns, sname);
            if (!secret)
                mc_an_report(c, IST0101, MC_ERROR, gw, cnn, cnn, "Referenced %s not found: %s", "credentialName",
                             mc_an_q(c, cn));
            else if (!secret_valid(secret))
                mc_an_report(c, IST0161, MC_ERROR, gw, cnn, cnn,
                             "The credential referenced by the Gateway %s in namespace %s is invalid, which can cause "
                             "the traffic not to work as expected.", gw->o.name, gwns);
        }
    }
}

/* ------------------------------------------------------------ conflicts */

/* ConflictingGatewayAnalyzer, bucketed. Istio keys gateways by
** (selector string, port); each gateway keeps the hosts of its last server
** on that port, with their bind. A server of G conflicts with gateway H of
** a bucket G "hits" (same selector string, or one contains the other and
** some Pod matches both) when one of its hosts has, in H's list, the same
** bind. model.CheckDuplicates then adds the server's hosts to the list of
** every H it did not conflict with: those additions are kept as a log per
** bucket (with the gateways they skipped) instead of copying them into
** every list, so the work stays proportional to hosts and conflicts. */

typedef struct own_ent { uint32_t local; const char *bind; } own_ent;
typedef struct own_vec { own_ent *v; uint32_t n, cap; } own_vec;

typedef struct cg_add {
    const char *bind;
    uint32_t *exc;              /* sorted local ids the addition skipped */
    uint32_t nexc;
} cg_add;

typedef struct cg_bucket {
    uint32_t sel;               /* index of the selector */
    mc_an_vec gws;              /* local id -> cg_gw */
    mc_strmap own;              /* host -> own_vec */
    mc_strmap adds;             /* host -> mc_an_vec of cg_add */
    uint32_t *mark;             /* per local id: stamp of the last conflict */
} cg_bucket;

typedef struct cg_gw {
    const mc_obj *o;
    const char *name;           /* FullName.String() */
    const char *selstr;
    uint32_t sel;               /* index of its selector string */
} cg_gw;

typedef struct cg {
    mc_an_ctx *c;
    cg_gw *gw;
    uint32_t ngw;
    const char **sels;          /* distinct selector strings, first seen first */
    uint32_t nsels;
    mc_strmap sel_idx;          /* selector string -> index + 1 */
    mc_strmap buckets;          /* "selector~port" -> cg_bucket */
    mc_strmap hits;             /* "sel\x1esel" -> 1 (hit) / 2 (miss) */
    mc_strmap self;             /* (bucket, gateway) -> local id + 1 */
    mc_buf key;
    uint32_t stamp;
    mc_an_vec all_buckets;
} cg;

/* strconv.Itoa(int(port.GetNumber())) */
static const char *port_text(mc_an_ctx *c, const mc_node *server)
{
    return mc_an_u32(c, (uint32_t)mc_an_int(mc_path(server, "port", "number", NULL), 0));
}

static cg_bucket *bucket(cg *g, uint32_t sel, const char *port, bool create)
{
    mc_buf_reset(&g->key);
    mc_buf_puts(&g->key, g->sels[sel]);
    mc_buf_putc(&g->key, '~');
    mc_buf_puts(&g->key, port);
    cg_bucket *b = mc_strmap_get(&g->buckets, g->key.s, g->key.n);
    if (b || !create) return b;
    const char *k = mc_arena_strndup(&g->c->a, g->key.s, g->key.n);
    size_t kl = g->key.n;
    b = mc_arena_zalloc(&g->c->a, sizeof *b);
    b->sel = sel;
    mc_strmap_init(&b->own);
    mc_strmap_init(&b->adds);
    *mc_strmap_put(&g->buckets, k, kl, NULL) = b;
    mc_an_vec_push(&g->all_buckets, b);
    return b;
}

static void own_push(mc_an_ctx *c, cg_bucket *b, const char *host, uint32_t local, const char *bind)
{
    bool found;
    void **slot = mc_strmap_put(&b->own, host, strlen(host), &found);
    if (!found) *slot = mc_arena_zalloc(&c->a, sizeof(own_vec));
    own_vec *v = *slot;
    for (uint32_t i = 0; i < v->n; i++)
        if (v->v[i].local == local) { v->v[i].bind = bind; return; }
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 4;
        v->v = mc_xrealloc(v->v, v->cap * sizeof *v->v);
    }
    v->v[v->n++] = (own_ent){ local, bind };
}

static const char *own_bind(const cg_bucket *b, uint32_t local, const char *host)
{
    const own_vec *v = mc_strmap_get(&b->own, host, strlen(host));
    for (uint32_t i = 0; v && i < v->n; i++)
        if (v->v[i].local == local) return v->v[i].bind;
    return NULL;
}

/* Local id of gateway gi in bucket b, recorded by init_buckets. */
static const char *self_key(cg *g, const cg_bucket *b, uint32_t gi, size_t *len)
{
    mc_buf_reset(&g->key);
    mc_buf_add(&g->key, (const char *)&b, sizeof b);
    mc_buf_add(&g->key, (const char *)&gi, sizeof gi);
    *len = g->key.n;
    return g->key.s;
}

static void init_buckets(cg *g)
{
    mc_an_ctx *c = g->c;
    mc_strmap last;
    for (uint32_t i = 0; i < g->ngw; i++) {
        cg_gw *w = &g->gw[i];
        const mc_node *servers = mc_get(w->o->spec, "servers");
        /* only the last server on a port counts */
        mc_strmap_init(&last);
        const char **pt = mc_xmalloc((mc_len(servers) ? mc_len(servers) : 1) * sizeof *pt);
        MC_SEQ_EACH(servers, s) {
            pt[s] = port_text(c, mc_item(servers, s));
            *mc_strmap_put(&last, pt[s], strlen(pt[s]), NULL) = (void *)(uintptr_t)(s + 1);
        }
        MC_SEQ_EACH(servers, s) {
            if ((uintptr_t)mc_strmap_get(&last, pt[s], strlen(pt[s])) != s + 1) continue;
            const mc_node *srv = mc_item(servers, s);
            cg_bucket *b = bucket(g, w->sel, pt[s], true);
            uint32_t local = b->gws.n;
            mc_an_vec_push(&b->gws, w);
            size_t kl;
            const char *k = self_key(g, b, i, &kl);
            char *kc = mc_arena_strndup(&c->a, k, kl);
            *mc_strmap_put(&g->self, kc, kl, NULL) = (void *)(uintptr_t)(local + 1);
            const char *bind = mc_an_s(mc_get(srv, "bind"));
            const mc_node *hosts = mc_get(srv, "hosts");
            MC_SEQ_EACH(hosts, h) own_push(c, b, mc_an_s(mc_item(hosts, h)), local, bind);
        }
        free(pt);
        mc_strmap_free(&last);
    }
    for (uint32_t i = 0; i < g->all_buckets.n; i++) {
        cg_bucket *b = g->all_buckets.v[i];
        b->mark = mc_xcalloc(b->gws.n ? b->gws.n : 1, sizeof *b->mark);
    }
}

/* labels.Selector parsed back from its string: "k=v" pairs split at ','
** and '=' (pairs that do not split in two are dropped) */
static bool pod_matches_string(const char *selstr, const mc_node *labels)
{
    const char *p = selstr;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (eq && !memchr(eq + 1, '=', n - (size_t)(eq + 1 - p))) {
            size_t kl = (size_t)(eq - p), vl = n - kl - 1;
            bool ok = false;
            MC_MAP_EACH(labels, i) {
                const mc_node *k = mc_key(labels, i);
                if (k->n != kl || memcmp(k->u.s, p, kl) != 0) continue;
                const char *v = mc_an_label_text(mc_val(labels, i));
                ok = v && strlen(v) == vl && memcmp(v, eq + 1, vl) == 0;
            }
            if (!ok) return false;
        }
        if (!e) break;
        p = e + 1;
    }
    return true;
}

typedef struct both { const char *x; bool found; } both;

static bool pod_both(void *ud, mc_an_pod *p)
{
    both *b = ud;
    if (pod_matches_string(b->x, p->labels)) { b->found = true; return false; }
    return true;
}

static bool hit(cg *g, const cg_gw *w, uint32_t x)
{
    if (x == w->sel) return true;
    const char *xs = g->sels[x], *ws = w->selstr;
    if (!strstr(xs, ws) && !strstr(ws, xs)) return false;
    const char *k = mc_arena_printf(&g->c->a, "%s\x1e%s", ws, xs);
    size_t kl = strlen(k);
    uintptr_t v = (uintptr_t)mc_strmap_get(&g->hits, k, kl);
    if (!v) {
        both b = { xs, false };
        mc_an_pods_matching(g->c, mc_get(w->o->spec, "selector"), pod_both, &b);
        v = b.found ? 1 : 2;
        *mc_strmap_put(&g->hits, k, kl, NULL) = (void *)v;
    }
    return v == 1;
}

static bool in_sorted(const uint32_t *a, uint32_t n, uint32_t x)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (a[mid] == x) return true;
        if (a[mid] < x) lo = mid + 1; else hi = mid;
    }
    return false;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct u32vec { uint32_t *v; uint32_t n, cap; } u32vec;

static void u32_push(u32vec *v, uint32_t x)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 16;
        v->v = mc_xrealloc(v->v, v->cap * sizeof *v->v);
    }
    v->v[v->n++] = x;
}

/* The gateways of bucket b that server (hosts, bind) of the gateway with
** local id self (-1: not in b) conflicts with, appended to conf; then the
** CheckDuplicates side effect is logged. */
static void conflicts_in(cg *g, cg_bucket *b, int64_t self, const mc_node *hosts, const char *bind,
                         u32vec *conf, u32vec *xs, u32vec *nx)
{
    uint32_t stamp = ++g->stamp;
    conf->n = 0;
#define MARK(l) do { if ((int64_t)(l) != self && b->mark[l] != stamp) { b->mark[l] = stamp; u32_push(conf, (l)); } } while (0)
    MC_SEQ_EACH(hosts, hi) {
        const char *h = mc_an_s(mc_item(hosts, hi));
        const mc_an_vec *adds = mc_strmap_get(&b->adds, h, strlen(h));
        if (!adds) {
            const own_vec *ov = mc_strmap_get(&b->own, h, strlen(h));
            for (uint32_t i = 0; ov && i < ov->n; i++)
                if (strcmp(ov->v[i].bind, bind) == 0) MARK(ov->v[i].local);
            continue;
        }
        /* newest addition first: it decides every gateway it did not skip */
        const cg_add *a = adds->v[adds->n - 1];
        if (strcmp(a->bind, bind) == 0)
            for (uint32_t l = 0; l < b->gws.n; l++)
                if (!in_sorted(a->exc, a->nexc, l)) MARK(l);
        xs->n = 0;
        for (uint32_t i = 0; i < a->nexc; i++) u32_push(xs, a->exc[i]);
        for (uint32_t k = adds->n - 1; k-- > 0 && xs->n;) {
            a = adds->v[k];
            nx->n = 0;
            for (uint32_t i = 0; i < xs->n; i++) {
                uint32_t l = xs->v[i];
                if (in_sorted(a->exc, a->nexc, l)) u32_push(nx, l);
                else if (strcmp(a->bind, bind) == 0) MARK(l);
            }
            u32vec t = *xs;
            *xs = *nx;
            *nx = t;
        }
        /* the rest still hold only their own hosts */
        for (uint32_t i = 0; i < xs->n; i++) {
            const char *ob = own_bind(b, xs->v[i], h);
            if (ob && strcmp(ob, bind) == 0) MARK(xs->v[i]);
        }
    }
#undef MARK
    /* CheckDuplicates: hosts become known to every gateway not in conflict */
    uint32_t skipped = conf->n + (self >= 0 ? 1 : 0);
    if (mc_len(hosts) == 0 || skipped >= b->gws.n) return;
    cg_add *a = mc_arena_alloc(&g->c->a, sizeof *a);
    a->bind = bind;
    a->nexc = skipped;
    a->exc = mc_arena_alloc(&g->c->a, (skipped ? skipped : 1) * sizeof *a->exc);
    if (conf->n) memcpy(a->exc, conf->v, conf->n * sizeof *a->exc);
    if (self >= 0) a->exc[conf->n] = (uint32_t)self;
    qsort(a->exc, a->nexc, sizeof *a->exc, cmp_u32);
    MC_SEQ_EACH(hosts, hi) mc_an_multi_add(g->c, &b->adds, mc_an_s(mc_item(hosts, hi)), a, true);
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void mc_an_gw_conflicts(mc_an_ctx *c)
{
    cg g;
    memset(&g, 0, sizeof g);
    g.c = c;
    g.ngw = mc_an_count(c, MC_K_GATEWAY);
    g.gw = mc_xcalloc(g.ngw ? g.ngw : 1, sizeof *g.gw);
    g.sels = mc_xcalloc(g.ngw ? g.ngw : 1, sizeof *g.sels);
    mc_strmap_init(&g.sel_idx);
    mc_strmap_init(&g.buckets);
    mc_strmap_init(&g.hits);
    mc_strmap_init(&g.self);
    mc_buf_init(&g.key);
    for (uint32_t i = 0; i < g.ngw; i++) {
        cg_gw *w = &g.gw[i];
        w->o = mc_an_obj(c, MC_K_GATEWAY, i);
        w->name = mc_an_fullname(c, w->o);
        w->selstr = mc_an_selector_string(c, mc_get(w->o->spec, "selector"));
        bool found;
        void **slot = mc_strmap_put(&g.sel_idx, w->selstr, strlen(w->selstr), &found);
        if (!found) {
            g.sels[g.nsels] = w->selstr;
            *slot = (void *)(uintptr_t)(++g.nsels);
        }
        w->sel = (uint32_t)(uintptr_t)*slot - 1;
    }
    init_buckets(&g);
    /* which selectors have buckets at all (a selector of server-less
    ** gateways only has none) */
    bool *has = mc_xcalloc(g.nsels ? g.nsels : 1, sizeof *has);
    for (uint32_t i = 0; i < g.all_buckets.n; i++) has[((cg_bucket *)g.all_buckets.v[i])->sel] = true;
    uint32_t *hits = mc_xmalloc((g.nsels ? g.nsels : 1) * sizeof *hits);
    u32vec conf = { NULL, 0, 0 }, xs = { NULL, 0, 0 }, nx = { NULL, 0, 0 };
    mc_an_vec names = { NULL, 0, 0 };
    mc_buf list;
    mc_buf_init(&list);
    for (uint32_t i = 0; i < g.ngw; i++) {
        cg_gw *w = &g.gw[i];
        uint32_t nh = 0;
        for (uint32_t x = 0; x < g.nsels; x++)
            if (has[x] && hit(&g, w, x)) hits[nh++] = x;
        if (*w->selstr && nh == 0) {
            selector_not_found(c, w->o);
            continue;
        }
        const mc_node *servers = mc_get(w->o->spec, "servers");
        MC_SEQ_EACH(servers, s) {
            const mc_node *srv = mc_item(servers, s), *hosts = mc_get(srv, "hosts");
            const char *port = port_text(c, srv), *bind = mc_an_s(mc_get(srv, "bind"));
            names.n = 0;
            for (uint32_t k = 0; k < nh; k++) {
                cg_bucket *b = bucket(&g, hits[k], port, false);
                if (!b) continue;
                size_t kl;
                const char *sk = self_key(&g, b, i, &kl);
                int64_t self = (int64_t)(uintptr_t)mc_strmap_get(&g.self, sk, kl) - 1;
                conflicts_in(&g, b, self, hosts, bind, &conf, &xs, &nx);
                for (uint32_t j = 0; j < conf.n; j++)
                    mc_an_vec_push(&names, (void *)((cg_gw *)b->gws.v[conf.v[j]])->name);
            }
            if (names.n == 0) continue;
            qsort(names.v, names.n, sizeof *names.v, cmp_cstr);
            mc_buf_reset(&list);
            for (uint32_t j = 0; j < names.n; j++) mc_buf_printf(&list, "%s%s", j ? "," : "", (const char *)names.v[j]);
            mc_buf hl;
            mc_buf_init(&hl);
            MC_SEQ_EACH(hosts, h) mc_buf_printf(&hl, "%s%s", h ? "," : "", mc_an_s(mc_item(hosts, h)));
            const mc_node *at = mc_path(srv, "port", "number", NULL);
            mc_an_report(c, IST0145, MC_ERROR, w->o, at ? at : srv, NULL,
                         "Conflict with gateways %s (workload selector %s, port %s, hosts %s).", list.s, w->selstr,
                         port, hl.s ? hl.s : "");
            mc_buf_free(&hl);
        }
    }
    mc_buf_free(&list);
    free(names.v);
    free(conf.v);
    free(xs.v);
    free(nx.v);
    free(hits);
    free(has);
    for (uint32_t i = 0; i < g.all_buckets.n; i++) {
        cg_bucket *b = g.all_buckets.v[i];
        MC_STRMAP_EACH(&b->own, s) free(((own_vec *)s->val)->v);
        mc_strmap_free(&b->own);
        mc_an_multi_free(&b->adds);
        free(b->gws.v);
        free(b->mark);
    }
    free(g.all_buckets.v);
    mc_strmap_free(&g.sel_idx);
    mc_strmap_free(&g.buckets);
    mc_strmap_free(&g.hits);
    mc_strmap_free(&g.self);
    mc_buf_free(&g.key);
    free(g.sels);
    free(g.gw);
}

/* ------------------------------------------------------------ certificates */

/* selectorSubset: every label of x is in y with the same value */
static bool selector_subset(const mc_node *x, const mc_node *y)
{
    return mc_an_labels_match(x, y);
}

typedef struct cert_ent { uint32_t gw; const mc_node *at; } cert_ent;

void mc_an_gw_certificates(mc_an_ctx *c)
{
    uint32_t ngw = mc_an_count(c, MC_K_GATEWAY);
    mc_strmap by_cert;
    mc_strmap_init(&by_cert);
    mc_an_vec keys = { NULL, 0, 0 };
    /* per server: the certificate identity haveSameCertificate compares */
    for (uint32_t i = 0; i < ngw; i++) {
        mc_obj *gw = mc_an_obj(c, MC_K_GATEWAY, i);
        const mc_node *servers = mc_get(gw->spec, "servers");
        MC_SEQ_EACH(servers, s) {
            const mc_node *tls = mc_get(mc_item(servers, s), "tls");
            if (!mc_an_set(tls)) continue;
            const mc_node *cn = mc_get(tls, "credentialName"), *sc = mc_get(tls, "serverCertificate");
            const char *cns = mc_an_s(cn), *scs = mc_an_s(sc), *pks = mc_an_s(mc_get(tls, "privateKey"));
            const char *k;
            if (*cns) k = mc_an_cat(c, "c", '\x1f', cns);
            else if (*scs && *pks) k = mc_an_cat(c, mc_an_cat(c, "f", '\x1f', scs), '\x1f', pks);
            else continue;
            bool found;
            void **slot = mc_strmap_put(&by_cert, k, strlen(k), &found);
            if (!found) { *slot = mc_arena_zalloc(&c->a, sizeof(mc_an_vec)); mc_an_vec_push(&keys, *slot); }
            cert_ent *e = mc_arena_alloc(&c->a, sizeof *e);
            e->gw = i;
            e->at = *cns ? cn : sc;
            mc_an_vec_push(*slot, e);
        }
    }
    if (by_cert.n) {
        uint32_t *seen = mc_xcalloc(ngw, sizeof *seen);
        /* for each gateway A, the gateways B whose selector includes A's
        ** and share a certificate with one of A's servers */
        mc_an_vec *mine = mc_xcalloc(ngw, sizeof *mine);
        for (uint32_t k = 0; k < keys.n; k++) {
            const mc_an_vec *v = keys.v[k];
            for (uint32_t j = 0; j < v->n; j++) mc_an_vec_push(&mine[((cert_ent *)v->v[j])->gw], (void *)v);
        }
        for (uint32_t a = 0; a < ngw; a++) {
            mc_obj *ga = mc_an_obj(c, MC_K_GATEWAY, a);
            const mc_node *sa = mc_get(ga->spec, "selector");
            for (uint32_t k = 0; k < mine[a].n; k++) {
                const mc_an_vec *v = mine[a].v[k];
                const mc_node *at = NULL;
                for (uint32_t j = 0; j < v->n && !at; j++)
                    if (((cert_ent *)v->v[j])->gw == a) at = ((cert_ent *)v->v[j])->at;
                for (uint32_t j = 0; j < v->n; j++) {
                    uint32_t b = ((cert_ent *)v->v[j])->gw;
                    if (b == a || seen[b] == a + 1) continue;
                    mc_obj *gb = mc_an_obj(c, MC_K_GATEWAY, b);
                    if (!selector_subset(sa, mc_get(gb->spec, "selector"))) continue;
                    seen[b] = a + 1;
                    const char *pair[2] = { mc_an_fullname(c, ga), mc_an_fullname(c, gb) };
                    mc_an_report(c, IST0138, MC_WARNING, ga, at, mc_path(ga->meta, "name", NULL),
                                 "Duplicate certificate in multiple gateways %s may cause 404s if clients re-use HTTP2 "
                                 "connections.", mc_an_list_v(c, pair, 2));
                }
            }
        }
        for (uint32_t a = 0; a < ngw; a++) free(mine[a].v);
        free(mine);
        free(seen);
    }
    for (uint32_t k = 0; k < keys.n; k++) free(((mc_an_vec *)keys.v[k])->v);
    free(keys.v);
    mc_strmap_free(&by_cert);
}
