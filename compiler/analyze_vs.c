/*
** analyze_vs.c -- the virtualservice.* analyzers: destination hosts and
** ports (IST0101, IST0112, IST0140), subsets (IST0101), gateways (IST0101,
** IST0132, IST0165), mesh host conflicts (IST0109), JWT claim routes
** (IST0149).
*/
#include "analyze_int.h"
#include "host.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ destinations */

/* One destination of a VirtualService, as virtualservice/util.go lists them:
** tcp, tls, http routes, then http mirror and mirrors. */
typedef struct vsdest {
    const mc_node *item;        /* the route entry (or mirror node) */
    const mc_node *dest;        /* the Destination map, or NULL */
    const mc_node *host;        /* dest.host, or NULL */
    const mc_node *anchor;      /* where istioctl's ErrorLine points, or NULL */
    const mc_node *subset;      /* dest.subset, or NULL */
    const char *route_name;     /* http[].name, for IST0140's lookup */
    bool mirror;
    bool http;
} vsdest;

/* Every VirtualService's destinations, collected once for the analyzers
** that walk them: all[start[v] .. start[v + 1]) belong to VirtualService v. */
struct mc_an_vsd {
    vsdest *all;
    uint32_t n, cap;
    uint32_t *start;
};

static vsdest *dpush(struct mc_an_vsd *d)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 64;
        d->all = mc_xrealloc(d->all, d->cap * sizeof *d->all);
    }
    vsdest *x = &d->all[d->n++];
    memset(x, 0, sizeof *x);
    return x;
}

static vsdest *dest_at(struct mc_an_vsd *out, const mc_node *item, const mc_node *dest)
{
    vsdest *d = dpush(out);
    d->item = item;
    d->dest = dest;
    d->host = mc_get(dest, "host");
    d->subset = mc_get(dest, "subset");
    d->anchor = d->host;
    return d;
}

static void collect(const mc_node *spec, struct mc_an_vsd *out)
{
    static const char *const rules[] = { "tcp", "tls", "http" };
    for (int r = 0; r < 3; r++) {
        const mc_node *list = mc_get(spec, rules[r]);
        MC_SEQ_EACH(list, i) {
            const mc_node *rule = mc_item(list, i), *route = mc_get(rule, "route");
            MC_SEQ_EACH(route, j) {
                vsdest *d = dest_at(out, mc_item(route, j), mc_get(mc_item(route, j), "destination"));
                d->http = r == 2;
                d->route_name = r == 2 ? mc_an_s(mc_get(rule, "name")) : NULL;
            }
        }
    }
    const mc_node *http = mc_get(spec, "http");
    MC_SEQ_EACH(http, i) {
        const mc_node *rule = mc_item(http, i), *m = mc_get(rule, "mirror");
        if (mc_an_set(m)) dest_at(out, m, m)->mirror = true;
        const mc_node *ms = mc_get(rule, "mirrors");
        MC_SEQ_EACH(ms, j) {
            vsdest *d = dest_at(out, mc_item(ms, j), mc_get(mc_item(ms, j), "destination"));
            /* istioctl looks for .spec.http[i].mirrors[j].host, which does
            ** not exist: these messages carry the resource's line */
            d->anchor = NULL;
            d->mirror = true;
        }
    }
}

static const vsdest *dests(mc_an_ctx *c, uint32_t v, uint32_t *n)
{
    if (!c->vsd) {
        struct mc_an_vsd *d = mc_xcalloc(1, sizeof *d);
        uint32_t nvs = mc_an_count(c, MC_K_VIRTUALSERVICE);
        d->start = mc_xmalloc((nvs + 1) * sizeof *d->start);
        for (uint32_t i = 0; i < nvs; i++) {
            d->start[i] = d->n;
            collect(mc_an_obj(c, MC_K_VIRTUALSERVICE, i)->spec, d);
        }
        d->start[nvs] = d->n;
        c->vsd = d;
    }
    *n = c->vsd->start[v + 1] - c->vsd->start[v];
    return c->vsd->all + c->vsd->start[v];
}

