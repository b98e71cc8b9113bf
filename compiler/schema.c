/*
** schema.c -- the schema stage: what the Kubernetes API server refuses before
** Istio ever sees a resource (schema.h has the contract and the dialect).
**
** Three parts:
**   1. compile: the embedded JSON files of schemas/ (jansson) -> mc_snode trees;
**   2. walk: one pass over each resource tree, O(nodes), checking types,
**      enums, bounds, required fields, unknown fields, "at most one of"
**      groups, proto field names;
**   3. rules: the x-meshc-rules checks (the CRDs' CEL rules and Kubernetes'
**      ObjectMeta rules), run on a node after its structure checked out.
**
** API server behaviour reproduced here (apiextensions-apiserver and
** kube-openapi), so findings match what `kubectl apply` is told:
** - a null value for an object member that is not nullable is pruned before
**   validation: it counts as absent (also for required and oneOf); null
**   items of an array are not pruned and are type errors;
** - the YAML reaches the API server as JSON: a float with an integral value
**   (80.0, 1e3) is an integer; an integer beyond 2^53 is not;
** - `status` is dropped on create and update (the CRDs have a status
**   subresource), so it is accepted and not validated;
** - format int32/double is not range-checked (kube-openapi does not);
** - string lengths are counted in characters (runes), not bytes.
** The API server skips CEL rules when structural errors block them; meshc
** runs each rule wherever its own node is well-formed, so every problem is
** reported in one run.
*/
#include "schema.h"
#include "arena.h"
#include "diag.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* $(BUILD)/gen/schemas.c: file name, text, file name, text, ..., NULL */
extern const char *const mc_schema_files[];

/* ================================================================ rules */

typedef struct vctx vctx;
typedef void (*rule_fn)(vctx *c, mc_node *n, const mc_node *anchor);

#define SCHEMA_RULES(X) \
    X(DURATION,          "duration-min-1ms") \
    X(TLS_NAME_NAMES,    "tls-credential-name-xor-names") \
    X(TLS_NAMES_CERTS,   "tls-credential-names-xor-certificates") \
    X(SEL_KEY_WILD,      "selector-key-no-wildcard") \
    X(SEL_KEY_EMPTY,     "selector-key-not-empty") \
    X(SEL_VALUE_WILD,    "selector-value-no-wildcard") \
    X(HOST_NOT_WILD,     "host-not-wildcard") \
    X(PORT_UNIQUE,       "port-number-unique") \
    X(SEL_XOR_EP,        "selector-xor-endpoints") \
    X(CIDR_RESOLUTION,   "cidr-requires-none-or-static") \
    X(NONE_NO_EP,        "none-without-endpoints") \
    X(RR_ONE_EP,         "round-robin-single-endpoint") \
    X(EP_ADDRESS,        "endpoint-address-or-network") \
    X(UDS_NO_PORTS,      "uds-without-ports") \
    X(UDS_ABSOLUTE,      "uds-absolute") \
    X(UDS_NOT_DIR,       "uds-not-directory") \
    X(EP_PORT_NAME,      "endpoint-port-name") \
    X(PORT_RANGE,        "port-1-65535") \
    X(K8S_NAME,          "k8s-name") \
    X(K8S_GENERATE_NAME, "k8s-generate-name") \
    X(K8S_NAMESPACE,     "k8s-namespace") \
    X(K8S_LABELS,        "k8s-labels") \
    X(K8S_ANNOTATIONS,   "k8s-annotations") \
    X(K8S_FINALIZER,     "k8s-finalizer")

enum {
#define X(id, name) R_##id,
    SCHEMA_RULES(X)
#undef X
    R_COUNT
};

static const char *const rule_names[] = {
#define X(id, name) name,
    SCHEMA_RULES(X)
#undef X
};

const char *mc_schema_rule_name(uint8_t rule)
{
    return rule < R_COUNT ? rule_names[rule] : "?";
}

/* ============================================================= compile */

typedef struct sfile {
    const char *name;
    json_t *root;
} sfile;

typedef struct memo {
    const json_t *j;
    mc_snode *n;
} memo;

typedef struct compiler {
    sfile files[32];
    int nfiles;
    mc_vec memo;            /* json object -> compiled node */
} compiler;

static mc_arena SA;         /* the compiled form; lives until exit */
/* JSON names that replace proto field names in the trees; lives until
** exit, like the trees. Not the input's arena: objects are checked on a
** second thread while the loader still allocates there (check.c), and by
** two threads at once at the end: RENAMED_LOCK. */
static mc_arena RENAMED;
static pthread_mutex_t RENAMED_LOCK = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t compiled = PTHREAD_ONCE_INIT;
static const mc_snode *roots[4][4];   /* [kind][version] */

__attribute__((format(printf, 2, 3), noreturn))
static void schema_bug(const char *file, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "meshc: internal error: schemas/%s: ", file);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

static sfile *find_file(compiler *c, const char *name, size_t len)
{
    for (int i = 0; i < c->nfiles; i++)
        if (strlen(c->files[i].name) == len && memcmp(c->files[i].name, name, len) == 0) return &c->files[i];
    return NULL;
}

/* "#/$defs/X", "other.schema.json#/$defs/X" or "other.schema.json": the
** target object and the file it lives in. */
static const json_t *resolve_ref(compiler *c, const char *file, const char *ref, const char **tfile)
{
    const char *hash = strchr(ref, '#');
    size_t flen = hash ? (size_t)(hash - ref) : strlen(ref);
    sfile *f = flen ? find_file(c, ref, flen) : find_file(c, file, strlen(file));
    if (!f) schema_bug(file, "$ref \"%s\": no such schema file", ref);
    *tfile = f->name;
    const json_t *j = f->root;
    if (!hash || !hash[1]) return j;
    if (hash[1] != '/') schema_bug(file, "$ref \"%s\": only JSON pointers are supported", ref);
    const char *p = hash + 2;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char seg[128];
        if (n >= sizeof seg) schema_bug(file, "$ref \"%s\": segment too long", ref);
        memcpy(seg, p, n);
        seg[n] = '\0';
        j = json_object_get(j, seg);
        if (!j) schema_bug(file, "$ref \"%s\": not found", ref);
        p = e ? e + 1 : p + n;
    }
    if (!json_is_object(j)) schema_bug(file, "$ref \"%s\": not a schema object", ref);
    return j;
}

static bool meta_keyword(const char *k)
{
    return !strcmp(k, "$schema") || !strcmp(k, "$id") || !strcmp(k, "title") ||
           !strcmp(k, "description") || !strcmp(k, "$comment") || !strcmp(k, "$defs");
}

static const char *const type_names[] = { "object", "array", "string", "integer", "number", "boolean" };

static uint8_t type_bit(const char *file, const char *t)
{
    for (int i = 0; i < 6; i++)
        if (!strcmp(type_names[i], t)) return (uint8_t)(1u << i);
    schema_bug(file, "unknown type \"%s\"", t);
}

static int64_t get_count(const char *file, const char *k, const json_t *v)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0) schema_bug(file, "%s must be a non-negative integer", k);
    return (int64_t)json_integer_value(v);
}

static const char *single_required(const char *file, const json_t *j)
{
    const json_t *r = json_object_get(j, "required");
    if (!json_is_object(j) || json_object_size(j) != 1 || !json_is_array(r) || json_array_size(r) != 1 ||
        !json_is_string(json_array_get(r, 0)))
        schema_bug(file, "oneOf: expected {\"required\": [NAME]}");
    return json_string_value(json_array_get(r, 0));
}

/* The one oneOf shape the schemas use, "at most one of a, b, c":
**   [{not: {anyOf: [{required: [a]}, {required: [b]}, ...]}},
**    {required: [a]}, {required: [b]}, ...]
** Returns the names (arena array, *n of them). */
static const char **parse_group(const char *file, const json_t *one, size_t *n)
{
    if (!json_is_array(one) || json_array_size(one) < 3) schema_bug(file, "oneOf must list at least two alternatives");
    const json_t *not = json_object_get(json_array_get(one, 0), "not");
    const json_t *any = json_object_get(not, "anyOf");
    size_t k = json_array_size(one) - 1;
    if (json_object_size(json_array_get(one, 0)) != 1 || json_object_size(not) != 1 || !json_is_array(any) ||
        json_array_size(any) != k)
        schema_bug(file, "oneOf must start with {not: {anyOf: [...]}} over the same fields");
    const char **names = mc_arena_alloc(&SA, k * sizeof *names);
    for (size_t i = 0; i < k; i++) {
        names[i] = single_required(file, json_array_get(one, i + 1));
        if (strcmp(names[i], single_required(file, json_array_get(any, i))) != 0)
            schema_bug(file, "oneOf alternatives and the not/anyOf list differ at \"%s\"", names[i]);
    }
    *n = k;
    return names;
}

