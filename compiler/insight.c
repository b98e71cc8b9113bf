/*
** insight.c -- the insight stage (insight.h): the context and its indexes,
** the screen that decides what to lower, lowering it, and the dispatch to
** the IR checks (insight_gw.c, insight_vhost.c).
**
** The screen mirrors lowering's decisions only as far as it must to prove a
** VirtualService uninteresting; whenever it cannot prove that, the
** VirtualService is lowered and the IR decides. Each trigger below names the
** findings it stands for.
*/
#include "insight_int.h"
#include "host.h"
#include "image.h"
#include "regex.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ small helpers */

void in_push(in_vec *v, void *p)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 4;
        v->v = mc_xrealloc(v->v, v->cap * sizeof *v->v);
    }
    v->v[v->n++] = p;
}

/* The snake_case spelling of a field name, computed once per name: the
** names are string literals, so a small cache keyed by address serves.
** The pointer is good until the next call: two names may share a slot, so
** a caller holding several spellings copies them (in_fields). Not
** thread-safe: the insight stage runs on one thread. */
typedef struct spelling { const char *camel; uint32_t cl, sl; char snake[48]; } spelling;

static const spelling *spell(const char *camel)
{
    static spelling cache[128];
    spelling *s = &cache[((uintptr_t)camel >> 3) & 127];
    if (s->camel == camel) return s;
    s->camel = camel;
    s->cl = (uint32_t)strlen(camel);
    s->sl = 0;
    bool upper = false;
    for (const char *p = camel; *p && s->sl + 2 < sizeof s->snake; p++) {
        if (*p >= 'A' && *p <= 'Z') {
            s->snake[s->sl++] = '_';
            s->snake[s->sl++] = (char)(*p + 32);
            upper = true;
        } else {
            s->snake[s->sl++] = *p;
        }
    }
    if (!upper) s->sl = 0;      /* no other spelling */
    return s;
}

/* One pass over the keys: the camelCase key wins wherever it is, else the
** first snake_case one -- what lowering's two lookups find. */
const mc_node *in_get(const mc_node *m, const char *camel)
{
    if (!m || m->type != MC_MAP) return NULL;
    const spelling *sp = spell(camel);
    const mc_node *alt = NULL;
    for (uint32_t i = 0; i < m->n; i++) {
        const mc_node *k = &m->u.kids[2 * i];
        if (k->type == MC_MAP || k->type == MC_SEQ) continue;
        if (k->n == sp->cl && memcmp(k->u.s, camel, sp->cl) == 0) return k + 1;
        if (sp->sl && !alt && k->n == sp->sl && memcmp(k->u.s, sp->snake, sp->sl) == 0) alt = k + 1;
    }
    return alt;
}

void in_fields(const mc_node *m, const char *const *names, int n, const mc_node **out)
{
    const mc_node *alt[16];
    for (int i = 0; i < n; i++) out[i] = alt[i] = NULL;
    if (!m || m->type != MC_MAP || n > 16) {
        for (int i = 0; i < n; i++) out[i] = in_get(m, names[i]);
        return;
    }
    spelling sp[16];
    for (int i = 0; i < n; i++) sp[i] = *spell(names[i]);     /* copies: see spell() */
    for (uint32_t k = 0; k < m->n; k++) {
        const mc_node *key = &m->u.kids[2 * k];
        if (key->type == MC_MAP || key->type == MC_SEQ) continue;
        for (int i = 0; i < n; i++) {
            if (key->n == sp[i].cl && !out[i] && memcmp(key->u.s, names[i], key->n) == 0) out[i] = key + 1;
            else if (sp[i].sl && key->n == sp[i].sl && !alt[i] && memcmp(key->u.s, sp[i].snake, key->n) == 0) alt[i] = key + 1;
        }
    }
    for (int i = 0; i < n; i++)
        if (!out[i]) out[i] = alt[i];
}

const mc_node *in_map(const mc_node *m, const char *camel)
{
    const mc_node *n = in_get(m, camel);
    return n && n->type == MC_MAP ? n : NULL;
}

const mc_node *in_seq(const mc_node *m, const char *camel)
{
    const mc_node *n = in_get(m, camel);
    return n && n->type == MC_SEQ ? n : NULL;
}

const char *in_str(const mc_node *m, const char *camel)
{
    return mc_str(in_get(m, camel));
}

uint32_t in_port(const mc_node *m, const char *camel)
{
    const mc_node *n = in_get(m, camel);
    int64_t v;
    if (!n) return 0;
    if (!mc_int(n, &v)) {
        const char *s = mc_str(n);
        char *end;
        if (!s || !*s) return 0;
        v = strtoll(s, &end, 10);
        if (*end) return 0;
    }
    return v > 0 && v <= 65535 ? (uint32_t)v : 0;
}

bool in_bool(const mc_node *m, const char *camel)
{
    const mc_node *n = in_get(m, camel);
    if (!n) return false;
    if (n->type == MC_BOOL) return n->flags & MC_N_TRUE;
    const char *s = mc_str(n);
    return s && strcmp(s, "true") == 0;
}

bool in_cluster_local(const in_ctx *c, const char *host)
{
    if (!strchr(host, '.')) return true;
    size_t hl = strlen(host), dl = strlen(c->domain);
    return hl > dl + 5 && strcmp(host + hl - dl, c->domain) == 0 && memcmp(host + hl - dl - 5, ".svc.", 5) == 0;
}

/* Destinations of one VirtualService name the same host several times, as
** the same interned string: remember the last host's lookups. */
static void memo(in_ctx *c, const char *host)
{
    if (host == c->memo_host) return;
    size_t n = strlen(host);
    c->memo_host = host;
    c->memo_svc = mc_strmap_get(&c->svc_by_host, host, n);
    c->memo_dr = mc_strmap_get(&c->dr_by_host, host, n);
}