void mc_an_vs_free(mc_an_ctx *c)
{
    if (!c->vsd) return;
    free(c->vsd->all);
    free(c->vsd->start);
    free(c->vsd);
    c->vsd = NULL;
}

static const mc_node *where(const vsdest *d)
{
    return d->host ? d->host : d->dest ? d->dest : d->item;
}

static void check_ports(mc_an_ctx *c, const mc_obj *vs, const vsdest *d, const mc_an_svc *s, const char *host)
{
    const char *numkey = s->k8s ? "port" : "number";
    const mc_node *port = mc_get(d->dest, "port");
    uint32_t np = s->ports && s->ports->type == MC_SEQ ? s->ports->n : 0;
    if (!mc_an_set(port)) {
        if (np <= 1) return;
        mc_buf b;
        mc_buf_init(&b);
        mc_buf_putc(&b, '[');
        MC_SEQ_EACH(s->ports, i)
            mc_buf_printf(&b, "%s%lld", i ? " " : "", (long long)(uint32_t)mc_an_int(mc_get(mc_item(s->ports, i), numkey), 0));
        mc_buf_putc(&b, ']');
        mc_an_report(c, IST0112, MC_ERROR, vs, where(d), d->anchor,
                     "This VirtualService routes to a service %s that exposes multiple ports %s. "
                     "Specifying a port in the destination is required to disambiguate.", mc_an_q(c, host), b.s);
        mc_buf_free(&b);
        return;
    }
    const mc_node *numn = mc_get(port, "number");
    uint32_t want = (uint32_t)mc_an_int(numn, 0);
    MC_SEQ_EACH(s->ports, i)
        if ((uint32_t)mc_an_int(mc_get(mc_item(s->ports, i), numkey), 0) == want) return;
    const char *hp = mc_arena_printf(&c->a, "%s:%u", host, want);
    mc_an_report(c, IST0101, MC_ERROR, vs, numn ? numn : port, d->anchor, "Referenced %s not found: %s",
                 "host:port", mc_an_q(c, hp));
}

/* IST0140's index: host -> the VirtualServices routing that host (one of
** their own hosts, compared literally) to a subset. */
static void index_subset_routes(mc_an_ctx *c, mc_strmap *idx)
{
    for (uint32_t v = 0; v < mc_an_count(c, MC_K_VIRTUALSERVICE); v++) {
        mc_obj *o = mc_an_obj(c, MC_K_VIRTUALSERVICE, v);
        const mc_node *hosts = mc_get(o->spec, "hosts");
        uint32_t nd;
        const vsdest *d = dests(c, v, &nd);
        for (uint32_t i = 0; i < nd; i++) {
            if (!d[i].http || d[i].mirror || !*mc_an_s(d[i].subset)) continue;
            const char *h = mc_an_s(d[i].host);
            bool own = false;
            MC_SEQ_EACH(hosts, k) own = own || strcmp(mc_an_s(mc_item(hosts, k)), h) == 0;
            if (!own) continue;
            mc_an_multi_add(c, idx, h, o, true);
        }
    }
}

