/*
** analyze.c -- the analysis stage: the context every analyzer reads
** (resources by kind, workloads, MeshConfig, indexes), the analyzer table
** behind --analyzer, and the helpers the analyzer files share
** (analyze_int.h): Istio's host and name rules, istioctl's deduplication,
** Go-style rendering of message parameters.
*/
#include "analyze_int.h"
#include "host.h"
#include "parse.h"
#include "source.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ the table */

typedef struct an_def {
    const char *name;           /* Istio's Metadata().Name */
    void (*run)(mc_an_ctx *);
    mc_code codes[3];
    int ncodes;
    int cost;                   /* ms on the 10,000-host benchmark: a scheduling hint */
} an_def;

/* In the order of Istio's analyzers.All() */
static const an_def analyzers[] = {
    { "destinationrule.CaCertificateAnalyzer", mc_an_dr_ca_certificates, { IST0128, IST0129 }, 2, 4 },
    { "destinationrule.SubsetSelectPodAnalyzer", mc_an_dr_subsets, { IST0173, IST0174 }, 2, 8 },
    { "deprecation.DeprecationAnalyzer", mc_an_deprecation, { IST0002 }, 1, 2 },
    { "gateway.IngressGatewayPortAnalyzer", mc_an_gw_ports, { IST0101, IST0162 }, 2, 0 },
    { "gateway.CertificateAnalyzer", mc_an_gw_certificates, { IST0138 }, 1, 0 },
    { "gateway.SecretAnalyzer", mc_an_gw_secrets, { IST0101, IST0161 }, 2, 0 },
    { "gateway.ConflictingGatewayAnalyzer", mc_an_gw_conflicts, { IST0101, IST0145 }, 2, 7 },
    { "virtualservice.ConflictingMeshGatewayHostsAnalyzer", mc_an_vs_mesh_hosts, { IST0109 }, 1, 7 },
    { "virtualservice.DestinationHostAnalyzer", mc_an_vs_destination_hosts, { IST0101, IST0112, IST0140 }, 3, 23 },
    { "virtualservice.DestinationRuleAnalyzer", mc_an_vs_destination_rules, { IST0101 }, 1, 9 },
    { "virtualservice.GatewayAnalyzer", mc_an_vs_gateways, { IST0101, IST0132, IST0165 }, 3, 6 },
    { "virtualservice.JWTClaimRouteAnalyzer", mc_an_vs_jwt_claims, { IST0149 }, 1, 5 },
    { "serviceentry.Analyzer", mc_an_se_addresses, { IST0134 }, 1, 4 },
    { "serviceentry.ConflictingServiceEntryProtocolAnalyzer", mc_an_se_protocols, { IST0177 }, 1, 12 },
};
#define NANALYZERS (sizeof analyzers / sizeof analyzers[0])

/* schema.ValidationAnalyzer.<Kind>: the webhook validation, which meshc
** runs in its schema and validate stages. */
#define SCHEMA_PREFIX "schema.ValidationAnalyzer."

static const mc_code load_codes[] = {
#define MC_CODE(id, ...) id,
#include "codes_load.def"
#undef MC_CODE
};
static const mc_code check_codes[] = {    /* schema and validate stages */
#define MC_CODE(id, ...) id,
#include "codes_schema.def"
#include "codes_validate.def"
#undef MC_CODE
    MC_NCODES   /* keeps the array non-empty while the stages have no codes */
};

static bool schema_name(const char *name)
{
    size_t n = strlen(SCHEMA_PREFIX);
    if (strncmp(name, SCHEMA_PREFIX, n) != 0) return false;
    for (int k = 0; k < MC_NKINDS; k++)
        if (strcmp(mc_kind_group((mc_kind)k), "networking.istio.io") == 0 &&
            strcmp(mc_kind_name((mc_kind)k), name + n) == 0)
            return true;
    return false;
}

static const an_def *find_analyzer(const char *name)
{
    for (size_t i = 0; i < NANALYZERS; i++)
        if (strcmp(analyzers[i].name, name) == 0) return &analyzers[i];
    return NULL;
}

bool mc_analyzer_check(const char *name)
{
    if (find_analyzer(name) || schema_name(name)) return true;
    fprintf(stderr, "meshc: unknown analyzer '%s'; the analyzers are:\n", name);
    for (size_t i = 0; i < NANALYZERS; i++) fprintf(stderr, "  %s\n", analyzers[i].name);
    for (int k = 0; k <= MC_K_WORKLOADENTRY; k++)
        fprintf(stderr, "  %s%s\n", SCHEMA_PREFIX, mc_kind_name((mc_kind)k));
    return false;
}

static bool selected_codes[MC_NCODES];