static uint32_t name_hash(const char *s, uint32_t n)
{
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

int mc_schema_prop(const mc_snode *s, const char *name, uint32_t len)
{
    if (!s->nprops) return -1;
    for (uint32_t h = name_hash(name, len) & s->index_mask;; h = (h + 1) & s->index_mask) {
        uint16_t v = s->index[h];
        if (!v) return -1;
        const mc_sprop *p = &s->props[v - 1];
        if (p->len == len && memcmp(p->name, name, len) == 0) return v - 1;
    }
}

static int cmp_prop(const void *a, const void *b)
{
    return strcmp(((const mc_sprop *)a)->name, ((const mc_sprop *)b)->name);
}

/* Pending names resolved once the properties are known. */
typedef struct pending {
    const char *names[MC_SCHEMA_MAX_PROPS];
    size_t nreq;
    const char **groups[8];
    size_t ngroup[8];
    size_t ngroups;
} pending;

static mc_snode *compile(compiler *c, const char *file, const json_t *j);

static void add_rule(const char *file, mc_snode *n, const char *name)
{
    for (int r = 0; r < R_COUNT; r++) {
        if (strcmp(rule_names[r], name) != 0) continue;
        if (n->nrules == MC_SCHEMA_MAX_RULES) schema_bug(file, "too many x-meshc-rules");
        n->rules[n->nrules++] = (uint8_t)r;
        return;
    }
    schema_bug(file, "unknown rule \"%s\" in x-meshc-rules", name);
}

static void set_props(const char *file, mc_snode *n, compiler *c, const json_t *props)
{
    size_t np = json_object_size(props);
    if (np > MC_SCHEMA_MAX_PROPS) schema_bug(file, "more than %d properties", MC_SCHEMA_MAX_PROPS);
    mc_sprop *p = mc_arena_alloc(&SA, (np ? np : 1) * sizeof *p);
    const char *k;
    const json_t *v;
    size_t i = 0;
    json_object_foreach((json_t *)props, k, v) {
        if (!json_is_object(v)) schema_bug(file, "property \"%s\" is not a schema", k);
        p[i].name = mc_arena_strdup(&SA, k);
        p[i].len = (uint32_t)strlen(k);
        p[i].node = compile(c, file, v);
        i++;
    }
    qsort(p, np, sizeof *p, cmp_prop);
    uint32_t cap = 4;
    while (cap < 2 * np) cap *= 2;
    uint16_t *idx = mc_arena_zalloc(&SA, cap * sizeof *idx);
    for (i = 0; i < np; i++) {
        uint32_t h = name_hash(p[i].name, p[i].len) & (cap - 1);
        while (idx[h]) h = (h + 1) & (cap - 1);
        idx[h] = (uint16_t)(i + 1);
    }
    n->props = p;
    n->nprops = (uint32_t)np;
    n->index = idx;
    n->index_mask = cap - 1;
}

static uint64_t name_mask(const char *file, const mc_snode *n, const char *name)
{
    int i = mc_schema_prop(n, name, (uint32_t)strlen(name));
    if (i < 0) schema_bug(file, "\"%s\" is named in required or oneOf but is not a property", name);
    return 1ull << i;
}

static void keyword(compiler *c, const char *file, mc_snode *n, pending *pd, const char *k, const json_t *v)
{
    if (meta_keyword(k) || !strcmp(k, "$ref")) return;
    if (!strcmp(k, "type")) {
        if (!json_is_string(v)) schema_bug(file, "type must be a string");
        n->types = type_bit(file, json_string_value(v));
    } else if (!strcmp(k, "properties")) {
        if (!json_is_object(v)) schema_bug(file, "properties must be an object");
        set_props(file, n, c, v);
    } else if (!strcmp(k, "additionalProperties")) {
        if (!json_is_object(v)) schema_bug(file, "additionalProperties must be a schema");
        n->addl = compile(c, file, v);
    } else if (!strcmp(k, "items")) {
        if (!json_is_object(v)) schema_bug(file, "items must be a schema");
        n->items = compile(c, file, v);
    } else if (!strcmp(k, "required")) {
        size_t i;
        const json_t *e;
        if (!json_is_array(v)) schema_bug(file, "required must be an array");
        json_array_foreach(v, i, e) {
            if (!json_is_string(e) || pd->nreq == MC_SCHEMA_MAX_PROPS) schema_bug(file, "bad required list");
            pd->names[pd->nreq++] = json_string_value(e);
        }
    } else if (!strcmp(k, "enum")) {
        size_t i;
        const json_t *e;
        if (!json_is_array(v) || !json_array_size(v)) schema_bug(file, "enum must be a non-empty array");
        const char **en = mc_arena_alloc(&SA, json_array_size(v) * sizeof *en);
        json_array_foreach(v, i, e) {
            if (!json_is_string(e)) schema_bug(file, "enum values must be strings");
            en[i] = mc_arena_strdup(&SA, json_string_value(e));
        }
        n->enums = en;
        n->nenum = (uint32_t)json_array_size(v);
    } else if (!strcmp(k, "minimum") || !strcmp(k, "maximum")) {
        if (!json_is_number(v)) schema_bug(file, "%s must be a number", k);
        if (k[1] == 'i') { n->min = json_number_value(v); n->flags |= MC_SF_MIN; }
        else { n->max = json_number_value(v); n->flags |= MC_SF_MAX; }
    } else if (!strcmp(k, "minItems")) {
        n->min_items = get_count(file, k, v);
    } else if (!strcmp(k, "maxItems")) {
        n->max_items = get_count(file, k, v);
    } else if (!strcmp(k, "minLength")) {
        n->min_len = get_count(file, k, v);
    } else if (!strcmp(k, "maxLength")) {
        n->max_len = get_count(file, k, v);
    } else if (!strcmp(k, "maxProperties")) {
        n->max_props = get_count(file, k, v);
    } else if (!strcmp(k, "format")) {
        if (!json_is_string(v)) schema_bug(file, "format must be a string");
        n->format = mc_arena_strdup(&SA, json_string_value(v));
    } else if (!strcmp(k, "nullable") || !strcmp(k, "x-kubernetes-preserve-unknown-fields") ||
               !strcmp(k, "x-kubernetes-int-or-string")) {
        if (!json_is_true(v)) schema_bug(file, "%s must be true when present", k);
        n->flags |= k[0] == 'n' ? MC_SF_NULLABLE : !strcmp(k, "x-kubernetes-int-or-string") ? MC_SF_INT_OR_STRING : MC_SF_PRESERVE;
    } else if (!strcmp(k, "x-kubernetes-list-type")) {
        if (!json_is_string(v) || strcmp(json_string_value(v), "map") != 0)
            schema_bug(file, "only x-kubernetes-list-type: map is supported");
        n->flags |= MC_SF_LIST_MAP;
    } else if (!strcmp(k, "x-kubernetes-list-map-keys")) {
        if (!json_is_array(v) || json_array_size(v) != 1 || !json_is_string(json_array_get(v, 0)))
            schema_bug(file, "x-kubernetes-list-map-keys must name one key");
        n->list_key = mc_arena_strdup(&SA, json_string_value(json_array_get(v, 0)));
    } else if (!strcmp(k, "x-meshc-rules")) {
        size_t i;
        const json_t *e;
        if (!json_is_array(v)) schema_bug(file, "x-meshc-rules must be an array");
        json_array_foreach(v, i, e) {
            if (!json_is_string(e)) schema_bug(file, "x-meshc-rules must list names");
            add_rule(file, n, json_string_value(e));
        }
    } else if (!strcmp(k, "oneOf") || !strcmp(k, "allOf")) {
        const json_t *list = v;
        size_t cnt = 1, i;
        if (k[0] == 'a') {
            if (!json_is_array(v)) schema_bug(file, "allOf must be an array");
            cnt = json_array_size(v);
        }
        for (i = 0; i < cnt; i++) {
            if (k[0] == 'a') {
                const json_t *item = json_array_get(v, i);
                list = json_object_get(item, "oneOf");
                if (json_object_size(item) != 1 || !list) schema_bug(file, "allOf items must be {oneOf: ...}");
            }
            if (pd->ngroups == 8) schema_bug(file, "too many oneOf groups");
            pd->groups[pd->ngroups] = parse_group(file, list, &pd->ngroup[pd->ngroups]);
            pd->ngroups++;
        }
    } else {
        schema_bug(file, "unsupported keyword \"%s\"", k);
    }
}

/* Compile one schema object. $ref targets are memoized, so a $defs entry
** used from many places is one node. A $ref with sibling keywords is a copy
** of its target with the siblings applied on top (x-meshc-rules add to the
** target's). */
static mc_snode *compile(compiler *c, const char *file, const json_t *j)
{
    for (size_t i = 0; i < c->memo.n; i++)
        if (MC_VEC_AT(&c->memo, memo, i).j == j) return MC_VEC_AT(&c->memo, memo, i).n;
    mc_snode *n;
    const json_t *ref = json_object_get(j, "$ref");
    bool siblings = false;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)j, k, v)
        if (!meta_keyword(k) && strcmp(k, "$ref") != 0) siblings = true;
    if (ref) {
        const char *tfile;
        if (!json_is_string(ref)) schema_bug(file, "$ref must be a string");
        const json_t *target = resolve_ref(c, file, json_string_value(ref), &tfile);
        const mc_snode *base = compile(c, tfile, target);
        if (!siblings) {
            /* the target was compiled in its own file's context */
            memo *m = mc_vec_push(&c->memo);
            m->j = j;
            m->n = (mc_snode *)base;
            return m->n;
        }
        n = mc_arena_alloc(&SA, sizeof *n);
        *n = *base;
    } else {
        n = mc_arena_zalloc(&SA, sizeof *n);
        n->min_items = n->max_items = n->min_len = n->max_len = n->max_props = -1;
    }
    memo *m = mc_vec_push(&c->memo);
    m->j = j;
    m->n = n;
    pending pd;
    memset(&pd, 0, sizeof pd);
    json_object_foreach((json_t *)j, k, v) keyword(c, file, n, &pd, k, v);
    if (pd.nreq) {
        n->required = 0;
        for (size_t i = 0; i < pd.nreq; i++) n->required |= name_mask(file, n, pd.names[i]);
    }
    if (pd.ngroups) {
        uint64_t *g = mc_arena_alloc(&SA, pd.ngroups * sizeof *g);
        for (size_t i = 0; i < pd.ngroups; i++) {
            g[i] = 0;
            for (size_t e = 0; e < pd.ngroup[i]; e++) g[i] |= name_mask(file, n, pd.groups[i][e]);
        }
        n->groups = g;
        n->ngroups = (uint32_t)pd.ngroups;
    }
    if ((n->flags & MC_SF_LIST_MAP) && (!n->list_key || !n->items ||
        !(n->items->required & name_mask(file, n->items, n->list_key))))
        schema_bug(file, "a list of type map needs one required key in its items");
    if (n->types == MC_ST_STRING && n->format && strcmp(n->format, "byte") && strcmp(n->format, "date-time"))
        schema_bug(file, "unsupported string format \"%s\"", n->format);
    return n;
}

