/*
** t_table.c -- the indexed lookups of runtime/table.c against a plain
** linear scan. Random VirtualServices (prefix, exact and regex paths,
** ignoreUriCase, header and query matchers, several VirtualServices per
** host, wildcard hosts) are built into real images; random requests must
** get the row Envoy's first-match-wins scan over the same rows gives, and
** the virtual host Envoy's domain rules give.
*/
#include "imgbuild.h"
#include "image.h"
#include "regex.h"
#include "source.h"
#include "table.h"
#include "t.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static const char *const segs[] = { "/", "/a", "/ab", "/abc", "/b", "/a/b", "/a/bc", "/API", "/api", "/x/y/z", "/ab/" };
#define NSEGS (sizeof segs / sizeof segs[0])
static const char *const regs[] = { "/a.*", "/[ab]+", "/ab?c?", ".*", "/x/[^/]+/z" };
static const char *const hvals[] = { "1", "12", "2", "" };

/* ------------------------------------------------------------ reference */

typedef struct req {
    char path[128];
    const char *hname[3];
    const char *hval[3];
    int nh;
} req;

static const char *ref_header(const req *q, const char *name, size_t n, size_t *vn)
{
    for (int i = 0; i < q->nh; i++)
        if (strlen(q->hname[i]) == n && strncasecmp(q->hname[i], name, n) == 0) {
            *vn = strlen(q->hval[i]);
            return q->hval[i];
        }
    return NULL;
}

static const char *hfn(void *ud, const char *name, size_t n, size_t *vn) { return ref_header(ud, name, n, vn); }

static bool ref_str(const rt_image *img, const img_matcher *m, const char *v, size_t n)
{
    rt_str val = rt_string(img, m->value);
    switch (m->op) {
    case IMG_OP_EXACT: return n == val.n && memcmp(v, val.p, n) == 0;
    case IMG_OP_PREFIX: return n >= val.n && memcmp(v, val.p, val.n) == 0;
    case IMG_OP_REGEX: {
        rx *r = rx_compile(val.p, val.n, NULL, 0);
        bool b = r && rx_full_match(r, v, n);
        rx_free(r);
        return b;
    }
    default: return true;
    }
}

/* Envoy's RouteEntryImplBase::matches, written out plainly */
static bool ref_row(const rt_image *img, const img_row *r, const req *q)
{
    const char *path = q->path;
    size_t pl = strcspn(path, "?#");
    uint32_t kind = r->flags & IMG_ROW_KIND_MASK;
    rt_str p = kind == IMG_PATH_REGEX ? rt_string(img, ((const img_str *)rt_section(img, IMG_S_REGEXES, NULL))[r->path])
                                      : rt_string(img, (img_str){ r->path, r->path_len });
    bool ci = r->flags & IMG_ROW_IGNORE_CASE;
    switch (kind) {
    case IMG_PATH_PREFIX:
        if (pl < p.n || (ci ? strncasecmp(path, p.p, p.n) : strncmp(path, p.p, p.n)) != 0) return false;
        break;
    case IMG_PATH_EXACT:
        if (pl != p.n || (ci ? strncasecmp(path, p.p, p.n) : strncmp(path, p.p, p.n)) != 0) return false;
        break;
    default: {
        rx *x = rx_compile(p.p, p.n, NULL, 0);
        bool b = x && rx_full_match(x, path, pl);
        rx_free(x);
        if (!b) return false;
    }
    }
    const img_matcher *ms = (const img_matcher *)rt_section(img, IMG_S_MATCHERS, NULL) + r->matchers;
    for (uint32_t i = 0; i < r->nmatchers; i++) {
        const img_matcher *m = &ms[i];
        rt_str name = rt_string(img, m->name);
        if (m->target == IMG_TARGET_QUERY) {
            const char *qs = strchr(path, '?');
            const char *v = NULL;
            size_t vn = 0;
            for (const char *s = qs ? qs + 1 : NULL; s && *s;) {
                size_t len = strcspn(s, "&#");
                const char *eq = memchr(s, '=', len);
                size_t kl = eq ? (size_t)(eq - s) : len;
                if (kl == name.n && memcmp(s, name.p, kl) == 0) {
                    v = eq ? eq + 1 : s + len;
                    vn = eq ? len - kl - 1 : 0;
                    break;
                }
                if (s[len] != '&') break;
                s += len + 1;
            }
            if (!v || !ref_str(img, m, v, vn)) return false;
            continue;
        }
        size_t vn = 0;
        const char *v = ref_header(q, name.p, name.n, &vn);
        bool inv = m->flags & IMG_M_INVERT;
        if (!v && !(m->flags & IMG_M_MISSING_EMPTY)) {
            if (!(inv && m->op == IMG_OP_PRESENT)) return false;
            continue;
        }
        if (!v) { v = ""; vn = 0; }
        if (ref_str(img, m, v, vn) == inv) return false;
    }
    return true;
}

