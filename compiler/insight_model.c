/*
** insight_model.c -- the checks that need no lowering, run during the
** screen's walk: match gateways the VirtualService is not bound to
** (MSH0600), mesh match ports no service declares (MSH0603),
** DestinationRules merged over one host (MSH0617), unused subsets (MSH0618).
*/
#include "insight_int.h"
#include "host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const sections[] = { "http", "tls", "tcp" };
/* ------------------------------------------------------------ subset references */

static void mark(const in_dr *d, const char *subset)
{
    MC_SEQ_EACH(d->subsets, j) {
        const char *nm = in_str(mc_item(d->subsets, j), "name");
        if (nm && strcmp(nm, subset) == 0) d->used[j] = 1;
    }
}

void in_model_ref(in_ctx *c, const char *host, const char *subset)
{
    const in_vec *dv = in_drules(c, host);
    for (uint32_t i = 0; dv && i < dv->n; i++) mark(dv->v[i], subset);
    for (uint32_t i = 0; i < c->dr_wild.n; i++) {
        const in_dr *d = c->dr_wild.v[i];
        if (mc_host_subset(host, d->host)) mark(d, subset);
    }
}

/* ------------------------------------------------------------ MSH0600 */

static const char *list_text(in_ctx *c, const char *const *v, uint32_t n)
{
    mc_buf b;
    mc_buf_init(&b);
    mc_buf_putc(&b, '[');
    for (uint32_t i = 0; i < n; i++) mc_buf_printf(&b, "%s%s", i ? ", " : "", v[i]);
    mc_buf_putc(&b, ']');
    const char *r = mc_arena_strdup(&c->a, b.s);
    mc_buf_free(&b);
    return r;
}

static void match_gateways(in_ctx *c, const in_vs *v, const mc_node *m, const char *const *bound, uint32_t nb)
{
    const mc_node *mg = in_seq(m, "gateways");
    uint32_t n = mc_len(mg), good = 0;
    if (!n) return;
    const char **ref = mc_arena_zalloc(&c->a, n * sizeof *ref);
    MC_SEQ_EACH(mg, i) {
        const char *raw = mc_text(mc_item(mg, i));
        if (!raw) continue;
        ref[i] = strcmp(raw, "mesh") == 0 ? raw : mc_gateway_ref(&c->a, raw, v->obj->o.ns);
        for (uint32_t k = 0; k < nb; k++)
            if (strcmp(bound[k], ref[i]) == 0) { good++; ref[i] = NULL; break; }
    }
    const mc_node *top = mc_get_key(v->obj->spec, "gateways");
    MC_SEQ_EACH(mg, i) {
        const char *raw = mc_text(mc_item(mg, i)), *r = ref[i];
        if (!r) continue;
        bool resolved = strcmp(raw, r) != 0;
        if (in_report(c, MSH0600, MC_WARNING, v->obj, mc_item(mg, i),
                "match gateway \"%s\"%s%s%s is not one of this VirtualService's gateways %s: the VirtualService is "
                "never attached to it, so this match never applies there%s", raw, resolved ? " (" : "",
                resolved ? r : "", resolved ? ")" : "", list_text(c, bound, nb),
                good ? "" : "; none of the match's gateways is bound, so the match applies nowhere"))
            mc_diag_note(top ? top : mc_get_key(v->obj->root, "spec"), top ? "the VirtualService's gateways" :
                         "no gateways: the VirtualService applies to the mesh only");
    }
}

/* ------------------------------------------------------------ MSH0603 */

/* Ports of the services behind every host of a mesh-bound VirtualService;
** false when some host is not a service of the inputs (or a wildcard). */
static bool mesh_ports(in_ctx *c, const in_vs *v, uint32_t *ports, uint32_t *np, const mc_obj **svc)
{
    *np = 0;
    *svc = NULL;
    for (uint32_t i = 0; i < v->nhosts; i++) {
        if (mc_host_wild(v->hosts[i])) return false;
        const in_vec *sv = in_services(c, v->hosts[i]);
        if (!sv) return false;
        for (uint32_t k = 0; k < sv->n; k++) {
            const in_svc *s = sv->v[k];
            if (!*svc) *svc = s->obj;
            MC_SEQ_EACH(s->ports, p) {
                uint32_t n = in_port(mc_item(s->ports, p), s->k8s ? "port" : "number");
                bool dup = false;
                for (uint32_t x = 0; x < *np && !dup; x++) dup = ports[x] == n;
                if (n && !dup && *np < 64) ports[(*np)++] = n;
            }
        }
    }
    return v->nhosts > 0;
}