/* Kinds in MC_K_* order; their schema file stem. */
static const char *const kind_stem[4] = { "gateway", "virtualservice", "destinationrule", "serviceentry" };
static const char *const version_name[4] = { NULL, "v1alpha3", "v1beta1", "v1" };

static void compile_all(void)
{
    compiler c;
    memset(&c, 0, sizeof c);
    mc_vec_init(&c.memo, sizeof(memo));
    mc_arena_init(&SA);
    for (int i = 0; mc_schema_files[2 * i]; i++) {
        if (c.nfiles == (int)(sizeof c.files / sizeof c.files[0])) schema_bug("", "too many schema files");
        json_error_t err;
        const char *name = mc_schema_files[2 * i];
        json_t *root = json_loads(mc_schema_files[2 * i + 1], JSON_REJECT_DUPLICATES, &err);
        if (!root) schema_bug(name, "line %d: %s", err.line, err.text);
        c.files[c.nfiles].name = name;
        c.files[c.nfiles].root = root;
        c.nfiles++;
    }
    for (int k = 0; k < 4; k++)
        for (int v = MC_V_V1ALPHA3; v <= MC_V_V1; v++) {
            char name[64];
            snprintf(name, sizeof name, "%s.%s.schema.json", kind_stem[k], version_name[v]);
            sfile *f = find_file(&c, name, strlen(name));
            if (!f) schema_bug(name, "missing");
            roots[k][v] = compile(&c, f->name, f->root);
        }
    for (int i = 0; i < c.nfiles; i++) json_decref(c.files[i].root);
    mc_vec_free(&c.memo);
}

const mc_snode *mc_schema_root(mc_kind k, mc_version v)
{
    if ((int)k < 0 || k > MC_K_NETWORKING_LAST || v < MC_V_V1ALPHA3 || v > MC_V_V1) return NULL;
    pthread_once(&compiled, compile_all);
    return roots[k][v];
}

/* ================================================================ walk */

#define PATH_MAX_FRAMES 256

typedef struct pframe {
    const char *s;          /* property or map key; NULL for an index */
    uint32_t n;
    uint8_t key;            /* map key: rendered [s] */
    int64_t idx;
} pframe;

struct vctx {
    const mc_origin *o;
    pframe path[PATH_MAX_FRAMES];
    int depth;
    bool in_spec;           /* below spec: proto field names are recognized */
    mc_buf pb, vb;          /* path and value scratch */
};

static void push_prop(vctx *c, const char *s, uint32_t n, bool key)
{
    if (c->depth < PATH_MAX_FRAMES) c->path[c->depth] = (pframe){ s, n, key, 0 };
    c->depth++;
}

static void push_idx(vctx *c, int64_t i)
{
    if (c->depth < PATH_MAX_FRAMES) c->path[c->depth] = (pframe){ NULL, 0, 0, i };
    c->depth++;
}

static void pop(vctx *c) { c->depth--; }

static const char *path_str(vctx *c)
{
    mc_buf_reset(&c->pb);
    int d = c->depth < PATH_MAX_FRAMES ? c->depth : PATH_MAX_FRAMES;
    for (int i = 0; i < d; i++) {
        const pframe *f = &c->path[i];
        if (!f->s) mc_buf_printf(&c->pb, "[%lld]", (long long)f->idx);
        else {
            /* keys are user text: keep a long one from swamping the message */
            uint32_t n = f->n > 64 ? 61 : f->n;
            if (f->key) mc_buf_putc(&c->pb, '[');
            else if (i) mc_buf_putc(&c->pb, '.');
            mc_buf_add(&c->pb, f->s, n);
            if (n < f->n) mc_buf_puts(&c->pb, "...");
            if (f->key) mc_buf_putc(&c->pb, ']');
        }
    }
    if (c->depth > PATH_MAX_FRAMES) mc_buf_puts(&c->pb, "...");
    return c->pb.n ? c->pb.s : "";
}

__attribute__((format(printf, 5, 6)))
static void report_l(vctx *c, mc_code code, mc_level lvl, const mc_node *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    char *tmp = mc_xmalloc((size_t)(n < 0 ? 0 : n) + 1);
    vsnprintf(tmp, (size_t)(n < 0 ? 0 : n) + 1, fmt, ap);
    va_end(ap);
    const char *path = path_str(c);
    mc_diag_l(code, lvl, c->o, at, "%s%s%s", path, *path ? ": " : "", tmp);
    free(tmp);
}

#define report(c, code, at, ...) report_l(c, code, mc_code_level(code), at, __VA_ARGS__)

/* A scalar's text, double-quoted and escaped, at most ~60 bytes. */
static const char *quoted(vctx *c, const char *s, size_t n)
{
    mc_buf *b = &c->vb;
    mc_buf_reset(b);
    mc_buf_putc(b, '"');
    size_t i = 0;
    for (; i < n && i < 60; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') { mc_buf_putc(b, '\\'); mc_buf_putc(b, (char)ch); }
        else if (ch == '\n') mc_buf_puts(b, "\\n");
        else if (ch == '\t') mc_buf_puts(b, "\\t");
        else if (ch < 0x20 || ch == 0x7f) mc_buf_printf(b, "\\x%02x", ch);
        else mc_buf_putc(b, (char)ch);
    }
    if (i < n) {
        /* do not cut a UTF-8 sequence */
        while (b->n > 1 && ((unsigned char)b->s[b->n - 1] & 0xC0) == 0x80) b->n--;
        if (b->n > 1 && ((unsigned char)b->s[b->n - 1] & 0xC0) == 0xC0) b->n--;
        b->s[b->n] = '\0';
        mc_buf_puts(b, "...");
    }
    mc_buf_putc(b, '"');
    return b->s;
}