/* ------------------------------------------------------------ random configs */

static void strmatch_yaml(mc_buf *b, int kind, const char *v)
{
    if (kind == 0) mc_buf_printf(b, "{exact: \"%s\"}", v);
    else if (kind == 1) mc_buf_printf(b, "{prefix: \"%s\"}", v);
    else if (kind == 2) mc_buf_printf(b, "{regex: \"%s\"}", v);
    else mc_buf_printf(b, "{}");
}

static char *random_config(int nvs, int nroutes)
{
    mc_buf b;
    mc_buf_init(&b);
    mc_buf_puts(&b, "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: istio-system}\n"
                    "spec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n"
                    "    hosts: [\"*\"]\n");
    static const char *const hosts[] = { "h.test", "*.h.test", "a.h.test", "*.a.h.test", "*-x.h.test", "*" };
    for (int v = 0; v < nvs; v++) {
        mc_buf_printf(&b, "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs%d, namespace: default, "
                          "creationTimestamp: \"2020-01-01T00:00:%02dZ\"}\nspec:\n  hosts: [\"%s\"]\n  gateways: [istio-system/gw]\n  http:\n",
                      v, rnd(60), hosts[rnd(sizeof hosts / sizeof hosts[0])]);
        for (int r = 0; r < nroutes; r++) {
            mc_buf_printf(&b, "  - name: r%d\n", r);
            int nm = rnd(4) == 0 ? 0 : 1 + (int)rnd(2);
            if (nm) mc_buf_puts(&b, "    match:\n");
            for (int m = 0; m < nm; m++) {
                mc_buf_puts(&b, "    - ");
                int uk = (int)rnd(5);
                if (uk < 4) {
                    mc_buf_puts(&b, "uri: ");
                    strmatch_yaml(&b, uk == 3 ? 2 : uk, uk == 2 || uk == 3 ? (uk == 3 ? regs[rnd(5)] : segs[rnd(NSEGS)]) : segs[rnd(NSEGS)]);
                    if (uk == 2) {
                        /* exact or prefix, with ignoreUriCase sometimes */
                    }
                    mc_buf_puts(&b, "\n      ");
                    if (rnd(5) == 0) mc_buf_puts(&b, "ignoreUriCase: true\n      ");
                }
                if (rnd(3) == 0) {
                    mc_buf_puts(&b, "headers: {x-h: ");
                    int hk = (int)rnd(4);
                    strmatch_yaml(&b, hk, hk == 2 ? "1[0-9]*" : hvals[rnd(3)]);
                    mc_buf_puts(&b, "}\n      ");
                }
                if (rnd(5) == 0) {
                    mc_buf_puts(&b, "withoutHeaders: {x-w: ");
                    int hk = (int)rnd(4);
                    strmatch_yaml(&b, hk, hk == 2 ? "2" : hvals[rnd(3)]);
                    mc_buf_puts(&b, "}\n      ");
                }
                if (rnd(5) == 0) mc_buf_printf(&b, "queryParams: {q: {exact: \"%s\"}}\n      ", hvals[rnd(3)]);
                mc_buf_puts(&b, "name: m\n");
            }
            mc_buf_printf(&b, "    directResponse: {status: %d}\n", 200 + v * 100 + r);
        }
    }
    char *s = mc_xstrdup(b.s);
    mc_buf_free(&b);
    return s;
}

