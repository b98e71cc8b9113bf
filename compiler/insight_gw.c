/*
** insight_gw.c -- IR checks per VirtualService and gateway, per listener,
** and per destination:
**   MSH0601 rule dead on a gateway     MSH0602 match port not on the gateway
**   MSH0604 VirtualService idle there  MSH0605 http routes on an L4-only host
**   MSH0606 tls/tcp routes, no L4 server  MSH0607 PASSTHROUGH host unrouted
**   MSH0608 TCP server unrouted        MSH0609 SNI routed twice
**   MSH0615 destination cluster missing (503 NC)
**   MSH0616 destination without endpoints (503 UH)
**
** The evidence is positive: which rules and matches of a VirtualService
** produced a route row or a filter chain on a gateway, in any WORKLOAD view
** that holds it. A rule without any is explained from its matches and the
** gateway's servers that share the VirtualService's hosts; when the reason
** cannot be named, nothing is reported.
*/
#include "insight_int.h"
#include "host.h"
#include "image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ evidence */

typedef struct ev {
    bool served;
    uint8_t *http_entry, *http_match;   /* rows per http rule / per match (flat) */
    uint8_t *tls_entry, *tls_match;
    uint8_t *tcp_entry;
} ev;

typedef struct gw_ctx {
    in_ctx *c;
    mc_strmap ev;               /* (mc_vs*, in_gw*) -> ev* */
    mc_strmap vs_of;            /* mc_obj* -> mc_vs* of the IR */
    mc_strmap dropped;          /* node* of dropped entries/servers -> drop */
    mc_strmap offsets;          /* mc_vs* -> uint32_t[] flat match offsets (http, then tls) */
} gw_ctx;

static void *ptr_get(const mc_strmap *m, const void *p)
{
    return mc_strmap_get(m, (const char *)&p, sizeof p);
}

static void ptr_put(in_ctx *c, mc_strmap *m, const void *p, void *val)
{
    const void **k = mc_arena_alloc(&c->a, sizeof *k);
    *k = p;
    *mc_strmap_put(m, (const char *)k, sizeof *k, NULL) = val;
}

/* flat index of the first match of each http rule, then of each tls rule */
static const uint32_t *offsets(gw_ctx *x, const mc_vs *vs)
{
    uint32_t *o = ptr_get(&x->offsets, vs);
    if (o) return o;
    o = mc_arena_alloc(&x->c->a, (vs->nhttp + vs->ntls + 2) * sizeof *o);
    uint32_t n = 0;
    for (uint32_t i = 0; i < vs->nhttp; i++) { o[i] = n; n += vs->http[i].nmatches; }
    o[vs->nhttp] = n;
    n = 0;
    for (uint32_t i = 0; i < vs->ntls; i++) { o[vs->nhttp + 1 + i] = n; n += vs->tls[i].nmatches; }
    o[vs->nhttp + 1 + vs->ntls] = n;
    ptr_put(x->c, &x->offsets, vs, o);
    return o;
}

static ev *ev_get(gw_ctx *x, const mc_vs *vs, const in_gw *g)
{
    const void *key[2] = { vs, g };
    ev *e = mc_strmap_get(&x->ev, (const char *)key, sizeof key);
    if (e) return e;
    in_ctx *c = x->c;
    const uint32_t *o = offsets(x, vs);
    e = mc_arena_zalloc(&c->a, sizeof *e);
    e->http_entry = mc_arena_zalloc(&c->a, vs->nhttp + 1);
    e->http_match = mc_arena_zalloc(&c->a, o[vs->nhttp] + 1);
    e->tls_entry = mc_arena_zalloc(&c->a, vs->ntls + 1);
    e->tls_match = mc_arena_zalloc(&c->a, o[vs->nhttp + 1 + vs->ntls] + 1);
    e->tcp_entry = mc_arena_zalloc(&c->a, vs->ntcp + 1);
    const void **k = mc_arena_alloc(&c->a, sizeof key);
    k[0] = vs;
    k[1] = g;
    *mc_strmap_put(&x->ev, (const char *)k, sizeof key, NULL) = e;
    return e;
}

static void row_evidence(gw_ctx *x, const mc_ir_route *r)
{
    const mc_http_route *h = r->http;
    in_gw *g = in_gateway(x->c, r->gw);
    if (!h || !g) return;
    const mc_vs *vs = h->vs;
    ev *e = ev_get(x, vs, g);
    e->served = true;
    uint32_t i = (uint32_t)(h - vs->http);
    e->http_entry[i] = 1;
    if (r->match) e->http_match[offsets(x, vs)[i] + (uint32_t)(r->match - h->matches)] = 1;
}

static void chain_evidence(gw_ctx *x, const mc_ir_chain *ch)
{
    if (!ch->vs || !ch->entry || !ch->server) return;
    in_gw *g = in_gateway(x->c, in_name(x->c, ch->server->gateway));
    if (!g) return;
    const mc_vs *vs = ch->vs;
    ev *e = ev_get(x, vs, g);
    e->served = true;
    if (ch->entry_kind == IMG_ENTRY_TLS) {
        uint32_t i = (uint32_t)(ch->entry - vs->tls);
        e->tls_entry[i] = 1;
        if (ch->match) e->tls_match[offsets(x, vs)[vs->nhttp + 1 + i] + (uint32_t)(ch->match - ch->entry->matches)] = 1;
    } else {
        e->tcp_entry[ch->entry - vs->tcp] = 1;
    }
}