void mc_analyze_select(const mc_check_opts *opt)
{
    if (!opt->analyzers || opt->nanalyzers == 0) { mc_diag_only(NULL); return; }
    memset(selected_codes, 0, sizeof selected_codes);
    for (size_t i = 0; i < sizeof load_codes / sizeof load_codes[0]; i++) selected_codes[load_codes[i]] = true;
    for (int i = 0; i < opt->nanalyzers; i++) {
        const an_def *d = find_analyzer(opt->analyzers[i]);
        if (d) {
            for (int j = 0; j < d->ncodes; j++) selected_codes[d->codes[j]] = true;
        } else if (schema_name(opt->analyzers[i])) {
            for (size_t j = 0; j < sizeof check_codes / sizeof check_codes[0]; j++)
                if (check_codes[j] < MC_NCODES) selected_codes[check_codes[j]] = true;
        }
    }
    mc_diag_only(selected_codes);
}

/* ------------------------------------------------------------ small helpers */

/* The indexes are built on first use, in the middle of an analyzer, and
** serve the analyzers after it: while one is built, the helpers allocate
** in `keep` instead of the analyzer's scratch. */
static void keep_begin(mc_an_ctx *c, mc_arena *scratch)
{
    *scratch = c->a;
    c->a = c->keep;
}

static void keep_end(mc_an_ctx *c, const mc_arena *scratch)
{
    c->keep = c->a;
    c->a = *scratch;
}

void mc_an_vec_push(mc_an_vec *v, void *p)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 8;
        v->v = mc_xrealloc(v->v, v->cap * sizeof *v->v);
    }
    v->v[v->n++] = p;
}

void mc_an_multi_add(mc_an_ctx *c, mc_strmap *m, const char *key, void *val, bool once)
{
    bool found;
    void **slot = mc_strmap_put(m, key, strlen(key), &found);
    if (!found) *slot = mc_arena_zalloc(&c->a, sizeof(mc_an_vec));
    mc_an_vec *v = *slot;
    if (!once || v->n == 0 || v->v[v->n - 1] != val) mc_an_vec_push(v, val);
}

void mc_an_multi_free(mc_strmap *m)
{
    MC_STRMAP_EACH(m, s) free(((mc_an_vec *)s->val)->v);
    mc_strmap_free(m);
}

const char *mc_an_str(const mc_node *n)
{
    return n && n->type != MC_NULL && n->type <= MC_STR ? n->u.s : NULL;
}

const char *mc_an_s(const mc_node *n)
{
    const char *s = mc_an_str(n);
    return s ? s : "";
}

int64_t mc_an_int(const mc_node *n, int64_t def)
{
    int64_t v;
    if (!n) return def;
    if (n->type == MC_INT && mc_int(n, &v)) return v;
    if (n->type == MC_STR && n->n > 0 && mc_parse_int(n->u.s, n->n, &v)) return v;
    return def;
}

const char *mc_an_fullname(mc_an_ctx *c, const mc_obj *o)
{
    if (!o->o.ns || !*o->o.ns) return o->o.name;
    return mc_arena_printf(&c->a, "%s/%s", o->o.ns, o->o.name);
}

static const char *key2(mc_an_ctx *c, const char *a, char sep, const char *b, size_t *len)
{
    mc_buf_reset(&c->key);
    mc_buf_puts(&c->key, a);
    mc_buf_putc(&c->key, sep);
    mc_buf_puts(&c->key, b);
    *len = c->key.n;
    return c->key.s;
}

const char *mc_an_cat(mc_an_ctx *c, const char *a, char sep, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *r = mc_arena_alloc(&c->a, la + lb + 2);
    memcpy(r, a, la);
    r[la] = sep;
    memcpy(r + la + 1, b, lb + 1);
    return r;
}

const char *mc_an_u32(mc_an_ctx *c, uint32_t v)
{
    char b[12], *p = b + sizeof b;
    *--p = '\0';
    do *--p = (char)('0' + v % 10); while ((v /= 10) != 0);
    return mc_arena_strndup(&c->a, p, (size_t)(b + sizeof b - 1 - p));
}

mc_obj *mc_an_find(mc_an_ctx *c, mc_kind k, const char *ns, const char *name)
{
    if (!c->names_built[k]) {
        mc_arena scratch;
        keep_begin(c, &scratch);
        c->names_built[k] = true;
        mc_strmap_init(&c->by_name[k]);
        for (uint32_t i = 0; i < c->objs[k].n; i++) {
            mc_obj *o = c->objs[k].v[i];
            const char *key = mc_an_cat(c, o->o.ns, '\x1f', o->o.name);
            *mc_strmap_put(&c->by_name[k], key, strlen(key), NULL) = o;
        }
        keep_end(c, &scratch);
    }
    size_t n;
    const char *key = key2(c, ns ? ns : "", '\x1f', name ? name : "", &n);
    return mc_strmap_get(&c->by_name[k], key, n);
}

