/*
** analyze_svc.c -- the destinationrule.*, serviceentry.* and deprecation
** analyzers: TLS without caCertificates (IST0128, IST0129), subsets that
** select no workload and unknown hosts (IST0173, IST0174), TCP ports
** without addresses (IST0134), protocol conflicts (IST0177), deprecated
** fields (IST0002).
*/
#include "analyze_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ CA certificates */

/* ClientTLSSettings.mode as SIMPLE or MUTUAL (by name or enum number), else NULL */
static const char *verify_mode(const mc_node *tls)
{
    const mc_node *m = mc_get(tls, "mode");
    const char *s = mc_an_str(m);
    if (!s) return NULL;
    if (m->type == MC_INT) {
        int64_t v = mc_an_int(m, 0);
        return v == 1 ? "SIMPLE" : v == 2 ? "MUTUAL" : NULL;
    }
    return strcmp(s, "SIMPLE") == 0 ? "SIMPLE" : strcmp(s, "MUTUAL") == 0 ? "MUTUAL" : NULL;
}

static bool unverified(const mc_node *tls, bool selector)
{
    if (*mc_an_s(mc_get(tls, "caCertificates"))) return false;
    return !(*mc_an_s(mc_get(tls, "credentialName")) && selector);
}

/* PortSelector.String() as protobuf-go's text format prints it */
static const char *port_selector(mc_an_ctx *c, const mc_node *port)
{
    if (!mc_an_set(port)) return "<nil>";
    uint32_t n = (uint32_t)mc_an_int(mc_get(port, "number"), 0);
    return n ? mc_arena_printf(&c->a, "number:%u", n) : "";
}

void mc_an_dr_ca_certificates(mc_an_ctx *c)
{
    for (uint32_t i = 0; i < mc_an_count(c, MC_K_DESTINATIONRULE); i++) {
        mc_obj *dr = mc_an_obj(c, MC_K_DESTINATIONRULE, i);
        const mc_node *tp = mc_get(dr->spec, "trafficPolicy"), *tls = mc_get(tp, "tls");
        bool sel = mc_an_set(mc_get(dr->spec, "workloadSelector"));
        const char *host = mc_an_s(mc_get(dr->spec, "host"));
        const char *mode = verify_mode(tls);
        if (mode && unverified(tls, sel))
            mc_an_report(c, IST0128, MC_WARNING, dr, mc_get(tls, "mode"), mc_get(tls, "caCertificates"),
                         "DestinationRule %s in namespace %s has TLS mode set to %s but no caCertificates are set to "
                         "validate server identity for host: %s", mc_an_fullname(c, dr), dr->o.ns, mode, host);
        const mc_node *pls = mc_get(tp, "portLevelSettings");
        MC_SEQ_EACH(pls, j) {
            const mc_node *p = mc_item(pls, j), *ptls = mc_get(p, "tls");
            if (!(mode = verify_mode(ptls)) || !unverified(ptls, sel)) continue;
            mc_an_report(c, IST0129, MC_WARNING, dr, mc_get(ptls, "mode"), mc_get(ptls, "caCertificates"),
                         "DestinationRule %s in namespace %s has TLS mode set to %s but no caCertificates are set to "
                         "validate server identity for host: %s at port %s", mc_an_fullname(c, dr), dr->o.ns, mode,
                         host, port_selector(c, mc_get(p, "port")));
        }
    }
}

/* ------------------------------------------------------------ subsets */

#define LBL_REGION  "topology.kubernetes.io/region"
#define LBL_ZONE    "topology.kubernetes.io/zone"
#define LBL_SUBZONE "topology.istio.io/subzone"
#define LBL_HOST    "kubernetes.io/hostname"

