/*
** emit.c -- IR to image bytes (emit.h). The writer side of image.h; each
** record built here is checked field by field by runtime/image.c.
**
** While records are built, every string reference (img_str, SZ and SOFF
** fields) holds a string id; the string table is laid out at the end
** (tail-merged, after a leading empty string) and the ids are then
** replaced by offsets, walking the string fields of every record with the
** field descriptors of image.h (and by hand for the two fields whose kind
** depends on another field). Equal records and ranges are interned by
** their bytes at that id stage, which is deterministic.
**
** What is shared is split from what is not (image.h, "Size is a
** feature"): a virtual host keeps its domain, its VirtualService and the
** target words of its rows; the rows themselves are shapes (ROWS) with
** origins (ORIGINS) whose VirtualService is "the instance's" (IMG_VS_SELF),
** so every host routed the same way shares them. Chains and clusters are
** split the same way.
**
** Memory: scratch records of one listener live in a scratch arena that is
** dropped after the listener; only strings, intern keys and the sections
** themselves grow with the image.
*/
#include "emit.h"
#include "image.h"
#include "strmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* qsort without the undefined behaviour of a NULL base when n is 0 */
static void sort_n(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n > 1) qsort(base, n, size, cmp);
}

typedef struct sec {
    uint8_t *p;
    uint32_t n;             /* records */
    size_t cap;             /* bytes */
    uint32_t rs;            /* record size */
} sec;

typedef struct sstr { const char *p; uint32_t len; } sstr;

typedef struct E {
    const mc_ir *ir;
    mc_arena a;             /* strings and intern keys: live to the end */
    mc_arena tmp;           /* scratch of the current listener */
    sec s[IMG_NSECTIONS];
    mc_strmap strs;         /* bytes -> id + 1 */
    mc_vec strv;            /* sstr by id */
    mc_strmap intern;       /* section byte + record bytes -> first + 1 */
    mc_strmap ptrs;         /* pointer bytes + tag -> index + 1 */
    mc_strmap index_keys;   /* row-set structure -> INDEXES + 1 */
    bool over;              /* a format limit was exceeded */
    const char *why;        /* ... which one */
    mc_buf key;             /* scratch for lookup keys */
} E;

static void limit(E *e, const char *why)
{
    if (!e->over) e->why = why;
    e->over = true;
}

static void sec_reserve(sec *s, size_t more)
{
    size_t need = ((size_t)s->n + more) * s->rs;
    if (need <= s->cap) return;
    size_t cap = s->cap ? s->cap * 2 : 256;
    while (cap < need) cap *= 2;
    s->p = mc_xrealloc(s->p, cap);
    s->cap = cap;
}

static uint32_t sec_push(E *e, img_sec si, const void *rec)
{
    sec *s = &e->s[si];
    if (s->n >= IMG_TW_LIMIT) { limit(e, "2^30 records in a section"); return 0; }
    sec_reserve(s, 1);
    memcpy(s->p + (size_t)s->n * s->rs, rec, s->rs);
    return s->n++;
}

/* Append n records, or find the same n records appended earlier under the
** same key: the records' bytes, with `extra` bytes in front when the
** records alone do not say everything that must be equal. */
static uint32_t sec_range_key(E *e, img_sec si, const void *recs, uint32_t n, const void *extra, size_t nextra)
{
    if (n == 0) return 0;
    sec *s = &e->s[si];
    size_t bytes = (size_t)n * s->rs;
    mc_buf_reset(&e->key);
    mc_buf_putc(&e->key, (char)si);
    if (nextra) mc_buf_add(&e->key, extra, nextra);
    mc_buf_add(&e->key, recs, bytes);
    size_t kn = e->key.n;
    void *v = mc_strmap_get(&e->intern, e->key.s, kn);
    if (v) return (uint32_t)(uintptr_t)v - 1;
    if ((uint64_t)s->n + n >= IMG_TW_LIMIT) { limit(e, "2^30 records in a section"); return 0; }
    /* keys must outlive the map: copy only what is inserted */
    char *key = mc_arena_alloc(&e->a, kn);
    memcpy(key, e->key.s, kn);
    void **slot = mc_strmap_put(&e->intern, key, kn, NULL);
    sec_reserve(s, n);
    memcpy(s->p + (size_t)s->n * s->rs, recs, bytes);
    uint32_t first = s->n;
    s->n += n;
    *slot = (void *)(uintptr_t)(first + 1);
    return first;
}

static img_range sec_range(E *e, img_sec si, const void *recs, uint32_t n)
{
    img_range r = { sec_range_key(e, si, recs, n, NULL, 0), n };
    return r;
}

static uint32_t sec_rec(E *e, img_sec si, const void *rec) { return sec_range_key(e, si, rec, 1, NULL, 0); }

/* ------------------------------------------------------------ strings */

static img_str str_n(E *e, const char *p, size_t len)
{
    if (!p) { p = ""; len = 0; }
    if (len >= UINT32_MAX) { limit(e, "a string of 4 GiB"); len = 0; }
    img_str r = { 0, (uint32_t)len };
    void *v = mc_strmap_get(&e->strs, p, len);
    if (!v) {
        char *k = mc_arena_strndup(&e->a, p, len);
        sstr *s = mc_vec_push(&e->strv);
        s->p = k;
        s->len = (uint32_t)len;
        v = (void *)(uintptr_t)e->strv.n;
        *mc_strmap_put(&e->strs, k, len, NULL) = v;
    }
    r.off = (uint32_t)(uintptr_t)v - 1;
    return r;
}

static img_str str(E *e, const char *s) { return str_n(e, s ? s : "", s ? strlen(s) : 0); }

/* an SZ reference: C strings hold no NUL, so the string ends where it should */
static uint32_t sz(E *e, const char *s) { return str(e, s).off; }

/* pointer -> index maps (IR object identity) */
static bool ptr_get(E *e, char tag, const void *p, uint32_t *out)
{
    char key[sizeof p + 1];
    key[0] = tag;
    memcpy(key + 1, &p, sizeof p);
    void *v = mc_strmap_get(&e->ptrs, key, sizeof key);
    if (!v) return false;
    *out = (uint32_t)(uintptr_t)v - 1;
    return true;
}

static void ptr_put(E *e, char tag, const void *p, uint32_t idx)
{
    char *key = mc_arena_alloc(&e->a, sizeof p + 1);
    key[0] = tag;
    memcpy(key + 1, &p, sizeof p);
    *mc_strmap_put(&e->ptrs, key, sizeof p + 1, NULL) = (void *)(uintptr_t)(idx + 1);
}

static uint32_t regex_id(E *e, const char *pattern)
{
    img_str s = str(e, pattern);
    return sec_rec(e, IMG_S_REGEXES, &s);
}

static img_range strlist(E *e, const char *const *v, uint32_t n)
{
    img_str *tmp = mc_arena_alloc(&e->tmp, (n + 1) * sizeof *tmp);
    for (uint32_t i = 0; i < n; i++) tmp[i] = str(e, v[i]);
    return sec_range(e, IMG_S_STRLIST, tmp, n);
}

/* ------------------------------------------------------------ clusters */