static void random_request(req *q)
{
    static const char *const tails[] = { "", "/", "c", "/x", "?q=1", "?q=12&z", "#f", "/b?q=2" };
    snprintf(q->path, sizeof q->path, "%s%s", rnd(4) ? segs[rnd(NSEGS)] : "/A", tails[rnd(8)]);
    q->nh = 0;
    if (rnd(2)) { q->hname[q->nh] = "X-H"; q->hval[q->nh++] = hvals[rnd(4)]; }
    if (rnd(2)) { q->hname[q->nh] = "x-w"; q->hval[q->nh++] = hvals[rnd(4)]; }
}

/* Envoy's findVirtualHost over the route table, written out plainly */
static uint32_t ref_vhost(const rt_image *img, const img_route_table *rt, const char *host)
{
    const img_vhost *vh = (const img_vhost *)rt_section(img, IMG_S_VHOSTS, NULL) + rt->vhosts.first;
    uint32_t best = IMG_NONE, best_len = 0, dflt = IMG_NONE;
    size_t hl = strlen(host);
    for (uint32_t i = 0; i < rt->vhosts.count; i++) {
        const char *dz = (const char *)rt_section(img, IMG_S_STRINGS, NULL) + vh[i].domain;
        rt_str d = { dz, (uint32_t)strlen(dz) };
        if (strcmp(d.p, "*") == 0) { dflt = i; continue; }
        if (d.p[0] != '*') {
            if (strcasecmp(d.p, host) == 0) return i;
            continue;
        }
        size_t sl = d.n - 1;
        if (sl < hl && strcasecmp(host + hl - sl, d.p + 1) == 0 && sl > best_len) { best = i; best_len = (uint32_t)sl; }
    }
    return best != IMG_NONE ? best : dflt;
}

/* Istio turns a header regex "*" into a presence match (the webhook now
** refuses the form, so only configs that skip the checks carry it). */
static void presence_regex(void)
{
    static const char yaml[] =
        "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: istio-system}\n"
        "spec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n"
        "    hosts: [p.test]\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"
        "metadata: {name: vs, namespace: default}\nspec:\n  hosts: [p.test]\n  gateways: [istio-system/gw]\n  http:\n"
        "  - match: [{headers: {x-any: {regex: \"*\"}}}]\n    directResponse: {status: 200}\n"
        "  - directResponse: {status: 404}\n";
    size_t n;
    void *bytes = img_build_text(yaml, &n);
    char err[RT_ERR_LEN];
    rt_image *img = bytes ? rt_image_open_mem(bytes, n, err, sizeof err) : NULL;
    if (!ok(img != NULL, "a header regex \"*\" builds")) { free(bytes); return; }
    const rt_view *v = rt_view_workload(img, "istio-system", &(rt_label){ "istio", "ingressgateway" }, 1);
    const rt_chain *c = rt_listener_chain(img, rt_listener_find(img, v, 80, NULL), NULL, 0);
    req q = { "/", { "x-any" }, { "" }, 1 };
    rt_request r = { "GET", 3, "p.test", 6, "/", 1, "http", 4, hfn, &q, 0 };
    rt_decision d;
    rt_route_http(img, c, &r, &d);
    ok(d.status == 200, "regex \"*\" on a header matches any value, even empty (got %u)", d.status);
    q.nh = 0;
    rt_route_http(img, c, &r, &d);
    ok(d.status == 404, "regex \"*\" on a header does not match an absent header (got %u)", d.status);
    const img_matcher *m = rt_section(img, IMG_S_MATCHERS, NULL);
    ok(m && m[0].op == IMG_OP_PRESENT && m[0].regex == IMG_NONE, "it is stored as a presence matcher, not a regex");
    rt_image_close(img);
    free(bytes);
}