/* Labels pilot gives an endpoint (label.AugmentLabels): the pod's, with the
** locality of its Node (round-tripped through LocalityToString) and the
** node name. */
typedef struct topo { const char *v[4]; } topo;   /* region, zone, subzone, hostname */
static const char *const topo_keys[4] = { LBL_REGION, LBL_ZONE, LBL_SUBZONE, LBL_HOST };

static topo pod_topo(mc_an_ctx *c, const mc_an_pod *p)
{
    topo t = { { NULL, NULL, NULL, NULL } };
    if (!p->node) return t;
    t.v[3] = p->node;
    mc_obj *node = mc_an_find(c, MC_K_NODE, "", p->node);
    if (!node) return t;
    const mc_node *l = mc_get(node->meta, "labels");
    const char *r = mc_an_label_text(mc_get(l, LBL_REGION)), *z = mc_an_label_text(mc_get(l, LBL_ZONE));
    const char *s = mc_an_label_text(mc_get(l, LBL_SUBZONE));
    r = r ? r : "";
    z = z ? z : "";
    s = s ? s : "";
    const char *loc = !*z ? r : !*s ? mc_arena_printf(&c->a, "%s/%s", r, z) : mc_arena_printf(&c->a, "%s/%s/%s", r, z, s);
    /* SplitLocalityLabel: '/'-separated parts 0, 1, 2 */
    const char *p0 = loc;
    for (int i = 0; i < 3 && p0; i++) {
        const char *e = strchr(p0, '/');
        char *part = e ? mc_arena_strndup(&c->a, p0, (size_t)(e - p0)) : mc_arena_strdup(&c->a, p0);
        if (*part) t.v[i] = part;
        p0 = e ? e + 1 : NULL;
    }
    return t;
}

typedef struct subset_pods {
    mc_an_ctx *c;
    topo *topo;                 /* per pod */
    mc_strmap idx;              /* "key\x1fvalue" -> mc_an_vec of pod index + 1 */
} subset_pods;

static const char *eff_label(const subset_pods *sp, uint32_t i, const char *key)
{
    for (int k = 0; k < 4; k++)
        if (sp->topo[i].v[k] && strcmp(key, topo_keys[k]) == 0) return sp->topo[i].v[k];
    return mc_an_label_text(mc_get(sp->c->pods[i].labels, key));
}

static void idx_add(subset_pods *sp, const char *k, const char *v, uint32_t i)
{
    mc_an_multi_add(sp->c, &sp->idx, mc_an_cat(sp->c, k, '\x1f', v), (void *)(uintptr_t)(i + 1), true);
}

static void index_pods(subset_pods *sp)
{
    mc_an_ctx *c = sp->c;
    sp->topo = mc_xcalloc(c->npods ? c->npods : 1, sizeof *sp->topo);
    mc_strmap_init(&sp->idx);
    for (uint32_t i = 0; i < c->npods; i++) {
        sp->topo[i] = pod_topo(c, &c->pods[i]);
        const mc_node *l = c->pods[i].labels;
        MC_MAP_EACH(l, j) {
            const char *k = mc_key(l, j)->u.s;
            const char *v = eff_label(sp, i, k);
            if (v) idx_add(sp, k, v, i);
        }
        for (int k = 0; k < 4; k++)
            if (sp->topo[i].v[k] && !mc_get(l, topo_keys[k])) idx_add(sp, topo_keys[k], sp->topo[i].v[k], i);
    }
}

/* The value a merged selector (workloadSelector labels, then subset
** labels) wants for key, or NULL when the key is not in it. */
static const char *want(const mc_node *wl, const mc_node *sub, const char *key)
{
    const mc_node *v = mc_get(sub, key);
    if (!v) v = mc_get(wl, key);
    return v ? mc_an_label_text(v) : NULL;
}

static bool pair_ok(const subset_pods *sp, uint32_t i, const char *k, const char *w)
{
    const char *have = eff_label(sp, i, k);
    return w && have && strcmp(w, have) == 0;
}