/* the order of CLUSTERS: host, port, subset (then creation, for equal names
** seen from two namespaces: equal records collapse below) */
static int cmp_cluster(const void *a, const void *b)
{
    const mc_ir_cluster *x = *(mc_ir_cluster *const *)a, *y = *(mc_ir_cluster *const *)b;
    int c = strcmp(x->host, y->host);
    if (c) return c;
    if (x->port != y->port) return x->port < y->port ? -1 : 1;
    c = strcmp(x->subset, y->subset);
    if (c) return c;
    return x->id < y->id ? -1 : x->id > y->id;
}

static uint32_t cpolicy_rec(E *e, const mc_ir_cpolicy *p)
{
    img_cpolicy cp;
    memset(&cp, 0, sizeof cp);
    cp.lb = (uint32_t)p->lb;
    cp.flags = (p->outlier ? IMG_OUTLIER_SET : 0) | (p->idle_set ? IMG_CP_IDLE_SET : 0) |
               (p->duration_set ? IMG_CP_DURATION_SET : 0) | (p->insecure ? IMG_TLS_INSECURE : 0) |
               (p->h2 ? IMG_CP_H2 : 0) | (p->use_client_protocol ? IMG_CP_USE_CLIENT_PROTOCOL : 0);
    cp.connect_timeout_ms = p->connect_timeout_ms;
    cp.max_connections = p->max_connections;
    cp.max_pending_requests = p->max_pending_requests;
    cp.max_requests = p->max_requests;
    cp.max_retries = p->max_retries;
    cp.max_requests_per_connection = p->max_requests_per_connection;
    cp.idle_timeout_ms = p->idle_timeout_ms;
    cp.max_connection_duration_ms = p->max_connection_duration_ms;
    cp.consecutive_5xx = p->consecutive_5xx;
    cp.enforcing_5xx = p->enforcing_5xx;
    cp.consecutive_gateway = p->consecutive_gateway;
    cp.enforcing_gateway = p->enforcing_gateway;
    cp.interval_ms = p->interval_ms;
    cp.base_ejection_ms = p->base_ejection_ms;
    cp.max_ejection_percent = p->max_ejection_percent;
    cp.min_health_percent = p->min_health_percent;
    cp.tls = (uint32_t)p->tls;
    cp.sni = str(e, p->sni);
    cp.ca_certificates = str(e, p->ca);
    cp.client_certificate = str(e, p->cert);
    cp.private_key = str(e, p->key);
    cp.credential = str(e, p->credential);
    cp.sans = strlist(e, p->sans, p->nsans);
    cp.hash = IMG_NONE;
    if (p->consistent_hash && p->hash_kind != IMG_HASH_NONE) {
        img_chash ch;
        memset(&ch, 0, sizeof ch);
        ch.kind = (uint32_t)p->hash_kind;
        ch.ring_size = p->ring_size;
        ch.name = str(e, p->hash_name);
        ch.cookie_path = str(e, p->cookie_path);
        ch.cookie_ttl_ms = p->cookie_ttl_ms;
        ch.flags = p->cookie_ttl_set ? IMG_CHASH_TTL : 0;
        cp.hash = sec_rec(e, IMG_S_CHASHES, &ch);
    }
    return sec_rec(e, IMG_S_CPOLICIES, &cp);
}

/* A DNS ServiceEntry without endpoints resolves its own host: that one
** endpoint is not stored, the shape says "self" and where. */
static bool self_endpoint(const mc_ir_cluster *c)
{
    if (c->nendpoints != 1) return false;
    const mc_ir_endpoint *ep = &c->endpoints[0];
    return (ep->weight == 0 || ep->weight == 1) && ep->kind != IMG_EP_UNIX && ep->port < 65536 && strcmp(ep->address, c->host) == 0;
}

static void emit_clusters(E *e)
{
    uint32_t n = e->ir->nclusters;
    mc_ir_cluster **order = mc_xmalloc((n + 1) * sizeof *order);
    memcpy(order, e->ir->clusters, n * sizeof *order);
    sort_n(order, n, sizeof *order, cmp_cluster);
    for (uint32_t i = 0; i < n; i++) {
        const mc_ir_cluster *c = order[i];
        img_cluster_shape sh;
        memset(&sh, 0, sizeof sh);
        if (c->port > 65535) limit(e, "a cluster port above 65535");
        sh.port = (uint16_t)c->port;
        sh.kind = (uint8_t)c->kind;
        sh.protocol = (uint8_t)c->protocol;
        sh.flags = c->mesh_external ? IMG_CLUSTER_MESH_EXTERNAL : 0;
        sh.subset = sz(e, c->subset);
        sh.policy = IMG_NONE;
        if (c->kind != IMG_CLUSTER_MISSING) {
            sh.policy = cpolicy_rec(e, &c->policy);
            if (self_endpoint(c)) {
                sh.flags |= IMG_CLUSTER_SELF_ENDPOINT;
                sh.ep_port = (uint16_t)c->endpoints[0].port;
                sh.ep_kind = (uint8_t)c->endpoints[0].kind;
            } else {
                img_endpoint *eps = mc_arena_zalloc(&e->tmp, (c->nendpoints + 1) * sizeof *eps);
                for (uint32_t k = 0; k < c->nendpoints; k++) {
                    if (c->endpoints[k].port > 65535) limit(e, "an endpoint port above 65535");
                    eps[k].address = sz(e, c->endpoints[k].address);
                    eps[k].port = (uint16_t)c->endpoints[k].port;
                    eps[k].weight = c->endpoints[k].weight ? c->endpoints[k].weight : 1;
                    eps[k].kind = (uint8_t)c->endpoints[k].kind;
                }
                sh.endpoints = sec_range(e, IMG_S_ENDPOINTS, eps, c->nendpoints);
            }
        }
        img_cluster rec = { sz(e, c->host), sec_rec(e, IMG_S_CSHAPES, &sh) };
        /* equal records (the same cluster seen from two namespaces) collapse
        ** into one; two different ones under one name cannot be told apart */
        uint32_t before = e->s[IMG_S_CLUSTERS].n;
        uint32_t idx = sec_rec(e, IMG_S_CLUSTERS, &rec);
        const mc_ir_cluster *p = i ? order[i - 1] : NULL;
        if (idx == before && p && p->port == c->port && strcmp(p->host, c->host) == 0 && strcmp(p->subset, c->subset) == 0)
            limit(e, "one cluster name with two different definitions, seen from two namespaces");
        ptr_put(e, 'C', c, idx);
    }
    free(order);
}

static uint32_t cluster_idx(E *e, const mc_ir_cluster *c)
{
    uint32_t i = 0;
    ptr_get(e, 'C', c, &i);
    return i;
}

/* what a route to this cluster answers (image.h, target words) */
static uint32_t cluster_status(const mc_ir_cluster *c)
{
    if (c->kind == IMG_CLUSTER_MISSING) return IMG_TW_NC;
    if (c->nendpoints == 0 && c->kind != IMG_CLUSTER_ORIGINAL_DST) return IMG_TW_UH;
    return IMG_TW_OK;
}

/* ------------------------------------------------------------ actions */