const in_vec *in_services(in_ctx *c, const char *host)
{
    memo(c, host);
    return c->memo_svc;
}

const in_vec *in_drules(in_ctx *c, const char *host)
{
    memo(c, host);
    return c->memo_dr;
}

in_gw *in_gateway(in_ctx *c, const char *ref)
{
    return ref ? mc_strmap_get(&c->gw_by_ref, ref, strlen(ref)) : NULL;
}

in_vs *in_vs_of(in_ctx *c, const mc_obj *o)
{
    return mc_strmap_get(&c->vs_by_obj, (const char *)&o, sizeof o);
}

const char *in_name(in_ctx *c, const mc_obj *o)
{
    return *o->o.ns ? mc_arena_printf(&c->a, "%s/%s", o->o.ns, o->o.name) : o->o.name;
}

void in_srv_each(in_gw *g, const char *ns, const char *h, mc_hostset_fn fn, void *ud)
{
    if (!mc_hostset_each(&g->any, h, fn, ud) || !g->by_ns.n) return;
    mc_hostset *s = mc_strmap_get(&g->by_ns, ns, strlen(ns));
    if (s) mc_hostset_each(s, h, fn, ud);
}

static char regex_bad;

const struct rx *in_regex(in_ctx *c, const char *pat)
{
    size_t n = strlen(pat);
    bool found;
    void **slot = mc_strmap_put(&c->regex, pat, n, &found);
    if (!found) {
        char err[RX_ERR_LEN];
        rx *r = rx_compile(pat, n, err, sizeof err);
        *slot = r ? (void *)r : (void *)&regex_bad;
    }
    return *slot == &regex_bad ? NULL : *slot;
}

bool in_report(in_ctx *c, mc_code code, mc_level level, const mc_obj *o, const mc_node *at, const char *fmt, ...)
{
    if (!at) at = o->root;
    /* an error at the node (the schema, the webhook, an istioctl analyzer)
    ** already tells the user about it */
    if (mc_diag_error_at(at->pos)) return false;
    va_list ap;
    va_start(ap, fmt);
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mc_buf_reset(&c->key);
    mc_buf_printf(&c->key, "%d\x1f%u\x1f%s", (int)code, at->pos, msg);
    bool found;
    void **slot = mc_strmap_put(&c->seen, c->key.s, c->key.n, &found);
    if (found) return false;
    mc_strmap_rekey(&c->seen, slot, mc_arena_strndup(&c->a, c->key.s, c->key.n));
    *slot = (void *)1;
    mc_diag_l(code, level, &o->o, at, "%s", msg);
    return true;
}

/* ------------------------------------------------------------ indexes */

static bool proto_http(int p)
{
    return p == IMG_PROTO_HTTP || p == IMG_PROTO_HTTP2 || p == IMG_PROTO_GRPC || p == IMG_PROTO_GRPC_WEB;
}

static bool live(const mc_obj *o, mc_kind k)
{
    return o->kind == k && !o->shadowed && o->spec;
}

/* exportTo as lowering's parse_export reads it: public when empty or with
** "*"; otherwise the sorted set (for DestinationRule merging). */
static bool export_public(const mc_node *list, const char *ns, in_ctx *c, const char **key)
{
    uint32_t n = mc_len(list);
    if (key) *key = "*";
    if (!list || list->type != MC_SEQ || n == 0) return true;
    bool pub = false;
    const char **v = mc_xmalloc(n * sizeof *v);
    uint32_t k = 0;
    MC_SEQ_EACH(list, i) {
        const char *s = mc_text(mc_item(list, i));
        if (!s) continue;
        if (strcmp(s, "*") == 0) pub = true;
        v[k++] = strcmp(s, ".") == 0 ? ns : s;
    }
    if (!pub && key) {
        for (uint32_t i = 1; i < k; i++)
            for (uint32_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
                const char *t = v[j];
                v[j] = v[j - 1];
                v[j - 1] = t;
            }
        mc_buf b;
        mc_buf_init(&b);
        for (uint32_t i = 0; i < k; i++)
            if (!i || strcmp(v[i], v[i - 1]) != 0) mc_buf_printf(&b, "%s\x1f", v[i]);
        *key = mc_arena_strdup(&c->a, b.s ? b.s : "");
        mc_buf_free(&b);
    }
    free(v);
    return pub;
}

static void multi_add(mc_strmap *m, const char *key, void *val)
{
    bool found;
    void **slot = mc_strmap_put(m, key, strlen(key), &found);
    if (!found) *slot = mc_xcalloc(1, sizeof(in_vec));
    in_push(*slot, val);
}

static void multi_free(mc_strmap *m)
{
    MC_STRMAP_EACH(m, s) {
        free(((in_vec *)s->val)->v);
        free(s->val);
    }
    mc_strmap_free(m);
}