#define EACH_WORKLOAD_VIEW(ir, v) \
    for (mc_ir_view *v = (ir)->views; v < (ir)->views + (ir)->nviews; v++) if (v->kind == IMG_VIEW_WORKLOAD)

static void gather(gw_ctx *x)
{
    mc_ir *ir = x->c->ir;
    EACH_WORKLOAD_VIEW(ir, v)
        for (uint32_t l = 0; l < v->nlisteners; l++) {
            const mc_ir_listener *li = &v->listeners[l];
            for (uint32_t k = 0; k < li->nchains; k++) {
                const mc_ir_chain *ch = &li->chains[k];
                if (ch->kind == IMG_CHAIN_HTTP && ch->routes) {
                    const mc_ir_route_table *t = ch->routes;
                    for (uint32_t h = 0; h < t->nvhosts; h++)
                        for (uint32_t r = 0; r < t->vhosts[h].nroutes; r++) row_evidence(x, t->vhosts[h].routes[r]);
                } else {
                    chain_evidence(x, ch);
                }
            }
        }
    for (size_t i = 0; i < ir->drops.n; i++) {
        const mc_ir_drop *d = &MC_VEC_AT(&ir->drops, mc_ir_drop, i);
        if (d->at) ptr_put(x->c, &x->dropped, d->at, (void *)d);
    }
    for (uint32_t i = 0; i < ir->nvs; i++) ptr_put(x->c, &x->vs_of, ir->vs[i].obj, &ir->vs[i]);
}

/* ------------------------------------------------------------ servers a VirtualService reaches */

/* what a VirtualService reaches on a gateway, and whether every server it
** reaches lost a conflict with another server (a lowering drop) */
typedef struct reach {
    in_reach r;
    bool all_dropped;
    gw_ctx *x;
} reach;

static int slot_of(int cls) { return in_reach_slot(cls); }

static bool on_srv(void *ud, const char *host, void *val)
{
    (void)host;
    reach *r = ud;
    const in_srv *s = val;
    in_reach_add(&r->r, s);
    const mc_ir_drop *d = ptr_get(&r->x->dropped, s->node);
    if (!d) d = ptr_get(&r->x->dropped, in_get(s->node, "hosts"));
    if (!d || (d->reason != MC_DROP_SERVER_CONFLICT && d->reason != MC_DROP_SERVER_DUPLICATE_HOST)) r->all_dropped = false;
    return true;
}

/* "port 80", "ports 80 and 443" */
static const char *ports_phrase(in_ctx *c, const reach *r, int cls);

static const in_srv *any_server(const reach *r)
{
    return r->r.first[0] ? r->r.first[0] : r->r.first[1] ? r->r.first[1] : r->r.first[2];
}

static bool port_in(const reach *r, int cls, uint32_t p)
{
    return in_reach_port(&r->r, cls, p);
}

static const char *ports_text(in_ctx *c, const reach *r, int cls)
{
    int k = slot_of(cls);
    mc_buf b;
    mc_buf_init(&b);
    for (uint32_t i = 0; i < r->r.nports[k]; i++)
        mc_buf_printf(&b, "%s%u", i ? (i + 1 == r->r.nports[k] ? " and " : ", ") : "", r->r.ports[k][i]);
    const char *s = mc_arena_strdup(&c->a, b.s ? b.s : "no port");
    mc_buf_free(&b);
    return s;
}

static const char *ports_phrase(in_ctx *c, const reach *r, int cls)
{
    return mc_arena_printf(&c->a, "%s %s", r->r.nports[slot_of(cls)] == 1 ? "port" : "ports", ports_text(c, r, cls));
}

/* the gateways[] item of the VirtualService that names g */
static const mc_node *gateway_ref(in_ctx *c, const in_vs *v, const in_gw *g)
{
    const mc_node *gws = in_seq(v->obj->spec, "gateways");
    MC_SEQ_EACH(gws, i) {
        const char *r = mc_text(mc_item(gws, i));
        if (r && strcmp(r, "mesh") && strcmp(mc_gateway_ref(&c->a, r, v->obj->o.ns), g->ref) == 0) return mc_item(gws, i);
    }
    return gws;
}

static bool match_on(const char *const *gws, uint32_t n, const in_gw *g)
{
    if (!n) return true;
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(gws[i], g->ref) == 0) return true;
    return false;
}

/* ------------------------------------------------------------ per VirtualService and gateway */

enum { WHY_OK, WHY_GATEWAYS, WHY_PORT, WHY_SOURCE, WHY_UNKNOWN };

static int http_match_why(const mc_http_match *m, const in_gw *g, const reach *r)
{
    if (!match_on(m->gateways, m->ngateways, g)) return WHY_GATEWAYS;
    if (m->port && !port_in(r, IN_HTTP, m->port)) return WHY_PORT;
    if (m->nsource_labels || (m->source_namespace && *m->source_namespace)) return WHY_SOURCE;
    return WHY_UNKNOWN;
}

static int l4_match_why(const mc_l4_match *m, const in_gw *g, const reach *r, int cls)
{
    if (!match_on(m->gateways, m->ngateways, g)) return WHY_GATEWAYS;
    if (m->port && !port_in(r, cls, m->port)) return WHY_PORT;
    return WHY_UNKNOWN;
}

static const char *section_name(int cls) { return cls == IN_HTTP ? "http" : cls == IN_PT ? "tls" : "tcp"; }