static img_range hdrops(E *e, const mc_ir_hdrops *h)
{
    img_header_op *v = mc_arena_zalloc(&e->tmp, (h->n + 1) * sizeof *v);
    for (uint32_t i = 0; i < h->n; i++) {
        v[i].op = (uint32_t)h->v[i].op;
        v[i].name = str(e, h->v[i].name);
        v[i].value = str(e, h->v[i].value);
    }
    return sec_range(e, IMG_S_HEADEROPS, v, h->n);
}

static img_matcher matcher_rec(E *e, const mc_ir_matcher *m)
{
    img_matcher r;
    memset(&r, 0, sizeof r);
    r.target = (uint8_t)m->target;
    r.op = (uint8_t)m->op;
    r.flags = (uint8_t)m->flags;
    r.name = str(e, m->name);
    r.value = str(e, m->value);
    r.regex = m->op == IMG_OP_REGEX ? regex_id(e, m->value) : IMG_NONE;
    return r;
}

static img_range matchers(E *e, const mc_ir_matcher *m, uint32_t n)
{
    img_matcher *v = mc_arena_zalloc(&e->tmp, (n + 1) * sizeof *v);
    for (uint32_t i = 0; i < n; i++) v[i] = matcher_rec(e, &m[i]);
    return sec_range(e, IMG_S_MATCHERS, v, n);
}

/* A single destination is a cluster index with the cluster's status; a
** weighted split (or a destination with its own header operations) is a
** TARGETS record. */
static uint32_t target_word(E *e, const mc_ir_target *t)
{
    bool single = !t->weighted && t->n == 1 && !t->dests[0].req.n && !t->dests[0].resp.n && !t->dests[0].authority;
    if (single) return IMG_TW(cluster_status(t->dests[0].cluster), cluster_idx(e, t->dests[0].cluster));
    img_wcluster *w = mc_arena_zalloc(&e->tmp, (t->n + 1) * sizeof *w);
    for (uint32_t i = 0; i < t->n; i++) {
        w[i].cluster = cluster_idx(e, t->dests[i].cluster);
        w[i].weight = t->weighted ? t->dests[i].weight : 1;
        w[i].req_headers = hdrops(e, &t->dests[i].req);
        w[i].resp_headers = hdrops(e, &t->dests[i].resp);
        w[i].authority = str(e, t->dests[i].authority);
    }
    img_target rec;
    memset(&rec, 0, sizeof rec);
    rec.clusters = sec_range(e, IMG_S_WCLUSTERS, w, t->n);
    rec.total = t->weighted ? t->total : 1;
    rec.weighted = t->weighted;
    return IMG_TW(IMG_TW_SPLIT, sec_rec(e, IMG_S_TARGETS, &rec));
}

static uint32_t action_rec(E *e, const mc_ir_action *a)
{
    uint32_t idx;
    if (ptr_get(e, 'A', a, &idx)) return idx;
    img_action rec;
    memset(&rec, 0, sizeof rec);
    rec.kind = (uint32_t)a->kind;
    rec.req_headers = hdrops(e, &a->req);
    rec.resp_headers = hdrops(e, &a->resp);
    rec.fault = rec.cors = IMG_NONE;
    if (a->fault) {
        img_fault f;
        memset(&f, 0, sizeof f);
        f.flags = a->fault_flags;
        f.delay_ms = a->delay_ms;
        f.delay_per_million = a->delay_pm;
        f.abort_status = a->abort_status;
        f.abort_per_million = a->abort_pm;
        rec.fault = sec_rec(e, IMG_S_FAULTS, &f);
    }
    if (a->cors) {
        img_cors c;
        memset(&c, 0, sizeof c);
        c.origins = matchers(e, a->origins, a->norigins);
        c.methods = str(e, a->cors_methods);
        c.headers = str(e, a->cors_headers);
        c.expose = str(e, a->cors_expose);
        c.max_age = a->cors_max_age;
        c.flags = a->cors_flags;
        rec.cors = sec_rec(e, IMG_S_CORSES, &c);
    }
    if (a->kind == IMG_ACTION_REDIRECT) {
        img_redirect r;
        memset(&r, 0, sizeof r);
        r.scheme = str(e, a->rd_scheme);
        r.host = str(e, a->rd_host);
        r.path = str(e, a->rd_path);
        r.prefix = str(e, a->rd_prefix);
        r.port = a->rd_port;
        r.code = a->rd_code;
        rec.detail = sec_rec(e, IMG_S_REDIRECTS, &r);
    } else if (a->kind == IMG_ACTION_DIRECT) {
        img_direct d;
        memset(&d, 0, sizeof d);
        d.status = a->status;
        d.body = str_n(e, a->body, a->body_len);
        rec.detail = sec_rec(e, IMG_S_DIRECTS, &d);
    } else {
        img_policy p;
        memset(&p, 0, sizeof p);
        p.flags = a->has_timeout ? IMG_POLICY_TIMEOUT : 0;
        p.timeout_ms = a->timeout_ms;
        p.retry = IMG_NONE;
        if (a->retry) {
            img_retry r;
            memset(&r, 0, sizeof r);
            r.num_retries = a->retry_num;
            r.per_try_timeout_ms = a->retry_per_try_ms;
            r.backoff_ms = a->retry_backoff_ms;
            r.host_selection_attempts = a->retry_host_attempts;
            r.flags = a->retry_flags;
            r.retry_on = str(e, a->retry_on);
            r.codes = sec_range(e, IMG_S_U32LIST, a->retry_codes, a->nretry_codes);
            p.retry = sec_rec(e, IMG_S_RETRIES, &r);
        }
        p.rewrite_regex = a->regex_rewrite ? regex_id(e, a->regex_rewrite) : IMG_NONE;
        p.prefix_rewrite = str(e, a->prefix_rewrite);
        p.regex_substitution = str(e, a->regex_substitution);
        p.authority = str(e, a->authority);
        img_mirror *m = mc_arena_zalloc(&e->tmp, (a->nmirrors + 1) * sizeof *m);
        for (uint32_t i = 0; i < a->nmirrors; i++) {
            m[i].cluster = cluster_idx(e, a->mirrors[i]);
            m[i].per_million = a->mirror_pm[i];
        }
        p.mirrors = sec_range(e, IMG_S_MIRRORS, m, a->nmirrors);
        rec.detail = sec_rec(e, IMG_S_POLICIES, &p);
    }
    idx = sec_rec(e, IMG_S_ACTIONS, &rec);
    ptr_put(e, 'A', a, idx);
    return idx;
}

/* ------------------------------------------------------------ origins */

static uint32_t vs_rec(E *e, const mc_obj *o)
{
    if (!o) return IMG_NONE;
    uint32_t idx;
    if (ptr_get(e, 'V', o, &idx)) return idx;
    img_vs v = { sz(e, o->o.ns), sz(e, o->o.name) };
    idx = sec_rec(e, IMG_S_VSES, &v);
    ptr_put(e, 'V', o, idx);
    return idx;
}