static void index_services(in_ctx *c)
{
    mc_input *in = c->in;
    for (uint32_t i = 0; i < in->nobjs; i++) {
        const mc_obj *o = in->objs[i];
        if (live(o, MC_K_SERVICEENTRY)) {
            const mc_node *sp = o->spec;
            const char *r = in_str(sp, "resolution");
            int res = IN_RES_NONE;
            if (r && strcmp(r, "STATIC") == 0) res = IN_RES_STATIC;
            else if (r && strcmp(r, "DNS") == 0) res = IN_RES_DNS;
            else if (r && strcmp(r, "DNS_ROUND_ROBIN") == 0) res = IN_RES_DNS_RR;
            else if (r && strcmp(r, "DYNAMIC_DNS") == 0) res = IN_RES_DYNAMIC;
            bool pub = export_public(in_seq(sp, "exportTo"), o->o.ns, c, NULL);
            const mc_node *hosts = in_seq(sp, "hosts");
            MC_SEQ_EACH(hosts, j) {
                const char *h = mc_text(mc_item(hosts, j));
                if (!h) continue;
                in_svc *s = mc_arena_zalloc(&c->a, sizeof *s);
                s->obj = o;
                s->host = mc_host_fqdn(&c->a, h, o->o.ns, c->domain);
                s->pub = pub;
                s->res = res;
                s->ports = in_seq(sp, "ports");
                s->endpoints = in_seq(sp, "endpoints");
                s->selector = in_map(in_map(sp, "workloadSelector"), "labels") != NULL;
                multi_add(&c->svc_by_host, s->host, s);
            }
        } else if (live(o, MC_K_SERVICE)) {
            c->have_services = true;
            in_svc *s = mc_arena_zalloc(&c->a, sizeof *s);
            s->obj = o;
            s->k8s = true;
            s->host = mc_arena_printf(&c->a, "%s.%s.svc.%s", o->o.name, o->o.ns, c->domain);
            s->res = IN_RES_DNS;
            s->ports = in_seq(o->spec, "ports");
            const char *type = in_str(o->spec, "type");
            s->external_name = type && strcmp(type, "ExternalName") == 0;
            const char *exp = mc_str(mc_get(mc_get(o->meta, "annotations"), "networking.istio.io/exportTo"));
            s->pub = !exp || !*exp || strchr(exp, '*');
            multi_add(&c->svc_by_host, s->host, s);
        }
    }
}

static void index_drs(in_ctx *c)
{
    mc_input *in = c->in;
    for (uint32_t i = 0; i < in->nobjs; i++) {
        const mc_obj *o = in->objs[i];
        if (!live(o, MC_K_DESTINATIONRULE)) continue;
        const char *h = in_str(o->spec, "host");
        if (!h) continue;
        in_dr *d = mc_arena_zalloc(&c->a, sizeof *d);
        d->obj = o;
        d->host = mc_host_fqdn(&c->a, h, o->o.ns, c->domain);
        d->pub = export_public(in_seq(o->spec, "exportTo"), o->o.ns, c, &d->export_key);
        d->selector = in_map(o->spec, "workloadSelector") != NULL;
        d->policy = in_map(o->spec, "trafficPolicy");
        d->subsets = in_seq(o->spec, "subsets");
        d->used = mc_arena_zalloc(&c->a, mc_len(d->subsets) + 1);
        in_push(&c->drs, d);
        multi_add(&c->dr_by_host, d->host, d);
        if (mc_host_wild(d->host)) in_push(&c->dr_wild, d);
    }
}

/* sanitizeServerHostNamespace, as lowering's parse_server */
static void server_hosts(in_ctx *c, in_gw *g, in_srv *s)
{
    const mc_node *hs = in_seq(s->node, "hosts");
    uint32_t n = mc_len(hs);
    s->hns = mc_arena_zalloc(&c->a, (n + 1) * sizeof *s->hns);
    s->hosts = mc_arena_zalloc(&c->a, (n + 1) * sizeof *s->hosts);
    MC_SEQ_EACH(hs, i) {
        const char *h = mc_text(mc_item(hs, i));
        if (!h) continue;
        const char *slash = strchr(h, '/'), *ns = NULL;
        if (slash && slash - h == 1 && h[0] == '*') {
            if (strcmp(slash + 1, "*") == 0) {
                s->hns[0] = NULL;
                s->hosts[0] = "*";
                s->nhosts = 1;
                break;
            }
            h = slash + 1;
        } else if (slash) {
            ns = slash - h == 1 && h[0] == '.' ? g->obj->o.ns : mc_arena_strndup(&c->a, h, (size_t)(slash - h));
            h = slash + 1;
        }
        s->hns[s->nhosts] = ns;
        s->hosts[s->nhosts++] = h;
    }
    for (uint32_t i = 0; i < s->nhosts; i++) {
        mc_hostset *set = &g->any;
        if (s->hns[i]) {
            bool found;
            void **slot = mc_strmap_put(&g->by_ns, s->hns[i], strlen(s->hns[i]), &found);
            if (!found) {
                mc_hostset *x = mc_arena_alloc(&c->a, sizeof *x);
                mc_hostset_init(x, &c->a);
                *slot = x;
            }
            set = *slot;
        }
        mc_hostset_add(set, s->hosts[i], s);
    }
}

/* Servers sharing a port and bind: could one lose a conflict with another
** (lowering's gateway_listeners drops it)? Conservative: any mix but plain
** HTTP servers with HTTP servers, or TLS servers with distinct hosts. */
static bool group_complex(in_ctx *c, const in_vec *grp)
{
    if (grp->n < 2) return false;
    bool plain = false, tls = false, nonhttp = false;
    for (uint32_t i = 0; i < grp->n; i++) {
        const in_srv *s = grp->v[i];
        bool t = s->tls_block && !proto_http(s->proto);
        if (t) tls = true; else plain = true;
        if (!t && !proto_http(s->proto)) nonhttp = true;
    }
    if (plain && (tls || nonhttp)) return true;
    if (!tls) return false;
    mc_strmap hosts;            /* ns/host of TLS servers; gateway + HTTPS port name */
    mc_strmap_init(&hosts);
    bool dup = false;
    for (uint32_t i = 0; i < grp->n && !dup; i++) {
        const in_srv *s = grp->v[i];
        for (uint32_t h = 0; h < s->nhosts && !dup; h++) {
            const char *k = mc_arena_printf(&c->a, "%s/%s", s->hns[h] ? s->hns[h] : "", s->hosts[h]);
            bool found;
            *mc_strmap_put(&hosts, k, strlen(k), &found) = (void *)1;
            dup = found;
        }
        /* HTTPS servers of one Gateway need distinct port names */
        if (s->proto == IMG_PROTO_HTTPS && !dup) {
            const char *k = mc_arena_printf(&c->a, "\x1f%s\x1f%s", s->gw->ref, s->port_name);
            bool found;
            *mc_strmap_put(&hosts, k, strlen(k), &found) = (void *)1;
            dup = found;
        }
    }
    mc_strmap_free(&hosts);
    return dup;
}