void mc_an_short_or_full(mc_an_ctx *c, const char *defns, const char *ref, const char **ns, const char **name)
{
    const char *slash = strchr(ref, '/');
    if (!slash) { *ns = defns; *name = ref; return; }
    *ns = mc_arena_strndup(&c->a, ref, (size_t)(slash - ref));
    *name = slash + 1;
}

/* ------------------------------------------------------------ hosts */

static bool ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && memcmp(s + a - b, suf, b) == 0;
}

const char *mc_an_fqdn(mc_an_ctx *c, const char *ns, const char *host)
{
    return mc_host_fqdn_analyzer(&c->a, host ? host : "", ns, c->domain);
}

void mc_an_resource_name(mc_an_ctx *c, mc_buf *out, const char *defns, const char *host)
{
    /* ^(.+)\.(.+)\.svc\.cluster\.local$ with a greedy first group: the
    ** namespace is the text after the last '.' that leaves both groups
    ** non-empty */
    size_t hl = strlen(host), sl = strlen(c->svc_suffix);
    if (hl > sl && memcmp(host + hl - sl, c->svc_suffix, sl) == 0) {
        size_t rl = hl - sl;
        for (size_t p = rl >= 3 ? rl - 2 : 0; p >= 1; p--)
            if (host[p] == '.') {
                mc_buf_add(out, host + p + 1, rl - p - 1);
                mc_buf_putc(out, '\x1f');
                mc_buf_add(out, host, p);
                return;
            }
    }
    mc_buf_puts(out, defns);
    mc_buf_putc(out, '\x1f');
    mc_buf_puts(out, host);
}

bool mc_an_cluster_local(const mc_an_ctx *c, const char *host)
{
    if (host[0] != '*' && !strchr(host, '.')) return true;
    if (ends_with(host, ".svc")) return true;
    size_t dl = strlen(c->domain), hl = strlen(host);
    return hl > dl && host[hl - dl - 1] == '.' && strcmp(host + hl - dl, c->domain) == 0;
}

/* InitServiceEntryHostMap: (scope, fqdn) -> service; a later definition of
** a key replaces an earlier one (ServiceEntries first, then Services). */
static void svc_put(mc_an_ctx *c, const char *scope, const char *fqdn, mc_an_svc *s)
{
    const char *key = mc_an_cat(c, scope, '/', fqdn);
    *mc_strmap_put(&c->svc_exact, key, strlen(key), NULL) = s;
    if (fqdn[0] == '*') {
        const char *wk = mc_an_cat(c, scope, '/', fqdn + 1);
        *mc_strmap_put(&c->svc_wild, wk, strlen(wk), NULL) = s;
    }
}

static void build_services(mc_an_ctx *c)
{
    mc_arena scratch;
    keep_begin(c, &scratch);
    c->svc_built = true;
    mc_strmap_init(&c->svc_exact);
    mc_strmap_init(&c->svc_wild);
    for (uint32_t i = 0; i < mc_an_count(c, MC_K_SERVICEENTRY); i++) {
        mc_obj *o = mc_an_obj(c, MC_K_SERVICEENTRY, i);
        mc_an_svc *s = mc_arena_zalloc(&c->a, sizeof *s);
        s->obj = o;
        s->ports = mc_get(o->spec, "ports");
        s->wl_labels = mc_path(o->spec, "workloadSelector", "labels", NULL);
        const mc_node *hosts = mc_get(o->spec, "hosts"), *exp = mc_get(o->spec, "exportTo");
        bool all = false;
        MC_SEQ_EACH(hosts, h) {
            const char *fq = mc_an_fqdn(c, o->o.ns, mc_an_s(mc_item(hosts, h)));
            if (mc_len(exp) == 0 || all) { svc_put(c, "*", fq, s); continue; }
            MC_SEQ_EACH(exp, e) {
                const char *sc = mc_an_s(mc_item(exp, e));
                if (strcmp(sc, "*") == 0) { svc_put(c, "*", fq, s); all = true; }
                else svc_put(c, strcmp(sc, ".") == 0 ? o->o.ns : sc, fq, s);
                if (all) break;
            }
        }
    }
    for (uint32_t i = 0; i < mc_an_count(c, MC_K_SERVICE); i++) {
        mc_obj *o = mc_an_obj(c, MC_K_SERVICE, i);
        mc_an_svc *s = mc_arena_zalloc(&c->a, sizeof *s);
        s->obj = o;
        s->k8s = true;
        s->ports = mc_get(o->spec, "ports");
        const char *fq = mc_an_fqdn(c, o->o.ns, o->o.name);
        const char *anno = mc_an_str(mc_get(mc_get(o->meta, "annotations"), "networking.istio.io/exportTo"));
        if (!anno || !*anno) { svc_put(c, "*", fq, s); continue; }
        for (const char *p = anno;;) {
            const char *e = strchr(p, ',');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            while (n && (*p == ' ' || *p == '\t')) { p++; n--; }
            while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
            char *sc = mc_arena_strndup(&c->a, p, n);
            svc_put(c, strcmp(sc, ".") == 0 ? o->o.ns : sc, fq, s);
            if (!e) break;
            p = e + 1;
        }
    }
    keep_end(c, &scratch);
}