static bool is_any(const mc_snode *s) { return !s->types && !(s->flags & MC_SF_INT_OR_STRING); }

static void expected_types(mc_buf *b, const mc_snode *s)
{
    if (s->flags & MC_SF_INT_OR_STRING) { mc_buf_puts(b, "integer or string"); return; }
    bool first = true;
    for (int i = 0; i < 6; i++)
        if (s->types & (1u << i)) {
            if (!first) mc_buf_puts(b, " or ");
            mc_buf_puts(b, type_names[i]);
            first = false;
        }
}

/* The value as the API server sees it in JSON: an integer (int64), a
** non-integral or huge number, or not a number at all. */
typedef enum { NUM_NONE, NUM_INT, NUM_FLOAT, NUM_BAD } numkind;

static numkind json_number(const mc_node *n, int64_t *iv, double *dv)
{
    if (n->type == MC_INT) {
        if (mc_parse_int(n->u.s, n->n, iv)) { *dv = (double)*iv; return NUM_INT; }
        mc_num(n, dv);              /* beyond int64: JSON decodes a float */
        return fabs(*dv) <= 9007199254740992.0 ? NUM_INT : NUM_FLOAT;
    }
    if (n->type != MC_FLOAT) return NUM_NONE;
    if (!mc_num(n, dv) || !isfinite(*dv)) return NUM_BAD;
    if (*dv == floor(*dv) && fabs(*dv) <= 9007199254740992.0) { *iv = (int64_t)*dv; return NUM_INT; }
    return NUM_FLOAT;
}

/* YAML 1.1 words go-yaml reads as booleans */
static bool yaml11_bool_word(const mc_node *n)
{
    return n->type == MC_BOOL && strcmp(n->u.s, "true") && strcmp(n->u.s, "false");
}

static bool looks_numeric(const char *s)
{
    char *end;
    if (!*s) return false;
    strtod(s, &end);
    return *end == '\0';
}

static bool type_ok(vctx *c, const mc_node *n, const mc_snode *s)
{
    int64_t iv = 0;
    double dv = 0;
    numkind nk = json_number(n, &iv, &dv);
    bool ok;
    if (nk == NUM_BAD) {
        report(c, MSH0101, n, "%s is not a JSON number (NaN and infinities cannot be sent to the API server)", n->u.s);
        return false;
    }
    if (s->flags & MC_SF_INT_OR_STRING) ok = n->type == MC_STR || nk == NUM_INT;
    else if (is_any(s)) ok = true;
    else switch ((mc_type)n->type) {
    case MC_MAP: ok = s->types & MC_ST_OBJECT; break;
    case MC_SEQ: ok = s->types & MC_ST_ARRAY; break;
    case MC_STR: ok = s->types & MC_ST_STRING; break;
    case MC_BOOL: ok = s->types & MC_ST_BOOLEAN; break;
    case MC_INT:
    case MC_FLOAT: ok = (s->types & MC_ST_NUMBER) || ((s->types & MC_ST_INTEGER) && nk == NUM_INT); break;
    default: ok = false;
    }
    if (ok) return true;
    mc_buf exp;
    mc_buf_init(&exp);
    expected_types(&exp, s);
    const char *got = n->type == MC_INT || n->type == MC_FLOAT ? (nk == NUM_INT ? "integer" : "number") : mc_type_name(n);
    const char *hint = "";
    if ((s->types & MC_ST_STRING) && (n->type == MC_INT || n->type == MC_FLOAT || n->type == MC_BOOL))
        hint = yaml11_bool_word(n) ? " (YAML 1.1 reads this unquoted word as a boolean; quote it)" : " (quote it to make it a string)";
    else if ((s->types & (MC_ST_INTEGER | MC_ST_NUMBER)) && n->type == MC_STR && looks_numeric(n->u.s))
        hint = " (remove the quotes)";
    else if ((s->types & MC_ST_BOOLEAN) && n->type == MC_STR && (!strcmp(n->u.s, "true") || !strcmp(n->u.s, "false")))
        hint = " (remove the quotes)";
    if (n->type == MC_STR)
        report(c, MSH0101, n, "expected %s, got string %s%s", exp.s, quoted(c, n->u.s, n->n), hint);
    else if (n->type <= MC_FLOAT)
        report(c, MSH0101, n, "expected %s, got %s %s%s", exp.s, got, n->u.s, hint);
    else
        report(c, MSH0101, n, "expected %s, got %s", exp.s, got);
    mc_buf_free(&exp);
    return false;
}

static void fmt_num(char *buf, size_t n, double v)
{
    if (v == floor(v) && fabs(v) < 1e15) snprintf(buf, n, "%.0f", v);
    else snprintf(buf, n, "%g", v);
}

static size_t rune_count(const char *s, size_t n)
{
    size_t r = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) r++;
    return r;
}

/* format byte as kube-openapi checks it (govalidator.IsBase64): standard
** alphabet, padded to a multiple of 4, not empty, no line breaks. */
static bool is_base64(const char *s, size_t n)
{
    if (n == 0 || n % 4) return false;
    size_t pad = s[n - 1] == '=' ? (s[n - 2] == '=' ? 2 : 1) : 0;
    for (size_t i = 0; i < n - pad; i++) {
        char ch = s[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '+' || ch == '/'))
            return false;
    }
    return true;
}

/* k decimal digits at s[*i]; their value in *v */
static bool digits(const char *s, size_t *i, size_t n, size_t k, int *v)
{
    *v = 0;
    for (size_t j = 0; j < k; j++, (*i)++) {
        if (*i >= n || s[*i] < '0' || s[*i] > '9') return false;
        *v = *v * 10 + (s[*i] - '0');
    }
    return true;
}

static bool lit(const char *s, size_t *i, size_t n, char ch)
{
    if (*i >= n || s[*i] != ch) return false;
    (*i)++;
    return true;
}

/* RFC 3339 date-time as Go's time.Parse(time.RFC3339) accepts it (what
** metav1.Time decodes): 2006-01-02T15:04:05[.frac](Z|+07:00), fields in
** range, the day valid for its month. */
static bool is_rfc3339(const char *s, size_t n)
{
    static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    size_t i = 0;
    int y, mo, d, h, mi, se, zh, zm;
    if (!digits(s, &i, n, 4, &y) || !lit(s, &i, n, '-') || !digits(s, &i, n, 2, &mo) || !lit(s, &i, n, '-') ||
        !digits(s, &i, n, 2, &d) || !lit(s, &i, n, 'T') || !digits(s, &i, n, 2, &h) || !lit(s, &i, n, ':') ||
        !digits(s, &i, n, 2, &mi) || !lit(s, &i, n, ':') || !digits(s, &i, n, 2, &se))
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || se > 59)
        return false;
    if (i < n && s[i] == '.') {
        size_t st = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == st) return false;
    }
    if (i < n && s[i] == 'Z') return i + 1 == n;
    if (i >= n || (s[i] != '+' && s[i] != '-')) return false;
    i++;
    return digits(s, &i, n, 2, &zh) && lit(s, &i, n, ':') && digits(s, &i, n, 2, &zm) && i == n && zh < 24 && zm < 60;
}