static void index_gateways(in_ctx *c, mc_strmap *groups)
{
    mc_input *in = c->in;
    for (uint32_t i = 0; i < in->nobjs; i++) {
        const mc_obj *o = in->objs[i];
        if (!live(o, MC_K_GATEWAY)) continue;
        in_gw *g = mc_arena_zalloc(&c->a, sizeof *g);
        g->obj = o;
        g->ref = mc_arena_printf(&c->a, "%s/%s", o->o.ns, o->o.name);
        mc_hostset_init(&g->any, &c->a);
        mc_hostset_init(&g->sni, &c->a);
        mc_strmap_init(&g->by_ns);
        const mc_node *servers = in_seq(o->spec, "servers");
        g->srv = mc_arena_zalloc(&c->a, (mc_len(servers) + 1) * sizeof *g->srv);
        MC_SEQ_EACH(servers, j) {
            const mc_node *sn = mc_item(servers, j), *port = in_map(sn, "port");
            if (!port || !in_port(port, "number")) continue;   /* lowering skips it */
            in_srv *s = &g->srv[g->nsrv++];
            s->node = sn;
            s->gw = g;
            s->port = in_port(port, "number");
            s->port_name = in_str(port, "name") ? in_str(port, "name") : "";
            s->proto = mc_lower_protocol(in_str(port, "protocol"));
            s->bind = in_str(sn, "bind") ? in_str(sn, "bind") : "";
            const mc_node *tls = in_map(sn, "tls");
            s->tls_block = tls != NULL;
            int mode = mc_lower_tls_mode(in_str(tls, "mode"));
            if (proto_http(s->proto)) s->cls = IN_HTTP;
            else if (!tls) s->cls = IN_TCP;
            else if (s->proto == IMG_PROTO_HTTPS && mode != IMG_TLS_PASSTHROUGH && mode != IMG_TLS_AUTO_PASSTHROUGH) s->cls = IN_HTTP;
            else if (mode == IMG_TLS_PASSTHROUGH) s->cls = IN_PT;
            else if (mode == IMG_TLS_AUTO_PASSTHROUGH) s->cls = IN_AUTO;
            else s->cls = IN_TCP;
            if (s->cls == IN_AUTO) c->have_auto_passthrough = true;
            server_hosts(c, g, s);
            char *k = mc_arena_printf(&c->a, "%u\x1f%s", s->port, s->bind);
            multi_add(groups, k, s);
        }
        in_push(&c->gws, g);
        *mc_strmap_put(&c->gw_by_ref, g->ref, strlen(g->ref), NULL) = g;
    }
    MC_STRMAP_EACH(groups, slot) {
        in_vec *grp = slot->val;
        if (!group_complex(c, grp)) continue;
        for (uint32_t i = 0; i < grp->n; i++) ((in_srv *)grp->v[i])->gw->complex = true;
    }
}

/* ------------------------------------------------------------ the walk */

static bool keep_ir;
static mc_ir *kept_ir;
static bool dest_unsafe(in_ctx *c, const mc_node *dst, const char *host, const char *subset);
static bool vs_suspect(in_ctx *c, in_vs *v);

/* One destination: marks the subset it names (MSH0618); a route destination
** of a gateway-bound VirtualService may make it a suspect (MSH0615-0616). */
static void one_dest(in_ctx *c, in_vs *v, const mc_node *dst, bool judge)
{
    static const char *const names[] = { "host", "subset" };
    const mc_node *f[2];
    in_fields(dst, names, 2, f);
    const char *h = mc_str(f[0]), *sub = mc_str(f[1]);
    if (!h) {
        v->unsafe = v->unsafe || judge;
        return;
    }
    const char *host = mc_host_fqdn(&c->a, h, v->obj->o.ns, c->domain);
    if (sub && *sub) in_model_ref(c, host, sub);
    if (judge && !v->unsafe) v->unsafe = dest_unsafe(c, dst, host, sub);
}

/* Every destination: the routes of http, tls and tcp rules, http mirrors. */
static void walk_dests(in_ctx *c, in_vs *v, bool gateway)
{
    static const char *const sections[] = { "http", "tls", "tcp" };
    for (int s = 0; s < 3; s++) {
        const mc_node *rules = in_seq(v->obj->spec, sections[s]);
        MC_SEQ_EACH(rules, i) {
            const mc_node *e = mc_item(rules, i), *route = in_seq(e, "route");
            MC_SEQ_EACH(route, j) one_dest(c, v, in_map(mc_item(route, j), "destination"), gateway);
            if (s) continue;
            const mc_node *mirror = in_map(e, "mirror"), *ms = in_seq(e, "mirrors");
            if (mirror) one_dest(c, v, mirror, false);
            MC_SEQ_EACH(ms, j) one_dest(c, v, in_map(mc_item(ms, j), "destination"), false);
        }
    }
}