/* An origin with the VirtualService `vs` (VSES, IMG_NONE, or IMG_VS_SELF
** when the instance using the record names it). */
static uint32_t origin_rec(E *e, const char *name, uint32_t vs, const mc_obj *delegate, int kind, uint32_t entry, uint32_t match)
{
    img_src o;
    memset(&o, 0, sizeof o);
    o.name = str(e, name);
    o.vs = vs;
    o.delegate = vs_rec(e, delegate);
    o.kind = (uint32_t)kind;
    o.entry = (uint16_t)(entry > 0xfffe ? 0xfffe : entry);
    o.match = (uint16_t)(match > 0xffff ? 0xffff : match);
    return sec_rec(e, IMG_S_ORIGINS, &o);
}

/* ------------------------------------------------------------ host tables */

typedef struct hkey { const char *key; uint32_t len, kind, target; } hkey;

/* Buckets of 6 slots, on average 4 used (image.h: home bucket by fast
** range, a full bucket overflows into the next); filled in the given order.
** `lens`: the suffix entries' lengths, or with by_length every key's. */
static uint32_t host_table(E *e, const hkey *k, uint32_t n, uint32_t dflt, uint32_t ntargets, bool by_length)
{
    uint32_t nb = n / 4 + 1;
    img_hbucket *bk = mc_arena_zalloc(&e->tmp, (size_t)nb * sizeof *bk);
    uint32_t *lens = mc_arena_zalloc(&e->tmp, (n + 1) * sizeof *lens);
    uint32_t nl = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t h = img_hash(k[i].key, k[i].len, k[i].kind);
        uint32_t b = img_home(h, nb);
        while (bk[b].count == IMG_HB_SLOTS) {
            bk[b].flags |= IMG_HB_OVERFLOW;
            b = b + 1 == nb ? 0 : b + 1;
        }
        img_hbucket *x = &bk[b];
        x->tag[x->count] = (uint16_t)(h >> 48);
        x->key[x->count] = sz(e, k[i].key);
        x->target[x->count] = k[i].target | (k[i].kind == IMG_HOST_SUFFIX ? IMG_HB_SUFFIX : 0);
        x->count++;
        if (k[i].target >= IMG_HB_SUFFIX && k[i].target != IMG_NONE) limit(e, "2^31 host-table targets");
        if (k[i].kind == IMG_HOST_SUFFIX || by_length) {
            bool seen = false;
            for (uint32_t j = 0; j < nl && !seen; j++) seen = lens[j] == k[i].len;
            if (!seen) lens[nl++] = k[i].len;
        }
    }
    /* descending */
    for (uint32_t i = 1; i < nl; i++)
        for (uint32_t j = i; j > 0 && lens[j - 1] < lens[j]; j--) {
            uint32_t t = lens[j];
            lens[j] = lens[j - 1];
            lens[j - 1] = t;
        }
    img_host_table t;
    memset(&t, 0, sizeof t);
    t.buckets = sec_range(e, IMG_S_HBUCKETS, bk, nb);
    t.lens = sec_range(e, IMG_S_U32LIST, lens, nl);
    t.nentries = n;
    t.dflt = dflt;
    t.ntargets = ntargets;
    return sec_rec(e, IMG_S_HOSTTABLES, &t);
}

/* Envoy domain syntax: "*" default, "*suffix" suffix wildcard, else exact.
** The first name wins on duplicates (Envoy rejects them; Istio avoids them). */
static uint32_t name_table(E *e, const char *const *names, const uint32_t *targets, uint32_t n, uint32_t ntargets)
{
    hkey *k = mc_arena_zalloc(&e->tmp, (n + 1) * sizeof *k);
    uint32_t nk = 0, dflt = IMG_NONE;
    mc_strmap seen;
    mc_strmap_init(&seen);
    for (uint32_t i = 0; i < n; i++) {
        const char *nm = names[i];
        if (strcmp(nm, "*") == 0 || !*nm) {
            if (dflt == IMG_NONE) dflt = targets[i];
            continue;
        }
        uint32_t kind = nm[0] == '*' ? IMG_HOST_SUFFIX : IMG_HOST_EXACT;
        const char *key = kind == IMG_HOST_SUFFIX ? nm + 1 : nm;
        char *lk = mc_arena_strdup(&e->tmp, key);
        for (char *p = lk; *p; p++) if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
        char *sk = mc_arena_printf(&e->tmp, "%u%s", kind, lk);
        bool found;
        mc_strmap_put(&seen, sk, strlen(sk), &found);
        if (found) continue;
        k[nk].key = lk;
        k[nk].len = (uint32_t)strlen(lk);
        k[nk].kind = kind;
        k[nk].target = targets[i];
        nk++;
    }
    mc_strmap_free(&seen);
    return host_table(e, k, nk, dflt, ntargets, false);
}

/* ------------------------------------------------------------ decision tables */

#define LABEL_MAX 65535u    /* img_trie_node.label_len */

typedef struct tnode {
    const char *label;
    uint32_t len;
    struct tnode *kids;     /* sibling list through next */
    struct tnode *next;
    mc_vec rows;            /* uint32_t */
    uint32_t idx;
} tnode;

static tnode *tnode_new(E *e, const char *label, uint32_t len)
{
    tnode *t = mc_arena_zalloc(&e->tmp, sizeof *t);
    t->label = label;
    t->len = len;
    mc_vec_init(&t->rows, sizeof(uint32_t));
    return t;
}

/* radix insertion of a prefix literal; labels longer than LABEL_MAX become
** chains of nodes */
static void trie_add(E *e, tnode *root, const char *s, uint32_t n, uint32_t row)
{
    tnode *cur = root;
    while (n) {
        tnode *c = cur->kids;
        while (c && c->label[0] != s[0]) c = c->next;
        if (!c) {
            uint32_t len = n > LABEL_MAX ? LABEL_MAX : n;
            tnode *t = tnode_new(e, s, len);
            t->next = cur->kids;
            cur->kids = t;
            cur = t;
            s += len;
            n -= len;
            continue;
        }
        uint32_t k = 0;
        while (k < c->len && k < n && c->label[k] == s[k]) k++;
        if (k < c->len) {
            /* split c at k */
            tnode *tail = tnode_new(e, c->label + k, c->len - k);
            tail->kids = c->kids;
            tail->rows = c->rows;
            c->kids = tail;
            c->len = k;
            mc_vec_init(&c->rows, sizeof(uint32_t));
        }
        cur = c;
        s += k;
        n -= k;
    }
    *(uint32_t *)mc_vec_push(&cur->rows) = row;
}

static uint32_t rowlist(E *e, const uint32_t *rows, uint32_t n)
{
    img_range r = sec_range(e, IMG_S_ROWLIST, rows, n);
    return sec_rec(e, IMG_S_ROWLISTS, &r);
}

/* a row reference: one row inline, more in a row list */
static uint32_t rowref(E *e, const uint32_t *rows, uint32_t n)
{
    if (n != 1) return rowlist(e, rows, n);
    if (rows[0] >= IMG_ROWS_ONE) limit(e, "2^30 rows in a virtual host");
    return IMG_ROWS_ONE | rows[0];
}