typedef struct tally { unsigned lookups, mismatches, vh_mismatch, matched; } tally;

/* one request through the image and through the plain reference */
static void check_lookup(const rt_image *img, const rt_chain *c, const char *host, req *q, tally *t)
{
    const img_route_table *rt = (const img_route_table *)rt_section(img, IMG_S_ROUTETABLES, NULL) + c->next;
    const img_vhost *vhs = (const img_vhost *)rt_section(img, IMG_S_VHOSTS, NULL);
    const img_rowset *sets = (const img_rowset *)rt_section(img, IMG_S_ROWSETS, NULL);
    const img_row *rows = (const img_row *)rt_section(img, IMG_S_ROWS, NULL);
    rt_request r = { "GET", 3, host, strlen(host), q->path, strlen(q->path), "http", 4, hfn, q, 0 };
    rt_decision d;
    rt_route_http(img, c, &r, &d);
    t->lookups++;
    char key[64];
    snprintf(key, sizeof key, "%s", host);
    char *colon = strchr(key, ':');
    if (colon) *colon = '\0';
    uint32_t want_vh = ref_vhost(img, rt, key);
    uint32_t got_vh = d.vhost == IMG_NONE ? IMG_NONE : d.vhost - rt->vhosts.first;
    if (want_vh != got_vh) {
        if (t->vh_mismatch++ < 5) printf("# host %s: vhost %u, want %u\n", host, got_vh, want_vh);
        return;
    }
    uint32_t want = IMG_NONE;
    if (want_vh != IMG_NONE) {
        const img_vhost *vh = &vhs[rt->vhosts.first + want_vh];
        const img_rowset *rs = &sets[vh->rowset];
        for (uint32_t i = 0; i < rs->rows.count && want == IMG_NONE; i++)
            if (ref_row(img, &rows[rs->rows.first + i], q)) want = vh->routes + i;
    }
    if (want != d.route) {
        if (t->mismatches++ < 5) printf("# %s%s: row %u, a linear scan gives %u\n", host, q->path, d.route, want);
    } else if (want != IMG_NONE) {
        t->matched++;
    }
}

static const rt_chain *http_chain(const rt_image *img)
{
    const rt_view *v = rt_view_workload(img, "istio-system", &(rt_label){ "istio", "ingressgateway" }, 1);
    const rt_listener *l = v ? rt_listener_find(img, v, 80, NULL) : NULL;
    return l ? rt_listener_chain(img, l, NULL, 0) : NULL;
}