bool in_service_port(in_ctx *c, const in_vs *v, uint32_t port)
{
    for (uint32_t i = 0; i < v->nhosts; i++) {
        const in_vec *sv = in_services(c, v->hosts[i]);
        for (uint32_t k = 0; sv && k < sv->n; k++) {
            const in_svc *s = sv->v[k];
            MC_SEQ_EACH(s->ports, p)
                if (in_port(mc_item(s->ports, p), s->k8s ? "port" : "number") == port) return true;
        }
    }
    return false;
}

typedef struct gw_port { uint32_t port; bool found; } gw_port;

static bool on_gw_port(void *ud, const char *host, void *val)
{
    (void)host;
    gw_port *p = ud;
    if (((const in_srv *)val)->port != p->port) return true;
    p->found = true;
    return false;
}

/* A gateway the VirtualService binds serves its hosts on this port. */
static bool gateway_port(const in_vs *v, uint32_t port)
{
    gw_port p = { port, false };
    for (uint32_t k = 0; k < v->ngws && !p.found; k++)
        for (uint32_t i = 0; i < v->nhosts && !p.found; i++) in_srv_each(v->gws[k], v->obj->o.ns, v->hosts[i], on_gw_port, &p);
    return p.found;
}

static void mesh_match_port(in_ctx *c, const in_vs *v, const mc_node *m, const uint32_t *ports, uint32_t np,
                            const mc_obj *svc)
{
    const mc_node *mg = in_seq(m, "gateways");
    bool mesh = !mc_len(mg);
    MC_SEQ_EACH(mg, i) mesh = mesh || (mc_text(mc_item(mg, i)) && strcmp(mc_text(mc_item(mg, i)), "mesh") == 0);
    uint32_t p = in_port(m, "port");
    if (!mesh || !p) return;
    for (uint32_t i = 0; i < np; i++)
        if (ports[i] == p) return;
    mc_buf b;
    mc_buf_init(&b);
    for (uint32_t i = 0; i < np; i++) mc_buf_printf(&b, "%s%u", i ? ", " : "", ports[i]);
    /* a port a bound gateway serves the hosts on is most likely meant for it */
    bool gw = gateway_port(v, p);
    bool shown = in_report(c, MSH0603, gw ? MC_INFO : MC_WARNING, v->obj, in_get(m, "port"),
        "match port %u applies to sidecars, but no service behind %s%s declares it (ports %s): sidecars have no "
        "listener for that port of these hosts, so this match never applies on the mesh",
        p, v->hosts[0], v->nhosts > 1 ? " and the other hosts" : "", b.s ? b.s : "none");
    mc_buf_free(&b);
    if (shown) mc_diag_note(in_get(svc->spec, "ports") ? in_get(svc->spec, "ports") - 1 : svc->root,
                            "the ports of %s %s", svc->o.kind, in_name(c, svc));
}

void in_model_vs(in_ctx *c, in_vs *v)
{
    const mc_obj *o = v->obj;
    const mc_node *gws = in_seq(o->spec, "gateways");
    uint32_t nb = 0;
    const char **bound = mc_arena_alloc(&c->a, (mc_len(gws) + 1) * sizeof *bound);
    MC_SEQ_EACH(gws, i) {
        const char *r = mc_text(mc_item(gws, i));
        if (r) bound[nb++] = strcmp(r, "mesh") == 0 ? r : mc_gateway_ref(&c->a, r, o->o.ns);
    }
    if (!nb) bound[nb++] = "mesh";
    uint32_t ports[64], np = 0;
    const mc_obj *svc = NULL;
    bool check_ports = v->mesh && mesh_ports(c, v, ports, &np, &svc);
    for (int s = 0; s < 3; s++) {
        const mc_node *rules = in_seq(o->spec, sections[s]);
        MC_SEQ_EACH(rules, i) {
            const mc_node *ms = in_seq(mc_item(rules, i), "match");
            MC_SEQ_EACH(ms, j) {
                const mc_node *m = mc_item(ms, j);
                match_gateways(c, v, m, bound, nb);
                if (check_ports) mesh_match_port(c, v, m, ports, np, svc);
            }
        }
    }
}