static int cmp_tnode(const void *a, const void *b)
{
    unsigned char x = (unsigned char)(*(tnode *const *)a)->label[0], y = (unsigned char)(*(tnode *const *)b)->label[0];
    return x < y ? -1 : x > y;
}

static void trie_free_rows(tnode *t)
{
    for (tnode *c = t->kids; c; c = c->next) trie_free_rows(c);
    mc_vec_free(&t->rows);
}

/* breadth-first: children contiguous and after their parent */
static uint32_t trie_emit(E *e, tnode *root)
{
    mc_vec q;
    mc_vec_init(&q, sizeof(tnode *));
    *(tnode **)mc_vec_push(&q) = root;
    uint32_t base = e->s[IMG_S_TRIE].n;
    /* number the nodes first */
    for (size_t i = 0; i < q.n; i++) {
        tnode *t = MC_VEC_AT(&q, tnode *, i);
        t->idx = base + (uint32_t)i;
        size_t nk = 0;
        for (tnode *c = t->kids; c; c = c->next) nk++;
        tnode **kids = mc_arena_alloc(&e->tmp, (nk + 1) * sizeof *kids);
        nk = 0;
        for (tnode *c = t->kids; c; c = c->next) kids[nk++] = c;
        sort_n(kids, nk, sizeof *kids, cmp_tnode);
        for (size_t k = 0; k < nk; k++) *(tnode **)mc_vec_push(&q) = kids[k];
        /* re-link sorted so the emission below sees the same order */
        t->kids = nk ? kids[0] : NULL;
        for (size_t k = 0; k < nk; k++) kids[k]->next = k + 1 < nk ? kids[k + 1] : NULL;
    }
    for (size_t i = 0; i < q.n; i++) {
        tnode *t = MC_VEC_AT(&q, tnode *, i);
        img_trie_node rec;
        memset(&rec, 0, sizeof rec);
        rec.label = str_n(e, t->label, t->len).off;
        rec.label_len = (uint16_t)t->len;
        uint32_t nk = 0;
        for (tnode *c = t->kids; c; c = c->next) nk++;
        rec.kids = nk ? t->kids->idx : 0;
        rec.nkids = (uint16_t)nk;
        rec.rows = t->rows.n ? rowref(e, t->rows.v, (uint32_t)t->rows.n) : IMG_NONE;
        uint8_t key = t->len ? (uint8_t)t->label[0] : 0;
        sec_push(e, IMG_S_TRIE, &rec);
        sec_push(e, IMG_S_TRIEKEYS, &key);
    }
    mc_vec_free(&q);
    return base;
}

/* A host table of literals -> row references: one per distinct literal
** of `which` rows, rows ascending; with by_length its lens lists the
** literals' lengths (a prefix table). */
static uint32_t literal_table(E *e, mc_ir_route *const *routes, const mc_vec *which, bool by_length)
{
    hkey *hk = mc_arena_zalloc(&e->tmp, (which->n + 1) * sizeof *hk);
    uint32_t nh = 0;
    mc_strmap by_path;
    mc_strmap_init(&by_path);
    mc_vec *lists = mc_arena_zalloc(&e->tmp, (which->n + 1) * sizeof *lists);
    for (size_t i = 0; i < which->n; i++) {
        uint32_t ri = MC_VEC_AT(which, uint32_t, i);
        const char *p = routes[ri]->path;
        bool found;
        void **v = mc_strmap_put(&by_path, p, strlen(p), &found);
        if (!found) {
            *v = (void *)(uintptr_t)(nh + 1);
            mc_vec_init(&lists[nh], sizeof(uint32_t));
            hk[nh].key = p;
            hk[nh].len = (uint32_t)strlen(p);
            hk[nh].kind = IMG_HOST_EXACT;
            nh++;
        }
        *(uint32_t *)mc_vec_push(&lists[(uintptr_t)*v - 1]) = ri;
    }
    mc_strmap_free(&by_path);
    for (uint32_t i = 0; i < nh; i++) {
        hk[i].target = rowref(e, lists[i].v, (uint32_t)lists[i].n);
        mc_vec_free(&lists[i]);
    }
    return host_table(e, hk, nh, IMG_NONE, IMG_HB_SUFFIX, by_length);
}

/* Prefix literals get a table by length when a lookup there (a hash probe
** per length, about two trie levels' work) costs no more than the deepest
** walk down the trie; at most this many lengths. */
#define PREFIX_LENGTHS_MAX 4

static uint32_t trie_depth(const tnode *t)
{
    uint32_t d = 0;
    for (const tnode *c = t->kids; c; c = c->next) {
        uint32_t k = trie_depth(c) + 1;
        if (k > d) d = k;
    }
    return d;
}

/* The index of a row set depends only on the rows' path kinds, flags and
** literals, so equal structures share one index. */
static uint32_t index_rec(E *e, mc_ir_route *const *routes, uint32_t n)
{
    mc_buf key;
    mc_buf_init(&key);
    for (uint32_t i = 0; i < n; i++) {
        const mc_ir_route *r = routes[i];
        mc_buf_printf(&key, "%d%d%zu:", r->path_kind, r->ignore_case, strlen(r->path));
        mc_buf_add(&key, r->path, strlen(r->path));
    }
    size_t kn = key.n;
    void *hit = mc_strmap_get(&e->index_keys, key.s ? key.s : "", kn);
    if (hit) {
        mc_buf_free(&key);
        return (uint32_t)(uintptr_t)hit - 1;
    }
    char *k = mc_arena_strndup(&e->a, key.s ? key.s : "", kn);
    mc_buf_free(&key);
    void **slot = mc_strmap_put(&e->index_keys, k, kn, NULL);
    img_index x;
    memset(&x, 0, sizeof x);
    x.nrows = n;
    x.trie = x.exact = x.rest = x.prefix = IMG_NONE;
    mc_vec rest, exact, prefix;
    mc_vec_init(&rest, sizeof(uint32_t));
    mc_vec_init(&exact, sizeof(uint32_t));
    mc_vec_init(&prefix, sizeof(uint32_t));
    uint32_t lens[PREFIX_LENGTHS_MAX + 1], nlens = 0;
    for (uint32_t i = 0; i < n; i++) {
        const mc_ir_route *r = routes[i];
        /* an empty literal cannot be a table key ("" marks an empty slot) */
        if (r->ignore_case || r->path_kind == IMG_PATH_REGEX || !*r->path) {
            *(uint32_t *)mc_vec_push(&rest) = i;
        } else if (r->path_kind == IMG_PATH_EXACT) {
            *(uint32_t *)mc_vec_push(&exact) = i;
        } else {
            *(uint32_t *)mc_vec_push(&prefix) = i;
            uint32_t len = (uint32_t)strlen(r->path), j = 0;
            while (j < nlens && lens[j] != len) j++;
            if (j == nlens && nlens <= PREFIX_LENGTHS_MAX) lens[nlens++] = len;
        }
    }
    if (prefix.n) {
        tnode *root = tnode_new(e, "", 0);
        for (size_t i = 0; i < prefix.n; i++) {
            uint32_t ri = MC_VEC_AT(&prefix, uint32_t, i);
            trie_add(e, root, routes[ri]->path, (uint32_t)strlen(routes[ri]->path), ri);
        }
        if (nlens <= PREFIX_LENGTHS_MAX && 2 * nlens <= trie_depth(root)) x.prefix = literal_table(e, routes, &prefix, true);
        else x.trie = trie_emit(e, root);
        trie_free_rows(root);
    }
    if (rest.n) x.rest = rowlist(e, rest.v, (uint32_t)rest.n);
    if (exact.n) x.exact = literal_table(e, routes, &exact, false);
    mc_vec_free(&rest);
    mc_vec_free(&exact);
    mc_vec_free(&prefix);
    uint32_t idx = sec_rec(e, IMG_S_INDEXES, &x);
    *slot = (void *)(uintptr_t)(idx + 1);
    return idx;
}

