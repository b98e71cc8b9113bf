/*
** lower.c -- resources to decision tables (lower.h), following Istio's
** source function by function; the Go names are given where a function
** mirrors one. Lowering trusts nothing about types (a wrong type is
** treated as absent: the checks report it) and never fails on semantics.
*/
#include "lower.h"
#include "host.h"
#include "image.h"
#include "strmap.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* memcpy that accepts an empty (NULL) source */
static void copy_n(void *dst, const void *src, size_t bytes)
{
    if (bytes) memcpy(dst, src, bytes);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* qsort without the undefined behaviour of a NULL base when n is 0 */
static void sort_n(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n > 1) qsort(base, n, size, cmp);
}

/* ------------------------------------------------------------ small helpers */

typedef struct L L;

/* Field lookup accepting the proto (snake_case) spelling too, as Istio's
** JSON parser does: "sniHosts" also finds "sni_hosts". */
static mc_node *G(const mc_node *m, const char *camel)
{
    if (!m || m->type != MC_MAP) return NULL;
    mc_node *n = mc_get(m, camel);
    if (n) return n;
    char snake[64];
    size_t k = 0;
    bool changed = false;
    for (const char *p = camel; *p && k + 2 < sizeof snake; p++) {
        if (*p >= 'A' && *p <= 'Z') {
            snake[k++] = '_';
            snake[k++] = (char)(*p + 32);
            changed = true;
        } else {
            snake[k++] = *p;
        }
    }
    snake[k] = '\0';
    return changed ? mc_get(m, snake) : NULL;
}

static mc_node *Gm(const mc_node *m, const char *camel)
{
    mc_node *n = G(m, camel);
    return n && n->type == MC_MAP ? n : NULL;
}

static mc_node *Gs(const mc_node *m, const char *camel)
{
    mc_node *n = G(m, camel);
    return n && n->type == MC_SEQ ? n : NULL;
}

static const char *Gstr(const mc_node *m, const char *camel)
{
    return mc_str(G(m, camel));
}

/* scalar text of any type ("80", "true", "x") */
static const char *Gtext(const mc_node *m, const char *camel)
{
    return mc_text(G(m, camel));
}

static bool Gint(const mc_node *m, const char *camel, int64_t *out)
{
    mc_node *n = G(m, camel);
    if (!n) return false;
    if (mc_int(n, out)) return true;
    /* "80" in quotes: Istio's JSON parser takes numeric strings for int64 only;
    ** accept them anyway, the schema stage reports the type */
    const char *s = mc_str(n);
    if (s && *s) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (!*end) { *out = v; return true; }
    }
    return false;
}

static uint32_t Gu32(const mc_node *m, const char *camel, uint32_t def)
{
    int64_t v;
    if (!Gint(m, camel, &v) || v < 0 || v > UINT32_MAX) return def;
    return (uint32_t)v;
}

/* a port number: 1..65535, else 0 (absent or invalid: the checks say which) */
static uint32_t Gport(const mc_node *m, const char *camel)
{
    uint32_t v = Gu32(m, camel, 0);
    return v <= 65535 ? v : 0;
}

static bool Gbool(const mc_node *m, const char *camel, bool def)
{
    mc_node *n = G(m, camel);
    if (!n) return def;
    if (n->type == MC_BOOL) return n->flags & MC_N_TRUE;
    const char *s = mc_str(n);
    if (s && strcmp(s, "true") == 0) return true;
    if (s && strcmp(s, "false") == 0) return false;
    return def;
}

/* BoolValue wrappers may be written as `x: true` or `x: {value: true}` */
static int Gwrapbool(const mc_node *m, const char *camel)
{
    mc_node *n = G(m, camel);
    if (!n || n->type == MC_NULL) return -1;
    if (n->type == MC_MAP) return Gbool(n, "value", false);
    return mc_bool(n, false);
}

static bool Gwrapu32(const mc_node *m, const char *camel, uint32_t *out)
{
    mc_node *n = G(m, camel);
    if (!n || n->type == MC_NULL) return false;
    if (n->type == MC_MAP) n = G(n, "value");
    int64_t v;
    if (!n || !mc_int(n, &v) || v < 0 || v > UINT32_MAX) {
        *out = 0;
        return n != NULL;
    }
    *out = (uint32_t)v;
    return true;
}

bool mc_duration_ms(const char *s, uint64_t *ms)
{
    if (!s || !*s) return false;
    double total = 0;
    const char *p = s;
    if (*p == '+') p++;
    if (strcmp(p, "0") == 0) { *ms = 0; return true; }
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || v < 0 || !isfinite(v)) return false;
        p = end;
        double unit;
        if (strncmp(p, "ns", 2) == 0) { unit = 1e-6; p += 2; }
        else if (strncmp(p, "us", 2) == 0) { unit = 1e-3; p += 2; }
        else if (strncmp(p, "\xc2\xb5s", 3) == 0) { unit = 1e-3; p += 3; }
        else if (strncmp(p, "ms", 2) == 0) { unit = 1; p += 2; }
        else if (*p == 's') { unit = 1000; p++; }
        else if (*p == 'm') { unit = 60000; p++; }
        else if (*p == 'h') { unit = 3600000; p++; }
        else return false;
        total += v * unit;
    }
    if (total > 4294967295.0) total = 4294967295.0;
    uint64_t r = (uint64_t)total;
    if (r == 0 && total > 0) r = 1;
    *ms = r;
    return true;
}

/* Duration fields may also be {seconds, nanos} maps (proto JSON). */
static bool dur_node(const mc_node *n, uint32_t *out)
{
    if (!n || n->type == MC_NULL) return false;
    uint64_t ms = 0;
    if (n->type == MC_MAP) {
        int64_t sec = 0, nanos = 0;
        Gint(n, "seconds", &sec);
        Gint(n, "nanos", &nanos);
        if (sec < 0 || nanos < 0) return false;
        ms = (uint64_t)sec * 1000 + (uint64_t)nanos / 1000000;
    } else if (!mc_duration_ms(mc_text(n), &ms)) {
        return false;
    }
    *out = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
    return true;
}

static bool Gdur(const mc_node *m, const char *camel, uint32_t *out)
{
    return dur_node(G(m, camel), out);
}

/* Percent {value: double} -> per million (Go: uint32(p.Value * 10000)) */
static bool Gpercent(const mc_node *m, const char *camel, uint32_t *pm)
{
    mc_node *n = G(m, camel);
    if (!n || n->type == MC_NULL) return false;
    double v = 0;
    if (n->type == MC_MAP) mc_num(G(n, "value"), &v);
    else mc_num(n, &v);
    if (!(v > 0)) v = 0;
    if (v > 100) v = 100;
    *pm = (uint32_t)(v * 10000);
    return true;
}

/* RFC 3339 creationTimestamp to nanoseconds; absent or unparsable = 0
** (Go's zero time sorts first). */
static int64_t timestamp_ns(const char *s)
{
    if (!s) return 0;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) != 3) return 0;
    const char *p = s + n;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        int k = 0;
        if (sscanf(p, "%2d:%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &k) != 3) return 0;
        p += k;
    }
    int64_t frac = 0;
    if (*p == '.') {
        int64_t scale = 100000000;
        for (p++; *p >= '0' && *p <= '9'; p++) {
            frac += (*p - '0') * scale;
            scale /= 10;
        }
    }
    int64_t off = 0;
    if (*p == '+' || *p == '-') {
        int hh = 0, mm = 0;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) < 1) return 0;
        off = (int64_t)(hh * 3600 + mm * 60) * (*p == '-' ? -1 : 1);
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    return ((int64_t)t - off) * 1000000000 + frac;
}

static const char *lower_dup(mc_arena *a, const char *s)
{
    char *d = mc_arena_strdup(a, s);
    for (char *p = d; *p; p++) *p = (char)tolower((unsigned char)*p);
    return d;
}

static int protocol_of(const char *s)
{
    if (!s) return IMG_PROTO_UNSUPPORTED;
    static const struct { const char *n; int p; } t[] = {
        { "http", IMG_PROTO_HTTP }, { "http2", IMG_PROTO_HTTP2 }, { "grpc", IMG_PROTO_GRPC },
        { "grpc-web", IMG_PROTO_GRPC_WEB }, { "https", IMG_PROTO_HTTPS }, { "tls", IMG_PROTO_TLS },
        { "tcp", IMG_PROTO_TCP }, { "mongo", IMG_PROTO_MONGO }, { "mysql", IMG_PROTO_MYSQL },
        { "redis", IMG_PROTO_REDIS }, { "udp", IMG_PROTO_UDP }, { "http_proxy", IMG_PROTO_HTTP },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcasecmp(s, t[i].n) == 0) return t[i].p;
    return IMG_PROTO_UNSUPPORTED;
}

static bool proto_is_http(int p)
{
    return p == IMG_PROTO_HTTP || p == IMG_PROTO_HTTP2 || p == IMG_PROTO_GRPC || p == IMG_PROTO_GRPC_WEB;
}

#define VEC_PUSH(vec, type) ((type *)mc_vec_push(vec))

/* ------------------------------------------------------------ the lowering context */

typedef struct svc_ep {
    const char *address;
    int kind;
    uint32_t weight;
    const mc_node *labels;          /* map or NULL */
    const mc_node *ports;           /* map port name -> number, or NULL */
    uint32_t fixed_port;            /* k8s pods / DNS self: resolved port, 0 = per port rules */
} svc_ep;

typedef struct svc_port {
    uint32_t number, target;
    const char *name;
    const char *target_name;        /* k8s named targetPort */
    int proto;
} svc_port;

enum { RES_NONE, RES_STATIC, RES_DNS, RES_DNS_RR, RES_DYNAMIC };

typedef struct service {
    const mc_obj *obj;
    const char *host, *ns;
    int resolution;
    bool k8s, mesh_external;
    const char *external_name;      /* k8s ExternalName alias target */
    svc_port *ports; uint32_t nports;
    svc_ep *eps; uint32_t neps;
    bool dns_self;                  /* DNS resolution without endpoints: the host itself */
    bool export_public, export_none;
    const char **export_ns; uint32_t nexport_ns;
    uint32_t order;
} service;

typedef struct dr_subset { const char *name; const mc_node *node, *labels, *policy; } dr_subset;

typedef struct drule {
    const mc_obj *obj;
    const char *host;
    const mc_node *policy;
    dr_subset *subsets; uint32_t nsubsets;
    bool export_public, export_none;
    const char **export_ns; uint32_t nexport_ns;
    uint32_t order;
} drule;

typedef struct workload {
    const char *ns;
    mc_kv *labels; uint32_t nlabels;
    const mc_node *label_node;      /* map node, or NULL (synthesized) */
    mc_kv *lab_storage;
} workload;

/* the proxy a view is computed for */
typedef struct proxy {
    const char *ns;
    const mc_kv *labels; uint32_t nlabels;
    const char *view_name;
    bool mesh;
} proxy;

struct L {
    mc_ir *ir;
    mc_arena *a;
    const mc_lower_opts *opt;
    const char *domain;
    /* model */
    const mc_obj **gateways; uint32_t ngateways;
    mc_vs *delegates; uint32_t ndelegates;
    service *svcs; uint32_t nsvcs;
    drule *drs; uint32_t ndrs;
    mc_strmap svc_by_host;          /* host -> mc_vec* of service* */
    mc_strmap dr_by_host;           /* host -> mc_vec* of drule* */
    mc_strmap vs_by_gw;             /* gateway name -> mc_vec* of mc_vs* (Istio order) */
    mc_strmap clusters;             /* name NUL service DR pointers -> mc_ir_cluster* */
    mc_vec cluster_list;            /* mc_ir_cluster* */
    mc_buf scratch;                 /* lookup keys that need not outlive the lookup */
    mc_vec dr_wild;                 /* drule* with wildcard hosts */
    const mc_input *in;
    mc_vec srv_indexes;             /* struct mc_srv_index*, freed at the end */
    mc_strmap gwcache;              /* per view: gateway name -> gw_vs* */
    mc_strmap delegate_by_name;     /* "ns/name" -> mc_vs* of delegate VSs */
    /* per view */
    const proxy *px;
};

static const char *export_default = "*";

static void parse_export(L *l, const mc_node *list, const char *ns, bool *pub, bool *none,
                         const char ***out, uint32_t *nout)
{
    *pub = false;
    *none = false;
    *out = NULL;
    *nout = 0;
    uint32_t n = mc_len(list);
    if (!list || list->type != MC_SEQ || n == 0) {
        *pub = strcmp(export_default, "*") == 0;
        return;
    }
    const char **v = mc_arena_zalloc(l->a, n * sizeof *v);
    uint32_t k = 0;
    MC_SEQ_EACH(list, i) {
        const char *s = mc_text(mc_item(list, i));
        if (!s) continue;
        if (strcmp(s, "*") == 0) *pub = true;
        else if (strcmp(s, "~") == 0) *none = true;
        else v[k++] = strcmp(s, ".") == 0 ? ns : s;
    }
    if (*pub) *none = false;
    *out = v;
    *nout = k;
}

static bool export_visible(bool pub, bool none, const char *const *ns, uint32_t n, const char *to)
{
    if (pub) return true;
    if (none) return false;
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(ns[i], to) == 0) return true;
    return false;
}

static void drop(L *l, mc_drop_reason r, const mc_obj *obj, const mc_node *at, uint32_t port, const char *detail)
{
    mc_ir_drop *d = VEC_PUSH(&l->ir->drops, mc_ir_drop);
    d->reason = r;
    d->obj = obj;
    d->at = at;
    d->view = l->px ? l->px->view_name : "";
    d->port = port;
    d->detail = detail;
}

static int cmp_obj_order(const void *a, const void *b)
{
    const mc_obj *x = *(const mc_obj *const *)a, *y = *(const mc_obj *const *)b;
    int64_t tx = timestamp_ns(x->created), ty = timestamp_ns(y->created);
    if (tx != ty) return tx < ty ? -1 : 1;
    int c = strcmp(x->o.name, y->o.name);
    if (c) return c;
    return strcmp(x->o.ns, y->o.ns);
}

/* Live objects of a kind, in Istio's config order (creationTimestamp, name, namespace). */
static const mc_obj **objs_of(L *l, mc_kind k, uint32_t *n)
{
    uint32_t c = 0;
    for (uint32_t i = 0; i < l->in->nobjs; i++)
        if (l->in->objs[i]->kind == k && !l->in->objs[i]->shadowed && l->in->objs[i]->spec) c++;
    const mc_obj **v = mc_arena_zalloc(l->a, (c + 1) * sizeof *v);
    c = 0;
    for (uint32_t i = 0; i < l->in->nobjs; i++)
        if (l->in->objs[i]->kind == k && !l->in->objs[i]->shadowed && l->in->objs[i]->spec) v[c++] = l->in->objs[i];
    sort_n(v, c, sizeof *v, cmp_obj_order);
    *n = c;
    return v;
}

static void multimap_add(L *l, mc_strmap *m, const char *key, void *val)
{
    (void)l;
    bool found;
    void **slot = mc_strmap_put(m, key, strlen(key), &found);
    if (!found) {
        mc_vec *v = mc_xcalloc(1, sizeof *v);
        mc_vec_init(v, sizeof(void *));
        *slot = v;
    }
    *(void **)mc_vec_push(*slot) = val;
}

static void multimap_free(mc_strmap *m)
{
    MC_STRMAP_EACH(m, s) {
        mc_vec_free(s->val);
        free(s->val);
    }
    mc_strmap_free(m);
}

static mc_vec *multimap_get(const mc_strmap *m, const char *key)
{
    return mc_strmap_get(m, key, strlen(key));
}

/* ------------------------------------------------------------ VirtualServices */

static const char **str_list(L *l, const mc_node *seq, uint32_t *n)
{
    uint32_t c = mc_len(seq);
    *n = 0;
    if (!seq || seq->type != MC_SEQ || !c) return NULL;
    const char **v = mc_arena_zalloc(l->a, c * sizeof *v);
    MC_SEQ_EACH(seq, i) {
        const char *s = mc_text(mc_item(seq, i));
        if (s) v[(*n)++] = s;
    }
    return v;
}

static const char **gateway_list(L *l, const mc_node *seq, const char *ns, uint32_t *n)
{
    const char **v = str_list(l, seq, n);
    for (uint32_t i = 0; i < *n; i++) v[i] = mc_gateway_ref(l->a, v[i], ns);
    return v;
}

static mc_strmatch strmatch(const mc_node *n)
{
    mc_strmatch m = { MC_SM_NONE, NULL, n };
    if (!n || n->type == MC_NULL) { m.node = NULL; return m; }
    if (n->type != MC_MAP) { m.kind = MC_SM_PRESENT; return m; }
    const char *v;
    if ((v = Gtext(n, "exact"))) { m.kind = MC_SM_EXACT; m.value = v; }
    else if ((v = Gtext(n, "prefix"))) { m.kind = MC_SM_PREFIX; m.value = v; }
    else if ((v = Gtext(n, "regex"))) { m.kind = MC_SM_REGEX; m.value = v; }
    else m.kind = MC_SM_PRESENT;
    return m;
}

static mc_kv_match *kv_matches(L *l, const mc_node *map, uint32_t *n)
{
    *n = 0;
    if (!map || map->type != MC_MAP || !mc_len(map)) return NULL;
    mc_kv_match *v = mc_arena_zalloc(l->a, mc_len(map) * sizeof *v);
    MC_MAP_EACH(map, i) {
        v[*n].name = mc_key(map, i)->u.s;
        v[*n].m = strmatch(mc_val(map, i));
        if (!v[*n].m.node) v[*n].m.node = mc_val(map, i), v[*n].m.kind = MC_SM_PRESENT;
        (*n)++;
    }
    return v;
}

static mc_kv *kv_list(L *l, const mc_node *map, uint32_t *n)
{
    *n = 0;
    if (!map || map->type != MC_MAP || !mc_len(map)) return NULL;
    mc_kv *v = mc_arena_zalloc(l->a, mc_len(map) * sizeof *v);
    MC_MAP_EACH(map, i) {
        const char *val = mc_text(mc_val(map, i));
        v[*n].key = mc_key(map, i)->u.s;
        v[*n].value = val ? val : "";
        (*n)++;
    }
    return v;
}

static void parse_http_match(L *l, const mc_node *m, uint32_t idx, const char *ns, mc_http_match *out)
{
    memset(out, 0, sizeof *out);
    out->node = m;
    out->index = idx;
    out->name = Gstr(m, "name");
    out->uri = strmatch(G(m, "uri"));
    out->scheme = strmatch(G(m, "scheme"));
    out->method = strmatch(G(m, "method"));
    out->authority = strmatch(G(m, "authority"));
    out->headers = kv_matches(l, Gm(m, "headers"), &out->nheaders);
    out->without = kv_matches(l, Gm(m, "withoutHeaders"), &out->nwithout);
    out->query = kv_matches(l, Gm(m, "queryParams"), &out->nquery);
    out->ignore_uri_case = Gbool(m, "ignoreUriCase", false);
    out->port = Gport(m, "port");
    out->source_labels = kv_list(l, Gm(m, "sourceLabels"), &out->nsource_labels);
    out->source_namespace = Gstr(m, "sourceNamespace");
    out->gateways = gateway_list(l, Gs(m, "gateways"), ns, &out->ngateways);
}

static void parse_dest(L *l, const mc_node *rd, const mc_node *dst, const char *ns, mc_dest *out)
{
    memset(out, 0, sizeof *out);
    out->node = rd ? rd : dst;
    const char *h = Gstr(dst, "host");
    out->host = h ? mc_host_fqdn(l->a, h, ns, l->domain) : "";
    out->subset = Gstr(dst, "subset");
    if (!out->subset) out->subset = "";
    out->port = Gport(Gm(dst, "port"), "number");
    int64_t w = 0;
    if (rd && Gint(rd, "weight", &w) && w > 0) out->weight = w;
    out->headers = rd ? Gm(rd, "headers") : NULL;
}