static const mc_an_svc *dest_host(mc_an_ctx *c, const char *srcns, const mc_node *export_to, const char *host);

const mc_an_svc *mc_an_dest_host(mc_an_ctx *c, const char *srcns, const mc_node *export_to, const char *host)
{
    /* routes of one VirtualService mostly name one host: remember the last
    ** answer (the table is large, every lookup a cache miss) */
    if (c->memo_host && c->memo_ns == srcns && c->memo_exp == export_to && strcmp(c->memo_host, host) == 0)
        return c->memo_svc;
    c->memo_svc = dest_host(c, srcns, export_to, host);
    c->memo_ns = srcns;
    c->memo_exp = export_to;
    c->memo_host = host;
    return c->memo_svc;
}

static const mc_an_svc *dest_host(mc_an_ctx *c, const char *srcns, const mc_node *export_to, const char *host)
{
    if (!c->svc_built) build_services(c);
    const char *fq = mc_an_fqdn(c, srcns, host);
    size_t n;
    const char *k = key2(c, "*", '/', fq, &n);
    mc_an_svc *s = mc_strmap_get(&c->svc_exact, k, n);
    if (s) return s;
    if (mc_len(export_to) == 0) {
        k = key2(c, srcns, '/', fq, &n);
        if ((s = mc_strmap_get(&c->svc_exact, k, n))) return s;
    } else {
        MC_SEQ_EACH(export_to, e) {
            const char *sc = mc_an_s(mc_item(export_to, e));
            k = key2(c, strcmp(sc, ".") == 0 ? srcns : sc, '/', fq, &n);
            if ((s = mc_strmap_get(&c->svc_exact, k, n))) return s;
        }
    }
    if (c->svc_wild.n == 0) return NULL;
    /* wildcard entries visible here whose tail ends the host (the longest
    ** tail first; Istio takes whichever its map iteration meets first) */
    const char *h = host[0] == '*' ? host + 1 : host;
    size_t hl = strlen(h);
    for (size_t i = 0; i <= hl; i++) {
        k = key2(c, "*", '/', h + i, &n);
        if ((s = mc_strmap_get(&c->svc_wild, k, n))) return s;
        k = key2(c, srcns, '/', h + i, &n);
        if ((s = mc_strmap_get(&c->svc_wild, k, n))) return s;
    }
    return NULL;
}

const char **mc_an_scopes(mc_an_ctx *c, const mc_obj *o, const mc_node *export_to, uint32_t *n)
{
    uint32_t len = mc_len(export_to);
    bool all = len == 0;
    MC_SEQ_EACH(export_to, e) all = all || strcmp(mc_an_s(mc_item(export_to, e)), "*") == 0;
    const char **v = mc_arena_alloc(&c->a, (all ? 1 : len) * sizeof *v);
    *n = 0;
    if (all) { v[(*n)++] = "*"; return v; }
    mc_strmap seen;
    mc_strmap_init(&seen);
    MC_SEQ_EACH(export_to, e) {
        const char *s = mc_an_s(mc_item(export_to, e));
        if (strcmp(s, ".") == 0) s = o->o.ns;
        bool found;
        mc_strmap_put(&seen, s, strlen(s), &found);
        if (!found) v[(*n)++] = s;
    }
    mc_strmap_free(&seen);
    return v;
}

/* ------------------------------------------------------------ labels, pods */