/* Prefix literals of one length and few others: the compiler indexes them
** by length (INDEXES.prefix) when that beats walking the trie; both kinds
** of index must choose the row a linear scan chooses. */
static void prefix_index(void)
{
    tally t = { 0, 0, 0, 0 };
    unsigned by_length = 0, by_trie = 0;
    for (int round = 0; round < 24; round++) {
        mc_buf b;
        mc_buf_init(&b);
        mc_buf_puts(&b, "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: istio-system}\n"
                        "spec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n"
                        "    hosts: [p.test]\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"
                        "metadata: {name: p, namespace: default}\nspec:\n  hosts: [p.test]\n  gateways: [istio-system/gw]\n  http:\n");
        int nr = 2 + (int)rnd(40);
        for (int r = 0; r < nr; r++) {
            /* even rounds: one literal length (a table by length), odd: mixed */
            uint32_t k = round % 2 ? rnd(round % 3 ? 20 : 8) : 2 + rnd(18);
            mc_buf_printf(&b, "  - match:\n    - uri: ");
            if (k == 0) mc_buf_puts(&b, "{prefix: /p}");
            else if (k == 1) mc_buf_printf(&b, "{prefix: /p%u}", rnd(4));
            else if (k == 2) mc_buf_printf(&b, "{exact: /p%u%u/x}", rnd(4), rnd(4));
            else mc_buf_printf(&b, "{prefix: /p%u%u/}", rnd(4), rnd(4));
            if (rnd(3) == 0) mc_buf_printf(&b, "\n      headers: {x-h: {exact: \"%s\"}}", hvals[rnd(3)]);
            mc_buf_printf(&b, "\n    directResponse: {status: %d}\n", 200 + r);
        }
        size_t n;
        void *bytes = img_build_text(b.s, &n);
        mc_buf_free(&b);
        char err[RT_ERR_LEN];
        rt_image *img = bytes ? rt_image_open_mem(bytes, n, err, sizeof err) : NULL;
        const rt_chain *c = img ? http_chain(img) : NULL;
        if (!ok(c != NULL, "prefix config %d (%d routes) builds and verifies", round, nr)) {
            if (img) rt_image_close(img);
            free(bytes);
            continue;
        }
        const img_index *xs = rt_section(img, IMG_S_INDEXES, NULL);
        uint32_t nx;
        rt_section(img, IMG_S_INDEXES, &nx);
        for (uint32_t i = 0; i < nx; i++) {
            by_length += xs[i].prefix != IMG_NONE;
            by_trie += xs[i].trie != IMG_NONE && xs[i].nrows > 1;
        }
        for (int k = 0; k < 300; k++) {
            req q;
            static const char *const tails[] = { "", "/", "x", "/x", "?q=1" };
            snprintf(q.path, sizeof q.path, "/p%u%u%s", rnd(5), rnd(5), tails[rnd(5)]);
            if (rnd(6) == 0) snprintf(q.path, sizeof q.path, "/p%u", rnd(5));
            q.nh = 0;
            if (rnd(2)) { q.hname[q.nh] = "x-h"; q.hval[q.nh++] = hvals[rnd(4)]; }
            check_lookup(img, c, "p.test", &q, &t);
        }
        rt_image_close(img);
        free(bytes);
    }
    ok(by_length > 0 && by_trie > 0, "both indexes for prefix literals were built (%u by length, %u tries)", by_length, by_trie);
    ok(t.vh_mismatch == 0 && t.mismatches == 0, "indexed rows equal a linear scan in %u lookups (%u matched a row)", t.lookups, t.matched);
    ok(t.matched > t.lookups / 10 && t.matched < t.lookups, "the requests exercise both matches and misses");
}