static void check_scalar(vctx *c, mc_node *n, const mc_snode *s)
{
    char a[48], b[48];
    if (n->type == MC_STR) {
        if (s->nenum) {
            for (uint32_t i = 0; i < s->nenum; i++)
                if (!strcmp(s->enums[i], n->u.s)) goto enum_ok;
            mc_buf list;
            mc_buf_init(&list);
            const char *near = NULL;
            for (uint32_t i = 0; i < s->nenum; i++) {
                mc_buf_printf(&list, "%s%s", i ? ", " : "", s->enums[i]);
                if (!strcasecmp(s->enums[i], n->u.s)) near = s->enums[i];
            }
            if (near)
                report(c, MSH0102, n, "%s is not one of %s (values are case-sensitive: did you mean %s?)",
                       quoted(c, n->u.s, n->n), list.s, near);
            else
                report(c, MSH0102, n, "%s is not one of %s", quoted(c, n->u.s, n->n), list.s);
            mc_buf_free(&list);
        }
    enum_ok:
        if (s->max_len >= 0 || s->min_len >= 0) {
            size_t r = rune_count(n->u.s, n->n);
            if (s->max_len >= 0 && r > (size_t)s->max_len)
                report(c, MSH0107, n, "is %zu characters long, more than the maximum of %lld", r, (long long)s->max_len);
            else if (s->min_len >= 0 && r < (size_t)s->min_len)
                report(c, MSH0107, n, r == 0 ? "must not be empty" : "is %zu characters long, fewer than the minimum of %lld",
                       r, (long long)s->min_len);
        }
        if (s->format && !strcmp(s->format, "byte") && !is_base64(n->u.s, n->n))
            report(c, MSH0110, n, "%s is not base64 (format byte): use standard base64 with '=' padding",
                   quoted(c, n->u.s, n->n));
        else if (s->format && !strcmp(s->format, "date-time") && !is_rfc3339(n->u.s, n->n))
            report(c, MSH0110, n, "%s is not an RFC 3339 date-time such as 2024-05-01T12:00:00Z",
                   quoted(c, n->u.s, n->n));
        return;
    }
    if ((n->type == MC_INT || n->type == MC_FLOAT) && (s->flags & (MC_SF_MIN | MC_SF_MAX))) {
        int64_t iv;
        double v;
        json_number(n, &iv, &v);
        if ((s->flags & MC_SF_MIN) && v < s->min) {
            fmt_num(a, sizeof a, s->min);
            report(c, MSH0104, n, "%s is less than the minimum of %s", n->u.s, a);
        } else if ((s->flags & MC_SF_MAX) && v > s->max) {
            fmt_num(b, sizeof b, s->max);
            report(c, MSH0104, n, "%s is greater than the maximum of %s", n->u.s, b);
        }
    }
}

/* ------------------------------------------------------- did you mean */

static int lower(int ch) { return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch; }

/* Optimal string alignment distance, case-insensitive; capped inputs. */
static int edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
    enum { M = 64 };
    if (na >= M || nb >= M) return 99;
    int d[M][M];
    for (size_t i = 0; i <= na; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= nb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= na; i++)
        for (size_t j = 1; j <= nb; j++) {
            int cost = lower(a[i - 1]) != lower(b[j - 1]);
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) && lower(a[i - 2]) == lower(b[j - 1]) &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[na][nb];
}

/* The property closest to key, if close enough to be a likely typo. */
static const char *suggest(const mc_snode *s, const char *key, size_t n)
{
    const char *best = NULL;
    int bestd = 99;
    for (uint32_t i = 0; i < s->nprops; i++) {
        const mc_sprop *p = &s->props[i];
        size_t diff = p->len > n ? p->len - n : n - p->len;
        if (diff > 3) continue;
        int d = edit_distance(key, n, p->name, p->len);
        if (d < bestd) { bestd = d; best = p->name; }
    }
    int limit = n <= 3 ? 1 : n <= 8 ? 2 : 3;
    return bestd <= limit ? best : NULL;
}

/* proto name -> JSON name: drop each '_' and upper-case what follows */
static size_t camel(const char *s, size_t n, char *out, size_t cap)
{
    size_t w = 0;
    bool up = false;
    for (size_t i = 0; i < n && w + 1 < cap; i++) {
        if (s[i] == '_') { up = true; continue; }
        out[w++] = up && s[i] >= 'a' && s[i] <= 'z' ? (char)(s[i] - 32) : s[i];
        up = false;
    }
    out[w] = '\0';
    return w;
}

/* ---------------------------------------------------------- containers */

static void check_value(vctx *c, mc_node *n, const mc_snode *s, const mc_node *anchor);

static void rules(vctx *c, mc_node *n, const mc_snode *s, const mc_node *anchor);

static bool pruned(const mc_node *v, const mc_snode *s)
{
    return v->type == MC_NULL && !(s->flags & MC_SF_NULLABLE) && !is_any(s);
}

static void unknown_field(vctx *c, const mc_node *k, const mc_snode *s)
{
    char cam[128];
    const char *near = suggest(s, k->u.s, k->n);
    if (!near && memchr(k->u.s, '_', k->n)) {
        size_t cl = camel(k->u.s, k->n, cam, sizeof cam);
        near = suggest(s, cam, cl);
    }
    /* at the top level, a spec field put one level too high */
    const mc_snode *spec = NULL;
    if (c->depth == 1) {
        int si = mc_schema_prop(s, "spec", 4);
        if (si >= 0) spec = s->props[si].node;
    }
    if (near)
        report(c, MSH0100, k, "unknown field \"%s\" (did you mean \"%s\"?)", k->u.s, near);
    else if (spec && mc_schema_prop(spec, k->u.s, k->n) >= 0)
        report(c, MSH0100, k, "unknown field \"%s\": it belongs under spec", k->u.s);
    else
        report(c, MSH0100, k, "unknown field \"%s\"", k->u.s);
}

static void check_map(vctx *c, mc_node *m, const mc_snode *s, const mc_node *anchor)
{
    uint64_t present = 0;
    const mc_node *keyat[MC_SCHEMA_MAX_PROPS];
    uint32_t kept = 0;
    MC_MAP_EACH(m, i) {
        mc_node *k = mc_key(m, i), *v = mc_val(m, i);
        if (k->type > MC_STR) continue;
        int pi = mc_schema_prop(s, k->u.s, k->n);
        if (pi < 0 && s->addl) {
            if (pruned(v, s->addl)) continue;
            kept++;
            push_prop(c, k->u.s, k->n, true);
            check_value(c, v, s->addl, k);
            pop(c);
            continue;
        }
        if (pi < 0 && (s->flags & MC_SF_PRESERVE)) { kept++; continue; }
        if (pi < 0 && c->in_spec && memchr(k->u.s, '_', k->n)) {
            char cam[128];
            size_t cl = camel(k->u.s, k->n, cam, sizeof cam);
            int ci = mc_schema_prop(s, cam, (uint32_t)cl);
            if (ci >= 0) {
                push_prop(c, k->u.s, k->n, false);
                if (mc_get(m, cam)) {
                    report(c, MSH0100, k, "unknown field \"%s\": the protobuf spelling of %s, which is also set",
                           k->u.s, cam);
                    pop(c);
                    continue;
                }
                if ((s->required >> ci) & 1)
                    report(c, MSH0109, k, "protobuf field name; Istio reads it, but current API servers prune it as "
                           "unknown and then refuse the object for lacking %s; write %s", cam, cam);
                else
                    report(c, MSH0109, k, "protobuf field name; Istio reads it, but current API servers prune it as "
                           "unknown; write %s", cam);
                pop(c);
                pthread_mutex_lock(&RENAMED_LOCK);
                k->u.s = mc_arena_strndup(&RENAMED, cam, cl);
                pthread_mutex_unlock(&RENAMED_LOCK);
                k->n = (uint32_t)cl;
                pi = ci;
            }
        }
        if (pi < 0) {
            push_prop(c, k->u.s, k->n, false);
            unknown_field(c, k, s);
            pop(c);
            continue;
        }
        const mc_snode *ps = s->props[pi].node;
        /* the API server drops what it does not keep: status on every
        ** write, nulls of non-nullable fields before validation */
        if (c->depth == 0 && k->n == 6 && !memcmp(k->u.s, "status", 6)) { present |= 1ull << pi; continue; }
        if (pruned(v, ps)) continue;
        present |= 1ull << pi;
        keyat[pi] = k;
        kept++;
        bool was = c->in_spec;
        if (c->depth == 0 && k->n == 4 && !memcmp(k->u.s, "spec", 4)) c->in_spec = true;
        push_prop(c, k->u.s, k->n, false);
        check_value(c, v, ps, k);
        pop(c);
        c->in_spec = was;
    }
    uint64_t missing = s->required & ~present;
    for (uint32_t i = 0; missing && i < s->nprops; i++)
        if ((missing >> i) & 1)
            report(c, MSH0103, anchor, "missing required field \"%s\"", s->props[i].name);
    for (uint32_t g = 0; g < s->ngroups; g++) {
        uint64_t set = present & s->groups[g];
        if (!(set & (set - 1))) continue;
        /* name the group, and point at the second member set */
        mc_buf names;
        mc_buf_init(&names);
        uint32_t cnt = 0, total = (uint32_t)__builtin_popcountll(s->groups[g]);
        const mc_node *second = NULL, *first = NULL;
        for (uint32_t i = 0; i < s->nprops; i++) {
            if (!((s->groups[g] >> i) & 1)) continue;
            cnt++;
            mc_buf_printf(&names, "%s%s", cnt == 1 ? "" : cnt == total ? (total == 2 ? " and " : ", and ") : ", ",
                          s->props[i].name);
            if ((set >> i) & 1) {
                /* positions are global and grow through a file */
                if (!first || keyat[i]->pos < first->pos) {
                    second = first;
                    first = keyat[i];
                } else if (!second || keyat[i]->pos < second->pos) {
                    second = keyat[i];
                }
            }
        }
        push_prop(c, second->u.s, second->n, false);
        report(c, MSH0108, second, "only one of %s may be set, but %s is set too", names.s, first->u.s);
        mc_diag_note(first, "%s is set here", first->u.s);
        pop(c);
        mc_buf_free(&names);
    }
    if (s->max_props >= 0 && kept > (uint64_t)s->max_props)
        report(c, MSH0105, anchor, "has %u entries, more than the maximum of %lld", kept, (long long)s->max_props);
}