static mc_dest *parse_dests(L *l, const mc_node *seq, const char *ns, uint32_t *n)
{
    *n = 0;
    if (!seq || seq->type != MC_SEQ || !mc_len(seq)) return NULL;
    mc_dest *v = mc_arena_zalloc(l->a, mc_len(seq) * sizeof *v);
    MC_SEQ_EACH(seq, i) {
        const mc_node *rd = mc_item(seq, i);
        parse_dest(l, rd, Gm(rd, "destination"), ns, &v[(*n)++]);
    }
    return v;
}

static void parse_http_route(L *l, const mc_vs *vs, const mc_node *h, uint32_t idx, const char *ns, mc_http_route *out)
{
    memset(out, 0, sizeof *out);
    out->vs = vs;
    out->node = h;
    out->index = idx;
    out->name = Gstr(h, "name");
    if (!out->name) out->name = "";
    const mc_node *ms = Gs(h, "match");
    if (ms && mc_len(ms)) {
        out->matches = mc_arena_zalloc(l->a, mc_len(ms) * sizeof *out->matches);
        MC_SEQ_EACH(ms, j) parse_http_match(l, mc_item(ms, j), j, ns, &out->matches[out->nmatches++]);
    }
    out->dests = parse_dests(l, Gs(h, "route"), ns, &out->ndests);
    out->redirect = Gm(h, "redirect");
    out->direct_response = Gm(h, "directResponse");
    out->rewrite = Gm(h, "rewrite");
    out->timeout = G(h, "timeout");
    out->retries = Gm(h, "retries");
    out->fault = Gm(h, "fault");
    out->mirror = Gm(h, "mirror");
    out->mirror_percent = G(h, "mirrorPercent");
    out->mirror_percentage = G(h, "mirrorPercentage");
    out->mirrors = Gs(h, "mirrors");
    out->cors = Gm(h, "corsPolicy");
    out->headers = Gm(h, "headers");
}

static mc_l4_route *parse_l4(L *l, const mc_node *seq, const char *ns, bool tls, uint32_t *n)
{
    *n = 0;
    if (!seq || seq->type != MC_SEQ || !mc_len(seq)) return NULL;
    mc_l4_route *v = mc_arena_zalloc(l->a, mc_len(seq) * sizeof *v);
    MC_SEQ_EACH(seq, i) {
        const mc_node *e = mc_item(seq, i);
        mc_l4_route *r = &v[(*n)++];
        r->node = e;
        r->index = i;
        const mc_node *ms = Gs(e, "match");
        if (ms && mc_len(ms)) {
            r->matches = mc_arena_zalloc(l->a, mc_len(ms) * sizeof *r->matches);
            MC_SEQ_EACH(ms, j) {
                const mc_node *m = mc_item(ms, j);
                mc_l4_match *lm = &r->matches[r->nmatches++];
                lm->node = m;
                lm->port = Gport(m, "port");
                lm->gateways = gateway_list(l, Gs(m, "gateways"), ns, &lm->ngateways);
                if (tls) lm->sni = str_list(l, Gs(m, "sniHosts"), &lm->nsni);
            }
        }
        r->dests = parse_dests(l, Gs(e, "route"), ns, &r->ndests);
    }
    return v;
}

static void parse_vs(L *l, const mc_obj *o, mc_vs *vs)
{
    memset(vs, 0, sizeof *vs);
    vs->obj = o;
    const char *ns = o->o.ns;
    vs->hosts = str_list(l, Gs(o->spec, "hosts"), &vs->nhosts);
    for (uint32_t i = 0; i < vs->nhosts; i++) vs->hosts[i] = mc_host_fqdn(l->a, vs->hosts[i], ns, l->domain);
    vs->gateways = gateway_list(l, Gs(o->spec, "gateways"), ns, &vs->ngateways);
    if (vs->ngateways == 0) {
        vs->gateways = mc_arena_zalloc(l->a, sizeof *vs->gateways);
        vs->gateways[0] = "mesh";
        vs->ngateways = 1;
    }
    parse_export(l, Gs(o->spec, "exportTo"), ns, &vs->export_public, &vs->export_none, &vs->export_ns, &vs->nexport_ns);
    const mc_node *http = Gs(o->spec, "http");
    if (http && mc_len(http)) {
        vs->http = mc_arena_zalloc(l->a, mc_len(http) * sizeof *vs->http);
        MC_SEQ_EACH(http, i) parse_http_route(l, vs, mc_item(http, i), i, ns, &vs->http[vs->nhttp++]);
    }
    vs->tls = parse_l4(l, Gs(o->spec, "tls"), ns, true, &vs->ntls);
    vs->tcp = parse_l4(l, Gs(o->spec, "tcp"), ns, false, &vs->ntcp);
}

/* ---- delegation (model/virtualservice.go mergeHTTPRoute) */

static bool sm_set(const mc_strmatch *m) { return m->kind != MC_SM_NONE; }
static const char *sm_get(const mc_strmatch *m, mc_sm_kind k) { return m->kind == k && m->value ? m->value : ""; }

static bool strmatch_conflict(const mc_strmatch *root, const mc_strmatch *leaf)
{
    if (!sm_set(root) || !sm_set(leaf)) return false;
    const char *rr = sm_get(root, MC_SM_REGEX), *lr = sm_get(leaf, MC_SM_REGEX);
    const char *re = sm_get(root, MC_SM_EXACT), *le = sm_get(leaf, MC_SM_EXACT);
    const char *rp = sm_get(root, MC_SM_PREFIX), *lp = sm_get(leaf, MC_SM_PREFIX);
    if (*rr && (*lr || *lp || *le)) return true;
    if (*lr && (*rr || *rp || *re)) return true;
    if (*re) {
        if (*lp) return true;
        return strcmp(le, re) != 0;
    }
    if (*rp) {
        if (*lp) return strncmp(lp, rp, strlen(rp)) != 0;
        if (*le) return strncmp(le, rp, strlen(rp)) != 0;
    }
    return true;
}

static const mc_strmatch *kv_find(const mc_kv_match *v, uint32_t n, const char *name)
{
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0) return &v[i].m;
    return NULL;
}

static bool has_conflict(const mc_http_match *root, const mc_http_match *leaf)
{
    static const mc_strmatch none = { MC_SM_NONE, NULL, NULL };
    if (strmatch_conflict(&root->uri, &leaf->uri) || strmatch_conflict(&root->scheme, &leaf->scheme) ||
        strmatch_conflict(&root->method, &leaf->method) || strmatch_conflict(&root->authority, &leaf->authority))
        return true;
    for (uint32_t i = 0; i < leaf->nheaders; i++) {
        const mc_strmatch *r = kv_find(root->headers, root->nheaders, leaf->headers[i].name);
        if (strmatch_conflict(r ? r : &none, &leaf->headers[i].m)) return true;
    }
    for (uint32_t i = 0; i < leaf->nwithout; i++) {
        const mc_strmatch *r = kv_find(root->without, root->nwithout, leaf->without[i].name);
        if (strmatch_conflict(r ? r : &none, &leaf->without[i].m)) return true;
    }
    for (uint32_t i = 0; i < leaf->nquery; i++) {
        const mc_strmatch *r = kv_find(root->query, root->nquery, leaf->query[i].name);
        if (strmatch_conflict(r ? r : &none, &leaf->query[i].m)) return true;
    }
    if (root->ignore_uri_case != leaf->ignore_uri_case) return true;
    if (root->port && leaf->port && root->port != leaf->port) return true;
    if (root->source_namespace && *root->source_namespace &&
        (!leaf->source_namespace || strcmp(leaf->source_namespace, root->source_namespace) != 0))
        return true;
    for (uint32_t i = 0; i < leaf->nsource_labels; i++)
        for (uint32_t k = 0; k < root->nsource_labels; k++)
            if (strcmp(root->source_labels[k].key, leaf->source_labels[i].key) == 0 &&
                strcmp(root->source_labels[k].value, leaf->source_labels[i].value) != 0)
                return true;
    if (root->ngateways && leaf->ngateways) {
        if (root->ngateways < leaf->ngateways) return true;
        for (uint32_t i = 0; i < leaf->ngateways; i++) {
            bool found = false;
            for (uint32_t k = 0; k < root->ngateways && !found; k++) found = strcmp(root->gateways[k], leaf->gateways[i]) == 0;
            if (!found) return true;
        }
    }
    return false;
}

/* maps.MergeCopy(root, leaf): root's entries overridden by the leaf's */
static mc_kv_match *merge_kv(L *l, const mc_kv_match *r, uint32_t rn, const mc_kv_match *d, uint32_t dn, uint32_t *n)
{
    *n = 0;
    if (!rn && !dn) return NULL;
    mc_kv_match *v = mc_arena_zalloc(l->a, (rn + dn) * sizeof *v);
    for (uint32_t i = 0; i < rn; i++)
        if (!kv_find(d, dn, r[i].name)) v[(*n)++] = r[i];
    for (uint32_t i = 0; i < dn; i++) v[(*n)++] = d[i];
    return v;
}

static const char *join_names(L *l, const char *root, const char *leaf)
{
    bool r = root && *root, d = leaf && *leaf;
    if (!d) return r ? root : leaf;
    if (r) return mc_arena_printf(l->a, "%s-%s", root, leaf);
    return leaf;
}

static mc_http_match merge_match(L *l, const mc_http_match *root, const mc_http_match *leaf)
{
    mc_http_match out = *leaf;
    out.root_node = root->node;
    out.name = join_names(l, root->name, leaf->name);
    if (!sm_set(&out.uri)) out.uri = root->uri;
    if (!sm_set(&out.scheme)) out.scheme = root->scheme;
    if (!sm_set(&out.method)) out.method = root->method;
    if (!sm_set(&out.authority)) out.authority = root->authority;
    out.headers = merge_kv(l, root->headers, root->nheaders, leaf->headers, leaf->nheaders, &out.nheaders);
    out.without = merge_kv(l, root->without, root->nwithout, leaf->without, leaf->nwithout, &out.nwithout);
    out.query = merge_kv(l, root->query, root->nquery, leaf->query, leaf->nquery, &out.nquery);
    if (!out.port) out.port = root->port;
    if (root->nsource_labels) {
        mc_kv *v = mc_arena_zalloc(l->a, (root->nsource_labels + leaf->nsource_labels) * sizeof *v);
        uint32_t n = 0;
        for (uint32_t i = 0; i < root->nsource_labels; i++) {
            bool over = false;
            for (uint32_t k = 0; k < leaf->nsource_labels && !over; k++) over = strcmp(leaf->source_labels[k].key, root->source_labels[i].key) == 0;
            if (!over) v[n++] = root->source_labels[i];
        }
        for (uint32_t k = 0; k < leaf->nsource_labels; k++) v[n++] = leaf->source_labels[k];
        out.source_labels = v;
        out.nsource_labels = n;
    }
    if (!out.source_namespace || !*out.source_namespace) out.source_namespace = root->source_namespace;
    if (!out.ngateways) {
        out.gateways = root->gateways;
        out.ngateways = root->ngateways;
    }
    return out;
}

static const mc_vs *find_delegate(L *l, const char *ns, const char *name)
{
    char key[512];
    int k = snprintf(key, sizeof key, "%s/%s", ns, name);
    if (k < 0 || (size_t)k >= sizeof key) return NULL;
    return mc_strmap_get(&l->delegate_by_name, key, (size_t)k);
}

/* Replace each http[] entry holding `delegate` by the delegate's routes merged with it. */
static void merge_delegates(L *l, mc_vs *vs)
{
    bool any = false;
    for (uint32_t i = 0; i < vs->nhttp && !any; i++) any = Gm(vs->http[i].node, "delegate") != NULL;
    if (!any) return;
    mc_vec out;
    mc_vec_init(&out, sizeof(mc_http_route));
    for (uint32_t i = 0; i < vs->nhttp; i++) {
        const mc_http_route *root = &vs->http[i];
        const mc_node *dn = Gm(root->node, "delegate");
        if (!dn) {
            *VEC_PUSH(&out, mc_http_route) = *root;
            continue;
        }
        const char *name = Gstr(dn, "name"), *dns = Gstr(dn, "namespace");
        if (!dns || !*dns) dns = vs->obj->o.ns;
        const mc_vs *d = name ? find_delegate(l, dns, name) : NULL;
        if (!d) {
            drop(l, MC_DROP_DELEGATE_NOT_FOUND, vs->obj, dn, 0, mc_arena_printf(l->a, "%s/%s", dns, name ? name : ""));
            continue;
        }
        if (!export_visible(d->export_public, d->export_none, d->export_ns, d->nexport_ns, vs->obj->o.ns)) {
            drop(l, MC_DROP_DELEGATE_NOT_EXPORTED, vs->obj, dn, 0, mc_arena_printf(l->a, "%s/%s", dns, name));
            continue;
        }
        for (uint32_t k = 0; k < d->nhttp; k++) {
            const mc_http_route *leaf = &d->http[k];
            mc_http_route m = *leaf;
            m.vs = vs;
            m.delegate = d;
            m.root_node = root->node;
            m.index = i;
            m.delegate_index = k;
            /* mergeHTTPMatchRequests */
            if (root->nmatches && leaf->nmatches) {
                mc_vec mv;
                mc_vec_init(&mv, sizeof(mc_http_match));
                bool conflict = false;
                for (uint32_t s = 0; s < leaf->nmatches && !conflict; s++) {
                    bool found = false;
                    for (uint32_t r = 0; r < root->nmatches; r++) {
                        if (has_conflict(&root->matches[r], &leaf->matches[s])) continue;
                        *VEC_PUSH(&mv, mc_http_match) = merge_match(l, &root->matches[r], &leaf->matches[s]);
                        found = true;
                    }
                    if (!found) conflict = true;
                }
                if (conflict || mv.n == 0) {
                    drop(l, MC_DROP_DELEGATE_CONFLICT, d->obj, leaf->node, 0, NULL);
                    mc_vec_free(&mv);
                    continue;
                }
                m.matches = mc_arena_alloc(l->a, mv.n * sizeof *m.matches);
                memcpy(m.matches, mv.v, mv.n * sizeof *m.matches);
                m.nmatches = (uint32_t)mv.n;
                mc_vec_free(&mv);
            } else if (!leaf->nmatches) {
                m.matches = root->matches;
                m.nmatches = root->nmatches;
            }
            m.name = join_names(l, root->name, leaf->name);
            if (!m.rewrite) m.rewrite = root->rewrite;
            if (!m.direct_response) m.direct_response = root->direct_response;
            if (!m.timeout) m.timeout = root->timeout;
            if (!m.retries) m.retries = root->retries;
            if (!m.fault) m.fault = root->fault;
            if (!m.mirror) m.mirror = root->mirror;
            if (!m.mirror_percent) m.mirror_percent = root->mirror_percent;
            if (!m.mirror_percentage) m.mirror_percentage = root->mirror_percentage;
            if (!m.cors) m.cors = root->cors;
            if (!m.mirrors) m.mirrors = root->mirrors;
            if (!m.headers) m.headers = root->headers;
            *VEC_PUSH(&out, mc_http_route) = m;
        }
    }
    vs->http = mc_arena_alloc(l->a, (out.n + 1) * sizeof *vs->http);
    copy_n(vs->http, out.v, out.n * sizeof *vs->http);
    vs->nhttp = (uint32_t)out.n;
    mc_vec_free(&out);
}

/* ------------------------------------------------------------ services */

static int k8s_port_protocol(const mc_node *p)
{
    const char *ap = Gstr(p, "appProtocol");
    if (ap) {
        int pr = protocol_of(ap);
        if (pr != IMG_PROTO_UNSUPPORTED) return pr;
        if (strncmp(ap, "kubernetes.io/h2c", 17) == 0) return IMG_PROTO_HTTP2;
    }
    const char *name = Gstr(p, "name");
    if (name) {
        char pre[32];
        size_t n = strcspn(name, "-");
        if (n < sizeof pre) {
            memcpy(pre, name, n);
            pre[n] = '\0';
            int pr = protocol_of(pre);
            if (pr != IMG_PROTO_UNSUPPORTED) return pr;
        }
    }
    const char *proto = Gstr(p, "protocol");
    if (proto && strcasecmp(proto, "UDP") == 0) return IMG_PROTO_UDP;
    return IMG_PROTO_TCP;
}

static bool labels_subset(const mc_node *sel, const mc_node *labels)
{
    if (!sel || sel->type != MC_MAP || mc_len(sel) == 0) return true;
    return mc_labels_match(sel, labels);
}

static void add_service(L *l, service *s)
{
    multimap_add(l, &l->svc_by_host, s->host, s);
}

/* a ServiceEntry endpoint or a WorkloadEntry spec (same schema) */
static void add_endpoint(mc_vec *eps, const mc_node *e)
{
    const char *addr = Gstr(e, "address");
    if (!addr) return;
    svc_ep *ep = VEC_PUSH(eps, svc_ep);
    ep->address = addr;
    ep->kind = strncmp(addr, "unix://", 7) == 0 ? IMG_EP_UNIX : mc_is_ip(addr) ? IMG_EP_IP : IMG_EP_DNS;
    ep->weight = Gu32(e, "weight", 0);
    ep->labels = Gm(e, "labels");
    ep->ports = Gm(e, "ports");
}

static void load_service_entries(L *l, mc_vec *out)
{
    uint32_t n;
    const mc_obj **ses = objs_of(l, MC_K_SERVICEENTRY, &n);
    uint32_t nwe;
    const mc_obj **wes = objs_of(l, MC_K_WORKLOADENTRY, &nwe);
    for (uint32_t i = 0; i < n; i++) {
        const mc_obj *o = ses[i];
        const mc_node *sp = o->spec;
        const char *res = Gstr(sp, "resolution");
        int r = RES_NONE;
        if (res && strcmp(res, "STATIC") == 0) r = RES_STATIC;
        else if (res && strcmp(res, "DNS") == 0) r = RES_DNS;
        else if (res && strcmp(res, "DNS_ROUND_ROBIN") == 0) r = RES_DNS_RR;
        else if (res && strcmp(res, "DYNAMIC_DNS") == 0) r = RES_DYNAMIC;
        const char *loc = Gstr(sp, "location");
        bool external = !loc || strcmp(loc, "MESH_INTERNAL") != 0;
        /* ports */
        const mc_node *ps = Gs(sp, "ports");
        uint32_t np = mc_len(ps);
        svc_port *ports = np ? mc_arena_zalloc(l->a, np * sizeof *ports) : NULL;
        uint32_t k = 0;
        MC_SEQ_EACH(ps, j) {
            const mc_node *p = mc_item(ps, j);
            svc_port *sp2 = &ports[k++];
            sp2->number = Gport(p, "number");
            sp2->target = Gport(p, "targetPort");
            sp2->name = Gstr(p, "name");
            sp2->proto = protocol_of(Gstr(p, "protocol"));
        }
        np = k;
        /* endpoints */
        mc_vec eps;
        mc_vec_init(&eps, sizeof(svc_ep));
        const mc_node *es = Gs(sp, "endpoints");
        MC_SEQ_EACH(es, j) add_endpoint(&eps, mc_item(es, j));
        const mc_node *wsel = Gm(Gm(sp, "workloadSelector"), "labels");
        if (wsel && !mc_len(es)) {
            for (uint32_t w = 0; w < nwe; w++) {
                if (strcmp(wes[w]->o.ns, o->o.ns) != 0) continue;
                if (labels_subset(wsel, Gm(wes[w]->spec, "labels"))) add_endpoint(&eps, wes[w]->spec);
            }
        }
        bool pub, none;
        const char **exp;
        uint32_t nexp;
        parse_export(l, Gs(sp, "exportTo"), o->o.ns, &pub, &none, &exp, &nexp);
        const mc_node *hosts = Gs(sp, "hosts");
        MC_SEQ_EACH(hosts, j) {
            const char *h = mc_text(mc_item(hosts, j));
            if (!h) continue;
            service *s = mc_arena_zalloc(l->a, sizeof *s);
            s->obj = o;
            s->host = mc_host_fqdn(l->a, h, o->o.ns, l->domain);
            s->ns = o->o.ns;
            s->resolution = r;
            s->mesh_external = external;
            s->ports = ports;
            s->nports = np;
            s->export_public = pub;
            s->export_none = none;
            s->export_ns = exp;
            s->nexport_ns = nexp;
            s->order = i;
            if ((r == RES_DNS || r == RES_DNS_RR) && eps.n == 0 && !wsel) {
                s->dns_self = true;
            } else if (eps.n) {
                s->eps = mc_arena_alloc(l->a, eps.n * sizeof *s->eps);
                memcpy(s->eps, eps.v, eps.n * sizeof *s->eps);
                s->neps = (uint32_t)eps.n;
            }
            *(service **)mc_vec_push(out) = s;
        }
        mc_vec_free(&eps);
    }
}