/* A row shape; the row's VirtualService is IMG_VS_SELF when it is the
** virtual host's (vhost_vs). */
static img_row row_rec(E *e, const mc_ir_route *r, uint32_t vhost_vs)
{
    img_row rec;
    memset(&rec, 0, sizeof rec);
    rec.flags = (uint16_t)((uint32_t)r->path_kind | (r->ignore_case ? IMG_ROW_IGNORE_CASE : 0) | (r->catch_all ? IMG_ROW_CATCH_ALL : 0));
    for (uint32_t i = 0; i < r->nmatchers; i++)
        if (r->matchers[i].target == IMG_TARGET_QUERY) rec.flags |= IMG_ROW_QUERY;
    if (r->path_kind == IMG_PATH_REGEX) {
        rec.path = regex_id(e, r->path);
    } else {
        img_str p = str(e, r->path);
        rec.path = p.off;
        rec.path_len = p.len;
    }
    if (r->nmatchers > 0xffff) limit(e, "65536 matchers in one match block");
    img_range m = matchers(e, r->matchers, r->nmatchers);
    rec.matchers = m.first;
    rec.nmatchers = (uint16_t)m.count;
    rec.action = action_rec(e, r->action);
    uint32_t vs = IMG_NONE;
    const mc_obj *delegate = NULL;
    uint32_t entry = 0, match = 0xffff;
    if (r->http) {
        const mc_http_route *h = r->http;
        vs = vs_rec(e, h->vs->obj);
        if (vs != IMG_NONE && vs == vhost_vs) vs = IMG_VS_SELF;
        delegate = h->delegate ? h->delegate->obj : NULL;
        entry = h->index;
        match = r->match ? r->match->index : 0xffff;
    }
    rec.src = origin_rec(e, r->name, vs, delegate, IMG_ENTRY_HTTP, entry, match);
    if (vs == IMG_VS_SELF) rec.flags |= IMG_ROW_SELF_VS;
    if (r->name && *r->name) rec.flags |= IMG_ROW_NAMED;
    return rec;
}

/* the VirtualService a virtual host's rows mostly come from: its first
** row's (rows of other VirtualServices name theirs) */
static uint32_t vhost_vs(E *e, const mc_ir_vhost *v)
{
    for (uint32_t i = 0; i < v->nroutes; i++)
        if (v->routes[i]->http) return vs_rec(e, v->routes[i]->http->vs->obj);
    return IMG_NONE;
}

static img_vhost vhost_rec(E *e, const mc_ir_vhost *v)
{
    img_vhost rec;
    memset(&rec, 0, sizeof rec);
    rec.domain = sz(e, v->domain);
    rec.vs = vhost_vs(e, v);
    img_row *rows = mc_arena_zalloc(&e->tmp, (v->nroutes + 1) * sizeof *rows);
    uint32_t *words = mc_arena_zalloc(&e->tmp, (v->nroutes + 1) * sizeof *words);
    for (uint32_t i = 0; i < v->nroutes; i++) {
        const mc_ir_route *r = v->routes[i];
        rows[i] = row_rec(e, r, rec.vs);
        words[i] = r->action->kind == IMG_ACTION_ROUTE ? target_word(e, &r->action->target) : IMG_NONE;
    }
    img_rowset rs;
    memset(&rs, 0, sizeof rs);
    rs.rows = sec_range(e, IMG_S_ROWS, rows, v->nroutes);
    rs.index = index_rec(e, v->routes, v->nroutes);
    if (v->port > 65535) limit(e, "a virtual host port above 65535");
    rs.port = (uint16_t)v->port;
    rs.flags = v->require_tls ? IMG_VHOST_REQUIRE_TLS : 0;
    rec.rowset = sec_rec(e, IMG_S_ROWSETS, &rs);
    /* a virtual host's route rows are its own, unless another one routes
    ** the same rows the same way for the same VirtualService */
    uint32_t extra[2] = { rec.rowset, rec.vs };
    rec.routes = sec_range_key(e, IMG_S_ROUTES, words, v->nroutes, extra, sizeof extra);
    return rec;
}

static uint32_t route_table_rec(E *e, const mc_ir_route_table *rt)
{
    uint32_t idx;
    if (ptr_get(e, 'R', rt, &idx)) return idx;
    img_vhost *vh = mc_arena_zalloc(&e->tmp, (rt->nvhosts + 1) * sizeof *vh);
    const char **names = mc_arena_alloc(&e->tmp, (rt->nvhosts + 1) * sizeof *names);
    uint32_t *targets = mc_arena_alloc(&e->tmp, (rt->nvhosts + 1) * sizeof *targets);
    for (uint32_t i = 0; i < rt->nvhosts; i++) {
        vh[i] = vhost_rec(e, &rt->vhosts[i]);
        names[i] = rt->vhosts[i].domain;
        targets[i] = i;
    }
    img_route_table rec;
    memset(&rec, 0, sizeof rec);
    rec.name = str(e, rt->name);
    rec.vhosts = sec_range(e, IMG_S_VHOSTS, vh, rt->nvhosts);
    rec.hosts = name_table(e, names, targets, rt->nvhosts, rt->nvhosts);
    idx = sec_rec(e, IMG_S_ROUTETABLES, &rec);
    ptr_put(e, 'R', rt, idx);
    return idx;
}

static const char *server_label(E *e, const mc_ir_server *s)
{
    if (!s || !s->gateway) return "";
    return mc_arena_printf(&e->tmp, "%s/%s servers[%u]", s->gateway->o.ns, s->gateway->o.name, s->index);
}