void mc_an_vs_destination_hosts(mc_an_ctx *c)
{
    mc_strmap subset_routes;
    mc_strmap_init(&subset_routes);
    index_subset_routes(c, &subset_routes);
    for (uint32_t v = 0; v < mc_an_count(c, MC_K_VIRTUALSERVICE); v++) {
        mc_obj *vs = mc_an_obj(c, MC_K_VIRTUALSERVICE, v);
        const mc_node *exp = mc_get(vs->spec, "exportTo");
        uint32_t nd;
        const vsdest *d = dests(c, v, &nd);
        for (uint32_t i = 0; i < nd; i++) {
            const vsdest *x = &d[i];
            const char *host = mc_an_s(x->host);
            const mc_an_svc *s = mc_an_dest_host(c, vs->o.ns, exp, host);
            if (!s) {
                /* no Service in the inputs: the host is likely defined elsewhere */
                mc_level l = !c->have_services && mc_an_cluster_local(c, host) ? MC_WARNING : MC_ERROR;
                mc_an_report(c, IST0101, l, vs, where(x), x->anchor, "Referenced %s not found: %s",
                             x->mirror ? "mirror host" : "host", mc_an_q(c, host));
                continue;
            }
            check_ports(c, vs, x, s, host);
        }
        /* IST0140: a gateway-bound VirtualService routes a host without a
        ** subset that another VirtualService routes with one */
        if (mc_len(mc_get(vs->spec, "gateways")) == 0) continue;
        for (uint32_t i = 0; i < nd; i++) {
            const vsdest *x = &d[i];
            if (!x->http || x->mirror || *mc_an_s(x->subset)) continue;
            const char *host = mc_an_s(x->host);
            const mc_an_vec *others = mc_strmap_get(&subset_routes, host, strlen(host));
            /* istioctl's line lookup uses the route's name where "http"
            ** belongs, so it finds a line only for routes named "http" */
            const mc_node *anchor = strcmp(x->route_name, "http") == 0 ? x->host : NULL;
            for (uint32_t k = 0; others && k < others->n; k++)
                mc_an_report(c, IST0140, MC_WARNING, vs, where(x), anchor,
                             "Subset in virtual service %s has no effect on ingress gateway %s requests",
                             mc_an_fullname(c, others->v[k]), mc_an_fullname(c, vs));
        }
    }
    mc_an_multi_free(&subset_routes);
}

/* ------------------------------------------------------------ subsets */

void mc_an_vs_destination_rules(mc_an_ctx *c)
{
    mc_strmap have;
    mc_strmap_init(&have);
    mc_buf k;
    mc_buf_init(&k);
    for (uint32_t i = 0; i < mc_an_count(c, MC_K_DESTINATIONRULE); i++) {
        mc_obj *dr = mc_an_obj(c, MC_K_DESTINATIONRULE, i);
        const mc_node *subsets = mc_get(dr->spec, "subsets");
        MC_SEQ_EACH(subsets, j) {
            mc_buf_reset(&k);
            mc_an_resource_name(c, &k, dr->o.ns, mc_an_s(mc_get(dr->spec, "host")));
            mc_buf_putc(&k, '\x1f');
            mc_buf_puts(&k, mc_an_s(mc_get(mc_item(subsets, j), "name")));
            char *key = mc_arena_strndup(&c->a, k.s, k.n);
            *mc_strmap_put(&have, key, k.n, NULL) = (void *)1;
        }
    }
    const mc_obj *last_vs = NULL;
    const char *last_host = NULL, *last_sub = NULL;
    bool last_ok = false;
    for (uint32_t v = 0; v < mc_an_count(c, MC_K_VIRTUALSERVICE); v++) {
        mc_obj *vs = mc_an_obj(c, MC_K_VIRTUALSERVICE, v);
        uint32_t nd;
        const vsdest *d = dests(c, v, &nd);
        for (uint32_t i = 0; i < nd; i++) {
            const vsdest *x = &d[i];
            const mc_node *sub = x->subset;
            const char *subset = mc_an_s(sub), *host = mc_an_s(x->host);
            if (!*subset) continue;
            /* the same host and subset as the last destination: same answer */
            if (last_sub && last_vs == vs && strcmp(last_host, host) == 0 && strcmp(last_sub, subset) == 0 && last_ok)
                continue;
            mc_buf_reset(&k);
            mc_an_resource_name(c, &k, vs->o.ns, host);
            mc_buf_putc(&k, '\x1f');
            mc_buf_puts(&k, subset);
            last_vs = vs;
            last_host = host;
            last_sub = subset;
            last_ok = mc_strmap_get(&have, k.s, k.n) != NULL;
            if (last_ok) continue;
            mc_an_report(c, IST0101, MC_ERROR, vs, sub, x->anchor, "Referenced %s not found: %s",
                         x->mirror ? "mirror+subset in destinationrule" : "host+subset in destinationrule",
                         mc_an_q(c, mc_arena_printf(&c->a, "%s+%s", host, subset)));
        }
    }
    mc_buf_free(&k);
    mc_strmap_free(&have);
}