static void load_k8s_services(L *l, mc_vec *out)
{
    uint32_t n, npods;
    const mc_obj **svcs = objs_of(l, MC_K_SERVICE, &n);
    const mc_obj **pods = objs_of(l, MC_K_POD, &npods);
    for (uint32_t i = 0; i < n; i++) {
        const mc_obj *o = svcs[i];
        const mc_node *sp = o->spec;
        service *s = mc_arena_zalloc(l->a, sizeof *s);
        s->obj = o;
        s->k8s = true;
        s->host = mc_arena_printf(l->a, "%s.%s.svc.%s", o->o.name, o->o.ns, l->domain);
        s->ns = o->o.ns;
        s->resolution = RES_STATIC;
        s->order = 1000000u + i;
        const char *type = Gstr(sp, "type");
        if (type && strcmp(type, "ExternalName") == 0) s->external_name = Gstr(sp, "externalName");
        const mc_node *ps = Gs(sp, "ports");
        uint32_t np = mc_len(ps);
        s->ports = np ? mc_arena_zalloc(l->a, np * sizeof *s->ports) : NULL;
        MC_SEQ_EACH(ps, j) {
            const mc_node *p = mc_item(ps, j);
            svc_port *q = &s->ports[s->nports++];
            q->number = Gport(p, "port");
            q->name = Gstr(p, "name");
            q->proto = k8s_port_protocol(p);
            const mc_node *tp = G(p, "targetPort");
            int64_t t;
            if (tp && mc_int(tp, &t) && t > 0 && t < 65536) q->target = (uint32_t)t;
            else if (mc_str(tp)) q->target_name = mc_str(tp);
            else q->target = q->number;
        }
        const char *exp = mc_str(mc_get(mc_get(o->meta, "annotations"), "networking.istio.io/exportTo"));
        if (exp && *exp) {
            s->export_ns = mc_arena_zalloc(l->a, (strlen(exp) + 1) * sizeof *s->export_ns);
            char *copy = mc_arena_strdup(l->a, exp);
            for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
                while (*tok == ' ') tok++;
                if (strcmp(tok, "*") == 0) s->export_public = true;
                else if (strcmp(tok, "~") == 0) s->export_none = true;
                else s->export_ns[s->nexport_ns++] = strcmp(tok, ".") == 0 ? o->o.ns : tok;
            }
            if (s->export_public) s->export_none = false;
        } else {
            s->export_public = true;
        }
        /* endpoints: Pods with an IP that the selector picks; else the service's own DNS name */
        const mc_node *sel = Gm(sp, "selector");
        mc_vec eps;
        mc_vec_init(&eps, sizeof(svc_ep));
        if (sel && mc_len(sel)) {
            for (uint32_t k = 0; k < npods; k++) {
                const mc_obj *pod = pods[k];
                if (strcmp(pod->o.ns, o->o.ns) != 0) continue;
                const mc_node *pl = mc_get(pod->meta, "labels");
                if (!labels_subset(sel, pl)) continue;
                const char *ip = Gstr(mc_get(pod->root, "status"), "podIP");
                if (!ip || !mc_is_ip(ip)) continue;
                svc_ep *ep = VEC_PUSH(&eps, svc_ep);
                ep->address = ip;
                ep->kind = IMG_EP_IP;
                ep->weight = 1;
                ep->labels = pl;
                /* named target ports resolve through the pod's container ports */
                mc_node *ports = NULL;
                const mc_node *cs = Gs(pod->spec, "containers");
                MC_SEQ_EACH(cs, c) {
                    const mc_node *cps = Gs(mc_item(cs, c), "ports");
                    MC_SEQ_EACH(cps, q) {
                        const mc_node *cp = mc_item(cps, q);
                        if (Gstr(cp, "name")) {
                            ports = (mc_node *)cps;
                            break;
                        }
                    }
                }
                ep->ports = ports;  /* sequence of container ports, see ep_port() */
            }
        }
        if (eps.n) {
            s->eps = mc_arena_alloc(l->a, eps.n * sizeof *s->eps);
            memcpy(s->eps, eps.v, eps.n * sizeof *s->eps);
            s->neps = (uint32_t)eps.n;
        } else if (!s->external_name) {
            s->dns_self = true;
            s->resolution = RES_DNS;
        }
        mc_vec_free(&eps);
        *(service **)mc_vec_push(out) = s;
    }
}

/* ServiceForHostname: the service of this host visible to the proxy's
** namespace, preferring one in that namespace, else the first in order. */
static const service *service_for(L *l, const char *host)
{
    mc_vec *v = multimap_get(&l->svc_by_host, host);
    if (!v) return NULL;
    const service *first = NULL;
    for (size_t i = 0; i < v->n; i++) {
        const service *s = MC_VEC_AT(v, service *, i);
        if (!export_visible(s->export_public, s->export_none, s->export_ns, s->nexport_ns, l->px->ns) &&
            strcmp(s->ns, l->px->ns) != 0)
            continue;
        if (strcmp(s->ns, l->px->ns) == 0) return s;
        if (!first) first = s;
    }
    return first;
}

/* ------------------------------------------------------------ DestinationRules */

static void load_drs(L *l)
{
    uint32_t n;
    const mc_obj **v = objs_of(l, MC_K_DESTINATIONRULE, &n);
    l->drs = mc_arena_zalloc(l->a, (n + 1) * sizeof *l->drs);
    for (uint32_t i = 0; i < n; i++) {
        const mc_obj *o = v[i];
        const char *h = Gstr(o->spec, "host");
        if (!h) continue;
        if (Gm(o->spec, "workloadSelector")) continue;     /* sidecar-scoped rules do not apply to gateways */
        drule *d = &l->drs[l->ndrs++];
        d->obj = o;
        d->host = mc_host_fqdn(l->a, h, o->o.ns, l->domain);
        d->policy = Gm(o->spec, "trafficPolicy");
        d->order = i;
        parse_export(l, Gs(o->spec, "exportTo"), o->o.ns, &d->export_public, &d->export_none, &d->export_ns, &d->nexport_ns);
        const mc_node *ss = Gs(o->spec, "subsets");
        if (ss && mc_len(ss)) {
            d->subsets = mc_arena_zalloc(l->a, mc_len(ss) * sizeof *d->subsets);
            MC_SEQ_EACH(ss, j) {
                const mc_node *s = mc_item(ss, j);
                const char *name = Gstr(s, "name");
                if (!name) continue;
                dr_subset *x = &d->subsets[d->nsubsets++];
                x->name = name;
                x->node = s;
                x->labels = Gm(s, "labels");
                x->policy = Gm(s, "trafficPolicy");
            }
        }
        if (mc_host_wild(d->host)) *(drule **)mc_vec_push(&l->dr_wild) = d;
        else multimap_add(l, &l->dr_by_host, d->host, d);
    }
}

/* The rules for host seen from the proxy: exact host over the most specific
** wildcard; within one host, the proxy's namespace, then the service's,
** then any other, in config order. Several rules for the same host merge:
** the first top-level policy wins, subsets accumulate (mergeDestinationRule). */
typedef struct dr_view {
    const drule *rule;              /* first (policy source) */
    const drule *all[16]; uint32_t nall;
} dr_view;

static bool dr_visible(const L *l, const drule *d)
{
    return strcmp(d->obj->o.ns, l->px->ns) == 0 || export_visible(d->export_public, d->export_none, d->export_ns, d->nexport_ns, l->px->ns);
}

static void dr_for(L *l, const char *host, const char *svc_ns, dr_view *out)
{
    memset(out, 0, sizeof *out);
    const drule *cands[64];
    uint32_t nc = 0;
    mc_vec *v = multimap_get(&l->dr_by_host, host);
    if (v)
        for (size_t i = 0; i < v->n && nc < 64; i++)
            if (dr_visible(l, MC_VEC_AT(v, drule *, i))) cands[nc++] = MC_VEC_AT(v, drule *, i);
    if (!nc) {
        size_t best = 0;
        for (size_t i = 0; i < l->dr_wild.n; i++) {
            const drule *d = MC_VEC_AT(&l->dr_wild, drule *, i);
            if (!dr_visible(l, d) || !mc_host_subset(host, d->host)) continue;
            size_t len = strlen(d->host);
            if (len > best) { best = len; nc = 0; }
            if (len == best && nc < 64) cands[nc++] = d;
        }
    }
    if (!nc) return;
    const char *tiers[3] = { l->px->ns, svc_ns, NULL };
    for (int t = 0; t < 3 && !out->nall; t++) {
        for (uint32_t i = 0; i < nc; i++) {
            const drule *d = cands[i];
            if (t < 2 && (!tiers[t] || strcmp(d->obj->o.ns, tiers[t]) != 0)) continue;
            if (out->nall < 16) out->all[out->nall++] = d;
        }
    }
    for (uint32_t i = 0; i < out->nall && !out->rule; i++)
        if (out->all[i]->policy) out->rule = out->all[i];
    if (!out->rule && out->nall) out->rule = out->all[0];
}

static const dr_subset *dr_subset_find(const dr_view *dv, const char *name)
{
    for (uint32_t i = 0; i < dv->nall; i++)
        for (uint32_t k = 0; k < dv->all[i]->nsubsets; k++)
            if (strcmp(dv->all[i]->subsets[k].name, name) == 0) return &dv->all[i]->subsets[k];
    return NULL;
}

/* ------------------------------------------------------------ clusters */

/* a traffic policy reduced to its four sub-messages for one port */
typedef struct tp4 { const mc_node *cp, *od, *lb, *tls; } tp4;

/* GetPortLevelTrafficPolicy: port-level settings replace the whole policy */
static tp4 port_level(const mc_node *tp, uint32_t port, bool *has_port)
{
    tp4 r = { NULL, NULL, NULL, NULL };
    *has_port = false;
    if (!tp) return r;
    const mc_node *pls = Gs(tp, "portLevelSettings");
    MC_SEQ_EACH(pls, i) {
        const mc_node *p = mc_item(pls, i);
        if (Gport(Gm(p, "port"), "number") == port) {
            r.cp = Gm(p, "connectionPool");
            r.od = Gm(p, "outlierDetection");
            r.lb = Gm(p, "loadBalancer");
            r.tls = Gm(p, "tls");
            *has_port = true;
            return r;
        }
    }
    r.cp = Gm(tp, "connectionPool");
    r.od = Gm(tp, "outlierDetection");
    r.lb = Gm(tp, "loadBalancer");
    r.tls = Gm(tp, "tls");
    return r;
}

/* consistentHash: the hash key (first of httpHeaderName, httpCookie,
** useSourceIp, httpQueryParameterName, as Istio's oneof) and the ring or
** table size with Envoy's defaults. */
static void fill_hash(L *l, const mc_node *ch, mc_ir_cpolicy *p)
{
    const mc_node *ck = Gm(ch, "httpCookie");
    const char *v;
    p->ring_size = p->lb == IMG_LB_MAGLEV ? 65537 : 1024;
    if ((v = Gstr(ch, "httpHeaderName")) && *v) {
        p->hash_kind = IMG_HASH_HEADER;
        p->hash_name = lower_dup(l->a, v);
    } else if (ck && (v = Gstr(ck, "name")) && *v) {
        p->hash_kind = IMG_HASH_COOKIE;
        p->hash_name = v;
        if ((v = Gstr(ck, "path"))) p->cookie_path = v;
        uint32_t ttl;
        if (Gdur(ck, "ttl", &ttl)) {
            p->cookie_ttl_ms = ttl;
            p->cookie_ttl_set = true;
        }
    } else if (Gbool(ch, "useSourceIp", false)) {
        p->hash_kind = IMG_HASH_SOURCE_IP;
    } else if ((v = Gstr(ch, "httpQueryParameterName")) && *v) {
        p->hash_kind = IMG_HASH_QUERY;
        p->hash_name = v;
    }
    const mc_node *rh = Gm(ch, "ringHash"), *mg = Gm(ch, "maglev");
    int64_t x;
    if (p->lb == IMG_LB_MAGLEV) {
        if (mg && Gint(mg, "tableSize", &x) && x > 0 && x <= 5000011) p->ring_size = (uint32_t)x;
    } else if (rh && Gint(rh, "minimumRingSize", &x) && x > 0) {
        p->ring_size = x > 8388608 ? 8388608 : (uint32_t)x;
    } else if (Gint(ch, "minimumRingSize", &x) && x > 0) {
        p->ring_size = x > 8388608 ? 8388608 : (uint32_t)x;
    }
}

static void fill_policy(L *l, const tp4 *tp, int proto, mc_ir_cpolicy *p)
{
    memset(p, 0, sizeof *p);
    p->lb = IMG_LB_LEAST_REQUEST;
    p->connect_timeout_ms = 10000;
    p->max_connections = p->max_pending_requests = p->max_requests = p->max_retries = UINT32_MAX;
    p->tls = IMG_CTLS_NONE;
    p->sni = p->ca = p->cert = p->key = p->credential = "";
    p->hash_name = p->cookie_path = "";
    p->h2 = proto == IMG_PROTO_HTTP2 || proto == IMG_PROTO_GRPC;
    if (tp->lb) {
        const char *simple = Gstr(tp->lb, "simple");
        const mc_node *ch = Gm(tp->lb, "consistentHash");
        if (ch) {
            p->consistent_hash = true;
            p->lb = Gm(ch, "maglev") ? IMG_LB_MAGLEV : IMG_LB_RING_HASH;
            fill_hash(l, ch, p);
        } else if (simple) {
            if (strcmp(simple, "ROUND_ROBIN") == 0) p->lb = IMG_LB_ROUND_ROBIN;
            else if (strcmp(simple, "RANDOM") == 0) p->lb = IMG_LB_RANDOM;
            else if (strcmp(simple, "PASSTHROUGH") == 0) p->lb = IMG_LB_PASSTHROUGH;
        }
    }
    if (tp->cp) {
        const mc_node *tcp = Gm(tp->cp, "tcp"), *http = Gm(tp->cp, "http");
        uint32_t v;
        if (http) {
            if ((v = Gu32(http, "http2MaxRequests", 0)) > 0) p->max_requests = v;
            if ((v = Gu32(http, "http1MaxPendingRequests", 0)) > 0) p->max_pending_requests = v;
            if ((v = Gu32(http, "maxRetries", 0)) > 0) p->max_retries = v;
            p->max_requests_per_connection = Gu32(http, "maxRequestsPerConnection", 0);
            if (Gdur(http, "idleTimeout", &v)) { p->idle_set = true; p->idle_timeout_ms = v; }
            const char *up = Gstr(http, "h2UpgradePolicy");
            if (up && strcmp(up, "UPGRADE") == 0 && proto_is_http(proto)) p->h2 = true;
            if (Gbool(http, "useClientProtocol", false)) p->use_client_protocol = true;
        }
        if (tcp) {
            if (Gdur(tcp, "connectTimeout", &v)) p->connect_timeout_ms = v;
            if ((v = Gu32(tcp, "maxConnections", 0)) > 0) p->max_connections = v;
            if (Gdur(tcp, "maxConnectionDuration", &v)) { p->duration_set = true; p->max_connection_duration_ms = v; }
            if (!p->idle_set && Gdur(tcp, "idleTimeout", &v)) { p->idle_set = true; p->idle_timeout_ms = v; }
        }
    }
    if (tp->od) {
        uint32_t v;
        p->outlier = true;
        p->consecutive_5xx = 5;
        p->enforcing_5xx = 100;
        p->consecutive_gateway = 5;
        p->enforcing_gateway = 0;
        p->interval_ms = 10000;
        p->base_ejection_ms = 30000;
        p->max_ejection_percent = 10;
        if (Gwrapu32(tp->od, "consecutive5xxErrors", &v)) {
            p->consecutive_5xx = v;
            p->enforcing_5xx = v > 0 ? 100 : 0;
        }
        if (Gwrapu32(tp->od, "consecutiveGatewayErrors", &v)) {
            p->consecutive_gateway = v;
            p->enforcing_gateway = v > 0 ? 100 : 0;
        }
        if (Gdur(tp->od, "interval", &v)) p->interval_ms = v;
        if (Gdur(tp->od, "baseEjectionTime", &v)) p->base_ejection_ms = v;
        int64_t x;
        if (Gint(tp->od, "maxEjectionPercent", &x) && x > 0) p->max_ejection_percent = x > 100 ? 100 : (uint32_t)x;
        if (Gint(tp->od, "minHealthPercent", &x) && x >= 0) p->min_health_percent = x > 100 ? 100 : (uint32_t)x;
    }
    if (tp->tls) {
        const char *mode = Gstr(tp->tls, "mode");
        if (mode && strcmp(mode, "DISABLE") == 0) p->tls = IMG_CTLS_DISABLE;
        else if (mode && strcmp(mode, "SIMPLE") == 0) p->tls = IMG_CTLS_SIMPLE;
        else if (mode && strcmp(mode, "MUTUAL") == 0) p->tls = IMG_CTLS_MUTUAL;
        else if (mode && strcmp(mode, "ISTIO_MUTUAL") == 0) p->tls = IMG_CTLS_ISTIO_MUTUAL;
        const char *s;
        if ((s = Gstr(tp->tls, "sni"))) p->sni = s;
        if ((s = Gstr(tp->tls, "caCertificates"))) p->ca = s;
        if ((s = Gstr(tp->tls, "clientCertificate"))) p->cert = s;
        if ((s = Gstr(tp->tls, "privateKey"))) p->key = s;
        if ((s = Gstr(tp->tls, "credentialName"))) p->credential = s;
        p->insecure = Gwrapbool(tp->tls, "insecureSkipVerify") == 1;
        p->sans = str_list(l, Gs(tp->tls, "subjectAltNames"), &p->nsans);
    }
}

static uint32_t ep_port(const svc_ep *e, const svc_port *p)
{
    if (e->kind == IMG_EP_UNIX) return 0;
    if (e->ports && e->ports->type == MC_MAP && p->name) {
        int64_t v;
        if (mc_int(mc_get(e->ports, p->name), &v) && v > 0 && v < 65536) return (uint32_t)v;
    }
    if (e->ports && e->ports->type == MC_SEQ && p->target_name) {
        MC_SEQ_EACH(e->ports, i) {
            const mc_node *cp = mc_item(e->ports, i);
            const char *nm = Gstr(cp, "name");
            if (nm && strcmp(nm, p->target_name) == 0) return Gport(cp, "containerPort");
        }
        return 0;
    }
    return p->target ? p->target : p->number;
}