static img_chain chain_rec(E *e, const mc_ir_chain *c)
{
    img_chain_shape sh;
    memset(&sh, 0, sizeof sh);
    img_chain rec;
    memset(&rec, 0, sizeof rec);
    bool passthrough = c->tls == IMG_TLS_PASSTHROUGH || c->tls == IMG_TLS_AUTO_PASSTHROUGH;
    sh.kind = (uint8_t)c->kind;
    sh.tls = (uint8_t)c->tls;
    /* a passthrough chain is opaque TLS whatever the server's protocol */
    sh.protocol = (uint8_t)(passthrough ? IMG_PROTO_TLS : c->protocol);
    /* the server label only where the server's settings act on the chain:
    ** TLS termination (listeners list all their servers anyway) */
    bool terminating = c->tls != IMG_TLS_NONE && !passthrough;
    sh.server = str(e, terminating ? server_label(e, c->server) : "");
    sh.credential = str(e, terminating && c->server ? c->server->credential : "");
    sh.nsni = c->nsni;
    sh.src = IMG_NONE;
    rec.vs = IMG_NONE;
    if (c->kind == IMG_CHAIN_HTTP) {
        rec.next = route_table_rec(e, c->routes);
    } else {
        rec.next = target_word(e, &c->target);
        uint32_t vs = IMG_NONE;
        if (c->vs) {
            rec.vs = vs_rec(e, c->vs->obj);
            vs = IMG_VS_SELF;
        }
        sh.src = origin_rec(e, "", vs, NULL, c->entry_kind, c->vs && c->entry ? c->entry->index : 0,
                            c->vs && c->match && c->entry ? (uint32_t)(c->match - c->entry->matches) : 0xffff);
    }
    /* one server name is kept in the chain, more in a list */
    if (c->nsni == 1) rec.sni = sz(e, c->sni[0]);
    else if (c->nsni > 1) rec.sni = strlist(e, c->sni, c->nsni).first;
    rec.shape = sec_rec(e, IMG_S_CHAINSHAPES, &sh);
    return rec;
}

static img_listener listener_rec(E *e, const mc_ir_listener *li)
{
    img_listener rec;
    memset(&rec, 0, sizeof rec);
    rec.port = li->port;
    rec.kind = (uint32_t)li->kind;
    rec.bind = str(e, li->bind);
    img_chain *cs = mc_arena_zalloc(&e->tmp, (li->nchains + 1) * sizeof *cs);
    for (uint32_t i = 0; i < li->nchains; i++) cs[i] = chain_rec(e, &li->chains[i]);
    rec.chains = sec_range(e, IMG_S_CHAINS, cs, li->nchains);
    const char **servers = mc_arena_alloc(&e->tmp, (li->nservers + 1) * sizeof *servers);
    for (uint32_t i = 0; i < li->nservers; i++) servers[i] = server_label(e, &li->servers[i]);
    rec.servers = strlist(e, servers, li->nservers);
    rec.sni = IMG_NONE;
    rec.chain = IMG_NONE;
    if (li->kind == IMG_LISTENER_TLS) {
        mc_vec names, targets;
        mc_vec_init(&names, sizeof(const char *));
        mc_vec_init(&targets, sizeof(uint32_t));
        for (uint32_t i = 0; i < li->nchains; i++) {
            const mc_ir_chain *c = &li->chains[i];
            bool any = c->nsni == 0;
            for (uint32_t k = 0; k < c->nsni; k++) {
                if (strcmp(c->sni[k], "*") == 0) any = true;
                *(const char **)mc_vec_push(&names) = c->sni[k];
                *(uint32_t *)mc_vec_push(&targets) = i;
            }
            if (any) {
                *(const char **)mc_vec_push(&names) = "*";
                *(uint32_t *)mc_vec_push(&targets) = i;
            }
        }
        rec.sni = name_table(e, names.v, targets.v, (uint32_t)names.n, li->nchains);
        mc_vec_free(&names);
        mc_vec_free(&targets);
    } else if (li->nchains) {
        rec.chain = rec.chains.first;
    }
    return rec;
}

static void emit_views(E *e)
{
    for (uint32_t i = 0; i < e->ir->nviews; i++) {
        const mc_ir_view *v = &e->ir->views[i];
        img_view rec;
        memset(&rec, 0, sizeof rec);
        rec.kind = (uint32_t)v->kind;
        rec.name = str(e, v->name);
        rec.ns = str(e, v->ns);
        img_label *ls = mc_arena_zalloc(&e->a, (v->nlabels + 1) * sizeof *ls);
        for (uint32_t k = 0; k < v->nlabels; k++) {
            ls[k].key = str(e, v->labels[k].key);
            ls[k].value = str(e, v->labels[k].value);
        }
        rec.labels = sec_range(e, IMG_S_LABELS, ls, v->nlabels);
        const char **gws = mc_arena_alloc(&e->a, (v->ngateways + 1) * sizeof *gws);
        for (uint32_t k = 0; k < v->ngateways; k++)
            gws[k] = mc_arena_printf(&e->a, "%s/%s", v->gateways[k]->o.ns, v->gateways[k]->o.name);
        rec.gateways = strlist(e, gws, v->ngateways);
        img_listener *ls2 = mc_arena_zalloc(&e->a, (v->nlisteners + 1) * sizeof *ls2);
        for (uint32_t k = 0; k < v->nlisteners; k++) {
            ls2[k] = listener_rec(e, &v->listeners[k]);
            /* the listener's scratch records are in their sections now */
            mc_arena_free(&e->tmp);
        }
        rec.listeners = sec_range(e, IMG_S_LISTENERS, ls2, v->nlisteners);
        sec_push(e, IMG_S_VIEWS, &rec);
    }
}

/* ------------------------------------------------------------ strings, layout, header */

static const sstr *g_strs;

static int cmp_rev(const void *a, const void *b)
{
    const sstr *x = &g_strs[*(const uint32_t *)a], *y = &g_strs[*(const uint32_t *)b];
    uint32_t i = x->len, j = y->len;
    while (i && j) {
        unsigned char cx = (unsigned char)x->p[--i], cy = (unsigned char)y->p[--j];
        if (cx != cy) return cx < cy ? -1 : 1;
    }
    return i == j ? 0 : i < j ? -1 : 1;
}

static bool is_suffix(const sstr *a, const sstr *b)
{
    return a->len <= b->len && memcmp(b->p + b->len - a->len, a->p, a->len) == 0;
}

/* Lay out the string table: the empty string at offset 0 (a NUL byte),
** then every string with a NUL after it, tails merged into the longer
** strings they end, and no string of up to 64 bytes across a cache line
** (a lookup compares a host name with one read; the section starts on a
** line); returns final offsets by id. */
static uint32_t *layout_strings(E *e, mc_buf *blob)
{
    uint32_t n = (uint32_t)e->strv.n;
    const sstr *s = e->strv.v;
    uint32_t *order = mc_xmalloc((n + 1) * sizeof *order);
    uint32_t *owner = mc_xmalloc((n + 1) * sizeof *owner);
    uint32_t *off = mc_xmalloc((n + 1) * sizeof *off);
    for (uint32_t i = 0; i < n; i++) order[i] = i;
    g_strs = s;
    sort_n(order, n, sizeof *order, cmp_rev);
    for (uint32_t i = n; i-- > 0;) {
        uint32_t id = order[i];
        owner[id] = id;
        if (i + 1 < n && is_suffix(&s[id], &s[order[i + 1]])) owner[id] = owner[order[i + 1]];
    }
    mc_buf_reset(blob);
    mc_buf_add(blob, "", 1);
    for (uint32_t id = 0; id < n; id++) {
        if (owner[id] != id || s[id].len == 0) continue;
        if (s[id].len < 64 && blob->n % 64 + s[id].len + 1 > 64)
            while (blob->n % 64) mc_buf_putc(blob, '\0');
        off[id] = (uint32_t)blob->n;
        mc_buf_add(blob, s[id].p, s[id].len);
        mc_buf_add(blob, "", 1);
    }
    for (uint32_t id = 0; id < n; id++) {
        if (s[id].len == 0) off[id] = 0;
        else if (owner[id] != id) off[id] = off[owner[id]] + s[owner[id]].len - s[id].len;
    }
    free(order);
    free(owner);
    return off;
}