/* A rule none of whose matches made it to g: named reasons only. */
static void dead_rule(in_ctx *c, const in_vs *v, const in_gw *g, const reach *r, int cls, uint32_t idx,
                      const mc_node *node, const int *why, const mc_node *const *mnodes, const uint32_t *ports, uint32_t n)
{
    bool port = false, source = false, mesh_port = false;
    for (uint32_t j = 0; j < n; j++) {
        if (why[j] == WHY_UNKNOWN || why[j] == WHY_OK) return;
        port = port || why[j] == WHY_PORT;
        /* a port of the hosts' services, on a VirtualService the mesh uses
        ** too, is most likely meant for sidecars */
        mesh_port = mesh_port || (why[j] == WHY_PORT && v->mesh && in_service_port(c, v, ports[j]));
        /* source conditions on a VirtualService the mesh uses too select
        ** sidecar clients, on purpose */
        source = source || (why[j] == WHY_SOURCE && !v->mesh);
    }
    if (!port && !source) return;       /* meant for other gateways or clients */
    mc_buf b;
    mc_buf_init(&b);
    for (uint32_t j = 0; j < n; j++) {
        if (j) mc_buf_puts(&b, "; ");
        if (why[j] == WHY_PORT) mc_buf_printf(&b, "match[%u] names port %u", j, ports[j]);
        else if (why[j] == WHY_SOURCE) mc_buf_printf(&b, "match[%u] requires sourceLabels or sourceNamespace the gateway's workload lacks", j);
        else mc_buf_printf(&b, "match[%u] is for other gateways", j);
    }
    bool shown = in_report(c, MSH0601, port && !mesh_port ? MC_WARNING : MC_INFO, v->obj, node,
        "%s[%u] never applies on gateway %s: %s; the gateway serves this VirtualService's hosts on %s",
        section_name(cls), idx, g->ref, b.s, ports_phrase(c, r, cls));
    mc_buf_free(&b);
    if (shown) {
        for (uint32_t j = 0; j < n; j++)
            if (why[j] == WHY_PORT) { mc_diag_note(in_get(mnodes[j], "port"), "match[%u] port", j); break; }
        if (r->r.first[slot_of(cls)]) mc_diag_note(r->r.first[slot_of(cls)]->node, "a server of gateway %s for these hosts", g->ref);
    }
}

static void dead_port(in_ctx *c, const in_vs *v, const in_gw *g, const reach *r, int cls, const mc_node *m, uint32_t port)
{
    bool mesh = v->mesh && in_service_port(c, v, port);    /* see dead_rule */
    if (in_report(c, MSH0602, mesh ? MC_INFO : MC_WARNING, v->obj, in_get(m, "port") ? in_get(m, "port") : m,
            "match port %u: gateway %s serves this VirtualService's hosts on %s only, so this match never applies "
            "there (the rule's other matches do)", port, g->ref, ports_phrase(c, r, cls)) && r->r.first[slot_of(cls)])
        mc_diag_note(r->r.first[slot_of(cls)]->node, "a server of gateway %s for these hosts", g->ref);
}

static bool after_catch_all(gw_ctx *x, const mc_node *n)
{
    const mc_ir_drop *d = ptr_get(&x->dropped, n);
    return d && d->reason == MC_DROP_AFTER_CATCH_ALL;
}

static bool sni_duplicate(gw_ctx *x, const mc_l4_match *m)
{
    const mc_ir_drop *d = ptr_get(&x->dropped, in_get(m->node, "sniHosts"));
    if (!d) d = ptr_get(&x->dropped, m->node);
    return d && d->reason == MC_DROP_SNI_DUPLICATE;
}

static void http_rules(gw_ctx *x, const in_vs *v, const mc_vs *vs, const in_gw *g, const reach *r, const ev *e)
{
    const uint32_t *o = offsets(x, vs);
    for (uint32_t i = 0; i < vs->nhttp; i++) {
        const mc_http_route *h = &vs->http[i];
        if (h->delegate || !h->nmatches || after_catch_all(x, h->node)) continue;
        if (!e->http_entry[i]) {
            int why[64];
            const mc_node *nodes[64];
            uint32_t ports[64], n = h->nmatches < 64 ? h->nmatches : 64;
            for (uint32_t j = 0; j < n; j++) {
                why[j] = after_catch_all(x, h->matches[j].node) ? WHY_UNKNOWN : http_match_why(&h->matches[j], g, r);
                nodes[j] = h->matches[j].node;
                ports[j] = h->matches[j].port;
            }
            if (n == h->nmatches) dead_rule(x->c, v, g, r, IN_HTTP, h->index, h->node, why, nodes, ports, n);
            continue;
        }
        for (uint32_t j = 0; j < h->nmatches; j++) {
            const mc_http_match *m = &h->matches[j];
            if (e->http_match[o[i] + j] || after_catch_all(x, m->node)) continue;
            if (http_match_why(m, g, r) == WHY_PORT) dead_port(x->c, v, g, r, IN_HTTP, m->node, m->port);
        }
    }
}