static mc_ir_cluster *cluster_get(L *l, const char *host, const char *subset, uint32_t port, const mc_node *ref)
{
    /* A cluster depends on the proxy only through the service and the
    ** DestinationRules it sees: the key is the name and those objects, so
    ** views that see the same ones share one cluster. Looked up with a
    ** scratch key, kept only for a new cluster (every destination of every
    ** view comes through here); the name is the key's head. */
    const service *s = service_for(l, host);
    dr_view dv;
    if (s && !s->external_name) dr_for(l, host, s->ns, &dv);
    else memset(&dv, 0, sizeof dv);
    mc_buf_reset(&l->scratch);
    mc_buf_printf(&l->scratch, "outbound|%u|%s|%s", port, subset, host);
    mc_buf_putc(&l->scratch, '\0');
    mc_buf_add(&l->scratch, (const char *)&s, sizeof s);
    mc_buf_add(&l->scratch, (const char *)&dv.rule, sizeof dv.rule);
    mc_buf_add(&l->scratch, (const char *)dv.all, dv.nall * sizeof dv.all[0]);
    void *hit = mc_strmap_get(&l->clusters, l->scratch.s, l->scratch.n);
    if (hit) return hit;
    char *key = mc_arena_alloc(l->a, l->scratch.n);
    memcpy(key, l->scratch.s, l->scratch.n);
    const char *name = key;
    void **slot = mc_strmap_put(&l->clusters, key, l->scratch.n, NULL);
    mc_ir_cluster *c = mc_arena_zalloc(l->a, sizeof *c);
    *slot = c;
    *(mc_ir_cluster **)mc_vec_push(&l->cluster_list) = c;
    c->id = (uint32_t)l->cluster_list.n - 1;
    c->name = name;
    c->host = host;
    c->subset = subset;
    c->port = port;
    c->first_ref = ref;
    c->kind = IMG_CLUSTER_MISSING;
    c->protocol = IMG_PROTO_UNSUPPORTED;
    if (!s || s->external_name) {
        c->missing = s ? "ExternalName alias" : "no service with this host is visible to the proxy";
        c->why = s ? MC_MISSING_EXTERNAL_NAME : MC_MISSING_SERVICE;
        return c;
    }
    const svc_port *sp = NULL;
    for (uint32_t i = 0; i < s->nports && !sp; i++)
        if (s->ports[i].number == port) sp = &s->ports[i];
    if (!sp) {
        c->missing = mc_arena_printf(l->a, "service %s has no port %u", host, port);
        c->why = MC_MISSING_PORT;
        c->service = s->obj;
        return c;
    }
    if (sp->proto == IMG_PROTO_UDP) {
        c->missing = "UDP ports have no cluster";
        c->why = MC_MISSING_UDP;
        c->service = s->obj;
        return c;
    }
    const dr_subset *ss = NULL;
    if (*subset) {
        ss = dr_subset_find(&dv, subset);
        if (!ss) {
            c->missing = mc_arena_printf(l->a, "no DestinationRule subset %s for %s", subset, host);
            c->why = MC_MISSING_SUBSET;
            c->service = s->obj;
            return c;
        }
        c->subset_node = ss->node;
    }
    c->service = s->obj;
    c->dr = dv.rule ? dv.rule->obj : NULL;
    c->protocol = sp->proto;
    c->mesh_external = s->mesh_external;
    /* traffic policy: port level over top level; subset over that (MergeSubsetTrafficPolicy) */
    bool hp;
    tp4 tp = port_level(dv.rule ? dv.rule->policy : NULL, port, &hp);
    if (ss && ss->policy) {
        bool shp;
        tp4 st = port_level(ss->policy, port, &shp);
        if (st.cp || shp) tp.cp = st.cp;
        if (st.od || shp) tp.od = st.od;
        if (st.lb || shp) tp.lb = st.lb;
        if (st.tls || shp) tp.tls = st.tls;
    }
    fill_policy(l, &tp, sp->proto, &c->policy);
    /* discovery type and endpoints */
    switch (s->resolution) {
    case RES_NONE: c->kind = IMG_CLUSTER_EDS; break;
    case RES_STATIC: c->kind = IMG_CLUSTER_STATIC; break;
    case RES_DNS: c->kind = IMG_CLUSTER_STRICT_DNS; break;
    case RES_DNS_RR: c->kind = IMG_CLUSTER_LOGICAL_DNS; break;
    default: c->kind = IMG_CLUSTER_ORIGINAL_DST; break;
    }
    if (c->policy.lb == IMG_LB_PASSTHROUGH) c->kind = IMG_CLUSTER_ORIGINAL_DST;
    if (c->kind == IMG_CLUSTER_ORIGINAL_DST || c->kind == IMG_CLUSTER_EDS) {
        if (!s->neps) return c;
        if (c->kind == IMG_CLUSTER_EDS) c->kind = IMG_CLUSTER_STATIC;
    }
    mc_vec eps;
    mc_vec_init(&eps, sizeof(mc_ir_endpoint));
    if (s->dns_self) {
        if (!ss || !ss->labels || !mc_len(ss->labels)) {
            mc_ir_endpoint *e = VEC_PUSH(&eps, mc_ir_endpoint);
            e->address = s->host;
            e->port = s->k8s ? sp->number : (sp->target ? sp->target : sp->number);
            e->weight = 1;
            e->kind = mc_is_ip(s->host) ? IMG_EP_IP : IMG_EP_DNS;
        }
    } else {
        for (uint32_t i = 0; i < s->neps; i++) {
            const svc_ep *se = &s->eps[i];
            if (ss && !labels_subset(ss->labels, se->labels)) continue;
            uint32_t p = ep_port(se, sp);
            if (!p && se->kind != IMG_EP_UNIX) continue;
            mc_ir_endpoint *e = VEC_PUSH(&eps, mc_ir_endpoint);
            e->address = se->kind == IMG_EP_UNIX ? se->address + 7 : se->address;
            e->port = p;
            e->weight = se->weight ? se->weight : 1;
            e->kind = se->kind;
        }
    }
    if (eps.n) {
        c->endpoints = mc_arena_alloc(l->a, eps.n * sizeof *c->endpoints);
        memcpy(c->endpoints, eps.v, eps.n * sizeof *c->endpoints);
        c->nendpoints = (uint32_t)eps.n;
    }
    mc_vec_free(&eps);
    return c;
}

/* GetDestinationCluster: destination port, else the service's only port,
** else the listener port; ExternalName aliases point at their target. */
static mc_ir_cluster *dest_cluster(L *l, const mc_dest *d, uint32_t listen_port)
{
    const service *s = service_for(l, d->host);
    const char *host = d->host;
    if (s && s->external_name) host = s->external_name;
    uint32_t port = listen_port;
    if (d->port) port = d->port;
    else if (s && s->nports == 1) port = s->ports[0].number;
    return cluster_get(l, host, d->subset, port, d->node);
}

/* ------------------------------------------------------------ actions */

static int cmp_hdrop(const void *a, const void *b)
{
    return strcmp(((const mc_ir_hdrop *)a)->name, ((const mc_ir_hdrop *)b)->name);
}

static bool internal_header(const char *k) { return k[0] == ':' || strcasecmp(k, "host") == 0; }
static bool authority_header(const char *k) { return strcasecmp(k, ":authority") == 0 || strcasecmp(k, "host") == 0; }

/* translateAppendHeaders: keys sorted; pseudo headers and host dropped,
** but host/:authority yields the authority rewrite */
static void append_headers(L *l, mc_vec *ops, const mc_node *map, int op, const char **authority)
{
    if (!map || map->type != MC_MAP) return;
    size_t start = ops->n;
    MC_MAP_EACH(map, i) {
        const char *k = mc_key(map, i)->u.s, *v = mc_text(mc_val(map, i));
        if (!v) v = "";
        if (authority_header(k) && authority) *authority = v;
        if (internal_header(k)) continue;
        mc_ir_hdrop *h = VEC_PUSH(ops, mc_ir_hdrop);
        h->op = op;
        h->name = k;
        h->value = v;
    }
    /* sort.Stable by the key as written, then lowercase the names */
    mc_ir_hdrop *base = (mc_ir_hdrop *)ops->v + start;
    size_t n = ops->n - start;
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && cmp_hdrop(&base[j - 1], &base[j]) > 0; j--) {
            mc_ir_hdrop t = base[j];
            base[j] = base[j - 1];
            base[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++) base[i].name = lower_dup(l->a, base[i].name);
}

static void remove_headers(L *l, mc_vec *ops, const mc_node *seq)
{
    MC_SEQ_EACH(seq, i) {
        const char *k = mc_text(mc_item(seq, i));
        if (!k || internal_header(k)) continue;
        mc_ir_hdrop *h = VEC_PUSH(ops, mc_ir_hdrop);
        h->op = IMG_HOP_REMOVE;
        h->name = lower_dup(l->a, k);
        h->value = "";
    }
}

static mc_ir_hdrops hdrops_of(L *l, mc_vec *v)
{
    mc_ir_hdrops r = { NULL, (uint32_t)v->n };
    if (v->n) {
        r.v = mc_arena_alloc(l->a, v->n * sizeof *r.v);
        memcpy(r.v, v->v, v->n * sizeof *r.v);
    }
    return r;
}

/* TranslateHeadersOperations; appends to req/resp vectors, returns the authority */
static const char *header_ops(L *l, const mc_node *headers, mc_vec *req, mc_vec *resp)
{
    const char *set_auth = NULL, *add_auth = NULL;
    const mc_node *rq = Gm(headers, "request"), *rs = Gm(headers, "response");
    append_headers(l, req, Gm(rq, "set"), IMG_HOP_SET, &set_auth);
    append_headers(l, req, Gm(rq, "add"), IMG_HOP_ADD, &add_auth);
    remove_headers(l, req, Gs(rq, "remove"));
    append_headers(l, resp, Gm(rs, "set"), IMG_HOP_SET, NULL);
    append_headers(l, resp, Gm(rs, "add"), IMG_HOP_ADD, NULL);
    remove_headers(l, resp, Gs(rs, "remove"));
    return set_auth ? set_auth : add_auth;
}

/* parseRetryOn: integers that are HTTP status codes become retriable codes */
static bool http_status_known(long c)
{
    static const short known[] = { 100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302,
        303, 304, 305, 306, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416,
        417, 418, 421, 422, 423, 424, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511 };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (known[i] == c) return true;
    return false;
}

static const char default_retry_on[] = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";

static void translate_retries(L *l, const mc_node *rn, bool consistent_hash, mc_ir_action *a)
{
    a->retry = true;
    a->retry_num = 2;
    a->retry_on = default_retry_on;
    a->retry_host_attempts = 5;
    a->retry_flags = consistent_hash ? 0 : IMG_RETRY_PREVIOUS_HOSTS;
    if (!rn) return;
    int64_t attempts = 0;
    Gint(rn, "attempts", &attempts);
    if (attempts <= 0) {
        a->retry = false;
        return;
    }
    a->retry_num = attempts > UINT32_MAX ? UINT32_MAX : (uint32_t)attempts;
    const char *on = Gstr(rn, "retryOn");
    if (on && *on) {
        mc_buf b;
        mc_buf_init(&b);
        mc_vec codes;
        mc_vec_init(&codes, sizeof(uint32_t));
        char *copy = mc_arena_strdup(l->a, on);
        for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
            while (*tok == ' ' || *tok == '\t') tok++;
            size_t n = strlen(tok);
            while (n && (tok[n - 1] == ' ' || tok[n - 1] == '\t')) tok[--n] = '\0';
            if (!n) continue;
            char *end;
            long c = strtol(tok, &end, 10);
            if (!*end && http_status_known(c)) {
                *(uint32_t *)mc_vec_push(&codes) = (uint32_t)c;
                continue;
            }
            if (b.n) mc_buf_putc(&b, ',');
            mc_buf_puts(&b, tok);
        }
        if (codes.n && !strstr(b.s ? b.s : "", "retriable-status-codes")) {
            if (b.n) mc_buf_putc(&b, ',');
            mc_buf_puts(&b, "retriable-status-codes");
        }
        a->retry_on = mc_arena_strdup(l->a, b.s ? b.s : "");
        if (codes.n) {
            a->retry_codes = mc_arena_alloc(l->a, codes.n * sizeof *a->retry_codes);
            memcpy(a->retry_codes, codes.v, codes.n * sizeof *a->retry_codes);
            a->nretry_codes = (uint32_t)codes.n;
        }
        mc_vec_free(&codes);
        mc_buf_free(&b);
    }
    uint32_t v;
    if (Gdur(rn, "perTryTimeout", &v)) a->retry_per_try_ms = v;
    int ip = Gwrapbool(rn, "retryIgnorePreviousHosts");
    if (ip == 1) a->retry_flags |= IMG_RETRY_PREVIOUS_HOSTS;
    else if (ip == 0) a->retry_flags &= ~(unsigned)IMG_RETRY_PREVIOUS_HOSTS;
    if (Gwrapbool(rn, "retryRemoteLocalities") == 1) a->retry_flags |= IMG_RETRY_REMOTE_LOCALITIES;
    if (Gdur(rn, "backoff", &v)) a->retry_backoff_ms = v;
}

static const struct { const char *name; uint32_t code; } grpc_codes[] = {
    { "OK", 0 }, { "CANCELLED", 1 }, { "UNKNOWN", 2 }, { "INVALID_ARGUMENT", 3 }, { "DEADLINE_EXCEEDED", 4 },
    { "NOT_FOUND", 5 }, { "ALREADY_EXISTS", 6 }, { "PERMISSION_DENIED", 7 }, { "RESOURCE_EXHAUSTED", 8 },
    { "FAILED_PRECONDITION", 9 }, { "ABORTED", 10 }, { "OUT_OF_RANGE", 11 }, { "UNIMPLEMENTED", 12 },
    { "INTERNAL", 13 }, { "UNAVAILABLE", 14 }, { "DATA_LOSS", 15 }, { "UNAUTHENTICATED", 16 },
};

/* TranslateFault */
static void translate_fault(const mc_node *f, mc_ir_action *a)
{
    if (!f) return;
    const mc_node *d = Gm(f, "delay"), *ab = Gm(f, "abort");
    if (d) {
        uint32_t ms;
        if (Gdur(d, "fixedDelay", &ms)) {
            a->fault_flags |= IMG_FAULT_DELAY;
            a->delay_ms = ms;
            if (!Gpercent(d, "percentage", &a->delay_pm)) a->delay_pm = Gu32(d, "percent", 0) * 10000;
            if (a->delay_pm > 1000000) a->delay_pm = 1000000;
        }
    }
    if (ab) {
        int64_t st;
        const char *g = Gstr(ab, "grpcStatus");
        bool ok = false;
        if (Gint(ab, "httpStatus", &st) && st >= 0) {
            a->abort_status = (uint32_t)st;
            ok = true;
        } else if (g) {
            for (size_t i = 0; i < sizeof grpc_codes / sizeof grpc_codes[0]; i++)
                if (strcmp(grpc_codes[i].name, g) == 0) {
                    a->abort_status = grpc_codes[i].code;
                    a->fault_flags |= IMG_FAULT_GRPC;
                    ok = true;
                }
        }
        if (ok) {
            a->fault_flags |= IMG_FAULT_ABORT;
            if (!Gpercent(ab, "percentage", &a->abort_pm)) a->abort_pm = 0;
        }
    }
    a->fault = a->fault_flags & (IMG_FAULT_DELAY | IMG_FAULT_ABORT);
    if (!a->fault) a->fault_flags = 0;
}

static const char *join_list(L *l, const mc_node *seq)
{
    mc_buf b;
    mc_buf_init(&b);
    MC_SEQ_EACH(seq, i) {
        const char *s = mc_text(mc_item(seq, i));
        if (!s) continue;
        if (b.n) mc_buf_putc(&b, ',');
        mc_buf_puts(&b, s);
    }
    const char *r = mc_arena_strdup(l->a, b.s ? b.s : "");
    mc_buf_free(&b);
    return r;
}

static mc_ir_matcher sm_matcher(const mc_strmatch *m, int target, const char *name)
{
    mc_ir_matcher r;
    memset(&r, 0, sizeof r);
    r.target = target;
    r.name = name;
    r.value = m->value ? m->value : "";
    r.node = m->node;
    if (m->kind == MC_SM_PRESENT || (m->kind == MC_SM_REGEX && strcmp(r.value, "*") == 0)) {
        r.op = IMG_OP_PRESENT;
        r.value = "";
    } else if (m->kind == MC_SM_EXACT) r.op = IMG_OP_EXACT;
    else if (m->kind == MC_SM_PREFIX) r.op = IMG_OP_PREFIX;
    else r.op = IMG_OP_REGEX;
    return r;
}

/* TranslateCORSPolicy */
static void translate_cors(L *l, const mc_node *c, mc_ir_action *a)
{
    if (!c) return;
    a->cors = true;
    a->cors_flags = Gstr(c, "unmatchedPreflights") && strcmp(Gstr(c, "unmatchedPreflights"), "IGNORE") == 0 ? 0 : IMG_CORS_FORWARD_UNMATCHED;
    const mc_node *ao = Gs(c, "allowOrigins"), *aol = Gs(c, "allowOrigin");
    mc_vec v;
    mc_vec_init(&v, sizeof(mc_ir_matcher));
    if (ao) {
        MC_SEQ_EACH(ao, i) {
            mc_strmatch m = strmatch(mc_item(ao, i));
            if (m.kind == MC_SM_NONE || m.kind == MC_SM_PRESENT) continue;
            *VEC_PUSH(&v, mc_ir_matcher) = sm_matcher(&m, IMG_TARGET_ORIGIN, "origin");
        }
    } else if (aol) {
        MC_SEQ_EACH(aol, i) {
            const char *s = mc_text(mc_item(aol, i));
            if (!s) continue;
            mc_strmatch m = { MC_SM_EXACT, s, mc_item(aol, i) };
            *VEC_PUSH(&v, mc_ir_matcher) = sm_matcher(&m, IMG_TARGET_ORIGIN, "origin");
        }
    }
    if (v.n) {
        a->origins = mc_arena_alloc(l->a, v.n * sizeof *a->origins);
        memcpy(a->origins, v.v, v.n * sizeof *a->origins);
        a->norigins = (uint32_t)v.n;
    }
    mc_vec_free(&v);
    a->cors_methods = join_list(l, Gs(c, "allowMethods"));
    a->cors_headers = join_list(l, Gs(c, "allowHeaders"));
    a->cors_expose = join_list(l, Gs(c, "exposeHeaders"));
    int cred = Gwrapbool(c, "allowCredentials");
    if (cred >= 0) a->cors_flags |= IMG_CORS_CREDENTIALS_SET | (cred ? IMG_CORS_CREDENTIALS : 0);
    uint32_t ms;
    if (Gdur(c, "maxAge", &ms)) {
        a->cors_flags |= IMG_CORS_MAX_AGE;
        a->cors_max_age = ms / 1000;
    }
}

static bool b64_decode(L *l, const char *s, const char **out, uint32_t *len)
{
    size_t n = strlen(s);
    unsigned char *d = mc_arena_alloc(l->a, n + 1);
    uint32_t k = 0, acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i], v;
        if (c >= 'A' && c <= 'Z') v = c - 'A';
        else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
        else if (c >= '0' && c <= '9') v = c - '0' + 52;
        else if (c == '+' || c == '-') v = 62;
        else if (c == '/' || c == '_') v = 63;
        else if (c == '=' || c == '\n' || c == '\r' || c == ' ') continue;
        else return false;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            d[k++] = (unsigned char)(acc >> bits);
        }
    }
    d[k] = 0;
    *out = (const char *)d;
    *len = k;
    return true;
}

/* namespace that resolves short names of an action field: the delegate's
** when the delegate's route has the field itself, else the root's */
static const char *field_ns(const mc_http_route *h, const char *field)
{
    if (h->delegate && G(h->node, field)) return h->delegate->obj->o.ns;
    return h->vs->obj->o.ns;
}