/* ---- duplicates in a list, O(n log n): items sorted by key, then by
** position, so each later duplicate is reported against the first one. */

typedef struct dupkey {
    const mc_node *at;      /* the key node reported */
    const char *s;          /* key bytes (scalar text or int64) */
    uint32_t n;
    uint32_t idx;           /* item index */
    int64_t num;
} dupkey;

static int cmp_dupkey(const void *pa, const void *pb)
{
    const dupkey *a = pa, *b = pb;
    if (a->n != b->n) return a->n < b->n ? -1 : 1;
    int c = a->s ? memcmp(a->s, b->s, a->n) : (a->num > b->num) - (a->num < b->num);
    if (c) return c;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static bool same_key(const dupkey *a, const dupkey *b)
{
    return a->n == b->n && (a->s ? memcmp(a->s, b->s, a->n) == 0 : a->num == b->num);
}

/* Sort keys[0..n) and call dup(first, later) for each later duplicate. */
static void find_dups(vctx *c, dupkey *keys, size_t n, const void *ud,
                      void (*dup)(vctx *, const dupkey *, const dupkey *, const void *))
{
    if (n > 1) qsort(keys, n, sizeof *keys, cmp_dupkey);
    for (size_t i = 1, first = 0; i < n; i++) {
        if (!same_key(&keys[first], &keys[i]))
            first = i;
        else
            dup(c, &keys[first], &keys[i], ud);
    }
}

static void dup_list_key(vctx *c, const dupkey *first, const dupkey *later, const void *ud)
{
    const char *key = ud;
    push_idx(c, later->idx);
    push_prop(c, key, (uint32_t)strlen(key), false);
    report(c, MSH0111, later->at, "%s %s is already used by entry [%u]; the entries of this list are keyed by %s",
           key, quoted(c, later->s, later->n), first->idx, key);
    mc_diag_note(first->at, "first used here");
    pop(c);
    pop(c);
}

/* x-kubernetes-list-type: map -- items are unique by their key */
static void check_list_map(vctx *c, const mc_node *seq, const mc_snode *s)
{
    dupkey *keys = mc_xmalloc((seq->n ? seq->n : 1) * sizeof *keys);
    size_t n = 0;
    MC_SEQ_EACH(seq, i) {
        const mc_node *v = mc_get(mc_item(seq, i), s->list_key);
        if (!v || !mc_is_scalar(v) || v->type == MC_NULL) continue;
        keys[n++] = (dupkey){ v, v->u.s, v->n, i, 0 };
    }
    find_dups(c, keys, n, s->list_key, dup_list_key);
    free(keys);
}

static void check_seq(vctx *c, mc_node *a, const mc_snode *s, const mc_node *anchor)
{
    if (s->min_items >= 0 && a->n < (uint64_t)s->min_items) {
        if (a->n == 0)
            report(c, MSH0106, anchor, "must not be empty (at least %lld item%s)", (long long)s->min_items,
                   s->min_items == 1 ? "" : "s");
        else
            report(c, MSH0106, anchor, "has %u items, fewer than the minimum of %lld", a->n, (long long)s->min_items);
    }
    if (s->max_items >= 0 && a->n > (uint64_t)s->max_items) {
        push_idx(c, s->max_items);
        report(c, MSH0105, mc_item(a, (uint32_t)s->max_items), "list has %u items, more than the maximum of %lld",
               a->n, (long long)s->max_items);
        pop(c);
    }
    if (s->items)
        MC_SEQ_EACH(a, i) {
            push_idx(c, i);
            check_value(c, mc_item(a, i), s->items, mc_item(a, i));
            pop(c);
        }
    if (s->flags & MC_SF_LIST_MAP) check_list_map(c, a, s);
}

static void check_value(vctx *c, mc_node *n, const mc_snode *s, const mc_node *anchor)
{
    if (n->type == MC_NULL) {
        if ((s->flags & MC_SF_NULLABLE) || is_any(s)) return;
        mc_buf exp;
        mc_buf_init(&exp);
        expected_types(&exp, s);
        report(c, MSH0101, n, "expected %s, got null", exp.s);
        mc_buf_free(&exp);
        return;
    }
    if (!type_ok(c, n, s)) return;
    if (n->type == MC_MAP) check_map(c, n, s, anchor);
    else if (n->type == MC_SEQ) check_seq(c, n, s, anchor);
    else check_scalar(c, n, s);
    if (s->nrules) rules(c, n, s, anchor);
}

/* =============================================================== rules */

/* A member that the API server keeps: present and not a pruned null. */
static mc_node *member(const mc_node *m, const char *key)
{
    mc_node *v = mc_get(m, key);
    return v && v->type != MC_NULL ? v : NULL;
}

static void at_member(vctx *c, const mc_node *m, const char *key, bool *pushed)
{
    *pushed = mc_get(m, key) != NULL;
    if (*pushed) push_prop(c, key, (uint32_t)strlen(key), false);
}

/* Both fields set: report at the later one, note the earlier. */
static void exclusive(vctx *c, mc_code code, const mc_node *m, const char *a, const char *b, const char *why)
{
    mc_node *va = member(m, a), *vb = member(m, b);
    if (!va || !vb) return;
    const mc_node *ka = va - 1, *kb = vb - 1;
    bool b_later = kb->pos > ka->pos;
    const mc_node *later = b_later ? kb : ka, *earlier = b_later ? ka : kb;
    push_prop(c, later->u.s, later->n, false);
    report(c, code, later, "%s and %s may not both be set%s", a, b, why);
    mc_diag_note(earlier, "%s is set here", earlier->u.s);
    pop(c);
}

/* Go's time.ParseDuration (what CEL's duration() uses), in nanoseconds;
** false when the text is not a duration or overflows int64. */
static bool go_duration(const char *s, size_t n, double *ns)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    if (n - i == 1 && s[i] == '0') { *ns = 0; return true; }
    if (i == n) return false;
    double total = 0;
    while (i < n) {
        double v = 0, scale = 1;
        size_t st = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') v = v * 10 + (s[i++] - '0');
        bool pre = i > st, post = false;
        if (i < n && s[i] == '.') {
            i++;
            size_t fs = i;
            while (i < n && s[i] >= '0' && s[i] <= '9') { scale /= 10; v += (s[i++] - '0') * scale; }
            post = i > fs;
        }
        if (!pre && !post) return false;
        size_t us = i;
        while (i < n && !(s[i] == '.' || (s[i] >= '0' && s[i] <= '9'))) i++;
        size_t ul = i - us;
        const char *u = s + us;
        double mult;
        if (ul == 2 && !memcmp(u, "ns", 2)) mult = 1;
        else if (ul == 2 && !memcmp(u, "us", 2)) mult = 1e3;
        else if (ul == 3 && (!memcmp(u, "\xc2\xb5s", 3) || !memcmp(u, "\xce\xbcs", 3))) mult = 1e3;
        else if (ul == 2 && !memcmp(u, "ms", 2)) mult = 1e6;
        else if (ul == 1 && u[0] == 's') mult = 1e9;
        else if (ul == 1 && u[0] == 'm') mult = 60e9;
        else if (ul == 1 && u[0] == 'h') mult = 3600e9;
        else return false;
        total += v * mult;
        if (total > 9223372036854775807.0) return false;
    }
    *ns = neg ? -total : total;
    return true;
}