/* Cluster names are derived (outbound|PORT|SUBSET|HOST): every cluster is
** found by its name, a name not written the canonical way is not; a DNS
** cluster's endpoint that is its own host comes back as that endpoint. */
static void cluster_names(void)
{
    const char *p = "testdata/routes/clusters/config.yaml";
    size_t n;
    void *bytes = img_build(&p, 1, &n);
    char err[RT_ERR_LEN];
    rt_image *img = bytes ? rt_image_open_mem(bytes, n, err, sizeof err) : NULL;
    if (!ok(img != NULL, "clusters image builds")) { free(bytes); return; }
    uint32_t nc = rt_cluster_count(img), found = 0, selfs = 0, self_ok = 0;
    for (uint32_t i = 0; i < nc; i++) {
        rt_cluster_info ci;
        rt_cluster_get(img, i, &ci);
        char want[512];
        snprintf(want, sizeof want, "outbound|%u|%s|%s", ci.port, ci.subset.p, ci.host.p);
        if (strcmp(want, ci.name.p) == 0 && ci.name.n == strlen(want) && rt_cluster_find(img, ci.name.p, ci.name.n) == i) found++;
        const img_cluster_shape *s = (const img_cluster_shape *)rt_section(img, IMG_S_CSHAPES, NULL) +
                                     ((const img_cluster *)rt_section(img, IMG_S_CLUSTERS, NULL))[i].shape;
        if (s->flags & IMG_CLUSTER_SELF_ENDPOINT) {
            selfs++;
            rt_endpoint_info e;
            rt_endpoint_get(img, i, 0, &e);
            self_ok += ci.nendpoints == 1 && e.kind == s->ep_kind && e.port == s->ep_port && e.weight == 1 && e.address.n == ci.host.n &&
                       memcmp(e.address.p, ci.host.p, e.address.n) == 0;
        }
    }
    ok(nc > 3 && found == nc, "all %u clusters are found by their derived names (%u)", nc, found);
    ok(selfs > 0 && self_ok == selfs, "%u self-endpoint clusters give their host as the endpoint (%u)", selfs, self_ok);
    rt_cluster_info c0;
    rt_cluster_get(img, 0, &c0);
    char bad[600];
    int misses = 0;
    snprintf(bad, sizeof bad, "outbound|0%u|%s|%s", c0.port, c0.subset.p, c0.host.p);
    misses += rt_cluster_find(img, bad, strlen(bad)) == IMG_NONE;
    snprintf(bad, sizeof bad, "inbound|%u|%s|%s", c0.port, c0.subset.p, c0.host.p);
    misses += rt_cluster_find(img, bad, strlen(bad)) == IMG_NONE;
    snprintf(bad, sizeof bad, "outbound|%u|%s|%s.", c0.port, c0.subset.p, c0.host.p);
    misses += rt_cluster_find(img, bad, strlen(bad)) == IMG_NONE;
    snprintf(bad, sizeof bad, "outbound|%u|%s", c0.port, c0.host.p);
    misses += rt_cluster_find(img, bad, strlen(bad)) == IMG_NONE;
    misses += rt_cluster_find(img, "outbound|70000||x", 17) == IMG_NONE;
    ok(misses == 5, "names not in the canonical form find nothing (%d of 5)", misses);
    rt_image_close(img);
    free(bytes);
}

/* A prefix literal longer than a trie label's 16-bit length becomes a chain
** of nodes; the walk still matches it whole, and only whole. */
static void long_literal(void)
{
    enum { LONG = 70000 };
    mc_buf b;
    mc_buf_init(&b);
    mc_buf_puts(&b, "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: istio-system}\n"
                    "spec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n"
                    "    hosts: [l.test]\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"
                    "metadata: {name: l, namespace: default}\nspec:\n  hosts: [l.test]\n  gateways: [istio-system/gw]\n  http:\n"
                    "  - match: [{uri: {prefix: \"/");
    for (int i = 0; i < LONG; i++) mc_buf_putc(&b, (char)('a' + i % 7));
    mc_buf_puts(&b, "\"}}]\n    directResponse: {status: 201}\n  - match: [{uri: {prefix: /b}}]\n    directResponse: {status: 202}\n"
                    "  - directResponse: {status: 203}\n");
    size_t n = 0;
    void *bytes = img_build_text(b.s, &n);
    mc_buf_free(&b);
    char err[RT_ERR_LEN];
    rt_image *img = bytes ? rt_image_open_mem(bytes, n, err, sizeof err) : NULL;
    const rt_chain *c = img ? http_chain(img) : NULL;
    if (!ok(c != NULL, "a %d-byte prefix literal builds and verifies", LONG)) {
        if (img) rt_image_close(img);
        free(bytes);
        return;
    }
    char *path = malloc(LONG + 16);
    path[0] = '/';
    for (int i = 0; i < LONG; i++) path[1 + i] = (char)('a' + i % 7);
    strcpy(path + 1 + LONG, "/x");
    rt_request r = { "GET", 3, "l.test", 6, path, strlen(path), "http", 4, NULL, NULL, 0 };
    rt_decision d;
    rt_route_http(img, c, &r, &d);
    unsigned long_ok = d.status == 201;
    path[1 + LONG - 1] = 'z';          /* differs in the last byte of the literal */
    rt_route_http(img, c, &r, &d);
    unsigned short_ok = d.status == 203;
    const img_index *x = rt_section(img, IMG_S_INDEXES, NULL);
    ok(long_ok && short_ok && x[0].trie != IMG_NONE, "the long literal is matched whole by the trie (%u, %u)", long_ok, short_ok);
    free(path);
    rt_image_close(img);
    free(bytes);
}