static bool selects_any(subset_pods *sp, const mc_node *wl, const mc_node *sub)
{
    mc_an_ctx *c = sp->c;
    const mc_an_vec *best = NULL;
    const mc_node *maps[2] = { wl, sub };
    for (int m = 0; m < 2; m++)
        MC_MAP_EACH(maps[m], i) {
            const char *k = mc_key(maps[m], i)->u.s, *w = want(wl, sub, k);
            if (!w) return false;
            const char *key = mc_an_cat(c, k, '\x1f', w);
            const mc_an_vec *v = mc_strmap_get(&sp->idx, key, strlen(key));
            if (!v) return false;
            if (!best || v->n < best->n) best = v;
        }
    if (!best) return c->npods > 0;     /* no labels: any pod */
    for (uint32_t j = 0; j < best->n; j++) {
        uint32_t i = (uint32_t)(uintptr_t)best->v[j] - 1;
        bool ok = true;
        for (int m = 0; m < 2 && ok; m++)
            MC_MAP_EACH(maps[m], t) {
                const char *k = mc_key(maps[m], t)->u.s;
                if (!(ok = pair_ok(sp, i, k, want(wl, sub, k)))) break;
            }
        if (ok) return true;
    }
    return false;
}

void mc_an_dr_subsets(mc_an_ctx *c)
{
    subset_pods sp = { c, NULL, { NULL, 0, 0 } };
    bool indexed = false;
    for (uint32_t i = 0; i < mc_an_count(c, MC_K_DESTINATIONRULE); i++) {
        mc_obj *dr = mc_an_obj(c, MC_K_DESTINATIONRULE, i);
        const mc_node *hostn = mc_get(dr->spec, "host");
        const char *host = mc_an_s(hostn);
        const mc_an_svc *se = mc_an_dest_host(c, dr->o.ns, mc_get(dr->spec, "exportTo"), host);
        if (!se) {
            mc_an_report(c, IST0174, MC_WARNING, dr, hostn, NULL,
                         "The host %s defined in the DestinationRule does not match any services in the mesh.", host);
            continue;
        }
        /* no workloads in the inputs: nothing to say about subsets */
        if (!c->have_workloads) continue;
        const mc_node *subsets = mc_get(dr->spec, "subsets");
        if (mc_len(subsets) == 0) continue;
        if (!indexed) { index_pods(&sp); indexed = true; }
        /* a later subset of the same name replaces an earlier one */
        mc_strmap last;
        mc_strmap_init(&last);
        MC_SEQ_EACH(subsets, j) {
            const char *n = mc_an_s(mc_get(mc_item(subsets, j), "name"));
            *mc_strmap_put(&last, n, strlen(n), NULL) = (void *)(uintptr_t)(j + 1);
        }
        MC_SEQ_EACH(subsets, j) {
            const mc_node *ss = mc_item(subsets, j), *name = mc_get(ss, "name");
            const mc_node *labels = mc_get(ss, "labels");
            const char *n = mc_an_s(name);
            if ((uintptr_t)mc_strmap_get(&last, n, strlen(n)) != j + 1) continue;
            if (selects_any(&sp, se->wl_labels, labels)) continue;
            mc_an_report(c, IST0173, MC_ERROR, dr, name ? name : ss, NULL,
                         "The Subset %s defined in the DestinationRule does not select any pods. Which may lead to 503 "
                         "UH (NoHealthyUpstream).", mc_an_s(name));
        }
        mc_strmap_free(&last);
    }
    if (indexed) {
        mc_an_multi_free(&sp.idx);
        free(sp.topo);
    }
}

/* ------------------------------------------------------------ addresses */