static void rule_duration(vctx *c, mc_node *n, const mc_node *anchor)
{
    (void)anchor;
    double ns;
    if (n->type != MC_STR) return;
    if (!go_duration(n->u.s, n->n, &ns))
        report(c, MSH0121, n, "%s is not a valid duration (write it like 10s, 1.5s, 500ms or 1h30m)",
               quoted(c, n->u.s, n->n));
    else if (ns < 1e6)
        report(c, MSH0121, n, "duration %s is shorter than the minimum of 1ms", quoted(c, n->u.s, n->n));
}

static void rule_tls_name_names(vctx *c, mc_node *n, const mc_node *anchor)
{
    (void)anchor;
    exclusive(c, MSH0120, n, "credentialName", "credentialNames", "");
}

static void rule_tls_names_certs(vctx *c, mc_node *n, const mc_node *anchor)
{
    (void)anchor;
    exclusive(c, MSH0120, n, "credentialNames", "tlsCertificates", "");
}

static void rule_sel_key_wild(vctx *c, mc_node *n, const mc_node *anchor)
{
    (void)anchor;
    MC_MAP_EACH(n, i) {
        mc_node *k = mc_key(n, i);
        if (!memchr(k->u.s, '*', k->n)) continue;
        push_prop(c, k->u.s, k->n, true);
        report(c, MSH0122, k, "label key %s contains '*': selectors match labels exactly", quoted(c, k->u.s, k->n));
        pop(c);
    }
}

static void rule_sel_key_empty(vctx *c, mc_node *n, const mc_node *anchor)
{
    (void)anchor;
    MC_MAP_EACH(n, i) {
        mc_node *k = mc_key(n, i);
        if (k->n) continue;
        push_prop(c, k->u.s, k->n, true);
        report(c, MSH0123, k, "label key must not be empty");
        pop(c);
    }
}

static void rule_sel_value_wild(vctx *c, mc_node *n, const mc_node *anchor)
{
    (void)anchor;
    if (n->type == MC_STR && memchr(n->u.s, '*', n->n))
        report(c, MSH0122, n, "label value %s contains '*': selectors match labels exactly", quoted(c, n->u.s, n->n));
}

static void rule_host_not_wild(vctx *c, mc_node *n, const mc_node *anchor)
{
    (void)anchor;
    if (n->type == MC_STR && n->n == 1 && n->u.s[0] == '*')
        report(c, MSH0124, n, "a ServiceEntry host cannot be \"*\"");
}

static bool int_member(const mc_node *m, const char *key, int64_t *v, const mc_node **at)
{
    const mc_node *x = member(m, key);
    double d;
    if (!x || json_number(x, v, &d) != NUM_INT) return false;
    *at = x;
    return true;
}

static void dup_port(vctx *c, const dupkey *first, const dupkey *later, const void *ud)
{
    (void)ud;
    push_idx(c, later->idx);
    push_prop(c, "number", 6, false);
    report(c, MSH0125, later->at, "port number %lld is already declared by ports[%u]", (long long)later->num, first->idx);
    mc_diag_note(first->at, "first declared here");
    pop(c);
    pop(c);
}

static void rule_port_unique(vctx *c, mc_node *n, const mc_node *anchor)
{
    (void)anchor;
    dupkey *keys = mc_xmalloc((n->n ? n->n : 1) * sizeof *keys);
    size_t k = 0;
    MC_SEQ_EACH(n, i) {
        int64_t num;
        const mc_node *at;
        if (int_member(mc_item(n, i), "number", &num, &at)) keys[k++] = (dupkey){ at, NULL, 0, i, num };
    }
    find_dups(c, keys, k, NULL, dup_port);
    free(keys);
}

static const char *resolution(const mc_node *spec, const char *def)
{
    const mc_node *r = member(spec, "resolution");
    return r ? (mc_str(r) ? mc_str(r) : "") : def;
}

static void rule_sel_xor_ep(vctx *c, mc_node *n, const mc_node *anchor)
{
    (void)anchor;
    exclusive(c, MSH0126, n, "workloadSelector", "endpoints", ": a ServiceEntry selects workloads or lists endpoints");
}

static void rule_cidr_resolution(vctx *c, mc_node *n, const mc_node *anchor)
{
    (void)anchor;
    const char *res = resolution(n, "NONE");
    if (!strcmp(res, "NONE") || !strcmp(res, "STATIC")) return;
    const mc_node *addrs = member(n, "addresses");
    MC_SEQ_EACH(addrs, i) {
        const mc_node *a = mc_item(addrs, i);
        if (a->type != MC_STR || !memchr(a->u.s, '/', a->n)) continue;
        push_prop(c, "addresses", 9, false);
        push_idx(c, i);
        report(c, MSH0127, a, "CIDR address %s needs resolution NONE or STATIC, not %s", quoted(c, a->u.s, a->n), res);
        pop(c);
        pop(c);
        return;
    }
}

static void rule_none_no_ep(vctx *c, mc_node *n, const mc_node *anchor)
{
    (void)anchor;
    const mc_node *ep = member(n, "endpoints");
    if (!ep || strcmp(resolution(n, "NONE"), "NONE") != 0) return;
    bool pushed;
    at_member(c, n, "endpoints", &pushed);
    report(c, MSH0128, ep - 1, "endpoints are not allowed with resolution NONE%s: use STATIC or DNS",
           member(n, "resolution") ? "" : " (the default)");
    if (pushed) pop(c);
}

static void rule_rr_one_ep(vctx *c, mc_node *n, const mc_node *anchor)
{
    (void)anchor;
    const mc_node *ep = member(n, "endpoints");
    if (!ep || ep->type != MC_SEQ || ep->n < 2 || strcmp(resolution(n, ""), "DNS_ROUND_ROBIN") != 0) return;
    push_prop(c, "endpoints", 9, false);
    push_idx(c, 1);
    report(c, MSH0129, mc_item(ep, 1), "resolution DNS_ROUND_ROBIN allows one endpoint, this ServiceEntry lists %u", ep->n);
    pop(c);
    pop(c);
}

static void rule_ep_address(vctx *c, mc_node *n, const mc_node *anchor)
{
    if (!member(n, "address") && !member(n, "network"))
        report(c, MSH0130, anchor, "an endpoint needs an address (or a network)");
}

static bool is_uds(const mc_node *a)
{
    return a && a->type == MC_STR && a->n >= 7 && !memcmp(a->u.s, "unix://", 7);
}

static void rule_uds_no_ports(vctx *c, mc_node *n, const mc_node *anchor)
{
    (void)anchor;
    const mc_node *p = member(n, "ports");
    if (!p || !is_uds(member(n, "address"))) return;
    push_prop(c, "ports", 5, false);
    report(c, MSH0131, p - 1, "a unix:// endpoint cannot have ports");
    pop(c);
}

static void rule_uds_absolute(vctx *c, mc_node *n, const mc_node *anchor)
{
    (void)anchor;
    if (is_uds(n) && (n->n == 7 || (n->u.s[7] != '/' && n->u.s[7] != '@')))
        report(c, MSH0132, n, "%s must be unix:///absolute/path or unix://@abstract-name", quoted(c, n->u.s, n->n));
}

static void rule_uds_not_dir(vctx *c, mc_node *n, const mc_node *anchor)
{
    (void)anchor;
    if (is_uds(n) && n->u.s[n->n - 1] == '/')
        report(c, MSH0133, n, "%s names a directory, not a socket", quoted(c, n->u.s, n->n));
}