static void l4_rules(gw_ctx *x, const in_vs *v, const mc_vs *vs, const in_gw *g, const reach *r, const ev *e, int cls)
{
    const mc_l4_route *rules = cls == IN_PT ? vs->tls : vs->tcp;
    uint32_t nr = cls == IN_PT ? vs->ntls : vs->ntcp;
    const uint32_t *o = offsets(x, vs);
    for (uint32_t i = 0; i < nr; i++) {
        const mc_l4_route *t = &rules[i];
        if (!t->ndests || !t->nmatches) continue;
        bool served = cls == IN_PT ? e->tls_entry[i] : e->tcp_entry[i];
        int why[64];
        const mc_node *nodes[64];
        uint32_t ports[64], n = t->nmatches < 64 ? t->nmatches : 64;
        for (uint32_t j = 0; j < n; j++) {
            const mc_l4_match *m = &t->matches[j];
            why[j] = cls == IN_PT && sni_duplicate(x, m) ? WHY_UNKNOWN : l4_match_why(m, g, r, cls);
            nodes[j] = m->node;
            ports[j] = m->port;
            bool mserved = cls == IN_PT && e->tls_match[o[vs->nhttp + 1 + i] + j];
            if (served && !mserved && why[j] == WHY_PORT) dead_port(x->c, v, g, r, cls, m->node, m->port);
        }
        if (!served && n == t->nmatches) dead_rule(x->c, v, g, r, cls, t->index, t->node, why, nodes, ports, n);
    }
}

static bool visible_in(const mc_vs *vs, const mc_ir_view *view)
{
    if (vs->export_public) return true;
    if (vs->export_none) return false;
    for (uint32_t i = 0; i < vs->nexport_ns; i++)
        if (strcmp(vs->export_ns[i], view->ns) == 0) return true;
    return false;
}

static bool view_has(const mc_ir_view *view, const mc_obj *g)
{
    for (uint32_t i = 0; i < view->ngateways; i++)
        if (view->gateways[i] == g) return true;
    return false;
}

/* Why nothing of the VirtualService reached the gateway, when it can be said. */
static void idle(gw_ctx *x, const in_vs *v, const mc_vs *vs, const in_gw *g, const reach *r)
{
    in_ctx *c = x->c;
    bool http = vs->nhttp, tls = vs->ntls, tcp = vs->ntcp;
    if (r->all_dropped) {
        if (in_report(c, MSH0604, MC_WARNING, v->obj, gateway_ref(c, v, g),
                "VirtualService %s routes nothing on gateway %s: the gateway's servers for its hosts lose a conflict "
                "with other servers on the same port, so requests for them get 404 NR or a closed connection",
                in_name(c, v->obj), g->ref) && any_server(r))
            mc_diag_note(any_server(r)->node, "a server of gateway %s for these hosts", g->ref);
        return;
    }
    bool usable = (http && (r->r.cls & IN_HTTP)) || (tls && (r->r.cls & IN_PT)) || (tcp && (r->r.cls & IN_TCP));
    if (!usable) return;    /* the protocol findings say why */
    /* every rule's matches are dropped: name the reasons when all are known */
    mc_buf b;
    mc_buf_init(&b);
    bool known = true;
    for (uint32_t i = 0; i < vs->nhttp && known; i++) {
        const mc_http_route *h = &vs->http[i];
        if (!h->nmatches || h->delegate) { known = false; break; }
        for (uint32_t j = 0; j < h->nmatches && known; j++) {
            int w = http_match_why(&h->matches[j], g, r);
            if (w == WHY_UNKNOWN) known = false;
            else if (w == WHY_PORT) mc_buf_printf(&b, "%shttp[%u].match[%u] port %u", b.n ? ", " : "", h->index, j, h->matches[j].port);
        }
    }
    for (int s = 0; s < 2 && known; s++) {
        const mc_l4_route *rules = s ? vs->tcp : vs->tls;
        uint32_t n = s ? vs->ntcp : vs->ntls;
        for (uint32_t i = 0; i < n && known; i++) {
            if (!rules[i].nmatches) { known = rules[i].ndests == 0 || s == 0; continue; }
            for (uint32_t j = 0; j < rules[i].nmatches && known; j++) {
                int w = l4_match_why(&rules[i].matches[j], g, r, s ? IN_TCP : IN_PT);
                if (w == WHY_UNKNOWN) known = false;
                else if (w == WHY_PORT) mc_buf_printf(&b, "%s%s[%u].match[%u] port %u", b.n ? ", " : "", s ? "tcp" : "tls", i, j, rules[i].matches[j].port);
            }
        }
    }
    if (known && b.n) {
        int cls = http ? IN_HTTP : tls ? IN_PT : IN_TCP;
        if (in_report(c, MSH0604, MC_WARNING, v->obj, gateway_ref(c, v, g),
                "VirtualService %s routes nothing on gateway %s: every match is dropped there (%s), and the gateway "
                "serves its hosts on %s; requests for them get 404 NR or a closed connection",
                in_name(c, v->obj), g->ref, b.s, ports_phrase(c, r, cls)) && r->r.first[slot_of(cls)])
            mc_diag_note(r->r.first[slot_of(cls)]->node, "a server of gateway %s for these hosts", g->ref);
    }
    mc_buf_free(&b);
}