static void parse_vs(in_ctx *c, const mc_obj *o)
{
    in_vs *v = mc_arena_zalloc(&c->a, sizeof *v);
    v->obj = o;
    const char *ns = o->o.ns;
    const mc_node *hosts = in_seq(o->spec, "hosts");
    uint32_t nh = mc_len(hosts);
    v->hosts = mc_arena_alloc(&c->a, (nh + 1) * sizeof *v->hosts);
    v->hnodes = mc_arena_alloc(&c->a, (nh + 1) * sizeof *v->hnodes);
    MC_SEQ_EACH(hosts, i) {
        const char *h = mc_text(mc_item(hosts, i));
        if (!h) continue;
        v->hnodes[v->nhosts] = mc_item(hosts, i);
        v->hosts[v->nhosts++] = mc_host_fqdn(&c->a, h, ns, c->domain);
    }
    const mc_node *gws = in_seq(o->spec, "gateways");
    uint32_t ng = mc_len(gws);
    v->gws = mc_arena_alloc(&c->a, (ng + 1) * sizeof *v->gws);
    if (!ng) v->mesh = true;
    MC_SEQ_EACH(gws, i) {
        const char *r = mc_text(mc_item(gws, i));
        if (!r) continue;
        r = mc_gateway_ref(&c->a, r, ns);
        if (strcmp(r, "mesh") == 0) { v->mesh = true; continue; }
        in_gw *g = in_gateway(c, r);
        bool dup = false;
        for (uint32_t k = 0; k < v->ngws && !dup; k++) dup = v->gws[k] == g;
        if (!g || dup) continue;
        v->gws[v->ngws++] = g;
        if (v->nhosts) in_push(&g->bound, v);
    }
    in_push(&c->vss, v);
    *mc_strmap_put(&c->vs_by_obj, (const char *)&v->obj, sizeof v->obj, NULL) = v;
    walk_dests(c, v, v->nhosts && v->ngws);
    /* while the tree is in cache: the model checks, the screen's own triggers */
    in_model_vs(c, v);
    if (!v->nhosts || !v->ngws) return;
    if (!keep_ir && vs_suspect(c, v)) v->suspect = true;
    for (uint32_t i = 0; i < v->nhosts; i++) mc_hostset_add(&c->vs_hosts, v->hosts[i], v);
    /* sniHosts of tls matches that apply, per gateway and port (PASSTHROUGH
    ** coverage, trigger below) */
    const mc_node *tls = in_seq(o->spec, "tls");
    MC_SEQ_EACH(tls, i) {
        const mc_node *e = mc_item(tls, i);
        if (!mc_len(in_seq(e, "route"))) continue;
        const mc_node *ms = in_seq(e, "match");
        MC_SEQ_EACH(ms, j) {
            const mc_node *m = mc_item(ms, j), *sni = in_seq(m, "sniHosts"), *mg = in_seq(m, "gateways");
            uintptr_t port = in_port(m, "port");
            for (uint32_t k = 0; k < v->ngws; k++) {
                bool applies = !mc_len(mg);
                MC_SEQ_EACH(mg, x) {
                    const char *r = mc_text(mc_item(mg, x));
                    applies = applies || (r && strcmp(mc_gateway_ref(&c->a, r, ns), v->gws[k]->ref) == 0);
                }
                if (!applies) continue;
                MC_SEQ_EACH(sni, x) {
                    const char *s = mc_text(mc_item(sni, x));
                    if (s) mc_hostset_add(&v->gws[k]->sni, s, (void *)(port + 1));
                }
            }
        }
    }
}

/* ------------------------------------------------------------ the screen */

/* May the gateway's cluster for this destination be missing, or have no
** endpoint (MSH0615, MSH0616)? False only when the one service of the host
** and the one rule with the subset are visible everywhere and give an
** endpoint whatever the gateway's namespace and port. */
static bool dest_unsafe(in_ctx *c, const mc_node *dst, const char *host, const char *subset)
{
    const in_vec *sv = in_services(c, host);
    if (!sv || sv->n != 1) return true;
    const in_svc *s = sv->v[0];
    if (!s->pub || s->external_name) return true;
    uint32_t port = in_port(in_map(dst, "port"), "number");
    const mc_node *p = NULL;
    if (!port) {
        if (mc_len(s->ports) != 1) return true;
        p = mc_item(s->ports, 0);
    } else {
        MC_SEQ_EACH(s->ports, i)
            if (!p && in_port(mc_item(s->ports, i), s->k8s ? "port" : "number") == port) p = mc_item(s->ports, i);
    }
    if (!p) return true;
    const char *proto = in_str(p, "protocol");
    if (proto && strcasecmp(proto, "UDP") == 0) return true;
    const mc_node *labels = NULL;
    if (subset && *subset) {
        /* one rule for the host (lowering skips those with a workloadSelector) */
        const in_vec *dv = in_drules(c, s->host);
        const in_dr *d = NULL;
        for (uint32_t i = 0; dv && i < dv->n; i++) {
            const in_dr *x = dv->v[i];
            if (x->selector) continue;
            if (d) return true;
            d = x;
        }
        if (!d || !d->pub) return true;
        const mc_node *ss = d->subsets, *found = NULL;
        MC_SEQ_EACH(ss, i) {
            const char *nm = in_str(mc_item(ss, i), "name");
            if (nm && strcmp(nm, subset) == 0 && !found) found = mc_item(ss, i);
        }
        if (!found) return true;
        labels = in_map(found, "labels");
    }
    if (s->k8s || s->res == IN_RES_DYNAMIC) return false;     /* endpoints not judged */
    uint32_t neps = mc_len(s->endpoints);
    if (!neps) {
        if (s->selector) return false;                         /* workloads decide */
        if (s->res == IN_RES_NONE || s->res == IN_RES_STATIC) return true;
        return labels && mc_len(labels);                       /* the host, without labels */
    }
    if (!labels || !mc_len(labels)) return false;
    MC_SEQ_EACH(s->endpoints, i)
        if (mc_labels_match(labels, in_map(mc_item(s->endpoints, i), "labels"))) return false;
    return true;
}