void mc_an_se_addresses(mc_an_ctx *c)
{
    if (c->mesh_autoalloc) return;
    for (uint32_t i = 0; i < mc_an_count(c, MC_K_SERVICEENTRY); i++) {
        mc_obj *se = mc_an_obj(c, MC_K_SERVICEENTRY, i);
        /* an empty list decodes to nil, as no list */
        if (mc_len(mc_get(se->spec, "addresses")) > 0) continue;
        if (mc_len(mc_path(se->root, "status", "addresses", NULL)) > 0) continue;
        const mc_node *ports = mc_get(se->spec, "ports");
        MC_SEQ_EACH(ports, j) {
            const mc_node *p = mc_item(ports, j), *proto = mc_get(p, "protocol");
            const char *ps = mc_an_s(proto);
            if (*ps && strcasecmp(ps, "TCP") != 0) continue;
            mc_an_report(c, IST0134, MC_WARNING, se, proto ? proto : p, mc_get(p, "name"),
                         "ServiceEntry addresses are required for this protocol.");
        }
    }
}

/* ------------------------------------------------------------ protocols */

typedef struct proto_ent { const char *proto; const mc_obj *se; const mc_node *at; } proto_ent;
typedef struct proto_key { const char *scope, *host; uint32_t port; mc_an_vec ents; } proto_key;

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *upper(mc_an_ctx *c, const char *s)
{
    char *u = mc_arena_strdup(&c->a, s);
    for (char *p = u; *p; p++) *p = (char)toupper((unsigned char)*p);
    return u;
}

/* sorted distinct strings joined with ", " */
static const char *join_set(mc_an_ctx *c, const char **v, uint32_t n)
{
    qsort(v, n, sizeof *v, cmp_cstr);
    mc_buf b;
    mc_buf_init(&b);
    for (uint32_t i = 0, k = 0; i < n; i++) {
        if (i && strcmp(v[i], v[i - 1]) == 0) continue;
        mc_buf_printf(&b, "%s%s", k++ ? ", " : "", v[i]);
    }
    const char *r = mc_arena_strdup(&c->a, b.s ? b.s : "");
    mc_buf_free(&b);
    return r;
}