/* Label values as Kubernetes reads them: a null value is "". */
static const char *label_text(const mc_node *v)
{
    if (!v || v->type == MC_MAP || v->type == MC_SEQ) return NULL;
    return v->type == MC_NULL ? "" : v->u.s;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char *mc_an_selector_string(mc_an_ctx *c, const mc_node *sel)
{
    uint32_t n = sel && sel->type == MC_MAP ? sel->n : 0;
    if (n == 0) return "";
    const char **keys = mc_xmalloc(n * sizeof *keys);
    for (uint32_t i = 0; i < n; i++) keys[i] = mc_key(sel, i)->u.s;
    qsort(keys, n, sizeof *keys, cmp_cstr);
    mc_buf b;
    mc_buf_init(&b);
    for (uint32_t i = 0; i < n; i++) {
        const char *v = label_text(mc_get(sel, keys[i]));
        mc_buf_printf(&b, "%s%s=%s", i ? "," : "", keys[i], v ? v : "");
    }
    char *s = mc_arena_strdup(&c->a, b.s);
    mc_buf_free(&b);
    free(keys);
    return s;
}

const mc_node *mc_an_selector_anchor(const mc_node *sel)
{
    uint32_t n = sel && sel->type == MC_MAP ? sel->n : 0;
    const mc_node *best = NULL, *bestk = NULL;
    for (uint32_t i = 0; i < n; i++) {
        const mc_node *k = mc_key(sel, i);
        if (!bestk || strcmp(k->u.s, bestk->u.s) < 0) { bestk = k; best = mc_val(sel, i); }
    }
    return best;
}

static bool labels_match(const mc_node *sel, const mc_node *labels)
{
    MC_MAP_EACH(sel, i) {
        const char *want = label_text(mc_val(sel, i));
        const char *have = label_text(mc_get(labels, mc_key(sel, i)->u.s));
        if (!want || !have || strcmp(want, have) != 0) return false;
    }
    return true;
}

static void build_podidx(mc_an_ctx *c)
{
    mc_arena scratch;
    keep_begin(c, &scratch);
    c->podidx_built = true;
    mc_strmap_init(&c->podidx);
    for (uint32_t i = 0; i < c->npods; i++) {
        const mc_node *l = c->pods[i].labels;
        MC_MAP_EACH(l, j) {
            const char *v = label_text(mc_val(l, j));
            if (!v) continue;
            /* a label written twice (MSH0007) indexes the pod once */
            mc_an_multi_add(c, &c->podidx, mc_an_cat(c, mc_key(l, j)->u.s, '\x1f', v), (void *)(uintptr_t)(i + 1), true);
        }
    }
    keep_end(c, &scratch);
}

void mc_an_pods_matching(mc_an_ctx *c, const mc_node *sel, bool (*fn)(void *ud, mc_an_pod *p), void *ud)
{
    if (mc_len(sel) == 0 || sel->type != MC_MAP) {
        for (uint32_t i = 0; i < c->npods; i++)
            if (!fn(ud, &c->pods[i])) return;
        return;
    }
    if (!c->podidx_built) build_podidx(c);
    /* walk the shortest posting list among the selector's pairs */
    const mc_an_vec *best = NULL;
    MC_MAP_EACH(sel, i) {
        const char *v = label_text(mc_val(sel, i));
        if (!v) return;
        size_t n;
        const char *k = key2(c, mc_key(sel, i)->u.s, '\x1f', v, &n);
        const mc_an_vec *vec = mc_strmap_get(&c->podidx, k, n);
        if (!vec) return;
        if (!best || vec->n < best->n) best = vec;
    }
    for (uint32_t j = 0; best && j < best->n; j++) {
        mc_an_pod *p = &c->pods[(uintptr_t)best->v[j] - 1];
        if (labels_match(sel, p->labels) && !fn(ud, p)) return;
    }
}

bool mc_an_labels_match(const mc_node *sel, const mc_node *labels)
{
    return labels_match(sel, labels);
}

const char *mc_an_label_text(const mc_node *v)
{
    return label_text(v);
}

/* ------------------------------------------------------------ reporting */

void mc_an_goquote(mc_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    mc_buf_putc(b, '"');
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        if (c < 0x80) {
            switch (c) {
            case '"': mc_buf_puts(b, "\\\""); break;
            case '\\': mc_buf_puts(b, "\\\\"); break;
            case '\a': mc_buf_puts(b, "\\a"); break;
            case '\b': mc_buf_puts(b, "\\b"); break;
            case '\f': mc_buf_puts(b, "\\f"); break;
            case '\n': mc_buf_puts(b, "\\n"); break;
            case '\r': mc_buf_puts(b, "\\r"); break;
            case '\t': mc_buf_puts(b, "\\t"); break;
            case '\v': mc_buf_puts(b, "\\v"); break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    char e[5] = { '\\', 'x', hex[c >> 4], hex[c & 15], 0 };
                    mc_buf_puts(b, e);
                } else {
                    mc_buf_putc(b, (char)c);
                }
            }
            p++;
            continue;
        }
        /* decode one UTF-8 sequence; invalid bytes print as \xNN */
        int len = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
        uint32_t r = len == 4 ? c & 7 : len == 3 ? c & 15 : c & 31;
        for (int i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80) { len = 0; break; }
            r = r << 6 | (p[i] & 0x3f);
        }
        if (len == 3 && (r < 0x800 || (r >= 0xd800 && r < 0xe000))) len = 0;
        if (len == 4 && (r < 0x10000 || r > 0x10ffff)) len = 0;
        if (len == 0) {
            char e[5] = { '\\', 'x', hex[c >> 4], hex[c & 15], 0 };
            mc_buf_puts(b, e);
            p++;
            continue;
        }
        /* the non-printable runes strconv.Quote escapes that matter in
        ** practice: C1 controls, soft hyphen, separators, BOM */
        if ((r >= 0x80 && r < 0xa0) || r == 0xad || r == 0x2028 || r == 0x2029 || r == 0xfeff) {
            mc_buf_printf(b, "\\u%04x", (unsigned)r);
        } else {
            mc_buf_add(b, (const char *)p, (size_t)len);
        }
        p += len;
    }
    mc_buf_putc(b, '"');
}