int in_reach_slot(int cls) { return cls == IN_HTTP ? 0 : cls == IN_PT ? 1 : cls == IN_TCP ? 2 : -1; }

static void reach_port(in_reach *r, int k, uint32_t port)
{
    for (uint32_t i = 0; i < r->nports[k]; i++)
        if (r->ports[k][i] == port) return;
    if (r->nports[k] < IN_REACH_PORTS) r->ports[k][r->nports[k]++] = port;
    else r->many = true;
}

void in_reach_add(in_reach *r, const in_srv *s)
{
    r->cls |= s->cls;
    int k = in_reach_slot(s->cls);
    if (k < 0) return;
    if (!r->first[k]) r->first[k] = s;
    reach_port(r, k, s->port);
}

bool in_reach_fn(void *ud, const char *host, void *val)
{
    (void)host;
    in_reach_add(ud, val);
    return true;
}

void in_reach_merge(in_reach *all, const in_reach *one)
{
    all->cls |= one->cls;
    all->many = all->many || one->many;
    for (int k = 0; k < 3; k++) {
        if (!all->first[k]) all->first[k] = one->first[k];
        for (uint32_t i = 0; i < one->nports[k]; i++) reach_port(all, k, one->ports[k][i]);
    }
}

bool in_reach_port(const in_reach *r, int cls, uint32_t port)
{
    int k = in_reach_slot(cls);
    if (r->many) return true;
    for (uint32_t i = 0; k >= 0 && i < r->nports[k]; i++)
        if (r->ports[k][i] == port) return true;
    return false;
}

/* A match's gateways let it apply on g: none listed, or g among them. */
static bool match_on(in_ctx *c, const mc_node *m, const char *ns, const in_gw *g)
{
    const mc_node *mg = in_seq(m, "gateways");
    if (!mc_len(mg)) return true;
    MC_SEQ_EACH(mg, i) {
        const char *r = mc_text(mc_item(mg, i));
        if (r && strcmp(mc_gateway_ref(&c->a, r, ns), g->ref) == 0) return true;
    }
    return false;
}

static bool source_conditions(const mc_node *m)
{
    return mc_len(in_map(m, "sourceLabels")) || (in_str(m, "sourceNamespace") && *in_str(m, "sourceNamespace"));
}

/* One section (http, tls or tcp) on one gateway: false when a match could
** be dropped for its port (MSH0601, MSH0602) or by source conditions;
** *applies when some rule can route there. */
static bool section_ok(in_ctx *c, const mc_node *rules, int cls, const in_reach *r, const char *ns, const in_gw *g, bool *applies)
{
    MC_SEQ_EACH(rules, i) {
        const mc_node *e = mc_item(rules, i), *ms = in_seq(e, "match");
        bool routes = cls == IN_HTTP || mc_len(in_seq(e, "route"));
        if (!mc_len(ms)) {
            if (cls != IN_PT && routes && (r->cls & cls)) *applies = true;
            continue;
        }
        MC_SEQ_EACH(ms, j) {
            const mc_node *m = mc_item(ms, j);
            if (source_conditions(m)) return false;
            if (!match_on(c, m, ns, g)) continue;
            if (!(r->cls & cls)) continue;
            uint32_t port = in_port(m, "port");
            if (port && !in_reach_port(r, cls, port)) return false;
            if (routes) *applies = true;
        }
    }
    return true;
}

/* The rows lowering builds from the http rules, ignoring what drops on a
** gateway removes (dropping never adds coverage): a pair where an earlier
** row covers a later one, or a catch-all before the end, may be a finding
** (MSH0610-0612). */
#define SCREEN_ROWS 64

static bool rows_suspect(in_ctx *c, const mc_node *http)
{
    in_row rows[SCREEN_ROWS];
    mc_vec scratch[SCREEN_ROWS];
    uint32_t n = 0;
    bool bad = false;
    MC_SEQ_EACH(http, i) {
        const mc_node *e = mc_item(http, i), *ms = in_seq(e, "match");
        if (in_map(e, "delegate")) { bad = true; break; }
        uint32_t k = mc_len(ms) ? mc_len(ms) : 1;
        for (uint32_t j = 0; j < k && !bad; j++) {
            if (n == SCREEN_ROWS) { bad = true; break; }
            mc_vec_init(&scratch[n], sizeof(mc_ir_matcher));
            rows[n] = in_row_raw(c, mc_len(ms) ? mc_item(ms, j) : NULL, &scratch[n]);
            n++;
        }
        if (bad) break;
    }
    for (uint32_t j = 0; j < n && !bad; j++) {
        if (rows[j].catch_all && j + 1 < n) bad = true;
        for (uint32_t i = 0; i < j && !bad; i++) bad = in_row_covers(c, &rows[i], &rows[j]);
    }
    for (uint32_t i = 0; i < n; i++) mc_vec_free(&scratch[i]);
    return bad;
}

typedef struct overlap { const in_vs *self; bool any; } overlap;

static bool on_overlap(void *ud, const char *host, void *val)
{
    (void)host;
    overlap *o = ud;
    if (val == o->self) return true;
    o->any = true;
    ((in_vs *)val)->suspect = true;
    return false;
}

/* MSH0611, 0613, 0614, 0609: a host another gateway-bound VirtualService
** shares (both become suspects) */
static void overlaps(in_ctx *c, in_vs *v)
{
    overlap ov = { v, false };
    for (uint32_t i = 0; i < v->nhosts && !ov.any; i++) mc_hostset_each(&c->vs_hosts, v->hosts[i], on_overlap, &ov);
    if (ov.any) v->suspect = true;
}