static void protocol(in_ctx *c, const in_vs *v, const mc_vs *vs, const in_gw *g, const reach *all, const reach *per)
{
    if (vs->nhttp)
        for (uint32_t i = 0; i < v->nhosts; i++) {
            int k = per[i].r.cls;
            if (!k || (k & IN_HTTP) || !(k & (IN_PT | IN_TCP))) continue;
            bool pt = k & IN_PT;
            if (in_report(c, MSH0605, MC_WARNING, v->obj, v->hnodes[i],
                    "the http routes of VirtualService %s never apply to host %s on gateway %s: the gateway serves it "
                    "only with %s (%s), which routes %s; %s", in_name(c, v->obj), v->hosts[i], g->ref,
                    pt ? "a TLS PASSTHROUGH server" : "a TCP server", ports_phrase(c, &per[i], pt ? IN_PT : IN_TCP),
                    pt ? "by SNI through tls routes" : "through tcp routes",
                    pt ? "TLS connections for it are closed unless a tls route claims its SNI" : "HTTP requests are not parsed there") &&
                per[i].r.first[slot_of(pt ? IN_PT : IN_TCP)])
                mc_diag_note(per[i].r.first[slot_of(pt ? IN_PT : IN_TCP)]->node, "the server of gateway %s for %s", g->ref, v->hosts[i]);
        }
    static const struct { int cls; const char *key, *kind; } l4[] = { { IN_PT, "tls", "tls" }, { IN_TCP, "tcp", "tcp" } };
    for (int s = 0; s < 2; s++) {
        uint32_t n = s ? vs->ntcp : vs->ntls;
        if (!n || (all->r.cls & l4[s].cls) || !(all->r.cls & IN_HTTP)) continue;
        if (in_report(c, MSH0606, MC_WARNING, v->obj, mc_get_key(v->obj->spec, l4[s].key) ? mc_get_key(v->obj->spec, l4[s].key)
                                                                                            : v->obj->root,
                "the %s routes of VirtualService %s have no effect on gateway %s: it serves these hosts only with HTTP "
                "servers (%s), whose routes come from http rules; %s", l4[s].kind, in_name(c, v->obj), g->ref,
                ports_phrase(c, all, IN_HTTP), s ? "tcp routes need a TCP server" : "tls routes need a server with tls.mode PASSTHROUGH") &&
            all->r.first[0])
            mc_diag_note(all->r.first[0]->node, "a server of gateway %s for these hosts", g->ref);
    }
}

static void vs_gateway(gw_ctx *x, const in_vs *v, const mc_vs *vs, const in_gw *g)
{
    in_ctx *c = x->c;
    reach all;
    memset(&all, 0, sizeof all);
    all.x = x;
    all.all_dropped = true;
    reach *per = mc_arena_zalloc(&c->a, (v->nhosts + 1) * sizeof *per);
    for (uint32_t i = 0; i < v->nhosts; i++) {
        per[i].x = x;
        per[i].all_dropped = true;
        in_srv_each((in_gw *)g, v->obj->o.ns, v->hosts[i], on_srv, &per[i]);
        in_srv_each((in_gw *)g, v->obj->o.ns, v->hosts[i], on_srv, &all);
    }
    if (!all.r.cls) return;       /* no host in common: IST0132 */
    bool seen = false, visible = false;
    EACH_WORKLOAD_VIEW(c->ir, view) {
        if (!view_has(view, g->obj)) continue;
        seen = true;
        visible = visible || visible_in(vs, view);
    }
    if (!seen) return;
    if (!visible) {
        const mc_node *exp = mc_get_key(v->obj->spec, "exportTo");
        if (in_report(c, MSH0604, MC_WARNING, v->obj, exp ? exp : gateway_ref(c, v, g),
                "VirtualService %s routes nothing on gateway %s: its exportTo does not include the namespace the "
                "gateway's workload runs in, so Istio ignores it there and requests for its hosts get 404 NR",
                in_name(c, v->obj), g->ref))
            mc_diag_note(gateway_ref(c, v, g), "bound to gateway %s here", g->ref);
        return;
    }
    const void *key[2] = { vs, g };
    const ev *e = mc_strmap_get(&x->ev, (const char *)key, sizeof key);
    protocol(c, v, vs, g, &all, per);
    if (!e || !e->served) {
        idle(x, v, vs, g, &all);
        return;
    }
    http_rules(x, v, vs, g, &all, e);
    l4_rules(x, v, vs, g, &all, e, IN_PT);
    l4_rules(x, v, vs, g, &all, e, IN_TCP);
}

/* ------------------------------------------------------------ listeners */

static bool listener_complete(in_ctx *c, const mc_ir_listener *li)
{
    for (uint32_t i = 0; i < li->nservers; i++) {
        in_gw *g = in_gateway(c, in_name(c, li->servers[i].gateway));
        if (!g || !g->complete) return false;
    }
    return true;
}

static const char *strip_ns(const char *h)
{
    const char *s = strchr(h, '/');
    return s ? s + 1 : h;
}

/* the hosts[] item of a server that is host h */
static const mc_node *host_node(const mc_node *server, const char *h)
{
    const mc_node *hs = in_seq(server, "hosts");
    MC_SEQ_EACH(hs, i) {
        const char *t = mc_text(mc_item(hs, i));
        if (t && strcmp(strip_ns(t), h) == 0) return mc_item(hs, i);
    }
    return hs ? hs : server;
}

/* The SNI names of a listener's filter chains; false when a chain takes
** any name (no names, or "*"). */
static bool sni_index(const mc_ir_listener *li, mc_hostset *set)
{
    for (uint32_t k = 0; k < li->nchains; k++) {
        const mc_ir_chain *ch = &li->chains[k];
        if (!ch->nsni) return false;
        for (uint32_t i = 0; i < ch->nsni; i++) {
            if (strcmp(ch->sni[i], "*") == 0) return false;
            mc_hostset_add(set, ch->sni[i], NULL);
        }
    }
    return true;
}

typedef struct http_for { const in_gw *g; bool found; } http_for;

static bool on_http_vs(void *ud, const char *host, void *val)
{
    (void)host;
    http_for *f = ud;
    const in_vs *v = val;
    for (uint32_t k = 0; k < v->ngws && !f->found; k++)
        f->found = v->gws[k] == f->g && mc_len(in_seq(v->obj->spec, "http"));
    return !f->found;
}