/* ------------------------------------------------------------ gateways */

/* The hosts of one Gateway as a VirtualService in some namespace sees them
** (sanitizeServerHostNamespace, then host.NamesForNamespace). */
typedef struct gwhosts {
    mc_hostset any;             /* hosts without a namespace prefix, or with '*' */
    mc_strmap by_ns;            /* namespace -> mc_hostset of 'ns/host' entries */
    bool match_all;             /* a k8s Gateway listener without hostname */
} gwhosts;

static mc_hostset *ns_set(mc_an_ctx *c, gwhosts *g, const char *ns, size_t nl)
{
    bool found;
    void **slot = mc_strmap_put(&g->by_ns, ns, nl, &found);
    if (!found) {
        mc_hostset *s = mc_arena_alloc(&c->a, sizeof *s);
        mc_hostset_init(s, &c->a);
        *slot = s;
    }
    return *slot;
}

static void add_server_host(mc_an_ctx *c, gwhosts *g, const char *gwns, const char *h)
{
    const char *slash = strchr(h, '/');
    if (!slash) { mc_hostset_add(&g->any, h, NULL); return; }
    /* sanitize keeps the second '/'-separated part for the '.' and '*'
    ** namespaces */
    const char *p1 = slash + 1, *e1 = strchr(p1, '/');
    size_t l1 = e1 ? (size_t)(e1 - p1) : strlen(p1);
    if (slash - h == 1 && h[0] == '.') {
        mc_hostset_add(ns_set(c, g, gwns, strlen(gwns)), mc_arena_strndup(&c->a, p1, l1), NULL);
    } else if (slash - h == 1 && h[0] == '*') {
        mc_hostset_add(&g->any, mc_arena_strndup(&c->a, p1, l1), NULL);
    } else {
        mc_hostset_add(ns_set(c, g, h, (size_t)(slash - h)), p1, NULL);
    }
}

static gwhosts *gateway_hosts(mc_an_ctx *c, mc_strmap *cache, const mc_obj *gw, bool k8s)
{
    /* keyed by the resource's input position, which lives as long as it */
    bool found;
    void **slot = mc_strmap_put(cache, (const char *)&gw->seq, sizeof gw->seq, &found);
    if (found) return *slot;
    gwhosts *g = mc_arena_zalloc(&c->a, sizeof *g);
    *slot = g;
    mc_hostset_init(&g->any, &c->a);
    mc_strmap_init(&g->by_ns);
    if (k8s) {
        const mc_node *ls = mc_get(gw->spec, "listeners");
        MC_SEQ_EACH(ls, i) {
            const char *h = mc_an_s(mc_get(mc_item(ls, i), "hostname"));
            if (!*h) g->match_all = true;
            else mc_hostset_add(&g->any, h, NULL);
        }
        return g;
    }
    const mc_node *servers = mc_get(gw->spec, "servers");
    MC_SEQ_EACH(servers, i) {
        const mc_node *hosts = mc_get(mc_item(servers, i), "hosts");
        MC_SEQ_EACH(hosts, j) {
            const char *h = mc_an_s(mc_item(hosts, j));
            if (strcmp(h, "*/*") == 0 || (h[0] == '*' && h[1] == '/' && h[2] == '*' && h[3] == '/')) {
                /* a '*' namespace with a '*' host makes the server "*" */
                mc_hostset_add(&g->any, "*", NULL);
                break;
            }
            add_server_host(c, g, gw->o.ns, h);
        }
    }
    return g;
}

static bool vs_host_in(gwhosts *g, const mc_node *vshosts, const char *vsns)
{
    if (g->match_all) return true;
    mc_hostset *ns = mc_strmap_get(&g->by_ns, vsns, strlen(vsns));
    MC_SEQ_EACH(vshosts, i) {
        const char *h = mc_an_s(mc_item(vshosts, i));
        if (mc_hostset_any(&g->any, h) || (ns && mc_hostset_any(ns, h))) return true;
    }
    return false;
}