static uint32_t mirror_pm(const mc_http_route *h, bool *set)
{
    uint32_t pm;
    *set = true;
    if (h->mirror_percentage) {
        const mc_node *n = h->mirror_percentage;
        double v = 0;
        if (n->type == MC_MAP) mc_num(G(n, "value"), &v);
        else mc_num(n, &v);
        if (!(v > 0)) return 0;
        if (v > 100) v = 100;
        return (uint32_t)(v * 10000);
    }
    if (h->mirror_percent) {
        const mc_node *n = h->mirror_percent;
        int64_t v = 0;
        if (n->type == MC_MAP) Gint(n, "value", &v);
        else mc_int(n, &v);
        if (v <= 0) return 0;
        pm = v > 100 ? 1000000 : (uint32_t)v * 10000;
        return pm;
    }
    return 1000000;
}

/* One action per (http route, listener port, TLS server): TranslateRoute's
** redirect > directResponse > route. NULL: no action (bad redirect code). */
static mc_ir_action *translate_action(L *l, const mc_http_route *h, uint32_t port, bool tls)
{
    mc_ir_action *a = mc_arena_zalloc(l->a, sizeof *a);
    const mc_obj *vs = h->vs->obj;
    mc_vec req, resp;
    mc_vec_init(&req, sizeof(mc_ir_hdrop));
    mc_vec_init(&resp, sizeof(mc_ir_hdrop));
    const char *authority = h->headers ? header_ops(l, h->headers, &req, &resp) : NULL;
    if (h->redirect) {
        const mc_node *r = h->redirect;
        a->kind = IMG_ACTION_REDIRECT;
        a->rd_host = Gstr(r, "authority");
        a->rd_prefix = Gstr(r, "prefixRewrite");
        a->rd_path = a->rd_prefix && *a->rd_prefix ? "" : Gstr(r, "uri");
        a->rd_scheme = Gstr(r, "scheme");
        if (!a->rd_host) a->rd_host = "";
        if (!a->rd_path) a->rd_path = "";
        if (!a->rd_prefix) a->rd_prefix = "";
        if (!a->rd_scheme) a->rd_scheme = "";
        const char *derive = Gstr(r, "derivePort");
        bool has_port = G(r, "port") || derive;
        if (has_port) {
            if (derive && strcmp(derive, "FROM_REQUEST_PORT") == 0) a->rd_port = port;
            else if (!derive) a->rd_port = Gport(r, "port");
            const char *scheme = *a->rd_scheme ? a->rd_scheme : tls ? "https" : "http";
            if ((a->rd_port == 80 && strcmp(scheme, "http") == 0) || (a->rd_port == 443 && strcmp(scheme, "https") == 0)) a->rd_port = 0;
        }
        uint32_t code = Gu32(r, "redirectCode", 0);
        if (code == 0) code = 301;
        if (code != 301 && code != 302 && code != 303 && code != 307 && code != 308) {
            drop(l, MC_DROP_REDIRECT_CODE, vs, G(r, "redirectCode"), port, NULL);
            mc_vec_free(&req);
            mc_vec_free(&resp);
            return NULL;
        }
        a->rd_code = code;
    } else if (h->direct_response) {
        const mc_node *d = h->direct_response;
        a->kind = IMG_ACTION_DIRECT;
        a->status = Gu32(d, "status", 200);
        if (a->status < 100 || a->status > 999) {
            drop(l, MC_DROP_DIRECT_STATUS, vs, G(d, "status"), port, NULL);
            mc_vec_free(&req);
            mc_vec_free(&resp);
            return NULL;
        }
        const mc_node *body = Gm(d, "body");
        const char *s;
        a->body = "";
        if ((s = Gstr(body, "string"))) {
            a->body = s;
            a->body_len = (uint32_t)strlen(s);
        } else if ((s = Gstr(body, "bytes"))) {
            if (!b64_decode(l, s, &a->body, &a->body_len)) { a->body = ""; a->body_len = 0; }
        }
    } else {
        /* applyHTTPRouteDestination */
        a->kind = IMG_ACTION_ROUTE;
        if (dur_node(h->timeout, &a->timeout_ms)) a->has_timeout = true;
        if (h->rewrite) {
            const mc_node *rr = Gm(h->rewrite, "uriRegexRewrite");
            const char *uri = Gstr(h->rewrite, "uri");
            if (rr && Gstr(rr, "match")) {
                a->regex_rewrite = Gstr(rr, "match");
                a->regex_substitution = Gstr(rr, "rewrite");
                if (!a->regex_substitution) a->regex_substitution = "";
            } else if (uri && *uri) {
                a->prefix_rewrite = uri;
            }
            const char *ra = Gstr(h->rewrite, "authority");
            if (ra && *ra) authority = ra;
        }
        bool consistent = false;
        if (h->ndests == 1) {
            a->target.n = 1;
            a->target.dests = mc_arena_zalloc(l->a, sizeof *a->target.dests);
            a->target.dests[0].cluster = dest_cluster(l, &h->dests[0], port);
            a->target.dests[0].weight = 1;
            a->target.dests[0].src = &h->dests[0];
            a->target.total = 1;
            consistent = a->target.dests[0].cluster->policy.consistent_hash;
            if (h->dests[0].headers) {
                const char *da = header_ops(l, h->dests[0].headers, &req, &resp);
                if (da && !authority) authority = da;
            }
        } else if (h->ndests > 1) {
            a->target.weighted = true;
            a->target.dests = mc_arena_zalloc(l->a, h->ndests * sizeof *a->target.dests);
            for (uint32_t i = 0; i < h->ndests; i++) {
                if (h->dests[i].weight <= 0) continue;
                mc_ir_dest *d = &a->target.dests[a->target.n++];
                d->cluster = dest_cluster(l, &h->dests[i], port);
                d->weight = h->dests[i].weight > UINT32_MAX ? UINT32_MAX : (uint32_t)h->dests[i].weight;
                d->src = &h->dests[i];
                a->target.total += d->weight;
                if (h->dests[i].headers) {
                    mc_vec dq, ds;
                    mc_vec_init(&dq, sizeof(mc_ir_hdrop));
                    mc_vec_init(&ds, sizeof(mc_ir_hdrop));
                    d->authority = header_ops(l, h->dests[i].headers, &dq, &ds);
                    d->req = hdrops_of(l, &dq);
                    d->resp = hdrops_of(l, &ds);
                    mc_vec_free(&dq);
                    mc_vec_free(&ds);
                }
            }
        }
        if (a->target.n == 0) {
            /* no destination with traffic: Envoy would refuse the route */
            drop(l, MC_DROP_NO_DESTINATION, vs, G(h->node, "route") ? G(h->node, "route") : h->node, port, NULL);
            mc_vec_free(&req);
            mc_vec_free(&resp);
            return NULL;
        }
        a->authority = authority;
        /* mirrors */
        mc_vec mv, mp;
        mc_vec_init(&mv, sizeof(mc_ir_cluster *));
        mc_vec_init(&mp, sizeof(uint32_t));
        if (h->mirror) {
            bool set;
            uint32_t pm = mirror_pm(h, &set);
            if (pm) {
                mc_dest md;
                parse_dest(l, NULL, h->mirror, field_ns(h, "mirror"), &md);
                *(mc_ir_cluster **)mc_vec_push(&mv) = dest_cluster(l, &md, port);
                *(uint32_t *)mc_vec_push(&mp) = pm;
            }
        }
        MC_SEQ_EACH(h->mirrors, i) {
            const mc_node *m = mc_item(h->mirrors, i);
            const mc_node *dst = Gm(m, "destination");
            if (!dst) continue;
            uint32_t pm = 1000000;
            if (G(m, "percentage")) Gpercent(m, "percentage", &pm);
            if (!pm) continue;
            mc_dest md;
            parse_dest(l, NULL, dst, field_ns(h, "mirrors"), &md);
            *(mc_ir_cluster **)mc_vec_push(&mv) = dest_cluster(l, &md, port);
            *(uint32_t *)mc_vec_push(&mp) = pm;
        }
        if (mv.n) {
            a->mirrors = mc_arena_alloc(l->a, mv.n * sizeof *a->mirrors);
            a->mirror_pm = mc_arena_alloc(l->a, mv.n * sizeof *a->mirror_pm);
            memcpy(a->mirrors, mv.v, mv.n * sizeof *a->mirrors);
            memcpy(a->mirror_pm, mp.v, mv.n * sizeof *a->mirror_pm);
            a->nmirrors = (uint32_t)mv.n;
        }
        mc_vec_free(&mv);
        mc_vec_free(&mp);
        translate_retries(l, h->retries, consistent, a);
    }
    a->req = hdrops_of(l, &req);
    a->resp = hdrops_of(l, &resp);
    mc_vec_free(&req);
    mc_vec_free(&resp);
    translate_fault(h->fault, a);
    translate_cors(l, h->cors, a);
    return a;
}

/* ------------------------------------------------------------ HTTP routes */

static bool labels_contain(const mc_kv *have, uint32_t nh, const mc_kv *want, uint32_t nw)
{
    for (uint32_t i = 0; i < nw; i++) {
        bool ok = false;
        for (uint32_t k = 0; k < nh && !ok; k++) ok = strcmp(have[k].key, want[i].key) == 0 && strcmp(have[k].value, want[i].value) == 0;
        if (!ok) return false;
    }
    return true;
}

/* sourceMatchHTTP */
static bool source_match(L *l, const mc_http_match *m, const char *gw, mc_drop_reason *why)
{
    if (m->ngateways) {
        for (uint32_t i = 0; i < m->ngateways; i++)
            if (strcmp(m->gateways[i], gw) == 0) return true;
        *why = MC_DROP_MATCH_GATEWAYS;
        return false;
    }
    if (!labels_contain(l->px->labels, l->px->nlabels, m->source_labels, m->nsource_labels)) {
        *why = MC_DROP_MATCH_SOURCE_LABELS;
        return false;
    }
    if (m->source_namespace && *m->source_namespace && strcmp(m->source_namespace, l->px->ns) != 0) {
        *why = MC_DROP_MATCH_SOURCE_NAMESPACE;
        return false;
    }
    return true;
}

static int cmp_matcher_name(const void *a, const void *b)
{
    const mc_ir_matcher *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c) return c;
    if (x->flags != y->flags) return x->flags < y->flags ? -1 : 1;      /* headers before withoutHeaders */
    if (x->op != y->op) return x->op < y->op ? -1 : 1;
    return strcmp(x->value, y->value);
}

typedef struct action_key { const mc_http_route *h; uint32_t port; bool tls; } action_key;

static mc_strmap action_cache;      /* per lowering run; reset in mc_lower */

static mc_ir_action *action_for(L *l, const mc_http_route *h, uint32_t port, bool tls, bool *bad)
{
    action_key k = { h, port, tls };
    char key[sizeof k];
    memset(key, 0, sizeof key);
    memcpy(key, &k.h, sizeof k.h);
    memcpy(key + sizeof k.h, &k.port, sizeof k.port);
    key[sizeof k.h + sizeof k.port] = tls;
    /* a hit needs no copy of the key; NULL (no action) is cached as a hit too */
    bool found;
    void **slot = mc_strmap_put(&action_cache, key, sizeof key, &found);
    if (!found) {
        char *kc = mc_arena_alloc(l->a, sizeof key);
        memcpy(kc, key, sizeof key);
        mc_strmap_rekey(&action_cache, slot, kc);
        *slot = translate_action(l, h, port, tls);
    }
    *bad = *slot == NULL;
    return *slot;
}

/* TranslateRoute: NULL when the match does not apply to this proxy/port */
static mc_ir_route *translate_route(L *l, const mc_http_route *h, const mc_http_match *m, uint32_t port, const char *gw, bool tls)
{
    const mc_obj *vso = h->vs->obj;
    if (m && m->port && m->port != port) {
        drop(l, MC_DROP_MATCH_PORT, vso, G(m->node, "port") ? G(m->node, "port") : m->node, port, NULL);
        return NULL;
    }
    mc_drop_reason why;
    if (m && !source_match(l, m, gw, &why)) {
        const char *field = why == MC_DROP_MATCH_GATEWAYS ? "gateways" : why == MC_DROP_MATCH_SOURCE_LABELS ? "sourceLabels" : "sourceNamespace";
        drop(l, why, vso, G(m->node, field) ? G(m->node, field) : m->node, port, gw);
        return NULL;
    }
    bool bad;
    mc_ir_action *a = action_for(l, h, port, tls, &bad);
    if (!a) return NULL;
    mc_ir_route *r = mc_arena_zalloc(l->a, sizeof *r);
    r->http = h;
    r->gw = gw;
    r->match = m;
    r->action = a;
    r->name = h->name ? h->name : "";
    if (m && m->name && *m->name) r->name = mc_arena_printf(l->a, "%s.%s", r->name, m->name);
    r->path_kind = IMG_PATH_PREFIX;
    r->path = "/";
    if (m) {
        r->ignore_case = m->ignore_uri_case;
        switch (m->uri.kind) {
        case MC_SM_EXACT: r->path_kind = IMG_PATH_EXACT; r->path = m->uri.value; break;
        case MC_SM_PREFIX: r->path_kind = IMG_PATH_PREFIX; r->path = m->uri.value; break;
        case MC_SM_REGEX: r->path_kind = IMG_PATH_REGEX; r->path = m->uri.value; break;
        default: break;
        }
        mc_vec v;
        mc_vec_init(&v, sizeof(mc_ir_matcher));
        for (uint32_t i = 0; i < m->nheaders; i++) {
            mc_ir_matcher x = sm_matcher(&m->headers[i].m, IMG_TARGET_HEADER, m->headers[i].name);
            *VEC_PUSH(&v, mc_ir_matcher) = x;
        }
        for (uint32_t i = 0; i < m->nwithout; i++) {
            mc_ir_matcher x = sm_matcher(&m->without[i].m, IMG_TARGET_HEADER, m->without[i].name);
            x.flags = IMG_M_INVERT;
            if (m->without[i].m.kind != MC_SM_PRESENT && !(x.op == IMG_OP_PRESENT)) x.flags |= IMG_M_MISSING_EMPTY;
            *VEC_PUSH(&v, mc_ir_matcher) = x;
        }
        sort_n(v.v, v.n, sizeof(mc_ir_matcher), cmp_matcher_name);
        for (size_t i = 0; i < v.n; i++) ((mc_ir_matcher *)v.v)[i].name = lower_dup(l->a, ((mc_ir_matcher *)v.v)[i].name);
        if (m->method.kind != MC_SM_NONE) *VEC_PUSH(&v, mc_ir_matcher) = sm_matcher(&m->method, IMG_TARGET_HEADER, ":method");
        if (m->authority.kind != MC_SM_NONE) *VEC_PUSH(&v, mc_ir_matcher) = sm_matcher(&m->authority, IMG_TARGET_HEADER, ":authority");
        if (m->scheme.kind != MC_SM_NONE) *VEC_PUSH(&v, mc_ir_matcher) = sm_matcher(&m->scheme, IMG_TARGET_HEADER, ":scheme");
        size_t qstart = v.n;
        for (uint32_t i = 0; i < m->nquery; i++)
            *VEC_PUSH(&v, mc_ir_matcher) = sm_matcher(&m->query[i].m, IMG_TARGET_QUERY, m->query[i].name);
        sort_n((mc_ir_matcher *)v.v + qstart, v.n - qstart, sizeof(mc_ir_matcher), cmp_matcher_name);
        if (v.n) {
            r->matchers = mc_arena_alloc(l->a, v.n * sizeof *r->matchers);
            memcpy(r->matchers, v.v, v.n * sizeof *r->matchers);
            r->nmatchers = (uint32_t)v.n;
        }
        mc_vec_free(&v);
    }
    /* IsCatchAllRoute */
    r->catch_all = r->nmatchers == 0 &&
                   ((r->path_kind == IMG_PATH_PREFIX && strcmp(r->path, "/") == 0) ||
                    (r->path_kind == IMG_PATH_REGEX && strcmp(r->path, ".*") == 0));
    return r;
}

typedef struct route_list { mc_ir_route **v; uint32_t n; } route_list;

/* BuildHTTPRoutesForVirtualService: n == 0 means "no routes matched" */
static route_list build_http_routes(L *l, const mc_vs *vs, uint32_t port, const char *gw, bool tls)
{
    mc_vec out;
    mc_vec_init(&out, sizeof(mc_ir_route *));
    bool catchall = false;
    uint32_t i;
    for (i = 0; i < vs->nhttp && !catchall; i++) {
        const mc_http_route *h = &vs->http[i];
        if (h->nmatches == 0) {
            mc_ir_route *r = translate_route(l, h, NULL, port, gw, tls);
            if (r) *(mc_ir_route **)mc_vec_push(&out) = r;
            catchall = true;
        } else {
            for (uint32_t j = 0; j < h->nmatches; j++) {
                mc_ir_route *r = translate_route(l, h, &h->matches[j], port, gw, tls);
                if (!r) continue;
                *(mc_ir_route **)mc_vec_push(&out) = r;
                if (r->catch_all) {
                    catchall = true;
                    for (uint32_t k = j + 1; k < h->nmatches; k++)
                        drop(l, MC_DROP_AFTER_CATCH_ALL, vs->obj, h->matches[k].node, port, NULL);
                    break;
                }
            }
        }
    }
    for (; i < vs->nhttp; i++) drop(l, MC_DROP_AFTER_CATCH_ALL, vs->obj, vs->http[i].node, port, NULL);
    route_list rl = { NULL, (uint32_t)out.n };
    if (out.n) {
        rl.v = mc_arena_alloc(l->a, out.n * sizeof *rl.v);
        memcpy(rl.v, out.v, out.n * sizeof *rl.v);
    } else if (vs->nhttp) {
        drop(l, MC_DROP_VS_NO_ROUTES, vs->obj, G(vs->obj->spec, "http"), port, gw);
    }
    mc_vec_free(&out);
    return rl;
}

/* VirtualServicesForGateway: private to the proxy's namespace, then
** exported to it, then public; each in config order. */
static mc_vs **vs_for_gateway(L *l, const char *gw, uint32_t *n)
{
    *n = 0;
    mc_vec *v = multimap_get(&l->vs_by_gw, gw);
    if (!v || !v->n) return NULL;
    mc_vs **out = mc_arena_alloc(l->a, v->n * sizeof *out);
    const char *pns = l->px->ns;
    for (int pass = 0; pass < 3; pass++) {
        for (size_t i = 0; i < v->n; i++) {
            mc_vs *vs = MC_VEC_AT(v, mc_vs *, i);
            if (vs->export_none && !vs->export_public) continue;
            bool mine = strcmp(vs->obj->o.ns, pns) == 0;
            bool listed = export_visible(false, false, vs->export_ns, vs->nexport_ns, pns);
            bool take = pass == 0 ? (!vs->export_public && mine && listed)
                      : pass == 1 ? (!vs->export_public && !mine && listed)
                                  : vs->export_public;
            if (take) out[(*n)++] = vs;
        }
    }
    return out;
}

/* The VirtualServices of a gateway for this view, with their hosts
** indexed, so a server looks only at those that can overlap it. */
typedef struct gw_vs {
    mc_vs **v;
    uint32_t n;
    mc_strmap by_host;      /* non-wildcard VS host -> mc_vec of positions in v */
    mc_vec wild;            /* positions of VSs with a wildcard host */
} gw_vs;