static void passthrough(gw_ctx *x, const mc_ir_listener *li)
{
    in_ctx *c = x->c;
    mc_hostset names;
    mc_hostset_init(&names, &c->a);
    bool some = false;
    for (uint32_t i = 0; i < li->nservers && !some; i++) some = li->servers[i].tls == IMG_TLS_PASSTHROUGH;
    if (!some || !sni_index(li, &names)) {
        mc_hostset_free(&names);
        return;
    }
    for (uint32_t i = 0; i < li->nservers; i++) {
        const mc_ir_server *s = &li->servers[i];
        if (s->tls != IMG_TLS_PASSTHROUGH) continue;
        in_gw *g = in_gateway(c, in_name(c, s->gateway));
        if (!g || !g->bound.n) continue;
        for (uint32_t h = 0; h < s->nhosts; h++) {
            const char *host = strip_ns(s->hosts[h]);
            if (mc_hostset_any(&names, host)) continue;
            /* a VirtualService with http routes for the host: MSH0605 says it */
            http_for f = { g, false };
            mc_hostset_each(&c->vs_hosts, host, on_http_vs, &f);
            if (f.found) continue;
            in_report(c, MSH0607, MC_WARNING, s->gateway, host_node(s->node, host),
                      "host %s of this TLS PASSTHROUGH server has no tls route: no VirtualService bound to gateway %s "
                      "routes SNI %s on port %u, so TLS connections for it are closed right after the ClientHello "
                      "(NR, filter_chain_not_found)", host, g->ref, host, s->port);
        }
    }
    mc_hostset_free(&names);
}

/* the tls match of a VirtualService at this node (its sniHosts, or itself) */
static const mc_l4_match *tls_match_at(const mc_vs *vs, const mc_node *at)
{
    for (uint32_t i = 0; i < vs->ntls; i++)
        for (uint32_t j = 0; j < vs->tls[i].nmatches; j++) {
            const mc_l4_match *m = &vs->tls[i].matches[j];
            if (m->node == at || in_get(m->node, "sniHosts") == at) return m;
        }
    return NULL;
}

static void sni_twice(gw_ctx *x, const mc_ir_drop *d)
{
    in_ctx *c = x->c;
    const mc_vs *vs = ptr_get(&x->vs_of, d->obj);
    const mc_l4_match *m = vs ? tls_match_at(vs, d->at) : NULL;
    if (!m) return;
    EACH_WORKLOAD_VIEW(c->ir, view) {
        if (strcmp(view->name, d->view) != 0) continue;
        for (uint32_t l = 0; l < view->nlisteners; l++) {
            const mc_ir_listener *li = &view->listeners[l];
            if (li->port != d->port) continue;
            for (uint32_t k = 0; k < li->nchains; k++) {
                const mc_ir_chain *ch = &li->chains[k];
                if (ch->entry_kind != IMG_ENTRY_TLS || !ch->match || !ch->vs) continue;
                const char *name = NULL;
                for (uint32_t a = 0; a < ch->nsni && !name; a++)
                    for (uint32_t b = 0; b < m->nsni && !name; b++)
                        if (strcmp(ch->sni[a], m->sni[b]) == 0) name = m->sni[b];
                if (!name) continue;
                if (ch->vs == vs) return;       /* one VirtualService: IST0130/IST0131 */
                const char *dest = ch->target.n ? ch->target.dests[0].cluster->name : "its destination";
                if (in_report(c, MSH0609, MC_WARNING, d->obj, d->at,
                        "SNI %s is already routed on port %u by VirtualService %s (tls[%u]), earlier in creation order: "
                        "Istio keeps the first filter chain for a name and skips this match, so connections for %s go "
                        "to %s", name, d->port, in_name(c, ch->vs->obj), ch->entry->index, name, dest))
                    mc_diag_note(in_get(ch->match->node, "sniHosts") ? in_get(ch->match->node, "sniHosts") : ch->match->node,
                                 "the rule that takes SNI %s", name);
                return;
            }
        }
    }
}

static void listeners(gw_ctx *x)
{
    in_ctx *c = x->c;
    EACH_WORKLOAD_VIEW(c->ir, view)
        for (uint32_t l = 0; l < view->nlisteners; l++) {
            const mc_ir_listener *li = &view->listeners[l];
            if (li->kind == IMG_LISTENER_TLS && listener_complete(c, li)) passthrough(x, li);
        }
    for (size_t i = 0; i < c->ir->drops.n; i++) {
        const mc_ir_drop *d = &MC_VEC_AT(&c->ir->drops, mc_ir_drop, i);
        if (d->reason == MC_DROP_SNI_DUPLICATE) {
            sni_twice(x, d);
        } else if (d->reason == MC_DROP_NO_TCP_ROUTE) {
            in_gw *g = in_gateway(c, in_name(c, d->obj));
            if (!g || !g->bound.n) continue;
            bool complete = true;
            EACH_WORKLOAD_VIEW(c->ir, view)
                for (uint32_t l = 0; l < view->nlisteners && complete; l++)
                    if (view->listeners[l].port == d->port && strcmp(view->name, d->view) == 0)
                        complete = listener_complete(c, &view->listeners[l]);
            if (!complete) continue;
            in_report(c, MSH0608, MC_WARNING, d->obj, in_get(d->at, "port") ? in_get(d->at, "port") : d->at,
                      "no tcp route serves this server of gateway %s on port %u: no VirtualService bound to it has a tcp "
                      "rule that applies (hosts, match port and gateways), so Istio gives the port no filter chain and "
                      "connections to it are closed", g->ref, d->port);
        }
    }
}