/* Could lowering this gateway-bound VirtualService give a finding, by
** itself (overlaps() looks at the others)? */
static bool vs_suspect(in_ctx *c, in_vs *v)
{
    const mc_node *sp = v->obj->spec;
    const char *ns = v->obj->o.ns;
    /* MSH0604: hidden from some gateway namespace */
    if (!export_public(in_seq(sp, "exportTo"), ns, c, NULL)) return true;
    const mc_node *http = in_seq(sp, "http"), *tls = in_seq(sp, "tls"), *tcp = in_seq(sp, "tcp");
    /* MSH0610, 0612 (and delegation, which merges other rows in) */
    if (rows_suspect(c, http)) return true;
    /* MSH0615, 0616 */
    if (v->unsafe) return true;
    for (uint32_t k = 0; k < v->ngws; k++) {
        in_gw *g = v->gws[k];
        if (g->complex) return true;
        in_reach all;
        memset(&all, 0, sizeof all);
        for (uint32_t i = 0; i < v->nhosts; i++) {
            in_reach one;
            memset(&one, 0, sizeof one);
            in_srv_each(g, ns, v->hosts[i], in_reach_fn, &one);
            /* MSH0605: http routes, but this host only on L4 servers */
            if (mc_len(http) && one.cls && !(one.cls & IN_HTTP) && (one.cls & (IN_PT | IN_TCP))) return true;
            in_reach_merge(&all, &one);
        }
        if (!all.cls) continue;     /* no server shares a host: IST0132 */
        /* MSH0606 */
        if ((mc_len(tls) && !(all.cls & IN_PT)) || (mc_len(tcp) && !(all.cls & IN_TCP))) return true;
        /* MSH0601, 0602, 0604 */
        bool applies = false;
        if (!section_ok(c, http, IN_HTTP, &all, ns, g, &applies) || !section_ok(c, tls, IN_PT, &all, ns, g, &applies) ||
            !section_ok(c, tcp, IN_TCP, &all, ns, g, &applies))
            return true;
        if (!applies) return true;
    }
    return false;
}

/* Listener-wide checks (MSH0607, MSH0608) need every VirtualService of the
** gateway: is any PASSTHROUGH host without an SNI, or TCP server without a
** tcp rule? */
static bool sni_on_port(void *ud, const char *host, void *val)
{
    (void)host;
    uintptr_t *port = ud, p = (uintptr_t)val;
    if (p == 1 || p == *port + 1) { *port = 0; return false; }
    return true;
}

typedef struct tcp_find { in_ctx *c; const in_srv *s; const in_vs *v; bool found; } tcp_find;

static bool on_tcp_server(void *ud, const char *host, void *val)
{
    (void)host;
    tcp_find *f = ud;
    if (val != f->s) return true;
    const mc_node *tcp = in_seq(f->v->obj->spec, "tcp");
    MC_SEQ_EACH(tcp, i) {
        const mc_node *e = mc_item(tcp, i), *ms = in_seq(e, "match");
        if (!mc_len(in_seq(e, "route"))) continue;
        bool ok = !mc_len(ms);
        MC_SEQ_EACH(ms, j) {
            const mc_node *m = mc_item(ms, j);
            uint32_t p = in_port(m, "port");
            ok = ok || ((!p || p == f->s->port) && match_on(f->c, m, f->v->obj->o.ns, f->s->gw));
        }
        if (ok) { f->found = true; return false; }
    }
    return true;
}

static bool gateway_full(in_ctx *c, in_gw *g)
{
    if (g->complex) return true;
    if (!g->bound.n) return false;      /* the checks stay silent then */
    for (uint32_t i = 0; i < g->nsrv; i++) {
        const in_srv *s = &g->srv[i];
        if (s->cls == IN_PT) {
            for (uint32_t h = 0; h < s->nhosts; h++) {
                uintptr_t port = s->port;
                mc_hostset_each(&g->sni, s->hosts[h], sni_on_port, &port);
                if (port) return true;
            }
        } else if (s->cls == IN_TCP) {
            tcp_find f = { c, s, NULL, false };
            for (uint32_t k = 0; k < g->bound.n && !f.found; k++) {
                f.v = g->bound.v[k];
                for (uint32_t h = 0; h < f.v->nhosts && !f.found; h++)
                    in_srv_each(g, f.v->obj->o.ns, f.v->hosts[h], on_tcp_server, &f);
            }
            if (!f.found) return true;
        }
    }
    return false;
}

/* ------------------------------------------------------------ what to lower */

static bool on_closure(void *ud, const char *host, void *val)
{
    (void)host;
    in_vec *work = ud;
    in_vs *o = val;
    if (!o->included) {
        o->included = true;
        in_push(work, o);
    }
    return true;
}