static gw_vs *gw_vss(L *l, const char *gw)
{
    gw_vs *g = mc_strmap_get(&l->gwcache, gw, strlen(gw));
    if (g) return g;
    g = mc_arena_zalloc(l->a, sizeof *g);
    g->v = vs_for_gateway(l, gw, &g->n);
    mc_strmap_init(&g->by_host);
    mc_vec_init(&g->wild, sizeof(uint32_t));
    for (uint32_t i = 0; i < g->n; i++) {
        bool wild = false;
        for (uint32_t h = 0; h < g->v[i]->nhosts; h++) {
            const char *host = g->v[i]->hosts[h];
            if (mc_host_wild(host)) {
                wild = true;
                continue;
            }
            bool found;
            void **slot = mc_strmap_put(&g->by_host, host, strlen(host), &found);
            if (!found) {
                mc_vec *pv = mc_xcalloc(1, sizeof *pv);
                mc_vec_init(pv, sizeof(uint32_t));
                *slot = pv;
            }
            mc_vec *pv = *slot;
            if (!pv->n || MC_VEC_AT(pv, uint32_t, pv->n - 1) != i) *(uint32_t *)mc_vec_push(pv) = i;
        }
        if (wild) *(uint32_t *)mc_vec_push(&g->wild) = i;
    }
    const char *key = mc_arena_strdup(l->a, gw);
    *mc_strmap_put(&l->gwcache, key, strlen(key), NULL) = g;
    return g;
}

static void gw_cache_clear(L *l)
{
    MC_STRMAP_EACH(&l->gwcache, slot) {
        gw_vs *g = slot->val;
        MC_STRMAP_EACH(&g->by_host, hs) {
            mc_vec_free(hs->val);
            free(hs->val);
        }
        mc_strmap_free(&g->by_host);
        mc_vec_free(&g->wild);
    }
    mc_strmap_free(&l->gwcache);
}

/* The VSs of gw that can overlap server s, in Istio's order: all of them
** when the server has a wildcard host (or any_host), else those naming one
** of its hosts and those with a wildcard host. */
static mc_vs **vs_candidates(L *l, const char *gw, const mc_ir_server *s, bool any_host, uint32_t *n)
{
    gw_vs *g = gw_vss(l, gw);
    bool all = any_host;
    for (uint32_t i = 0; i < s->nhosts && !all; i++) {
        const char *h = strchr(s->hosts[i], '/') ? strchr(s->hosts[i], '/') + 1 : s->hosts[i];
        all = mc_host_wild(h);
    }
    if (all) {
        *n = g->n;
        return g->v;
    }
    mc_vec pos;
    mc_vec_init(&pos, sizeof(uint32_t));
    for (size_t i = 0; i < g->wild.n; i++) *(uint32_t *)mc_vec_push(&pos) = MC_VEC_AT(&g->wild, uint32_t, i);
    for (uint32_t i = 0; i < s->nhosts; i++) {
        const char *h = strchr(s->hosts[i], '/') ? strchr(s->hosts[i], '/') + 1 : s->hosts[i];
        mc_vec *pv = mc_strmap_get(&g->by_host, h, strlen(h));
        for (size_t k = 0; pv && k < pv->n; k++) *(uint32_t *)mc_vec_push(&pos) = MC_VEC_AT(pv, uint32_t, k);
    }
    sort_n(pos.v, pos.n, sizeof(uint32_t), cmp_u32);
    mc_vs **out = mc_arena_alloc(l->a, (pos.n + 1) * sizeof *out);
    *n = 0;
    for (size_t i = 0; i < pos.n; i++) {
        uint32_t p = MC_VEC_AT(&pos, uint32_t, i);
        if (i && p == MC_VEC_AT(&pos, uint32_t, i - 1)) continue;
        out[(*n)++] = g->v[p];
    }
    mc_vec_free(&pos);
    return out;
}

/* Server hosts indexed by name, so that matching VirtualService hosts
** against a server with thousands of hosts costs a few hash lookups per
** VirtualService host instead of a pass over the server's hosts. Keys are
** "NS\x1fHOST" for ns/host entries and "\x1fHOST" for the others; suffix
** wildcards (*.foo.com) are keyed by their suffix (.foo.com). */
struct mc_srv_index {
    mc_strmap exact, wild;
    const char **ns, **host;            /* every entry, for wildcard VS hosts */
    uint32_t n;
};

static void srv_split(L *l, const char *h, const char **ns, const char **host)
{
    const char *slash = strchr(h, '/');
    if (slash) {
        *ns = mc_arena_strndup(l->a, h, (size_t)(slash - h));
        *host = slash + 1;
    } else {
        *ns = NULL;
        *host = h;
    }
}

static const char *srv_key(L *l, const char *ns, const char *name)
{
    return mc_arena_printf(l->a, "%s\x1f%s", ns ? ns : "", name);
}

static struct mc_srv_index *srv_index(L *l, mc_ir_server *s)
{
    if (s->hidx) return s->hidx;
    struct mc_srv_index *x = mc_arena_zalloc(l->a, sizeof *x);
    mc_strmap_init(&x->exact);
    mc_strmap_init(&x->wild);
    x->ns = mc_arena_alloc(l->a, (s->nhosts + 1) * sizeof *x->ns);
    x->host = mc_arena_alloc(l->a, (s->nhosts + 1) * sizeof *x->host);
    for (uint32_t i = 0; i < s->nhosts; i++) {
        const char *ns, *h;
        srv_split(l, s->hosts[i], &ns, &h);
        x->ns[x->n] = ns;
        x->host[x->n++] = h;
        const char *k = srv_key(l, ns, mc_host_wild(h) ? h + 1 : h);
        *mc_strmap_put(mc_host_wild(h) ? &x->wild : &x->exact, k, strlen(k), NULL) = (void *)1;
    }
    s->hidx = x;
    *(struct mc_srv_index **)mc_vec_push(&l->srv_indexes) = x;
    return x;
}

static bool srv_has(L *l, const mc_strmap *m, const char *ns, const char *name)
{
    char buf[512];
    int k = snprintf(buf, sizeof buf, "\x1f%s", name);
    if (k > 0 && (size_t)k < sizeof buf ? mc_strmap_get(m, buf, (size_t)k) != NULL
                                        : mc_strmap_get(m, srv_key(l, NULL, name), strlen(name) + 1) != NULL)
        return true;
    k = snprintf(buf, sizeof buf, "%s\x1f%s", ns, name);
    if (k > 0 && (size_t)k < sizeof buf) return mc_strmap_get(m, buf, (size_t)k) != NULL;
    const char *key = srv_key(l, ns, name);
    return mc_strmap_get(m, key, strlen(key)) != NULL;
}

/* Some server host usable by namespace ns equals h or is a wildcard covering h. */
static bool srv_covers(L *l, struct mc_srv_index *x, const char *ns, const char *h)
{
    if (srv_has(l, &x->exact, ns, h) || srv_has(l, &x->wild, ns, "")) return true;
    for (const char *p = h; *p; p++)
        if (*p == '.' && srv_has(l, &x->wild, ns, p)) return true;
    return false;
}

static bool srv_entry_usable(const struct mc_srv_index *x, uint32_t i, const char *ns)
{
    return !x->ns[i] || strcmp(x->ns[i], ns) == 0 || strcmp(x->ns[i], "*") == 0;
}

/* host.Names.Intersection(NamesForNamespace(server hosts, vs ns), vs hosts):
** the more specific of each overlapping pair, without duplicates */
static const char **server_vs_hosts(L *l, mc_ir_server *s, const mc_vs *vs, uint32_t *n)
{
    struct mc_srv_index *x = srv_index(l, s);
    const char *ns = vs->obj->o.ns;
    mc_vec out;
    mc_vec_init(&out, sizeof(const char *));
    for (uint32_t i = 0; i < vs->nhosts; i++) {
        const char *v = vs->hosts[i];
        if (!mc_host_wild(v)) {
            if (srv_covers(l, x, ns, v)) *(const char **)mc_vec_push(&out) = v;
            continue;
        }
        /* a wildcard VS host: every usable server host inside it, and the
        ** VS host itself where a server wildcard covers it */
        for (uint32_t k = 0; k < x->n; k++) {
            if (!srv_entry_usable(x, k, ns)) continue;
            if (mc_host_subset(x->host[k], v)) *(const char **)mc_vec_push(&out) = x->host[k];
            else if (mc_host_subset(v, x->host[k])) *(const char **)mc_vec_push(&out) = v;
        }
    }
    const char **r = mc_arena_alloc(l->a, (out.n + 1) * sizeof *r);
    *n = 0;
    for (size_t i = 0; i < out.n; i++) {
        const char *h = MC_VEC_AT(&out, const char *, i);
        bool dup = false;
        for (uint32_t k = 0; k < *n && !dup; k++) dup = strcmp(r[k], h) == 0;
        if (!dup) r[(*n)++] = h;
    }
    mc_vec_free(&out);
    return r;
}

typedef struct vh_build {
    const char *domain;
    uint32_t port;
    bool require_tls;
    mc_vec routes;          /* mc_ir_route* */
} vh_build;

static vh_build *vh_get(L *l, mc_strmap *m, mc_vec *order, const char *host, uint32_t port)
{
    const char *key = lower_dup(l->a, host);
    bool found;
    void **slot = mc_strmap_put(m, key, strlen(key), &found);
    if (!found) {
        vh_build *v = mc_arena_zalloc(l->a, sizeof *v);
        v->domain = key;
        v->port = port;
        mc_vec_init(&v->routes, sizeof(mc_ir_route *));
        *slot = v;
        *(vh_build **)mc_vec_push(order) = v;
    }
    return *slot;
}

static int cmp_vh(const void *a, const void *b)
{
    return strcmp((*(vh_build *const *)a)->domain, (*(vh_build *const *)b)->domain);
}

static mc_ir_route_table *finish_route_table(L *l, const char *name, mc_vec *order, mc_strmap *m, uint32_t blackhole_port)
{
    mc_ir_route_table *rt = mc_arena_zalloc(l->a, sizeof *rt);
    rt->name = name;
    if (order->n == 0) {
        /* no virtual host: Istio's blackhole:<port>, domain "*", no routes => 404 NR */
        rt->vhosts = mc_arena_zalloc(l->a, sizeof *rt->vhosts);
        rt->vhosts[0].domain = "*";
        rt->vhosts[0].port = blackhole_port;
        rt->nvhosts = 1;
        mc_strmap_free(m);
        return rt;
    }
    sort_n(order->v, order->n, sizeof(vh_build *), cmp_vh);
    rt->vhosts = mc_arena_zalloc(l->a, order->n * sizeof *rt->vhosts);
    for (size_t i = 0; i < order->n; i++) {
        vh_build *b = MC_VEC_AT(order, vh_build *, i);
        mc_ir_vhost *v = &rt->vhosts[rt->nvhosts++];
        v->domain = b->domain;
        v->port = b->port;
        v->require_tls = b->require_tls;
        /* SortVHostRoutes: catch-alls last, order otherwise kept */
        v->routes = mc_arena_alloc(l->a, (b->routes.n + 1) * sizeof *v->routes);
        for (int pass = 0; pass < 2; pass++)
            for (size_t k = 0; k < b->routes.n; k++) {
                mc_ir_route *r = MC_VEC_AT(&b->routes, mc_ir_route *, k);
                if (r->catch_all == (pass == 1)) v->routes[v->nroutes++] = r;
            }
        mc_vec_free(&b->routes);
    }
    mc_strmap_free(m);
    return rt;
}

static const char *gw_name(L *l, const mc_obj *g) { return mc_arena_printf(l->a, "%s/%s", g->o.ns, g->o.name); }

/* buildGatewayHTTPRouteConfig over the servers of one route name */
static mc_ir_route_table *gateway_route_table(L *l, const char *name, mc_ir_server *const *servers, uint32_t n)
{
    mc_strmap vhosts;
    mc_strmap_init(&vhosts);
    mc_vec order;
    mc_vec_init(&order, sizeof(vh_build *));
    mc_strmap cache;        /* gateway \x1f vs -> route_list* */
    mc_strmap_init(&cache);
    for (uint32_t si = 0; si < n; si++) {
        const mc_ir_server *s = servers[si];
        const char *gw = gw_name(l, s->gateway);
        uint32_t nvs;
        mc_vs **vss = vs_candidates(l, gw, s, false, &nvs);
        bool tls = s->tls != IMG_TLS_NONE || s->https_redirect;
        for (uint32_t vi = 0; vi < nvs; vi++) {
            const mc_vs *vs = vss[vi];
            uint32_t ninter;
            const char **inter = server_vs_hosts(l, (mc_ir_server *)s, vs, &ninter);
            if (!ninter) continue;
            char *key = mc_arena_printf(l->a, "%s\x1f%s/%s", gw, vs->obj->o.ns, vs->obj->o.name);
            route_list *rl = mc_strmap_get(&cache, key, strlen(key));
            if (!rl) {
                route_list built = build_http_routes(l, vs, s->port, gw, tls);
                if (!built.n) continue;
                rl = mc_arena_alloc(l->a, sizeof *rl);
                *rl = built;
                *mc_strmap_put(&cache, key, strlen(key), NULL) = rl;
            }
            for (uint32_t k = 0; k < ninter; k++) {
                vh_build *v = vh_get(l, &vhosts, &order, inter[k], s->port);
                for (uint32_t r = 0; r < rl->n; r++) *(mc_ir_route **)mc_vec_push(&v->routes) = rl->v[r];
                if (s->https_redirect) v->require_tls = true;
            }
        }
        if (s->https_redirect)
            for (uint32_t k = 0; k < s->nhosts; k++) {
                const char *h = s->hosts[k];
                vh_build *v = vh_get(l, &vhosts, &order, h, s->port);
                v->require_tls = true;
            }
    }
    mc_strmap_free(&cache);
    mc_ir_route_table *rt = finish_route_table(l, name, &order, &vhosts, n ? servers[0]->port : 0);
    mc_vec_free(&order);
    return rt;
}

/* ------------------------------------------------------------ TCP and TLS chains */

static mc_ir_target l4_target(L *l, const mc_dest *d, uint32_t n, uint32_t port)
{
    mc_ir_target t;
    memset(&t, 0, sizeof t);
    if (n == 0) return t;
    t.dests = mc_arena_zalloc(l->a, n * sizeof *t.dests);
    if (n == 1) {
        t.dests[0].cluster = dest_cluster(l, &d[0], port);
        t.dests[0].weight = 1;
        t.dests[0].src = &d[0];
        t.n = 1;
        t.total = 1;
        return t;
    }
    t.weighted = true;
    for (uint32_t i = 0; i < n; i++) {
        if (d[i].weight <= 0) continue;
        mc_ir_dest *x = &t.dests[t.n++];
        x->cluster = dest_cluster(l, &d[i], port);
        x->weight = d[i].weight > UINT32_MAX ? UINT32_MAX : (uint32_t)d[i].weight;
        x->src = &d[i];
        t.total += x->weight;
    }
    return t;
}

/* pickMatchingGatewayHosts is not empty: some VS host and some usable
** server host match (either way round) */
static bool vs_matches_server(L *l, const mc_vs *vs, mc_ir_server *s)
{
    struct mc_srv_index *x = srv_index(l, s);
    const char *ns = vs->obj->o.ns;
    for (uint32_t i = 0; i < vs->nhosts; i++) {
        const char *v = vs->hosts[i];
        if (!mc_host_wild(v)) {
            if (srv_covers(l, x, ns, v)) return true;
            continue;
        }
        for (uint32_t k = 0; k < x->n; k++)
            if (srv_entry_usable(x, k, ns) && mc_host_matches(x->host[k], v)) return true;
    }
    return false;
}

static bool l4_single(const mc_l4_match *m, uint32_t port, const char *gw)
{
    if (m->port && m->port != port) return false;
    if (!m->ngateways) return true;
    for (uint32_t i = 0; i < m->ngateways; i++)
        if (strcmp(m->gateways[i], gw) == 0) return true;
    return false;
}

/* buildGatewayNetworkFiltersFromTCPRoutes: first VS, first tcp entry */
static bool tcp_chain(L *l, const mc_ir_server *s, const char *gw, bool any_host, mc_ir_chain *c)
{
    uint32_t nvs;
    mc_vs **vss = vs_candidates(l, gw, s, any_host, &nvs);
    for (uint32_t vi = 0; vi < nvs; vi++) {
        const mc_vs *vs = vss[vi];
        if (!any_host && !vs_matches_server(l, vs, (mc_ir_server *)s)) continue;
        for (uint32_t t = 0; t < vs->ntcp; t++) {
            const mc_l4_route *e = &vs->tcp[t];
            const mc_l4_match *hit = NULL;
            bool ok = e->nmatches == 0;
            for (uint32_t m = 0; m < e->nmatches && !ok; m++)
                if (l4_single(&e->matches[m], s->port, gw)) { ok = true; hit = &e->matches[m]; }
            if (!ok || !e->ndests) continue;
            c->kind = IMG_CHAIN_TCP;
            c->vs = vs;
            c->entry_kind = IMG_ENTRY_TCP;
            c->entry = e;
            c->match = hit;
            c->target = l4_target(l, e->dests, e->ndests, s->port);
            return c->target.n > 0;
        }
    }
    return false;
}

static const char **server_sni(L *l, const mc_ir_server *s, uint32_t *n)
{
    /* GetSNIHostsForServer: ns/ stripped, deduplicated, sorted */
    const char **v = mc_arena_alloc(l->a, (s->nhosts + 1) * sizeof *v);
    *n = 0;
    for (uint32_t i = 0; i < s->nhosts; i++) {
        const char *h = strchr(s->hosts[i], '/') ? strchr(s->hosts[i], '/') + 1 : s->hosts[i];
        bool dup = false;
        for (uint32_t k = 0; k < *n && !dup; k++) dup = strcmp(v[k], h) == 0;
        if (!dup) v[(*n)++] = h;
    }
    for (uint32_t i = 1; i < *n; i++)
        for (uint32_t k = i; k > 0 && strcmp(v[k - 1], v[k]) > 0; k--) {
            const char *t = v[k];
            v[k] = v[k - 1];
            v[k - 1] = t;
        }
    return v;
}

typedef struct sni_seen { mc_strmap names; } sni_seen;

/* CheckDuplicates over SNI names already routed on this listener */
static bool sni_dup(sni_seen *seen, const char *const *names, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (mc_strmap_get(&seen->names, names[i], strlen(names[i]))) return true;
    for (uint32_t i = 0; i < n; i++) *mc_strmap_put(&seen->names, names[i], strlen(names[i]), NULL) = (void *)1;
    return false;
}

/* buildGatewayNetworkFiltersFromTLSRoutes (PASSTHROUGH) */
static void tls_chains(L *l, const mc_ir_server *s, const char *gw, bool any_host, sni_seen *seen, mc_vec *chains)
{
    uint32_t nvs;
    mc_vs **vss = vs_candidates(l, gw, s, any_host, &nvs);
    for (uint32_t vi = 0; vi < nvs; vi++) {
        const mc_vs *vs = vss[vi];
        if (!any_host && !vs_matches_server(l, vs, (mc_ir_server *)s)) continue;
        for (uint32_t t = 0; t < vs->ntls; t++) {
            const mc_l4_route *e = &vs->tls[t];
            if (!e->ndests) continue;
            for (uint32_t m = 0; m < e->nmatches; m++) {
                const mc_l4_match *lm = &e->matches[m];
                if (!l4_single(lm, s->port, gw)) continue;
                if (sni_dup(seen, lm->sni, lm->nsni)) {
                    drop(l, MC_DROP_SNI_DUPLICATE, vs->obj, G(lm->node, "sniHosts") ? G(lm->node, "sniHosts") : lm->node, s->port, NULL);
                    continue;
                }
                mc_ir_chain *c = VEC_PUSH(chains, mc_ir_chain);
                c->kind = IMG_CHAIN_TCP;
                c->tls = s->tls;
                c->protocol = s->protocol;
                c->server = s;
                c->vs = vs;
                c->entry_kind = IMG_ENTRY_TLS;
                c->entry = e;
                c->match = lm;
                c->sni = lm->sni;
                c->nsni = lm->nsni;
                c->target = l4_target(l, e->dests, e->ndests, s->port);
                if (!c->target.n) chains->n--;
            }
        }
    }
}