/* ------------------------------------------------------------ destinations */

static const char *ports_of(in_ctx *c, const mc_obj *svc)
{
    const mc_node *ps = in_seq(svc->spec, "ports");
    mc_buf b;
    mc_buf_init(&b);
    MC_SEQ_EACH(ps, i)
        mc_buf_printf(&b, "%s%u", i ? ", " : "", in_port(mc_item(ps, i), svc->kind == MC_K_SERVICE ? "port" : "number"));
    const char *s = mc_arena_strdup(&c->a, b.s ? b.s : "none");
    mc_buf_free(&b);
    return s;
}

/* a DestinationRule of the inputs with this host and subset */
static const mc_node *subset_anywhere(in_ctx *c, const char *host, const char *subset)
{
    for (uint32_t i = 0; i < c->drs.n; i++) {
        const in_dr *d = c->drs.v[i];
        if (strcmp(d->host, host) != 0) continue;
        MC_SEQ_EACH(d->subsets, j) {
            const mc_node *nm = in_get(mc_item(d->subsets, j), "name");
            if (mc_str(nm) && strcmp(mc_str(nm), subset) == 0) return nm;
        }
    }
    return NULL;
}

static void missing(in_ctx *c, const mc_obj *vso, const mc_ir_cluster *cl, const mc_dest *src, const char *gw,
                    const char *ns, const mc_node *host, const mc_node *port, const mc_node *subset)
{
    switch (cl->why) {
    case MC_MISSING_SERVICE:
    case MC_MISSING_EXTERNAL_NAME: {
        if (!c->have_services && in_cluster_local(c, cl->host)) return;    /* most likely defined elsewhere */
        const in_vec *sv = in_services(c, cl->host);
        const mc_obj *def = sv ? ((in_svc *)sv->v[0])->obj : NULL;
        if (in_report(c, MSH0615, MC_WARNING, vso, host,
                "no Service or ServiceEntry with host %s is visible from namespace %s, where gateway %s runs: the "
                "gateway has no cluster %s, and requests routed here get 503 NC (cluster_not_found)",
                cl->host, ns, gw, cl->name) && def)
            mc_diag_note(def->root, "%s %s defines the host, but its exportTo hides it from %s", def->o.kind,
                         in_name(c, def), ns);
        return;
    }
    case MC_MISSING_PORT:
    case MC_MISSING_UDP: {
        const mc_obj *svc = cl->service;
        bool shown;
        if (cl->why == MC_MISSING_UDP)
            shown = in_report(c, MSH0615, MC_WARNING, vso, port ? port : host,
                "port %u of %s is a UDP port: gateway %s has no cluster %s, and requests routed here get 503 NC "
                "(cluster_not_found)", cl->port, cl->host, gw, cl->name);
        else if (src->port)
            shown = in_report(c, MSH0615, MC_WARNING, vso, port ? port : host,
                "%s %s has no port %u: gateway %s has no cluster %s, and requests routed here get 503 NC "
                "(cluster_not_found)", svc->o.kind, in_name(c, svc), cl->port, gw, cl->name);
        else
            shown = in_report(c, MSH0615, MC_WARNING, vso, host,
                "%s %s has several ports and the destination names none: gateway %s uses its own port %u, cluster %s "
                "does not exist, and requests routed here get 503 NC (cluster_not_found)", svc->o.kind, in_name(c, svc),
                gw, cl->port, cl->name);
        if (shown)
            mc_diag_note(in_get(svc->spec, "ports") ? in_get(svc->spec, "ports") - 1 : svc->root, "the ports of %s %s: %s",
                         svc->o.kind, in_name(c, svc), ports_of(c, svc));
        return;
    }
    case MC_MISSING_SUBSET: {
        const mc_node *def = subset_anywhere(c, cl->host, cl->subset);
        if (in_report(c, MSH0615, MC_WARNING, vso, subset ? subset : host,
                "no DestinationRule visible from namespace %s, where gateway %s runs, defines subset %s of %s: the "
                "gateway has no cluster %s, and requests routed here get 503 NC (cluster_not_found)",
                ns, gw, cl->subset, cl->host, cl->name) && def)
            mc_diag_note(def, "a DestinationRule defines it here, but its exportTo hides it from %s", ns);
        return;
    }
    default: return;
    }
}

static void no_endpoints(in_ctx *c, const mc_obj *vso, const mc_ir_cluster *cl, const char *gw, const mc_node *host,
                         const mc_node *subset)
{
    const mc_obj *se = cl->service;
    if (!se || se->kind != MC_K_SERVICEENTRY || in_map(se->spec, "workloadSelector")) return;
    const char *res = in_str(se->spec, "resolution");
    const mc_node *eps = in_seq(se->spec, "endpoints");
    const mc_node *labels = cl->subset_node ? in_map(cl->subset_node, "labels") : NULL;
    if (labels && mc_len(labels)) {
        bool dns_self = res && (!strcmp(res, "DNS") || !strcmp(res, "DNS_ROUND_ROBIN")) && !mc_len(eps);
        if (in_report(c, MSH0616, MC_WARNING, vso, subset ? subset : host,
                "subset %s of %s selects no endpoint: %s; on gateway %s, requests routed here get 503 UH "
                "(no_healthy_upstream)", cl->subset, cl->host,
                dns_self ? "the ServiceEntry resolves by DNS without endpoints, so its only endpoint is the host itself, "
                           "which has no labels"
                         : "none of the ServiceEntry's endpoints carries its labels", gw))
            mc_diag_note(labels - 1, "the subset's labels");
        return;
    }
    if (mc_len(eps)) return;
    bool none = !res || !strcmp(res, "NONE");
    if (!none && strcmp(res, "STATIC") != 0) return;
    const mc_node *rn = in_get(se->spec, "resolution");
    if (in_report(c, MSH0616, MC_WARNING, vso, host,
            "%s has no endpoint a gateway can use: ServiceEntry %s %s; on gateway %s, requests routed here get 503 UH "
            "(no_healthy_upstream)", cl->host, in_name(c, se),
            none ? "has resolution NONE (sidecars send such traffic to its original address, gateways have none)"
                 : "is STATIC without endpoints", gw))
        mc_diag_note(rn ? rn : mc_get_key(se->root, "spec"), none && !rn ? "no resolution: it defaults to NONE" : "the resolution");
}