const char *mc_an_q(mc_an_ctx *c, const char *s)
{
    mc_buf b;
    mc_buf_init(&b);
    mc_an_goquote(&b, s ? s : "");
    char *r = mc_arena_strdup(&c->a, b.s);
    mc_buf_free(&b);
    return r;
}

const char *mc_an_list_v(mc_an_ctx *c, const char *const *items, uint32_t n)
{
    mc_buf b;
    mc_buf_init(&b);
    mc_buf_putc(&b, '[');
    for (uint32_t i = 0; i < n; i++) {
        if (i) mc_buf_putc(&b, ' ');
        mc_buf_puts(&b, items[i] ? items[i] : "");
    }
    mc_buf_putc(&b, ']');
    char *r = mc_arena_strdup(&c->a, b.s);
    mc_buf_free(&b);
    return r;
}

const char *mc_an_seq_v(mc_an_ctx *c, const mc_node *seq)
{
    uint32_t n = seq && seq->type == MC_SEQ ? seq->n : 0;
    const char **items = mc_xmalloc((n ? n : 1) * sizeof *items);
    for (uint32_t i = 0; i < n; i++) items[i] = mc_an_s(mc_item(seq, i));
    const char *r = mc_an_list_v(c, items, n);
    free(items);
    return r;
}

void mc_an_report(mc_an_ctx *c, mc_code code, mc_level level, const mc_obj *o, const mc_node *at,
                  const mc_node *istio_at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mc_buf_reset(&c->msg);
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0) n = 0;
    char *m = mc_xmalloc((size_t)n + 1);
    vsnprintf(m, (size_t)n + 1, fmt, ap);
    va_end(ap);
    /* istioctl drops a message whose level, code, origin, line and text
    ** equal an earlier one's */
    mc_buf_printf(&c->msg, "%u\x1f%d\x1f%d\x1f%u\x1f%s", o->seq, (int)code, (int)level,
                  istio_at ? mc_node_line(istio_at) : 0, m);
    if (!mc_strmap_get(&c->seen, c->msg.s, c->msg.n)) {
        char *k = mc_arena_strndup(&c->keep, c->msg.s, c->msg.n);
        *mc_strmap_put(&c->seen, k, c->msg.n, NULL) = (void *)1;
        mc_diag_l(code, level, &o->o, at ? at : o->root, "%s", m);
    }
    free(m);
}

/* ------------------------------------------------------------ context */

static bool ignored_namespace(const char *ns)
{
    static const char *const ign[] = { "kube-system", "kube-public", "kube-node-lease", "local-path-storage" };
    for (size_t i = 0; i < sizeof ign / sizeof ign[0]; i++)
        if (strcmp(ns, ign[i]) == 0) return true;
    return false;
}

static mc_node *str_node(mc_an_ctx *c, const char *s)
{
    mc_node *n = mc_arena_zalloc(&c->a, sizeof *n);
    n->type = MC_STR;
    n->n = (uint32_t)strlen(s);
    n->u.s = s;
    return n;
}

static void add_pod(mc_an_ctx *c, uint32_t *cap, const char *name, const char *ns,
                    const mc_node *labels, const char *node, const mc_obj *o)
{
    if (c->npods == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        c->pods = mc_xrealloc(c->pods, *cap * sizeof *c->pods);
    }
    mc_an_pod *p = &c->pods[c->npods++];
    memset(p, 0, sizeof *p);
    p->name = name;
    p->ns = ns;
    p->labels = labels && labels->type == MC_MAP ? labels : NULL;
    p->node = node && *node ? node : NULL;
    p->obj = o;
}