static void patch_strings(E *e, const uint32_t *off)
{
    for (int si = 0; si < IMG_NSECTIONS; si++) {
        uint32_t nf;
        const img_field *f = img_section_fields((img_sec)si, &nf);
        sec *s = &e->s[si];
        for (uint32_t k = 0; k < nf; k++) {
            if (f[k].kind != IMG_F_STR && f[k].kind != IMG_F_SZ && f[k].kind != IMG_F_SOFF) continue;
            for (uint32_t i = 0; i < s->n; i++) {
                uint32_t v;
                uint8_t *p = s->p + (size_t)i * s->rs + f[k].off;
                memcpy(&v, p, sizeof v);
                v = off[v];
                memcpy(p, &v, sizeof v);
            }
        }
    }
    /* the two string fields whose kind another field decides */
    img_row *rows = (img_row *)e->s[IMG_S_ROWS].p;
    for (uint32_t i = 0; i < e->s[IMG_S_ROWS].n; i++)
        if ((rows[i].flags & IMG_ROW_KIND_MASK) != IMG_PATH_REGEX) rows[i].path = off[rows[i].path];
    img_chain *cs = (img_chain *)e->s[IMG_S_CHAINS].p;
    const img_chain_shape *sh = (const img_chain_shape *)e->s[IMG_S_CHAINSHAPES].p;
    for (uint32_t i = 0; i < e->s[IMG_S_CHAINS].n; i++)
        if (sh[cs[i].shape].nsni == 1) cs[i].sni = off[cs[i].sni];
}

static void pad8(mc_buf *b)
{
    while (b->n % IMG_ALIGN) mc_buf_putc(b, '\0');
}

static void write_image(E *e, mc_buf *out)
{
    uint32_t ns = IMG_NSECTIONS;
    uint32_t hs = IMG_HEADER_SIZE + 24u * ns;
    img_section tab[IMG_NSECTIONS];
    size_t total = hs;
    for (uint32_t i = 0; i < ns; i++) total += (size_t)e->s[i].n * e->s[i].rs + IMG_ALIGN;
    total += 128;
    mc_buf_reset(out);
    if (out->cap < total + 1) {
        out->s = mc_xrealloc(out->s, total + 1);
        out->cap = total + 1;
    }
    mc_buf_add(out, (const char *)&(img_header){ 0 }, sizeof(img_header));
    for (uint32_t i = 0; i < ns; i++) mc_buf_add(out, (const char *)&(img_section){ 0 }, sizeof(img_section));
    for (uint32_t i = 0; i < ns; i++) {
        pad8(out);
        /* hash buckets on cache lines (the mapping starts on a page) */
        if (i == IMG_S_HBUCKETS || i == IMG_S_STRINGS)
            while (out->n % 64) mc_buf_putc(out, '\0');
        size_t bytes = (size_t)e->s[i].n * e->s[i].rs;
        tab[i].id = img_section_id((img_sec)i);
        tab[i].count = e->s[i].n;
        tab[i].off = out->n;
        tab[i].size = bytes;
        if (bytes) mc_buf_add(out, (const char *)e->s[i].p, bytes);
        /* the section is in the output now */
        free(e->s[i].p);
        e->s[i].p = NULL;
    }
    pad8(out);
    img_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, IMG_MAGIC, 4);
    memcpy(h.data, IMG_DATA, 6);
    h.major = IMG_MAJOR;
    h.minor = IMG_MINOR;
    h.header_size = (uint16_t)hs;
    h.endian = IMG_ENDIAN_PROBE;
    h.nsections = ns;
    h.total_size = out->n;
    memcpy(out->s + IMG_HEADER_SIZE, tab, sizeof tab);
    XXH128_canonical_t id;
    XXH128_canonicalFromHash(&id, XXH3_128bits(out->s + hs, out->n - hs));
    memcpy(h.build_id, id.digest, 16);
    memcpy(out->s, &h, sizeof h);
    XXH3_state_t *st = XXH3_createState();
    if (!st) mc_oom();
    XXH3_64bits_reset(st);
    XXH3_64bits_update(st, out->s, offsetof(img_header, checksum));
    XXH3_64bits_update(st, out->s + offsetof(img_header, reserved), out->n - offsetof(img_header, reserved));
    h.checksum = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    memcpy(out->s, &h, sizeof h);
}

bool mc_emit(const mc_ir *ir, mc_buf *out, char *err, size_t errlen)
{
    E e;
    memset(&e, 0, sizeof e);
    e.ir = ir;
    mc_arena_init(&e.a);
    mc_arena_init(&e.tmp);
    mc_strmap_init(&e.strs);
    mc_strmap_init(&e.intern);
    mc_strmap_init(&e.ptrs);
    mc_strmap_init(&e.index_keys);
    mc_vec_init(&e.strv, sizeof(sstr));
    mc_buf_init(&e.key);
    for (int i = 0; i < IMG_NSECTIONS; i++) e.s[i].rs = img_section_recsize((img_sec)i);
    str(&e, "");                /* id 0: the empty string */

    emit_clusters(&e);
    mc_arena_free(&e.tmp);
    emit_views(&e);
    mc_arena_free(&e.tmp);
    /* interning is over: its maps go before the output is assembled */
    mc_strmap_free(&e.intern);
    mc_strmap_free(&e.ptrs);
    mc_strmap_free(&e.index_keys);
    mc_strmap_free(&e.strs);

    mc_buf blob;
    mc_buf_init(&blob);
    uint32_t *off = layout_strings(&e, &blob);
    patch_strings(&e, off);
    free(off);
    mc_vec_free(&e.strv);
    mc_arena_free(&e.a);
    free(e.s[IMG_S_STRINGS].p);
    e.s[IMG_S_STRINGS].p = (uint8_t *)blob.s;
    e.s[IMG_S_STRINGS].n = (uint32_t)blob.n;
    if (blob.n >= UINT32_MAX) limit(&e, "4 GiB of strings");
    blob.s = NULL;

    bool ok = !e.over;
    if (!ok) snprintf(err, errlen, "the image exceeds a format limit (%s)", e.why);
    mc_buf_reset(out);
    if (ok) {
        size_t total = IMG_HEADER_SIZE + 24u * IMG_NSECTIONS;
        for (int i = 0; i < IMG_NSECTIONS; i++) total += (size_t)e.s[i].n * e.s[i].rs + IMG_ALIGN;
        if (total >= IMG_MAX_SIZE) {
            snprintf(err, errlen, "the image would be larger than 4 GiB");
            ok = false;
        } else {
            write_image(&e, out);
        }
    }
    for (int i = 0; i < IMG_NSECTIONS; i++) free(e.s[i].p);
    mc_buf_free(&e.key);
    mc_arena_free(&e.tmp);
    mc_arena_free(&e.a);
    return ok;
}