static void dest(gw_ctx *x, mc_strmap *seen, const mc_obj *vso, const mc_ir_dest *d, const char *gw, const char *ns)
{
    in_ctx *c = x->c;
    const mc_ir_cluster *cl = d->cluster;
    const mc_dest *src = d->src;
    if (!cl || !src || !src->node) return;
    if (cl->kind != IMG_CLUSTER_MISSING && (cl->kind == IMG_CLUSTER_ORIGINAL_DST || cl->nendpoints)) return;
    const void *key[2] = { src->node, cl };
    if (mc_strmap_get(seen, (const char *)key, sizeof key)) return;
    const void **k = mc_arena_alloc(&c->a, sizeof key);
    k[0] = key[0];
    k[1] = key[1];
    *mc_strmap_put(seen, (const char *)k, sizeof key, NULL) = (void *)1;
    const mc_node *dn = in_map(src->node, "destination");
    if (!dn) return;
    const mc_node *host = in_get(dn, "host"), *port = in_get(in_map(dn, "port"), "number"), *subset = in_get(dn, "subset");
    /* an istioctl analyzer already reports it (IST0101, IST0112) */
    if ((host && mc_diag_error_at(host->pos)) || (port && mc_diag_error_at(port->pos)) ||
        (subset && mc_diag_error_at(subset->pos)))
        return;
    if (!host) host = dn;
    if (cl->kind == IMG_CLUSTER_MISSING) missing(c, vso, cl, src, gw, ns, host, port, subset);
    else no_endpoints(c, vso, cl, gw, host, subset);
}

static void target(gw_ctx *x, mc_strmap *seen, const mc_obj *vso, const mc_ir_target *t, const char *gw, const char *ns)
{
    for (uint32_t i = 0; i < t->n; i++) dest(x, seen, vso, &t->dests[i], gw, ns);
}

static void destinations(gw_ctx *x)
{
    in_ctx *c = x->c;
    mc_strmap seen;             /* (destination node, cluster) */
    mc_strmap_init(&seen);
    mc_strmap rows;             /* rows already looked at */
    mc_strmap_init(&rows);
    EACH_WORKLOAD_VIEW(c->ir, view)
        for (uint32_t l = 0; l < view->nlisteners; l++) {
            const mc_ir_listener *li = &view->listeners[l];
            for (uint32_t k = 0; k < li->nchains; k++) {
                const mc_ir_chain *ch = &li->chains[k];
                if (ch->kind != IMG_CHAIN_HTTP) {
                    if (ch->vs && ch->entry && ch->server)
                        target(x, &seen, ch->vs->obj, &ch->target, in_name(c, ch->server->gateway), view->ns);
                    continue;
                }
                if (!ch->routes) continue;
                for (uint32_t h = 0; h < ch->routes->nvhosts; h++) {
                    const mc_ir_vhost *vh = &ch->routes->vhosts[h];
                    for (uint32_t r = 0; r < vh->nroutes; r++) {
                        const mc_ir_route *row = vh->routes[r];
                        if (!row->http || !row->action || row->action->kind != IMG_ACTION_ROUTE) continue;
                        if (mc_strmap_get(&rows, (const char *)&vh->routes[r], sizeof row)) continue;
                        *mc_strmap_put(&rows, (const char *)&vh->routes[r], sizeof row, NULL) = (void *)1;
                        const mc_obj *o = row->http->delegate ? row->http->delegate->obj : row->http->vs->obj;
                        target(x, &seen, o, &row->action->target, row->gw, view->ns);
                    }
                }
            }
        }
    mc_strmap_free(&rows);
    mc_strmap_free(&seen);
}

/* ------------------------------------------------------------ entry */

void in_ir_gateways(in_ctx *c)
{
    gw_ctx x;
    memset(&x, 0, sizeof x);
    x.c = c;
    mc_strmap_init(&x.ev);
    mc_strmap_init(&x.vs_of);
    mc_strmap_init(&x.dropped);
    mc_strmap_init(&x.offsets);
    gather(&x);
    for (uint32_t i = 0; i < c->vss.n; i++) {
        const in_vs *v = c->vss.v[i];
        if (!v->included || !v->nhosts) continue;
        const mc_vs *vs = ptr_get(&x.vs_of, v->obj);
        if (!vs) continue;
        for (uint32_t k = 0; k < v->ngws; k++) vs_gateway(&x, v, vs, v->gws[k]);
    }
    listeners(&x);
    destinations(&x);
    mc_strmap_free(&x.ev);
    mc_strmap_free(&x.vs_of);
    mc_strmap_free(&x.dropped);
    mc_strmap_free(&x.offsets);
}