static void build_context(mc_an_ctx *c)
{
    mc_input *in = c->in;
    for (uint32_t i = 0; i < in->nobjs; i++) {
        mc_obj *o = in->objs[i];
        if (o->shadowed) continue;
        if (ignored_namespace(o->kind == MC_K_NAMESPACE ? o->o.name : o->o.ns)) continue;
        mc_an_vec_push(&c->objs[o->kind], o);
    }
    uint32_t cap = 0;
    for (uint32_t i = 0; i < mc_an_count(c, MC_K_POD); i++) {
        mc_obj *o = mc_an_obj(c, MC_K_POD, i);
        add_pod(c, &cap, o->o.name, o->o.ns, mc_get(o->meta, "labels"),
                mc_an_str(mc_get(o->spec, "nodeName")), o);
    }
    static const mc_kind wl[] = { MC_K_DEPLOYMENT, MC_K_STATEFULSET, MC_K_DAEMONSET };
    for (size_t k = 0; k < sizeof wl / sizeof wl[0]; k++)
        for (uint32_t i = 0; i < mc_an_count(c, wl[k]); i++) {
            mc_obj *o = mc_an_obj(c, wl[k], i);
            const mc_node *t = mc_get(o->spec, "template");
            add_pod(c, &cap, o->o.name, o->o.ns, mc_path(t, "metadata", "labels", NULL),
                    mc_an_str(mc_path(t, "spec", "nodeName", NULL)), o);
        }
    c->have_workloads = c->npods > 0;
    /* Istio installs the default ingress gateway: assume it unless the
    ** inputs hold a workload with its labels (istioctl's file mode adds the
    ** same dummy Pod, local/defaults.go) */
    mc_node *labels = mc_arena_zalloc(&c->a, sizeof *labels);
    mc_node *kids = mc_arena_zalloc(&c->a, 2 * sizeof *kids);
    kids[0] = *str_node(c, "istio");
    kids[1] = *str_node(c, "ingressgateway");
    labels->type = MC_MAP;
    labels->n = 1;
    labels->u.kids = kids;
    bool present = false;
    for (uint32_t i = 0; i < c->npods && !present; i++) present = labels_match(labels, c->pods[i].labels);
    if (!present) {
        add_pod(c, &cap, "istio-ingressgateway-dummypod", "istio-system", labels, NULL, NULL);
        c->assumed_gateway = true;
    }
    c->have_services = mc_an_count(c, MC_K_SERVICE) > 0;
    c->have_secrets = mc_an_count(c, MC_K_SECRET) > 0;
}

/* --mesh-config FILE: a MeshConfig document (or a ConfigMap whose
** data.mesh holds one). Only defaultConfig.proxyMetadata is read. */
typedef struct first_doc { mc_node *root; } first_doc;

static void on_first_doc(void *ud, mc_node *root)
{
    first_doc *d = ud;
    if (!d->root) d->root = root;
}

static mc_node *parse_text(mc_an_ctx *c, int id)
{
    first_doc d = { NULL };
    if (id < 0) return NULL;
    mc_parse(&c->a, false, (uint16_t)id, on_first_doc, &d);
    return d.root;
}

static void read_mesh_config(mc_an_ctx *c, const char *path)
{
    int id = mc_src_open(path, path);
    if (id < 0) { mc_diag_global(MSH0002, "%s: %s", path, strerror(errno)); return; }
    mc_node *root = parse_text(c, id);
    if (!root) return;
    if (root->type != MC_MAP) {
        mc_diag(MSH0011, NULL, root, "a MeshConfig (--mesh-config) must be a mapping, not %s", mc_type_name(root));
        return;
    }
    const char *mesh = mc_an_str(mc_path(root, "data", "mesh", NULL));
    if (mesh && strcmp(mc_an_s(mc_get(root, "kind")), "ConfigMap") == 0) {
        char *name = mc_arena_printf(&c->a, "%s:data.mesh", path);
        int sid = mc_src_adopt(name, mc_xstrdup(mesh), strlen(mesh));
        root = parse_text(c, sid);
        if (!root) return;
        if (root->type != MC_MAP) {
            mc_diag(MSH0011, NULL, root, "the MeshConfig in data.mesh must be a mapping, not %s", mc_type_name(root));
            return;
        }
    }
    const mc_node *md = mc_path(root, "defaultConfig", "proxyMetadata", NULL);
    if (strcmp(mc_an_s(mc_get(md, "ISTIO_META_DNS_CAPTURE")), "true") != 0) return;
    c->mesh_autoalloc = strcmp(mc_an_s(mc_get(md, "ISTIO_META_DNS_AUTO_ALLOCATE")), "true") == 0 ||
                        strcmp(mc_an_s(mc_get(md, "PILOT_ENABLE_IP_AUTOALLOCATE")), "true") == 0;
}

/* ------------------------------------------------------------ running them */

/* Two threads may run the analyzers (mc_analysis_work). istioctl drops a
** message equal to an earlier one of the same code (mc_an_report), so the
** analyzers that share a code run in order on the main thread, with one
** context; an analyzer whose codes no other emits ("alone") may run on
** either thread, with that thread's context: its messages can only equal
** its own. Contexts share the resources and workloads (read only) and
** build their own indexes. */
struct mc_analysis {
    mc_an_ctx main, helper;
    bool helper_used;
    uint8_t pool[NANALYZERS];   /* the alone ones, costliest first */
    uint32_t npool;
    atomic_uint next;           /* pool[next] is the next to claim */
};

