/*
** t_schema.c -- our schemas/ against Istio's CRDs, and the schema stage on
** the seed.
**
** The CRDs (the YAML files of ../shared/reference/istio-crds/) are read with our own
** YAML loader. For every served version of the four kinds, the CRD's
** openAPIV3Schema is walked in step with the compiled schema of that kind
** and version (mc_schema_root): every property path, type, enum, required
** list, bound, format, nullable, int-or-string, preserve-unknown-fields,
** list type, oneOf group and CEL rule must agree, in both directions. The
** envelope (apiVersion, kind, metadata), which CRDs leave implicit, is the
** only thing ours may add.
*/
#include "arena.h"
#include "diag.h"
#include "load.h"
#include "parse.h"
#include "schema.h"
#include "source.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static mc_node *docs[4];
static int ndocs;
static void collect(void *ud, mc_node *root) { (void)ud; if (ndocs < 4) docs[ndocs++] = root; }

static int mismatches, shown;
static int paths;
static bool quiet;

__attribute__((format(printf, 2, 3)))
static void diff(const char *path, const char *fmt, ...)
{
    mismatches++;
    if (quiet || ++shown > 40) return;
    va_list ap;
    printf("#   %s: ", path);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static bool num_eq(const mc_node *n, bool have, double ours)
{
    double v;
    return n ? have && mc_num(n, &v) && v == ours : !have;
}

static bool count_eq(const mc_node *n, int64_t ours)
{
    int64_t v;
    return n ? mc_int(n, &v) && v == ours : ours < 0;
}

static bool in_list(const char *const *l, uint32_t n, const char *s)
{
    for (uint32_t i = 0; i < n; i++)
        if (!strcmp(l[i], s)) return true;
    return false;
}

/* The mask of property names in a {required: [x]} list, or 0 if a name is
** not a property of ours (reported by the caller as a difference). */
static uint64_t names_mask(const mc_snode *s, const mc_node *list)
{
    uint64_t m = 0;
    MC_SEQ_EACH(list, i) {
        const char *nm = mc_str(mc_item(list, i));
        int p = nm ? mc_schema_prop(s, nm, (uint32_t)strlen(nm)) : -1;
        if (p < 0) return 0;
        m |= 1ull << p;
    }
    return m;
}

/* CRD: oneOf: [{not: {anyOf: [{required: [a]}, ...]}}, {required: [a]}, ...] */
static uint64_t crd_group(const mc_snode *s, const mc_node *one, const char *path)
{
    uint64_t m = 0;
    const mc_node *any = mc_path(mc_item(one, 0), "not", "anyOf", NULL);
    if (!mc_is(any, MC_SEQ) || mc_len(any) + 1 != mc_len(one)) { diff(path, "CRD oneOf has an unexpected shape"); return 0; }
    for (uint32_t i = 1; i < mc_len(one); i++) {
        uint64_t a = names_mask(s, mc_get(mc_item(one, i), "required"));
        uint64_t b = names_mask(s, mc_get(mc_item(any, i - 1), "required"));
        if (!a || a != b || (a & (a - 1))) { diff(path, "CRD oneOf alternative %u is not a single known field", i); return 0; }
        m |= a;
    }
    return m;
}

/* Our rule for a CEL rule of the CRD, recognized by a distinctive piece of
** its expression; NULL when the rule is not one we implement. */
static const char *rule_for(const char *cel)
{
    static const struct { const char *token, *rule; } map[] = {
        { "duration('1ms')", "duration-min-1ms" },
        { "has(self.credentialName) ? 1", "tls-credential-name-xor-names" },
        { "has(self.tlsCertificates) ? 1", "tls-credential-names-xor-certificates" },
        { "(has(self.credentialNames) ? 1 : 0) + (has(self.tlsCertificates)", "tls-credential-names-xor-certificates" },
        { "key.contains(\"*\")", "selector-key-no-wildcard" },
        { "key.size() != 0", "selector-key-not-empty" },
        { "exists_one", "port-number-unique" },
        { "has(self.workloadSelector)", "selector-xor-endpoints" },
        { "k.contains(\"/\")", "cidr-requires-none-or-static" },
        { "== \"NONE\") ? !has(self.endpoints)", "none-without-endpoints" },
        { "DNS_ROUND_ROBIN", "round-robin-single-endpoint" },
        { "has(self.address) || has(self.network)", "endpoint-address-or-network" },
        { "? !has(self.ports)", "uds-without-ports" },
        { "substring(7, 8)", "uds-absolute" },
        { "!self.endsWith(\"/\")", "uds-not-directory" },
        { "key.matches(", "endpoint-port-name" },
        { "0 < self && self <= 65535", "port-1-65535" },
        { "self != \"*\"", "host-not-wildcard" },
        { "!self.contains(\"*\")", "selector-value-no-wildcard" },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strstr(cel, map[i].token)) return map[i].rule;
    return NULL;
}

static const char *const crd_keywords[] = {
    "description", "type", "properties", "items", "additionalProperties", "required", "enum", "minimum",
    "maximum", "minItems", "maxItems", "maxLength", "minLength", "maxProperties", "format", "nullable", "oneOf",
    "anyOf", "allOf", "x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-validations", "x-kubernetes-list-type", "x-kubernetes-list-map-keys", NULL
};

static void compare(const mc_node *c, const mc_snode *s, const char *path, bool root);

static void compare_rules(const mc_node *c, const mc_snode *s, const char *path)
{
    const mc_node *v = mc_get(c, "x-kubernetes-validations");
    bool want[32] = { false };
    MC_SEQ_EACH(v, i) {
        const char *cel = mc_str(mc_get(mc_item(v, i), "rule"));
        const char *r = cel ? rule_for(cel) : NULL;
        if (!r) { diff(path, "CEL rule not implemented: %s", cel ? cel : "?"); continue; }
        bool found = false;
        for (uint8_t k = 0; k < s->nrules; k++)
            if (!strcmp(mc_schema_rule_name(s->rules[k]), r)) { want[k] = true; found = true; }
        if (!found) diff(path, "CEL rule %s has no x-meshc-rules \"%s\" here", cel, r);
    }
    for (uint8_t k = 0; k < s->nrules; k++)
        if (!want[k]) diff(path, "x-meshc-rules \"%s\" has no CEL rule in the CRD", mc_schema_rule_name(s->rules[k]));
}

static void compare(const mc_node *c, const mc_snode *s, const char *path, bool root)
{
    char sub[1024];
    paths++;
    MC_MAP_EACH(c, i) {
        const char *k = mc_key(c, i)->u.s;
        if (!in_list(crd_keywords, 24, k)) diff(path, "CRD keyword %s is not compared by this test", k);
    }
    /* type */
    const char *type = mc_str(mc_get(c, "type"));
    bool ios = mc_bool(mc_get(c, "x-kubernetes-int-or-string"), false);
    if (ios != ((s->flags & MC_SF_INT_OR_STRING) != 0)) diff(path, "x-kubernetes-int-or-string differs");
    if (ios) {
        const mc_node *any = mc_get(c, "anyOf");
        if (mc_len(any) != 2 || strcmp(mc_str(mc_path(mc_item(any, 0), "type", NULL)), "integer") ||
            strcmp(mc_str(mc_path(mc_item(any, 1), "type", NULL)), "string"))
            diff(path, "int-or-string without anyOf [integer, string]");
    } else if (mc_get(c, "anyOf")) {
        diff(path, "anyOf outside int-or-string or oneOf");
    }
    static const char *const tn[] = { "object", "array", "string", "integer", "number", "boolean" };
    uint8_t want = 0;
    for (int t = 0; type && t < 6; t++)
        if (!strcmp(type, tn[t])) want = (uint8_t)(1u << t);
    if (type && !want) diff(path, "unknown CRD type %s", type);
    if (want != s->types) diff(path, "type %s, ours has type bits 0x%x", type ? type : "(none)", s->types);
    /* flags and scalar constraints */
    if (mc_bool(mc_get(c, "nullable"), false) != ((s->flags & MC_SF_NULLABLE) != 0)) diff(path, "nullable differs");
    if (mc_bool(mc_get(c, "x-kubernetes-preserve-unknown-fields"), false) != ((s->flags & MC_SF_PRESERVE) != 0))
        diff(path, "x-kubernetes-preserve-unknown-fields differs");
    const char *lt = mc_str(mc_get(c, "x-kubernetes-list-type"));
    if ((lt && !strcmp(lt, "map")) != ((s->flags & MC_SF_LIST_MAP) != 0) || (lt && strcmp(lt, "map")))
        diff(path, "x-kubernetes-list-type differs");
    const mc_node *lk = mc_get(c, "x-kubernetes-list-map-keys");
    if (lk ? mc_len(lk) != 1 || !s->list_key || strcmp(mc_str(mc_item(lk, 0)), s->list_key) : s->list_key != NULL)
        diff(path, "x-kubernetes-list-map-keys differs");
    if (!num_eq(mc_get(c, "minimum"), s->flags & MC_SF_MIN, s->min)) diff(path, "minimum differs");
    if (!num_eq(mc_get(c, "maximum"), s->flags & MC_SF_MAX, s->max)) diff(path, "maximum differs");
    if (!count_eq(mc_get(c, "minItems"), s->min_items)) diff(path, "minItems differs");
    if (!count_eq(mc_get(c, "maxItems"), s->max_items)) diff(path, "maxItems differs");
    if (!count_eq(mc_get(c, "minLength"), s->min_len)) diff(path, "minLength differs");
    if (!count_eq(mc_get(c, "maxLength"), s->max_len)) diff(path, "maxLength differs");
    if (!count_eq(mc_get(c, "maxProperties"), s->max_props)) diff(path, "maxProperties differs");
    const char *fmt = mc_str(mc_get(c, "format"));
    if (fmt ? !s->format || strcmp(fmt, s->format) : s->format != NULL)
        diff(path, "format %s, ours %s", fmt ? fmt : "(none)", s->format ? s->format : "(none)");
    const mc_node *en = mc_get(c, "enum");
    if (mc_len(en) != s->nenum) diff(path, "enum has %u values, ours %u", mc_len(en), s->nenum);
    MC_SEQ_EACH(en, i) {
        const char *v = mc_str(mc_item(en, i));
        if (!v || !in_list(s->enums, s->nenum, v)) diff(path, "enum value %s missing", v ? v : "?");
    }
    /* required */
    const mc_node *req = mc_get(c, "required");
    uint64_t rm = 0;
    MC_SEQ_EACH(req, i) {
        const char *nm = mc_str(mc_item(req, i));
        int p = nm ? mc_schema_prop(s, nm, (uint32_t)strlen(nm)) : -1;
        if (p < 0) diff(path, "required %s is not one of our properties", nm ? nm : "?");
        else rm |= 1ull << p;
    }
    if (rm != s->required) diff(path, "required list differs");
    /* at-most-one groups: oneOf, or allOf of oneOfs */
    uint64_t groups[8];
    uint32_t ng = 0;
    const mc_node *one = mc_get(c, "oneOf");
    if (one) groups[ng++] = crd_group(s, one, path);
    const mc_node *all = mc_get(c, "allOf");
    MC_SEQ_EACH(all, i) {
        const mc_node *o = mc_get(mc_item(all, i), "oneOf");
        if (!o || ng == 8) { diff(path, "allOf item is not a oneOf"); continue; }
        groups[ng++] = crd_group(s, o, path);
    }
    if (ng != s->ngroups) diff(path, "%u oneOf groups, ours %u", ng, s->ngroups);
    for (uint32_t g = 0; g < ng && g < s->ngroups; g++) {
        bool found = false;
        for (uint32_t h = 0; h < s->ngroups; h++) found |= groups[g] == s->groups[h];
        if (!found) diff(path, "oneOf group %u differs", g);
    }
    compare_rules(c, s, path);
    /* properties, both ways */
    const mc_node *props = mc_get(c, "properties");
    MC_MAP_EACH(props, i) {
        const mc_node *k = mc_key(props, i);
        snprintf(sub, sizeof sub, "%s.%s", path, k->u.s);
        int p = mc_schema_prop(s, k->u.s, k->n);
        if (p < 0) { diff(sub, "missing from our schema"); continue; }
        compare(mc_val(props, i), s->props[p].node, sub, false);
    }
    for (uint32_t p = 0; p < s->nprops; p++) {
        const char *nm = s->props[p].name;
        if (root && (!strcmp(nm, "apiVersion") || !strcmp(nm, "kind") || !strcmp(nm, "metadata"))) continue;
        if (!mc_get(props, nm)) { snprintf(sub, sizeof sub, "%s.%s", path, nm); diff(sub, "not in the CRD"); }
    }
    /* items and additionalProperties */
    const mc_node *items = mc_get(c, "items");
    snprintf(sub, sizeof sub, "%s[]", path);
    if (!items != !s->items) diff(sub, "items %s only in %s", items ? "present" : "absent", items ? "the CRD" : "ours");
    else if (items) compare(items, s->items, sub, false);
    const mc_node *addl = mc_get(c, "additionalProperties");
    snprintf(sub, sizeof sub, "%s{}", path);
    if (!addl != !s->addl) diff(sub, "additionalProperties only in %s", addl ? "the CRD" : "ours");
    else if (addl) compare(addl, s->addl, sub, false);
}

static mc_version version_of(const char *v)
{
    return !strcmp(v, "v1") ? MC_V_V1 : !strcmp(v, "v1beta1") ? MC_V_V1BETA1 : !strcmp(v, "v1alpha3") ? MC_V_V1ALPHA3 : MC_V_NONE;
}

static void check_crd(mc_arena *a, const char *file, mc_kind kind)
{
    char path[256];
    snprintf(path, sizeof path, "../shared/reference/istio-crds/%s", file);
    int id = mc_src_open(path, path);
    if (!ok(id >= 0, "read %s", path)) return;
    ndocs = 0;
    mc_parse(a, false, (uint16_t)id, collect, NULL);
    if (!ok(ndocs == 1, "%s holds one document", file)) return;
    const mc_node *vers = mc_path(docs[0], "spec", "versions", NULL);
    int nv = 0;
    MC_SEQ_EACH(vers, i) {
        const mc_node *v = mc_item(vers, i);
        const char *name = mc_str(mc_get(v, "name"));
        if (!mc_bool(mc_get(v, "served"), false) || !name) continue;
        nv++;
        const mc_snode *ours = mc_schema_root(kind, version_of(name));
        if (!ok(ours != NULL, "%s %s has a schema of ours", mc_kind_name(kind), name)) continue;
        int before = mismatches, p0 = paths;
        shown = 0;
        char where[128];
        snprintf(where, sizeof where, "%s/%s", mc_kind_name(kind), name);
        compare(mc_path(v, "schema", "openAPIV3Schema", NULL), ours, where, true);
        ok(mismatches == before, "%s %s: %d schema paths agree with the CRD", mc_kind_name(kind), name, paths - p0);
    }
    ok(nv == 3, "%s: three served versions", file);
}

/* The comparison itself must find differences where there are some. */
static void check_compare_detects(mc_arena *a)
{
    int id = mc_src_open("../shared/reference/istio-crds/gateways.networking.istio.io.yaml", "gw");
    ndocs = 0;
    mc_parse(a, false, (uint16_t)id, collect, NULL);
    const mc_node *v0 = mc_item(mc_path(docs[0], "spec", "versions", NULL), 0);
    int before = mismatches;
    quiet = true;
    compare(mc_path(v0, "schema", "openAPIV3Schema", NULL), mc_schema_root(MC_K_SERVICEENTRY, MC_V_V1), "x", true);
    quiet = false;
    ok(mismatches - before > 10, "comparing the Gateway CRD with our ServiceEntry schema finds differences (%d)",
       mismatches - before);
    mismatches = before;
}

/* The seed's sni_hosts: one warning each, renamed in the tree, no error. */
static void check_seed_rename(void)
{
    mc_input in;
    mc_input_init(&in);
    mc_load_opts opt = { .ns = "default" };
    mc_diag_reset();
    mc_load(&in, &opt, "testdata/seed/virtualservices.yaml");
    mc_load_finish(&in);
    mc_schema_check(&in);
    ok(mc_diag_count(MC_ERROR) == 0, "seed VirtualServices: no schema error");
    ok(mc_diag_count(MC_WARNING) == 2, "seed VirtualServices: a warning per sni_hosts (%u)", mc_diag_count(MC_WARNING));
    const mc_node *google = in.nobjs == 2 ? in.objs[1]->spec : NULL;
    const mc_node *m = mc_item(mc_get(mc_item(mc_get(google, "tls"), 0), "match"), 0);
    ok(m && mc_get(m, "sniHosts") && !mc_get(m, "sni_hosts"), "sni_hosts is renamed to sniHosts in the tree");
    mc_input_free(&in);
    mc_diag_reset();
}

/* Keyed-list and port-number duplicates are found by sorting: 100,000
** ports (far over the schema's 256) take well under a second, where
** pairwise comparison took half a minute. */
static void check_many_ports(void)
{
    char path[] = "/tmp/t_schema_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!ok(f != NULL, "temporary file")) return;
    fputs("apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: many}\n"
          "spec:\n  hosts: [a.example.com]\n  ports:\n", f);
    for (int i = 0; i < 100000; i++) fprintf(f, "  - {number: %d, name: p%d}\n", 1 + i % 50000, i % 60000);
    fclose(f);
    mc_input in;
    mc_input_init(&in);
    mc_load_opts opt = { .ns = "default" };
    mc_diag_reset();
    mc_load(&in, &opt, path);
    mc_load_finish(&in);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    mc_schema_check(&in);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    /* 50,000 repeated numbers, 40,000 repeated names, 1 too-many-items */
    ok(mc_diag_count(MC_ERROR) == 90001, "100,000 ports: every duplicate found (%u errors)", mc_diag_count(MC_ERROR));
    ok(secs < 10, "100,000 ports checked in %.2f s", secs);
    mc_input_free(&in);
    mc_diag_reset();
    unlink(path);
}

int main(void)
{
    mc_arena a;
    mc_arena_init(&a);
    for (int k = MC_K_GATEWAY; k <= MC_K_NETWORKING_LAST; k++)
        for (int v = MC_V_V1ALPHA3; v <= MC_V_V1; v++)
            ok(mc_schema_root((mc_kind)k, (mc_version)v) != NULL, "schema for %s version %d compiles", mc_kind_name((mc_kind)k), v);
    ok(mc_schema_root(MC_K_GATEWAY, MC_V_V1) == mc_schema_root(MC_K_GATEWAY, MC_V_V1ALPHA3),
       "versions share one compiled tree");
    ok(mc_schema_root(MC_K_SERVICE, MC_V_V1) == NULL, "no schema for Service");
    check_crd(&a, "gateways.networking.istio.io.yaml", MC_K_GATEWAY);
    check_crd(&a, "virtualservices.networking.istio.io.yaml", MC_K_VIRTUALSERVICE);
    check_crd(&a, "destinationrules.networking.istio.io.yaml", MC_K_DESTINATIONRULE);
    check_crd(&a, "serviceentries.networking.istio.io.yaml", MC_K_SERVICEENTRY);
    check_compare_detects(&a);
    check_seed_rename();
    check_many_ports();
    mc_arena_free(&a);
    mc_src_free_all();
    return t_done();
}