/* The suspects, the VirtualServices of full Gateways, and whatever shares a
** host with any of them, transitively (a virtual host, an SNI or a TCP
** server's hosts are shared only between overlapping hosts). Returns the
** number of VirtualServices to lower. */
static uint32_t select_vs(in_ctx *c, mc_strmap *groups)
{
    in_vec work = { NULL, 0, 0 };
    /* a full Gateway's listeners hold the servers other Gateways have on
    ** the same ports: their VirtualServices are lowered too */
    mc_strmap ports;
    mc_strmap_init(&ports);
    for (uint32_t i = 0; i < c->gws.n; i++) {
        in_gw *g = c->gws.v[i];
        for (uint32_t s = 0; s < g->nsrv && g->full; s++)
            *mc_strmap_put(&ports, (const char *)&g->srv[s].port, sizeof g->srv[s].port, NULL) = (void *)1;
    }
    if (ports.n)
        MC_STRMAP_EACH(groups, slot) {
            const in_vec *grp = slot->val;
            const in_srv *first = grp->v[0];
            if (!mc_strmap_get(&ports, (const char *)&first->port, sizeof first->port)) continue;
            for (uint32_t x = 0; x < grp->n; x++) {
                in_gw *g = ((in_srv *)grp->v[x])->gw;
                for (uint32_t k = 0; k < g->bound.n; k++) on_closure(&work, NULL, g->bound.v[k]);
            }
        }
    mc_strmap_free(&ports);
    for (uint32_t i = 0; i < c->vss.n; i++) {
        in_vs *v = c->vss.v[i];
        if (v->suspect && v->ngws && v->nhosts) on_closure(&work, NULL, v);
    }
    for (uint32_t i = 0; i < work.n; i++) {
        in_vs *v = work.v[i];
        for (uint32_t h = 0; h < v->nhosts; h++) mc_hostset_each(&c->vs_hosts, v->hosts[h], on_closure, &work);
    }
    uint32_t n = work.n;
    free(work.v);
    for (uint32_t i = 0; i < c->gws.n; i++) {
        in_gw *g = c->gws.v[i];
        g->complete = true;
        for (uint32_t k = 0; k < g->bound.n && g->complete; k++) g->complete = ((in_vs *)g->bound.v[k])->included;
    }
    return n;
}

/* The input as lowering sees it, without the VirtualServices left out. */
static mc_ir *lower_selected(in_ctx *c)
{
    mc_input sub = *c->in;
    sub.objs = mc_xmalloc((c->in->nobjs + 1) * sizeof *sub.objs);
    sub.nobjs = 0;
    for (uint32_t i = 0; i < c->in->nobjs; i++) {
        mc_obj *o = c->in->objs[i];
        if (o->kind == MC_K_VIRTUALSERVICE && !o->shadowed && o->spec) {
            const in_vs *v = in_vs_of(c, o);
            if (v && v->nhosts && !v->included) continue;
        }
        sub.objs[sub.nobjs++] = o;
    }
    mc_lower_opts lo = { c->opt->cluster_domain, c->opt->load.ns };
    mc_ir *ir = mc_lower_workloads(&sub, &lo);
    free(sub.objs);
    return ir;
}

/* ------------------------------------------------------------ the stage */

void mc_insight_keep_ir(bool keep) { keep_ir = keep; }

mc_ir *mc_insight_take_ir(void)
{
    mc_ir *ir = kept_ir;
    kept_ir = NULL;
    return ir;
}

void mc_insight(mc_input *in, const mc_check_opts *opt)
{
    if (opt->analyzers && opt->nanalyzers) return;
    in_ctx c;
    memset(&c, 0, sizeof c);
    c.in = in;
    c.opt = opt;
    c.domain = opt->cluster_domain ? opt->cluster_domain : "cluster.local";    /* as lowering */
    mc_arena_init(&c.a);
    mc_strmap_init(&c.gw_by_ref);
    mc_strmap_init(&c.vs_by_obj);
    mc_strmap_init(&c.svc_by_host);
    mc_strmap_init(&c.dr_by_host);
    mc_strmap_init(&c.seen);
    mc_strmap_init(&c.regex);
    mc_hostset_init(&c.vs_hosts, &c.a);
    mc_buf_init(&c.key);
    mc_strmap groups;           /* "port\x1fbind" -> in_vec of in_srv* */
    mc_strmap_init(&groups);

    index_gateways(&c, &groups);
    index_services(&c);
    index_drs(&c);
    for (uint32_t i = 0; i < in->nobjs; i++)
        if (live(in->objs[i], MC_K_VIRTUALSERVICE)) parse_vs(&c, in->objs[i]);
    for (uint32_t i = 0; i < c.vss.n && !keep_ir; i++) {
        in_vs *v = c.vss.v[i];
        if (v->nhosts && v->ngws && !v->suspect) overlaps(&c, v);
    }
    in_model_drs(&c);

    if (keep_ir) {
        /* build: lower everything once, as emitting needs it */
        mc_lower_opts lo = { opt->cluster_domain, opt->load.ns };
        c.ir = mc_lower(in, &lo);
        c.ir_full = true;
        for (uint32_t i = 0; i < c.gws.n; i++) ((in_gw *)c.gws.v[i])->complete = true;
        for (uint32_t i = 0; i < c.vss.n; i++) ((in_vs *)c.vss.v[i])->included = true;
    } else {
        for (uint32_t i = 0; i < c.gws.n; i++) {
            in_gw *g = c.gws.v[i];
            g->full = gateway_full(&c, g);
        }
        if (select_vs(&c, &groups)) c.ir = lower_selected(&c);
    }
    if (c.ir) {
        in_ir_gateways(&c);
        in_ir_vhosts(&c);
    }

    if (keep_ir) kept_ir = c.ir;
    else mc_ir_free(c.ir);
    for (uint32_t i = 0; i < c.gws.n; i++) {
        in_gw *g = c.gws.v[i];
        mc_hostset_free(&g->any);
        mc_hostset_free(&g->sni);
        MC_STRMAP_EACH(&g->by_ns, s) mc_hostset_free(s->val);
        mc_strmap_free(&g->by_ns);
        free(g->bound.v);
    }
    MC_STRMAP_EACH(&c.regex, s)
        if (s->val != &regex_bad) rx_free(s->val);
    mc_strmap_free(&c.regex);
    multi_free(&groups);
    multi_free(&c.svc_by_host);
    multi_free(&c.dr_by_host);
    free(c.dr_wild.v);
    mc_strmap_free(&c.gw_by_ref);
    mc_strmap_free(&c.vs_by_obj);
    mc_strmap_free(&c.seen);
    mc_hostset_free(&c.vs_hosts);
    free(c.vss.v);
    free(c.gws.v);
    free(c.drs.v);
    mc_buf_free(&c.key);
    mc_arena_free(&c.a);
}