static bool alnum(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'); }

static void rule_ep_port_name(vctx *c, mc_node *n, const mc_node *anchor)
{
    (void)anchor;
    MC_MAP_EACH(n, i) {
        mc_node *k = mc_key(n, i);
        const char *s = k->u.s;
        bool ok = k->n > 0 && rune_count(s, k->n) < 63 && alnum(s[0]) && alnum(s[k->n - 1]);
        for (uint32_t j = 1; ok && j + 1 < k->n; j++) ok = alnum(s[j]) || s[j] == '-';
        if (ok) continue;
        push_prop(c, k->u.s, k->n, true);
        report(c, MSH0134, k, "port name %s must be shorter than 63 characters of letters, digits and '-', "
               "starting and ending with a letter or digit", quoted(c, s, k->n));
        pop(c);
    }
}

static void rule_port_range(vctx *c, mc_node *n, const mc_node *anchor)
{
    (void)anchor;
    int64_t v;
    double d;
    if (json_number(n, &v, &d) == NUM_INT && (v < 1 || v > 65535))
        report(c, MSH0135, n, "port %s is not between 1 and 65535", n->u.s);
}

/* ---- Kubernetes ObjectMeta syntax (k8s.io/apimachinery validation) ---- */

static bool dns_char(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'); }

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? */
static bool dns_label(const char *s, size_t n)
{
    if (!n || !dns_char(s[0]) || !dns_char(s[n - 1])) return false;
    for (size_t i = 1; i + 1 < n; i++)
        if (!dns_char(s[i]) && s[i] != '-') return false;
    return true;
}

/* DNS-1123 subdomain: labels joined by '.', 253 at most in all */
static bool dns_subdomain(const char *s, size_t n)
{
    if (!n || n > 253) return false;
    size_t st = 0;
    for (size_t i = 0; i <= n; i++)
        if (i == n || s[i] == '.') {
            if (!dns_label(s + st, i - st)) return false;
            st = i + 1;
        }
    return true;
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], possibly empty when allowed */
static bool name_part(const char *s, size_t n, bool empty_ok)
{
    if (!n) return empty_ok;
    if (n > 63 || !alnum(s[0]) || !alnum(s[n - 1])) return false;
    for (size_t i = 1; i + 1 < n; i++)
        if (!alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.') return false;
    return true;
}

/* IsQualifiedName: [prefix/]name; returns what is wrong, or NULL. */
static const char *qualified_name(const char *s, size_t n, bool lower_prefix)
{
    const char *slash = memchr(s, '/', n);
    if (slash && memchr(slash + 1, '/', n - (size_t)(slash + 1 - s)))
        return "has more than one '/'";
    const char *name = slash ? slash + 1 : s;
    size_t nl = n - (size_t)(name - s);
    if (slash) {
        size_t pl = (size_t)(slash - s);
        char buf[256];
        if (!pl) return "has an empty prefix before '/'";
        if (pl > 253) return "has a prefix longer than 253 characters";
        for (size_t i = 0; i < pl; i++) buf[i] = lower_prefix ? (char)lower(s[i]) : s[i];
        if (!dns_subdomain(buf, pl)) return "has a prefix that is not a DNS subdomain (lower-case letters, digits, '-' and '.')";
    }
    if (!nl) return "has an empty name part";
    if (nl > 63) return "has a name part longer than 63 characters";
    if (!name_part(name, nl, false))
        return "has a name part that is not letters, digits, '-', '_' and '.' starting and ending with a letter or digit";
    return NULL;
}

static void rule_k8s_name(vctx *c, mc_node *n, const mc_node *anchor)
{
    (void)anchor;
    if (n->type != MC_STR || !n->n) return;   /* empty: MSH0014 of the load stage */
    if (!dns_subdomain(n->u.s, n->n))
        report(c, MSH0112, n, "%s is not a valid resource name: use at most 253 lower-case letters, digits, '-' and "
               "'.', starting and ending with a letter or digit", quoted(c, n->u.s, n->n));
}

static void rule_k8s_generate_name(vctx *c, mc_node *n, const mc_node *anchor)
{
    (void)anchor;
    if (n->type != MC_STR || !n->n) return;
    /* a prefix: the API server accepts a trailing '-' */
    char buf[256];
    size_t len = n->n < sizeof buf ? n->n : sizeof buf - 1;
    memcpy(buf, n->u.s, len);
    if (len > 1 && buf[len - 1] == '-') buf[len - 1] = 'a';
    if (n->n > 253 || !dns_subdomain(buf, len))
        report(c, MSH0112, n, "%s is not a valid name prefix: use lower-case letters, digits, '-' and '.'",
               quoted(c, n->u.s, n->n));
}

static void rule_k8s_namespace(vctx *c, mc_node *n, const mc_node *anchor)
{
    (void)anchor;
    if (n->type == MC_STR && n->n && (n->n > 63 || !dns_label(n->u.s, n->n)))
        report(c, MSH0113, n, "%s is not a valid namespace: use at most 63 lower-case letters, digits and '-', "
               "starting and ending with a letter or digit", quoted(c, n->u.s, n->n));
}

static void rule_k8s_labels(vctx *c, mc_node *n, const mc_node *anchor)
{
    (void)anchor;
    MC_MAP_EACH(n, i) {
        mc_node *k = mc_key(n, i), *v = mc_val(n, i);
        push_prop(c, k->u.s, k->n, true);
        const char *why = qualified_name(k->u.s, k->n, false);
        if (why)
            report(c, MSH0114, k, "label key %s %s", quoted(c, k->u.s, k->n), why);
        if (v->type == MC_STR && !name_part(v->u.s, v->n, true))
            report(c, MSH0114, v, "label value %s must be at most 63 letters, digits, '-', '_' and '.', starting and "
                   "ending with a letter or digit (or empty)", quoted(c, v->u.s, v->n));
        pop(c);
    }
}

#define ANNOTATIONS_MAX (256u * 1024u)

static void rule_k8s_annotations(vctx *c, mc_node *n, const mc_node *anchor)
{
    size_t total = 0;
    MC_MAP_EACH(n, i) {
        mc_node *k = mc_key(n, i), *v = mc_val(n, i);
        total += k->n + (v->type == MC_STR ? v->n : 0);
        const char *why = qualified_name(k->u.s, k->n, true);
        if (!why) continue;
        push_prop(c, k->u.s, k->n, true);
        report(c, MSH0115, k, "annotation key %s %s", quoted(c, k->u.s, k->n), why);
        pop(c);
    }
    if (total > ANNOTATIONS_MAX)
        report(c, MSH0115, anchor, "annotations hold %zu bytes, more than the limit of %u", total, ANNOTATIONS_MAX);
}

static void rule_k8s_finalizer(vctx *c, mc_node *n, const mc_node *anchor)
{
    (void)anchor;
    const char *why = n->type == MC_STR ? qualified_name(n->u.s, n->n, false) : NULL;
    if (why) report(c, MSH0116, n, "finalizer %s %s", quoted(c, n->u.s, n->n), why);
}

static const rule_fn rule_fns[R_COUNT] = {
    rule_duration, rule_tls_name_names, rule_tls_names_certs, rule_sel_key_wild, rule_sel_key_empty,
    rule_sel_value_wild, rule_host_not_wild, rule_port_unique, rule_sel_xor_ep, rule_cidr_resolution,
    rule_none_no_ep, rule_rr_one_ep, rule_ep_address, rule_uds_no_ports, rule_uds_absolute, rule_uds_not_dir,
    rule_ep_port_name, rule_port_range, rule_k8s_name, rule_k8s_generate_name, rule_k8s_namespace,
    rule_k8s_labels, rule_k8s_annotations, rule_k8s_finalizer,
};

static void rules(vctx *c, mc_node *n, const mc_snode *s, const mc_node *anchor)
{
    for (uint8_t i = 0; i < s->nrules; i++) rule_fns[s->rules[i]](c, n, anchor);
}

/* =============================================================== entry */

/* Objects may be checked on two threads at once (check.c): the state of a
** walk is the caller's; the schemas are compiled once, by the first
** caller of mc_schema_root, and read only after. */
static bool running;

void mc_schema_begin(void)
{
    running = true;
}

void mc_schema_obj(mc_obj *o)
{
    const mc_snode *s = mc_schema_root(o->kind, o->version);
    if (!s || !running) return;
    vctx c;
    c.o = &o->o;
    c.depth = 0;
    c.in_spec = false;
    mc_buf_init(&c.pb);
    mc_buf_init(&c.vb);
    check_value(&c, o->root, s, o->root);
    mc_buf_free(&c.pb);
    mc_buf_free(&c.vb);
}

void mc_schema_end(void)
{
    running = false;
}

void mc_schema_check(mc_input *in)
{
    mc_schema_begin();
    for (uint32_t i = 0; i < in->nobjs; i++) mc_schema_obj(in->objs[i]);
    mc_schema_end();
}