static void free_gateway_hosts(mc_strmap *cache)
{
    MC_STRMAP_EACH(cache, s) {
        gwhosts *g = s->val;
        mc_hostset_free(&g->any);
        MC_STRMAP_EACH(&g->by_ns, t) mc_hostset_free(t->val);
        mc_strmap_free(&g->by_ns);
    }
    mc_strmap_free(cache);
}

void mc_an_vs_gateways(mc_an_ctx *c)
{
    mc_strmap cache;
    mc_strmap_init(&cache);
    for (uint32_t v = 0; v < mc_an_count(c, MC_K_VIRTUALSERVICE); v++) {
        mc_obj *vs = mc_an_obj(c, MC_K_VIRTUALSERVICE, v);
        const mc_node *gws = mc_get(vs->spec, "gateways"), *hosts = mc_get(vs->spec, "hosts");
        MC_SEQ_EACH(gws, i) {
            const mc_node *ref = mc_item(gws, i);
            const char *name = mc_an_s(ref);
            if (strcmp(name, "mesh") == 0) continue;
            const char *slash = strchr(name, '/');
            if (strstr(slash ? slash + 1 : name, "~istio-autogenerated-k8s-gateway~")) {
                mc_an_report(c, IST0165, MC_WARNING, vs, ref, ref,
                             "Gateway reference in VirtualService %s is to an implementation-generated internal Gateway: %s.",
                             mc_an_fullname(c, vs), name);
                continue;
            }
            const char *gns, *gname;
            mc_an_short_or_full(c, vs->o.ns, name, &gns, &gname);
            mc_obj *gw = mc_an_find(c, MC_K_GATEWAY, gns, gname);
            mc_obj *kgw = gw ? NULL : mc_an_find(c, MC_K_K8SGATEWAY, gns, gname);
            if (!gw && !kgw)
                mc_an_report(c, IST0101, MC_ERROR, vs, ref, ref, "Referenced %s not found: %s", "gateway", mc_an_q(c, name));
            /* the host check runs even when the gateway is missing */
            bool match = false;
            if (gw || kgw) match = vs_host_in(gateway_hosts(c, &cache, gw ? gw : kgw, kgw != NULL), hosts, vs->o.ns);
            if (!match)
                mc_an_report(c, IST0132, MC_WARNING, vs, ref, ref,
                             "one or more host %s defined in VirtualService %s not found in Gateway %s.",
                             mc_an_seq_v(c, hosts), mc_an_fullname(c, vs),
                             *gns ? mc_arena_printf(&c->a, "%s/%s", gns, gname) : gname);
        }
    }
    free_gateway_hosts(&cache);
}

/* ------------------------------------------------------------ mesh hosts */

typedef struct hkey {
    const char *scope, *fqdn, *text;    /* text: "scope/fqdn" as Istio prints it */
    mc_an_vec vs;
} hkey;

static bool mesh_bound(const mc_node *gws)
{
    if (mc_len(gws) == 0) return true;
    MC_SEQ_EACH(gws, i) if (strcmp(mc_an_s(mc_item(gws, i)), "mesh") == 0) return true;
    return false;
}

typedef struct gather { mc_an_vec *out; const hkey *self; } gather;