/* builtAutoPassthroughFilterChains: one chain per in-mesh service port
** (and DestinationRule subset) whose host the server's hosts cover, with
** SNI outbound_.PORT_.SUBSET_.HOST */
static void auto_passthrough_chains(L *l, const mc_ir_server *s, sni_seen *seen, mc_vec *chains)
{
    for (uint32_t i = 0; i < l->nsvcs; i++) {
        const service *sv = &l->svcs[i];
        if (sv->mesh_external || sv->external_name) continue;
        if (service_for(l, sv->host) != sv) continue;
        bool covered = false;
        for (uint32_t k = 0; k < s->nhosts && !covered; k++) {
            const char *h = strchr(s->hosts[k], '/') ? strchr(s->hosts[k], '/') + 1 : s->hosts[k];
            covered = mc_host_subset(sv->host, h);
        }
        if (!covered) continue;
        dr_view dv;
        dr_for(l, sv->host, sv->ns, &dv);
        for (uint32_t p = 0; p < sv->nports; p++) {
            if (sv->ports[p].proto == IMG_PROTO_UDP) continue;
            uint32_t nsub = 1;
            for (uint32_t d = 0; d < dv.nall; d++) nsub += dv.all[d]->nsubsets;
            for (uint32_t k = 0; k < nsub; k++) {
                const char *subset = "";
                if (k) {
                    uint32_t x = k - 1;
                    for (uint32_t d = 0; d < dv.nall; d++) {
                        if (x < dv.all[d]->nsubsets) { subset = dv.all[d]->subsets[x].name; break; }
                        x -= dv.all[d]->nsubsets;
                    }
                }
                const char *sni = mc_arena_printf(l->a, "outbound_.%u_.%s_.%s", sv->ports[p].number, subset, sv->host);
                const char **names = mc_arena_alloc(l->a, sizeof *names);
                names[0] = sni;
                if (sni_dup(seen, names, 1)) continue;
                mc_ir_chain *c = VEC_PUSH(chains, mc_ir_chain);
                c->kind = IMG_CHAIN_TCP;
                c->tls = s->tls;
                c->protocol = s->protocol;
                c->server = s;
                c->sni = names;
                c->nsni = 1;
                c->entry_kind = IMG_ENTRY_TLS;
                mc_dest d;
                memset(&d, 0, sizeof d);
                d.host = sv->host;
                d.subset = subset;
                d.port = sv->ports[p].number;
                d.node = s->node;
                mc_dest *dc = mc_arena_alloc(l->a, sizeof *dc);
                *dc = d;
                c->target = l4_target(l, dc, 1, s->port);
            }
        }
    }
}

/* ------------------------------------------------------------ gateway listeners */

static int tls_mode(const char *m)
{
    if (!m || strcmp(m, "PASSTHROUGH") == 0) return IMG_TLS_PASSTHROUGH;   /* the proto's zero value */
    if (strcmp(m, "SIMPLE") == 0) return IMG_TLS_SIMPLE;
    if (strcmp(m, "MUTUAL") == 0) return IMG_TLS_MUTUAL;
    if (strcmp(m, "ISTIO_MUTUAL") == 0) return IMG_TLS_ISTIO_MUTUAL;
    if (strcmp(m, "OPTIONAL_MUTUAL") == 0) return IMG_TLS_OPTIONAL_MUTUAL;
    if (strcmp(m, "AUTO_PASSTHROUGH") == 0) return IMG_TLS_AUTO_PASSTHROUGH;
    return IMG_TLS_PASSTHROUGH;
}

/* sanitizeServerHostNamespace: ./h -> gwns/h, * /h -> h, * / * -> * */
static void parse_server(L *l, const mc_obj *g, const mc_node *sn, uint32_t idx, mc_ir_server *s)
{
    memset(s, 0, sizeof *s);
    s->gateway = g;
    s->node = sn;
    s->index = idx;
    const mc_node *port = Gm(sn, "port");
    s->port = Gport(port, "number");
    s->port_name = Gstr(port, "name");
    if (!s->port_name) s->port_name = "";
    s->protocol = protocol_of(Gstr(port, "protocol"));
    s->bind = Gstr(sn, "bind");
    if (!s->bind) s->bind = "";
    const mc_node *tls = Gm(sn, "tls");
    s->credential = "";
    if (tls) {
        s->tls = tls_mode(Gstr(tls, "mode"));
        s->https_redirect = Gbool(tls, "httpsRedirect", false);
        if (Gstr(tls, "credentialName")) s->credential = Gstr(tls, "credentialName");
        if (proto_is_http(s->protocol)) s->tls = IMG_TLS_NONE;     /* an HTTP server's tls holds only httpsRedirect */
    }
    uint32_t nh;
    const char **hosts = str_list(l, Gs(sn, "hosts"), &nh);
    s->hosts = mc_arena_alloc(l->a, (nh + 1) * sizeof *s->hosts);
    for (uint32_t i = 0; i < nh; i++) {
        const char *h = hosts[i], *slash = strchr(h, '/');
        if (slash && slash - h == 1 && h[0] == '.') h = mc_arena_printf(l->a, "%s/%s", g->o.ns, slash + 1);
        else if (slash && slash - h == 1 && h[0] == '*') {
            if (strcmp(slash + 1, "*") == 0) {
                s->hosts[0] = "*";
                s->nhosts = 1;
                break;
            }
            h = slash + 1;
        }
        s->hosts[s->nhosts++] = h;
    }
}

typedef struct port_group {
    uint32_t port;
    const char *bind;
    bool plain;
    int first_proto;
    mc_vec servers;         /* mc_ir_server* */
} port_group;

static int cmp_listener(const void *a, const void *b)
{
    const mc_ir_listener *x = a, *y = b;
    if (x->port != y->port) return x->port < y->port ? -1 : 1;
    return strcmp(x->bind, y->bind);
}

/* mergeGateways + buildGatewayListeners for the Gateways of a view */
static void gateway_listeners(L *l, mc_ir_view *v)
{
    mc_vec groups;
    mc_vec_init(&groups, sizeof(port_group));
    mc_strmap tls_hosts;        /* port \x1f bind \x1f host: CheckDuplicates for TLS servers */
    mc_strmap_init(&tls_hosts);
    for (uint32_t gi = 0; gi < v->ngateways; gi++) {
        const mc_obj *g = v->gateways[gi];
        const mc_node *servers = Gs(g->spec, "servers");
        MC_SEQ_EACH(servers, si) {
            const mc_node *sn = mc_item(servers, si);
            if (!Gm(sn, "port")) continue;
            mc_ir_server *s = mc_arena_alloc(l->a, sizeof *s);
            parse_server(l, g, sn, si, s);
            if (!s->port) continue;
            if (Gm(sn, "tls")) {
                bool dup = false;
                for (uint32_t h = 0; h < s->nhosts && !dup; h++) {
                    char *k = mc_arena_printf(l->a, "%u\x1f%s\x1f%s", s->port, s->bind, s->hosts[h]);
                    dup = mc_strmap_get(&tls_hosts, k, strlen(k)) != NULL;
                }
                if (dup) {
                    drop(l, MC_DROP_SERVER_DUPLICATE_HOST, g, G(sn, "hosts") ? G(sn, "hosts") : sn, s->port, NULL);
                    continue;
                }
                for (uint32_t h = 0; h < s->nhosts; h++) {
                    char *k = mc_arena_printf(l->a, "%u\x1f%s\x1f%s", s->port, s->bind, s->hosts[h]);
                    *mc_strmap_put(&tls_hosts, k, strlen(k), NULL) = (void *)1;
                }
            }
            bool is_tls_server = Gm(sn, "tls") && !proto_is_http(s->protocol);
            port_group *pg = NULL;
            for (size_t k = 0; k < groups.n && !pg; k++) {
                port_group *x = &MC_VEC_AT(&groups, port_group, k);
                if (x->port == s->port && strcmp(x->bind, s->bind) == 0) pg = x;
            }
            if (!pg) {
                pg = VEC_PUSH(&groups, port_group);
                pg->port = s->port;
                pg->bind = s->bind;
                pg->plain = !is_tls_server;
                pg->first_proto = s->protocol;
                mc_vec_init(&pg->servers, sizeof(mc_ir_server *));
            } else if (pg->plain) {
                /* canMergeProtocols: only HTTP servers merge onto a plain-text port */
                if (!proto_is_http(pg->first_proto) || !proto_is_http(s->protocol)) {
                    drop(l, MC_DROP_SERVER_CONFLICT, g, sn, s->port, "plain-text port already used by another server");
                    continue;
                }
            } else {
                if (!is_tls_server) {
                    drop(l, MC_DROP_SERVER_CONFLICT, g, sn, s->port, "plain-text server on a TLS port");
                    continue;
                }
                if (s->protocol == IMG_PROTO_HTTPS && s->tls != IMG_TLS_PASSTHROUGH && s->tls != IMG_TLS_AUTO_PASSTHROUGH) {
                    bool clash = false;
                    for (size_t k = 0; k < pg->servers.n && !clash; k++) {
                        const mc_ir_server *o = MC_VEC_AT(&pg->servers, mc_ir_server *, k);
                        clash = o->gateway == s->gateway && o->protocol == IMG_PROTO_HTTPS && strcmp(o->port_name, s->port_name) == 0 &&
                                o->tls != IMG_TLS_PASSTHROUGH && o->tls != IMG_TLS_AUTO_PASSTHROUGH;
                    }
                    if (clash) {
                        drop(l, MC_DROP_SERVER_CONFLICT, g, sn, s->port, "HTTPS port name not unique");
                        continue;
                    }
                }
            }
            *(mc_ir_server **)mc_vec_push(&pg->servers) = s;
        }
    }
    mc_strmap_free(&tls_hosts);
    v->listeners = mc_arena_zalloc(l->a, (groups.n + 1) * sizeof *v->listeners);
    for (size_t k = 0; k < groups.n; k++) {
        port_group *pg = &MC_VEC_AT(&groups, port_group, k);
        mc_ir_listener *li = &v->listeners[v->nlisteners];
        li->port = pg->port;
        li->bind = pg->bind;
        li->nservers = (uint32_t)pg->servers.n;
        li->servers = mc_arena_alloc(l->a, pg->servers.n * sizeof *li->servers);
        for (size_t s = 0; s < pg->servers.n; s++) li->servers[s] = *MC_VEC_AT(&pg->servers, mc_ir_server *, s);
        mc_ir_server **sp = (mc_ir_server **)pg->servers.v;
        mc_vec chains;
        mc_vec_init(&chains, sizeof(mc_ir_chain));
        if (pg->plain && proto_is_http(pg->first_proto)) {
            li->kind = IMG_LISTENER_HTTP;
            mc_ir_chain *c = VEC_PUSH(&chains, mc_ir_chain);
            c->kind = IMG_CHAIN_HTTP;
            c->tls = IMG_TLS_NONE;
            c->protocol = pg->first_proto;
            c->server = sp[0];
            const char *name = *pg->bind ? mc_arena_printf(l->a, "http.%u.%s", pg->port, pg->bind) : mc_arena_printf(l->a, "http.%u", pg->port);
            c->routes = gateway_route_table(l, name, sp, (uint32_t)pg->servers.n);
        } else if (pg->plain) {
            li->kind = IMG_LISTENER_TCP;
            mc_ir_chain c;
            memset(&c, 0, sizeof c);
            c.tls = IMG_TLS_NONE;
            c.protocol = sp[0]->protocol;
            c.server = sp[0];
            if (tcp_chain(l, sp[0], gw_name(l, sp[0]->gateway), false, &c)) *VEC_PUSH(&chains, mc_ir_chain) = c;
            else drop(l, MC_DROP_NO_TCP_ROUTE, sp[0]->gateway, sp[0]->node, pg->port, NULL);
        } else {
            li->kind = IMG_LISTENER_TLS;
            sni_seen seen;
            mc_strmap_init(&seen.names);
            for (size_t si = 0; si < pg->servers.n; si++) {
                mc_ir_server *s = sp[si];
                const char *gw = gw_name(l, s->gateway);
                if (s->protocol == IMG_PROTO_HTTPS && s->tls != IMG_TLS_PASSTHROUGH && s->tls != IMG_TLS_AUTO_PASSTHROUGH) {
                    mc_ir_chain *c = VEC_PUSH(&chains, mc_ir_chain);
                    c->kind = IMG_CHAIN_HTTP;
                    c->tls = s->tls;
                    c->protocol = s->protocol;
                    c->server = s;
                    c->sni = server_sni(l, s, &c->nsni);
                    const char *name = mc_arena_printf(l->a, "https.%u.%s.%s.%s%s%s", s->port, s->port_name, s->gateway->o.name,
                                                       s->gateway->o.ns, *s->bind ? "." : "", s->bind);
                    c->routes = gateway_route_table(l, name, &s, 1);
                } else if (s->tls == IMG_TLS_PASSTHROUGH) {
                    tls_chains(l, s, gw, false, &seen, &chains);
                } else if (s->tls == IMG_TLS_AUTO_PASSTHROUGH) {
                    auto_passthrough_chains(l, s, &seen, &chains);
                } else {
                    mc_ir_chain c;
                    memset(&c, 0, sizeof c);
                    c.tls = s->tls;
                    c.protocol = s->protocol;
                    c.server = s;
                    if (tcp_chain(l, s, gw, false, &c)) {
                        c.sni = server_sni(l, s, &c.nsni);
                        *VEC_PUSH(&chains, mc_ir_chain) = c;
                    } else {
                        drop(l, MC_DROP_NO_TCP_ROUTE, s->gateway, s->node, s->port, NULL);
                    }
                }
            }
            mc_strmap_free(&seen.names);
        }
        mc_vec_free(&pg->servers);
        li->chains = mc_arena_alloc(l->a, (chains.n + 1) * sizeof *li->chains);
        copy_n(li->chains, chains.v, chains.n * sizeof *li->chains);
        li->nchains = (uint32_t)chains.n;
        mc_vec_free(&chains);
        v->nlisteners++;
    }
    mc_vec_free(&groups);
    sort_n(v->listeners, v->nlisteners, sizeof *v->listeners, cmp_listener);
}

/* ------------------------------------------------------------ the mesh view */

enum { MESH_NONE, MESH_TCP, MESH_TLS, MESH_HTTP };

static int mesh_class(int proto)
{
    if (proto_is_http(proto)) return MESH_HTTP;
    if (proto == IMG_PROTO_HTTPS || proto == IMG_PROTO_TLS) return MESH_TLS;
    if (proto == IMG_PROTO_UDP) return MESH_NONE;
    return MESH_TCP;
}

static mc_ir_route *default_route(L *l, const service *s, uint32_t port)
{
    mc_ir_route *r = mc_arena_zalloc(l->a, sizeof *r);
    mc_ir_action *a = mc_arena_zalloc(l->a, sizeof *a);
    a->kind = IMG_ACTION_ROUTE;
    a->target.n = 1;
    a->target.total = 1;
    a->target.dests = mc_arena_zalloc(l->a, sizeof *a->target.dests);
    a->target.dests[0].cluster = cluster_get(l, s->host, "", port, NULL);
    a->target.dests[0].weight = 1;
    translate_retries(l, NULL, a->target.dests[0].cluster->policy.consistent_hash, a);
    r->action = a;
    r->name = "default";
    r->path_kind = IMG_PATH_PREFIX;
    r->path = "/";
    r->catch_all = true;
    return r;
}

static void mesh_listeners(L *l, mc_ir_view *v)
{
    /* ports and their class: services visible here, then ports mesh matches name */
    mc_vec ports;
    mc_vec_init(&ports, sizeof(uint32_t));
    mc_strmap cls;
    mc_strmap_init(&cls);
    for (uint32_t i = 0; i < l->nsvcs; i++) {
        const service *s = &l->svcs[i];
        if (service_for(l, s->host) != s) continue;
        for (uint32_t p = 0; p < s->nports; p++) {
            int c = mesh_class(s->ports[p].proto);
            if (c == MESH_NONE) continue;
            char *k = mc_arena_printf(l->a, "%u", s->ports[p].number);
            bool found;
            void **slot = mc_strmap_put(&cls, k, strlen(k), &found);
            if (!found) *(uint32_t *)mc_vec_push(&ports) = s->ports[p].number;
            if ((intptr_t)*slot < c) *slot = (void *)(intptr_t)c;
        }
    }
    uint32_t nvs;
    mc_vs **vss = gw_vss(l, "mesh")->v;
    nvs = gw_vss(l, "mesh")->n;
    for (uint32_t vi = 0; vi < nvs; vi++) {
        const mc_vs *vs = vss[vi];
        for (int sec = 0; sec < 3; sec++) {
            uint32_t n = sec == 0 ? vs->nhttp : sec == 1 ? vs->ntls : vs->ntcp;
            for (uint32_t e = 0; e < n; e++) {
                uint32_t nm = sec == 0 ? vs->http[e].nmatches : sec == 1 ? vs->tls[e].nmatches : vs->tcp[e].nmatches;
                for (uint32_t m = 0; m < nm; m++) {
                    uint32_t p = sec == 0 ? vs->http[e].matches[m].port : sec == 1 ? vs->tls[e].matches[m].port : vs->tcp[e].matches[m].port;
                    if (!p) continue;
                    char *k = mc_arena_printf(l->a, "%u", p);
                    bool found;
                    void **slot = mc_strmap_put(&cls, k, strlen(k), &found);
                    if (!found) {
                        *(uint32_t *)mc_vec_push(&ports) = p;
                        *slot = (void *)(intptr_t)(sec == 0 ? MESH_HTTP : sec == 1 ? MESH_TLS : MESH_TCP);
                    }
                }
            }
        }
    }
    sort_n(ports.v, ports.n, sizeof(uint32_t), cmp_u32);
    v->listeners = mc_arena_zalloc(l->a, (ports.n + 1) * sizeof *v->listeners);
    for (size_t pi = 0; pi < ports.n; pi++) {
        uint32_t port = MC_VEC_AT(&ports, uint32_t, pi);
        char *k = mc_arena_printf(l->a, "%u", port);
        int c = (int)(intptr_t)mc_strmap_get(&cls, k, strlen(k));
        mc_ir_listener *li = &v->listeners[v->nlisteners];
        li->port = port;
        li->bind = "";
        mc_vec chains;
        mc_vec_init(&chains, sizeof(mc_ir_chain));
        if (c == MESH_HTTP) {
            li->kind = IMG_LISTENER_HTTP;
            mc_strmap vh;
            mc_strmap_init(&vh);
            mc_vec order;
            mc_vec_init(&order, sizeof(vh_build *));
            for (uint32_t vi = 0; vi < nvs; vi++) {
                route_list rl = build_http_routes(l, vss[vi], port, "mesh", false);
                if (!rl.n) continue;
                for (uint32_t h = 0; h < vss[vi]->nhosts; h++) {
                    vh_build *b = vh_get(l, &vh, &order, vss[vi]->hosts[h], port);
                    for (uint32_t r = 0; r < rl.n; r++) *(mc_ir_route **)mc_vec_push(&b->routes) = rl.v[r];
                }
            }
            for (uint32_t i = 0; i < l->nsvcs; i++) {
                const service *s = &l->svcs[i];
                if (service_for(l, s->host) != s || s->external_name) continue;
                for (uint32_t p = 0; p < s->nports; p++) {
                    if (s->ports[p].number != port || mesh_class(s->ports[p].proto) != MESH_HTTP) continue;
                    const char *key = lower_dup(l->a, s->host);
                    if (mc_strmap_get(&vh, key, strlen(key))) continue;
                    vh_build *b = vh_get(l, &vh, &order, s->host, port);
                    *(mc_ir_route **)mc_vec_push(&b->routes) = default_route(l, s, port);
                }
            }
            if (order.n) {
                mc_ir_chain *ch = VEC_PUSH(&chains, mc_ir_chain);
                ch->kind = IMG_CHAIN_HTTP;
                ch->tls = IMG_TLS_NONE;
                ch->protocol = IMG_PROTO_HTTP;
                ch->routes = finish_route_table(l, mc_arena_printf(l->a, "%u", port), &order, &vh, port);
            } else {
                mc_strmap_free(&vh);
            }
            mc_vec_free(&order);
        } else if (c == MESH_TLS) {
            li->kind = IMG_LISTENER_TLS;
            sni_seen seen;
            mc_strmap_init(&seen.names);
            mc_ir_server *fake = mc_arena_zalloc(l->a, sizeof *fake);
            fake->port = port;
            fake->tls = IMG_TLS_PASSTHROUGH;
            fake->protocol = IMG_PROTO_TLS;
            fake->bind = fake->port_name = fake->credential = "";
            tls_chains(l, fake, "mesh", true, &seen, &chains);
            for (size_t ci = 0; ci < chains.n; ci++) MC_VEC_AT(&chains, mc_ir_chain, ci).server = NULL;
            for (uint32_t i = 0; i < l->nsvcs; i++) {
                const service *s = &l->svcs[i];
                if (service_for(l, s->host) != s || s->external_name) continue;
                for (uint32_t p = 0; p < s->nports; p++) {
                    if (s->ports[p].number != port || mesh_class(s->ports[p].proto) != MESH_TLS) continue;
                    const char **names = mc_arena_alloc(l->a, sizeof *names);
                    names[0] = s->host;
                    if (sni_dup(&seen, names, 1)) continue;
                    mc_ir_chain *ch = VEC_PUSH(&chains, mc_ir_chain);
                    ch->kind = IMG_CHAIN_TCP;
                    ch->tls = IMG_TLS_PASSTHROUGH;
                    ch->protocol = s->ports[p].proto;
                    ch->sni = names;
                    ch->nsni = 1;
                    ch->entry_kind = IMG_ENTRY_TLS;
                    mc_dest *d = mc_arena_zalloc(l->a, sizeof *d);
                    d->host = s->host;
                    d->subset = "";
                    d->port = port;
                    ch->target = l4_target(l, d, 1, port);
                }
            }
            mc_strmap_free(&seen.names);
        } else if (c == MESH_TCP) {
            li->kind = IMG_LISTENER_TCP;
            mc_ir_server *fake = mc_arena_zalloc(l->a, sizeof *fake);
            fake->port = port;
            fake->protocol = IMG_PROTO_TCP;
            fake->bind = fake->port_name = fake->credential = "";
            mc_ir_chain ch;
            memset(&ch, 0, sizeof ch);
            ch.tls = IMG_TLS_NONE;
            ch.protocol = IMG_PROTO_TCP;
            if (tcp_chain(l, fake, "mesh", true, &ch)) {
                *VEC_PUSH(&chains, mc_ir_chain) = ch;
            } else {
                const service *only = NULL;
                uint32_t count = 0;
                for (uint32_t i = 0; i < l->nsvcs; i++) {
                    const service *s = &l->svcs[i];
                    if (service_for(l, s->host) != s || s->external_name) continue;
                    for (uint32_t p = 0; p < s->nports; p++)
                        if (s->ports[p].number == port && mesh_class(s->ports[p].proto) == MESH_TCP) { only = s; count++; }
                }
                if (count == 1) {
                    mc_dest *d = mc_arena_zalloc(l->a, sizeof *d);
                    d->host = only->host;
                    d->subset = "";
                    d->port = port;
                    ch.kind = IMG_CHAIN_TCP;
                    ch.target = l4_target(l, d, 1, port);
                    *VEC_PUSH(&chains, mc_ir_chain) = ch;
                }
            }
        }
        li->chains = mc_arena_alloc(l->a, (chains.n + 1) * sizeof *li->chains);
        copy_n(li->chains, chains.v, chains.n * sizeof *li->chains);
        li->nchains = (uint32_t)chains.n;
        mc_vec_free(&chains);
        if (li->nchains) v->nlisteners++;
    }
    mc_vec_free(&ports);
    mc_strmap_free(&cls);
}