static bool selected(const mc_check_opts *opt, size_t i)
{
    bool run = !opt->analyzers || opt->nanalyzers == 0;
    for (int j = 0; !run && j < opt->nanalyzers; j++) run = strcmp(opt->analyzers[j], analyzers[i].name) == 0;
    return run;
}

static bool alone(size_t i)
{
    for (size_t k = 0; k < NANALYZERS; k++) {
        if (k == i) continue;
        for (int a = 0; a < analyzers[i].ncodes; a++)
            for (int b = 0; b < analyzers[k].ncodes; b++)
                if (analyzers[i].codes[a] == analyzers[k].codes[b]) return false;
    }
    return true;
}

static void ctx_open(mc_an_ctx *c)
{
    mc_arena_init(&c->a);
    mc_arena_init(&c->keep);
    mc_strmap_init(&c->seen);
    mc_buf_init(&c->msg);
    mc_buf_init(&c->key);
}

/* The helper's context: the main one's resources, workloads and settings,
** nothing of its indexes. */
static void ctx_share(mc_an_ctx *c, const mc_an_ctx *from)
{
    memset(c, 0, sizeof *c);
    c->in = from->in;
    c->opt = from->opt;
    c->domain = from->domain;
    c->svc_suffix = from->svc_suffix;
    memcpy(c->objs, from->objs, sizeof c->objs);
    c->pods = from->pods;
    c->npods = from->npods;
    c->have_workloads = from->have_workloads;
    c->have_services = from->have_services;
    c->have_secrets = from->have_secrets;
    c->assumed_gateway = from->assumed_gateway;
    c->mesh_autoalloc = from->mesh_autoalloc;
    ctx_open(c);
}

static void ctx_close(mc_an_ctx *c, bool owner)
{
    for (int k = 0; k < MC_NKINDS; k++) {
        if (owner) free(c->objs[k].v);
        if (c->names_built[k]) mc_strmap_free(&c->by_name[k]);
    }
    if (c->podidx_built) mc_an_multi_free(&c->podidx);
    if (c->svc_built) { mc_strmap_free(&c->svc_exact); mc_strmap_free(&c->svc_wild); }
    mc_an_vs_free(c);
    if (owner) free(c->pods);
    mc_strmap_free(&c->seen);
    mc_buf_free(&c->msg);
    mc_buf_free(&c->key);
    mc_arena_free(&c->a);
    mc_arena_free(&c->keep);
}

static void run_one(mc_an_ctx *c, size_t i)
{
    analyzers[i].run(c);
    /* the analyzer's scratch goes, and the memo that may point into it */
    mc_arena_free(&c->a);
    c->memo_host = NULL;
}

mc_analysis *mc_analysis_begin(mc_input *in, const mc_check_opts *opt)
{
    mc_analysis *an = mc_xcalloc(1, sizeof *an);
    mc_an_ctx *c = &an->main;
    c->in = in;
    c->opt = opt;
    c->domain = opt->cluster_domain && *opt->cluster_domain ? opt->cluster_domain : "cluster.local";
    ctx_open(c);
    /* the context lives in `keep` */
    c->a = c->keep;
    c->svc_suffix = mc_an_cat(c, ".svc", '.', c->domain);
    build_context(c);
    if (opt->mesh_config) read_mesh_config(c, opt->mesh_config);
    c->keep = c->a;
    mc_arena_init(&c->a);
    for (size_t i = 0; i < NANALYZERS; i++)
        if (selected(opt, i) && alone(i)) an->pool[an->npool++] = (uint8_t)i;
    for (uint32_t i = 1; i < an->npool; i++)    /* by cost, then table order */
        for (uint32_t j = i; j > 0 && analyzers[an->pool[j]].cost > analyzers[an->pool[j - 1]].cost; j--) {
            uint8_t t = an->pool[j];
            an->pool[j] = an->pool[j - 1];
            an->pool[j - 1] = t;
        }
    atomic_init(&an->next, 0);
    return an;
}

void mc_analysis_work(mc_analysis *an, bool main)
{
    mc_an_ctx *c = &an->main;
    if (main) {
        for (size_t i = 0; i < NANALYZERS; i++)
            if (selected(c->opt, i) && !alone(i)) run_one(c, i);
    } else {
        if (!an->helper_used) ctx_share(&an->helper, &an->main);
        an->helper_used = true;
        c = &an->helper;
    }
    for (;;) {
        unsigned k = atomic_fetch_add(&an->next, 1);
        if (k >= an->npool) break;
        run_one(c, an->pool[k]);
    }
}

void mc_analysis_end(mc_analysis *an)
{
    if (an->helper_used) ctx_close(&an->helper, false);
    ctx_close(&an->main, true);
    free(an);
}

void mc_analyze(mc_input *in, const mc_check_opts *opt)
{
    mc_analysis *an = mc_analysis_begin(in, opt);
    mc_analysis_work(an, true);
    mc_analysis_end(an);
}