/* ------------------------------------------------------------ MSH0617, MSH0618 */

static int cmp_dr(const void *a, const void *b)
{
    const in_dr *x = *(in_dr *const *)a, *y = *(in_dr *const *)b;
    return mc_lower_cmp_order(x->obj, y->obj);
}

/* DestinationRules of one namespace, host and exportTo, in config order:
** the first trafficPolicy and the first definition of each subset win. */
static void merged_group(in_ctx *c, in_vec *g)
{
    qsort(g->v, g->n, sizeof *g->v, cmp_dr);
    const in_dr *policy = NULL;
    mc_strmap names;            /* subset name -> its first name node */
    mc_strmap_init(&names);
    for (uint32_t i = 0; i < g->n; i++) {
        const in_dr *d = g->v[i];
        if (d->policy && policy) {
            if (in_report(c, MSH0617, MC_WARNING, d->obj, d->policy - 1,
                    "trafficPolicy is ignored for host %s: DestinationRule %s, earlier in creation order, already sets "
                    "one; Istio merges the DestinationRules of namespace %s for this host and keeps the first "
                    "trafficPolicy", d->host, in_name(c, policy->obj), d->obj->o.ns))
                mc_diag_note(policy->policy - 1, "the trafficPolicy that applies");
        } else if (d->policy) {
            policy = d;
        }
        MC_SEQ_EACH(d->subsets, j) {
            const mc_node *nm = in_get(mc_item(d->subsets, j), "name");
            const char *name = mc_str(nm);
            if (!name) continue;
            bool found;
            void **slot = mc_strmap_put(&names, name, strlen(name), &found);
            if (!found) {
                *slot = (void *)nm;
                continue;
            }
            const mc_node *first = *slot;
            /* the earlier rule that defines it (a repeat within one rule is
            ** the webhook's error) */
            for (uint32_t k = 0; k < i; k++) {
                const in_dr *e = g->v[k];
                bool mine = false;
                MC_SEQ_EACH(e->subsets, x) mine = mine || in_get(mc_item(e->subsets, x), "name") == first;
                if (!mine) continue;
                if (in_report(c, MSH0617, MC_WARNING, d->obj, nm,
                        "subset %s is ignored for host %s: DestinationRule %s, earlier in creation order, defines it "
                        "first; Istio merges the DestinationRules of namespace %s for this host and keeps the first "
                        "definition of each subset", name, d->host, in_name(c, e->obj), d->obj->o.ns))
                    mc_diag_note(first, "the subset %s that applies", name);
                break;
            }
        }
    }
    mc_strmap_free(&names);
}

void in_model_drs(in_ctx *c)
{
    /* rules merged over one host: same host, namespace and exportTo */
    MC_STRMAP_EACH(&c->dr_by_host, slot) {
        const in_vec *all = slot->val;
        if (all->n < 2) continue;
        in_vec g = { NULL, 0, 0 };
        uint8_t *done = mc_xcalloc(all->n, 1);
        for (uint32_t i = 0; i < all->n; i++) {
            const in_dr *d = all->v[i];
            if (done[i] || d->selector) continue;
            g.n = 0;
            for (uint32_t k = i; k < all->n; k++) {
                const in_dr *e = all->v[k];
                if (done[k] || e->selector || strcmp(e->obj->o.ns, d->obj->o.ns) || strcmp(e->export_key, d->export_key)) continue;
                done[k] = 1;
                in_push(&g, (void *)e);
            }
            if (g.n > 1) merged_group(c, &g);
        }
        free(done);
        free(g.v);
    }
    /* subsets reached through AUTO_PASSTHROUGH SNIs are used without a route */
    if (c->have_auto_passthrough) return;
    for (uint32_t i = 0; i < c->drs.n; i++) {
        const in_dr *d = c->drs.v[i];
        MC_SEQ_EACH(d->subsets, j) {
            const mc_node *nm = in_get(mc_item(d->subsets, j), "name");
            const char *name = mc_str(nm);
            if (!name || d->used[j]) continue;
            in_report(c, MSH0618, MC_INFO, d->obj, nm,
                      "subset %s of host %s is not used: no route, mirror or tls/tcp destination of a VirtualService "
                      "in the inputs names it", name, d->host);
        }
    }
}