void mc_an_se_protocols(mc_an_ctx *c)
{
    mc_strmap keys;
    mc_strmap_init(&keys);
    mc_an_vec order = { NULL, 0, 0 };
    for (uint32_t i = 0; i < mc_an_count(c, MC_K_SERVICEENTRY); i++) {
        mc_obj *se = mc_an_obj(c, MC_K_SERVICEENTRY, i);
        const mc_node *exp = mc_get(se->spec, "exportTo"), *hosts = mc_get(se->spec, "hosts");
        const mc_node *ports = mc_get(se->spec, "ports");
        uint32_t ns;
        const char **scopes = mc_an_scopes(c, se, exp, &ns);
        for (uint32_t s = 0; s < ns; s++)
            MC_SEQ_EACH(hosts, h) {
                const char *host = mc_an_s(mc_item(hosts, h));
                MC_SEQ_EACH(ports, p) {
                    const mc_node *pn = mc_item(ports, p);
                    uint32_t num = (uint32_t)mc_an_int(mc_get(pn, "number"), 0);
                    const char *k = mc_an_cat(c, mc_an_cat(c, scopes[s], '\x1f', host), '\x1f', mc_an_u32(c, num));
                    bool found;
                    void **slot = mc_strmap_put(&keys, k, strlen(k), &found);
                    if (!found) {
                        proto_key *pk = mc_arena_zalloc(&c->a, sizeof *pk);
                        pk->scope = scopes[s];
                        pk->host = host;
                        pk->port = num;
                        *slot = pk;
                        mc_an_vec_push(&order, pk);
                    }
                    proto_ent *e = mc_arena_alloc(&c->a, sizeof *e);
                    const mc_node *proto = mc_get(pn, "protocol");
                    e->proto = upper(c, mc_an_s(proto));
                    e->se = se;
                    e->at = proto ? proto : pn;
                    mc_an_vec_push(&((proto_key *)*slot)->ents, e);
                }
            }
    }
    mc_strmap reported;
    mc_strmap_init(&reported);
    mc_an_vec ents = { NULL, 0, 0 };
    for (uint32_t i = 0; i < order.n; i++) {
        proto_key *k = order.v[i];
        ents.n = 0;
        for (uint32_t j = 0; j < k->ents.n; j++) mc_an_vec_push(&ents, k->ents.v[j]);
        if (strcmp(k->scope, "*") != 0) {
            const char *sk = mc_an_cat(c, mc_an_cat(c, "*", '\x1f', k->host), '\x1f', mc_an_u32(c, k->port));
            const proto_key *star = mc_strmap_get(&keys, sk, strlen(sk));
            for (uint32_t j = 0; star && j < star->ents.n; j++) mc_an_vec_push(&ents, star->ents.v[j]);
        }
        bool differ = false;
        for (uint32_t j = 1; j < ents.n && !differ; j++)
            differ = strcmp(((proto_ent *)ents.v[j])->proto, ((proto_ent *)ents.v[0])->proto) != 0;
        if (!differ) continue;
        const char **names = mc_xmalloc(ents.n * sizeof *names), **protos = mc_xmalloc(ents.n * sizeof *protos);
        for (uint32_t j = 0; j < ents.n; j++) {
            names[j] = mc_an_fullname(c, ((proto_ent *)ents.v[j])->se);
            protos[j] = ((proto_ent *)ents.v[j])->proto;
        }
        const char *ns_list = join_set(c, names, ents.n), *p_list = join_set(c, protos, ents.n);
        for (uint32_t j = 0; j < ents.n; j++) {
            const proto_ent *e = ents.v[j];
            if (mc_strmap_get(&reported, (const char *)&e->se->seq, sizeof e->se->seq)) continue;
            *mc_strmap_put(&reported, (const char *)&e->se->seq, sizeof e->se->seq, NULL) = (void *)1;
            mc_an_report(c, IST0177, MC_WARNING, e->se, e->at, mc_path(e->se->meta, "name", NULL),
                         "Multiple ServiceEntries (%s) define the same host %s and port %u with conflicting protocols (%s).",
                         ns_list, mc_an_q(c, k->host), k->port, p_list);
        }
        free(names);
        free(protos);
    }
    free(ents.v);
    for (uint32_t i = 0; i < order.n; i++) free(((proto_key *)order.v[i])->ents.v);
    free(order.v);
    mc_strmap_free(&reported);
    mc_strmap_free(&keys);
}

/* ------------------------------------------------------------ deprecation */

void mc_an_deprecation(mc_an_ctx *c)
{
    for (uint32_t i = 0; i < mc_an_count(c, MC_K_VIRTUALSERVICE); i++) {
        mc_obj *vs = mc_an_obj(c, MC_K_VIRTUALSERVICE, i);
        const mc_node *http = mc_get(vs->spec, "http");
        MC_SEQ_EACH(http, j) {
            const mc_node *pct = mc_path(mc_item(http, j), "fault", "delay", "percent", NULL);
            if (mc_an_int(pct, 0) > 0)
                mc_an_report(c, IST0002, MC_WARNING, vs, pct, NULL, "Deprecated: %s is deprecated; use %s",
                             "HTTPRoute.fault.delay.percent", "HTTPRoute.fault.delay.percentage");
        }
    }
    for (uint32_t i = 0; i < mc_an_count(c, MC_K_SIDECAR); i++) {
        mc_obj *sc = mc_an_obj(c, MC_K_SIDECAR, i);
        const mc_node *otp = mc_get(sc->spec, "outboundTrafficPolicy");
        if (mc_an_set(otp) && mc_an_set(mc_get(otp, "egressProxy")))
            mc_an_report(c, IST0002, MC_WARNING, sc, mc_get_key(otp, "egressProxy"), NULL, "Deprecated: %s ignored",
                         "OutboundTrafficPolicy.EgressProxy");
    }
}