static bool gather_star(void *ud, const char *host, void *val)
{
    (void)host;
    gather *g = ud;
    const hkey *k = val;
    for (uint32_t i = 0; i < k->vs.n; i++) mc_an_vec_push(g->out, k->vs.v[i]);
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The host node of vs that the conflict is about. */
static const mc_node *conflict_host(mc_an_ctx *c, const mc_obj *vs, const char *fqdn)
{
    const mc_node *hosts = mc_get(vs->spec, "hosts");
    MC_SEQ_EACH(hosts, i)
        if (mc_host_matches(mc_an_fqdn(c, vs->o.ns, mc_an_s(mc_item(hosts, i))), fqdn)) return mc_item(hosts, i);
    return mc_path(vs->meta, "name", NULL);
}

void mc_an_vs_mesh_hosts(mc_an_ctx *c)
{
    mc_strmap keys;
    mc_strmap_init(&keys);
    mc_an_vec order = { NULL, 0, 0 };
    mc_hostset star;
    mc_hostset_init(&star, &c->a);
    for (uint32_t v = 0; v < mc_an_count(c, MC_K_VIRTUALSERVICE); v++) {
        mc_obj *vs = mc_an_obj(c, MC_K_VIRTUALSERVICE, v);
        if (!mesh_bound(mc_get(vs->spec, "gateways"))) continue;
        const mc_node *exp = mc_get(vs->spec, "exportTo"), *hosts = mc_get(vs->spec, "hosts");
        /* scopes: '*' when exportTo is empty or has '*'; else the set of
        ** namespaces, '.' being the VirtualService's own */
        uint32_t ns;
        const char **scopes = mc_an_scopes(c, vs, exp, &ns);
        for (uint32_t s = 0; s < ns; s++)
            MC_SEQ_EACH(hosts, h) {
                const char *fq = mc_an_fqdn(c, vs->o.ns, mc_an_s(mc_item(hosts, h)));
                const char *text = mc_an_cat(c, scopes[s], '/', fq);
                bool found;
                void **slot = mc_strmap_put(&keys, text, strlen(text), &found);
                if (!found) {
                    hkey *k = mc_arena_zalloc(&c->a, sizeof *k);
                    k->scope = scopes[s];
                    k->fqdn = fq;
                    k->text = text;
                    *slot = k;
                    mc_an_vec_push(&order, k);
                    if (strcmp(scopes[s], "*") == 0) mc_hostset_add(&star, fq, k);
                }
                mc_an_vec_push(&((hkey *)*slot)->vs, vs);
            }
    }
    mc_strmap reported;
    mc_strmap_init(&reported);
    mc_an_vec list = { NULL, 0, 0 };
    for (uint32_t i = 0; i < order.n; i++) {
        hkey *k = order.v[i];
        list.n = 0;
        for (uint32_t j = 0; j < k->vs.n; j++) mc_an_vec_push(&list, k->vs.v[j]);
        if (strcmp(k->scope, "*") != 0) {
            /* a namespace-scoped key also meets every '*'-scoped key whose
            ** host Matches (wildcard-aware) */
            gather g = { &list, k };
            mc_hostset_each(&star, k->fqdn, gather_star, &g);
        }
        if (list.n < 2) continue;
        const char **names = mc_xmalloc(list.n * sizeof *names);
        for (uint32_t j = 0; j < list.n; j++) names[j] = mc_an_fullname(c, list.v[j]);
        qsort(names, list.n, sizeof *names, cmp_str);
        mc_buf b;
        mc_buf_init(&b);
        for (uint32_t j = 0; j < list.n; j++) mc_buf_printf(&b, "%s%s", j ? "," : "", names[j]);
        for (uint32_t j = 0; j < list.n; j++) {
            const mc_obj *vs = list.v[j];
            if (mc_strmap_get(&reported, (const char *)&vs->seq, sizeof vs->seq)) continue;
            *mc_strmap_put(&reported, (const char *)&vs->seq, sizeof vs->seq, NULL) = (void *)1;
            mc_an_report(c, IST0109, MC_ERROR, vs, conflict_host(c, vs, k->fqdn), mc_path(vs->meta, "name", NULL),
                         "The VirtualServices %s associated with mesh gateway define the same host %s which can lead to "
                         "undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single "
                         "resource.", b.s, k->text);
        }
        mc_buf_free(&b);
        free(names);
    }
    free(list.v);
    for (uint32_t i = 0; i < order.n; i++) free(((hkey *)order.v[i])->vs.v);
    free(order.v);
    mc_strmap_free(&reported);
    mc_hostset_free(&star);
    mc_strmap_free(&keys);
}

/* ------------------------------------------------------------ JWT claims */

/* jwt.ToRoutingClaim(key).Match */
static bool claim_key(const char *k)
{
    static const char pre[] = "@request.auth.claims";
    size_t pl = sizeof pre - 1;
    if (strlen(k) < pl || strncasecmp(k, pre, pl) != 0) return false;
    const char *r = k + pl;
    size_t rl = strlen(r);
    if (r[0] == '.' && rl > 1) return true;
    return r[0] == '[' && rl > 2 && r[rl - 1] == ']';
}

static const mc_node *claim_route(const mc_obj *vs)
{
    const mc_node *http = mc_get(vs->spec, "http");
    MC_SEQ_EACH(http, i) {
        const mc_node *match = mc_get(mc_item(http, i), "match");
        MC_SEQ_EACH(match, j) {
            static const char *const fields[] = { "headers", "withoutHeaders" };
            for (int f = 0; f < 2; f++) {
                const mc_node *h = mc_get(mc_item(match, j), fields[f]);
                MC_MAP_EACH(h, k) if (claim_key(mc_key(h, k)->u.s)) return mc_key(h, k);
            }
        }
    }
    return NULL;
}

typedef struct jwt_ctx {
    mc_an_ctx *c;
    const mc_obj *vs;
    const mc_node *key;
    const char *gw;
    mc_strmap *ra;
} jwt_ctx;

static bool ra_selects(mc_strmap *ra, const char *ns, const mc_an_pod *p)
{
    const mc_an_vec *v = mc_strmap_get(ra, ns, strlen(ns));
    for (uint32_t i = 0; v && i < v->n; i++)
        if (mc_an_labels_match(v->v[i], p->labels)) return true;
    return false;
}

static bool jwt_pod(void *ud, mc_an_pod *p)
{
    jwt_ctx *j = ud;
    if (ra_selects(j->ra, "istio-system", p) || ra_selects(j->ra, p->ns, p)) return true;
    /* the assumed gateway may well have a RequestAuthentication elsewhere */
    mc_an_report(j->c, IST0149, p->obj ? MC_ERROR : MC_WARNING, j->vs, j->key, NULL,
                 "The virtual service uses the JWT claim based routing (key: %s) but found no request "
                 "authentication for the gateway (%s) pod (%s). The request authentication must first be applied "
                 "for the gateway pods to validate the JWT token and make the claims available for routing.",
                 j->key->u.s, j->gw, p->name);
    return true;
}

void mc_an_vs_jwt_claims(mc_an_ctx *c)
{
    mc_strmap ra;
    mc_strmap_init(&ra);
    for (uint32_t i = 0; i < mc_an_count(c, MC_K_REQUESTAUTHN); i++) {
        mc_obj *o = mc_an_obj(c, MC_K_REQUESTAUTHN, i);
        mc_an_multi_add(c, &ra, o->o.ns, (void *)mc_path(o->spec, "selector", "matchLabels", NULL), false);
    }
    for (uint32_t v = 0; v < mc_an_count(c, MC_K_VIRTUALSERVICE); v++) {
        mc_obj *vs = mc_an_obj(c, MC_K_VIRTUALSERVICE, v);
        const mc_node *key = claim_route(vs);
        if (!key) continue;
        const mc_node *gws = mc_get(vs->spec, "gateways");
        MC_SEQ_EACH(gws, i) {
            const char *name = mc_an_s(mc_item(gws, i));
            if (strcmp(name, "mesh") == 0) continue;
            const char *gns, *gname;
            mc_an_short_or_full(c, vs->o.ns, name, &gns, &gname);
            mc_obj *gw = mc_an_find(c, MC_K_GATEWAY, gns, gname);
            if (!gw) continue;  /* reported by the gateway analyzer */
            jwt_ctx j = { c, vs, key, *gns ? mc_arena_printf(&c->a, "%s/%s", gns, gname) : gname, &ra };
            mc_an_pods_matching(c, mc_get(gw->spec, "selector"), jwt_pod, &j);
        }
    }
    mc_an_multi_free(&ra);
}