/* rt_image_read (meshrt run): a private copy, so rewriting or truncating
** the file afterwards changes nothing the server reads. */
static void read_private_copy(void)
{
    size_t n;
    char *yaml = random_config(1, 3);
    void *bytes = img_build_text(yaml, &n);
    free(yaml);
    char path[] = "/tmp/t_table.XXXXXX", err[RT_ERR_LEN];
    int fd = mkstemp(path);
    ok(bytes && fd >= 0 && write(fd, bytes, n) == (ssize_t)n, "image file written (%zu bytes)", n);
    rt_image *img = rt_image_read(path, err, sizeof err);
    ok(img != NULL, "rt_image_read verifies the copy");
    if (img) {
        rt_image_info before, after;
        rt_image_info_get(img, &before);
        ok(ftruncate(fd, 0) == 0 && pwrite(fd, "junk", 4, 0) == 4, "the file is then rewritten in place");
        rt_image_info_get(img, &after);
        ok(before.size == n && after.size == n && memcmp(rt_image_base(img), bytes, n) == 0,
           "the image keeps the bytes it verified (no SIGBUS, no change)");
        rt_image_close(img);
        img = rt_image_read(path, err, sizeof err);
        ok(!img && strstr(err, "truncated") != NULL, "reading the rewritten file fails: %s", err);
    }
    rt_image *none = rt_image_read("/nonexistent/x.img", err, sizeof err);
    ok(!none && strstr(err, "cannot open") != NULL, "a missing file: %s", err);
    if (fd >= 0) close(fd);
    unlink(path);
    free(bytes);
}

int main(void)
{
    tally t = { 0, 0, 0, 0 };
    unsigned configs = 0;
    static const char *const hosts[] = { "h.test", "a.h.test", "b.a.h.test", "zz-x.h.test", "-x.h.test", "other.test", "H.TEST:80", "x.h.test" };
    for (int round = 0; round < 60; round++) {
        int nvs = 1 + (int)rnd(4), nroutes = 1 + (int)rnd(round < 50 ? 12 : 60);
        char *yaml = random_config(nvs, nroutes);
        size_t n;
        void *bytes = img_build_text(yaml, &n);
        char err[RT_ERR_LEN];
        rt_image *img = bytes ? rt_image_open_mem(bytes, n, err, sizeof err) : NULL;
        if (!ok(img != NULL, "random config %d (%d VirtualServices x %d routes) builds and verifies", round, nvs, nroutes)) {
            printf("# %s\n", bytes ? err : "build failed");
            free(yaml);
            free(bytes);
            continue;
        }
        configs++;
        const rt_chain *c = http_chain(img);
        if (!c) {
            ok(0, "round %d: no chain", round);
            rt_image_close(img);
            free(bytes);
            free(yaml);
            continue;
        }
        for (int k = 0; k < 300; k++) {
            req q;
            random_request(&q);
            check_lookup(img, c, hosts[rnd(sizeof hosts / sizeof hosts[0])], &q, &t);
        }
        rt_image_close(img);
        free(bytes);
        free(yaml);
    }
    unsigned lookups = t.lookups, mismatches = t.mismatches, vh_mismatch = t.vh_mismatch, matched = t.matched;
    ok(vh_mismatch == 0, "virtual host selection equals Envoy's domain rules in %u lookups", lookups);
    ok(mismatches == 0, "indexed row choice equals a linear first-match scan in %u lookups over %u configs (%u matched a row)",
       lookups, configs, matched);
    ok(matched > lookups / 10 && matched < lookups, "the random requests exercise both matches and misses");
    presence_regex();
    prefix_index();
    cluster_names();
    long_literal();
    read_private_copy();
    mc_src_free_all();
    return t_done();
}