/* ------------------------------------------------------------ workloads and views */

static int cmp_kv(const void *a, const void *b)
{
    return strcmp(((const mc_kv *)a)->key, ((const mc_kv *)b)->key);
}

static const char *labels_text(L *l, const mc_kv *kv, uint32_t n)
{
    mc_buf b;
    mc_buf_init(&b);
    for (uint32_t i = 0; i < n; i++) mc_buf_printf(&b, "%s%s=%s", i ? "," : "", kv[i].key, kv[i].value);
    const char *r = mc_arena_strdup(l->a, b.s ? b.s : "");
    mc_buf_free(&b);
    return r;
}

/* a Gateway selects a workload: no selector, or selector within its labels */
static bool gw_selects(const mc_obj *g, const mc_kv *labels, uint32_t n)
{
    const mc_node *sel = Gm(g->spec, "selector");
    if (!sel) return true;
    MC_MAP_EACH(sel, i) {
        const char *k = mc_key(sel, i)->u.s, *v = mc_text(mc_val(sel, i));
        bool ok = false;
        for (uint32_t j = 0; j < n && !ok; j++) ok = strcmp(labels[j].key, k) == 0 && v && strcmp(labels[j].value, v) == 0;
        if (!ok) return false;
    }
    return true;
}

typedef struct wl { const char *ns; mc_kv *labels; uint32_t n; const char *key; } wl;

/* labels sorted by key, one value per key (the first), as views store them */
static uint32_t sort_labels(mc_kv *labels, uint32_t n)
{
    sort_n(labels, n, sizeof *labels, cmp_kv);
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        if (!k || strcmp(labels[k - 1].key, labels[i].key) != 0) labels[k++] = labels[i];
    return k;
}

static void wl_add(L *l, mc_vec *v, const char *ns, mc_kv *labels, uint32_t n)
{
    n = sort_labels(labels, n);
    const char *key = mc_arena_printf(l->a, "%s/%s", ns, labels_text(l, labels, n));
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(MC_VEC_AT(v, wl, i).key, key) == 0) return;
    wl *w = VEC_PUSH(v, wl);
    w->ns = ns;
    w->labels = labels;
    w->n = n;
    w->key = key;
}

static int cmp_wl(const void *a, const void *b)
{
    return strcmp(((const wl *)a)->key, ((const wl *)b)->key);
}

static bool wl_has(const wl *w, const char *k, const char *v)
{
    for (uint32_t i = 0; i < w->n; i++)
        if (strcmp(w->labels[i].key, k) == 0 && strcmp(w->labels[i].value, v) == 0) return true;
    return false;
}

static bool selector_within(const mc_node *sel, const wl *w)
{
    MC_MAP_EACH(sel, i) {
        const char *v = mc_text(mc_val(sel, i));
        if (!v || !wl_has(w, mc_key(sel, i)->u.s, v)) return false;
    }
    return true;
}

static void workloads(L *l, mc_vec *out)
{
    static const mc_kind kinds[] = { MC_K_POD, MC_K_DEPLOYMENT, MC_K_STATEFULSET, MC_K_DAEMONSET };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        uint32_t n;
        const mc_obj **objs = objs_of(l, kinds[k], &n);
        for (uint32_t i = 0; i < n; i++) {
            const mc_node *labels = kinds[k] == MC_K_POD ? mc_get(objs[i]->meta, "labels")
                                                         : mc_path(objs[i]->spec, "template", "metadata", "labels", NULL);
            uint32_t nl;
            mc_kv *kv = kv_list(l, labels, &nl);
            if (!nl) continue;
            bool selected = false;
            for (uint32_t g = 0; g < l->ngateways && !selected; g++)
                selected = Gm(l->gateways[g]->spec, "selector") && mc_len(Gm(l->gateways[g]->spec, "selector")) &&
                           gw_selects(l->gateways[g], kv, nl);
            if (selected) wl_add(l, out, objs[i]->o.ns, kv, nl);
        }
    }
    bool have_default = false;
    for (size_t i = 0; i < out->n && !have_default; i++) have_default = wl_has(&MC_VEC_AT(out, wl, i), "istio", "ingressgateway");
    if (!have_default) {
        mc_kv *kv = mc_arena_alloc(l->a, sizeof *kv);
        kv->key = "istio";
        kv->value = "ingressgateway";
        wl_add(l, out, "istio-system", kv, 1);
    }
    for (uint32_t g = 0; g < l->ngateways; g++) {
        const mc_node *sel = Gm(l->gateways[g]->spec, "selector");
        if (!sel || !mc_len(sel)) continue;
        bool covered = false;
        for (size_t i = 0; i < out->n && !covered; i++) covered = selector_within(sel, &MC_VEC_AT(out, wl, i));
        if (covered) continue;
        uint32_t nl;
        mc_kv *kv = kv_list(l, sel, &nl);
        wl_add(l, out, l->gateways[g]->o.ns, kv, nl);
    }
    sort_n(out->v, out->n, sizeof(wl), cmp_wl);
}

static void view_head(mc_ir_view *v, int kind, const char *name, const char *ns, mc_kv *labels, uint32_t nl)
{
    v->kind = kind;
    v->name = name;
    v->ns = ns;
    v->labels = labels;
    v->nlabels = nl;
}

static void build_view(L *l, mc_ir_view *v, int kind, const char *name, const char *ns, mc_kv *labels, uint32_t nl)
{
    view_head(v, kind, name, ns, labels, nl);
    proxy px = { ns, labels, nl, name, kind == IMG_VIEW_MESH };
    l->px = &px;
    mc_strmap_init(&l->gwcache);
    if (kind == IMG_VIEW_MESH) mesh_listeners(l, v);
    else gateway_listeners(l, v);
    gw_cache_clear(l);
    l->px = NULL;
}

const char *mc_drop_name(mc_drop_reason r)
{
    static const char *const names[] = {
#define X(n, s) s,
        MC_DROPS(X)
#undef X
    };
    return (unsigned)r < MC_DROP_COUNT_ ? names[r] : "?";
}

int mc_lower_protocol(const char *s) { return protocol_of(s); }
int mc_lower_tls_mode(const char *mode) { return tls_mode(mode); }

int mc_lower_cmp_order(const mc_obj *a, const mc_obj *b)
{
    return cmp_obj_order(&a, &b);
}

static int cmp_vs_order(const void *a, const void *b)
{
    const mc_obj *x = ((const mc_vs *)a)->obj, *y = ((const mc_vs *)b)->obj;
    return cmp_obj_order(&x, &y);
}

static int cmp_cluster(const void *a, const void *b)
{
    const mc_ir_cluster *x = *(mc_ir_cluster *const *)a, *y = *(mc_ir_cluster *const *)b;
    int c = strcmp(x->name, y->name);
    if (c) return c;
    return x->id < y->id ? -1 : x->id > y->id;
}

static mc_ir *lower(const mc_input *in, const mc_lower_opts *opt, bool workloads_only)
{
    mc_ir *ir = mc_xcalloc(1, sizeof *ir);
    mc_arena_init(&ir->arena);
    mc_vec_init(&ir->drops, sizeof(mc_ir_drop));
    L l;
    memset(&l, 0, sizeof l);
    l.ir = ir;
    l.a = &ir->arena;
    l.opt = opt;
    l.in = in;
    l.domain = opt && opt->cluster_domain ? opt->cluster_domain : "cluster.local";
    ir->domain = l.domain;
    mc_strmap_init(&l.svc_by_host);
    mc_strmap_init(&l.dr_by_host);
    mc_strmap_init(&l.vs_by_gw);
    mc_strmap_init(&l.clusters);
    mc_strmap_init(&action_cache);
    mc_vec_init(&l.cluster_list, sizeof(mc_ir_cluster *));
    mc_buf_init(&l.scratch);
    mc_vec_init(&l.dr_wild, sizeof(drule *));
    mc_vec_init(&l.srv_indexes, sizeof(struct mc_srv_index *));
    proxy none = { "", NULL, 0, "", false };
    l.px = &none;

    l.gateways = objs_of(&l, MC_K_GATEWAY, &l.ngateways);
    /* VirtualServices: delegates (no hosts) apart, roots in config order */
    uint32_t nv;
    const mc_obj **vsobjs = objs_of(&l, MC_K_VIRTUALSERVICE, &nv);
    mc_vec dv;
    mc_vec_init(&dv, sizeof(mc_vs));
    ir->vs = mc_arena_zalloc(l.a, (nv + 1) * sizeof *ir->vs);
    for (uint32_t i = 0; i < nv; i++) {
        mc_vs tmp;
        parse_vs(&l, vsobjs[i], &tmp);
        tmp.order = i;
        if (tmp.nhosts == 0) *(mc_vs *)mc_vec_push(&dv) = tmp;
        else ir->vs[ir->nvs++] = tmp;
    }
    /* delegates are few: an array of their own size */
    l.delegates = mc_arena_alloc(l.a, (dv.n + 1) * sizeof *l.delegates);
    copy_n(l.delegates, dv.v, dv.n * sizeof *l.delegates);
    l.ndelegates = (uint32_t)dv.n;
    mc_vec_free(&dv);
    mc_strmap_init(&l.delegate_by_name);
    for (uint32_t i = 0; i < l.ndelegates; i++) {
        const char *key = mc_arena_printf(l.a, "%s/%s", l.delegates[i].obj->o.ns, l.delegates[i].obj->o.name);
        *mc_strmap_put(&l.delegate_by_name, key, strlen(key), NULL) = &l.delegates[i];
    }
    for (uint32_t i = 0; i < ir->nvs; i++) merge_delegates(&l, &ir->vs[i]);
    mc_strmap_free(&l.delegate_by_name);
    sort_n(ir->vs, ir->nvs, sizeof *ir->vs, cmp_vs_order);
    for (uint32_t i = 0; i < ir->nvs; i++) {
        mc_vs *vs = &ir->vs[i];
        for (uint32_t k = 0; k < vs->nhttp; k++) vs->http[k].vs = vs;
        for (uint32_t g = 0; g < vs->ngateways; g++) {
            bool dup = false;
            for (uint32_t h = 0; h < g && !dup; h++) dup = strcmp(vs->gateways[h], vs->gateways[g]) == 0;
            if (!dup) multimap_add(&l, &l.vs_by_gw, vs->gateways[g], vs);
        }
    }
    /* services and rules */
    mc_vec sv;
    mc_vec_init(&sv, sizeof(service *));
    load_service_entries(&l, &sv);
    load_k8s_services(&l, &sv);
    l.svcs = mc_arena_zalloc(l.a, (sv.n + 1) * sizeof *l.svcs);
    for (size_t i = 0; i < sv.n; i++) l.svcs[l.nsvcs++] = *MC_VEC_AT(&sv, service *, i);
    mc_vec_free(&sv);
    for (uint32_t i = 0; i < l.nsvcs; i++) add_service(&l, &l.svcs[i]);
    load_drs(&l);

    /* views */
    mc_vec wls;
    mc_vec_init(&wls, sizeof(wl));
    workloads(&l, &wls);
    ir->views = mc_arena_zalloc(l.a, (wls.n + l.ngateways + 1) * sizeof *ir->views);
    size_t *wl_drops = mc_xcalloc(wls.n + 1, sizeof *wl_drops);     /* drops of workload view i: [wl_drops[i], wl_drops[i + 1]) */
    for (size_t i = 0; i < wls.n; i++) {
        wl_drops[i] = ir->drops.n;
        wl *w = &MC_VEC_AT(&wls, wl, i);
        mc_ir_view *v = &ir->views[ir->nviews++];
        mc_vec gws;
        mc_vec_init(&gws, sizeof(const mc_obj *));
        for (uint32_t g = 0; g < l.ngateways; g++)
            if (gw_selects(l.gateways[g], w->labels, w->n)) *(const mc_obj **)mc_vec_push(&gws) = l.gateways[g];
        v->gateways = mc_arena_alloc(l.a, (gws.n + 1) * sizeof *v->gateways);
        copy_n(v->gateways, gws.v, gws.n * sizeof *v->gateways);
        v->ngateways = (uint32_t)gws.n;
        mc_vec_free(&gws);
        build_view(&l, v, IMG_VIEW_WORKLOAD, w->key, w->ns, w->labels, w->n);
    }
    wl_drops[wls.n] = ir->drops.n;
    for (uint32_t g = 0; g < l.ngateways && !workloads_only; g++) {
        const wl *w = NULL;
        size_t wi = 0;
        for (size_t i = 0; i < wls.n && !w; i++)
            if (gw_selects(l.gateways[g], MC_VEC_AT(&wls, wl, i).labels, MC_VEC_AT(&wls, wl, i).n)) w = &MC_VEC_AT(&wls, wl, wi = i);
        mc_ir_view *v = &ir->views[ir->nviews++];
        v->gateways = mc_arena_alloc(l.a, sizeof *v->gateways);
        v->gateways[0] = l.gateways[g];
        v->ngateways = 1;
        const char *ns = w ? w->ns : l.gateways[g]->o.ns;
        uint32_t nl = 0;
        mc_kv *labels = w ? w->labels : kv_list(&l, Gm(l.gateways[g]->spec, "selector"), &nl);
        if (w) nl = w->n;
        else nl = sort_labels(labels, nl);
        const char *name = gw_name(&l, l.gateways[g]);
        const mc_ir_view *same = w ? &ir->views[wi] : NULL;
        if (same && same->ngateways == 1 && same->gateways[0] == l.gateways[g]) {
            /* the workload sees this Gateway alone, from the same proxy: the
            ** same listeners (shared, not rebuilt), the same drops (again,
            ** under this view's name) */
            view_head(v, IMG_VIEW_GATEWAY, name, ns, labels, nl);
            v->listeners = same->listeners;
            v->nlisteners = same->nlisteners;
            for (size_t k = wl_drops[wi]; k < wl_drops[wi + 1]; k++) {
                mc_ir_drop *d = VEC_PUSH(&ir->drops, mc_ir_drop);
                *d = MC_VEC_AT(&ir->drops, mc_ir_drop, k);
                d->view = name;
            }
            continue;
        }
        build_view(&l, v, IMG_VIEW_GATEWAY, name, ns, labels, nl);
    }
    free(wl_drops);
    mc_vec_free(&wls);
    if (!workloads_only) {
        mc_ir_view *mv = &ir->views[ir->nviews++];
        build_view(&l, mv, IMG_VIEW_MESH, "mesh", opt && opt->default_ns ? opt->default_ns : "default", NULL, 0);
    }

    /* clusters, sorted by name */
    ir->nclusters = (uint32_t)l.cluster_list.n;
    ir->clusters = mc_arena_alloc(l.a, (l.cluster_list.n + 1) * sizeof *ir->clusters);
    copy_n(ir->clusters, l.cluster_list.v, l.cluster_list.n * sizeof *ir->clusters);
    sort_n(ir->clusters, ir->nclusters, sizeof *ir->clusters, cmp_cluster);

    mc_vec_free(&l.cluster_list);
    mc_buf_free(&l.scratch);
    mc_vec_free(&l.dr_wild);
    for (size_t i = 0; i < l.srv_indexes.n; i++) {
        struct mc_srv_index *x = MC_VEC_AT(&l.srv_indexes, struct mc_srv_index *, i);
        mc_strmap_free(&x->exact);
        mc_strmap_free(&x->wild);
    }
    mc_vec_free(&l.srv_indexes);
    multimap_free(&l.svc_by_host);
    multimap_free(&l.dr_by_host);
    multimap_free(&l.vs_by_gw);
    mc_strmap_free(&l.clusters);
    mc_strmap_free(&action_cache);
    return ir;
}

mc_ir *mc_lower(const mc_input *in, const mc_lower_opts *opt) { return lower(in, opt, false); }
mc_ir *mc_lower_workloads(const mc_input *in, const mc_lower_opts *opt) { return lower(in, opt, true); }

void mc_ir_free(mc_ir *ir)
{
    if (!ir) return;
    mc_vec_free(&ir->drops);
    mc_arena_free(&ir->arena);
    free(ir);
}
